//! IEEE 802.1D-1998 spanning tree, as Open vSwitch's `lib/stp.c` runs it.
//!
//! The procedures keep the names of 802.1D-1998 clause 8.6–8.7 (`supersedes_port_info`,
//! `configuration_update`, `port_state_selection`, …) and follow OVS step by step, so a grebe
//! bridge and an OVS bridge reach the same tree and the same timings. Where grebe differs from
//! OVS it says so at the spot:
//!
//! - `tick` replays a long gap in steps of at most one second (OVS's own wake-up interval), so
//!   no timer expiry is lost whatever the caller's cadence; a gap beyond 1024 s counts as
//!   1024 s.
//! - Every rejected frame counts in `errors`, including a configuration BPDU whose message age
//!   is not below its max age (OVS counts that one as received and drops it).
//! - A configuration BPDU carrying this bridge's ID and the receiving port's own ID (its own
//!   BPDU come back) is dropped before any procedure sees it. OVS's procedures end with nothing
//!   changed for it too; the check makes that explicit.
//! - A removed port leaves the table instead of staying disabled in it, and a port number
//!   outside 1..=255 is not taken in.
//!
//! As in OVS, an RST BPDU (type 2) is an error for STP: a rapid peer falls back to STP when it
//! hears our configuration BPDUs.

use std::collections::VecDeque;
use std::time::Duration;

use crate::bpdu::{ConfigBpdu, flags};
use crate::{
    Bpdu, BpduCounters, BpduError, BridgeConfig, BridgeId, Event, PortConfig, PortNo, PortRole,
    PortState, PortStatus, Protocol, SpanningTree, Status, Times, Transmit,
};

/// STP timers count 1/256 s; one of them is exactly this many nanoseconds.
const TICK_NANOS: u128 = 1_000_000_000 / 256;
/// One second of timer ticks: the hold time and the longest step `tick` takes at once.
const SECOND: u32 = 256;
/// The longest gap `tick` replays. With any times 802.1D allows (max age ≤ 40 s, forward
/// delay ≤ 30 s), every chain of one-shot timers (max age, two forward delays, the topology
/// change timer) has run out well within it, so a longer gap ends in the same state.
const MAX_REPLAY: Duration = Duration::from_secs(1024);
/// The message age a non-root bridge adds to what its root port heard: one timer tick, as OVS.
const MESSAGE_AGE_INCREMENT: u32 = 1;
/// STP port numbers are one byte of the port identifier.
const MAX_PORT_NUMBER: PortNo = 255;

/// A timer that counts up in 1/256 s until it reaches its timeout, read at expiry time.
#[derive(Debug, Clone, Copy, Default)]
struct Timer {
    active: bool,
    value: u32,
}

impl Timer {
    fn start(&mut self, value: u32) {
        *self = Timer {
            active: true,
            value,
        };
    }

    fn stop(&mut self) {
        self.active = false;
    }

    /// Advances the timer; true (and stopped) when it reached `timeout`.
    fn expired(&mut self, elapsed: u32, timeout: u32) -> bool {
        if !self.active {
            return false;
        }
        self.value = self.value.saturating_add(elapsed);
        if self.value >= timeout {
            self.active = false;
            return true;
        }
        false
    }
}

/// The three protocol times, in 1/256 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TimerSet {
    hello: u32,
    max_age: u32,
    forward_delay: u32,
}

impl TimerSet {
    fn times(self) -> Times {
        Times {
            hello_time: ticks_to_duration(self.hello),
            max_age: ticks_to_duration(self.max_age),
            forward_delay: ticks_to_duration(self.forward_delay),
        }
    }
}

/// OVS's `ms_to_timer`: whole ticks in `ms` milliseconds.
fn ms_to_ticks(ms: u32) -> u32 {
    // ms ≤ 40 000 here, so the product fits.
    ms.saturating_mul(256) / 1000
}

/// OVS's `timer_to_ms`, as a Duration.
fn ticks_to_duration(ticks: u32) -> Duration {
    Duration::from_millis(u64::from(ticks) * 1000 / 256)
}

fn wire_u16(ticks: u32) -> u16 {
    u16::try_from(ticks).unwrap_or(u16::MAX)
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

struct Port {
    number: PortNo,
    mac: [u8; 6],
    /// Priority in the high byte, number in the low byte.
    port_id: u16,
    state: PortState,
    path_cost: u32,
    /// What the designated bridge of this port's segment announces (8.5.5.4–8.5.5.7).
    designated_root: BridgeId,
    designated_cost: u32,
    designated_bridge: BridgeId,
    designated_port: u16,
    /// Set the TCA flag in the next config BPDU.
    topology_change_ack: bool,
    /// A config BPDU was due while the hold timer ran; send it when the timer runs out.
    config_pending: bool,
    message_age_timer: Timer,
    forward_delay_timer: Timer,
    hold_timer: Timer,
    counters: BpduCounters,
}

/// One bridge's STP instance.
pub struct Stp {
    bridge_id: BridgeId,
    /// The times the user asked for, in ms, before clamping.
    requested_hello_ms: u32,
    requested_max_age_ms: u32,
    requested_forward_delay_ms: u32,
    /// The clamped times this bridge announces when it is root.
    bridge_times: TimerSet,
    /// The times in use: the root's, as its BPDUs carry them.
    times: TimerSet,
    /// Nanoseconds given to `tick` that did not make a whole timer tick yet.
    leftover_nanos: u128,

    designated_root: BridgeId,
    root_path_cost: u32,
    root_port: Option<PortNo>,
    topology_change_detected: bool,
    topology_change: bool,

    hello_timer: Timer,
    tcn_timer: Timer,
    topology_change_timer: Timer,

    /// Ascending by number; every port here takes part (OVS's disabled ports are removed).
    ports: Vec<Port>,

    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Stp {
    pub fn new(config: &BridgeConfig) -> Stp {
        let bridge_id = config.bridge_id();
        let mut stp = Stp {
            bridge_id,
            requested_hello_ms: millis(config.hello_time),
            requested_max_age_ms: millis(config.max_age),
            requested_forward_delay_ms: millis(config.forward_delay),
            bridge_times: TimerSet {
                hello: 0,
                max_age: 0,
                forward_delay: 0,
            },
            times: TimerSet {
                hello: 0,
                max_age: 0,
                forward_delay: 0,
            },
            leftover_nanos: 0,
            designated_root: bridge_id,
            root_path_cost: 0,
            root_port: None,
            topology_change_detected: false,
            topology_change: false,
            hello_timer: Timer::default(),
            tcn_timer: Timer::default(),
            topology_change_timer: Timer::default(),
            ports: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        stp.update_bridge_timers();
        stp.times = stp.bridge_times;
        stp.hello_timer.start(0);
        stp
    }

    pub fn boxed(config: &BridgeConfig) -> Box<dyn SpanningTree> {
        Box::new(Stp::new(config))
    }

    fn is_root(&self) -> bool {
        self.bridge_id == self.designated_root
    }

    fn index(&self, number: PortNo) -> Option<usize> {
        self.ports.binary_search_by_key(&number, |p| p.number).ok()
    }

    fn root_index(&self) -> Option<usize> {
        self.root_port.and_then(|n| self.index(n))
    }

    fn enabled(&self, i: usize) -> bool {
        self.ports[i].state != PortState::Disabled
    }

    fn is_designated_port(&self, i: usize) -> bool {
        let p = &self.ports[i];
        p.designated_bridge == self.bridge_id && p.designated_port == p.port_id
    }

    fn role(&self, i: usize) -> PortRole {
        let p = &self.ports[i];
        let root_port_id = self.root_index().map(|r| self.ports[r].port_id);
        if root_port_id == Some(p.port_id) {
            PortRole::Root
        } else if self.is_designated_port(i) {
            PortRole::Designated
        } else if p.state == PortState::Disabled {
            PortRole::Disabled
        } else {
            PortRole::Alternate
        }
    }

    // ---- Output to the datapath ----

    fn flush_all(&mut self) {
        // Several reasons to flush in one burst need one flush, as OVS's single flag gives.
        if self.events.back() != Some(&Event::FlushAll) {
            self.events.push_back(Event::FlushAll);
        }
    }

    fn send(&mut self, i: usize, bpdu: Bpdu) {
        let port = &mut self.ports[i];
        let transmit = Transmit {
            port: port.number,
            frame: bpdu.emit(port.mac),
        };
        // A long replayed gap can repeat the same hello; a second copy tells the peer nothing.
        if !self.transmits.contains(&transmit) {
            port.counters.tx += 1;
            self.transmits.push_back(transmit);
        }
    }

    fn set_port_state(&mut self, i: usize, state: PortState) {
        let port = &mut self.ports[i];
        let old = port.state;
        if old == state {
            return;
        }
        port.state = state;
        self.events.push_back(Event::PortState {
            port: port.number,
            state,
        });
        // ofproto-dpif flushes the whole MAC table when a port starts or stops learning.
        if old.learns() != state.learns() {
            self.flush_all();
        }
    }

    // ---- 802.1D-1998 8.6: elements of procedures ----

    fn transmit_config(&mut self, i: usize) {
        let root = self.is_root();
        let root_port = self.root_index();
        if !root && root_port.is_none() {
            return;
        }
        if self.ports[i].hold_timer.active {
            self.ports[i].config_pending = true;
            return;
        }
        let message_age = match root_port {
            Some(r) if !root => self.ports[r]
                .message_age_timer
                .value
                .saturating_add(MESSAGE_AGE_INCREMENT),
            _ => 0,
        };
        // Information that old would be discarded on arrival; stay silent instead.
        if message_age >= self.times.max_age {
            return;
        }
        let port = &self.ports[i];
        let mut bpdu_flags = 0;
        if port.topology_change_ack {
            bpdu_flags |= flags::TOPOLOGY_CHANGE_ACK;
        }
        if self.topology_change {
            bpdu_flags |= flags::TOPOLOGY_CHANGE;
        }
        let config = ConfigBpdu {
            flags: bpdu_flags,
            root: self.designated_root,
            root_path_cost: self.root_path_cost,
            bridge: self.bridge_id,
            port_id: port.port_id,
            message_age: wire_u16(message_age),
            max_age: wire_u16(self.times.max_age),
            hello_time: wire_u16(self.times.hello),
            forward_delay: wire_u16(self.times.forward_delay),
        };
        let port = &mut self.ports[i];
        port.topology_change_ack = false;
        port.config_pending = false;
        self.send(i, Bpdu::Config(config));
        self.ports[i].hold_timer.start(0);
    }

    fn supersedes_port_info(&self, i: usize, config: &ConfigBpdu) -> bool {
        let p = &self.ports[i];
        if config.root != p.designated_root {
            config.root < p.designated_root
        } else if config.root_path_cost != p.designated_cost {
            config.root_path_cost < p.designated_cost
        } else if config.bridge != p.designated_bridge {
            config.bridge < p.designated_bridge
        } else {
            config.bridge != self.bridge_id || config.port_id <= p.designated_port
        }
    }

    fn record_config_information(&mut self, i: usize, config: &ConfigBpdu) {
        let p = &mut self.ports[i];
        p.designated_root = config.root;
        p.designated_cost = config.root_path_cost;
        p.designated_bridge = config.bridge;
        p.designated_port = config.port_id;
        p.message_age_timer.start(u32::from(config.message_age));
    }

    fn record_config_timeout_values(&mut self, config: &ConfigBpdu) {
        self.times = TimerSet {
            hello: u32::from(config.hello_time),
            max_age: u32::from(config.max_age),
            forward_delay: u32::from(config.forward_delay),
        };
        self.topology_change = config.has(flags::TOPOLOGY_CHANGE);
    }

    fn config_bpdu_generation(&mut self) {
        for i in 0..self.ports.len() {
            if self.enabled(i) && self.is_designated_port(i) {
                self.transmit_config(i);
            }
        }
    }

    fn transmit_tcn(&mut self) {
        if let Some(r) = self.root_index() {
            self.send(r, Bpdu::Tcn);
        }
    }

    fn configuration_update(&mut self) {
        self.root_selection();
        self.designated_port_selection();
    }

    /// Whether port `p` offers a better path to the root than port `best`.
    fn supersedes_root(&self, best: usize, p: usize) -> bool {
        let (best, p) = (&self.ports[best], &self.ports[p]);
        let p_cost = p.designated_cost.saturating_add(p.path_cost);
        let best_cost = best.designated_cost.saturating_add(best.path_cost);
        if p.designated_root != best.designated_root {
            p.designated_root < best.designated_root
        } else if p_cost != best_cost {
            p_cost < best_cost
        } else if p.designated_bridge != best.designated_bridge {
            p.designated_bridge < best.designated_bridge
        } else if p.designated_port != best.designated_port {
            p.designated_port < best.designated_port
        } else {
            p.port_id < best.port_id
        }
    }

    fn root_selection(&mut self) {
        let mut best: Option<usize> = None;
        for i in 0..self.ports.len() {
            if !self.enabled(i)
                || self.is_designated_port(i)
                || self.ports[i].designated_root >= self.bridge_id
            {
                continue;
            }
            if best.is_some_and(|b| !self.supersedes_root(b, i)) {
                continue;
            }
            best = Some(i);
        }
        match best {
            None => {
                self.root_port = None;
                self.designated_root = self.bridge_id;
                self.root_path_cost = 0;
            }
            Some(r) => {
                let p = &self.ports[r];
                self.root_port = Some(p.number);
                self.designated_root = p.designated_root;
                self.root_path_cost = p.designated_cost.saturating_add(p.path_cost);
            }
        }
    }

    fn designated_port_selection(&mut self) {
        for i in 0..self.ports.len() {
            if !self.enabled(i) {
                continue;
            }
            let p = &self.ports[i];
            let we_serve_better = p.designated_root != self.designated_root
                || self.root_path_cost < p.designated_cost
                || (self.root_path_cost == p.designated_cost
                    && (self.bridge_id < p.designated_bridge
                        || (self.bridge_id == p.designated_bridge
                            && p.port_id <= p.designated_port)));
            if self.is_designated_port(i) || we_serve_better {
                self.become_designated_port(i);
            }
        }
    }

    fn become_designated_port(&mut self, i: usize) {
        let (root, cost, bridge) = (self.designated_root, self.root_path_cost, self.bridge_id);
        let p = &mut self.ports[i];
        p.designated_root = root;
        p.designated_cost = cost;
        p.designated_bridge = bridge;
        p.designated_port = p.port_id;
    }

    fn port_state_selection(&mut self) {
        let root_port = self.root_index();
        for i in 0..self.ports.len() {
            if !self.enabled(i) {
                continue;
            }
            if Some(i) == root_port {
                let p = &mut self.ports[i];
                p.config_pending = false;
                p.topology_change_ack = false;
                self.make_forwarding(i);
            } else if self.is_designated_port(i) {
                self.ports[i].message_age_timer.stop();
                self.make_forwarding(i);
            } else {
                let p = &mut self.ports[i];
                p.config_pending = false;
                p.topology_change_ack = false;
                self.make_blocking(i);
            }
        }
    }

    fn make_forwarding(&mut self, i: usize) {
        if self.ports[i].state == PortState::Blocking {
            self.set_port_state(i, PortState::Listening);
            self.ports[i].forward_delay_timer.start(0);
        }
    }

    fn make_blocking(&mut self, i: usize) {
        let state = self.ports[i].state;
        if matches!(state, PortState::Disabled | PortState::Blocking) {
            return;
        }
        // Every grebe port detects topology changes (OVS's change_detection_enabled default).
        if matches!(state, PortState::Learning | PortState::Forwarding) {
            self.topology_change_detection();
        }
        self.set_port_state(i, PortState::Blocking);
        self.ports[i].forward_delay_timer.stop();
    }

    fn topology_change_detection(&mut self) {
        if self.is_root() {
            self.topology_change = true;
            self.topology_change_timer.start(0);
        } else if !self.topology_change_detected {
            self.transmit_tcn();
            self.tcn_timer.start(0);
        }
        self.flush_all();
        self.topology_change_detected = true;
    }

    fn topology_change_acknowledged(&mut self) {
        self.topology_change_detected = false;
        self.tcn_timer.stop();
    }

    fn acknowledge_topology_change(&mut self, i: usize) {
        self.ports[i].topology_change_ack = true;
        self.transmit_config(i);
    }

    fn become_root_bridge(&mut self) {
        self.times = self.bridge_times;
        self.topology_change_detection();
        self.tcn_timer.stop();
        self.config_bpdu_generation();
        self.hello_timer.start(0);
    }

    // ---- 802.1D-1998 8.7: operation ----

    fn received_config_bpdu(&mut self, i: usize, config: &ConfigBpdu) {
        let was_root = self.is_root();
        if self.supersedes_port_info(i, config) {
            self.record_config_information(i, config);
            self.configuration_update();
            self.port_state_selection();
            if was_root && !self.is_root() {
                self.hello_timer.stop();
                if self.topology_change_detected {
                    self.topology_change_timer.stop();
                    self.transmit_tcn();
                    self.tcn_timer.start(0);
                }
            }
            if self.root_port == Some(self.ports[i].number) {
                self.record_config_timeout_values(config);
                self.config_bpdu_generation();
                if config.has(flags::TOPOLOGY_CHANGE_ACK) {
                    self.topology_change_acknowledged();
                }
                // OVS flushes the whole table for each BPDU that carries the TC flag.
                if config.has(flags::TOPOLOGY_CHANGE) {
                    self.flush_all();
                }
            }
        } else if self.is_designated_port(i) {
            // A worse bridge claims our segment: answer at once so it learns better.
            self.transmit_config(i);
        }
    }

    fn received_tcn_bpdu(&mut self, i: usize) {
        if self.is_designated_port(i) {
            self.topology_change_detection();
            self.acknowledge_topology_change(i);
        }
    }

    fn hello_timer_expiry(&mut self) {
        self.config_bpdu_generation();
        self.hello_timer.start(0);
    }

    fn message_age_timer_expiry(&mut self, i: usize) {
        let was_root = self.is_root();
        self.become_designated_port(i);
        self.configuration_update();
        self.port_state_selection();
        if !was_root && self.is_root() {
            self.become_root_bridge();
        }
    }

    fn is_designated_for_some_port(&self) -> bool {
        (0..self.ports.len())
            .any(|i| self.enabled(i) && self.ports[i].designated_bridge == self.bridge_id)
    }

    fn forward_delay_timer_expiry(&mut self, i: usize) {
        match self.ports[i].state {
            PortState::Listening => {
                self.set_port_state(i, PortState::Learning);
                self.ports[i].forward_delay_timer.start(0);
            }
            PortState::Learning => {
                self.set_port_state(i, PortState::Forwarding);
                if self.is_designated_for_some_port() {
                    self.topology_change_detection();
                }
            }
            _ => {}
        }
    }

    fn tcn_timer_expiry(&mut self) {
        self.transmit_tcn();
        self.tcn_timer.start(0);
    }

    fn topology_change_timer_expiry(&mut self) {
        self.topology_change_detected = false;
        self.topology_change = false;
    }

    fn hold_timer_expiry(&mut self, i: usize) {
        if self.ports[i].config_pending {
            self.transmit_config(i);
        }
    }

    /// One pass of OVS's `stp_tick`: each timer advances by `elapsed` ticks and fires at most once.
    fn advance(&mut self, elapsed: u32) {
        if self.hello_timer.expired(elapsed, self.times.hello) {
            self.hello_timer_expiry();
        }
        if self.tcn_timer.expired(elapsed, self.bridge_times.hello) {
            self.tcn_timer_expiry();
        }
        let topology_change_time = self.times.max_age.saturating_add(self.times.forward_delay);
        if self
            .topology_change_timer
            .expired(elapsed, topology_change_time)
        {
            self.topology_change_timer_expiry();
        }
        for i in 0..self.ports.len() {
            if self.enabled(i)
                && self.ports[i]
                    .message_age_timer
                    .expired(elapsed, self.times.max_age)
            {
                self.message_age_timer_expiry(i);
            }
        }
        for i in 0..self.ports.len() {
            if !self.enabled(i) {
                continue;
            }
            if self.ports[i]
                .forward_delay_timer
                .expired(elapsed, self.times.forward_delay)
            {
                self.forward_delay_timer_expiry(i);
            }
            if self.ports[i].hold_timer.expired(elapsed, SECOND) {
                self.hold_timer_expiry(i);
            }
        }
    }

    // ---- Management (OVS's stp_set_* and stp_port_*) ----

    /// OVS's `stp_update_bridge_timers`: 802.1D's ranges and
    /// `2 × (forward_delay − 1 s) ≥ max_age ≥ 2 × (hello + 1 s)`.
    fn update_bridge_timers(&mut self) {
        let hello = self.requested_hello_ms.clamp(1000, 10_000);
        let max_age = self
            .requested_max_age_ms
            .clamp((2 * (hello + 1000)).max(6000), 40_000);
        let forward_delay = self
            .requested_forward_delay_ms
            .clamp(max_age / 2 + 1000, 30_000);
        self.bridge_times = TimerSet {
            hello: ms_to_ticks(hello),
            max_age: ms_to_ticks(max_age),
            forward_delay: ms_to_ticks(forward_delay),
        };
        if self.is_root() {
            self.times = self.bridge_times;
        }
    }

    fn set_bridge_id(&mut self, new_id: BridgeId) {
        if new_id == self.bridge_id {
            return;
        }
        let was_root = self.is_root();
        for i in 0..self.ports.len() {
            if self.enabled(i) && self.is_designated_port(i) {
                self.ports[i].designated_bridge = new_id;
            }
        }
        self.bridge_id = new_id;
        self.configuration_update();
        self.port_state_selection();
        if !was_root && self.is_root() {
            self.become_root_bridge();
        }
    }

    fn set_port_priority(&mut self, i: usize, priority: u8) {
        let p = &self.ports[i];
        let new_id = (p.port_id & 0xff) | (u16::from(priority) << 8);
        if new_id == p.port_id {
            return;
        }
        if self.is_designated_port(i) {
            self.ports[i].designated_port = new_id;
        }
        let p = &mut self.ports[i];
        p.port_id = new_id;
        if p.designated_bridge == self.bridge_id && p.port_id < p.designated_port {
            self.become_designated_port(i);
            self.port_state_selection();
        }
    }

    fn set_port_path_cost(&mut self, i: usize, path_cost: u32) {
        if self.ports[i].path_cost != path_cost {
            self.ports[i].path_cost = path_cost;
            self.configuration_update();
            self.port_state_selection();
        }
    }
}

impl SpanningTree for Stp {
    fn protocol(&self) -> Protocol {
        Protocol::Stp
    }

    fn set_bridge_config(&mut self, config: &BridgeConfig) {
        self.set_bridge_id(config.bridge_id());
        self.requested_hello_ms = millis(config.hello_time);
        self.requested_max_age_ms = millis(config.max_age);
        self.requested_forward_delay_ms = millis(config.forward_delay);
        self.update_bridge_timers();
    }

    /// A port number outside 1..=255 cannot be encoded in an STP port ID; such a port is
    /// left out of the tree (`port_state` says `Disabled`, `receive` says `PortNotInTree`).
    fn add_port(&mut self, config: &PortConfig) {
        if !(1..=MAX_PORT_NUMBER).contains(&config.number) {
            return;
        }
        // STP carries the cost in 16 bits in spirit (OVS's uint16_t); 0 would make loops free.
        let path_cost = config.path_cost.clamp(1, u32::from(u16::MAX));
        if let Some(i) = self.index(config.number) {
            self.ports[i].mac = config.mac;
            self.set_port_priority(i, config.priority);
            self.set_port_path_cost(i, path_cost);
            return;
        }
        let at = self.ports.partition_point(|p| p.number < config.number);
        self.ports.insert(
            at,
            Port {
                number: config.number,
                mac: config.mac,
                port_id: (u16::from(config.priority) << 8) | config.number,
                state: PortState::Disabled,
                path_cost,
                designated_root: self.designated_root,
                designated_cost: self.root_path_cost,
                designated_bridge: self.bridge_id,
                designated_port: 0,
                topology_change_ack: false,
                config_pending: false,
                message_age_timer: Timer::default(),
                forward_delay_timer: Timer::default(),
                hold_timer: Timer::default(),
                counters: BpduCounters::default(),
            },
        );
        // OVS's stp_port_enable: a designated port in blocking, then state selection.
        self.become_designated_port(at);
        self.set_port_state(at, PortState::Blocking);
        self.port_state_selection();
    }

    fn remove_port(&mut self, number: PortNo) {
        let Some(i) = self.index(number) else {
            return;
        };
        // OVS's stp_port_disable; the port then leaves the table instead of staying disabled.
        let was_root = self.is_root();
        self.become_designated_port(i);
        self.set_port_state(i, PortState::Disabled);
        let p = &mut self.ports[i];
        p.topology_change_ack = false;
        p.config_pending = false;
        p.message_age_timer.stop();
        p.forward_delay_timer.stop();
        self.configuration_update();
        self.port_state_selection();
        if !was_root && self.is_root() {
            self.become_root_bridge();
        }
        self.ports.remove(i);
        self.transmits.retain(|t| t.port != number);
    }

    fn receive(&mut self, port: PortNo, frame: &[u8]) -> Result<(), BpduError> {
        let i = self.index(port).ok_or(BpduError::PortNotInTree)?;
        let bpdu = match Bpdu::parse(frame) {
            Ok(bpdu) => bpdu,
            Err(e) => {
                self.ports[i].counters.errors += 1;
                return Err(e);
            }
        };
        match bpdu {
            Bpdu::Config(config) => {
                self.ports[i].counters.rx += 1;
                let looped_back =
                    config.bridge == self.bridge_id && config.port_id == self.ports[i].port_id;
                if !looped_back {
                    self.received_config_bpdu(i, &config);
                }
            }
            Bpdu::Tcn => {
                self.ports[i].counters.rx += 1;
                self.received_tcn_bpdu(i);
            }
            // lib/stp.c knows only types 0 and 0x80 and counts anything else as an error; a
            // rapid peer falls back to STP when it hears our config BPDUs.
            Bpdu::Rst(_) => {
                self.ports[i].counters.errors += 1;
                return Err(BpduError::UnknownType(0x02));
            }
        }
        Ok(())
    }

    fn tick(&mut self, elapsed: Duration) {
        let nanos = elapsed.as_nanos().min(MAX_REPLAY.as_nanos()) + self.leftover_nanos;
        self.leftover_nanos = nanos % TICK_NANOS;
        // At most MAX_REPLAY worth of ticks, so this fits.
        let mut ticks = u32::try_from(nanos / TICK_NANOS).unwrap_or(u32::MAX);
        while ticks > 0 {
            let step = ticks.min(SECOND);
            self.advance(step);
            ticks -= step;
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn port_state(&self, port: PortNo) -> PortState {
        self.index(port)
            .map_or(PortState::Disabled, |i| self.ports[i].state)
    }

    fn status(&self) -> Status {
        Status {
            protocol: Protocol::Stp,
            bridge_id: self.bridge_id,
            bridge_times: self.bridge_times.times(),
            root_id: self.designated_root,
            root_times: self.times.times(),
            root_port: self.root_port,
            root_path_cost: self.root_path_cost,
            ports: (0..self.ports.len())
                .map(|i| {
                    let p = &self.ports[i];
                    PortStatus {
                        number: p.number,
                        priority: (p.port_id >> 8) as u8,
                        role: self.role(i),
                        state: p.state,
                        path_cost: p.path_cost,
                        counters: p.counters,
                    }
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(number: PortNo) -> PortConfig {
        PortConfig {
            number,
            priority: 128,
            path_cost: 2,
            mac: [2, 0, 0, 0, 0, number as u8],
        }
    }

    #[test]
    fn milliseconds_below_a_timer_tick_are_kept_for_later() {
        let mut stp = Stp::new(&BridgeConfig {
            hello_time: Duration::from_secs(1),
            ..BridgeConfig::default()
        });
        stp.add_port(&port(1));
        for _ in 0..999 {
            stp.tick(Duration::from_millis(1));
        }
        assert_eq!(stp.poll_transmit(), None);
        stp.tick(Duration::from_millis(1));
        assert_eq!(stp.poll_transmit().map(|t| t.port), Some(1));
    }

    #[test]
    fn a_new_port_reports_blocking_then_listening() {
        let mut stp = Stp::new(&BridgeConfig::default());
        stp.add_port(&port(3));
        let events: Vec<Event> = std::iter::from_fn(|| stp.poll_event()).collect();
        assert_eq!(
            events,
            vec![
                Event::PortState {
                    port: 3,
                    state: PortState::Blocking
                },
                Event::PortState {
                    port: 3,
                    state: PortState::Listening
                },
            ]
        );
        // Listening to learning starts address learning: ofproto-dpif flushes.
        stp.tick(Duration::from_secs(15));
        let events: Vec<Event> = std::iter::from_fn(|| stp.poll_event()).collect();
        assert_eq!(
            events,
            vec![
                Event::PortState {
                    port: 3,
                    state: PortState::Learning
                },
                Event::FlushAll,
            ]
        );
    }

    #[test]
    fn path_cost_and_port_id_follow_stp_ranges() {
        let mut stp = Stp::new(&BridgeConfig::default());
        stp.add_port(&PortConfig {
            path_cost: 0,
            ..port(1)
        });
        stp.add_port(&PortConfig {
            path_cost: 20_000_000,
            priority: 16,
            ..port(2)
        });
        let status = stp.status();
        assert_eq!(status.ports[0].path_cost, 1);
        assert_eq!(status.ports[1].path_cost, 65_535);
        assert_eq!(status.ports[1].priority, 16);
        assert_eq!(stp.ports[1].port_id, 0x1002);
        // Updating a port keeps it and applies the new settings.
        stp.add_port(&PortConfig {
            path_cost: 4,
            priority: 32,
            ..port(2)
        });
        assert_eq!(stp.ports.len(), 2);
        assert_eq!(stp.ports[1].port_id, 0x2002);
        assert_eq!(stp.ports[1].path_cost, 4);
    }

    #[test]
    fn removing_a_port_drops_its_queued_bpdus() {
        let mut stp = Stp::new(&BridgeConfig::default());
        stp.add_port(&port(1));
        stp.add_port(&port(2));
        stp.tick(Duration::from_secs(2));
        stp.remove_port(1);
        assert!(std::iter::from_fn(|| stp.poll_transmit()).all(|t| t.port == 2));
        assert_eq!(stp.port_state(1), PortState::Disabled);
        assert_eq!(stp.status().ports.len(), 1);
    }
}
