//! The STP and RSTP state machines fed any sequence of port changes, BPDUs (raw bytes, or
//! well-formed ones with fuzzed fields) and clock ticks: never a panic, and after every step
//! the bridge's view stays coherent: events agree with the port states, only the protocol's own
//! states appear, what it sends decodes, and the root it reports is at least as good as itself.
#![no_main]

use std::collections::BTreeMap;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use stp::bpdu::ConfigBpdu;
use stp::classic::Stp;
use stp::rapid::Rstp;
use stp::{Bpdu, BridgeConfig, BridgeId, Event, PortConfig, PortState, Protocol, SpanningTree};

#[derive(Debug, Arbitrary)]
enum Message {
    Raw(Vec<u8>),
    Config(Fields),
    Rst(Fields),
    Tcn,
}

#[derive(Debug, Arbitrary)]
struct Fields {
    flags: u8,
    root: u64,
    root_path_cost: u32,
    bridge: u64,
    port_id: u16,
    message_age: u16,
    max_age: u16,
    hello_time: u16,
    forward_delay: u16,
}

#[derive(Debug, Arbitrary)]
enum Step {
    AddPort {
        number: u16,
        priority: u8,
        path_cost: u32,
    },
    RemovePort(u16),
    Receive {
        port: u16,
        message: Message,
    },
    Tick(u16),
    Bridge {
        priority: u16,
        system_id: [u8; 6],
        hello: u8,
        max_age: u8,
        forward_delay: u8,
    },
}

#[derive(Debug, Arbitrary)]
struct Input {
    rapid: bool,
    priority: u16,
    system_id: [u8; 6],
    steps: Vec<Step>,
}

fn frame(message: &Message) -> Vec<u8> {
    let fields = |f: &Fields| ConfigBpdu {
        flags: f.flags,
        root: BridgeId(f.root),
        root_path_cost: f.root_path_cost,
        bridge: BridgeId(f.bridge),
        port_id: f.port_id,
        message_age: f.message_age,
        max_age: f.max_age,
        hello_time: f.hello_time,
        forward_delay: f.forward_delay,
    };
    let src = [0x02, 0, 0, 0, 0, 0x99];
    match message {
        Message::Raw(bytes) => bytes.clone(),
        Message::Config(f) => Bpdu::Config(fields(f)).emit(src).to_vec(),
        Message::Rst(f) => Bpdu::Rst(fields(f)).emit(src).to_vec(),
        Message::Tcn => Bpdu::Tcn.emit(src).to_vec(),
    }
}

fuzz_target!(|input: Input| {
    let config = BridgeConfig {
        priority: input.priority,
        system_id: input.system_id,
        ..BridgeConfig::default()
    };
    let (mut tree, max_port): (Box<dyn SpanningTree>, u16) = if input.rapid {
        (Box::new(Rstp::new(&config)), 4095)
    } else {
        (Box::new(Stp::new(&config)), 255)
    };
    let protocol = if input.rapid {
        Protocol::Rstp
    } else {
        Protocol::Stp
    };
    assert_eq!(tree.protocol(), protocol);
    // The states the datapath was told, per port.
    let mut told: BTreeMap<u16, PortState> = BTreeMap::new();
    let port_no = |n: u16| 1 + n % max_port;
    for step in input.steps.iter().take(200) {
        match step {
            Step::AddPort {
                number,
                priority,
                path_cost,
            } => {
                let number = port_no(*number);
                if !tree.status().ports.iter().any(|p| p.number == number) {
                    told.remove(&number);
                }
                tree.add_port(&PortConfig {
                    number,
                    priority: *priority,
                    path_cost: (*path_cost).max(1),
                    mac: [0x02, 0, 0, 0, (number >> 8) as u8, number as u8],
                });
            }
            Step::RemovePort(n) => {
                tree.remove_port(port_no(*n));
                told.remove(&port_no(*n));
            }
            Step::Receive { port, message } => {
                let _ = tree.receive(port_no(*port), &frame(message));
            }
            Step::Tick(ms) => tree.tick(Duration::from_millis(u64::from(*ms))),
            Step::Bridge {
                priority,
                system_id,
                hello,
                max_age,
                forward_delay,
            } => {
                tree.set_bridge_config(&BridgeConfig {
                    priority: *priority,
                    system_id: *system_id,
                    hello_time: Duration::from_secs(u64::from(*hello % 12)),
                    max_age: Duration::from_secs(u64::from(*max_age % 50)),
                    forward_delay: Duration::from_secs(u64::from(*forward_delay % 40)),
                });
            }
        }
        for _ in 0..10_000 {
            let Some(t) = tree.poll_transmit() else { break };
            let sent = Bpdu::parse(&t.frame).unwrap_or_else(|e| {
                panic!(
                    "port {} sent a BPDU that does not decode ({e}): {:?}",
                    t.port, t.frame
                )
            });
            if !input.rapid {
                assert!(!matches!(sent, Bpdu::Rst(_)), "STP sent an RST BPDU");
            }
        }
        let mut events = 0;
        while let Some(event) = tree.poll_event() {
            events += 1;
            assert!(events < 100_000, "events never end");
            if let Event::PortState { port, state } = event {
                told.insert(port, state);
            }
        }
        let status = tree.status();
        assert_eq!(status.protocol, protocol);
        assert!(
            status.ports.windows(2).all(|w| w[0].number < w[1].number),
            "ports unsorted"
        );
        for p in &status.ports {
            assert_eq!(tree.port_state(p.number), p.state);
            let allowed = if input.rapid {
                matches!(
                    p.state,
                    PortState::Discarding
                        | PortState::Learning
                        | PortState::Forwarding
                        | PortState::Disabled
                )
            } else {
                p.state != PortState::Discarding
            };
            assert!(allowed, "{protocol:?} port in state {:?}", p.state);
            if let Some(&state) = told.get(&p.number) {
                assert_eq!(
                    state, p.state,
                    "the datapath was told another state for port {}",
                    p.number
                );
            }
        }
        match status.root_port {
            None => assert_eq!(
                status.root_id, status.bridge_id,
                "root port none, but not root"
            ),
            Some(root_port) => {
                assert!(
                    status.ports.iter().any(|p| p.number == root_port),
                    "unknown root port"
                );
                assert!(
                    status.root_id < status.bridge_id,
                    "a root port towards a worse root"
                );
            }
        }
    }
});
