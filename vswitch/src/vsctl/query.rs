//! The commands that print records as a table: `list` and `find` (`cmd_list()`, `cmd_find()` and
//! `check_condition()` in OVS's lib/db-ctl-base.c).

use std::cmp::Ordering;

use super::argv::Command;
use super::commands::{CmdResult, Ctx, Fail};
use super::datum::{
    Atom, ColType, Datum, UNLIMITED, atom_from_string, datum_cmp, datum_excludes_all,
    datum_from_string, datum_includes_all,
};
use super::output::Records;
use super::records::Row;
use super::schema::{Col, ColumnArg, Table, get_column, get_table, parse_column_key_value};

/// `find`'s relational operators, in OVS's order (its messages list them so).
const OPERATORS: &[&str] = &[
    "=", "!=", "<", ">", "<=", ">=", "{=}", "{!=}", "{<}", "{>}", "{<=}", "{>=}", "{in}",
    "{not-in}",
];

impl Ctx<'_> {
    /// `parse_column_names()`: `--columns`, or every column.
    fn list_columns(&self, cmd: &Command, table: Table) -> Result<Vec<Col>, Fail> {
        let Some(Some(names)) = cmd.options.get("--columns") else {
            return Ok(table.columns().to_vec());
        };
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
        Ok(cols)
    }

    /// Every record of `table`, in name order.
    fn all_rows(&self, table: Table) -> Vec<Row> {
        match table {
            Table::Interface | Table::Port => {
                let mut all: Vec<(String, String)> = self
                    .cfg
                    .bridges
                    .iter()
                    .flat_map(|(br, b)| b.ports.keys().map(|p| (p.clone(), br.clone())))
                    .collect();
                all.sort();
                all.into_iter()
                    .map(|(port, bridge)| Row::Iface { bridge, port })
                    .collect()
            }
            Table::Bridge => self.cfg.bridges.keys().cloned().map(Row::Bridge).collect(),
            Table::OpenVswitch => vec![Row::Root],
        }
    }

    fn records(&self, columns: &[Col], rows: &[Row]) -> Records {
        Records {
            headings: columns.iter().map(|c| c.name()).collect(),
            rows: rows
                .iter()
                .map(|row| {
                    columns
                        .iter()
                        .map(|&c| (c.ty(), self.read(row, c)))
                        .collect()
                })
                .collect(),
        }
    }

    pub(super) fn list(&mut self, cmd: &Command) -> CmdResult {
        let must_exist = !cmd.has("--if-exists");
        let table = get_table(&cmd.args[0])?;
        let columns = self.list_columns(cmd, table)?;
        let rows: Vec<Row> = if cmd.args.len() > 1 {
            let mut rows = Vec::new();
            for id in &cmd.args[1..] {
                if let Some(row) = self.get_row(table, id, must_exist)? {
                    rows.push(row);
                }
            }
            rows
        } else {
            self.all_rows(table)
        };
        self.table = Some(self.records(&columns, &rows));
        Ok(())
    }

    pub(super) fn find(&mut self, cmd: &Command) -> CmdResult {
        let table = get_table(&cmd.args[0])?;
        let columns = self.list_columns(cmd, table)?;
        let mut found = Vec::new();
        for row in self.all_rows(table) {
            let mut satisfied = true;
            for cond in &cmd.args[1..] {
                if !self.check_condition(table, &row, cond)? {
                    satisfied = false;
                    break;
                }
            }
            if satisfied {
                found.push(row);
            }
        }
        self.table = Some(self.records(&columns, &found));
        Ok(())
    }

    /// `check_condition()`: `COLUMN[:KEY]OP VALUE` against one record.
    fn check_condition(&self, table: Table, row: &Row, arg: &str) -> Result<bool, Fail> {
        let ColumnArg {
            col,
            key,
            value,
            op,
            ..
        } = parse_column_key_value(arg, table, OPERATORS)?;
        let Some(value) = value else {
            return Err(format!("{arg}: missing value").into());
        };
        let ty = col.ty();
        let have = self.read(row, col);
        let Some(key) = key else {
            let want = datum_from_string(&ty, &value)?;
            return Ok(evaluate(&have, &want, op));
        };
        let Some(value_type) = ty.value else {
            return Err(format!(
                "cannot specify key to check for non-map column {}",
                col.name()
            )
            .into());
        };
        let want_key = atom_from_string(ty.key, &key)?;
        let set_type = ColType {
            key: value_type,
            value: None,
            n_min: ty.n_min,
            n_max: UNLIMITED,
        };
        let want = datum_from_string(&set_type, &value)?;
        let found: Option<&Atom> = have
            .iter()
            .find(|(k, _)| *k == want_key)
            .and_then(|(_, v)| v.as_ref());
        if found.is_none() && !OPERATORS[op].starts_with('{') {
            return Ok(false);
        }
        let have: Datum = found.map(|v| (v.clone(), None)).into_iter().collect();
        Ok(evaluate(&have, &want, op))
    }
}

/// `evaluate_relop()`, with `op` an index into [`OPERATORS`].
fn evaluate(a: &Datum, b: &Datum, op: usize) -> bool {
    let cmp = datum_cmp(a, b);
    match OPERATORS[op] {
        "=" | "{=}" => cmp == Ordering::Equal,
        "!=" | "{!=}" => cmp != Ordering::Equal,
        "<" => cmp == Ordering::Less,
        ">" => cmp == Ordering::Greater,
        "<=" => cmp != Ordering::Greater,
        ">=" => cmp != Ordering::Less,
        "{<}" => b.len() > a.len() && datum_includes_all(a, b),
        "{>}" => a.len() > b.len() && datum_includes_all(b, a),
        "{<=}" | "{in}" => datum_includes_all(a, b),
        "{>=}" => datum_includes_all(b, a),
        _ => datum_excludes_all(a, b), // {not-in}
    }
}
