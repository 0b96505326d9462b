//! `fdb/show`, `fdb/flush`, `fdb/stats-show`: the MAC table, as OVS's commands print it.

use std::fmt::Write as _;

use serde_json::json;

use super::no_bridge;
use crate::registry::{Format, Registry};
use crate::state::DaemonState;

pub fn register(r: &mut Registry<DaemonState>) {
    r.reply(
        "fdb/show",
        "BRIDGE [--format json]  learned MAC addresses, OVS's layout",
        1..=1,
        |state, args, format| fdb_show(state, args[0], format),
    );
    r.reply(
        "fdb/flush",
        "[BRIDGE]  forget learned MAC addresses",
        0..=1,
        |state, args, _| flush(state, args.first().copied()),
    );
    r.reply(
        "fdb/stats-show",
        "BRIDGE  learning counters",
        1..=1,
        |state, args, _| fdb_stats(state, args[0]),
    );
}

fn flush(state: &DaemonState, bridge: Option<&str>) -> Result<String, String> {
    if let Some(b) = bridge
        && !state.config.bridges.contains_key(b)
    {
        return Err(no_bridge(b));
    }
    state
        .datapath
        .fdb_flush(bridge)
        .map(|_| "table successfully flushed\n".to_string())
        .map_err(|e| format!("{e}\n"))
}

fn mac(m: [u8; 6]) -> String {
    encap::EthernetAddress(m).to_string()
}

fn fdb_show(state: &DaemonState, bridge: &str, format: Format) -> Result<String, String> {
    let entries = state.datapath.fdb(bridge).map_err(|_| no_bridge(bridge))?;
    if format == Format::Json {
        let rows: Vec<_> = entries
            .iter()
            .map(|e| {
                json!({
                    "port": e.port,
                    "port_no": e.port_no,
                    "vlan": e.entry.vlan,
                    "mac": mac(e.entry.mac),
                    "age": e.entry.age.as_secs(),
                    "static": e.entry.kind != learning::EntryKind::Dynamic,
                })
            })
            .collect();
        return Ok(format!(
            "{}\n",
            json!({ "bridge": bridge, "entries": rows })
        ));
    }
    // OVS's layout: " port  VLAN  MAC                Age".
    let mut s = String::from(" port  VLAN  MAC                Age\n");
    for e in &entries {
        let age = match e.entry.kind {
            learning::EntryKind::Dynamic => e.entry.age.as_secs().to_string(),
            _ => "static".to_string(),
        };
        let _ = writeln!(
            s,
            "{:>5}  {:>4}  {}  {:>3}",
            e.port,
            e.entry.vlan,
            mac(e.entry.mac),
            age
        );
    }
    Ok(s)
}

fn fdb_stats(state: &DaemonState, bridge: &str) -> Result<String, String> {
    let c = state
        .datapath
        .fdb_counters(bridge)
        .ok_or_else(|| no_bridge(bridge))?;
    let entries = state.datapath.fdb(bridge).map_or(0, |e| e.len());
    let settings = state.datapath.bridge_settings(bridge);
    let mut s = format!("Statistics for bridge \"{bridge}\":\n");
    let _ = writeln!(
        s,
        "  Current/maximum MAC entries in the table: {entries}/{}",
        settings.map_or(0, |b| b.table.max_entries)
    );
    let _ = writeln!(
        s,
        "  Total number of learned MAC entries     : {}",
        c.learned
    );
    let _ = writeln!(
        s,
        "  Total number of expired MAC entries     : {}",
        c.expired
    );
    let _ = writeln!(
        s,
        "  Total number of evicted MAC entries     : {}",
        c.evicted
    );
    let _ = writeln!(s, "  Total number of port moved MAC entries  : {}", c.moved);
    Ok(s)
}
