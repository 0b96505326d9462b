//! 802.1D STP (`classic::Stp`) in meshes of bridges: convergence, failures, stability, topology
//! change flushes, priorities, hostile input. Times are simulated, with OVS's smallest legal
//! timers (hello 1 s, max age 6 s, forward delay 4 s).

mod mesh;

use std::collections::HashMap;
use std::time::Duration;

use mesh::{Link, Mesh, fast_timers, port_to};
use stp::bpdu::{ConfigBpdu, flags};
use stp::classic::Stp;
use stp::{
    Bpdu, BpduError, BridgeConfig, BridgeId, Event, PortConfig, PortNo, PortRole, PortState,
    SpanningTree,
};

const LIMIT: Duration = Duration::from_secs(120);
/// Max age plus forward delay: how long a topology change keeps flushing tables.
const TOPOLOGY_CHANGE_TIME: Duration = Duration::from_secs(10);

fn full_mesh(n: usize) -> Mesh {
    Mesh::full(n, 2, |i| Stp::boxed(&fast_timers(i)))
}

fn converge(mesh: &mut Mesh) -> Duration {
    mesh.run_until(LIMIT, Mesh::is_spanning_tree)
        .expect("the mesh converges to a spanning tree")
}

fn bridge_id(i: usize) -> BridgeId {
    fast_timers(i).bridge_id()
}

fn all_states(mesh: &Mesh) -> HashMap<(usize, PortNo), PortState> {
    let mut states = HashMap::new();
    for (i, bridge) in mesh.bridges.iter().enumerate() {
        for port in bridge.status().ports {
            states.insert((i, port.number), port.state);
        }
    }
    states
}

fn assert_every_bridge_flushed(before: &[usize], after: &[usize]) {
    for (i, (before, after)) in before.iter().zip(after).enumerate() {
        assert!(after > before, "bridge {i} did not flush");
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[test]
fn three_bridges_converge_with_the_link_between_non_roots_blocked() {
    let mut mesh = full_mesh(3);
    let took = converge(&mut mesh);
    println!("3-bridge mesh converged in {:.1} s", secs(took));
    // Two forward delays (listening, learning) from the moment the ports came up.
    assert!(
        took >= Duration::from_secs(8) && took <= Duration::from_millis(8500),
        "{took:?}"
    );

    for bridge in &mesh.bridges {
        assert_eq!(bridge.status().root_id, bridge_id(0));
    }
    assert!(mesh.bridges[0].status().is_root());
    assert_eq!(mesh.blocked_links(), vec![(1, 2)]);

    assert_eq!(mesh.role(0, port_to(1)), PortRole::Designated);
    assert_eq!(mesh.role(0, port_to(2)), PortRole::Designated);
    assert_eq!(mesh.role(1, port_to(0)), PortRole::Root);
    assert_eq!(mesh.role(2, port_to(0)), PortRole::Root);
    // Bridge 1 has the lower ID, so it serves the 1–2 link and bridge 2 blocks.
    assert_eq!(mesh.role(1, port_to(2)), PortRole::Designated);
    assert_eq!(mesh.role(2, port_to(1)), PortRole::Alternate);
    assert_eq!(mesh.state(2, port_to(1)), PortState::Blocking);

    let status = mesh.bridges[2].status();
    assert_eq!(status.root_port, Some(port_to(0)));
    assert_eq!(status.root_path_cost, 2);
    let numbers: Vec<PortNo> = status.ports.iter().map(|p| p.number).collect();
    assert_eq!(numbers, vec![port_to(0), port_to(1)]);
    assert!(
        status
            .ports
            .iter()
            .all(|p| p.priority == 128 && p.path_cost == 2)
    );
    assert!(status.ports.iter().all(|p| p.counters.rx > 0));
    // What the events said matches what the bridges say.
    for ((i, port), state) in &mesh.states {
        assert_eq!(mesh.state(*i, *port), *state, "bridge {i} port {port}");
    }
}

#[test]
fn four_bridges_keep_three_links_and_block_three() {
    let mut mesh = full_mesh(4);
    let took = converge(&mut mesh);
    println!("4-bridge mesh converged in {:.1} s", secs(took));
    let blocked = mesh.blocked_links();
    assert_eq!(blocked.len(), 3, "{blocked:?}");
    // The root forwards to everyone; every other link is redundant.
    assert!(
        blocked.iter().all(|&(a, b)| a != 0 && b != 0),
        "{blocked:?}"
    );
    for i in 1..4 {
        assert_eq!(mesh.role(i, port_to(0)), PortRole::Root);
    }
}

#[test]
fn path_costs_decide_the_root_port() {
    let mut mesh = full_mesh(3);
    // Bridge 1's direct link to the root costs more than the two hops through bridge 2.
    mesh.bridges[1].add_port(&PortConfig {
        number: port_to(0),
        priority: 128,
        path_cost: 100,
        mac: [2, 0, 0, 0, 2, 1],
    });
    converge(&mut mesh);
    let status = mesh.bridges[1].status();
    assert_eq!(status.root_port, Some(port_to(2)));
    assert_eq!(status.root_path_cost, 4);
    assert_eq!(mesh.role(1, port_to(0)), PortRole::Alternate);
    assert_eq!(mesh.role(2, port_to(1)), PortRole::Designated);
    assert_eq!(mesh.blocked_links(), vec![(0, 1)]);
}

#[test]
fn two_ports_of_one_bridge_on_one_link_leave_one_forwarding() {
    // A tunnel that loops back to the same bridge: each port hears the other's BPDUs, and the
    // lower port ID keeps the link.
    let mut mesh = Mesh::full(1, 2, |i| Stp::boxed(&fast_timers(i)));
    for number in [1, 2] {
        mesh.bridges[0].add_port(&PortConfig {
            number,
            priority: 128,
            path_cost: 2,
            mac: [2, 0, 0, 0, 1, number as u8],
        });
    }
    mesh.links.push(Link {
        a: (0, 1),
        b: (0, 2),
        up: true,
    });
    mesh.run_for(Duration::from_secs(20));
    assert_eq!(mesh.state(0, 1), PortState::Forwarding);
    assert_eq!(mesh.role(0, 1), PortRole::Designated);
    assert_eq!(mesh.state(0, 2), PortState::Blocking);
    assert_eq!(mesh.role(0, 2), PortRole::Alternate);
    assert!(mesh.bridges[0].status().is_root());
}

#[test]
fn the_hold_timer_limits_answers_to_one_a_second() {
    let mut stp = Stp::new(&fast_timers(0));
    stp.add_port(&PortConfig {
        number: 1,
        priority: 128,
        path_cost: 2,
        mac: [2, 0, 0, 0, 1, 1],
    });
    // Fine steps, as OVS's hold timer also advances in the tick that started it.
    for _ in 0..10 {
        stp.tick(Duration::from_millis(100));
    }
    assert_eq!(stp.poll_transmit().map(|t| t.port), Some(1));

    // A worse bridge claims the segment ten times within one hold time.
    let inferior = Bpdu::Config(config_from(bridge_id(5), 0x8001)).emit([2, 0, 0, 0, 6, 1]);
    stp.tick(Duration::from_millis(500));
    for _ in 0..10 {
        stp.receive(1, &inferior).unwrap();
    }
    assert_eq!(stp.poll_transmit(), None, "answered inside the hold time");
    stp.tick(Duration::from_millis(500));
    let answers: Vec<_> = std::iter::from_fn(|| stp.poll_transmit()).collect();
    // The pending answer and the hello due now are one BPDU.
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(stp.status().ports[0].counters.tx, 2);
}

#[test]
fn losing_the_root_link_opens_the_blocked_one() {
    let mut mesh = full_mesh(3);
    converge(&mut mesh);

    mesh.cut(0, 1);
    let took = converge(&mut mesh);
    // Bridge 1 serves the 1–2 link, so it holds no information from bridge 2 and briefly
    // declares itself root. Bridge 2 ignores that inferior claim until its copy of bridge 1's
    // old information ages out (up to max age), then its port becomes designated and goes
    // through listening and learning: up to max age + 2 × forward delay, as in 802.1D-1998.
    println!(
        "root link removed: reconverged in {:.1} s (rest of max age + 2 × forward delay)",
        secs(took)
    );
    assert!(
        took >= Duration::from_secs(8) && took <= Duration::from_secs(15),
        "{took:?}"
    );
    assert!(mesh.blocked_links().is_empty());
    assert_eq!(mesh.role(1, port_to(2)), PortRole::Root);
    assert_eq!(mesh.bridges[1].status().root_path_cost, 4);
    assert_eq!(mesh.bridges[1].status().root_id, bridge_id(0));
}

#[test]
fn a_silent_root_link_is_noticed_after_max_age() {
    let mut mesh = full_mesh(3);
    converge(&mut mesh);

    // The link dies without either port going down: only missing hellos tell.
    for link in &mut mesh.links {
        if (link.a.0, link.b.0) == (0, 1) {
            link.up = false;
        }
    }
    let took = converge(&mut mesh);
    println!(
        "root link silent: reconverged in {:.1} s (max age, then two forward delays)",
        secs(took)
    );
    assert!(
        took >= Duration::from_secs(13) && took <= Duration::from_secs(15),
        "{took:?}"
    );
    assert_eq!(mesh.role(1, port_to(2)), PortRole::Root);
    assert_eq!(mesh.state(1, port_to(2)), PortState::Forwarding);
}

#[test]
fn cutting_the_blocked_link_changes_nothing_else() {
    let mut mesh = full_mesh(3);
    converge(&mut mesh);
    let mut before = all_states(&mesh);
    before.remove(&(1, port_to(2)));
    before.remove(&(2, port_to(1)));

    mesh.cut(1, 2);
    mesh.run_for(Duration::from_secs(30));
    assert_eq!(all_states(&mesh), before);
    assert!(mesh.is_spanning_tree());
    assert_eq!(mesh.bridges[2].status().root_port, Some(port_to(0)));
}

#[test]
fn a_converged_mesh_stays_put_and_sends_one_bpdu_per_hello_per_designated_port() {
    let mut mesh = full_mesh(3);
    converge(&mut mesh);
    // Let the topology change of the ports coming up run out.
    mesh.run_for(TOPOLOGY_CHANGE_TIME + Duration::from_secs(2));

    let states = mesh.states.clone();
    let flushes = mesh.flushes.clone();
    let delivered = mesh.delivered;
    let changed = mesh.run_until(Duration::from_secs(60), |m| m.states != states);
    assert_eq!(changed, None, "a port changed state in a stable mesh");
    assert_eq!(mesh.flushes, flushes, "a stable mesh flushed its tables");

    let bpdus = mesh.delivered - delivered;
    println!("60 s of a stable 3-bridge mesh: {bpdus} BPDUs");
    // Root: one per port per hello; bridge 1 relays on its one designated port; bridge 2 none.
    assert!((170..=190).contains(&bpdus), "{bpdus}");
}

#[test]
fn a_new_link_is_a_topology_change_every_bridge_flushes_for() {
    let mut mesh = full_mesh(3);
    mesh.cut(1, 2);
    converge(&mut mesh);
    mesh.run_for(TOPOLOGY_CHANGE_TIME + Duration::from_secs(2));
    let flushes = mesh.flushes.clone();

    mesh.connect(1, 2, 2);
    let took = converge(&mut mesh);
    assert_eq!(mesh.blocked_links(), vec![(1, 2)]);
    mesh.run_for(Duration::from_secs(2));
    println!(
        "new link 1–2: settled in {:.1} s; flushes per bridge {:?} → {:?}",
        secs(took),
        flushes,
        mesh.flushes
    );
    // Bridge 1's new designated port starts forwarding, bridge 1 sends a TCN, the root sets
    // the TC flag and everyone flushes.
    assert_every_bridge_flushed(&flushes, &mesh.flushes);
    // The TCN was acknowledged: the flag stops after max age + forward delay.
    mesh.run_for(TOPOLOGY_CHANGE_TIME + Duration::from_secs(2));
    let settled = mesh.flushes.clone();
    mesh.run_for(Duration::from_secs(10));
    assert_eq!(mesh.flushes, settled);
}

#[test]
fn losing_a_forwarding_port_flushes_where_learning_stops() {
    let mut mesh = full_mesh(3);
    converge(&mut mesh);
    mesh.run_for(TOPOLOGY_CHANGE_TIME + Duration::from_secs(2));
    let flushes = mesh.flushes.clone();

    mesh.cut(0, 1);
    converge(&mut mesh);
    println!(
        "root link removed: flushes per bridge {:?} → {:?}",
        flushes, mesh.flushes
    );
    // Bridges 0 and 1 stopped learning on a port, which ofproto-dpif flushes for at once.
    // Bridge 2 flushes when the topology change reaches it: its port to bridge 1 becomes
    // designated and forwards, it sends a TCN, the root sets the TC flag.
    assert_every_bridge_flushed(&flushes, &mesh.flushes);
}

#[test]
fn a_lower_priority_makes_a_bridge_root() {
    let mut mesh = full_mesh(3);
    converge(&mut mesh);

    mesh.bridges[2].set_bridge_config(&BridgeConfig {
        priority: 4096,
        ..fast_timers(2)
    });
    let new_root = BridgeId::new(4096, fast_timers(2).system_id);
    let took = mesh
        .run_until(LIMIT, |m| {
            m.is_spanning_tree() && m.bridges.iter().all(|b| b.status().root_id == new_root)
        })
        .expect("bridge 2 becomes root");
    println!("priority 4096 on bridge 2: new tree in {:.1} s", secs(took));
    assert!(mesh.bridges[2].status().is_root());
    assert_eq!(mesh.role(0, port_to(2)), PortRole::Root);
    assert_eq!(mesh.role(1, port_to(2)), PortRole::Root);
    // Bridge 0 now has the lower ID of the two others and serves the 0–1 link.
    assert_eq!(mesh.blocked_links(), vec![(0, 1)]);
    assert_eq!(mesh.role(1, port_to(0)), PortRole::Alternate);
}

#[test]
fn timers_clamp_as_ovs_does() {
    let times = |hello: u64, max_age: u64, forward_delay: u64| {
        let stp = Stp::new(&BridgeConfig {
            hello_time: Duration::from_secs(hello),
            max_age: Duration::from_secs(max_age),
            forward_delay: Duration::from_secs(forward_delay),
            ..BridgeConfig::default()
        });
        let t = stp.status().bridge_times;
        (
            t.hello_time.as_secs(),
            t.max_age.as_secs(),
            t.forward_delay.as_secs(),
        )
    };
    assert_eq!(times(2, 20, 15), (2, 20, 15));
    assert_eq!(times(0, 1, 0), (1, 6, 4));
    // max age ≥ 2 × (hello + 1 s); forward delay ≥ max age / 2 + 1 s.
    assert_eq!(times(10, 20, 5), (10, 22, 12));
    assert_eq!(times(60, 100, 100), (10, 40, 30));
    assert_eq!(times(1, 30, 4), (1, 30, 16));

    // A root announces its clamped times, and a bridge that follows it uses them.
    let mut mesh = Mesh::full(2, 2, |i| {
        Stp::boxed(&BridgeConfig {
            hello_time: Duration::ZERO,
            max_age: Duration::from_secs(1),
            ..fast_timers(i)
        })
    });
    converge(&mut mesh);
    let follower = mesh.bridges[1].status();
    assert_eq!(follower.root_times.hello_time, Duration::from_secs(1));
    assert_eq!(follower.root_times.max_age, Duration::from_secs(6));
}

/// A configuration BPDU as `from` would send it on its port `port_id`.
fn config_from(from: BridgeId, port_id: u16) -> ConfigBpdu {
    ConfigBpdu {
        flags: 0,
        root: from,
        root_path_cost: 0,
        bridge: from,
        port_id,
        message_age: 0,
        max_age: 6 * 256,
        hello_time: 256,
        forward_delay: 4 * 256,
    }
}

#[test]
fn malformed_frames_are_counted_and_change_nothing() {
    let mut mesh = full_mesh(3);
    converge(&mut mesh);
    let port = port_to(2);
    let before = mesh.bridges[1].status();

    let good = Bpdu::Config(config_from(bridge_id(2), 0x8002)).emit([2, 0, 0, 0, 3, 2]);
    let mut stale = good.to_vec();
    stale[44] = 0x07; // message age 7 s, max age 6 s
    let mut not_llc = good.to_vec();
    not_llc[14] = 0xaa;
    let rst = Bpdu::Rst(config_from(bridge_id(2), 0x8002)).emit([2, 0, 0, 0, 3, 2]);
    let frames: Vec<(&[u8], BpduError)> = vec![
        (&[], BpduError::Truncated),
        (&good[..30], BpduError::Truncated),
        (&good[..45], BpduError::Truncated),
        (&[0xff; 60], BpduError::NotGroupAddress),
        (&not_llc, BpduError::NotLlc),
        (&stale, BpduError::BadTimers),
        // lib/stp.c knows no type 2 and counts it as an error.
        (&rst, BpduError::UnknownType(0x02)),
    ];
    for (frame, error) in &frames {
        assert_eq!(mesh.bridges[1].receive(port, frame), Err(*error));
    }
    assert_eq!(mesh.bridges[1].poll_transmit(), None);
    assert_eq!(mesh.bridges[1].poll_event(), None);

    let after = mesh.bridges[1].status();
    let counters = |s: &stp::Status| s.ports.iter().find(|p| p.number == port).unwrap().counters;
    assert_eq!(counters(&after).errors, frames.len() as u64);
    assert_eq!(counters(&after).rx, counters(&before).rx);
    let strip = |s: &stp::Status| {
        let mut s = s.clone();
        s.ports
            .iter_mut()
            .for_each(|p| p.counters = Default::default());
        s
    };
    assert_eq!(strip(&after), strip(&before));

    mesh.run_for(Duration::from_secs(10));
    assert!(mesh.is_spanning_tree());
}

#[test]
fn a_bpdu_on_a_port_outside_the_tree_is_refused() {
    let mut stp = Stp::new(&fast_timers(0));
    let frame = Bpdu::Tcn.emit([2; 6]);
    assert_eq!(stp.receive(7, &frame), Err(BpduError::PortNotInTree));
    // STP port IDs have one byte for the number: 0 and 256 cannot join.
    for number in [0, 256] {
        stp.add_port(&PortConfig {
            number,
            priority: 128,
            path_cost: 2,
            mac: [2; 6],
        });
        assert_eq!(stp.port_state(number), PortState::Disabled);
        assert_eq!(stp.receive(number, &frame), Err(BpduError::PortNotInTree));
    }
    assert!(stp.status().ports.is_empty());
}

#[test]
fn our_own_bpdu_looped_back_is_ignored() {
    let mut stp = Stp::new(&fast_timers(0));
    for number in [1, 2] {
        stp.add_port(&PortConfig {
            number,
            priority: 128,
            path_cost: 2,
            mac: [2, 0, 0, 0, 1, number as u8],
        });
    }
    while stp.poll_event().is_some() {}
    stp.tick(Duration::from_secs(1));
    let hello = stp.poll_transmit().expect("a root sends hellos");
    assert_eq!(hello.port, 1);
    while stp.poll_transmit().is_some() {}
    let before = stp.status();

    stp.receive(1, &hello.frame).unwrap();
    let after = stp.status();
    assert_eq!(after.ports[0].counters.rx, 1);
    assert_eq!(after.root_id, before.root_id);
    assert_eq!(after.ports[0].role, PortRole::Designated);
    assert_eq!(stp.poll_transmit(), None);
    assert_eq!(stp.poll_event(), None);
}

/// 802.1D trusts every BPDU: a bridge that announces a better ID becomes root, for as long as
/// its BPDUs last. OVS behaves the same; the defence is to keep STP off untrusted ports.
#[test]
fn a_forged_superior_bpdu_takes_the_root_until_it_ages_out() {
    let mut mesh = full_mesh(3);
    converge(&mut mesh);

    let forged = BridgeId::new(0, [2, 0, 0, 0, 0, 0x99]);
    let frame = Bpdu::Config(config_from(forged, 0x8001)).emit([2, 0, 0, 0, 0, 0x99]);
    mesh.bridges[1].receive(port_to(2), &frame).unwrap();
    assert_eq!(mesh.bridges[1].status().root_id, forged);
    assert_eq!(mesh.bridges[1].status().root_port, Some(port_to(2)));

    let spread = mesh
        .run_until(LIMIT, |m| {
            m.bridges.iter().all(|b| b.status().root_id == forged)
        })
        .expect("the forged root spreads");
    println!(
        "forged root adopted by all bridges in {:.1} s",
        secs(spread)
    );

    // Nobody repeats the forged BPDU, so its information ages out and bridge 0 is root again.
    let back = mesh
        .run_until(LIMIT, |m| {
            m.is_spanning_tree() && m.bridges.iter().all(|b| b.status().root_id == bridge_id(0))
        })
        .expect("the tree returns to bridge 0");
    println!("forged root aged out; tree back in {:.1} s", secs(back));
    assert_eq!(mesh.blocked_links(), vec![(1, 2)]);
}

#[test]
fn a_topology_change_notice_is_acknowledged_and_flagged_by_the_root() {
    let mut stp = Stp::new(&fast_timers(0));
    stp.add_port(&PortConfig {
        number: 1,
        priority: 128,
        path_cost: 2,
        mac: [2, 0, 0, 0, 1, 1],
    });
    stp.tick(Duration::from_secs(2));
    while stp.poll_transmit().is_some() {}
    while stp.poll_event().is_some() {}

    stp.receive(1, &Bpdu::Tcn.emit([2; 6])).unwrap();
    assert_eq!(stp.poll_event(), Some(Event::FlushAll));
    stp.tick(Duration::from_secs(1));
    let reply = stp.poll_transmit().expect("the root acknowledges");
    let Ok(Bpdu::Config(config)) = Bpdu::parse(&reply.frame) else {
        panic!("not a config BPDU: {reply:?}");
    };
    assert!(config.has(flags::TOPOLOGY_CHANGE_ACK));
    assert!(config.has(flags::TOPOLOGY_CHANGE));
}

#[test]
fn a_bridge_passes_the_roots_topology_change_flag_downstream() {
    let mut stp = Stp::new(&fast_timers(1));
    for number in [1, 2] {
        stp.add_port(&PortConfig {
            number,
            priority: 128,
            path_cost: 2,
            mac: [2, 0, 0, 0, 2, number as u8],
        });
    }
    while stp.poll_event().is_some() {}
    let relayed = |stp: &mut Stp, tc: bool| {
        let mut config = config_from(bridge_id(0), 0x8002);
        config.flags = if tc { flags::TOPOLOGY_CHANGE } else { 0 };
        stp.tick(Duration::from_secs(1));
        while stp.poll_transmit().is_some() {}
        stp.receive(1, &Bpdu::Config(config).emit([2, 0, 0, 0, 1, 2]))
            .unwrap();
        let out = stp.poll_transmit().expect("relayed on the designated port");
        assert_eq!(out.port, 2);
        let Ok(Bpdu::Config(out)) = Bpdu::parse(&out.frame) else {
            panic!("not a config BPDU");
        };
        assert_eq!((out.root, out.root_path_cost), (bridge_id(0), 2));
        out.has(flags::TOPOLOGY_CHANGE)
    };
    assert!(!relayed(&mut stp, false));
    while stp.poll_event().is_some() {}
    assert!(relayed(&mut stp, true));
    // OVS flushes for every BPDU with the flag on the root port.
    assert!(std::iter::from_fn(|| stp.poll_event()).any(|e| e == Event::FlushAll));
    assert!(!relayed(&mut stp, false));
}

#[test]
fn coarse_ticks_converge_like_fine_ones() {
    for step in [1, 3] {
        let mut mesh = full_mesh(3);
        let mut took = Duration::ZERO;
        while !mesh.is_spanning_tree() {
            assert!(took < LIMIT, "{step} s ticks never converged");
            mesh.step(Duration::from_secs(step));
            took += Duration::from_secs(step);
        }
        println!("{step} s ticks: converged after {} s", took.as_secs());
        assert!(took <= Duration::from_secs(9), "{step} s ticks: {took:?}");
        assert_eq!(mesh.blocked_links(), vec![(1, 2)]);
        mesh.run_for(Duration::from_secs(30));
        assert!(mesh.is_spanning_tree());
    }
}

#[test]
fn huge_ticks_do_not_panic() {
    let mut mesh = full_mesh(3);
    converge(&mut mesh);
    for bridge in &mut mesh.bridges {
        bridge.tick(Duration::MAX);
        bridge.tick(Duration::MAX);
    }
    mesh.deliver();
    // Everyone's information expired at once; the tree is rebuilt from scratch.
    converge(&mut mesh);
    assert_eq!(mesh.blocked_links(), vec![(1, 2)]);
}

proptest::proptest! {
    // Integration tests have no lib.rs beside them to persist failures next to.
    #![proptest_config(proptest::test_runner::Config {
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    })]

    #[test]
    fn any_frame_is_handled_without_panic(
        bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..80),
        group in proptest::bool::ANY,
    ) {
        let mut stp = Stp::new(&fast_timers(0));
        stp.add_port(&PortConfig { number: 1, priority: 128, path_cost: 2, mac: [2; 6] });
        let mut frame = bytes;
        if group && frame.len() >= 17 {
            frame[..6].copy_from_slice(&[0x01, 0x80, 0xc2, 0, 0, 0]);
            frame[14..17].copy_from_slice(&[0x42, 0x42, 0x03]);
        }
        let result = stp.receive(1, &frame);
        let counters = stp.status().ports[0].counters;
        proptest::prop_assert_eq!(counters.errors + counters.rx, 1);
        proptest::prop_assert_eq!(result.is_err(), counters.errors == 1);
        stp.tick(Duration::from_secs(30));
    }
}
