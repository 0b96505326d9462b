//! A bridge's OpenFlow controllers and fail mode (`set-controller`, `set-fail-mode`), in OVS's
//! target syntax (vswitch.xml, Controller `target`): `tcp:IP[:PORT]` and `unix:PATH` are
//! controllers grebe connects to, `ptcp:[PORT][:IP]` and `punix:PATH` listeners controllers
//! connect to. The OpenFlow port defaults to 6653, and a `ptcp:` listener binds only the
//! address given (all addresses without one, as OVS).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// OpenFlow's IANA port.
pub const OPENFLOW_PORT: u16 = 6653;

/// Where a bridge meets a controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControllerTarget {
    Tcp(SocketAddr),
    Unix(PathBuf),
    Ptcp(SocketAddr),
    Punix(PathBuf),
}

impl ControllerTarget {
    /// Parses a target; the error says what is wrong and what is accepted.
    pub fn parse(s: &str) -> Result<ControllerTarget, String> {
        let bad = |why: &str| {
            format!(
                "{s}: {why} (controller targets: tcp:IP[:PORT], unix:PATH, ptcp:[PORT][:IP], \
                 punix:PATH)"
            )
        };
        let (method, rest) = s
            .split_once(':')
            .ok_or_else(|| bad("no connection method"))?;
        match method {
            "tcp" => Ok(ControllerTarget::Tcp(
                host_port(rest).ok_or_else(|| bad("not IP[:PORT]"))?,
            )),
            "ptcp" => {
                // ptcp:[PORT][:IP]
                let (port, ip) = match rest.split_once(':') {
                    Some((port, ip)) => (port, ip.trim_start_matches('[').trim_end_matches(']')),
                    None => (rest, ""),
                };
                let port = if port.is_empty() {
                    OPENFLOW_PORT
                } else {
                    port.parse().map_err(|_| bad("the port is not a number"))?
                };
                let ip = if ip.is_empty() {
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                } else {
                    ip.parse().map_err(|_| bad("not an IP address"))?
                };
                Ok(ControllerTarget::Ptcp(SocketAddr::new(ip, port)))
            }
            "unix" | "punix" if rest.is_empty() => Err(bad("the socket path is empty")),
            "unix" => Ok(ControllerTarget::Unix(rest.into())),
            "punix" => Ok(ControllerTarget::Punix(rest.into())),
            "ssl" | "pssl" => Err(bad(
                "grebe has no SSL yet; use tcp: on a trusted network, or unix:",
            )),
            _ => Err(bad("unknown connection method")),
        }
    }

    /// A listener (controllers connect to it) rather than a controller to connect to.
    pub fn is_passive(&self) -> bool {
        matches!(self, ControllerTarget::Ptcp(_) | ControllerTarget::Punix(_))
    }
}

/// `IP[:PORT]`, an IPv6 address in brackets.
fn host_port(s: &str) -> Option<SocketAddr> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Some(a);
    }
    let ip = s.trim_start_matches('[').trim_end_matches(']');
    ip.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, OPENFLOW_PORT))
}

impl fmt::Display for ControllerTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControllerTarget::Tcp(a) => write!(f, "tcp:{a}"),
            ControllerTarget::Unix(p) => write!(f, "unix:{}", p.display()),
            ControllerTarget::Ptcp(a) if a.is_ipv6() => write!(f, "ptcp:{}:[{}]", a.port(), a.ip()),
            ControllerTarget::Ptcp(a) => write!(f, "ptcp:{}:{}", a.port(), a.ip()),
            ControllerTarget::Punix(p) => write!(f, "punix:{}", p.display()),
        }
    }
}

/// What a bridge does when no controller is connected (OVS's `fail_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// Switch as a learning switch itself (the default).
    Standalone,
    /// Leave every decision to the controller.
    Secure,
}

impl FailMode {
    pub fn as_ovs_str(self) -> &'static str {
        match self {
            FailMode::Standalone => "standalone",
            FailMode::Secure => "secure",
        }
    }

    pub fn from_ovs_str(s: &str) -> Option<FailMode> {
        match s {
            "standalone" => Some(FailMode::Standalone),
            "secure" => Some(FailMode::Secure),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_as_ovs_writes_them() {
        let t = |s: &str| ControllerTarget::parse(s).unwrap().to_string();
        assert_eq!(t("tcp:127.0.0.1"), "tcp:127.0.0.1:6653");
        assert_eq!(t("tcp:127.0.0.1:6633"), "tcp:127.0.0.1:6633");
        assert_eq!(t("tcp:[::1]:6633"), "tcp:[::1]:6633");
        assert_eq!(t("ptcp:"), "ptcp:6653:0.0.0.0");
        assert_eq!(t("ptcp:6634:127.0.0.1"), "ptcp:6634:127.0.0.1");
        assert_eq!(t("punix:/run/c.sock"), "punix:/run/c.sock");
        assert!(ControllerTarget::parse("ptcp:6634").unwrap().is_passive());
        for bad in [
            "tcp:",
            "tcp:host.example:6653",
            "ssl:127.0.0.1:6653",
            "unix:",
            "6653",
            "ptcp:x",
        ] {
            let e = ControllerTarget::parse(bad).unwrap_err();
            assert!(
                e.starts_with(bad) && e.contains("controller targets"),
                "{e}"
            );
        }
    }
}
