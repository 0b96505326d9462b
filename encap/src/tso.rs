//! TCP segmentation in software. With offloads on, the kernel hands a TAP reader TCP frames of up
//! to 64 KB (one `read` instead of ~45); a raw socket has no segmentation offload, so grebe cuts
//! such a frame into MSS-sized frames itself before tunnelling them, as a NIC with TSO would.
//!
//! [`Segmenter`] never copies payload: for each segment it writes fresh headers (Ethernet, IPv4
//! or IPv6, TCP) into a small caller buffer and returns the range of the original frame that is
//! the segment's payload, so the datapath sends `[outer headers | segment headers | payload]` by
//! scatter-gather.

use core::ops::Range;

use crate::Error;
use crate::checksum;
use crate::vnet::{Gso, VnetHeader};

/// The most header bytes a segment can have: Ethernet with one VLAN tag (18), IPv6 (40) or IPv4
/// with options (60), TCP with options (60).
pub const MAX_SEGMENT_HEADER_LEN: usize = 18 + 60 + 60;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const PROTO_TCP: u8 = 6;
const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// Offsets within the TCP header.
mod tcp {
    pub(super) const SEQ: usize = 4;
    pub(super) const DATA_OFF: usize = 12;
    pub(super) const FLAGS: usize = 13;
    pub(super) const CHECKSUM: usize = 16;
}

/// Cuts one GSO TCP frame into segments.
#[derive(Debug, Clone)]
pub struct Segmenter<'a> {
    frame: &'a [u8],
    /// Start of the IP header.
    l3: usize,
    /// Start of the TCP header.
    l4: usize,
    /// End of the TCP header: bytes repeated in every segment.
    hdr_len: usize,
    mss: usize,
    ipv6: bool,
    /// Next payload byte.
    offset: usize,
    first_seq: u32,
    first_id: u16,
    index: u16,
    /// Ones' complement sum of the pseudo header's addresses and protocol.
    pseudo: u32,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

impl<'a> Segmenter<'a> {
    /// Checks that `frame` is what `vnet` says (TCP over IPv4 or IPv6, headers inside the
    /// frame, a non-zero segment size) and prepares to segment it. Never panics.
    pub fn new(frame: &'a [u8], vnet: &VnetHeader) -> Result<Segmenter<'a>, Error> {
        let ipv6 = match vnet.gso() {
            Gso::TcpV4 => false,
            Gso::TcpV6 => true,
            _ => return Err(Error::BadOffload),
        };
        let mss = usize::from(vnet.gso_size);
        if mss == 0 {
            return Err(Error::BadOffload);
        }
        let mut l3 = 14;
        let mut ethertype = be16(frame, 12).ok_or(Error::BadOffload)?;
        if ethertype == ETHERTYPE_VLAN {
            ethertype = be16(frame, 16).ok_or(Error::BadOffload)?;
            l3 = 18;
        }
        let (l4, pseudo) = match (ipv6, ethertype) {
            (false, ETHERTYPE_IPV4) => {
                let ver_ihl = *frame.get(l3).ok_or(Error::BadOffload)?;
                let ihl = usize::from(ver_ihl & 0x0f) * 4;
                if ver_ihl >> 4 != 4 || ihl < 20 || frame.get(l3 + 9) != Some(&PROTO_TCP) {
                    return Err(Error::BadOffload);
                }
                let addrs = frame.get(l3 + 12..l3 + 20).ok_or(Error::BadOffload)?;
                (l3 + ihl, checksum::sum(addrs, u32::from(PROTO_TCP)))
            }
            (true, ETHERTYPE_IPV6) => {
                // Extension headers would need walking; Linux's TCP never sends them.
                if frame.get(l3 + 6) != Some(&PROTO_TCP) {
                    return Err(Error::BadOffload);
                }
                let addrs = frame.get(l3 + 8..l3 + 40).ok_or(Error::BadOffload)?;
                (l3 + 40, checksum::sum(addrs, u32::from(PROTO_TCP)))
            }
            _ => return Err(Error::BadOffload),
        };
        let data_off =
            usize::from(*frame.get(l4 + tcp::DATA_OFF).ok_or(Error::BadOffload)? >> 4) * 4;
        let hdr_len = l4 + data_off;
        if data_off < 20 || hdr_len > frame.len() || hdr_len > MAX_SEGMENT_HEADER_LEN {
            return Err(Error::BadOffload);
        }
        let first_seq = u32::from_be_bytes(
            frame[l4 + tcp::SEQ..l4 + tcp::SEQ + 4]
                .try_into()
                .map_err(|_| Error::BadOffload)?,
        );
        let first_id = if ipv6 {
            0
        } else {
            be16(frame, l3 + 4).ok_or(Error::BadOffload)?
        };
        Ok(Segmenter {
            frame,
            l3,
            l4,
            hdr_len,
            mss,
            ipv6,
            offset: hdr_len,
            first_seq,
            first_id,
            index: 0,
            pseudo,
        })
    }

    /// Cuts `size` payload bytes per segment instead of the header's MSS: large segments for a
    /// path that fragments and reassembles them (a whole number of MSS keeps the receiver's
    /// view of the flow unchanged).
    pub fn with_segment_size(
        frame: &'a [u8],
        vnet: &VnetHeader,
        size: usize,
    ) -> Result<Segmenter<'a>, Error> {
        if size == 0 {
            return Err(Error::BadOffload);
        }
        Ok(Segmenter {
            mss: size,
            ..Segmenter::new(frame, vnet)?
        })
    }

    /// The MSS the kernel asked for.
    pub fn mss(&self) -> usize {
        self.mss
    }

    /// Bytes of headers every segment carries.
    pub fn header_len(&self) -> usize {
        self.hdr_len
    }

    /// How many segments the frame makes (at least one, even with no payload).
    pub fn segments(&self) -> usize {
        (self.frame.len() - self.hdr_len).div_ceil(self.mss).max(1)
    }

    /// Writes the next segment's headers into `headers[..header_len()]` and returns the range of
    /// the frame that is its payload; `None` when every segment has been produced.
    /// Panics if `headers` is shorter than `header_len()`.
    pub fn next_segment(&mut self, headers: &mut [u8]) -> Option<Range<usize>> {
        let total = self.frame.len();
        if self.offset >= total && !(self.index == 0 && self.offset == total) {
            return None;
        }
        let payload = self.offset..(self.offset + self.mss).min(total);
        let first = self.index == 0;
        let last = payload.end == total;
        let h = &mut headers[..self.hdr_len];
        h.copy_from_slice(&self.frame[..self.hdr_len]);
        let tcp_len = self.hdr_len - self.l4 + payload.len();
        if self.ipv6 {
            // Payload length: everything after the fixed 40-byte header.
            let len = (tcp_len as u16).to_be_bytes();
            h[self.l3 + 4..self.l3 + 6].copy_from_slice(&len);
        } else {
            let ip_len = ((self.l4 - self.l3 + tcp_len) as u16).to_be_bytes();
            h[self.l3 + 2..self.l3 + 4].copy_from_slice(&ip_len);
            let id = self.first_id.wrapping_add(self.index).to_be_bytes();
            h[self.l3 + 4..self.l3 + 6].copy_from_slice(&id);
            h[self.l3 + 10..self.l3 + 12].copy_from_slice(&[0, 0]);
            let ip_sum = checksum::data(&h[self.l3..self.l4]);
            h[self.l3 + 10..self.l3 + 12].copy_from_slice(&ip_sum.to_be_bytes());
        }
        let t = self.l4;
        let seq = self
            .first_seq
            .wrapping_add((payload.start - self.hdr_len) as u32)
            .to_be_bytes();
        h[t + tcp::SEQ..t + tcp::SEQ + 4].copy_from_slice(&seq);
        if !last {
            h[t + tcp::FLAGS] &= !(TCP_FIN | TCP_PSH);
        }
        if !first {
            h[t + tcp::FLAGS] &= !TCP_CWR;
        }
        h[t + tcp::CHECKSUM..t + tcp::CHECKSUM + 2].copy_from_slice(&[0, 0]);
        // Pseudo header (addresses, protocol, TCP length), TCP header, payload: the header is a
        // whole number of 32-bit words, so only the payload, last in the chain, can be odd.
        let sum = checksum::sum(&h[t..], self.pseudo + tcp_len as u32);
        let sum = checksum::fold(checksum::sum(&self.frame[payload.clone()], sum));
        h[t + tcp::CHECKSUM..t + tcp::CHECKSUM + 2].copy_from_slice(&sum.to_be_bytes());
        self.offset = payload.end.max(self.offset + 1);
        self.index = self.index.wrapping_add(1);
        Some(payload)
    }
}
