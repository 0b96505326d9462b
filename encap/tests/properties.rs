//! Properties over arbitrary input: nothing panics on received bytes, every truncation of a
//! valid packet is rejected, emit then parse gives back what was emitted, and the checksum
//! agrees with a plain RFC 1071 implementation.

use std::net::{Ipv4Addr, Ipv6Addr};

use encap::ethernet::{self, EtherType, Frame};
use encap::gre::{self, GreRepr};
use encap::ipv4::{self, Ipv4Repr};
use encap::ipv6::{self, Ipv6Repr};
use encap::tunnel::MAX_OUTER_LEN;
use encap::{Error, OuterHeader, checksum, decap, decap_ipv6};
use proptest::prelude::*;

/// RFC 1071 the slow, obvious way, independent of the crate's word-at-a-time code: sum
/// big-endian 16-bit words in a u64, fold at the end.
fn reference_checksum(chunks: &[&[u8]]) -> u16 {
    let all: Vec<u8> = chunks.concat();
    let mut total: u64 = 0;
    for pair in all.chunks(2) {
        let word = (u64::from(pair[0]) << 8) | pair.get(1).map_or(0, |&b| u64::from(b));
        total += word;
    }
    while total > 0xffff {
        total = (total >> 16) + (total & 0xffff);
    }
    !(total as u16)
}

fn any_outer() -> impl Strategy<Value = OuterHeader> {
    (
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
        any::<u8>(),
        any::<u8>(),
        any::<bool>(),
        any::<Option<u32>>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(src, dst, ttl, tos, dont_frag, key, csum, seq)| OuterHeader {
                src: Ipv4Addr::from(src),
                dst: Ipv4Addr::from(dst),
                ttl,
                tos,
                dont_frag,
                key,
                csum,
                seq,
            },
        )
}

fn any_gre() -> impl Strategy<Value = GreRepr> {
    (
        any::<u16>(),
        any::<Option<u32>>(),
        any::<Option<u32>>(),
        any::<bool>(),
    )
        .prop_map(|(protocol, key, seq, csum)| GreRepr {
            protocol: EtherType::from(protocol),
            key,
            seq,
            csum,
        })
}

/// A valid GRE-in-IPv4 packet carrying `frame`.
fn build(outer: &OuterHeader, frame: &[u8], seq: u32) -> Vec<u8> {
    let mut packet = vec![0u8; outer.len()];
    outer.emit(&mut packet, frame, seq).unwrap();
    packet.extend_from_slice(frame);
    packet
}

fn any_ipv6_outer() -> impl Strategy<Value = Ipv6Repr> {
    (
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<u8>(),
        any::<u8>(),
        0u32..(1 << 20),
    )
        .prop_map(
            |(src, dst, hop_limit, traffic_class, flow_label)| Ipv6Repr {
                src_addr: Ipv6Addr::from(src),
                dst_addr: Ipv6Addr::from(dst),
                next_header: ipv4::PROTOCOL_GRE,
                payload_len: 0,
                hop_limit,
                traffic_class,
                flow_label,
            },
        )
}

/// A valid GRE-over-IPv6 packet carrying `frame`, as the raw IPv6 socket hands it to grebe
/// once the header is rebuilt in front: outer IPv6, the GRE header of `gre`, the frame.
fn build6(outer: &Ipv6Repr, gre: &GreRepr, frame: &[u8]) -> Vec<u8> {
    let gre_len = gre.header_len();
    let mut packet = vec![0u8; ipv6::HEADER_LEN + gre_len + frame.len()];
    packet[ipv6::HEADER_LEN + gre_len..].copy_from_slice(frame);
    gre.emit(&mut gre::Packet::new_unchecked(
        &mut packet[ipv6::HEADER_LEN..],
    ));
    let outer = Ipv6Repr {
        payload_len: gre_len + frame.len(),
        ..*outer
    };
    outer.emit(&mut ipv6::Packet::new_unchecked(&mut packet[..]));
    packet
}

/// An Ethernet-carrying GRE header: any key, sequence number and checksum.
fn any_teb_gre() -> impl Strategy<Value = GreRepr> {
    any_gre().prop_map(|g| GreRepr {
        protocol: EtherType::TransparentEthernetBridging,
        ..g
    })
}

/// Calls every getter of each view that `check_len` accepts: none may panic.
fn touch_everything(bytes: &[u8]) {
    if let Ok(p) = ipv4::Packet::new_checked(bytes) {
        let _ = (
            p.version(),
            p.header_len(),
            p.tos(),
            p.total_len(),
            p.ident(),
        );
        let _ = (
            p.dont_frag(),
            p.more_frags(),
            p.frag_offset(),
            p.ttl(),
            p.protocol(),
        );
        let _ = (
            p.checksum(),
            p.src_addr(),
            p.dst_addr(),
            p.verify_checksum(),
        );
        let _ = (p.options(), p.payload());
    }
    let _ = Ipv4Repr::parse(&ipv4::Packet::new_unchecked(bytes));
    if let Ok(p) = ipv6::Packet::new_checked(bytes) {
        let _ = (
            p.version(),
            p.traffic_class(),
            p.flow_label(),
            p.payload_len(),
        );
        let _ = (p.next_header(), p.hop_limit(), p.src_addr(), p.dst_addr());
        let _ = p.payload();
    }
    let _ = Ipv6Repr::parse(&ipv6::Packet::new_unchecked(bytes));
    if let Ok(p) = gre::Packet::new_checked(bytes) {
        let _ = (
            p.csum_present(),
            p.routing_present(),
            p.key_present(),
            p.seq_present(),
        );
        let _ = (
            p.strict_source_route(),
            p.recursion_control(),
            p.version(),
            p.protocol(),
        );
        let _ = (
            p.checksum(),
            p.reserved1(),
            p.key(),
            p.sequence(),
            p.header_len(),
        );
        let _ = (p.payload(), p.verify_checksum());
    }
    let _ = GreRepr::parse(&gre::Packet::new_unchecked(bytes));
    if let Ok(f) = Frame::new_checked(bytes) {
        let _ = (
            f.dst_addr(),
            f.src_addr(),
            f.ethertype(),
            f.vlan_id(),
            f.payload(),
        );
    }
    if let Ok(d) = decap(bytes) {
        let frame = &bytes[d.frame.clone()];
        assert!(frame.len() >= ethernet::HEADER_LEN);
        assert_eq!(d.gre.protocol, EtherType::TransparentEthernetBridging);
        assert_eq!(d.outer.protocol, ipv4::PROTOCOL_GRE);
    }
    if let Ok(d) = decap_ipv6(bytes) {
        let frame = &bytes[d.frame.clone()];
        assert!(frame.len() >= ethernet::HEADER_LEN);
        assert_eq!(d.gre.protocol, EtherType::TransparentEthernetBridging);
        assert_eq!(d.outer.next_header, ipv4::PROTOCOL_GRE);
        assert!(d.frame.end == ipv6::HEADER_LEN + d.outer.payload_len);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        touch_everything(&bytes);
    }

    /// Random bytes rarely get past the IPv4 version; mutating a valid packet (and optionally
    /// repairing its checksums) reaches the GRE and frame checks.
    #[test]
    fn mutated_packets_never_panic(
        outer in any_outer(),
        frame in proptest::collection::vec(any::<u8>(), 0..100),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        repair in any::<bool>(),
    ) {
        let mut packet = build(&outer, &frame, 1);
        for (at, value) in edits {
            let i = at.index(packet.len());
            packet[i] = value;
        }
        if repair {
            let header_ok = ipv4::Packet::new_checked(&packet[..]).is_ok();
            if header_ok {
                let mut ip = ipv4::Packet::new_unchecked(&mut packet[..]);
                ip.fill_checksum();
                if gre::Packet::new_checked(ip.payload_mut()).is_ok() {
                    gre::Packet::new_unchecked(ip.payload_mut()).fill_checksum();
                }
            }
        }
        touch_everything(&packet);
        // The GRE part on its own too.
        touch_everything(packet.get(20..).unwrap_or(&[]));
    }

    /// The same for GRE over IPv6: mutations of a valid packet reach decap_ipv6's GRE and
    /// frame checks, and nothing panics.
    #[test]
    fn mutated_ipv6_packets_never_panic(
        outer in any_ipv6_outer(),
        gre in any_teb_gre(),
        frame in proptest::collection::vec(any::<u8>(), 0..100),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut packet = build6(&outer, &gre, &frame);
        for (at, value) in edits {
            let i = at.index(packet.len());
            packet[i] = value;
        }
        touch_everything(&packet);
        touch_everything(packet.get(40..).unwrap_or(&[]));
    }

    #[test]
    fn ipv6_tunnel_round_trip(
        outer in any_ipv6_outer(),
        gre in any_teb_gre(),
        frame in proptest::collection::vec(any::<u8>(), 14..1600),
        padding in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let mut packet = build6(&outer, &gre, &frame);
        let len = packet.len();
        // Bytes after the payload length (a link layer's padding) are not the frame's.
        packet.extend_from_slice(&padding);
        let d = decap_ipv6(&packet).unwrap();
        prop_assert_eq!(&packet[d.frame.clone()], &frame[..]);
        prop_assert_eq!(d.frame.end, len);
        prop_assert_eq!(d.gre, gre);
        prop_assert_eq!(d.outer.src_addr, outer.src_addr);
        prop_assert_eq!(d.outer.dst_addr, outer.dst_addr);
        prop_assert_eq!(d.outer.hop_limit, outer.hop_limit);
        prop_assert_eq!(d.outer.traffic_class, outer.traffic_class);
        prop_assert_eq!(d.outer.flow_label, outer.flow_label);
        if gre.csum {
            prop_assert_eq!(reference_checksum(&[&packet[40..len]]), 0);
        }
    }

    #[test]
    fn every_ipv6_truncation_is_rejected(
        outer in any_ipv6_outer(),
        gre in any_teb_gre(),
        frame in proptest::collection::vec(any::<u8>(), 14..80),
    ) {
        let packet = build6(&outer, &gre, &frame);
        prop_assert!(decap_ipv6(&packet).is_ok());
        for len in 0..packet.len() {
            prop_assert!(decap_ipv6(&packet[..len]).is_err(), "len {}", len);
        }
        // A payload length that cuts into the frame's Ethernet header is refused too.
        let gre_len = gre.header_len();
        for cut in 1..=ethernet::HEADER_LEN.min(frame.len()) {
            let mut short = packet.clone();
            let payload_len = (gre_len + ethernet::HEADER_LEN - cut) as u16;
            short[4..6].copy_from_slice(&payload_len.to_be_bytes());
            let r = decap_ipv6(&short);
            if gre.csum {
                // The checksum covers the shortened payload: usually wrong now, found first.
                prop_assert!(matches!(r, Err(Error::BadChecksum | Error::FrameTruncated)), "{:?}", r);
            } else {
                prop_assert_eq!(r, Err(Error::FrameTruncated));
            }
        }
    }

    #[test]
    fn every_truncation_is_rejected(
        outer in any_outer(),
        frame in proptest::collection::vec(any::<u8>(), 14..80),
    ) {
        let packet = build(&outer, &frame, 9);
        prop_assert!(decap(&packet).is_ok());
        for len in 0..packet.len() {
            let r = decap(&packet[..len]);
            let expected = if len < ipv4::HEADER_LEN { Error::Truncated } else { Error::BadIpTotalLen };
            prop_assert_eq!(r, Err(expected), "len {}", len);
        }
        // The GRE header alone, cut anywhere inside, is Truncated.
        let gre_len = outer.len() - ipv4::HEADER_LEN;
        for len in 0..gre_len {
            let p = gre::Packet::new_unchecked(&packet[20..20 + len]);
            prop_assert_eq!(GreRepr::parse(&p), Err(Error::Truncated));
        }
    }

    #[test]
    fn gre_emit_parse_round_trip(
        repr in any_gre(),
        payload in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let len = repr.header_len();
        prop_assert!(len <= gre::MAX_HEADER_LEN);
        let mut buf = vec![0x5au8; len + payload.len()];
        buf[len..].copy_from_slice(&payload);
        repr.emit(&mut gre::Packet::new_unchecked(&mut buf[..]));
        let view = gre::Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(view.header_len(), len);
        prop_assert_eq!(view.payload(), &payload[..]);
        prop_assert_eq!(GreRepr::parse(&view), Ok(repr));

        // The scatter-gather form writes the same header.
        let mut header = [0xa5u8; gre::MAX_HEADER_LEN];
        repr.emit_header(&mut header, &payload);
        prop_assert_eq!(&header[..len], &buf[..len]);
    }

    #[test]
    fn ipv4_emit_parse_round_trip(
        src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(), protocol in any::<u8>(),
        payload_len in 0usize..300, ttl in any::<u8>(), tos in any::<u8>(),
        dont_frag in any::<bool>(), ident in any::<u16>(),
    ) {
        let repr = Ipv4Repr {
            src_addr: Ipv4Addr::from(src), dst_addr: Ipv4Addr::from(dst), protocol,
            payload_len, ttl, tos, dont_frag, ident,
        };
        let mut buf = vec![0xa5u8; 20 + payload_len];
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut buf[..]));
        let view = ipv4::Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(Ipv4Repr::parse(&view), Ok(repr));
        prop_assert_eq!(reference_checksum(&[&buf[..20]]), 0);
    }

    #[test]
    fn ipv6_emit_parse_round_trip(
        src in any::<[u8; 16]>(), dst in any::<[u8; 16]>(), next_header in any::<u8>(),
        payload_len in 0usize..300, hop_limit in any::<u8>(), traffic_class in any::<u8>(),
        flow_label in 0u32..(1 << 20),
    ) {
        let repr = Ipv6Repr {
            src_addr: Ipv6Addr::from(src), dst_addr: Ipv6Addr::from(dst), next_header,
            payload_len, hop_limit, traffic_class, flow_label,
        };
        let mut buf = vec![0xa5u8; 40 + payload_len];
        repr.emit(&mut ipv6::Packet::new_unchecked(&mut buf[..]));
        let view = ipv6::Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(Ipv6Repr::parse(&view), Ok(repr));
        // Every truncation is refused, never read past.
        for len in 0..buf.len() {
            prop_assert!(Ipv6Repr::parse(&ipv6::Packet::new_unchecked(&buf[..len])).is_err());
        }
    }

    #[test]
    fn tunnel_round_trip(
        outer in any_outer(),
        frame in proptest::collection::vec(any::<u8>(), 14..1600),
        seq in any::<u32>(),
        extra_headroom in 0usize..8,
    ) {
        let start = MAX_OUTER_LEN + extra_headroom;
        let mut buf = vec![0u8; start + frame.len()];
        buf[start..].copy_from_slice(&frame);
        let end = buf.len();
        let at = outer.emit_in_front(&mut buf, start..end, seq).unwrap();
        prop_assert_eq!(at, start - outer.len());
        let packet = &buf[at..];
        prop_assert_eq!(packet, &build(&outer, &frame, seq)[..]);
        let d = decap(packet).unwrap();
        prop_assert_eq!(&packet[d.frame.clone()], &frame[..]);
        prop_assert_eq!(d.gre, outer.gre(seq));
        prop_assert_eq!(d.outer.src_addr, outer.src);
        prop_assert_eq!(d.outer.dst_addr, outer.dst);
        if outer.csum {
            // The GRE checksum verifies independently.
            prop_assert_eq!(reference_checksum(&[&packet[20..]]), 0);
        }
    }

    #[test]
    fn checksum_matches_reference(
        data in proptest::collection::vec(any::<u8>(), 0..3000),
        split in any::<prop::sample::Index>(),
    ) {
        prop_assert_eq!(checksum::data(&data), reference_checksum(&[&data]));
        // Chained over two slices, the first even (only the last may be odd).
        let at = split.index(data.len() + 1) & !1;
        let (a, b) = data.split_at(at);
        prop_assert_eq!(checksum::fold(checksum::sum(b, checksum::sum(a, 0))), reference_checksum(&[a, b]));
    }

    #[test]
    fn checksum_of_all_ones_data(len in 0usize..2000) {
        // Long runs of 0xff maximise carries.
        let data = vec![0xffu8; len];
        prop_assert_eq!(checksum::data(&data), reference_checksum(&[&data]));
    }
}
