//! Offload work, both ways. Toward tunnels: a TAP's TCP frame of up to 64 KB is cut into
//! MSS-sized GRE packets (TSO), or into one large packet for a `large_frames` tunnel, and a
//! checksum the kernel left unfinished is completed. Toward TAPs: a frame reassembled from a
//! `large_frames` tunnel becomes a GSO frame again. Coalescing many segments into one frame for a
//! TAP is `coalesce`'s.

use encap::gro::{self, TcpSegment};
use encap::tso::{MAX_SEGMENT_HEADER_LEN, Segmenter};
use encap::vnet::{self, Gso, VnetHeader};
use learning::PortId;

use std::io;

use crate::counters::{DropReason, PortCounters};
use crate::frame::FrameRef;
use crate::pipeline::FrameSize;
use crate::port::{InternalPort, TunnelPort};
use crate::sys::SendBatch;
use crate::vlan::{HEAD_LEN, Retag};

/// Reads a TAP frame's virtio-net header and does the work that cannot wait: a checksum left
/// unfinished on a frame that needs no segmentation is computed now (so every output, tunnel or
/// TAP, gets a finished frame) and the header then says so. Segmentation stays to do, per tunnel.
#[inline]
pub(crate) fn take_offload_work(packet: &mut [u8]) -> Result<VnetHeader, DropReason> {
    let header = VnetHeader::parse(packet).map_err(|_| DropReason::FrameTruncated)?;
    match header.gso() {
        Gso::None if header.needs_csum() => {
            let frame = &mut packet[vnet::HEADER_LEN..];
            vnet::complete_checksum(
                frame,
                usize::from(header.csum_start),
                usize::from(header.csum_offset),
            )?;
            VnetHeader::PLAIN.emit(packet);
            Ok(VnetHeader::PLAIN)
        }
        Gso::None | Gso::TcpV4 | Gso::TcpV6 => Ok(header),
        Gso::Other(_) => Err(DropReason::BadOffload),
    }
}

/// How big a frame is for the too-big rule: a TSO frame by its largest segment. A TSO frame whose
/// headers do not parse gets segment size 0, so that its tunnel output, not the MTU rule, refuses
/// it as `bad_offload`.
#[inline]
pub(crate) fn frame_size(frame: &[u8], vnet: &VnetHeader) -> FrameSize {
    let mut size = FrameSize::plain(frame.len());
    if vnet.gso() != Gso::None {
        let segment =
            Segmenter::new(frame, vnet).map_or(0, |s| s.header_len() + usize::from(vnet.gso_size));
        size.segment = Some(u32::try_from(segment).unwrap_or(u32::MAX));
    }
    size
}

/// A frame that came whole through a `large_frames` tunnel (reassembled, larger than the
/// transport MTU) becomes a GSO frame again, cut at the MSS the tunnel carries, so the TAP
/// takes it as one packet; any other frame needs no offload work.
pub(crate) fn reassembled_to_gso(t: &TunnelPort, frame: &mut [u8]) -> VnetHeader {
    if !(t.config.large_frames && frame.len() > t.path_mtu as usize) {
        return VnetHeader::PLAIN;
    }
    let Some(segment) = gro::tcp4_segment(frame) else {
        return VnetHeader::PLAIN;
    };
    let mss = (t.path_mtu as usize).saturating_sub(t.header.len() + segment.hdr_len);
    if mss == 0 || mss >= segment.payload_len {
        return VnetHeader::PLAIN;
    }
    let first = TcpSegment {
        payload_len: mss,
        ..segment
    };
    gro::finish(frame, &first, false)
}

/// A TCP frame of up to 64 KB from a TAP with TSO: cut into MSS-sized segments, each a GRE
/// packet of [outer headers | segment headers] plus its slice of the original frame.
pub(crate) fn queue_segments(
    id: PortId,
    t: &mut TunnelPort,
    frame: &FrameRef<'_>,
    retag: Retag,
    tx: &mut SendBatch,
) -> Result<(), DropReason> {
    let mut segmenter = Segmenter::new(frame.bytes, &frame.vnet).map_err(DropReason::from)?;
    // The pipeline checked that the segments fit the path MTU (`pipeline::should_deliver`).
    let outer_len = t.header.len();
    let seg_len = segmenter.header_len();
    let mut scratch = [0u8; MAX_SEGMENT_HEADER_LEN];
    while let Some(payload) = segmenter.next_segment(&mut scratch) {
        let start = frame.range.start + payload.start;
        let end = frame.range.start + payload.end;
        let entry = tx.push(frame.buf, start..end, t.remote(), id.0);
        let (outer, inner) = entry.header.split_at_mut(outer_len);
        let out_len = segment_headers(&scratch[..seg_len], retag, inner);
        let parts = [&inner[..out_len], &frame.bytes[payload]];
        match t.header.emit_parts(outer, &parts, t.next_seq) {
            Ok(n) => {
                entry.header_len = (n + out_len) as u16;
                t.advance_seq();
            }
            Err(e) => {
                tx.pop();
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// Largest IPv4 packet: what one large-frame GRE packet may fill.
const MAX_IPV4_LEN: usize = 65_535;

/// A TCP frame of up to 64 KB on a tunnel whose kernel writes the outer IPv4 header and
/// fragments: `whole` (a `large_frames` tunnel), one GRE packet (two when the frame and headers
/// exceed an IPv4 packet), cut at a whole number of MSS, which the peer reassembles; else one
/// GRE packet per MSS-sized segment (`df_default=false`: the segments as the sender made them,
/// fragmented on the way).
pub(crate) fn queue_large(
    id: PortId,
    t: &mut TunnelPort,
    frame: &FrameRef<'_>,
    retag: Retag,
    tx: &mut SendBatch,
    whole: bool,
) -> Result<(), DropReason> {
    let gre_len = t.header.gre(0).header_len();
    let probe = Segmenter::new(frame.bytes, &frame.vnet)?;
    let seg_len = probe.header_len();
    let out_seg_len = retag.apply_len(seg_len as u32) as usize;
    let room = MAX_IPV4_LEN - encap::ipv4::HEADER_LEN - gre_len - out_seg_len;
    let size = if whole {
        (room / probe.mss()).max(1) * probe.mss()
    } else {
        probe.mss()
    };
    let mut segmenter = Segmenter::with_segment_size(frame.bytes, &frame.vnet, size)?;
    let mut scratch = [0u8; MAX_SEGMENT_HEADER_LEN];
    while let Some(payload) = segmenter.next_segment(&mut scratch) {
        let start = frame.range.start + payload.start;
        let end = frame.range.start + payload.end;
        let entry = tx.push(frame.buf, start..end, t.remote(), id.0);
        let (gre, inner) = entry.header.split_at_mut(gre_len);
        let out_len = segment_headers(&scratch[..seg_len], retag, inner);
        t.header
            .gre(t.next_seq)
            .emit_header_parts(gre, &[&inner[..out_len], &frame.bytes[payload]]);
        entry.header_len = (gre_len + out_len) as u16;
        t.advance_seq();
    }
    Ok(())
}

/// A TSO frame written to a TAP that takes no virtio-net header, one segment a write (the
/// `--no-offload` comparison mode only: a write per segment is what that mode measures).
pub(crate) fn write_tap_segments(
    tap: &InternalPort,
    counters: &PortCounters,
    frame: &FrameRef<'_>,
    retag: Retag,
) -> Result<(), DropReason> {
    let mut segmenter = Segmenter::new(frame.bytes, &frame.vnet).map_err(DropReason::from)?;
    let seg_len = segmenter.header_len();
    let mut scratch = [0u8; MAX_SEGMENT_HEADER_LEN];
    // The headers as they leave: a pushed tag makes them 4 bytes longer.
    let mut out = [0u8; MAX_SEGMENT_HEADER_LEN + encap::vlan::TAG_LEN];
    while let Some(payload) = segmenter.next_segment(&mut scratch) {
        let out_len = segment_headers(&scratch[..seg_len], retag, &mut out);
        let parts = [
            io::IoSlice::new(&out[..out_len]),
            io::IoSlice::new(&frame.bytes[payload.clone()]),
        ];
        tap.write_parts(&parts).map_err(|e| {
            if e.raw_os_error() == Some(libc::EIO) {
                DropReason::PortDown
            } else {
                DropReason::TxFailed
            }
        })?;
        counters.tx(out_len + payload.len());
    }
    Ok(())
}

/// One frame, one GRE packet for the socket whose kernel writes the outer IPv4 header with DF
/// clear and fragments it (`df_default=false`, a frame larger than the path carries). `retag`'s
/// new first bytes go after the GRE header, in front of the rest of the frame.
pub(crate) fn queue_fragmenting(
    id: PortId,
    t: &mut TunnelPort,
    frame: &FrameRef<'_>,
    retag: Retag,
    tx: &mut SendBatch,
) -> Result<(), DropReason> {
    let gre_len = t.header.gre(0).header_len();
    let mut head = [0u8; HEAD_LEN];
    let (n, rest) = retag.head(frame.bytes, &mut head);
    let range = frame.range.start + rest..frame.range.end;
    let entry = tx.push(frame.buf, range, t.remote(), id.0);
    t.header.gre(t.next_seq).emit_header_parts(
        &mut entry.header[..gre_len],
        &[&head[..n], &frame.bytes[rest..]],
    );
    entry.header[gre_len..gre_len + n].copy_from_slice(&head[..n]);
    entry.header_len = (gre_len + n) as u16;
    t.advance_seq();
    Ok(())
}

/// Writes a segment's headers into `out` as they leave the port (its VLAN tag pushed, popped or
/// rewritten) and returns their length. `out` has room for the longest segment headers plus a
/// tag (`sys::SEND_HEADER_LEN` less the outer headers).
#[inline]
fn segment_headers(headers: &[u8], retag: Retag, out: &mut [u8]) -> usize {
    let mut head = [0u8; HEAD_LEN];
    let (n, rest) = retag.head(headers, &mut head);
    out[..n].copy_from_slice(&head[..n]);
    let tail = &headers[rest..];
    out[n..n + tail.len()].copy_from_slice(tail);
    n + tail.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ethernet (tagged with `tci` if given), IPv4 and TCP headers of a segment.
    fn headers(tci: Option<u16>) -> Vec<u8> {
        let mut h = vec![0x02; 12];
        if let Some(tci) = tci {
            h.extend_from_slice(&[0x81, 0x00]);
            h.extend_from_slice(&tci.to_be_bytes());
        }
        h.extend_from_slice(&[0x08, 0x00]);
        h.extend((0..40).map(|i| i as u8));
        h
    }

    #[test]
    fn segment_headers_leave_with_the_tag_pushed_popped_or_kept() {
        let mut out = [0u8; MAX_SEGMENT_HEADER_LEN];
        let n = segment_headers(&headers(None), Retag::Push(0x2064), &mut out);
        assert_eq!(&out[..n], &headers(Some(0x2064))[..]);
        let n = segment_headers(&headers(Some(0x2064)), Retag::Pop, &mut out);
        assert_eq!(&out[..n], &headers(None)[..]);
        let n = segment_headers(&headers(Some(0x2000)), Retag::Rewrite(0x2007), &mut out);
        assert_eq!(&out[..n], &headers(Some(0x2007))[..]);
        let n = segment_headers(&headers(Some(5)), Retag::Keep, &mut out);
        assert_eq!(&out[..n], &headers(Some(5))[..]);
    }

    #[test]
    fn the_longest_untagged_segment_headers_fit_with_a_pushed_tag() {
        let mut long = vec![0u8; MAX_SEGMENT_HEADER_LEN - 4];
        long[12..14].copy_from_slice(&[0x08, 0x00]);
        let mut out = [0u8; MAX_SEGMENT_HEADER_LEN];
        assert_eq!(
            segment_headers(&long, Retag::Push(1), &mut out),
            MAX_SEGMENT_HEADER_LEN
        );
    }
}
