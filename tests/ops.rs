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

/// Two hosts as `common::two_hosts` makes them, a's daemon started as `how` says.
fn two_hosts_with(lab: &Lab, how: &Start) -> Child {
    lab.add_switch("wan").unwrap();
    lab.add_host("a", "wan", "192.0.2.1/24").unwrap();
    lab.add_host("b", "wan", "192.0.2.2/24").unwrap();
    let a = start(lab, "a", how).unwrap_or_else(|log| panic!("daemon on a exited: {log}"));
    lab.start_daemon("b").unwrap();
    lab.configure_seed("a", "198.51.100.1/24", &["192.0.2.2"])
        .unwrap();
    lab.configure_seed("b", "198.51.100.2/24", &["192.0.2.1"])
        .unwrap();
    a
}

/// The pinned version of Python's Prometheus client whose text parser checks our output.
const PROMETHEUS_CLIENT: &str = "prometheus-client==0.26.0";

/// A virtualenv with `PROMETHEUS_CLIENT`, made once per build directory; its python.
fn prometheus_python() -> PathBuf {
    static VENV: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    VENV.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("venv-prometheus-client-0.26.0");
        let python = dir.join("bin/python");
        let ready = || {
            Command::new(&python)
                .args(["-c", "import prometheus_client.parser"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !ready() {
            let _ = fs::remove_dir_all(&dir);
            let ok = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&dir)
                .status()
                .expect("python3 -m venv")
                .success();
            assert!(ok, "python3 -m venv failed (Debian: python3-venv)");
            let ok = Command::new(dir.join("bin/pip"))
                .args([
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    PROMETHEUS_CLIENT,
                ])
                .status()
                .expect("pip install")
                .success();
            assert!(ok, "pip install {PROMETHEUS_CLIENT} failed");
            assert!(ready(), "prometheus_client does not import");
        }
        python
    })
    .clone()
}

/// One sample as the parser gives it: name, labels (sorted), value.
type Sample = (String, Vec<(String, String)>, f64);

/// Parses the text with prometheus_client; panics with its message when it does not parse.
/// Every family must have a help text, a type and a `grebe_` name.
fn parse_metrics(text: &str) -> Vec<Sample> {
    const PARSE: &str = r#"import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    if not f.name.startswith("grebe_"):
        sys.exit("not a grebe_ name: " + f.name)
    if not f.documentation:
        sys.exit("no HELP for " + f.name)
    if f.type not in ("counter", "gauge", "histogram"):
        sys.exit("no TYPE for " + f.name + ": " + f.type)
    for s in f.samples:
        out.append([s.name, sorted(s.labels.items()), s.value])
print(json.dumps(out))
"#;
    use std::io::Write as _;
    let mut child = Command::new(prometheus_python())
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client rejects the metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The one sample of `name` whose labels include `labels`.
fn sample(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, _, v)| *v)
        .collect();
    assert_eq!(found.len(), 1, "samples of {name} {labels:?}: {found:?}");
    found[0]
}

/// GET `path` from the daemon's metrics address inside `host`'s namespace: (status, body).
fn http_get(lab: &Lab, host: &str, addr: &str, path: &str) -> (u16, String) {
    const GET: &str = r#"import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen("http://" + sys.argv[1] + sys.argv[2], timeout=5)
    print(r.status); print(r.headers["Content-Type"]); sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); print(e.headers["Content-Type"])
"#;
    let out = lab.sh(host, &["python3", "-c", GET, addr, path]).unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let (status, rest) = text.split_once('\n').unwrap();
    let (_content_type, body) = rest.split_once('\n').unwrap_or((rest, ""));
    (status.parse().unwrap(), body.to_string())
}

#[test]
fn metrics_parse_and_move_with_traffic() {
    let Some(lab) = common::lab("metrics") else {
        return;
    };
    let how = Start {
        args: &["--metrics-listen", "127.0.0.1:9477"],
        ..Start::default()
    };
    let daemon_a = two_hosts_with(&lab, &how);
    let before = parse_metrics(&lab.appctl("a", &["metrics"]).unwrap());
    let gre0 = [("bridge", "br-int"), ("port", "gre0")];
    let mgmt0 = [("bridge", "br-int"), ("port", "mgmt0")];
    assert_eq!(sample(&before, "grebe_port_up", &gre0), 1.0);
    assert_eq!(sample(&before, "grebe_port_up", &mgmt0), 1.0);
    let mtu = sample(&before, "grebe_tunnel_path_mtu_bytes", &gre0);
    assert_eq!(mtu, 1500.0, "the transport veth's MTU");
    assert_eq!(
        sample(
            &before,
            "grebe_mac_table_max_entries",
            &[("bridge", "br-int")]
        ),
        8192.0
    );
    assert_eq!(
        sample(&before, "grebe_drops_total", &[("reason", "key_mismatch")]),
        0.0
    );

    lab.ping("a", "198.51.100.2", 5).unwrap();
    let after = parse_metrics(&lab.appctl("a", &["metrics"]).unwrap());
    for counter in ["grebe_port_rx_packets_total", "grebe_port_tx_packets_total"] {
        for port in [&gre0, &mgmt0] {
            let (b, a) = (
                sample(&before, counter, port),
                sample(&after, counter, port),
            );
            assert!(a >= b + 5.0, "{counter} {port:?}: {b} -> {a}");
        }
    }
    let (b, a) = (
        sample(&before, "grebe_port_rx_bytes_total", &gre0),
        sample(&after, "grebe_port_rx_bytes_total", &gre0),
    );
    assert!(a >= b + 5.0 * 98.0, "5 pings' bytes: {b} -> {a}");
    // The packet loop turned, and read the pings' frames: the requests from mgmt0's TAP, the
    // replies from the GRE socket, each a receive call of its own (a second apart).
    let thread = [("thread", "0")];
    let (b, a) = (
        sample(&before, "grebe_datapath_loop_iterations_total", &thread),
        sample(&after, "grebe_datapath_loop_iterations_total", &thread),
    );
    assert!(a >= b + 10.0, "loop iterations: {b} -> {a}");
    let idle = sample(&after, "grebe_datapath_loop_idle_polls_total", &thread);
    assert!(idle <= a, "idle polls {idle} of {a} iterations");
    for source in ["gre", "tap"] {
        let labels = [("thread", "0"), ("source", source)];
        let count = |m: &[Sample]| sample(m, "grebe_datapath_batch_frames_count", &labels);
        let sum = |m: &[Sample]| sample(m, "grebe_datapath_batch_frames_sum", &labels);
        let (cb, ca) = (count(&before), count(&after));
        assert!(ca >= cb + 5.0, "{source} reads: {cb} -> {ca}");
        assert!(
            sum(&after) - sum(&before) >= ca - cb,
            "{source}: every read counted has a frame"
        );
        // Buckets are cumulative and end at +Inf with every read.
        let mut last = 0.0;
        for le in ["1", "2", "4", "8", "16", "32", "+Inf"] {
            let bucket_labels = [("thread", "0"), ("source", source), ("le", le)];
            let n = sample(&after, "grebe_datapath_batch_frames_bucket", &bucket_labels);
            assert!(n >= last, "{source} le={le}: {n} < {last}");
            last = n;
        }
        assert_eq!(last, ca, "{source}: +Inf bucket is the count");
    }
    let dpif = lab.appctl("a", &["dpif/show"]).unwrap();
    let line = dpif
        .lines()
        .find(|l| l.trim_start().starts_with("datapath thread 0: "))
        .unwrap_or_else(|| panic!("no loop line in {dpif}"));
    assert!(
        line.contains(" loops, ") && line.contains("gre ") && line.contains("tap "),
        "{line}"
    );
    let json = common::dpif(&lab, "a");
    assert!(
        json["loops"][0]["iterations"].as_u64().unwrap() as f64 >= a,
        "{json}"
    );
    let br = [("bridge", "br-int")];
    assert!(sample(&after, "grebe_mac_table_entries", &br) >= 2.0);
    assert!(sample(&after, "grebe_mac_learned_total", &br) >= 2.0);
    assert_eq!(sample(&after, "grebe_mac_evicted_total", &br), 0.0);

    // The same over HTTP, on the loopback address of a's namespace and nowhere else.
    let (status, body) = http_get(&lab, "a", "127.0.0.1:9477", "/metrics");
    assert_eq!(status, 200);
    let scraped = parse_metrics(&body);
    assert!(
        sample(&scraped, "grebe_port_rx_packets_total", &gre0)
            >= sample(&after, "grebe_port_rx_packets_total", &gre0)
    );
    assert_eq!(http_get(&lab, "a", "127.0.0.1:9477", "/").0, 404);
    let from_b = lab
        .command("b", "python3")
        .args([
            "-c",
            "import socket; socket.create_connection(('192.0.2.1', 9477), timeout=3)",
        ])
        .output()
        .unwrap();
    assert!(
        !from_b.status.success(),
        "metrics reachable from the transport network"
    );
    let from_a_eth0 = lab
        .command("a", "python3")
        .args([
            "-c",
            "import socket; socket.create_connection(('192.0.2.1', 9477), timeout=3)",
        ])
        .output()
        .unwrap();
    assert!(
        !from_a_eth0.status.success(),
        "metrics bound beyond 127.0.0.1"
    );

    // With spanning tree on, each tunnel is in exactly one state.
    lab.vsctl_ok("a", &["set", "bridge", "br-int", "stp_enable=true"])
        .unwrap();
    let tree = parse_metrics(&lab.appctl("a", &["metrics"]).unwrap());
    let states: Vec<f64> = tree
        .iter()
        .filter(|(n, l, _)| {
            n == "grebe_stp_port_state" && l.iter().any(|(k, v)| k == "port" && v == "gre0")
        })
        .map(|(_, _, v)| *v)
        .collect();
    assert_eq!(states.len(), 6, "{states:?}");
    assert_eq!(states.iter().sum::<f64>(), 1.0, "{states:?}");
    stop(daemon_a);
}

#[test]
fn a_metrics_address_in_use_fails_the_start() {
    let Some(lab) = one_host("metricsbusy") else {
        return;
    };
    let mut taken = lab
        .command("a", "python3")
        .args([
            "-c",
            "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 9478)); s.listen(); print('ok', flush=True); time.sleep(30)",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(taken.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "ok");
    let how = Start {
        args: &["--metrics-listen", "127.0.0.1:9478"],
        ..Start::default()
    };
    let log = start(&lab, "a", &how).expect_err("started on a taken address");
    assert!(
        log.contains("listening for metrics on 127.0.0.1:9478"),
        "{log}"
    );
    let _ = taken.kill();
    let _ = taken.wait();
}

/// `appctl health` on `host`, as (port, what it says) by "BRIDGE PORT".
fn health(lab: &Lab, host: &str) -> std::collections::BTreeMap<String, String> {
    lab.appctl(host, &["health"])
        .unwrap()
        .lines()
        .map(|l| {
            let (port, what) = l.split_once(": ").unwrap_or_else(|| panic!("{l}"));
            (port.to_string(), what.to_string())
        })
        .collect()
}

#[test]
fn health_says_what_each_port_does_or_why_not() {
    let Some(lab) = common::lab("health") else {
        return;
    };
    common::two_hosts(&lab);
    // An idle port: a veth end on a bridge of its own, the peer silent (no IPv6 chatter).
    lab.sh(
        "a",
        &[
            "ip", "link", "add", "idle0", "type", "veth", "peer", "name", "idle0p",
        ],
    )
    .unwrap();
    for dev in ["idle0", "idle0p"] {
        lab.sh(
            "a",
            &[
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{dev}.disable_ipv6=1"),
            ],
        )
        .unwrap();
        lab.sh("a", &["ip", "link", "set", dev, "up"]).unwrap();
    }
    lab.vsctl_ok("a", &["add-br", "br-idle"]).unwrap();
    lab.vsctl_ok("a", &["add-port", "br-idle", "idle0"])
        .unwrap();
    lab.vsctl_ok("a", &["add-port", "br-idle", "ghost0"])
        .unwrap();
    lab.vsctl_ok(
        "a",
        &[
            "add-port",
            "br-idle",
            "far0",
            "--",
            "set",
            "interface",
            "far0",
            "type=gre",
            "options:remote_ip=203.0.113.9",
        ],
    )
    .unwrap();
    health(&lab, "a"); // the window starts here
    lab.ping("a", "198.51.100.2", 3).unwrap();
    let h = health(&lab, "a");
    assert_eq!(h.len(), 7, "one line a port: {h:#?}");
    for port in ["br-int mgmt0", "br-int gre0"] {
        assert!(
            h[port].starts_with("up, carrying traffic"),
            "{port}: {h:#?}"
        );
    }
    assert_eq!(
        h["br-idle idle0"],
        "up, idle (no frames since the last check)"
    );
    assert_eq!(
        h["br-idle ghost0"],
        "down: could not open network device ghost0 (No such device)"
    );
    assert!(
        h["br-idle far0"].starts_with("down: no route to the remote 203.0.113.9"),
        "{h:#?}"
    );
    assert_eq!(
        h["br-idle br-idle"],
        "down: the interface is administratively down (ip link set dev br-idle up)"
    );
    // The next window starts after the pings: fewer frames than they carried, if any.
    let frames_in = |line: &str| -> u64 {
        line.strip_prefix("up, carrying traffic (")
            .and_then(|r| r.split(' ').next())
            .map_or(0, |n| n.parse().unwrap())
    };
    let first = frames_in(&h["br-int gre0"]);
    assert!(first >= 3, "{h:#?}");
    let h = health(&lab, "a");
    assert!(frames_in(&h["br-int gre0"]) < first, "{h:#?}");
    // b stopped: a's tunnel still sends (ARP, pings) but hears nothing back.
    lab.stop_daemon("b", false).unwrap();
    let _ = lab.ping("a", "198.51.100.2", 2);
    let h = health(&lab, "a");
    assert!(
        h["br-int gre0"].contains("but nothing received from 192.0.2.2"),
        "{h:#?}"
    );
}

/// The repository's unit with ExecStart pointing at the binary under test, in a directory of
/// its own (systemd-analyze wants the file named as the unit).
fn unit_for_test(name: &str) -> PathBuf {
    let unit = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/grebe.service"
    ))
    .unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/grebe daemon"), "{unit}");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("grebe.service");
    fs::write(&path, unit.replace("/usr/bin/grebe", GREBE)).unwrap();
    path
}

fn systemd_analyze_present() -> bool {
    Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_systemd_unit_verifies() {
    if !systemd_analyze_present() {
        assert!(
            std::env::var_os("CI").is_none(),
            "systemd-analyze missing under CI"
        );
        eprintln!(
            "SKIPPED the_systemd_unit_verifies: no systemd-analyze (apt-get install systemd)"
        );
        return;
    }
    let unit = unit_for_test("unit-verify");
    // The unit's Documentation= names man pages: verify looks them up, in the generated ones.
    let man = unit.with_file_name("man");
    let _ = fs::remove_dir_all(&man);
    let ok = Command::new(GREBE)
        .arg("man")
        .arg(man.join("man1"))
        .status()
        .unwrap()
        .success();
    assert!(ok, "grebe man");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .env("MANPATH", &man)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "systemd-analyze verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The keys the service depends on, as systemd reads them.
    let text = fs::read_to_string(&unit).unwrap();
    for key in [
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW\n",
        "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW\n",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET\n",
        "StateDirectory=grebe\n",
        "RuntimeDirectory=grebe\n",
    ] {
        assert!(text.contains(key), "the unit lacks {key:?}");
    }
    // A broken unit fails: the check can fail.
    let broken = unit.with_file_name("broken.service");
    fs::write(&broken, text.replace(GREBE, "/nonexistent/grebe")).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&broken)
        .env("MANPATH", &man)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "verify passed a unit whose binary is missing"
    );
}

/// `systemd-analyze security` rates the unit from the file alone (`--offline`); the README
/// reports the figure, and it must not get worse.
#[test]
fn the_systemd_unit_exposure_stays_low() {
    if !systemd_analyze_present() {
        assert!(
            std::env::var_os("CI").is_none(),
            "systemd-analyze missing under CI"
        );
        eprintln!("SKIPPED the_systemd_unit_exposure_stays_low: no systemd-analyze");
        return;
    }
    let unit = unit_for_test("unit-security");
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let score: f64 = text
        .split("Overall exposure level for grebe.service: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    assert!(score <= 2.5, "exposure {score} (README says 2.5):\n{text}");
}

#[test]
fn the_daemon_tells_systemd_it_is_ready_and_pings_the_watchdog() {
    let Some(lab) = one_host("notify") else {
        return;
    };
    let dir = lab.dir().join("notify");
    fs::create_dir_all(&dir).unwrap();
    let socket_path = dir.join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let notify = socket_path.to_str().unwrap();
    let how = Start {
        env: &[("NOTIFY_SOCKET", notify), ("WATCHDOG_USEC", "200000")],
        ..Start::default()
    };
    // Configuration saved by an earlier run: READY comes once it is applied.
    let first_run = start(&lab, "a", &Start::default()).unwrap();
    lab.vsctl_ok("a", &["add-br", "br-int"]).unwrap();
    stop(first_run);
    let child = start(&lab, "a", &how).unwrap();
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).expect("no READY=1 within 10 s");
    let first = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(first.lines().any(|l| l == "READY=1"), "{first:?}");
    assert!(first.contains("STATUS=1 bridges, 1 ports"), "{first:?}");
    // The control socket answers by the time READY is sent.
    assert!(lab.vsctl_ok("a", &["list-br"]).unwrap().contains("br-int"));
    let mut pings = 0;
    let started = Instant::now();
    while pings < 3 {
        let n = socket.recv(&mut buf).expect("the watchdog pings stopped");
        if String::from_utf8_lossy(&buf[..n])
            .lines()
            .any(|l| l == "WATCHDOG=1")
        {
            pings += 1;
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "pings every 100 ms expected"
    );
    stop(child);
    let n = socket.recv(&mut buf).expect("no STOPPING=1 on SIGTERM");
    let mut last = String::from_utf8_lossy(&buf[..n]).into_owned();
    // A watchdog ping may still be in the queue.
    while !last.contains("STOPPING=1") {
        let n = socket.recv(&mut buf).expect("no STOPPING=1 on SIGTERM");
        last = String::from_utf8_lossy(&buf[..n]).into_owned();
    }
}

/// A wrapper that runs the daemon as nobody (65534) with exactly `caps` (setpriv's syntax,
/// `+net_admin,+net_raw`). Debian's udev makes /dev/net/tun 0666; a container's may be 0600,
/// so a copy of the node that nobody may open is bind-mounted over it, in the mount namespace
/// `ip netns exec` made for this process only.
fn as_nobody(lab: &Lab, host: &str, caps: &str) -> Vec<String> {
    let rundir = lab.rundir(host);
    fs::create_dir_all(&rundir).unwrap();
    std::os::unix::fs::chown(&rundir, Some(65534), Some(65534)).unwrap();
    let tun = lab.dir().join(format!("{host}-tun"));
    let _ = fs::remove_file(&tun);
    let ok = Command::new("mknod")
        .args(["-m", "666"])
        .arg(&tun)
        .args(["c", "10", "200"])
        .status()
        .unwrap()
        .success();
    assert!(ok, "mknod {}", tun.display());
    [
        "sh",
        "-c",
        &format!("mount --bind {} /dev/net/tun && exec \"$@\"", tun.display()),
        "sh",
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        &format!("--inh-caps={caps}"),
        &format!("--ambient-caps={caps}"),
    ]
    .map(String::from)
    .to_vec()
}

/// A line of /proc/PID/status.
fn proc_status(pid: u32, key: &str) -> String {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
}

#[test]
fn without_root_two_capabilities_are_enough_to_forward() {
    let Some(lab) = common::lab("nobody") else {
        return;
    };
    lab.add_switch("wan").unwrap();
    lab.add_host("a", "wan", "192.0.2.1/24").unwrap();
    let wrapper = as_nobody(&lab, "a", "+net_admin,+net_raw");
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let how = Start {
        wrapper: &wrapper,
        ..Start::default()
    };
    let daemon = start(&lab, "a", &how).unwrap_or_else(|log| panic!("as nobody: {log}"));
    assert_eq!(
        proc_status(daemon.id(), "Uid:").split_whitespace().next(),
        Some("65534")
    );
    // Effective: CAP_NET_ADMIN (12) and CAP_NET_RAW (13), nothing else.
    assert_eq!(proc_status(daemon.id(), "CapEff:"), "0000000000003000");
    lab.add_host("b", "wan", "192.0.2.2/24").unwrap();
    lab.start_daemon("b").unwrap();
    lab.configure_seed("a", "198.51.100.1/24", &["192.0.2.2"])
        .unwrap();
    lab.configure_seed("b", "198.51.100.2/24", &["192.0.2.1"])
        .unwrap();
    lab.ping("a", "198.51.100.2", 3).unwrap();
    lab.ping("b", "198.51.100.1", 3).unwrap();
    assert!(common::port_counter(&lab, "a", "gre0", "rx_packets") >= 6);
    // The configuration was saved by nobody, into its own directory.
    let db = lab.rundir("a").join("conf.json");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fs::metadata(&db).unwrap().uid(), 65534);
    stop(daemon);
}

#[test]
fn without_a_capability_the_daemon_names_it() {
    let Some(lab) = one_host("nocap") else {
        return;
    };
    for (caps, missing, present) in [
        ("+net_admin", "CAP_NET_RAW", "CAP_NET_ADMIN"),
        ("+net_raw", "CAP_NET_ADMIN", "CAP_NET_RAW"),
    ] {
        let wrapper = as_nobody(&lab, "a", caps);
        let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
        let how = Start {
            wrapper: &wrapper,
            ..Start::default()
        };
        let log = start(&lab, "a", &how).expect_err("started without a capability");
        assert!(
            log.contains(&format!("grebe daemon lacks {missing} (")),
            "{caps}: {log}"
        );
        assert!(!log.contains(&format!("lacks {present}")), "{caps}: {log}");
        assert!(!log.contains("panicked"), "{log}");
        assert!(
            !lab.rundir("a").join(daemon::control::SOCKET_NAME).exists(),
            "a control socket left behind"
        );
    }
}

#[test]
fn man_pages_generate_for_every_command() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("man-pages");
    let _ = fs::remove_dir_all(&dir);
    let out = Command::new(GREBE).arg("man").arg(&dir).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (page, mentions) in [
        ("grebe.1", "daemon"),
        ("grebe-daemon.1", r"metrics\-listen"),
        ("grebe-vsctl.1", r"ovs\-vsctl"),
        ("grebe-appctl.1", r"ovs\-appctl"),
        ("grebe-capture.1", "pcap"),
        ("grebe-completions.1", "bash"),
    ] {
        let text = fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains("\n.TH "), "{page} has no title line");
        assert!(
            text.contains(mentions),
            "{page} does not mention {mentions}"
        );
    }
    // The daemon's page documents what is not a flag: its environment.
    let daemon = fs::read_to_string(dir.join("grebe-daemon.1")).unwrap();
    for env in ["GREBE_LOG_FORMAT", "NOTIFY_SOCKET"] {
        assert!(
            daemon.contains(env),
            "grebe-daemon.1 does not mention {env}"
        );
    }
    // man renders them when it is there (man-db).
    if let Ok(out) = Command::new("man")
        .arg("-l")
        .arg(dir.join("grebe-daemon.1"))
        .env("MANWIDTH", "80")
        .output()
    {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Bold and underline come as overstrikes (c BACKSPACE c): keep the last of each.
        let mut text = String::new();
        for c in String::from_utf8_lossy(&out.stdout).chars() {
            if c == '\x08' {
                text.pop();
            } else {
                text.push(c);
            }
        }
        assert!(text.contains("--metrics-listen"), "{text}");
        assert!(text.contains("GREBE_LOG_FORMAT"), "{text}");
    }
    // A path that cannot be a directory is an error, not a panic.
    let file = dir.join("grebe.1");
    let out = Command::new(GREBE).arg("man").arg(&file).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("grebe: creating "), "{err}");
}

#[test]
fn completions_generate_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = Command::new(GREBE)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(
            script.contains("metrics-listen"),
            "{shell} lacks the daemon's flags"
        );
        assert!(
            script.contains("completions"),
            "{shell} lacks the subcommands"
        );
    }
    // bash reads the bash script without a syntax error.
    let out = Command::new(GREBE)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("grebe.bash");
    fs::write(&path, &out.stdout).unwrap();
    let check = Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let out = Command::new(GREBE)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'tcsh'"));
}
