//! A mesh described once: a file lists the hosts and their transport addresses, and each host
//! turns it into the ovs-vsctl commands that give its bridge one GRE tunnel to every other host
//! (`grebe mesh apply hosts.toml`). The plan is computed from the tunnels the bridge has now, so
//! applying the same file twice changes nothing, and a host taken out of the file loses its
//! tunnels everywhere the file is applied again. Tunnels made this way carry
//! `external_ids:grebe-mesh=BRIDGE`; ports without it are never touched.
//!
//! ```toml
//! bridge = "br-int"                 # default br-int
//! loop_protection = "split-horizon" # or "stp", "rstp", "none"
//! key = 7                           # optional GRE key on every tunnel
//! hub = "bm"                        # optional: hub and spoke instead of a full mesh
//!
//! [[host]]
//! name = "bm"
//! transport = "192.0.2.11"
//! [[host]]
//! name = "ct"
//! transport = "2001:db8::12"        # an IPv6 transport makes an ip6gre tunnel
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Deserialize;

/// The external_ids key that marks a tunnel as the mesh's.
pub const MESH_MARK: &str = "grebe-mesh";
/// A mesh tunnel's port name is this prefix and the remote host's name.
pub const PORT_PREFIX: &str = "gre-";
/// Linux interface names hold 15 bytes.
const MAX_PORT_NAME: usize = 15;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MeshError {
    #[error("{0}")]
    Syntax(String),
    #[error("the mesh lists no host: add [[host]] tables with name and transport")]
    NoHosts,
    #[error("host name {name:?} {problem} (names are 1 to {max} letters, digits, '-' or '_')", max = MAX_PORT_NAME - PORT_PREFIX.len())]
    BadName { name: String, problem: &'static str },
    #[error("host {0:?} is listed twice")]
    DuplicateName(String),
    #[error("hosts {0:?} and {1:?} have the same transport address {2}")]
    DuplicateAddress(String, String, IpAddr),
    #[error(
        "hub and spoke cannot use split horizon: it would never flood from one spoke to another (set loop_protection = \"none\")"
    )]
    HubWithSplitHorizon,
    #[error("no host named {0:?} in the mesh (hosts: {1})")]
    UnknownHost(String, String),
}

/// How the mesh's loops are broken: a full mesh floods every broadcast around its triangles
/// unless one of these holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LoopProtection {
    /// Never flood from one tunnel into another (`other_config:tunnel-split-horizon=true`).
    #[default]
    SplitHorizon,
    Stp,
    Rstp,
    /// The file's hosts form no loop (two hosts), or something else breaks it.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshHost {
    pub name: String,
    pub transport: IpAddr,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshFile {
    #[serde(default = "default_bridge")]
    pub bridge: String,
    #[serde(default)]
    pub loop_protection: LoopProtection,
    #[serde(default)]
    pub key: Option<u32>,
    /// Hub and spoke: every other host has one tunnel, to the hub, and the hub one to each.
    /// No loop, so no loop protection is needed (and split horizon would cut the spokes off
    /// from each other).
    #[serde(default)]
    pub hub: Option<String>,
    #[serde(rename = "host", default)]
    pub hosts: Vec<MeshHost>,
}

fn default_bridge() -> String {
    crate::seed::BRIDGE.to_owned()
}

/// A mesh tunnel the bridge has now, as `find interface external_ids:grebe-mesh=BRIDGE` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentTunnel {
    pub port: String,
    pub kind: String,
    pub options: BTreeMap<String, String>,
}

impl MeshFile {
    /// Parses and checks a mesh file's text.
    pub fn parse(text: &str) -> Result<MeshFile, MeshError> {
        let mesh: MeshFile = toml::from_str(text).map_err(|e| MeshError::Syntax(e.to_string()))?;
        if mesh.hosts.is_empty() {
            return Err(MeshError::NoHosts);
        }
        let mut names = BTreeSet::new();
        let mut addresses: BTreeMap<IpAddr, &str> = BTreeMap::new();
        for h in &mesh.hosts {
            check_name(&h.name)?;
            if !names.insert(h.name.as_str()) {
                return Err(MeshError::DuplicateName(h.name.clone()));
            }
            if let Some(other) = addresses.insert(h.transport, &h.name) {
                return Err(MeshError::DuplicateAddress(
                    other.to_owned(),
                    h.name.clone(),
                    h.transport,
                ));
            }
        }
        if let Some(hub) = &mesh.hub {
            mesh.host(hub)?;
            if mesh.loop_protection == LoopProtection::SplitHorizon {
                return Err(MeshError::HubWithSplitHorizon);
            }
        }
        Ok(mesh)
    }

    pub fn host(&self, name: &str) -> Result<&MeshHost, MeshError> {
        self.hosts.iter().find(|h| h.name == name).ok_or_else(|| {
            let all: Vec<&str> = self.hosts.iter().map(|h| h.name.as_str()).collect();
            MeshError::UnknownHost(name.to_owned(), all.join(", "))
        })
    }

    /// The ovs-vsctl command lines (without the program name) that bring `me`'s bridge from
    /// `present` to the file: the bridge and its loop protection, then one command per tunnel
    /// to add, change or remove. An empty plan when the bridge already matches, except for the
    /// bridge line, which is always there (it is idempotent: `--may-exist`).
    pub fn plan(&self, me: &str, present: &[PresentTunnel]) -> Result<Vec<Vec<String>>, MeshError> {
        self.host(me)?;
        let br = self.bridge.as_str();
        let mut plan = Vec::new();
        let mut bridge = words(&["--may-exist", "add-br", br]);
        let setting = match self.loop_protection {
            LoopProtection::SplitHorizon => Some("other_config:tunnel-split-horizon=true"),
            LoopProtection::Stp => Some("stp_enable=true"),
            LoopProtection::Rstp => Some("rstp_enable=true"),
            LoopProtection::None => None,
        };
        if let Some(setting) = setting {
            bridge.extend(words(&["--", "set", "bridge", br, setting]));
        }
        plan.push(bridge);

        let wanted: BTreeMap<String, &MeshHost> = self
            .hosts
            .iter()
            .filter(|h| h.name != me)
            .filter(|h| match &self.hub {
                Some(hub) => hub == me || &h.name == hub,
                None => true,
            })
            .map(|h| (format!("{PORT_PREFIX}{}", h.name), h))
            .collect();
        let present: BTreeMap<&str, &PresentTunnel> =
            present.iter().map(|t| (t.port.as_str(), t)).collect();
        for (port, host) in &wanted {
            let settings = self.tunnel_settings(host);
            match present.get(port.as_str()) {
                None => {
                    let mut cmd = words(&[
                        "--may-exist",
                        "add-port",
                        br,
                        port,
                        "--",
                        "set",
                        "interface",
                        port,
                    ]);
                    cmd.extend(settings.iter().map(|(k, v)| format!("{k}={v}")));
                    cmd.push(format!("external_ids:{MESH_MARK}={br}"));
                    plan.push(cmd);
                }
                Some(now) => {
                    let stale: Vec<String> = settings
                        .iter()
                        .filter(|(k, v)| current(now, k) != Some(v.as_str()))
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    let mut cmd = Vec::new();
                    if !stale.is_empty() {
                        cmd = words(&["set", "interface", port]);
                        cmd.extend(stale);
                    }
                    // A key the file no longer asks for goes.
                    if self.key.is_none() && now.options.contains_key("key") {
                        if !cmd.is_empty() {
                            cmd.push("--".to_owned());
                        }
                        cmd.extend(words(&["remove", "interface", port, "options", "key"]));
                    }
                    if !cmd.is_empty() {
                        plan.push(cmd);
                    }
                }
            }
        }
        for port in present.keys().filter(|p| !wanted.contains_key(**p)) {
            plan.push(words(&["--if-exists", "del-port", br, port]));
        }
        Ok(plan)
    }

    /// The Interface columns a tunnel to `host` has: `type`, `options:remote_ip`, the key.
    fn tunnel_settings(&self, host: &MeshHost) -> Vec<(String, String)> {
        let kind = match host.transport {
            IpAddr::V4(_) => "gre",
            IpAddr::V6(_) => "ip6gre",
        };
        let mut s = vec![
            ("type".to_owned(), kind.to_owned()),
            ("options:remote_ip".to_owned(), host.transport.to_string()),
        ];
        if let Some(key) = self.key {
            s.push(("options:key".to_owned(), key.to_string()));
        }
        s
    }
}

fn current<'a>(t: &'a PresentTunnel, column: &str) -> Option<&'a str> {
    match column.strip_prefix("options:") {
        Some(option) => t.options.get(option).map(String::as_str),
        None if column == "type" => Some(t.kind.as_str()),
        None => None,
    }
}

fn check_name(name: &str) -> Result<(), MeshError> {
    let bad = |problem| {
        Err(MeshError::BadName {
            name: name.to_owned(),
            problem,
        })
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if PORT_PREFIX.len() + name.len() > MAX_PORT_NAME {
        return bad("is too long for an interface name after the gre- prefix");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return bad("has a character an interface name cannot");
    }
    Ok(())
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE: &str = r#"
        loop_protection = "rstp"
        [[host]]
        name = "bm"
        transport = "192.0.2.11"
        [[host]]
        name = "ct"
        transport = "192.0.2.12"
        [[host]]
        name = "vm"
        transport = "2001:db8::13"
    "#;

    fn present(port: &str, kind: &str, remote: &str) -> PresentTunnel {
        PresentTunnel {
            port: port.into(),
            kind: kind.into(),
            options: [("remote_ip".to_owned(), remote.to_owned())].into(),
        }
    }

    #[test]
    fn a_new_host_gets_a_tunnel_to_every_other_one() {
        let mesh = MeshFile::parse(THREE).unwrap();
        let plan = mesh.plan("bm", &[]).unwrap();
        assert_eq!(
            plan[0].join(" "),
            "--may-exist add-br br-int -- set bridge br-int rstp_enable=true"
        );
        assert_eq!(
            plan[1].join(" "),
            "--may-exist add-port br-int gre-ct -- set interface gre-ct type=gre \
             options:remote_ip=192.0.2.12 external_ids:grebe-mesh=br-int"
        );
        assert_eq!(
            plan[2].join(" "),
            "--may-exist add-port br-int gre-vm -- set interface gre-vm type=ip6gre \
             options:remote_ip=2001:db8::13 external_ids:grebe-mesh=br-int"
        );
        assert_eq!(plan.len(), 3);
    }

    #[test]
    fn applying_what_is_there_changes_no_tunnel() {
        let mesh = MeshFile::parse(THREE).unwrap();
        let now = [
            present("gre-ct", "gre", "192.0.2.12"),
            present("gre-vm", "ip6gre", "2001:db8::13"),
        ];
        assert_eq!(
            mesh.plan("bm", &now).unwrap().len(),
            1,
            "only the bridge line"
        );
    }

    #[test]
    fn a_moved_host_is_changed_and_a_removed_one_deleted() {
        let mesh = MeshFile::parse(THREE).unwrap();
        let now = [
            present("gre-ct", "gre", "192.0.2.99"),
            present("gre-vm", "ip6gre", "2001:db8::13"),
            present("gre-old", "gre", "192.0.2.50"),
        ];
        let plan: Vec<String> = mesh
            .plan("bm", &now)
            .unwrap()
            .iter()
            .map(|c| c.join(" "))
            .collect();
        assert_eq!(
            plan[1..],
            [
                "set interface gre-ct options:remote_ip=192.0.2.12".to_owned(),
                "--if-exists del-port br-int gre-old".to_owned(),
            ]
        );
    }

    #[test]
    fn a_spoke_has_one_tunnel_and_the_hub_one_to_each() {
        let mesh = MeshFile::parse(&format!(
            "hub = \"ct\"\n{}",
            THREE.replace("\"rstp\"", "\"none\"")
        ))
        .unwrap();
        let ports = |me| -> Vec<String> {
            mesh.plan(me, &[]).unwrap()[1..]
                .iter()
                .map(|c| c[3].clone())
                .collect()
        };
        assert_eq!(ports("bm"), ["gre-ct"]);
        assert_eq!(ports("ct"), ["gre-bm", "gre-vm"]);
        assert_eq!(
            mesh.plan("bm", &[]).unwrap()[0].join(" "),
            "--may-exist add-br br-int"
        );
        let split = format!(
            "hub = \"ct\"\n{}",
            THREE.replace("loop_protection = \"rstp\"", "")
        );
        assert_eq!(
            MeshFile::parse(&split).unwrap_err(),
            MeshError::HubWithSplitHorizon
        );
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        assert_eq!(
            MeshFile::parse("bridge = \"x\"").unwrap_err(),
            MeshError::NoHosts
        );
        let twice = "[[host]]\nname=\"a\"\ntransport=\"192.0.2.1\"\n[[host]]\nname=\"b\"\ntransport=\"192.0.2.1\"";
        assert!(matches!(
            MeshFile::parse(twice).unwrap_err(),
            MeshError::DuplicateAddress(..)
        ));
        let long = "[[host]]\nname=\"averyverylongname\"\ntransport=\"192.0.2.1\"";
        assert!(
            MeshFile::parse(long)
                .unwrap_err()
                .to_string()
                .contains("too long")
        );
        let typo = "[[host]]\nname=\"a\"\ntransprt=\"192.0.2.1\"";
        assert!(
            MeshFile::parse(typo)
                .unwrap_err()
                .to_string()
                .contains("transprt")
        );
        let not_ip = "[[host]]\nname=\"a\"\ntransport=\"host.example\"";
        assert!(matches!(
            MeshFile::parse(not_ip).unwrap_err(),
            MeshError::Syntax(_)
        ));
        let mesh = MeshFile::parse(THREE).unwrap();
        assert!(
            mesh.plan("nope", &[])
                .unwrap_err()
                .to_string()
                .contains("bm, ct, vm")
        );
    }
}
