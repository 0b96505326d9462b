//! Output: the record tables `list` and `find` produce, in ovs-vsctl's formats (`lib/table.c`),
//! `show`, and `--oneline`.

use std::fmt::Write as _;

use super::SHOW_ID;
use super::argv::{CellFormat, Format, Style};
use super::commands::Ctx;
use super::datum::{
    Atom, ColType, Datum, atom_to_string, datum_to_bare, datum_to_json, datum_to_string,
    json_quote, map_to_datum,
};
use super::schema::Col;
use crate::config::InterfaceType;

/// `struct table`: the records one `list` or `find` found, printed after every command has run.
#[derive(Debug, Default)]
pub(super) struct Records {
    pub(super) headings: Vec<&'static str>,
    /// One cell per heading: the column's type and value.
    pub(super) rows: Vec<Vec<(ColType, Datum)>>,
}

/// Tables printed so far in this invocation: OVS puts a blank line before every table but the
/// first (`first_table` in lib/table.c).
#[derive(Debug, Default)]
pub(super) struct TableCounter {
    printed: bool,
}

impl TableCounter {
    fn separate(&mut self, out: &mut String) {
        if self.printed {
            out.push('\n');
        }
        self.printed = true;
    }
}

/// `cell_to_text()`.
fn cell_text(style: &Style, (ty, d): &(ColType, Datum)) -> String {
    match style.data {
        CellFormat::String => datum_to_string(ty, d),
        CellFormat::Bare => datum_to_bare(d),
        CellFormat::Json => datum_to_json(ty, d),
    }
}

/// `table_finish_line()`: no trailing blanks.
fn finish_line(out: &mut String) {
    let trimmed = out.trim_end_matches(' ').len();
    out.truncate(trimmed);
    out.push('\n');
}

impl Records {
    /// `table_format()`.
    pub(super) fn format(&self, style: &Style, counter: &mut TableCounter, out: &mut String) {
        match style.format {
            Format::List => {
                counter.separate(out);
                for (y, row) in self.rows.iter().enumerate() {
                    if y > 0 {
                        out.push('\n');
                    }
                    for (heading, cell) in self.headings.iter().zip(row) {
                        if style.headings {
                            let _ = write!(out, "{heading:<20}: ");
                        }
                        out.push_str(&cell_text(style, cell));
                        out.push('\n');
                    }
                }
            }
            Format::Table => {
                counter.separate(out);
                let texts: Vec<Vec<String>> = self
                    .rows
                    .iter()
                    .map(|row| row.iter().map(|c| cell_text(style, c)).collect())
                    .collect();
                // Widths in bytes, as C's strlen().
                let widths: Vec<usize> = (0..self.headings.len())
                    .map(|x| {
                        let w = texts.iter().map(|r| r[x].len()).max().unwrap_or(0);
                        if style.headings {
                            w.max(self.headings[x].len())
                        } else {
                            w
                        }
                    })
                    .collect();
                let pad = |out: &mut String, x: usize, text: &str| {
                    if x > 0 {
                        out.push(' ');
                    }
                    out.push_str(text);
                    out.extend(std::iter::repeat_n(' ', widths[x] - text.len()));
                };
                if style.headings {
                    for (x, h) in self.headings.iter().enumerate() {
                        pad(out, x, h);
                    }
                    finish_line(out);
                    for (x, w) in widths.iter().enumerate() {
                        pad(out, x, &"-".repeat(*w));
                    }
                    finish_line(out);
                }
                for row in &texts {
                    for (x, text) in row.iter().enumerate() {
                        pad(out, x, text);
                    }
                    finish_line(out);
                }
            }
            Format::Csv => {
                counter.separate(out);
                let cell = |out: &mut String, text: &str| {
                    if text.contains(['\n', '"', ',']) {
                        out.push('"');
                        out.push_str(&text.replace('"', "\"\""));
                        out.push('"');
                    } else {
                        out.push_str(text);
                    }
                };
                if style.headings {
                    for (x, h) in self.headings.iter().enumerate() {
                        if x > 0 {
                            out.push(',');
                        }
                        cell(out, h);
                    }
                    out.push('\n');
                }
                for row in &self.rows {
                    for (x, c) in row.iter().enumerate() {
                        if x > 0 {
                            out.push(',');
                        }
                        cell(out, &cell_text(style, c));
                    }
                    out.push('\n');
                }
            }
            Format::Html => {
                let escaped = |text: &str| {
                    let mut s = String::new();
                    for c in text.chars() {
                        match c {
                            '&' => s.push_str("&amp;"),
                            '<' => s.push_str("&lt;"),
                            '>' => s.push_str("&gt;"),
                            '"' => s.push_str("&quot;"),
                            c => s.push(c),
                        }
                    }
                    s
                };
                out.push_str("<table border=1>\n");
                if style.headings {
                    out.push_str("  <tr>\n");
                    for h in &self.headings {
                        let _ = writeln!(out, "    <th>{}</th>", escaped(h));
                    }
                    out.push_str("  </tr>\n");
                }
                for row in &self.rows {
                    out.push_str("  <tr>\n");
                    for c in row {
                        let _ = writeln!(out, "    <td>{}</td>", escaped(&cell_text(style, c)));
                    }
                    out.push_str("  </tr>\n");
                }
                out.push_str("</table>\n");
            }
            Format::Json => {
                // The cells are the values' JSON whatever --data says; keys sorted.
                out.push_str("{\"data\":[");
                for (y, row) in self.rows.iter().enumerate() {
                    if y > 0 {
                        out.push(',');
                    }
                    out.push('[');
                    for (x, (ty, d)) in row.iter().enumerate() {
                        if x > 0 {
                            out.push(',');
                        }
                        out.push_str(&datum_to_json(ty, d));
                    }
                    out.push(']');
                }
                out.push_str("],\"headings\":[");
                for (x, h) in self.headings.iter().enumerate() {
                    if x > 0 {
                        out.push(',');
                    }
                    out.push_str(&json_quote(h));
                }
                out.push_str("]}\n");
            }
        }
    }
}

impl Ctx<'_> {
    pub(super) fn show(&mut self) {
        let mut s = String::new();
        s.push_str(SHOW_ID);
        s.push('\n');
        let name = |n: &str| atom_to_string(&Atom::Str(n.to_string()));
        for (br_name, bridge) in &self.cfg.bridges {
            let _ = writeln!(s, "    Bridge {}", name(br_name));
            let mut targets = bridge.controller.clone();
            targets.sort();
            for t in targets {
                let _ = writeln!(s, "        Controller {}", name(&t));
                if self.live.controller_connected(br_name, &t) {
                    s.push_str("            is_connected: true\n");
                }
            }
            if let Some(mode) = bridge.fail_mode {
                let _ = writeln!(s, "        fail_mode: {}", mode.as_ovs_str());
            }
            if !bridge.datapath_type.is_empty() {
                let _ = writeln!(s, "        datapath_type: {}", bridge.datapath_type);
            }
            for (port, iface) in &bridge.ports {
                let _ = writeln!(s, "        Port {}", name(port));
                if let Some(tag) = iface.tag {
                    let _ = writeln!(s, "            tag: {tag}");
                }
                if !iface.trunks.is_empty() {
                    let trunks: Datum = iface
                        .trunks
                        .iter()
                        .map(|&v| (Atom::Int(i64::from(v)), None))
                        .collect();
                    let _ = writeln!(
                        s,
                        "            trunks: {}",
                        datum_to_string(&Col::Trunks.ty(), &trunks)
                    );
                }
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
        for what in self.live.ignored() {
            let _ = writeln!(s, "    ignored: {}", name(&what));
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
