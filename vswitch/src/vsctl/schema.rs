//! The part of OVS's `Open_vSwitch` schema grebe exposes, and OVS's rules for naming tables
//! and columns (unique prefix, case-insensitive, `-` for `_`).

use super::datum::{AtomType, ColType, token_parse};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    Interface,
    Port,
    Bridge,
    OpenVswitch,
}

impl Table {
    pub(super) fn name(self) -> &'static str {
        match self {
            Table::Interface => "Interface",
            Table::Port => "Port",
            Table::Bridge => "Bridge",
            Table::OpenVswitch => "Open_vSwitch",
        }
    }

    /// Every column of the OVS 3.1 schema for this table (for name matching
    /// with OVS's abbreviation rules).
    pub(super) fn ovs_columns(self) -> &'static [&'static str] {
        match self {
            Table::Interface => &[
                "admin_state",
                "bfd",
                "bfd_status",
                "cfm_fault",
                "cfm_fault_status",
                "cfm_flap_count",
                "cfm_health",
                "cfm_mpid",
                "cfm_remote_mpids",
                "cfm_remote_opstate",
                "duplex",
                "error",
                "external_ids",
                "ifindex",
                "ingress_policing_burst",
                "ingress_policing_kpkts_burst",
                "ingress_policing_kpkts_rate",
                "ingress_policing_rate",
                "lacp_current",
                "link_resets",
                "link_speed",
                "link_state",
                "lldp",
                "mac",
                "mac_in_use",
                "mtu",
                "mtu_request",
                "name",
                "ofport",
                "ofport_request",
                "options",
                "other_config",
                "statistics",
                "status",
                "type",
            ],
            Table::Port => &[
                "bond_active_slave",
                "bond_downdelay",
                "bond_fake_iface",
                "bond_mode",
                "bond_updelay",
                "cvlans",
                "external_ids",
                "fake_bridge",
                "interfaces",
                "lacp",
                "mac",
                "name",
                "other_config",
                "protected",
                "qos",
                "rstp_statistics",
                "rstp_status",
                "statistics",
                "status",
                "tag",
                "trunks",
                "vlan_mode",
            ],
            Table::Bridge => &[
                "auto_attach",
                "controller",
                "datapath_id",
                "datapath_type",
                "datapath_version",
                "external_ids",
                "fail_mode",
                "flood_vlans",
                "flow_tables",
                "ipfix",
                "mcast_snooping_enable",
                "mirrors",
                "name",
                "netflow",
                "other_config",
                "ports",
                "protocols",
                "rstp_enable",
                "rstp_status",
                "sflow",
                "status",
                "stp_enable",
            ],
            Table::OpenVswitch => &[
                "bridges",
                "cur_cfg",
                "datapath_types",
                "datapaths",
                "db_version",
                "dpdk_initialized",
                "dpdk_version",
                "external_ids",
                "iface_types",
                "manager_options",
                "next_cfg",
                "other_config",
                "ovs_version",
                "ssl",
                "statistics",
                "system_type",
                "system_version",
            ],
        }
    }

    /// The columns grebe implements, in `list` order (alphabetical, as OVS).
    pub(super) fn columns(self) -> &'static [Col] {
        match self {
            Table::Interface => &[
                Col::AdminState,
                Col::Error,
                Col::ExternalIds,
                Col::LinkState,
                Col::MacInUse,
                Col::Mtu,
                Col::MtuRequest,
                Col::Name,
                Col::Ofport,
                Col::Options,
                Col::OtherConfig,
                Col::Statistics,
                Col::Type,
            ],
            Table::Port => &[
                Col::ExternalIds,
                Col::Name,
                Col::OtherConfig,
                Col::Statistics,
                Col::Tag,
                Col::Trunks,
                Col::VlanMode,
            ],
            Table::Bridge => &[
                Col::DatapathType,
                Col::ExternalIds,
                Col::FailMode,
                Col::Name,
                Col::OtherConfig,
                Col::Ports,
                Col::RstpEnable,
                Col::StpEnable,
            ],
            Table::OpenVswitch => &[Col::Bridges],
        }
    }
}

/// Every table of the OVS 3.1 schema (for OVS's table name matching).
pub(super) const OVS_TABLES: &[&str] = &[
    "AutoAttach",
    "Bridge",
    "CT_Timeout_Policy",
    "CT_Zone",
    "Controller",
    "Datapath",
    "Flow_Sample_Collector_Set",
    "Flow_Table",
    "IPFIX",
    "Interface",
    "Manager",
    "Mirror",
    "NetFlow",
    "Open_vSwitch",
    "Port",
    "QoS",
    "Queue",
    "SSL",
    "sFlow",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Col {
    Name,
    Type,
    Options,
    MtuRequest,
    OtherConfig,
    ExternalIds,
    Statistics,
    Error,
    Ofport,
    Mtu,
    Ports,
    StpEnable,
    RstpEnable,
    Bridges,
    DatapathType,
    MacInUse,
    AdminState,
    LinkState,
    Tag,
    Trunks,
    VlanMode,
    FailMode,
}

/// `vlan_mode`'s values in the OVS 3.1 schema, sorted.
pub(super) const VLAN_MODES: &[&str] = &[
    "access",
    "dot1q-tunnel",
    "native-tagged",
    "native-untagged",
    "trunk",
];

/// `fail_mode`'s values in the OVS 3.1 schema.
pub(super) const FAIL_MODES: &[&str] = &["secure", "standalone"];

/// `admin_state` and `link_state`.
const UP_DOWN: &[&str] = &["down", "up"];

/// An integer without bounds.
const ANY_INT: AtomType = AtomType::Int {
    min: i64::MIN,
    max: i64::MAX,
};

/// A VLAN ID column: 0 to 4095.
const VID: AtomType = AtomType::Int { min: 0, max: 4095 };

impl Col {
    pub(super) fn name(self) -> &'static str {
        match self {
            Col::Name => "name",
            Col::Type => "type",
            Col::Options => "options",
            Col::MtuRequest => "mtu_request",
            Col::OtherConfig => "other_config",
            Col::ExternalIds => "external_ids",
            Col::Statistics => "statistics",
            Col::Error => "error",
            Col::Ofport => "ofport",
            Col::Mtu => "mtu",
            Col::Ports => "ports",
            Col::StpEnable => "stp_enable",
            Col::RstpEnable => "rstp_enable",
            Col::Bridges => "bridges",
            Col::DatapathType => "datapath_type",
            Col::MacInUse => "mac_in_use",
            Col::AdminState => "admin_state",
            Col::LinkState => "link_state",
            Col::Tag => "tag",
            Col::Trunks => "trunks",
            Col::VlanMode => "vlan_mode",
            Col::FailMode => "fail_mode",
        }
    }

    pub(super) fn ty(self) -> ColType {
        use AtomType::*;
        match self {
            Col::Name | Col::Type | Col::DatapathType => ColType::scalar(Str),
            Col::Options | Col::OtherConfig | Col::ExternalIds => ColType::map(Str, Str),
            Col::MtuRequest => ColType::optional(Int {
                min: 1,
                max: i64::MAX,
            }),
            Col::Statistics => ColType::map(Str, ANY_INT),
            Col::Error | Col::MacInUse => ColType::optional(Str),
            Col::Ofport | Col::Mtu => ColType::optional(ANY_INT),
            Col::AdminState | Col::LinkState => ColType::optional(Enum(UP_DOWN)),
            Col::Tag => ColType::optional(VID),
            Col::Trunks => ColType {
                n_max: 4096,
                ..ColType::set(VID)
            },
            Col::VlanMode => ColType::optional(Enum(VLAN_MODES)),
            Col::FailMode => ColType::optional(Enum(FAIL_MODES)),
            Col::Ports | Col::Bridges => ColType::set(Str),
            Col::StpEnable | Col::RstpEnable => ColType::scalar(Bool),
        }
    }

    /// Whether clients may write the column.  `name`, `ports` and
    /// `bridges` are immutable in OVS too; the live columns belong to the
    /// daemon in grebe.
    pub(super) fn mutable(self) -> bool {
        !matches!(
            self,
            Col::Name
                | Col::Ports
                | Col::Bridges
                | Col::Statistics
                | Col::Error
                | Col::Ofport
                | Col::Mtu
                | Col::MacInUse
                | Col::AdminState
                | Col::LinkState
        )
    }

    pub(super) fn lookup(table: Table, ovs_name: &str) -> Option<Col> {
        let col = match ovs_name {
            "name" => Col::Name,
            "other_config" => Col::OtherConfig,
            "external_ids" => Col::ExternalIds,
            "type" => Col::Type,
            "options" => Col::Options,
            "mtu_request" => Col::MtuRequest,
            "statistics" => Col::Statistics,
            "error" => Col::Error,
            "ofport" => Col::Ofport,
            "mtu" => Col::Mtu,
            "ports" => Col::Ports,
            "stp_enable" => Col::StpEnable,
            "fail_mode" => Col::FailMode,
            "rstp_enable" => Col::RstpEnable,
            "bridges" => Col::Bridges,
            "datapath_type" => Col::DatapathType,
            "mac_in_use" => Col::MacInUse,
            "admin_state" => Col::AdminState,
            "link_state" => Col::LinkState,
            "tag" => Col::Tag,
            "trunks" => Col::Trunks,
            "vlan_mode" => Col::VlanMode,
            _ => return None,
        };
        let ok = match table {
            Table::Interface => Table::Interface.columns().contains(&col),
            // Port and Interface are one record: Interface columns are
            // reachable through Port too.
            Table::Port => {
                Table::Port.columns().contains(&col) || Table::Interface.columns().contains(&col)
            }
            Table::Bridge => Table::Bridge.columns().contains(&col),
            Table::OpenVswitch => col == Col::Bridges,
        };
        ok.then_some(col)
    }
}

/// `score_partial_match()`: how well user input `s` matches `name`
/// (case-insensitive, '-' = '_', prefixes allowed; 0 = no match).
pub(super) fn score_partial_match(name: &str, s: &str) -> u32 {
    if name == s {
        return u32::MAX;
    }
    let norm = |c: u8| {
        if c == b'-' {
            b'_'
        } else {
            c.to_ascii_lowercase()
        }
    };
    let (n, s) = (name.as_bytes(), s.as_bytes());
    let mut score = 0;
    loop {
        let a = n.get(score).copied().unwrap_or(0);
        let b = s.get(score).copied().unwrap_or(0);
        if norm(a) != norm(b) {
            break;
        }
        if a == 0 {
            return u32::MAX - 1;
        }
        score += 1;
    }
    if score == s.len() { score as u32 } else { 0 }
}

pub(super) enum Match<'a> {
    One(&'a str),
    None,
    Many(Vec<&'a str>),
}

pub(super) fn best_match<'a>(candidates: &[&'a str], s: &str) -> Match<'a> {
    let mut best = 0;
    let mut matches: Vec<&str> = Vec::new();
    for &c in candidates {
        let score = score_partial_match(c, s);
        if score > 0 && score >= best {
            if score > best {
                matches.clear();
            }
            matches.push(c);
            best = score;
        }
    }
    match matches.len() {
        0 => Match::None,
        1 => Match::One(matches[0]),
        _ => {
            matches.sort_unstable();
            Match::Many(matches)
        }
    }
}

pub(super) fn get_table(name: &str) -> Result<Table, String> {
    match best_match(OVS_TABLES, name) {
        Match::One("Interface") => Ok(Table::Interface),
        Match::One("Port") => Ok(Table::Port),
        Match::One("Bridge") => Ok(Table::Bridge),
        Match::One("Open_vSwitch") => Ok(Table::OpenVswitch),
        Match::One(other) => Err(format!("grebe does not support table {other}")),
        Match::None => Err(format!("unknown table \"{name}\"")),
        Match::Many(m) => Err(format!(
            "\"{name}\" matches multiple table names: {}",
            m.join(", ")
        )),
    }
}

pub(super) fn get_column(table: Table, name: &str) -> Result<Col, String> {
    let resolve = |t: Table| -> Result<Col, String> {
        match best_match(t.ovs_columns(), name) {
            Match::One(col) => Col::lookup(table, col).ok_or_else(|| {
                format!("grebe does not support column {col} of table {}", t.name())
            }),
            Match::None => Err(format!(
                "{} does not contain a column whose name matches \"{name}\"",
                t.name()
            )),
            Match::Many(m) => Err(format!(
                "{} contains more than one column whose name matches \"{name}\": {}",
                t.name(),
                m.join(", ")
            )),
        }
    };
    let found = resolve(table);
    // Port and Interface are one record in grebe: a name that matches no
    // Port column but exactly one Interface column is that column.
    if table == Table::Port && matches!(best_match(Table::Port.ovs_columns(), name), Match::None) {
        if let Match::One(_) = best_match(Table::Interface.ovs_columns(), name) {
            return resolve(Table::Interface).or(found);
        }
    }
    found
}

/// Parsed `COLUMN[:KEY][=VALUE]` argument.
pub(super) struct ColumnArg {
    /// Index of the operator found (in the `operators` given).
    pub(super) op: usize,
    pub(super) col: Col,
    pub(super) key: Option<String>,
    pub(super) value: Option<String>,
}

/// `parse_column_key_value()`: `COLUMN[:KEY]` followed, when `operators` is not empty, by the
/// longest of `operators` that leaves a value, then the value.
pub(super) fn parse_column_key_value(
    arg: &str,
    table: Table,
    operators: &[&str],
) -> Result<ColumnArg, String> {
    let (column_name, mut p) = token_parse(arg)?;
    if column_name.is_empty() {
        return Err(format!("{arg}: missing column name"));
    }
    let col = get_column(table, &column_name)?;
    let mut key = None;
    if let Some(rest) = p.strip_prefix(':') {
        let (k, rest) = token_parse(rest)?;
        key = Some(k);
        p = rest;
    }
    let mut value = None;
    let mut op = 0;
    if !operators.is_empty() {
        let best = operators
            .iter()
            .enumerate()
            .filter(|(_, o)| p.len() > o.len() && p.starts_with(**o))
            .max_by_key(|(i, o)| (o.len(), std::cmp::Reverse(*i)));
        match best {
            Some((i, o)) => {
                op = i;
                value = Some(p[o.len()..].to_string());
            }
            None => return Err(missing_operator_error(arg, operators)),
        }
    } else if !p.is_empty() {
        return Err(format!("{arg}: trailing garbage \"{p}\" in argument"));
    }
    Ok(ColumnArg {
        col,
        key,
        value,
        op,
    })
}

/// `missing_operator_error()`.
fn missing_operator_error(arg: &str, operators: &[&str]) -> String {
    let mut s = format!("{arg}: argument does not end in \"{}\"", operators[0]);
    match operators.len() {
        1 => {}
        2 => s.push_str(&format!(" or \"{}\"", operators[1])),
        n => {
            for o in &operators[1..n - 1] {
                s.push_str(&format!(", \"{o}\""));
            }
            s.push_str(&format!(", or \"{}\"", operators[n - 1]));
        }
    }
    s.push_str(" followed by a value.");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_types() {
        use AtomType::*;
        assert_eq!(Col::Options.ty(), ColType::map(Str, Str));
        assert_eq!(
            Col::MtuRequest.ty(),
            ColType::optional(Int {
                min: 1,
                max: i64::MAX
            })
        );
        assert_eq!(Col::Trunks.ty().english(), "set of up to 4096 integers");
        assert_eq!(Col::VlanMode.ty().english(), "set of up to 1 strings");
        assert_eq!(Col::Type.ty(), ColType::scalar(Str));
        assert_eq!(Col::Ports.ty(), ColType::set(Str));
    }

    #[test]
    fn partial_match_scores() {
        assert_eq!(
            score_partial_match("external_ids", "External-IDs"),
            u32::MAX - 1
        );
        assert_eq!(score_partial_match("options", "opt"), 3);
        assert_eq!(score_partial_match("options", "optx"), 0);
    }
}
