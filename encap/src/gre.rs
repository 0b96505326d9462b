//! Generic Routing Encapsulation, RFC 2784 with the key and sequence number extensions of
//! RFC 2890.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |C|R|K|S|s|Recur|  Reserved0  | Ver |         Protocol Type         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      Checksum (optional)      |       Reserved1 (optional)      |  if C
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Key (optional)                          |  if K
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                   Sequence Number (optional)                    |  if S
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! R (routing), s (strict source route) and Recur are RFC 1701's; RFC 2784 folds bits 1-12
//! into Reserved0 and says a receiver must discard a packet with any of bits 1-5 set, and must
//! ignore bits 6-12. RFC 2890 then gives bits 2 and 3 to K and S. So [`GreRepr::parse`] rejects
//! bits 1, 4 and 5 and ignores 6-12. The view lays out the optional words by C, K and S only:
//! RFC 1701's routing field is not supported, and a packet with R set is rejected before its
//! layout matters.

use crate::Error;
use crate::bytes::{read_u16, read_u32, write_u16, write_u32};
use crate::checksum;
use crate::ethernet::EtherType;

/// Flags and version, protocol type.
pub const BASE_HEADER_LEN: usize = 4;
/// The base header plus checksum/reserved1, key and sequence number.
pub const MAX_HEADER_LEN: usize = 16;

pub(crate) mod field {
    use core::ops::Range;

    pub(crate) const FLAGS_VERSION: Range<usize> = 0..2;
    pub(crate) const PROTOCOL: Range<usize> = 2..4;
}

// Bits of the flags + version word, numbered from the most significant as the RFCs do.
/// Bit 0: checksum present.
const FLAG_C: u16 = 0x8000;
/// Bit 1: routing present (RFC 1701).
const FLAG_R: u16 = 0x4000;
/// Bit 2: key present (RFC 2890).
const FLAG_K: u16 = 0x2000;
/// Bit 3: sequence number present (RFC 2890).
const FLAG_S: u16 = 0x1000;
/// Bit 4: strict source route (RFC 1701).
const FLAG_SSR: u16 = 0x0800;
/// Bits 5-7: recursion control (RFC 1701).
const RECUR_MASK: u16 = 0x0700;
const RECUR_SHIFT: u32 = 8;
/// Bits 13-15.
const VERSION_MASK: u16 = 0x0007;
/// Bits 1-5 except K and S: RFC 2784 2.3 says discard, and RFC 2890 claims only bits 2 and 3.
const MUST_DISCARD: u16 = FLAG_R | FLAG_SSR | 0x0400;

/// Where the optional words sit for a given flags word; the one place their offsets are
/// computed, so that `check_len`, the getters and the setters agree.
pub(crate) struct Layout {
    /// The checksum field, if C is set (the 2 bytes before Reserved1).
    pub(crate) checksum: Option<core::ops::Range<usize>>,
    /// Reserved1, if C is set.
    pub(crate) reserved1: Option<core::ops::Range<usize>>,
    /// The key, if K is set.
    pub(crate) key: Option<core::ops::Range<usize>>,
    /// The sequence number, if S is set.
    pub(crate) seq: Option<core::ops::Range<usize>>,
    /// The whole header: base plus 4 bytes per optional word.
    pub(crate) header_len: usize,
}

#[inline]
pub(crate) fn layout(flags: u16) -> Layout {
    // Each present word takes 4 bytes, in the order checksum, key, sequence: offsets are sums
    // of the bits before them, with no branch per word.
    let csum = 4 * usize::from(flags & FLAG_C != 0);
    let key = 4 * usize::from(flags & FLAG_K != 0);
    let seq = 4 * usize::from(flags & FLAG_S != 0);
    let key_at = BASE_HEADER_LEN + csum;
    let seq_at = key_at + key;
    Layout {
        checksum: (csum != 0).then_some(BASE_HEADER_LEN..BASE_HEADER_LEN + 2),
        reserved1: (csum != 0).then_some(BASE_HEADER_LEN + 2..BASE_HEADER_LEN + 4),
        key: (key != 0).then_some(key_at..key_at + 4),
        seq: (seq != 0).then_some(seq_at..seq_at + 4),
        header_len: seq_at + seq,
    }
}

/// A view of a GRE packet: header and payload.
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
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// `Err(Truncated)` unless the buffer holds the whole header that the C, K and S bits
    /// announce.
    #[inline]
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < BASE_HEADER_LEN || len < self.header_len() {
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

    #[inline]
    fn flags(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::FLAGS_VERSION)
    }

    /// C: a checksum (and Reserved1) word is present.
    #[inline]
    pub fn csum_present(&self) -> bool {
        self.flags() & FLAG_C != 0
    }

    /// R (RFC 1701): a routing field is present. Unsupported; `GreRepr::parse` rejects it.
    #[inline]
    pub fn routing_present(&self) -> bool {
        self.flags() & FLAG_R != 0
    }

    /// K (RFC 2890): a key word is present.
    #[inline]
    pub fn key_present(&self) -> bool {
        self.flags() & FLAG_K != 0
    }

    /// S (RFC 2890): a sequence number word is present.
    #[inline]
    pub fn seq_present(&self) -> bool {
        self.flags() & FLAG_S != 0
    }

    /// s (RFC 1701): strict source route.
    #[inline]
    pub fn strict_source_route(&self) -> bool {
        self.flags() & FLAG_SSR != 0
    }

    /// Recur (RFC 1701), bits 5-7.
    #[inline]
    pub fn recursion_control(&self) -> u8 {
        // Masked to 3 bits, so the conversion is exact.
        ((self.flags() & RECUR_MASK) >> RECUR_SHIFT) as u8
    }

    /// The version, bits 13-15 (0 for GRE, 1 for PPTP's enhanced GRE).
    #[inline]
    pub fn version(&self) -> u8 {
        // Masked to 3 bits, so the conversion is exact.
        (self.flags() & VERSION_MASK) as u8
    }

    /// The protocol type of the payload (an EtherType).
    #[inline]
    pub fn protocol(&self) -> EtherType {
        EtherType::from(read_u16(self.buffer.as_ref(), field::PROTOCOL))
    }

    /// The checksum field, if C is set.
    #[inline]
    pub fn checksum(&self) -> Option<u16> {
        let at = layout(self.flags()).checksum?;
        Some(read_u16(self.buffer.as_ref(), at))
    }

    /// Reserved1, if C is set (sent as zero).
    #[inline]
    pub fn reserved1(&self) -> Option<u16> {
        let at = layout(self.flags()).reserved1?;
        Some(read_u16(self.buffer.as_ref(), at))
    }

    /// The key, if K is set.
    #[inline]
    pub fn key(&self) -> Option<u32> {
        let at = layout(self.flags()).key?;
        Some(read_u32(self.buffer.as_ref(), at))
    }

    /// The sequence number, if S is set.
    #[inline]
    pub fn sequence(&self) -> Option<u32> {
        let at = layout(self.flags()).seq?;
        Some(read_u32(self.buffer.as_ref(), at))
    }

    /// The header length announced by C, K and S: 4 to 16 bytes.
    #[inline]
    pub fn header_len(&self) -> usize {
        layout(self.flags()).header_len
    }

    /// True if C is clear, else whether the checksum over header and payload (the whole buffer)
    /// is right.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        !self.csum_present() || checksum::data(self.buffer.as_ref()) == 0
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// Everything after the header.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    #[inline]
    fn set_flag(&mut self, mask: u16, value: bool) {
        let raw = self.flags();
        let raw = if value { raw | mask } else { raw & !mask };
        write_u16(self.buffer.as_mut(), field::FLAGS_VERSION, raw);
    }

    /// Zeroes the whole flags and version word; set the present bits after it.
    #[inline]
    pub fn clear_flags(&mut self) {
        write_u16(self.buffer.as_mut(), field::FLAGS_VERSION, 0);
    }

    /// Sets or clears C. Set the C, K and S bits before the optional words: they move them.
    #[inline]
    pub fn set_csum_present(&mut self, value: bool) {
        self.set_flag(FLAG_C, value);
    }

    /// Sets or clears R.
    #[inline]
    pub fn set_routing_present(&mut self, value: bool) {
        self.set_flag(FLAG_R, value);
    }

    /// Sets or clears K.
    #[inline]
    pub fn set_key_present(&mut self, value: bool) {
        self.set_flag(FLAG_K, value);
    }

    /// Sets or clears S.
    #[inline]
    pub fn set_seq_present(&mut self, value: bool) {
        self.set_flag(FLAG_S, value);
    }

    /// Sets or clears s.
    #[inline]
    pub fn set_strict_source_route(&mut self, value: bool) {
        self.set_flag(FLAG_SSR, value);
    }

    /// Sets Recur (the low 3 bits of `value`).
    #[inline]
    pub fn set_recursion_control(&mut self, value: u8) {
        let raw = (self.flags() & !RECUR_MASK) | ((u16::from(value) << RECUR_SHIFT) & RECUR_MASK);
        write_u16(self.buffer.as_mut(), field::FLAGS_VERSION, raw);
    }

    /// Sets the version (the low 3 bits of `value`).
    #[inline]
    pub fn set_version(&mut self, value: u8) {
        let raw = (self.flags() & !VERSION_MASK) | (u16::from(value) & VERSION_MASK);
        write_u16(self.buffer.as_mut(), field::FLAGS_VERSION, raw);
    }

    /// Sets the protocol type.
    #[inline]
    pub fn set_protocol(&mut self, protocol: EtherType) {
        write_u16(self.buffer.as_mut(), field::PROTOCOL, protocol.into());
    }

    /// Writes the checksum field; does nothing if C is clear (there is no such field).
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        if let Some(at) = layout(self.flags()).checksum {
            write_u16(self.buffer.as_mut(), at, value);
        }
    }

    /// Writes Reserved1; does nothing if C is clear.
    #[inline]
    pub fn set_reserved1(&mut self, value: u16) {
        if let Some(at) = layout(self.flags()).reserved1 {
            write_u16(self.buffer.as_mut(), at, value);
        }
    }

    /// Writes the key; does nothing if K is clear.
    #[inline]
    pub fn set_key(&mut self, value: u32) {
        if let Some(at) = layout(self.flags()).key {
            write_u32(self.buffer.as_mut(), at, value);
        }
    }

    /// Writes the sequence number; does nothing if S is clear.
    #[inline]
    pub fn set_sequence(&mut self, value: u32) {
        if let Some(at) = layout(self.flags()).seq {
            write_u32(self.buffer.as_mut(), at, value);
        }
    }

    /// Computes the checksum over the whole buffer (header and payload) and writes it; does
    /// nothing if C is clear. Call it last.
    #[inline]
    pub fn fill_checksum(&mut self) {
        if self.csum_present() {
            self.set_checksum(0);
            let sum = checksum::data(self.buffer.as_ref());
            self.set_checksum(sum);
        }
    }

    /// The payload, for writing.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.header_len();
        &mut self.buffer.as_mut()[at..]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The fields of a GRE header that carry meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GreRepr {
    /// Protocol type of the payload.
    pub protocol: EtherType,
    /// The key (K bit), which grebe uses to tell tunnels apart, as OVS does.
    pub key: Option<u32>,
    /// The sequence number (S bit). grebe sends it if asked and does not reorder on receipt.
    pub seq: Option<u32>,
    /// Whether a checksum is present (C bit); on parse it has been verified.
    pub csum: bool,
}

impl GreRepr {
    /// Checks a GRE packet and returns its meaningful fields. Never panics: it runs `check_len`
    /// itself, after the version and flag checks, so that such packets are reported as what
    /// they are rather than by their bytes read with the wrong layout.
    ///
    /// Rejects version != 0, any of bits 1, 4, 5 (RFC 2784 2.3), and a wrong checksum when C is
    /// set. Ignores bits 6-12 as RFC 2784 requires, and Reserved1 (RFC 2784 says only that it is
    /// sent as zero). Accepts any protocol type: the caller decides what it carries.
    #[inline]
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<GreRepr, Error> {
        Self::parse_with_len(packet).map(|(repr, _)| repr)
    }

    /// [`GreRepr::parse`], also returning the header length it found, so that a caller that
    /// goes on to the payload (`decap`) does not work the layout out again.
    #[inline]
    pub fn parse_with_len<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&T>,
    ) -> Result<(GreRepr, usize), Error> {
        if packet.buffer.as_ref().len() < BASE_HEADER_LEN {
            return Err(Error::Truncated);
        }
        let flags = packet.flags();
        if flags & VERSION_MASK != 0 {
            return Err(Error::BadVersion);
        }
        if flags & MUST_DISCARD != 0 {
            return Err(Error::ReservedFlags);
        }
        // What check_len and the getters do, with the layout computed once.
        let data = packet.buffer.as_ref();
        let at = layout(flags);
        if data.len() < at.header_len {
            return Err(Error::Truncated);
        }
        let csum = flags & FLAG_C != 0;
        if csum && checksum::data(data) != 0 {
            return Err(Error::BadChecksum);
        }
        let repr = GreRepr {
            protocol: packet.protocol(),
            key: at.key.map(|word| read_u32(data, word)),
            seq: at.seq.map(|word| read_u32(data, word)),
            csum,
        };
        Ok((repr, at.header_len))
    }

    /// The header `emit` writes: 4 bytes, plus 4 for each of checksum, key and sequence.
    #[inline]
    pub const fn header_len(&self) -> usize {
        BASE_HEADER_LEN
            + 4 * (self.csum as usize + self.key.is_some() as usize + self.seq.is_some() as usize)
    }

    /// Same as [`GreRepr::header_len`], under the name the other reprs use.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        self.header_len()
    }

    /// Writes every header field except the checksum value (left zero).
    #[inline]
    fn emit_fields<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        // Reserved0 and the version are all zero; the present bits first, since the optional
        // words' positions depend on them.
        let mut flags = 0;
        if self.csum {
            flags |= FLAG_C;
        }
        if self.key.is_some() {
            flags |= FLAG_K;
        }
        if self.seq.is_some() {
            flags |= FLAG_S;
        }
        let data = packet.buffer.as_mut();
        write_u16(data, field::FLAGS_VERSION, flags);
        write_u16(data, field::PROTOCOL, self.protocol.into());
        let at = layout(flags);
        if let (Some(checksum), Some(reserved1)) = (at.checksum, at.reserved1) {
            write_u16(data, checksum, 0);
            write_u16(data, reserved1, 0);
        }
        if let (Some(word), Some(key)) = (at.key, self.key) {
            write_u32(data, word, key);
        }
        if let (Some(word), Some(seq)) = (at.seq, self.seq) {
            write_u32(data, word, seq);
        }
    }

    /// Writes the header at the start of `packet`, whose buffer holds header and payload with
    /// the payload already in place after `header_len()` bytes; then, if `csum`, the checksum
    /// over header and payload.
    ///
    /// # Panics
    ///
    /// If the buffer is shorter than `header_len()`.
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        self.emit_fields(packet);
        packet.fill_checksum();
    }

    /// Writes the header into `header[..header_len()]`, for a payload that sits elsewhere
    /// (scatter-gather sends); the checksum, if `csum`, covers this header and `payload`.
    ///
    /// # Panics
    ///
    /// If `header` is shorter than `header_len()`.
    #[inline]
    pub fn emit_header(&self, header: &mut [u8], payload: &[u8]) {
        self.emit_header_parts(header, &[payload]);
    }

    /// As [`GreRepr::emit_header`], with a payload in several pieces (segment headers, then the
    /// segment's data). Every piece but the last must have an even length for the checksum.
    #[inline]
    pub fn emit_header_parts(&self, header: &mut [u8], payload: &[&[u8]]) {
        let header = &mut header[..self.header_len()];
        self.emit_fields(&mut Packet::new_unchecked(&mut *header));
        if self.csum {
            // The header is a whole number of 16-bit words, so chaining the sums is exact.
            let sum = payload.iter().fold(checksum::sum(header, 0), |acc, part| {
                checksum::sum(part, acc)
            });
            Packet::new_unchecked(header).set_checksum(checksum::fold(sum));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// C, K and S set; checksum written by hand below; key 0x01020304, sequence 7; protocol
    /// 0x6558; payload "abcd".
    fn cks_bytes() -> [u8; 20] {
        let mut b = [
            0xb0, 0x00, 0x65, 0x58, // C=1 R=0 K=1 S=1, version 0, TEB
            0x00, 0x00, 0x00, 0x00, // checksum (filled below), reserved1
            0x01, 0x02, 0x03, 0x04, // key
            0x00, 0x00, 0x00, 0x07, // sequence
            b'a', b'b', b'c', b'd', // payload
        ];
        // Hand sum of the 16-bit words with the checksum zero:
        // b000 + 6558 + 0000 + 0000 + 0102 + 0304 + 0000 + 0007 + 6162 + 6364
        // = 0x1_de2b -> fold: de2b + 1 = de2c -> complement: 21d3.
        b[4] = 0x21;
        b[5] = 0xd3;
        b
    }

    fn cks_repr() -> GreRepr {
        GreRepr {
            protocol: EtherType::TransparentEthernetBridging,
            key: Some(0x0102_0304),
            seq: Some(7),
            csum: true,
        }
    }

    #[test]
    fn read_fields() {
        let b = cks_bytes();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.csum_present() && p.key_present() && p.seq_present());
        assert!(!p.routing_present() && !p.strict_source_route());
        assert_eq!(p.recursion_control(), 0);
        assert_eq!(p.version(), 0);
        assert_eq!(p.protocol(), EtherType::TransparentEthernetBridging);
        assert_eq!(p.checksum(), Some(0x21d3));
        assert_eq!(p.reserved1(), Some(0));
        assert_eq!(p.key(), Some(0x0102_0304));
        assert_eq!(p.sequence(), Some(7));
        assert_eq!(p.header_len(), 16);
        assert_eq!(p.payload(), b"abcd");
        assert!(p.verify_checksum());
    }

    #[test]
    fn build_fields() {
        let mut b = [0xa5u8; 20];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.clear_flags();
        p.set_csum_present(true);
        p.set_key_present(true);
        p.set_seq_present(true);
        p.set_protocol(EtherType::TransparentEthernetBridging);
        p.set_reserved1(0);
        p.set_key(0x0102_0304);
        p.set_sequence(7);
        p.payload_mut().copy_from_slice(b"abcd");
        p.fill_checksum();
        assert_eq!(b, cks_bytes());
    }

    #[test]
    fn parse_and_emit() {
        let b = cks_bytes();
        assert_eq!(
            GreRepr::parse(&Packet::new_unchecked(&b[..])),
            Ok(cks_repr())
        );
        let mut out = [0xa5u8; 20];
        out[16..].copy_from_slice(b"abcd");
        cks_repr().emit(&mut Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, b);
        let mut header = [0xa5u8; 16];
        cks_repr().emit_header(&mut header, b"abcd");
        assert_eq!(header, b[..16]);
    }

    #[test]
    fn plain_header_bytes() {
        // No flags: just the flags word and the protocol type.
        let r = GreRepr {
            protocol: EtherType::TransparentEthernetBridging,
            key: None,
            seq: None,
            csum: false,
        };
        let mut h = [0xa5u8; 4];
        r.emit_header(&mut h, b"ignored");
        assert_eq!(h, [0x00, 0x00, 0x65, 0x58]);
        assert_eq!(r.header_len(), 4);
        let p = Packet::new_checked(&h[..]).unwrap();
        assert_eq!((p.checksum(), p.key(), p.sequence()), (None, None, None));
        assert_eq!(GreRepr::parse(&p), Ok(r));
    }

    #[test]
    fn key_only_and_seq_only_layout() {
        // K alone: key right after the base header.
        let b = [0x20, 0x00, 0x65, 0x58, 0xde, 0xad, 0xbe, 0xef];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            (p.key(), p.sequence(), p.checksum()),
            (Some(0xdead_beef), None, None)
        );
        // S alone: the sequence takes the same place.
        let b = [0x10, 0x00, 0x65, 0x58, 0xde, 0xad, 0xbe, 0xef];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.key(), p.sequence()), (None, Some(0xdead_beef)));
        // C and S: the sequence comes after the checksum word.
        let b = [0x90, 0x00, 0x65, 0x58, 0x12, 0x34, 0, 0, 0, 0, 0, 9];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            (p.checksum(), p.key(), p.sequence()),
            (Some(0x1234), None, Some(9))
        );
    }

    fn parse(b: &[u8]) -> Result<GreRepr, Error> {
        GreRepr::parse(&Packet::new_unchecked(b))
    }

    #[test]
    fn bits_6_to_12_are_ignored() {
        // RFC 2784 2.3: bits 6-12 must be ignored on receipt. Recur bits 6 and 7 are among them.
        for bit in 6..=12 {
            let mut b = [0x20, 0x00, 0x65, 0x58, 0, 0, 0, 42];
            let word = u16::from_be_bytes([b[0], b[1]]) | (0x8000 >> bit);
            b[..2].copy_from_slice(&word.to_be_bytes());
            let r = parse(&b).unwrap_or_else(|e| panic!("bit {bit}: {e}"));
            assert_eq!(r.key, Some(42));
        }
    }

    #[test]
    fn rejected_bits() {
        // Bit 1 (R), bit 4 (s), bit 5 (first Recur bit).
        for (bit, name) in [(1, "R"), (4, "s"), (5, "Recur")] {
            let mut b = [0u8; 24];
            b[..4].copy_from_slice(&[0x00, 0x00, 0x65, 0x58]);
            let word = 0x8000u16 >> bit;
            b[..2].copy_from_slice(&word.to_be_bytes());
            assert_eq!(parse(&b), Err(Error::ReservedFlags), "{name}");
        }
        let b = [0x40, 0x00, 0x65, 0x58];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.routing_present());
        let b = [0x0c, 0x00, 0x65, 0x58];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.strict_source_route());
        assert_eq!(p.recursion_control(), 4);
    }

    #[test]
    fn version_rejected() {
        for v in 1..=7u8 {
            // PPTP's version 1 uses K: the header is otherwise well formed.
            let b = [0x20, v, 0x88, 0x0b, 0, 0, 0, 0];
            assert_eq!(Packet::new_checked(&b[..]).unwrap().version(), v);
            assert_eq!(parse(&b), Err(Error::BadVersion), "version {v}");
        }
    }

    #[test]
    fn checksum_rejected() {
        for i in 0..20 {
            let mut b = cks_bytes();
            b[i] ^= 0x01;
            let r = parse(&b);
            // Flipping a flag bit changes the verdict to another rejection or a shorter header
            // whose checksum still fails; flipping any other bit must fail the checksum.
            assert!(r.is_err(), "byte {i}: {r:?}");
            if i >= 2 {
                assert_eq!(r, Err(Error::BadChecksum), "byte {i}");
            }
        }
    }

    #[test]
    fn truncated() {
        let b = cks_bytes();
        for len in 0..16 {
            assert_eq!(
                Packet::new_checked(&b[..len]),
                Err(Error::Truncated),
                "len {len}"
            );
            assert_eq!(parse(&b[..len]), Err(Error::Truncated), "len {len}");
        }
        // A shorter payload keeps the header valid but breaks the checksum.
        assert_eq!(parse(&b[..19]), Err(Error::BadChecksum));
    }

    #[test]
    fn any_protocol_accepted() {
        let b = [0x00, 0x00, 0x08, 0x00, 0x45];
        assert_eq!(parse(&b).unwrap().protocol, EtherType::Ipv4);
    }

    #[test]
    fn setters_without_flags_write_nothing() {
        let mut b = [0u8; 8];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_checksum(0xffff);
        p.set_reserved1(0xffff);
        p.set_key(0xffff_ffff);
        p.set_sequence(0xffff_ffff);
        p.fill_checksum();
        assert_eq!(b, [0; 8]);
    }

    #[test]
    fn flag_setters() {
        let mut b = [0u8; 4];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_routing_present(true);
        p.set_strict_source_route(true);
        p.set_recursion_control(0xff);
        p.set_version(0xff);
        assert_eq!(
            u16::from_be_bytes([b[0], b[1]]),
            0x4000 | 0x0800 | 0x0700 | 0x0007
        );
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_recursion_control(0);
        p.set_version(0);
        p.set_routing_present(false);
        p.set_strict_source_route(false);
        assert_eq!(b, [0; 4]);
    }
}
