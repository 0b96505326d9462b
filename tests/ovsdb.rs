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
    cluster_socket, cluster_vsctl_ok, kill_cluster_member, kill_ovsdb, ovs_available,
    ovs_db_socket, ovs_dir, ovs_vsctl, ovs_vsctl_ok, restart_ovsdb, start_ovsdb,
    start_ovsdb_cluster,
};

const WAIT: Duration = Duration::from_secs(15);

/// The seed's tunnel on `a`, to `b`.
const GRE0_TO_B: [&str; 9] = [
    "add-port",
    "br-int",
    "gre0",
    "--",
    "set",
    "interface",
    "gre0",
    "type=gre",
    "options:remote_ip=192.0.2.2",
];

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
    ovs_vsctl_ok(lab, "a", &GRE0_TO_B).unwrap();
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
    // OVS's own show and list read what grebe wrote, with and without --no-wait.
    let show = ovs_vsctl_ok(&lab, "a", &["show"]).unwrap();
    assert!(
        show.contains("Port gre0") && show.contains("ovs_version: \"0.1.0-grebe\""),
        "{show}"
    );
    let list = ovs_vsctl_ok(&lab, "a", &["--no-wait", "list", "interface", "gre0"]).unwrap();
    assert!(
        list.contains(&format!("ofport              : {ofport}")),
        "{list}"
    );
    assert!(list.contains("link_state          : up"), "{list}");
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

    // A setting grebe does not act on is left alone in the database and said, with the refused
    // interface, by grebe's ovsdb/show and show.
    ovs_vsctl_ok(
        &lab,
        "a",
        &["set", "interface", "gre0", "ingress_policing_rate=1000"],
    )
    .unwrap();
    let status = lab.appctl("a", &["ovsdb/show"]).unwrap();
    assert!(status.contains("connected: unix:"), "{status}");
    assert!(
        status.contains("Interface gre0 ingress_policing_rate: grebe does not police"),
        "{status}"
    );
    assert!(
        status.contains("vx0: grebe does not support interface type \"vxlan\""),
        "{status}"
    );
    let show = lab.vsctl_ok("a", &["show"]).unwrap();
    assert!(
        show.contains("ignored: \"Interface gre0 ingress_policing_rate"),
        "{show}"
    );
    assert_eq!(
        get(&lab, &["interface", "gre0", "ingress_policing_rate"]),
        "1000"
    );
    lab.ping("a", "198.51.100.2", 1).unwrap();

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
    let deadline = Instant::now() + WAIT;
    let status = loop {
        let status = lab.appctl("a", &["ovsdb/show"]).unwrap();
        if status.contains("connected: no") || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.contains("connected: no"), "{status}");

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

/// Runs a tool someone else wrote on `host` against `a`'s database, with OVS's own ovs-vsctl.
fn ovs_tool(lab: &Lab, host: &str, program: &str, args: &[&str]) -> String {
    let out = lab
        .ovs_tool_command(host, program, &ovs_dir(lab, "a"))
        .unwrap()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {} failed ({}): {}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Is the port in grebe's datapath on `a` (not only in the database)?
fn in_datapath(lab: &Lab, port: &str) -> bool {
    dpif(lab, "a")["bridges"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["ports"].as_array().unwrap())
        .any(|p| p["name"] == port)
}

#[test]
fn ovs_docker_and_libvirt_attach_workloads_through_ovs_vsctl_and_ovsdb() {
    let Some(lab) = ovsdb_lab("odbw") else { return };
    if !std::path::Path::new("/usr/bin/ovs-docker").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "ovs-docker missing under CI"
        );
        eprintln!("SKIPPED: needs ovs-docker (openvswitch-common)");
        return;
    }
    seed_through_ovsdb(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();

    // ovs-docker, unchanged, with OVS's ovs-vsctl on its PATH.
    lab.add_docker_container("web").unwrap();
    ovs_tool(
        &lab,
        "a",
        "ovs-docker",
        &[
            "add-port",
            "br-int",
            "eth1",
            "web",
            "--ipaddress=198.51.100.101/24",
            "--mtu=1400",
        ],
    );
    lab.wait_ping("web", "198.51.100.2", WAIT).unwrap();
    let port = ovs_tool(
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
    let port = port.trim().to_owned();
    assert!(
        in_datapath(&lab, &port),
        "{port} is not in grebe's datapath"
    );
    let ofport: i64 = get(&lab, &["interface", &port, "ofport"]).parse().unwrap();
    assert!(ofport >= 1);

    // libvirt's command lines for a guest (virNetDevOpenvswitchAddPort), without --no-wait.
    lab.add_guest("a", "vm1", "vnet0", "198.51.100.111/24")
        .unwrap();
    let mac = mac_of(&lab, "vm1", "eth0");
    let args = lab::workload::libvirt_add_port_args("vnet0", &[], &mac);
    ovs_tool(&lab, "a", "ovs-vsctl", &lab::netns::argv(&args));
    lab.wait_ping("vm1", "198.51.100.2", WAIT).unwrap();
    lab.ping("vm1", "198.51.100.101", 2).unwrap();
    // The statistics query libvirt parses, filled in by grebe's write-back.
    let stats_query = [
        "--timeout=5",
        "--if-exists",
        "--format=list",
        "--data=json",
        "--no-headings",
        "--columns=statistics",
        "list",
        "Interface",
        "vnet0",
    ];
    let deadline = Instant::now() + WAIT;
    let rx_packets = loop {
        let stats: serde_json::Value =
            serde_json::from_str(ovs_tool(&lab, "a", "ovs-vsctl", &stats_query).trim())
                .expect("statistics JSON");
        let rx = stats[1]
            .as_array()
            .into_iter()
            .flatten()
            .find(|kv| kv[0] == "rx_packets")
            .and_then(|kv| kv[1].as_u64())
            .unwrap_or(0);
        if rx > 0 || Instant::now() > deadline {
            break rx;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(rx_packets > 0, "the guest's pings were counted");
    // A VLAN set by libvirt reaches the datapath: vm1 alone in VLAN 42 reaches nobody.
    ovs_tool(
        &lab,
        "a",
        "ovs-vsctl",
        &[
            "--timeout=5",
            "--",
            "--if-exists",
            "set",
            "Port",
            "vnet0",
            "tag=42",
        ],
    );
    assert!(
        lab.ping("vm1", "198.51.100.2", 1).is_err(),
        "VLAN 42 reached VLAN 0"
    );

    // Teardown by both tools.
    ovs_tool(
        &lab,
        "a",
        "ovs-vsctl",
        &["--timeout=5", "--", "--if-exists", "del-port", "vnet0"],
    );
    ovs_tool(
        &lab,
        "a",
        "ovs-docker",
        &["del-port", "br-int", "eth1", "web"],
    );
    assert!(!in_datapath(&lab, "vnet0"));
    assert!(!in_datapath(&lab, &port));
    lab.ping("a", "198.51.100.2", 2).unwrap();
}

/// The pinned version of OVS's Python IDL (PyPI `ovs`): Debian 12's OVS is 3.1.
const OVS_PYTHON: &str = "ovs==3.1.7";

/// A virtualenv with `OVS_PYTHON`, made once per build directory; its python.
fn ovs_python() -> std::path::PathBuf {
    use std::process::{Command, Stdio};
    static VENV: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    VENV.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("venv-ovs-3.1.7");
        let python = dir.join("bin/python");
        let ready = || {
            Command::new(&python)
                .args(["-c", "import ovs.db.idl"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !ready() {
            let _ = std::fs::remove_dir_all(&dir);
            let ok = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&dir)
                .status();
            assert!(
                ok.is_ok_and(|s| s.success()),
                "python3 -m venv failed (Debian: python3-venv)"
            );
            let ok = Command::new(dir.join("bin/pip"))
                .args(["install", "-q", "--disable-pip-version-check", OVS_PYTHON])
                .status();
            assert!(
                ok.is_ok_and(|s| s.success()),
                "pip install {OVS_PYTHON} failed"
            );
            assert!(ready(), "ovs.db.idl does not import");
        }
        python
    })
    .clone()
}

#[test]
fn ovs_python_idl_makes_the_seed_in_one_transaction() {
    let Some(lab) = ovsdb_lab("odbpy") else {
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ovs_idl_seed.py");
    let remote = format!("unix:{}", ovs_db_socket(&lab, "a").display());
    let out = lab
        .command("a", ovs_python())
        .args([
            script,
            &remote,
            "/usr/share/openvswitch/vswitch.ovsschema",
            "192.0.2.2",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the IDL script failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It returned after cur_cfg caught up: every interface has its port number by then.
    let ofports: Vec<(String, i64)> = stdout
        .lines()
        .map(|l| {
            let (name, n) = l.split_once(' ').unwrap();
            (name.to_owned(), n.parse().unwrap_or_else(|_| panic!("{l}")))
        })
        .collect();
    assert_eq!(ofports.len(), 3, "{stdout}");
    assert!(ofports.iter().all(|(_, n)| *n >= 1), "{stdout}");
    assert!(in_datapath(&lab, "gre0"));
    lab.sh(
        "a",
        &["ip", "addr", "add", "198.51.100.1/24", "dev", "mgmt0"],
    )
    .unwrap();
    lab.sh("a", &["ip", "link", "set", "mgmt0", "up"]).unwrap();
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
}

/// The member of `a`'s cluster grebe is connected to, from ovsdb/show.
fn connected_member(lab: &Lab) -> usize {
    let deadline = Instant::now() + WAIT;
    loop {
        let status = lab.appctl("a", &["ovsdb/show"]).unwrap();
        let member = status
            .lines()
            .find_map(|l| l.strip_prefix("connected: unix:"))
            .and_then(|l| l.split(".sock").next())
            .and_then(|path| path.rsplit("/m").next())
            .and_then(|n| n.parse().ok());
        if let Some(m) = member {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "not connected to any member:\n{status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_clustered_database_configures_grebe_through_any_member_and_loses_one() {
    let Some(lab) = lab_with("odbraft", &[("openvswitch-switch", ovs_available())]) else {
        return;
    };
    lab.add_switch("wan").unwrap();
    lab.add_host("a", "wan", "192.0.2.1/24").unwrap();
    lab.add_host("b", "wan", "192.0.2.2/24").unwrap();
    start_ovsdb_cluster(&lab, "a", 3).unwrap();
    let remotes: Vec<String> = (1..=3)
        .map(|i| format!("unix:{}", cluster_socket(&lab, "a", i).display()))
        .collect();
    lab.start_daemon_with("a", &["--ovsdb", &remotes.join(",")])
        .unwrap();
    lab.start_daemon("b").unwrap();
    lab.configure_seed("b", "198.51.100.2/24", &["192.0.2.1"])
        .unwrap();

    // Each command through another member, each waiting for grebe's cur_cfg.
    cluster_vsctl_ok(&lab, "a", 1, &["add-br", "br-int"]).unwrap();
    cluster_vsctl_ok(
        &lab,
        "a",
        2,
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
    cluster_vsctl_ok(&lab, "a", 3, &GRE0_TO_B).unwrap();
    lab.sh(
        "a",
        &["ip", "addr", "add", "198.51.100.1/24", "dev", "mgmt0"],
    )
    .unwrap();
    lab.sh("a", &["ip", "link", "set", "mgmt0", "up"]).unwrap();
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();

    // The member grebe follows dies: traffic goes on, grebe moves to another member, and a
    // change through the third reaches the datapath.
    let lost = connected_member(&lab);
    kill_cluster_member(&lab, "a", lost).unwrap();
    lab.ping("a", "198.51.100.2", 3).unwrap();
    let other = (1..=3).find(|&i| i != lost).unwrap();
    cluster_vsctl_ok(
        &lab,
        "a",
        other,
        &["set", "interface", "gre0", "options:key=9"],
    )
    .unwrap();
    assert!(in_datapath(&lab, "gre0"));
    let now = connected_member(&lab);
    assert_ne!(now, lost, "grebe is still on the dead member");
    lab.vsctl_ok("b", &["set", "interface", "gre0", "options:key=9"])
        .unwrap();
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
}

/// The README's way: `grebe daemon --ovsdb TARGET --detach` returns once ready, and the
/// detached daemon follows the database (OVS's ovs-vsctl returns with its cur_cfg). Over TCP
/// this time: the server also listens on the namespace's loopback.
#[test]
fn a_detached_daemon_follows_the_database_over_tcp() {
    let Some(lab) = lab_with("odbdet", &[("openvswitch-switch", ovs_available())]) else {
        return;
    };
    lab.add_switch("wan").unwrap();
    lab.add_host("a", "wan", "192.0.2.1/24").unwrap();
    start_ovsdb(&lab, "a").unwrap();
    let ctl = ovs_dir(&lab, "a").join("ovsdb-server.ctl");
    let added = lab
        .command("a", "ovs-appctl")
        .arg("-t")
        .arg(&ctl)
        .args(["ovsdb-server/add-remote", "ptcp:6640:127.0.0.1"])
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let rundir = lab.rundir("a").join("detached");
    let target = "tcp:127.0.0.1:6640".to_owned();
    let out = lab
        .command("a", lab.grebe())
        .arg("daemon")
        .arg("--rundir")
        .arg(&rundir)
        .args(["--ovsdb", &target, "--detach"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ovs_vsctl_ok(&lab, "a", &["add-br", "br-int"]).unwrap();
    let status = lab
        .command("a", lab.grebe())
        .arg("appctl")
        .arg("--rundir")
        .arg(&rundir)
        .arg("ovsdb/show")
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains(&format!("connected: {target}")), "{status}");
    assert!(
        lab.sh("a", &["ip", "link", "show", "br-int"]).is_ok(),
        "no br-int TAP"
    );
    let pid = std::fs::read_to_string(rundir.join("grebe.pid")).unwrap();
    lab.sh("a", &["kill", pid.trim()]).unwrap();
}

#[test]
fn controllers_and_fail_mode_come_from_the_database() {
    let Some(lab) = ovsdb_lab("odbctl") else {
        return;
    };
    let testcontroller = std::path::Path::new("/usr/bin/ovs-testcontroller").exists();
    if !testcontroller {
        assert!(
            std::env::var_os("CI").is_none(),
            "ovs-testcontroller missing under CI"
        );
        eprintln!("SKIPPED: needs ovs-testcontroller (openvswitch-testcontroller)");
        return;
    }
    seed_through_ovsdb(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    // secure through the database: no flows, nothing carried.
    ovs_vsctl_ok(&lab, "a", &["set-fail-mode", "br-int", "secure"]).unwrap();
    assert!(
        lab.ping("a", "198.51.100.2", 1).is_err(),
        "secure without flows forwarded"
    );
    // A controller row made by OVS's ovs-vsctl: grebe dials it and writes is_connected back.
    let mut controller = lab
        .command("a", "ovs-testcontroller")
        .args(["--noflow", "ptcp:6654:127.0.0.1"])
        .env("OVS_RUNDIR", lab.rundir("a"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    ovs_vsctl_ok(
        &lab,
        "a",
        &["set-controller", "br-int", "tcp:127.0.0.1:6654"],
    )
    .unwrap();
    let connected = wait_get(&lab, &["controller", "br-int", "is_connected"], WAIT, |v| {
        v == "true"
    });
    assert_eq!(connected, "true");
    let show = lab.vsctl_ok("a", &["show"]).unwrap();
    assert!(
        show.contains("Controller \"tcp:127.0.0.1:6654\"\n            is_connected: true"),
        "{show}"
    );
    assert!(show.contains("fail_mode: secure"), "{show}");
    controller.kill().unwrap();
    let _ = controller.wait();
    let gone = wait_get(&lab, &["controller", "br-int", "is_connected"], WAIT, |v| {
        v == "false"
    });
    assert_eq!(gone, "false");
    // Back to standalone through the database: the learning bridge.
    ovs_vsctl_ok(&lab, "a", &["del-fail-mode", "br-int"]).unwrap();
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
}
