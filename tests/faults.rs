//! Faults under the daemon (issue 14): what is done to its ports and its peer from outside,
//! and how long traffic takes to come back by itself. Needs root. The README's "Faults" table
//! is these tests' output (`-- --nocapture`).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::{dpif, lab, port_counter, two_hosts};
use lab::netns::Lab;

const WAIT: Duration = Duration::from_secs(10);
/// How long traffic may take to come back after a fault before the test calls it lost. Not a
/// speed target: each test prints what it measured.
const RECOVERY: Duration = Duration::from_secs(20);

/// A ping that runs through a fault, 20 a second, each reply stamped with its wall-clock time
/// (`ping -D`), so when traffic came back is read off afterwards instead of sampled by
/// one-shot pings with their own timeouts.
struct PingClock {
    child: Child,
    replies: Arc<Mutex<Vec<SystemTime>>>,
}

impl PingClock {
    fn start(lab: &Lab, host: &str, dst: &str) -> PingClock {
        let mut child = lab
            .command(host, "ping")
            .args(["-D", "-n", "-i", "0.05", dst])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let replies = Arc::new(Mutex::new(Vec::new()));
        let sink = replies.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // "[1764831234.123456] 64 bytes from 198.51.100.2: icmp_seq=1 ttl=64 time=0.3 ms"
                let Some(stamp) = line
                    .strip_prefix('[')
                    .and_then(|l| l.split_once(']'))
                    .filter(|(_, rest)| rest.contains("bytes from"))
                    .and_then(|(t, _)| t.parse::<f64>().ok())
                else {
                    continue;
                };
                let at = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(stamp);
                sink.lock().unwrap().push(at);
            }
        });
        PingClock { child, replies }
    }

    fn replies_after(&self, t: SystemTime) -> usize {
        self.replies
            .lock()
            .unwrap()
            .iter()
            .filter(|&&r| r > t)
            .count()
    }

    /// Waits for the first reply after `t` and returns how long after `t` it came.
    fn recovery_after(&self, t: SystemTime, what: &str) -> Duration {
        let deadline = Instant::now() + RECOVERY;
        loop {
            let first = self
                .replies
                .lock()
                .unwrap()
                .iter()
                .copied()
                .find(|&r| r > t);
            if let Some(r) = first {
                let took = r.duration_since(t).unwrap_or_default();
                eprintln!("recovery: {what}: traffic back after {took:.2?}");
                return took;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: no reply within {RECOVERY:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PingClock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until pings from `host` stop being answered: the fault really cut the traffic.
fn wait_cut(clock: &PingClock, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = SystemTime::now();
        std::thread::sleep(Duration::from_millis(500));
        if clock.replies_after(now) == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{what} did not stop the traffic");
    }
}

fn loop_iterations(lab: &Lab, host: &str) -> u64 {
    dpif(lab, host)["loops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["iterations"].as_u64().unwrap())
        .sum()
}

fn sysfs(lab: &Lab, host: &str, path: &str) -> Option<String> {
    let out = lab.sh(host, &["cat", path]).ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
fn a_deleted_internal_port_is_made_again_and_nothing_else_stops() {
    let Some(lab) = lab("delmgmt") else { return };
    two_hosts(&lab);
    let veth = lab.add_container("a", "ct", "198.51.100.11/24").unwrap();
    lab.vsctl_ok("a", &["add-port", "br-int", &veth]).unwrap();
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    lab.wait_ping("ct", "198.51.100.2", WAIT).unwrap();
    let mtu = sysfs(&lab, "a", "/sys/class/net/mgmt0/mtu").unwrap();
    assert_eq!(mtu, "1462", "the automatic MTU before the fault");

    lab.sh("a", &["ip", "link", "del", "mgmt0"]).unwrap();
    let deleted = Instant::now();
    // The device comes back at once, with grebe's MTU again (the control side sets it within
    // a second), and the port counts what happened.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let back = sysfs(&lab, "a", "/sys/class/net/mgmt0/mtu");
        if back.as_deref() == Some("1462") {
            eprintln!(
                "mgmt0 back with its MTU {:?} after the delete",
                deleted.elapsed()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "mgmt0 not made again with MTU 1462 (now {back:?})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(port_counter(&lab, "a", "mgmt0", "recreated"), 1);
    let text = lab.appctl("a", &["dpif/show"]).unwrap();
    assert!(
        text.contains("device deleted under the daemon and made again 1 times"),
        "{text}"
    );

    // The loop does not spin on the dead descriptor: over a second it turns for the traffic
    // there is (a few pings), not hundreds of thousands of times.
    let before = loop_iterations(&lab, "a");
    lab.ping("ct", "198.51.100.2", 3).unwrap();
    let turns = loop_iterations(&lab, "a") - before;
    assert!(turns < 10_000, "{turns} loop turns for three pings");

    // Nothing else stopped: the container reached b throughout (above). The new mgmt0 has no
    // address (the kernel's went with the old device); given one, the host talks again.
    lab.sh(
        "a",
        &["ip", "addr", "add", "198.51.100.1/24", "dev", "mgmt0"],
    )
    .unwrap();
    lab.sh("a", &["ip", "link", "set", "mgmt0", "up"]).unwrap();
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    lab.ping("b", "198.51.100.1", 3).unwrap();
    lab.ping("ct", "198.51.100.1", 3).unwrap();
}

#[test]
fn the_remote_daemon_killed_and_started_again_is_recovered_from() {
    let Some(lab) = lab("fpeer") else { return };
    two_hosts(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    let clock = PingClock::start(&lab, "a", "198.51.100.2");
    lab.stop_daemon("b", true).unwrap();
    wait_cut(&clock, "killing b's daemon");
    let started = SystemTime::now();
    lab.start_daemon("b").unwrap();
    clock.recovery_after(started, "remote daemon killed (-9) and started again");
}

#[test]
fn the_transport_link_down_and_up_is_recovered_from() {
    let Some(lab) = lab("flink") else { return };
    two_hosts(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    let clock = PingClock::start(&lab, "a", "198.51.100.2");
    lab.sh("a", &["ip", "link", "set", "eth0", "down"]).unwrap();
    wait_cut(&clock, "the transport link down");
    std::thread::sleep(Duration::from_secs(1));
    let up = SystemTime::now();
    lab.sh("a", &["ip", "link", "set", "eth0", "up"]).unwrap();
    clock.recovery_after(up, "transport link down for 2 s, then up");
    // The daemon saw it all through: both ends still count traffic on their tunnels.
    assert!(port_counter(&lab, "b", "gre0", "rx_packets") > 0);
}

#[test]
fn a_remote_whose_mac_changes_is_followed() {
    let Some(lab) = lab("fmac") else { return };
    two_hosts(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    let clock = PingClock::start(&lab, "a", "198.51.100.2");
    std::thread::sleep(Duration::from_millis(300));
    let changed = SystemTime::now();
    lab.sh(
        "b",
        &["ip", "link", "set", "eth0", "address", "02:00:5e:00:0b:0b"],
    )
    .unwrap();
    clock.recovery_after(changed, "remote's transport MAC changed");
    // Not by luck of timing: a's neighbour entry for b now holds the new address.
    let neigh = lab
        .sh("a", &["ip", "neigh", "show", "192.0.2.2", "dev", "eth0"])
        .unwrap();
    let neigh = String::from_utf8_lossy(&neigh.stdout).into_owned();
    assert!(neigh.contains("02:00:5e:00:0b:0b"), "{neigh}");
}

/// a and b with two transport paths each (`wan`: 192.0.2.0/26, `wan2`: 192.0.2.64/26) and
/// their tunnel ends on the loopback device (192.0.2.129 and .130), reached by a host route through
/// `wan`: the route can move to the other path without the ends' addresses changing.
fn two_paths(lab: &Lab) {
    use lab::netns::ip;
    lab.add_switch("wan").unwrap();
    lab.add_switch("wan2").unwrap();
    lab.add_host("a", "wan", "192.0.2.1/26").unwrap();
    lab.add_host("b", "wan", "192.0.2.2/26").unwrap();
    let ends = [
        ("a", "192.0.2.65/26", "192.0.2.129"),
        ("b", "192.0.2.66/26", "192.0.2.130"),
    ];
    for (host, second, end) in ends {
        let ns = lab.netns(host);
        let sw = lab.netns("wan2");
        let port = format!("to2-{host}");
        ip(&[
            "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth1", "netns", &ns,
        ])
        .unwrap();
        ip(&["-n", &sw, "link", "set", &port, "master", "sw0", "up"]).unwrap();
        ip(&["-n", &ns, "addr", "add", second, "dev", "eth1"]).unwrap();
        ip(&["-n", &ns, "link", "set", "eth1", "up"]).unwrap();
        ip(&["-n", &ns, "addr", "add", &format!("{end}/32"), "dev", "lo"]).unwrap();
    }
    for (host, via, remote, local) in [
        ("a", "192.0.2.2", "192.0.2.130", "192.0.2.129"),
        ("b", "192.0.2.1", "192.0.2.129", "192.0.2.130"),
    ] {
        lab.sh(
            host,
            &["ip", "route", "add", remote, "via", via, "src", local],
        )
        .unwrap();
    }
    lab.start_daemon("a").unwrap();
    lab.start_daemon("b").unwrap();
    lab.configure_seed("a", "198.51.100.1/24", &["192.0.2.130"])
        .unwrap();
    lab.configure_seed("b", "198.51.100.2/24", &["192.0.2.129"])
        .unwrap();
}

#[test]
fn a_route_to_the_remote_moving_to_another_interface_is_followed() {
    let Some(lab) = lab("froute") else { return };
    two_paths(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    let clock = PingClock::start(&lab, "a", "198.51.100.2");
    // The first path fails; then routing moves both hosts' routes to the second one.
    for host in ["a", "b"] {
        lab.sh(host, &["ip", "link", "set", "eth0", "down"])
            .unwrap();
    }
    wait_cut(&clock, "the first path down");
    let moved = SystemTime::now();
    for (host, via, remote, local) in [
        ("a", "192.0.2.66", "192.0.2.130", "192.0.2.129"),
        ("b", "192.0.2.65", "192.0.2.129", "192.0.2.130"),
    ] {
        lab.sh(
            host,
            &["ip", "route", "replace", remote, "via", via, "src", local],
        )
        .unwrap();
    }
    clock.recovery_after(moved, "route to the remote moved to another interface");
    let eth1 = |host: &str| {
        let out = lab
            .sh(host, &["cat", "/sys/class/net/eth1/statistics/tx_packets"])
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    let before = eth1("a");
    lab.ping("a", "198.51.100.2", 5).unwrap();
    assert!(eth1("a") >= before + 5, "the tunnel does not send on eth1");
}

#[test]
fn a_shrinking_transport_mtu_is_followed() {
    let Some(lab) = lab("fmtu") else { return };
    two_hosts(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    let mtu = |host: &str| sysfs(&lab, host, "/sys/class/net/mgmt0/mtu").unwrap();
    assert_eq!(mtu("a"), "1462");
    let shrunk = Instant::now();
    for (ns, dev) in [
        ("a", "eth0"),
        ("b", "eth0"),
        ("wan", "to-a"),
        ("wan", "to-b"),
    ] {
        lab.sh(ns, &["ip", "link", "set", dev, "mtu", "1400"])
            .unwrap();
    }
    // mgmt0 follows the path (1400 − 38 bytes of IPv4, GRE and Ethernet), on both hosts.
    let deadline = Instant::now() + RECOVERY;
    while mtu("a") != "1362" || mtu("b") != "1362" {
        assert!(Instant::now() < deadline, "mgmt0 stayed at {}", mtu("a"));
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "recovery: transport MTU 1500 → 1400: mgmt0 at 1362 after {:.2?}",
        shrunk.elapsed()
    );
    // The largest frame the new path carries crosses, with DF set.
    let big = lab.sh(
        "a",
        &[
            "ping",
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "2",
            "-M",
            "do",
            "-s",
            "1334",
            "198.51.100.2",
        ],
    );
    assert!(big.is_ok(), "a full-size ping does not cross: {big:?}");
}

#[test]
fn a_corrupt_config_file_stops_the_start_and_is_kept_aside_only_when_asked() {
    let Some(lab) = lab("fconf") else { return };
    lab.add_switch("wan").unwrap();
    lab.add_host("a", "wan", "192.0.2.1/24").unwrap();
    std::fs::create_dir_all(lab.rundir("a")).unwrap();
    let db = lab.rundir("a").join("conf.json");
    let torn = b"{\"bridges\": {\"br-int\": {\"ports\": {\"mgmt0\"";
    std::fs::write(&db, torn).unwrap();

    let refused = lab.start_daemon("a").unwrap_err().to_string();
    assert!(
        refused.contains(&db.display().to_string()) && refused.contains("--reset-config"),
        "the refusal names the file and the way out: {refused}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), torn, "the file was touched");

    lab.start_daemon_with("a", &["--reset-config"]).unwrap();
    let aside: Vec<_> = std::fs::read_dir(lab.rundir("a"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("conf.json.bad-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        std::fs::read(&aside[0]).unwrap(),
        torn,
        "kept aside unchanged"
    );
    assert_eq!(lab.vsctl_ok("a", &["list-br"]).unwrap(), "");
    lab.vsctl_ok("a", &["add-br", "br-int"]).unwrap();
    // The fresh file is a good one: the next start needs no flag.
    lab.stop_daemon("a", false).unwrap();
    lab.start_daemon("a").unwrap();
    assert_eq!(lab.vsctl_ok("a", &["list-br"]).unwrap(), "br-int\n");
}

/// kill -9 at several moments of a stream of configuration changes: each time, every change
/// the client saw acknowledged is there after the restart, at most the one in flight is added
/// besides, and the file always loads (it is written, fsynced, renamed, and its directory
/// fsynced, so a kill leaves the old or the new file, never a torn one).
#[test]
fn kill_9_during_config_changes_loses_no_acknowledged_change() {
    let Some(lab) = lab("kill9") else { return };
    lab.add_switch("wan").unwrap();
    lab.add_host("a", "wan", "192.0.2.1/24").unwrap();
    lab.start_daemon("a").unwrap();
    lab.vsctl_ok("a", &["add-br", "br-int"]).unwrap();
    let mut acknowledged = Vec::new();
    for (round, kill_after_ms) in [40u64, 130, 260, 410, 650].into_iter().enumerate() {
        let writer = {
            let lab = lab.clone();
            std::thread::spawn(move || {
                let mut done = Vec::new();
                for i in 0..400usize {
                    let port = format!("k{round}t{i}");
                    let remote = format!("192.0.2.{}", 10 + i % 200);
                    let add = vswitch::seed::tunnel_command(&port, &remote, &[]);
                    match lab.vsctl("a", &lab::netns::argv(&add)) {
                        Ok(out) if out.status.success() => done.push(port),
                        _ => return (done, Some(port)),
                    }
                }
                (done, None)
            })
        };
        std::thread::sleep(Duration::from_millis(kill_after_ms));
        lab.stop_daemon("a", true).unwrap();
        let (done, in_flight) = writer.join().unwrap();
        assert!(
            in_flight.is_some(),
            "round {round}: the kill came after every change"
        );
        acknowledged.extend(done);
        lab.start_daemon("a").unwrap();
        let ports = lab.vsctl_ok("a", &["list-ports", "br-int"]).unwrap();
        let ports: Vec<&str> = ports.lines().collect();
        for port in &acknowledged {
            assert!(
                ports.contains(&port.as_str()),
                "round {round} (kill after {kill_after_ms} ms): {port} was acknowledged and is gone"
            );
        }
        let extra: Vec<_> = ports
            .iter()
            .filter(|p| !acknowledged.iter().any(|a| a == *p))
            .collect();
        assert!(
            extra.len() <= 1 && extra.iter().all(|p| Some(**p) == in_flight.as_deref()),
            "round {round}: ports nobody saw acknowledged: {extra:?}"
        );
        // Keep the set exact for the next round: the in-flight one is now acknowledged too.
        acknowledged.extend(extra.into_iter().map(|p| p.to_string()));
        eprintln!(
            "kill -9 after {kill_after_ms} ms: {} changes acknowledged so far, all there",
            acknowledged.len()
        );
    }
}
