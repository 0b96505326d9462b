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

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::config::{Bridge, Config, Interface, InterfaceType};

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
/// Interface columns (`statistics`, `error`, `mtu`, `ofport`).
pub trait LiveState {
    fn interface_error(&self, iface: &str) -> Option<String>;
    fn interface_statistics(&self, iface: &str) -> Vec<(String, u64)>;
    fn interface_mtu(&self, iface: &str) -> Option<u32>;
    fn ofport(&self, iface: &str) -> Option<i64>;
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
/// `--dry-run`, `-t/--timeout`, `-v/--verbose`, `--oneline`, `--format=list`,
/// `--bare`, `--no-headings`, `--columns`, `-h/--help`, `-V/--version`;
/// commands `init`, `comment`, `add-br`, `del-br`, `list-br`, `br-exists`,
/// `br-to-vlan`, `br-to-parent`, `add-port`, `del-port`, `list-ports`,
/// `list-ifaces`, `port-to-br`, `iface-to-br`, `get`, `set`, `add`,
/// `remove`, `clear`, `list`, `show`.
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
/// - only the columns listed in the module are supported; other OVS
///   columns and tables give "grebe does not support ..." errors;
/// - `type` accepts only `""`/`system`, `internal` and `gre` (OVS stores any
///   string); `system` is stored as `""`;
/// - `statistics`, `error`, `ofport` and `mtu` are read-only (OVS lets a
///   client write them; vswitchd overwrites them);
/// - `add-br BR PARENT VLAN` (fake bridges), `--fake-iface`, `--id`,
///   `find`, `create`, `destroy` and the other OVS commands are not
///   supported; `list-br --fake` prints nothing, `--real` is accepted;
/// - long options cannot be abbreviated (getopt would accept `--onel`);
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
            globals: &line.globals,
            out: String::new(),
        };
        match ctx.execute(cmd) {
            Ok(()) => outputs.push(ctx.out),
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
    for out in outputs {
        if line.globals.oneline {
            let body = out.strip_suffix('\n').unwrap_or(&out);
            for c in body.chars() {
                match c {
                    '\n' => stdout.push_str("\\n"),
                    '\\' => stdout.push_str("\\\\"),
                    c => stdout.push(c),
                }
            }
            stdout.push('\n');
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

fn failure(msg: &str) -> Outcome {
    Outcome {
        stderr: format!("{PROG}: {msg}\n"),
        exit_code: 1,
        ..Outcome::default()
    }
}

// ===========================================================================
// Command line parsing.

#[derive(Debug, Default)]
struct Globals {
    oneline: bool,
    dry_run: bool,
    bare: bool,
    no_headings: bool,
    /// `--format` other than list (only `list` output depends on it).
    format: Option<String>,
}

#[derive(Debug)]
struct Command {
    /// Options given before the command name, e.g. `--may-exist`.
    options: BTreeMap<String, Option<String>>,
    name: String,
    args: Vec<String>,
}

impl Command {
    fn has(&self, option: &str) -> bool {
        self.options.contains_key(option)
    }

    /// The command as ovs-vsctl quotes it in messages
    /// (`vsctl_context_to_string()`).
    fn to_display(&self) -> String {
        let words = self
            .options
            .keys()
            .cloned()
            .chain(std::iter::once(self.name.clone()))
            .chain(self.args.iter().cloned());
        let mut s = String::new();
        for (i, w) in words.enumerate() {
            if i > 0 {
                s.push(' ');
            }
            if w.contains([' ', '\t', '\r', '\n', '\x0b', '\\', '\'', '"']) {
                s.push('"');
                for c in w.chars() {
                    if c == '\\' || c == '"' {
                        s.push('\\');
                    }
                    s.push(c);
                }
                s.push('"');
            } else {
                s.push_str(&w);
            }
        }
        s
    }
}

#[derive(Debug)]
struct CommandLine {
    globals: Globals,
    commands: Vec<Command>,
}

enum Parsed {
    Commands(CommandLine),
    /// `--help` or `--version`: print and exit 0.
    Print(String),
}

/// One command's syntax: name, argument counts, allowed options (in
/// ovs-vsctl's notation: `--opt` or `--opt=` for one taking a value).
struct Syntax {
    name: &'static str,
    min_args: usize,
    max_args: usize,
    options: &'static [&'static str],
    usage: &'static str,
}

const UNLIMITED: usize = usize::MAX;

const COMMANDS: &[Syntax] = &[
    Syntax {
        name: "init",
        min_args: 0,
        max_args: 0,
        options: &[],
        usage: "init                        initialize database, if not yet initialized",
    },
    Syntax {
        name: "comment",
        min_args: 0,
        max_args: UNLIMITED,
        options: &[],
        usage: "comment [ARG]...            does nothing",
    },
    Syntax {
        name: "show",
        min_args: 0,
        max_args: 0,
        options: &[],
        usage: "show                        print overview of database contents",
    },
    Syntax {
        name: "add-br",
        min_args: 1,
        max_args: 3,
        options: &["--may-exist"],
        usage: "add-br BRIDGE               create a new bridge named BRIDGE",
    },
    Syntax {
        name: "del-br",
        min_args: 1,
        max_args: 1,
        options: &["--if-exists"],
        usage: "del-br BRIDGE               delete BRIDGE and all of its ports",
    },
    Syntax {
        name: "list-br",
        min_args: 0,
        max_args: 0,
        options: &["--real", "--fake"],
        usage: "list-br                     print the names of all the bridges",
    },
    Syntax {
        name: "br-exists",
        min_args: 1,
        max_args: 1,
        options: &[],
        usage: "br-exists BRIDGE            exit 2 if BRIDGE does not exist",
    },
    Syntax {
        name: "br-to-vlan",
        min_args: 1,
        max_args: 1,
        options: &[],
        usage: "br-to-vlan BRIDGE           print the VLAN which BRIDGE is on (always 0)",
    },
    Syntax {
        name: "br-to-parent",
        min_args: 1,
        max_args: 1,
        options: &[],
        usage: "br-to-parent BRIDGE         print the parent of BRIDGE (itself)",
    },
    Syntax {
        name: "list-ports",
        min_args: 1,
        max_args: 1,
        options: &[],
        usage: "list-ports BRIDGE           print the names of all the ports on BRIDGE",
    },
    Syntax {
        name: "add-port",
        min_args: 2,
        max_args: UNLIMITED,
        options: &["--may-exist"],
        usage: "add-port BRIDGE PORT [COLUMN[:KEY]=VALUE]...  add network device PORT to BRIDGE",
    },
    Syntax {
        name: "del-port",
        min_args: 1,
        max_args: 2,
        options: &["--if-exists", "--with-iface"],
        usage: "del-port [BRIDGE] PORT      delete PORT (which may be bonded) from BRIDGE",
    },
    Syntax {
        name: "port-to-br",
        min_args: 1,
        max_args: 1,
        options: &[],
        usage: "port-to-br PORT             print name of bridge that contains PORT",
    },
    Syntax {
        name: "list-ifaces",
        min_args: 1,
        max_args: 1,
        options: &[],
        usage: "list-ifaces BRIDGE          print the names of all interfaces on BRIDGE",
    },
    Syntax {
        name: "iface-to-br",
        min_args: 1,
        max_args: 1,
        options: &[],
        usage: "iface-to-br IFACE           print name of bridge that contains IFACE",
    },
    Syntax {
        name: "list",
        min_args: 1,
        max_args: UNLIMITED,
        options: &["--if-exists", "--columns="],
        usage: "list TBL [REC]              list RECord (or all records) in TBL",
    },
    Syntax {
        name: "get",
        min_args: 2,
        max_args: UNLIMITED,
        options: &["--if-exists"],
        usage: "get TBL REC COL[:KEY]       print values of COLumns in RECord in TBL",
    },
    Syntax {
        name: "set",
        min_args: 3,
        max_args: UNLIMITED,
        options: &["--if-exists"],
        usage: "set TBL REC COL[:KEY]=VALUE set COLumn values in RECord in TBL",
    },
    Syntax {
        name: "add",
        min_args: 4,
        max_args: UNLIMITED,
        options: &["--if-exists"],
        usage: "add TBL REC COL [KEY=]VALUE add (KEY=)VALUE to COLumn in RECord in TBL",
    },
    Syntax {
        name: "remove",
        min_args: 4,
        max_args: UNLIMITED,
        options: &["--if-exists"],
        usage: "remove TBL REC COL [KEY=]VALUE  remove (KEY=)VALUE from COLumn",
    },
    Syntax {
        name: "clear",
        min_args: 3,
        max_args: UNLIMITED,
        options: &["--if-exists"],
        usage: "clear TBL REC COL           clear values from COLumn in RECord in TBL",
    },
];

/// ovs-vsctl commands grebe does not implement (a clearer message than
/// "unknown command").
const UNSUPPORTED_COMMANDS: &[&str] = &[
    "emer-reset",
    "add-bond",
    "add-bond-iface",
    "del-bond-iface",
    "br-set-external-id",
    "br-get-external-id",
    "get-controller",
    "del-controller",
    "set-controller",
    "get-fail-mode",
    "del-fail-mode",
    "set-fail-mode",
    "get-manager",
    "del-manager",
    "set-manager",
    "get-ssl",
    "del-ssl",
    "set-ssl",
    "add-aa-mapping",
    "del-aa-mapping",
    "get-aa-mapping",
    "get-zone-limit",
    "add-zone-tp",
    "del-zone-tp",
    "list-zone-tp",
    "find",
    "create",
    "destroy",
    "wait-until",
    "list-zones",
    "set-zone-limit",
    "del-zone-limit",
];

/// Command options ovs-vsctl accepts in the global position (they apply to
/// the first command).  The bool says whether it takes a value.
const COMMAND_OPTIONS: &[(&str, bool)] = &[
    ("may-exist", false),
    ("if-exists", false),
    ("with-iface", false),
    ("fake-iface", false),
    ("real", false),
    ("fake", false),
    ("all", false),
    ("id", true),
    ("columns", true),
];

fn usage() -> String {
    let mut s = String::from(
        "ovs-vsctl (grebe): configure grebe, a userspace GRE switch, with ovs-vsctl's commands\n\
         usage: ovs-vsctl [OPTIONS] COMMAND [ARG...] [-- [OPTIONS] COMMAND [ARG...]]...\n\n\
         Commands:\n",
    );
    for c in COMMANDS {
        let _ = writeln!(s, "  {}", c.usage);
    }
    s.push_str(
        "\nTables: Interface, Port (the same records in grebe), Bridge, Open_vSwitch (record \".\")\n\
         \nOptions:\n\
         \x20 --oneline                   print exactly one line of output per command\n\
         \x20 --dry-run                   do not commit changes to the configuration\n\
         \x20 --if-exists, --may-exist    per-command options, placed before the command name\n\
         \x20 --db=, --no-wait, -t/--timeout=, -v/--verbose   accepted and ignored\n\
         \x20 --format=list, --bare, --no-headings, --columns=   output of \"list\"\n\
         \x20 -h, --help                  display this help message\n\
         \x20 -V, --version               display version information\n",
    );
    s
}

fn parse_command_line(args: &[String]) -> Result<Parsed, String> {
    let mut globals = Globals::default();
    let mut local: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut i = 0;
    let mut print: Option<String> = None;

    while i < args.len() {
        let arg = args[i].as_str();
        if arg == "--" {
            i += 1;
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            break;
        }
        i += 1;
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            // (name, takes a value: Some(true) required, Some(false) none, None optional)
            let kind = match name {
                "db" | "timeout" | "format" | "data" | "log-file" | "private-key"
                | "certificate" | "ca-cert" | "peer-ca-cert" => Some(true),
                "no-wait" | "no-syslog" | "dry-run" | "oneline" | "retry" | "help" | "version"
                | "bare" | "no-headings" | "pretty" => Some(false),
                "verbose" => None,
                _ => match COMMAND_OPTIONS.iter().find(|(n, _)| *n == name) {
                    Some((_, true)) => Some(true),
                    Some((_, false)) => Some(false),
                    None => return Err(format!("unrecognized option '{arg}'")),
                },
            };
            let value = match kind {
                Some(true) => match inline {
                    Some(v) => Some(v),
                    None => {
                        let Some(v) = args.get(i) else {
                            return Err(format!("option '--{name}' requires an argument"));
                        };
                        i += 1;
                        Some(v.clone())
                    }
                },
                Some(false) => {
                    if inline.is_some() {
                        return Err(format!("option '--{name}' doesn't allow an argument"));
                    }
                    None
                }
                None => inline,
            };
            match name {
                "timeout" => check_timeout(value.as_deref().unwrap_or_default())?,
                "format" => set_format(&mut globals, value.as_deref().unwrap_or_default())?,
                "oneline" => globals.oneline = true,
                "dry-run" => globals.dry_run = true,
                "bare" => globals.bare = true,
                "no-headings" => globals.no_headings = true,
                "help" => print = Some(print.unwrap_or_else(usage)),
                "version" => {
                    print = Some(print.unwrap_or_else(|| {
                        format!("ovs-vsctl (grebe) {}\n", env!("CARGO_PKG_VERSION"))
                    }))
                }
                _ if COMMAND_OPTIONS.iter().any(|(n, _)| *n == name) => {
                    local.insert(format!("--{name}"), value);
                }
                _ => {} // accepted and ignored
            }
        } else {
            // Short options, possibly clustered: -t5, -v, -vANY, -h.
            let chars: Vec<char> = arg[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                match c {
                    't' | 'f' | 'd' => {
                        let rest: String = chars[j..].iter().collect();
                        let value = if !rest.is_empty() {
                            rest
                        } else if let Some(v) = args.get(i) {
                            i += 1;
                            v.clone()
                        } else {
                            return Err(format!("option requires an argument -- '{c}'"));
                        };
                        j = chars.len();
                        match c {
                            't' => check_timeout(&value)?,
                            'f' => set_format(&mut globals, &value)?,
                            _ => {}
                        }
                    }
                    'v' => j = chars.len(),
                    'h' => print = Some(print.unwrap_or_else(usage)),
                    'V' => {
                        print = Some(print.unwrap_or_else(|| {
                            format!("ovs-vsctl (grebe) {}\n", env!("CARGO_PKG_VERSION"))
                        }))
                    }
                    other => return Err(format!("invalid option -- '{other}'")),
                }
            }
        }
    }
    if let Some(text) = print {
        return Ok(Parsed::Print(text));
    }

    // Split the rest at "--" into commands (ctl_parse_commands()).
    let rest = &args[i..];
    let mut commands = Vec::new();
    let mut start = 0;
    for end in 0..=rest.len() {
        if end == rest.len() || rest[end] == "--" {
            if end > start {
                commands.push(parse_command(
                    &rest[start..end],
                    std::mem::take(&mut local),
                )?);
            } else if !local.is_empty() {
                return Err("missing command name (use --help for help)".into());
            }
            start = end + 1;
        }
    }
    if commands.is_empty() {
        return Err("missing command name (use --help for help)".into());
    }
    Ok(Parsed::Commands(CommandLine { globals, commands }))
}

fn check_timeout(value: &str) -> Result<(), String> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 && value.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err(format!("value {value} on -t or --timeout is invalid")),
    }
}

fn set_format(globals: &mut Globals, value: &str) -> Result<(), String> {
    match value {
        "list" => globals.format = None,
        "table" | "html" | "csv" | "json" => globals.format = Some(value.to_string()),
        _ => return Err(format!("unknown output format \"{value}\"")),
    }
    Ok(())
}

fn parse_command(
    argv: &[String],
    mut options: BTreeMap<String, Option<String>>,
) -> Result<Command, String> {
    let mut i = 0;
    while i < argv.len() && argv[i].starts_with('-') {
        let (key, value) = match argv[i].split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (argv[i].clone(), None),
        };
        if options.contains_key(&key) {
            return Err(format!("'{}' option specified multiple times", argv[i]));
        }
        options.insert(key, value);
        i += 1;
    }
    if i == argv.len() {
        return Err("missing command name (use --help for help)".into());
    }
    let name = argv[i].as_str();
    let Some(syntax) = COMMANDS.iter().find(|c| c.name == name) else {
        if UNSUPPORTED_COMMANDS.contains(&name) {
            return Err(format!("grebe does not support the '{name}' command"));
        }
        return Err(format!("unknown command '{name}'; use --help for help"));
    };
    for (opt, value) in &options {
        let takes_value = if syntax.options.contains(&opt.as_str()) {
            false
        } else if syntax
            .options
            .iter()
            .any(|o| o.strip_suffix('=') == Some(opt))
        {
            true
        } else {
            return Err(format!("'{name}' command has no '{opt}' option"));
        };
        if takes_value != value.is_some() {
            return Err(if takes_value {
                format!("missing argument to '{opt}' option on '{name}' command")
            } else {
                format!("'{opt}' option on '{name}' does not accept an argument")
            });
        }
    }
    let args = &argv[i + 1..];
    if args.len() < syntax.min_args {
        return Err(format!(
            "'{name}' command requires at least {} arguments",
            syntax.min_args
        ));
    }
    if args.len() > syntax.max_args {
        if args.iter().any(|a| a.starts_with('-')) {
            return Err(format!(
                "'{name}' command takes at most {} arguments (note that options must \
                 precede command names and follow a \"--\" argument)",
                syntax.max_args
            ));
        }
        return Err(format!(
            "'{name}' command takes at most {} arguments",
            syntax.max_args
        ));
    }
    Ok(Command {
        options,
        name: name.to_string(),
        args: args.to_vec(),
    })
}

// ===========================================================================
// OVSDB values: atoms, data, their string syntax.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AtomType {
    Str,
    Int { min: i64 },
    Bool,
}

impl AtomType {
    fn english(self) -> &'static str {
        match self {
            AtomType::Str => "string",
            AtomType::Int { .. } => "integer",
            AtomType::Bool => "boolean",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ColType {
    key: AtomType,
    value: Option<AtomType>,
    n_min: usize,
    n_max: usize,
}

impl ColType {
    const fn scalar(key: AtomType) -> ColType {
        ColType {
            key,
            value: None,
            n_min: 1,
            n_max: 1,
        }
    }
    const fn optional(key: AtomType) -> ColType {
        ColType {
            key,
            value: None,
            n_min: 0,
            n_max: 1,
        }
    }
    const fn set(key: AtomType) -> ColType {
        ColType {
            key,
            value: None,
            n_min: 0,
            n_max: UNLIMITED,
        }
    }
    const fn map(key: AtomType, value: AtomType) -> ColType {
        ColType {
            key,
            value: Some(value),
            n_min: 0,
            n_max: UNLIMITED,
        }
    }
    fn is_map(&self) -> bool {
        self.value.is_some()
    }

    /// `ovsdb_type_to_english()`.
    fn english(&self) -> String {
        let key = self.key.english();
        if self.n_min == 1 && self.n_max == 1 && self.value.is_none() {
            return key.to_string();
        }
        let mut s = String::from(if self.is_map() { "map" } else { "set" });
        if self.n_max == UNLIMITED {
            if self.n_min > 0 {
                let _ = write!(s, " of {} or more", self.n_min);
            } else {
                s.push_str(" of");
            }
        } else if self.n_min > 0 {
            let _ = write!(s, " of {} to {}", self.n_min, self.n_max);
        } else {
            let _ = write!(s, " of up to {}", self.n_max);
        }
        match self.value {
            None => {
                let _ = write!(s, " {key}s");
            }
            Some(v) => {
                let _ = write!(s, " ({key}, {}) pairs", v.english());
            }
        }
        s
    }
}

/// One value.  Within one column all atoms have the same variant, so the
/// derived order is OVSDB's (strcmp for strings, false < true).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Atom {
    Int(i64),
    Bool(bool),
    Str(String),
}

/// A column's value: sorted by key, keys unique; values only for maps.
type Datum = Vec<(Atom, Option<Atom>)>;

fn is_delim(c: char) -> bool {
    ":=, []{}!<>".contains(c)
}

/// `ovsdb_token_parse()`: one token of `s`, up to an unquoted delimiter.
/// Quotes are kept (for [`atom_from_string`]); a backslash outside quotes
/// escapes the next character.
fn token_parse(s: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut in_quotes = false;
    let mut chars = s.char_indices();
    let mut end = s.len();
    while let Some((idx, c)) = chars.next() {
        if c == '\\' {
            if in_quotes {
                out.push('\\');
            }
            match chars.next() {
                Some((_, n)) => out.push(n),
                None => return Err(format!("{s}: backslash at end of argument")),
            }
        } else if !in_quotes && is_delim(c) {
            end = idx;
            break;
        } else {
            out.push(c);
            if c == '"' {
                in_quotes = !in_quotes;
            }
        }
    }
    if in_quotes {
        return Err(format!("{s}: quoted string extends past end of argument"));
    }
    Ok((out, &s[end..]))
}

/// `json_string_unescape()`.
fn json_unescape(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Err("quoted string may not include unescaped \"".into()),
            '\\' => match chars.next() {
                Some(c @ ('"' | '\\' | '/')) => out.push(c),
                Some('b') => out.push('\u{8}'),
                Some('f') => out.push('\u{c}'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('u') => {
                    let hex4 = |chars: &mut std::str::Chars| -> Result<u32, String> {
                        let h: String = chars.by_ref().take(4).collect();
                        if h.len() == 4 && h.chars().all(|c| c.is_ascii_hexdigit()) {
                            Ok(u32::from_str_radix(&h, 16).unwrap_or(0))
                        } else {
                            Err("malformed \\u escape".to_string())
                        }
                    };
                    let hi = hex4(&mut chars)?;
                    let cp = if (0xd800..0xdc00).contains(&hi) {
                        let rest = chars.as_str();
                        if !rest.starts_with("\\u") {
                            return Err("unpaired high surrogate".into());
                        }
                        chars.next();
                        chars.next();
                        let lo = hex4(&mut chars)?;
                        if !(0xdc00..0xe000).contains(&lo) {
                            return Err("unpaired high surrogate".into());
                        }
                        0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                    } else {
                        hi
                    };
                    match char::from_u32(cp) {
                        Some('\0') | None => {
                            return Err("null bytes not supported in quoted strings".into());
                        }
                        Some(c) => out.push(c),
                    }
                }
                Some(other) => return Err(format!("bad escape \\{other}")),
                None => return Err("bad escape \\".into()),
            },
            c => out.push(c),
        }
    }
    Ok(out)
}

/// `ovsdb_atom_from_string()`.
fn atom_from_string(t: AtomType, s: &str) -> Result<Atom, String> {
    match t {
        AtomType::Int { min } => {
            let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
            let n = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                s.strip_prefix('+').unwrap_or(s).parse::<i64>().ok()
            } else {
                None
            };
            let Some(n) = n else {
                return Err(format!("\"{s}\" is not a valid integer or range"));
            };
            if n < min {
                return Err(format!(
                    "constraint violation: {n} is less than minimum allowed value {min}"
                ));
            }
            Ok(Atom::Int(n))
        }
        AtomType::Bool => match s {
            "true" | "yes" | "on" | "1" => Ok(Atom::Bool(true)),
            "false" | "no" | "off" | "0" => Ok(Atom::Bool(false)),
            _ => Err(format!(
                "\"{s}\" is not a valid boolean (use \"true\" or \"false\")"
            )),
        },
        AtomType::Str => {
            if s.is_empty() {
                Err(
                    "An empty string is not valid as input; use \"\" to represent the empty string"
                        .into(),
                )
            } else if let Some(inner) = s.strip_prefix('"') {
                match inner.strip_suffix('"') {
                    Some(inner) => json_unescape(inner)
                        .map(Atom::Str)
                        .map_err(|e| format!("{s}: {e}")),
                    None => Err(format!("{s}: missing quote at end of quoted string")),
                }
            } else {
                Ok(Atom::Str(s.to_string()))
            }
        }
    }
}

/// `ovsdb_datum_from_string()`.
fn datum_from_string(t: &ColType, s: &str) -> Result<Datum, String> {
    let is_map = t.is_map();
    let (open, close) = if is_map { ('{', '}') } else { ('[', ']') };
    let mut p = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let end_delim = if let Some(rest) = p.strip_prefix(open) {
        p = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
        Some(close)
    } else if p.is_empty() {
        return Err(if is_map {
            "use \"{}\" to specify the empty map".into()
        } else {
            "use \"[]\" to specify the empty set".into()
        });
    } else {
        None
    };

    let mut datum: Datum = Vec::new();
    while let Some(c) = p.chars().next() {
        if Some(c) == end_delim {
            break;
        }
        if is_delim(c) {
            return Err(format!("{s}: unexpected \"{c}\" parsing {}", t.english()));
        }
        // parse_key_value()
        let start = p;
        let (token, rest) = token_parse(p)?;
        let key = atom_from_string(t.key, &token)?;
        p = rest;
        let value = match t.value {
            None => None,
            Some(vt) => {
                p = p.trim_start_matches(|c: char| c.is_ascii_whitespace());
                match p.strip_prefix('=') {
                    Some(rest) => {
                        p = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
                        let (token, rest) = token_parse(p)?;
                        p = rest;
                        Some(atom_from_string(vt, &token)?)
                    }
                    None => {
                        // C prints the character with %c; at the end of the
                        // string that is a NUL, which ends the message.
                        return Err(match p.chars().next() {
                            Some(c) => format!("{start}: syntax error at \"{c}\" expecting \"=\""),
                            None => format!("{start}: syntax error at \""),
                        });
                    }
                }
            }
        };
        datum.push((key, value));
        p = p.trim_start_matches(|c: char| c.is_ascii_whitespace());
        if let Some(rest) = p.strip_prefix(',') {
            p = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
        }
    }
    if let Some(close) = end_delim {
        match p.strip_prefix(close) {
            None => return Err(format!("{s}: missing \"{close}\" at end of data")),
            Some(rest) => {
                if !rest
                    .trim_start_matches(|c: char| c.is_ascii_whitespace())
                    .is_empty()
                {
                    return Err(format!("{s}: trailing garbage after \"{close}\""));
                }
            }
        }
    }
    let what = if is_map { "pair(s)" } else { "value(s)" };
    if datum.len() < t.n_min {
        return Err(format!(
            "{s}: {} {what} specified but the minimum number is {}",
            datum.len(),
            t.n_min
        ));
    }
    if datum.len() > t.n_max {
        return Err(format!(
            "{s}: {} {what} specified but the maximum number is {}",
            datum.len(),
            t.n_max
        ));
    }
    datum.sort_by(|a, b| a.0.cmp(&b.0));
    if datum.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(if is_map {
            format!("{s}: map contains duplicate key")
        } else {
            format!("{s}: set contains duplicate value")
        });
    }
    Ok(datum)
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `string_needs_quotes()`.
fn string_needs_quotes(s: &str) -> bool {
    let mut bytes = s.bytes();
    match bytes.next() {
        Some(c) if c.is_ascii_alphabetic() || c == b'_' => {}
        _ => return true,
    }
    if !bytes.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.') {
        return true;
    }
    s == "true" || s == "false" || is_uuid(s)
}

/// A JSON string literal, escaped as OVS's JSON serializer does.
fn json_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `ovsdb_atom_to_string()`.
fn atom_to_string(a: &Atom) -> String {
    match a {
        Atom::Int(n) => n.to_string(),
        Atom::Bool(b) => b.to_string(),
        Atom::Str(s) if string_needs_quotes(s) => json_quote(s),
        Atom::Str(s) => s.clone(),
    }
}

/// `ovsdb_atom_to_bare()`.
fn atom_to_bare(a: &Atom) -> String {
    match a {
        Atom::Str(s) => s.clone(),
        other => atom_to_string(other),
    }
}

/// `ovsdb_datum_to_string()`.
fn datum_to_string(t: &ColType, d: &Datum) -> String {
    let brackets = t.n_max > 1 || d.is_empty();
    let (open, close) = if t.is_map() { ('{', '}') } else { ('[', ']') };
    let mut s = String::new();
    if brackets {
        s.push(open);
    }
    for (i, (k, v)) in d.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&atom_to_string(k));
        if let Some(v) = v {
            s.push('=');
            s.push_str(&atom_to_string(v));
        }
    }
    if brackets {
        s.push(close);
    }
    s
}

/// `ovsdb_datum_to_bare()`.
fn datum_to_bare(d: &Datum) -> String {
    let mut s = String::new();
    for (i, (k, v)) in d.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&atom_to_bare(k));
        if let Some(v) = v {
            s.push('=');
            s.push_str(&atom_to_bare(v));
        }
    }
    s
}

fn map_to_datum(m: &BTreeMap<String, String>) -> Datum {
    m.iter()
        .map(|(k, v)| (Atom::Str(k.clone()), Some(Atom::Str(v.clone()))))
        .collect()
}

fn datum_to_map(d: &Datum) -> BTreeMap<String, String> {
    d.iter()
        .filter_map(|(k, v)| match (k, v) {
            (Atom::Str(k), Some(Atom::Str(v))) => Some((k.clone(), v.clone())),
            _ => None,
        })
        .collect()
}

fn str_datum(s: &str) -> Datum {
    vec![(Atom::Str(s.to_string()), None)]
}

fn opt_int_datum(n: Option<i64>) -> Datum {
    n.map(|n| vec![(Atom::Int(n), None)]).unwrap_or_default()
}

// ===========================================================================
// The schema grebe exposes.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Interface,
    Port,
    Bridge,
    OpenVswitch,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Interface => "Interface",
            Table::Port => "Port",
            Table::Bridge => "Bridge",
            Table::OpenVswitch => "Open_vSwitch",
        }
    }

    /// Every column of the OVS 3.1 schema for this table (for name matching
    /// with OVS's abbreviation rules).
    fn ovs_columns(self) -> &'static [&'static str] {
        match self {
            Table::Interface => &[
                "admin_state",
                "bfd",
                "bfd_status",
                "cfm_fault",
                "cfm_fault_status",
                "cfm_flap_count",
                "cfm_health",
                "cfm_mpid",
                "cfm_remote_mpids",
                "cfm_remote_opstate",
                "duplex",
                "error",
                "external_ids",
                "ifindex",
                "ingress_policing_burst",
                "ingress_policing_kpkts_burst",
                "ingress_policing_kpkts_rate",
                "ingress_policing_rate",
                "lacp_current",
                "link_resets",
                "link_speed",
                "link_state",
                "lldp",
                "mac",
                "mac_in_use",
                "mtu",
                "mtu_request",
                "name",
                "ofport",
                "ofport_request",
                "options",
                "other_config",
                "statistics",
                "status",
                "type",
            ],
            Table::Port => &[
                "bond_active_slave",
                "bond_downdelay",
                "bond_fake_iface",
                "bond_mode",
                "bond_updelay",
                "cvlans",
                "external_ids",
                "fake_bridge",
                "interfaces",
                "lacp",
                "mac",
                "name",
                "other_config",
                "protected",
                "qos",
                "rstp_statistics",
                "rstp_status",
                "statistics",
                "status",
                "tag",
                "trunks",
                "vlan_mode",
            ],
            Table::Bridge => &[
                "auto_attach",
                "controller",
                "datapath_id",
                "datapath_type",
                "datapath_version",
                "external_ids",
                "fail_mode",
                "flood_vlans",
                "flow_tables",
                "ipfix",
                "mcast_snooping_enable",
                "mirrors",
                "name",
                "netflow",
                "other_config",
                "ports",
                "protocols",
                "rstp_enable",
                "rstp_status",
                "sflow",
                "status",
                "stp_enable",
            ],
            Table::OpenVswitch => &[
                "bridges",
                "cur_cfg",
                "datapath_types",
                "datapaths",
                "db_version",
                "dpdk_initialized",
                "dpdk_version",
                "external_ids",
                "iface_types",
                "manager_options",
                "next_cfg",
                "other_config",
                "ovs_version",
                "ssl",
                "statistics",
                "system_type",
                "system_version",
            ],
        }
    }

    /// The columns grebe implements, in `list` order (alphabetical, as OVS).
    fn columns(self) -> &'static [Col] {
        match self {
            Table::Interface => &[
                Col::Error,
                Col::ExternalIds,
                Col::Mtu,
                Col::MtuRequest,
                Col::Name,
                Col::Ofport,
                Col::Options,
                Col::OtherConfig,
                Col::Statistics,
                Col::Type,
            ],
            Table::Port => &[
                Col::ExternalIds,
                Col::Name,
                Col::OtherConfig,
                Col::Statistics,
            ],
            Table::Bridge => &[
                Col::DatapathType,
                Col::ExternalIds,
                Col::Name,
                Col::OtherConfig,
                Col::Ports,
                Col::RstpEnable,
                Col::StpEnable,
            ],
            Table::OpenVswitch => &[Col::Bridges],
        }
    }
}

/// Every table of the OVS 3.1 schema (for OVS's table name matching).
const OVS_TABLES: &[&str] = &[
    "AutoAttach",
    "Bridge",
    "CT_Timeout_Policy",
    "CT_Zone",
    "Controller",
    "Datapath",
    "Flow_Sample_Collector_Set",
    "Flow_Table",
    "IPFIX",
    "Interface",
    "Manager",
    "Mirror",
    "NetFlow",
    "Open_vSwitch",
    "Port",
    "QoS",
    "Queue",
    "SSL",
    "sFlow",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Name,
    Type,
    Options,
    MtuRequest,
    OtherConfig,
    ExternalIds,
    Statistics,
    Error,
    Ofport,
    Mtu,
    Ports,
    StpEnable,
    RstpEnable,
    Bridges,
    DatapathType,
}

impl Col {
    fn name(self) -> &'static str {
        match self {
            Col::Name => "name",
            Col::Type => "type",
            Col::Options => "options",
            Col::MtuRequest => "mtu_request",
            Col::OtherConfig => "other_config",
            Col::ExternalIds => "external_ids",
            Col::Statistics => "statistics",
            Col::Error => "error",
            Col::Ofport => "ofport",
            Col::Mtu => "mtu",
            Col::Ports => "ports",
            Col::StpEnable => "stp_enable",
            Col::RstpEnable => "rstp_enable",
            Col::Bridges => "bridges",
            Col::DatapathType => "datapath_type",
        }
    }

    fn ty(self) -> ColType {
        use AtomType::*;
        match self {
            Col::Name | Col::Type | Col::DatapathType => ColType::scalar(Str),
            Col::Options | Col::OtherConfig | Col::ExternalIds => ColType::map(Str, Str),
            Col::MtuRequest => ColType::optional(Int { min: 1 }),
            Col::Statistics => ColType::map(Str, Int { min: i64::MIN }),
            Col::Error => ColType::optional(Str),
            Col::Ofport | Col::Mtu => ColType::optional(Int { min: i64::MIN }),
            Col::Ports | Col::Bridges => ColType::set(Str),
            Col::StpEnable | Col::RstpEnable => ColType::scalar(Bool),
        }
    }

    /// Whether clients may write the column.  `name`, `ports` and
    /// `bridges` are immutable in OVS too; the live columns belong to the
    /// daemon in grebe.
    fn mutable(self) -> bool {
        !matches!(
            self,
            Col::Name
                | Col::Ports
                | Col::Bridges
                | Col::Statistics
                | Col::Error
                | Col::Ofport
                | Col::Mtu
        )
    }

    fn lookup(table: Table, ovs_name: &str) -> Option<Col> {
        let col = match ovs_name {
            "name" => Col::Name,
            "other_config" => Col::OtherConfig,
            "external_ids" => Col::ExternalIds,
            "type" => Col::Type,
            "options" => Col::Options,
            "mtu_request" => Col::MtuRequest,
            "statistics" => Col::Statistics,
            "error" => Col::Error,
            "ofport" => Col::Ofport,
            "mtu" => Col::Mtu,
            "ports" => Col::Ports,
            "stp_enable" => Col::StpEnable,
            "rstp_enable" => Col::RstpEnable,
            "bridges" => Col::Bridges,
            "datapath_type" => Col::DatapathType,
            _ => return None,
        };
        let ok = match table {
            Table::Interface => Table::Interface.columns().contains(&col),
            // Port and Interface are one record: Interface columns are
            // reachable through Port too.
            Table::Port => {
                Table::Port.columns().contains(&col) || Table::Interface.columns().contains(&col)
            }
            Table::Bridge => Table::Bridge.columns().contains(&col),
            Table::OpenVswitch => col == Col::Bridges,
        };
        ok.then_some(col)
    }
}

/// `score_partial_match()`: how well user input `s` matches `name`
/// (case-insensitive, '-' = '_', prefixes allowed; 0 = no match).
fn score_partial_match(name: &str, s: &str) -> u32 {
    if name == s {
        return u32::MAX;
    }
    let norm = |c: u8| {
        if c == b'-' {
            b'_'
        } else {
            c.to_ascii_lowercase()
        }
    };
    let (n, s) = (name.as_bytes(), s.as_bytes());
    let mut score = 0;
    loop {
        let a = n.get(score).copied().unwrap_or(0);
        let b = s.get(score).copied().unwrap_or(0);
        if norm(a) != norm(b) {
            break;
        }
        if a == 0 {
            return u32::MAX - 1;
        }
        score += 1;
    }
    if score == s.len() { score as u32 } else { 0 }
}

enum Match<'a> {
    One(&'a str),
    None,
    Many(Vec<&'a str>),
}

fn best_match<'a>(candidates: &[&'a str], s: &str) -> Match<'a> {
    let mut best = 0;
    let mut matches: Vec<&str> = Vec::new();
    for &c in candidates {
        let score = score_partial_match(c, s);
        if score > 0 && score >= best {
            if score > best {
                matches.clear();
            }
            matches.push(c);
            best = score;
        }
    }
    match matches.len() {
        0 => Match::None,
        1 => Match::One(matches[0]),
        _ => {
            matches.sort_unstable();
            Match::Many(matches)
        }
    }
}

fn get_table(name: &str) -> Result<Table, String> {
    match best_match(OVS_TABLES, name) {
        Match::One("Interface") => Ok(Table::Interface),
        Match::One("Port") => Ok(Table::Port),
        Match::One("Bridge") => Ok(Table::Bridge),
        Match::One("Open_vSwitch") => Ok(Table::OpenVswitch),
        Match::One(other) => Err(format!("grebe does not support table {other}")),
        Match::None => Err(format!("unknown table \"{name}\"")),
        Match::Many(m) => Err(format!(
            "\"{name}\" matches multiple table names: {}",
            m.join(", ")
        )),
    }
}

fn get_column(table: Table, name: &str) -> Result<Col, String> {
    let resolve = |t: Table| -> Result<Col, String> {
        match best_match(t.ovs_columns(), name) {
            Match::One(col) => Col::lookup(table, col).ok_or_else(|| {
                format!("grebe does not support column {col} of table {}", t.name())
            }),
            Match::None => Err(format!(
                "{} does not contain a column whose name matches \"{name}\"",
                t.name()
            )),
            Match::Many(m) => Err(format!(
                "{} contains more than one column whose name matches \"{name}\": {}",
                t.name(),
                m.join(", ")
            )),
        }
    };
    let found = resolve(table);
    // Port and Interface are one record in grebe: a name that matches no
    // Port column but exactly one Interface column is that column.
    if table == Table::Port && matches!(best_match(Table::Port.ovs_columns(), name), Match::None) {
        if let Match::One(_) = best_match(Table::Interface.ovs_columns(), name) {
            return resolve(Table::Interface).or(found);
        }
    }
    found
}

/// A record of one of grebe's tables.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Row {
    /// Port/Interface `port` on `bridge`.
    Iface {
        bridge: String,
        port: String,
    },
    Bridge(String),
    Root,
}

/// Parsed `COLUMN[:KEY][=VALUE]` argument.
struct ColumnArg {
    col: Col,
    key: Option<String>,
    value: Option<String>,
}

/// `parse_column_key_value()`.
fn parse_column_key_value(arg: &str, table: Table, want_value: bool) -> Result<ColumnArg, String> {
    let (column_name, mut p) = token_parse(arg)?;
    if column_name.is_empty() {
        return Err(format!("{arg}: missing column name"));
    }
    let col = get_column(table, &column_name)?;
    let mut key = None;
    if let Some(rest) = p.strip_prefix(':') {
        let (k, rest) = token_parse(rest)?;
        key = Some(k);
        p = rest;
    }
    let mut value = None;
    if want_value {
        match p.strip_prefix('=') {
            Some(v) if !v.is_empty() => value = Some(v.to_string()),
            _ => {
                return Err(format!(
                    "{arg}: argument does not end in \"=\" followed by a value."
                ));
            }
        }
    } else if !p.is_empty() {
        return Err(format!("{arg}: trailing garbage \"{p}\" in argument"));
    }
    Ok(ColumnArg { col, key, value })
}

// ===========================================================================
// Execution.

enum Fail {
    Error(String),
    /// Exit at once with this status, printing nothing (`br-exists`).
    Exit(i32),
}

impl From<String> for Fail {
    fn from(s: String) -> Fail {
        Fail::Error(s)
    }
}

type CmdResult = Result<(), Fail>;

struct Ctx<'a> {
    cfg: &'a mut Config,
    live: &'a dyn LiveState,
    globals: &'a Globals,
    out: String,
}

impl Ctx<'_> {
    fn execute(&mut self, cmd: &Command) -> CmdResult {
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
            "add-port" => self.add_port(cmd),
            "del-port" => self.del_port(cmd),
            "get" => self.get(cmd),
            "set" => self.set(cmd),
            "add" => self.add_or_remove(cmd, true),
            "remove" => self.add_or_remove(cmd, false),
            "clear" => self.clear(cmd),
            "list" => self.list(cmd),
            other => Err(format!("unknown command '{other}'; use --help for help").into()),
        }
    }

    fn bridge(&self, name: &str) -> Result<&Bridge, Fail> {
        self.cfg.bridges.get(name).ok_or_else(|| no_bridge(name))
    }

    /// The bridge of port `name`, not counting bridges' local ports
    /// (`find_port()` hides them).
    fn port_bridge(&self, name: &str) -> Option<String> {
        self.cfg
            .bridges
            .iter()
            .find(|(br, b)| *br != name && b.ports.contains_key(name))
            .map(|(br, _)| br.clone())
    }

    /// `check_conflicts()`.
    fn check_conflicts(&self, name: &str, msg: &str) -> CmdResult {
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

    fn add_br(&mut self, cmd: &Command) -> CmdResult {
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

    fn add_port(&mut self, cmd: &Command) -> CmdResult {
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

    fn del_port(&mut self, cmd: &Command) -> CmdResult {
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

    // ---- database commands -------------------------------------------------

    fn find_row(&self, table: Table, id: &str) -> Option<Row> {
        match table {
            Table::Interface | Table::Port => self.cfg.bridge_of_port(id).map(|br| Row::Iface {
                bridge: br.to_string(),
                port: id.to_string(),
            }),
            Table::Bridge => self
                .cfg
                .bridges
                .contains_key(id)
                .then(|| Row::Bridge(id.to_string())),
            Table::OpenVswitch => (id == ".").then_some(Row::Root),
        }
    }

    /// `ctl_get_row()`: Ok(None) when absent and `--if-exists`.
    fn get_row(&self, table: Table, id: &str, must_exist: bool) -> Result<Option<Row>, Fail> {
        match self.find_row(table, id) {
            Some(row) => Ok(Some(row)),
            None if must_exist => Err(format!("no row \"{id}\" in table {}", table.name()).into()),
            None => Ok(None),
        }
    }

    fn iface(&self, row: &Row) -> Option<(&str, &Interface)> {
        match row {
            Row::Iface { bridge, port } => self
                .cfg
                .bridges
                .get(bridge)
                .and_then(|b| b.ports.get_key_value(port))
                .map(|(name, i)| (name.as_str(), i)),
            _ => None,
        }
    }

    fn iface_mut(&mut self, row: &Row) -> Option<&mut Interface> {
        match row {
            Row::Iface { bridge, port } => self
                .cfg
                .bridges
                .get_mut(bridge)
                .and_then(|b| b.ports.get_mut(port)),
            _ => None,
        }
    }

    /// The error to show for an interface: the daemon's, else what the
    /// configuration alone says.
    fn iface_error(&self, name: &str, iface: &Interface) -> Option<String> {
        self.live
            .interface_error(name)
            .or_else(|| iface.config_error(name))
    }

    fn read(&self, row: &Row, col: Col) -> Datum {
        match row {
            Row::Iface { .. } => {
                let Some((name, iface)) = self.iface(row) else {
                    return Vec::new();
                };
                match col {
                    Col::Name => str_datum(name),
                    Col::Type => str_datum(iface.kind.as_ovs_str()),
                    Col::Options => map_to_datum(&iface.options),
                    Col::OtherConfig => map_to_datum(&iface.other_config),
                    Col::ExternalIds => map_to_datum(&iface.external_ids),
                    Col::MtuRequest => opt_int_datum(iface.mtu_request.map(i64::from)),
                    Col::Statistics => {
                        let mut d: Datum = self
                            .live
                            .interface_statistics(name)
                            .into_iter()
                            .map(|(k, v)| {
                                (
                                    Atom::Str(k),
                                    Some(Atom::Int(i64::try_from(v).unwrap_or(i64::MAX))),
                                )
                            })
                            .collect();
                        d.sort_by(|a, b| a.0.cmp(&b.0));
                        d.dedup_by(|a, b| a.0 == b.0);
                        d
                    }
                    Col::Error => self
                        .iface_error(name, iface)
                        .map(|e| vec![(Atom::Str(e), None)])
                        .unwrap_or_default(),
                    Col::Ofport => opt_int_datum(self.live.ofport(name)),
                    Col::Mtu => opt_int_datum(self.live.interface_mtu(name).map(i64::from)),
                    _ => Vec::new(),
                }
            }
            Row::Bridge(name) => {
                let Some(b) = self.cfg.bridges.get(name) else {
                    return Vec::new();
                };
                match col {
                    Col::Name => str_datum(name),
                    Col::OtherConfig => map_to_datum(&b.other_config),
                    Col::ExternalIds => map_to_datum(&b.external_ids),
                    Col::Ports => b
                        .ports
                        .keys()
                        .map(|p| (Atom::Str(p.clone()), None))
                        .collect(),
                    Col::StpEnable => vec![(Atom::Bool(b.stp_enable), None)],
                    Col::RstpEnable => vec![(Atom::Bool(b.rstp_enable), None)],
                    Col::DatapathType => str_datum(&b.datapath_type),
                    _ => Vec::new(),
                }
            }
            Row::Root => match col {
                Col::Bridges => self
                    .cfg
                    .bridges
                    .keys()
                    .map(|b| (Atom::Str(b.clone()), None))
                    .collect(),
                _ => Vec::new(),
            },
        }
    }

    fn write(&mut self, row: &Row, col: Col, datum: Datum) -> CmdResult {
        match row {
            Row::Iface { port, .. } => {
                let port = port.clone();
                let iface = self.iface_mut(row).expect("row exists");
                match col {
                    Col::Type => {
                        let s = match datum.first() {
                            Some((Atom::Str(s), _)) => s.as_str(),
                            _ => "",
                        };
                        iface.kind = InterfaceType::from_ovs_str(s)?;
                    }
                    Col::Options => iface.options = datum_to_map(&datum),
                    Col::OtherConfig => iface.other_config = datum_to_map(&datum),
                    Col::ExternalIds => iface.external_ids = datum_to_map(&datum),
                    Col::MtuRequest => {
                        iface.mtu_request = match datum.first() {
                            Some((Atom::Int(n), _)) => Some(u32::try_from(*n).map_err(|_| {
                                format!(
                                    "interface {port}: mtu_request={n} is out of range \
                                     (ovs-vsctl set interface {port} mtu_request=1500)"
                                )
                            })?),
                            _ => None,
                        };
                    }
                    _ => unreachable!("read-only column {}", col.name()),
                }
            }
            Row::Bridge(name) => {
                let name = name.clone();
                let b = self.cfg.bridges.get_mut(&name).expect("row exists");
                match col {
                    Col::OtherConfig => b.other_config = datum_to_map(&datum),
                    Col::ExternalIds => b.external_ids = datum_to_map(&datum),
                    Col::DatapathType => {
                        let value = match datum.first() {
                            Some((Atom::Str(v), _)) => v.clone(),
                            _ => String::new(),
                        };
                        if !matches!(value.as_str(), "" | "system" | "netdev") {
                            return Err(format!(
                                "bridge {name}: datapath_type={value}: grebe has one datapath; it \
                                 accepts \"\", system and netdev (and ignores them)"
                            )
                            .into());
                        }
                        b.datapath_type = value;
                    }
                    Col::StpEnable | Col::RstpEnable => {
                        let on = datum.first().map(|d| &d.0) == Some(&Atom::Bool(true));
                        if col == Col::StpEnable {
                            b.stp_enable = on;
                        } else {
                            b.rstp_enable = on;
                        }
                    }
                    _ => unreachable!("read-only column {}", col.name()),
                }
            }
            Row::Root => unreachable!("Open_vSwitch has no writable column"),
        }
        Ok(())
    }

    fn check_mutable(table: Table, col: Col) -> CmdResult {
        if col.mutable() {
            Ok(())
        } else {
            Err(format!(
                "cannot modify read-only column {} in table {}",
                col.name(),
                table.name()
            )
            .into())
        }
    }

    /// `set_column()`.
    fn set_column(&mut self, table: Table, row: &Row, arg: &str) -> CmdResult {
        let ColumnArg { col, key, value } = parse_column_key_value(arg, table, true)?;
        let value = value.expect("want_value");
        Self::check_mutable(table, col)?;
        let ty = col.ty();
        let datum = if let Some(key) = key {
            let Some(vt) = ty.value else {
                return Err(format!(
                    "cannot specify key to set for non-map column {}",
                    col.name()
                )
                .into());
            };
            let key = atom_from_string(ty.key, &key)?;
            let value = atom_from_string(vt, &value)?;
            let mut d = self.read(row, col);
            match d.binary_search_by(|e| e.0.cmp(&key)) {
                Ok(i) => d[i].1 = Some(value),
                Err(i) => d.insert(i, (key, Some(value))),
            }
            d
        } else {
            datum_from_string(&ty, &value)?
        };
        self.write(row, col, datum)
    }

    fn get(&mut self, cmd: &Command) -> CmdResult {
        let must_exist = !cmd.has("--if-exists");
        let (table_name, record) = (&cmd.args[0], &cmd.args[1]);
        let table = get_table(table_name)?;
        let Some(row) = self.get_row(table, record, must_exist)? else {
            return Ok(());
        };
        for arg in &cmd.args[2..] {
            if arg.eq_ignore_ascii_case("_uuid") || arg.eq_ignore_ascii_case("-uuid") {
                return Err("grebe records have no UUIDs (_uuid)".to_string().into());
            }
            let ColumnArg { col, key, .. } = parse_column_key_value(arg, table, false)?;
            let ty = col.ty();
            let datum = self.read(&row, col);
            if let Some(key_string) = key {
                if !ty.is_map() {
                    return Err(format!(
                        "cannot specify key to get for non-map column {}",
                        col.name()
                    )
                    .into());
                }
                let key = atom_from_string(ty.key, &key_string)?;
                match datum.iter().find(|(k, _)| *k == key) {
                    Some((_, Some(v))) => self.out.push_str(&atom_to_string(v)),
                    _ if must_exist => {
                        return Err(format!(
                            "no key \"{key_string}\" in {} record \"{record}\" column {}",
                            table.name(),
                            col.name()
                        )
                        .into());
                    }
                    _ => {}
                }
            } else {
                self.out.push_str(&datum_to_string(&ty, &datum));
            }
            self.out.push('\n');
        }
        Ok(())
    }

    fn set(&mut self, cmd: &Command) -> CmdResult {
        let table = get_table(&cmd.args[0])?;
        let Some(row) = self.get_row(table, &cmd.args[1], !cmd.has("--if-exists"))? else {
            return Ok(());
        };
        for arg in &cmd.args[2..] {
            self.set_column(table, &row, arg)?;
        }
        Ok(())
    }

    /// `cmd_add()` and `cmd_remove()`.
    fn add_or_remove(&mut self, cmd: &Command, add: bool) -> CmdResult {
        let table = get_table(&cmd.args[0])?;
        let col = get_column(table, &cmd.args[2])?;
        let Some(row) = self.get_row(table, &cmd.args[1], !cmd.has("--if-exists"))? else {
            return Ok(());
        };
        Self::check_mutable(table, col)?;
        let ty = col.ty();
        let mut datum = self.read(&row, col);
        let mut adds: Datum = Vec::new();
        for arg in &cmd.args[3..] {
            let arg_type = ColType {
                n_min: 1,
                n_max: UNLIMITED,
                ..ty
            };
            if add {
                for (k, v) in datum_from_string(&arg_type, arg)? {
                    adds.push((k, v));
                }
            } else {
                let rm = match datum_from_string(&arg_type, arg) {
                    Ok(rm) => rm,
                    Err(e) if !ty.is_map() => return Err(e.into()),
                    Err(_) => datum_from_string(
                        &ColType {
                            value: None,
                            ..arg_type
                        },
                        arg,
                    )?,
                };
                datum.retain(|(k, v)| {
                    !rm.iter()
                        .any(|(rk, rv)| rk == k && (rv.is_none() || rv == v))
                });
            }
        }
        // What ovs-vsctl 3.1 does with `add` (its manual says otherwise): an
        // added pair replaces the value its key had; among the arguments the
        // first pair for a key wins.
        let mut seen: Vec<Atom> = Vec::new();
        for (k, v) in adds {
            if seen.contains(&k) {
                continue;
            }
            seen.push(k.clone());
            match datum.binary_search_by(|e| e.0.cmp(&k)) {
                Ok(i) => datum[i].1 = v,
                Err(i) => datum.insert(i, (k, v)),
            }
        }
        let what = if ty.is_map() { "pairs" } else { "values" };
        if add && datum.len() > ty.n_max {
            return Err(format!(
                "\"add\" operation would put {} {what} in column {} of table {} but the \
                 maximum number is {}",
                datum.len(),
                col.name(),
                table.name(),
                ty.n_max
            )
            .into());
        }
        if !add && datum.len() < ty.n_min {
            return Err(format!(
                "\"remove\" operation would put {} {what} in column {} of table {} but the \
                 minimum number is {}",
                datum.len(),
                col.name(),
                table.name(),
                ty.n_min
            )
            .into());
        }
        self.write(&row, col, datum)
    }

    fn clear(&mut self, cmd: &Command) -> CmdResult {
        let table = get_table(&cmd.args[0])?;
        let Some(row) = self.get_row(table, &cmd.args[1], !cmd.has("--if-exists"))? else {
            return Ok(());
        };
        for arg in &cmd.args[2..] {
            let col = get_column(table, arg)?;
            Self::check_mutable(table, col)?;
            if col.ty().n_min > 0 {
                return Err(format!(
                    "\"clear\" operation cannot be applied to column {} of table {}, which \
                     is not allowed to be empty",
                    col.name(),
                    table.name()
                )
                .into());
            }
            self.write(&row, col, Vec::new())?;
        }
        Ok(())
    }

    fn list(&mut self, cmd: &Command) -> CmdResult {
        let must_exist = !cmd.has("--if-exists");
        let table = get_table(&cmd.args[0])?;
        let columns: Vec<Col> = match cmd.options.get("--columns") {
            Some(Some(names)) => {
                let mut cols = Vec::new();
                for name in names.split([',', ' ']).filter(|n| !n.is_empty()) {
                    if name.eq_ignore_ascii_case("_uuid") {
                        return Err("grebe records have no UUIDs (_uuid)".to_string().into());
                    }
                    cols.push(get_column(table, name)?);
                }
                if cols.is_empty() {
                    return Err("must specify at least one column name".to_string().into());
                }
                cols
            }
            _ => table.columns().to_vec(),
        };
        if let Some(format) = &self.globals.format {
            return Err(
                format!("grebe supports only --format=list (not --format={format})").into(),
            );
        }
        let rows: Vec<Row> = if cmd.args.len() > 1 {
            let mut rows = Vec::new();
            for id in &cmd.args[1..] {
                if let Some(row) = self.get_row(table, id, must_exist)? {
                    rows.push(row);
                }
            }
            rows
        } else {
            match table {
                Table::Interface | Table::Port => {
                    let mut all: Vec<Row> = self
                        .cfg
                        .bridges
                        .iter()
                        .flat_map(|(br, b)| {
                            b.ports.keys().map(|p| Row::Iface {
                                bridge: br.clone(),
                                port: p.clone(),
                            })
                        })
                        .collect();
                    all.sort_by(|a, b| match (a, b) {
                        (Row::Iface { port: x, .. }, Row::Iface { port: y, .. }) => x.cmp(y),
                        _ => std::cmp::Ordering::Equal,
                    });
                    all
                }
                Table::Bridge => self.cfg.bridges.keys().cloned().map(Row::Bridge).collect(),
                Table::OpenVswitch => vec![Row::Root],
            }
        };
        let headings = !self.globals.bare && !self.globals.no_headings;
        let mut s = String::new();
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                s.push('\n');
            }
            for &col in &columns {
                let datum = self.read(row, col);
                let text = if self.globals.bare {
                    datum_to_bare(&datum)
                } else {
                    datum_to_string(&col.ty(), &datum)
                };
                if headings {
                    let _ = write!(s, "{:<20}: ", col.name());
                }
                s.push_str(&text);
                s.push('\n');
            }
        }
        self.out.push_str(&s);
        Ok(())
    }

    fn show(&mut self) {
        let mut s = String::new();
        s.push_str(SHOW_ID);
        s.push('\n');
        let name = |n: &str| atom_to_string(&Atom::Str(n.to_string()));
        for (br_name, bridge) in &self.cfg.bridges {
            let _ = writeln!(s, "    Bridge {}", name(br_name));
            if !bridge.datapath_type.is_empty() {
                let _ = writeln!(s, "        datapath_type: {}", bridge.datapath_type);
            }
            for (port, iface) in &bridge.ports {
                let _ = writeln!(s, "        Port {}", name(port));
                let _ = writeln!(s, "            Interface {}", name(port));
                if iface.kind != InterfaceType::System {
                    let _ = writeln!(s, "                type: {}", iface.kind.as_ovs_str());
                }
                if !iface.options.is_empty() {
                    let _ = writeln!(
                        s,
                        "                options: {}",
                        datum_to_string(&Col::Options.ty(), &map_to_datum(&iface.options))
                    );
                }
                if let Some(e) = self.iface_error(port, iface) {
                    let _ = writeln!(s, "                error: {}", name(&e));
                }
            }
        }
        self.out.push_str(&s);
    }
}

fn no_bridge(name: &str) -> Fail {
    Fail::Error(format!("no bridge named {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InterfaceType;

    /// A daemon with fixed live facts.
    #[derive(Default)]
    struct FakeLive {
        errors: BTreeMap<String, String>,
        stats: BTreeMap<String, Vec<(String, u64)>>,
        mtu: BTreeMap<String, u32>,
        ofport: BTreeMap<String, i64>,
    }

    impl LiveState for FakeLive {
        fn interface_error(&self, iface: &str) -> Option<String> {
            self.errors.get(iface).cloned()
        }
        fn interface_statistics(&self, iface: &str) -> Vec<(String, u64)> {
            self.stats.get(iface).cloned().unwrap_or_default()
        }
        fn interface_mtu(&self, iface: &str) -> Option<u32> {
            self.mtu.get(iface).copied()
        }
        fn ofport(&self, iface: &str) -> Option<i64> {
            self.ofport.get(iface).copied()
        }
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn vs_live(cfg: &mut Config, live: &dyn LiveState, a: &[&str]) -> Outcome {
        run(cfg, &args(a), live)
    }

    fn vs(cfg: &mut Config, a: &[&str]) -> Outcome {
        vs_live(cfg, &NoLiveState, a)
    }

    /// Runs a command that must succeed; returns its stdout.
    #[track_caller]
    fn ok(cfg: &mut Config, a: &[&str]) -> String {
        let o = vs(cfg, a);
        assert_eq!(o.exit_code, 0, "{a:?}: {o:?}");
        assert_eq!(o.stderr, "", "{a:?}");
        o.stdout
    }

    /// Runs a command that must fail with exit 1 and `msg`, leaving the
    /// configuration byte-identical.
    #[track_caller]
    fn err(cfg: &mut Config, a: &[&str], msg: &str) {
        let before = serde_json::to_vec(cfg).unwrap();
        let o = vs(cfg, a);
        assert_eq!(
            o,
            Outcome {
                stdout: String::new(),
                stderr: format!("ovs-vsctl: {msg}\n"),
                exit_code: 1,
                changed: false,
            },
            "{a:?}"
        );
        assert_eq!(
            serde_json::to_vec(cfg).unwrap(),
            before,
            "{a:?} changed the config"
        );
    }

    /// The README's seed: br-int, internal mgmt0, gre0 to 192.0.2.15.
    fn seed() -> Config {
        let mut c = Config::default();
        ok(&mut c, &["add-br", "br-int"]);
        ok(
            &mut c,
            &[
                "add-port",
                "br-int",
                "mgmt0",
                "--",
                "set",
                "interface",
                "mgmt0",
                "type=internal",
            ],
        );
        ok(&mut c, &["add-port", "br-int", "gre0"]);
        ok(
            &mut c,
            &[
                "set",
                "interface",
                "gre0",
                "type=gre",
                "options:remote_ip=192.0.2.15",
            ],
        );
        c
    }

    #[test]
    fn seed_commands_build_the_expected_config() {
        let mut c = Config::default();
        let o = vs(&mut c, &["--may-exist", "add-br", "br-int"]);
        assert!(o.changed && o.exit_code == 0 && o.stdout.is_empty());
        let o = vs(
            &mut c,
            &[
                "add-port",
                "br-int",
                "mgmt0",
                "--",
                "set",
                "interface",
                "mgmt0",
                "type=internal",
            ],
        );
        assert!(o.changed);
        let o = vs(&mut c, &["add-port", "br-int", "gre0"]);
        assert!(o.changed);
        assert_eq!(c.bridges["br-int"].ports["gre0"], Interface::default());
        let o = vs(
            &mut c,
            &[
                "set",
                "interface",
                "gre0",
                "type=gre",
                "options:remote_ip=192.0.2.15",
            ],
        );
        assert!(o.changed);

        let mut want = Config::default();
        let mut br = Bridge::new_with_local_port("br-int");
        br.ports.insert(
            "mgmt0".into(),
            Interface {
                kind: InterfaceType::Internal,
                ..Interface::default()
            },
        );
        br.ports.insert(
            "gre0".into(),
            Interface {
                kind: InterfaceType::Gre,
                options: [("remote_ip".to_string(), "192.0.2.15".to_string())].into(),
                ..Interface::default()
            },
        );
        want.bridges.insert("br-int".into(), br);
        assert_eq!(c, want);
        c.validate().unwrap();
        assert_eq!(c, seed());

        // Re-running the idempotent form changes nothing.
        let o = vs(&mut c, &["--may-exist", "add-br", "br-int"]);
        assert_eq!(o, Outcome::default());
        // Setting a value it already has is not a change.
        let o = vs(&mut c, &["set", "interface", "gre0", "type=gre"]);
        assert!(!o.changed && o.exit_code == 0);
    }

    #[test]
    fn show_matches_ovs_layout() {
        let mut c = seed();
        // Byte for byte what ovs-vsctl 3.1 prints for the seed, but for the
        // first line (OVS: the Open_vSwitch record's UUID).
        let want = format!(
            "{SHOW_ID}\n    Bridge br-int\n        Port br-int\n            Interface br-int\n                type: internal\n        Port gre0\n            Interface gre0\n                type: gre\n                options: {{remote_ip=\"192.0.2.15\"}}\n        Port mgmt0\n            Interface mgmt0\n                type: internal\n"
        );
        assert_eq!(ok(&mut c, &["show"]), want);

        // Live errors, system ports (no type line), names needing quotes.
        let mut live = FakeLive::default();
        live.errors.insert(
            "mgmt0".into(),
            "could not open network device mgmt0 (No such device)".into(),
        );
        ok(
            &mut c,
            &[
                "add-port",
                "br-int",
                "eth1",
                "--",
                "set",
                "interface",
                "gre0",
                "options:key=5",
            ],
        );
        let out = vs_live(&mut c, &live, &["show"]).stdout;
        assert!(
            out.contains("        Port eth1\n            Interface eth1\n        Port gre0\n"),
            "{out}"
        );
        assert!(
            out.contains("                options: {key=\"5\", remote_ip=\"192.0.2.15\"}\n"),
            "{out}"
        );
        assert!(out.ends_with(
            "            Interface mgmt0\n                type: internal\n                error: \"could not open network device mgmt0 (No such device)\"\n"
        ), "{out}");

        // A gre port without remote_ip shows the configuration's error.
        ok(
            &mut c,
            &[
                "add-port",
                "br-int",
                "gre1",
                "--",
                "set",
                "interface",
                "gre1",
                "type=gre",
            ],
        );
        let out = ok(&mut c, &["show"]);
        assert!(out.contains(
            "            Interface gre1\n                type: gre\n                error: \"interface gre1: options:remote_ip is required for type=gre"
        ), "{out}");
        assert_eq!(
            ok(&mut c, &["get", "interface", "gre1", "error"]),
            "\"interface gre1: options:remote_ip is required for type=gre (ovs-vsctl set interface gre1 options:remote_ip=192.0.2.15, with the remote host's IPv4 address)\"\n"
        );

        let mut empty = Config::default();
        assert_eq!(ok(&mut empty, &["show"]), format!("{SHOW_ID}\n"));
    }

    /// Error messages and exit codes, each checked against ovs-vsctl 3.1
    /// (Debian's openvswitch-switch) on the seed configuration plus br1.
    #[test]
    fn error_messages_match_ovs_vsctl() {
        let table: &[(&[&str], &str)] = &[
            (
                &["add-br", "br-int"],
                "cannot create a bridge named br-int because a bridge named br-int already exists",
            ),
            (
                &["add-br", "gre0"],
                "cannot create a bridge named gre0 because a port named gre0 already exists on bridge br-int",
            ),
            (
                &["--may-exist", "add-br", "gre0"],
                "cannot create a bridge named gre0 because a port named gre0 already exists on bridge br-int",
            ),
            (
                &["add-br", "br2", "br-int"],
                "'add-br' command takes exactly 1 or 3 arguments",
            ),
            (
                &["add-br", "a", "b", "c", "d"],
                "'add-br' command takes at most 3 arguments",
            ),
            (
                &["add-br"],
                "'add-br' command requires at least 1 arguments",
            ),
            (&["del-br", "br0"], "no bridge named br0"),
            (&["list-ports", "br0"], "no bridge named br0"),
            (&["list-ifaces", "br0"], "no bridge named br0"),
            (&["foo"], "unknown command 'foo'; use --help for help"),
            (&["--bogus", "list-br"], "unrecognized option '--bogus'"),
            (&["-x", "list-br"], "invalid option -- 'x'"),
            (&["-t"], "option requires an argument -- 't'"),
            (&["--db"], "option '--db' requires an argument"),
            (
                &["--timeout=abc", "list-br"],
                "value abc on -t or --timeout is invalid",
            ),
            (
                &["--timeout=0", "list-br"],
                "value 0 on -t or --timeout is invalid",
            ),
            (
                &["--oneline=5", "list-br"],
                "option '--oneline' doesn't allow an argument",
            ),
            (
                &["--format=bogus", "list-br"],
                "unknown output format \"bogus\"",
            ),
            (&[], "missing command name (use --help for help)"),
            (
                &["--may-exist"],
                "missing command name (use --help for help)",
            ),
            (
                &["list-br", "--may-exist"],
                "'list-br' command takes at most 0 arguments (note that options must precede command names and follow a \"--\" argument)",
            ),
            (
                &["--if-exists", "add-br", "br9"],
                "'add-br' command has no '--if-exists' option",
            ),
            (
                &["--", "--may-exist", "del-br", "br1"],
                "'del-br' command has no '--may-exist' option",
            ),
            (
                &["--", "--bogus", "add-br", "br1"],
                "'add-br' command has no '--bogus' option",
            ),
            (
                &["--", "--may-exist", "--may-exist", "add-br", "br1"],
                "'--may-exist' option specified multiple times",
            ),
            (
                &["--columns=name", "list-br"],
                "'list-br' command has no '--columns' option",
            ),
            (
                &["br-exists"],
                "'br-exists' command requires at least 1 arguments",
            ),
            (
                &["br-exists", "a", "b"],
                "'br-exists' command takes at most 1 arguments",
            ),
            (
                &["add-port", "br-int"],
                "'add-port' command requires at least 2 arguments",
            ),
            (
                &["add-port", "br-int", "gre0"],
                "cannot create a port named gre0 because a port named gre0 already exists on bridge br-int",
            ),
            (
                &["add-port", "br1", "gre0"],
                "cannot create a port named gre0 because a port named gre0 already exists on bridge br-int",
            ),
            (
                &["--may-exist", "add-port", "br1", "gre0"],
                "\"--may-exist add-port br1 gre0\" but gre0 is actually attached to bridge br-int",
            ),
            (
                &["add-port", "br-int", "br-int"],
                "cannot create a port named br-int because a bridge named br-int already exists",
            ),
            (
                &["add-port", "br1", "br-int"],
                "cannot create a port named br-int because a bridge named br-int already exists",
            ),
            (&["add-port", "br0", "gre3"], "no bridge named br0"),
            (
                &["add-port", "br-int", "p1", "bogus=1"],
                "Port does not contain a column whose name matches \"bogus\"",
            ),
            (
                &["add-port", "br-int", "p1", "other_config:a"],
                "other_config:a: argument does not end in \"=\" followed by a value.",
            ),
            (
                &["del-port", "br-int"],
                "cannot delete port br-int because it is the local port for bridge br-int (deleting this port requires deleting the entire bridge)",
            ),
            (
                &["del-port", "br-int", "br-int"],
                "cannot delete port br-int because it is the local port for bridge br-int (deleting this port requires deleting the entire bridge)",
            ),
            (&["del-port", "x"], "no port named x"),
            (&["del-port", "br0", "gre0"], "no bridge named br0"),
            (
                &["--if-exists", "del-port", "br9", "gre0"],
                "no bridge named br9",
            ),
            (
                &["del-port", "br1", "gre0"],
                "bridge br1 does not have a port gre0",
            ),
            (
                &["--if-exists", "del-port", "br1", "gre0"],
                "bridge br1 does not have a port gre0",
            ),
            (&["port-to-br", "br-int"], "no port named br-int"),
            (&["port-to-br", "x"], "no port named x"),
            (&["iface-to-br", "x"], "no interface named x"),
            (&["iface-to-br", "br-int"], "no interface named br-int"),
            (
                &["get", "interface", "x", "type"],
                "no row \"x\" in table Interface",
            ),
            (
                &["get", "bridge", "br0", "name"],
                "no row \"br0\" in table Bridge",
            ),
            (
                &["get", "interface", "gre0", "options:key"],
                "no key \"key\" in Interface record \"gre0\" column options",
            ),
            (
                &["get", "interface", "gre0", "bogus"],
                "Interface does not contain a column whose name matches \"bogus\"",
            ),
            (
                &["get", "i", "gre0", "type"],
                "\"i\" matches multiple table names: IPFIX, Interface",
            ),
            (
                &["get", "Interface", "gre0", "o"],
                "Interface contains more than one column whose name matches \"o\": ofport, ofport_request, options, other_config",
            ),
            (&["get", "foo", "gre0", "type"], "unknown table \"foo\""),
            (
                &["get", "interface", "gre0", "options:"],
                "An empty string is not valid as input; use \"\" to represent the empty string",
            ),
            (
                &["get", "interface", "gre0", "type:foo"],
                "cannot specify key to get for non-map column type",
            ),
            (
                &["set", "interface", "gre0", "type:foo=bar"],
                "cannot specify key to set for non-map column type",
            ),
            (
                &["set", "interface", "gre0", "type="],
                "type=: argument does not end in \"=\" followed by a value.",
            ),
            (
                &["set", "interface", "gre0", "options"],
                "options: argument does not end in \"=\" followed by a value.",
            ),
            (
                &["set", "interface", "gre0", "options:a"],
                "options:a: argument does not end in \"=\" followed by a value.",
            ),
            (
                &["set", "interface", "gre0", "external_ids:a!b=c"],
                "external_ids:a!b=c: argument does not end in \"=\" followed by a value.",
            ),
            (
                &["set", "interface", "gre0", "name=x"],
                "cannot modify read-only column name in table Interface",
            ),
            (
                &["set", "bridge", "br-int", "name=x"],
                "cannot modify read-only column name in table Bridge",
            ),
            (
                &["set", "interface", "gre0", "mtu_request=abc"],
                "\"abc\" is not a valid integer or range",
            ),
            (
                &["set", "interface", "gre0", "mtu_request=0x10"],
                "\"0x10\" is not a valid integer or range",
            ),
            (
                &["set", "interface", "gre0", "mtu_request=0"],
                "constraint violation: 0 is less than minimum allowed value 1",
            ),
            (
                &["set", "interface", "gre0", "mtu_request=-5"],
                "constraint violation: -5 is less than minimum allowed value 1",
            ),
            (
                &["set", "interface", "gre0", "mtu_request=1500 1600"],
                "1500 1600: 2 value(s) specified but the maximum number is 1",
            ),
            (
                &["set", "interface", "gre0", "options=x"],
                "x: syntax error at \"",
            ),
            (
                &["set", "interface", "gre0", "options={a=b"],
                "{a=b: missing \"}\" at end of data",
            ),
            (
                &["set", "interface", "gre0", "options={a=b} x"],
                "{a=b} x: trailing garbage after \"}\"",
            ),
            (
                &["set", "interface", "gre0", "options={a=b, a=c}"],
                "{a=b, a=c}: map contains duplicate key",
            ),
            (
                &["set", "interface", "gre0", "options={=b}"],
                "{=b}: unexpected \"=\" parsing map of (string, string) pairs",
            ),
            (
                &["set", "interface", "gre0", "options:=b"],
                "An empty string is not valid as input; use \"\" to represent the empty string",
            ),
            (
                &["set", "interface", "gre0", ":a=b"],
                ":a=b: missing column name",
            ),
            (
                &["set", "interface", "gre0", "options:x=\"unterminated"],
                "\"unterminated: missing quote at end of quoted string",
            ),
            (
                &["set", "interface", "gre0", "options:x=\"a\\qb\""],
                "\"a\\qb\": bad escape \\q",
            ),
            (
                &["set", "interface", "gre0", "options:x=\"a\"b\""],
                "\"a\"b\": quoted string may not include unescaped \"",
            ),
            (
                &["set", "interface", "gre0", "options=\"x"],
                "\"x: quoted string extends past end of argument",
            ),
            (
                &["set", "interface", "gre0", "options=x\\"],
                "x\\: backslash at end of argument",
            ),
            (
                &["remove", "interface", "gre0", "type", "gre"],
                "\"remove\" operation would put 0 values in column type of table Interface but the minimum number is 1",
            ),
            (
                &["remove", "interface", "gre0", "options", "{}"],
                "{}: unexpected \"{\" parsing set of 1 or more strings",
            ),
            (
                &["remove", "interface", "gre0", "options", ""],
                "use \"[]\" to specify the empty set",
            ),
            (
                &["remove", "interface", "gre0", "options", "a=b=c"],
                "a=b=c: unexpected \"=\" parsing set of 1 or more strings",
            ),
            (
                &["remove", "interface", "gre0", "bogus", "a"],
                "Interface does not contain a column whose name matches \"bogus\"",
            ),
            (
                &["remove", "nope", "gre0", "options", "a"],
                "unknown table \"nope\"",
            ),
            (
                &["remove", "interface", "nope", "options", "a"],
                "no row \"nope\" in table Interface",
            ),
            (
                &["clear", "interface", "gre0", "name"],
                "cannot modify read-only column name in table Interface",
            ),
            (
                &["clear", "interface", "gre0", "bogus"],
                "Interface does not contain a column whose name matches \"bogus\"",
            ),
            (
                &["clear", "interface", "gre0", "type"],
                "\"clear\" operation cannot be applied to column type of table Interface, which is not allowed to be empty",
            ),
            (
                &["--columns=name", "list", "interface", "gre0", "nope"],
                "no row \"nope\" in table Interface",
            ),
            (
                &["list-br", "--", "del-br", "nonexist"],
                "no bridge named nonexist",
            ),
        ];
        let mut c = seed();
        ok(&mut c, &["add-br", "br1"]);
        for (a, msg) in table {
            err(&mut c, a, msg);
        }
    }

    /// Where grebe refuses what OVS accepts, the message says so.
    #[test]
    fn grebe_specific_errors() {
        let mut c = seed();
        let table: &[(&[&str], &str)] = &[
            (
                &["set", "interface", "gre0", "type=vxlan"],
                "grebe does not support interface type \"vxlan\" (supported types: \"\" or system, internal, gre)",
            ),
            (
                &["set", "interface", "gre0", "ofport=5"],
                "cannot modify read-only column ofport in table Interface",
            ),
            (
                &["set", "interface", "gre0", "statistics:x=1"],
                "cannot modify read-only column statistics in table Interface",
            ),
            (
                &["set", "interface", "gre0", "error=x"],
                "cannot modify read-only column error in table Interface",
            ),
            (
                &["set", "port", "gre0", "tag=5"],
                "grebe does not support column tag of table Port",
            ),
            (
                &["add-port", "br-int", "p1", "tag=5"],
                "grebe does not support column tag of table Port",
            ),
            (
                &["add-port", "br-int", "p1", "name=p2"],
                "cannot modify read-only column name in table Port",
            ),
            (
                &["get", "interface", "gre0", "mac_in_use"],
                "grebe does not support column mac_in_use of table Interface",
            ),
            (
                &["get", "controller", "x", "target"],
                "grebe does not support table Controller",
            ),
            (
                &["get", "interface", "gre0", "_uuid"],
                "grebe records have no UUIDs (_uuid)",
            ),
            (
                &["set", "bridge", "br-int", "other_config:stp-priority=70000"],
                "bridge br-int: other_config:stp-priority=70000 is not an integer from 0 to 65535 (ovs-vsctl set bridge br-int other_config:stp-priority=32768, or ovs-vsctl remove bridge br-int other_config stp-priority)",
            ),
            (
                &["set", "bridge", "br-int", "stp_enable=maybe"],
                "\"maybe\" is not a valid boolean (use \"true\" or \"false\")",
            ),
            (
                &["add-br", "br2", "br-int", "5"],
                "grebe does not support fake (VLAN) bridges: add-br BRIDGE PARENT VLAN",
            ),
            (
                &["add-bond", "br-int", "bond0", "a", "b"],
                "grebe does not support the 'add-bond' command",
            ),
            (
                &["set-controller", "br-int", "tcp:1.2.3.4"],
                "grebe does not support the 'set-controller' command",
            ),
            (
                &["get", "open_vswitch", "x", "bridges"],
                "no row \"x\" in table Open_vSwitch",
            ),
            (
                &["set", "open_vswitch", ".", "bridges=[]"],
                "cannot modify read-only column bridges in table Open_vSwitch",
            ),
            (
                &["set", "interface", "gre0", "mtu_request=9999999999999"],
                "interface gre0: mtu_request=9999999999999 is out of range (ovs-vsctl set interface gre0 mtu_request=1500)",
            ),
            (
                &["add", "interface", "gre0", "mtu_request", "5", "6"],
                "\"add\" operation would put 2 values in column mtu_request of table Interface but the maximum number is 1",
            ),
            (
                &["--format=json", "list", "interface"],
                "grebe supports only --format=list (not --format=json)",
            ),
        ];
        for (a, msg) in table {
            err(&mut c, a, msg);
        }
    }

    #[test]
    fn validation_failures_leave_config_unchanged() {
        let mut c = seed();
        let table: &[(&[&str], &str)] = &[
            (
                &["set", "interface", "gre0", "options:ttl=0"],
                "interface gre0: options:ttl=0 is not a TTL from 1 to 255 (ovs-vsctl set interface gre0 options:ttl=64)",
            ),
            (
                &["set", "interface", "gre0", "options:bogus=1"],
                "interface gre0: unknown option options:bogus for type=gre (grebe supports: remote_ip, local_ip, key, csum, seq, ttl, tos, large_frames, df_default; remove it: ovs-vsctl remove interface gre0 options bogus)",
            ),
            (
                &["set", "interface", "gre0", "options:remote_ip=192.0.2.256"],
                "interface gre0: options:remote_ip=192.0.2.256 is not an IPv4 address (ovs-vsctl set interface gre0 options:remote_ip=192.0.2.15)",
            ),
            (
                &["set", "interface", "gre0", "options:key=flow"],
                "interface gre0: options:key=flow is not supported: grebe doesn't support flow-based keys; use a fixed key from 0 to 4294967295 (ovs-vsctl set interface gre0 options:key=5)",
            ),
            (
                &["set", "bridge", "br-int", "other_config:mac-aging-time=abc"],
                "bridge br-int: other_config:mac-aging-time=abc is not a number of seconds (use an integer from 15 to 3600, e.g. ovs-vsctl set bridge br-int other_config:mac-aging-time=300, or remove it: ovs-vsctl remove bridge br-int other_config mac-aging-time)",
            ),
            (
                &["add-br", "a-very-long-bridge"],
                "invalid bridge name \"a-very-long-bridge\": it is 18 bytes long (Linux interface names are 1 to 15 bytes without '/', ':' or whitespace)",
            ),
            (
                &[
                    "add-port",
                    "br-int",
                    "mgmt-interface-0",
                    "--",
                    "set",
                    "interface",
                    "mgmt-interface-0",
                    "type=internal",
                ],
                "invalid interface name \"mgmt-interface-0\": it is 16 bytes long (Linux interface names are 1 to 15 bytes without '/', ':' or whitespace)",
            ),
            (
                &["set", "interface", "mgmt0", "mtu_request=20"],
                "interface mgmt0: mtu_request=20 is outside 68..=65535 (ovs-vsctl set interface mgmt0 mtu_request=1500, or ovs-vsctl clear interface mgmt0 mtu_request)",
            ),
            (
                &["set", "interface", "br-int", "type=gre"],
                "bridge br-int: its local port br-int must be type=internal (ovs-vsctl set interface br-int type=internal)",
            ),
        ];
        for (a, msg) in table {
            err(&mut c, a, msg);
        }
        // The gre port may lose its remote_ip: storable, reported as its error.
        let o = vs(
            &mut c,
            &["remove", "interface", "gre0", "options", "remote_ip"],
        );
        assert!(o.changed && o.exit_code == 0);
        assert!(c.bridges["br-int"].ports["gre0"].options.is_empty());
    }

    #[test]
    fn chain_is_all_or_nothing() {
        let mut c = seed();
        let before = serde_json::to_vec_pretty(&c).unwrap();
        err(
            &mut c,
            &[
                "add-br",
                "br1",
                "--",
                "add-port",
                "br1",
                "p1",
                "--",
                "set",
                "interface",
                "gre0",
                "options:key=7",
                "--",
                "list-br",
                "--",
                "del-br",
                "nope",
            ],
            "no bridge named nope",
        );
        assert_eq!(serde_json::to_vec_pretty(&c).unwrap(), before);
        // A chain whose result fails validation is rejected as a whole too.
        err(
            &mut c,
            &[
                "add-br",
                "br1",
                "--",
                "set",
                "interface",
                "gre0",
                "options:ttl=300",
            ],
            "interface gre0: options:ttl=300 is not a TTL from 1 to 255 (ovs-vsctl set interface gre0 options:ttl=64)",
        );
        assert_eq!(serde_json::to_vec_pretty(&c).unwrap(), before);
        // And the same chain without the bad command applies entirely.
        let o = vs(
            &mut c,
            &[
                "add-br",
                "br1",
                "--",
                "add-port",
                "br1",
                "p1",
                "--",
                "set",
                "interface",
                "gre0",
                "options:key=7",
                "--",
                "list-br",
            ],
        );
        assert_eq!(o.stdout, "br-int\nbr1\n");
        assert!(o.changed);
        assert_eq!(c.bridge_of_port("p1"), Some("br1"));
        assert_eq!(c.bridges["br-int"].ports["gre0"].options["key"], "7");
    }

    #[test]
    fn br_exists_exits_2_without_output_or_changes() {
        let mut c = seed();
        assert_eq!(vs(&mut c, &["br-exists", "br-int"]), Outcome::default());
        let want = Outcome {
            exit_code: 2,
            ..Outcome::default()
        };
        assert_eq!(vs(&mut c, &["br-exists", "br0"]), want);
        // As in ovs-vsctl, the exit is immediate: earlier commands are
        // neither printed nor committed.
        let before = c.clone();
        assert_eq!(
            vs(
                &mut c,
                &["list-br", "--", "add-br", "foo", "--", "br-exists", "nope"]
            ),
            want
        );
        assert_eq!(c, before);
    }

    #[test]
    fn may_exist_and_if_exists() {
        let mut c = seed();
        assert_eq!(
            vs(&mut c, &["--may-exist", "add-br", "br-int"]),
            Outcome::default()
        );
        assert_eq!(
            vs(&mut c, &["--", "--may-exist", "add-br", "br-int"]),
            Outcome::default()
        );
        // --may-exist add-port on the same bridge: nothing, settings ignored (as OVS).
        assert_eq!(
            vs(
                &mut c,
                &[
                    "--may-exist",
                    "add-port",
                    "br-int",
                    "gre0",
                    "other_config:x=y"
                ]
            ),
            Outcome::default()
        );
        assert!(c.bridges["br-int"].ports["gre0"].other_config.is_empty());
        assert_eq!(
            vs(&mut c, &["--if-exists", "del-br", "br0"]),
            Outcome::default()
        );
        assert_eq!(
            vs(&mut c, &["--if-exists", "del-port", "x"]),
            Outcome::default()
        );
        assert_eq!(
            vs(&mut c, &["--if-exists", "del-port", "br9", "nope"]),
            Outcome::default()
        );
        assert_eq!(
            vs(&mut c, &["--if-exists", "del-port", "br-int"]),
            Outcome::default()
        );
        assert_eq!(
            vs(
                &mut c,
                &["--if-exists", "set", "interface", "nope", "type=gre"]
            ),
            Outcome::default()
        );
        assert_eq!(
            vs(
                &mut c,
                &["--if-exists", "remove", "interface", "nope", "options", "a"]
            ),
            Outcome::default()
        );
        assert_eq!(
            vs(
                &mut c,
                &["--if-exists", "clear", "interface", "nope", "options"]
            ),
            Outcome::default()
        );
        assert_eq!(
            vs(
                &mut c,
                &["--if-exists", "get", "interface", "nope", "options"]
            ),
            Outcome::default()
        );
        // A missing key with --if-exists prints an empty line.
        assert_eq!(
            ok(
                &mut c,
                &["--if-exists", "get", "interface", "gre0", "options:key"]
            ),
            "\n"
        );
        assert_eq!(
            ok(
                &mut c,
                &[
                    "--if-exists",
                    "get",
                    "interface",
                    "gre0",
                    "options:key",
                    "--",
                    "get",
                    "interface",
                    "gre0",
                    "type"
                ]
            ),
            "\ngre\n"
        );
        assert_eq!(
            ok(
                &mut c,
                &[
                    "--if-exists",
                    "--columns=name",
                    "list",
                    "interface",
                    "nope",
                    "gre0"
                ]
            ),
            "name                : gre0\n"
        );
        assert_eq!(seed(), c);
    }

    #[test]
    fn bridge_and_port_commands() {
        let mut c = seed();
        assert_eq!(ok(&mut c, &["list-br"]), "br-int\n");
        assert_eq!(ok(&mut c, &["list-ports", "br-int"]), "gre0\nmgmt0\n");
        assert_eq!(ok(&mut c, &["list-ifaces", "br-int"]), "gre0\nmgmt0\n");
        assert_eq!(ok(&mut c, &["port-to-br", "gre0"]), "br-int\n");
        assert_eq!(ok(&mut c, &["iface-to-br", "mgmt0"]), "br-int\n");
        assert_eq!(ok(&mut c, &["br-to-vlan", "br-int"]), "0\n");
        assert_eq!(ok(&mut c, &["br-to-parent", "br-int"]), "br-int\n");
        assert_eq!(ok(&mut c, &["--real", "list-br"]), "br-int\n");
        assert_eq!(ok(&mut c, &["--fake", "list-br"]), "");
        assert_eq!(
            ok(
                &mut c,
                &["init", "--", "comment", "x", "y", "--", "list-br"]
            ),
            "br-int\n"
        );

        ok(&mut c, &["add-br", "br1"]);
        assert_eq!(c.bridges["br1"], Bridge::new_with_local_port("br1"));
        assert_eq!(ok(&mut c, &["list-br"]), "br-int\nbr1\n");
        assert_eq!(ok(&mut c, &["list-ports", "br1"]), "");
        ok(&mut c, &["add-port", "br1", "p1"]);
        ok(&mut c, &["del-port", "br1", "p1"]);
        assert_eq!(c.bridge_of_port("p1"), None);
        ok(&mut c, &["add-port", "br1", "p1"]);
        ok(&mut c, &["--with-iface", "del-port", "p1"]);
        assert_eq!(c.bridge_of_port("p1"), None);
        // del-br takes the bridge's ports with it.
        ok(&mut c, &["add-port", "br1", "p2"]);
        ok(&mut c, &["del-br", "br1"]);
        assert_eq!(c.bridge_of_port("p2"), None);
        assert_eq!(c, seed());

        // Trailing add-port settings: Port columns, and (grebe) the
        // Interface columns of the same record.
        ok(
            &mut c,
            &[
                "add-port",
                "br-int",
                "gre1",
                "type=gre",
                "options:remote_ip=192.0.2.16",
                "other_config:a=b",
                "external-ids:owner=me",
            ],
        );
        let i = &c.bridges["br-int"].ports["gre1"];
        assert_eq!(i.kind, InterfaceType::Gre);
        assert_eq!(i.options["remote_ip"], "192.0.2.16");
        assert_eq!(i.other_config["a"], "b");
        assert_eq!(i.external_ids["owner"], "me");
        assert_eq!(
            ok(&mut c, &["get", "port", "gre1", "other_config", "type"]),
            "{a=b}\ngre\n"
        );
    }

    #[test]
    fn get_set_remove_clear_round_trips() {
        let mut c = seed();
        assert_eq!(
            ok(&mut c, &["get", "interface", "gre0", "options"]),
            "{remote_ip=\"192.0.2.15\"}\n"
        );
        assert_eq!(ok(&mut c, &["get", "interface", "gre0", "type"]), "gre\n");
        assert_eq!(
            ok(&mut c, &["get", "interface", "mgmt0", "type"]),
            "internal\n"
        );
        ok(&mut c, &["add-port", "br-int", "eth1"]);
        assert_eq!(ok(&mut c, &["get", "interface", "eth1", "type"]), "\"\"\n");
        assert_eq!(
            ok(&mut c, &["get", "interface", "gre0", "options:remote_ip"]),
            "\"192.0.2.15\"\n"
        );
        assert_eq!(
            ok(
                &mut c,
                &[
                    "get",
                    "interface",
                    "gre0",
                    "mtu_request",
                    "name",
                    "error",
                    "ofport",
                    "mtu",
                    "external_ids",
                    "statistics"
                ]
            ),
            "[]\ngre0\n[]\n[]\n[]\n{}\n{}\n"
        );

        ok(
            &mut c,
            &[
                "set",
                "interface",
                "gre0",
                "options={remote_ip=192.0.2.15, key=5}",
            ],
        );
        assert_eq!(
            ok(&mut c, &["get", "interface", "gre0", "options"]),
            "{key=\"5\", remote_ip=\"192.0.2.15\"}\n"
        );
        ok(
            &mut c,
            &[
                "set",
                "interface",
                "gre0",
                "options:key=0x10",
                "options:ttl=64",
                "options:csum=true",
            ],
        );
        assert_eq!(
            ok(&mut c, &["get", "interface", "gre0", "options"]),
            "{csum=\"true\", key=\"0x10\", remote_ip=\"192.0.2.15\", ttl=\"64\"}\n"
        );
        assert_eq!(
            ok(
                &mut c,
                &["get", "interface", "gre0", "options:csum", "options:key"]
            ),
            "\"true\"\n\"0x10\"\n"
        );
        ok(&mut c, &["remove", "interface", "gre0", "options", "key"]);
        // KEY=VALUE removes only when the value matches.
        ok(
            &mut c,
            &[
                "remove",
                "interface",
                "gre0",
                "options",
                "csum=true",
                "ttl=63",
            ],
        );
        assert_eq!(
            ok(&mut c, &["get", "interface", "gre0", "options"]),
            "{remote_ip=\"192.0.2.15\", ttl=\"64\"}\n"
        );
        ok(&mut c, &["remove", "interface", "gre0", "options", "nokey"]);
        ok(
            &mut c,
            &[
                "add",
                "interface",
                "gre0",
                "options",
                "remote_ip=192.0.2.9",
                "seq=true",
                "remote_ip=192.0.2.7",
            ],
        );
        // As ovs-vsctl 3.1 (not its manual): add replaces an existing key's
        // value; among the arguments the first pair for a key wins.
        assert_eq!(
            ok(&mut c, &["get", "interface", "gre0", "options"]),
            "{remote_ip=\"192.0.2.9\", seq=\"true\", ttl=\"64\"}\n"
        );
        ok(&mut c, &["clear", "interface", "gre0", "options"]);
        assert_eq!(ok(&mut c, &["get", "interface", "gre0", "options"]), "{}\n");

        ok(&mut c, &["set", "interface", "gre0", "mtu_request=1400"]);
        assert_eq!(
            ok(&mut c, &["get", "interface", "gre0", "mtu_request"]),
            "1400\n"
        );
        assert_eq!(c.bridges["br-int"].ports["gre0"].mtu_request, Some(1400));
        ok(&mut c, &["set", "interface", "gre0", "mtu_request=[]"]);
        assert_eq!(c.bridges["br-int"].ports["gre0"].mtu_request, None);
        ok(&mut c, &["set", "interface", "gre0", "mtu_request= +1500"]);
        assert_eq!(c.bridges["br-int"].ports["gre0"].mtu_request, Some(1500));
        ok(
            &mut c,
            &["remove", "interface", "gre0", "mtu_request", "1500"],
        );
        assert_eq!(c.bridges["br-int"].ports["gre0"].mtu_request, None);
        ok(&mut c, &["add", "interface", "gre0", "mtu_request", "1450"]);
        ok(&mut c, &["clear", "interface", "gre0", "mtu_request"]);
        assert_eq!(
            ok(&mut c, &["get", "interface", "gre0", "mtu_request"]),
            "[]\n"
        );

        // Abbreviations and '-' for '_', as OVS.
        ok(&mut c, &["set", "Interface", "gre0", "external-ids:a=b c"]);
        assert_eq!(ok(&mut c, &["get", "int", "gre0", "ext"]), "{a=\"b c\"}\n");
        assert_eq!(ok(&mut c, &["get", "INTERFACE", "gre0", "TYPE"]), "gre\n");
        // type "" and system.
        ok(&mut c, &["set", "interface", "eth1", "type=system"]);
        ok(&mut c, &["set", "interface", "eth1", "type=\"\""]);
        assert_eq!(
            c.bridges["br-int"].ports["eth1"].kind,
            InterfaceType::System
        );

        // Bridge columns.
        ok(
            &mut c,
            &[
                "set",
                "bridge",
                "br-int",
                "other_config:mac-aging-time=60",
                "external_ids:x=y",
            ],
        );
        assert_eq!(
            ok(
                &mut c,
                &[
                    "get",
                    "bridge",
                    "br-int",
                    "name",
                    "other_config",
                    "external_ids:x",
                    "stp_enable",
                    "rstp_enable"
                ]
            ),
            "br-int\n{mac-aging-time=\"60\"}\ny\nfalse\nfalse\n"
        );
        assert_eq!(
            ok(&mut c, &["get", "bridge", "br-int", "ports"]),
            "[br-int, eth1, gre0, mgmt0]\n"
        );
        assert_eq!(
            ok(&mut c, &["get", "open_vswitch", ".", "bridges"]),
            "[br-int]\n"
        );
        ok(&mut c, &["set", "bridge", "br-int", "stp_enable=true"]);
        assert_eq!(
            ok(
                &mut c,
                &["get", "bridge", "br-int", "stp_enable", "rstp_enable"]
            ),
            "true\nfalse\n"
        );
        ok(&mut c, &["set", "bridge", "br-int", "stp_enable=false"]);
        ok(
            &mut c,
            &[
                "remove",
                "bridge",
                "br-int",
                "other_config",
                "mac-aging-time",
            ],
        );
        assert!(c.bridges["br-int"].other_config.is_empty());
        ok(&mut c, &["clear", "bridge", "br-int", "external_ids"]);
        assert!(c.bridges["br-int"].external_ids.is_empty());
    }

    #[test]
    fn string_quoting_matches_ovs() {
        let mut c = seed();
        ok(
            &mut c,
            &[
                "set",
                "interface",
                "gre0",
                "external_ids:a=b c",
                "external_ids:n=12",
                "external_ids:t=true",
                "external_ids:u=a\"b",
                "external_ids:e=\"\"",
                "external_ids:x=br0",
                "external_ids:y=_a.b-c",
                "external_ids:z=é",
                "external_ids:w=\"tab\\there\"",
                "external_ids:\"k y\"=1",
                "external_ids:uu=d6183702-b6c1-478a-b838-6b49b5a5c50f",
                "external_ids:\"a!b\"=c",
            ],
        );
        // ovs-vsctl 3.1's output for the same settings (plus "a!b"=c).
        assert_eq!(
            ok(&mut c, &["get", "interface", "gre0", "external_ids"]),
            "{a=\"b c\", \"a!b\"=c, e=\"\", \"k y\"=\"1\", n=\"12\", t=\"true\", u=\"a\\\"b\", uu=\"d6183702-b6c1-478a-b838-6b49b5a5c50f\", w=\"tab\\there\", x=br0, y=_a.b-c, z=\"é\"}\n"
        );
        assert_eq!(
            ok(
                &mut c,
                &["get", "interface", "gre0", "external_ids:\"a!b\""]
            ),
            "c\n"
        );
        assert_eq!(
            c.bridges["br-int"].ports["gre0"].external_ids["w"],
            "tab\there"
        );
        assert_eq!(c.bridges["br-int"].ports["gre0"].external_ids["e"], "");
        // map syntax without braces, and \u escapes.
        ok(
            &mut c,
            &["set", "interface", "gre0", "other_config=a=b c=d"],
        );
        assert_eq!(
            ok(&mut c, &["get", "interface", "gre0", "other_config"]),
            "{a=b, c=d}\n"
        );
        ok(
            &mut c,
            &[
                "set",
                "interface",
                "gre0",
                "other_config:s=\"\\u00e9\\ud83d\\ude00\\n\"",
            ],
        );
        assert_eq!(c.bridges["br-int"].ports["gre0"].other_config["s"], "é😀\n");
        assert_eq!(
            ok(&mut c, &["get", "interface", "gre0", "other_config:s"]),
            "\"é😀\\n\"\n"
        );
        ok(
            &mut c,
            &["set", "interface", "gre0", "other_config:ctl=\"\\u0001\""],
        );
        assert_eq!(
            ok(&mut c, &["get", "interface", "gre0", "other_config:ctl"]),
            "\"\\u0001\"\n"
        );
    }

    #[test]
    fn live_columns() {
        let mut c = seed();
        let mut live = FakeLive::default();
        live.stats.insert(
            "gre0".into(),
            vec![
                ("rx_bytes".into(), 5),
                ("collisions".into(), 0),
                ("tx_packets".into(), u64::MAX),
            ],
        );
        live.mtu.insert("gre0".into(), 1462);
        live.ofport.insert("gre0".into(), 3);
        live.errors.insert("gre0".into(), "some error: x".into());
        let o = vs_live(
            &mut c,
            &live,
            &[
                "get",
                "Interface",
                "gre0",
                "statistics",
                "mtu",
                "ofport",
                "error",
                "statistics:rx_bytes",
            ],
        );
        assert_eq!(
            o.stdout,
            format!(
                "{{collisions=0, rx_bytes=5, tx_packets={}}}\n1462\n3\n\"some error: x\"\n5\n",
                i64::MAX
            )
        );
        assert!(!o.changed);
        let o = vs_live(&mut c, &live, &["get", "port", "gre0", "statistics"]);
        assert!(o.stdout.starts_with("{collisions=0"));
    }

    #[test]
    fn oneline_output() {
        let mut c = seed();
        let o = vs(&mut c, &["--oneline", "add-br", "x", "--", "list-br"]);
        assert_eq!(o.stdout, "\nbr-int\\nx\n");
        assert_eq!(ok(&mut c, &["--oneline", "list-ports", "x"]), "\n");
        assert_eq!(
            ok(&mut c, &["--oneline", "br-exists", "x", "--", "list-br"]),
            "\nbr-int\\nx\n"
        );
        assert_eq!(
            ok(
                &mut c,
                &["--oneline", "get", "interface", "gre0", "options", "type"]
            ),
            "{remote_ip=\"192.0.2.15\"}\\ngre\n"
        );
        ok(
            &mut c,
            &["set", "interface", "gre0", "other_config:bs=\"a\\\\b\""],
        );
        assert_eq!(
            ok(
                &mut c,
                &["--oneline", "get", "interface", "gre0", "other_config:bs"]
            ),
            "\"a\\\\\\\\b\"\n"
        );
        let show = ok(&mut c, &["--oneline", "show"]);
        assert_eq!(show.matches('\n').count(), 1);
        assert!(show.starts_with(&format!("{SHOW_ID}\\n    Bridge br-int\\n")));
    }

    #[test]
    fn list_command() {
        let mut c = seed();
        assert_eq!(
            ok(
                &mut c,
                &["--columns=name,type,options", "list", "interface", "gre0"]
            ),
            "name                : gre0\ntype                : gre\noptions             : {remote_ip=\"192.0.2.15\"}\n"
        );
        assert_eq!(
            ok(
                &mut c,
                &["--bare", "--columns=name,options", "list", "interface"]
            ),
            "br-int\n\n\ngre0\nremote_ip=192.0.2.15\n\nmgmt0\n\n"
        );
        assert_eq!(
            ok(
                &mut c,
                &[
                    "--no-headings",
                    "--columns=name,options",
                    "list",
                    "interface",
                    "gre0"
                ]
            ),
            "gre0\n{remote_ip=\"192.0.2.15\"}\n"
        );
        assert_eq!(
            ok(&mut c, &["--columns=name", "list", "bridge"]),
            "name                : br-int\n"
        );
        assert_eq!(
            ok(
                &mut c,
                &["--bare", "--columns=ports", "list", "bridge", "br-int"]
            ),
            "br-int gre0 mgmt0\n"
        );
        let all = ok(&mut c, &["list", "interface", "mgmt0"]);
        assert_eq!(
            all,
            "error               : []\nexternal_ids        : {}\nmtu                 : []\nmtu_request         : []\nname                : mgmt0\nofport              : []\noptions             : {}\nother_config        : {}\nstatistics          : {}\ntype                : internal\n"
        );
        assert_eq!(
            ok(&mut c, &["--format=list", "list", "open_vswitch"]),
            "bridges             : [br-int]\n"
        );
    }

    #[test]
    fn global_options() {
        let mut c = seed();
        for a in [
            &["--db=unix:/x", "--no-wait", "-t", "5", "list-br"][..],
            &["--db", "unix:/x", "--timeout=5", "list-br"],
            &[
                "--timeout",
                "5",
                "-t5",
                "-v",
                "--verbose",
                "-vconsole:off",
                "--verbose=dbg",
                "list-br",
            ],
            &["--no-syslog", "--retry", "--format=json", "list-br"],
            &["--", "list-br", "--"],
        ] {
            assert_eq!(ok(&mut c, a), "br-int\n", "{a:?}");
        }
        // --dry-run runs everything, commits nothing.
        let o = vs(&mut c, &["--dry-run", "add-br", "zz", "--", "list-br"]);
        assert_eq!(
            o,
            Outcome {
                stdout: "br-int\nzz\n".into(),
                ..Outcome::default()
            }
        );
        assert_eq!(c, seed());
        let o = vs(&mut c, &["--version"]);
        assert!(o.stdout.starts_with("ovs-vsctl (grebe) ") && o.exit_code == 0 && !o.changed);
        let o = vs(&mut c, &["-h"]);
        assert!(o.stdout.contains("add-port BRIDGE PORT"));
    }

    #[test]
    fn clamped_settings_are_applied_with_a_warning() {
        let mut c = seed();
        let o = vs(
            &mut c,
            &["set", "bridge", "br-int", "other_config:mac-aging-time=5"],
        );
        assert_eq!(o.exit_code, 0);
        assert!(o.changed);
        assert_eq!(
            o.stderr,
            "ovs-vsctl: warning: bridge br-int: other_config:mac-aging-time=5 is below the minimum; using 15 seconds (Open vSwitch clamps the same way)\n"
        );
        // Unrelated later changes do not repeat the warning.
        let o = vs(&mut c, &["set", "interface", "gre0", "options:key=1"]);
        assert_eq!(o.stderr, "");
    }

    #[test]
    fn command_display_quotes_like_ovs() {
        let cmd = parse_command(
            &args(&["--may-exist", "add-port", "br1", "a b", "x\"y"]),
            BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(
            cmd.to_display(),
            "--may-exist add-port br1 \"a b\" \"x\\\"y\""
        );
    }

    #[test]
    fn datum_syntax() {
        let map = Col::Options.ty();
        let d = datum_from_string(&map, " { b = 2 ,a=1 } ").unwrap();
        assert_eq!(datum_to_string(&map, &d), "{a=\"1\", b=\"2\"}");
        assert_eq!(
            datum_to_string(&map, &datum_from_string(&map, "{}").unwrap()),
            "{}"
        );
        assert_eq!(
            datum_from_string(&map, "a").unwrap_err(),
            "a: syntax error at \""
        );
        assert_eq!(
            datum_from_string(&map, "a b").unwrap_err(),
            "a b: syntax error at \"b\" expecting \"=\""
        );
        assert_eq!(
            datum_from_string(&map, "").unwrap_err(),
            "use \"{}\" to specify the empty map"
        );
        let int = Col::MtuRequest.ty();
        assert_eq!(int.english(), "set of up to 1 integers");
        assert_eq!(
            datum_to_string(&int, &datum_from_string(&int, "[1500]").unwrap()),
            "1500"
        );
        assert_eq!(ColType::scalar(AtomType::Str).english(), "string");
        assert_eq!(
            datum_from_string(&Col::Type.ty(), "[]").unwrap_err(),
            "[]: 0 value(s) specified but the minimum number is 1"
        );
        assert_eq!(
            datum_from_string(&Col::Ports.ty(), "[a, a]").unwrap_err(),
            "[a, a]: set contains duplicate value"
        );
        assert_eq!(token_parse("a\\:b:c").unwrap(), ("a:b".to_string(), ":c"));
        assert!(
            string_needs_quotes("1abc") && string_needs_quotes("") && string_needs_quotes("false")
        );
        assert!(!string_needs_quotes("gre0") && !string_needs_quotes("a-b.c_d"));
        assert_eq!(
            score_partial_match("external_ids", "External-IDs"),
            u32::MAX - 1
        );
        assert_eq!(score_partial_match("options", "opt"), 3);
        assert_eq!(score_partial_match("options", "optx"), 0);
    }

    /// OVS-userspace scripts set datapath_type=netdev: stored, shown, read back, and ignored.
    #[test]
    fn datapath_type_is_accepted_for_ovs_scripts() {
        let mut c = seed();
        ok(&mut c, &["set", "bridge", "br-int", "datapath_type=netdev"]);
        assert_eq!(
            ok(&mut c, &["get", "bridge", "br-int", "datapath_type"]),
            "netdev\n"
        );
        assert!(
            ok(&mut c, &["show"]).contains("    Bridge br-int\n        datapath_type: netdev\n")
        );
        err(
            &mut c,
            &["set", "bridge", "br-int", "datapath_type=dpdk"],
            "bridge br-int: datapath_type=dpdk: grebe has one datapath; it accepts \"\", system and netdev (and ignores them)",
        );
    }
}
