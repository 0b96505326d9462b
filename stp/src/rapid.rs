//! IEEE 802.1w rapid spanning tree, as Open vSwitch's `lib/rstp*.c` runs it.

/// One bridge's RSTP instance.
pub struct Rstp {}
