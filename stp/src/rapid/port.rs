//! One bridge port's RSTP variables (802.1D-2004 17.17, 17.19) and the state of each per-port
//! state machine. Field names follow the standard's variables, so the machines read like it.

use super::vector::{PriorityVector, Times};
use crate::{BpduCounters, PortNo, PortRole, PortState};

/// Default port priority (Table 17-2); RSTP takes multiples of 16 up to 240.
pub(super) const DEFAULT_PRIORITY: u8 = 128;
/// OVS's cost for its default 10 Gbit/s link speed, which is what a tunnel gets.
pub(super) const DEFAULT_PATH_COST: u32 = 2000;
pub(super) const MAX_PATH_COST: u32 = 200_000_000;
/// Port numbers are 12 bits of the port identifier.
pub(super) const MAX_PORT_NUMBER: PortNo = 4095;

/// Where the port's spanning tree information came from (17.19.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InfoIs {
    Disabled,
    Received,
    Aged,
    Mine,
}

/// What `rcvInfo()` made of a received message (17.21.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RcvdInfo {
    SuperiorDesignated,
    RepeatedDesignated,
    InferiorDesignated,
    InferiorRootAlternate,
    Other,
}

/// The kind of BPDU held for the machines. An RST BPDU whose role is "unknown" is held as a
/// configuration BPDU, as 9.2.9 says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BpduKind {
    Config,
    Tcn,
    Rst,
}

/// The last accepted BPDU, decoded, with times in whole seconds.
#[derive(Debug, Clone, Copy)]
pub(super) struct ReceivedBpdu {
    pub kind: BpduKind,
    pub flags: u8,
    pub priority: PriorityVector,
    pub times: Times,
}

// Each machine's states. An `…Exec` state runs its actions once on entry, as OVS splits them;
// whether the machine then goes on at once or waits for the next pass matters to the timing of
// flags between machines, so the split is kept.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReceiveState {
    Init,
    DiscardExec,
    Discard,
    ReceiveExec,
    Receive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MigrationState {
    Init,
    CheckingRstpExec,
    CheckingRstp,
    SelectingStpExec,
    SelectingStp,
    SensingExec,
    Sensing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DetectionState {
    Init,
    EdgeExec,
    Edge,
    NotEdgeExec,
    NotEdge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TransmitState {
    Init,
    TransmitInitExec,
    TransmitInit,
    TransmitPeriodicExec,
    TransmitPeriodic,
    IdleExec,
    Idle,
    TransmitConfigExec,
    TransmitConfig,
    TransmitTcnExec,
    TransmitTcn,
    TransmitRstpExec,
    TransmitRstp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InformationState {
    Init,
    DisabledExec,
    Disabled,
    AgedExec,
    Aged,
    UpdateExec,
    Update,
    CurrentExec,
    Current,
    ReceiveExec,
    Receive,
    OtherExec,
    Other,
    NotDesignatedExec,
    NotDesignated,
    InferiorDesignatedExec,
    InferiorDesignated,
    RepeatedDesignatedExec,
    RepeatedDesignated,
    SuperiorDesignatedExec,
    SuperiorDesignated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RoleTransitionState {
    Init,
    InitPortExec,
    DisablePortExec,
    DisablePort,
    DisabledPortExec,
    DisabledPort,
    RootPortExec,
    RootPort,
    RerootExec,
    RootAgreedExec,
    RootProposedExec,
    RootForwardExec,
    RootLearnExec,
    RerootedExec,
    DesignatedPortExec,
    DesignatedPort,
    DesignatedRetiredExec,
    DesignatedSyncedExec,
    DesignatedProposeExec,
    DesignatedForwardExec,
    DesignatedLearnExec,
    DesignatedDiscardExec,
    AlternatePortExec,
    AlternatePort,
    AlternateAgreedExec,
    AlternateProposedExec,
    BlockPortExec,
    BlockPort,
    BackupPortExec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StateTransitionState {
    Init,
    DiscardingExec,
    Discarding,
    LearningExec,
    Learning,
    ForwardingExec,
    Forwarding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TopologyChangeState {
    Init,
    InactiveExec,
    Inactive,
    LearningExec,
    Learning,
    DetectedExec,
    ActiveExec,
    Active,
    AcknowledgedExec,
    PropagatingExec,
    NotifiedTcExec,
    NotifiedTcnExec,
}

/// One port of the bridge.
#[derive(Debug, Clone)]
pub(super) struct Port {
    // Management settings.
    pub number: PortNo,
    pub priority: u8,
    pub path_cost: u32,
    pub mac: [u8; 6],
    /// Priority in the top four bits, number below (9.2.7).
    pub port_id: u16,
    /// portEnabled: up and participating. False only while the port is being removed.
    pub port_enabled: bool,
    /// Tunnels are point-to-point links: at most one other bridge at the far end.
    pub oper_point_to_point_mac: bool,
    pub admin_edge: bool,
    pub auto_edge: bool,

    // Timers (17.17), in seconds, and txCount, all counted down once a second.
    pub edge_delay_while: u16,
    pub fd_while: u16,
    pub hello_when: u16,
    pub mdelay_while: u16,
    pub rb_while: u16,
    pub rcvd_info_while: u16,
    pub rr_while: u16,
    pub tc_while: u16,
    pub tx_count: u16,

    // Per-port variables (17.19).
    pub agree: bool,
    pub agreed: bool,
    pub designated_priority: PriorityVector,
    pub designated_times: Times,
    pub disputed: bool,
    pub fdb_flush: bool,
    pub forward: bool,
    pub forwarding: bool,
    pub info_is: InfoIs,
    pub learn: bool,
    pub learning: bool,
    pub mcheck: bool,
    pub msg_priority: PriorityVector,
    pub msg_times: Times,
    pub new_info: bool,
    pub oper_edge: bool,
    pub port_priority: PriorityVector,
    pub port_times: Times,
    pub proposed: bool,
    pub proposing: bool,
    pub rcvd_bpdu: bool,
    pub rcvd_info: RcvdInfo,
    pub rcvd_msg: bool,
    pub rcvd_rstp: bool,
    pub rcvd_stp: bool,
    pub rcvd_tc: bool,
    pub rcvd_tc_ack: bool,
    pub rcvd_tcn: bool,
    pub re_root: bool,
    pub reselect: bool,
    pub role: PortRole,
    pub selected: bool,
    pub selected_role: PortRole,
    pub send_rstp: bool,
    pub sync: bool,
    pub synced: bool,
    pub tc_ack: bool,
    pub tc_prop: bool,
    pub updt_info: bool,

    pub received: Option<ReceivedBpdu>,
    pub state: PortState,
    pub counters: BpduCounters,
    /// Seconds since the port was added.
    pub uptime: u64,

    pub receive_sm: ReceiveState,
    pub migration_sm: MigrationState,
    pub detection_sm: DetectionState,
    pub transmit_sm: TransmitState,
    pub information_sm: InformationState,
    pub role_transition_sm: RoleTransitionState,
    pub state_transition_sm: StateTransitionState,
    pub topology_change_sm: TopologyChangeState,
}

impl Port {
    /// A port as OVS's `rstp_add_port` makes it: not yet enabled, every machine at its start,
    /// defaults for the settings. The caller applies the configured ones.
    pub fn new(number: PortNo, mac: [u8; 6]) -> Port {
        let mut port = Port {
            number,
            priority: DEFAULT_PRIORITY,
            path_cost: DEFAULT_PATH_COST,
            mac,
            port_id: 0,
            port_enabled: false,
            oper_point_to_point_mac: true,
            admin_edge: false,
            auto_edge: true,
            edge_delay_while: 0,
            fd_while: 0,
            hello_when: 0,
            mdelay_while: 0,
            rb_while: 0,
            rcvd_info_while: 0,
            rr_while: 0,
            tc_while: 0,
            tx_count: 0,
            agree: false,
            agreed: false,
            designated_priority: PriorityVector::default(),
            designated_times: Times::default(),
            disputed: false,
            fdb_flush: false,
            forward: false,
            forwarding: false,
            info_is: InfoIs::Disabled,
            learn: false,
            learning: false,
            mcheck: false,
            msg_priority: PriorityVector::default(),
            msg_times: Times::default(),
            new_info: false,
            oper_edge: false,
            port_priority: PriorityVector::default(),
            port_times: Times::default(),
            proposed: false,
            proposing: false,
            rcvd_bpdu: false,
            rcvd_info: RcvdInfo::Other,
            rcvd_msg: false,
            rcvd_rstp: false,
            rcvd_stp: false,
            rcvd_tc: false,
            rcvd_tc_ack: false,
            rcvd_tcn: false,
            re_root: false,
            // A new port takes part in the next role selection.
            reselect: true,
            role: PortRole::Disabled,
            selected: false,
            selected_role: PortRole::Disabled,
            send_rstp: false,
            sync: false,
            synced: false,
            tc_ack: false,
            tc_prop: false,
            updt_info: false,
            received: None,
            state: PortState::Disabled,
            counters: BpduCounters::default(),
            uptime: 0,
            receive_sm: ReceiveState::Init,
            migration_sm: MigrationState::Init,
            detection_sm: DetectionState::Init,
            transmit_sm: TransmitState::Init,
            information_sm: InformationState::Init,
            role_transition_sm: RoleTransitionState::Init,
            state_transition_sm: StateTransitionState::Init,
            topology_change_sm: TopologyChangeState::Init,
        };
        port.set_port_id();
        port
    }

    fn set_port_id(&mut self) {
        self.port_id = (u16::from(self.priority) << 8) | (self.number & MAX_PORT_NUMBER);
    }

    /// OVS ignores a priority above 240 and rounds the rest down to a multiple of 16. Returns
    /// whether the port identifier changed, which calls for a new role selection.
    pub fn set_priority(&mut self, priority: u8) -> bool {
        if priority > 240 {
            return false;
        }
        let priority = priority - priority % 16;
        if priority == self.priority {
            return false;
        }
        self.priority = priority;
        self.set_port_id();
        self.selected = false;
        self.reselect = true;
        true
    }

    /// OVS ignores a cost outside 1..=200000000. Returns whether the cost changed.
    pub fn set_path_cost(&mut self, cost: u32) -> bool {
        if !(1..=MAX_PATH_COST).contains(&cost) || cost == self.path_cost {
            return false;
        }
        self.path_cost = cost;
        self.selected = false;
        self.reselect = true;
        true
    }
}
