//! Each bridge's OpenFlow management socket, `<rundir>/<BR>.mgmt` (owner-only), where
//! `ovs-ofctl BR` connects as it does to ovs-vswitchd (it looks in `$OVS_RUNDIR`). grebe is the
//! switch side of OpenFlow 1.3 and 1.0 there (1.0 is what ovs-ofctl speaks without `-O`): the
//! handshake, echo, features, get/set-config, barrier,
//! and the multipart replies that describe the bridge (desc, port-desc, port, flow, aggregate,
//! table statistics; an empty table-features reply). Until grebe has a flow table its one flow
//! is the bridge's own `priority=0 actions=NORMAL`, as OVS shows for a bridge without a
//! controller; a flow-mod is refused with FLOW_MOD_FAILED/EPERM and everything else it does not
//! implement with the error the spec gives, each counted by reason (`openflow/show`).

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openflow::{
    Framer, MultipartKind, OFPP_ANY, OFPP_LOCAL, PortDesc, PortReason, PortStats, Reply, Request,
    SwitchDesc, TableStats, VERSION_1_3, error, msg,
};

use crate::state::DaemonState;

/// How often the set of sockets follows the bridges, and waiting clients are accepted.
const ACCEPT_EVERY: Duration = Duration::from_millis(20);
/// A connection silent this long is sent an echo request; twice this, it is closed (OVS's
/// inactivity probe is 5 s).
const PROBE: Duration = Duration::from_secs(5);

/// What the management sockets and controller connections have seen, for `openflow/show`.
#[derive(Debug, Default, Clone)]
pub struct OpenflowCounters {
    pub connections: u64,
    pub messages: u64,
    /// Messages answered with an error, by reason.
    pub refused: BTreeMap<&'static str, u64>,
    /// Sessions open now with each (bridge, controller target).
    pub controllers: BTreeMap<(String, String), u32>,
}

/// A byte stream OpenFlow runs over: a Unix or TCP socket.
pub(crate) trait Channel: Read + Write {
    fn set_timeout(&self, t: Duration) -> io::Result<()>;
}

impl Channel for UnixStream {
    fn set_timeout(&self, t: Duration) -> io::Result<()> {
        self.set_nonblocking(false)?;
        self.set_read_timeout(Some(t))
    }
}

impl Channel for std::net::TcpStream {
    fn set_timeout(&self, t: Duration) -> io::Result<()> {
        self.set_nonblocking(false)?;
        self.set_nodelay(true)?;
        self.set_read_timeout(Some(t))
    }
}

/// How often a session looks up from its socket: to see whether it should stop, and to probe.
const TICK: Duration = Duration::from_secs(1);

/// The socket path of a bridge.
pub fn socket_path(rundir: &Path, bridge: &str) -> PathBuf {
    rundir.join(format!("{bridge}.mgmt"))
}

/// Starts the thread that accepts on the bridges' sockets and follows their controllers.
pub fn spawn(state: Arc<Mutex<DaemonState>>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("grebe-ofmgmt".into())
        .spawn(move || listen(&state))?;
    Ok(())
}

/// The bridges' management sockets, made and removed with the bridges by the daemon's
/// reconcile, so `ovs-ofctl` reaches a bridge as soon as `add-br` has returned.
#[derive(Debug)]
pub struct MgmtSockets {
    rundir: PathBuf,
    listeners: BTreeMap<String, Arc<UnixListener>>,
}

impl MgmtSockets {
    pub fn new(rundir: PathBuf) -> MgmtSockets {
        MgmtSockets {
            rundir,
            listeners: BTreeMap::new(),
        }
    }

    /// One listening socket per bridge of `bridges`, and none for any other.
    pub fn sync<'b>(&mut self, bridges: impl Iterator<Item = &'b String> + Clone) {
        let rundir = &self.rundir;
        self.listeners.retain(|b, _| {
            let keep = bridges.clone().any(|x| x == b);
            if !keep {
                let _ = fs::remove_file(socket_path(rundir, b));
            }
            keep
        });
        for b in bridges {
            if !self.listeners.contains_key(b) {
                match bind(&socket_path(rundir, b)) {
                    Ok(l) => {
                        self.listeners.insert(b.clone(), Arc::new(l));
                    }
                    Err(e) => {
                        tracing::warn!(bridge = %b, error = %e, "cannot open the OpenFlow management socket");
                    }
                }
            }
        }
    }
}

/// A bridge's name and its management socket.
type BridgeSocket = (String, Arc<UnixListener>);

fn listen(state: &Arc<Mutex<DaemonState>>) {
    let mut controllers = crate::openflow_controllers::Controllers::default();
    loop {
        let (listeners, targets): (Vec<BridgeSocket>, Vec<(String, String)>) = {
            let s = state.lock().unwrap_or_else(|e| e.into_inner());
            let targets = s
                .config
                .bridges
                .iter()
                .flat_map(|(b, br)| br.controller.iter().map(move |t| (b.clone(), t.clone())))
                .collect();
            let listeners = s
                .mgmt_sockets
                .listeners
                .iter()
                .map(|(b, l)| (b.clone(), l.clone()))
                .collect();
            (listeners, targets)
        };
        controllers.sync(&targets, state);
        for (b, l) in &listeners {
            while let Ok((conn, _)) = l.accept() {
                let (state, bridge) = (state.clone(), b.clone());
                let spawned = std::thread::Builder::new()
                    .name("grebe-ofconn".into())
                    .spawn(move || {
                        let never = std::sync::atomic::AtomicBool::new(false);
                        if let Err(e) = serve(conn, &bridge, &state, &never) {
                            tracing::debug!(%bridge, error = %e, "OpenFlow connection ended");
                        }
                    });
                if let Err(e) = spawned {
                    tracing::warn!(error = %e, "cannot start an OpenFlow connection thread");
                }
            }
        }
        std::thread::sleep(ACCEPT_EVERY);
    }
}

fn bind(path: &Path) -> io::Result<UnixListener> {
    // A socket file left by a daemon that died.
    let _ = fs::remove_file(path);
    let l = UnixListener::bind(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// One connection's settings (SET_CONFIG).
struct Session<'a> {
    bridge: &'a str,
    /// The version the handshake agreed on; None until the peer's HELLO.
    version: Option<u8>,
    flags: u16,
    miss_send_len: u16,
    /// The handshake failed: close once the error is out, as the spec says.
    close: bool,
    /// The ports as last told (by features or port-desc, then PORT_STATUS), from the handshake.
    ports: Option<BTreeMap<u32, PortDesc>>,
    ports_checked: Instant,
}

/// Serves one OpenFlow session until the peer goes, stops answering echoes, or `stop` is set.
pub(crate) fn serve<C: Channel>(
    mut conn: C,
    bridge: &str,
    state: &Mutex<DaemonState>,
    stop: &std::sync::atomic::AtomicBool,
) -> io::Result<()> {
    conn.set_timeout(TICK)?;
    conn.write_all(&Reply::hello(0))?;
    count(state, |c| c.connections += 1);
    let mut session = Session {
        bridge,
        version: None,
        flags: 0,
        miss_send_len: 0,
        close: false,
        ports: None,
        ports_checked: Instant::now(),
    };
    let mut framer = Framer::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_heard = Instant::now();
    let mut probed = false;
    loop {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        match conn.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                framer.push(&buf[..n]);
                last_heard = Instant::now();
                probed = false;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if last_heard.elapsed() >= 2 * PROBE {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "no answer to echo"));
                }
                if last_heard.elapsed() >= PROBE && !probed {
                    conn.write_all(&session.reply().echo_request(0))?;
                    probed = true;
                }
                for status in session.port_changes(state) {
                    conn.write_all(&status)?;
                }
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        while let Some(m) = framer.next_message() {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    refuse(state, "bad_length");
                    let _ = conn.write_all(&session.reply().error(
                        0,
                        error::BAD_REQUEST,
                        error::BAD_LEN,
                        &[],
                    ));
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string()));
                }
            };
            count(state, |c| c.messages += 1);
            for reply in answer(&m, &mut session, state) {
                conn.write_all(&reply)?;
            }
            if session.close {
                return Ok(());
            }
        }
        // The flow-mods of one read reach the datapath as one table.
        crate::openflow_flows::publish(
            &mut state.lock().unwrap_or_else(|e| e.into_inner()),
            bridge,
        );
        for status in session.port_changes(state) {
            conn.write_all(&status)?;
        }
    }
}

impl Session<'_> {
    /// PORT_STATUS for every port added, deleted or changed since the last look (at most once
    /// a TICK), after the handshake.
    fn port_changes(&mut self, state: &Mutex<DaemonState>) -> Vec<Vec<u8>> {
        if self.version.is_none() || self.ports_checked.elapsed() < TICK {
            return Vec::new();
        }
        self.ports_checked = Instant::now();
        let now: BTreeMap<u32, PortDesc> = {
            let s = state.lock().unwrap_or_else(|e| e.into_inner());
            port_descs(&s, self.bridge)
                .into_iter()
                .map(|p| (p.port_no, p))
                .collect()
        };
        let Some(before) = self.ports.replace(now.clone()) else {
            return Vec::new();
        };
        let r = self.reply();
        let mut out = Vec::new();
        for (no, p) in &now {
            match before.get(no) {
                None => out.push(r.port_status(PortReason::Add, p)),
                Some(old) if old != p => out.push(r.port_status(PortReason::Modify, p)),
                Some(_) => {}
            }
        }
        for (no, p) in &before {
            if !now.contains_key(no) {
                out.push(r.port_status(PortReason::Delete, p));
            }
        }
        out
    }

    /// Encoders for the agreed version (1.3 until then).
    fn reply(&self) -> Reply {
        Reply {
            version: self.version.unwrap_or(VERSION_1_3),
        }
    }
}

fn count(state: &Mutex<DaemonState>, f: impl FnOnce(&mut OpenflowCounters)) {
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut s.openflow);
}

fn refuse(state: &Mutex<DaemonState>, reason: &'static str) {
    count(state, |c| *c.refused.entry(reason).or_default() += 1);
}

/// The replies to one message.
fn answer(m: &[u8], session: &mut Session<'_>, state: &Mutex<DaemonState>) -> Vec<Vec<u8>> {
    let xid = u32::from_be_bytes([m[4], m[5], m[6], m[7]]);
    let r = session.reply();
    let (_, request) = match openflow::decode(m, session.version) {
        Ok(r) => r,
        Err(openflow::Error::BadVersion(_)) => {
            refuse(state, "bad_version");
            return vec![r.error(xid, error::BAD_REQUEST, error::BAD_VERSION, m)];
        }
        Err(_) => {
            refuse(state, "bad_length");
            return vec![r.error(xid, error::BAD_REQUEST, error::BAD_LEN, m)];
        }
    };
    match request {
        Request::Hello { versions } => match openflow::negotiate(versions) {
            Some(v) => {
                session.version = Some(v);
                // The ports the peer learns of from here on; changes after are PORT_STATUS.
                let s = state.lock().unwrap_or_else(|e| e.into_inner());
                session.ports = Some(
                    port_descs(&s, session.bridge)
                        .into_iter()
                        .map(|p| (p.port_no, p))
                        .collect(),
                );
                Vec::new()
            }
            None => {
                refuse(state, "hello_incompatible");
                session.close = true;
                vec![r.error(
                    xid,
                    error::HELLO_FAILED,
                    error::HELLO_INCOMPATIBLE,
                    b"grebe speaks OpenFlow 1.0 and 1.3 (ovs-ofctl -O OpenFlow13)",
                )]
            }
        },
        Request::Error { kind, code } => {
            tracing::info!(
                bridge = session.bridge,
                kind,
                code,
                "OpenFlow peer sent an error"
            );
            Vec::new()
        }
        Request::EchoRequest(data) => vec![r.echo_reply(xid, &data)],
        Request::EchoReply => Vec::new(),
        Request::FeaturesRequest => {
            // 1.0 lists the ports here; 1.3 leaves them to PORT_DESC.
            let ports = if r.version == VERSION_1_3 {
                Vec::new()
            } else {
                let s = state.lock().unwrap_or_else(|e| e.into_inner());
                port_descs(&s, session.bridge)
            };
            vec![r.features(xid, datapath_id(session.bridge), &ports)]
        }
        Request::GetConfigRequest => {
            vec![r.get_config(xid, session.flags, session.miss_send_len)]
        }
        Request::SetConfig {
            flags,
            miss_send_len,
        } => {
            // Only fragment handling "normal" (0) exists; the other bits are kept as told.
            session.flags = flags & 0x3;
            session.miss_send_len = miss_send_len;
            Vec::new()
        }
        Request::Barrier => {
            // What came before the barrier is in effect before its reply.
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            crate::openflow_flows::publish(&mut s, session.bridge);
            vec![r.barrier(xid)]
        }
        Request::Multipart(kind) => multipart(r, xid, kind, m, session.bridge, state),
        Request::FlowMod => {
            let applied = {
                let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
                crate::openflow_flows::flow_mod(&mut s, session.bridge, r.version, &m[8..])
            };
            match applied {
                Ok(()) => Vec::new(),
                Err(e) => {
                    refuse(state, e.reason);
                    let e = e.for_version(r.version);
                    vec![r.error(xid, e.kind, e.code, m)]
                }
            }
        }
        Request::Unsupported { kind } => {
            let (reason, code) = match kind {
                msg::EXPERIMENTER => ("experimenter", error::BAD_EXPERIMENTER),
                _ => ("bad_type", error::BAD_TYPE),
            };
            refuse(state, reason);
            vec![r.error(xid, error::BAD_REQUEST, code, m)]
        }
    }
}

/// OVS's datapath ID for a bridge: 0000 and the local port's MAC.
fn datapath_id(bridge: &str) -> u64 {
    datapath::interface_mac(bridge)
        .map(|mac| mac.iter().fold(0u64, |id, b| (id << 8) | u64::from(*b)))
        .unwrap_or(0)
}

fn mac_bytes(mac: Option<&str>) -> [u8; 6] {
    let mut out = [0u8; 6];
    if let Some(mac) = mac {
        for (o, part) in out.iter_mut().zip(mac.split(':')) {
            *o = u8::from_str_radix(part, 16).unwrap_or(0);
        }
    }
    out
}

/// The bridge's ports as OpenFlow describes them.
fn port_descs(s: &DaemonState, bridge: &str) -> Vec<PortDesc> {
    let tree = s.datapath.tree_status(bridge).ok();
    let blocked = |name: &str| {
        tree.as_ref().is_some_and(|t| {
            t.port_names
                .iter()
                .find(|(_, n)| n.as_str() == name)
                .and_then(|(no, _)| t.status.ports.iter().find(|p| p.number == *no))
                .is_some_and(|p| !p.state.forwards())
        })
    };
    s.datapath
        .port_stats()
        .into_iter()
        .filter(|p| p.bridge == bridge)
        .map(|p| PortDesc {
            port_no: of_port(&p, bridge),
            // A tunnel has no MAC of its own: the stable one its mac_in_use shows.
            hw_addr: match (&p.mac_in_use, p.remote_ip) {
                (None, Some(_)) => crate::state::name_mac(&p.name),
                (mac, _) => mac_bytes(mac.as_deref()),
            },
            blocked: blocked(&p.name),
            admin_down: p.admin_state != "up",
            link_down: p.link_state != "up",
            name: p.name,
        })
        .collect()
}

/// A port's OpenFlow number: the bridge's own port is LOCAL, as in OVS.
fn of_port(p: &datapath::PortStats, bridge: &str) -> u32 {
    if p.name == bridge {
        OFPP_LOCAL
    } else {
        p.port_no
    }
}

fn multipart(
    r: Reply,
    xid: u32,
    kind: MultipartKind,
    m: &[u8],
    bridge: &str,
    state: &Mutex<DaemonState>,
) -> Vec<Vec<u8>> {
    let s = state.lock().unwrap_or_else(|e| e.into_inner());
    let ports: Vec<datapath::PortStats> = s
        .datapath
        .port_stats()
        .into_iter()
        .filter(|p| p.bridge == bridge)
        .collect();
    let of_port = |p: &datapath::PortStats| {
        if p.name == bridge {
            OFPP_LOCAL
        } else {
            p.port_no
        }
    };
    let uptime = u32::try_from(s.started.elapsed().as_secs()).unwrap_or(u32::MAX);
    let rx_total: (u64, u64) = ports.iter().fold((0, 0), |(n, b), p| {
        (n + p.counters.rx_packets, b + p.counters.rx_bytes)
    });
    let items: Vec<Vec<u8>> = match kind {
        MultipartKind::Desc => vec![r.desc(&SwitchDesc {
            manufacturer: "grebe".into(),
            hardware: "grebe userspace GRE switch".into(),
            software: env!("CARGO_PKG_VERSION").into(),
            serial: "None".into(),
            datapath: bridge.into(),
        })],
        MultipartKind::PortDesc => port_descs(&s, bridge)
            .iter()
            .map(|p| r.port_desc(p))
            .collect(),
        MultipartKind::PortStats(which) => ports
            .iter()
            .filter(|p| which == OFPP_ANY || which == of_port(p))
            .map(|p| {
                let k = p.kernel.unwrap_or_default();
                let c = p.counters;
                r.port_stats(&PortStats {
                    port_no: of_port(p),
                    rx_packets: c.rx_packets,
                    tx_packets: c.tx_packets,
                    rx_bytes: c.rx_bytes,
                    tx_bytes: c.tx_bytes,
                    rx_dropped: k.rx_dropped,
                    tx_dropped: c.tx_dropped + k.tx_dropped,
                    rx_errors: k.rx_errors,
                    tx_errors: k.tx_errors,
                    duration_sec: uptime,
                })
            })
            .collect(),
        MultipartKind::Flow | MultipartKind::Aggregate => {
            let head = if r.version == VERSION_1_3 { 16 } else { 12 };
            let filter = match openflow::decode_flow_stats_request(r.version, &m[head..]) {
                Ok(f) => f,
                Err(e) => {
                    drop(s);
                    refuse(state, e.reason);
                    let e = e.for_version(r.version);
                    return vec![r.error(xid, e.kind, e.code, m)];
                }
            };
            let flows = crate::openflow_flows::flow_stats(&s, bridge, Some(filter), rx_total);
            if kind == MultipartKind::Flow {
                flows.iter().map(|f| r.flow_stats(f)).collect()
            } else {
                let (p, b) = flows
                    .iter()
                    .fold((0, 0), |(p, b), f| (p + f.packets, b + f.bytes));
                vec![r.aggregate(p, b, flows.len() as u32)]
            }
        }
        MultipartKind::Table => {
            let flows = crate::openflow_flows::flow_stats(&s, bridge, None, rx_total);
            let matched: u64 = flows.iter().map(|f| f.packets).sum();
            vec![r.table_stats(&TableStats {
                table_id: 0,
                active_count: flows.len() as u32,
                lookup_count: rx_total.0,
                matched_count: matched,
            })]
        }
        // The one table, its size the MAC table's: what NORMAL switching holds.
        MultipartKind::TableFeatures => vec![r.table_features(0, "classifier", 1_000_000)],
        MultipartKind::Other(_) => {
            drop(s);
            refuse(state, "bad_multipart");
            return vec![r.error(xid, error::BAD_REQUEST, error::BAD_MULTIPART, m)];
        }
    };
    r.multipart(xid, kind.code(), &items)
}
