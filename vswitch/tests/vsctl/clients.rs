//! The command lines libvirt and ovs-docker send (from their sources), run as they send them,
//! with what they read back.

use crate::*;

const MAC: &str = "52:54:00:12:34:56";
const IFACE_ID: &str = "6f1c3a2e-9b4d-4c1e-8f2a-1d2e3f4a5b6c";
const VM_ID: &str = "0d9e8f7a-6b5c-4d3e-9f1a-2b3c4d5e6f70";

/// libvirt's `virNetDevOpenvswitchAddPort()`: the port, its VLAN settings, then the external
/// IDs with literal quotes inside the argv values.
fn libvirt_add_port(c: &mut Config, port: &str, vlan: &[&str]) -> Outcome {
    let mac = format!("external-ids:attached-mac=\"{MAC}\"");
    let iface_id = format!("external-ids:iface-id=\"{IFACE_ID}\"");
    let vm_id = format!("external-ids:vm-id=\"{VM_ID}\"");
    let mut a = vec![
        "--timeout=5",
        "--",
        "--may-exist",
        "add-port",
        "br-int",
        port,
    ];
    a.extend_from_slice(vlan);
    for setting in [&mac, &iface_id, &vm_id] {
        a.extend_from_slice(&["--", "set", "Interface", port, setting]);
    }
    a.extend_from_slice(&[
        "--",
        "set",
        "Interface",
        port,
        "external-ids:iface-status=active",
    ]);
    vs(c, &a)
}

#[test]
fn libvirt_access_port() {
    let mut c = seed();
    let o = libvirt_add_port(&mut c, "vnet0", &["tag=42"]);
    assert_eq!((o.exit_code, o.stderr.as_str(), o.changed), (0, "", true));
    let i = &c.bridges["br-int"].ports["vnet0"];
    assert_eq!(i.kind, InterfaceType::System);
    assert_eq!(i.tag, Some(42));
    assert!(i.trunks.is_empty() && i.vlan_mode.is_none());
    assert_eq!(
        i.external_ids,
        [
            ("attached-mac", MAC),
            ("iface-id", IFACE_ID),
            ("iface-status", "active"),
            ("vm-id", VM_ID),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<BTreeMap<_, _>>()
    );
    assert_eq!(
        ok(&mut c, &["get", "Interface", "vnet0", "external_ids"]),
        format!(
            "{{attached-mac=\"{MAC}\", iface-id=\"{IFACE_ID}\", iface-status=active, vm-id=\"{VM_ID}\"}}\n"
        )
    );
    assert_eq!(ok(&mut c, &["get", "Port", "vnet0", "tag"]), "42\n");
    assert!(
        ok(&mut c, &["show"])
            .contains("        Port vnet0\n            tag: 42\n            Interface vnet0\n")
    );
    // Running it again (libvirt restarting a guest) changes nothing.
    let again = libvirt_add_port(&mut c, "vnet0", &["tag=42"]);
    assert_eq!(again, Outcome::default());
}

#[test]
fn libvirt_trunk_and_native_vlan_ports() {
    let mut c = seed();
    let o = libvirt_add_port(&mut c, "vnet1", &["trunk=10,20"]);
    assert_eq!(o.exit_code, 0, "{o:?}");
    let i = &c.bridges["br-int"].ports["vnet1"];
    assert_eq!(i.trunks, [10, 20].into());
    assert_eq!(i.tag, None);
    let o = libvirt_add_port(
        &mut c,
        "vnet2",
        &["vlan_mode=native-untagged", "tag=10", "trunk=10,20"],
    );
    assert_eq!(o.exit_code, 0, "{o:?}");
    let i = &c.bridges["br-int"].ports["vnet2"];
    assert_eq!(
        (i.vlan_mode, i.tag, i.trunks.clone()),
        (Some(VlanMode::NativeUntagged), Some(10), [10, 20].into())
    );
    assert_eq!(
        ok(
            &mut c,
            &["get", "port", "vnet2", "vlan_mode", "tag", "trunks"]
        ),
        "native-untagged\n10\n[10, 20]\n"
    );
    assert!(ok(&mut c, &["show"]).contains("        Port vnet1\n            trunks: [10, 20]\n"));
}

#[test]
fn libvirt_live_vlan_change_and_teardown() {
    let mut c = seed();
    libvirt_add_port(
        &mut c,
        "vnet0",
        &["vlan_mode=native-tagged", "tag=10", "trunk=10,20"],
    );
    let change = |tag: Option<&str>| {
        let mut a = vec![
            "--timeout=5",
            "--",
            "--if-exists",
            "clear",
            "Port",
            "vnet0",
            "tag",
            "--",
            "--if-exists",
            "clear",
            "Port",
            "vnet0",
            "trunk",
            "--",
            "--if-exists",
            "clear",
            "Port",
            "vnet0",
            "vlan_mode",
        ];
        if let Some(tag) = tag {
            a.extend_from_slice(&["--", "--if-exists", "set", "Port", "vnet0", tag]);
        }
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let o = run(&mut c, &change(Some("tag=7")), &NoLiveState);
    assert_eq!((o.exit_code, o.changed), (0, true), "{o:?}");
    let i = &c.bridges["br-int"].ports["vnet0"];
    assert_eq!((i.tag, i.trunks.len(), i.vlan_mode), (Some(7), 0, None));
    let o = run(&mut c, &change(None), &NoLiveState);
    assert_eq!(o.exit_code, 0);
    assert_eq!(c.bridges["br-int"].ports["vnet0"].tag, None);
    // The external IDs stay.
    assert_eq!(c.bridges["br-int"].ports["vnet0"].external_ids.len(), 4);

    let teardown = ["--timeout=5", "--", "--if-exists", "del-port", "vnet0"];
    assert!(vs(&mut c, &teardown).changed);
    assert_eq!(c.bridge_of_port("vnet0"), None);
    assert_eq!(c, seed());
    // Again: nothing to do, and no error.
    assert_eq!(vs(&mut c, &teardown), Outcome::default());
    // The live change on a port that is gone: --if-exists makes it a no-op.
    assert_eq!(
        run(&mut c, &change(Some("tag=7")), &NoLiveState),
        Outcome::default()
    );
}

#[test]
fn libvirt_iface_to_br() {
    let mut c = seed();
    libvirt_add_port(&mut c, "vnet0", &[]);
    assert_eq!(
        ok(&mut c, &["--timeout=5", "iface-to-br", "vnet0"]),
        "br-int\n"
    );
    err(
        &mut c,
        &["--timeout=5", "iface-to-br", "vnet9"],
        "no interface named vnet9",
    );
}

#[test]
fn libvirt_statistics() {
    let mut c = seed();
    libvirt_add_port(&mut c, "vnet0", &[]);
    let mut live = FakeLive::default();
    live.stats.insert(
        "vnet0".into(),
        vec![
            ("rx_packets".into(), 7),
            ("rx_bytes".into(), 1234),
            ("tx_bytes".into(), 99),
            ("collisions".into(), 0),
            ("tx_packets".into(), 2),
        ],
    );
    let list = |c: &mut Config, live: &FakeLive, name: &str| {
        vs_live(
            c,
            live,
            &[
                "--timeout=5",
                "--if-exists",
                "--format=list",
                "--data=json",
                "--no-headings",
                "--columns=statistics",
                "list",
                "Interface",
                name,
            ],
        )
    };
    let o = list(&mut c, &live, "vnet0");
    assert_eq!(
        o.stdout,
        "[\"map\",[[\"collisions\",0],[\"rx_bytes\",1234],[\"rx_packets\",7],[\"tx_bytes\",99],[\"tx_packets\",2]]]\n"
    );
    assert_eq!((o.exit_code, o.changed), (0, false));
    // No such interface: empty output, which libvirt reads as "no statistics".
    assert_eq!(list(&mut c, &live, "vnet9"), Outcome::default());
    // Older libvirt reads counters one by one.
    let o = vs_live(
        &mut c,
        &live,
        &[
            "--timeout=5",
            "get",
            "Interface",
            "vnet0",
            "statistics:rx_bytes",
            "statistics:rx_packets",
            "statistics:tx_bytes",
            "statistics:tx_packets",
        ],
    );
    assert_eq!(o.stdout, "1234\n7\n99\n2\n");
}

#[test]
fn ovs_docker_add_find_vlan_and_delete() {
    let mut c = seed();
    let t = "--timeout=60";
    // br-exists BR || add-br BR
    assert_eq!(vs(&mut c, &[t, "br-exists", "br-docker"]).exit_code, 2);
    ok(&mut c, &[t, "add-br", "br-docker"]);
    assert_eq!(vs(&mut c, &[t, "br-exists", "br-docker"]).exit_code, 0);
    for (port, container, iface) in [
        ("5d1f0c2a9b8e7_l", "5d1f0c2a9b8e7", "eth0"),
        ("5d1f0c2a9b8e7_m", "5d1f0c2a9b8e7", "eth1"),
        ("a0b1c2d3e4f5a_l", "a0b1c2d3e4f5a", "eth0"),
    ] {
        ok(
            &mut c,
            &[
                t,
                "--may-exist",
                "add-port",
                "br-docker",
                port,
                "--",
                "set",
                "interface",
                port,
                &format!("external_ids:container_id={container}"),
                &format!("external_ids:container_iface={iface}"),
            ],
        );
    }
    let find = |c: &mut Config, conditions: &[&str]| {
        let mut a = vec![
            t,
            "--data=bare",
            "--no-heading",
            "--columns=name",
            "find",
            "interface",
        ];
        a.extend_from_slice(conditions);
        ok(c, &a)
    };
    assert_eq!(
        find(
            &mut c,
            &[
                "external_ids:container_id=5d1f0c2a9b8e7",
                "external_ids:container_iface=eth1"
            ]
        ),
        "5d1f0c2a9b8e7_m\n"
    );
    // One value a line, a blank line between records.
    assert_eq!(
        find(&mut c, &["external_ids:container_id=5d1f0c2a9b8e7"]),
        "5d1f0c2a9b8e7_l\n\n5d1f0c2a9b8e7_m\n"
    );
    assert_eq!(find(&mut c, &["external_ids:container_id=nope"]), "");

    ok(&mut c, &[t, "set", "port", "5d1f0c2a9b8e7_l", "tag=5"]);
    assert_eq!(c.bridges["br-docker"].ports["5d1f0c2a9b8e7_l"].tag, Some(5));
    ok(&mut c, &[t, "--if-exists", "del-port", "5d1f0c2a9b8e7_l"]);
    ok(&mut c, &[t, "--if-exists", "del-port", "5d1f0c2a9b8e7_l"]);
    assert_eq!(
        find(&mut c, &["external_ids:container_id=5d1f0c2a9b8e7"]),
        "5d1f0c2a9b8e7_m\n"
    );
}

/// A system port of any name is stored as such; the daemon decides what it can attach.
#[test]
fn system_ports_of_any_name_are_stored() {
    let mut c = seed();
    ok(&mut c, &["add-port", "br-int", "eth1"]);
    ok(
        &mut c,
        &[
            "add-port",
            "br-int",
            "veth-a",
            "--",
            "set",
            "interface",
            "veth-a",
            "type=system",
        ],
    );
    for name in ["eth1", "veth-a"] {
        assert_eq!(c.bridges["br-int"].ports[name].kind, InterfaceType::System);
        assert_eq!(ok(&mut c, &["get", "interface", name, "type"]), "\"\"\n");
    }
    // A name that is already a tunnel, a port or a bridge is refused as OVS refuses it.
    err(
        &mut c,
        &["add-port", "br-int", "gre0"],
        "cannot create a port named gre0 because a port named gre0 already exists on bridge br-int",
    );
    ok(&mut c, &["add-br", "br1"]);
    err(
        &mut c,
        &["add-port", "br1", "eth1"],
        "cannot create a port named eth1 because a port named eth1 already exists on bridge br-int",
    );
    err(
        &mut c,
        &["add-port", "br-int", "br1"],
        "cannot create a port named br1 because a bridge named br1 already exists",
    );
}

/// The read-only columns ovs-vswitchd fills come from the daemon's live state.
#[test]
fn live_interface_columns() {
    let mut c = seed();
    libvirt_add_port(&mut c, "vnet0", &[]);
    let mut live = FakeLive::default();
    live.mac.insert("vnet0".into(), "fe:54:00:12:34:56".into());
    live.state.insert("vnet0".into(), (true, false));
    live.ofport.insert("vnet0".into(), 4);
    let o = vs_live(
        &mut c,
        &live,
        &[
            "get",
            "interface",
            "vnet0",
            "mac_in_use",
            "admin_state",
            "link_state",
            "ofport",
        ],
    );
    assert_eq!(o.stdout, "\"fe:54:00:12:34:56\"\nup\ndown\n4\n");
    // Unknown to the daemon: empty, as OVS shows a port vswitchd has not opened.
    assert_eq!(
        ok(
            &mut c,
            &["get", "interface", "vnet0", "mac_in_use", "link_state"]
        ),
        "[]\n[]\n"
    );
    for col in ["mac_in_use", "admin_state", "link_state"] {
        err(
            &mut c,
            &["set", "interface", "vnet0", &format!("{col}=up")],
            &format!("cannot modify read-only column {col} in table Interface"),
        );
    }
}
