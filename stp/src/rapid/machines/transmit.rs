//! Port transmit (17.26): BPDUs of either version, with the port's designated fields.

use super::*;

impl Rstp {
    pub(super) fn port_transmit_sm(&mut self, i: usize) {
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
}

/// Seconds to the wire's 1/256 s. OVS encodes at most 255 s.
pub(super) fn encode_time(seconds: u16) -> u16 {
    seconds.min(255) * 256
}

/// The port's designated priority and times, which every BPDU it sends carries.
pub(super) fn designated_fields(p: &Port) -> ConfigBpdu {
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
pub(super) fn config_bpdu(p: &Port) -> Bpdu {
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
pub(super) fn rst_bpdu(p: &Port) -> Bpdu {
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

pub(super) fn send(queue: &mut std::collections::VecDeque<Transmit>, p: &mut Port, bpdu: Bpdu) {
    // Information that old would be discarded on arrival (grebe's decoder, 802.1D 9.3.4 for a
    // configuration BPDU); stay silent instead, as the classic protocol does.
    if let Bpdu::Config(c) | Bpdu::Rst(c) = &bpdu
        && c.message_age >= c.max_age
    {
        return;
    }
    if queue.len() >= MAX_QUEUED_TRANSMITS {
        queue.pop_front();
    }
    queue.push_back(Transmit {
        port: p.number,
        frame: bpdu.emit(p.mac),
    });
    p.counters.tx += 1;
}
