//! The daemon's handle on the datapath: `Datapath` adds and removes bridges and ports, reads
//! counters and tables, and starts watchers. It keeps the control side's view (names, kinds,
//! settings) and tells the datapath thread (`engine`) what changed by `Command`s, applied there
//! between batches, so the packet loop takes no lock per frame; MAC tables and counters are
//! shared as `Arc`s that the loop writes without contention (see `learning::SharedMacTable` and
//! `counters`).

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

use learning::{Learned, PortId, SharedMacTable};

use crate::command::Command;
use crate::counters::{
    DropCounters, DropReason, Event, EventCounters, LoopCounters, LoopSnapshot, PerWriter,
    PortCounters,
};
use crate::engine::Engine;
use crate::forward::TunnelSockets;
use crate::monitor::{self, Monitor, MonitorSpec};
use crate::pipeline::Gate;
use crate::pmtu::PmtuSettings;
use crate::port::link::{Link, Neighbour, NeighbourTable};
use crate::port::tunnel::TunnelAddressError;
use crate::port::{PortIo, PortState, SystemStatus, TunnelConfig, TunnelPort};
use crate::sys::{self, PacketTx, RawGre, SystemRx, TapError};
use crate::tree::{TreePortSettings, TreeSettings};
use crate::vlan::PortVlan;

mod report;
use report::interface_state;
pub use report::{FdbEntry, KernelStats, PortStats, TreeStatus};

/// Datapath threads that write counters: one today. Every counter has a block per writer,
/// summed when read (see `counters`).
const WRITERS: usize = 1;
/// Assumed transport MTU when the route to a remote is not known yet.
const DEFAULT_MTU: u32 = 1500;
/// Frames read from a TAP per batch when they may be 64 KB each.
#[derive(Debug, thiserror::Error)]
pub enum DatapathError {
    #[error(
        "cannot open the raw GRE socket (IPv4 protocol 47): run as root or grant CAP_NET_RAW and CAP_NET_ADMIN"
    )]
    RawSocket(#[source] io::Error),
    #[error("cannot start the datapath thread")]
    Thread(#[source] io::Error),
    #[error(transparent)]
    Tap(#[from] TapError),
    #[error("bridge {0} already exists")]
    BridgeExists(String),
    #[error("no bridge named {0}")]
    NoSuchBridge(String),
    #[error("port {0} already exists")]
    PortExists(String),
    #[error("no port named {0}")]
    NoSuchPort(String),
    #[error(
        "tunnel {port} has the same remote_ip {remote} and key as tunnel {other}: received packets could not tell them apart; give one of them another options:key"
    )]
    DuplicateTunnel {
        port: String,
        other: String,
        remote: IpAddr,
    },
    #[error("tunnel {port}: {source}")]
    TunnelAddress {
        port: String,
        #[source]
        source: TunnelAddressError,
    },
    #[error("the datapath thread has stopped")]
    Stopped,
    #[error("bridge {0} does not run spanning tree (ovs-vsctl set bridge {0} stp_enable=true)")]
    NoSpanningTree(String),
}

/// How the datapath runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatapathOptions {
    /// Internal ports speak the virtio-net header: the kernel hands over TCP frames of up to
    /// 64 KB (segmented by grebe before tunnelling) and leaves checksums to grebe.
    pub offload: bool,
    /// Tunnel packets to an on-link remote the kernel has resolved leave as Ethernet frames by
    /// a packet socket, skipping the kernel's per-packet route lookup, output hooks and
    /// neighbour lookup (see `port::link`); off: everything by the raw socket.
    pub link_tx: bool,
    /// How system ports receive: `recvmmsg`, or a `TPACKET_V3` ring (see `sys::ring`).
    pub system_rx: SystemRx,
}

impl Default for DatapathOptions {
    fn default() -> Self {
        DatapathOptions {
            offload: true,
            link_tx: true,
            system_rx: SystemRx::default(),
        }
    }
}

/// A bridge's forwarding settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeSettings {
    pub table: learning::Config,
    /// Never flood a frame that came from a tunnel to another tunnel.
    pub split_horizon: bool,
    /// MSS clamping and ICMP too-big answers at the tunnels' entry.
    pub pmtu: PmtuSettings,
}

/// What a port is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKind {
    /// A TAP device; its MTU follows the bridge's tunnels unless `mtu_request` is set.
    Internal {
        mtu_request: Option<u32>,
    },
    Tunnel(TunnelConfig),
    /// An existing interface of the daemon's namespace (a veth, a tap another process holds, a
    /// NIC); grebe never changes its MTU. It may not exist yet: the port waits for it.
    System,
}

struct BridgeHandle {
    idx: usize,
    table: Arc<SharedMacTable>,
    settings: BridgeSettings,
    tree: Option<TreeSettings>,
}

struct PortHandle {
    id: PortId,
    bridge: String,
    kind: PortKind,
    counters: PerWriter<PortCounters>,
    /// Internal ports: the MTU grebe last set. Tunnels: the transport path MTU.
    mtu: Option<u32>,
    /// Tunnels: the Ethernet link the datapath thread sends by, and its interface.
    link: Option<(Link, String)>,
    /// Tunnels: the kernel has an incomplete or failed neighbour entry for the remote, so the
    /// datapath thread sends it only probes.
    unresolved: bool,
    /// System ports: what the datapath thread has it attached to.
    system: Option<Arc<SystemStatus>>,
    tree: TreePortSettings,
    /// The port's settings as the datapath thread's spanning tree has them.
    tree_sent: Option<stp::PortConfig>,
    vlan: PortVlan,
    /// Internal ports: the device's interface index when last looked at; another one means the
    /// device was deleted under the daemon and the datapath thread made it again.
    ifindex: Option<u32>,
    /// Internal ports: how many times that happened.
    recreated: u64,
}

/// The daemon's handle on the datapath thread.
pub struct Datapath {
    commands: mpsc::Sender<Command>,
    wake: UnixDatagram,
    thread: Option<JoinHandle<()>>,
    drops: PerWriter<DropCounters>,
    events: PerWriter<EventCounters>,
    loops: PerWriter<LoopCounters>,
    bridges: BTreeMap<String, BridgeHandle>,
    ports: BTreeMap<String, PortHandle>,
    free_bridge_slots: Vec<usize>,
    bridge_slots: usize,
    free_port_ids: Vec<u32>,
    /// Port numbers start at 1, as OpenFlow's do; 0 is never used.
    next_port_id: u32,
    options: DatapathOptions,
}

impl Datapath {
    /// Opens the shared raw GRE socket and starts the packet loop.
    pub fn start(options: DatapathOptions) -> Result<Datapath, DatapathError> {
        let raw = RawGre::open().map_err(DatapathError::RawSocket)?;
        let (wake, wake_rx) = UnixDatagram::pair().map_err(DatapathError::Thread)?;
        wake.set_nonblocking(true).map_err(DatapathError::Thread)?;
        wake_rx
            .set_nonblocking(true)
            .map_err(DatapathError::Thread)?;
        let (commands, command_rx) = mpsc::channel();
        let drops = PerWriter::new(WRITERS);
        let events = PerWriter::new(WRITERS);
        let loops = PerWriter::new(WRITERS);
        let packet_tx = if options.link_tx {
            PacketTx::open()
                .map_err(|e| tracing::warn!(error = %e, "no packet socket: every tunnel packet goes by the raw socket"))
                .ok()
        } else {
            None
        };
        let raw6 = sys::RawGre6::open()
            .map_err(|e| tracing::warn!(error = %e, "no raw IPv6 GRE socket: ip6gre tunnels cannot send or receive"))
            .ok();
        let sockets = TunnelSockets {
            raw,
            raw_large: None,
            raw6,
            packet_tx,
        };
        let mut engine = Engine::new(
            sockets,
            wake_rx,
            command_rx,
            drops.writer(0),
            events.writer(0),
            loops.writer(0),
            options.offload,
        );
        let thread = std::thread::Builder::new()
            .name("grebe-datapath".into())
            .spawn(move || engine.run())
            .map_err(DatapathError::Thread)?;
        Ok(Datapath {
            commands,
            wake,
            thread: Some(thread),
            drops,
            events,
            loops,
            bridges: BTreeMap::new(),
            ports: BTreeMap::new(),
            free_bridge_slots: Vec::new(),
            bridge_slots: 0,
            free_port_ids: Vec::new(),
            next_port_id: 1,
            options,
        })
    }

    fn send(&self, command: Command) -> Result<(), DatapathError> {
        self.commands
            .send(command)
            .map_err(|_| DatapathError::Stopped)?;
        // A full wake socket already holds a wake-up: nothing lost.
        let _ = self.wake.send(&[1]);
        Ok(())
    }

    /// Returns once the datapath thread has applied every change sent before.
    pub fn sync(&self) -> Result<(), DatapathError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Command::Sync(tx))?;
        rx.recv().map_err(|_| DatapathError::Stopped)
    }

    pub fn add_bridge(
        &mut self,
        name: &str,
        settings: BridgeSettings,
    ) -> Result<(), DatapathError> {
        if self.bridges.contains_key(name) {
            return Err(DatapathError::BridgeExists(name.into()));
        }
        let idx = self.free_bridge_slots.pop().unwrap_or_else(|| {
            self.bridge_slots += 1;
            self.bridge_slots - 1
        });
        let table = Arc::new(SharedMacTable::new(settings.table));
        self.send(Command::AddBridge {
            idx,
            table: table.clone(),
            split_horizon: settings.split_horizon,
            pmtu: settings.pmtu,
        })?;
        self.bridges.insert(
            name.into(),
            BridgeHandle {
                idx,
                table,
                settings,
                tree: None,
            },
        );
        Ok(())
    }

    /// Gives the bridge an OpenFlow table (None: the implicit `priority=0 actions=NORMAL`). The
    /// packet loop takes the new table between batches; the old one's counters stay with it.
    pub fn set_flows(
        &mut self,
        name: &str,
        flows: Option<Arc<flowtable::FlowTable>>,
    ) -> Result<(), DatapathError> {
        let idx = self
            .bridges
            .get(name)
            .ok_or_else(|| DatapathError::NoSuchBridge(name.into()))?
            .idx;
        self.send(Command::SetFlows { idx, flows })
    }

    pub fn set_bridge(
        &mut self,
        name: &str,
        settings: BridgeSettings,
    ) -> Result<(), DatapathError> {
        let b = self
            .bridges
            .get_mut(name)
            .ok_or_else(|| DatapathError::NoSuchBridge(name.into()))?;
        if b.settings.table != settings.table {
            b.table.set_config(settings.table, Instant::now());
        }
        let idx = b.idx;
        let changed = b.settings.split_horizon != settings.split_horizon;
        let pmtu_changed = b.settings.pmtu != settings.pmtu;
        b.settings = settings;
        if pmtu_changed {
            self.send(Command::SetPmtu {
                idx,
                pmtu: settings.pmtu,
            })?;
        }
        if changed {
            self.send(Command::SetSplitHorizon {
                idx,
                split_horizon: settings.split_horizon,
            })?;
        }
        Ok(())
    }

    /// Deletes the bridge and its ports (their TAP devices too).
    pub fn del_bridge(&mut self, name: &str) -> Result<(), DatapathError> {
        let ports: Vec<String> = self
            .ports
            .iter()
            .filter(|(_, p)| p.bridge == name)
            .map(|(n, _)| n.clone())
            .collect();
        for p in ports {
            self.del_port(&p)?;
        }
        let b = self
            .bridges
            .remove(name)
            .ok_or_else(|| DatapathError::NoSuchBridge(name.into()))?;
        self.free_bridge_slots.push(b.idx);
        self.send(Command::DelBridge { idx: b.idx })
    }

    pub fn bridge_names(&self) -> impl Iterator<Item = &str> {
        self.bridges.keys().map(String::as_str)
    }

    pub fn bridge_settings(&self, name: &str) -> Option<BridgeSettings> {
        self.bridges.get(name).map(|b| b.settings)
    }

    pub fn port_kind(&self, name: &str) -> Option<(&str, PortKind)> {
        self.ports.get(name).map(|p| (p.bridge.as_str(), p.kind))
    }

    pub fn port_names(&self) -> impl Iterator<Item = &str> {
        self.ports.keys().map(String::as_str)
    }

    fn check_tunnel_unique(&self, name: &str, config: &TunnelConfig) -> Result<(), DatapathError> {
        for (other, p) in &self.ports {
            if let PortKind::Tunnel(c) = p.kind
                && other != name
                && c.remote_ip == config.remote_ip
                && c.effective_key() == config.effective_key()
            {
                return Err(DatapathError::DuplicateTunnel {
                    port: name.into(),
                    other: other.clone(),
                    remote: config.remote_ip,
                });
            }
        }
        Ok(())
    }

    /// Adds a port with its VLAN settings, so that its first frame is already switched in its
    /// VLAN: a container's first packets (IPv6 DAD, router solicitations) leave as soon as its
    /// veth is up, before a later `set_port_vlan` would land.
    pub fn add_port(
        &mut self,
        bridge: &str,
        name: &str,
        kind: PortKind,
        vlan: PortVlan,
    ) -> Result<(), DatapathError> {
        if self.ports.contains_key(name) {
            return Err(DatapathError::PortExists(name.into()));
        }
        let bridge_idx = self
            .bridges
            .get(bridge)
            .ok_or_else(|| DatapathError::NoSuchBridge(bridge.into()))?
            .idx;
        let mut system = None;
        let (io, mtu) = match kind {
            PortKind::Internal { .. } => (PortIo::open_internal(name, self.options.offload)?, None),
            PortKind::System => {
                let status = Arc::new(SystemStatus::default());
                system = Some(status.clone());
                (
                    PortIo::open_system(name, status, self.options.system_rx),
                    None,
                )
            }
            PortKind::Tunnel(config) => {
                self.check_tunnel_unique(name, &config)?;
                let tunnel = tunnel_port(name, config)?;
                let mtu = tunnel.path_mtu;
                (PortIo::open_tunnel(tunnel), Some(mtu))
            }
        };
        let id = PortId(self.free_port_ids.pop().unwrap_or_else(|| {
            self.next_port_id += 1;
            self.next_port_id - 1
        }));
        let counters = PerWriter::new(WRITERS);
        // A tunnel joining a spanning tree starts closed: until the tree says otherwise it could
        // close a loop.
        let tree = self.bridges.get(bridge).and_then(|b| b.tree);
        let joins_tree = tree.is_some() && matches!(kind, PortKind::Tunnel(_));
        self.send(Command::AddPort {
            id,
            state: PortState {
                bridge: bridge_idx,
                counters: counters.writer(0),
                io,
                gate: if joins_tree { Gate::Closed } else { Gate::Open },
                vlan: vlan.clone(),
            },
        })?;
        self.ports.insert(
            name.into(),
            PortHandle {
                id,
                bridge: bridge.into(),
                kind,
                counters,
                mtu,
                link: None,
                unresolved: false,
                system,
                tree: TreePortSettings::default(),
                tree_sent: None,
                vlan,
                ifindex: matches!(kind, PortKind::Internal { .. })
                    .then(|| sys::interface_index(name).ok())
                    .flatten(),
                recreated: 0,
            },
        );
        self.update_internal_mtus(bridge);
        self.sync_tree_ports(bridge)
    }

    /// Runs spanning tree on a bridge (`None`: stops it; every port forwards again).
    pub fn set_spanning_tree(
        &mut self,
        bridge: &str,
        settings: Option<TreeSettings>,
    ) -> Result<(), DatapathError> {
        let b = self
            .bridges
            .get_mut(bridge)
            .ok_or_else(|| DatapathError::NoSuchBridge(bridge.into()))?;
        if b.tree == settings {
            return Ok(());
        }
        let restart = b.tree.map(|t| t.protocol) != settings.map(|t| t.protocol);
        b.tree = settings;
        let idx = b.idx;
        self.send(Command::SetTree { idx, settings })?;
        if restart {
            // A new protocol instance knows no ports yet.
            for p in self.ports.values_mut().filter(|p| p.bridge == bridge) {
                p.tree_sent = None;
            }
        }
        self.sync_tree_ports(bridge)
    }

    /// Sets a port's part in its bridge's spanning tree.
    pub fn set_tree_port(
        &mut self,
        name: &str,
        settings: TreePortSettings,
    ) -> Result<(), DatapathError> {
        let port = self
            .ports
            .get_mut(name)
            .ok_or_else(|| DatapathError::NoSuchPort(name.into()))?;
        port.tree = settings;
        let bridge = port.bridge.clone();
        self.sync_tree_ports(&bridge)
    }

    /// Tells the datapath thread each port's tree settings that changed. Only tunnels take part,
    /// as in OVS, where internal ports never run STP.
    fn sync_tree_ports(&mut self, bridge: &str) -> Result<(), DatapathError> {
        let tree = self.bridges.get(bridge).and_then(|b| b.tree);
        let mut changes = Vec::new();
        for p in self.ports.values_mut().filter(|p| p.bridge == bridge) {
            let want = match (tree, p.kind) {
                (Some(t), PortKind::Tunnel(_)) => {
                    p.tree.port_config(t.protocol, p.id, t.bridge.system_id)
                }
                _ => None,
            };
            if want != p.tree_sent {
                p.tree_sent = want;
                changes.push((p.id, want));
            }
        }
        for (id, config) in changes {
            self.send(Command::SetTreePort { id, config })?;
        }
        Ok(())
    }

    /// The bridge's spanning tree, as the datapath thread sees it now.
    pub fn tree_status(&self, bridge: &str) -> Result<TreeStatus, DatapathError> {
        let b = self
            .bridges
            .get(bridge)
            .ok_or_else(|| DatapathError::NoSuchBridge(bridge.into()))?;
        let (reply, rx) = mpsc::sync_channel(1);
        self.send(Command::TreeStatus { idx: b.idx, reply })?;
        let status = rx
            .recv()
            .map_err(|_| DatapathError::Stopped)?
            .ok_or_else(|| DatapathError::NoSpanningTree(bridge.into()))?;
        let port_names = self
            .ports
            .iter()
            .filter(|(_, p)| p.bridge == bridge)
            .filter_map(|(n, p)| Some((stp::PortNo::try_from(p.id.0).ok()?, n.clone())))
            .collect();
        Ok(TreeStatus { status, port_names })
    }

    /// Which protocol a bridge runs, if any.
    pub fn tree_settings(&self, bridge: &str) -> Option<TreeSettings> {
        self.bridges.get(bridge).and_then(|b| b.tree)
    }

    /// Changes a port's settings in place when it stays the same kind (counters and learned
    /// addresses survive), or replaces it when its kind changes.
    pub fn set_port(&mut self, name: &str, kind: PortKind) -> Result<(), DatapathError> {
        let port = self
            .ports
            .get(name)
            .ok_or_else(|| DatapathError::NoSuchPort(name.into()))?;
        let bridge = port.bridge.clone();
        match (port.kind, kind) {
            (old, new) if old == new => Ok(()),
            (PortKind::Tunnel(_), PortKind::Tunnel(config)) => {
                self.check_tunnel_unique(name, &config)?;
                let id = port.id;
                let tunnel = tunnel_port(name, config)?;
                let path_mtu = tunnel.path_mtu;
                self.send(Command::UpdateTunnel { id, tunnel })?;
                let port = self.ports.get_mut(name).expect("checked above");
                if let PortKind::Tunnel(old) = port.kind
                    && (old.remote_ip, old.local_ip) != (config.remote_ip, config.local_ip)
                {
                    // The datapath thread dropped the link; the next refresh resolves the new one.
                    port.link = None;
                    port.unresolved = false;
                }
                port.kind = kind;
                port.mtu = Some(path_mtu);
                self.update_internal_mtus(&bridge);
                Ok(())
            }
            (PortKind::System, PortKind::System) => Ok(()),
            (PortKind::Internal { .. }, PortKind::Internal { .. }) => {
                self.ports.get_mut(name).expect("checked above").kind = kind;
                self.update_internal_mtus(&bridge);
                Ok(())
            }
            _ => {
                let tree = port.tree;
                let vlan = port.vlan.clone();
                self.del_port(name)?;
                self.add_port(&bridge, name, kind, vlan)?;
                self.set_tree_port(name, tree)
            }
        }
    }

    /// Sets which VLANs a port carries and how (from the Port record's `tag`, `trunks` and
    /// `vlan_mode`). A change forgets the port's learned entries; the bridge's internal ports
    /// follow with their MTU, since frames may now ride tagged inside the tunnels.
    pub fn set_port_vlan(&mut self, name: &str, vlan: PortVlan) -> Result<(), DatapathError> {
        let port = self
            .ports
            .get_mut(name)
            .ok_or_else(|| DatapathError::NoSuchPort(name.into()))?;
        if port.vlan == vlan {
            return Ok(());
        }
        port.vlan = vlan.clone();
        let (id, bridge) = (port.id, port.bridge.clone());
        self.send(Command::SetPortVlan { id, vlan })?;
        self.update_internal_mtus(&bridge);
        Ok(())
    }

    /// A port's VLAN settings as last set.
    pub fn port_vlan(&self, name: &str) -> Option<&PortVlan> {
        self.ports.get(name).map(|p| &p.vlan)
    }

    pub fn del_port(&mut self, name: &str) -> Result<(), DatapathError> {
        let port = self
            .ports
            .remove(name)
            .ok_or_else(|| DatapathError::NoSuchPort(name.into()))?;
        self.send(Command::DelPort { id: port.id })?;
        self.free_port_ids.push(port.id.0);
        self.update_internal_mtus(&port.bridge);
        Ok(())
    }

    /// Re-reads every tunnel's route MTU (routes appear after the daemon starts) and follows it
    /// with the internal ports. Call now and then from the control thread.
    pub fn refresh_path_mtus(&mut self) -> Result<(), DatapathError> {
        let mut changed = Vec::new();
        for (name, p) in &self.ports {
            if let PortKind::Tunnel(config) = p.kind {
                let tunnel = tunnel_port(name, config)?;
                if p.mtu != Some(tunnel.path_mtu) {
                    changed.push((name.clone(), p.id, tunnel));
                }
            }
        }
        for (name, id, tunnel) in changed {
            let path_mtu = tunnel.path_mtu;
            self.send(Command::UpdateTunnel { id, tunnel })?;
            let port = self.ports.get_mut(&name).expect("listed above");
            port.mtu = Some(path_mtu);
            let bridge = port.bridge.clone();
            self.update_internal_mtus(&bridge);
        }
        Ok(())
    }

    /// Follows the kernel's neighbour table: a tunnel whose remote became resolved on an
    /// Ethernet interface sends by the packet socket (with `link_tx`), one whose entry changed
    /// or went follows, and one whose remote does not answer ARP is told to send only probes.
    /// The table is read once for all tunnels. Call about once a second from the control thread.
    pub fn refresh_links(&mut self) -> Result<(), DatapathError> {
        let table = NeighbourTable::read();
        let mut changed = Vec::new();
        for p in self.ports.values_mut() {
            // Stored tunnels passed `tunnel_port`: their ends are IPv4.
            if let PortKind::Tunnel(config) = p.kind
                && let Ok((remote, local)) = config.ipv4_ends()
            {
                let (link, unresolved) = match table.neighbour(remote, local) {
                    Neighbour::Resolved(l, dev) => {
                        (Some((l, dev)).filter(|_| self.options.link_tx), false)
                    }
                    Neighbour::Unresolved => (None, true),
                    Neighbour::Unknown => (None, false),
                };
                if link != p.link || unresolved != p.unresolved {
                    changed.push((p.id, link.as_ref().map(|(l, _)| *l), unresolved));
                    p.link = link;
                    p.unresolved = unresolved;
                }
            }
        }
        for (id, link, unresolved) in changed {
            self.send(Command::SetLink {
                id,
                link,
                unresolved,
            })?;
        }
        Ok(())
    }

    /// The MTU an internal port gets unless the user asked for one: the smallest inner MTU the
    /// bridge's tunnels can carry, so TCP through the tunnel works without fragmentation. Once
    /// any port of the bridge has VLAN settings, frames may ride tagged inside GRE, and the
    /// 4-byte tag comes off too.
    fn tunnel_inner_mtu(&self, bridge: &str) -> u32 {
        let ports = || self.ports.values().filter(|p| p.bridge == bridge);
        let tag = if ports().any(|p| p.vlan != PortVlan::TrunkAll) {
            encap::vlan::TAG_LEN as u32
        } else {
            0
        };
        ports()
            .filter_map(|p| match p.kind {
                PortKind::Tunnel(c) => Some(
                    p.mtu
                        .unwrap_or(DEFAULT_MTU)
                        .saturating_sub(c.overhead() + tag),
                ),
                PortKind::Internal { .. } | PortKind::System => None,
            })
            .min()
            .unwrap_or(DEFAULT_MTU)
    }

    /// Sets the MTU again on internal ports whose device the datapath thread made again since
    /// the last call (deleted under the daemon: the new device has the kernel's default), and
    /// counts it. Call about once a second from the control thread.
    pub fn refresh_internal_ports(&mut self) {
        let mut bridges = Vec::new();
        for (name, p) in self.ports.iter_mut() {
            if !matches!(p.kind, PortKind::Internal { .. }) {
                continue;
            }
            let Ok(now) = sys::interface_index(name) else {
                continue;
            };
            if p.ifindex.is_some_and(|before| before != now) {
                p.recreated += 1;
                p.mtu = None;
                bridges.push(p.bridge.clone());
            }
            p.ifindex = Some(now);
        }
        for bridge in bridges {
            self.update_internal_mtus(&bridge);
        }
    }

    fn update_internal_mtus(&mut self, bridge: &str) {
        let inner = self.tunnel_inner_mtu(bridge);
        for (name, p) in self.ports.iter_mut().filter(|(_, p)| p.bridge == bridge) {
            if let PortKind::Internal { mtu_request } = p.kind {
                let want = mtu_request.unwrap_or(inner);
                if p.mtu != Some(want) {
                    match sys::set_interface_mtu(name, want) {
                        Ok(()) => p.mtu = Some(want),
                        Err(e) => {
                            tracing::warn!(port = %name, mtu = want, error = %e, "cannot set MTU")
                        }
                    }
                }
            }
        }
    }

    pub fn port_stats(&self) -> Vec<PortStats> {
        self.ports
            .iter()
            .map(|(name, p)| {
                let (kind, mtu, remote_ip, key) = match p.kind {
                    PortKind::Internal { .. } => {
                        ("internal", sys::interface_mtu(name).ok(), None, None)
                    }
                    PortKind::System => ("system", sys::interface_mtu(name).ok(), None, None),
                    PortKind::Tunnel(c) => ("gre", p.mtu, Some(c.remote_ip), c.effective_key()),
                };
                let attached = p.system.as_ref().map(|s| s.get());
                let error = p.system.as_ref().and_then(|s| s.error(name));
                let (admin_state, link_state, mac_in_use) = match p.kind {
                    PortKind::Tunnel(_) => ("up", "up", None),
                    _ if error.is_some() => ("down", "down", None),
                    _ => {
                        let (admin, link) = interface_state(name);
                        let mac = crate::interface_mac(name)
                            .ok()
                            .map(|m| encap::ethernet::EthernetAddress(m).to_string());
                        (admin, link, mac)
                    }
                };
                PortStats {
                    name: name.clone(),
                    bridge: p.bridge.clone(),
                    port_no: p.id.0,
                    kind,
                    mtu,
                    remote_ip,
                    key,
                    link: p.link.as_ref().map(|(_, dev)| dev.clone()),
                    admin_state,
                    link_state,
                    mac_in_use,
                    ifindex: attached.and_then(Result::ok),
                    kernel: match p.kind {
                        PortKind::Internal { .. } => KernelStats::read(name, true),
                        PortKind::System if error.is_none() => KernelStats::read(name, false),
                        _ => None,
                    },
                    error,
                    recreated: matches!(p.kind, PortKind::Internal { .. }).then_some(p.recreated),
                    counters: p.counters.snapshot(),
                }
            })
            .collect()
    }

    pub fn drops(&self) -> Vec<(DropReason, u64)> {
        self.drops.snapshot()
    }

    /// What the datapath did for path MTU's sake (clamped SYNs, ICMP too-big answers).
    pub fn events(&self) -> Vec<(Event, u64)> {
        self.events.snapshot()
    }

    /// How each datapath thread's packet loop turns: iterations, idle polls, frames per
    /// receive call.
    pub fn loop_stats(&self) -> Vec<LoopSnapshot> {
        self.loops.snapshots()
    }

    /// The bridge's live MAC table entries, with port names.
    pub fn fdb(&self, bridge: &str) -> Result<Vec<FdbEntry>, DatapathError> {
        let b = self
            .bridges
            .get(bridge)
            .ok_or_else(|| DatapathError::NoSuchBridge(bridge.into()))?;
        let names: BTreeMap<PortId, &String> = self.ports.iter().map(|(n, p)| (p.id, n)).collect();
        Ok(b.table
            .entries(Instant::now())
            .into_iter()
            .map(|entry| FdbEntry {
                port: names
                    .get(&entry.port)
                    .map_or_else(|| entry.port.to_string(), |n| (*n).clone()),
                port_no: entry.port.0,
                entry,
            })
            .collect())
    }

    /// Starts watching frames (see `monitor`); events flow until the returned `Monitor` is
    /// dropped.
    pub fn monitor(&self, spec: MonitorSpec) -> Result<Monitor, DatapathError> {
        let (monitor, sink) = monitor::channel(spec);
        self.send(Command::Watch(sink))?;
        Ok(monitor)
    }

    /// The port number of a port, by name.
    pub fn port_id(&self, name: &str) -> Option<PortId> {
        self.ports.get(name).map(|p| p.id)
    }

    /// Learns `mac` on port `port` of `bridge`, as a frame from it would (`ofproto/trace --learn`).
    pub fn learn(
        &self,
        bridge: &str,
        mac: impl Into<learning::Addr>,
        port: PortId,
    ) -> Result<Learned, DatapathError> {
        let b = self
            .bridges
            .get(bridge)
            .ok_or_else(|| DatapathError::NoSuchBridge(bridge.into()))?;
        Ok(b.table.learn(mac, port, Instant::now()))
    }

    /// The learning counters of a bridge's table.
    pub fn fdb_counters(&self, bridge: &str) -> Option<learning::Counters> {
        self.bridges.get(bridge).map(|b| b.table.counters())
    }

    /// Forgets learned addresses: of one bridge, or all. Returns how many.
    pub fn fdb_flush(&self, bridge: Option<&str>) -> Result<usize, DatapathError> {
        match bridge {
            Some(name) => Ok(self
                .bridges
                .get(name)
                .ok_or_else(|| DatapathError::NoSuchBridge(name.into()))?
                .table
                .flush()),
            None => Ok(self.bridges.values().map(|b| b.table.flush()).sum()),
        }
    }

    /// Stops the loop. Internal ports stay (persistent TAPs) for the next daemon to re-attach.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            // Dropping the sender ends the loop at its next wake-up.
            let (dead, _) = mpsc::channel();
            self.commands = dead;
            let _ = self.wake.send(&[0]);
            let _ = thread.join();
        }
    }
}

impl Drop for Datapath {
    fn drop(&mut self) {
        self.stop();
    }
}
/// A tunnel port for `config`, with its route's MTU; a typed error for addresses the datapath
/// cannot send to (IPv6, today).
fn tunnel_port(name: &str, config: TunnelConfig) -> Result<TunnelPort, DatapathError> {
    let mut tunnel =
        TunnelPort::new(config, DEFAULT_MTU).map_err(|source| DatapathError::TunnelAddress {
            port: name.into(),
            source,
        })?;
    tunnel.path_mtu = path_mtu(tunnel.remote());
    Ok(tunnel)
}

fn path_mtu(remote: IpAddr) -> u32 {
    match remote {
        IpAddr::V4(ip) => sys::route_mtu(ip),
        IpAddr::V6(ip) => sys::route_mtu6(ip),
    }
    .unwrap_or(DEFAULT_MTU)
}
