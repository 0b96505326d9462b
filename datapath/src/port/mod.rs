//! Ports: what a bridge sends to and receives from, and the datapath thread's view of each.

pub mod link;
pub mod tap;
pub mod tunnel;

use std::sync::Arc;

pub use tap::InternalPort;
pub use tunnel::{TunnelConfig, TunnelMap, TunnelPort};

use crate::counters::PortCounters;

/// A port's IO, owned by the datapath thread.
pub(crate) enum PortIo {
    Internal(InternalPort),
    Tunnel(TunnelPort),
}

/// What spanning tree lets a port do with data frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Receive, learn, send: a forwarding port, or one outside the tree (internal ports, ports
    /// with `stp-enable=false`, bridges without spanning tree).
    Open,
    /// Learn source addresses, forward nothing (the learning state).
    LearnOnly,
    /// Nothing but BPDUs (blocking, listening, discarding).
    Closed,
}

impl From<stp::PortState> for Gate {
    fn from(state: stp::PortState) -> Gate {
        if state.forwards() {
            Gate::Open
        } else if state.learns() {
            Gate::LearnOnly
        } else {
            Gate::Closed
        }
    }
}

/// The datapath thread's view of one port.
pub(crate) struct PortState {
    pub(crate) bridge: usize,
    pub(crate) counters: Arc<PortCounters>,
    pub(crate) io: PortIo,
    /// What spanning tree lets the port do; `Open` outside the tree.
    pub(crate) gate: Gate,
}

impl PortState {
    pub(crate) fn is_tunnel(&self) -> bool {
        matches!(self.io, PortIo::Tunnel(_))
    }

    /// Bytes of outer IPv4 + GRE header a tunnel puts in front of what it carries.
    pub(crate) fn outer_len(&self) -> usize {
        match &self.io {
            PortIo::Tunnel(t) => t.header.len(),
            PortIo::Internal(_) => 0,
        }
    }
}
