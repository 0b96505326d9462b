//! OVSDB values: atoms, data and their string syntax (`ovsdb_datum_from_string()` and
//! `ovsdb_datum_to_string()` in OVS's lib/ovsdb-data.c).

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// `n_max` of a column without an upper bound.
pub(super) const UNLIMITED: usize = usize::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AtomType {
    Str,
    /// An integer in `min..=max` (`i64::MIN`/`i64::MAX` when unbounded).
    Int {
        min: i64,
        max: i64,
    },
    /// A string from a fixed set (the schema's `enum`), sorted.
    Enum(&'static [&'static str]),
    Bool,
}

impl AtomType {
    pub(super) fn english(self) -> &'static str {
        match self {
            AtomType::Str | AtomType::Enum(_) => "string",
            AtomType::Int { .. } => "integer",
            AtomType::Bool => "boolean",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ColType {
    pub(super) key: AtomType,
    pub(super) value: Option<AtomType>,
    pub(super) n_min: usize,
    pub(super) n_max: usize,
}

impl ColType {
    pub(super) const fn scalar(key: AtomType) -> ColType {
        ColType {
            key,
            value: None,
            n_min: 1,
            n_max: 1,
        }
    }
    pub(super) const fn optional(key: AtomType) -> ColType {
        ColType {
            key,
            value: None,
            n_min: 0,
            n_max: 1,
        }
    }
    pub(super) const fn set(key: AtomType) -> ColType {
        ColType {
            key,
            value: None,
            n_min: 0,
            n_max: UNLIMITED,
        }
    }
    pub(super) const fn map(key: AtomType, value: AtomType) -> ColType {
        ColType {
            key,
            value: Some(value),
            n_min: 0,
            n_max: UNLIMITED,
        }
    }
    pub(super) fn is_map(&self) -> bool {
        self.value.is_some()
    }

    /// `ovsdb_type_to_english()`.
    pub(super) fn english(&self) -> String {
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
pub(super) enum Atom {
    Int(i64),
    Bool(bool),
    Str(String),
}

/// A column's value: sorted by key, keys unique; values only for maps.
pub(super) type Datum = Vec<(Atom, Option<Atom>)>;

pub(super) fn is_delim(c: char) -> bool {
    ":=, []{}!<>".contains(c)
}

/// `ovsdb_token_parse()`: one token of `s`, up to an unquoted delimiter.
/// Quotes are kept (for [`atom_from_string`]); a backslash outside quotes
/// escapes the next character.
pub(super) fn token_parse(s: &str) -> Result<(String, &str), String> {
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
pub(super) fn json_unescape(s: &str) -> Result<String, String> {
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

/// A decimal integer with an optional sign, as `str_to_llong()` reads it (no overflow).
fn int_from_str(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        s.strip_prefix('+').unwrap_or(s).parse::<i64>().ok()
    } else {
        None
    }
}

/// `str_to_llong_range()`: `N-M`, split at the first `-` after the start's own sign.
fn int_range_from_str(s: &str) -> Option<(i64, i64)> {
    let sign = usize::from(s.starts_with(['+', '-']));
    let split = sign + s[sign..].find('-')?;
    Some((int_from_str(&s[..split])?, int_from_str(&s[split + 1..])?))
}

/// The most values one range may stand for (OVS's `MAX_OVSDB_ATOM_RANGE_SIZE`).
const MAX_RANGE_SIZE: i64 = 4096;

/// A set element as `ovsdb_atom_from_string()` reads it with a range end: an integer range
/// `N-M` stands for every integer from N to M, each end checked against the column's
/// constraints; anything else is one atom.
fn set_atoms_from_string(t: AtomType, s: &str) -> Result<Vec<Atom>, String> {
    let AtomType::Int { .. } = t else {
        return Ok(vec![atom_from_string(t, s)?]);
    };
    let Some((start, end)) = int_range_from_str(s) else {
        return Ok(vec![atom_from_string(t, s)?]);
    };
    if end < start {
        return Err(format!(
            "\"{s}\" is not a valid range. Range end cannot be before start."
        ));
    }
    atom_from_string(t, &start.to_string())?;
    atom_from_string(t, &end.to_string())?;
    if end - start >= MAX_RANGE_SIZE {
        return Err(format!(
            "constraint violation: Range \"{s}\" is too big. Maximum allowed size is {MAX_RANGE_SIZE}."
        ));
    }
    Ok((start..=end).map(Atom::Int).collect())
}

/// `ovsdb_atom_from_string()`.
pub(super) fn atom_from_string(t: AtomType, s: &str) -> Result<Atom, String> {
    match t {
        AtomType::Int { min, max } => {
            let Some(n) = int_from_str(s) else {
                return Err(format!("\"{s}\" is not a valid integer or range"));
            };
            // ovsdb_atom_check_constraints()
            if (min..=max).contains(&n) {
                Ok(Atom::Int(n))
            } else if min != i64::MIN && max != i64::MAX {
                Err(format!(
                    "constraint violation: {n} is not in the valid range {min} to {max} (inclusive)"
                ))
            } else if min != i64::MIN {
                Err(format!(
                    "constraint violation: {n} is less than minimum allowed value {min}"
                ))
            } else {
                Err(format!(
                    "constraint violation: {n} is greater than maximum allowed value {max}"
                ))
            }
        }
        AtomType::Bool => match s {
            "true" | "yes" | "on" | "1" => Ok(Atom::Bool(true)),
            "false" | "no" | "off" | "0" => Ok(Atom::Bool(false)),
            _ => Err(format!(
                "\"{s}\" is not a valid boolean (use \"true\" or \"false\")"
            )),
        },
        AtomType::Enum(allowed) => match atom_from_string(AtomType::Str, s)? {
            Atom::Str(v) if allowed.contains(&v.as_str()) => Ok(Atom::Str(v)),
            other => {
                let valid: Datum = allowed
                    .iter()
                    .map(|a| (Atom::Str(a.to_string()), None))
                    .collect();
                Err(format!(
                    "constraint violation: {} is not one of the allowed values ({})",
                    atom_to_string(&other),
                    datum_to_string(&ColType::set(AtomType::Str), &valid)
                ))
            }
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
pub(super) fn datum_from_string(t: &ColType, s: &str) -> Result<Datum, String> {
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
        p = rest;
        match t.value {
            // A set: its integer elements may be given as ranges.
            None => {
                let keys = set_atoms_from_string(t.key, &token)?;
                datum.extend(keys.into_iter().map(|k| (k, None)));
            }
            Some(vt) => {
                let key = atom_from_string(t.key, &token)?;
                p = p.trim_start_matches(|c: char| c.is_ascii_whitespace());
                match p.strip_prefix('=') {
                    Some(rest) => {
                        p = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
                        let (token, rest) = token_parse(p)?;
                        p = rest;
                        datum.push((key, Some(atom_from_string(vt, &token)?)));
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
        }
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

pub(super) fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `string_needs_quotes()`.
pub(super) fn string_needs_quotes(s: &str) -> bool {
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
pub(super) fn json_quote(s: &str) -> String {
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
pub(super) fn atom_to_string(a: &Atom) -> String {
    match a {
        Atom::Int(n) => n.to_string(),
        Atom::Bool(b) => b.to_string(),
        Atom::Str(s) if string_needs_quotes(s) => json_quote(s),
        Atom::Str(s) => s.clone(),
    }
}

/// `ovsdb_atom_to_bare()`.
pub(super) fn atom_to_bare(a: &Atom) -> String {
    match a {
        Atom::Str(s) => s.clone(),
        other => atom_to_string(other),
    }
}

/// `ovsdb_datum_to_string()`.
pub(super) fn datum_to_string(t: &ColType, d: &Datum) -> String {
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

/// `ovsdb_datum_to_json()` written as `json_to_string()` does: a map is
/// `["map",[[k,v],...]]`, a one-element set its atom, another set `["set",[...]]`.
pub(super) fn datum_to_json(t: &ColType, d: &Datum) -> String {
    let atom = |a: &Atom| match a {
        Atom::Str(s) => json_quote(s),
        other => atom_to_string(other),
    };
    let mut s = String::new();
    if t.is_map() {
        s.push_str("[\"map\",[");
        for (i, (k, v)) in d.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "[{},", atom(k));
            if let Some(v) = v {
                s.push_str(&atom(v));
            }
            s.push(']');
        }
        s.push_str("]]");
    } else if let [(k, _)] = d.as_slice() {
        s.push_str(&atom(k));
    } else {
        s.push_str("[\"set\",[");
        for (i, (k, _)) in d.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&atom(k));
        }
        s.push_str("]]");
    }
    s
}

/// `ovsdb_datum_compare_3way()`: by size first, then keys, then values.
pub(super) fn datum_cmp(a: &Datum, b: &Datum) -> std::cmp::Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.iter().map(|e| &e.0).cmp(b.iter().map(|e| &e.0)))
        .then_with(|| a.iter().map(|e| &e.1).cmp(b.iter().map(|e| &e.1)))
}

/// `ovsdb_datum_includes_all(a, b)`: every element of `a` (key and value) is in `b`.
pub(super) fn datum_includes_all(a: &Datum, b: &Datum) -> bool {
    a.iter().all(|e| b.contains(e))
}

/// `ovsdb_datum_excludes_all(a, b)`: no element of `a` is in `b`.
pub(super) fn datum_excludes_all(a: &Datum, b: &Datum) -> bool {
    a.iter().all(|e| !b.contains(e))
}

/// `ovsdb_datum_to_bare()`.
pub(super) fn datum_to_bare(d: &Datum) -> String {
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

pub(super) fn map_to_datum(m: &BTreeMap<String, String>) -> Datum {
    m.iter()
        .map(|(k, v)| (Atom::Str(k.clone()), Some(Atom::Str(v.clone()))))
        .collect()
}

pub(super) fn datum_to_map(d: &Datum) -> BTreeMap<String, String> {
    d.iter()
        .filter_map(|(k, v)| match (k, v) {
            (Atom::Str(k), Some(Atom::Str(v))) => Some((k.clone(), v.clone())),
            _ => None,
        })
        .collect()
}

pub(super) fn str_datum(s: &str) -> Datum {
    vec![(Atom::Str(s.to_string()), None)]
}

pub(super) fn opt_int_datum(n: Option<i64>) -> Datum {
    n.map(|n| vec![(Atom::Int(n), None)]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datum_syntax() {
        let map = ColType::map(AtomType::Str, AtomType::Str);
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
        let int = ColType::optional(AtomType::Int {
            min: 1,
            max: i64::MAX,
        });
        assert_eq!(int.english(), "set of up to 1 integers");
        assert_eq!(
            datum_to_string(&int, &datum_from_string(&int, "[1500]").unwrap()),
            "1500"
        );
        assert_eq!(ColType::scalar(AtomType::Str).english(), "string");
        assert_eq!(
            datum_from_string(&ColType::scalar(AtomType::Str), "[]").unwrap_err(),
            "[]: 0 value(s) specified but the minimum number is 1"
        );
        assert_eq!(
            datum_from_string(&ColType::set(AtomType::Str), "[a, a]").unwrap_err(),
            "[a, a]: set contains duplicate value"
        );
        assert_eq!(token_parse("a\\:b:c").unwrap(), ("a:b".to_string(), ":c"));
        assert!(
            string_needs_quotes("1abc") && string_needs_quotes("") && string_needs_quotes("false")
        );
        assert!(!string_needs_quotes("gre0") && !string_needs_quotes("a-b.c_d"));
    }
}
