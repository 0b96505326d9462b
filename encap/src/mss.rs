//! TCP MSS clamping: a SYN entering a tunnel has its maximum segment size option lowered to
//! what the tunnel carries, so a workload with a 1500-byte MTU never sends a segment the tunnel
//! must drop (the overlay MTU black hole). IPv4 and IPv6, with one 802.1Q tag or none.
//!
//! The TCP checksum is updated incrementally (RFC 1624), unless the frame's checksum is still
//! to be completed (a virtio-net header with NEEDS_CSUM): then the checksum field holds only
//! the pseudo-header sum, and whoever completes it sums the new option bytes anyway.

use crate::bytes::{read_u16, write_u16};

/// Offsets in the headers this module reads.
mod field {
    use core::ops::Range;
    /// IPv4: version and header length; protocol; fragment offset and flags.
    pub const IPV4_VER_IHL: usize = 0;
    pub const IPV4_FRAG: Range<usize> = 6..8;
    pub const IPV4_PROTOCOL: usize = 9;
    /// IPv6: the next header of the fixed header, and its length.
    pub const IPV6_NEXT_HEADER: usize = 6;
    pub const IPV6_HEADER_LEN: usize = 40;
    /// TCP: data offset (high nibble) and flags; checksum; options start.
    pub const TCP_DATA_OFFSET: usize = 12;
    pub const TCP_FLAGS: usize = 13;
    pub const TCP_CHECKSUM: Range<usize> = 16..18;
    pub const TCP_OPTIONS: usize = 20;
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const PROTOCOL_TCP: u8 = 6;
const TCP_SYN: u8 = 0x02;
const OPTION_END: u8 = 0;
const OPTION_NOP: u8 = 1;
const OPTION_MSS: u8 = 2;
/// An IPv4 header without options and a TCP header without options: MTU minus this is the MSS.
pub const IPV4_TCP_HEADERS: u16 = 20 + 20;
/// The same for IPv6 (RFC 8200's fixed header, no extension headers).
pub const IPV6_TCP_HEADERS: u16 = 40 + 20;

/// What clamping did to a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clamp {
    /// Not a TCP SYN over IPv4 or IPv6 (or a fragment, or a SYN without an MSS option).
    NotSyn,
    /// A SYN whose MSS was already small enough.
    Unchanged,
    /// The MSS option was lowered.
    Clamped { from: u16, to: u16 },
}

/// Lowers the MSS option of a TCP SYN in the Ethernet `frame` to `mtu` minus the IP and TCP
/// headers (`mtu`: the largest IP packet the tunnel carries for this frame). `partial`: the
/// TCP checksum is still to be completed, so it is left alone. Never panics; a frame too short
/// for what its headers claim is left untouched.
pub fn clamp(frame: &mut [u8], mtu: u16, partial: bool) -> Clamp {
    let Some((ethertype, l3)) = crate::vlan::payload_type(frame) else {
        return Clamp::NotSyn;
    };
    let ip = &frame[l3..];
    let (l4, max_mss) = match ethertype {
        ETHERTYPE_IPV4 => {
            let Some(&ver_ihl) = ip.get(field::IPV4_VER_IHL) else {
                return Clamp::NotSyn;
            };
            let ihl = usize::from(ver_ihl & 0x0f) * 4;
            let first_fragment = ip
                .get(field::IPV4_FRAG)
                .is_some_and(|f| u16::from_be_bytes([f[0], f[1]]) & 0x1fff == 0);
            if ver_ihl >> 4 != 4
                || ihl < 20
                || !first_fragment
                || ip.get(field::IPV4_PROTOCOL) != Some(&PROTOCOL_TCP)
            {
                return Clamp::NotSyn;
            }
            (l3 + ihl, mtu.saturating_sub(IPV4_TCP_HEADERS))
        }
        ETHERTYPE_IPV6 => {
            // A SYN behind extension headers is rare enough to pass unclamped.
            if ip.first().map(|b| b >> 4) != Some(6)
                || ip.get(field::IPV6_NEXT_HEADER) != Some(&PROTOCOL_TCP)
            {
                return Clamp::NotSyn;
            }
            (
                l3 + field::IPV6_HEADER_LEN,
                mtu.saturating_sub(IPV6_TCP_HEADERS),
            )
        }
        _ => return Clamp::NotSyn,
    };
    let Some(tcp) = frame.get_mut(l4..) else {
        return Clamp::NotSyn;
    };
    if tcp.len() < field::TCP_OPTIONS || tcp[field::TCP_FLAGS] & TCP_SYN == 0 {
        return Clamp::NotSyn;
    }
    let header_len = usize::from(tcp[field::TCP_DATA_OFFSET] >> 4) * 4;
    if header_len < field::TCP_OPTIONS || header_len > tcp.len() {
        return Clamp::NotSyn;
    }
    let Some(at) = mss_option(&tcp[field::TCP_OPTIONS..header_len]) else {
        return Clamp::NotSyn;
    };
    let at = field::TCP_OPTIONS + at;
    let from = read_u16(tcp, at..at + 2);
    if from <= max_mss {
        return Clamp::Unchanged;
    }
    write_u16(tcp, at..at + 2, max_mss);
    if !partial {
        // The checksum sums 16-bit words from the (even) start of the TCP header: a value at
        // an odd offset (after a NOP) straddles two words and counts byte-swapped.
        let (old, new) = if at % 2 == 0 {
            (from, max_mss)
        } else {
            (from.swap_bytes(), max_mss.swap_bytes())
        };
        let sum = read_u16(tcp, field::TCP_CHECKSUM);
        write_u16(tcp, field::TCP_CHECKSUM, adjust(sum, old, new));
    }
    Clamp::Clamped { from, to: max_mss }
}

/// Where the MSS option's 16-bit value stands in `options`, if there is a well-formed one.
fn mss_option(options: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < options.len() {
        match options[i] {
            OPTION_END => return None,
            OPTION_NOP => i += 1,
            kind => {
                let len = usize::from(*options.get(i + 1)?);
                if len < 2 || i + len > options.len() {
                    return None;
                }
                if kind == OPTION_MSS {
                    return (len == 4).then_some(i + 2);
                }
                i += len;
            }
        }
    }
    None
}

/// RFC 1624's incremental update of a ones'-complement checksum `sum` when a 16-bit word
/// changes from `old` to `new`: HC' = ~(~HC + ~m + m').
fn adjust(sum: u16, old: u16, new: u16) -> u16 {
    let mut s = u32::from(!sum) + u32::from(!old) + u32::from(new);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    !(s as u16)
}

#[cfg(test)]
mod tests_support {
    use super::*;
    use crate::checksum;

    /// An Ethernet frame with a TCP SYN carrying `options`, over IPv4 or IPv6, checksum right.
    pub fn syn(v6: bool, tag: bool, options: &[u8]) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
        if tag {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 100]);
        }
        let tcp_len = 20 + options.len();
        let (src, dst): (Vec<u8>, Vec<u8>);
        if v6 {
            f.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
            f.extend_from_slice(&[0x60, 0, 0, 0]);
            f.extend_from_slice(&(tcp_len as u16).to_be_bytes());
            f.extend_from_slice(&[PROTOCOL_TCP, 64]);
            src = [0x20, 0x01, 0x0d, 0xb8]
                .iter()
                .chain(&[0; 11])
                .chain(&[1])
                .copied()
                .collect();
            dst = [0x20, 0x01, 0x0d, 0xb8]
                .iter()
                .chain(&[0; 11])
                .chain(&[2])
                .copied()
                .collect();
            f.extend_from_slice(&src);
            f.extend_from_slice(&dst);
        } else {
            f.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
            let total = (20 + tcp_len) as u16;
            let mut ip = vec![0x45, 0];
            ip.extend_from_slice(&total.to_be_bytes());
            ip.extend_from_slice(&[0, 1, 0x40, 0, 64, PROTOCOL_TCP, 0, 0]);
            src = vec![198, 51, 100, 1];
            dst = vec![198, 51, 100, 2];
            ip.extend_from_slice(&src);
            ip.extend_from_slice(&dst);
            let c = checksum::data(&ip);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            f.extend_from_slice(&ip);
        }
        let mut tcp = vec![0x9c, 0x40, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0];
        tcp.push(((tcp_len / 4) as u8) << 4);
        tcp.extend_from_slice(&[TCP_SYN, 0xff, 0xff, 0, 0, 0, 0]);
        tcp.extend_from_slice(options);
        let c = tcp_checksum(&src, &dst, &tcp);
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&tcp);
        f
    }

    pub fn tcp_checksum(src: &[u8], dst: &[u8], tcp: &[u8]) -> u16 {
        let mut pseudo = [src, dst].concat();
        pseudo.extend_from_slice(&[0, PROTOCOL_TCP]);
        pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
        checksum::fold(checksum::sum(tcp, checksum::sum(&pseudo, 0)))
    }

    /// Whether the frame's TCP checksum verifies.
    pub fn checksum_ok(f: &[u8], v6: bool, tag: bool) -> bool {
        let l3 = if tag { 18 } else { 14 };
        let (src, dst, l4) = if v6 {
            (&f[l3 + 8..l3 + 24], &f[l3 + 24..l3 + 40], l3 + 40)
        } else {
            (&f[l3 + 12..l3 + 16], &f[l3 + 16..l3 + 20], l3 + 20)
        };
        let mut tcp = f[l4..].to_vec();
        let stored = u16::from_be_bytes([tcp[16], tcp[17]]);
        tcp[16..18].fill(0);
        tcp_checksum(src, dst, &tcp) == stored
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
    use super::*;

    const OPTIONS: [u8; 12] = [2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0]; // MSS 1460, NOP, WS, SACK

    #[test]
    fn a_1460_syn_is_clamped_to_what_the_tunnel_carries_with_a_good_checksum() {
        for (v6, tag) in [(false, false), (false, true), (true, false), (true, true)] {
            let mut f = syn(v6, tag, &OPTIONS);
            let want = if v6 { 1462 - 60 } else { 1462 - 40 };
            assert_eq!(
                clamp(&mut f, 1462, false),
                Clamp::Clamped {
                    from: 1460,
                    to: want
                },
                "v6 {v6} tag {tag}"
            );
            let at = f.len() - 12 + 2;
            assert_eq!(u16::from_be_bytes([f[at], f[at + 1]]), want);
            assert!(checksum_ok(&f, v6, tag), "v6 {v6} tag {tag}");
            assert_eq!(clamp(&mut f, 1462, false), Clamp::Unchanged, "idempotent");
        }
    }

    /// Found by fuzzing (fuzz target mss_clamp): after one NOP the MSS value sits at an odd
    /// offset, where the checksum sums it as a byte-swapped word.
    #[test]
    fn an_mss_at_an_odd_offset_keeps_the_checksum_valid() {
        for (v6, tag) in [(false, false), (false, true), (true, false), (true, true)] {
            let mut f = syn(v6, tag, &[1, 2, 4, 0x05, 0xb4, 1, 1, 1]);
            assert!(checksum_ok(&f, v6, tag));
            assert!(matches!(
                clamp(&mut f, 1400, false),
                Clamp::Clamped { from: 1460, .. }
            ));
            assert!(checksum_ok(&f, v6, tag), "v6 {v6} tag {tag}");
        }
    }

    #[test]
    fn a_partial_checksum_is_left_for_whoever_completes_it() {
        let mut f = syn(false, false, &OPTIONS);
        let before = f[14 + 20 + 16..14 + 20 + 18].to_vec();
        assert!(matches!(
            clamp(&mut f, 1400, true),
            Clamp::Clamped { to: 1360, .. }
        ));
        assert_eq!(f[14 + 20 + 16..14 + 20 + 18], before[..]);
    }

    #[test]
    fn what_is_not_a_syn_with_an_mss_passes_untouched() {
        let mut no_mss = syn(false, false, &[1, 1, 1, 1]);
        let mut ack = syn(false, false, &OPTIONS);
        ack[14 + 20 + 13] = 0x10;
        let mut fragment = syn(false, false, &OPTIONS);
        fragment[14 + 6] = 0x20;
        fragment[14 + 7] = 0x10;
        let mut bad_option = syn(false, false, &[2, 9, 5, 0xb4]);
        for (name, f) in [
            ("no mss", &mut no_mss),
            ("ack", &mut ack),
            ("fragment", &mut fragment),
            ("bad option", &mut bad_option),
        ] {
            let before = f.clone();
            assert_eq!(clamp(f, 1000, false), Clamp::NotSyn, "{name}");
            assert_eq!(*f, before, "{name}");
        }
        assert_eq!(clamp(&mut [0u8; 3], 1000, false), Clamp::NotSyn);
    }

    #[test]
    fn no_prefix_of_a_syn_panics() {
        let f = syn(true, true, &OPTIONS);
        for n in 0..f.len() {
            let mut cut = f[..n].to_vec();
            let _ = clamp(&mut cut, 1000, false);
        }
    }
}

#[cfg(test)]
mod properties {
    use super::tests_support::*;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_clamp_keeps_the_checksum_and_never_raises_the_mss(
            mss in 0u16.., mtu in 0u16.., v6: bool, tag: bool,
        ) {
            let mut options = [2, 4, 0, 0, 1, 1, 1, 0];
            options[2..4].copy_from_slice(&mss.to_be_bytes());
            let mut f = syn(v6, tag, &options);
            let result = clamp(&mut f, mtu, false);
            let at = f.len() - 8 + 2;
            let now = u16::from_be_bytes([f[at], f[at + 1]]);
            prop_assert!(now <= mss);
            prop_assert!(checksum_ok(&f, v6, tag));
            match result {
                Clamp::Clamped { from, to } => prop_assert!(from == mss && to == now && to < from),
                Clamp::Unchanged => prop_assert_eq!(now, mss),
                Clamp::NotSyn => prop_assert!(false, "a SYN with an MSS option"),
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..120), mtu: u16, partial: bool) {
            let _ = clamp(&mut bytes, mtu, partial);
        }
    }
}
