//! GRE over an IPv6 transport (`type=ip6gre`): grebe daemons in network namespaces whose
//! transport is 2001:db8::/64 (addresses `nodad`, usable at once), overlay 198.51.100.0/24.

mod common;

use std::time::Duration;

use common::*;
use lab::netns::Lab;
use lab::ovs_peer::{
    configure_ovs_seed, decode, ovs_available, ovs_vsctl_ok, start_capture, start_ovs,
    tshark_available,
};

const WAIT: Duration = Duration::from_secs(15);

/// A host on the transport switch with an IPv4 and an IPv6 transport address (index `n`), a
/// running daemon, and br-int with mgmt0 at 198.51.100.`n` and no tunnels yet.
fn host(lab: &Lab, name: &str, n: u8) {
    lab.add_host(name, "wan", &format!("192.0.2.{n}/24"))
        .unwrap();
    lab.sh(
        name,
        &[
            "ip",
            "-6",
            "addr",
            "add",
            &format!("2001:db8::{n}/64"),
            "dev",
            "eth0",
            "nodad",
        ],
    )
    .unwrap();
    lab.start_daemon(name).unwrap();
    lab.configure_seed(name, &format!("198.51.100.{n}/24"), &[])
        .unwrap();
}

fn add_tunnel(lab: &Lab, host: &str, port: &str, kind: &str, remote: &str, extra: &[&str]) {
    let kind = format!("type={kind}");
    let remote = format!("options:remote_ip={remote}");
    let mut args = vec![
        "add-port",
        "br-int",
        port,
        "--",
        "set",
        "interface",
        port,
        &kind,
        &remote,
    ];
    args.extend_from_slice(extra);
    lab.vsctl_ok(host, &args).unwrap();
}

fn mtu(lab: &Lab, host: &str) -> String {
    let out = lab.sh(host, &["cat", "/sys/class/net/mgmt0/mtu"]).unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// a (2001:db8::1) and b (2001:db8::2), one ip6gre tunnel each way with `extra` options.
fn two_ip6gre_hosts(lab: &Lab, extra: &[&str]) {
    lab.add_switch("wan").unwrap();
    host(lab, "a", 1);
    host(lab, "b", 2);
    add_tunnel(lab, "a", "gre0", "ip6gre", "2001:db8::2", extra);
    add_tunnel(lab, "b", "gre0", "ip6gre", "2001:db8::1", extra);
}

#[test]
fn ip6gre_hosts_ping_and_carry_tcp_with_room_for_the_ipv6_header() {
    let Some(lab) = lab("ip6ping") else { return };
    two_ip6gre_hosts(&lab, &["options:packet_type=legacy_l2"]);
    // 1500 - (40 IPv6 + 4 GRE + 14 Ethernet).
    assert_eq!(mtu(&lab, "a"), "1442");
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    assert_eq!(lab.ping("a", "198.51.100.2", 3).unwrap().len(), 4);
    lab.ping("b", "198.51.100.1", 3).unwrap();
    assert!(port_counter(&lab, "a", "gre0", "rx_packets") >= 3);
    assert!(port_counter(&lab, "b", "gre0", "tx_packets") >= 3);
    tcp_transfer(&lab, "a", "b", "198.51.100.2", 8 << 20);
    assert_eq!(
        drops(&lab, "a", "too_big"),
        0,
        "the MTU left room for ip6gre"
    );
    // ofproto/trace follows a broadcast into the ip6gre tunnel, as the datapath sends it.
    let flow = "in_port=mgmt0,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff";
    let trace = lab.appctl("a", &["ofproto/trace", "br-int", flow]).unwrap();
    assert!(
        trace.contains("gre0: sent in GRE over IPv6 to 2001:db8::2 by the raw IPv6 socket"),
        "{trace}"
    );
    assert!(
        trace
            .lines()
            .filter(|l| l.contains("gre0:"))
            .all(|l| !l.contains("dropped")),
        "{trace}"
    );
}

#[test]
fn ip6gre_with_a_key_only_accepts_the_key() {
    let Some(lab) = lab("ip6key") else { return };
    two_ip6gre_hosts(&lab, &["options:key=77", "options:csum=true"]);
    assert_eq!(mtu(&lab, "a"), "1434", "1500 - (40 + 12 + 14)");
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    // A key b does not expect: a's packets are dropped as a key mismatch on b.
    lab.vsctl_ok("a", &["set", "interface", "gre0", "options:key=78"])
        .unwrap();
    let before = drops(&lab, "b", "key_mismatch");
    assert!(lab.ping("a", "198.51.100.2", 2).is_err());
    assert!(drops(&lab, "b", "key_mismatch") > before);
}

#[test]
fn a_bridge_with_gre_and_ip6gre_tunnels_joins_all_three_hosts() {
    let Some(lab) = lab("ip6mix") else { return };
    lab.add_switch("wan").unwrap();
    host(&lab, "a", 1);
    host(&lab, "b", 2);
    host(&lab, "c", 3);
    // a is the hub: IPv4 GRE to b, GRE over IPv6 to c.
    add_tunnel(&lab, "a", "gre0", "gre", "192.0.2.2", &[]);
    add_tunnel(&lab, "a", "gre1", "ip6gre", "2001:db8::3", &[]);
    add_tunnel(&lab, "b", "gre0", "gre", "192.0.2.1", &[]);
    add_tunnel(&lab, "c", "gre0", "ip6gre", "2001:db8::1", &[]);
    // The larger overhead wins: IPv6's.
    assert_eq!(mtu(&lab, "a"), "1442");
    assert_eq!(mtu(&lab, "b"), "1462");
    for (from, to) in [("a", 2), ("a", 3), ("b", 3), ("c", 2), ("b", 1), ("c", 1)] {
        lab.wait_ping(from, &format!("198.51.100.{to}"), WAIT)
            .unwrap();
    }
    lab.ping("b", "198.51.100.3", 3).unwrap();
    assert!(port_counter(&lab, "a", "gre0", "tx_packets") >= 3);
    assert!(port_counter(&lab, "a", "gre1", "tx_packets") >= 3);
}

#[test]
fn tshark_decodes_ipv6_gre_and_the_inner_frame() {
    let Some(lab) = lab_with("ip6wire", &[("tshark", tshark_available())]) else {
        return;
    };
    two_ip6gre_hosts(
        &lab,
        &["options:key=5", "options:ttl=9", "options:tos=0x20"],
    );
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    let file = lab.dir().join("ip6gre.pcap");
    let capture = start_capture(&lab, "wan", "sw0", "ip6 and ip6[6] == 47", 4, &file).unwrap();
    lab.ping("a", "198.51.100.2", 3).unwrap();
    let file = capture.finish(WAIT).unwrap();
    let problems = decode(
        &file,
        "_ws.malformed || _ws.expert.severity >= 6291456",
        &["frame.number", "_ws.expert.message"],
    )
    .unwrap();
    assert!(problems.is_empty(), "tshark's complaints: {problems:?}");
    let fields = [
        "ipv6.nxt",
        "ipv6.hlim",
        "ipv6.tclass",
        "ipv6.flow",
        "ipv6.src",
        "ipv6.dst",
        "gre.proto",
        "gre.key",
        "eth.type",
        "ip.src",
        "ip.dst",
    ];
    let packets = decode(&file, "icmp.type == 8", &fields).unwrap();
    assert!(!packets.is_empty(), "no echo request captured");
    let f = |p: &lab::ovs_peer::Decoded, name: &str| {
        p.get(name)
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_default()
    };
    for p in &packets {
        assert_eq!(f(p, "ipv6.nxt"), "47");
        assert_eq!(f(p, "ipv6.src"), "2001:db8::1");
        assert_eq!(f(p, "ipv6.dst"), "2001:db8::2");
        assert_eq!(f(p, "ipv6.hlim"), "9", "options:ttl is the hop limit");
        assert_eq!(
            f(p, "ipv6.tclass"),
            "0x00000020",
            "options:tos is the traffic class"
        );
        assert_eq!(f(p, "ipv6.flow"), "0x000000", "flow label 0, as OVS");
        assert_eq!(f(p, "gre.proto"), "0x6558");
        assert_eq!(f(p, "gre.key"), "0x00000005");
        assert_eq!(
            p.get("eth.type").map(Vec::as_slice),
            Some(&["0x86dd".to_string(), "0x0800".to_string()][..]),
            "outer Ethernet carries IPv6; the inner frame is Ethernet with IPv4"
        );
        assert_eq!(f(p, "ip.src"), "198.51.100.1");
        assert_eq!(f(p, "ip.dst"), "198.51.100.2");
    }
}

#[test]
fn an_ipv4_remote_on_ip6gre_is_refused_and_nothing_changes() {
    let Some(lab) = lab("ip6bad") else { return };
    lab.add_switch("wan").unwrap();
    host(&lab, "a", 1);
    let before = lab.vsctl_ok("a", &["show"]).unwrap();
    let out = lab
        .vsctl(
            "a",
            &[
                "add-port",
                "br-int",
                "gre0",
                "--",
                "set",
                "interface",
                "gre0",
                "type=ip6gre",
                "options:remote_ip=192.0.2.2",
            ],
        )
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad ip6gre 'remote_ip'"), "{err}");
    assert_eq!(lab.vsctl_ok("a", &["show"]).unwrap(), before);
}

#[test]
fn grebe_and_ovs_userspace_ping_and_carry_tcp_over_ip6gre() {
    let Some(lab) = lab_with("ip6ovs", &[("openvswitch-switch", ovs_available())]) else {
        return;
    };
    lab.add_switch("wan").unwrap();
    lab.add_host("o", "wan", "192.0.2.1/24").unwrap();
    start_ovs(&lab, "o").unwrap();
    // br-phy takes eth0 and the transport addresses, as OVS's userspace tunnels need.
    configure_ovs_seed(&lab, "o", "192.0.2.1/24", "198.51.100.1/24", &[], &[]).unwrap();
    lab.sh(
        "o",
        &[
            "ip",
            "-6",
            "addr",
            "add",
            "2001:db8::1/64",
            "dev",
            "br-phy",
            "nodad",
        ],
    )
    .unwrap();
    ovs_vsctl_ok(
        &lab,
        "o",
        &[
            "set",
            "interface",
            "mgmt0",
            "mtu_request=1442",
            "--",
            "add-port",
            "br-int",
            "gre0",
            "--",
            "set",
            "interface",
            "gre0",
            "type=ip6gre",
            "options:remote_ip=2001:db8::2",
            "options:packet_type=legacy_l2",
        ],
    )
    .unwrap();
    host(&lab, "g", 2);
    add_tunnel(
        &lab,
        "g",
        "gre0",
        "ip6gre",
        "2001:db8::1",
        &["options:packet_type=legacy_l2"],
    );
    lab.wait_ping("g", "198.51.100.1", WAIT).unwrap();
    // Counted from here: before g had its tunnel, OVS's neighbour discovery could arrive from a
    // remote g did not know yet.
    let unknown = drops(&lab, "g", "unknown_remote");
    lab.ping("o", "198.51.100.2", 3).unwrap();
    tcp_transfer(&lab, "g", "o", "198.51.100.1", 4 << 20);
    tcp_transfer(&lab, "o", "g", "198.51.100.2", 4 << 20);
    assert!(port_counter(&lab, "g", "gre0", "rx_packets") >= 3);
    assert_eq!(drops(&lab, "g", "too_big"), 0);
    assert_eq!(drops(&lab, "g", "unknown_remote"), unknown);
}
