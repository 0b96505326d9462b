//! `grebe demo`: the classic setup with its workloads. On the container host a container (its
//! own namespace, a veth whose host end is on `br-int`, attached as ovs-docker attaches it), on
//! the VM host a guest whose port is a tap held open by the guest's own process (as qemu holds
//! `vnet0`, attached as libvirt attaches it); bare metal, container and guest ping each other
//! through GRE.

use super::{Endpoint, HOSTS, build_hosts, mac_of, ping_pairs, show_fdb, step, vsctl_shown};
use crate::netns::Lab;

/// The container on the container host.
pub(super) const CONTAINER: Endpoint = Endpoint {
    name: "web",
    ip: "198.51.100.21",
    host: "ct",
};

/// The guest on the VM host and the tap its process holds.
pub(super) const GUEST: Endpoint = Endpoint {
    name: "vm1",
    ip: "198.51.100.31",
    host: "vm",
};
const GUEST_TAP: &str = "vnet0";

pub(super) fn build_and_show(lab: &Lab) -> anyhow::Result<()> {
    build_hosts(lab)?;

    step("the workloads: a container on ct, a VM guest on vm, each a port of br-int");
    let veth = add_container(lab, CONTAINER)?;
    add_guest(lab, GUEST, GUEST_TAP)?;

    step("ping every pair whose frames cross a tunnel (overlay 198.51.100.0/24)");
    let mut ends: Vec<Endpoint> = HOSTS.iter().map(Endpoint::mgmt0).collect();
    ends.extend([CONTAINER, GUEST]);
    ping_pairs(lab, &Endpoint::every_pair(&ends, true))?;

    step("what each host learned (grebe appctl fdb/show br-int)");
    show_fdb(lab)?;

    step("what happened");
    println!(
        "   Each ping began with an ARP broadcast from the sender's port (mgmt0, {veth} or {GUEST_TAP}).\n   \
         grebe learned the sender's MAC on that port and flooded the broadcast into both GRE\n   \
         tunnels; the receivers learned that MAC on the tunnel it came from and (split horizon)\n   \
         did not pass it on to their other tunnel. The ARP reply was unicast, and from then on\n   \
         every frame went straight through one tunnel:"
    );
    for h in &HOSTS {
        println!(
            "   - frames to {} ({}'s mgmt0, {}) leave the other hosts through their tunnel to {}",
            h.overlay,
            h.name,
            mac_of(lab, h.name, "mgmt0")?,
            h.transport
        );
    }
    for (w, dev, what) in [
        (CONTAINER, "eth0", "the container on ct"),
        (GUEST, "eth0", "the guest on vm"),
    ] {
        let host = transport_of(w.host);
        println!(
            "   - frames to {} ({what}, {}) leave the other hosts through their tunnel to {host}",
            w.ip,
            mac_of(lab, w.name, dev)?,
        );
    }
    println!("   What each port carried (grebe appctl dpif/show):");
    for h in &HOSTS {
        let dpif: serde_json::Value =
            serde_json::from_str(&lab.appctl(h.name, &["dpif/show", "--format", "json"])?)?;
        for port in dpif["bridges"][0]["ports"].as_array().into_iter().flatten() {
            let name = port["name"].as_str().unwrap_or("?");
            match port["type"].as_str() {
                Some("gre") => println!(
                    "   - {} {name} to {}: {} frames out, {} frames in",
                    h.name,
                    port["remote_ip"].as_str().unwrap_or("?"),
                    port["tx_packets"],
                    port["rx_packets"]
                ),
                Some("system") => println!(
                    "   - {} {name} (system port, link {}): {} frames out, {} frames in",
                    h.name,
                    port["link_state"].as_str().unwrap_or("?"),
                    port["tx_packets"],
                    port["rx_packets"]
                ),
                _ => {}
            }
        }
    }
    println!(
        "   On the transport each frame is an IPv4 packet (protocol 47) carrying a 4-byte GRE header\n   \
         (protocol type 0x6558) and the whole Ethernet frame: 38 bytes of overhead, which is why grebe\n   \
         set mgmt0's MTU to 1462. The container and the guest keep their MTU of 1500, as they come:\n   \
         grebe clamps the MSS of TCP connections entering a tunnel and answers bigger frames with\n   \
         ICMP \"fragmentation needed\", so their TCP works unchanged."
    );
    let mtu = lab.sh("bm", &["cat", "/sys/class/net/mgmt0/mtu"])?;
    println!(
        "   bm's mgmt0 MTU: {}",
        String::from_utf8_lossy(&mtu.stdout).trim()
    );
    Ok(())
}

fn transport_of(host: &str) -> &'static str {
    HOSTS
        .iter()
        .find(|h| h.name == host)
        .map_or("?", |h| h.transport)
}

/// A container on its host's br-int, as ovs-docker attaches one: the veth's host end a port,
/// with the container's name and interface in `external_ids`. Prints what it ran; returns the
/// port's name.
pub(super) fn add_container(lab: &Lab, c: Endpoint) -> anyhow::Result<String> {
    add_container_tagged(lab, c, None, None)
}

/// [`add_container`] in VLAN `tag` (an access port), with `extra_route` (a prefix) on the
/// container's link too.
pub(super) fn add_container_tagged(
    lab: &Lab,
    c: Endpoint,
    tag: Option<u16>,
    extra_route: Option<&str>,
) -> anyhow::Result<String> {
    let veth = lab.add_container(c.host, c.name, &format!("{}/24", c.ip))?;
    println!(
        "   [{}] container {} (namespace {}), eth0 {}/24, MTU 1500",
        c.host,
        c.name,
        lab.netns(c.name),
        c.ip
    );
    println!(
        "     ip link add {veth} type veth peer name eth0 netns {}",
        lab.netns(c.name)
    );
    on_link(lab, c.name, extra_route)?;
    let container_id = format!("external_ids:container_id={}", c.name);
    let tag = tag.map(|t| format!("tag={t}"));
    let mut args = vec!["--may-exist", "add-port", "br-int", &veth];
    args.extend(tag.as_deref());
    args.extend([
        "--",
        "set",
        "interface",
        &veth,
        &container_id,
        "external_ids:container_iface=eth0",
    ]);
    vsctl_shown(lab, c.host, &args)?;
    Ok(veth)
}

/// A VM guest on its host's br-int, as libvirt attaches one: the tap `tap` (held by the
/// guest's process) a port, with the guest's MAC and status in `external-ids`. Prints what it
/// ran.
pub(super) fn add_guest(lab: &Lab, g: Endpoint, tap: &str) -> anyhow::Result<()> {
    add_guest_tagged(lab, g, tap, None, None)
}

/// [`add_guest`] in VLAN `tag` (an access port), with `extra_route` (a prefix) on the guest's
/// link too.
pub(super) fn add_guest_tagged(
    lab: &Lab,
    g: Endpoint,
    tap: &str,
    tag: Option<u16>,
    extra_route: Option<&str>,
) -> anyhow::Result<()> {
    lab.add_guest(g.host, g.name, tap, &format!("{}/24", g.ip))?;
    println!(
        "   [{}] VM guest {} (namespace {}), eth0 {}/24, MTU 1500, fed through the tap {tap}\n        \
         that the guest's own process holds open, as qemu holds it",
        g.host,
        g.name,
        lab.netns(g.name),
        g.ip
    );
    on_link(lab, g.name, extra_route)?;
    let attached_mac = format!(
        "external-ids:attached-mac=\"{}\"",
        mac_of(lab, g.name, "eth0")?
    );
    // libvirt's interface and domain UUIDs; the kernel makes random ones.
    let uuid =
        || std::fs::read_to_string("/proc/sys/kernel/random/uuid").map(|u| u.trim().to_owned());
    let iface_id = format!("external-ids:iface-id=\"{}\"", uuid()?);
    let vm_id = format!("external-ids:vm-id=\"{}\"", uuid()?);
    let tag = tag.map(|t| format!("tag={t}"));
    // virNetDevOpenvswitchAddPort's line, as libvirt runs it for a guest.
    let mut args = vec!["--", "--may-exist", "add-port", "br-int", tap];
    args.extend(tag.as_deref());
    for column in [&attached_mac, &iface_id, &vm_id] {
        args.extend(["--", "set", "Interface", tap, column.as_str()]);
    }
    args.extend([
        "--",
        "set",
        "Interface",
        tap,
        "external-ids:iface-status=active",
    ]);
    vsctl_shown(lab, g.host, &args)?;
    Ok(())
}

/// Routes `prefix`, if given, straight onto `workload`'s eth0: its ARP then asks the switch
/// for addresses there, and only the switch decides whether anyone answers.
fn on_link(lab: &Lab, workload: &str, prefix: Option<&str>) -> anyhow::Result<()> {
    if let Some(p) = prefix {
        lab.sh(workload, &["ip", "route", "add", p, "dev", "eth0"])?;
        println!("     (in {workload}) ip route add {p} dev eth0");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workloads_sit_on_the_hosts_the_setup_names() {
        assert_eq!(transport_of(CONTAINER.host), "192.0.2.12");
        assert_eq!(transport_of(GUEST.host), "192.0.2.13");
    }
}
