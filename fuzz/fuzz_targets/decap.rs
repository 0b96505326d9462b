//! A packet from the raw GRE socket, any bytes: `decap` never panics, and what it accepts is
//! what the bytes say, checked here field by field without encap's views.
#![no_main]

use grebe_fuzz::checksum_ok;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|packet: &[u8]| {
    let Ok(d) = encap::decap(packet) else {
        return;
    };
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    assert_eq!(packet[0] >> 4, 4);
    assert!(ihl >= 20 && ihl <= total && total <= packet.len());
    assert!(
        checksum_ok(&[&packet[..ihl]]),
        "outer checksum not verified"
    );
    assert_eq!(
        u16::from_be_bytes([packet[6], packet[7]]) & 0x3fff,
        0,
        "a fragment"
    );
    assert_eq!(packet[9], 47);
    assert_eq!(d.outer.protocol, 47);
    assert_eq!(d.outer.payload_len, total - ihl);
    assert_eq!(d.outer.src_addr.octets(), packet[12..16]);
    assert_eq!(d.outer.dst_addr.octets(), packet[16..20]);
    assert_eq!(d.outer.ttl, packet[8]);
    assert_eq!(d.outer.tos, packet[1]);

    let gre = &packet[ihl..total];
    let (c, k, s) = (gre[0] & 0x80 != 0, gre[0] & 0x20 != 0, gre[0] & 0x10 != 0);
    assert_eq!(gre[1] & 0x07, 0, "GRE version");
    assert_eq!(gre[0] & 0x40, 0, "routing present");
    assert_eq!(u16::from_be_bytes([gre[2], gre[3]]), 0x6558);
    let mut at = 4 + 4 * usize::from(c);
    let word = |at: usize| u32::from_be_bytes([gre[at], gre[at + 1], gre[at + 2], gre[at + 3]]);
    assert_eq!(d.gre.csum, c);
    if c {
        assert!(checksum_ok(&[gre]), "GRE checksum not verified");
    }
    assert_eq!(d.gre.key, k.then(|| word(at)));
    at += 4 * usize::from(k);
    assert_eq!(d.gre.seq, s.then(|| word(at)));
    at += 4 * usize::from(s);
    assert_eq!(d.frame, ihl + at..total);
    assert!(d.frame.len() >= 14);

    // What the trace tools print of the same bytes agrees on where the frame is.
    let dissection = encap::dissect::dissect(packet, encap::dissect::Start::Ipv4);
    let eth = dissection
        .headers
        .iter()
        .find(|h| h.protocol == encap::dissect::Protocol::Ethernet)
        .expect("dissect finds the Ethernet frame decap found");
    assert_eq!(eth.start, d.frame.start);
});
