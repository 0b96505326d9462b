//! What the handle reports about ports, MAC tables and spanning trees: the records `dpif/show`,
//! `get interface P statistics`, `fdb/show` and `stp/show` print, and the sysfs reads behind
//! their kernel-side fields.

use std::collections::BTreeMap;
use std::net::IpAddr;

use learning::EntryInfo;

use crate::counters::PortCountersSnapshot;

/// One port's counters and state, for `dpif/show` and `get interface P statistics`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PortStats {
    pub name: String,
    pub bridge: String,
    pub port_no: u32,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub mtu: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<u32>,
    /// Tunnels sending by the packet socket: the interface their packets leave by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// OVS's `admin_state` and `link_state`: `up` or `down` (a tunnel is always up, as in
    /// OVS; a system port without its interface is down).
    pub admin_state: &'static str,
    pub link_state: &'static str,
    /// OVS's `mac_in_use`: the interface's MAC, for ports with an interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_in_use: Option<String>,
    /// System ports: the interface index the port is attached to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ifindex: Option<u32>,
    /// Why the port carries no traffic, in OVS's words (`could not open network device ...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Ports with an interface: the kernel's drop and error counts for it, in the bridge's
    /// direction (what the port received, what it sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<KernelStats>,
    /// Internal ports: times the device was deleted under the daemon and made again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recreated: Option<u64>,
    #[serde(flatten)]
    pub counters: PortCountersSnapshot,
}

/// What the kernel counted on a port's interface, as OVS reports a netdev's errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct KernelStats {
    pub rx_dropped: u64,
    pub rx_errors: u64,
    pub tx_dropped: u64,
    pub tx_errors: u64,
}

impl KernelStats {
    /// From sysfs; `swapped` for a TAP, whose kernel side sends what the bridge receives.
    pub(super) fn read(name: &str, swapped: bool) -> Option<KernelStats> {
        let read = |c: &str| -> Option<u64> {
            std::fs::read_to_string(format!("/sys/class/net/{name}/statistics/{c}"))
                .ok()?
                .trim()
                .parse()
                .ok()
        };
        let (rx, tx) = if swapped { ("tx", "rx") } else { ("rx", "tx") };
        Some(KernelStats {
            rx_dropped: read(&format!("{rx}_dropped"))?,
            rx_errors: read(&format!("{rx}_errors"))?,
            tx_dropped: read(&format!("{tx}_dropped"))?,
            tx_errors: read(&format!("{tx}_errors"))?,
        })
    }
}

/// One learned MAC, for `fdb/show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdbEntry {
    pub port: String,
    pub port_no: u32,
    pub entry: EntryInfo,
}

/// A bridge's spanning tree as `stp/show` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeStatus {
    pub status: stp::Status,
    /// Port number to port name.
    pub port_names: BTreeMap<stp::PortNo, String>,
}

/// An interface's `admin_state` (IFF_UP) and `link_state` (carrier, as the kernel's operstate
/// says), as OVS reports them.
pub(super) fn interface_state(name: &str) -> (&'static str, &'static str) {
    let read = |file: &str| std::fs::read_to_string(format!("/sys/class/net/{name}/{file}"));
    let up = |b: bool| if b { "up" } else { "down" };
    let flags = read("flags")
        .ok()
        .and_then(|f| u32::from_str_radix(f.trim().trim_start_matches("0x"), 16).ok())
        .unwrap_or(0);
    let admin = flags & libc::IFF_UP as u32 != 0;
    // "unknown" is what a TAP without carrier notion reports while it works.
    let carrier = matches!(
        read("operstate").as_deref().map(str::trim),
        Ok("up" | "unknown")
    );
    (up(admin), up(admin && carrier))
}
