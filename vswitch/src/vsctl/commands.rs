//! Command execution: the dispatcher and the bridge and port commands (`add-br`, `add-port`,
//! `del-port`, ...).

use std::fmt::Write as _;

use super::LiveState;
use super::argv::Command;
use super::output::Records;
use super::records::Row;
use super::schema::Table;
use crate::config::{Bridge, Config, ControllerTarget, FailMode, Interface};

/// `set-fail-mode`'s and the `fail_mode` column's value.
pub(super) fn parse_fail_mode(bridge: &str, mode: &str) -> Result<FailMode, String> {
    FailMode::from_ovs_str(mode)
        .ok_or_else(|| format!("bridge {bridge}: fail_mode={mode}: must be standalone or secure"))
}

pub(super) enum Fail {
    Error(String),
    /// Exit at once with this status, printing nothing (`br-exists`).
    Exit(i32),
}

impl From<String> for Fail {
    fn from(s: String) -> Fail {
        Fail::Error(s)
    }
}

pub(super) type CmdResult = Result<(), Fail>;

pub(super) struct Ctx<'a> {
    pub(super) cfg: &'a mut Config,
    pub(super) live: &'a dyn LiveState,
    pub(super) out: String,
    /// What `list` or `find` found, printed in the `--format` style after every command ran.
    pub(super) table: Option<Records>,
}

impl Ctx<'_> {
    pub(super) fn execute(&mut self, cmd: &Command) -> CmdResult {
        let a = &cmd.args;
        match cmd.name.as_str() {
            "init" | "comment" => Ok(()),
            "show" => {
                self.show();
                Ok(())
            }
            "add-br" => self.add_br(cmd),
            "del-br" => {
                if self.cfg.bridges.remove(&a[0]).is_none() && !cmd.has("--if-exists") {
                    return Err(no_bridge(&a[0]));
                }
                Ok(())
            }
            "list-br" => {
                if !cmd.has("--fake") {
                    for name in self.cfg.bridges.keys() {
                        self.out.push_str(name);
                        self.out.push('\n');
                    }
                }
                Ok(())
            }
            "br-exists" => {
                if self.cfg.bridges.contains_key(&a[0]) {
                    Ok(())
                } else {
                    Err(Fail::Exit(2))
                }
            }
            "br-to-vlan" => {
                self.bridge(&a[0])?;
                self.out.push_str("0\n");
                Ok(())
            }
            "br-to-parent" => {
                self.bridge(&a[0])?;
                let _ = writeln!(self.out, "{}", a[0]);
                Ok(())
            }
            "list-ports" | "list-ifaces" => {
                let bridge = self.bridge(&a[0])?;
                let mut s = String::new();
                for port in bridge.ports.keys().filter(|p| **p != a[0]) {
                    s.push_str(port);
                    s.push('\n');
                }
                self.out.push_str(&s);
                Ok(())
            }
            "port-to-br" | "iface-to-br" => {
                let what = if cmd.name == "port-to-br" {
                    "port"
                } else {
                    "interface"
                };
                match self.port_bridge(&a[0]) {
                    Some(br) => {
                        let _ = writeln!(self.out, "{br}");
                        Ok(())
                    }
                    None => Err(format!("no {what} named {}", a[0]).into()),
                }
            }
            "get-controller" => {
                let mut targets = self.bridge(&a[0])?.controller.clone();
                targets.sort();
                for t in targets {
                    let _ = writeln!(self.out, "{t}");
                }
                Ok(())
            }
            "del-controller" => {
                self.bridge_mut(&a[0])?.controller.clear();
                Ok(())
            }
            "set-controller" => {
                let mut targets = Vec::new();
                for t in &a[1..] {
                    let target = ControllerTarget::parse(t)?;
                    targets.push(target.to_string());
                }
                self.bridge_mut(&a[0])?.controller = targets;
                Ok(())
            }
            "get-fail-mode" => {
                if let Some(mode) = self.bridge(&a[0])?.fail_mode {
                    let _ = writeln!(self.out, "{}", mode.as_ovs_str());
                }
                Ok(())
            }
            "del-fail-mode" => {
                self.bridge_mut(&a[0])?.fail_mode = None;
                Ok(())
            }
            "set-fail-mode" => {
                let mode = parse_fail_mode(&a[0], &a[1])?;
                self.bridge_mut(&a[0])?.fail_mode = Some(mode);
                Ok(())
            }
            "add-port" => self.add_port(cmd),
            "del-port" => self.del_port(cmd),
            "get" => self.get(cmd),
            "set" => self.set(cmd),
            "add" => self.add_or_remove(cmd, true),
            "remove" => self.add_or_remove(cmd, false),
            "clear" => self.clear(cmd),
            "list" => self.list(cmd),
            "find" => self.find(cmd),
            other => Err(format!("unknown command '{other}'; use --help for help").into()),
        }
    }

    pub(super) fn bridge(&self, name: &str) -> Result<&Bridge, Fail> {
        self.cfg.bridges.get(name).ok_or_else(|| no_bridge(name))
    }

    fn bridge_mut(&mut self, name: &str) -> Result<&mut Bridge, Fail> {
        self.cfg
            .bridges
            .get_mut(name)
            .ok_or_else(|| no_bridge(name))
    }

    /// The bridge of port `name`, not counting bridges' local ports
    /// (`find_port()` hides them).
    pub(super) fn port_bridge(&self, name: &str) -> Option<String> {
        self.cfg
            .bridges
            .iter()
            .find(|(br, b)| *br != name && b.ports.contains_key(name))
            .map(|(br, _)| br.clone())
    }

    /// `check_conflicts()`.
    pub(super) fn check_conflicts(&self, name: &str, msg: &str) -> CmdResult {
        if self.cfg.bridges.contains_key(name) {
            return Err(format!("{msg} because a bridge named {name} already exists").into());
        }
        if let Some(br) = self.cfg.bridge_of_port(name) {
            return Err(
                format!("{msg} because a port named {name} already exists on bridge {br}").into(),
            );
        }
        Ok(())
    }

    pub(super) fn add_br(&mut self, cmd: &Command) -> CmdResult {
        let name = &cmd.args[0];
        match cmd.args.len() {
            1 => {}
            3 => {
                return Err(
                    "grebe does not support fake (VLAN) bridges: add-br BRIDGE PARENT VLAN"
                        .to_string()
                        .into(),
                );
            }
            _ => {
                return Err("'add-br' command takes exactly 1 or 3 arguments"
                    .to_string()
                    .into());
            }
        }
        if cmd.has("--may-exist") && self.cfg.bridges.contains_key(name) {
            return Ok(());
        }
        self.check_conflicts(name, &format!("cannot create a bridge named {name}"))?;
        self.cfg
            .bridges
            .insert(name.clone(), Bridge::new_with_local_port(name));
        Ok(())
    }

    pub(super) fn add_port(&mut self, cmd: &Command) -> CmdResult {
        let (br, port) = (&cmd.args[0], &cmd.args[1]);
        if cmd.has("--may-exist") {
            if let Some(actual) = self.port_bridge(port) {
                if actual != *br {
                    return Err(format!(
                        "\"{}\" but {port} is actually attached to bridge {actual}",
                        cmd.to_display()
                    )
                    .into());
                }
                return Ok(());
            }
        }
        self.check_conflicts(port, &format!("cannot create a port named {port}"))?;
        let bridge = self.cfg.bridges.get_mut(br).ok_or_else(|| no_bridge(br))?;
        bridge.ports.insert(port.clone(), Interface::default());
        let row = Row::Iface {
            bridge: br.clone(),
            port: port.clone(),
        };
        for setting in &cmd.args[2..] {
            self.set_column(Table::Port, &row, setting)?;
        }
        Ok(())
    }

    pub(super) fn del_port(&mut self, cmd: &Command) -> CmdResult {
        let must_exist = !cmd.has("--if-exists");
        let target = cmd.args.last().expect("del-port has at least 1 argument");
        if self.cfg.bridges.contains_key(target) {
            if must_exist {
                return Err(format!(
                    "cannot delete port {target} because it is the local port for bridge \
                     {target} (deleting this port requires deleting the entire bridge)"
                )
                .into());
            }
            return Ok(());
        }
        let Some(actual) = self.port_bridge(target) else {
            if must_exist {
                return Err(format!("no port named {target}").into());
            }
            return Ok(());
        };
        if cmd.args.len() == 2 {
            let br = &cmd.args[0];
            self.bridge(br)?;
            if actual != *br {
                return Err(format!("bridge {br} does not have a port {target}").into());
            }
        }
        if let Some(b) = self.cfg.bridges.get_mut(&actual) {
            b.ports.remove(target);
        }
        Ok(())
    }
}

pub(super) fn no_bridge(name: &str) -> Fail {
    Fail::Error(format!("no bridge named {name}"))
}
