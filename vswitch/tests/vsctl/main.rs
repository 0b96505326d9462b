//! `ovs-vsctl` command lines run through `vswitch::vsctl::run` against a `Config`, with their
//! output, messages and exit codes (OVS 3.1's, checked against the real one).

mod clients;
mod commands;
mod errors;
mod formats;
mod ifupdown;
mod output;
mod transactions;
mod vlan;

pub use std::collections::BTreeMap;

pub use vswitch::config::{Bridge, Config, Interface, InterfaceType, VlanMode};
pub use vswitch::seed::Seed;
pub use vswitch::vsctl::{LiveState, NoLiveState, Outcome, SHOW_ID, run};

/// A daemon with fixed live facts.
#[derive(Default)]
pub struct FakeLive {
    pub errors: BTreeMap<String, String>,
    pub stats: BTreeMap<String, Vec<(String, u64)>>,
    pub mtu: BTreeMap<String, u32>,
    pub ofport: BTreeMap<String, i64>,
    pub mac: BTreeMap<String, String>,
    /// (admin up, link up)
    pub state: BTreeMap<String, (bool, bool)>,
}

impl LiveState for FakeLive {
    fn interface_error(&self, iface: &str) -> Option<String> {
        self.errors.get(iface).cloned()
    }
    fn interface_statistics(&self, iface: &str) -> Vec<(String, u64)> {
        self.stats.get(iface).cloned().unwrap_or_default()
    }
    fn interface_mtu(&self, iface: &str) -> Option<u32> {
        self.mtu.get(iface).copied()
    }
    fn ofport(&self, iface: &str) -> Option<i64> {
        self.ofport.get(iface).copied()
    }
    fn interface_mac_in_use(&self, iface: &str) -> Option<String> {
        self.mac.get(iface).cloned()
    }
    fn interface_admin_up(&self, iface: &str) -> Option<bool> {
        self.state.get(iface).map(|s| s.0)
    }
    fn interface_link_up(&self, iface: &str) -> Option<bool> {
        self.state.get(iface).map(|s| s.1)
    }
}

pub fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

pub fn vs_live(cfg: &mut Config, live: &dyn LiveState, a: &[&str]) -> Outcome {
    run(cfg, &args(a), live)
}

pub fn vs(cfg: &mut Config, a: &[&str]) -> Outcome {
    vs_live(cfg, &NoLiveState, a)
}

/// Runs a command that must succeed; returns its stdout.
#[track_caller]
pub fn ok(cfg: &mut Config, a: &[&str]) -> String {
    let o = vs(cfg, a);
    assert_eq!(o.exit_code, 0, "{a:?}: {o:?}");
    assert_eq!(o.stderr, "", "{a:?}");
    o.stdout
}

/// Runs a command that must fail with exit 1 and `msg`, leaving the
/// configuration byte-identical.
#[track_caller]
pub fn err(cfg: &mut Config, a: &[&str], msg: &str) {
    let before = serde_json::to_vec(cfg).unwrap();
    let o = vs(cfg, a);
    assert_eq!(
        o,
        Outcome {
            stdout: String::new(),
            stderr: format!("ovs-vsctl: {msg}\n"),
            exit_code: 1,
            changed: false,
        },
        "{a:?}"
    );
    assert_eq!(
        serde_json::to_vec(cfg).unwrap(),
        before,
        "{a:?} changed the config"
    );
}

/// The seed (br-int, internal mgmt0, gre0 to 192.0.2.15) from the command lines every seed host
/// is built with.
pub fn seed() -> Config {
    let mut c = Config::default();
    let seed = Seed {
        remotes: &["192.0.2.15"],
        ..Seed::default()
    };
    for argv in seed.commands().all() {
        let a: Vec<&str> = argv.iter().map(String::as_str).collect();
        ok(&mut c, &a);
    }
    c
}
