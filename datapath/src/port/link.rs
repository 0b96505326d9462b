//! Which Ethernet link a tunnel's packets can leave by without the kernel's IP output path: the
//! interface and MAC the kernel itself resolved for the remote. Read off the fast path (with the
//! path MTU refresh) from the neighbour table (`/proc/net/arp`), so the host's routing and ARP
//! still decide; a remote that is not on-link, not resolved, or behind a non-Ethernet interface
//! has no link and its packets go by the raw socket, as before.

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

/// The link to `remote` and its interface's name, if the kernel has it resolved on an Ethernet
/// interface.
pub fn resolve(remote: Ipv4Addr, local: Option<Ipv4Addr>) -> Option<(Link, String)> {
    let src = match local {
        Some(ip) => ip,
        None => source_address(remote).ok()?,
    };
    let table = std::fs::read_to_string("/proc/net/arp").ok()?;
    let (dst_mac, dev) = neighbour(&table, remote)?;
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

/// The MAC and interface of `ip` in a `/proc/net/arp` table, if the entry is complete.
fn neighbour(table: &str, ip: Ipv4Addr) -> Option<([u8; 6], &str)> {
    const ATF_COM: u32 = 0x2;
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [addr, _hw_type, flags, mac, _mask, dev] = f[..] else {
            return None;
        };
        if addr.parse::<Ipv4Addr>().ok()? != ip {
            return None;
        }
        let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16).ok()?;
        let mac = mac.parse::<EthernetAddress>().ok()?.0;
        (flags & ATF_COM != 0 && mac != [0; 6]).then_some((mac, dev))
    })
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
        assert_eq!(
            neighbour(TABLE, Ipv4Addr::new(192, 0, 2, 2)),
            Some(([0x52, 0xbe, 0x5a, 0x22, 0xd0, 0xc7], "eth0"))
        );
        // Incomplete (ARP in progress or failed): the raw socket lets the kernel resolve it.
        assert_eq!(neighbour(TABLE, Ipv4Addr::new(192, 0, 2, 3)), None);
        assert_eq!(
            neighbour(TABLE, Ipv4Addr::new(192, 0, 2, 4)),
            Some(([2, 0, 0, 0, 0, 4], "eth1"))
        );
        assert_eq!(neighbour(TABLE, Ipv4Addr::new(192, 0, 2, 9)), None);
        assert_eq!(neighbour("", Ipv4Addr::new(192, 0, 2, 2)), None);
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
