//! OVSDB's JSON encoding of column values (RFC 7047 §5.1): an atom (string, integer, real,
//! boolean, `["uuid", U]`), a set (`["set", [atoms]]`, or a lone atom for a set of one), or a
//! map (`["map", [[key, value], ...]]`). Readers here are lenient about shape, as OVS's IDL is:
//! a value of the wrong type reads as empty rather than failing the whole row.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// The atoms of a set (one atom for a lone atom, none for anything else).
pub fn atoms(v: &Value) -> Vec<&Value> {
    match v.as_array().map(Vec::as_slice) {
        Some([tag, Value::Array(items)]) if tag == "set" => items.iter().collect(),
        Some([tag, _]) if tag == "uuid" || tag == "named-uuid" => vec![v],
        Some(_) => Vec::new(),
        None => vec![v],
    }
}

/// The string of a string column or of an optional one; None for an empty set.
pub fn string(v: &Value) -> Option<&str> {
    atoms(v).first().and_then(|a| a.as_str())
}

pub fn strings(v: &Value) -> Vec<String> {
    atoms(v)
        .into_iter()
        .filter_map(|a| a.as_str().map(String::from))
        .collect()
}

pub fn integer(v: &Value) -> Option<i64> {
    atoms(v).first().and_then(|a| a.as_i64())
}

pub fn integers(v: &Value) -> Vec<i64> {
    atoms(v).into_iter().filter_map(Value::as_i64).collect()
}

pub fn boolean(v: &Value) -> Option<bool> {
    atoms(v).first().and_then(|a| a.as_bool())
}

/// The UUIDs of a reference column (`["uuid", U]` atoms).
pub fn uuids(v: &Value) -> Vec<&str> {
    atoms(v)
        .into_iter()
        .filter_map(|a| match a.as_array().map(Vec::as_slice) {
            Some([tag, Value::String(u)]) if tag == "uuid" => Some(u.as_str()),
            _ => None,
        })
        .collect()
}

/// A string-to-string map; pairs of other types are left out.
pub fn string_map(v: &Value) -> BTreeMap<String, String> {
    let pairs = match v.as_array().map(Vec::as_slice) {
        Some([tag, Value::Array(pairs)]) if tag == "map" => pairs.as_slice(),
        _ => &[],
    };
    pairs
        .iter()
        .filter_map(|p| match p.as_array().map(Vec::as_slice) {
            Some([Value::String(k), Value::String(v)]) => Some((k.clone(), v.clone())),
            _ => None,
        })
        .collect()
}

/// A map value for a transaction.
pub fn map<K: Into<Value> + Clone, V: Into<Value> + Clone>(m: &BTreeMap<K, V>) -> Value {
    let pairs: Vec<Value> = m
        .iter()
        .map(|(k, v)| json!([k.clone().into(), v.clone().into()]))
        .collect();
    json!(["map", pairs])
}

/// An optional value (a set of zero or one) for a transaction.
pub fn optional(v: Option<impl Into<Value>>) -> Value {
    match v {
        Some(v) => v.into(),
        None => json!(["set", []]),
    }
}

/// A set value for a transaction.
pub fn set<T: Into<Value>>(items: impl IntoIterator<Item = T>) -> Value {
    let items: Vec<Value> = items.into_iter().map(Into::into).collect();
    json!(["set", items])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lone_atoms_and_sets_read_alike() {
        assert_eq!(integer(&json!(5)), Some(5));
        assert_eq!(integer(&json!(["set", [5]])), Some(5));
        assert_eq!(integer(&json!(["set", []])), None);
        assert_eq!(string(&json!("gre")), Some("gre"));
        assert_eq!(uuids(&json!(["uuid", "u1"])), vec!["u1"]);
        assert_eq!(
            uuids(&json!(["set", [["uuid", "u1"], ["uuid", "u2"]]])),
            vec!["u1", "u2"]
        );
        assert_eq!(integers(&json!(["set", [10, 20]])), vec![10, 20]);
        assert_eq!(boolean(&json!(true)), Some(true));
    }

    #[test]
    fn a_value_of_the_wrong_shape_reads_as_empty() {
        assert!(string_map(&json!(["set", []])).is_empty());
        assert!(string_map(&json!(["map", [[1, "x"], ["k"]]])).is_empty());
        assert!(uuids(&json!("u1")).is_empty());
        assert_eq!(integer(&json!("7")), None);
    }

    proptest! {
        #[test]
        fn string_maps_round_trip(m in prop::collection::btree_map(".{0,6}", ".{0,6}", 0..6)) {
            prop_assert_eq!(string_map(&map(&m)), m);
        }

        #[test]
        fn sets_and_optionals_round_trip(v in prop::collection::vec(any::<i64>(), 0..5), o in any::<Option<i64>>()) {
            prop_assert_eq!(integers(&set(v.clone())), v);
            prop_assert_eq!(integer(&optional(o)), o);
        }
    }
}
