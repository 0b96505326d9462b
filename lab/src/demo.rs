//! `grebe demo`: the seed's topology in network namespaces, pinging through GRE.
//!
//! Three hosts (bare metal, container host, VM host) on a transport network 192.0.2.0/24, each
//! with a grebe daemon configured by the same ovs-vsctl commands the classic OVS setup uses, and
//! an overlay 198.51.100.0/24 on their `mgmt0` ports. A full mesh of tunnels with split horizon:
//! every host has a tunnel to every other, and a frame from a tunnel never goes into another.
//! With `--mesh` the same mesh runs spanning tree instead, as the classic setup does: STP (or
//! RSTP) blocks one tunnel, and the demo shows the tree each host built.

use std::time::Duration;

use anyhow::{Context, bail};

use crate::mesh::{self, MeshHost};
use crate::netns::{Lab, is_root};

const PREFIX: &str = "grebe-demo";

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

/// Runs the demo: split horizon, or with `mesh` spanning tree by that protocol.
pub fn run(keep: bool, mesh: Option<stp::Protocol>) -> anyhow::Result<()> {
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
    let result = match mesh {
        None => build_and_show(&lab),
        Some(protocol) => build_mesh_and_show(&lab, protocol),
    };
    match (&result, keep) {
        (Ok(()), true) => {
            print_explore(&lab);
            lab.keep();
        }
        _ => lab.cleanup(),
    }
    result
}

fn step(text: &str) {
    println!("\n== {text}");
}

fn build_and_show(lab: &Lab) -> anyhow::Result<()> {
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
        lab.vsctl_ok(
            h.name,
            &[
                "set",
                "bridge",
                "br-int",
                "other_config:tunnel-split-horizon=true",
            ],
        )?;
        println!("     ovs-vsctl set bridge br-int other_config:tunnel-split-horizon=true");
    }

    step("ping every pair through the tunnels (overlay 198.51.100.0/24)");
    let pairs: Vec<(&str, &str)> = HOSTS.iter().map(|h| (h.name, h.overlay)).collect();
    ping_every_pair(lab, &pairs)?;

    step("what each host learned (grebe appctl fdb/show br-int)");
    for h in &HOSTS {
        println!("   [{}]", h.name);
        for line in lab.appctl(h.name, &["fdb/show", "br-int"])?.lines() {
            println!("   {line}");
        }
    }

    step("what happened");
    let mac_of = |host: &str| -> anyhow::Result<String> {
        let out = lab.sh(host, &["cat", "/sys/class/net/mgmt0/address"])?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    println!(
        "   Each ping began with an ARP broadcast from mgmt0. grebe learned the sender's MAC on mgmt0\n   \
         and flooded the broadcast into both GRE tunnels; the receivers learned that MAC on the tunnel\n   \
         it came from and (split horizon) did not pass it on to their other tunnel. The ARP reply was\n   \
         unicast, and from then on every frame went straight through one tunnel:"
    );
    for h in &HOSTS {
        let mac = mac_of(h.name)?;
        println!(
            "   - frames to {} ({}'s mgmt0, {mac}) leave the other hosts through their tunnel to {}",
            h.overlay, h.name, h.transport
        );
    }
    println!("   What each tunnel carried (grebe appctl dpif/show):");
    for h in &HOSTS {
        let dpif: serde_json::Value =
            serde_json::from_str(&lab.appctl(h.name, &["dpif/show", "--format", "json"])?)?;
        for port in dpif["bridges"][0]["ports"].as_array().into_iter().flatten() {
            if port["type"] == "gre" {
                println!(
                    "   - {} {} to {}: {} frames out, {} frames in",
                    h.name,
                    port["name"].as_str().unwrap_or("?"),
                    port["remote_ip"].as_str().unwrap_or("?"),
                    port["tx_packets"],
                    port["rx_packets"]
                );
            }
        }
    }
    println!(
        "   On the transport each frame is an IPv4 packet (protocol 47) carrying a 4-byte GRE header\n   \
         (protocol type 0x6558) and the whole Ethernet frame: 38 bytes of overhead, which is why grebe\n   \
         set mgmt0's MTU to 1462."
    );
    let mtu = lab.sh("bm", &["cat", "/sys/class/net/mgmt0/mtu"])?;
    println!(
        "   bm's mgmt0 MTU: {}",
        String::from_utf8_lossy(&mtu.stdout).trim()
    );
    Ok(())
}

/// Bridge priorities of the mesh: bm the root, ct next; vm's tunnel to ct is the one to block.
const MESH_PRIORITIES: [u16; 3] = [4096, 8192, 32768];

fn build_mesh_and_show(lab: &Lab, protocol: stp::Protocol) -> anyhow::Result<()> {
    let name = match protocol {
        stp::Protocol::Stp => "STP (802.1D)",
        stp::Protocol::Rstp => "RSTP (802.1w)",
    };
    let hosts: Vec<MeshHost> = HOSTS
        .iter()
        .zip(MESH_PRIORITIES)
        .map(|(h, priority)| MeshHost {
            name: h.name.to_owned(),
            transport: h.transport.to_owned(),
            overlay: h.overlay.to_owned(),
            ovs: false,
            priority,
        })
        .collect();
    step(&format!(
        "three hosts on 192.0.2.0/24, each with a tunnel to both others and {name} on br-int"
    ));
    for (h, m) in HOSTS.iter().zip(&hosts) {
        println!("   [{}] {}, eth0 {}", h.name, h.role, h.transport);
        println!("     ovs-vsctl add-br br-int");
        println!(
            "     ovs-vsctl {}",
            mesh::tree_args(protocol, m.priority).join(" ")
        );
        println!("     ovs-vsctl add-port br-int mgmt0 -- set interface mgmt0 type=internal");
        for (i, r) in hosts.iter().filter(|o| o.name != h.name).enumerate() {
            println!(
                "     ovs-vsctl add-port br-int gre{i} -- set interface gre{i} type=gre options:remote_ip={}",
                r.transport
            );
        }
    }
    println!(
        "   Without a spanning tree this mesh is a loop: the first broadcast would circle it for\n   \
         ever. Each tunnel starts blocked; BPDUs (frames to 01:80:c2:00:00:00) go through them."
    );
    let started = std::time::Instant::now();
    mesh::build(lab, &hosts, protocol)?;

    step("waiting for the tree: the lowest bridge ID (priority first) becomes the root");
    let (_, views) = mesh::wait_converged(lab, &hosts, protocol, Duration::from_secs(60))?;
    let took = started.elapsed();
    println!(
        "   converged {:.1} s after the hosts were configured{}",
        took.as_secs_f64(),
        match protocol {
            stp::Protocol::Stp => " (listening 4 s, learning 4 s: twice the forward delay)",
            stp::Protocol::Rstp => " (proposal and agreement: no timers to wait for)",
        }
    );

    step(&format!(
        "the tree as each host sees it (grebe appctl {} br-int)",
        mesh::show_command(protocol)
    ));
    for (h, v) in hosts.iter().zip(&views) {
        println!("   [{}]", h.name);
        for line in v.text.lines() {
            println!("   {line}");
        }
    }
    let root = hosts
        .iter()
        .zip(&views)
        .find(|(_, v)| v.is_root)
        .map_or("?", |(h, _)| h.name.as_str());
    for (h, v) in hosts.iter().zip(&views) {
        for port in v.blocked() {
            let peer = hosts
                .iter()
                .filter(|o| o.name != h.name)
                .find(|o| mesh::tunnel_name(&hosts, &h.name, &o.name) == port)
                .map_or("?", |o| o.name.as_str());
            println!(
                "   The root is {root}. {}'s {port} (its tunnel to {peer}) is blocked: it carries \
                 BPDUs only,\n   so frames between {} and {peer} go through {root}.",
                h.name, h.name
            );
        }
    }

    step("ping every pair through the tree (overlay 198.51.100.0/24)");
    let pairs: Vec<(&str, &str)> = hosts
        .iter()
        .map(|h| (h.name.as_str(), h.overlay.as_str()))
        .collect();
    ping_every_pair(lab, &pairs)?;
    step("BPDUs and blocked frames (grebe appctl dpif/show)");
    for h in &hosts {
        let dpif: serde_json::Value =
            serde_json::from_str(&lab.appctl(&h.name, &["dpif/show", "--format", "json"])?)?;
        for port in dpif["bridges"][0]["ports"].as_array().into_iter().flatten() {
            if port["type"] == "gre" {
                println!(
                    "   - {} {}: {} BPDUs out, {} in; {} frames out, {} in",
                    h.name,
                    port["name"].as_str().unwrap_or("?"),
                    port["bpdu_tx"],
                    port["bpdu_rx"],
                    port["tx_packets"],
                    port["rx_packets"]
                );
            }
        }
        let blocked = &dpif["drops"]["stp_blocked"];
        if blocked.as_u64().unwrap_or(0) > 0 {
            println!(
                "     {} frames arrived on {}'s blocked tunnel and were dropped (stp_blocked)",
                blocked, h.name
            );
        }
    }
    Ok(())
}

/// Pings every (host, overlay address) from every other, three times, and prints the RTT.
fn ping_every_pair(lab: &Lab, hosts: &[(&str, &str)]) -> anyhow::Result<()> {
    for (a, a_ip) in hosts {
        for (b, b_ip) in hosts.iter().filter(|(b, _)| b != a) {
            // The first packets wait for ARP on both the overlay and the transport.
            lab.wait_ping(a, b_ip, Duration::from_secs(10))?;
            let rtt = lab.ping(a, b_ip, 3)?;
            println!(
                "   {a} {a_ip} -> {b} {b_ip}: 3/3 replies, rtt avg {:.3} ms",
                rtt.get(1).copied().unwrap_or(f64::NAN)
            );
        }
    }
    Ok(())
}

fn print_explore(lab: &Lab) {
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
    println!(
        "   ip netns exec {ns} env GREBE_RUNDIR={} {grebe} appctl stp/show   (with --mesh)",
        rundir.display()
    );
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
