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
            (PortVlan::TrunkAll | PortVlan::Trunk(_), None) => Ok(0),
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
                PortVlan::TrunkAll | PortVlan::Trunk(_) => Some(Egress::Untagged),
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
    fn a_trunk_carries_its_set_tagged_and_vlan_0_untagged() {
        let p = trunk(&[10, 20]);
        assert_eq!(p.ingress(None), Ok(0));
        assert_eq!(p.ingress(Some(20)), Ok(20));
        assert_eq!(p.ingress(Some(30)), Err(VlanDrop::NotAllowed));
        assert_eq!(p.egress(10), Some(Tagged));
        assert_eq!(p.egress(30), None);
        assert_eq!(p.egress(0), Some(Untagged));
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

    #[test]
    fn vid_4095_is_reserved_everywhere() {
        for p in [PortVlan::TrunkAll, PortVlan::Access(1), trunk(&[4094])] {
            assert_eq!(p.ingress(Some(4095)), Err(VlanDrop::Reserved));
            assert_eq!(p.egress(4095), None);
        }
        assert!(!VlanSet::new([4095]).contains(4095));
    }
}
