//! The answer to a frame too big for its tunnel: ICMPv4 "fragmentation needed" (type 3 code 4,
//! RFC 1191) for an IPv4 packet with DF, ICMPv6 "packet too big" (type 2, RFC 8201) for an
//! IPv6 one, written as an Ethernet frame back to the sender, so path MTU discovery works for
//! traffic that MSS clamping does not cover (UDP with DF, IPv6).
//!
//! A switch has no address of its own on the overlay, so the error comes from the address the
//! packet was sent to: it reaches the sender by the way its packets came, passes reverse-path
//! filters, and senders accept it because they match the quoted header, not the source. VLAN
//! tag and MACs are those of the frame, reversed.
//!
//! Never about an ICMP error, a fragment other than the first, a multicast or broadcast
//! source, or an unspecified one (RFC 1122 3.2.2, RFC 4443 2.4).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::checksum;

mod field {
    use core::ops::Range;
    pub const DST_MAC: Range<usize> = 0..6;
    pub const SRC_MAC: Range<usize> = 6..12;
    pub const IPV4_SRC: Range<usize> = 12..16;
    pub const IPV4_DST: Range<usize> = 16..20;
    pub const IPV4_FRAG: Range<usize> = 6..8;
    pub const IPV4_PROTOCOL: usize = 9;
    pub const IPV6_NEXT_HEADER: usize = 6;
    pub const IPV6_SRC: Range<usize> = 8..24;
    pub const IPV6_DST: Range<usize> = 24..40;
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const PROTOCOL_ICMP: u8 = 1;
const PROTOCOL_ICMPV6: u8 = 58;
const DF: u16 = 0x4000;
/// RFC 1812 4.3.2.3: an ICMPv4 error stays within 576 bytes.
const ICMPV4_MAX: usize = 576;
/// RFC 4443 2.4: an ICMPv6 error stays within the minimum IPv6 MTU.
const ICMPV6_MAX: usize = 1280;
/// The largest reply frame this writes: a tag, an IPv6 error.
pub const MAX_REPLY_LEN: usize = 18 + ICMPV6_MAX;

/// Writes into `out` the ICMP error telling the sender of `frame` (Ethernet, IPv4 with DF or
/// IPv6) that at most `mtu` bytes of IP packet fit; returns the reply's length, or None when no
/// error is due (see the module doc) or `out` is shorter than [`MAX_REPLY_LEN`].
pub fn reply(frame: &[u8], mtu: u16, out: &mut [u8]) -> Option<usize> {
    if frame.len() < 14 || out.len() < MAX_REPLY_LEN {
        return None;
    }
    let src_mac = &frame[field::SRC_MAC];
    if src_mac[0] & 1 != 0 {
        return None;
    }
    let (ethertype, l3) = crate::vlan::payload_type(frame)?;
    let ip = &frame[l3..];
    // The reply's Ethernet header: MACs reversed, the same tag.
    out[field::DST_MAC].copy_from_slice(src_mac);
    out[field::SRC_MAC].copy_from_slice(&frame[field::DST_MAC]);
    out[12..l3].copy_from_slice(&frame[12..l3]);
    let body = &mut out[l3..];
    let len = match ethertype {
        ETHERTYPE_IPV4 => ipv4(ip, mtu, body)?,
        ETHERTYPE_IPV6 => ipv6(ip, mtu, body)?,
        _ => return None,
    };
    Some(l3 + len)
}

fn ipv4(ip: &[u8], mtu: u16, out: &mut [u8]) -> Option<usize> {
    if ip.len() < 20 || ip[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let frag = u16::from_be_bytes([ip[field::IPV4_FRAG.start], ip[field::IPV4_FRAG.start + 1]]);
    let src = Ipv4Addr::from(<[u8; 4]>::try_from(&ip[field::IPV4_SRC]).ok()?);
    if ihl < 20
        || ip.len() < ihl
        || frag & DF == 0
        || frag & 0x1fff != 0
        || src.is_multicast()
        || src.is_broadcast()
        || src.is_unspecified()
    {
        return None;
    }
    // An ICMP error (types 3, 4, 5, 11, 12) is never answered with another.
    if ip[field::IPV4_PROTOCOL] == PROTOCOL_ICMP
        && ip
            .get(ihl)
            .is_some_and(|t| matches!(t, 3 | 4 | 5 | 11 | 12))
    {
        return None;
    }
    let quoted = ip.len().min(ICMPV4_MAX - 20 - 8);
    let total = 20 + 8 + quoted;
    let (header, icmp) = out.split_at_mut(20);
    header[..12].copy_from_slice(&[0x45, 0, 0, 0, 0, 0, 0, 0, 64, PROTOCOL_ICMP, 0, 0]);
    header[12..16].copy_from_slice(&ip[field::IPV4_DST]);
    header[16..20].copy_from_slice(&ip[field::IPV4_SRC]);
    header[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    let c = checksum::data(header);
    header[10..12].copy_from_slice(&c.to_be_bytes());
    icmp[..8].copy_from_slice(&[3, 4, 0, 0, 0, 0, 0, 0]);
    icmp[6..8].copy_from_slice(&mtu.to_be_bytes());
    icmp[8..8 + quoted].copy_from_slice(&ip[..quoted]);
    let c = checksum::data(&icmp[..8 + quoted]);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    Some(total)
}

fn ipv6(ip: &[u8], mtu: u16, out: &mut [u8]) -> Option<usize> {
    if ip.len() < 40 || ip[0] >> 4 != 6 {
        return None;
    }
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[field::IPV6_SRC]).ok()?);
    if src.is_multicast() || src.is_unspecified() {
        return None;
    }
    // ICMPv6 errors have types below 128.
    if ip[field::IPV6_NEXT_HEADER] == PROTOCOL_ICMPV6 && ip.get(40).is_some_and(|t| *t < 128) {
        return None;
    }
    let quoted = ip.len().min(ICMPV6_MAX - 40 - 8);
    let payload = 8 + quoted;
    out[..8].copy_from_slice(&[0x60, 0, 0, 0, 0, 0, PROTOCOL_ICMPV6, 64]);
    out[4..6].copy_from_slice(&(payload as u16).to_be_bytes());
    out[8..24].copy_from_slice(&ip[field::IPV6_DST]);
    out[24..40].copy_from_slice(&ip[field::IPV6_SRC]);
    let (header, icmp) = out.split_at_mut(40);
    icmp[..8].copy_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0]);
    icmp[4..8].copy_from_slice(&u32::from(mtu).to_be_bytes());
    icmp[8..8 + quoted].copy_from_slice(&ip[..quoted]);
    // The pseudo-header: source, destination, upper-layer length, next header.
    let mut pseudo = [0u8; 40];
    pseudo[..32].copy_from_slice(&header[8..40]);
    pseudo[32..36].copy_from_slice(&(payload as u32).to_be_bytes());
    pseudo[39] = PROTOCOL_ICMPV6;
    let c = checksum::fold(checksum::sum(&icmp[..payload], checksum::sum(&pseudo, 0)));
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    Some(40 + payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
    const B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

    /// A 1500-byte UDP datagram with DF from 198.51.100.1 to 198.51.100.2, tagged if asked.
    fn udp4(tag: bool, df: bool) -> Vec<u8> {
        let mut f = [B, A].concat();
        if tag {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 100]);
        }
        f.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        let mut ip = vec![
            0x45,
            0,
            0x05,
            0xdc,
            0,
            1,
            if df { 0x40 } else { 0 },
            0,
            64,
            17,
            0,
            0,
        ];
        ip.extend_from_slice(&[198, 51, 100, 1, 198, 51, 100, 2]);
        let c = checksum::data(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        ip.resize(1500, 0x55);
        f.extend_from_slice(&ip);
        f
    }

    fn udp6() -> Vec<u8> {
        let mut f = [B, A].concat();
        f.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        let mut ip = vec![0x60, 0, 0, 0, 0x05, 0xb4, 17, 64];
        ip.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        ip.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        ip.resize(1500, 0x66);
        f.extend_from_slice(&ip);
        f
    }

    #[test]
    fn an_ipv4_datagram_with_df_gets_fragmentation_needed_from_its_destination() {
        for tag in [false, true] {
            let f = udp4(tag, true);
            let mut out = [0u8; MAX_REPLY_LEN];
            let n = reply(&f, 1458, &mut out).expect("an error is due");
            let r = &out[..n];
            let l3 = if tag { 18 } else { 14 };
            assert_eq!(n, l3 + ICMPV4_MAX, "576 bytes of IP");
            assert_eq!((&r[0..6], &r[6..12]), (&A[..], &B[..]), "MACs reversed");
            assert_eq!(&r[12..l3], &f[12..l3], "same tag and ethertype");
            let ip = &r[l3..];
            assert_eq!(checksum::data(&ip[..20]), 0, "IPv4 header checksum");
            assert_eq!(&ip[12..16], &[198, 51, 100, 2], "from the destination");
            assert_eq!(&ip[16..20], &[198, 51, 100, 1], "to the sender");
            let icmp = &ip[20..];
            assert_eq!((icmp[0], icmp[1]), (3, 4));
            assert_eq!(u16::from_be_bytes([icmp[6], icmp[7]]), 1458);
            assert_eq!(checksum::data(icmp), 0, "ICMP checksum");
            assert_eq!(&icmp[8..28], &f[l3..l3 + 20], "the original header quoted");
        }
    }

    #[test]
    fn an_ipv6_packet_gets_packet_too_big() {
        let f = udp6();
        let mut out = [0u8; MAX_REPLY_LEN];
        let n = reply(&f, 1438, &mut out).expect("an error is due");
        assert_eq!(n, 14 + ICMPV6_MAX);
        let ip = &out[14..n];
        assert_eq!(&ip[8..24], &f[14 + 24..14 + 40], "from the destination");
        let icmp = &ip[40..];
        assert_eq!((icmp[0], icmp[1]), (2, 0));
        assert_eq!(
            u32::from_be_bytes([icmp[4], icmp[5], icmp[6], icmp[7]]),
            1438
        );
        let mut pseudo = ip[8..40].to_vec();
        pseudo.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, 58]);
        assert_eq!(
            checksum::fold(checksum::sum(icmp, checksum::sum(&pseudo, 0))),
            0
        );
    }

    #[test]
    fn no_error_without_df_about_an_error_or_to_a_group() {
        let mut out = [0u8; MAX_REPLY_LEN];
        assert_eq!(
            reply(&udp4(false, false), 1458, &mut out),
            None,
            "no DF: the transport fragments"
        );
        let mut icmp_error = udp4(false, true);
        icmp_error[14 + 9] = PROTOCOL_ICMP;
        icmp_error[14 + 20] = 3;
        assert_eq!(reply(&icmp_error, 1458, &mut out), None);
        let mut group = udp4(false, true);
        group[6] |= 1;
        assert_eq!(reply(&group, 1458, &mut out), None);
        assert_eq!(
            reply(&udp4(false, true), 1458, &mut [0u8; 100]),
            None,
            "short buffer"
        );
    }

    #[test]
    fn no_prefix_of_a_frame_panics() {
        let mut out = [0u8; MAX_REPLY_LEN];
        for f in [udp4(true, true), udp6()] {
            for n in 0..80 {
                let _ = reply(&f[..n], 1000, &mut out);
            }
        }
    }
}
