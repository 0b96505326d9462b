//! The outer IPv4 header of a GRE packet (RFC 791).
//!
//! A raw IPv4 socket hands the receiver the whole packet, header included; the sender writes the
//! header itself only with `IP_HDRINCL`. Options are accepted on receipt and skipped; grebe
//! never sends any.

use core::net::Ipv4Addr;

use crate::Error;
use crate::bytes::{read_u16, write_u16};
use crate::checksum;

/// The header without options.
pub const HEADER_LEN: usize = 20;
/// The IPv4 protocol number of GRE.
pub const PROTOCOL_GRE: u8 = 47;
/// [`HEADER_LEN`] as the `u8` that [`Packet::set_header_len`] takes; the assertion keeps them equal.
const HEADER_LEN_U8: u8 = 20;
const _: () = assert!(HEADER_LEN_U8 as usize == HEADER_LEN);
/// The largest payload one IPv4 packet with a 20-byte header can carry.
pub const MAX_PAYLOAD_LEN: usize = u16::MAX as usize - HEADER_LEN;

pub(crate) mod field {
    use core::ops::Range;

    pub(crate) const VER_IHL: usize = 0;
    pub(crate) const TOS: usize = 1;
    pub(crate) const LENGTH: Range<usize> = 2..4;
    pub(crate) const IDENT: Range<usize> = 4..6;
    pub(crate) const FLG_OFF: Range<usize> = 6..8;
    pub(crate) const TTL: usize = 8;
    pub(crate) const PROTOCOL: usize = 9;
    pub(crate) const CHECKSUM: Range<usize> = 10..12;
    pub(crate) const SRC_ADDR: Range<usize> = 12..16;
    pub(crate) const DST_ADDR: Range<usize> = 16..20;
}

/// Bits of the flags + fragment offset word.
const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet.
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

    /// Makes sure every getter stays in bounds: the buffer holds 20 bytes, the header length is
    /// at least 20, and header length <= total length <= buffer length. Bytes past the total
    /// length (link-layer padding) are allowed and ignored.
    #[inline]
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(Error::BadIpHeaderLen);
        }
        let total_len = usize::from(self.total_len());
        if total_len > len {
            return Err(Error::BadIpTotalLen);
        }
        if header_len > total_len {
            return Err(Error::BadIpHeaderLen);
        }
        Ok(())
    }

    /// The wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version field (4 for IPv4).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// The header length in bytes (IHL * 4), options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The type-of-service byte (DSCP and ECN).
    #[inline]
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }

    /// The total length field: header plus payload, in bytes.
    #[inline]
    pub fn total_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// The identification field.
    #[inline]
    pub fn ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::IDENT)
    }

    /// The don't-fragment flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLG_OFF) & FLAG_DF != 0
    }

    /// The more-fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLG_OFF) & FLAG_MF != 0
    }

    /// The fragment offset, in bytes (the field counts 8-byte units; 8191 * 8 fits a u16).
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (read_u16(self.buffer.as_ref(), field::FLG_OFF) & FRAG_OFFSET_MASK) << 3
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The protocol number of the payload (47 for GRE).
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// The header checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        let a = &self.buffer.as_ref()[field::SRC_ADDR];
        Ipv4Addr::new(a[0], a[1], a[2], a[3])
    }

    /// The destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        let a = &self.buffer.as_ref()[field::DST_ADDR];
        Ipv4Addr::new(a[0], a[1], a[2], a[3])
    }

    /// Whether the header checksum, computed over the whole header with options, is right.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        let data = self.buffer.as_ref();
        let header_len = self.header_len();
        // Almost every header has no options: 20 bytes, summed in five unrolled adds.
        match data.first_chunk::<HEADER_LEN>() {
            Some(header) if header_len == HEADER_LEN => checksum::data_fixed(header) == 0,
            _ => checksum::data(&data[..header_len]) == 0,
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The options, between the fixed 20 bytes and the header length (usually empty).
    #[inline]
    pub fn options(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The payload: from the header length to the total length. Anything past the total length
    /// is padding and not part of the packet.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let total_len = usize::from(self.total_len());
        &self.buffer.as_ref()[self.header_len()..total_len]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the version nibble.
    #[inline]
    pub fn set_version(&mut self, version: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (version << 4);
    }

    /// Sets the header length in bytes; it must be a multiple of 4 between 20 and 60.
    #[inline]
    pub fn set_header_len(&mut self, len: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((len / 4) & 0x0f);
    }

    /// Sets the type-of-service byte.
    #[inline]
    pub fn set_tos(&mut self, tos: u8) {
        self.buffer.as_mut()[field::TOS] = tos;
    }

    /// Sets the total length.
    #[inline]
    pub fn set_total_len(&mut self, len: u16) {
        write_u16(self.buffer.as_mut(), field::LENGTH, len);
    }

    /// Sets the identification field.
    #[inline]
    pub fn set_ident(&mut self, ident: u16) {
        write_u16(self.buffer.as_mut(), field::IDENT, ident);
    }

    /// Clears the flags and the fragment offset.
    #[inline]
    pub fn clear_flags(&mut self) {
        write_u16(self.buffer.as_mut(), field::FLG_OFF, 0);
    }

    /// Sets or clears the don't-fragment flag.
    #[inline]
    pub fn set_dont_frag(&mut self, value: bool) {
        self.set_flag_bit(FLAG_DF, value);
    }

    /// Sets or clears the more-fragments flag.
    #[inline]
    pub fn set_more_frags(&mut self, value: bool) {
        self.set_flag_bit(FLAG_MF, value);
    }

    /// Sets the fragment offset, in bytes (a multiple of 8).
    #[inline]
    pub fn set_frag_offset(&mut self, offset: u16) {
        let raw = read_u16(self.buffer.as_ref(), field::FLG_OFF);
        let raw = (raw & !FRAG_OFFSET_MASK) | (offset >> 3);
        write_u16(self.buffer.as_mut(), field::FLG_OFF, raw);
    }

    /// Sets the time to live.
    #[inline]
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    /// Sets the protocol number.
    #[inline]
    pub fn set_protocol(&mut self, protocol: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = protocol;
    }

    /// Sets the checksum field as given; see [`Packet::fill_checksum`].
    #[inline]
    pub fn set_checksum(&mut self, checksum: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, checksum);
    }

    /// Sets the source address.
    #[inline]
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&addr.octets());
    }

    /// Computes the header checksum (over `header_len()` bytes) and writes it. Call it last.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let header_len = self.header_len();
        // As in verify_checksum: the common case's constant length unrolls the sum.
        let sum = match data.first_chunk::<HEADER_LEN>() {
            Some(header) if header_len == HEADER_LEN => checksum::data_fixed(header),
            _ => checksum::data(&data[..header_len]),
        };
        self.set_checksum(sum);
    }

    /// The payload, for writing (header length to total length).
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        &mut self.buffer.as_mut()[range]
    }

    #[inline]
    fn set_flag_bit(&mut self, bit: u16, value: bool) {
        let raw = read_u16(self.buffer.as_ref(), field::FLG_OFF);
        let raw = if value { raw | bit } else { raw & !bit };
        write_u16(self.buffer.as_mut(), field::FLG_OFF, raw);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The fields of an outer IPv4 header that carry meaning for a tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    /// Source address; 0.0.0.0 on emit lets the kernel (with `IP_HDRINCL`) choose it.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Protocol number of the payload.
    pub protocol: u8,
    /// Payload length in bytes (total length minus header length).
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
    /// Type-of-service byte (DSCP and ECN).
    pub tos: u8,
    /// Don't-fragment flag.
    pub dont_frag: bool,
    /// Identification; 0 on emit lets the kernel (with `IP_HDRINCL`) fill one in.
    pub ident: u16,
}

impl Ipv4Repr {
    /// Checks an IPv4 packet and returns its meaningful fields. Never panics: it runs
    /// `check_len` itself, after the version check so that a non-IPv4 packet is reported as
    /// `BadIpVersion` rather than as whatever its bytes mean as an IPv4 header.
    ///
    /// Accepts options (skipped: nothing grebe does depends on them) and any TOS, TTL and
    /// protocol (the caller decides on the protocol). Rejects a wrong header checksum and any
    /// fragment: raw sockets receive reassembled packets, so a fragment here means something
    /// is wrong, and its payload is not a whole GRE packet.
    #[inline]
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Ipv4Repr, Error> {
        match packet.buffer.as_ref().first() {
            None => return Err(Error::Truncated),
            Some(b) if b >> 4 != 4 => return Err(Error::BadIpVersion),
            Some(_) => {}
        }
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(Error::BadIpChecksum);
        }
        if packet.more_frags() || packet.frag_offset() != 0 {
            return Err(Error::Fragmented);
        }
        Ok(Ipv4Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            // check_len proved header_len <= total_len.
            payload_len: usize::from(packet.total_len()) - packet.header_len(),
            ttl: packet.ttl(),
            tos: packet.tos(),
            dont_frag: packet.dont_frag(),
            ident: packet.ident(),
        })
    }

    /// The header `emit` writes: always 20 bytes, since it writes no options.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// The total length field this repr emits, or `None` if `payload_len` is too large for one
    /// IPv4 packet.
    #[inline]
    pub fn total_len(&self) -> Option<u16> {
        self.payload_len
            .checked_add(HEADER_LEN)
            .and_then(|len| u16::try_from(len).ok())
    }

    /// Writes a 20-byte header with no options into the first 20 bytes of `packet`, checksum
    /// last. The payload is not touched.
    ///
    /// # Panics
    ///
    /// If the buffer is shorter than 20 bytes, or if `payload_len` exceeds
    /// [`MAX_PAYLOAD_LEN`] (check [`Ipv4Repr::total_len`] first).
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        let Some(total_len) = self.total_len() else {
            panic!("IPv4 payload of {} bytes exceeds 65515", self.payload_len);
        };
        // Built in a local array and copied once: the compiler folds the setters' partial
        // writes into constants and checksums the header from registers, rather than writing
        // the caller's buffer field by field and reading it back.
        let mut header = [0u8; HEADER_LEN];
        let mut local = Packet::new_unchecked(&mut header[..]);
        local.set_version(4);
        local.set_header_len(HEADER_LEN_U8);
        local.set_tos(self.tos);
        local.set_total_len(total_len);
        local.set_ident(self.ident);
        local.clear_flags();
        local.set_dont_frag(self.dont_frag);
        local.set_ttl(self.ttl);
        local.set_protocol(self.protocol);
        local.set_src_addr(self.src_addr);
        local.set_dst_addr(self.dst_addr);
        local.fill_checksum();
        packet.buffer.as_mut()[..HEADER_LEN].copy_from_slice(&header);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 192.168.0.1 -> 192.168.0.199, UDP, DF, TTL 64, ident 0, total 0x73: checksum b861.
    // The payload here is only 4 bytes, so the test uses a total length that matches.
    fn header(total_len: u16) -> [u8; 20] {
        let mut h = [
            0x45, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        h[2..4].copy_from_slice(&total_len.to_be_bytes());
        let c = checksum::data(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h
    }

    fn packet_bytes() -> [u8; 24] {
        let mut p = [0u8; 24];
        p[..20].copy_from_slice(&header(24));
        p[20..].copy_from_slice(&[1, 2, 3, 4]);
        p
    }

    fn repr() -> Ipv4Repr {
        Ipv4Repr {
            src_addr: Ipv4Addr::new(192, 168, 0, 1),
            dst_addr: Ipv4Addr::new(192, 168, 0, 199),
            protocol: 17,
            payload_len: 4,
            ttl: 64,
            tos: 0,
            dont_frag: true,
            ident: 0,
        }
    }

    #[test]
    fn known_checksum() {
        // The classic example: total length 0x73 gives checksum b861.
        assert_eq!(&header(0x73)[10..12], &[0xb8, 0x61]);
    }

    #[test]
    fn read_fields() {
        let bytes = packet_bytes();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.tos(), 0);
        assert_eq!(p.total_len(), 24);
        assert_eq!(p.ident(), 0);
        assert!(p.dont_frag());
        assert!(!p.more_frags());
        assert_eq!(p.frag_offset(), 0);
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), 17);
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(192, 168, 0, 199));
        assert!(p.verify_checksum());
        assert_eq!(p.options(), &[] as &[u8]);
        assert_eq!(p.payload(), &[1, 2, 3, 4]);
    }

    #[test]
    fn build_fields() {
        let mut buf = [0xa5u8; 24];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_version(4);
        p.set_header_len(20);
        p.set_tos(0);
        p.set_total_len(24);
        p.set_ident(0);
        p.clear_flags();
        p.set_dont_frag(true);
        p.set_ttl(64);
        p.set_protocol(17);
        p.set_src_addr(Ipv4Addr::new(192, 168, 0, 1));
        p.set_dst_addr(Ipv4Addr::new(192, 168, 0, 199));
        p.fill_checksum();
        p.payload_mut().copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(buf, packet_bytes());
    }

    #[test]
    fn flag_and_offset_setters() {
        let mut buf = packet_bytes();
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_more_frags(true);
        p.set_frag_offset(8 * 100);
        assert!(p.dont_frag() && p.more_frags());
        assert_eq!(p.frag_offset(), 800);
        p.set_dont_frag(false);
        p.set_more_frags(false);
        assert!(!p.dont_frag() && !p.more_frags());
        assert_eq!(p.frag_offset(), 800);
        p.set_frag_offset(0xfff8);
        assert_eq!(p.frag_offset(), 0xfff8);
        assert!(!p.dont_frag() && !p.more_frags());
    }

    #[test]
    fn parse_and_emit() {
        let bytes = packet_bytes();
        assert_eq!(
            Ipv4Repr::parse(&Packet::new_unchecked(&bytes[..])),
            Ok(repr())
        );

        let mut buf = [0xa5u8; 24];
        repr().emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf[20..].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(buf, bytes);
        assert_eq!(repr().buffer_len(), 20);
    }

    #[test]
    fn parse_skips_options_and_padding() {
        // IHL 6 with a 4-byte option (NOP NOP NOP EOL), then 2 payload bytes and 3 of padding.
        let mut buf = [0u8; 29];
        buf[0] = 0x46;
        buf[2..4].copy_from_slice(&26u16.to_be_bytes());
        buf[8] = 1;
        buf[9] = PROTOCOL_GRE;
        buf[12..16].copy_from_slice(&[10, 0, 0, 1]);
        buf[16..20].copy_from_slice(&[10, 0, 0, 2]);
        buf[20..24].copy_from_slice(&[1, 1, 1, 0]);
        buf[24..26].copy_from_slice(&[0xee, 0xff]);
        buf[26..].copy_from_slice(&[9, 9, 9]);
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.fill_checksum();
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.options(), &[1, 1, 1, 0]);
        assert_eq!(p.payload(), &[0xee, 0xff]);
        let r = Ipv4Repr::parse(&p).unwrap();
        assert_eq!(r.payload_len, 2);
        assert_eq!(r.protocol, PROTOCOL_GRE);
    }

    fn with(mut f: impl FnMut(&mut [u8]), fix_checksum: bool) -> [u8; 24] {
        let mut b = packet_bytes();
        f(&mut b);
        if fix_checksum {
            Packet::new_unchecked(&mut b[..]).fill_checksum();
        }
        b
    }

    fn parse(b: &[u8]) -> Result<Ipv4Repr, Error> {
        Ipv4Repr::parse(&Packet::new_unchecked(b))
    }

    #[test]
    fn rejections() {
        let b = packet_bytes();
        for len in 0..20 {
            assert_eq!(parse(&b[..len]), Err(Error::Truncated), "len {len}");
        }
        // Total length says 24: one byte less is a short buffer.
        assert_eq!(parse(&b[..23]), Err(Error::BadIpTotalLen));
        assert_eq!(
            parse(&with(|b| b[0] = 0x65, true)),
            Err(Error::BadIpVersion)
        );
        assert_eq!(
            parse(&with(|b| b[0] = 0x05, true)),
            Err(Error::BadIpVersion)
        );
        assert_eq!(parse(&[0x60]), Err(Error::BadIpVersion));
        assert_eq!(
            parse(&with(|b| b[0] = 0x44, false)),
            Err(Error::BadIpHeaderLen)
        );
        assert_eq!(
            parse(&with(|b| b[0] = 0x40, false)),
            Err(Error::BadIpHeaderLen)
        );
        // IHL 7 (28 bytes) beyond total length 24.
        assert_eq!(
            parse(&with(|b| b[0] = 0x47, false)),
            Err(Error::BadIpHeaderLen)
        );
        assert_eq!(parse(&with(|b| b[3] = 25, true)), Err(Error::BadIpTotalLen));
        assert_eq!(
            parse(&with(|b| b[3] = 19, true)),
            Err(Error::BadIpHeaderLen)
        );
        assert_eq!(
            parse(&with(|b| b[8] = 63, false)),
            Err(Error::BadIpChecksum)
        );
        assert_eq!(
            parse(&with(|b| b[10] ^= 1, false)),
            Err(Error::BadIpChecksum)
        );
        // MF set; offset 8; both.
        assert_eq!(parse(&with(|b| b[6] = 0x20, true)), Err(Error::Fragmented));
        assert_eq!(parse(&with(|b| b[7] = 0x01, true)), Err(Error::Fragmented));
        assert_eq!(parse(&with(|b| b[6] = 0x3f, true)), Err(Error::Fragmented));
        // DF alone, and a short total length with trailing padding, are fine.
        assert!(parse(&with(|b| b[6] = 0x40, true)).is_ok());
        let r = parse(&with(|b| b[3] = 20, true)).unwrap();
        assert_eq!(r.payload_len, 0);
    }

    #[test]
    fn total_len_limits() {
        let mut r = repr();
        r.payload_len = MAX_PAYLOAD_LEN;
        assert_eq!(r.total_len(), Some(65535));
        r.payload_len = MAX_PAYLOAD_LEN + 1;
        assert_eq!(r.total_len(), None);
        r.payload_len = usize::MAX;
        assert_eq!(r.total_len(), None);
    }

    #[test]
    #[should_panic(expected = "exceeds")]
    fn emit_too_big_panics() {
        let mut r = repr();
        r.payload_len = MAX_PAYLOAD_LEN + 1;
        r.emit(&mut Packet::new_unchecked(&mut [0u8; 20][..]));
    }
}
