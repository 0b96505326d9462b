//! The seed: the classic OVS GRE host this project replaces, as the ovs-vsctl command lines that
//! build it. One source for everything that sets a seed host up: the lab (grebe hosts and real
//! OVS peers), the whole-system tests and the ovs-vsctl tests.
//!
//! A seed host has the bridge [`BRIDGE`] with the internal port [`MGMT_PORT`] (the host's overlay
//! address goes there) and one GRE port per remote, named [`tunnel_port`]`(0)`, `(1)`, ... in
//! the remotes' order.

/// The seed's bridge.
pub const BRIDGE: &str = "br-int";
/// The seed's internal port, a TAP on grebe, carrying the host's overlay address.
pub const MGMT_PORT: &str = "mgmt0";

/// The name of the seed's `i`-th GRE port.
pub fn tunnel_port(i: usize) -> String {
    format!("gre{i}")
}

/// What a seed host looks like; [`Seed::commands`] gives the ovs-vsctl argv lists.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seed<'a> {
    /// The remote tunnel endpoints (IPv4 addresses), one GRE port each.
    pub remotes: &'a [&'a str],
    /// `datapath_type` of the bridge: OVS's userspace datapath needs `netdev`; grebe stores
    /// and ignores it, so grebe hosts leave it unset.
    pub datapath_type: Option<&'a str>,
    /// `mtu_request` of the internal port (an OVS peer needs room for the GRE header).
    pub mgmt_mtu_request: Option<u32>,
    /// More Interface settings for every GRE port, e.g. `options:key=5`.
    pub gre_options: &'a [&'a str],
}

/// The seed as ovs-vsctl command lines (each without the program name), in the order to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedCommands {
    /// Creates the bridge (idempotently) and its internal port. The caller gives the internal
    /// port its address after this and before the tunnels.
    pub bridge: Vec<String>,
    /// One command line per GRE port.
    pub tunnels: Vec<Vec<String>>,
}

impl Seed<'_> {
    /// The ovs-vsctl command lines that build this seed host.
    pub fn commands(&self) -> SeedCommands {
        let mut bridge = words(&["--may-exist", "add-br", BRIDGE]);
        if let Some(dp) = self.datapath_type {
            bridge.extend(words(&["--", "set", "bridge", BRIDGE]));
            bridge.push(format!("datapath_type={dp}"));
        }
        bridge.extend(words(&[
            "--",
            "add-port",
            BRIDGE,
            MGMT_PORT,
            "--",
            "set",
            "interface",
            MGMT_PORT,
            "type=internal",
        ]));
        if let Some(mtu) = self.mgmt_mtu_request {
            bridge.push(format!("mtu_request={mtu}"));
        }
        let tunnels = self
            .remotes
            .iter()
            .enumerate()
            .map(|(i, remote)| tunnel_command(&tunnel_port(i), remote, self.gre_options))
            .collect();
        SeedCommands { bridge, tunnels }
    }
}

impl SeedCommands {
    /// Every command line, in order (for a caller with nothing to do in between).
    pub fn all(&self) -> impl Iterator<Item = &Vec<String>> {
        std::iter::once(&self.bridge).chain(&self.tunnels)
    }
}

/// `add-port br-int PORT -- set interface PORT type=gre options:remote_ip=REMOTE [SETTINGS]`: one
/// GRE port to `remote`, created with its type and options in one transaction.
pub fn tunnel_command(port: &str, remote: &str, settings: &[&str]) -> Vec<String> {
    let mut argv = words(&[
        "add-port",
        BRIDGE,
        port,
        "--",
        "set",
        "interface",
        port,
        "type=gre",
    ]);
    argv.push(format!("options:remote_ip={remote}"));
    argv.extend(words(settings));
    argv
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grebe_host() {
        let c = Seed {
            remotes: &["192.0.2.2", "192.0.2.3"],
            ..Seed::default()
        }
        .commands();
        assert_eq!(
            c.bridge.join(" "),
            "--may-exist add-br br-int -- add-port br-int mgmt0 -- set interface mgmt0 type=internal"
        );
        assert_eq!(
            c.tunnels.iter().map(|t| t.join(" ")).collect::<Vec<_>>(),
            [
                "add-port br-int gre0 -- set interface gre0 type=gre options:remote_ip=192.0.2.2",
                "add-port br-int gre1 -- set interface gre1 type=gre options:remote_ip=192.0.2.3",
            ]
        );
        assert_eq!(c.all().count(), 3);
    }

    #[test]
    fn ovs_peer_host() {
        let c = Seed {
            remotes: &["192.0.2.1"],
            datapath_type: Some("netdev"),
            mgmt_mtu_request: Some(1458),
            gre_options: &["options:key=5"],
        }
        .commands();
        assert_eq!(
            c.bridge.join(" "),
            "--may-exist add-br br-int -- set bridge br-int datapath_type=netdev -- add-port \
             br-int mgmt0 -- set interface mgmt0 type=internal mtu_request=1458"
        );
        assert_eq!(
            c.tunnels[0].join(" "),
            "add-port br-int gre0 -- set interface gre0 type=gre options:remote_ip=192.0.2.1 \
             options:key=5"
        );
    }
}
