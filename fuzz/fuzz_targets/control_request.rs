//! The daemon's control-socket request decoder fed any bytes through a real Unix socket: an
//! error or a request, never a panic; a request re-encoded as the client sends it decodes to
//! the same request.
#![no_main]

use std::io::Write;
use std::os::unix::net::UnixStream;

use daemon::control::{Request, read_request};
use libfuzzer_sys::fuzz_target;

fn decode(bytes: &[u8]) -> anyhow::Result<Request> {
    let (mut client, server) = UnixStream::pair().expect("socketpair");
    // The fuzzer's inputs are far below the socket buffer: the write never blocks.
    client.write_all(bytes).expect("write");
    client
        .shutdown(std::net::Shutdown::Write)
        .expect("shutdown");
    read_request(&server)
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(request) = decode(bytes) else {
        return;
    };
    // The request came from the first line alone.
    let first_line = bytes.split(|&b| b == b'\n').next().unwrap();
    assert!(serde_json::from_slice::<serde_json::Value>(first_line).is_ok());
    let mut line = serde_json::to_vec(&request).unwrap();
    line.push(b'\n');
    let again = decode(&line).expect("a re-encoded request decodes");
    assert_eq!(again.kind, request.kind);
    assert_eq!(again.args, request.args);
});
