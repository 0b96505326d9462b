//! Port information (17.27) and its helpers of 17.21: what the port knows of the root, and whether a received BPDU is better, the same, or worse.

use super::*;

impl Rstp {
    pub(super) fn port_information_sm(&mut self, i: usize) {
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
}

pub(super) fn received_flags(p: &Port) -> u8 {
    p.received.map_or(0, |b| b.flags)
}

/// rcvInfo() (17.21.8): decodes the held message into msgPriority and msgTimes and says how it
/// compares with what the port holds.
pub(super) fn rcv_info(p: &mut Port) -> RcvdInfo {
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
pub(super) fn record_agreement(p: &mut Port, rstp_version: bool) {
    if rstp_version && p.oper_point_to_point_mac && received_flags(p) & bpdu::flags::AGREEMENT != 0
    {
        p.agreed = true;
        p.proposing = false;
    } else {
        p.agreed = false;
    }
}

/// recordProposal() (17.21.11).
pub(super) fn record_proposal(p: &mut Port) {
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
pub(super) fn set_tc_flags(p: &mut Port) {
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
pub(super) fn updt_rcvd_info_while(p: &mut Port) {
    p.rcvd_info_while = if p.port_times.message_age < p.port_times.max_age {
        p.port_times.hello_time.saturating_mul(3)
    } else {
        0
    };
}
