//! The real mixed case: one host grebe (`g`, 192.0.2.2), one host real Open vSwitch (`o`,
//! 192.0.2.1, userspace datapath, `lab::ovs_peer`), one GRE tunnel between them. On each host a
//! container in VLAN 100 and another in VLAN 200, on access ports (`tag=`), all four in one
//! subnet, 203.0.113.0/24, so that only the switches keep the VLANs apart: g100 .1, g200 .2,
//! o100 .3, o200 .4. Same-VLAN pairs talk across the tunnel, cross-VLAN pairs do not, both
//! switches learn per VLAN, and tshark on the transport sees the 802.1Q tag inside GRE, decoded
//! the same from both ends. Skipped only outside CI when not root or without OVS or tshark;
//! under CI (`CI` set) those are failures.

mod common;

use std::time::Duration;

use common::*;
use lab::netns::Lab;
use lab::ovs_peer::{
    configure_ovs_seed, decode, ovs_appctl, ovs_available, ovs_vsctl_ok, start_capture, start_ovs,
    tshark_available,
};

const WAIT: Duration = Duration::from_secs(15);

const G100: (&str, &str) = ("g100", "203.0.113.1");
const G200: (&str, &str) = ("g200", "203.0.113.2");
const O100: (&str, &str) = ("o100", "203.0.113.3");
const O200: (&str, &str) = ("o200", "203.0.113.4");

fn mixed_lab(test: &str, tshark: bool) -> Option<Lab> {
    let mut needs = vec![("openvswitch-switch", ovs_available())];
    if tshark {
        needs.push(("tshark", tshark_available()));
    }
    lab_with(test, &needs)
}

/// Both hosts with the seed's configuration and a tunnel to each other, and the four
/// containers on access ports: on grebe by grebe's ovs-vsctl, on OVS by OVS's own.
fn grebe_and_ovs_with_two_vlans(lab: &Lab) {
    lab.add_switch("wan").unwrap();
    lab.add_host("o", "wan", "192.0.2.1/24").unwrap();
    lab.add_host("g", "wan", "192.0.2.2/24").unwrap();
    start_ovs(lab, "o").unwrap();
    configure_ovs_seed(
        lab,
        "o",
        "192.0.2.1/24",
        "198.51.100.1/24",
        &["192.0.2.2"],
        &[],
    )
    .unwrap();
    lab.start_daemon("g").unwrap();
    lab.configure_seed("g", "198.51.100.2/24", &["192.0.2.1"])
        .unwrap();
    for ((name, ip), host, tag) in [
        (G100, "g", "tag=100"),
        (G200, "g", "tag=200"),
        (O100, "o", "tag=100"),
        (O200, "o", "tag=200"),
    ] {
        let veth = lab.add_container(host, name, &format!("{ip}/24")).unwrap();
        let args = ["--may-exist", "add-port", "br-int", &veth, tag];
        if host == "o" {
            ovs_vsctl_ok(lab, host, &args).unwrap();
        } else {
            lab.vsctl_ok(host, &args).unwrap();
        }
    }
}

/// Whether a ping from `ns` to `dst` gets no answer at all.
fn unanswered(lab: &Lab, ns: &str, dst: &str) -> bool {
    lab.sh(
        ns,
        &["ping", "-c", "3", "-i", "0.2", "-W", "1", "-q", "-n", dst],
    )
    .is_err()
}

/// The VLAN column of the `fdb/show` line (grebe's or OVS's: the same layout) for `mac`.
fn vlans_of(fdb: &str, mac: &str) -> Vec<(String, u16)> {
    fdb.lines()
        .filter(|l| l.contains(mac))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_owned(), f[1].parse().unwrap())
        })
        .collect()
}

#[test]
fn same_vlan_pairs_cross_gre_between_grebe_and_ovs_and_cross_vlan_pairs_do_not() {
    let Some(lab) = mixed_lab("mixvl", false) else {
        return;
    };
    grebe_and_ovs_with_two_vlans(&lab);
    lab.wait_ping(G100.0, O100.1, WAIT).unwrap();
    lab.wait_ping(G200.0, O200.1, WAIT).unwrap();
    for (a, b) in [(G100, O100), (O100, G100), (G200, O200), (O200, G200)] {
        lab.ping(a.0, b.1, 3)
            .unwrap_or_else(|e| panic!("{} -> {}: {e:#}", a.0, b.0));
    }
    // Across the tunnel and on each host's own bridge: no ARP answer ever comes.
    for (a, b) in [(G100, O200), (O200, G100), (O100, G200), (G200, O100)] {
        assert!(unanswered(&lab, a.0, b.1), "{} reached {}", a.0, b.0);
    }
    assert!(unanswered(&lab, G100.0, G200.1), "grebe joined its VLANs");
    assert!(unanswered(&lab, O100.0, O200.1), "OVS joined its VLANs");
    // The untagged overlay between the hosts is untouched.
    lab.ping("g", "198.51.100.1", 2).unwrap();

    // Both switches learned each remote container on the tunnel, in its VLAN only. OVS's
    // fdb/show names ports by OpenFlow port number, grebe's by name.
    let grebe_fdb = lab.appctl("g", &["fdb/show", "br-int"]).unwrap();
    let ovs_fdb = ovs_appctl(&lab, "o", &["fdb/show", "br-int"]).unwrap();
    let ovs_gre0 = ovs_vsctl_ok(&lab, "o", &["get", "interface", "gre0", "ofport"]).unwrap();
    for (fdb, host, tunnel, remote) in [
        (&grebe_fdb, "g", "gre0", [(O100, 100), (O200, 200)]),
        (&ovs_fdb, "o", ovs_gre0.trim(), [(G100, 100), (G200, 200)]),
    ] {
        for ((name, _), vlan) in remote {
            let mac = mac_of(&lab, name, "eth0");
            let seen = vlans_of(fdb, &mac);
            assert_eq!(seen.len(), 1, "{host} learned {name} once: {fdb}");
            assert_eq!(
                seen[0].1, vlan,
                "{host} learned {name} in VLAN {vlan}: {fdb}"
            );
            assert_eq!(
                seen[0].0, tunnel,
                "{host} learned {name} on its tunnel: {fdb}"
            );
        }
    }
}

/// What tshark decodes of an ICMP echo request in 802.1Q in GRE, beyond the addresses (which
/// name the sender, so differ by end): every layer's layout, outer IPv4 to ICMP.
const DECODED: &[&str] = &[
    "frame.len",
    "frame.protocols",
    "ip.version",
    "ip.hdr_len",
    "ip.dsfield",
    "ip.len",
    "ip.flags",
    "ip.ttl",
    "ip.proto",
    "gre.flags_and_version",
    "gre.proto",
    "eth.type",
    "vlan.priority",
    "vlan.dei",
    "vlan.id",
    "vlan.etype",
    "icmp.type",
    "icmp.code",
];

#[test]
fn tshark_decodes_the_8021q_tag_inside_gre_the_same_from_grebe_and_from_ovs() {
    let Some(lab) = mixed_lab("mixtag", true) else {
        return;
    };
    grebe_and_ovs_with_two_vlans(&lab);
    for (a, b) in [(G100, O100), (O100, G100), (G200, O200), (O200, G200)] {
        lab.wait_ping(a.0, b.1, WAIT).unwrap();
    }
    // Echo requests in 802.1Q in GRE (no GRE options, 4 bytes): after 20 bytes of IPv4, 4 of
    // GRE and 12 of addresses the TPID; 4 bytes on, IPv4, its protocol 9 bytes in, and after
    // its 20 bytes the ICMP type.
    let filter = "ip proto 47 and ip[36:2] = 0x8100 and ip[40:2] = 0x0800 \
                  and ip[51] = 1 and ip[62] = 8";
    let file = lab.dir().join("mixed-vlans.pcap");
    let capture = start_capture(&lab, "wan", "sw0", filter, 4, &file).unwrap();
    for (a, b) in [(G100, O100), (O100, G100), (G200, O200), (O200, G200)] {
        lab.ping(a.0, b.1, 1).unwrap();
    }
    let file = capture.finish(WAIT).unwrap();

    for (vlan, grebe_to_ovs, ovs_to_grebe) in [(100, G100, O100), (200, G200, O200)] {
        let one = |src: &str, from: (&str, &str)| {
            let packets = decode(
                &file,
                &format!("ip.src == {src} and ip.src == {}", from.1),
                DECODED,
            )
            .unwrap();
            assert_eq!(packets.len(), 1, "one echo request from {}", from.0);
            packets.into_iter().next().unwrap()
        };
        let from_grebe = one("192.0.2.2", grebe_to_ovs);
        let from_ovs = one("192.0.2.1", ovs_to_grebe);
        for p in [&from_grebe, &from_ovs] {
            assert_eq!(
                p["frame.protocols"],
                ["eth:ethertype:ip:gre:eth:ethertype:vlan:ethertype:ip:icmp:data"],
                "{p:?}"
            );
            assert_eq!(p["vlan.id"], [vlan.to_string()], "{p:?}");
            assert_eq!(p["gre.proto"], ["0x6558"], "{p:?}");
            for f in DECODED {
                assert!(p.contains_key(*f), "tshark decoded no {f}: {p:?}");
            }
        }
        eprintln!("VLAN {vlan}, both ends: {from_grebe:?}");
        assert_eq!(
            from_grebe, from_ovs,
            "VLAN {vlan}: grebe -> OVS and OVS -> grebe decode differently"
        );
    }
}
