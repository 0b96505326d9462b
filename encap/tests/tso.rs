//! Software TCP segmentation: segments carry the whole payload, in order, with headers a
//! receiver accepts (IPv4 and TCP checksums checked by an independent implementation).

use encap::tso::Segmenter;
use encap::vnet::{F_NEEDS_CSUM, VnetHeader};
use proptest::prelude::*;

/// RFC 1071, one 16-bit word at a time: deliberately not the crate's implementation.
fn reference_sum(chunks: &[&[u8]]) -> u16 {
    let bytes: Vec<u8> = chunks.concat();
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet + IPv4 + TCP (with 12 bytes of options) frame carrying `payload`, as a TCP
/// sender behind a TAP with TSO hands it over: one big frame and a GSO header.
fn gso_frame_v4(payload: &[u8], mss: u16, flags: u8) -> (Vec<u8>, VnetHeader) {
    let mut f = vec![0u8; 14 + 20 + 32];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    let total = (20 + 32 + payload.len()) as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
    ip[6] = 0x40; // DF
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&[198, 51, 100, 1]);
    ip[16..20].copy_from_slice(&[198, 51, 100, 2]);
    let tcp = &mut f[34..66];
    tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&5201u16.to_be_bytes());
    tcp[4..8].copy_from_slice(&0xffff_fff0u32.to_be_bytes()); // wraps during the frame
    tcp[8..12].copy_from_slice(&7u32.to_be_bytes());
    tcp[12] = 8 << 4;
    tcp[13] = flags;
    tcp[14..16].copy_from_slice(&502u16.to_be_bytes());
    tcp[20..32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    f.extend_from_slice(payload);
    let vnet = VnetHeader {
        flags: F_NEEDS_CSUM,
        gso_type: 1,
        hdr_len: 66,
        gso_size: mss,
        csum_start: 34,
        csum_offset: 16,
    };
    (f, vnet)
}

fn segment_all(frame: &[u8], vnet: &VnetHeader) -> Vec<Vec<u8>> {
    let mut s = Segmenter::new(frame, vnet).unwrap();
    let n = s.segments();
    let mut out = Vec::new();
    let mut headers = [0u8; encap::tso::MAX_SEGMENT_HEADER_LEN];
    while let Some(range) = s.next_segment(&mut headers) {
        let mut seg = headers[..s.header_len()].to_vec();
        seg.extend_from_slice(&frame[range]);
        out.push(seg);
    }
    assert_eq!(out.len(), n);
    out
}

fn check_v4_segments(frame: &[u8], segs: &[Vec<u8>], mss: usize, flags: u8) {
    let payload = &frame[66..];
    let mut rebuilt = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        let ip = &seg[14..34];
        assert_eq!(
            reference_sum(&[ip]),
            0,
            "IPv4 header checksum of segment {i}"
        );
        assert_eq!(u16::from_be_bytes([ip[2], ip[3]]) as usize, seg.len() - 14);
        assert_eq!(
            u16::from_be_bytes([ip[4], ip[5]]),
            0x1234u16.wrapping_add(i as u16)
        );
        let tcp = &seg[34..];
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&ip[12..20]);
        pseudo.extend_from_slice(&[0, 6]);
        pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
        assert_eq!(
            reference_sum(&[&pseudo, tcp]),
            0,
            "TCP checksum of segment {i}"
        );
        let seq = u32::from_be_bytes(tcp[4..8].try_into().unwrap());
        assert_eq!(seq, 0xffff_fff0u32.wrapping_add((i * mss) as u32));
        let last = i == segs.len() - 1;
        let want_flags = if last { flags } else { flags & !0x09 };
        let want_flags = if i > 0 {
            want_flags & !0x80
        } else {
            want_flags
        };
        assert_eq!(tcp[13], want_flags, "flags of segment {i}");
        assert!(tcp.len() - 32 <= mss);
        rebuilt.extend_from_slice(&tcp[32..]);
    }
    assert_eq!(rebuilt, payload);
}

#[test]
fn a_64k_frame_becomes_mss_sized_segments() {
    let payload: Vec<u8> = (0..65_000u32).map(|i| (i * 13 + 7) as u8).collect();
    let flags = 0x18 | 0x01 | 0x80; // ACK PSH FIN CWR
    let (frame, vnet) = gso_frame_v4(&payload, 1410, flags);
    let segs = segment_all(&frame, &vnet);
    assert_eq!(segs.len(), 65_000usize.div_ceil(1410));
    check_v4_segments(&frame, &segs, 1410, flags);
}

#[test]
fn a_frame_without_payload_is_one_segment() {
    let (frame, vnet) = gso_frame_v4(&[], 1410, 0x10);
    let segs = segment_all(&frame, &vnet);
    assert_eq!(segs.len(), 1);
    check_v4_segments(&frame, &segs, 1410, 0x10);
}

#[test]
fn what_is_not_tcp_over_ip_is_refused() {
    let (mut frame, vnet) = gso_frame_v4(&[1; 3000], 1400, 0x10);
    let zero_mss = VnetHeader {
        gso_size: 0,
        ..vnet
    };
    assert!(Segmenter::new(&frame, &zero_mss).is_err());
    let v6_claim = VnetHeader {
        gso_type: 4,
        ..vnet
    };
    assert!(Segmenter::new(&frame, &v6_claim).is_err());
    let udp = VnetHeader {
        gso_type: 3,
        ..vnet
    };
    assert!(Segmenter::new(&frame, &udp).is_err());
    frame[14 + 9] = 17;
    assert!(Segmenter::new(&frame, &vnet).is_err());
    assert!(Segmenter::new(&frame[..40], &vnet).is_err());
}

#[test]
fn ipv6_segments_carry_the_right_payload_length_and_checksum() {
    let payload: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    let mut f = vec![0u8; 14 + 40 + 20];
    f[12..14].copy_from_slice(&[0x86, 0xdd]);
    f[14] = 0x60;
    f[14 + 6] = 6;
    f[14 + 7] = 64;
    f[14 + 8..14 + 24]
        .copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    f[14 + 24..14 + 40]
        .copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    f[54 + 12] = 5 << 4;
    f[54 + 13] = 0x10;
    f.extend_from_slice(&payload);
    let vnet = VnetHeader {
        flags: F_NEEDS_CSUM,
        gso_type: 4,
        hdr_len: 74,
        gso_size: 1200,
        csum_start: 54,
        csum_offset: 16,
    };
    let segs = segment_all(&f, &vnet);
    assert_eq!(segs.len(), 5);
    let mut rebuilt = Vec::new();
    for seg in &segs {
        let tcp = &seg[54..];
        assert_eq!(u16::from_be_bytes([seg[18], seg[19]]) as usize, tcp.len());
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&seg[22..54]);
        pseudo.extend_from_slice(&(tcp.len() as u32).to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, 6]);
        assert_eq!(reference_sum(&[&pseudo, tcp]), 0);
        rebuilt.extend_from_slice(&tcp[20..]);
    }
    assert_eq!(rebuilt, payload);
}

proptest! {
    #[test]
    fn segmentation_never_panics_and_keeps_the_payload(len in 0usize..20_000, mss in 1u16..3000, flags: u8) {
        let payload: Vec<u8> = (0..len).map(|i| (i * 31) as u8).collect();
        let (frame, vnet) = gso_frame_v4(&payload, mss, flags);
        let segs = segment_all(&frame, &vnet);
        check_v4_segments(&frame, &segs, usize::from(mss), flags);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), gso_type in 0u8..6, mss: u16, hdr_len: u16) {
        let vnet = VnetHeader { flags: F_NEEDS_CSUM, gso_type, hdr_len, gso_size: mss, csum_start: 34, csum_offset: 16 };
        if let Ok(mut s) = Segmenter::new(&bytes, &vnet) {
            let mut headers = [0u8; encap::tso::MAX_SEGMENT_HEADER_LEN];
            let mut n = 0;
            while s.next_segment(&mut headers).is_some() {
                n += 1;
                prop_assert!(n <= bytes.len() + 1);
            }
        }
    }
}

/// Coalescing the segments of a TSO frame gives back that frame: same payload, one IPv4 header
/// with the whole length, a partial TCP checksum that completes to a valid one.
fn coalesce(segs: &[Vec<u8>]) -> (Vec<u8>, VnetHeader, usize) {
    use encap::gro;
    let first = gro::tcp4_segment(&segs[0]).expect("first segment coalescible");
    let mut merged = segs[0].clone();
    let mut end_seq = first.seq.wrapping_add(first.payload_len as u32);
    let mut psh = first.has_psh();
    let mut n = 1;
    for seg in &segs[1..] {
        let facts = gro::tcp4_segment(seg).expect("segment coalescible");
        if psh || !gro::can_append(&merged, &first, end_seq, seg, &facts) {
            break;
        }
        merged.extend_from_slice(&seg[facts.hdr_len..]);
        end_seq = end_seq.wrapping_add(facts.payload_len as u32);
        psh = facts.has_psh();
        n += 1;
    }
    let vnet = gro::finish(&mut merged, &first, psh);
    (merged, vnet, n)
}

#[test]
fn coalescing_segments_rebuilds_the_large_frame() {
    let payload: Vec<u8> = (0..30_001u32).map(|i| (i * 7 + 3) as u8).collect();
    let (frame, vnet) = gso_frame_v4(&payload, 1410, 0x18);
    let segs = segment_all(&frame, &vnet);
    let (mut merged, out, n) = coalesce(&segs);
    assert_eq!(n, segs.len());
    assert_eq!(merged.len(), frame.len());
    assert_eq!(&merged[66..], &payload[..]);
    assert_eq!(out.gso_size, 1410);
    assert_eq!(out.hdr_len, 66);
    assert_eq!(merged[34 + 13], 0x18, "PSH of the last segment kept");
    // The IPv4 header is valid again; the TCP checksum completes to one a receiver accepts.
    assert_eq!(reference_sum(&[&merged[14..34]]), 0);
    encap::vnet::complete_checksum(&mut merged[14..], 20, 16).unwrap();
    let tcp = &merged[34..];
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&merged[26..34]);
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
    assert_eq!(reference_sum(&[&pseudo, tcp]), 0);
}

#[test]
fn coalescing_stops_at_a_gap_a_bad_checksum_or_a_different_flow() {
    use encap::gro;
    let payload: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    let (frame, vnet) = gso_frame_v4(&payload, 1000, 0x10);
    let segs = segment_all(&frame, &vnet);
    let first = gro::tcp4_segment(&segs[0]).unwrap();
    let end = first.seq.wrapping_add(1000);
    let third = gro::tcp4_segment(&segs[2]).unwrap();
    assert!(
        !gro::can_append(&segs[0], &first, end, &segs[2], &third),
        "gap"
    );
    let mut other_port = segs[1].clone();
    other_port[35] ^= 1;
    assert!(
        gro::tcp4_segment(&other_port).is_none(),
        "checksum no longer valid"
    );
    let mut corrupt = segs[1].clone();
    corrupt[100] ^= 0xff;
    assert!(gro::tcp4_segment(&corrupt).is_none());
    let mut syn = segs[1].clone();
    syn[34 + 13] |= 0x02;
    assert!(
        gro::tcp4_segment(&syn).is_none(),
        "only ACK/PSH segments merge"
    );
    assert!(gro::tcp4_segment(&segs[1][..40]).is_none());
}

/// `frame` with an 802.1Q tag (TCI `tci`) after its addresses, and its GSO header's offsets
/// moved by the tag.
fn tagged(frame: &[u8], vnet: &VnetHeader, tci: u16) -> (Vec<u8>, VnetHeader) {
    let mut f = frame[..12].to_vec();
    f.extend_from_slice(&[0x81, 0x00]);
    f.extend_from_slice(&tci.to_be_bytes());
    f.extend_from_slice(&frame[12..]);
    (f, vnet.moved_by(4))
}

/// Each segment without its tag (which must be `tci`).
fn untag(segs: &[Vec<u8>], tci: u16) -> Vec<Vec<u8>> {
    segs.iter()
        .map(|s| {
            assert_eq!(&s[12..16], &[0x81, 0x00, (tci >> 8) as u8, tci as u8]);
            [&s[..12], &s[16..]].concat()
        })
        .collect()
}

#[test]
fn a_tagged_64k_frame_becomes_tagged_mss_sized_segments() {
    let payload: Vec<u8> = (0..65_000u32).map(|i| (i * 11 + 5) as u8).collect();
    let flags = 0x18;
    let (plain, vnet) = gso_frame_v4(&payload, 1406, flags);
    let (frame, vnet) = tagged(&plain, &vnet, 0xa064);
    let s = Segmenter::new(&frame, &vnet).unwrap();
    assert_eq!(
        s.header_len(),
        70,
        "the tag is part of every segment's headers"
    );
    let segs = segment_all(&frame, &vnet);
    assert_eq!(segs.len(), 65_000usize.div_ceil(1406));
    assert!(segs.iter().all(|s| s.len() <= 70 + 1406));
    check_v4_segments(&plain, &untag(&segs, 0xa064), 1406, flags);
}

#[test]
fn tagged_segments_coalesce_with_their_tag() {
    use encap::gro;
    let payload: Vec<u8> = (0..20_000u32).map(|i| (i * 3 + 1) as u8).collect();
    let (plain, vnet) = gso_frame_v4(&payload, 1400, 0x18);
    let (frame, vnet) = tagged(&plain, &vnet, 100);
    let segs = segment_all(&frame, &vnet);
    let first = gro::tcp4_segment(&segs[0]).expect("a tagged segment is coalescible");
    assert_eq!((first.l3, first.hdr_len), (18, 70));
    let (mut merged, out, n) = coalesce(&segs);
    assert_eq!(n, segs.len());
    assert_eq!(merged.len(), frame.len());
    assert_eq!(&merged[..18], &frame[..18], "addresses and tag kept");
    assert!(merged[70..] == payload[..], "the payload in order");
    assert_eq!((out.hdr_len, out.csum_start, out.gso_size), (70, 38, 1400));
    assert_eq!(reference_sum(&[&merged[18..38]]), 0);
    encap::vnet::complete_checksum(&mut merged[18..], 20, 16).unwrap();
    let tcp = &merged[38..];
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&merged[30..38]);
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
    assert_eq!(reference_sum(&[&pseudo, tcp]), 0);
    // A different VLAN is a different flow.
    let mut other = segs[1].clone();
    other[15] = 101;
    let facts = gro::tcp4_segment(&other).unwrap();
    let end = first.seq.wrapping_add(first.payload_len as u32);
    assert!(!gro::can_append(&segs[0], &first, end, &other, &facts));
    // Moving the facts with a popped tag gives an untagged segment's.
    let popped = first.moved_by(-4).unwrap();
    assert_eq!(popped, gro::tcp4_segment(&untag(&segs, 100)[0]).unwrap());
    assert_eq!(popped.moved_by(-4), None, "no room for Ethernet");
}
