//! Spanning tree for grebe's bridges.
//!
//! The classic bare-metal GRE setup meshes every host with every other one, so the overlay has
//! loops; a broadcast would circle them for ever. A spanning tree protocol blocks just enough
//! tunnels to leave one path between any two bridges, and reopens one when a link fails. grebe
//! speaks both protocols Open vSwitch offers, so it can share one tree with OVS bridges:
//!
//! - [`classic::Stp`]: IEEE 802.1D-1998 STP, as `lib/stp.c` runs it (`stp_enable=true`).
//! - [`rapid::Rstp`]: IEEE 802.1w RSTP, as `lib/rstp*.c` runs it (`rstp_enable=true`).
//!
//! # No IO, no clock
//!
//! Like `learning`, this crate never reads a clock or touches a socket. The datapath hands in each
//! received BPDU ([`SpanningTree::receive`]) and the time that passed ([`SpanningTree::tick`]),
//! then drains what the protocol wants done: BPDUs to send ([`SpanningTree::poll_transmit`]) and
//! port-state changes and table flushes ([`SpanningTree::poll_event`]). Tests wire several
//! bridges together in memory and advance time without sleeping.

#![forbid(unsafe_code)]

use std::fmt;
use std::time::Duration;

pub mod bpdu;
pub mod classic;
pub mod rapid;

pub use bpdu::{Bpdu, BpduError, BpduFrame};

/// An 802.1D port number: 1..=255 for STP, 1..=4095 for RSTP. The port identifier on the wire is
/// the port priority followed by this number.
pub type PortNo = u16;

/// A bridge identifier: the priority in the top 16 bits, the system ID (a MAC address) below.
/// Lower wins the root election.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BridgeId(pub u64);

impl BridgeId {
    pub fn new(priority: u16, system_id: [u8; 6]) -> BridgeId {
        let mut bytes = [0u8; 8];
        bytes[..2].copy_from_slice(&priority.to_be_bytes());
        bytes[2..].copy_from_slice(&system_id);
        BridgeId(u64::from_be_bytes(bytes))
    }

    pub fn priority(self) -> u16 {
        (self.0 >> 48) as u16
    }

    pub fn system_id(self) -> [u8; 6] {
        let b = self.0.to_be_bytes();
        [b[2], b[3], b[4], b[5], b[6], b[7]]
    }
}

/// OVS's `STP_ID_FMT`: `8000.0000000000aa`.
impl fmt::Display for BridgeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}.{:012x}",
            self.priority(),
            self.0 & 0xffff_ffff_ffff
        )
    }
}

/// Which protocol a bridge runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Stp,
    Rstp,
}

/// Bridge-wide settings, from `other_config:stp-*` (or `rstp-*`). Both protocols clamp the timers
/// the way OVS does (802.1D's ranges, with `2 × (forward_delay − 1 s) ≥ max_age ≥ 2 × (hello + 1 s)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeConfig {
    /// Bridge priority, 32768 by default. RSTP uses only multiples of 4096.
    pub priority: u16,
    /// The lower 48 bits of the bridge identifier, normally the bridge's own MAC address.
    pub system_id: [u8; 6],
    pub hello_time: Duration,
    pub max_age: Duration,
    pub forward_delay: Duration,
}

impl Default for BridgeConfig {
    fn default() -> BridgeConfig {
        BridgeConfig {
            priority: 32768,
            system_id: [0; 6],
            hello_time: Duration::from_secs(2),
            max_age: Duration::from_secs(20),
            forward_delay: Duration::from_secs(15),
        }
    }
}

impl BridgeConfig {
    pub fn bridge_id(&self) -> BridgeId {
        BridgeId::new(self.priority, self.system_id)
    }
}

/// One port's settings, from the port's `other_config:stp-*` (or `rstp-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortConfig {
    pub number: PortNo,
    /// Port priority, 128 by default (RSTP: multiples of 16).
    pub priority: u8,
    /// STP: 1..=65535 (OVS gives a tunnel 2, the cost of its default 10 Gbit/s); RSTP: 1..=200000000
    /// (OVS gives a tunnel 2000).
    pub path_cost: u32,
    /// Source address of the BPDUs this port sends.
    pub mac: [u8; 6],
}

/// A port's state. STP uses the first five; RSTP folds disabled, blocking and listening into
/// `Discarding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortState {
    Disabled,
    Blocking,
    Listening,
    Learning,
    Forwarding,
    Discarding,
}

impl PortState {
    /// Data frames may enter and leave the port.
    pub fn forwards(self) -> bool {
        self == PortState::Forwarding
    }

    /// Source addresses of frames received on the port may be learned.
    pub fn learns(self) -> bool {
        matches!(self, PortState::Learning | PortState::Forwarding)
    }

    /// OVS's `stp_state_name`.
    pub fn name(self) -> &'static str {
        match self {
            PortState::Disabled => "disabled",
            PortState::Blocking => "blocking",
            PortState::Listening => "listening",
            PortState::Learning => "learning",
            PortState::Forwarding => "forwarding",
            PortState::Discarding => "discarding",
        }
    }
}

/// A port's role in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortRole {
    /// The port on the best path towards the root bridge.
    Root,
    /// The port through which this bridge serves the segment beyond it.
    Designated,
    /// Another path to the root, blocked.
    Alternate,
    /// A second port of this bridge on a segment it already serves, blocked (RSTP only).
    Backup,
    Disabled,
}

impl PortRole {
    /// OVS's `stp_role_name`.
    pub fn name(self) -> &'static str {
        match self {
            PortRole::Root => "root",
            PortRole::Designated => "designated",
            PortRole::Alternate => "alternate",
            PortRole::Backup => "backup",
            PortRole::Disabled => "disabled",
        }
    }
}

/// Work for the datapath besides sending BPDUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The port moved to `state`: from now on forward and learn only as the state allows.
    PortState { port: PortNo, state: PortState },
    /// Forget every learned address (a topology change, or a port started or stopped learning,
    /// as OVS does).
    FlushAll,
    /// Forget the addresses learned on one port (RSTP's flush on a port that stopped forwarding).
    FlushPort(PortNo),
}

/// A BPDU to send, as a whole Ethernet frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    pub port: PortNo,
    pub frame: BpduFrame,
}

/// The three timers a root bridge announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    pub hello_time: Duration,
    pub max_age: Duration,
    pub forward_delay: Duration,
}

/// BPDUs through one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BpduCounters {
    pub tx: u64,
    pub rx: u64,
    /// Received but rejected: malformed, or not acceptable on this port.
    pub errors: u64,
}

/// One port as `stp/show` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortStatus {
    pub number: PortNo,
    pub priority: u8,
    pub role: PortRole,
    pub state: PortState,
    pub path_cost: u32,
    pub counters: BpduCounters,
}

/// A bridge's view of the tree, as `stp/show` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub protocol: Protocol,
    pub bridge_id: BridgeId,
    /// Timers this bridge would announce as root.
    pub bridge_times: Times,
    pub root_id: BridgeId,
    /// Timers in use, as announced by the root.
    pub root_times: Times,
    /// `None` when this bridge is the root.
    pub root_port: Option<PortNo>,
    pub root_path_cost: u32,
    /// Ports in ascending number order.
    pub ports: Vec<PortStatus>,
}

impl Status {
    pub fn is_root(&self) -> bool {
        self.root_port.is_none()
    }
}

/// A spanning tree protocol instance for one bridge. Both [`classic::Stp`] and [`rapid::Rstp`]
/// implement it, so the datapath drives either the same way.
pub trait SpanningTree: Send {
    fn protocol(&self) -> Protocol;

    /// Changes the bridge's settings; takes effect at once (a new ID may start an election).
    fn set_bridge_config(&mut self, config: &BridgeConfig);

    /// Adds a port, up and participating, or updates the settings of the port with that number.
    fn add_port(&mut self, config: &PortConfig);

    /// Removes a port (deleted, or its link went down): the tree reconverges without it.
    fn remove_port(&mut self, port: PortNo);

    /// Handles a frame received on `port` and addressed to 01:80:c2:00:00:00. A malformed BPDU
    /// is counted against the port and changes nothing.
    fn receive(&mut self, port: PortNo, frame: &[u8]) -> Result<(), BpduError>;

    /// Advances the protocol's timers by `elapsed`. Call at least once a second.
    fn tick(&mut self, elapsed: Duration);

    /// The next BPDU to send, if any.
    fn poll_transmit(&mut self) -> Option<Transmit>;

    /// The next state change or flush for the datapath to apply, if any.
    fn poll_event(&mut self) -> Option<Event>;

    /// The port's state; `Disabled` for a port the protocol does not know.
    fn port_state(&self, port: PortNo) -> PortState;

    fn status(&self) -> Status;
}
