//! The one message type from the control side (`handle`) to the datapath thread (`engine`):
//! every change reaches the loop as a `Command` on a channel, applied between batches.

use std::sync::Arc;
use std::sync::mpsc;

use learning::{PortId, SharedMacTable};

use crate::monitor::MonitorSink;
use crate::pmtu::PmtuSettings;
use crate::port::link::Link;
use crate::port::{PortState, TunnelPort};
use crate::tree::TreeSettings;
use crate::vlan::PortVlan;

pub(crate) enum Command {
    AddBridge {
        idx: usize,
        table: Arc<SharedMacTable>,
        split_horizon: bool,
        pmtu: PmtuSettings,
    },
    SetPmtu {
        idx: usize,
        pmtu: PmtuSettings,
    },
    /// The bridge's OpenFlow table; None: the implicit `priority=0 actions=NORMAL`.
    SetFlows {
        idx: usize,
        flows: Option<Arc<flowtable::FlowTable>>,
    },
    SetSplitHorizon {
        idx: usize,
        split_horizon: bool,
    },
    DelBridge {
        idx: usize,
    },
    AddPort {
        id: PortId,
        state: PortState,
    },
    /// A tunnel's new settings or path MTU: the port rebuilt (and checked) on the control side.
    UpdateTunnel {
        id: PortId,
        tunnel: TunnelPort,
    },
    /// What the kernel's neighbour table says of a tunnel's remote: the link to send by, or
    /// that it is unresolved (probes only).
    SetLink {
        id: PortId,
        link: Option<Link>,
        unresolved: bool,
    },
    DelPort {
        id: PortId,
    },
    /// A port's VLAN settings; what it learned goes, as its VLANs may have.
    SetPortVlan {
        id: PortId,
        vlan: PortVlan,
    },
    SetTree {
        idx: usize,
        settings: Option<TreeSettings>,
    },
    SetTreePort {
        id: PortId,
        config: Option<stp::PortConfig>,
    },
    TreeStatus {
        idx: usize,
        reply: mpsc::SyncSender<Option<stp::Status>>,
    },
    Watch(MonitorSink),
    Sync(mpsc::SyncSender<()>),
}
