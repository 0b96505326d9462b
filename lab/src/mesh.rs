//! A full mesh of GRE hosts running spanning tree, as the classic bare-metal setup runs it: every
//! host has a tunnel to every other one, and STP (or RSTP) on every bridge blocks the tunnels
//! that would close a loop. Hosts are grebe or real OVS; `grebe demo --mesh` and the spanning
//! tree tests build it here.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::netns::{Lab, argv};
use crate::ovs_peer::{
    configure_ovs_seed, ovs_appctl, ovs_db_socket, ovs_vsctl, start_ovs, start_ovsdb,
};

/// One host of the mesh: transport address on `eth0`, overlay address on `mgmt0`.
#[derive(Debug, Clone)]
pub struct MeshHost {
    pub name: String,
    pub transport: String,
    pub overlay: String,
    /// Runs Open vSwitch (userspace datapath) instead of grebe.
    pub ovs: bool,
    /// A grebe host in OVSDB mode: its own ovsdb-server holds the configuration and OVS's
    /// ovs-vsctl writes it (`grebe daemon --ovsdb`).
    pub ovsdb: bool,
    /// Bridge priority: the lowest becomes the root.
    pub priority: u16,
}

impl MeshHost {
    /// Host `i` of a mesh: 192.0.2.(i+1) on the transport, 198.51.100.(i+1) on the overlay.
    pub fn numbered(name: &str, i: usize, priority: u16, ovs: bool) -> MeshHost {
        MeshHost {
            name: name.to_owned(),
            transport: format!("192.0.2.{}", i + 1),
            overlay: format!("198.51.100.{}", i + 1),
            ovs,
            ovsdb: false,
            priority,
        }
    }

    /// The same host as a grebe in OVSDB mode.
    pub fn with_ovsdb(self) -> MeshHost {
        MeshHost {
            ovs: false,
            ovsdb: true,
            ..self
        }
    }
}

/// The smallest timers OVS accepts (hello 1 s, max age 6 s, forward delay 4 s): STP then needs
/// 2 × 4 s to open a port, instead of 30 s.
pub const FAST_TIMERS: [(&str, &str); 3] = [
    ("hello-time", "1"),
    ("max-age", "6"),
    ("forward-delay", "4"),
];

/// `ovs-vsctl` arguments that turn `protocol` on for br-int with `priority` and fast timers.
pub fn tree_args(protocol: stp::Protocol, priority: u16) -> Vec<String> {
    let (column, prefix) = match protocol {
        stp::Protocol::Stp => ("stp_enable=true", "stp"),
        stp::Protocol::Rstp => ("rstp_enable=true", "rstp"),
    };
    let mut args = vec![
        "set".to_owned(),
        "bridge".to_owned(),
        "br-int".to_owned(),
        column.to_owned(),
        format!("other_config:{prefix}-priority={priority}"),
    ];
    for (key, value) in FAST_TIMERS {
        // RSTP has no hello-time key in OVS: 802.1D-2004 fixes it at 2 s.
        if !(protocol == stp::Protocol::Rstp && key == "hello-time") {
            args.push(format!("other_config:{prefix}-{key}={value}"));
        }
    }
    args
}

/// Runs `ovs-vsctl ARGS` on the host: OVS's own ovs-vsctl against its database on an OVS or
/// OVSDB-mode host, grebe's on a standalone one.
pub fn host_vsctl(lab: &Lab, host: &MeshHost, args: &[&str]) -> anyhow::Result<String> {
    let out = if host.ovs || host.ovsdb {
        ovs_vsctl(lab, &host.name, args)?
    } else {
        lab.vsctl(&host.name, args)?
    };
    if !out.status.success() {
        bail!(
            "ovs-vsctl {} on {} failed: {}",
            args.join(" "),
            host.name,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `ovs-appctl ARGS` on the host, against grebe or OVS.
pub fn host_appctl(lab: &Lab, host: &MeshHost, args: &[&str]) -> anyhow::Result<String> {
    if host.ovs {
        ovs_appctl(lab, &host.name, args)
    } else {
        lab.appctl(&host.name, args)
    }
}

/// Builds the mesh on one transport switch `wan`. On grebe hosts spanning tree is switched on
/// before any tunnel exists, so a grebe tunnel starts blocked and the mesh never loops a
/// broadcast while it is being built. On OVS hosts it is switched on last: OVS 3.1 never floods
/// to an internal port added after STP was enabled on its bridge (`bundle_update` counts the
/// port's STP_DISABLED state as not forwarding), so `mgmt0` would get no ARP requests. The grebe
/// tunnels, still blocked, keep the OVS host's open ones from closing a loop meanwhile.
pub fn build(lab: &Lab, hosts: &[MeshHost], protocol: stp::Protocol) -> anyhow::Result<()> {
    lab.add_switch("wan")?;
    for h in hosts {
        lab.add_host(&h.name, "wan", &format!("{}/24", h.transport))?;
    }
    let tree = |h: &MeshHost| -> anyhow::Result<()> {
        let args = tree_args(protocol, h.priority);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        host_vsctl(lab, h, &args)?;
        Ok(())
    };
    for h in hosts {
        let remotes: Vec<&str> = hosts
            .iter()
            .filter(|o| o.name != h.name)
            .map(|o| o.transport.as_str())
            .collect();
        let overlay = format!("{}/24", h.overlay);
        if h.ovs {
            start_ovs(lab, &h.name)?;
            let transport = format!("{}/24", h.transport);
            configure_ovs_seed(lab, &h.name, &transport, &overlay, &remotes, &[])?;
            tree(h)?;
        } else {
            if h.ovsdb {
                start_ovsdb(lab, &h.name)?;
                let target = format!("unix:{}", ovs_db_socket(lab, &h.name).display());
                lab.start_daemon_with(&h.name, &["--ovsdb", &target])?;
            } else {
                lab.start_daemon(&h.name)?;
            }
            // The same command lines whichever ovs-vsctl runs them.
            host_vsctl(lab, h, &["add-br", "br-int"])?;
            tree(h)?;
            let seed = vswitch::seed::Seed {
                remotes: &remotes,
                ..Default::default()
            }
            .commands();
            host_vsctl(lab, h, &argv(&seed.bridge))?;
            lab.sh(&h.name, &["ip", "addr", "add", &overlay, "dev", "mgmt0"])?;
            lab.sh(&h.name, &["ip", "link", "set", "mgmt0", "up"])?;
            for tunnel in &seed.tunnels {
                host_vsctl(lab, h, &argv(tunnel))?;
            }
        }
    }
    Ok(())
}

/// The tunnel on `from` that leads to `to` (`gre0`, `gre1`, ... in the order of the others).
pub fn tunnel_name(hosts: &[MeshHost], from: &str, to: &str) -> String {
    let i = hosts
        .iter()
        .filter(|h| h.name != from)
        .position(|h| h.name == to)
        .expect("both hosts are in the mesh");
    format!("gre{i}")
}

/// One port as `stp/show` lists it, names lower-cased (RSTP's are capitalized in OVS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreePort {
    pub name: String,
    pub role: String,
    pub state: String,
}

/// What `stp/show br-int` (or `rstp/show`) says, from grebe or OVS alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeView {
    /// `priority.system-id` of the root bridge.
    pub root: String,
    pub is_root: bool,
    pub ports: Vec<TreePort>,
    pub text: String,
}

impl TreeView {
    pub fn parse(text: &str) -> anyhow::Result<TreeView> {
        let mut lines = text.lines();
        lines
            .find(|l| l.starts_with("Root ID:"))
            .context("no Root ID in stp/show")?;
        let mut value = |key: &str| -> anyhow::Result<String> {
            let line = lines.next().context("stp/show ends early")?;
            let rest = line.trim().strip_prefix(key).context("unexpected line")?;
            Ok(rest.trim().to_owned())
        };
        let priority = value("stp-priority")?;
        let system_id = value("stp-system-id")?;
        let is_root = text.contains("This bridge is the root");
        let ports = text
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("----------"))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 3).then(|| TreePort {
                    name: f[0].to_owned(),
                    role: f[1].to_lowercase(),
                    state: f[2].to_lowercase(),
                })
            })
            .collect();
        Ok(TreeView {
            root: format!("{priority}.{system_id}"),
            is_root,
            ports,
            text: text.to_owned(),
        })
    }

    /// Every port has settled: forwarding, or blocked for good as an alternate or backup (a
    /// designated port that still discards is waiting for its peer's agreement or a timer).
    pub fn settled(&self) -> bool {
        !self.ports.is_empty()
            && self.ports.iter().all(|p| {
                p.state == "forwarding"
                    || (matches!(p.state.as_str(), "blocking" | "discarding")
                        && matches!(p.role.as_str(), "alternate" | "backup"))
            })
    }

    pub fn blocked(&self) -> Vec<&str> {
        self.ports
            .iter()
            .filter(|p| p.state != "forwarding")
            .map(|p| p.name.as_str())
            .collect()
    }
}

pub fn show_command(protocol: stp::Protocol) -> &'static str {
    match protocol {
        stp::Protocol::Stp => "stp/show",
        stp::Protocol::Rstp => "rstp/show",
    }
}

pub fn tree_view(lab: &Lab, host: &MeshHost, protocol: stp::Protocol) -> anyhow::Result<TreeView> {
    TreeView::parse(&host_appctl(
        lab,
        host,
        &[show_command(protocol), "br-int"],
    )?)
}

/// Waits until every bridge has settled on one root, with each tunnel forwarding or blocked
/// for good; returns how long that took and each host's view.
pub fn wait_converged(
    lab: &Lab,
    hosts: &[MeshHost],
    protocol: stp::Protocol,
    within: Duration,
) -> anyhow::Result<(Duration, Vec<TreeView>)> {
    wait_tree(lab, hosts, protocol, within, |_| true)
}

/// As [`wait_converged`], until `done` also holds for the views.
pub fn wait_tree(
    lab: &Lab,
    hosts: &[MeshHost],
    protocol: stp::Protocol,
    within: Duration,
    done: impl Fn(&[TreeView]) -> bool,
) -> anyhow::Result<(Duration, Vec<TreeView>)> {
    let start = Instant::now();
    loop {
        let views: Vec<TreeView> = hosts
            .iter()
            .map(|h| tree_view(lab, h, protocol))
            .collect::<anyhow::Result<_>>()?;
        let one_root = views.iter().all(|v| v.root == views[0].root);
        if one_root && views.iter().all(TreeView::settled) && done(&views) {
            return Ok((start.elapsed(), views));
        }
        if start.elapsed() > within {
            let dump: String = hosts
                .iter()
                .zip(&views)
                .map(|(h, v)| format!("[{}]\n{}", h.name, v.text))
                .collect();
            bail!("the tree did not converge within {within:?}:\n{dump}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until every host pings every other; returns how long that took.
pub fn wait_all_pairs(lab: &Lab, hosts: &[MeshHost], within: Duration) -> anyhow::Result<Duration> {
    let start = Instant::now();
    for a in hosts {
        for b in hosts.iter().filter(|b| b.name != a.name) {
            let left = within.saturating_sub(start.elapsed());
            lab.wait_ping(&a.name, &b.overlay, left)
                .with_context(|| format!("{} -> {}", a.name, b.name))?;
        }
    }
    Ok(start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OVS_STP_SHOW: &str = "---- br-int ----
Root ID:
  stp-priority  4096
  stp-system-id   aa:bb:cc:00:00:01
  stp-hello-time  1s
  stp-max-age     6s
  stp-fwd-delay   4s
  root-port       gre0
  root-path-cost  2

Bridge ID:
  stp-priority  32768
  stp-system-id   aa:bb:cc:00:00:03
  stp-hello-time  1s
  stp-max-age     6s
  stp-fwd-delay   4s

  Interface  Role       State      Cost  Pri.Nbr
  ---------- ---------- ---------- ----- -------
  gre0       root       forwarding 2     128.2
  gre1       alternate  blocking   2     128.3

";

    #[test]
    fn parses_ovs_stp_show() {
        let v = TreeView::parse(OVS_STP_SHOW).unwrap();
        assert_eq!(v.root, "4096.aa:bb:cc:00:00:01");
        assert!(!v.is_root);
        assert!(v.settled());
        assert_eq!(v.blocked(), ["gre1"]);
        assert_eq!(v.ports[0].role, "root");
    }

    #[test]
    fn rstp_has_no_hello_time_key() {
        let args = tree_args(stp::Protocol::Rstp, 4096);
        assert!(args.contains(&"rstp_enable=true".to_owned()));
        assert!(args.contains(&"other_config:rstp-priority=4096".to_owned()));
        assert!(!args.iter().any(|a| a.contains("hello")));
    }
}
