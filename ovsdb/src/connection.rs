//! A blocking connection to an OVSDB server, over a Unix socket or TCP, that answers the
//! server's `echo` probes itself (ovsdb-server drops a client that stops answering them).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Error, Framer, Message};

/// How long a connect or a write may take before the server counts as gone.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the server listens, in OVS's syntax: `unix:PATH` or `tcp:IP:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl FromStr for Target {
    type Err = Error;

    fn from_str(s: &str) -> Result<Target, Error> {
        let bad = |why: &str| Error::Target {
            target: s.to_owned(),
            why: why.to_owned(),
        };
        match s.split_once(':') {
            Some(("unix", path)) if !path.is_empty() => Ok(Target::Unix(PathBuf::from(path))),
            Some(("unix", _)) => Err(bad("the socket path is empty")),
            Some(("tcp", addr)) => addr
                .parse()
                .map(Target::Tcp)
                .map_err(|_| bad("tcp: needs IP:PORT, with an IPv6 address in brackets")),
            Some((method, _)) => Err(bad(&format!("grebe cannot connect by {method}:"))),
            None => Err(bad("the connection method is missing")),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Unix(p) => write!(f, "unix:{}", p.display()),
            Target::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

/// One or more remotes, comma-separated as OVS takes them (`unix:A,tcp:IP:PORT`): the members
/// of a clustered database, tried in turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remotes(pub Vec<Target>);

impl FromStr for Remotes {
    type Err = Error;

    fn from_str(s: &str) -> Result<Remotes, Error> {
        s.split(',')
            .map(|t| t.trim().parse())
            .collect::<Result<Vec<_>, _>>()
            .map(Remotes)
    }
}

impl fmt::Display for Remotes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{t}")?;
        }
        Ok(())
    }
}

enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn set_read_timeout(&self, t: Duration) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_read_timeout(Some(t)),
            Stream::Tcp(s) => s.set_read_timeout(Some(t)),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.write_all(buf),
            Stream::Tcp(s) => s.write_all(buf),
        }
    }
}

pub struct Connection {
    stream: Stream,
    framer: Framer,
    next_id: u64,
    buf: Vec<u8>,
}

impl Connection {
    pub fn connect(target: &Target) -> Result<Connection, Error> {
        let stream = match target {
            Target::Unix(path) => {
                let s = UnixStream::connect(path)?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                Stream::Unix(s)
            }
            Target::Tcp(addr) => {
                let s = TcpStream::connect_timeout(addr, IO_TIMEOUT)?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                s.set_nodelay(true)?;
                Stream::Tcp(s)
            }
        };
        Ok(Connection {
            stream,
            framer: Framer::new(),
            next_id: 0,
            buf: vec![0; 64 * 1024],
        })
    }

    pub fn send(&mut self, m: &Message) -> Result<(), Error> {
        let bytes = serde_json::to_vec(&m.to_value())?;
        self.stream.write_all(&bytes)?;
        Ok(())
    }

    /// Sends a request and returns its id, for matching the reply [`Connection::receive`] gives.
    pub fn request(&mut self, method: &str, params: Value) -> Result<Value, Error> {
        self.next_id += 1;
        let id = json!(self.next_id);
        self.send(&Message::Request {
            id: id.clone(),
            method: method.to_owned(),
            params,
        })?;
        Ok(id)
    }

    /// The next message other than an echo request (answered here), or None once `timeout`
    /// has passed with nothing else.
    pub fn receive(&mut self, timeout: Duration) -> Result<Option<Message>, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(v) = self.framer.next_value() {
                match Message::from_value(v?)? {
                    Message::Request { id, method, params } if method == "echo" => {
                        self.send(&Message::Reply { id, result: params })?;
                    }
                    m => return Ok(Some(m)),
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(left)?;
            match self.stream.read(&mut self.buf) {
                Ok(0) => return Err(Error::Closed),
                Ok(n) => self.framer.push(&self.buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Sends a request and waits for its reply, answering echoes and handing every other
    /// message that arrives meanwhile to `other` (an `update` racing the reply, say).
    pub fn call(
        &mut self,
        method: &str,
        params: Value,
        timeout: Duration,
        mut other: impl FnMut(Message),
    ) -> Result<Value, Error> {
        let id = self.request(method, params)?;
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.receive(left)? {
                Some(Message::Reply { id: got, result }) if got == id => return Ok(result),
                Some(Message::Error { id: got, error }) if got == id => {
                    return Err(Error::Protocol(format!("{method} failed: {error}")));
                }
                Some(m) => other(m),
                None => {
                    return Err(Error::Protocol(format!(
                        "no reply to {method} within {timeout:?}"
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn targets_parse_as_ovs_writes_them() {
        assert_eq!(
            "unix:/run/openvswitch/db.sock".parse::<Target>().unwrap(),
            Target::Unix("/run/openvswitch/db.sock".into())
        );
        assert_eq!(
            "tcp:[::1]:6640".parse::<Target>().unwrap().to_string(),
            "tcp:[::1]:6640"
        );
        for bad in [
            "",
            "unix:",
            "tcp:127.0.0.1",
            "ssl:127.0.0.1:6640",
            "/run/db.sock",
        ] {
            let e = bad.parse::<Target>().unwrap_err().to_string();
            assert!(e.contains("unix:PATH or tcp:IP:PORT"), "{bad}: {e}");
        }
    }

    /// A server on a socket pair: echo is answered by the connection, the reply to a call comes
    /// back after an update sent before it, which goes to `other`.
    #[test]
    fn echoes_are_answered_and_replies_matched() {
        let dir = std::env::temp_dir().join(format!("ovsdb-conn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(br#"{"id":"echo","method":"echo","params":[]}"#)
                .unwrap();
            let mut f = Framer::new();
            let mut buf = [0u8; 4096];
            let mut got = Vec::new();
            while got.len() < 2 {
                let n = s.read(&mut buf).unwrap();
                f.push(&buf[..n]);
                while let Some(v) = f.next_value() {
                    got.push(v.unwrap());
                }
            }
            s.write_all(br#"{"id":null,"method":"update","params":[null,{}]}"#)
                .unwrap();
            s.write_all(br#"{"id":1,"result":["ok"],"error":null}"#)
                .unwrap();
            got
        });
        let mut c = Connection::connect(&Target::Unix(path)).unwrap();
        let mut others = Vec::new();
        let result = c
            .call("list_dbs", json!([]), Duration::from_secs(5), |m| {
                others.push(m)
            })
            .unwrap();
        assert_eq!(result, json!(["ok"]));
        assert!(
            matches!(&others[..], [Message::Notification { method, .. }] if method == "update")
        );
        let got = server.join().unwrap();
        // The request goes out before the echo is read, so the answer to the echo comes second.
        assert_eq!(got[0]["method"], "list_dbs");
        assert_eq!(got[1], json!({"id": "echo", "result": [], "error": null}));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
