//! The frame in flight: which receive buffer holds it and where, shared by the engine,
//! `forward`, `offload` and the watchers.

use std::ops::Range;

use encap::vnet::VnetHeader;

/// The frame being forwarded and where it sits, for zero-copy sends: tunnel packets point into
/// the receive buffer, TAP writes take `tap_bytes` (the frame behind its virtio-net header when
/// offloads are on).
#[derive(Clone)]
pub(crate) struct FrameRef<'a> {
    pub(crate) buf: usize,
    /// The Ethernet frame's range in the buffer.
    pub(crate) range: Range<usize>,
    pub(crate) bytes: &'a [u8],
    pub(crate) tap_bytes: &'a [u8],
    /// What arrived: the whole GRE packet for a frame from a tunnel, else the frame.
    pub(crate) packet: &'a [u8],
    /// Bytes of `packet` that the virtio-net header was written over (offset, original bytes),
    /// so that watchers still see the packet as it arrived.
    pub(crate) overwritten: Option<(usize, [u8; encap::vnet::HEADER_LEN])>,
    /// Offload work still to do (segmentation); `PLAIN` when there is none.
    pub(crate) vnet: VnetHeader,
}
