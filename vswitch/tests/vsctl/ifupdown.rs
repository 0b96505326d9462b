//! The command lines Debian's ifupdown hook for OVS (`/usr/share/openvswitch/scripts/ifupdown.sh`,
//! OVS 3.1) sends for each `ovs_type` stanza, as the shell expands them, and grebe's own hook
//! (packaging/ifupdown/ifupdown.sh) sends the same. The script always appends
//! `${OVS_EXTRA+-- $OVS_EXTRA}`, and its `eval OVS_EXTRA=...` sets OVS_EXTRA even when the stanza
//! has no `ovs_extra`, so every `ifup` line ends with an empty `--` command, which OVS skips.

use crate::*;

const T: &str = "--timeout=5";

/// `OVSBridge`: `ovs_vsctl -- --may-exist add-br "${IFACE}" ${IF_OVS_OPTIONS} ${OVS_EXTRA+-- $OVS_EXTRA}`.
fn bridge_up(c: &mut Config, bridge: &str, options: &[&str], extra: &[&str]) -> Outcome {
    let mut a = vec![T, "--", "--may-exist", "add-br", bridge];
    a.extend_from_slice(options);
    a.push("--");
    a.extend_from_slice(extra);
    vs(c, &a)
}

/// `OVSIntPort`: `add-port` then `set Interface "${IFACE}" type=internal`.
fn int_port_up(c: &mut Config, bridge: &str, port: &str, options: &[&str]) -> Outcome {
    let mut a = vec![T, "--", "--may-exist", "add-port", bridge, port];
    a.extend_from_slice(options);
    a.extend_from_slice(&["--", "set", "Interface", port, "type=internal", "--"]);
    vs(c, &a)
}

/// `OVSTunnel`: `set Interface "${IFACE}" type=${IF_OVS_TUNNEL_TYPE} ${IF_OVS_TUNNEL_OPTIONS}`.
fn tunnel_up(c: &mut Config, bridge: &str, port: &str, kind: &str, options: &[&str]) -> Outcome {
    let kind = format!("type={kind}");
    let mut a = vec![
        T,
        "--",
        "--may-exist",
        "add-port",
        bridge,
        port,
        "--",
        "set",
        "Interface",
        port,
        &kind,
    ];
    a.extend_from_slice(options);
    a.push("--");
    vs(c, &a)
}

#[track_caller]
fn succeeded(o: Outcome) -> bool {
    assert_eq!(
        (o.exit_code, o.stderr.as_str(), o.stdout.as_str()),
        (0, "", ""),
        "{o:?}"
    );
    o.changed
}

/// The seed host's stanzas (br-int, mgmt0, gre0) give the seed's configuration, and a second
/// `ifup` (a reboot with the configuration kept) changes nothing.
#[test]
fn seed_stanzas_build_the_seed() {
    // The hook's probe, answered by the client even before the daemon runs, as OVS's is.
    let version = vswitch::vsctl::local_answer(&args(&[T, "--version"]));
    assert!(version.is_some_and(|v| v.starts_with("ovs-vsctl (grebe) ")));
    assert_eq!(
        vswitch::vsctl::local_answer(&args(&[T, "--", "--may-exist", "add-br", "br-int"])),
        None
    );
    let mut c = Config::default();
    let up = |c: &mut Config| {
        [
            succeeded(bridge_up(c, "br-int", &[], &[])),
            succeeded(int_port_up(c, "br-int", "mgmt0", &[])),
            succeeded(tunnel_up(
                c,
                "br-int",
                "gre0",
                "gre",
                &["options:remote_ip=192.0.2.15"],
            )),
        ]
    };
    assert_eq!(up(&mut c), [true, true, true]);
    assert_eq!(
        c,
        seed(),
        "the stanzas build what the seed's command lines build"
    );
    assert_eq!(up(&mut c), [false, false, false]);
}

/// `ovs_options` (port columns after add-port) and `ovs_extra` (whole commands, `--`-separated,
/// with `${IFACE}` expanded by the script's eval) reach grebe as OVS would take them.
#[test]
fn ovs_options_and_ovs_extra() {
    let mut c = Config::default();
    succeeded(bridge_up(
        &mut c,
        "br-int",
        &[],
        &[
            "set",
            "bridge",
            "br-int",
            "stp_enable=true",
            "--",
            "set",
            "bridge",
            "br-int",
            "other_config:mac-aging-time=600",
        ],
    ));
    let b = &c.bridges["br-int"];
    assert!(b.stp_enable);
    assert_eq!(b.other_config["mac-aging-time"], "600");
    succeeded(int_port_up(&mut c, "br-int", "mgmt0", &["tag=100"]));
    assert_eq!(c.bridges["br-int"].ports["mgmt0"].tag, Some(100));
    assert_eq!(
        c.bridges["br-int"].ports["mgmt0"].kind,
        InterfaceType::Internal
    );
    succeeded(tunnel_up(
        &mut c,
        "br-int",
        "gre1",
        "gre",
        &["options:remote_ip=192.0.2.16", "options:key=7"],
    ));
    let gre1 = &c.bridges["br-int"].ports["gre1"];
    assert_eq!(gre1.kind, InterfaceType::Gre);
    assert_eq!(gre1.options["remote_ip"], "192.0.2.16");
    assert_eq!(gre1.options["key"], "7");
    // OVSPort: an existing interface (a NIC, a container's veth) as a system port.
    let o = vs(
        &mut c,
        &[T, "--", "--may-exist", "add-port", "br-int", "eth1", "--"],
    );
    assert!(succeeded(o));
    assert_eq!(
        c.bridges["br-int"].ports["eth1"].kind,
        InterfaceType::System
    );
    // A changed stanza (a new remote) is applied by the next ifup, not refused as existing.
    succeeded(tunnel_up(
        &mut c,
        "br-int",
        "gre1",
        "gre",
        &["options:remote_ip=192.0.2.17", "options:key=7"],
    ));
    assert_eq!(
        c.bridges["br-int"].ports["gre1"].options["remote_ip"],
        "192.0.2.17"
    );
}

/// `ifdown`: `-- --if-exists del-port "${IF_OVS_BRIDGE}" "${IFACE}"` and `-- --if-exists del-br`,
/// each harmless when repeated.
#[test]
fn ifdown_removes_ports_then_the_bridge() {
    let mut c = seed();
    for port in ["gre0", "mgmt0"] {
        ok(
            &mut c,
            &[T, "--", "--if-exists", "del-port", "br-int", port],
        );
        assert!(!c.bridges["br-int"].ports.contains_key(port));
        ok(
            &mut c,
            &[T, "--", "--if-exists", "del-port", "br-int", port],
        );
    }
    ok(&mut c, &[T, "--", "--if-exists", "del-br", "br-int"]);
    assert!(c.bridges.is_empty());
    ok(&mut c, &[T, "--", "--if-exists", "del-br", "br-int"]);
    // As OVS's cmd_del_port(): with the port gone the bridge is not looked up, so ifdown in any
    // order (the bridge's stanza first) succeeds.
    ok(
        &mut c,
        &[T, "--", "--if-exists", "del-port", "br-int", "mgmt0"],
    );
    assert_eq!(c, Config::default());
}

/// Stanzas grebe cannot honour fail with a message and change nothing, so the hook can fail
/// the interface instead of marking it up without its port.
#[test]
fn unsupported_stanzas_fail_cleanly() {
    let mut c = seed();
    // OVSBond: `-- --fake-iface add-bond BR IFACE ${IF_OVS_BONDS} ...`
    err(
        &mut c,
        &[
            T,
            "--",
            "--fake-iface",
            "add-bond",
            "br-int",
            "bond0",
            "eth1",
            "eth2",
            "--",
        ],
        "grebe does not support the 'add-bond' command",
    );
    // OVSPatchPort: `set Interface IFACE type=patch options:peer=...`
    let o = vs(
        &mut c,
        &[
            T,
            "--",
            "--may-exist",
            "add-port",
            "br-int",
            "patch0",
            "--",
            "set",
            "Interface",
            "patch0",
            "type=patch",
            "options:peer=patch1",
            "--",
        ],
    );
    assert_eq!(o.exit_code, 1, "{o:?}");
    assert!(
        o.stderr.starts_with("ovs-vsctl: ") && o.stderr.contains("patch"),
        "{o:?}"
    );
    assert!(!c.bridges["br-int"].ports.contains_key("patch0"));
    // OVSTunnel of another type.
    let o = tunnel_up(
        &mut c,
        "br-int",
        "vx0",
        "vxlan",
        &["options:remote_ip=192.0.2.16"],
    );
    assert_eq!(o.exit_code, 1, "{o:?}");
    assert!(o.stderr.contains("vxlan"), "{o:?}");
    assert_eq!(c, seed());
}
