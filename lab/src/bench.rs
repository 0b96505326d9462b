//! `grebe bench`: grebe measured side by side with the alternatives, in one run.
//!
//! Two hosts in network namespaces joined by a veth pair (transport 192.0.2.1/24 and
//! 192.0.2.2/24; overlay 198.51.100.1/24 and 198.51.100.2/24), built fresh for each setup:
//!
//! - `grebe`: a grebe daemon per host, the seed configuration (br-int, mgmt0, one GRE port);
//! - `ovs`: Open vSwitch's userspace datapath per host, the same bridge (inner MTU 1458), when
//!   `ovs-vswitchd` is installed;
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
    /// Open vSwitch userspace (netdev) to Open vSwitch userspace over GRE
    Ovs,
    /// kernel VXLAN over the veth
    Vxlan,
    /// the bare veth pair, no tunnel
    Veth,
}

const ALL_SETUPS: [Setup; 5] = [
    Setup::Grebe,
    Setup::GrebeLarge,
    Setup::Ovs,
    Setup::Vxlan,
    Setup::Veth,
];

impl Setup {
    fn key(self) -> &'static str {
        match self {
            Setup::Grebe => "grebe",
            Setup::GrebeLarge => "grebe-large",
            Setup::Ovs => "ovs",
            Setup::Vxlan => "vxlan",
            Setup::Veth => "veth",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Setup::Grebe => "grebe",
            Setup::GrebeLarge => "grebe large",
            Setup::Ovs => "OVS",
            Setup::Vxlan => "VXLAN",
            Setup::Veth => "veth",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Setup::Grebe => "grebe to grebe, GRE, inner MTU 1462",
            Setup::GrebeLarge => "grebe to grebe, GRE, options:large_frames=true on both ends",
            Setup::Ovs => "OVS userspace (netdev) to OVS, GRE, inner MTU 1458",
            Setup::Vxlan => "kernel VXLAN over the veth, inner MTU 1450",
            Setup::Veth => "bare veth pair, no tunnel, MTU 1500",
        }
    }

    /// The address host `b` is reached at (its overlay address).
    fn target(self) -> &'static str {
        match self {
            Setup::Veth => "192.0.2.2",
            _ => "198.51.100.2",
        }
    }

    fn color(self) -> &'static str {
        match self {
            Setup::Grebe => "#2a9d8f",
            Setup::GrebeLarge => "#57cc99",
            Setup::Ovs => "#e76f51",
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

/// The ratio columns of the table: (numerator, denominator).
const TABLE_RATIOS: [(Setup, Setup); 4] = [
    (Setup::Grebe, Setup::Ovs),
    (Setup::GrebeLarge, Setup::Ovs),
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

/// The order of the setups in round `round` (from 0): as given in even rounds, reversed in odd
/// ones, so that no setup always runs first or last.
fn round_order(setups: &[Setup], round: usize) -> Vec<Setup> {
    let mut order = setups.to_vec();
    if round % 2 == 1 {
        order.reverse();
    }
    order
}

/// One metric's figures over the rounds that count.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Spread {
    /// The middle figure; with an even number of rounds, the mean of the two middle ones.
    median: f64,
    min: f64,
    max: f64,
    /// How many rounds gave a figure.
    rounds: usize,
}

impl Spread {
    /// `None` for no values.
    fn of(values: &[f64]) -> Option<Spread> {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let (&min, &max) = (v.first()?, v.last()?);
        let mid = v.len() / 2;
        let median = if v.len() % 2 == 1 {
            v[mid]
        } else {
            (v[mid - 1] + v[mid]) / 2.0
        };
        Some(Spread {
            median,
            min,
            max,
            rounds: v.len(),
        })
    }
}

/// The rounds whose figures count: those that succeeded, or, when none did, all of them. A
/// failed round's figures are left out while others succeeded, since they may be skewed (its
/// whole-run CPU time misses the failed step); when nothing succeeded, they are all there is,
/// as in a single run.
fn counted_rounds(rounds: &[Outcome]) -> Vec<&Outcome> {
    let ok: Vec<&Outcome> = rounds.iter().filter(|o| o.error.is_none()).collect();
    if ok.is_empty() {
        rounds.iter().collect()
    } else {
        ok
    }
}

/// Each metric's median and range over `rounds`; a metric no round measured is absent.
fn summarize(rounds: &[&Outcome]) -> BTreeMap<&'static str, Spread> {
    METRICS
        .iter()
        .filter_map(|m| {
            let values: Vec<f64> = rounds
                .iter()
                .filter_map(|o| o.metrics.get(m.key).copied())
                .collect();
            Spread::of(&values).map(|s| (m.key, s))
        })
        .collect()
}

/// One setup over the whole run: every round's outcome and what the report makes of them.
struct SetupResult {
    /// Why the setup was not measured at all (OVS not installed).
    skipped: Option<String>,
    /// One outcome per round, in round order.
    rounds: Vec<Outcome>,
    /// How many rounds the figures come from (see [`counted_rounds`]).
    counted: usize,
    summary: BTreeMap<&'static str, Spread>,
}

impl SetupResult {
    fn new(skipped: Option<String>, rounds: Vec<Outcome>) -> SetupResult {
        let counted = counted_rounds(&rounds);
        SetupResult {
            skipped,
            counted: counted.len(),
            summary: summarize(&counted),
            rounds,
        }
    }

    fn failed_rounds(&self) -> impl Iterator<Item = (usize, &str)> {
        self.rounds
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.error.as_deref().map(|e| (i + 1, e)))
    }
}

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
    if plan.setups.contains(&Setup::Ovs) && !ovs::available() {
        let why = "ovs-vswitchd is not installed (Debian: apt-get install openvswitch-switch)";
        eprintln!("== {}: {}", Setup::Ovs.label(), Setup::Ovs.describe());
        eprintln!("   skipped: {why}");
        skipped.insert(Setup::Ovs, why.into());
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

/// Waits (3 s at most) until both grebe tunnels send by their Ethernet link, the steady state
/// of a running host (`dpif/show` names the interface once the neighbour is resolved).
fn wait_for_links(lab: &Lab) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(3);
    for host in ["a", "b"] {
        while !lab.appctl(host, &["dpif/show"])?.contains(", out eth0") {
            if Instant::now() > deadline {
                eprintln!("   {host}'s tunnel still sends by the raw socket");
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}

/// Builds one setup in `lab` and measures it. A failed measurement is recorded and the others
/// still run; a setup that cannot be built fails as a whole.
fn measure(lab: &Lab, setup: Setup, plan: &Plan, out: &mut Outcome) -> anyhow::Result<()> {
    let built = Instant::now();
    build(lab, setup)?;
    let target = setup.target();
    lab.wait_ping("a", target, Duration::from_secs(15))
        .context("the hosts cannot reach each other")?;
    // Fill both ends' ARP and MAC tables before timing anything.
    let back = if setup == Setup::Veth {
        "192.0.2.1"
    } else {
        "198.51.100.1"
    };
    for (host, dst) in [("a", target), ("b", back)] {
        lab.sh(
            host,
            &["ping", "-c", "3", "-i", "0.2", "-W", "2", "-q", "-n", dst],
        )
        .with_context(|| format!("warm-up ping from {host} to {dst}"))?;
    }
    if matches!(setup, Setup::Grebe | Setup::GrebeLarge) {
        wait_for_links(lab)?;
    }
    eprintln!("   built in {:.1} s", built.elapsed().as_secs_f64());

    let procs = switch_processes(lab, setup)?;
    if !procs.is_empty() {
        out.detail.insert(
            "processes".into(),
            json!(
                procs
                    .iter()
                    .map(|p| json!({"host": p.host, "name": p.name, "pid": p.pid}))
                    .collect::<Vec<_>>()
            ),
        );
    }
    let cpu_start = cpu_seconds(&procs)?;
    let mut last_cpu = cpu_start;
    let mut phase_cpu = serde_json::Map::new();
    let mut failures = Vec::new();
    type Step = fn(&Lab, &str, &Plan, &mut Outcome) -> anyhow::Result<()>;
    let steps: [(&str, Step); 4] = [
        ("tcp1", measure_tcp1),
        ("tcp4", measure_tcp4),
        ("udp64", measure_small_frames),
        ("ping", measure_rtt),
    ];
    for (name, step) in steps {
        if let Err(e) = step(lab, target, plan, out) {
            eprintln!("   {name} FAILED: {e:#}");
            failures.push(format!("{name}: {e:#}"));
        }
        if !procs.is_empty() {
            let now = cpu_seconds(&procs)?;
            phase_cpu.insert(name.into(), json!(round(now - last_cpu, 3)));
            last_cpu = now;
        }
    }

    if !procs.is_empty() {
        // How much switch CPU one GB of a single TCP stream costs: efficiency, whatever the speed.
        let tcp1_cpu = phase_cpu.get("tcp1").and_then(Value::as_f64);
        let tcp1_bytes = out.detail.get("tcp1_bytes").and_then(Value::as_f64);
        if let (Some(cpu), Some(bytes)) = (tcp1_cpu, tcp1_bytes.filter(|b| *b > 0.0)) {
            out.metrics.insert("cpu_s_per_gb", cpu / (bytes / 1e9));
        }
        let cpu = last_cpu - cpu_start;
        out.metrics.insert("cpu_s", cpu);
        out.detail
            .insert("cpu_s_by_phase".into(), Value::Object(phase_cpu));
        let mut per_host: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
        for p in &procs {
            let (rss, hwm) = memory_kb(p.pid)?;
            let e = per_host.entry(p.host).or_default();
            e.0 += rss as f64 / 1024.0;
            e.1 += hwm as f64 / 1024.0;
        }
        let rss = per_host.values().map(|v| v.0).fold(0.0, f64::max);
        out.metrics.insert("rss_mb", rss);
        out.detail.insert(
            "memory_mb_per_host".into(),
            json!(
                per_host
                    .iter()
                    .map(|(h, (rss, hwm))| (
                        h.to_string(),
                        json!({"vmrss": round(*rss, 2), "vmhwm": round(*hwm, 2)})
                    ))
                    .collect::<serde_json::Map<_, _>>()
            ),
        );
        eprintln!("   switch: {rss:.1} MB resident per host, {cpu:.1} s CPU over the run");
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("; "));
    }
    Ok(())
}

fn measure_tcp1(lab: &Lab, target: &str, plan: &Plan, out: &mut Outcome) -> anyhow::Result<()> {
    let v = iperf(lab, target, plan.duration, &["-P", "1"])?;
    let gbps = received_bps(&v)? / 1e9;
    out.metrics.insert("tcp1_gbps", gbps);
    if let Some(bytes) = v["end"]["sum_received"]["bytes"].as_f64() {
        out.detail.insert("tcp1_bytes".into(), json!(bytes));
    }
    let retrans = v["end"]["sum_sent"]["retransmits"].as_f64();
    if let Some(r) = retrans {
        out.metrics.insert("tcp1_retransmits", r);
    }
    eprintln!(
        "   TCP 1 stream: {gbps:.2} Gbit/s ({} retransmits)",
        retrans.map_or("?".into(), |r| r.to_string())
    );
    Ok(())
}

fn measure_tcp4(lab: &Lab, target: &str, plan: &Plan, out: &mut Outcome) -> anyhow::Result<()> {
    let v = iperf(lab, target, plan.duration, &["-P", "4"])?;
    let gbps = received_bps(&v)? / 1e9;
    out.metrics.insert("tcp4_gbps", gbps);
    out.detail.insert(
        "tcp4_retransmits".into(),
        v["end"]["sum_sent"]["retransmits"].clone(),
    );
    eprintln!("   TCP 4 streams: {gbps:.2} Gbit/s");
    Ok(())
}

/// As many minimum-size UDP datagrams as one iperf3 sender can send: frames delivered per
/// second and the share lost.
fn measure_small_frames(
    lab: &Lab,
    target: &str,
    plan: &Plan,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let payload = UDP_PAYLOAD.to_string();
    let v = iperf(
        lab,
        target,
        plan.duration,
        &["-u", "-l", &payload, "-b", "0"],
    )?;
    let received = &v["end"]["sum_received"];
    let (Some(packets), Some(lost), Some(secs)) = (
        received["packets"].as_f64(),
        received["lost_packets"].as_f64(),
        received["seconds"].as_f64().filter(|s| *s > 0.0),
    ) else {
        bail!("iperf3 -u: no end.sum_received packets, lost_packets and seconds in its JSON");
    };
    let delivered = (packets - lost).max(0.0) / secs;
    let loss_pct = if packets > 0.0 {
        100.0 * lost / packets
    } else {
        100.0
    };
    let offered = v["end"]["sum_sent"]["packets"].as_f64().unwrap_or(packets) / secs;
    out.metrics.insert("udp64_kfps", delivered / 1e3);
    out.metrics.insert("udp64_loss_pct", loss_pct);
    out.detail
        .insert("udp64_offered_kfps".into(), json!(round(offered / 1e3, 1)));
    eprintln!(
        "   {SMALL_FRAME}-byte frames: {:.1} k/s delivered of {:.1} k/s offered ({loss_pct:.1}% lost)",
        delivered / 1e3,
        offered / 1e3
    );
    Ok(())
}

/// Round-trip times of many pings, one every few milliseconds on an otherwise idle path.
fn measure_rtt(lab: &Lab, target: &str, plan: &Plan, out: &mut Outcome) -> anyhow::Result<()> {
    let rtts = ping_rtts(lab, target, plan.pings, plan.ping_interval)?;
    if rtts.is_empty() {
        bail!("no ping replies from {target}");
    }
    let median = percentile(&rtts, 50.0) * 1e3;
    let p99 = percentile(&rtts, 99.0) * 1e3;
    out.metrics.insert("rtt_median_us", median);
    out.metrics.insert("rtt_p99_us", p99);
    out.detail.insert(
        "ping_replies".into(),
        json!({"sent": plan.pings, "received": rtts.len()}),
    );
    eprintln!(
        "   ping: median {median:.0} µs, p99 {p99:.0} µs ({}/{} replies)",
        rtts.len(),
        plan.pings
    );
    Ok(())
}

/// Wires the two hosts for `setup`.
fn build(lab: &Lab, setup: Setup) -> anyhow::Result<()> {
    lab.add_host_pair(("a", TRANSPORT_A), ("b", TRANSPORT_B))?;
    match setup {
        Setup::Grebe | Setup::GrebeLarge => {
            for (host, overlay, remote) in
                [("a", OVERLAY_A, "192.0.2.2"), ("b", OVERLAY_B, "192.0.2.1")]
            {
                lab.start_daemon(host)?;
                lab.configure_seed(host, overlay, &[remote])?;
                if setup == Setup::GrebeLarge {
                    lab.vsctl_ok(
                        host,
                        &["set", "interface", "gre0", "options:large_frames=true"],
                    )?;
                }
            }
        }
        Setup::Ovs => {
            for (host, transport, overlay, remote) in [
                ("a", TRANSPORT_A, OVERLAY_A, "192.0.2.2"),
                ("b", TRANSPORT_B, OVERLAY_B, "192.0.2.1"),
            ] {
                ovs::build(lab, host, transport, overlay, remote)?;
            }
        }
        Setup::Vxlan => {
            for (host, local, remote, overlay) in [
                ("a", "192.0.2.1", "192.0.2.2", OVERLAY_A),
                ("b", "192.0.2.2", "192.0.2.1", OVERLAY_B),
            ] {
                lab.sh(
                    host,
                    &[
                        "ip", "link", "add", "vx0", "type", "vxlan", "id", "42", "remote", remote,
                        "local", local, "dstport", "4789", "dev", "eth0",
                    ],
                )?;
                lab.sh(host, &["ip", "addr", "add", overlay, "dev", "vx0"])?;
                lab.sh(host, &["ip", "link", "set", "vx0", "up"])?;
            }
        }
        Setup::Veth => {}
    }
    Ok(())
}

/// A switch process whose memory and CPU time count.
struct Proc {
    host: &'static str,
    name: String,
    pid: u32,
}

fn switch_processes(lab: &Lab, setup: Setup) -> anyhow::Result<Vec<Proc>> {
    let mut procs = Vec::new();
    match setup {
        Setup::Grebe | Setup::GrebeLarge => {
            for host in ["a", "b"] {
                let file = lab.rundir(host).join(daemon::control::PIDFILE_NAME);
                let pid = fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
                    .trim()
                    .parse()
                    .with_context(|| format!("{} holds no pid", file.display()))?;
                procs.push(Proc {
                    host,
                    name: "grebe".into(),
                    pid,
                });
            }
        }
        Setup::Ovs => {
            for host in ["a", "b"] {
                let found = ovs::processes(lab, host)?;
                procs.extend(
                    found
                        .into_iter()
                        .map(|(name, pid)| Proc { host, name, pid }),
                );
            }
        }
        Setup::Vxlan | Setup::Veth => {}
    }
    Ok(procs)
}

/// utime + stime of all `procs`, in seconds.
fn cpu_seconds(procs: &[Proc]) -> anyhow::Result<f64> {
    let hz = clock_ticks();
    let mut total = 0.0;
    for p in procs {
        let stat = fs::read_to_string(format!("/proc/{}/stat", p.pid))
            .with_context(|| format!("{} (pid {}) is gone", p.name, p.pid))?;
        // The command name may hold spaces and parentheses: fields start after the last ')'.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After ')' come field 3 (state) onwards: utime is field 14, stime field 15.
        let ticks = |i: usize| -> anyhow::Result<f64> {
            fields
                .get(i - 3)
                .and_then(|f| f.parse::<u64>().ok())
                .map(|t| t as f64)
                .with_context(|| format!("unreadable /proc/{}/stat", p.pid))
        };
        total += (ticks(14)? + ticks(15)?) / hz;
    }
    Ok(total)
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// (VmRSS, VmHWM) in kB.
fn memory_kb(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("pid {pid} is gone"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// Runs one iperf3 test from `a` to `target` against a fresh one-off server on `b`; returns
/// iperf3's JSON.
fn iperf(lab: &Lab, target: &str, secs: u64, args: &[&str]) -> anyhow::Result<Value> {
    let server = IperfServer::start(lab, "b")?;
    let limit = (secs + 20).to_string();
    let out = lab
        .command("a", "timeout")
        .args(["-k", "5", &limit, "iperf3", "-c", target, "-p", IPERF_PORT])
        .args(["-t", &secs.to_string(), "-J", "--connect-timeout", "5000"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running iperf3")?;
    drop(server);
    let text = String::from_utf8_lossy(&out.stdout);
    let value: Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "iperf3 {} printed no JSON ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })?;
    if let Some(err) = value.get("error") {
        bail!("iperf3 {}: {err}", args.join(" "));
    }
    if !out.status.success() {
        bail!("iperf3 {} exited with {}", args.join(" "), out.status);
    }
    Ok(value)
}

fn received_bps(v: &Value) -> anyhow::Result<f64> {
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .context("iperf3's JSON has no end.sum_received.bits_per_second")
}

/// An `iperf3 -s -1` in a host, killed when dropped.
struct IperfServer(Child);

impl IperfServer {
    fn start(lab: &Lab, host: &str) -> anyhow::Result<IperfServer> {
        let child = lab
            .command(host, "iperf3")
            .args(["-s", "-1", "-p", IPERF_PORT])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting iperf3 -s")?;
        let server = IperfServer(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let ss = run_cmd(
                lab.command(host, "ss")
                    .args(["-Hltn", &format!("sport = :{IPERF_PORT}")]),
            )?;
            if !String::from_utf8_lossy(&ss.stdout).trim().is_empty() {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!("iperf3 -s on {host} did not start listening");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for IperfServer {
    fn drop(&mut self) {
        // A one-off server exits after its test; kill it in case the test never came.
        if let Ok(None) = self.0.try_wait() {
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.0.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Per-packet round-trip times in ms, from ping's per-reply lines.
fn ping_rtts(lab: &Lab, target: &str, count: u32, interval: &str) -> anyhow::Result<Vec<f64>> {
    let limit = (f64::from(count) * 0.02 + 15.0).ceil().to_string();
    let out = lab
        .command("a", "timeout")
        .args(["-k", "5", &limit, "ping", "-n", "-W", "1", "-i", interval])
        .args(["-c", &count.to_string(), target])
        .stdin(Stdio::null())
        .output()
        .context("running ping")?;
    Ok(parse_ping(&String::from_utf8_lossy(&out.stdout)))
}

fn parse_ping(text: &str) -> Vec<f64> {
    text.lines()
        .filter_map(|l| l.split_once("time=").map(|(_, t)| t))
        .filter_map(|t| t.split_whitespace().next())
        .filter_map(|t| t.parse().ok())
        .collect()
}

/// Nearest-rank percentile of unsorted values.
fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

/// The date of `t` as YYYY-MM-DD HH:MM UTC.
fn utc_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

struct Report<'a> {
    plan: &'a Plan,
    results: &'a BTreeMap<Setup, SetupResult>,
    debug_build: bool,
    date: String,
    kernel: String,
    cpus: usize,
    load_at_start: String,
    wall_s: f64,
}

impl Report<'_> {
    /// The median of `metric` over the setup's counted rounds.
    fn value(&self, setup: Setup, metric: &str) -> Option<f64> {
        self.spread(setup, metric).map(|s| s.median)
    }

    fn spread(&self, setup: Setup, metric: &str) -> Option<Spread> {
        self.results.get(&setup)?.summary.get(metric).copied()
    }

    /// `num`'s median over `den`'s, when both exist and the denominator is not zero.
    fn ratio(&self, num: Setup, den: Setup, metric: &str) -> Option<f64> {
        let (n, d) = (self.value(num, metric)?, self.value(den, metric)?);
        (d != 0.0).then(|| n / d)
    }

    fn measured(&self) -> impl Iterator<Item = Setup> + '_ {
        self.results
            .iter()
            .filter(|(_, r)| !r.summary.is_empty())
            .map(|(s, _)| *s)
    }

    /// "3 rounds" and what the figures are over them.
    fn rounds_phrase(&self) -> String {
        match self.plan.rounds {
            1 => "1 round".into(),
            n => format!("{n} rounds (setup order reversed every other round), medians"),
        }
    }

    /// Two lines saying when, where and how the figures were measured.
    fn heading(&self) -> [String; 2] {
        [
            format!(
                "grebe bench, {}: {} build, kernel {}, {} CPUs, load average at start {}",
                self.date,
                if self.debug_build { "DEBUG" } else { "release" },
                self.kernel,
                self.cpus,
                self.load_at_start
            ),
            format!(
                "{} s per throughput test, {} pings {} s apart, {}, whole run {:.0} s",
                self.plan.duration,
                self.plan.pings,
                self.plan.ping_interval,
                self.rounds_phrase(),
                self.wall_s
            ),
        ]
    }

    fn table(&self) -> String {
        let setups: Vec<Setup> = self.measured().collect();
        let ratios: Vec<(Setup, Setup)> = TABLE_RATIOS
            .into_iter()
            .filter(|(n, d)| setups.contains(n) && setups.contains(d))
            .collect();
        let mut header = vec![String::new()];
        header.extend(setups.iter().map(|s| s.label().to_owned()));
        header.extend(
            ratios
                .iter()
                .map(|(n, d)| format!("{} ÷ {}", n.label(), d.label())),
        );
        let mut rows = vec![header];
        for m in METRICS {
            let mut row = vec![format!("{}, {}", m.title, m.unit)];
            for &s in &setups {
                row.push(match self.value(s, m.key) {
                    Some(v) => format!("{v:.*}", m.decimals),
                    None => "—".into(),
                });
            }
            for &(n, d) in &ratios {
                row.push(match self.ratio(n, d, m.key) {
                    Some(r) => format!("{r:.2}×"),
                    None => "—".into(),
                });
            }
            rows.push(row);
            if m.spread && self.plan.rounds > 1 {
                let mut row = vec![format!("  min–max over {} rounds", self.plan.rounds)];
                for &s in &setups {
                    row.push(match self.spread(s, m.key) {
                        Some(sp) => range_cell(sp, m.decimals, self.plan.rounds),
                        None => "—".into(),
                    });
                }
                row.extend(ratios.iter().map(|_| String::new()));
                rows.push(row);
            }
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut text = String::new();
        if self.debug_build {
            text.push_str("WARNING: debug build, numbers are meaningless\n");
        }
        let [h1, h2] = self.heading();
        let _ = writeln!(text, "{h1}\n{h2}\n");
        for (i, row) in rows.iter().enumerate() {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, cell)| {
                    let pad = widths[c] - cell.chars().count();
                    if c == 0 {
                        format!("{cell}{}", " ".repeat(pad))
                    } else {
                        format!("{}{cell}", " ".repeat(pad))
                    }
                })
                .collect();
            let _ = writeln!(text, "| {} |", cells.join(" | "));
            if i == 0 {
                let rule: Vec<String> = widths
                    .iter()
                    .enumerate()
                    .map(|(c, w)| {
                        if c == 0 {
                            "-".repeat(w + 2)
                        } else {
                            format!("{}:", "-".repeat(w + 1))
                        }
                    })
                    .collect();
                let _ = writeln!(text, "|{}|", rule.join("|"));
            }
        }
        text.push('\n');
        for s in &setups {
            let _ = writeln!(text, "{}: {}", s.label(), s.describe());
        }
        let _ = writeln!(
            text,
            "Ratios are the first setup's value over the second's: above 1 is better for throughput and \
             frame rate,\nbelow 1 is better for loss, retransmits, RTT, memory and CPU. \
             {SMALL_FRAME}-byte frames: iperf3 -u -l {UDP_PAYLOAD} -b 0.\nMemory: VmRSS after the run \
             (OVS: ovs-vswitchd + ovsdb-server); CPU: utime + stime of the switch processes; \
             — where\nthe kernel is the switch."
        );
        if self.plan.rounds > 1 {
            let _ = writeln!(
                text,
                "Figures are medians over the rounds (with an even count, the mean of the middle two); \
                 ratios are of medians."
            );
            let short = self.results.values().any(|r| {
                METRICS.iter().any(|m| {
                    m.spread
                        && r.summary
                            .get(m.key)
                            .is_some_and(|sp| sp.rounds < self.plan.rounds)
                })
            });
            if short {
                let _ = writeln!(
                    text,
                    "A range marked (n=2) is over the 2 rounds that measured it, fewer than were run."
                );
            }
        }
        for (s, r) in self.results {
            if let Some(why) = &r.skipped {
                let _ = writeln!(text, "{}: not measured: {why}", s.label());
            }
            for (round, err) in r.failed_rounds() {
                if self.plan.rounds == 1 {
                    let _ = writeln!(text, "{}: FAILED: {err}", s.label());
                } else {
                    let _ = writeln!(text, "{}: round {round} FAILED: {err}", s.label());
                }
            }
            if self.plan.rounds > 1 && r.skipped.is_none() && r.counted < r.rounds.len() {
                let _ = writeln!(
                    text,
                    "{}: figures from the {} of {} rounds that succeeded",
                    s.label(),
                    r.counted,
                    r.rounds.len()
                );
            } else if self.plan.rounds > 1 && r.failed_rounds().next().is_some() {
                let _ = writeln!(
                    text,
                    "{}: every round failed; figures from what each measured",
                    s.label()
                );
            }
        }
        text
    }

    fn json(&self, chart: &Path) -> Value {
        let mut results = serde_json::Map::new();
        for (s, res) in self.results {
            let failed = res.failed_rounds().count();
            let mut r = serde_json::Map::new();
            r.insert("description".into(), json!(s.describe()));
            r.insert(
                "status".into(),
                json!(if res.skipped.is_some() {
                    "skipped"
                } else if failed == res.rounds.len() {
                    "failed"
                } else if failed > 0 {
                    "partly failed"
                } else {
                    "ok"
                }),
            );
            if let Some(why) = &res.skipped {
                r.insert("reason".into(), json!(why));
            } else if let Some((_, why)) = res.failed_rounds().next() {
                r.insert("reason".into(), json!(why));
            }
            r.insert("rounds_counted".into(), json!(res.counted));
            // The medians, as the table shows them.
            r.insert(
                "metrics".into(),
                Value::Object(
                    res.summary
                        .iter()
                        .map(|(k, sp)| (k.to_string(), json!(round(sp.median, 4))))
                        .collect(),
                ),
            );
            r.insert(
                "spread".into(),
                Value::Object(
                    res.summary
                        .iter()
                        .map(|(k, sp)| {
                            let v = json!({
                                "min": round(sp.min, 4),
                                "max": round(sp.max, 4),
                                "rounds": sp.rounds,
                            });
                            (k.to_string(), v)
                        })
                        .collect(),
                ),
            );
            // Every round's own figures, counted or not.
            let rounds: Vec<Value> = res
                .rounds
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let mut v = serde_json::Map::new();
                    v.insert("round".into(), json!(i + 1));
                    v.insert("position".into(), json!(o.position));
                    v.insert(
                        "status".into(),
                        json!(if o.error.is_some() { "failed" } else { "ok" }),
                    );
                    if let Some(e) = &o.error {
                        v.insert("reason".into(), json!(e));
                    }
                    v.insert(
                        "metrics".into(),
                        Value::Object(
                            o.metrics
                                .iter()
                                .map(|(k, x)| (k.to_string(), json!(round(*x, 4))))
                                .collect(),
                        ),
                    );
                    v.insert("detail".into(), Value::Object(o.detail.clone()));
                    Value::Object(v)
                })
                .collect();
            r.insert("rounds".into(), json!(rounds));
            results.insert(s.key().into(), Value::Object(r));
        }
        // Every measured setup over OVS and over the bare veth, and grebe over kernel VXLAN.
        let mut ratios = serde_json::Map::new();
        let pairs = self.measured().flat_map(|n| {
            self.measured()
                .filter(move |d| {
                    *d != n
                        && (matches!(d, Setup::Ovs | Setup::Veth)
                            || (n, *d) == (Setup::Grebe, Setup::Vxlan))
                })
                .map(move |d| (n, d))
        });
        for (n, d) in pairs {
            let per_metric: serde_json::Map<String, Value> = METRICS
                .iter()
                .filter_map(|m| {
                    self.ratio(n, d, m.key)
                        .map(|r| (m.key.to_string(), json!(round(r, 4))))
                })
                .collect();
            ratios.insert(
                format!("{}/{}", n.key(), d.key()),
                Value::Object(per_metric),
            );
        }
        json!({
            "grebe_version": env!("CARGO_PKG_VERSION"),
            "build": if self.debug_build { "debug" } else { "release" },
            "date": self.date,
            "kernel": self.kernel,
            "cpus": self.cpus,
            "load_average_at_start": self.load_at_start,
            "rounds": self.plan.rounds,
            "round_order": "the setups in order in odd rounds, reversed in even ones",
            "duration_s": self.plan.duration,
            "pings": self.plan.pings,
            "ping_interval_s": self.plan.ping_interval.parse::<f64>().ok(),
            "small_frame_bytes": SMALL_FRAME,
            "udp_payload_bytes": UDP_PAYLOAD,
            "wall_s": round(self.wall_s, 1),
            "chart": chart.display().to_string(),
            "metrics": METRICS.iter().map(|m| json!({
                "key": m.key,
                "title": m.title,
                "unit": m.unit,
                "better": if m.higher_is_better { "higher" } else { "lower" },
            })).collect::<Vec<_>>(),
            "results": results,
            "ratios": ratios,
        })
    }

    /// Horizontal bars, one group per metric, one bar per setup.
    fn svg(&self) -> String {
        const WIDTH: f64 = 840.0;
        const LABEL: f64 = 90.0;
        const BAR_MAX: f64 = 520.0;
        const BAR_H: f64 = 16.0;
        const ROW: f64 = 20.0;
        let setups: Vec<Setup> = self.results.keys().copied().collect();
        let group_h = 28.0 + ROW * setups.len() as f64 + 14.0;
        let top = 80.0;
        let height = top + group_h * METRICS.len() as f64 + 10.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
        let title: Vec<&str> = setups.iter().map(|s| s.label()).collect();
        let _ = writeln!(
            s,
            r#"<text x="10" y="24" font-size="17" font-weight="bold">grebe bench: {}</text>"#,
            title.join(" vs ")
        );
        let [h1, h2] = self.heading();
        for (y, line) in [(42, h1), (56, h2)] {
            let _ = writeln!(
                s,
                r##"<text x="10" y="{y}" font-size="11" fill="#444">{}</text>"##,
                xml_escape(&line)
            );
        }
        if self.debug_build {
            let _ = writeln!(
                s,
                r##"<text x="10" y="70" font-size="12" fill="#c00000" font-weight="bold">DEBUG BUILD: numbers are meaningless</text>"##
            );
        }
        for (i, m) in METRICS.iter().enumerate() {
            let y0 = top + group_h * i as f64;
            let better = if m.higher_is_better {
                "higher is better"
            } else {
                "lower is better"
            };
            let _ = writeln!(
                s,
                r##"<text x="10" y="{:.1}" font-size="13" font-weight="bold">{} <tspan font-weight="normal" fill="#555">({}, {better})</tspan></text>"##,
                y0 + 16.0,
                xml_escape(m.title),
                xml_escape(m.unit)
            );
            // Ranges show only where there are rounds to range over.
            let show_range = m.spread && self.plan.rounds > 1;
            let max = setups
                .iter()
                .filter_map(|s| self.spread(*s, m.key))
                .map(|sp| if show_range { sp.max } else { sp.median })
                .fold(0.0, f64::max);
            for (j, setup) in setups.iter().enumerate() {
                let y = y0 + 28.0 + ROW * j as f64;
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                    LABEL - 6.0,
                    y + BAR_H - 4.0,
                    setup.label()
                );
                let Some(sp) = self.spread(*setup, m.key) else {
                    let why = match self.results.get(setup) {
                        Some(r) if r.skipped.is_some() => "not measured (OVS not installed)",
                        Some(r) if r.failed_rounds().next().is_some() => "failed",
                        _ if matches!(setup, Setup::Vxlan | Setup::Veth) => "in the kernel",
                        _ => "not measured",
                    };
                    let _ = writeln!(
                        s,
                        r##"<text x="{LABEL}" y="{:.1}" fill="#888" font-style="italic">{why}</text>"##,
                        y + BAR_H - 4.0
                    );
                    continue;
                };
                let v = sp.median;
                let scale = |x: f64| if max > 0.0 { x / max * BAR_MAX } else { 0.0 };
                let w = scale(v);
                let _ = writeln!(
                    s,
                    r#"<rect x="{LABEL}" y="{y:.1}" width="{w:.1}" height="{BAR_H}" fill="{}"/>"#,
                    setup.color()
                );
                // The range over the rounds: a whisker from min to max across the bar, dark
                // on a white edge so that it shows on dark bars too.
                let mut text_x = LABEL + w + 5.0;
                let mut range = String::new();
                if show_range && sp.rounds > 1 {
                    let (x0, x1) = (LABEL + scale(sp.min), LABEL + scale(sp.max));
                    let (mid, top, bottom) = (y + BAR_H / 2.0, y + 3.0, y + BAR_H - 3.0);
                    let d = format!(
                        "M{x0:.1},{mid:.1}H{x1:.1}M{x0:.1},{top:.1}V{bottom:.1}M{x1:.1},{top:.1}V{bottom:.1}"
                    );
                    let _ = writeln!(
                        s,
                        r##"<path d="{d}" stroke="#ffffff" stroke-width="3.2" fill="none"/><path d="{d}" stroke="#222222" stroke-width="1.2" fill="none"/>"##
                    );
                    text_x = text_x.max(x1 + 5.0);
                    range = format!(" ({})", range_cell(sp, m.decimals, self.plan.rounds));
                }
                // grebe's bars also say how it compares with OVS and the bare veth.
                let mut notes = Vec::new();
                if matches!(setup, Setup::Grebe | Setup::GrebeLarge) {
                    for base in [Setup::Ovs, Setup::Veth] {
                        if let Some(r) = self.ratio(*setup, base, m.key) {
                            notes.push(format!("{r:.2}× {}", base.label()));
                        }
                    }
                }
                let note = if notes.is_empty() {
                    String::new()
                } else {
                    format!(
                        r##"<tspan dx="10" fill="#555">{}</tspan>"##,
                        notes.join(" · ")
                    )
                };
                let _ = writeln!(
                    s,
                    r#"<text x="{text_x:.1}" y="{:.1}">{v:.*}{range}{note}</text>"#,
                    y + BAR_H - 4.0,
                    m.decimals
                );
            }
        }
        s.push_str("</svg>\n");
        s
    }
}

/// "2.61–3.02", with "(n=2)" when fewer than `rounds` rounds gave the figure.
fn range_cell(sp: Spread, decimals: usize, rounds: usize) -> String {
    let mut cell = if sp.rounds > 1 {
        format!("{:.*}–{:.*}", decimals, sp.min, decimals, sp.max)
    } else {
        format!("{:.*}", decimals, sp.min)
    };
    if sp.rounds < rounds {
        let _ = write!(cell, " (n={})", sp.rounds);
    }
    cell
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Open vSwitch as the comparison switch, run by [`crate::ovs_peer`].
mod ovs {
    use super::*;
    use crate::ovs_peer;

    /// The inner MTU of OVS's internal ports in this comparison (../shared/ovs-peer.md).
    const INNER_MTU: &str = "1458";

    pub fn available() -> bool {
        ovs_peer::ovs_available()
    }

    pub fn build(
        lab: &Lab,
        host: &str,
        transport: &str,
        overlay: &str,
        remote: &str,
    ) -> anyhow::Result<()> {
        ovs_peer::start_ovs(lab, host)?;
        ovs_peer::configure_ovs_seed(lab, host, transport, overlay, &[remote], &[])?;
        let mtu = format!("mtu_request={INNER_MTU}");
        let out = ovs_peer::ovs_vsctl(lab, host, &["set", "interface", "mgmt0", &mtu])?;
        if !out.status.success() {
            bail!(
                "ovs-vsctl set interface mgmt0 {mtu} on {host}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let actual = lab.sh(host, &["cat", "/sys/class/net/mgmt0/mtu"])?;
        let actual = String::from_utf8_lossy(&actual.stdout);
        if actual.trim() != INNER_MTU {
            bail!(
                "OVS's mgmt0 on {host} has MTU {}, not {INNER_MTU}",
                actual.trim()
            );
        }
        Ok(())
    }

    /// (name, pid) of the host's ovs-vswitchd and ovsdb-server, from their pidfiles.
    pub fn processes(lab: &Lab, host: &str) -> anyhow::Result<Vec<(String, u32)>> {
        let dir = ovs_peer::ovs_dir(lab, host);
        ["ovs-vswitchd", "ovsdb-server"]
            .into_iter()
            .map(|name| {
                let file = dir.join(format!("{name}.pid"));
                let pid = fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
                    .trim()
                    .parse()
                    .with_context(|| format!("{} holds no pid", file.display()))?;
                Ok((name.to_owned(), pid))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=200).rev().map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 100.0);
        assert_eq!(percentile(&v, 99.0), 198.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
    }

    #[test]
    fn ping_lines_give_times() {
        let text = "PING 198.51.100.2 (198.51.100.2) 56(84) bytes of data.\n\
                    64 bytes from 198.51.100.2: icmp_seq=1 ttl=64 time=0.051 ms\n\
                    64 bytes from 198.51.100.2: icmp_seq=2 ttl=64 time=1.20 ms\n\
                    \n--- 198.51.100.2 ping statistics ---\n\
                    rtt min/avg/max/mdev = 0.051/0.625/1.200/0.574 ms\n";
        assert_eq!(parse_ping(text), vec![0.051, 1.2]);
    }

    fn outcome(metrics: &[(&'static str, f64)], error: Option<&str>) -> Outcome {
        Outcome {
            metrics: metrics.iter().copied().collect(),
            error: error.map(str::to_owned),
            ..Outcome::default()
        }
    }

    #[test]
    fn spread_of_an_odd_count_is_the_middle_value() {
        let sp = Spread::of(&[3.02, 2.61, 2.83]).unwrap();
        assert_eq!(
            sp,
            Spread {
                median: 2.83,
                min: 2.61,
                max: 3.02,
                rounds: 3
            }
        );
    }

    #[test]
    fn spread_of_an_even_count_averages_the_middle_two() {
        let sp = Spread::of(&[4.0, 1.0, 10.0, 2.0]).unwrap();
        assert_eq!(sp.median, 3.0);
        assert_eq!((sp.min, sp.max, sp.rounds), (1.0, 10.0, 4));
        assert_eq!(Spread::of(&[5.0, 7.0]).unwrap().median, 6.0);
    }

    #[test]
    fn spread_of_one_value_or_none() {
        let sp = Spread::of(&[0.84]).unwrap();
        assert_eq!(
            (sp.median, sp.min, sp.max, sp.rounds),
            (0.84, 0.84, 0.84, 1)
        );
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn rounds_alternate_order() {
        let setups = [Setup::Grebe, Setup::Ovs, Setup::Veth];
        assert_eq!(round_order(&setups, 0), setups.to_vec());
        assert_eq!(
            round_order(&setups, 1),
            vec![Setup::Veth, Setup::Ovs, Setup::Grebe]
        );
        assert_eq!(round_order(&setups, 2), setups.to_vec());
    }

    #[test]
    fn failed_rounds_are_left_out_when_others_succeeded() {
        let rounds = [
            outcome(&[("tcp1_gbps", 2.0), ("rss_mb", 5.0)], None),
            // Failed part-way: its one figure is an outlier that must not count.
            outcome(&[("tcp1_gbps", 0.1)], Some("tcp4: iperf3 exited")),
            outcome(&[("tcp1_gbps", 3.0), ("rss_mb", 6.0)], None),
        ];
        let counted = counted_rounds(&rounds);
        assert_eq!(counted.len(), 2);
        let summary = summarize(&counted);
        let tcp1 = summary["tcp1_gbps"];
        assert_eq!(
            (tcp1.median, tcp1.min, tcp1.max, tcp1.rounds),
            (2.5, 2.0, 3.0, 2)
        );
        assert_eq!(summary["rss_mb"].median, 5.5);
        assert!(!summary.contains_key("tcp4_gbps"));
    }

    #[test]
    fn when_every_round_failed_their_partial_figures_count() {
        let rounds = [
            outcome(&[("tcp1_gbps", 2.0)], Some("udp64: no JSON")),
            outcome(&[], Some("the hosts cannot reach each other")),
            outcome(&[("tcp1_gbps", 4.0), ("rtt_p99_us", 300.0)], Some("ping")),
        ];
        let counted = counted_rounds(&rounds);
        assert_eq!(counted.len(), 3);
        let summary = summarize(&counted);
        assert_eq!(summary["tcp1_gbps"].median, 3.0);
        assert_eq!(summary["tcp1_gbps"].rounds, 2);
        assert_eq!(summary["rtt_p99_us"].rounds, 1);
    }

    #[test]
    fn range_cells_name_short_counts() {
        let sp = Spread::of(&[2.61, 3.02, 2.83]).unwrap();
        assert_eq!(range_cell(sp, 2, 3), "2.61–3.02");
        let sp = Spread::of(&[2.61, 3.02]).unwrap();
        assert_eq!(range_cell(sp, 1, 3), "2.6–3.0 (n=2)");
        let sp = Spread::of(&[60.25]).unwrap();
        assert_eq!(range_cell(sp, 1, 3), "60.2 (n=1)");
    }

    #[test]
    fn the_table_shows_medians_ranges_and_ratios_of_medians() {
        let plan = Plan {
            setups: vec![Setup::Grebe, Setup::Ovs],
            rounds: 3,
            duration: 2,
            pings: 100,
            ping_interval: "0.005",
        };
        let grebe = [2.0, 3.0, 2.5].map(|v| outcome(&[("tcp1_gbps", v)], None));
        let ovs = [
            outcome(&[("tcp1_gbps", 1.0)], None),
            outcome(&[], Some("OVS's mgmt0 on b has MTU 1500, not 1458")),
            outcome(&[("tcp1_gbps", 0.5)], None),
        ];
        let results: BTreeMap<Setup, SetupResult> = [
            (Setup::Grebe, SetupResult::new(None, grebe.into())),
            (Setup::Ovs, SetupResult::new(None, ovs.into())),
        ]
        .into();
        let report = Report {
            plan: &plan,
            results: &results,
            debug_build: false,
            date: "2026-11-27 08:00 UTC".into(),
            kernel: "6.18".into(),
            cpus: 2,
            load_at_start: "1.00 1.00 1.00".into(),
            wall_s: 60.0,
        };
        // grebe's median 2.5 over OVS's median of its two good rounds, 0.75.
        assert_eq!(
            report.ratio(Setup::Grebe, Setup::Ovs, "tcp1_gbps"),
            Some(2.5 / 0.75)
        );
        let table = report.table();
        assert!(table.contains("3 rounds"), "{table}");
        let row = |title: &str| {
            table
                .lines()
                .find(|l| l.starts_with(&format!("| {title}")))
                .unwrap_or_else(|| panic!("no row {title:?} in\n{table}"))
                .split('|')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(row("TCP, 1 stream")[1..], ["2.50", "0.75", "3.33×"]);
        assert_eq!(
            row("  min–max over 3 rounds")[1..],
            ["2.00–3.00", "0.50–1.00 (n=2)"]
        );
        assert!(
            table.contains("OVS: round 2 FAILED: OVS's mgmt0"),
            "{table}"
        );
        assert!(
            table.contains("OVS: figures from the 2 of 3 rounds"),
            "{table}"
        );
        assert!(table.contains("A range marked (n=2)"), "{table}");
        let json = report.json(Path::new("chart.svg"));
        assert_eq!(json["rounds"], 3);
        assert_eq!(json["results"]["ovs"]["status"], "partly failed");
        assert_eq!(json["results"]["ovs"]["metrics"]["tcp1_gbps"], 0.75);
        assert_eq!(
            json["results"]["grebe"]["rounds"][1]["metrics"]["tcp1_gbps"],
            3.0
        );
        assert_eq!(json["results"]["ovs"]["rounds"][1]["status"], "failed");
        assert_eq!(json["results"]["ovs"]["spread"]["tcp1_gbps"]["rounds"], 2);
        assert!(report.svg().contains("2.50 (2.00–3.00)"));
    }

    #[test]
    fn dates_are_civil() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(utc_date(t), "2024-02-29 12:34 UTC");
    }
}
