//! grebe's OpenFlow table (table 0): flows with a priority, a match on the frame's header
//! fields and a list of actions, and the per-frame lookup. No IO, no clock, no unsafe.
//!
//! A frame's fields are read once into a [`Key`]; [`FlowTable::lookup`] returns the matching
//! flow of highest priority (of equal priorities, the older, as OVS leaves it unspecified). The
//! daemon builds a new table on every flow-mod and hands the datapath an `Arc` of it, so the
//! packet loop reads without a lock; counters are atomics shared by both.

#![forbid(unsafe_code)]

mod cache;
mod key;
mod table;

pub use cache::{CACHE_ENTRIES, FlowCache};
pub use key::Key;
pub use table::{Apply, Flow, FlowCounters, FlowTable, Match, Output};
