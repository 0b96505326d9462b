//! grebe's daemon: it owns the configuration and the datapath, serves the control socket
//! (`control`: the protocol and its client), applies every change (`server`), and answers
//! ovs-appctl's commands (`appctl`), including `ofproto/trace` (`trace`) and frame capture
//! (`capture`). It holds no test tooling: the namespace lab lives in the `lab` crate.
#![forbid(unsafe_code)]

pub mod appctl;
pub mod capture;
pub mod control;
pub mod server;
pub mod trace;
