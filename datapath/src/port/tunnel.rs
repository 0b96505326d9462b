//! GRE tunnel ports and the O(1) map from a received packet's (source address, key) to its tunnel.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use encap::OuterHeader;
use foldhash::fast::RandomState;
use learning::PortId;

/// A tunnel's settings, as `set interface gre0 options:...` gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelConfig {
    pub remote_ip: IpAddr,
    pub local_ip: Option<IpAddr>,
    /// RFC 2890 key, sent and required on receipt. Key 0 is the same as no key, as in OVS.
    pub key: Option<u32>,
    pub csum: bool,
    pub seq: bool,
    pub ttl: u8,
    pub tos: u8,
    /// grebe-to-grebe only: a TCP frame the kernel handed over whole (up to 64 KB) crosses the
    /// tunnel as one GRE packet without DF, fragmented by the transport and reassembled by the
    /// peer, instead of as MSS-sized segments. Both ends must set it.
    pub large_frames: bool,
    /// OVS's `options:df_default`: true (the default) sets DF on the outer header, so a frame
    /// larger than the path carries is dropped (and answered by ICMP); false leaves DF clear
    /// and lets the transport fragment the outer packet, which the peer's kernel reassembles.
    pub df_default: bool,
}

/// Why a tunnel's addresses cannot be used (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TunnelAddressError {
    #[error("remote_ip {0} is IPv6: an ip6gre tunnel has no IPv4 ends")]
    NotIpv4(IpAddr),
    #[error(
        "local_ip {local} is not of remote_ip {remote}'s address family: both ends of a tunnel are of one family"
    )]
    MixedFamilies { remote: IpAddr, local: IpAddr },
}

impl TunnelConfig {
    pub fn effective_key(&self) -> Option<u32> {
        self.key.filter(|k| *k != 0)
    }

    /// The tunnel's IPv4 ends (remote, local); an error for an IPv6 tunnel.
    pub fn ipv4_ends(&self) -> Result<(Ipv4Addr, Option<Ipv4Addr>), TunnelAddressError> {
        self.check_families()?;
        match (self.remote_ip, self.local_ip) {
            (IpAddr::V4(remote), None) => Ok((remote, None)),
            (IpAddr::V4(remote), Some(IpAddr::V4(local))) => Ok((remote, Some(local))),
            (remote, _) => Err(TunnelAddressError::NotIpv4(remote)),
        }
    }

    /// The tunnel's `local_ip`, when it is IPv6.
    pub fn local_ipv6(&self) -> Option<Ipv6Addr> {
        match self.local_ip {
            Some(IpAddr::V6(ip)) => Some(ip),
            _ => None,
        }
    }

    /// Both ends are of one family.
    fn check_families(&self) -> Result<(), TunnelAddressError> {
        match self.local_ip {
            Some(local) if local.is_ipv4() != self.remote_ip.is_ipv4() => {
                Err(TunnelAddressError::MixedFamilies {
                    remote: self.remote_ip,
                    local,
                })
            }
            _ => Ok(()),
        }
    }

    /// The outer IPv4 and GRE header the tunnel puts in front of each frame. An IPv6 tunnel
    /// gets an IPv4 header with no addresses, which carries the hop limit and traffic class to
    /// the IPv6 socket: that socket sends from the GRE header on, the kernel writing the IPv6
    /// header (see `sys::raw6`).
    pub fn outer_header(&self) -> Result<OuterHeader, TunnelAddressError> {
        self.check_families()?;
        let (remote, local) = self.ipv4_ends().unwrap_or((Ipv4Addr::UNSPECIFIED, None));
        Ok(OuterHeader {
            src: local.unwrap_or(Ipv4Addr::UNSPECIFIED),
            dst: remote,
            ttl: self.ttl,
            tos: self.tos,
            // As OVS: the transport fragments a tunnel packet only if asked to.
            dont_frag: self.df_default,
            key: self.effective_key(),
            csum: self.csum,
            seq: self.seq,
        })
    }

    /// Bytes the tunnel adds in front of an inner Ethernet frame, Ethernet header included:
    /// what an internal port's MTU must leave room for.
    pub fn overhead(&self) -> u32 {
        let ip = match self.remote_ip {
            IpAddr::V4(_) => encap::ipv4::HEADER_LEN,
            IpAddr::V6(_) => 40,
        };
        let gre = 4
            + 4 * (usize::from(self.csum) + usize::from(self.effective_key().is_some()))
            + 4 * usize::from(self.seq);
        (ip + gre + encap::ethernet::HEADER_LEN) as u32
    }
}

pub struct TunnelPort {
    pub(crate) config: TunnelConfig,
    pub(crate) header: OuterHeader,
    pub(crate) next_seq: u32,
    /// Largest outer packet the route to the remote takes; bigger frames are dropped (DF).
    pub(crate) path_mtu: u32,
    /// The Ethernet link packets leave by, when the remote is on-link and resolved (see
    /// `port::link`); `None`: by the raw socket.
    pub(crate) link: Option<crate::port::link::Link>,
    /// Send the next packet by the raw socket even with a link: the kernel then sees traffic to
    /// the remote and keeps its neighbour entry fresh (probing it, noticing a changed MAC).
    pub(crate) probe_raw: bool,
    /// The kernel has no answer for the remote's MAC (its neighbour entry is incomplete or
    /// failed): only a probe now and then goes out, by the raw socket, so that the kernel keeps
    /// asking; the rest are dropped and counted. Sent anyway, they would wait in the kernel's
    /// queue for the neighbour, holding the shared raw socket's send buffer from every tunnel.
    pub(crate) unresolved: bool,
}

impl TunnelPort {
    /// Counts a sent packet against the RFC 2890 sequence number, when the tunnel sends one.
    #[inline]
    pub(crate) fn advance_seq(&mut self) {
        if self.config.seq {
            self.next_seq = self.next_seq.wrapping_add(1);
        }
    }

    /// A tunnel port for `config`; fails for addresses the datapath cannot send to.
    /// The longest inner frame one packet of the tunnel carries whole on its path.
    #[inline]
    pub(crate) fn max_frame(&self) -> u32 {
        self.path_mtu.saturating_sub(self.wire_header_len())
    }

    /// Whether packets too big for the path leave through the socket whose kernel writes and
    /// fragments the outer header (`large_frames`, `df_default=false`).
    pub(crate) fn needs_fragmenting(&self) -> bool {
        self.config.large_frames || !self.config.df_default
    }

    pub fn new(config: TunnelConfig, path_mtu: u32) -> Result<Self, TunnelAddressError> {
        Ok(TunnelPort {
            header: config.outer_header()?,
            config,
            next_seq: 0,
            path_mtu,
            link: None,
            probe_raw: false,
            unresolved: false,
        })
    }

    /// Where its packets go.
    #[inline]
    pub(crate) fn remote(&self) -> IpAddr {
        self.config.remote_ip
    }

    /// Bytes of outer header on the wire: an IPv6 tunnel's 40-byte header replaces the 20-byte
    /// IPv4 one in `header`.
    #[inline]
    pub(crate) fn wire_header_len(&self) -> u32 {
        let extra = if self.config.remote_ip.is_ipv6() {
            encap::ipv6::HEADER_LEN - encap::ipv4::HEADER_LEN
        } else {
            0
        };
        (self.header.len() + extra) as u32
    }

    /// Sends by `link` from now on (or by the raw socket, with `None`). Packets on a link carry
    /// the source address themselves, since no kernel fills it in.
    pub(crate) fn set_link(&mut self, link: Option<crate::port::link::Link>) {
        self.link = link;
        let local = self.config.ipv4_ends().ok().and_then(|(_, local)| local);
        self.header.src = match (local, link) {
            (Some(ip), _) => ip,
            (None, Some(l)) => l.src,
            (None, None) => Ipv4Addr::UNSPECIFIED,
        };
    }
}

/// Received GRE → tunnel port, by (outer source, key).
#[derive(Default)]
pub struct TunnelMap {
    /// IPv4 remotes by [`remote_key`]: one integer, hashed in one step.
    by_remote_key: HashMap<u64, PortId, RandomState>,
    /// IPv6 remotes, by address and key (0 for none).
    by_remote_key_v6: HashMap<(Ipv6Addr, u32), PortId, RandomState>,
    /// How many tunnels each remote has: tells "wrong key" from "unknown sender".
    remotes: HashMap<IpAddr, u32, RandomState>,
}

/// Why a received packet has no tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoTunnel {
    UnknownRemote,
    KeyMismatch,
}

/// The map key for an IPv4 remote and a key: the address in the high half, the key in the low
/// half. Key 0 is the same as no key (as in OVS), so `None` and `Some(0)` are one tunnel and one
/// integer.
#[inline]
fn remote_key(remote: Ipv4Addr, key: Option<u32>) -> u64 {
    (u64::from(remote.to_bits()) << 32) | u64::from(key.unwrap_or(0))
}

impl TunnelMap {
    #[inline]
    fn get(&self, remote: IpAddr, key: Option<u32>) -> Option<PortId> {
        match remote {
            IpAddr::V4(ip) => self.by_remote_key.get(&remote_key(ip, key)).copied(),
            IpAddr::V6(ip) => self.by_remote_key_v6.get(&(ip, key.unwrap_or(0))).copied(),
        }
    }

    /// Fails (returning the holder) if another tunnel already has this remote and key.
    pub fn insert(&mut self, config: &TunnelConfig, port: PortId) -> Result<(), PortId> {
        if let Some(other) = self.get(config.remote_ip, config.key) {
            if other != port {
                return Err(other);
            }
            return Ok(());
        }
        match config.remote_ip {
            IpAddr::V4(ip) => {
                self.by_remote_key.insert(remote_key(ip, config.key), port);
            }
            IpAddr::V6(ip) => {
                self.by_remote_key_v6
                    .insert((ip, config.key.unwrap_or(0)), port);
            }
        }
        *self.remotes.entry(config.remote_ip).or_default() += 1;
        Ok(())
    }

    pub fn remove(&mut self, config: &TunnelConfig, port: PortId) {
        if self.get(config.remote_ip, config.key) != Some(port) {
            return;
        }
        match config.remote_ip {
            IpAddr::V4(ip) => {
                self.by_remote_key.remove(&remote_key(ip, config.key));
            }
            IpAddr::V6(ip) => {
                self.by_remote_key_v6.remove(&(ip, config.key.unwrap_or(0)));
            }
        }
        if let Some(n) = self.remotes.get_mut(&config.remote_ip) {
            *n -= 1;
            if *n == 0 {
                self.remotes.remove(&config.remote_ip);
            }
        }
    }

    #[inline]
    pub fn lookup(&self, src: IpAddr, key: Option<u32>) -> Result<PortId, NoTunnel> {
        match self.get(src, key) {
            Some(p) => Ok(p),
            None if self.remotes.contains_key(&src) => Err(NoTunnel::KeyMismatch),
            None => Err(NoTunnel::UnknownRemote),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(remote: [u8; 4], key: Option<u32>) -> TunnelConfig {
        TunnelConfig {
            remote_ip: Ipv4Addr::from(remote).into(),
            local_ip: None,
            key,
            csum: false,
            seq: false,
            ttl: 64,
            tos: 0,
            large_frames: false,
            df_default: true,
        }
    }

    #[test]
    fn lookup_tells_unknown_sender_from_wrong_key() {
        let mut m = TunnelMap::default();
        m.insert(&cfg([192, 0, 2, 15], Some(5)), PortId(1)).unwrap();
        m.insert(&cfg([192, 0, 2, 16], None), PortId(2)).unwrap();
        let a = Ipv4Addr::new(192, 0, 2, 15).into();
        let b = Ipv4Addr::new(192, 0, 2, 16).into();
        assert_eq!(m.lookup(a, Some(5)), Ok(PortId(1)));
        assert_eq!(m.lookup(a, None), Err(NoTunnel::KeyMismatch));
        assert_eq!(m.lookup(b, None), Ok(PortId(2)));
        assert_eq!(m.lookup(b, Some(0)), Ok(PortId(2)), "key 0 is no key");
        assert_eq!(
            m.lookup(Ipv4Addr::new(192, 0, 2, 99).into(), None),
            Err(NoTunnel::UnknownRemote)
        );
        m.remove(&cfg([192, 0, 2, 15], Some(5)), PortId(1));
        assert_eq!(m.lookup(a, Some(5)), Err(NoTunnel::UnknownRemote));
    }

    #[test]
    fn duplicate_remote_and_key_is_refused() {
        let mut m = TunnelMap::default();
        m.insert(&cfg([192, 0, 2, 15], None), PortId(1)).unwrap();
        assert_eq!(
            m.insert(&cfg([192, 0, 2, 15], Some(0)), PortId(2)),
            Err(PortId(1))
        );
        assert!(m.insert(&cfg([192, 0, 2, 15], Some(7)), PortId(3)).is_ok());
    }

    #[test]
    fn an_ipv6_tunnel_has_a_gre_header_and_its_own_map() {
        let v6: IpAddr = "2001:db8::15".parse().unwrap();
        let mut c = cfg([192, 0, 2, 15], Some(5));
        c.remote_ip = v6;
        (c.ttl, c.tos) = (9, 0x20);
        let header = c.outer_header().unwrap();
        // The IPv4 header only carries the hop limit and traffic class to the IPv6 socket.
        assert_eq!(header.dst, Ipv4Addr::UNSPECIFIED);
        assert_eq!((header.ttl, header.tos, header.key), (9, 0x20, Some(5)));
        let t = TunnelPort::new(c, 1500).unwrap();
        assert_eq!(t.remote(), v6);
        assert_eq!(t.wire_header_len(), 40 + 8);
        assert_eq!(t.max_frame(), 1500 - 48);
        assert_eq!(c.overhead(), 40 + 8 + 14);
        let mut mixed = cfg([192, 0, 2, 15], None);
        mixed.local_ip = Some(v6);
        assert!(matches!(
            mixed.outer_header(),
            Err(TunnelAddressError::MixedFamilies { .. })
        ));
        assert!(TunnelPort::new(mixed, 1500).is_err());
        // The map keeps IPv6 remotes apart from IPv4 ones.
        let mut m = TunnelMap::default();
        m.insert(&c, PortId(1)).unwrap();
        assert_eq!(m.lookup(v6, Some(5)), Ok(PortId(1)));
        assert_eq!(m.lookup(v6, Some(3)), Err(NoTunnel::KeyMismatch));
        m.remove(&c, PortId(1));
        assert_eq!(m.lookup(v6, Some(5)), Err(NoTunnel::UnknownRemote));
    }

    #[test]
    fn overhead_is_the_outer_header_and_ethernet() {
        for (key, csum, seq) in [
            (None, false, false),
            (Some(5), true, true),
            (Some(0), true, false),
        ] {
            let mut c = cfg([192, 0, 2, 15], key);
            (c.csum, c.seq) = (csum, seq);
            let header = c.outer_header().unwrap();
            assert_eq!(c.overhead() as usize, header.len() + 14);
        }
    }

    #[test]
    fn overhead_matches_the_classic_mtu() {
        assert_eq!(1500 - cfg([192, 0, 2, 15], None).overhead(), 1462);
        assert_eq!(1500 - cfg([192, 0, 2, 15], Some(1)).overhead(), 1458);
    }
}
