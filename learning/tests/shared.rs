//! `SharedMacTable` from several threads at once.

use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use learning::{Config, EntryKind, Learned, Mac, PortId, SharedMacTable};

fn mac(port: u32, n: u32) -> Mac {
    let [a, b] = (n as u16).to_be_bytes();
    [0x02, 0x00, port as u8, 0x00, a, b]
}

#[test]
fn threads_learn_and_look_up_at_once() {
    const THREADS: u32 = 4;
    const STATIONS: u32 = 500;
    let table = SharedMacTable::new(Config::default());
    let gateway = [0x02, 0xff, 0, 0, 0, 1];
    table.insert_static(gateway, PortId(99), EntryKind::Local);
    let t0 = Instant::now();

    thread::scope(|s| {
        for p in 0..THREADS {
            let table = &table;
            s.spawn(move || {
                let port = PortId(p);
                for round in 0..20u32 {
                    // Each round is 100 ms: some refreshes write, most do not.
                    let now = t0 + Duration::from_millis(u64::from(round) * 100);
                    for n in 0..STATIONS {
                        let got = table.learn(mac(p, n), port, now);
                        let want_new = round == 0;
                        assert_eq!(got == Learned::New, want_new, "{got:?}");
                        if !want_new {
                            assert_eq!(got, Learned::Refreshed);
                        }
                        assert_eq!(table.lookup(mac(p, n), now), Some(port));
                        assert_eq!(table.lookup(gateway, now), Some(PortId(99)));
                        // Other threads' stations are either not learned yet
                        // or on their own port, never anywhere else.
                        let q = (p + 1) % THREADS;
                        let other = table.lookup(mac(q, n), now);
                        assert!(other.is_none() || other == Some(PortId(q)));
                    }
                }
            });
        }
        // A control thread reads while the datapath threads run.
        s.spawn(|| {
            for _ in 0..50 {
                assert!(table.entries(t0).len() <= (THREADS * STATIONS + 1) as usize);
                thread::yield_now();
            }
        });
    });

    assert_eq!(table.len(), (THREADS * STATIONS + 1) as usize);
    for p in 0..THREADS {
        assert_eq!(table.port_count(PortId(p)), STATIONS as usize);
    }
    let c = table.counters();
    assert_eq!(
        (c.learned, c.moved, c.evicted),
        (u64::from(THREADS * STATIONS), 0, 0)
    );
}

#[test]
fn threads_fighting_over_one_mac_see_moves() {
    let table = SharedMacTable::new(Config::default());
    let m = mac(0, 1);
    let t0 = Instant::now();
    let moves: u64 = thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|p| {
                let table = &table;
                s.spawn(move || {
                    (0..1000)
                        .filter(|_| matches!(table.learn(m, PortId(p), t0), Learned::Moved { .. }))
                        .count() as u64
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    // Every reported move was counted, and the address ended up somewhere.
    assert_eq!(table.counters().moved, moves);
    assert_eq!(table.counters().learned, 1);
    assert!(table.lookup(m, t0).is_some());
    assert_eq!(table.len(), 1);
}

#[test]
fn a_settled_refresh_does_not_need_the_write_lock() {
    let table = Arc::new(SharedMacTable::new(Config::default()));
    let t0 = Instant::now();
    table.learn(mac(0, 1), PortId(0), t0);
    // Hold a read lock: a learn that wanted the write lock would block.
    table.with(|held| {
        assert_eq!(held.len(), 1);
        let (tx, rx) = mpsc::channel();
        let shared = Arc::clone(&table);
        thread::spawn(move || {
            let got = shared.learn(mac(0, 1), PortId(0), t0 + Duration::from_millis(500));
            let _ = tx.send(got);
        });
        let got = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a refresh within the second blocked on the write lock");
        assert_eq!(got, Learned::Refreshed);
    });
    assert!(table.needs_update(mac(0, 1), PortId(0), t0 + Duration::from_secs(2)));
}

#[test]
fn control_operations_pass_through() {
    let table = SharedMacTable::new(Config {
        max_entries: 2,
        ageing: Duration::from_secs(10),
    });
    let t0 = Instant::now();
    assert!(table.is_empty());
    table.learn(mac(0, 1), PortId(0), t0);
    table.learn(mac(1, 1), PortId(1), t0 + Duration::from_secs(1));
    assert_eq!(table.next_expiry(), Some(t0 + Duration::from_secs(10)));
    // An early wake-up removes nothing.
    assert_eq!(table.expire(t0 + Duration::from_secs(9)), 0);
    assert_eq!(table.expire(t0 + Duration::from_secs(10)), 1);
    assert_eq!(table.flush_port(PortId(1)), 1);
    table.learn(mac(0, 2), PortId(0), t0);
    table.set_config(
        Config {
            max_entries: 5,
            ..table.config()
        },
        t0,
    );
    assert_eq!(table.config().max_entries, 5);
    assert_eq!(table.with(|t| t.dynamic_len()), 1);
    assert_eq!(table.flush(), 1);
    assert_eq!(table.counters().expired, 1);
    let inner = table.into_inner();
    assert!(inner.is_empty());
}

#[test]
fn learn_and_lookup_is_learn_then_lookup() {
    let a = mac(1, 1);
    let b = mac(2, 2);
    let t0 = Instant::now();
    let table = SharedMacTable::new(Config::default());
    // New source (write lock), unknown destination.
    assert_eq!(
        table.learn_and_lookup(a, PortId(1), Some(b), t0),
        (Learned::New, None)
    );
    // The lookup sees what the learn just wrote.
    assert_eq!(
        table.learn_and_lookup(b, PortId(2), Some(b), t0),
        (Learned::New, Some(PortId(2)))
    );
    // Nothing to write (read lock only), known destination.
    let soon = t0 + Duration::from_millis(500);
    assert_eq!(
        table.learn_and_lookup(a, PortId(1), Some(b), soon),
        (Learned::Refreshed, Some(PortId(2)))
    );
    // No destination to look up (a multicast one, in the datapath).
    assert_eq!(
        table.learn_and_lookup(a, PortId(1), None, soon),
        (Learned::Refreshed, None)
    );
    // A move takes the write lock and the lookup sees the new port.
    assert_eq!(
        table.learn_and_lookup(a, PortId(3), Some(a), soon),
        (Learned::Moved { from: PortId(1) }, Some(PortId(3)))
    );
    // An ignored source still gets its lookup.
    assert_eq!(
        table.learn_and_lookup([0xff; 6], PortId(1), Some(a), soon),
        (Learned::Ignored, Some(PortId(3)))
    );
    // Past ageing the destination is a miss, whatever the source does.
    let late = soon + Config::DEFAULT_AGEING;
    assert_eq!(
        table.learn_and_lookup(b, PortId(2), Some(a), late),
        (Learned::New, None)
    );
}
