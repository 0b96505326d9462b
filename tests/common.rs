//! Shared by the whole-system tests: a lab per test, skipped (loudly) only outside CI when not root.

#![allow(dead_code)]

use lab::netns::{Lab, is_root};

pub const GREBE: &str = env!("CARGO_BIN_EXE_grebe");

/// A lab named after the test, or None (with a message) when the test cannot run here.
/// Under CI (`CI` set) a missing privilege is a failure, never a skip.
pub fn lab(test: &str) -> Option<Lab> {
    if !is_root() {
        if std::env::var_os("CI").is_some() {
            panic!("{test}: whole-system tests need root under CI");
        }
        eprintln!(
            "SKIPPED {test}: needs root to create network namespaces (run the tests as root)"
        );
        return None;
    }
    // Short, unique names: interface and namespace names are limited, tests run in parallel.
    let prefix = format!("gt{}-{test}", std::process::id() % 10000);
    Some(Lab::new(&prefix, GREBE).expect("creating the lab"))
}

/// A lab for a test that also needs packages: `needs` lists (Debian package, whether it is
/// installed). Missing ones skip the test outside CI and fail it under CI.
pub fn lab_with(test: &str, needs: &[(&str, bool)]) -> Option<Lab> {
    let lab = lab(test)?;
    let missing: Vec<&str> = needs
        .iter()
        .filter(|(_, present)| !present)
        .map(|(package, _)| *package)
        .collect();
    if !missing.is_empty() {
        if std::env::var_os("CI").is_some() {
            panic!("{test}: needs {missing:?} under CI (.ci/test installs them)");
        }
        eprintln!("SKIPPED {test}: needs {missing:?} (apt-get install {missing:?})");
        return None;
    }
    Some(lab)
}

/// Two hosts on one transport switch, seed configuration on both: a 192.0.2.1 / 198.51.100.1,
/// b 192.0.2.2 / 198.51.100.2.
pub fn two_hosts(lab: &Lab) {
    lab.add_switch("wan").unwrap();
    lab.add_host("a", "wan", "192.0.2.1/24").unwrap();
    lab.add_host("b", "wan", "192.0.2.2/24").unwrap();
    lab.start_daemon("a").unwrap();
    lab.start_daemon("b").unwrap();
    lab.configure_seed("a", "198.51.100.1/24", &["192.0.2.2"])
        .unwrap();
    lab.configure_seed("b", "198.51.100.2/24", &["192.0.2.1"])
        .unwrap();
}

/// `dpif/show --format json` parsed.
pub fn dpif(lab: &Lab, host: &str) -> serde_json::Value {
    let out = lab
        .appctl(host, &["dpif/show", "--format", "json"])
        .unwrap();
    serde_json::from_str(&out).expect("dpif/show --format json is JSON")
}

pub fn drops(lab: &Lab, host: &str, reason: &str) -> u64 {
    dpif(lab, host)["drops"][reason]
        .as_u64()
        .unwrap_or_else(|| panic!("no drop reason {reason} in dpif/show"))
}

/// A port's counter from dpif/show JSON.
pub fn port_counter(lab: &Lab, host: &str, port: &str, counter: &str) -> u64 {
    let v = dpif(lab, host);
    for b in v["bridges"].as_array().unwrap() {
        for p in b["ports"].as_array().unwrap() {
            if p["name"] == port {
                return p[counter].as_u64().unwrap();
            }
        }
    }
    panic!("no port {port} on {host}");
}

/// Waits until the host's tunnel `port` sends by the packet socket (its remote resolved in the
/// kernel's neighbour table); returns the interface it names.
pub fn wait_link(lab: &Lab, host: &str, port: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let v = dpif(lab, host);
        let link = v["bridges"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|b| b["ports"].as_array().unwrap())
            .find(|p| p["name"] == port)
            .and_then(|p| p["link"].as_str().map(String::from));
        if let Some(link) = link {
            return link;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{host}'s {port} never got an Ethernet link"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

pub fn mac_of(lab: &Lab, host: &str, dev: &str) -> String {
    let out = lab
        .sh(host, &["cat", &format!("/sys/class/net/{dev}/address")])
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Sends `bytes` over one TCP connection from `from` to `to_ip` (a listener on host `to`), and
/// checks that the receiver counted every byte. Returns how long it took.
pub fn tcp_transfer(
    lab: &Lab,
    from: &str,
    to: &str,
    to_ip: &str,
    bytes: u64,
) -> std::time::Duration {
    let started = std::time::Instant::now();
    let received = lab::netns::tcp_send(lab, from, to, to_ip, bytes).unwrap();
    assert_eq!(received, bytes, "bytes received");
    started.elapsed()
}
