//! Watching frames as they pass, for `ofproto/trace-live` and `grebe capture`. A watcher gets a
//! bounded channel; the datapath thread copies a frame into it only while someone watches that
//! port, and counts what did not fit instead of waiting: watching never slows the loop by more
//! than the copies it asked for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::SystemTime;

use learning::PortId;

use crate::frame::FrameRef;
use crate::pipeline::Verdict;
use crate::sys::SendBatch;

/// Events a watcher may have pending before new ones are skipped.
const QUEUE: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The frame entered the bridge on this port.
    Rx,
    /// The frame left the bridge on this port.
    Tx,
}

/// What the bridge decided for a frame that entered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    /// Where the frame went: the one port for unicast, the flood set otherwise.
    pub outputs: Vec<PortId>,
}

/// One frame at one port.
#[derive(Debug, Clone)]
pub struct FrameEvent {
    pub port: PortId,
    pub direction: Direction,
    pub time: SystemTime,
    /// The Ethernet frame (for a TSO frame from a TAP, the whole large frame).
    pub frame: Vec<u8>,
    /// On tunnel ports, when asked: the whole IPv4 packet (outer IPv4, GRE, frame).
    pub packet: Option<Vec<u8>>,
    /// On `Rx` events: what the bridge did with the frame.
    pub decision: Option<Decision>,
}

/// What to watch.
#[derive(Debug, Clone, Default)]
pub struct MonitorSpec {
    /// Only these ports; `None` watches every port.
    pub ports: Option<Vec<PortId>>,
    /// Also copy the whole GRE packet on tunnel ports.
    pub packets: bool,
}

/// A watcher's end: events arrive on `events` until it is dropped.
pub struct Monitor {
    pub events: Receiver<FrameEvent>,
    skipped: Arc<AtomicU64>,
}

impl Monitor {
    /// Events that did not fit the queue and were not delivered.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Relaxed)
    }
}

/// The datapath thread's end of one watcher.
pub(crate) struct MonitorSink {
    spec: MonitorSpec,
    tx: SyncSender<FrameEvent>,
    skipped: Arc<AtomicU64>,
    closed: bool,
}

pub(crate) fn channel(spec: MonitorSpec) -> (Monitor, MonitorSink) {
    let (tx, rx) = sync_channel(QUEUE);
    let skipped = Arc::new(AtomicU64::new(0));
    (
        Monitor {
            events: rx,
            skipped: skipped.clone(),
        },
        MonitorSink {
            spec,
            tx,
            skipped,
            closed: false,
        },
    )
}

impl MonitorSink {
    pub(crate) fn watches(&self, port: PortId) -> bool {
        !self.closed && self.spec.ports.as_ref().is_none_or(|p| p.contains(&port))
    }

    pub(crate) fn wants_packets(&self) -> bool {
        self.spec.packets
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    pub(crate) fn deliver(&mut self, event: FrameEvent) {
        match self.tx.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.skipped.fetch_add(1, Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => self.closed = true,
        }
    }
}

/// Everyone watching, on the datapath thread. Empty almost always: the loop checks that once per
/// frame and copies nothing.
#[derive(Default)]
pub(crate) struct Watchers {
    sinks: Vec<MonitorSink>,
}

impl Watchers {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    pub(crate) fn add(&mut self, sink: MonitorSink) {
        self.sinks.push(sink);
    }

    /// Reports a frame that entered the bridge on `port` and what the bridge decided for it.
    pub(crate) fn rx(
        &mut self,
        port: PortId,
        frame: &FrameRef<'_>,
        verdict: Verdict,
        targets: &[PortId],
    ) {
        let time = SystemTime::now();
        for sink in self.sinks.iter_mut().filter(|m| m.watches(port)) {
            let packet =
                (sink.wants_packets() && frame.packet.len() > frame.bytes.len()).then(|| {
                    let mut packet = frame.packet.to_vec();
                    if let Some((at, original)) = frame.overwritten {
                        packet[at..at + original.len()].copy_from_slice(&original);
                    }
                    packet
                });
            sink.deliver(FrameEvent {
                port,
                direction: Direction::Rx,
                time,
                frame: frame.bytes.to_vec(),
                packet,
                decision: Some(Decision {
                    verdict,
                    outputs: targets.to_vec(),
                }),
            });
        }
        self.sinks.retain(|m| !m.is_closed());
    }

    /// Reports what `output` just did on `port`: the frame written to a TAP, or each GRE packet
    /// queued since entry `queued` (one per segment for a TSO frame).
    /// `outer_len` is the tunnel's outer header length; `None` for an internal port.
    pub(crate) fn tx(
        &mut self,
        port: PortId,
        outer_len: Option<usize>,
        frame: &FrameRef<'_>,
        tx: &SendBatch,
        queued: usize,
    ) {
        let time = SystemTime::now();
        for sink in self.sinks.iter_mut().filter(|m| m.watches(port)) {
            let Some(outer_len) = outer_len else {
                sink.deliver(FrameEvent {
                    port,
                    direction: Direction::Tx,
                    time,
                    frame: frame.bytes.to_vec(),
                    packet: None,
                    decision: None,
                });
                continue;
            };
            for entry in tx.entries_since(queued) {
                let start = entry.frame.0 as usize - frame.range.start;
                let end = entry.frame.1 as usize - frame.range.start;
                let payload = &frame.bytes[start..end];
                // The frame as it travels: a TSO segment's own headers, then its payload.
                let header = &entry.header[..usize::from(entry.header_len)];
                let inner = [&header[outer_len..], payload].concat();
                let packet = sink.wants_packets().then(|| [header, payload].concat());
                sink.deliver(FrameEvent {
                    port,
                    direction: Direction::Tx,
                    time,
                    frame: inner,
                    packet,
                    decision: None,
                });
            }
        }
        self.sinks.retain(|m| !m.is_closed());
    }
}
