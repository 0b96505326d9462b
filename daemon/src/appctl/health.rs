//! `health`: one line a port saying whether it is up and carrying traffic, up and idle, or why
//! not, for a person or a check script that wants the answer rather than the counters.
//!
//! "Carrying traffic" means the port's counters moved since the previous `health` (since the
//! daemon started, for the first): a snapshot is kept for the next call, so that a port that
//! carried traffic an hour ago and none since reads idle.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Mutex;

use datapath::PortStats;

use crate::registry::Registry;
use crate::state::DaemonState;

pub fn register(r: &mut Registry<DaemonState>) {
    r.reply(
        "health",
        "one line a port: up and carrying traffic, up and idle, or why not",
        0..=0,
        |state, _, _| Ok(health(state)),
    );
}

/// (rx packets, tx packets) of each port at the previous call.
static PREVIOUS: Mutex<BTreeMap<String, (u64, u64)>> = Mutex::new(BTreeMap::new());

fn health(state: &DaemonState) -> String {
    let ports = state.datapath.port_stats();
    let errors = state.interface_errors(&ports);
    let mut previous = PREVIOUS.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = String::new();
    for (bridge, b) in &state.config.bridges {
        for name in b.ports.keys() {
            let line = match ports.iter().find(|p| &p.name == name) {
                Some(p) => {
                    let before = previous.get(name).copied().unwrap_or((0, 0));
                    port_line(p, before, errors.get(name))
                }
                None => format!(
                    "down: {}",
                    errors
                        .get(name)
                        .map_or("not in the datapath", String::as_str)
                ),
            };
            let _ = writeln!(s, "{bridge} {name}: {line}");
        }
    }
    *previous = ports
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                (p.counters.rx_packets, p.counters.tx_packets),
            )
        })
        .collect();
    s
}

/// What one port in the datapath is doing; `before` is its (rx, tx) at the previous call.
fn port_line(p: &PortStats, before: (u64, u64), error: Option<&String>) -> String {
    if let Some(e) = error {
        return format!("down: {e}");
    }
    if p.admin_state != "up" {
        return format!(
            "down: the interface is administratively down (ip link set dev {} up)",
            p.name
        );
    }
    if p.link_state != "up" {
        return "down: the interface has no link (carrier down)".to_string();
    }
    if let Some(remote) = p.remote_ip
        && let Err(e) = route_to(remote)
    {
        return format!("down: no route to the remote {remote} ({e})");
    }
    let rx = p.counters.rx_packets.saturating_sub(before.0);
    let tx = p.counters.tx_packets.saturating_sub(before.1);
    match (rx, tx, p.remote_ip) {
        (0, 0, _) => "up, idle (no frames since the last check)".to_string(),
        // A tunnel that only sends: the remote is silent, or drops what we send.
        (0, tx, Some(remote)) => {
            format!(
                "up, sending ({tx} frames) but nothing received from {remote} since the last check"
            )
        }
        (rx, tx, _) => {
            format!("up, carrying traffic ({rx} frames in, {tx} out since the last check)")
        }
    }
}

/// Whether the kernel has a route to `remote`: a UDP socket's connect looks it up and sends
/// nothing.
fn route_to(remote: IpAddr) -> std::io::Result<()> {
    let any: SocketAddr = match remote {
        IpAddr::V4(_) => (IpAddr::from([0u8; 4]), 0).into(),
        IpAddr::V6(_) => (IpAddr::from([0u16; 8]), 0).into(),
    };
    UdpSocket::bind(any)?.connect((remote, 9))
}
