use std::net::Ipv4Addr;

use proptest::prelude::*;

use super::*;
use crate::icmpv4::Icmpv4Repr;
use crate::{Ipv4Repr, OuterHeader};

const A: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const B: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);

fn ethernet(ethertype: EtherType, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0u8; ethernet::HEADER_LEN + payload.len()];
    let mut f = Frame::new_unchecked(&mut bytes[..]);
    f.set_dst_addr(B);
    f.set_src_addr(A);
    f.set_ethertype(ethertype);
    f.payload_mut().copy_from_slice(payload);
    bytes
}

fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
    let repr = Ipv4Repr {
        src_addr: Ipv4Addr::new(198, 51, 100, 1),
        dst_addr: Ipv4Addr::new(198, 51, 100, 2),
        protocol,
        payload_len: payload.len(),
        ttl: 64,
        tos: 0,
        dont_frag: true,
        ident: 7,
    };
    let mut bytes = vec![0u8; ipv4::HEADER_LEN + payload.len()];
    repr.emit(&mut ipv4::Packet::new_unchecked(&mut bytes[..]));
    bytes[ipv4::HEADER_LEN..].copy_from_slice(payload);
    bytes
}

fn echo() -> Vec<u8> {
    let mut bytes = vec![0u8; 8 + 4];
    let repr = Icmpv4Repr::EchoRequest {
        ident: 3,
        seq_no: 1,
    };
    repr.emit(&mut icmpv4::Packet::new_unchecked(&mut bytes[..]));
    bytes
}

fn tunnel(frame: &[u8]) -> Vec<u8> {
    let header = OuterHeader {
        src: Ipv4Addr::new(192, 0, 2, 1),
        key: Some(5),
        ..OuterHeader::new(Ipv4Addr::new(192, 0, 2, 2))
    };
    let mut buf = [0u8; crate::tunnel::MAX_OUTER_LEN];
    let n = header.emit(&mut buf, frame, 0).unwrap();
    buf[..n].iter().chain(frame).copied().collect()
}

fn field<'a>(d: &'a Dissection, layer: &str, name: &str) -> &'a Field {
    d.fields
        .iter()
        .find(|f| d.headers[f.header].layer() == layer && f.name == name)
        .unwrap_or_else(|| panic!("no {layer} {name} in {d:?}"))
}

#[test]
fn walks_a_tunnel_packet_down_to_icmp_through_a_vlan_tag() {
    // Tag: PCP 5, DEI 0, VID 100, carrying IPv4.
    let mut tagged = vec![0xa0, 100, 0x08, 0x00];
    tagged.extend(ipv4(1, &echo()));
    let frame = ethernet(EtherType::Vlan, &tagged);
    let packet = tunnel(&frame);
    let d = dissect(&packet, Start::Ipv4);
    assert_eq!(d.stop, None);
    let layers: Vec<(&str, usize, usize)> = d
        .headers
        .iter()
        .map(|h| (h.layer(), h.start, h.len))
        .collect();
    assert_eq!(
        layers,
        [
            ("ipv4", 0, 20),
            ("gre", 20, 8),
            ("ethernet", 28, 14),
            ("802.1q", 42, 4),
            ("inner ipv4", 46, 20),
            ("icmp", 66, 8),
        ]
    );
    assert_eq!(d.rest, 74);
    assert_eq!(field(&d, "ipv4", "protocol").to_string(), "47 (GRE)");
    assert_eq!(field(&d, "ipv4", "flags").to_string(), "DF");
    assert_eq!(field(&d, "ipv4", "IHL").to_string(), "5 (20 bytes)");
    assert_eq!(field(&d, "ipv4", "TOS").to_string(), "0x00 (DSCP 0, ECN 0)");
    assert_eq!(field(&d, "ipv4", "destination").to_string(), "192.0.2.2");
    assert_eq!(field(&d, "gre", "K").to_string(), "1 (key)");
    assert_eq!(field(&d, "gre", "C").to_string(), "0 (no checksum)");
    assert_eq!(field(&d, "gre", "key").bytes(), 24..28);
    assert_eq!(field(&d, "gre", "key").raw, 5);
    assert_eq!(
        field(&d, "gre", "protocol type").to_string(),
        "0x6558 (transparent Ethernet bridging)"
    );
    assert_eq!(field(&d, "ethernet", "type").to_string(), "0x8100 (802.1Q)");
    assert_eq!(
        field(&d, "ethernet", "source").to_string(),
        "02:00:00:00:00:01"
    );
    let vid = field(&d, "802.1q", "VID");
    assert_eq!((vid.bit_offset, vid.bits, vid.raw), (42 * 8 + 4, 12, 100));
    assert_eq!(field(&d, "802.1q", "PCP").raw, 5);
    assert_eq!(field(&d, "802.1q", "type").to_string(), "0x0800 (IPv4)");
    assert_eq!(
        field(&d, "inner ipv4", "source").to_string(),
        "198.51.100.1"
    );
    assert_eq!(field(&d, "icmp", "type").to_string(), "8 (echo request)");
    assert_eq!(field(&d, "icmp", "identifier").to_string(), "3");
    assert_eq!(field(&d, "icmp", "sequence").bit_offset, (66 + 6) * 8);
    // Every field lies inside its header.
    for f in &d.fields {
        let h = d.headers[f.header];
        assert!(f.bit_offset >= h.start * 8, "{f:?}");
        assert!(f.bit_offset + f.bits <= (h.start + h.len) * 8, "{f:?}");
    }
}

#[test]
fn arp_fields() {
    let mut body = [0u8; 28];
    crate::arp::ArpRepr {
        operation: arp::Operation::Request,
        sender_hardware_addr: A,
        sender_protocol_addr: Ipv4Addr::new(198, 51, 100, 1),
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: Ipv4Addr::new(198, 51, 100, 2),
    }
    .emit(&mut arp::Packet::new_unchecked(&mut body[..]));
    let frame = ethernet(EtherType::Arp, &body);
    let d = dissect(&frame, Start::Ethernet);
    assert_eq!(d.stop, None);
    assert_eq!(d.headers.len(), 2);
    assert_eq!(field(&d, "arp", "operation").to_string(), "1 (request)");
    assert_eq!(
        field(&d, "arp", "protocol type").to_string(),
        "0x0800 (IPv4)"
    );
    assert_eq!(
        field(&d, "arp", "sender MAC").to_string(),
        "02:00:00:00:00:01"
    );
    let tpa = field(&d, "arp", "target IP");
    assert_eq!(tpa.to_string(), "198.51.100.2");
    assert_eq!(tpa.bytes(), 14 + 24..14 + 28);
    // Not Ethernet/IPv4: the walk stops at the ARP header and says why.
    let mut odd = body;
    odd[4] = 8;
    let d = dissect(&ethernet(EtherType::Arp, &odd), Start::Ethernet);
    assert_eq!(d.headers.len(), 1);
    assert_eq!(
        d.stop,
        Some(Stop {
            protocol: Protocol::Arp,
            at: 14,
            error: Malformed::Header(HeaderError::ArpNotEthernetIpv4)
        })
    );
    assert_eq!(d.rest, 14);
}

#[test]
fn udp_and_tcp_fields() {
    let udp = [0x30, 0x39, 0, 53, 0, 8, 0xab, 0xcd];
    let d = dissect(&ethernet(EtherType::Ipv4, &ipv4(17, &udp)), Start::Ethernet);
    assert_eq!(d.stop, None);
    assert_eq!(field(&d, "udp", "source port").to_string(), "12345");
    assert_eq!(field(&d, "udp", "destination port").to_string(), "53");
    assert_eq!(field(&d, "udp", "checksum").to_string(), "0xabcd");

    let mut tcp = [0u8; 20];
    let mut seg = tcp::Packet::new_unchecked(&mut tcp[..]);
    seg.set_src_port(40000);
    seg.set_dst_port(80);
    seg.set_header_len(20);
    seg.set_flags(tcp::FLAG_SYN | tcp::FLAG_ACK);
    let d = dissect(&ethernet(EtherType::Ipv4, &ipv4(6, &tcp)), Start::Ethernet);
    assert_eq!(d.stop, None);
    assert_eq!(field(&d, "tcp", "flags").to_string(), "ACK SYN");
    assert_eq!(field(&d, "tcp", "data offset").to_string(), "5 (20 bytes)");
    assert_eq!(field(&d, "tcp", "destination port").raw, 80);
    let flags = field(&d, "tcp", "flags");
    assert_eq!((flags.bit_offset, flags.bits), ((34 + 12) * 8 + 7, 9));
    assert_eq!(d.rest, 14 + 20 + 20);
}

#[test]
fn stops_where_a_header_does_not_parse() {
    // An IPv4 header cut short inside a frame.
    let frame = ethernet(EtherType::Ipv4, &[0x45, 0, 0]);
    let d = dissect(&frame, Start::Ethernet);
    assert_eq!(d.headers.len(), 1);
    assert_eq!(
        d.stop,
        Some(Stop {
            protocol: Protocol::Ipv4,
            at: 14,
            error: Malformed::Tunnel(Error::Truncated)
        })
    );
    // Not even an IPv4 header.
    let d = dissect(&[0x45], Start::Ipv4);
    assert!(d.headers.is_empty() && d.fields.is_empty());
    assert_eq!(d.rest, 0);
    // An EtherType it does not know ends the walk without an error.
    let d = dissect(&ethernet(EtherType::Ipv6, &[0; 40]), Start::Ethernet);
    assert_eq!((d.headers.len(), d.stop, d.rest), (1, None, 14));
    // A later fragment carries no transport header.
    let mut frag = ipv4(17, &[0; 8]);
    let mut ip = ipv4::Packet::new_unchecked(&mut frag[..]);
    ip.set_frag_offset(8);
    let d = dissect(&frag, Start::Ipv4);
    assert_eq!((d.headers.len(), d.stop), (1, None));
}

#[test]
fn icmp_second_word_by_type() {
    let mut msg = [0u8; 8];
    Icmpv4Repr::FragNeeded { next_hop_mtu: 1476 }
        .emit(&mut icmpv4::Packet::new_unchecked(&mut msg[..]));
    let d = dissect(&ipv4(1, &msg), Start::Ipv4);
    assert_eq!(
        field(&d, "icmp", "type").to_string(),
        "3 (destination unreachable)"
    );
    assert_eq!(field(&d, "icmp", "next-hop MTU").to_string(), "1476");
    let mut msg = [0u8; 8];
    Icmpv4Repr::Other {
        msg_type: 42,
        code: 1,
        rest: 0xdead_beef,
    }
    .emit(&mut icmpv4::Packet::new_unchecked(&mut msg[..]));
    let d = dissect(&ipv4(1, &msg), Start::Ipv4);
    assert_eq!(field(&d, "icmp", "type").to_string(), "42");
    assert_eq!(
        field(&d, "icmp", "rest of header").to_string(),
        "0xdeadbeef"
    );
}

#[test]
fn formats() {
    let f = |raw, format| {
        Field {
            header: 0,
            name: "",
            bit_offset: 0,
            bits: 0,
            raw,
            format,
        }
        .to_string()
    };
    assert_eq!(f(0b011, Format::IpFlags), "DF MF");
    assert_eq!(f(0b001, Format::IpFlags), "MF");
    assert_eq!(f(0b100, Format::IpFlags), "none");
    assert_eq!(f(200, Format::IpProtocol), "200");
    assert_eq!(f(17, Format::IpProtocol), "17 (UDP)");
    assert_eq!(f(0x0800, Format::GreProtocol), "0x0800");
    assert_eq!(f(0x88cc, Format::EtherType), "0x88cc (other)");
    assert_eq!(f(2, Format::ArpOperation), "2 (reply)");
    assert_eq!(f(3, Format::ArpOperation), "3");
    assert_eq!(f(0, Format::TcpFlags), "none");
    assert_eq!(
        f(0x1ff, Format::TcpFlags),
        "NS CWR ECE URG ACK PSH RST SYN FIN"
    );
    assert_eq!(f(0x0a, Format::Hex(2)), "0x0a");
    assert_eq!(f(0xb9, Format::Tos), "0xb9 (DSCP 46, ECN 1)");
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        from_ipv4 in any::<bool>(),
    ) {
        let start = if from_ipv4 { Start::Ipv4 } else { Start::Ethernet };
        let d = dissect(&bytes, start);
        check_bounds(&d, bytes.len());
    }

    /// Valid outer layers in front of arbitrary bytes, so that the walk reaches the inner ones.
    #[test]
    fn never_panics_below_valid_outer_headers(
        tail in proptest::collection::vec(any::<u8>(), 0..120),
        ethertype in prop_oneof![Just(0x0800u16), Just(0x0806), Just(0x8100), Just(0x88a8), any::<u16>()],
        protocol in prop_oneof![Just(1u8), Just(6), Just(17), Just(47), any::<u8>()],
    ) {
        let inner = ethernet(EtherType::from(ethertype), &tail);
        let d = dissect(&tunnel(&inner), Start::Ipv4);
        check_bounds(&d, inner.len() + 28);
        let ip = ethernet(EtherType::Ipv4, &ipv4(protocol, &tail));
        let d = dissect(&ip, Start::Ethernet);
        check_bounds(&d, ip.len());
    }
}

fn check_bounds(d: &Dissection, len: usize) {
    assert!(d.rest <= len);
    assert!(d.headers.len() <= MAX_HEADERS);
    for h in &d.headers {
        assert!(h.start + h.len <= len, "{h:?}");
    }
    for f in &d.fields {
        assert!(f.bit_offset + f.bits <= len * 8, "{f:?}");
        assert!(f.bits <= 48);
        let _ = f.to_string();
    }
}
