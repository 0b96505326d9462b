//! BPDUs on the wire (802.1D-2004 clause 9): an 802.3 frame to 01:80:c2:00:00:00 whose length
//! field counts the LLC header (DSAP 0x42, SSAP 0x42, UI) and the BPDU after it.
//!
//! ```text
//!  0      6      12     14  15  16  17       19       20     21   22            30         34            42      44     46     48     50     51
//!  | dst  | src  | len  |42 |42 |03 | proto 0 | version| type | flags | root ID | root cost | bridge ID | port ID | msg age | max age | hello | fwd delay | v1 len (RST) |
//! ```
//!
//! A topology change notification stops after `type`. Times are in 1/256 s, as 802.1D says.
//! Parsing never panics and never allocates; each rejection is its own [`BpduError`].

use crate::{BridgeId, PortRole};
use thiserror::Error;

/// 01:80:c2:00:00:00, the bridge group address both protocols send to.
pub const GROUP_ADDRESS: [u8; 6] = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x00];

const LLC: [u8; 3] = [0x42, 0x42, 0x03];
const ETH_LEN: usize = 14;
const LLC_END: usize = ETH_LEN + 3;
const TCN_LEN: usize = 4;
const CONFIG_LEN: usize = 35;
const RST_LEN: usize = 36;

/// Protocol version identifiers (802.1D-2004 9.3.2, 9.3.3).
pub const VERSION_STP: u8 = 0;
pub const VERSION_RSTP: u8 = 2;

const TYPE_CONFIG: u8 = 0x00;
const TYPE_RST: u8 = 0x02;
const TYPE_TCN: u8 = 0x80;

/// Flag bits of configuration and RST BPDUs.
pub mod flags {
    pub const TOPOLOGY_CHANGE: u8 = 0x01;
    pub const PROPOSAL: u8 = 0x02;
    /// Two bits: 0 unknown, 1 alternate or backup, 2 root, 3 designated.
    pub const ROLE_MASK: u8 = 0x0c;
    pub const ROLE_SHIFT: u8 = 2;
    pub const LEARNING: u8 = 0x10;
    pub const FORWARDING: u8 = 0x20;
    pub const AGREEMENT: u8 = 0x40;
    pub const TOPOLOGY_CHANGE_ACK: u8 = 0x80;
}

/// Why a frame is not a BPDU grebe accepts. Each becomes a counted error, never a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BpduError {
    #[error("frame too short for a BPDU")]
    Truncated,
    #[error("not addressed to the bridge group address 01:80:c2:00:00:00")]
    NotGroupAddress,
    #[error("not an 802.2 LLC frame with SAPs 0x42 (length field or LLC header wrong)")]
    NotLlc,
    #[error("protocol identifier {0:#06x} is not 0 (spanning tree)")]
    UnknownProtocol(u16),
    #[error("unknown BPDU type {0:#04x}")]
    UnknownType(u8),
    #[error("timer values out of range (message age ≥ max age, or a zero timer)")]
    BadTimers,
    #[error("BPDU received on a port that does not run spanning tree")]
    PortNotInTree,
}

/// The fields of a configuration or RST BPDU. Times are in 1/256 s units, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigBpdu {
    pub flags: u8,
    pub root: BridgeId,
    pub root_path_cost: u32,
    pub bridge: BridgeId,
    pub port_id: u16,
    pub message_age: u16,
    pub max_age: u16,
    pub hello_time: u16,
    pub forward_delay: u16,
}

impl ConfigBpdu {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// The port role an RST BPDU announces (`None`: "unknown", 0).
    pub fn role(&self) -> Option<PortRole> {
        match (self.flags & flags::ROLE_MASK) >> flags::ROLE_SHIFT {
            1 => Some(PortRole::Alternate),
            2 => Some(PortRole::Root),
            3 => Some(PortRole::Designated),
            _ => None,
        }
    }

    /// Encodes a role into the flag bits (alternate and backup share one code).
    pub fn role_flags(role: PortRole) -> u8 {
        let code = match role {
            PortRole::Alternate | PortRole::Backup => 1,
            PortRole::Root => 2,
            PortRole::Designated => 3,
            PortRole::Disabled => 0,
        };
        code << flags::ROLE_SHIFT
    }
}

/// A BPDU, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bpdu {
    /// 802.1D configuration BPDU (version 0, type 0).
    Config(ConfigBpdu),
    /// Topology change notification (type 0x80).
    Tcn,
    /// Rapid spanning tree BPDU (version ≥ 2, type 2).
    Rst(ConfigBpdu),
}

impl Bpdu {
    /// Decodes a whole Ethernet frame. Accepts longer frames (padding) and, as 802.1D-2004 9.3.4
    /// says, versions above the ones it knows.
    pub fn parse(frame: &[u8]) -> Result<Bpdu, BpduError> {
        if frame.len() < LLC_END + TCN_LEN {
            return Err(BpduError::Truncated);
        }
        if frame[..6] != GROUP_ADDRESS {
            return Err(BpduError::NotGroupAddress);
        }
        let length = usize::from(u16::from_be_bytes([frame[12], frame[13]]));
        // An 802.3 length, not an EtherType; the frame may carry padding beyond it.
        if !(3 + TCN_LEN..=1500).contains(&length) || frame[ETH_LEN..LLC_END] != LLC {
            return Err(BpduError::NotLlc);
        }
        let end = (ETH_LEN + length).min(frame.len());
        let bpdu = &frame[LLC_END..end];
        let protocol = u16::from_be_bytes([bpdu[0], bpdu[1]]);
        if protocol != 0 {
            return Err(BpduError::UnknownProtocol(protocol));
        }
        let (version, kind) = (bpdu[2], bpdu[3]);
        match kind {
            TYPE_TCN => Ok(Bpdu::Tcn),
            TYPE_CONFIG if bpdu.len() >= CONFIG_LEN => Ok(Bpdu::Config(Self::fields(bpdu)?)),
            TYPE_RST if version >= VERSION_RSTP && bpdu.len() >= RST_LEN => {
                Ok(Bpdu::Rst(Self::fields(bpdu)?))
            }
            TYPE_CONFIG | TYPE_RST => Err(BpduError::Truncated),
            other => Err(BpduError::UnknownType(other)),
        }
    }

    fn fields(b: &[u8]) -> Result<ConfigBpdu, BpduError> {
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let u64_at = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            u64::from_be_bytes(w)
        };
        let config = ConfigBpdu {
            flags: b[4],
            root: BridgeId(u64_at(5)),
            root_path_cost: u32::from_be_bytes([b[13], b[14], b[15], b[16]]),
            bridge: BridgeId(u64_at(17)),
            port_id: u16_at(25),
            message_age: u16_at(27),
            max_age: u16_at(29),
            hello_time: u16_at(31),
            forward_delay: u16_at(33),
        };
        // 802.1D-2004 9.3.4 discards a BPDU whose message age is not below its max age; a zero
        // hello or forward delay would make the receiver's timers spin.
        if config.message_age >= config.max_age
            || config.hello_time == 0
            || config.forward_delay == 0
        {
            return Err(BpduError::BadTimers);
        }
        Ok(config)
    }

    /// Builds the Ethernet frame for this BPDU, sent from `src`.
    pub fn emit(&self, src: [u8; 6]) -> BpduFrame {
        let mut frame = BpduFrame {
            bytes: [0; BpduFrame::CAPACITY],
            len: 0,
        };
        let (version, kind, body_len) = match self {
            Bpdu::Config(_) => (VERSION_STP, TYPE_CONFIG, CONFIG_LEN),
            Bpdu::Tcn => (VERSION_STP, TYPE_TCN, TCN_LEN),
            Bpdu::Rst(_) => (VERSION_RSTP, TYPE_RST, RST_LEN),
        };
        let b = &mut frame.bytes;
        b[..6].copy_from_slice(&GROUP_ADDRESS);
        b[6..12].copy_from_slice(&src);
        b[12..14].copy_from_slice(&((3 + body_len) as u16).to_be_bytes());
        b[ETH_LEN..LLC_END].copy_from_slice(&LLC);
        let body = &mut b[LLC_END..LLC_END + body_len];
        body[2] = version;
        body[3] = kind;
        if let Bpdu::Config(c) | Bpdu::Rst(c) = self {
            body[4] = c.flags;
            body[5..13].copy_from_slice(&c.root.0.to_be_bytes());
            body[13..17].copy_from_slice(&c.root_path_cost.to_be_bytes());
            body[17..25].copy_from_slice(&c.bridge.0.to_be_bytes());
            body[25..27].copy_from_slice(&c.port_id.to_be_bytes());
            body[27..29].copy_from_slice(&c.message_age.to_be_bytes());
            body[29..31].copy_from_slice(&c.max_age.to_be_bytes());
            body[31..33].copy_from_slice(&c.hello_time.to_be_bytes());
            body[33..35].copy_from_slice(&c.forward_delay.to_be_bytes());
            // RST: version 1 length, 0 (byte 35, already zero).
        }
        frame.len = LLC_END + body_len;
        frame
    }
}

/// A BPDU frame in a fixed buffer: no allocation to send one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BpduFrame {
    bytes: [u8; BpduFrame::CAPACITY],
    len: usize,
}

impl BpduFrame {
    const CAPACITY: usize = LLC_END + RST_LEN;
}

impl std::ops::Deref for BpduFrame {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl std::fmt::Debug for BpduFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BpduFrame({:02x?})", &self.bytes[..self.len])
    }
}

/// Seconds (or a [`Duration`](std::time::Duration)) to 802.1D's 1/256 s timer units.
pub fn to_ticks(d: std::time::Duration) -> u16 {
    (d.as_millis() * 256 / 1000).min(u128::from(u16::MAX)) as u16
}

/// 802.1D's 1/256 s timer units to a [`Duration`](std::time::Duration).
pub fn from_ticks(ticks: u16) -> std::time::Duration {
    std::time::Duration::from_millis(u64::from(ticks) * 1000 / 256)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ConfigBpdu {
        ConfigBpdu {
            flags: flags::TOPOLOGY_CHANGE,
            root: BridgeId::new(32768, [0, 0, 0, 0, 0, 1]),
            root_path_cost: 2,
            bridge: BridgeId::new(32768, [0, 0, 0, 0, 0, 2]),
            port_id: 0x8001,
            message_age: 256,
            max_age: 20 * 256,
            hello_time: 2 * 256,
            forward_delay: 15 * 256,
        }
    }

    #[test]
    fn config_bpdu_layout_matches_802_1d() {
        let frame = Bpdu::Config(config()).emit([2, 0, 0, 0, 0, 9]);
        assert_eq!(frame.len(), 52);
        assert_eq!(&frame[12..17], &[0, 38, 0x42, 0x42, 0x03]);
        assert_eq!(&frame[17..21], &[0, 0, 0, 0]);
        assert_eq!(frame[21], flags::TOPOLOGY_CHANGE);
        assert_eq!(&frame[22..30], &[0x80, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&frame[30..34], &[0, 0, 0, 2]);
        assert_eq!(&frame[42..44], &[0x80, 0x01]);
        assert_eq!(&frame[44..46], &[1, 0]);
    }

    #[test]
    fn every_kind_round_trips() {
        for bpdu in [Bpdu::Config(config()), Bpdu::Tcn, Bpdu::Rst(config())] {
            let frame = bpdu.emit([2, 0, 0, 0, 0, 9]);
            assert_eq!(Bpdu::parse(&frame), Ok(bpdu));
        }
    }

    #[test]
    fn padding_is_accepted() {
        let frame = Bpdu::Tcn.emit([2, 0, 0, 0, 0, 9]);
        let mut padded = frame.to_vec();
        padded.resize(60, 0);
        assert_eq!(Bpdu::parse(&padded), Ok(Bpdu::Tcn));
    }

    #[test]
    fn each_rejection_has_its_reason() {
        let good = Bpdu::Config(config()).emit([2, 0, 0, 0, 0, 9]).to_vec();
        let with = |i: usize, v: u8| {
            let mut f = good.clone();
            f[i] = v;
            f
        };
        assert_eq!(Bpdu::parse(&good[..20]), Err(BpduError::Truncated));
        assert_eq!(Bpdu::parse(&good[..40]), Err(BpduError::Truncated));
        assert_eq!(Bpdu::parse(&with(5, 1)), Err(BpduError::NotGroupAddress));
        assert_eq!(Bpdu::parse(&with(14, 0xaa)), Err(BpduError::NotLlc));
        assert_eq!(Bpdu::parse(&with(12, 0x08)), Err(BpduError::NotLlc));
        assert_eq!(
            Bpdu::parse(&with(18, 1)),
            Err(BpduError::UnknownProtocol(1))
        );
        assert_eq!(
            Bpdu::parse(&with(20, 0x33)),
            Err(BpduError::UnknownType(0x33))
        );
        // Message age 0x1500 ≥ max age 0x1400.
        assert_eq!(Bpdu::parse(&with(44, 0x15)), Err(BpduError::BadTimers));
        // RST type with version 0 is not an RST BPDU, and too short for a config BPDU.
        let rst = Bpdu::Rst(config()).emit([2; 6]).to_vec();
        let mut v0 = rst.clone();
        v0[19] = 0;
        assert_eq!(Bpdu::parse(&v0), Err(BpduError::Truncated));
    }

    #[test]
    fn timer_units() {
        assert_eq!(to_ticks(std::time::Duration::from_secs(2)), 512);
        assert_eq!(from_ticks(512), std::time::Duration::from_secs(2));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..80)) {
            let _ = Bpdu::parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_group_frames(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..60)) {
            let mut frame = GROUP_ADDRESS.to_vec();
            frame.extend_from_slice(&tail);
            let _ = Bpdu::parse(&frame);
        }
    }
}
