//! An exact-match cache in front of the table (OVS's EMC idea): the flow a frame's [`Key`]
//! took last time, found by one hash lookup whatever the table's size. It belongs to one table:
//! the packet loop starts a new cache with each new table (every flow-mod), so an entry never
//! outlives the flows it points into. Bounded; when full it starts over, which costs one
//! table lookup per key until it is warm again.

use std::collections::HashMap;

use crate::{Flow, FlowTable, Key};

/// Entries before the cache starts over.
pub const CACHE_ENTRIES: usize = 8192;

#[derive(Debug)]
pub struct FlowCache {
    /// Key to the index of its flow in the table, or `u32::MAX` for a table miss.
    map: HashMap<Key, u32, foldhash::fast::FixedState>,
}

const MISS: u32 = u32::MAX;

impl Default for FlowCache {
    fn default() -> FlowCache {
        FlowCache {
            // A fixed seed: keys come from the network, but an entry only saves a table lookup,
            // and the bound caps what a flood of distinct keys can cost.
            // No room reserved: a bridge without flows never fills it.
            map: HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0x6772_6562_6521)),
        }
    }
}

impl FlowCache {
    pub fn new() -> FlowCache {
        FlowCache::default()
    }

    /// The flow `table` gives `key`, from the cache when it has the key.
    #[inline]
    pub fn lookup<'t>(&mut self, table: &'t FlowTable, key: &Key) -> Option<&'t Flow> {
        if let Some(&i) = self.map.get(key) {
            return table.flows().get(i as usize);
        }
        let found = table.lookup_index(key);
        if self.map.len() >= CACHE_ENTRIES {
            self.map.clear();
        }
        self.map.insert(*key, found.map_or(MISS, |i| i as u32));
        found.map(|i| &table.flows()[i])
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Match, Output};
    use proptest::prelude::*;

    proptest! {
        /// The cache gives what the table gives, for any keys in any order.
        #[test]
        fn the_cache_agrees_with_the_table(
            ports in prop::collection::vec(0u32..6, 1..40),
            flows in prop::collection::vec((any::<u16>(), prop::option::of(0u32..6)), 0..8),
        ) {
            let mut t = FlowTable::new();
            for (p, in_port) in &flows {
                t.add(Flow::new(*p, Match { in_port: *in_port, ..Match::default() }, vec![Output::Flood], 0, 0));
            }
            let mut c = FlowCache::new();
            for port in ports {
                let k = Key { in_port: port, ..Key::default() };
                let want = t.lookup(&k).map(|f| (f.priority, f.m.clone()));
                prop_assert_eq!(c.lookup(&t, &k).map(|f| (f.priority, f.m.clone())), want);
            }
        }
    }
}
