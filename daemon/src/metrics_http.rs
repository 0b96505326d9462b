//! `grebe daemon --metrics-listen ADDR:PORT`: `GET /metrics` over HTTP/1.0 for a Prometheus
//! server to scrape. One blocking thread answers one request at a time: a scraper asks every
//! few seconds, so a server crate and its runtime would buy nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::appctl::metrics;
use crate::state::DaemonState;

/// A client that sends nothing, or reads nothing, is dropped after this.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest request line and headers read: a GET needs far less.
const MAX_REQUEST: usize = 8 * 1024;

/// Binds `addr` (and only it) now, so that a taken port fails the daemon's start.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
}

/// Answers scrapes on a thread of its own.
pub fn spawn(listener: TcpListener, state: Arc<Mutex<DaemonState>>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("grebe-metrics".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(conn) => {
                        if let Err(e) = answer(conn, &state) {
                            tracing::debug!(error = %e, "metrics client went away");
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "cannot accept a metrics client"),
                }
            }
        })?;
    Ok(())
}

fn answer(conn: TcpStream, state: &Mutex<DaemonState>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::new(&conn).take(MAX_REQUEST as u64);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // The headers are read and ignored: nothing in them changes the answer.
    let mut header = String::new();
    loop {
        header.clear();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    let mut words = request_line.split_whitespace();
    let (status, content_type, body) = match (words.next(), words.next()) {
        (Some("GET"), Some("/metrics")) => {
            let s = state.lock().unwrap_or_else(|e| e.into_inner());
            ("200 OK", metrics::CONTENT_TYPE, metrics::render(&s))
        }
        (Some("GET"), Some(_)) => (
            "404 Not Found",
            "text/plain",
            "grebe serves /metrics only\n".to_string(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "grebe answers GET /metrics only\n".to_string(),
        ),
    };
    let mut out = &conn;
    write!(
        out,
        "HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    out.write_all(body.as_bytes())?;
    out.flush()
}
