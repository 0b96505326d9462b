//! The "too big" reply to any frame at any MTU: when one is due it is a valid Ethernet frame
//! back to the sender with an IPv4/ICMP "fragmentation needed" or IPv6/ICMPv6 "packet too big"
//! inside, lengths and checksums right, quoting the start of the offending packet; when none is
//! due (the module's rules), nothing is written that matters.
#![no_main]

use encap::too_big::{MAX_REPLY_LEN, reply};
use grebe_fuzz::{checksum_ok, l3_of, pseudo_v6};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [m0, m1, frame @ ..] = data else {
        return;
    };
    let mtu = u16::from_be_bytes([*m0, *m1]);
    let mut out = vec![0u8; MAX_REPLY_LEN];
    assert_eq!(
        reply(frame, mtu, &mut out[..MAX_REPLY_LEN - 1]),
        None,
        "short buffer"
    );
    let Some(n) = reply(frame, mtu, &mut out) else {
        return;
    };
    assert!(n <= MAX_REPLY_LEN);
    let r = &out[..n];
    assert_eq!(r[..6], frame[6..12], "not sent back to the sender");
    assert_eq!(r[6..12], frame[..6]);
    assert_eq!(frame[6] & 1, 0, "answered a multicast source");
    let (ethertype, l3) = l3_of(frame).unwrap();
    assert_eq!(l3_of(r), Some((ethertype, l3)));
    assert_eq!(r[12..l3], frame[12..l3], "the tag changed");
    let (ip, orig) = (&r[l3..], &frame[l3..]);
    match ethertype {
        0x0800 => {
            assert!(ip.len() <= 576);
            assert_eq!(ip[0], 0x45);
            assert_eq!(usize::from(u16::from_be_bytes([ip[2], ip[3]])), ip.len());
            assert!(checksum_ok(&[&ip[..20]]), "IPv4 header checksum");
            assert_eq!(ip[9], 1);
            assert!(ip[8] > 0);
            assert_eq!(ip[12..16], orig[16..20]);
            assert_eq!(ip[16..20], orig[12..16]);
            let frag = u16::from_be_bytes([orig[6], orig[7]]);
            assert!(
                frag & 0x4000 != 0 && frag & 0x1fff == 0,
                "not a first fragment with DF"
            );
            let icmp = &ip[20..];
            assert_eq!(icmp[..2], [3, 4]);
            assert_eq!(icmp[6..8], mtu.to_be_bytes());
            assert!(checksum_ok(&[icmp]), "ICMP checksum");
            assert_eq!(icmp[8..], orig[..icmp.len() - 8], "quote");
        }
        0x86dd => {
            assert!(ip.len() <= 1280);
            assert_eq!(ip[0] >> 4, 6);
            let payload_len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
            assert_eq!(payload_len + 40, ip.len());
            assert_eq!(ip[6], 58);
            assert!(ip[7] > 0);
            assert_eq!(ip[8..24], orig[24..40]);
            assert_eq!(ip[24..40], orig[8..24]);
            let icmp = &ip[40..];
            assert_eq!(icmp[..2], [2, 0]);
            assert_eq!(icmp[4..8], u32::from(mtu).to_be_bytes());
            let pseudo = pseudo_v6(&ip[8..24], &ip[24..40], 58, icmp.len());
            assert!(checksum_ok(&[&pseudo, icmp]), "ICMPv6 checksum");
            assert_eq!(icmp[8..], orig[..icmp.len() - 8], "quote");
        }
        other => panic!("a reply to EtherType {other:#06x}"),
    }
});
