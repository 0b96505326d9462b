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

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod tree;

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
}

impl InterfaceType {
    /// The value of the OVS `type` column (`""` for a system interface, as
    /// `ovs-vsctl add-port` leaves it).
    pub fn as_ovs_str(self) -> &'static str {
        match self {
            InterfaceType::System => "",
            InterfaceType::Internal => "internal",
            InterfaceType::Gre => "gre",
        }
    }

    /// Parses an OVS `type` column value.  The error explains what grebe
    /// supports.
    pub fn from_ovs_str(s: &str) -> Result<InterfaceType, String> {
        match s {
            "" | "system" => Ok(InterfaceType::System),
            "internal" => Ok(InterfaceType::Internal),
            "gre" => Ok(InterfaceType::Gre),
            other => Err(format!(
                "grebe does not support interface type \"{other}\" \
                 (supported types: \"\" or system, internal, gre)"
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
         or move it away to start with an empty configuration)",
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
}

/// Placeholder used in messages by the name-less accessors
/// ([`Interface::gre_options`], [`Bridge::settings`]).
const UNNAMED: &str = "<name>";

// ---------------------------------------------------------------------------
// Bridge settings.

/// Default MAC aging time, as OVS (`MAC_ENTRY_DEFAULT_IDLE_TIME`).
pub const DEFAULT_MAC_AGING_TIME: u64 = 300;
/// Default MAC table size, as OVS (`MAC_DEFAULT_MAX`).
pub const DEFAULT_MAC_TABLE_SIZE: usize = 8192;
/// OVS clamps `mac-aging-time` into this range (`normalize_idle_time()` in
/// lib/mac-learning.c).
pub const MAC_AGING_TIME_RANGE: (u64, u64) = (15, 3600);
/// OVS clamps `mac-table-size` into this range
/// (`mac_learning_set_max_entries()` in lib/mac-learning.c).
pub const MAC_TABLE_SIZE_RANGE: (u64, u64) = (10, 1_000_000);

/// Typed, validated view of a bridge's `other_config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeSettings {
    /// `other_config:mac-aging-time`, seconds; default 300.
    pub mac_aging_time: Duration,
    /// `other_config:mac-table-size`; default 8192.
    pub mac_table_size: usize,
    /// `other_config:tunnel-split-horizon=true|false` (grebe's own key):
    /// never forward a frame received from a GRE port to another GRE port.
    /// Default false (OVS's behaviour).
    pub tunnel_split_horizon: bool,
}

impl Default for BridgeSettings {
    fn default() -> Self {
        BridgeSettings {
            mac_aging_time: Duration::from_secs(DEFAULT_MAC_AGING_TIME),
            mac_table_size: DEFAULT_MAC_TABLE_SIZE,
            tunnel_split_horizon: false,
        }
    }
}

/// A numeric `other_config` value after OVS's rules.
struct Clamped {
    value: u64,
    /// Set when the value given was replaced: (what was given, what is used, why).
    note: Option<String>,
}

/// Parses `other_config:KEY` the way OVS uses it, but stricter about syntax.
///
/// Choice (documented for operators): OVS reads these keys with
/// `smap_get_int()`, silently treats a non-number or 0 as "use the default"
/// and silently clamps out-of-range values (mac-aging-time to 15..=3600,
/// mac-table-size to 10..=1000000).  grebe rejects non-numbers (a typo should
/// not silently become the default), keeps OVS's meaning for 0 (default) and
/// clamps like OVS so that configurations written for OVS keep working, but
/// says so: [`Bridge::settings_warnings`] describes every replaced value and
/// `ovs-vsctl` prints it as a warning when the setting is made.
fn clamped_setting(
    bridge: &str,
    other_config: &BTreeMap<String, String>,
    key: &str,
    unit: &str,
    default: u64,
    (min, max): (u64, u64),
) -> Result<Clamped, ConfigError> {
    let Some(raw) = other_config.get(key) else {
        return Ok(Clamped {
            value: default,
            note: None,
        });
    };
    let bad = |why: &str| ConfigError::Bridge {
        bridge: bridge.to_string(),
        problem: format!(
            "other_config:{key}={raw} {why} (use an integer from {min} to {max}, \
             e.g. ovs-vsctl set bridge {bridge} other_config:{key}={default}, \
             or remove it: ovs-vsctl remove bridge {bridge} other_config {key})"
        ),
    };
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(&format!("is not a number of {unit}")));
    }
    let n: u64 = raw.parse().map_err(|_| bad("is far too large"))?;
    let (value, note) = if n == 0 {
        (
            default,
            Some(format!(
                "other_config:{key}=0 means the default, {default} {unit} (as in Open vSwitch)"
            )),
        )
    } else if n < min {
        (
            min,
            Some(format!(
                "other_config:{key}={n} is below the minimum; using {min} {unit} \
                 (Open vSwitch clamps the same way)"
            )),
        )
    } else if n > max {
        (
            max,
            Some(format!(
                "other_config:{key}={n} is above the maximum; using {max} {unit} \
                 (Open vSwitch clamps the same way)"
            )),
        )
    } else {
        (n, None)
    };
    Ok(Clamped { value, note })
}

impl Bridge {
    /// A new bridge named `name`, with its internal local port, as
    /// `ovs-vsctl add-br` creates it.
    pub fn new_with_local_port(name: &str) -> Bridge {
        let mut ports = BTreeMap::new();
        ports.insert(
            name.to_string(),
            Interface {
                kind: InterfaceType::Internal,
                ..Interface::default()
            },
        );
        Bridge {
            ports,
            ..Bridge::default()
        }
    }

    /// Typed view of `other_config`.  Error messages name the bridge as
    /// `<name>`; prefer [`Bridge::settings_named`] when the name is at hand.
    pub fn settings(&self) -> Result<BridgeSettings, ConfigError> {
        self.settings_named(UNNAMED)
    }

    /// Typed view of `other_config`; `name` is used in error messages.
    /// Out-of-range numbers are clamped as OVS does (see
    /// [`Bridge::settings_warnings`]).
    pub fn settings_named(&self, name: &str) -> Result<BridgeSettings, ConfigError> {
        let oc = &self.other_config;
        let aging = clamped_setting(
            name,
            oc,
            "mac-aging-time",
            "seconds",
            DEFAULT_MAC_AGING_TIME,
            MAC_AGING_TIME_RANGE,
        )?;
        let size = clamped_setting(
            name,
            oc,
            "mac-table-size",
            "entries",
            DEFAULT_MAC_TABLE_SIZE as u64,
            MAC_TABLE_SIZE_RANGE,
        )?;
        let tunnel_split_horizon = match oc.get("tunnel-split-horizon").map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError::Bridge {
                    bridge: name.to_string(),
                    problem: format!(
                        "other_config:tunnel-split-horizon={other} must be true or false \
                         (ovs-vsctl set bridge {name} other_config:tunnel-split-horizon=true)"
                    ),
                });
            }
        };
        Ok(BridgeSettings {
            mac_aging_time: Duration::from_secs(aging.value),
            mac_table_size: usize::try_from(size.value).unwrap_or(usize::MAX),
            tunnel_split_horizon,
        })
    }

    /// Human-readable notes about settings that were replaced by a default
    /// or clamped into range (empty when every value is used as given, or
    /// when a value is malformed: that is an error from
    /// [`Bridge::settings_named`] instead).
    pub fn settings_warnings(&self, name: &str) -> Vec<String> {
        let oc = &self.other_config;
        let mut notes = Vec::new();
        for (key, unit, default, range) in [
            (
                "mac-aging-time",
                "seconds",
                DEFAULT_MAC_AGING_TIME,
                MAC_AGING_TIME_RANGE,
            ),
            (
                "mac-table-size",
                "entries",
                DEFAULT_MAC_TABLE_SIZE as u64,
                MAC_TABLE_SIZE_RANGE,
            ),
        ] {
            if let Ok(Clamped {
                note: Some(note), ..
            }) = clamped_setting(name, oc, key, unit, default, range)
            {
                notes.push(format!("bridge {name}: {note}"));
            }
        }
        notes
    }
}

// ---------------------------------------------------------------------------
// GRE options.

/// Option keys grebe understands on a `type=gre` interface.
pub const GRE_OPTION_KEYS: &[&str] = &[
    "remote_ip",
    "local_ip",
    "key",
    "csum",
    "seq",
    "ttl",
    "tos",
    "large_frames",
    "df_default",
];

/// Typed, validated view of a `type=gre` interface's `options`: exactly what the datapath takes
/// for a tunnel port (`remote_ip` required; `local_ip` None lets routing choose; `key=0` stored
/// as None, as in OVS a zero key is no key; `csum`, `seq` default false; `ttl` 1..=255, default
/// 64; `tos` default 0 with the two ECN bits 0, as OVS requires).
pub use datapath::TunnelConfig as GreOptions;

/// Default TTL of tunnel packets, as OVS.
pub const DEFAULT_GRE_TTL: u8 = 64;

fn iface_err(iface: &str, problem: String) -> ConfigError {
    ConfigError::Interface {
        iface: iface.to_string(),
        problem,
    }
}

/// Parses a tunnel endpoint address option.
fn parse_endpoint(iface: &str, key: &str, value: &str) -> Result<Ipv4Addr, ConfigError> {
    if value == "flow" {
        return Err(iface_err(
            iface,
            format!(
                "options:{key}=flow is not supported: grebe does not support \
                 flow-based tunnels; give an IPv4 address (ovs-vsctl set interface \
                 {iface} options:{key}=192.0.2.15)"
            ),
        ));
    }
    let addr: Ipv4Addr = value.parse().map_err(|_| {
        let why = if value.contains(':') {
            "is not supported: grebe tunnels over IPv4 only".to_string()
        } else {
            "is not an IPv4 address".to_string()
        };
        iface_err(
            iface,
            format!(
                "options:{key}={value} {why} (ovs-vsctl set interface {iface} \
                 options:{key}=192.0.2.15)"
            ),
        )
    })?;
    if addr.is_unspecified() || addr.is_multicast() || addr.is_broadcast() {
        return Err(iface_err(
            iface,
            format!(
                "options:{key}={value} is not a unicast IPv4 address (ovs-vsctl set \
                 interface {iface} options:{key}=192.0.2.15)"
            ),
        ));
    }
    Ok(addr)
}

/// Parses an unsigned number written in decimal or `0x` hex.  A leading
/// zero on a decimal number is refused: OVS reads it as octal
/// (`strtoull(s, NULL, 0)`), so "010" would mean 8 there.
fn parse_dec_or_hex(s: &str) -> Result<u64, &'static str> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("is not a number");
        }
        return u64::from_str_radix(hex, 16).map_err(|_| "is far too large");
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("is not a number");
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(
            "has a leading zero, which Open vSwitch would read as octal; write it in decimal without leading zeros or in 0x hex",
        );
    }
    s.parse().map_err(|_| "is far too large")
}

fn parse_bool_option(iface: &str, key: &str, value: &str) -> Result<bool, ConfigError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(iface_err(
            iface,
            format!(
                "options:{key}={value} must be true or false (ovs-vsctl set interface \
                 {iface} options:{key}=true)"
            ),
        )),
    }
}

/// What a `type=gre` interface's options say; `remote_ip` may be missing.
struct PartialGre {
    remote_ip: Option<Ipv4Addr>,
    rest: GreOptions,
}

fn parse_gre_options(
    iface: &str,
    options: &BTreeMap<String, String>,
) -> Result<PartialGre, ConfigError> {
    let mut out = GreOptions {
        remote_ip: Ipv4Addr::UNSPECIFIED.into(),
        local_ip: None,
        key: None,
        csum: false,
        seq: false,
        ttl: DEFAULT_GRE_TTL,
        tos: 0,
        large_frames: false,
        df_default: true,
    };
    let mut remote_ip = None;
    for (key, value) in options {
        match key.as_str() {
            "remote_ip" => remote_ip = Some(parse_endpoint(iface, key, value)?),
            "local_ip" => out.local_ip = Some(parse_endpoint(iface, key, value)?.into()),
            "key" => {
                if value == "flow" {
                    return Err(iface_err(
                        iface,
                        format!(
                            "options:key=flow is not supported: grebe doesn't support \
                             flow-based keys; use a fixed key from 0 to 4294967295 \
                             (ovs-vsctl set interface {iface} options:key=5)"
                        ),
                    ));
                }
                let n = parse_dec_or_hex(value).map_err(|why| {
                    iface_err(
                        iface,
                        format!(
                            "options:key={value} {why} (a GRE key is an integer from 0 \
                             to 4294967295, decimal or 0x hex: ovs-vsctl set interface \
                             {iface} options:key=5)"
                        ),
                    )
                })?;
                let n = u32::try_from(n).map_err(|_| {
                    iface_err(
                        iface,
                        format!(
                            "options:key={value} does not fit in the 32-bit GRE key \
                             (use 0 to 4294967295)"
                        ),
                    )
                })?;
                out.key = (n != 0).then_some(n);
            }
            "csum" => out.csum = parse_bool_option(iface, key, value)?,
            "seq" => out.seq = parse_bool_option(iface, key, value)?,
            "large_frames" => out.large_frames = parse_bool_option(iface, key, value)?,
            "df_default" => out.df_default = parse_bool_option(iface, key, value)?,
            "ttl" => {
                if value == "inherit" {
                    return Err(iface_err(
                        iface,
                        format!(
                            "options:ttl=inherit is not supported: grebe doesn't \
                             support inheriting the TTL; use a number from 1 to 255 \
                             (ovs-vsctl set interface {iface} options:ttl=64)"
                        ),
                    ));
                }
                out.ttl = match value.parse::<u16>() {
                    Ok(n @ 1..=255) if value.bytes().all(|b| b.is_ascii_digit()) => n as u8,
                    _ => {
                        return Err(iface_err(
                            iface,
                            format!(
                                "options:ttl={value} is not a TTL from 1 to 255 \
                                 (ovs-vsctl set interface {iface} options:ttl=64)"
                            ),
                        ));
                    }
                };
            }
            "tos" => {
                if value == "inherit" {
                    return Err(iface_err(
                        iface,
                        format!(
                            "options:tos=inherit is not supported: grebe doesn't \
                             support inheriting the TOS; use a number from 0 to 252 \
                             whose two ECN bits are 0 (ovs-vsctl set interface {iface} \
                             options:tos=0)"
                        ),
                    ));
                }
                let n = parse_dec_or_hex(value)
                    .ok()
                    .and_then(|n| u8::try_from(n).ok())
                    .filter(|n| n & 0x03 == 0)
                    .ok_or_else(|| {
                        iface_err(
                            iface,
                            format!(
                                "options:tos={value} is not a valid TOS: use a number \
                                 from 0 to 252 whose two ECN bits are 0, i.e. a multiple \
                                 of 4 (ovs-vsctl set interface {iface} options:tos=0)"
                            ),
                        )
                    })?;
                out.tos = n;
            }
            other => {
                return Err(iface_err(
                    iface,
                    format!(
                        "unknown option options:{other} for type=gre (grebe supports: {}; \
                         remove it: ovs-vsctl remove interface {iface} options {other})",
                        GRE_OPTION_KEYS.join(", ")
                    ),
                ));
            }
        }
    }
    // Large frames leave through a socket on which the kernel writes the outer header itself.
    if out.large_frames && (out.ttl != DEFAULT_GRE_TTL || out.tos != 0 || out.local_ip.is_some()) {
        return Err(iface_err(
            iface,
            format!(
                "options:large_frames=true sends with the kernel's own outer header, so it                  cannot be combined with ttl, tos or local_ip (ovs-vsctl remove interface                  {iface} options ttl tos local_ip)"
            ),
        ));
    }
    // Packets too big for the path leave through the same socket as large frames.
    if !out.df_default && (out.ttl != DEFAULT_GRE_TTL || out.tos != 0 || out.local_ip.is_some()) {
        return Err(iface_err(
            iface,
            format!(
                "options:df_default=false lets the kernel write and fragment the outer header of \
                 packets too big for the path, so it cannot be combined with ttl, tos or local_ip \
                 (ovs-vsctl remove interface {iface} options ttl tos local_ip)"
            ),
        ));
    }
    Ok(PartialGre {
        remote_ip,
        rest: out,
    })
}

impl Interface {
    /// Typed view of a `type=gre` interface's options.  Error messages name
    /// the interface as `<name>`; prefer [`Interface::gre_options_named`].
    pub fn gre_options(&self) -> Result<GreOptions, ConfigError> {
        self.gre_options_named(UNNAMED)
    }

    /// Typed view of a `type=gre` interface's options, with `name` in error
    /// messages.  Fails for a malformed option (which [`Config::validate`]
    /// also rejects), for a missing `remote_ip` (which validate accepts: the
    /// daemon reports it as the interface's error) and when the interface is
    /// not `type=gre`.
    pub fn gre_options_named(&self, name: &str) -> Result<GreOptions, ConfigError> {
        if self.kind != InterfaceType::Gre {
            return Err(iface_err(
                name,
                format!(
                    "is type \"{}\", not gre (ovs-vsctl set interface {name} type=gre)",
                    self.kind.as_ovs_str()
                ),
            ));
        }
        let partial = parse_gre_options(name, &self.options)?;
        let remote_ip = partial
            .remote_ip
            .ok_or_else(|| ConfigError::MissingRemoteIp {
                iface: name.to_string(),
            })?;
        Ok(GreOptions {
            remote_ip: remote_ip.into(),
            ..partial.rest
        })
    }

    /// The error the daemon should report for this interface because of its
    /// configuration alone (None when the configuration is usable).
    pub fn config_error(&self, name: &str) -> Option<String> {
        match self.kind {
            InterfaceType::Gre => self.gre_options_named(name).err().map(|e| e.to_string()),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------
// Names.

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

// ---------------------------------------------------------------------------
// Config.

/// Distinguishes temp files written concurrently by one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Config {
    /// Reads the configuration from `path`.  A missing file is an empty
    /// configuration (first start); an unreadable or corrupt file is an
    /// error naming the file.  Does not validate: call [`Config::validate`].
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        serde_json::from_slice(&bytes).map_err(|source| ConfigError::Corrupt {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Writes the configuration to `path` atomically: a temp file in the
    /// same directory is written and fsynced, renamed over `path`, and the
    /// directory is fsynced.  A crash at any moment leaves either the old
    /// or the new file, both loadable.  Creates the parent directory (mode
    /// 0700) if missing; the file is mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let werr = |p: &Path| {
            let p = p.to_path_buf();
            move |source| ConfigError::Write { path: p, source }
        };
        let file_name = path
            .file_name()
            .ok_or_else(|| ConfigError::Write {
                path: path.to_path_buf(),
                source: io::Error::new(io::ErrorKind::InvalidInput, "not a file path"),
            })?
            .to_string_lossy()
            .into_owned();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(werr(&dir))?;
        }

        let mut json = serde_json::to_vec_pretty(self).map_err(|e| ConfigError::Write {
            path: path.to_path_buf(),
            source: io::Error::other(e),
        })?;
        json.push(b'\n');

        let tmp = dir.join(format!(
            ".{file_name}.tmp.{}.{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let write_tmp = || -> io::Result<()> {
            // A stale temp file can only be left by a crashed process that
            // had our pid; it is garbage.
            let _ = fs::remove_file(&tmp);
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()
        };
        if let Err(e) = write_tmp() {
            let _ = fs::remove_file(&tmp);
            return Err(werr(&tmp)(e));
        }
        if let Err(e) = fs::rename(&tmp, path) {
            let _ = fs::remove_file(&tmp);
            return Err(werr(path)(e));
        }
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(werr(&dir))?;
        Ok(())
    }

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
                    InterfaceType::Gre => check_port_name(port),
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
                if iface.kind == InterfaceType::Gre {
                    parse_gre_options(port, &iface.options)?;
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

    fn gre(options: &[(&str, &str)]) -> Interface {
        Interface {
            kind: InterfaceType::Gre,
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Interface::default()
        }
    }

    fn config_with(port: &str, iface: Interface) -> Config {
        let mut br = Bridge::new_with_local_port("br-int");
        br.ports.insert(port.to_string(), iface);
        let mut c = Config::default();
        c.bridges.insert("br-int".to_string(), br);
        c
    }

    /// A unique temp dir, removed on drop.
    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!(
                "grebe-config-test-{tag}-{}-{}",
                std::process::id(),
                TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&p);
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn gre_options_full() {
        let i = gre(&[
            ("remote_ip", "192.0.2.15"),
            ("local_ip", "192.0.2.1"),
            ("key", "0x10"),
            ("csum", "true"),
            ("seq", "false"),
            ("ttl", "32"),
            ("tos", "184"),
        ]);
        let g = i.gre_options_named("gre0").unwrap();
        assert_eq!(
            g,
            GreOptions {
                remote_ip: Ipv4Addr::new(192, 0, 2, 15).into(),
                local_ip: Some(Ipv4Addr::new(192, 0, 2, 1).into()),
                key: Some(16),
                csum: true,
                seq: false,
                ttl: 32,
                tos: 184,
                large_frames: false,
                df_default: true,
            }
        );
    }

    #[test]
    fn gre_options_defaults_and_key_zero() {
        let g = gre(&[("remote_ip", "192.0.2.15"), ("key", "0")])
            .gre_options()
            .unwrap();
        assert_eq!(g.key, None);
        assert_eq!(g.ttl, 64);
        assert_eq!(g.tos, 0);
        assert!(!g.csum && !g.seq);
        assert_eq!(g.local_ip, None);
        let g = gre(&[("remote_ip", "192.0.2.15"), ("key", "4294967295")])
            .gre_options()
            .unwrap();
        assert_eq!(g.key, Some(u32::MAX));
    }

    #[test]
    fn missing_remote_ip_is_storable_but_an_interface_error() {
        let c = config_with("gre0", gre(&[("key", "5")]));
        c.validate().unwrap();
        let i = &c.bridges["br-int"].ports["gre0"];
        let e = i.gre_options_named("gre0").unwrap_err();
        assert!(matches!(e, ConfigError::MissingRemoteIp { .. }));
        assert_eq!(
            e.to_string(),
            "interface gre0: options:remote_ip is required for type=gre (ovs-vsctl set \
             interface gre0 options:remote_ip=192.0.2.15, with the remote host's IPv4 address)"
        );
        assert_eq!(i.config_error("gre0"), Some(e.to_string()));
        // The name-less accessor still explains.
        assert!(i.gre_options().unwrap_err().to_string().contains("<name>"));
    }

    fn validate_err(c: &Config) -> String {
        c.validate().unwrap_err().to_string()
    }

    #[test]
    fn validation_rejects_bad_gre_options() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("remote_ip", "192.0.2.15"), ("bogus", "1")],
                "interface gre0: unknown option options:bogus for type=gre (grebe supports: \
                 remote_ip, local_ip, key, csum, seq, ttl, tos, large_frames, df_default; remove it: ovs-vsctl remove \
                 interface gre0 options bogus)",
            ),
            (
                &[("remote_ip", "192.0.2.15"), ("ttl", "0")],
                "options:ttl=0 is not a TTL from 1 to 255",
            ),
            (
                &[("remote_ip", "192.0.2.15"), ("ttl", "256")],
                "options:ttl=256 is not a TTL",
            ),
            (
                &[("remote_ip", "192.0.2.15"), ("ttl", "+5")],
                "options:ttl=+5 is not a TTL",
            ),
            (
                &[("remote_ip", "192.0.2.15"), ("ttl", "inherit")],
                "doesn't support inheriting the TTL",
            ),
            (
                &[("remote_ip", "192.0.2.15"), ("tos", "inherit")],
                "doesn't support inheriting the TOS",
            ),
            (
                &[("remote_ip", "192.0.2.15"), ("tos", "1")],
                "options:tos=1 is not a valid TOS",
            ),
            (
                &[("remote_ip", "192.0.2.15"), ("tos", "256")],
                "options:tos=256 is not a valid TOS",
            ),
            (
                &[("remote_ip", "192.0.2.300")],
                "options:remote_ip=192.0.2.300 is not an IPv4 address",
            ),
            (&[("remote_ip", "2001:db8::1")], "tunnels over IPv4 only"),
            (
                &[("remote_ip", "flow")],
                "does not support flow-based tunnels",
            ),
            (&[("remote_ip", "0.0.0.0")], "is not a unicast IPv4 address"),
            (
                &[("remote_ip", "224.0.0.1")],
                "is not a unicast IPv4 address",
            ),
            (
                &[("remote_ip", "192.0.2.15"), ("local_ip", "x")],
                "options:local_ip=x is not an IPv4 address",
            ),
            (
                &[("remote_ip", "192.0.2.15"), ("key", "flow")],
                "doesn't support flow-based keys",
            ),
            (
                &[("remote_ip", "192.0.2.15"), ("key", "4294967296")],
                "does not fit in the 32-bit GRE key",
            ),
            (&[("remote_ip", "192.0.2.15"), ("key", "010")], "octal"),
            (
                &[("remote_ip", "192.0.2.15"), ("key", "0xg")],
                "options:key=0xg is not a number",
            ),
            (
                &[("remote_ip", "192.0.2.15"), ("key", "-1")],
                "options:key=-1 is not a number",
            ),
            (
                &[("remote_ip", "192.0.2.15"), ("csum", "yes")],
                "options:csum=yes must be true or false",
            ),
            (
                &[("remote_ip", "192.0.2.15"), ("seq", "1")],
                "options:seq=1 must be true or false",
            ),
        ];
        for (opts, want) in cases {
            let c = config_with("gre0", gre(opts));
            let got = validate_err(&c);
            assert!(got.contains(want), "{opts:?}: {got:?} lacks {want:?}");
            assert!(got.starts_with("interface gre0: "), "{got}");
            // gre_options() reports the same problem.
            let got2 = c.bridges["br-int"].ports["gre0"]
                .gre_options_named("gre0")
                .unwrap_err()
                .to_string();
            assert_eq!(got, got2);
        }
    }

    #[test]
    fn options_on_non_gre_interfaces_are_not_checked() {
        let mut i = gre(&[("bogus", "1")]);
        i.kind = InterfaceType::System;
        config_with("eth1", i.clone()).validate().unwrap();
        assert!(
            i.gre_options_named("eth1")
                .unwrap_err()
                .to_string()
                .contains("not gre")
        );
    }

    #[test]
    fn bridge_settings_parse_and_clamp() {
        let mut b = Bridge::new_with_local_port("br-int");
        assert_eq!(b.settings().unwrap(), BridgeSettings::default());
        assert_eq!(
            b.settings().unwrap().mac_aging_time,
            Duration::from_secs(300)
        );
        assert_eq!(b.settings().unwrap().mac_table_size, 8192);
        let set = |b: &mut Bridge, k: &str, v: &str| {
            b.other_config.insert(k.to_string(), v.to_string());
        };
        set(&mut b, "mac-aging-time", "60");
        set(&mut b, "mac-table-size", "100");
        set(&mut b, "tunnel-split-horizon", "true");
        let s = b.settings_named("br-int").unwrap();
        assert_eq!(s.mac_aging_time, Duration::from_secs(60));
        assert_eq!(s.mac_table_size, 100);
        assert!(s.tunnel_split_horizon);
        assert!(b.settings_warnings("br-int").is_empty());

        set(&mut b, "mac-aging-time", "5");
        set(&mut b, "mac-table-size", "2000000");
        let s = b.settings_named("br-int").unwrap();
        assert_eq!(s.mac_aging_time, Duration::from_secs(15));
        assert_eq!(s.mac_table_size, 1_000_000);
        let w = b.settings_warnings("br-int");
        assert_eq!(w.len(), 2);
        assert!(w[0].starts_with(
            "bridge br-int: other_config:mac-aging-time=5 is below the minimum; using 15 seconds"
        ));
        assert!(
            w[1].contains("mac-table-size=2000000 is above the maximum; using 1000000 entries")
        );

        set(&mut b, "mac-aging-time", "0");
        assert_eq!(
            b.settings().unwrap().mac_aging_time,
            Duration::from_secs(300)
        );
        set(&mut b, "mac-aging-time", "4000");
        assert_eq!(
            b.settings().unwrap().mac_aging_time,
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn bridge_settings_errors() {
        let mut b = Bridge::new_with_local_port("br-int");
        b.other_config.insert("mac-aging-time".into(), "abc".into());
        let mut c = Config::default();
        c.bridges.insert("br-int".into(), b.clone());
        let e = validate_err(&c);
        assert!(
            e.starts_with("bridge br-int: other_config:mac-aging-time=abc is not a number of seconds (use an integer from 15 to 3600"),
            "{e}"
        );
        for bad in ["-5", "", "1.5", " 30", "99999999999999999999999"] {
            b.other_config.insert("mac-aging-time".into(), bad.into());
            assert!(b.settings_named("br-int").is_err(), "{bad:?}");
        }
        b.other_config.remove("mac-aging-time");
        b.other_config
            .insert("mac-table-size".into(), "lots".into());
        assert!(
            b.settings_named("br-int")
                .unwrap_err()
                .to_string()
                .contains("mac-table-size=lots is not a number of entries")
        );
        b.other_config.remove("mac-table-size");
        b.other_config
            .insert("tunnel-split-horizon".into(), "yes".into());
        assert_eq!(
            b.settings_named("br-int").unwrap_err().to_string(),
            "bridge br-int: other_config:tunnel-split-horizon=yes must be true or false \
             (ovs-vsctl set bridge br-int other_config:tunnel-split-horizon=true)"
        );
        // Unknown other_config keys are kept and ignored, as OVS does.
        b.other_config.clear();
        b.other_config.insert("hwaddr".into(), "whatever".into());
        b.settings().unwrap();
    }

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

    #[test]
    fn save_load_round_trip() {
        let dir = TempDir::new("roundtrip");
        let path = dir.0.join("sub").join("grebe.db");
        // Missing file: empty config.
        assert_eq!(Config::load(&path).unwrap(), Config::default());
        let mut c = config_with("gre0", gre(&[("remote_ip", "192.0.2.15"), ("key", "5")]));
        c.bridges
            .get_mut("br-int")
            .unwrap()
            .other_config
            .insert("mac-aging-time".into(), "60".into());
        c.bridges
            .get_mut("br-int")
            .unwrap()
            .ports
            .get_mut("gre0")
            .unwrap()
            .mtu_request = Some(1400);
        c.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), c);
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Overwrite; no temp files remain.
        c.bridges.remove("br-int");
        c.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), c);
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("grebe.db")]);
    }

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

    #[test]
    fn load_corrupt_file_is_a_clear_error() {
        let dir = TempDir::new("corrupt");
        fs::create_dir_all(&dir.0).unwrap();
        let path = dir.0.join("grebe.db");
        fs::write(&path, b"{\"bridges\": {\"br-int\": ").unwrap();
        let e = Config::load(&path).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ConfigError::Corrupt { .. }));
        assert!(
            msg.starts_with(&format!(
                "configuration file {} is corrupt: EOF while parsing",
                path.display()
            )),
            "{msg}"
        );
        assert!(msg.contains("move it away"));
        fs::write(
            &path,
            b"{\"bridges\": {\"br-int\": {\"ports\": {\"x\": {\"type\": \"vxlan\"}}}}}",
        )
        .unwrap();
        assert!(
            Config::load(&path)
                .unwrap_err()
                .to_string()
                .contains("unknown variant `vxlan`")
        );
        // A directory where the file should be: unreadable.
        let e = Config::load(&dir.0).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }), "{e}");
        assert!(e.to_string().starts_with("cannot read configuration file "));
    }
}
