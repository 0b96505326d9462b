//! Per-port bookkeeping: each port's lists, and a max-heap of ports by how
//! many learned entries they hold, so fair eviction finds its victim in
//! O(1) instead of scanning every port on every frame of a MAC flood.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::fmt;

use foldhash::fast::RandomState;

use crate::list::{List, index};

/// A bridge port, as the datapath numbers them. The table never interprets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortId(pub u32);

impl fmt::Display for PortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// One port that holds entries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PortState {
    pub(crate) id: PortId,
    /// Learned entries, oldest stamp first: fair eviction takes the head.
    pub(crate) dynamic: List,
    /// Static and local entries, kept apart so `flush_port` finds them
    /// without a scan.
    pub(crate) pinned: List,
    /// Where this port sits in `Ports::heap`.
    heap_pos: u32,
}

/// The ports that hold entries, in a slab addressed by `u32` (entries store
/// that index, not the id, so removing one needs no hash lookup).
#[derive(Debug, Default)]
pub(crate) struct Ports {
    index: HashMap<PortId, u32, RandomState>,
    slab: Vec<PortState>,
    free: Vec<u32>,
    /// Slab indices, the port with the most learned entries first (ties: the
    /// lower id). Counts change by one at a time, so a fix-up rarely moves a
    /// port more than a step.
    heap: Vec<u32>,
}

impl Ports {
    pub(crate) fn find(&self, id: PortId) -> Option<u32> {
        self.index.get(&id).copied()
    }

    pub(crate) fn get(&self, p: u32) -> &PortState {
        &self.slab[p as usize]
    }

    pub(crate) fn get_mut(&mut self, p: u32) -> &mut PortState {
        &mut self.slab[p as usize]
    }

    /// The port's index, adding it (with no entries) if it is new.
    pub(crate) fn find_or_add(&mut self, id: PortId) -> u32 {
        if let Some(p) = self.find(id) {
            return p;
        }
        let state = PortState {
            id,
            dynamic: List::EMPTY,
            pinned: List::EMPTY,
            heap_pos: index(self.heap.len()),
        };
        let p = match self.free.pop() {
            Some(p) => {
                self.slab[p as usize] = state;
                p
            }
            None => {
                self.slab.push(state);
                index(self.slab.len() - 1)
            }
        };
        self.index.insert(id, p);
        self.heap.push(p);
        self.sift_up(self.heap.len() - 1);
        p
    }

    /// Restores the heap after port `p`'s learned count changed; forgets the
    /// port once it holds no entry at all.
    pub(crate) fn update(&mut self, p: u32) {
        let state = self.slab[p as usize];
        let pos = state.heap_pos as usize;
        if state.dynamic.len + state.pinned.len == 0 {
            self.index.remove(&state.id);
            self.free.push(p);
            let last = self.heap.pop().expect("a live port is on the heap");
            if last != p {
                self.heap[pos] = last;
                self.slab[last as usize].heap_pos = index(pos);
                self.fix(pos);
            }
        } else {
            self.fix(pos);
        }
    }

    /// The port holding the most learned entries, if any holds one.
    pub(crate) fn fullest(&self) -> Option<u32> {
        let &p = self.heap.first()?;
        (self.slab[p as usize].dynamic.len > 0).then_some(p)
    }

    fn key(&self, pos: usize) -> (usize, Reverse<PortId>) {
        let state = &self.slab[self.heap[pos] as usize];
        (state.dynamic.len, Reverse(state.id))
    }

    fn fix(&mut self, pos: usize) {
        let pos = self.sift_up(pos);
        self.sift_down(pos);
    }

    fn sift_up(&mut self, mut pos: usize) -> usize {
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if self.key(parent) >= self.key(pos) {
                break;
            }
            self.swap(pos, parent);
            pos = parent;
        }
        pos
    }

    fn sift_down(&mut self, mut pos: usize) {
        loop {
            let (l, r) = (2 * pos + 1, 2 * pos + 2);
            let mut top = pos;
            if l < self.heap.len() && self.key(l) > self.key(top) {
                top = l;
            }
            if r < self.heap.len() && self.key(r) > self.key(top) {
                top = r;
            }
            if top == pos {
                return;
            }
            self.swap(pos, top);
            pos = top;
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.slab[self.heap[a] as usize].heap_pos = index(a);
        self.slab[self.heap[b] as usize].heap_pos = index(b);
    }

    /// Every live port with its index.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &PortState)> {
        self.heap.iter().map(|&p| (p, &self.slab[p as usize]))
    }

    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        assert_eq!(self.index.len(), self.heap.len(), "every port on the heap");
        assert_eq!(
            self.index.len() + self.free.len(),
            self.slab.len(),
            "no port leaked"
        );
        for (pos, &p) in self.heap.iter().enumerate() {
            let state = &self.slab[p as usize];
            assert_eq!(state.heap_pos as usize, pos, "heap position");
            assert_eq!(self.index[&state.id], p, "index");
            if pos > 0 {
                assert!(self.key((pos - 1) / 2) >= self.key(pos), "heap order");
            }
        }
    }
}
