//! JSON-RPC 1.0 messages as OVSDB uses them (RFC 7047 §4): requests with an id, notifications
//! with a null id, and replies carrying either a result or an error.

use serde_json::{Value, json};

use crate::Error;

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
        params: Value,
    },
    Reply {
        id: Value,
        result: Value,
    },
    Error {
        id: Value,
        error: Value,
    },
}

impl Message {
    /// Reads a message; anything that is none of the four kinds is a protocol error.
    pub fn from_value(v: Value) -> Result<Message, Error> {
        let Value::Object(mut m) = v else {
            return Err(Error::Protocol(
                "a message that is not a JSON object".into(),
            ));
        };
        let id = m.remove("id").unwrap_or(Value::Null);
        if let Some(method) = m.remove("method") {
            let Value::String(method) = method else {
                return Err(Error::Protocol("a method that is not a string".into()));
            };
            let params = m.remove("params").unwrap_or_else(|| json!([]));
            return Ok(if id.is_null() {
                Message::Notification { method, params }
            } else {
                Message::Request { id, method, params }
            });
        }
        match (m.remove("result"), m.remove("error")) {
            (_, Some(error)) if !error.is_null() => Ok(Message::Error { id, error }),
            (Some(result), _) => Ok(Message::Reply { id, result }),
            _ => Err(Error::Protocol(
                "a message with neither method, result nor error".into(),
            )),
        }
    }

    pub fn to_value(&self) -> Value {
        match self {
            Message::Request { id, method, params } => {
                json!({"id": id, "method": method, "params": params})
            }
            Message::Notification { method, params } => {
                json!({"id": null, "method": method, "params": params})
            }
            Message::Reply { id, result } => json!({"id": id, "result": result, "error": null}),
            Message::Error { id, error } => json!({"id": id, "result": null, "error": error}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_round_trips() {
        for m in [
            Message::Request {
                id: json!(3),
                method: "echo".into(),
                params: json!([]),
            },
            Message::Notification {
                method: "update".into(),
                params: json!([null, {}]),
            },
            Message::Reply {
                id: json!("echo"),
                result: json!([]),
            },
            Message::Error {
                id: json!(4),
                error: json!("unknown method"),
            },
        ] {
            assert_eq!(Message::from_value(m.to_value()).unwrap(), m);
        }
    }

    #[test]
    fn a_reply_with_a_null_error_is_a_reply() {
        let m = Message::from_value(json!({"id": 1, "result": [{}], "error": null})).unwrap();
        assert!(matches!(m, Message::Reply { .. }));
        assert!(Message::from_value(json!({"id": 1})).is_err());
        assert!(Message::from_value(json!([1])).is_err());
    }
}
