//! `grebe daemon`: holds the configuration, persists it, and keeps the datapath in step with it.
//! Policy lives here (which bridges and ports exist, from ovs-vsctl commands); the datapath only
//! offers add/set/del and counters.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use datapath::{BridgeSettings, Datapath, DatapathOptions, PortKind, PortStats};

use crate::appctl;
use crate::control::{self, Reply, Request, RequestKind};
use vswitch::config::{Bridge, Config, Interface, InterfaceType};
use vswitch::vsctl;

/// Where the configuration lives unless `--db` or `GREBE_DB` says otherwise.
pub const DEFAULT_DB: &str = "/var/lib/grebe/conf.json";
/// How often tunnels' route MTUs are re-read (routes and addresses change under the daemon).
const MTU_REFRESH: Duration = Duration::from_secs(5);
/// How often tunnels' Ethernet links are re-read from the neighbour table: a remote's new MAC
/// is followed within this time.
const LINK_REFRESH: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct DaemonOptions {
    pub rundir: PathBuf,
    pub db: PathBuf,
    pub pidfile: Option<PathBuf>,
    pub detach: bool,
    /// Use the TAPs' segmentation and checksum offloads (see `DatapathOptions`).
    pub offload: bool,
    /// Send to on-link remotes by a packet socket (see `DatapathOptions::link_tx`).
    pub link_tx: bool,
}

/// The daemon's state, behind one mutex taken by control requests (never by the packet loop).
pub struct DaemonState {
    pub config: Config,
    pub datapath: Datapath,
    /// Why an interface in the configuration is not (fully) in the datapath, as OVS's `error`.
    pub errors: BTreeMap<String, String>,
    pub db: PathBuf,
    pub started: Instant,
}

pub fn run(opts: DaemonOptions) -> anyhow::Result<()> {
    if opts.detach {
        return detach(&opts);
    }
    if !Path::new("/dev/net/tun").exists() {
        bail!(
            "/dev/net/tun is missing: grebe's internal ports are TAP devices (load the tun module: modprobe tun)"
        );
    }
    fs::create_dir_all(&opts.rundir)
        .with_context(|| format!("creating rundir {}", opts.rundir.display()))?;
    let socket = control::socket_path(&opts.rundir);
    if socket.exists() {
        if UnixStream::connect(&socket).is_ok() {
            let pid = fs::read_to_string(opts.rundir.join(control::PIDFILE_NAME))
                .map(|p| format!(" (pid {})", p.trim()))
                .unwrap_or_default();
            bail!(
                "another grebe daemon{pid} is running with rundir {}: stop it, or give this one its own --rundir",
                opts.rundir.display()
            );
        }
        // Left by a daemon that died without cleaning up.
        fs::remove_file(&socket).with_context(|| format!("removing stale {}", socket.display()))?;
    }
    let config = Config::load(&opts.db)
        .with_context(|| format!("loading configuration {}", opts.db.display()))?;
    config.validate().with_context(|| {
        format!(
            "configuration {} is invalid (fix or remove it)",
            opts.db.display()
        )
    })?;
    let datapath = Datapath::start(DatapathOptions {
        offload: opts.offload,
        link_tx: opts.link_tx,
    })
    .context("starting the datapath")?;
    let mut state = DaemonState {
        config,
        datapath,
        errors: BTreeMap::new(),
        db: opts.db.clone(),
        started: Instant::now(),
    };
    state.reconcile();
    let listener =
        UnixListener::bind(&socket).with_context(|| format!("binding {}", socket.display()))?;
    fs::set_permissions(&socket, fs::Permissions::from_mode(0o600))?;
    let pid = std::process::id().to_string();
    let pidfiles: Vec<PathBuf> = std::iter::once(opts.rundir.join(control::PIDFILE_NAME))
        .chain(opts.pidfile.clone())
        .collect();
    for p in &pidfiles {
        fs::write(p, format!("{pid}\n")).with_context(|| format!("writing {}", p.display()))?;
    }
    let cleanup_paths: Vec<PathBuf> = pidfiles.iter().cloned().chain([socket.clone()]).collect();
    ctrlc::set_handler(move || {
        // Internal ports are persistent TAPs: they and their addresses outlive us on purpose.
        for p in &cleanup_paths {
            let _ = fs::remove_file(p);
        }
        tracing::info!("exiting on signal");
        std::process::exit(0);
    })
    .context("installing signal handlers")?;
    tracing::info!(
        rundir = %opts.rundir.display(),
        db = %opts.db.display(),
        bridges = state.config.bridges.len(),
        "grebe daemon ready"
    );

    let state = Arc::new(Mutex::new(state));
    let refresher = state.clone();
    std::thread::Builder::new()
        .name("grebe-mtu".into())
        .spawn(move || {
            let mut last_mtu = Instant::now();
            loop {
                std::thread::sleep(LINK_REFRESH);
                let mut s = refresher.lock().unwrap_or_else(|e| e.into_inner());
                if let Err(e) = s.datapath.refresh_links() {
                    tracing::warn!(error = %e, "cannot refresh tunnel links");
                }
                if last_mtu.elapsed() >= MTU_REFRESH {
                    last_mtu = Instant::now();
                    if let Err(e) = s.datapath.refresh_path_mtus() {
                        tracing::warn!(error = %e, "cannot refresh tunnel MTUs");
                    }
                }
            }
        })?;
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let reply = match control::read_request(&conn) {
            Ok(request) if request.kind == RequestKind::Stream => {
                spawn_stream(&state, conn, request);
                continue;
            }
            Ok(request) => {
                let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
                s.handle(&request)
            }
            Err(e) => Reply::error(1, format!("grebe: {e:#}\n")),
        };
        if let Err(e) = control::write_reply(&conn, &reply) {
            tracing::debug!(error = %e, "client went away");
        }
    }
    Ok(())
}

/// Streams (`ofproto/trace-live`, `grebe capture`) at once; more are refused.
const MAX_STREAMS: usize = 16;
static STREAMS: AtomicUsize = AtomicUsize::new(0);

/// Serves a streamed request on its own thread, so that it never holds the daemon's lock while
/// it streams (the command takes the lock only to set itself up).
fn spawn_stream(state: &Arc<Mutex<DaemonState>>, conn: UnixStream, request: Request) {
    if STREAMS.fetch_add(1, Ordering::Relaxed) >= MAX_STREAMS {
        STREAMS.fetch_sub(1, Ordering::Relaxed);
        let reply = Reply::error(
            1,
            format!("grebe: {MAX_STREAMS} traces and captures are already running; stop one\n"),
        );
        if let Ok(mut c) = control::StreamConn::new(conn) {
            c.send(&control::StreamMessage::Done(reply));
        }
        return;
    }
    let state = state.clone();
    let spawned = std::thread::Builder::new()
        .name("grebe-stream".into())
        .spawn(move || {
            match control::StreamConn::new(conn) {
                Ok(mut conn) => {
                    let args = &request.args;
                    let reply = match args.first().map(String::as_str) {
                        Some("ofproto/trace-live") => {
                            crate::trace::serve_live(&state, &mut conn, args)
                        }
                        Some("capture") => crate::capture::serve(&state, &mut conn, &args[1..]),
                        other => {
                            Reply::error(2, format!("grebe: {other:?} is not a streamed command\n"))
                        }
                    };
                    conn.finish(reply);
                }
                Err(e) => tracing::debug!(error = %e, "cannot serve a stream"),
            }
            STREAMS.fetch_sub(1, Ordering::Relaxed);
        });
    if let Err(e) = spawned {
        STREAMS.fetch_sub(1, Ordering::Relaxed);
        tracing::warn!(error = %e, "cannot start a stream thread");
    }
}

/// `--detach`: start a copy of ourselves in its own session, wait until it answers on its control
/// socket (so a script's next command finds it), then return.
fn detach(opts: &DaemonOptions) -> anyhow::Result<()> {
    fs::create_dir_all(&opts.rundir)?;
    let log_path = opts.rundir.join("grebe.log");
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("daemon")
        .arg("--rundir")
        .arg(&opts.rundir)
        .arg("--db")
        .arg(&opts.db);
    if let Some(p) = &opts.pidfile {
        cmd.arg("--pidfile").arg(p);
    }
    if !opts.offload {
        cmd.arg("--no-offload");
    }
    if !opts.link_tx {
        cmd.arg("--raw-tx");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("starting the daemon")?;
    let socket = control::socket_path(&opts.rundir);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            let last = log.lines().rev().take(3).collect::<Vec<_>>();
            bail!(
                "the daemon exited ({status}); its log {} ends with:\n{}",
                log_path.display(),
                last.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        if UnixStream::connect(&socket).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!(
        "the daemon did not open {} within 10 s; see {}",
        socket.display(),
        log_path.display()
    )
}

/// What the configuration asks the datapath for one interface.
fn desired_kind(name: &str, iface: &Interface) -> Result<PortKind, String> {
    match iface.kind {
        InterfaceType::Internal => Ok(PortKind::Internal {
            mtu_request: iface.mtu_request,
        }),
        InterfaceType::Gre => iface
            .gre_options_named(name)
            .map(PortKind::Tunnel)
            .map_err(|e| e.to_string()),
        InterfaceType::System => Err(format!(
            "could not open network device {name} (No such device): grebe has internal and gre ports only (set interface {name} type=internal or type=gre)"
        )),
    }
}

impl DaemonState {
    pub fn handle(&mut self, request: &Request) -> Reply {
        match request.kind {
            RequestKind::Vsctl => self.vsctl(&request.args),
            RequestKind::Appctl => appctl::run(self, &request.args),
            // The accept loop hands streams to their own thread before they get here.
            RequestKind::Stream => Reply::error(2, "grebe: a stream needs its own connection\n"),
        }
    }

    fn vsctl(&mut self, args: &[String]) -> Reply {
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
            // Before the ports: a new tunnel on a spanning tree bridge must start blocked, or a
            // full mesh loops broadcasts until the tree is up.
            if let Err(e) = configure_tree(dp, name, b) {
                tracing::error!(bridge = %name, error = %e, "cannot configure spanning tree");
            }
        }
        for (name, (bridge, kind)) in desired {
            let result = match kind {
                Err(e) => Err(e),
                Ok(kind) if dp.port_kind(name).is_some() => {
                    dp.set_port(name, kind).map_err(|e| error_chain(&e))
                }
                Ok(kind) => dp.add_port(bridge, name, kind).map_err(|e| error_chain(&e)),
            };
            if let Err(e) = result {
                self.errors.insert(name.to_owned(), e);
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
fn name_mac(name: &str) -> [u8; 6] {
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
struct Live<'a> {
    stats: BTreeMap<String, PortStats>,
    errors: &'a BTreeMap<String, String>,
}

impl<'a> Live<'a> {
    fn new(state: &'a DaemonState) -> Self {
        Live {
            stats: state
                .datapath
                .port_stats()
                .into_iter()
                .map(|s| (s.name.clone(), s))
                .collect(),
            errors: &state.errors,
        }
    }
}

impl vsctl::LiveState for Live<'_> {
    fn interface_error(&self, iface: &str) -> Option<String> {
        self.errors.get(iface).cloned()
    }

    fn interface_statistics(&self, iface: &str) -> Vec<(String, u64)> {
        let Some(s) = self.stats.get(iface) else {
            return Vec::new();
        };
        let c = s.counters;
        let mut stats = vec![
            ("rx_bytes".into(), c.rx_bytes),
            ("rx_packets".into(), c.rx_packets),
            ("tx_bytes".into(), c.tx_bytes),
            ("tx_dropped".into(), c.tx_dropped),
            ("tx_packets".into(), c.tx_packets),
        ];
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

    fn ofport(&self, iface: &str) -> Option<i64> {
        self.stats.get(iface).map(|s| i64::from(s.port_no))
    }
}
