//! Records of grebe's tables over [`Config`]: finding them, reading and writing columns.

use super::commands::{CmdResult, Ctx, Fail};
use super::datum::{
    Atom, Datum, atom_from_string, datum_from_string, datum_to_map, map_to_datum, opt_int_datum,
    str_datum,
};
use super::schema::{Col, ColumnArg, Table, parse_column_key_value};
use crate::config::{Interface, InterfaceType, MAX_VLAN, VlanMode};

/// A record of one of grebe's tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Row {
    /// Port/Interface `port` on `bridge`.
    Iface {
        bridge: String,
        port: String,
    },
    Bridge(String),
    Root,
}

impl Ctx<'_> {
    pub(super) fn find_row(&self, table: Table, id: &str) -> Option<Row> {
        match table {
            Table::Interface | Table::Port => self.cfg.bridge_of_port(id).map(|br| Row::Iface {
                bridge: br.to_string(),
                port: id.to_string(),
            }),
            Table::Bridge => self
                .cfg
                .bridges
                .contains_key(id)
                .then(|| Row::Bridge(id.to_string())),
            Table::OpenVswitch => (id == ".").then_some(Row::Root),
        }
    }

    /// `ctl_get_row()`: Ok(None) when absent and `--if-exists`.
    pub(super) fn get_row(
        &self,
        table: Table,
        id: &str,
        must_exist: bool,
    ) -> Result<Option<Row>, Fail> {
        match self.find_row(table, id) {
            Some(row) => Ok(Some(row)),
            None if must_exist => Err(format!("no row \"{id}\" in table {}", table.name()).into()),
            None => Ok(None),
        }
    }

    pub(super) fn iface(&self, row: &Row) -> Option<(&str, &Interface)> {
        match row {
            Row::Iface { bridge, port } => self
                .cfg
                .bridges
                .get(bridge)
                .and_then(|b| b.ports.get_key_value(port))
                .map(|(name, i)| (name.as_str(), i)),
            _ => None,
        }
    }

    pub(super) fn iface_mut(&mut self, row: &Row) -> Option<&mut Interface> {
        match row {
            Row::Iface { bridge, port } => self
                .cfg
                .bridges
                .get_mut(bridge)
                .and_then(|b| b.ports.get_mut(port)),
            _ => None,
        }
    }

    /// The error to show for an interface: the daemon's, else what the
    /// configuration alone says.
    pub(super) fn iface_error(&self, name: &str, iface: &Interface) -> Option<String> {
        self.live
            .interface_error(name)
            .or_else(|| iface.config_error(name))
    }

    pub(super) fn read(&self, row: &Row, col: Col) -> Datum {
        match row {
            Row::Iface { .. } => {
                let Some((name, iface)) = self.iface(row) else {
                    return Vec::new();
                };
                match col {
                    Col::Name => str_datum(name),
                    Col::Type => str_datum(iface.kind.as_ovs_str()),
                    Col::Options => map_to_datum(&iface.options),
                    Col::OtherConfig => map_to_datum(&iface.other_config),
                    Col::ExternalIds => map_to_datum(&iface.external_ids),
                    Col::MtuRequest => opt_int_datum(iface.mtu_request.map(i64::from)),
                    Col::Statistics => {
                        let mut d: Datum = self
                            .live
                            .interface_statistics(name)
                            .into_iter()
                            .map(|(k, v)| {
                                (
                                    Atom::Str(k),
                                    Some(Atom::Int(i64::try_from(v).unwrap_or(i64::MAX))),
                                )
                            })
                            .collect();
                        d.sort_by(|a, b| a.0.cmp(&b.0));
                        d.dedup_by(|a, b| a.0 == b.0);
                        d
                    }
                    Col::Error => self
                        .iface_error(name, iface)
                        .map(|e| vec![(Atom::Str(e), None)])
                        .unwrap_or_default(),
                    Col::Ofport => opt_int_datum(self.live.ofport(name)),
                    Col::Mtu => opt_int_datum(self.live.interface_mtu(name).map(i64::from)),
                    Col::MacInUse => self
                        .live
                        .interface_mac_in_use(name)
                        .map(|m| str_datum(&m))
                        .unwrap_or_default(),
                    Col::AdminState => up_down(self.live.interface_admin_up(name)),
                    Col::LinkState => up_down(self.live.interface_link_up(name)),
                    Col::Tag => opt_int_datum(iface.tag.map(i64::from)),
                    Col::Trunks => iface
                        .trunks
                        .iter()
                        .map(|&v| (Atom::Int(i64::from(v)), None))
                        .collect(),
                    Col::VlanMode => iface
                        .vlan_mode
                        .map(|m| str_datum(m.as_ovs_str()))
                        .unwrap_or_default(),
                    _ => Vec::new(),
                }
            }
            Row::Bridge(name) => {
                let Some(b) = self.cfg.bridges.get(name) else {
                    return Vec::new();
                };
                match col {
                    Col::Name => str_datum(name),
                    Col::OtherConfig => map_to_datum(&b.other_config),
                    Col::ExternalIds => map_to_datum(&b.external_ids),
                    Col::Ports => b
                        .ports
                        .keys()
                        .map(|p| (Atom::Str(p.clone()), None))
                        .collect(),
                    Col::StpEnable => vec![(Atom::Bool(b.stp_enable), None)],
                    Col::RstpEnable => vec![(Atom::Bool(b.rstp_enable), None)],
                    Col::DatapathType => str_datum(&b.datapath_type),
                    Col::FailMode => b
                        .fail_mode
                        .map(|m| (Atom::Str(m.as_ovs_str().to_owned()), None))
                        .into_iter()
                        .collect(),
                    _ => Vec::new(),
                }
            }
            Row::Root => match col {
                Col::Bridges => self
                    .cfg
                    .bridges
                    .keys()
                    .map(|b| (Atom::Str(b.clone()), None))
                    .collect(),
                _ => Vec::new(),
            },
        }
    }

    pub(super) fn write(&mut self, row: &Row, col: Col, datum: Datum) -> CmdResult {
        match row {
            Row::Iface { port, .. } => {
                let port = port.clone();
                let iface = self.iface_mut(row).expect("row exists");
                match col {
                    Col::Type => {
                        let s = match datum.first() {
                            Some((Atom::Str(s), _)) => s.as_str(),
                            _ => "",
                        };
                        iface.kind = InterfaceType::from_ovs_str(s)?;
                    }
                    Col::Options => iface.options = datum_to_map(&datum),
                    Col::OtherConfig => iface.other_config = datum_to_map(&datum),
                    Col::ExternalIds => iface.external_ids = datum_to_map(&datum),
                    Col::MtuRequest => {
                        iface.mtu_request = match datum.first() {
                            Some((Atom::Int(n), _)) => Some(u32::try_from(*n).map_err(|_| {
                                format!(
                                    "interface {port}: mtu_request={n} is out of range \
                                     (ovs-vsctl set interface {port} mtu_request=1500)"
                                )
                            })?),
                            _ => None,
                        };
                    }
                    // The schema's constraints (0..=4095, the enum) were checked as the value
                    // was parsed.
                    Col::Tag => iface.tag = datum.first().and_then(|(a, _)| vid(a)),
                    Col::Trunks => {
                        iface.trunks = datum.iter().filter_map(|(a, _)| vid(a)).collect()
                    }
                    Col::VlanMode => {
                        iface.vlan_mode = match datum.first() {
                            Some((Atom::Str(s), _)) => VlanMode::from_ovs_str(s),
                            _ => None,
                        }
                    }
                    _ => unreachable!("read-only column {}", col.name()),
                }
            }
            Row::Bridge(name) => {
                let name = name.clone();
                let b = self.cfg.bridges.get_mut(&name).expect("row exists");
                match col {
                    Col::OtherConfig => b.other_config = datum_to_map(&datum),
                    Col::ExternalIds => b.external_ids = datum_to_map(&datum),
                    Col::DatapathType => {
                        let value = match datum.first() {
                            Some((Atom::Str(v), _)) => v.clone(),
                            _ => String::new(),
                        };
                        if !matches!(value.as_str(), "" | "system" | "netdev") {
                            return Err(format!(
                                "bridge {name}: datapath_type={value}: grebe has one datapath; it \
                                 accepts \"\", system and netdev (and ignores them)"
                            )
                            .into());
                        }
                        b.datapath_type = value;
                    }
                    Col::FailMode => {
                        b.fail_mode = match datum.first() {
                            Some((Atom::Str(m), _)) => {
                                Some(super::commands::parse_fail_mode(&name, m)?)
                            }
                            _ => None,
                        };
                    }
                    Col::StpEnable | Col::RstpEnable => {
                        let on = datum.first().map(|d| &d.0) == Some(&Atom::Bool(true));
                        if col == Col::StpEnable {
                            b.stp_enable = on;
                        } else {
                            b.rstp_enable = on;
                        }
                    }
                    _ => unreachable!("read-only column {}", col.name()),
                }
            }
            Row::Root => unreachable!("Open_vSwitch has no writable column"),
        }
        Ok(())
    }

    pub(super) fn check_mutable(table: Table, col: Col) -> CmdResult {
        if col.mutable() {
            Ok(())
        } else {
            Err(format!(
                "cannot modify read-only column {} in table {}",
                col.name(),
                table.name()
            )
            .into())
        }
    }

    /// `set_column()`.
    pub(super) fn set_column(&mut self, table: Table, row: &Row, arg: &str) -> CmdResult {
        let ColumnArg {
            col, key, value, ..
        } = parse_column_key_value(arg, table, &["="])?;
        let value = value.expect("want_value");
        Self::check_mutable(table, col)?;
        let ty = col.ty();
        let datum = if let Some(key) = key {
            let Some(vt) = ty.value else {
                return Err(format!(
                    "cannot specify key to set for non-map column {}",
                    col.name()
                )
                .into());
            };
            let key = atom_from_string(ty.key, &key)?;
            let value = atom_from_string(vt, &value)?;
            let mut d = self.read(row, col);
            match d.binary_search_by(|e| e.0.cmp(&key)) {
                Ok(i) => d[i].1 = Some(value),
                Err(i) => d.insert(i, (key, Some(value))),
            }
            d
        } else {
            datum_from_string(&ty, &value)?
        };
        self.write(row, col, datum)
    }
}

/// `admin_state`/`link_state` from what the daemon knows.
fn up_down(up: Option<bool>) -> Datum {
    up.map(|up| str_datum(if up { "up" } else { "down" }))
        .unwrap_or_default()
}

/// A VLAN ID atom (already checked against the schema's range).
fn vid(a: &Atom) -> Option<u16> {
    match a {
        Atom::Int(n) => u16::try_from(*n).ok().filter(|&v| v <= MAX_VLAN),
        _ => None,
    }
}
