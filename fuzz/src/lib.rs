//! What the fuzz targets share: an Internet checksum written apart from `encap::checksum`, so
//! that a target checks encap's output against a second implementation rather than against
//! itself.

/// Ones' complement sum of `chunks` taken as one byte string (an odd chunk shifts the next one
/// by a byte, as if they were concatenated), folded to 16 bits, not complemented.
pub fn ones_sum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u64 = 0;
    let mut odd = false;
    for chunk in chunks {
        for &b in chunk.iter() {
            sum += if odd { u64::from(b) } else { u64::from(b) << 8 };
            odd = !odd;
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Whether bytes that contain their own checksum field sum to "all ones" (RFC 1071): the check
/// a receiver makes.
pub fn checksum_ok(chunks: &[&[u8]]) -> bool {
    ones_sum(chunks) == 0xffff
}

/// The checksum to store in a zeroed field so that [`checksum_ok`] holds.
pub fn checksum_of(chunks: &[&[u8]]) -> u16 {
    !ones_sum(chunks)
}

/// The IPv4 pseudo header of a transport segment (RFC 793 3.1).
pub fn pseudo_v4(src: &[u8], dst: &[u8], protocol: u8, len: usize) -> [u8; 12] {
    let mut p = [0u8; 12];
    p[..4].copy_from_slice(src);
    p[4..8].copy_from_slice(dst);
    p[9] = protocol;
    p[10..12].copy_from_slice(&(len as u16).to_be_bytes());
    p
}

/// The IPv6 pseudo header (RFC 8200 8.1).
pub fn pseudo_v6(src: &[u8], dst: &[u8], next_header: u8, len: usize) -> [u8; 40] {
    let mut p = [0u8; 40];
    p[..16].copy_from_slice(src);
    p[16..32].copy_from_slice(dst);
    p[32..36].copy_from_slice(&(len as u32).to_be_bytes());
    p[39] = next_header;
    p
}

/// Where a frame's IP header starts and its EtherType, behind one 802.1Q/802.1ad tag at most:
/// written here again, not taken from `encap::vlan`.
pub fn l3_of(frame: &[u8]) -> Option<(u16, usize)> {
    let be = |at: usize| {
        frame
            .get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    match be(12)? {
        0x8100 | 0x88a8 => Some((be(16)?, 18)),
        other => Some((other, 14)),
    }
}

/// Where the TCP header of an IPv4 or IPv6 (no extension headers) frame starts, and the pseudo
/// header for a segment running to the end of the frame; `None` if the frame is not TCP.
pub fn tcp_of(frame: &[u8]) -> Option<(usize, Vec<u8>)> {
    let (ethertype, l3) = l3_of(frame)?;
    let ip = frame.get(l3..)?;
    match ethertype {
        0x0800 => {
            let ihl = usize::from(*ip.first()? & 0x0f) * 4;
            if ip[0] >> 4 != 4 || ihl < 20 || *ip.get(9)? != 6 || ip.len() < ihl {
                return None;
            }
            let l4 = l3 + ihl;
            let len = frame.len() - l4;
            Some((l4, pseudo_v4(&ip[12..16], &ip[16..20], 6, len).to_vec()))
        }
        0x86dd => {
            if ip.len() < 40 || ip[0] >> 4 != 6 || ip[6] != 6 {
                return None;
            }
            let l4 = l3 + 40;
            let len = frame.len() - l4;
            Some((l4, pseudo_v6(&ip[8..24], &ip[24..40], 6, len).to_vec()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 1.4: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(ones_sum(&[&data]), 0xddf2);
        assert_eq!(ones_sum(&[&data[..3], &data[3..]]), 0xddf2);
        let c = checksum_of(&[&data]);
        assert!(checksum_ok(&[&data, &c.to_be_bytes()]));
    }
}
