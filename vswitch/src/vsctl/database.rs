//! The generic database commands: `get`, `set`, `add`, `remove`, `clear`.

use super::argv::Command;
use super::commands::{CmdResult, Ctx};
use super::datum::{
    Atom, ColType, Datum, UNLIMITED, atom_from_string, atom_to_string, datum_from_string,
    datum_to_string,
};
use super::schema::{ColumnArg, get_column, get_table, parse_column_key_value};

impl Ctx<'_> {
    pub(super) fn get(&mut self, cmd: &Command) -> CmdResult {
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
            let ColumnArg { col, key, .. } = parse_column_key_value(arg, table, &[])?;
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

    pub(super) fn set(&mut self, cmd: &Command) -> CmdResult {
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
    pub(super) fn add_or_remove(&mut self, cmd: &Command, add: bool) -> CmdResult {
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

    pub(super) fn clear(&mut self, cmd: &Command) -> CmdResult {
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
}
