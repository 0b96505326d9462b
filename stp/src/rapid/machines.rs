//! The RSTP state machines (802.1D-2004 17.21–17.31), run the way OVS's
//! `lib/rstp-state-machines.c` runs them: after any input, every machine takes a step, bridge
//! machine first and then each port's in a fixed order, and the round repeats while any machine
//! moved. Where OVS follows 802.1Q-2005/2008 instead of 802.1D-2004, so does this port.

use super::port::{
    BpduKind, DetectionState, InfoIs, InformationState, MigrationState, Port, RcvdInfo,
    ReceiveState, RoleTransitionState, StateTransitionState, TopologyChangeState, TransmitState,
};
use super::vector::{ADDRESS_MASK, Ordering, PriorityVector};
use super::{Rstp, SelectionState};
use crate::bpdu::{self, Bpdu, ConfigBpdu};
use crate::{Event, PortRole, PortState, Transmit};

/// A guard against machines that never settle, as OVS has; a sound tree settles in a few
/// rounds.
const MAX_ROUNDS: usize = 1000;

/// BPDUs waiting for the caller beyond this are dropped, oldest first, as a congested link
/// would: the queue must not grow without bound if nobody drains it.
const MAX_QUEUED_TRANSMITS: usize = 4096;

impl Rstp {
    /// Runs the machines until none moves (OVS's `move_rstp__`).
    pub(super) fn run(&mut self) {
        let mut rounds = 0;
        while self.bridge.changes && rounds < MAX_ROUNDS {
            self.bridge.changes = false;
            self.port_role_selection_sm();
            for i in 0..self.ports.len() {
                if self.ports[i].state == PortState::Disabled {
                    continue;
                }
                self.port_receive_sm(i);
                self.bridge_detection_sm(i);
                self.port_information_sm(i);
                self.port_role_transition_sm(i);
                self.port_state_transition_sm(i);
                self.topology_change_sm(i);
                self.port_transmit_sm(i);
                self.port_protocol_migration_sm(i);
            }
            rounds += 1;
        }
    }

    /// One second passes (17.22): every timer counts down, then the machines run.
    pub(super) fn one_second(&mut self) {
        for p in &mut self.ports {
            for timer in [
                &mut p.hello_when,
                &mut p.tc_while,
                &mut p.fd_while,
                &mut p.rcvd_info_while,
                &mut p.rr_while,
                &mut p.rb_while,
                &mut p.mdelay_while,
                &mut p.edge_delay_while,
                &mut p.tx_count,
            ] {
                *timer = timer.saturating_sub(1);
            }
            p.uptime = p.uptime.saturating_add(1);
        }
        self.bridge.changes = true;
        self.run();
    }

    // ---- Port Role Selection (17.28), the one per-bridge machine ----

    /// updtRolesTree() (17.21.25): picks the root port and the root priority vector, derives
    /// each port's designated priority and times, and selects every port's role.
    pub(super) fn updt_roles_tree(&mut self) {
        let r = &mut self.bridge;
        let mut best = r.bridge_priority;
        let mut root_port = None;
        r.root_times = r.bridge_times;
        for p in &self.ports {
            if p.info_is != InfoIs::Received {
                continue;
            }
            let mut candidate = p.port_priority;
            candidate.bridge_port = p.port_id;
            candidate.root_path_cost = candidate.root_path_cost.saturating_add(p.path_cost);
            // Our own BPDUs, looped back through the network, are no path to a root.
            if candidate.designated_bridge & ADDRESS_MASK
                == r.bridge_priority.designated_bridge & ADDRESS_MASK
            {
                continue;
            }
            if candidate.compare(&best) == Ordering::Superior {
                best = candidate;
                r.root_times = p.port_times;
                r.root_times.message_age = r.root_times.message_age.saturating_add(1);
                root_port = Some(p.number);
            }
        }
        r.root_priority = best;
        r.root_port_id = best.bridge_port;

        for p in &mut self.ports {
            p.designated_priority.root_bridge = r.root_priority.root_bridge;
            p.designated_priority.root_path_cost = r.root_priority.root_path_cost;
            p.designated_priority.designated_bridge = r.bridge_id;
            p.designated_priority.designated_port = p.port_id;
            p.designated_times = r.root_times;
            p.designated_times.hello_time = r.bridge_times.hello_time;
        }
        for p in &mut self.ports {
            match p.info_is {
                InfoIs::Disabled => p.selected_role = PortRole::Disabled,
                InfoIs::Aged => {
                    p.updt_info = true;
                    p.selected_role = PortRole::Designated;
                }
                InfoIs::Mine => {
                    p.selected_role = PortRole::Designated;
                    if p.port_priority.compare(&p.designated_priority) != Ordering::Same
                        || p.designated_times != r.root_times
                    {
                        p.updt_info = true;
                    }
                }
                InfoIs::Received => {
                    if root_port == Some(p.number) {
                        p.selected_role = PortRole::Root;
                        p.updt_info = false;
                    } else if p.designated_priority.compare(&p.port_priority) == Ordering::Inferior
                    {
                        // Someone else serves this link better than we would.
                        p.selected_role = if p.port_priority.designated_bridge != r.bridge_id {
                            PortRole::Alternate
                        } else {
                            PortRole::Backup
                        };
                        p.updt_info = false;
                    } else {
                        p.selected_role = PortRole::Designated;
                        p.updt_info = true;
                    }
                }
            }
        }
    }

    fn port_role_selection_sm(&mut self) {
        let old = self.bridge.selection_sm;
        loop {
            match self.bridge.selection_sm {
                SelectionState::Init => {
                    if self.bridge.begin {
                        self.bridge.selection_sm = SelectionState::InitBridgeExec;
                    }
                    break;
                }
                SelectionState::InitBridgeExec => {
                    for p in &mut self.ports {
                        p.selected_role = PortRole::Disabled;
                    }
                    self.bridge.selection_sm = SelectionState::InitBridge;
                }
                SelectionState::InitBridge => {
                    self.bridge.selection_sm = SelectionState::RoleSelectionExec;
                    break;
                }
                SelectionState::RoleSelectionExec => {
                    for p in &mut self.ports {
                        p.reselect = false;
                    }
                    self.updt_roles_tree();
                    // setSelectedTree(): only once no port asks for another selection.
                    if !self.ports.iter().any(|p| p.reselect) {
                        for p in &mut self.ports {
                            p.selected = true;
                        }
                    }
                    self.bridge.selection_sm = SelectionState::RoleSelection;
                }
                SelectionState::RoleSelection => {
                    if self.ports.iter().any(|p| p.reselect) {
                        self.bridge.selection_sm = SelectionState::RoleSelectionExec;
                    }
                    break;
                }
            }
        }
        if self.bridge.selection_sm != old {
            self.bridge.changes = true;
        }
    }

    // ---- Port Receive (17.23) ----

    fn port_receive_sm(&mut self, i: usize) {
        let begin = self.bridge.begin;
        let migrate_time = self.bridge.migrate_time;
        let p = &mut self.ports[i];
        let old = p.receive_sm;
        loop {
            // The global transition: a disabled port discards what it had.
            let discard = (p.rcvd_bpdu || p.edge_delay_while != migrate_time) && !p.port_enabled;
            match p.receive_sm {
                ReceiveState::Init => {
                    if begin || discard {
                        p.receive_sm = ReceiveState::DiscardExec;
                    }
                    break;
                }
                ReceiveState::DiscardExec => {
                    p.rcvd_bpdu = false;
                    p.rcvd_rstp = false;
                    p.rcvd_stp = false;
                    p.rcvd_msg = false;
                    p.edge_delay_while = migrate_time;
                    p.receive_sm = ReceiveState::Discard;
                }
                ReceiveState::Discard => {
                    if discard {
                        p.receive_sm = ReceiveState::DiscardExec;
                    } else if p.rcvd_bpdu && p.port_enabled {
                        p.receive_sm = ReceiveState::ReceiveExec;
                    }
                    break;
                }
                ReceiveState::ReceiveExec => {
                    // updtBPDUVersion(): what the neighbour speaks.
                    let rstp = p.received.is_some_and(|b| b.kind == BpduKind::Rst);
                    p.rcvd_rstp = rstp;
                    p.rcvd_stp = !rstp;
                    p.oper_edge = false;
                    p.rcvd_bpdu = false;
                    p.rcvd_msg = true;
                    p.edge_delay_while = migrate_time;
                    p.receive_sm = ReceiveState::Receive;
                }
                ReceiveState::Receive => {
                    if discard {
                        p.receive_sm = ReceiveState::DiscardExec;
                    } else if p.rcvd_bpdu && p.port_enabled && !p.rcvd_msg {
                        p.receive_sm = ReceiveState::ReceiveExec;
                    }
                    break;
                }
            }
        }
        if p.receive_sm != old {
            self.bridge.changes = true;
        }
    }

    // ---- Port Protocol Migration (17.24) ----

    fn port_protocol_migration_sm(&mut self, i: usize) {
        let migrate_time = self.bridge.migrate_time;
        let rstp_version = self.bridge.rstp_version;
        let p = &mut self.ports[i];
        let old = p.migration_sm;
        loop {
            match p.migration_sm {
                MigrationState::Init => p.migration_sm = MigrationState::CheckingRstpExec,
                MigrationState::CheckingRstpExec => {
                    p.mcheck = false;
                    p.send_rstp = rstp_version;
                    p.mdelay_while = migrate_time;
                    p.migration_sm = MigrationState::CheckingRstp;
                }
                MigrationState::CheckingRstp => {
                    if p.mdelay_while == 0 {
                        p.migration_sm = MigrationState::SensingExec;
                    } else if p.mdelay_while != migrate_time && !p.port_enabled {
                        p.migration_sm = MigrationState::CheckingRstpExec;
                    }
                    break;
                }
                MigrationState::SelectingStpExec => {
                    p.send_rstp = false;
                    p.mdelay_while = migrate_time;
                    p.migration_sm = MigrationState::SelectingStp;
                }
                MigrationState::SelectingStp => {
                    if p.mdelay_while == 0 || !p.port_enabled || p.mcheck {
                        p.migration_sm = MigrationState::SensingExec;
                    }
                    break;
                }
                MigrationState::SensingExec => {
                    p.rcvd_rstp = false;
                    p.rcvd_stp = false;
                    p.migration_sm = MigrationState::Sensing;
                }
                MigrationState::Sensing => {
                    if !p.port_enabled || p.mcheck || (rstp_version && !p.send_rstp && p.rcvd_rstp)
                    {
                        p.migration_sm = MigrationState::CheckingRstpExec;
                    } else if p.send_rstp && p.rcvd_stp {
                        // An 802.1D bridge is on the link: speak its language.
                        p.migration_sm = MigrationState::SelectingStpExec;
                    }
                    break;
                }
            }
        }
        if p.migration_sm != old {
            self.bridge.changes = true;
        }
    }

    // ---- Bridge Detection (17.25) ----

    fn bridge_detection_sm(&mut self, i: usize) {
        let begin = self.bridge.begin;
        let p = &mut self.ports[i];
        let old = p.detection_sm;
        loop {
            match p.detection_sm {
                DetectionState::Init => {
                    if begin && p.admin_edge {
                        p.detection_sm = DetectionState::EdgeExec;
                    } else if begin {
                        p.detection_sm = DetectionState::NotEdgeExec;
                    }
                    break;
                }
                DetectionState::EdgeExec => {
                    p.oper_edge = true;
                    p.detection_sm = DetectionState::Edge;
                }
                DetectionState::Edge => {
                    if (!p.port_enabled && !p.admin_edge) || !p.oper_edge {
                        p.detection_sm = DetectionState::NotEdgeExec;
                    }
                    break;
                }
                DetectionState::NotEdgeExec => {
                    p.oper_edge = false;
                    p.detection_sm = DetectionState::NotEdge;
                }
                DetectionState::NotEdge => {
                    // Auto-edge: a proposal nobody answered for edgeDelay means no bridge is
                    // there.
                    if (!p.port_enabled && p.admin_edge)
                        || (p.edge_delay_while == 0 && p.auto_edge && p.send_rstp && p.proposing)
                    {
                        p.detection_sm = DetectionState::EdgeExec;
                    }
                    break;
                }
            }
        }
        if p.detection_sm != old {
            self.bridge.changes = true;
        }
    }

    // ---- Port Transmit (17.26) ----

    fn port_transmit_sm(&mut self, i: usize) {
        let begin = self.bridge.begin;
        let hello = self.bridge.bridge_times.hello_time;
        let hold = self.bridge.transmit_hold_count;
        let p = &mut self.ports[i];
        let old = p.transmit_sm;
        loop {
            match p.transmit_sm {
                TransmitState::Init => {
                    if begin {
                        p.transmit_sm = TransmitState::TransmitInitExec;
                    }
                    break;
                }
                TransmitState::TransmitInitExec => {
                    p.new_info = true;
                    p.tx_count = 0;
                    p.transmit_sm = TransmitState::TransmitInit;
                }
                TransmitState::TransmitInit => {
                    p.transmit_sm = TransmitState::IdleExec;
                    break;
                }
                TransmitState::TransmitPeriodicExec => {
                    p.new_info = p.new_info
                        || p.role == PortRole::Designated
                        || (p.role == PortRole::Root && p.tc_while != 0);
                    p.transmit_sm = TransmitState::TransmitPeriodic;
                }
                TransmitState::TransmitPeriodic => {
                    p.transmit_sm = TransmitState::IdleExec;
                    break;
                }
                TransmitState::IdleExec => {
                    p.hello_when = hello;
                    p.transmit_sm = TransmitState::Idle;
                }
                TransmitState::Idle => {
                    if p.role == PortRole::Disabled {
                        break;
                    }
                    let ready = p.selected && !p.updt_info;
                    let may_send = p.new_info && p.tx_count < hold && p.hello_when != 0 && ready;
                    if p.send_rstp && may_send {
                        p.transmit_sm = TransmitState::TransmitRstpExec;
                    } else if p.hello_when == 0 && ready {
                        p.transmit_sm = TransmitState::TransmitPeriodicExec;
                    } else if !p.send_rstp && may_send && p.role == PortRole::Root {
                        p.transmit_sm = TransmitState::TransmitTcnExec;
                    } else if !p.send_rstp && may_send && p.role == PortRole::Designated {
                        p.transmit_sm = TransmitState::TransmitConfigExec;
                    }
                    break;
                }
                TransmitState::TransmitConfigExec => {
                    p.new_info = false;
                    let bpdu = config_bpdu(p);
                    send(&mut self.transmits, p, bpdu);
                    p.tx_count = p.tx_count.saturating_add(1);
                    p.tc_ack = false;
                    p.transmit_sm = TransmitState::TransmitConfig;
                }
                TransmitState::TransmitConfig => {
                    p.transmit_sm = TransmitState::IdleExec;
                    break;
                }
                TransmitState::TransmitTcnExec => {
                    p.new_info = false;
                    send(&mut self.transmits, p, Bpdu::Tcn);
                    p.tx_count = p.tx_count.saturating_add(1);
                    p.transmit_sm = TransmitState::TransmitTcn;
                }
                TransmitState::TransmitTcn => {
                    p.transmit_sm = TransmitState::IdleExec;
                    break;
                }
                TransmitState::TransmitRstpExec => {
                    p.new_info = false;
                    let bpdu = rst_bpdu(p);
                    send(&mut self.transmits, p, bpdu);
                    p.tx_count = p.tx_count.saturating_add(1);
                    p.tc_ack = false;
                    p.transmit_sm = TransmitState::TransmitRstp;
                }
                TransmitState::TransmitRstp => {
                    p.transmit_sm = TransmitState::IdleExec;
                    break;
                }
            }
        }
        if p.transmit_sm != old {
            self.bridge.changes = true;
        }
    }

    // ---- Port Information (17.27) ----

    fn port_information_sm(&mut self, i: usize) {
        let begin = self.bridge.begin;
        let rstp_version = self.bridge.rstp_version;
        let old = self.ports[i].information_sm;
        loop {
            let p = &mut self.ports[i];
            // The global transition out of every state but the first.
            let disable = !p.port_enabled && p.info_is != InfoIs::Disabled;
            let state = p.information_sm;
            match state {
                InformationState::Init => {
                    if begin || disable {
                        p.information_sm = InformationState::DisabledExec;
                    }
                    break;
                }
                InformationState::DisabledExec => {
                    p.rcvd_msg = false;
                    p.proposing = false;
                    p.proposed = false;
                    p.agree = false;
                    p.agreed = false;
                    p.rcvd_info_while = 0;
                    p.info_is = InfoIs::Disabled;
                    p.reselect = true;
                    p.selected = false;
                    p.information_sm = InformationState::Disabled;
                }
                InformationState::Disabled => {
                    if disable {
                        p.information_sm = InformationState::DisabledExec;
                    } else if p.port_enabled {
                        p.information_sm = InformationState::AgedExec;
                    } else if p.rcvd_msg {
                        p.information_sm = InformationState::DisabledExec;
                    }
                    break;
                }
                InformationState::AgedExec => {
                    p.info_is = InfoIs::Aged;
                    p.reselect = true;
                    p.selected = false;
                    p.information_sm = InformationState::Aged;
                }
                InformationState::Aged => {
                    if disable {
                        p.information_sm = InformationState::DisabledExec;
                    } else if p.selected && p.updt_info {
                        p.information_sm = InformationState::UpdateExec;
                    }
                    break;
                }
                InformationState::UpdateExec => {
                    p.proposing = false;
                    p.proposed = false;
                    // betterorsameInfo(Mine), which OVS adds to 802.1D-2004's agreed test.
                    p.agreed = p.agreed
                        && p.info_is == InfoIs::Mine
                        && p.designated_priority.at_least_as_good_as(&p.port_priority);
                    p.synced = p.synced && p.agreed;
                    p.port_priority = PriorityVector {
                        bridge_port: p.port_priority.bridge_port,
                        ..p.designated_priority
                    };
                    p.port_times = p.designated_times;
                    p.updt_info = false;
                    p.info_is = InfoIs::Mine;
                    p.new_info = true;
                    p.information_sm = InformationState::Update;
                }
                InformationState::Update
                | InformationState::Other
                | InformationState::NotDesignated
                | InformationState::InferiorDesignated
                | InformationState::RepeatedDesignated
                | InformationState::SuperiorDesignated => {
                    p.information_sm = if disable {
                        InformationState::DisabledExec
                    } else {
                        InformationState::CurrentExec
                    };
                    break;
                }
                InformationState::CurrentExec => p.information_sm = InformationState::Current,
                InformationState::Current => {
                    if disable {
                        p.information_sm = InformationState::DisabledExec;
                    } else if p.rcvd_msg && !p.updt_info {
                        p.information_sm = InformationState::ReceiveExec;
                    } else if p.selected && p.updt_info {
                        p.information_sm = InformationState::UpdateExec;
                    } else if p.info_is == InfoIs::Received
                        && p.rcvd_info_while == 0
                        && !p.updt_info
                        && !p.rcvd_msg
                    {
                        // The designated bridge fell silent: its information ages out.
                        p.information_sm = InformationState::AgedExec;
                    }
                    break;
                }
                InformationState::ReceiveExec => {
                    p.rcvd_info = rcv_info(p);
                    p.information_sm = InformationState::Receive;
                }
                InformationState::Receive => {
                    if disable {
                        p.information_sm = InformationState::DisabledExec;
                        break;
                    }
                    let learning = received_flags(p) & bpdu::flags::LEARNING != 0;
                    let number = p.number;
                    let next = match p.rcvd_info {
                        RcvdInfo::SuperiorDesignated => {
                            // 802.1Q's checkBPDUConsistency(): a superior designated port that
                            // is already learning withdraws the other ports' agreements.
                            if learning {
                                for other in &mut self.ports {
                                    if other.number != number {
                                        other.agreed = false;
                                    }
                                }
                            }
                            InformationState::SuperiorDesignatedExec
                        }
                        RcvdInfo::RepeatedDesignated => InformationState::RepeatedDesignatedExec,
                        RcvdInfo::InferiorDesignated => InformationState::InferiorDesignatedExec,
                        RcvdInfo::InferiorRootAlternate => InformationState::NotDesignatedExec,
                        RcvdInfo::Other => InformationState::OtherExec,
                    };
                    self.ports[i].information_sm = next;
                    break;
                }
                InformationState::OtherExec => {
                    p.rcvd_msg = false;
                    p.information_sm = InformationState::Other;
                }
                InformationState::NotDesignatedExec => {
                    record_agreement(p, rstp_version);
                    set_tc_flags(p);
                    p.rcvd_msg = false;
                    p.information_sm = InformationState::NotDesignated;
                }
                InformationState::InferiorDesignatedExec => {
                    // recordDispute(), as 802.1Q has it: a designated neighbour that is
                    // learning but worse than us has not seen our BPDUs.
                    if received_flags(p) & bpdu::flags::LEARNING != 0 {
                        p.disputed = true;
                        p.agreed = false;
                    }
                    p.rcvd_msg = false;
                    p.information_sm = InformationState::InferiorDesignated;
                }
                InformationState::RepeatedDesignatedExec => {
                    record_proposal(p);
                    set_tc_flags(p);
                    // 802.1Q records the agreement here too.
                    record_agreement(p, rstp_version);
                    updt_rcvd_info_while(p);
                    p.rcvd_msg = false;
                    p.information_sm = InformationState::RepeatedDesignated;
                }
                InformationState::SuperiorDesignatedExec => {
                    p.agreed = false;
                    p.proposing = false;
                    record_proposal(p);
                    set_tc_flags(p);
                    // betterorsameInfo(Received), OVS's addition.
                    p.agree = p.agree
                        && p.info_is == InfoIs::Received
                        && p.msg_priority.at_least_as_good_as(&p.port_priority);
                    record_agreement(p, rstp_version);
                    p.synced = p.synced && p.agreed;
                    // recordPriority(), recordTimes().
                    p.port_priority = PriorityVector {
                        bridge_port: p.port_priority.bridge_port,
                        ..p.msg_priority
                    };
                    p.port_times = p.msg_times;
                    if p.port_times.hello_time == 0 {
                        p.port_times.hello_time = 1;
                    }
                    updt_rcvd_info_while(p);
                    p.info_is = InfoIs::Received;
                    p.reselect = true;
                    p.selected = false;
                    p.rcvd_msg = false;
                    p.information_sm = InformationState::SuperiorDesignated;
                }
            }
        }
        if self.ports[i].information_sm != old {
            self.bridge.changes = true;
        }
    }

    // ---- Port Role Transitions (17.29) ----

    /// The transition out of any state when role selection gave the port another role. `current`
    /// is the role the machine's present state stands for.
    fn role_change(&mut self, i: usize, current: PortRole) -> bool {
        let p = &mut self.ports[i];
        if !(p.selected && !p.updt_info && p.role != p.selected_role && p.selected_role != current)
        {
            return false;
        }
        p.role_transition_sm = match p.selected_role {
            PortRole::Root => RoleTransitionState::RootPortExec,
            PortRole::Designated => RoleTransitionState::DesignatedPortExec,
            PortRole::Alternate | PortRole::Backup => RoleTransitionState::BlockPortExec,
            PortRole::Disabled => RoleTransitionState::DisablePortExec,
        };
        true
    }

    /// reRooted: no other port has been a root port recently.
    fn re_rooted(&self, i: usize) -> bool {
        let number = self.ports[i].number;
        self.ports
            .iter()
            .all(|p| p.number == number || p.rr_while == 0)
    }

    /// allSynced: every port has its selected role and is synced, or is the root port.
    fn all_synced(&self) -> bool {
        self.ports.iter().all(|p| {
            p.selected && p.role == p.selected_role && (p.role == PortRole::Root || p.synced)
        })
    }

    fn port_role_transition_sm(&mut self, i: usize) {
        let begin = self.bridge.begin;
        let rstp_version = self.bridge.rstp_version;
        let old = self.ports[i].role_transition_sm;
        loop {
            let state = self.ports[i].role_transition_sm;
            match state {
                RoleTransitionState::Init => {
                    if begin {
                        self.ports[i].role_transition_sm = RoleTransitionState::InitPortExec;
                    }
                    break;
                }
                RoleTransitionState::InitPortExec => {
                    let p = &mut self.ports[i];
                    p.role = PortRole::Disabled;
                    p.learn = false;
                    p.forward = false;
                    p.synced = false;
                    p.sync = true;
                    p.re_root = true;
                    p.rr_while = p.designated_times.forward_delay;
                    p.fd_while = p.designated_times.max_age;
                    p.rb_while = 0;
                    p.role_transition_sm = RoleTransitionState::DisablePortExec;
                    break;
                }
                RoleTransitionState::DisablePortExec => {
                    let p = &mut self.ports[i];
                    p.role = p.selected_role;
                    p.learn = false;
                    p.forward = false;
                    p.role_transition_sm = RoleTransitionState::DisablePort;
                }
                RoleTransitionState::DisablePort => {
                    if !self.role_change(i, PortRole::Disabled) {
                        let p = &mut self.ports[i];
                        if p.selected && !p.updt_info && !p.learning && !p.forwarding {
                            p.role_transition_sm = RoleTransitionState::DisabledPortExec;
                        }
                    }
                    break;
                }
                RoleTransitionState::DisabledPortExec => {
                    let p = &mut self.ports[i];
                    p.fd_while = p.designated_times.max_age;
                    p.synced = true;
                    p.rr_while = 0;
                    p.sync = false;
                    p.re_root = false;
                    p.role_transition_sm = RoleTransitionState::DisabledPort;
                }
                RoleTransitionState::DisabledPort => {
                    if !self.role_change(i, PortRole::Disabled) {
                        let p = &mut self.ports[i];
                        if p.selected
                            && !p.updt_info
                            && (p.fd_while != p.designated_times.max_age
                                || p.sync
                                || p.re_root
                                || !p.synced)
                        {
                            p.role_transition_sm = RoleTransitionState::DisabledPortExec;
                        }
                    }
                    break;
                }
                RoleTransitionState::RootPortExec => {
                    let p = &mut self.ports[i];
                    p.role = PortRole::Root;
                    p.rr_while = p.designated_times.forward_delay;
                    p.role_transition_sm = RoleTransitionState::RootPort;
                }
                RoleTransitionState::RootPort => {
                    if !self.role_change(i, PortRole::Root) {
                        self.root_port_step(i, rstp_version);
                    }
                    break;
                }
                RoleTransitionState::RerootExec => {
                    if !self.role_change(i, PortRole::Root) {
                        // setReRootTree(): every port, this one included.
                        for p in &mut self.ports {
                            p.re_root = true;
                        }
                        self.ports[i].role_transition_sm = RoleTransitionState::RootPortExec;
                    }
                    break;
                }
                RoleTransitionState::RootAgreedExec => {
                    if !self.role_change(i, PortRole::Root) {
                        let p = &mut self.ports[i];
                        p.proposed = false;
                        p.sync = false;
                        p.agree = true;
                        p.new_info = true;
                        p.role_transition_sm = RoleTransitionState::RootPortExec;
                    }
                    break;
                }
                RoleTransitionState::RootProposedExec => {
                    self.set_sync_tree();
                    self.ports[i].proposed = false;
                    if !self.role_change(i, PortRole::Root) {
                        self.ports[i].role_transition_sm = RoleTransitionState::RootPortExec;
                    }
                    break;
                }
                RoleTransitionState::RootForwardExec => {
                    let p = &mut self.ports[i];
                    p.fd_while = 0;
                    p.forward = true;
                    if !self.role_change(i, PortRole::Root) {
                        self.ports[i].role_transition_sm = RoleTransitionState::RootPortExec;
                    }
                    break;
                }
                RoleTransitionState::RootLearnExec => {
                    let p = &mut self.ports[i];
                    p.fd_while = forward_delay(p);
                    p.learn = true;
                    if !self.role_change(i, PortRole::Root) {
                        self.ports[i].role_transition_sm = RoleTransitionState::RootPortExec;
                    }
                    break;
                }
                RoleTransitionState::RerootedExec => {
                    self.ports[i].re_root = false;
                    if !self.role_change(i, PortRole::Root) {
                        self.ports[i].role_transition_sm = RoleTransitionState::RootPortExec;
                    }
                    break;
                }
                RoleTransitionState::DesignatedPortExec => {
                    let p = &mut self.ports[i];
                    p.role = PortRole::Designated;
                    p.role_transition_sm = RoleTransitionState::DesignatedPort;
                }
                RoleTransitionState::DesignatedPort => {
                    if !self.role_change(i, PortRole::Designated) {
                        designated_port_step(&mut self.ports[i]);
                    }
                    break;
                }
                RoleTransitionState::DesignatedRetiredExec => {
                    self.ports[i].re_root = false;
                    self.back_to(i, PortRole::Designated);
                    break;
                }
                RoleTransitionState::DesignatedSyncedExec => {
                    let p = &mut self.ports[i];
                    p.rr_while = 0;
                    p.synced = true;
                    p.sync = false;
                    self.back_to(i, PortRole::Designated);
                    break;
                }
                RoleTransitionState::DesignatedProposeExec => {
                    let migrate_time = self.bridge.migrate_time;
                    let p = &mut self.ports[i];
                    p.proposing = true;
                    // edgeDelay(): MigrateTime on a point-to-point link, else MaxAge.
                    p.edge_delay_while = if p.oper_point_to_point_mac {
                        migrate_time
                    } else {
                        p.designated_times.max_age
                    };
                    p.new_info = true;
                    self.back_to(i, PortRole::Designated);
                    break;
                }
                RoleTransitionState::DesignatedForwardExec => {
                    let p = &mut self.ports[i];
                    p.forward = true;
                    p.fd_while = 0;
                    p.agreed = p.send_rstp;
                    self.back_to(i, PortRole::Designated);
                    break;
                }
                RoleTransitionState::DesignatedLearnExec => {
                    let p = &mut self.ports[i];
                    p.learn = true;
                    p.fd_while = forward_delay(p);
                    self.back_to(i, PortRole::Designated);
                    break;
                }
                RoleTransitionState::DesignatedDiscardExec => {
                    let p = &mut self.ports[i];
                    p.learn = false;
                    p.forward = false;
                    p.disputed = false;
                    p.fd_while = forward_delay(p);
                    self.back_to(i, PortRole::Designated);
                    break;
                }
                RoleTransitionState::AlternatePortExec => {
                    let p = &mut self.ports[i];
                    // 802.1D-2004 sets forwardDelay here, and the state's exit test compares
                    // with it. OVS sets FwdDelay, so with RSTP (forwardDelay = HelloTime) its
                    // alternate ports re-enter this state for ever and never answer a proposal.
                    p.fd_while = forward_delay(p);
                    p.synced = true;
                    p.rr_while = 0;
                    p.sync = false;
                    p.re_root = false;
                    p.role_transition_sm = RoleTransitionState::AlternatePort;
                }
                RoleTransitionState::AlternatePort => {
                    if !self.role_change(i, PortRole::Alternate) {
                        let all_synced = self.all_synced();
                        let p = &mut self.ports[i];
                        if p.selected && !p.updt_info {
                            let next = if p.rb_while != 2 * p.designated_times.hello_time
                                && p.role == PortRole::Backup
                            {
                                Some(RoleTransitionState::BackupPortExec)
                            } else if p.fd_while != forward_delay(p)
                                || p.sync
                                || p.re_root
                                || !p.synced
                            {
                                Some(RoleTransitionState::AlternatePortExec)
                            } else if p.proposed && !p.agree {
                                Some(RoleTransitionState::AlternateProposedExec)
                            } else if (all_synced && !p.agree) || (p.proposed && p.agree) {
                                Some(RoleTransitionState::AlternateAgreedExec)
                            } else {
                                None
                            };
                            if let Some(next) = next {
                                p.role_transition_sm = next;
                            }
                        }
                    }
                    break;
                }
                RoleTransitionState::AlternateAgreedExec => {
                    let p = &mut self.ports[i];
                    p.proposed = false;
                    p.agree = true;
                    p.new_info = true;
                    self.back_to(i, PortRole::Alternate);
                    break;
                }
                RoleTransitionState::AlternateProposedExec => {
                    self.set_sync_tree();
                    self.ports[i].proposed = false;
                    self.back_to(i, PortRole::Alternate);
                    break;
                }
                RoleTransitionState::BlockPortExec => {
                    let p = &mut self.ports[i];
                    p.role = p.selected_role;
                    p.learn = false;
                    p.forward = false;
                    p.role_transition_sm = RoleTransitionState::BlockPort;
                }
                RoleTransitionState::BlockPort => {
                    if !self.role_change(i, PortRole::Alternate) {
                        let p = &mut self.ports[i];
                        if p.selected && !p.updt_info && !p.learning && !p.forwarding {
                            p.role_transition_sm = RoleTransitionState::AlternatePortExec;
                        }
                    }
                    break;
                }
                RoleTransitionState::BackupPortExec => {
                    let p = &mut self.ports[i];
                    p.rb_while = 2 * p.designated_times.hello_time;
                    self.back_to(i, PortRole::Alternate);
                    break;
                }
            }
        }
        if self.ports[i].role_transition_sm != old {
            self.bridge.changes = true;
        }
    }

    /// After a designated or alternate action: back to the role's resting state, unless the
    /// role changed meanwhile.
    fn back_to(&mut self, i: usize, role: PortRole) {
        if !self.role_change(i, role) {
            self.ports[i].role_transition_sm = match role {
                PortRole::Designated => RoleTransitionState::DesignatedPortExec,
                _ => RoleTransitionState::AlternatePortExec,
            };
        }
    }

    /// setSyncTree(): every port must show it is in step with the new root information.
    fn set_sync_tree(&mut self) {
        for p in &mut self.ports {
            p.sync = true;
        }
    }

    /// The ROOT_PORT state's transitions, in the standard's order.
    fn root_port_step(&mut self, i: usize, rstp_version: bool) {
        let re_rooted = self.re_rooted(i);
        let all_synced = self.all_synced();
        let p = &mut self.ports[i];
        if !p.selected || p.updt_info {
            return;
        }
        // The root port may learn and forward at once when no other port was root recently.
        let may_advance = p.fd_while == 0 || (re_rooted && p.rb_while == 0 && rstp_version);
        let next = if p.rr_while != p.designated_times.forward_delay {
            RoleTransitionState::RootPortExec
        } else if p.re_root && p.forward {
            RoleTransitionState::RerootedExec
        } else if may_advance && !p.learn {
            RoleTransitionState::RootLearnExec
        } else if may_advance && p.learn && !p.forward {
            RoleTransitionState::RootForwardExec
        } else if p.proposed && !p.agree {
            RoleTransitionState::RootProposedExec
        } else if (all_synced && !p.agree) || (p.proposed && p.agree) {
            RoleTransitionState::RootAgreedExec
        } else if !p.forward && !p.re_root {
            RoleTransitionState::RerootExec
        } else {
            return;
        };
        p.role_transition_sm = next;
    }

    // ---- Port State Transition (17.30) ----

    fn port_state_transition_sm(&mut self, i: usize) {
        let begin = self.bridge.begin;
        let p = &mut self.ports[i];
        let old = p.state_transition_sm;
        loop {
            match p.state_transition_sm {
                StateTransitionState::Init => {
                    if begin {
                        p.state_transition_sm = StateTransitionState::DiscardingExec;
                    }
                    break;
                }
                StateTransitionState::DiscardingExec => {
                    set_state(&mut self.events, p, PortState::Discarding);
                    p.learning = false;
                    p.forwarding = false;
                    p.state_transition_sm = StateTransitionState::Discarding;
                }
                StateTransitionState::Discarding => {
                    if p.learn {
                        p.state_transition_sm = StateTransitionState::LearningExec;
                    }
                    break;
                }
                StateTransitionState::LearningExec => {
                    set_state(&mut self.events, p, PortState::Learning);
                    p.learning = true;
                    p.state_transition_sm = StateTransitionState::Learning;
                }
                StateTransitionState::Learning => {
                    if !p.learn {
                        p.state_transition_sm = StateTransitionState::DiscardingExec;
                    } else if p.forward {
                        p.state_transition_sm = StateTransitionState::ForwardingExec;
                    }
                    break;
                }
                StateTransitionState::ForwardingExec => {
                    set_state(&mut self.events, p, PortState::Forwarding);
                    p.forwarding = true;
                    p.state_transition_sm = StateTransitionState::Forwarding;
                }
                StateTransitionState::Forwarding => {
                    if !p.forward {
                        p.state_transition_sm = StateTransitionState::DiscardingExec;
                    }
                    break;
                }
            }
        }
        if p.state_transition_sm != old {
            self.bridge.changes = true;
        }
    }

    // ---- Topology Change (17.31) ----

    /// newTcWhile(): start announcing a topology change, if not already.
    fn new_tc_while(&mut self, i: usize) {
        let times = self.bridge.bridge_times;
        let p = &mut self.ports[i];
        if p.tc_while != 0 {
            return;
        }
        if p.send_rstp {
            p.tc_while = times.hello_time + 1;
            p.new_info = true;
        } else {
            p.tc_while = times.max_age + times.forward_delay;
        }
    }

    /// setTcPropTree(): every other port must flush and pass the change on.
    fn set_tc_prop_tree(&mut self, i: usize) {
        let number = self.ports[i].number;
        for p in &mut self.ports {
            if p.number != number {
                p.tc_prop = true;
            }
        }
    }

    fn topology_change_sm(&mut self, i: usize) {
        let begin = self.bridge.begin;
        let old = self.ports[i].topology_change_sm;
        loop {
            let p = &mut self.ports[i];
            let active_role = matches!(p.role, PortRole::Root | PortRole::Designated);
            let notified = p.rcvd_tc || p.rcvd_tcn || p.rcvd_tc_ack || p.tc_prop;
            let state = p.topology_change_sm;
            match state {
                TopologyChangeState::Init => {
                    if begin {
                        p.topology_change_sm = TopologyChangeState::InactiveExec;
                    }
                    break;
                }
                TopologyChangeState::InactiveExec => {
                    p.fdb_flush = true;
                    p.tc_while = 0;
                    p.tc_ack = false;
                    p.topology_change_sm = TopologyChangeState::Inactive;
                }
                TopologyChangeState::Inactive => {
                    // Waits until the datapath has taken the flush (see `poll_event`).
                    if p.learn && !p.fdb_flush {
                        p.topology_change_sm = TopologyChangeState::LearningExec;
                    }
                    break;
                }
                TopologyChangeState::LearningExec => {
                    p.rcvd_tc = false;
                    p.rcvd_tcn = false;
                    p.rcvd_tc_ack = false;
                    p.tc_prop = false;
                    p.topology_change_sm = TopologyChangeState::Learning;
                }
                TopologyChangeState::Learning => {
                    if !(active_role || p.learn || p.learning || notified) {
                        p.topology_change_sm = TopologyChangeState::InactiveExec;
                    } else if notified {
                        p.topology_change_sm = TopologyChangeState::LearningExec;
                    } else if active_role && p.forward && !p.oper_edge {
                        // A non-edge port started forwarding: the topology changed.
                        p.topology_change_sm = TopologyChangeState::DetectedExec;
                    }
                    break;
                }
                TopologyChangeState::DetectedExec => {
                    self.new_tc_while(i);
                    self.set_tc_prop_tree(i);
                    let p = &mut self.ports[i];
                    p.new_info = true;
                    p.topology_change_sm = TopologyChangeState::ActiveExec;
                }
                TopologyChangeState::ActiveExec => {
                    p.topology_change_sm = TopologyChangeState::Active;
                }
                TopologyChangeState::Active => {
                    if !active_role || p.oper_edge {
                        p.topology_change_sm = TopologyChangeState::LearningExec;
                    } else if p.rcvd_tcn {
                        p.topology_change_sm = TopologyChangeState::NotifiedTcnExec;
                    } else if p.rcvd_tc {
                        p.topology_change_sm = TopologyChangeState::NotifiedTcExec;
                    } else if p.tc_prop && !p.oper_edge {
                        p.topology_change_sm = TopologyChangeState::PropagatingExec;
                    } else if p.rcvd_tc_ack {
                        p.topology_change_sm = TopologyChangeState::AcknowledgedExec;
                    }
                    break;
                }
                TopologyChangeState::AcknowledgedExec => {
                    p.tc_while = 0;
                    p.rcvd_tc_ack = false;
                    p.topology_change_sm = TopologyChangeState::Active;
                    break;
                }
                TopologyChangeState::PropagatingExec => {
                    self.new_tc_while(i);
                    let p = &mut self.ports[i];
                    // Addresses learned here may now be behind another port.
                    p.fdb_flush = true;
                    p.tc_prop = false;
                    p.topology_change_sm = TopologyChangeState::Active;
                    break;
                }
                TopologyChangeState::NotifiedTcExec => {
                    p.rcvd_tcn = false;
                    p.rcvd_tc = false;
                    if p.role == PortRole::Designated {
                        p.tc_ack = true;
                    }
                    // setTcPropBridge(): as 802.1w, the other ports of this bridge.
                    self.set_tc_prop_tree(i);
                    self.ports[i].topology_change_sm = TopologyChangeState::Active;
                    break;
                }
                TopologyChangeState::NotifiedTcnExec => {
                    self.new_tc_while(i);
                    self.ports[i].topology_change_sm = TopologyChangeState::NotifiedTcExec;
                    break;
                }
            }
        }
        if self.ports[i].topology_change_sm != old {
            self.bridge.changes = true;
        }
    }
}

/// The DESIGNATED_PORT state's transitions, in the standard's order.
fn designated_port_step(p: &mut Port) {
    if !p.selected || p.updt_info {
        return;
    }
    // Ready to move on: the forward delay ran out, the neighbour agreed, or nobody is there.
    let cleared =
        (p.fd_while == 0 || p.agreed || p.oper_edge) && (p.rr_while == 0 || !p.re_root) && !p.sync;
    let next = if ((p.sync && !p.synced) || (p.re_root && p.rr_while != 0) || p.disputed)
        && !p.oper_edge
        && (p.learn || p.forward)
    {
        RoleTransitionState::DesignatedDiscardExec
    } else if cleared && !p.learn {
        RoleTransitionState::DesignatedLearnExec
    } else if cleared && p.learn && !p.forward {
        RoleTransitionState::DesignatedForwardExec
    } else if !p.forward && !p.agreed && !p.proposing && !p.oper_edge {
        RoleTransitionState::DesignatedProposeExec
    } else if (!p.learning && !p.forwarding && !p.synced)
        || (p.agreed && !p.synced)
        || (p.oper_edge && !p.synced)
        || (p.sync && p.synced)
    {
        RoleTransitionState::DesignatedSyncedExec
    } else if p.rr_while == 0 && p.re_root {
        RoleTransitionState::DesignatedRetiredExec
    } else {
        return;
    };
    p.role_transition_sm = next;
}

/// forwardDelay (17.20.6): HelloTime where RSTP's handshake can speed things up, FwdDelay
/// towards an 802.1D bridge.
fn forward_delay(p: &Port) -> u16 {
    if p.send_rstp {
        p.designated_times.hello_time
    } else {
        p.designated_times.forward_delay
    }
}

fn received_flags(p: &Port) -> u8 {
    p.received.map_or(0, |b| b.flags)
}

/// rcvInfo() (17.21.8): decodes the held message into msgPriority and msgTimes and says how it
/// compares with what the port holds.
fn rcv_info(p: &mut Port) -> RcvdInfo {
    let Some(bpdu) = p.received else {
        return RcvdInfo::Other;
    };
    if bpdu.kind == BpduKind::Tcn {
        // 802.1Q: a TCN is a topology change notice and nothing more.
        p.rcvd_tcn = true;
        return RcvdInfo::Other;
    }
    p.msg_priority = PriorityVector {
        bridge_port: p.msg_priority.bridge_port,
        ..bpdu.priority
    };
    p.msg_times = bpdu.times;
    let ordering = p.msg_priority.compare(&p.port_priority);
    let same_times = p.port_times == p.msg_times;
    // A configuration BPDU always speaks for a designated port.
    let role = match bpdu.kind {
        BpduKind::Config => Some(PortRole::Designated),
        _ => ConfigBpdu {
            flags: bpdu.flags,
            ..EMPTY_BPDU
        }
        .role(),
    };
    match (role, ordering) {
        (Some(PortRole::Designated), Ordering::Superior) => RcvdInfo::SuperiorDesignated,
        (Some(PortRole::Designated), Ordering::Same) if !same_times => RcvdInfo::SuperiorDesignated,
        (Some(PortRole::Designated), Ordering::Same) => RcvdInfo::RepeatedDesignated,
        (Some(PortRole::Designated), Ordering::Inferior) => RcvdInfo::InferiorDesignated,
        (Some(PortRole::Root | PortRole::Alternate), Ordering::Inferior | Ordering::Same) => {
            RcvdInfo::InferiorRootAlternate
        }
        _ => RcvdInfo::Other,
    }
}

/// recordAgreement() (17.21.9): the neighbour's root or alternate port agreed to our proposal.
fn record_agreement(p: &mut Port, rstp_version: bool) {
    if rstp_version && p.oper_point_to_point_mac && received_flags(p) & bpdu::flags::AGREEMENT != 0
    {
        p.agreed = true;
        p.proposing = false;
    } else {
        p.agreed = false;
    }
}

/// recordProposal() (17.21.11).
fn record_proposal(p: &mut Port) {
    let flags = received_flags(p);
    let designated = ConfigBpdu {
        flags,
        ..EMPTY_BPDU
    }
    .role()
        == Some(PortRole::Designated);
    if designated && flags & bpdu::flags::PROPOSAL != 0 {
        p.proposed = true;
    }
}

/// setTcFlags() (17.21.17).
fn set_tc_flags(p: &mut Port) {
    let Some(bpdu) = p.received else {
        return;
    };
    match bpdu.kind {
        BpduKind::Config | BpduKind::Rst => {
            if bpdu.flags & bpdu::flags::TOPOLOGY_CHANGE != 0 {
                p.rcvd_tc = true;
            }
            if bpdu.flags & bpdu::flags::TOPOLOGY_CHANGE_ACK != 0 {
                p.rcvd_tc_ack = true;
            }
        }
        BpduKind::Tcn => p.rcvd_tcn = true,
    }
}

/// updtRcvdInfoWhile() (17.21.23), as OVS computes it: three hellos, unless the information is
/// already too old.
fn updt_rcvd_info_while(p: &mut Port) {
    p.rcvd_info_while = if p.port_times.message_age < p.port_times.max_age {
        p.port_times.hello_time.saturating_mul(3)
    } else {
        0
    };
}

/// Changes the port's state, telling the datapath; a port that starts or stops learning has its
/// addresses flushed, as OVS's `update_rstp_port_state` does.
pub(super) fn set_state(
    events: &mut std::collections::VecDeque<Event>,
    p: &mut Port,
    state: PortState,
) {
    if state == p.state {
        return;
    }
    let relearn = state.learns() != p.state.learns();
    p.state = state;
    events.push_back(Event::PortState {
        port: p.number,
        state,
    });
    if relearn {
        events.push_back(Event::FlushPort(p.number));
    }
}

const EMPTY_BPDU: ConfigBpdu = ConfigBpdu {
    flags: 0,
    root: crate::BridgeId(0),
    root_path_cost: 0,
    bridge: crate::BridgeId(0),
    port_id: 0,
    message_age: 0,
    max_age: 0,
    hello_time: 0,
    forward_delay: 0,
};

/// Seconds to the wire's 1/256 s. OVS encodes at most 255 s.
fn encode_time(seconds: u16) -> u16 {
    seconds.min(255) * 256
}

/// The port's designated priority and times, which every BPDU it sends carries.
fn designated_fields(p: &Port) -> ConfigBpdu {
    let v = &p.designated_priority;
    let t = &p.designated_times;
    ConfigBpdu {
        flags: 0,
        root: crate::BridgeId(v.root_bridge),
        root_path_cost: v.root_path_cost,
        bridge: crate::BridgeId(v.designated_bridge),
        port_id: v.designated_port,
        message_age: encode_time(t.message_age),
        max_age: encode_time(t.max_age),
        hello_time: encode_time(t.hello_time),
        forward_delay: encode_time(t.forward_delay),
    }
}

/// txConfig() (17.21.19): an 802.1D configuration BPDU.
fn config_bpdu(p: &Port) -> Bpdu {
    let mut fields = designated_fields(p);
    if p.tc_while != 0 {
        fields.flags |= bpdu::flags::TOPOLOGY_CHANGE;
    }
    if p.tc_ack {
        fields.flags |= bpdu::flags::TOPOLOGY_CHANGE_ACK;
    }
    Bpdu::Config(fields)
}

/// txRstp() (17.21.20): an RST BPDU with the port's role and handshake flags.
fn rst_bpdu(p: &Port) -> Bpdu {
    let mut fields = designated_fields(p);
    fields.flags = ConfigBpdu::role_flags(p.role);
    for (set, flag) in [
        (p.agree, bpdu::flags::AGREEMENT),
        (p.proposing, bpdu::flags::PROPOSAL),
        (p.tc_while != 0, bpdu::flags::TOPOLOGY_CHANGE),
        (p.learning, bpdu::flags::LEARNING),
        (p.forwarding, bpdu::flags::FORWARDING),
    ] {
        if set {
            fields.flags |= flag;
        }
    }
    Bpdu::Rst(fields)
}

fn send(queue: &mut std::collections::VecDeque<Transmit>, p: &mut Port, bpdu: Bpdu) {
    if queue.len() >= MAX_QUEUED_TRANSMITS {
        queue.pop_front();
    }
    queue.push_back(Transmit {
        port: p.number,
        frame: bpdu.emit(p.mac),
    });
    p.counters.tx += 1;
}
