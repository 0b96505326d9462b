//! A session's bytes from any peer: cut into messages, each decoded in 1.0 and 1.3, and a
//! FLOW_MOD or flow-stats body decoded too, never a panic. A decoded flow-mod whose match is
//! installed in a table gives lookups that agree with the table's own scan through the cache.
#![no_main]

use flowtable::{Flow, FlowCache, FlowTable, Key};
use libfuzzer_sys::fuzz_target;
use openflow::{Framer, VERSION_1_0, VERSION_1_3};

fuzz_target!(|bytes: &[u8]| {
    let mut framer = Framer::new();
    framer.push(bytes);
    let mut table = FlowTable::new();
    while let Some(Ok(m)) = framer.next_message() {
        for version in [VERSION_1_0, VERSION_1_3] {
            let _ = openflow::decode(&m, Some(version));
            let _ = openflow::decode_flow_stats_request(version, &m[8..]);
            if let Ok(fm) = openflow::decode_flow_mod(version, &m[8..]) {
                let _ = fm.check();
                table.add(Flow::new(fm.priority, fm.m, fm.actions, fm.cookie, 0));
            }
        }
    }
    // The message bytes as frames: the cache agrees with the scan.
    let mut cache = FlowCache::new();
    for frame in bytes.chunks(64) {
        let k = Key::extract(frame, u32::from(frame.first().copied().unwrap_or(0) % 4));
        let scanned = table.lookup(&k).map(|f| (f.priority, f.m.clone()));
        assert_eq!(cache.lookup(&table, &k).map(|f| (f.priority, f.m.clone())), scanned);
        assert_eq!(cache.lookup(&table, &k).map(|f| (f.priority, f.m.clone())), scanned);
    }
});
