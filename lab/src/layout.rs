//! The picture of a GRE packet in `docs/how-it-works.md`: one ping from the demo's bare-metal
//! host to its container host, built with `encap` as the datapath builds it and drawn as an SVG
//! with every field at its real bit offset and with its real bytes. Regenerate it with
//!
//! ```text
//! cargo run --example gre-layout > docs/gre-packet.svg
//! ```
//!
//! and a unit test fails while the file in `docs/` differs from what this code draws.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use encap::ethernet::{EthernetAddress, Frame};
use encap::icmpv4::{self, Icmpv4Repr};
use encap::{EtherType, Ipv4Repr, OuterHeader, ipv4};

use daemon::trace::{HeaderField, packet_fields};

/// The demo's hosts (see `demo.rs`): bm pings ct.
const BM_TRANSPORT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const CT_TRANSPORT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
const BM_OVERLAY: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 11);
const CT_OVERLAY: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 12);
/// TAP addresses are random per host; these stand for them.
const BM_MAC: EthernetAddress = EthernetAddress([0x02, 0x00, 0x00, 0x00, 0x00, 0x11]);
const CT_MAC: EthernetAddress = EthernetAddress([0x02, 0x00, 0x00, 0x00, 0x00, 0x12]);
/// What `ping` sends by default: 56 bytes of data after the 8-byte ICMP header.
const PING_DATA: usize = 56;

/// The inner frame: bm's `mgmt0` pinging ct's, echo request id 1, sequence 1.
fn ping_frame() -> Vec<u8> {
    let mut icmp = vec![0u8; icmpv4::HEADER_LEN + PING_DATA];
    for (i, b) in icmp[icmpv4::HEADER_LEN..].iter_mut().enumerate() {
        // ping's pattern after its timestamp; the bytes are the data, whatever they are.
        *b = (i as u8).wrapping_add(0x10);
    }
    // The data first: emit checksums the whole message.
    Icmpv4Repr::EchoRequest {
        ident: 1,
        seq_no: 1,
    }
    .emit(&mut icmpv4::Packet::new_unchecked(&mut icmp[..]));

    let inner = Ipv4Repr {
        src_addr: BM_OVERLAY,
        dst_addr: CT_OVERLAY,
        protocol: 1,
        payload_len: icmp.len(),
        ttl: 64,
        tos: 0,
        dont_frag: true,
        ident: 0x4d2a,
    };
    let mut frame = vec![0u8; encap::ethernet::HEADER_LEN + ipv4::HEADER_LEN + icmp.len()];
    {
        let mut f = Frame::new_unchecked(&mut frame[..]);
        f.set_dst_addr(CT_MAC);
        f.set_src_addr(BM_MAC);
        f.set_ethertype(EtherType::Ipv4);
        let payload = f.payload_mut();
        let (ip, rest) = payload.split_at_mut(ipv4::HEADER_LEN);
        inner.emit(&mut ipv4::Packet::new_unchecked(&mut ip[..]));
        rest.copy_from_slice(&icmp);
    }
    frame
}

/// The whole GRE packet bm sends to ct for that frame, as it leaves bm: the outer header as
/// `OuterHeader::emit` writes it, with the source the kernel fills in (here given as
/// `local_ip`, so that the bytes are the ones on the wire) and no key, checksum or sequence
/// number, as in the demo.
pub fn example_packet() -> Vec<u8> {
    let frame = ping_frame();
    let header = OuterHeader {
        src: BM_TRANSPORT,
        ..OuterHeader::new(CT_TRANSPORT)
    };
    let mut buf = [0u8; encap::tunnel::MAX_OUTER_LEN];
    let n = header
        .emit(&mut buf, &frame, 0)
        .expect("a 98-byte frame fits any tunnel header");
    buf[..n].iter().chain(&frame).copied().collect()
}

/// Every field of the example packet, outer IPv4 to ICMP, and where the ICMP data begins.
pub fn example_fields() -> (Vec<HeaderField>, usize) {
    packet_fields(&example_packet()).expect("the example packet parses")
}

const BIT_W: usize = 26;
const ROW_H: usize = 40;
const LEFT: usize = 90;
const TOP: usize = 118;
const HEX_X: usize = LEFT + 32 * BIT_W + 16;
const WIDTH: usize = HEX_X + 120;

fn colour(layer: &str) -> &'static str {
    match layer {
        "ipv4" => "#dbeafe",
        "gre" => "#fde68a",
        "ethernet" => "#dcfce7",
        "inner ipv4" => "#ede9fe",
        "icmp" => "#fee2e2",
        _ => "#f3f4f6",
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Cuts `text` to what fits `width` pixels of 11px monospace.
fn fit(text: &str, width: usize) -> String {
    let max = width.saturating_sub(6) / 7;
    // "0 (no key)" in a one-bit box: the value without its gloss.
    let short = text.split(" (").next().unwrap_or(text);
    if text.chars().count() <= max {
        text.to_string()
    } else if short.chars().count() <= max {
        short.to_string()
    } else if max <= 1 {
        String::new()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// One box of a field, within one 32-bit row.
fn draw_box(
    s: &mut String,
    row: usize,
    bit: usize,
    bits: usize,
    layer: &str,
    label: &str,
    value: &str,
) {
    let x = LEFT + bit * BIT_W;
    let y = TOP + row * ROW_H;
    let w = bits * BIT_W;
    let _ = writeln!(
        s,
        r##"<rect x="{x}" y="{y}" width="{w}" height="{ROW_H}" fill="{}" stroke="#374151"/>"##,
        colour(layer)
    );
    let cx = x + w / 2;
    let _ = writeln!(
        s,
        r#"<text x="{cx}" y="{}" class="name">{}</text>"#,
        y + 16,
        esc(&fit(label, w))
    );
    let _ = writeln!(
        s,
        r#"<text x="{cx}" y="{}" class="value">{}</text>"#,
        y + 32,
        esc(&fit(value, w))
    );
}

/// The SVG: a ruler of 32 bits, one row per 4 bytes with its offset on the left and its bytes
/// on the right, each field a box at its bit position.
pub fn svg() -> String {
    let packet = example_packet();
    let (fields, data_at) = example_fields();
    let data_rows_start = data_at / 4;
    // Rows drawn: every header row, the row where the data starts, one row for the rest.
    let rows = data_rows_start + 2;
    let height = TOP + rows * ROW_H + 60;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">"#
    );
    let _ = writeln!(
        s,
        "<style>text {{ font-size: 11px; fill: #111827; }} .name {{ text-anchor: middle; font-weight: bold; }} .value {{ text-anchor: middle; }} .off {{ text-anchor: end; fill: #6b7280; }} .hex {{ fill: #374151; }} .title {{ font-size: 14px; font-weight: bold; }}</style>"
    );
    let _ = writeln!(
        s,
        r#"<rect width="{WIDTH}" height="{height}" fill="white"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="10" y="22" class="title">One ping inside GRE: the {} bytes grebe on bm sends to ct (demo addresses)</text>"#,
        packet.len()
    );
    let _ = writeln!(
        s,
        r#"<text x="10" y="40">generated by `cargo run --example gre-layout` from encap's own OuterHeader::emit; offsets in bytes, values decoded from the bytes</text>"#
    );
    // Legend.
    let legend = [
        ("ipv4", "outer IPv4 (20 B)"),
        ("gre", "GRE (4 B)"),
        ("ethernet", "inner Ethernet (14 B)"),
        ("inner ipv4", "inner IPv4 (20 B)"),
        ("icmp", "ICMP echo (8 B + data)"),
    ];
    let mut x = 10;
    for (layer, text) in legend {
        let _ = writeln!(
            s,
            r##"<rect x="{x}" y="54" width="14" height="14" fill="{}" stroke="#374151"/><text x="{}" y="65">{text}</text>"##,
            colour(layer),
            x + 20
        );
        x += 20 + text.len() * 7 + 24;
    }
    // Bit ruler.
    for bit in 0..32 {
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" class="value" fill="#6b7280">{bit}</text>"##,
            LEFT + bit * BIT_W + BIT_W / 2,
            TOP - 8
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" class="off">byte \ bit</text><text x="{HEX_X}" y="{}" class="hex">bytes</text>"#,
        LEFT - 8,
        TOP - 8,
        TOP - 8
    );
    for f in &fields {
        // Split the field at row boundaries; the label goes in its widest piece.
        let mut pieces = Vec::new();
        let mut at = f.bit_offset;
        let end = f.bit_offset + f.bits;
        while at < end {
            let row_end = (at / 32 + 1) * 32;
            let piece_end = row_end.min(end);
            pieces.push((at, piece_end - at));
            at = piece_end;
        }
        let widest = pieces
            .iter()
            .enumerate()
            .max_by_key(|(i, (_, bits))| (*bits, std::cmp::Reverse(*i)))
            .map_or(0, |(i, _)| i);
        for (i, (start, bits)) in pieces.iter().enumerate() {
            let (label, value) = if i == widest {
                (f.name, f.value.as_str())
            } else {
                ("", "(cont.)")
            };
            draw_box(
                &mut s,
                start / 32,
                start % 32,
                *bits,
                &f.layer,
                label,
                value,
            );
        }
    }
    // The data: what is left of its first row, then one row for the rest.
    let data_bit = data_at * 8;
    let data_row = data_bit / 32;
    let left_in_row = 32 - data_bit % 32;
    let rest = packet.len() - data_at;
    if left_in_row < 32 {
        draw_box(
            &mut s,
            data_row,
            data_bit % 32,
            left_in_row,
            "data",
            "data",
            "(cont. below)",
        );
    }
    let last_row = if left_in_row < 32 {
        data_row + 1
    } else {
        data_row
    };
    draw_box(
        &mut s,
        last_row,
        0,
        32,
        "data",
        "ICMP data",
        &format!(
            "{rest} bytes in all, to byte {} (the end of the packet)",
            packet.len() - 1
        ),
    );
    // Offsets and bytes per row.
    for row in 0..=last_row {
        let y = TOP + row * ROW_H + 24;
        let from = row * 4;
        let (label, bytes) = if row == last_row && left_in_row < 32 || row > data_row {
            (format!("{from}…"), "…".to_string())
        } else {
            let to = (from + 4).min(packet.len());
            (
                from.to_string(),
                packet[from..to]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        };
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{y}" class="off">{label}</text><text x="{HEX_X}" y="{y}" class="hex">{bytes}</text>"#,
            LEFT - 8
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="10" y="{}">By the raw socket grebe leaves the source 0.0.0.0 (unless options:local_ip) and the kernel fills it in and recomputes the checksum; shown here as on the wire.</text>"#,
        TOP + (last_row + 1) * ROW_H + 24
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_packet_is_a_ping_in_gre() {
        let packet = example_packet();
        assert_eq!(packet.len(), 20 + 4 + 14 + 20 + 8 + PING_DATA);
        let d = encap::decap(&packet).unwrap();
        assert_eq!(d.outer.dst_addr, CT_TRANSPORT);
        assert_eq!(d.frame, 24..packet.len());
        let (fields, data_at) = example_fields();
        assert_eq!(data_at, 66);
        let icmp_type = fields
            .iter()
            .find(|f| f.layer == "icmp" && f.name == "type");
        assert_eq!(icmp_type.unwrap().bit_offset, 58 * 8);
    }

    #[test]
    fn docs_picture_is_what_this_code_draws() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/gre-packet.svg");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == svg(),
            "{path} is stale: run `cargo run --example gre-layout > docs/gre-packet.svg`"
        );
    }
}
