//! Resource exhaustion (issue 14): the daemon at its file-descriptor limit, a TAP whose queue
//! fills while the daemon is stopped, and clients and peers that never read. Needs root.

mod common;

use std::time::{Duration, Instant};

use common::{dpif, lab, two_hosts};
use lab::netns::Lab;

const WAIT: Duration = Duration::from_secs(10);

fn daemon_pid(lab: &Lab, host: &str) -> String {
    std::fs::read_to_string(lab.rundir(host).join(daemon::control::PIDFILE_NAME))
        .unwrap()
        .trim()
        .to_owned()
}

/// The lowest descriptor numbers the process has free: a new descriptor takes the lowest, and
/// the limit is on numbers, so a soft limit of `free[k]` leaves exactly `k` to open.
fn free_fds(pid: &str) -> Vec<usize> {
    let used: std::collections::BTreeSet<usize> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    (0..).filter(|fd| !used.contains(fd)).take(2).collect()
}

/// The soft `RLIMIT_NOFILE` of a running process (the hard one stays: it cannot be raised back).
fn set_fd_limit(pid: &str, soft: usize) {
    let out = std::process::Command::new("prlimit")
        .args(["--pid", pid, &format!("--nofile={soft}:")])
        .output()
        .unwrap();
    assert!(out.status.success(), "prlimit: {out:?}");
}

/// Clock ticks the process has spent on a CPU (user + system), from /proc/PID/stat.
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_comm.split(' ').collect();
    // utime and stime are fields 14 and 15 of stat(5); 3 is the first after comm.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// With no descriptor left, a client is told so instead of hanging, a new port is refused and
/// the configuration (in memory and on disk) is what it was, and the daemon does not spin;
/// traffic flows throughout, and once the limit is raised the same command succeeds.
#[test]
fn at_the_file_descriptor_limit_new_work_is_refused_clearly_and_nothing_is_lost() {
    let Some(lab) = lab("lfd") else { return };
    two_hosts(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    let pid = daemon_pid(&lab, "a");
    let conf = lab.rundir("a").join("conf.json");
    let saved = std::fs::read(&conf).unwrap();
    let ports = lab.vsctl_ok("a", &["list-ports", "br-int"]).unwrap();
    let add_p1 = [
        "--timeout=20",
        "add-port",
        "br-int",
        "p1",
        "--",
        "set",
        "interface",
        "p1",
        "type=internal",
    ];
    let free = free_fds(&pid);
    // None left: accept itself fails. The client hears why, at once, and nothing changes.
    set_fd_limit(&pid, free[0]);
    // The accept already waiting took its descriptor before the limit came down (Linux
    // allocates it first): one client still gets in, and the limit holds from the next.
    assert_eq!(lab.vsctl_ok("a", &["list-ports", "br-int"]).unwrap(), ports);
    let ticks = cpu_ticks(&pid);
    let started = Instant::now();
    for args in [&add_p1[..], &["--timeout=20", "show"]] {
        let out = lab.vsctl("a", args).unwrap();
        assert!(!out.status.success(), "{out:?}");
        let why = stderr_of(&out);
        assert!(
            why.contains("out of file descriptors"),
            "the refusal says why: {why}"
        );
    }
    assert_eq!(
        std::fs::read(&conf).unwrap(),
        saved,
        "the saved configuration changed"
    );
    // A daemon that retried accept in a loop would burn a whole core meanwhile.
    std::thread::sleep(Duration::from_secs(1));
    let spent = cpu_ticks(&pid) - ticks;
    let ticks_per_s = 100.0; // USER_HZ on Linux
    let busy = spent as f64 / ticks_per_s / started.elapsed().as_secs_f64();
    eprintln!(
        "at the limit: the daemon used {:.0}% of a core",
        busy * 100.0
    );
    assert!(
        busy < 0.5,
        "the daemon spins at the limit: {:.0}% of a core",
        busy * 100.0
    );
    lab.ping("a", "198.51.100.2", 3).unwrap();

    // Room again: the same command succeeds, and the new port is there.
    set_fd_limit(&pid, 1024);
    assert_eq!(lab.vsctl_ok("a", &["list-ports", "br-int"]).unwrap(), ports);
    lab.vsctl_ok("a", &add_p1).unwrap();
    assert!(
        lab.vsctl_ok("a", &["list-ports", "br-int"])
            .unwrap()
            .contains("p1")
    );
    assert!(
        lab.sh("a", &["ip", "link", "show", "p1"]).is_ok(),
        "p1 was not made"
    );
    lab.ping("a", "198.51.100.2", 3).unwrap();
}

/// Sends 64-byte UDP datagrams from `host` to `dst` port 9 as fast as Python can for `secs`;
/// returns how many.
fn udp_blast(lab: &Lab, host: &str, dst: &str, secs: f64) -> u64 {
    let script = format!(
        "import socket, time\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.setblocking(False)\n\
         end, n = time.time() + {secs}, 0\n\
         while time.time() < end:\n\
         \x20   try:\n\
         \x20       s.sendto(b'x' * 64, ('{dst}', 9)); n += 1\n\
         \x20   except BlockingIOError:\n\
         \x20       pass\n\
         print(n)\n"
    );
    let out = lab.sh(host, &["python3", "-c", &script]).unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn signal(pid: &str, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, pid])
        .status()
        .unwrap();
    assert!(status.success());
}

fn sysfs_u64(lab: &Lab, host: &str, path: &str) -> u64 {
    let out = lab.sh(host, &["cat", path]).unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn port_json(lab: &Lab, host: &str, port: &str) -> serde_json::Value {
    dpif(lab, host)["bridges"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["ports"].as_array().unwrap().clone())
        .find(|p| p["name"] == port)
        .unwrap_or_else(|| panic!("no port {port} on {host}"))
}

/// Time until `host` gets a reply from `dst` again, pinging every 50 ms.
fn time_to_reply(lab: &Lab, host: &str, dst: &str) -> Duration {
    let started = Instant::now();
    while lab
        .sh(host, &["ping", "-c", "1", "-W", "0.05", "-n", dst])
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{host} never heard from {dst} again"
        );
    }
    started.elapsed()
}

/// The host keeps sending into `mgmt0` while the daemon is stopped (SIGSTOP) and reads
/// nothing: the TAP's queue fills, the kernel drops and counts what does not fit, and grebe
/// shows that count as the port's kernel drops. Once the daemon runs again it drains the old
/// queue and traffic is back by itself.
#[test]
fn a_full_tap_queue_is_counted_and_drained() {
    let Some(lab) = lab("ltap") else { return };
    two_hosts(&lab);
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    let pid = daemon_pid(&lab, "a");
    let queue = sysfs_u64(&lab, "a", "/sys/class/net/mgmt0/tx_queue_len");
    let dropped = || sysfs_u64(&lab, "a", "/sys/class/net/mgmt0/statistics/tx_dropped");
    let before = dropped();
    signal(&pid, "-STOP");
    let sent = udp_blast(&lab, "a", "198.51.100.2", 2.0);
    signal(&pid, "-CONT");
    let back = time_to_reply(&lab, "a", "198.51.100.2");
    let lost = dropped() - before;
    eprintln!(
        "full TAP queue: {sent} datagrams into mgmt0 (queue {queue}) with the daemon stopped, \
         {lost} dropped by the kernel, traffic back {back:.2?} after it resumed"
    );
    assert!(
        sent > 2 * queue,
        "the blast ({sent}) did not outrun the queue ({queue})"
    );
    assert!(lost > 0, "the kernel dropped nothing from a full queue");
    // grebe reports the kernel's count for the port, in the bridge's direction (received).
    let seen = port_json(&lab, "a", "mgmt0")["kernel"]["rx_dropped"]
        .as_u64()
        .unwrap();
    assert!(
        seen >= before + lost,
        "dpif/show shows {seen}, the kernel {lost} more than {before}"
    );
    lab.ping("a", "198.51.100.2", 5).unwrap();
}

/// A remote whose daemon stops reading (SIGSTOP) while a host keeps sending to it: the frames
/// pile up in the remote's socket, which the kernel bounds and counts (`rx_queue_full` once the
/// remote runs again); the sender and its other tunnels are not held up.
#[test]
fn a_remote_that_never_reads_holds_up_no_one_else() {
    let Some(lab) = lab("lpeer") else { return };
    lab.add_switch("wan").unwrap();
    for (host, address) in [
        ("a", "192.0.2.1/24"),
        ("b", "192.0.2.2/24"),
        ("c", "192.0.2.3/24"),
    ] {
        lab.add_host(host, "wan", address).unwrap();
        lab.start_daemon(host).unwrap();
    }
    // Hub and spoke (b and c reach each other through a), so no loop and no spanning tree.
    lab.configure_seed("a", "198.51.100.1/24", &["192.0.2.2", "192.0.2.3"])
        .unwrap();
    lab.configure_seed("b", "198.51.100.2/24", &["192.0.2.1"])
        .unwrap();
    lab.configure_seed("c", "198.51.100.3/24", &["192.0.2.1"])
        .unwrap();
    lab.wait_ping("a", "198.51.100.2", WAIT).unwrap();
    lab.wait_ping("a", "198.51.100.3", WAIT).unwrap();
    let b = daemon_pid(&lab, "b");
    let queue_before = common::drops(&lab, "b", "rx_queue_full");
    signal(&b, "-STOP");
    // a's pings to c run through the blast at b.
    let pinger = lab
        .command("a", "ping")
        .args(["-n", "-q", "-c", "40", "-i", "0.05", "198.51.100.3"])
        .output();
    let blast = {
        let lab = lab.clone();
        std::thread::spawn(move || udp_blast(&lab, "a", "198.51.100.2", 2.0))
    };
    let pinged = pinger.unwrap();
    let sent = blast.join().unwrap();
    signal(&b, "-CONT");
    let back = time_to_reply(&lab, "a", "198.51.100.2");
    let summary = String::from_utf8_lossy(&pinged.stdout).into_owned();
    let received: u32 = summary
        .split(", ")
        .find_map(|f| f.strip_suffix(" received")?.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    // The kernel's count is read once a second.
    std::thread::sleep(Duration::from_millis(1500));
    let overflowed = common::drops(&lab, "b", "rx_queue_full") - queue_before;
    eprintln!(
        "a remote that never reads: {sent} datagrams sent at it in 2 s, {overflowed} dropped at its \
         full socket and counted there; the sender's pings to a third host: {received}/40; \
         traffic back {back:.2?} after the remote resumed"
    );
    assert!(received >= 38, "a's other tunnel was held up: {summary}");
    assert!(overflowed > 0, "the remote's full socket dropped nothing");
    lab.ping("a", "198.51.100.2", 5).unwrap();
}

/// `grebe capture` whose output nobody reads: its pipe fills, it stops reading the daemon's
/// stream, the stream's socket fills. The daemon's writer waits on that one client only: the
/// datapath forwards, other commands are answered, and when the client goes, its thread ends.
#[test]
fn a_capture_nobody_reads_stalls_only_itself() {
    let Some(lab) = lab("lcap") else { return };
    two_hosts(&lab);
    lab.wait_ping("b", "198.51.100.1", WAIT).unwrap();
    let pid = daemon_pid(&lab, "a");
    let threads = || {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .unwrap()
            .trim()
            .parse::<u32>()
            .unwrap()
    };
    let idle_threads = threads();
    let mut capture = lab
        .command("a", lab.grebe())
        .args(["capture", "--rundir"])
        .arg(lab.rundir("a"))
        .arg("mgmt0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Enough frames to fill the pipe (64 KiB) and the socket behind it many times over.
    let sent = udp_blast(&lab, "b", "198.51.100.1", 2.0);
    let answered = lab.vsctl_ok("a", &["--timeout=10", "show"]).unwrap();
    assert!(answered.contains("mgmt0"), "{answered}");
    lab.ping("b", "198.51.100.1", 5).unwrap();
    assert!(threads() > idle_threads, "the capture is not being served");
    capture.kill().unwrap();
    capture.wait().unwrap();
    // Its stream's write fails once the client is gone (the next frame is enough).
    let deadline = Instant::now() + WAIT;
    while threads() > idle_threads {
        let _ = lab.ping("b", "198.51.100.1", 1);
        assert!(
            Instant::now() < deadline,
            "the stalled stream's threads outlived their client: {} > {idle_threads}",
            threads()
        );
    }
    eprintln!(
        "a capture nobody reads: {sent} datagrams through mgmt0 meanwhile; its threads ended with it"
    );
    lab.ping("b", "198.51.100.1", 3).unwrap();
}
