//! Any tunnel settings and any frame: what `emit_in_front` writes, `decap` reads back as the
//! same settings and the same frame, byte for byte.
#![no_main]

use std::net::Ipv4Addr;

use arbitrary::Arbitrary;
use encap::tunnel::MAX_OUTER_LEN;
use encap::{Error, OuterHeader, decap};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    src: [u8; 4],
    dst: [u8; 4],
    ttl: u8,
    tos: u8,
    dont_frag: bool,
    key: Option<u32>,
    csum: bool,
    seq: Option<u32>,
    /// Extra headroom beyond what the tunnel needs (too little is an error, not a panic).
    headroom: u8,
    frame: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let tunnel = OuterHeader {
        src: Ipv4Addr::from(input.src),
        dst: Ipv4Addr::from(input.dst),
        ttl: input.ttl,
        tos: input.tos,
        dont_frag: input.dont_frag,
        key: input.key,
        csum: input.csum,
        seq: input.seq.is_some(),
    };
    let headroom = usize::from(input.headroom) % (MAX_OUTER_LEN + 8);
    let mut buf = vec![0xa5u8; headroom + input.frame.len()];
    buf[headroom..].copy_from_slice(&input.frame);
    let end = buf.len();
    let start = match tunnel.emit_in_front(&mut buf, headroom..end, input.seq.unwrap_or(0)) {
        Ok(start) => start,
        Err(Error::NoHeadroom) => {
            assert!(headroom < tunnel.len());
            return;
        }
        Err(Error::TooBig) => {
            assert!(tunnel.len() + input.frame.len() > 65535);
            return;
        }
        Err(e) => panic!("emit_in_front: {e:?}"),
    };
    assert!(headroom >= tunnel.len());
    assert_eq!(start, headroom - tunnel.len());
    let packet = &buf[start..];
    assert_eq!(
        &packet[tunnel.len()..],
        &input.frame[..],
        "the frame was touched"
    );
    match decap(packet) {
        Ok(d) => {
            assert_eq!(d.outer.src_addr, tunnel.src);
            assert_eq!(d.outer.dst_addr, tunnel.dst);
            assert_eq!(d.outer.ttl, tunnel.ttl);
            // The ECN bits follow the inner packet's (RFC 6040); the DSCP is the tunnel's.
            assert_eq!(d.outer.tos >> 2, tunnel.tos >> 2);
            assert_eq!(d.outer.dont_frag, tunnel.dont_frag);
            assert_eq!(d.gre.key, tunnel.key);
            assert_eq!(d.gre.seq, input.seq);
            assert_eq!(d.gre.csum, tunnel.csum);
            assert_eq!(&packet[d.frame], &input.frame[..]);
        }
        Err(Error::FrameTruncated) => assert!(input.frame.len() < 14),
        Err(e) => panic!("decap of an emitted packet: {e:?}"),
    }
});
