//! The command registry, as OVS's unixctl keeps it: each command registers its name, usage,
//! how many arguments it takes and its handler; the daemon dispatches through the registry and
//! knows no command by name. A command either answers once from the daemon's state
//! ([`Handler::Reply`]) or streams on a connection of its own ([`Handler::Stream`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::RangeInclusive;
use std::sync::Mutex;

use crate::control::{Reply, StreamConn};

/// How a command prints: OVS's text layout, or JSON (`--format json`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Text,
    Json,
}

/// Answers from the state, under the daemon's lock: the output, or an error message.
pub type ReplyFn<S> = fn(&S, &[&str], Format) -> Result<String, String>;
/// Serves a streamed command on its own thread; takes the lock only to set itself up.
pub type StreamFn<S> = fn(&Mutex<S>, &mut StreamConn, &[String]) -> Reply;

pub enum Handler<S> {
    Reply(ReplyFn<S>),
    Stream(StreamFn<S>),
    /// `list-commands`: the registry itself.
    List,
}

struct Command<S> {
    /// None for a stream that is not an ovs-appctl command (`grebe capture`): not listed.
    usage: Option<&'static str>,
    args: RangeInclusive<usize>,
    handler: Handler<S>,
}

/// Every command the daemon answers, by name, over the daemon's state `S`.
pub struct Registry<S> {
    commands: BTreeMap<&'static str, Command<S>>,
}

impl<S> Registry<S> {
    /// A registry of `list-commands` and what each of `registrars` registers.
    pub fn new(registrars: &[fn(&mut Registry<S>)]) -> Registry<S> {
        let mut r = Registry {
            commands: BTreeMap::new(),
        };
        r.add("list-commands", Some("this list"), 0..=0, Handler::List);
        for register in registrars {
            register(&mut r);
        }
        r
    }

    /// Registers a command that answers once, with `args` arguments (after `--format`).
    pub fn reply(
        &mut self,
        name: &'static str,
        usage: &'static str,
        args: RangeInclusive<usize>,
        handler: ReplyFn<S>,
    ) {
        self.add(name, Some(usage), args, Handler::Reply(handler));
    }

    /// Registers a command that streams on its own connection; with no usage it is not an
    /// ovs-appctl command, only a stream (`grebe capture`).
    pub fn stream(
        &mut self,
        name: &'static str,
        usage: Option<&'static str>,
        handler: StreamFn<S>,
    ) {
        self.add(name, usage, 0..=usize::MAX, Handler::Stream(handler));
    }

    fn add(
        &mut self,
        name: &'static str,
        usage: Option<&'static str>,
        args: RangeInclusive<usize>,
        handler: Handler<S>,
    ) {
        let old = self.commands.insert(
            name,
            Command {
                usage,
                args,
                handler,
            },
        );
        assert!(old.is_none(), "appctl command {name} registered twice");
    }

    /// The streamed command named by `args[0]`, if there is one.
    pub fn stream_handler(&self, args: &[String]) -> Option<StreamFn<S>> {
        match &self.commands.get(args.first()?.as_str())?.handler {
            Handler::Stream(f) => Some(*f),
            Handler::Reply(_) | Handler::List => None,
        }
    }

    /// Runs one `ovs-appctl` command line against the daemon's state.
    pub fn run(&self, state: &S, args: &[String]) -> Reply {
        let (format, args) = match split_format(args) {
            Ok(x) => x,
            Err(e) => return Reply::error(2, format!("{e}\n")),
        };
        let Some((&name, rest)) = args.split_first() else {
            return Reply::error(
                2,
                "ovs-appctl: at least one command is required; try list-commands\n",
            );
        };
        let Some(command) = self.commands.get(name).filter(|c| c.usage.is_some()) else {
            return Reply::error(
                2,
                format!(
                    "\"{name}\" is not a valid command (use list-commands to see a list of valid commands)\n"
                ),
            );
        };
        if !command.args.contains(&rest.len()) {
            return Reply::error(
                2,
                format!(
                    "\"{name}\" command takes other arguments: {}\n",
                    command.usage.unwrap_or_default()
                ),
            );
        }
        let result = match &command.handler {
            Handler::List => Ok(self.list()),
            Handler::Reply(f) => f(state, rest, format),
            Handler::Stream(_) => Err(format!(
                "{name} streams its output: run it with `grebe appctl` (or `ovs-appctl` linked to grebe) of this version\n"
            )),
        };
        match result {
            Ok(out) => Reply::ok(out),
            Err(e) => Reply::error(2, e),
        }
    }

    /// `list-commands`, sorted by name as OVS prints it.
    fn list(&self) -> String {
        let mut s = String::from("The available commands are:\n");
        for (name, usage) in self
            .commands
            .iter()
            .filter_map(|(n, c)| Some((n, c.usage?)))
        {
            let _ = writeln!(s, "  {name:<19} {usage}");
        }
        s
    }
}

/// Takes `--format json` / `--format=json` / `-f json` out of `args`, wherever it stands.
fn split_format(args: &[String]) -> Result<(Format, Vec<&str>), String> {
    let mut format = Format::Text;
    let mut rest = Vec::new();
    let mut it = args.iter().map(String::as_str);
    while let Some(a) = it.next() {
        let value = match a {
            "--format" | "-f" => it.next(),
            _ if a.starts_with("--format=") => a.strip_prefix("--format="),
            _ => {
                rest.push(a);
                continue;
            }
        };
        format = match value {
            Some("json") => Format::Json,
            Some("text") => Format::Text,
            other => {
                return Err(format!(
                    "unknown output format {:?}: use --format text or --format json",
                    other.unwrap_or("")
                ));
            }
        };
    }
    Ok((format, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A registry over a plain number, as the daemon's is over its state.
    fn registry() -> Registry<u32> {
        Registry::new(&[|r| {
            r.reply("b/show", "N  shows N", 1..=1, |state, args, format| {
                Ok(format!("{state} {} {format:?}\n", args[0]))
            });
            r.stream(
                "a/live",
                Some("streams"),
                |_, _, _| Reply::ok(String::new()),
            );
            r.stream("capture", None, |_, _, _| Reply::ok(String::new()));
        }])
    }

    fn run(r: &Registry<u32>, args: &[&str]) -> Reply {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        r.run(&7, &args)
    }

    #[test]
    fn a_command_gets_its_arguments_and_the_format() {
        let reply = run(&registry(), &["b/show", "--format", "json", "x"]);
        assert_eq!((reply.exit_code, reply.stdout.as_str()), (0, "7 x Json\n"));
        let reply = run(&registry(), &["-f", "text", "b/show", "y"]);
        assert_eq!(reply.stdout, "7 y Text\n");
    }

    #[test]
    fn wrong_arity_names_the_usage() {
        let reply = run(&registry(), &["b/show"]);
        assert_eq!(reply.exit_code, 2);
        assert_eq!(
            reply.stderr,
            "\"b/show\" command takes other arguments: N  shows N\n"
        );
    }

    #[test]
    fn unknown_commands_and_bare_streams_are_not_valid() {
        for name in ["nope", "capture"] {
            let reply = run(&registry(), &[name]);
            assert_eq!(reply.exit_code, 2, "{name}");
            assert!(reply.stderr.contains("is not a valid command"), "{name}");
        }
        let reply = run(&registry(), &["--format", "yaml", "b/show", "x"]);
        assert!(reply.stderr.contains("unknown output format \"yaml\""));
    }

    #[test]
    fn list_commands_is_sorted_and_leaves_bare_streams_out() {
        let reply = run(&registry(), &["list-commands"]);
        assert_eq!(
            reply.stdout,
            "The available commands are:\n  a/live              streams\n  b/show              N  shows N\n  list-commands       this list\n"
        );
    }

    #[test]
    fn streams_are_found_by_their_first_argument() {
        let r = registry();
        assert!(
            r.stream_handler(&["capture".into(), "mgmt0".into()])
                .is_some()
        );
        assert!(r.stream_handler(&["a/live".into()]).is_some());
        assert!(r.stream_handler(&["b/show".into()]).is_none());
        assert!(r.stream_handler(&[]).is_none());
        let reply = run(&r, &["a/live"]);
        assert!(
            reply.stderr.contains("streams its output"),
            "{}",
            reply.stderr
        );
    }
}
