//! Port state transitions (17.30) and topology change (17.31): discarding, learning, forwarding, and which ports flush.

use super::*;

impl Rstp {
    pub(super) fn port_state_transition_sm(&mut self, i: usize) {
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
    pub(super) fn new_tc_while(&mut self, i: usize) {
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
    pub(super) fn set_tc_prop_tree(&mut self, i: usize) {
        let number = self.ports[i].number;
        for p in &mut self.ports {
            if p.number != number {
                p.tc_prop = true;
            }
        }
    }

    pub(super) fn topology_change_sm(&mut self, i: usize) {
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

/// Changes the port's state, telling the datapath; a port that starts or stops learning has its
/// addresses flushed, as OVS's `update_rstp_port_state` does.
pub(in crate::rapid) fn set_state(
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
