//! The daemon's state: the configuration, the datapath it is applied to, and why an interface
//! is not (fully) in the datapath. Changes come as ovs-vsctl command lines; commands read it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use datapath::{BridgeSettings, Datapath, PortKind, PortStats};
use vswitch::config::{Bridge, Config, Interface, InterfaceType};
use vswitch::vsctl;

use crate::control::Reply;
use crate::port_vlan;

/// The daemon's state, behind one mutex taken by control requests (never by the packet loop).
pub struct DaemonState {
    pub config: Config,
    pub datapath: Datapath,
    /// Why an interface in the configuration is not (fully) in the datapath, as OVS's `error`.
    pub errors: BTreeMap<String, String>,
    pub db: PathBuf,
    pub started: Instant,
    /// Where the configuration comes from in OVSDB mode (`--ovsdb`); None in standalone mode.
    pub ovsdb: Option<OvsdbStatus>,
    /// What the bridges' OpenFlow management sockets have seen.
    pub openflow: crate::openflow_channel::OpenflowCounters,
    /// Each bridge's OpenFlow management socket (`<rundir>/BR.mgmt`).
    pub mgmt_sockets: crate::openflow_channel::MgmtSockets,
    /// Bridges' OpenFlow tables, once a flow-mod made one (see `openflow_flows`).
    pub flows: BTreeMap<String, flowtable::FlowTable>,
    /// Bridges whose table changed since the datapath last had it.
    pub flows_changed: std::collections::BTreeSet<String>,
}

/// How an OVSDB-mode daemon stands with its database (`appctl ovsdb/show`, `vsctl show`).
#[derive(Debug, Clone, Default)]
pub struct OvsdbStatus {
    /// The remotes as given to `--ovsdb`.
    pub remotes: String,
    /// The remote of the connection now, and since when; None while disconnected.
    pub connected: Option<(String, Instant)>,
    /// The last `next_cfg` applied and written back as `cur_cfg`.
    pub cur_cfg: i64,
    /// Database settings grebe does not act on, one sentence each.
    pub ignored: Vec<String>,
    /// Interfaces in the database that are not in the datapath, with why.
    pub refused: BTreeMap<String, String>,
}

impl DaemonState {
    /// Why each interface is not (fully) carrying traffic: what the configuration could not
    /// apply, and system ports whose interface is missing now.
    pub fn interface_errors(&self, stats: &[PortStats]) -> BTreeMap<String, String> {
        let mut errors = self.errors.clone();
        for s in stats {
            if let Some(e) = &s.error {
                errors.entry(s.name.clone()).or_insert_with(|| e.clone());
            }
        }
        errors
    }
}

/// What the configuration asks the datapath for one interface.
fn desired_kind(name: &str, iface: &Interface) -> Result<PortKind, String> {
    match iface.kind {
        InterfaceType::Internal => Ok(PortKind::Internal {
            mtu_request: iface.mtu_request,
        }),
        InterfaceType::Gre | InterfaceType::Ip6gre => iface
            .gre_options_named(name)
            .map(PortKind::Tunnel)
            .map_err(|e| e.to_string()),
        // Whether the interface exists is the datapath's to follow: the port waits for it.
        InterfaceType::System => Ok(PortKind::System),
    }
}

impl DaemonState {
    /// Runs one ovs-vsctl command line: a change is saved, then applied, or neither.
    pub fn vsctl(&mut self, args: &[String]) -> Reply {
        let mut next = self.config.clone();
        let outcome = {
            let live = Live::new(self);
            vsctl::run(&mut next, args, &live)
        };
        let mut reply = Reply {
            exit_code: outcome.exit_code,
            stdout: outcome.stdout,
            stderr: outcome.stderr,
        };
        if outcome.changed && outcome.exit_code == 0 {
            if let Some(OvsdbStatus { remotes: db, .. }) = &self.ovsdb {
                // The database would undo the change at its next update.
                return Reply::error(
                    1,
                    format!(
                        "ovs-vsctl: this daemon takes its configuration from the OVSDB server \
                         at {db}: make the change there (ovs-vsctl --db={db} ...)\n"
                    ),
                );
            }
            if let Err(e) = next.save(&self.db) {
                // Not persisted means not applied: the running state must match the file.
                return Reply::error(
                    1,
                    format!("ovs-vsctl: cannot save the configuration: {e}\n"),
                );
            }
            self.config = next;
            self.reconcile();
            for (iface, error) in &self.errors {
                tracing::warn!(%iface, %error, "interface not in the datapath");
            }
            reply.exit_code = 0;
        }
        reply
    }

    /// Brings the datapath in line with the configuration. Failures are per interface: recorded
    /// in `errors` (shown by `show` and `get interface X error`), never fatal.
    pub fn reconcile(&mut self) {
        self.errors.clear();
        let dp = &mut self.datapath;
        let config = &self.config;
        let gone: Vec<String> = dp
            .bridge_names()
            .filter(|b| !config.bridges.contains_key(*b))
            .map(String::from)
            .collect();
        self.flows.retain(|b, _| config.bridges.contains_key(b));
        for b in gone {
            if let Err(e) = dp.del_bridge(&b) {
                tracing::error!(bridge = %b, error = %e, "cannot delete bridge");
            }
        }
        let mut desired = BTreeMap::new();
        for (bridge, b) in &config.bridges {
            for (name, iface) in &b.ports {
                desired.insert(name.as_str(), (bridge.as_str(), desired_kind(name, iface)));
            }
        }
        let stale: Vec<String> = dp
            .port_names()
            .filter(|p| match (desired.get(p), dp.port_kind(p)) {
                (Some((bridge, Ok(_))), Some((current, _))) => bridge != &current,
                _ => true,
            })
            .map(String::from)
            .collect();
        for p in stale {
            if let Err(e) = dp.del_port(&p) {
                tracing::error!(port = %p, error = %e, "cannot delete port");
            }
        }
        for (name, b) in &config.bridges {
            // validate() accepted the configuration, so its settings parse.
            let settings = match b.settings_named(name) {
                Ok(s) => BridgeSettings {
                    table: learning::Config {
                        max_entries: s.mac_table_size,
                        ageing: s.mac_aging_time,
                    },
                    split_horizon: s.tunnel_split_horizon,
                    pmtu: pmtu_settings(name, b),
                },
                Err(e) => {
                    tracing::error!(bridge = %name, error = %e, "bad bridge settings");
                    continue;
                }
            };
            let result = if dp.bridge_settings(name).is_some() {
                dp.set_bridge(name, settings)
            } else {
                dp.add_bridge(name, settings)
            };
            if let Err(e) = result {
                tracing::error!(bridge = %name, error = %e, "cannot configure bridge");
            }
            // The bridge's local port first: its MAC is the bridge ID. A tree started with a
            // stand-in ID and given the real one a moment later leaves the stand-in in every
            // neighbour's BPDUs as a phantom root, which a full mesh counts to infinity.
            if let Some((bridge, kind)) = desired.get(name.as_str()) {
                if dp.port_kind(name).is_none() {
                    if let Err(e) = place_port(dp, config, name, bridge, kind.clone()) {
                        self.errors.insert(name.to_owned(), e);
                    }
                }
            }
            // Before the other ports: a new tunnel on a spanning tree bridge must start blocked,
            // or a full mesh loops broadcasts until the tree is up.
            if let Err(e) = configure_tree(dp, name, b) {
                tracing::error!(bridge = %name, error = %e, "cannot configure spanning tree");
            }
        }
        for (name, (bridge, kind)) in desired {
            if let Err(e) = place_port(dp, config, name, bridge, kind) {
                self.errors.insert(name.to_owned(), e);
            }
        }
        // Each port's VLANs, once it is in the datapath.
        for b in config.bridges.values() {
            for (name, iface) in &b.ports {
                if dp.port_kind(name).is_none() {
                    continue;
                }
                let (vlan, partial) =
                    port_vlan::port_vlan(name, iface.tag, &iface.trunks, iface.vlan_mode);
                if let Err(e) = dp.set_port_vlan(name, vlan) {
                    self.errors.insert(name.clone(), error_chain(&e));
                } else if let Some(e) = partial {
                    self.errors.insert(name.clone(), e);
                }
            }
        }
        // Again with the ports in place: their settings, and the local port's MAC for the ID.
        for (name, b) in &config.bridges {
            if let Err(e) = configure_tree(dp, name, b) {
                tracing::error!(bridge = %name, error = %e, "cannot configure spanning tree");
            }
        }
        if let Err(e) = dp.sync() {
            tracing::error!(error = %e, "datapath is not running");
        }
        crate::openflow_flows::follow_fail_modes(self);
        self.mgmt_sockets.sync(self.config.bridges.keys());
    }
}

/// Adds the port to the datapath, or brings an existing one to `kind`.
fn place_port(
    dp: &mut Datapath,
    config: &Config,
    name: &str,
    bridge: &str,
    kind: Result<PortKind, String>,
) -> Result<(), String> {
    match kind {
        Err(e) => Err(e),
        Ok(kind) if dp.port_kind(name).is_some() => {
            dp.set_port(name, kind).map_err(|e| error_chain(&e))
        }
        Ok(kind) => {
            // A new port starts in its VLANs (set again afterwards, with their errors).
            let iface = &config.bridges[bridge].ports[name];
            let (vlan, _) = port_vlan::port_vlan(name, iface.tag, &iface.trunks, iface.vlan_mode);
            dp.add_port(bridge, name, kind, vlan)
                .map_err(|e| error_chain(&e))
        }
    }
}

/// The bridge's path MTU helpers: `other_config:mss-clamp` and `other_config:icmp-too-big`,
/// each `true` (the default) or `false`. Another value is logged and the default kept, as OVS
/// does with a bridge's other_config it cannot parse.
fn pmtu_settings(bridge: &str, b: &Bridge) -> datapath::PmtuSettings {
    let flag = |key: &str| match b.other_config.get(key).map(String::as_str) {
        None | Some("true") => true,
        Some("false") => false,
        Some(other) => {
            tracing::warn!(%bridge, "other_config:{key}={other} must be true or false; using true");
            true
        }
    };
    datapath::PmtuSettings {
        mss_clamp: flag("mss-clamp"),
        icmp_too_big: flag("icmp-too-big"),
    }
}

/// Starts, changes or stops the bridge's spanning tree and sets each port's part in it. The
/// bridge ID defaults to the MAC of the bridge's local port, as OVS's does.
fn configure_tree(dp: &mut Datapath, name: &str, b: &Bridge) -> anyhow::Result<()> {
    let local_mac = datapath::interface_mac(name).unwrap_or_else(|_| name_mac(name));
    let tree = b.tree_settings(name, local_mac)?;
    if let Some(t) = tree {
        for (port, iface) in &b.ports {
            if dp.port_kind(port).is_some() {
                dp.set_tree_port(port, iface.tree_port_settings(port, t.protocol)?)?;
            }
        }
    }
    dp.set_spanning_tree(name, tree)?;
    Ok(())
}

/// A stable, locally administered address made from a name, for a bridge whose local port has
/// no readable MAC.
pub(crate) fn name_mac(name: &str) -> [u8; 6] {
    let mut mac = [0x02, 0, 0, 0, 0, 0];
    for (i, byte) in name.bytes().enumerate() {
        mac[1 + i % 5] ^= byte.rotate_left(i as u32 / 5);
    }
    mac
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// The live facts `show` and `get` read, gathered once per command.
pub(crate) struct Live<'a> {
    stats: BTreeMap<String, PortStats>,
    errors: &'a BTreeMap<String, String>,
    ignored: Vec<String>,
    controllers: &'a BTreeMap<(String, String), u32>,
}

impl<'a> Live<'a> {
    pub(crate) fn new(state: &'a DaemonState) -> Self {
        Live {
            stats: state
                .datapath
                .port_stats()
                .into_iter()
                .map(|s| (s.name.clone(), s))
                .collect(),
            errors: &state.errors,
            controllers: &state.openflow.controllers,
            ignored: state
                .ovsdb
                .iter()
                .flat_map(|o| {
                    let refused = o
                        .refused
                        .iter()
                        .map(|(iface, why)| format!("Interface {iface}: {why}"));
                    o.ignored.iter().cloned().chain(refused)
                })
                .collect(),
        }
    }
}

impl Live<'_> {
    /// A port whose interface is open. OVS clears `admin_state`, `link_state` and `mac_in_use`
    /// of an interface it could not open (`iface_clear_db_record`), so these are empty then.
    fn opened(&self, iface: &str) -> Option<&PortStats> {
        self.stats.get(iface).filter(|s| s.error.is_none())
    }
}

impl vsctl::LiveState for Live<'_> {
    fn interface_error(&self, iface: &str) -> Option<String> {
        self.errors
            .get(iface)
            .cloned()
            .or_else(|| self.stats.get(iface)?.error.clone())
    }

    fn interface_statistics(&self, iface: &str) -> Vec<(String, u64)> {
        let Some(s) = self.stats.get(iface) else {
            return Vec::new();
        };
        let c = s.counters;
        // A port with an interface: the kernel's own drop and error counts are added, as OVS
        // reports a netdev's; grebe's own refusals are in tx_dropped too.
        let k = s.kernel.unwrap_or_default();
        let mut stats = vec![
            ("rx_bytes".into(), c.rx_bytes),
            ("rx_packets".into(), c.rx_packets),
            ("tx_bytes".into(), c.tx_bytes),
            ("tx_dropped".into(), c.tx_dropped + k.tx_dropped),
            ("tx_packets".into(), c.tx_packets),
        ];
        if s.kernel.is_some() {
            stats.extend([
                ("rx_dropped".into(), k.rx_dropped),
                ("rx_errors".into(), k.rx_errors),
                ("tx_errors".into(), k.tx_errors),
            ]);
            // The rest of what OVS reports for a Linux netdev (netdev-linux), by OVS's names;
            // they have no direction, so a TAP's are not swapped.
            for (ovs, kernel) in KERNEL_ONLY_COUNTERS {
                let n =
                    std::fs::read_to_string(format!("/sys/class/net/{iface}/statistics/{kernel}"))
                        .ok()
                        .and_then(|n| n.trim().parse().ok())
                        .unwrap_or(0);
                stats.push((ovs.into(), n));
            }
        }
        // OVS's names for a port's BPDU counts (its Port table statistics).
        if c.bpdu_tx + c.bpdu_rx + c.bpdu_errors > 0 {
            stats.extend([
                ("stp_error_count".into(), c.bpdu_errors),
                ("stp_rx_count".into(), c.bpdu_rx),
                ("stp_tx_count".into(), c.bpdu_tx),
            ]);
        }
        stats
    }

    fn interface_mtu(&self, iface: &str) -> Option<u32> {
        self.stats.get(iface).and_then(|s| s.mtu)
    }

    /// As OVS: -1 for an interface that could not be opened (a system port whose interface is
    /// missing, a port the configuration could not apply), the port number otherwise.
    fn ofport(&self, iface: &str) -> Option<i64> {
        match self.opened(iface) {
            Some(s) => Some(i64::from(s.port_no)),
            None if self.interface_error(iface).is_some() => Some(-1),
            None => None,
        }
    }

    /// An interface's own MAC; for a tunnel, which has none, a stable locally administered one
    /// made from its name (OVS shows a random one it made for the tunnel's netdev).
    fn interface_mac_in_use(&self, iface: &str) -> Option<String> {
        let s = self.opened(iface)?;
        match &s.mac_in_use {
            Some(mac) => Some(mac.clone()),
            None if s.remote_ip.is_some() => {
                Some(encap::ethernet::EthernetAddress(name_mac(iface)).to_string())
            }
            None => None,
        }
    }

    fn interface_admin_up(&self, iface: &str) -> Option<bool> {
        Some(self.opened(iface)?.admin_state == "up")
    }

    fn interface_link_up(&self, iface: &str) -> Option<bool> {
        Some(self.opened(iface)?.link_state == "up")
    }

    fn ignored(&self) -> Vec<String> {
        self.ignored.clone()
    }

    fn controller_connected(&self, bridge: &str, target: &str) -> bool {
        self.controller_sessions(bridge, target)
    }
}

impl Live<'_> {
    /// Whether any bridge has a session with the controller at `target`.
    pub(crate) fn controllers_connected(&self, target: &str) -> bool {
        self.controllers
            .iter()
            .any(|((_, t), n)| t == target && *n > 0)
    }

    fn controller_sessions(&self, bridge: &str, target: &str) -> bool {
        self.controllers
            .get(&(bridge.to_owned(), target.to_owned()))
            .is_some_and(|n| *n > 0)
    }
}

/// OVS's names for the kernel counters of a Linux interface it reports besides the basic eight,
/// with the kernel's (sysfs) names.
const KERNEL_ONLY_COUNTERS: [(&str, &str); 5] = [
    ("collisions", "collisions"),
    ("rx_crc_err", "rx_crc_errors"),
    ("rx_frame_err", "rx_frame_errors"),
    ("rx_missed_errors", "rx_missed_errors"),
    ("rx_over_err", "rx_over_errors"),
];
