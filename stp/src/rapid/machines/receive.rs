//! Receiving BPDUs: port receive (17.23), protocol migration (17.24), bridge detection (17.25).

use super::*;

impl Rstp {
    pub(super) fn port_receive_sm(&mut self, i: usize) {
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

    pub(super) fn port_protocol_migration_sm(&mut self, i: usize) {
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

    pub(super) fn bridge_detection_sm(&mut self, i: usize) {
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
}
