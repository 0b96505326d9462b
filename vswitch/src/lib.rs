//! grebe's configuration model and its language, after Open vSwitch's `Open_vSwitch` schema.
//!
//! `config` holds the records (bridges, ports and their interfaces), validates them with OVS's
//! messages and persists them atomically; `vsctl` is ovs-vsctl's command language over that
//! model; `seed` is the seed host's configuration as ovs-vsctl command lines. No IO here besides the configuration file: the daemon applies a `Config` to the
//! datapath, and a later OVSDB-backed source of the same model plugs in beside `vsctl`.
#![forbid(unsafe_code)]

pub mod config;
pub mod mesh;
pub mod seed;
pub mod vsctl;

pub use config::Config;
