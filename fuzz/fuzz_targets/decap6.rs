//! A packet from the raw IPv6 GRE socket (with the IPv6 header rebuilt in front), any bytes:
//! `decap_ipv6` never panics, and what it accepts is what the bytes say, checked here field by
//! field without encap's views.
#![no_main]

use grebe_fuzz::checksum_ok;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|packet: &[u8]| {
    let Ok(d) = encap::decap_ipv6(packet) else {
        return;
    };
    let payload_len = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
    assert_eq!(packet[0] >> 4, 6);
    assert!(40 + payload_len <= packet.len());
    assert_eq!(packet[6], 47, "next header");
    assert_eq!(d.outer.payload_len, payload_len);
    assert_eq!(d.outer.hop_limit, packet[7]);
    assert_eq!(d.outer.traffic_class, (packet[0] << 4) | (packet[1] >> 4));
    assert_eq!(
        d.outer.flow_label,
        u32::from_be_bytes([0, packet[1] & 0x0f, packet[2], packet[3]])
    );
    assert_eq!(d.outer.src_addr.octets(), packet[8..24]);
    assert_eq!(d.outer.dst_addr.octets(), packet[24..40]);

    let gre = &packet[40..40 + payload_len];
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
    assert_eq!(d.frame, 40 + at..40 + payload_len);
    assert!(d.frame.len() >= 14);
});
