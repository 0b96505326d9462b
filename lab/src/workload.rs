//! Workloads on a host's bridge, as the classic setup has them: a container (its own network
//! namespace, joined to the host by a veth pair whose host end is a system port) and a VM
//! guest (its own namespace too, whose NIC is fed by a process holding the host's tap device
//! open, as qemu holds `vnet0`).
//!
//! The guest's process is a small relay (python3): it opens two TAP devices in the guest's
//! namespace, `eth0` (the guest's NIC) and the host-side one, moves the host-side one into the
//! host's namespace (a TAP keeps its file descriptor across the move) and copies frames between
//! the two. grebe then attaches that tap as a system port it did not create and cannot hold.

use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::netns::{Lab, ip};

/// The relay standing in for qemu: TUNSETIFF on two taps, one moved to the host, frames copied
/// both ways until killed.
const GUEST_RELAY: &str = r#"import fcntl, os, select, struct, subprocess, sys
TUNSETIFF, IFF_TAP, IFF_NO_PI = 0x400454CA, 0x0002, 0x1000
def tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd
nic, host_tap, host_ns = tap("eth0"), tap(sys.argv[1]), sys.argv[2]
subprocess.run(["ip", "link", "set", sys.argv[1], "netns", host_ns], check=True)
print("ready", flush=True)
peer = {nic: host_tap, host_tap: nic}
while True:
    for fd in select.select([nic, host_tap], [], [])[0]:
        try:
            os.write(peer[fd], os.read(fd, 65536))
        except OSError:
            pass
"#;

impl Lab {
    /// A container `name` on `host`: namespace `<prefix>-<name>` with `eth0` at `address`
    /// (CIDR), MTU 1500, wired by a veth pair to `<name>-l` in the host's namespace (up, not
    /// yet on any bridge). Returns the host-side interface's name.
    pub fn add_container(&self, host: &str, name: &str, address: &str) -> anyhow::Result<String> {
        let ns = self.add_netns(name)?;
        let host_ns = self.netns(host);
        let port = format!("{name}-l");
        ip(&[
            "-n", &host_ns, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
            &ns,
        ])?;
        ip(&["-n", &ns, "addr", "add", address, "dev", "eth0"])?;
        ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        ip(&["-n", &host_ns, "link", "set", &port, "up"])?;
        Ok(port)
    }

    /// A VM guest `name` on `host` whose NIC `eth0` (at `address`, CIDR) is fed through the
    /// tap `tap` in the host's namespace, held open by a relay process as qemu holds it. The
    /// relay runs until the lab is cleaned up (it lives in the guest's namespace).
    pub fn add_guest(
        &self,
        host: &str,
        name: &str,
        tap: &str,
        address: &str,
    ) -> anyhow::Result<()> {
        let ns = self.add_netns(name)?;
        let script = self.dir().join(format!("{name}-relay.py"));
        fs::create_dir_all(self.dir())?;
        fs::write(&script, GUEST_RELAY)?;
        let mut relay = self
            .command(name, "python3")
            .arg(&script)
            .arg(tap)
            .arg(self.netns(host))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting the guest's tap relay (python3)")?;
        wait_ready(&mut relay, name)?;
        // The child is reaped with the namespace's processes at cleanup.
        std::mem::forget(relay);
        ip(&["-n", &ns, "addr", "add", address, "dev", "eth0"])?;
        ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        ip(&["-n", &self.netns(host), "link", "set", tap, "up"])?;
        Ok(())
    }
}

/// `docker inspect -f '{{.State.Pid}}' NAME`, the one call ovs-docker makes of docker,
/// answered from the lab's `containers/NAME.pid`.
const DOCKER_SHIM: &str = r#"#!/bin/sh
# The lab's stand-in for docker: ovs-docker asks only for a container's pid.
[ "$1" = inspect ] && [ "$2" = -f ] && [ "$3" = '{{.State.Pid}}' ] || { echo "docker shim: only inspect -f '{{.State.Pid}}' NAME" >&2; exit 2; }
cat "$(dirname "$0")/../containers/$4.pid" 2>/dev/null || { echo "Error: No such object: $4" >&2; exit 1; }
"#;

impl Lab {
    /// A container as docker would leave it before ovs-docker runs: a process (`sleep`) in a
    /// namespace of its own with only `lo`, findable through the docker shim by `name`.
    pub fn add_docker_container(&self, name: &str) -> anyhow::Result<u32> {
        self.add_netns(name)?;
        let child = self
            .command(name, "sleep")
            .arg("infinity")
            .stdin(Stdio::null())
            .spawn()
            .context("starting the container's process")?;
        let pid = child.id();
        // Killed with the namespace's processes at cleanup.
        std::mem::forget(child);
        let dir = self.dir().join("containers");
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(format!("{name}.pid")), format!("{pid}\n"))?;
        Ok(pid)
    }

    /// A directory to put first on PATH for other people's tools: `docker` (the shim above)
    /// and `ovs-vsctl` / `ovs-appctl` as links to this lab's grebe.
    pub fn tool_path(&self) -> anyhow::Result<std::path::PathBuf> {
        let dir = self.docker_path("bin")?;
        for tool in ["ovs-vsctl", "ovs-appctl"] {
            let link = dir.join(tool);
            let _ = fs::remove_file(&link);
            std::os::unix::fs::symlink(self.grebe(), &link)?;
        }
        Ok(dir)
    }

    /// A directory `name` of the lab holding only the `docker` shim.
    fn docker_path(&self, name: &str) -> anyhow::Result<std::path::PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.dir().join(name);
        fs::create_dir_all(&dir)?;
        let docker = dir.join("docker");
        fs::write(&docker, DOCKER_SHIM)?;
        fs::set_permissions(&docker, fs::Permissions::from_mode(0o755))?;
        Ok(dir)
    }

    /// A command on `host` with the lab's tool path first on PATH.
    pub fn tool_command(&self, host: &str, program: &str) -> anyhow::Result<Command> {
        let path = format!(
            "{}:{}",
            self.tool_path()?.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = self.command(host, program);
        c.env("PATH", path);
        Ok(c)
    }

    /// A command on `host` that finds OVS's own `ovs-vsctl` on PATH (and the docker shim),
    /// talking to the database under `ovs_rundir` (`OVS_RUNDIR`, where ovs-vsctl looks for
    /// `db.sock`): a tool run against an OVSDB-mode grebe.
    pub fn ovs_tool_command(
        &self,
        host: &str,
        program: &str,
        ovs_rundir: &std::path::Path,
    ) -> anyhow::Result<Command> {
        let path = format!(
            "{}:{}:/usr/sbin:/sbin",
            self.docker_path("bin-ovs")?.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = self.command(host, program);
        c.env("PATH", path).env("OVS_RUNDIR", ovs_rundir);
        Ok(c)
    }
}

/// Waits for the relay's "ready" line (its tap is in the host by then).
fn wait_ready(relay: &mut Child, name: &str) -> anyhow::Result<()> {
    use std::io::{BufRead, BufReader};
    let stdout = relay.stdout.take().context("relay stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) {
            if line.trim() == "ready" {
                return Ok(());
            }
        }
        if let Some(status) = relay.try_wait()? {
            let mut err = String::new();
            if let Some(mut e) = relay.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            bail!(
                "the tap relay of guest {name} exited ({status}): {}",
                err.trim()
            );
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill").arg(relay.id().to_string()).status();
            bail!("the tap relay of guest {name} did not get ready within 10 s");
        }
    }
}

/// virNetDevOpenvswitchAddPort's ovs-vsctl arguments (libvirt's src/util/virnetdevopenvswitch.c)
/// for guest NIC `tap` with MAC `mac`: `vlan` is what libvirt puts after the port name for the
/// guest's `<vlan>` element. The ids are a guest's as libvirt writes them.
pub fn libvirt_add_port_args(tap: &str, vlan: &[&str], mac: &str) -> Vec<String> {
    let mut args: Vec<String> = [
        "--timeout=5",
        "--",
        "--may-exist",
        "add-port",
        "br-int",
        tap,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(vlan.iter().map(|s| s.to_string()));
    for set in [
        format!("external-ids:attached-mac=\"{mac}\""),
        "external-ids:iface-id=\"0b6e3bc4-2a8c-4b1e-9f3b-5f8a2a6c1d01\"".to_owned(),
        "external-ids:vm-id=\"7c1f6e5e-9d2a-4a6b-8e3d-2b4c6d8e0f12\"".to_owned(),
        "external-ids:iface-status=active".to_owned(),
    ] {
        args.extend(["--", "set", "Interface", tap].map(String::from));
        args.push(set);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netns::is_root;

    /// The plumbing alone, joined by a Linux bridge in the host (no grebe): the container's
    /// veth and the guest's relayed tap carry a ping.
    #[test]
    fn a_container_and_a_guest_reach_each_other_through_a_linux_bridge() {
        if !is_root() {
            assert!(std::env::var_os("CI").is_none(), "needs root under CI");
            eprintln!("SKIPPED: needs root for network namespaces");
            return;
        }
        let prefix = format!("lw{}", std::process::id() % 10000);
        let lab = Lab::new(&prefix, "/bin/false").unwrap();
        lab.add_netns("h").unwrap();
        let port = lab.add_container("h", "ct", "198.51.100.21/24").unwrap();
        lab.add_guest("h", "vm", "vnet0", "198.51.100.22/24")
            .unwrap();
        let h = lab.netns("h");
        ip(&["-n", &h, "link", "add", "br0", "type", "bridge"]).unwrap();
        for dev in [port.as_str(), "vnet0"] {
            ip(&["-n", &h, "link", "set", dev, "master", "br0"]).unwrap();
        }
        ip(&["-n", &h, "link", "set", "br0", "up"]).unwrap();
        lab.wait_ping("ct", "198.51.100.22", Duration::from_secs(10))
            .unwrap();
    }
}
