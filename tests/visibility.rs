//! Whole-system tests of what makes switching visible: `ofproto/trace` says what the datapath
//! then does, `ofproto/trace-live` shows every frame, `grebe capture` writes pcap files tshark
//! reads. Two hosts in network namespaces, transport 192.0.2.0/24, overlay 198.51.100.0/24.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use lab::netns::Lab;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(10);

/// A streaming grebe client (trace-live, capture) running in a host's namespace.
struct Streamer {
    child: Child,
    stderr: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
}

impl Streamer {
    /// Starts `grebe ARGS` on `host` and waits until it says it is watching.
    fn start(lab: &Lab, host: &str, args: &[&str], ready: &str) -> Streamer {
        let mut child = lab
            .command(host, GREBE)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting grebe");
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut s = Streamer {
            child,
            stderr: rx,
            stderr_seen: Vec::new(),
        };
        loop {
            match s.stderr.recv_timeout(WAIT) {
                Ok(line) => {
                    let done = line.contains(ready);
                    s.stderr_seen.push(line);
                    if done {
                        return s;
                    }
                }
                Err(_) => {
                    let _ = s.child.kill();
                    panic!(
                        "grebe {} never said {ready:?}; stderr: {:?}",
                        args.join(" "),
                        s.stderr_seen
                    );
                }
            }
        }
    }

    /// Ctrl-C, then everything it printed: (stdout, stderr).
    fn stop(mut self) -> (String, String) {
        let pid = self.child.id().to_string();
        // `ip netns exec` execs grebe: the child is the client itself.
        let _ = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status();
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let status = self.child.wait().unwrap();
        let mut err = self.stderr_seen.join("\n");
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(2)) {
            err.push('\n');
            err.push_str(&line);
        }
        assert!(status.success(), "exit {status}; stderr: {err}");
        (out, err)
    }
}

fn trace_json(lab: &Lab, host: &str, args: &[&str]) -> Value {
    let mut full = vec!["ofproto/trace", "br-int"];
    full.extend_from_slice(args);
    full.extend(["--format", "json"]);
    serde_json::from_str(&lab.appctl(host, &full).unwrap()).expect("trace --format json is JSON")
}

fn sorted(v: &Value) -> Vec<String> {
    let mut names: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// Asserts that a trace-live line reports the decision the trace predicted.
fn assert_same_decision(trace: &Value, live: &Value) {
    assert_eq!(
        trace["verdict"], live["verdict"],
        "trace {trace}\nlive {live}"
    );
    assert_eq!(
        trace["reason"], live["reason"],
        "trace {trace}\nlive {live}"
    );
    assert_eq!(
        sorted(&trace["outputs"]),
        sorted(&live["outputs"]),
        "trace {trace}\nlive {live}"
    );
}

/// `two_hosts`, with only the test's own frames on the overlay: no IPv6 router solicitations
/// or MLD reports landing between a trace and the frame it predicts.
fn quiet_two_hosts(lab: &Lab) {
    two_hosts(lab);
    for host in ["a", "b"] {
        lab.sh(
            host,
            &["sysctl", "-qw", "net.ipv6.conf.mgmt0.disable_ipv6=1"],
        )
        .unwrap();
    }
}

#[test]
fn trace_predicts_what_the_datapath_does_and_trace_live_shows_every_frame() {
    let Some(lab) = lab("vtrace") else { return };
    quiet_two_hosts(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    let a = mac_of(&lab, "a", "mgmt0");
    let b = mac_of(&lab, "b", "mgmt0");
    let live = Streamer::start(
        &lab,
        "a",
        &["appctl", "ofproto/trace-live", "br-int", "--format", "json"],
        "tracing frames entering br-int",
    );

    // Known unicast both ways.
    let to_b = trace_json(
        &lab,
        "a",
        &[&format!("in_port=mgmt0,dl_src={a},dl_dst={b}")],
    );
    assert_eq!(to_b["verdict"], "unicast", "{to_b}");
    assert_eq!(to_b["lookup"], "hit");
    assert_eq!(to_b["learning"], "refresh");
    assert_eq!(sorted(&to_b["outputs"]), ["gre0"]);
    let gre = &to_b["actions"][0]["encapsulation"];
    assert_eq!(gre["remote_ip"], "192.0.2.2");
    assert_eq!(gre["header_len"], 24);
    let to_a = trace_json(&lab, "a", &[&format!("in_port=gre0,dl_src={b},dl_dst={a}")]);
    assert_eq!(sorted(&to_a["outputs"]), ["mgmt0"], "{to_a}");
    lab.ping("a", "198.51.100.2", 5).unwrap();

    // Broadcast: flooded to every port but the ingress one.
    let bcast = trace_json(
        &lab,
        "a",
        &[&format!(
            "in_port=mgmt0,dl_src={a},dl_dst=ff:ff:ff:ff:ff:ff"
        )],
    );
    assert_eq!(bcast["verdict"], "flood");
    assert_eq!(bcast["reason"], "broadcast");
    assert_eq!(bcast["excluded"][0]["port"], "mgmt0");
    // The kernel's ARP request is such a broadcast: make it ask again.
    lab.sh("a", &["ip", "neigh", "flush", "dev", "mgmt0"])
        .unwrap();
    lab.ping("a", "198.51.100.2", 1).unwrap();

    // Unknown unicast: forget what the bridge learned; the kernel still knows b's MAC.
    lab.appctl("a", &["fdb/flush", "br-int"]).unwrap();
    let unknown = trace_json(
        &lab,
        "a",
        &[&format!("in_port=mgmt0,dl_src={a},dl_dst={b}")],
    );
    assert_eq!(unknown["verdict"], "flood", "{unknown}");
    assert_eq!(unknown["reason"], "unknown");
    assert_eq!(unknown["lookup"], "miss");
    assert_eq!(unknown["learning"], "new");
    // The trace learned nothing: a is still unknown until a real frame comes from it.
    let fdb = lab.appctl("a", &["fdb/show", "br-int"]).unwrap();
    assert!(!fdb.contains(&a), "trace learned {a}:\n{fdb}");
    lab.ping("a", "198.51.100.2", 1).unwrap();

    let (out, err) = live.stop();
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .filter(|v: &Value| v.get("skipped").is_none())
        .collect();
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["in_port"] == "mgmt0" && l["summary"].as_str().unwrap().contains("ICMP echo request")
        })
        .collect();
    let replies: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["in_port"] == "gre0" && l["summary"].as_str().unwrap().contains("ICMP echo reply")
        })
        .collect();
    assert_eq!(requests.len(), 7, "5 + 1 + 1 requests:\n{out}\n{err}");
    assert_eq!(replies.len(), 7, "5 + 1 + 1 replies:\n{out}\n{err}");
    for (i, r) in requests[..5].iter().enumerate() {
        assert_eq!(r["dl_src"], a.as_str());
        assert_eq!(r["dl_dst"], b.as_str());
        assert!(
            r["summary"]
                .as_str()
                .unwrap()
                .ends_with(&format!("seq {}", i + 1)),
            "{r}"
        );
        assert_same_decision(&to_b, r);
    }
    assert_same_decision(&to_b, requests[5]);
    assert_same_decision(&unknown, requests[6]);
    let arp = lines
        .iter()
        .find(|l| {
            l["in_port"] == "mgmt0"
                && l["dl_dst"] == "ff:ff:ff:ff:ff:ff"
                && l["summary"].as_str().unwrap().contains("ARP")
        })
        .unwrap_or_else(|| panic!("no ARP broadcast from mgmt0:\n{out}"));
    assert!(
        arp["summary"]
            .as_str()
            .unwrap()
            .contains("who-has 198.51.100.2 tell 198.51.100.1"),
        "{arp}"
    );
    assert_same_decision(&bcast, arp);
    for r in &replies {
        assert_same_decision(&to_a, r);
    }
    assert!(err.contains("frames traced"), "{err}");
}

/// The records of a classic pcap file.
fn pcap_records(bytes: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "pcap magic");
    let mut at = 24;
    let mut out = Vec::new();
    while at + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push(bytes[at + 16..at + 16 + len].to_vec());
        at += 16 + len;
    }
    out
}

fn tshark(path: &std::path::Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = std::process::Command::new("tshark");
    cmd.arg("-r").arg(path).args(["-Y", filter, "-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("running tshark");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(String::from).collect())
        .collect()
}

#[test]
fn captures_open_in_tshark_and_trace_writes_the_captured_headers() {
    let Some(lab) = lab("vcap") else { return };
    quiet_two_hosts(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    // Steady state: a writes the tunnel's packets to eth0 itself, source address included, as
    // the trace below does.
    wait_link(&lab, "a", "gre0");
    let a = mac_of(&lab, "a", "mgmt0");
    let dir = lab.dir().to_path_buf();
    let inner = dir.join("inner.pcap");
    let outer = dir.join("outer.pcap");

    let cap_inner = Streamer::start(
        &lab,
        "a",
        &["capture", "mgmt0", "-w", inner.to_str().unwrap()],
        "capturing on mgmt0",
    );
    let cap_outer = Streamer::start(
        &lab,
        "a",
        &["capture", "gre0", "--outer", "-w", outer.to_str().unwrap()],
        "capturing on gre0",
    );
    let lines = Streamer::start(&lab, "a", &["capture", "gre0"], "capturing on gre0");
    lab.ping("a", "198.51.100.2", 3).unwrap();
    let (_, err) = cap_inner.stop();
    assert!(err.contains("frames captured, 0 skipped"), "{err}");
    let (_, err) = cap_outer.stop();
    assert!(err.contains(" 0 skipped"), "{err}");
    let (summary, _) = lines.stop();

    // Inner frames on mgmt0: three requests in, three replies out.
    let rows = tshark(
        &inner,
        "icmp",
        &["eth.src", "ip.src", "ip.dst", "icmp.type"],
    );
    let requests: Vec<_> = rows.iter().filter(|r| r[3] == "8").collect();
    let replies: Vec<_> = rows.iter().filter(|r| r[3] == "0").collect();
    assert_eq!(requests.len(), 3, "{rows:?}");
    assert_eq!(replies.len(), 3, "{rows:?}");
    for r in &requests {
        assert_eq!(r[..3], [a.as_str(), "198.51.100.1", "198.51.100.2"]);
    }

    // Whole packets on gre0: tshark decodes each as GRE carrying Ethernet.
    let rows = tshark(
        &outer,
        "",
        &["ip.proto", "ip.dst", "gre.proto", "eth.src", "icmp.type"],
    );
    assert!(!rows.is_empty(), "no packets in {}", outer.display());
    for r in &rows {
        assert!(r[0].starts_with("47"), "not GRE: {r:?}");
        assert_eq!(r[2], "0x6558", "{r:?}");
    }
    let sent: Vec<_> = rows
        .iter()
        .filter(|r| r[1] == "192.0.2.2,198.51.100.2" && r[4] == "8")
        .collect();
    assert_eq!(sent.len(), 3, "{rows:?}");
    assert!(sent.iter().all(|r| r[3] == a));
    // Received packets too, as they came off the wire: the replies from b.
    let received: Vec<_> = rows
        .iter()
        .filter(|r| r[1] == "192.0.2.1,198.51.100.1" && r[4] == "0")
        .collect();
    assert_eq!(received.len(), 3, "{rows:?}");

    // The one-line summaries name the pings.
    let echo = summary
        .lines()
        .filter(|l| l.contains(" gre0 tx ") && l.contains("ICMP echo request"))
        .count();
    assert_eq!(echo, 3, "{summary}");

    // ofproto/trace of the captured frame writes the very header the datapath wrote.
    let packet = pcap_records(&std::fs::read(&outer).unwrap())
        .into_iter()
        // A sent ping: to b's transport address, 24 + 98 bytes.
        .find(|p| p.len() == 24 + 98 && p[16..20] == [192, 0, 2, 2])
        .expect("a sent ping");
    let hex: String = packet.iter().map(|b| format!("{b:02x}")).collect();
    let t = trace_json(&lab, "a", &["in_port=mgmt0", &hex[48..]]);
    assert_eq!(t["verdict"], "unicast", "{t}");
    assert_eq!(t["actions"][0]["encapsulation"]["hex"], &hex[..48], "{t}");
}

#[test]
fn bad_requests_get_clear_errors() {
    let Some(lab) = lab("verr") else { return };
    lab.add_switch("wan").unwrap();
    lab.add_host("a", "wan", "192.0.2.1/24").unwrap();
    lab.start_daemon("a").unwrap();
    lab.configure_seed("a", "198.51.100.1/24", &["192.0.2.2"])
        .unwrap();
    let run = |args: &[&str]| {
        let out = lab.command("a", GREBE).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&[
        "appctl",
        "ofproto/trace",
        "br-int",
        "in_port=mgmt0,dl_src=zz",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("dl_src=zz is not a MAC address"), "{err}");
    assert!(err.contains("in_port=PORT,dl_src=MAC,dl_dst=MAC"), "{err}");
    let (code, err) = run(&[
        "appctl",
        "ofproto/trace",
        "br-int",
        "in_port=nope,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no port nope on bridge br-int"), "{err}");
    let (code, err) = run(&["appctl", "ofproto/trace-live", "br-nope"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no such bridge br-nope"), "{err}");
    let (code, err) = run(&["capture", "mgmt0", "--outer"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--outer needs a GRE port"), "{err}");
    let (code, err) = run(&["capture", "nope", "-w", "/nonexistent/x.pcap"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no port named nope"), "{err}");
    // A trace of a frame too short for Ethernet is an answer, not an error.
    let t = lab
        .appctl(
            "a",
            &[
                "ofproto/trace",
                "br-int",
                "in_port=mgmt0",
                "ffff",
                "--format",
                "json",
            ],
        )
        .unwrap();
    assert!(t.contains("\"reason\":\"frame_truncated\""), "{t}");
}

#[test]
fn trace_learns_only_when_asked() {
    let Some(lab) = lab("vlearn") else { return };
    two_hosts(&lab);
    let flow = "in_port=gre0,dl_src=02:00:00:00:00:77,dl_dst=ff:ff:ff:ff:ff:ff";
    let fdb = || lab.appctl("a", &["fdb/show", "br-int"]).unwrap();
    let t = trace_json(&lab, "a", &[flow]);
    assert_eq!(t["learning"], "new", "{t}");
    assert_eq!(t["learned"], false, "{t}");
    assert!(!fdb().contains("02:00:00:00:00:77"));
    let t = trace_json(&lab, "a", &[flow, "--learn"]);
    assert_eq!(t["learned"], true, "{t}");
    let table = fdb();
    let line = table
        .lines()
        .find(|l| l.contains("02:00:00:00:00:77"))
        .unwrap_or_else(|| panic!("not learned:\n{table}"));
    assert!(line.trim_start().starts_with("gre0"), "{line}");
}

/// A client that connects and sends nothing, or sends half a request, holds only its own
/// connection: every other command is answered meanwhile, and the daemon drops the stalled one
/// after its timeout instead of waiting for it forever.
#[test]
fn a_client_that_stalls_keeps_no_one_waiting() {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    let Some(lab) = lab("vstall") else { return };
    lab.add_switch("wan").unwrap();
    lab.add_host("a", "wan", "192.0.2.1/24").unwrap();
    lab.start_daemon("a").unwrap();
    let socket = lab.rundir("a").join(daemon::control::SOCKET_NAME);
    let silent = UnixStream::connect(&socket).unwrap();
    let mut half = UnixStream::connect(&socket).unwrap();
    half.write_all(b"{\"kind\":").unwrap();
    let mut stalled = vec![silent, half];
    // Answered while the stalled clients are still connected. A daemon that waited for them
    // would hang: the commands run on a thread, and if they are not answered the stalled
    // clients go away (freeing such a daemon) and the test fails.
    let (tx, rx) = mpsc::channel();
    let answered = std::thread::scope(|scope| {
        scope.spawn(|| {
            let _ = lab.vsctl_ok("a", &["add-br", "br-int"]);
            let _ = tx.send(lab.vsctl_ok("a", &["show"]));
        });
        let answered = rx.recv_timeout(Duration::from_secs(60));
        if answered.is_err() {
            stalled.clear();
        }
        answered
    });
    let shown = answered
        .expect("commands answered while clients stall")
        .unwrap();
    assert!(shown.contains("Bridge br-int"), "{shown}");
    // Both stalled clients are still connected: the answers did not wait for them to go.
    for s in &mut stalled {
        s.set_nonblocking(true).unwrap();
        let e = s.read(&mut [0u8; 1]).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}");
    }
}

/// `ovs-vsctl --timeout=N` gives up when the daemon does not answer within N seconds, as OVS's
/// does (killed by SIGALRM: exit status 142), instead of waiting for ever.
#[test]
fn vsctl_gives_up_after_its_timeout() {
    let Some(lab) = lab("vtime") else { return };
    lab.add_switch("wan").unwrap();
    lab.add_host("a", "wan", "192.0.2.1/24").unwrap();
    lab.start_daemon("a").unwrap();
    lab.vsctl_ok("a", &["--timeout=5", "add-br", "br-int"])
        .unwrap();
    let pid = std::fs::read_to_string(lab.rundir("a").join(daemon::control::PIDFILE_NAME))
        .unwrap()
        .trim()
        .to_owned();
    let signal = |sig: &str| {
        assert!(
            std::process::Command::new("kill")
                .args([sig, &pid])
                .status()
                .unwrap()
                .success()
        );
    };
    signal("-STOP");
    let out = lab.vsctl("a", &["--timeout=1", "show"]);
    signal("-CONT");
    let out = out.unwrap();
    assert_eq!(out.status.code(), Some(142), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did not answer within 1 s"), "{err}");
    // Running again, it answers.
    assert!(
        lab.vsctl_ok("a", &["--timeout=5", "show"])
            .unwrap()
            .contains("br-int")
    );
}
