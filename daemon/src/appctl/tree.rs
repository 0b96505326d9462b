//! `stp/show` and `rstp/show`: the spanning tree, in OVS's layout.

use std::fmt::Write as _;

use crate::registry::Registry;
use crate::state::DaemonState;

pub fn register(r: &mut Registry<DaemonState>) {
    r.reply(
        "stp/show",
        "[BRIDGE]  spanning tree (802.1D): bridge and root IDs, each port's role, state and cost, OVS's layout",
        0..=1,
        |state, args, _| tree_show(state, stp::Protocol::Stp, args.first().copied()),
    );
    r.reply(
        "rstp/show",
        "[BRIDGE]  rapid spanning tree (802.1w), OVS's layout",
        0..=1,
        |state, args, _| tree_show(state, stp::Protocol::Rstp, args.first().copied()),
    );
}

/// `stp/show` and `rstp/show`, in OVS's layout (`stp_print_details`, `rstp_print_details`),
/// so that a grebe bridge and an OVS bridge in one tree can be read side by side.
fn tree_show(
    state: &DaemonState,
    protocol: stp::Protocol,
    bridge: Option<&str>,
) -> Result<String, String> {
    let object = match protocol {
        stp::Protocol::Stp => "stp",
        stp::Protocol::Rstp => "rstp",
    };
    let running = |b: &str| {
        state
            .datapath
            .tree_settings(b)
            .is_some_and(|t| t.protocol == protocol)
    };
    let bridges: Vec<&str> = match bridge {
        Some(b) if running(b) => vec![b],
        Some(_) => return Err(format!("no such {object} object\n")),
        None => state
            .datapath
            .bridge_names()
            .filter(|b| running(b))
            .collect(),
    };
    let mut s = String::new();
    for b in bridges {
        let tree = state
            .datapath
            .tree_status(b)
            .map_err(|e| format!("{e}\n"))?;
        print_tree(&mut s, b, &tree);
    }
    Ok(s)
}

fn print_tree(s: &mut String, bridge: &str, tree: &datapath::TreeStatus) {
    let st = &tree.status;
    let rapid = st.protocol == stp::Protocol::Rstp;
    let name = |n: stp::PortNo| {
        tree.port_names
            .get(&n)
            .cloned()
            .unwrap_or_else(|| n.to_string())
    };
    let id = |s: &mut String, id: stp::BridgeId, times: &stp::Times| {
        let m = id.system_id();
        let pad = if rapid { "    " } else { "  " };
        let _ = writeln!(s, "  stp-priority{pad}{}", id.priority());
        let _ = writeln!(
            s,
            "  stp-system-id   {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        );
        let _ = writeln!(s, "  stp-hello-time  {}s", times.hello_time.as_secs());
        let _ = writeln!(s, "  stp-max-age     {}s", times.max_age.as_secs());
        let _ = writeln!(s, "  stp-fwd-delay   {}s", times.forward_delay.as_secs());
    };
    let _ = writeln!(s, "---- {bridge} ----");
    s.push_str("Root ID:\n");
    // OVS prints the root's timers under the root ID and the bridge's under the bridge ID for
    // RSTP; for STP, the other way round.
    let (root_times, bridge_times) = if rapid {
        (&st.root_times, &st.bridge_times)
    } else {
        (&st.bridge_times, &st.root_times)
    };
    id(s, st.root_id, root_times);
    match st.root_port {
        None => s.push_str("  This bridge is the root\n"),
        Some(port) => {
            let _ = writeln!(s, "  root-port       {}", name(port));
            let _ = writeln!(s, "  root-path-cost  {}", st.root_path_cost);
        }
    }
    s.push_str("\nBridge ID:\n");
    id(s, st.bridge_id, bridge_times);
    s.push('\n');
    let cost_width = if rapid { 9 } else { 6 };
    let _ = writeln!(
        s,
        "  {:<11}{:<11}{:<11}{:<cost_width$}{:<8}",
        "Interface", "Role", "State", "Cost", "Pri.Nbr"
    );
    let dashes = if rapid { "--------" } else { "-----" };
    let _ = writeln!(s, "  ---------- ---------- ---------- {dashes} -------");
    for p in st
        .ports
        .iter()
        .filter(|p| p.state != stp::PortState::Disabled)
    {
        let (role, state) = if rapid {
            (capitalized(p.role.name()), capitalized(p.state.name()))
        } else {
            (p.role.name().to_string(), p.state.name().to_string())
        };
        let mut port = name(p.number);
        port.truncate(10);
        let _ = writeln!(
            s,
            "  {port:<11}{role:<11}{state:<11}{:<cost_width$}{}.{}",
            p.path_cost, p.priority, p.number
        );
    }
    s.push('\n');
}

/// RSTP's names in OVS start with a capital (`Designated`, `Forwarding`).
fn capitalized(word: &str) -> String {
    let mut c = word.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}
