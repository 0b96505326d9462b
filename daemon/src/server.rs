//! `grebe daemon`: holds the configuration, persists it, and keeps the datapath in step with it.
//! Policy lives here (which bridges and ports exist, from ovs-vsctl commands); the datapath only
//! offers add/set/del and counters.

use std::collections::BTreeMap;
use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
pub use datapath::SystemRx;
use datapath::{Datapath, DatapathOptions};

use crate::control::{self, Reply, Request, RequestKind};
use crate::registry::Registry;
use crate::state::DaemonState;
use crate::{appctl, capture, metrics_http, trace};
use vswitch::config::Config;

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
    /// How system ports receive (see `DatapathOptions::system_rx`).
    pub system_rx: SystemRx,
    /// Serve `GET /metrics` on this address (off when None).
    pub metrics_listen: Option<SocketAddr>,
    /// When the configuration file cannot be used, keep it aside and start empty instead of
    /// refusing to start.
    pub reset_config: bool,
    /// Take the configuration from this OVSDB server's `Open_vSwitch` database, as
    /// ovs-vswitchd does, instead of the configuration file.
    pub ovsdb: Option<ovsdb::Remotes>,
}

/// The configuration to start from. A file that cannot be read, parsed or validated stops the
/// start, naming the file and the problem, and is never written over; with `reset` it is
/// renamed aside (`FILE.bad-UNIXTIME`, kept for whoever wants to repair it) and the daemon
/// starts with an empty configuration.
fn load_config(db: &Path, reset: bool) -> anyhow::Result<Config> {
    let problem = match Config::load(db) {
        Ok(config) => match config.validate() {
            Ok(()) => return Ok(config),
            Err(e) => anyhow::Error::new(e).context(format!(
                "configuration {} is invalid (fix it, or start with --reset-config to keep it aside and start empty)",
                db.display()
            )),
        },
        // The error names the file and its cause already; a context would say both twice.
        Err(e) => anyhow::anyhow!("{e}"),
    };
    if !reset {
        return Err(problem);
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mut aside = db.as_os_str().to_owned();
    aside.push(format!(".bad-{stamp}"));
    let aside = PathBuf::from(aside);
    fs::rename(db, &aside).with_context(|| {
        format!(
            "{problem:#}; and --reset-config cannot keep it aside as {}",
            aside.display()
        )
    })?;
    tracing::warn!(
        problem = format!("{problem:#}"),
        kept = %aside.display(),
        "--reset-config: the configuration file was kept aside; starting with an empty configuration"
    );
    Ok(Config::default())
}

pub fn run(opts: DaemonOptions) -> anyhow::Result<()> {
    if opts.detach {
        return detach(&opts);
    }
    let missing = crate::capabilities::missing();
    if !missing.is_empty() {
        bail!("{}", crate::capabilities::explain(&missing));
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
    // With a database the file is not read: the database's initial state replaces it at once.
    let config = match opts.ovsdb {
        Some(_) => Config::default(),
        None => load_config(&opts.db, opts.reset_config)?,
    };
    let datapath = Datapath::start(DatapathOptions {
        offload: opts.offload,
        link_tx: opts.link_tx,
        system_rx: opts.system_rx,
    })
    .context("starting the datapath")?;
    let mut state = DaemonState {
        config,
        datapath,
        errors: BTreeMap::new(),
        db: opts.db.clone(),
        started: Instant::now(),
        ovsdb: opts.ovsdb.as_ref().map(|t| crate::state::OvsdbStatus {
            remotes: t.to_string(),
            ..Default::default()
        }),
        openflow: Default::default(),
        mgmt_sockets: crate::openflow_channel::MgmtSockets::new(opts.rundir.clone()),
        flows: BTreeMap::new(),
        flows_changed: Default::default(),
    };
    state.reconcile();
    let metrics_listener = opts
        .metrics_listen
        .map(|addr| {
            metrics_http::bind(addr).with_context(|| format!("listening for metrics on {addr}"))
        })
        .transpose()?;
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
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
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
    crate::openflow_channel::spawn(state.clone())
        .context("starting the OpenFlow management thread")?;
    if let Some(target) = opts.ovsdb.clone() {
        crate::vswitchd::spawn(target, state.clone()).context("starting the OVSDB thread")?;
    }
    if let Some(l) = metrics_listener {
        tracing::info!(addr = %l.local_addr()?, "serving metrics on /metrics");
        metrics_http::spawn(l, state.clone()).context("starting the metrics thread")?;
    }
    let registry = Arc::new(Registry::new(&[
        appctl::register,
        trace::register,
        capture::register,
    ]));
    notify_ready(&state)?;
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
                s.datapath.refresh_internal_ports();
                if last_mtu.elapsed() >= MTU_REFRESH {
                    last_mtu = Instant::now();
                    if let Err(e) = s.datapath.refresh_path_mtus() {
                        tracing::warn!(error = %e, "cannot refresh tunnel MTUs");
                    }
                }
            }
        })?;
    serve_control(&listener, &state, &registry)
}

/// Accepts control clients for ever. At the file-descriptor limit `accept` fails at once,
/// whether a client is waiting or not (the descriptor is allocated first), so a plain retry
/// would spin a core and leave a waiting client hanging. A spare descriptor is kept open
/// instead: at the limit it is given up to take a waiting client, answer it with the reason and
/// close it, then taken again, and the loop naps between tries (the way nginx and libev get
/// through EMFILE).
fn serve_control(
    listener: &UnixListener,
    state: &Arc<Mutex<DaemonState>>,
    registry: &Arc<Registry<DaemonState>>,
) -> anyhow::Result<()> {
    let mut spare = fs::File::open("/dev/null").ok();
    let mut warned: Option<Instant> = None;
    loop {
        match listener.accept() {
            Ok((conn, _)) => spawn_client(state, registry, conn),
            Err(e) if matches!(e.raw_os_error(), Some(errno::EMFILE | errno::ENFILE)) => {
                if warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    tracing::warn!(error = %e, "out of file descriptors: refusing control clients until some are free");
                    warned = Some(Instant::now());
                }
                drop(spare.take());
                if let Some(conn) = accept_waiting(listener) {
                    refuse_client(
                        &conn,
                        &format!(
                            "grebe: the daemon is out of file descriptors ({e}): remove ports or raise its limit (LimitNOFILE=, ulimit -n)\n"
                        ),
                    );
                } else {
                    std::thread::sleep(Duration::from_millis(50));
                }
                spare = fs::File::open("/dev/null").ok();
            }
            Err(e) => {
                tracing::debug!(error = %e, "accepting a control client");
            }
        }
    }
}

/// A client already waiting to be accepted, without waiting for one.
fn accept_waiting(listener: &UnixListener) -> Option<UnixStream> {
    listener.set_nonblocking(true).ok()?;
    let conn = listener.accept().ok().map(|(conn, _)| conn);
    let _ = listener.set_nonblocking(false);
    let conn = conn?;
    conn.set_nonblocking(false).ok()?;
    Some(conn)
}

/// Answers a client that cannot be served with why. Its request is read first (briefly: the
/// accept loop waits meanwhile), since closing on a request not yet written would break the
/// client's pipe and lose the reason.
fn refuse_client(conn: &UnixStream, why: &str) {
    let brief = Some(Duration::from_secs(1));
    let _ = conn.set_read_timeout(brief);
    let _ = conn.set_write_timeout(brief);
    let _ = control::read_request(conn);
    let _ = control::write_reply(conn, &Reply::error(1, why));
}

/// `errno` values of a full descriptor table (the process's, the system's).
mod errno {
    pub const ENFILE: i32 = 23;
    pub const EMFILE: i32 = 24;
}

/// Clients served at once; more are refused with an error until one is done.
const MAX_CLIENTS: usize = 64;
static CLIENTS: AtomicUsize = AtomicUsize::new(0);
/// How long a client may take to send its request, and to take its reply: a client that
/// connects and stalls holds only its own thread, and only this long.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one connection on its own thread, so that a client that stalls (connects and sends
/// nothing, or never reads its reply) never keeps the others waiting. Commands still run one at a
/// time, under the state's lock.
fn spawn_client(
    state: &Arc<Mutex<DaemonState>>,
    registry: &Arc<Registry<DaemonState>>,
    conn: UnixStream,
) {
    if CLIENTS.fetch_add(1, Ordering::Relaxed) >= MAX_CLIENTS {
        CLIENTS.fetch_sub(1, Ordering::Relaxed);
        refuse_client(
            &conn,
            &format!("grebe: {MAX_CLIENTS} clients are already connected; try again\n"),
        );
        return;
    }
    let state = state.clone();
    let registry = registry.clone();
    let spawned = std::thread::Builder::new()
        .name("grebe-client".into())
        .spawn(move || {
            serve_client(&state, &registry, conn);
            CLIENTS.fetch_sub(1, Ordering::Relaxed);
        });
    if let Err(e) = spawned {
        CLIENTS.fetch_sub(1, Ordering::Relaxed);
        tracing::warn!(error = %e, "cannot start a client thread");
    }
}

fn serve_client(
    state: &Arc<Mutex<DaemonState>>,
    registry: &Arc<Registry<DaemonState>>,
    conn: UnixStream,
) {
    let timeouts = |t| {
        conn.set_read_timeout(t)
            .and_then(|()| conn.set_write_timeout(t))
    };
    if let Err(e) = timeouts(Some(CLIENT_TIMEOUT)) {
        tracing::debug!(error = %e, "cannot set a client's timeouts");
        return;
    }
    let reply = match control::read_request(&conn) {
        Ok(request) if request.kind == RequestKind::Stream => {
            // A stream lives as long as its client wants it.
            if timeouts(None).is_ok() {
                spawn_stream(state, registry, conn, request);
            }
            return;
        }
        Ok(request) => {
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            match request.kind {
                RequestKind::Vsctl => s.vsctl(&request.args),
                RequestKind::Appctl => registry.run(&s, &request.args),
                RequestKind::Stream => unreachable!("streams are served above"),
            }
        }
        Err(e) => Reply::error(1, format!("grebe: {e:#}\n")),
    };
    if let Err(e) = control::write_reply(&conn, &reply) {
        tracing::debug!(error = %e, "client went away");
    }
}

/// Under systemd (`Type=notify`, `NOTIFY_SOCKET` set): READY=1 now that the configuration is
/// applied, the ports are open and the control socket answers; and with `WatchdogSec=`, a
/// thread that pings the watchdog each time a round trip through the datapath thread's command
/// queue comes back. A wedged packet loop stops the pings, and systemd restarts the daemon.
/// Without systemd, nothing.
fn notify_ready(state: &Arc<Mutex<DaemonState>>) -> anyhow::Result<()> {
    let status = {
        let s = state.lock().unwrap_or_else(|e| e.into_inner());
        format!(
            "{} bridges, {} ports",
            s.config.bridges.len(),
            s.datapath.port_names().count()
        )
    };
    // A bad NOTIFY_SOCKET is systemd's to report (the start times out), not a reason to stop.
    if let Err(e) = sd_notify::notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&status),
    ]) {
        tracing::warn!(error = %e, "cannot tell systemd the daemon is ready (NOTIFY_SOCKET)");
    }
    let Some(period) = sd_notify::watchdog_enabled() else {
        return Ok(());
    };
    let state = state.clone();
    std::thread::Builder::new()
        .name("grebe-watchdog".into())
        .spawn(move || {
            loop {
                std::thread::sleep(period / 2);
                let alive = state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .datapath
                    .sync();
                match alive {
                    Ok(()) => {
                        if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]) {
                            tracing::warn!(error = %e, "cannot ping systemd's watchdog");
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "the datapath thread is gone: no more watchdog pings");
                        return;
                    }
                }
            }
        })
        .context("starting the watchdog thread")?;
    tracing::info!(period = ?period, "pinging systemd's watchdog");
    Ok(())
}

/// Streams (`ofproto/trace-live`, `grebe capture`) at once; more are refused.
const MAX_STREAMS: usize = 16;
static STREAMS: AtomicUsize = AtomicUsize::new(0);

/// Serves a streamed request on its own thread, so that it never holds the daemon's lock while
/// it streams (the command takes the lock only to set itself up).
fn spawn_stream(
    state: &Arc<Mutex<DaemonState>>,
    registry: &Arc<Registry<DaemonState>>,
    conn: UnixStream,
    request: Request,
) {
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
    let registry = registry.clone();
    let spawned = std::thread::Builder::new()
        .name("grebe-stream".into())
        .spawn(move || {
            match control::StreamConn::new(conn) {
                Ok(mut conn) => {
                    let args = &request.args;
                    let reply = match registry.stream_handler(args) {
                        Some(serve) => serve(&state, &mut conn, args),
                        None => Reply::error(
                            2,
                            format!("grebe: {:?} is not a streamed command\n", args.first()),
                        ),
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
    if opts.system_rx == SystemRx::Ring {
        cmd.args(["--system-rx", "ring"]);
    }
    if let Some(addr) = opts.metrics_listen {
        cmd.arg("--metrics-listen").arg(addr.to_string());
    }
    if opts.reset_config {
        cmd.arg("--reset-config");
    }
    if let Some(remotes) = &opts.ovsdb {
        cmd.arg("--ovsdb").arg(remotes.to_string());
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
