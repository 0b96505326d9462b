//! MAC table cost per operation at 1k, 100k and 1M entries.
//!
//! Keys are visited in a scattered order (a large odd stride modulo the
//! table size), as frames from many stations would, so the big tables pay
//! their cache misses. `learn_new` goes into a table at capacity: every
//! iteration is a new source from one flooding port and includes a fair
//! eviction (a heap fix-up over 65 ports). `refresh` is a learn of a known entry
//! within the same second, which writes nothing.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use learning::{Config, Learned, Mac, MacTable, PortId, SharedMacTable};

const PORTS: u32 = 64;
const SIZES: [(usize, &str); 3] = [(1_000, "1k"), (100_000, "100k"), (1_000_000, "1M")];
/// Odd and large: consecutive keys land far apart.
const STRIDE: usize = 7_919 * 131;

fn mac(prefix: u8, n: usize) -> Mac {
    let [.., a, b, c, d] = (n as u64).to_be_bytes();
    [0x02, prefix, a, b, c, d]
}

fn port_of(n: usize) -> PortId {
    PortId(n as u32 % PORTS)
}

fn filled(size: usize, t0: Instant) -> MacTable {
    let mut t = MacTable::new(Config {
        max_entries: size,
        ageing: Duration::from_secs(300),
    });
    for n in 0..size {
        assert_eq!(t.learn(mac(0, n), port_of(n), t0), Learned::New);
    }
    assert_eq!(t.len(), size);
    t
}

/// A cursor over `0..size` in scattered order; a compare and subtract per
/// step rather than a division, so the harness costs little.
struct Scatter {
    i: usize,
    step: usize,
    size: usize,
}

impl Scatter {
    fn new(size: usize) -> Self {
        Scatter {
            i: 0,
            step: STRIDE % size,
            size,
        }
    }

    fn next(&mut self) -> usize {
        self.i += self.step;
        if self.i >= self.size {
            self.i -= self.size;
        }
        self.i
    }
}

fn bench(c: &mut Criterion) {
    let t0 = Instant::now();
    for (size, name) in SIZES {
        let mut table = filled(size, t0);
        let now = t0 + Duration::from_millis(500);

        c.benchmark_group("learning/lookup_hit")
            .bench_function(name, |b| {
                let mut keys = Scatter::new(size);
                b.iter(|| {
                    let n = keys.next();
                    let port = table.lookup(black_box(mac(0, n)), now);
                    debug_assert_eq!(port, Some(port_of(n)));
                    port
                })
            });

        c.benchmark_group("learning/lookup_miss")
            .bench_function(name, |b| {
                let mut keys = Scatter::new(size);
                b.iter(|| table.lookup(black_box(mac(1, keys.next())), now))
            });

        c.benchmark_group("learning/refresh")
            .bench_function(name, |b| {
                let mut keys = Scatter::new(size);
                b.iter(|| {
                    let n = keys.next();
                    table.learn(black_box(mac(0, n)), port_of(n), now)
                })
            });
        // The refreshes within the second wrote nothing.
        assert_eq!(table.counters().learned, size as u64);

        let shared = SharedMacTable::from(table);
        c.benchmark_group("learning/shared_lookup_hit")
            .bench_function(name, |b| {
                let mut keys = Scatter::new(size);
                b.iter(|| shared.lookup(black_box(mac(0, keys.next())), now))
            });
        c.benchmark_group("learning/shared_refresh")
            .bench_function(name, |b| {
                let mut keys = Scatter::new(size);
                b.iter(|| {
                    let n = keys.next();
                    shared.learn(black_box(mac(0, n)), port_of(n), now)
                })
            });
        let mut table = shared.into_inner();

        c.benchmark_group("learning/learn_new_at_capacity")
            .bench_function(name, |b| {
                let flooder = PortId(PORTS);
                let mut n = 0;
                b.iter(|| {
                    n += 1;
                    table.learn(black_box(mac(2, n)), flooder, now)
                })
            });
        // Every new source past capacity evicted one entry (none if a name filter skipped
        // the benchmark, as `cargo bench --bench learning -- 100k` does for the 1k table).
        let counters = table.counters();
        assert_eq!(table.len(), size);
        assert_eq!(counters.learned - counters.evicted, size as u64);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
