//! BPDU decoding of any frame: never a panic, and what decodes re-encodes to a frame that
//! decodes to the same BPDU (with the fields the sender wrote, byte for byte).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stp::Bpdu;

fuzz_target!(|frame: &[u8]| {
    let Ok(bpdu) = Bpdu::parse(frame) else {
        return;
    };
    assert_eq!(frame[..6], [0x01, 0x80, 0xc2, 0, 0, 0]);
    let src: [u8; 6] = frame[6..12].try_into().unwrap();
    let again = bpdu.emit(src);
    assert_eq!(again[..12], frame[..12]);
    assert_eq!(Bpdu::parse(&again), Ok(bpdu), "{again:?}");
    if let Bpdu::Config(c) | Bpdu::Rst(c) = bpdu {
        assert!(c.message_age < c.max_age && c.hello_time > 0 && c.forward_delay > 0);
        // The body the sender wrote (after the LLC header and protocol/version/type).
        assert_eq!(again[21..21 + 31], frame[21..21 + 31]);
    }
});
