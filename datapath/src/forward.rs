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
        PortIo::Internal(tap) => write_tap(
            tap,
            &port.counters,
            frame.tap_bytes,
            1,
            frame.bytes.len(),
            drops,
        ),
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

/// Why a TAP refused a frame: EIO means the interface is down.
fn tap_write_failure(e: &io::Error) -> DropReason {
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
    let entry = tx.push(frame.buf, frame.range.clone(), t.remote(), id.0);
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
