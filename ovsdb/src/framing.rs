//! Cutting a JSON-RPC byte stream into messages. OVSDB sends JSON values back to back with no
//! delimiter (RFC 7047 §4), so a value ends where its outermost brace or bracket closes; strings
//! are skipped with their escapes, so a brace inside one does not count.

use serde_json::Value;

use crate::Error;

/// The largest message accepted: an initial monitor reply of a switch with ten thousand ports
/// is a few megabytes, so this leaves room and still bounds a peer that never closes a brace.
pub const MAX_MESSAGE: usize = 64 << 20;

/// Bytes in, JSON values out.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    /// How far `buf` has been scanned, and the scanner's state there.
    scanned: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Framer {
    pub fn new() -> Framer {
        Framer::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete value, if the bytes hold one. An error (garbage between values, bad
    /// JSON, a value over [`MAX_MESSAGE`]) leaves the stream unusable: the caller reconnects.
    pub fn next_value(&mut self) -> Option<Result<Value, Error>> {
        while self.scanned < self.buf.len() {
            let b = self.buf[self.scanned];
            self.scanned += 1;
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' if self.depth > 0 => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' if self.depth > 0 => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        let end = self.scanned;
                        let parsed = serde_json::from_slice(&self.buf[..end]).map_err(Error::from);
                        self.buf.drain(..end);
                        self.scanned = 0;
                        return Some(parsed);
                    }
                }
                b' ' | b'\t' | b'\r' | b'\n' if self.depth == 0 => {
                    // Whitespace between values: dropped so the next value starts the buffer.
                    self.buf.drain(..self.scanned);
                    self.scanned = 0;
                }
                _ if self.depth == 0 => {
                    return Some(Err(Error::Protocol(format!(
                        "expected a JSON object or array, found byte {b:#04x}"
                    ))));
                }
                _ => {}
            }
        }
        if self.buf.len() > MAX_MESSAGE {
            return Some(Err(Error::Protocol(format!(
                "a message longer than {MAX_MESSAGE} bytes"
            ))));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn drain(f: &mut Framer) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(v) = f.next_value() {
            out.push(v.unwrap());
        }
        out
    }

    #[test]
    fn braces_inside_strings_and_escapes_do_not_end_a_value() {
        let mut f = Framer::new();
        f.push(br#"{"a":"}\"{"} ["x]",{"b":[]}]"#);
        assert_eq!(
            drain(&mut f),
            vec![json!({"a": "}\"{"}), json!(["x]", {"b": []}])]
        );
    }

    #[test]
    fn garbage_between_values_is_an_error() {
        let mut f = Framer::new();
        f.push(b"{} 7");
        assert_eq!(f.next_value().unwrap().unwrap(), json!({}));
        assert!(matches!(f.next_value(), Some(Err(Error::Protocol(_)))));
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[ -~\\\\\"{}\\[\\]é]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-z{}\"]{0,3}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
        .prop_map(|v| json!({ "v": v }))
    }

    proptest! {
        /// However the stream is cut into reads, the same messages come out.
        #[test]
        fn any_split_gives_the_same_messages(
            values in prop::collection::vec(value(), 1..5),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let mut bytes = Vec::new();
            for v in &values {
                bytes.extend(serde_json::to_vec(v).unwrap());
                bytes.push(b'\n');
            }
            let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len())).collect();
            at.push(bytes.len());
            at.sort_unstable();
            let mut f = Framer::new();
            let mut out = Vec::new();
            let mut from = 0;
            for to in at {
                f.push(&bytes[from..to]);
                from = to;
                out.extend(drain(&mut f));
            }
            prop_assert_eq!(out, values);
        }
    }
}
