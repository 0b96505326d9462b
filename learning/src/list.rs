//! Intrusive doubly linked lists over slab indices, the building block that both the table (its
//! ageing list) and the per-port bookkeeping (each port's lists) thread their entries on. It knows
//! nothing of either: a slab element only has to hand out its links.

/// End of a list, and "no slot".
pub(crate) const NIL: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Link {
    pub(crate) prev: u32,
    pub(crate) next: u32,
}

pub(crate) const UNLINKED: Link = Link {
    prev: NIL,
    next: NIL,
};

/// Which of a slab element's two links a list uses.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Chain {
    Age,
    Port,
}

/// A slab element that sits on lists: one link per chain.
pub(crate) trait Linked {
    fn link(&mut self, chain: Chain) -> &mut Link;
}

/// An intrusive doubly linked list over slab indices, oldest stamp at `head`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct List {
    pub(crate) head: u32,
    pub(crate) tail: u32,
    pub(crate) len: usize,
}

impl List {
    pub(crate) const EMPTY: List = List {
        head: NIL,
        tail: NIL,
        len: 0,
    };

    #[inline]
    pub(crate) fn push_back<S: Linked>(&mut self, slots: &mut [S], idx: u32, chain: Chain) {
        *slots[idx as usize].link(chain) = Link {
            prev: self.tail,
            next: NIL,
        };
        match self.tail {
            NIL => self.head = idx,
            tail => slots[tail as usize].link(chain).next = idx,
        }
        self.tail = idx;
        self.len += 1;
    }

    #[inline]
    pub(crate) fn unlink<S: Linked>(&mut self, slots: &mut [S], idx: u32, chain: Chain) {
        let Link { prev, next } = *slots[idx as usize].link(chain);
        match prev {
            NIL => self.head = next,
            prev => slots[prev as usize].link(chain).next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => slots[next as usize].link(chain).prev = prev,
        }
        *slots[idx as usize].link(chain) = UNLINKED;
        self.len -= 1;
    }
}

/// Ports and entries are counted in `u32`; more than 2^32 - 1 of either
/// would exhaust memory long before.
pub(crate) fn index(n: usize) -> u32 {
    u32::try_from(n)
        .ok()
        .filter(|&i| i != u32::MAX)
        .expect("more than 2^32 - 1 entries")
}
