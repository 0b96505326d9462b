//! `grebe appctl`: OVS's ovs-appctl commands that show what the datapath is doing.

use std::fmt::Write as _;

use serde_json::json;

use crate::control::Reply;
use crate::server::DaemonState;

const COMMANDS: &[(&str, &str)] = &[
    (
        "dpif/show",
        "[--format json]  ports with traffic counters, drops by reason",
    ),
    (
        "fdb/show",
        "BRIDGE [--format json]  learned MAC addresses, OVS's layout",
    ),
    ("fdb/flush", "[BRIDGE]  forget learned MAC addresses"),
    ("fdb/stats-show", "BRIDGE  learning counters"),
    (
        "ofproto/trace",
        "BRIDGE in_port=PORT,dl_src=MAC,dl_dst=MAC[,dl_type=0xXXXX] | BRIDGE in_port=PORT HEXFRAME  [--format json]  what the bridge would do with a frame, step by step (sends nothing, learns nothing)",
    ),
    (
        "ofproto/trace-live",
        "BRIDGE [--count N] [--rate LINES/S] [--format json]  one line per frame entering the bridge with the decision taken (Ctrl-C to stop)",
    ),
    (
        "stp/show",
        "[BRIDGE]  spanning tree (802.1D): bridge and root IDs, each port's role, state and cost, OVS's layout",
    ),
    (
        "rstp/show",
        "[BRIDGE]  rapid spanning tree (802.1w), OVS's layout",
    ),
    ("list-commands", "this list"),
    ("version", "grebe's version"),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

/// Takes `--format json` / `--format=json` / `-f json` out of `args`, wherever it stands.
fn split_format(args: &[String]) -> Result<(Format, Vec<&str>), String> {
    let mut format = Format::Text;
    let mut rest = Vec::new();
    let mut it = args.iter().map(String::as_str);
    while let Some(a) = it.next() {
        let value = match a {
            "--format" | "-f" => it.next(),
            _ if a.starts_with("--format=") => a.strip_prefix("--format="),
            _ => {
                rest.push(a);
                continue;
            }
        };
        format = match value {
            Some("json") => Format::Json,
            Some("text") => Format::Text,
            other => {
                return Err(format!(
                    "unknown output format {:?}: use --format text or --format json",
                    other.unwrap_or("")
                ));
            }
        };
    }
    Ok((format, rest))
}

pub fn run(state: &DaemonState, args: &[String]) -> Reply {
    let (format, args) = match split_format(args) {
        Ok(x) => x,
        Err(e) => return Reply::error(2, format!("{e}\n")),
    };
    let Some((&command, rest)) = args.split_first() else {
        return Reply::error(
            2,
            "ovs-appctl: at least one command is required; try list-commands\n",
        );
    };
    let result = match (command, rest) {
        ("dpif/show", []) => Ok(dpif_show(state, format)),
        ("fdb/show", [bridge]) => fdb_show(state, bridge, format),
        ("fdb/flush", []) => flush(state, None),
        ("fdb/flush", [bridge]) => flush(state, Some(bridge)),
        ("fdb/stats-show", [bridge]) => fdb_stats(state, bridge),
        ("ofproto/trace", args) => {
            crate::trace::run_trace(state, args, format == Format::Json)
        }
        ("ofproto/trace-live", _) => Err(
            "ofproto/trace-live streams its output: run it with `grebe appctl` (or `ovs-appctl` linked to grebe) of this version\n"
                .into(),
        ),
        ("stp/show", []) => tree_show(state, stp::Protocol::Stp, None),
        ("stp/show", [bridge]) => tree_show(state, stp::Protocol::Stp, Some(bridge)),
        ("rstp/show", []) => tree_show(state, stp::Protocol::Rstp, None),
        ("rstp/show", [bridge]) => tree_show(state, stp::Protocol::Rstp, Some(bridge)),
        ("list-commands", []) => Ok(list_commands()),
        ("version", []) => Ok(format!("grebe {}\n", env!("CARGO_PKG_VERSION"))),
        _ if COMMANDS.iter().any(|(c, _)| *c == command) => Err(format!(
            "\"{command}\" command takes other arguments: {}\n",
            COMMANDS
                .iter()
                .find(|(c, _)| *c == command)
                .map_or("", |(_, usage)| usage)
        )),
        _ => Err(format!(
            "\"{command}\" is not a valid command (use list-commands to see a list of valid commands)\n"
        )),
    };
    match result {
        Ok(out) => Reply::ok(out),
        Err(e) => Reply::error(2, e),
    }
}

fn list_commands() -> String {
    let mut s = String::from("The available commands are:\n");
    for (c, usage) in COMMANDS {
        let _ = writeln!(s, "  {c:<19} {usage}");
    }
    s
}

fn no_bridge(bridge: &str) -> String {
    format!("no such bridge {bridge} (grebe vsctl list-br lists them)\n")
}

fn flush(state: &DaemonState, bridge: Option<&str>) -> Result<String, String> {
    if let Some(b) = bridge
        && !state.config.bridges.contains_key(b)
    {
        return Err(no_bridge(b));
    }
    state
        .datapath
        .fdb_flush(bridge)
        .map(|_| "table successfully flushed\n".to_string())
        .map_err(|e| format!("{e}\n"))
}

fn mac(m: [u8; 6]) -> String {
    encap::EthernetAddress(m).to_string()
}

fn fdb_show(state: &DaemonState, bridge: &str, format: Format) -> Result<String, String> {
    let entries = state.datapath.fdb(bridge).map_err(|_| no_bridge(bridge))?;
    if format == Format::Json {
        let rows: Vec<_> = entries
            .iter()
            .map(|e| {
                json!({
                    "port": e.port,
                    "port_no": e.port_no,
                    "vlan": 0,
                    "mac": mac(e.entry.mac),
                    "age": e.entry.age.as_secs(),
                    "static": e.entry.kind != learning::EntryKind::Dynamic,
                })
            })
            .collect();
        return Ok(format!(
            "{}\n",
            json!({ "bridge": bridge, "entries": rows })
        ));
    }
    // OVS's layout: " port  VLAN  MAC                Age".
    let mut s = String::from(" port  VLAN  MAC                Age\n");
    for e in &entries {
        let age = match e.entry.kind {
            learning::EntryKind::Dynamic => e.entry.age.as_secs().to_string(),
            _ => "static".to_string(),
        };
        let _ = writeln!(
            s,
            "{:>5}  {:>4}  {}  {:>3}",
            e.port,
            0,
            mac(e.entry.mac),
            age
        );
    }
    Ok(s)
}

fn fdb_stats(state: &DaemonState, bridge: &str) -> Result<String, String> {
    let c = state
        .datapath
        .fdb_counters(bridge)
        .ok_or_else(|| no_bridge(bridge))?;
    let entries = state.datapath.fdb(bridge).map_or(0, |e| e.len());
    let settings = state.datapath.bridge_settings(bridge);
    let mut s = format!("Statistics for bridge \"{bridge}\":\n");
    let _ = writeln!(
        s,
        "  Current/maximum MAC entries in the table: {entries}/{}",
        settings.map_or(0, |b| b.table.max_entries)
    );
    let _ = writeln!(
        s,
        "  Total number of learned MAC entries     : {}",
        c.learned
    );
    let _ = writeln!(
        s,
        "  Total number of expired MAC entries     : {}",
        c.expired
    );
    let _ = writeln!(
        s,
        "  Total number of evicted MAC entries     : {}",
        c.evicted
    );
    let _ = writeln!(s, "  Total number of port moved MAC entries  : {}", c.moved);
    Ok(s)
}

fn dpif_show(state: &DaemonState, format: Format) -> String {
    let ports = state.datapath.port_stats();
    let drops = state.datapath.drops();
    if format == Format::Json {
        let bridges: Vec<_> = state
            .config
            .bridges
            .keys()
            .map(|b| {
                let settings = state.datapath.bridge_settings(b);
                json!({
                    "name": b,
                    "mac_aging_time": settings.map(|s| s.table.ageing.as_secs()),
                    "mac_table_size": settings.map(|s| s.table.max_entries),
                    "tunnel_split_horizon": settings.map(|s| s.split_horizon),
                    "spanning_tree": state.datapath.tree_settings(b).map(|t| match t.protocol {
                        stp::Protocol::Stp => "stp",
                        stp::Protocol::Rstp => "rstp",
                    }),
                    "ports": ports.iter().filter(|p| &p.bridge == b).collect::<Vec<_>>(),
                })
            })
            .collect();
        let drops: serde_json::Map<String, serde_json::Value> = drops
            .iter()
            .map(|(r, n)| (r.name().to_string(), json!(n)))
            .collect();
        let errors: serde_json::Map<String, serde_json::Value> = state
            .errors
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        return format!(
            "{}\n",
            json!({ "bridges": bridges, "drops": drops, "errors": errors })
        );
    }
    let mut s = format!(
        "grebe@{}: up {} s\n",
        state.db.display(),
        state.started.elapsed().as_secs()
    );
    for b in state.config.bridges.keys() {
        let _ = writeln!(s, "  {b}:");
        for p in ports.iter().filter(|p| &p.bridge == b) {
            let what = match (p.remote_ip, p.key) {
                (Some(ip), Some(k)) => format!("gre: remote_ip={ip}, key={k}"),
                (Some(ip), None) => format!("gre: remote_ip={ip}"),
                _ => "internal".to_string(),
            };
            // Where its packets leave: written to an interface, or through the kernel's IP stack.
            let what = match (&p.link, p.remote_ip) {
                (Some(dev), _) => format!("{what}, out {dev}"),
                (None, Some(_)) => format!("{what}, out the raw socket"),
                (None, None) => what,
            };
            let mtu = p.mtu.map_or(String::new(), |m| format!(" mtu {m}"));
            let c = p.counters;
            let _ = writeln!(
                s,
                "    {} {}: ({what}){mtu}\n      rx {} pkts {} bytes, tx {} pkts {} bytes, tx dropped {}",
                p.name, p.port_no, c.rx_packets, c.rx_bytes, c.tx_packets, c.tx_bytes, c.tx_dropped
            );
            if c.bpdu_tx + c.bpdu_rx + c.bpdu_errors > 0 {
                let _ = writeln!(
                    s,
                    "      bpdu tx {}, rx {}, malformed or not in tree {}",
                    c.bpdu_tx, c.bpdu_rx, c.bpdu_errors
                );
            }
        }
        for (iface, error) in state
            .errors
            .iter()
            .filter(|(i, _)| state.config.bridges[b].ports.contains_key(i.as_str()))
        {
            let _ = writeln!(s, "    {iface}: error: {error}");
        }
    }
    let nonzero: Vec<_> = drops.iter().filter(|(_, n)| *n > 0).collect();
    if nonzero.is_empty() {
        s.push_str("  drops: none\n");
    } else {
        s.push_str("  drops:\n");
        for (r, n) in nonzero {
            let _ = writeln!(s, "    {:<20} {n:>8}  {}", r.name(), r.description());
        }
    }
    s
}

/// `stp/show` and `rstp/show`, in OVS's layout (`stp_print_details`, `rstp_print_details`),
/// so that a grebe bridge and an OVS bridge in one tree can be read side by side.
fn tree_show(
    state: &DaemonState,
    protocol: stp::Protocol,
    bridge: Option<&str>,
) -> Result<String, String> {
    let object = match protocol {
        stp::Protocol::Stp => "stp",
        stp::Protocol::Rstp => "rstp",
    };
    let running = |b: &str| {
        state
            .datapath
            .tree_settings(b)
            .is_some_and(|t| t.protocol == protocol)
    };
    let bridges: Vec<&str> = match bridge {
        Some(b) if running(b) => vec![b],
        Some(_) => return Err(format!("no such {object} object\n")),
        None => state
            .datapath
            .bridge_names()
            .filter(|b| running(b))
            .collect(),
    };
    let mut s = String::new();
    for b in bridges {
        let tree = state
            .datapath
            .tree_status(b)
            .map_err(|e| format!("{e}\n"))?;
        print_tree(&mut s, b, &tree);
    }
    Ok(s)
}

fn print_tree(s: &mut String, bridge: &str, tree: &datapath::TreeStatus) {
    let st = &tree.status;
    let rapid = st.protocol == stp::Protocol::Rstp;
    let name = |n: stp::PortNo| {
        tree.port_names
            .get(&n)
            .cloned()
            .unwrap_or_else(|| n.to_string())
    };
    let id = |s: &mut String, id: stp::BridgeId, times: &stp::Times| {
        let m = id.system_id();
        let pad = if rapid { "    " } else { "  " };
        let _ = writeln!(s, "  stp-priority{pad}{}", id.priority());
        let _ = writeln!(
            s,
            "  stp-system-id   {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        );
        let _ = writeln!(s, "  stp-hello-time  {}s", times.hello_time.as_secs());
        let _ = writeln!(s, "  stp-max-age     {}s", times.max_age.as_secs());
        let _ = writeln!(s, "  stp-fwd-delay   {}s", times.forward_delay.as_secs());
    };
    let _ = writeln!(s, "---- {bridge} ----");
    s.push_str("Root ID:\n");
    // OVS prints the root's timers under the root ID and the bridge's under the bridge ID for
    // RSTP; for STP, the other way round.
    let (root_times, bridge_times) = if rapid {
        (&st.root_times, &st.bridge_times)
    } else {
        (&st.bridge_times, &st.root_times)
    };
    id(s, st.root_id, root_times);
    match st.root_port {
        None => s.push_str("  This bridge is the root\n"),
        Some(port) => {
            let _ = writeln!(s, "  root-port       {}", name(port));
            let _ = writeln!(s, "  root-path-cost  {}", st.root_path_cost);
        }
    }
    s.push_str("\nBridge ID:\n");
    id(s, st.bridge_id, bridge_times);
    s.push('\n');
    let cost_width = if rapid { 9 } else { 6 };
    let _ = writeln!(
        s,
        "  {:<11}{:<11}{:<11}{:<cost_width$}{:<8}",
        "Interface", "Role", "State", "Cost", "Pri.Nbr"
    );
    let dashes = if rapid { "--------" } else { "-----" };
    let _ = writeln!(s, "  ---------- ---------- ---------- {dashes} -------");
    for p in st
        .ports
        .iter()
        .filter(|p| p.state != stp::PortState::Disabled)
    {
        let (role, state) = if rapid {
            (capitalized(p.role.name()), capitalized(p.state.name()))
        } else {
            (p.role.name().to_string(), p.state.name().to_string())
        };
        let mut port = name(p.number);
        port.truncate(10);
        let _ = writeln!(
            s,
            "  {port:<11}{role:<11}{state:<11}{:<cost_width$}{}.{}",
            p.path_cost, p.priority, p.number
        );
    }
    s.push('\n');
}

/// RSTP's names in OVS start with a capital (`Designated`, `Forwarding`).
fn capitalized(word: &str) -> String {
    let mut c = word.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}
