//! Spanning tree on a full mesh of GRE tunnels, as the classic bare-metal setup runs it: three
//! hosts, each with a tunnel to both others, STP or RSTP on every bridge. The tree must block
//! exactly one tunnel, every pair must ping, a broadcast must not circle, and cutting a tunnel
//! must reopen the blocked one. One mesh mixes grebe with real OVS, which must agree with grebe
//! on the root and on the blocked port.
//!
//! Transport 192.0.2.0/24, overlay 198.51.100.0/24, timers hello 1 s, max age 6 s, forward
//! delay 4 s (OVS's smallest). Convergence times are printed (run with --nocapture to see them).

mod common;

use std::time::{Duration, Instant};

use common::*;
use lab::mesh::{self, MeshHost, TreeView};
use lab::netns::Lab;
use lab::ovs_peer::ovs_available;

const CONVERGE: Duration = Duration::from_secs(60);

/// a is the root (priority 4096), b next (8192), c last: the tunnel between b and c closes, at
/// c's end (c's path to the root through b is no better than its own tunnel, and b's ID wins the
/// b–c segment).
fn three_hosts(ovs_c: bool) -> Vec<MeshHost> {
    vec![
        MeshHost::numbered("a", 0, 4096, false),
        MeshHost::numbered("b", 1, 8192, false),
        MeshHost::numbered("c", 2, 32768, ovs_c),
    ]
}

fn lab_with_ovs(test: &str) -> Option<Lab> {
    lab_with(test, &[("openvswitch-switch", ovs_available())])
}

/// Every tunnel port that is not forwarding, as (host, port).
fn blocked(hosts: &[MeshHost], views: &[TreeView]) -> Vec<(String, String)> {
    hosts
        .iter()
        .zip(views)
        .flat_map(|(h, v)| {
            v.blocked()
                .into_iter()
                .map(|p| (h.name.clone(), p.to_owned()))
        })
        .collect()
}

/// Builds the mesh, waits for the tree, checks its shape and that every pair pings. Returns the
/// tree's views.
fn converge(lab: &Lab, hosts: &[MeshHost], protocol: stp::Protocol) -> Vec<TreeView> {
    let started = Instant::now();
    mesh::build(lab, hosts, protocol).unwrap();
    let built = started.elapsed();
    let (took, views) = mesh::wait_converged(lab, hosts, protocol, CONVERGE).unwrap();
    eprintln!("{protocol:?}: mesh built in {built:?}, tree converged {took:?} later");
    let root = &views[0].root;
    assert!(
        root.starts_with("4096."),
        "a (priority 4096) must be the root: {root}"
    );
    assert!(
        views[0].is_root,
        "a does not see itself as the root:\n{}",
        views[0].text
    );
    let c_to_b = mesh::tunnel_name(hosts, "c", "b");
    assert_eq!(
        blocked(hosts, &views),
        [("c".to_owned(), c_to_b)],
        "exactly one tunnel end must block, c's towards b"
    );
    let pinged = mesh::wait_all_pairs(lab, hosts, Duration::from_secs(20)).unwrap();
    eprintln!("{protocol:?}: every pair pings ({pinged:?} for all six)");
    views
}

/// Data frames (not BPDUs) that entered all tunnels of all grebe hosts so far.
fn tunnel_data_frames(lab: &Lab, hosts: &[MeshHost]) -> u64 {
    let mut total = 0;
    for h in hosts.iter().filter(|h| !h.ovs) {
        let v = dpif(lab, &h.name);
        for p in v["bridges"][0]["ports"].as_array().unwrap() {
            if p["type"] == "gre" {
                total += p["rx_packets"].as_u64().unwrap() - p["bpdu_rx"].as_u64().unwrap();
            }
        }
    }
    total
}

/// A broadcast must reach every host once, not circle the mesh: over 10 s, the tunnels carry a
/// handful of data frames, where a loop would carry them as fast as the CPU allows.
fn broadcasts_stay_bounded(lab: &Lab, hosts: &[MeshHost]) {
    let before = tunnel_data_frames(lab, hosts);
    let blocked_before = drops(lab, "c", "stp_blocked");
    // Five broadcasts from a (ICMP echo to the overlay's broadcast address: dst ff:ff:ff:ff:ff:ff).
    let _ = lab
        .command("a", "ping")
        .args([
            "-b",
            "-c",
            "5",
            "-i",
            "0.2",
            "-W",
            "1",
            "-q",
            "198.51.100.255",
        ])
        .output();
    std::thread::sleep(Duration::from_secs(10));
    let carried = tunnel_data_frames(lab, hosts) - before;
    eprintln!("5 broadcasts: {carried} data frames through all tunnels in 10 s");
    assert!(
        carried < 100,
        "{carried} data frames in 10 s: a broadcast storm"
    );
    // b floods the broadcasts down its designated port too; c's blocked end drops them.
    assert!(
        drops(lab, "c", "stp_blocked") > blocked_before,
        "c's blocked tunnel end dropped nothing"
    );
}

/// A blocked port learns nothing: c's fdb has no entry on its blocked tunnel.
fn blocked_port_learned_nothing(lab: &Lab, hosts: &[MeshHost]) {
    let c_to_b = mesh::tunnel_name(hosts, "c", "b");
    let fdb = lab.appctl("c", &["fdb/show", "br-int"]).unwrap();
    assert!(
        !fdb.lines()
            .skip(1)
            .any(|l| l.split_whitespace().next() == Some(c_to_b.as_str())),
        "c learned on its blocked port {c_to_b}:\n{fdb}"
    );
}

/// `ofproto/trace` on c explains the tree: a frame into the blocked end is dropped as
/// `stp_blocked`, and a broadcast from mgmt0 is not flooded into it.
fn trace_explains_the_blocked_port(lab: &Lab, hosts: &[MeshHost], protocol: stp::Protocol) {
    let state = match protocol {
        stp::Protocol::Stp => "blocking",
        stp::Protocol::Rstp => "discarding",
    };
    let c_to_b = mesh::tunnel_name(hosts, "c", "b");
    let flow = format!("in_port={c_to_b},dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02");
    let into_blocked = lab
        .appctl("c", &["ofproto/trace", "br-int", &flow])
        .unwrap();
    assert!(
        into_blocked.contains("dropped (stp_blocked)"),
        "{into_blocked}"
    );
    let flow = "in_port=mgmt0,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff";
    let flood = lab.appctl("c", &["ofproto/trace", "br-int", flow]).unwrap();
    assert!(
        flood.contains(&format!(
            "not to {c_to_b}: spanning tree: the port is {state}"
        )),
        "{flood}"
    );
}

/// Cuts the a–b transport path (blackhole routes both ways: the tunnels stay configured, their
/// packets go nowhere), then waits for the tree to reopen c's tunnel to b and for every pair to
/// ping again. Returns the time from the cut until then.
fn cut_a_b(lab: &Lab, hosts: &[MeshHost], protocol: stp::Protocol) -> Duration {
    let cut = Instant::now();
    lab.sh("a", &["ip", "route", "add", "blackhole", "192.0.2.2/32"])
        .unwrap();
    lab.sh("b", &["ip", "route", "add", "blackhole", "192.0.2.1/32"])
        .unwrap();
    // Converged again means: c's tunnel to b forwards, and the a–b tunnel no longer does.
    let c_to_b = mesh::tunnel_name(hosts, "c", "b");
    loop {
        let c = mesh::tree_view(lab, &hosts[2], protocol).unwrap();
        let open = c
            .ports
            .iter()
            .any(|p| p.name == c_to_b && p.state == "forwarding");
        if open {
            break;
        }
        assert!(
            cut.elapsed() < CONVERGE,
            "c's tunnel to b never opened:\n{}",
            c.text
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let reopened = cut.elapsed();
    // b now reaches a only through c; every pair must ping again.
    mesh::wait_all_pairs(lab, hosts, Duration::from_secs(30)).unwrap();
    let pinged = cut.elapsed();
    eprintln!(
        "{protocol:?}: a–b cut; c's tunnel to b forwarding after {reopened:?}, every pair pings after {pinged:?}"
    );
    pinged
}

/// Three grebe hosts: the tree, what it does to frames, BPDU counters, and a cut.
fn grebe_mesh(test: &str, protocol: stp::Protocol) {
    let Some(lab) = lab(test) else {
        return;
    };
    let hosts = three_hosts(false);
    converge(&lab, &hosts, protocol);
    trace_explains_the_blocked_port(&lab, &hosts, protocol);
    broadcasts_stay_bounded(&lab, &hosts);
    blocked_port_learned_nothing(&lab, &hosts);
    // BPDUs flowed and were counted on the tunnels.
    let a_to_b = mesh::tunnel_name(&hosts, "a", "b");
    assert!(port_counter(&lab, "a", &a_to_b, "bpdu_tx") > 2);
    assert!(port_counter(&lab, "b", &mesh::tunnel_name(&hosts, "b", "a"), "bpdu_rx") > 2);
    cut_a_b(&lab, &hosts, protocol);
}

#[test]
fn stp_full_mesh_of_three_grebe_hosts() {
    grebe_mesh("stpmesh", stp::Protocol::Stp);
}

#[test]
fn rstp_full_mesh_of_three_grebe_hosts() {
    grebe_mesh("rstpmesh", stp::Protocol::Rstp);
}

/// Two grebe hosts and one OVS host, the same protocol on all three: OVS's `stp/show` (or
/// `rstp/show`) and grebe's agree on the root and on the one blocked port, which is OVS's (so OVS
/// blocks on grebe's BPDUs). Deleting the a–b tunnel makes OVS open it.
fn mesh_with_ovs(test: &str, protocol: stp::Protocol) {
    let Some(lab) = lab_with_ovs(test) else {
        return;
    };
    let hosts = three_hosts(true);
    let views = converge(&lab, &hosts, protocol);
    let o = &views[2];
    assert!(!o.is_root);
    let o_to_a = mesh::tunnel_name(&hosts, "c", "a");
    assert!(
        o.ports
            .iter()
            .any(|p| p.name == o_to_a && p.role == "root" && p.state == "forwarding"),
        "OVS's root port is not its tunnel to a:\n{}",
        o.text
    );
    for (h, to) in [("a", "b"), ("b", "a")] {
        lab.vsctl_ok(
            h,
            &["del-port", "br-int", &mesh::tunnel_name(&hosts, h, to)],
        )
        .unwrap();
    }
    let cut = Instant::now();
    // With the a–b tunnel gone, the two left must both forward.
    let (took, _) = mesh::wait_tree(&lab, &hosts, protocol, CONVERGE, |views| {
        views.iter().all(|v| v.blocked().is_empty())
    })
    .unwrap();
    mesh::wait_all_pairs(&lab, &hosts, Duration::from_secs(30)).unwrap();
    eprintln!(
        "{protocol:?} with OVS: a–b deleted; OVS opened its tunnel to b after {took:?}, every pair pings after {:?}",
        cut.elapsed()
    );
}

#[test]
fn stp_mesh_with_ovs_agrees_on_root_and_blocked_port() {
    mesh_with_ovs("stpovs", stp::Protocol::Stp);
}

#[test]
fn rstp_mesh_with_ovs_agrees_on_root_and_blocked_port() {
    mesh_with_ovs("rstpovs", stp::Protocol::Rstp);
}

/// The three kinds of host in one mesh, configured by the same ovs-vsctl command lines: `a` a
/// standalone grebe (grebe's vsctl), `b` a grebe in OVSDB mode (OVS's ovs-vsctl against its
/// ovsdb-server), `c` Open vSwitch. They agree on the tree, every pair pings, and a change made
/// through `b`'s database (its tunnel to `a` deleted) reshapes the tree as on any other host.
fn mesh_of_three_kinds(test: &str, protocol: stp::Protocol) {
    let Some(lab) = lab_with_ovs(test) else {
        return;
    };
    let mut hosts = three_hosts(true);
    hosts[1] = hosts[1].clone().with_ovsdb();
    let views = converge(&lab, &hosts, protocol);
    assert!(!views[1].is_root);
    // b's database says what its tree says, in OVS's columns and formats: the root is a
    // (priority 4096 = 0x1000) and b's tunnel to a is its root port.
    let (column, root_key, role_key) = match protocol {
        stp::Protocol::Stp => ("status", "stp_designated_root", "stp_role"),
        stp::Protocol::Rstp => ("rstp_status", "rstp_root_id", "rstp_port_role"),
    };
    let b_to_a = mesh::tunnel_name(&hosts, "b", "a");
    let deadline = Instant::now() + Duration::from_secs(15);
    let (root, role) = loop {
        let get = |args: &[&str]| mesh::host_vsctl(&lab, &hosts[1], args).unwrap_or_default();
        let root = get(&["get", "bridge", "br-int", &format!("{column}:{root_key}")]);
        let role = get(&["get", "port", &b_to_a, &format!("{column}:{role_key}")]);
        if (root.contains("\"1000.") && role.trim() == "root") || Instant::now() > deadline {
            break (root, role);
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(
        root.trim().starts_with("\"1000."),
        "b's database root: {root}"
    );
    assert_eq!(role.trim(), "root", "b's database role of {b_to_a}");
    for (h, to) in [(&hosts[0], "b"), (&hosts[1], "a")] {
        let port = mesh::tunnel_name(&hosts, &h.name, to);
        mesh::host_vsctl(&lab, h, &["del-port", "br-int", &port]).unwrap();
    }
    let (took, _) = mesh::wait_tree(&lab, &hosts, protocol, CONVERGE, |views| {
        views.iter().all(|v| v.blocked().is_empty())
    })
    .unwrap();
    mesh::wait_all_pairs(&lab, &hosts, Duration::from_secs(30)).unwrap();
    eprintln!("{protocol:?}, three kinds: a–b deleted; the tree reopened after {took:?}");
}

#[test]
fn stp_mesh_of_standalone_grebe_ovsdb_grebe_and_ovs() {
    mesh_of_three_kinds("stp3k", stp::Protocol::Stp);
}

#[test]
fn rstp_mesh_of_standalone_grebe_ovsdb_grebe_and_ovs() {
    mesh_of_three_kinds("rstp3k", stp::Protocol::Rstp);
}

/// A BPDU from the host side (mgmt0) claiming to be a better root is dropped and counted, and
/// changes nothing; a malformed BPDU through a tunnel is counted as malformed; the daemon lives.
#[test]
fn forged_and_malformed_bpdus_are_dropped_and_counted() {
    let Some(lab) = lab("stpforge") else {
        return;
    };
    let hosts = vec![
        MeshHost::numbered("a", 0, 4096, false),
        MeshHost::numbered("b", 1, 8192, false),
    ];
    mesh::build(&lab, &hosts, stp::Protocol::Stp).unwrap();
    let (_, views) = mesh::wait_converged(&lab, &hosts, stp::Protocol::Stp, CONVERGE).unwrap();
    let root = views[0].root.clone();
    // Priority 0 beats everyone: a root claim from b's host side.
    let forged = bpdu_frame(0x0000, [2, 0, 0, 0, 0, 0x66]);
    send_frame_from(&lab, "b", "mgmt0", &forged);
    // Garbage after a valid LLC header, through b's tunnel into a.
    let mut malformed = bpdu_frame(0x8000, [2, 0, 0, 0, 0, 0x77]);
    malformed.truncate(25);
    malformed[12..14].copy_from_slice(&11u16.to_be_bytes());
    send_gre_from(&lab, "b", "192.0.2.1", &malformed);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(drops(&lab, "b", "bpdu_not_in_tree"), 1);
    assert_eq!(drops(&lab, "a", "bpdu_malformed"), 1);
    for h in &hosts {
        let v = mesh::tree_view(&lab, h, stp::Protocol::Stp).unwrap();
        assert_eq!(v.root, root, "{} changed root after forged BPDUs", h.name);
    }
    lab.wait_ping("a", &hosts[1].overlay, Duration::from_secs(10))
        .unwrap();
}

/// An 802.1D configuration BPDU claiming root `priority`.`mac`, from `mac`.
fn bpdu_frame(priority: u16, mac: [u8; 6]) -> Vec<u8> {
    let root = stp::BridgeId::new(priority, mac);
    stp::Bpdu::Config(stp::bpdu::ConfigBpdu {
        flags: 0,
        root,
        root_path_cost: 0,
        bridge: root,
        port_id: 0x8001,
        message_age: 0,
        max_age: 20 * 256,
        hello_time: 2 * 256,
        forward_delay: 15 * 256,
    })
    .emit(mac)
    .to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes one Ethernet frame onto `dev` in the host's namespace (a packet socket).
fn send_frame_from(lab: &Lab, host: &str, dev: &str, frame: &[u8]) {
    let script = format!(
        "import socket; s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); \
         s.bind(('{dev}', 0)); s.send(bytes.fromhex('{}'))",
        hex(frame)
    );
    lab.sh(host, &["python3", "-c", &script]).unwrap();
}

/// Sends `frame` in a plain GRE packet (protocol 0x6558) to `dst` from the host.
fn send_gre_from(lab: &Lab, host: &str, dst: &str, frame: &[u8]) {
    let packet = [&[0u8, 0, 0x65, 0x58][..], frame].concat();
    let script = format!(
        "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47); \
         s.sendto(bytes.fromhex('{}'), ('{dst}', 0))",
        hex(&packet)
    );
    lab.sh(host, &["python3", "-c", &script]).unwrap();
}
