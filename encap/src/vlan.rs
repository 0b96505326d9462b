//! IEEE 802.1Q VLAN tags (and 802.1ad service tags, which share the layout).
//!
//! In a tagged frame the TPID takes the EtherType's place (bytes 12-13), and the 4 bytes after
//! it are what this view covers: the tag control information, then the EtherType of what the
//! tag carries.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | PCP |D|         VID           |      EtherType (inner)        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use crate::HeaderError;
use crate::bytes::{read_u16, write_u16};
use crate::ethernet::EtherType;

/// TPID of an 802.1Q customer tag.
pub const TPID_8021Q: u16 = 0x8100;
/// TPID of an 802.1ad service tag (the outer tag of Q-in-Q).
pub const TPID_8021AD: u16 = 0x88a8;
/// Tag control information and inner EtherType.
pub const TAG_LEN: usize = 4;

/// Is `ethertype` a TPID, so that a tag follows it?
#[inline]
pub fn is_tpid(ethertype: EtherType) -> bool {
    matches!(u16::from(ethertype), TPID_8021Q | TPID_8021AD)
}

/// What an Ethernet frame carries: its EtherType and where its payload starts, behind one
/// 802.1Q or 802.1ad tag when there is one. None when the frame is too short to say.
#[inline]
pub fn payload_type(frame: &[u8]) -> Option<(u16, usize)> {
    let outer = frame.get(12..14)?;
    let outer = u16::from_be_bytes([outer[0], outer[1]]);
    if !matches!(outer, TPID_8021Q | TPID_8021AD) {
        return Some((outer, 14));
    }
    let inner = frame.get(16..18)?;
    Some((u16::from_be_bytes([inner[0], inner[1]]), 14 + TAG_LEN))
}

pub(crate) mod field {
    use core::ops::{Range, RangeFrom};

    pub(crate) const TCI: Range<usize> = 0..2;
    pub(crate) const ETHERTYPE: Range<usize> = 2..4;
    pub(crate) const PAYLOAD: RangeFrom<usize> = 4..;
}

// Bits of the tag control information.
const PCP_SHIFT: u32 = 13;
const DEI: u16 = 0x1000;
const VID_MASK: u16 = 0x0fff;

/// A view of one VLAN tag and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Tag<T> {
    /// Wraps a buffer without checking it; call [`Tag::check_len`] before any getter.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Tag<T> {
        Tag { buffer }
    }

    /// Wraps a buffer after [`Tag::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Tag<T>, HeaderError> {
        let tag = Self::new_unchecked(buffer);
        tag.check_len()?;
        Ok(tag)
    }

    /// `Err(Truncated)` if the buffer cannot hold the 4-byte tag.
    #[inline]
    pub fn check_len(&self) -> Result<(), HeaderError> {
        if self.buffer.as_ref().len() < TAG_LEN {
            Err(HeaderError::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The tag control information as one word.
    #[inline]
    pub fn tci(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::TCI)
    }

    /// Priority code point (802.1p class), 0-7.
    #[inline]
    pub fn pcp(&self) -> u8 {
        (self.tci() >> PCP_SHIFT) as u8
    }

    /// Drop eligible indicator.
    #[inline]
    pub fn dei(&self) -> bool {
        self.tci() & DEI != 0
    }

    /// VLAN identifier, 0-4095 (0: priority tag only; 4095: reserved).
    #[inline]
    pub fn vid(&self) -> u16 {
        self.tci() & VID_MASK
    }

    /// The EtherType of what the tag carries (another TPID for a stacked tag).
    #[inline]
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(read_u16(self.buffer.as_ref(), field::ETHERTYPE))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Tag<&'a T> {
    /// Everything after the tag.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Tag<T> {
    /// Sets the tag control information as one word.
    #[inline]
    pub fn set_tci(&mut self, tci: u16) {
        write_u16(self.buffer.as_mut(), field::TCI, tci);
    }

    /// Sets the priority code point; bits above the low 3 are ignored.
    #[inline]
    pub fn set_pcp(&mut self, pcp: u8) {
        let tci = self.tci() & !(0x7 << PCP_SHIFT) | (u16::from(pcp & 0x7) << PCP_SHIFT);
        self.set_tci(tci);
    }

    /// Sets the drop eligible indicator.
    #[inline]
    pub fn set_dei(&mut self, dei: bool) {
        let tci = if dei {
            self.tci() | DEI
        } else {
            self.tci() & !DEI
        };
        self.set_tci(tci);
    }

    /// Sets the VLAN identifier; bits above the low 12 are ignored.
    #[inline]
    pub fn set_vid(&mut self, vid: u16) {
        let tci = self.tci() & !VID_MASK | (vid & VID_MASK);
        self.set_tci(tci);
    }

    /// Sets the inner EtherType.
    #[inline]
    pub fn set_ethertype(&mut self, ethertype: EtherType) {
        write_u16(self.buffer.as_mut(), field::ETHERTYPE, ethertype.into());
    }

    /// Everything after the tag, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

/// The meaning of a VLAN tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanRepr {
    pub pcp: u8,
    pub dei: bool,
    pub vid: u16,
    pub ethertype: EtherType,
}

impl VlanRepr {
    /// Reads a tag. Every value is accepted: VID 0 (priority-only) and 4095 are the switch's to
    /// judge, not the parser's.
    #[inline]
    pub fn parse<T: AsRef<[u8]> + ?Sized>(tag: &Tag<&T>) -> Result<VlanRepr, HeaderError> {
        tag.check_len()?;
        Ok(VlanRepr {
            pcp: tag.pcp(),
            dei: tag.dei(),
            vid: tag.vid(),
            ethertype: tag.ethertype(),
        })
    }

    /// The bytes `emit` writes.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        TAG_LEN
    }

    /// Writes the tag into the first 4 bytes of `tag`.
    ///
    /// # Panics
    ///
    /// If the buffer is shorter than 4 bytes, or `pcp` > 7 or `vid` > 4095.
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, tag: &mut Tag<&mut T>) {
        assert!(
            self.pcp <= 7 && self.vid <= VID_MASK,
            "{self:?} out of range"
        );
        tag.set_tci(0);
        tag.set_pcp(self.pcp);
        tag.set_dei(self.dei);
        tag.set_vid(self.vid);
        tag.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // PCP 5, DEI 1, VID 0xabc, carrying IPv4, then one payload byte.
    const TAG: [u8; 5] = [0xba, 0xbc, 0x08, 0x00, 0x45];

    #[test]
    fn read_fields() {
        let t = Tag::new_checked(&TAG[..]).unwrap();
        assert_eq!(t.tci(), 0xbabc);
        assert_eq!(t.pcp(), 5);
        assert!(t.dei());
        assert_eq!(t.vid(), 0xabc);
        assert_eq!(t.ethertype(), EtherType::Ipv4);
        assert_eq!(t.payload(), &[0x45]);
    }

    #[test]
    fn build_fields() {
        let mut buf = [0u8; 5];
        let mut t = Tag::new_unchecked(&mut buf[..]);
        t.set_pcp(5);
        t.set_dei(true);
        t.set_vid(0xabc);
        t.set_ethertype(EtherType::Ipv4);
        t.payload_mut()[0] = 0x45;
        assert_eq!(buf, TAG);
        // Each setter leaves the other bits alone.
        let mut t = Tag::new_unchecked(&mut buf[..]);
        t.set_dei(false);
        t.set_vid(1);
        assert_eq!((t.pcp(), t.dei(), t.vid()), (5, false, 1));
    }

    #[test]
    fn parse_emit_round_trip() {
        let repr = VlanRepr::parse(&Tag::new_unchecked(&TAG[..])).unwrap();
        assert_eq!(
            repr,
            VlanRepr {
                pcp: 5,
                dei: true,
                vid: 0xabc,
                ethertype: EtherType::Ipv4
            }
        );
        let mut buf = [0xffu8; 4];
        repr.emit(&mut Tag::new_unchecked(&mut buf[..]));
        assert_eq!(buf, TAG[..4]);
        assert_eq!(repr.buffer_len(), 4);
    }

    #[test]
    fn truncated() {
        for len in 0..TAG_LEN {
            assert_eq!(Tag::new_checked(&TAG[..len]), Err(HeaderError::Truncated));
            assert_eq!(
                VlanRepr::parse(&Tag::new_unchecked(&TAG[..len])),
                Err(HeaderError::Truncated)
            );
        }
    }

    #[test]
    fn tpids() {
        assert!(is_tpid(EtherType::Vlan));
        assert!(is_tpid(EtherType::from(0x88a8)));
        assert!(!is_tpid(EtherType::Ipv4));
    }

    proptest! {
        #[test]
        fn no_getter_panics_after_check_len(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            if let Ok(t) = Tag::new_checked(&bytes[..]) {
                let _ = (t.tci(), t.pcp(), t.dei(), t.vid(), t.ethertype(), t.payload());
                let _ = VlanRepr::parse(&t);
            }
        }
    }
}
