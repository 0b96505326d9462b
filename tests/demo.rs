//! `grebe demo` as a user runs it: the classic setup's pings between bare metal, the container
//! and the guest all answer, `--keep` leaves it running and `--clean` removes it; `--vlan`
//! shows two tenants whose own pings answer and whose cross-tenant pings do not.

use std::process::{Command, Output};
use std::sync::Mutex;

use lab::netns::is_root;

const GREBE: &str = env!("CARGO_BIN_EXE_grebe");

/// Every demo uses the same namespaces: one at a time.
static DEMO: Mutex<()> = Mutex::new(());

/// Whether the test can run here; under CI (`CI` set) a missing privilege is a failure.
fn can_run(test: &str) -> bool {
    if is_root() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: the demo needs root under CI"
    );
    eprintln!("SKIPPED {test}: grebe demo needs root");
    false
}

fn demo(args: &[&str]) -> (Output, String) {
    let out = Command::new(GREBE)
        .arg("demo")
        .args(args)
        .output()
        .expect("running grebe demo");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, text)
}

fn assert_success(out: &Output, text: &str) {
    assert!(
        out.status.success(),
        "grebe demo failed: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The demo's namespaces that exist now.
fn demo_namespaces() -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|ns| ns.starts_with("grebe-demo-"))
        .map(str::to_owned)
        .collect()
}

/// Runs `grebe demo --clean` when dropped, so that a failed assertion after `--keep` leaves
/// nothing running.
struct CleanOnDrop;

impl Drop for CleanOnDrop {
    fn drop(&mut self) {
        let _ = Command::new(GREBE).args(["demo", "--clean"]).output();
    }
}

/// The line the demo prints for a ping from `a` to `b` that answered.
fn answered(a: (&str, &str), b: (&str, &str)) -> String {
    format!("   {} {} -> {} {}: 3/3 replies", a.0, a.1, b.0, b.1)
}

#[test]
fn the_classic_demo_pings_bare_metal_container_and_guest_through_gre() {
    if !can_run("demo") {
        return;
    }
    let _one = DEMO.lock().unwrap_or_else(|e| e.into_inner());
    let (out, text) = demo(&["--keep"]);
    let _clean = CleanOnDrop;
    assert_success(&out, &text);
    let bm = ("bm", "198.51.100.11");
    let ct = ("ct", "198.51.100.12");
    let vm = ("vm", "198.51.100.13");
    let web = ("web", "198.51.100.21");
    let vm1 = ("vm1", "198.51.100.31");
    // Each pair whose frames cross a tunnel: a workload and its own host share a bridge.
    fn on<'a>(e: (&'a str, &str)) -> &'a str {
        match e.0 {
            "web" => "ct",
            "vm1" => "vm",
            h => h,
        }
    }
    let ends = [bm, ct, vm, web, vm1];
    let mut pairs = 0;
    for a in ends {
        for b in ends {
            if on(a) != on(b) {
                let line = answered(a, b);
                assert!(text.contains(&line), "no {line:?} in:\n{text}");
                pairs += 1;
            }
        }
    }
    assert_eq!(pairs, 16);
    // The ovs-vsctl lines it ran, as ovs-docker and libvirt attach a container and a guest.
    assert!(
        text.contains(
            "ovs-vsctl --may-exist add-port br-int web-l -- set interface web-l \
             external_ids:container_id=web external_ids:container_iface=eth0"
        ),
        "{text}"
    );
    assert!(
        text.contains("ovs-vsctl -- --may-exist add-port br-int vnet0 -- set Interface vnet0 'external-ids:attached-mac=\""),
        "{text}"
    );
    for column in [
        "external-ids:iface-id=",
        "external-ids:vm-id=",
        "external-ids:iface-status=active",
    ] {
        assert!(
            text.contains(&format!("-- set Interface vnet0 {column}"))
                || text.contains(&format!("-- set Interface vnet0 '{column}")),
            "{column}: {text}"
        );
    }
    assert!(text.contains("ct web-l (system port, link up)"), "{text}");
    assert!(text.contains("vm vnet0 (system port, link up)"), "{text}");
    assert!(text.contains("demo --clean"), "{text}");

    // --keep left it running: the container still reaches the guest.
    let ping = Command::new("ip")
        .args([
            "netns",
            "exec",
            "grebe-demo-web",
            "ping",
            "-c",
            "1",
            "-W",
            "2",
        ])
        .arg(vm1.1)
        .output()
        .unwrap();
    assert!(ping.status.success(), "{ping:?}");
    for ns in ["bm", "ct", "vm", "wan", "web", "vm1"] {
        let ns = format!("grebe-demo-{ns}");
        assert!(demo_namespaces().contains(&ns), "{ns} not kept");
    }

    let (out, text) = demo(&["--clean"]);
    assert_success(&out, &text);
    assert_eq!(demo_namespaces(), Vec::<String>::new());
}

#[test]
fn the_vlan_demo_separates_two_tenants_on_one_mesh() {
    if !can_run("demo_vlan") {
        return;
    }
    let _one = DEMO.lock().unwrap_or_else(|e| e.into_inner());
    let (out, text) = demo(&["--vlan"]);
    assert_success(&out, &text);
    let web100 = ("web100", "198.51.100.21");
    let vm100 = ("vm100", "198.51.100.31");
    let web200 = ("web200", "203.0.113.21");
    let vm200 = ("vm200", "203.0.113.31");
    for (a, b) in [
        (web100, vm100),
        (vm100, web100),
        (web200, vm200),
        (vm200, web200),
    ] {
        let line = answered(a, b);
        assert!(text.contains(&line), "no {line:?} in:\n{text}");
    }
    for (a, b) in [
        (web100, vm200),
        (vm200, web100),
        (web100, web200),
        (web100, ("bm", "198.51.100.11")),
    ] {
        let line = format!(
            "   {} {} -> {} {}: no reply, as expected",
            a.0, a.1, b.0, b.1
        );
        assert!(text.contains(&line), "no {line:?} in:\n{text}");
    }
    assert!(
        text.contains("ovs-vsctl --may-exist add-port br-int web100-l tag=100 --"),
        "{text}"
    );
    assert!(
        text.contains("ovs-vsctl -- --may-exist add-port br-int vnet1 tag=200 --"),
        "{text}"
    );
    // Without --keep nothing stays.
    assert_eq!(demo_namespaces(), Vec::<String>::new());
}
