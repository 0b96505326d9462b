//! The bridge and port commands and the generic database commands, and what they store.

use crate::*;

#[test]
fn seed_commands_build_the_expected_config() {
    let mut c = Config::default();
    let o = vs(&mut c, &["--may-exist", "add-br", "br-int"]);
    assert!(o.changed && o.exit_code == 0 && o.stdout.is_empty());
    let o = vs(
        &mut c,
        &[
            "add-port",
            "br-int",
            "mgmt0",
            "--",
            "set",
            "interface",
            "mgmt0",
            "type=internal",
        ],
    );
    assert!(o.changed);
    let o = vs(&mut c, &["add-port", "br-int", "gre0"]);
    assert!(o.changed);
    assert_eq!(c.bridges["br-int"].ports["gre0"], Interface::default());
    let o = vs(
        &mut c,
        &[
            "set",
            "interface",
            "gre0",
            "type=gre",
            "options:remote_ip=192.0.2.15",
        ],
    );
    assert!(o.changed);

    let mut want = Config::default();
    let mut br = Bridge::new_with_local_port("br-int");
    br.ports.insert(
        "mgmt0".into(),
        Interface {
            kind: InterfaceType::Internal,
            ..Interface::default()
        },
    );
    br.ports.insert(
        "gre0".into(),
        Interface {
            kind: InterfaceType::Gre,
            options: [("remote_ip".to_string(), "192.0.2.15".to_string())].into(),
            ..Interface::default()
        },
    );
    want.bridges.insert("br-int".into(), br);
    assert_eq!(c, want);
    c.validate().unwrap();
    assert_eq!(c, seed());

    // Re-running the idempotent form changes nothing.
    let o = vs(&mut c, &["--may-exist", "add-br", "br-int"]);
    assert_eq!(o, Outcome::default());
    // Setting a value it already has is not a change.
    let o = vs(&mut c, &["set", "interface", "gre0", "type=gre"]);
    assert!(!o.changed && o.exit_code == 0);
}

#[test]
fn bridge_and_port_commands() {
    let mut c = seed();
    assert_eq!(ok(&mut c, &["list-br"]), "br-int\n");
    assert_eq!(ok(&mut c, &["list-ports", "br-int"]), "gre0\nmgmt0\n");
    assert_eq!(ok(&mut c, &["list-ifaces", "br-int"]), "gre0\nmgmt0\n");
    assert_eq!(ok(&mut c, &["port-to-br", "gre0"]), "br-int\n");
    assert_eq!(ok(&mut c, &["iface-to-br", "mgmt0"]), "br-int\n");
    assert_eq!(ok(&mut c, &["br-to-vlan", "br-int"]), "0\n");
    assert_eq!(ok(&mut c, &["br-to-parent", "br-int"]), "br-int\n");
    assert_eq!(ok(&mut c, &["--real", "list-br"]), "br-int\n");
    assert_eq!(ok(&mut c, &["--fake", "list-br"]), "");
    assert_eq!(
        ok(
            &mut c,
            &["init", "--", "comment", "x", "y", "--", "list-br"]
        ),
        "br-int\n"
    );

    ok(&mut c, &["add-br", "br1"]);
    assert_eq!(c.bridges["br1"], Bridge::new_with_local_port("br1"));
    assert_eq!(ok(&mut c, &["list-br"]), "br-int\nbr1\n");
    assert_eq!(ok(&mut c, &["list-ports", "br1"]), "");
    ok(&mut c, &["add-port", "br1", "p1"]);
    ok(&mut c, &["del-port", "br1", "p1"]);
    assert_eq!(c.bridge_of_port("p1"), None);
    ok(&mut c, &["add-port", "br1", "p1"]);
    ok(&mut c, &["--with-iface", "del-port", "p1"]);
    assert_eq!(c.bridge_of_port("p1"), None);
    // del-br takes the bridge's ports with it.
    ok(&mut c, &["add-port", "br1", "p2"]);
    ok(&mut c, &["del-br", "br1"]);
    assert_eq!(c.bridge_of_port("p2"), None);
    assert_eq!(c, seed());

    // Trailing add-port settings: Port columns, and (grebe) the
    // Interface columns of the same record.
    ok(
        &mut c,
        &[
            "add-port",
            "br-int",
            "gre1",
            "type=gre",
            "options:remote_ip=192.0.2.16",
            "other_config:a=b",
            "external-ids:owner=me",
        ],
    );
    let i = &c.bridges["br-int"].ports["gre1"];
    assert_eq!(i.kind, InterfaceType::Gre);
    assert_eq!(i.options["remote_ip"], "192.0.2.16");
    assert_eq!(i.other_config["a"], "b");
    assert_eq!(i.external_ids["owner"], "me");
    assert_eq!(
        ok(&mut c, &["get", "port", "gre1", "other_config", "type"]),
        "{a=b}\ngre\n"
    );
}

#[test]
fn get_set_remove_clear_round_trips() {
    let mut c = seed();
    assert_eq!(
        ok(&mut c, &["get", "interface", "gre0", "options"]),
        "{remote_ip=\"192.0.2.15\"}\n"
    );
    assert_eq!(ok(&mut c, &["get", "interface", "gre0", "type"]), "gre\n");
    assert_eq!(
        ok(&mut c, &["get", "interface", "mgmt0", "type"]),
        "internal\n"
    );
    ok(&mut c, &["add-port", "br-int", "eth1"]);
    assert_eq!(ok(&mut c, &["get", "interface", "eth1", "type"]), "\"\"\n");
    assert_eq!(
        ok(&mut c, &["get", "interface", "gre0", "options:remote_ip"]),
        "\"192.0.2.15\"\n"
    );
    assert_eq!(
        ok(
            &mut c,
            &[
                "get",
                "interface",
                "gre0",
                "mtu_request",
                "name",
                "error",
                "ofport",
                "mtu",
                "external_ids",
                "statistics"
            ]
        ),
        "[]\ngre0\n[]\n[]\n[]\n{}\n{}\n"
    );

    ok(
        &mut c,
        &[
            "set",
            "interface",
            "gre0",
            "options={remote_ip=192.0.2.15, key=5}",
        ],
    );
    assert_eq!(
        ok(&mut c, &["get", "interface", "gre0", "options"]),
        "{key=\"5\", remote_ip=\"192.0.2.15\"}\n"
    );
    ok(
        &mut c,
        &[
            "set",
            "interface",
            "gre0",
            "options:key=0x10",
            "options:ttl=64",
            "options:csum=true",
        ],
    );
    assert_eq!(
        ok(&mut c, &["get", "interface", "gre0", "options"]),
        "{csum=\"true\", key=\"0x10\", remote_ip=\"192.0.2.15\", ttl=\"64\"}\n"
    );
    assert_eq!(
        ok(
            &mut c,
            &["get", "interface", "gre0", "options:csum", "options:key"]
        ),
        "\"true\"\n\"0x10\"\n"
    );
    ok(&mut c, &["remove", "interface", "gre0", "options", "key"]);
    // KEY=VALUE removes only when the value matches.
    ok(
        &mut c,
        &[
            "remove",
            "interface",
            "gre0",
            "options",
            "csum=true",
            "ttl=63",
        ],
    );
    assert_eq!(
        ok(&mut c, &["get", "interface", "gre0", "options"]),
        "{remote_ip=\"192.0.2.15\", ttl=\"64\"}\n"
    );
    ok(&mut c, &["remove", "interface", "gre0", "options", "nokey"]);
    ok(
        &mut c,
        &[
            "add",
            "interface",
            "gre0",
            "options",
            "remote_ip=192.0.2.9",
            "seq=true",
            "remote_ip=192.0.2.7",
        ],
    );
    // As ovs-vsctl 3.1 (not its manual): add replaces an existing key's
    // value; among the arguments the first pair for a key wins.
    assert_eq!(
        ok(&mut c, &["get", "interface", "gre0", "options"]),
        "{remote_ip=\"192.0.2.9\", seq=\"true\", ttl=\"64\"}\n"
    );
    ok(&mut c, &["clear", "interface", "gre0", "options"]);
    assert_eq!(ok(&mut c, &["get", "interface", "gre0", "options"]), "{}\n");

    ok(&mut c, &["set", "interface", "gre0", "mtu_request=1400"]);
    assert_eq!(
        ok(&mut c, &["get", "interface", "gre0", "mtu_request"]),
        "1400\n"
    );
    assert_eq!(c.bridges["br-int"].ports["gre0"].mtu_request, Some(1400));
    ok(&mut c, &["set", "interface", "gre0", "mtu_request=[]"]);
    assert_eq!(c.bridges["br-int"].ports["gre0"].mtu_request, None);
    ok(&mut c, &["set", "interface", "gre0", "mtu_request= +1500"]);
    assert_eq!(c.bridges["br-int"].ports["gre0"].mtu_request, Some(1500));
    ok(
        &mut c,
        &["remove", "interface", "gre0", "mtu_request", "1500"],
    );
    assert_eq!(c.bridges["br-int"].ports["gre0"].mtu_request, None);
    ok(&mut c, &["add", "interface", "gre0", "mtu_request", "1450"]);
    ok(&mut c, &["clear", "interface", "gre0", "mtu_request"]);
    assert_eq!(
        ok(&mut c, &["get", "interface", "gre0", "mtu_request"]),
        "[]\n"
    );

    // Abbreviations and '-' for '_', as OVS.
    ok(&mut c, &["set", "Interface", "gre0", "external-ids:a=b c"]);
    assert_eq!(ok(&mut c, &["get", "int", "gre0", "ext"]), "{a=\"b c\"}\n");
    assert_eq!(ok(&mut c, &["get", "INTERFACE", "gre0", "TYPE"]), "gre\n");
    // type "" and system.
    ok(&mut c, &["set", "interface", "eth1", "type=system"]);
    ok(&mut c, &["set", "interface", "eth1", "type=\"\""]);
    assert_eq!(
        c.bridges["br-int"].ports["eth1"].kind,
        InterfaceType::System
    );

    // Bridge columns.
    ok(
        &mut c,
        &[
            "set",
            "bridge",
            "br-int",
            "other_config:mac-aging-time=60",
            "external_ids:x=y",
        ],
    );
    assert_eq!(
        ok(
            &mut c,
            &[
                "get",
                "bridge",
                "br-int",
                "name",
                "other_config",
                "external_ids:x",
                "stp_enable",
                "rstp_enable"
            ]
        ),
        "br-int\n{mac-aging-time=\"60\"}\ny\nfalse\nfalse\n"
    );
    assert_eq!(
        ok(&mut c, &["get", "bridge", "br-int", "ports"]),
        "[br-int, eth1, gre0, mgmt0]\n"
    );
    assert_eq!(
        ok(&mut c, &["get", "open_vswitch", ".", "bridges"]),
        "[br-int]\n"
    );
    ok(&mut c, &["set", "bridge", "br-int", "stp_enable=true"]);
    assert_eq!(
        ok(
            &mut c,
            &["get", "bridge", "br-int", "stp_enable", "rstp_enable"]
        ),
        "true\nfalse\n"
    );
    ok(&mut c, &["set", "bridge", "br-int", "stp_enable=false"]);
    ok(
        &mut c,
        &[
            "remove",
            "bridge",
            "br-int",
            "other_config",
            "mac-aging-time",
        ],
    );
    assert!(c.bridges["br-int"].other_config.is_empty());
    ok(&mut c, &["clear", "bridge", "br-int", "external_ids"]);
    assert!(c.bridges["br-int"].external_ids.is_empty());
}

/// OVS-userspace scripts set datapath_type=netdev: stored, shown, read back, and ignored.
#[test]
fn datapath_type_is_accepted_for_ovs_scripts() {
    let mut c = seed();
    ok(&mut c, &["set", "bridge", "br-int", "datapath_type=netdev"]);
    assert_eq!(
        ok(&mut c, &["get", "bridge", "br-int", "datapath_type"]),
        "netdev\n"
    );
    assert!(ok(&mut c, &["show"]).contains("    Bridge br-int\n        datapath_type: netdev\n"));
    err(
        &mut c,
        &["set", "bridge", "br-int", "datapath_type=dpdk"],
        "bridge br-int: datapath_type=dpdk: grebe has one datapath; it accepts \"\", system and netdev (and ignores them)",
    );
}
