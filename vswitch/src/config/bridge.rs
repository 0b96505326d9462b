//! A bridge's typed `other_config` settings (MAC aging, table size, split horizon), with OVS's
//! defaults and clamping.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Bridge, ConfigError, Interface, InterfaceType, UNNAMED};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::config::testing::validate_err;

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
}
