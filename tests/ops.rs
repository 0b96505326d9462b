//! Running grebe as a service: logs a journal or a shipper can read, metrics a Prometheus
//! parser accepts and that move with traffic, health, systemd's unit and readiness, the daemon
//! without root, the generated manuals. Whole-system tests, in namespaces (need root).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::GREBE;
use lab::netns::Lab;

/// One host `a` on a switch, no daemon yet.
fn one_host(test: &str) -> Option<Lab> {
    let lab = common::lab(test)?;
    lab.add_switch("wan").unwrap();
    lab.add_host("a", "wan", "192.0.2.1/24").unwrap();
    Some(lab)
}

/// How to start a daemon the lab's own `start_daemon` cannot: with more environment, under a
/// wrapper (`setpriv ...`), with more arguments.
#[derive(Default)]
struct Start<'a> {
    env: &'a [(&'a str, &'a str)],
    wrapper: &'a [&'a str],
    args: &'a [&'a str],
}

/// The daemon's log file on `host`.
fn log_path(lab: &Lab, host: &str) -> PathBuf {
    lab.rundir(host).join("daemon.log")
}

/// Starts `grebe daemon` on `host` with stderr to a file and waits for its control socket.
/// Err(the log) when it exits first.
fn start(lab: &Lab, host: &str, how: &Start) -> Result<Child, String> {
    let rundir = lab.rundir(host);
    fs::create_dir_all(&rundir).unwrap();
    let log = fs::File::create(log_path(lab, host)).unwrap();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &lab.netns(host)])
        .args(how.wrapper)
        .arg(GREBE)
        .arg("daemon")
        .arg("--rundir")
        .arg(&rundir)
        .arg("--db")
        .arg(rundir.join("conf.json"))
        .args(how.args)
        .envs(how.env.iter().copied())
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let mut child = cmd.spawn().expect("spawning grebe daemon");
    let socket = rundir.join(daemon::control::SOCKET_NAME);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if child.try_wait().unwrap().is_some() {
            return Err(fs::read_to_string(log_path(lab, host)).unwrap_or_default());
        }
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            return Ok(child);
        }
        assert!(Instant::now() < deadline, "daemon on {host} never answered");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGTERM, then wait: the daemon logs its exit.
fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();
}

/// Some log lines beyond the start: a bridge and a port added, then a clean exit.
fn make_logs(lab: &Lab, child: Child) -> String {
    lab.vsctl_ok("a", &["add-br", "br-int"]).unwrap();
    lab.vsctl_ok(
        "a",
        &[
            "add-port",
            "br-int",
            "gre0",
            "--",
            "set",
            "interface",
            "gre0",
            "type=gre",
            "options:remote_ip=192.0.2.9",
        ],
    )
    .unwrap();
    stop(child);
    fs::read_to_string(log_path(lab, "a")).unwrap()
}

#[test]
fn logs_to_a_file_carry_no_colour_codes() {
    let Some(lab) = one_host("nocolour") else {
        return;
    };
    let child = start(&lab, "a", &Start::default()).unwrap();
    let log = make_logs(&lab, child);
    assert!(log.contains("grebe daemon ready"), "{log}");
    assert!(log.lines().count() >= 2, "{log}");
    assert!(
        !log.contains('\x1b'),
        "escape codes in a log written to a file:\n{log:?}"
    );
}

#[test]
fn json_logs_are_one_object_a_line() {
    let Some(lab) = one_host("jsonlog") else {
        return;
    };
    let how = Start {
        env: &[("GREBE_LOG_FORMAT", "json")],
        ..Start::default()
    };
    let child = start(&lab, "a", &how).unwrap();
    let log = make_logs(&lab, child);
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.len() >= 2, "{log}");
    let mut ready = false;
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        assert!(v["level"].is_string(), "{line}");
        assert!(v["timestamp"].is_string(), "{line}");
        ready |= v["fields"]["message"] == "grebe daemon ready";
    }
    assert!(ready, "no ready message in {log}");
    assert!(!log.contains('\x1b'), "{log:?}");
}

#[test]
fn an_unknown_log_format_is_refused() {
    let out = Command::new(GREBE)
        .args(["daemon", "--rundir", "/nonexistent/grebe-test"])
        .env("GREBE_LOG_FORMAT", "yaml")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("GREBE_LOG_FORMAT=\"yaml\""), "{err}");
    assert!(err.contains("text or json"), "{err}");
    assert!(!Path::new("/nonexistent/grebe-test").exists());
}
