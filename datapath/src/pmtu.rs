//! Path MTU for workloads that keep their 1500-byte MTU behind a tunnel that carries less: TCP
//! SYNs entering a tunnel get their MSS lowered (`encap::mss`), and a frame too big for its
//! tunnel is answered with the ICMP error path MTU discovery needs (`encap::too_big`), at most
//! `ICMP_RATE` a second per bridge. The rules are encap's; this module holds the bridge's
//! settings, the rate limit, and the MTU arithmetic between a frame limit and an IP MTU.

use std::time::{Duration, Instant};

use crate::counters::{Event, EventCounters};

/// A bridge's path MTU helpers, both on by default (`other_config:mss-clamp=false`,
/// `other_config:icmp-too-big=false` turn each off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PmtuSettings {
    pub mss_clamp: bool,
    pub icmp_too_big: bool,
}

impl Default for PmtuSettings {
    fn default() -> Self {
        PmtuSettings {
            mss_clamp: true,
            icmp_too_big: true,
        }
    }
}

/// ICMP errors a bridge sends per second at most, and in one burst: a sender retrying a large
/// datagram must not turn the switch into an ICMP flood.
const ICMP_RATE: u32 = 100;
const ICMP_BURST: u32 = 100;

/// A token bucket: `take` says whether one more answer may go now.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenBucket {
    tokens: u32,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn new(now: Instant) -> TokenBucket {
        TokenBucket {
            tokens: ICMP_BURST,
            last: now,
        }
    }

    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let per_token = Duration::from_secs(1) / ICMP_RATE;
        let elapsed = now.saturating_duration_since(self.last);
        let earned = (elapsed.as_nanos() / per_token.as_nanos()) as u64;
        if earned > 0 {
            self.tokens = (u64::from(self.tokens) + earned).min(u64::from(ICMP_BURST)) as u32;
            // Keep the fraction of a token already earned.
            self.last += per_token * earned.min(u64::from(u32::MAX)) as u32;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

/// The largest IP packet a port that carries frames of at most `max_frame` bytes takes for
/// `frame`: less its Ethernet header and 802.1Q tag.
#[inline]
pub(crate) fn ip_mtu(frame: &[u8], max_frame: u32) -> u16 {
    let l2 = match frame.get(12..14) {
        Some([0x81, 0x00] | [0x88, 0xa8]) => 18,
        _ => 14,
    };
    max_frame.saturating_sub(l2).min(u32::from(u16::MAX)) as u16
}

/// Lowers the MSS of a TCP SYN that may enter a tunnel carrying frames of at most
/// `tunnel_frame` bytes; `partial`: its checksum is still to be completed (left alone).
#[inline]
pub(crate) fn clamp_syn(
    frame: &mut [u8],
    tunnel_frame: u32,
    partial: bool,
    events: &EventCounters,
) {
    let mtu = ip_mtu(frame, tunnel_frame);
    if let encap::mss::Clamp::Clamped { .. } = encap::mss::clamp(frame, mtu, partial) {
        events.add(Event::MssClamped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(t0);
        assert_eq!((0..200).filter(|_| b.take(t0)).count(), ICMP_BURST as usize);
        assert!(!b.take(t0 + Duration::from_millis(5)), "half a token");
        assert!(
            b.take(t0 + Duration::from_millis(10)),
            "one token after 1/RATE s"
        );
        let later = t0 + Duration::from_secs(60);
        assert_eq!(
            (0..200).filter(|_| b.take(later)).count(),
            ICMP_BURST as usize
        );
    }

    #[test]
    fn the_ip_mtu_leaves_room_for_the_ethernet_header_and_tag() {
        let mut frame = [0u8; 18];
        assert_eq!(ip_mtu(&frame, 1476), 1462);
        frame[12..14].copy_from_slice(&[0x81, 0x00]);
        assert_eq!(ip_mtu(&frame, 1476), 1458);
        assert_eq!(ip_mtu(&[], 10), 0);
    }
}
