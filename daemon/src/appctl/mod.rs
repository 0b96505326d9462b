//! ovs-appctl's commands that show what the datapath does: `dpif/show` (`dpif`), the MAC table
//! (`fdb`), the spanning tree (`tree`), Prometheus' text (`metrics`), a
//! line a port (`health`), and `version`. `ofproto/trace` registers itself in
//! `crate::trace`.

mod dpif;
mod fdb;
mod health;
pub mod metrics;
mod openflow;
mod ovsdb;
mod tree;

use crate::registry::Registry;
use crate::state::DaemonState;

pub fn register(r: &mut Registry<DaemonState>) {
    r.reply("version", "grebe's version", 0..=0, |_, _, _| {
        Ok(format!("grebe {}\n", env!("CARGO_PKG_VERSION")))
    });
    dpif::register(r);
    fdb::register(r);
    tree::register(r);
    metrics::register(r);
    health::register(r);
    ovsdb::register(r);
    openflow::register(r);
}

pub(crate) fn no_bridge(bridge: &str) -> String {
    format!("no such bridge {bridge} (grebe vsctl list-br lists them)\n")
}
