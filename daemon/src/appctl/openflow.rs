//! `openflow/show`: the bridges' OpenFlow management sockets and controllers, and what they
//! have refused.

use std::fmt::Write as _;

use crate::registry::Registry;
use crate::state::DaemonState;

pub fn register(r: &mut Registry<DaemonState>) {
    r.reply(
        "openflow/show",
        "OpenFlow management connections, messages, and the messages refused by reason",
        0..=0,
        |state, _, _| Ok(show(state)),
    );
}

fn show(state: &DaemonState) -> String {
    let c = &state.openflow;
    let mut s = String::new();
    for (bridge, b) in &state.config.bridges {
        let _ = writeln!(
            s,
            "{bridge}: management socket {bridge}.mgmt (OpenFlow 1.0, 1.3)"
        );
        for target in &b.controller {
            let n = c
                .controllers
                .get(&(bridge.clone(), target.clone()))
                .copied()
                .unwrap_or(0);
            let _ = writeln!(s, "  controller {target}: {n} session(s)");
        }
    }
    let _ = writeln!(s, "connections: {}", c.connections);
    let _ = writeln!(s, "messages: {}", c.messages);
    for (reason, n) in &c.refused {
        let _ = writeln!(s, "refused {reason}: {n}");
    }
    s
}
