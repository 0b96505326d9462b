//! UDP headers (RFC 768), for printing what a frame carries. grebe never checks or writes
//! the checksum: it covers a pseudo-header of the inner IP packet, which a bridge has no
//! business verifying.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Source port          |       Destination port        |
//! |            Length             |           Checksum            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use crate::HeaderError;
use crate::bytes::{read_u16, write_u16};

/// Ports, length, checksum.
pub const HEADER_LEN: usize = 8;

pub(crate) mod field {
    use core::ops::Range;

    pub(crate) const SRC_PORT: Range<usize> = 0..2;
    pub(crate) const DST_PORT: Range<usize> = 2..4;
    pub(crate) const LENGTH: Range<usize> = 4..6;
    pub(crate) const CHECKSUM: Range<usize> = 6..8;
}

/// A view of a UDP datagram.
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

    /// `Err(Truncated)` if the buffer cannot hold the 8-byte header; `Err(BadUdpLength)` if the
    /// length field is below 8 or beyond the buffer (so that [`Packet::payload`] is in bounds).
    #[inline]
    pub fn check_len(&self) -> Result<(), HeaderError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(HeaderError::Truncated);
        }
        let length = usize::from(self.len());
        if length < HEADER_LEN || length > len {
            return Err(HeaderError::BadUdpLength);
        }
        Ok(())
    }

    /// The wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// Length field: header plus payload.
    #[inline]
    #[allow(clippy::len_without_is_empty)] // the wire field's name, not a container's size
    pub fn len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Checksum field (0: none).
    #[inline]
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The payload, up to the length field (anything after is padding).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the source port.
    #[inline]
    pub fn set_src_port(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::SRC_PORT, value);
    }

    /// Sets the destination port.
    #[inline]
    pub fn set_dst_port(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::DST_PORT, value);
    }

    /// Sets the length field.
    #[inline]
    pub fn set_len(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::LENGTH, value);
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // 53 -> 33000, 10 bytes in all, checksum 0xabcd, payload "hi", then 2 bytes of padding.
    const DATAGRAM: [u8; 12] = [0, 53, 0x80, 0xe8, 0, 10, 0xab, 0xcd, b'h', b'i', 0, 0];

    #[test]
    fn read_fields() {
        let p = Packet::new_checked(&DATAGRAM[..]).unwrap();
        assert_eq!(p.src_port(), 53);
        assert_eq!(p.dst_port(), 33000);
        assert_eq!(p.len(), 10);
        assert_eq!(p.checksum(), 0xabcd);
        assert_eq!(p.payload(), b"hi");
    }

    #[test]
    fn build_fields() {
        let mut buf = [0u8; 12];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_src_port(53);
        p.set_dst_port(33000);
        p.set_len(10);
        p.set_checksum(0xabcd);
        buf[8..10].copy_from_slice(b"hi");
        assert_eq!(buf, DATAGRAM);
    }

    #[test]
    fn rejections() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&DATAGRAM[..len]),
                Err(HeaderError::Truncated)
            );
        }
        // The length field says 10: a 9-byte buffer is short of it.
        assert_eq!(
            Packet::new_checked(&DATAGRAM[..9]),
            Err(HeaderError::BadUdpLength)
        );
        let mut bad = DATAGRAM;
        bad[5] = 7;
        assert_eq!(
            Packet::new_checked(&bad[..]),
            Err(HeaderError::BadUdpLength)
        );
    }

    proptest! {
        #[test]
        fn no_getter_panics_after_check_len(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                let _ = (p.src_port(), p.dst_port(), p.len(), p.checksum(), p.payload());
            }
        }
    }
}
