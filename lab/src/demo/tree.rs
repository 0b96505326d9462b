//! `grebe demo --mesh`: the three hosts as the classic setup runs them, a full mesh of tunnels
//! with spanning tree (STP or RSTP) on every bridge, and the tree they built.

use std::time::Duration;

use super::{Endpoint, HOSTS, ping_pairs, step};
use crate::mesh::{self, MeshHost};
use crate::netns::Lab;

/// Bridge priorities of the mesh: bm the root, ct next; vm's tunnel to ct is the one to block.
const MESH_PRIORITIES: [u16; 3] = [4096, 8192, 32768];

pub(super) fn build_and_show(lab: &Lab, protocol: stp::Protocol) -> anyhow::Result<()> {
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
            ovsdb: false,
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
    let ends: Vec<Endpoint> = HOSTS.iter().map(Endpoint::mgmt0).collect();
    ping_pairs(lab, &Endpoint::every_pair(&ends, false))?;
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
