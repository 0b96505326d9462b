//! TCP headers (RFC 9293), for printing what a frame carries: the fixed 20 bytes, with the
//! options skipped by the data offset. grebe never checks the checksum (it covers the inner
//! IP packet's pseudo-header; a bridge forwards segments as they are).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Source port          |       Destination port        |
//! |                        Sequence number                        |
//! |                     Acknowledgment number                     |
//! |  Offset | Rsvd|      Flags      |            Window           |
//! |           Checksum            |        Urgent pointer         |
//! |                    Options (offset > 5) ...                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The flags are the low 9 bits of the offset word (NS, CWR, ECE, URG, ACK, PSH, RST, SYN,
//! FIN); RFC 9293 gives bit 7 of byte 12 (NS) back to the reserved bits, which this view keeps
//! in the flags so that every bit is shown somewhere.

use crate::HeaderError;
use crate::bytes::{read_u16, read_u32, write_u16, write_u32};

/// The header without options.
pub const HEADER_LEN: usize = 20;

/// Flag bits, in the low 9 bits of the offset word.
pub const FLAG_FIN: u16 = 0x001;
pub const FLAG_SYN: u16 = 0x002;
pub const FLAG_RST: u16 = 0x004;
pub const FLAG_PSH: u16 = 0x008;
pub const FLAG_ACK: u16 = 0x010;
pub const FLAG_URG: u16 = 0x020;
pub const FLAG_ECE: u16 = 0x040;
pub const FLAG_CWR: u16 = 0x080;
pub const FLAG_NS: u16 = 0x100;
const FLAGS_MASK: u16 = 0x01ff;
/// The three bits between the data offset and NS.
const RESERVED_MASK: u16 = 0x0e00;

/// Flag names, most significant first, as tcpdump spells them.
pub const FLAG_NAMES: [(u16, &str); 9] = [
    (FLAG_NS, "NS"),
    (FLAG_CWR, "CWR"),
    (FLAG_ECE, "ECE"),
    (FLAG_URG, "URG"),
    (FLAG_ACK, "ACK"),
    (FLAG_PSH, "PSH"),
    (FLAG_RST, "RST"),
    (FLAG_SYN, "SYN"),
    (FLAG_FIN, "FIN"),
];

pub(crate) mod field {
    use core::ops::Range;

    pub(crate) const SRC_PORT: Range<usize> = 0..2;
    pub(crate) const DST_PORT: Range<usize> = 2..4;
    pub(crate) const SEQ_NUM: Range<usize> = 4..8;
    pub(crate) const ACK_NUM: Range<usize> = 8..12;
    pub(crate) const OFFSET_FLAGS: Range<usize> = 12..14;
    pub(crate) const WINDOW: Range<usize> = 14..16;
    pub(crate) const CHECKSUM: Range<usize> = 16..18;
    pub(crate) const URGENT: Range<usize> = 18..20;
}

/// A view of a TCP segment.
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

    /// `Err(Truncated)` if the buffer cannot hold the 20 fixed bytes or the options the data
    /// offset claims; `Err(BadTcpDataOffset)` if the offset is below 5 words.
    #[inline]
    pub fn check_len(&self) -> Result<(), HeaderError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(HeaderError::Truncated);
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(HeaderError::BadTcpDataOffset);
        }
        if header_len > len {
            return Err(HeaderError::Truncated);
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

    /// Sequence number.
    #[inline]
    pub fn seq_number(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::SEQ_NUM)
    }

    /// Acknowledgment number.
    #[inline]
    pub fn ack_number(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::ACK_NUM)
    }

    /// The data offset field, in 32-bit words.
    #[inline]
    pub fn data_offset(&self) -> u8 {
        (read_u16(self.buffer.as_ref(), field::OFFSET_FLAGS) >> 12) as u8
    }

    /// The header length in bytes, options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.data_offset()) * 4
    }

    /// The three reserved bits after the data offset.
    #[inline]
    pub fn reserved(&self) -> u8 {
        ((read_u16(self.buffer.as_ref(), field::OFFSET_FLAGS) & RESERVED_MASK) >> 9) as u8
    }

    /// The nine flag bits (`FLAG_*`).
    #[inline]
    pub fn flags(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::OFFSET_FLAGS) & FLAGS_MASK
    }

    /// Receive window.
    #[inline]
    pub fn window(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::WINDOW)
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Urgent pointer.
    #[inline]
    pub fn urgent(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::URGENT)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The options, between the fixed 20 bytes and the data offset.
    #[inline]
    pub fn options(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// Everything after the header.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_len()..]
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

    /// Sets the sequence number.
    #[inline]
    pub fn set_seq_number(&mut self, value: u32) {
        write_u32(self.buffer.as_mut(), field::SEQ_NUM, value);
    }

    /// Sets the acknowledgment number.
    #[inline]
    pub fn set_ack_number(&mut self, value: u32) {
        write_u32(self.buffer.as_mut(), field::ACK_NUM, value);
    }

    /// Sets the header length in bytes (a multiple of 4, 20 to 60), keeping the flags.
    #[inline]
    pub fn set_header_len(&mut self, len: u8) {
        let word = read_u16(self.buffer.as_ref(), field::OFFSET_FLAGS) & 0x0fff
            | (u16::from(len / 4) << 12);
        write_u16(self.buffer.as_mut(), field::OFFSET_FLAGS, word);
    }

    /// Sets the nine flag bits, keeping the data offset and reserved bits.
    #[inline]
    pub fn set_flags(&mut self, flags: u16) {
        let word = read_u16(self.buffer.as_ref(), field::OFFSET_FLAGS) & !FLAGS_MASK
            | (flags & FLAGS_MASK);
        write_u16(self.buffer.as_mut(), field::OFFSET_FLAGS, word);
    }

    /// Sets the window.
    #[inline]
    pub fn set_window(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::WINDOW, value);
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the urgent pointer.
    #[inline]
    pub fn set_urgent(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::URGENT, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // 40000 -> 80, seq 1, ack 2, offset 6 (one option word), SYN ACK, window 0xfaf0,
    // checksum 0x1234, urgent 0, option MSS 1460, then one payload byte.
    const SEGMENT: [u8; 25] = [
        0x9c, 0x40, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 2, 0x60, 0x12, 0xfa, 0xf0, 0x12, 0x34, 0, 0,
        0x02, 0x04, 0x05, 0xb4, 0xaa,
    ];

    #[test]
    fn read_fields() {
        let p = Packet::new_checked(&SEGMENT[..]).unwrap();
        assert_eq!(p.src_port(), 40000);
        assert_eq!(p.dst_port(), 80);
        assert_eq!(p.seq_number(), 1);
        assert_eq!(p.ack_number(), 2);
        assert_eq!(p.data_offset(), 6);
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.reserved(), 0);
        assert_eq!(p.flags(), FLAG_SYN | FLAG_ACK);
        assert_eq!(p.window(), 0xfaf0);
        assert_eq!(p.checksum(), 0x1234);
        assert_eq!(p.urgent(), 0);
        assert_eq!(p.options(), &[0x02, 0x04, 0x05, 0xb4]);
        assert_eq!(p.payload(), &[0xaa]);
    }

    #[test]
    fn build_fields() {
        let mut buf = [0u8; 25];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_src_port(40000);
        p.set_dst_port(80);
        p.set_seq_number(1);
        p.set_ack_number(2);
        p.set_flags(FLAG_SYN | FLAG_ACK);
        p.set_header_len(24);
        p.set_window(0xfaf0);
        p.set_checksum(0x1234);
        p.set_urgent(0);
        buf[20..].copy_from_slice(&SEGMENT[20..]);
        assert_eq!(buf, SEGMENT);
    }

    #[test]
    fn rejections() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&SEGMENT[..len]),
                Err(HeaderError::Truncated)
            );
        }
        // The offset claims an option word the buffer does not have.
        assert_eq!(
            Packet::new_checked(&SEGMENT[..23]),
            Err(HeaderError::Truncated)
        );
        let mut bad = SEGMENT;
        bad[12] = 0x40;
        assert_eq!(
            Packet::new_checked(&bad[..]),
            Err(HeaderError::BadTcpDataOffset)
        );
    }

    proptest! {
        #[test]
        fn no_getter_panics_after_check_len(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                let _ = (p.src_port(), p.dst_port(), p.seq_number(), p.ack_number());
                let _ = (p.data_offset(), p.reserved(), p.flags(), p.window());
                let _ = (p.checksum(), p.urgent(), p.options(), p.payload());
            }
        }
    }
}
