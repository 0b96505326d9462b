//! Workloads attached by other people's tools, run unchanged: OVS's own `ovs-docker` script
//! (Debian's openvswitch-common) and libvirt's ovs-vsctl command lines for a guest with
//! `<virtualport type='openvswitch'/>` (src/util/virnetdevopenvswitch.c), against grebe invoked
//! as `ovs-vsctl`. A container is a process in its own namespace, found by a docker stand-in
//! (`Lab::tool_path`); a guest's tap is held open by another process, as qemu holds it.
//!
//! Under CI these run, never skip: `.ci/test` installs openvswitch-switch (which brings
//! openvswitch-common's `ovs-docker`) and uuid-runtime.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::*;
use lab::netns::Lab;

const WAIT: Duration = Duration::from_secs(10);

fn ovs_docker_installed() -> bool {
    Path::new("/usr/bin/ovs-docker").exists()
}

/// Runs a tool someone else wrote on `host`, with grebe as its `ovs-vsctl`.
fn tool(lab: &Lab, host: &str, program: &str, args: &[&str]) -> Output {
    lab.tool_command(host, program)
        .unwrap()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"))
}

fn tool_ok(lab: &Lab, host: &str, program: &str, args: &[&str]) -> String {
    let out = tool(lab, host, program, args);
    assert!(
        out.status.success(),
        "{program} {} on {host} failed ({}): {}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ovs_docker_attaches_containers_that_talk_through_gre() {
    let Some(lab) = lab_with(
        "dock",
        &[
            ("openvswitch-common", ovs_docker_installed()),
            ("uuid-runtime", Path::new("/usr/bin/uuidgen").exists()),
        ],
    ) else {
        return;
    };
    two_hosts(&lab);
    for (host, container, address) in [
        ("a", "web", "198.51.100.101/24"),
        ("b", "db", "198.51.100.102/24"),
    ] {
        lab.add_docker_container(container).unwrap();
        tool_ok(
            &lab,
            host,
            "ovs-docker",
            &[
                "add-port",
                "br-int",
                "eth1",
                container,
                &format!("--ipaddress={address}"),
                "--mtu=1500",
            ],
        );
    }
    // The containers reach each other and the hosts through the tunnel.
    lab.wait_ping("web", "198.51.100.102", WAIT).unwrap();
    lab.wait_ping("db", "198.51.100.1", WAIT).unwrap();
    // set-vlan makes a container's port an access port: web alone in VLAN 100 reaches
    // nobody, both in it reach each other across the tunnel, and not the hosts' mgmt0.
    tool_ok(
        &lab,
        "a",
        "ovs-docker",
        &["set-vlan", "br-int", "eth1", "web", "100"],
    );
    assert!(
        lab.ping("web", "198.51.100.102", 1).is_err(),
        "VLAN 100 reached VLAN 0"
    );
    tool_ok(
        &lab,
        "b",
        "ovs-docker",
        &["set-vlan", "br-int", "eth1", "db", "100"],
    );
    lab.wait_ping("web", "198.51.100.102", WAIT).unwrap();
    assert!(
        lab.ping("web", "198.51.100.2", 1).is_err(),
        "VLAN 100 reached mgmt0"
    );
    // A VLAN that cannot exist is refused with ovsdb's message, the port as it was
    // (ovs-docker itself exits 0 whatever ovs-vsctl said).
    let bad = tool(
        &lab,
        "a",
        "ovs-docker",
        &["set-vlan", "br-int", "eth1", "web", "4096"],
    );
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr),
        "ovs-vsctl: constraint violation: 4096 is not in the valid range 0 to 4095 (inclusive)\n"
    );
    let web_port = tool_ok(
        &lab,
        "a",
        "ovs-vsctl",
        &[
            "--data=bare",
            "--no-heading",
            "--columns=name",
            "find",
            "interface",
            "external_ids:container_id=web",
        ],
    );
    assert_eq!(
        lab.vsctl_ok("a", &["get", "port", web_port.trim(), "tag"])
            .unwrap()
            .trim(),
        "100"
    );
    lab.ping("web", "198.51.100.102", 1).unwrap();
    // ovs-docker finds its port again by external_ids, as it does on del-port.
    let port = tool_ok(
        &lab,
        "a",
        "ovs-vsctl",
        &[
            "--data=bare",
            "--no-heading",
            "--columns=name",
            "find",
            "interface",
            "external_ids:container_id=web",
            "external_ids:container_iface=eth1",
        ],
    );
    let port = port.trim();
    assert!(
        port.ends_with("_l"),
        "ovs-docker's host-side veth: {port:?}"
    );
    let ports = lab.vsctl_ok("a", &["list-ports", "br-int"]).unwrap();
    assert!(ports.lines().any(|p| p == port), "{ports}");
    // A second add-port for the same container and interface is refused by ovs-docker itself.
    let again = tool(
        &lab,
        "a",
        "ovs-docker",
        &["add-port", "br-int", "eth1", "web"],
    );
    assert!(!again.status.success(), "the port is already attached");
    tool_ok(
        &lab,
        "a",
        "ovs-docker",
        &["del-port", "br-int", "eth1", "web"],
    );
    let ports = lab.vsctl_ok("a", &["list-ports", "br-int"]).unwrap();
    assert!(!ports.lines().any(|p| p == port), "{ports}");
    tool_ok(&lab, "b", "ovs-docker", &["del-ports", "br-int", "db"]);
    let left = tool_ok(
        &lab,
        "b",
        "ovs-vsctl",
        &[
            "--data=bare",
            "--no-heading",
            "--columns=name",
            "find",
            "interface",
            "external_ids:container_id=db",
        ],
    );
    assert_eq!(
        left.trim(),
        "",
        "del-ports removed every port of the container"
    );
}

#[test]
fn libvirt_attaches_and_detaches_a_guest_with_its_own_command_lines() {
    let Some(lab) = lab("virt") else {
        return;
    };
    two_hosts(&lab);
    lab.add_guest("a", "vm1", "vnet0", "198.51.100.111/24")
        .unwrap();
    let mac = mac_of(&lab, "vm1", "eth0");
    // virNetDevOpenvswitchAddPort, for a guest without VLANs.
    libvirt_add_port(&lab, "a", "vnet0", &[], &mac);
    lab.wait_ping("vm1", "198.51.100.2", WAIT).unwrap();
    // The quotes were the value's, not part of it.
    let got = tool_ok(
        &lab,
        "a",
        "ovs-vsctl",
        &[
            "--timeout=5",
            "get",
            "Interface",
            "vnet0",
            "external_ids:attached-mac",
        ],
    );
    assert_eq!(got.trim(), format!("\"{mac}\""));
    assert_eq!(
        tool_ok(
            &lab,
            "a",
            "ovs-vsctl",
            &["--timeout=5", "iface-to-br", "vnet0"]
        )
        .trim(),
        "br-int"
    );
    // The statistics query libvirt parses.
    let stats = tool_ok(
        &lab,
        "a",
        "ovs-vsctl",
        &[
            "--timeout=5",
            "--if-exists",
            "--format=list",
            "--data=json",
            "--no-headings",
            "--columns=statistics",
            "list",
            "Interface",
            "vnet0",
        ],
    );
    let stats: serde_json::Value = serde_json::from_str(stats.trim()).expect("statistics JSON");
    assert_eq!(stats[0], "map", "{stats}");
    let rx_packets = stats[1]
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv[0] == "rx_packets")
        .and_then(|kv| kv[1].as_u64())
        .expect("rx_packets");
    assert!(rx_packets > 0, "the guest's pings were counted: {stats}");
    // A live VLAN change, then teardown (virNetDevOpenvswitchRemovePort).
    tool_ok(
        &lab,
        "a",
        "ovs-vsctl",
        &[
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
            "--",
            "--if-exists",
            "set",
            "Port",
            "vnet0",
            "tag=42",
        ],
    );
    assert_eq!(
        lab.vsctl_ok("a", &["get", "port", "vnet0", "tag"])
            .unwrap()
            .trim(),
        "42"
    );
    tool_ok(
        &lab,
        "a",
        "ovs-vsctl",
        &["--timeout=5", "--", "--if-exists", "del-port", "vnet0"],
    );
    let ports = lab.vsctl_ok("a", &["list-ports", "br-int"]).unwrap();
    assert!(!ports.lines().any(|p| p == "vnet0"), "{ports}");
    let gone = tool(
        &lab,
        "a",
        "ovs-vsctl",
        &["--timeout=5", "iface-to-br", "vnet0"],
    );
    assert!(!gone.status.success(), "no bridge for a deleted port");
    // Deleting again is fine with --if-exists.
    tool_ok(
        &lab,
        "a",
        "ovs-vsctl",
        &["--timeout=5", "--", "--if-exists", "del-port", "vnet0"],
    );
}

/// The ports of `dpif/show --format json`, by name, with their kind and port number: what the
/// datapath carries.
fn datapath_ports(lab: &Lab, host: &str) -> Vec<(String, String, u64)> {
    let v = dpif(lab, host);
    let mut ports: Vec<_> = v["bridges"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["ports"].as_array().unwrap().clone())
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["type"].as_str().unwrap().to_owned(),
                p["port_no"].as_u64().unwrap(),
            )
        })
        .collect();
    ports.sort();
    ports
}

#[test]
fn refused_command_lines_leave_the_daemon_as_it_was() {
    let Some(lab) = lab("refuse") else { return };
    two_hosts(&lab);
    lab.add_guest("a", "vm1", "vnet0", "198.51.100.111/24")
        .unwrap();
    lab.vsctl_ok("a", &["add-port", "br-int", "vnet0", "tag=0"])
        .unwrap();
    lab.wait_ping("vm1", "198.51.100.2", WAIT).unwrap();

    let file = lab.rundir("a").join("conf.json");
    let saved = std::fs::read(&file).unwrap();
    let show = lab.vsctl_ok("a", &["show"]).unwrap();
    let ports = datapath_ports(&lab, "a");
    let range = |n: &str| {
        format!("constraint violation: {n} is not in the valid range 0 to 4095 (inclusive)")
    };
    let not_int = |v: &str| format!("\"{v}\" is not a valid integer or range");
    let attached_mac = "external-ids:attached-mac=\"52:54:00:12:34:56\"";
    let refused: &[(&[&str], String)] = &[
        (&["set", "port", "vnet0", "tag=4096"], range("4096")),
        (&["set", "port", "vnet0", "tag=-1"], range("-1")),
        (&["set", "port", "vnet0", "trunks=4096"], range("4096")),
        (&["set", "port", "vnet0", "trunks=abc"], not_int("abc")),
        (&["set", "port", "vnet0", "trunks=[1,x]"], not_int("x")),
        (
            &["set", "port", "vnet0", "vlan_mode=bogus"],
            "constraint violation: bogus is not one of the allowed values ([access, \
             dot1q-tunnel, native-tagged, native-untagged, trunk])"
                .into(),
        ),
        (
            &["add-port", "br-int", "gre0"],
            "cannot create a port named gre0 because a port named gre0 already exists on \
             bridge br-int"
                .into(),
        ),
        // libvirt attaching a second guest in a VLAN that cannot exist: nothing of the line
        // is applied, its external-ids neither.
        (
            &[
                "--timeout=5",
                "--",
                "--may-exist",
                "add-port",
                "br-int",
                "vnet1",
                "tag=4096",
                "--",
                "set",
                "Interface",
                "vnet1",
                attached_mac,
                "--",
                "set",
                "Interface",
                "vnet1",
                "external-ids:iface-status=active",
            ],
            range("4096"),
        ),
    ];
    for (args, msg) in refused {
        let out = tool(&lab, "a", "ovs-vsctl", args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("ovs-vsctl: {msg}\n"),
            "{args:?}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            saved,
            "{args:?} changed the saved configuration"
        );
        assert_eq!(lab.vsctl_ok("a", &["show"]).unwrap(), show, "{args:?}");
        assert_eq!(datapath_ports(&lab, "a"), ports, "{args:?}");
    }
    // The guest and the tunnel carry traffic as before.
    lab.ping("vm1", "198.51.100.2", 2).unwrap();
    assert_eq!(
        lab.vsctl_ok("a", &["get", "port", "vnet0", "tag"])
            .unwrap()
            .trim(),
        "0"
    );
}

/// virNetDevOpenvswitchAddPort's command line for guest NIC `tap` with MAC `mac`.
fn libvirt_add_port(lab: &Lab, host: &str, tap: &str, vlan: &[&str], mac: &str) {
    let args = lab::workload::libvirt_add_port_args(tap, vlan, mac);
    tool_ok(lab, host, "ovs-vsctl", &lab::netns::argv(&args));
}

#[test]
fn libvirt_guests_in_vlans_with_its_own_add_port_forms() {
    let Some(lab) = lab("virtvlan") else {
        return;
    };
    two_hosts(&lab);
    for (guest, tap, address) in [
        ("vm1", "vnet0", "198.51.100.121/24"),
        ("vm2", "vnet1", "198.51.100.122/24"),
        ("vm3", "vnet2", "198.51.100.123/24"),
    ] {
        lab.add_guest("a", guest, tap, address).unwrap();
    }
    // <vlan><tag id='42'/></vlan>; <vlan trunk='yes'> with a native untagged 42 and 43;
    // no <vlan>.
    libvirt_add_port(
        &lab,
        "a",
        "vnet0",
        &["tag=42"],
        &mac_of(&lab, "vm1", "eth0"),
    );
    libvirt_add_port(
        &lab,
        "a",
        "vnet1",
        &["vlan_mode=native-untagged", "tag=42", "trunk=42,43"],
        &mac_of(&lab, "vm2", "eth0"),
    );
    libvirt_add_port(&lab, "a", "vnet2", &[], &mac_of(&lab, "vm3", "eth0"));
    assert_eq!(
        lab.vsctl_ok("a", &["get", "port", "vnet1", "tag", "trunks", "vlan_mode"])
            .unwrap(),
        "42\n[42, 43]\nnative-untagged\n"
    );
    assert_eq!(
        lab.vsctl_ok("a", &["get", "port", "vnet0", "tag", "trunks", "vlan_mode"])
            .unwrap(),
        "42\n[]\n[]\n"
    );
    // The two guests of VLAN 42 talk; the untagged guest reaches the other host but neither
    // of them.
    lab.wait_ping("vm1", "198.51.100.122", WAIT).unwrap();
    lab.wait_ping("vm3", "198.51.100.2", WAIT).unwrap();
    assert!(
        lab.ping("vm3", "198.51.100.121", 1).is_err(),
        "VLAN 0 reached VLAN 42"
    );
    assert!(
        lab.ping("vm3", "198.51.100.122", 1).is_err(),
        "VLAN 0 reached VLAN 42"
    );
    // <vlan trunk='yes'> with tags 10 and 20 only, changed live.
    tool_ok(
        &lab,
        "a",
        "ovs-vsctl",
        &[
            "--timeout=5",
            "--",
            "--if-exists",
            "clear",
            "Port",
            "vnet1",
            "tag",
            "--",
            "--if-exists",
            "clear",
            "Port",
            "vnet1",
            "trunk",
            "--",
            "--if-exists",
            "clear",
            "Port",
            "vnet1",
            "vlan_mode",
            "--",
            "--if-exists",
            "set",
            "Port",
            "vnet1",
            "trunk=10,20",
        ],
    );
    assert_eq!(
        lab.vsctl_ok("a", &["get", "port", "vnet1", "tag", "trunks", "vlan_mode"])
            .unwrap(),
        "[]\n[10, 20]\n[]\n"
    );
    assert!(
        lab.ping("vm1", "198.51.100.122", 1).is_err(),
        "vnet1 left VLAN 42"
    );
}
