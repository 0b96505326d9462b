//! A grebe host brought up at boot from /etc/network/interfaces: ifupdown's own `ifup`, in each
//! host's namespace, reads OVS's `ovs_type` stanzas and its hook configures the running daemon;
//! the hosts then ping across the tunnel with no vsctl command typed. `ifdown` takes it away.
//!
//! ifupdown runs the hooks of /etc/network/if-pre-up.d and if-post-down.d and clears the
//! environment (PATH is fixed, GREBE_RUNDIR does not pass), so each `ifup` runs in a mount
//! namespace of its own (`ip netns exec` makes one) laid out as an installed host's: the hook
//! under test in those two directories, `/usr/share/grebe/ifupdown.sh`, `grebe` and
//! `ovs-vsctl` in /usr/local/sbin (first on ifupdown's PATH) and the host's daemon at
//! /run/grebe. The machine's own /etc, /usr and /run are not touched.

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::GREBE;
use lab::netns::Lab;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// OVS's own hook, as Debian's openvswitch-switch installs it.
const OVS_HOOK: &str = "/usr/share/openvswitch/scripts/ifupdown.sh";

/// Makes the mount namespace an installed host's, then runs the rest of the arguments.
const ENTER: &str = r#"set -e
root=$1; rundir=$2; shift 2
mount -t tmpfs tmpfs /run
mkdir /run/grebe
mount --bind "$rundir" /run/grebe
mount -t overlay overlay -o lowerdir="$root/share:/usr/share" /usr/share
mount --bind "$root/if-pre-up.d" /etc/network/if-pre-up.d
mount --bind "$root/if-post-down.d" /etc/network/if-post-down.d
mount --bind "$root/sbin" /usr/local/sbin
# A host without Open vSwitch: OVS's hook must not find (and start) openvswitch-switch.service.
unit=/lib/systemd/system/openvswitch-switch.service
if [ -e "$unit" ]; then mount --bind /dev/null "$unit"; fi
exec "$@"
"#;

/// The stanzas a seed host needs, copied into the README's Boot section.
fn interfaces(overlay: &str, remote: &str) -> String {
    format!(
        "auto br-int
iface br-int inet manual
    ovs_type OVSBridge

auto mgmt0
iface mgmt0 inet static
    address {overlay}
    ovs_type OVSIntPort
    ovs_bridge br-int

auto gre0
iface gre0 inet manual
    ovs_type OVSTunnel
    ovs_bridge br-int
    ovs_tunnel_type gre
    ovs_tunnel_options options:remote_ip={remote}
"
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Hook {
    /// packaging/ifupdown: the wrappers and /usr/share/grebe/ifupdown.sh.
    Grebe,
    /// OVS's script, unchanged, as /etc/network/if-*.d/openvswitch links it.
    Ovs,
}

fn install(from: &Path, to: &Path) {
    fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    fs::set_permissions(to, fs::Permissions::from_mode(0o755)).unwrap();
}

/// The host's root: hooks, shared files, commands, interfaces file, ifupdown's state.
fn host_root(lab: &Lab, host: &str, hook: Hook, stanzas: &str) -> PathBuf {
    let root = lab.dir().join(format!("root-{host}"));
    for dir in [
        "if-pre-up.d",
        "if-post-down.d",
        "share/grebe",
        "sbin",
        "state",
    ] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    let packaging = Path::new(REPO).join("packaging/ifupdown");
    match hook {
        Hook::Grebe => {
            install(
                &packaging.join("ifupdown.sh"),
                &root.join("share/grebe/ifupdown.sh"),
            );
            install(
                &packaging.join("if-pre-up"),
                &root.join("if-pre-up.d/grebe"),
            );
            install(
                &packaging.join("if-post-down"),
                &root.join("if-post-down.d/grebe"),
            );
        }
        Hook::Ovs => {
            for phase in ["if-pre-up.d", "if-post-down.d"] {
                symlink(OVS_HOOK, root.join(phase).join("openvswitch")).unwrap();
            }
        }
    }
    symlink(GREBE, root.join("sbin/grebe")).unwrap();
    symlink(GREBE, root.join("sbin/ovs-vsctl")).unwrap();
    fs::write(root.join("enter"), ENTER).unwrap();
    fs::write(root.join("interfaces"), stanzas).unwrap();
    root
}

/// `ifup`/`ifdown -i FILE --state-dir DIR -a` in the host's namespace, as networking.service runs
/// `ifup -a`; fails the test unless it succeeds. Returns what it printed.
fn ifupdown(lab: &Lab, host: &str, root: &Path, program: &str) -> String {
    let out = lab
        .command(host, "sh")
        .arg(root.join("enter"))
        .arg(root)
        .arg(lab.rundir(host))
        .arg(program)
        .arg("-v")
        .arg("-i")
        .arg(root.join("interfaces"))
        .arg("--state-dir")
        .arg(root.join("state"))
        .arg("-a")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{host}: {program} failed:\n{text}");
    text
}

fn ifupdown_present() -> bool {
    Path::new("/sbin/ifup").exists()
}

fn link_exists(lab: &Lab, host: &str, dev: &str) -> bool {
    lab.command(host, "ip")
        .args(["link", "show", dev])
        .output()
        .unwrap()
        .status
        .success()
}

/// Two seed hosts, each daemon started empty, brought up by `ifup -a` alone.
fn boot_two_hosts(test: &str, hook: Hook, needs: &[(&str, bool)]) {
    let Some(lab) = common::lab_with(test, needs) else {
        return;
    };
    lab.add_switch("wan").unwrap();
    let hosts = [
        ("a", "192.0.2.1/24", "198.51.100.1/24", "192.0.2.2"),
        ("b", "192.0.2.2/24", "198.51.100.2/24", "192.0.2.1"),
    ];
    let mut roots = Vec::new();
    for (host, transport, overlay, remote) in hosts {
        lab.add_host(host, "wan", transport).unwrap();
        lab.start_daemon(host).unwrap();
        assert_eq!(lab.vsctl_ok(host, &["list-br"]).unwrap(), "");
        let root = host_root(&lab, host, hook, &interfaces(overlay, remote));
        let log = ifupdown(&lab, host, &root, "ifup");
        let hook_ran = match hook {
            Hook::Grebe => "if-pre-up.d/grebe",
            Hook::Ovs => "if-pre-up.d/openvswitch",
        };
        // Every command line the hook sent was accepted.
        assert!(
            !log.contains("ovs-vsctl: "),
            "{host}: grebe refused a command:\n{log}"
        );
        assert!(
            log.contains(hook_ran),
            "{host}: the hook did not run:\n{log}"
        );
        roots.push(root);
    }

    for (host, _, overlay, remote) in hosts {
        assert_eq!(lab.vsctl_ok(host, &["list-br"]).unwrap(), "br-int\n");
        assert_eq!(
            lab.vsctl_ok(host, &["list-ports", "br-int"]).unwrap(),
            "gre0\nmgmt0\n"
        );
        assert_eq!(
            lab.vsctl_ok(host, &["get", "interface", "mgmt0", "type"])
                .unwrap(),
            "internal\n"
        );
        assert_eq!(
            lab.vsctl_ok(host, &["get", "interface", "gre0", "type", "options"])
                .unwrap(),
            format!("gre\n{{remote_ip=\"{remote}\"}}\n")
        );
        let addr = lab
            .sh(host, &["ip", "-br", "addr", "show", "dev", "mgmt0"])
            .unwrap();
        let addr = String::from_utf8_lossy(&addr.stdout).into_owned();
        assert!(
            addr.contains(" UP ") || addr.contains(" UNKNOWN "),
            "{host}: {addr}"
        );
        assert!(
            addr.contains(overlay),
            "{host}: mgmt0 lacks {overlay}: {addr}"
        );
    }

    lab.wait_ping("a", "198.51.100.2", std::time::Duration::from_secs(10))
        .unwrap();
    // Ok only when every reply came.
    lab.ping("b", "198.51.100.1", 3)
        .unwrap_or_else(|e| panic!("b -> a through GRE: {e}"));
    let gre_in = common::port_counter(&lab, "a", "gre0", "rx_packets");
    assert!(gre_in >= 3, "a's gre0 received {gre_in} frames");

    for ((host, ..), root) in hosts.iter().zip(&roots) {
        ifupdown(&lab, host, root, "ifdown");
        assert_eq!(lab.vsctl_ok(host, &["list-br"]).unwrap(), "", "{host}");
        assert!(
            !link_exists(&lab, host, "mgmt0"),
            "{host}: mgmt0 is still there"
        );
    }
}

#[test]
fn ifup_brings_a_host_up_with_grebes_hook() {
    boot_two_hosts("bootg", Hook::Grebe, &[("ifupdown", ifupdown_present())]);
}

#[test]
fn ifup_brings_a_host_up_with_ovss_own_hook() {
    boot_two_hosts(
        "booto",
        Hook::Ovs,
        &[
            ("ifupdown", ifupdown_present()),
            ("openvswitch-switch", Path::new(OVS_HOOK).exists()),
        ],
    );
}

/// OVS's hook skips every stanza when `ovs-vsctl --version` fails: grebe's answers it without a
/// daemon, as OVS's does.
#[test]
fn ovs_vsctl_version_needs_no_daemon() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("boot-version");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let link = dir.join("ovs-vsctl");
    symlink(GREBE, &link).unwrap();
    let out = Command::new(&link)
        .args(["--timeout=5", "--version"])
        .env("GREBE_RUNDIR", dir.join("no-daemon"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ovs-vsctl (grebe) "));
    // A command still needs the daemon, and says so.
    let out = Command::new(&link)
        .args(["--timeout=5", "list-br"])
        .env("GREBE_RUNDIR", dir.join("no-daemon"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach the grebe daemon"));
}

/// The unit is ready before ifupdown's networking.service runs the stanzas, after the
/// network-pre.target units (firewalls), as Debian's OVS units are ordered.
#[test]
fn the_unit_is_ordered_before_networking() {
    let unit = fs::read_to_string(Path::new(REPO).join("packaging/grebe.service")).unwrap();
    let values = |key: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .flat_map(|v| v.split_whitespace().map(String::from))
            .collect()
    };
    let before = values("Before");
    for target in ["networking.service", "network.target"] {
        assert!(before.iter().any(|b| b == target), "Before= lacks {target}");
    }
    assert!(values("After").iter().any(|a| a == "network-pre.target"));
    assert!(values("Wants").iter().any(|w| w == "network-pre.target"));
    assert!(unit.contains("\nType=notify\n"));
    for phase in ["if-pre-up", "if-post-down"] {
        let path = Path::new(REPO).join("packaging/ifupdown").join(phase);
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755, "{phase}");
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("#!/bin/sh\n"), "{phase}");
        assert!(
            text.contains("exec /usr/share/grebe/ifupdown.sh \"$@\""),
            "{phase}"
        );
    }
}

/// A stanza grebe cannot honour fails its interface, with grebe's message, where OVS's hook
/// would exit 0 and leave it marked up; the stanzas before it stay configured.
#[test]
fn grebes_hook_fails_a_stanza_grebe_refuses() {
    let Some(lab) = common::lab_with("bootf", &[("ifupdown", ifupdown_present())]) else {
        return;
    };
    lab.add_switch("wan").unwrap();
    lab.add_host("a", "wan", "192.0.2.1/24").unwrap();
    lab.start_daemon("a").unwrap();
    let stanzas = "auto br-int
iface br-int inet manual
    ovs_type OVSBridge

auto bond0
iface bond0 inet manual
    ovs_type OVSBond
    ovs_bridge br-int
    ovs_bonds eth1 eth2
";
    let root = host_root(&lab, "a", Hook::Grebe, stanzas);
    let out = lab
        .command("a", "sh")
        .arg(root.join("enter"))
        .arg(&root)
        .arg(lab.rundir("a"))
        .args(["ifup", "-i"])
        .arg(root.join("interfaces"))
        .arg("--state-dir")
        .arg(root.join("state"))
        .arg("-a")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "ifup succeeded: {text}");
    assert!(
        text.contains("ovs-vsctl: grebe does not support the 'add-bond' command"),
        "{text}"
    );
    assert!(text.contains("failed to bring up bond0"), "{text}");
    assert_eq!(lab.vsctl_ok("a", &["list-ports", "br-int"]).unwrap(), "");
    let state = fs::read_dir(root.join("state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<Vec<_>>();
    let up = |iface: &str| {
        fs::read_to_string(root.join("state").join(format!("ifstate.{iface}")))
            .is_ok_and(|s| !s.trim().is_empty())
    };
    assert!(up("br-int"), "br-int is not up: {state:?}");
    assert!(!up("bond0"), "bond0 is marked up: {state:?}");
}

/// The systemd-networkd equivalent, as the README gives it: grebe.service restores the bridge
/// and its ports from the saved configuration, and this file gives mgmt0 its address.
const MGMT0_NETWORK: &str = "[Match]
Name=mgmt0

[Network]
Address=198.51.100.1/24
ConfigureWithoutCarrier=yes
";

/// Runs systemd-networkd on its own in the host's namespace, with only `$root/network` as its
/// configuration, in a private /run. Without udev (a container) networkd waits for udev to
/// announce each link, so the script writes the udev database entries that say a link is
/// initialised, as udev would.
const NETWORKD: &str = r#"set -e
root=$1
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/netif /run/udev/data
chown systemd-network: /run/systemd/netif
for dev in /sys/class/net/*; do printf 'I:1\n' > "/run/udev/data/n$(cat "$dev/ifindex")"; done
mount --bind "$root/network" /etc/systemd/network
mkdir -p "$root/empty"
for dir in /run/systemd/network /usr/lib/systemd/network /lib/systemd/network; do
    if [ -d "$dir" ]; then mount --bind "$root/empty" "$dir"; fi
done
exec /lib/systemd/systemd-networkd
"#;

fn address_of(lab: &Lab, host: &str, dev: &str) -> String {
    let out = lab
        .sh(host, &["ip", "-br", "-4", "addr", "show", "dev", dev])
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn networkd_gives_mgmt0_its_address_after_a_restart() {
    let networkd = Path::new("/lib/systemd/systemd-networkd");
    let Some(lab) = common::lab_with("bootn", &[("systemd", networkd.exists())]) else {
        return;
    };
    common::two_hosts(&lab);
    // A reboot: the daemon stops and the host's TAP goes with the old kernel.
    lab.stop_daemon("a", false).unwrap();
    if link_exists(&lab, "a", "mgmt0") {
        lab.sh("a", &["ip", "link", "del", "mgmt0"]).unwrap();
    }
    lab.start_daemon("a").unwrap();
    assert_eq!(
        lab.vsctl_ok("a", &["list-ports", "br-int"]).unwrap(),
        "gre0\nmgmt0\n",
        "the saved configuration"
    );
    assert!(
        link_exists(&lab, "a", "mgmt0"),
        "the daemon recreated mgmt0"
    );
    assert!(!address_of(&lab, "a", "mgmt0").contains("198.51.100.1/"));

    let root = lab.dir().join("root-networkd");
    fs::create_dir_all(root.join("network")).unwrap();
    fs::write(root.join("network/mgmt0.network"), MGMT0_NETWORK).unwrap();
    fs::write(root.join("networkd"), NETWORKD).unwrap();
    let mut child = lab
        .command("a", "sh")
        .arg(root.join("networkd"))
        .arg(&root)
        .stdout(std::process::Stdio::null())
        .stderr(fs::File::create(root.join("networkd.log")).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let configured = loop {
        let addr = address_of(&lab, "a", "mgmt0");
        if addr.contains("198.51.100.1/24") {
            break Ok(addr);
        }
        if std::time::Instant::now() > deadline {
            break Err(addr);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let log = || fs::read_to_string(root.join("networkd.log")).unwrap_or_default();
    let pinged = configured.is_ok().then(|| {
        lab.wait_ping("a", "198.51.100.2", std::time::Duration::from_secs(10))
            .and_then(|()| lab.ping("a", "198.51.100.2", 3).map(drop))
    });
    // networkd leaves the transport link, which no file matches, as it was.
    let eth0 = address_of(&lab, "a", "eth0");
    let _ = child.kill();
    let _ = child.wait();
    let addr = configured.unwrap_or_else(|a| panic!("mgmt0 got no address: {a}\n{}", log()));
    assert!(
        addr.contains(" UP ") || addr.contains(" UNKNOWN "),
        "{addr}"
    );
    pinged
        .unwrap()
        .unwrap_or_else(|e| panic!("a -> b after networkd: {e}\n{}", log()));
    assert!(eth0.contains("192.0.2.1/24"), "{eth0}");
}
