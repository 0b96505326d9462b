//! Which Ethernet link a tunnel's packets can leave by without the kernel's IP output path: the
//! interface and MAC the kernel itself resolved for the remote. Read off the fast path (with the
//! path MTU refresh) from the neighbour table (`/proc/net/arp`), so the host's routing and ARP
//! still decide; a remote that is not on-link, not resolved, or behind a non-Ethernet interface
//! has no link and its packets go by the raw socket, as before.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, UdpSocket};

use encap::ethernet::EthernetAddress;

use crate::port::tap::interface_mac;
use crate::sys::EthLink;

/// A tunnel's link and the source address its packets carry (the one the kernel would choose).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub eth: EthLink,
    pub src: Ipv4Addr,
}

/// What the kernel's neighbour table says of a tunnel's remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Neighbour {
    /// Resolved on an Ethernet interface (named): packets can leave by the packet socket.
    Resolved(Link, String),
    /// An entry that is not complete: the kernel is still asking (ARP in progress) or gave up.
    /// Packets to it would wait in the kernel's queue for that neighbour, holding the raw
    /// socket's send buffer, so the datapath sends only a probe now and then.
    Unresolved,
    /// No entry (a remote behind a router, or never sent to): the raw socket lets the kernel
    /// route and resolve.
    Unknown,
}

/// The kernel's IPv4 neighbour table (`/proc/net/arp`), read once for every tunnel's refresh:
/// reading and scanning it per tunnel made a refresh quadratic in the number of tunnels.
#[derive(Debug, Default)]
pub struct NeighbourTable {
    entries: HashMap<Ipv4Addr, Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    /// `None`: the entry is incomplete or failed.
    mac: Option<[u8; 6]>,
    dev: String,
}

impl NeighbourTable {
    /// Reads the table now; empty if it cannot be read.
    pub fn read() -> NeighbourTable {
        std::fs::read_to_string("/proc/net/arp")
            .map(|t| NeighbourTable::parse(&t))
            .unwrap_or_default()
    }

    /// Parses a `/proc/net/arp` table.
    pub fn parse(table: &str) -> NeighbourTable {
        const ATF_COM: u32 = 0x2;
        let entries = table
            .lines()
            .skip(1)
            .filter_map(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                let [addr, _hw_type, flags, mac, _mask, dev] = f[..] else {
                    return None;
                };
                let addr = addr.parse::<Ipv4Addr>().ok()?;
                let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16).ok()?;
                let mac = mac
                    .parse::<EthernetAddress>()
                    .ok()
                    .map(|m| m.0)
                    .filter(|m| flags & ATF_COM != 0 && *m != [0; 6]);
                Some((
                    addr,
                    Entry {
                        mac,
                        dev: dev.to_owned(),
                    },
                ))
            })
            .collect();
        NeighbourTable { entries }
    }

    /// The MAC and interface of `ip`, if its entry is complete.
    fn complete(&self, ip: Ipv4Addr) -> Option<([u8; 6], &str)> {
        let e = self.entries.get(&ip)?;
        Some((e.mac?, e.dev.as_str()))
    }

    /// What the table says of `remote`; `local` is the tunnel's own source address, if set.
    pub fn neighbour(&self, remote: Ipv4Addr, local: Option<Ipv4Addr>) -> Neighbour {
        match self.entries.get(&remote) {
            None => Neighbour::Unknown,
            Some(Entry { mac: None, .. }) => Neighbour::Unresolved,
            // Resolved, but not usable as a link (not Ethernet, no source address): the raw
            // socket still reaches it.
            Some(_) => resolve_in(self, remote, local)
                .map_or(Neighbour::Unknown, |(l, dev)| Neighbour::Resolved(l, dev)),
        }
    }
}

/// The link to `remote` and its interface's name, if the kernel has it resolved on an Ethernet
/// interface.
fn resolve_in(
    table: &NeighbourTable,
    remote: Ipv4Addr,
    local: Option<Ipv4Addr>,
) -> Option<(Link, String)> {
    let (dst_mac, dev) = table.complete(remote)?;
    let src = match local {
        Some(ip) => ip,
        None => source_address(remote).ok()?,
    };
    let sys = |file: &str| std::fs::read_to_string(format!("/sys/class/net/{dev}/{file}"));
    // ARPHRD_ETHER: the frame header is the 14 bytes `EthLink` writes.
    if sys("type").ok()?.trim() != "1" {
        return None;
    }
    let ifindex = sys("ifindex").ok()?.trim().parse().ok()?;
    let src_mac = interface_mac(dev).ok()?;
    let link = Link {
        eth: EthLink::new(ifindex, dst_mac, src_mac),
        src,
    };
    Some((link, dev.to_owned()))
}

/// The source address the kernel would give a packet to `remote` (a UDP socket `connect`ed to
/// it, which sends nothing).
fn source_address(remote: Ipv4Addr) -> io::Result<Ipv4Addr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    socket.connect((remote, 9))?;
    match socket.local_addr()?.ip() {
        std::net::IpAddr::V4(ip) if !ip.is_unspecified() => Ok(ip),
        _ => Err(io::Error::other("no source address")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
IP address       HW type     Flags       HW address            Mask     Device
192.0.2.2        0x1         0x2         52:be:5a:22:d0:c7     *        eth0
192.0.2.3        0x1         0x0         00:00:00:00:00:00     *        eth0
192.0.2.4        0x1         0x6         02:00:00:00:00:04     *        eth1
";

    #[test]
    fn only_complete_entries_count() {
        let t = NeighbourTable::parse(TABLE);
        assert_eq!(
            t.complete(Ipv4Addr::new(192, 0, 2, 2)),
            Some(([0x52, 0xbe, 0x5a, 0x22, 0xd0, 0xc7], "eth0"))
        );
        // Incomplete (ARP in progress or failed): the raw socket lets the kernel resolve it.
        assert_eq!(t.complete(Ipv4Addr::new(192, 0, 2, 3)), None);
        assert_eq!(
            t.complete(Ipv4Addr::new(192, 0, 2, 4)),
            Some(([2, 0, 0, 0, 0, 4], "eth1"))
        );
        assert_eq!(t.complete(Ipv4Addr::new(192, 0, 2, 9)), None);
        let empty = NeighbourTable::parse("");
        assert_eq!(empty.complete(Ipv4Addr::new(192, 0, 2, 2)), None);
    }

    #[test]
    fn an_incomplete_entry_is_unresolved_a_missing_one_unknown() {
        let t = NeighbourTable::parse(&format!(
            "{TABLE}192.0.2.5        0x1         0x2         02:00:00:00:00:05     *        grebe-none0\n"
        ));
        assert_eq!(
            t.neighbour(Ipv4Addr::new(192, 0, 2, 3), None),
            Neighbour::Unresolved
        );
        assert_eq!(
            t.neighbour(Ipv4Addr::new(192, 0, 2, 9), None),
            Neighbour::Unknown
        );
        // Complete, but on an interface this namespace does not have: not a link, and not
        // held back either.
        assert_eq!(
            t.neighbour(
                Ipv4Addr::new(192, 0, 2, 5),
                Some(Ipv4Addr::new(192, 0, 2, 1))
            ),
            Neighbour::Unknown
        );
    }

    #[test]
    fn ethernet_header_is_dst_src_ipv4() {
        let l = EthLink::new(3, [1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]);
        assert_eq!(
            l.header,
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00]
        );
    }
}
