pub mod config;
pub mod vsctl;
