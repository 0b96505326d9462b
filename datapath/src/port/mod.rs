//! Ports: what a bridge sends to and receives from, and the datapath thread's view of each.
//!
//! Every kind of port is one `PortIo` with one lifecycle: opened on the control side (`open_*`),
//! handed to the datapath thread, polled through its `Source`, read and written in batches,
//! closed. A new kind (a system port by AF_PACKET, an IPv6 tunnel, AF_XDP) is a new file here and
//! one arm in each `PortIo` method, not an edit across the loop.

pub mod link;
pub mod system;
pub mod tap;
pub mod tunnel;

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

pub use system::{SystemPort, SystemStatus};
pub use tap::InternalPort;
pub(crate) use tap::TapRead;
pub use tunnel::{TunnelAddressError, TunnelConfig, TunnelMap, TunnelPort};

use learning::PortId;

use crate::counters::PortCounters;
use crate::pipeline::{Gate, PortView};
use crate::sys::{RecvBatch, SystemRx, TapError};
use crate::vlan::PortVlan;

/// A port's IO, owned by the datapath thread.
pub(crate) enum PortIo {
    Internal(InternalPort),
    Tunnel(TunnelPort),
    System(SystemPort),
}

/// What the loop waits on: each readable file descriptor and whose frames it brings, so the poll
/// set is a list of sources, not positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The control side has sent commands.
    Wake,
    /// The raw GRE socket, shared: packets for every tunnel.
    Tunnels,
    /// The raw IPv6 GRE socket, shared by the ip6gre tunnels.
    Tunnels6,
    /// The kernel's link events: system ports follow their interfaces.
    LinkEvents,
    /// A port with a device of its own (a TAP, a system port's socket).
    Port(PortId),
}

impl PortIo {
    /// Opens (or re-attaches to) the TAP `name`.
    pub(crate) fn open_internal(name: &str, offload: bool) -> Result<PortIo, TapError> {
        InternalPort::open(name, offload).map(PortIo::Internal)
    }

    /// A tunnel port; it has no device of its own (packets come by the shared raw socket).
    pub(crate) fn open_tunnel(tunnel: TunnelPort) -> PortIo {
        PortIo::Tunnel(tunnel)
    }

    /// An existing interface, attached now if it exists (see `system`).
    pub(crate) fn open_system(name: &str, status: Arc<SystemStatus>, rx: SystemRx) -> PortIo {
        PortIo::System(SystemPort::open(name, status, rx))
    }

    /// Whether the port has a file descriptor of its own to poll (`Source::Port`).
    pub(crate) fn polls_itself(&self) -> bool {
        self.poll_fd().is_some()
    }

    /// The descriptor to poll for the port's frames, if it has its own.
    pub(crate) fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            PortIo::Internal(tap) if tap.is_lost() => None,
            PortIo::Internal(tap) => Some(tap.tap().as_fd()),
            PortIo::Tunnel(_) => None,
            PortIo::System(port) => port.poll_fd(),
        }
    }

    /// Reads up to `limit` frames from the port's TAP (a system port reads into its own batch,
    /// `engine::drain_system`).
    pub(crate) fn read_batch(&self, rx: &mut RecvBatch, limit: usize) -> TapRead {
        match self {
            PortIo::Internal(tap) => tap.read_batch(rx, limit),
            PortIo::Tunnel(_) | PortIo::System(_) => TapRead::Frames(0),
        }
    }

    /// The port is deleted: its device goes with it.
    pub(crate) fn close(self) {
        match self {
            PortIo::Internal(tap) => tap.destroy(),
            // Not grebe's interface: only the socket goes.
            PortIo::Tunnel(_) | PortIo::System(_) => {}
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
    /// The VLANs it carries (Port `tag`, `trunks`, `vlan_mode`).
    pub(crate) vlan: PortVlan,
}

impl PortState {
    pub(crate) fn is_tunnel(&self) -> bool {
        matches!(self.io, PortIo::Tunnel(_))
    }

    /// The port as the decision sees it.
    #[inline]
    pub(crate) fn view(&self, id: PortId) -> PortView<'_> {
        match &self.io {
            // Learned and forwarded exactly as an internal port.
            PortIo::Internal(_) | PortIo::System(_) => PortView {
                vlan: &self.vlan,
                ..PortView::internal(id, self.gate)
            },
            PortIo::Tunnel(t) => PortView {
                id,
                vlan: &self.vlan,
                tunnel: true,
                gate: self.gate,
                // DF clear: the transport fragments what does not fit.
                max_frame: t.config.df_default.then(|| t.max_frame()),
                whole_gso: t.config.large_frames,
            },
        }
    }

    /// Bytes of outer IPv4 + GRE header a tunnel puts in front of what it carries.
    pub(crate) fn outer_len(&self) -> usize {
        match &self.io {
            PortIo::Tunnel(t) => t.header.len(),
            PortIo::Internal(_) | PortIo::System(_) => 0,
        }
    }
}
