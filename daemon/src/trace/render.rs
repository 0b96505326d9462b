//! `ofproto/trace`'s text: the steps of the decision, then each output.

use super::*;

/// `ofproto/trace` in plain words.
pub fn render_text(t: &Trace) -> String {
    let mut s = String::new();
    let src = t.dl_src.as_deref().unwrap_or("?");
    let dst = t.dl_dst.as_deref().unwrap_or("?");
    let _ = writeln!(s, "Bridge: {}", t.bridge);
    let _ = writeln!(s, "Frame: {}", t.summary);
    let _ = writeln!(s, "       {}", t.frame_hex);
    let _ = writeln!(s);
    let mut n = 0;
    let mut step = |s: &mut String, text: String| {
        n += 1;
        let _ = writeln!(s, "{n}. {text}");
    };
    let ingress = match t.in_port.remote_ip {
        Some(ip) => format!(
            "Ingress: port {} ({}), a GRE tunnel from {ip}: the frame arrived inside a GRE packet from {ip} and was taken out of it",
            t.in_port.name, t.in_port.port_no
        ),
        None if t.in_port.kind == "system" => format!(
            "Ingress: port {} ({}), a system port: the frame arrived on the interface {} and its packet socket read it",
            t.in_port.name, t.in_port.port_no, t.in_port.name
        ),
        None => format!(
            "Ingress: port {} ({}), an internal port: the host sent the frame into its TAP device",
            t.in_port.name, t.in_port.port_no
        ),
    };
    step(&mut s, ingress);
    if t.dl_src.is_none() {
        step(
            &mut s,
            format!(
                "The frame is {} bytes, shorter than an Ethernet header (14): dropped (frame_truncated)",
                t.frame_len
            ),
        );
        return finish_text(s, t);
    }
    if t.reason == Some("invalid_source_mac") {
        step(
            &mut s,
            format!(
                "Source check: {src} is a group or zero address, which no single station can send from: dropped (invalid_source_mac), not learned"
            ),
        );
        return finish_text(s, t);
    }
    step(
        &mut s,
        format!("Source check: {src} is a unicast address: accepted"),
    );
    if t.reason == Some("link_local") {
        step(
            &mut s,
            format!(
                "Destination check: {dst} is a reserved IEEE 802.1D address (01:80:c2:00:00:0X: STP, LACP, pause), which bridges never forward: dropped (link_local), not learned"
            ),
        );
        return finish_text(s, t);
    }
    if let Some(v) = &t.vlan {
        step(&mut s, v.step(&t.in_port.name));
        if v.vlan.is_none() {
            return finish_text(s, t);
        }
    }
    let learn = match (t.learning, t.learning_from.as_deref()) {
        ("new", _) => format!(
            "Learning: {src} is not in the MAC table: it would be learned on {}, so frames to {src} go there",
            t.in_port.name
        ),
        ("refresh", _) => format!(
            "Learning: {src} is already learned on {}: its entry would be refreshed (age back to 0)",
            t.in_port.name
        ),
        ("move", Some(from)) => format!(
            "Learning: {src} was learned on {from}: it would move to {} (the station moved)",
            t.in_port.name
        ),
        ("pinned", _) => {
            format!("Learning: {src} is a static or local entry: learning never moves it")
        }
        _ => "Learning: not reached".to_string(),
    };
    let applied = if t.learned {
        "(learned: --learn)"
    } else {
        "(trace only: nothing is learned)"
    };
    step(&mut s, format!("{learn} {applied}"));
    let lookup = match t.lookup {
        "hit" => format!(
            "Lookup: {dst} is in the MAC table on {}{}",
            t.lookup_port.as_deref().unwrap_or("?"),
            t.lookup_age
                .map_or(String::new(), |a| format!(", learned {a} s ago"))
        ),
        "miss" => format!(
            "Lookup: {dst} is not in the MAC table (never seen, or idle longer than mac-aging-time): unknown unicast floods"
        ),
        "not_reached" => "Lookup: not reached: the frame was dropped before it".to_string(),
        _ if t.reason == Some("broadcast") => {
            format!("Lookup: {dst} is the broadcast address: not looked up, it floods")
        }
        _ => format!("Lookup: {dst} is a multicast address: not looked up, it floods"),
    };
    step(&mut s, lookup);
    if let Some(f) = &t.flow {
        let text = match f.priority {
            Some(p) => format!(
                "OpenFlow table 0: the frame matches the flow of priority {p} (cookie {:#x}), actions={}{}",
                f.cookie,
                f.actions.join(","),
                if f.actions.iter().any(|a| a == "NORMAL") {
                    ": the learning bridge's decision above stands"
                } else {
                    ": it replaces the learning bridge's decision"
                }
            ),
            None => {
                "OpenFlow table 0: no flow matches the frame: a table miss drops it (flow_miss)"
                    .to_string()
            }
        };
        step(&mut s, text);
    }
    let decision = match (t.verdict, t.reason) {
        ("unicast", _) => format!("Output: unicast to {}", t.outputs.join(", ")),
        ("flow", _) => format!(
            "Output: to {} (the flow's output actions)",
            t.outputs.join(", ")
        ),
        ("flood", _) => format!("Output: flood to {}", t.outputs.join(", ")),
        ("drop", Some("same_port")) => format!(
            "Output: none: {dst} was learned on {}, where the frame came from; the destination already has it: dropped (same_port)",
            t.in_port.name
        ),
        ("drop", Some("no_target")) => {
            "Output: none: no port is left to flood to: dropped (no_target)".to_string()
        }
        ("drop", Some("stp_blocked")) => format!(
            "Output: dropped (stp_blocked): spanning tree keeps {} or the destination's port from forwarding",
            t.in_port.name
        ),
        ("drop", r) => format!("Output: dropped ({})", r.unwrap_or("?")),
        _ => String::new(),
    };
    step(&mut s, decision);
    for e in &t.excluded {
        let why = match e.why {
            "ingress" => "the ingress port: a frame never goes back where it came from".to_string(),
            why if why.starts_with("stp_") => format!(
                "spanning tree: the port is {}, not forwarding (it would close a loop); only BPDUs pass",
                &why[4..]
            ),
            "vlan_not_carried" => format!(
                "VLAN: the port does not carry VLAN {}",
                t.vlan.as_ref().and_then(|v| v.vlan).unwrap_or(0)
            ),
            _ => "split horizon: a frame from one tunnel never goes into another (tunnel-split-horizon=true)"
                .to_string(),
        };
        let _ = writeln!(s, "     not to {}: {why}", e.port);
    }
    let frame_vlan = t.vlan.as_ref().and_then(|v| v.vlan).unwrap_or(0);
    for a in &t.actions {
        let tag_line = a.vlan.map(|action| vlan::action_text(action, frame_vlan));
        match &a.encapsulation {
            None if a.port.kind == "internal" && a.result == "sent" => step(
                &mut s,
                format!(
                    "{}: written to the TAP device {}: the host's kernel receives the frame as if from a NIC",
                    a.port.name, a.port.name
                ),
            ),
            None if a.port.kind == "internal" => step(
                &mut s,
                format!(
                    "{}: the TAP device {} is down, the kernel refuses the frame: {} (ip link set {} up)",
                    a.port.name, a.port.name, a.result, a.port.name
                ),
            ),
            None if a.port.kind == "system" && a.result == "sent" => step(
                &mut s,
                format!(
                    "{}: sent on the interface {} by its packet socket",
                    a.port.name, a.port.name
                ),
            ),
            None => step(&mut s, format!("{}: {}", a.port.name, a.result)),
            Some(e) => {
                step(
                    &mut s,
                    format!(
                        "{}: GRE to {}: {} bytes of outer IPv4 + GRE header in front of the {}-byte frame, {} bytes in all{}",
                        a.port.name,
                        e.remote_ip,
                        e.header_len,
                        t.frame_len,
                        e.packet_len,
                        match (&a.result[..], e.path_mtu) {
                            ("sent", Some(m)) => format!(" (path MTU {m})"),
                            (r, Some(m)) => format!(": over the path MTU {m}, {r}"),
                            (r, None) => format!(" ({r})"),
                        }
                    ),
                );
                let _ = writeln!(
                    s,
                    "     {}",
                    match &e.link {
                        Some(dev) => format!(
                            "written to {dev} as an Ethernet frame by grebe (packet socket): the kernel resolved the remote there"
                        ),
                        None =>
                            "sent by the raw socket: the kernel routes it and resolves the next hop"
                                .to_string(),
                    }
                );
                render_fields(&mut s, e);
            }
        }
        if let Some(line) = tag_line {
            let _ = writeln!(s, "     VLAN: {line}");
        }
    }
    finish_text(s, t)
}

pub(super) fn render_fields(s: &mut String, e: &Encapsulation) {
    let mut layer = "";
    for f in &e.fields {
        if f.layer != layer {
            layer = if f.layer == "ipv4" { "ipv4" } else { "gre" };
            let title = if layer == "ipv4" {
                "outer IPv4 header (20 bytes), as grebe writes it:"
            } else {
                "GRE header, RFC 2784/2890:"
            };
            let _ = writeln!(s, "     {title}");
        }
        let bytes = f.bytes();
        let (at, raw) = match &f.binary {
            Some(bits) if f.bits == 1 => (
                format!("[{}] b{}", bytes.start, f.bit_offset % 8),
                format!("bit {bits}"),
            ),
            Some(bits) => (
                format!(
                    "[{}] b{}-{}",
                    bytes.start,
                    f.bit_offset % 8,
                    (f.bit_offset + f.bits - 1) - bytes.start * 8
                ),
                format!("bits {bits}"),
            ),
            None if bytes.len() == 1 => (format!("[{}]", bytes.start), f.hex.clone()),
            None => (format!("[{}..{}]", bytes.start, bytes.end), f.hex.clone()),
        };
        let by_link = e.link.is_some();
        let note = match (f.layer.as_str(), f.name) {
            ("ipv4", "identification") if f.value == "0" => " (DF set: never fragmented, so 0)",
            ("ipv4", "source") if f.value == "0.0.0.0" => " (the kernel fills it in)",
            ("ipv4", "source") if by_link => " (the route's source, written by grebe)",
            ("ipv4", "header checksum") if by_link => " (grebe computes it)",
            ("ipv4", "header checksum") => " (the kernel recomputes it)",
            ("gre", "sequence number") => " (the tunnel's counter; 0 stands for it here)",
            _ => "",
        };
        let _ = writeln!(
            s,
            "       {at:<11} {:<16} {:<40} {raw}",
            f.name,
            format!("{}{note}", f.value),
        );
    }
    match (e.route_source, &e.link) {
        (Some(src), Some(dev)) => {
            let _ = writeln!(
                s,
                "     from {src} (the kernel's route to {}), to the MAC its ARP found on {dev}",
                e.remote_ip
            );
        }
        (Some(src), None) => {
            let _ = writeln!(
                s,
                "     the kernel sends it from {src} (its route to {}), resolving the next hop with ARP",
                e.remote_ip
            );
        }
        (None, _) => {}
    }
    let _ = writeln!(s, "     header bytes: {}", spaced(&e.hex));
}

pub(super) fn spaced(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn finish_text(mut s: String, t: &Trace) -> String {
    let _ = writeln!(s);
    let result = match (t.verdict, t.reason) {
        ("unicast", _) => format!("Datapath actions: output:{}", t.outputs.join(",")),
        ("flood", Some(r)) => format!(
            "Datapath actions: flood ({r}): output:{}",
            t.outputs.join(",")
        ),
        (_, r) => format!("Datapath actions: drop ({})", r.unwrap_or("?")),
    };
    let _ = writeln!(s, "{result}");
    s
}
