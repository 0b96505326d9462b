//! The datapath thread's side of the control channel: each `Command` from the handle, applied
//! between batches so that no frame sees a half-made change.

use std::sync::mpsc;
use std::time::Instant;

use super::{BridgeState, Engine, slot};
use crate::command::Command;
use crate::pipeline::Gate;
use crate::pmtu::TokenBucket;
use crate::port::{PortIo, PortState};
use crate::tree::{Tree, TreeSettings};

impl Engine {
    /// Applies pending control changes; false when the control side has gone.
    pub(super) fn apply_commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(c) => self.apply(c),
                Err(mpsc::TryRecvError::Empty) => return true,
                Err(mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::AddBridge {
                idx,
                table,
                split_horizon,
                pmtu,
            } => {
                *slot(&mut self.bridges, idx) = Some(BridgeState {
                    table,
                    ports: Vec::new(),
                    split_horizon,
                    tree: None,
                    pmtu,
                    tunnel_frame: None,
                    icmp_bucket: TokenBucket::new(Instant::now()),
                    flows: None,
                    flow_cache: Default::default(),
                });
            }
            Command::SetFlows { idx, flows } => {
                if let Some(b) = slot(&mut self.bridges, idx) {
                    b.flows = flows;
                    // Entries point into the old table.
                    b.flow_cache = Default::default();
                }
            }
            Command::SetPmtu { idx, pmtu } => {
                if let Some(b) = slot(&mut self.bridges, idx) {
                    b.pmtu = pmtu;
                }
            }
            Command::SetSplitHorizon { idx, split_horizon } => {
                if let Some(b) = slot(&mut self.bridges, idx) {
                    b.split_horizon = split_horizon;
                }
            }
            Command::DelBridge { idx } => *slot(&mut self.bridges, idx) = None,
            Command::AddPort { id, state } => {
                if let Some(b) = slot(&mut self.bridges, state.bridge) {
                    b.ports.push(id);
                }
                if let PortIo::Tunnel(t) = &state.io {
                    // Uniqueness was checked on the control side.
                    let _ = self.tunnels.insert(&t.config, id);
                    let large = t.needs_fragmenting();
                    self.sockets.need_large(large);
                }
                if let PortIo::System(_) = &state.io {
                    self.need_link_events();
                }
                let bridge = state.bridge;
                *slot(&mut self.ports, id.0 as usize) = Some(state);
                self.update_sources();
                self.update_tunnel_frame(bridge);
            }
            Command::UpdateTunnel { id, tunnel } => {
                let config = tunnel.config;
                if let Some(PortState {
                    io: PortIo::Tunnel(t),
                    ..
                }) = slot(&mut self.ports, id.0 as usize)
                {
                    self.tunnels.remove(&t.config, id);
                    let _ = self.tunnels.insert(&config, id);
                    let next_seq = t.next_seq;
                    // The link leads to the remote: a new remote (or source) has none until the
                    // control side resolves it.
                    let same_ends = t.config.remote_ip == config.remote_ip
                        && t.config.local_ip == config.local_ip;
                    let link = t.link.filter(|_| same_ends);
                    let unresolved = t.unresolved && same_ends;
                    *t = tunnel;
                    t.unresolved = unresolved;
                    t.next_seq = next_seq;
                    t.set_link(link);
                }
                self.sockets
                    .need_large(config.large_frames || !config.df_default);
                if let Some(Some(port)) = self.ports.get(id.0 as usize) {
                    self.update_tunnel_frame(port.bridge);
                }
            }
            Command::DelPort { id } => {
                let Some(state) = slot(&mut self.ports, id.0 as usize).take() else {
                    return;
                };
                if let Some(b) = slot(&mut self.bridges, state.bridge) {
                    b.ports.retain(|p| *p != id);
                    b.table.flush_port(id);
                    if let Some(tree) = &mut b.tree {
                        tree.set_port(id, None);
                    }
                }
                if let PortIo::Tunnel(t) = &state.io {
                    self.tunnels.remove(&t.config, id);
                }
                let bridge = state.bridge;
                state.io.close();
                self.update_sources();
                self.update_tunnel_frame(bridge);
            }
            Command::SetPortVlan { id, vlan } => {
                let Some(Some(port)) = self.ports.get_mut(id.0 as usize) else {
                    return;
                };
                port.vlan = vlan;
                // Entries in VLANs the port no longer carries would send frames where they may
                // not go.
                if let Some(Some(b)) = self.bridges.get(port.bridge) {
                    b.table.flush_port(id);
                }
            }
            Command::SetLink {
                id,
                link,
                unresolved,
            } => {
                if let Some(PortState {
                    io: PortIo::Tunnel(t),
                    ..
                }) = slot(&mut self.ports, id.0 as usize)
                {
                    t.set_link(link.filter(|_| self.sockets.packet_tx.is_some()));
                    t.unresolved = unresolved && t.link.is_none();
                }
            }
            Command::SetTree { idx, settings } => self.set_tree(idx, settings),
            Command::SetTreePort { id, config } => {
                let Some(Some(port)) = self.ports.get_mut(id.0 as usize) else {
                    return;
                };
                let Some(Some(b)) = self.bridges.get_mut(port.bridge) else {
                    return;
                };
                let Some(tree) = &mut b.tree else {
                    return;
                };
                // Closed until the protocol says otherwise; out of the tree, always open.
                port.gate = if config.is_some() {
                    Gate::Closed
                } else {
                    Gate::Open
                };
                tree.set_port(id, config);
            }
            Command::TreeStatus { idx, reply } => {
                let status = match self.bridges.get(idx) {
                    Some(Some(b)) => b.tree.as_ref().map(Tree::status),
                    _ => None,
                };
                let _ = reply.send(status);
            }
            Command::Watch(sink) => self.monitors.add(sink),
            Command::Sync(done) => {
                let _ = done.send(());
            }
        }
    }

    /// Starts, reconfigures or stops a bridge's spanning tree. Ports join a new one through
    /// `SetTreePort` commands that follow.
    fn set_tree(&mut self, idx: usize, settings: Option<TreeSettings>) {
        let Some(Some(b)) = self.bridges.get_mut(idx) else {
            return;
        };
        match (&mut b.tree, settings) {
            (Some(tree), Some(s)) if tree.protocol() == s.protocol => {
                tree.set_bridge_config(&s.bridge);
                return;
            }
            (_, Some(s)) => b.tree = Some(Tree::new(&s, Instant::now())),
            (_, None) => b.tree = None,
        }
        // Ports open until they join the new tree; what was learned under the old one is stale.
        for id in &b.ports {
            if let Some(Some(p)) = self.ports.get_mut(id.0 as usize) {
                p.gate = Gate::Open;
            }
        }
        b.table.flush();
    }
}
