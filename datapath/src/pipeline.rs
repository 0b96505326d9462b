//! The bridge's decision for one frame, with no IO: which port it came in on, its bytes, the
//! bridge's state and `now` go in; what to do comes out, as a small `Copy` value the caller
//! carries out (as boringtun's `Tunn` returns `WriteToNetwork` or `WriteToTunnel`). The packet
//! loop calls it for every frame; `ofproto/trace` calls the same function on a copy of the MAC
//! table, so what trace says is what the loop does.
//!
//! The steps, in the order of the Linux bridge's `br_handle_frame` and `br_handle_frame_finish`:
//! 1. spanning tree gate of the ingress port (a BPDU goes to the bridge itself, a learning port
//!    learns, nothing else passes a closed port);
//! 2. ingress checks (a whole Ethernet header, a source that names one station, no reserved
//!    link-local destination);
//! 3. VLAN: the ingress port's `PortVlan` and the frame's 802.1Q tag give the frame's VLAN, or
//!    drop it (`vlan_not_allowed`); BPDUs were taken before, untouched by VLANs;
//! 4. learning the source and looking up the destination in that VLAN, under one lock;
//! 5. flow table: the slot for rules that override the learned action (later);
//! 6. the action: to one port, flood, or drop.
//!
//! Which port may then receive the frame is one predicate, [`should_deliver`], as `br_forward.c`'s
//! `should_deliver`: never back out of the ingress port, only to forwarding ports, only to ports
//! that carry the frame's VLAN, never flooded from a tunnel into a tunnel with split horizon,
//! never a frame that its tunnel cannot carry (counting the tag the port pushes or pops);
//! checked in that order, which is the order `ofproto/trace` gives the first reason in.

use std::time::Instant;

use encap::ethernet::Frame;
use learning::{Learned, PortId, SharedMacTable};

use crate::counters::DropReason;
use crate::vlan::{FrameVlan, PortVlan, Retag, TRUNK_ALL, tag_of};

/// What spanning tree lets a port do with data frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Receive, learn, send: a forwarding port, or one outside the tree (internal ports, ports
    /// with `stp-enable=false`, bridges without spanning tree).
    Open,
    /// Learn source addresses, forward nothing (the learning state).
    LearnOnly,
    /// Nothing but BPDUs (blocking, listening, discarding).
    Closed,
}

impl From<stp::PortState> for Gate {
    fn from(state: stp::PortState) -> Gate {
        if state.forwards() {
            Gate::Open
        } else if state.learns() {
            Gate::LearnOnly
        } else {
            Gate::Closed
        }
    }
}

/// One port as the decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortView<'a> {
    pub id: PortId,
    /// Which VLANs it carries and how (`TrunkAll` unless configured).
    pub vlan: &'a PortVlan,
    pub tunnel: bool,
    pub gate: Gate,
    /// The longest frame the port carries whole (a tunnel's path MTU less its outer headers);
    /// `None`: no limit.
    pub max_frame: Option<u32>,
    /// A `large_frames` tunnel: a frame for segmentation crosses as one packet that the
    /// transport fragments, so no limit applies to it.
    pub whole_gso: bool,
}

impl PortView<'static> {
    /// An internal port: no limit, a trunk for every VLAN, forwarding unless spanning tree says
    /// otherwise.
    pub fn internal(id: PortId, gate: Gate) -> PortView<'static> {
        PortView {
            id,
            vlan: &TRUNK_ALL,
            tunnel: false,
            gate,
            max_frame: None,
            whole_gso: false,
        }
    }
}

/// The bridge's settings that the decision reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rules {
    /// Never flood a frame that came from a tunnel to another tunnel.
    pub split_horizon: bool,
    /// The bridge runs spanning tree: BPDUs are for it.
    pub spanning_tree: bool,
}

/// What the bridge does with one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The destination is known on this port.
    Deliver(PortId),
    /// Broadcast, multicast or unknown destination: to every port [`should_deliver`] lets have
    /// it.
    Flood,
    /// For the bridge itself: a BPDU for its spanning tree.
    Local,
    /// To the ports a flow's actions name (the flow table fills the targets).
    Flows,
    Drop(DropReason),
}

impl Action {
    /// The action as a watcher is told it (`monitor`); `Local` frames are never reported there.
    pub fn verdict(self) -> Verdict {
        match self {
            Action::Deliver(p) => Verdict::Unicast(p),
            Action::Flood => Verdict::Flood,
            Action::Local => Verdict::Drop(DropReason::LinkLocal),
            Action::Flows => Verdict::Flow,
            Action::Drop(r) => Verdict::Drop(r),
        }
    }
}

/// What the bridge did with a frame, as watchers (`ofproto/trace-live`, `grebe capture`) see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The destination is known on this port.
    Unicast(PortId),
    /// Broadcast, multicast or unknown destination: every port but the ingress one (and, with
    /// split horizon, no tunnel when the frame came from a tunnel).
    Flood,
    /// To the ports an OpenFlow flow's actions name.
    Flow,
    Drop(DropReason),
}

/// The decision and what learning did on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub action: Action,
    /// `None` when the frame did not reach the learning step.
    pub learned: Option<Learned>,
    /// The frame's VLAN; `None` when it did not reach the VLAN step.
    pub vlan: Option<FrameVlan>,
}

impl Outcome {
    #[inline]
    fn unlearned(action: Action) -> Outcome {
        Outcome {
            action,
            learned: None,
            vlan: None,
        }
    }
}

/// IEEE 802.1D reserved group addresses 01:80:c2:00:00:00..0f: bridges do not forward them.
#[inline]
fn is_link_local(mac: [u8; 6]) -> bool {
    mac[..5] == [0x01, 0x80, 0xc2, 0x00, 0x00] && mac[5] & 0xf0 == 0
}

/// The one place a BPDU is recognised: a frame to the spanning tree group address.
#[inline]
pub fn is_bpdu(frame: &[u8]) -> bool {
    frame.get(..6) == Some(&stp::bpdu::GROUP_ADDRESS[..])
}

/// Decides what to do with `frame`, which came in on `ingress`, learning its source in `table`.
#[inline]
pub fn process(
    table: &SharedMacTable,
    rules: Rules,
    ingress: PortView<'_>,
    frame: &[u8],
    now: Instant,
) -> Outcome {
    // 1. Spanning tree gate.
    if ingress.gate != Gate::Open {
        return gated(table, ingress, frame, now);
    }
    // 2. Ingress checks.
    let Ok(eth) = Frame::new_checked(frame) else {
        return Outcome::unlearned(Action::Drop(DropReason::FrameTruncated));
    };
    let src = eth.src_addr();
    // Learn only from valid sources, "after filtering to avoid spoofing" (br_input.c).
    if src.is_multicast() || src.is_zero() {
        return Outcome::unlearned(Action::Drop(DropReason::InvalidSourceMac));
    }
    let dst = eth.dst_addr();
    // Reserved addresses are group addresses: a unicast destination is ruled out by one bit.
    if dst.is_multicast() && is_link_local(dst.0) {
        let action = if rules.spanning_tree && is_bpdu(frame) {
            Action::Local
        } else {
            Action::Drop(DropReason::LinkLocal)
        };
        return Outcome::unlearned(action);
    }
    // 3. VLAN.
    let tci = tag_of(frame);
    let Ok(vlan) = ingress.vlan.ingress(tci.map(|t| t & 0x0fff)) else {
        return Outcome::unlearned(Action::Drop(DropReason::VlanNotAllowed));
    };
    let vlan = FrameVlan::new(vlan, tci);
    // 4. Learn, then look up a unicast destination in the frame's VLAN, under one lock.
    let unicast = (!dst.is_multicast()).then_some(dst.0);
    let src = learning::Addr::new(vlan.vlan(), src.0);
    let (learned, found) = table.learn_and_lookup(src, ingress.id, unicast, now);
    // 5. Flow table (slot): a matching rule replaces the learned action here.
    // 6. The action.
    let action = match found {
        Some(port) if port == ingress.id => Action::Drop(DropReason::SamePort),
        Some(port) => Action::Deliver(port),
        None => Action::Flood,
    };
    Outcome {
        action,
        learned: Some(learned),
        vlan: Some(vlan),
    }
}

/// A frame on a port that spanning tree keeps from forwarding: a BPDU is the bridge's, a
/// learning port learns the source, nothing is forwarded.
#[cold]
fn gated(table: &SharedMacTable, ingress: PortView<'_>, frame: &[u8], now: Instant) -> Outcome {
    if is_bpdu(frame) {
        return Outcome::unlearned(Action::Local);
    }
    let vlan = ingress.vlan.ingress(tag_of(frame).map(|t| t & 0x0fff)).ok();
    let learned = match (Frame::new_checked(frame), vlan) {
        (Ok(f), Some(vlan))
            if ingress.gate == Gate::LearnOnly
                && !f.src_addr().is_multicast()
                && !f.src_addr().is_zero() =>
        {
            let src = learning::Addr::new(vlan, f.src_addr().0);
            Some(table.learn(src, ingress.id, now))
        }
        _ => None,
    };
    Outcome {
        action: Action::Drop(DropReason::StpBlocked),
        learned,
        vlan: None,
    }
}

/// How big a frame is on the wire, for the too-big rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSize {
    pub len: u32,
    /// A frame the kernel handed over for segmentation (TSO): its largest segment, headers
    /// included.
    pub segment: Option<u32>,
}

impl FrameSize {
    pub fn plain(len: usize) -> FrameSize {
        FrameSize {
            len: u32::try_from(len).unwrap_or(u32::MAX),
            segment: None,
        }
    }
}

/// How a frame is being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// To the one port its destination was learned on.
    Unicast,
    Flood,
}

/// Why a frame does not leave by a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclusion {
    /// Never back out of the port it came in on.
    Ingress,
    /// With split horizon, never flooded from one tunnel into another (safe in a full mesh of
    /// tunnels, where every host already got the frame from its origin).
    SplitHorizon,
    /// Spanning tree keeps the port from forwarding.
    Blocked,
    /// The port does not carry the frame's VLAN.
    VlanNotCarried,
    /// The frame and the tunnel's headers exceed the path MTU (the outer DF bit is set).
    TooBig,
}

impl Exclusion {
    pub fn name(self) -> &'static str {
        match self {
            Exclusion::Ingress => "ingress",
            Exclusion::SplitHorizon => "split_horizon",
            Exclusion::Blocked => "stp_blocked",
            Exclusion::VlanNotCarried => "vlan_not_carried",
            Exclusion::TooBig => "too_big",
        }
    }

    /// Whether the port was a target all the same, one that refused the frame: a too-big frame
    /// counts against the port (`tx_dropped`), an excluded port never saw it.
    pub fn is_refusal(self) -> bool {
        self == Exclusion::TooBig
    }
}

/// May a frame of `vlan` that came in on `ingress` leave by `egress`, and if so, what does the
/// port do to its tag? The too-big rule counts the frame as it leaves: with the tag the port
/// pushes, without the one it pops. The sender applies the returned [`Retag`] as it is.
#[inline]
pub fn should_deliver(
    egress: &PortView<'_>,
    ingress: &PortView<'_>,
    rules: Rules,
    delivery: Delivery,
    vlan: FrameVlan,
    size: FrameSize,
) -> Result<Retag, Exclusion> {
    if egress.id == ingress.id {
        return Err(Exclusion::Ingress);
    }
    if egress.gate != Gate::Open {
        return Err(Exclusion::Blocked);
    }
    let Some(retag) = vlan.retag(egress.vlan) else {
        return Err(Exclusion::VlanNotCarried);
    };
    if delivery == Delivery::Flood && rules.split_horizon && ingress.tunnel && egress.tunnel {
        return Err(Exclusion::SplitHorizon);
    }
    let wire = match size.segment {
        Some(_) if egress.whole_gso => return Ok(retag),
        Some(segment) => retag.apply_len(segment),
        None => retag.apply_len(size.len),
    };
    match egress.max_frame {
        Some(max) if wire > max => Err(Exclusion::TooBig),
        _ => Ok(retag),
    }
}

#[cfg(test)]
mod tests;
