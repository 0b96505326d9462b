//! A frame's first steps on a bridge: ingress checks, learning the source, looking up the
//! destination. No IO: `decide` takes bytes and a clock reading and says what to do, so tests and
//! benchmarks drive it with byte arrays, as the Linux bridge's `br_handle_frame_finish` does.

use std::time::Instant;

use encap::ethernet::Frame;
use learning::{PortId, SharedMacTable};

use crate::counters::DropReason;

/// What the bridge does with one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The destination is known on this port.
    Unicast(PortId),
    /// Broadcast, multicast or unknown destination: every port but the ingress one (and, with
    /// split horizon, no tunnel when the frame came from a tunnel).
    Flood,
    Drop(DropReason),
}

/// IEEE 802.1D reserved group addresses 01:80:c2:00:00:00..0f: bridges do not forward them.
#[inline]
fn is_link_local(mac: [u8; 6]) -> bool {
    mac[..5] == [0x01, 0x80, 0xc2, 0x00, 0x00] && mac[5] & 0xf0 == 0
}

/// Learns the frame's source on `ingress` and decides where the frame goes.
#[inline]
pub fn decide(table: &SharedMacTable, ingress: PortId, frame: &[u8], now: Instant) -> Verdict {
    let Ok(frame) = Frame::new_checked(frame) else {
        return Verdict::Drop(DropReason::FrameTruncated);
    };
    let src = frame.src_addr();
    // Learn only from valid sources, "after filtering to avoid spoofing" (br_input.c).
    if src.is_multicast() || src.is_zero() {
        return Verdict::Drop(DropReason::InvalidSourceMac);
    }
    let dst = frame.dst_addr();
    // Reserved addresses are group addresses: a unicast destination is ruled out by one bit.
    if dst.is_multicast() && is_link_local(dst.0) {
        return Verdict::Drop(DropReason::LinkLocal);
    }
    // Learn, then look up a unicast destination, under one lock.
    let unicast = (!dst.is_multicast()).then_some(dst.0);
    match table.learn_and_lookup(src.0, ingress, unicast, now) {
        (_, Some(port)) if port == ingress => Verdict::Drop(DropReason::SamePort),
        (_, Some(port)) => Verdict::Unicast(port),
        (_, None) => Verdict::Flood,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use learning::Config;
    use std::time::Duration;

    const A: [u8; 6] = [0x02, 0, 0, 0, 0, 0xa];
    const B: [u8; 6] = [0x02, 0, 0, 0, 0, 0xb];

    fn frame(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        f[..6].copy_from_slice(&dst);
        f[6..12].copy_from_slice(&src);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f
    }

    #[test]
    fn unknown_destination_floods_then_reply_is_unicast() {
        let t = SharedMacTable::new(Config::default());
        let now = Instant::now();
        assert_eq!(decide(&t, PortId(1), &frame(B, A), now), Verdict::Flood);
        assert_eq!(
            decide(&t, PortId(2), &frame(A, B), now),
            Verdict::Unicast(PortId(1))
        );
        assert_eq!(
            decide(&t, PortId(1), &frame(B, A), now),
            Verdict::Unicast(PortId(2))
        );
    }

    #[test]
    fn broadcast_floods_and_still_learns() {
        let t = SharedMacTable::new(Config::default());
        let now = Instant::now();
        assert_eq!(
            decide(&t, PortId(3), &frame([0xff; 6], A), now),
            Verdict::Flood
        );
        assert_eq!(t.lookup(A, now), Some(PortId(3)));
    }

    #[test]
    fn invalid_sources_are_dropped_and_not_learned() {
        let t = SharedMacTable::new(Config::default());
        let now = Instant::now();
        for src in [[0xff; 6], [0x01, 0, 0x5e, 0, 0, 1], [0; 6]] {
            assert_eq!(
                decide(&t, PortId(1), &frame(B, src), now),
                Verdict::Drop(DropReason::InvalidSourceMac)
            );
            assert_eq!(t.lookup(src, now), None);
        }
    }

    #[test]
    fn reserved_link_local_destinations_are_not_forwarded() {
        let t = SharedMacTable::new(Config::default());
        let stp = [0x01, 0x80, 0xc2, 0, 0, 0];
        assert_eq!(
            decide(&t, PortId(1), &frame(stp, A), Instant::now()),
            Verdict::Drop(DropReason::LinkLocal)
        );
        let not_reserved = [0x01, 0x80, 0xc2, 0, 0, 0x10];
        assert_eq!(
            decide(&t, PortId(1), &frame(not_reserved, A), Instant::now()),
            Verdict::Flood
        );
    }

    #[test]
    fn destination_on_the_ingress_port_is_dropped() {
        let t = SharedMacTable::new(Config::default());
        let now = Instant::now();
        decide(&t, PortId(1), &frame(B, A), now);
        decide(&t, PortId(1), &frame(A, B), now);
        assert_eq!(
            decide(&t, PortId(1), &frame(B, A), now),
            Verdict::Drop(DropReason::SamePort)
        );
    }

    #[test]
    fn short_frame_is_dropped() {
        let t = SharedMacTable::new(Config::default());
        assert_eq!(
            decide(&t, PortId(1), &[0u8; 13], Instant::now()),
            Verdict::Drop(DropReason::FrameTruncated)
        );
    }

    #[test]
    fn aged_destination_floods_again() {
        let t = SharedMacTable::new(Config {
            max_entries: 16,
            ageing: Duration::from_secs(15),
        });
        let t0 = Instant::now();
        decide(&t, PortId(1), &frame(B, A), t0);
        assert_eq!(
            decide(&t, PortId(2), &frame(A, B), t0),
            Verdict::Unicast(PortId(1))
        );
        let later = t0 + Duration::from_secs(16);
        assert_eq!(decide(&t, PortId(2), &frame(A, B), later), Verdict::Flood);
    }
}
