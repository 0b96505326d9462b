//! `grebe capture PORT`: frames as they pass one port, as a pcap file tshark and Wireshark open,
//! or one line per frame like tcpdump's.
//!
//! The daemon watches the port (`Datapath::monitor`) on a thread of its own and streams each
//! frame to the client in hex; the client writes the file. Inner frames are Ethernet (pcap link
//! type 1); with `--outer` on a tunnel port, whole packets are outer IPv4 + GRE + frame (link
//! type 101, raw IPv4) exactly as grebe handed them to the kernel (sent) or as the kernel handed
//! them to grebe (received). The watch queue is bounded: when the client cannot keep up, frames
//! are skipped, counted, and never slow the datapath.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use datapath::{Direction, MonitorSpec, PortKind};
use encap::ethernet::Frame;
use encap::{EtherType, arp, gre, icmpv4, ipv4, tcp, udp};

use crate::control::{
    self, CapturedFrame, Reply, StreamClient, StreamConn, StreamMessage, from_hex, to_hex,
};
use crate::state::DaemonState;

/// pcap link types (tcpdump.org/linktypes.html).
pub const LINKTYPE_ETHERNET: u32 = 1;
pub const LINKTYPE_RAW: u32 = 101;
/// Largest record kept whole: a 64 KB TSO frame from a TAP plus headers fits.
pub const SNAPLEN: u32 = 262_144;
/// How often the daemon checks that the client is still there and reports skipped frames.
const TICK: Duration = Duration::from_millis(200);

/// Microseconds since the Unix epoch.
pub fn micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// `HH:MM:SS.uuuuuu` (UTC) of a time in microseconds since the epoch.
pub fn clock(time_us: u64) -> String {
    let secs = time_us / 1_000_000;
    let day = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        day / 3600,
        day / 60 % 60,
        day % 60,
        time_us % 1_000_000
    )
}

/// What an IPv4 packet carries, in a few words: `198.51.100.1 > 198.51.100.2: ICMP echo request, id 3, seq 1`.
fn ipv4_summary(payload: &[u8]) -> Option<String> {
    let ip = ipv4::Packet::new_checked(payload).ok()?;
    let l4 = ip.payload();
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let ports = match ip.protocol() {
        6 => tcp::Packet::new_checked(l4)
            .ok()
            .map(|t| (t.src_port(), t.dst_port(), "TCP")),
        17 => udp::Packet::new_checked(l4)
            .ok()
            .map(|u| (u.src_port(), u.dst_port(), "UDP")),
        _ => None,
    };
    if let Some((sp, dp, name)) = ports {
        return Some(format!("{src}.{sp} > {dst}.{dp}: {name}"));
    }
    let what = match ip.protocol() {
        1 => match icmpv4::Packet::new_checked(l4) {
            Ok(m) => match m.msg_type() {
                t @ (icmpv4::TYPE_ECHO_REQUEST | icmpv4::TYPE_ECHO_REPLY) => format!(
                    "ICMP echo {}, id {}, seq {}",
                    if t == icmpv4::TYPE_ECHO_REQUEST {
                        "request"
                    } else {
                        "reply"
                    },
                    m.echo_ident(),
                    m.echo_seq_no()
                ),
                icmpv4::TYPE_DEST_UNREACHABLE => {
                    format!("ICMP destination unreachable, code {}", m.code())
                }
                t => format!("ICMP type {t}, code {}", m.code()),
            },
            Err(_) => "ICMP".to_string(),
        },
        ipv4::PROTOCOL_GRE => "GRE".to_string(),
        p => format!("IP protocol {p}"),
    };
    Some(format!("{src} > {dst}: {what}"))
}

fn arp_summary(payload: &[u8]) -> Option<String> {
    // The view, not ArpRepr: the line names the addresses whatever the type fields say.
    let a = arp::Packet::new_checked(payload).ok()?;
    let (spa, tpa) = (a.sender_protocol_addr(), a.target_protocol_addr());
    Some(match a.operation() {
        arp::Operation::Request => format!("who-has {tpa} tell {spa}"),
        arp::Operation::Reply => format!("reply {spa} is-at {}", a.sender_hardware_addr()),
        // Not a request or reply (a flow traced with dl_type=0x0806 has a zero body).
        arp::Operation::Unknown(_) => return None,
    })
}

/// One line for an Ethernet frame, tcpdump-like:
/// `02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ARP, length 42: who-has 198.51.100.2 tell 198.51.100.1`.
pub fn frame_summary(frame: &[u8]) -> String {
    let Ok(f) = Frame::new_checked(frame) else {
        return format!("truncated frame, length {}", frame.len());
    };
    let t = f.ethertype();
    let name = match t {
        EtherType::Unknown(v) => format!("ethertype 0x{v:04x}"),
        other => other.name().to_string(),
    };
    let detail = match t {
        EtherType::Ipv4 => ipv4_summary(f.payload()),
        EtherType::Arp => arp_summary(f.payload()),
        _ => None,
    };
    format!(
        "{} > {}, {name}, length {}{}",
        f.src_addr(),
        f.dst_addr(),
        frame.len(),
        detail.map_or(String::new(), |d| format!(": {d}"))
    )
}

/// One line for a whole tunnel packet: the outer header, then the frame inside.
pub fn packet_summary(packet: &[u8]) -> String {
    let Ok(ip) = ipv4::Packet::new_checked(packet) else {
        return format!("not an IPv4 packet, length {}", packet.len());
    };
    let outer = format!("{} > {}", ip.src_addr(), ip.dst_addr());
    let Ok(g) = gre::Packet::new_checked(ip.payload()) else {
        return format!(
            "{outer}: IP protocol {}, length {}",
            ip.protocol(),
            packet.len()
        );
    };
    let mut opts = Vec::new();
    if let Some(k) = g.key() {
        opts.push(format!("key {k}"));
    }
    if let Some(s) = g.sequence() {
        opts.push(format!("seq {s}"));
    }
    if g.csum_present() {
        opts.push("csum".to_string());
    }
    format!(
        "{outer}: GRE{}, length {}: {}",
        if opts.is_empty() {
            String::new()
        } else {
            format!(" ({})", opts.join(", "))
        },
        packet.len(),
        frame_summary(g.payload())
    )
}

/// A classic pcap file (the format of tcpdump -w): a 24-byte header, then per frame a 16-byte
/// record header and the bytes. Little-endian, microsecond timestamps.
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(mut out: W, linktype: u32) -> io::Result<Self> {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes()); // version 2.4
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&0i32.to_le_bytes()); // timestamps are UTC
        header.extend_from_slice(&0u32.to_le_bytes()); // accuracy: unspecified
        header.extend_from_slice(&SNAPLEN.to_le_bytes());
        header.extend_from_slice(&linktype.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out })
    }

    pub fn write(&mut self, time_us: u64, data: &[u8]) -> io::Result<()> {
        let orig = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let kept = &data[..data.len().min(SNAPLEN as usize)];
        let mut record = Vec::with_capacity(16 + kept.len());
        let secs = u32::try_from(time_us / 1_000_000).unwrap_or(u32::MAX);
        let usecs = (time_us % 1_000_000) as u32; // < 1e6 fits
        record.extend_from_slice(&secs.to_le_bytes());
        record.extend_from_slice(&usecs.to_le_bytes());
        record.extend_from_slice(&(kept.len() as u32).to_le_bytes()); // <= SNAPLEN
        record.extend_from_slice(&orig.to_le_bytes());
        record.extend_from_slice(kept);
        self.out.write_all(&record)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// `grebe capture`'s options.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    pub rundir: PathBuf,
    pub port: String,
    /// `-w FILE`: pcap to FILE (`-` for stdout) instead of summary lines.
    pub write: Option<PathBuf>,
    pub outer: bool,
    pub count: Option<u64>,
}

/// The client's side: asks the daemon to watch the port, writes what comes.
pub fn run(opts: CaptureOptions) -> anyhow::Result<ExitCode> {
    let mut args = vec!["capture".to_string(), opts.port.clone()];
    if opts.outer {
        args.push("--outer".into());
    }
    if let Some(n) = opts.count {
        args.extend(["--count".into(), n.to_string()]);
    }
    let linktype = if opts.outer {
        LINKTYPE_RAW
    } else {
        LINKTYPE_ETHERNET
    };
    let mut client = StreamClient::open(&opts.rundir, args)?;
    control::stop_stream_on_ctrl_c(&client)?;
    let mut pcap = None;
    let mut captured = 0u64;
    let mut skipped = 0u64;
    while let Some(message) = client.next_message() {
        match message? {
            StreamMessage::Started(what) => {
                // Only once the daemon accepted: a refused capture leaves no empty file behind.
                if let Some(path) = &opts.write {
                    pcap = Some(open_pcap(path, linktype)?);
                }
                eprintln!("grebe capture: {what}");
            }
            StreamMessage::Frame(f) => {
                captured += 1;
                let bytes = from_hex(&f.hex).map_err(|e| anyhow::anyhow!("bad frame: {e}"))?;
                match pcap.as_mut() {
                    Some(w) => {
                        w.write(f.time_us, &bytes)?;
                        w.flush()?;
                    }
                    None => {
                        let what = if opts.outer {
                            packet_summary(&bytes)
                        } else {
                            frame_summary(&bytes)
                        };
                        println!("{} {} {} {what}", clock(f.time_us), f.port, f.direction);
                    }
                }
            }
            StreamMessage::Skipped { queue, rate } => skipped = queue + rate,
            StreamMessage::Line(l) => eprintln!("{l}"),
            StreamMessage::Done(reply) => {
                eprint!("{}", reply.stderr);
                if reply.exit_code == 0 {
                    eprintln!("{captured} frames captured, {skipped} skipped");
                }
                return Ok(ExitCode::from(u8::try_from(reply.exit_code).unwrap_or(1)));
            }
        }
    }
    eprintln!("{captured} frames captured, {skipped} skipped (the daemon closed the stream)");
    Ok(ExitCode::FAILURE)
}

fn open_pcap(path: &Path, linktype: u32) -> anyhow::Result<PcapWriter<Box<dyn Write>>> {
    let out: Box<dyn Write> = if path == Path::new("-") {
        Box::new(io::stdout())
    } else {
        Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        ))
    };
    Ok(PcapWriter::new(out, linktype)?)
}

/// Does the whole GRE packet `packet` parse, and carry exactly `frame`? A pcap record must be the
/// packet as it was on the wire; anything else is left out and counted, never written.
fn carries(packet: &[u8], frame: &[u8]) -> bool {
    encap::decap(packet).is_ok_and(|d| packet.get(d.frame) == Some(frame))
}

fn usage(problem: &str) -> Reply {
    Reply::error(
        2,
        format!(
            "grebe capture: {problem}\n  usage: grebe capture PORT [-w FILE.pcap] [--outer] [--count N]\n"
        ),
    )
}

/// The daemon's side: watches one port on the stream's own thread; the daemon's lock is taken
/// only to find the port and start watching.
pub fn serve(state: &Mutex<DaemonState>, conn: &mut StreamConn, args: &[String]) -> Reply {
    let mut port = None;
    let mut outer = false;
    let mut count = None;
    let mut it = args.iter().map(String::as_str);
    while let Some(a) = it.next() {
        match a {
            "--outer" => outer = true,
            "--count" => {
                let v = it.next().unwrap_or("");
                match v.parse::<u64>() {
                    Ok(n) if n > 0 => count = Some(n),
                    _ => return usage(&format!("--count {v:?} is not a positive number")),
                }
            }
            _ if a.starts_with('-') => return usage(&format!("unknown option {a}")),
            _ if port.is_none() => port = Some(a.to_string()),
            _ => return usage(&format!("unexpected argument {a}")),
        }
    }
    let Some(port) = port else {
        return usage("a port is required");
    };
    let (monitor, what) = {
        let s = state.lock().unwrap_or_else(|e| e.into_inner());
        let (Some(id), Some((bridge, kind))) =
            (s.datapath.port_id(&port), s.datapath.port_kind(&port))
        else {
            let names: Vec<&str> = s.datapath.port_names().collect();
            return Reply::error(
                2,
                format!(
                    "grebe capture: no port named {port} (ports: {})\n",
                    names.join(", ")
                ),
            );
        };
        let what = match kind {
            PortKind::Tunnel(c) if outer => format!(
                "capturing on {port} (bridge {bridge}, GRE to {}): whole packets, outer IPv4 + GRE + frame (link type RAW); Ctrl-C to stop",
                c.remote_ip
            ),
            PortKind::Tunnel(c) => format!(
                "capturing on {port} (bridge {bridge}, GRE to {}): inner Ethernet frames (--outer for the GRE packets); Ctrl-C to stop",
                c.remote_ip
            ),
            PortKind::Internal { .. } | PortKind::System if outer => {
                return usage(&format!(
                    "--outer needs a GRE port: {port} is not a tunnel, its frames have no outer header"
                ));
            }
            PortKind::System => format!(
                "capturing on {port} (bridge {bridge}, system): Ethernet frames; Ctrl-C to stop"
            ),
            PortKind::Internal { .. } => format!(
                "capturing on {port} (bridge {bridge}, internal): Ethernet frames; Ctrl-C to stop"
            ),
        };
        let monitor = match s.datapath.monitor(MonitorSpec {
            ports: Some(vec![id]),
            packets: outer,
        }) {
            Ok(m) => m,
            Err(e) => return Reply::error(1, format!("grebe capture: {e}\n")),
        };
        if let Err(e) = s.datapath.sync() {
            return Reply::error(1, format!("grebe capture: {e}\n"));
        }
        (monitor, what)
    };
    conn.send(&StreamMessage::Started(what));
    let mut sent = 0u64;
    let mut reported = 0u64;
    let mut last_report = Instant::now();
    let mut unusable = 0u64;
    loop {
        if conn.client_gone() || count.is_some_and(|n| sent >= n) {
            break;
        }
        match monitor.events.recv_timeout(TICK) {
            Ok(event) => {
                let bytes = if outer {
                    event.packet.as_deref()
                } else {
                    Some(&event.frame[..])
                };
                let Some(bytes) = bytes else {
                    unusable += 1;
                    continue;
                };
                if outer && !carries(bytes, &event.frame) {
                    // Not the packet as it was on the wire (see `carries`): leave it out rather
                    // than write a corrupt record.
                    if unusable == 0 {
                        conn.send(&StreamMessage::Line(format!(
                            "grebe capture: a {} packet on {port} reached the capture without a parsable outer header: such packets are left out and counted as skipped",
                            match event.direction {
                                Direction::Rx => "received",
                                Direction::Tx => "sent",
                            }
                        )));
                    }
                    unusable += 1;
                    continue;
                }
                let frame = CapturedFrame {
                    time_us: micros(event.time),
                    port: port.clone(),
                    direction: match event.direction {
                        Direction::Rx => "rx",
                        Direction::Tx => "tx",
                    }
                    .to_string(),
                    hex: to_hex(bytes),
                };
                sent += 1;
                if !conn.send(&StreamMessage::Frame(frame)) {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Reply::error(1, "grebe capture: the datapath stopped\n");
            }
        }
        let skipped = monitor.skipped() + unusable;
        if skipped != reported && last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            reported = skipped;
            conn.send(&StreamMessage::Skipped {
                queue: skipped,
                rate: 0,
            });
        }
    }
    conn.send(&StreamMessage::Skipped {
        queue: monitor.skipped() + unusable,
        rate: 0,
    });
    Reply::ok("")
}

/// `grebe capture` is a stream of the control socket, not an ovs-appctl command.
pub fn register(r: &mut crate::registry::Registry<DaemonState>) {
    r.stream("capture", None, |state, conn, args| {
        serve(state, conn, &args[1..])
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_layout_is_the_classic_one() {
        let mut out = Vec::new();
        let mut w = PcapWriter::new(&mut out, LINKTYPE_RAW).unwrap();
        w.write(1_700_000_000_123_456, &[0x45, 0, 0, 20]).unwrap();
        assert_eq!(out.len(), 24 + 16 + 4);
        assert_eq!(&out[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(&out[20..24], &101u32.to_le_bytes());
        assert_eq!(&out[24..28], &1_700_000_000u32.to_le_bytes());
        assert_eq!(&out[28..32], &123_456u32.to_le_bytes());
        assert_eq!(&out[32..36], &4u32.to_le_bytes());
        assert_eq!(&out[40..], &[0x45, 0, 0, 20]);
    }

    #[test]
    fn summaries_name_arp_and_icmp() {
        let mut arp = vec![0xff; 6];
        arp.extend([2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        arp.extend([0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 198, 51, 100, 1]);
        arp.extend([0, 0, 0, 0, 0, 0, 198, 51, 100, 2]);
        assert_eq!(
            frame_summary(&arp),
            "02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ARP, length 42: who-has 198.51.100.2 tell 198.51.100.1"
        );
        assert_eq!(frame_summary(&[0; 5]), "truncated frame, length 5");
        assert_eq!(clock(3_723_000_001), "01:02:03.000001");
    }

    /// An Ethernet frame from 02:..:01 to 02:..:02 carrying IPv4 198.51.100.1 > .2 with `l4`.
    fn ipv4_frame(protocol: u8, l4: &[u8]) -> Vec<u8> {
        let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        let total = (20 + l4.len()) as u16;
        frame.extend([
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            protocol,
        ]);
        frame.extend([0, 0, 198, 51, 100, 1, 198, 51, 100, 2]);
        frame.extend(l4);
        frame
    }

    #[test]
    fn summaries_name_icmp_udp_tcp_and_the_tunnel() {
        let echo = [8, 0, 0, 0, 0, 3, 0, 1];
        let ping = ipv4_frame(1, &echo);
        assert_eq!(
            frame_summary(&ping),
            "02:00:00:00:00:01 > 02:00:00:00:00:02, IPv4, length 42: 198.51.100.1 > 198.51.100.2: ICMP echo request, id 3, seq 1"
        );
        let tail = |frame: &[u8]| {
            let line = frame_summary(frame);
            line.split_once(": ").map(|(_, t)| t.to_string()).unwrap()
        };
        assert_eq!(
            tail(&ipv4_frame(1, &[0, 0, 0, 0, 0, 9, 0, 2])),
            "198.51.100.1 > 198.51.100.2: ICMP echo reply, id 9, seq 2"
        );
        assert_eq!(
            tail(&ipv4_frame(1, &[3, 4, 0, 0, 0, 0, 5, 0xc4])),
            "198.51.100.1 > 198.51.100.2: ICMP destination unreachable, code 4"
        );
        assert_eq!(
            tail(&ipv4_frame(1, &[11, 0, 0, 0, 0, 0, 0, 0])),
            "198.51.100.1 > 198.51.100.2: ICMP type 11, code 0"
        );
        assert_eq!(
            tail(&ipv4_frame(17, &[0x30, 0x39, 0, 53, 0, 8, 0, 0])),
            "198.51.100.1.12345 > 198.51.100.2.53: UDP"
        );
        let mut syn = [0u8; 20];
        syn[..4].copy_from_slice(&[0x9c, 0x40, 0, 80]);
        syn[12] = 0x50;
        assert_eq!(
            tail(&ipv4_frame(6, &syn)),
            "198.51.100.1.40000 > 198.51.100.2.80: TCP"
        );
        assert_eq!(
            tail(&ipv4_frame(50, &[])),
            "198.51.100.1 > 198.51.100.2: IP protocol 50"
        );

        let header = encap::OuterHeader {
            src: std::net::Ipv4Addr::new(192, 0, 2, 1),
            key: Some(5),
            ..encap::OuterHeader::new(std::net::Ipv4Addr::new(192, 0, 2, 2))
        };
        let mut buf = [0u8; encap::tunnel::MAX_OUTER_LEN];
        let n = header.emit(&mut buf, &ping, 0).unwrap();
        let packet: Vec<u8> = buf[..n].iter().chain(&ping).copied().collect();
        assert_eq!(
            packet_summary(&packet),
            format!(
                "192.0.2.1 > 192.0.2.2: GRE (key 5), length {}: {}",
                n + ping.len(),
                frame_summary(&ping)
            )
        );
        assert_eq!(packet_summary(&[0x45]), "not an IPv4 packet, length 1");
    }
}
