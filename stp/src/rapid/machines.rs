//! The RSTP state machines (802.1D-2004 17.21–17.31), run the way OVS's
//! `lib/rstp-state-machines.c` runs them: after any input, every machine takes a step, bridge
//! machine first and then each port's in a fixed order, and the round repeats while any machine
//! moved. Where OVS follows 802.1Q-2005/2008 instead of 802.1D-2004, so does this port.
//!
//! This file runs the rounds; the machines are in files by what they do: `receive` (port
//! receive, protocol migration, bridge detection), `information` (port information and the
//! received-information helpers), `roles` (role selection and transitions), `state` (state
//! transitions and topology change) and `transmit`.

use super::port::{
    BpduKind, DetectionState, InfoIs, InformationState, MigrationState, Port, RcvdInfo,
    ReceiveState, RoleTransitionState, StateTransitionState, TopologyChangeState, TransmitState,
};
use super::vector::{ADDRESS_MASK, Ordering, PriorityVector};
use super::{Rstp, SelectionState};
use crate::bpdu::{self, Bpdu, ConfigBpdu};
use crate::{Event, PortRole, PortState, Transmit};

mod information;
mod receive;
mod roles;
mod state;
mod transmit;

pub(super) use state::set_state;

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
}

/// A BPDU of zeros, to fill in.
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
