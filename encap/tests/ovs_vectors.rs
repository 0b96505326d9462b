//! Real-world vectors next to the RFC-derived ones: GRE packets that Open vSwitch 3.1 (Debian
//! 12's openvswitch-switch, userspace datapath) sent to a grebe peer, captured on the transport
//! switch and kept in `tests/data/ovs-gre-*.pcap` at the workspace root. Every packet must
//! `decap` with the key, checksum and sequence number OVS was configured with, carry an Ethernet
//! frame, and be what `OuterHeader::emit` writes for the same tunnel, byte for byte.
//!
//! The files were made by `tests/interop.rs`'s `regenerate_ovs_vectors` (root, OVS and tshark
//! installed): an OVS host 192.0.2.1 with a tunnel to a grebe host 192.0.2.2, both configured
//! with the options of each file, grebe pinging OVS, and in the transport namespace
//!
//! ```text
//! tshark -i sw0 -f "ip proto 47 and src host 192.0.2.1" -c 4 -F pcap -w tests/data/NAME.pcap
//! ```
//!
//! Regenerate them with `cargo test --test interop -- --ignored regenerate_ovs_vectors`.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use encap::ethernet::{self, EtherType, Frame};
use encap::{Error, OuterHeader, decap};

/// A classic pcap file's packets (link-layer frames). Panics on anything but a well-formed,
/// untruncated, Ethernet capture: these are fixed test files.
fn read_pcap(name: &str) -> Vec<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name);
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(data.len() >= 24, "{name}: no pcap global header");
    // The magic number tells the byte order of every other field (and µs or ns timestamps,
    // which do not matter here).
    let magic = u32::from_le_bytes(data[0..4].try_into().unwrap());
    let little = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        _ => panic!("{name}: not a classic pcap file (magic {magic:#x})"),
    };
    let u32_at = |at: usize| {
        let b: [u8; 4] = data[at..at + 4].try_into().unwrap();
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    assert_eq!(u32_at(20), 1, "{name}: link type is not Ethernet");
    let mut packets = Vec::new();
    let mut at = 24;
    while at < data.len() {
        assert!(at + 16 <= data.len(), "{name}: truncated record header");
        let captured = u32_at(at + 8) as usize;
        let original = u32_at(at + 12) as usize;
        assert_eq!(captured, original, "{name}: packet cut by the snap length");
        let start = at + 16;
        assert!(start + captured <= data.len(), "{name}: truncated packet");
        packets.push(data[start..start + captured].to_vec());
        at = start + captured;
    }
    packets
}

/// The outer IPv4 packet inside a captured Ethernet frame.
fn ipv4_of(frame: &[u8]) -> &[u8] {
    assert_eq!(&frame[12..14], &[0x08, 0x00], "outer EtherType is not IPv4");
    &frame[ethernet::HEADER_LEN..]
}

/// RFC 1071 the plain way, independent of the crate: does `data` sum to 0xffff?
fn reference_checksum_ok(data: &[u8]) -> bool {
    let mut total: u64 = data
        .chunks(2)
        .map(|p| (u64::from(p[0]) << 8) | p.get(1).map_or(0, |&b| u64::from(b)))
        .sum();
    while total > 0xffff {
        total = (total >> 16) + (total & 0xffff);
    }
    total == 0xffff
}

/// What OVS was configured with for one file.
struct Expect {
    key: Option<u32>,
    csum: bool,
    seq: bool,
}

/// Checks every packet of `name`: decap, the GRE fields, the inner frame, and that grebe's emit
/// writes the same outer headers. Returns how many packets carried inner IPv4 ICMP.
fn check_file(name: &str, expect: &Expect) -> usize {
    let packets = read_pcap(name);
    assert!(packets.len() >= 3, "{name}: only {} packets", packets.len());
    let mut icmp = 0;
    let mut last_seq = None;
    for (i, frame) in packets.iter().enumerate() {
        let ip = ipv4_of(frame);
        let d = decap(ip).unwrap_or_else(|e| panic!("{name} packet {i}: {e}"));
        // OVS's outer header: its defaults, as grebe's.
        assert_eq!(d.outer.src_addr, Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(d.outer.dst_addr, Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!((d.outer.ttl, d.outer.tos, d.outer.dont_frag), (64, 0, true));
        assert_eq!(d.gre.protocol, EtherType::TransparentEthernetBridging);
        assert_eq!(d.gre.key, expect.key, "{name} packet {i}: key");
        assert_eq!(d.gre.csum, expect.csum, "{name} packet {i}: checksum");
        assert_eq!(d.gre.seq.is_some(), expect.seq, "{name} packet {i}: seq");
        if let Some(seq) = d.gre.seq {
            assert!(
                last_seq.is_none_or(|l| seq > l),
                "{name}: seq not increasing"
            );
            last_seq = Some(seq);
        }
        let gre = &ip[20..usize::from(u16::from_be_bytes([ip[2], ip[3]]))];
        if expect.csum {
            assert!(reference_checksum_ok(gre), "{name} packet {i}: checksum");
        }

        // The inner frame is Ethernet with what a host sends: ARP, IPv4 or IPv6.
        let inner = Frame::new_checked(&ip[d.frame.clone()]).unwrap();
        assert!(!inner.src_addr().is_zero() && !inner.src_addr().is_broadcast());
        match inner.ethertype() {
            EtherType::Ipv4 => {
                let payload = inner.payload();
                if payload[9] == 1 {
                    icmp += 1;
                }
            }
            EtherType::Arp | EtherType::Ipv6 => {}
            other => panic!("{name} packet {i}: inner EtherType {other:?}"),
        }

        // grebe, given the same tunnel and frame, writes the same outer IPv4 and GRE headers.
        let tunnel = OuterHeader {
            src: d.outer.src_addr,
            key: expect.key,
            csum: expect.csum,
            seq: expect.seq,
            ..OuterHeader::new(d.outer.dst_addr)
        };
        let mut header = [0u8; encap::tunnel::MAX_OUTER_LEN];
        let len = tunnel
            .emit(&mut header, &ip[d.frame.clone()], d.gre.seq.unwrap_or(0))
            .unwrap();
        assert_eq!(len, d.frame.start, "{name} packet {i}: header length");
        assert_eq!(
            &header[..len],
            &ip[..len],
            "{name} packet {i}: grebe's headers differ from OVS's"
        );
    }
    icmp
}

#[test]
fn ovs_plain_gre() {
    let expect = Expect {
        key: None,
        csum: false,
        seq: false,
    };
    assert!(check_file("ovs-gre-plain.pcap", &expect) >= 1);
}

#[test]
fn ovs_gre_with_key() {
    let expect = Expect {
        key: Some(5),
        csum: false,
        seq: false,
    };
    assert!(check_file("ovs-gre-key.pcap", &expect) >= 1);
}

#[test]
fn ovs_gre_with_checksum() {
    let expect = Expect {
        key: None,
        csum: true,
        seq: false,
    };
    assert!(check_file("ovs-gre-csum.pcap", &expect) >= 1);
}

#[test]
fn ovs_gre_with_key_and_checksum() {
    let expect = Expect {
        key: Some(0x1234_5678),
        csum: true,
        seq: false,
    };
    assert!(check_file("ovs-gre-key-csum.pcap", &expect) >= 1);
}

#[test]
fn ovs_gre_with_sequence_numbers() {
    let expect = Expect {
        key: None,
        csum: false,
        seq: true,
    };
    assert!(check_file("ovs-gre-seq.pcap", &expect) >= 1);
}

/// OVS 3.1's userspace datapath computes the GRE checksum before it writes the sequence number
/// into the header (`netdev_gre_push_header`), so with `csum=true` and `seq=true` only the
/// packet with sequence number 0 has a right checksum. grebe checks the checksum over the
/// header as received (RFC 2784 2.5, and what Linux and Wireshark do) and drops the others.
#[test]
fn ovs_gre_checksum_with_sequence_numbers_is_wrong_unless_seq_is_zero() {
    let packets = read_pcap("ovs-gre-csum-seq.pcap");
    let mut rejected = 0;
    for (i, frame) in packets.iter().enumerate() {
        let ip = ipv4_of(frame);
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let gre = &ip[20..total];
        assert_eq!(gre[0..2], [0x90, 0x00], "packet {i}: C and S bits");
        let seq = u32::from_be_bytes(gre[8..12].try_into().unwrap());
        // The independent checksum agrees with decap on every packet.
        let right = reference_checksum_ok(gre);
        assert_eq!(right, seq == 0, "packet {i}, seq {seq}");
        match decap(ip) {
            Ok(d) => {
                assert!(right, "packet {i}: accepted a wrong checksum");
                assert_eq!(d.gre.seq, Some(seq));
            }
            Err(e) => {
                assert!(!right, "packet {i}: rejected a right checksum ({e})");
                assert_eq!(e, Error::BadChecksum);
                rejected += 1;
            }
        }
        // OVS's checksum is the one of the header with the sequence number still 0.
        let mut zeroed = gre.to_vec();
        zeroed[8..12].fill(0);
        assert!(reference_checksum_ok(&zeroed), "packet {i}");
    }
    assert!(rejected >= 1, "no packet shows the difference");
}
