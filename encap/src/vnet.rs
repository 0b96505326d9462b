//! The virtio-net header that a TAP opened with `IFF_VNET_HDR` puts in front of every frame it
//! hands over, and expects in front of every frame written to it. It is how the kernel and grebe
//! pass offload work between them: "this 64 KB TCP frame still has to be cut into segments of
//! `gso_size` bytes", "the checksum from `csum_start` on is not computed yet".
//!
//! Layout (`struct virtio_net_hdr`, 10 bytes, in the host's byte order, which is little-endian on
//! every platform grebe builds for; a legacy TAP uses native order unless told otherwise):
//! flags (1), gso_type (1), hdr_len (2), gso_size (2), csum_start (2), csum_offset (2).

use crate::Error;
use crate::checksum;

/// Bytes of the header, as `TUNSETVNETHDRSZ` sets it.
pub const HEADER_LEN: usize = 10;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum over `csum_start..` is still to be computed and
/// stored at `csum_start + csum_offset` (which holds the pseudo-header sum meanwhile).
pub const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`: the receiver may trust the frame's checksums.
pub const F_DATA_VALID: u8 = 2;

/// The segmentation the kernel asks for (`VIRTIO_NET_HDR_GSO_*`, without the ECN bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gso {
    None,
    TcpV4,
    TcpV6,
    /// UDP fragmentation offload or anything newer: grebe never enables these.
    Other(u8),
}

/// `VIRTIO_NET_HDR_GSO_ECN`: the TCP frame carries CWR and segmentation must handle it.
const GSO_ECN: u8 = 0x80;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VnetHeader {
    pub flags: u8,
    pub gso_type: u8,
    /// Length of the headers to repeat in every segment (Ethernet to the end of TCP).
    pub hdr_len: u16,
    /// Payload bytes per segment (the MSS).
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl VnetHeader {
    /// A header that asks nothing of the receiver: what grebe writes before frames from tunnels.
    pub const PLAIN: VnetHeader = VnetHeader {
        flags: 0,
        gso_type: 0,
        hdr_len: 0,
        gso_size: 0,
        csum_start: 0,
        csum_offset: 0,
    };

    #[inline]
    pub fn parse(buf: &[u8]) -> Result<VnetHeader, Error> {
        let b: &[u8; HEADER_LEN] = buf
            .get(..HEADER_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(Error::Truncated)?;
        let le = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Ok(VnetHeader {
            flags: b[0],
            gso_type: b[1],
            hdr_len: le(2),
            gso_size: le(4),
            csum_start: le(6),
            csum_offset: le(8),
        })
    }

    /// Writes the header into `buf[..HEADER_LEN]`; panics if `buf` is shorter.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) {
        let b = &mut buf[..HEADER_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
    }

    #[inline]
    pub fn gso(&self) -> Gso {
        match self.gso_type & !GSO_ECN {
            0 => Gso::None,
            1 => Gso::TcpV4,
            4 => Gso::TcpV6,
            other => Gso::Other(other),
        }
    }

    #[inline]
    pub fn needs_csum(&self) -> bool {
        self.flags & F_NEEDS_CSUM != 0
    }

    /// The header for the same frame with `delta` bytes more (or fewer) in front of its network
    /// header, as when a VLAN tag is pushed or popped: the offsets into the frame move with it.
    pub fn moved_by(self, delta: i32) -> VnetHeader {
        let shift = |at: u16| {
            if at == 0 {
                0
            } else {
                u16::try_from(i32::from(at) + delta).unwrap_or(0)
            }
        };
        VnetHeader {
            hdr_len: shift(self.hdr_len),
            csum_start: if self.needs_csum() {
                shift(self.csum_start)
            } else {
                self.csum_start
            },
            ..self
        }
    }
}

/// Computes the checksum the kernel left to the device (`F_NEEDS_CSUM`) over `frame[start..]`,
/// whose field at `start + offset` holds the pseudo-header sum, and stores it there.
/// `Err(BadOffload)` if the offsets do not fit the frame. Never panics.
#[inline]
pub fn complete_checksum(frame: &mut [u8], start: usize, offset: usize) -> Result<(), Error> {
    let field = start.checked_add(offset).ok_or(Error::BadOffload)?;
    if field.checked_add(2).is_none_or(|end| end > frame.len()) {
        return Err(Error::BadOffload);
    }
    let sum = checksum::fold(checksum::sum(&frame[start..], 0));
    frame[field..field + 2].copy_from_slice(&sum.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pushed_or_popped_tag_moves_the_offsets() {
        let h = VnetHeader {
            flags: F_NEEDS_CSUM,
            gso_type: 1,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        let pushed = h.moved_by(4);
        assert_eq!((pushed.hdr_len, pushed.csum_start), (70, 38));
        assert_eq!((pushed.gso_size, pushed.csum_offset), (1448, 16));
        assert_eq!(pushed.moved_by(-4), h);
        assert_eq!(VnetHeader::PLAIN.moved_by(4), VnetHeader::PLAIN);
    }

    #[test]
    fn parse_and_emit_round_trip_little_endian() {
        let bytes = [0x01, 0x01, 0x42, 0x00, 0xb4, 0x05, 0x22, 0x00, 0x10, 0x00];
        let h = VnetHeader::parse(&bytes).unwrap();
        assert_eq!(h.flags, F_NEEDS_CSUM);
        assert_eq!(h.gso(), Gso::TcpV4);
        assert_eq!(h.hdr_len, 66);
        assert_eq!(h.gso_size, 1460);
        assert_eq!(h.csum_start, 34);
        assert_eq!(h.csum_offset, 16);
        let mut out = [0u8; 10];
        h.emit(&mut out);
        assert_eq!(out, bytes);
        assert_eq!(VnetHeader::parse(&bytes[..9]), Err(Error::Truncated));
    }

    #[test]
    fn ecn_bit_does_not_change_the_gso_kind() {
        let h = VnetHeader {
            gso_type: 0x84,
            ..VnetHeader::PLAIN
        };
        assert_eq!(h.gso(), Gso::TcpV6);
        let h = VnetHeader {
            gso_type: 3,
            ..VnetHeader::PLAIN
        };
        assert_eq!(h.gso(), Gso::Other(3));
    }

    #[test]
    fn completing_a_checksum_adds_the_pseudo_header_sum_it_held() {
        let mut frame = [0u8; 40];
        for (i, b) in frame.iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        frame[20..22].copy_from_slice(&[0x12, 0x34]); // a pseudo-header sum, as the kernel leaves it
        let pseudo = 0x1234u32;
        complete_checksum(&mut frame, 4, 16).unwrap();
        // Verifying over the range with the field in place gives 0 once the pseudo sum that the
        // field held is taken back out, as a receiver that adds its own pseudo header would.
        let mut check = frame;
        let written = u16::from_be_bytes([check[20], check[21]]);
        check[20..22].copy_from_slice(&[0, 0]);
        let expect = checksum::fold(checksum::sum(&check[4..], pseudo));
        assert_eq!(written, expect);
        assert_eq!(complete_checksum(&mut frame, 39, 1), Err(Error::BadOffload));
        assert_eq!(
            complete_checksum(&mut frame, usize::MAX, 1),
            Err(Error::BadOffload)
        );
    }
}
