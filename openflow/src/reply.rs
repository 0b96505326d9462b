//! Messages grebe sends, encoded with the spec's layouts for the agreed version (OpenFlow 1.3.5
//! §A, OpenFlow 1.0.0 §5). 1.0 differs in its 16-bit port numbers, its 40-byte match, the
//! ports inside FEATURES_REPLY (it has no PORT_DESC), and the numbers of some message types.

use crate::{MAX_MESSAGE, SUPPORTED, VERSION_1_0, VERSION_1_3, msg};

/// Port numbers with meanings of their own (spec §A.2.1).
pub const OFPP_NORMAL: u32 = 0xffff_fffa;
pub const OFPP_LOCAL: u32 = 0xffff_fffe;
pub const OFPP_ANY: u32 = 0xffff_ffff;

/// `OFPMPF_REPLY_MORE`: more replies to the same request follow.
const REPLY_MORE: u16 = 1;
/// The tables a switch announces (`n_tables`), as OVS does.
const N_TABLES: u8 = 254;
/// FLOW_STATS | TABLE_STATS | PORT_STATS.
const CAPABILITIES: u32 = 1 | 2 | 4;
/// 1.0's wildcards of a match on nothing.
const OFPFW_ALL: u32 = (1 << 22) - 1;

/// One port as `PORT_DESC` and port status describe it (`ofp_port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortDesc {
    pub port_no: u32,
    pub hw_addr: [u8; 6],
    pub name: String,
    /// Administratively down (`OFPPC_PORT_DOWN`).
    pub admin_down: bool,
    /// No link (`OFPPS_LINK_DOWN`).
    pub link_down: bool,
    /// Blocked by the spanning tree (`OFPPS_BLOCKED`).
    pub blocked: bool,
}

/// Why a PORT_STATUS is sent (`ofp_port_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortReason {
    Add = 0,
    Delete = 1,
    Modify = 2,
}

/// One port's counters (`ofp_port_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    pub port_no: u32,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub duration_sec: u32,
}

/// One flow as flow statistics report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowStats {
    pub table_id: u8,
    pub priority: u16,
    pub duration_sec: u32,
    pub cookie: u64,
    pub packets: u64,
    pub bytes: u64,
    pub m: flowtable::Match,
    pub actions: Vec<flowtable::Output>,
}

/// One table's counters (`ofp_table_stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableStats {
    pub table_id: u8,
    pub active_count: u32,
    pub lookup_count: u64,
    pub matched_count: u64,
}

/// The switch's description (`ofp_desc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchDesc {
    pub manufacturer: String,
    pub hardware: String,
    pub software: String,
    pub serial: String,
    pub datapath: String,
}

/// Encoders, one per message grebe sends, for one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub version: u8,
}

fn message(version: u8, kind: u8, xid: u32, body: &[u8]) -> Vec<u8> {
    let len = 8 + body.len();
    let mut m = Vec::with_capacity(len);
    m.push(version);
    m.push(kind);
    m.extend(u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    m.extend(xid.to_be_bytes());
    m.extend(body);
    m
}

/// A NUL-padded fixed-size string field (truncated to leave the NUL).
fn fixed(out: &mut Vec<u8>, s: &str, size: usize) {
    let bytes = s.as_bytes();
    let n = bytes.len().min(size - 1);
    out.extend(&bytes[..n]);
    out.resize(out.len() + size - n, 0);
}

/// A port number in 1.0's 16 bits: the special ports keep their meaning.
fn port16(port: u32) -> u16 {
    if port >= 0xffff_ff00 {
        (port & 0xffff) as u16
    } else {
        port as u16
    }
}

impl Reply {
    pub const V1_3: Reply = Reply {
        version: VERSION_1_3,
    };

    fn v10(self) -> bool {
        self.version == VERSION_1_0
    }

    fn message(self, kind: u8, xid: u32, body: &[u8]) -> Vec<u8> {
        message(self.version, kind, xid, body)
    }

    /// HELLO in the highest version grebe speaks, with a version bitmap of all it speaks (a 1.0
    /// peer ignores the bitmap and takes the lower header version).
    pub fn hello(xid: u32) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(1u16.to_be_bytes());
        body.extend(8u16.to_be_bytes());
        body.extend(SUPPORTED.to_be_bytes());
        message(VERSION_1_3, msg::HELLO, xid, &body)
    }

    /// ERROR carrying (up to 64 bytes of) the offending message, as the spec asks.
    pub fn error(self, xid: u32, kind: u16, code: u16, offending: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(kind.to_be_bytes());
        body.extend(code.to_be_bytes());
        body.extend(&offending[..offending.len().min(64)]);
        self.message(msg::ERROR, xid, &body)
    }

    pub fn echo_reply(self, xid: u32, data: &[u8]) -> Vec<u8> {
        self.message(
            msg::ECHO_REPLY,
            xid,
            &data[..data.len().min(MAX_MESSAGE - 8)],
        )
    }

    pub fn echo_request(self, xid: u32) -> Vec<u8> {
        self.message(msg::ECHO_REQUEST, xid, &[])
    }

    /// FEATURES_REPLY; in 1.0 it lists the ports too (1.3 has PORT_DESC for that).
    pub fn features(self, xid: u32, datapath_id: u64, ports: &[PortDesc]) -> Vec<u8> {
        let mut body = Vec::with_capacity(24 + 48 * ports.len());
        body.extend(datapath_id.to_be_bytes());
        body.extend(0u32.to_be_bytes()); // n_buffers
        body.push(N_TABLES);
        if self.v10() {
            body.extend([0; 3]);
            body.extend(CAPABILITIES.to_be_bytes());
            body.extend(1u32.to_be_bytes()); // actions: OUTPUT
            for p in ports {
                body.extend(self.port_desc(p));
            }
        } else {
            body.push(0); // auxiliary_id: the main connection
            body.extend([0, 0]);
            body.extend(CAPABILITIES.to_be_bytes());
            body.extend(0u32.to_be_bytes());
        }
        self.message(msg::FEATURES_REPLY, xid, &body)
    }

    pub fn get_config(self, xid: u32, flags: u16, miss_send_len: u16) -> Vec<u8> {
        let mut body = Vec::with_capacity(4);
        body.extend(flags.to_be_bytes());
        body.extend(miss_send_len.to_be_bytes());
        self.message(msg::GET_CONFIG_REPLY, xid, &body)
    }

    pub fn barrier(self, xid: u32) -> Vec<u8> {
        let kind = if self.v10() {
            msg::BARRIER_REPLY_1_0
        } else {
            msg::BARRIER_REPLY
        };
        self.message(kind, xid, &[])
    }

    /// The replies to one multipart request: `items` (each one record of the reply's body)
    /// packed into as few messages as fit, all but the last flagged REPLY_MORE. An empty list
    /// is one empty reply.
    pub fn multipart(self, xid: u32, kind: u16, items: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let head = if self.v10() { 4 } else { 8 };
        let headers = 8 + head;
        let mut bodies: Vec<Vec<u8>> = vec![Vec::new()];
        for item in items {
            let last = bodies.last_mut().expect("never empty");
            if !last.is_empty() && headers + last.len() + item.len() > MAX_MESSAGE {
                bodies.push(Vec::new());
            }
            bodies.last_mut().expect("never empty").extend(item);
        }
        let n = bodies.len();
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, items)| {
                let mut body = Vec::with_capacity(head + items.len());
                body.extend(kind.to_be_bytes());
                let flags = if i + 1 < n { REPLY_MORE } else { 0 };
                body.extend(flags.to_be_bytes());
                body.resize(head, 0);
                body.extend(items);
                let reply = if self.v10() {
                    msg::STATS_REPLY_1_0
                } else {
                    msg::MULTIPART_REPLY
                };
                self.message(reply, xid, &body)
            })
            .collect()
    }

    pub fn desc(self, d: &SwitchDesc) -> Vec<u8> {
        let mut b = Vec::with_capacity(1056);
        fixed(&mut b, &d.manufacturer, 256);
        fixed(&mut b, &d.hardware, 256);
        fixed(&mut b, &d.software, 256);
        fixed(&mut b, &d.serial, 32);
        fixed(&mut b, &d.datapath, 256);
        b
    }

    /// `ofp_port`, 64 bytes (1.0's `ofp_phy_port`, 48). Speeds are left 0: a TAP, a veth or a
    /// tunnel has none to tell.
    pub fn port_desc(self, p: &PortDesc) -> Vec<u8> {
        if self.v10() {
            let mut b = Vec::with_capacity(48);
            b.extend(port16(p.port_no).to_be_bytes());
            b.extend(p.hw_addr);
            fixed(&mut b, &p.name, 16);
            b.extend(u32::from(p.admin_down).to_be_bytes());
            // OFPPS_LINK_DOWN, and OFPPS_STP_BLOCK in the STP bits.
            let state = u32::from(p.link_down) | (u32::from(p.blocked) * (3 << 8));
            b.extend(state.to_be_bytes());
            b.extend([0; 16]); // curr, advertised, supported, peer
            return b;
        }
        let mut b = Vec::with_capacity(64);
        b.extend(p.port_no.to_be_bytes());
        b.extend([0; 4]);
        b.extend(p.hw_addr);
        b.extend([0; 2]);
        fixed(&mut b, &p.name, 16);
        b.extend(u32::from(p.admin_down).to_be_bytes());
        let state = u32::from(p.link_down) | (u32::from(p.blocked) << 1);
        b.extend(state.to_be_bytes());
        // curr, advertised, supported, peer, curr_speed, max_speed
        b.extend([0; 24]);
        b
    }

    /// `ofp_port_stats`, 112 bytes; frame, overrun and CRC errors and collisions are 0, what
    /// grebe's ports can tell.
    pub fn port_stats(self, s: &PortStats) -> Vec<u8> {
        let mut b = Vec::with_capacity(112);
        if self.v10() {
            b.extend(port16(s.port_no).to_be_bytes());
            b.extend([0; 6]);
        } else {
            b.extend(s.port_no.to_be_bytes());
            b.extend([0; 4]);
        }
        for v in [
            s.rx_packets,
            s.tx_packets,
            s.rx_bytes,
            s.tx_bytes,
            s.rx_dropped,
            s.tx_dropped,
            s.rx_errors,
            s.tx_errors,
            0,
            0,
            0,
            0,
        ] {
            b.extend(v.to_be_bytes());
        }
        if !self.v10() {
            b.extend(s.duration_sec.to_be_bytes());
            b.extend(0u32.to_be_bytes());
        }
        b
    }

    /// `ofp_flow_stats` with an empty match and one instruction, APPLY_ACTIONS [OUTPUT]; in
    /// 1.0 a match of all wildcards and the OUTPUT action itself.
    pub fn flow_stats(self, f: &FlowStats) -> Vec<u8> {
        let mut b = Vec::with_capacity(128);
        b.extend(0u16.to_be_bytes()); // length, set below
        b.push(f.table_id);
        b.push(0);
        if self.v10() {
            b.extend(crate::flow::match_10(&f.m));
        }
        b.extend(f.duration_sec.to_be_bytes());
        b.extend(0u32.to_be_bytes());
        b.extend(f.priority.to_be_bytes());
        b.extend(0u16.to_be_bytes()); // idle_timeout
        b.extend(0u16.to_be_bytes()); // hard_timeout
        if self.v10() {
            b.extend([0; 6]);
        } else {
            b.extend(0u16.to_be_bytes()); // flags
            b.extend([0; 4]);
        }
        b.extend(f.cookie.to_be_bytes());
        b.extend(f.packets.to_be_bytes());
        b.extend(f.bytes.to_be_bytes());
        if self.v10() {
            for a in &f.actions {
                b.extend(0u16.to_be_bytes()); // OFPAT_OUTPUT
                b.extend(8u16.to_be_bytes());
                b.extend(port16(crate::flow::action_port(a)).to_be_bytes());
                b.extend(0u16.to_be_bytes());
            }
        } else {
            // ofp_match: OXM type, length without padding, fields, padded to 8.
            let fields = crate::flow::oxm_fields(&f.m);
            b.extend(1u16.to_be_bytes());
            b.extend(((4 + fields.len()) as u16).to_be_bytes());
            b.extend(&fields);
            b.resize(b.len().div_ceil(8) * 8, 0);
            if !f.actions.is_empty() {
                // OFPIT_APPLY_ACTIONS with OUTPUT actions.
                b.extend(4u16.to_be_bytes());
                b.extend(((8 + 16 * f.actions.len()) as u16).to_be_bytes());
                b.extend([0; 4]);
                for a in &f.actions {
                    b.extend(0u16.to_be_bytes());
                    b.extend(16u16.to_be_bytes());
                    b.extend(crate::flow::action_port(a).to_be_bytes());
                    b.extend(0u16.to_be_bytes()); // max_len
                    b.extend([0; 6]);
                }
            }
        }
        let len = (b.len() as u16).to_be_bytes();
        b[..2].copy_from_slice(&len);
        b
    }

    pub fn aggregate(self, packets: u64, bytes: u64, flows: u32) -> Vec<u8> {
        let mut b = Vec::with_capacity(24);
        b.extend(packets.to_be_bytes());
        b.extend(bytes.to_be_bytes());
        b.extend(flows.to_be_bytes());
        b.extend([0; 4]);
        b
    }

    /// `ofp_table_stats`: 24 bytes in 1.3; 64 in 1.0, with a name, wildcards and size.
    pub fn table_stats(self, t: &TableStats) -> Vec<u8> {
        let mut b = Vec::with_capacity(64);
        b.push(t.table_id);
        b.extend([0; 3]);
        if self.v10() {
            fixed(&mut b, "classifier", 32);
            b.extend(OFPFW_ALL.to_be_bytes());
            b.extend(1_000_000u32.to_be_bytes());
        }
        b.extend(t.active_count.to_be_bytes());
        b.extend(t.lookup_count.to_be_bytes());
        b.extend(t.matched_count.to_be_bytes());
        b
    }

    /// `ofp_table_features` with the eight properties the spec requires (ovs-ofctl asks for
    /// them to name tables and rejects a reply without them): what table 0 offers today, the
    /// APPLY_ACTIONS instruction with the OUTPUT action, no match fields, no next tables.
    pub fn table_features(self, table_id: u8, name: &str, max_entries: u32) -> Vec<u8> {
        // (property type, payload)
        let properties: [(u16, &[u8]); 8] = [
            (0, &[0, 4, 0, 4]), // INSTRUCTIONS: APPLY_ACTIONS
            (2, &[]),           // NEXT_TABLES
            (4, &[]),           // WRITE_ACTIONS
            (6, &[0, 0, 0, 4]), // APPLY_ACTIONS: OUTPUT
            (8, &[]),           // MATCH
            (10, &[]),          // WILDCARDS
            (12, &[]),          // WRITE_SETFIELD
            (14, &[]),          // APPLY_SETFIELD
        ];
        let mut props = Vec::new();
        for (kind, payload) in properties {
            props.extend(kind.to_be_bytes());
            props.extend(((4 + payload.len()) as u16).to_be_bytes());
            props.extend(payload);
            props.resize(props.len().div_ceil(8) * 8, 0);
        }
        let len = 64 + props.len();
        let mut b = Vec::with_capacity(len);
        b.extend((len as u16).to_be_bytes());
        b.push(table_id);
        b.extend([0; 5]);
        fixed(&mut b, name, 32);
        b.extend(0u64.to_be_bytes()); // metadata_match
        b.extend(0u64.to_be_bytes()); // metadata_write
        b.extend(0u32.to_be_bytes()); // config
        b.extend(max_entries.to_be_bytes());
        b.extend(props);
        b
    }

    /// PORT_STATUS: a port was added (0), deleted (1) or changed (2).
    pub fn port_status(self, reason: PortReason, p: &PortDesc) -> Vec<u8> {
        let mut body = vec![reason as u8];
        body.extend([0; 7]);
        body.extend(self.port_desc(p));
        self.message(msg::PORT_STATUS, 0, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Framer, Request, decode};

    #[test]
    fn records_have_the_spec_s_sizes() {
        let port = PortDesc {
            port_no: 1,
            hw_addr: [2, 0, 0, 0, 0, 1],
            name: "a-name-longer-than-sixteen".into(),
            admin_down: false,
            link_down: true,
            blocked: true,
        };
        let p = Reply::V1_3.port_desc(&port);
        assert_eq!(p.len(), 64);
        assert_eq!(&p[16..32], b"a-name-longer-t\0");
        assert_eq!(&p[36..40], &[0, 0, 0, 3]);
        assert_eq!(Reply::V1_3.port_stats(&PortStats::default()).len(), 112);
        assert_eq!(
            Reply::V1_3
                .desc(&SwitchDesc {
                    manufacturer: "grebe".into(),
                    hardware: String::new(),
                    software: String::new(),
                    serial: String::new(),
                    datapath: String::new(),
                })
                .len(),
            1056
        );
        let f = Reply::V1_3.flow_stats(&FlowStats {
            table_id: 0,
            priority: 0,
            duration_sec: 1,
            cookie: 0,
            packets: 2,
            bytes: 3,
            m: flowtable::Match::default(),
            actions: vec![flowtable::Output::Normal],
        });
        assert_eq!(f.len(), 80);
        assert_eq!(u16::from_be_bytes([f[0], f[1]]) as usize, f.len());
        assert_eq!(Reply::V1_3.features(1, 7, &[]).len(), 32);
        let st = Reply::V1_3.port_status(PortReason::Delete, &port);
        assert_eq!((st[1], st.len(), st[8]), (msg::PORT_STATUS, 8 + 8 + 64, 1));
        let t = Reply::V1_3.table_features(0, "classifier", 1);
        assert_eq!(t.len(), 64 + 8 * 8);
        assert_eq!(usize::from(u16::from_be_bytes([t[0], t[1]])), t.len());
    }

    #[test]
    fn openflow_1_0_records_have_its_sizes() {
        let v10 = Reply {
            version: VERSION_1_0,
        };
        let port = PortDesc {
            port_no: OFPP_LOCAL,
            hw_addr: [2, 0, 0, 0, 0, 1],
            name: "br-int".into(),
            admin_down: false,
            link_down: false,
            blocked: true,
        };
        let p = v10.port_desc(&port);
        assert_eq!(p.len(), 48);
        assert_eq!(&p[..2], &[0xff, 0xfe], "LOCAL in 16 bits");
        assert_eq!(&p[28..32], &[0, 0, 3, 0], "OFPPS_STP_BLOCK");
        let f = v10.features(1, 7, &[port.clone(), port]);
        assert_eq!(f.len(), 32 + 2 * 48);
        assert_eq!(v10.port_stats(&PortStats::default()).len(), 104);
        assert_eq!(
            v10.flow_stats(&FlowStats {
                table_id: 0,
                priority: 0,
                duration_sec: 1,
                cookie: 0,
                packets: 2,
                bytes: 3,
                m: flowtable::Match::default(),
                actions: vec![flowtable::Output::Normal]
            })
            .len(),
            96
        );
        assert_eq!(
            v10.table_stats(&TableStats {
                table_id: 0,
                active_count: 1,
                lookup_count: 0,
                matched_count: 0
            })
            .len(),
            64
        );
        let r = v10.multipart(3, 4, &[vec![0; 104]]);
        assert_eq!(r[0][1], msg::STATS_REPLY_1_0);
        assert_eq!(r[0].len(), 8 + 4 + 104);
        assert_eq!(v10.barrier(1)[1], msg::BARRIER_REPLY_1_0);
    }

    #[test]
    fn long_multipart_replies_page_with_reply_more() {
        let items: Vec<Vec<u8>> = (0..2000).map(|_| vec![0; 64]).collect();
        let replies = Reply::V1_3.multipart(9, 13, &items);
        assert!(replies.len() > 1);
        let mut total = 0;
        for (i, r) in replies.iter().enumerate() {
            assert!(r.len() <= MAX_MESSAGE);
            assert_eq!(usize::from(u16::from_be_bytes([r[2], r[3]])), r.len());
            let more = u16::from_be_bytes([r[10], r[11]]) & REPLY_MORE != 0;
            assert_eq!(more, i + 1 < replies.len());
            total += r.len() - 16;
        }
        assert_eq!(total, 2000 * 64);
        assert_eq!(Reply::V1_3.multipart(9, 12, &[]).len(), 1);
    }

    #[test]
    fn our_hello_is_one_the_decoder_takes() {
        let mut f = Framer::new();
        f.push(&Reply::hello(1));
        let m = f.next_message().unwrap().unwrap();
        assert_eq!(
            decode(&m, None).unwrap().1,
            Request::Hello {
                versions: SUPPORTED
            }
        );
    }
}
