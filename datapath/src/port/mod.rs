//! Ports: what a bridge sends to and receives from, and the datapath thread's view of each.

pub mod link;
pub mod tap;
pub mod tunnel;

use std::sync::Arc;

pub use tap::InternalPort;
pub use tunnel::{TunnelConfig, TunnelMap, TunnelPort};

use learning::PortId;

use crate::counters::PortCounters;
use crate::pipeline::{Gate, PortView};

/// A port's IO, owned by the datapath thread.
pub(crate) enum PortIo {
    Internal(InternalPort),
    Tunnel(TunnelPort),
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

    /// The port as the decision sees it.
    #[inline]
    pub(crate) fn view(&self, id: PortId) -> PortView {
        match &self.io {
            PortIo::Internal(_) => PortView::internal(id, self.gate),
            PortIo::Tunnel(t) => PortView {
                id,
                tunnel: true,
                gate: self.gate,
                max_frame: Some(t.path_mtu.saturating_sub(t.header.len() as u32)),
                whole_gso: t.config.large_frames,
            },
        }
    }

    /// Bytes of outer IPv4 + GRE header a tunnel puts in front of what it carries.
    pub(crate) fn outer_len(&self) -> usize {
        match &self.io {
            PortIo::Tunnel(t) => t.header.len(),
            PortIo::Internal(_) => 0,
        }
    }
}
