//! Software TSO of a GSO frame: every segment has the right IP length, IPv4 ID and header
//! checksum, TCP sequence number, flags and checksum, its headers are the original's otherwise,
//! and the payloads, in order, are the original payload. The frame is either the raw input or
//! one built from fuzzed fields (random bytes rarely make a TCP frame).
#![no_main]

use arbitrary::Arbitrary;
use encap::tso::{MAX_SEGMENT_HEADER_LEN, Segmenter};
use encap::vnet::VnetHeader;
use grebe_fuzz::{checksum_ok, pseudo_v4, pseudo_v6};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Built {
    tag: Option<u16>,
    v6: bool,
    /// IPv4 option words (0..=10) and TCP option words (0..=10).
    ip_words: u8,
    tcp_words: u8,
    flags: u8,
    seq: u32,
    ident: u16,
    payload_len: u16,
    fill: u8,
}

#[derive(Debug, Arbitrary)]
enum Frame {
    Raw(Vec<u8>),
    Built(Built),
}

#[derive(Debug, Arbitrary)]
struct Input {
    gso_type: u8,
    gso_size: u16,
    segment_size: Option<u16>,
    frame: Frame,
}

fn build(b: &Built) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    if let Some(tci) = b.tag {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&tci.to_be_bytes());
    }
    let ip_opts = usize::from(b.ip_words % 11) * 4;
    let tcp_len = 20 + usize::from(b.tcp_words % 11) * 4;
    let ip_len = if b.v6 { 40 } else { 20 + ip_opts };
    // As the kernel hands them: the IP packet fits its 16-bit length.
    let payload = usize::from(b.payload_len).min(65535 - ip_len - tcp_len);
    if b.v6 {
        f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
        f.extend_from_slice(&((tcp_len + payload) as u16).to_be_bytes());
        f.extend_from_slice(&[6, 64]);
        f.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    } else {
        f.extend_from_slice(&[0x08, 0x00, 0x40 | (ip_len / 4) as u8, 0]);
        f.extend_from_slice(&((ip_len + tcp_len + payload) as u16).to_be_bytes());
        f.extend_from_slice(&b.ident.to_be_bytes());
        f.extend_from_slice(&[0x40, 0, 64, 6, 0, 0, 198, 51, 100, 1, 198, 51, 100, 2]);
        f.extend(std::iter::repeat_n(1u8, ip_opts)); // NOPs
    }
    f.extend_from_slice(&[0x30, 0x39, 0x00, 0x50]);
    f.extend_from_slice(&b.seq.to_be_bytes());
    f.extend_from_slice(&[
        0,
        0,
        0,
        1,
        (tcp_len / 4) as u8 * 16,
        b.flags,
        0xff,
        0xff,
        0,
        0,
        0,
        0,
    ]);
    f.extend(std::iter::repeat_n(1u8, tcp_len - 20));
    f.extend((0..payload).map(|i| b.fill.wrapping_add(i as u8)));
    f
}

fuzz_target!(|input: Input| {
    let frame = match &input.frame {
        Frame::Raw(bytes) => bytes.clone(),
        Frame::Built(b) => build(b),
    };
    let vnet = VnetHeader {
        gso_type: input.gso_type,
        gso_size: input.gso_size,
        ..VnetHeader::PLAIN
    };
    let made = match input.segment_size {
        None => Segmenter::new(&frame, &vnet),
        Some(size) => Segmenter::with_segment_size(&frame, &vnet, usize::from(size)),
    };
    let Ok(mut segmenter) = made else {
        return;
    };
    let mss = segmenter.mss();
    let hdr_len = segmenter.header_len();
    assert!(hdr_len <= frame.len() && hdr_len <= MAX_SEGMENT_HEADER_LEN);
    let expected = segmenter.segments();
    let ipv6 = input.gso_type & 0x7f == 4;
    let l3 = if frame[12..14] == [0x81, 0x00] {
        18
    } else {
        14
    };
    let l4 = if ipv6 {
        l3 + 40
    } else {
        l3 + usize::from(frame[l3] & 0x0f) * 4
    };
    let seq0 = u32::from_be_bytes(frame[l4 + 4..l4 + 8].try_into().unwrap());
    let id0 = u16::from_be_bytes([frame[l3 + 4], frame[l3 + 5]]);
    let flags0 = frame[l4 + 13];

    let mut headers = [0u8; MAX_SEGMENT_HEADER_LEN];
    let mut next_payload = hdr_len;
    let mut count = 0usize;
    let mut joined = Vec::new();
    while let Some(payload) = segmenter.next_segment(&mut headers) {
        assert!(count < expected, "more segments than segments() said");
        assert_eq!(payload.start, next_payload, "payloads are not consecutive");
        assert!(payload.end <= frame.len() && payload.len() <= mss);
        let last = payload.end == frame.len();
        assert!(
            last || payload.len() == mss,
            "a short segment before the last"
        );
        let seg = [&headers[..hdr_len], &frame[payload.clone()]].concat();
        let tcp_len = seg.len() - l4;
        if ipv6 {
            let len = usize::from(u16::from_be_bytes([seg[l3 + 4], seg[l3 + 5]]));
            assert_eq!(len, seg.len() - l3 - 40, "IPv6 payload length");
            let pseudo = pseudo_v6(&seg[l3 + 8..l3 + 24], &seg[l3 + 24..l3 + 40], 6, tcp_len);
            assert!(
                checksum_ok(&[&pseudo, &seg[l4..]]),
                "TCP checksum of segment {count}"
            );
        } else {
            let len = usize::from(u16::from_be_bytes([seg[l3 + 2], seg[l3 + 3]]));
            assert_eq!(len, seg.len() - l3, "IPv4 total length of segment {count}");
            let id = u16::from_be_bytes([seg[l3 + 4], seg[l3 + 5]]);
            assert_eq!(id, id0.wrapping_add(count as u16));
            assert!(
                checksum_ok(&[&seg[l3..l4]]),
                "IPv4 checksum of segment {count}"
            );
            let pseudo = pseudo_v4(&seg[l3 + 12..l3 + 16], &seg[l3 + 16..l3 + 20], 6, tcp_len);
            assert!(
                checksum_ok(&[&pseudo, &seg[l4..]]),
                "TCP checksum of segment {count}"
            );
        }
        let seq = u32::from_be_bytes(seg[l4 + 4..l4 + 8].try_into().unwrap());
        assert_eq!(seq, seq0.wrapping_add((payload.start - hdr_len) as u32));
        let mut flags = flags0;
        if !last {
            flags &= !0x09; // FIN, PSH: on the last segment only
        }
        if count > 0 {
            flags &= !0x80; // CWR: on the first only
        }
        assert_eq!(seg[l4 + 13], flags, "TCP flags of segment {count}");
        // Everything else in the headers is the original's.
        for i in 0..hdr_len {
            let rewritten = if ipv6 {
                (l3 + 4..l3 + 6).contains(&i)
            } else {
                (l3 + 2..l3 + 6).contains(&i) || (l3 + 10..l3 + 12).contains(&i)
            } || (l4 + 4..l4 + 8).contains(&i)
                || i == l4 + 13
                || (l4 + 16..l4 + 18).contains(&i);
            assert!(rewritten || seg[i] == frame[i], "header byte {i} changed");
        }
        joined.extend_from_slice(&frame[payload.clone()]);
        next_payload = payload.end;
        count += 1;
    }
    assert_eq!(count, expected, "segments() was wrong");
    assert_eq!(
        joined,
        frame[hdr_len..],
        "the payloads are not the original payload"
    );
});
