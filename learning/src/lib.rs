//! grebe's MAC learning table.
//!
//! A MAC learning table maps an Ethernet address to the port a frame from
//! that address last came in on, so that a frame *to* the address goes out
//! that one port instead of being flooded to all of them. Stripped to its
//! purpose it is a hash map; the complications below each exist for a reason.
//!
//! # No clock, no IO
//!
//! Every method that cares about time takes `now: Instant`; the crate never
//! reads a clock. Tests age entries by handing in `t0 + 301 s` instead of
//! sleeping, and the caller decides what "now" is (once per batch of frames
//! is plenty). `now`s from several threads may arrive slightly out of order;
//! timestamps are never written below the newest one already written, so the
//! lists below stay sorted.
//!
//! # Per VLAN
//!
//! An entry is an address in a VLAN ([`Addr`]): the same MAC in VLANs 100
//! and 200 is two stations, learned, aged and evicted apart, as in OVS. The
//! VID shares the key's integer with the MAC (48 bits of address, the VID
//! above), so keying per VLAN costs nothing per frame. A bare [`Mac`] is VLAN
//! 0, the untagged one.
//!
//! # Ageing
//!
//! A station that stops sending (it moved, or was switched off) must be
//! forgotten, or frames to it go to a stale port forever. A learned
//! (`Dynamic`) entry expires once it has not been refreshed for
//! [`Config::ageing`] (300 s by default, as OVS's `mac-aging-time`). Dynamic
//! entries sit on one list ordered by timestamp, oldest first; each write of a
//! timestamp moves the entry to the young end. [`MacTable::expire`] sweeps
//! from the old end and stops at the first live entry, so it costs the number
//! of entries removed, not the table size, and [`MacTable::next_expiry`] is
//! the head's deadline: the caller sleeps until then, as the Linux bridge's
//! `br_fdb_cleanup` does. [`MacTable::lookup`] checks the age itself, so an
//! entry past its age is a miss even if the sweep has not run yet.
//!
//! # Writing a timestamp at most once a second
//!
//! A busy station sends millions of frames a second, and every one of them
//! "refreshes" its entry. Writing the time (and relinking the lists) per frame
//! would make the common case a write to shared memory and, with several
//! threads, a write lock per frame. So the timestamp is written only when the
//! last write is at least [`STAMP_INTERVAL`] (1 s) old, like the bridge's
//! "only if the tick changed". An entry may therefore expire up to a second
//! early; against 300 s that does not matter.
//!
//! # A bound, and fair eviction
//!
//! Source addresses come from the network, so an attacker can send frames
//! from millions of made-up addresses. The table holds at most
//! [`Config::max_entries`] learned entries (8192 by default, as OVS's
//! `mac-table-size`). When a new address arrives at a full table, expired
//! entries go first; if none, the table evicts the least recently refreshed
//! entry *of the port that holds the most entries* (OVS's fair eviction). A
//! flood from one port thus only evicts that port's own entries; hosts behind
//! other ports stay known, so their traffic is not flooded where the attacker
//! can sniff it. Each port keeps its own list of learned entries, ordered like
//! the ageing list, whose head is the victim. The fullest port (ties: the
//! lower id) is the top of a max-heap of ports by count, as in OVS: under a
//! flood every attacker frame evicts, so a scan of all ports per frame would
//! hold the write lock for as long as there are ports.
//!
//! # Static and local entries
//!
//! An administrator can pin an address to a port (`Static`), and the bridge's
//! own addresses are `Local`. Neither ages, and learning never takes either
//! over ([`Learned::Pinned`]), so a frame forged from the bridge's MAC cannot
//! redirect it. They are not on the ageing list and do not count against
//! `max_entries`: configuration, not the network, decides how many there are,
//! and a flood of learned sources must never evict them. [`MacTable::len`]
//! counts them; [`MacTable::dynamic_len`] is the bounded number.
//!
//! # Layout: O(1) for everything a frame does
//!
//! A hash map from address to what a lookup needs (port, kind, and for a
//! learned entry two deadlines: when its stamp may be written again and when
//! it expires), so a lookup reads one bucket and writes nothing. The
//! deadlines are computed when the stamp is written, at most once a second,
//! so the checks every frame makes compare `now` with an `Instant` instead of
//! subtracting `Instant`s; changing `ageing` recomputes them all. The key is
//! the address as one integer, hashed in one step. The map also holds an
//! index into a slab where the entry is linked into the ageing list and its
//! port's list: intrusive doubly linked lists by index, so relinking is O(1)
//! and nothing allocates per frame. The map's hasher is keyed with a
//! per-process random seed: addresses are chosen by whoever sends frames, and
//! a known hash function would let them pile every address into one bucket.
//! foldhash (fast, randomly seeded per process and per table) is the
//! compromise: a multiply per key instead of SipHash's rounds, and not
//! guessable from outside; it does not promise resistance to an attacker who
//! can watch the process's timing at length, and `max_entries` bounds what
//! any collision chain can cost anyway.
//! The map and slab are reserved for `max_entries` (up to 2^20) up front so
//! that learning never rehashes the table while holding the write lock.
//!
//! # Threads
//!
//! [`MacTable`] has one owner. [`SharedMacTable`] wraps it in a `RwLock` for
//! several datapath threads: lookups take the read lock; learning asks under
//! the read lock whether an update is needed (almost always not, thanks to the
//! once-a-second rule) and takes the write lock only for a new or moved
//! station or a timestamp write, deciding again once it holds it.
//! [`SharedMacTable::learn_and_lookup`] does a frame's learn and lookup under
//! one lock.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod list;
mod ports;
mod shared;
mod table;

#[cfg(test)]
mod model_tests;

pub use ports::PortId;
pub use shared::SharedMacTable;
pub use table::{
    Addr, Config, Counters, EntryInfo, EntryKind, Learned, Mac, MacTable, STAMP_INTERVAL,
    is_learnable,
};
