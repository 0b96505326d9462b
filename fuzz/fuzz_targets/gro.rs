//! Software GRO, driven as the datapath's coalescer drives it, over segments of one flow built
//! from fuzzed fields (each then maybe corrupted, its checksums maybe fixed again). Every
//! segment `tcp4_segment` accepts has valid checksums; every coalesced frame has the right IPv4
//! length and checksum, a TCP checksum that completes to a valid one, a virtio-net header that
//! says what the kernel needs, and cut again by TSO it gives back the segments' payloads.
#![no_main]

use arbitrary::Arbitrary;
use encap::gro::{self, TcpSegment};
use encap::tso::{MAX_SEGMENT_HEADER_LEN, Segmenter};
use encap::vnet::{F_NEEDS_CSUM, VnetHeader};
use grebe_fuzz::{checksum_of, checksum_ok, pseudo_v4};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Flow {
    tag: Option<u16>,
    tcp_words: u8,
    seq: u32,
    ident: u16,
    window: u16,
}

#[derive(Debug, Arbitrary)]
struct Seg {
    len: u16,
    flags: u8,
    /// Byte to flip (index, xor) and whether the checksums are fixed after it.
    mutate: Option<(u16, u8, bool)>,
    /// Sequence number offset from the flow's next one (0: in order).
    skew: u8,
}

#[derive(Debug, Arbitrary)]
struct Input {
    flow: Flow,
    segs: Vec<Seg>,
}

fn fix_checksums(f: &mut [u8], l3: usize) {
    let l4 = l3 + 20;
    f[l3 + 10..l3 + 12].fill(0);
    let c = checksum_of(&[&f[l3..l4]]);
    f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
    f[l4 + 16..l4 + 18].fill(0);
    let pseudo = pseudo_v4(&f[l3 + 12..l3 + 16], &f[l3 + 16..l3 + 20], 6, f.len() - l4);
    let c = checksum_of(&[&pseudo, &f[l4..]]);
    f[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
}

fn build(flow: &Flow, seg: &Seg, seq: u32, index: usize) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    if let Some(tci) = flow.tag {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&tci.to_be_bytes());
    }
    let l3 = f.len();
    let tcp_len = 20 + usize::from(flow.tcp_words % 11) * 4;
    let payload = usize::from(seg.len % 9000);
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
    f.extend_from_slice(&((20 + tcp_len + payload) as u16).to_be_bytes());
    f.extend_from_slice(&flow.ident.wrapping_add(index as u16).to_be_bytes());
    f.extend_from_slice(&[0x40, 0, 64, 6, 0, 0, 198, 51, 100, 1, 198, 51, 100, 2]);
    f.extend_from_slice(&[0x30, 0x39, 0x00, 0x50]);
    f.extend_from_slice(&seq.wrapping_add(u32::from(seg.skew)).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 1, (tcp_len / 4) as u8 * 16, seg.flags]);
    f.extend_from_slice(&flow.window.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend(std::iter::repeat_n(1u8, tcp_len - 20)); // NOPs
    f.extend((0..payload).map(|i| (index as u8).wrapping_mul(31).wrapping_add(i as u8)));
    fix_checksums(&mut f, l3);
    if let Some((at, xor, refix)) = seg.mutate {
        let at = usize::from(at) % f.len();
        f[at] ^= xor;
        if refix && at >= l3 + 20 {
            fix_checksums(&mut f, l3);
        }
    }
    f
}

/// The coalesced frame: checks it and cuts it again.
fn check_merged(merged: &mut [u8], first: &TcpSegment, psh: bool, payloads: &[Vec<u8>]) {
    let vnet = gro::finish(merged, first, psh);
    let (l3, l4) = (first.l3, first.l3 + 20);
    assert_eq!(
        vnet,
        VnetHeader {
            flags: F_NEEDS_CSUM,
            gso_type: 1,
            hdr_len: first.hdr_len as u16,
            gso_size: first.payload_len as u16,
            csum_start: l4 as u16,
            csum_offset: 16,
        }
    );
    let ip_len = usize::from(u16::from_be_bytes([merged[l3 + 2], merged[l3 + 3]]));
    assert_eq!(ip_len, merged.len() - l3, "IPv4 total length");
    assert!(checksum_ok(&[&merged[l3..l4]]), "IPv4 checksum");
    assert_eq!(merged[l4 + 13] & 0x08 != 0, psh || first.has_psh());
    // Complete the checksum as the kernel would (NEEDS_CSUM: sum from csum_start, the field
    // holding the pseudo-header sum), then check it as a receiver would.
    let mut done = merged.to_vec();
    let c = checksum_of(&[&done[l4..]]);
    done[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
    let pseudo = pseudo_v4(
        &done[l3 + 12..l3 + 16],
        &done[l3 + 16..l3 + 20],
        6,
        done.len() - l4,
    );
    assert!(
        checksum_ok(&[&pseudo, &done[l4..]]),
        "the partial TCP checksum is wrong"
    );
    let whole = gro::tcp4_segment(&done).expect("the completed frame is a valid segment");
    assert_eq!(whole.seq, first.seq);
    assert_eq!(
        whole.payload_len,
        payloads.iter().map(Vec::len).sum::<usize>()
    );

    let mut segmenter = Segmenter::new(merged, &vnet).expect("TSO takes what GRO made");
    let mut headers = [0u8; MAX_SEGMENT_HEADER_LEN];
    let mut again = Vec::new();
    while let Some(range) = segmenter.next_segment(&mut headers) {
        again.push(merged[range].to_vec());
    }
    assert_eq!(
        again, payloads,
        "TSO of the GRO frame does not give the segments back"
    );
}

fuzz_target!(|input: Input| {
    let mut merged: Vec<u8> = Vec::new();
    let mut first: Option<TcpSegment> = None;
    let mut payloads: Vec<Vec<u8>> = Vec::new();
    let mut end_seq = 0u32;
    let mut psh = false;
    let mut seq = input.flow.seq;
    let flush = |merged: &mut Vec<u8>,
                 first: &mut Option<TcpSegment>,
                 payloads: &mut Vec<Vec<u8>>,
                 psh: bool| {
        if let Some(f) = first.take()
            && payloads.len() > 1
        {
            check_merged(merged, &f, psh, payloads);
        }
        payloads.clear();
    };
    for (index, seg) in input.segs.iter().take(64).enumerate() {
        let frame = build(&input.flow, seg, seq, index);
        seq = seq.wrapping_add(usize::from(seg.len % 9000) as u32);
        let Some(s) = gro::tcp4_segment(&frame) else {
            continue;
        };
        // What it accepted is what it promised to accept.
        let l3 = s.l3;
        let l4 = l3 + 20;
        assert!(checksum_ok(&[&frame[l3..l4]]));
        let pseudo = pseudo_v4(
            &frame[l3 + 12..l3 + 16],
            &frame[l3 + 16..l3 + 20],
            6,
            frame.len() - l4,
        );
        assert!(checksum_ok(&[&pseudo, &frame[l4..]]));
        assert_eq!(frame[l3], 0x45);
        assert_eq!(s.flags & !0x18, 0);
        assert!(s.flags & 0x10 != 0);
        assert_eq!(s.hdr_len + s.payload_len, frame.len());
        assert!(s.payload_len > 0);

        if let Some(f) = first {
            let fits = merged.len() + s.payload_len <= f.max_merged_len();
            if !psh && fits && gro::can_append(&merged, &f, end_seq, &frame, &s) {
                merged.extend_from_slice(&frame[s.hdr_len..]);
                payloads.push(frame[s.hdr_len..].to_vec());
                end_seq = end_seq.wrapping_add(s.payload_len as u32);
                psh = s.has_psh();
                if s.payload_len < f.payload_len {
                    flush(&mut merged, &mut first, &mut payloads, psh);
                }
                continue;
            }
            flush(&mut merged, &mut first, &mut payloads, psh);
        }
        merged = frame.clone();
        payloads = vec![frame[s.hdr_len..].to_vec()];
        first = Some(s);
        end_seq = s.seq.wrapping_add(s.payload_len as u32);
        psh = s.has_psh();
    }
    flush(&mut merged, &mut first, &mut payloads, psh);
});
