//! A frame's last step: delivery to one port, or a flood to all but the ingress port. Like the
//! Linux bridge's `br_forward.c`, one predicate says who may receive a flood.

use std::ops::Range;

use learning::PortId;

use crate::counters::{DropCounters, DropReason, PortCounters, bump};
use crate::port::PortIo;
use crate::port::TunnelPort;
use crate::sys::SendBatch;
use crate::tree::Gate;
use encap::tso::{MAX_SEGMENT_HEADER_LEN, Segmenter};
use encap::vnet::{Gso, VnetHeader};

/// The datapath thread's view of one port.
pub(crate) struct PortState {
    pub(crate) bridge: usize,
    pub(crate) counters: std::sync::Arc<PortCounters>,
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

/// Why a flooded frame does not leave on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloodExclusion {
    /// Never back out of the port it came in on.
    Ingress,
    /// With split horizon, never from one tunnel into another (safe in a full mesh of tunnels,
    /// where every host already got the frame from its origin).
    SplitHorizon,
}

impl FloodExclusion {
    pub fn name(self) -> &'static str {
        match self {
            FloodExclusion::Ingress => "ingress",
            FloodExclusion::SplitHorizon => "split_horizon",
        }
    }
}

/// The flood rule, as `ofproto/trace` explains it: why a frame that entered on `ingress` does not
/// leave on `egress`, or `None` when it does.
#[inline]
pub fn flood_exclusion(
    ingress: PortId,
    ingress_is_tunnel: bool,
    egress: PortId,
    egress_is_tunnel: bool,
    split_horizon: bool,
) -> Option<FloodExclusion> {
    if egress == ingress {
        Some(FloodExclusion::Ingress)
    } else if split_horizon && ingress_is_tunnel && egress_is_tunnel {
        Some(FloodExclusion::SplitHorizon)
    } else {
        None
    }
}

/// May a flooded frame that entered on `ingress` leave on `egress`?
#[inline]
pub(crate) fn should_flood(
    ingress: PortId,
    ingress_is_tunnel: bool,
    egress: PortId,
    egress_is_tunnel: bool,
    split_horizon: bool,
) -> bool {
    flood_exclusion(
        ingress,
        ingress_is_tunnel,
        egress,
        egress_is_tunnel,
        split_horizon,
    )
    .is_none()
}

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

/// Tunnel packets waiting for the next `sendmmsg`: those with grebe's own outer IPv4 header (DF
/// set) for the raw socket, the same for tunnels with an Ethernet link (the packet socket), and
/// large frames for the socket that lets the kernel write and fragment the outer header.
#[derive(Default)]
pub(crate) struct TxQueues {
    pub(crate) gre: SendBatch,
    pub(crate) link: SendBatch,
    pub(crate) large: SendBatch,
}

impl TxQueues {
    /// The queue for a tunnel's next packets with grebe's own outer header.
    #[inline]
    pub(crate) fn for_tunnel(&mut self, t: &mut TunnelPort) -> &mut SendBatch {
        if t.link.is_some() && !t.probe_raw {
            &mut self.link
        } else {
            t.probe_raw = false;
            &mut self.gre
        }
    }
}

/// Sends the frame out of `port`: written to a TAP now, or queued with its own outer headers for
/// the next `sendmmsg`.
#[inline]
pub(crate) fn output(
    id: PortId,
    port: &mut PortState,
    frame: &FrameRef<'_>,
    tx: &mut TxQueues,
    drops: &DropCounters,
) {
    match &mut port.io {
        PortIo::Internal(tap) => match tap.write(frame.tap_bytes) {
            Ok(_) => port.counters.tx(frame.bytes.len()),
            Err(e) => {
                bump(&port.counters.tx_dropped, 1);
                drops.add(tap_write_failure(&e));
            }
        },
        PortIo::Tunnel(t) => {
            let result = match (frame.vnet.gso(), t.config.large_frames) {
                (Gso::None, _) => {
                    let queue = tx.for_tunnel(t);
                    queue_frame(id, t, frame, queue)
                }
                (_, true) => queue_large(id, t, frame, &mut tx.large),
                (_, false) => {
                    let queue = tx.for_tunnel(t);
                    queue_segments(id, t, frame, queue)
                }
            };
            if let Err(reason) = result {
                bump(&port.counters.tx_dropped, 1);
                drops.add(reason);
            }
        }
    }
}

/// Why a TAP refused a frame: EIO means the interface is down.
pub(crate) fn tap_write_failure(e: &std::io::Error) -> DropReason {
    if e.raw_os_error() == Some(libc::EIO) {
        DropReason::PortDown
    } else {
        DropReason::TxFailed
    }
}

/// One frame, one GRE packet.
#[inline]
fn queue_frame(
    id: PortId,
    t: &mut TunnelPort,
    frame: &FrameRef<'_>,
    tx: &mut SendBatch,
) -> Result<(), DropReason> {
    if t.header.len() + frame.bytes.len() > t.path_mtu as usize {
        return Err(DropReason::TooBig);
    }
    let entry = tx.push(frame.buf, frame.range.clone(), t.config.remote_ip, id.0);
    match t.header.emit(&mut entry.header, frame.bytes, t.next_seq) {
        Ok(n) => {
            entry.header_len = n as u16;
            t.advance_seq();
            Ok(())
        }
        Err(e) => {
            tx.pop();
            Err(e.into())
        }
    }
}

/// A TCP frame of up to 64 KB from a TAP with TSO: cut into MSS-sized segments, each a GRE
/// packet of [outer headers | segment headers] plus its slice of the original frame.
fn queue_segments(
    id: PortId,
    t: &mut TunnelPort,
    frame: &FrameRef<'_>,
    tx: &mut SendBatch,
) -> Result<(), DropReason> {
    let mut segmenter = Segmenter::new(frame.bytes, &frame.vnet).map_err(DropReason::from)?;
    let outer_len = t.header.len();
    let seg_len = segmenter.header_len();
    if outer_len + seg_len + usize::from(frame.vnet.gso_size) > t.path_mtu as usize {
        return Err(DropReason::TooBig);
    }
    let mut scratch = [0u8; MAX_SEGMENT_HEADER_LEN];
    while let Some(payload) = segmenter.next_segment(&mut scratch) {
        let start = frame.range.start + payload.start;
        let end = frame.range.start + payload.end;
        let entry = tx.push(frame.buf, start..end, t.config.remote_ip, id.0);
        let (outer, inner) = entry.header.split_at_mut(outer_len);
        inner[..seg_len].copy_from_slice(&scratch[..seg_len]);
        let parts = [&inner[..seg_len], &frame.bytes[payload]];
        match t.header.emit_parts(outer, &parts, t.next_seq) {
            Ok(n) => {
                entry.header_len = (n + seg_len) as u16;
                t.advance_seq();
            }
            Err(e) => {
                tx.pop();
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// Largest IPv4 packet: what one large-frame GRE packet may fill.
const MAX_IPV4_LEN: usize = 65_535;

/// A TCP frame of up to 64 KB on a `large_frames` tunnel: one GRE packet (two when the frame
/// and headers exceed an IPv4 packet), cut at a whole number of MSS, which the transport
/// fragments and the peer reassembles. The kernel writes the outer IPv4 header.
fn queue_large(
    id: PortId,
    t: &mut TunnelPort,
    frame: &FrameRef<'_>,
    tx: &mut SendBatch,
) -> Result<(), DropReason> {
    let gre_len = t.header.gre(0).header_len();
    let probe = Segmenter::new(frame.bytes, &frame.vnet)?;
    let seg_len = probe.header_len();
    let room = MAX_IPV4_LEN - encap::ipv4::HEADER_LEN - gre_len - seg_len;
    let size = (room / probe.mss()).max(1) * probe.mss();
    let mut segmenter = Segmenter::with_segment_size(frame.bytes, &frame.vnet, size)?;
    let mut scratch = [0u8; MAX_SEGMENT_HEADER_LEN];
    while let Some(payload) = segmenter.next_segment(&mut scratch) {
        let start = frame.range.start + payload.start;
        let end = frame.range.start + payload.end;
        let entry = tx.push(frame.buf, start..end, t.config.remote_ip, id.0);
        let (gre, inner) = entry.header.split_at_mut(gre_len);
        inner[..seg_len].copy_from_slice(&scratch[..seg_len]);
        t.header
            .gre(t.next_seq)
            .emit_header_parts(gre, &[&inner[..seg_len], &frame.bytes[payload]]);
        entry.header_len = (gre_len + seg_len) as u16;
        t.advance_seq();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flood_never_returns_to_ingress() {
        for split in [false, true] {
            for (it, et) in [(false, false), (false, true), (true, false), (true, true)] {
                assert!(!should_flood(PortId(1), it, PortId(1), et, split));
            }
        }
    }

    #[test]
    fn split_horizon_blocks_only_tunnel_to_tunnel() {
        assert!(should_flood(PortId(1), true, PortId(2), true, false));
        assert!(!should_flood(PortId(1), true, PortId(2), true, true));
        assert!(should_flood(PortId(1), true, PortId(2), false, true));
        assert!(should_flood(PortId(1), false, PortId(2), true, true));
    }
}
