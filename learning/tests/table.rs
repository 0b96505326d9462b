//! `MacTable` behaviour through the public API, with injected time.

use std::time::{Duration, Instant};

use learning::{
    Addr, Config, Counters, EntryInfo, EntryKind, Learned, Mac, MacTable, PortId, is_learnable,
};

const A: PortId = PortId(1);
const B: PortId = PortId(2);
const C: PortId = PortId(3);

fn mac(n: u32) -> Mac {
    let [a, b, c, d] = n.to_be_bytes();
    [0x02, 0x00, a, b, c, d]
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn table(max_entries: usize) -> MacTable {
    MacTable::new(Config {
        max_entries,
        ..Config::default()
    })
}

fn age_of(t: &MacTable, m: Mac, now: Instant) -> Option<Duration> {
    t.entries(now).find(|e| e.mac == m).map(|e| e.age)
}

#[test]
fn defaults_are_ovs_defaults() {
    let c = Config::default();
    assert_eq!(c.max_entries, 8192);
    assert_eq!(c.ageing, Duration::from_secs(300));
    assert_eq!(MacTable::default().config(), c);
}

#[test]
fn learn_new_then_refresh() {
    let t0 = Instant::now();
    let mut t = MacTable::default();
    assert_eq!(t.learn(mac(1), A, t0), Learned::New);
    assert_eq!(t.learn(mac(1), A, t0 + secs(5.0)), Learned::Refreshed);
    assert_eq!(t.len(), 1);
    assert_eq!(t.port_count(A), 1);
    assert_eq!(
        t.counters(),
        Counters {
            learned: 1,
            ..Counters::default()
        }
    );
}

#[test]
fn learn_on_another_port_moves() {
    let t0 = Instant::now();
    let mut t = MacTable::default();
    t.learn(mac(1), A, t0);
    // Within the same second: a move is never delayed by the stamp rule.
    assert_eq!(t.learn(mac(1), B, t0), Learned::Moved { from: A });
    assert_eq!(t.lookup(mac(1), t0), Some(B));
    assert_eq!((t.port_count(A), t.port_count(B)), (0, 1));
    assert_eq!(
        t.learn(mac(1), A, t0 + secs(1.0)),
        Learned::Moved { from: B }
    );
    let c = t.counters();
    assert_eq!((c.learned, c.moved), (1, 2));
}

#[test]
fn group_and_zero_sources_are_ignored() {
    let t0 = Instant::now();
    let mut t = MacTable::default();
    let sources = [
        [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01], // IPv4 multicast
        [0x33, 0x33, 0x00, 0x00, 0x00, 0x01], // IPv6 multicast
        [0x01, 0x80, 0xc2, 0x00, 0x00, 0x00], // STP
        [0xff; 6],                            // broadcast
        [0x00; 6],
    ];
    for m in sources {
        assert!(!is_learnable(m));
        assert!(!t.needs_update(m, A, t0));
        assert_eq!(t.learn(m, A, t0), Learned::Ignored);
        assert_eq!(t.lookup(m, t0), None);
    }
    assert!(t.is_empty());
    assert_eq!(t.counters(), Counters::default());
    assert!(is_learnable(mac(1)));
}

#[test]
fn pinned_entries_are_never_taken_over() {
    let t0 = Instant::now();
    let mut t = MacTable::default();
    t.insert_static(mac(1), A, EntryKind::Static);
    t.insert_static(mac(2), C, EntryKind::Local);
    for (m, home) in [(mac(1), A), (mac(2), C)] {
        for port in [A, B, C] {
            assert!(!t.needs_update(m, port, t0));
            assert_eq!(t.learn(m, port, t0), Learned::Pinned);
        }
        // Pinned entries do not age.
        assert_eq!(t.lookup(m, t0 + secs(100_000.0)), Some(home));
    }
    assert_eq!(t.expire(t0 + secs(100_000.0)), 0);
    assert_eq!(t.next_expiry(), None);
    assert_eq!(t.counters(), Counters::default());
    let kinds: Vec<_> = {
        let mut v: Vec<_> = t.entries(t0).map(|e| (e.mac, e.kind, e.age)).collect();
        v.sort_by_key(|e| e.0);
        v
    };
    assert_eq!(
        kinds,
        [
            (mac(1), EntryKind::Static, Duration::ZERO),
            (mac(2), EntryKind::Local, Duration::ZERO)
        ]
    );
}

#[test]
fn insert_static_replaces_a_learned_entry() {
    let t0 = Instant::now();
    let mut t = MacTable::default();
    t.learn(mac(1), A, t0);
    t.insert_static(mac(1), B, EntryKind::Static);
    assert_eq!(t.lookup(mac(1), t0 + secs(1000.0)), Some(B));
    assert_eq!((t.len(), t.dynamic_len()), (1, 0));
    assert_eq!((t.port_count(A), t.port_count(B)), (0, 1));
    assert_eq!(t.next_expiry(), None);
    assert_eq!(t.remove_entry(mac(1)), Some(EntryKind::Static));
    assert_eq!(t.remove_entry(mac(1)), None);
    assert!(t.is_empty());
}

#[test]
fn lookup_hit_miss_and_expired_before_the_sweep() {
    let t0 = Instant::now();
    let mut t = MacTable::default();
    t.learn(mac(1), A, t0);
    assert_eq!(t.lookup(mac(1), t0 + secs(299.0)), Some(A));
    assert_eq!(t.lookup(mac(2), t0), None);
    let late = t0 + secs(301.0);
    assert_eq!(t.lookup(mac(1), late), None);
    // Still held until the sweep, but invisible.
    assert_eq!(t.len(), 1);
    assert_eq!(t.entries(late).count(), 0);
    assert_eq!(t.expire(late), 1);
    assert!(t.is_empty());
}

#[test]
fn age_boundary_is_exactly_ageing() {
    let t0 = Instant::now();
    let mut t = MacTable::default();
    t.learn(mac(1), A, t0);
    assert_eq!(t.lookup(mac(1), t0 + secs(300.0) - secs(0.001)), Some(A));
    assert_eq!(t.lookup(mac(1), t0 + secs(300.0)), None);
    assert_eq!(t.next_expiry(), Some(t0 + secs(300.0)));
}

#[test]
fn refreshed_entries_survive_their_original_age() {
    let t0 = Instant::now();
    let mut t = MacTable::default();
    t.learn(mac(1), A, t0);
    t.learn(mac(2), A, t0);
    assert_eq!(t.learn(mac(1), A, t0 + secs(200.0)), Learned::Refreshed);
    let t1 = t0 + secs(450.0);
    assert_eq!(t.expire(t1), 1);
    assert_eq!(t.lookup(mac(1), t1), Some(A));
    assert_eq!(t.lookup(mac(2), t1), None);
    assert_eq!(t.lookup(mac(1), t0 + secs(500.0)), None);
}

#[test]
fn the_timestamp_is_written_at_most_once_a_second() {
    let t0 = Instant::now();
    let mut t = MacTable::default();
    t.learn(mac(1), A, t0);
    let probe = t0 + secs(2.0);

    assert!(!t.needs_update(mac(1), A, t0 + secs(0.5)));
    assert_eq!(t.learn(mac(1), A, t0 + secs(0.5)), Learned::Refreshed);
    assert_eq!(
        age_of(&t, mac(1), probe),
        Some(secs(2.0)),
        "0.5 s: not written"
    );
    assert_eq!(t.next_expiry(), Some(t0 + secs(300.0)));

    assert!(t.needs_update(mac(1), A, t0 + secs(1.5)));
    assert_eq!(t.learn(mac(1), A, t0 + secs(1.5)), Learned::Refreshed);
    assert_eq!(age_of(&t, mac(1), probe), Some(secs(0.5)), "1.5 s: written");
    assert_eq!(t.next_expiry(), Some(t0 + secs(301.5)));

    // Another port always needs an update, however recent the stamp.
    assert!(t.needs_update(mac(1), B, t0 + secs(1.5)));
    assert!(t.needs_update(mac(2), A, t0));
}

#[test]
fn expire_counts_and_next_expiry_follows_the_oldest() {
    let t0 = Instant::now();
    let mut t = MacTable::default();
    assert_eq!(t.next_expiry(), None);
    t.learn(mac(1), A, t0);
    t.learn(mac(2), B, t0 + secs(10.0));
    t.learn(mac(3), A, t0 + secs(20.0));
    assert_eq!(t.next_expiry(), Some(t0 + secs(300.0)));
    assert_eq!(t.expire(t0 + secs(299.0)), 0);
    assert_eq!(t.expire(t0 + secs(311.0)), 2);
    assert_eq!(t.next_expiry(), Some(t0 + secs(320.0)));
    assert_eq!(t.lookup(mac(3), t0 + secs(311.0)), Some(A));
    assert_eq!(t.expire(t0 + secs(320.0)), 1);
    assert_eq!(t.next_expiry(), None);
    assert_eq!(t.counters().expired, 3);
    assert!(t.is_empty());
}

#[test]
fn learning_an_expired_entry_starts_afresh() {
    let t0 = Instant::now();
    let mut t = MacTable::default();
    t.learn(mac(1), A, t0);
    // Lookups already miss it, so it is new again, even on another port.
    assert_eq!(t.learn(mac(1), B, t0 + secs(400.0)), Learned::New);
    assert_eq!(t.lookup(mac(1), t0 + secs(400.0)), Some(B));
    let c = t.counters();
    assert_eq!((c.learned, c.moved, c.expired), (2, 0, 1));
}

#[test]
fn a_flood_on_one_port_evicts_only_that_port() {
    let t0 = Instant::now();
    let mut t = table(100);
    for i in 0..10 {
        assert_eq!(t.learn(mac(i), A, t0), Learned::New);
    }
    let flood = 10_000;
    for i in 0..flood {
        let now = t0 + Duration::from_millis(u64::from(i));
        assert_eq!(t.learn(mac(1_000_000 + i), B, now), Learned::New);
        assert!(t.len() <= 100);
    }
    let now = t0 + secs(11.0);
    for i in 0..10 {
        assert_eq!(t.lookup(mac(i), now), Some(A), "A's host {i} survived");
    }
    assert_eq!((t.port_count(A), t.port_count(B), t.len()), (10, 90, 100));
    // B keeps its 90 most recent sources.
    for i in 0..flood {
        let want = (i >= flood - 90).then_some(B);
        assert_eq!(t.lookup(mac(1_000_000 + i), now), want);
    }
    let c = t.counters();
    assert_eq!(c.evicted, u64::from(flood) - 90);
    assert_eq!(c.learned, 10 + u64::from(flood));
    assert_eq!(c.expired, 0);
}

#[test]
fn eviction_takes_the_fullest_ports_least_recently_stamped_entry() {
    let t0 = Instant::now();
    let mut t = table(4);
    t.learn(mac(1), A, t0);
    t.learn(mac(2), A, t0 + secs(1.0));
    t.learn(mac(3), A, t0 + secs(2.0));
    t.learn(mac(4), B, t0 + secs(3.0));
    // mac(1) is refreshed, so mac(2) is now A's least recently stamped.
    t.learn(mac(1), A, t0 + secs(4.0));
    assert_eq!(t.learn(mac(5), C, t0 + secs(5.0)), Learned::New);
    let now = t0 + secs(5.0);
    assert_eq!(t.lookup(mac(2), now), None);
    for m in [1, 3] {
        assert_eq!(t.lookup(mac(m), now), Some(A));
    }
    assert_eq!(t.lookup(mac(4), now), Some(B));
    assert_eq!(t.lookup(mac(5), now), Some(C));
    assert_eq!(t.counters().evicted, 1);
}

#[test]
fn a_full_table_drops_expired_entries_before_evicting() {
    let t0 = Instant::now();
    let mut t = table(3);
    t.learn(mac(1), A, t0);
    t.learn(mac(2), A, t0);
    t.learn(mac(3), B, t0 + secs(200.0));
    let now = t0 + secs(301.0);
    assert_eq!(t.learn(mac(4), B, now), Learned::New);
    let c = t.counters();
    assert_eq!((c.expired, c.evicted), (2, 0));
    assert_eq!(t.lookup(mac(3), now), Some(B));
    assert_eq!(t.len(), 2);
}

#[test]
fn pinned_entries_are_outside_the_bound() {
    let t0 = Instant::now();
    let mut t = table(2);
    t.insert_static(mac(100), A, EntryKind::Local);
    for i in 0..10 {
        t.learn(mac(i), A, t0);
    }
    assert_eq!(t.lookup(mac(100), t0), Some(A));
    assert_eq!((t.len(), t.dynamic_len(), t.port_count(A)), (3, 2, 3));
    assert_eq!(t.counters().evicted, 8);
}

#[test]
fn flush_removes_learned_entries_only() {
    let t0 = Instant::now();
    let mut t = MacTable::default();
    t.insert_static(mac(100), A, EntryKind::Static);
    for i in 0..5 {
        t.learn(mac(i), if i % 2 == 0 { A } else { B }, t0);
    }
    assert_eq!(t.flush(), 5);
    assert_eq!(t.len(), 1);
    assert_eq!(t.lookup(mac(100), t0), Some(A));
    assert_eq!(t.next_expiry(), None);
    assert_eq!(t.flush(), 0);
    assert_eq!(t.counters().expired + t.counters().evicted, 0);
}

#[test]
fn flush_port_removes_everything_on_the_port() {
    let t0 = Instant::now();
    let mut t = MacTable::default();
    t.insert_static(mac(100), A, EntryKind::Static);
    t.insert_static(mac(101), B, EntryKind::Local);
    for i in 0..6 {
        t.learn(mac(i), if i < 4 { A } else { B }, t0);
    }
    assert_eq!(t.flush_port(A), 5);
    assert_eq!(t.port_count(A), 0);
    assert_eq!(t.lookup(mac(0), t0), None);
    assert_eq!(t.lookup(mac(100), t0), None);
    assert_eq!(t.port_count(B), 3);
    assert_eq!(t.lookup(mac(4), t0), Some(B));
    assert_eq!(t.flush_port(A), 0);
    assert_eq!(t.flush_port(C), 0);
    // The table keeps working after the port's lists are gone.
    assert_eq!(t.learn(mac(0), A, t0), Learned::New);
    assert_eq!(t.port_count(A), 1);
}

#[test]
fn entries_report_live_entries_with_their_age() {
    let t0 = Instant::now();
    let mut t = MacTable::default();
    t.learn(mac(1), A, t0);
    t.learn(mac(2), B, t0 + secs(100.0));
    t.insert_static(mac(3), C, EntryKind::Local);
    let mut v: Vec<EntryInfo> = t.entries(t0 + secs(350.0)).collect();
    v.sort_by_key(|e| e.mac);
    assert_eq!(
        v,
        [
            EntryInfo {
                mac: mac(2),
                vlan: 0,
                port: B,
                age: secs(250.0),
                kind: EntryKind::Dynamic
            },
            EntryInfo {
                mac: mac(3),
                vlan: 0,
                port: C,
                age: Duration::ZERO,
                kind: EntryKind::Local
            },
        ]
    );
}

#[test]
fn counters_add_up() {
    let t0 = Instant::now();
    let mut t = table(3);
    t.learn(mac(1), A, t0); // learned
    t.learn(mac(2), A, t0); // learned
    t.learn(mac(2), B, t0); // moved
    t.learn(mac(3), C, t0); // learned
    t.learn(mac(4), C, t0); // learned, evicts one
    t.expire(t0 + secs(300.0)); // expires the other three
    assert_eq!(
        t.counters(),
        Counters {
            learned: 4,
            moved: 1,
            expired: 3,
            evicted: 1
        }
    );
}

#[test]
fn shrinking_the_bound_evicts_fairly() {
    let t0 = Instant::now();
    let mut t = table(10);
    // A has the lower id, so A loses ties.
    for i in 0..6 {
        t.learn(mac(i), A, t0 + secs(f64::from(i)));
    }
    for i in 6..10 {
        t.learn(mac(i), B, t0 + secs(f64::from(i)));
    }
    let now = t0 + secs(20.0);
    let config = Config {
        max_entries: 6,
        ..t.config()
    };
    t.set_config(config, now);
    assert_eq!(t.config(), config);
    assert_eq!((t.port_count(A), t.port_count(B)), (3, 3));
    assert_eq!(t.counters().evicted, 4);
    // Each port lost its oldest.
    for i in 0..10 {
        let want = match i {
            3..=5 => Some(A),
            7..=9 => Some(B),
            _ => None,
        };
        assert_eq!(t.lookup(mac(i), now), want, "mac {i}");
    }
    // The new bound holds for learning too.
    t.learn(mac(50), C, now);
    assert_eq!(t.len(), 6);
}

#[test]
fn shortening_ageing_expires_at_once() {
    let t0 = Instant::now();
    let mut t = MacTable::default();
    t.learn(mac(1), A, t0);
    t.learn(mac(2), A, t0 + secs(50.0));
    let now = t0 + secs(60.0);
    t.set_config(
        Config {
            ageing: secs(30.0),
            ..t.config()
        },
        now,
    );
    assert_eq!(t.len(), 1);
    assert_eq!(t.counters().expired, 1);
    assert_eq!(t.next_expiry(), Some(t0 + secs(80.0)));
}

#[test]
fn lengthening_ageing_keeps_entries_longer() {
    // Deadlines are computed when a stamp is written; a new ageing must move them.
    let t0 = Instant::now();
    let mut t = MacTable::new(Config {
        ageing: secs(30.0),
        ..Config::default()
    });
    t.learn(mac(1), A, t0);
    assert_eq!(t.next_expiry(), Some(t0 + secs(30.0)));
    t.set_config(
        Config {
            ageing: secs(60.0),
            ..t.config()
        },
        t0 + secs(20.0),
    );
    assert_eq!(t.next_expiry(), Some(t0 + secs(60.0)));
    assert_eq!(t.lookup(mac(1), t0 + secs(45.0)), Some(A));
    // Learning within the stamp interval of the original stamp still writes nothing.
    assert_eq!(t.learn(mac(1), A, t0 + secs(0.5)), Learned::Refreshed);
    assert_eq!(t.lookup(mac(1), t0 + secs(60.0)), None);
    assert_eq!(t.expire(t0 + secs(60.0)), 1);
}

#[test]
fn an_endless_ageing_never_expires() {
    let t0 = Instant::now();
    let mut t = MacTable::new(Config {
        ageing: Duration::MAX,
        ..Config::default()
    });
    assert_eq!(t.learn(mac(1), A, t0), Learned::New);
    let century = t0 + Duration::from_secs(100 * 365 * 24 * 3600);
    assert_eq!(t.lookup(mac(1), century), Some(A));
    assert_eq!(t.expire(century), 0);
    assert!(t.next_expiry().is_some_and(|at| at > century));
    // The stamp is still written at most once a second.
    assert_eq!(t.learn(mac(1), A, t0 + secs(0.5)), Learned::Refreshed);
    assert_eq!(t.learn(mac(1), A, century), Learned::Refreshed);
    assert_eq!(t.lookup(mac(1), century), Some(A));
}

#[test]
fn a_zero_bound_acts_as_one() {
    let t0 = Instant::now();
    let mut t = table(0);
    t.learn(mac(1), A, t0);
    t.learn(mac(2), A, t0);
    assert_eq!(t.len(), 1);
    assert_eq!(t.lookup(mac(2), t0), Some(A));
}

#[test]
fn out_of_order_now_keeps_working() {
    // Threads may hand in `now`s a little out of order.
    let t0 = Instant::now() + secs(10.0);
    let mut t = MacTable::default();
    t.learn(mac(1), A, t0);
    assert_eq!(t.learn(mac(2), A, t0 - secs(0.001)), Learned::New);
    assert_eq!(t.learn(mac(1), A, t0 - secs(5.0)), Learned::Refreshed);
    assert_eq!(t.lookup(mac(2), t0 - secs(5.0)), Some(A));
    assert_eq!(t.next_expiry(), Some(t0 + secs(300.0)));
    assert_eq!(t.expire(t0 + secs(300.0)), 2);
}

#[test]
fn port_id_displays_as_its_number() {
    assert_eq!(PortId(7).to_string(), "7");
}

#[test]
fn the_same_mac_in_two_vlans_is_two_entries() {
    let mut t = table(100);
    let t0 = Instant::now();
    let (v100, v200) = (Addr::new(100, mac(1)), Addr::new(200, mac(1)));
    assert_eq!(t.learn(v100, A, t0), Learned::New);
    assert_eq!(t.learn(v200, B, t0), Learned::New, "not a move");
    assert_eq!(t.len(), 2);
    assert_eq!(t.lookup(v100, t0), Some(A));
    assert_eq!(t.lookup(v200, t0), Some(B));
    assert_eq!(t.lookup(mac(1), t0), None, "VLAN 0 knows nothing of it");
    assert_eq!(t.lookup(Addr::new(300, mac(1)), t0), None);
    // Moving in one VLAN leaves the other alone.
    assert_eq!(t.learn(v100, C, t0), Learned::Moved { from: A });
    assert_eq!(t.lookup(v200, t0), Some(B));
    let mut v: Vec<(u16, PortId)> = t.entries(t0).map(|e| (e.vlan, e.port)).collect();
    v.sort();
    assert_eq!(v, [(100, C), (200, B)]);
    assert_eq!(t.remove_entry(v200), Some(EntryKind::Dynamic));
    assert_eq!(t.lookup(v100, t0), Some(C));
    assert_eq!(t.counters().learned, 2);
    assert_eq!(t.counters().moved, 1);
}

#[test]
fn vlans_share_the_bound_and_evict_fairly_by_port() {
    let mut t = table(4);
    let t0 = Instant::now();
    // Port A holds three entries over two VLANs, B one.
    t.learn(Addr::new(1, mac(1)), A, t0);
    t.learn(Addr::new(2, mac(1)), A, t0 + secs(1.0));
    t.learn(Addr::new(2, mac(2)), A, t0 + secs(2.0));
    t.learn(Addr::new(1, mac(9)), B, t0 + secs(3.0));
    assert_eq!(
        t.learn(Addr::new(3, mac(5)), C, t0 + secs(4.0)),
        Learned::New
    );
    assert_eq!(t.counters().evicted, 1);
    assert_eq!(
        t.lookup(Addr::new(1, mac(1)), t0 + secs(4.0)),
        None,
        "A's oldest"
    );
    assert_eq!(t.lookup(Addr::new(2, mac(1)), t0 + secs(4.0)), Some(A));
    assert_eq!(t.lookup(Addr::new(1, mac(9)), t0 + secs(4.0)), Some(B));
}

#[test]
fn vlans_age_apart() {
    let mut t = table(10);
    let t0 = Instant::now();
    t.learn(Addr::new(10, mac(1)), A, t0);
    t.learn(Addr::new(20, mac(1)), A, t0 + secs(200.0));
    assert_eq!(t.expire(t0 + secs(300.0)), 1);
    assert_eq!(t.lookup(Addr::new(10, mac(1)), t0 + secs(300.0)), None);
    assert_eq!(t.lookup(Addr::new(20, mac(1)), t0 + secs(300.0)), Some(A));
}
