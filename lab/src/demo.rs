//! `grebe demo`: the classic setup in network namespaces, pinging through GRE.
//!
//! Three hosts (bare metal, container host, VM host) on a transport network 192.0.2.0/24, each
//! with a grebe daemon configured by the same ovs-vsctl commands the classic OVS setup uses, and
//! an overlay 198.51.100.0/24 on their `mgmt0` ports. A full mesh of tunnels with split horizon:
//! every host has a tunnel to every other, and a frame from a tunnel never goes into another.
//! What runs on top is the mode's (a file each):
//!
//! - `classic`: the workloads the setup exists for, a container on the container host and a VM
//!   guest on the VM host, pinging the bare-metal host and each other;
//! - `tenants` (`--vlan`): two tenants on the same mesh, VLAN 100 and VLAN 200, each with a
//!   container and a guest; same-tenant pings answer, cross-tenant ones do not;
//! - `tree` (`--mesh`): spanning tree instead of split horizon, and the tree each host built.

mod classic;
mod tenants;
mod tree;

use std::time::Duration;

use anyhow::{Context, bail};

use crate::netns::{Lab, is_root};

const PREFIX: &str = "grebe-demo";

/// What the demo builds on its three hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A container and a VM guest on the split-horizon mesh.
    Classic,
    /// Two tenants in VLANs 100 and 200 on the split-horizon mesh.
    Tenants,
    /// The mesh under spanning tree, by this protocol.
    Tree(stp::Protocol),
}

struct Host {
    name: &'static str,
    role: &'static str,
    transport: &'static str,
    overlay: &'static str,
}

const HOSTS: [Host; 3] = [
    Host {
        name: "bm",
        role: "bare-metal host",
        transport: "192.0.2.11",
        overlay: "198.51.100.11",
    },
    Host {
        name: "ct",
        role: "container host",
        transport: "192.0.2.12",
        overlay: "198.51.100.12",
    },
    Host {
        name: "vm",
        role: "VM host",
        transport: "192.0.2.13",
        overlay: "198.51.100.13",
    },
];

/// Something that pings and answers: a host's mgmt0, a container or a guest. `name` is also
/// the lab host (namespace) it pings from; `host` is the grebe host whose bridge it is on.
#[derive(Clone, Copy)]
struct Endpoint<'a> {
    name: &'a str,
    ip: &'a str,
    host: &'a str,
}

impl<'a> Endpoint<'a> {
    fn mgmt0(h: &'a Host) -> Self {
        Endpoint {
            name: h.name,
            ip: h.overlay,
            host: h.name,
        }
    }

    /// Every ordered pair of `ends`; with `across_only`, only pairs on different hosts (the
    /// ones whose frames cross a GRE tunnel).
    fn every_pair(ends: &[Self], across_only: bool) -> Vec<(Self, Self)> {
        let mut pairs = Vec::new();
        for a in ends {
            for b in ends {
                if a.name != b.name && !(across_only && a.host == b.host) {
                    pairs.push((*a, *b));
                }
            }
        }
        pairs
    }
}

/// Runs the demo in `mode`; with `keep`, leaves it running afterwards.
pub fn run(keep: bool, mode: Mode) -> anyhow::Result<()> {
    if !is_root() {
        bail!(
            "grebe demo creates network namespaces and TAP devices: run it as root (sudo grebe demo)"
        );
    }
    let grebe = std::env::current_exe().context("locating the grebe binary")?;
    let lab = Lab::new(PREFIX, grebe)?;
    let on_signal = lab.clone();
    ctrlc::set_handler(move || {
        eprintln!("\ninterrupted: removing the demo's namespaces");
        on_signal.cleanup();
        std::process::exit(130);
    })
    .context("installing the Ctrl-C handler")?;
    let result = match mode {
        Mode::Classic => classic::build_and_show(&lab),
        Mode::Tenants => tenants::build_and_show(&lab),
        Mode::Tree(protocol) => tree::build_and_show(&lab, protocol),
    };
    match (&result, keep) {
        (Ok(()), true) => {
            print_explore(&lab, mode);
            lab.keep();
        }
        _ => lab.cleanup(),
    }
    result
}

fn step(text: &str) {
    println!("\n== {text}");
}

/// The transport network, the three hosts and their grebe daemons, configured as the classic
/// setup configures OVS (printing the commands), split horizon on every bridge.
fn build_hosts(lab: &Lab) -> anyhow::Result<()> {
    step("transport network 192.0.2.0/24: a switch namespace and three hosts");
    lab.add_switch("wan")?;
    for h in &HOSTS {
        lab.add_host(h.name, "wan", &format!("{}/24", h.transport))?;
        println!(
            "   {:<3} {:<16} eth0 {}  (namespace {})",
            h.name,
            h.role,
            h.transport,
            lab.netns(h.name)
        );
    }

    step("each host runs grebe and is configured like an Open vSwitch host");
    for h in &HOSTS {
        lab.start_daemon(h.name)?;
        let remotes: Vec<&str> = HOSTS
            .iter()
            .filter(|o| o.name != h.name)
            .map(|o| o.transport)
            .collect();
        println!("   [{}]", h.name);
        println!("     ovs-vsctl add-br br-int");
        println!("     ovs-vsctl add-port br-int mgmt0 -- set interface mgmt0 type=internal");
        println!(
            "     ip addr add {}/24 dev mgmt0; ip link set mgmt0 up",
            h.overlay
        );
        lab.configure_seed(h.name, &format!("{}/24", h.overlay), &remotes)?;
        for (i, r) in remotes.iter().enumerate() {
            println!("     ovs-vsctl add-port br-int gre{i}");
            println!("     ovs-vsctl set interface gre{i} type=gre options:remote_ip={r}");
        }
        // A full mesh loops broadcasts without spanning tree; split horizon stops that.
        vsctl_shown(
            lab,
            h.name,
            &[
                "set",
                "bridge",
                "br-int",
                "other_config:tunnel-split-horizon=true",
            ],
        )?;
    }
    Ok(())
}

/// Runs `ovs-vsctl ARGS` (grebe's) on `host` and prints the line as a shell would take it.
fn vsctl_shown(lab: &Lab, host: &str, args: &[&str]) -> anyhow::Result<()> {
    lab.vsctl_ok(host, args)?;
    println!("     ovs-vsctl {}", shell_words(args));
    Ok(())
}

/// `args` as one shell line: words with quotes or spaces in single quotes.
fn shell_words(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            if a.contains(['"', ' ', '\'']) {
                format!("'{}'", a.replace('\'', r"'\''"))
            } else {
                (*a).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Pings `b` from `a` for every pair, three times, and prints the RTT; fails on the first
/// pair that does not answer.
fn ping_pairs(lab: &Lab, pairs: &[(Endpoint, Endpoint)]) -> anyhow::Result<()> {
    for (a, b) in pairs {
        // The first packets wait for ARP on both the overlay and the transport.
        lab.wait_ping(a.name, b.ip, Duration::from_secs(10))?;
        let rtt = lab.ping(a.name, b.ip, 3)?;
        println!(
            "   {} {} -> {} {}: 3/3 replies, rtt avg {:.3} ms",
            a.name,
            a.ip,
            b.name,
            b.ip,
            rtt.get(1).copied().unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

/// Pings `b` from `a`, which must get no reply at all (`why` says why not); a reply is an
/// error, the isolation the demo shows would be broken.
fn ping_unanswered(lab: &Lab, a: Endpoint, b: Endpoint, why: &str) -> anyhow::Result<()> {
    if lab.ping(a.name, b.ip, 2).is_ok() {
        bail!(
            "{} {} answered {} {} although {why}",
            b.name,
            b.ip,
            a.name,
            a.ip
        );
    }
    println!(
        "   {} {} -> {} {}: no reply, as expected ({why})",
        a.name, a.ip, b.name, b.ip
    );
    Ok(())
}

/// `fdb/show br-int` of every host, indented.
fn show_fdb(lab: &Lab) -> anyhow::Result<()> {
    for h in &HOSTS {
        println!("   [{}]", h.name);
        for line in lab.appctl(h.name, &["fdb/show", "br-int"])?.lines() {
            println!("   {line}");
        }
    }
    Ok(())
}

/// An interface's MAC address in `host`'s namespace.
fn mac_of(lab: &Lab, host: &str, dev: &str) -> anyhow::Result<String> {
    let out = lab.sh(host, &["cat", &format!("/sys/class/net/{dev}/address")])?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn print_explore(lab: &Lab, mode: Mode) {
    let ns = lab.netns("bm");
    let rundir = lab.rundir("bm");
    let grebe = lab.grebe().display();
    println!("\n== the demo keeps running; explore it:");
    println!(
        "   ip netns exec {ns} env GREBE_RUNDIR={} {grebe} appctl fdb/show br-int",
        rundir.display()
    );
    println!(
        "   ip netns exec {ns} env GREBE_RUNDIR={} {grebe} appctl dpif/show",
        rundir.display()
    );
    println!(
        "   ip netns exec {ns} env GREBE_RUNDIR={} {grebe} vsctl show",
        rundir.display()
    );
    println!("   ip netns exec {ns} ping 198.51.100.12");
    println!(
        "   ip netns exec {}-wan tcpdump -ni sw0 ip proto 47   (if tcpdump is installed)",
        lab.prefix()
    );
    match mode {
        Mode::Classic => println!(
            "   ip netns exec {} ping {}   (the container pinging the guest)",
            lab.netns(classic::CONTAINER.name),
            classic::GUEST.ip
        ),
        Mode::Tenants => println!(
            "   ip netns exec {} ping {}   (tenant 100's container pinging its guest)",
            lab.netns(tenants::CONTAINER_100.name),
            tenants::GUEST_100.ip
        ),
        Mode::Tree(_) => println!(
            "   ip netns exec {ns} env GREBE_RUNDIR={} {grebe} appctl stp/show",
            rundir.display()
        ),
    }
    println!("   (hosts: bm, ct, vm; replace the namespace and rundir to look at another)");
    println!("   remove it all: {grebe} demo --clean");
}

/// Removes what a `--keep` run left.
pub fn clean() -> anyhow::Result<()> {
    if !is_root() {
        bail!("removing the demo's namespaces needs root");
    }
    let lab = Lab::new(PREFIX, std::env::current_exe()?)?;
    lab.cleanup();
    println!("removed the demo's namespaces");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_quote_only_what_a_shell_would_split_or_eat() {
        assert_eq!(
            shell_words(&["add-port", "br-int", "vnet0"]),
            "add-port br-int vnet0"
        );
        assert_eq!(
            shell_words(&[
                "set",
                "Interface",
                "vnet0",
                "external-ids:attached-mac=\"x\""
            ]),
            "set Interface vnet0 'external-ids:attached-mac=\"x\"'"
        );
        assert_eq!(shell_words(&["a'b"]), r"'a'\''b'");
    }

    #[test]
    fn pairs_across_hosts_leave_out_neighbours_on_one_bridge() {
        let e = |name, host| Endpoint {
            name,
            ip: "198.51.100.1",
            host,
        };
        let ends = [e("bm", "bm"), e("ct", "ct"), e("web", "ct")];
        let names = |pairs: Vec<(Endpoint, Endpoint)>| {
            pairs
                .iter()
                .map(|(a, b)| format!("{}>{}", a.name, b.name))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(Endpoint::every_pair(&ends, true)),
            ["bm>ct", "bm>web", "ct>bm", "web>bm"]
        );
        assert_eq!(Endpoint::every_pair(&ends, false).len(), 6);
    }
}
