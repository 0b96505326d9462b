//! FLOW_MOD requests and the flows flow statistics report, in both versions: OpenFlow 1.3's OXM
//! matches and APPLY_ACTIONS instructions, OpenFlow 1.0's fixed match and action list. The
//! match and actions are the flow table's own types.

use flowtable::{Match, Output};

use crate::{OFPP_ANY, OFPP_NORMAL, VERSION_1_0};

pub const OFPP_IN_PORT: u32 = 0xffff_fff8;
pub const OFPP_FLOOD: u32 = 0xffff_fffb;
pub const OFPP_ALL: u32 = 0xffff_fffc;
pub const OFPP_CONTROLLER: u32 = 0xffff_fffd;
/// "All tables" in a delete.
pub const OFPTT_ALL: u8 = 0xff;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowCommand {
    Add,
    Modify,
    ModifyStrict,
    Delete,
    DeleteStrict,
}

/// A decoded FLOW_MOD. Port numbers are OpenFlow's 32-bit ones (1.0's special ports widened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowMod {
    pub command: FlowCommand,
    pub cookie: u64,
    pub table_id: u8,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub priority: u16,
    /// A delete's filter: only flows that output to this port.
    pub out_port: Option<u32>,
    pub m: Match,
    pub actions: Vec<Output>,
}

/// Why a FLOW_MOD cannot be taken: the OpenFlow error (type, code) to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowModError {
    pub kind: u16,
    pub code: u16,
    pub reason: &'static str,
}

const fn err(kind: u16, code: u16, reason: &'static str) -> FlowModError {
    FlowModError { kind, code, reason }
}

// 1.3 numbers (1.0's differ; see `for_version`).
const BAD_REQUEST_LEN: FlowModError = err(1, 6, "bad_length");
const BAD_MATCH_FIELD: FlowModError = err(4, 6, "bad_match_field");
const BAD_MATCH_LEN: FlowModError = err(4, 1, "bad_match_length");
const BAD_INSTRUCTION: FlowModError = err(3, 1, "unsupported_instruction");
const BAD_ACTION: FlowModError = err(2, 0, "unsupported_action");
const BAD_OUT_PORT: FlowModError = err(2, 4, "unsupported_out_port");
const BAD_COMMAND: FlowModError = err(5, 6, "bad_command");
const BAD_TABLE: FlowModError = err(5, 2, "bad_table");
const BAD_TIMEOUT: FlowModError = err(5, 5, "timeouts_unsupported");

impl FlowModError {
    /// The same error in 1.0's numbering.
    pub fn for_version(self, version: u8) -> FlowModError {
        if version != VERSION_1_0 {
            return self;
        }
        let (kind, code) = match (self.kind, self.code) {
            (1, c) => (1, c),
            (4, _) | (3, _) => (1, 5), // BAD_REQUEST / EPERM: 1.0 has no match errors
            (2, 0) => (2, 0),
            (2, 4) => (2, 4),
            (5, 6) => (3, 4), // BAD_COMMAND
            (5, _) => (3, 2), // EPERM
            other => other,
        };
        FlowModError { kind, code, ..self }
    }
}

fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}
fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}
fn be64(b: &[u8], i: usize) -> u64 {
    u64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"))
}
fn mac(b: &[u8], i: usize) -> [u8; 6] {
    b[i..i + 6].try_into().expect("6 bytes")
}

fn command(c: u16) -> Result<FlowCommand, FlowModError> {
    Ok(match c {
        0 => FlowCommand::Add,
        1 => FlowCommand::Modify,
        2 => FlowCommand::ModifyStrict,
        3 => FlowCommand::Delete,
        4 => FlowCommand::DeleteStrict,
        _ => return Err(BAD_COMMAND),
    })
}

/// A port an OUTPUT action names, as the flow table's action.
fn output(port: u32) -> Result<Output, FlowModError> {
    Ok(match port {
        OFPP_NORMAL => Output::Normal,
        OFPP_FLOOD => Output::Flood,
        OFPP_ALL => Output::All,
        OFPP_IN_PORT => Output::InPort,
        // Packet-in needs a controller channel that takes frames: not yet.
        OFPP_CONTROLLER | OFPP_ANY => return Err(BAD_OUT_PORT),
        p => Output::Port(p),
    })
}

/// 1.0's 16-bit port numbers, widened.
fn port32(p: u16) -> u32 {
    if p >= 0xff00 {
        0xffff_0000 | u32::from(p)
    } else {
        u32::from(p)
    }
}

/// Decodes a FLOW_MOD body (after the header) in `version`.
pub fn decode_flow_mod(version: u8, body: &[u8]) -> Result<FlowMod, FlowModError> {
    if version == VERSION_1_0 {
        decode_10(body)
    } else {
        decode_13(body)
    }
}

fn decode_13(b: &[u8]) -> Result<FlowMod, FlowModError> {
    if b.len() < 48 {
        return Err(BAD_REQUEST_LEN);
    }
    let cmd = command(u16::from(b[17]))?;
    let out_port = be32(b, 28);
    // ofp_match: type, length (without padding), fields.
    let match_len = usize::from(be16(b, 42));
    if be16(b, 40) != 1 || match_len < 4 || 40 + match_len > b.len() {
        return Err(BAD_MATCH_LEN);
    }
    let m = oxm_match(&b[44..40 + match_len])?;
    let mut at = 40 + match_len.div_ceil(8) * 8;
    let mut actions = Vec::new();
    while at + 4 <= b.len() {
        let (kind, len) = (be16(b, at), usize::from(be16(b, at + 2)));
        if len < 8 || at + len > b.len() {
            return Err(BAD_REQUEST_LEN);
        }
        match kind {
            // APPLY_ACTIONS
            4 => actions.extend(action_list(&b[at + 8..at + len], false)?),
            // CLEAR_ACTIONS: there is no action set to clear.
            5 => {}
            _ => return Err(BAD_INSTRUCTION),
        }
        at += len;
    }
    Ok(FlowMod {
        command: cmd,
        cookie: be64(b, 0),
        table_id: b[16],
        idle_timeout: be16(b, 18),
        hard_timeout: be16(b, 20),
        priority: be16(b, 22),
        out_port: (out_port != OFPP_ANY).then_some(out_port),
        m,
        actions,
    })
}

fn action_list(mut a: &[u8], v10: bool) -> Result<Vec<Output>, FlowModError> {
    let mut out = Vec::new();
    while a.len() >= 4 {
        let (kind, len) = (be16(a, 0), usize::from(be16(a, 2)));
        if len < 8 || len > a.len() {
            return Err(BAD_REQUEST_LEN);
        }
        if kind != 0 {
            return Err(BAD_ACTION);
        }
        let port = if v10 { port32(be16(a, 4)) } else { be32(a, 4) };
        out.push(output(port)?);
        a = &a[len..];
    }
    Ok(out)
}

fn oxm_match(mut f: &[u8]) -> Result<Match, FlowModError> {
    let mut m = Match::default();
    while f.len() >= 4 {
        let class = be16(f, 0);
        let field = f[2] >> 1;
        let has_mask = f[2] & 1 == 1;
        let len = usize::from(f[3]);
        if f.len() < 4 + len || class != 0x8000 {
            return Err(BAD_MATCH_FIELD);
        }
        let v = &f[4..4 + len];
        let half = if has_mask { len / 2 } else { len };
        let want = |n: usize| {
            if half == n {
                Ok(())
            } else {
                Err(BAD_MATCH_LEN)
            }
        };
        match field {
            0 => {
                want(4)?;
                m.in_port = Some(be32(v, 0));
            }
            3 | 4 => {
                want(6)?;
                let mask = if has_mask { mac(v, 6) } else { [0xff; 6] };
                let value = Some((mac(v, 0), mask));
                if field == 3 {
                    m.eth_dst = value;
                } else {
                    m.eth_src = value;
                }
            }
            5 => {
                want(2)?;
                m.eth_type = Some(be16(v, 0));
            }
            6 if !has_mask => {
                want(2)?;
                let vid = be16(v, 0);
                m.vlan_vid = Some((vid & 0x1000 != 0).then_some(vid & 0x0fff));
            }
            10 => {
                want(1)?;
                m.ip_proto = Some(v[0]);
            }
            11 | 12 => {
                want(4)?;
                let mask = if has_mask { be32(v, 4) } else { u32::MAX };
                let value = Some((be32(v, 0), mask));
                if field == 11 {
                    m.ipv4_src = value;
                } else {
                    m.ipv4_dst = value;
                }
            }
            13 | 15 => {
                want(2)?;
                m.tp_src = Some(be16(v, 0));
            }
            14 | 16 => {
                want(2)?;
                m.tp_dst = Some(be16(v, 0));
            }
            19 => {
                want(1)?;
                m.tp_src = Some(u16::from(v[0]));
            }
            20 => {
                want(1)?;
                m.tp_dst = Some(u16::from(v[0]));
            }
            _ => return Err(BAD_MATCH_FIELD),
        }
        f = &f[4 + len..];
    }
    Ok(m)
}

fn decode_10(b: &[u8]) -> Result<FlowMod, FlowModError> {
    if b.len() < 64 {
        return Err(BAD_REQUEST_LEN);
    }
    let w = be32(b, 0);
    let exact = |bit: u32| w & bit == 0;
    let prefix = |shift: u32| {
        let wild = (w >> shift) & 0x3f;
        (wild < 32).then(|| {
            if wild == 0 {
                u32::MAX
            } else {
                u32::MAX << wild
            }
        })
    };
    let mut m = Match::default();
    if exact(1) {
        m.in_port = Some(port32(be16(b, 4)));
    }
    if exact(1 << 2) {
        m.eth_src = Some((mac(b, 6), [0xff; 6]));
    }
    if exact(1 << 3) {
        m.eth_dst = Some((mac(b, 12), [0xff; 6]));
    }
    if exact(1 << 1) {
        let vid = be16(b, 18);
        m.vlan_vid = Some((vid != 0xffff).then_some(vid & 0x0fff));
    }
    if exact(1 << 4) {
        m.eth_type = Some(be16(b, 22));
    }
    if exact(1 << 5) {
        m.ip_proto = Some(b[25]);
    }
    if let Some(mask) = prefix(8) {
        m.ipv4_src = Some((be32(b, 28) & mask, mask));
    }
    if let Some(mask) = prefix(14) {
        m.ipv4_dst = Some((be32(b, 32) & mask, mask));
    }
    if exact(1 << 6) {
        m.tp_src = Some(be16(b, 36));
    }
    if exact(1 << 7) {
        m.tp_dst = Some(be16(b, 38));
    }
    let cmd = command(be16(b, 48))?;
    let out_port = be16(b, 60);
    Ok(FlowMod {
        command: cmd,
        cookie: be64(b, 40),
        table_id: 0,
        idle_timeout: be16(b, 50),
        hard_timeout: be16(b, 52),
        priority: be16(b, 54),
        out_port: (out_port != 0xffff).then(|| port32(out_port)),
        m,
        actions: action_list(&b[64..], true)?,
    })
}

/// A flow (or aggregate) statistics request's filter: the match the flows must fall under, and
/// the port one of their actions must output to.
pub fn decode_flow_stats_request(
    version: u8,
    body: &[u8],
) -> Result<(Match, Option<u32>), FlowModError> {
    if version == VERSION_1_0 {
        if body.len() < 44 {
            return Err(BAD_REQUEST_LEN);
        }
        // The 1.0 match decoder reads a flow-mod; the match is the same 40 bytes.
        let mut fm = body[..40].to_vec();
        fm.resize(64, 0);
        let m = decode_10(&fm)?.m;
        let out = be16(body, 42);
        return Ok((m, (out != 0xffff).then(|| port32(out))));
    }
    if body.len() < 40 {
        return Err(BAD_REQUEST_LEN);
    }
    let out = be32(body, 4);
    let match_len = usize::from(be16(body, 34));
    if be16(body, 32) != 1 || match_len < 4 || 32 + match_len > body.len() {
        return Err(BAD_MATCH_LEN);
    }
    let m = oxm_match(&body[36..32 + match_len])?;
    Ok((m, (out != OFPP_ANY).then_some(out)))
}

impl FlowMod {
    /// What grebe's table cannot take yet: timeouts, and tables other than 0.
    pub fn check(&self) -> Result<(), FlowModError> {
        if self.idle_timeout != 0 || self.hard_timeout != 0 {
            return Err(BAD_TIMEOUT);
        }
        let deleting = matches!(
            self.command,
            FlowCommand::Delete | FlowCommand::DeleteStrict
        );
        if self.table_id != 0 && !(deleting && self.table_id == OFPTT_ALL) {
            return Err(BAD_TABLE);
        }
        Ok(())
    }
}

/// The OXM fields of a match (for 1.3 flow statistics), unpadded.
pub(crate) fn oxm_fields(m: &Match) -> Vec<u8> {
    let mut out = Vec::new();
    let mut field = |f: u8, value: &[u8], mask: Option<&[u8]>| {
        out.extend(0x8000u16.to_be_bytes());
        out.push(f << 1 | u8::from(mask.is_some()));
        out.push((value.len() + mask.map_or(0, <[u8]>::len)) as u8);
        out.extend(value);
        if let Some(mask) = mask {
            out.extend(mask);
        }
    };
    if let Some(p) = m.in_port {
        field(0, &p.to_be_bytes(), None);
    }
    for (f, v) in [(3, m.eth_dst), (4, m.eth_src)] {
        if let Some((v, mask)) = v {
            field(f, &v, (mask != [0xff; 6]).then_some(&mask[..]));
        }
    }
    if let Some(t) = m.eth_type {
        field(5, &t.to_be_bytes(), None);
    }
    if let Some(v) = m.vlan_vid {
        let vid = v.map_or(0, |v| 0x1000 | v);
        field(6, &vid.to_be_bytes(), None);
    }
    if let Some(p) = m.ip_proto {
        field(10, &[p], None);
    }
    for (f, v) in [(11, m.ipv4_src), (12, m.ipv4_dst)] {
        if let Some((v, mask)) = v {
            let mask = mask.to_be_bytes();
            field(
                f,
                &v.to_be_bytes(),
                (mask != [0xff; 4]).then_some(&mask[..]),
            );
        }
    }
    // Transport ports by the protocol's own field numbers.
    let (src, dst, one_byte) = match m.ip_proto {
        Some(17) => (15, 16, false),
        Some(1) => (19, 20, true),
        _ => (13, 14, false),
    };
    for (f, v) in [(src, m.tp_src), (dst, m.tp_dst)] {
        if let Some(p) = v {
            if one_byte {
                field(f, &[p as u8], None);
            } else {
                field(f, &p.to_be_bytes(), None);
            }
        }
    }
    out
}

/// 1.0's `ofp_match` for a match (40 bytes).
pub(crate) fn match_10(m: &Match) -> Vec<u8> {
    let mut w: u32 = 0;
    let mut b = vec![0u8; 40];
    let port16 = |p: u32| {
        if p >= 0xffff_ff00 {
            (p & 0xffff) as u16
        } else {
            p as u16
        }
    };
    match m.in_port {
        Some(p) => b[4..6].copy_from_slice(&port16(p).to_be_bytes()),
        None => w |= 1,
    }
    match m.eth_src {
        Some((v, _)) => b[6..12].copy_from_slice(&v),
        None => w |= 1 << 2,
    }
    match m.eth_dst {
        Some((v, _)) => b[12..18].copy_from_slice(&v),
        None => w |= 1 << 3,
    }
    match m.vlan_vid {
        Some(v) => b[18..20].copy_from_slice(&v.unwrap_or(0xffff).to_be_bytes()),
        None => w |= 1 << 1,
    }
    w |= 1 << 20; // dl_vlan_pcp
    match m.eth_type {
        Some(t) => b[22..24].copy_from_slice(&t.to_be_bytes()),
        None => w |= 1 << 4,
    }
    w |= 1 << 21; // nw_tos
    match m.ip_proto {
        Some(p) => b[25] = p,
        None => w |= 1 << 5,
    }
    for (shift, at, v) in [(8, 28, m.ipv4_src), (14, 32, m.ipv4_dst)] {
        match v {
            Some((v, mask)) => {
                b[at..at + 4].copy_from_slice(&v.to_be_bytes());
                w |= mask.trailing_zeros().min(32) << shift;
            }
            None => w |= 32 << shift,
        }
    }
    match m.tp_src {
        Some(p) => b[36..38].copy_from_slice(&p.to_be_bytes()),
        None => w |= 1 << 6,
    }
    match m.tp_dst {
        Some(p) => b[38..40].copy_from_slice(&p.to_be_bytes()),
        None => w |= 1 << 7,
    }
    b[0..4].copy_from_slice(&w.to_be_bytes());
    b
}

/// The OpenFlow port an action outputs to.
pub(crate) fn action_port(o: &Output) -> u32 {
    match *o {
        Output::Port(p) => p,
        Output::InPort => OFPP_IN_PORT,
        Output::Normal => OFPP_NORMAL,
        Output::Flood => OFPP_FLOOD,
        Output::All => OFPP_ALL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OFPP_LOCAL, VERSION_1_3};
    use proptest::prelude::*;

    /// A 1.3 flow-mod as ovs-ofctl writes `priority=100,ip,nw_dst=198.51.100.2,actions=drop`.
    fn flow_mod_13(command: u8, fields: &[u8], instructions: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 40];
        b[17] = command;
        b[22..24].copy_from_slice(&100u16.to_be_bytes());
        b[24..28].copy_from_slice(&u32::MAX.to_be_bytes()); // buffer
        b[28..32].copy_from_slice(&OFPP_ANY.to_be_bytes());
        b[32..36].copy_from_slice(&u32::MAX.to_be_bytes()); // group
        b.extend(1u16.to_be_bytes());
        b.extend(((4 + fields.len()) as u16).to_be_bytes());
        b.extend(fields);
        while b.len() % 8 != 0 {
            b.push(0);
        }
        b.extend(instructions);
        b
    }

    #[test]
    fn a_1_3_flow_mod_decodes_and_its_match_encodes_back() {
        let fields = [
            0x80, 0x00, 0x0a, 0x02, 0x08, 0x00, // eth_type ip
            0x80, 0x00, 0x18, 0x04, 198, 51, 100, 2, // ipv4_dst
        ];
        let output = [
            0, 4, 0, 24, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 3, 0xff, 0xff, 0, 0, 0, 0, 0, 0,
        ];
        let f = decode_flow_mod(VERSION_1_3, &flow_mod_13(0, &fields, &output)).unwrap();
        assert_eq!(f.command, FlowCommand::Add);
        assert_eq!(f.priority, 100);
        assert_eq!(f.m.eth_type, Some(0x0800));
        assert_eq!(f.m.ipv4_dst, Some((0xc633_6402, u32::MAX)));
        assert_eq!(f.actions, vec![Output::Port(3)]);
        assert_eq!(oxm_fields(&f.m), fields.to_vec());
        // No instruction: drop.
        let drop = decode_flow_mod(VERSION_1_3, &flow_mod_13(0, &fields, &[])).unwrap();
        assert!(drop.actions.is_empty());
        // A field grebe cannot match (IPv6 source, 26) is refused.
        let v6 = [
            0x80, 0x00, 0x34, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        ];
        assert_eq!(
            decode_flow_mod(VERSION_1_3, &flow_mod_13(0, &v6, &[]))
                .unwrap_err()
                .reason,
            "bad_match_field"
        );
        // GOTO_TABLE is not yet.
        let goto = [0, 1, 0, 8, 1, 0, 0, 0];
        assert_eq!(
            decode_flow_mod(VERSION_1_3, &flow_mod_13(0, &[], &goto))
                .unwrap_err()
                .reason,
            "unsupported_instruction"
        );
    }

    #[test]
    fn a_1_0_match_round_trips() {
        let m = Match {
            in_port: Some(OFPP_LOCAL),
            eth_type: Some(0x0800),
            ip_proto: Some(6),
            ipv4_dst: Some((0xc633_6400, 0xffff_ff00)),
            tp_dst: Some(80),
            ..Match::default()
        };
        let mut body = match_10(&m);
        body.extend([0u8; 24]);
        body[54..56].copy_from_slice(&7u16.to_be_bytes());
        body[60..62].copy_from_slice(&0xffffu16.to_be_bytes());
        body.extend([0, 0, 0, 8, 0xff, 0xfa, 0, 0]); // output NORMAL
        let f = decode_flow_mod(VERSION_1_0, &body).unwrap();
        assert_eq!(f.m, m);
        assert_eq!(f.priority, 7);
        assert_eq!(f.out_port, None);
        assert_eq!(f.actions, vec![Output::Normal]);
    }

    proptest! {
        #[test]
        fn any_body_decodes_or_is_an_error(body in prop::collection::vec(any::<u8>(), 0..120), v10 in any::<bool>()) {
            let _ = decode_flow_mod(if v10 { VERSION_1_0 } else { VERSION_1_3 }, &body);
        }
    }
}
