//! Resource exhaustion (issue 14): the daemon at its file-descriptor limit, a TAP whose queue
//! fills while the daemon is stopped, and clients and peers that never read. Needs root.

mod common;

use std::time::{Duration, Instant};

use common::{lab, two_hosts};
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
