//! grebe's datapath: internal ports (TAP devices) and GRE tunnel ports joined by MAC learning and
//! spanning tree in one packet loop, and the handle through which the daemon drives it.
//!
//! What it holds, by the step of a frame's life:
//! - `handle`: the daemon's API (`Datapath`): bridges, ports, settings, counters, watchers. It
//!   talks to the loop only by command channel, never by a lock the loop takes per frame.
//! - `engine`: the datapath thread: poll, read a batch, run the pipeline per frame, carry out its
//!   action, apply commands and timers between batches. It does IO and nothing else.
//! - `pipeline`: the decision, sans-IO: ingress checks, spanning tree gate, BPDU recognition,
//!   learning, lookup, and `should_deliver`, the one rule for who may receive a frame. The
//!   daemon's `ofproto/trace` calls the same functions.
//! - `forward`: every TAP write and tunnel send, counted; `offload` (TSO, checksum completion)
//!   and `coalesce` (GRO toward TAPs) do the offload work around them.
//! - `port`: the port kinds (TAP, GRE tunnel) and their links; `tree`: spanning tree run on the
//!   datapath thread; `counters`: what happened to every frame; `monitor`: watching frames.
//!
//! What it must not do: allocate, lock or make a syscall per frame that a batch or a reused
//! buffer would avoid; decide anything outside `pipeline` (the engine carries out, trace explains,
//! neither re-implements a rule); panic on any input from the wire or the control side. All
//! `unsafe` code is in `sys`.
#![deny(unsafe_code)]

mod coalesce;
mod command;
pub mod counters;
mod engine;
mod forward;
mod frame;
pub mod handle;
pub mod monitor;
mod offload;
pub mod pipeline;
pub mod pmtu;
pub mod port;
#[allow(unsafe_code)]
mod sys;
mod tree;
pub mod vlan;

pub use counters::{
    BATCH_BOUNDS, BatchHistogram, BatchSource, DropReason, Event, LoopSnapshot,
    PortCountersSnapshot,
};
pub use handle::{
    BridgeSettings, Datapath, DatapathError, DatapathOptions, FdbEntry, KernelStats, PortKind,
    PortStats, TreeStatus,
};
pub use monitor::{Decision, Direction, FrameEvent, Monitor, MonitorSpec};
pub use pipeline::{
    Action, Delivery, Exclusion, FrameSize, Gate, Outcome, PortView, Rules, Verdict, process,
    should_deliver,
};
pub use pmtu::PmtuSettings;
pub use port::TunnelConfig;
pub use port::tap::interface_mac;
pub use sys::SystemRx;
pub use tree::{TreePortSettings, TreeSettings};
