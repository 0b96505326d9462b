//! The datapath thread's side of path MTU (`crate::pmtu`): clamping SYNs from local ports,
//! answering frames too big for a tunnel, and keeping each bridge's tunnel frame limit.

use std::time::Instant;

use encap::too_big;
use encap::vnet::{self, VnetHeader};
use learning::PortId;

use super::Engine;
use crate::counters::Event;
use crate::forward::{send_system_one, write_tap};
use crate::pmtu;
use crate::port::PortIo;

impl Engine {
    /// Lowers the MSS of a TCP SYN from a local port of a bridge with tunnels, so that its
    /// connection's segments fit the smallest of them (`pmtu`).
    #[inline]
    pub(super) fn clamp_syn(&self, ingress: PortId, frame: &mut [u8], partial: bool) {
        let Some(Some(port)) = self.ports.get(ingress.0 as usize) else {
            return;
        };
        let Some(Some(b)) = self.bridges.get(port.bridge) else {
            return;
        };
        if let (true, Some(limit)) = (b.pmtu.mss_clamp, b.tunnel_frame) {
            pmtu::clamp_syn(frame, limit, partial, &self.events);
        }
    }

    /// Tells the sender of a frame too big for a tunnel carrying at most `limit` bytes, by ICMP
    /// out of the port it came in on, so path MTU discovery works (rate limited per bridge).
    #[cold]
    pub(super) fn answer_too_big(
        &mut self,
        ingress: PortId,
        frame: &[u8],
        limit: u32,
        now: Instant,
    ) {
        let Some(Some(port)) = self.ports.get(ingress.0 as usize) else {
            return;
        };
        let Some(Some(b)) = self.bridges.get_mut(port.bridge) else {
            return;
        };
        if !b.pmtu.icmp_too_big {
            return;
        }
        let mtu = pmtu::ip_mtu(frame, limit);
        let Some(len) = too_big::reply(frame, mtu, &mut self.icmp[vnet::HEADER_LEN..]) else {
            return;
        };
        if !b.icmp_bucket.take(now) {
            self.events.add(Event::TooBigIcmpLimited);
            return;
        }
        VnetHeader::PLAIN.emit(&mut self.icmp[..vnet::HEADER_LEN]);
        let packet = &self.icmp[..vnet::HEADER_LEN + len];
        match &port.io {
            PortIo::Internal(tap) => {
                let bytes = if self.offload {
                    packet
                } else {
                    &packet[vnet::HEADER_LEN..]
                };
                write_tap(tap, &port.counters, bytes, 1, len, &self.drops);
            }
            PortIo::System(system) => send_system_one(
                system,
                &port.counters,
                packet,
                1,
                len,
                &mut self.icmp_scratch,
                &self.drops,
            ),
            PortIo::Tunnel(_) => return,
        }
        self.events.add(Event::TooBigIcmpSent);
    }

    /// Recomputes a bridge's tunnel frame limit (for MSS clamping) after its ports changed.
    pub(super) fn update_tunnel_frame(&mut self, idx: usize) {
        let Some(Some(b)) = self.bridges.get_mut(idx) else {
            return;
        };
        b.tunnel_frame = b
            .ports
            .iter()
            .filter_map(|id| {
                let port = self.ports.get(id.0 as usize)?.as_ref()?;
                port.is_tunnel().then(|| port.view(*id))
            })
            // A large_frames tunnel takes segments of any size: the transport fragments them.
            .filter(|v| !v.whole_gso)
            .filter_map(|v| v.max_frame)
            .min();
    }
}
