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

use datapath::{
    Action, Datapath, Delivery, Direction, Exclusion, FrameEvent, FrameSize, Gate, MonitorSpec,
    PortKind, PortView, Rules, Verdict, should_deliver,
};
use encap::EtherType;
use encap::dissect::{self, Dissection, Malformed, Protocol};
use encap::ethernet::{EthernetAddress, Frame};
use learning::{EntryKind, Learned, PortId, SharedMacTable};
use serde::Serialize;
use serde_json::json;

use crate::capture::{clock, frame_summary};
use crate::control::{self, Reply, StreamClient, StreamConn, StreamMessage, to_hex};
use crate::state::DaemonState;

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
            other => {
                return Err(flow_error(
                    flow,
                    &format!(
                        "unknown field \"{other}\" (grebe switches on Ethernet addresses only: in_port, dl_src, dl_dst, dl_type)"
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
            build_frame(dst, src, dl_type)
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

/// A minimum-size frame with these headers and a zero payload.
fn build_frame(dst: EthernetAddress, src: EthernetAddress, dl_type: u16) -> Vec<u8> {
    let mut bytes = vec![0u8; FLOW_FRAME_LEN];
    let mut frame = Frame::new_unchecked(&mut bytes[..]);
    frame.set_dst_addr(dst);
    frame.set_src_addr(src);
    frame.set_ethertype(EtherType::from(dl_type));
    bytes
}

/// One wire field of a header, where it sits and what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderField {
    /// "ipv4", "gre", "ethernet", "inner ipv4", "icmp", ...
    pub layer: String,
    pub name: &'static str,
    /// Bit offset from the start of the packet, and width in bits.
    pub bit_offset: usize,
    pub bits: usize,
    /// The value, decoded.
    pub value: String,
    /// The bytes that hold the field (whole bytes; shared with a neighbour for sub-byte fields).
    pub hex: String,
    /// For a field that is not whole bytes: its bits, most significant first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
}

impl HeaderField {
    /// The byte range that holds the field.
    pub fn bytes(&self) -> std::ops::Range<usize> {
        self.bit_offset / 8..(self.bit_offset + self.bits).div_ceil(8)
    }
}

/// A field the dissector found, with the bytes that hold it, as trace and the guide show it.
fn header_field(packet: &[u8], d: &Dissection, f: &dissect::Field) -> HeaderField {
    let hex = packet
        .get(f.bytes())
        .map(|b| {
            b.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let binary = (f.bit_offset % 8 != 0 || f.bits % 8 != 0)
        .then(|| format!("{:0width$b}", f.raw, width = f.bits));
    HeaderField {
        layer: d.headers[f.header].layer().to_string(),
        name: f.name,
        bit_offset: f.bit_offset,
        bits: f.bits,
        value: f.to_string(),
        hex,
        binary,
    }
}

/// Dissects a whole tunnel packet, which must start with IPv4 and GRE headers that parse.
fn dissect_tunnel_packet(packet: &[u8]) -> Result<Dissection, encap::Error> {
    let d = dissect::dissect(packet, dissect::Start::Ipv4);
    let protocol_at = |i: usize| d.headers.get(i).map(|h| h.protocol);
    if protocol_at(0) == Some(Protocol::Ipv4) && protocol_at(1) == Some(Protocol::Gre) {
        return Ok(d);
    }
    let outer_protocol = encap::ipv4::Packet::new_checked(packet).map(|ip| ip.protocol());
    Err(match (outer_protocol, d.stop) {
        (Ok(p), _) if p != encap::ipv4::PROTOCOL_GRE => encap::Error::NotGre,
        (
            _,
            Some(dissect::Stop {
                error: Malformed::Tunnel(e),
                ..
            }),
        ) => e,
        // The walk stops only where a header does not parse, and IPv4 and GRE report
        // `encap::Error`s; truncation is the honest fallback.
        _ => encap::Error::Truncated,
    })
}

/// The outer IPv4 and GRE header fields of a whole tunnel packet, at their real offsets.
pub fn outer_fields(packet: &[u8]) -> Result<Vec<HeaderField>, encap::Error> {
    let d = dissect_tunnel_packet(packet)?;
    Ok(d.fields
        .iter()
        .filter(|f| f.header < 2)
        .map(|f| header_field(packet, &d, f))
        .collect())
}

/// Every header grebe knows in a whole tunnel packet: outer IPv4, GRE, the inner Ethernet
/// header, 802.1Q tags, and the inner IPv4 or ARP, ICMP, UDP or TCP headers. Returns the fields
/// and where the undecoded rest begins.
pub fn packet_fields(packet: &[u8]) -> Result<(Vec<HeaderField>, usize), encap::Error> {
    let d = dissect_tunnel_packet(packet)?;
    let fields = d
        .fields
        .iter()
        .map(|f| header_field(packet, &d, f))
        .collect();
    Ok((fields, d.rest))
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
        match e.entry.kind {
            EntryKind::Dynamic => {
                let stamp = now.checked_sub(e.entry.age).unwrap_or(now);
                table.learn(e.entry.mac, e.entry.port, stamp);
            }
            kind => table.insert_static(e.entry.mac, e.entry.port, kind),
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
            Some(BridgePort {
                id: PortId(p.port_no),
                name: p.name,
                kind,
                mtu: p.mtu,
                link: p.link,
            })
        })
        .collect();
    ports.sort_by_key(|p| p.id);
    ports
}

/// Runs the forwarding decision on `req.frame` as if it entered `req.in_port`.
pub fn trace(dp: &Datapath, req: &TraceRequest) -> Result<Trace, String> {
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
    let view_of = |p: &BridgePort| {
        let gate = closed.get(&p.id).map_or(Gate::Open, |s| Gate::from(*s));
        port_view(p, gate)
    };
    let from = view_of(ingress);
    // The packet loop's own decision, on the copy of the table: it learns there, not in the
    // bridge.
    let outcome = datapath::process(&table, rules, from, frame, now);
    let size = FrameSize::plain(frame.len());
    let deliver = |p: &BridgePort, how| should_deliver(&view_of(p), &from, rules, how, size);
    let verdict = match outcome.action {
        Action::Deliver(p) => match ports.iter().find(|x| x.id == p) {
            Some(x) if deliver(x, Delivery::Unicast) == Err(Exclusion::Blocked) => {
                Verdict::Drop(datapath::DropReason::StpBlocked)
            }
            _ => Verdict::Unicast(p),
        },
        action => action.verdict(),
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
        (true, Some(d)) if !d.is_multicast() => match table.lookup(d.0, now) {
            Some(p) => {
                let age = entries
                    .iter()
                    .find(|e| e.entry.mac == d.0)
                    .map(|e| e.entry.age.as_secs());
                ("hit", Some(name_of(p)), age)
            }
            None => ("miss", None, None),
        },
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
                    Ok(()) => outputs.push((p, None)),
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
        Verdict::Drop(r) => ("drop", Some(r.name())),
    };
    let (verdict_name, reason) = if verdict_name == "flood" && outputs.is_empty() {
        ("drop", Some(datapath::DropReason::NoTarget.name()))
    } else {
        (verdict_name, reason)
    };
    let actions = outputs
        .iter()
        .map(|(p, refused)| output_action(p, frame, *refused))
        .collect();
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
        learned: false,
        lookup,
        lookup_port,
        lookup_age,
        verdict: verdict_name,
        reason,
        outputs: outputs.iter().map(|(p, _)| p.name.clone()).collect(),
        excluded,
        actions,
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

/// A port as the datapath's pipeline sees it: its gate from spanning tree, a tunnel's limit from
/// its path MTU less its outer headers.
fn port_view(p: &BridgePort, gate: Gate) -> PortView {
    match p.kind {
        PortKind::Internal { .. } | PortKind::System => PortView::internal(p.id, gate),
        PortKind::Tunnel(c) => PortView {
            id: p.id,
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
            encapsulation: None,
        };
    };
    // The datapath holds only tunnels with IPv4 ends (it refuses others with a typed error).
    let (mut header, (remote_ip, local_ip)) = match (config.outer_header(), config.ipv4_ends()) {
        (Ok(header), Ok(ends)) => (header, ends),
        (Err(e), _) | (_, Err(e)) => {
            return Output {
                port: port_ref(p),
                result: format!("dropped: {e}"),
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

/// `ofproto/trace` in plain words.
pub fn render_text(t: &Trace) -> String {
    let mut s = String::new();
    let src = t.dl_src.as_deref().unwrap_or("?");
    let dst = t.dl_dst.as_deref().unwrap_or("?");
    let _ = writeln!(s, "Bridge: {}", t.bridge);
    let _ = writeln!(s, "Frame: {}", t.summary);
    let _ = writeln!(s, "       {}", t.frame_hex);
    let _ = writeln!(s);
    let mut n = 0;
    let mut step = |s: &mut String, text: String| {
        n += 1;
        let _ = writeln!(s, "{n}. {text}");
    };
    let ingress = match t.in_port.remote_ip {
        Some(ip) => format!(
            "Ingress: port {} ({}), a GRE tunnel from {ip}: the frame arrived inside a GRE packet from {ip} and was taken out of it",
            t.in_port.name, t.in_port.port_no
        ),
        None => format!(
            "Ingress: port {} ({}), an internal port: the host sent the frame into its TAP device",
            t.in_port.name, t.in_port.port_no
        ),
    };
    step(&mut s, ingress);
    if t.dl_src.is_none() {
        step(
            &mut s,
            format!(
                "The frame is {} bytes, shorter than an Ethernet header (14): dropped (frame_truncated)",
                t.frame_len
            ),
        );
        return finish_text(s, t);
    }
    if t.reason == Some("invalid_source_mac") {
        step(
            &mut s,
            format!(
                "Source check: {src} is a group or zero address, which no single station can send from: dropped (invalid_source_mac), not learned"
            ),
        );
        return finish_text(s, t);
    }
    step(
        &mut s,
        format!("Source check: {src} is a unicast address: accepted"),
    );
    if t.reason == Some("link_local") {
        step(
            &mut s,
            format!(
                "Destination check: {dst} is a reserved IEEE 802.1D address (01:80:c2:00:00:0X: STP, LACP, pause), which bridges never forward: dropped (link_local), not learned"
            ),
        );
        return finish_text(s, t);
    }
    let learn = match (t.learning, t.learning_from.as_deref()) {
        ("new", _) => format!(
            "Learning: {src} is not in the MAC table: it would be learned on {}, so frames to {src} go there",
            t.in_port.name
        ),
        ("refresh", _) => format!(
            "Learning: {src} is already learned on {}: its entry would be refreshed (age back to 0)",
            t.in_port.name
        ),
        ("move", Some(from)) => format!(
            "Learning: {src} was learned on {from}: it would move to {} (the station moved)",
            t.in_port.name
        ),
        ("pinned", _) => {
            format!("Learning: {src} is a static or local entry: learning never moves it")
        }
        _ => "Learning: not reached".to_string(),
    };
    let applied = if t.learned {
        "(learned: --learn)"
    } else {
        "(trace only: nothing is learned)"
    };
    step(&mut s, format!("{learn} {applied}"));
    let lookup = match t.lookup {
        "hit" => format!(
            "Lookup: {dst} is in the MAC table on {}{}",
            t.lookup_port.as_deref().unwrap_or("?"),
            t.lookup_age
                .map_or(String::new(), |a| format!(", learned {a} s ago"))
        ),
        "miss" => format!(
            "Lookup: {dst} is not in the MAC table (never seen, or idle longer than mac-aging-time): unknown unicast floods"
        ),
        "not_reached" => "Lookup: not reached: the frame was dropped before it".to_string(),
        _ if t.reason == Some("broadcast") => {
            format!("Lookup: {dst} is the broadcast address: not looked up, it floods")
        }
        _ => format!("Lookup: {dst} is a multicast address: not looked up, it floods"),
    };
    step(&mut s, lookup);
    let decision = match (t.verdict, t.reason) {
        ("unicast", _) => format!("Output: unicast to {}", t.outputs.join(", ")),
        ("flood", _) => format!("Output: flood to {}", t.outputs.join(", ")),
        ("drop", Some("same_port")) => format!(
            "Output: none: {dst} was learned on {}, where the frame came from; the destination already has it: dropped (same_port)",
            t.in_port.name
        ),
        ("drop", Some("no_target")) => {
            "Output: none: no port is left to flood to: dropped (no_target)".to_string()
        }
        ("drop", Some("stp_blocked")) => format!(
            "Output: dropped (stp_blocked): spanning tree keeps {} or the destination's port from forwarding",
            t.in_port.name
        ),
        ("drop", r) => format!("Output: dropped ({})", r.unwrap_or("?")),
        _ => String::new(),
    };
    step(&mut s, decision);
    for e in &t.excluded {
        let why = match e.why {
            "ingress" => "the ingress port: a frame never goes back where it came from".to_string(),
            why if why.starts_with("stp_") => format!(
                "spanning tree: the port is {}, not forwarding (it would close a loop); only BPDUs pass",
                &why[4..]
            ),
            _ => "split horizon: a frame from one tunnel never goes into another (tunnel-split-horizon=true)"
                .to_string(),
        };
        let _ = writeln!(s, "     not to {}: {why}", e.port);
    }
    for a in &t.actions {
        match &a.encapsulation {
            None if a.port.kind == "internal" && a.result == "sent" => step(
                &mut s,
                format!(
                    "{}: written to the TAP device {}: the host's kernel receives the frame as if from a NIC",
                    a.port.name, a.port.name
                ),
            ),
            None if a.port.kind == "internal" => step(
                &mut s,
                format!(
                    "{}: the TAP device {} is down, the kernel refuses the frame: {} (ip link set {} up)",
                    a.port.name, a.port.name, a.result, a.port.name
                ),
            ),
            None if a.port.kind == "system" && a.result == "sent" => step(
                &mut s,
                format!(
                    "{}: sent on the interface {} by its packet socket",
                    a.port.name, a.port.name
                ),
            ),
            None => step(&mut s, format!("{}: {}", a.port.name, a.result)),
            Some(e) => {
                step(
                    &mut s,
                    format!(
                        "{}: GRE to {}: {} bytes of outer IPv4 + GRE header in front of the {}-byte frame, {} bytes in all{}",
                        a.port.name,
                        e.remote_ip,
                        e.header_len,
                        t.frame_len,
                        e.packet_len,
                        match (&a.result[..], e.path_mtu) {
                            ("sent", Some(m)) => format!(" (path MTU {m})"),
                            (r, Some(m)) => format!(": over the path MTU {m}, {r}"),
                            (r, None) => format!(" ({r})"),
                        }
                    ),
                );
                let _ = writeln!(
                    s,
                    "     {}",
                    match &e.link {
                        Some(dev) => format!(
                            "written to {dev} as an Ethernet frame by grebe (packet socket): the kernel resolved the remote there"
                        ),
                        None =>
                            "sent by the raw socket: the kernel routes it and resolves the next hop"
                                .to_string(),
                    }
                );
                render_fields(&mut s, e);
            }
        }
    }
    finish_text(s, t)
}

fn render_fields(s: &mut String, e: &Encapsulation) {
    let mut layer = "";
    for f in &e.fields {
        if f.layer != layer {
            layer = if f.layer == "ipv4" { "ipv4" } else { "gre" };
            let title = if layer == "ipv4" {
                "outer IPv4 header (20 bytes), as grebe writes it:"
            } else {
                "GRE header, RFC 2784/2890:"
            };
            let _ = writeln!(s, "     {title}");
        }
        let bytes = f.bytes();
        let (at, raw) = match &f.binary {
            Some(bits) if f.bits == 1 => (
                format!("[{}] b{}", bytes.start, f.bit_offset % 8),
                format!("bit {bits}"),
            ),
            Some(bits) => (
                format!(
                    "[{}] b{}-{}",
                    bytes.start,
                    f.bit_offset % 8,
                    (f.bit_offset + f.bits - 1) - bytes.start * 8
                ),
                format!("bits {bits}"),
            ),
            None if bytes.len() == 1 => (format!("[{}]", bytes.start), f.hex.clone()),
            None => (format!("[{}..{}]", bytes.start, bytes.end), f.hex.clone()),
        };
        let by_link = e.link.is_some();
        let note = match (f.layer.as_str(), f.name) {
            ("ipv4", "identification") if f.value == "0" => " (DF set: never fragmented, so 0)",
            ("ipv4", "source") if f.value == "0.0.0.0" => " (the kernel fills it in)",
            ("ipv4", "source") if by_link => " (the route's source, written by grebe)",
            ("ipv4", "header checksum") if by_link => " (grebe computes it)",
            ("ipv4", "header checksum") => " (the kernel recomputes it)",
            ("gre", "sequence number") => " (the tunnel's counter; 0 stands for it here)",
            _ => "",
        };
        let _ = writeln!(
            s,
            "       {at:<11} {:<16} {:<40} {raw}",
            f.name,
            format!("{}{note}", f.value),
        );
    }
    match (e.route_source, &e.link) {
        (Some(src), Some(dev)) => {
            let _ = writeln!(
                s,
                "     from {src} (the kernel's route to {}), to the MAC its ARP found on {dev}",
                e.remote_ip
            );
        }
        (Some(src), None) => {
            let _ = writeln!(
                s,
                "     the kernel sends it from {src} (its route to {}), resolving the next hop with ARP",
                e.remote_ip
            );
        }
        (None, _) => {}
    }
    let _ = writeln!(s, "     header bytes: {}", spaced(&e.hex));
}

fn spaced(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn finish_text(mut s: String, t: &Trace) -> String {
    let _ = writeln!(s);
    let result = match (t.verdict, t.reason) {
        ("unicast", _) => format!("Datapath actions: output:{}", t.outputs.join(",")),
        ("flood", Some(r)) => format!(
            "Datapath actions: flood ({r}): output:{}",
            t.outputs.join(",")
        ),
        (_, r) => format!("Datapath actions: drop ({})", r.unwrap_or("?")),
    };
    let _ = writeln!(s, "{result}");
    s
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
    let mut t = trace(&state.datapath, &req)?;
    // Asked to learn: what the trace said learning would do, done to the live table.
    if learn && matches!(t.learning, "new" | "refresh" | "move") {
        let src = Frame::new_checked(&req.frame[..]).map(|f| f.src_addr().0);
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

// ---------------------------------------------------------------------------------------------
// ofproto/trace-live

/// Is this appctl command line `ofproto/trace-live`, which streams?
pub fn is_live(args: &[String]) -> bool {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--format" | "-f" => {
                it.next();
            }
            _ if a.starts_with("--format=") => {}
            other => return other == "ofproto/trace-live",
        }
    }
    false
}

struct LiveOptions {
    bridge: String,
    count: Option<u64>,
    rate: u32,
    json: bool,
}

fn live_usage(problem: &str) -> Reply {
    Reply::error(
        2,
        format!("ofproto/trace-live: {problem}\n  usage: ofproto/trace-live {LIVE_USAGE}\n"),
    )
}

fn parse_live(args: &[String]) -> Result<LiveOptions, Reply> {
    let mut bridge = None;
    let mut count = None;
    let mut rate = DEFAULT_RATE;
    let mut json = false;
    let mut it = args.iter().map(String::as_str);
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (a, None),
        };
        let mut value = |name: &str| {
            inline
                .or_else(|| it.next())
                .ok_or_else(|| live_usage(&format!("{name} needs a value")))
        };
        match flag {
            "ofproto/trace-live" => {}
            "--count" | "-c" => {
                let v = value("--count")?;
                count =
                    Some(v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        live_usage(&format!("--count {v} is not a positive number"))
                    })?);
            }
            "--rate" => {
                let v = value("--rate")?;
                rate = v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_RATE).contains(n))
                    .ok_or_else(|| {
                        live_usage(&format!("--rate {v} is not a number from 1 to {MAX_RATE}"))
                    })?;
            }
            "--format" | "-f" => match value("--format")? {
                "json" => json = true,
                "text" => json = false,
                other => return Err(live_usage(&format!("unknown output format {other:?}"))),
            },
            _ if flag.starts_with('-') => {
                return Err(live_usage(&format!("unknown option {flag}")));
            }
            _ if bridge.is_none() => bridge = Some(a.to_string()),
            _ => return Err(live_usage(&format!("unexpected argument {a}"))),
        }
    }
    let bridge = bridge.ok_or_else(|| live_usage("a bridge is required"))?;
    Ok(LiveOptions {
        bridge,
        count,
        rate,
        json,
    })
}

/// Admits `rate` lines a second, with a burst of one second's worth.
pub struct RateLimit {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    pub fn new(rate: u32) -> RateLimit {
        RateLimit {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            last: Instant::now(),
        }
    }

    pub fn admit(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The decision for one frame as the packet loop reported it, in trace's vocabulary.
pub struct LiveDecision<'a> {
    pub verdict: &'static str,
    pub reason: Option<&'static str>,
    pub outputs: Vec<&'a str>,
}

fn live_decision<'a>(
    event: &FrameEvent,
    names: &'a BTreeMap<PortId, String>,
) -> Option<LiveDecision<'a>> {
    let d = event.decision.as_ref()?;
    let name = |p: &PortId| names.get(p).map_or("?", String::as_str);
    let dst = EthernetAddress::from_bytes(&event.frame);
    Some(match d.verdict {
        Verdict::Unicast(_) => LiveDecision {
            verdict: "unicast",
            reason: None,
            outputs: d.outputs.iter().map(name).collect(),
        },
        Verdict::Flood if d.outputs.is_empty() => LiveDecision {
            verdict: "drop",
            reason: Some(datapath::DropReason::NoTarget.name()),
            outputs: Vec::new(),
        },
        Verdict::Flood => LiveDecision {
            verdict: "flood",
            reason: Some(flood_reason(dst)),
            outputs: d.outputs.iter().map(name).collect(),
        },
        Verdict::Drop(r) => LiveDecision {
            verdict: "drop",
            reason: Some(r.name()),
            outputs: Vec::new(),
        },
    })
}

/// One trace-live line for a frame that entered the bridge.
fn live_line(event: &FrameEvent, names: &BTreeMap<PortId, String>, json_format: bool) -> String {
    let port = names.get(&event.port).map_or("?", String::as_str);
    let time_us = crate::capture::micros(event.time);
    let Some(d) = live_decision(event, names) else {
        return String::new();
    };
    let frame = Frame::new_checked(&event.frame[..]).ok();
    if json_format {
        return json!({
            "time_us": time_us,
            "in_port": port,
            "dl_src": frame.as_ref().map(|f| f.src_addr().to_string()),
            "dl_dst": frame.as_ref().map(|f| f.dst_addr().to_string()),
            "dl_type": frame.as_ref().map(|f| format!("0x{:04x}", u16::from(f.ethertype()))),
            "len": event.frame.len(),
            "summary": frame_summary(&event.frame),
            "verdict": d.verdict,
            "reason": d.reason,
            "outputs": d.outputs,
        })
        .to_string();
    }
    let action = match (d.verdict, d.reason) {
        ("unicast", _) => format!("unicast to {}", d.outputs.join(",")),
        ("flood", Some(r)) => format!("flood ({r}) to {}", d.outputs.join(",")),
        (_, r) => format!("drop ({})", r.unwrap_or("?")),
    };
    format!(
        "{} in {port}: {} => {action}",
        clock(time_us),
        frame_summary(&event.frame)
    )
}

/// The daemon's side of `ofproto/trace-live`: runs on its own thread, takes the daemon's lock
/// only to look the bridge up and start watching.
pub fn serve_live(state: &Mutex<DaemonState>, conn: &mut StreamConn, args: &[String]) -> Reply {
    let opts = match parse_live(args) {
        Ok(o) => o,
        Err(reply) => return reply,
    };
    let (monitor, names) = {
        let s = state.lock().unwrap_or_else(|e| e.into_inner());
        if !s.config.bridges.contains_key(&opts.bridge) {
            return Reply::error(2, no_bridge(&opts.bridge));
        }
        let ports = bridge_ports(&s.datapath, &opts.bridge);
        let names: BTreeMap<PortId, String> =
            ports.iter().map(|p| (p.id, p.name.clone())).collect();
        let spec = MonitorSpec {
            ports: Some(ports.iter().map(|p| p.id).collect()),
            packets: false,
        };
        let monitor = match s.datapath.monitor(spec) {
            Ok(m) => m,
            Err(e) => return Reply::error(1, format!("ofproto/trace-live: {e}\n")),
        };
        // Watching from here on: frames sent after the client hears `Started` are seen.
        if let Err(e) = s.datapath.sync() {
            return Reply::error(1, format!("ofproto/trace-live: {e}\n"));
        }
        (monitor, names)
    };
    let port_list: Vec<&str> = names.values().map(String::as_str).collect();
    conn.send(&StreamMessage::Started(format!(
        "tracing frames entering {} (ports {}), at most {} lines/s{}; Ctrl-C to stop",
        opts.bridge,
        port_list.join(", "),
        opts.rate,
        opts.count
            .map_or(String::new(), |n| format!(", {n} frames")),
    )));
    let mut limit = RateLimit::new(opts.rate);
    let mut shown = 0u64;
    let mut rate_skipped = 0u64;
    let (mut reported_rate, mut reported_queue) = (0u64, 0u64);
    let mut last_report = Instant::now();
    loop {
        if conn.client_gone() || opts.count.is_some_and(|n| shown >= n) {
            break;
        }
        match monitor.events.recv_timeout(TICK) {
            Ok(event) if event.direction == Direction::Rx => {
                if limit.admit(Instant::now()) {
                    shown += 1;
                    if !conn.send(&StreamMessage::Line(live_line(&event, &names, opts.json))) {
                        break;
                    }
                } else {
                    rate_skipped += 1;
                }
            }
            Ok(_) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Reply::error(1, "ofproto/trace-live: the datapath stopped\n");
            }
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            let queue = monitor.skipped();
            if rate_skipped > reported_rate || queue > reported_queue {
                let line = skipped_line(
                    rate_skipped - reported_rate,
                    queue - reported_queue,
                    opts.rate,
                    opts.json,
                );
                (reported_rate, reported_queue) = (rate_skipped, queue);
                if !conn.send(&StreamMessage::Line(line)) {
                    break;
                }
            }
        }
    }
    let queue = monitor.skipped();
    let mut reply = Reply::ok("");
    if rate_skipped > reported_rate || queue > reported_queue {
        reply.stdout = format!(
            "{}\n",
            skipped_line(
                rate_skipped - reported_rate,
                queue - reported_queue,
                opts.rate,
                opts.json
            )
        );
    }
    reply.stderr = format!(
        "{shown} frames traced, {} not shown ({rate_skipped} over the {} lines/s limit, {queue} events the datapath's watch queue had no room for)\n",
        rate_skipped + queue,
        opts.rate
    );
    reply
}

fn skipped_line(rate: u64, queue: u64, limit: u32, json_format: bool) -> String {
    if json_format {
        return json!({ "skipped": { "rate_limit": rate, "queue_full": queue } }).to_string();
    }
    let mut parts = Vec::new();
    if rate > 0 {
        parts.push(format!("{rate} over the {limit} lines/s limit"));
    }
    if queue > 0 {
        parts.push(format!(
            "{queue} events the datapath's watch queue had no room for"
        ));
    }
    format!("-- skipped: {}", parts.join(", "))
}

/// The client's side of `ofproto/trace-live`: prints lines as they come until `--count` lines,
/// Ctrl-C, or the daemon ends the stream.
pub fn live_client(rundir: &Path, args: Vec<String>) -> anyhow::Result<ExitCode> {
    let mut client = StreamClient::open(rundir, args)?;
    control::stop_stream_on_ctrl_c(&client)?;
    while let Some(message) = client.next_message() {
        match message? {
            StreamMessage::Started(what) => eprintln!("{what}"),
            StreamMessage::Line(line) => println!("{line}"),
            StreamMessage::Done(reply) => {
                print!("{}", reply.stdout);
                eprint!("{}", reply.stderr);
                return Ok(ExitCode::from(u8::try_from(reply.exit_code).unwrap_or(1)));
            }
            StreamMessage::Frame(_) | StreamMessage::Skipped { .. } => {}
        }
    }
    eprintln!("ofproto/trace-live: the daemon closed the stream");
    Ok(ExitCode::FAILURE)
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

    #[test]
    fn outer_fields_decode_what_emit_wrote() {
        let header = encap::OuterHeader {
            key: Some(5),
            csum: true,
            seq: true,
            ..encap::OuterHeader::new(Ipv4Addr::new(192, 0, 2, 2))
        };
        let frame = build_frame(
            EthernetAddress::BROADCAST,
            EthernetAddress([2, 0, 0, 0, 0, 1]),
            0x0806,
        );
        let mut buf = [0u8; encap::tunnel::MAX_OUTER_LEN];
        let n = header.emit(&mut buf, &frame, 7).unwrap();
        let packet: Vec<u8> = buf[..n].iter().chain(&frame).copied().collect();
        let fields = outer_fields(&packet).unwrap();
        let get = |layer: &str, name: &str| {
            fields
                .iter()
                .find(|f| f.layer == layer && f.name == name)
                .unwrap_or_else(|| panic!("{layer} {name}"))
        };
        assert_eq!(get("ipv4", "total length").value, (n + 60).to_string());
        assert_eq!(get("ipv4", "flags").value, "DF");
        assert_eq!(get("ipv4", "protocol").value, "47 (GRE)");
        assert_eq!(get("ipv4", "destination").hex, "c0 00 02 02");
        assert_eq!(get("gre", "key").value, "5");
        assert_eq!(get("gre", "key").bytes(), 28..32);
        assert_eq!(get("gre", "sequence number").value, "7");
        assert_eq!(get("gre", "sequence number").bytes(), 32..36);
        assert_eq!(get("gre", "protocol type").hex, "65 58");
        assert!(get("gre", "C").value.starts_with('1'));
        assert!(get("gre", "K").value.starts_with('1'));
        assert_eq!(get("gre", "version").value, "0");
    }

    #[test]
    fn packet_fields_need_ipv4_and_gre_and_go_down_to_the_inner_headers() {
        let frame = build_frame(
            EthernetAddress::BROADCAST,
            EthernetAddress([2, 0, 0, 0, 0, 1]),
            0x0806,
        );
        let header = encap::OuterHeader::new(Ipv4Addr::new(192, 0, 2, 2));
        let mut buf = [0u8; encap::tunnel::MAX_OUTER_LEN];
        let n = header.emit(&mut buf, &frame, 0).unwrap();
        let packet: Vec<u8> = buf[..n].iter().chain(&frame).copied().collect();
        let (fields, rest) = packet_fields(&packet).unwrap();
        // The zero ARP body is not Ethernet/IPv4: the walk ends after the inner Ethernet header.
        assert_eq!(rest, n + 14);
        let eth_type = fields
            .iter()
            .find(|f| f.layer == "ethernet" && f.name == "type")
            .unwrap();
        assert_eq!(eth_type.value, "0x0806 (ARP)");
        assert_eq!(eth_type.bytes(), n + 12..n + 14);
        let flags = fields
            .iter()
            .find(|f| f.layer == "ipv4" && f.name == "flags")
            .unwrap();
        assert_eq!(flags.binary.as_deref(), Some("010"));
        assert_eq!(packet_fields(&packet[..10]), Err(encap::Error::Truncated));
        let mut not_gre = packet.clone();
        not_gre[9] = 17;
        assert_eq!(packet_fields(&not_gre), Err(encap::Error::NotGre));
    }

    #[test]
    fn rate_limit_admits_a_burst_then_the_rate() {
        let mut r = RateLimit::new(10);
        let t = Instant::now();
        r.last = t;
        let admitted = (0..50).filter(|_| r.admit(t)).count();
        assert_eq!(admitted, 10);
        assert!(r.admit(t + Duration::from_millis(100)));
        assert!(!r.admit(t + Duration::from_millis(100)));
    }

    #[test]
    fn live_is_recognised_behind_format_flags() {
        let v = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert!(is_live(&v("ofproto/trace-live br-int")));
        assert!(is_live(&v("--format json ofproto/trace-live br-int")));
        assert!(!is_live(&v("ofproto/trace br-int in_port=x")));
        assert!(!is_live(&v("dpif/show")));
    }
}
