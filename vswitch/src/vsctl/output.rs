//! Output: `list` in its formats, `show`.

use std::fmt::Write as _;

use super::SHOW_ID;
use super::argv::Command;
use super::commands::{CmdResult, Ctx};
use super::datum::{Atom, atom_to_string, datum_to_bare, datum_to_string, map_to_datum};
use super::records::Row;
use super::schema::{Col, Table, get_column, get_table};
use crate::config::InterfaceType;

impl Ctx<'_> {
    pub(super) fn list(&mut self, cmd: &Command) -> CmdResult {
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

    pub(super) fn show(&mut self) {
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

/// `--oneline`: one command's output on one line, newlines and backslashes escaped.
pub(super) fn push_oneline(stdout: &mut String, out: &str) {
    let body = out.strip_suffix('\n').unwrap_or(out);
    for c in body.chars() {
        match c {
            '\n' => stdout.push_str("\\n"),
            '\\' => stdout.push_str("\\\\"),
            c => stdout.push(c),
        }
    }
    stdout.push('\n');
}
