//! The table for several datapath threads: a reader-writer lock whose write
//! side is taken only when learning changes something.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use crate::PortId;
use crate::table::{Addr, Config, Counters, EntryInfo, EntryKind, Learned, Mac, MacTable};

/// A [`MacTable`] behind a [`RwLock`], for datapath threads that share one
/// bridge.
///
/// `lookup` takes the read lock only. `learn` first asks, under the read lock,
/// whether anything would change (OVS does the same: "is an update needed?"
/// under a read lock); in the steady state the answer is no and the write lock
/// is never touched. It takes the write lock for a new or moved station, or to
/// write a timestamp at most once a second per station, and then decides again
/// because another thread may have learned the address in between. Every
/// write-locked operation is O(1) apart from `expire` (O(expired)) and the
/// flushes, which the control path runs.
///
/// A read lock is still one atomic read-modify-write on a shared cache line;
/// a thread handling a batch of frames can hold one read lock for the batch
/// with [`with`](Self::with).
///
/// A panic while the write lock is held would leave the lists half linked, so
/// a poisoned lock propagates the panic instead of serving a broken table.
#[derive(Debug, Default)]
pub struct SharedMacTable {
    inner: RwLock<MacTable>,
}

const POISONED: &str = "MAC table lock poisoned: a writer panicked mid-update";

impl SharedMacTable {
    /// An empty table.
    pub fn new(config: Config) -> Self {
        SharedMacTable {
            inner: RwLock::new(MacTable::new(config)),
        }
    }

    #[inline]
    fn read(&self) -> RwLockReadGuard<'_, MacTable> {
        self.inner.read().expect(POISONED)
    }

    fn write(&self) -> RwLockWriteGuard<'_, MacTable> {
        self.inner.write().expect(POISONED)
    }

    /// [`MacTable::learn`], taking the write lock only if it would change
    /// something.
    #[inline]
    pub fn learn(&self, addr: impl Into<Addr>, port: PortId, now: Instant) -> Learned {
        let addr = addr.into();
        if let Some(outcome) = self.read().settled(addr, port, now) {
            return outcome;
        }
        // There is no deadlock-free upgrade; `learn` re-checks under the lock.
        self.write().learn(addr, port, now)
    }

    /// What a frame needs: learns `src` on `port` as [`learn`](Self::learn)
    /// does, then looks up `dst` (if given) as [`lookup`](Self::lookup) does
    /// after it, in `src`'s VLAN, under one lock: the read lock when learning writes nothing,
    /// the write lock otherwise. A lock is an atomic read-modify-write on a
    /// shared cache line to take and another to release, so one instead of
    /// two is a good part of a frame's cost.
    #[inline]
    pub fn learn_and_lookup(
        &self,
        src: impl Into<Addr>,
        port: PortId,
        dst: Option<Mac>,
        now: Instant,
    ) -> (Learned, Option<PortId>) {
        let src = src.into();
        let dst = dst.map(|mac| Addr::new(src.vlan, mac));
        {
            let table = self.read();
            if let Some(outcome) = table.settled(src, port, now) {
                return (outcome, dst.and_then(|dst| table.lookup(dst, now)));
            }
        }
        let mut table = self.write();
        let outcome = table.learn(src, port, now);
        (outcome, dst.and_then(|dst| table.lookup(dst, now)))
    }

    /// [`MacTable::needs_update`] under the read lock.
    pub fn needs_update(&self, addr: impl Into<Addr>, port: PortId, now: Instant) -> bool {
        self.read().needs_update(addr, port, now)
    }

    /// [`MacTable::lookup`] under the read lock.
    #[inline]
    pub fn lookup(&self, addr: impl Into<Addr>, now: Instant) -> Option<PortId> {
        self.read().lookup(addr, now)
    }

    /// [`MacTable::insert_static`].
    pub fn insert_static(&self, addr: impl Into<Addr>, port: PortId, kind: EntryKind) {
        self.write().insert_static(addr, port, kind);
    }

    /// [`MacTable::remove_entry`].
    pub fn remove_entry(&self, addr: impl Into<Addr>) -> Option<EntryKind> {
        self.write().remove_entry(addr)
    }

    /// [`MacTable::expire`]. Checks under the read lock first, so the timer
    /// waking early does not stall the datapath.
    pub fn expire(&self, now: Instant) -> usize {
        if self.read().next_expiry().is_none_or(|at| at > now) {
            return 0;
        }
        self.write().expire(now)
    }

    /// [`MacTable::next_expiry`].
    pub fn next_expiry(&self) -> Option<Instant> {
        self.read().next_expiry()
    }

    /// [`MacTable::flush`].
    pub fn flush(&self) -> usize {
        self.write().flush()
    }

    /// [`MacTable::flush_port`].
    pub fn flush_port(&self, port: PortId) -> usize {
        self.write().flush_port(port)
    }

    /// [`MacTable::entries`], collected so the lock is not held by the caller.
    pub fn entries(&self, now: Instant) -> Vec<EntryInfo> {
        self.read().entries(now).collect()
    }

    /// [`MacTable::len`].
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// [`MacTable::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// [`MacTable::dynamic_len`].
    pub fn dynamic_len(&self) -> usize {
        self.read().dynamic_len()
    }

    /// [`MacTable::port_count`].
    pub fn port_count(&self, port: PortId) -> usize {
        self.read().port_count(port)
    }

    /// [`MacTable::counters`].
    pub fn counters(&self) -> Counters {
        self.read().counters()
    }

    /// [`MacTable::config`].
    pub fn config(&self) -> Config {
        self.read().config()
    }

    /// [`MacTable::set_config`].
    pub fn set_config(&self, config: Config, now: Instant) {
        self.write().set_config(config, now);
    }

    /// Runs `f` under one read lock: several lookups for a batch of frames.
    pub fn with<R>(&self, f: impl FnOnce(&MacTable) -> R) -> R {
        f(&self.read())
    }

    /// Runs `f` under the write lock, for several changes made at once.
    pub fn with_mut<R>(&self, f: impl FnOnce(&mut MacTable) -> R) -> R {
        f(&mut self.write())
    }

    /// The table, once no thread shares it any more.
    pub fn into_inner(self) -> MacTable {
        self.inner.into_inner().expect(POISONED)
    }
}

impl From<MacTable> for SharedMacTable {
    fn from(table: MacTable) -> Self {
        SharedMacTable {
            inner: RwLock::new(table),
        }
    }
}
