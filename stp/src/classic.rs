//! IEEE 802.1D-1998 spanning tree, as Open vSwitch's `lib/stp.c` runs it.

/// One bridge's STP instance.
pub struct Stp {}
