//! Requests a controller or `ovs-ofctl` sends, decoded. Each decoder checks the body's length
//! against the spec's fixed layout; anything grebe does not implement decodes as
//! [`Request::Unsupported`] so the caller can answer with the right error.

use crate::{Error, OFPP_ANY, OFPP_LOCAL, SUPPORTED, VERSION_1_0, msg};

/// The 8-byte header every message starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub kind: u8,
    pub length: u16,
    pub xid: u32,
}

/// Multipart request types (spec §A.3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultipartKind {
    Desc,
    Flow,
    Aggregate,
    Table,
    /// Statistics of one port, or all ([`crate::OFPP_ANY`]).
    PortStats(u32),
    TableFeatures,
    PortDesc,
    Other(u16),
}

impl MultipartKind {
    /// The type number on the wire.
    pub fn code(self) -> u16 {
        match self {
            MultipartKind::Desc => 0,
            MultipartKind::Flow => 1,
            MultipartKind::Aggregate => 2,
            MultipartKind::Table => 3,
            MultipartKind::PortStats(_) => 4,
            MultipartKind::TableFeatures => 12,
            MultipartKind::PortDesc => 13,
            MultipartKind::Other(c) => c,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The versions the peer offers, as a bitmap (from its version bitmap element, or every
    /// version up to its header's).
    Hello {
        versions: u32,
    },
    Error {
        kind: u16,
        code: u16,
    },
    EchoRequest(Vec<u8>),
    EchoReply,
    FeaturesRequest,
    GetConfigRequest,
    SetConfig {
        flags: u16,
        miss_send_len: u16,
    },
    Barrier,
    Multipart(MultipartKind),
    /// A FLOW_MOD; its body is decoded by [`crate::decode_flow_mod`] in the agreed version.
    FlowMod,
    /// A message type grebe does not implement (yet): group, meter, port and table mods,
    /// packet-out, role and async requests, experimenter messages.
    Unsupported {
        kind: u8,
    },
}

/// The version two peers agree on: the highest both offer.
pub fn negotiate(offered: u32) -> Option<u8> {
    let common = offered & SUPPORTED;
    (common != 0).then(|| 31 - common.leading_zeros() as u8)
}

/// Decodes one whole message (as [`crate::Framer`] gives it), in the version the handshake
/// `agreed` on (before it, any version grebe speaks).
pub fn decode(m: &[u8], agreed: Option<u8>) -> Result<(Header, Request), Error> {
    if m.len() < 8 {
        return Err(Error::ShortHeader(m.len() as u16));
    }
    let header = Header {
        version: m[0],
        kind: m[1],
        length: u16::from_be_bytes([m[2], m[3]]),
        xid: u32::from_be_bytes([m[4], m[5], m[6], m[7]]),
    };
    let body = &m[8..];
    if header.kind == msg::HELLO {
        return Ok((header, hello(header.version, body)));
    }
    let v = header.version;
    let speaks = match agreed {
        Some(a) => v == a,
        None => SUPPORTED & (1 << v.min(31)) != 0,
    };
    if !speaks {
        return Err(Error::BadVersion(v));
    }
    let v10 = v == VERSION_1_0;
    let exact = |what: &'static str, want: usize| {
        if body.len() == want {
            Ok(())
        } else {
            Err(Error::BadLength {
                what,
                got: body.len(),
                want,
            })
        }
    };
    let u16_at = |i: usize| u16::from_be_bytes([body[i], body[i + 1]]);
    let request = match header.kind {
        msg::ERROR => {
            if body.len() < 4 {
                return Err(Error::BadLength {
                    what: "ERROR",
                    got: body.len(),
                    want: 4,
                });
            }
            Request::Error {
                kind: u16_at(0),
                code: u16_at(2),
            }
        }
        msg::ECHO_REQUEST => Request::EchoRequest(body.to_vec()),
        msg::ECHO_REPLY => Request::EchoReply,
        msg::FEATURES_REQUEST => {
            exact("FEATURES_REQUEST", 0)?;
            Request::FeaturesRequest
        }
        msg::GET_CONFIG_REQUEST => {
            exact("GET_CONFIG_REQUEST", 0)?;
            Request::GetConfigRequest
        }
        msg::SET_CONFIG => {
            exact("SET_CONFIG", 4)?;
            Request::SetConfig {
                flags: u16_at(0),
                miss_send_len: u16_at(2),
            }
        }
        k if (!v10 && k == msg::BARRIER_REQUEST) || (v10 && k == msg::BARRIER_REQUEST_1_0) => {
            exact("BARRIER_REQUEST", 0)?;
            Request::Barrier
        }
        k if (!v10 && k == msg::MULTIPART_REQUEST) || (v10 && k == msg::STATS_REQUEST_1_0) => {
            // 1.3 pads its multipart header to 8 bytes; 1.0's stats header is 4.
            let head = if v10 { 4 } else { 8 };
            if body.len() < head {
                return Err(Error::BadLength {
                    what: "MULTIPART_REQUEST",
                    got: body.len(),
                    want: head,
                });
            }
            Request::Multipart(multipart(v, u16_at(0), &body[head..])?)
        }
        msg::FLOW_MOD => Request::FlowMod,
        kind => Request::Unsupported { kind },
    };
    Ok((header, request))
}

/// HELLO's elements: a version bitmap (type 1) says exactly which versions the peer speaks;
/// without one, it speaks every version up to its header's.
fn hello(version: u8, mut elements: &[u8]) -> Request {
    while elements.len() >= 4 {
        let kind = u16::from_be_bytes([elements[0], elements[1]]);
        let len = usize::from(u16::from_be_bytes([elements[2], elements[3]]));
        if len < 4 || len > elements.len() {
            break;
        }
        if kind == 1 && len >= 8 {
            let word = u32::from_be_bytes([elements[4], elements[5], elements[6], elements[7]]);
            return Request::Hello { versions: word };
        }
        // Elements are padded to 8 bytes.
        let padded = len.div_ceil(8) * 8;
        elements = &elements[padded.min(elements.len())..];
    }
    let up_to = u32::from(version.min(31));
    Request::Hello {
        versions: ((1u64 << (up_to + 1)) - 2) as u32,
    }
}

fn multipart(version: u8, kind: u16, body: &[u8]) -> Result<MultipartKind, Error> {
    let v10 = version == VERSION_1_0;
    let need = |what: &'static str, want: usize| {
        if body.len() >= want {
            Ok(())
        } else {
            Err(Error::BadLength {
                what,
                got: body.len(),
                want,
            })
        }
    };
    Ok(match kind {
        0 => MultipartKind::Desc,
        // 1.0: a 40-byte match, table, pad, out_port; 1.3: table, pad, out_port, out_group,
        // pad, cookie, cookie mask, then a match of at least its 8-byte header.
        1 => {
            need("flow stats request", if v10 { 44 } else { 40 })?;
            MultipartKind::Flow
        }
        2 => {
            need("aggregate stats request", if v10 { 44 } else { 40 })?;
            MultipartKind::Aggregate
        }
        3 => MultipartKind::Table,
        4 if v10 => {
            need("port stats request", 8)?;
            // 1.0's 16-bit port numbers, its NONE meaning all.
            MultipartKind::PortStats(match u16::from_be_bytes([body[0], body[1]]) {
                0xffff => OFPP_ANY,
                0xfffe => OFPP_LOCAL,
                p => u32::from(p),
            })
        }
        4 => {
            need("port stats request", 8)?;
            MultipartKind::PortStats(u32::from_be_bytes([body[0], body[1], body[2], body[3]]))
        }
        12 if !v10 => MultipartKind::TableFeatures,
        13 if !v10 => MultipartKind::PortDesc,
        other => MultipartKind::Other(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VERSION_1_3;
    use proptest::prelude::*;

    fn message(version: u8, kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![version, kind];
        m.extend(((8 + body.len()) as u16).to_be_bytes());
        m.extend(7u32.to_be_bytes());
        m.extend(body);
        m
    }

    #[test]
    fn hellos_negotiate_the_highest_common_version() {
        // ovs-ofctl -O OpenFlow10,OpenFlow13 and the like: a bitmap.
        let m = message(6, msg::HELLO, &[0, 1, 0, 8, 0, 0, 0, 0x7e]);
        assert_eq!(
            decode(&m, None).unwrap().1,
            Request::Hello { versions: 0x7e }
        );
        assert_eq!(negotiate(0x7e), Some(VERSION_1_3));
        assert_eq!(negotiate(0x02), Some(VERSION_1_0));
        assert_eq!(negotiate(0x60), None);
        // No bitmap: every version up to the header's.
        assert_eq!(
            decode(&message(1, msg::HELLO, &[]), None).unwrap().1,
            Request::Hello { versions: 0x02 }
        );
        assert_eq!(
            decode(&message(4, msg::HELLO, &[]), None).unwrap().1,
            Request::Hello { versions: 0x1e }
        );
    }

    #[test]
    fn requests_decode_and_bad_lengths_are_errors() {
        let port_stats = message(
            4,
            msg::MULTIPART_REQUEST,
            &[0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0],
        );
        assert_eq!(
            decode(&port_stats, Some(4)).unwrap().1,
            Request::Multipart(MultipartKind::PortStats(3))
        );
        // 1.0: stats request 16, port stats of all ports (NONE).
        let all = message(
            1,
            msg::STATS_REQUEST_1_0,
            &[0, 4, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0],
        );
        assert_eq!(
            decode(&all, Some(1)).unwrap().1,
            Request::Multipart(MultipartKind::PortStats(OFPP_ANY))
        );
        assert_eq!(
            decode(&message(1, msg::BARRIER_REQUEST_1_0, &[]), Some(1))
                .unwrap()
                .1,
            Request::Barrier
        );
        assert_eq!(decode(&all, Some(4)), Err(Error::BadVersion(1)));
        let short = message(4, msg::MULTIPART_REQUEST, &[0, 4, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(
            decode(&short, Some(4)),
            Err(Error::BadLength { .. })
        ));
        assert!(matches!(
            decode(&message(4, msg::FEATURES_REQUEST, &[1]), Some(4)),
            Err(Error::BadLength { .. })
        ));
        assert_eq!(
            decode(&message(2, msg::FEATURES_REQUEST, &[]), None),
            Err(Error::BadVersion(2))
        );
        assert_eq!(
            decode(&message(4, msg::FLOW_MOD, &[0; 48]), Some(4))
                .unwrap()
                .1,
            Request::FlowMod
        );
    }

    proptest! {
        /// Whatever the bytes after a valid header, decoding answers without panicking.
        #[test]
        fn any_body_decodes_or_is_an_error(kind in any::<u8>(), version in prop_oneof![Just(1u8), Just(4u8), any::<u8>()], body in prop::collection::vec(any::<u8>(), 0..80)) {
            let _ = decode(&message(version, kind, &body), None);
            let _ = decode(&message(version, kind, &body), Some(version));
        }
    }
}
