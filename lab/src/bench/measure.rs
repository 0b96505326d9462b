//! Building a setup in the lab and measuring it: iperf3, ping, and the switch processes'
//! memory and CPU time.

use super::*;

/// Waits (3 s at most) until both grebe tunnels send by their Ethernet link, the steady state
/// of a running host (`dpif/show` names the interface once the neighbour is resolved).
pub(super) fn wait_for_links(lab: &Lab) -> anyhow::Result<()> {
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
pub(super) fn measure(
    lab: &Lab,
    setup: Setup,
    plan: &Plan,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let built = Instant::now();
    build(lab, setup)?;
    let ends = setup.ends();
    lab.wait_ping(ends.client, ends.target, Duration::from_secs(15))
        .context("the ends cannot reach each other")?;
    // Fill both ends' ARP and MAC tables before timing anything.
    for (host, dst) in [(ends.client, ends.target), (ends.server, ends.back)] {
        lab.sh(
            host,
            &["ping", "-c", "3", "-i", "0.2", "-W", "2", "-q", "-n", dst],
        )
        .with_context(|| format!("warm-up ping from {host} to {dst}"))?;
    }
    if setup.is_grebe() {
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
    type Step = fn(&Lab, &Ends, &Plan, &mut Outcome) -> anyhow::Result<()>;
    let steps: [(&str, Step); 5] = [
        ("tcp1", measure_tcp1),
        ("tcp4", measure_tcp4),
        ("udp64", measure_small_frames),
        ("udp64_lossless", measure_lossless_rate),
        ("ping", measure_rtt),
    ];
    for (name, step) in steps {
        if name == "udp64_lossless" && !plan.lossless {
            continue;
        }
        if let Err(e) = step(lab, &ends, plan, out) {
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

pub(super) fn measure_tcp1(
    lab: &Lab,
    ends: &Ends,
    plan: &Plan,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let v = iperf(lab, ends, plan.duration, &["-P", "1"])?;
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

pub(super) fn measure_tcp4(
    lab: &Lab,
    ends: &Ends,
    plan: &Plan,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let v = iperf(lab, ends, plan.duration, &["-P", "4"])?;
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
pub(super) fn measure_small_frames(
    lab: &Lab,
    ends: &Ends,
    plan: &Plan,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let payload = UDP_PAYLOAD.to_string();
    let before = udp_counters_of(lab, ends.server)?;
    let v = iperf(lab, ends, plan.duration, &["-u", "-l", &payload, "-b", "0"])?;
    let after = udp_counters_of(lab, ends.server)?;
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
    // What the switch carried: the datagrams that reached the receiver's socket, read or
    // dropped there because the receiving iperf3 fell behind (on two shared cores it does,
    // and then "delivered" measures the receiver, not the switch).
    let carried = after.carried().saturating_sub(before.carried()) as f64 / secs;
    out.metrics.insert("udp64_kfps", delivered / 1e3);
    out.metrics.insert("udp64_carried_kfps", carried / 1e3);
    out.detail.insert(
        "udp64_receiver_overflow_kfps".into(),
        json!(round(
            after.rcvbuf_errors.saturating_sub(before.rcvbuf_errors) as f64 / secs / 1e3,
            1
        )),
    );
    out.metrics.insert("udp64_loss_pct", loss_pct);
    out.detail
        .insert("udp64_offered_kfps".into(), json!(round(offered / 1e3, 1)));
    eprintln!(
        "   {SMALL_FRAME}-byte frames: {:.1} k/s delivered of {:.1} k/s offered ({loss_pct:.1}% lost), \
         {:.1} k/s carried to the receiver",
        delivered / 1e3,
        offered / 1e3,
        carried / 1e3
    );
    Ok(())
}

/// The UDP counters of a namespace that say what reached its sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct UdpCounters {
    pub(super) in_datagrams: u64,
    pub(super) rcvbuf_errors: u64,
}

impl UdpCounters {
    /// Datagrams that reached a socket: read, or dropped because its buffer was full.
    pub(super) fn carried(self) -> u64 {
        self.in_datagrams + self.rcvbuf_errors
    }
}

fn udp_counters_of(lab: &Lab, host: &str) -> anyhow::Result<UdpCounters> {
    let out = lab.sh(host, &["cat", "/proc/net/snmp"])?;
    parse_udp_counters(&String::from_utf8_lossy(&out.stdout))
        .with_context(|| format!("no Udp InDatagrams and RcvbufErrors in {host}'s /proc/net/snmp"))
}

/// The `Udp:` header and value lines of /proc/net/snmp, matched by column name.
pub(super) fn parse_udp_counters(snmp: &str) -> Option<UdpCounters> {
    let mut lines = snmp.lines().filter_map(|l| l.strip_prefix("Udp: "));
    let (names, values) = (lines.next()?, lines.next()?);
    let field = |name: &str| {
        let i = names.split_whitespace().position(|n| n == name)?;
        values.split_whitespace().nth(i)?.parse().ok()
    };
    Some(UdpCounters {
        in_datagrams: field("InDatagrams")?,
        rcvbuf_errors: field("RcvbufErrors")?,
    })
}

/// Round-trip times of many pings, one every few milliseconds on an otherwise idle path.
pub(super) fn measure_rtt(
    lab: &Lab,
    ends: &Ends,
    plan: &Plan,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let rtts = ping_rtts(lab, ends, plan.pings, plan.ping_interval)?;
    if rtts.is_empty() {
        bail!("no ping replies from {}", ends.target);
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
pub(super) fn build(lab: &Lab, setup: Setup) -> anyhow::Result<()> {
    lab.add_host_pair(("a", TRANSPORT_A), ("b", TRANSPORT_B))?;
    match setup {
        Setup::Grebe | Setup::GrebeLarge | Setup::GrebeVeth | Setup::GrebeVethRing => {
            for (host, overlay, remote) in
                [("a", OVERLAY_A, "192.0.2.2"), ("b", OVERLAY_B, "192.0.2.1")]
            {
                lab.start_daemon_with(host, setup.daemon_args())?;
                lab.configure_seed(host, overlay, &[remote])?;
                if setup == Setup::GrebeLarge {
                    lab.vsctl_ok(
                        host,
                        &["set", "interface", "gre0", "options:large_frames=true"],
                    )?;
                }
            }
            if setup.has_grebe_containers() {
                // Containers as they come, MTU 1500 and offloads on: grebe needs no setting.
                for (host, (name, address)) in ["a", "b"].into_iter().zip(CONTAINERS) {
                    let port = lab.add_container(host, name, address)?;
                    lab.vsctl_ok(host, &["add-port", "br-int", &port])?;
                }
            }
        }
        Setup::GrebeIp6gre => {
            for (host, own, overlay, remote) in [
                ("a", "2001:db8::1/64", OVERLAY_A, "2001:db8::2"),
                ("b", "2001:db8::2/64", OVERLAY_B, "2001:db8::1"),
            ] {
                lab.sh(
                    host,
                    &["ip", "-6", "addr", "add", own, "dev", "eth0", "nodad"],
                )?;
                lab.start_daemon(host)?;
                lab.vsctl_ok(host, &["add-br", "br-int"])?;
                lab.vsctl_ok(
                    host,
                    &[
                        "add-port",
                        "br-int",
                        "mgmt0",
                        "--",
                        "set",
                        "interface",
                        "mgmt0",
                        "type=internal",
                    ],
                )?;
                lab.sh(host, &["ip", "addr", "add", overlay, "dev", "mgmt0"])?;
                lab.sh(host, &["ip", "link", "set", "mgmt0", "up"])?;
                let remote = format!("options:remote_ip={remote}");
                lab.vsctl_ok(
                    host,
                    &[
                        "add-port",
                        "br-int",
                        "gre0",
                        "--",
                        "set",
                        "interface",
                        "gre0",
                        "type=ip6gre",
                        &remote,
                    ],
                )?;
            }
        }
        Setup::GrebeFlows => {
            let flows = flows_file(lab)?;
            for (host, overlay, remote) in
                [("a", OVERLAY_A, "192.0.2.2"), ("b", OVERLAY_B, "192.0.2.1")]
            {
                lab.start_daemon(host)?;
                lab.configure_seed(host, overlay, &[remote])?;
                let out = lab
                    .command(host, "ovs-ofctl")
                    .env("OVS_RUNDIR", lab.rundir(host))
                    .args(["add-flows", "br-int"])
                    .arg(&flows)
                    .output()?;
                if !out.status.success() {
                    bail!(
                        "ovs-ofctl add-flows on {host}: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                }
            }
        }
        Setup::OvsFlows => {
            let flows = flows_file(lab)?;
            for (host, transport, overlay, remote) in [
                ("a", TRANSPORT_A, OVERLAY_A, "192.0.2.2"),
                ("b", TRANSPORT_B, OVERLAY_B, "192.0.2.1"),
            ] {
                ovs::build(lab, host, transport, overlay, remote)?;
                ovs::add_flows(lab, host, &flows)?;
            }
        }
        Setup::Ovs | Setup::OvsVeth => {
            for (host, transport, overlay, remote) in [
                ("a", TRANSPORT_A, OVERLAY_A, "192.0.2.2"),
                ("b", TRANSPORT_B, OVERLAY_B, "192.0.2.1"),
            ] {
                ovs::build(lab, host, transport, overlay, remote)?;
            }
            if setup == Setup::OvsVeth {
                for (host, (name, address)) in ["a", "b"].into_iter().zip(CONTAINERS) {
                    ovs::add_container(lab, host, name, address)?;
                }
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

/// 1,000 exact-match drop flows for addresses the measured traffic never uses, above
/// `priority=0 actions=NORMAL`, as an `ovs-ofctl add-flows` file.
fn flows_file(lab: &Lab) -> anyhow::Result<std::path::PathBuf> {
    let path = lab.dir().join("flows.txt");
    let mut text: String = (0..1000)
        .map(|i| {
            format!(
                "priority=100,tcp,nw_dst=203.0.113.{},tp_dst={},actions=drop\n",
                i % 250,
                1000 + i
            )
        })
        .collect();
    text.push_str("priority=0,actions=NORMAL\n");
    fs::create_dir_all(lab.dir())?;
    fs::write(&path, text)?;
    Ok(path)
}

/// A switch process whose memory and CPU time count.
pub(super) struct Proc {
    pub(super) host: &'static str,
    pub(super) name: String,
    pub(super) pid: u32,
}

pub(super) fn switch_processes(lab: &Lab, setup: Setup) -> anyhow::Result<Vec<Proc>> {
    let mut procs = Vec::new();
    match setup {
        Setup::Grebe
        | Setup::GrebeLarge
        | Setup::GrebeVeth
        | Setup::GrebeVethRing
        | Setup::GrebeIp6gre
        | Setup::GrebeFlows => {
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
        Setup::Ovs | Setup::OvsVeth | Setup::OvsFlows => {
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
pub(super) fn cpu_seconds(procs: &[Proc]) -> anyhow::Result<f64> {
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

pub(super) fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// (VmRSS, VmHWM) in kB.
pub(super) fn memory_kb(pid: u32) -> anyhow::Result<(u64, u64)> {
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

/// Runs one iperf3 test from the client end to the target against a fresh one-off server on
/// the server end; returns iperf3's JSON.
pub(super) fn iperf(lab: &Lab, ends: &Ends, secs: u64, args: &[&str]) -> anyhow::Result<Value> {
    let server = IperfServer::start(lab, ends.server)?;
    let limit = (secs + 20).to_string();
    let out = lab
        .command(ends.client, "timeout")
        .args([
            "-k",
            "5",
            &limit,
            "iperf3",
            "-c",
            ends.target,
            "-p",
            IPERF_PORT,
        ])
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

pub(super) fn received_bps(v: &Value) -> anyhow::Result<f64> {
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .context("iperf3's JSON has no end.sum_received.bits_per_second")
}

/// An `iperf3 -s -1` in a host, killed when dropped.
pub(super) struct IperfServer(Child);

impl IperfServer {
    pub(super) fn start(lab: &Lab, host: &str) -> anyhow::Result<IperfServer> {
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
pub(super) fn ping_rtts(
    lab: &Lab,
    ends: &Ends,
    count: u32,
    interval: &str,
) -> anyhow::Result<Vec<f64>> {
    let limit = (f64::from(count) * 0.02 + 15.0).ceil().to_string();
    let out = lab
        .command(ends.client, "timeout")
        .args(["-k", "5", &limit, "ping", "-n", "-W", "1", "-i", interval])
        .args(["-c", &count.to_string(), ends.target])
        .stdin(Stdio::null())
        .output()
        .context("running ping")?;
    Ok(parse_ping(&String::from_utf8_lossy(&out.stdout)))
}

pub(super) fn parse_ping(text: &str) -> Vec<f64> {
    text.lines()
        .filter_map(|l| l.split_once("time=").map(|(_, t)| t))
        .filter_map(|t| t.split_whitespace().next())
        .filter_map(|t| t.parse().ok())
        .collect()
}

/// Nearest-rank percentile of unsorted values.
pub(super) fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

pub(super) fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
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
    fn udp_counters_come_from_the_udp_lines_by_name() {
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 2 64\n\
                    Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n\
                    Udp: 203715 0 254175 1 254170 0\n\
                    UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n\
                    UdpLite: 9 9 9 9 9 9\n";
        let c = parse_udp_counters(snmp).unwrap();
        assert_eq!(
            c,
            UdpCounters {
                in_datagrams: 203_715,
                rcvbuf_errors: 254_170
            }
        );
        assert_eq!(c.carried(), 457_885);
        assert_eq!(parse_udp_counters("Udp: InDatagrams\nUdp: x\n"), None);
        assert_eq!(parse_udp_counters(""), None);
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
}
