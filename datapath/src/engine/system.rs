//! The datapath thread's side of system ports: reading their sockets in batches, and following
//! their interfaces on the kernel's link events (see `port::system`).

use std::time::Instant;

use encap::vnet;
use learning::PortId;

use super::{BATCHES_PER_WAKE, Engine};
use crate::counters::{BatchSource, DropReason};
use crate::forward::TxQueues;
use crate::frame::FrameRef;
use crate::offload;
use crate::port::{PortIo, PortState};
use crate::sys::{LinkEvents, SYSTEM_BATCH, SystemRecvBatch};

impl Engine {
    pub(super) fn is_system(&self, id: PortId) -> bool {
        matches!(
            self.ports.get(id.0 as usize),
            Some(Some(PortState {
                io: PortIo::System(_),
                ..
            }))
        )
    }

    /// The kernel says links changed: every system port follows its interface (attached,
    /// re-attached to a new ifindex, detached).
    pub(super) fn follow_links(&mut self) {
        let Some(events) = &self.link_events else {
            return;
        };
        if let Err(e) = events.drain() {
            tracing::warn!(error = %e, "reading link events failed");
        }
        let mut changed = false;
        for port in self.ports.iter_mut().flatten() {
            if let PortIo::System(system) = &mut port.io {
                changed |= system.refresh();
            }
        }
        if changed {
            self.update_sources();
        }
    }

    /// Opens the link events socket for the first system port.
    pub(super) fn need_link_events(&mut self) {
        if self.link_events.is_none() {
            match LinkEvents::open() {
                Ok(events) => self.link_events = Some(events),
                Err(e) => tracing::error!(
                    error = %e,
                    "no link events: system ports will not follow their interfaces"
                ),
            }
        }
    }

    /// Reads a system port's socket: up to `BATCHES_PER_WAKE` batches, each decided and sent. A
    /// failed read means the interface went down or away: the port follows it.
    pub(super) fn drain_system(&mut self, id: PortId, rx: &mut SystemRecvBatch, tx: &mut TxQueues) {
        for _ in 0..BATCHES_PER_WAKE {
            let Some(Some(PortState {
                io: PortIo::System(system),
                ..
            })) = self.ports.get_mut(id.0 as usize)
            else {
                return;
            };
            let Some(socket) = system.socket_mut() else {
                return;
            };
            let n = match socket.recv(rx) {
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!(port = system.name(), error = %e, "system port read failed");
                    if system.refresh() {
                        self.update_sources();
                    }
                    return;
                }
            };
            if n == 0 {
                break;
            }
            self.loops.batch(BatchSource::System, n);
            self.system_batch(id, rx, n, tx);
            self.flush(tx, rx.buffers());
            if n < SYSTEM_BATCH {
                break;
            }
        }
    }

    /// Frames from a system port: each behind its virtio-net header, as from an offloading TAP.
    fn system_batch(&mut self, id: PortId, rx: &mut SystemRecvBatch, n: usize, tx: &mut TxQueues) {
        let now = Instant::now();
        for i in 0..n {
            if rx.truncated(i) {
                self.drops.add(DropReason::FrameTruncated);
                continue;
            }
            let vnet = match offload::take_offload_work(rx.packet_mut(i)) {
                Ok(v) => v,
                Err(reason) => {
                    self.drops.add(reason);
                    continue;
                }
            };
            self.clamp_syn(
                id,
                &mut rx.packet_mut(i)[vnet::HEADER_LEN..],
                vnet.needs_csum(),
            );
            let (start, end) = rx.span(i);
            let packet = rx.packet(i);
            let bytes = &packet[vnet::HEADER_LEN..];
            let frame = FrameRef {
                buf: i,
                range: start + vnet::HEADER_LEN..end,
                bytes,
                // A TAP without the virtio-net header takes the frame alone.
                tap_bytes: if self.offload { packet } else { bytes },
                packet: bytes,
                overwritten: None,
                vnet,
            };
            self.forward(id, frame, now, tx);
        }
    }
}
