//! Network namespaces as test hosts: a transport switch, hosts wired to it, a grebe daemon per
//! host. `grebe demo`, the integration tests and the benchmarks build their topologies with it.
//! Everything a `Lab` creates carries its prefix and is removed on drop, on failure too.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

struct LabState {
    namespaces: Vec<String>,
    daemons: Vec<(String, Child)>,
    cleaned: bool,
}

/// A set of namespaces that share a prefix; cheap to clone (the clones share one state).
#[derive(Clone)]
pub struct Lab {
    prefix: String,
    grebe: PathBuf,
    dir: PathBuf,
    state: Arc<Mutex<LabState>>,
}

/// Runs a command, failing with its stderr when it fails.
pub fn run(cmd: &mut Command) -> anyhow::Result<Output> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

pub fn ip(args: &[&str]) -> anyhow::Result<Output> {
    run(Command::new("ip").args(args))
}

/// Are we root? Namespaces and TAP devices need it.
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

impl Lab {
    /// Starts a lab; namespaces left by an earlier run with the same prefix are removed first.
    pub fn new(prefix: &str, grebe: impl Into<PathBuf>) -> anyhow::Result<Lab> {
        let dir = std::env::temp_dir().join(format!("{prefix}.lab"));
        let lab = Lab {
            prefix: prefix.to_owned(),
            grebe: grebe.into(),
            dir,
            state: Arc::new(Mutex::new(LabState {
                namespaces: Vec::new(),
                daemons: Vec::new(),
                cleaned: false,
            })),
        };
        lab.remove_leftovers();
        let _ = fs::remove_dir_all(&lab.dir);
        fs::create_dir_all(&lab.dir)?;
        Ok(lab)
    }

    fn remove_leftovers(&self) {
        let Ok(out) = ip(&["netns", "list"]) else {
            return;
        };
        let listing = String::from_utf8_lossy(&out.stdout).into_owned();
        for ns in listing.lines().filter_map(|l| l.split_whitespace().next()) {
            if ns.starts_with(&format!("{}-", self.prefix)) {
                kill_processes_in(ns);
                let _ = ip(&["netns", "del", ns]);
            }
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn grebe(&self) -> &Path {
        &self.grebe
    }

    pub fn netns(&self, host: &str) -> String {
        format!("{}-{host}", self.prefix)
    }

    pub fn rundir(&self, host: &str) -> PathBuf {
        self.dir.join(host)
    }

    pub(crate) fn add_netns(&self, host: &str) -> anyhow::Result<String> {
        let ns = self.netns(host);
        ip(&["netns", "add", &ns])?;
        self.state.lock().unwrap().namespaces.push(ns.clone());
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// A namespace with a Linux bridge `sw0`: the transport network the hosts share.
    pub fn add_switch(&self, name: &str) -> anyhow::Result<()> {
        let ns = self.add_netns(name)?;
        ip(&["-n", &ns, "link", "add", "sw0", "type", "bridge"])?;
        ip(&["-n", &ns, "link", "set", "sw0", "up"])?;
        Ok(())
    }

    /// A host namespace whose `eth0` is wired to `switch` and has `address` (CIDR).
    pub fn add_host(&self, host: &str, switch: &str, address: &str) -> anyhow::Result<()> {
        let ns = self.add_netns(host)?;
        let sw = self.netns(switch);
        let port = format!("to-{host}");
        ip(&[
            "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ])?;
        ip(&["-n", &sw, "link", "set", &port, "master", "sw0", "up"])?;
        ip(&["-n", &ns, "addr", "add", address, "dev", "eth0"])?;
        ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        Ok(())
    }

    /// Two hosts joined directly by a veth pair (no switch), as a benchmark wants.
    pub fn add_host_pair(&self, a: (&str, &str), b: (&str, &str)) -> anyhow::Result<()> {
        let na = self.add_netns(a.0)?;
        let nb = self.add_netns(b.0)?;
        ip(&[
            "-n", &na, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", &nb,
        ])?;
        for (ns, addr) in [(&na, a.1), (&nb, b.1)] {
            ip(&["-n", ns, "addr", "add", addr, "dev", "eth0"])?;
            ip(&["-n", ns, "link", "set", "eth0", "up"])?;
        }
        Ok(())
    }

    /// A command to run inside the host's namespace.
    pub fn command(&self, host: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.netns(host)]).arg(program);
        c.env("GREBE_RUNDIR", self.rundir(host));
        c
    }

    /// Runs `args` in the host's namespace; fails unless it exits 0.
    pub fn sh(&self, host: &str, args: &[&str]) -> anyhow::Result<Output> {
        let (program, rest) = args.split_first().context("empty command")?;
        run(self.command(host, program).args(rest))
    }

    /// Starts the host's grebe daemon and waits until it answers.
    pub fn start_daemon(&self, host: &str) -> anyhow::Result<()> {
        self.start_daemon_with(host, &[])
    }

    /// [`Lab::start_daemon`] with more `grebe daemon` arguments (`--no-offload`, ...).
    pub fn start_daemon_with(&self, host: &str, args: &[&str]) -> anyhow::Result<()> {
        let rundir = self.rundir(host);
        fs::create_dir_all(&rundir)?;
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(rundir.join("daemon.log"))?;
        let mut cmd = self.command(host, &self.grebe);
        cmd.arg("daemon")
            .arg("--rundir")
            .arg(&rundir)
            .arg("--db")
            .arg(rundir.join("conf.json"))
            .args(args)
            .env("GREBE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let mut child = cmd.spawn().context("starting grebe daemon")?;
        let socket = rundir.join(daemon::control::SOCKET_NAME);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "grebe daemon on {host} exited ({status}): {}",
                    fs::read_to_string(rundir.join("daemon.log")).unwrap_or_default()
                );
            }
            if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("grebe daemon on {host} did not open its control socket");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.state
            .lock()
            .unwrap()
            .daemons
            .push((host.to_owned(), child));
        Ok(())
    }

    /// Stops the host's daemon: SIGTERM, or SIGKILL when `kill` (no chance to clean up).
    pub fn stop_daemon(&self, host: &str, kill: bool) -> anyhow::Result<()> {
        let mut state = self.state.lock().unwrap();
        let Some(i) = state.daemons.iter().position(|(h, _)| h == host) else {
            bail!("no daemon running on {host}");
        };
        let (_, mut child) = state.daemons.remove(i);
        drop(state);
        // `ip netns exec` execs the daemon, so the child's pid is the daemon's.
        let signal = if kill { "-KILL" } else { "-TERM" };
        let _ = run(Command::new("kill").args([signal, &child.id().to_string()]));
        child.wait()?;
        Ok(())
    }

    /// `grebe vsctl ARGS` on the host; returns the output whatever the exit code.
    pub fn vsctl(&self, host: &str, args: &[&str]) -> anyhow::Result<Output> {
        self.command(host, &self.grebe)
            .arg("vsctl")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("running grebe vsctl")
    }

    /// `grebe vsctl ARGS`, which must succeed.
    pub fn vsctl_ok(&self, host: &str, args: &[&str]) -> anyhow::Result<String> {
        let out = self.vsctl(host, args)?;
        if !out.status.success() {
            bail!(
                "grebe vsctl {} on {host} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `grebe appctl ARGS`, which must succeed.
    pub fn appctl(&self, host: &str, args: &[&str]) -> anyhow::Result<String> {
        let out = run(self.command(host, &self.grebe).arg("appctl").args(args))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The seed's configuration on one host: br-int, mgmt0 with `overlay` (CIDR), and one GRE
    /// port per remote, named gre0, gre1, ... in order.
    pub fn configure_seed(
        &self,
        host: &str,
        overlay: &str,
        remotes: &[&str],
    ) -> anyhow::Result<()> {
        let seed = vswitch::seed::Seed {
            remotes,
            ..Default::default()
        }
        .commands();
        self.vsctl_ok(host, &argv(&seed.bridge))?;
        self.sh(host, &["ip", "addr", "add", overlay, "dev", "mgmt0"])?;
        self.sh(host, &["ip", "link", "set", "mgmt0", "up"])?;
        for tunnel in &seed.tunnels {
            self.vsctl_ok(host, &argv(tunnel))?;
        }
        Ok(())
    }

    /// Pings `dst` from `host`; Ok with the round-trip times in ms when every reply came.
    pub fn ping(&self, host: &str, dst: &str, count: u32) -> anyhow::Result<Vec<f64>> {
        let out = self
            .command(host, "ping")
            .args(["-c", &count.to_string(), "-i", "0.2", "-W", "2", "-q", "-n"])
            .arg(dst)
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!("ping {dst} from {host} failed: {}", text.trim());
        }
        // Individual times come from a second, verbose run only when asked; the summary line
        // "rtt min/avg/max/mdev = a/b/c/d ms" is enough here.
        let rtts = text
            .lines()
            .find(|l| l.contains("min/avg/max"))
            .and_then(|l| l.split('=').nth(1))
            .map(|v| {
                v.trim()
                    .trim_end_matches(" ms")
                    .split('/')
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        Ok(rtts)
    }

    /// Pings until one answer comes or `within` passes (for after a topology change).
    pub fn wait_ping(&self, host: &str, dst: &str, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            let ok = self
                .command(host, "ping")
                .args(["-c", "1", "-W", "1", "-q", "-n", dst])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?
                .success();
            if ok {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{dst} did not answer {host} within {within:?}");
            }
        }
    }

    /// Removes everything: daemons first, then the namespaces (their TAPs and veths go with them).
    pub fn cleanup(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.cleaned {
            return;
        }
        state.cleaned = true;
        for (_, child) in state.daemons.iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in state.namespaces.iter().rev() {
            kill_processes_in(ns);
            let _ = ip(&["netns", "del", ns]);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }

    /// Leaves everything running (for `grebe demo --keep`).
    pub fn keep(&self) {
        let mut state = self.state.lock().unwrap();
        state.cleaned = true;
        for (_, child) in state.daemons.drain(..) {
            std::mem::forget(child);
        }
    }
}

/// A namespace is only freed once no process holds it.
fn kill_processes_in(ns: &str) {
    if let Ok(out) = ip(&["netns", "pids", ns]) {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = Command::new("kill")
                .args(["-KILL", pid])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Only the last clone cleans up (the demo's signal handler holds another).
        if Arc::strong_count(&self.state) == 1 {
            self.cleanup();
        }
    }
}

/// Sends `bytes` (zeros) over one TCP connection from host `from` to `to_ip`:5201 on host `to`,
/// with python3 at both ends (over IPv6 when `to_ip` is an IPv6 address), and returns how many
/// bytes the receiver counted. The client retries until the server listens; both give up after
/// 30 s without progress, so a broken tunnel fails instead of hanging.
pub fn tcp_send(lab: &Lab, from: &str, to: &str, to_ip: &str, bytes: u64) -> anyhow::Result<u64> {
    const SERVER: &str = "import socket, sys
family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.create_server((sys.argv[1], 5201), family=family)
s.settimeout(30)
c, _ = s.accept()
c.settimeout(30)
n = 0
while True:
    d = c.recv(1 << 16)
    if not d:
        break
    n += len(d)
print(n)
";
    const CLIENT: &str = "import socket, sys, time
deadline = time.time() + 10
while True:
    try:
        c = socket.create_connection((sys.argv[1], 5201), timeout=30)
        break
    except OSError:
        if time.time() > deadline:
            raise
        time.sleep(0.1)
c.sendall(bytes(int(sys.argv[2])))
c.close()
";
    let server = lab
        .command(to, "python3")
        .args(["-c", SERVER, to_ip])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the TCP server")?;
    let client = lab
        .command(from, "python3")
        .args(["-c", CLIENT, to_ip, &bytes.to_string()])
        .stdin(Stdio::null())
        .output();
    // The server ends by itself: on EOF, or 30 s after the client failed to connect.
    let server = server
        .wait_with_output()
        .context("waiting for the TCP server")?;
    let client = client.context("running the TCP client")?;
    if !client.status.success() {
        bail!(
            "TCP client on {from} failed: {}",
            String::from_utf8_lossy(&client.stderr).trim()
        );
    }
    String::from_utf8_lossy(&server.stdout)
        .trim()
        .parse()
        .with_context(|| {
            format!(
                "TCP server on {to} failed: {}",
                String::from_utf8_lossy(&server.stderr).trim()
            )
        })
}

/// An owned command line as the `&[&str]` the lab's runners take.
pub fn argv(words: &[String]) -> Vec<&str> {
    words.iter().map(String::as_str).collect()
}
