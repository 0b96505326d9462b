//! The header fields a flow can match, read from a frame once.

/// What a frame carries, as the flow table sees it. Absent layers read as zero, as
/// OpenFlow's prerequisites make those fields unmatchable anyway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Key {
    /// The OpenFlow port the frame came in on.
    pub in_port: u32,
    pub eth_dst: [u8; 6],
    pub eth_src: [u8; 6],
    /// The EtherType after any 802.1Q tag.
    pub eth_type: u16,
    /// The VLAN ID of the frame's 802.1Q tag, or None for an untagged frame.
    pub vlan_vid: Option<u16>,
    pub ip_proto: u8,
    pub ipv4_src: u32,
    pub ipv4_dst: u32,
    /// TCP/UDP ports; for ICMP, type and code (as OpenFlow 1.0 reads them).
    pub tp_src: u16,
    pub tp_dst: u16,
}

/// One 64-bit word for the hasher: the fields folded with multiplies, so the exact-match
/// cache hashes one word instead of ten fields (equal keys still compare field by field).
impl std::hash::Hash for Key {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        const M: u64 = 0x9e37_79b9_7f4a_7c15;
        let mac = |m: [u8; 6]| {
            u64::from(u32::from_le_bytes([m[0], m[1], m[2], m[3]]))
                | u64::from(u16::from_le_bytes([m[4], m[5]])) << 32
        };
        let vlan = self.vlan_vid.map_or(0x1_0000, u64::from);
        let mut h = mac(self.eth_dst) ^ u64::from(self.in_port) << 48;
        h = (h ^ mac(self.eth_src)).wrapping_mul(M);
        h = (h ^ (u64::from(self.eth_type) | vlan << 16 | u64::from(self.ip_proto) << 40))
            .wrapping_mul(M);
        h = (h ^ (u64::from(self.ipv4_src) | u64::from(self.ipv4_dst) << 32)).wrapping_mul(M);
        h ^= u64::from(self.tp_src) | u64::from(self.tp_dst) << 16;
        state.write_u64(h);
    }
}

const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_IP: u16 = 0x0800;

impl Key {
    /// Reads a frame's fields. A frame too short for a layer it announces stops at that layer.
    pub fn extract(frame: &[u8], in_port: u32) -> Key {
        let mut k = Key {
            in_port,
            ..Key::default()
        };
        if frame.len() < 14 {
            return k;
        }
        k.eth_dst.copy_from_slice(&frame[0..6]);
        k.eth_src.copy_from_slice(&frame[6..12]);
        let mut eth_type = u16::from_be_bytes([frame[12], frame[13]]);
        let mut l3 = 14;
        if eth_type == ETH_P_8021Q && frame.len() >= 18 {
            k.vlan_vid = Some(u16::from_be_bytes([frame[14], frame[15]]) & 0x0fff);
            eth_type = u16::from_be_bytes([frame[16], frame[17]]);
            l3 = 18;
        }
        k.eth_type = eth_type;
        if eth_type != ETH_P_IP || frame.len() < l3 + 20 {
            return k;
        }
        let ip = &frame[l3..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        k.ip_proto = ip[9];
        k.ipv4_src = u32::from_be_bytes([ip[12], ip[13], ip[14], ip[15]]);
        k.ipv4_dst = u32::from_be_bytes([ip[16], ip[17], ip[18], ip[19]]);
        // Only a first fragment has the transport header.
        let first_fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff == 0;
        if ihl < 20 || !first_fragment || ip.len() < ihl + 4 {
            return k;
        }
        let l4 = &ip[ihl..];
        match k.ip_proto {
            6 | 17 | 132 => {
                k.tp_src = u16::from_be_bytes([l4[0], l4[1]]);
                k.tp_dst = u16::from_be_bytes([l4[2], l4[3]]);
            }
            1 => {
                k.tp_src = u16::from(l4[0]);
                k.tp_dst = u16::from(l4[1]);
            }
            _ => {}
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn udp_frame(tagged: bool) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
        if tagged {
            f.extend([0x81, 0x00, 0x20, 0x64]); // PCP 1, VID 100
        }
        f.extend([0x08, 0x00]);
        f.extend([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0]);
        f.extend([198, 51, 100, 1, 198, 51, 100, 2]);
        f.extend([0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]);
        f
    }

    #[test]
    fn fields_are_read_through_a_vlan_tag() {
        for tagged in [false, true] {
            let k = Key::extract(&udp_frame(tagged), 3);
            assert_eq!(k.in_port, 3);
            assert_eq!(k.vlan_vid, tagged.then_some(100));
            assert_eq!((k.eth_type, k.ip_proto), (0x0800, 17));
            assert_eq!(k.ipv4_dst, u32::from_be_bytes([198, 51, 100, 2]));
            assert_eq!((k.tp_src, k.tp_dst), (12345, 53));
        }
    }

    proptest! {
        #[test]
        fn any_bytes_give_a_key(frame in prop::collection::vec(any::<u8>(), 0..80)) {
            let _ = Key::extract(&frame, 1);
        }
    }
}
