//! Real Open vSwitch as a host of a [`Lab`]: the peer that proves grebe is a drop-in for OVS's
//! GRE setup (`tests/interop.rs`) and the baseline of `grebe bench`.
//!
//! Each OVS host runs its own `ovsdb-server` and `ovs-vswitchd` inside the host's network
//! namespace, with the userspace datapath (`datapath_type=netdev`: no kernel module needed, it
//! implements GRE itself). Every file (database, sockets, pidfiles, logs) lives under
//! `lab.rundir(host)/ovs`, and `OVS_RUNDIR`, `OVS_LOGDIR` and `OVS_DBDIR` point there, so the
//! machine's own OVS, if any, is never touched. Both daemons detach but stay in the namespace,
//! so [`Lab::cleanup`] kills them with everything else of the lab.
//!
//! How OVS's userspace datapath differs from grebe in setup (see `../shared/ovs-peer.md`): it
//! cannot send tunnel packets through the kernel's routing, so the transport NIC `eth0` becomes a
//! port of a second netdev bridge `br-phy`, and the transport address moves from `eth0` to
//! `br-phy`; [`configure_ovs_seed`] does that.
//!
//! The second independent peer is Wireshark: [`start_capture`] runs `tshark` in a lab namespace
//! and [`decode`] reads its capture back with Wireshark's dissectors (`tests/conformance.rs`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context, bail};

use crate::netns::{Lab, argv, run};

/// The programs an OVS host needs.
const PROGRAMS: [&str; 5] = [
    "ovsdb-tool",
    "ovsdb-server",
    "ovs-vswitchd",
    "ovs-vsctl",
    "ovs-appctl",
];

/// Where to look besides `PATH`: Debian installs the daemons in /usr/sbin, which a normal
/// user's `PATH` may lack.
const SBIN: [&str; 3] = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/// Bytes GRE over IPv4 adds around an inner frame without options: outer IPv4 (20), GRE base
/// header (4), inner Ethernet header (14).
const GRE_BASE_OVERHEAD: u32 = 20 + 4 + 14;

/// The full path of `program`, from `PATH` or the sbin directories.
fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(SBIN.iter().map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

fn program(name: &str) -> anyhow::Result<PathBuf> {
    find_program(name).with_context(|| {
        format!("{name} not found (install Debian's openvswitch-switch: apt-get install openvswitch-switch)")
    })
}

/// Is Open vSwitch installed here (`ovs-vswitchd` and its tools)?
pub fn ovs_available() -> bool {
    PROGRAMS.iter().all(|p| find_program(p).is_some())
}

/// The directory holding the host's OVS database, sockets, pidfiles and logs.
pub fn ovs_dir(lab: &Lab, host: &str) -> PathBuf {
    lab.rundir(host).join("ovs")
}

/// The database socket of the host's `ovsdb-server`.
pub fn ovs_db_socket(lab: &Lab, host: &str) -> PathBuf {
    ovs_dir(lab, host).join("db.sock")
}

/// `ovs-vsctl`'s `--db` argument for the host's database.
pub fn ovs_db_arg(lab: &Lab, host: &str) -> String {
    format!("--db=unix:{}", ovs_db_socket(lab, host).display())
}

fn vswitchd_ctl(dir: &Path) -> PathBuf {
    dir.join("ovs-vswitchd.ctl")
}

/// An OVS program to run in the host's namespace, with the OVS directories pointing into the lab.
fn ovs_command(lab: &Lab, host: &str, name: &str) -> anyhow::Result<Command> {
    let dir = ovs_dir(lab, host);
    let mut cmd = lab.command(host, program(name)?);
    cmd.env("OVS_RUNDIR", &dir)
        .env("OVS_LOGDIR", &dir)
        .env("OVS_DBDIR", &dir)
        .env("OVS_SYSCONFDIR", &dir)
        .stdin(Stdio::null());
    Ok(cmd)
}

/// The last lines of one of the host's OVS logs, for error messages.
fn log_tail(dir: &Path, log: &str) -> String {
    let text = std::fs::read_to_string(dir.join(log)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Starts only the host's `ovsdb-server`, on a fresh database initialized with `ovs-vsctl
/// init`: enough to run `ovs-vsctl --no-wait` against (the vsctl comparison needs no switch).
pub fn start_ovsdb(lab: &Lab, host: &str) -> anyhow::Result<()> {
    let dir = ovs_dir(lab, host);
    // Unix socket paths are limited to 108 bytes (sun_path); OVS adds a name to the directory.
    if dir.as_os_str().len() > 80 {
        bail!(
            "OVS directory {} is too long for its Unix sockets: use a shorter lab prefix or TMPDIR",
            dir.display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let db = dir.join("conf.db");
    // The schema argument is left out: ovsdb-tool uses the installed vswitch.ovsschema.
    run(ovs_command(lab, host, "ovsdb-tool")?.arg("create").arg(&db))?;
    run_ovsdb_server(lab, host)?;
    let out = ovs_vsctl(lab, host, &["--no-wait", "init"])?;
    if !out.status.success() {
        bail!(
            "ovs-vsctl init on {host} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Starts the host's `ovsdb-server` (detached) on the database [`start_ovsdb`] created.
fn run_ovsdb_server(lab: &Lab, host: &str) -> anyhow::Result<()> {
    let dir = ovs_dir(lab, host);
    let started = run(ovs_command(lab, host, "ovsdb-server")?
        .arg(dir.join("conf.db"))
        .arg(format!(
            "--remote=punix:{}",
            ovs_db_socket(lab, host).display()
        ))
        .arg(format!(
            "--unixctl={}",
            dir.join("ovsdb-server.ctl").display()
        ))
        .arg(format!(
            "--pidfile={}",
            dir.join("ovsdb-server.pid").display()
        ))
        .arg(format!(
            "--log-file={}",
            dir.join("ovsdb-server.log").display()
        ))
        .args(["-vconsole:off", "--detach"]));
    if let Err(e) = started {
        bail!(
            "ovsdb-server on {host}: {e:#}\n{}",
            log_tail(&dir, "ovsdb-server.log")
        );
    }
    Ok(())
}

/// Kills the host's `ovsdb-server` (SIGKILL: no goodbye to its clients), keeping its database.
pub fn kill_ovsdb(lab: &Lab, host: &str) -> anyhow::Result<()> {
    kill_pidfile(&ovs_dir(lab, host).join("ovsdb-server.pid"), host)
}

/// SIGKILLs the process of a pidfile and waits until it is gone.
fn kill_pidfile(pidfile: &Path, host: &str) -> anyhow::Result<()> {
    let pid = std::fs::read_to_string(pidfile)
        .with_context(|| format!("reading {}", pidfile.display()))?;
    run(Command::new("kill").args(["-KILL", pid.trim()]))?;
    // Gone once its pid no longer answers signal 0.
    for _ in 0..100 {
        if !Command::new("kill")
            .args(["-0", pid.trim()])
            .stderr(Stdio::null())
            .status()?
            .success()
        {
            let _ = std::fs::remove_file(pidfile);
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    bail!("{} on {host} did not die", pidfile.display())
}

/// Starts the host's `ovsdb-server` again on the database it had.
pub fn restart_ovsdb(lab: &Lab, host: &str) -> anyhow::Result<()> {
    run_ovsdb_server(lab, host)
}

/// Starts the host's OVS: `ovsdb-server` on a fresh database, then `ovs-vswitchd`, both detached
/// in the host's namespace. Returns once `ovs-vswitchd` answers `ovs-appctl`.
pub fn start_ovs(lab: &Lab, host: &str) -> anyhow::Result<()> {
    start_ovsdb(lab, host)?;
    let dir = ovs_dir(lab, host);
    // --detach returns once the daemon has connected to the database and is ready.
    let started = run(ovs_command(lab, host, "ovs-vswitchd")?
        .arg(format!("unix:{}", ovs_db_socket(lab, host).display()))
        .arg(format!("--unixctl={}", vswitchd_ctl(&dir).display()))
        .arg(format!(
            "--pidfile={}",
            dir.join("ovs-vswitchd.pid").display()
        ))
        .arg(format!(
            "--log-file={}",
            dir.join("ovs-vswitchd.log").display()
        ))
        .args(["-vconsole:off", "--detach"]));
    if let Err(e) = started {
        bail!(
            "ovs-vswitchd on {host}: {e:#}\n{}",
            log_tail(&dir, "ovs-vswitchd.log")
        );
    }
    ovs_appctl(lab, host, &["version"]).with_context(|| {
        format!(
            "ovs-vswitchd on {host} does not answer:\n{}",
            log_tail(&dir, "ovs-vswitchd.log")
        )
    })?;
    Ok(())
}

/// `ovs-vsctl ARGS` against the host's database; returns the output whatever the exit code.
/// Without `--no-wait` in `args` it waits (30 s at most) until `ovs-vswitchd` has applied the
/// change, as ovs-vsctl does.
pub fn ovs_vsctl(lab: &Lab, host: &str, args: &[&str]) -> anyhow::Result<Output> {
    ovs_command(lab, host, "ovs-vsctl")?
        .arg(ovs_db_arg(lab, host))
        .arg("--timeout=30")
        .args(args)
        .output()
        .context("running ovs-vsctl")
}

/// `ovs-vsctl ARGS`, which must succeed; returns its stdout.
pub fn ovs_vsctl_ok(lab: &Lab, host: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = ovs_vsctl(lab, host, args)?;
    if !out.status.success() {
        bail!(
            "ovs-vsctl {} on {host} failed ({}): {}\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            log_tail(&ovs_dir(lab, host), "ovs-vswitchd.log")
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ovs-ofctl ARGS` against the host's `ovs-vswitchd` (its `BR.mgmt` in the OVS directory).
pub fn ovs_ofctl(lab: &Lab, host: &str, args: &[&str]) -> anyhow::Result<Output> {
    ovs_command(lab, host, "ovs-ofctl")?
        .args(args)
        .output()
        .context("running ovs-ofctl")
}

/// `ovs-appctl ARGS` to the host's `ovs-vswitchd`, which must succeed; returns its stdout.
pub fn ovs_appctl(lab: &Lab, host: &str, args: &[&str]) -> anyhow::Result<String> {
    let ctl = vswitchd_ctl(&ovs_dir(lab, host));
    let out = run(ovs_command(lab, host, "ovs-appctl")?
        .arg("--timeout=10")
        .arg("-t")
        .arg(&ctl)
        .args(args))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The MTU that leaves room for GRE around the internal port's frames over a transport of
/// `transport_mtu`, given the tunnels' extra options: 4 bytes more for each of a key (any value:
/// OVS sends key 0 too), a checksum and sequence numbers. The same rule as grebe's own internal
/// ports, so both ends of a tunnel agree.
pub fn inner_mtu(transport_mtu: u32, gre_options: &[&str]) -> u32 {
    let present = |prefix: &str| gre_options.iter().any(|o| o.starts_with(prefix));
    let words = [
        present("options:key="),
        present("options:csum=true"),
        present("options:seq=true"),
    ]
    .iter()
    .filter(|p| **p)
    .count() as u32;
    transport_mtu - GRE_BASE_OVERHEAD - 4 * words
}

/// The seed's configuration on an OVS host, in OVS's userspace form:
///
/// * `br-phy` (netdev) holds `eth0`; the transport address `transport_cidr` moves from `eth0`
///   to `br-phy`, which comes up;
/// * `br-int` (netdev) with the internal port `mgmt0`, up, carrying `overlay_cidr`, its MTU
///   ([`inner_mtu`]) leaving room for GRE (with a 1500-byte inner MTU TCP collapses);
/// * one GRE port per remote, `gre0`, `gre1`, ... in order, with `options:remote_ip=R` and every
///   `gre_options` entry (such as `options:key=5`) added to each.
pub fn configure_ovs_seed(
    lab: &Lab,
    host: &str,
    transport_cidr: &str,
    overlay_cidr: &str,
    remotes: &[&str],
    gre_options: &[&str],
) -> anyhow::Result<()> {
    let transport_mtu: u32 =
        String::from_utf8_lossy(&lab.sh(host, &["cat", "/sys/class/net/eth0/mtu"])?.stdout)
            .trim()
            .parse()
            .context("reading eth0's MTU")?;
    let mtu = inner_mtu(transport_mtu, gre_options);

    ovs_vsctl_ok(
        lab,
        host,
        &[
            "--may-exist",
            "add-br",
            "br-phy",
            "--",
            "set",
            "bridge",
            "br-phy",
            "datapath_type=netdev",
            "--",
            "--may-exist",
            "add-port",
            "br-phy",
            "eth0",
        ],
    )?;
    lab.sh(host, &["ip", "addr", "del", transport_cidr, "dev", "eth0"])?;
    lab.sh(
        host,
        &["ip", "addr", "add", transport_cidr, "dev", "br-phy"],
    )?;
    lab.sh(host, &["ip", "link", "set", "br-phy", "up"])?;

    let seed = vswitch::seed::Seed {
        remotes,
        datapath_type: Some("netdev"),
        mgmt_mtu_request: Some(mtu),
        gre_options,
    }
    .commands();
    ovs_vsctl_ok(lab, host, &argv(&seed.bridge))?;
    lab.sh(host, &["ip", "addr", "add", overlay_cidr, "dev", "mgmt0"])?;
    lab.sh(host, &["ip", "link", "set", "mgmt0", "up"])?;
    for tunnel in &seed.tunnels {
        ovs_vsctl_ok(lab, host, &argv(tunnel))?;
    }
    Ok(())
}

/// Byte-counted TCP transfers: the lab's, not OVS's, but tests import it from here too.
pub use crate::netns::tcp_send;

/// Is Wireshark's `tshark` installed here (the independent decoder of what goes on the wire)?
pub fn tshark_available() -> bool {
    find_program("tshark").is_some()
}

/// A running `tshark` capture inside a lab namespace, writing a classic pcap file.
pub struct Capture {
    child: std::process::Child,
    file: PathBuf,
    stderr: Option<std::thread::JoinHandle<String>>,
}

/// Starts `tshark -i IFACE -f FILTER -c COUNT -w FILE` (classic pcap format) in `host`'s
/// namespace and returns once tshark reports that it is capturing, so that traffic sent
/// afterwards is seen. `filter` is a capture (BPF) filter; make it precise enough that exactly
/// the packets of interest count towards `count`.
pub fn start_capture(
    lab: &Lab,
    host: &str,
    iface: &str,
    filter: &str,
    count: usize,
    file: &Path,
) -> anyhow::Result<Capture> {
    use std::io::BufRead;

    let _ = std::fs::remove_file(file);
    let mut child = lab
        .command(host, program("tshark")?)
        .args(["-i", iface, "-f", filter, "-c", &count.to_string()])
        .args(["-F", "pcap", "-w"])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting tshark")?;
    let stderr = child.stderr.take().context("tshark's stderr")?;
    let (started, capturing) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("Capturing on") {
                let _ = started.send(());
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let mut capture = Capture {
        child,
        file: file.to_owned(),
        stderr: Some(reader),
    };
    if capturing
        .recv_timeout(std::time::Duration::from_secs(15))
        .is_err()
    {
        let _ = capture.child.kill();
        let _ = capture.child.wait();
        let text = capture.stderr.take().map(|r| r.join().unwrap_or_default());
        bail!(
            "tshark on {host} {iface} did not start capturing: {}",
            text.unwrap_or_default().trim()
        );
    }
    // "Capturing on" comes as dumpcap starts; give the filter a moment to be in place.
    std::thread::sleep(std::time::Duration::from_millis(200));
    Ok(capture)
}

impl Capture {
    /// Waits (at most `within`) until tshark has captured its `count` packets and exited;
    /// returns the pcap file. Fails, with tshark's messages, if the packets did not come.
    pub fn finish(mut self, within: std::time::Duration) -> anyhow::Result<PathBuf> {
        let deadline = std::time::Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break Some(status);
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let text = self
            .stderr
            .take()
            .map(|r| r.join().unwrap_or_default())
            .unwrap_or_default();
        match status {
            Some(s) if s.success() => Ok(self.file.clone()),
            Some(s) => bail!("tshark failed ({s}): {}", text.trim()),
            None => bail!(
                "tshark did not capture its packets within {within:?} (filter too narrow, or \
                 the traffic did not come): {}",
                text.trim()
            ),
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The length of a GRE header: 4 bytes, plus 4 for each of key, checksum and sequence number.
pub fn gre_header_len(key: bool, csum: bool, seq: bool) -> usize {
    4 + 4 * (usize::from(key) + usize::from(csum) + usize::from(seq))
}

/// A capture (BPF) filter for GRE packets that carry Ethernet and IPv4 with `protocol` inside
/// (1 ICMP, 6 TCP), from `src` if given: the outer IPv4 header is taken to be 20 bytes (what OVS
/// and grebe send) and the GRE header any of `gre_lens` bytes long ([`gre_header_len`]). Other
/// traffic (ARP, IPv6 neighbour discovery) does not count towards a capture's packet count.
pub fn ipv4_in_gre_filter(src: Option<&str>, gre_lens: &[usize], protocol: u8) -> String {
    let layouts: Vec<String> = gre_lens
        .iter()
        .map(|len| {
            let ethertype = 20 + len + 12;
            let inner_protocol = 20 + len + 14 + 9;
            format!("(ip[{ethertype}:2] = 0x0800 and ip[{inner_protocol}] = {protocol})")
        })
        .collect();
    let from = src
        .map(|s| format!(" and src host {s}"))
        .unwrap_or_default();
    format!("ip proto 47{from} and ({})", layouts.join(" or "))
}

/// [`ipv4_in_gre_filter`] for ICMP.
pub fn icmp_in_gre_filter(src: Option<&str>, gre_lens: &[usize]) -> String {
    ipv4_in_gre_filter(src, gre_lens, 1)
}

/// One decoded packet: every occurrence of each requested field, outermost first (a GRE
/// packet has two `eth.src`, two `ip.ttl`, ...). Absent fields are absent.
pub type Decoded = std::collections::BTreeMap<String, Vec<String>>;

/// Decodes a capture with Wireshark's dissectors (`tshark -r FILE -T json -e FIELD ...`), IPv4
/// and TCP checksum validation on (GRE's is always on). `display_filter` (may be empty) selects packets.
pub fn decode(file: &Path, display_filter: &str, fields: &[&str]) -> anyhow::Result<Vec<Decoded>> {
    let mut cmd = Command::new(program("tshark")?);
    cmd.arg("-r")
        .arg(file)
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
        ])
        // Sequence analysis would warn about segments outside the capture.
        .args(["-o", "tcp.analyze_sequence_numbers:FALSE", "-T", "json"]);
    if !display_filter.is_empty() {
        cmd.args(["-Y", display_filter]);
    }
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = run(&mut cmd)?;
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("tshark's JSON output")?;
    let packets = json.as_array().context("tshark's JSON is not a list")?;
    packets
        .iter()
        .map(|p| {
            let layers = p["_source"]["layers"]
                .as_object()
                .context("no _source.layers in tshark's JSON")?;
            Ok(layers
                .iter()
                .map(|(k, v)| {
                    let values = v
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    (k.clone(), values)
                })
                .collect())
        })
        .collect()
}

/// The Unix socket clients use to reach member `i` (from 1) of the host's clustered database.
pub fn cluster_socket(lab: &Lab, host: &str, i: usize) -> PathBuf {
    ovs_dir(lab, host).join(format!("m{i}.sock"))
}

/// The raft address of member `i`: the loopback of the host's own namespace.
fn raft_address(i: usize) -> String {
    format!("tcp:127.0.0.1:{}", 6640 + i)
}

/// Starts a clustered (Raft) `Open_vSwitch` database of `n` members in the host's namespace,
/// each an `ovsdb-server` with its own file and client socket ([`cluster_socket`]), talking
/// raft over the namespace's loopback; waits until every member has joined, then initializes
/// the database (`ovs-vsctl init`).
pub fn start_ovsdb_cluster(lab: &Lab, host: &str, n: usize) -> anyhow::Result<()> {
    let dir = ovs_dir(lab, host);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    lab.sh(host, &["ip", "link", "set", "lo", "up"])?;
    let schema = "/usr/share/openvswitch/vswitch.ovsschema";
    for i in 1..=n {
        let db = dir.join(format!("m{i}.db"));
        let mut tool = ovs_command(lab, host, "ovsdb-tool")?;
        if i == 1 {
            tool.arg("create-cluster")
                .arg(&db)
                .arg(schema)
                .arg(raft_address(1));
        } else {
            tool.arg("join-cluster")
                .arg(&db)
                .arg("Open_vSwitch")
                .arg(raft_address(i))
                .args((1..i).map(raft_address));
        }
        run(&mut tool)?;
        start_cluster_member(lab, host, i)?;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    for i in 1..=n {
        loop {
            let status = run(ovs_command(lab, host, "ovs-appctl")?
                .arg("-t")
                .arg(dir.join(format!("m{i}.ctl")))
                .args(["cluster/status", "Open_vSwitch"]))?;
            let text = String::from_utf8_lossy(&status.stdout);
            if text.contains("Status: cluster member")
                && text.contains("Leader: ")
                && !text.contains("Leader: unknown")
            {
                break;
            }
            if std::time::Instant::now() > deadline {
                bail!("member {i} of the cluster on {host} did not join:\n{text}");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    let out = ovs_command(lab, host, "ovs-vsctl")?
        .arg(format!(
            "--db=unix:{}",
            cluster_socket(lab, host, 1).display()
        ))
        .args(["--no-leader-only", "--timeout=30", "--no-wait", "init"])
        .output()?;
    if !out.status.success() {
        bail!(
            "ovs-vsctl init on the cluster on {host} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Starts (or restarts) member `i` of the host's clustered database.
pub fn start_cluster_member(lab: &Lab, host: &str, i: usize) -> anyhow::Result<()> {
    let dir = ovs_dir(lab, host);
    let started = run(ovs_command(lab, host, "ovsdb-server")?
        .arg(dir.join(format!("m{i}.db")))
        .arg(format!(
            "--remote=punix:{}",
            cluster_socket(lab, host, i).display()
        ))
        .arg(format!(
            "--unixctl={}",
            dir.join(format!("m{i}.ctl")).display()
        ))
        .arg(format!(
            "--pidfile={}",
            dir.join(format!("m{i}.pid")).display()
        ))
        .arg(format!(
            "--log-file={}",
            dir.join(format!("m{i}.log")).display()
        ))
        .args(["-vconsole:off", "--detach"]));
    if let Err(e) = started {
        bail!(
            "cluster member {i} on {host}: {e:#}\n{}",
            log_tail(&dir, &format!("m{i}.log"))
        );
    }
    Ok(())
}

/// Kills member `i` of the host's clustered database (SIGKILL), keeping its file.
pub fn kill_cluster_member(lab: &Lab, host: &str, i: usize) -> anyhow::Result<()> {
    kill_pidfile(&ovs_dir(lab, host).join(format!("m{i}.pid")), host)
}

/// `ovs-vsctl ARGS` through member `i` of the host's clustered database, which need not be the
/// leader (`--no-leader-only`: a follower passes transactions on); it must succeed.
pub fn cluster_vsctl_ok(lab: &Lab, host: &str, i: usize, args: &[&str]) -> anyhow::Result<String> {
    let out = ovs_command(lab, host, "ovs-vsctl")?
        .arg(format!(
            "--db=unix:{}",
            cluster_socket(lab, host, i).display()
        ))
        .args(["--no-leader-only", "--timeout=30"])
        .args(args)
        .output()?;
    if !out.status.success() {
        bail!(
            "ovs-vsctl {} through member {i} on {host} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_mtu_leaves_room_for_every_gre_option() {
        assert_eq!(inner_mtu(1500, &[]), 1462);
        assert_eq!(inner_mtu(1500, &["options:key=5"]), 1458);
        assert_eq!(inner_mtu(1500, &["options:key=0"]), 1458);
        assert_eq!(inner_mtu(1500, &["options:csum=true"]), 1458);
        assert_eq!(inner_mtu(1500, &["options:csum=false"]), 1462);
        assert_eq!(
            inner_mtu(
                9000,
                &["options:key=7", "options:csum=true", "options:seq=true"]
            ),
            9000 - 50
        );
    }

    #[test]
    fn filter_offsets_follow_the_gre_header_length() {
        assert_eq!(gre_header_len(false, false, false), 4);
        assert_eq!(gre_header_len(true, true, true), 16);
        assert_eq!(
            icmp_in_gre_filter(Some("192.0.2.1"), &[4]),
            "ip proto 47 and src host 192.0.2.1 and ((ip[36:2] = 0x0800 and ip[47] = 1))"
        );
        assert_eq!(
            ipv4_in_gre_filter(None, &[4, 8], 1),
            "ip proto 47 and ((ip[36:2] = 0x0800 and ip[47] = 1) or \
             (ip[40:2] = 0x0800 and ip[51] = 1))"
        );
        assert_eq!(
            ipv4_in_gre_filter(None, &[12], 6),
            "ip proto 47 and ((ip[44:2] = 0x0800 and ip[55] = 6))"
        );
    }
}
