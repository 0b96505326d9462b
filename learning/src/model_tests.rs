//! `MacTable` against a naive model: a `BTreeMap` that scans for everything.
//! It lives inside the crate so that every step can also check the lists'
//! structural invariants.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::{Addr, Config, Counters, EntryInfo, EntryKind, Learned, MacTable, PortId};

#[derive(Debug, Clone, Copy)]
struct ModelEntry {
    port: PortId,
    /// `None` for pinned entries; the stamp and the order it was written in.
    stamp: Option<(Instant, u64)>,
    kind: EntryKind,
}

/// The table's documented behaviour, written the slow and obvious way.
struct Model {
    config: Config,
    entries: BTreeMap<Addr, ModelEntry>,
    writes: u64,
    counters: Counters,
}

impl Model {
    fn expired(&self, e: &ModelEntry, now: Instant) -> bool {
        e.stamp
            .is_some_and(|(t, _)| now.saturating_duration_since(t) >= self.config.ageing)
    }

    fn stamp(&mut self, now: Instant) -> Option<(Instant, u64)> {
        self.writes += 1;
        Some((now, self.writes))
    }

    fn dynamic_len(&self) -> usize {
        self.entries.values().filter(|e| e.stamp.is_some()).count()
    }

    fn bound(&self) -> usize {
        self.config.max_entries.max(1)
    }

    /// Whether `learn` would write: not for an ignored source, a pinned
    /// entry, or a live entry on this port stamped under a second ago.
    fn needs_update(&self, mac: Addr, port: PortId, now: Instant) -> bool {
        if mac.mac[0] & 1 == 1 || mac.mac == [0; 6] {
            return false;
        }
        match self.entries.get(&mac) {
            None => true,
            Some(e) => match e.stamp {
                None => false,
                Some((t, _)) => {
                    e.port != port || self.expired(e, now) || now - t >= Duration::from_secs(1)
                }
            },
        }
    }

    fn learn(&mut self, mac: Addr, port: PortId, now: Instant) -> Learned {
        if mac.mac[0] & 1 == 1 || mac.mac == [0; 6] {
            return Learned::Ignored;
        }
        if let Some(e) = self.entries.get(&mac).copied() {
            match e.stamp {
                None => return Learned::Pinned,
                Some(_) if self.expired(&e, now) => {
                    self.entries.remove(&mac);
                    self.counters.expired += 1;
                }
                Some((t, _)) if e.port == port => {
                    if now - t >= Duration::from_secs(1) {
                        let stamp = self.stamp(now);
                        self.entries.get_mut(&mac).unwrap().stamp = stamp;
                    }
                    return Learned::Refreshed;
                }
                Some(_) => {
                    let stamp = self.stamp(now);
                    let entry = self.entries.get_mut(&mac).unwrap();
                    entry.port = port;
                    entry.stamp = stamp;
                    self.counters.moved += 1;
                    return Learned::Moved { from: e.port };
                }
            }
        }
        if self.dynamic_len() >= self.bound() {
            self.expire(now);
            while self.dynamic_len() >= self.bound() {
                self.evict();
            }
        }
        let stamp = self.stamp(now);
        self.entries.insert(
            mac,
            ModelEntry {
                port,
                stamp,
                kind: EntryKind::Dynamic,
            },
        );
        self.counters.learned += 1;
        Learned::New
    }

    /// The fullest port's oldest entry; ties to the lower port id.
    fn evict(&mut self) {
        let mut per_port: BTreeMap<PortId, Vec<(Instant, u64, Addr)>> = BTreeMap::new();
        for (&mac, e) in &self.entries {
            if let Some((t, seq)) = e.stamp {
                per_port.entry(e.port).or_default().push((t, seq, mac));
            }
        }
        let (_, victims) = per_port
            .into_iter()
            .map(|(port, mut v)| {
                v.sort();
                (port, v)
            })
            .max_by_key(|(port, v)| (v.len(), Reverse(*port)))
            .unwrap();
        self.entries.remove(&victims[0].2);
        self.counters.evicted += 1;
    }

    fn lookup(&self, mac: Addr, now: Instant) -> Option<PortId> {
        let e = self.entries.get(&mac)?;
        (!self.expired(e, now)).then_some(e.port)
    }

    fn expire(&mut self, now: Instant) -> usize {
        let dead: Vec<Addr> = self
            .entries
            .iter()
            .filter(|(_, e)| self.expired(e, now))
            .map(|(&m, _)| m)
            .collect();
        for mac in &dead {
            self.entries.remove(mac);
        }
        self.counters.expired += dead.len() as u64;
        dead.len()
    }

    fn flush_port(&mut self, port: PortId) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, e| e.port != port);
        before - self.entries.len()
    }

    fn flush(&mut self) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, e| e.stamp.is_none());
        before - self.entries.len()
    }

    fn entries(&self, now: Instant) -> Vec<EntryInfo> {
        self.entries
            .iter()
            .filter(|(_, e)| !self.expired(e, now))
            .map(|(&addr, e)| EntryInfo {
                mac: addr.mac,
                vlan: addr.vlan,
                port: e.port,
                age: e.stamp.map_or(Duration::ZERO, |(t, _)| now - t),
                kind: e.kind,
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Learn(usize, u32),
    Lookup(usize),
    Advance(Duration),
    Expire,
    FlushPort(u32),
    Flush,
    Pin(usize, u32, EntryKind),
    Remove(usize),
    SetBound(usize),
    SetAgeing(Duration),
}

/// Unicast stations (eight addresses, each in VLAN 0 and VLAN 100, so the
/// same MAC in two VLANs is two entries), then a multicast, the broadcast and
/// the zero address.
fn mac(i: usize) -> Addr {
    match i {
        0..16 => Addr::new(100 * (i / 8) as u16, [0x02, 0, 0, 0, 0, (i % 8) as u8]),
        16 => [0x01, 0x00, 0x5e, 0, 0, 1].into(),
        17 => [0xff; 6].into(),
        _ => [0; 6].into(),
    }
}

const PORTS: u32 = 4;

fn op() -> impl Strategy<Value = Op> {
    let kind = prop_oneof![Just(EntryKind::Static), Just(EntryKind::Local)];
    prop_oneof![
        12 => (0..19usize, 0..PORTS).prop_map(|(m, p)| Op::Learn(m, p)),
        6 => (0..19usize).prop_map(Op::Lookup),
        // Mostly sub-second steps, to exercise the once-a-second stamp rule.
        4 => (0..2500u64).prop_map(|ms| Op::Advance(Duration::from_millis(ms))),
        1 => (0..15u64).prop_map(|s| Op::Advance(Duration::from_secs(s))),
        2 => Just(Op::Expire),
        1 => (0..PORTS).prop_map(Op::FlushPort),
        1 => Just(Op::Flush),
        1 => (0..16usize, 0..PORTS, kind).prop_map(|(m, p, k)| Op::Pin(m, p, k)),
        1 => (0..19usize).prop_map(Op::Remove),
        1 => (0..12usize).prop_map(Op::SetBound),
        // Half a second to 12 s: below the stamp interval, and around the
        // default steps, so that entries' deadlines move both ways.
        1 => (1..25u64).prop_map(|n| Op::SetAgeing(Duration::from_millis(500 * n))),
    ]
}

fn sorted(mut v: Vec<EntryInfo>) -> Vec<EntryInfo> {
    v.sort_by_key(|e| (e.vlan, e.mac));
    v
}

fn run(bound: usize, ops: Vec<Op>, pins: bool) {
    let config = Config {
        max_entries: bound,
        ageing: Duration::from_secs(10),
    };
    let mut table = MacTable::new(config);
    let mut model = Model {
        config,
        entries: BTreeMap::new(),
        writes: 0,
        counters: Counters::default(),
    };
    let mut now = Instant::now();
    for op in ops {
        match op {
            Op::Learn(m, p) => {
                let (mac, port) = (mac(m), PortId(p));
                assert_eq!(
                    table.needs_update(mac, port, now),
                    model.needs_update(mac, port, now)
                );
                let expect = model.learn(mac, port, now);
                assert_eq!(table.learn(mac, port, now), expect, "{op:?}");
            }
            Op::Lookup(m) => assert_eq!(table.lookup(mac(m), now), model.lookup(mac(m), now)),
            Op::Advance(d) => now += d,
            Op::Expire => assert_eq!(table.expire(now), model.expire(now)),
            Op::FlushPort(p) => {
                assert_eq!(table.flush_port(PortId(p)), model.flush_port(PortId(p)))
            }
            Op::Flush => assert_eq!(table.flush(), model.flush()),
            Op::Pin(m, p, kind) if pins => {
                table.insert_static(mac(m), PortId(p), kind);
                model.entries.insert(
                    mac(m),
                    ModelEntry {
                        port: PortId(p),
                        stamp: None,
                        kind,
                    },
                );
            }
            Op::Pin(..) => {}
            Op::Remove(m) => assert_eq!(
                table.remove_entry(mac(m)),
                model.entries.remove(&mac(m)).map(|e| e.kind)
            ),
            Op::SetBound(n) => {
                let config = Config {
                    max_entries: n,
                    ..model.config
                };
                table.set_config(config, now);
                model.config = config;
                model.expire(now);
                while model.dynamic_len() > model.bound() {
                    model.evict();
                }
            }
            Op::SetAgeing(ageing) => {
                let config = Config {
                    ageing,
                    ..model.config
                };
                table.set_config(config, now);
                model.config = config;
                model.expire(now);
            }
        }
        table.check_invariants();
        assert_eq!(table.len(), model.entries.len());
        assert_eq!(table.dynamic_len(), model.dynamic_len());
        assert!(table.dynamic_len() <= table.config().max_entries.max(1));
        if !pins {
            assert!(table.len() <= table.config().max_entries.max(1));
        }
        for p in 0..PORTS {
            let want = model
                .entries
                .values()
                .filter(|e| e.port == PortId(p))
                .count();
            assert_eq!(table.port_count(PortId(p)), want);
        }
        assert_eq!(table.counters(), model.counters);
        let oldest = model.entries.values().filter_map(|e| e.stamp).min();
        assert_eq!(
            table.next_expiry(),
            oldest.map(|(t, _)| t + model.config.ageing)
        );
        assert_eq!(sorted(table.entries(now).collect()), model.entries(now));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matches_model(bound in 1..10usize, ops in prop::collection::vec(op(), 1..200)) {
        run(bound, ops, true);
    }

    /// Without pinned entries every entry counts against the bound.
    #[test]
    fn matches_model_without_pins(bound in 1..10usize, ops in prop::collection::vec(op(), 1..200)) {
        run(bound, ops, false);
    }
}
