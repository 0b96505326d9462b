//! Whole-system tests of port VLANs (802.1Q, OVS's semantics): two grebe hosts with the seed
//! configuration, internal ports in VLANs 100 and 200, each moved into a namespace of its own as
//! a workload (a TAP keeps working across the move), all in one subnet, 203.0.113.0/24, so that
//! only the switch keeps VLANs apart. Same-VLAN pairs talk across GRE, cross-VLAN pairs do not;
//! learning is per VLAN; trunk and native ports; the tag rides inside GRE on the transport.
//! VLANs are set as OVS's users set them: the Port columns `tag`, `trunks`, `vlan_mode`.

mod common;

use std::time::Duration;

use common::*;
use lab::netns::Lab;
use lab::ovs_peer::{decode, start_capture, tshark_available};

const WAIT: Duration = Duration::from_secs(10);

/// An internal port on `host`'s br-int with these VLAN settings (`tag=100`, `trunks=100,200`,
/// `vlan_mode=native-untagged`).
fn vlan_port(lab: &Lab, host: &str, port: &str, vlan: &[&str]) {
    let mut args = vec![
        "add-port".to_string(),
        "br-int".into(),
        port.into(),
        "--".into(),
        "set".into(),
        "interface".into(),
        port.into(),
        "type=internal".into(),
    ];
    if !vlan.is_empty() {
        args.extend(["--".into(), "set".into(), "port".into(), port.into()]);
        args.extend(vlan.iter().map(|kv| kv.to_string()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    lab.vsctl_ok(host, &args).unwrap();
}

/// Moves `host`'s interface `port` into a namespace of its own named `ns` (a workload), gives it
/// `mac` and `address` (CIDR, if any) and brings it up.
fn workload(lab: &Lab, host: &str, port: &str, ns: &str, mac: &str, address: Option<&str>) {
    // A bare namespace the lab removes with the rest (its bridge is unused).
    lab.add_switch(ns).unwrap();
    lab.sh(host, &["ip", "link", "set", port, "netns", &lab.netns(ns)])
        .unwrap();
    lab.sh(ns, &["ip", "link", "set", port, "address", mac])
        .unwrap();
    if let Some(a) = address {
        lab.sh(ns, &["ip", "addr", "add", a, "dev", port]).unwrap();
    }
    lab.sh(ns, &["ip", "link", "set", port, "up"]).unwrap();
}

/// Sends an ARP request for `target` from `ns`'s `dev` (as `mac`/`ip`), tagged with `vid` if
/// given, a few times; returns the reply's tag VID (`None` untagged) and sender MAC if one
/// came. This kernel has no 802.1Q module, so a packet socket stands in for a VLAN
/// subinterface; the kernel hands stripped tags over in `PACKET_AUXDATA`.
const ARP_PROBE: &str = r#"import socket, struct, sys, time
dev, vid, mac, ip, target = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3].replace(":", "")), socket.inet_aton(sys.argv[4]), socket.inet_aton(sys.argv[5])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.setsockopt(263, 8, 1)
s.bind((dev, 0))
tag = struct.pack("!HH", 0x8100, vid) if vid >= 0 else b""
arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip + bytes(6) + target
frame = b"\xff" * 6 + mac + tag + b"\x08\x06" + arp
frame += bytes(max(0, 60 - len(frame)))
s.settimeout(0.2)
for _ in range(10):
    s.send(frame)
    end = time.time() + 0.3
    while time.time() < end:
        try:
            data, anc, _, _ = s.recvmsg(2048, socket.CMSG_SPACE(20))
        except socket.timeout:
            break
        got = None
        for level, kind, val in anc:
            if level == 263 and kind == 8 and len(val) >= 20:
                status, tci = struct.unpack_from("=I", val, 0)[0], struct.unpack_from("=H", val, 16)[0]
                if status & 0x10:
                    got = tci & 0xfff
        if data[12:14] == b"\x81\x00":
            got = struct.unpack("!H", data[14:16])[0] & 0xfff
            data = data[:12] + data[16:]
        if data[12:14] == b"\x08\x06" and data[20:22] == b"\x00\x02" and data[28:32] == target and data[38:42] == ip:
            print("reply", "none" if got is None else got, data[22:28].hex(":"))
            sys.exit(0)
print("none")
"#;

fn arp_probe(
    lab: &Lab,
    ns: &str,
    dev: &str,
    vid: Option<u16>,
    (mac, ip): (&str, &str),
    target: &str,
) -> Option<(Option<u16>, String)> {
    let vid = vid.map_or("-1".to_string(), |v| v.to_string());
    let out = lab
        .sh(
            ns,
            &["python3", "-c", ARP_PROBE, dev, &vid, mac, ip, target],
        )
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let f: Vec<&str> = text.split_whitespace().collect();
    match f[..] {
        ["reply", tag, mac] => Some((tag.parse().ok(), mac.to_string())),
        _ => None,
    }
}

/// Whether a ping from `ns` (out of `dev`, if given) to `dst` gets no answer at all.
fn unreachable(lab: &Lab, ns: &str, dev: Option<&str>, dst: &str) -> bool {
    let mut args = vec!["ping", "-c", "3", "-i", "0.2", "-W", "1", "-q", "-n"];
    if let Some(d) = dev {
        args.extend(["-I", d]);
    }
    args.push(dst);
    lab.sh(ns, &args).is_err()
}

/// `fdb/show` lines as (port, VLAN, MAC).
fn fdb(lab: &Lab, host: &str) -> Vec<(String, u16, String)> {
    let text = lab.appctl(host, &["fdb/show", "br-int"]).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), f[1].parse().unwrap(), f[2].to_string())
        })
        .collect()
}

const A100: &str = "02:00:00:00:a1:00";
const B100: &str = "02:00:00:00:b1:00";
const A200: &str = "02:00:00:00:a2:00";

/// Two hosts, each with an access port in VLAN 100 and one in VLAN 200 as workloads: a100 .1,
/// a200 .2, b100 .3, b200 .4, all in 203.0.113.0/24. b200 has b100's MAC: the same address in
/// two VLANs.
fn two_tenants(lab: &Lab) {
    two_hosts(lab);
    for h in ["a", "b"] {
        vlan_port(lab, h, "p100", &["tag=100"]);
        vlan_port(lab, h, "p200", &["tag=200"]);
    }
    // The tag a tunnel pushes comes off the internal ports' MTU.
    let mtu = lab.sh("a", &["cat", "/sys/class/net/mgmt0/mtu"]).unwrap();
    assert_eq!(String::from_utf8_lossy(&mtu.stdout).trim(), "1458");
    workload(lab, "a", "p100", "a100", A100, Some("203.0.113.1/24"));
    workload(lab, "a", "p200", "a200", A200, Some("203.0.113.2/24"));
    workload(lab, "b", "p100", "b100", B100, Some("203.0.113.3/24"));
    workload(lab, "b", "p200", "b200", B100, Some("203.0.113.4/24"));
}

#[test]
fn access_ports_talk_across_gre_only_inside_their_vlan() {
    let Some(lab) = lab("vlacc") else { return };
    two_tenants(&lab);
    lab.wait_ping("a100", "203.0.113.3", WAIT).unwrap();
    lab.wait_ping("a200", "203.0.113.4", WAIT).unwrap();
    lab.ping("b100", "203.0.113.1", 3).unwrap();
    let dropped_before = drops(&lab, "a", "vlan_not_allowed");
    // Cross-VLAN, across the tunnel and on one host: no ARP answer ever comes.
    assert!(unreachable(&lab, "a100", None, "203.0.113.4"));
    assert!(unreachable(&lab, "a100", None, "203.0.113.2"));
    assert!(unreachable(&lab, "b200", None, "203.0.113.1"));
    // Floods stayed in their VLAN: nothing was refused, it was never sent where it may not go.
    assert_eq!(drops(&lab, "a", "vlan_not_allowed"), dropped_before);
    // The untagged overlay (VLAN 0) is untouched.
    lab.ping("a", "198.51.100.2", 2).unwrap();

    // Per-VLAN learning: b100's and b200's one MAC is two entries on a's tunnel.
    let entries = fdb(&lab, "a");
    let has = |port: &str, vlan: u16, mac: &str| {
        entries
            .iter()
            .any(|(p, v, m)| p == port && *v == vlan && m == mac)
    };
    assert!(has("gre0", 100, B100), "{entries:?}");
    assert!(has("gre0", 200, B100), "{entries:?}");
    assert!(has("p100", 100, A100), "{entries:?}");
    assert!(has("p200", 200, A200), "{entries:?}");
    assert!(
        !entries.iter().any(|(_, v, m)| m == A100 && *v != 100),
        "a100 learned only in VLAN 100: {entries:?}"
    );
    let json = lab
        .appctl("a", &["fdb/show", "br-int", "--format", "json"])
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let vlans_of_b = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["mac"] == B100)
        .map(|e| e["vlan"].as_u64().unwrap())
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(vlans_of_b, [100, 200].into());
}

#[test]
fn the_8021q_tag_rides_inside_gre_on_the_transport() {
    let Some(lab) = lab_with("vltag", &[("tshark", tshark_available())]) else {
        return;
    };
    two_tenants(&lab);
    lab.wait_ping("a100", "203.0.113.3", WAIT).unwrap();
    // GRE from a carrying ICMP in 802.1Q: after 20 bytes of IPv4, 4 of GRE and 12 of
    // addresses, the TPID; 4 bytes on, IPv4, whose protocol is 9 bytes further.
    let filter = "src host 192.0.2.1 and ip proto 47 and ip[36:2] = 0x8100 \
                  and ip[40:2] = 0x0800 and ip[51] = 1";
    let file = lab.dir().join("vlan-tag.pcap");
    let capture = start_capture(&lab, "wan", "sw0", filter, 3, &file).unwrap();
    lab.ping("a100", "203.0.113.3", 3).unwrap();
    let file = capture.finish(WAIT).unwrap();
    let packets = decode(&file, "", &["frame.protocols", "vlan.id", "icmp.type"]).unwrap();
    assert_eq!(packets.len(), 3);
    for p in &packets {
        assert_eq!(
            p["frame.protocols"][0],
            "eth:ethertype:ip:gre:eth:ethertype:vlan:ethertype:ip:icmp:data"
        );
        assert_eq!(p["vlan.id"], ["100"], "{p:?}");
    }
}

#[test]
fn mgmt0_as_an_access_port_joins_its_vlan_on_both_ends() {
    let Some(lab) = lab("vlmgmt") else { return };
    two_hosts(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    lab.vsctl_ok("a", &["set", "port", "mgmt0", "tag=100"])
        .unwrap();
    // a's mgmt0 is in VLAN 100, b's still untagged: they no longer meet.
    lab.sh("a", &["ip", "neigh", "flush", "dev", "mgmt0"])
        .unwrap();
    assert!(unreachable(&lab, "a", None, "198.51.100.2"));
    lab.vsctl_ok("b", &["set", "port", "mgmt0", "tag=100"])
        .unwrap();
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    lab.ping("b", "198.51.100.1", 3).unwrap();
    let b_mac = mac_of(&lab, "b", "mgmt0");
    assert!(
        fdb(&lab, "a")
            .iter()
            .any(|(p, v, m)| p == "gre0" && *v == 100 && *m == b_mac)
    );
    // A VLAN out of range is refused, and the port keeps working as it was.
    let out = lab
        .vsctl("a", &["set", "port", "mgmt0", "tag=5000"])
        .unwrap();
    assert!(!out.status.success());
    let tag = lab.vsctl_ok("a", &["get", "port", "mgmt0", "tag"]).unwrap();
    assert_eq!(tag.trim(), "100");
    // Cleared, mgmt0 is a trunk again: untagged, it no longer meets b's VLAN 100.
    lab.vsctl_ok("a", &["clear", "port", "mgmt0", "tag"])
        .unwrap();
    lab.sh("a", &["ip", "neigh", "flush", "dev", "mgmt0"])
        .unwrap();
    assert!(unreachable(&lab, "a", None, "198.51.100.2"));
    lab.vsctl_ok("a", &["set", "port", "mgmt0", "tag=100"])
        .unwrap();
    lab.ping("a", "198.51.100.2", 2).unwrap();
}

#[test]
fn trunk_and_native_ports_carry_their_vlans() {
    let Some(lab) = lab("vltrunk") else { return };
    two_tenants(&lab);
    // On a: a trunk for 100 and 200, and a native-untagged port (native 100, trunks 200).
    vlan_port(&lab, "a", "tr", &["trunks=[100,200]"]);
    vlan_port(
        &lab,
        "a",
        "nat",
        &["tag=100", "trunks=[200]", "vlan_mode=native-untagged"],
    );
    const TR: (&str, &str) = ("02:00:00:00:0e:01", "203.0.113.10");
    const NAT: (&str, &str) = ("02:00:00:00:0e:02", "203.0.113.11");
    workload(&lab, "a", "tr", "atr", TR.0, None);
    workload(&lab, "a", "nat", "anat", NAT.0, Some("203.0.113.11/24"));
    lab.wait_ping("a100", "203.0.113.3", WAIT).unwrap();
    let b100 = Some((Some(100), B100.to_string()));
    let b200 = Some((Some(200), B100.to_string()));
    // The trunk: a request tagged 100 is answered by b100, tagged 100; 200 by b200.
    assert_eq!(
        arp_probe(&lab, "atr", "tr", Some(100), TR, "203.0.113.3"),
        b100
    );
    assert_eq!(
        arp_probe(&lab, "atr", "tr", Some(200), TR, "203.0.113.4"),
        b200
    );
    // Each VLAN's station only: b200 is not in VLAN 100.
    assert_eq!(
        arp_probe(&lab, "atr", "tr", Some(100), TR, "203.0.113.4"),
        None
    );
    // VLAN 300 is not on the trunk: refused at ingress, and counted.
    let before = drops(&lab, "a", "vlan_not_allowed");
    assert_eq!(
        arp_probe(&lab, "atr", "tr", Some(300), TR, "203.0.113.3"),
        None
    );
    assert!(drops(&lab, "a", "vlan_not_allowed") > before);
    // The native VLAN is the untagged one and leaves untagged; the trunks ride tagged.
    lab.ping("anat", "203.0.113.3", 2).unwrap();
    assert!(unreachable(&lab, "anat", None, "203.0.113.4"));
    assert_eq!(
        arp_probe(&lab, "anat", "nat", None, NAT, "203.0.113.3"),
        Some((None, B100.to_string()))
    );
    assert_eq!(
        arp_probe(&lab, "anat", "nat", Some(200), NAT, "203.0.113.4"),
        b200
    );
    // A priority tag (VID 0) joins the native VLAN; the answer comes back untagged.
    assert_eq!(
        arp_probe(&lab, "anat", "nat", Some(0xa000), NAT, "203.0.113.3"),
        Some((None, B100.to_string()))
    );
    // The trace says what happens to a tagged frame from the tunnel.
    let trace = lab
        .appctl(
            "a",
            &[
                "ofproto/trace",
                "br-int",
                "in_port=gre0,dl_src=02:00:00:00:00:99,dl_dst=ff:ff:ff:ff:ff:ff,dl_vlan=200",
            ],
        )
        .unwrap();
    assert!(trace.contains("switched in VLAN 200"), "{trace}");
    assert!(trace.contains("tag of VLAN 200 popped"), "{trace}");
    assert!(trace.contains("leaves tagged VLAN 200"), "{trace}");
    assert!(trace.contains("does not carry VLAN 200"), "{trace}");
}

#[test]
fn tcp_inside_a_vlan_crosses_gre_segmented_and_coalesced() {
    let Some(lab) = lab_with("vltcp", &[("tshark", tshark_available())]) else {
        return;
    };
    two_tenants(&lab);
    lab.wait_ping("a100", "203.0.113.3", WAIT).unwrap();
    // The TAPs hand over 64 KB frames: each gets its tag pushed, then is cut into segments
    // that fit the tunnel; b pops the tag off the segments and joins them again for b100,
    // which then sees frames far larger than its MTU.
    let file = lab.dir().join("vlan-gro.pcap");
    let capture = start_capture(&lab, "b100", "p100", "tcp and greater 3000", 1, &file).unwrap();
    let elapsed = tcp_transfer(&lab, "a100", "b100", "203.0.113.3", 20 << 20);
    eprintln!("20 MiB in VLAN 100 in {elapsed:?}");
    capture.finish(WAIT).unwrap();
    for h in ["a", "b"] {
        assert_eq!(drops(&lab, h, "too_big"), 0, "{h}: the tag fit the MTU");
        assert_eq!(drops(&lab, h, "bad_offload"), 0, "{h}");
    }
    assert!(
        port_counter(&lab, "b", "gre0", "rx_packets") > 14_000,
        "~15k segments"
    );
}
