//! The OpenFlow switch side that grebe serves on a bridge's management socket, in versions 1.3
//! (OpenFlow Switch Specification 1.3.5, the goal) and 1.0 (what `ovs-ofctl` speaks unless told
//! `-O`): messages cut from the byte stream by their header's length ([`Framer`]), requests
//! decoded ([`Request`]), replies encoded for the agreed version ([`Reply`]). Sans-IO: the
//! daemon moves the bytes. A peer offering neither version gets HELLO_FAILED.

#![forbid(unsafe_code)]

mod flow;
mod framing;
mod message;
mod reply;

pub use flow::{
    FlowCommand, FlowMod, FlowModError, OFPTT_ALL, decode_flow_mod, decode_flow_stats_request,
};
pub use framing::{Framer, MAX_MESSAGE};
pub use message::{Header, MultipartKind, Request, decode, negotiate};
pub use reply::{
    FlowStats, OFPP_ANY, OFPP_LOCAL, OFPP_NORMAL, PortDesc, PortReason, PortStats, Reply,
    SwitchDesc, TableStats,
};

/// The wire versions grebe speaks.
pub const VERSION_1_0: u8 = 0x01;
pub const VERSION_1_3: u8 = 0x04;
/// Them, as a HELLO version bitmap.
pub const SUPPORTED: u32 = (1 << VERSION_1_0) | (1 << VERSION_1_3);

/// Message types (1.3 spec §A.1; where 1.0 numbers one differently, `_1_0`).
pub mod msg {
    pub const STATS_REQUEST_1_0: u8 = 16;
    pub const STATS_REPLY_1_0: u8 = 17;
    pub const BARRIER_REQUEST_1_0: u8 = 18;
    pub const BARRIER_REPLY_1_0: u8 = 19;
    pub const HELLO: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const ECHO_REQUEST: u8 = 2;
    pub const ECHO_REPLY: u8 = 3;
    pub const EXPERIMENTER: u8 = 4;
    pub const FEATURES_REQUEST: u8 = 5;
    pub const FEATURES_REPLY: u8 = 6;
    pub const GET_CONFIG_REQUEST: u8 = 7;
    pub const GET_CONFIG_REPLY: u8 = 8;
    pub const SET_CONFIG: u8 = 9;
    pub const PORT_STATUS: u8 = 12;
    pub const FLOW_MOD: u8 = 14;
    pub const MULTIPART_REQUEST: u8 = 18;
    pub const MULTIPART_REPLY: u8 = 19;
    pub const BARRIER_REQUEST: u8 = 20;
    pub const BARRIER_REPLY: u8 = 21;
    pub const ROLE_REQUEST: u8 = 24;
    pub const ROLE_REPLY: u8 = 25;
}

/// Error types and codes (spec §A.4.4) grebe sends.
pub mod error {
    pub const HELLO_FAILED: u16 = 0;
    pub const HELLO_INCOMPATIBLE: u16 = 0;
    pub const BAD_REQUEST: u16 = 1;
    pub const BAD_VERSION: u16 = 0;
    pub const BAD_TYPE: u16 = 1;
    pub const BAD_MULTIPART: u16 = 2;
    pub const BAD_EXPERIMENTER: u16 = 3;
    pub const BAD_LEN: u16 = 6;
}

/// Why bytes from a peer are not a message grebe can take; each is answered with an OpenFlow
/// error and counted, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("message length {0} is shorter than the 8-byte header")]
    ShortHeader(u16),
    #[error("message length {0} is over the {MAX_MESSAGE}-byte limit")]
    TooLong(usize),
    #[error("OpenFlow version {0:#04x} is not the one the handshake agreed on")]
    BadVersion(u8),
    #[error("{what} body of {got} bytes, expected {want}")]
    BadLength {
        what: &'static str,
        got: usize,
        want: usize,
    },
}
