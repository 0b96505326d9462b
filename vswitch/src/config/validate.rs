//! Validation of a whole configuration: names, unique ports, local ports, every typed setting.

use std::collections::BTreeMap;

use super::gre::{TunnelFamily, iface_err, parse_gre_options};
use super::{Config, ConfigError, Interface, InterfaceType, MAX_VLAN};

/// Linux's IFNAMSIZ - 1.
pub const MAX_IFNAME_LEN: usize = 15;

/// Checks that `name` is a valid Linux network interface name (what the
/// kernel's `dev_valid_name()` accepts, minus control characters).
pub fn check_ifname(name: &str) -> Result<(), String> {
    const RULE: &str = "Linux interface names are 1 to 15 bytes without '/', ':' or whitespace";
    if name.is_empty() {
        return Err(format!("it is empty ({RULE})"));
    }
    if name.len() > MAX_IFNAME_LEN {
        return Err(format!("it is {} bytes long ({RULE})", name.len()));
    }
    if name == "." || name == ".." {
        return Err(format!("\"{name}\" is reserved ({RULE})"));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err(format!("it contains {c:?} ({RULE})"));
    }
    Ok(())
}

/// Checks a port name that does not have to be a kernel interface name
/// (GRE ports exist only inside grebe).
fn check_port_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".to_string());
    }
    if name.len() > 255 {
        return Err(format!("it is {} bytes long (at most 255)", name.len()));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(format!("it contains the control character {c:?}"));
    }
    Ok(())
}

/// Valid range for `mtu_request` (Linux: IPv4 minimum 68, ETH_MAX_MTU 65535).
pub const MTU_REQUEST_RANGE: (u32, u32) = (68, 65535);

impl Config {
    /// Rejects malformed settings: every typed setting must parse, port
    /// names must be unique across bridges, bridge and internal/system port
    /// names must be valid Linux interface names, each bridge must have its
    /// internal local port.  Accepts an incomplete `type=gre` interface
    /// (no `remote_ip`); see the module documentation.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
        for (br_name, bridge) in &self.bridges {
            check_ifname(br_name).map_err(|problem| ConfigError::InvalidName {
                what: "bridge",
                name: br_name.clone(),
                problem,
            })?;
            match bridge.ports.get(br_name) {
                Some(local) if local.kind == InterfaceType::Internal => {}
                Some(_) => {
                    return Err(ConfigError::Bridge {
                        bridge: br_name.clone(),
                        problem: format!(
                            "its local port {br_name} must be type=internal \
                             (ovs-vsctl set interface {br_name} type=internal)"
                        ),
                    });
                }
                None => {
                    return Err(ConfigError::Bridge {
                        bridge: br_name.clone(),
                        problem: format!(
                            "its local port {br_name} is missing (recreate the bridge: \
                             ovs-vsctl del-br {br_name} -- add-br {br_name})"
                        ),
                    });
                }
            }
            bridge.settings_named(br_name)?;
            for target in &bridge.controller {
                super::ControllerTarget::parse(target).map_err(|problem| ConfigError::Bridge {
                    bridge: br_name.clone(),
                    problem: format!("controller {problem}"),
                })?;
            }
            bridge.validate_tree_keys(br_name)?;
            for (port, iface) in &bridge.ports {
                if let Some(first) = owner.insert(port, br_name) {
                    return Err(ConfigError::DuplicatePort {
                        port: port.clone(),
                        first: first.to_string(),
                        second: br_name.clone(),
                    });
                }
                let name_check = match iface.kind {
                    InterfaceType::Gre | InterfaceType::Ip6gre => check_port_name(port),
                    InterfaceType::System | InterfaceType::Internal => check_ifname(port),
                };
                name_check.map_err(|problem| ConfigError::InvalidName {
                    what: "interface",
                    name: port.clone(),
                    problem,
                })?;
                iface.validate_tree_keys(port)?;
                if let Some(mtu) = iface.mtu_request {
                    let (lo, hi) = MTU_REQUEST_RANGE;
                    if !(lo..=hi).contains(&mtu) {
                        return Err(iface_err(
                            port,
                            format!(
                                "mtu_request={mtu} is outside {lo}..={hi} (ovs-vsctl set \
                                 interface {port} mtu_request=1500, or ovs-vsctl clear \
                                 interface {port} mtu_request)"
                            ),
                        ));
                    }
                }
                if let Some(vid) = iface
                    .tag
                    .into_iter()
                    .chain(iface.trunks.iter().copied())
                    .find(|&v| v > MAX_VLAN)
                {
                    return Err(iface_err(
                        port,
                        format!(
                            "VLAN {vid} in tag or trunks is outside 0..={MAX_VLAN} (ovs-vsctl \
                             clear port {port} tag trunks)"
                        ),
                    ));
                }
                if let Some(family) = TunnelFamily::of(iface.kind) {
                    parse_gre_options(port, family, &iface.options)?;
                }
            }
        }
        Ok(())
    }

    /// The bridge that has port `port` (including a bridge's own local port).
    pub fn bridge_of_port(&self, port: &str) -> Option<&str> {
        self.bridges
            .iter()
            .find(|(_, b)| b.ports.contains_key(port))
            .map(|(name, _)| name.as_str())
    }

    /// The interface named `name`, wherever it is.
    pub fn interface(&self, name: &str) -> Option<&Interface> {
        self.bridges.values().find_map(|b| b.ports.get(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Bridge;
    use crate::config::testing::{config_with, gre, validate_err};

    #[test]
    fn names_are_checked() {
        let c = config_with("a-name-that-is-too-long", Interface::default());
        assert_eq!(
            validate_err(&c),
            "invalid interface name \"a-name-that-is-too-long\": it is 23 bytes long (Linux \
             interface names are 1 to 15 bytes without '/', ':' or whitespace)"
        );
        for bad in ["a/b", "a:b", "a b", "", ".", "..", "tab\t"] {
            let mut c = config_with(bad, Interface::default());
            assert!(c.validate().is_err(), "{bad:?}");
            let i = c
                .bridges
                .get_mut("br-int")
                .unwrap()
                .ports
                .get_mut(bad)
                .unwrap();
            i.kind = InterfaceType::Internal;
            assert!(c.validate().is_err(), "{bad:?}");
        }
        // Exactly 15 bytes is fine.
        config_with("abcdefghijklmno", Interface::default())
            .validate()
            .unwrap();
        // GRE ports need not be kernel interface names.
        config_with("gre-to-host-number-42", gre(&[("remote_ip", "192.0.2.15")]))
            .validate()
            .unwrap();
        let mut c = Config::default();
        c.bridges.insert(
            "bridge-name-too-long".into(),
            Bridge::new_with_local_port("bridge-name-too-long"),
        );
        assert!(validate_err(&c).starts_with("invalid bridge name \"bridge-name-too-long\""));
    }

    #[test]
    fn duplicate_ports_and_local_port_rules() {
        let mut c = config_with("gre0", gre(&[]));
        let mut br1 = Bridge::new_with_local_port("br1");
        br1.ports.insert("gre0".into(), Interface::default());
        c.bridges.insert("br1".into(), br1);
        assert_eq!(
            validate_err(&c),
            "port gre0 is on both bridge br-int and bridge br1; a port can be on one bridge \
             only (remove one: ovs-vsctl del-port br1 gre0)"
        );
        assert_eq!(c.bridge_of_port("br1"), Some("br1"));
        assert_eq!(c.bridge_of_port("nope"), None);

        let mut c = config_with("gre0", gre(&[]));
        c.bridges.get_mut("br-int").unwrap().ports.remove("br-int");
        assert!(validate_err(&c).contains("its local port br-int is missing"));
        let mut c = config_with("gre0", gre(&[]));
        c.bridges
            .get_mut("br-int")
            .unwrap()
            .ports
            .get_mut("br-int")
            .unwrap()
            .kind = InterfaceType::Gre;
        assert!(validate_err(&c).contains("must be type=internal"));
    }

    #[test]
    fn mtu_request_range() {
        let mut i = Interface {
            mtu_request: Some(1400),
            ..Interface::default()
        };
        config_with("eth1", i.clone()).validate().unwrap();
        i.mtu_request = Some(10);
        assert!(
            validate_err(&config_with("eth1", i.clone()))
                .contains("mtu_request=10 is outside 68..=65535")
        );
        i.mtu_request = Some(70000);
        assert!(validate_err(&config_with("eth1", i)).contains("mtu_request=70000"));
    }
}
