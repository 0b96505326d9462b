//! 802.1Q port VLANs with Open vSwitch's semantics (vswitch.xml, Port `tag`, `trunks`,
//! `vlan_mode`): which VLAN a frame entering a port belongs to, and whether and how it may
//! leave another. Sans-IO: the pipeline asks, the engine pushes or pops the tag.
//!
//! - access (`tag` N): untagged frames (and VID 0, priority-tagged) join N; any other tag is
//!   dropped, even N. Frames of N leave untagged; no other VLAN leaves.
//! - trunk (`trunks`, empty for all): a frame's VLAN is its VID, or 0 untagged; a VID the port
//!   does not carry is dropped. Carried VLANs leave tagged, VLAN 0 untagged.
//! - native-tagged / native-untagged (`tag` N and `trunks`): untagged frames join N; N is
//!   always carried, and leaves tagged or untagged respectively.
//!
//! A port with no tag and no trunks (every tunnel and internal port by default) is a trunk for
//! all VLANs, so the 802.1Q header rides inside GRE as OVS sends it. VID 4095 is reserved and
//! dropped.

/// The largest VID; 4095 is reserved.
pub const MAX_VID: u16 = 4094;

/// Every VLAN tagged: what tunnels and internal ports are without a `tag` or `trunks`, shared
/// so that a port view can point at it.
pub static TRUNK_ALL: PortVlan = PortVlan::TrunkAll;

/// TPID of an 802.1Q tag; an 802.1ad service tag (0x88a8) is payload to a port VLAN, as in OVS
/// without `vlan-limit`.
const TPID: [u8; 2] = encap::vlan::TPID_8021Q.to_be_bytes();
const VID_MASK: u16 = 0x0fff;

/// A frame's VLAN once the ingress port has classified it, and the tag it arrived with.
///
/// Packed in one word (the VID in bits 0-11, "arrived tagged" in bit 12, a marker bit 13 that
/// keeps it non-zero, the tag's TCI in bits 16-31), so the decision hands it on as one register:
/// as two fields, written apart and read together, it cost a store-forwarding stall per frame.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FrameVlan(std::num::NonZeroU32);

const TAGGED: u32 = 1 << 12;
const PRESENT: u32 = 1 << 13;

impl FrameVlan {
    /// A frame of a bridge without VLANs: untagged, VLAN 0.
    pub const UNTAGGED: FrameVlan = FrameVlan::new(0, None);

    /// A frame switched in `vlan` (0 to 4095) that arrived with the tag control information
    /// `tci` (PCP, DEI, VID), or untagged.
    #[inline]
    pub const fn new(vlan: u16, tci: Option<u16>) -> FrameVlan {
        let tag = match tci {
            Some(t) => TAGGED | (t as u32) << 16,
            None => 0,
        };
        match std::num::NonZeroU32::new((vlan & VID_MASK) as u32 | tag | PRESENT) {
            Some(v) => FrameVlan(v),
            None => unreachable!(),
        }
    }

    /// The VLAN the frame is switched in (0: the untagged VLAN of trunks).
    #[inline]
    pub const fn vlan(self) -> u16 {
        (self.0.get() & VID_MASK as u32) as u16
    }

    /// The tag control information it arrived with, `None` untagged.
    #[inline]
    pub const fn tci(self) -> Option<u16> {
        if self.0.get() & TAGGED != 0 {
            Some((self.0.get() >> 16) as u16)
        } else {
            None
        }
    }

    /// What a port does to this frame's tag on the way out (None: the port does not carry its
    /// VLAN). Priority bits are kept whenever a tag stays or is rewritten, as OVS keeps them.
    #[inline]
    pub fn retag(self, port: &PortVlan) -> Option<Retag> {
        let vlan = self.vlan();
        Some(match (port.egress(vlan)?, self.tci()) {
            (Egress::Untagged, None) => Retag::Keep,
            (Egress::Untagged, Some(_)) => Retag::Pop,
            (Egress::Tagged, None) => Retag::Push(vlan),
            (Egress::Tagged, Some(tci)) if tci & VID_MASK == vlan => Retag::Keep,
            (Egress::Tagged, Some(tci)) => Retag::Rewrite((tci & !VID_MASK) | vlan),
        })
    }
}

/// The 802.1Q tag of `frame`, if it has one: its tag control information. `frame` is a whole
/// Ethernet header; a tag cut short reads as none (the frame is then switched untagged).
#[inline]
pub fn tag_of(frame: &[u8]) -> Option<u16> {
    match frame.get(12..16)? {
        [a, b, c, d] if [*a, *b] == TPID => Some(u16::from_be_bytes([*c, *d])),
        _ => None,
    }
}

/// What leaving by a port does to a frame's tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retag {
    /// The frame leaves as it came.
    Keep,
    /// A tag with this TCI goes in after the source address (4 bytes more).
    Push(u16),
    /// The tag comes off (4 bytes less).
    Pop,
    /// The tag stays with this TCI (a priority tag given its VLAN's VID).
    Rewrite(u16),
}

impl std::fmt::Debug for FrameVlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameVlan")
            .field("vlan", &self.vlan())
            .field("tci", &self.tci())
            .finish()
    }
}

impl Retag {
    /// How many bytes longer the frame leaves than it came: 4, -4 or 0.
    #[inline]
    pub fn len_change(self) -> i32 {
        match self {
            Retag::Push(_) => encap::vlan::TAG_LEN as i32,
            Retag::Pop => -(encap::vlan::TAG_LEN as i32),
            Retag::Keep | Retag::Rewrite(_) => 0,
        }
    }

    /// A new size after retagging.
    #[inline]
    pub fn apply_len(self, len: u32) -> u32 {
        len.saturating_add_signed(self.len_change())
    }

    /// The frame's first bytes as they leave, written into `out` (at least [`HEAD_LEN`]
    /// bytes): the addresses, the tag unless popped, then the EtherType and the start of the
    /// network header, so that the first piece of a scatter-gather send names what it carries.
    /// Returns how many bytes of `out` were written (an even number) and where in `frame` the
    /// rest to send starts. `frame` must hold a whole Ethernet header, and a whole tag for `Pop`
    /// and `Rewrite` (which [`FrameVlan::retag`] only says for a tagged frame). With `Keep`
    /// nothing is written: `(0, 0)`.
    #[inline]
    pub fn head(self, frame: &[u8], out: &mut [u8]) -> (usize, usize) {
        const ADDRS: usize = 12;
        const TAG: usize = encap::vlan::TAG_LEN;
        let (n, rest) = match self {
            Retag::Keep => return (0, 0),
            Retag::Pop => (ADDRS, ADDRS + TAG),
            Retag::Push(_) => (ADDRS + TAG, ADDRS),
            Retag::Rewrite(_) => (ADDRS + TAG, ADDRS + TAG),
        };
        out[..ADDRS].copy_from_slice(&frame[..ADDRS]);
        if let Retag::Push(tci) | Retag::Rewrite(tci) = self {
            out[ADDRS..ADDRS + 2].copy_from_slice(&TPID);
            out[ADDRS + 2..ADDRS + TAG].copy_from_slice(&tci.to_be_bytes());
        }
        // Even, so that a GRE checksum over the pieces stays aligned.
        let carried = (frame.len() - rest).min(HEAD_LEN - ADDRS - TAG) & !1;
        out[n..n + carried].copy_from_slice(&frame[rest..rest + carried]);
        (n + carried, rest + carried)
    }
}

/// The most bytes [`Retag::head`] writes: addresses, a tag, the EtherType and the first four
/// bytes of the network header.
pub const HEAD_LEN: usize = 12 + encap::vlan::TAG_LEN + 6;

/// How a port treats VLANs, from the Port record's `tag`, `trunks` and `vlan_mode`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PortVlan {
    /// Every VLAN, tagged (VLAN 0 untagged): a port with neither `tag` nor `trunks`.
    #[default]
    TrunkAll,
    /// The VLANs in the set, tagged (VLAN 0 untagged).
    Trunk(VlanSet),
    /// One VLAN, untagged.
    Access(u16),
    /// `native` for untagged frames, plus `trunks` tagged; `native` leaves tagged.
    NativeTagged {
        native: u16,
        trunks: Option<VlanSet>,
    },
    /// The same, but `native` leaves untagged.
    NativeUntagged {
        native: u16,
        trunks: Option<VlanSet>,
    },
}

/// A set of VIDs 0..=4095 as a bitmap: one lookup per frame, no allocation after creation.
#[derive(Clone, PartialEq, Eq)]
pub struct VlanSet(Box<[u64; 64]>);

impl VlanSet {
    pub fn new(vids: impl IntoIterator<Item = u16>) -> VlanSet {
        let mut bits = Box::new([0u64; 64]);
        for v in vids.into_iter().filter(|v| *v <= MAX_VID) {
            bits[usize::from(v / 64)] |= 1 << (v % 64);
        }
        VlanSet(bits)
    }

    #[inline]
    pub fn contains(&self, vid: u16) -> bool {
        vid <= MAX_VID && self.0[usize::from(vid / 64)] & (1 << (vid % 64)) != 0
    }
}

impl std::fmt::Debug for VlanSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries((0..=MAX_VID).filter(|v| self.contains(*v)))
            .finish()
    }
}

/// Why a frame's VLAN was refused at ingress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VlanDrop {
    /// A tagged frame on an access port, or a VID the trunk does not carry.
    NotAllowed,
    /// VID 4095.
    Reserved,
}

/// How a frame leaves a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Egress {
    Untagged,
    Tagged,
}

impl PortVlan {
    /// The VLAN a frame entering this port belongs to; `vid` is its tag's VID (None untagged).
    #[inline]
    pub fn ingress(&self, vid: Option<u16>) -> Result<u16, VlanDrop> {
        if vid == Some(4095) {
            return Err(VlanDrop::Reserved);
        }
        // A priority tag (VID 0) counts as untagged, as 802.1Q says.
        let vid = vid.filter(|v| *v != 0);
        match (self, vid) {
            (PortVlan::Access(n), None) => Ok(*n),
            (PortVlan::Access(_), Some(_)) => Err(VlanDrop::NotAllowed),
            // VLAN 0 is a VLAN like any other to a trunk: an explicit `trunks` without 0
            // takes no untagged frames (OVS's `xbundle_trunks_vlan`).
            (PortVlan::TrunkAll, None) => Ok(0),
            (PortVlan::Trunk(set), None) if set.contains(0) => Ok(0),
            (PortVlan::Trunk(_), None) => Err(VlanDrop::NotAllowed),
            (
                PortVlan::NativeTagged { native, .. } | PortVlan::NativeUntagged { native, .. },
                None,
            ) => Ok(*native),
            (_, Some(v)) if self.carries(v) => Ok(v),
            (_, Some(_)) => Err(VlanDrop::NotAllowed),
        }
    }

    /// Whether and how a frame of `vlan` leaves this port (None: not at all).
    #[inline]
    pub fn egress(&self, vlan: u16) -> Option<Egress> {
        match self {
            PortVlan::Access(n) => (*n == vlan).then_some(Egress::Untagged),
            PortVlan::NativeUntagged { native, .. } if *native == vlan => Some(Egress::Untagged),
            _ if vlan == 0 => match self {
                PortVlan::TrunkAll => Some(Egress::Untagged),
                PortVlan::Trunk(set) if set.contains(0) => Some(Egress::Untagged),
                _ => None,
            },
            _ => self.carries(vlan).then_some(Egress::Tagged),
        }
    }

    /// Whether the port carries `vid` tagged or as its native VLAN.
    fn carries(&self, vid: u16) -> bool {
        match self {
            PortVlan::TrunkAll => vid <= MAX_VID,
            PortVlan::Trunk(set) => set.contains(vid),
            PortVlan::Access(n) => *n == vid,
            PortVlan::NativeTagged { native, trunks }
            | PortVlan::NativeUntagged { native, trunks } => {
                *native == vid || trunks.as_ref().is_none_or(|t| t.contains(vid))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Egress::{Tagged, Untagged};

    fn trunk(v: &[u16]) -> PortVlan {
        PortVlan::Trunk(VlanSet::new(v.iter().copied()))
    }

    #[test]
    fn an_access_port_takes_untagged_and_priority_tagged_frames_only() {
        let p = PortVlan::Access(10);
        assert_eq!(p.ingress(None), Ok(10));
        assert_eq!(p.ingress(Some(0)), Ok(10));
        assert_eq!(
            p.ingress(Some(10)),
            Err(VlanDrop::NotAllowed),
            "even its own VLAN"
        );
        assert_eq!(p.ingress(Some(20)), Err(VlanDrop::NotAllowed));
        assert_eq!(p.egress(10), Some(Untagged));
        assert_eq!(p.egress(20), None);
        assert_eq!(p.egress(0), None);
    }

    #[test]
    fn a_trunk_carries_its_set_tagged_and_vlan_0_untagged_only_if_listed() {
        let p = trunk(&[10, 20]);
        assert_eq!(
            p.ingress(None),
            Err(VlanDrop::NotAllowed),
            "untagged is VLAN 0, not in trunks"
        );
        assert_eq!(p.ingress(Some(0)), Err(VlanDrop::NotAllowed));
        assert_eq!(p.ingress(Some(20)), Ok(20));
        assert_eq!(p.ingress(Some(30)), Err(VlanDrop::NotAllowed));
        assert_eq!(p.egress(10), Some(Tagged));
        assert_eq!(p.egress(30), None);
        assert_eq!(p.egress(0), None);
        let with_0 = trunk(&[0, 10]);
        assert_eq!(with_0.ingress(None), Ok(0));
        assert_eq!(with_0.egress(0), Some(Untagged));
        assert_eq!(PortVlan::TrunkAll.ingress(None), Ok(0));
        assert_eq!(PortVlan::TrunkAll.egress(0), Some(Untagged));
        let all = PortVlan::TrunkAll;
        assert_eq!(all.ingress(Some(4094)), Ok(4094));
        assert_eq!(all.egress(4094), Some(Tagged));
    }

    #[test]
    fn native_vlans_take_untagged_frames_and_leave_as_their_mode_says() {
        for (p, native_out) in [
            (
                PortVlan::NativeTagged {
                    native: 10,
                    trunks: Some(VlanSet::new([20])),
                },
                Tagged,
            ),
            (
                PortVlan::NativeUntagged {
                    native: 10,
                    trunks: Some(VlanSet::new([20])),
                },
                Untagged,
            ),
        ] {
            assert_eq!(p.ingress(None), Ok(10), "{p:?}");
            assert_eq!(
                p.ingress(Some(10)),
                Ok(10),
                "the native VLAN is always trunked"
            );
            assert_eq!(p.ingress(Some(20)), Ok(20));
            assert_eq!(p.ingress(Some(30)), Err(VlanDrop::NotAllowed));
            assert_eq!(p.egress(10), Some(native_out), "{p:?}");
            assert_eq!(p.egress(20), Some(Tagged));
            assert_eq!(p.egress(30), None);
            assert_eq!(p.egress(0), None);
        }
        let all = PortVlan::NativeUntagged {
            native: 5,
            trunks: None,
        };
        assert_eq!(all.ingress(Some(300)), Ok(300), "no trunks: every VLAN");
    }

    fn tagged(tci: u16) -> Vec<u8> {
        let mut f = vec![0xaa; 12];
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&tci.to_be_bytes());
        f.extend_from_slice(&[0x08, 0x00, 1, 2, 3]);
        f
    }

    #[test]
    fn a_frame_vlan_packs_its_vlan_and_tag() {
        let v = FrameVlan::new(4094, Some(0xafff));
        assert_eq!((v.vlan(), v.tci()), (4094, Some(0xafff)));
        let p = FrameVlan::new(7, Some(0));
        assert_eq!(p.tci(), Some(0), "a tag with TCI 0 is still a tag");
        assert_ne!(p, FrameVlan::new(7, None));
        assert_eq!(FrameVlan::UNTAGGED.tci(), None);
        assert_eq!(std::mem::size_of::<Option<FrameVlan>>(), 4);
    }

    #[test]
    fn tags_are_read_only_from_8021q() {
        assert_eq!(tag_of(&tagged(0xa064)), Some(0xa064));
        let mut qinq = tagged(100);
        qinq[12..14].copy_from_slice(&[0x88, 0xa8]);
        assert_eq!(tag_of(&qinq), None, "a service tag is payload");
        assert_eq!(tag_of(&tagged(100)[..15]), None, "cut short");
        assert_eq!(tag_of(&[0u8; 14]), None);
    }

    #[test]
    fn retagging_pushes_pops_keeps_and_keeps_priority_bits() {
        let access = PortVlan::Access(100);
        let all = PortVlan::TrunkAll;
        let untagged_in_100 = FrameVlan::new(100, None);
        assert_eq!(untagged_in_100.retag(&access), Some(Retag::Keep));
        assert_eq!(untagged_in_100.retag(&all), Some(Retag::Push(100)));
        assert_eq!(untagged_in_100.retag(&PortVlan::Access(200)), None);
        // Tagged 100 with priority 5.
        let tagged_100 = FrameVlan::new(100, Some(0xa000 | 100));
        assert_eq!(tagged_100.retag(&all), Some(Retag::Keep));
        assert_eq!(tagged_100.retag(&access), Some(Retag::Pop));
        // A priority tag (VID 0) that joined native VLAN 7 keeps its PCP on a trunk.
        let priority = FrameVlan::new(7, Some(0xa000));
        assert_eq!(priority.retag(&all), Some(Retag::Rewrite(0xa007)));
        assert_eq!(
            FrameVlan::UNTAGGED.retag(&all),
            Some(Retag::Keep),
            "VLAN 0 leaves a trunk untagged"
        );
        assert_eq!(Retag::Push(1).apply_len(60), 64);
        assert_eq!(Retag::Pop.apply_len(64), 60);
        assert_eq!(Retag::Rewrite(1).apply_len(64), 64);
    }

    #[test]
    fn the_head_of_a_retagged_frame() {
        let f = tagged(0xa064);
        let mut out = [0u8; HEAD_LEN];
        let (n, rest) = Retag::Pop.head(&f, &mut out);
        let popped: Vec<u8> = [&out[..n], &f[rest..]].concat();
        let mut want = vec![0xaa; 12];
        want.extend_from_slice(&[0x08, 0x00, 1, 2, 3]);
        assert_eq!(popped, want);
        let (n, rest) = Retag::Push(0x2005).head(&popped, &mut out);
        let pushed: Vec<u8> = [&out[..n], &popped[rest..]].concat();
        assert_eq!(pushed, tagged(0x2005));
        let (n, rest) = Retag::Rewrite(0xa007).head(&f, &mut out);
        let rewritten: Vec<u8> = [&out[..n], &f[rest..]].concat();
        assert_eq!(rewritten, tagged(0xa007));
        assert_eq!(Retag::Keep.head(&f, &mut out), (0, 0));
    }

    #[test]
    fn vid_4095_is_reserved_everywhere() {
        for p in [PortVlan::TrunkAll, PortVlan::Access(1), trunk(&[4094])] {
            assert_eq!(p.ingress(Some(4095)), Err(VlanDrop::Reserved));
            assert_eq!(p.egress(4095), None);
        }
        assert!(!VlanSet::new([4095]).contains(4095));
    }
}
