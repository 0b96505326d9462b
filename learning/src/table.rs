//! The single-owner MAC table: a keyed hash map into a slab of entries that
//! are threaded on intrusive LRU lists. See the crate documentation for why.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::time::{Duration, Instant};

use foldhash::fast::RandomState;

use crate::list::{Chain, Link, Linked, List, NIL, UNLINKED, index};
use crate::ports::{PortId, Ports};

/// An Ethernet address, in wire order.
pub type Mac = [u8; 6];

/// What the table is keyed by: a station is an address in a VLAN, so the same MAC in two VLANs
/// is two entries (as OVS's MAC table and the Linux bridge's fdb key them). A bare [`Mac`]
/// converts to VLAN 0, the untagged VLAN of a bridge without VLANs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr {
    /// The 802.1Q VID, 0 untagged.
    pub vlan: u16,
    /// The station's address.
    pub mac: Mac,
}

impl Addr {
    /// `mac` in `vlan`.
    #[inline]
    pub const fn new(vlan: u16, mac: Mac) -> Addr {
        Addr { vlan, mac }
    }
}

impl From<Mac> for Addr {
    #[inline]
    fn from(mac: Mac) -> Addr {
        Addr { vlan: 0, mac }
    }
}

/// How big the table may grow and how long a learned entry lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Most learned (dynamic) entries kept at once; a new source beyond this
    /// evicts fairly. `Static` and `Local` entries do not count. 0 acts as 1.
    pub max_entries: usize,
    /// Idle time after which a learned entry is gone: an entry last stamped at
    /// `t` is a miss from `t + ageing` on.
    pub ageing: Duration,
}

impl Config {
    /// OVS's `mac-table-size` default.
    pub const DEFAULT_MAX_ENTRIES: usize = 8192;
    /// OVS's `mac-aging-time` default (and the Linux bridge's `ageing_time`).
    pub const DEFAULT_AGEING: Duration = Duration::from_secs(300);
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_entries: Self::DEFAULT_MAX_ENTRIES,
            ageing: Self::DEFAULT_AGEING,
        }
    }
}

/// What [`MacTable::learn`] did with a source address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned {
    /// The address was unknown (or known but already expired) and is now
    /// learned on the port.
    New,
    /// Already learned on this port. Its timestamp was written only if the
    /// last write is at least [`STAMP_INTERVAL`] old.
    Refreshed,
    /// The address was learned on another port and now points at this one.
    Moved {
        /// The port the address was learned on before.
        from: PortId,
    },
    /// A multicast, broadcast or all-zero source: it names no single
    /// station, so it is never learned.
    Ignored,
    /// A `Static` or `Local` entry holds the address: learning never takes it
    /// over, so a frame claiming the bridge's own MAC cannot redirect it.
    Pinned,
}

/// Where an entry came from, which decides whether it ages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// Learned from traffic: ages, moves, may be evicted.
    Dynamic,
    /// Configured by the administrator: never ages, moves or gets evicted.
    Static,
    /// One of the bridge's own addresses (the TAP's MAC): like `Static`, and
    /// frames to it go up to the host.
    Local,
}

/// One live entry, as [`MacTable::entries`] reports it for `fdb/show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryInfo {
    /// The station's address.
    pub mac: Mac,
    /// The VLAN it was learned in.
    pub vlan: u16,
    /// Where frames to it go.
    pub port: PortId,
    /// Time since the last timestamp write; zero for `Static` and `Local`
    /// entries, which carry no timestamp.
    pub age: Duration,
    /// Where the entry came from.
    pub kind: EntryKind,
}

/// Event counts since the table was created (flushes count nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// New entries learned.
    pub learned: u64,
    /// Entries that moved to another port.
    pub moved: u64,
    /// Entries removed because they were idle for `ageing`.
    pub expired: u64,
    /// Live entries removed to make room (full table or a smaller bound).
    pub evicted: u64,
}

/// A learned entry's timestamp is written at most this often: a station
/// sending a million frames a second costs one write a second, not a million.
pub const STAMP_INTERVAL: Duration = Duration::from_secs(1);

/// Whether `mac` can be a learned source: a group address (multicast or
/// broadcast, I/G bit set) or all zeros names no single station.
pub fn is_learnable(mac: Mac) -> bool {
    mac[0] & 1 == 0 && mac != [0; 6]
}

/// How much of the bound [`MacTable`] reserves up front (OVS's largest
/// allowed `mac-table-size`); a bigger table grows on demand.
const PREALLOC_LIMIT: usize = 1 << 20;

/// The map's key: the six address bytes and the VLAN in one integer (48 bits
/// of MAC, the VID in the 16 above), so that hashing is one `write_u64` (one
/// multiply in foldhash) and comparing a probed key is one compare, rather
/// than a length prefix and a byte slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key(u64);

impl Key {
    #[inline]
    fn new(addr: Addr) -> Key {
        let [a, b, c, d, e, f] = addr.mac;
        let [v0, v1] = addr.vlan.to_le_bytes();
        Key(u64::from_le_bytes([a, b, c, d, e, f, v0, v1]))
    }

    fn addr(self) -> Addr {
        let [a, b, c, d, e, f, v0, v1] = self.0.to_le_bytes();
        Addr::new(u16::from_le_bytes([v0, v1]), [a, b, c, d, e, f])
    }
}

/// When a learned entry next needs something, computed once from its stamp
/// whenever the stamp is written (at most once a second), so that the checks
/// every frame makes are comparisons of `now` against a stored `Instant`
/// instead of `Instant` subtractions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Deadlines {
    /// Stamp + min([`STAMP_INTERVAL`], ageing): from then on a learn on the
    /// same port writes the stamp again.
    restamp: Instant,
    /// Stamp + ageing: from then on the entry is a miss and may be swept.
    expires: Instant,
}

impl Deadlines {
    fn new(stamp: Instant, ageing: Duration) -> Deadlines {
        Deadlines {
            restamp: after(stamp, STAMP_INTERVAL.min(ageing)),
            expires: after(stamp, ageing),
        }
    }

    #[inline]
    fn is_expired(self, now: Instant) -> bool {
        now >= self.expires
    }

    #[inline]
    fn needs_restamp(self, now: Instant) -> bool {
        now >= self.restamp
    }
}

/// `stamp + wait`, or if that is past the last `Instant` the platform can
/// represent (an `ageing` of `Duration::MAX`, say), the latest one it can:
/// centuries away, which is never for a switch. Keeps the per-frame checks to
/// one comparison instead of an `Option` and a comparison.
fn after(stamp: Instant, mut wait: Duration) -> Instant {
    loop {
        if let Some(at) = stamp.checked_add(wait) {
            return at;
        }
        wait /= 2;
    }
}

/// The deadlines live in the kind: only learned entries have them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stamp {
    Dynamic(Deadlines),
    Static,
    Local,
}

impl Stamp {
    fn kind(self) -> EntryKind {
        match self {
            Stamp::Dynamic(_) => EntryKind::Dynamic,
            Stamp::Static => EntryKind::Static,
            Stamp::Local => EntryKind::Local,
        }
    }
}

/// What a lookup needs, stored in the map itself so that a lookup (and a
/// learn that writes nothing) reads one hash bucket and nothing else.
#[derive(Debug, Clone, Copy)]
struct Entry {
    port: PortId,
    stamp: Stamp,
    /// The entry's place on the lists.
    slot: u32,
}

/// An entry's place on the lists. Only learning, ageing and eviction touch
/// the slab; lookups never do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    /// To find the map entry from a list (expiry, eviction, flushes).
    key: Key,
    /// When the timestamp was last written (`None` for pinned entries): the
    /// deadlines in the map derive from it, the lists are sorted by it.
    stamped: Option<Instant>,
    /// The port's index in `Ports`.
    port: u32,
    /// In the global ageing list (dynamic entries); the free list when vacant.
    age_link: Link,
    /// In its port's dynamic list or its port's pinned list.
    port_link: Link,
}

impl Linked for Slot {
    #[inline]
    fn link(&mut self, chain: Chain) -> &mut Link {
        match chain {
            Chain::Age => &mut self.age_link,
            Chain::Port => &mut self.port_link,
        }
    }
}

/// The MAC learning table. One owner mutates it; for many threads see
/// [`SharedMacTable`](crate::SharedMacTable).
pub struct MacTable {
    config: Config,
    /// MACs come off the wire: a per-process random key keeps an attacker from
    /// choosing addresses that all land in one bucket.
    map: HashMap<Key, Entry, RandomState>,
    slots: Vec<Slot>,
    /// Head of the vacant slots, chained through `age_link.next`.
    free: u32,
    /// Every dynamic entry, oldest stamp first: `expire` stops at the first
    /// live one and `next_expiry` reads the head.
    ageing: List,
    /// Ports that hold entries, with their lists and the eviction heap.
    ports: Ports,
    /// The newest stamp written. Stamps never go below it, so the lists stay
    /// sorted even if callers hand in slightly out-of-order `now`s.
    latest: Option<Instant>,
    counters: Counters,
}

impl fmt::Debug for MacTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MacTable")
            .field("config", &self.config)
            .field("len", &self.len())
            .field("dynamic", &self.ageing.len)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl Default for MacTable {
    fn default() -> Self {
        MacTable::new(Config::default())
    }
}

impl MacTable {
    /// An empty table. Reserves room for `max_entries` (up to 2^20) so that
    /// learning never rehashes the whole table while holding a write lock.
    pub fn new(config: Config) -> Self {
        let reserve = bound_of(config).min(PREALLOC_LIMIT);
        MacTable {
            config,
            map: HashMap::with_capacity_and_hasher(reserve, RandomState::default()),
            slots: Vec::with_capacity(reserve),
            free: NIL,
            ageing: List::EMPTY,
            ports: Ports::default(),
            latest: None,
            counters: Counters::default(),
        }
    }

    /// The configuration as last set.
    pub fn config(&self) -> Config {
        self.config
    }

    /// Changes the bound and the ageing time. Entries already idle for the
    /// new `ageing` expire now; a smaller bound evicts fairly down to it.
    /// A new `ageing` recomputes every learned entry's deadlines: O(entries),
    /// once per configuration change.
    pub fn set_config(&mut self, config: Config, now: Instant) {
        let ageing_changed = config.ageing != self.config.ageing;
        self.config = config;
        if ageing_changed {
            for entry in self.map.values_mut() {
                if let Stamp::Dynamic(_) = entry.stamp {
                    let stamped = self.slots[entry.slot as usize]
                        .stamped
                        .expect("a learned entry has a stamp");
                    entry.stamp = Stamp::Dynamic(Deadlines::new(stamped, config.ageing));
                }
            }
        }
        let bound = self.bound();
        let reserve = bound.min(PREALLOC_LIMIT);
        self.map.reserve(reserve.saturating_sub(self.map.len()));
        self.slots.reserve(reserve.saturating_sub(self.slots.len()));
        self.expire(now);
        while self.ageing.len > bound && self.evict_fairly() {}
    }

    /// Learns that `mac` sends from `port`.
    ///
    /// The timestamp of an entry already on `port` is written only when the
    /// last write is [`STAMP_INTERVAL`] old, so the common case writes nothing.
    /// A new entry in a full table first sweeps expired entries, then evicts
    /// the least recently stamped entry of the port holding the most.
    pub fn learn(&mut self, addr: impl Into<Addr>, port: PortId, now: Instant) -> Learned {
        let addr = addr.into();
        if !is_learnable(addr.mac) {
            return Learned::Ignored;
        }
        if let Some(entry) = self.map.get_mut(&Key::new(addr)) {
            let idx = entry.slot;
            match entry.stamp {
                Stamp::Static | Stamp::Local => return Learned::Pinned,
                // Lookups already miss it; the station is new again.
                Stamp::Dynamic(d) if d.is_expired(now) => {
                    self.remove(idx);
                    self.counters.expired += 1;
                }
                Stamp::Dynamic(d) if entry.port == port => {
                    if d.needs_restamp(now) {
                        let stamp = next_stamp(&mut self.latest, now);
                        entry.stamp = Stamp::Dynamic(Deadlines::new(stamp, self.config.ageing));
                        self.slots[idx as usize].stamped = Some(stamp);
                        self.requeue(idx);
                    }
                    return Learned::Refreshed;
                }
                Stamp::Dynamic(_) => {
                    let from = entry.port;
                    let stamp = next_stamp(&mut self.latest, now);
                    entry.port = port;
                    entry.stamp = Stamp::Dynamic(Deadlines::new(stamp, self.config.ageing));
                    self.slots[idx as usize].stamped = Some(stamp);
                    self.unlink_port(idx, true);
                    let p = self.ports.find_or_add(port);
                    self.slots[idx as usize].port = p;
                    let lists = self.ports.get_mut(p);
                    lists.dynamic.push_back(&mut self.slots, idx, Chain::Port);
                    self.ports.update(p);
                    self.ageing.unlink(&mut self.slots, idx, Chain::Age);
                    self.ageing.push_back(&mut self.slots, idx, Chain::Age);
                    self.counters.moved += 1;
                    return Learned::Moved { from };
                }
            }
        }
        let bound = self.bound();
        if self.ageing.len >= bound {
            // Dead entries go before any live one is evicted.
            self.expire(now);
            while self.ageing.len >= bound && self.evict_fairly() {}
        }
        let stamp = next_stamp(&mut self.latest, now);
        let deadlines = Deadlines::new(stamp, self.config.ageing);
        let idx = self.insert_entry(addr, port, Stamp::Dynamic(deadlines), Some(stamp));
        self.ageing.push_back(&mut self.slots, idx, Chain::Age);
        self.counters.learned += 1;
        Learned::New
    }

    /// Whether [`learn`](Self::learn) would change anything: false for an
    /// ignored source, a pinned entry, or an entry on `port` stamped less than
    /// [`STAMP_INTERVAL`] ago. Needs only `&self`, so it runs under a read lock.
    #[inline]
    pub fn needs_update(&self, addr: impl Into<Addr>, port: PortId, now: Instant) -> bool {
        self.settled(addr.into(), port, now).is_none()
    }

    /// What `learn` would return if it would write nothing; `None` if it writes.
    #[inline]
    pub(crate) fn settled(&self, addr: Addr, port: PortId, now: Instant) -> Option<Learned> {
        if !is_learnable(addr.mac) {
            return Some(Learned::Ignored);
        }
        let entry = self.map.get(&Key::new(addr))?;
        match entry.stamp {
            Stamp::Static | Stamp::Local => Some(Learned::Pinned),
            // Before the restamp deadline implies not expired: it is at most
            // `ageing` after the stamp.
            Stamp::Dynamic(d) if entry.port == port && !d.needs_restamp(now) => {
                Some(Learned::Refreshed)
            }
            Stamp::Dynamic(_) => None,
        }
    }

    /// The port `mac` was learned on, if any. An entry idle for `ageing` is a
    /// miss even before [`expire`](Self::expire) removes it. Reads one hash
    /// bucket; writes nothing.
    #[inline]
    pub fn lookup(&self, addr: impl Into<Addr>, now: Instant) -> Option<PortId> {
        let entry = self.map.get(&Key::new(addr.into()))?;
        match entry.stamp {
            Stamp::Dynamic(d) if d.is_expired(now) => None,
            _ => Some(entry.port),
        }
    }

    /// Pins `mac` to `port` as a `Static` or `Local` entry, replacing whatever
    /// entry `mac` had. Pinned entries never age and are not bounded by
    /// `max_entries`: the administrator configures them, the network does not.
    /// `kind` `Dynamic` is taken as `Static`.
    pub fn insert_static(&mut self, addr: impl Into<Addr>, port: PortId, kind: EntryKind) {
        let addr = addr.into();
        let stamp = match kind {
            EntryKind::Local => Stamp::Local,
            EntryKind::Static | EntryKind::Dynamic => Stamp::Static,
        };
        if let Some(entry) = self.map.get(&Key::new(addr)) {
            self.remove(entry.slot);
        }
        self.insert_entry(addr, port, stamp, None);
    }

    /// Removes the entry for `mac`, whatever its kind, and returns that kind.
    /// Counts nothing: this is the administrator's `fdb/del`.
    pub fn remove_entry(&mut self, addr: impl Into<Addr>) -> Option<EntryKind> {
        let entry = *self.map.get(&Key::new(addr.into()))?;
        self.remove(entry.slot);
        Some(entry.stamp.kind())
    }

    /// Removes the learned entries idle for `ageing` and returns how many.
    /// Walks the ageing list from its oldest end and stops at the first live
    /// entry, so the cost is the number removed.
    pub fn expire(&mut self, now: Instant) -> usize {
        let mut n = 0;
        while let Some((idx, d)) = self.oldest() {
            if !d.is_expired(now) {
                break;
            }
            self.remove(idx);
            n += 1;
        }
        self.counters.expired += n as u64;
        n
    }

    /// When the oldest learned entry expires: the caller sleeps until then
    /// rather than waking on a fixed tick. `None` when nothing can expire.
    pub fn next_expiry(&self) -> Option<Instant> {
        Some(self.oldest()?.1.expires)
    }

    /// Removes every learned entry; pinned ones stay. Returns how many went.
    pub fn flush(&mut self) -> usize {
        let n = self.ageing.len;
        while self.ageing.head != NIL {
            self.remove(self.ageing.head);
        }
        n
    }

    /// Removes every entry on `port`, pinned ones included: the port is gone.
    /// Returns how many went.
    pub fn flush_port(&mut self, port: PortId) -> usize {
        let Some(p) = self.ports.find(port) else {
            return 0;
        };
        let n = self.port_count(port);
        // The last removal forgets the port, so count rather than re-check.
        for _ in 0..n {
            let lists = self.ports.get(p);
            let head = match lists.dynamic.head {
                NIL => lists.pinned.head,
                head => head,
            };
            self.remove(head);
        }
        n
    }

    /// Live entries with their age, in no particular order. Entries idle for
    /// `ageing` but not yet swept are left out, as `lookup` misses them.
    pub fn entries(&self, now: Instant) -> impl Iterator<Item = EntryInfo> + '_ {
        self.map.iter().filter_map(move |(&key, entry)| {
            let age = match entry.stamp {
                Stamp::Dynamic(d) if d.is_expired(now) => return None,
                Stamp::Dynamic(_) => self.slots[entry.slot as usize]
                    .stamped
                    .map_or(Duration::ZERO, |t| now.saturating_duration_since(t)),
                Stamp::Static | Stamp::Local => Duration::ZERO,
            };
            let addr = key.addr();
            Some(EntryInfo {
                mac: addr.mac,
                vlan: addr.vlan,
                port: entry.port,
                age,
                kind: entry.stamp.kind(),
            })
        })
    }

    /// Entries held, pinned ones and expired-but-not-swept ones included.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the table holds no entry at all.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Learned entries held: the number `max_entries` bounds.
    pub fn dynamic_len(&self) -> usize {
        self.ageing.len
    }

    /// Entries held on `port`, pinned ones included.
    pub fn port_count(&self, port: PortId) -> usize {
        self.ports.find(port).map_or(0, |p| {
            let lists = self.ports.get(p);
            lists.dynamic.len + lists.pinned.len
        })
    }

    /// Event counts since creation.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    fn bound(&self) -> usize {
        bound_of(self.config)
    }

    /// The head of the ageing list and its deadlines.
    fn oldest(&self) -> Option<(u32, Deadlines)> {
        let idx = self.ageing.head;
        if idx == NIL {
            return None;
        }
        match self.map[&self.slots[idx as usize].key].stamp {
            Stamp::Dynamic(d) => Some((idx, d)),
            Stamp::Static | Stamp::Local => unreachable!("pinned entries do not age"),
        }
    }

    /// Moves a just-stamped entry to the young end of both its lists. Only
    /// this reorders a known entry, and only when its stamp is written: once
    /// a second at most. Counts do not change, so neither does the heap.
    fn requeue(&mut self, idx: u32) {
        self.ageing.unlink(&mut self.slots, idx, Chain::Age);
        self.ageing.push_back(&mut self.slots, idx, Chain::Age);
        let lists = self.ports.get_mut(self.slots[idx as usize].port);
        lists.dynamic.unlink(&mut self.slots, idx, Chain::Port);
        lists.dynamic.push_back(&mut self.slots, idx, Chain::Port);
    }

    /// Takes a slot, maps `mac` to it and puts it on its port's list. The
    /// caller puts a dynamic entry on the ageing list.
    fn insert_entry(
        &mut self,
        addr: Addr,
        port: PortId,
        stamp: Stamp,
        stamped: Option<Instant>,
    ) -> u32 {
        let p = self.ports.find_or_add(port);
        let key = Key::new(addr);
        let slot = Slot {
            key,
            stamped,
            port: p,
            age_link: UNLINKED,
            port_link: UNLINKED,
        };
        let idx = match self.free {
            NIL => {
                self.slots.push(slot);
                index(self.slots.len() - 1)
            }
            idx => {
                self.free = self.slots[idx as usize].age_link.next;
                self.slots[idx as usize] = slot;
                idx
            }
        };
        self.map.insert(
            key,
            Entry {
                port,
                stamp,
                slot: idx,
            },
        );
        let lists = self.ports.get_mut(p);
        match stamp {
            Stamp::Dynamic(_) => {
                lists.dynamic.push_back(&mut self.slots, idx, Chain::Port);
                self.ports.update(p);
            }
            Stamp::Static | Stamp::Local => {
                lists.pinned.push_back(&mut self.slots, idx, Chain::Port);
            }
        }
        idx
    }

    /// Takes the entry off its port's list; the port is forgotten with its
    /// last entry.
    fn unlink_port(&mut self, idx: u32, dynamic: bool) {
        let p = self.slots[idx as usize].port;
        let lists = self.ports.get_mut(p);
        let list = if dynamic {
            &mut lists.dynamic
        } else {
            &mut lists.pinned
        };
        list.unlink(&mut self.slots, idx, Chain::Port);
        self.ports.update(p);
    }

    /// Forgets the entry in slot `idx` everywhere and frees the slot.
    fn remove(&mut self, idx: u32) {
        let entry = self
            .map
            .remove(&self.slots[idx as usize].key)
            .expect("a used slot is mapped");
        let dynamic = matches!(entry.stamp, Stamp::Dynamic(_));
        self.unlink_port(idx, dynamic);
        if dynamic {
            self.ageing.unlink(&mut self.slots, idx, Chain::Age);
        }
        self.slots[idx as usize].age_link = Link {
            prev: NIL,
            next: self.free,
        };
        self.free = idx;
    }

    /// Evicts the least recently stamped entry of the port with the most
    /// learned entries (ties: the lower id), so one port flooding new sources
    /// only pushes out its own. The heap makes this O(log ports). False if
    /// there was nothing to evict, which ends the callers' loops whatever.
    fn evict_fairly(&mut self) -> bool {
        let Some(p) = self.ports.fullest() else {
            return false;
        };
        self.remove(self.ports.get(p).dynamic.head);
        self.counters.evicted += 1;
        true
    }

    /// Checks every structural invariant; tests call it after each operation.
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        let walk = |list: &List, chain: Chain| {
            let mut out = Vec::new();
            let mut prev = NIL;
            let mut cur = list.head;
            while cur != NIL {
                let mut slot = self.slots[cur as usize];
                let link = *slot.link(chain);
                assert_eq!(link.prev, prev, "back link");
                out.push(cur);
                prev = cur;
                cur = link.next;
            }
            assert_eq!(list.tail, prev, "tail");
            assert_eq!(list.len, out.len(), "len");
            out
        };
        let entry = |idx: u32| {
            let entry = self.map[&self.slots[idx as usize].key];
            assert_eq!(entry.slot, idx, "map and slab agree");
            entry
        };
        let stamps = |idxs: &[u32]| -> Vec<Instant> {
            idxs.iter()
                .map(|&i| match entry(i).stamp {
                    Stamp::Dynamic(d) => {
                        let t = self.slots[i as usize]
                            .stamped
                            .expect("learned entry stamped");
                        assert_eq!(d, Deadlines::new(t, self.config.ageing), "deadlines");
                        t
                    }
                    other => panic!("pinned entry {other:?} on a dynamic list"),
                })
                .collect()
        };
        let ageing = walk(&self.ageing, Chain::Age);
        assert!(stamps(&ageing).is_sorted(), "ageing list sorted by stamp");
        let mut on_ports = 0;
        self.ports.check_invariants();
        for (p, lists) in self.ports.iter() {
            assert!(lists.dynamic.len + lists.pinned.len > 0, "empty port kept");
            let dynamic = walk(&lists.dynamic, Chain::Port);
            assert!(stamps(&dynamic).is_sorted(), "port list sorted by stamp");
            for &i in &dynamic {
                assert_eq!(entry(i).port, lists.id);
                assert_eq!(self.slots[i as usize].port, p);
            }
            for i in walk(&lists.pinned, Chain::Port) {
                assert_eq!(entry(i).port, lists.id);
                assert_eq!(self.slots[i as usize].port, p);
                assert!(!matches!(entry(i).stamp, Stamp::Dynamic(_)));
                assert_eq!(self.slots[i as usize].stamped, None);
            }
            on_ports += lists.dynamic.len + lists.pinned.len;
        }
        assert_eq!(on_ports, self.map.len(), "every entry on one port list");
        for (key, e) in &self.map {
            assert_eq!(
                self.slots[e.slot as usize].key, *key,
                "map points at its slot"
            );
        }
        let dynamic = self
            .map
            .values()
            .filter(|e| matches!(e.stamp, Stamp::Dynamic(_)))
            .count();
        assert_eq!(dynamic, self.ageing.len, "every dynamic entry ages");
        let mut free = 0;
        let mut cur = self.free;
        while cur != NIL {
            free += 1;
            cur = self.slots[cur as usize].age_link.next;
        }
        assert_eq!(free + self.map.len(), self.slots.len(), "no slot leaked");
        assert!(self.ageing.len <= self.bound(), "bound holds");
    }
}

/// A stamp for `now` that is no older than any stamp already written, so
/// appending at the young end keeps every list sorted by stamp.
fn next_stamp(latest: &mut Option<Instant>, now: Instant) -> Instant {
    let stamp = latest.map_or(now, |l| l.max(now));
    *latest = Some(stamp);
    stamp
}

fn bound_of(config: Config) -> usize {
    config.max_entries.max(1)
}
