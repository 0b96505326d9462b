//! ovs-vsctl's command line: global options, then `--`-separated commands with their own
//! options (`ctl_parse_commands()` in OVS's lib/db-ctl-base.c).

use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Debug, Default)]
pub(super) struct Globals {
    pub(super) oneline: bool,
    pub(super) dry_run: bool,
    /// How `list` and `find` print their records (`--format`, `--data`, `--no-headings`).
    pub(super) style: Style,
}

/// `--format`: the layout of a `list` or `find` table (`lib/table.c`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Format {
    #[default]
    List,
    Table,
    Csv,
    Json,
    Html,
}

/// `--data`: how one cell's value is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum CellFormat {
    /// OVSDB's string syntax, as `get` prints it.
    #[default]
    String,
    /// Values without quotes or brackets, space-separated.
    Bare,
    /// OVSDB's JSON (RFC 7047) form: `["map",[["k",1]]]`.
    Json,
}

/// `struct table_style`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Style {
    pub(super) format: Format,
    pub(super) data: CellFormat,
    pub(super) headings: bool,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            format: Format::List,
            data: CellFormat::String,
            headings: true,
        }
    }
}

/// What a long option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arg {
    None,
    Required,
    Optional,
}

/// ovs-vsctl's long options in its own order (global, logging, table, SSL, then the command
/// options it accepts in the global position), for getopt's abbreviation rules.
const LONG_OPTIONS: &[(&str, Arg)] = &[
    ("db", Arg::Required),
    ("no-syslog", Arg::None),
    ("no-wait", Arg::None),
    ("dry-run", Arg::None),
    ("oneline", Arg::None),
    ("timeout", Arg::Required),
    ("retry", Arg::None),
    ("help", Arg::None),
    ("commands", Arg::None),
    ("options", Arg::None),
    ("leader-only", Arg::None),
    ("no-leader-only", Arg::None),
    ("shuffle-remotes", Arg::None),
    ("no-shuffle-remotes", Arg::None),
    ("version", Arg::None),
    ("verbose", Arg::Optional),
    ("log-file", Arg::Optional),
    ("syslog-method", Arg::Required),
    ("syslog-target", Arg::Required),
    ("format", Arg::Required),
    ("data", Arg::Required),
    ("no-headings", Arg::None),
    ("pretty", Arg::None),
    ("bare", Arg::None),
    ("max-column-width", Arg::Required),
    ("private-key", Arg::Required),
    ("certificate", Arg::Required),
    ("ca-cert", Arg::Required),
    ("ssl-protocols", Arg::Required),
    ("ssl-ciphers", Arg::Required),
    ("bootstrap-ca-cert", Arg::Required),
    ("peer-ca-cert", Arg::Required),
];

/// glibc's `getopt_long()` lookup: an exact name, else a unique prefix. Several candidates
/// are one when they behave alike, as in glibc: ovs-vsctl's command options all share one
/// handler, so e.g. `--fak` is `--fake-iface`, the first of them. `arg` is the whole argument,
/// for glibc's messages.
fn long_option(name: &str, arg: &str) -> Result<(&'static str, Arg), String> {
    // (name, what it takes, whether it is a command option)
    let all = LONG_OPTIONS
        .iter()
        .map(|&(n, kind)| (n, kind, false))
        .chain(
            COMMAND_OPTIONS
                .iter()
                .map(|&(n, v)| (n, if v { Arg::Required } else { Arg::None }, true)),
        );
    let mut found: Vec<(&'static str, Arg, bool)> = Vec::new();
    for (n, kind, local) in all {
        if n == name {
            return Ok((n, kind));
        }
        if !name.is_empty() && n.starts_with(name) {
            found.push((n, kind, local));
        }
    }
    let Some(&(first, kind, local)) = found.first() else {
        return Err(format!("unrecognized option '{arg}'"));
    };
    if found.len() == 1 || found.iter().all(|&(_, k, l)| l && local && k == kind) {
        return Ok((first, kind));
    }
    let mut msg = format!("option '{arg}' is ambiguous; possibilities:");
    for (n, _, _) in &found {
        let _ = write!(msg, " '--{n}'");
    }
    Err(msg)
}

#[derive(Debug)]
pub(super) struct Command {
    /// Options given before the command name, e.g. `--may-exist`.
    pub(super) options: BTreeMap<String, Option<String>>,
    pub(super) name: String,
    pub(super) args: Vec<String>,
}

impl Command {
    pub(super) fn has(&self, option: &str) -> bool {
        self.options.contains_key(option)
    }

    /// The command as ovs-vsctl quotes it in messages
    /// (`vsctl_context_to_string()`).
    pub(super) fn to_display(&self) -> String {
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
pub(super) struct CommandLine {
    pub(super) globals: Globals,
    pub(super) commands: Vec<Command>,
}

pub(super) enum Parsed {
    Commands(CommandLine),
    /// `--help` or `--version`: print and exit 0.
    Print(String),
}

/// One command's syntax: name, argument counts, allowed options (in
/// ovs-vsctl's notation: `--opt` or `--opt=` for one taking a value).
pub(super) struct Syntax {
    name: &'static str,
    min_args: usize,
    max_args: usize,
    options: &'static [&'static str],
    usage: &'static str,
}

const UNLIMITED: usize = usize::MAX;

pub(super) const COMMANDS: &[Syntax] = &[
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
        name: "find",
        min_args: 1,
        max_args: UNLIMITED,
        options: &["--columns="],
        usage: "find TBL CONDITION...        list records satisfying CONDITION in TBL",
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
    Syntax {
        name: "get-controller",
        min_args: 1,
        max_args: 1,
        options: &[],
        usage: "get-controller BRIDGE       print the controllers for BRIDGE",
    },
    Syntax {
        name: "del-controller",
        min_args: 1,
        max_args: 1,
        options: &[],
        usage: "del-controller BRIDGE       delete the controllers for BRIDGE",
    },
    Syntax {
        name: "set-controller",
        min_args: 1,
        max_args: UNLIMITED,
        options: &[],
        usage: "set-controller BRIDGE TARGET...  set the controllers for BRIDGE",
    },
    Syntax {
        name: "get-fail-mode",
        min_args: 1,
        max_args: 1,
        options: &[],
        usage: "get-fail-mode BRIDGE        print the fail-mode for BRIDGE",
    },
    Syntax {
        name: "del-fail-mode",
        min_args: 1,
        max_args: 1,
        options: &[],
        usage: "del-fail-mode BRIDGE        delete the fail-mode for BRIDGE",
    },
    Syntax {
        name: "set-fail-mode",
        min_args: 2,
        max_args: 2,
        options: &[],
        usage: "set-fail-mode BRIDGE MODE   set the fail-mode for BRIDGE to MODE",
    },
];

/// ovs-vsctl commands grebe does not implement (a clearer message than
/// "unknown command").
pub(super) const UNSUPPORTED_COMMANDS: &[&str] = &[
    "emer-reset",
    "add-bond",
    "add-bond-iface",
    "del-bond-iface",
    "br-set-external-id",
    "br-get-external-id",
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
    "create",
    "destroy",
    "wait-until",
    "list-zones",
    "set-zone-limit",
    "del-zone-limit",
];

/// Command options ovs-vsctl accepts in the global position (they apply to
/// the first command).  The bool says whether it takes a value.
pub(super) const COMMAND_OPTIONS: &[(&str, bool)] = &[
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

pub(super) fn usage() -> String {
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
         \x20 -t, --timeout=SECS          give up (exit status 142) if the daemon has not answered\n\
         \x20 --db=, --no-wait, -v/--verbose   accepted and ignored\n\
         \x20 --format=list|table|csv|json|html, --data=string|bare|json, --bare,\n\
         \x20 --no-headings, --columns=      output of \"list\" and \"find\"\n\
         \x20 -h, --help                  display this help message\n\
         \x20 -V, --version               display version information\n",
    );
    s
}

pub(super) fn parse_command_line(args: &[String]) -> Result<Parsed, String> {
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
            let (given, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let (name, kind) = long_option(given, arg)?;
            let value = match kind {
                Arg::Required => match inline {
                    Some(v) => Some(v),
                    None => {
                        let Some(v) = args.get(i) else {
                            return Err(format!("option '--{name}' requires an argument"));
                        };
                        i += 1;
                        Some(v.clone())
                    }
                },
                Arg::None => {
                    if inline.is_some() {
                        return Err(format!("option '--{name}' doesn't allow an argument"));
                    }
                    None
                }
                Arg::Optional => inline,
            };
            match name {
                "timeout" => check_timeout(value.as_deref().unwrap_or_default())?,
                "format" => set_format(&mut globals, value.as_deref().unwrap_or_default())?,
                "data" => set_data(&mut globals, value.as_deref().unwrap_or_default())?,
                "oneline" => globals.oneline = true,
                "dry-run" => globals.dry_run = true,
                "bare" => {
                    globals.style = Style {
                        format: Format::List,
                        data: CellFormat::Bare,
                        headings: false,
                    }
                }
                "no-headings" => globals.style.headings = false,
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
                            _ => set_data(&mut globals, &value)?,
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

pub(super) fn check_timeout(value: &str) -> Result<(), String> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 && value.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err(format!("value {value} on -t or --timeout is invalid")),
    }
}

pub(super) fn set_format(globals: &mut Globals, value: &str) -> Result<(), String> {
    globals.style.format = match value {
        "list" => Format::List,
        "table" => Format::Table,
        "csv" => Format::Csv,
        "json" => Format::Json,
        "html" => Format::Html,
        _ => return Err(format!("unknown output format \"{value}\"")),
    };
    Ok(())
}

/// `table_parse_cell_format()`.
fn set_data(globals: &mut Globals, value: &str) -> Result<(), String> {
    globals.style.data = match value {
        "string" => CellFormat::String,
        "bare" => CellFormat::Bare,
        "json" => CellFormat::Json,
        _ => return Err(format!("unknown data format \"{value}\"")),
    };
    Ok(())
}

pub(super) fn parse_command(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_display_quotes_like_ovs() {
        let argv: Vec<String> = ["--may-exist", "add-port", "br1", "a b", "x\"y"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let cmd = parse_command(&argv, BTreeMap::new()).unwrap();
        assert_eq!(
            cmd.to_display(),
            "--may-exist add-port br1 \"a b\" \"x\\\"y\""
        );
    }
}
