//! Differential: encap's Ethernet, 802.1Q, IPv4, TCP and UDP views against etherparse's header
//! slices on the same bytes. Where both accept, every field agrees; where one accepts and the
//! other does not, the difference is one the two documentations give (encap's IPv4 view also
//! checks the total length against the buffer; its UDP view checks the length field).
#![no_main]

use encap::ethernet::Frame;
use encap::{Ipv4Repr, ipv4, tcp, udp, vlan};
use etherparse::{
    Ethernet2HeaderSlice, Ipv4HeaderSlice, SingleVlanHeaderSlice, TcpHeaderSlice, UdpHeaderSlice,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let ours = Frame::new_checked(bytes);
    let theirs = Ethernet2HeaderSlice::from_slice(bytes);
    assert_eq!(ours.is_ok(), theirs.is_ok(), "Ethernet acceptance");
    let (Ok(ours), Ok(theirs)) = (ours, theirs) else {
        return;
    };
    assert_eq!(ours.dst_addr().0, theirs.destination());
    assert_eq!(ours.src_addr().0, theirs.source());
    assert_eq!(u16::from(ours.ethertype()), theirs.ether_type().0);

    let mut ethertype = theirs.ether_type().0;
    let mut l3 = 14;
    if ethertype == vlan::TPID_8021Q {
        let ours = vlan::Tag::new_checked(&bytes[14..]);
        let theirs = SingleVlanHeaderSlice::from_slice(&bytes[14..]);
        assert_eq!(ours.is_ok(), theirs.is_ok(), "802.1Q acceptance");
        let (Ok(ours), Ok(theirs)) = (ours, theirs) else {
            // `vlan_id` needs only the tag control information, not the tag's EtherType.
            let tci = bytes
                .get(14..16)
                .map(|t| u16::from_be_bytes([t[0], t[1]]) & 0x0fff);
            assert_eq!(Frame::new_unchecked(bytes).vlan_id(), tci);
            return;
        };
        assert_eq!(ours.vid(), theirs.vlan_identifier().value());
        assert_eq!(Frame::new_unchecked(bytes).vlan_id(), Some(ours.vid()));
        assert_eq!(ours.pcp(), theirs.priority_code_point().value());
        assert_eq!(ours.dei(), theirs.drop_eligible_indicator());
        assert_eq!(u16::from(ours.ethertype()), theirs.ether_type().0);
        ethertype = theirs.ether_type().0;
        l3 = 18;
    }
    if ethertype != 0x0800 {
        return;
    }
    let ip_bytes = &bytes[l3..];
    let theirs = Ipv4HeaderSlice::from_slice(ip_bytes);
    let ours = ipv4::Packet::new_checked(ip_bytes);
    if ip_bytes.first().map(|b| b >> 4) != Some(4) {
        assert!(theirs.is_err());
        assert!(Ipv4Repr::parse(&ipv4::Packet::new_unchecked(ip_bytes)).is_err());
        return;
    }
    match (&ours, &theirs) {
        (Ok(_), Err(e)) => panic!("encap accepts an IPv4 header etherparse rejects: {e:?}"),
        (Err(_), Ok(t)) => {
            // etherparse's header slice does not look at the total length.
            let total = usize::from(t.total_len());
            let header = usize::from(t.ihl()) * 4;
            assert!(
                total > ip_bytes.len() || header > total,
                "encap rejects a good header"
            );
            return;
        }
        (Err(_), Err(_)) => return,
        (Ok(_), Ok(_)) => {}
    }
    let (ours, theirs) = (ours.unwrap(), theirs.unwrap());
    assert_eq!(ours.version(), theirs.version());
    assert_eq!(ours.header_len(), usize::from(theirs.ihl()) * 4);
    assert_eq!(ours.tos(), theirs.dcp().value() << 2 | theirs.ecn().value());
    assert_eq!(ours.total_len(), theirs.total_len());
    assert_eq!(ours.ident(), theirs.identification());
    assert_eq!(ours.dont_frag(), theirs.dont_fragment());
    assert_eq!(ours.more_frags(), theirs.more_fragments());
    // encap counts the offset in bytes, etherparse in the field's 8-byte units.
    assert_eq!(ours.frag_offset(), theirs.fragments_offset().value() * 8);
    assert_eq!(ours.ttl(), theirs.ttl());
    assert_eq!(ours.protocol(), theirs.protocol().0);
    assert_eq!(ours.checksum(), theirs.header_checksum());
    assert_eq!(ours.src_addr(), theirs.source_addr());
    assert_eq!(ours.dst_addr(), theirs.destination_addr());
    assert_eq!(ours.options(), theirs.options());
    // etherparse's header has no place for the reserved ("evil") flag bit, so the checksum it
    // computes is over other bytes when that bit is set.
    let evil = ip_bytes[6] & 0x80 != 0;
    let computed = theirs.to_header().calc_header_checksum();
    // 0x0000 and 0xffff are the same in ones' complement: a receiver that sums the header
    // accepts either where etherparse computes one of them.
    let same = |a: u16, b: u16| a == b || (a == 0 && b == 0xffff) || (a == 0xffff && b == 0);
    if !evil {
        let ok = same(computed, theirs.header_checksum());
        assert_eq!(ours.verify_checksum(), ok, "checksum check");
    }
    if let Ok(repr) = Ipv4Repr::parse(&ours) {
        assert!(evil || same(computed, theirs.header_checksum()));
        assert!(!theirs.is_fragmenting_payload());
        assert_eq!(
            repr.payload_len,
            usize::from(theirs.total_len()) - ours.header_len()
        );
    }

    let l4 = &ip_bytes[ours.header_len()..usize::from(ours.total_len())];
    match ours.protocol() {
        6 => {
            let ours = tcp::Packet::new_checked(l4);
            let theirs = TcpHeaderSlice::from_slice(l4);
            assert_eq!(ours.is_ok(), theirs.is_ok(), "TCP acceptance");
            let (Ok(ours), Ok(theirs)) = (ours, theirs) else {
                return;
            };
            assert_eq!(ours.src_port(), theirs.source_port());
            assert_eq!(ours.dst_port(), theirs.destination_port());
            assert_eq!(ours.seq_number(), theirs.sequence_number());
            assert_eq!(ours.ack_number(), theirs.acknowledgment_number());
            assert_eq!(ours.data_offset(), theirs.data_offset());
            assert_eq!(ours.header_len(), usize::from(theirs.data_offset()) * 4);
            let flags = ours.flags();
            let bit = |f: u16| flags & f != 0;
            assert_eq!(bit(tcp::FLAG_FIN), theirs.fin());
            assert_eq!(bit(tcp::FLAG_SYN), theirs.syn());
            assert_eq!(bit(tcp::FLAG_RST), theirs.rst());
            assert_eq!(bit(tcp::FLAG_PSH), theirs.psh());
            assert_eq!(bit(tcp::FLAG_ACK), theirs.ack());
            assert_eq!(bit(tcp::FLAG_URG), theirs.urg());
            assert_eq!(bit(tcp::FLAG_ECE), theirs.ece());
            assert_eq!(bit(tcp::FLAG_CWR), theirs.cwr());
            assert_eq!(bit(tcp::FLAG_NS), theirs.ns());
            assert_eq!(ours.window(), theirs.window_size());
            assert_eq!(ours.checksum(), theirs.checksum());
            assert_eq!(ours.urgent(), theirs.urgent_pointer());
            assert_eq!(ours.options(), theirs.options());
            assert_eq!(ours.payload(), &l4[theirs.slice().len()..]);
        }
        17 => {
            let ours = udp::Packet::new_checked(l4);
            let theirs = UdpHeaderSlice::from_slice(l4);
            match (ours, theirs) {
                (Ok(ours), Ok(theirs)) => {
                    assert_eq!(ours.src_port(), theirs.source_port());
                    assert_eq!(ours.dst_port(), theirs.destination_port());
                    assert_eq!(ours.len(), theirs.length());
                    assert_eq!(ours.checksum(), theirs.checksum());
                    assert_eq!(ours.payload(), &l4[8..usize::from(theirs.length())]);
                }
                (Ok(_), Err(e)) => panic!("encap accepts a UDP header etherparse rejects: {e:?}"),
                (Err(_), Ok(theirs)) => {
                    let len = usize::from(theirs.length());
                    assert!(len < 8 || len > l4.len(), "encap rejects a good UDP header");
                }
                (Err(_), Err(_)) => assert!(l4.len() < 8),
            }
        }
        _ => {}
    }
});
