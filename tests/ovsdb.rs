//! grebe in ovs-vswitchd's place (`grebe daemon --ovsdb`): a real `ovsdb-server` holds the
//! configuration and OVS's own `ovs-vsctl` binary writes it, unchanged, without `--no-wait`, so
//! every command returns only once grebe has applied it and written `cur_cfg` back. The hosts
//! ping through what the database asked for; what ovs-vswitchd writes back (ofport, mac_in_use,
//! error, statistics) is read with OVS's ovs-vsctl.
//!
//! Host `a` (192.0.2.1 / 198.51.100.1) is the OVSDB-mode grebe; host `b` (192.0.2.2 /
//! 198.51.100.2) a standalone grebe with the seed configuration. Skipped only outside CI, when
//! not root or when OVS is not installed; under CI both are failures.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lab::netns::Lab;
use lab::ovs_peer::{
    kill_ovsdb, ovs_available, ovs_db_socket, ovs_vsctl, ovs_vsctl_ok, restart_ovsdb, start_ovsdb,
};

const WAIT: Duration = Duration::from_secs(15);

/// `a` in OVSDB mode under its own ovsdb-server, `b` standalone with the seed; nothing on `a`'s
/// bridge yet.
fn ovsdb_lab(test: &str) -> Option<Lab> {
    let lab = lab_with(test, &[("openvswitch-switch", ovs_available())])?;
    lab.add_switch("wan").unwrap();
    lab.add_host("a", "wan", "192.0.2.1/24").unwrap();
    lab.add_host("b", "wan", "192.0.2.2/24").unwrap();
    start_ovsdb(&lab, "a").unwrap();
    let target = format!("unix:{}", ovs_db_socket(&lab, "a").display());
    lab.start_daemon_with("a", &["--ovsdb", &target]).unwrap();
    lab.start_daemon("b").unwrap();
    lab.configure_seed("b", "198.51.100.2/24", &["192.0.2.1"])
        .unwrap();
    Some(lab)
}

/// The seed's commands on `a`, through OVS's ovs-vsctl, each waiting for grebe to apply it.
fn seed_through_ovsdb(lab: &Lab) {
    ovs_vsctl_ok(lab, "a", &["add-br", "br-int"]).unwrap();
    ovs_vsctl_ok(
        lab,
        "a",
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
    )
    .unwrap();
    // cur_cfg came back, so the TAP exists now: no waiting for it.
    lab.sh(
        "a",
        &["ip", "addr", "add", "198.51.100.1/24", "dev", "mgmt0"],
    )
    .unwrap();
    lab.sh("a", &["ip", "link", "set", "mgmt0", "up"]).unwrap();
    ovs_vsctl_ok(
        lab,
        "a",
        &[
            "add-port",
            "br-int",
            "gre0",
            "--",
            "set",
            "interface",
            "gre0",
            "type=gre",
            "options:remote_ip=192.0.2.2",
        ],
    )
    .unwrap();
}

fn get(lab: &Lab, args: &[&str]) -> String {
    let mut full = vec!["get"];
    full.extend(args);
    ovs_vsctl_ok(lab, "a", &full).unwrap().trim().to_owned()
}

/// Polls an `ovs-vsctl get` until it succeeds and `ok` holds (the statistics are written every
/// 5 s, so a new interface's keys are missing until then).
fn wait_get(lab: &Lab, args: &[&str], within: Duration, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + within;
    let mut full = vec!["get"];
    full.extend(args);
    loop {
        let out = ovs_vsctl(lab, "a", &full).unwrap();
        let v = if out.status.success() {
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        } else {
            String::from_utf8_lossy(&out.stderr).trim().to_owned()
        };
        if (out.status.success() && ok(&v)) || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn ovs_vsctl_configures_grebe_through_ovsdb_and_the_hosts_ping() {
    let Some(lab) = ovsdb_lab("odb") else { return };
    seed_through_ovsdb(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    lab.ping("a", "198.51.100.2", 3).unwrap();

    // What ovs-vswitchd writes back, written by grebe, read by OVS's ovs-vsctl.
    let ofport: i64 = get(&lab, &["interface", "gre0", "ofport"]).parse().unwrap();
    assert!(ofport >= 1, "gre0's ofport {ofport}");
    let dp = dpif(&lab, "a");
    let gre0 = dp["bridges"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "gre0")
        .expect("gre0 is in grebe's datapath");
    assert_eq!(gre0["port_no"].as_i64(), Some(ofport), "{gre0}");
    assert_eq!(
        get(&lab, &["interface", "mgmt0", "mac_in_use"]),
        format!("\"{}\"", mac_of(&lab, "a", "mgmt0"))
    );
    assert_eq!(get(&lab, &["interface", "mgmt0", "link_state"]), "up");
    let cfg = |col| get(&lab, &["open_vswitch", ".", col]);
    assert_eq!(cfg("cur_cfg"), cfg("next_cfg"));
    assert!(get(&lab, &["bridge", "br-int", "datapath_id"]).starts_with("\"0000"));
    let tx = wait_get(
        &lab,
        &["interface", "gre0", "statistics:tx_packets"],
        WAIT,
        |v| v.trim_matches('"').parse::<u64>().is_ok_and(|n| n >= 3),
    );
    assert!(
        tx.trim_matches('"').parse::<u64>().is_ok_and(|n| n >= 3),
        "gre0 tx_packets {tx} after 4 pings"
    );

    // A type grebe cannot make: OVS's ovs-vsctl sees the error ovs-vswitchd would write, and
    // the rest of the bridge carries on.
    let out = ovs_vsctl(
        &lab,
        "a",
        &[
            "add-port",
            "br-int",
            "vx0",
            "--",
            "set",
            "interface",
            "vx0",
            "type=vxlan",
            "options:remote_ip=192.0.2.3",
        ],
    )
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Error detected while setting up 'vx0'"),
        "{stderr}"
    );
    assert!(get(&lab, &["interface", "vx0", "error"]).contains("vxlan"));
    assert_eq!(get(&lab, &["interface", "vx0", "ofport"]), "-1");
    lab.ping("a", "198.51.100.2", 2).unwrap();

    // A change through the database reaches the datapath: a key both ends must agree on.
    ovs_vsctl_ok(&lab, "a", &["set", "interface", "gre0", "options:key=7"]).unwrap();
    assert!(
        lab.ping("a", "198.51.100.2", 1).is_err(),
        "a keyed and b unkeyed tunnel must not carry"
    );
    lab.vsctl_ok("b", &["set", "interface", "gre0", "options:key=7"])
        .unwrap();
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();

    // grebe's own vsctl on an OVSDB-mode daemon reads, and refuses to change behind the
    // database's back, naming where to change it.
    let out = lab.vsctl("a", &["add-br", "br-x"]).unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--db=unix:"), "{stderr}");
    let show = lab.vsctl_ok("a", &["show"]).unwrap();
    assert!(show.contains("Port gre0"), "{show}");
    assert!(!show.contains("br-x"), "{show}");
}

#[test]
fn ovsdb_server_killed_and_restarted_loses_no_configuration_or_traffic() {
    let Some(lab) = ovsdb_lab("odbr") else { return };
    seed_through_ovsdb(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();

    // The server dies: the datapath keeps the last configuration.
    kill_ovsdb(&lab, "a").unwrap();
    lab.ping("a", "198.51.100.2", 5).unwrap();
    let dp = dpif(&lab, "a");
    assert!(dp.to_string().contains("\"gre0\""), "{dp}");

    // Back on the same database: grebe reconnects by itself and applies new changes, and a
    // command waiting for cur_cfg returns.
    restart_ovsdb(&lab, "a").unwrap();
    ovs_vsctl_ok(
        &lab,
        "a",
        &[
            "add-port",
            "br-int",
            "gre1",
            "--",
            "set",
            "interface",
            "gre1",
            "type=gre",
            "options:remote_ip=192.0.2.3",
        ],
    )
    .unwrap();
    let ofport: i64 = get(&lab, &["interface", "gre1", "ofport"]).parse().unwrap();
    assert!(ofport >= 1, "gre1's ofport {ofport}");
    assert!(dpif(&lab, "a").to_string().contains("\"gre1\""));
    lab.ping("a", "198.51.100.2", 3).unwrap();
}
