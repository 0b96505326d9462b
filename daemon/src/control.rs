//! The control socket between `grebe vsctl`/`appctl` and the daemon: one JSON request per
//! connection, one JSON reply, over a Unix socket in the rundir (owner-only).
//!
//! A `stream` request (`ofproto/trace-live`, `grebe capture`) gets a sequence of JSON lines
//! instead, each a [`StreamMessage`], the last one `Done` with the final [`Reply`]. The client
//! keeps its write side open while it listens and shuts it down to stop the stream (Ctrl-C); the
//! daemon then sends `Done` and closes.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// A long-running command whose reply is a stream of [`StreamMessage`] lines.
    Stream,
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

/// One line of a streamed reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamMessage {
    /// The daemon is watching: what it watches, for the client to say so on stderr.
    Started(String),
    /// A line of output for stdout.
    Line(String),
    /// A frame seen at a port (`grebe capture`).
    Frame(CapturedFrame),
    /// Events left out so far, cumulative: the datapath's watch queue was full (`queue`) or
    /// the daemon's rate limit held them back (`rate`).
    Skipped { queue: u64, rate: u64 },
    /// The end, with the command's outcome.
    Done(Reply),
}

/// A frame as `grebe capture` receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedFrame {
    /// Microseconds since the Unix epoch.
    pub time_us: u64,
    pub port: String,
    /// "rx" (entered the bridge on the port) or "tx" (left through it).
    pub direction: String,
    /// The bytes, in hex: the Ethernet frame, or with `--outer` the whole IPv4 + GRE packet.
    pub hex: String,
}

/// `--rundir`, else `GREBE_RUNDIR`, else /run/grebe: the one rule every command shares.
pub fn rundir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("GREBE_RUNDIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_RUNDIR))
}

pub fn socket_path(rundir: &Path) -> PathBuf {
    rundir.join(SOCKET_NAME)
}

/// The daemon did not answer within the client's `--timeout`.
#[derive(Debug, thiserror::Error)]
#[error("the daemon did not answer within {} s (--timeout)", .0.as_secs())]
pub struct TimedOut(pub std::time::Duration);

/// Sends one request to the daemon of `rundir` and waits for its reply.
pub fn call(rundir: &Path, request: &Request) -> anyhow::Result<Reply> {
    call_within(rundir, request, None)
}

/// [`call`], giving up after `timeout` (ovs-vsctl's `--timeout`) with a [`TimedOut`] error.
pub fn call_within(
    rundir: &Path,
    request: &Request,
    timeout: Option<std::time::Duration>,
) -> anyhow::Result<Reply> {
    let path = socket_path(rundir);
    let mut stream = UnixStream::connect(&path).with_context(|| {
        format!(
            "cannot reach the grebe daemon at {} (is `grebe daemon` running with this rundir? set --rundir or GREBE_RUNDIR)",
            path.display()
        )
    })?;
    // One deadline for the whole exchange, as OVS's alarm(2): each wait gets what is left.
    let deadline = timeout.map(|t| (t, std::time::Instant::now() + t));
    let left = |stream: &UnixStream| -> anyhow::Result<()> {
        if let Some((t, at)) = deadline {
            let rest = at.saturating_duration_since(std::time::Instant::now());
            if rest.is_zero() {
                return Err(TimedOut(t).into());
            }
            stream.set_read_timeout(Some(rest))?;
            stream.set_write_timeout(Some(rest))?;
        }
        Ok(())
    };
    let timed_out = |e: std::io::Error| -> anyhow::Error {
        match (deadline, e.kind()) {
            (Some((t, _)), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                TimedOut(t).into()
            }
            _ => anyhow::Error::new(e).context("talking to the daemon"),
        }
    };
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    left(&stream)?;
    stream.write_all(&line).map_err(timed_out)?;
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        left(&stream)?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(timed_out(e)),
        }
    }
    serde_json::from_slice(&reply).context("the daemon's reply is not valid JSON")
}

/// What the client prints without asking the daemon (`--version`, `--help`), as OVS's
/// ovs-vsctl needs no database for them: see [`vswitch::vsctl::local_answer`].
pub fn vsctl_local_answer(args: &[String]) -> Option<String> {
    vswitch::vsctl::local_answer(args)
}

/// ovs-vsctl's `--timeout=SECS` (also `--timeout SECS`, `-t SECS`, `-tSECS`) among the global
/// options before the first command; 0 or none: wait as long as it takes.
pub fn vsctl_timeout(args: &[String]) -> Option<std::time::Duration> {
    let mut it = args.iter();
    let mut secs = None;
    while let Some(a) = it.next() {
        let value = if let Some(v) = a.strip_prefix("--timeout=") {
            Some(v.to_owned())
        } else if a == "--timeout" || a == "-t" {
            it.next().cloned()
        } else if let Some(v) = a.strip_prefix("-t").filter(|v| !v.is_empty()) {
            Some(v.to_owned())
        } else if a.starts_with('-') && a != "--" {
            continue;
        } else {
            break;
        };
        // A bad value is the daemon's to refuse, with ovs-vsctl's message.
        secs = value.and_then(|v| v.parse::<u64>().ok());
    }
    secs.filter(|s| *s > 0).map(std::time::Duration::from_secs)
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

/// The daemon's end of a streamed reply. A thread watches the connection: when the client shuts
/// down its side (or goes away), `client_gone` turns true.
pub struct StreamConn {
    conn: UnixStream,
    gone: Arc<AtomicBool>,
}

impl StreamConn {
    pub fn new(conn: UnixStream) -> anyhow::Result<StreamConn> {
        let gone = Arc::new(AtomicBool::new(false));
        let mut reader = conn.try_clone().context("cloning the stream connection")?;
        let flag = gone.clone();
        std::thread::Builder::new()
            .name("grebe-stream-eof".into())
            .spawn(move || {
                // The client sends nothing after its request: any read that returns is the end.
                let mut sink = [0u8; 64];
                loop {
                    match reader.read(&mut sink) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => continue,
                    }
                }
                flag.store(true, Ordering::Relaxed);
            })
            .context("starting the stream watcher")?;
        Ok(StreamConn { conn, gone })
    }

    pub fn client_gone(&self) -> bool {
        self.gone.load(Ordering::Relaxed)
    }

    /// Sends one message; false when the client is no longer there to read it.
    pub fn send(&mut self, message: &StreamMessage) -> bool {
        let Ok(mut line) = serde_json::to_vec(message) else {
            return false;
        };
        line.push(b'\n');
        self.conn.write_all(&line).is_ok()
    }

    /// Sends `Done` and closes.
    pub fn finish(mut self, reply: Reply) {
        self.send(&StreamMessage::Done(reply));
        let _ = self.conn.shutdown(std::net::Shutdown::Both);
    }
}

/// The client's end of a streamed reply.
pub struct StreamClient {
    conn: UnixStream,
    lines: std::io::Lines<BufReader<UnixStream>>,
}

impl StreamClient {
    /// Sends a `stream` request to the daemon of `rundir`.
    pub fn open(rundir: &Path, args: Vec<String>) -> anyhow::Result<StreamClient> {
        let path = socket_path(rundir);
        let mut conn = UnixStream::connect(&path).with_context(|| {
            format!(
                "cannot reach the grebe daemon at {} (is `grebe daemon` running with this rundir? set --rundir or GREBE_RUNDIR)",
                path.display()
            )
        })?;
        let request = Request {
            kind: RequestKind::Stream,
            args,
        };
        let mut line = serde_json::to_vec(&request)?;
        line.push(b'\n');
        conn.write_all(&line)?;
        let lines = BufReader::new(conn.try_clone()?).lines();
        Ok(StreamClient { conn, lines })
    }

    /// A handle that ends the stream from another thread (a signal handler): the daemon sees
    /// the client's side close, sends `Done` and closes.
    pub fn stopper(&self) -> anyhow::Result<UnixStream> {
        Ok(self.conn.try_clone()?)
    }

    /// The next message; `None` when the daemon closed the connection.
    pub fn next_message(&mut self) -> Option<anyhow::Result<StreamMessage>> {
        let line = match self.lines.next()? {
            Ok(l) => l,
            Err(e) => return Some(Err(anyhow::Error::new(e).context("reading from the daemon"))),
        };
        Some(serde_json::from_str(&line).context("the daemon sent a malformed stream line"))
    }
}

/// Ends the client side of a stream on the first Ctrl-C (the daemon then sends `Done`), and
/// exits at once on a second one, in case the daemon does not answer.
pub fn stop_stream_on_ctrl_c(client: &StreamClient) -> anyhow::Result<()> {
    let stopper = client.stopper()?;
    let pressed = AtomicBool::new(false);
    ctrlc::set_handler(move || {
        if pressed.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
        let _ = stopper.shutdown(std::net::Shutdown::Write);
    })
    .context("installing the Ctrl-C handler")
}

/// Lowercase hex, no separators.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Parses hex digits (either case; `:`, `.`, `-`, spaces and a leading `0x` are ignored).
pub fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    let text = text.strip_prefix("0x").unwrap_or(text);
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b':' | b'.' | b'-' | b' ' | b'\n' | b'\t'))
        .collect();
    if let Some(bad) = digits.iter().find(|b| !b.is_ascii_hexdigit()) {
        return Err(format!("{:?} is not a hex digit", char::from(*bad)));
    }
    if digits.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    Ok(digits
        .chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16).unwrap_or(0);
            let lo = (pair[1] as char).to_digit(16).unwrap_or(0);
            (hi * 16 + lo) as u8
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_timeout_is_read_in_every_form_ovs_vsctl_takes() {
        let secs = |a: &[&str]| vsctl_timeout(&args(a));
        assert_eq!(secs(&["--timeout=5", "show"]), Some(Duration::from_secs(5)));
        assert_eq!(
            secs(&["--timeout", "7", "show"]),
            Some(Duration::from_secs(7))
        );
        assert_eq!(secs(&["-t", "3", "show"]), Some(Duration::from_secs(3)));
        assert_eq!(secs(&["-t9", "--", "show"]), Some(Duration::from_secs(9)));
        assert_eq!(
            secs(&["--if-exists", "--timeout=2", "del-port", "p"]),
            Some(Duration::from_secs(2))
        );
        // 0 waits for ever, as in OVS; a bad value is left for the daemon to refuse.
        assert_eq!(secs(&["--timeout=0", "show"]), None);
        assert_eq!(secs(&["--timeout=x", "show"]), None);
        // Only global options count: after the command, it is an argument.
        assert_eq!(secs(&["show", "--timeout=5"]), None);
        assert_eq!(secs(&[]), None);
    }
}
