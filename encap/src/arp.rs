//! ARP (RFC 826) for Ethernet and IPv4, the only kind a GRE bridge of IPv4 hosts carries.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Hardware type (1)      |     Protocol type (0x0800)    |
//! |  HW len (6)   | Proto len (4) |           Operation           |
//! |                Sender hardware address (6 bytes) ...          |
//! |          ...                  |  Sender protocol address ...  |
//! |          ...                  |  Target hardware address ...  |
//! |                               ...                             |
//! |                Target protocol address (4 bytes)              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The view lays the addresses out for 6-byte hardware and 4-byte protocol addresses whatever
//! the length fields say (so that `check_len` is one comparison); [`ArpRepr::parse`] rejects a
//! packet whose types or lengths are not Ethernet/IPv4.

use std::net::Ipv4Addr;

use crate::HeaderError;
use crate::bytes::{read_u16, write_u16};
use crate::ethernet::EthernetAddress;

/// The whole packet for Ethernet/IPv4.
pub const PACKET_LEN: usize = 28;
/// Hardware type Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;
/// Protocol type IPv4 (the EtherType).
pub const PTYPE_IPV4: u16 = 0x0800;

pub(crate) mod field {
    use core::ops::Range;

    pub(crate) const HTYPE: Range<usize> = 0..2;
    pub(crate) const PTYPE: Range<usize> = 2..4;
    pub(crate) const HLEN: usize = 4;
    pub(crate) const PLEN: usize = 5;
    pub(crate) const OPER: Range<usize> = 6..8;
    pub(crate) const SHA: Range<usize> = 8..14;
    pub(crate) const SPA: Range<usize> = 14..18;
    pub(crate) const THA: Range<usize> = 18..24;
    pub(crate) const TPA: Range<usize> = 24..28;
}

/// The operation field; unknown values round-trip through `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// 1.
    Request,
    /// 2.
    Reply,
    /// Any other value (RARP's 3 and 4, InARP's 8 and 9, ...).
    Unknown(u16),
}

impl From<u16> for Operation {
    #[inline]
    fn from(value: u16) -> Self {
        match value {
            1 => Operation::Request,
            2 => Operation::Reply,
            other => Operation::Unknown(other),
        }
    }
}

impl From<Operation> for u16 {
    #[inline]
    fn from(value: Operation) -> Self {
        match value {
            Operation::Request => 1,
            Operation::Reply => 2,
            Operation::Unknown(other) => other,
        }
    }
}

fn read_ipv4(data: &[u8], at: core::ops::Range<usize>) -> Ipv4Addr {
    let b = &data[at];
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

fn read_mac(data: &[u8], at: core::ops::Range<usize>) -> EthernetAddress {
    let b = &data[at];
    EthernetAddress([b[0], b[1], b[2], b[3], b[4], b[5]])
}

/// A view of an ARP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it; call [`Packet::check_len`] before any getter.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after [`Packet::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Packet<T>, HeaderError> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// `Err(Truncated)` if the buffer cannot hold the 28 bytes of an Ethernet/IPv4 packet.
    /// Bytes after them (Ethernet padding) are allowed.
    #[inline]
    pub fn check_len(&self) -> Result<(), HeaderError> {
        if self.buffer.as_ref().len() < PACKET_LEN {
            Err(HeaderError::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Hardware type (1 for Ethernet).
    #[inline]
    pub fn hardware_type(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::HTYPE)
    }

    /// Protocol type (0x0800 for IPv4).
    #[inline]
    pub fn protocol_type(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::PTYPE)
    }

    /// Hardware address length in bytes.
    #[inline]
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length in bytes.
    #[inline]
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Request, reply or other.
    #[inline]
    pub fn operation(&self) -> Operation {
        Operation::from(read_u16(self.buffer.as_ref(), field::OPER))
    }

    /// Sender hardware address.
    #[inline]
    pub fn sender_hardware_addr(&self) -> EthernetAddress {
        read_mac(self.buffer.as_ref(), field::SHA)
    }

    /// Sender protocol address.
    #[inline]
    pub fn sender_protocol_addr(&self) -> Ipv4Addr {
        read_ipv4(self.buffer.as_ref(), field::SPA)
    }

    /// Target hardware address (zero in a request).
    #[inline]
    pub fn target_hardware_addr(&self) -> EthernetAddress {
        read_mac(self.buffer.as_ref(), field::THA)
    }

    /// Target protocol address.
    #[inline]
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        read_ipv4(self.buffer.as_ref(), field::TPA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the hardware type.
    #[inline]
    pub fn set_hardware_type(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::HTYPE, value);
    }

    /// Sets the protocol type.
    #[inline]
    pub fn set_protocol_type(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::PTYPE, value);
    }

    /// Sets the hardware address length.
    #[inline]
    pub fn set_hardware_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::HLEN] = value;
    }

    /// Sets the protocol address length.
    #[inline]
    pub fn set_protocol_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::PLEN] = value;
    }

    /// Sets the operation.
    #[inline]
    pub fn set_operation(&mut self, value: Operation) {
        write_u16(self.buffer.as_mut(), field::OPER, value.into());
    }

    /// Sets the sender hardware address.
    #[inline]
    pub fn set_sender_hardware_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&addr.0);
    }

    /// Sets the sender protocol address.
    #[inline]
    pub fn set_sender_protocol_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&addr.octets());
    }

    /// Sets the target hardware address.
    #[inline]
    pub fn set_target_hardware_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&addr.0);
    }

    /// Sets the target protocol address.
    #[inline]
    pub fn set_target_protocol_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&addr.octets());
    }
}

/// The meaning of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    pub operation: Operation,
    pub sender_hardware_addr: EthernetAddress,
    pub sender_protocol_addr: Ipv4Addr,
    pub target_hardware_addr: EthernetAddress,
    pub target_protocol_addr: Ipv4Addr,
}

impl ArpRepr {
    /// Reads an Ethernet/IPv4 ARP packet. Never panics. Rejects other hardware or protocol
    /// types and lengths (their addresses would not sit where the view reads them); accepts any
    /// operation, since RARP and InARP use the same layout.
    #[inline]
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<ArpRepr, HeaderError> {
        packet.check_len()?;
        if packet.hardware_type() != HTYPE_ETHERNET
            || packet.protocol_type() != PTYPE_IPV4
            || packet.hardware_len() != 6
            || packet.protocol_len() != 4
        {
            return Err(HeaderError::ArpNotEthernetIpv4);
        }
        Ok(ArpRepr {
            operation: packet.operation(),
            sender_hardware_addr: packet.sender_hardware_addr(),
            sender_protocol_addr: packet.sender_protocol_addr(),
            target_hardware_addr: packet.target_hardware_addr(),
            target_protocol_addr: packet.target_protocol_addr(),
        })
    }

    /// The bytes `emit` writes.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Writes every field into the first 28 bytes of `packet`.
    ///
    /// # Panics
    ///
    /// If the buffer is shorter than 28 bytes.
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        packet.set_hardware_type(HTYPE_ETHERNET);
        packet.set_protocol_type(PTYPE_IPV4);
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(self.operation);
        packet.set_sender_hardware_addr(self.sender_hardware_addr);
        packet.set_sender_protocol_addr(self.sender_protocol_addr);
        packet.set_target_hardware_addr(self.target_hardware_addr);
        packet.set_target_protocol_addr(self.target_protocol_addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // 02:00:00:00:00:01 (198.51.100.1) asks who has 198.51.100.2.
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 198,
        51, 100, 1, 0, 0, 0, 0, 0, 0, 198, 51, 100, 2,
    ];

    fn request() -> ArpRepr {
        ArpRepr {
            operation: Operation::Request,
            sender_hardware_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
            sender_protocol_addr: Ipv4Addr::new(198, 51, 100, 1),
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: Ipv4Addr::new(198, 51, 100, 2),
        }
    }

    #[test]
    fn read_fields() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.hardware_type(), 1);
        assert_eq!(p.protocol_type(), 0x0800);
        assert_eq!(p.hardware_len(), 6);
        assert_eq!(p.protocol_len(), 4);
        assert_eq!(p.operation(), Operation::Request);
        assert_eq!(
            p.sender_hardware_addr(),
            EthernetAddress([2, 0, 0, 0, 0, 1])
        );
        assert_eq!(p.sender_protocol_addr(), Ipv4Addr::new(198, 51, 100, 1));
        assert_eq!(p.target_hardware_addr(), EthernetAddress([0; 6]));
        assert_eq!(p.target_protocol_addr(), Ipv4Addr::new(198, 51, 100, 2));
    }

    #[test]
    fn build_fields() {
        let mut buf = [0xffu8; 28];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_hardware_type(1);
        p.set_protocol_type(0x0800);
        p.set_hardware_len(6);
        p.set_protocol_len(4);
        p.set_operation(Operation::Request);
        p.set_sender_hardware_addr(EthernetAddress([2, 0, 0, 0, 0, 1]));
        p.set_sender_protocol_addr(Ipv4Addr::new(198, 51, 100, 1));
        p.set_target_hardware_addr(EthernetAddress([0; 6]));
        p.set_target_protocol_addr(Ipv4Addr::new(198, 51, 100, 2));
        assert_eq!(buf, REQUEST);
    }

    #[test]
    fn parse_emit_round_trip() {
        let repr = ArpRepr::parse(&Packet::new_unchecked(&REQUEST[..])).unwrap();
        assert_eq!(repr, request());
        let mut buf = [0xffu8; 28];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, REQUEST);
        assert_eq!(repr.buffer_len(), PACKET_LEN);
        // An unknown operation survives the round trip.
        let rarp = ArpRepr {
            operation: Operation::Unknown(3),
            ..repr
        };
        rarp.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(ArpRepr::parse(&Packet::new_unchecked(&buf[..])), Ok(rarp));
        for v in [1u16, 2, 3, 0xffff] {
            assert_eq!(u16::from(Operation::from(v)), v);
        }
    }

    #[test]
    fn rejections() {
        for len in 0..PACKET_LEN {
            assert_eq!(
                Packet::new_checked(&REQUEST[..len]),
                Err(HeaderError::Truncated)
            );
            assert_eq!(
                ArpRepr::parse(&Packet::new_unchecked(&REQUEST[..len])),
                Err(HeaderError::Truncated)
            );
        }
        // Hardware type, protocol type, each length.
        for (at, value) in [(1, 6), (2, 0x86), (4, 16), (5, 16)] {
            let mut bad = REQUEST;
            bad[at] = value;
            assert_eq!(
                ArpRepr::parse(&Packet::new_unchecked(&bad[..])),
                Err(HeaderError::ArpNotEthernetIpv4),
                "byte {at}"
            );
        }
        // Padding after the packet is fine.
        let mut padded = [0u8; 46];
        padded[..28].copy_from_slice(&REQUEST);
        assert_eq!(
            ArpRepr::parse(&Packet::new_unchecked(&padded[..])),
            Ok(request())
        );
    }

    proptest! {
        #[test]
        fn no_getter_panics_after_check_len(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                let _ = (p.hardware_type(), p.protocol_type(), p.hardware_len(), p.protocol_len());
                let _ = (p.operation(), p.sender_hardware_addr(), p.sender_protocol_addr());
                let _ = (p.target_hardware_addr(), p.target_protocol_addr());
            }
            let _ = ArpRepr::parse(&Packet::new_unchecked(&bytes[..]));
        }
    }
}
