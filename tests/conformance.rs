//! What grebe puts on the wire, read by an independent decoder: two grebe hosts (a 192.0.2.1 /
//! 198.51.100.1, b 192.0.2.2 / 198.51.100.2) ping through GRE while `tshark` captures the
//! transport switch, then Wireshark's dissectors decode the capture and the tests assert on the
//! decoded fields: outer IPv4 (version, header length, TTL, TOS, DF, header checksum), GRE
//! (flags, version 0, protocol 0x6558, key, checksum verified by Wireshark, sequence numbers) and
//! the inner Ethernet frame with ICMP inside.
//!
//! Only a's echo requests are captured (a capture filter that knows the GRE header length for
//! the tunnel's options), so nothing else on the wire (ARP, IPv6 neighbour discovery) can take
//! their place. Skipped only outside CI, when not root or without tshark.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use lab::mesh::{self, MeshHost};
use lab::netns::Lab;
use lab::ovs_peer::{
    Decoded, decode, gre_header_len, icmp_in_gre_filter, ipv4_in_gre_filter, start_capture,
    tcp_send, tshark_available,
};

const WAIT: Duration = Duration::from_secs(15);
/// Echo requests captured per test.
const PACKETS: usize = 4;

/// Every field the tests look at. A GRE packet has two of many (`eth.src`, `ip.ttl`, ...):
/// index 0 is the outer one, 1 the inner.
const FIELDS: &[&str] = &[
    "frame.protocols",
    "ip.version",
    "ip.hdr_len",
    "ip.dsfield",
    "ip.flags.df",
    "ip.flags.mf",
    "ip.frag_offset",
    "ip.ttl",
    "ip.proto",
    "ip.src",
    "ip.dst",
    "ip.checksum.status",
    "gre.flags_and_version",
    "gre.flags.checksum",
    "gre.flags.routing",
    "gre.flags.key",
    "gre.flags.sequence_number",
    "gre.flags.strict_source_route",
    "gre.flags.recursion_control",
    "gre.flags.reserved",
    "gre.flags.version",
    "gre.proto",
    "gre.key",
    "gre.checksum.status",
    "gre.sequence_number",
    "eth.src",
    "eth.dst",
    "eth.type",
    "icmp.type",
    "icmp.checksum.status",
];

fn tshark_lab(test: &str) -> Option<Lab> {
    lab_with(test, &[("tshark", tshark_available())])
}

/// Two grebe hosts with `options` on both tunnels; returns a's echo requests to b, captured on
/// the transport switch and decoded.
fn capture_a_to_b(lab: &Lab, options: &[&str]) -> Vec<Decoded> {
    two_hosts(lab);
    if !options.is_empty() {
        for h in ["a", "b"] {
            let mut args = vec!["set", "interface", "gre0"];
            args.extend_from_slice(options);
            lab.vsctl_ok(h, &args).unwrap();
        }
    }
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    // Once the kernel has resolved b, a writes its tunnel packets as Ethernet frames itself:
    // what is captured is grebe's whole outer header, source address and checksum included.
    assert_eq!(wait_link(lab, "a", "gre0"), "eth0");
    let has = |o: &str| options.iter().any(|x| x.starts_with(o));
    let gre_len = gre_header_len(
        has("options:key="),
        has("options:csum=true"),
        has("options:seq=true"),
    );
    let filter = icmp_in_gre_filter(Some("192.0.2.1"), &[gre_len]);
    capture_clean(lab, "capture.pcap", &filter, PACKETS, FIELDS, || {
        lab.ping("a", "198.51.100.2", PACKETS as u32 + 1).unwrap();
    })
}

/// Captures `count` packets matching `filter` on the transport switch while `traffic` runs,
/// asserts that Wireshark found nothing malformed and nothing worth a warning (a wrong checksum
/// is an error) in any of them, and decodes `fields` of each.
fn capture_clean(
    lab: &Lab,
    name: &str,
    filter: &str,
    count: usize,
    fields: &[&str],
    traffic: impl FnOnce(),
) -> Vec<Decoded> {
    let file: PathBuf = lab.dir().join(name);
    let capture = start_capture(lab, "wan", "sw0", filter, count, &file).unwrap();
    traffic();
    let file = capture.finish(WAIT).unwrap();
    let problems = decode(
        &file,
        "_ws.malformed || _ws.expert.severity >= 6291456",
        &["frame.number", "_ws.expert.message"],
    )
    .unwrap();
    assert!(problems.is_empty(), "tshark's complaints: {problems:?}");
    let packets = decode(&file, "", fields).unwrap();
    assert_eq!(packets.len(), count);
    packets
}

/// Field `name`'s occurrence `i` (0 outer, 1 inner) in `p`; "" when absent.
fn f<'a>(p: &'a Decoded, name: &str, i: usize) -> &'a str {
    p.get(name)
        .and_then(|v| v.get(i))
        .map_or("", String::as_str)
}

/// What every tunnel packet from a to b has, whatever the options: IPv4 outer header from a to b
/// with DF set, GRE version 0 without routing, carrying a's mgmt0 frame with an ICMP echo
/// request to b.
fn assert_common(lab: &Lab, p: &Decoded) {
    assert_eq!(
        f(p, "frame.protocols", 0),
        "eth:ethertype:ip:gre:eth:ethertype:ip:icmp:data",
        "{p:?}"
    );
    // Outer IPv4.
    assert_eq!(f(p, "ip.version", 0), "4");
    assert_eq!(f(p, "ip.hdr_len", 0), "20");
    assert_eq!(f(p, "ip.proto", 0), "47");
    assert_eq!(f(p, "ip.src", 0), "192.0.2.1");
    assert_eq!(f(p, "ip.dst", 0), "192.0.2.2");
    assert_eq!(f(p, "ip.flags.df", 0), "1", "DF set, as OVS's");
    assert_eq!(f(p, "ip.flags.mf", 0), "0");
    assert_eq!(f(p, "ip.frag_offset", 0), "0");
    assert_eq!(f(p, "ip.checksum.status", 0), "1", "outer IPv4 checksum");
    // GRE: RFC 2784 version 0, no routing, strict source route, recursion or reserved bits.
    assert_eq!(f(p, "gre.proto", 0), "0x6558");
    assert_eq!(f(p, "gre.flags.version", 0), "0");
    assert_eq!(f(p, "gre.flags.routing", 0), "0");
    assert_eq!(f(p, "gre.flags.strict_source_route", 0), "0");
    assert_eq!(f(p, "gre.flags.recursion_control", 0), "0");
    assert_eq!(f(p, "gre.flags.reserved", 0), "0");
    // The inner frame: a's mgmt0 to b's mgmt0, IPv4, an ICMP echo request to b.
    assert_eq!(f(p, "eth.src", 1), mac_of(lab, "a", "mgmt0"));
    assert_eq!(f(p, "eth.dst", 1), mac_of(lab, "b", "mgmt0"));
    assert_eq!(f(p, "eth.type", 1), "0x0800");
    assert_eq!(f(p, "ip.src", 1), "198.51.100.1");
    assert_eq!(f(p, "ip.dst", 1), "198.51.100.2");
    assert_eq!(f(p, "ip.checksum.status", 1), "1", "inner IPv4 checksum");
    assert_eq!(f(p, "icmp.type", 0), "8");
    assert_eq!(f(p, "icmp.checksum.status", 0), "1");
}

#[test]
fn default_tunnel_sends_plain_gre_with_ovs_defaults() {
    let Some(lab) = tshark_lab("wiredef") else {
        return;
    };
    let packets = capture_a_to_b(&lab, &[]);
    for p in &packets {
        assert_common(&lab, p);
        // No key, checksum or sequence number: the flags and version word is 0.
        assert_eq!(f(p, "gre.flags_and_version", 0), "0x0000");
        assert_eq!(f(p, "gre.flags.checksum", 0), "0");
        assert_eq!(f(p, "gre.flags.key", 0), "0");
        assert_eq!(f(p, "gre.flags.sequence_number", 0), "0");
        assert!(!p.contains_key("gre.key") && !p.contains_key("gre.sequence_number"));
        // OVS's defaults: TTL 64, TOS 0; the inner packet's own TTL is 64 too.
        assert_eq!(f(p, "ip.ttl", 0), "64");
        assert_eq!(f(p, "ip.dsfield", 0), "0x00");
    }
}

#[test]
fn key_checksum_and_sequence_numbers_decode_and_verify() {
    let Some(lab) = tshark_lab("wirecsum") else {
        return;
    };
    // A key above 2^31, given in hex: all 32 bits reach the wire unsigned.
    let packets = capture_a_to_b(
        &lab,
        &[
            "options:key=0xdeadbeef",
            "options:csum=true",
            "options:seq=true",
        ],
    );
    let mut seqs = Vec::new();
    for p in &packets {
        assert_common(&lab, p);
        assert_eq!(
            f(p, "gre.flags_and_version", 0),
            "0xb000",
            "C, K and S bits"
        );
        assert_eq!(f(p, "gre.flags.checksum", 0), "1");
        assert_eq!(f(p, "gre.flags.key", 0), "1");
        assert_eq!(f(p, "gre.flags.sequence_number", 0), "1");
        assert_eq!(f(p, "gre.key", 0), "0xdeadbeef");
        // Wireshark recomputed the checksum over GRE header and payload: good.
        assert_eq!(f(p, "gre.checksum.status", 0), "1", "GRE checksum");
        seqs.push(f(p, "gre.sequence_number", 0).parse::<u32>().unwrap());
    }
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "sequence numbers not increasing: {seqs:?}"
    );
}

#[test]
fn configured_ttl_and_tos_reach_the_outer_header_only() {
    let Some(lab) = tshark_lab("wirettl") else {
        return;
    };
    // TOS 0xb8: DSCP 46 (expedited forwarding), ECN 0.
    let packets = capture_a_to_b(&lab, &["options:ttl=17", "options:tos=184"]);
    for p in &packets {
        assert_common(&lab, p);
        assert_eq!(f(p, "gre.flags_and_version", 0), "0x0000");
        assert_eq!(f(p, "ip.ttl", 0), "17");
        assert_eq!(f(p, "ip.dsfield", 0), "0xb8");
        // The inner packet keeps its own.
        assert_eq!(f(p, "ip.ttl", 1), "64");
        assert_eq!(f(p, "ip.dsfield", 1), "0x00");
    }
}

#[test]
fn tcp_segments_grebe_cuts_are_valid_and_fit_the_transport() {
    let Some(lab) = tshark_lab("wiretcp") else {
        return;
    };
    two_hosts(&lab);
    // With a GRE checksum and sequence numbers: the checksum must cover each segment's own
    // headers and its slice of the large frame the kernel handed over.
    for h in ["a", "b"] {
        lab.vsctl_ok(
            h,
            &[
                "set",
                "interface",
                "gre0",
                "options:csum=true",
                "options:seq=true",
            ],
        )
        .unwrap();
    }
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    let mtu: usize = String::from_utf8_lossy(
        &lab.sh("a", &["cat", "/sys/class/net/mgmt0/mtu"])
            .unwrap()
            .stdout,
    )
    .trim()
    .parse()
    .unwrap();
    // a's data segments to b (not b's ACKs, not a's bare ACKs).
    let gre_len = gre_header_len(false, true, true);
    let filter = format!(
        "{} and ip[2:2] > 1000",
        ipv4_in_gre_filter(Some("192.0.2.1"), &[gre_len], 6)
    );
    let file = lab.dir().join("tcp.pcap");
    const SEGMENTS: usize = 40;
    let capture = start_capture(&lab, "wan", "sw0", &filter, SEGMENTS, &file).unwrap();
    assert_eq!(
        tcp_send(&lab, "a", "b", "198.51.100.2", 4 << 20).unwrap(),
        4 << 20
    );
    let file = capture.finish(WAIT).unwrap();
    // The premise: the kernel handed grebe large frames (TCP segmentation offload on mgmt0) and
    // grebe cut them, many tunnel packets per frame read.
    let frames_read = port_counter(&lab, "a", "mgmt0", "rx_packets");
    let packets_sent = port_counter(&lab, "a", "gre0", "tx_packets");
    assert!(
        packets_sent >= 2 * frames_read,
        "{frames_read} frames from mgmt0 became {packets_sent} tunnel packets: no segmentation"
    );
    let packets = decode(
        &file,
        "",
        &[
            "frame.protocols",
            "ip.len",
            "ip.checksum.status",
            "ip.flags.df",
            "gre.checksum.status",
            "gre.sequence_number",
            "tcp.checksum.status",
            "tcp.len",
        ],
    )
    .unwrap();
    assert_eq!(packets.len(), SEGMENTS);
    let mut seqs = Vec::new();
    let mut largest = 0;
    for p in &packets {
        assert_eq!(
            f(p, "frame.protocols", 0),
            "eth:ethertype:ip:gre:eth:ethertype:ip:tcp:data",
            "{p:?}"
        );
        let outer_len: usize = f(p, "ip.len", 0).parse().unwrap();
        let inner_len: usize = f(p, "ip.len", 1).parse().unwrap();
        assert!(
            outer_len <= 1500,
            "outer packet of {outer_len} bytes: {p:?}"
        );
        assert!(
            inner_len <= mtu,
            "segment of {inner_len} bytes over MTU {mtu}"
        );
        assert_eq!(outer_len, inner_len + 14 + gre_len + 20);
        largest = largest.max(inner_len);
        assert_eq!(f(p, "ip.checksum.status", 0), "1", "outer IPv4 checksum");
        assert_eq!(f(p, "ip.checksum.status", 1), "1", "inner IPv4 checksum");
        assert_eq!(f(p, "ip.flags.df", 0), "1");
        assert_eq!(f(p, "gre.checksum.status", 0), "1", "GRE checksum");
        assert_eq!(f(p, "tcp.checksum.status", 0), "1", "TCP checksum");
        assert!(f(p, "tcp.len", 0).parse::<usize>().unwrap() > 0);
        seqs.push(f(p, "gre.sequence_number", 0).parse::<u32>().unwrap());
    }
    assert_eq!(
        largest, mtu,
        "no full-sized segment: segments are cut at the MSS"
    );
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "GRE sequence numbers not increasing: {seqs:?}"
    );
}

/// BPDUs grebe sends through a tunnel, captured on the transport: Wireshark decodes them as
/// 802.1D configuration BPDUs (RST BPDUs with RSTP) behind an 802.2 LLC header, with the root,
/// cost and timers the bridge was given, and finds nothing malformed.
fn bpdus_on_the_wire(test: &str, protocol: stp::Protocol) -> Vec<Decoded> {
    let Some(lab) = tshark_lab(test) else {
        return Vec::new();
    };
    let hosts = [
        MeshHost::numbered("a", 0, 4096, false),
        MeshHost::numbered("b", 1, 8192, false),
    ];
    mesh::build(&lab, &hosts, protocol).unwrap();
    // GRE from a whose inner frame goes to 01:80:c2:00:00:00 (IPv4 20 + GRE 4 bytes in).
    let filter =
        "ip proto 47 and src host 192.0.2.1 and ip[24:4] = 0x0180c200 and ip[28:2] = 0x0000";
    // The root sends a BPDU every hello: no traffic to make.
    let packets = capture_clean(&lab, "bpdus.pcap", filter, 3, BPDU_FIELDS, || {});
    let root_mac = mac_of(&lab, "a", "br-int");
    for p in &packets {
        assert_eq!(
            f(p, "frame.protocols", 0),
            "eth:ethertype:ip:gre:eth:llc:stp",
            "{p:?}"
        );
        assert_eq!(f(p, "eth.dst", 1), "01:80:c2:00:00:00");
        assert_eq!(f(p, "llc.dsap", 0), "0x42");
        assert_eq!(f(p, "llc.ssap", 0), "0x42");
        assert_eq!(f(p, "stp.protocol", 0), "0x0000");
        assert_eq!(f(p, "stp.root.prio", 0), "4096");
        assert_eq!(
            f(p, "stp.root.hw", 0),
            root_mac,
            "the root is a, by its br-int MAC"
        );
        assert_eq!(f(p, "stp.bridge.hw", 0), root_mac);
        assert_eq!(f(p, "stp.root.cost", 0), "0");
        assert_eq!(f(p, "stp.msg_age", 0), "0");
        assert_eq!(f(p, "stp.max_age", 0), "6");
        assert_eq!(f(p, "stp.forward", 0), "4");
    }
    packets
}

const BPDU_FIELDS: &[&str] = &[
    "frame.protocols",
    "eth.dst",
    "llc.dsap",
    "llc.ssap",
    "stp.protocol",
    "stp.version",
    "stp.type",
    "stp.flags.port_role",
    "stp.root.prio",
    "stp.root.hw",
    "stp.root.cost",
    "stp.bridge.hw",
    "stp.msg_age",
    "stp.max_age",
    "stp.hello",
    "stp.forward",
    "stp.version_1_length",
];

#[test]
fn stp_bpdus_decode_as_802_1d_in_wireshark() {
    for p in bpdus_on_the_wire("bpdustp", stp::Protocol::Stp) {
        assert_eq!(f(&p, "stp.version", 0), "0", "{p:?}");
        assert_eq!(f(&p, "stp.type", 0), "0x00");
        assert_eq!(f(&p, "stp.hello", 0), "1");
    }
}

#[test]
fn rstp_bpdus_decode_as_802_1w_in_wireshark() {
    for p in bpdus_on_the_wire("bpdurstp", stp::Protocol::Rstp) {
        assert_eq!(f(&p, "stp.version", 0), "2", "{p:?}");
        assert_eq!(f(&p, "stp.type", 0), "0x02");
        assert_eq!(f(&p, "stp.flags.port_role", 0), "3", "designated");
        assert_eq!(f(&p, "stp.version_1_length", 0), "0");
        assert_eq!(f(&p, "stp.hello", 0), "2");
    }
}
