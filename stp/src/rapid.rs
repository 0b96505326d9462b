//! IEEE 802.1w rapid spanning tree (802.1D-2004 clause 17), as Open vSwitch's `lib/rstp.c` and
//! `lib/rstp-state-machines.c` run it, so a grebe bridge with `rstp_enable=true` can share a
//! tree with OVS bridges.
//!
//! # Why it converges in a second, not in 2 × forward delay
//!
//! A designated port that is not yet forwarding sets the *proposal* flag in its BPDUs. The
//! bridge at the other end of the point-to-point link first blocks every port of its own that
//! could form a loop with the new path ("sync"), then answers with the *agreement* flag, and the
//! proposing port forwards at once. The handshake ripples out from the root one link at a time,
//! as fast as BPDUs travel. Only where no answer comes (an 802.1D neighbour) do ports wait out
//! the forward delay, twice.
//!
//! # How it runs
//!
//! The standard describes the protocol as state machines that share variables; this module
//! keeps them as OVS does (in `machines/`): after each input (a BPDU, a second passing, a
//! configuration change) every machine takes a step, the bridge's role selection first and then
//! each port's receive, edge detection, information, role transition, state transition, topology
//! change, transmit and protocol migration machines, in port-number order, until none moves.
//! Times are whole seconds, as in OVS; BPDUs carry seconds × 256.
//!
//! The datapath drains [`SpanningTree::poll_event`] after every call. A topology change asks the
//! datapath to flush a port's learned addresses ([`Event::FlushPort`]: the ports of this bridge
//! other than the one the change came from); the topology change machine waits for that flush
//! to be taken before it watches the port again, as OVS's waits for
//! `rstp_check_and_reset_fdb_flush`. A port that starts or stops learning is flushed too, as
//! OVS's `update_rstp_port_state` does. [`Event::FlushAll`] is never used: RSTP flushes per port.
//!
//! # Where grebe differs from OVS 3.1
//!
//! - An alternate port answers a proposal with an agreement, as 802.1D-2004 says. OVS's never
//!   does: its ALTERNATE_PORT state sets fdWhile to FwdDelay but leaves only once fdWhile equals
//!   forwardDelay, which is HelloTime when the port sends RST BPDUs, so the state re-enters
//!   itself for ever and never looks at the proposal. Against OVS nothing breaks either way: a
//!   designated port whose proposal goes unanswered takes the link for an edge after MigrateTime
//!   (3 s) and forwards, which is how OVS meshes converge; grebe's alternate ports let an OVS
//!   or grebe designated port forward at once instead.
//! - The hello time is fixed at 2 s, whatever the configuration says, as OVS has it (RSTP's
//!   hello time is not configurable there). Max age and forward delay are taken in whole seconds
//!   and an out-of-range or inconsistent value is ignored, as OVS's setters do; OVS applies max
//!   age before forward delay, so a change of both may take two reconfigurations there, and
//!   grebe retries max age once to reach that second result at once.
//! - A removed port first goes down (portEnabled false) and the machines run, so the tree
//!   reconverges at once; OVS marks it disabled before it stops its machines and reselects only
//!   on a later event.
//! - Every port is point-to-point and not an admin edge port; auto-edge is on, as OVS's
//!   defaults. A port number outside 1..=4095 is ignored (OVS would pick a free number; grebe
//!   names ports by number).
//! - When an alternate port becomes the root port, OVS moves the addresses learned on the old
//!   root port to the new one; grebe has no such event and flushes the old root port's instead.
//! - Root path costs add up saturating instead of wrapping, so a forged cost cannot wrap round
//!   to a cheap path.
//! - A malformed frame is counted in `errors` and returned as the error. Well-formed
//!   configuration BPDUs that OVS rejects are counted in `errors` too: a message age not below
//!   max age in whole seconds returns `BadTimers`; our own BPDU looped back to the port that sent
//!   it returns `Ok` (nothing is malformed, it is only not to be believed).
//! - Force protocol version (STP compatibility mode for the whole bridge) is not offered; each
//!   port still falls back to 802.1D on its own when it hears an 802.1D bridge.

mod machines;
mod port;
mod vector;

use std::collections::VecDeque;
use std::time::Duration;

use crate::bpdu::{Bpdu, BpduError, from_ticks};
use crate::{
    BridgeConfig, BridgeId, Event, PortConfig, PortNo, PortState, PortStatus, Protocol,
    SpanningTree, Status, Times as PublicTimes, Transmit,
};
use machines::set_state;
use port::{BpduKind, MAX_PORT_NUMBER, Port, ReceivedBpdu};
use vector::{ADDRESS_MASK, PriorityVector, Times};

/// Table 17-1's fixed Hello Time, which OVS does not let one change.
const HELLO_TIME: u16 = 2;
/// Table 17-1's fixed Migrate Time: how long a port waits before it believes what version of
/// the protocol its neighbour speaks.
const MIGRATE_TIME: u16 = 3;
const DEFAULT_TRANSMIT_HOLD_COUNT: u16 = 6;
const MAX_AGE_RANGE: std::ops::RangeInclusive<u16> = 6..=40;
const FORWARD_DELAY_RANGE: std::ops::RangeInclusive<u16> = 4..=30;
const TRANSMIT_HOLD_COUNT_RANGE: std::ops::RangeInclusive<u16> = 1..=10;
/// Bridge priorities are multiples of this (9.2.5).
const PRIORITY_STEP: u16 = 4096;
/// A longer gap between ticks counts as this many seconds: by then every timer has run out, and
/// stepping through more would only queue stale hellos.
const MAX_SECONDS_PER_TICK: u64 = 128;

/// One bridge's RSTP instance.
pub struct Rstp {
    bridge: Bridge,
    /// Ascending port number.
    ports: Vec<Port>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    /// Time handed to `tick` that has not yet made a whole second.
    subsecond: Duration,
}

/// Per-bridge parameters and variables (17.13, 17.18).
#[derive(Debug, Clone)]
struct Bridge {
    /// The bridge address: the lower 48 bits of the identifier.
    address: u64,
    priority: u16,
    bridge_id: u64,
    bridge_priority: PriorityVector,
    /// What this bridge would announce as root.
    bridge_times: Times,
    migrate_time: u16,
    transmit_hold_count: u16,
    root_priority: PriorityVector,
    /// Zero when this bridge is the root.
    root_port_id: u16,
    root_times: Times,
    /// Force Protocol Version is 2 (RSTP); STP compatibility mode for the bridge is not offered.
    rstp_version: bool,
    /// OVS keeps BEGIN set: it only takes each machine out of its initial state.
    begin: bool,
    /// Some machine moved (or an input arrived): run them all again.
    changes: bool,
    selection_sm: SelectionState,
}

/// The Port Role Selection machine's states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SelectionState {
    Init,
    InitBridgeExec,
    InitBridge,
    RoleSelectionExec,
    RoleSelection,
}

impl Rstp {
    /// A bridge with no ports yet, configured as OVS's `rstp_create` and `set_rstp` would.
    pub fn new(config: &BridgeConfig) -> Rstp {
        let priority = BridgeConfig::default().priority;
        let bridge_id = u64::from(priority) << 48;
        let mut rstp = Rstp {
            bridge: Bridge {
                address: 0,
                priority,
                bridge_id,
                bridge_priority: PriorityVector {
                    root_bridge: bridge_id,
                    designated_bridge: bridge_id,
                    ..PriorityVector::default()
                },
                bridge_times: Times {
                    forward_delay: 15,
                    hello_time: HELLO_TIME,
                    max_age: 20,
                    message_age: 0,
                },
                migrate_time: MIGRATE_TIME,
                transmit_hold_count: DEFAULT_TRANSMIT_HOLD_COUNT,
                root_priority: PriorityVector::default(),
                root_port_id: 0,
                root_times: Times::default(),
                rstp_version: true,
                begin: true,
                changes: false,
                selection_sm: SelectionState::Init,
            },
            ports: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            subsecond: Duration::ZERO,
        };
        rstp.updt_roles_tree();
        rstp.apply_config(config);
        rstp
    }

    /// Sets mcheck on the port (OVS's `rstp-port-mcheck`): it sends RST BPDUs again for a
    /// migrate time, to find out whether the 802.1D bridge it fell back for has gone.
    pub fn mcheck(&mut self, port: PortNo) {
        if let Some(i) = self.index(port) {
            if self.bridge.rstp_version {
                self.ports[i].mcheck = true;
                self.bridge.changes = true;
                self.run();
            }
        }
    }

    /// How many BPDUs a port may send in a burst before it is held to one a second (OVS's
    /// `rstp-transmit-hold-count`, 1..=10, 6 by default). Other values are ignored.
    pub fn set_transmit_hold_count(&mut self, count: u16) {
        if count == self.bridge.transmit_hold_count || !TRANSMIT_HOLD_COUNT_RANGE.contains(&count) {
            return;
        }
        self.bridge.transmit_hold_count = count;
        for p in &mut self.ports {
            p.tx_count = 0;
        }
        self.bridge.changes = true;
        self.run();
    }

    fn index(&self, port: PortNo) -> Option<usize> {
        self.ports.binary_search_by_key(&port, |p| p.number).ok()
    }

    /// Takes a configuration as OVS's `set_rstp` does, setter by setter.
    fn apply_config(&mut self, config: &BridgeConfig) {
        let mut address = [0u8; 8];
        address[2..].copy_from_slice(&config.system_id);
        let address = u64::from_be_bytes(address);
        if address != self.bridge.address {
            self.bridge.address = address;
            self.bridge.bridge_id = (self.bridge.bridge_id & !ADDRESS_MASK) | address;
            self.bridge_id_changed();
        }
        let priority = config.priority - config.priority % PRIORITY_STEP;
        if priority != self.bridge.priority {
            self.bridge.priority = priority;
            self.bridge.bridge_id =
                (self.bridge.bridge_id & ADDRESS_MASK) | u64::from(priority) << 48;
            self.bridge_id_changed();
        }
        let max_age = whole_seconds(config.max_age);
        let forward_delay = whole_seconds(config.forward_delay);
        let max_age_taken = self.set_max_age(max_age);
        self.set_forward_delay(forward_delay);
        if !max_age_taken {
            self.set_max_age(max_age);
        }
    }

    /// A new bridge identifier: every port's role is chosen again (17.13).
    fn bridge_id_changed(&mut self) {
        let id = self.bridge.bridge_id;
        self.bridge.bridge_priority.root_bridge = id;
        self.bridge.bridge_priority.designated_bridge = id;
        for p in &mut self.ports {
            p.selected = false;
            p.reselect = true;
        }
        self.bridge.changes = true;
        self.updt_roles_tree();
    }

    /// OVS's rule (17.14): 2 × (forward delay − 1) ≥ max age ≥ 2 × hello time. Returns whether
    /// the bridge now has the asked-for value.
    fn set_max_age(&mut self, max_age: u16) -> bool {
        let times = self.bridge.bridge_times;
        if max_age == times.max_age {
            return true;
        }
        if !MAX_AGE_RANGE.contains(&max_age)
            || 2 * (times.forward_delay - 1) < max_age
            || max_age < 2 * times.hello_time
        {
            return false;
        }
        self.bridge.bridge_times.max_age = max_age;
        self.bridge.changes = true;
        self.updt_roles_tree();
        true
    }

    fn set_forward_delay(&mut self, forward_delay: u16) {
        let times = self.bridge.bridge_times;
        if forward_delay == times.forward_delay
            || !FORWARD_DELAY_RANGE.contains(&forward_delay)
            || 2 * (forward_delay - 1) < times.max_age
        {
            return;
        }
        self.bridge.bridge_times.forward_delay = forward_delay;
        self.bridge.changes = true;
        self.updt_roles_tree();
    }
}

fn whole_seconds(d: Duration) -> u16 {
    d.as_secs().min(u64::from(u16::MAX)) as u16
}

fn public_times(t: Times) -> PublicTimes {
    PublicTimes {
        hello_time: Duration::from_secs(t.hello_time.into()),
        max_age: Duration::from_secs(t.max_age.into()),
        forward_delay: Duration::from_secs(t.forward_delay.into()),
    }
}

/// 1/256 s on the wire to whole seconds, truncating as OVS's `time_decode` does.
fn seconds(ticks: u16) -> u16 {
    from_ticks(ticks).as_secs() as u16
}

impl SpanningTree for Rstp {
    fn protocol(&self) -> Protocol {
        Protocol::Rstp
    }

    fn set_bridge_config(&mut self, config: &BridgeConfig) {
        self.apply_config(config);
        self.run();
    }

    fn add_port(&mut self, config: &PortConfig) {
        if !(1..=MAX_PORT_NUMBER).contains(&config.number) {
            return;
        }
        match self
            .ports
            .binary_search_by_key(&config.number, |p| p.number)
        {
            Ok(i) => {
                let p = &mut self.ports[i];
                p.mac = config.mac;
                let new_priority = p.set_priority(config.priority);
                let new_cost = p.set_path_cost(config.path_cost);
                if new_priority || new_cost {
                    self.bridge.changes = true;
                    self.run();
                }
            }
            Err(i) => {
                let mut port = Port::new(config.number, config.mac);
                port.set_priority(config.priority);
                port.set_path_cost(config.path_cost);
                set_state(&mut self.events, &mut port, PortState::Discarding);
                self.ports.insert(i, port);
                self.bridge.changes = true;
                self.run();
                // Then the link comes up, as OVS enables a port once it has configured it.
                self.ports[i].port_enabled = true;
                self.bridge.changes = true;
                self.run();
            }
        }
    }

    fn remove_port(&mut self, port: PortNo) {
        let Some(i) = self.index(port) else {
            return;
        };
        // The link goes down first, so the machines give up what it held and choose again.
        self.ports[i].port_enabled = false;
        self.bridge.changes = true;
        self.run();
        let mut gone = self.ports.remove(i);
        set_state(&mut self.events, &mut gone, PortState::Disabled);
        self.transmits.retain(|t| t.port != port);
        self.bridge.changes = true;
        self.run();
    }

    fn receive(&mut self, port: PortNo, frame: &[u8]) -> Result<(), BpduError> {
        let i = self.index(port).ok_or(BpduError::PortNotInTree)?;
        let bridge_id = self.bridge.bridge_id;
        let p = &mut self.ports[i];
        let bpdu = match Bpdu::parse(frame) {
            Ok(bpdu) => bpdu,
            Err(error) => {
                p.counters.errors += 1;
                return Err(error);
            }
        };
        // OVS drops a BPDU that arrives before the machines took the previous one.
        if !p.port_enabled || p.rcvd_bpdu {
            return Ok(());
        }
        let received = match bpdu {
            Bpdu::Tcn => ReceivedBpdu {
                kind: BpduKind::Tcn,
                flags: 0,
                priority: PriorityVector::default(),
                times: Times::default(),
            },
            Bpdu::Config(c) | Bpdu::Rst(c) => {
                // 9.2.9: an RST BPDU of unknown role is handled as a configuration BPDU.
                let kind = match bpdu {
                    Bpdu::Rst(_) if c.role().is_some() => BpduKind::Rst,
                    _ => BpduKind::Config,
                };
                // A timer under a second (valid on the wire) must not become zero: this
                // bridge would relay it, and zero timers are what every receiver rejects.
                let times = Times {
                    forward_delay: seconds(c.forward_delay).max(1),
                    hello_time: seconds(c.hello_time).max(1),
                    max_age: seconds(c.max_age).max(1),
                    message_age: seconds(c.message_age),
                };
                if kind == BpduKind::Config {
                    // OVS's 9.3.4 checks, in its whole seconds.
                    if times.message_age >= times.max_age {
                        p.counters.errors += 1;
                        return Err(BpduError::BadTimers);
                    }
                    if c.bridge.0 == bridge_id && c.port_id == p.port_id {
                        // Our own BPDU came back: not malformed, but not to be believed.
                        p.counters.errors += 1;
                        return Ok(());
                    }
                }
                ReceivedBpdu {
                    kind,
                    flags: c.flags,
                    priority: PriorityVector {
                        root_bridge: c.root.0,
                        root_path_cost: c.root_path_cost,
                        designated_bridge: c.bridge.0,
                        designated_port: c.port_id,
                        bridge_port: 0,
                    },
                    times,
                }
            }
        };
        p.counters.rx += 1;
        p.received = Some(received);
        p.rcvd_bpdu = true;
        self.bridge.changes = true;
        self.run();
        Ok(())
    }

    fn tick(&mut self, elapsed: Duration) {
        self.subsecond = self.subsecond.saturating_add(elapsed);
        let whole = self.subsecond.as_secs();
        self.subsecond -= Duration::from_secs(whole);
        let stepped = whole.min(MAX_SECONDS_PER_TICK);
        for _ in 0..stepped {
            self.one_second();
        }
        for p in &mut self.ports {
            p.uptime = p.uptime.saturating_add(whole - stepped);
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_event(&mut self) -> Option<Event> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        // fdbFlush stays set until the filtering database has flushed; handing the event to the
        // datapath is that moment.
        let p = self.ports.iter_mut().find(|p| p.fdb_flush)?;
        p.fdb_flush = false;
        Some(Event::FlushPort(p.number))
    }

    fn port_state(&self, port: PortNo) -> PortState {
        self.index(port)
            .map_or(PortState::Disabled, |i| self.ports[i].state)
    }

    fn status(&self) -> Status {
        let r = &self.bridge;
        let is_root = r.bridge_id == r.root_priority.designated_bridge;
        let root_port = if is_root {
            None
        } else {
            self.ports.iter().find(|p| p.port_id == r.root_port_id)
        };
        // rstp/show prints the root port's designated times when another bridge is root.
        let root_times = root_port.map_or(r.bridge_times, |p| p.designated_times);
        Status {
            protocol: Protocol::Rstp,
            bridge_id: BridgeId(r.bridge_id),
            bridge_times: public_times(r.bridge_times),
            root_id: BridgeId(r.root_priority.root_bridge),
            root_times: public_times(root_times),
            root_port: root_port.map(|p| p.number),
            root_path_cost: r.root_priority.root_path_cost,
            ports: self
                .ports
                .iter()
                .map(|p| PortStatus {
                    number: p.number,
                    priority: p.priority,
                    role: p.role,
                    state: p.state,
                    path_cost: p.path_cost,
                    counters: p.counters,
                })
                .collect(),
        }
    }
}
