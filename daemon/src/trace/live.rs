//! `ofproto/trace-live`: one line per frame entering the bridge, with the decision the packet
//! loop took, at most `--rate` lines a second.

use super::*;

/// Is this appctl command line `ofproto/trace-live`, which streams?
pub fn is_live(args: &[String]) -> bool {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--format" | "-f" => {
                it.next();
            }
            _ if a.starts_with("--format=") => {}
            other => return other == "ofproto/trace-live",
        }
    }
    false
}

pub(super) struct LiveOptions {
    bridge: String,
    count: Option<u64>,
    rate: u32,
    json: bool,
}

pub(super) fn live_usage(problem: &str) -> Reply {
    Reply::error(
        2,
        format!("ofproto/trace-live: {problem}\n  usage: ofproto/trace-live {LIVE_USAGE}\n"),
    )
}

pub(super) fn parse_live(args: &[String]) -> Result<LiveOptions, Reply> {
    let mut bridge = None;
    let mut count = None;
    let mut rate = DEFAULT_RATE;
    let mut json = false;
    let mut it = args.iter().map(String::as_str);
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (a, None),
        };
        let mut value = |name: &str| {
            inline
                .or_else(|| it.next())
                .ok_or_else(|| live_usage(&format!("{name} needs a value")))
        };
        match flag {
            "ofproto/trace-live" => {}
            "--count" | "-c" => {
                let v = value("--count")?;
                count =
                    Some(v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        live_usage(&format!("--count {v} is not a positive number"))
                    })?);
            }
            "--rate" => {
                let v = value("--rate")?;
                rate = v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_RATE).contains(n))
                    .ok_or_else(|| {
                        live_usage(&format!("--rate {v} is not a number from 1 to {MAX_RATE}"))
                    })?;
            }
            "--format" | "-f" => match value("--format")? {
                "json" => json = true,
                "text" => json = false,
                other => return Err(live_usage(&format!("unknown output format {other:?}"))),
            },
            _ if flag.starts_with('-') => {
                return Err(live_usage(&format!("unknown option {flag}")));
            }
            _ if bridge.is_none() => bridge = Some(a.to_string()),
            _ => return Err(live_usage(&format!("unexpected argument {a}"))),
        }
    }
    let bridge = bridge.ok_or_else(|| live_usage("a bridge is required"))?;
    Ok(LiveOptions {
        bridge,
        count,
        rate,
        json,
    })
}

/// Admits `rate` lines a second, with a burst of one second's worth.
pub struct RateLimit {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    pub fn new(rate: u32) -> RateLimit {
        RateLimit {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            last: Instant::now(),
        }
    }

    pub fn admit(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The decision for one frame as the packet loop reported it, in trace's vocabulary.
pub struct LiveDecision<'a> {
    pub verdict: &'static str,
    pub reason: Option<&'static str>,
    pub outputs: Vec<&'a str>,
}

pub(super) fn live_decision<'a>(
    event: &FrameEvent,
    names: &'a BTreeMap<PortId, String>,
) -> Option<LiveDecision<'a>> {
    let d = event.decision.as_ref()?;
    let name = |p: &PortId| names.get(p).map_or("?", String::as_str);
    let dst = EthernetAddress::from_bytes(&event.frame);
    Some(match d.verdict {
        Verdict::Unicast(_) => LiveDecision {
            verdict: "unicast",
            reason: None,
            outputs: d.outputs.iter().map(name).collect(),
        },
        Verdict::Flood if d.outputs.is_empty() => LiveDecision {
            verdict: "drop",
            reason: Some(datapath::DropReason::NoTarget.name()),
            outputs: Vec::new(),
        },
        Verdict::Flood => LiveDecision {
            verdict: "flood",
            reason: Some(flood_reason(dst)),
            outputs: d.outputs.iter().map(name).collect(),
        },
        Verdict::Flow => LiveDecision {
            verdict: "flow",
            reason: None,
            outputs: d.outputs.iter().map(name).collect(),
        },
        Verdict::Drop(r) => LiveDecision {
            verdict: "drop",
            reason: Some(r.name()),
            outputs: Vec::new(),
        },
    })
}

/// One trace-live line for a frame that entered the bridge.
pub(super) fn live_line(
    event: &FrameEvent,
    names: &BTreeMap<PortId, String>,
    json_format: bool,
) -> String {
    let port = names.get(&event.port).map_or("?", String::as_str);
    let time_us = crate::capture::micros(event.time);
    let Some(d) = live_decision(event, names) else {
        return String::new();
    };
    let frame = Frame::new_checked(&event.frame[..]).ok();
    if json_format {
        return json!({
            "time_us": time_us,
            "in_port": port,
            "dl_src": frame.as_ref().map(|f| f.src_addr().to_string()),
            "dl_dst": frame.as_ref().map(|f| f.dst_addr().to_string()),
            "dl_type": frame.as_ref().map(|f| format!("0x{:04x}", u16::from(f.ethertype()))),
            "len": event.frame.len(),
            "summary": frame_summary(&event.frame),
            "verdict": d.verdict,
            "reason": d.reason,
            "outputs": d.outputs,
        })
        .to_string();
    }
    let action = match (d.verdict, d.reason) {
        ("unicast", _) => format!("unicast to {}", d.outputs.join(",")),
        ("flood", Some(r)) => format!("flood ({r}) to {}", d.outputs.join(",")),
        (_, r) => format!("drop ({})", r.unwrap_or("?")),
    };
    format!(
        "{} in {port}: {} => {action}",
        clock(time_us),
        frame_summary(&event.frame)
    )
}

/// The daemon's side of `ofproto/trace-live`: runs on its own thread, takes the daemon's lock
/// only to look the bridge up and start watching.
pub fn serve_live(state: &Mutex<DaemonState>, conn: &mut StreamConn, args: &[String]) -> Reply {
    let opts = match parse_live(args) {
        Ok(o) => o,
        Err(reply) => return reply,
    };
    let (monitor, names) = {
        let s = state.lock().unwrap_or_else(|e| e.into_inner());
        if !s.config.bridges.contains_key(&opts.bridge) {
            return Reply::error(2, no_bridge(&opts.bridge));
        }
        let ports = bridge_ports(&s.datapath, &opts.bridge);
        let names: BTreeMap<PortId, String> =
            ports.iter().map(|p| (p.id, p.name.clone())).collect();
        let spec = MonitorSpec {
            ports: Some(ports.iter().map(|p| p.id).collect()),
            packets: false,
        };
        let monitor = match s.datapath.monitor(spec) {
            Ok(m) => m,
            Err(e) => return Reply::error(1, format!("ofproto/trace-live: {e}\n")),
        };
        // Watching from here on: frames sent after the client hears `Started` are seen.
        if let Err(e) = s.datapath.sync() {
            return Reply::error(1, format!("ofproto/trace-live: {e}\n"));
        }
        (monitor, names)
    };
    let port_list: Vec<&str> = names.values().map(String::as_str).collect();
    conn.send(&StreamMessage::Started(format!(
        "tracing frames entering {} (ports {}), at most {} lines/s{}; Ctrl-C to stop",
        opts.bridge,
        port_list.join(", "),
        opts.rate,
        opts.count
            .map_or(String::new(), |n| format!(", {n} frames")),
    )));
    let mut limit = RateLimit::new(opts.rate);
    let mut shown = 0u64;
    let mut rate_skipped = 0u64;
    let (mut reported_rate, mut reported_queue) = (0u64, 0u64);
    let mut last_report = Instant::now();
    loop {
        if conn.client_gone() || opts.count.is_some_and(|n| shown >= n) {
            break;
        }
        match monitor.events.recv_timeout(TICK) {
            Ok(event) if event.direction == Direction::Rx => {
                if limit.admit(Instant::now()) {
                    shown += 1;
                    if !conn.send(&StreamMessage::Line(live_line(&event, &names, opts.json))) {
                        break;
                    }
                } else {
                    rate_skipped += 1;
                }
            }
            Ok(_) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Reply::error(1, "ofproto/trace-live: the datapath stopped\n");
            }
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            let queue = monitor.skipped();
            if rate_skipped > reported_rate || queue > reported_queue {
                let line = skipped_line(
                    rate_skipped - reported_rate,
                    queue - reported_queue,
                    opts.rate,
                    opts.json,
                );
                (reported_rate, reported_queue) = (rate_skipped, queue);
                if !conn.send(&StreamMessage::Line(line)) {
                    break;
                }
            }
        }
    }
    let queue = monitor.skipped();
    let mut reply = Reply::ok("");
    if rate_skipped > reported_rate || queue > reported_queue {
        reply.stdout = format!(
            "{}\n",
            skipped_line(
                rate_skipped - reported_rate,
                queue - reported_queue,
                opts.rate,
                opts.json
            )
        );
    }
    reply.stderr = format!(
        "{shown} frames traced, {} not shown ({rate_skipped} over the {} lines/s limit, {queue} events the datapath's watch queue had no room for)\n",
        rate_skipped + queue,
        opts.rate
    );
    reply
}

pub(super) fn skipped_line(rate: u64, queue: u64, limit: u32, json_format: bool) -> String {
    if json_format {
        return json!({ "skipped": { "rate_limit": rate, "queue_full": queue } }).to_string();
    }
    let mut parts = Vec::new();
    if rate > 0 {
        parts.push(format!("{rate} over the {limit} lines/s limit"));
    }
    if queue > 0 {
        parts.push(format!(
            "{queue} events the datapath's watch queue had no room for"
        ));
    }
    format!("-- skipped: {}", parts.join(", "))
}

/// The client's side of `ofproto/trace-live`: prints lines as they come until `--count` lines,
/// Ctrl-C, or the daemon ends the stream.
pub fn live_client(rundir: &Path, args: Vec<String>) -> anyhow::Result<ExitCode> {
    let mut client = StreamClient::open(rundir, args)?;
    control::stop_stream_on_ctrl_c(&client)?;
    while let Some(message) = client.next_message() {
        match message? {
            StreamMessage::Started(what) => eprintln!("{what}"),
            StreamMessage::Line(line) => println!("{line}"),
            StreamMessage::Done(reply) => {
                print!("{}", reply.stdout);
                eprint!("{}", reply.stderr);
                return Ok(ExitCode::from(u8::try_from(reply.exit_code).unwrap_or(1)));
            }
            StreamMessage::Frame(_) | StreamMessage::Skipped { .. } => {}
        }
    }
    eprintln!("ofproto/trace-live: the daemon closed the stream");
    Ok(ExitCode::FAILURE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_admits_a_burst_then_the_rate() {
        let mut r = RateLimit::new(10);
        let t = Instant::now();
        r.last = t;
        let admitted = (0..50).filter(|_| r.admit(t)).count();
        assert_eq!(admitted, 10);
        assert!(r.admit(t + Duration::from_millis(100)));
        assert!(!r.admit(t + Duration::from_millis(100)));
    }

    #[test]
    fn live_is_recognised_behind_format_flags() {
        let v = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert!(is_live(&v("ofproto/trace-live br-int")));
        assert!(is_live(&v("--format json ofproto/trace-live br-int")));
        assert!(!is_live(&v("ofproto/trace br-int in_port=x")));
        assert!(!is_live(&v("dpif/show")));
    }
}
