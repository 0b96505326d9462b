//! The datapath: one thread that owns every port and runs the packet loop, and the `Datapath`
//! handle through which the daemon adds and removes bridges and ports and reads counters.
//!
//! Control changes travel by channel and are applied between batches, so the loop takes no lock
//! per frame; MAC tables and counters are shared with the control side as `Arc`s that the loop
//! writes without contention (see `learning::SharedMacTable` and `counters`).

use std::collections::BTreeMap;
use std::io;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use encap::gro::{self, TcpSegment};
use encap::ipv4;
use encap::tunnel::{self, CongestionMark};
use encap::vnet::{self, Gso, VnetHeader};
use learning::{EntryInfo, Learned, PortId, SharedMacTable};

use crate::counters::{DropCounters, DropReason, PortCounters, PortCountersSnapshot};
use crate::forward::{FrameRef, PortState, TxQueues, output, should_flood, tap_write_failure};
use crate::input::{Verdict, decide};
use crate::monitor::{self, Decision, Direction, FrameEvent, Monitor, MonitorSink, MonitorSpec};
use crate::port::link::{self, Link};
use crate::port::tunnel::NoTunnel;
use crate::port::{InternalPort, PortIo, TunnelConfig, TunnelMap, TunnelPort};
use crate::sys::{self, MAX_BATCH, PacketTx, RawGre, RecvBatch, SendBatch, SendEntry, TapError};
use crate::tree::{self, Gate, Tree, TreePortSettings, TreeSettings};

/// Assumed transport MTU when the route to a remote is not known yet.
const DEFAULT_MTU: u32 = 1500;
/// Frames read from a TAP per batch when they may be 64 KB each.
const TAP_BATCH_OFFLOAD: usize = 8;
/// Batches drained from one fd before the loop looks at the others.
const BATCHES_PER_WAKE: usize = 4;
/// How often a tunnel with an Ethernet link sends one packet by the raw socket anyway, so the
/// kernel keeps confirming (or re-resolving) the remote's MAC.
const NEIGHBOUR_PROBE: Duration = Duration::from_secs(1);

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
        remote: Ipv4Addr,
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
}

impl Default for DatapathOptions {
    fn default() -> Self {
        DatapathOptions {
            offload: true,
            link_tx: true,
        }
    }
}

/// A bridge's forwarding settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeSettings {
    pub table: learning::Config,
    /// Never flood a frame that came from a tunnel to another tunnel.
    pub split_horizon: bool,
}

/// What a port is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKind {
    /// A TAP device; its MTU follows the bridge's tunnels unless `mtu_request` is set.
    Internal {
        mtu_request: Option<u32>,
    },
    Tunnel(TunnelConfig),
}

/// One port's counters and state, for `dpif/show` and `get interface P statistics`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PortStats {
    pub name: String,
    pub bridge: String,
    pub port_no: u32,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub mtu: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<Ipv4Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<u32>,
    /// Tunnels sending by the packet socket: the interface their packets leave by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(flatten)]
    pub counters: PortCountersSnapshot,
}

/// One learned MAC, for `fdb/show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdbEntry {
    pub port: String,
    pub port_no: u32,
    pub entry: EntryInfo,
}

enum Command {
    AddBridge {
        idx: usize,
        table: Arc<SharedMacTable>,
        split_horizon: bool,
    },
    SetSplitHorizon {
        idx: usize,
        split_horizon: bool,
    },
    DelBridge {
        idx: usize,
    },
    AddPort {
        id: PortId,
        state: PortState,
    },
    UpdateTunnel {
        id: PortId,
        config: TunnelConfig,
        path_mtu: u32,
    },
    SetLink {
        id: PortId,
        link: Option<Link>,
    },
    DelPort {
        id: PortId,
    },
    SetTree {
        idx: usize,
        settings: Option<TreeSettings>,
    },
    SetTreePort {
        id: PortId,
        config: Option<stp::PortConfig>,
    },
    TreeStatus {
        idx: usize,
        reply: mpsc::SyncSender<Option<stp::Status>>,
    },
    Watch(MonitorSink),
    Sync(mpsc::SyncSender<()>),
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
    counters: Arc<PortCounters>,
    /// Internal ports: the MTU grebe last set. Tunnels: the transport path MTU.
    mtu: Option<u32>,
    /// Tunnels: the Ethernet link the datapath thread sends by, and its interface.
    link: Option<(Link, String)>,
    tree: TreePortSettings,
    /// The port's settings as the datapath thread's spanning tree has them.
    tree_sent: Option<stp::PortConfig>,
}

/// A bridge's spanning tree as `stp/show` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeStatus {
    pub status: stp::Status,
    /// Port number to port name.
    pub port_names: BTreeMap<stp::PortNo, String>,
}

/// The daemon's handle on the datapath thread.
pub struct Datapath {
    commands: mpsc::Sender<Command>,
    wake: UnixDatagram,
    thread: Option<JoinHandle<()>>,
    drops: Arc<DropCounters>,
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
        let drops = Arc::new(DropCounters::default());
        let packet_tx = if options.link_tx {
            PacketTx::open()
                .map_err(|e| tracing::warn!(error = %e, "no packet socket: every tunnel packet goes by the raw socket"))
                .ok()
        } else {
            None
        };
        let mut engine = Engine {
            raw,
            raw_large: None,
            packet_tx,
            wake: wake_rx,
            commands: command_rx,
            drops: drops.clone(),
            bridges: Vec::new(),
            ports: Vec::new(),
            tunnels: TunnelMap::default(),
            taps: Vec::new(),
            offload: options.offload,
            targets: Vec::new(),
            coalescer: Coalescer::default(),
            monitors: Vec::new(),
        };
        let thread = std::thread::Builder::new()
            .name("grebe-datapath".into())
            .spawn(move || engine.run())
            .map_err(DatapathError::Thread)?;
        Ok(Datapath {
            commands,
            wake,
            thread: Some(thread),
            drops,
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
        b.settings = settings;
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

    pub fn add_port(
        &mut self,
        bridge: &str,
        name: &str,
        kind: PortKind,
    ) -> Result<(), DatapathError> {
        if self.ports.contains_key(name) {
            return Err(DatapathError::PortExists(name.into()));
        }
        let bridge_idx = self
            .bridges
            .get(bridge)
            .ok_or_else(|| DatapathError::NoSuchBridge(bridge.into()))?
            .idx;
        let (io, mtu) = match kind {
            PortKind::Internal { .. } => (
                PortIo::Internal(InternalPort::open(name, self.options.offload)?),
                None,
            ),
            PortKind::Tunnel(config) => {
                self.check_tunnel_unique(name, &config)?;
                let mtu = path_mtu(config.remote_ip);
                (PortIo::Tunnel(TunnelPort::new(config, mtu)), Some(mtu))
            }
        };
        let id = PortId(self.free_port_ids.pop().unwrap_or_else(|| {
            self.next_port_id += 1;
            self.next_port_id - 1
        }));
        let counters = Arc::new(PortCounters::default());
        // A tunnel joining a spanning tree starts closed: until the tree says otherwise it could
        // close a loop.
        let tree = self.bridges.get(bridge).and_then(|b| b.tree);
        let joins_tree = tree.is_some() && matches!(kind, PortKind::Tunnel(_));
        self.send(Command::AddPort {
            id,
            state: PortState {
                bridge: bridge_idx,
                counters: counters.clone(),
                io,
                gate: if joins_tree { Gate::Closed } else { Gate::Open },
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
                tree: TreePortSettings::default(),
                tree_sent: None,
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
                let path_mtu = path_mtu(config.remote_ip);
                self.send(Command::UpdateTunnel {
                    id,
                    config,
                    path_mtu,
                })?;
                let port = self.ports.get_mut(name).expect("checked above");
                if let PortKind::Tunnel(old) = port.kind
                    && (old.remote_ip, old.local_ip) != (config.remote_ip, config.local_ip)
                {
                    // The datapath thread dropped the link; the next refresh resolves the new one.
                    port.link = None;
                }
                port.kind = kind;
                port.mtu = Some(path_mtu);
                self.update_internal_mtus(&bridge);
                Ok(())
            }
            (PortKind::Internal { .. }, PortKind::Internal { .. }) => {
                self.ports.get_mut(name).expect("checked above").kind = kind;
                self.update_internal_mtus(&bridge);
                Ok(())
            }
            _ => {
                let tree = port.tree;
                self.del_port(name)?;
                self.add_port(&bridge, name, kind)?;
                self.set_tree_port(name, tree)
            }
        }
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
                let mtu = path_mtu(config.remote_ip);
                if p.mtu != Some(mtu) {
                    changed.push((name.clone(), p.id, config, mtu));
                }
            }
        }
        for (name, id, config, path_mtu) in changed {
            self.send(Command::UpdateTunnel {
                id,
                config,
                path_mtu,
            })?;
            let port = self.ports.get_mut(&name).expect("listed above");
            port.mtu = Some(path_mtu);
            let bridge = port.bridge.clone();
            self.update_internal_mtus(&bridge);
        }
        Ok(())
    }

    /// Follows the kernel's neighbour table: a tunnel whose remote became resolved on an
    /// Ethernet interface sends by the packet socket, one whose entry changed or went follows.
    /// Call about once a second from the control thread.
    pub fn refresh_links(&mut self) -> Result<(), DatapathError> {
        if !self.options.link_tx {
            return Ok(());
        }
        let mut changed = Vec::new();
        for p in self.ports.values_mut() {
            if let PortKind::Tunnel(config) = p.kind {
                let link = link::resolve(config.remote_ip, config.local_ip);
                if link != p.link {
                    changed.push((p.id, link.as_ref().map(|(l, _)| *l)));
                    p.link = link;
                }
            }
        }
        for (id, link) in changed {
            self.send(Command::SetLink { id, link })?;
        }
        Ok(())
    }

    /// The MTU an internal port gets unless the user asked for one: the smallest inner MTU the
    /// bridge's tunnels can carry, so TCP through the tunnel works without fragmentation.
    fn tunnel_inner_mtu(&self, bridge: &str) -> u32 {
        self.ports
            .values()
            .filter(|p| p.bridge == bridge)
            .filter_map(|p| match p.kind {
                PortKind::Tunnel(c) => {
                    Some(p.mtu.unwrap_or(DEFAULT_MTU).saturating_sub(c.overhead()))
                }
                PortKind::Internal { .. } => None,
            })
            .min()
            .unwrap_or(DEFAULT_MTU)
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
                    PortKind::Tunnel(c) => ("gre", p.mtu, Some(c.remote_ip), c.effective_key()),
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
                    counters: p.counters.snapshot(),
                }
            })
            .collect()
    }

    pub fn drops(&self) -> Vec<(DropReason, u64)> {
        self.drops.snapshot()
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
        mac: [u8; 6],
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

/// Reads a TAP frame's virtio-net header and does the work that cannot wait: a checksum left
/// unfinished on a frame that needs no segmentation is computed now (so every output, tunnel or
/// TAP, gets a finished frame) and the header then says so. Segmentation stays to do, per tunnel.
#[inline]
fn take_offload_work(packet: &mut [u8]) -> Result<VnetHeader, DropReason> {
    let header = VnetHeader::parse(packet).map_err(|_| DropReason::FrameTruncated)?;
    match header.gso() {
        Gso::None if header.needs_csum() => {
            let frame = &mut packet[vnet::HEADER_LEN..];
            vnet::complete_checksum(
                frame,
                usize::from(header.csum_start),
                usize::from(header.csum_offset),
            )?;
            VnetHeader::PLAIN.emit(packet);
            Ok(VnetHeader::PLAIN)
        }
        Gso::None | Gso::TcpV4 | Gso::TcpV6 => Ok(header),
        Gso::Other(_) => Err(DropReason::BadOffload),
    }
}

fn path_mtu(remote: Ipv4Addr) -> u32 {
    sys::route_mtu(remote).unwrap_or(DEFAULT_MTU)
}

/// One frame being built from consecutive TCP segments (see `encap::gro`).
struct Coalescer {
    /// Virtio-net header, then the frame: allocated once, 64 KB.
    buf: Box<[u8]>,
    /// Frame bytes in `buf` after the virtio-net header.
    len: usize,
    /// Segments in it; 0 when idle.
    count: u32,
    port: PortId,
    first: TcpSegment,
    end_seq: u32,
    psh: bool,
}

impl Default for Coalescer {
    fn default() -> Self {
        Coalescer {
            buf: vec![0; vnet::HEADER_LEN + gro::MAX_MERGED_LEN].into_boxed_slice(),
            len: 0,
            count: 0,
            port: PortId(0),
            first: TcpSegment {
                hdr_len: 0,
                seq: 0,
                payload_len: 0,
                flags: 0,
            },
            end_seq: 0,
            psh: false,
        }
    }
}

struct BridgeState {
    table: Arc<SharedMacTable>,
    ports: Vec<PortId>,
    split_horizon: bool,
    tree: Option<Tree>,
}

/// The datapath thread's state: it alone touches ports and sockets.
struct Engine {
    raw: RawGre,
    /// Opened with the first `large_frames` tunnel.
    raw_large: Option<RawGre>,
    /// Sends to tunnels with an Ethernet link (`DatapathOptions::link_tx`).
    packet_tx: Option<PacketTx>,
    wake: UnixDatagram,
    commands: mpsc::Receiver<Command>,
    drops: Arc<DropCounters>,
    bridges: Vec<Option<BridgeState>>,
    /// Indexed by port number.
    ports: Vec<Option<PortState>>,
    tunnels: TunnelMap,
    /// Internal ports, in poll order.
    taps: Vec<PortId>,
    /// Frames to and from TAPs carry a virtio-net header.
    offload: bool,
    /// Scratch: the ports the current frame goes to.
    targets: Vec<PortId>,
    /// TCP segments from tunnels being joined into one frame for a TAP.
    coalescer: Coalescer,
    monitors: Vec<MonitorSink>,
}

fn slot<T>(v: &mut Vec<Option<T>>, i: usize) -> &mut Option<T> {
    if v.len() <= i {
        v.resize_with(i + 1, || None);
    }
    &mut v[i]
}

impl Engine {
    fn run(&mut self) {
        let mut rx = RecvBatch::new();
        let mut tx = TxQueues::default();
        let mut pollfds = Vec::new();
        let mut ready = Vec::new();
        let mut next_expiry: Option<Instant> = None;
        let mut next_probe = Instant::now();
        let mut next_tree_tick = Instant::now();
        loop {
            if !self.apply_commands() {
                return;
            }
            let now = Instant::now();
            let mut timeout = next_expiry.map_or(Duration::from_secs(1), |t| {
                t.saturating_duration_since(now).min(Duration::from_secs(1))
            });
            // Spanning tree timers every TICK, not on every wake-up (tens of thousands a second
            // under load); received BPDUs are answered as they come (`bpdu`).
            if self.bridges.iter().flatten().any(|b| b.tree.is_some()) {
                if now >= next_tree_tick {
                    next_tree_tick = now + tree::TICK;
                    self.run_trees(now, &mut tx);
                    self.flush(&mut tx, &rx);
                }
                timeout = timeout.min(next_tree_tick.saturating_duration_since(now));
            }
            let fds = [self.wake.as_fd(), self.raw.as_fd()].into_iter().chain(
                self.taps
                    .iter()
                    .filter_map(|id| match &self.ports[id.0 as usize] {
                        Some(PortState {
                            io: PortIo::Internal(tap),
                            ..
                        }) => Some(tap.tap().as_fd()),
                        _ => None,
                    }),
            );
            if let Err(e) = sys::poll_readable(fds, timeout, &mut pollfds, &mut ready) {
                tracing::error!(error = %e, "poll failed");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            if ready[0] {
                let mut sink = [0u8; 64];
                while self.wake.recv(&mut sink).is_ok() {}
            }
            if ready[1] {
                for _ in 0..BATCHES_PER_WAKE {
                    let n = match self.raw.recv(&mut rx) {
                        Ok(n) => n,
                        Err(e) => {
                            tracing::warn!(error = %e, "GRE receive failed");
                            0
                        }
                    };
                    if n == 0 {
                        break;
                    }
                    self.tunnel_batch(&mut rx, n, &mut tx);
                    self.flush(&mut tx, &rx);
                    if n < MAX_BATCH {
                        break;
                    }
                }
            }
            for i in 0..self.taps.len() {
                if ready.get(i + 2) == Some(&true) {
                    let id = self.taps[i];
                    for _ in 0..BATCHES_PER_WAKE {
                        let n = self.read_tap(id, &mut rx);
                        if n == 0 {
                            break;
                        }
                        self.tap_batch(id, &mut rx, n, &mut tx);
                        self.flush(&mut tx, &rx);
                        if n < TAP_BATCH_OFFLOAD.min(MAX_BATCH) {
                            break;
                        }
                    }
                }
            }
            let now = Instant::now();
            if now >= next_probe {
                next_probe = now + NEIGHBOUR_PROBE;
                for port in self.ports.iter_mut().flatten() {
                    if let PortIo::Tunnel(t) = &mut port.io {
                        t.probe_raw = t.link.is_some();
                    }
                }
            }
            if next_expiry.is_none_or(|t| t <= now) {
                next_expiry = None;
                for b in self.bridges.iter().flatten() {
                    b.table.expire(now);
                    if let Some(t) = b.table.next_expiry() {
                        next_expiry = Some(next_expiry.map_or(t, |n: Instant| n.min(t)));
                    }
                }
                // Entries learned later are at least a whole ageing period away; look again
                // within a second anyway so a new bridge's first entries are seen.
                if next_expiry.is_none() {
                    next_expiry = Some(now + Duration::from_secs(1));
                }
            }
        }
    }

    /// Applies pending control changes; false when the control side has gone.
    fn apply_commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(c) => self.apply(c),
                Err(mpsc::TryRecvError::Empty) => return true,
                Err(mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::AddBridge {
                idx,
                table,
                split_horizon,
            } => {
                *slot(&mut self.bridges, idx) = Some(BridgeState {
                    table,
                    ports: Vec::new(),
                    split_horizon,
                    tree: None,
                });
            }
            Command::SetSplitHorizon { idx, split_horizon } => {
                if let Some(b) = slot(&mut self.bridges, idx) {
                    b.split_horizon = split_horizon;
                }
            }
            Command::DelBridge { idx } => *slot(&mut self.bridges, idx) = None,
            Command::AddPort { id, state } => {
                if let Some(b) = slot(&mut self.bridges, state.bridge) {
                    b.ports.push(id);
                }
                match &state.io {
                    PortIo::Internal(_) => self.taps.push(id),
                    PortIo::Tunnel(t) => {
                        // Uniqueness was checked on the control side.
                        let _ = self.tunnels.insert(&t.config, id);
                        let large = t.config.large_frames;
                        self.need_large_socket(large);
                    }
                }
                *slot(&mut self.ports, id.0 as usize) = Some(state);
            }
            Command::UpdateTunnel {
                id,
                config,
                path_mtu,
            } => {
                if let Some(PortState {
                    io: PortIo::Tunnel(t),
                    ..
                }) = slot(&mut self.ports, id.0 as usize)
                {
                    self.tunnels.remove(&t.config, id);
                    let _ = self.tunnels.insert(&config, id);
                    let next_seq = t.next_seq;
                    // The link leads to the remote: a new remote (or source) has none until the
                    // control side resolves it.
                    let same_ends = t.config.remote_ip == config.remote_ip
                        && t.config.local_ip == config.local_ip;
                    let link = t.link.filter(|_| same_ends);
                    *t = TunnelPort::new(config, path_mtu);
                    t.next_seq = next_seq;
                    t.set_link(link);
                }
                self.need_large_socket(config.large_frames);
            }
            Command::DelPort { id } => {
                let Some(state) = slot(&mut self.ports, id.0 as usize).take() else {
                    return;
                };
                if let Some(b) = slot(&mut self.bridges, state.bridge) {
                    b.ports.retain(|p| *p != id);
                    b.table.flush_port(id);
                    if let Some(tree) = &mut b.tree {
                        tree.set_port(id, None);
                    }
                }
                match state.io {
                    PortIo::Internal(tap) => {
                        self.taps.retain(|p| *p != id);
                        tap.destroy();
                    }
                    PortIo::Tunnel(t) => self.tunnels.remove(&t.config, id),
                }
            }
            Command::SetLink { id, link } => {
                if let Some(PortState {
                    io: PortIo::Tunnel(t),
                    ..
                }) = slot(&mut self.ports, id.0 as usize)
                {
                    t.set_link(link.filter(|_| self.packet_tx.is_some()));
                }
            }
            Command::SetTree { idx, settings } => self.set_tree(idx, settings),
            Command::SetTreePort { id, config } => {
                let Some(Some(port)) = self.ports.get_mut(id.0 as usize) else {
                    return;
                };
                let Some(Some(b)) = self.bridges.get_mut(port.bridge) else {
                    return;
                };
                let Some(tree) = &mut b.tree else {
                    return;
                };
                // Closed until the protocol says otherwise; out of the tree, always open.
                port.gate = if config.is_some() {
                    Gate::Closed
                } else {
                    Gate::Open
                };
                tree.set_port(id, config);
            }
            Command::TreeStatus { idx, reply } => {
                let status = match self.bridges.get(idx) {
                    Some(Some(b)) => b.tree.as_ref().map(Tree::status),
                    _ => None,
                };
                let _ = reply.send(status);
            }
            Command::Watch(sink) => self.monitors.push(sink),
            Command::Sync(done) => {
                let _ = done.send(());
            }
        }
    }

    /// Starts, reconfigures or stops a bridge's spanning tree. Ports join a new one through
    /// `SetTreePort` commands that follow.
    fn set_tree(&mut self, idx: usize, settings: Option<TreeSettings>) {
        let Some(Some(b)) = self.bridges.get_mut(idx) else {
            return;
        };
        match (&mut b.tree, settings) {
            (Some(tree), Some(s)) if tree.protocol() == s.protocol => {
                tree.set_bridge_config(&s.bridge);
                return;
            }
            (_, Some(s)) => b.tree = Some(Tree::new(&s, Instant::now())),
            (_, None) => b.tree = None,
        }
        // Ports open until they join the new tree; what was learned under the old one is stale.
        for id in &b.ports {
            if let Some(Some(p)) = self.ports.get_mut(id.0 as usize) {
                p.gate = Gate::Open;
            }
        }
        b.table.flush();
    }

    /// Runs the bridges' spanning tree timers and carries out what they ask.
    fn run_trees(&mut self, now: Instant, tx: &mut TxQueues) {
        for b in self.bridges.iter_mut().flatten() {
            if let Some(tree) = &mut b.tree {
                tree.tick(now);
                tree.drain(&mut self.ports, &b.table, &mut tx.gre, &self.drops);
            }
        }
    }

    /// A frame to 01:80:c2:00:00:00 on a bridge that runs spanning tree: a BPDU for the
    /// protocol, answered at once (RSTP's agreement should not wait for a timer).
    fn bpdu(&mut self, ingress: PortId, frame: &[u8], tx: &mut TxQueues) {
        let Some(Some(port)) = self.ports.get(ingress.0 as usize) else {
            return;
        };
        let Some(Some(b)) = self.bridges.get_mut(port.bridge) else {
            return;
        };
        let Some(tree) = &mut b.tree else {
            self.drops.add(DropReason::LinkLocal);
            return;
        };
        tree.receive(ingress, port, frame, &self.drops);
        tree.drain(&mut self.ports, &b.table, &mut tx.gre, &self.drops);
    }

    /// A frame on a port that spanning tree keeps from forwarding: BPDUs go to the protocol, a
    /// learning port learns the source, nothing is forwarded.
    #[cold]
    fn gated_ingress(
        &mut self,
        ingress: PortId,
        gate: Gate,
        frame: &[u8],
        now: Instant,
        tx: &mut TxQueues,
    ) {
        if frame.get(..6) == Some(&stp::bpdu::GROUP_ADDRESS[..]) {
            return self.bpdu(ingress, frame, tx);
        }
        if gate == Gate::LearnOnly
            && let Some(port) = self.ports[ingress.0 as usize].as_ref()
            && let Some(b) = self.bridges[port.bridge].as_ref()
            && let Ok(f) = encap::ethernet::Frame::new_checked(frame)
            && !f.src_addr().is_multicast()
            && !f.src_addr().is_zero()
        {
            b.table.learn(f.src_addr().0, ingress, now);
        }
        self.drops.add(DropReason::StpBlocked);
    }

    /// Opens the socket for large frames when the first tunnel that uses them appears.
    fn need_large_socket(&mut self, large_frames: bool) {
        if large_frames && self.raw_large.is_none() {
            match RawGre::open_fragmenting() {
                Ok(raw) => self.raw_large = Some(raw),
                Err(e) => tracing::error!(error = %e, "cannot open the socket for large frames"),
            }
        }
    }

    /// Reads up to a batch of frames from one TAP. With offloads a frame can be 64 KB, so the
    /// batch is shorter: eight such frames are already ~360 GRE packets, and fewer buffers in use
    /// keep the resident set small.
    fn read_tap(&self, id: PortId, rx: &mut RecvBatch) -> usize {
        let limit = if self.offload {
            TAP_BATCH_OFFLOAD
        } else {
            MAX_BATCH
        };
        let Some(PortState {
            io: PortIo::Internal(tap),
            ..
        }) = &self.ports[id.0 as usize]
        else {
            return 0;
        };
        let mut n = 0;
        while n < limit {
            match tap.tap().read(rx.buf_mut(n)) {
                Ok(len) => {
                    rx.set_len(n, len);
                    n += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::debug!(port = id.0, error = %e, "TAP read failed");
                    break;
                }
            }
        }
        n
    }

    fn tap_batch(&mut self, id: PortId, rx: &mut RecvBatch, n: usize, tx: &mut TxQueues) {
        let now = Instant::now();
        let skip = if self.offload { vnet::HEADER_LEN } else { 0 };
        for i in 0..n {
            let vnet = if self.offload {
                match take_offload_work(rx.packet_mut(i)) {
                    Ok(v) => v,
                    Err(reason) => {
                        self.drops.add(reason);
                        continue;
                    }
                }
            } else {
                VnetHeader::PLAIN
            };
            let packet = rx.packet(i);
            let Some(bytes) = packet.get(skip..) else {
                self.drops.add(DropReason::FrameTruncated);
                continue;
            };
            let frame = FrameRef {
                buf: i,
                range: skip..packet.len(),
                bytes,
                tap_bytes: packet,
                packet: bytes,
                overwritten: None,
                vnet,
            };
            self.forward(id, frame, now, tx);
        }
    }

    fn tunnel_batch(&mut self, rx: &mut RecvBatch, n: usize, tx: &mut TxQueues) {
        let now = Instant::now();
        for i in 0..n {
            let (id, range, outer_tos) = match self.classify(rx.packet(i)) {
                Ok(x) => x,
                Err(reason) => {
                    self.drops.add(reason);
                    continue;
                }
            };
            let mark = tunnel::decap_ecn(&mut rx.packet_mut(i)[range.clone()], outer_tos);
            if mark == CongestionMark::NotEct {
                self.drops.add(DropReason::EcnNotEct);
                continue;
            }
            let vnet_header = self.reassembled_to_gso(id, &mut rx.packet_mut(i)[range.clone()]);
            // The GRE header in front of the frame is parsed and done with: the TAP's
            // virtio-net header goes in its place, so no frame is copied.
            let mut overwritten = None;
            let tap_start = if self.offload {
                let at = range.start - vnet::HEADER_LEN;
                let spent = &mut rx.packet_mut(i)[at..range.start];
                if !self.monitors.is_empty() {
                    let mut original = [0u8; vnet::HEADER_LEN];
                    original.copy_from_slice(spent);
                    overwritten = Some((at, original));
                }
                vnet_header.emit(spent);
                at
            } else {
                range.start
            };
            let packet = rx.packet(i);
            let frame = FrameRef {
                buf: i,
                range: range.clone(),
                bytes: &packet[range.clone()],
                tap_bytes: &packet[tap_start..range.end],
                packet,
                overwritten,
                vnet: vnet_header,
            };
            self.forward(id, frame, now, tx);
        }
        self.flush_coalesced();
    }

    /// A frame that came whole through a `large_frames` tunnel (reassembled, larger than the
    /// transport MTU) becomes a GSO frame again, cut at the MSS the tunnel carries, so the TAP
    /// takes it as one packet; any other frame needs no offload work.
    fn reassembled_to_gso(&self, tunnel: PortId, frame: &mut [u8]) -> VnetHeader {
        let Some(Some(PortState {
            io: PortIo::Tunnel(t),
            ..
        })) = self.ports.get(tunnel.0 as usize)
        else {
            return VnetHeader::PLAIN;
        };
        if !(self.offload && t.config.large_frames && frame.len() > t.path_mtu as usize) {
            return VnetHeader::PLAIN;
        }
        let Some(segment) = gro::tcp4_segment(frame) else {
            return VnetHeader::PLAIN;
        };
        let mss = (t.path_mtu as usize).saturating_sub(t.header.len() + segment.hdr_len);
        if mss == 0 || mss >= segment.payload_len {
            return VnetHeader::PLAIN;
        }
        let first = TcpSegment {
            payload_len: mss,
            ..segment
        };
        gro::finish(frame, &first, false)
    }

    /// Which tunnel a received packet belongs to, where its Ethernet frame is, and the outer TOS.
    #[inline]
    fn classify(&self, packet: &[u8]) -> Result<(PortId, Range<usize>, u8), DropReason> {
        let decap = encap::decap(packet)?;
        match self.tunnels.lookup(decap.outer.src_addr, decap.gre.key) {
            Ok(id) => Ok((id, decap.frame, decap.outer.tos)),
            Err(NoTunnel::UnknownRemote) => Err(DropReason::UnknownRemote),
            Err(NoTunnel::KeyMismatch) => Err(DropReason::KeyMismatch),
        }
    }

    /// Counts the frame in on `ingress`, decides, and outputs it.
    #[inline]
    fn forward(&mut self, ingress: PortId, frame: FrameRef<'_>, now: Instant, tx: &mut TxQueues) {
        let Some(in_port) = self.ports[ingress.0 as usize].as_ref() else {
            return;
        };
        in_port.counters.rx(frame.bytes.len());
        if in_port.gate != Gate::Open {
            return self.gated_ingress(ingress, in_port.gate, frame.bytes, now, tx);
        }
        let ingress_is_tunnel = in_port.is_tunnel();
        let Some(bridge) = self.bridges[in_port.bridge].as_ref() else {
            return;
        };
        let verdict = decide(&bridge.table, ingress, frame.bytes, now);
        if verdict == Verdict::Drop(DropReason::LinkLocal)
            && bridge.tree.is_some()
            && frame.bytes[..6] == stp::bpdu::GROUP_ADDRESS
        {
            return self.bpdu(ingress, frame.bytes, tx);
        }
        // Reused across frames: no allocation once it has grown to the widest flood.
        let mut targets = std::mem::take(&mut self.targets);
        targets.clear();
        match verdict {
            Verdict::Unicast(p) => targets.push(p),
            Verdict::Flood => targets.extend(bridge.ports.iter().copied().filter(|&p| {
                matches!(self.ports.get(p.0 as usize), Some(Some(port))
                    if port.gate == Gate::Open
                        && should_flood(ingress, ingress_is_tunnel, p, port.is_tunnel(), bridge.split_horizon))
            })),
            Verdict::Drop(reason) => self.drops.add(reason),
        }
        if targets.is_empty() && !matches!(verdict, Verdict::Drop(_)) {
            self.drops.add(DropReason::NoTarget);
        }
        let watched = !self.monitors.is_empty();
        if watched {
            self.watch_rx(ingress, &frame, verdict, &targets);
        } else if let Some(tap) = self.coalescible_target(ingress_is_tunnel, &targets)
            && let Some(segment) = gro::tcp4_segment(frame.bytes)
        {
            self.coalesce(tap, frame.bytes, segment);
            self.targets = targets;
            return;
        }
        // Whatever is being coalesced must not be overtaken.
        if self.coalescer.count > 0 {
            self.flush_coalesced();
        }
        for &p in &targets {
            let Some(Some(port)) = self.ports.get_mut(p.0 as usize) else {
                // Learned on a port deleted since: the table flush races this batch.
                self.drops.add(DropReason::NoTarget);
                continue;
            };
            if port.gate != Gate::Open {
                // Learned before the port closed; the flush that follows a state change races
                // this batch.
                self.drops.add(DropReason::StpBlocked);
                continue;
            }
            let (gre_before, link_before) = (tx.gre.len(), tx.link.len());
            output(p, port, &frame, tx, &self.drops);
            if watched {
                let (queue, queued) = if tx.link.len() > link_before {
                    (&tx.link, link_before)
                } else {
                    (&tx.gre, gre_before)
                };
                self.watch_tx(p, &frame, queue, queued);
            }
        }
        self.targets = targets;
    }

    /// The TAP a frame from a tunnel is coalesced for, if it goes to exactly one internal port
    /// and the TAP takes GSO frames.
    #[inline]
    fn coalescible_target(&self, from_tunnel: bool, targets: &[PortId]) -> Option<PortId> {
        match targets {
            [p] if from_tunnel && self.offload => match self.ports.get(p.0 as usize) {
                Some(Some(port)) if !port.is_tunnel() => Some(*p),
                _ => None,
            },
            _ => None,
        }
    }

    /// Adds a TCP segment to the frame being coalesced for `tap`, or starts a new one.
    fn coalesce(&mut self, tap: PortId, frame: &[u8], segment: TcpSegment) {
        let c = &mut self.coalescer;
        if c.count > 0 {
            let merged = &c.buf[vnet::HEADER_LEN..vnet::HEADER_LEN + c.len];
            let fits = c.len + segment.payload_len <= gro::MAX_MERGED_LEN;
            if c.port == tap
                && !c.psh
                && fits
                && gro::can_append(merged, &c.first, c.end_seq, frame, &segment)
            {
                let at = vnet::HEADER_LEN + c.len;
                c.buf[at..at + segment.payload_len].copy_from_slice(&frame[segment.hdr_len..]);
                c.len += segment.payload_len;
                c.end_seq = c.end_seq.wrapping_add(segment.payload_len as u32);
                c.psh = segment.has_psh();
                c.count += 1;
                // A short segment ends a burst: nothing more can follow it.
                if segment.payload_len < c.first.payload_len {
                    self.flush_coalesced();
                }
                return;
            }
            self.flush_coalesced();
        }
        let c = &mut self.coalescer;
        c.buf[vnet::HEADER_LEN..vnet::HEADER_LEN + frame.len()].copy_from_slice(frame);
        c.len = frame.len();
        c.port = tap;
        c.first = segment;
        c.end_seq = segment.seq.wrapping_add(segment.payload_len as u32);
        c.psh = segment.has_psh();
        c.count = 1;
    }

    /// Writes the coalesced frame to its TAP: as it came when it is one segment, else as one
    /// GSO frame the kernel takes whole.
    fn flush_coalesced(&mut self) {
        let c = &mut self.coalescer;
        if c.count == 0 {
            return;
        }
        let end = vnet::HEADER_LEN + c.len;
        let header = if c.count == 1 {
            VnetHeader::PLAIN
        } else {
            gro::finish(&mut c.buf[vnet::HEADER_LEN..end], &c.first, c.psh)
        };
        header.emit(&mut c.buf[..vnet::HEADER_LEN]);
        let segments = u64::from(c.count);
        // Bytes as the segments carried them, so counters match the sender's.
        let bytes = c.len + (c.count as usize - 1) * c.first.hdr_len;
        c.count = 0;
        let Some(Some(port)) = self.ports.get(c.port.0 as usize) else {
            return;
        };
        let PortIo::Internal(tap) = &port.io else {
            return;
        };
        match tap.write(&c.buf[..end]) {
            Ok(_) => port.counters.tx_many(segments, bytes),
            Err(e) => {
                crate::counters::bump(&port.counters.tx_dropped, segments);
                let reason = tap_write_failure(&e);
                for _ in 0..segments {
                    self.drops.add(reason);
                }
            }
        }
    }

    fn watch_rx(
        &mut self,
        port: PortId,
        frame: &FrameRef<'_>,
        verdict: Verdict,
        targets: &[PortId],
    ) {
        let time = SystemTime::now();
        for sink in self.monitors.iter_mut().filter(|m| m.watches(port)) {
            let packet =
                (sink.wants_packets() && frame.packet.len() > frame.bytes.len()).then(|| {
                    let mut packet = frame.packet.to_vec();
                    if let Some((at, original)) = frame.overwritten {
                        packet[at..at + original.len()].copy_from_slice(&original);
                    }
                    packet
                });
            sink.deliver(FrameEvent {
                port,
                direction: Direction::Rx,
                time,
                frame: frame.bytes.to_vec(),
                packet,
                decision: Some(Decision {
                    verdict,
                    outputs: targets.to_vec(),
                }),
            });
        }
        self.monitors.retain(|m| !m.is_closed());
    }

    /// Reports what `output` just did on `port`: the frame written to a TAP, or each GRE packet
    /// queued since entry `queued` (one per segment for a TSO frame).
    fn watch_tx(&mut self, port: PortId, frame: &FrameRef<'_>, tx: &SendBatch, queued: usize) {
        let time = SystemTime::now();
        let outer_len = match self.ports.get(port.0 as usize) {
            Some(Some(p)) if p.is_tunnel() => Some(p.outer_len()),
            _ => None,
        };
        for sink in self.monitors.iter_mut().filter(|m| m.watches(port)) {
            let Some(outer_len) = outer_len else {
                sink.deliver(FrameEvent {
                    port,
                    direction: Direction::Tx,
                    time,
                    frame: frame.bytes.to_vec(),
                    packet: None,
                    decision: None,
                });
                continue;
            };
            for entry in tx.entries_since(queued) {
                let start = entry.frame.0 as usize - frame.range.start;
                let end = entry.frame.1 as usize - frame.range.start;
                let payload = &frame.bytes[start..end];
                // The frame as it travels: a TSO segment's own headers, then its payload.
                let header = &entry.header[..usize::from(entry.header_len)];
                let inner = [&header[outer_len..], payload].concat();
                let packet = sink.wants_packets().then(|| [header, payload].concat());
                sink.deliver(FrameEvent {
                    port,
                    direction: Direction::Tx,
                    time,
                    frame: inner,
                    packet,
                    decision: None,
                });
            }
        }
        self.monitors.retain(|m| !m.is_closed());
    }

    /// Sends the queued tunnel packets, one `sendmmsg` per socket, and counts each outcome.
    fn flush(&mut self, tx: &mut TxQueues, rx: &RecvBatch) {
        send_counted(&self.raw, &mut tx.gre, rx, &self.ports, &self.drops, 0);
        if !tx.link.is_empty() {
            let ports = &self.ports;
            match &mut self.packet_tx {
                Some(packet_tx) => packet_tx.send(
                    &mut tx.link,
                    rx.buffers(),
                    |tag| match ports.get(tag as usize) {
                        Some(Some(PortState {
                            io: PortIo::Tunnel(t),
                            ..
                        })) => t.link.as_ref().map(|l| &l.eth),
                        _ => None,
                    },
                    count_sent(ports, &self.drops, 0),
                ),
                // Links are set only with a packet socket.
                None => tx.link.clear(),
            }
        }
        if tx.large.is_empty() {
            return;
        }
        match &self.raw_large {
            // The kernel writes the outer IPv4 header of these.
            Some(raw) => send_counted(
                raw,
                &mut tx.large,
                rx,
                &self.ports,
                &self.drops,
                ipv4::HEADER_LEN,
            ),
            None => {
                for _ in 0..tx.large.len() {
                    self.drops.add(DropReason::TxFailed);
                }
                tx.large.clear();
            }
        }
    }
}

/// Sends a queue on `raw` and counts each packet against its port; `kernel_header` is the outer
/// header length the kernel adds itself (not in the entry's header).
fn send_counted(
    raw: &RawGre,
    queue: &mut SendBatch,
    rx: &RecvBatch,
    ports: &[Option<PortState>],
    drops: &DropCounters,
    kernel_header: usize,
) {
    if queue.is_empty() {
        return;
    }
    raw.send(queue, rx.buffers(), count_sent(ports, drops, kernel_header));
}

/// Counts one sent (or refused) tunnel packet against its port.
fn count_sent<'a>(
    ports: &'a [Option<PortState>],
    drops: &'a DropCounters,
    kernel_header: usize,
) -> impl FnMut(&SendEntry, Result<(), io::Error>) + 'a {
    move |entry, result| {
        let Some(Some(port)) = ports.get(entry.tag as usize) else {
            return;
        };
        match result {
            // Inner bytes: a segment's own headers count, the outer ones do not.
            Ok(()) => port
                .counters
                .tx(entry.frame.1 as usize - entry.frame.0 as usize
                    + usize::from(entry.header_len)
                    + kernel_header
                    - port.outer_len()),
            Err(e) => {
                crate::counters::bump(&port.counters.tx_dropped, 1);
                drops.add(DropReason::TxFailed);
                tracing::debug!(port = entry.tag, error = %e, "GRE send failed");
            }
        }
    }
}
