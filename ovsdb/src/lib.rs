//! A small OVSDB client (RFC 7047), what grebe needs to take ovs-vswitchd's place beside a real
//! `ovsdb-server`: the JSON-RPC stream cut into messages ([`Framer`]), the messages
//! ([`Message`]), OVSDB's datum encoding ([`datum`]), a replica of monitored tables kept up to
//! date by `update` notifications ([`Replica`]), and a blocking [`Connection`] that answers the
//! server's echo probes itself.
//!
//! No Rust OVSDB client crate was kept up (see the README's dependency table), so this is its
//! own small crate: sans-IO except [`Connection`], which only moves bytes.

mod connection;
pub mod datum;
mod framing;
mod message;
mod replica;

pub use connection::{Connection, Remotes, Target};
pub use framing::{Framer, MAX_MESSAGE};
pub use message::Message;
pub use replica::{Replica, Row};

/// What can go wrong talking to an OVSDB server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("malformed JSON from the server: {0}")]
    Json(#[from] serde_json::Error),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("the server closed the connection")]
    Closed,
    #[error("bad OVSDB target {target:?}: {why} (use unix:PATH or tcp:IP:PORT)")]
    Target { target: String, why: String },
}
