//! Spanning tree in the packet loop. The protocol itself (crate `stp`) decides; this module runs
//! it on the datapath thread and carries out what it asks: BPDUs go out through the tunnels,
//! port states open and close each tunnel's gate, and topology changes flush the MAC table.
//!
//! A gate is checked once per frame on the way in and once per output port, a byte compare; the
//! BPDUs themselves take the slow path.

use std::time::{Duration, Instant};

use learning::{PortId, SharedMacTable};
use stp::{Event, SpanningTree};

use crate::counters::{DropCounters, DropReason, bump};
use crate::pipeline::Gate;
use crate::port::{PortIo, PortState};
use crate::sys::SendBatch;

/// Spanning tree settings of a bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeSettings {
    pub protocol: stp::Protocol,
    pub bridge: stp::BridgeConfig,
}

/// A port's part in its bridge's spanning tree (`other_config:stp-*` or `rstp-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreePortSettings {
    /// `stp-enable`: false keeps the port out of the tree (and always open), as in OVS.
    pub enabled: bool,
    pub priority: u8,
    /// `None`: OVS's default for a port of unknown speed (10 Gbit/s).
    pub path_cost: Option<u32>,
}

impl Default for TreePortSettings {
    fn default() -> Self {
        TreePortSettings {
            enabled: true,
            priority: 128,
            path_cost: None,
        }
    }
}

impl TreePortSettings {
    /// The protocol's settings for port `id` of a bridge whose ID is `system_id`; `None` when the
    /// port stays out of the tree.
    pub(crate) fn port_config(
        &self,
        protocol: stp::Protocol,
        id: PortId,
        system_id: [u8; 6],
    ) -> Option<stp::PortConfig> {
        let limit = match protocol {
            stp::Protocol::Stp => 255,
            stp::Protocol::Rstp => 4095,
        };
        let number = u16::try_from(id.0).ok().filter(|n| *n <= limit)?;
        if !self.enabled {
            return None;
        }
        // OVS's cost for a port whose speed it cannot read (a tunnel): that of 10 Gbit/s.
        let default_cost = match protocol {
            stp::Protocol::Stp => 2,
            stp::Protocol::Rstp => 2000,
        };
        Some(stp::PortConfig {
            number,
            priority: self.priority,
            path_cost: self.path_cost.unwrap_or(default_cost),
            mac: port_mac(system_id, number),
        })
    }
}

/// The source address of a port's BPDUs: the bridge's, made locally administered and told apart
/// by port number. (OVS gives each tunnel a random one; any unicast address will do, since
/// BPDUs are never learned.)
fn port_mac(system_id: [u8; 6], number: u16) -> [u8; 6] {
    let mut mac = system_id;
    mac[0] = (mac[0] | 0x02) & !0x01;
    let [hi, lo] = number.to_be_bytes();
    mac[4] ^= hi;
    mac[5] ^= lo;
    mac
}

/// One bridge's running protocol.
pub(crate) struct Tree {
    protocol: Box<dyn SpanningTree>,
    last_tick: Instant,
}

impl Tree {
    pub(crate) fn new(settings: &TreeSettings, now: Instant) -> Tree {
        let protocol: Box<dyn SpanningTree> = match settings.protocol {
            stp::Protocol::Stp => Box::new(stp::classic::Stp::new(&settings.bridge)),
            stp::Protocol::Rstp => Box::new(stp::rapid::Rstp::new(&settings.bridge)),
        };
        Tree {
            protocol,
            last_tick: now,
        }
    }

    pub(crate) fn protocol(&self) -> stp::Protocol {
        self.protocol.protocol()
    }

    pub(crate) fn set_bridge_config(&mut self, config: &stp::BridgeConfig) {
        self.protocol.set_bridge_config(config);
    }

    pub(crate) fn set_port(&mut self, port: PortId, config: Option<stp::PortConfig>) {
        match config {
            Some(config) => self.protocol.add_port(&config),
            None => {
                if let Ok(number) = u16::try_from(port.0) {
                    self.protocol.remove_port(number);
                }
            }
        }
    }

    pub(crate) fn status(&self) -> stp::Status {
        self.protocol.status()
    }

    /// Advances the protocol's timers to `now`.
    pub(crate) fn tick(&mut self, now: Instant) {
        self.protocol
            .tick(now.saturating_duration_since(self.last_tick));
        self.last_tick = now;
    }

    /// Hands a frame addressed to 01:80:c2:00:00:00 to the protocol and counts the outcome.
    pub(crate) fn receive(
        &mut self,
        ingress: PortId,
        port: &PortState,
        frame: &[u8],
        drops: &DropCounters,
    ) {
        let result = match u16::try_from(ingress.0) {
            Ok(number) => self.protocol.receive(number, frame),
            Err(_) => Err(stp::BpduError::PortNotInTree),
        };
        match result {
            Ok(()) => bump(&port.counters.bpdu_rx, 1),
            Err(e) => {
                bump(&port.counters.bpdu_errors, 1);
                drops.add(match e {
                    stp::BpduError::PortNotInTree => DropReason::BpduNotInTree,
                    _ => DropReason::BpduMalformed,
                });
                tracing::debug!(port = ingress.0, error = %e, "BPDU rejected");
            }
        }
    }

    /// Carries out what the protocol asked for since the last call: queues its BPDUs on the
    /// tunnels, sets port gates, flushes learned addresses.
    pub(crate) fn drain(
        &mut self,
        ports: &mut [Option<PortState>],
        table: &SharedMacTable,
        gre: &mut SendBatch,
        drops: &DropCounters,
    ) {
        while let Some(tx) = self.protocol.poll_transmit() {
            let Some(Some(port)) = ports.get_mut(usize::from(tx.port)) else {
                continue;
            };
            let PortIo::Tunnel(t) = &mut port.io else {
                continue;
            };
            // The BPDU travels whole in the entry's own header bytes; no receive buffer needed.
            let entry = gre.push(0, 0..0, t.remote(), u32::from(tx.port));
            match t.header.emit(&mut entry.header, &tx.frame, t.next_seq) {
                Ok(n) if n + tx.frame.len() <= entry.header.len() => {
                    entry.header[n..n + tx.frame.len()].copy_from_slice(&tx.frame);
                    entry.header_len = (n + tx.frame.len()) as u16;
                    t.advance_seq();
                    bump(&port.counters.bpdu_tx, 1);
                }
                _ => {
                    gre.pop();
                    drops.add(DropReason::TooBig);
                }
            }
        }
        while let Some(event) = self.protocol.poll_event() {
            match event {
                Event::PortState { port, state } => {
                    if let Some(Some(p)) = ports.get_mut(usize::from(port)) {
                        let gate = Gate::from(state);
                        if p.gate != gate {
                            tracing::info!(port, state = state.name(), "spanning tree port state");
                        }
                        p.gate = gate;
                    }
                }
                Event::FlushAll => {
                    let n = table.flush();
                    tracing::debug!(flushed = n, "spanning tree topology change");
                }
                Event::FlushPort(port) => {
                    table.flush_port(PortId(u32::from(port)));
                }
            }
        }
    }
}

/// How often the datapath thread runs the protocols' timers (OVS ticks its STP about once a
/// second; finer steps let RSTP's timers fire closer to when they are due).
pub(crate) const TICK: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_macs_are_unicast_local_and_distinct() {
        let sys = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
        let a = port_mac(sys, 1);
        let b = port_mac(sys, 2);
        assert_ne!(a, b);
        assert_eq!(a[0] & 0x03, 0x02);
    }

    #[test]
    fn ports_beyond_the_protocol_range_stay_out() {
        let s = TreePortSettings::default();
        assert!(
            s.port_config(stp::Protocol::Stp, PortId(256), [0; 6])
                .is_none()
        );
        assert!(
            s.port_config(stp::Protocol::Rstp, PortId(256), [0; 6])
                .is_some()
        );
        let off = TreePortSettings {
            enabled: false,
            ..s
        };
        assert!(
            off.port_config(stp::Protocol::Stp, PortId(1), [0; 6])
                .is_none()
        );
        assert_eq!(
            s.port_config(stp::Protocol::Stp, PortId(1), [0; 6])
                .map(|c| c.path_cost),
            Some(2)
        );
    }
}
