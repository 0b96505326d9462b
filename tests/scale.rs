//! Many tunnels on one bridge: a flood to a thousand tunnels whose remotes never answer ARP must
//! not stall the loop for the one real peer. Transport 192.0.2.0/24 (a 192.0.2.1, b 192.0.2.2;
//! the extra remotes are addresses no namespace owns), overlay 198.51.100.0/24.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

const WAIT: Duration = Duration::from_secs(10);
/// Extra tunnels on host a: 200 unresolved remotes with 5 keys each. Few remotes keep the
/// kernel's neighbour table (shared by every namespace of the machine) far from its limits.
const EXTRA: usize = 1000;
const KEYS: usize = 5;
/// 500 broadcasts at 100 a second from the overlay address, then how many went.
const BROADCASTS: &str = "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
start = time.monotonic()
sent = 0
for i in range(500):
    time.sleep(max(0.0, start + i / 100 - time.monotonic()))
    try:
        s.sendto(b'grebe scale test', ('198.51.100.255', 9))
        sent += 1
    except OSError:
        pass
print(f'{sent} broadcasts sent in {time.monotonic() - start:.2f} s')
";

/// One `--`-chained vsctl line adding `n` tunnels t0.. to unresolved remotes 192.0.2.10...
fn extra_tunnels(n: usize) -> Vec<String> {
    let mut args = Vec::new();
    for i in 0..n {
        let name = format!("t{i}");
        args.extend([
            "--".to_owned(),
            "add-port".to_owned(),
            "br-int".to_owned(),
            name.clone(),
            "--".to_owned(),
            "set".to_owned(),
            "interface".to_owned(),
            name,
            "type=gre".to_owned(),
            format!("options:remote_ip=192.0.2.{}", 10 + i / KEYS),
            format!("options:key={}", 1 + i % KEYS),
        ]);
    }
    args
}

#[test]
fn a_flood_to_a_thousand_unresolved_tunnels_does_not_starve_the_real_peer() {
    let Some(lab) = lab("scale") else { return };
    two_hosts(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();

    let args = extra_tunnels(EXTRA);
    let started = Instant::now();
    lab.vsctl_ok("a", &lab::netns::argv(&args)).unwrap();
    eprintln!(
        "{EXTRA} tunnels in one chained vsctl: {:?}",
        started.elapsed()
    );
    let ports = lab.vsctl_ok("a", &["list-ports", "br-int"]).unwrap();
    assert_eq!(
        ports.lines().count(),
        EXTRA + 2,
        "mgmt0, gre0 and the extra tunnels"
    );

    // b pings a all along: a's gre0 must keep receiving its packets through the burst.
    let from_b = lab
        .command("b", "ping")
        .args([
            "-i",
            "0.1",
            "-c",
            "100",
            "-W",
            "1",
            "-q",
            "-n",
            "198.51.100.1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // 5 s of broadcasts at 100/s from a's mgmt0 (UDP to the discard port: a steady rate that
    // ping's own pacing does not give): every one floods to all 1,001 tunnels.
    let mut burst = lab
        .command("a", "python3")
        .args(["-c", BROADCASTS])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut rx = port_counter(&lab, "a", "gre0", "rx_packets");
    let burst_start = Instant::now();
    let mut seconds = 0;
    while burst.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_secs(1));
        let asked = Instant::now();
        let now = port_counter(&lab, "a", "gre0", "rx_packets");
        seconds += 1;
        eprintln!(
            "second {seconds}: rx_packets {now}, dpif/show took {:?}",
            asked.elapsed()
        );
        assert!(
            now > rx,
            "a's gre0 received nothing from b in second {seconds} of the burst (rx_packets {now})"
        );
        rx = now;
        assert!(
            burst_start.elapsed() < Duration::from_secs(9),
            "the broadcast burst of 5 s has not ended after 9 s"
        );
    }
    let burst = burst.wait_with_output().unwrap();
    assert!(
        burst.status.success(),
        "the broadcasts failed: {}",
        String::from_utf8_lossy(&burst.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&burst.stdout).trim());

    // After the burst: the real peer answers at once.
    let out = lab
        .command("a", "ping")
        .args(["-c", "1", "-W", "1", "-q", "-n", "198.51.100.2"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "no answer from b within 1 s after the burst: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::thread::sleep(Duration::from_secs(1));
    let after = port_counter(&lab, "a", "gre0", "rx_packets");
    assert!(after > rx, "a's gre0 stopped receiving after the burst");
    let pings = from_b.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&pings.stdout);
    let received: u32 = summary
        .split(", ")
        .find_map(|f| f.strip_suffix(" received")?.parse().ok())
        .unwrap_or_else(|| panic!("no ping summary from b: {summary}"));
    assert!(
        received >= 90,
        "b's pings to a through the burst: {received} of 100 answered\n{summary}"
    );
    // The flood to the unresolved remotes was not sent, and counted (on their ports too).
    assert!(drops(&lab, "a", "unresolved") > 0);
    assert!(port_counter(&lab, "a", "t0", "tx_dropped") > 0);
}

/// The daemon's resident memory in KiB (`VmRSS`).
fn daemon_rss_kib(lab: &lab::netns::Lab, host: &str) -> u64 {
    let pidfile = lab.rundir(host).join(daemon::control::PIDFILE_NAME);
    let pid = std::fs::read_to_string(pidfile).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in {status}"))
}

/// Tunnels t{from}..t{to}, `keys` tunnels per remote, from 192.0.2.10 on.
fn tunnel_args(range: std::ops::Range<usize>, keys: usize) -> Vec<Vec<String>> {
    range
        .map(|i| {
            let name = format!("t{i}");
            vec![
                "add-port".to_owned(),
                "br-int".to_owned(),
                name.clone(),
                "--".to_owned(),
                "set".to_owned(),
                "interface".to_owned(),
                name,
                "type=gre".to_owned(),
                format!("options:remote_ip=192.0.2.{}", 10 + i / keys),
                format!("options:key={}", 1 + i % keys),
            ]
        })
        .collect()
}

/// One `--`-chained vsctl line of many commands.
fn chained(commands: &[Vec<String>]) -> Vec<String> {
    commands
        .iter()
        .flat_map(|c| std::iter::once("--".to_owned()).chain(c.iter().cloned()))
        .collect()
}

/// The README's scale figures: configuration time (one chained vsctl, and one vsctl per
/// tunnel) and the daemon's memory per tunnel. Run with
/// `cargo test --release --test scale -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check: run it for the README's figures"]
fn configuration_time_and_memory_per_tunnel() {
    let Some(lab) = lab("scalem") else { return };
    lab.add_switch("wan").unwrap();
    lab.add_host("a", "wan", "192.0.2.1/24").unwrap();
    lab.start_daemon("a").unwrap();
    lab.configure_seed("a", "198.51.100.1/24", &[]).unwrap();
    // 50 keys per remote: 10,000 tunnels need only 200 remotes of 192.0.2.0/24.
    const KEYS: usize = 50;
    std::thread::sleep(Duration::from_secs(2));
    let rss0 = daemon_rss_kib(&lab, "a");
    eprintln!("no tunnels: VmRSS {rss0} KiB");

    let add = tunnel_args(0..1000, KEYS);
    let started = Instant::now();
    lab.vsctl_ok("a", &lab::netns::argv(&chained(&add)))
        .unwrap();
    eprintln!("1,000 tunnels, one chained vsctl: {:?}", started.elapsed());
    std::thread::sleep(Duration::from_secs(2));
    let rss1k = daemon_rss_kib(&lab, "a");
    eprintln!(
        "1,000 tunnels: VmRSS {rss1k} KiB, {:.0} bytes per tunnel",
        (rss1k - rss0) as f64 * 1024.0 / 1000.0
    );

    let del: Vec<Vec<String>> = (0..1000)
        .map(|i| vec!["del-port".to_owned(), format!("t{i}")])
        .collect();
    let started = Instant::now();
    lab.vsctl_ok("a", &lab::netns::argv(&chained(&del)))
        .unwrap();
    eprintln!(
        "1,000 tunnels deleted, one chained vsctl: {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    for c in &add {
        lab.vsctl_ok("a", &lab::netns::argv(c)).unwrap();
    }
    eprintln!(
        "1,000 tunnels, 1,000 separate vsctl: {:?}",
        started.elapsed()
    );

    std::thread::sleep(Duration::from_secs(2));
    let rss1k = daemon_rss_kib(&lab, "a");
    // A request is limited to 1 MiB (about 9,000 tunnels): 1,000 per chained vsctl.
    for chunk in 1..10 {
        let more = tunnel_args(chunk * 1000..(chunk + 1) * 1000, KEYS);
        let started = Instant::now();
        lab.vsctl_ok("a", &lab::netns::argv(&chained(&more)))
            .unwrap();
        eprintln!(
            "tunnels {}..{}, one chained vsctl: {:?}",
            chunk * 1000,
            (chunk + 1) * 1000,
            started.elapsed()
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    let rss10k = daemon_rss_kib(&lab, "a");
    eprintln!(
        "10,000 tunnels: VmRSS {rss10k} KiB, {:.0} bytes per tunnel from 0, {:.0} from 1,000",
        (rss10k - rss0) as f64 * 1024.0 / 10_000.0,
        (rss10k - rss1k) as f64 * 1024.0 / 9_000.0
    );
    // Restarted, the daemon restores the 10,000 from its db: what it holds, without what the
    // allocator kept from the requests that made them.
    lab.stop_daemon("a", false).unwrap();
    let started = Instant::now();
    lab.start_daemon("a").unwrap();
    eprintln!("restart with 10,000 tunnels: {:?}", started.elapsed());
    std::thread::sleep(Duration::from_secs(3));
    let restored = daemon_rss_kib(&lab, "a");
    eprintln!(
        "10,000 tunnels restored: VmRSS {restored} KiB, {:.0} bytes per tunnel",
        (restored.saturating_sub(rss0)) as f64 * 1024.0 / 10_000.0
    );
    let started = Instant::now();
    let ports = lab.vsctl_ok("a", &["list-ports", "br-int"]).unwrap();
    assert_eq!(ports.lines().count(), 10_001, "mgmt0 and 10,000 tunnels");
    eprintln!("list-ports with 10,000 tunnels: {:?}", started.elapsed());
    let started = Instant::now();
    dpif(&lab, "a");
    eprintln!("dpif/show with 10,000 tunnels: {:?}", started.elapsed());
}
