//! What happened to frames, counted without a shared atomic read-modify-write per frame: every
//! counter block here has exactly one writer thread, which adds with a plain load and store.
//! Each writer thread gets a block of its own (`PerWriter`), on a cache line of its own, and
//! readers on the control thread sum the blocks: a second datapath thread adds blocks, not
//! contention.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Adds `n` to a counter that only the calling thread writes.
#[inline]
pub(crate) fn bump(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(n), Relaxed);
}

macro_rules! drop_reasons {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// Why grebe refused a packet or frame. Every drop site counts exactly one reason.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum DropReason {
            $(#[doc = $doc] $variant,)*
        }

        impl DropReason {
            pub const ALL: &'static [DropReason] = &[$(DropReason::$variant,)*];

            /// Stable snake_case name, as `dpif/show` prints it.
            pub fn name(self) -> &'static str {
                match self { $(DropReason::$variant => $name,)* }
            }

            /// One line for a person reading `dpif/show`.
            pub fn description(self) -> &'static str {
                match self { $(DropReason::$variant => $doc,)* }
            }
        }
    };
}

drop_reasons! {
    Truncated => "truncated", "Outer IPv4 or GRE header longer than the packet.";
    BadIpVersion => "bad_ip_version", "Outer header is not IPv4.";
    BadIpHeaderLen => "bad_ip_header_len", "Outer IPv4 header length field is impossible.";
    BadIpTotalLen => "bad_ip_total_len", "Outer IPv4 total length exceeds the packet.";
    BadIpChecksum => "bad_ip_checksum", "Outer IPv4 header checksum is wrong.";
    Fragmented => "fragmented", "Outer IPv4 fragment (the kernel should have reassembled it).";
    NotGre => "not_gre", "Outer IPv4 protocol is not GRE (47).";
    GreBadVersion => "gre_bad_version", "GRE version is not 0 (RFC 2784: discard).";
    GreReservedFlags => "gre_reserved_flags", "GRE routing, strict-source-route or recursion bits set (RFC 2784: discard).";
    GreBadChecksum => "gre_bad_checksum", "GRE checksum present and wrong.";
    NotEthernet => "not_ethernet", "GRE protocol type is not 0x6558 (transparent Ethernet bridging).";
    FrameTruncated => "frame_truncated", "Inner Ethernet frame shorter than its 14-byte header.";
    UnknownRemote => "unknown_remote", "GRE from an address that no tunnel has as remote_ip.";
    KeyMismatch => "key_mismatch", "GRE key matches no tunnel from that address.";
    EcnNotEct => "ecn_not_ect", "Outer header marked congestion (CE) over an inner packet that is not ECN-capable (RFC 6040: drop).";
    InvalidSourceMac => "invalid_source_mac", "Source MAC is multicast, broadcast or zero: never learned, never forwarded.";
    VlanNotAllowed => "vlan_not_allowed", "802.1Q tag the ingress port does not carry (a tagged frame on an access port, a VID outside trunks, the reserved VID 4095).";
    LinkLocal => "link_local", "Destination is a reserved 01:80:c2:00:00:0X address (STP, LACP, pause): not forwarded.";
    FlowDrop => "flow_drop", "An OpenFlow flow with no action (drop) matched the frame.";
    FlowMiss => "flow_miss", "No OpenFlow flow matched the frame (a table miss drops).";
    StpBlocked => "stp_blocked", "Spanning tree keeps the port blocked: no data frames in or out (only BPDUs).";
    BpduMalformed => "bpdu_malformed", "A BPDU that does not parse: truncated, wrong LLC header, unknown type, impossible timers.";
    BpduNotInTree => "bpdu_not_in_tree", "A BPDU on a port that takes no part in the spanning tree (an internal port, or stp-enable=false).";
    SamePort => "same_port", "Destination was learned on the port the frame came from.";
    NoTarget => "no_target", "Flood with no other port to send to.";
    TooBig => "too_big", "Frame plus GRE overhead exceeds the tunnel's transport MTU (outer DF is set).";
    BadOffload => "bad_offload", "A TAP's offload request (segmentation, checksum) does not match the frame.";
    PortDown => "port_down", "The internal port is down (`ip link set DEV up` brings it up).";
    TxFailed => "tx_failed", "The kernel refused the frame (TAP down, no route or ARP to the remote).";
    TxBusy => "tx_busy", "The socket's send buffer or the device's queue was full: grebe never waits for room, it drops.";
    RxQueueFull => "rx_queue_full", "The kernel dropped packets for grebe because a receive socket's queue was full (the GRE sockets' or a system port's; read once a second).";
    Unresolved => "unresolved", "The tunnel's remote does not answer ARP (its neighbour entry is incomplete or failed): only a probe a second is sent.";
}

impl From<encap::Error> for DropReason {
    fn from(e: encap::Error) -> Self {
        use encap::Error as E;
        match e {
            E::Truncated => DropReason::Truncated,
            E::BadIpVersion => DropReason::BadIpVersion,
            E::BadIpHeaderLen => DropReason::BadIpHeaderLen,
            E::BadIpTotalLen => DropReason::BadIpTotalLen,
            E::BadIpChecksum => DropReason::BadIpChecksum,
            E::Fragmented => DropReason::Fragmented,
            E::NotGre => DropReason::NotGre,
            E::BadVersion => DropReason::GreBadVersion,
            E::ReservedFlags => DropReason::GreReservedFlags,
            E::BadChecksum => DropReason::GreBadChecksum,
            E::NotEthernet => DropReason::NotEthernet,
            E::FrameTruncated => DropReason::FrameTruncated,
            E::BadOffload => DropReason::BadOffload,
            // Emit-side errors: the frame could not be encapsulated.
            _ => DropReason::TooBig,
        }
    }
}

/// Counters of one kind with one block per writer thread, summed when read.
#[derive(Debug)]
pub(crate) struct PerWriter<T> {
    blocks: Vec<Arc<T>>,
}

impl<T: Default> PerWriter<T> {
    /// Blocks for `writers` threads (at least one).
    pub(crate) fn new(writers: usize) -> PerWriter<T> {
        PerWriter {
            blocks: (0..writers.max(1)).map(|_| Arc::default()).collect(),
        }
    }

    /// Writer `i`'s block, which only that thread may write.
    pub(crate) fn writer(&self, i: usize) -> Arc<T> {
        self.blocks[i].clone()
    }
}

impl PerWriter<DropCounters> {
    /// Every reason with its count summed over the writers, zeros included, in declaration order.
    pub(crate) fn snapshot(&self) -> Vec<(DropReason, u64)> {
        DropReason::ALL
            .iter()
            .map(|r| (*r, self.blocks.iter().map(|b| b.get(*r)).sum()))
            .collect()
    }
}

impl PerWriter<PortCounters> {
    pub(crate) fn snapshot(&self) -> PortCountersSnapshot {
        self.blocks
            .iter()
            .map(|b| b.snapshot())
            .fold(PortCountersSnapshot::default(), |a, b| a.plus(&b))
    }
}

/// Drops by reason, written by one datapath thread.
#[derive(Debug)]
#[repr(align(64))]
pub struct DropCounters {
    counts: [AtomicU64; DropReason::ALL.len()],
}

impl Default for DropCounters {
    fn default() -> Self {
        DropCounters {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl DropCounters {
    #[inline]
    pub(crate) fn add(&self, reason: DropReason) {
        bump(&self.counts[reason as usize], 1);
    }

    pub(crate) fn add_many(&self, reason: DropReason, n: u64) {
        bump(&self.counts[reason as usize], n);
    }

    pub fn get(&self, reason: DropReason) -> u64 {
        self.counts[reason as usize].load(Relaxed)
    }

    /// Every reason with its count, zeros included, in declaration order.
    pub fn snapshot(&self) -> Vec<(DropReason, u64)> {
        DropReason::ALL.iter().map(|r| (*r, self.get(*r))).collect()
    }
}

macro_rules! events {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// What grebe did to frames besides forwarding them, for path MTU's sake.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Event {
            $(#[doc = $doc] $variant,)*
        }

        impl Event {
            pub const ALL: &'static [Event] = &[$(Event::$variant,)*];

            /// Stable snake_case name, as `dpif/show` prints it.
            pub fn name(self) -> &'static str {
                match self { $(Event::$variant => $name,)* }
            }

            pub fn description(self) -> &'static str {
                match self { $(Event::$variant => $doc,)* }
            }
        }
    };
}

events! {
    MssClamped => "mss_clamped", "A TCP SYN entering a tunnel had its MSS lowered to what the tunnel carries.";
    TooBigIcmpSent => "too_big_icmp_sent", "A frame too big for its tunnel was answered with ICMP fragmentation-needed / packet-too-big.";
    TooBigIcmpLimited => "too_big_icmp_rate_limited", "An ICMP too-big answer was due but the bridge's rate limit held it back.";
}

/// Events by kind, written by one datapath thread.
#[derive(Debug)]
#[repr(align(64))]
pub struct EventCounters {
    counts: [AtomicU64; Event::ALL.len()],
}

impl Default for EventCounters {
    fn default() -> Self {
        EventCounters {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl EventCounters {
    #[inline]
    pub(crate) fn add(&self, event: Event) {
        bump(&self.counts[event as usize], 1);
    }

    pub fn get(&self, event: Event) -> u64 {
        self.counts[event as usize].load(Relaxed)
    }
}

impl PerWriter<EventCounters> {
    /// Every event with its count summed over the writers, zeros included.
    pub(crate) fn snapshot(&self) -> Vec<(Event, u64)> {
        Event::ALL
            .iter()
            .map(|e| (*e, self.blocks.iter().map(|b| b.get(*e)).sum()))
            .collect()
    }
}

/// Where a receive call read its batch from, for the batch-size histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchSource {
    /// The raw GRE socket: every tunnel's packets.
    Gre,
    /// A TAP: an internal port, or a VM's tap held by its guest's process.
    Tap,
    /// A system port's packet socket (a veth, a NIC).
    System,
}

impl BatchSource {
    pub const ALL: &'static [BatchSource] =
        &[BatchSource::Gre, BatchSource::Tap, BatchSource::System];

    pub fn name(self) -> &'static str {
        match self {
            BatchSource::Gre => "gre",
            BatchSource::Tap => "tap",
            BatchSource::System => "system",
        }
    }
}

/// Upper bounds of the batch-size histogram's buckets, in frames per receive call: powers of
/// two up to the largest batch a call reads (32); a last bucket holds anything larger.
pub const BATCH_BOUNDS: [u64; 6] = [1, 2, 4, 8, 16, 32];

/// How the packet loop of one datapath thread turns, written by that thread only: a few adds
/// per loop iteration and per receive call, none per frame.
#[derive(Debug)]
#[repr(align(64))]
pub struct LoopCounters {
    iterations: AtomicU64,
    idle_polls: AtomicU64,
    /// Receive calls by source and size bucket (not cumulative; `BATCH_BOUNDS`, then larger).
    batches: [[AtomicU64; BATCH_BOUNDS.len() + 1]; BatchSource::ALL.len()],
    frames: [AtomicU64; BatchSource::ALL.len()],
}

impl Default for LoopCounters {
    fn default() -> Self {
        LoopCounters {
            iterations: AtomicU64::new(0),
            idle_polls: AtomicU64::new(0),
            batches: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            frames: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl LoopCounters {
    /// One turn of the loop; `idle` when its poll came back with nothing to read.
    #[inline]
    pub(crate) fn iteration(&self, idle: bool) {
        bump(&self.iterations, 1);
        if idle {
            bump(&self.idle_polls, 1);
        }
    }

    /// A receive call from `source` that read `frames` (at least one) frames.
    #[inline]
    pub(crate) fn batch(&self, source: BatchSource, frames: usize) {
        let frames = frames as u64;
        let bucket = BATCH_BOUNDS.partition_point(|&bound| bound < frames);
        bump(&self.batches[source as usize][bucket], 1);
        bump(&self.frames[source as usize], frames);
    }

    pub fn snapshot(&self) -> LoopSnapshot {
        LoopSnapshot {
            iterations: self.iterations.load(Relaxed),
            idle_polls: self.idle_polls.load(Relaxed),
            batches: BatchSource::ALL
                .iter()
                .map(|&source| BatchHistogram {
                    source,
                    buckets: std::array::from_fn(|b| {
                        self.batches[source as usize][b].load(Relaxed)
                    }),
                    frames: self.frames[source as usize].load(Relaxed),
                })
                .collect(),
        }
    }
}

impl PerWriter<LoopCounters> {
    /// Each datapath thread's loop, in thread order.
    pub(crate) fn snapshots(&self) -> Vec<LoopSnapshot> {
        self.blocks.iter().map(|b| b.snapshot()).collect()
    }
}

/// One datapath thread's loop counters, read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoopSnapshot {
    /// Turns of the packet loop: one poll each.
    pub iterations: u64,
    /// Polls that timed out with nothing to read.
    pub idle_polls: u64,
    /// Frames per receive call, one histogram a source.
    pub batches: Vec<BatchHistogram>,
}

/// Receive calls from one source by how many frames each read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BatchHistogram {
    pub source: BatchSource,
    /// Calls per bucket of `BATCH_BOUNDS` (not cumulative), then calls that read more.
    pub buckets: [u64; BATCH_BOUNDS.len() + 1],
    /// Frames all those calls read.
    pub frames: u64,
}

impl BatchHistogram {
    /// Receive calls that read at least one frame.
    pub fn calls(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

/// One port's traffic as one datapath thread saw it, written by that thread only. Eight
/// counters: one cache line, which no other writer shares.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct PortCounters {
    pub(crate) rx_packets: AtomicU64,
    pub(crate) rx_bytes: AtomicU64,
    pub(crate) tx_packets: AtomicU64,
    pub(crate) tx_bytes: AtomicU64,
    pub(crate) tx_dropped: AtomicU64,
    pub(crate) bpdu_tx: AtomicU64,
    pub(crate) bpdu_rx: AtomicU64,
    /// BPDUs received but rejected (malformed, or on a port outside the tree).
    pub(crate) bpdu_errors: AtomicU64,
}

impl PortCounters {
    #[inline]
    pub(crate) fn rx(&self, bytes: usize) {
        bump(&self.rx_packets, 1);
        bump(&self.rx_bytes, bytes as u64);
    }

    /// Several frames sent as one (coalesced into one TAP write).
    #[inline]
    pub(crate) fn tx_many(&self, packets: u64, bytes: usize) {
        bump(&self.tx_packets, packets);
        bump(&self.tx_bytes, bytes as u64);
    }

    #[inline]
    pub(crate) fn tx(&self, bytes: usize) {
        bump(&self.tx_packets, 1);
        bump(&self.tx_bytes, bytes as u64);
    }

    pub fn snapshot(&self) -> PortCountersSnapshot {
        PortCountersSnapshot {
            rx_packets: self.rx_packets.load(Relaxed),
            rx_bytes: self.rx_bytes.load(Relaxed),
            tx_packets: self.tx_packets.load(Relaxed),
            tx_bytes: self.tx_bytes.load(Relaxed),
            tx_dropped: self.tx_dropped.load(Relaxed),
            bpdu_tx: self.bpdu_tx.load(Relaxed),
            bpdu_rx: self.bpdu_rx.load(Relaxed),
            bpdu_errors: self.bpdu_errors.load(Relaxed),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PortCountersSnapshot {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub tx_dropped: u64,
    pub bpdu_tx: u64,
    pub bpdu_rx: u64,
    pub bpdu_errors: u64,
}

impl PortCountersSnapshot {
    fn plus(&self, o: &PortCountersSnapshot) -> PortCountersSnapshot {
        PortCountersSnapshot {
            rx_packets: self.rx_packets + o.rx_packets,
            rx_bytes: self.rx_bytes + o.rx_bytes,
            tx_packets: self.tx_packets + o.tx_packets,
            tx_bytes: self.tx_bytes + o.tx_bytes,
            tx_dropped: self.tx_dropped + o.tx_dropped,
            bpdu_tx: self.bpdu_tx + o.bpdu_tx,
            bpdu_rx: self.bpdu_rx + o.bpdu_rx,
            bpdu_errors: self.bpdu_errors + o.bpdu_errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_fall_in_the_bucket_of_their_size() {
        let c = LoopCounters::default();
        for n in [1, 2, 3, 4, 5, 8, 9, 32, 33] {
            c.batch(BatchSource::Gre, n);
        }
        c.batch(BatchSource::System, 7);
        let snap = c.snapshot();
        let gre = &snap.batches[0];
        assert_eq!(gre.source, BatchSource::Gre);
        // le 1: 1; le 2: 2; le 4: 3, 4; le 8: 5, 8; le 16: 9; le 32: 32; more: 33.
        assert_eq!(gre.buckets, [1, 1, 2, 2, 1, 1, 1]);
        assert_eq!(gre.calls(), 9);
        assert_eq!(gre.frames, 1 + 2 + 3 + 4 + 5 + 8 + 9 + 32 + 33);
        assert_eq!(snap.batches[1].calls(), 0);
        assert_eq!(snap.batches[2].buckets, [0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(snap.batches[2].frames, 7);
    }

    #[test]
    fn iterations_count_idle_polls_apart() {
        let c = LoopCounters::default();
        c.iteration(false);
        c.iteration(true);
        c.iteration(false);
        let snap = c.snapshot();
        assert_eq!((snap.iterations, snap.idle_polls), (3, 1));
    }

    #[test]
    fn every_reason_has_a_distinct_name_and_slot() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), DropReason::ALL.len());
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }

    #[test]
    fn counting_one_reason_moves_only_that_counter() {
        let c = DropCounters::default();
        c.add(DropReason::KeyMismatch);
        c.add(DropReason::KeyMismatch);
        assert_eq!(c.get(DropReason::KeyMismatch), 2);
        let total: u64 = c.snapshot().iter().map(|(_, n)| n).sum();
        assert_eq!(total, 2);
    }

    #[test]
    fn readers_sum_every_writers_block() {
        let drops: PerWriter<DropCounters> = PerWriter::new(2);
        drops.writer(0).add(DropReason::TooBig);
        drops.writer(1).add(DropReason::TooBig);
        drops.writer(1).add(DropReason::SamePort);
        let sum = drops.snapshot();
        assert!(sum.contains(&(DropReason::TooBig, 2)));
        assert!(sum.contains(&(DropReason::SamePort, 1)));
        let ports: PerWriter<PortCounters> = PerWriter::new(2);
        ports.writer(0).rx(100);
        ports.writer(1).rx(60);
        ports.writer(1).tx(60);
        let s = ports.snapshot();
        assert_eq!((s.rx_packets, s.rx_bytes, s.tx_packets), (2, 160, 1));
    }

    #[test]
    fn writers_never_share_a_cache_line() {
        assert_eq!(std::mem::align_of::<PortCounters>(), 64);
        assert_eq!(std::mem::size_of::<PortCounters>(), 64);
        assert_eq!(std::mem::align_of::<DropCounters>(), 64);
    }

    #[test]
    fn every_wire_error_maps_to_its_own_reason() {
        let mut seen: Vec<DropReason> = encap::Error::ALL
            .iter()
            .filter(|e| !matches!(e, encap::Error::TooBig | encap::Error::NoHeadroom))
            .map(|e| DropReason::from(*e))
            .collect();
        let n = seen.len();
        seen.sort_by_key(|r| *r as usize);
        seen.dedup();
        assert_eq!(seen.len(), n);
    }
}
