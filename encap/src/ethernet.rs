//! Ethernet II frames: the inner frame a GRE tunnel carries (and what the TAP side reads).

use core::fmt;
use core::str::FromStr;

use crate::Error;
use crate::bytes::read_u16;
use crate::bytes::write_u16;

/// A 48-bit MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);

    /// Reads an address from the first six bytes of `bytes`, if there are six.
    #[inline]
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        match *bytes {
            [a, b, c, d, e, f, ..] => Some(EthernetAddress([a, b, c, d, e, f])),
            _ => None,
        }
    }

    /// The six bytes, first on the wire first.
    #[inline]
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// ff:ff:ff:ff:ff:ff.
    #[inline]
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// The I/G bit (lowest bit of the first byte) is set: a group address, broadcast included.
    #[inline]
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// Not a group address.
    #[inline]
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// 00:00:00:00:00:00, which no station may use as a source.
    #[inline]
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }

    /// The U/L bit is set: locally administered (as generated TAP addresses are).
    #[inline]
    pub const fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A MAC address string that is not six colon-separated pairs of hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address: expected six colon-separated hex pairs like 02:00:00:00:00:01")]
pub struct ParseMacError;

impl FromStr for EthernetAddress {
    type Err = ParseMacError;

    /// Parses `aa:bb:cc:dd:ee:ff` (either case; exactly two hex digits per byte).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let part = parts.next().ok_or(ParseMacError)?;
            // from_str_radix alone would accept "+f" or a single digit.
            if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ParseMacError);
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| ParseMacError)?;
        }
        if parts.next().is_some() {
            return Err(ParseMacError);
        }
        Ok(EthernetAddress(out))
    }
}

/// The EtherType field (or GRE protocol type, which uses the same numbers). Unknown values
/// round-trip through `Unknown`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum EtherType {
    /// 0x0800.
    Ipv4,
    /// 0x0806.
    Arp,
    /// 0x86dd.
    Ipv6,
    /// 0x8100, an IEEE 802.1Q tag.
    Vlan,
    /// 0x6558, transparent Ethernet bridging: an Ethernet frame inside GRE.
    TransparentEthernetBridging,
    /// Any other value.
    Unknown(u16),
}

impl From<u16> for EtherType {
    #[inline]
    fn from(value: u16) -> Self {
        match value {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x86dd => EtherType::Ipv6,
            0x8100 => EtherType::Vlan,
            0x6558 => EtherType::TransparentEthernetBridging,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    #[inline]
    fn from(value: EtherType) -> Self {
        match value {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Ipv6 => 0x86dd,
            EtherType::Vlan => 0x8100,
            EtherType::TransparentEthernetBridging => 0x6558,
            EtherType::Unknown(other) => other,
        }
    }
}

impl EtherType {
    /// A short name for printing: "IPv4", "ARP", "802.1Q", ..., "other" for the rest.
    pub const fn name(&self) -> &'static str {
        match self {
            EtherType::Ipv4 => "IPv4",
            EtherType::Arp => "ARP",
            EtherType::Ipv6 => "IPv6",
            EtherType::Vlan => "802.1Q",
            EtherType::TransparentEthernetBridging => "Ethernet in GRE",
            // The service tag of Q-in-Q has no variant of its own: the datapath does not
            // treat it apart.
            EtherType::Unknown(0x88a8) => "802.1ad",
            EtherType::Unknown(_) => "other",
        }
    }
}

/// Destination, source, EtherType.
pub const HEADER_LEN: usize = 14;
/// Header plus one 802.1Q tag.
pub const VLAN_HEADER_LEN: usize = 18;

pub(crate) mod field {
    use core::ops::{Range, RangeFrom};

    pub(crate) const DESTINATION: Range<usize> = 0..6;
    pub(crate) const SOURCE: Range<usize> = 6..12;
    pub(crate) const ETHERTYPE: Range<usize> = 12..14;
    pub(crate) const PAYLOAD: RangeFrom<usize> = 14..;
    /// The 802.1Q tag control information, when ETHERTYPE is 0x8100.
    pub(crate) const VLAN_TCI: Range<usize> = 14..16;
}

/// A view of an Ethernet II frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps a buffer without checking it; call [`Frame::check_len`] before any getter.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// Wraps a buffer after [`Frame::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Frame<T>, Error> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// `Err(Truncated)` if the buffer cannot hold the 14-byte header.
    #[inline]
    pub fn check_len(&self) -> Result<(), Error> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> EthernetAddress {
        let d = &self.buffer.as_ref()[field::DESTINATION];
        EthernetAddress([d[0], d[1], d[2], d[3], d[4], d[5]])
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> EthernetAddress {
        let d = &self.buffer.as_ref()[field::SOURCE];
        EthernetAddress([d[0], d[1], d[2], d[3], d[4], d[5]])
    }

    /// The EtherType (of the tag, 0x8100, for a tagged frame).
    #[inline]
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(read_u16(self.buffer.as_ref(), field::ETHERTYPE))
    }

    /// The 802.1Q VLAN ID when the frame is tagged and the tag is all there, else `None`.
    /// Never panics after `check_len`, even on a tagged frame cut short.
    #[inline]
    pub fn vlan_id(&self) -> Option<u16> {
        if self.ethertype() != EtherType::Vlan {
            return None;
        }
        let tci = self.buffer.as_ref().get(field::VLAN_TCI)?;
        // The low 12 bits of the tag control information; the top 4 are PCP and DEI.
        Some(u16::from_be_bytes([tci[0], tci[1]]) & 0x0fff)
    }

    /// Header plus payload length: the whole buffer.
    #[inline]
    pub fn len(&self) -> usize {
        self.buffer.as_ref().len()
    }

    /// Never true after `check_len`; here for clippy's `len_without_is_empty`.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buffer.as_ref().is_empty()
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Frame<&'a T> {
    /// Everything after the 14-byte header (an 802.1Q tag, if any, included).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&addr.0);
    }

    /// Sets the source address.
    #[inline]
    pub fn set_src_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&addr.0);
    }

    /// Sets the EtherType.
    #[inline]
    pub fn set_ethertype(&mut self, ethertype: EtherType) {
        write_u16(self.buffer.as_mut(), field::ETHERTYPE, ethertype.into());
    }

    /// The payload, for writing.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Frame<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // dst 02:00:00:00:00:02, src 02:00:00:00:00:01, ARP, 4 payload bytes.
    const FRAME: [u8; 18] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0xaa,
        0xbb, 0xcc, 0xdd,
    ];

    #[test]
    fn read_fields() {
        let f = Frame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(f.dst_addr(), EthernetAddress([2, 0, 0, 0, 0, 2]));
        assert_eq!(f.src_addr(), EthernetAddress([2, 0, 0, 0, 0, 1]));
        assert_eq!(f.ethertype(), EtherType::Arp);
        assert_eq!(f.vlan_id(), None);
        assert_eq!(f.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(f.len(), 18);
    }

    #[test]
    fn build_fields() {
        let mut buf = [0u8; 18];
        let mut f = Frame::new_unchecked(&mut buf[..]);
        f.set_dst_addr(EthernetAddress([2, 0, 0, 0, 0, 2]));
        f.set_src_addr(EthernetAddress([2, 0, 0, 0, 0, 1]));
        f.set_ethertype(EtherType::Arp);
        f.payload_mut().copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(buf, FRAME);
    }

    #[test]
    fn vlan_tag() {
        let mut buf = FRAME;
        buf[12..14].copy_from_slice(&[0x81, 0x00]);
        // PCP 5, DEI 1, VID 0xabc: the flag bits must not leak into the VID.
        buf[14..16].copy_from_slice(&[0xba, 0xbc]);
        let f = Frame::new_checked(&buf[..]).unwrap();
        assert_eq!(f.ethertype(), EtherType::Vlan);
        assert_eq!(f.vlan_id(), Some(0xabc));
        // A tagged frame cut inside the tag has no VID, and does not panic.
        for len in 14..16 {
            assert_eq!(Frame::new_checked(&buf[..len]).unwrap().vlan_id(), None);
        }
    }

    #[test]
    fn truncated() {
        for len in 0..HEADER_LEN {
            assert_eq!(Frame::new_checked(&FRAME[..len]), Err(Error::Truncated));
        }
        assert!(
            Frame::new_checked(&FRAME[..HEADER_LEN])
                .unwrap()
                .payload()
                .is_empty()
        );
    }

    #[test]
    fn address_classes() {
        let b = EthernetAddress::BROADCAST;
        assert!(b.is_broadcast() && b.is_multicast() && !b.is_unicast() && !b.is_zero());
        let m = EthernetAddress([0x01, 0x00, 0x5e, 0, 0, 1]);
        assert!(m.is_multicast() && !m.is_broadcast() && !m.is_unicast());
        let u = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
        assert!(u.is_unicast() && u.is_local() && !u.is_multicast());
        assert!(EthernetAddress::default().is_zero());
        assert!(EthernetAddress::default().is_unicast());
    }

    #[test]
    fn display_and_parse() {
        let a = EthernetAddress([0x02, 0xab, 0x00, 0x0c, 0xff, 0x01]);
        assert_eq!(a.to_string(), "02:ab:00:0c:ff:01");
        assert_eq!(format!("{a:?}"), "02:ab:00:0c:ff:01");
        assert_eq!("02:ab:00:0c:ff:01".parse(), Ok(a));
        assert_eq!("02:AB:00:0C:FF:01".parse(), Ok(a));
        for bad in [
            "",
            "02:ab:00:0c:ff",
            "02:ab:00:0c:ff:01:02",
            "02:ab:00:0c:ff:1",
            "02:ab:00:0c:ff:+1",
            "02-ab-00-0c-ff-01",
            "02:ab:00:0c:ff:0g",
            "02:ab:00:0c:ff:01:",
        ] {
            assert_eq!(bad.parse::<EthernetAddress>(), Err(ParseMacError), "{bad}");
        }
        assert_eq!(
            EthernetAddress::from_bytes(&FRAME),
            Some(EthernetAddress([2, 0, 0, 0, 0, 2]))
        );
        assert_eq!(EthernetAddress::from_bytes(&FRAME[..5]), None);
    }

    #[test]
    fn ethertype_round_trip() {
        for v in [0x0800u16, 0x0806, 0x86dd, 0x8100, 0x6558, 0x88cc, 0, 0xffff] {
            assert_eq!(u16::from(EtherType::from(v)), v);
        }
        assert_eq!(
            EtherType::from(0x6558),
            EtherType::TransparentEthernetBridging
        );
        assert_eq!(EtherType::from(0x88cc), EtherType::Unknown(0x88cc));
        assert_eq!(EtherType::Ipv4.name(), "IPv4");
        assert_eq!(EtherType::from(0x88a8).name(), "802.1ad");
        assert_eq!(EtherType::from(0x88cc).name(), "other");
    }
}
