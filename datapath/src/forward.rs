//! A frame's last step, once the pipeline has said where it goes: out of one port. Every TAP
//! write and every tunnel send happens here, and each is counted here against its port. Who may
//! receive a frame is `pipeline::should_deliver`'s to say, not this module's.

use std::io;

use learning::PortId;

use crate::counters::{DropCounters, DropReason, PortCounters, bump};
use crate::frame::FrameRef;
use crate::offload::{queue_large, queue_segments};
use crate::port::{InternalPort, PortIo, PortState, TunnelPort};
use crate::sys::{PacketTx, RawGre, RecvBatch, SendBatch, SendEntry};
use crate::vlan::{HEAD_LEN, Retag};
use encap::ipv4;
use encap::vnet::Gso;

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
/// the next `sendmmsg`. `retag` is what the port does to its VLAN tag: the changed first bytes
/// go in a piece of their own in front of the rest of the frame, which stays where it is (other
/// ports may be sending the frame as it came).
#[inline]
pub(crate) fn output(
    id: PortId,
    port: &mut PortState,
    frame: &FrameRef<'_>,
    retag: Retag,
    tx: &mut TxQueues,
    drops: &DropCounters,
) {
    match &mut port.io {
        PortIo::Internal(tap) if retag == Retag::Keep => write_tap(
            tap,
            &port.counters,
            frame.tap_bytes,
            1,
            frame.bytes.len(),
            drops,
        ),
        PortIo::Internal(tap) => write_tap_retagged(tap, &port.counters, frame, retag, drops),
        PortIo::Tunnel(t) => {
            let result = match (frame.vnet.gso(), t.config.large_frames) {
                (Gso::None, _) => {
                    let queue = tx.for_tunnel(t);
                    queue_frame(id, t, frame, retag, queue)
                }
                (_, true) => queue_large(id, t, frame, retag, &mut tx.large),
                (_, false) => {
                    let queue = tx.for_tunnel(t);
                    queue_segments(id, t, frame, retag, queue)
                }
            };
            if let Err(reason) = result {
                bump(&port.counters.tx_dropped, 1);
                drops.add(reason);
            }
        }
    }
}

/// Writes `bytes` (`frames` frames of `len` bytes in all, more than one when coalesced) to a
/// TAP and counts the outcome against its port.
#[inline]
pub(crate) fn write_tap(
    tap: &InternalPort,
    counters: &PortCounters,
    bytes: &[u8],
    frames: u64,
    len: usize,
    drops: &DropCounters,
) {
    match tap.write(bytes) {
        Ok(_) => counters.tx_many(frames, len),
        Err(e) => {
            bump(&counters.tx_dropped, frames);
            let reason = tap_write_failure(&e);
            for _ in 0..frames {
                drops.add(reason);
            }
        }
    }
}

/// A frame whose tag changes on the way to a TAP: its virtio-net header (offsets moved by the
/// tag), the new first bytes and the rest of the frame, in one `writev`.
fn write_tap_retagged(
    tap: &InternalPort,
    counters: &PortCounters,
    frame: &FrameRef<'_>,
    retag: Retag,
    drops: &DropCounters,
) {
    let mut head = [0u8; HEAD_LEN];
    let (n, rest) = retag.head(frame.bytes, &mut head);
    let mut vnet = [0u8; encap::vnet::HEADER_LEN];
    let vnet_len = frame.tap_bytes.len() - frame.bytes.len();
    if vnet_len == vnet.len() {
        frame.vnet.moved_by(retag.len_change()).emit(&mut vnet);
    }
    let len = frame.bytes.len() - rest + n;
    let parts = [
        io::IoSlice::new(&vnet[..vnet_len]),
        io::IoSlice::new(&head[..n]),
        io::IoSlice::new(&frame.bytes[rest..]),
    ];
    match tap.write_parts(&parts) {
        Ok(_) => counters.tx(len),
        Err(e) => {
            bump(&counters.tx_dropped, 1);
            drops.add(tap_write_failure(&e));
        }
    }
}

/// Why a TAP refused a frame: EIO means the interface is down.
fn tap_write_failure(e: &io::Error) -> DropReason {
    if e.raw_os_error() == Some(libc::EIO) {
        DropReason::PortDown
    } else {
        DropReason::TxFailed
    }
}

/// One frame, one GRE packet; a changed tag rides in the header piece, after the outer headers.
#[inline]
fn queue_frame(
    id: PortId,
    t: &mut TunnelPort,
    frame: &FrameRef<'_>,
    retag: Retag,
    tx: &mut SendBatch,
) -> Result<(), DropReason> {
    let mut head = [0u8; HEAD_LEN];
    let (n, rest) = retag.head(frame.bytes, &mut head);
    let range = frame.range.start + rest..frame.range.end;
    let entry = tx.push(frame.buf, range, t.remote(), id.0);
    let (outer, inner) = entry.header.split_at_mut(t.header.len());
    inner[..n].copy_from_slice(&head[..n]);
    let parts = [&head[..n], &frame.bytes[rest..]];
    let emitted = if n == 0 {
        t.header.emit(outer, frame.bytes, t.next_seq)
    } else {
        t.header.emit_parts(outer, &parts, t.next_seq)
    };
    match emitted {
        Ok(outer_len) => {
            entry.header_len = (outer_len + n) as u16;
            t.advance_seq();
            Ok(())
        }
        Err(e) => {
            tx.pop();
            Err(e.into())
        }
    }
}

/// The sockets tunnel packets leave by.
pub(crate) struct TunnelSockets {
    /// Receives every GRE packet; sends those with grebe's own outer header.
    pub(crate) raw: RawGre,
    /// Opened with the first `large_frames` tunnel.
    pub(crate) raw_large: Option<RawGre>,
    /// Sends to tunnels with an Ethernet link (`DatapathOptions::link_tx`).
    pub(crate) packet_tx: Option<PacketTx>,
}

impl TunnelSockets {
    /// Opens the socket for large frames when the first tunnel that uses them appears.
    pub(crate) fn need_large(&mut self, large_frames: bool) {
        if large_frames && self.raw_large.is_none() {
            match RawGre::open_fragmenting() {
                Ok(raw) => self.raw_large = Some(raw),
                Err(e) => tracing::error!(error = %e, "cannot open the socket for large frames"),
            }
        }
    }

    /// Sends the queued tunnel packets, one `sendmmsg` per socket, and counts each outcome.
    pub(crate) fn send(
        &mut self,
        tx: &mut TxQueues,
        rx: &RecvBatch,
        ports: &[Option<PortState>],
        drops: &DropCounters,
    ) {
        send_counted(&self.raw, &mut tx.gre, rx, ports, drops, 0);
        if !tx.link.is_empty() {
            match &mut self.packet_tx {
                Some(packet_tx) => packet_tx.send(
                    &mut tx.link,
                    rx.buffers(),
                    |tag| match ports.get(tag as usize) {
                        Some(Some(PortState {
                            io: PortIo::Tunnel(t),
                            ..
                        })) => t.link.as_ref().map(|l| &l.eth),
                        _ => None,
                    },
                    count_sent(ports, drops, 0),
                ),
                // Links are set only with a packet socket.
                None => tx.link.clear(),
            }
        }
        if tx.large.is_empty() {
            return;
        }
        match &self.raw_large {
            // The kernel writes the outer IPv4 header of these.
            Some(raw) => send_counted(raw, &mut tx.large, rx, ports, drops, ipv4::HEADER_LEN),
            None => {
                for _ in 0..tx.large.len() {
                    drops.add(DropReason::TxFailed);
                }
                tx.large.clear();
            }
        }
    }
}

/// Sends a queue on `raw` and counts each packet against its port; `kernel_header` is the outer
/// header length the kernel adds itself (not in the entry's header).
fn send_counted(
    raw: &RawGre,
    queue: &mut SendBatch,
    rx: &RecvBatch,
    ports: &[Option<PortState>],
    drops: &DropCounters,
    kernel_header: usize,
) {
    if queue.is_empty() {
        return;
    }
    raw.send(queue, rx.buffers(), count_sent(ports, drops, kernel_header));
}

/// Counts one sent (or refused) tunnel packet against its port.
fn count_sent<'a>(
    ports: &'a [Option<PortState>],
    drops: &'a DropCounters,
    kernel_header: usize,
) -> impl FnMut(&SendEntry, Result<(), io::Error>) + 'a {
    move |entry, result| {
        let Some(Some(port)) = ports.get(entry.tag as usize) else {
            return;
        };
        match result {
            // Inner bytes: a segment's own headers count, the outer ones do not.
            Ok(()) => port
                .counters
                .tx(entry.frame.1 as usize - entry.frame.0 as usize
                    + usize::from(entry.header_len)
                    + kernel_header
                    - port.outer_len()),
            Err(e) => {
                bump(&port.counters.tx_dropped, 1);
                drops.add(DropReason::TxFailed);
                tracing::debug!(port = entry.tag, error = %e, "GRE send failed");
            }
        }
    }
}
