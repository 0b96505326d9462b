//! Ports: what a bridge sends to and receives from.

pub mod link;
pub mod tap;
pub mod tunnel;

pub use tap::InternalPort;
pub use tunnel::{TunnelConfig, TunnelMap, TunnelPort};

/// A port's IO, owned by the datapath thread.
pub(crate) enum PortIo {
    Internal(InternalPort),
    Tunnel(TunnelPort),
}
