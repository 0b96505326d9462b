//! RSTP against itself in the in-memory mesh, and against hand-built BPDUs.

mod mesh;

use std::time::Duration;

use mesh::{Mesh, fast_timers, port_to};
use stp::bpdu::{self, Bpdu, ConfigBpdu, VERSION_RSTP, VERSION_STP, flags};
use stp::rapid::Rstp;
use stp::{
    BpduError, BridgeConfig, BridgeId, Event, PortConfig, PortNo, PortRole, PortState, SpanningTree,
};

const TUNNEL_COST: u32 = 2000;

fn rstp(i: usize) -> Box<dyn SpanningTree> {
    Box::new(Rstp::new(&fast_timers(i)))
}

fn converged(n: usize) -> impl Fn(&Mesh) -> bool {
    move |m: &Mesh| {
        m.is_spanning_tree() && m.bridges.iter().all(|b| b.status().root_id == root_id(0)) && {
            let _ = n;
            true
        }
    }
}

fn root_id(i: usize) -> BridgeId {
    fast_timers(i).bridge_id()
}

/// Converges `n` bridges from cold and returns the mesh and how long it took.
fn converge(n: usize) -> (Mesh, Duration) {
    let mut mesh = Mesh::full(n, TUNNEL_COST, rstp);
    let took = mesh
        .run_until(Duration::from_secs(30), converged(n))
        .expect("the mesh converges");
    (mesh, took)
}

#[test]
fn three_bridges_converge_by_handshake_well_within_forward_delay() {
    let (mesh, took) = converge(3);
    println!("3-bridge full mesh converged in {took:?} (simulated)");
    assert!(took <= Duration::from_secs(1), "took {took:?}");
    assert_eq!(mesh.blocked_links(), vec![(1, 2)]);
    let root = mesh.bridges[0].status();
    assert!(root.is_root());
    for i in 1..3 {
        let status = mesh.bridges[i].status();
        assert_eq!(status.root_id, root.bridge_id);
        assert_eq!(status.root_port, Some(port_to(0)));
        assert_eq!(status.root_path_cost, TUNNEL_COST);
    }
    // Bridge 1 serves the 1–2 link; bridge 2 keeps it as its alternate path.
    assert_eq!(mesh.role(1, port_to(2)), PortRole::Designated);
    assert_eq!(mesh.role(2, port_to(1)), PortRole::Alternate);
    assert_eq!(mesh.state(2, port_to(1)), PortState::Discarding);
}

#[test]
fn cutting_a_root_link_opens_the_alternate_at_once() {
    let (mut mesh, _) = converge(3);
    mesh.run_for(Duration::from_secs(5));
    mesh.cut(0, 1);
    let took = mesh
        .run_until(Duration::from_secs(30), converged(3))
        .expect("the mesh reconverges");
    println!("after cutting 0–1, reconverged in {took:?} (simulated)");
    assert!(took <= Duration::from_millis(500), "took {took:?}");
    assert!(mesh.blocked_links().is_empty());
    assert_eq!(mesh.state(1, port_to(2)), PortState::Forwarding);
    assert_eq!(mesh.state(2, port_to(1)), PortState::Forwarding);
    let status = mesh.bridges[1].status();
    assert_eq!(status.root_port, Some(port_to(2)));
    assert_eq!(status.root_path_cost, 2 * TUNNEL_COST);
}

#[test]
fn a_silent_link_ages_out_and_the_tree_heals() {
    let (mut mesh, _) = converge(3);
    mesh.run_for(Duration::from_secs(5));
    // The link stops carrying BPDUs but neither port goes down: only ageing can tell.
    for link in &mut mesh.links {
        if (link.a.0, link.b.0) == (0, 1) {
            link.up = false;
        }
    }
    let healed = |m: &Mesh| {
        m.state(1, port_to(2)).forwards()
            && m.state(2, port_to(1)).forwards()
            && m.bridges[1].status().root_port == Some(port_to(2))
    };
    let took = mesh
        .run_until(Duration::from_secs(30), healed)
        .expect("bridge 1 finds the root through bridge 2");
    println!("after 0–1 fell silent, healed in {took:?} (simulated; 3 × hello to age out)");
    // Received information lasts three hellos of 2 s.
    assert!(took <= Duration::from_secs(7), "took {took:?}");
    assert!(took >= Duration::from_secs(4), "took {took:?}");
}

#[test]
fn a_converged_tree_stays_quiet() {
    let (mut mesh, _) = converge(3);
    mesh.run_for(Duration::from_secs(10));
    let states = mesh.states.clone();
    let delivered = mesh.delivered;
    let flushes = mesh.flushes.clone();
    for _ in 0..600 {
        mesh.step(Duration::from_millis(100));
        assert_eq!(
            mesh.states, states,
            "a port changed state at {:?}",
            mesh.now
        );
        assert!(mesh.is_spanning_tree());
    }
    let sent = mesh.delivered - delivered;
    println!("60 s of a converged 3-bridge tree: {sent} BPDUs");
    // Only designated ports send hellos: three links, one every 2 s each.
    assert!((80..=100).contains(&sent), "{sent} BPDUs in 60 s");
    assert_eq!(mesh.flushes, flushes);
}

#[test]
fn four_bridges_keep_three_links() {
    let (mesh, took) = converge(4);
    println!("4-bridge full mesh converged in {took:?} (simulated)");
    assert!(took <= Duration::from_secs(2), "took {took:?}");
    let blocked = mesh.blocked_links();
    assert_eq!(blocked.len(), 3, "{blocked:?}");
    // The root reaches every other bridge directly.
    for i in 1..4 {
        assert!(mesh.state(0, port_to(i)).forwards());
        assert!(mesh.state(i, port_to(0)).forwards());
    }
}

#[test]
fn timers_in_any_chunks_reach_the_same_tree() {
    for step in [
        Duration::from_secs(1),
        Duration::from_secs(5),
        Duration::from_millis(300),
    ] {
        let mut mesh = Mesh::full(3, TUNNEL_COST, rstp);
        mesh.deliver();
        for _ in 0..10 {
            mesh.step(step);
        }
        assert!(mesh.is_spanning_tree(), "step {step:?}");
        assert_eq!(mesh.blocked_links(), vec![(1, 2)], "step {step:?}");
    }
    let mut lone = Rstp::new(&fast_timers(0));
    lone.add_port(&port(1));
    lone.tick(Duration::MAX);
    lone.tick(Duration::MAX);
    assert_eq!(lone.port_state(1), PortState::Forwarding);
}

// ---- One bridge against hand-built BPDUs ----

fn port(number: PortNo) -> PortConfig {
    PortConfig {
        number,
        priority: 128,
        path_cost: TUNNEL_COST,
        mac: [2, 0, 0, 0, 9, number as u8],
    }
}

/// A neighbour's BPDU, as a designated port of a better bridge (the root) sends it.
fn from_root(flags: u8) -> ConfigBpdu {
    let root = BridgeId::new(4096, [2, 0, 0, 0, 0, 0xaa]);
    ConfigBpdu {
        flags: flags | ConfigBpdu::role_flags(PortRole::Designated),
        root,
        root_path_cost: 0,
        bridge: root,
        port_id: 0x8001,
        message_age: 0,
        max_age: 6 * 256,
        hello_time: 2 * 256,
        forward_delay: 4 * 256,
    }
}

fn frame(bpdu: Bpdu) -> Vec<u8> {
    bpdu.emit([2, 0, 0, 0, 0, 0xaa]).to_vec()
}

fn drain(bridge: &mut Rstp) -> (Vec<Bpdu>, Vec<Event>) {
    let mut sent = Vec::new();
    while let Some(tx) = bridge.poll_transmit() {
        sent.push(Bpdu::parse(&tx.frame).expect("we send what we parse"));
    }
    let mut events = Vec::new();
    while let Some(event) = bridge.poll_event() {
        events.push(event);
    }
    (sent, events)
}

/// The bridge's answers on `port`, each with its protocol version byte.
fn versions_sent(bridge: &mut Rstp, port: PortNo) -> Vec<u8> {
    let mut versions = Vec::new();
    while let Some(tx) = bridge.poll_transmit() {
        if tx.port == port {
            versions.push(tx.frame[19]);
        }
    }
    versions
}

/// After `secs` more seconds, the bridge has sent on `port`, and only BPDUs of `version`.
fn sends_only(bridge: &mut Rstp, port: PortNo, secs: u64, version: u8) {
    bridge.tick(Duration::from_secs(secs));
    let versions = versions_sent(bridge, port);
    assert!(!versions.is_empty(), "nothing sent");
    assert!(versions.iter().all(|&v| v == version), "{versions:?}");
}

/// An 802.1D bridge, worse than `from_root`'s.
fn legacy_peer() -> ConfigBpdu {
    ConfigBpdu {
        flags: 0,
        root: BridgeId::new(61440, [2, 0, 0, 0, 0, 0xbb]),
        bridge: BridgeId::new(61440, [2, 0, 0, 0, 0, 0xbb]),
        ..from_root(0)
    }
}

#[test]
fn an_802_1d_neighbour_gets_config_bpdus() {
    let mut bridge = Rstp::new(&fast_timers(0));
    bridge.add_port(&port(1));
    bridge.tick(Duration::from_secs(4));
    assert!(
        versions_sent(&mut bridge, 1)
            .iter()
            .all(|&v| v == VERSION_RSTP)
    );

    // An 802.1D bridge, worse than us, announces itself on the link.
    let legacy = legacy_peer();
    bridge.receive(1, &frame(Bpdu::Config(legacy))).unwrap();
    // What it sends in the same breath was decided before the migration machine ran.
    versions_sent(&mut bridge, 1);
    sends_only(&mut bridge, 1, 2, VERSION_STP);

    // Once it is gone and an RSTP bridge speaks up instead, we speak RSTP again.
    bridge.tick(Duration::from_secs(4));
    assert!(
        versions_sent(&mut bridge, 1)
            .iter()
            .all(|&v| v == VERSION_STP)
    );
    let rstp_peer = ConfigBpdu {
        flags: ConfigBpdu::role_flags(PortRole::Designated),
        ..legacy
    };
    bridge.receive(1, &frame(Bpdu::Rst(rstp_peer))).unwrap();
    sends_only(&mut bridge, 1, 2, VERSION_RSTP);
}

#[test]
fn mcheck_tries_rstp_again() {
    let mut bridge = Rstp::new(&fast_timers(0));
    bridge.add_port(&port(1));
    bridge.tick(Duration::from_secs(4));
    bridge
        .receive(1, &frame(Bpdu::Config(legacy_peer())))
        .unwrap();
    versions_sent(&mut bridge, 1);
    sends_only(&mut bridge, 1, 2, VERSION_STP);
    bridge.mcheck(1);
    bridge.tick(Duration::from_secs(2));
    let versions = versions_sent(&mut bridge, 1);
    assert!(versions.contains(&VERSION_RSTP), "{versions:?}");
}

#[test]
fn garbage_is_counted_and_changes_nothing() {
    let mut bridge = Rstp::new(&fast_timers(0));
    bridge.add_port(&port(1));
    bridge.add_port(&port(2));
    bridge.tick(Duration::from_secs(1));
    drain(&mut bridge);
    let before = bridge.status();

    let good = frame(Bpdu::Rst(from_root(0)));
    let mut wrong_llc = good.clone();
    wrong_llc[14] = 0xaa;
    let mut too_old = good.clone();
    too_old[44] = 7; // message age 7 s ≥ max age 6 s
    let cases: [(&[u8], BpduError); 5] = [
        (&good[..20], BpduError::Truncated),
        (&wrong_llc, BpduError::NotLlc),
        (&too_old, BpduError::BadTimers),
        (&[0u8; 64], BpduError::NotGroupAddress),
        (&good[..40], BpduError::Truncated),
    ];
    for (bytes, error) in cases {
        assert_eq!(bridge.receive(1, bytes), Err(error));
    }
    // A configuration BPDU whose message age is below max age in 1/256 s but not in whole
    // seconds, as OVS counts: rejected too.
    let mut almost = from_root(0);
    almost.flags = 0;
    almost.max_age = 6 * 256 + 100;
    almost.message_age = 6 * 256 + 10;
    assert_eq!(
        bridge.receive(1, &frame(Bpdu::Config(almost))),
        Err(BpduError::BadTimers)
    );

    let after = bridge.status();
    assert_eq!(after.ports[0].counters.errors, 6);
    assert_eq!(after.ports[0].counters.rx, 0);
    assert_eq!(after.root_id, before.root_id);
    assert_eq!(after.ports[0].role, before.ports[0].role);
    let (sent, events) = drain(&mut bridge);
    assert!(sent.is_empty() && events.is_empty(), "{sent:?} {events:?}");

    assert_eq!(bridge.receive(9, &good), Err(BpduError::PortNotInTree));
    assert_eq!(bridge.receive(0, &good), Err(BpduError::PortNotInTree));
}

#[test]
fn forged_bpdus_never_panic() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::default();
    runner
        .run(
            &(
                proptest::collection::vec(any::<u8>(), 0..12),
                any::<[u8; 35]>(),
                0u8..4,
            ),
            |(head, body, kind)| {
                let mut bridge = Rstp::new(&fast_timers(0));
                bridge.add_port(&port(1));
                bridge.add_port(&port(2));
                // Well-framed BPDUs with arbitrary fields, then arbitrary junk.
                let mut forged = frame(Bpdu::Rst(from_root(0)));
                forged[17..17 + 35].copy_from_slice(&body);
                forged[17] = 0;
                forged[18] = 0;
                forged[20] = [0x00, 0x02, 0x80, 0x02][usize::from(kind)];
                for _ in 0..3 {
                    let _ = bridge.receive(1, &forged);
                    let _ = bridge.receive(2, &head);
                    bridge.tick(Duration::from_millis(700));
                    // A forged root's nonsense times are passed on, as OVS does: no parse here.
                    while bridge.poll_transmit().is_some() {}
                    while bridge.poll_event().is_some() {}
                }
                let _ = bridge.status();
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn a_topology_change_flushes_the_other_ports() {
    let mut bridge = Rstp::new(&fast_timers(5));
    bridge.add_port(&port(1));
    bridge.add_port(&port(2));
    // Port 1 hears the root and becomes our root port; port 2 serves a downstream bridge that
    // agrees to its proposals.
    let hello = frame(Bpdu::Rst(from_root(flags::LEARNING | flags::FORWARDING)));
    for _ in 0..8 {
        bridge.receive(1, &hello).unwrap();
        let mut answers = Vec::new();
        while let Some(tx) = bridge.poll_transmit() {
            if tx.port == 2 {
                answers.push(Bpdu::parse(&tx.frame).unwrap());
            }
        }
        for sent in answers {
            if let Bpdu::Rst(c) = sent {
                // The downstream root port agrees to what it was told.
                let agree = ConfigBpdu {
                    flags: ConfigBpdu::role_flags(PortRole::Root) | flags::AGREEMENT,
                    ..c
                };
                bridge.receive(2, &frame(Bpdu::Rst(agree))).unwrap();
            }
        }
        while bridge.poll_event().is_some() {}
        bridge.tick(Duration::from_secs(1));
    }
    assert_eq!(bridge.port_state(1), PortState::Forwarding);
    assert_eq!(bridge.port_state(2), PortState::Forwarding);
    assert_eq!(bridge.status().root_port, Some(1));
    drain(&mut bridge);

    // The root announces a topology change.
    let tc = frame(Bpdu::Rst(from_root(
        flags::LEARNING | flags::FORWARDING | flags::TOPOLOGY_CHANGE,
    )));
    bridge.receive(1, &tc).unwrap();
    let (sent, events) = drain(&mut bridge);
    assert_eq!(events, vec![Event::FlushPort(2)]);
    // And passes it on downstream.
    assert!(
        sent.iter()
            .any(|b| matches!(b, Bpdu::Rst(c) if c.has(flags::TOPOLOGY_CHANGE)))
    );
}

#[test]
fn topology_changes_in_the_mesh_flush() {
    let (mut mesh, _) = converge(3);
    mesh.run_for(Duration::from_secs(10));
    let before = mesh.flushes.clone();
    mesh.cut(0, 1);
    mesh.run_for(Duration::from_secs(2));
    // Bridge 2 opened its port to 1 and flushed its port to the root; bridge 0 heard of it.
    assert!(
        mesh.flushes[2] > before[2],
        "{:?} → {:?}",
        before,
        mesh.flushes
    );
    assert!(
        mesh.flushes[1] > before[1],
        "{:?} → {:?}",
        before,
        mesh.flushes
    );
}

#[test]
fn status_has_what_rstp_show_prints() {
    let (mesh, _) = converge(3);
    let root = mesh.bridges[0].status();
    assert_eq!(root.protocol, stp::Protocol::Rstp);
    // OVS fixes RSTP's hello time at 2 s.
    assert_eq!(root.bridge_times.hello_time, Duration::from_secs(2));
    assert_eq!(root.bridge_times.max_age, Duration::from_secs(6));
    assert_eq!(root.bridge_times.forward_delay, Duration::from_secs(4));
    assert_eq!(root.root_times, root.bridge_times);
    let leaf = mesh.bridges[2].status();
    assert_eq!(leaf.root_times.max_age, Duration::from_secs(6));
    assert_eq!(leaf.ports.len(), 2);
    assert!(
        leaf.ports
            .iter()
            .all(|p| p.priority == 128 && p.path_cost == TUNNEL_COST)
    );
    assert!(leaf.ports.iter().all(|p| p.counters.rx > 0));
    assert!(root.ports.iter().all(|p| p.counters.tx > 0));
    assert_eq!(mesh.bridges[2].port_state(77), PortState::Disabled);
}

#[test]
fn every_port_reports_its_first_state() {
    let mut bridge = Rstp::new(&BridgeConfig::default());
    bridge.add_port(&port(3));
    let (_, events) = drain(&mut bridge);
    assert_eq!(
        events.first(),
        Some(&Event::PortState {
            port: 3,
            state: PortState::Discarding
        })
    );
    bridge.remove_port(3);
    let (_, events) = drain(&mut bridge);
    assert!(events.contains(&Event::PortState {
        port: 3,
        state: PortState::Disabled
    }));
    assert_eq!(bridge.status().ports.len(), 0);
}

#[test]
fn timers_are_taken_as_ovs_takes_them() {
    let mut config = fast_timers(0);
    config.priority = 4097;
    let bridge = Rstp::new(&config);
    let status = bridge.status();
    assert_eq!(status.bridge_id.priority(), 4096);
    assert_eq!(status.bridge_times.max_age, Duration::from_secs(6));
    assert_eq!(status.bridge_times.forward_delay, Duration::from_secs(4));

    // Max age 40 does not fit forward delay 4 until forward delay is 30; both arrive at once.
    let mut bridge = bridge;
    bridge.set_bridge_config(&BridgeConfig {
        max_age: Duration::from_secs(40),
        forward_delay: Duration::from_secs(30),
        ..config
    });
    let times = bridge.status().bridge_times;
    assert_eq!(times.max_age, Duration::from_secs(40));
    assert_eq!(times.forward_delay, Duration::from_secs(30));

    // Inconsistent values are ignored.
    bridge.set_bridge_config(&BridgeConfig {
        max_age: Duration::from_secs(41),
        forward_delay: Duration::from_secs(3),
        ..config
    });
    assert_eq!(bridge.status().bridge_times, times);
    let _ = bpdu::to_ticks;
}

#[test]
fn a_dearer_path_moves_the_root_port() {
    let (mut mesh, _) = converge(3);
    mesh.run_for(Duration::from_secs(3));
    // Bridge 2's direct link to the root now costs more than the way through bridge 1.
    mesh.bridges[2].add_port(&PortConfig {
        number: port_to(0),
        priority: 128,
        path_cost: 5 * TUNNEL_COST,
        mac: [2, 0, 0, 0, 3, 1],
    });
    let took = mesh
        .run_until(Duration::from_secs(30), |m| {
            m.is_spanning_tree() && m.bridges[2].status().root_port == Some(port_to(1))
        })
        .expect("bridge 2 reroots through bridge 1");
    println!("path cost change: rerooted in {took:?} (simulated)");
    assert!(took <= Duration::from_secs(1), "took {took:?}");
    assert_eq!(mesh.blocked_links(), vec![(0, 2)]);
    assert_eq!(mesh.bridges[2].status().root_path_cost, 2 * TUNNEL_COST);
    assert_eq!(mesh.role(2, port_to(0)), PortRole::Alternate);
}

#[test]
fn a_better_bridge_takes_over_as_root() {
    let (mut mesh, _) = converge(3);
    mesh.run_for(Duration::from_secs(3));
    let mut config = fast_timers(2);
    config.priority = 4096;
    mesh.bridges[2].set_bridge_config(&config);
    let new_root = config.bridge_id();
    let took = mesh
        .run_until(Duration::from_secs(30), |m| {
            m.is_spanning_tree() && m.bridges.iter().all(|b| b.status().root_id == new_root)
        })
        .expect("the mesh elects bridge 2");
    println!("new root: reconverged in {took:?} (simulated)");
    assert!(took <= Duration::from_secs(2), "took {took:?}");
    assert!(mesh.bridges[2].status().is_root());
    // Bridges 0 and 1 reach it directly; the link between them is the one blocked.
    assert_eq!(mesh.blocked_links(), vec![(0, 1)]);
}

#[test]
fn the_transmit_hold_count_limits_bursts() {
    let mut bridge = Rstp::new(&fast_timers(5));
    bridge.add_port(&port(1));
    bridge.add_port(&port(2));
    bridge.tick(Duration::from_secs(1));
    drain(&mut bridge);
    // The root's port flips between two costs: every flip changes what port 2 must announce.
    let a = from_root(0);
    let b = ConfigBpdu {
        root_path_cost: 100,
        ..a
    };
    let mut on_port_2 = 0;
    for turn in 0..40 {
        let bpdu = if turn % 2 == 0 { a } else { b };
        bridge.receive(1, &frame(Bpdu::Rst(bpdu))).unwrap();
        while let Some(tx) = bridge.poll_transmit() {
            on_port_2 += usize::from(tx.port == 2);
        }
    }
    assert_eq!(on_port_2, 6, "BPDUs in one burst");
    // Each second frees one more.
    bridge.receive(1, &frame(Bpdu::Rst(a))).unwrap();
    bridge.tick(Duration::from_secs(1));
    let mut after = 0;
    while let Some(tx) = bridge.poll_transmit() {
        after += usize::from(tx.port == 2);
    }
    assert_eq!(after, 1);
}

#[test]
fn odd_port_numbers_and_unknown_ports_are_ignored() {
    let mut bridge = Rstp::new(&fast_timers(0));
    bridge.add_port(&port(0));
    bridge.add_port(&port(4096));
    assert!(bridge.status().ports.is_empty());
    bridge.remove_port(7);
    bridge.mcheck(7);
    bridge.add_port(&port(4095));
    let status = bridge.status();
    assert_eq!(status.ports.len(), 1);
    // Priority 250 is out of range: the port keeps 128. Priority 200 rounds down to 192.
    bridge.add_port(&PortConfig {
        priority: 250,
        path_cost: 0,
        ..port(4095)
    });
    assert_eq!(bridge.status().ports[0].priority, 128);
    assert_eq!(bridge.status().ports[0].path_cost, TUNNEL_COST);
    bridge.add_port(&PortConfig {
        priority: 200,
        ..port(4095)
    });
    assert_eq!(bridge.status().ports[0].priority, 192);
    let (sent, _) = drain(&mut bridge);
    match sent.last() {
        Some(Bpdu::Rst(c)) => assert_eq!(c.port_id, 0xcfff),
        other => panic!("{other:?}"),
    }
}

/// An RSTP bridge whose alternate ports stay silent, as OVS 3.1's do: their forward delay timer
/// never matches the value their state waits for, so they never answer a proposal.
struct OvsLikeAlternates(Rstp);

impl SpanningTree for OvsLikeAlternates {
    fn protocol(&self) -> stp::Protocol {
        self.0.protocol()
    }
    fn set_bridge_config(&mut self, config: &BridgeConfig) {
        self.0.set_bridge_config(config)
    }
    fn add_port(&mut self, config: &PortConfig) {
        self.0.add_port(config)
    }
    fn remove_port(&mut self, port: PortNo) {
        self.0.remove_port(port)
    }
    fn receive(&mut self, port: PortNo, frame: &[u8]) -> Result<(), BpduError> {
        self.0.receive(port, frame)
    }
    fn tick(&mut self, elapsed: Duration) {
        self.0.tick(elapsed)
    }
    fn poll_transmit(&mut self) -> Option<stp::Transmit> {
        loop {
            let tx = self.0.poll_transmit()?;
            if let Ok(Bpdu::Rst(c)) = Bpdu::parse(&tx.frame)
                && c.role() == Some(PortRole::Alternate)
            {
                continue;
            }
            return Some(tx);
        }
    }
    fn poll_event(&mut self) -> Option<Event> {
        self.0.poll_event()
    }
    fn port_state(&self, port: PortNo) -> PortState {
        self.0.port_state(port)
    }
    fn status(&self) -> stp::Status {
        self.0.status()
    }
}

#[test]
fn a_proposal_nobody_answers_forwards_after_the_edge_delay() {
    let mut mesh = Mesh::full(3, TUNNEL_COST, |i| {
        let bridge = Rstp::new(&fast_timers(i));
        if i == 2 {
            Box::new(OvsLikeAlternates(bridge)) as Box<dyn SpanningTree>
        } else {
            Box::new(bridge)
        }
    });
    let took = mesh
        .run_until(Duration::from_secs(30), converged(3))
        .expect("the mesh converges");
    println!("3-bridge mesh with a silent alternate converged in {took:?} (simulated)");
    // Bridge 1's designated port takes the silence for an edge after MigrateTime (3 s).
    assert!(
        took >= Duration::from_secs(2) && took <= Duration::from_secs(4),
        "took {took:?}"
    );
    assert_eq!(mesh.blocked_links(), vec![(1, 2)]);
    let states = mesh.states.clone();
    mesh.run_for(Duration::from_secs(30));
    assert_eq!(mesh.states, states);
}

/// Found by fuzzing (fuzz target stp_machines): a root announcing a hello time and forward
/// delay under a second had them relayed as zero, in BPDUs every receiver rejects.
#[test]
fn sub_second_timers_from_the_root_are_not_relayed_as_zero() {
    let mut bridge = Rstp::new(&BridgeConfig {
        system_id: [2, 0, 0, 0, 0, 0xcc],
        ..BridgeConfig::default()
    });
    bridge.add_port(&port(1));
    bridge.add_port(&port(2));
    drain(&mut bridge);
    let quick = ConfigBpdu {
        hello_time: 128,
        forward_delay: 200,
        ..from_root(0)
    };
    bridge.receive(1, &frame(Bpdu::Rst(quick))).unwrap();
    let mut relayed = 0;
    for _ in 0..4 {
        bridge.tick(Duration::from_millis(500));
        // drain() fails on a BPDU that does not decode.
        for sent in drain(&mut bridge).0 {
            if let Bpdu::Rst(c) | Bpdu::Config(c) = sent {
                assert!(c.hello_time > 0 && c.forward_delay > 0, "{c:?}");
                relayed += 1;
            }
        }
    }
    assert!(relayed > 0, "nothing relayed");
    assert_eq!(bridge.status().root_port, Some(1));
}

/// Found by fuzzing (fuzz target stp_machines): a root's information one hop from its max age
/// was relayed with message age = max age, a BPDU every receiver discards; stay silent instead.
#[test]
fn information_at_its_max_age_is_not_relayed() {
    let mut bridge = Rstp::new(&BridgeConfig {
        system_id: [2, 0, 0, 0, 0, 0xcc],
        ..BridgeConfig::default()
    });
    bridge.add_port(&port(1));
    bridge.add_port(&port(2));
    drain(&mut bridge);
    let old = ConfigBpdu {
        message_age: 5 * 256,
        max_age: 6 * 256,
        ..from_root(0)
    };
    bridge.receive(1, &frame(Bpdu::Rst(old))).unwrap();
    for _ in 0..4 {
        bridge.tick(Duration::from_millis(500));
        // drain() fails on a BPDU that does not decode.
        for sent in drain(&mut bridge).0 {
            if let Bpdu::Rst(c) | Bpdu::Config(c) = sent {
                assert!(c.message_age < c.max_age, "{c:?}");
            }
        }
    }
}
