//! Role selection (17.28) and role transitions (17.29): which port is root, designated, alternate or backup, and the proposal/agreement handshake.

use super::*;

impl Rstp {
    pub(super) fn port_role_selection_sm(&mut self) {
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

    /// The transition out of any state when role selection gave the port another role. `current`
    /// is the role the machine's present state stands for.
    pub(super) fn role_change(&mut self, i: usize, current: PortRole) -> bool {
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
    pub(super) fn re_rooted(&self, i: usize) -> bool {
        let number = self.ports[i].number;
        self.ports
            .iter()
            .all(|p| p.number == number || p.rr_while == 0)
    }

    /// allSynced: every port has its selected role and is synced, or is the root port.
    pub(super) fn all_synced(&self) -> bool {
        self.ports.iter().all(|p| {
            p.selected && p.role == p.selected_role && (p.role == PortRole::Root || p.synced)
        })
    }

    pub(super) fn port_role_transition_sm(&mut self, i: usize) {
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
    pub(super) fn back_to(&mut self, i: usize, role: PortRole) {
        if !self.role_change(i, role) {
            self.ports[i].role_transition_sm = match role {
                PortRole::Designated => RoleTransitionState::DesignatedPortExec,
                _ => RoleTransitionState::AlternatePortExec,
            };
        }
    }

    /// setSyncTree(): every port must show it is in step with the new root information.
    pub(super) fn set_sync_tree(&mut self) {
        for p in &mut self.ports {
            p.sync = true;
        }
    }

    /// The ROOT_PORT state's transitions, in the standard's order.
    pub(super) fn root_port_step(&mut self, i: usize, rstp_version: bool) {
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
}

/// The DESIGNATED_PORT state's transitions, in the standard's order.
pub(super) fn designated_port_step(p: &mut Port) {
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
pub(super) fn forward_delay(p: &Port) -> u16 {
    if p.send_rstp {
        p.designated_times.hello_time
    } else {
        p.designated_times.forward_delay
    }
}
