//! Priority vectors and timer sets (802.1D-2004 17.5, 17.6), compared the way OVS compares them.

/// The bridge-address half of a bridge identifier (the priority is above it).
pub(super) const ADDRESS_MASK: u64 = 0xffff_ffff_ffff;

/// A spanning tree priority vector. Lower is better in every component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct PriorityVector {
    pub root_bridge: u64,
    pub root_path_cost: u32,
    pub designated_bridge: u64,
    pub designated_port: u16,
    /// The port that received the vector; only root-port candidates carry it.
    pub bridge_port: u16,
}

/// How one vector compares with another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ordering {
    Inferior,
    Superior,
    /// All five components equal. Callers that only ask "at least as good" treat it as superior.
    Same,
}

impl PriorityVector {
    /// 802.1D-2004 17.6 as OVS reads it: `self` is superior if it is better component by
    /// component, or if it comes from the same designated bridge and port as `other` (a
    /// designated bridge may always replace what it said before, even with worse news). Only
    /// when the first four components are equal does the receiving port decide.
    pub fn compare(&self, other: &PriorityVector) -> Ordering {
        let same_root = self.root_bridge == other.root_bridge;
        let same_cost = same_root && self.root_path_cost == other.root_path_cost;
        let same_bridge = same_cost && self.designated_bridge == other.designated_bridge;
        let same_sender = self.designated_bridge == other.designated_bridge
            && self.designated_port == other.designated_port;
        let better = self.root_bridge < other.root_bridge
            || (same_root && self.root_path_cost < other.root_path_cost)
            || (same_cost && self.designated_bridge < other.designated_bridge)
            || (same_bridge && self.designated_port < other.designated_port)
            || same_sender;
        if !better {
            return Ordering::Inferior;
        }
        if same_bridge && self.designated_port == other.designated_port {
            return match self.bridge_port.cmp(&other.bridge_port) {
                std::cmp::Ordering::Less => Ordering::Superior,
                std::cmp::Ordering::Greater => Ordering::Inferior,
                std::cmp::Ordering::Equal => Ordering::Same,
            };
        }
        Ordering::Superior
    }

    /// Superior or the same (OVS uses the comparison's truth value this way).
    pub fn at_least_as_good_as(&self, other: &PriorityVector) -> bool {
        self.compare(other) != Ordering::Inferior
    }
}

/// A set of protocol timers in whole seconds, as OVS keeps them; BPDUs carry seconds × 256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Times {
    pub forward_delay: u16,
    pub hello_time: u16,
    pub max_age: u16,
    pub message_age: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(root: u64, cost: u32, bridge: u64, port: u16) -> PriorityVector {
        PriorityVector {
            root_bridge: root,
            root_path_cost: cost,
            designated_bridge: bridge,
            designated_port: port,
            bridge_port: 0,
        }
    }

    #[test]
    fn each_component_decides_in_turn() {
        let base = vector(5, 100, 7, 0x8002);
        assert_eq!(vector(4, 900, 9, 0x8009).compare(&base), Ordering::Superior);
        assert_eq!(vector(5, 99, 9, 0x8009).compare(&base), Ordering::Superior);
        assert_eq!(vector(5, 100, 6, 0x8009).compare(&base), Ordering::Superior);
        assert_eq!(vector(5, 100, 7, 0x8001).compare(&base), Ordering::Superior);
        assert_eq!(vector(6, 0, 1, 1).compare(&base), Ordering::Inferior);
        assert_eq!(base.compare(&base), Ordering::Same);
    }

    #[test]
    fn the_same_sender_may_announce_worse_news() {
        let held = vector(1, 2000, 7, 0x8002);
        let worse = vector(7, 0, 7, 0x8002);
        assert_eq!(worse.compare(&held), Ordering::Superior);
    }

    #[test]
    fn the_receiving_port_breaks_ties() {
        let mut a = vector(1, 0, 1, 0x8001);
        let mut b = a;
        a.bridge_port = 0x8001;
        b.bridge_port = 0x8002;
        assert_eq!(a.compare(&b), Ordering::Superior);
        assert_eq!(b.compare(&a), Ordering::Inferior);
    }
}
