//! ICMP for IPv4 (RFC 792): the 8-byte header, with the echo identifier and sequence number
//! and the next-hop MTU of "fragmentation needed" (RFC 1191) as views of its second word.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |     Code      |           Checksum            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Identifier (echo)         |     Sequence number (echo)    |
//! |     Unused (frag. needed)     |     Next-hop MTU (frag. needed)|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Data (echo) / original IPv4 header + 8 bytes (errors) ...
//! ```
//!
//! The checksum covers the whole message, header and data.

use crate::HeaderError;
use crate::bytes::{read_u16, read_u32, write_u16, write_u32};
use crate::checksum;

/// Type, code, checksum and the second word.
pub const HEADER_LEN: usize = 8;

/// Message types grebe names.
pub const TYPE_ECHO_REPLY: u8 = 0;
pub const TYPE_DEST_UNREACHABLE: u8 = 3;
pub const TYPE_ECHO_REQUEST: u8 = 8;
pub const TYPE_TIME_EXCEEDED: u8 = 11;
/// Destination unreachable code 4: fragmentation needed and DF set.
pub const CODE_FRAG_NEEDED: u8 = 4;

/// A short name for a message type, or `None` for the ones grebe does not name.
pub fn type_name(msg_type: u8) -> Option<&'static str> {
    match msg_type {
        TYPE_ECHO_REPLY => Some("echo reply"),
        TYPE_DEST_UNREACHABLE => Some("destination unreachable"),
        TYPE_ECHO_REQUEST => Some("echo request"),
        TYPE_TIME_EXCEEDED => Some("time exceeded"),
        _ => None,
    }
}

pub(crate) mod field {
    use core::ops::{Range, RangeFrom};

    pub(crate) const TYPE: usize = 0;
    pub(crate) const CODE: usize = 1;
    pub(crate) const CHECKSUM: Range<usize> = 2..4;
    /// The second word as a whole (its meaning depends on the type).
    pub(crate) const REST: Range<usize> = 4..8;
    pub(crate) const ECHO_IDENT: Range<usize> = 4..6;
    pub(crate) const ECHO_SEQ: Range<usize> = 6..8;
    pub(crate) const UNUSED: Range<usize> = 4..6;
    pub(crate) const NEXT_HOP_MTU: Range<usize> = 6..8;
    pub(crate) const DATA: RangeFrom<usize> = 8..;
}

/// A view of an ICMPv4 message.
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

    /// `Err(Truncated)` if the buffer cannot hold the 8-byte header.
    #[inline]
    pub fn check_len(&self) -> Result<(), HeaderError> {
        if self.buffer.as_ref().len() < HEADER_LEN {
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

    /// Message type.
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// Code (the subtype).
    #[inline]
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The second word, whatever the type makes of it.
    #[inline]
    pub fn rest_of_header(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::REST)
    }

    /// Echo identifier (meaningful for echo request and reply).
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// Echo sequence number (meaningful for echo request and reply).
    #[inline]
    pub fn echo_seq_no(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_SEQ)
    }

    /// The unused half-word before the next-hop MTU (zero when sent).
    #[inline]
    pub fn unused(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::UNUSED)
    }

    /// Next-hop MTU (meaningful for "fragmentation needed").
    #[inline]
    pub fn next_hop_mtu(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::NEXT_HOP_MTU)
    }

    /// Does the checksum over the whole buffer come out right?
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::data(self.buffer.as_ref()) == 0
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// Everything after the 8-byte header.
    #[inline]
    pub fn data(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::DATA]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the message type.
    #[inline]
    pub fn set_msg_type(&mut self, value: u8) {
        self.buffer.as_mut()[field::TYPE] = value;
    }

    /// Sets the code.
    #[inline]
    pub fn set_code(&mut self, value: u8) {
        self.buffer.as_mut()[field::CODE] = value;
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the second word as a whole.
    #[inline]
    pub fn set_rest_of_header(&mut self, value: u32) {
        write_u32(self.buffer.as_mut(), field::REST, value);
    }

    /// Sets the echo identifier.
    #[inline]
    pub fn set_echo_ident(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_IDENT, value);
    }

    /// Sets the echo sequence number.
    #[inline]
    pub fn set_echo_seq_no(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_SEQ, value);
    }

    /// Sets the unused half-word.
    #[inline]
    pub fn set_unused(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::UNUSED, value);
    }

    /// Sets the next-hop MTU.
    #[inline]
    pub fn set_next_hop_mtu(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::NEXT_HOP_MTU, value);
    }

    /// Computes the checksum over the whole buffer and writes it.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::data(self.buffer.as_ref());
        self.set_checksum(sum);
    }

    /// Everything after the header, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA]
    }
}

/// The meaning of an ICMPv4 header. The data (echo payload, or the original datagram an error
/// quotes) stays in the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv4Repr {
    /// Type 8.
    EchoRequest { ident: u16, seq_no: u16 },
    /// Type 0.
    EchoReply { ident: u16, seq_no: u16 },
    /// Type 3 code 4: the datagram did not fit `next_hop_mtu` and had DF set.
    FragNeeded { next_hop_mtu: u16 },
    /// Any other type and code, with the second word as it is.
    Other { msg_type: u8, code: u8, rest: u32 },
}

impl Icmpv4Repr {
    /// Reads a message whose checksum is right. Never panics. Echo messages with a code other
    /// than 0 are kept as `Other` so that emitting the repr gives back the same bytes.
    #[inline]
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Icmpv4Repr, HeaderError> {
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(HeaderError::BadIcmpChecksum);
        }
        Ok(match (packet.msg_type(), packet.code()) {
            (TYPE_ECHO_REQUEST, 0) => Icmpv4Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
            },
            (TYPE_ECHO_REPLY, 0) => Icmpv4Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
            },
            (TYPE_DEST_UNREACHABLE, CODE_FRAG_NEEDED) if packet.unused() == 0 => {
                Icmpv4Repr::FragNeeded {
                    next_hop_mtu: packet.next_hop_mtu(),
                }
            }
            (msg_type, code) => Icmpv4Repr::Other {
                msg_type,
                code,
                rest: packet.rest_of_header(),
            },
        })
    }

    /// The header `emit` writes (the data is the caller's).
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into the first 8 bytes of `packet`, then the checksum over the whole
    /// buffer: put the data in place first.
    ///
    /// # Panics
    ///
    /// If the buffer is shorter than 8 bytes.
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        match *self {
            Icmpv4Repr::EchoRequest { ident, seq_no } | Icmpv4Repr::EchoReply { ident, seq_no } => {
                let msg_type = if matches!(self, Icmpv4Repr::EchoRequest { .. }) {
                    TYPE_ECHO_REQUEST
                } else {
                    TYPE_ECHO_REPLY
                };
                packet.set_msg_type(msg_type);
                packet.set_code(0);
                packet.set_echo_ident(ident);
                packet.set_echo_seq_no(seq_no);
            }
            Icmpv4Repr::FragNeeded { next_hop_mtu } => {
                packet.set_msg_type(TYPE_DEST_UNREACHABLE);
                packet.set_code(CODE_FRAG_NEEDED);
                packet.set_unused(0);
                packet.set_next_hop_mtu(next_hop_mtu);
            }
            Icmpv4Repr::Other {
                msg_type,
                code,
                rest,
            } => {
                packet.set_msg_type(msg_type);
                packet.set_code(code);
                packet.set_rest_of_header(rest);
            }
        }
        packet.fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Echo request, id 0x1234, seq 1, data "abcd"; checksum computed by hand:
    // 0x0800 + 0x1234 + 0x0001 + 0x6162 + 0x6364 = 0xdefb, complement 0x2104.
    const ECHO: [u8; 12] = [
        0x08, 0x00, 0x21, 0x04, 0x12, 0x34, 0x00, 0x01, b'a', b'b', b'c', b'd',
    ];

    #[test]
    fn read_fields() {
        let p = Packet::new_checked(&ECHO[..]).unwrap();
        assert_eq!(p.msg_type(), TYPE_ECHO_REQUEST);
        assert_eq!(p.code(), 0);
        assert_eq!(p.checksum(), 0x2104);
        assert_eq!(p.echo_ident(), 0x1234);
        assert_eq!(p.echo_seq_no(), 1);
        assert_eq!(p.rest_of_header(), 0x1234_0001);
        assert_eq!(p.data(), b"abcd");
        assert!(p.verify_checksum());
    }

    #[test]
    fn build_fields() {
        let mut buf = [0u8; 12];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_msg_type(TYPE_ECHO_REQUEST);
        p.set_code(0);
        p.set_echo_ident(0x1234);
        p.set_echo_seq_no(1);
        p.data_mut().copy_from_slice(b"abcd");
        p.fill_checksum();
        assert_eq!(buf, ECHO);
    }

    #[test]
    fn frag_needed_fields() {
        let mut buf = [0u8; 8 + 28];
        let repr = Icmpv4Repr::FragNeeded { next_hop_mtu: 1476 };
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!((p.msg_type(), p.code()), (3, 4));
        assert_eq!(p.unused(), 0);
        assert_eq!(p.next_hop_mtu(), 1476);
        assert!(p.verify_checksum());
        assert_eq!(Icmpv4Repr::parse(&p), Ok(repr));
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_unused(7);
        p.fill_checksum();
        // A non-zero unused half-word is not RFC 1191's layout: kept whole, so it round-trips.
        assert!(matches!(
            Icmpv4Repr::parse(&Packet::new_unchecked(&buf[..])),
            Ok(Icmpv4Repr::Other {
                msg_type: 3,
                code: 4,
                rest: 0x0007_05c4
            })
        ));
    }

    #[test]
    fn parse_emit_round_trip() {
        let repr = Icmpv4Repr::parse(&Packet::new_unchecked(&ECHO[..])).unwrap();
        assert_eq!(
            repr,
            Icmpv4Repr::EchoRequest {
                ident: 0x1234,
                seq_no: 1
            }
        );
        let mut buf = ECHO;
        buf[..8].fill(0xff);
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, ECHO);
        assert_eq!(repr.buffer_len(), HEADER_LEN);
        for repr in [
            Icmpv4Repr::EchoReply {
                ident: 9,
                seq_no: 65535,
            },
            Icmpv4Repr::Other {
                msg_type: 11,
                code: 0,
                rest: 0,
            },
            Icmpv4Repr::Other {
                msg_type: 8,
                code: 1,
                rest: 0xdead_beef,
            },
        ] {
            let mut buf = [0u8; 16];
            repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
            assert_eq!(
                Icmpv4Repr::parse(&Packet::new_unchecked(&buf[..])),
                Ok(repr)
            );
        }
    }

    #[test]
    fn rejections() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&ECHO[..len]),
                Err(HeaderError::Truncated)
            );
            assert_eq!(
                Icmpv4Repr::parse(&Packet::new_unchecked(&ECHO[..len])),
                Err(HeaderError::Truncated)
            );
        }
        let mut bad = ECHO;
        bad[11] ^= 1;
        assert_eq!(
            Icmpv4Repr::parse(&Packet::new_unchecked(&bad[..])),
            Err(HeaderError::BadIcmpChecksum)
        );
        assert_eq!(type_name(8), Some("echo request"));
        assert_eq!(type_name(42), None);
    }

    proptest! {
        #[test]
        fn no_getter_panics_after_check_len(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                let _ = (p.msg_type(), p.code(), p.checksum(), p.rest_of_header());
                let _ = (p.echo_ident(), p.echo_seq_no(), p.unused(), p.next_hop_mtu());
                let _ = (p.verify_checksum(), p.data());
            }
            let _ = Icmpv4Repr::parse(&Packet::new_unchecked(&bytes[..]));
        }
    }
}
