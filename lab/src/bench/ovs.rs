//! Open vSwitch as the comparison switch, run by `crate::ovs_peer`.

use super::*;
use crate::ovs_peer;

/// The inner MTU of OVS's internal ports in this comparison (../shared/ovs-peer.md).
const INNER_MTU: &str = "1458";

pub fn available() -> bool {
    ovs_peer::ovs_available()
}

/// Why `setup` (an OVS one) cannot be measured on this machine, if it cannot.
pub fn missing(setup: Setup) -> Option<&'static str> {
    if !available() {
        return Some("ovs-vswitchd is not installed (Debian: apt-get install openvswitch-switch)");
    }
    let ethtool = Command::new("ethtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if setup == Setup::OvsVeth && !ethtool {
        return Some(
            "ethtool is not installed (Debian: apt-get install ethtool); OVS's containers need \
             their veth's checksum offload off",
        );
    }
    None
}

/// A container on an OVS host, attached as an OVS user must: its MTU lowered to what the
/// tunnel carries (OVS neither clamps TCP's MSS nor answers with ICMP, so 1500-byte segments
/// are dropped at the tunnel) and its veth's transmit checksum offload off (OVS's userspace
/// datapath would put the veth's unfinished checksums on the wire). Then
/// `ovs-vsctl add-port br-int <name>-l`.
pub fn add_container(lab: &Lab, host: &str, name: &str, address: &str) -> anyhow::Result<()> {
    let port = lab.add_container(host, name, address)?;
    lab.sh(name, &["ip", "link", "set", "eth0", "mtu", INNER_MTU])?;
    lab.sh(name, &["ethtool", "-K", "eth0", "tx", "off"])?;
    let out = ovs_peer::ovs_vsctl(lab, host, &["add-port", "br-int", &port])?;
    if !out.status.success() {
        bail!(
            "ovs-vsctl add-port br-int {port} on {host}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
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

/// `ovs-ofctl add-flows br-int FILE` on the host's OVS.
pub fn add_flows(lab: &Lab, host: &str, file: &std::path::Path) -> anyhow::Result<()> {
    let out = ovs_peer::ovs_ofctl(
        lab,
        host,
        &["add-flows", "br-int", &file.display().to_string()],
    )?;
    if !out.status.success() {
        bail!(
            "ovs-ofctl add-flows on {host}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
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
