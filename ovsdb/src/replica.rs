//! A client's copy of the monitored tables, kept by applying `update` notifications and the
//! monitor's initial reply (RFC 7047 §4.1.5–4.1.6: `<table-updates>`). With the original
//! `monitor` method each `new` holds every monitored column of the row, so a row is replaced
//! whole; a row update with no `new` deletes it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::Error;

/// A row: column name to datum.
pub type Row = Map<String, Value>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replica {
    tables: BTreeMap<String, BTreeMap<String, Row>>,
}

impl Replica {
    pub fn new() -> Replica {
        Replica::default()
    }

    /// Applies a `<table-updates>` object. It is checked whole before anything changes, so a
    /// malformed update leaves the replica as it was.
    pub fn apply(&mut self, updates: &Value) -> Result<(), Error> {
        let tables = updates
            .as_object()
            .ok_or_else(|| Error::Protocol("table-updates is not an object".into()))?;
        let mut changes = Vec::new();
        for (table, rows) in tables {
            let rows = rows.as_object().ok_or_else(|| {
                Error::Protocol(format!("the updates of table {table} are not an object"))
            })?;
            for (uuid, update) in rows {
                let new = match update.get("new") {
                    None => None,
                    Some(Value::Object(row)) => Some(row.clone()),
                    Some(_) => {
                        return Err(Error::Protocol(format!(
                            "row {uuid} of {table}: \"new\" is not an object"
                        )));
                    }
                };
                changes.push((table, uuid, new));
            }
        }
        for (table, uuid, new) in changes {
            let rows = self.tables.entry(table.clone()).or_default();
            match new {
                Some(row) => {
                    rows.insert(uuid.clone(), row);
                }
                None => {
                    rows.remove(uuid);
                }
            }
        }
        Ok(())
    }

    pub fn row(&self, table: &str, uuid: &str) -> Option<&Row> {
        self.tables.get(table)?.get(uuid)
    }

    /// The rows of a table, by UUID.
    pub fn rows(&self, table: &str) -> impl Iterator<Item = (&str, &Row)> {
        self.tables
            .get(table)
            .into_iter()
            .flat_map(|rows| rows.iter().map(|(u, r)| (u.as_str(), r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn insert_modify_delete() {
        let mut r = Replica::new();
        r.apply(&json!({"Bridge": {"u1": {"new": {"name": "br-int"}}}}))
            .unwrap();
        assert_eq!(r.row("Bridge", "u1").unwrap()["name"], "br-int");
        r.apply(&json!({"Bridge": {"u1": {"old": {"name": "br-int"}, "new": {"name": "br-ex"}}}}))
            .unwrap();
        assert_eq!(r.rows("Bridge").count(), 1);
        assert_eq!(r.row("Bridge", "u1").unwrap()["name"], "br-ex");
        r.apply(&json!({"Bridge": {"u1": {"old": {"name": "br-ex"}}}}))
            .unwrap();
        assert_eq!(r.rows("Bridge").count(), 0);
    }

    #[test]
    fn a_malformed_update_changes_nothing() {
        let mut r = Replica::new();
        r.apply(&json!({"Port": {"p1": {"new": {"name": "gre0"}}}}))
            .unwrap();
        let before = r.clone();
        let bad = json!({"Port": {"p2": {"new": {"name": "gre1"}}, "p3": {"new": 7}}});
        assert!(r.apply(&bad).is_err());
        assert!(r.apply(&json!([1])).is_err());
        assert_eq!(r, before);
    }
}
