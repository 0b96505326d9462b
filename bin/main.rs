//! The `grebe` command line: daemon, vsctl, appctl, capture, demo, and its own manuals.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
use daemon::control::{self, Request, RequestKind};
use daemon::server::{self, DaemonOptions};

mod mesh;

#[derive(Parser)]
#[command(
    name = "grebe",
    version,
    about = "A userspace GRE switch: Open vSwitch's GRE bridge without OVS or kernel modules"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

/// What `grebe daemon` reads besides its flags, for `--help` and its man page.
const DAEMON_ENVIRONMENT: &str = "Environment:
  GREBE_LOG          log level: error, warn, info (default), debug, trace
  GREBE_LOG_FORMAT   text (default; colour only on a terminal) or json (one object a line)
  GREBE_RUNDIR       as --rundir; GREBE_DB as --db
  NOTIFY_SOCKET      set by systemd (Type=notify): READY=1 once the configuration is applied
  WATCHDOG_USEC      set by systemd (WatchdogSec=): pinged while the packet loop turns

Capabilities: CAP_NET_ADMIN (TAP devices, MTUs) and CAP_NET_RAW (raw and packet sockets);
root, or a user given both (packaging/grebe.service).";

/// The mesh file's format, for `grebe mesh --help` and its man page.
const MESH_FILE: &str = "The mesh file (TOML):
  bridge = \"br-int\"                 # default br-int
  loop_protection = \"split-horizon\" # default; or \"stp\", \"rstp\", \"none\"
  key = 7                           # optional: options:key on every tunnel
  [[host]]
  name = \"bm\"                       # the tunnel to it is port gre-bm
  transport = \"192.0.2.11\"          # an IPv6 address makes an ip6gre tunnel
  [[host]]
  ...
Tunnels it makes carry external_ids:grebe-mesh=BRIDGE; other ports are never touched.";

#[derive(Subcommand)]
enum Cmd {
    /// Run the switch: holds the configuration and moves the frames.
    #[command(after_long_help = DAEMON_ENVIRONMENT)]
    Daemon {
        /// Directory of the control socket and pidfile [env: GREBE_RUNDIR; default /run/grebe]
        #[arg(long)]
        rundir: Option<PathBuf>,
        /// Configuration file, saved on every change and restored at start
        #[arg(long, env = "GREBE_DB", default_value = server::DEFAULT_DB)]
        db: PathBuf,
        /// Run in the background once ready
        #[arg(long)]
        detach: bool,
        /// Also write the pid to FILE (always written to RUNDIR/grebe.pid)
        #[arg(long, value_name = "FILE")]
        pidfile: Option<PathBuf>,
        /// Internal ports without the virtio-net header: no TSO or checksum offload from the
        /// kernel (slower; for comparison and for kernels without TAP offloads)
        #[arg(long)]
        no_offload: bool,
        /// Send every tunnel packet by the raw IPv4 socket, through the kernel's IP output path
        /// (firewall, NAT, per-packet routing), instead of writing packets to on-link remotes as
        /// Ethernet frames (faster; the kernel's routing and neighbour table still decide where)
        #[arg(long)]
        raw_tx: bool,
        /// How system ports receive: `mmsg` (recvmmsg in batches of 32) or `ring` (a TPACKET_V3
        /// ring mapped once, 4 MB per port; frames wait for a block to fill or 1 ms)
        #[arg(long, env = "GREBE_SYSTEM_RX", value_name = "HOW", default_value = "mmsg",
              value_parser = ["mmsg", "ring"])]
        system_rx: String,
        /// Serve the metrics (`appctl metrics`) on HTTP GET /metrics at this address only, for
        /// a Prometheus server to scrape (off unless given)
        #[arg(long, value_name = "ADDR:PORT")]
        metrics_listen: Option<std::net::SocketAddr>,
        /// If the configuration file cannot be read, parsed or validated, rename it to
        /// FILE.bad-UNIXTIME and start with an empty configuration (without this flag the
        /// daemon refuses to start and leaves the file as it is)
        #[arg(long)]
        reset_config: bool,
        /// Take the configuration from an OVSDB server's Open_vSwitch database, as ovs-vswitchd
        /// does (unix:PATH or tcp:IP:PORT, comma-separated for the members of a clustered
        /// database; alone: unix:/run/openvswitch/db.sock), instead of --db; configure with
        /// OVS's ovs-vsctl or any OVSDB client
        #[arg(long, value_name = "TARGET", num_args = 0..=1,
              default_missing_value = "unix:/run/openvswitch/db.sock")]
        ovsdb: Option<String>,
    },
    /// Configure bridges and ports with ovs-vsctl's syntax (also: invoke grebe as `ovs-vsctl`).
    Vsctl {
        #[arg(long)]
        rundir: Option<PathBuf>,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Query the running switch with ovs-appctl's commands (try `list-commands`).
    Appctl {
        #[arg(long)]
        rundir: Option<PathBuf>,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Frames passing one port, as a pcap file (-w) or one line per frame like tcpdump's.
    Capture {
        /// The port: an internal port (mgmt0) or a GRE port (gre0)
        port: String,
        /// Write a pcap file (Wireshark, tshark -r) instead of lines; `-` writes to stdout
        #[arg(short = 'w', long = "write", value_name = "FILE.pcap")]
        write: Option<PathBuf>,
        /// On a GRE port: whole packets (outer IPv4 + GRE + frame) instead of the inner frames
        #[arg(long)]
        outer: bool,
        /// Stop after N frames
        #[arg(short = 'c', long, value_name = "N")]
        count: Option<u64>,
        #[arg(long)]
        rundir: Option<PathBuf>,
    },
    /// A mesh described once in a file of hosts, made true on this host's bridge.
    #[command(subcommand, after_long_help = MESH_FILE)]
    Mesh(mesh::MeshCmd),
    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell) to stdout.
    Completions { shell: clap_complete::Shell },
    /// Write the manual pages (grebe.1, grebe-daemon.1, grebe-vsctl.1, ...) into DIR.
    Man {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Build the classic setup (hosts, a container, a VM guest) in network namespaces and ping through GRE (needs root).
    #[cfg(feature = "lab")]
    Demo {
        /// Leave the namespaces and daemons running, and print how to explore them
        #[arg(long)]
        keep: bool,
        /// Remove what an earlier `--keep` left
        #[arg(long, conflicts_with = "keep")]
        clean: bool,
        /// A full mesh with spanning tree (STP) instead of split horizon, showing the tree built
        #[arg(long, conflicts_with = "clean")]
        mesh: bool,
        /// With --mesh: rapid spanning tree (802.1w) instead of STP
        #[arg(long, requires = "mesh")]
        rstp: bool,
        /// Two tenants on the mesh, VLAN 100 and VLAN 200, each with a container and a guest
        #[arg(long, conflicts_with_all = ["clean", "mesh"])]
        vlan: bool,
    },
    /// Measure grebe against OVS userspace, kernel VXLAN and the bare veth (needs root).
    #[cfg(feature = "lab")]
    Bench(lab::bench::BenchOptions),
}

/// Logs to stderr at the level GREBE_LOG names (error, warn, info, debug, trace; default info).
/// A plain level rather than an env-filter keeps a regex engine out of a small daemon.
/// Colour only on a terminal: journald and log files would keep the escape codes as text.
/// `GREBE_LOG_FORMAT=json` writes one JSON object a line, for log shippers.
fn init_logging() -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let level = std::env::var("GREBE_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr);
    match std::env::var("GREBE_LOG_FORMAT").as_deref() {
        Ok("json") => builder.json().with_ansi(false).init(),
        Ok("text") | Err(std::env::VarError::NotPresent) => {
            builder.with_ansi(std::io::stderr().is_terminal()).init()
        }
        Ok(other) => anyhow::bail!("GREBE_LOG_FORMAT={other:?}: use text or json"),
        Err(std::env::VarError::NotUnicode(v)) => {
            anyhow::bail!("GREBE_LOG_FORMAT={v:?}: use text or json")
        }
    }
    Ok(())
}

/// Forwards a vsctl/appctl command to the daemon and mirrors its output and exit code.
fn remote(
    kind: RequestKind,
    rundir: Option<PathBuf>,
    args: Vec<String>,
) -> anyhow::Result<ExitCode> {
    if kind == RequestKind::Appctl && daemon::trace::is_live(&args) {
        return daemon::trace::live_client(&control::rundir(rundir), args);
    }
    if kind == RequestKind::Vsctl {
        if let Some(text) = control::vsctl_local_answer(&args) {
            print!("{text}");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let timeout = (kind == RequestKind::Vsctl)
        .then(|| control::vsctl_timeout(&args))
        .flatten();
    let reply =
        match control::call_within(&control::rundir(rundir), &Request { kind, args }, timeout) {
            Ok(reply) => reply,
            // ovs-vsctl dies of SIGALRM when its --timeout expires: the shell sees 128 + 14.
            Err(e) if e.is::<control::TimedOut>() => {
                eprintln!("ovs-vsctl: {e}");
                return Ok(ExitCode::from(142));
            }
            Err(e) => return Err(e),
        };
    print!("{}", reply.stdout);
    eprint!("{}", reply.stderr);
    Ok(ExitCode::from(u8::try_from(reply.exit_code).unwrap_or(1)))
}

fn run() -> anyhow::Result<ExitCode> {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let invoked_as = argv
        .first()
        .and_then(|a| {
            PathBuf::from(a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    // Installed as a link named ovs-vsctl / ovs-appctl, grebe takes those tools' argv as is.
    let as_tool = match invoked_as.as_str() {
        "ovs-vsctl" => Some(RequestKind::Vsctl),
        "ovs-appctl" => Some(RequestKind::Appctl),
        _ => None,
    };
    if let Some(kind) = as_tool {
        let args = argv[1..]
            .iter()
            .map(|a| {
                a.to_str()
                    .map(String::from)
                    .context("arguments must be UTF-8")
            })
            .collect::<anyhow::Result<_>>()?;
        return remote(kind, None, args);
    }
    match Cli::parse().command {
        Cmd::Daemon {
            rundir,
            db,
            detach,
            pidfile,
            no_offload,
            raw_tx,
            system_rx,
            metrics_listen,
            reset_config,
            ovsdb,
        } => {
            init_logging()?;
            let ovsdb = ovsdb.map(|t| t.parse::<ovsdb::Remotes>()).transpose()?;
            server::run(DaemonOptions {
                rundir: control::rundir(rundir),
                db,
                pidfile,
                detach,
                offload: !no_offload,
                link_tx: !raw_tx,
                system_rx: if system_rx == "ring" {
                    server::SystemRx::Ring
                } else {
                    server::SystemRx::Mmsg
                },
                metrics_listen,
                reset_config,
                ovsdb,
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Vsctl { rundir, args } => remote(RequestKind::Vsctl, rundir, args),
        Cmd::Appctl { rundir, args } => remote(RequestKind::Appctl, rundir, args),
        Cmd::Capture {
            port,
            write,
            outer,
            count,
            rundir,
        } => daemon::capture::run(daemon::capture::CaptureOptions {
            rundir: control::rundir(rundir),
            port,
            write,
            outer,
            count,
        }),
        Cmd::Mesh(cmd) => mesh::run(cmd),
        Cmd::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "grebe", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Man { dir } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(Cli::command(), &dir)
                .with_context(|| format!("writing man pages into {}", dir.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "lab")]
        Cmd::Demo {
            keep,
            clean,
            mesh,
            rstp,
            vlan,
        } => {
            if clean {
                lab::demo::clean()?;
            } else {
                let mode = match (mesh, rstp, vlan) {
                    (true, false, _) => lab::demo::Mode::Tree(stp::Protocol::Stp),
                    (true, true, _) => lab::demo::Mode::Tree(stp::Protocol::Rstp),
                    (false, _, true) => lab::demo::Mode::Tenants,
                    (false, _, false) => lab::demo::Mode::Classic,
                };
                lab::demo::run(keep, mode)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "lab")]
        Cmd::Bench(options) => {
            lab::bench::run(options)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("grebe: {e:#}");
            ExitCode::FAILURE
        }
    }
}
