//! grebe's datapath: internal ports (TAP devices) and GRE tunnel ports joined by MAC learning in
//! one packet loop. `input` decides (no IO), `forward` delivers, `bridge` runs the loop and is the
//! daemon's API, `counters` records every outcome, `tree` runs spanning tree. All `unsafe` code is in `sys`.
#![deny(unsafe_code)]

mod coalesce;
pub mod counters;
mod engine;
mod forward;
pub mod handle;
pub mod input;
pub mod monitor;
mod offload;
pub mod port;
#[allow(unsafe_code)]
mod sys;
mod tree;

pub use counters::{DropReason, PortCountersSnapshot};
pub use forward::{FloodExclusion, flood_exclusion};
pub use handle::{
    BridgeSettings, Datapath, DatapathError, DatapathOptions, FdbEntry, PortKind, PortStats,
    TreeStatus,
};
pub use input::{Verdict, decide};
pub use monitor::{Decision, Direction, FrameEvent, Monitor, MonitorSpec};
pub use port::TunnelConfig;
pub use port::tap::interface_mac;
pub use tree::{TreePortSettings, TreeSettings};
