//! grebe against real Open vSwitch: one end of a tunnel stays OVS (Debian's openvswitch-switch,
//! userspace datapath, started by the test in its own namespace: `lab::ovs_peer`) while the
//! other is grebe. Pings and 20 MiB TCP transfers both ways, with and without keys and
//! checksums; key mismatches; hub-and-spoke with either as the hub; the same ovs-vsctl script
//! against OVS's ovs-vsctl and grebe invoked as `ovs-vsctl`; the outer headers of both, decoded
//! by tshark, compared field by field.
//!
//! Transport 192.0.2.0/24, overlay 198.51.100.0/24. The OVS host is `o` (192.0.2.1 /
//! 198.51.100.1) unless a test says otherwise. Skipped only outside CI, when not root or when
//! OVS is not installed; under CI (`CI` set) both are failures.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::*;
use lab::netns::Lab;
use lab::ovs_peer::{
    configure_ovs_seed, decode, gre_header_len, icmp_in_gre_filter, ovs_appctl, ovs_available,
    ovs_vsctl, start_capture, start_ovs, start_ovsdb, tcp_send, tshark_available,
};

const WAIT: Duration = Duration::from_secs(15);

/// A lab for a test that needs OVS (and, with `tshark`, Wireshark).
fn ovs_lab(test: &str, tshark: bool) -> Option<Lab> {
    let mut needs = vec![("openvswitch-switch", ovs_available())];
    if tshark {
        needs.push(("tshark", tshark_available()));
    }
    lab_with(test, &needs)
}

/// OVS host `o` (192.0.2.1 / 198.51.100.1) and grebe host `g` (192.0.2.2 / 198.51.100.2) on
/// one transport switch, a tunnel between them with `gre_options` (such as `options:key=5`) at
/// both ends.
fn ovs_and_grebe(lab: &Lab, gre_options: &[&str]) {
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
        gre_options,
    )
    .unwrap();
    lab.start_daemon("g").unwrap();
    lab.configure_seed("g", "198.51.100.2/24", &["192.0.2.1"])
        .unwrap();
    set_grebe_options(lab, "g", "gre0", gre_options);
}

fn set_grebe_options(lab: &Lab, host: &str, port: &str, gre_options: &[&str]) {
    if !gre_options.is_empty() {
        let mut args = vec!["set", "interface", port];
        args.extend_from_slice(gre_options);
        lab.vsctl_ok(host, &args).unwrap();
    }
}

/// Pings, then 20 MiB each way, between `o` and `g`; grebe drops nothing meanwhile.
fn ping_and_transfer_both_ways(lab: &Lab) {
    lab.wait_ping("g", "198.51.100.1", WAIT).unwrap();
    // Counted from here: before grebe had its tunnel, OVS's broadcasts (IPv6 neighbour
    // discovery) could arrive from a remote grebe did not know yet.
    let reasons = [
        "too_big",
        "gre_bad_checksum",
        "key_mismatch",
        "unknown_remote",
    ];
    let before: Vec<u64> = reasons.iter().map(|r| drops(lab, "g", r)).collect();
    lab.ping("g", "198.51.100.1", 3).unwrap();
    lab.ping("o", "198.51.100.2", 3).unwrap();
    const MIB20: u64 = 20 << 20;
    assert_eq!(
        tcp_send(lab, "o", "g", "198.51.100.2", MIB20).unwrap(),
        MIB20
    );
    assert_eq!(
        tcp_send(lab, "g", "o", "198.51.100.1", MIB20).unwrap(),
        MIB20
    );
    for (reason, before) in reasons.iter().zip(before) {
        assert_eq!(drops(lab, "g", reason), before, "grebe dropped {reason}");
    }
}

#[test]
fn ovs_and_grebe_ping_and_move_20_mib_both_ways() {
    let Some(lab) = ovs_lab("ovsplain", false) else {
        return;
    };
    ovs_and_grebe(&lab, &[]);
    ping_and_transfer_both_ways(&lab);
    // OVS learned grebe's mgmt0 on its tunnel port, as grebe learned OVS's.
    let g_mac = mac_of(&lab, "g", "mgmt0");
    let o_mac = mac_of(&lab, "o", "mgmt0");
    let ovs_fdb = ovs_appctl(&lab, "o", &["fdb/show", "br-int"]).unwrap();
    assert!(ovs_fdb.contains(&g_mac), "{g_mac} not in OVS's\n{ovs_fdb}");
    let grebe_fdb = lab.appctl("g", &["fdb/show", "br-int"]).unwrap();
    let line = grebe_fdb
        .lines()
        .find(|l| l.contains(&o_mac))
        .unwrap_or_else(|| panic!("{o_mac} not in grebe's\n{grebe_fdb}"));
    assert!(line.trim_start().starts_with("gre0"), "{line}");
    assert!(port_counter(&lab, "g", "gre0", "rx_packets") > 10_000);
}

#[test]
fn ovs_and_grebe_with_a_key_on_both_ends() {
    let Some(lab) = ovs_lab("ovskey", false) else {
        return;
    };
    ovs_and_grebe(&lab, &["options:key=5"]);
    ping_and_transfer_both_ways(&lab);
}

#[test]
fn ovs_and_grebe_with_checksums_on_both_ends() {
    let Some(lab) = ovs_lab("ovscsum", false) else {
        return;
    };
    ovs_and_grebe(&lab, &["options:csum=true"]);
    ping_and_transfer_both_ways(&lab);
}

#[test]
fn key_mismatch_with_ovs_carries_nothing_and_grebe_counts_it() {
    let Some(lab) = ovs_lab("ovskeymis", false) else {
        return;
    };
    ovs_and_grebe(&lab, &["options:key=5"]);
    lab.vsctl_ok("g", &["set", "interface", "gre0", "options:key=6"])
        .unwrap();
    let before = drops(&lab, "g", "key_mismatch");
    assert!(
        lab.ping("o", "198.51.100.2", 2).is_err(),
        "OVS key 5 reached grebe key 6"
    );
    assert!(
        lab.ping("g", "198.51.100.1", 2).is_err(),
        "grebe key 6 reached OVS key 5"
    );
    assert!(drops(&lab, "g", "key_mismatch") > before);
    // The same setup with matching keys carries: the mismatch was the only obstacle.
    lab.vsctl_ok("g", &["set", "interface", "gre0", "options:key=5"])
        .unwrap();
    lab.wait_ping("g", "198.51.100.1", WAIT).unwrap();
    lab.ping("o", "198.51.100.2", 2).unwrap();
}

/// Hub-and-spoke on one transport switch: host i has 192.0.2.(i+1) / 198.51.100.(i+1); host 0
/// is the hub with a tunnel to each spoke, each spoke has one tunnel to the hub. `hosts[i]` is
/// (name, whether it runs OVS). Every host must reach every other.
fn hub_and_spoke(lab: &Lab, hosts: &[(&str, bool)]) {
    lab.add_switch("wan").unwrap();
    let transport = |i: usize| format!("192.0.2.{}", i + 1);
    let overlay = |i: usize| format!("198.51.100.{}", i + 1);
    for (i, (h, _)) in hosts.iter().enumerate() {
        lab.add_host(h, "wan", &format!("{}/24", transport(i)))
            .unwrap();
    }
    for (i, (h, is_ovs)) in hosts.iter().enumerate() {
        let remotes: Vec<String> = if i == 0 {
            (1..hosts.len()).map(transport).collect()
        } else {
            vec![transport(0)]
        };
        let remotes: Vec<&str> = remotes.iter().map(String::as_str).collect();
        let cidr = format!("{}/24", overlay(i));
        if *is_ovs {
            start_ovs(lab, h).unwrap();
            configure_ovs_seed(
                lab,
                h,
                &format!("{}/24", transport(i)),
                &cidr,
                &remotes,
                &[],
            )
            .unwrap();
        } else {
            lab.start_daemon(h).unwrap();
            lab.configure_seed(h, &cidr, &remotes).unwrap();
        }
    }
    // Spoke to spoke first: it crosses the hub from tunnel to tunnel.
    lab.wait_ping(hosts[1].0, &overlay(2), WAIT).unwrap();
    for (i, (h, _)) in hosts.iter().enumerate() {
        for j in (0..hosts.len()).filter(|j| *j != i) {
            lab.ping(h, &overlay(j), 2)
                .unwrap_or_else(|e| panic!("{h} -> {}: {e:#}", hosts[j].0));
        }
    }
}

#[test]
fn hub_and_spoke_with_ovs_as_the_hub() {
    let Some(lab) = ovs_lab("ovshub", false) else {
        return;
    };
    hub_and_spoke(&lab, &[("hub", true), ("s1", false), ("s2", false)]);
    // Both spokes' MACs sit on the hub's tunnels, each on its own.
    let fdb = ovs_appctl(&lab, "hub", &["fdb/show", "br-int"]).unwrap();
    for s in ["s1", "s2"] {
        let mac = mac_of(&lab, s, "mgmt0");
        assert!(fdb.contains(&mac), "{s}'s {mac} not learned by OVS:\n{fdb}");
    }
}

#[test]
fn hub_and_spoke_with_grebe_as_the_hub() {
    let Some(lab) = ovs_lab("grebehub", false) else {
        return;
    };
    hub_and_spoke(&lab, &[("hub", false), ("s1", false), ("s2", true)]);
    // The grebe spoke's traffic to the OVS spoke crossed the hub from gre0 to gre1.
    assert!(port_counter(&lab, "hub", "gre1", "tx_packets") >= 4);
    assert!(port_counter(&lab, "hub", "gre0", "tx_packets") >= 4);
}

/// The ovs-vsctl script run against both: every line must give the same stdout, stderr and exit
/// code, except the lines of [`DELIBERATE`]. Lines are split on whitespace.
const SCRIPT: &[&str] = &[
    "add-br br0",
    "add-br br0",
    "--may-exist add-br br0",
    "br-exists br0",
    "br-exists nobr",
    "br-exists",
    "add-port br0 p1 -- set interface p1 type=internal",
    "add-port br0 gre0 -- set interface gre0 type=gre options:remote_ip=192.0.2.7 options:key=5",
    "--may-exist add-port br0 p1",
    "add-port br0 p1",
    "add-port nobr p9",
    "list-ports br0",
    "list-br",
    "port-to-br gre0",
    "iface-to-br p1",
    "get interface gre0 type",
    "get interface gre0 options:key",
    "set interface gre0 options:csum=true",
    "remove interface gre0 options key",
    "get interface gre0 options",
    "--if-exists del-port br0 nope",
    "del-port br0 nope",
    "--if-exists del-br nobr",
    "del-br nobr",
    // A chain is all or nothing: x2 must not be added.
    "add-br br1 -- add-port br1 x1 -- set interface x1 type=internal",
    "add-port br1 x2 -- set interface x2 type=internal -- add-br br0",
    "list-ports br1",
    "--may-exist add-port br1 gre0",
    "--oneline list-ports br0",
    "list-ports nobr",
    "frob",
    // Deliberate differences (see DELIBERATE), each followed by what brings both back in step.
    "show",
    "--version",
    "get interface p1 _uuid",
    "set bridge br1 datapath_type=netdev",
    "add-port br0 v1 -- set interface v1 type=vxlan options:remote_ip=192.0.2.9",
    "--if-exists del-port br0 v1",
    "add-port br0 g1 -- set interface g1 type=gre options:remote_ip=192.0.2.9 options:ttl=300",
    "--if-exists del-port br0 g1",
    "add-port br0 g2 type=gre options:remote_ip=192.0.2.9",
    "--if-exists del-port br0 g2",
    "add-port br0 t1 -- set port t1 tag=5",
    "--if-exists del-port br0 t1",
    // What libvirt and ovs-docker send: VLAN columns, external IDs with literal quotes, find,
    // the output formats, option prefixes.
    "--timeout=5 -- --may-exist add-port br0 t2 tag=10 -- set Interface t2 external-ids:attached-mac=\"52:54:00:00:00:01\"",
    "get port t2 tag",
    "get interface t2 external_ids",
    "set port t2 trunk=10,20 vlan_mode=native-untagged",
    "get port t2 trunks vlan_mode tag",
    "set port t2 tag=4096",
    "set port t2 trunks=1,5000",
    "set port t2 vlan_mode=bogus",
    "set interface t2 tag=5",
    "--data=bare --no-heading --columns=name find interface external-ids:attached-mac=\"52:54:00:00:00:01\"",
    "--data=bare --no-heading --columns=name find interface external_ids:attached-mac=nope",
    "--columns=name,tag find port tag>5",
    "--format=table --columns=name,tag,trunks,vlan_mode list port t2",
    "--format=table --no-headings --columns=name,vlan_mode list port t2",
    "--format=list --data=json --no-headings --columns=name,trunks,tag list port t2",
    "--format=list --data=json --no-headings --columns=name,external_ids,mtu_request list interface t2",
    "--format=csv --columns=name,trunks list port t2",
    "--format=json --columns=name,trunks list port t2",
    "--bare --columns=name,trunks list port t2 -- --columns=name list port t2",
    "--data=bogus list-br",
    "--format=html --columns=name,trunks list port t2",
    "--columns=name find port trunks{>=}10 tag{in}[9,10]",
    "--columns=name find port trunks",
    "--if-exists clear port t2 tag -- --if-exists clear port t2 trunk -- --if-exists clear port t2 vlan_mode",
    "--no-heading --columns=tag,trunks,vlan_mode list port t2",
    "remove port t2 external_ids attached-mac",
    "--timeout=5 iface-to-br t2",
    "--timeout=5 -- --if-exists del-port t2",
    "--timeout=5 -- --if-exists del-port t2",
    "iface-to-br t2",
    "list-ports br0",
    "del-port br0 p1",
    "list-ports br0",
    "del-br br1",
    "list-br",
    "del-br br0",
    "list-br",
];

/// Lines where grebe deliberately differs from OVS 3.1's ovs-vsctl: the line, grebe's exit
/// code, and why. The README's interop section has the same table.
const DELIBERATE: &[(&str, i32, &str)] = &[
    (
        "show",
        0,
        "no UUIDs: the first line is 00000000-0000-0000-0000-000000000000; bridges and ports \
         sorted by name (OVS: hash order)",
    ),
    ("--version", 0, "prints `ovs-vsctl (grebe) VERSION`"),
    ("get interface p1 _uuid", 1, "grebe records have no UUIDs"),
    (
        "add-port br0 v1 -- set interface v1 type=vxlan options:remote_ip=192.0.2.9",
        1,
        "only types \"\"/system, internal and gre; OVS stores any type",
    ),
    (
        "add-port br0 g1 -- set interface g1 type=gre options:remote_ip=192.0.2.9 options:ttl=300",
        1,
        "GRE options are checked when set; OVS stores them and ovs-vswitchd ignores bad ones",
    ),
    (
        "add-port br0 g2 type=gre options:remote_ip=192.0.2.9",
        0,
        "Port and Interface are one record, so interface columns may follow add-port",
    ),
];

fn outcome(out: &Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_same_vsctl_script_gives_the_same_output_as_ovs_vsctl() {
    let Some(lab) = ovs_lab("vsctl", false) else {
        return;
    };
    lab.add_switch("wan").unwrap();
    lab.add_host("o", "wan", "192.0.2.1/24").unwrap();
    lab.add_host("g", "wan", "192.0.2.2/24").unwrap();
    // OVS: only its database server (ovs-vsctl --no-wait needs no switch).
    start_ovsdb(&lab, "o").unwrap();
    lab.start_daemon("g").unwrap();
    // grebe invoked through a link named ovs-vsctl, as a drop-in installs it.
    let bin = lab.dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("ovs-vsctl");
    std::os::unix::fs::symlink(GREBE, &link).unwrap();

    let mut mismatches = Vec::new();
    let mut deliberate_seen = BTreeSet::new();
    for line in SCRIPT {
        let mut args = vec!["--no-wait"];
        args.extend(line.split_whitespace());
        let ovs = outcome(&ovs_vsctl(&lab, "o", &args).unwrap());
        let grebe = outcome(
            &lab.command("g", &link)
                .args(&args)
                .stdin(Stdio::null())
                .output()
                .unwrap(),
        );
        if let Some((_, code, why)) = DELIBERATE.iter().find(|(l, _, _)| l == line) {
            deliberate_seen.insert(*line);
            assert_ne!(
                ovs, grebe,
                "`{line}` is listed as a deliberate difference ({why}) but gives the same output"
            );
            assert_eq!(grebe.0, *code, "`{line}`: grebe's exit code\n{grebe:?}");
            eprintln!("deliberate: `{line}`: {why}\n  ovs:   {ovs:?}\n  grebe: {grebe:?}");
            continue;
        }
        if ovs != grebe {
            let mut text = format!("`ovs-vsctl {}`:\n", args.join(" "));
            if ovs.0 != grebe.0 {
                text += &format!("  exit code: ovs {} grebe {}\n", ovs.0, grebe.0);
            }
            for (what, o, g) in [("stdout", &ovs.1, &grebe.1), ("stderr", &ovs.2, &grebe.2)] {
                let (ol, gl): (Vec<&str>, Vec<&str>) = (o.lines().collect(), g.lines().collect());
                for i in 0..ol.len().max(gl.len()) {
                    let (a, b) = (ol.get(i), gl.get(i));
                    if a != b {
                        text += &format!("  {what} line {}: ovs {a:?} grebe {b:?}\n", i + 1);
                    }
                }
            }
            mismatches.push(text);
        }
    }
    assert_eq!(
        deliberate_seen.len(),
        DELIBERATE.len(),
        "every deliberate difference is exercised by the script"
    );
    assert!(
        mismatches.is_empty(),
        "grebe as ovs-vsctl differs from OVS's ovs-vsctl:\n{}",
        mismatches.concat()
    );
}

/// The outer-header fields that are the tunnel's own (not the packet's): what OVS and grebe must
/// agree on.
const OUTER_FIELDS: &[&str] = &[
    "ip.version",
    "ip.hdr_len",
    "ip.dsfield",
    "ip.flags",
    "ip.id",
    "ip.ttl",
    "ip.proto",
    "ip.checksum.status",
    "gre.flags_and_version",
    "gre.proto",
    "gre.key",
    "gre.checksum.status",
];

fn outer_headers(file: &Path, src: &str) -> BTreeSet<Vec<String>> {
    let packets = decode(file, &format!("ip.src == {src}"), OUTER_FIELDS).unwrap();
    assert!(!packets.is_empty(), "no packets from {src}");
    packets
        .iter()
        .map(|p| {
            OUTER_FIELDS
                .iter()
                .map(|f| {
                    let v = p.get(*f).and_then(|v| v.first());
                    format!("{f}={}", v.map_or("-", String::as_str))
                })
                .collect()
        })
        .collect()
}

/// Sets the same options on the tunnel `gre0` of `o` (OVS) and `g` (grebe), replacing the
/// previous ones.
fn reconfigure_both(lab: &Lab, options: &[&str]) {
    for (host, remote) in [("o", "192.0.2.2"), ("g", "192.0.2.1")] {
        let remote_ip = format!("options:remote_ip={remote}");
        let mut args = vec![
            "clear",
            "interface",
            "gre0",
            "options",
            "--",
            "set",
            "interface",
            "gre0",
            &remote_ip,
        ];
        args.extend_from_slice(options);
        if host == "o" {
            let out = ovs_vsctl(lab, host, &args).unwrap();
            assert!(out.status.success(), "{out:?}");
        } else {
            lab.vsctl_ok(host, &args).unwrap();
        }
    }
}

#[test]
fn grebe_puts_the_same_outer_headers_on_the_wire_as_ovs() {
    let Some(lab) = ovs_lab("ovswire", true) else {
        return;
    };
    ovs_and_grebe(&lab, &[]);
    let cases: &[(&[&str], usize)] = &[
        (&[], gre_header_len(false, false, false)),
        (
            &["options:key=5", "options:csum=true"],
            gre_header_len(true, true, false),
        ),
        (&["options:seq=true"], gre_header_len(false, false, true)),
    ];
    for (i, (options, gre_len)) in cases.iter().enumerate() {
        reconfigure_both(&lab, options);
        lab.wait_ping("g", "198.51.100.1", WAIT).unwrap();
        let file = lab.dir().join(format!("wire{i}.pcap"));
        let filter = icmp_in_gre_filter(None, &[*gre_len]);
        let capture = start_capture(&lab, "wan", "sw0", &filter, 8, &file).unwrap();
        lab.ping("g", "198.51.100.1", 2).unwrap();
        lab.ping("o", "198.51.100.2", 2).unwrap();
        let file = capture.finish(WAIT).unwrap();
        let ovs = outer_headers(&file, "192.0.2.1");
        let grebe = outer_headers(&file, "192.0.2.2");
        eprintln!("{options:?}\n  OVS:   {ovs:?}\n  grebe: {grebe:?}");
        assert_eq!(
            ovs.len(),
            1,
            "{options:?}: OVS's tunnel headers vary: {ovs:?}"
        );
        assert_eq!(
            grebe, ovs,
            "{options:?}: grebe's outer headers differ from OVS's"
        );
    }
}

/// Pings `count` times with `extra` ping options; true when every reply came.
fn ping_with(lab: &Lab, host: &str, dst: &str, count: u32, extra: &[&str]) -> bool {
    lab.command(host, "ping")
        .args(extra)
        .args([
            "-c",
            &count.to_string(),
            "-i",
            "0.2",
            "-W",
            "1",
            "-q",
            "-n",
            dst,
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// The first occurrence (outer header) of `field` in every packet from `src`.
fn outer_field(file: &Path, src: &str, field: &str) -> Vec<String> {
    decode(file, &format!("ip.src == {src}"), &[field])
        .unwrap()
        .iter()
        .map(|p| {
            p.get(field)
                .and_then(|v| v.first())
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

/// Every wire difference from OVS 3.1 found so far, asserted so that the README's list cannot go
/// stale: if one of these fails because grebe (or OVS) changed, update the README's
/// interoperability section and this test.
#[test]
fn known_wire_differences_from_ovs_still_hold() {
    let Some(lab) = ovs_lab("ovsdiff", true) else {
        return;
    };
    ovs_and_grebe(&lab, &[]);
    lab.wait_ping("g", "198.51.100.1", WAIT).unwrap();
    let (ovs, grebe) = ("192.0.2.1", "192.0.2.2");

    // 1. ECN, no longer a difference: both copy the inner packet's ECN field into the outer
    //    header (RFC 6040), so congestion marks survive the tunnel either way.
    let file = lab.dir().join("ecn.pcap");
    let filter = icmp_in_gre_filter(None, &[gre_header_len(false, false, false)]);
    let capture = start_capture(&lab, "wan", "sw0", &filter, 4, &file).unwrap();
    ping_with(&lab, "g", "198.51.100.1", 2, &["-Q", "2"]); // ECT(0)
    let file = capture.finish(WAIT).unwrap();
    assert_eq!(
        outer_field(&file, ovs, "ip.dsfield"),
        ["0x02", "0x02"],
        "OVS"
    );
    assert_eq!(
        outer_field(&file, grebe, "ip.dsfield"),
        ["0x02", "0x02"],
        "grebe"
    );

    // 2. options:key=0: OVS sends the key bit with key 0; grebe treats key 0 as no key and sends
    //    none. Both accept either, so they interoperate.
    reconfigure_both(&lab, &["options:key=0"]);
    let file = lab.dir().join("key0.pcap");
    let filter = icmp_in_gre_filter(None, &[4, 8]);
    let capture = start_capture(&lab, "wan", "sw0", &filter, 4, &file).unwrap();
    assert!(
        ping_with(&lab, "g", "198.51.100.1", 2, &[]),
        "key 0 interoperates"
    );
    let file = capture.finish(WAIT).unwrap();
    assert_eq!(
        outer_field(&file, ovs, "gre.key"),
        ["0x00000000", "0x00000000"]
    );
    assert_eq!(outer_field(&file, grebe, "gre.flags.key"), ["0", "0"]);

    // 3. csum=true with seq=true: OVS computes the checksum before writing the sequence number,
    //    so every packet but the one with sequence number 0 carries a wrong checksum; grebe
    //    (like tshark) checks the checksum over the header as sent and drops them.
    reconfigure_both(&lab, &["options:csum=true", "options:seq=true"]);
    let before = drops(&lab, "g", "gre_bad_checksum");
    let file = lab.dir().join("csumseq.pcap");
    let filter = icmp_in_gre_filter(None, &[gre_header_len(false, true, true)]);
    let capture = start_capture(&lab, "wan", "sw0", &filter, 6, &file).unwrap();
    ping_with(&lab, "g", "198.51.100.1", 3, &[]);
    let file = capture.finish(WAIT).unwrap();
    let ovs_status = decode(
        &file,
        &format!("ip.src == {ovs}"),
        &["gre.sequence_number", "gre.checksum.status"],
    )
    .unwrap();
    for p in &ovs_status {
        let seq = &p["gre.sequence_number"][0];
        let status = &p["gre.checksum.status"][0];
        assert_eq!(
            status,
            if seq == "0" { "1" } else { "0" },
            "OVS seq {seq}: {p:?}"
        );
    }
    assert!(
        ovs_status
            .iter()
            .any(|p| p["gre.sequence_number"][0] != "0")
    );
    assert_eq!(
        outer_field(&file, grebe, "gre.checksum.status"),
        ["1", "1", "1"]
    );
    assert!(drops(&lab, "g", "gre_bad_checksum") > before);
}

/// Regenerates `tests/data/ovs-*.pcap`, the real-world GRE vectors that
/// `encap/tests/ovs_vectors.rs` parses: OVS's GRE packets (from the OVS host to a grebe peer)
/// with each option set. Run as root with OVS and tshark installed:
///
/// ```text
/// cargo test --test interop -- --ignored regenerate_ovs_vectors
/// ```
#[test]
#[ignore = "writes tests/data/ovs-*.pcap; run by hand to regenerate the vectors"]
fn regenerate_ovs_vectors() {
    let Some(lab) = ovs_lab("vectors", true) else {
        return;
    };
    ovs_and_grebe(&lab, &[]);
    lab.wait_ping("g", "198.51.100.1", WAIT).unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    std::fs::create_dir_all(&data).unwrap();
    let cases: &[(&str, &[&str])] = &[
        ("ovs-gre-plain", &[]),
        ("ovs-gre-key", &["options:key=5"]),
        ("ovs-gre-csum", &["options:csum=true"]),
        (
            "ovs-gre-key-csum",
            &["options:key=0x12345678", "options:csum=true"],
        ),
        // Before any other case with seq: OVS's first sequence number is then 0.
        (
            "ovs-gre-csum-seq",
            &["options:csum=true", "options:seq=true"],
        ),
        ("ovs-gre-seq", &["options:seq=true"]),
    ];
    for (name, options) in cases {
        reconfigure_both(&lab, options);
        // OVS's packets: echo replies to grebe's pings, ARP, whatever it sends meanwhile.
        // Forgetting the neighbours puts an ARP exchange into the plain case.
        for host in ["o", "g"] {
            lab.sh(host, &["ip", "neigh", "flush", "dev", "mgmt0"])
                .unwrap();
        }
        let file = data.join(format!("{name}.pcap"));
        let capture = start_capture(
            &lab,
            "wan",
            "sw0",
            "ip proto 47 and src host 192.0.2.1",
            4,
            &file,
        )
        .unwrap();
        // With csum and seq, OVS's checksums are wrong (see ovs_vectors.rs) and grebe drops
        // the replies: the pings fail, but OVS still sends them.
        let _ = lab.ping("g", "198.51.100.1", 4);
        capture.finish(WAIT).unwrap();
        eprintln!("wrote {}", file.display());
    }
}
