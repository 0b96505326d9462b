//! grebe's configuration model: what the operator asked for.
//!
//! The `grebe daemon` process owns one [`Config`] and persists it as JSON in
//! its db file ([`Config::load`] / [`Config::save`]).  Clients change it only
//! through `ovs-vsctl`-style commands (see [`crate::vsctl`]), which validate
//! the whole new configuration before it replaces the old one.
//!
//! The model mirrors the part of the Open vSwitch schema that grebe uses:
//! bridges hold ports, and each port has exactly one interface of the same
//! name (grebe has no bonds), so a port and its interface are one record
//! here.  Like OVS, `add-br BR` creates an internal port `BR` on the bridge
//! (the bridge's "local port").
//!
//! # Storable versus usable
//!
//! [`Config::validate`] rejects settings that are *malformed*: numbers that
//! do not parse, addresses with bad syntax, unknown option keys, bad names.
//! A configuration that passes it may still be *incomplete*: a `type=gre`
//! interface without `options:remote_ip` is accepted, because operators build
//! GRE ports step by step exactly as with OVS
//! (`ovs-vsctl add-port br-int gre0` and later
//! `ovs-vsctl set interface gre0 type=gre options:remote_ip=192.0.2.15`).
//! Such an interface is reported as an interface error by
//! [`Interface::gre_options`]; the daemon shows that error the way OVS fills
//! the Interface `error` column (`ovs-vsctl show` prints `error: "..."`).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod bridge;
mod controller;
mod gre;
mod persist;
mod tree;
mod validate;

pub use bridge::{
    BridgeSettings, DEFAULT_MAC_AGING_TIME, DEFAULT_MAC_TABLE_SIZE, MAC_AGING_TIME_RANGE,
    MAC_TABLE_SIZE_RANGE,
};
pub use controller::{ControllerTarget, FailMode, OPENFLOW_PORT};
pub use gre::{DEFAULT_GRE_TTL, GRE_OPTION_KEYS, GreOptions, IP6GRE_OPTION_KEYS};
pub use validate::{MAX_IFNAME_LEN, MTU_REQUEST_RANGE, check_ifname};

/// The whole switch configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub bridges: BTreeMap<String, Bridge>,
}

/// One bridge.  `ports` always contains the bridge's own internal port,
/// named like the bridge (as OVS's `add-br` creates it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bridge {
    /// Port (= interface) name to interface settings.
    pub ports: BTreeMap<String, Interface>,
    #[serde(default)]
    pub other_config: BTreeMap<String, String>,
    #[serde(default)]
    pub external_ids: BTreeMap<String, String>,
    /// OVS's `datapath_type` ("", "system" or "netdev"): stored so that OVS-userspace scripts
    /// run unchanged; grebe has one datapath whatever it says.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub datapath_type: String,
    /// Run IEEE 802.1D spanning tree (see `tree`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stp_enable: bool,
    /// Run IEEE 802.1w rapid spanning tree; wins over `stp_enable`, as in OVS.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rstp_enable: bool,
    /// OpenFlow controllers and listeners (`set-controller`), as OVS writes their targets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controller: Vec<String>,
    /// `set-fail-mode`; none means standalone, as in OVS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_mode: Option<FailMode>,
}

/// One interface; port and interface share the name (the map key in
/// [`Bridge::ports`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    #[serde(rename = "type", default)]
    pub kind: InterfaceType,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub mtu_request: Option<u32>,
    #[serde(default)]
    pub other_config: BTreeMap<String, String>,
    #[serde(default)]
    pub external_ids: BTreeMap<String, String>,
    /// The Port's `tag`: its access VLAN, or the native VLAN of a native-tagged or
    /// native-untagged trunk (0 to 4095). Stored for OVS's clients; the datapath does not
    /// use VLANs yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<u16>,
    /// The Port's `trunks`: the VLANs a trunk carries (empty: all).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub trunks: BTreeSet<u16>,
    /// The Port's `vlan_mode`; none means access when `tag` is set, else trunk (as OVS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan_mode: Option<VlanMode>,
}

/// The highest VLAN ID (`tag` and `trunks` hold 0 to 4095).
pub const MAX_VLAN: u16 = 4095;

/// A Port's `vlan_mode` (OVS 3.1's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VlanMode {
    Access,
    Trunk,
    NativeTagged,
    NativeUntagged,
    #[serde(rename = "dot1q-tunnel")]
    Dot1qTunnel,
}

impl VlanMode {
    /// The value of the OVS `vlan_mode` column.
    pub fn as_ovs_str(self) -> &'static str {
        match self {
            VlanMode::Access => "access",
            VlanMode::Trunk => "trunk",
            VlanMode::NativeTagged => "native-tagged",
            VlanMode::NativeUntagged => "native-untagged",
            VlanMode::Dot1qTunnel => "dot1q-tunnel",
        }
    }

    /// Parses an OVS `vlan_mode` value.
    pub fn from_ovs_str(s: &str) -> Option<VlanMode> {
        [
            VlanMode::Access,
            VlanMode::Trunk,
            VlanMode::NativeTagged,
            VlanMode::NativeUntagged,
            VlanMode::Dot1qTunnel,
        ]
        .into_iter()
        .find(|m| m.as_ovs_str() == s)
    }
}

/// Interface types grebe implements.  `""` and `"system"` in ovs-vsctl both
/// mean [`InterfaceType::System`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InterfaceType {
    #[default]
    System,
    Internal,
    Gre,
    /// GRE over an IPv6 transport (RFC 7676), OVS's `type=ip6gre`.
    Ip6gre,
}

impl InterfaceType {
    /// The value of the OVS `type` column (`""` for a system interface, as
    /// `ovs-vsctl add-port` leaves it).
    pub fn as_ovs_str(self) -> &'static str {
        match self {
            InterfaceType::System => "",
            InterfaceType::Internal => "internal",
            InterfaceType::Gre => "gre",
            InterfaceType::Ip6gre => "ip6gre",
        }
    }

    /// Parses an OVS `type` column value.  The error explains what grebe
    /// supports.
    pub fn from_ovs_str(s: &str) -> Result<InterfaceType, String> {
        match s {
            "" | "system" => Ok(InterfaceType::System),
            "internal" => Ok(InterfaceType::Internal),
            "gre" => Ok(InterfaceType::Gre),
            "ip6gre" => Ok(InterfaceType::Ip6gre),
            other => Err(format!(
                "grebe does not support interface type \"{other}\" \
                 (supported types: \"\" or system, internal, gre, ip6gre)"
            )),
        }
    }
}

/// Errors about the configuration: its file, or a setting in it.  Each
/// message names what is wrong and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "configuration file {} is corrupt: {source} (restore it from a backup, \
         or start the daemon with --reset-config to keep it aside and start empty)",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write configuration file {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A bridge or interface name that cannot be used.
    #[error("invalid {what} name \"{name}\": {problem}")]
    InvalidName {
        what: &'static str,
        name: String,
        problem: String,
    },
    /// The same port name on two bridges.
    #[error(
        "port {port} is on both bridge {first} and bridge {second}; a port can \
         be on one bridge only (remove one: ovs-vsctl del-port {second} {port})"
    )]
    DuplicatePort {
        port: String,
        first: String,
        second: String,
    },
    /// A malformed bridge setting.
    #[error("bridge {bridge}: {problem}")]
    Bridge { bridge: String, problem: String },
    /// A malformed interface setting.
    #[error("interface {iface}: {problem}")]
    Interface { iface: String, problem: String },
    /// A `type=gre` interface without `options:remote_ip`: storable, but the
    /// interface cannot work (see the module documentation).
    #[error(
        "interface {iface}: options:remote_ip is required for type=gre \
         (ovs-vsctl set interface {iface} options:remote_ip=192.0.2.15, with \
         the remote host's IPv4 address)"
    )]
    MissingRemoteIp { iface: String },
    #[error(
        "interface {iface}: options:remote_ip is required for type=ip6gre \
         (ovs-vsctl set interface {iface} options:remote_ip=2001:db8::15, with \
         the remote host's IPv6 address)"
    )]
    MissingRemoteIpv6 { iface: String },
}

/// Placeholder used in messages by the name-less accessors
/// ([`Interface::gre_options`], [`Bridge::settings`]).
const UNNAMED: &str = "<name>";

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub(crate) fn gre(options: &[(&str, &str)]) -> Interface {
        Interface {
            kind: InterfaceType::Gre,
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Interface::default()
        }
    }

    pub(crate) fn ip6gre(options: &[(&str, &str)]) -> Interface {
        Interface {
            kind: InterfaceType::Ip6gre,
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Interface::default()
        }
    }

    pub(crate) fn config_with(port: &str, iface: Interface) -> Config {
        let mut br = Bridge::new_with_local_port("br-int");
        br.ports.insert(port.to_string(), iface);
        let mut c = Config::default();
        c.bridges.insert("br-int".to_string(), br);
        c
    }

    pub(crate) fn validate_err(c: &Config) -> String {
        c.validate().unwrap_err().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{config_with, gre};

    #[test]
    fn json_format_is_stable() {
        let c = config_with("gre0", gre(&[("remote_ip", "192.0.2.15")]));
        let v: serde_json::Value = serde_json::to_value(&c).unwrap();
        assert_eq!(v["bridges"]["br-int"]["ports"]["gre0"]["type"], "gre");
        assert_eq!(
            v["bridges"]["br-int"]["ports"]["br-int"]["type"],
            "internal"
        );
        // Optional fields may be omitted in a hand-written file.
        let c2: Config = serde_json::from_str(
            r#"{"bridges":{"br-int":{"ports":{"br-int":{"type":"internal"},"eth1":{}}}}}"#,
        )
        .unwrap();
        assert_eq!(c2.bridges["br-int"].ports["eth1"], Interface::default());
        c2.validate().unwrap();
    }
}
