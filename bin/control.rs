//! The control socket between `grebe vsctl`/`appctl` and the daemon: one JSON request per
//! connection, one JSON reply, over a Unix socket in the rundir (owner-only).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The default rundir, as OVS's /var/run/openvswitch.
pub const DEFAULT_RUNDIR: &str = "/run/grebe";
pub const SOCKET_NAME: &str = "grebe.ctl";
pub const PIDFILE_NAME: &str = "grebe.pid";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    Vsctl,
    Appctl,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub kind: RequestKind,
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reply {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Reply {
    pub fn ok(stdout: impl Into<String>) -> Reply {
        Reply {
            exit_code: 0,
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    pub fn error(code: i32, stderr: impl Into<String>) -> Reply {
        Reply {
            exit_code: code,
            stdout: String::new(),
            stderr: stderr.into(),
        }
    }
}

/// `--rundir`, else `GREBE_RUNDIR`, else /run/grebe: the one rule every command shares.
pub fn rundir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("GREBE_RUNDIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_RUNDIR))
}

pub fn socket_path(rundir: &Path) -> PathBuf {
    rundir.join(SOCKET_NAME)
}

/// Sends one request to the daemon of `rundir` and waits for its reply.
pub fn call(rundir: &Path, request: &Request) -> anyhow::Result<Reply> {
    let path = socket_path(rundir);
    let mut stream = UnixStream::connect(&path).with_context(|| {
        format!(
            "cannot reach the grebe daemon at {} (is `grebe daemon` running with this rundir? set --rundir or GREBE_RUNDIR)",
            path.display()
        )
    })?;
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut reply = Vec::new();
    stream
        .read_to_end(&mut reply)
        .context("reading the daemon's reply")?;
    serde_json::from_slice(&reply).context("the daemon's reply is not valid JSON")
}

/// Reads one request from a connection (server side).
pub fn read_request(stream: &UnixStream) -> anyhow::Result<Request> {
    let mut line = String::new();
    BufReader::new(stream)
        .take(1 << 20)
        .read_line(&mut line)
        .context("reading a request")?;
    serde_json::from_str(&line).context("malformed request")
}

pub fn write_reply(mut stream: &UnixStream, reply: &Reply) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec(reply)?;
    stream.write_all(&bytes)?;
    Ok(())
}
