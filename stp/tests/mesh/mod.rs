//! An in-memory network of bridges for the protocol tests: every BPDU a bridge sends is handed
//! to the port at the other end of its link, and time advances without sleeping.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use stp::{BridgeConfig, Event, PortConfig, PortNo, PortRole, PortState, SpanningTree};

/// A point-to-point link between port `a.1` of bridge `a.0` and port `b.1` of bridge `b.0`.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub a: (usize, PortNo),
    pub b: (usize, PortNo),
    pub up: bool,
}

pub struct Mesh {
    pub bridges: Vec<Box<dyn SpanningTree>>,
    pub links: Vec<Link>,
    /// Simulated time since the mesh was built.
    pub now: Duration,
    /// The last state each port reported through `Event::PortState`.
    pub states: HashMap<(usize, PortNo), PortState>,
    /// `FlushAll` and `FlushPort` events seen, per bridge.
    pub flushes: Vec<usize>,
    /// BPDUs delivered so far.
    pub delivered: usize,
}

/// Bridge `i`'s system ID: 02:00:00:00:00:(i+1), so bridge 0 has the lowest ID.
pub fn system_id(i: usize) -> [u8; 6] {
    [2, 0, 0, 0, 0, i as u8 + 1]
}

/// Test timers: OVS's smallest legal ones (hello 1 s, max age 6 s, forward delay 4 s).
pub fn fast_timers(i: usize) -> BridgeConfig {
    BridgeConfig {
        system_id: system_id(i),
        hello_time: Duration::from_secs(1),
        max_age: Duration::from_secs(6),
        forward_delay: Duration::from_secs(4),
        ..BridgeConfig::default()
    }
}

/// The port of bridge `i` that leads to bridge `j` is number `j + 1`.
pub fn port_to(j: usize) -> PortNo {
    j as PortNo + 1
}

impl Mesh {
    /// `n` bridges, each linked to every other one, as the classic GRE mesh is.
    pub fn full(n: usize, path_cost: u32, make: impl Fn(usize) -> Box<dyn SpanningTree>) -> Mesh {
        let mut mesh = Mesh {
            bridges: (0..n).map(make).collect(),
            links: Vec::new(),
            now: Duration::ZERO,
            states: HashMap::new(),
            flushes: vec![0; n],
            delivered: 0,
        };
        for i in 0..n {
            for j in i + 1..n {
                mesh.connect(i, j, path_cost);
            }
        }
        mesh
    }

    /// Adds a link between bridges `i` and `j` (ports `port_to(j)` and `port_to(i)`).
    pub fn connect(&mut self, i: usize, j: usize, path_cost: u32) {
        for (me, peer) in [(i, j), (j, i)] {
            self.bridges[me].add_port(&PortConfig {
                number: port_to(peer),
                priority: 128,
                path_cost,
                mac: [2, 0, 0, 0, me as u8 + 1, peer as u8 + 1],
            });
        }
        self.links.push(Link {
            a: (i, port_to(j)),
            b: (j, port_to(i)),
            up: true,
        });
    }

    /// Takes the link between `i` and `j` down, as deleting both tunnel ports does.
    pub fn cut(&mut self, i: usize, j: usize) {
        for link in &mut self.links {
            if (link.a.0, link.b.0) == (i, j) || (link.a.0, link.b.0) == (j, i) {
                link.up = false;
            }
        }
        self.bridges[i].remove_port(port_to(j));
        self.bridges[j].remove_port(port_to(i));
        self.states.remove(&(i, port_to(j)));
        self.states.remove(&(j, port_to(i)));
    }

    fn peer(&self, bridge: usize, port: PortNo) -> Option<(usize, PortNo)> {
        self.links.iter().filter(|l| l.up).find_map(|l| {
            if l.a == (bridge, port) {
                Some(l.b)
            } else if l.b == (bridge, port) {
                Some(l.a)
            } else {
                None
            }
        })
    }

    /// Delivers every pending BPDU (and the ones they provoke) and collects events.
    pub fn deliver(&mut self) {
        for _round in 0..100 {
            let mut sent = Vec::new();
            for (i, bridge) in self.bridges.iter_mut().enumerate() {
                while let Some(tx) = bridge.poll_transmit() {
                    sent.push((i, tx));
                }
            }
            self.collect_events();
            if sent.is_empty() {
                return;
            }
            for (i, tx) in sent {
                if let Some((j, port)) = self.peer(i, tx.port) {
                    self.delivered += 1;
                    self.bridges[j]
                        .receive(port, &tx.frame)
                        .expect("a bridge's own BPDU must be acceptable to its peer");
                }
            }
        }
        panic!("BPDUs still flowing after 100 rounds without time passing");
    }

    fn collect_events(&mut self) {
        for (i, bridge) in self.bridges.iter_mut().enumerate() {
            while let Some(event) = bridge.poll_event() {
                match event {
                    Event::PortState { port, state } => {
                        self.states.insert((i, port), state);
                    }
                    Event::FlushAll | Event::FlushPort(_) => self.flushes[i] += 1,
                }
            }
        }
    }

    /// Advances time by `step`, then delivers.
    pub fn step(&mut self, step: Duration) {
        for bridge in &mut self.bridges {
            bridge.tick(step);
        }
        self.now += step;
        self.deliver();
    }

    /// Runs in 100 ms steps until `done` holds; returns how long that took, or `None` after
    /// `limit`.
    pub fn run_until(&mut self, limit: Duration, done: impl Fn(&Mesh) -> bool) -> Option<Duration> {
        let start = self.now;
        self.deliver();
        while self.now - start < limit {
            if done(self) {
                return Some(self.now - start);
            }
            self.step(Duration::from_millis(100));
        }
        done(self).then(|| self.now - start)
    }

    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.step(Duration::from_millis(100));
        }
    }

    /// The state the bridge itself reports for a port.
    pub fn state(&self, bridge: usize, port: PortNo) -> PortState {
        self.bridges[bridge].port_state(port)
    }

    pub fn role(&self, bridge: usize, port: PortNo) -> PortRole {
        let status = self.bridges[bridge].status();
        status
            .ports
            .iter()
            .find(|p| p.number == port)
            .map_or(PortRole::Disabled, |p| p.role)
    }

    /// Links that are up but carry no data (either end not forwarding).
    pub fn blocked_links(&self) -> Vec<(usize, usize)> {
        self.links
            .iter()
            .filter(|l| l.up)
            .filter(|l| {
                !self.state(l.a.0, l.a.1).forwards() || !self.state(l.b.0, l.b.1).forwards()
            })
            .map(|l| (l.a.0, l.b.0))
            .collect()
    }

    /// Every up link either forwards at both ends or is blocked at one end and designated at the
    /// other, and the forwarding links form a tree (n − 1 of them, all bridges agree on the root).
    pub fn is_spanning_tree(&self) -> bool {
        let up: Vec<&Link> = self.links.iter().filter(|l| l.up).collect();
        let forwarding = up
            .iter()
            .filter(|l| self.state(l.a.0, l.a.1).forwards() && self.state(l.b.0, l.b.1).forwards())
            .count();
        let settled = up.iter().all(|l| {
            let (sa, sb) = (self.state(l.a.0, l.a.1), self.state(l.b.0, l.b.1));
            (sa.forwards() && sb.forwards())
                || (sa.forwards() && matches!(sb, PortState::Blocking | PortState::Discarding))
                || (sb.forwards() && matches!(sa, PortState::Blocking | PortState::Discarding))
        });
        let root = self.bridges[0].status().root_id;
        let agree = self.bridges.iter().all(|b| b.status().root_id == root);
        settled && agree && forwarding == self.bridges.len() - 1
    }
}
