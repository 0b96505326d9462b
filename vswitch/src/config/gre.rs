//! A `type=gre` or `type=ip6gre` interface's options, parsed and checked as OVS reads them.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use super::{ConfigError, Interface, InterfaceType, UNNAMED};

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

/// Option keys grebe understands on a `type=ip6gre` interface: `gre`'s, less the two that
/// choose the socket whose kernel fragments (IPv6 routers never fragment), plus OVS's
/// `packet_type` (only `legacy_l2`, Ethernet inside, is valid on ip6gre).
pub const IP6GRE_OPTION_KEYS: &[&str] = &[
    "remote_ip",
    "local_ip",
    "key",
    "csum",
    "seq",
    "ttl",
    "tos",
    "df_default",
    "packet_type",
];

/// The transport a GRE interface type runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TunnelFamily {
    /// `type=gre`.
    V4,
    /// `type=ip6gre`.
    V6,
}

impl TunnelFamily {
    /// The family of a tunnel interface type; None for other types.
    pub(super) fn of(kind: InterfaceType) -> Option<TunnelFamily> {
        match kind {
            InterfaceType::Gre => Some(TunnelFamily::V4),
            InterfaceType::Ip6gre => Some(TunnelFamily::V6),
            InterfaceType::System | InterfaceType::Internal => None,
        }
    }

    fn type_name(self) -> &'static str {
        match self {
            TunnelFamily::V4 => "gre",
            TunnelFamily::V6 => "ip6gre",
        }
    }

    fn example(self) -> &'static str {
        match self {
            TunnelFamily::V4 => "192.0.2.15",
            TunnelFamily::V6 => "2001:db8::15",
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            TunnelFamily::V4 => GRE_OPTION_KEYS,
            TunnelFamily::V6 => IP6GRE_OPTION_KEYS,
        }
    }
}

/// Typed, validated view of a `type=gre` interface's `options`: exactly what the datapath takes
/// for a tunnel port (`remote_ip` required; `local_ip` None lets routing choose; `key=0` stored
/// as None, as in OVS a zero key is no key; `csum`, `seq` default false; `ttl` 1..=255, default
/// 64; `tos` default 0 with the two ECN bits 0, as OVS requires).
pub use datapath::TunnelConfig as GreOptions;

/// Default TTL of tunnel packets, as OVS.
pub const DEFAULT_GRE_TTL: u8 = 64;

pub(super) fn iface_err(iface: &str, problem: String) -> ConfigError {
    ConfigError::Interface {
        iface: iface.to_string(),
        problem,
    }
}

/// Parses a tunnel endpoint address option for a tunnel over `family`.
fn parse_endpoint(
    iface: &str,
    family: TunnelFamily,
    key: &str,
    value: &str,
) -> Result<IpAddr, ConfigError> {
    let example = family.example();
    if value == "flow" {
        return Err(iface_err(
            iface,
            format!(
                "options:{key}=flow is not supported: grebe does not support \
                 flow-based tunnels; give an address (ovs-vsctl set interface \
                 {iface} options:{key}={example})"
            ),
        ));
    }
    if family == TunnelFamily::V6 {
        return parse_endpoint_v6(iface, key, value);
    }
    let addr: Ipv4Addr = value.parse().map_err(|_| {
        let why = if value.parse::<std::net::Ipv6Addr>().is_ok() {
            // OVS's words first, then what to do instead.
            format!(
                "is an IPv6 address: bad gre '{key}'; GRE over IPv6 is type=ip6gre \
                 (ovs-vsctl set interface {iface} type=ip6gre)"
            )
        } else {
            "is not an IPv4 address".to_string()
        };
        iface_err(
            iface,
            format!(
                "options:{key}={value} {why} (ovs-vsctl set interface {iface} \
                 options:{key}={example})"
            ),
        )
    })?;
    if addr.is_unspecified() || addr.is_multicast() || addr.is_broadcast() {
        return Err(iface_err(
            iface,
            format!(
                "options:{key}={value} is not a unicast IPv4 address (ovs-vsctl set \
                 interface {iface} options:{key}={example})"
            ),
        ));
    }
    Ok(addr.into())
}

fn parse_endpoint_v6(iface: &str, key: &str, value: &str) -> Result<IpAddr, ConfigError> {
    let addr: std::net::Ipv6Addr = value.parse().map_err(|_| {
        let why = if value.parse::<Ipv4Addr>().is_ok() {
            format!(
                "is an IPv4 address: bad ip6gre '{key}'; GRE over IPv4 is type=gre \
                 (ovs-vsctl set interface {iface} type=gre)"
            )
        } else {
            "is not an IPv6 address".to_string()
        };
        iface_err(
            iface,
            format!(
                "options:{key}={value} {why} (ovs-vsctl set interface {iface} \
                 options:{key}=2001:db8::15)"
            ),
        )
    })?;
    // A v4-mapped address would leave by the IPv4 stack, and a link-local one needs a
    // scope the option cannot give.
    if addr.is_unspecified()
        || addr.is_multicast()
        || addr.is_loopback()
        || addr.to_ipv4_mapped().is_some()
        || addr.is_unicast_link_local()
    {
        return Err(iface_err(
            iface,
            format!(
                "options:{key}={value} is not a global unicast IPv6 address (ovs-vsctl set \
                 interface {iface} options:{key}=2001:db8::15)"
            ),
        ));
    }
    Ok(addr.into())
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

/// What a `type=gre` or `type=ip6gre` interface's options say; `remote_ip` may be missing.
pub(super) struct PartialGre {
    remote_ip: Option<IpAddr>,
    rest: GreOptions,
}

pub(super) fn parse_gre_options(
    iface: &str,
    family: TunnelFamily,
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
            "remote_ip" => remote_ip = Some(parse_endpoint(iface, family, key, value)?),
            "local_ip" => out.local_ip = Some(parse_endpoint(iface, family, key, value)?),
            "packet_type" if family == TunnelFamily::V6 => match value.as_str() {
                "legacy_l2" => {}
                "legacy_l3" | "ptap" => {
                    return Err(iface_err(
                        iface,
                        format!(
                            "options:packet_type={value} is not supported: grebe carries \
                             Ethernet frames only (ovs-vsctl set interface {iface} \
                             options:packet_type=legacy_l2)"
                        ),
                    ));
                }
                _ => {
                    // OVS's message, then the one value that works.
                    return Err(iface_err(
                        iface,
                        format!(
                            "unknown packet_type '{value}' (ovs-vsctl set interface {iface} \
                             options:packet_type=legacy_l2)"
                        ),
                    ));
                }
            },
            "large_frames" | "df_default" if family == TunnelFamily::V6 => {
                // IPv6 routers never fragment: every ip6gre packet is sent as if DF were set.
                if value != "true" || key == "large_frames" {
                    return Err(iface_err(
                        iface,
                        format!(
                            "options:{key}={value} is not supported on type=ip6gre: IPv6 \
                             routers do not fragment, so frames too big for the path are \
                             dropped (ovs-vsctl remove interface {iface} options {key})"
                        ),
                    ));
                }
            }
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
                        "unknown option options:{other} for type={} (grebe supports: {}; \
                         remove it: ovs-vsctl remove interface {iface} options {other})",
                        family.type_name(),
                        family.keys().join(", ")
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
                "options:large_frames=true sends with the kernel's own outer header, so it \
                 cannot be combined with ttl, tos or local_ip (ovs-vsctl remove interface \
                 {iface} options ttl tos local_ip)"
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

    /// Typed view of a `type=gre` or `type=ip6gre` interface's options, with
    /// `name` in error messages.  Fails for a malformed option (which
    /// [`Config::validate`] also rejects), for a missing `remote_ip` (which
    /// validate accepts: the daemon reports it as the interface's error) and
    /// when the interface is not a GRE tunnel.
    pub fn gre_options_named(&self, name: &str) -> Result<GreOptions, ConfigError> {
        let Some(family) = TunnelFamily::of(self.kind) else {
            return Err(iface_err(
                name,
                format!(
                    "is type \"{}\", not gre (ovs-vsctl set interface {name} type=gre)",
                    self.kind.as_ovs_str()
                ),
            ));
        };
        let partial = parse_gre_options(name, family, &self.options)?;
        let remote_ip = partial.remote_ip.ok_or_else(|| {
            let iface = name.to_string();
            match family {
                TunnelFamily::V4 => ConfigError::MissingRemoteIp { iface },
                TunnelFamily::V6 => ConfigError::MissingRemoteIpv6 { iface },
            }
        })?;
        Ok(GreOptions {
            remote_ip,
            ..partial.rest
        })
    }

    /// The error the daemon should report for this interface because of its
    /// configuration alone (None when the configuration is usable).
    pub fn config_error(&self, name: &str) -> Option<String> {
        match self.kind {
            InterfaceType::Gre | InterfaceType::Ip6gre => {
                self.gre_options_named(name).err().map(|e| e.to_string())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{config_with, gre, ip6gre, validate_err};
    use std::net::Ipv6Addr;

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
            (
                &[("remote_ip", "2001:db8::1")],
                "is an IPv6 address: bad gre 'remote_ip'; GRE over IPv6 is type=ip6gre",
            ),
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
    fn ip6gre_options_full() {
        let i = ip6gre(&[
            ("remote_ip", "2001:db8::15"),
            ("local_ip", "2001:db8::1"),
            ("key", "7"),
            ("csum", "true"),
            ("seq", "true"),
            ("ttl", "32"),
            ("tos", "0x20"),
            ("packet_type", "legacy_l2"),
            ("df_default", "true"),
        ]);
        let g = i.gre_options_named("gre6").unwrap();
        assert_eq!(
            g,
            GreOptions {
                remote_ip: "2001:db8::15".parse::<Ipv6Addr>().unwrap().into(),
                local_ip: Some("2001:db8::1".parse::<Ipv6Addr>().unwrap().into()),
                key: Some(7),
                csum: true,
                seq: true,
                ttl: 32,
                tos: 0x20,
                large_frames: false,
                df_default: true,
            }
        );
        // 40 bytes of IPv6, 16 of GRE (checksum, key, sequence), 14 of Ethernet.
        assert_eq!(g.overhead(), 70);
        let plain = ip6gre(&[("remote_ip", "2001:db8::15")])
            .gre_options()
            .unwrap();
        assert_eq!(1500 - plain.overhead(), 1442);
        assert_eq!(plain.ttl, 64);
    }

    #[test]
    fn ip6gre_missing_remote_ip_names_an_ipv6_address() {
        let c = config_with("gre6", ip6gre(&[("key", "5")]));
        c.validate().unwrap();
        let e = c.bridges["br-int"].ports["gre6"]
            .config_error("gre6")
            .unwrap();
        assert_eq!(
            e,
            "interface gre6: options:remote_ip is required for type=ip6gre (ovs-vsctl set \
             interface gre6 options:remote_ip=2001:db8::15, with the remote host's IPv6 address)"
        );
    }

    #[test]
    fn validation_rejects_bad_ip6gre_options() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("remote_ip", "192.0.2.15")],
                "options:remote_ip=192.0.2.15 is an IPv4 address: bad ip6gre 'remote_ip'; \
                 GRE over IPv4 is type=gre",
            ),
            (
                &[("remote_ip", "2001:db8::15"), ("local_ip", "192.0.2.1")],
                "bad ip6gre 'local_ip'",
            ),
            (&[("remote_ip", "2001:db8::zz")], "is not an IPv6 address"),
            (
                &[("remote_ip", "::")],
                "is not a global unicast IPv6 address",
            ),
            (&[("remote_ip", "ff02::1")], "is not a global unicast IPv6"),
            (&[("remote_ip", "fe80::1")], "is not a global unicast IPv6"),
            (
                &[("remote_ip", "::ffff:192.0.2.1")],
                "is not a global unicast",
            ),
            (&[("remote_ip", "flow")], "flow-based tunnels"),
            (
                &[("remote_ip", "2001:db8::15"), ("packet_type", "ptap")],
                "options:packet_type=ptap is not supported: grebe carries Ethernet frames only",
            ),
            (
                &[("remote_ip", "2001:db8::15"), ("packet_type", "l2")],
                "unknown packet_type 'l2'",
            ),
            (
                &[("remote_ip", "2001:db8::15"), ("df_default", "false")],
                "options:df_default=false is not supported on type=ip6gre",
            ),
            (
                &[("remote_ip", "2001:db8::15"), ("large_frames", "true")],
                "options:large_frames=true is not supported on type=ip6gre",
            ),
            (
                &[("remote_ip", "2001:db8::15"), ("bogus", "1")],
                "unknown option options:bogus for type=ip6gre (grebe supports: remote_ip, \
                 local_ip, key, csum, seq, ttl, tos, df_default, packet_type;",
            ),
            (
                &[("remote_ip", "2001:db8::15"), ("ttl", "0")],
                "options:ttl=0 is not a TTL from 1 to 255",
            ),
            (
                &[("remote_ip", "2001:db8::15"), ("tos", "3")],
                "options:tos=3 is not a valid TOS",
            ),
        ];
        for (opts, want) in cases {
            let c = config_with("gre6", ip6gre(opts));
            let got = validate_err(&c);
            assert!(got.contains(want), "{opts:?}: {got:?} lacks {want:?}");
            assert!(got.starts_with("interface gre6: "), "{got}");
        }
        // packet_type is an ip6gre option, as grebe reads gre's.
        let c = config_with(
            "gre0",
            gre(&[("remote_ip", "192.0.2.15"), ("packet_type", "legacy_l2")]),
        );
        assert!(validate_err(&c).contains("unknown option options:packet_type for type=gre"));
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
}
