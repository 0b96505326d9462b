//! The two capabilities the daemon needs, checked at start so that a daemon run without root
//! says which one it lacks instead of failing later on a socket or an ioctl with EPERM.

use std::fmt;

/// A capability the daemon needs, with what it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    NetAdmin,
    NetRaw,
}

impl Capability {
    pub const NEEDED: [Capability; 2] = [Capability::NetAdmin, Capability::NetRaw];

    /// The bit in /proc's capability masks (linux/capability.h).
    fn bit(self) -> u32 {
        match self {
            Capability::NetAdmin => 12,
            Capability::NetRaw => 13,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Capability::NetAdmin => "CAP_NET_ADMIN",
            Capability::NetRaw => "CAP_NET_RAW",
        }
    }

    fn used_for(self) -> &'static str {
        match self {
            Capability::NetAdmin => "internal ports (TAP devices) and their MTUs",
            Capability::NetRaw => "the raw GRE socket and packet sockets",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The needed capabilities the process does not have in its effective set. Reads
/// /proc/self/status; when that cannot be read, assumes nothing is missing (the operations
/// themselves will say).
pub fn missing() -> Vec<Capability> {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return Vec::new();
    };
    missing_from(&status)
}

fn missing_from(status: &str) -> Vec<Capability> {
    let Some(effective) = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
    else {
        return Vec::new();
    };
    Capability::NEEDED
        .into_iter()
        .filter(|c| effective & (1 << c.bit()) == 0)
        .collect()
}

/// The error for missing capabilities: which, what for, and how to grant them.
pub fn explain(missing: &[Capability]) -> String {
    let names: Vec<&str> = missing.iter().map(|c| c.name()).collect();
    let uses: Vec<String> = missing
        .iter()
        .map(|c| format!("{} for {}", c.name(), c.used_for()))
        .collect();
    format!(
        "grebe daemon lacks {} ({}): run it as root, or grant {} \
         (systemd: AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW; \
         setpriv --inh-caps +net_admin,+net_raw --ambient-caps +net_admin,+net_raw)",
        names.join(" and "),
        uses.join("; "),
        if missing.len() == 1 { "it" } else { "them" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(eff: &str) -> String {
        format!(
            "Name:\tgrebe\nCapInh:\t0000000000000000\nCapEff:\t{eff}\nCapBnd:\t000001ffffffffff\n"
        )
    }

    #[test]
    fn root_and_the_two_capabilities_lack_nothing() {
        assert_eq!(missing_from(&status("000001ffffffffff")), vec![]);
        assert_eq!(missing_from(&status("0000000000003000")), vec![]);
    }

    #[test]
    fn each_missing_capability_is_named() {
        assert_eq!(
            missing_from(&status("0000000000002000")),
            vec![Capability::NetAdmin]
        );
        assert_eq!(
            missing_from(&status("0000000000001000")),
            vec![Capability::NetRaw]
        );
        assert_eq!(missing_from(&status("0")), Capability::NEEDED.to_vec());
        let e = explain(&[Capability::NetRaw]);
        assert!(
            e.starts_with("grebe daemon lacks CAP_NET_RAW (CAP_NET_RAW for the raw GRE socket"),
            "{e}"
        );
        assert!(!e.contains("lacks CAP_NET_ADMIN"), "{e}");
    }

    #[test]
    fn an_unreadable_status_blocks_nothing() {
        assert_eq!(missing_from("Name:\tgrebe\n"), vec![]);
        assert_eq!(missing_from("CapEff:\tzz\n"), vec![]);
    }
}
