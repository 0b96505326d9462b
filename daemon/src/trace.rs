//! `ofproto/trace` and `ofproto/trace-live`: what the bridge decides for a frame, in plain words.
//!
//! `ofproto/trace` runs the datapath's own decision (`datapath::process`) on a frame given as a
//! flow (`in_port=,dl_src=,dl_dst=`) or in hex, against a copy of the bridge's MAC table, so it
//! neither sends nor learns. It then says which ports the frame would leave by (with the same
//! flood rule as the packet loop: never back to the ingress port, and with split horizon never
//! from a tunnel into another) and, for each tunnel, writes the outer IPv4 and GRE headers with
//! `encap`'s `OuterHeader::emit`, as the packet loop does, and decodes them back field by field.
//!
//! `ofproto/trace-live` watches the bridge's ports (`Datapath::monitor`) and prints one line per
//! frame that enters the bridge with what the packet loop decided for it, at most `--rate` lines
//! a second; it says how many it left out.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use datapath::vlan::{FrameVlan, PortVlan, Retag};
use datapath::{
    Action, Datapath, Delivery, Direction, Exclusion, FrameEvent, FrameSize, Gate, MonitorSpec,
    PortKind, PortView, Rules, Verdict, should_deliver,
};
use encap::EtherType;
use encap::dissect::{self, Dissection, Malformed, Protocol};
use encap::ethernet::{EthernetAddress, Frame};
use learning::{Addr, EntryKind, Learned, PortId, SharedMacTable};
use serde::Serialize;
use serde_json::json;

use crate::capture::{clock, frame_summary};
use crate::control::{self, Reply, StreamClient, StreamConn, StreamMessage, to_hex};
use crate::state::DaemonState;

mod headers;
mod live;
mod render;
mod vlan;

pub use headers::{HeaderField, outer_fields, packet_fields};
pub use live::{LiveDecision, RateLimit, is_live, live_client, serve_live};
pub use render::render_text;

/// The syntax `ofproto/trace` takes, for `list-commands` and error messages.
pub const TRACE_USAGE: &str = "BRIDGE in_port=PORT,dl_src=MAC,dl_dst=MAC[,dl_type=0xXXXX] | BRIDGE in_port=PORT HEXFRAME  [--learn] [--format json]";
/// The syntax `ofproto/trace-live` takes.
pub const LIVE_USAGE: &str = "BRIDGE [--count N] [--rate LINES/S] [--format json]";

/// Lines per second `ofproto/trace-live` prints at most unless `--rate` says otherwise.
const DEFAULT_RATE: u32 = 100;
/// The most `--rate` may ask for: a person cannot read more, and a tool should capture instead.
const MAX_RATE: u32 = 10_000;
/// How often a stream checks that its client is still there, and reports skipped lines.
const TICK: Duration = Duration::from_millis(200);

/// The frame a flow without a payload stands for: headers, then zeros up to Ethernet's minimum
/// frame (60 bytes without the FCS), the smallest frame a port can carry.
const FLOW_FRAME_LEN: usize = 60;

/// What `ofproto/trace` was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceRequest {
    pub bridge: String,
    pub in_port: String,
    pub frame: Vec<u8>,
}

fn flow_error(flow: &str, problem: &str) -> String {
    format!(
        "ofproto/trace: bad flow \"{flow}\": {problem}\n  expected: ofproto/trace {TRACE_USAGE}\n  e.g.      ofproto/trace br-int in_port=mgmt0,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff\n"
    )
}

/// Parses `BRIDGE FLOW [HEXFRAME]` (options already removed).
pub fn parse_trace_args(args: &[&str]) -> Result<TraceRequest, String> {
    let (bridge, flow, hex) = match args {
        [bridge, flow] => (*bridge, *flow, None),
        [bridge, flow, hex] => (*bridge, *flow, Some(*hex)),
        _ => {
            return Err(format!(
                "ofproto/trace: expected a bridge and a flow, got {} argument(s)\n  usage: ofproto/trace {TRACE_USAGE}\n",
                args.len()
            ));
        }
    };
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    for part in flow.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = part.split_once('=') else {
            return Err(flow_error(flow, &format!("\"{part}\" is not FIELD=VALUE")));
        };
        let key = match key.trim() {
            "in_port" => "in_port",
            "dl_src" | "eth_src" => "dl_src",
            "dl_dst" | "eth_dst" => "dl_dst",
            "dl_type" | "eth_type" => "dl_type",
            "dl_vlan" | "vlan_vid" => "dl_vlan",
            "dl_vlan_pcp" | "vlan_pcp" => "dl_vlan_pcp",
            other => {
                return Err(flow_error(
                    flow,
                    &format!(
                        "unknown field \"{other}\" (grebe switches on Ethernet addresses and VLANs only: in_port, dl_src, dl_dst, dl_type, dl_vlan, dl_vlan_pcp)"
                    ),
                ));
            }
        };
        if fields.insert(key, value.trim()).is_some() {
            return Err(flow_error(flow, &format!("{key} given twice")));
        }
    }
    let Some(in_port) = fields.get("in_port") else {
        return Err(flow_error(flow, "in_port is missing"));
    };
    let mac = |key: &str| -> Result<EthernetAddress, String> {
        let text = fields
            .get(key)
            .ok_or_else(|| flow_error(flow, &format!("{key} is missing")))?;
        text.parse().map_err(|_| {
            flow_error(
                flow,
                &format!("{key}={text} is not a MAC address like 02:00:00:00:00:01"),
            )
        })
    };
    let frame = match hex {
        Some(hex) => {
            if fields.len() > 1 {
                return Err(flow_error(
                    flow,
                    "with a frame in hex give only in_port: the frame's own bytes say the rest",
                ));
            }
            control::from_hex(hex).map_err(|e| {
                format!(
                    "ofproto/trace: the frame \"{hex}\" is not hex: {e}\n  usage: ofproto/trace {TRACE_USAGE}\n"
                )
            })?
        }
        None => {
            let src = mac("dl_src")?;
            let dst = mac("dl_dst")?;
            let dl_type = match fields.get("dl_type") {
                None => 0x0800,
                Some(text) => parse_u16(text).ok_or_else(|| {
                    flow_error(
                        flow,
                        &format!("dl_type={text} is not a 16-bit number like 0x0800"),
                    )
                })?,
            };
            let tci = flow_tci(flow, &fields)?;
            build_frame(dst, src, dl_type, tci)
        }
    };
    Ok(TraceRequest {
        bridge: bridge.to_string(),
        in_port: in_port.to_string(),
        frame,
    })
}

fn parse_u16(text: &str) -> Option<u16> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// The 802.1Q tag a flow asks for (`dl_vlan`, with `dl_vlan_pcp`), as its TCI.
fn flow_tci(flow: &str, fields: &BTreeMap<&str, &str>) -> Result<Option<u16>, String> {
    let number = |key: &str, max: u16| -> Result<Option<u16>, String> {
        let Some(text) = fields.get(key) else {
            return Ok(None);
        };
        match parse_u16(text) {
            Some(n) if n <= max => Ok(Some(n)),
            _ => Err(flow_error(
                flow,
                &format!("{key}={text} is not a number from 0 to {max}"),
            )),
        }
    };
    let vid = number("dl_vlan", 4095)?;
    let pcp = number("dl_vlan_pcp", 7)?;
    Ok(match (vid, pcp) {
        (None, None) => None,
        (vid, pcp) => Some(pcp.unwrap_or(0) << 13 | vid.unwrap_or(0)),
    })
}

/// A minimum-size frame with these headers (and an 802.1Q tag with TCI `tci`) and a zero
/// payload.
fn build_frame(
    dst: EthernetAddress,
    src: EthernetAddress,
    dl_type: u16,
    tci: Option<u16>,
) -> Vec<u8> {
    let mut bytes = vec![0u8; FLOW_FRAME_LEN];
    let mut frame = Frame::new_unchecked(&mut bytes[..]);
    frame.set_dst_addr(dst);
    frame.set_src_addr(src);
    frame.set_ethertype(EtherType::from(dl_type));
    if let Some(tci) = tci {
        let tag = [
            &encap::vlan::TPID_8021Q.to_be_bytes()[..],
            &tci.to_be_bytes()[..],
        ]
        .concat();
        bytes.splice(12..12, tag);
    }
    bytes
}

/// The source address the kernel picks for packets to `remote` (what it writes into the outer
/// header's zero source). Connecting a UDP socket asks the routing table; nothing is sent.
fn route_source(remote: Ipv4Addr) -> Option<Ipv4Addr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((remote, 9)).ok()?;
    match socket.local_addr().ok()?.ip() {
        IpAddr::V4(a) if !a.is_unspecified() => Some(a),
        _ => None,
    }
}

/// A port as the trace names it.
#[derive(Debug, Clone, Serialize)]
pub struct PortRef {
    pub name: String,
    pub port_no: u32,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<Ipv4Addr>,
}

/// The outer headers a tunnel would write in front of the frame.
#[derive(Debug, Clone, Serialize)]
pub struct Encapsulation {
    pub remote_ip: Ipv4Addr,
    /// The source of the route to the remote (the kernel fills it in for the raw socket; grebe
    /// writes it for the packet socket), unless `options:local_ip` sets one.
    pub route_source: Option<Ipv4Addr>,
    /// The interface grebe writes the packet to (packet socket); `None`: the raw socket, and
    /// the kernel routes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Bytes of outer IPv4 + GRE header.
    pub header_len: usize,
    /// The transport's path MTU and the resulting packet size.
    pub path_mtu: Option<u32>,
    pub packet_len: usize,
    pub fields: Vec<HeaderField>,
    /// The header bytes, in hex.
    pub hex: String,
}

/// One port the frame would leave by.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    pub port: PortRef,
    /// "sent", or "dropped: REASON".
    pub result: String,
    /// What the port does to the 802.1Q tag: "push", "pop", "rewrite", "keep"; absent for a
    /// frame untagged in and out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encapsulation: Option<Encapsulation>,
}

/// A port a flood left out, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Excluded {
    pub port: String,
    /// "ingress", "split_horizon", or the spanning tree state that closes the port
    /// ("stp_blocking", "stp_listening", "stp_learning", "stp_discarding").
    pub why: &'static str,
}

/// Everything `ofproto/trace` found.
#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    pub bridge: String,
    pub in_port: PortRef,
    pub frame_len: usize,
    pub dl_src: Option<String>,
    pub dl_dst: Option<String>,
    pub dl_type: Option<String>,
    pub summary: String,
    pub frame_hex: String,
    /// "new", "refresh", "move", "pinned" (a static or local entry holds the address), or
    /// "not_reached" (the frame was dropped by an ingress check first).
    pub learning: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learning_from: Option<String>,
    /// The VLAN step; absent when the frame was dropped before it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<vlan::IngressVlan>,
    /// Whether the table was changed (`--learn`); otherwise the trace only says what would be.
    pub learned: bool,
    /// "hit", "miss" (unknown destination), "not_looked_up" (group address), "not_reached"
    /// (dropped before).
    pub lookup: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookup_port: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookup_age: Option<u64>,
    /// "unicast", "flood" or "drop": what `datapath::process` decided.
    pub verdict: &'static str,
    /// Why the frame floods ("broadcast", "multicast", "unknown") or is dropped (a drop reason
    /// as `dpif/show` names it).
    pub reason: Option<&'static str>,
    /// The ports the frame leaves by.
    pub outputs: Vec<String>,
    pub excluded: Vec<Excluded>,
    pub actions: Vec<Output>,
    /// The bridge's OpenFlow table's say, when it has a table of its own (absent: the implicit
    /// NORMAL flow, the learning bridge above).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<TraceFlow>,
}

/// The flow a frame matched in table 0, or a miss.
#[derive(Debug, Clone, Serialize)]
pub struct TraceFlow {
    /// None: no flow matched (a table miss drops).
    pub priority: Option<u16>,
    pub cookie: u64,
    /// The flow's actions as ovs-ofctl writes them (`drop` for none).
    pub actions: Vec<String>,
}

impl TraceFlow {
    fn of(f: &flowtable::Flow, name_of: impl Fn(PortId) -> String) -> TraceFlow {
        use flowtable::Output as O;
        let mut actions: Vec<String> = f
            .actions
            .iter()
            .map(|a| match *a {
                O::Port(p) => format!("output:{}", name_of(PortId(p))),
                O::InPort => "IN_PORT".into(),
                O::Normal => "NORMAL".into(),
                O::Flood => "FLOOD".into(),
                O::All => "ALL".into(),
            })
            .collect();
        if actions.is_empty() {
            actions.push("drop".into());
        }
        TraceFlow {
            priority: Some(f.priority),
            cookie: f.cookie,
            actions,
        }
    }
}

/// A copy of the bridge's MAC table, as `fdb()` lists it, with every entry's age kept.
fn table_copy(dp: &Datapath, bridge: &str, now: Instant) -> Result<SharedMacTable, String> {
    let settings = dp
        .bridge_settings(bridge)
        .ok_or_else(|| no_bridge(bridge))?;
    let mut entries = dp.fdb(bridge).map_err(|_| no_bridge(bridge))?;
    let table = SharedMacTable::new(settings.table);
    // Oldest first: the table keeps its timestamps in order.
    entries.sort_by_key(|e| std::cmp::Reverse(e.entry.age));
    for e in entries {
        let addr = Addr::new(e.entry.vlan, e.entry.mac);
        match e.entry.kind {
            EntryKind::Dynamic => {
                let stamp = now.checked_sub(e.entry.age).unwrap_or(now);
                table.learn(addr, e.entry.port, stamp);
            }
            kind => table.insert_static(addr, e.entry.port, kind),
        }
    }
    Ok(table)
}

fn no_bridge(bridge: &str) -> String {
    format!("no such bridge {bridge} (grebe vsctl list-br lists them)\n")
}

/// Why a `Flood` verdict floods.
fn flood_reason(dst: Option<EthernetAddress>) -> &'static str {
    match dst {
        Some(d) if d.is_broadcast() => "broadcast",
        Some(d) if d.is_multicast() => "multicast",
        _ => "unknown",
    }
}

struct BridgePort {
    id: PortId,
    name: String,
    kind: PortKind,
    mtu: Option<u32>,
    /// Tunnels sending by the packet socket: the interface.
    link: Option<String>,
    vlan: PortVlan,
}

fn port_ref(p: &BridgePort) -> PortRef {
    match p.kind {
        PortKind::Internal { .. } => PortRef {
            name: p.name.clone(),
            port_no: p.id.0,
            kind: "internal",
            remote_ip: None,
        },
        PortKind::Tunnel(c) => PortRef {
            name: p.name.clone(),
            port_no: p.id.0,
            kind: "gre",
            remote_ip: c.ipv4_ends().ok().map(|(remote, _)| remote),
        },
        PortKind::System => PortRef {
            name: p.name.clone(),
            port_no: p.id.0,
            kind: "system",
            remote_ip: None,
        },
    }
}

fn bridge_ports(dp: &Datapath, bridge: &str) -> Vec<BridgePort> {
    let mut ports: Vec<BridgePort> = dp
        .port_stats()
        .into_iter()
        .filter(|p| p.bridge == bridge)
        .filter_map(|p| {
            let (_, kind) = dp.port_kind(&p.name)?;
            let vlan = dp.port_vlan(&p.name).cloned().unwrap_or_default();
            Some(BridgePort {
                id: PortId(p.port_no),
                name: p.name,
                kind,
                mtu: p.mtu,
                link: p.link,
                vlan,
            })
        })
        .collect();
    ports.sort_by_key(|p| p.id);
    ports
}

/// Runs the forwarding decision on `req.frame` as if it entered `req.in_port`.
pub fn trace(
    dp: &Datapath,
    req: &TraceRequest,
    flows: Option<&flowtable::FlowTable>,
) -> Result<Trace, String> {
    let now = Instant::now();
    let table = table_copy(dp, &req.bridge, now)?;
    let split_horizon = dp
        .bridge_settings(&req.bridge)
        .is_some_and(|s| s.split_horizon);
    let ports = bridge_ports(dp, &req.bridge);
    let Some(ingress) = ports.iter().find(|p| p.name == req.in_port) else {
        let names: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
        return Err(format!(
            "ofproto/trace: no port {} on bridge {} (its ports: {})\n",
            req.in_port,
            req.bridge,
            names.join(", ")
        ));
    };
    let name_of = |id: PortId| {
        ports
            .iter()
            .find(|p| p.id == id)
            .map_or_else(|| format!("port {id}"), |p| p.name.clone())
    };
    let frame = &req.frame;
    let view = Frame::new_checked(&frame[..]).ok();
    let src = view.as_ref().map(|f| f.src_addr());
    let dst = view.as_ref().map(|f| f.dst_addr());

    // Ports the spanning tree keeps from forwarding, with their state.
    let closed: BTreeMap<PortId, stp::PortState> = dp
        .tree_status(&req.bridge)
        .map(|t| {
            t.status
                .ports
                .iter()
                .filter(|p| !p.state.forwards())
                .map(|p| (PortId(u32::from(p.number)), p.state))
                .collect()
        })
        .unwrap_or_default();
    let rules = Rules {
        split_horizon,
        spanning_tree: dp.tree_settings(&req.bridge).is_some(),
    };
    let from = gated_view(ingress, &closed);
    // The packet loop's own decision, on the copy of the table: it learns there, not in the
    // bridge.
    let outcome = datapath::process(&table, rules, from, frame, now);
    let size = FrameSize::plain(frame.len());
    let frame_vlan = outcome.vlan.unwrap_or(FrameVlan::UNTAGGED);
    let deliver = |p: &BridgePort, how| {
        should_deliver(&gated_view(p, &closed), &from, rules, how, frame_vlan, size)
    };
    let verdict = match outcome.action {
        Action::Deliver(p) => match ports.iter().find(|x| x.id == p) {
            Some(x) if deliver(x, Delivery::Unicast) == Err(Exclusion::Blocked) => {
                Verdict::Drop(datapath::DropReason::StpBlocked)
            }
            _ => Verdict::Unicast(p),
        },
        action => action.verdict(),
    };
    // The flow table decides a frame that passed the ingress checks, as in the packet loop.
    let mut flow_ports: Vec<PortId> = Vec::new();
    let (verdict, flow) = match flows {
        Some(table)
            if matches!(
                outcome.action,
                Action::Deliver(_) | Action::Flood | Action::Drop(datapath::DropReason::SamePort)
            ) =>
        {
            match table.lookup(&flowtable::Key::extract(frame, ingress.id.0)) {
                None => (
                    Verdict::Drop(datapath::DropReason::FlowMiss),
                    Some(TraceFlow {
                        priority: None,
                        cookie: 0,
                        actions: Vec::new(),
                    }),
                ),
                Some(f) => {
                    let mode = f.apply(ingress.id.0, |p| {
                        if ports.iter().any(|x| x.id.0 == p) {
                            flow_ports.push(PortId(p));
                        }
                    });
                    let v = match mode {
                        flowtable::Apply::Normal => verdict,
                        flowtable::Apply::Flood => Verdict::Flood,
                        flowtable::Apply::Outputs if flow_ports.is_empty() => {
                            Verdict::Drop(datapath::DropReason::FlowDrop)
                        }
                        flowtable::Apply::Outputs => Verdict::Flow,
                    };
                    (v, Some(TraceFlow::of(f, name_of)))
                }
            }
        }
        _ => (verdict, None),
    };
    let (learning, learning_from) = match outcome.learned {
        Some(Learned::New) => ("new", None),
        Some(Learned::Refreshed) => ("refresh", None),
        Some(Learned::Moved { from }) => ("move", Some(name_of(from))),
        Some(Learned::Pinned) => ("pinned", None),
        Some(Learned::Ignored) | None => ("not_reached", None),
    };
    // Only a forwarding port looks up, once the frame passed the ingress checks.
    let looked_up = from.gate == Gate::Open && outcome.learned.is_some();
    let entries = dp.fdb(&req.bridge).unwrap_or_default();
    let (lookup, lookup_port, lookup_age) = match (looked_up, dst) {
        (false, _) => ("not_reached", None, None),
        (true, Some(d)) if !d.is_multicast() => {
            match table.lookup(Addr::new(frame_vlan.vlan(), d.0), now) {
                Some(p) => {
                    let age = entries
                        .iter()
                        .find(|e| e.entry.mac == d.0 && e.entry.vlan == frame_vlan.vlan())
                        .map(|e| e.entry.age.as_secs());
                    ("hit", Some(name_of(p)), age)
                }
                None => ("miss", None, None),
            }
        }
        _ => ("not_looked_up", None, None),
    };

    // Each output with the rule's refusal, if any (a frame too big for the tunnel).
    let mut outputs: Vec<(&BridgePort, Option<Exclusion>)> = Vec::new();
    let mut excluded = Vec::new();
    let (verdict_name, reason) = match verdict {
        Verdict::Unicast(p) => {
            outputs.extend(
                ports
                    .iter()
                    .filter(|x| x.id == p)
                    .map(|x| (x, deliver(x, Delivery::Unicast).err())),
            );
            ("unicast", None)
        }
        Verdict::Flood => {
            for p in &ports {
                match deliver(p, Delivery::Flood) {
                    Ok(_) => outputs.push((p, None)),
                    Err(why) if why.is_refusal() => outputs.push((p, Some(why))),
                    Err(why) => excluded.push(Excluded {
                        port: p.name.clone(),
                        why: match (why, closed.get(&p.id)) {
                            (Exclusion::Blocked, Some(state)) => stp_exclusion(*state),
                            _ => why.name(),
                        },
                    }),
                }
            }
            ("flood", Some(flood_reason(dst)))
        }
        Verdict::Flow => {
            outputs.extend(
                ports
                    .iter()
                    .filter(|x| flow_ports.contains(&x.id))
                    .map(|x| (x, deliver(x, Delivery::Unicast).err())),
            );
            ("flow", None)
        }
        Verdict::Drop(r) => ("drop", Some(r.name())),
    };
    let (verdict_name, reason) = if verdict_name == "flood" && outputs.is_empty() {
        ("drop", Some(datapath::DropReason::NoTarget.name()))
    } else {
        (verdict_name, reason)
    };
    // Each output sees the frame as it leaves that port, with its tag pushed or popped.
    let actions = outputs
        .iter()
        .map(|(p, refused)| {
            let retag = frame_vlan.retag(&p.vlan).unwrap_or(Retag::Keep);
            let out = vlan::retagged(frame, retag);
            Output {
                vlan: vlan::action_name(retag, frame_vlan),
                ..output_action(p, &out, *refused)
            }
        })
        .collect();
    let reached_vlan = outcome.vlan.is_some()
        || outcome.action == Action::Drop(datapath::DropReason::VlanNotAllowed);
    let ingress_vlan =
        reached_vlan.then(|| vlan::IngressVlan::new(frame, &ingress.vlan, outcome.vlan));
    Ok(Trace {
        bridge: req.bridge.clone(),
        in_port: port_ref(ingress),
        frame_len: frame.len(),
        dl_src: src.map(|m| m.to_string()),
        dl_dst: dst.map(|m| m.to_string()),
        dl_type: view
            .as_ref()
            .map(|f| format!("0x{:04x}", u16::from(f.ethertype()))),
        summary: frame_summary(frame),
        frame_hex: to_hex(frame),
        learning,
        learning_from,
        vlan: ingress_vlan,
        learned: false,
        lookup,
        lookup_port,
        lookup_age,
        verdict: verdict_name,
        reason,
        outputs: outputs.iter().map(|(p, _)| p.name.clone()).collect(),
        excluded,
        actions,
        flow,
    })
}

/// Why spanning tree keeps a flood from a port, as `Excluded::why` names it.
fn stp_exclusion(state: stp::PortState) -> &'static str {
    match state {
        stp::PortState::Blocking => "stp_blocking",
        stp::PortState::Listening => "stp_listening",
        stp::PortState::Learning => "stp_learning",
        stp::PortState::Discarding => "stp_discarding",
        stp::PortState::Disabled | stp::PortState::Forwarding => "stp_disabled",
    }
}

/// [`port_view`] with the port's gate from the ports spanning tree keeps closed.
fn gated_view<'p>(p: &'p BridgePort, closed: &BTreeMap<PortId, stp::PortState>) -> PortView<'p> {
    let gate = closed.get(&p.id).map_or(Gate::Open, |s| Gate::from(*s));
    port_view(p, gate)
}

/// A port as the datapath's pipeline sees it: its gate from spanning tree, a tunnel's limit from
/// its path MTU less its outer headers.
fn port_view(p: &BridgePort, gate: Gate) -> PortView<'_> {
    match p.kind {
        PortKind::Internal { .. } | PortKind::System => PortView {
            vlan: &p.vlan,
            ..PortView::internal(p.id, gate)
        },
        PortKind::Tunnel(c) => PortView {
            id: p.id,
            vlan: &p.vlan,
            tunnel: true,
            gate,
            // DF clear (df_default=false): the transport fragments what does not fit.
            max_frame: p
                .mtu
                .zip(c.outer_header().ok())
                .filter(|_| c.df_default)
                .map(|(mtu, h)| mtu.saturating_sub(h.len() as u32)),
            whole_gso: c.large_frames,
        },
    }
}

/// What leaving by port `p` does to the frame: a TAP write, or GRE with these outer headers.
/// `refused`: why the delivery rule refuses the frame there (too big for the tunnel), if it does.
fn output_action(p: &BridgePort, frame: &[u8], refused: Option<Exclusion>) -> Output {
    let PortKind::Tunnel(config) = p.kind else {
        let result = if interface_is_up(&p.name) {
            "sent".to_string()
        } else {
            format!("dropped: {}", datapath::DropReason::PortDown.name())
        };
        return Output {
            port: port_ref(p),
            result,
            vlan: None,
            encapsulation: None,
        };
    };
    if let std::net::IpAddr::V6(remote) = config.remote_ip {
        // ip6gre: the kernel writes the outer IPv6 header (sys::raw6), so there are no outer
        // bytes here to show; say where the frame goes and who writes the header.
        let result = if refused == Some(Exclusion::TooBig) {
            format!("dropped: {}", datapath::DropReason::TooBig.name())
        } else {
            format!(
                "sent in GRE over IPv6 to {remote} by the raw IPv6 socket (the kernel writes the \
                 outer IPv6 header: hop limit {}, traffic class {})",
                config.ttl, config.tos
            )
        };
        return Output {
            port: port_ref(p),
            result,
            vlan: None,
            encapsulation: None,
        };
    }
    let (mut header, (remote_ip, local_ip)) = match (config.outer_header(), config.ipv4_ends()) {
        (Ok(header), Ok(ends)) => (header, ends),
        (Err(e), _) | (_, Err(e)) => {
            return Output {
                port: port_ref(p),
                result: format!("dropped: {e}"),
                vlan: None,
                encapsulation: None,
            };
        }
    };
    let route_source = local_ip.or_else(|| route_source(remote_ip));
    if p.link.is_some() {
        // By the packet socket no kernel fills in the source: grebe writes the route's.
        header.src = route_source.unwrap_or(header.src);
    }
    let mut buf = [0u8; encap::tunnel::MAX_OUTER_LEN];
    // The tunnel's own sequence counter is not visible from here: 0 stands for it.
    let (result, encapsulation) = match header.emit(&mut buf, frame, 0) {
        Ok(n) => {
            let packet: Vec<u8> = buf[..n].iter().chain(frame).copied().collect();
            let fields = outer_fields(&packet).unwrap_or_default();
            let too_big = refused == Some(Exclusion::TooBig);
            let result = if too_big {
                format!("dropped: {}", datapath::DropReason::TooBig.name())
            } else {
                "sent".to_string()
            };
            (
                result,
                Some(Encapsulation {
                    remote_ip,
                    route_source,
                    link: p.link.clone(),
                    header_len: n,
                    path_mtu: p.mtu,
                    packet_len: packet.len(),
                    fields,
                    hex: to_hex(&buf[..n]),
                }),
            )
        }
        Err(e) => (
            format!("dropped: {}", datapath::DropReason::from(e).name()),
            None,
        ),
    };
    Output {
        port: port_ref(p),
        result,
        vlan: None,
        encapsulation,
    }
}

/// Is the internal port's interface administratively up? A TAP refuses writes while it is down
/// (`port_down`). Read from sysfs; taken as up when sysfs cannot say.
fn interface_is_up(name: &str) -> bool {
    const IFF_UP: u32 = 0x1;
    let Ok(text) = std::fs::read_to_string(format!("/sys/class/net/{name}/flags")) else {
        return true;
    };
    let text = text.trim();
    u32::from_str_radix(text.trim_start_matches("0x"), 16).map_or(true, |f| f & IFF_UP != 0)
}

/// `ofproto/trace` for `appctl`: parse, trace, render.
pub fn run_trace(state: &DaemonState, args: &[&str], json_format: bool) -> Result<String, String> {
    let learn = args.contains(&"--learn");
    let args: Vec<&str> = args.iter().copied().filter(|a| *a != "--learn").collect();
    let args = &args[..];
    if let Some(flag) = args.iter().find(|a| a.starts_with("--")) {
        return Err(format!(
            "ofproto/trace: unknown option {flag}\n  usage: ofproto/trace {TRACE_USAGE}\n"
        ));
    }
    let req = parse_trace_args(args)?;
    if !state.config.bridges.contains_key(&req.bridge) {
        return Err(no_bridge(&req.bridge));
    }
    let mut t = trace(&state.datapath, &req, state.flows.get(&req.bridge))?;
    // Asked to learn: what the trace said learning would do, done to the live table.
    if learn && matches!(t.learning, "new" | "refresh" | "move") {
        let vlan = t.vlan.as_ref().and_then(|v| v.vlan).unwrap_or(0);
        let src = Frame::new_checked(&req.frame[..]).map(|f| Addr::new(vlan, f.src_addr().0));
        if let (Ok(src), Some(port)) = (src, state.datapath.port_id(&req.in_port)) {
            state
                .datapath
                .learn(&req.bridge, src, port)
                .map_err(|e| format!("ofproto/trace: {e}\n"))?;
            t.learned = true;
        }
    }
    if json_format {
        Ok(format!(
            "{}\n",
            serde_json::to_string(&t).map_err(|e| e.to_string())?
        ))
    } else {
        Ok(render_text(&t))
    }
}

/// `ofproto/trace` answers once; `ofproto/trace-live` streams.
pub fn register(r: &mut crate::registry::Registry<DaemonState>) {
    r.reply(
        "ofproto/trace",
        "BRIDGE in_port=PORT,dl_src=MAC,dl_dst=MAC[,dl_type=0xXXXX] | BRIDGE in_port=PORT HEXFRAME  [--format json]  what the bridge would do with a frame, step by step (sends nothing, learns nothing)",
        0..=usize::MAX,
        |state, args, format| run_trace(state, args, format == crate::registry::Format::Json),
    );
    r.stream(
        "ofproto/trace-live",
        Some("BRIDGE [--count N] [--rate LINES/S] [--format json]  one line per frame entering the bridge with the decision taken (Ctrl-C to stop)"),
        serve_live,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<&str> {
        s.split_whitespace().collect()
    }

    #[test]
    fn flow_builds_a_minimum_frame() {
        let r = parse_trace_args(&args(
            "br-int in_port=mgmt0,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,dl_type=0x0806",
        ))
        .unwrap();
        assert_eq!(r.bridge, "br-int");
        assert_eq!(r.in_port, "mgmt0");
        assert_eq!(r.frame.len(), 60);
        assert_eq!(&r.frame[..6], &[0xff; 6]);
        assert_eq!(&r.frame[6..12], &[2, 0, 0, 0, 0, 1]);
        assert_eq!(&r.frame[12..14], &[0x08, 0x06]);
    }

    #[test]
    fn a_flow_with_dl_vlan_builds_a_tagged_frame() {
        let r = parse_trace_args(&args(
            "br-int in_port=gre0,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,dl_vlan=100,dl_vlan_pcp=5",
        ))
        .unwrap();
        assert_eq!(r.frame.len(), 64);
        assert_eq!(&r.frame[12..18], &[0x81, 0x00, 0xa0, 100, 0x08, 0x00]);
        for (flow, problem) in [
            (
                "dl_vlan=4096",
                "dl_vlan=4096 is not a number from 0 to 4095",
            ),
            ("dl_vlan_pcp=8", "dl_vlan_pcp=8 is not a number from 0 to 7"),
            ("dl_vlan=ten", "dl_vlan=ten"),
        ] {
            let e = parse_trace_args(&args(&format!(
                "br0 in_port=p,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,{flow}"
            )))
            .unwrap_err();
            assert!(e.contains(problem), "{flow}: {e}");
        }
    }

    #[test]
    fn hex_frame_is_taken_as_is() {
        let r = parse_trace_args(&args("br0 in_port=gre0 ffffffffffff020000000001080600")).unwrap();
        assert_eq!(r.frame.len(), 15);
        assert_eq!(r.frame[14], 0);
    }

    #[test]
    fn bad_flows_name_the_problem_and_the_syntax() {
        for (flow, problem) in [
            (
                "br0 dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02",
                "in_port is missing",
            ),
            (
                "br0 in_port=p,dl_src=zz:00:00:00:00:01,dl_dst=02:00:00:00:00:02",
                "dl_src=zz",
            ),
            (
                "br0 in_port=p,dl_src=02:00:00:00:00:01",
                "dl_dst is missing",
            ),
            ("br0 in_port=p,nw_src=1.2.3.4", "unknown field \"nw_src\""),
            (
                "br0 in_port=p,dl_type=0x10000,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02",
                "dl_type=0x10000",
            ),
            ("br0 in_port", "is not FIELD=VALUE"),
            ("br0 in_port=p,in_port=q", "given twice"),
            (
                "br0 in_port=p,dl_src=02:00:00:00:00:01 00ff",
                "only in_port",
            ),
            ("br0 in_port=p 0fg0", "not hex"),
            ("br0", "expected a bridge and a flow"),
        ] {
            let e = parse_trace_args(&args(flow)).unwrap_err();
            assert!(e.contains(problem), "{flow}: {e}");
            assert!(e.contains("in_port=PORT"), "{flow}: {e}");
        }
    }
}
