//! The outer IPv6 header of a GRE packet over an IPv6 transport (RFC 8200; GRE in IPv6 is RFC
//! 7676, OVS's `type=ip6gre`).
//!
//! A raw IPv6 socket hands the receiver only the payload (the GRE header on), never the IPv6
//! header, and the kernel writes the header of what it sends: this view serves the paths where
//! grebe sees or writes the header itself (the packet socket to an on-link remote, captures,
//! the trace). grebe sends no extension headers; on receipt [`Ipv6Repr::parse`] takes GRE as
//! the first next header only, as OVS's ip6gre does (a tunnel encapsulation limit option in
//! front of it is rejected as not GRE).

use core::net::Ipv6Addr;

use crate::Error;
use crate::bytes::{read_u16, read_u32, write_u16, write_u32};

/// The fixed header; IPv6 has no header checksum and no options in it.
pub const HEADER_LEN: usize = 40;
/// The next header number of GRE, as the IPv4 protocol number.
pub const NEXT_HEADER_GRE: u8 = 47;
/// The largest payload one IPv6 packet can carry without a jumbo option.
pub const MAX_PAYLOAD_LEN: usize = u16::MAX as usize;
/// The IPv6 minimum link MTU: every IPv6 path carries 1280-byte packets (RFC 8200 §5).
pub const MIN_MTU: u32 = 1280;

pub(crate) mod field {
    use core::ops::Range;

    /// Version (4 bits), traffic class (8), flow label (20).
    pub(crate) const VER_TC_FLOW: Range<usize> = 0..4;
    pub(crate) const PAYLOAD_LEN: Range<usize> = 4..6;
    pub(crate) const NEXT_HEADER: usize = 6;
    pub(crate) const HOP_LIMIT: usize = 7;
    pub(crate) const SRC_ADDR: Range<usize> = 8..24;
    pub(crate) const DST_ADDR: Range<usize> = 24..40;
}

/// A view of an IPv6 packet.
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

    /// Makes sure every getter stays in bounds: the buffer holds the 40-byte header and the
    /// payload length it gives. Bytes past the payload (link-layer padding) are ignored.
    #[inline]
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if HEADER_LEN + usize::from(self.payload_len()) > len {
            return Err(Error::BadIpTotalLen);
        }
        Ok(())
    }

    /// The wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn first_word(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::VER_TC_FLOW)
    }

    /// The version field (6 for IPv6).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// The traffic class: DSCP and ECN, as IPv4's type-of-service byte.
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        (self.first_word() >> 20) as u8
    }

    /// The 20-bit flow label.
    #[inline]
    pub fn flow_label(&self) -> u32 {
        self.first_word() & 0x000f_ffff
    }

    /// Bytes after the 40-byte header.
    #[inline]
    pub fn payload_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::PAYLOAD_LEN)
    }

    /// What follows the header: an extension header or the payload's protocol.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    /// The hop limit (IPv4's TTL).
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// The source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[field::SRC_ADDR]);
        Ipv6Addr::from(a)
    }

    /// The destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[field::DST_ADDR]);
        Ipv6Addr::from(a)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The payload: the header's end to its payload length.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &self.buffer.as_ref()[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets version, traffic class and flow label, the first word.
    #[inline]
    pub fn set_first_word(&mut self, version: u8, traffic_class: u8, flow_label: u32) {
        let word = u32::from(version & 0x0f) << 28
            | u32::from(traffic_class) << 20
            | (flow_label & 0x000f_ffff);
        write_u32(self.buffer.as_mut(), field::VER_TC_FLOW, word);
    }

    /// Sets the payload length.
    #[inline]
    pub fn set_payload_len(&mut self, len: u16) {
        write_u16(self.buffer.as_mut(), field::PAYLOAD_LEN, len);
    }

    /// Sets the next header.
    #[inline]
    pub fn set_next_header(&mut self, next: u8) {
        self.buffer.as_mut()[field::NEXT_HEADER] = next;
    }

    /// Sets the hop limit.
    #[inline]
    pub fn set_hop_limit(&mut self, hops: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = hops;
    }

    /// Sets the source address.
    #[inline]
    pub fn set_src_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&addr.octets());
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The fields of an outer IPv6 header that carry meaning for a tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    pub src_addr: Ipv6Addr,
    pub dst_addr: Ipv6Addr,
    /// The payload's protocol (grebe: GRE, 47).
    pub next_header: u8,
    /// Payload length in bytes.
    pub payload_len: usize,
    /// Hop limit: a tunnel's `options:ttl`.
    pub hop_limit: u8,
    /// Traffic class: a tunnel's `options:tos`.
    pub traffic_class: u8,
    /// Flow label; grebe sends 0, as OVS's ip6gre does unless told otherwise.
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Checks an IPv6 packet and returns its meaningful fields. Never panics: it runs
    /// `check_len` itself, after the version check, so that an IPv4 packet is `BadIpVersion`.
    /// Any next header is returned as it is (the caller decides; an extension header in front
    /// of GRE is not GRE).
    #[inline]
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Ipv6Repr, Error> {
        match packet.buffer.as_ref().first() {
            None => return Err(Error::Truncated),
            Some(b) if b >> 4 != 6 => return Err(Error::BadIpVersion),
            Some(_) => {}
        }
        packet.check_len()?;
        Ok(Ipv6Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.payload_len()),
            hop_limit: packet.hop_limit(),
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
        })
    }

    /// The header `emit` writes: always 40 bytes.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// The payload length field this repr emits, or `None` if `payload_len` needs a jumbogram.
    #[inline]
    pub fn payload_len_field(&self) -> Option<u16> {
        u16::try_from(self.payload_len).ok()
    }

    /// Writes the 40-byte header into the first 40 bytes of `packet`. The payload is not touched.
    ///
    /// # Panics
    ///
    /// If the buffer is shorter than 40 bytes, or if `payload_len` exceeds
    /// [`MAX_PAYLOAD_LEN`] (check [`Ipv6Repr::payload_len_field`] first).
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        let Some(payload_len) = self.payload_len_field() else {
            panic!("IPv6 payload of {} bytes exceeds 65535", self.payload_len);
        };
        let mut header = [0u8; HEADER_LEN];
        let mut local = Packet::new_unchecked(&mut header[..]);
        local.set_first_word(6, self.traffic_class, self.flow_label);
        local.set_payload_len(payload_len);
        local.set_next_header(self.next_header);
        local.set_hop_limit(self.hop_limit);
        local.set_src_addr(self.src_addr);
        local.set_dst_addr(self.dst_addr);
        packet.buffer.as_mut()[..HEADER_LEN].copy_from_slice(&header);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2001:db8::1 -> 2001:db8::15, GRE, hop limit 64, traffic class 0xb8 (EF), flow 0x12345,
    /// with a 4-byte payload: written out by hand from RFC 8200's layout.
    fn packet_bytes() -> [u8; 44] {
        let mut p = [0u8; 44];
        p[..4].copy_from_slice(&[0x6b, 0x81, 0x23, 0x45]);
        p[4..6].copy_from_slice(&[0, 4]);
        p[6] = 47;
        p[7] = 64;
        p[8..24].copy_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        p[24..40].copy_from_slice(&"2001:db8::15".parse::<Ipv6Addr>().unwrap().octets());
        p[40..].copy_from_slice(&[0, 0, 0x65, 0x58]);
        p
    }

    fn repr() -> Ipv6Repr {
        Ipv6Repr {
            src_addr: "2001:db8::1".parse().unwrap(),
            dst_addr: "2001:db8::15".parse().unwrap(),
            next_header: NEXT_HEADER_GRE,
            payload_len: 4,
            hop_limit: 64,
            traffic_class: 0xb8,
            flow_label: 0x12345,
        }
    }

    #[test]
    fn read_fields() {
        let bytes = packet_bytes();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0xb8);
        assert_eq!(p.flow_label(), 0x12345);
        assert_eq!(p.payload_len(), 4);
        assert_eq!(p.next_header(), 47);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.payload(), &[0, 0, 0x65, 0x58]);
        assert_eq!(Ipv6Repr::parse(&p).unwrap(), repr());
    }

    #[test]
    fn emit_writes_the_same_bytes() {
        let mut buf = [0xa5u8; 44];
        repr().emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf[40..].copy_from_slice(&[0, 0, 0x65, 0x58]);
        assert_eq!(buf, packet_bytes());
    }

    #[test]
    fn short_wrong_version_and_overlong_payload_are_rejected() {
        let bytes = packet_bytes();
        for len in 0..HEADER_LEN {
            let p = Packet::new_unchecked(&bytes[..len]);
            assert_eq!(Ipv6Repr::parse(&p), Err(Error::Truncated), "{len} bytes");
        }
        // The header says 4 bytes follow; 3 do.
        let p = Packet::new_unchecked(&bytes[..43]);
        assert_eq!(Ipv6Repr::parse(&p), Err(Error::BadIpTotalLen));
        let mut v4 = bytes;
        v4[0] = 0x45;
        assert_eq!(
            Ipv6Repr::parse(&Packet::new_unchecked(&v4[..])),
            Err(Error::BadIpVersion)
        );
        // Padding past the payload is ignored.
        let mut padded = [0u8; 60];
        padded[..44].copy_from_slice(&bytes);
        let p = Packet::new_checked(&padded[..]).unwrap();
        assert_eq!(p.payload().len(), 4);
    }

    #[test]
    fn a_jumbo_payload_is_refused_before_emit() {
        let big = Ipv6Repr {
            payload_len: MAX_PAYLOAD_LEN + 1,
            ..repr()
        };
        assert_eq!(big.payload_len_field(), None);
        assert_eq!(repr().payload_len_field(), Some(4));
    }

    #[test]
    #[should_panic(expected = "exceeds 65535")]
    fn emit_panics_on_a_jumbo_payload() {
        let mut buf = [0u8; 40];
        Ipv6Repr {
            payload_len: MAX_PAYLOAD_LEN + 1,
            ..repr()
        }
        .emit(&mut Packet::new_unchecked(&mut buf[..]));
    }
}
