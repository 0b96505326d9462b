//! The headers a trace prints, field by field, from encap's dissector.

use super::*;

/// One wire field of a header, where it sits and what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderField {
    /// "ipv4", "gre", "ethernet", "inner ipv4", "icmp", ...
    pub layer: String,
    pub name: &'static str,
    /// Bit offset from the start of the packet, and width in bits.
    pub bit_offset: usize,
    pub bits: usize,
    /// The value, decoded.
    pub value: String,
    /// The bytes that hold the field (whole bytes; shared with a neighbour for sub-byte fields).
    pub hex: String,
    /// For a field that is not whole bytes: its bits, most significant first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
}

impl HeaderField {
    /// The byte range that holds the field.
    pub fn bytes(&self) -> std::ops::Range<usize> {
        self.bit_offset / 8..(self.bit_offset + self.bits).div_ceil(8)
    }
}

/// A field the dissector found, with the bytes that hold it, as trace and the guide show it.
pub(super) fn header_field(packet: &[u8], d: &Dissection, f: &dissect::Field) -> HeaderField {
    let hex = packet
        .get(f.bytes())
        .map(|b| {
            b.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let binary = (f.bit_offset % 8 != 0 || f.bits % 8 != 0)
        .then(|| format!("{:0width$b}", f.raw, width = f.bits));
    HeaderField {
        layer: d.headers[f.header].layer().to_string(),
        name: f.name,
        bit_offset: f.bit_offset,
        bits: f.bits,
        value: f.to_string(),
        hex,
        binary,
    }
}

/// Dissects a whole tunnel packet, which must start with IPv4 and GRE headers that parse.
pub(super) fn dissect_tunnel_packet(packet: &[u8]) -> Result<Dissection, encap::Error> {
    let d = dissect::dissect(packet, dissect::Start::Ipv4);
    let protocol_at = |i: usize| d.headers.get(i).map(|h| h.protocol);
    if protocol_at(0) == Some(Protocol::Ipv4) && protocol_at(1) == Some(Protocol::Gre) {
        return Ok(d);
    }
    let outer_protocol = encap::ipv4::Packet::new_checked(packet).map(|ip| ip.protocol());
    Err(match (outer_protocol, d.stop) {
        (Ok(p), _) if p != encap::ipv4::PROTOCOL_GRE => encap::Error::NotGre,
        (
            _,
            Some(dissect::Stop {
                error: Malformed::Tunnel(e),
                ..
            }),
        ) => e,
        // The walk stops only where a header does not parse, and IPv4 and GRE report
        // `encap::Error`s; truncation is the honest fallback.
        _ => encap::Error::Truncated,
    })
}

/// The outer IPv4 and GRE header fields of a whole tunnel packet, at their real offsets.
pub fn outer_fields(packet: &[u8]) -> Result<Vec<HeaderField>, encap::Error> {
    let d = dissect_tunnel_packet(packet)?;
    Ok(d.fields
        .iter()
        .filter(|f| f.header < 2)
        .map(|f| header_field(packet, &d, f))
        .collect())
}

/// Every header grebe knows in a whole tunnel packet: outer IPv4, GRE, the inner Ethernet
/// header, 802.1Q tags, and the inner IPv4 or ARP, ICMP, UDP or TCP headers. Returns the fields
/// and where the undecoded rest begins.
pub fn packet_fields(packet: &[u8]) -> Result<(Vec<HeaderField>, usize), encap::Error> {
    let d = dissect_tunnel_packet(packet)?;
    let fields = d
        .fields
        .iter()
        .map(|f| header_field(packet, &d, f))
        .collect();
    Ok((fields, d.rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outer_fields_decode_what_emit_wrote() {
        let header = encap::OuterHeader {
            key: Some(5),
            csum: true,
            seq: true,
            ..encap::OuterHeader::new(Ipv4Addr::new(192, 0, 2, 2))
        };
        let frame = build_frame(
            EthernetAddress::BROADCAST,
            EthernetAddress([2, 0, 0, 0, 0, 1]),
            0x0806,
            None,
        );
        let mut buf = [0u8; encap::tunnel::MAX_OUTER_LEN];
        let n = header.emit(&mut buf, &frame, 7).unwrap();
        let packet: Vec<u8> = buf[..n].iter().chain(&frame).copied().collect();
        let fields = outer_fields(&packet).unwrap();
        let get = |layer: &str, name: &str| {
            fields
                .iter()
                .find(|f| f.layer == layer && f.name == name)
                .unwrap_or_else(|| panic!("{layer} {name}"))
        };
        assert_eq!(get("ipv4", "total length").value, (n + 60).to_string());
        assert_eq!(get("ipv4", "flags").value, "DF");
        assert_eq!(get("ipv4", "protocol").value, "47 (GRE)");
        assert_eq!(get("ipv4", "destination").hex, "c0 00 02 02");
        assert_eq!(get("gre", "key").value, "5");
        assert_eq!(get("gre", "key").bytes(), 28..32);
        assert_eq!(get("gre", "sequence number").value, "7");
        assert_eq!(get("gre", "sequence number").bytes(), 32..36);
        assert_eq!(get("gre", "protocol type").hex, "65 58");
        assert!(get("gre", "C").value.starts_with('1'));
        assert!(get("gre", "K").value.starts_with('1'));
        assert_eq!(get("gre", "version").value, "0");
    }

    #[test]
    fn packet_fields_need_ipv4_and_gre_and_go_down_to_the_inner_headers() {
        let frame = build_frame(
            EthernetAddress::BROADCAST,
            EthernetAddress([2, 0, 0, 0, 0, 1]),
            0x0806,
            None,
        );
        let header = encap::OuterHeader::new(Ipv4Addr::new(192, 0, 2, 2));
        let mut buf = [0u8; encap::tunnel::MAX_OUTER_LEN];
        let n = header.emit(&mut buf, &frame, 0).unwrap();
        let packet: Vec<u8> = buf[..n].iter().chain(&frame).copied().collect();
        let (fields, rest) = packet_fields(&packet).unwrap();
        // The zero ARP body is not Ethernet/IPv4: the walk ends after the inner Ethernet header.
        assert_eq!(rest, n + 14);
        let eth_type = fields
            .iter()
            .find(|f| f.layer == "ethernet" && f.name == "type")
            .unwrap();
        assert_eq!(eth_type.value, "0x0806 (ARP)");
        assert_eq!(eth_type.bytes(), n + 12..n + 14);
        let flags = fields
            .iter()
            .find(|f| f.layer == "ipv4" && f.name == "flags")
            .unwrap();
        assert_eq!(flags.binary.as_deref(), Some("010"));
        assert_eq!(packet_fields(&packet[..10]), Err(encap::Error::Truncated));
        let mut not_gre = packet.clone();
        not_gre[9] = 17;
        assert_eq!(packet_fields(&not_gre), Err(encap::Error::NotGre));
    }
}
