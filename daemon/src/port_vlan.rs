//! A port's VLAN settings from its record's `tag`, `trunks` and `vlan_mode`, read as
//! vswitch.xml defines them and ovs-vswitchd's `bridge.c` applies them:
//!
//! - no `vlan_mode`: access if `tag` is set (then `trunks` is ignored), else trunk;
//! - `access`: untagged frames join `tag` (VLAN 0 when there is none);
//! - `trunk`: the VLANs of `trunks`, all when empty; a `tag` is ignored;
//! - `native-tagged` / `native-untagged`: `tag` (0 when unset) is the native VLAN, `trunks`
//!   (all when empty) the others;
//! - `dot1q-tunnel` (802.1ad QinQ) is not implemented: the port is the access port of `tag`, so
//!   its frames stay in that one VLAN (customer-tagged frames are dropped, not double-tagged),
//!   and the interface's error says so.
//!
//! The configuration refuses out-of-range values before they are stored; this reading never
//! fails, as OVS's does not.

use std::collections::BTreeSet;

use datapath::vlan::{MAX_VID, PortVlan, VlanSet};
use vswitch::config::VlanMode;

/// The `PortVlan` for one port's columns (`port` names it in warnings), and what the interface's
/// error should say about settings grebe cannot carry out exactly.
pub fn port_vlan(
    port: &str,
    tag: Option<u16>,
    trunks: &BTreeSet<u16>,
    vlan_mode: Option<VlanMode>,
) -> (PortVlan, Option<String>) {
    let set = || (!trunks.is_empty()).then(|| VlanSet::new(trunks.iter().copied()));
    if trunks.iter().any(|v| *v > MAX_VID) {
        tracing::warn!(%port, "trunks above {MAX_VID} ignored");
    }
    let vlan = match vlan_mode {
        None => match tag {
            Some(n) => {
                if !trunks.is_empty() {
                    tracing::warn!(%port, "ignoring trunks in favor of implicit vlan");
                }
                PortVlan::Access(n)
            }
            None => trunk(set()),
        },
        Some(VlanMode::Access) => PortVlan::Access(tag.unwrap_or(0)),
        Some(VlanMode::Trunk) => trunk(set()),
        Some(VlanMode::NativeTagged) => PortVlan::NativeTagged {
            native: tag.unwrap_or(0),
            trunks: set(),
        },
        Some(VlanMode::NativeUntagged) => PortVlan::NativeUntagged {
            native: tag.unwrap_or(0),
            trunks: set(),
        },
        Some(VlanMode::Dot1qTunnel) => {
            let n = tag.unwrap_or(0);
            return (
                PortVlan::Access(n),
                Some(format!(
                    "vlan_mode dot1q-tunnel (802.1ad) is not supported: port {port} works as the access port of VLAN {n}, customer-tagged frames are dropped"
                )),
            );
        }
    };
    (vlan, None)
}

fn trunk(set: Option<VlanSet>) -> PortVlan {
    set.map_or(PortVlan::TrunkAll, PortVlan::Trunk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[u16]) -> BTreeSet<u16> {
        v.iter().copied().collect()
    }

    fn vlan(tag: Option<u16>, trunks: &[u16], mode: Option<VlanMode>) -> PortVlan {
        let (v, error) = port_vlan("p", tag, &set(trunks), mode);
        assert_eq!(error, None);
        v
    }

    #[test]
    fn no_mode_is_access_with_a_tag_and_trunk_without() {
        assert_eq!(vlan(Some(10), &[], None), PortVlan::Access(10));
        assert_eq!(
            vlan(Some(10), &[20], None),
            PortVlan::Access(10),
            "trunks ignored in favor of the implicit VLAN"
        );
        assert_eq!(vlan(None, &[], None), PortVlan::TrunkAll);
        assert_eq!(
            vlan(None, &[10, 20], None),
            PortVlan::Trunk(VlanSet::new([10, 20]))
        );
    }

    #[test]
    fn explicit_modes_as_vswitch_xml_reads_them() {
        use VlanMode::*;
        assert_eq!(vlan(None, &[], Some(Access)), PortVlan::Access(0));
        assert_eq!(
            vlan(Some(5), &[], Some(Trunk)),
            PortVlan::TrunkAll,
            "a trunk ignores tag"
        );
        assert_eq!(
            vlan(Some(5), &[7], Some(NativeTagged)),
            PortVlan::NativeTagged {
                native: 5,
                trunks: Some(VlanSet::new([7]))
            }
        );
        assert_eq!(
            vlan(Some(5), &[], Some(NativeUntagged)),
            PortVlan::NativeUntagged {
                native: 5,
                trunks: None
            }
        );
    }

    #[test]
    fn dot1q_tunnel_keeps_the_port_in_its_vlan_and_says_it_is_not_qinq() {
        let (v, error) = port_vlan("p", Some(30), &set(&[]), Some(VlanMode::Dot1qTunnel));
        assert_eq!(v, PortVlan::Access(30));
        assert!(
            error
                .unwrap()
                .contains("dot1q-tunnel (802.1ad) is not supported")
        );
    }
}
