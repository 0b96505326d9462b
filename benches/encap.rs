//! Per-frame cost of the tunnel wire format: `decap` of a received packet (outer IPv4 + GRE
//! checks, checksums included) and `OuterHeader::emit_in_front` of a frame about to be sent,
//! for a minimum-size and a full-MTU inner frame, with and without a key and a GRE checksum; and
//! the internet checksum alone, which is most of the cost when the GRE checksum is on.
//!
//! Run: `cargo bench --bench encap` (add `-- --quick` for a fast look).

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use encap::tunnel::MAX_OUTER_LEN;
use encap::{OuterHeader, checksum, decap};

const FRAME_SIZES: [usize; 2] = [64, 1500];

/// (name, key, csum)
const VARIANTS: [(&str, bool, bool); 4] = [
    ("plain", false, false),
    ("key", true, false),
    ("csum", false, true),
    ("key+csum", true, true),
];

fn outer(key: bool, csum: bool) -> OuterHeader {
    OuterHeader {
        src: Ipv4Addr::new(192, 0, 2, 1),
        key: key.then_some(0x0000_1234),
        csum,
        ..OuterHeader::new(Ipv4Addr::new(192, 0, 2, 2))
    }
}

fn frame(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 13 + 5) as u8).collect()
}

fn bench_decap(c: &mut Criterion) {
    let mut group = c.benchmark_group("encap/decap");
    for size in FRAME_SIZES {
        for (name, key, csum) in VARIANTS {
            let t = outer(key, csum);
            let inner = frame(size);
            let mut packet = vec![0u8; t.len()];
            t.emit(&mut packet, &inner, 0).expect("emit");
            packet.extend_from_slice(&inner);
            assert!(decap(&packet).is_ok());
            group.throughput(Throughput::Bytes(packet.len() as u64));
            group.bench_function(format!("{size}B/{name}"), |b| {
                b.iter(|| decap(black_box(&packet)))
            });
        }
    }
    group.finish();
}

fn bench_emit_in_front(c: &mut Criterion) {
    let mut group = c.benchmark_group("encap/emit_in_front");
    for size in FRAME_SIZES {
        for (name, key, csum) in VARIANTS {
            let t = outer(key, csum);
            // The datapath's layout: MAX_OUTER_LEN of headroom, then the frame.
            let mut buf = vec![0u8; MAX_OUTER_LEN];
            buf.extend_from_slice(&frame(size));
            let range = MAX_OUTER_LEN..buf.len();
            group.throughput(Throughput::Bytes(buf.len() as u64));
            let mut seq = 0u32;
            group.bench_function(format!("{size}B/{name}"), |b| {
                b.iter(|| {
                    seq = seq.wrapping_add(1);
                    black_box(&t)
                        .emit_in_front(black_box(&mut buf), range.clone(), seq)
                        .expect("headroom")
                })
            });
        }
    }
    group.finish();
}

fn bench_checksum(c: &mut Criterion) {
    let mut group = c.benchmark_group("encap/checksum");
    // An IPv4 header, a minimum frame, a full-MTU frame.
    for size in [20, 64, 1500] {
        let data = frame(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(format!("{size}B"), |b| {
            b.iter(|| checksum::data(black_box(&data)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decap, bench_emit_in_front, bench_checksum);
criterion_main!(benches);
