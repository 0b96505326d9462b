//! GRE (RFC 2784, with the key and sequence number of RFC 2890) over IPv4, carrying Ethernet
//! frames (protocol type 0x6558, transparent Ethernet bridging): the wire format grebe sends and
//! receives on its raw GRE socket. No IO and no allocation; every function works on the caller's
//! buffers.
//!
//! # Two layers
//!
//! Each header has a zero-copy view over any byte buffer (`ethernet::Frame`, `ipv4::Packet`,
//! `gre::Packet`), with one getter or setter per wire field, and a small `Copy` *repr*
//! (`Ipv4Repr`, `GreRepr`) holding the fields that carry meaning. A view only makes sure its
//! accessors stay in bounds; the semantic checks (version, checksum, flags, fragments) live in
//! `Repr::parse`, and each rejection is its own [`Error`] variant so that the datapath can count
//! every drop by reason. [`tunnel`] joins the layers into what the datapath does per frame:
//! [`decap`] a received packet, [`OuterHeader::emit_in_front`] of a frame to send.
//!
//! The headers inside the inner frame that grebe only prints ([`vlan`], [`arp`], [`icmpv4`],
//! [`udp`], [`tcp`]) have views of the same shape; their rejections are [`HeaderError`]s, not
//! drop reasons.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use encap::{OuterHeader, decap, tunnel::MAX_OUTER_LEN};
//!
//! // A frame read into a buffer that leaves MAX_OUTER_LEN bytes of headroom in front.
//! let frame = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x06, 0xaa, 0xbb];
//! let mut buf = [0u8; MAX_OUTER_LEN + 16];
//! buf[MAX_OUTER_LEN..].copy_from_slice(&frame);
//!
//! let tunnel = OuterHeader { key: Some(7), ..OuterHeader::new(Ipv4Addr::new(192, 0, 2, 2)) };
//! let end = buf.len();
//! let start = tunnel.emit_in_front(&mut buf, MAX_OUTER_LEN..end, 0)?;
//! let packet = &buf[start..]; // what goes to the raw socket
//!
//! let received = decap(packet)?;
//! assert_eq!(received.gre.key, Some(7));
//! assert_eq!(&packet[received.frame], &frame);
//! # Ok::<(), encap::Error>(())
//! ```
//!
//! # Panic contract
//!
//! Received bytes are untrusted, so:
//!
//! * `new_unchecked` never panics; `check_len` (and `new_checked`, which calls it) never panics,
//!   and once it has returned `Ok` no getter of that view panics.
//! * `Repr::parse` and [`decap`] never panic on any input: they run `check_len` themselves.
//! * Setters and `emit` write into the caller's buffer and panic only if that buffer is shorter
//!   than the header they write (`buffer_len()` / `header_len()`, plus the payload for the GRE
//!   checksum), or if an `Ipv4Repr`'s `payload_len` cannot fit the 16-bit total length.
//!   [`OuterHeader::emit`] and [`OuterHeader::emit_in_front`] check all of that first and return
//!   an [`Error`] instead of panicking.
//!
//! Do not `new_checked` a reused buffer before emitting into it: the stale bytes decide what
//! `check_len` sees. Wrap it with `new_unchecked`, emit, then parse if you want to check.
#![forbid(unsafe_code)]

pub mod arp;
pub mod checksum;
pub mod dissect;
mod error;
pub mod ethernet;
pub mod gre;
pub mod gro;
pub mod icmpv4;
pub mod ipv4;
pub mod ipv6;
pub mod mss;
pub mod tcp;
pub mod too_big;
pub mod tso;
pub mod tunnel;
pub mod udp;
pub mod vlan;
pub mod vnet;

pub use error::{Error, HeaderError};
pub use ethernet::{EtherType, EthernetAddress};
pub use gre::GreRepr;
pub use ipv4::Ipv4Repr;
pub use ipv6::Ipv6Repr;
pub use tunnel::{Decap, Decap6, OuterHeader, decap, decap_ipv6};

/// Network-endian reads and writes of fixed fields, always inlined so that constant ranges
/// fold into plain loads and stores. Callers pass constant ranges that lie inside a
/// length they have checked (views) or that the panic contract lets them assume (setters).
mod bytes {
    use core::ops::Range;

    #[inline(always)]
    pub(crate) fn read_u16(data: &[u8], field: Range<usize>) -> u16 {
        let b = &data[field];
        u16::from_be_bytes([b[0], b[1]])
    }

    #[inline(always)]
    pub(crate) fn read_u32(data: &[u8], field: Range<usize>) -> u32 {
        let b = &data[field];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    #[inline(always)]
    pub(crate) fn write_u16(data: &mut [u8], field: Range<usize>, value: u16) {
        data[field].copy_from_slice(&value.to_be_bytes());
    }

    #[inline(always)]
    pub(crate) fn write_u32(data: &mut [u8], field: Range<usize>, value: u32) {
        data[field].copy_from_slice(&value.to_be_bytes());
    }
}
