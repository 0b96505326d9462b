//! Whole-system tests of system ports: existing interfaces (a container's veth, a VM guest's tap
//! held by another process) on br-int, carried through GRE like the hosts' own mgmt0; an
//! interface that goes and comes back; MTU-1500 workloads whose TCP and path MTU discovery work
//! across the tunnel.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lab::netns::{Lab, ip};

const WAIT: Duration = Duration::from_secs(10);

/// A port's entry in `dpif/show --format json`.
fn port_json(lab: &Lab, host: &str, port: &str) -> serde_json::Value {
    let v = dpif(lab, host);
    v["bridges"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["ports"].as_array().unwrap().clone())
        .find(|p| p["name"] == port)
        .unwrap_or_else(|| panic!("no port {port} on {host}: {v}"))
}

fn sysfs(lab: &Lab, host: &str, path: &str) -> String {
    let out = lab.sh(host, &["cat", path]).unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The veth of container `name` on `host` made again by the same names, as a restarted
/// container gets a new one: `<name>-l` in the host, `eth0` at `address` in the container.
fn recreate_container_veth(lab: &Lab, host: &str, name: &str, address: &str) {
    let (host_ns, ns) = (lab.netns(host), lab.netns(name));
    let port = format!("{name}-l");
    ip(&[
        "-n", &host_ns, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns,
    ])
    .unwrap();
    ip(&["-n", &ns, "addr", "add", address, "dev", "eth0"]).unwrap();
    ip(&["-n", &ns, "link", "set", "eth0", "up"]).unwrap();
    ip(&["-n", &host_ns, "link", "set", &port, "up"]).unwrap();
}

#[test]
fn a_container_and_a_guest_reach_each_other_and_the_hosts_through_gre() {
    let Some(lab) = lab("sysping") else { return };
    two_hosts(&lab);
    let veth = lab.add_container("a", "ct", "198.51.100.11/24").unwrap();
    lab.vsctl_ok("a", &["add-port", "br-int", &veth]).unwrap();
    lab.add_guest("b", "vm", "vnet0", "198.51.100.12/24")
        .unwrap();
    lab.vsctl_ok("b", &["add-port", "br-int", "vnet0"]).unwrap();

    lab.wait_ping("ct", "198.51.100.12", WAIT).unwrap();
    lab.ping("ct", "198.51.100.12", 3).unwrap();
    lab.ping("vm", "198.51.100.11", 3).unwrap();
    lab.ping("ct", "198.51.100.2", 3).unwrap();
    lab.ping("vm", "198.51.100.1", 3).unwrap();
    lab.ping("a", "198.51.100.12", 2).unwrap();

    // The workloads' MTU is theirs: grebe changed neither.
    assert_eq!(
        sysfs(&lab, "a", &format!("/sys/class/net/{veth}/mtu")),
        "1500"
    );
    assert_eq!(sysfs(&lab, "b", "/sys/class/net/vnet0/mtu"), "1500");
    let p = port_json(&lab, "a", &veth);
    assert_eq!(p["type"], "system");
    assert_eq!(p["link_state"], "up");
    assert_eq!(p["admin_state"], "up");
    assert_eq!(p["mac_in_use"], mac_of(&lab, "a", &veth));
    assert!(p.get("error").is_none(), "{p}");
    let stats = lab
        .vsctl_ok("a", &["get", "interface", &veth, "statistics"])
        .unwrap();
    for key in [
        "rx_packets=",
        "rx_bytes=",
        "rx_dropped=",
        "rx_errors=",
        "tx_packets=",
        "tx_bytes=",
        "tx_dropped=",
        "tx_errors=",
    ] {
        assert!(stats.contains(key), "{key} in {stats}");
    }
    assert!(
        lab.vsctl_ok("a", &["get", "interface", &veth, "ofport"])
            .unwrap()
            .trim()
            .parse::<u32>()
            .unwrap()
            > 0
    );

    // Frames grebe sent on the veth did not come back as received: the port received no more
    // than the container sent, and b's mgmt0 is learned on the tunnel only.
    let sent_by_container: u64 = sysfs(&lab, "ct", "/sys/class/net/eth0/statistics/tx_packets")
        .parse()
        .unwrap();
    let rx = port_counter(&lab, "a", &veth, "rx_packets");
    let tx = port_counter(&lab, "a", &veth, "tx_packets");
    assert!(rx >= 9 && tx >= 9, "rx {rx} tx {tx}");
    assert!(
        rx <= sent_by_container,
        "rx {rx} > container sent {sent_by_container}"
    );
    let b_mac = mac_of(&lab, "b", "mgmt0");
    let fdb = lab.appctl("a", &["fdb/show", "br-int"]).unwrap();
    let line = fdb.lines().find(|l| l.contains(&b_mac)).unwrap();
    assert!(line.trim_start().starts_with("gre0"), "{fdb}");
    assert_eq!(drops(&lab, "a", "same_port"), 0);
    assert_eq!(drops(&lab, "b", "same_port"), 0);
}

#[test]
fn a_missing_interface_waits_and_a_recreated_one_is_picked_up_within_a_second() {
    let Some(lab) = lab("sysre") else { return };
    two_hosts(&lab);
    // Configured before the interface exists: kept, shown down, with OVS's error.
    lab.vsctl_ok("a", &["add-port", "br-int", "ct-l"]).unwrap();
    let missing = "could not open network device ct-l (No such device)";
    let error = |lab: &Lab| {
        lab.vsctl_ok("a", &["get", "interface", "ct-l", "error"])
            .unwrap()
    };
    assert!(error(&lab).contains(missing), "{}", error(&lab));
    let show = lab.vsctl_ok("a", &["show"]).unwrap();
    assert!(show.contains(missing), "{show}");
    let p = port_json(&lab, "a", "ct-l");
    assert_eq!(p["link_state"], "down");
    assert_eq!(p["error"], missing);
    assert_eq!(dpif(&lab, "a")["errors"]["ct-l"], missing);

    // It appears: the port attaches without a command.
    lab.add_container("a", "ct", "198.51.100.11/24").unwrap();
    lab.wait_ping("ct", "198.51.100.2", WAIT).unwrap();
    assert_eq!(error(&lab).trim(), "[]");
    let first = port_json(&lab, "a", "ct-l")["ifindex"].as_u64().unwrap();

    // It goes: still configured, down, and frames to it are counted as port_down.
    ip(&["-n", &lab.netns("a"), "link", "del", "ct-l"]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(1);
    while port_json(&lab, "a", "ct-l")["link_state"] != "down" {
        assert!(Instant::now() < deadline, "deletion not seen within 1 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(error(&lab).contains(missing), "{}", error(&lab));
    assert!(
        lab.vsctl_ok("a", &["list-ports", "br-int"])
            .unwrap()
            .contains("ct-l")
    );
    let deadline = Instant::now() + WAIT;
    while port_counter(&lab, "a", "ct-l", "tx_dropped") == 0 {
        assert!(
            Instant::now() < deadline,
            "frames to the missing interface not counted: {}",
            std::fs::read_to_string(lab.rundir("a").join("daemon.log")).unwrap_or_default()
        );
        assert!(
            lab.ping("a", "198.51.100.11", 1).is_err(),
            "nobody is there"
        );
    }
    assert!(drops(&lab, "a", "port_down") > 0);

    // Made again (a new ifindex): picked up, traffic resumes within a second.
    let made = Instant::now();
    recreate_container_veth(&lab, "a", "ct", "198.51.100.11/24");
    lab.wait_ping("ct", "198.51.100.2", Duration::from_secs(1))
        .unwrap();
    let resumed = made.elapsed();
    assert!(
        resumed < Duration::from_secs(1),
        "traffic resumed after {resumed:?}"
    );
    let p = port_json(&lab, "a", "ct-l");
    assert_ne!(p["ifindex"].as_u64().unwrap(), first, "{p}");
    assert_eq!(p["link_state"], "up");
    assert_eq!(error(&lab).trim(), "[]");
}

/// A path MTU counter from `dpif/show`.
fn pmtu_counter(lab: &Lab, host: &str, name: &str) -> u64 {
    dpif(lab, host)["pmtu"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("no pmtu counter {name} in dpif/show"))
}

/// Two containers with the usual MTU of 1500 on two hosts, on br-int, reachable.
fn two_containers(lab: &Lab) {
    two_hosts(lab);
    let c1 = lab.add_container("a", "c1", "198.51.100.21/24").unwrap();
    lab.vsctl_ok("a", &["add-port", "br-int", &c1]).unwrap();
    let c2 = lab.add_container("b", "c2", "198.51.100.22/24").unwrap();
    lab.vsctl_ok("b", &["add-port", "br-int", &c2]).unwrap();
    assert_eq!(sysfs(lab, "c1", "/sys/class/net/eth0/mtu"), "1500");
    lab.wait_ping("c1", "198.51.100.22", WAIT).unwrap();
}

#[test]
fn mtu_1500_containers_exchange_20_mb_over_tcp_across_gre() {
    let Some(lab) = lab("sys20m") else { return };
    two_containers(&lab);
    let elapsed = tcp_transfer(&lab, "c1", "c2", "198.51.100.22", 20 << 20);
    eprintln!("20 MiB container to container in {elapsed:?}");
    // Both SYNs were clamped where they entered a tunnel, so no segment was too big for it.
    assert!(pmtu_counter(&lab, "a", "mss_clamped") >= 1);
    assert!(pmtu_counter(&lab, "b", "mss_clamped") >= 1);
    assert_eq!(drops(&lab, "a", "too_big"), 0);
    assert_eq!(drops(&lab, "b", "too_big"), 0);
    assert_eq!(drops(&lab, "b", "bad_offload"), 0);
    assert!(port_counter(&lab, "b", "c2-l", "tx_bytes") > 20 << 20);

    // Turned off on both ends, a SYN crosses unchanged: the first full-sized segments are too
    // big, and TCP learns the tunnel's MTU from the ICMP answer (path MTU discovery) instead.
    for host in ["a", "b"] {
        lab.vsctl_ok(
            host,
            &["set", "bridge", "br-int", "other_config:mss-clamp=false"],
        )
        .unwrap();
    }
    let before = pmtu_counter(&lab, "a", "mss_clamped");
    let icmp = pmtu_counter(&lab, "a", "too_big_icmp_sent");
    tcp_transfer(&lab, "c1", "c2", "198.51.100.22", 2 << 20);
    assert_eq!(pmtu_counter(&lab, "a", "mss_clamped"), before);
    assert!(pmtu_counter(&lab, "a", "too_big_icmp_sent") > icmp);
    assert!(drops(&lab, "a", "too_big") > 0);
}

/// Sends two 1472-byte UDP datagrams with DF (IP_PMTUDISC_DO) from `host` to `dst`, half a
/// second apart; prints whether the second was refused (EMSGSIZE: the kernel learned a smaller
/// path MTU) and the socket's path MTU.
fn udp_with_df(lab: &Lab, host: &str, dst: &str) -> String {
    const SENDER: &str = "import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER = IP_PMTUDISC_DO
s.connect((sys.argv[1], 9))
s.send(bytes(1472))
time.sleep(0.5)
try:
    s.send(bytes(1472))
    print('sent')
except OSError as e:
    print('refused', e.errno)
print('mtu', s.getsockopt(socket.IPPROTO_IP, 14))  # IP_MTU
";
    let out = lab
        .command(host, "python3")
        .args(["-c", SENDER, dst])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_udp_sender_with_df_learns_the_tunnel_mtu_from_icmp() {
    let Some(lab) = lab("sysdf") else { return };
    two_containers(&lab);
    let out = udp_with_df(&lab, "c1", "198.51.100.22");
    // The tunnel carries 1462-byte IP packets: the ICMP error said so, and the kernel believed it.
    assert!(out.contains("refused 90"), "{out}");
    assert!(out.contains("mtu 1462"), "{out}");
    let route = lab
        .sh("c1", &["ip", "route", "get", "198.51.100.22"])
        .unwrap();
    let route = String::from_utf8_lossy(&route.stdout);
    assert!(route.contains("mtu 1462"), "{route}");
    assert!(pmtu_counter(&lab, "a", "too_big_icmp_sent") >= 1);
    assert!(drops(&lab, "a", "too_big") >= 1);

    // Turned off: the datagram is still dropped, nobody is told.
    lab.vsctl_ok(
        "a",
        &["set", "bridge", "br-int", "other_config:icmp-too-big=false"],
    )
    .unwrap();
    let sent = pmtu_counter(&lab, "a", "too_big_icmp_sent");
    let dropped = drops(&lab, "a", "too_big");
    let out = udp_with_df(&lab, "c1", "198.51.100.2");
    assert!(out.contains("sent") && out.contains("mtu 1500"), "{out}");
    assert_eq!(pmtu_counter(&lab, "a", "too_big_icmp_sent"), sent);
    assert!(drops(&lab, "a", "too_big") >= dropped + 2);
}

#[test]
fn with_df_default_false_the_transport_fragments_instead() {
    let Some(lab) = lab("sysfrag") else { return };
    two_containers(&lab);
    for host in ["a", "b"] {
        lab.vsctl_ok(
            host,
            &["set", "interface", "gre0", "options:df_default=false"],
        )
        .unwrap();
    }
    // A whole 1500-byte IP packet with DF crosses: the outer packet is fragmented and the
    // peer's kernel reassembles it; nobody is told to send less.
    let ping = lab
        .command("c1", "ping")
        .args([
            "-M",
            "do",
            "-s",
            "1472",
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "2",
            "-q",
            "198.51.100.22",
        ])
        .output()
        .unwrap();
    assert!(
        ping.status.success(),
        "{}",
        String::from_utf8_lossy(&ping.stdout)
    );
    // The datagram reached c2, whose kernel answered port unreachable (ECONNREFUSED on the
    // next send), and the path MTU stayed 1500.
    let out = udp_with_df(&lab, "c1", "198.51.100.22");
    assert!(
        out.contains("refused 111") && out.contains("mtu 1500"),
        "{out}"
    );
    tcp_transfer(&lab, "c1", "c2", "198.51.100.22", 2 << 20);
    for host in ["a", "b"] {
        assert_eq!(drops(&lab, host, "too_big"), 0, "{host}");
        assert_eq!(pmtu_counter(&lab, host, "too_big_icmp_sent"), 0, "{host}");
    }
    assert_eq!(pmtu_counter(&lab, "a", "mss_clamped"), 0);
    // Bad input: refused with the reason, nothing changed.
    let out = lab
        .vsctl(
            "a",
            &["set", "interface", "gre0", "options:df_default=maybe"],
        )
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("df_default"));
    assert_eq!(
        lab.vsctl_ok("a", &["get", "interface", "gre0", "options:df_default"])
            .unwrap()
            .trim(),
        "\"false\""
    );
}

#[test]
fn mtu_1500_containers_exchange_tcp_over_ipv6_across_gre() {
    let Some(lab) = lab("sys6") else { return };
    two_containers(&lab);
    for (ct, addr) in [("c1", "2001:db8::21/64"), ("c2", "2001:db8::22/64")] {
        ip(&[
            "-n",
            &lab.netns(ct),
            "addr",
            "add",
            addr,
            "dev",
            "eth0",
            "nodad",
        ])
        .unwrap();
    }
    let clamped = pmtu_counter(&lab, "a", "mss_clamped");
    assert_eq!(
        lab::netns::tcp_send(&lab, "c1", "c2", "2001:db8::22", 4 << 20).unwrap(),
        4 << 20
    );
    assert!(pmtu_counter(&lab, "a", "mss_clamped") > clamped);
    assert_eq!(drops(&lab, "a", "too_big"), 0);
    assert_eq!(drops(&lab, "b", "too_big"), 0);

    // A 1500-byte IPv6 packet is answered with packet too big, and the sender's kernel learns
    // the tunnel's MTU for that destination.
    let sent = pmtu_counter(&lab, "a", "too_big_icmp_sent");
    let _ = lab
        .command("c1", "ping")
        .args([
            "-6",
            "-M",
            "do",
            "-s",
            "1452",
            "-c",
            "1",
            "-W",
            "1",
            "2001:db8::22",
        ])
        .output()
        .unwrap();
    assert!(pmtu_counter(&lab, "a", "too_big_icmp_sent") > sent);
    let route = lab
        .sh("c1", &["ip", "-6", "route", "get", "2001:db8::22"])
        .unwrap();
    let route = String::from_utf8_lossy(&route.stdout);
    assert!(route.contains("mtu 1462"), "{route}");
}

/// `ovs-vsctl get interface IFACE COLUMN`, trimmed.
fn get_interface(lab: &Lab, host: &str, iface: &str, column: &str) -> String {
    lab.vsctl_ok(host, &["get", "interface", iface, column])
        .unwrap()
        .trim()
        .to_owned()
}

/// Waits until `get interface IFACE link_state` says `want`.
fn wait_link_state(lab: &Lab, host: &str, iface: &str, want: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = get_interface(lab, host, iface, "link_state");
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{iface}'s link_state stayed {got}, not {want}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_live_interface_columns_follow_the_interfaces_as_ovs_shows_them() {
    let Some(lab) = lab("syscols") else { return };
    two_hosts(&lab);
    let veth = lab.add_container("a", "ct", "198.51.100.11/24").unwrap();
    lab.vsctl_ok("a", &["add-port", "br-int", &veth]).unwrap();
    lab.wait_ping("ct", "198.51.100.2", WAIT).unwrap();

    // The veth's own MAC, quoted as OVS prints a string with colons; up and up.
    let mac = mac_of(&lab, "a", &veth);
    assert_eq!(
        get_interface(&lab, "a", &veth, "mac_in_use"),
        format!("\"{mac}\"")
    );
    assert_eq!(get_interface(&lab, "a", &veth, "admin_state"), "up");
    assert_eq!(get_interface(&lab, "a", &veth, "link_state"), "up");
    // mgmt0 (internal) and the tunnel have them too, as in OVS.
    assert_eq!(
        get_interface(&lab, "a", "mgmt0", "mac_in_use"),
        format!("\"{}\"", mac_of(&lab, "a", "mgmt0"))
    );
    assert_eq!(get_interface(&lab, "a", "mgmt0", "link_state"), "up");
    assert_eq!(get_interface(&lab, "a", "gre0", "admin_state"), "up");
    assert_eq!(get_interface(&lab, "a", "gre0", "link_state"), "up");
    let tunnel_mac = get_interface(&lab, "a", "gre0", "mac_in_use");
    assert_eq!(tunnel_mac.len(), 19, "a quoted MAC: {tunnel_mac}");
    for port in ["gre0", "mgmt0", veth.as_str()] {
        let ofport: i64 = get_interface(&lab, "a", port, "ofport").parse().unwrap();
        assert!(ofport > 0, "{port}'s ofport {ofport}");
    }

    // The container takes its end down: the host end loses its carrier, not its admin state.
    ip(&["-n", &lab.netns("ct"), "link", "set", "eth0", "down"]).unwrap();
    wait_link_state(&lab, "a", &veth, "down");
    assert_eq!(get_interface(&lab, "a", &veth, "admin_state"), "up");
    let list = lab.vsctl_ok("a", &["list", "interface", &veth]).unwrap();
    for line in [
        "admin_state         : up".to_owned(),
        "link_state          : down".to_owned(),
        format!("mac_in_use          : \"{mac}\""),
        format!("name                : {veth}"),
    ] {
        assert!(list.lines().any(|l| l == line), "{line:?} in\n{list}");
    }
    ip(&["-n", &lab.netns("ct"), "link", "set", "eth0", "up"]).unwrap();
    wait_link_state(&lab, "a", &veth, "up");
    lab.wait_ping("ct", "198.51.100.2", WAIT).unwrap();
    // The host takes its end down: admin_state follows.
    ip(&["-n", &lab.netns("a"), "link", "set", &veth, "down"]).unwrap();
    wait_link_state(&lab, "a", &veth, "down");
    assert_eq!(get_interface(&lab, "a", &veth, "admin_state"), "down");

    // libvirt's statistics query: OVS's names for a Linux interface, in OVS's order.
    let stats = lab
        .vsctl_ok(
            "a",
            &[
                "--format=list",
                "--data=json",
                "--no-headings",
                "--columns=statistics",
                "list",
                "Interface",
                &veth,
            ],
        )
        .unwrap();
    let stats: serde_json::Value = serde_json::from_str(stats.trim()).expect("JSON");
    let keys: Vec<&str> = stats[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| kv[0].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "collisions",
            "rx_bytes",
            "rx_crc_err",
            "rx_dropped",
            "rx_errors",
            "rx_frame_err",
            "rx_missed_errors",
            "rx_over_err",
            "rx_packets",
            "tx_bytes",
            "tx_dropped",
            "tx_errors",
            "tx_packets",
        ],
        "{stats}"
    );

    // Gone: OVS's ofport -1 and empty state columns, the error saying why.
    ip(&["-n", &lab.netns("a"), "link", "del", &veth]).unwrap();
    let deadline = Instant::now() + WAIT;
    while get_interface(&lab, "a", &veth, "ofport") != "-1" {
        assert!(Instant::now() < deadline, "ofport never became -1");
        std::thread::sleep(Duration::from_millis(20));
    }
    for column in ["mac_in_use", "admin_state", "link_state"] {
        assert_eq!(get_interface(&lab, "a", &veth, column), "[]", "{column}");
    }
    assert!(get_interface(&lab, "a", &veth, "error").contains("No such device"));
}

/// With `--no-offload` the internal port's TAP takes no virtio-net header, so a container's
/// 64 KB TSO frames cannot reach it whole: grebe hands it the segments, checksums finished.
#[test]
fn without_tap_offloads_a_containers_tso_frames_reach_mgmt0_as_segments() {
    let Some(lab) = lab("sysnooff") else { return };
    lab.add_switch("wan").unwrap();
    lab.add_host("a", "wan", "192.0.2.1/24").unwrap();
    lab.start_daemon_with("a", &["--no-offload"]).unwrap();
    lab.configure_seed("a", "198.51.100.1/24", &["192.0.2.2"])
        .unwrap();
    let c1 = lab.add_container("a", "c1", "198.51.100.21/24").unwrap();
    lab.vsctl_ok("a", &["add-port", "br-int", &c1]).unwrap();
    lab.wait_ping("c1", "198.51.100.1", WAIT).unwrap();
    tcp_transfer(&lab, "c1", "a", "198.51.100.1", 8 << 20);
    assert_eq!(drops(&lab, "a", "bad_offload"), 0);
    assert_eq!(drops(&lab, "a", "tx_failed"), 0);
    // The veth gave 64 KB frames; mgmt0 took segments of at most its MTU.
    let frames = port_counter(&lab, "a", "c1-l", "rx_packets");
    let segments = port_counter(&lab, "a", "mgmt0", "tx_packets");
    assert!(segments > (8 << 20) / 1500, "{segments} segments");
    assert!(
        frames < segments / 4,
        "{frames} frames from the veth: not TSO frames"
    );
}
