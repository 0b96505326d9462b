//! TCP receive coalescing (GRO in software), the mirror of [`crate::tso`]: consecutive segments
//! of one TCP/IPv4 flow that arrive through a tunnel are joined into one large frame, written to
//! the TAP once with a GSO virtio-net header. The receiving host's stack then handles one packet
//! where it would have handled ~45, as it does for a NIC with GRO.
//!
//! Only what Linux's GRO would merge is merged: IPv4 without options or fragments, TCP with only
//! ACK (and PSH on the last segment), identical headers apart from sequence number, IP length,
//! ID and checksums, payloads of the first segment's size (the last may be shorter), and valid
//! checksums: the merged frame is handed over as already verified.

use crate::checksum;
use crate::vnet::{F_NEEDS_CSUM, VnetHeader};

const ETH_LEN: usize = 14;
const IP_LEN: usize = 20;
const L4: usize = ETH_LEN + IP_LEN;
const TCP_ACK: u8 = 0x10;
const TCP_PSH: u8 = 0x08;
const GSO_TCPV4: u8 = 1;
/// Largest merged frame: the IPv4 total length must fit 16 bits.
pub const MAX_MERGED_LEN: usize = ETH_LEN + 65_535;

/// The facts about one segment that decide whether it can join another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSegment {
    /// End of the TCP header (Ethernet + IPv4 + TCP with options).
    pub hdr_len: usize,
    pub seq: u32,
    pub payload_len: usize,
    pub flags: u8,
}

impl TcpSegment {
    pub fn has_psh(&self) -> bool {
        self.flags & TCP_PSH != 0
    }
}

/// The segment's facts if `frame` is a TCP/IPv4 data segment that may be coalesced, with valid
/// IPv4 and TCP checksums; `None` otherwise (it then travels on as it is). Never panics.
#[inline]
pub fn tcp4_segment(frame: &[u8]) -> Option<TcpSegment> {
    let eth_type = frame.get(12..14)?;
    let ip = frame.get(ETH_LEN..L4)?;
    if eth_type != [0x08, 0x00] || ip[0] != 0x45 || ip[9] != 6 {
        return None;
    }
    // No fragment: MF clear and offset 0 (DF may be set).
    if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
        return None;
    }
    // Exactly the frame: Ethernet padding would end up inside the merged payload.
    if usize::from(u16::from_be_bytes([ip[2], ip[3]])) != frame.len() - ETH_LEN {
        return None;
    }
    let doff = usize::from(*frame.get(L4 + 12)? >> 4) * 4;
    let hdr_len = L4 + doff;
    let flags = *frame.get(L4 + 13)?;
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
    let tcp_len = frame.len() - L4;
    let pseudo = checksum::sum(&ip[12..20], 6 + tcp_len as u32);
    if checksum::fold(checksum::sum(&frame[L4..], pseudo)) != 0 {
        return None;
    }
    Some(TcpSegment {
        hdr_len,
        seq: u32::from_be_bytes(frame[L4 + 4..L4 + 8].try_into().ok()?),
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
    let h = first.hdr_len;
    seg.hdr_len == h
        && seg.seq == end_seq
        && seg.payload_len <= first.payload_len
        && head.len() >= h
        && next.len() >= h
        // Ethernet; IPv4 TOS; DF, TTL, protocol; addresses.
        && head[..ETH_LEN + 2] == next[..ETH_LEN + 2]
        && head[ETH_LEN + 6..ETH_LEN + 10] == next[ETH_LEN + 6..ETH_LEN + 10]
        && head[ETH_LEN + 12..L4] == next[ETH_LEN + 12..L4]
        // Ports; acknowledgment, offset and flags; window; urgent pointer and options.
        && head[L4..L4 + 4] == next[L4..L4 + 4]
        && head[L4 + 8..L4 + 13] == next[L4 + 8..L4 + 13]
        && head[L4 + 14..L4 + 16] == next[L4 + 14..L4 + 16]
        && head[L4 + 18..h] == next[L4 + 18..h]
}

/// Turns `merged` (the first segment's headers followed by every segment's payload) into one
/// frame: IPv4 total length and checksum rewritten, PSH if the last segment had it, the TCP
/// checksum left partial as a NIC expects (pseudo-header sum), and returns the virtio-net header
/// that tells the kernel so. Panics if `merged` is shorter than `first.hdr_len`.
pub fn finish(merged: &mut [u8], first: &TcpSegment, psh: bool) -> VnetHeader {
    let total = merged.len();
    let ip_len = (total - ETH_LEN) as u16;
    merged[ETH_LEN + 2..ETH_LEN + 4].copy_from_slice(&ip_len.to_be_bytes());
    merged[ETH_LEN + 10..ETH_LEN + 12].copy_from_slice(&[0, 0]);
    let ip_sum = checksum::data(&merged[ETH_LEN..L4]);
    merged[ETH_LEN + 10..ETH_LEN + 12].copy_from_slice(&ip_sum.to_be_bytes());
    if psh {
        merged[L4 + 13] |= TCP_PSH;
    }
    // NEEDS_CSUM: the field holds the pseudo-header sum, not complemented; whoever finishes the
    // checksum adds the data to it.
    let tcp_len = (total - L4) as u32;
    let pseudo = checksum::sum(&merged[ETH_LEN + 12..L4], 6 + tcp_len);
    let partial = !checksum::fold(pseudo);
    merged[L4 + 16..L4 + 18].copy_from_slice(&partial.to_be_bytes());
    VnetHeader {
        flags: F_NEEDS_CSUM,
        gso_type: GSO_TCPV4,
        hdr_len: first.hdr_len as u16,
        gso_size: first.payload_len as u16,
        csum_start: L4 as u16,
        csum_offset: 16,
    }
}
