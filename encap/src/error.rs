//! Why a packet was rejected. Each variant is one drop reason in the datapath's counters.

/// A rejected packet, or an outer header that could not be written.
///
/// `Copy` and free of strings so that the datapath can return and count it per frame. New
/// variants go at the end and into [`Error::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[repr(u8)]
pub enum Error {
    /// The buffer is shorter than the header says it is.
    #[error("buffer shorter than the header says")]
    Truncated,
    /// The outer IP version is not the one expected (4, or 6 for an IPv6 transport).
    #[error("outer IP version is not the transport's (4, or 6 for ip6gre)")]
    BadIpVersion,
    /// The outer IPv4 header length (IHL) is below 5 words or beyond the total length.
    #[error("outer IPv4 header length below 20 bytes or beyond the total length")]
    BadIpHeaderLen,
    /// The outer IPv4 total length (IPv6: 40 plus the payload length) is larger than the buffer
    /// received.
    #[error("outer IP total length larger than the buffer")]
    BadIpTotalLen,
    /// The outer IPv4 header checksum is wrong.
    #[error("outer IPv4 header checksum is wrong")]
    BadIpChecksum,
    /// The outer IPv4 packet is a fragment (MF set or offset not 0). The kernel reassembles before
    /// a raw socket sees a packet, so a fragment here is unexpected.
    #[error("outer IPv4 packet is a fragment")]
    Fragmented,
    /// The outer IPv4 protocol is not GRE (47).
    #[error("outer IPv4 protocol is not GRE")]
    NotGre,
    /// The GRE version is not 0 (version 1 is PPTP's enhanced GRE).
    #[error("GRE version is not 0")]
    BadVersion,
    /// A GRE flag bit that RFC 2784 says a receiver must discard on is set: routing (bit 1),
    /// strict source route (bit 4) or recursion control (bit 5).
    #[error("GRE routing, strict source route or recursion bit set")]
    ReservedFlags,
    /// The GRE checksum bit is set and the checksum is wrong.
    #[error("GRE checksum is wrong")]
    BadChecksum,
    /// The GRE protocol type is not transparent Ethernet bridging (0x6558).
    #[error("GRE protocol type is not Ethernet (0x6558)")]
    NotEthernet,
    /// The inner Ethernet frame is shorter than its 14-byte header.
    #[error("inner Ethernet frame shorter than 14 bytes")]
    FrameTruncated,
    /// The outer IPv4 total length would exceed 65535 bytes.
    #[error("encapsulated packet would exceed 65535 bytes")]
    TooBig,
    /// There is not enough room in front of the frame for the outer headers.
    #[error("not enough headroom in front of the frame for the outer headers")]
    NoHeadroom,
    /// A TAP's virtio-net header asks for an offload that does not match the frame (offsets
    /// outside it, segmentation of something that is not plain TCP over IPv4 or IPv6).
    #[error("virtio-net offload request does not match the frame")]
    BadOffload,
}

impl Error {
    /// Every variant, in declaration order: the datapath sizes its counter array from this.
    pub const ALL: &[Error] = &[
        Error::Truncated,
        Error::BadIpVersion,
        Error::BadIpHeaderLen,
        Error::BadIpTotalLen,
        Error::BadIpChecksum,
        Error::Fragmented,
        Error::NotGre,
        Error::BadVersion,
        Error::ReservedFlags,
        Error::BadChecksum,
        Error::NotEthernet,
        Error::FrameTruncated,
        Error::TooBig,
        Error::NoHeadroom,
        Error::BadOffload,
    ];

    /// A stable snake_case name, used as a drop-reason counter name. Never rename one: scripts
    /// and dashboards key on it.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Error::Truncated => "truncated",
            Error::BadIpVersion => "bad_ip_version",
            Error::BadIpHeaderLen => "bad_ip_header_len",
            Error::BadIpTotalLen => "bad_ip_total_len",
            Error::BadIpChecksum => "bad_ip_checksum",
            Error::Fragmented => "fragmented",
            Error::NotGre => "not_gre",
            Error::BadVersion => "bad_version",
            Error::ReservedFlags => "reserved_flags",
            Error::BadChecksum => "bad_checksum",
            Error::NotEthernet => "not_ethernet",
            Error::FrameTruncated => "frame_truncated",
            Error::TooBig => "too_big",
            Error::NoHeadroom => "no_headroom",
            Error::BadOffload => "bad_offload",
        }
    }

    /// The variant's position in [`Error::ALL`], for indexing a counter array.
    pub const fn index(&self) -> usize {
        *self as usize
    }
}

/// A header inside the inner frame (802.1Q, ARP, ICMP, UDP, TCP) that does not parse.
///
/// grebe forwards these headers untouched and only decodes them to print them (trace,
/// capture), so they are not drop reasons and stay out of [`Error`]'s counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum HeaderError {
    /// The buffer is shorter than the header (or than a length field says).
    #[error("buffer shorter than the header says")]
    Truncated,
    /// An ARP packet that is not for Ethernet addresses and IPv4 (hardware type 1, protocol
    /// type 0x0800, lengths 6 and 4): the only kind these views lay out.
    #[error("ARP packet is not Ethernet/IPv4")]
    ArpNotEthernetIpv4,
    /// The ICMP checksum is wrong.
    #[error("ICMP checksum is wrong")]
    BadIcmpChecksum,
    /// The TCP data offset is below 5 words.
    #[error("TCP data offset below 20 bytes")]
    BadTcpDataOffset,
    /// The UDP length field is below 8 or beyond the buffer.
    #[error("UDP length below 8 bytes or beyond the buffer")]
    BadUdpLength,
}

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn all_is_complete_and_in_order() {
        // The last variant's discriminant + 1 is the variant count, as long as new variants go at
        // the end (the doc says so); a missing or misplaced entry breaks the index check.
        assert_eq!(Error::ALL.len(), Error::BadOffload as usize + 1);
        for (i, e) in Error::ALL.iter().enumerate() {
            assert_eq!(e.index(), i, "{e:?}");
        }
    }

    #[test]
    fn names_are_unique_snake_case() {
        for (i, a) in Error::ALL.iter().enumerate() {
            let name = a.as_str();
            assert!(!name.is_empty());
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
            assert!(!name.starts_with('_') && !name.ends_with('_'), "{name}");
            for b in &Error::ALL[i + 1..] {
                assert_ne!(name, b.as_str());
            }
        }
    }

    #[test]
    fn display_is_not_empty() {
        for e in Error::ALL {
            assert!(!e.to_string().is_empty());
        }
    }
}
