//! The per-frame cost of the flow table: a key read from a frame, a lookup in tables of 10,
//! 1,000 and 100,000 exact-match flows (the frame hits the lowest-priority one: the worst case
//! for a table scanned in priority order), and the key plus an exact-match cache hit, which is
//! what the packet loop pays once the cache is warm.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use flowtable::{Flow, FlowCache, FlowTable, Key, Match, Output};
use std::hint::black_box;

fn table(n: u32) -> FlowTable {
    let mut t = FlowTable::new();
    for i in 0..n {
        let m = Match {
            eth_type: Some(0x0800),
            ipv4_dst: Some((0x0a00_0000 + i, u32::MAX)),
            ..Match::default()
        };
        t.add(Flow::new(1000, m, vec![Output::Port(2)], 0, 0));
    }
    t.add(Flow::new(0, Match::default(), vec![Output::Normal], 0, 0));
    t
}

fn bench(c: &mut Criterion) {
    let mut frame = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    frame.extend([
        0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 198, 51, 100, 1, 198, 51, 100, 2,
    ]);
    frame.extend([0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]);
    c.bench_function("flowtable/key", |b| {
        b.iter(|| Key::extract(black_box(&frame), 1))
    });
    let mut g = c.benchmark_group("flowtable/lookup_miss_to_normal");
    for n in [10u32, 1_000, 100_000] {
        let t = table(n);
        let k = Key::extract(&frame, 1);
        g.bench_with_input(BenchmarkId::from_parameter(n), &k, |b, k| {
            b.iter(|| t.lookup(black_box(k)).map(|f| f.priority))
        });
    }
    g.finish();
    // What the packet loop does per frame once the cache is warm: read the key, hit the cache.
    let mut g = c.benchmark_group("flowtable/key_and_cache_hit");
    for n in [10u32, 1_000, 100_000] {
        let t = table(n);
        let mut cache = FlowCache::new();
        cache.lookup(&t, &Key::extract(&frame, 1));
        g.bench_with_input(BenchmarkId::from_parameter(n), &frame, |b, frame| {
            b.iter(|| {
                let k = Key::extract(black_box(frame), 1);
                cache.lookup(&t, &k).map(|f| f.priority)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
