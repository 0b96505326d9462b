//! grebe's lab: hosts in network namespaces wired to a transport switch (`netns`), a real
//! Open vSwitch peer beside them (`ovs_peer`), meshes with spanning tree (`mesh`), and what is
//! built on them: `grebe demo` (`demo`), `grebe bench` (`bench`) and the guide's packet picture
//! (`layout`). Tests, the demo and the benchmark share it; the daemon never links it.
#![forbid(unsafe_code)]

pub mod bench;
pub mod demo;
pub mod layout;
pub mod mesh;
pub mod netns;
pub mod ovs_peer;
pub mod workload;

pub use netns::{Lab, is_root};
