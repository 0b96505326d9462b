//! grebe's daemon: it owns the configuration and the datapath and answers the control socket.
//!
//! Dependencies point one way: `server` (the process: socket, detach, streams) builds the
//! command `registry` from what `appctl`, `trace` and `capture` register, and every command
//! reads the daemon's `state` (the configuration, the datapath, per-interface errors); neither
//! the state nor the registry knows a command. `control` is the socket's protocol and client.
//! It holds no test tooling: the namespace lab lives in the `lab` crate.
#![forbid(unsafe_code)]

pub mod appctl;
pub mod capabilities;
pub mod capture;
pub mod control;
pub mod metrics_http;
pub mod openflow_channel;
mod openflow_controllers;
mod openflow_flows;
pub mod port_vlan;
pub mod registry;
pub mod server;
pub mod state;
pub mod trace;
pub mod vswitchd;
