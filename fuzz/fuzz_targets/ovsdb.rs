//! What an OVSDB server sends, from any bytes: cut into JSON values, read as messages, applied
//! to a replica as table updates, never a panic; a malformed update leaves the replica as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ovsdb::{Framer, Message, Replica};

fuzz_target!(|bytes: &[u8]| {
    let mut framer = Framer::new();
    framer.push(bytes);
    let mut replica = Replica::new();
    while let Some(Ok(v)) = framer.next_value() {
        // The value itself as table-updates, and as an update notification's.
        let before = replica.clone();
        if replica.apply(&v).is_err() {
            assert_eq!(replica, before);
        }
        if let Ok(Message::Notification { params, .. }) = Message::from_value(v) {
            if let Some(updates) = params.get(1) {
                let before = replica.clone();
                if replica.apply(updates).is_err() {
                    assert_eq!(replica, before);
                }
            }
        }
    }
});
