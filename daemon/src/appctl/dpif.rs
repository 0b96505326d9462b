//! `dpif/show`: every port with its counters, and the datapath's drops by reason.

use std::fmt::Write as _;

use serde_json::json;

use crate::registry::{Format, Registry};
use crate::state::DaemonState;

pub fn register(r: &mut Registry<DaemonState>) {
    r.reply(
        "dpif/show",
        "[--format json]  ports with traffic counters, drops by reason",
        0..=0,
        |state, _, format| Ok(dpif_show(state, format)),
    );
}

fn dpif_show(state: &DaemonState, format: Format) -> String {
    let ports = state.datapath.port_stats();
    let drops = state.datapath.drops();
    let errors = state.interface_errors(&ports);
    let events = state.datapath.events();
    let loops = state.datapath.loop_stats();
    if format == Format::Json {
        let bridges: Vec<_> = state
            .config
            .bridges
            .keys()
            .map(|b| {
                let settings = state.datapath.bridge_settings(b);
                json!({
                    "name": b,
                    "mac_aging_time": settings.map(|s| s.table.ageing.as_secs()),
                    "mac_table_size": settings.map(|s| s.table.max_entries),
                    "tunnel_split_horizon": settings.map(|s| s.split_horizon),
                    "spanning_tree": state.datapath.tree_settings(b).map(|t| match t.protocol {
                        stp::Protocol::Stp => "stp",
                        stp::Protocol::Rstp => "rstp",
                    }),
                    "ports": ports.iter().filter(|p| &p.bridge == b).collect::<Vec<_>>(),
                })
            })
            .collect();
        let drops: serde_json::Map<String, serde_json::Value> = drops
            .iter()
            .map(|(r, n)| (r.name().to_string(), json!(n)))
            .collect();
        let errors: serde_json::Map<String, serde_json::Value> =
            errors.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let events: serde_json::Map<String, serde_json::Value> = events
            .iter()
            .map(|(e, n)| (e.name().to_string(), json!(n)))
            .collect();
        return format!(
            "{}\n",
            json!({ "bridges": bridges, "drops": drops, "errors": errors, "pmtu": events, "loops": loops })
        );
    }
    let mut s = format!(
        "grebe@{}: up {} s\n",
        state.db.display(),
        state.started.elapsed().as_secs()
    );
    for (i, l) in loops.iter().enumerate() {
        let _ = write!(
            s,
            "  datapath thread {i}: {} loops, {} idle polls; frames per read:",
            l.iterations, l.idle_polls
        );
        let read: Vec<_> = l.batches.iter().filter(|h| h.calls() > 0).collect();
        if read.is_empty() {
            s.push_str(" no reads yet");
        }
        for (j, h) in read.iter().enumerate() {
            let sep = if j == 0 { "" } else { "," };
            let avg = h.frames as f64 / h.calls() as f64;
            let _ = write!(
                s,
                "{sep} {} {avg:.1} ({} reads)",
                h.source.name(),
                h.calls()
            );
        }
        s.push('\n');
    }
    for b in state.config.bridges.keys() {
        let _ = writeln!(s, "  {b}:");
        for p in ports.iter().filter(|p| &p.bridge == b) {
            let what = match (p.remote_ip, p.key) {
                (Some(ip), Some(k)) => format!("gre: remote_ip={ip}, key={k}"),
                (Some(ip), None) => format!("gre: remote_ip={ip}"),
                _ => "internal".to_string(),
            };
            // Where its packets leave: written to an interface, or through the kernel's IP stack.
            let what = match (&p.link, p.remote_ip) {
                (Some(dev), _) => format!("{what}, out {dev}"),
                (None, Some(_)) => format!("{what}, out the raw socket"),
                (None, None) if p.kind == "system" => format!("system, {}", p.link_state),
                (None, None) => what,
            };
            let mtu = p.mtu.map_or(String::new(), |m| format!(" mtu {m}"));
            let c = p.counters;
            let _ = writeln!(
                s,
                "    {} {}: ({what}){mtu}\n      rx {} pkts {} bytes, tx {} pkts {} bytes, tx dropped {}",
                p.name, p.port_no, c.rx_packets, c.rx_bytes, c.tx_packets, c.tx_bytes, c.tx_dropped
            );
            if c.bpdu_tx + c.bpdu_rx + c.bpdu_errors > 0 {
                let _ = writeln!(
                    s,
                    "      bpdu tx {}, rx {}, malformed or not in tree {}",
                    c.bpdu_tx, c.bpdu_rx, c.bpdu_errors
                );
            }
            if let Some(n) = p.recreated.filter(|n| *n > 0) {
                let _ = writeln!(
                    s,
                    "      device deleted under the daemon and made again {n} times"
                );
            }
        }
        for (iface, error) in errors
            .iter()
            .filter(|(i, _)| state.config.bridges[b].ports.contains_key(i.as_str()))
        {
            let _ = writeln!(s, "    {iface}: error: {error}");
        }
    }
    let done: Vec<_> = events.iter().filter(|(_, n)| *n > 0).collect();
    if !done.is_empty() {
        s.push_str("  path MTU:\n");
        for (e, n) in done {
            let _ = writeln!(s, "    {:<26} {n:>8}  {}", e.name(), e.description());
        }
    }
    let nonzero: Vec<_> = drops.iter().filter(|(_, n)| *n > 0).collect();
    if nonzero.is_empty() {
        s.push_str("  drops: none\n");
    } else {
        s.push_str("  drops:\n");
        for (r, n) in nonzero {
            let _ = writeln!(s, "    {:<20} {n:>8}  {}", r.name(), r.description());
        }
    }
    s
}
