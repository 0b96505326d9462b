//! Every header of a packet, field by field, for the tools that print them (`ofproto/trace`,
//! `grebe capture`, the guide's picture): IPv4 → GRE → Ethernet → 802.1Q → IPv4 or ARP →
//! ICMP, UDP or TCP.
//!
//! [`dissect`] walks the layers with the views of this crate, so the offsets stay written once,
//! in each view's `mod field`. Each [`Field`] has its bit offset and width from the start of the
//! bytes, its raw value and a display form ([`Field`]'s `Display`, which formats without
//! allocating). It never panics: a layer that does not parse ends the walk, and
//! [`Dissection::stop`] says which and why. Not for the per-frame path: it collects into `Vec`s.

use core::fmt;
use std::net::Ipv4Addr;

use crate::bytes::read_u16;
use crate::ethernet::{self, EtherType, EthernetAddress, Frame};
use crate::{Error, HeaderError, arp, gre, icmpv4, ipv4, tcp, udp, vlan};

/// What the bytes start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// An Ethernet frame (what a TAP or the inside of a GRE packet holds).
    Ethernet,
    /// An IPv4 packet (a whole tunnel packet, outer header first).
    Ipv4,
}

/// The headers [`dissect`] knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Ipv4,
    Gre,
    Ethernet,
    Vlan,
    Arp,
    Icmpv4,
    Udp,
    Tcp,
}

impl Protocol {
    /// A short lower-case name: "ipv4", "gre", "ethernet", "802.1q", "arp", "icmp", "udp", "tcp".
    pub const fn name(&self) -> &'static str {
        match self {
            Protocol::Ipv4 => "ipv4",
            Protocol::Gre => "gre",
            Protocol::Ethernet => "ethernet",
            Protocol::Vlan => "802.1q",
            Protocol::Arp => "arp",
            Protocol::Icmpv4 => "icmp",
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
        }
    }
}

/// One header found, in byte offsets from the start of the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub protocol: Protocol,
    /// How many headers of the same protocol come before it (0: the outer one).
    pub nth: usize,
    pub start: usize,
    /// The header's length (options included), not its payload's.
    pub len: usize,
}

impl Header {
    /// The header's layer as the tools name it: the protocol's name, with "inner " in front
    /// of an IPv4 or Ethernet header that is not the first of its kind.
    pub const fn layer(&self) -> &'static str {
        match (self.protocol, self.nth) {
            (Protocol::Ipv4, 1..) => "inner ipv4",
            (Protocol::Ethernet, 1..) => "inner ethernet",
            (p, _) => p.name(),
        }
    }
}

/// How a field's raw value reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A number: `64`.
    Decimal,
    /// `0x` and this many hex digits: `0x1f2e`.
    Hex(u8),
    /// A MAC address (the raw value holds its 48 bits).
    Mac,
    /// An IPv4 address.
    Ipv4Addr,
    /// A header length in 32-bit words: `5 (20 bytes)`.
    Words,
    /// The IPv4 TOS byte: `0x00 (DSCP 0, ECN 0)`.
    Tos,
    /// IPv4 flags (reserved, DF, MF): `DF`, `DF MF`, `none`.
    IpFlags,
    /// An IP protocol number: `47 (GRE)`.
    IpProtocol,
    /// A one-bit "present" flag: `1 (key)` or `0 (no key)`.
    Present(&'static str),
    /// The GRE protocol type: `0x6558 (transparent Ethernet bridging)`.
    GreProtocol,
    /// An EtherType: `0x0800 (IPv4)`.
    EtherType,
    /// An ICMP type: `8 (echo request)`.
    IcmpType,
    /// An ARP operation: `1 (request)`.
    ArpOperation,
    /// TCP flags: `SYN ACK`, `none`.
    TcpFlags,
}

/// One wire field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Index of its header in [`Dissection::headers`].
    pub header: usize,
    pub name: &'static str,
    /// From the start of the bytes dissected.
    pub bit_offset: usize,
    pub bits: usize,
    /// The field's bits as a number (at most 48 of them).
    pub raw: u64,
    pub format: Format,
}

impl Field {
    /// The bytes that hold the field (shared with a neighbour for sub-byte fields).
    pub fn bytes(&self) -> core::ops::Range<usize> {
        self.bit_offset / 8..(self.bit_offset + self.bits).div_ceil(8)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raw = self.raw;
        match self.format {
            Format::Decimal => write!(f, "{raw}"),
            Format::Hex(digits) => write!(f, "0x{raw:0width$x}", width = usize::from(digits)),
            Format::Mac => {
                let b = raw.to_be_bytes();
                let mac = EthernetAddress([b[2], b[3], b[4], b[5], b[6], b[7]]);
                write!(f, "{mac}")
            }
            Format::Ipv4Addr => write!(f, "{}", Ipv4Addr::from(raw as u32)),
            Format::Words => write!(f, "{raw} ({} bytes)", raw * 4),
            Format::Tos => write!(f, "0x{raw:02x} (DSCP {}, ECN {})", raw >> 2, raw & 3),
            Format::IpFlags => match (raw & 0b010 != 0, raw & 0b001 != 0) {
                (true, true) => f.write_str("DF MF"),
                (true, false) => f.write_str("DF"),
                (false, true) => f.write_str("MF"),
                (false, false) => f.write_str("none"),
            },
            Format::IpProtocol => match ip_protocol_name(raw as u8) {
                Some(name) => write!(f, "{raw} ({name})"),
                None => write!(f, "{raw}"),
            },
            Format::Present(what) if raw != 0 => write!(f, "1 ({what})"),
            Format::Present(what) => write!(f, "0 (no {what})"),
            Format::GreProtocol => {
                if EtherType::from(raw as u16) == EtherType::TransparentEthernetBridging {
                    write!(f, "0x{raw:04x} (transparent Ethernet bridging)")
                } else {
                    write!(f, "0x{raw:04x}")
                }
            }
            Format::EtherType => {
                write!(f, "0x{raw:04x} ({})", EtherType::from(raw as u16).name())
            }
            Format::IcmpType => match icmpv4::type_name(raw as u8) {
                Some(name) => write!(f, "{raw} ({name})"),
                None => write!(f, "{raw}"),
            },
            Format::ArpOperation => match arp::Operation::from(raw as u16) {
                arp::Operation::Request => write!(f, "{raw} (request)"),
                arp::Operation::Reply => write!(f, "{raw} (reply)"),
                arp::Operation::Unknown(_) => write!(f, "{raw}"),
            },
            Format::TcpFlags => {
                let mut first = true;
                for (bit, name) in tcp::FLAG_NAMES {
                    if raw as u16 & bit != 0 {
                        if !first {
                            f.write_str(" ")?;
                        }
                        f.write_str(name)?;
                        first = false;
                    }
                }
                if first { f.write_str("none") } else { Ok(()) }
            }
        }
    }
}

/// The names the tools give IP protocol numbers.
pub fn ip_protocol_name(protocol: u8) -> Option<&'static str> {
    match protocol {
        1 => Some("ICMP"),
        6 => Some("TCP"),
        17 => Some("UDP"),
        ipv4::PROTOCOL_GRE => Some("GRE"),
        _ => None,
    }
}

/// Why a header did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// An outer-layer header (IPv4, GRE, Ethernet), with the datapath's reason.
    #[error(transparent)]
    Tunnel(#[from] Error),
    /// A header inside the frame.
    #[error(transparent)]
    Header(#[from] HeaderError),
}

/// Where and why the walk ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    /// The header that did not parse.
    pub protocol: Protocol,
    /// Where it would have started, in bytes.
    pub at: usize,
    pub error: Malformed,
}

/// What [`dissect`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dissection {
    pub headers: Vec<Header>,
    pub fields: Vec<Field>,
    /// Where the bytes no header covers begin (a payload, or what did not parse).
    pub rest: usize,
    /// Set when a header the walk expected did not parse.
    pub stop: Option<Stop>,
}

impl Dissection {
    /// The fields of header `index`.
    pub fn fields_of(&self, index: usize) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(move |f| f.header == index)
    }
}

/// More headers than a sane packet has: bounds the walk on crafted nesting (IPv4 in GRE in
/// IPv4 ...), which would otherwise only end when the bytes do.
const MAX_HEADERS: usize = 16;

/// Walks `bytes` from `start`, header by header, as far as grebe knows the layers.
pub fn dissect(bytes: &[u8], start: Start) -> Dissection {
    let mut w = Walk {
        bytes,
        d: Dissection::default(),
    };
    let mut next = Some(match start {
        Start::Ethernet => (Protocol::Ethernet, 0, bytes.len()),
        Start::Ipv4 => (Protocol::Ipv4, 0, bytes.len()),
    });
    while let Some((protocol, at, end)) = next {
        if w.d.headers.len() == MAX_HEADERS {
            break;
        }
        // `at <= end <= bytes.len()` holds for every layer the walk hands on.
        let data = &bytes[at..end];
        let step = match protocol {
            Protocol::Ipv4 => w.ipv4(data, at),
            Protocol::Gre => w.gre(data, at),
            Protocol::Ethernet => w.ethernet(data, at),
            Protocol::Vlan => w.vlan(data, at),
            Protocol::Arp => w.arp(data, at),
            Protocol::Icmpv4 => w.icmpv4(data, at),
            Protocol::Udp => w.udp(data, at),
            Protocol::Tcp => w.tcp(data, at),
        };
        next = match step {
            Ok(next) => next,
            Err(error) => {
                w.d.stop = Some(Stop {
                    protocol,
                    at,
                    error,
                });
                None
            }
        };
    }
    w.d
}

/// The next layer: protocol, start and end in the whole buffer.
type Next = Option<(Protocol, usize, usize)>;

struct Walk<'a> {
    bytes: &'a [u8],
    d: Dissection,
}

impl Walk<'_> {
    /// Records a header starting at `at` bytes and returns its index.
    fn header(&mut self, protocol: Protocol, at: usize, len: usize) -> usize {
        let nth = self
            .d
            .headers
            .iter()
            .filter(|h| h.protocol == protocol)
            .count();
        self.d.headers.push(Header {
            protocol,
            nth,
            start: at,
            len,
        });
        self.d.rest = at + len;
        self.d.headers.len() - 1
    }

    /// Records a field `bits` wide at `bit` bits into the header at `at` bytes, reading its
    /// raw value from the bytes (the caller's view has checked they are there).
    fn field(
        &mut self,
        header: usize,
        at: usize,
        (bit, bits): (usize, usize),
        name: &'static str,
        format: Format,
    ) {
        let bit_offset = at * 8 + bit;
        let raw = (bit_offset..bit_offset + bits).fold(0u64, |raw, b| {
            let set = self
                .bytes
                .get(b / 8)
                .is_some_and(|byte| byte & (0x80 >> (b % 8)) != 0);
            raw << 1 | u64::from(set)
        });
        self.d.fields.push(Field {
            header,
            name,
            bit_offset,
            bits,
            raw,
            format,
        });
    }

    fn ipv4(&mut self, data: &[u8], at: usize) -> Result<Next, Malformed> {
        use ipv4::field;
        let ip = ipv4::Packet::new_checked(data)?;
        let h = self.header(Protocol::Ipv4, at, ip.header_len());
        let byte = |b: usize| (b * 8, 8);
        let word = |r: core::ops::Range<usize>| (r.start * 8, (r.end - r.start) * 8);
        self.field(h, at, (field::VER_IHL * 8, 4), "version", Format::Decimal);
        self.field(h, at, (field::VER_IHL * 8 + 4, 4), "IHL", Format::Words);
        self.field(h, at, byte(field::TOS), "TOS", Format::Tos);
        self.field(h, at, word(field::LENGTH), "total length", Format::Decimal);
        self.field(h, at, word(field::IDENT), "identification", Format::Decimal);
        self.field(
            h,
            at,
            (field::FLG_OFF.start * 8, 3),
            "flags",
            Format::IpFlags,
        );
        let frag = (field::FLG_OFF.start * 8 + 3, 13);
        self.field(h, at, frag, "fragment offset", Format::Decimal);
        self.field(h, at, byte(field::TTL), "TTL", Format::Decimal);
        self.field(h, at, byte(field::PROTOCOL), "protocol", Format::IpProtocol);
        let sum = word(field::CHECKSUM);
        self.field(h, at, sum, "header checksum", Format::Hex(4));
        self.field(h, at, word(field::SRC_ADDR), "source", Format::Ipv4Addr);
        let dst = word(field::DST_ADDR);
        self.field(h, at, dst, "destination", Format::Ipv4Addr);
        // A later fragment's payload starts mid-datagram: no header to read there.
        if ip.frag_offset() != 0 {
            return Ok(None);
        }
        let payload = at + ip.header_len();
        let end = at + usize::from(ip.total_len());
        Ok(match ip.protocol() {
            1 => Some((Protocol::Icmpv4, payload, end)),
            6 => Some((Protocol::Tcp, payload, end)),
            17 => Some((Protocol::Udp, payload, end)),
            ipv4::PROTOCOL_GRE => Some((Protocol::Gre, payload, end)),
            _ => None,
        })
    }

    fn gre(&mut self, data: &[u8], at: usize) -> Result<Next, Malformed> {
        use gre::field;
        let g = gre::Packet::new_checked(data)?;
        let h = self.header(Protocol::Gre, at, g.header_len());
        let flags = read_u16(data, field::FLAGS_VERSION);
        let layout = gre::layout(flags);
        self.field(h, at, (0, 1), "C", Format::Present("checksum"));
        self.field(h, at, (1, 1), "R", Format::Present("routing"));
        self.field(h, at, (2, 1), "K", Format::Present("key"));
        self.field(h, at, (3, 1), "S", Format::Present("sequence number"));
        // RFC 2784's Reserved0 minus RFC 2890's K and S: bits 4-12.
        self.field(h, at, (4, 9), "reserved0", Format::Decimal);
        self.field(h, at, (13, 3), "version", Format::Decimal);
        let proto = (field::PROTOCOL.start * 8, 16);
        self.field(h, at, proto, "protocol type", Format::GreProtocol);
        let words = [
            (layout.checksum, "checksum", Format::Hex(4)),
            (layout.reserved1, "reserved1", Format::Decimal),
            (layout.key, "key", Format::Decimal),
            (layout.seq, "sequence number", Format::Decimal),
        ];
        for (range, name, format) in words {
            if let Some(r) = range {
                self.field(h, at, (r.start * 8, r.len() * 8), name, format);
            }
        }
        let payload = at + g.header_len();
        Ok(next_by_ethertype(g.protocol(), payload, at + data.len()))
    }

    fn ethernet(&mut self, data: &[u8], at: usize) -> Result<Next, Malformed> {
        use ethernet::field;
        let frame = Frame::new_checked(data)?;
        let h = self.header(Protocol::Ethernet, at, ethernet::HEADER_LEN);
        let span = |r: core::ops::Range<usize>| (r.start * 8, r.len() * 8);
        self.field(h, at, span(field::DESTINATION), "destination", Format::Mac);
        self.field(h, at, span(field::SOURCE), "source", Format::Mac);
        self.field(h, at, span(field::ETHERTYPE), "type", Format::EtherType);
        let payload = at + ethernet::HEADER_LEN;
        Ok(next_by_ethertype(
            frame.ethertype(),
            payload,
            at + data.len(),
        ))
    }

    fn vlan(&mut self, data: &[u8], at: usize) -> Result<Next, Malformed> {
        use vlan::field;
        let tag = vlan::Tag::new_checked(data)?;
        let h = self.header(Protocol::Vlan, at, vlan::TAG_LEN);
        let tci = field::TCI.start * 8;
        self.field(h, at, (tci, 3), "PCP", Format::Decimal);
        self.field(h, at, (tci + 3, 1), "DEI", Format::Decimal);
        self.field(h, at, (tci + 4, 12), "VID", Format::Decimal);
        let t = (field::ETHERTYPE.start * 8, 16);
        self.field(h, at, t, "type", Format::EtherType);
        let payload = at + vlan::TAG_LEN;
        Ok(next_by_ethertype(tag.ethertype(), payload, at + data.len()))
    }

    fn arp(&mut self, data: &[u8], at: usize) -> Result<Next, Malformed> {
        use arp::field;
        // Parse, not just check_len: with other address lengths the fields below are elsewhere.
        arp::ArpRepr::parse(&arp::Packet::new_unchecked(data))?;
        let h = self.header(Protocol::Arp, at, arp::PACKET_LEN);
        let span = |r: core::ops::Range<usize>| (r.start * 8, r.len() * 8);
        self.field(h, at, span(field::HTYPE), "hardware type", Format::Decimal);
        self.field(
            h,
            at,
            span(field::PTYPE),
            "protocol type",
            Format::EtherType,
        );
        let hlen = (field::HLEN * 8, 8);
        self.field(h, at, hlen, "hardware length", Format::Decimal);
        let plen = (field::PLEN * 8, 8);
        self.field(h, at, plen, "protocol length", Format::Decimal);
        self.field(h, at, span(field::OPER), "operation", Format::ArpOperation);
        self.field(h, at, span(field::SHA), "sender MAC", Format::Mac);
        self.field(h, at, span(field::SPA), "sender IP", Format::Ipv4Addr);
        self.field(h, at, span(field::THA), "target MAC", Format::Mac);
        self.field(h, at, span(field::TPA), "target IP", Format::Ipv4Addr);
        Ok(None)
    }

    fn icmpv4(&mut self, data: &[u8], at: usize) -> Result<Next, Malformed> {
        use icmpv4::field;
        let icmp = icmpv4::Packet::new_checked(data)?;
        let h = self.header(Protocol::Icmpv4, at, icmpv4::HEADER_LEN);
        let span = |r: core::ops::Range<usize>| (r.start * 8, r.len() * 8);
        self.field(h, at, (field::TYPE * 8, 8), "type", Format::IcmpType);
        self.field(h, at, (field::CODE * 8, 8), "code", Format::Decimal);
        self.field(h, at, span(field::CHECKSUM), "checksum", Format::Hex(4));
        match (icmp.msg_type(), icmp.code()) {
            (icmpv4::TYPE_ECHO_REQUEST | icmpv4::TYPE_ECHO_REPLY, _) => {
                let id = span(field::ECHO_IDENT);
                self.field(h, at, id, "identifier", Format::Decimal);
                let seq = span(field::ECHO_SEQ);
                self.field(h, at, seq, "sequence", Format::Decimal);
            }
            (icmpv4::TYPE_DEST_UNREACHABLE, icmpv4::CODE_FRAG_NEEDED) => {
                self.field(h, at, span(field::UNUSED), "unused", Format::Decimal);
                let mtu = span(field::NEXT_HOP_MTU);
                self.field(h, at, mtu, "next-hop MTU", Format::Decimal);
            }
            _ => {
                let rest = span(field::REST);
                self.field(h, at, rest, "rest of header", Format::Hex(8));
            }
        }
        Ok(None)
    }

    fn udp(&mut self, data: &[u8], at: usize) -> Result<Next, Malformed> {
        use udp::field;
        udp::Packet::new_checked(data)?;
        let h = self.header(Protocol::Udp, at, udp::HEADER_LEN);
        let span = |r: core::ops::Range<usize>| (r.start * 8, r.len() * 8);
        self.field(h, at, span(field::SRC_PORT), "source port", Format::Decimal);
        let dst = span(field::DST_PORT);
        self.field(h, at, dst, "destination port", Format::Decimal);
        self.field(h, at, span(field::LENGTH), "length", Format::Decimal);
        self.field(h, at, span(field::CHECKSUM), "checksum", Format::Hex(4));
        Ok(None)
    }

    fn tcp(&mut self, data: &[u8], at: usize) -> Result<Next, Malformed> {
        use tcp::field;
        let seg = tcp::Packet::new_checked(data)?;
        let h = self.header(Protocol::Tcp, at, seg.header_len());
        let span = |r: core::ops::Range<usize>| (r.start * 8, r.len() * 8);
        self.field(h, at, span(field::SRC_PORT), "source port", Format::Decimal);
        let dst = span(field::DST_PORT);
        self.field(h, at, dst, "destination port", Format::Decimal);
        let seq = span(field::SEQ_NUM);
        self.field(h, at, seq, "sequence number", Format::Decimal);
        let ack = span(field::ACK_NUM);
        self.field(h, at, ack, "acknowledgment number", Format::Decimal);
        let word = field::OFFSET_FLAGS.start * 8;
        self.field(h, at, (word, 4), "data offset", Format::Words);
        self.field(h, at, (word + 4, 3), "reserved", Format::Decimal);
        self.field(h, at, (word + 7, 9), "flags", Format::TcpFlags);
        self.field(h, at, span(field::WINDOW), "window", Format::Decimal);
        self.field(h, at, span(field::CHECKSUM), "checksum", Format::Hex(4));
        let urgent = span(field::URGENT);
        self.field(h, at, urgent, "urgent pointer", Format::Decimal);
        Ok(None)
    }
}

fn next_by_ethertype(t: EtherType, at: usize, end: usize) -> Next {
    let protocol = match t {
        EtherType::Ipv4 => Protocol::Ipv4,
        EtherType::Arp => Protocol::Arp,
        EtherType::TransparentEthernetBridging => Protocol::Ethernet,
        t if vlan::is_tpid(t) => Protocol::Vlan,
        _ => return None,
    };
    Some((protocol, at, end))
}

#[cfg(test)]
mod tests;
