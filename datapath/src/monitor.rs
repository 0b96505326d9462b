//! Watching frames as they pass, for `ofproto/trace-live` and `grebe capture`. A watcher gets a
//! bounded channel; the datapath thread copies a frame into it only while someone watches that
//! port, and counts what did not fit instead of waiting: watching never slows the loop by more
//! than the copies it asked for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::SystemTime;

use learning::PortId;

use crate::input::Verdict;

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
