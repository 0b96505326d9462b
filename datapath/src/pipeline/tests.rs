//! The decision on byte arrays: no ports, no sockets, a table and a clock reading.

use std::time::{Duration, Instant};

use learning::{Config, Learned, PortId, SharedMacTable};

use super::*;
use crate::vlan::{Retag, VlanSet};

const A: [u8; 6] = [0x02, 0, 0, 0, 0, 0xa];
const B: [u8; 6] = [0x02, 0, 0, 0, 0, 0xb];
const STP: [u8; 6] = [0x01, 0x80, 0xc2, 0, 0, 0];

fn frame(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f
}

fn open(id: u32) -> PortView<'static> {
    PortView::internal(PortId(id), Gate::Open)
}

fn tunnel(id: u32, max_frame: u32) -> PortView<'static> {
    PortView {
        tunnel: true,
        max_frame: Some(max_frame),
        ..open(id)
    }
}

fn action(t: &SharedMacTable, ingress: u32, f: &[u8], now: Instant) -> Action {
    process(t, Rules::default(), open(ingress), f, now).action
}

#[test]
fn unknown_destination_floods_then_reply_is_unicast() {
    let t = SharedMacTable::new(Config::default());
    let now = Instant::now();
    assert_eq!(action(&t, 1, &frame(B, A), now), Action::Flood);
    assert_eq!(action(&t, 2, &frame(A, B), now), Action::Deliver(PortId(1)));
    assert_eq!(action(&t, 1, &frame(B, A), now), Action::Deliver(PortId(2)));
}

#[test]
fn the_learning_outcome_comes_with_the_action() {
    let t = SharedMacTable::new(Config::default());
    let now = Instant::now();
    let first = process(&t, Rules::default(), open(1), &frame(B, A), now);
    assert_eq!(first.learned, Some(Learned::New));
    let again = process(&t, Rules::default(), open(1), &frame(B, A), now);
    assert_eq!(again.learned, Some(Learned::Refreshed));
    let moved = process(&t, Rules::default(), open(2), &frame(B, A), now);
    assert_eq!(moved.learned, Some(Learned::Moved { from: PortId(1) }));
}

#[test]
fn broadcast_floods_and_still_learns() {
    let t = SharedMacTable::new(Config::default());
    let now = Instant::now();
    assert_eq!(action(&t, 3, &frame([0xff; 6], A), now), Action::Flood);
    assert_eq!(t.lookup(A, now), Some(PortId(3)));
}

#[test]
fn invalid_sources_are_dropped_and_not_learned() {
    let t = SharedMacTable::new(Config::default());
    let now = Instant::now();
    for src in [[0xff; 6], [0x01, 0, 0x5e, 0, 0, 1], [0; 6]] {
        let out = process(&t, Rules::default(), open(1), &frame(B, src), now);
        assert_eq!(out.action, Action::Drop(DropReason::InvalidSourceMac));
        assert_eq!(out.learned, None);
        assert_eq!(t.lookup(src, now), None);
    }
}

#[test]
fn reserved_link_local_destinations_are_not_forwarded() {
    let t = SharedMacTable::new(Config::default());
    assert_eq!(
        action(&t, 1, &frame(STP, A), Instant::now()),
        Action::Drop(DropReason::LinkLocal)
    );
    let not_reserved = [0x01, 0x80, 0xc2, 0, 0, 0x10];
    assert_eq!(
        action(&t, 1, &frame(not_reserved, A), Instant::now()),
        Action::Flood
    );
}

#[test]
fn a_bpdu_is_the_bridges_own_only_with_spanning_tree() {
    let t = SharedMacTable::new(Config::default());
    let now = Instant::now();
    let stp = Rules {
        spanning_tree: true,
        ..Rules::default()
    };
    let out = process(&t, stp, open(1), &frame(STP, A), now);
    assert_eq!(out, Outcome::unlearned(Action::Local));
    // Another reserved address is still not forwarded, and not the tree's.
    let lacp = [0x01, 0x80, 0xc2, 0, 0, 0x02];
    assert_eq!(
        process(&t, stp, open(1), &frame(lacp, A), now).action,
        Action::Drop(DropReason::LinkLocal)
    );
    assert_eq!(t.lookup(A, now), None, "BPDUs are never learned");
}

#[test]
fn a_closed_port_passes_only_bpdus_and_learns_nothing() {
    let t = SharedMacTable::new(Config::default());
    let now = Instant::now();
    let closed = PortView::internal(PortId(1), Gate::Closed);
    let rules = Rules {
        spanning_tree: true,
        ..Rules::default()
    };
    let out = process(&t, rules, closed, &frame(B, A), now);
    assert_eq!(
        out,
        Outcome::unlearned(Action::Drop(DropReason::StpBlocked))
    );
    assert_eq!(t.lookup(A, now), None);
    // Even a short one: the protocol rejects and counts it.
    assert_eq!(process(&t, rules, closed, &STP, now).action, Action::Local);
}

#[test]
fn a_learning_port_learns_and_forwards_nothing() {
    let t = SharedMacTable::new(Config::default());
    let now = Instant::now();
    let learning = PortView::internal(PortId(4), Gate::LearnOnly);
    let out = process(&t, Rules::default(), learning, &frame(B, A), now);
    assert_eq!(out.action, Action::Drop(DropReason::StpBlocked));
    assert_eq!(out.learned, Some(Learned::New));
    assert_eq!(t.lookup(A, now), Some(PortId(4)));
    let bad = process(&t, Rules::default(), learning, &frame(B, [0xff; 6]), now);
    assert_eq!(bad.learned, None);
}

#[test]
fn destination_on_the_ingress_port_is_dropped() {
    let t = SharedMacTable::new(Config::default());
    let now = Instant::now();
    action(&t, 1, &frame(B, A), now);
    action(&t, 1, &frame(A, B), now);
    assert_eq!(
        action(&t, 1, &frame(B, A), now),
        Action::Drop(DropReason::SamePort)
    );
}

#[test]
fn short_frame_is_dropped() {
    let t = SharedMacTable::new(Config::default());
    assert_eq!(
        action(&t, 1, &[0u8; 13], Instant::now()),
        Action::Drop(DropReason::FrameTruncated)
    );
}

#[test]
fn aged_destination_floods_again() {
    let t = SharedMacTable::new(Config {
        max_entries: 16,
        ageing: Duration::from_secs(15),
    });
    let t0 = Instant::now();
    action(&t, 1, &frame(B, A), t0);
    assert_eq!(action(&t, 2, &frame(A, B), t0), Action::Deliver(PortId(1)));
    let later = t0 + Duration::from_secs(16);
    assert_eq!(action(&t, 2, &frame(A, B), later), Action::Flood);
}

#[test]
fn watchers_hear_the_action_as_a_verdict() {
    let t = SharedMacTable::new(Config::default());
    let now = Instant::now();
    assert_eq!(action(&t, 1, &frame(B, A), now).verdict(), Verdict::Flood);
    assert_eq!(
        action(&t, 2, &frame(A, B), now).verdict(),
        Verdict::Unicast(PortId(1))
    );
    assert_eq!(
        Action::Drop(DropReason::SamePort).verdict(),
        Verdict::Drop(DropReason::SamePort)
    );
}

fn may(
    egress: &PortView<'_>,
    ingress: &PortView<'_>,
    split: bool,
    d: Delivery,
) -> Result<Retag, Exclusion> {
    let rules = Rules {
        split_horizon: split,
        spanning_tree: false,
    };
    should_deliver(
        egress,
        ingress,
        rules,
        d,
        FrameVlan::UNTAGGED,
        FrameSize::plain(60),
    )
}

#[test]
fn never_back_out_of_the_ingress_port() {
    for split in [false, true] {
        for tunnel_in in [false, true] {
            let p = PortView {
                tunnel: tunnel_in,
                ..open(1)
            };
            for d in [Delivery::Flood, Delivery::Unicast] {
                assert_eq!(may(&p, &p, split, d), Err(Exclusion::Ingress));
            }
        }
    }
}

#[test]
fn split_horizon_blocks_only_floods_from_tunnel_to_tunnel() {
    let (t1, t2, tap) = (tunnel(1, 1462), tunnel(2, 1462), open(3));
    assert_eq!(may(&t2, &t1, false, Delivery::Flood), Ok(Retag::Keep));
    assert_eq!(
        may(&t2, &t1, true, Delivery::Flood),
        Err(Exclusion::SplitHorizon)
    );
    assert_eq!(may(&t2, &t1, true, Delivery::Unicast), Ok(Retag::Keep));
    assert_eq!(may(&tap, &t1, true, Delivery::Flood), Ok(Retag::Keep));
    assert_eq!(may(&t1, &tap, true, Delivery::Flood), Ok(Retag::Keep));
    // A closed tunnel is excluded for spanning tree first, as trace reports it.
    let closed = PortView {
        gate: Gate::Closed,
        ..t2
    };
    assert_eq!(
        may(&closed, &t1, true, Delivery::Flood),
        Err(Exclusion::Blocked)
    );
}

#[test]
fn only_forwarding_ports_receive() {
    let ingress = open(1);
    for gate in [Gate::LearnOnly, Gate::Closed] {
        let egress = PortView::internal(PortId(2), gate);
        for d in [Delivery::Flood, Delivery::Unicast] {
            assert_eq!(may(&egress, &ingress, false, d), Err(Exclusion::Blocked));
        }
    }
}

#[test]
fn a_frame_its_tunnel_cannot_carry_is_too_big() {
    let rules = Rules::default();
    let (ingress, t) = (open(1), tunnel(2, 1462));
    let fits = FrameSize::plain(1462);
    let over = FrameSize::plain(1463);
    assert_eq!(
        should_deliver(
            &t,
            &ingress,
            rules,
            Delivery::Unicast,
            FrameVlan::UNTAGGED,
            fits
        ),
        Ok(Retag::Keep)
    );
    let refused = should_deliver(
        &t,
        &ingress,
        rules,
        Delivery::Unicast,
        FrameVlan::UNTAGGED,
        over,
    );
    assert_eq!(refused, Err(Exclusion::TooBig));
    assert!(refused.unwrap_err().is_refusal());
    // Internal ports take what the host hands them.
    assert_eq!(
        should_deliver(
            &open(3),
            &ingress,
            rules,
            Delivery::Flood,
            FrameVlan::UNTAGGED,
            over
        ),
        Ok(Retag::Keep)
    );
    // A TSO frame is judged by its largest segment, unless the tunnel carries it whole.
    let tso = FrameSize {
        len: 64_000,
        segment: Some(1462),
    };
    assert_eq!(
        should_deliver(
            &t,
            &ingress,
            rules,
            Delivery::Flood,
            FrameVlan::UNTAGGED,
            tso
        ),
        Ok(Retag::Keep)
    );
    let big_segments = FrameSize {
        segment: Some(1463),
        ..tso
    };
    assert_eq!(
        should_deliver(
            &t,
            &ingress,
            rules,
            Delivery::Flood,
            FrameVlan::UNTAGGED,
            big_segments
        ),
        Err(Exclusion::TooBig)
    );
    let whole = PortView {
        whole_gso: true,
        ..t
    };
    assert_eq!(
        should_deliver(
            &whole,
            &ingress,
            rules,
            Delivery::Flood,
            FrameVlan::UNTAGGED,
            big_segments
        ),
        Ok(Retag::Keep)
    );
    assert_eq!(
        should_deliver(
            &whole,
            &ingress,
            rules,
            Delivery::Flood,
            FrameVlan::UNTAGGED,
            over
        ),
        Err(Exclusion::TooBig),
        "a plain frame still has to fit"
    );
}

fn tagged_frame(dst: [u8; 6], src: [u8; 6], tci: u16) -> Vec<u8> {
    let mut f = frame(dst, src);
    f.splice(12..12, [0x81, 0x00, (tci >> 8) as u8, tci as u8]);
    f
}

fn with_vlan<'a>(view: PortView<'_>, vlan: &'a PortVlan) -> PortView<'a> {
    PortView { vlan, ..view }
}

#[test]
fn the_ingress_port_and_the_tag_give_the_frames_vlan() {
    let t = SharedMacTable::new(Config::default());
    let now = Instant::now();
    let access = PortVlan::Access(100);
    let trunk = PortVlan::Trunk(VlanSet::new([200]));
    let run =
        |port: &PortVlan, f: &[u8]| process(&t, Rules::default(), with_vlan(open(1), port), f, now);
    let o = run(&access, &frame(B, A));
    assert_eq!(o.vlan, Some(FrameVlan::new(100, None)));
    assert_eq!(o.action, Action::Flood);
    // Priority bits travel with the frame's VLAN; VID 0 is untagged.
    let o = run(&access, &tagged_frame(B, A, 0xa000));
    assert_eq!(o.vlan, Some(FrameVlan::new(100, Some(0xa000))));
    let o = run(&trunk, &tagged_frame(B, A, 0x6000 | 200));
    assert_eq!(o.vlan, Some(FrameVlan::new(200, Some(0x6000 | 200))));
    for (port, f) in [
        (&access, tagged_frame(B, A, 100)),
        (&trunk, tagged_frame(B, A, 100)),
        (&PortVlan::TrunkAll, tagged_frame(B, A, 4095)),
    ] {
        let o = run(port, &f);
        assert_eq!(
            o.action,
            Action::Drop(DropReason::VlanNotAllowed),
            "{port:?}"
        );
        assert_eq!(o.learned, None, "a refused frame teaches nothing");
    }
    let all = t.entries(now);
    let mut vlans: Vec<u16> = all.iter().map(|e| e.vlan).collect();
    vlans.sort();
    assert_eq!(vlans, [100, 200], "A learned once per VLAN");
}

#[test]
fn learning_and_lookup_stay_inside_the_vlan() {
    let t = SharedMacTable::new(Config::default());
    let now = Instant::now();
    let trunk = PortVlan::TrunkAll;
    let run = |port: u32, f: &[u8]| {
        process(&t, Rules::default(), with_vlan(open(port), &trunk), f, now).action
    };
    // A in VLAN 100 on port 1, and the same A in VLAN 200 on port 2.
    assert_eq!(run(1, &tagged_frame(B, A, 100)), Action::Flood);
    assert_eq!(run(2, &tagged_frame(B, A, 200)), Action::Flood);
    assert_eq!(run(3, &tagged_frame(A, B, 100)), Action::Deliver(PortId(1)));
    assert_eq!(run(3, &tagged_frame(A, B, 200)), Action::Deliver(PortId(2)));
    assert_eq!(
        run(3, &tagged_frame(A, B, 300)),
        Action::Flood,
        "unknown in 300"
    );
    assert_eq!(run(3, &frame(A, B)), Action::Flood, "unknown untagged");
}

#[test]
fn a_bpdu_is_untouched_by_vlans() {
    let t = SharedMacTable::new(Config::default());
    let rules = Rules {
        spanning_tree: true,
        ..Rules::default()
    };
    let access = PortVlan::Access(5);
    let o = process(
        &t,
        rules,
        with_vlan(open(1), &access),
        &frame(STP, A),
        Instant::now(),
    );
    assert_eq!(o.action, Action::Local);
}

#[test]
fn floods_reach_only_ports_that_carry_the_vlan() {
    let rules = Rules::default();
    let size = FrameSize::plain(60);
    let (a100, a200) = (PortVlan::Access(100), PortVlan::Access(200));
    let trunk = PortVlan::Trunk(VlanSet::new([100]));
    let ingress = open(1);
    let in_100 = FrameVlan::new(100, None);
    let deliver = |egress: PortView<'_>| {
        should_deliver(&egress, &ingress, rules, Delivery::Flood, in_100, size)
    };
    assert_eq!(deliver(with_vlan(open(2), &a100)), Ok(Retag::Keep));
    assert_eq!(
        deliver(with_vlan(open(3), &a200)),
        Err(Exclusion::VlanNotCarried)
    );
    assert_eq!(deliver(with_vlan(open(4), &trunk)), Ok(Retag::Push(100)));
    assert_eq!(
        deliver(tunnel(5, 1462)),
        Ok(Retag::Push(100)),
        "tunnels trunk every VLAN"
    );
    let in_300 = FrameVlan::new(300, Some(300));
    assert_eq!(
        should_deliver(
            &with_vlan(open(4), &trunk),
            &ingress,
            rules,
            Delivery::Unicast,
            in_300,
            size
        ),
        Err(Exclusion::VlanNotCarried)
    );
    assert!(!Exclusion::VlanNotCarried.is_refusal());
}

#[test]
fn the_too_big_rule_counts_the_tag_a_tunnel_pushes_or_pops() {
    let rules = Rules::default();
    let ingress = open(1);
    let t = tunnel(2, 1462);
    let untagged_100 = FrameVlan::new(100, None);
    assert_eq!(untagged_100.retag(t.vlan), Some(Retag::Push(100)));
    let deliver = |vlan, size| should_deliver(&t, &ingress, rules, Delivery::Unicast, vlan, size);
    assert_eq!(
        deliver(untagged_100, FrameSize::plain(1458)),
        Ok(Retag::Push(100))
    );
    assert_eq!(
        deliver(untagged_100, FrameSize::plain(1459)),
        Err(Exclusion::TooBig),
        "1459 + the pushed tag is 1463"
    );
    // A TSO frame's segments grow by the tag as well.
    let tso = FrameSize {
        len: 64_000,
        segment: Some(1459),
    };
    assert_eq!(deliver(untagged_100, tso), Err(Exclusion::TooBig));
    // An access tunnel pops the tag: a tagged 1466-byte frame leaves as 1462.
    let access = PortVlan::Access(100);
    let popping = with_vlan(t, &access);
    let tagged_100 = FrameVlan::new(100, Some(100));
    assert_eq!(
        should_deliver(
            &popping,
            &ingress,
            rules,
            Delivery::Unicast,
            tagged_100,
            FrameSize::plain(1466)
        ),
        Ok(Retag::Pop)
    );
}
