//! A frame's last step, once the pipeline has said where it goes: out of one port. Every TAP
//! write and every tunnel send happens here, and each is counted here against its port. Who may
//! receive a frame is `pipeline::should_deliver`'s to say, not this module's.

use std::io;

use learning::PortId;

use crate::counters::{DropCounters, DropReason, PortCounters, bump};
use crate::frame::FrameRef;
use crate::offload::{self, queue_fragmenting, queue_large, queue_segments};
use crate::port::{InternalPort, PortIo, PortState, SystemPort, TunnelPort};
use crate::sys::{PacketTx, RawGre, RawGre6, SendBatch, SendEntry, SystemSendScratch};
use crate::vlan::{HEAD_LEN, Retag};
use encap::ipv4;
use encap::vnet::Gso;

/// Tunnel packets waiting for the next `sendmmsg`: those with grebe's own outer IPv4 header (DF
/// set) for the raw socket, the same for tunnels with an Ethernet link (the packet socket), and
/// large frames for the socket that lets the kernel write and fragment the outer header.
#[derive(Default)]
pub(crate) struct TxQueues {
    pub(crate) gre: SendBatch,
    /// The IPv6 entries of `gre`, moved here to leave by the IPv6 socket.
    pub(crate) gre6: SendBatch,
    pub(crate) link: SendBatch,
    pub(crate) large: SendBatch,
    pub(crate) system: SystemQueue,
}

/// Frames for system ports waiting for the next `sendmmsg`, each with the virtio-net header it
/// is sent with; the frame stays in its receive buffer.
#[derive(Default)]
pub(crate) struct SystemQueue {
    entries: Vec<SystemEntry>,
    /// Scratch, reused: the ports with entries, and one port's entries.
    ports: Vec<u32>,
    group: Vec<SystemEntry>,
    scratch: SystemSendScratch,
}

#[derive(Clone, Copy)]
struct SystemEntry {
    port: u32,
    buf: u16,
    /// The rest of the frame after `head`, in its receive buffer.
    frame: (u32, u32),
    vnet: [u8; encap::vnet::HEADER_LEN],
    /// The frame's first bytes as they leave (the VLAN tag pushed, popped or rewritten); empty
    /// when it leaves as it came.
    head: [u8; HEAD_LEN],
    head_len: u8,
}

impl SystemEntry {
    /// The frame's length as it leaves.
    fn len(&self) -> usize {
        (self.frame.1 - self.frame.0) as usize + usize::from(self.head_len)
    }
}

impl SystemQueue {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[inline]
    fn push(&mut self, port: PortId, frame: &FrameRef<'_>, retag: Retag) {
        let mut head = [0u8; HEAD_LEN];
        let (n, rest) = retag.head(frame.bytes, &mut head);
        let mut vnet = [0; encap::vnet::HEADER_LEN];
        frame.vnet.moved_by(retag.len_change()).emit(&mut vnet);
        self.entries.push(SystemEntry {
            port: port.0,
            buf: frame.buf as u16,
            frame: ((frame.range.start + rest) as u32, frame.range.end as u32),
            vnet,
            head,
            head_len: n as u8,
        });
    }

    /// Sends the queued frames from `bufs`, one `sendmmsg` per port, and counts each outcome.
    pub(crate) fn send(
        &mut self,
        bufs: &[Box<[u8]>],
        ports: &[Option<PortState>],
        drops: &DropCounters,
    ) {
        if self.entries.is_empty() {
            return;
        }
        self.ports.clear();
        for e in &self.entries {
            if !self.ports.contains(&e.port) {
                self.ports.push(e.port);
            }
        }
        for &p in &self.ports {
            self.group.clear();
            self.group
                .extend(self.entries.iter().filter(|e| e.port == p).copied());
            let Some(Some(port)) = ports.get(p as usize) else {
                continue;
            };
            let PortIo::System(system) = &port.io else {
                continue;
            };
            let Some(socket) = system.socket() else {
                bump(&port.counters.tx_dropped, self.group.len() as u64);
                for _ in 0..self.group.len() {
                    drops.add(DropReason::PortDown);
                }
                continue;
            };
            let group = &self.group;
            let packets = group.iter().map(|e| {
                [
                    &e.vnet[..],
                    &e.head[..usize::from(e.head_len)],
                    &bufs[usize::from(e.buf)][e.frame.0 as usize..e.frame.1 as usize],
                ]
            });
            socket.send(packets, &mut self.scratch, |i, result| match result {
                Ok(()) => port.counters.tx(group[i].len()),
                Err(e) => {
                    bump(&port.counters.tx_dropped, 1);
                    drops.add(tx_failure(&e));
                }
            });
        }
        self.entries.clear();
    }
}

impl TxQueues {
    /// Packets waiting in all queues.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.gre.len() + self.link.len() + self.large.len() + self.system.entries.len()
    }

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

/// Sends the frame out of `port`: written to a TAP now, or queued (with its own outer headers for
/// a tunnel, with its virtio-net header for a system port) for the next `sendmmsg`. `retag` is
/// what the port does to its VLAN tag: the changed first bytes go in a piece of their own in
/// front of the rest of the frame, which stays where it is (other ports may be sending the
/// frame as it came).
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
        // A TAP opened without the virtio-net header (`--no-offload`) cannot take a TSO frame
        // from a system port whole: it gets the segments.
        PortIo::Internal(tap)
            if frame.vnet.gso() != Gso::None && frame.tap_bytes.len() == frame.bytes.len() =>
        {
            if let Err(reason) = offload::write_tap_segments(tap, &port.counters, frame, retag) {
                bump(&port.counters.tx_dropped, 1);
                drops.add(reason);
            }
        }
        PortIo::Internal(tap) if retag == Retag::Keep => write_tap(
            tap,
            &port.counters,
            frame.tap_bytes,
            1,
            frame.bytes.len(),
            drops,
        ),
        PortIo::Internal(tap) => write_tap_retagged(tap, &port.counters, frame, retag, drops),
        PortIo::System(system) => {
            if system.socket().is_some() {
                tx.system.push(id, frame, retag);
            } else {
                bump(&port.counters.tx_dropped, 1);
                drops.add(DropReason::PortDown);
            }
        }
        PortIo::Tunnel(t) => {
            // Unresolved: only the probe the loop allows now and then goes (by the raw
            // socket: such a tunnel has no link).
            if t.unresolved && !std::mem::take(&mut t.probe_raw) {
                bump(&port.counters.tx_dropped, 1);
                drops.add(DropReason::Unresolved);
                return;
            }
            // DF clear (`df_default=false`): what does not fit the path goes by the socket
            // whose kernel fragments it.
            let fragment = !t.config.df_default
                && offload::frame_size(frame.bytes, &frame.vnet)
                    .segment
                    .unwrap_or(frame.bytes.len() as u32)
                    > t.max_frame();
            let result = match (frame.vnet.gso(), t.config.large_frames) {
                (Gso::None, _) if fragment => queue_fragmenting(id, t, frame, retag, &mut tx.large),
                (Gso::None, _) => {
                    let queue = tx.for_tunnel(t);
                    queue_frame(id, t, frame, retag, queue)
                }
                (_, true) => queue_large(id, t, frame, retag, &mut tx.large, true),
                (_, false) if fragment => queue_large(id, t, frame, retag, &mut tx.large, false),
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
            let reason = tx_failure(&e);
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
            drops.add(tx_failure(&e));
        }
    }
}

/// Sends one frame behind its virtio-net header (`packet`) to a system port now (a coalesced
/// frame, `frames` segments of `len` bytes in all) and counts the outcome.
pub(crate) fn send_system_one(
    system: &SystemPort,
    counters: &PortCounters,
    packet: &[u8],
    frames: u64,
    len: usize,
    scratch: &mut SystemSendScratch,
    drops: &DropCounters,
) {
    let (header, frame) = packet.split_at(encap::vnet::HEADER_LEN.min(packet.len()));
    let mut failure = Some(DropReason::PortDown);
    if let Some(socket) = system.socket() {
        socket.send([[header, &[], frame]], scratch, |_, result| {
            failure = result.err().map(|e| tx_failure(&e));
        });
    }
    match failure {
        None => counters.tx_many(frames, len),
        Some(reason) => {
            bump(&counters.tx_dropped, frames);
            for _ in 0..frames {
                drops.add(reason);
            }
        }
    }
}

/// Why a TAP, a socket or an interface refused a frame: EIO (a TAP) and ENETDOWN (a packet
/// socket) mean the interface is down; EAGAIN and ENOBUFS that the socket's send buffer or the
/// device's queue is full (sends never wait for room).
fn tx_failure(e: &io::Error) -> DropReason {
    match e.raw_os_error() {
        Some(libc::EIO | libc::ENETDOWN | libc::ENXIO) => DropReason::PortDown,
        Some(libc::EAGAIN | libc::ENOBUFS) => DropReason::TxBusy,
        _ => DropReason::TxFailed,
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
    /// Receives and sends the ip6gre tunnels' packets; None where the host has no IPv6.
    pub(crate) raw6: Option<RawGre6>,
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
        bufs: &[Box<[u8]>],
        ports: &[Option<PortState>],
        drops: &DropCounters,
    ) {
        tx.system.send(bufs, ports, drops);
        tx.gre.take_ipv6(&mut tx.gre6);
        send_counted(&self.raw, &mut tx.gre, bufs, ports, drops, 0);
        if !tx.gre6.is_empty() {
            match &self.raw6 {
                Some(raw6) => raw6.send(
                    &mut tx.gre6,
                    bufs,
                    |tag| match ports.get(tag as usize) {
                        Some(Some(PortState {
                            io: PortIo::Tunnel(t),
                            ..
                        })) => t.config.local_ipv6(),
                        _ => None,
                    },
                    // Inner bytes as for IPv4: the entry's header and the port's outer length
                    // both count the IPv4 header the socket skips.
                    count_sent(ports, drops, 0),
                ),
                None => {
                    for _ in 0..tx.gre6.len() {
                        drops.add(DropReason::TxFailed);
                    }
                    tx.gre6.clear();
                }
            }
        }
        if !tx.link.is_empty() {
            match &mut self.packet_tx {
                Some(packet_tx) => packet_tx.send(
                    &mut tx.link,
                    bufs,
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
            Some(raw) => send_counted(raw, &mut tx.large, bufs, ports, drops, ipv4::HEADER_LEN),
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
    bufs: &[Box<[u8]>],
    ports: &[Option<PortState>],
    drops: &DropCounters,
    kernel_header: usize,
) {
    if queue.is_empty() {
        return;
    }
    raw.send(queue, bufs, count_sent(ports, drops, kernel_header));
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
                drops.add(tx_failure(&e));
                tracing::debug!(port = entry.tag, error = %e, "GRE send failed");
            }
        }
    }
}
