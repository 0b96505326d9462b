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
