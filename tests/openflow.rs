//! OpenFlow on grebe's bridges, judged by OVS's own `ovs-ofctl` (Debian's openvswitch-common),
//! run unchanged: it finds `<rundir>/BR.mgmt` through `OVS_RUNDIR` as it finds ovs-vswitchd's.
//! Hosts a and b have the seed configuration (`two_hosts`).

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::Output;
use std::time::{Duration, Instant};

use common::*;
use lab::netns::Lab;

fn ofctl_installed() -> bool {
    std::path::Path::new("/usr/bin/ovs-ofctl").exists()
}

fn ofctl(lab: &Lab, host: &str, args: &[&str]) -> Output {
    lab.command(host, "ovs-ofctl")
        .env("OVS_RUNDIR", lab.rundir(host))
        .args(["--timeout=10"])
        .args(args)
        .output()
        .expect("running ovs-ofctl")
}

fn ofctl_ok(lab: &Lab, host: &str, args: &[&str]) -> String {
    let out = ofctl(lab, host, args);
    assert!(
        out.status.success(),
        "ovs-ofctl {} failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn of_lab(test: &str) -> Option<Lab> {
    let lab = lab_with(test, &[("openvswitch-common", ofctl_installed())])?;
    two_hosts(&lab);
    lab.wait_ping("a", "198.51.100.2", Duration::from_secs(10))
        .unwrap();
    Some(lab)
}

/// A counter of one port from `dump-ports` output (`port "gre0": rx pkts=5, ...`).
fn dumped(text: &str, port: &str, direction: &str) -> u64 {
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if l.contains(&format!("\"{port}\":")) || l.contains(&format!(" {port}:")) {
            let line = if direction == "rx" {
                l.to_owned()
            } else {
                lines.next().unwrap().to_owned()
            };
            let pkts = line
                .split("pkts=")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap();
            return pkts.trim().parse().unwrap();
        }
    }
    panic!("no port {port} in:\n{text}");
}

#[test]
fn ovs_ofctl_shows_and_dumps_a_grebe_bridge() {
    let Some(lab) = of_lab("ofshow") else { return };
    lab.ping("a", "198.51.100.2", 3).unwrap();
    let mac = mac_of(&lab, "a", "br-int").replace(':', "");

    let show = ofctl_ok(&lab, "a", &["-O", "OpenFlow13", "show", "br-int"]);
    {
        assert!(show.contains("OFPT_FEATURES_REPLY (OF1.3)"), "{show}");
        assert!(show.contains(&format!("dpid:0000{mac}")), "{show}");
        assert!(show.contains("n_tables:254, n_buffers:0"), "{show}");
        assert!(show.contains("(gre0): addr:"), "{show}");
        assert!(show.contains("(mgmt0): addr:"), "{show}");
        assert!(show.contains("LOCAL(br-int): addr:"), "{show}");
        assert!(show.contains("OFPT_GET_CONFIG_REPLY (OF1.3)"), "{show}");
    }
    // As operators type it, without -O: ovs-ofctl speaks OpenFlow 1.0, and gets the same
    // ports, numbers and addresses.
    let show10 = ofctl_ok(&lab, "a", &["show", "br-int"]);
    assert!(show10.contains("OFPT_FEATURES_REPLY (xid="), "{show10}");
    assert!(show10.contains(&format!("dpid:0000{mac}")), "{show10}");
    let port_lines = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with(' ') && l.contains("): addr:"))
            .map(|l| l.trim().to_owned())
            .collect()
    };
    assert_eq!(port_lines(&show10), port_lines(&show), "{show10}\n{show}");
    let flows10 = ofctl_ok(&lab, "a", &["dump-flows", "br-int"]);
    assert!(flows10.contains("priority=0 actions=NORMAL"), "{flows10}");
    let ports10 = ofctl_ok(&lab, "a", &["--names", "dump-ports", "br-int", "gre0"]);
    assert!(dumped(&ports10, "gre0", "tx") >= 3, "{ports10}");
    // The socket by its path, and its mode.
    let path = lab.rundir("a").join("br-int.mgmt");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let by_path = ofctl_ok(
        &lab,
        "a",
        &[
            "-O",
            "OpenFlow13",
            "show",
            &format!("unix:{}", path.display()),
        ],
    );
    assert!(by_path.contains("(gre0)"), "{by_path}");

    // Counters: the pings went out of mgmt0 into gre0.
    let ports = ofctl_ok(
        &lab,
        "a",
        &["-O", "OpenFlow13", "--names", "dump-ports", "br-int"],
    );
    assert!(dumped(&ports, "gre0", "tx") >= 3, "{ports}");
    assert!(dumped(&ports, "mgmt0", "rx") >= 3, "{ports}");
    let desc = ofctl_ok(
        &lab,
        "a",
        &["-O", "OpenFlow13", "dump-ports-desc", "br-int"],
    );
    assert!(
        desc.contains("OFPST_PORT_DESC reply (OF1.3)") && desc.contains("(gre0)"),
        "{desc}"
    );
    let flows = ofctl_ok(&lab, "a", &["-O", "OpenFlow13", "dump-flows", "br-int"]);
    let normal = flows
        .lines()
        .find(|l| l.contains("priority=0 actions=NORMAL"))
        .unwrap_or_else(|| panic!("{flows}"));
    let n: u64 = normal
        .split("n_packets=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n >= 6, "{normal}");
    let desc = ofctl_ok(&lab, "a", &["-O", "OpenFlow13", "dump-desc", "br-int"]);
    assert!(desc.contains("Manufacturer: grebe"), "{desc}");
    let tables = ofctl_ok(&lab, "a", &["-O", "OpenFlow13", "dump-tables", "br-int"]);
    assert!(tables.contains("active=1"), "{tables}");
}

#[test]
fn what_grebe_cannot_do_is_refused_with_openflow_errors() {
    let Some(lab) = of_lab("ofrefuse") else {
        return;
    };
    // What the flow table cannot do yet is refused with the spec's error, and nothing changes:
    // packet-in (CONTROLLER), timeouts, a field it cannot match, another table.
    for (version, flow, error) in [
        ("OpenFlow13", "actions=controller", "OFPBAC_BAD_OUT_PORT"),
        ("OpenFlow10", "actions=controller", "OFPBAC_BAD_OUT_PORT"),
        (
            "OpenFlow13",
            "idle_timeout=10,actions=drop",
            "OFPFMFC_BAD_TIMEOUT",
        ),
        (
            "OpenFlow13",
            "ipv6,ipv6_src=2001:db8::1,actions=drop",
            "OFPBMC_BAD_FIELD",
        ),
        ("OpenFlow13", "table=1,actions=drop", "OFPFMFC_BAD_TABLE_ID"),
    ] {
        let out = ofctl(&lab, "a", &["-O", version, "add-flow", "br-int", flow]);
        assert!(!out.status.success(), "{flow} was taken");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(error), "{version} {flow}: {stderr}");
    }
    let flows = ofctl_ok(&lab, "a", &["dump-flows", "br-int"]);
    assert_eq!(
        flows.lines().filter(|l| l.contains("actions=")).count(),
        1,
        "{flows}"
    );
    lab.ping("a", "198.51.100.2", 2).unwrap();
    // OpenFlow 1.1 only, a version grebe does not speak: the handshake fails as the spec says.
    let out = ofctl(&lab, "a", &["-O", "OpenFlow11", "show", "br-int"]);
    assert!(!out.status.success());
    let status = lab.appctl("a", &["openflow/show"]).unwrap();
    assert!(
        status.contains("refused unsupported_out_port: 2"),
        "{status}"
    );
    assert!(
        status.contains("refused timeouts_unsupported: 1"),
        "{status}"
    );
    assert!(status.contains("refused hello_incompatible: 1"), "{status}");

    // Malformed messages from a client that is not ovs-ofctl: an error back with the request's
    // xid, counted; a length below the header closes the connection; the daemon carries on.
    let path = lab.rundir("a").join("br-int.mgmt");
    let mut c = UnixStream::connect(&path).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(&[4, 0, 0, 8, 0, 0, 0, 1]).unwrap();
    // FEATURES_REQUEST with a stray byte.
    c.write_all(&[4, 5, 0, 9, 0, 0, 0, 0x2a, 0xff]).unwrap();
    let mut got: Vec<u8> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let error = loop {
        let mut buf = [0u8; 4096];
        let n = c.read(&mut buf).unwrap();
        got.extend(&buf[..n]);
        // Skip grebe's HELLO (8 + 8 bytes), then the ERROR.
        if let Some(e) = got.get(16..28) {
            break e.to_vec();
        }
        assert!(Instant::now() < deadline, "no error in {got:?}");
    };
    assert_eq!(error[1], 1, "an OFPT_ERROR: {error:?}");
    assert_eq!(&error[4..8], &[0, 0, 0, 0x2a], "the request's xid");
    assert_eq!(&error[8..12], &[0, 1, 0, 6], "BAD_REQUEST / BAD_LEN");
    c.write_all(&[4, 2, 0, 4, 0, 0, 0, 2]).unwrap();
    let mut rest: Vec<u8> = Vec::new();
    let _ = c.read_to_end(&mut rest);
    let status = lab.appctl("a", &["openflow/show"]).unwrap();
    assert!(status.contains("refused bad_length: 2"), "{status}");
    lab.ping("a", "198.51.100.2", 1).unwrap();
}

#[test]
fn the_management_socket_follows_its_bridge() {
    let Some(lab) = of_lab("ofsock") else { return };
    lab.vsctl_ok("a", &["add-br", "br-x"]).unwrap();
    let path = lab.rundir("a").join("br-x.mgmt");
    let deadline = Instant::now() + Duration::from_secs(2);
    while !path.exists() {
        assert!(Instant::now() < deadline, "no {}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    let show = ofctl_ok(&lab, "a", &["-O", "OpenFlow13", "show", "br-x"]);
    assert!(
        show.contains("LOCAL(br-x)") && !show.contains("gre0"),
        "{show}"
    );
    lab.vsctl_ok("a", &["del-br", "br-x"]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} outlived its bridge",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn show_has(lab: &Lab, host: &str, needle: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let show = lab.vsctl_ok(host, &["show"]).unwrap();
        if show.contains(needle) || Instant::now() > deadline {
            return show;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn set_controller_listens_for_controllers_as_ovs_does() {
    let Some(lab) = of_lab("ofptcp") else { return };
    lab.vsctl_ok("a", &["set-controller", "br-int", "ptcp:6653:127.0.0.1"])
        .unwrap();
    lab.vsctl_ok("a", &["set-fail-mode", "br-int", "standalone"])
        .unwrap();
    assert_eq!(
        lab.vsctl_ok("a", &["get-controller", "br-int"]).unwrap(),
        "ptcp:6653:127.0.0.1\n"
    );
    assert_eq!(
        lab.vsctl_ok("a", &["get-fail-mode", "br-int"]).unwrap(),
        "standalone\n"
    );
    let show = lab.vsctl_ok("a", &["show"]).unwrap();
    assert!(
        show.contains(
            "        Controller \"ptcp:6653:127.0.0.1\"\n        fail_mode: standalone\n"
        ),
        "{show}"
    );
    // A controller's view over TCP, on the namespace's loopback: ovs-ofctl connects as one.
    let deadline = Instant::now() + Duration::from_secs(5);
    let shown = loop {
        let out = ofctl(
            &lab,
            "a",
            &["-O", "OpenFlow13", "show", "tcp:127.0.0.1:6653"],
        );
        if out.status.success() || Instant::now() > deadline {
            break String::from_utf8_lossy(&out.stdout).into_owned();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(shown.contains("(gre0): addr:"), "{shown}");
    // secure: the bridge sets up no flow itself, so with none programmed it carries nothing;
    // a controller (here ovs-ofctl over the listener) programs it; standalone again with
    // nothing programmed is the learning bridge.
    lab.vsctl_ok("a", &["set-fail-mode", "br-int", "secure"])
        .unwrap();
    assert_eq!(
        lab.vsctl_ok("a", &["get-fail-mode", "br-int"]).unwrap(),
        "secure\n"
    );
    assert!(
        lab.ping("a", "198.51.100.2", 1).is_err(),
        "a secure bridge without flows forwarded"
    );
    let flows = ofctl_ok(
        &lab,
        "a",
        &["-O", "OpenFlow13", "dump-flows", "tcp:127.0.0.1:6653"],
    );
    assert!(!flows.contains("actions="), "{flows}");
    ofctl_ok(
        &lab,
        "a",
        &[
            "-O",
            "OpenFlow13",
            "add-flow",
            "tcp:127.0.0.1:6653",
            "actions=NORMAL",
        ],
    );
    lab.wait_ping("a", "198.51.100.2", Duration::from_secs(5))
        .unwrap();
    ofctl_ok(&lab, "a", &["del-flows", "br-int"]);
    lab.vsctl_ok("a", &["set-fail-mode", "br-int", "standalone"])
        .unwrap();
    lab.wait_ping("a", "198.51.100.2", Duration::from_secs(5))
        .unwrap();
    // del-controller closes the listener.
    lab.vsctl_ok("a", &["del-controller", "br-int"]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while ofctl(
        &lab,
        "a",
        &["-O", "OpenFlow13", "show", "tcp:127.0.0.1:6653"],
    )
    .status
    .success()
    {
        assert!(
            Instant::now() < deadline,
            "still listening after del-controller"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        lab.vsctl_ok("a", &["get-controller", "br-int"]).unwrap(),
        ""
    );
    lab.ping("a", "198.51.100.2", 1).unwrap();
}

#[test]
fn an_active_controller_is_connected_and_reconnected() {
    let testcontroller = std::path::Path::new("/usr/bin/ovs-testcontroller").exists();
    let Some(lab) = lab_with(
        "ofactive",
        &[
            ("openvswitch-common", ofctl_installed()),
            ("openvswitch-testcontroller", testcontroller),
        ],
    ) else {
        return;
    };
    two_hosts(&lab);
    let start_controller = || {
        lab.command("a", "ovs-testcontroller")
            .args(["--noflow", "ptcp:6653:127.0.0.1"])
            .env("OVS_RUNDIR", lab.rundir("a"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut controller = start_controller();
    lab.vsctl_ok("a", &["set-controller", "br-int", "tcp:127.0.0.1:6653"])
        .unwrap();
    let connected = "        Controller \"tcp:127.0.0.1:6653\"\n            is_connected: true\n";
    let show = show_has(&lab, "a", connected, Duration::from_secs(15));
    assert!(show.contains(connected), "{show}");
    // Standalone: with a controller that programs nothing, the bridge still learns.
    lab.wait_ping("a", "198.51.100.2", Duration::from_secs(10))
        .unwrap();
    // The controller goes: not connected; it comes back: grebe reconnects by itself.
    controller.kill().unwrap();
    controller.wait().unwrap();
    let show = show_has(
        &lab,
        "a",
        "tcp:127.0.0.1:6653\"\n        Port",
        Duration::from_secs(15),
    );
    assert!(!show.contains("is_connected"), "{show}");
    let mut controller = start_controller();
    let show = show_has(&lab, "a", connected, Duration::from_secs(20));
    assert!(show.contains(connected), "{show}");
    let status = lab.appctl("a", &["openflow/show"]).unwrap();
    assert!(
        status.contains("controller tcp:127.0.0.1:6653: 1 session(s)"),
        "{status}"
    );
    controller.kill().unwrap();
    let _ = controller.wait();
}

#[test]
fn ovs_ofctl_monitor_sees_ports_come_and_go() {
    let Some(lab) = of_lab("ofmon") else { return };
    let log = lab.dir().join("monitor.log");
    let mut monitor = lab
        .command("a", "ovs-ofctl")
        .env("OVS_RUNDIR", lab.rundir("a"))
        .args(["-O", "OpenFlow13", "monitor", "br-int"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        // ovs-ofctl monitor prints what it receives on stderr.
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let wait_for = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains(needle) || Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // Connected and handshaken before the change.
    std::thread::sleep(Duration::from_millis(500));
    lab.vsctl_ok(
        "a",
        &[
            "add-port",
            "br-int",
            "gre9",
            "--",
            "set",
            "interface",
            "gre9",
            "type=gre",
            "options:remote_ip=192.0.2.9",
        ],
    )
    .unwrap();
    let text = wait_for("(gre9)");
    assert!(
        text.contains("OFPT_PORT_STATUS (OF1.3)") && text.contains("ADD: 4(gre9): addr:"),
        "{text}"
    );
    lab.vsctl_ok("a", &["del-port", "br-int", "gre9"]).unwrap();
    let text = wait_for("DEL: 4(gre9)");
    assert!(
        text.contains("OFPT_PORT_STATUS (OF1.3) (xid=0x0): DEL: 4(gre9)"),
        "{text}"
    );
    let _ = monitor.kill();
    let _ = monitor.wait();
}

/// The OpenFlow port number ovs-ofctl shows for a port (`show`: ` 3(gre0): addr:...`).
fn of_port(lab: &Lab, host: &str, port: &str) -> String {
    let show = ofctl_ok(lab, host, &["show", "br-int"]);
    show.lines()
        .find_map(|l| {
            l.trim().strip_suffix("").and_then(|l| {
                l.split_once(&format!("({port}): "))
                    .map(|(n, _)| n.trim().to_owned())
            })
        })
        .unwrap_or_else(|| panic!("no {port} in {show}"))
}

/// `ofproto/trace` of a frame from mgmt0 to 02:00:00:00:00:99 on `a`'s bridge.
fn trace_to_99(lab: &Lab) -> String {
    lab.appctl(
        "a",
        &[
            "ofproto/trace",
            "br-int",
            "in_port=mgmt0,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:99",
        ],
    )
    .unwrap()
}

fn flow_packets(flows: &str, needle: &str) -> u64 {
    let line = flows
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no flow with {needle} in:\n{flows}"));
    line.split("n_packets=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn ovs_ofctl_programs_the_flow_table() {
    let Some(lab) = of_lab("offlows") else { return };
    // A drop for one address, in OpenFlow 1.0 as ovs-ofctl sends it by default: pings to it
    // stop, ARP (not IP) still passes by NORMAL.
    ofctl_ok(
        &lab,
        "a",
        &[
            "add-flow",
            "br-int",
            "priority=100,ip,nw_dst=198.51.100.2,actions=drop",
        ],
    );
    assert!(
        lab.ping("a", "198.51.100.2", 2).is_err(),
        "the drop flow let pings through"
    );
    let flows = ofctl_ok(&lab, "a", &["-O", "OpenFlow13", "dump-flows", "br-int"]);
    assert!(
        flow_packets(&flows, "priority=100,ip,nw_dst=198.51.100.2 actions=drop") >= 2,
        "{flows}"
    );
    assert!(flows.contains("priority=0 actions=NORMAL"), "{flows}");
    assert!(drops(&lab, "a", "flow_drop") >= 2);
    // ofproto/trace follows the table: a flow on the destination MAC drops the traced frame.
    ofctl_ok(
        &lab,
        "a",
        &[
            "add-flow",
            "br-int",
            "priority=200,dl_dst=02:00:00:00:00:99,actions=drop",
        ],
    );
    let traced = trace_to_99(&lab);
    assert!(
        traced.contains("OpenFlow table 0: the frame matches the flow of priority 200"),
        "{traced}"
    );
    assert!(traced.contains("Output: dropped (flow_drop)"), "{traced}");
    // Filtered dumps select by match.
    let ip_only = ofctl_ok(&lab, "a", &["dump-flows", "br-int", "ip"]);
    assert!(
        ip_only.contains("nw_dst=198.51.100.2") && !ip_only.contains("priority=0 actions=NORMAL"),
        "{ip_only}"
    );
    // Deleted by its match (1.3 this time): pings pass again.
    ofctl_ok(
        &lab,
        "a",
        &[
            "-O",
            "OpenFlow13",
            "del-flows",
            "br-int",
            "ip,nw_dst=198.51.100.2",
        ],
    );
    lab.wait_ping("a", "198.51.100.2", Duration::from_secs(5))
        .unwrap();

    // del-flows empties the table, NORMAL included: a table miss drops, as on OVS.
    ofctl_ok(&lab, "a", &["del-flows", "br-int"]);
    assert!(
        lab.ping("a", "198.51.100.2", 1).is_err(),
        "an empty table forwarded"
    );
    assert!(drops(&lab, "a", "flow_miss") >= 1);
    let traced = trace_to_99(&lab);
    assert!(traced.contains("no flow matches the frame"), "{traced}");
    // Explicit outputs by port name, both ways, and nothing else: the pings cross.
    let (mgmt, gre) = (of_port(&lab, "a", "mgmt0"), of_port(&lab, "a", "gre0"));
    ofctl_ok(
        &lab,
        "a",
        &["add-flow", "br-int", "in_port=mgmt0,actions=output:gre0"],
    );
    ofctl_ok(
        &lab,
        "a",
        &["add-flow", "br-int", "in_port=gre0,actions=output:mgmt0"],
    );
    lab.wait_ping("a", "198.51.100.2", Duration::from_secs(5))
        .unwrap();
    let flows = ofctl_ok(&lab, "a", &["-O", "OpenFlow13", "dump-flows", "br-int"]);
    assert!(
        flow_packets(&flows, &format!("in_port={mgmt} actions=output:{gre}")) >= 1,
        "{flows}"
    );
    assert!(
        flow_packets(&flows, &format!("in_port={gre} actions=output:{mgmt}")) >= 1,
        "{flows}"
    );
    let traced = trace_to_99(&lab);
    assert!(
        traced.contains("Output: to gre0 (the flow's output actions)"),
        "{traced}"
    );
    let agg = ofctl_ok(&lab, "a", &["dump-aggregate", "br-int"]);
    assert!(agg.contains("flow_count=2"), "{agg}");
    // NORMAL back: the learning bridge again.
    ofctl_ok(&lab, "a", &["del-flows", "br-int"]);
    ofctl_ok(
        &lab,
        "a",
        &["add-flow", "br-int", "priority=0,actions=NORMAL"],
    );
    lab.wait_ping("a", "198.51.100.2", Duration::from_secs(5))
        .unwrap();
}
