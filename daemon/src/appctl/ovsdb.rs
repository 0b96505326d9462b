//! `ovsdb/show`: where the configuration comes from, and in OVSDB mode how the daemon stands
//! with its database: the connection, the last `cur_cfg` written back, and what of the database
//! grebe ignores or could not make.

use std::fmt::Write as _;

use crate::registry::Registry;
use crate::state::DaemonState;

pub fn register(r: &mut Registry<DaemonState>) {
    r.reply(
        "ovsdb/show",
        "the OVSDB connection, cur_cfg, and what of the database grebe ignores",
        0..=0,
        |state, _, _| Ok(show(state)),
    );
}

fn show(state: &DaemonState) -> String {
    let Some(o) = &state.ovsdb else {
        return format!(
            "standalone: the configuration is {} (grebe daemon --ovsdb follows an OVSDB server instead)\n",
            state.db.display()
        );
    };
    let mut s = format!("remotes: {}\n", o.remotes);
    match &o.connected {
        Some((remote, since)) => {
            let _ = writeln!(s, "connected: {remote} for {} s", since.elapsed().as_secs());
        }
        None => s.push_str("connected: no (retrying; the datapath keeps the last configuration)\n"),
    }
    let _ = writeln!(s, "cur_cfg: {}", o.cur_cfg);
    if !o.ignored.is_empty() {
        s.push_str("ignored:\n");
        for what in &o.ignored {
            let _ = writeln!(s, "  {what}");
        }
    }
    if !o.refused.is_empty() {
        s.push_str("not in the datapath:\n");
        for (iface, why) in &o.refused {
            let _ = writeln!(s, "  {iface}: {why}");
        }
    }
    s
}
