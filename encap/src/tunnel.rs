//! What the datapath does per frame: put an Ethernet frame into outer IPv4 + GRE for sending
//! on the raw GRE socket, and take one out of a received packet.

use core::net::Ipv4Addr;
use core::ops::Range;

use crate::Error;
use crate::ethernet::{self, EtherType};
use crate::gre::{self, GreRepr};
use crate::ipv4::{self, Ipv4Repr, PROTOCOL_GRE};
use crate::ipv6::{self, Ipv6Repr};

/// The most [`OuterHeader::len`] can be: the headroom to leave in front of every frame buffer.
pub const MAX_OUTER_LEN: usize = ipv4::HEADER_LEN + gre::MAX_HEADER_LEN;

/// A tunnel's settings for the outer IPv4 and GRE headers: fixed per tunnel port, applied to
/// every frame sent on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OuterHeader {
    /// Source address; 0.0.0.0 lets the kernel choose (raw(7): with `IP_HDRINCL` it fills in a
    /// zero source).
    pub src: Ipv4Addr,
    /// The remote tunnel endpoint.
    pub dst: Ipv4Addr,
    /// Outer time to live.
    pub ttl: u8,
    /// Outer type-of-service byte.
    pub tos: u8,
    /// Set don't-fragment on the outer header.
    pub dont_frag: bool,
    /// The GRE key, if the tunnel has one.
    pub key: Option<u32>,
    /// Send a GRE checksum.
    pub csum: bool,
    /// Send a GRE sequence number (the caller counts; see `emit`'s `seq`).
    pub seq: bool,
}

impl OuterHeader {
    /// A tunnel to `dst` with OVS's defaults: source chosen by the kernel, TTL 64, TOS 0,
    /// don't-fragment set, no key, no checksum, no sequence number.
    #[inline]
    pub const fn new(dst: Ipv4Addr) -> Self {
        OuterHeader {
            src: Ipv4Addr::UNSPECIFIED,
            dst,
            ttl: 64,
            tos: 0,
            dont_frag: true,
            key: None,
            csum: false,
            seq: false,
        }
    }

    /// The GRE header this tunnel sends, with sequence number `seq` if it sends one.
    #[inline]
    pub const fn gre(&self, seq: u32) -> GreRepr {
        GreRepr {
            protocol: EtherType::TransparentEthernetBridging,
            key: self.key,
            seq: if self.seq { Some(seq) } else { None },
            csum: self.csum,
        }
    }

    /// Bytes of outer IPv4 + GRE header: 24 to [`MAX_OUTER_LEN`].
    #[inline]
    #[expect(clippy::len_without_is_empty, reason = "a header length, never empty")]
    pub const fn len(&self) -> usize {
        ipv4::HEADER_LEN + self.gre(0).header_len()
    }

    /// Writes the outer IPv4 header (protocol 47, ident 0 for the kernel to fill in, checksum)
    /// and the GRE header (protocol 0x6558, the key, `seq` if `self.seq`, the checksum over GRE
    /// header and `payload` if `self.csum`) into `header[..self.len()]`, and returns `len()`.
    /// `payload` is the Ethernet frame; it is only read, for the lengths and the checksum.
    ///
    /// `Err(Truncated)` if `header` is shorter than `len()`, `Err(TooBig)` if the packet would
    /// exceed 65535 bytes. Never panics.
    #[inline]
    pub fn emit(&self, header: &mut [u8], payload: &[u8], seq: u32) -> Result<usize, Error> {
        self.emit_parts(header, &[payload], seq)
    }

    /// As [`OuterHeader::emit`], for a frame in several pieces sent by scatter-gather (a
    /// segment's own headers, then its payload inside the original frame). Every piece but the
    /// last must have an even length when the tunnel sends GRE checksums.
    #[inline]
    pub fn emit_parts(
        &self,
        header: &mut [u8],
        payload: &[&[u8]],
        seq: u32,
    ) -> Result<usize, Error> {
        let len = self.len();
        let header = header.get_mut(..len).ok_or(Error::Truncated)?;
        let gre = self.gre(seq);
        let payload_len = payload
            .iter()
            .try_fold(0usize, |n, p| n.checked_add(p.len()))
            .ok_or(Error::TooBig)?;
        let outer = Ipv4Repr {
            src_addr: self.src,
            dst_addr: self.dst,
            protocol: PROTOCOL_GRE,
            payload_len: gre
                .header_len()
                .checked_add(payload_len)
                .ok_or(Error::TooBig)?,
            ttl: self.ttl,
            tos: encap_ecn(self.tos, payload.first().and_then(|frame| inner_ecn(frame))),
            dont_frag: self.dont_frag,
            ident: 0,
        };
        if outer.total_len().is_none() {
            return Err(Error::TooBig);
        }
        let (ip_header, gre_header) = header.split_at_mut(ipv4::HEADER_LEN);
        outer.emit(&mut ipv4::Packet::new_unchecked(ip_header));
        gre.emit_header_parts(gre_header, payload);
        Ok(len)
    }

    /// Writes the outer headers directly in front of the Ethernet frame at `buf[frame]`, so
    /// that `buf[start..frame.end]` is the packet to send, without copying the frame. Returns
    /// `start` (= `frame.start - len()`).
    ///
    /// `Err(NoHeadroom)` if `frame.start < len()`, `Err(Truncated)` if `frame` is not a range
    /// within `buf`, `Err(TooBig)` as for [`OuterHeader::emit`]. Never panics.
    #[inline]
    pub fn emit_in_front(
        &self,
        buf: &mut [u8],
        frame: Range<usize>,
        seq: u32,
    ) -> Result<usize, Error> {
        if frame.start > frame.end || frame.end > buf.len() {
            return Err(Error::Truncated);
        }
        let start = frame
            .start
            .checked_sub(self.len())
            .ok_or(Error::NoHeadroom)?;
        let (head, rest) = buf.split_at_mut(frame.start);
        // frame.start <= frame.end <= buf.len() was checked above.
        let payload = &rest[..frame.end - frame.start];
        self.emit(&mut head[start..], payload, seq)?;
        Ok(start)
    }
}

/// The two ECN bits of an IP TOS / traffic class (RFC 3168).
const ECN_MASK: u8 = 0x03;
/// Congestion experienced.
const ECN_CE: u8 = 0x03;
/// ECN-capable transport (0).
const ECN_ECT0: u8 = 0x02;

/// The ECN field of the IPv4 or IPv6 packet inside an Ethernet frame; `None` for anything else.
#[inline]
pub fn inner_ecn(frame: &[u8]) -> Option<u8> {
    let version = frame.get(14)? >> 4;
    match (frame.get(12..14)?, version) {
        ([0x08, 0x00], 4) => Some(frame.get(15)? & ECN_MASK),
        ([0x86, 0xdd], 6) => Some((frame.get(15)? >> 4) & ECN_MASK),
        _ => None,
    }
}

/// The outer TOS for an inner packet with ECN field `inner` (RFC 6040, as Linux and Open
/// vSwitch do it): the configured TOS with the inner ECN copied, congestion experienced passed on
/// as ECT(0) so that the decapsulator's rule below stays the only one that sets CE inside.
#[inline]
fn encap_ecn(tos: u8, inner: Option<u8>) -> u8 {
    let ecn = match inner {
        Some(ECN_CE) => ECN_ECT0,
        Some(ecn) => ecn,
        None => 0,
    };
    (tos & !ECN_MASK) | ecn
}

/// What decapsulation did with the outer header's congestion mark (RFC 6040 section 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CongestionMark {
    /// No mark outside, or nothing inside that carries one (not IP, or already CE).
    Unchanged,
    /// The outer CE was copied into the inner IP header.
    Copied,
    /// Outer CE over an inner packet that is not ECN-capable: RFC 6040 says drop it.
    NotEct,
}

/// Applies the outer header's ECN field to the inner Ethernet frame, as RFC 6040 asks of a
/// decapsulator: an outer CE becomes CE on an ECN-capable inner packet (the IPv4 header checksum
/// updated incrementally, RFC 1624), and condemns one that is not. Never panics.
pub fn decap_ecn(frame: &mut [u8], outer_tos: u8) -> CongestionMark {
    if outer_tos & ECN_MASK != ECN_CE {
        return CongestionMark::Unchanged;
    }
    match inner_ecn(frame) {
        None | Some(ECN_CE) => CongestionMark::Unchanged,
        Some(0) => CongestionMark::NotEct,
        Some(_) if frame[12] == 0x86 => {
            frame[15] |= ECN_CE << 4;
            CongestionMark::Copied
        }
        Some(_) => {
            // IPv4: the header checksum sits at 10..12 of the header, 24..26 of the frame.
            if frame.len() < ethernet::HEADER_LEN + ipv4::HEADER_LEN {
                return CongestionMark::Unchanged;
            }
            let old = u16::from_be_bytes([frame[14], frame[15]]);
            frame[15] |= ECN_CE;
            let new = u16::from_be_bytes([frame[14], frame[15]]);
            let sum = u16::from_be_bytes([frame[24], frame[25]]);
            // HC' = ~(~HC + ~m + m')
            let acc = u32::from(!sum) + u32::from(!old) + u32::from(new);
            let folded = (acc & 0xffff) + (acc >> 16);
            let folded = (folded & 0xffff) + (folded >> 16);
            frame[24..26].copy_from_slice(&(!(folded as u16)).to_be_bytes());
            CongestionMark::Copied
        }
    }
}

/// A received GRE packet carrying an Ethernet frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decap {
    /// The outer IPv4 header (`src_addr` tells which tunnel it came from).
    pub outer: Ipv4Repr,
    /// The GRE header (`key` tells which tunnel, when keys are in use).
    pub gre: GreRepr,
    /// Where the inner Ethernet frame lies within the packet given to [`decap`]; at least
    /// 14 bytes, ending at the outer total length (link padding excluded).
    pub frame: Range<usize>,
}

/// Checks a packet read from a raw GRE socket (outer IPv4 header included) and finds the
/// Ethernet frame inside. Never panics.
///
/// Rejections, in order: the outer IPv4 header ([`Ipv4Repr::parse`]), protocol not 47
/// (`NotGre`), the GRE header ([`GreRepr::parse`]), protocol type not 0x6558 (`NotEthernet`),
/// a frame shorter than 14 bytes (`FrameTruncated`).
#[inline]
pub fn decap(packet: &[u8]) -> Result<Decap, Error> {
    let ip = ipv4::Packet::new_unchecked(packet);
    let outer = Ipv4Repr::parse(&ip)?;
    if outer.protocol != PROTOCOL_GRE {
        return Err(Error::NotGre);
    }
    let (gre, gre_len, frame_len) = gre_frame(ip.payload())?;
    // At most 60 + 16 bytes of headers, then a frame that ends at the 16-bit total length:
    // neither sum can overflow.
    let start = ip.header_len() + gre_len;
    Ok(Decap {
        outer,
        gre,
        frame: start..start + frame_len,
    })
}

/// The GRE header at the start of an outer IP payload, its length and the length of the
/// Ethernet frame after it, for either address family.
#[inline]
fn gre_frame(payload: &[u8]) -> Result<(GreRepr, usize, usize), Error> {
    let (gre, gre_len) = GreRepr::parse_with_len(&gre::Packet::new_unchecked(payload))?;
    if gre.protocol != EtherType::TransparentEthernetBridging {
        return Err(Error::NotEthernet);
    }
    // The parse checked that the GRE header fits the payload, which ends at the outer
    // header's length; the frame is the rest of it.
    let Some(frame_len) = payload.len().checked_sub(gre_len) else {
        return Err(Error::Truncated);
    };
    if frame_len < ethernet::HEADER_LEN {
        return Err(Error::FrameTruncated);
    }
    Ok((gre, gre_len, frame_len))
}

/// A received GRE-over-IPv6 packet carrying an Ethernet frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decap6 {
    /// The outer IPv6 header (`src_addr` tells which tunnel it came from).
    pub outer: Ipv6Repr,
    /// The GRE header.
    pub gre: GreRepr,
    /// Where the inner Ethernet frame lies within the packet given to [`decap_ipv6`].
    pub frame: Range<usize>,
}

/// As [`decap`], for a packet with an outer IPv6 header: RFC 7676's GRE directly after the
/// fixed header (next header 47; a packet with extension headers in front of GRE is `NotGre`).
/// Never panics.
#[inline]
pub fn decap_ipv6(packet: &[u8]) -> Result<Decap6, Error> {
    let ip = ipv6::Packet::new_unchecked(packet);
    let outer = Ipv6Repr::parse(&ip)?;
    if outer.next_header != PROTOCOL_GRE {
        return Err(Error::NotGre);
    }
    let (gre, gre_len, frame_len) = gre_frame(ip.payload())?;
    let start = ipv6::HEADER_LEN + gre_len;
    Ok(Decap6 {
        outer,
        gre,
        frame: start..start + frame_len,
    })
}

#[cfg(test)]
mod decap_ipv6_tests {
    use super::*;

    /// IPv6 (next header `next`) + a keyed GRE header + a 14-byte frame + 2 bytes of padding.
    fn packet(next: u8, protocol: [u8; 2]) -> Vec<u8> {
        let mut p = vec![0u8; 40 + 8 + 14 + 2];
        p[0] = 0x60 | (0xb8 >> 4);
        p[1] = (0xb8 & 0x0f) << 4;
        p[4..6].copy_from_slice(&22u16.to_be_bytes());
        p[6] = next;
        p[7] = 9;
        p[8..24].copy_from_slice(
            &"2001:db8::2"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        p[40] = 0x20;
        p[42..44].copy_from_slice(&protocol);
        p[44..48].copy_from_slice(&5u32.to_be_bytes());
        p
    }

    #[test]
    fn finds_the_frame_and_the_sender() {
        let p = packet(47, [0x65, 0x58]);
        let d = decap_ipv6(&p).unwrap();
        assert_eq!(
            d.frame,
            48..62,
            "the payload length ends the frame, not the padding"
        );
        assert_eq!(d.gre.key, Some(5));
        assert_eq!(
            d.outer.src_addr,
            "2001:db8::2".parse::<std::net::Ipv6Addr>().unwrap()
        );
        assert_eq!((d.outer.hop_limit, d.outer.traffic_class), (9, 0xb8));
    }

    #[test]
    fn refuses_what_is_not_ethernet_over_gre() {
        assert_eq!(decap_ipv6(&packet(17, [0x65, 0x58])), Err(Error::NotGre));
        assert_eq!(
            decap_ipv6(&packet(47, [0x08, 0x00])),
            Err(Error::NotEthernet)
        );
        let mut short = packet(47, [0x65, 0x58]);
        short[4..6].copy_from_slice(&20u16.to_be_bytes());
        assert_eq!(decap_ipv6(&short), Err(Error::FrameTruncated));
        for n in 0..48 {
            assert!(decap_ipv6(&packet(47, [0x65, 0x58])[..n]).is_err());
        }
        assert_eq!(decap_ipv6(&[0x45; 60]), Err(Error::BadIpVersion));
    }
}

#[cfg(test)]
mod ecn_tests {
    use super::*;
    use crate::checksum;

    /// Ethernet + a valid 20-byte IPv4 header with TOS `tos`.
    fn ipv4_frame(tos: u8) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 8];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[15] = tos;
        f[16..18].copy_from_slice(&28u16.to_be_bytes());
        f[22] = 64;
        f[23] = 17;
        f[26..30].copy_from_slice(&[198, 51, 100, 2]);
        f[30..34].copy_from_slice(&[198, 51, 100, 1]);
        let sum = checksum::data(&f[14..34]);
        f[24..26].copy_from_slice(&sum.to_be_bytes());
        f
    }

    #[test]
    fn the_outer_header_copies_the_inner_ecn_and_ce_travels_as_ect0() {
        let t = OuterHeader::new(Ipv4Addr::new(192, 0, 2, 2));
        let mut header = [0u8; MAX_OUTER_LEN];
        for (inner, outer) in [
            (0x00, 0x00),
            (0x01, 0x01),
            (0x02, 0x02),
            (0x03, 0x02),
            (0xb8, 0x00),
        ] {
            t.emit(&mut header, &ipv4_frame(inner), 0).unwrap();
            assert_eq!(header[1], outer, "inner TOS {inner:#04x}");
        }
        // The configured TOS keeps its DSCP; a non-IP frame leaves the ECN bits clear.
        let t = OuterHeader { tos: 0xb8, ..t };
        t.emit(&mut header, &ipv4_frame(0x02), 0).unwrap();
        assert_eq!(header[1], 0xba);
        let mut arp = ipv4_frame(0x03);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        t.emit(&mut header, &arp, 0).unwrap();
        assert_eq!(header[1], 0xb8);
    }

    #[test]
    fn an_outer_ce_marks_an_ect_inner_packet_and_condemns_a_not_ect_one() {
        let mut f = ipv4_frame(0x02);
        assert_eq!(decap_ecn(&mut f, 0x03), CongestionMark::Copied);
        assert_eq!(f[15], 0x03);
        assert_eq!(checksum::data(&f[14..34]), 0, "IPv4 checksum still valid");
        let mut f = ipv4_frame(0xb9);
        assert_eq!(decap_ecn(&mut f, 0x03), CongestionMark::Copied);
        assert_eq!(f[15], 0xbb);
        assert_eq!(checksum::data(&f[14..34]), 0);
        assert_eq!(
            decap_ecn(&mut ipv4_frame(0x00), 0x03),
            CongestionMark::NotEct
        );
        assert_eq!(
            decap_ecn(&mut ipv4_frame(0x00), 0x02),
            CongestionMark::Unchanged
        );
        assert_eq!(
            decap_ecn(&mut ipv4_frame(0x03), 0x03),
            CongestionMark::Unchanged
        );
        let mut v6 = vec![0u8; 60];
        v6[12..14].copy_from_slice(&[0x86, 0xdd]);
        v6[14] = 0x60;
        v6[15] = 0x20; // traffic class ECN = ECT(0)
        assert_eq!(decap_ecn(&mut v6, 0x03), CongestionMark::Copied);
        assert_eq!((v6[15] >> 4) & 3, 3);
        assert_eq!(decap_ecn(&mut [0u8; 15], 0x03), CongestionMark::Unchanged);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum;

    const SIZES: [usize; 11] = [0, 1, 2, 13, 14, 63, 64, 1499, 1500, 8999, 9000];

    fn frame(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + 7) as u8).collect()
    }

    fn tunnel(csum: bool, key: bool, seq: bool) -> OuterHeader {
        OuterHeader {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            ttl: 63,
            tos: 0xb8,
            dont_frag: true,
            key: key.then_some(0xfeed_f00d),
            csum,
            seq,
        }
    }

    fn all_tunnels() -> impl Iterator<Item = OuterHeader> {
        (0..8).map(|f| tunnel(f & 1 != 0, f & 2 != 0, f & 4 != 0))
    }

    #[test]
    fn exact_bytes_with_key() {
        let t = OuterHeader {
            key: Some(0x0000_002a),
            ..OuterHeader::new(Ipv4Addr::new(192, 0, 2, 2))
        };
        let payload = [0u8; 14];
        let mut h = [0u8; 28];
        assert_eq!(t.emit(&mut h, &payload, 0), Ok(28));
        let mut want = [
            0x45, 0x00, 0x00, 0x2a, // v4, IHL 5, TOS 0, total 28 + 14 = 42
            0x00, 0x00, 0x40, 0x00, // ident 0, DF
            0x40, 0x2f, 0x00, 0x00, // TTL 64, GRE, checksum below
            0x00, 0x00, 0x00, 0x00, // source 0.0.0.0 for the kernel to fill in
            0xc0, 0x00, 0x02, 0x02, // destination
            0x20, 0x00, 0x65, 0x58, // K, version 0, transparent Ethernet bridging
            0x00, 0x00, 0x00, 0x2a, // key
        ];
        // 4500 + 002a + 0000 + 4000 + 402f + 0000 + 0000 + 0000 + c000 + 0202 = 0x1875b
        // -> 875c -> complement 78a3.
        want[10] = 0x78;
        want[11] = 0xa3;
        assert_eq!(h, want);
        assert_eq!(checksum::data(&h[..20]), 0);
    }

    #[test]
    fn len_per_flags() {
        for t in all_tunnels() {
            let n = usize::from(t.csum) + usize::from(t.key.is_some()) + usize::from(t.seq);
            assert_eq!(t.len(), 24 + 4 * n);
            assert!(t.len() <= MAX_OUTER_LEN);
        }
    }

    #[test]
    fn emit_then_decap_every_flag_and_size() {
        for t in all_tunnels() {
            for &size in &SIZES {
                let inner = frame(size);
                let mut packet = vec![0xa5u8; t.len()];
                let len = t.emit(&mut packet, &inner, 0x0102_0304).unwrap();
                assert_eq!(len, t.len());
                packet.extend_from_slice(&inner);
                check_decap(&t, &packet, 0x0102_0304, &inner);
            }
        }
    }

    #[test]
    fn emit_in_front_then_decap_every_flag_and_size() {
        for t in all_tunnels() {
            for &size in &SIZES {
                let inner = frame(size);
                // Headroom of MAX_OUTER_LEN, as the datapath leaves, and a little tailroom.
                let mut buf = vec![0xa5u8; MAX_OUTER_LEN + size + 3];
                let range = MAX_OUTER_LEN..MAX_OUTER_LEN + size;
                buf[range.clone()].copy_from_slice(&inner);
                let start = t.emit_in_front(&mut buf, range.clone(), 77).unwrap();
                assert_eq!(start, MAX_OUTER_LEN - t.len());
                // The frame was not moved or touched.
                assert_eq!(&buf[range.clone()], &inner[..]);
                check_decap(&t, &buf[start..range.end], 77, &inner);
                // Trailing bytes past the total length are padding: still fine.
                check_decap(&t, &buf[start..], 77, &inner);
            }
        }
    }

    fn check_decap(t: &OuterHeader, packet: &[u8], seq: u32, inner: &[u8]) {
        let what = format!("{t:?} size {}", inner.len());
        let d = decap(packet);
        if inner.len() < ethernet::HEADER_LEN {
            assert_eq!(d, Err(Error::FrameTruncated), "{what}");
            return;
        }
        let d = d.unwrap_or_else(|e| panic!("{what}: {e:?}"));
        assert_eq!(&packet[d.frame.clone()], inner, "{what}");
        assert_eq!(d.outer.src_addr, t.src);
        assert_eq!(d.outer.dst_addr, t.dst);
        assert_eq!(d.outer.protocol, PROTOCOL_GRE);
        assert_eq!(d.outer.ttl, t.ttl);
        assert_eq!(d.outer.tos, t.tos);
        assert_eq!(d.outer.dont_frag, t.dont_frag);
        assert_eq!(d.outer.ident, 0);
        assert_eq!(d.outer.payload_len, t.len() - 20 + inner.len());
        assert_eq!(d.gre, t.gre(seq), "{what}");
    }

    #[test]
    fn emit_errors() {
        let t = tunnel(true, true, true);
        let mut h = [0u8; 36];
        for short in 0..36 {
            assert_eq!(t.emit(&mut h[..short], &[], 0), Err(Error::Truncated));
        }
        // 65535 total is the limit: 36 bytes of header + 65499 of frame.
        let big = vec![0u8; 65_535 - 36];
        assert_eq!(t.emit(&mut h, &big, 0), Ok(36));
        let bigger = vec![0u8; 65_535 - 35];
        assert_eq!(t.emit(&mut h, &bigger, 0), Err(Error::TooBig));

        let mut buf = vec![0u8; 100];
        assert_eq!(t.emit_in_front(&mut buf, 35..60, 0), Err(Error::NoHeadroom));
        assert_eq!(t.emit_in_front(&mut buf, 0..60, 0), Err(Error::NoHeadroom));
        assert_eq!(t.emit_in_front(&mut buf, 36..101, 0), Err(Error::Truncated));
        #[expect(
            clippy::reversed_empty_ranges,
            reason = "the invalid range is the test"
        )]
        let reversed = 60..50;
        assert_eq!(
            t.emit_in_front(&mut buf, reversed, 0),
            Err(Error::Truncated)
        );
        assert_eq!(t.emit_in_front(&mut buf, 36..100, 0), Ok(0));
        assert_eq!(t.emit_in_front(&mut buf, 100..100, 0), Ok(64));
        let mut huge = vec![0u8; 36 + 65_500];
        let end = huge.len();
        assert_eq!(t.emit_in_front(&mut huge, 36..end, 0), Err(Error::TooBig));
    }

    /// A valid packet to break one field at a time.
    fn good_packet() -> Vec<u8> {
        let t = tunnel(true, true, false);
        let inner = frame(60);
        let mut p = vec![0u8; t.len()];
        t.emit(&mut p, &inner, 0).unwrap();
        p.extend_from_slice(&inner);
        p
    }

    fn refill_ip_checksum(p: &mut [u8]) {
        ipv4::Packet::new_unchecked(p).fill_checksum();
    }

    fn refill_gre_checksum(p: &mut [u8]) {
        gre::Packet::new_unchecked(&mut p[20..]).fill_checksum();
    }

    #[test]
    fn decap_rejections() {
        assert!(decap(&good_packet()).is_ok());
        assert_eq!(decap(&[]), Err(Error::Truncated));

        let mut p = good_packet();
        p[0] = 0x65;
        assert_eq!(decap(&p), Err(Error::BadIpVersion));

        let mut p = good_packet();
        p[0] = 0x44;
        assert_eq!(decap(&p), Err(Error::BadIpHeaderLen));

        let mut p = good_packet();
        p[3] += 1;
        refill_ip_checksum(&mut p);
        assert_eq!(decap(&p), Err(Error::BadIpTotalLen));

        let mut p = good_packet();
        p[8] -= 1;
        assert_eq!(decap(&p), Err(Error::BadIpChecksum));

        let mut p = good_packet();
        p[6] |= 0x20;
        refill_ip_checksum(&mut p);
        assert_eq!(decap(&p), Err(Error::Fragmented));

        let mut p = good_packet();
        p[9] = 4;
        refill_ip_checksum(&mut p);
        assert_eq!(decap(&p), Err(Error::NotGre));

        let mut p = good_packet();
        p[21] |= 1;
        assert_eq!(decap(&p), Err(Error::BadVersion));

        let mut p = good_packet();
        p[20] |= 0x40;
        assert_eq!(decap(&p), Err(Error::ReservedFlags));

        let mut p = good_packet();
        let last = p.len() - 1;
        p[last] ^= 0xff;
        assert_eq!(decap(&p), Err(Error::BadChecksum));

        let mut p = good_packet();
        p[22..24].copy_from_slice(&0x0800u16.to_be_bytes());
        refill_gre_checksum(&mut p);
        assert_eq!(decap(&p), Err(Error::NotEthernet));

        // Total length cut to leave 13 bytes of frame.
        let mut p = good_packet();
        let total = 20 + 12 + 13;
        p[2..4].copy_from_slice(&u16::try_from(total).unwrap().to_be_bytes());
        refill_ip_checksum(&mut p);
        p.truncate(total);
        refill_gre_checksum(&mut p);
        assert_eq!(decap(&p), Err(Error::FrameTruncated));

        // Total length cut inside the GRE header.
        let mut p = good_packet();
        p[2..4].copy_from_slice(&30u16.to_be_bytes());
        refill_ip_checksum(&mut p);
        assert_eq!(decap(&p), Err(Error::Truncated));
    }

    #[test]
    fn decap_accepts_outer_options() {
        let p = good_packet();
        // Rebuild with IHL 6 and one 4-byte option word.
        let mut q = Vec::with_capacity(p.len() + 4);
        q.extend_from_slice(&p[..20]);
        q.extend_from_slice(&[1, 1, 1, 0]);
        q.extend_from_slice(&p[20..]);
        q[0] = 0x46;
        let total = u16::try_from(q.len()).unwrap();
        q[2..4].copy_from_slice(&total.to_be_bytes());
        refill_ip_checksum(&mut q);
        let d = decap(&q).unwrap();
        assert_eq!(d.frame, 24 + 12..q.len());
        assert_eq!(&q[d.frame.clone()], &frame(60)[..]);
    }
}
