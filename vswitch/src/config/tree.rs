//! Spanning tree settings: the bridge columns `stp_enable` and `rstp_enable`, and the
//! `other_config:stp-*`/`rstp-*` keys of bridges and ports, as OVS 3.1 reads them.
//!
//! Where OVS silently clamps or ignores a bad value, grebe refuses it with the key, the range and
//! the command that fixes it: a typo in a spanning tree setting can otherwise elect the wrong root.
//! The relations between the three timers (max age at least twice hello plus one second, forward
//! delay at least half max age plus one second) are enforced the way OVS does, by the protocol,
//! and `stp/show` prints the values in use.

use std::collections::BTreeMap;
use std::time::Duration;

use datapath::{TreePortSettings, TreeSettings};

use super::{Bridge, ConfigError, Interface};

/// What a key holds, with its range.
struct Key {
    name: &'static str,
    min: u64,
    max: u64,
    default: u64,
}

const STP_PRIORITY: Key = Key {
    name: "stp-priority",
    min: 0,
    max: 65535,
    default: 32768,
};
const STP_HELLO: Key = Key {
    name: "stp-hello-time",
    min: 1,
    max: 10,
    default: 2,
};
const STP_MAX_AGE: Key = Key {
    name: "stp-max-age",
    min: 6,
    max: 40,
    default: 20,
};
const STP_FWD_DELAY: Key = Key {
    name: "stp-forward-delay",
    min: 4,
    max: 30,
    default: 15,
};
const RSTP_PRIORITY: Key = Key {
    name: "rstp-priority",
    min: 0,
    max: 61440,
    default: 32768,
};
const RSTP_MAX_AGE: Key = Key {
    name: "rstp-max-age",
    min: 6,
    max: 40,
    default: 20,
};
const RSTP_FWD_DELAY: Key = Key {
    name: "rstp-forward-delay",
    min: 4,
    max: 30,
    default: 15,
};
const STP_PORT_PRIORITY: Key = Key {
    name: "stp-port-priority",
    min: 0,
    max: 255,
    default: 128,
};
const STP_PATH_COST: Key = Key {
    name: "stp-path-cost",
    min: 1,
    max: 65535,
    default: 0,
};
const RSTP_PORT_PRIORITY: Key = Key {
    name: "rstp-port-priority",
    min: 0,
    max: 240,
    default: 128,
};
const RSTP_PATH_COST: Key = Key {
    name: "rstp-path-cost",
    min: 1,
    max: 200_000_000,
    default: 0,
};

/// Reads `key` from `other_config`; `Ok(None)` when absent. `fix` names the record for the
/// command in the message, e.g. `bridge br-int`.
fn number(oc: &BTreeMap<String, String>, key: &Key, fix: &str) -> Result<Option<u64>, String> {
    let Some(raw) = oc.get(key.name) else {
        return Ok(None);
    };
    match raw.parse::<u64>() {
        Ok(n) if (key.min..=key.max).contains(&n) => Ok(Some(n)),
        _ => Err(format!(
            "other_config:{}={raw} is not an integer from {} to {} (ovs-vsctl set {fix} \
             other_config:{}={}, or ovs-vsctl remove {fix} other_config {})",
            key.name,
            key.min,
            key.max,
            key.name,
            if key.default > 0 {
                key.default
            } else {
                key.min.max(2)
            },
            key.name
        )),
    }
}

fn boolean(oc: &BTreeMap<String, String>, key: &str, fix: &str) -> Result<bool, String> {
    match oc.get(key).map(String::as_str) {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(format!(
            "other_config:{key}={other} must be true or false (ovs-vsctl set {fix} \
             other_config:{key}=false)"
        )),
    }
}

fn mac(oc: &BTreeMap<String, String>, key: &str, fix: &str) -> Result<Option<[u8; 6]>, String> {
    let Some(raw) = oc.get(key) else {
        return Ok(None);
    };
    match raw.parse::<encap::ethernet::EthernetAddress>() {
        Ok(mac) => Ok(Some(mac.0)),
        Err(_) => Err(format!(
            "other_config:{key}={raw} is not a MAC address (ovs-vsctl set {fix} \
             other_config:{key}=02:00:00:00:00:01)"
        )),
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

impl Bridge {
    /// The spanning tree the bridge runs, if any. `local_mac` is the bridge's own address, the
    /// system ID unless `stp-system-id` (`rstp-address`) gives one. RSTP wins when both
    /// `stp_enable` and `rstp_enable` are true, as in OVS.
    pub fn tree_settings(
        &self,
        name: &str,
        local_mac: [u8; 6],
    ) -> Result<Option<TreeSettings>, ConfigError> {
        let protocol = match (self.rstp_enable, self.stp_enable) {
            (true, _) => stp::Protocol::Rstp,
            (false, true) => stp::Protocol::Stp,
            (false, false) => return Ok(None),
        };
        let bridge = self.tree_config(name, protocol, local_mac)?;
        Ok(Some(TreeSettings { protocol, bridge }))
    }

    /// The bridge's settings for `protocol`, from its `other_config`.
    fn tree_config(
        &self,
        name: &str,
        protocol: stp::Protocol,
        local_mac: [u8; 6],
    ) -> Result<stp::BridgeConfig, ConfigError> {
        let fix = format!("bridge {name}");
        let oc = &self.other_config;
        let read = || -> Result<stp::BridgeConfig, String> {
            Ok(match protocol {
                stp::Protocol::Rstp => {
                    let priority = number(oc, &RSTP_PRIORITY, &fix)?;
                    let max_age = number(oc, &RSTP_MAX_AGE, &fix)?;
                    let fwd = number(oc, &RSTP_FWD_DELAY, &fix)?;
                    let system_id = mac(oc, "rstp-address", &fix)?;
                    stp::BridgeConfig {
                        // OVS rounds down to a multiple of 4096 (802.1D-2004 uses only the
                        // top 4 bits).
                        priority: (priority.unwrap_or(RSTP_PRIORITY.default) / 4096 * 4096) as u16,
                        system_id: system_id.unwrap_or(local_mac),
                        // OVS's RSTP has no hello-time setting: 802.1D-2004 fixes it at 2 s.
                        hello_time: secs(2),
                        max_age: secs(max_age.unwrap_or(RSTP_MAX_AGE.default)),
                        forward_delay: secs(fwd.unwrap_or(RSTP_FWD_DELAY.default)),
                    }
                }
                stp::Protocol::Stp => {
                    let priority = number(oc, &STP_PRIORITY, &fix)?;
                    let hello = number(oc, &STP_HELLO, &fix)?;
                    let max_age = number(oc, &STP_MAX_AGE, &fix)?;
                    let fwd = number(oc, &STP_FWD_DELAY, &fix)?;
                    let system_id = mac(oc, "stp-system-id", &fix)?;
                    stp::BridgeConfig {
                        priority: priority.unwrap_or(STP_PRIORITY.default) as u16,
                        system_id: system_id.unwrap_or(local_mac),
                        hello_time: secs(hello.unwrap_or(STP_HELLO.default)),
                        max_age: secs(max_age.unwrap_or(STP_MAX_AGE.default)),
                        forward_delay: secs(fwd.unwrap_or(STP_FWD_DELAY.default)),
                    }
                }
            })
        };
        read().map_err(|problem| ConfigError::Bridge {
            bridge: name.to_string(),
            problem,
        })
    }

    /// Checks the bridge's spanning tree keys whether or not a protocol is on, so a bad value is
    /// refused when it is set, not later when STP is enabled.
    pub fn validate_tree_keys(&self, name: &str) -> Result<(), ConfigError> {
        self.tree_config(name, stp::Protocol::Stp, [0; 6])?;
        self.tree_config(name, stp::Protocol::Rstp, [0; 6])?;
        Ok(())
    }
}

impl Interface {
    /// The port's part in a spanning tree run by `protocol`.
    pub fn tree_port_settings(
        &self,
        name: &str,
        protocol: stp::Protocol,
    ) -> Result<TreePortSettings, ConfigError> {
        let bad = |problem: String| ConfigError::Interface {
            iface: name.to_string(),
            problem,
        };
        let fix = format!("port {name}");
        let oc = &self.other_config;
        let (enable, priority, cost) = match protocol {
            stp::Protocol::Stp => ("stp-enable", &STP_PORT_PRIORITY, &STP_PATH_COST),
            stp::Protocol::Rstp => ("rstp-enable", &RSTP_PORT_PRIORITY, &RSTP_PATH_COST),
        };
        let enabled = boolean(oc, enable, &fix).map_err(bad)?;
        let mut priority_value = number(oc, priority, &fix).map_err(bad)?;
        if protocol == stp::Protocol::Rstp {
            // As OVS: RSTP port priorities step by 16.
            priority_value = priority_value.map(|p| p / 16 * 16);
        }
        let path_cost = number(oc, cost, &fix).map_err(bad)?;
        Ok(TreePortSettings {
            enabled,
            priority: priority_value.unwrap_or(priority.default) as u8,
            path_cost: path_cost.map(|c| c as u32),
        })
    }

    /// Checks the port's spanning tree keys for both protocols (the bridge may switch).
    pub fn validate_tree_keys(&self, name: &str) -> Result<(), ConfigError> {
        self.tree_port_settings(name, stp::Protocol::Stp)?;
        self.tree_port_settings(name, stp::Protocol::Rstp)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bridge(stp: bool, rstp: bool, keys: &[(&str, &str)]) -> Bridge {
        Bridge {
            stp_enable: stp,
            rstp_enable: rstp,
            other_config: keys
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Bridge::default()
        }
    }

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 9];

    #[test]
    fn off_unless_enabled_and_rstp_wins() {
        assert_eq!(
            bridge(false, false, &[]).tree_settings("br", MAC).unwrap(),
            None
        );
        let both = bridge(true, true, &[])
            .tree_settings("br", MAC)
            .unwrap()
            .unwrap();
        assert_eq!(both.protocol, stp::Protocol::Rstp);
    }

    #[test]
    fn stp_keys_are_read_in_seconds() {
        let s = bridge(
            true,
            false,
            &[
                ("stp-priority", "4096"),
                ("stp-hello-time", "1"),
                ("stp-max-age", "6"),
                ("stp-forward-delay", "4"),
                ("stp-system-id", "02:00:00:00:00:aa"),
            ],
        )
        .tree_settings("br", MAC)
        .unwrap()
        .unwrap();
        assert_eq!(s.bridge.priority, 4096);
        assert_eq!(s.bridge.hello_time, secs(1));
        assert_eq!(s.bridge.max_age, secs(6));
        assert_eq!(s.bridge.forward_delay, secs(4));
        assert_eq!(s.bridge.system_id, [2, 0, 0, 0, 0, 0xaa]);
        let d = bridge(true, false, &[])
            .tree_settings("br", MAC)
            .unwrap()
            .unwrap();
        assert_eq!((d.bridge.priority, d.bridge.system_id), (32768, MAC));
    }

    #[test]
    fn rstp_priority_rounds_down_as_ovs() {
        let s = bridge(false, true, &[("rstp-priority", "5000")])
            .tree_settings("br", MAC)
            .unwrap()
            .unwrap();
        assert_eq!(s.bridge.priority, 4096);
    }

    #[test]
    fn bad_values_name_the_key_the_range_and_the_fix() {
        let e = bridge(true, false, &[("stp-max-age", "100")])
            .validate_tree_keys("br-int")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "bridge br-int: other_config:stp-max-age=100 is not an integer from 6 to 40 \
             (ovs-vsctl set bridge br-int other_config:stp-max-age=20, or ovs-vsctl remove \
             bridge br-int other_config stp-max-age)"
        );
        let e = bridge(false, false, &[("stp-system-id", "nope")])
            .validate_tree_keys("br-int")
            .unwrap_err()
            .to_string();
        assert!(e.contains("stp-system-id=nope is not a MAC address"), "{e}");
        let port = Interface {
            other_config: [("stp-path-cost".to_string(), "0".to_string())].into(),
            ..Interface::default()
        };
        let e = port.validate_tree_keys("gre1").unwrap_err().to_string();
        assert!(
            e.starts_with(
                "interface gre1: other_config:stp-path-cost=0 is not an integer from 1 to 65535"
            ),
            "{e}"
        );
    }

    #[test]
    fn port_keys() {
        let port = Interface {
            other_config: [
                ("stp-enable".to_string(), "false".to_string()),
                ("stp-port-priority".to_string(), "64".to_string()),
                ("stp-path-cost".to_string(), "100".to_string()),
                ("rstp-port-priority".to_string(), "70".to_string()),
            ]
            .into(),
            ..Interface::default()
        };
        let s = port.tree_port_settings("p", stp::Protocol::Stp).unwrap();
        assert_eq!((s.enabled, s.priority, s.path_cost), (false, 64, Some(100)));
        let r = port.tree_port_settings("p", stp::Protocol::Rstp).unwrap();
        assert_eq!((r.enabled, r.priority, r.path_cost), (true, 64, None));
    }
}
