//! Flows, their matches and actions, and the table that orders them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::Key;

/// The fields a flow constrains; `None` is a wildcard. MACs and IPv4 addresses take a mask
/// (all ones for an exact match), as OpenFlow's masked fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Match {
    pub in_port: Option<u32>,
    pub eth_dst: Option<([u8; 6], [u8; 6])>,
    pub eth_src: Option<([u8; 6], [u8; 6])>,
    pub eth_type: Option<u16>,
    /// `Some(None)`: untagged frames only; `Some(Some(vid))`: frames tagged with VLAN `vid`.
    pub vlan_vid: Option<Option<u16>>,
    pub ip_proto: Option<u8>,
    pub ipv4_src: Option<(u32, u32)>,
    pub ipv4_dst: Option<(u32, u32)>,
    pub tp_src: Option<u16>,
    pub tp_dst: Option<u16>,
}

fn mac_masked(v: [u8; 6], mask: [u8; 6], x: [u8; 6]) -> bool {
    (0..6).all(|i| x[i] & mask[i] == v[i] & mask[i])
}

/// Whether a request's masked constraint `(rv, rm)` is implied by a flow's `(fv, fm)`: the
/// flow constrains at least those bits, to the same values.
fn mac_covers(req: Option<([u8; 6], [u8; 6])>, flow: Option<([u8; 6], [u8; 6])>) -> bool {
    match (req, flow) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some((rv, rm)), Some((fv, fm))) => {
            (0..6).all(|i| fm[i] & rm[i] == rm[i] && fv[i] & rm[i] == rv[i] & rm[i])
        }
    }
}

fn ip_covers(req: Option<(u32, u32)>, flow: Option<(u32, u32)>) -> bool {
    match (req, flow) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some((rv, rm)), Some((fv, fm))) => fm & rm == rm && fv & rm == rv & rm,
    }
}

fn eq_covers<T: PartialEq>(req: &Option<T>, flow: &Option<T>) -> bool {
    req.is_none() || req == flow
}

impl Match {
    #[inline]
    pub fn matches(&self, k: &Key) -> bool {
        self.in_port.is_none_or(|p| p == k.in_port)
            && self.eth_type.is_none_or(|t| t == k.eth_type)
            && self
                .eth_dst
                .is_none_or(|(v, m)| mac_masked(v, m, k.eth_dst))
            && self
                .eth_src
                .is_none_or(|(v, m)| mac_masked(v, m, k.eth_src))
            && self.vlan_vid.is_none_or(|v| v == k.vlan_vid)
            && self.ip_proto.is_none_or(|p| p == k.ip_proto)
            && self.ipv4_src.is_none_or(|(v, m)| k.ipv4_src & m == v & m)
            && self.ipv4_dst.is_none_or(|(v, m)| k.ipv4_dst & m == v & m)
            && self.tp_src.is_none_or(|p| p == k.tp_src)
            && self.tp_dst.is_none_or(|p| p == k.tp_dst)
    }

    /// Whether every frame `flow` matches is matched by this (request) match too: the rule of
    /// OpenFlow's non-strict modify and delete.
    pub fn covers(&self, flow: &Match) -> bool {
        eq_covers(&self.in_port, &flow.in_port)
            && eq_covers(&self.eth_type, &flow.eth_type)
            && mac_covers(self.eth_dst, flow.eth_dst)
            && mac_covers(self.eth_src, flow.eth_src)
            && eq_covers(&self.vlan_vid, &flow.vlan_vid)
            && eq_covers(&self.ip_proto, &flow.ip_proto)
            && ip_covers(self.ipv4_src, flow.ipv4_src)
            && ip_covers(self.ipv4_dst, flow.ipv4_dst)
            && eq_covers(&self.tp_src, &flow.tp_src)
            && eq_covers(&self.tp_dst, &flow.tp_dst)
    }
}

/// Where an action sends a frame. A flow with no action drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// An OpenFlow port number.
    Port(u32),
    /// Back out of the port it came in on.
    InPort,
    /// The learning switch (grebe's bridge without flows).
    Normal,
    /// Every port but the ingress one, as the bridge floods.
    Flood,
    /// Every port but the ingress one. grebe's ports have no OFPPC_NO_FLOOD setting, so ALL
    /// differs from FLOOD only on ports the spanning tree blocks, which no action reaches here:
    /// the packet loop floods for both.
    All,
}

/// What a flow does with a frame besides the ports it names ([`Flow::apply`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apply {
    /// The learning bridge decides.
    Normal,
    /// Every port the bridge would flood to.
    Flood,
    /// Only the named ports.
    Outputs,
}

/// A flow's packet and byte counts, shared by the table's copies and the packet loop.
#[derive(Debug, Default)]
pub struct FlowCounters {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
}

impl FlowCounters {
    #[inline]
    pub fn hit(&self, bytes: usize) {
        self.packets.fetch_add(1, Relaxed);
        self.bytes.fetch_add(bytes as u64, Relaxed);
    }
}

#[derive(Debug, Clone)]
pub struct Flow {
    pub priority: u16,
    pub cookie: u64,
    pub m: Match,
    pub actions: Vec<Output>,
    /// When it was installed, in the caller's seconds (for `duration`).
    pub installed: u64,
    pub counters: Arc<FlowCounters>,
}

impl Flow {
    pub fn new(priority: u16, m: Match, actions: Vec<Output>, cookie: u64, installed: u64) -> Flow {
        Flow {
            priority,
            cookie,
            m,
            actions,
            installed,
            counters: Arc::new(FlowCounters::default()),
        }
    }

    /// What the flow's actions do with a frame from `in_port`: each port an OUTPUT or IN_PORT
    /// names goes to `to_port` (never `in_port` itself unless by IN_PORT, as OpenFlow says),
    /// and the mode says what else: the learning bridge (any NORMAL), a flood (any FLOOD or
    /// ALL), or only those ports (none named: a drop).
    #[inline]
    pub fn apply(&self, in_port: u32, mut to_port: impl FnMut(u32)) -> Apply {
        let mut mode = Apply::Outputs;
        for a in &self.actions {
            match *a {
                Output::Normal => mode = Apply::Normal,
                Output::Flood | Output::All if mode != Apply::Normal => mode = Apply::Flood,
                Output::Flood | Output::All => {}
                Output::InPort => to_port(in_port),
                Output::Port(p) if p != in_port => to_port(p),
                Output::Port(_) => {}
            }
        }
        mode
    }

    /// Whether an action sends to `port` (for a delete's `out_port` filter).
    pub fn outputs_to(&self, port: u32) -> bool {
        self.actions.contains(&Output::Port(port))
    }
}

/// Table 0, flows ordered by priority (highest first; equal priorities oldest first).
#[derive(Debug, Clone, Default)]
pub struct FlowTable {
    flows: Vec<Flow>,
}

impl FlowTable {
    pub fn new() -> FlowTable {
        FlowTable::default()
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    pub fn flows(&self) -> &[Flow] {
        &self.flows
    }

    /// The flow a frame takes, or None (a table miss).
    #[inline]
    pub fn lookup(&self, k: &Key) -> Option<&Flow> {
        self.flows.iter().find(|f| f.m.matches(k))
    }

    /// [`FlowTable::lookup`]'s flow as its index in [`FlowTable::flows`].
    #[inline]
    pub fn lookup_index(&self, k: &Key) -> Option<usize> {
        self.flows.iter().position(|f| f.m.matches(k))
    }

    /// ADD: a flow with the same match and priority is replaced (with fresh counters).
    pub fn add(&mut self, flow: Flow) {
        self.flows
            .retain(|f| !(f.priority == flow.priority && f.m == flow.m));
        let at = self.flows.partition_point(|f| f.priority >= flow.priority);
        self.flows.insert(at, flow);
    }

    /// MODIFY (`strict`: same match and priority only): new actions and cookie for the flows
    /// the request selects, keeping their counters. Returns how many changed.
    pub fn modify(
        &mut self,
        m: &Match,
        priority: u16,
        strict: bool,
        actions: &[Output],
        cookie: u64,
    ) -> usize {
        let mut n = 0;
        for f in &mut self.flows {
            if selects(m, priority, strict, f) {
                f.actions = actions.to_vec();
                f.cookie = cookie;
                n += 1;
            }
        }
        n
    }

    /// DELETE (`strict`: same match and priority only), of flows that output to `out_port`
    /// when one is given. Returns the flows removed.
    pub fn delete(
        &mut self,
        m: &Match,
        priority: u16,
        strict: bool,
        out_port: Option<u32>,
    ) -> Vec<Flow> {
        let (gone, kept) = std::mem::take(&mut self.flows).into_iter().partition(|f| {
            selects(m, priority, strict, f) && out_port.is_none_or(|p| f.outputs_to(p))
        });
        self.flows = kept;
        gone
    }
}

fn selects(m: &Match, priority: u16, strict: bool, f: &Flow) -> bool {
    if strict {
        f.priority == priority && f.m == *m
    } else {
        m.covers(&f.m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL: [u8; 6] = [0xff; 6];

    fn key(dst: u32, port: u16) -> Key {
        Key {
            in_port: 2,
            eth_type: 0x0800,
            ip_proto: 6,
            ipv4_dst: dst,
            tp_dst: port,
            ..Key::default()
        }
    }

    #[test]
    fn the_highest_priority_match_wins() {
        let mut t = FlowTable::new();
        t.add(Flow::new(0, Match::default(), vec![Output::Normal], 0, 0));
        let web = Match {
            eth_type: Some(0x0800),
            ip_proto: Some(6),
            tp_dst: Some(80),
            ..Match::default()
        };
        t.add(Flow::new(100, web.clone(), vec![], 0, 0));
        let net = Match {
            eth_type: Some(0x0800),
            ipv4_dst: Some((0xc633_6400, 0xffff_ff00)),
            ..Match::default()
        };
        t.add(Flow::new(50, net.clone(), vec![Output::Port(3)], 0, 0));
        let host = 0xc633_6402;
        assert!(t.lookup(&key(host, 80)).unwrap().actions.is_empty());
        assert_eq!(
            t.lookup(&key(host, 22)).unwrap().actions,
            vec![Output::Port(3)]
        );
        assert_eq!(
            t.lookup(&key(0x0a00_0001, 22)).unwrap().actions,
            vec![Output::Normal]
        );
        // Non-strict delete of "IPv4" takes both IPv4 flows, not the catch-all.
        let ip = Match {
            eth_type: Some(0x0800),
            ..Match::default()
        };
        assert_eq!(t.delete(&ip, 0, false, None).len(), 2);
        assert_eq!(t.len(), 1);
        // Strict needs the priority too.
        assert_eq!(t.delete(&Match::default(), 1, true, None).len(), 0);
        assert_eq!(t.delete(&Match::default(), 0, true, None).len(), 1);
    }

    #[test]
    fn add_replaces_the_same_match_and_priority_and_modify_keeps_counters() {
        let mut t = FlowTable::new();
        let m = Match {
            eth_dst: Some(([2, 0, 0, 0, 0, 1], ALL)),
            ..Match::default()
        };
        t.add(Flow::new(5, m.clone(), vec![Output::Flood], 0, 0));
        t.flows()[0].counters.hit(60);
        t.add(Flow::new(5, m.clone(), vec![Output::Port(1)], 0, 0));
        assert_eq!(t.len(), 1);
        assert_eq!(t.flows()[0].counters.packets.load(Relaxed), 0);
        t.flows()[0].counters.hit(60);
        assert_eq!(
            t.modify(&Match::default(), 0, false, &[Output::Port(2)], 7),
            1
        );
        assert_eq!(t.flows()[0].actions, vec![Output::Port(2)]);
        assert_eq!(t.flows()[0].counters.packets.load(Relaxed), 1);
        assert_eq!(t.delete(&Match::default(), 0, false, Some(9)).len(), 0);
        assert_eq!(t.delete(&Match::default(), 0, false, Some(2)).len(), 1);
    }

    #[test]
    fn apply_reads_the_actions_in_any_order() {
        let f = |actions| Flow::new(0, Match::default(), actions, 0, 0);
        let mut named = Vec::new();
        let both = f(vec![
            Output::InPort,
            Output::Flood,
            Output::Port(3),
            Output::Port(2),
        ]);
        assert_eq!(both.apply(2, |p| named.push(p)), Apply::Flood);
        assert_eq!(
            named,
            vec![2, 3],
            "IN_PORT names the ingress, OUTPUT to it is skipped"
        );
        let flood_first = f(vec![Output::Flood, Output::InPort]);
        assert_eq!(flood_first.apply(2, |_| {}), Apply::Flood);
        assert_eq!(
            f(vec![Output::Flood, Output::Normal]).apply(2, |_| {}),
            Apply::Normal
        );
        assert_eq!(f(vec![]).apply(2, |_| {}), Apply::Outputs);
    }

    fn arb_match() -> impl Strategy<Value = Match> {
        (
            prop::option::of(1u32..4),
            prop::option::of(prop_oneof![Just(0x0800u16), Just(0x0806)]),
            prop::option::of((
                any::<u32>(),
                prop_oneof![Just(0u32), Just(0xffff_ff00), Just(u32::MAX)],
            )),
            prop::option::of(prop_oneof![Just(22u16), Just(80)]),
        )
            .prop_map(|(in_port, eth_type, ipv4_dst, tp_dst)| Match {
                in_port,
                eth_type,
                ipv4_dst,
                tp_dst,
                ..Match::default()
            })
    }

    proptest! {
        /// A request that covers a flow matches every frame the flow matches.
        #[test]
        fn covering_means_matching_a_superset(req in arb_match(), flow in arb_match(),
                                               port in 1u32..4, dst in any::<u32>(), tp in prop_oneof![Just(22u16), Just(80)]) {
            let k = Key { in_port: port, eth_type: 0x0800, ipv4_dst: dst, tp_dst: tp, ..Key::default() };
            if req.covers(&flow) && flow.matches(&k) {
                prop_assert!(req.matches(&k));
            }
        }

        /// Lookup gives the first flow, in priority order, that matches.
        #[test]
        fn lookup_is_the_best_match(flows in prop::collection::vec((any::<u16>(), arb_match()), 0..12),
                                    port in 1u32..4, dst in any::<u32>()) {
            let mut t = FlowTable::new();
            for (i, (p, m)) in flows.iter().enumerate() {
                t.add(Flow::new(*p, m.clone(), vec![Output::Port(i as u32)], 0, 0));
            }
            let k = Key { in_port: port, eth_type: 0x0800, ipv4_dst: dst, tp_dst: 80, ..Key::default() };
            let best = t.flows().iter().filter(|f| f.m.matches(&k)).map(|f| f.priority).max();
            prop_assert_eq!(t.lookup(&k).map(|f| f.priority), best);
        }
    }
}
