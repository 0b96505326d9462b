//! `grebe mesh apply`: one file describes the mesh, each host makes its own tunnels from it
//! (issue 16). Three hosts in namespaces; needs root.

mod common;

use std::time::Duration;

use common::lab;
use lab::netns::Lab;

const WAIT: Duration = Duration::from_secs(15);

fn apply(lab: &Lab, host: &str, file: &std::path::Path) -> std::process::Output {
    lab.command(host, lab.grebe())
        .args(["mesh", "apply"])
        .arg(file)
        .arg("--rundir")
        .arg(lab.rundir(host))
        .output()
        .unwrap()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn mesh_file(hosts: &[(&str, &str)]) -> String {
    let mut s = String::from("loop_protection = \"split-horizon\"\n");
    for (name, ip) in hosts {
        s += &format!("[[host]]\nname = \"{name}\"\ntransport = \"{ip}\"\n");
    }
    s
}

#[test]
fn one_file_makes_the_mesh_on_every_host_and_follows_its_changes() {
    let Some(lab) = lab("mesh") else { return };
    let hosts = [("a", "192.0.2.1"), ("b", "192.0.2.2"), ("c", "192.0.2.3")];
    lab.add_switch("wan").unwrap();
    for (host, ip) in &hosts {
        lab.add_host(host, "wan", &format!("{ip}/24")).unwrap();
        lab.start_daemon(host).unwrap();
    }
    let file = lab.dir().join("hosts.toml");
    std::fs::write(&file, mesh_file(&hosts)).unwrap();
    for (i, (host, _)) in hosts.iter().enumerate() {
        // Each host finds itself in the file by its transport address.
        let out = apply(&lab, host, &file);
        assert!(out.status.success(), "{}", text(&out));
        let printed = text(&out);
        assert!(
            printed.contains("ovs-vsctl --may-exist add-br br-int -- set bridge br-int other_config:tunnel-split-horizon=true"),
            "{printed}"
        );
        let others: Vec<&str> = hosts.iter().map(|h| h.0).filter(|h| h != host).collect();
        for other in &others {
            assert!(
                printed.contains(&format!("add-port br-int gre-{other} ")),
                "{printed}"
            );
        }
        lab.vsctl_ok(
            host,
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
        lab.sh(
            host,
            &[
                "ip",
                "addr",
                "add",
                &format!("198.51.100.{}/24", i + 1),
                "dev",
                "mgmt0",
            ],
        )
        .unwrap();
        lab.sh(host, &["ip", "link", "set", "mgmt0", "up"]).unwrap();
    }
    for (from, _) in &hosts {
        for (j, (to, _)) in hosts.iter().enumerate() {
            if from != to {
                lab.wait_ping(from, &format!("198.51.100.{}", j + 1), WAIT)
                    .unwrap_or_else(|e| panic!("{from} -> {to}: {e}"));
            }
        }
    }

    // Again: nothing to do.
    let out = apply(&lab, "a", &file);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("already matches"), "{}", text(&out));
    assert!(!text(&out).contains("add-port"), "{}", text(&out));

    // A port the mesh did not make is never touched.
    lab.vsctl_ok(
        "a",
        &[
            "add-port",
            "br-int",
            "gre-own",
            "--",
            "set",
            "interface",
            "gre-own",
            "type=gre",
            "options:remote_ip=192.0.2.9",
        ],
    )
    .unwrap();
    // c leaves the mesh: a and b drop their tunnel to it, and keep talking.
    std::fs::write(&file, mesh_file(&hosts[..2])).unwrap();
    for host in ["a", "b"] {
        let out = apply(&lab, host, &file);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            text(&out).contains("--if-exists del-port br-int gre-c"),
            "{}",
            text(&out)
        );
    }
    let ports = lab.vsctl_ok("a", &["list-ports", "br-int"]).unwrap();
    assert_eq!(ports, "gre-b\ngre-own\nmgmt0\n");
    lab.ping("a", "198.51.100.2", 3).unwrap();

    // A bad file is refused with the reason, and changes nothing.
    std::fs::write(
        &file,
        mesh_file(&[("a", "192.0.2.1"), ("b", "192.0.2.2"), ("x", "192.0.2.2")]),
    )
    .unwrap();
    let out = apply(&lab, "a", &file);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("the same transport address 192.0.2.2"),
        "{}",
        text(&out)
    );
    assert_eq!(lab.vsctl_ok("a", &["list-ports", "br-int"]).unwrap(), ports);
}

/// Hosts in the full-mesh test: 10 in CI, more through `scripts/mesh-lab N`.
fn mesh_hosts() -> usize {
    std::env::var("GREBE_MESH_HOSTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

fn vm_rss_kib(lab: &Lab, host: &str) -> u64 {
    let pid =
        std::fs::read_to_string(lab.rundir(host).join(daemon::control::PIDFILE_NAME)).unwrap();
    std::fs::read_to_string(format!("/proc/{}/status", pid.trim()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Pings every ordered pair of `hosts` until each has answered once; the time it took.
fn every_pair_pings(lab: &Lab, hosts: &[(String, String)], within: Duration) -> Duration {
    let started = std::time::Instant::now();
    for (from, _) in hosts {
        for (to, overlay) in hosts {
            if from != to {
                let rest = within.saturating_sub(started.elapsed());
                lab.wait_ping(from, overlay, rest.max(Duration::from_secs(1)))
                    .unwrap_or_else(|e| panic!("{from} -> {to} ({overlay}): {e}"));
            }
        }
    }
    started.elapsed()
}

/// A full mesh of N hosts from one file with RSTP: configured by `grebe mesh apply` on each,
/// the tree converges and every pair pings; the root is killed (-9) and the rest converge
/// again without it. Prints the figures the README's scale table holds.
#[test]
fn a_full_mesh_with_rstp_converges_and_survives_losing_its_root() {
    let Some(lab) = lab("fmesh") else { return };
    let n = mesh_hosts();
    lab.add_switch("wan").unwrap();
    let hosts: Vec<(String, String, String)> = (0..n)
        .map(|i| {
            (
                format!("h{i}"),
                format!("192.0.2.{}", i + 1),
                format!("198.51.100.{}", i + 1),
            )
        })
        .collect();
    let mut file = String::from("loop_protection = \"rstp\"\n");
    for (name, transport, _) in &hosts {
        file += &format!("[[host]]\nname = \"{name}\"\ntransport = \"{transport}\"\n");
        lab.add_host(name, "wan", &format!("{transport}/24"))
            .unwrap();
        lab.start_daemon(name).unwrap();
    }
    let path = lab.dir().join("hosts.toml");
    std::fs::write(&path, file).unwrap();
    let configured = std::time::Instant::now();
    for (name, _, overlay) in &hosts {
        let out = apply(&lab, name, &path);
        assert!(out.status.success(), "{name}: {}", text(&out));
        lab.vsctl_ok(
            name,
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
        lab.sh(
            name,
            &[
                "ip",
                "addr",
                "add",
                &format!("{overlay}/24"),
                "dev",
                "mgmt0",
            ],
        )
        .unwrap();
        lab.sh(name, &["ip", "link", "set", "mgmt0", "up"]).unwrap();
        // A shorter max age bounds how long a dead root's information can circulate.
        if let Ok(age) = std::env::var("GREBE_MESH_MAX_AGE") {
            let setting = format!("other_config:rstp-max-age={age}");
            lab.vsctl_ok(name, &["set", "bridge", "br-int", &setting])
                .unwrap();
        }
    }
    let configure_time = configured.elapsed();
    let pairs: Vec<(String, String)> = hosts
        .iter()
        .map(|(h, _, o)| (h.clone(), o.clone()))
        .collect();
    let converged = every_pair_pings(&lab, &pairs, Duration::from_secs(120));
    let rss: Vec<u64> = hosts.iter().map(|(h, _, _)| vm_rss_kib(&lab, h)).collect();
    let root = hosts
        .iter()
        .map(|(h, _, _)| h)
        .find(|h| {
            lab.appctl(h, &["rstp/show", "br-int"])
                .unwrap()
                .contains("This bridge is the root")
        })
        .unwrap_or_else(|| {
            for (h, _, _) in &hosts {
                let o = lab.appctl(h, &["rstp/show", "br-int"]).unwrap();
                let ids: Vec<&str> = o
                    .lines()
                    .filter(|l| l.contains("system-id") || l.contains("root-p"))
                    .collect();
                eprintln!("{h}: {ids:?}");
            }
            panic!("no host is the root")
        })
        .clone();

    lab.stop_daemon(&root, true).unwrap();
    let lost = std::time::Instant::now();
    let rest: Vec<(String, String)> = pairs.iter().filter(|(h, _)| *h != root).cloned().collect();
    // The survivors' first pair answers once the tree is rebuilt; the rest are then quick.
    let reconverged = every_pair_pings(&lab, &rest, Duration::from_secs(120));
    let after_loss = lost.elapsed();
    eprintln!(
        "full mesh of {n} hosts, RSTP, {} tunnels each: configured (mesh apply + mgmt0) in {configure_time:.2?}; \
         all {} pairs pinging {converged:.2?} later; VmRSS per daemon {}-{} KiB (mean {}); \
         root {root} killed: the other {} pairs all pinging after {after_loss:.2?} ({reconverged:.2?} of pinging)",
        n - 1,
        n * (n - 1),
        rss.iter().min().unwrap(),
        rss.iter().max().unwrap(),
        rss.iter().sum::<u64>() / n as u64,
        (n - 1) * (n - 2),
    );
}
