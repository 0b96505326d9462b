//! The whole per-frame decision on a batch of 32 GRE packets: parse outer IPv4 and GRE, find the
//! tunnel, run the bridge's pipeline (gate, ingress checks, learn the inner source, look up the
//! inner destination), apply the delivery rule to the chosen port, and write the outer headers for
//! the reply direction. No IO: this is the CPU cost grebe adds to each frame.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datapath::port::{TunnelConfig, TunnelMap};
use datapath::{Action, Delivery, FrameSize, Gate, PortView, Rules, process, should_deliver};
use encap::OuterHeader;
use learning::{Config, PortId, SharedMacTable};

const BATCH: usize = 32;
const TAP: PortId = PortId(1);
const TUNNEL: PortId = PortId(2);
const REMOTE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 15);

fn tunnel(key: Option<u32>) -> TunnelConfig {
    TunnelConfig {
        remote_ip: REMOTE.into(),
        local_ip: None,
        key,
        csum: false,
        seq: false,
        ttl: 64,
        tos: 0,
        large_frames: false,
        df_default: true,
    }
}

/// 32 GRE packets, as the raw socket returns them, each carrying a `frame_len`-byte frame from a
/// distinct remote MAC to a distinct local MAC.
fn packets(frame_len: usize, header: &OuterHeader) -> Vec<Vec<u8>> {
    (0..BATCH)
        .map(|i| {
            let start = header.len();
            let mut buf = vec![0u8; start + frame_len];
            let frame = &mut buf[start..];
            frame[..6].copy_from_slice(&[0x02, 0, 0, 0, 1, i as u8]);
            frame[6..12].copy_from_slice(&[0x02, 0, 0, 0, 2, i as u8]);
            frame[12..14].copy_from_slice(&[0x08, 0x00]);
            let at = header
                .emit_in_front(&mut buf, start..start + frame_len, 0)
                .expect("headroom reserved");
            assert_eq!(at, 0);
            buf
        })
        .collect()
}

fn decision(c: &mut Criterion) {
    let mut group = c.benchmark_group("decision");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, frame_len, key) in [
        ("64B/plain", 64, None),
        ("1500B/plain", 1500, None),
        ("64B/key", 64, Some(5)),
    ] {
        let config = tunnel(key);
        // What the peer sent us: from 192.0.2.15 to us.
        let mut peer = config.outer_header().expect("IPv4 ends");
        peer.src = REMOTE;
        peer.dst = Ipv4Addr::new(192, 0, 2, 10);
        let batch = packets(frame_len, &peer);
        let mut tunnels = TunnelMap::default();
        tunnels.insert(&config, TUNNEL).unwrap();
        let table = SharedMacTable::new(Config::default());
        let now = Instant::now();
        for i in 0..BATCH {
            // The local hosts are known on the TAP, as after the first ARP exchange.
            table.learn([0x02, 0, 0, 0, 1, i as u8], TAP, now);
        }
        let reply = config.outer_header().expect("IPv4 ends");
        let rules = Rules::default();
        let from = PortView {
            tunnel: true,
            max_frame: Some(1500 - reply.len() as u32),
            ..PortView::internal(TUNNEL, Gate::Open)
        };
        let tap = PortView::internal(TAP, Gate::Open);
        let mut header = [0u8; 40];
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut unicast = 0;
                for packet in &batch {
                    let d = encap::decap(black_box(packet)).expect("valid packet");
                    let ingress = tunnels
                        .lookup(d.outer.src_addr.into(), d.gre.key)
                        .expect("tunnel");
                    let frame = &packet[d.frame];
                    let from = PortView {
                        id: ingress,
                        ..from
                    };
                    let outcome = process(&table, rules, from, frame, now);
                    if let Action::Deliver(p) = outcome.action
                        && p == tap.id
                        && should_deliver(
                            &tap,
                            &from,
                            rules,
                            Delivery::Unicast,
                            outcome.vlan.expect("classified"),
                            FrameSize::plain(frame.len()),
                        )
                        .is_ok()
                    {
                        unicast += 1;
                    }
                    // The reply direction: outer IPv4 + GRE in front of the same frame.
                    let n = reply.emit(&mut header, frame, 0).expect("fits");
                    black_box(&header[..n]);
                }
                assert_eq!(unicast, BATCH);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decision);
criterion_main!(benches);
