//! The receive demux: which tunnel a GRE packet belongs to, by outer source and key
//! (`TunnelMap::lookup`), with 1, 1,000 and 10,000 tunnels on the bridge. Each iteration looks up
//! a batch of 32 packets spread over the whole map, as a busy mesh's packets are; the per-packet
//! cost should not grow with the number of tunnels.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use datapath::port::{TunnelConfig, TunnelMap};
use learning::PortId;

const BATCH: usize = 32;
/// Tunnels per remote address: 10,000 tunnels fit 250 documentation addresses.
const KEYS: usize = 40;

/// The `i`th tunnel's remote and key: 192.0.2.0/24, then 198.51.100.0/24, 40 keys each.
fn ends(i: usize) -> (IpAddr, u32) {
    let host = i / KEYS;
    let remote = if host < 200 {
        Ipv4Addr::new(192, 0, 2, 10 + host as u8)
    } else {
        Ipv4Addr::new(198, 51, 100, (host - 200) as u8 + 1)
    };
    (remote.into(), 1 + (i % KEYS) as u32)
}

fn map(n: usize) -> TunnelMap {
    let mut m = TunnelMap::default();
    for i in 0..n {
        let (remote_ip, key) = ends(i);
        let config = TunnelConfig {
            remote_ip,
            local_ip: None,
            key: Some(key),
            csum: false,
            seq: false,
            ttl: 64,
            tos: 0,
            large_frames: false,
            df_default: true,
        };
        m.insert(&config, PortId(i as u32 + 2))
            .expect("distinct remote and key");
    }
    m
}

fn demux(c: &mut Criterion) {
    let mut group = c.benchmark_group("demux");
    group.throughput(Throughput::Elements(BATCH as u64));
    for n in [1usize, 1_000, 10_000] {
        let m = map(n);
        // A batch spread over the map (a stride coprime with its size), so that consecutive
        // packets belong to different tunnels.
        let batch: Vec<(IpAddr, Option<u32>)> = (0..BATCH)
            .map(|j| {
                let (remote, key) = ends((j * 7919) % n);
                (remote, Some(key))
            })
            .collect();
        group.bench_with_input(BenchmarkId::new("lookup", n), &batch, |b, batch| {
            b.iter(|| {
                for &(src, key) in batch {
                    black_box(m.lookup(black_box(src), black_box(key)).is_ok());
                }
            })
        });
        // A packet from a known remote with a key no tunnel has: the second lookup that tells
        // a wrong key from an unknown sender.
        let wrong_key: Vec<(IpAddr, Option<u32>)> = batch
            .iter()
            .map(|&(src, _)| (src, Some(u32::MAX)))
            .collect();
        group.bench_with_input(
            BenchmarkId::new("key_mismatch", n),
            &wrong_key,
            |b, batch| {
                b.iter(|| {
                    for &(src, key) in batch {
                        black_box(m.lookup(black_box(src), black_box(key)).is_err());
                    }
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, demux);
criterion_main!(benches);
