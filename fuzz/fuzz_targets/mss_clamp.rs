//! MSS clamping of any frame at any MTU: only the MSS option and the TCP checksum may change,
//! only downwards to MTU minus headers, and a SYN whose TCP checksum was valid still has a
//! valid one. The first input byte picks options: bit 0 "checksum partial", bit 1 "fix the TCP
//! checksum before clamping" (random bytes almost never carry a valid one); then the MTU.
#![no_main]

use encap::mss::{Clamp, IPV4_TCP_HEADERS, IPV6_TCP_HEADERS, clamp};
use grebe_fuzz::{checksum_of, checksum_ok, l3_of, tcp_of};
use libfuzzer_sys::fuzz_target;

fn tcp_checksum_ok(frame: &[u8]) -> Option<bool> {
    let (l4, pseudo) = tcp_of(frame)?;
    (frame.len() >= l4 + 20).then(|| checksum_ok(&[&pseudo, &frame[l4..]]))
}

fuzz_target!(|data: &[u8]| {
    let [options, m0, m1, frame @ ..] = data else {
        return;
    };
    let partial = options & 1 != 0;
    let mtu = u16::from_be_bytes([*m0, *m1]);
    let mut frame = frame.to_vec();
    if options & 2 != 0
        && let Some((l4, pseudo)) = tcp_of(&frame)
        && frame.len() >= l4 + 20
    {
        frame[l4 + 16..l4 + 18].fill(0);
        let c = checksum_of(&[&pseudo, &frame[l4..]]);
        frame[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
    }
    let before = frame.clone();
    let valid_before = tcp_checksum_ok(&frame);
    let outcome = clamp(&mut frame, mtu, partial);
    match outcome {
        Clamp::NotSyn | Clamp::Unchanged => assert_eq!(frame, before, "{outcome:?} changed bytes"),
        Clamp::Clamped { from, to } => {
            assert!(to < from);
            let (ethertype, _) = l3_of(&frame).unwrap();
            let headers = if ethertype == 0x0800 {
                IPV4_TCP_HEADERS
            } else {
                IPV6_TCP_HEADERS
            };
            assert_eq!(to, mtu.saturating_sub(headers));
            let (l4, _) = tcp_of(&frame).expect("clamped a frame that is not TCP");
            assert!(before[l4 + 13] & 0x02 != 0, "clamped a segment without SYN");
            let changed: Vec<usize> = (0..frame.len())
                .filter(|&i| frame[i] != before[i])
                .collect();
            for &i in &changed {
                let in_checksum = (l4 + 16..l4 + 18).contains(&i);
                let in_options = i >= l4 + 20 && i < l4 + usize::from(frame[l4 + 12] >> 4) * 4;
                assert!(in_options || (in_checksum && !partial), "byte {i} changed");
            }
            if partial {
                assert_eq!(frame[l4 + 16..l4 + 18], before[l4 + 16..l4 + 18]);
            } else if valid_before == Some(true) {
                assert_eq!(
                    tcp_checksum_ok(&frame),
                    Some(true),
                    "clamping broke the checksum"
                );
            }
        }
    }
});
