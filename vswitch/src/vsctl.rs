//! The `ovs-vsctl` language, executed against grebe's [`Config`].
//!
//! `grebe vsctl ARGS...` (or the binary invoked as `ovs-vsctl`) sends its
//! argv to the daemon, which calls [`run`] on its configuration.  [`run`] is
//! transactional like ovs-vsctl: every `--`-separated command is applied to a
//! copy; if any command fails, or the result does not pass
//! [`Config::validate`], the configuration is left untouched, nothing is
//! printed on stdout and the error is reported as ovs-vsctl reports it
//! (`ovs-vsctl: MESSAGE`, exit status 1).
//!
//! Output, error messages and exit codes follow Open vSwitch 3.1's ovs-vsctl
//! (checked against the real one); the tests keep a table of them.  Where
//! grebe differs (no UUIDs, fewer tables/columns/types, stricter values) the
//! difference is listed in the doc of [`run`].
//!
//! The database model behind the commands: table `Interface` and table
//! `Port` are the same record in grebe (one interface per port, same name);
//! `Bridge` is a bridge; `Open_vSwitch` has the single record `.`.  Values
//! are parsed and printed with OVSDB's syntax (`ovsdb_datum_from_string()`
//! and `ovsdb_datum_to_string()`): `key=value` maps, `{...}` and `[...]`,
//! JSON-quoted strings.

use std::fmt::Write as _;

use crate::config::Config;

mod argv;
mod commands;
mod database;
mod datum;
mod output;
mod query;
mod records;
mod schema;

use argv::{Parsed, parse_command_line};
use commands::{Ctx, Fail};
use output::TableCounter;

/// The result of one `ovs-vsctl` invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
    /// True when the configuration was modified (the caller saves it and
    /// reconciles the datapath).  Always false when `exit_code != 0`.
    pub changed: bool,
}

/// Live information from the daemon, for `show` and for the read-only
/// Interface columns (`statistics`, `error`, `mtu`, `ofport`, `mac_in_use`,
/// `admin_state`, `link_state`).
pub trait LiveState {
    fn interface_error(&self, iface: &str) -> Option<String>;
    fn interface_statistics(&self, iface: &str) -> Vec<(String, u64)>;
    fn interface_mtu(&self, iface: &str) -> Option<u32>;
    fn ofport(&self, iface: &str) -> Option<i64>;
    /// `mac_in_use`: the interface's Ethernet address, as `xx:xx:xx:xx:xx:xx`.
    fn interface_mac_in_use(&self, _iface: &str) -> Option<String> {
        None
    }
    /// `admin_state`: whether the interface is administratively up.
    fn interface_admin_up(&self, _iface: &str) -> Option<bool> {
        None
    }
    /// `link_state`: whether the interface's link is up.
    fn interface_link_up(&self, _iface: &str) -> Option<bool> {
        None
    }
    /// What the switch was asked for and does not act on (in OVSDB mode: columns and interfaces
    /// of the database grebe ignores), one sentence each, for `show`.
    fn ignored(&self) -> Vec<String> {
        Vec::new()
    }
    /// Whether the bridge has an OpenFlow session with the controller at `target` now (for a
    /// listener, with any controller that connected to it).
    fn controller_connected(&self, _bridge: &str, _target: &str) -> bool {
        false
    }
}

/// A [`LiveState`] that knows nothing (no datapath).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLiveState;

impl LiveState for NoLiveState {
    fn interface_error(&self, _: &str) -> Option<String> {
        None
    }
    fn interface_statistics(&self, _: &str) -> Vec<(String, u64)> {
        Vec::new()
    }
    fn interface_mtu(&self, _: &str) -> Option<u32> {
        None
    }
    fn ofport(&self, _: &str) -> Option<i64> {
        None
    }
}

/// Prefix of every error message, identical to ovs-vsctl's for scripts.
const PROG: &str = "ovs-vsctl";

/// The first line of `show`: OVS prints the UUID of its Open_vSwitch record
/// there.  grebe has no UUIDs; it prints this fixed, UUID-shaped line so
/// that scripts skipping the first line keep working.
pub const SHOW_ID: &str = "00000000-0000-0000-0000-000000000000";

/// Runs one `ovs-vsctl` command line (`args` excludes the program name)
/// against `config`.
///
/// On success `config` holds the new configuration (unless `--dry-run`) and
/// `changed` says whether it differs from before.  On failure `config` is
/// unchanged.
///
/// Supported: global options `--db`, `--no-wait`, `--no-syslog`, `--retry`,
/// `--dry-run`, `-t/--timeout`, `-v/--verbose`, `--oneline`,
/// `-f/--format=list|table|csv|json|html`, `-d/--data=string|bare|json`, `--bare`,
/// `--no-headings`, `--columns`, `-h/--help`, `-V/--version`, each long option also by a
/// unique prefix (`--no-heading`), as getopt allows;
/// commands `init`, `comment`, `add-br`, `del-br`, `list-br`, `br-exists`,
/// `br-to-vlan`, `br-to-parent`, `add-port`, `del-port`, `list-ports`,
/// `list-ifaces`, `port-to-br`, `iface-to-br`, `get`, `set`, `add`,
/// `remove`, `clear`, `list`, `find`, `show`.
///
/// Known differences from Open vSwitch 3.1's ovs-vsctl:
/// - no UUIDs: `show`'s first line is [`SHOW_ID`]; `list` has no `_uuid`
///   column; `get ... _uuid` is an error; `Bridge ports` and
///   `Open_vSwitch bridges` print names instead of UUIDs; records can be
///   named only by name (`.` for Open_vSwitch);
/// - `show` lists bridges and ports sorted by name (OVS: hash order) and
///   prints no `ovs_version` line;
/// - Port and Interface are one record: Port's `other_config`,
///   `external_ids` and `statistics` are the Interface's, and Interface
///   columns can be set through the Port table (so
///   `add-port br-int gre0 type=gre options:remote_ip=...` works, where OVS
///   says `Port does not contain a column whose name matches "type"`);
/// - only the columns of `vsctl/schema.rs` are supported; other OVS columns and
///   tables give "grebe does not support ..." errors;
/// - `type` accepts only `""`/`system`, `internal` and `gre` (OVS stores any
///   string); `system` is stored as `""`;
/// - `statistics`, `error`, `ofport`, `mtu`, `mac_in_use`, `admin_state` and
///   `link_state` are read-only (OVS lets a client write them; vswitchd
///   overwrites them);
/// - `add-br BR PARENT VLAN` (fake bridges), `--fake-iface`, `--id`,
///   `create`, `destroy` and the other OVS commands are not
///   supported; `list-br --fake` prints nothing, `--real` is accepted;
/// - `--pretty` and `--max-column-width` are accepted and ignored (integer ranges
///   such as `trunks=10-20` are read as in OVS);
/// - `add` reports too many values itself (OVS 3.1 lets the server reject
///   the transaction with a JSON "constraint violation" message);
/// - all of a command line's commands are checked for column names only
///   as each command runs (OVS checks every column before running any
///   command, so with two bad commands the other error may be reported);
/// - after the commands, [`Config::validate`] may reject the result (bad
///   names, bad typed settings): `ovs-vsctl: MESSAGE`, exit 1; clamped
///   `mac-aging-time`/`mac-table-size` values give `ovs-vsctl: warning:`
///   lines on stderr (exit 0).
pub fn run(config: &mut Config, args: &[String], live: &dyn LiveState) -> Outcome {
    let line = match parse_command_line(args) {
        Ok(Parsed::Commands(line)) => line,
        Ok(Parsed::Print(text)) => {
            return Outcome {
                stdout: text,
                ..Outcome::default()
            };
        }
        Err(msg) => return failure(&msg),
    };

    let mut work = config.clone();
    let mut outputs = Vec::with_capacity(line.commands.len());
    for cmd in &line.commands {
        let mut ctx = Ctx {
            cfg: &mut work,
            live,
            out: String::new(),
            table: None,
        };
        match ctx.execute(cmd) {
            Ok(()) => outputs.push((ctx.out, ctx.table)),
            Err(Fail::Error(msg)) => return failure(&msg),
            Err(Fail::Exit(code)) => {
                return Outcome {
                    exit_code: code,
                    ..Outcome::default()
                };
            }
        }
    }

    let changed = work != *config;
    let mut stderr = String::new();
    if changed {
        if let Err(e) = work.validate() {
            return failure(&e.to_string());
        }
        for (name, bridge) in &work.bridges {
            if config.bridges.get(name).map(|b| &b.other_config) != Some(&bridge.other_config) {
                for note in bridge.settings_warnings(name) {
                    let _ = writeln!(stderr, "{PROG}: warning: {note}");
                }
            }
        }
    }

    let mut stdout = String::new();
    let mut tables = TableCounter::default();
    for (out, table) in outputs {
        // As ovs-vsctl: a command's table is printed as such, even with --oneline.
        if let Some(table) = table {
            table.format(&line.globals.style, &mut tables, &mut stdout);
        } else if line.globals.oneline {
            output::push_oneline(&mut stdout, &out);
        } else {
            stdout.push_str(&out);
        }
    }

    let commit = changed && !line.globals.dry_run;
    if commit {
        *config = work;
    }
    Outcome {
        stdout,
        stderr,
        exit_code: 0,
        changed: commit,
    }
}

/// The text of `--version` or `--help` when `args` ask only for that, which the client prints
/// itself: OVS's ovs-vsctl answers them without a database, and scripts such as Debian's
/// ifupdown hook probe `ovs-vsctl --version` before the switch runs.
pub fn local_answer(args: &[String]) -> Option<String> {
    match parse_command_line(args) {
        Ok(Parsed::Print(text)) => Some(text),
        _ => None,
    }
}

fn failure(msg: &str) -> Outcome {
    Outcome {
        stderr: format!("{PROG}: {msg}\n"),
        exit_code: 1,
        ..Outcome::default()
    }
}
