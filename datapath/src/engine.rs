//! The datapath thread: one loop that owns every port and socket. It waits for the wake socket,
//! the raw GRE socket and the TAPs, reads a batch, and for each frame runs the bridge's decision
//! and hands the frame to `forward`; between batches it applies the control side's `Command`s
//! (`engine::commands`) and runs the timers (MAC ageing, spanning tree, neighbour probes).
//! System ports' sockets and link events are `engine::system`'s; MSS clamping and ICMP too-big
//! answers `engine::mtu`'s.

mod commands;
mod mtu;
mod system;

use std::net::IpAddr;
use std::ops::Range;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use encap::gro;
use encap::tunnel::{self, CongestionMark};
use encap::vnet::{self, VnetHeader};
use learning::{PortId, SharedMacTable};

use crate::coalesce::Coalescer;
use crate::command::Command;
use crate::counters::{BatchSource, DropCounters, DropReason, EventCounters, LoopCounters, bump};
use crate::forward::{TunnelSockets, TxQueues, output};
use crate::frame::FrameRef;
use crate::monitor::Watchers;
use crate::offload;
use crate::pipeline::{self, Action, Delivery, Exclusion, PortView, Rules, should_deliver};
use crate::pmtu::{PmtuSettings, TokenBucket};
use crate::port::tunnel::NoTunnel;
use crate::port::{PortIo, PortState, Source, TapRead, TunnelMap};
use crate::sys::{self, LinkEvents, MAX_BATCH, RecvBatch, SystemRecvBatch, SystemSendScratch};
use crate::tree::{self, Tree};
use crate::vlan::{FrameVlan, Retag, TRUNK_ALL};
use encap::too_big;

/// Frames read from a TAP per batch when they may be 64 KB each.
const TAP_BATCH_OFFLOAD: usize = 8;
/// Batches drained from one fd before the loop looks at the others.
const BATCHES_PER_WAKE: usize = 4;
/// Packets queued before they are sent in the middle of a batch: a batch of broadcasts flooded
/// to a thousand tunnels would otherwise queue tens of thousands, and the queues (which keep
/// their capacity) would hold megabytes for good.
const TX_FLUSH_AT: usize = 1024;
/// How often a tunnel with an Ethernet link sends one packet by the raw socket anyway, so the
/// kernel keeps confirming (or re-resolving) the remote's MAC; and how often a tunnel to an
/// unresolved remote sends one at all, so the kernel keeps asking for it.
const NEIGHBOUR_PROBE: Duration = Duration::from_secs(1);

pub(crate) struct BridgeState {
    pub(crate) table: Arc<SharedMacTable>,
    pub(crate) ports: Vec<PortId>,
    pub(crate) split_horizon: bool,
    pub(crate) tree: Option<Tree>,
    pub(crate) pmtu: PmtuSettings,
    /// The smallest frame limit of the bridge's tunnels (that have one): what a SYN's MSS is
    /// clamped to. Kept up to date as ports come, go and change.
    pub(crate) tunnel_frame: Option<u32>,
    pub(crate) icmp_bucket: TokenBucket,
    /// The OpenFlow table, read without a lock (replaced whole on a flow-mod); None is the
    /// implicit NORMAL flow, and costs nothing per frame.
    pub(crate) flows: Option<Arc<flowtable::FlowTable>>,
    /// The exact-match cache of this table (a new one with each table); the loop's own, so a
    /// cell rather than a lock.
    pub(crate) flow_cache: std::cell::RefCell<flowtable::FlowCache>,
}

impl BridgeState {
    /// The settings the decision reads.
    #[inline]
    fn rules(&self) -> Rules {
        Rules {
            split_horizon: self.split_horizon,
            spanning_tree: self.tree.is_some(),
        }
    }
}

/// The datapath thread's state: it alone touches ports and sockets.
pub(crate) struct Engine {
    sockets: TunnelSockets,
    wake: UnixDatagram,
    commands: mpsc::Receiver<Command>,
    drops: Arc<DropCounters>,
    events: Arc<EventCounters>,
    loops: Arc<LoopCounters>,
    /// An ICMP too-big answer being built: virtio-net header, then the frame. Allocated once.
    icmp: Box<[u8]>,
    icmp_scratch: SystemSendScratch,
    bridges: Vec<Option<BridgeState>>,
    /// Indexed by port number.
    ports: Vec<Option<PortState>>,
    tunnels: TunnelMap,
    /// What the loop polls, in order.
    sources: Vec<Source>,
    /// The kernel's link events, opened with the first system port: they, not a timer, tell
    /// system ports that their interface came, went or was made again.
    link_events: Option<LinkEvents>,
    /// `sources` was rebuilt since the last poll.
    sources_changed: bool,
    /// Frames to and from TAPs carry a virtio-net header.
    offload: bool,
    /// Scratch: the ports the current frame goes to.
    targets: Vec<PortId>,
    /// TCP segments from tunnels being joined into one frame for a TAP.
    coalescer: Coalescer,
    monitors: Watchers,
    /// The GRE sockets' (IPv4, IPv6) receive-queue drop counts when last read.
    gre_drops_seen: [u32; 2],
}

pub(crate) fn slot<T>(v: &mut Vec<Option<T>>, i: usize) -> &mut Option<T> {
    if v.len() <= i {
        v.resize_with(i + 1, || None);
    }
    &mut v[i]
}

impl Engine {
    pub(crate) fn new(
        sockets: TunnelSockets,
        wake: UnixDatagram,
        commands: mpsc::Receiver<Command>,
        drops: Arc<DropCounters>,
        events: Arc<EventCounters>,
        loops: Arc<LoopCounters>,
        offload: bool,
    ) -> Engine {
        let mut sources = vec![Source::Wake, Source::Tunnels];
        if sockets.raw6.is_some() {
            sources.push(Source::Tunnels6);
        }
        Engine {
            sockets,
            wake,
            commands,
            drops,
            events,
            loops,
            icmp: vec![0; vnet::HEADER_LEN + too_big::MAX_REPLY_LEN].into_boxed_slice(),
            icmp_scratch: SystemSendScratch::default(),
            bridges: Vec::new(),
            ports: Vec::new(),
            tunnels: TunnelMap::default(),
            sources,
            link_events: None,
            sources_changed: false,
            offload,
            targets: Vec::new(),
            coalescer: Coalescer::default(),
            monitors: Watchers::default(),
            gre_drops_seen: [0; 2],
        }
    }

    pub(crate) fn run(&mut self) {
        let mut rx = RecvBatch::new();
        // Zeroed on allocation: pages are only made resident when a system port fills them.
        let mut system_rx = SystemRecvBatch::new();
        let mut tx = TxQueues::default();
        let mut pollfds = Vec::new();
        let mut ready = Vec::new();
        let mut next_expiry: Option<Instant> = None;
        let mut next_probe = Instant::now();
        let mut next_tree_tick = Instant::now();
        loop {
            if !self.apply_commands() {
                return;
            }
            let now = Instant::now();
            let mut timeout = next_expiry.map_or(Duration::from_secs(1), |t| {
                t.saturating_duration_since(now).min(Duration::from_secs(1))
            });
            // Spanning tree timers every TICK, not on every wake-up (tens of thousands a second
            // under load); received BPDUs are answered as they come (`bpdu`).
            if self.bridges.iter().flatten().any(|b| b.tree.is_some()) {
                if now >= next_tree_tick {
                    next_tree_tick = now + tree::TICK;
                    self.run_trees(now, &mut tx);
                    self.flush(&mut tx, rx.buffers());
                }
                timeout = timeout.min(next_tree_tick.saturating_duration_since(now));
            }
            let fds = self.sources.iter().filter_map(|s| self.source_fd(*s));
            if let Err(e) = sys::poll_readable(fds, timeout, &mut pollfds, &mut ready) {
                tracing::error!(error = %e, "poll failed");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            self.loops.iteration(!ready.contains(&true));
            self.sources_changed = false;
            for i in 0..self.sources.len() {
                // A drain that attached or detached a system port rebuilt the poll set: the
                // readiness flags no longer line up with it, so poll again.
                if self.sources_changed {
                    break;
                }
                if ready.get(i) == Some(&true) {
                    match self.sources[i] {
                        Source::Port(id) if self.is_system(id) => {
                            self.drain_system(id, &mut system_rx, &mut tx)
                        }
                        source => self.drain(source, &mut rx, &mut tx),
                    }
                }
            }
            let now = Instant::now();
            if now >= next_probe {
                next_probe = now + NEIGHBOUR_PROBE;
                self.count_queue_drops();
                for i in 0..self.ports.len() {
                    let lost = matches!(&self.ports[i], Some(PortState { io: PortIo::Internal(t), .. }) if t.is_lost());
                    if lost {
                        self.recreate_internal(PortId(i as _));
                    }
                }
                for port in self.ports.iter_mut().flatten() {
                    if let PortIo::Tunnel(t) = &mut port.io {
                        t.probe_raw = t.link.is_some() || t.unresolved;
                    }
                }
            }
            if next_expiry.is_none_or(|t| t <= now) {
                next_expiry = None;
                for b in self.bridges.iter().flatten() {
                    b.table.expire(now);
                    if let Some(t) = b.table.next_expiry() {
                        next_expiry = Some(next_expiry.map_or(t, |n: Instant| n.min(t)));
                    }
                }
                // Entries learned later are at least a whole ageing period away; look again
                // within a second anyway so a new bridge's first entries are seen.
                if next_expiry.is_none() {
                    next_expiry = Some(now + Duration::from_secs(1));
                }
            }
        }
    }

    /// An internal port's device was deleted under grebe (`ip link del mgmt0`): the port is
    /// still in the configuration, so its device is made again at once, as a port of the bridge,
    /// and the poll set takes the new descriptor. If it cannot be made now (the name taken by
    /// another device), the port is not polled and the neighbour-probe tick tries again.
    fn recreate_internal(&mut self, id: PortId) {
        let Some(Some(port)) = self.ports.get_mut(id.0 as usize) else {
            return;
        };
        let PortIo::Internal(tap) = &mut port.io else {
            return;
        };
        match tap.reopen(self.offload) {
            Ok(()) => {
                tracing::warn!(
                    port = tap.name(),
                    "internal port's device was deleted; made it again (its addresses went with the old one)"
                );
            }
            Err(e) => {
                tracing::error!(port = tap.name(), error = %e, "internal port's device was deleted and cannot be made again; retrying every second")
            }
        }
        self.update_sources();
    }

    /// Counts the packets the kernel dropped since the last call because one of grebe's
    /// receive sockets was full: they never reached the loop, so only the kernel can say.
    fn count_queue_drops(&mut self) {
        let mut new = 0u64;
        let gre = [
            Some(self.sockets.raw.as_fd()),
            self.sockets.raw6.as_ref().map(AsFd::as_fd),
        ];
        for (seen, fd) in self.gre_drops_seen.iter_mut().zip(gre) {
            if let Some(Ok(now)) = fd.map(sys::receive_queue_drops) {
                new += u64::from(now.wrapping_sub(*seen));
                *seen = now;
            }
        }
        for port in self.ports.iter_mut().flatten() {
            if let PortIo::System(p) = &mut port.io {
                new += p.new_queue_drops();
            }
        }
        if new > 0 {
            self.drops.add_many(DropReason::RxQueueFull, new);
        }
    }

    /// Runs the bridges' spanning tree timers and carries out what they ask.
    fn run_trees(&mut self, now: Instant, tx: &mut TxQueues) {
        for b in self.bridges.iter_mut().flatten() {
            if let Some(tree) = &mut b.tree {
                tree.tick(now);
                tree.drain(&mut self.ports, &b.table, &mut tx.gre, &self.drops);
            }
        }
    }

    /// A frame to 01:80:c2:00:00:00 on a bridge that runs spanning tree: a BPDU for the
    /// protocol, answered at once (RSTP's agreement should not wait for a timer).
    fn bpdu(&mut self, ingress: PortId, frame: &[u8], tx: &mut TxQueues) {
        let Some(Some(port)) = self.ports.get(ingress.0 as usize) else {
            return;
        };
        let Some(Some(b)) = self.bridges.get_mut(port.bridge) else {
            return;
        };
        let Some(tree) = &mut b.tree else {
            self.drops.add(DropReason::LinkLocal);
            return;
        };
        tree.receive(ingress, port, frame, &self.drops);
        tree.drain(&mut self.ports, &b.table, &mut tx.gre, &self.drops);
    }

    /// The descriptor to poll for a source; `None` for a port that went since the set was made.
    fn source_fd(&self, source: Source) -> Option<BorrowedFd<'_>> {
        match source {
            Source::Wake => Some(self.wake.as_fd()),
            Source::Tunnels => Some(self.sockets.raw.as_fd()),
            Source::Tunnels6 => self.sockets.raw6.as_ref().map(|r| r.as_fd()),
            Source::LinkEvents => self.link_events.as_ref().map(|e| e.as_fd()),
            Source::Port(id) => self.ports.get(id.0 as usize)?.as_ref()?.io.poll_fd(),
        }
    }

    /// Rebuilds the poll set after ports came or went: the wake socket, the tunnels' socket,
    /// then every port with a device of its own.
    pub(super) fn update_sources(&mut self) {
        self.sources_changed = true;
        self.sources.clear();
        self.sources.extend([Source::Wake, Source::Tunnels]);
        if self.sockets.raw6.is_some() {
            self.sources.push(Source::Tunnels6);
        }
        if self.link_events.is_some() {
            self.sources.push(Source::LinkEvents);
        }
        let own = self.ports.iter().enumerate().filter_map(|(i, p)| {
            let p = p.as_ref()?;
            p.io.polls_itself()
                .then_some(Source::Port(PortId(i as u32)))
        });
        self.sources.extend(own);
    }

    /// Handles a readable source: up to `BATCHES_PER_WAKE` batches, each decided and sent.
    fn drain(&mut self, source: Source, rx: &mut RecvBatch, tx: &mut TxQueues) {
        match source {
            Source::Wake => {
                let mut sink = [0u8; 64];
                while self.wake.recv(&mut sink).is_ok() {}
            }
            Source::LinkEvents => self.follow_links(),
            Source::Tunnels | Source::Tunnels6 => {
                let ipv6 = source == Source::Tunnels6;
                for _ in 0..BATCHES_PER_WAKE {
                    let received = match &self.sockets.raw6 {
                        Some(raw6) if ipv6 => raw6.recv(rx),
                        _ if ipv6 => Ok(0),
                        _ => self.sockets.raw.recv(rx),
                    };
                    let n = match received {
                        Ok(n) => n,
                        Err(e) => {
                            tracing::warn!(error = %e, "GRE receive failed");
                            0
                        }
                    };
                    if n == 0 {
                        break;
                    }
                    self.loops.batch(BatchSource::Gre, n);
                    self.tunnel_batch(rx, n, tx, ipv6);
                    self.flush(tx, rx.buffers());
                    if n < MAX_BATCH {
                        break;
                    }
                }
            }
            Source::Port(id) => {
                // With offloads a frame can be 64 KB, so the batch is shorter: eight such frames
                // are already ~360 GRE packets, and fewer buffers in use keep the resident set
                // small.
                let limit = if self.offload {
                    TAP_BATCH_OFFLOAD
                } else {
                    MAX_BATCH
                };
                for _ in 0..BATCHES_PER_WAKE {
                    let n = match self.ports.get(id.0 as usize) {
                        Some(Some(port)) => match port.io.read_batch(rx, limit) {
                            TapRead::Frames(n) => n,
                            TapRead::Gone => {
                                self.recreate_internal(id);
                                0
                            }
                        },
                        _ => 0,
                    };
                    if n == 0 {
                        break;
                    }
                    self.loops.batch(BatchSource::Tap, n);
                    self.tap_batch(id, rx, n, tx);
                    self.flush(tx, rx.buffers());
                    if n < limit {
                        break;
                    }
                }
            }
        }
    }

    fn tap_batch(&mut self, id: PortId, rx: &mut RecvBatch, n: usize, tx: &mut TxQueues) {
        let now = Instant::now();
        let skip = if self.offload { vnet::HEADER_LEN } else { 0 };
        for i in 0..n {
            let vnet = if self.offload {
                match offload::take_offload_work(rx.packet_mut(i)) {
                    Ok(v) => v,
                    Err(reason) => {
                        self.drops.add(reason);
                        continue;
                    }
                }
            } else {
                VnetHeader::PLAIN
            };
            if let Some(frame) = rx.packet_mut(i).get_mut(skip..) {
                self.clamp_syn(id, frame, vnet.needs_csum());
            }
            let packet = rx.packet(i);
            let Some(bytes) = packet.get(skip..) else {
                self.drops.add(DropReason::FrameTruncated);
                continue;
            };
            let frame = FrameRef {
                buf: i,
                range: skip..packet.len(),
                bytes,
                tap_bytes: packet,
                packet: bytes,
                overwritten: None,
                vnet,
            };
            self.forward(id, frame, now, tx);
            if tx.len() >= TX_FLUSH_AT {
                self.flush(tx, rx.buffers());
            }
        }
    }

    fn tunnel_batch(&mut self, rx: &mut RecvBatch, n: usize, tx: &mut TxQueues, ipv6: bool) {
        let now = Instant::now();
        for i in 0..n {
            let classified = if ipv6 {
                self.classify6(rx.packet(i))
            } else {
                self.classify(rx.packet(i))
            };
            let (id, range, outer_tos) = match classified {
                Ok(x) => x,
                Err(reason) => {
                    self.drops.add(reason);
                    continue;
                }
            };
            let mark = tunnel::decap_ecn(&mut rx.packet_mut(i)[range.clone()], outer_tos);
            if mark == CongestionMark::NotEct {
                self.drops.add(DropReason::EcnNotEct);
                continue;
            }
            let vnet_header = match &self.ports[id.0 as usize] {
                Some(PortState {
                    io: PortIo::Tunnel(t),
                    ..
                }) if self.offload => {
                    offload::reassembled_to_gso(t, &mut rx.packet_mut(i)[range.clone()])
                }
                _ => VnetHeader::PLAIN,
            };
            // The GRE header in front of the frame is parsed and done with: the TAP's
            // virtio-net header goes in its place, so no frame is copied.
            let mut overwritten = None;
            let tap_start = if self.offload {
                let at = range.start - vnet::HEADER_LEN;
                let spent = &mut rx.packet_mut(i)[at..range.start];
                if !self.monitors.is_empty() {
                    let mut original = [0u8; vnet::HEADER_LEN];
                    original.copy_from_slice(spent);
                    overwritten = Some((at, original));
                }
                vnet_header.emit(spent);
                at
            } else {
                range.start
            };
            let packet = rx.packet(i);
            let frame = FrameRef {
                buf: i,
                range: range.clone(),
                bytes: &packet[range.clone()],
                tap_bytes: &packet[tap_start..range.end],
                packet,
                overwritten,
                vnet: vnet_header,
            };
            self.forward(id, frame, now, tx);
            if tx.len() >= TX_FLUSH_AT {
                self.flush(tx, rx.buffers());
            }
        }
        self.coalescer.flush(&self.ports, &self.drops);
    }

    /// Which tunnel a received packet belongs to, where its Ethernet frame is, and the outer TOS.
    #[inline]
    fn classify(&self, packet: &[u8]) -> Result<(PortId, Range<usize>, u8), DropReason> {
        let decap = encap::decap(packet)?;
        match self
            .tunnels
            .lookup(IpAddr::V4(decap.outer.src_addr), decap.gre.key)
        {
            Ok(id) => Ok((id, decap.frame, decap.outer.tos)),
            Err(NoTunnel::UnknownRemote) => Err(DropReason::UnknownRemote),
            Err(NoTunnel::KeyMismatch) => Err(DropReason::KeyMismatch),
        }
    }

    /// As [`Self::classify`], for a packet of the IPv6 socket (its IPv6 header rebuilt).
    #[inline]
    fn classify6(&self, packet: &[u8]) -> Result<(PortId, Range<usize>, u8), DropReason> {
        let decap = encap::decap_ipv6(packet)?;
        match self
            .tunnels
            .lookup(IpAddr::V6(decap.outer.src_addr), decap.gre.key)
        {
            Ok(id) => Ok((id, decap.frame, decap.outer.traffic_class)),
            Err(NoTunnel::UnknownRemote) => Err(DropReason::UnknownRemote),
            Err(NoTunnel::KeyMismatch) => Err(DropReason::KeyMismatch),
        }
    }

    /// Counts the frame in on `ingress`, runs the bridge's decision, and carries it out.
    #[inline]
    fn forward(&mut self, ingress: PortId, frame: FrameRef<'_>, now: Instant, tx: &mut TxQueues) {
        let Some(in_port) = self.ports[ingress.0 as usize].as_ref() else {
            return;
        };
        in_port.counters.rx(frame.bytes.len());
        let Some(bridge) = self.bridges[in_port.bridge].as_ref() else {
            return;
        };
        let from = in_port.view(ingress);
        let rules = bridge.rules();
        let outcome = pipeline::process(&bridge.table, rules, from, frame.bytes, now);
        let mut action = outcome.action;
        let vlan = outcome.vlan.unwrap_or(FrameVlan::UNTAGGED);
        // The ingress port's VLAN settings are spent once the frame's VLAN is known; letting go
        // of them frees the port table for the sends below.
        let from = PortView {
            vlan: &TRUNK_ALL,
            ..from
        };
        let size = offload::frame_size(frame.bytes, &frame.vnet);
        // Reused across frames: no allocation once it has grown to the widest flood.
        let mut targets = std::mem::take(&mut self.targets);
        targets.clear();
        // The flow table decides a frame that passed the ingress checks; spanning tree, BPDUs
        // and malformed frames stay the bridge's.
        if let Some(flows) = &bridge.flows
            && matches!(
                action,
                Action::Deliver(_) | Action::Flood | Action::Drop(DropReason::SamePort)
            )
        {
            let mut cache = bridge.flow_cache.borrow_mut();
            action = flow_action(
                flows,
                &mut cache,
                ingress,
                frame.bytes,
                action,
                |p| {
                    // A port of this bridge, as the table's numbers are the datapath's.
                    matches!(self.ports.get(p.0 as usize), Some(Some(port)) if port.bridge == in_port.bridge)
                },
                &mut targets,
            );
        }
        match action {
            Action::Local => {
                self.targets = targets;
                return self.bpdu(ingress, frame.bytes, tx);
            }
            // A closed port's traffic never entered the bridge: no watcher hears of it.
            Action::Drop(DropReason::StpBlocked) => {
                self.targets = targets;
                return self.drops.add(DropReason::StpBlocked);
            }
            Action::Deliver(p) => targets.push(p),
            // The flow table chose the targets already.
            Action::Flows => {}
            Action::Flood => targets.extend(bridge.ports.iter().copied().filter(|&p| {
                let Some(Some(port)) = self.ports.get(p.0 as usize) else {
                    return false;
                };
                match should_deliver(&port.view(p), &from, rules, Delivery::Flood, vlan, size) {
                    Ok(_) => true,
                    // Refused, not excluded: the port is a target that counts the drop.
                    Err(why) => why.is_refusal(),
                }
            })),
            Action::Drop(reason) => self.drops.add(reason),
        }
        if targets.is_empty() && !matches!(action, Action::Drop(_)) {
            self.drops.add(DropReason::NoTarget);
        }
        let watched = !self.monitors.is_empty();
        if watched {
            self.monitors
                .rx(ingress, &frame, action.verdict(), &targets);
        } else if let Some((tap, retag)) = self.coalescible_target(from.tunnel, &targets, vlan, tx)
            && let Some(segment) = gro::tcp4_segment(frame.bytes)
            && self
                .coalescer
                .add(tap, frame.bytes, segment, retag, &self.ports, &self.drops)
        {
            self.targets = targets;
            return;
        }
        // Whatever is being coalesced must not be overtaken.
        if self.coalescer.is_pending() {
            self.coalescer.flush(&self.ports, &self.drops);
        }
        // The smallest frame limit of a tunnel that refused the frame as too big.
        let mut too_big_for = None;
        for &p in &targets {
            let Some(Some(port)) = self.ports.get_mut(p.0 as usize) else {
                // Learned on a port deleted since: the table flush races this batch.
                self.drops.add(DropReason::NoTarget);
                continue;
            };
            // Flood targets passed this already but for a refusal; a unicast target meets it
            // here (never the ingress: the pipeline drops that as `same_port`).
            let retag =
                match should_deliver(&port.view(p), &from, rules, Delivery::Unicast, vlan, size) {
                    Ok(retag) => retag,
                    // Learned in a VLAN the port carried before its settings changed; the flush
                    // that follows races this batch.
                    Err(Exclusion::VlanNotCarried) => {
                        self.drops.add(DropReason::VlanNotAllowed);
                        continue;
                    }
                    // Learned before the port closed; the flush that follows a state change races
                    // this batch.
                    Err(Exclusion::Blocked) => {
                        self.drops.add(DropReason::StpBlocked);
                        continue;
                    }
                    Err(_) => {
                        bump(&port.counters.tx_dropped, 1);
                        self.drops.add(DropReason::TooBig);
                        let limit = port.view(p).max_frame.unwrap_or(u32::MAX);
                        too_big_for = Some(too_big_for.map_or(limit, |l: u32| l.min(limit)));
                        continue;
                    }
                };
            let (gre_before, link_before) = (tx.gre.len(), tx.link.len());
            output(p, port, &frame, retag, tx, &self.drops);
            if watched {
                let (queue, queued) = if tx.link.len() > link_before {
                    (&tx.link, link_before)
                } else {
                    (&tx.gre, gre_before)
                };
                let outer_len = port.is_tunnel().then(|| port.outer_len());
                self.monitors.tx(p, outer_len, &frame, queue, queued);
            }
        }
        self.targets = targets;
        // A TSO frame too big is answered too: the sender's TCP matches the error by the
        // ports it quotes and lowers its MSS, which path MTU discovery is there for.
        if let Some(limit) = too_big_for
            && !from.tunnel
        {
            self.answer_too_big(ingress, frame.bytes, limit, now);
        }
    }

    /// The port a frame from a tunnel is coalesced for, if it goes to exactly one port that
    /// carries its VLAN and takes GSO frames (an internal port with offloads, or a system port:
    /// its socket always speaks the virtio-net header), with what the port does to the tag.
    #[inline]
    fn coalescible_target(
        &self,
        from_tunnel: bool,
        targets: &[PortId],
        vlan: FrameVlan,
        tx: &TxQueues,
    ) -> Option<(PortId, Retag)> {
        match targets {
            [p] if from_tunnel => match self.ports.get(p.0 as usize) {
                Some(Some(
                    port @ PortState {
                        io: PortIo::Internal(_),
                        ..
                    },
                )) if self.offload => Some((*p, vlan.retag(&port.vlan)?)),
                // The coalesced frame is sent at once, frames queued for system ports at the
                // end of the batch: none may be waiting, or the coalesced one would overtake.
                Some(Some(
                    port @ PortState {
                        io: PortIo::System(_),
                        ..
                    },
                )) if tx.system.is_empty() => Some((*p, vlan.retag(&port.vlan)?)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Sends the queued tunnel and system port packets, whose frames are in `bufs`.
    fn flush(&mut self, tx: &mut TxQueues, bufs: &[Box<[u8]>]) {
        self.sockets.send(tx, bufs, &self.ports, &self.drops);
    }
}

/// What the flow table does with a frame the bridge would have `normal`: the matching flow's
/// actions (NORMAL keeps the bridge's own decision, FLOOD and ALL flood, OUTPUT and IN_PORT fill
/// `targets` with ports `on_bridge` accepts, no port a drop), or a table miss, which drops as
/// OpenFlow 1.3's does.
#[inline]
fn flow_action(
    flows: &flowtable::FlowTable,
    cache: &mut flowtable::FlowCache,
    ingress: PortId,
    frame: &[u8],
    normal: Action,
    on_bridge: impl Fn(PortId) -> bool,
    targets: &mut Vec<PortId>,
) -> Action {
    let Some(flow) = cache.lookup(flows, &flowtable::Key::extract(frame, ingress.0)) else {
        return Action::Drop(DropReason::FlowMiss);
    };
    flow.counters.hit(frame.len());
    let mode = flow.apply(ingress.0, |p| {
        if on_bridge(PortId(p)) {
            targets.push(PortId(p));
        }
    });
    match mode {
        flowtable::Apply::Normal => normal,
        flowtable::Apply::Flood => Action::Flood,
        flowtable::Apply::Outputs if targets.is_empty() => Action::Drop(DropReason::FlowDrop),
        flowtable::Apply::Outputs => Action::Flows,
    }
}
