//! `grebe bench`: grebe measured side by side with the alternatives, in one run.
//!
//! Two hosts in network namespaces joined by a veth pair (transport 192.0.2.1/24 and
//! 192.0.2.2/24; overlay 198.51.100.1/24 and 198.51.100.2/24), built fresh for each setup:
//!
//! - `grebe`: a grebe daemon per host, the seed configuration (br-int, mgmt0, one GRE port);
//! - `grebe-veth`: the same, with a container on each host (a namespace whose veth's host end
//!   is a system port on br-int, MTU 1500): the traffic runs container to container;
//! - `grebe-veth-ring`: `grebe-veth` with the daemons receiving system ports by a `TPACKET_V3`
//!   ring (`--system-rx ring`) instead of `recvmmsg`, to compare the two in one run;
//! - `ovs`: Open vSwitch's userspace datapath per host, the same bridge (inner MTU 1458), when
//!   `ovs-vswitchd` is installed;
//! - `ovs-veth`: OVS with the containers of `grebe-veth`, set up as an OVS user must (the
//!   containers' MTU lowered to what the tunnel carries, their transmit checksum offload off);
//! - `vxlan`: the kernel's VXLAN device over the same veth, the in-kernel tunnel baseline;
//! - `veth`: the bare veth pair, no tunnel (the ceiling; the overlay is the transport).
//!
//! For each: TCP throughput with one and four streams (iperf3), the rate of 64-byte frames
//! delivered under a flood of small UDP datagrams and their loss (iperf3 `-u -l 18`), ping
//! round-trip times (median and p99 over many pings), and the switch processes' resident
//! memory and CPU time. One table with ratios, `--json`, and an SVG chart.
//!
//! On a shared machine one 10-second window can halve or double a figure, so `--rounds N`
//! measures every setup N times, interleaved (round 1 in order, round 2 reversed, and so on:
//! no setup always runs first, and a noisy minute touches several setups rather than all of
//! one), each time in a freshly built lab. The table and chart show each figure's median over
//! the rounds, the rates their range as well; `--json` keeps every round's figures.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::netns::{Lab, is_root, run as run_cmd};

/// What `grebe bench` takes on its command line.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchOptions {
    /// Seconds per throughput test [default: 10, or 2 with --quick]
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
    /// Setups to measure, comma-separated [default: all]
    #[arg(long, value_enum, value_delimiter = ',', value_name = "SETUPS")]
    pub only: Vec<Setup>,
    /// Short runs for development: 2-second tests, fewer pings
    #[arg(long)]
    pub quick: bool,
    /// Also search for the highest 64-byte frame rate lost at most 0.1% (RFC 2544's
    /// throughput; about 30 s more per setup)
    #[arg(long)]
    pub lossless: bool,
    /// Print one JSON object on stdout instead of the table
    #[arg(long)]
    pub json: bool,
    /// Where to write the SVG chart
    #[arg(long, value_name = "FILE", default_value = "target/grebe-bench.svg")]
    pub chart: PathBuf,
    /// Measure every setup N times, interleaved, and report medians (and the range of rates)
    #[arg(long, value_name = "N", default_value_t = 1)]
    #[arg(value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
}

/// One way of joining the two hosts.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Setup {
    /// grebe to grebe over GRE
    Grebe,
    /// grebe to grebe with options:large_frames=true on both ends
    GrebeLarge,
    /// a container on each grebe host (veth system ports), container to container over GRE
    GrebeVeth,
    /// grebe-veth with system ports read by a TPACKET_V3 ring (--system-rx ring)
    GrebeVethRing,
    /// grebe to grebe over GRE in IPv6 (type=ip6gre)
    GrebeIp6gre,
    /// grebe with 1,000 exact-match OpenFlow flows before priority=0 actions=NORMAL
    GrebeFlows,
    /// Open vSwitch userspace (netdev) to Open vSwitch userspace over GRE
    Ovs,
    /// a container on each OVS host (veth ports), container to container over GRE
    OvsVeth,
    /// OVS userspace with the same 1,000 flows as grebe-flows
    OvsFlows,
    /// kernel VXLAN over the veth
    Vxlan,
    /// the bare veth pair, no tunnel
    Veth,
}

const ALL_SETUPS: [Setup; 11] = [
    Setup::Grebe,
    Setup::GrebeLarge,
    Setup::GrebeVeth,
    Setup::GrebeVethRing,
    Setup::GrebeIp6gre,
    Setup::GrebeFlows,
    Setup::Ovs,
    Setup::OvsVeth,
    Setup::OvsFlows,
    Setup::Vxlan,
    Setup::Veth,
];

impl Setup {
    fn key(self) -> &'static str {
        match self {
            Setup::Grebe => "grebe",
            Setup::GrebeLarge => "grebe-large",
            Setup::GrebeVeth => "grebe-veth",
            Setup::GrebeVethRing => "grebe-veth-ring",
            Setup::GrebeIp6gre => "grebe-ip6gre",
            Setup::GrebeFlows => "grebe-flows",
            Setup::Ovs => "ovs",
            Setup::OvsVeth => "ovs-veth",
            Setup::OvsFlows => "ovs-flows",
            Setup::Vxlan => "vxlan",
            Setup::Veth => "veth",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Setup::Grebe => "grebe",
            Setup::GrebeLarge => "grebe large",
            Setup::GrebeVeth => "grebe veth",
            Setup::GrebeVethRing => "grebe veth ring",
            Setup::GrebeIp6gre => "grebe ip6gre",
            Setup::GrebeFlows => "grebe 1k flows",
            Setup::Ovs => "OVS",
            Setup::OvsVeth => "OVS veth",
            Setup::OvsFlows => "OVS 1k flows",
            Setup::Vxlan => "VXLAN",
            Setup::Veth => "veth",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Setup::Grebe => "grebe to grebe, GRE, inner MTU 1462",
            Setup::GrebeLarge => "grebe to grebe, GRE, options:large_frames=true on both ends",
            Setup::GrebeVeth => {
                "container to container, veth system ports on grebe, GRE, container MTU 1500"
            }
            Setup::GrebeVethRing => {
                "as grebe veth, system ports read by a TPACKET_V3 ring instead of recvmmsg"
            }
            Setup::GrebeIp6gre => {
                "grebe to grebe, GRE over IPv6 (ip6gre), 2001:db8::/64 transport, inner MTU 1442"
            }
            Setup::GrebeFlows => {
                "as grebe, each bridge with 1,000 exact-match drop flows above priority=0 \
                 actions=NORMAL (ovs-ofctl add-flows)"
            }
            Setup::OvsFlows => "as OVS, with the same 1,000 flows (ovs-ofctl add-flows)",
            Setup::Ovs => "OVS userspace (netdev) to OVS, GRE, inner MTU 1458",
            Setup::OvsVeth => {
                "container to container, veth ports on OVS userspace, GRE, container MTU 1458, \
                 container tx checksum offload off"
            }
            Setup::Vxlan => "kernel VXLAN over the veth, inner MTU 1450",
            Setup::Veth => "bare veth pair, no tunnel, MTU 1500",
        }
    }

    /// Where the measured traffic runs: the hosts' own addresses, or their containers'.
    fn ends(self) -> Ends {
        match self {
            Setup::Veth => Ends {
                client: "a",
                server: "b",
                target: "192.0.2.2",
                back: "192.0.2.1",
            },
            Setup::GrebeVeth | Setup::GrebeVethRing | Setup::OvsVeth => Ends {
                client: CONTAINERS[0].0,
                server: CONTAINERS[1].0,
                target: CONTAINERS[1].1.split_once('/').map_or("", |(ip, _)| ip),
                back: CONTAINERS[0].1.split_once('/').map_or("", |(ip, _)| ip),
            },
            _ => Ends {
                client: "a",
                server: "b",
                target: "198.51.100.2",
                back: "198.51.100.1",
            },
        }
    }

    fn is_grebe(self) -> bool {
        matches!(
            self,
            Setup::Grebe
                | Setup::GrebeLarge
                | Setup::GrebeVeth
                | Setup::GrebeVethRing
                | Setup::GrebeIp6gre
                | Setup::GrebeFlows
        )
    }

    /// A grebe setup with a container on each host.
    fn has_grebe_containers(self) -> bool {
        matches!(self, Setup::GrebeVeth | Setup::GrebeVethRing)
    }

    /// What the setup's grebe daemons are started with beyond the defaults.
    fn daemon_args(self) -> &'static [&'static str] {
        match self {
            Setup::GrebeVethRing => &["--system-rx", "ring"],
            _ => &[],
        }
    }

    fn is_ovs(self) -> bool {
        matches!(self, Setup::Ovs | Setup::OvsVeth | Setup::OvsFlows)
    }

    /// The setups this one's chart bars are compared with: OVS in the same shape, and the
    /// ceiling (the bare veth; for containers, grebe's own host-to-host figure).
    fn baselines(self) -> &'static [Setup] {
        match self {
            Setup::Grebe | Setup::GrebeLarge => &[Setup::Ovs, Setup::Veth],
            Setup::GrebeVeth => &[Setup::OvsVeth, Setup::Grebe],
            Setup::GrebeVethRing => &[Setup::GrebeVeth, Setup::OvsVeth],
            Setup::GrebeIp6gre => &[Setup::Grebe, Setup::Ovs],
            Setup::GrebeFlows => &[Setup::OvsFlows, Setup::Grebe],
            _ => &[],
        }
    }

    fn color(self) -> &'static str {
        match self {
            Setup::Grebe => "#2a9d8f",
            Setup::GrebeLarge => "#57cc99",
            Setup::GrebeVeth => "#1d6f65",
            Setup::GrebeVethRing => "#0b3d36",
            Setup::GrebeIp6gre => "#80ed99",
            Setup::GrebeFlows => "#38a3a5",
            Setup::Ovs => "#e76f51",
            Setup::OvsVeth => "#f4a261",
            Setup::OvsFlows => "#e9c46a",
            Setup::Vxlan => "#8d99ae",
            Setup::Veth => "#264653",
        }
    }
}

/// One figure in the table.
struct Metric {
    key: &'static str,
    title: &'static str,
    unit: &'static str,
    higher_is_better: bool,
    decimals: usize,
    /// A rate whose range over the rounds the table and chart show beside its median.
    spread: bool,
}

const METRICS: &[Metric] = &[
    Metric {
        key: "tcp1_gbps",
        title: "TCP, 1 stream",
        unit: "Gbit/s",
        higher_is_better: true,
        decimals: 2,
        spread: true,
    },
    Metric {
        key: "tcp4_gbps",
        title: "TCP, 4 streams",
        unit: "Gbit/s",
        higher_is_better: true,
        decimals: 2,
        spread: true,
    },
    Metric {
        key: "tcp1_retransmits",
        title: "TCP 1 stream, retransmits",
        unit: "segments",
        higher_is_better: false,
        decimals: 0,
        spread: false,
    },
    Metric {
        key: "udp64_kfps",
        title: "64-byte frames delivered",
        unit: "k frames/s",
        higher_is_better: true,
        decimals: 1,
        spread: true,
    },
    Metric {
        key: "udp64_carried_kfps",
        title: "64-byte frames carried to the receiver",
        unit: "k frames/s",
        higher_is_better: true,
        decimals: 1,
        spread: true,
    },
    Metric {
        key: "udp64_lossless_kfps",
        title: "64-byte frames, highest rate losing ≤ 0.1%",
        unit: "k frames/s",
        higher_is_better: true,
        decimals: 1,
        spread: true,
    },
    Metric {
        key: "udp64_loss_pct",
        title: "64-byte frames lost",
        unit: "%",
        higher_is_better: false,
        decimals: 1,
        spread: false,
    },
    Metric {
        key: "rtt_median_us",
        title: "ping RTT, median",
        unit: "µs",
        higher_is_better: false,
        decimals: 0,
        spread: false,
    },
    Metric {
        key: "rtt_p99_us",
        title: "ping RTT, p99",
        unit: "µs",
        higher_is_better: false,
        decimals: 0,
        spread: false,
    },
    Metric {
        key: "rss_mb",
        title: "switch memory per host (VmRSS)",
        unit: "MB",
        higher_is_better: false,
        decimals: 1,
        spread: false,
    },
    Metric {
        key: "cpu_s_per_gb",
        title: "switch CPU per GB carried, TCP 1 stream, both hosts",
        unit: "s/GB",
        higher_is_better: false,
        decimals: 2,
        spread: false,
    },
    Metric {
        key: "cpu_s",
        title: "switch CPU time, both hosts, whole run",
        unit: "s",
        higher_is_better: false,
        decimals: 1,
        spread: false,
    },
];

/// Where a setup's measured traffic runs: from `client` to `server`, which is reached at
/// `target`; `back` is the client's address, for the server's warm-up ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ends {
    client: &'static str,
    server: &'static str,
    target: &'static str,
    back: &'static str,
}

/// The containers of the `-veth` setups: (name, address), the first on host `a`, the second on
/// host `b`. Their veth's host end is `<name>-l`.
const CONTAINERS: [(&str, &str); 2] = [("ct-a", "198.51.100.11/24"), ("ct-b", "198.51.100.12/24")];

/// The ratio columns of the table: (numerator, denominator).
const TABLE_RATIOS: [(Setup, Setup); 10] = [
    (Setup::Grebe, Setup::Ovs),
    (Setup::GrebeLarge, Setup::Ovs),
    (Setup::GrebeVeth, Setup::OvsVeth),
    (Setup::GrebeVeth, Setup::Grebe),
    (Setup::GrebeVethRing, Setup::GrebeVeth),
    (Setup::GrebeIp6gre, Setup::Grebe),
    (Setup::GrebeFlows, Setup::OvsFlows),
    (Setup::GrebeFlows, Setup::Grebe),
    (Setup::Grebe, Setup::Vxlan),
    (Setup::Grebe, Setup::Veth),
];

const TRANSPORT_A: &str = "192.0.2.1/24";
const TRANSPORT_B: &str = "192.0.2.2/24";
const OVERLAY_A: &str = "198.51.100.1/24";
const OVERLAY_B: &str = "198.51.100.2/24";
const IPERF_PORT: &str = "5201";
/// UDP payload for the small-frame test: 18 + 8 (UDP) + 20 (IPv4) + 14 (Ethernet) = 60 bytes,
/// 64 on the wire with the 4-byte FCS: the minimum Ethernet frame.
const UDP_PAYLOAD: usize = 18;
const SMALL_FRAME: usize = UDP_PAYLOAD + 8 + 20 + 14 + 4;

/// The parameters one invocation runs with.
struct Plan {
    setups: Vec<Setup>,
    rounds: usize,
    duration: u64,
    pings: u32,
    ping_interval: &'static str,
    lossless: bool,
}

/// Measured figures of one setup in one round, keyed like [`METRICS`], plus details for
/// `--json`.
#[derive(Default)]
struct Outcome {
    /// Where the setup ran in its round's order, from 1.
    position: usize,
    metrics: BTreeMap<&'static str, f64>,
    detail: serde_json::Map<String, Value>,
    error: Option<String>,
}

mod lossless;
use lossless::*;
mod measure;
use measure::*;
mod ovs;
mod report;
use report::*;
mod rounds;
use rounds::*;

pub fn run(options: BenchOptions) -> anyhow::Result<()> {
    if !is_root() {
        bail!(
            "grebe bench creates network namespaces, veth pairs and TAP devices: run it as root \
             (sudo grebe bench)"
        );
    }
    for tool in ["iperf3", "ping", "ss"] {
        if Command::new(tool)
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            bail!(
                "grebe bench needs {tool} (Debian: apt-get install iperf3 iputils-ping iproute2)"
            );
        }
    }
    let duration = options
        .duration
        .unwrap_or(if options.quick { 2 } else { 10 })
        .max(1);
    let plan = Plan {
        setups: if options.only.is_empty() {
            ALL_SETUPS.to_vec()
        } else {
            let mut s = options.only.clone();
            s.sort();
            s.dedup();
            s
        },
        rounds: options.rounds as usize,
        duration,
        pings: if options.quick { 100 } else { 1000 },
        ping_interval: "0.005",
        lossless: options.lossless,
    };
    let debug_build = cfg!(debug_assertions);
    if debug_build {
        eprintln!(
            "grebe bench: WARNING: this is a debug build; its numbers are meaningless. \
             Build with `cargo build --release` and run target/release/grebe bench."
        );
    }
    let grebe = std::env::current_exe().context("locating the grebe binary")?;
    let load_at_start = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    if let Some(load) = load_at_start
        .split_whitespace()
        .next()
        .and_then(|l| l.parse::<f64>().ok())
        .filter(|l| *l >= 1.0)
    {
        eprintln!(
            "grebe bench: note: load average {load:.2} at start: other work shares the CPUs, \
             expect noisy figures"
        );
    }
    let started = SystemTime::now();

    // The lab being measured, for the Ctrl-C handler to remove.
    let current: Arc<Mutex<Option<Lab>>> = Arc::new(Mutex::new(None));
    let on_signal = current.clone();
    ctrlc::set_handler(move || {
        eprintln!("\ninterrupted: removing the benchmark's namespaces");
        if let Some(lab) = on_signal.lock().unwrap_or_else(|e| e.into_inner()).take() {
            lab.cleanup();
        }
        std::process::exit(130);
    })
    .context("installing the Ctrl-C handler")?;

    let mut skipped: BTreeMap<Setup, String> = BTreeMap::new();
    for &setup in plan.setups.iter().filter(|s| s.is_ovs()) {
        let why = ovs::missing(setup);
        if let Some(why) = why {
            eprintln!("== {}: {}", setup.label(), setup.describe());
            eprintln!("   skipped: {why}");
            skipped.insert(setup, why.into());
        }
    }
    if plan.rounds > 1 {
        eprintln!(
            "grebe bench: {} rounds, the setups in order, then in reverse, alternately",
            plan.rounds
        );
    }
    let mut rounds: BTreeMap<Setup, Vec<Outcome>> = BTreeMap::new();
    for round in 0..plan.rounds {
        let order = round_order(&plan.setups, round);
        for (position, setup) in order.into_iter().enumerate() {
            if skipped.contains_key(&setup) {
                continue;
            }
            if plan.rounds > 1 {
                eprintln!(
                    "== round {} of {}: {}: {}",
                    round + 1,
                    plan.rounds,
                    setup.label(),
                    setup.describe()
                );
            } else {
                eprintln!("== {}: {}", setup.label(), setup.describe());
            }
            // Each round builds the setup afresh, so no round inherits another's state.
            let prefix = format!("grebe-bench-{}-{}", std::process::id(), setup.key());
            let lab = Lab::new(&prefix, &grebe)?;
            let _measuring = Measuring::new(&current, &lab);
            let mut outcome = Outcome {
                position: position + 1,
                ..Outcome::default()
            };
            if let Err(e) = measure(&lab, setup, &plan, &mut outcome) {
                eprintln!("   FAILED: {e:#}");
                outcome.error = Some(format!("{e:#}"));
            }
            rounds.entry(setup).or_default().push(outcome);
        }
    }
    let results: BTreeMap<Setup, SetupResult> = plan
        .setups
        .iter()
        .map(|&s| {
            let result = SetupResult::new(
                skipped.get(&s).cloned(),
                rounds.remove(&s).unwrap_or_default(),
            );
            (s, result)
        })
        .collect();

    let wall = started.elapsed().unwrap_or_default().as_secs_f64();
    let report = Report {
        plan: &plan,
        results: &results,
        debug_build,
        date: utc_date(started),
        kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned(),
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_at_start: load_at_start
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        wall_s: wall,
    };
    let chart = report.svg();
    if let Some(dir) = options.chart.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(&options.chart, chart)
        .with_context(|| format!("writing the chart to {}", options.chart.display()))?;
    if options.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.json(&options.chart))?
        );
    } else {
        print!("{}", report.table());
        println!("chart: {}", options.chart.display());
    }
    eprintln!("chart written to {}", options.chart.display());

    let failed: Vec<String> = results
        .iter()
        .filter_map(|(s, r)| {
            let failed: Vec<String> = r.failed_rounds().map(|(i, _)| i.to_string()).collect();
            match failed.len() {
                0 => None,
                _ if plan.rounds == 1 => Some(s.label().to_owned()),
                _ => Some(format!("{} (round {})", s.label(), failed.join(", "))),
            }
        })
        .collect();
    if !failed.is_empty() {
        bail!("measuring {} failed (see above)", failed.join(", "));
    }
    Ok(())
}

/// The lab being measured, published for the Ctrl-C handler; removed when this is dropped, on
/// success, error or panic alike.
struct Measuring<'a>(&'a Mutex<Option<Lab>>);

impl<'a> Measuring<'a> {
    fn new(current: &'a Mutex<Option<Lab>>, lab: &Lab) -> Measuring<'a> {
        *current.lock().unwrap_or_else(|e| e.into_inner()) = Some(lab.clone());
        Measuring(current)
    }
}

impl Drop for Measuring<'_> {
    fn drop(&mut self) {
        if let Some(lab) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
            lab.cleanup();
        }
    }
}

/// A round's outcome with these figures, for the tests of the rounds and the report.
#[cfg(test)]
fn outcome(metrics: &[(&'static str, f64)], error: Option<&str>) -> Outcome {
    Outcome {
        metrics: metrics.iter().copied().collect(),
        error: error.map(str::to_owned),
        ..Outcome::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchOptions,
    }

    #[test]
    fn the_container_setups_are_named_for_only() {
        let cli = Cli::try_parse_from(["grebe", "--only", "ovs-veth,grebe,grebe-veth"]).unwrap();
        assert_eq!(
            cli.bench.only,
            [Setup::OvsVeth, Setup::Grebe, Setup::GrebeVeth]
        );
        assert!(Cli::try_parse_from(["grebe", "--only", "container"]).is_err());
        // The JSON keys are the names --only takes.
        for setup in ALL_SETUPS {
            let name = clap::ValueEnum::to_possible_value(&setup).unwrap();
            assert_eq!(name.get_name(), setup.key());
        }
    }

    #[test]
    fn container_setups_run_between_the_containers() {
        for setup in [Setup::GrebeVeth, Setup::GrebeVethRing, Setup::OvsVeth] {
            assert_eq!(
                setup.ends(),
                Ends {
                    client: "ct-a",
                    server: "ct-b",
                    target: "198.51.100.12",
                    back: "198.51.100.11",
                }
            );
        }
        let hosts = Setup::Grebe.ends();
        assert_eq!(
            (hosts.client, hosts.server, hosts.target, hosts.back),
            ("a", "b", "198.51.100.2", "198.51.100.1")
        );
        assert_eq!(Setup::Veth.ends().target, "192.0.2.2");
        // Each container is on its own host's overlay, apart from the hosts' mgmt0.
        for (_, address) in CONTAINERS {
            assert!(address.starts_with("198.51.100.") && address.ends_with("/24"));
            assert_ne!(address, OVERLAY_A);
            assert_ne!(address, OVERLAY_B);
        }
        assert!(Setup::GrebeVeth.is_grebe() && !Setup::GrebeVeth.is_ovs());
        assert!(Setup::OvsVeth.is_ovs() && !Setup::OvsVeth.is_grebe());
        assert_eq!(Setup::GrebeVeth.baselines(), [Setup::OvsVeth, Setup::Grebe]);
        assert!(TABLE_RATIOS.contains(&(Setup::GrebeVeth, Setup::OvsVeth)));
    }

    #[test]
    fn the_ring_setup_is_grebe_veth_with_ring_receive() {
        let cli = Cli::try_parse_from(["grebe", "--only", "grebe-veth,grebe-veth-ring"]).unwrap();
        assert_eq!(cli.bench.only, [Setup::GrebeVeth, Setup::GrebeVethRing]);
        assert!(Setup::GrebeVethRing.is_grebe() && Setup::GrebeVethRing.has_grebe_containers());
        assert!(!Setup::Grebe.has_grebe_containers());
        assert_eq!(Setup::GrebeVethRing.daemon_args(), ["--system-rx", "ring"]);
        assert!(
            Setup::GrebeVeth.daemon_args().is_empty(),
            "the default stays recvmmsg"
        );
        assert!(TABLE_RATIOS.contains(&(Setup::GrebeVethRing, Setup::GrebeVeth)));
    }
}
