//! Whole-system tests: grebe daemons in network namespaces, configured with ovs-vsctl's
//! commands, carrying real pings and TCP through GRE. Transport 192.0.2.0/24, overlay
//! 198.51.100.0/24; every namespace is removed when the test ends, pass or fail.

mod common;

use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn two_hosts_ping_both_ways() {
    let Some(lab) = lab("ping2") else { return };
    two_hosts(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    assert_eq!(lab.ping("a", "198.51.100.2", 3).unwrap().len(), 4);
    lab.ping("b", "198.51.100.1", 3).unwrap();
    // Both ends learned the other's mgmt0 MAC on their tunnel.
    let b_mac = mac_of(&lab, "b", "mgmt0");
    let fdb = lab.appctl("a", &["fdb/show", "br-int"]).unwrap();
    let line = fdb
        .lines()
        .find(|l| l.contains(&b_mac))
        .unwrap_or_else(|| panic!("b's MAC {b_mac} not learned on a:\n{fdb}"));
    assert!(line.trim_start().starts_with("gre0"), "{line}");
    assert!(port_counter(&lab, "a", "gre0", "rx_packets") >= 3);
    assert!(port_counter(&lab, "a", "gre0", "tx_packets") >= 3);
}

#[test]
fn internal_port_mtu_leaves_room_for_gre_and_tcp_flows() {
    let Some(lab) = lab("tcp") else { return };
    two_hosts(&lab);
    let mtu = lab.sh("a", &["cat", "/sys/class/net/mgmt0/mtu"]).unwrap();
    assert_eq!(String::from_utf8_lossy(&mtu.stdout).trim(), "1462");
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    let elapsed = tcp_transfer(&lab, "a", "b", "198.51.100.2", 20 << 20);
    eprintln!(
        "20 MiB through grebe in {elapsed:?} ({:.0} Mbit/s, debug build)",
        (20u64 << 23) as f64 / elapsed.as_secs_f64() / 1e6
    );
    assert_eq!(drops(&lab, "a", "too_big"), 0, "the MTU left room for GRE");
}

#[test]
fn hub_and_spoke_spokes_reach_each_other_through_the_hub() {
    let Some(lab) = lab("hub") else { return };
    lab.add_switch("wan").unwrap();
    for (h, ip) in [
        ("hub", "192.0.2.1"),
        ("s1", "192.0.2.2"),
        ("s2", "192.0.2.3"),
    ] {
        lab.add_host(h, "wan", &format!("{ip}/24")).unwrap();
        lab.start_daemon(h).unwrap();
    }
    lab.configure_seed("hub", "198.51.100.1/24", &["192.0.2.2", "192.0.2.3"])
        .unwrap();
    lab.configure_seed("s1", "198.51.100.2/24", &["192.0.2.1"])
        .unwrap();
    lab.configure_seed("s2", "198.51.100.3/24", &["192.0.2.1"])
        .unwrap();
    lab.wait_ping("s1", "198.51.100.3", WAIT).unwrap();
    lab.ping("s2", "198.51.100.2", 3).unwrap();
    lab.ping("hub", "198.51.100.2", 2).unwrap();
    lab.ping("hub", "198.51.100.3", 2).unwrap();
    // The spokes' traffic crossed the hub from tunnel to tunnel.
    assert!(port_counter(&lab, "hub", "gre0", "tx_packets") >= 3);
    assert!(port_counter(&lab, "hub", "gre1", "tx_packets") >= 3);
}

#[test]
fn full_mesh_with_split_horizon_does_not_loop() {
    let Some(lab) = lab("mesh") else { return };
    lab.add_switch("wan").unwrap();
    let hosts = [("a", "192.0.2.1"), ("b", "192.0.2.2"), ("c", "192.0.2.3")];
    for (i, (h, ip)) in hosts.iter().enumerate() {
        lab.add_host(h, "wan", &format!("{ip}/24")).unwrap();
        lab.start_daemon(h).unwrap();
        let remotes: Vec<&str> = hosts
            .iter()
            .filter(|(o, _)| o != h)
            .map(|(_, r)| *r)
            .collect();
        lab.vsctl_ok(h, &["add-br", "br-int"]).unwrap();
        lab.vsctl_ok(
            h,
            &[
                "set",
                "bridge",
                "br-int",
                "other_config:tunnel-split-horizon=true",
            ],
        )
        .unwrap();
        lab.configure_seed(h, &format!("198.51.100.{}/24", i + 1), &remotes)
            .unwrap();
    }
    for (i, (h, _)) in hosts.iter().enumerate() {
        for j in 0..3 {
            if i != j {
                lab.wait_ping(h, &format!("198.51.100.{}", j + 1), WAIT)
                    .unwrap();
            }
        }
    }
    // Quiet now: with a loop, broadcasts would keep circulating and the counters keep growing.
    std::thread::sleep(Duration::from_secs(1));
    let rx = |h| {
        port_counter(&lab, h, "gre0", "rx_packets") + port_counter(&lab, h, "gre1", "rx_packets")
    };
    let before: Vec<u64> = ["a", "b", "c"].iter().map(|h| rx(*h)).collect();
    std::thread::sleep(Duration::from_secs(2));
    let after: Vec<u64> = ["a", "b", "c"].iter().map(|h| rx(*h)).collect();
    for (b, a) in before.iter().zip(&after) {
        assert!(
            a - b < 10,
            "tunnel traffic keeps flowing while idle: {before:?} -> {after:?}"
        );
    }
}

#[test]
fn keys_must_match_and_a_mismatch_is_counted() {
    let Some(lab) = lab("key") else { return };
    two_hosts(&lab);
    lab.vsctl_ok("a", &["set", "interface", "gre0", "options:key=5"])
        .unwrap();
    lab.vsctl_ok("b", &["set", "interface", "gre0", "options:key=5"])
        .unwrap();
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    lab.ping("b", "198.51.100.1", 2).unwrap();
    let mtu = lab.sh("a", &["cat", "/sys/class/net/mgmt0/mtu"]).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&mtu.stdout).trim(),
        "1458",
        "a key costs 4 bytes"
    );

    lab.vsctl_ok("b", &["set", "interface", "gre0", "options:key=6"])
        .unwrap();
    let before = drops(&lab, "b", "key_mismatch");
    assert!(
        lab.ping("a", "198.51.100.2", 2).is_err(),
        "a key mismatch must carry nothing"
    );
    assert!(drops(&lab, "b", "key_mismatch") > before);
}

#[test]
fn checksum_and_sequence_numbers_interoperate() {
    let Some(lab) = lab("csum") else { return };
    two_hosts(&lab);
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
    lab.ping("b", "198.51.100.1", 3).unwrap();
    // TCP too: segments cut from the kernel's 64 KB frames get their own GRE checksums.
    tcp_transfer(&lab, "a", "b", "198.51.100.2", 4 << 20);
    tcp_transfer(&lab, "b", "a", "198.51.100.1", 4 << 20);
    assert_eq!(drops(&lab, "a", "gre_bad_checksum"), 0);
    assert_eq!(drops(&lab, "b", "gre_bad_checksum"), 0);
}

#[test]
fn del_port_stops_traffic() {
    let Some(lab) = lab("delport") else { return };
    two_hosts(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    lab.vsctl_ok("a", &["del-port", "br-int", "gre0"]).unwrap();
    assert!(lab.ping("a", "198.51.100.2", 2).is_err());
    let ports = lab.vsctl_ok("a", &["list-ports", "br-int"]).unwrap();
    assert_eq!(ports, "mgmt0\n");
}

#[test]
fn daemon_restart_restores_config_and_traffic() {
    let Some(lab) = lab("restart") else { return };
    two_hosts(&lab);
    lab.vsctl_ok("a", &["set", "interface", "gre0", "options:key=9"])
        .unwrap();
    lab.vsctl_ok("b", &["set", "interface", "gre0", "options:key=9"])
        .unwrap();
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    let show_before = lab.vsctl_ok("a", &["show"]).unwrap();
    lab.stop_daemon("a", false).unwrap();
    // mgmt0 survives the daemon, address included, as OVS's internal ports do.
    let addr = lab
        .sh("a", &["ip", "-4", "addr", "show", "dev", "mgmt0"])
        .unwrap();
    assert!(String::from_utf8_lossy(&addr.stdout).contains("198.51.100.1/24"));
    assert!(
        lab.ping("a", "198.51.100.2", 1).is_err(),
        "no daemon, no forwarding"
    );
    lab.start_daemon("a").unwrap();
    assert_eq!(lab.vsctl_ok("a", &["show"]).unwrap(), show_before);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    lab.ping("b", "198.51.100.1", 2).unwrap();
}

/// Sends raw GRE payloads (the kernel adds the outer IPv4 header) from `host` to `dst`.
fn send_gre(lab: &lab::netns::Lab, host: &str, dst: &str, payloads: &[Vec<u8>]) {
    send_gre_tos(lab, host, dst, 0, payloads);
}

/// As `send_gre`, with the outer TOS byte set to `tos`.
fn send_gre_tos(lab: &lab::netns::Lab, host: &str, dst: &str, tos: u8, payloads: &[Vec<u8>]) {
    let hex: Vec<String> = payloads
        .iter()
        .map(|p| p.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    let script = format!(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)\ns.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, {tos})\nfor h in {hex:?}:\n    s.sendto(bytes.fromhex(h), ('{dst}', 0))\n"
    );
    lab.sh(host, &["python3", "-c", &script]).unwrap();
}

/// A GRE header (flags/version word, protocol) and an Ethernet frame from `src_mac`.
fn gre_packet(flags: u16, protocol: u16, src_mac: [u8; 6], frame_len: usize) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&flags.to_be_bytes());
    p.extend_from_slice(&protocol.to_be_bytes());
    let mut frame = vec![0u8; frame_len];
    if frame_len >= 14 {
        frame[..6].copy_from_slice(&[0xff; 6]);
        frame[6..12].copy_from_slice(&src_mac);
        frame[12..14].copy_from_slice(&[0x08, 0x06]);
    }
    p.extend_from_slice(&frame);
    p
}

#[test]
fn malformed_gre_is_dropped_counted_and_traffic_still_flows() {
    let Some(lab) = lab("malformed") else { return };
    two_hosts(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    let mac = [0x02, 0xba, 0xd0, 0, 0, 1];
    let mut bad_csum = gre_packet(0x8000, 0x6558, mac, 60);
    bad_csum.splice(4..4, [0xde, 0xad, 0, 0]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("gre_bad_version", gre_packet(0x0001, 0x6558, mac, 60)),
        ("gre_reserved_flags", gre_packet(0x4000, 0x6558, mac, 60)),
        ("gre_reserved_flags", gre_packet(0x0800, 0x6558, mac, 60)),
        ("truncated", vec![0x00, 0x00]),
        ("truncated", vec![0x20, 0x00, 0x65, 0x58, 0x00]),
        ("gre_bad_checksum", bad_csum),
        ("not_ethernet", gre_packet(0x0000, 0x0800, mac, 60)),
        ("frame_truncated", gre_packet(0x0000, 0x6558, mac, 5)),
        ("key_mismatch", {
            let mut p = gre_packet(0x2000, 0x6558, mac, 60);
            p.splice(4..4, [0, 0, 0, 7]);
            p
        }),
    ];
    for (reason, packet) in &cases {
        let before = drops(&lab, "a", reason);
        send_gre(&lab, "b", "192.0.2.1", std::slice::from_ref(packet));
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while drops(&lab, "a", reason) == before {
            assert!(std::time::Instant::now() < deadline, "{reason} not counted");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // A flood of random junk too; the daemon must stay up and forwarding.
    let junk: Vec<Vec<u8>> = (0..200u32)
        .map(|i| (0..(i % 97)).map(|j| (i * 31 + j * 7) as u8).collect())
        .collect();
    send_gre(&lab, "b", "192.0.2.1", &junk);
    lab.ping("a", "198.51.100.2", 3).unwrap();
    let fdb = lab.appctl("a", &["fdb/show", "br-int"]).unwrap();
    assert!(
        !fdb.contains("02:ba:d0:00:00:01"),
        "learned from a refused packet:\n{fdb}"
    );
}

#[test]
fn gre_from_an_unknown_address_is_dropped_and_not_learned() {
    let Some(lab) = lab("unknown") else { return };
    two_hosts(&lab);
    lab.add_host("x", "wan", "192.0.2.9/24").unwrap();
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    let before = drops(&lab, "a", "unknown_remote");
    let mac = [0x02, 0x0e, 0x71, 0, 0, 9];
    send_gre(&lab, "x", "192.0.2.1", &[gre_packet(0, 0x6558, mac, 60)]);
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while drops(&lab, "a", "unknown_remote") == before {
        assert!(
            std::time::Instant::now() < deadline,
            "unknown_remote not counted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let fdb = lab.appctl("a", &["fdb/show", "br-int"]).unwrap();
    assert!(!fdb.contains("02:0e:71:00:00:09"), "{fdb}");
}

#[test]
fn refused_commands_name_the_problem_and_change_nothing() {
    let Some(lab) = lab("refuse") else { return };
    two_hosts(&lab);
    let before = lab.vsctl_ok("a", &["show"]).unwrap();
    let bad = lab
        .vsctl("a", &["set", "interface", "gre0", "options:key=abc"])
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(msg.contains("gre0") && msg.contains("key"), "{msg}");
    // A chain is all or nothing: the valid first half is not applied either.
    let chain = lab
        .vsctl(
            "a",
            &["add-port", "br-int", "gre9", "--", "add-br", "br-int"],
        )
        .unwrap();
    assert_eq!(chain.status.code(), Some(1));
    assert_eq!(lab.vsctl_ok("a", &["show"]).unwrap(), before);
    let absent = lab.vsctl("a", &["br-exists", "br-nope"]).unwrap();
    assert_eq!(absent.status.code(), Some(2));
    lab.ping("a", "198.51.100.2", 1).unwrap();
}

#[test]
fn a_second_daemon_on_the_same_rundir_is_refused() {
    let Some(lab) = lab("rundir") else { return };
    lab.add_switch("wan").unwrap();
    lab.add_host("a", "wan", "192.0.2.1/24").unwrap();
    lab.start_daemon("a").unwrap();
    let rundir = lab.rundir("a");
    let out = lab
        .command("a", GREBE)
        .arg("daemon")
        .arg("--rundir")
        .arg(&rundir)
        .arg("--db")
        .arg(rundir.join("other.json"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("another grebe daemon") && msg.contains("--rundir"),
        "{msg}"
    );
    // The first one is unharmed.
    lab.vsctl_ok("a", &["list-br"]).unwrap();
}

#[test]
fn large_frames_cross_whole_and_arrive_intact() {
    let Some(lab) = lab("large") else { return };
    two_hosts(&lab);
    for h in ["a", "b"] {
        lab.vsctl_ok(
            h,
            &["set", "interface", "gre0", "options:large_frames=true"],
        )
        .unwrap();
    }
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    let before = port_counter(&lab, "b", "gre0", "rx_packets");
    tcp_transfer(&lab, "a", "b", "198.51.100.2", 20 << 20);
    tcp_transfer(&lab, "b", "a", "198.51.100.1", 4 << 20);
    // 20 MiB in MSS-sized segments would be ~15 000 GRE packets; whole frames are far fewer.
    let packets = port_counter(&lab, "b", "gre0", "rx_packets") - before;
    assert!(
        packets < 5000,
        "{packets} GRE packets for 20 MiB: frames were not sent whole"
    );
    assert_eq!(drops(&lab, "b", "too_big"), 0);
    // Only with the option on both ends: refused combinations are named.
    let bad = lab
        .vsctl("a", &["set", "interface", "gre0", "options:ttl=9"])
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("large_frames"));
}

/// A GRE packet (no flags, 0x6558) carrying a UDP/IPv4 datagram with TOS `tos` from b's overlay
/// address to a's, in an Ethernet frame to `dst_mac`.
fn gre_udp(dst_mac: [u8; 6], tos: u8) -> Vec<u8> {
    let mut p = vec![0x00, 0x00, 0x65, 0x58];
    let mut f = vec![0u8; 14 + 20 + 8 + 4];
    f[..6].copy_from_slice(&dst_mac);
    f[6..12].copy_from_slice(&[0x02, 0xec, 0x4e, 0, 0, 2]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[1] = tos;
    ip[2..4].copy_from_slice(&32u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[198, 51, 100, 2]);
    ip[16..20].copy_from_slice(&[198, 51, 100, 1]);
    let mut sum: u32 = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    f[24..26].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f[34..36].copy_from_slice(&40000u16.to_be_bytes());
    f[36..38].copy_from_slice(&9999u16.to_be_bytes());
    f[38..40].copy_from_slice(&12u16.to_be_bytes());
    f[42..46].copy_from_slice(b"ecn!");
    p.extend_from_slice(&f);
    p
}

#[test]
fn congestion_marks_cross_decapsulation_as_rfc_6040_says() {
    let Some(lab) = lab("ecn") else { return };
    if !lab::ovs_peer::tshark_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "tshark is missing under CI"
        );
        eprintln!("SKIPPED congestion marks: tshark is not installed");
        return;
    }
    two_hosts(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    let mac: Vec<u8> = mac_of(&lab, "a", "mgmt0")
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
    let mac: [u8; 6] = mac.try_into().unwrap();

    // Outer CE over an ECT(0) datagram: it reaches mgmt0 marked CE, its checksum still good.
    let file = lab.dir().join("ce.pcap");
    let capture =
        lab::ovs_peer::start_capture(&lab, "a", "mgmt0", "udp port 9999", 1, &file).unwrap();
    send_gre_tos(&lab, "b", "192.0.2.1", 0x03, &[gre_udp(mac, 0x02)]);
    let file = capture.finish(WAIT).unwrap();
    let rows = lab::ovs_peer::decode(&file, "", &["ip.dsfield.ecn", "ip.checksum.status"]).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["ip.dsfield.ecn"], ["3"], "{rows:?}");
    // Wireshark's checksum status: 1 is good (0 bad, 2 unverified).
    assert_eq!(
        rows[0]["ip.checksum.status"],
        ["1"],
        "checksum good: {rows:?}"
    );

    // Outer CE over a datagram that is not ECN-capable: dropped and counted.
    let before = drops(&lab, "a", "ecn_not_ect");
    send_gre_tos(&lab, "b", "192.0.2.1", 0x03, &[gre_udp(mac, 0x00)]);
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while drops(&lab, "a", "ecn_not_ect") == before {
        assert!(
            std::time::Instant::now() < deadline,
            "ecn_not_ect not counted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A tunnel moved to another remote sends there at once: the Ethernet link (remote's MAC) of
/// the old remote is dropped with the change, and the new one is resolved by the kernel.
#[test]
fn moving_a_tunnel_to_another_remote_follows_at_once() {
    let Some(lab) = lab("move") else { return };
    two_hosts(&lab);
    lab.add_host("c", "wan", "192.0.2.3/24").unwrap();
    lab.start_daemon("c").unwrap();
    lab.configure_seed("c", "198.51.100.3/24", &["192.0.2.1"])
        .unwrap();
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    assert_eq!(wait_link(&lab, "a", "gre0"), "eth0");
    // a knows c's overlay MAC already, so its first echo request leaves at once, not after an
    // ARP exchange whose retries would hide a lost packet.
    let c_mac = mac_of(&lab, "c", "mgmt0");
    lab.sh(
        "a",
        &[
            "ip",
            "neigh",
            "replace",
            "198.51.100.3",
            "lladdr",
            &c_mac,
            "dev",
            "mgmt0",
            "nud",
            "permanent",
        ],
    )
    .unwrap();
    lab.vsctl_ok(
        "a",
        &["set", "interface", "gre0", "options:remote_ip=192.0.2.3"],
    )
    .unwrap();
    // The very first ping: one request, no retry, so none may go to b's MAC.
    lab.ping("a", "198.51.100.3", 1).unwrap();
    lab.ping("a", "198.51.100.3", 3).unwrap();
    assert!(
        lab.ping("a", "198.51.100.2", 1).is_err(),
        "b is no longer at the tunnel's end"
    );
    assert_eq!(wait_link(&lab, "a", "gre0"), "eth0");
    lab.ping("a", "198.51.100.3", 3).unwrap();
}
