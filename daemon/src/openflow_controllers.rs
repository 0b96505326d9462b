//! A bridge's controllers (`set-controller`): grebe connects to each active target (`tcp:`,
//! `unix:`) and reconnects with backoff (1 s doubling to 8 s, OVS's `max_backoff`), and listens
//! on each passive one (`ptcp:`, `punix:`) for controllers to connect. Every session is the
//! same OpenFlow switch side as the management socket's. Whether a target has a session now is
//! what `show` prints as `is_connected`.

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vswitch::config::ControllerTarget;

use crate::openflow_channel::{Channel, serve};
use crate::state::DaemonState;

const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(8);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

enum Listener {
    Tcp(TcpListener),
    /// With its socket file, removed with the target.
    Unix(UnixListener, std::path::PathBuf),
}

/// One target of one bridge: its connecting thread, or its listener.
struct Target {
    stop: Arc<AtomicBool>,
    listener: Option<Listener>,
}

impl Drop for Target {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(Listener::Unix(_, path)) = &self.listener {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[derive(Default)]
pub(crate) struct Controllers {
    targets: BTreeMap<(String, String), Target>,
}

impl Controllers {
    /// Follows the configuration's (bridge, target) pairs, and takes in waiting controllers.
    pub(crate) fn sync(&mut self, wanted: &[(String, String)], state: &Arc<Mutex<DaemonState>>) {
        self.targets.retain(|key, _| wanted.contains(key));
        for key in wanted {
            if !self.targets.contains_key(key) {
                match start(key, state) {
                    Ok(t) => {
                        self.targets.insert(key.clone(), t);
                    }
                    Err(e) => {
                        // Retried at the next sync: the address may come up.
                        tracing::warn!(bridge = %key.0, target = %key.1, error = %e, "cannot listen for controllers");
                    }
                }
            }
        }
        for (key, t) in &self.targets {
            match &t.listener {
                Some(Listener::Tcp(l)) => {
                    while let Ok((c, _)) = l.accept() {
                        session(c, key, state, &t.stop);
                    }
                }
                Some(Listener::Unix(l, _)) => {
                    while let Ok((c, _)) = l.accept() {
                        session(c, key, state, &t.stop);
                    }
                }
                None => {}
            }
        }
    }
}

fn start(key: &(String, String), state: &Arc<Mutex<DaemonState>>) -> std::io::Result<Target> {
    let stop = Arc::new(AtomicBool::new(false));
    let target = ControllerTarget::parse(&key.1)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = match &target {
        ControllerTarget::Ptcp(addr) => {
            let l = TcpListener::bind(addr)?;
            l.set_nonblocking(true)?;
            Some(Listener::Tcp(l))
        }
        ControllerTarget::Punix(path) => {
            let _ = std::fs::remove_file(path);
            let l = UnixListener::bind(path)?;
            l.set_nonblocking(true)?;
            Some(Listener::Unix(l, path.clone()))
        }
        ControllerTarget::Tcp(_) | ControllerTarget::Unix(_) => {
            let (key, state, stop) = (key.clone(), state.clone(), stop.clone());
            std::thread::Builder::new()
                .name("grebe-ofctl-out".into())
                .spawn(move || connect_loop(&target, &key, &state, &stop))?;
            None
        }
    };
    Ok(Target { stop, listener })
}

/// Connects to an active target until told to stop, backing off after each failure.
fn connect_loop(
    target: &ControllerTarget,
    key: &(String, String),
    state: &Arc<Mutex<DaemonState>>,
    stop: &Arc<AtomicBool>,
) {
    let mut backoff = BACKOFF_FIRST;
    let mut said = false;
    while !stop.load(Ordering::Relaxed) {
        let result = match target {
            ControllerTarget::Tcp(addr) => {
                TcpStream::connect_timeout(addr, CONNECT_TIMEOUT).map(|c| run(c, key, state, stop))
            }
            ControllerTarget::Unix(path) => {
                UnixStream::connect(path).map(|c| run(c, key, state, stop))
            }
            _ => return,
        };
        match result {
            Ok(()) => {
                backoff = BACKOFF_FIRST;
                said = false;
            }
            Err(e) if !said => {
                tracing::warn!(bridge = %key.0, target = %key.1, error = %e, "cannot connect to the controller; retrying");
                said = true;
            }
            Err(_) => {}
        }
        // Sleep in short steps so a removed target stops promptly.
        let mut slept = Duration::ZERO;
        while slept < backoff && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            slept += Duration::from_millis(100);
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// A passive target's accepted controller, served on its own thread.
fn session<C: Channel + Send + 'static>(
    c: C,
    key: &(String, String),
    state: &Arc<Mutex<DaemonState>>,
    stop: &Arc<AtomicBool>,
) {
    let (key, state, stop) = (key.clone(), state.clone(), stop.clone());
    let spawned = std::thread::Builder::new()
        .name("grebe-ofctl-in".into())
        .spawn(move || run(c, &key, &state, &stop));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start a controller session thread");
    }
}

/// One session, counted as connected while it lasts.
fn run<C: Channel>(c: C, key: &(String, String), state: &Mutex<DaemonState>, stop: &AtomicBool) {
    let connected = |delta: i32| {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        let n = s.openflow.controllers.entry(key.clone()).or_default();
        *n = n.saturating_add_signed(delta);
    };
    connected(1);
    tracing::info!(bridge = %key.0, target = %key.1, "controller connected");
    if let Err(e) = serve(c, &key.0, state, stop) {
        tracing::info!(bridge = %key.0, target = %key.1, error = %e, "controller session ended");
    }
    connected(-1);
}
