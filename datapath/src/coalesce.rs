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
use crate::vlan::{HEAD_LEN, Retag};

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
                l3: 0,
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

/// Room for a coalescible segment's headers with a tag pushed: Ethernet, a tag, IPv4 without
/// options, TCP with options.
const MAX_HEADERS: usize = 14 + 4 + 20 + 60 + 4;

/// `frame`'s first `hdr_len` bytes as they leave with `retag`, written into `out`.
fn egress_headers<'a>(
    frame: &[u8],
    hdr_len: usize,
    retag: Retag,
    out: &'a mut [u8; MAX_HEADERS],
) -> Option<&'a [u8]> {
    let headers = frame.get(..hdr_len)?;
    let mut head = [0u8; HEAD_LEN];
    let (n, rest) = retag.head(headers, &mut head);
    let tail = headers.get(rest..)?;
    let len = n + tail.len();
    out.get_mut(..n)?.copy_from_slice(&head[..n]);
    out.get_mut(n..len)?.copy_from_slice(tail);
    Some(&out[..len])
}

impl Coalescer {
    /// A frame is being built: whatever goes out next must wait for it, or it would overtake.
    #[inline]
    pub(crate) fn is_pending(&self) -> bool {
        self.count > 0
    }

    /// Adds a TCP segment to the frame being coalesced for `tap`, or starts a new one (writing
    /// out the one it cannot join). The frame is kept as the TAP takes it: `retag` is what the
    /// port does to its VLAN tag. False, and nothing done, if the segment cannot take that
    /// change (the caller then sends it as it is).
    pub(crate) fn add(
        &mut self,
        tap: PortId,
        frame: &[u8],
        segment: TcpSegment,
        retag: Retag,
        ports: &[Option<PortState>],
        drops: &DropCounters,
    ) -> bool {
        // The segment's headers as they leave, in a buffer of their own: the frame itself may
        // be going elsewhere as it came.
        let Some(out) = segment.moved_by(retag.len_change()) else {
            return false;
        };
        let mut headers = [0u8; MAX_HEADERS];
        let Some(headers) = egress_headers(frame, segment.hdr_len, retag, &mut headers) else {
            return false;
        };
        let payload = &frame[segment.hdr_len..];
        if self.count > 0 {
            let merged = &self.buf[vnet::HEADER_LEN..vnet::HEADER_LEN + self.len];
            let fits = self.len + out.payload_len <= self.first.max_merged_len();
            if self.port == tap
                && !self.psh
                && fits
                && gro::can_append(merged, &self.first, self.end_seq, headers, &out)
            {
                let at = vnet::HEADER_LEN + self.len;
                self.buf[at..at + payload.len()].copy_from_slice(payload);
                self.len += segment.payload_len;
                self.end_seq = self.end_seq.wrapping_add(segment.payload_len as u32);
                self.psh = segment.has_psh();
                self.count += 1;
                // A short segment ends a burst: nothing more can follow it.
                if segment.payload_len < self.first.payload_len {
                    self.flush(ports, drops);
                }
                return true;
            }
            self.flush(ports, drops);
        }
        let start = vnet::HEADER_LEN;
        let mid = start + headers.len();
        self.buf[start..mid].copy_from_slice(headers);
        self.buf[mid..mid + payload.len()].copy_from_slice(payload);
        self.len = headers.len() + payload.len();
        self.port = tap;
        self.first = out;
        self.end_seq = segment.seq.wrapping_add(segment.payload_len as u32);
        self.psh = segment.has_psh();
        self.count = 1;
        true
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn egress_headers_are_the_segments_headers_as_the_tap_takes_them() {
        let mut frame = vec![0x02; 12];
        frame.extend_from_slice(&[0x81, 0x00, 0x00, 100, 0x08, 0x00]);
        frame.extend((0..60).map(|i| i as u8));
        let mut out = [0u8; MAX_HEADERS];
        let popped = egress_headers(&frame, 58, Retag::Pop, &mut out).unwrap();
        assert_eq!(popped, [&frame[..12], &frame[16..58]].concat());
        let mut out = [0u8; MAX_HEADERS];
        let kept = egress_headers(&frame, 58, Retag::Keep, &mut out).unwrap();
        assert_eq!(kept, &frame[..58]);
        let mut out = [0u8; MAX_HEADERS];
        assert_eq!(egress_headers(&frame, 200, Retag::Keep, &mut out), None);
    }
}
