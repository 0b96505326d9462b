//! grebe in ovs-vswitchd's place beside a real `ovsdb-server` (`grebe daemon --ovsdb TARGET`):
//! the `Open_vSwitch` database is the configuration. A thread monitors the tables grebe
//! implements, turns them into the same [`Config`] the standalone mode keeps in its file,
//! applies it exactly as a vsctl change is applied, and writes back what ovs-vswitchd writes:
//! each interface's `ofport`, `error`, `mac_in_use`, states, `mtu` and `statistics`, the
//! bridge's `datapath_id`, and `cur_cfg`, which `ovs-vsctl` (without `--no-wait`) waits for.
//!
//! A lost connection keeps the datapath as it is (traffic goes on with the last configuration)
//! and is retried with backoff, through each remote in turn (the members of a clustered
//! database); the monitor's initial reply on reconnect replaces the replica whole, so whatever
//! changed meanwhile is picked up. A cluster member that is not connected to its cluster (the
//! `_Server` database says so) could serve stale data, so it is left for the next one, as OVS's
//! IDL does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::collections::BTreeSet;

use ovsdb::{Connection, Message, Remotes, Replica, Row, Target, datum};
use serde_json::{Value, json};
use vswitch::config::{Bridge, Config, Interface, InterfaceType, VlanMode};
use vswitch::vsctl::LiveState;

use crate::state::{DaemonState, Live, OvsdbStatus};

/// The database ovs-vswitchd serves.
const DATABASE: &str = "Open_vSwitch";
/// OVS's default `stats-update-interval`, and its floor.
const STATS_INTERVAL: Duration = Duration::from_secs(5);
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(8);
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// A session this long was a working one.
const HEALTHY_SESSION: Duration = Duration::from_secs(10);

/// The columns grebe reads or writes, per table. Columns the server's schema lacks (an older
/// OVS) are left out of the monitor.
const MONITORED: [(&str, &[&str]); 5] = [
    ("Controller", &["target", "is_connected"]),
    (
        "Open_vSwitch",
        &[
            "bridges",
            "next_cfg",
            "cur_cfg",
            "other_config",
            "ovs_version",
            "iface_types",
            "datapath_types",
            "dpdk_initialized",
        ],
    ),
    (
        "Bridge",
        &[
            "name",
            "ports",
            "other_config",
            "external_ids",
            "datapath_type",
            "stp_enable",
            "rstp_enable",
            "datapath_id",
            "status",
            "rstp_status",
            "controller",
            "fail_mode",
            "mirrors",
            "netflow",
            "sflow",
            "ipfix",
            "flood_vlans",
            "mcast_snooping_enable",
            "auto_attach",
        ],
    ),
    (
        "Port",
        &[
            "name",
            "interfaces",
            "tag",
            "trunks",
            "vlan_mode",
            "other_config",
            "status",
            "rstp_status",
            "qos",
            "lacp",
            "bond_mode",
            "cvlans",
            "protected",
        ],
    ),
    (
        "Interface",
        &[
            "name",
            "type",
            "options",
            "mtu_request",
            "other_config",
            "external_ids",
            "ofport",
            "error",
            "mac_in_use",
            "admin_state",
            "link_state",
            "mtu",
            "statistics",
            "ofport_request",
            "ingress_policing_rate",
            "ingress_policing_burst",
            "bfd",
            "cfm_mpid",
            "lldp",
        ],
    ),
];

/// Columns grebe reads only to say it ignores them: set to anything but their default, each
/// is reported once (`show`, `appctl ovsdb/show`, the log) and otherwise left alone.
const IGNORED: [(&str, &str, &str); 18] = [
    ("Bridge", "mirrors", "grebe has no port mirroring"),
    ("Bridge", "netflow", "grebe does not export NetFlow"),
    ("Bridge", "sflow", "grebe does not export sFlow"),
    ("Bridge", "ipfix", "grebe does not export IPFIX"),
    ("Bridge", "flood_vlans", "grebe learns MACs on every VLAN"),
    ("Bridge", "mcast_snooping_enable", "grebe floods multicast"),
    (
        "Bridge",
        "auto_attach",
        "grebe has no IEEE 802.1Qcb auto attach",
    ),
    ("Port", "qos", "grebe has no QoS queues"),
    ("Port", "lacp", "grebe has no bonds"),
    ("Port", "bond_mode", "grebe has no bonds"),
    (
        "Port",
        "cvlans",
        "grebe has no dot1q-tunnel customer VLAN lists",
    ),
    ("Port", "protected", "grebe has no protected ports"),
    ("Interface", "ofport_request", "grebe numbers ports itself"),
    (
        "Interface",
        "ingress_policing_rate",
        "grebe does not police",
    ),
    (
        "Interface",
        "ingress_policing_burst",
        "grebe does not police",
    ),
    ("Interface", "bfd", "grebe has no BFD"),
    ("Interface", "cfm_mpid", "grebe has no CFM"),
    ("Interface", "lldp", "grebe has no LLDP"),
];

/// Whether a datum is its column's default: an empty set or map, false, 0 or "".
fn is_default(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => matches!(a.as_slice(), [_, Value::Array(items)] if items.is_empty()),
        _ => false,
    }
}

/// The interface types and datapath types grebe offers, for `Open_vSwitch.iface_types`.
const IFACE_TYPES: [&str; 4] = ["gre", "internal", "ip6gre", "system"];
const DATAPATH_TYPES: [&str; 2] = ["netdev", "system"];

/// Starts the thread that follows the database at `remotes`.
pub fn spawn(remotes: Remotes, state: Arc<Mutex<DaemonState>>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("grebe-ovsdb".into())
        .spawn(move || follow(&remotes, &state))?;
    Ok(())
}

fn follow(remotes: &Remotes, state: &Mutex<DaemonState>) {
    let mut backoff = BACKOFF_FIRST;
    let mut said_down = BTreeSet::new();
    for target in remotes.0.iter().cycle() {
        match Connection::connect(target) {
            Ok(conn) => {
                tracing::info!(%target, "connected to the OVSDB server");
                said_down.clear();
                let began = Instant::now();
                let e = Session::new(conn).run(target, state);
                // Only a session that lasted starts the backoff over: one the server ends at
                // once (a refused monitor) must not be retried four times a second.
                if began.elapsed() >= HEALTHY_SESSION {
                    backoff = BACKOFF_FIRST;
                }
                set_status(state, |o| o.connected = None);
                tracing::warn!(%target, error = %e, "lost the OVSDB server; the datapath keeps the last configuration");
            }
            Err(e) => {
                if said_down.insert(target.to_string()) {
                    tracing::warn!(%target, error = %e, "cannot connect to the OVSDB server; retrying");
                }
            }
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

fn set_status(state: &Mutex<DaemonState>, f: impl FnOnce(&mut OvsdbStatus)) {
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(o) = s.ovsdb.as_mut() {
        f(o);
    }
}

/// One connection's life: monitor, apply, write back, until the connection fails.
struct Session {
    conn: Connection,
    replica: Replica,
    /// The `_Server` database's `Database` rows, where the server has one.
    server: Replica,
    /// Ignored settings already logged.
    logged: BTreeSet<String>,
    /// Interfaces the database asks for that grebe cannot make, with OVS's `error` for each.
    refused: BTreeMap<String, String>,
    stats_due: Instant,
}

impl Session {
    fn new(conn: Connection) -> Session {
        Session {
            conn,
            replica: Replica::new(),
            server: Replica::new(),
            logged: BTreeSet::new(),
            refused: BTreeMap::new(),
            stats_due: Instant::now(),
        }
    }

    fn run(mut self, target: &Target, state: &Mutex<DaemonState>) -> ovsdb::Error {
        match self.serve(target, state) {
            Ok(never) => match never {},
            Err(e) => e,
        }
    }

    fn serve(
        &mut self,
        target: &Target,
        state: &Mutex<DaemonState>,
    ) -> Result<std::convert::Infallible, ovsdb::Error> {
        let dbs = self
            .conn
            .call("list_dbs", json!([]), CALL_TIMEOUT, |_| {})?;
        if dbs
            .as_array()
            .is_some_and(|d| d.iter().any(|n| n == "_Server"))
        {
            let initial = self.conn.call(
                "monitor",
                json!(["_Server", "grebe-server", {"Database": {"columns": ["name", "model", "connected", "leader"]}}]),
                CALL_TIMEOUT,
                |_| {},
            )?;
            self.server.apply(&initial)?;
            self.check_member()?;
        }
        let schema = self
            .conn
            .call("get_schema", json!([DATABASE]), CALL_TIMEOUT, |_| {})?;
        let requests = monitor_requests(&schema);
        let mut early = Vec::new();
        let initial = self.conn.call(
            "monitor",
            json!([DATABASE, "grebe", requests]),
            CALL_TIMEOUT,
            |m| early.push(m),
        )?;
        self.replica = Replica::new();
        self.replica.apply(&initial)?;
        for m in early {
            self.handle(m)?;
        }
        set_status(state, |o| {
            o.connected = Some((target.to_string(), Instant::now()))
        });
        self.apply(state, false)?;
        loop {
            let wait = self.stats_due.saturating_duration_since(Instant::now());
            let mut changed = false;
            if let Some(m) = self.conn.receive(wait)? {
                changed = self.handle(m)?;
            }
            let stats = Instant::now() >= self.stats_due;
            if changed || stats {
                self.apply(state, stats)?;
            }
        }
    }

    /// Takes in one message; true when the replica changed.
    fn handle(&mut self, m: Message) -> Result<bool, ovsdb::Error> {
        match m {
            Message::Notification { method, params } if method == "update" => {
                let updates = params.get(1).ok_or_else(|| {
                    ovsdb::Error::Protocol("an update without table-updates".into())
                })?;
                if params[0] == "grebe-server" {
                    self.server.apply(updates)?;
                    self.check_member()?;
                    return Ok(false);
                }
                self.replica.apply(updates)?;
                Ok(true)
            }
            Message::Reply { result, .. } => {
                // A write-back's outcome: an operation's error is logged, the next change
                // writes again.
                for r in result.as_array().into_iter().flatten() {
                    if let Some(e) = r.get("error") {
                        let details = r.get("details").cloned().unwrap_or_default();
                        tracing::warn!(error = %e, %details, "the OVSDB server refused a write-back");
                    }
                }
                Ok(false)
            }
            Message::Error { error, .. } => {
                tracing::warn!(%error, "the OVSDB server answered with an error");
                Ok(false)
            }
            Message::Request { id, method, .. } => {
                self.conn.send(&Message::Error {
                    id,
                    error: json!(format!("grebe does not serve {method}")),
                })?;
                Ok(false)
            }
            Message::Notification { .. } => Ok(false),
        }
    }

    /// A clustered database's member that has lost its cluster is not to be followed.
    fn check_member(&self) -> Result<(), ovsdb::Error> {
        let row = self
            .server
            .rows("Database")
            .map(|(_, r)| r)
            .find(|r| r.get("name").and_then(datum::string) == Some(DATABASE));
        let Some(row) = row else { return Ok(()) };
        let clustered = row.get("model").and_then(datum::string) == Some("clustered");
        let connected = row
            .get("connected")
            .and_then(datum::boolean)
            .unwrap_or(true);
        if clustered && !connected {
            return Err(ovsdb::Error::Protocol(
                "this cluster member is not connected to its cluster".into(),
            ));
        }
        Ok(())
    }

    /// Applies the replica to the datapath when it asks for something new, then writes back
    /// what changed (with the statistics when `stats`).
    fn apply(&mut self, state: &Mutex<DaemonState>, stats: bool) -> Result<(), ovsdb::Error> {
        let wanted = DbConfig::read(&self.replica);
        let (config, mut refused) = accept_valid(wanted.config);
        refused.extend(wanted.refused);
        let ops = {
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            if s.config != config || self.refused != refused {
                s.config = config;
                s.reconcile();
                for (iface, error) in s.errors.iter().chain(&refused) {
                    tracing::warn!(%iface, %error, "interface not in the datapath");
                }
            }
            self.refused = refused;
            for what in &wanted.ignored {
                if self.logged.insert(what.clone()) {
                    tracing::warn!(%what, "ignored: grebe does not act on this database setting");
                }
            }
            if let Some(o) = s.ovsdb.as_mut() {
                o.cur_cfg = wanted.next_cfg;
                o.ignored = wanted.ignored;
                o.refused = self.refused.clone();
            }
            let live = Live::new(&s);
            let mut ops = self.write_back(&live, &wanted.ovs, wanted.next_cfg, stats);
            ops.extend(self.tree_write_back(&s));
            ops
        };
        if stats {
            self.stats_due = Instant::now() + wanted.stats_interval;
        }
        if !ops.is_empty() {
            let mut params = vec![json!(DATABASE)];
            params.extend(ops);
            self.conn.request("transact", Value::Array(params))?;
        }
        Ok(())
    }

    /// The updates that make the database say what the datapath does.
    fn write_back(
        &self,
        live: &Live<'_>,
        ovs: &Option<(String, Row)>,
        next_cfg: i64,
        stats: bool,
    ) -> Vec<Value> {
        let mut ops = Vec::new();
        for (uuid, row) in self.replica.rows("Interface") {
            let Some(name) = row.get("name").and_then(datum::string) else {
                continue;
            };
            let refused = self.refused.get(name);
            let mut want = serde_json::Map::new();
            let ofport = if refused.is_some() {
                Some(-1)
            } else {
                live.ofport(name)
            };
            want.insert("ofport".into(), datum::optional(ofport));
            let error = refused.cloned().or_else(|| live.interface_error(name));
            want.insert("error".into(), datum::optional(error));
            want.insert(
                "mac_in_use".into(),
                datum::optional(live.interface_mac_in_use(name)),
            );
            let state =
                |up: Option<bool>| datum::optional(up.map(|u| if u { "up" } else { "down" }));
            want.insert("admin_state".into(), state(live.interface_admin_up(name)));
            want.insert("link_state".into(), state(live.interface_link_up(name)));
            want.insert(
                "mtu".into(),
                datum::optional(live.interface_mtu(name).map(i64::from)),
            );
            if stats {
                let counters: BTreeMap<String, i64> = live
                    .interface_statistics(name)
                    .into_iter()
                    .map(|(k, v)| (k, i64::try_from(v).unwrap_or(i64::MAX)))
                    .collect();
                want.insert("statistics".into(), datum::map(&counters));
            }
            push_update(&mut ops, "Interface", uuid, row, want);
        }
        for (uuid, row) in self.replica.rows("Controller") {
            let connected = row
                .get("target")
                .and_then(datum::string)
                .and_then(|t| vswitch::config::ControllerTarget::parse(t).ok())
                .is_some_and(|t| {
                    let t = t.to_string();
                    live.controllers_connected(&t)
                });
            let mut want = serde_json::Map::new();
            want.insert("is_connected".into(), json!(connected));
            push_update(&mut ops, "Controller", uuid, row, want);
        }
        for (uuid, row) in self.replica.rows("Bridge") {
            let Some(name) = row.get("name").and_then(datum::string) else {
                continue;
            };
            let mut want = serde_json::Map::new();
            if let Ok(mac) = datapath::interface_mac(name) {
                let id: String = mac.iter().map(|b| format!("{b:02x}")).collect();
                want.insert("datapath_id".into(), json!(format!("0000{id}")));
            }
            push_update(&mut ops, "Bridge", uuid, row, want);
        }
        if let Some((uuid, row)) = ovs {
            let mut want = serde_json::Map::new();
            want.insert("cur_cfg".into(), json!(next_cfg));
            want.insert(
                "ovs_version".into(),
                json!(concat!(env!("CARGO_PKG_VERSION"), "-grebe")),
            );
            want.insert("iface_types".into(), datum::set(IFACE_TYPES));
            want.insert("datapath_types".into(), datum::set(DATAPATH_TYPES));
            want.insert("dpdk_initialized".into(), json!(false));
            push_update(&mut ops, "Open_vSwitch", uuid, row, want);
        }
        ops
    }
}

impl Session {
    /// The spanning tree's state, where ovs-vswitchd writes it: `Bridge.status` and
    /// `Port.status` for STP, the `rstp_status` columns for RSTP, with OVS's keys and formats;
    /// empty maps for a bridge without a tree.
    fn tree_write_back(&self, state: &DaemonState) -> Vec<Value> {
        let mut ops = Vec::new();
        let mut ports: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut rstp_ports: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (uuid, row) in self.replica.rows("Bridge") {
            let Some(name) = row.get("name").and_then(datum::string) else {
                continue;
            };
            let (mut stp, mut rstp) = (BTreeMap::new(), BTreeMap::new());
            if let Ok(tree) = state.datapath.tree_status(name) {
                let t = &tree.status;
                let rapid = t.protocol == stp::Protocol::Rstp;
                let (bridge, port_map, prefix) = if rapid {
                    (&mut rstp, &mut rstp_ports, "rstp")
                } else {
                    (&mut stp, &mut ports, "stp")
                };
                bridge.insert(format!("{prefix}_bridge_id"), t.bridge_id.to_string());
                let root_key = if rapid {
                    "rstp_root_id"
                } else {
                    "stp_designated_root"
                };
                bridge.insert(root_key.into(), t.root_id.to_string());
                bridge.insert(
                    format!("{prefix}_root_path_cost"),
                    t.root_path_cost.to_string(),
                );
                for p in &t.ports {
                    let Some(port) = tree.port_names.get(&p.number) else {
                        continue;
                    };
                    let id = if rapid {
                        (u16::from(p.priority >> 4) << 12) | (p.number & 0xfff)
                    } else {
                        (u16::from(p.priority) << 8) | (p.number & 0xff)
                    };
                    let mut m = BTreeMap::new();
                    m.insert(format!("{prefix}_port_id"), format!("{id:04x}"));
                    let (role, st) = if rapid {
                        ("rstp_port_role", "rstp_port_state")
                    } else {
                        ("stp_role", "stp_state")
                    };
                    m.insert(role.into(), p.role.name().into());
                    m.insert(st.into(), p.state.name().into());
                    port_map.insert(port.clone(), m);
                }
            }
            let mut want = serde_json::Map::new();
            want.insert("status".into(), datum::map(&stp));
            want.insert("rstp_status".into(), datum::map(&rstp));
            push_update(&mut ops, "Bridge", uuid, row, want);
        }
        for (uuid, row) in self.replica.rows("Port") {
            let Some(name) = row.get("name").and_then(datum::string) else {
                continue;
            };
            let mut want = serde_json::Map::new();
            let empty = BTreeMap::new();
            want.insert(
                "status".into(),
                datum::map(ports.get(name).unwrap_or(&empty)),
            );
            want.insert(
                "rstp_status".into(),
                datum::map(rstp_ports.get(name).unwrap_or(&empty)),
            );
            push_update(&mut ops, "Port", uuid, row, want);
        }
        ops
    }
}

/// Adds an update of the columns of `want` that differ from the row, if any do.
fn push_update(
    ops: &mut Vec<Value>,
    table: &str,
    uuid: &str,
    row: &Row,
    want: serde_json::Map<String, Value>,
) {
    let changed: serde_json::Map<String, Value> = want
        .into_iter()
        .filter(|(col, v)| !same_datum(row.get(col), v))
        .collect();
    if !changed.is_empty() {
        ops.push(json!({
            "op": "update",
            "table": table,
            "where": [["_uuid", "==", ["uuid", uuid]]],
            "row": changed,
        }));
    }
}

/// Whether a column's value (absent: never written) is `want`; a set of one and its atom, and
/// sets in any order, are the same datum.
fn same_datum(have: Option<&Value>, want: &Value) -> bool {
    let Some(have) = have else {
        return false;
    };
    if have == want {
        return true;
    }
    let norm = |v: &Value| {
        let mut atoms: Vec<String> = datum::atoms(v).iter().map(|a| a.to_string()).collect();
        atoms.sort();
        atoms
    };
    let is_map = |v: &Value| v.get(0).is_some_and(|t| t == "map");
    !is_map(have) && !is_map(want) && norm(have) == norm(want)
}

/// The monitor request for the columns of [`MONITORED`] that `schema` has.
fn monitor_requests(schema: &Value) -> Value {
    let mut requests = serde_json::Map::new();
    for (table, columns) in MONITORED {
        let Some(have) = schema["tables"][table]["columns"].as_object() else {
            tracing::warn!(%table, "the OVSDB schema has no such table; grebe leaves it out");
            continue;
        };
        let mut cols: Vec<&str> = Vec::new();
        for c in columns {
            // The server refuses a column named twice.
            if have.contains_key(*c) && !cols.contains(c) {
                cols.push(c);
            }
        }
        requests.insert(table.into(), json!({ "columns": cols }));
    }
    Value::Object(requests)
}

/// What the database asks for, read from the replica.
struct DbConfig {
    config: Config,
    /// Interfaces grebe cannot make, with why.
    refused: BTreeMap<String, String>,
    /// Settings grebe does not act on ([`IGNORED`]), one sentence each.
    ignored: Vec<String>,
    /// The `Open_vSwitch` row.
    ovs: Option<(String, Row)>,
    next_cfg: i64,
    stats_interval: Duration,
}

impl DbConfig {
    fn read(replica: &Replica) -> DbConfig {
        let mut out = DbConfig {
            config: Config::default(),
            refused: BTreeMap::new(),
            ignored: Vec::new(),
            ovs: None,
            next_cfg: 0,
            stats_interval: STATS_INTERVAL,
        };
        let Some((ovs_uuid, ovs)) = replica.rows("Open_vSwitch").next() else {
            return out;
        };
        out.next_cfg = ovs.get("next_cfg").and_then(datum::integer).unwrap_or(0);
        let other = ovs
            .get("other_config")
            .map(datum::string_map)
            .unwrap_or_default();
        if let Some(ms) = other
            .get("stats-update-interval")
            .and_then(|v| v.parse::<u64>().ok())
        {
            out.stats_interval = Duration::from_millis(ms).max(STATS_INTERVAL);
        }
        for br_uuid in ovs.get("bridges").map(datum::uuids).unwrap_or_default() {
            let Some(br) = replica.row("Bridge", br_uuid) else {
                continue;
            };
            let Some(name) = br.get("name").and_then(datum::string) else {
                continue;
            };
            let bridge = out.read_bridge(replica, name, br);
            out.config.bridges.insert(name.to_owned(), bridge);
        }
        out.ovs = Some((ovs_uuid.to_owned(), ovs.clone()));
        out
    }

    /// Notes the [`IGNORED`] columns of `table` that `row` (named `name`) sets.
    fn note_ignored(&mut self, table: &str, name: &str, row: &Row) {
        for (t, column, why) in IGNORED {
            if t == table && row.get(column).is_some_and(|v| !is_default(v)) {
                self.ignored.push(format!("{table} {name} {column}: {why}"));
            }
        }
    }

    fn read_bridge(&mut self, replica: &Replica, name: &str, br: &Row) -> Bridge {
        self.note_ignored("Bridge", name, br);
        let map = |row: &Row, col: &str| row.get(col).map(datum::string_map).unwrap_or_default();
        let flag = |col: &str| br.get(col).and_then(datum::boolean).unwrap_or(false);
        let mut bridge = Bridge {
            ports: BTreeMap::new(),
            other_config: map(br, "other_config"),
            external_ids: map(br, "external_ids"),
            datapath_type: br
                .get("datapath_type")
                .and_then(datum::string)
                .unwrap_or_default()
                .to_owned(),
            stp_enable: flag("stp_enable"),
            rstp_enable: flag("rstp_enable"),
            fail_mode: br
                .get("fail_mode")
                .and_then(datum::string)
                .and_then(vswitch::config::FailMode::from_ovs_str),
            ..Bridge::default()
        };
        for uuid in br.get("controller").map(datum::uuids).unwrap_or_default() {
            let Some(target) = replica
                .row("Controller", uuid)
                .and_then(|c| c.get("target"))
                .and_then(datum::string)
            else {
                continue;
            };
            match vswitch::config::ControllerTarget::parse(target) {
                Ok(t) => bridge.controller.push(t.to_string()),
                Err(e) => self.ignored.push(format!("Bridge {name} controller {e}")),
            }
        }
        for port_uuid in br.get("ports").map(datum::uuids).unwrap_or_default() {
            let Some(port) = replica.row("Port", port_uuid) else {
                continue;
            };
            let port_name = port.get("name").and_then(datum::string).unwrap_or_default();
            self.note_ignored("Port", port_name, port);
            let ifaces = port.get("interfaces").map(datum::uuids).unwrap_or_default();
            let rows: Vec<&Row> = ifaces
                .iter()
                .filter_map(|u| replica.row("Interface", u))
                .collect();
            for iface in &rows {
                let Some(iface_name) = iface.get("name").and_then(datum::string) else {
                    continue;
                };
                self.note_ignored("Interface", iface_name, iface);
                if rows.len() > 1 {
                    self.refused.insert(
                        iface_name.to_owned(),
                        format!(
                            "grebe has no bonds: port {port_name} has {} interfaces, give it one",
                            rows.len()
                        ),
                    );
                    continue;
                }
                let kind = iface
                    .get("type")
                    .and_then(datum::string)
                    .unwrap_or_default();
                let kind = match InterfaceType::from_ovs_str(kind) {
                    Ok(k) => k,
                    Err(e) => {
                        self.refused.insert(iface_name.to_owned(), e);
                        continue;
                    }
                };
                // grebe's port and interface are one record: the Port's tree keys join the
                // Interface's other_config.
                let mut other_config = map(iface, "other_config");
                other_config.extend(map(port, "other_config"));
                let vlan = |col: &str| port.get(col).map(datum::integers).unwrap_or_default();
                let interface = Interface {
                    kind,
                    options: map(iface, "options"),
                    mtu_request: iface
                        .get("mtu_request")
                        .and_then(datum::integer)
                        .and_then(|m| u32::try_from(m).ok()),
                    other_config,
                    external_ids: map(iface, "external_ids"),
                    tag: vlan("tag").first().and_then(|&t| u16::try_from(t).ok()),
                    trunks: vlan("trunks")
                        .into_iter()
                        .filter_map(|t| u16::try_from(t).ok())
                        .collect(),
                    vlan_mode: port
                        .get("vlan_mode")
                        .and_then(datum::string)
                        .and_then(VlanMode::from_ovs_str),
                };
                bridge.ports.insert(iface_name.to_owned(), interface);
            }
        }
        // OVS makes a bridge's local port whether or not the database lists it.
        bridge
            .ports
            .entry(name.to_owned())
            .or_insert_with(|| Interface {
                kind: InterfaceType::Internal,
                ..Interface::default()
            });
        bridge
    }
}

/// The part of `config` that validates, and why the rest does not: a bridge whose own settings
/// are bad is left out with all its interfaces, a bad interface alone. One bad row must not stop
/// the rest of the switch, as in ovs-vswitchd.
fn accept_valid(config: Config) -> (Config, BTreeMap<String, String>) {
    let mut refused = BTreeMap::new();
    if config.validate().is_ok() {
        return (config, refused);
    }
    let mut ok = Config::default();
    for (name, bridge) in config.bridges {
        let mut bare = bridge.clone();
        bare.ports.retain(|p, _| *p == name);
        let mut trial = ok.clone();
        trial.bridges.insert(name.clone(), bare);
        if let Err(e) = trial.validate() {
            for p in bridge.ports.keys() {
                refused.insert(p.clone(), e.to_string());
            }
            continue;
        }
        ok = trial;
        for (port, iface) in bridge.ports {
            if port == name {
                continue;
            }
            let mut trial = ok.clone();
            if let Some(b) = trial.bridges.get_mut(&name) {
                b.ports.insert(port.clone(), iface);
            }
            match trial.validate() {
                Ok(()) => ok = trial,
                Err(e) => {
                    refused.insert(port, e.to_string());
                }
            }
        }
    }
    (ok, refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica() -> Replica {
        let mut r = Replica::new();
        r.apply(&json!({
            "Open_vSwitch": {"o1": {"new": {"bridges": ["uuid", "b1"], "next_cfg": 3, "cur_cfg": 2}}},
            "Bridge": {"b1": {"new": {"name": "br-int", "ports": ["set", [["uuid", "p1"], ["uuid", "p2"], ["uuid", "p3"], ["uuid", "p4"]]],
                                      "other_config": ["map", []], "stp_enable": true}}},
            "Port": {
                "p1": {"new": {"name": "br-int", "interfaces": ["uuid", "i1"]}},
                "p2": {"new": {"name": "gre0", "interfaces": ["uuid", "i2"], "tag": 10, "trunks": ["set", []],
                               "other_config": ["map", [["stp-path-cost", "7"]]]}},
                "p3": {"new": {"name": "vx0", "interfaces": ["uuid", "i3"]}},
                "p4": {"new": {"name": "gre1", "interfaces": ["uuid", "i4"]}}
            },
            "Interface": {
                "i1": {"new": {"name": "br-int", "type": "internal"}},
                "i2": {"new": {"name": "gre0", "type": "gre", "options": ["map", [["remote_ip", "192.0.2.2"], ["key", "5"]]]}},
                "i3": {"new": {"name": "vx0", "type": "vxlan"}},
                "i4": {"new": {"name": "gre1", "type": "gre", "options": ["map", [["remote_ip", "not-an-address"]]]}}
            }
        }))
        .unwrap();
        r
    }

    #[test]
    fn the_database_becomes_the_standalone_config() {
        let db = DbConfig::read(&replica());
        assert_eq!(db.next_cfg, 3);
        let br = &db.config.bridges["br-int"];
        assert!(br.stp_enable);
        let gre0 = &br.ports["gre0"];
        assert_eq!(gre0.kind, InterfaceType::Gre);
        assert_eq!(gre0.options["key"], "5");
        assert_eq!(gre0.tag, Some(10));
        assert_eq!(gre0.other_config["stp-path-cost"], "7");
        assert!(db.refused["vx0"].contains("vxlan"), "{:?}", db.refused);
        let (config, refused) = accept_valid(db.config);
        // The malformed tunnel alone is refused; the rest of the bridge stands.
        assert!(refused["gre1"].contains("remote_ip"), "{refused:?}");
        assert!(config.bridges["br-int"].ports.contains_key("gre0"));
        assert!(!config.bridges["br-int"].ports.contains_key("gre1"));
        config.validate().unwrap();
    }

    #[test]
    fn a_bridge_without_its_local_port_row_still_gets_one() {
        let mut r = Replica::new();
        r.apply(&json!({
            "Open_vSwitch": {"o1": {"new": {"bridges": ["uuid", "b1"], "next_cfg": 1}}},
            "Bridge": {"b1": {"new": {"name": "br0", "ports": ["set", []]}}}
        }))
        .unwrap();
        let db = DbConfig::read(&r);
        assert_eq!(
            db.config.bridges["br0"].ports["br0"].kind,
            InterfaceType::Internal
        );
        db.config.validate().unwrap();
    }

    #[test]
    fn only_changed_columns_are_written() {
        let row: Row = serde_json::from_value(
            json!({"ofport": 3, "error": ["set", []], "statistics": ["map", [["rx_packets", 1]]]}),
        )
        .unwrap();
        let mut ops = Vec::new();
        let mut want = serde_json::Map::new();
        want.insert("ofport".into(), json!(3));
        want.insert("error".into(), datum::optional(None::<String>));
        push_update(&mut ops, "Interface", "i1", &row, want.clone());
        assert!(ops.is_empty());
        want.insert("ofport".into(), json!(-1));
        push_update(&mut ops, "Interface", "i1", &row, want);
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0]["row"], json!({"ofport": -1}));
        assert!(same_datum(
            Some(&json!(["set", ["b", "a"]])),
            &datum::set(["a", "b"])
        ));
        assert!(!same_datum(None, &json!(1)));
    }

    #[test]
    fn the_monitor_names_each_column_once() {
        // ovsdb-server refuses a monitor that names a column twice.
        let schema = json!({"tables": MONITORED.iter().map(|(t, cols)| {
            let cols: serde_json::Map<String, Value> = cols.iter().map(|c| (c.to_string(), json!({}))).collect();
            (t.to_string(), json!({"columns": cols}))
        }).collect::<serde_json::Map<String, Value>>()});
        let req = monitor_requests(&schema);
        for (table, cols) in MONITORED {
            let asked = req[table]["columns"].as_array().unwrap();
            let unique: BTreeSet<&str> = cols.iter().copied().collect();
            assert_eq!(asked.len(), unique.len(), "{table}: {asked:?}");
        }
    }

    #[test]
    fn the_monitor_asks_only_for_columns_the_schema_has() {
        let schema = json!({"tables": {
            "Open_vSwitch": {"columns": {"bridges": {}, "next_cfg": {}, "cur_cfg": {}}},
            "Bridge": {"columns": {"name": {}, "ports": {}}},
            "Interface": {"columns": {"name": {}, "type": {}}}
        }});
        let req = monitor_requests(&schema);
        assert_eq!(req["Bridge"]["columns"], json!(["name", "ports"]));
        assert!(req.get("Port").is_none());
        assert_eq!(
            req["Open_vSwitch"]["columns"],
            json!(["bridges", "next_cfg", "cur_cfg"])
        );
    }
}
