//! Receive coalescing toward a TAP (GRO): consecutive TCP segments that tunnels deliver to one
//! internal port are joined into one large frame, written with a virtio-net GSO header, so the
//! kernel takes one packet instead of dozens. The joining rules are `encap::gro`'s; this module
//! holds the frame being built and decides when it must go.

use encap::gro::{self, TcpSegment};
use encap::vnet::{self, VnetHeader};
use learning::PortId;

use crate::counters::DropCounters;
use crate::forward::{send_system_one, write_tap};
use crate::port::{PortIo, PortState};
use crate::sys::SystemSendScratch;

/// One frame being built from consecutive TCP segments (see `encap::gro`).
pub(crate) struct Coalescer {
    /// Virtio-net header, then the frame: allocated once, 64 KB.
    buf: Box<[u8]>,
    /// Frame bytes in `buf` after the virtio-net header.
    len: usize,
    /// Segments in it; 0 when idle.
    count: u32,
    port: PortId,
    first: TcpSegment,
    end_seq: u32,
    psh: bool,
    /// For a system port target: the one-message `sendmmsg`'s headers.
    scratch: SystemSendScratch,
}

impl Default for Coalescer {
    fn default() -> Self {
        Coalescer {
            buf: vec![0; vnet::HEADER_LEN + gro::MAX_MERGED_LEN].into_boxed_slice(),
            len: 0,
            count: 0,
            port: PortId(0),
            first: TcpSegment {
                hdr_len: 0,
                seq: 0,
                payload_len: 0,
                flags: 0,
            },
            end_seq: 0,
            psh: false,
            scratch: SystemSendScratch::default(),
        }
    }
}

impl Coalescer {
    /// A frame is being built: whatever goes out next must wait for it, or it would overtake.
    #[inline]
    pub(crate) fn is_pending(&self) -> bool {
        self.count > 0
    }

    /// Adds a TCP segment to the frame being coalesced for `tap`, or starts a new one (writing
    /// out the one it cannot join).
    pub(crate) fn add(
        &mut self,
        tap: PortId,
        frame: &[u8],
        segment: TcpSegment,
        ports: &[Option<PortState>],
        drops: &DropCounters,
    ) {
        if self.count > 0 {
            let merged = &self.buf[vnet::HEADER_LEN..vnet::HEADER_LEN + self.len];
            let fits = self.len + segment.payload_len <= gro::MAX_MERGED_LEN;
            if self.port == tap
                && !self.psh
                && fits
                && gro::can_append(merged, &self.first, self.end_seq, frame, &segment)
            {
                let at = vnet::HEADER_LEN + self.len;
                self.buf[at..at + segment.payload_len].copy_from_slice(&frame[segment.hdr_len..]);
                self.len += segment.payload_len;
                self.end_seq = self.end_seq.wrapping_add(segment.payload_len as u32);
                self.psh = segment.has_psh();
                self.count += 1;
                // A short segment ends a burst: nothing more can follow it.
                if segment.payload_len < self.first.payload_len {
                    self.flush(ports, drops);
                }
                return;
            }
            self.flush(ports, drops);
        }
        self.buf[vnet::HEADER_LEN..vnet::HEADER_LEN + frame.len()].copy_from_slice(frame);
        self.len = frame.len();
        self.port = tap;
        self.first = segment;
        self.end_seq = segment.seq.wrapping_add(segment.payload_len as u32);
        self.psh = segment.has_psh();
        self.count = 1;
    }

    /// Writes the coalesced frame to its TAP: as it came when it is one segment, else as one
    /// GSO frame the kernel takes whole.
    pub(crate) fn flush(&mut self, ports: &[Option<PortState>], drops: &DropCounters) {
        if self.count == 0 {
            return;
        }
        let end = vnet::HEADER_LEN + self.len;
        let header = if self.count == 1 {
            VnetHeader::PLAIN
        } else {
            gro::finish(&mut self.buf[vnet::HEADER_LEN..end], &self.first, self.psh)
        };
        header.emit(&mut self.buf[..vnet::HEADER_LEN]);
        let segments = u64::from(self.count);
        // Bytes as the segments carried them, so counters match the sender's.
        let bytes = self.len + (self.count as usize - 1) * self.first.hdr_len;
        self.count = 0;
        let Some(Some(port)) = ports.get(self.port.0 as usize) else {
            return;
        };
        match &port.io {
            PortIo::Internal(tap) => write_tap(
                tap,
                &port.counters,
                &self.buf[..end],
                segments,
                bytes,
                drops,
            ),
            // A veth takes the whole GSO frame, as a TAP does.
            PortIo::System(system) => send_system_one(
                system,
                &port.counters,
                &self.buf[..end],
                segments,
                bytes,
                &mut self.scratch,
                drops,
            ),
            PortIo::Tunnel(_) => {}
        }
    }
}
