//! `metrics`: the daemon's counters in Prometheus' text exposition format (version 0.0.4), the
//! same text `grebe daemon --metrics-listen` serves on `/metrics`.
//!
//! Read from the same snapshots `dpif/show`, `fdb/stats-show` and `stp/show` print, under the
//! daemon's lock, at scrape time: the datapath keeps no second set of counters for it.

use std::fmt::Write as _;

use crate::registry::Registry;
use crate::state::DaemonState;

pub fn register(r: &mut Registry<DaemonState>) {
    r.reply(
        "metrics",
        "counters in Prometheus' text format (what --metrics-listen serves)",
        0..=0,
        |state, _, _| Ok(render(state)),
    );
}

/// The content type of what [`render`] writes, for an HTTP answer.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One metric family: `# HELP`, `# TYPE`, then its samples.
struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &'static str, kind: &str, help: &str) -> Family<'a> {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        Family { out, name }
    }

    fn sample(&mut self, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.sample_as("", labels, value);
    }

    /// A sample whose name is the family's with a suffix: a histogram's `_bucket`, `_sum`,
    /// `_count`.
    fn sample_as(&mut self, suffix: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(self.name);
        self.out.push_str(suffix);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// A label value as the format wants it: backslash, double quote and newline escaped. Port
/// names come from ovs-vsctl and may hold anything an interface name may.
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// Every metric, for the whole daemon.
pub fn render(state: &DaemonState) -> String {
    let mut s = String::new();
    let ports = state.datapath.port_stats();
    let bridges: Vec<&str> = state.config.bridges.keys().map(String::as_str).collect();

    Family::new(
        &mut s,
        "grebe_uptime_seconds",
        "gauge",
        "Seconds since the daemon started.",
    )
    .sample(&[], state.started.elapsed().as_secs());

    type PortCounter = fn(&datapath::PortStats) -> u64;
    let per_port: [(&'static str, &str, PortCounter); 8] = [
        (
            "grebe_port_rx_packets_total",
            "Frames the bridge received on the port.",
            |p| p.counters.rx_packets,
        ),
        (
            "grebe_port_rx_bytes_total",
            "Bytes the bridge received on the port.",
            |p| p.counters.rx_bytes,
        ),
        (
            "grebe_port_tx_packets_total",
            "Frames the bridge sent out of the port.",
            |p| p.counters.tx_packets,
        ),
        (
            "grebe_port_tx_bytes_total",
            "Bytes the bridge sent out of the port.",
            |p| p.counters.tx_bytes,
        ),
        (
            "grebe_port_tx_dropped_total",
            "Frames for the port that could not be sent.",
            |p| p.counters.tx_dropped,
        ),
        (
            "grebe_port_bpdu_tx_total",
            "Spanning tree BPDUs sent on the port.",
            |p| p.counters.bpdu_tx,
        ),
        (
            "grebe_port_bpdu_rx_total",
            "Spanning tree BPDUs received on the port.",
            |p| p.counters.bpdu_rx,
        ),
        (
            "grebe_port_bpdu_errors_total",
            "BPDUs received but malformed or outside the tree.",
            |p| p.counters.bpdu_errors,
        ),
    ];
    for (name, help, value) in per_port {
        let mut f = Family::new(&mut s, name, "counter", help);
        for p in &ports {
            f.sample(&[("bridge", &p.bridge), ("port", &p.name)], value(p));
        }
    }

    // The kernel's own counts for ports with an interface (TAP, system port), bridge's view.
    type KernelCounter = fn(&datapath::KernelStats) -> u64;
    let kernel: [(&'static str, &str, KernelCounter); 2] = [
        (
            "grebe_port_kernel_rx_dropped_total",
            "Frames the kernel dropped on the port's interface before the bridge received them.",
            |k| k.rx_dropped,
        ),
        (
            "grebe_port_kernel_tx_dropped_total",
            "Frames the kernel dropped on the port's interface after the bridge sent them.",
            |k| k.tx_dropped,
        ),
    ];
    for (name, help, value) in kernel {
        let mut f = Family::new(&mut s, name, "counter", help);
        for p in &ports {
            if let Some(k) = &p.kernel {
                f.sample(&[("bridge", &p.bridge), ("port", &p.name)], value(k));
            }
        }
    }

    let mut f = Family::new(
        &mut s,
        "grebe_port_up",
        "gauge",
        "1 when the port can carry frames (its interface exists and is up; a tunnel always), else 0.",
    );
    for p in &ports {
        let up = p.error.is_none() && p.link_state == "up";
        f.sample(&[("bridge", &p.bridge), ("port", &p.name)], u8::from(up));
    }

    let mut f = Family::new(
        &mut s,
        "grebe_tunnel_path_mtu_bytes",
        "gauge",
        "The transport path MTU of the tunnel's route, as last read.",
    );
    for p in ports.iter().filter(|p| p.remote_ip.is_some()) {
        if let Some(mtu) = p.mtu {
            f.sample(&[("bridge", &p.bridge), ("port", &p.name)], mtu);
        }
    }

    let mut f = Family::new(
        &mut s,
        "grebe_drops_total",
        "counter",
        "Packets and frames the datapath refused, by reason (see dpif/show).",
    );
    for (reason, n) in state.datapath.drops() {
        f.sample(&[("reason", reason.name())], n);
    }

    let mut f = Family::new(
        &mut s,
        "grebe_pmtu_events_total",
        "counter",
        "What the datapath did for path MTU's sake: clamped SYNs, ICMP too-big answers.",
    );
    for (event, n) in state.datapath.events() {
        f.sample(&[("event", event.name())], n);
    }

    datapath_loop(&mut s, state);
    mac_table(&mut s, state, &bridges);
    spanning_tree(&mut s, state, &bridges);
    s
}

/// How each datapath thread's packet loop turns, labelled by thread; the batch sizes as a
/// histogram of frames per receive call, by the kind of source read.
fn datapath_loop(s: &mut String, state: &DaemonState) {
    let loops = state.datapath.loop_stats();
    let threads: Vec<String> = (0..loops.len()).map(|i| i.to_string()).collect();
    let mut f = Family::new(
        s,
        "grebe_datapath_loop_iterations_total",
        "counter",
        "Turns of the datapath thread's packet loop (one poll each).",
    );
    for (t, l) in threads.iter().zip(&loops) {
        f.sample(&[("thread", t)], l.iterations);
    }
    let mut f = Family::new(
        s,
        "grebe_datapath_loop_idle_polls_total",
        "counter",
        "Polls of the packet loop that timed out with nothing to read.",
    );
    for (t, l) in threads.iter().zip(&loops) {
        f.sample(&[("thread", t)], l.idle_polls);
    }
    let mut f = Family::new(
        s,
        "grebe_datapath_batch_frames",
        "histogram",
        "Frames read per receive call, by source: gre (the raw GRE socket), tap, system.",
    );
    for (t, l) in threads.iter().zip(&loops) {
        for h in &l.batches {
            let source = h.source.name();
            let mut cumulative = 0;
            for (bound, n) in datapath::BATCH_BOUNDS.iter().zip(h.buckets) {
                cumulative += n;
                let le = bound.to_string();
                f.sample_as(
                    "_bucket",
                    &[("thread", t), ("source", source), ("le", &le)],
                    cumulative,
                );
            }
            let labels = [("thread", t.as_str()), ("source", source)];
            f.sample_as(
                "_bucket",
                &[("thread", t), ("source", source), ("le", "+Inf")],
                h.calls(),
            );
            f.sample_as("_sum", &labels, h.frames);
            f.sample_as("_count", &labels, h.calls());
        }
    }
}

fn mac_table(s: &mut String, state: &DaemonState, bridges: &[&str]) {
    let mut f = Family::new(
        s,
        "grebe_mac_table_entries",
        "gauge",
        "MAC addresses in the bridge's table now.",
    );
    for b in bridges {
        if let Ok(entries) = state.datapath.fdb(b) {
            f.sample(&[("bridge", b)], entries.len());
        }
    }
    let mut f = Family::new(
        s,
        "grebe_mac_table_max_entries",
        "gauge",
        "The bound of the bridge's MAC table (other_config:mac-table-size).",
    );
    for b in bridges {
        if let Some(settings) = state.datapath.bridge_settings(b) {
            f.sample(&[("bridge", b)], settings.table.max_entries);
        }
    }
    type TableCounter = fn(&learning::Counters) -> u64;
    let counters: [(&'static str, &str, TableCounter); 4] = [
        ("grebe_mac_learned_total", "MAC addresses learned.", |c| {
            c.learned
        }),
        (
            "grebe_mac_moved_total",
            "Learned MAC addresses that moved to another port.",
            |c| c.moved,
        ),
        (
            "grebe_mac_expired_total",
            "MAC addresses forgotten after mac-aging-time idle.",
            |c| c.expired,
        ),
        (
            "grebe_mac_evicted_total",
            "Live MAC addresses removed to make room in a full table.",
            |c| c.evicted,
        ),
    ];
    for (name, help, value) in counters {
        let mut f = Family::new(s, name, "counter", help);
        for b in bridges {
            if let Some(c) = state.datapath.fdb_counters(b) {
                f.sample(&[("bridge", b)], value(&c));
            }
        }
    }
}

/// Each port of a bridge running STP or RSTP: one series per state, 1 for the state it is in.
fn spanning_tree(s: &mut String, state: &DaemonState, bridges: &[&str]) {
    const STATES: [stp::PortState; 6] = [
        stp::PortState::Disabled,
        stp::PortState::Blocking,
        stp::PortState::Listening,
        stp::PortState::Learning,
        stp::PortState::Forwarding,
        stp::PortState::Discarding,
    ];
    let mut f = Family::new(
        s,
        "grebe_stp_port_state",
        "gauge",
        "Spanning tree state of the port: 1 for the state it is in, 0 for the others.",
    );
    for b in bridges {
        if state.datapath.tree_settings(b).is_none() {
            continue;
        }
        let Ok(tree) = state.datapath.tree_status(b) else {
            continue;
        };
        for p in &tree.status.ports {
            let name = tree
                .port_names
                .get(&p.number)
                .cloned()
                .unwrap_or_else(|| p.number.to_string());
            for st in STATES {
                f.sample(
                    &[("bridge", b), ("port", &name), ("state", st.name())],
                    u8::from(p.state == st),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("x\ny"), "x\\ny");
        assert_eq!(escape("gre0"), "gre0");
    }

    #[test]
    fn a_family_has_help_type_and_samples() {
        let mut s = String::new();
        let mut f = Family::new(&mut s, "grebe_x_total", "counter", "Things.");
        f.sample(&[("bridge", "br-int"), ("port", "p\"1")], 3);
        f.sample(&[], 4);
        assert_eq!(
            s,
            "# HELP grebe_x_total Things.\n# TYPE grebe_x_total counter\n\
             grebe_x_total{bridge=\"br-int\",port=\"p\\\"1\"} 3\ngrebe_x_total 4\n"
        );
    }
}
