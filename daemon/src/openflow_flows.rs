//! The bridges' OpenFlow tables on the control side: FLOW_MOD applied to the daemon's copy,
//! which is then handed whole to the datapath (an `Arc`, read by the packet loop without a
//! lock), and the flow statistics read back from it.
//!
//! A bridge starts with OVS's implicit `priority=0 actions=NORMAL` and no table in the datapath
//! at all (no cost per frame); the first flow-mod makes the table, with that flow in it, so
//! `del-flows` empties the bridge as it does on OVS. A `fail_mode=secure` bridge never sets up
//! flows itself: its table starts empty, and it carries only what is programmed. Tables live in memory, as ovs-vswitchd's
//! do: a controller installs its flows again after a restart.

use std::sync::Arc;

use flowtable::{Flow, FlowTable, Match, Output};
use openflow::{FlowCommand, FlowModError, FlowStats, OFPP_LOCAL};

use crate::state::DaemonState;

/// The bridge's own port's number in the datapath, which OpenFlow calls LOCAL.
fn local_no(s: &DaemonState, bridge: &str) -> Option<u32> {
    s.datapath.port_id(bridge).map(|p| p.0)
}

/// OpenFlow's numbering to the datapath's (LOCAL is the bridge's port), or back.
fn renumber(m: &mut Match, actions: &mut [Output], from: u32, to: u32) {
    if m.in_port == Some(from) {
        m.in_port = Some(to);
    }
    for a in actions {
        if *a == Output::Port(from) {
            *a = Output::Port(to);
        }
    }
}

fn implicit_normal(now: u64) -> Flow {
    Flow::new(0, Match::default(), vec![Output::Normal], 0, now)
}

/// Secure bridges get an empty table (every frame a miss until flows come); a bridge back to
/// standalone with nothing programmed goes back to the implicit NORMAL flow.
pub(crate) fn follow_fail_modes(s: &mut DaemonState) {
    let mut changed = Vec::new();
    for (name, b) in &s.config.bridges {
        let secure = b.fail_mode == Some(vswitch::config::FailMode::Secure);
        match s.flows.get(name) {
            None if secure => {
                s.flows.insert(name.clone(), FlowTable::new());
                changed.push(name.clone());
            }
            Some(t) if !secure && t.is_empty() => {
                s.flows.remove(name);
                changed.push(name.clone());
            }
            _ => {}
        }
    }
    for name in changed {
        let table = s.flows.get(&name).map(|t| Arc::new(t.clone()));
        if let Err(e) = s.datapath.set_flows(&name, table) {
            tracing::warn!(bridge = %name, error = %e, "cannot give the datapath its flow table");
        }
    }
}

/// Applies a FLOW_MOD (its body, after the header) to `bridge`'s table.
pub(crate) fn flow_mod(
    s: &mut DaemonState,
    bridge: &str,
    version: u8,
    body: &[u8],
) -> Result<(), FlowModError> {
    let mut fm = openflow::decode_flow_mod(version, body)?;
    fm.check()?;
    if let Some(local) = local_no(s, bridge) {
        renumber(&mut fm.m, &mut fm.actions, OFPP_LOCAL, local);
        if fm.out_port == Some(OFPP_LOCAL) {
            fm.out_port = Some(local);
        }
    }
    let now = s.started.elapsed().as_secs();
    let table = s.flows.entry(bridge.to_owned()).or_insert_with(|| {
        let mut t = FlowTable::new();
        t.add(implicit_normal(now));
        t
    });
    match fm.command {
        FlowCommand::Add => table.add(Flow::new(fm.priority, fm.m, fm.actions, fm.cookie, now)),
        FlowCommand::Modify | FlowCommand::ModifyStrict => {
            let strict = fm.command == FlowCommand::ModifyStrict;
            table.modify(&fm.m, fm.priority, strict, &fm.actions, fm.cookie);
        }
        FlowCommand::Delete | FlowCommand::DeleteStrict => {
            let strict = fm.command == FlowCommand::DeleteStrict;
            table.delete(&fm.m, fm.priority, strict, fm.out_port);
        }
    }
    // Handed to the datapath by `publish`, once for a batch of flow-mods: `ovs-ofctl add-flows`
    // of 1,000 flows copies the table once, not a thousand times.
    s.flows_changed.insert(bridge.to_owned());
    Ok(())
}

/// Gives the datapath `bridge`'s table if a flow-mod changed it since the last time.
pub(crate) fn publish(s: &mut DaemonState, bridge: &str) {
    if !s.flows_changed.remove(bridge) {
        return;
    }
    let table = s.flows.get(bridge).map(|t| Arc::new(t.clone()));
    if let Err(e) = s.datapath.set_flows(bridge, table) {
        tracing::warn!(%bridge, error = %e, "cannot give the datapath its flow table");
    }
}

/// The flows a flow-statistics request selects, in OpenFlow's numbering; for a bridge without
/// a table, the implicit NORMAL flow with the bridge's frame counts.
pub(crate) fn flow_stats(
    s: &DaemonState,
    bridge: &str,
    filter: Option<(Match, Option<u32>)>,
    rx_total: (u64, u64),
) -> Vec<FlowStats> {
    let now = s.started.elapsed().as_secs();
    let (m, out_port) = filter.unwrap_or_default();
    let local = local_no(s, bridge);
    let Some(table) = s.flows.get(bridge) else {
        if !m.covers(&Match::default()) || out_port.is_some() {
            return Vec::new();
        }
        return vec![FlowStats {
            table_id: 0,
            priority: 0,
            duration_sec: u32::try_from(now).unwrap_or(u32::MAX),
            cookie: 0,
            packets: rx_total.0,
            bytes: rx_total.1,
            m: Match::default(),
            actions: vec![Output::Normal],
        }];
    };
    table
        .flows()
        .iter()
        .filter(|f| m.covers(&f.m) && out_port.is_none_or(|p| f.outputs_to(p)))
        .map(|f| {
            let (mut fm, mut actions) = (f.m.clone(), f.actions.clone());
            if let Some(local) = local {
                renumber(&mut fm, &mut actions, local, OFPP_LOCAL);
            }
            FlowStats {
                table_id: 0,
                priority: f.priority,
                duration_sec: u32::try_from(now.saturating_sub(f.installed)).unwrap_or(u32::MAX),
                cookie: f.cookie,
                packets: f
                    .counters
                    .packets
                    .load(std::sync::atomic::Ordering::Relaxed),
                bytes: f.counters.bytes.load(std::sync::atomic::Ordering::Relaxed),
                m: fm,
                actions,
            }
        })
        .collect()
}
