//! The trace tools' header walk over any bytes, from Ethernet and from IPv4: never a panic, and
//! every header and field it reports lies inside the bytes, in order, with the raw value the
//! bytes hold there.
#![no_main]

use std::fmt::Write as _;

use encap::dissect::{Start, dissect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    for start in [Start::Ethernet, Start::Ipv4] {
        let d = dissect(bytes, start);
        assert!(d.headers.len() <= 16, "the walk is bounded");
        assert!(d.rest <= bytes.len());
        let mut previous_end = 0;
        for h in &d.headers {
            assert!(h.start >= previous_end, "headers overlap: {:?}", d.headers);
            assert!(h.start + h.len <= bytes.len(), "{h:?} past the end");
            previous_end = h.start + h.len;
            let _ = h.layer();
        }
        if let Some(last) = d.headers.last() {
            assert_eq!(d.rest, last.start + last.len);
        }
        let mut text = String::new();
        for f in &d.fields {
            let h = d.headers[f.header];
            let bytes_of = f.bytes();
            assert!(
                bytes_of.start >= h.start && bytes_of.end <= h.start + h.len,
                "{f:?} outside {h:?}"
            );
            assert!(f.bits >= 1 && f.bits <= 48);
            let raw = (f.bit_offset..f.bit_offset + f.bits).fold(0u64, |raw, b| {
                (raw << 1) | u64::from(bytes[b / 8] >> (7 - b % 8) & 1)
            });
            assert_eq!(raw, f.raw, "{f:?}");
            write!(text, "{f}").unwrap();
        }
        if let Some(stop) = d.stop {
            assert!(stop.at <= bytes.len());
            write!(text, "{}", stop.error).unwrap();
        }
    }
});
