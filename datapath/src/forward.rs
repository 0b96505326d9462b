//! A frame's last step: delivery to one port, or a flood to all but the ingress port. Like the
//! Linux bridge's `br_forward.c`, one predicate says who may receive a flood.

use std::ops::Range;

use learning::PortId;

use crate::counters::{DropCounters, DropReason, PortCounters, bump};
use crate::port::PortIo;
use crate::sys::SendBatch;

/// The datapath thread's view of one port.
pub(crate) struct PortState {
    pub(crate) bridge: usize,
    pub(crate) counters: std::sync::Arc<PortCounters>,
    pub(crate) io: PortIo,
}

impl PortState {
    pub(crate) fn is_tunnel(&self) -> bool {
        matches!(self.io, PortIo::Tunnel(_))
    }
}

/// May a flooded frame that entered on `ingress` leave on `egress`? Never back out of the ingress
/// port; with split horizon, never from one tunnel to another (safe in a full mesh of tunnels,
/// where every host already got the frame from its origin).
#[inline]
pub(crate) fn should_flood(
    ingress: PortId,
    ingress_is_tunnel: bool,
    egress: PortId,
    egress_is_tunnel: bool,
    split_horizon: bool,
) -> bool {
    egress != ingress && !(split_horizon && ingress_is_tunnel && egress_is_tunnel)
}

/// Where the frame being forwarded sits: buffer index and range, for zero-copy tunnel sends.
#[derive(Clone)]
pub(crate) struct FrameRef<'a> {
    pub(crate) buf: usize,
    pub(crate) range: Range<usize>,
    pub(crate) bytes: &'a [u8],
}

/// Sends the frame out of `port`: written to a TAP now, or queued with its own outer headers for
/// the next `sendmmsg`.
#[inline]
pub(crate) fn output(
    id: PortId,
    port: &mut PortState,
    frame: &FrameRef<'_>,
    tx: &mut SendBatch,
    drops: &DropCounters,
) {
    match &mut port.io {
        PortIo::Internal(tap) => match tap.write(frame.bytes) {
            Ok(_) => port.counters.tx(frame.bytes.len()),
            Err(e) => {
                bump(&port.counters.tx_dropped, 1);
                drops.add(if e.raw_os_error() == Some(libc::EIO) {
                    DropReason::PortDown
                } else {
                    DropReason::TxFailed
                });
            }
        },
        PortIo::Tunnel(t) => {
            if t.header.len() + frame.bytes.len() > t.path_mtu as usize {
                bump(&port.counters.tx_dropped, 1);
                drops.add(DropReason::TooBig);
                return;
            }
            let entry = tx.push(frame.buf, frame.range.clone(), t.config.remote_ip, id.0);
            match t.header.emit(&mut entry.header, frame.bytes, t.next_seq) {
                Ok(n) => {
                    entry.header_len = n as u8;
                    if t.config.seq {
                        t.next_seq = t.next_seq.wrapping_add(1);
                    }
                }
                Err(e) => {
                    tx.pop();
                    bump(&port.counters.tx_dropped, 1);
                    drops.add(e.into());
                }
            }
        }
    }
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
