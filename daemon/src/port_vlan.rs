//! A port's VLAN settings from its record's `tag`, `trunks` and `vlan_mode`, read as
//! vswitch.xml defines them and ovs-vswitchd's `bridge.c` applies them:
//!
//! - empty `vlan_mode`: access if `tag` is set (then `trunks` is ignored), else trunk;
//! - `access`: untagged frames join `tag` (VLAN 0 when there is none);
//! - `trunk`: the VLANs of `trunks`, all when empty; a `tag` is ignored;
//! - `native-tagged` / `native-untagged`: `tag` (0 when unset) is the native VLAN, `trunks`
//!   (all when empty) the others;
//! - a `tag` above 4095 counts as none, trunk entries above 4094 are left out.
//!
//! The configuration's own checks refuse bad values before they are stored; this reading never
//! fails, as OVS's does not, and says what it ignored.

use datapath::vlan::{MAX_VID, PortVlan, VlanSet};

/// The `PortVlan` for one port's columns; `port` names it in warnings.
pub fn port_vlan(
    port: &str,
    tag: Option<u16>,
    trunks: &[u16],
    vlan_mode: Option<&str>,
) -> PortVlan {
    let tag = tag.filter(|t| *t <= 4095);
    let set = || (!trunks.is_empty()).then(|| VlanSet::new(trunks.iter().copied()));
    if trunks.iter().any(|v| *v > MAX_VID) {
        tracing::warn!(%port, "trunks above {MAX_VID} ignored");
    }
    match vlan_mode.filter(|m| !m.is_empty()) {
        None => match tag {
            Some(n) => {
                if !trunks.is_empty() {
                    tracing::warn!(%port, "ignoring trunks in favor of implicit vlan");
                }
                PortVlan::Access(n)
            }
            None => trunk(set()),
        },
        Some("access") => PortVlan::Access(tag.unwrap_or(0)),
        Some("trunk") => trunk(set()),
        Some("native-tagged") => PortVlan::NativeTagged {
            native: tag.unwrap_or(0),
            trunks: set(),
        },
        Some("native-untagged") => PortVlan::NativeUntagged {
            native: tag.unwrap_or(0),
            trunks: set(),
        },
        Some(other) => {
            tracing::warn!(%port, vlan_mode = other, "unknown VLAN mode, falling back to trunk mode");
            trunk(set())
        }
    }
}

fn trunk(set: Option<VlanSet>) -> PortVlan {
    set.map_or(PortVlan::TrunkAll, PortVlan::Trunk)
}

/// The three columns as the record holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VlanColumns {
    pub tag: Option<u16>,
    pub trunks: Vec<u16>,
    pub vlan_mode: Option<String>,
}

/// Interim source of the three columns until the Port record has them: the interface's
/// `other_config:grebe-vlan-tag`, `grebe-vlan-trunks` (comma-separated) and `grebe-vlan-mode`,
/// with the columns' syntax. A value that does not parse is an error for the interface.
pub fn interim_columns(
    other_config: &std::collections::BTreeMap<String, String>,
) -> Result<VlanColumns, String> {
    let vid = |key: &str, text: &str| {
        text.trim()
            .parse::<u16>()
            .ok()
            .filter(|v| *v <= 4095)
            .ok_or_else(|| {
                format!("other_config:{key}={text}: a VLAN id is a number from 0 to 4095")
            })
    };
    let tag = other_config
        .get("grebe-vlan-tag")
        .map(|t| vid("grebe-vlan-tag", t))
        .transpose()?;
    let trunks = match other_config.get("grebe-vlan-trunks") {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .filter(|v| !v.trim().is_empty())
            .map(|v| vid("grebe-vlan-trunks", v))
            .collect::<Result<_, _>>()?,
    };
    let mode = other_config.get("grebe-vlan-mode").cloned();
    if let Some(m) = &mode
        && !matches!(
            m.as_str(),
            "" | "access" | "trunk" | "native-tagged" | "native-untagged"
        )
    {
        return Err(format!(
            "other_config:grebe-vlan-mode={m}: expected access, trunk, native-tagged or native-untagged"
        ));
    }
    Ok(VlanColumns {
        tag,
        trunks,
        vlan_mode: mode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[u16]) -> Option<VlanSet> {
        Some(VlanSet::new(v.iter().copied()))
    }

    #[test]
    fn an_empty_mode_is_access_with_a_tag_and_trunk_without() {
        assert_eq!(port_vlan("p", Some(10), &[], None), PortVlan::Access(10));
        assert_eq!(
            port_vlan("p", Some(10), &[20], Some("")),
            PortVlan::Access(10),
            "trunks ignored in favor of the implicit VLAN"
        );
        assert_eq!(port_vlan("p", None, &[], None), PortVlan::TrunkAll);
        assert_eq!(
            port_vlan("p", None, &[10, 20], None),
            PortVlan::Trunk(VlanSet::new([10, 20]))
        );
    }

    #[test]
    fn explicit_modes_as_vswitch_xml_reads_them() {
        assert_eq!(
            port_vlan("p", None, &[], Some("access")),
            PortVlan::Access(0)
        );
        assert_eq!(
            port_vlan("p", Some(5), &[], Some("trunk")),
            PortVlan::TrunkAll,
            "a trunk ignores tag"
        );
        assert_eq!(
            port_vlan("p", Some(5), &[7], Some("native-tagged")),
            PortVlan::NativeTagged {
                native: 5,
                trunks: set(&[7])
            }
        );
        assert_eq!(
            port_vlan("p", Some(5), &[], Some("native-untagged")),
            PortVlan::NativeUntagged {
                native: 5,
                trunks: None
            }
        );
        assert_eq!(
            port_vlan("p", Some(5), &[], Some("dot1q")),
            PortVlan::TrunkAll
        );
        assert_eq!(port_vlan("p", Some(5000), &[], None), PortVlan::TrunkAll);
    }

    #[test]
    fn interim_columns_parse_or_say_why_not() {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(interim_columns(&map(&[])).unwrap(), VlanColumns::default());
        assert_eq!(
            interim_columns(&map(&[
                ("grebe-vlan-tag", "100"),
                ("grebe-vlan-trunks", "200, 300"),
                ("grebe-vlan-mode", "native-untagged"),
            ]))
            .unwrap(),
            VlanColumns {
                tag: Some(100),
                trunks: vec![200, 300],
                vlan_mode: Some("native-untagged".into())
            }
        );
        for (k, v, why) in [
            ("grebe-vlan-tag", "4096", "from 0 to 4095"),
            ("grebe-vlan-trunks", "10,x", "grebe-vlan-trunks=x"),
            ("grebe-vlan-mode", "hybrid", "expected access"),
        ] {
            let e = interim_columns(&map(&[(k, v)])).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
    }
}
