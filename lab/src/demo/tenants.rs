//! `grebe demo --vlan`: two tenants on one mesh. Tenant 100 (VLAN 100, 198.51.100.0/24) and
//! tenant 200 (VLAN 200, 203.0.113.0/24) each have a container on the container host and a
//! guest on the VM host, on access ports (`tag=`); the tunnels carry both VLANs tagged. Each
//! workload also routes the other tenant's network onto its own link, so that nothing but the
//! switch stands between the tenants: same-tenant pings answer, cross-tenant ones get no reply.

use super::classic::{add_container_tagged, add_guest_tagged};
use super::{Endpoint, HOSTS, build_hosts, ping_pairs, ping_unanswered, show_fdb, step};
use crate::netns::Lab;

const VLAN_100: u16 = 100;
const VLAN_200: u16 = 200;
const NET_100: &str = "198.51.100.0/24";
const NET_200: &str = "203.0.113.0/24";

pub(super) const CONTAINER_100: Endpoint = Endpoint {
    name: "web100",
    ip: "198.51.100.21",
    host: "ct",
};
pub(super) const GUEST_100: Endpoint = Endpoint {
    name: "vm100",
    ip: "198.51.100.31",
    host: "vm",
};
const CONTAINER_200: Endpoint = Endpoint {
    name: "web200",
    ip: "203.0.113.21",
    host: "ct",
};
const GUEST_200: Endpoint = Endpoint {
    name: "vm200",
    ip: "203.0.113.31",
    host: "vm",
};

pub(super) fn build_and_show(lab: &Lab) -> anyhow::Result<()> {
    build_hosts(lab)?;

    step("two tenants: VLAN 100 on 198.51.100.0/24, VLAN 200 on 203.0.113.0/24 (access ports)");
    add_container_tagged(lab, CONTAINER_100, Some(VLAN_100), Some(NET_200))?;
    add_container_tagged(lab, CONTAINER_200, Some(VLAN_200), Some(NET_100))?;
    add_guest_tagged(lab, GUEST_100, "vnet0", Some(VLAN_100), Some(NET_200))?;
    add_guest_tagged(lab, GUEST_200, "vnet1", Some(VLAN_200), Some(NET_100))?;
    println!(
        "   The GRE ports have no tag: a tunnel is a trunk for every VLAN, as in OVS, and carries\n   \
         each frame with its 802.1Q tag inside GRE. mgmt0 has none either: the hosts' own overlay\n   \
         stays untagged (VLAN 0)."
    );

    step("each tenant pings its own across the tunnel between ct and vm");
    ping_pairs(
        lab,
        &[
            (CONTAINER_100, GUEST_100),
            (GUEST_100, CONTAINER_100),
            (CONTAINER_200, GUEST_200),
            (GUEST_200, CONTAINER_200),
        ],
    )?;

    step("across tenants nothing answers: ARP floods stay inside their VLAN");
    let bm = Endpoint::mgmt0(&HOSTS[0]);
    ping_unanswered(
        lab,
        CONTAINER_100,
        GUEST_200,
        "VLAN 100 does not reach VLAN 200",
    )?;
    ping_unanswered(
        lab,
        GUEST_200,
        CONTAINER_100,
        "VLAN 200 does not reach VLAN 100",
    )?;
    ping_unanswered(
        lab,
        CONTAINER_100,
        CONTAINER_200,
        "one host, one bridge, two VLANs",
    )?;
    ping_unanswered(
        lab,
        CONTAINER_100,
        bm,
        "one subnet, but bm's mgmt0 is untagged",
    )?;

    step("the hosts' own overlay, untagged, is as before");
    let hosts: Vec<Endpoint> = HOSTS.iter().map(Endpoint::mgmt0).collect();
    ping_pairs(lab, &[(hosts[0], hosts[1]), (hosts[0], hosts[2])])?;

    step("what each host learned: one table, each entry in its VLAN (fdb/show br-int)");
    show_fdb(lab)?;
    println!(
        "   ct and vm learned the tenants' MACs in VLAN 100 and 200 on the tunnel between them,\n   \
         and bm learned them on its tunnels too (the floods reached it: a trunk carries every\n   \
         VLAN), but never in a VLAN the workload is not in."
    );
    Ok(())
}
