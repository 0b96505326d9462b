//! grebe's control plane and tools: configuration (`config`), ovs-vsctl's language (`vsctl`),
//! the daemon that applies it to the datapath (`daemon`), the control socket (`control`),
//! ovs-appctl's commands (`appctl`), and the namespace lab behind `demo` and the tests (`lab`).

pub mod appctl;
pub mod bench;
pub mod capture;
pub mod config;
pub mod control;
pub mod daemon;
pub mod demo;
pub mod lab;
pub mod layout;
pub mod mesh;
pub mod ovs_peer;
pub mod trace;
pub mod vsctl;
