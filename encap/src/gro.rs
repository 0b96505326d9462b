//! TCP receive coalescing (GRO in software), the mirror of [`crate::tso`]: consecutive segments
//! of one TCP/IPv4 flow that arrive through a tunnel are joined into one large frame, written to
//! the TAP once with a GSO virtio-net header. The receiving host's stack then handles one packet
//! where it would have handled ~45, as it does for a NIC with GRO.
//!
//! Frames with one 802.1Q tag are merged like untagged ones (the tag is part of the headers that
//! must match), so a tagged flow through a trunk is coalesced too.
//!
//! Only what Linux's GRO would merge is merged: IPv4 without options or fragments, TCP with only
//! ACK (and PSH on the last segment), identical headers apart from sequence number, IP length,
//! ID and checksums, payloads of the first segment's size (the last may be shorter), and valid
//! checksums: the merged frame is handed over as already verified.

use crate::checksum;
use crate::vnet::{F_NEEDS_CSUM, VnetHeader};

const ETH_LEN: usize = 14;
const TAG_LEN: usize = 4;
const IP_LEN: usize = 20;
const TCP_ACK: u8 = 0x10;
const TCP_PSH: u8 = 0x08;
const GSO_TCPV4: u8 = 1;
/// Largest merged frame: the IPv4 total length must fit 16 bits (after a tag, if any).
pub const MAX_MERGED_LEN: usize = ETH_LEN + TAG_LEN + 65_535;

/// The facts about one segment that decide whether it can join another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSegment {
    /// Start of the IPv4 header: 14, or 18 after an 802.1Q tag.
    pub l3: usize,
    /// End of the TCP header (Ethernet, a tag if any, IPv4, TCP with options).
    pub hdr_len: usize,
    pub seq: u32,
    pub payload_len: usize,
    pub flags: u8,
}

impl TcpSegment {
    pub fn has_psh(&self) -> bool {
        self.flags & TCP_PSH != 0
    }

    /// The longest frame segments like this one may be merged into: the IPv4 total length must
    /// fit 16 bits.
    pub fn max_merged_len(&self) -> usize {
        self.l3 + 65_535
    }

    /// The same segment with `delta` bytes more (or fewer) before its IPv4 header: a VLAN tag
    /// pushed or popped on the way out. None if that leaves no room for an Ethernet header.
    pub fn moved_by(self, delta: i32) -> Option<TcpSegment> {
        let l3 = self.l3.checked_add_signed(delta as isize)?;
        (l3 >= ETH_LEN).then_some(TcpSegment {
            l3,
            hdr_len: self.hdr_len.checked_add_signed(delta as isize)?,
            ..self
        })
    }
}

/// The segment's facts if `frame` is a TCP/IPv4 data segment that may be coalesced, with valid
/// IPv4 and TCP checksums; `None` otherwise (it then travels on as it is). Never panics.
#[inline]
pub fn tcp4_segment(frame: &[u8]) -> Option<TcpSegment> {
    let (l3, eth_type) = match frame.get(12..14)? {
        [0x81, 0x00] => (ETH_LEN + TAG_LEN, frame.get(16..18)?),
        eth_type => (ETH_LEN, eth_type),
    };
    let l4 = l3 + IP_LEN;
    let ip = frame.get(l3..l4)?;
    if eth_type != [0x08, 0x00] || ip[0] != 0x45 || ip[9] != 6 {
        return None;
    }
    // No fragment: MF clear and offset 0 (DF may be set).
    if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
        return None;
    }
    // Exactly the frame: Ethernet padding would end up inside the merged payload.
    if usize::from(u16::from_be_bytes([ip[2], ip[3]])) != frame.len() - l3 {
        return None;
    }
    let doff = usize::from(*frame.get(l4 + 12)? >> 4) * 4;
    let hdr_len = l4 + doff;
    let flags = *frame.get(l4 + 13)?;
    if doff < 20
        || hdr_len >= frame.len()
        || flags & !(TCP_ACK | TCP_PSH) != 0
        || flags & TCP_ACK == 0
    {
        return None;
    }
    if checksum::data(ip) != 0 {
        return None;
    }
    let tcp_len = frame.len() - l4;
    let pseudo = checksum::sum(&ip[12..20], 6 + tcp_len as u32);
    if checksum::fold(checksum::sum(&frame[l4..], pseudo)) != 0 {
        return None;
    }
    Some(TcpSegment {
        l3,
        hdr_len,
        seq: u32::from_be_bytes(frame[l4 + 4..l4 + 8].try_into().ok()?),
        payload_len: frame.len() - hdr_len,
        flags,
    })
}

/// May `next` be appended to the merged frame whose first segment's headers are `head` (with
/// facts `first`) and which ends at sequence number `end_seq`?
#[inline]
pub fn can_append(
    head: &[u8],
    first: &TcpSegment,
    end_seq: u32,
    next: &[u8],
    seg: &TcpSegment,
) -> bool {
    let (h, l3) = (first.hdr_len, first.l3);
    let l4 = l3 + IP_LEN;
    seg.hdr_len == h
        && seg.l3 == l3
        && seg.seq == end_seq
        && seg.payload_len <= first.payload_len
        && head.len() >= h
        && next.len() >= h
        // Ethernet and tag; IPv4 TOS; DF, TTL, protocol; addresses.
        && head[..l3 + 2] == next[..l3 + 2]
        && head[l3 + 6..l3 + 10] == next[l3 + 6..l3 + 10]
        && head[l3 + 12..l4] == next[l3 + 12..l4]
        // Ports; acknowledgment, offset and flags; window; urgent pointer and options.
        && head[l4..l4 + 4] == next[l4..l4 + 4]
        && head[l4 + 8..l4 + 13] == next[l4 + 8..l4 + 13]
        && head[l4 + 14..l4 + 16] == next[l4 + 14..l4 + 16]
        && head[l4 + 18..h] == next[l4 + 18..h]
}

/// Turns `merged` (the first segment's headers followed by every segment's payload) into one
/// frame: IPv4 total length and checksum rewritten, PSH if the last segment had it, the TCP
/// checksum left partial as a NIC expects (pseudo-header sum), and returns the virtio-net header
/// that tells the kernel so. Panics if `merged` is shorter than `first.hdr_len`.
pub fn finish(merged: &mut [u8], first: &TcpSegment, psh: bool) -> VnetHeader {
    let total = merged.len();
    let l3 = first.l3;
    let l4 = l3 + IP_LEN;
    let ip_len = (total - l3) as u16;
    merged[l3 + 2..l3 + 4].copy_from_slice(&ip_len.to_be_bytes());
    merged[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
    let ip_sum = checksum::data(&merged[l3..l4]);
    merged[l3 + 10..l3 + 12].copy_from_slice(&ip_sum.to_be_bytes());
    if psh {
        merged[l4 + 13] |= TCP_PSH;
    }
    // NEEDS_CSUM: the field holds the pseudo-header sum, not complemented; whoever finishes the
    // checksum adds the data to it.
    let tcp_len = (total - l4) as u32;
    let pseudo = checksum::sum(&merged[l3 + 12..l4], 6 + tcp_len);
    let partial = !checksum::fold(pseudo);
    merged[l4 + 16..l4 + 18].copy_from_slice(&partial.to_be_bytes());
    VnetHeader {
        flags: F_NEEDS_CSUM,
        gso_type: GSO_TCPV4,
        hdr_len: first.hdr_len as u16,
        gso_size: first.payload_len as u16,
        csum_start: l4 as u16,
        csum_offset: 16,
    }
}
