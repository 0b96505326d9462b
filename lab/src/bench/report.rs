//! The report: the table with ratios, `--json` and the SVG chart.

use super::*;

/// The date of `t` as YYYY-MM-DD HH:MM UTC.
pub(super) fn utc_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

pub(super) struct Report<'a> {
    pub(super) plan: &'a Plan,
    pub(super) results: &'a BTreeMap<Setup, SetupResult>,
    pub(super) debug_build: bool,
    pub(super) date: String,
    pub(super) kernel: String,
    pub(super) cpus: usize,
    pub(super) load_at_start: String,
    pub(super) wall_s: f64,
}

impl Report<'_> {
    /// The median of `metric` over the setup's counted rounds.
    pub(super) fn value(&self, setup: Setup, metric: &str) -> Option<f64> {
        self.spread(setup, metric).map(|s| s.median)
    }

    pub(super) fn spread(&self, setup: Setup, metric: &str) -> Option<Spread> {
        self.results.get(&setup)?.summary.get(metric).copied()
    }

    /// `num`'s median over `den`'s, when both exist and the denominator is not zero.
    pub(super) fn ratio(&self, num: Setup, den: Setup, metric: &str) -> Option<f64> {
        let (n, d) = (self.value(num, metric)?, self.value(den, metric)?);
        (d != 0.0).then(|| n / d)
    }

    /// The figures some setup has: a step that did not run (`--lossless` not given) leaves
    /// no empty row or bar group.
    pub(super) fn shown_metrics(&self) -> Vec<&'static Metric> {
        METRICS
            .iter()
            .filter(|m| self.results.keys().any(|&s| self.value(s, m.key).is_some()))
            .collect()
    }

    pub(super) fn measured(&self) -> impl Iterator<Item = Setup> + '_ {
        self.results
            .iter()
            .filter(|(_, r)| !r.summary.is_empty())
            .map(|(s, _)| *s)
    }

    /// "3 rounds" and what the figures are over them.
    pub(super) fn rounds_phrase(&self) -> String {
        match self.plan.rounds {
            1 => "1 round".into(),
            n => format!("{n} rounds (setup order reversed every other round), medians"),
        }
    }

    /// Two lines saying when, where and how the figures were measured.
    pub(super) fn heading(&self) -> [String; 2] {
        [
            format!(
                "grebe bench, {}: {} build, kernel {}, {} CPUs, load average at start {}",
                self.date,
                if self.debug_build { "DEBUG" } else { "release" },
                self.kernel,
                self.cpus,
                self.load_at_start
            ),
            format!(
                "{} s per throughput test, {} pings {} s apart, {}, whole run {:.0} s",
                self.plan.duration,
                self.plan.pings,
                self.plan.ping_interval,
                self.rounds_phrase(),
                self.wall_s
            ),
        ]
    }

    pub(super) fn table(&self) -> String {
        let setups: Vec<Setup> = self.measured().collect();
        let ratios: Vec<(Setup, Setup)> = TABLE_RATIOS
            .into_iter()
            .filter(|(n, d)| setups.contains(n) && setups.contains(d))
            .collect();
        let mut header = vec![String::new()];
        header.extend(setups.iter().map(|s| s.label().to_owned()));
        header.extend(
            ratios
                .iter()
                .map(|(n, d)| format!("{} ÷ {}", n.label(), d.label())),
        );
        let mut rows = vec![header];
        for m in self.shown_metrics() {
            let mut row = vec![format!("{}, {}", m.title, m.unit)];
            for &s in &setups {
                row.push(match self.value(s, m.key) {
                    Some(v) => format!("{v:.*}", m.decimals),
                    None => "—".into(),
                });
            }
            for &(n, d) in &ratios {
                row.push(match self.ratio(n, d, m.key) {
                    Some(r) => format!("{r:.2}×"),
                    None => "—".into(),
                });
            }
            rows.push(row);
            if m.spread && self.plan.rounds > 1 {
                let mut row = vec![format!("  min–max over {} rounds", self.plan.rounds)];
                for &s in &setups {
                    row.push(match self.spread(s, m.key) {
                        Some(sp) => range_cell(sp, m.decimals, self.plan.rounds),
                        None => "—".into(),
                    });
                }
                row.extend(ratios.iter().map(|_| String::new()));
                rows.push(row);
            }
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut text = String::new();
        if self.debug_build {
            text.push_str("WARNING: debug build, numbers are meaningless\n");
        }
        let [h1, h2] = self.heading();
        let _ = writeln!(text, "{h1}\n{h2}\n");
        for (i, row) in rows.iter().enumerate() {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, cell)| {
                    let pad = widths[c] - cell.chars().count();
                    if c == 0 {
                        format!("{cell}{}", " ".repeat(pad))
                    } else {
                        format!("{}{cell}", " ".repeat(pad))
                    }
                })
                .collect();
            let _ = writeln!(text, "| {} |", cells.join(" | "));
            if i == 0 {
                let rule: Vec<String> = widths
                    .iter()
                    .enumerate()
                    .map(|(c, w)| {
                        if c == 0 {
                            "-".repeat(w + 2)
                        } else {
                            format!("{}:", "-".repeat(w + 1))
                        }
                    })
                    .collect();
                let _ = writeln!(text, "|{}|", rule.join("|"));
            }
        }
        text.push('\n');
        for s in &setups {
            let _ = writeln!(text, "{}: {}", s.label(), s.describe());
        }
        let _ = writeln!(
            text,
            "Ratios are the first setup's value over the second's: above 1 is better for throughput and \
             frame rate,\nbelow 1 is better for loss, retransmits, RTT, memory and CPU. \
             {SMALL_FRAME}-byte frames: iperf3 -u -l {UDP_PAYLOAD} -b 0;\ncarried: those that reached the \
             receiver's socket (its namespace's Udp InDatagrams + RcvbufErrors), read or not;\nhighest rate (--lossless): \
             a bisection of paced iperf3 -b rates below the flood's, the highest losing at most 0.1% (RFC 2544 throughput).\nMemory: VmRSS after the run \
             (OVS: ovs-vswitchd + ovsdb-server); CPU: utime + stime of the switch processes; \
             — where\nthe kernel is the switch."
        );
        if self.plan.rounds > 1 {
            let _ = writeln!(
                text,
                "Figures are medians over the rounds (with an even count, the mean of the middle two); \
                 ratios are of medians."
            );
            let short = self.results.values().any(|r| {
                METRICS.iter().any(|m| {
                    m.spread
                        && r.summary
                            .get(m.key)
                            .is_some_and(|sp| sp.rounds < self.plan.rounds)
                })
            });
            if short {
                let _ = writeln!(
                    text,
                    "A range marked (n=2) is over the 2 rounds that measured it, fewer than were run."
                );
            }
        }
        for (s, r) in self.results {
            if let Some(why) = &r.skipped {
                let _ = writeln!(text, "{}: not measured: {why}", s.label());
            }
            for (round, err) in r.failed_rounds() {
                if self.plan.rounds == 1 {
                    let _ = writeln!(text, "{}: FAILED: {err}", s.label());
                } else {
                    let _ = writeln!(text, "{}: round {round} FAILED: {err}", s.label());
                }
            }
            if self.plan.rounds > 1 && r.skipped.is_none() && r.counted < r.rounds.len() {
                let _ = writeln!(
                    text,
                    "{}: figures from the {} of {} rounds that succeeded",
                    s.label(),
                    r.counted,
                    r.rounds.len()
                );
            } else if self.plan.rounds > 1 && r.failed_rounds().next().is_some() {
                let _ = writeln!(
                    text,
                    "{}: every round failed; figures from what each measured",
                    s.label()
                );
            }
        }
        text
    }

    pub(super) fn json(&self, chart: &Path) -> Value {
        let mut results = serde_json::Map::new();
        for (s, res) in self.results {
            let failed = res.failed_rounds().count();
            let mut r = serde_json::Map::new();
            r.insert("description".into(), json!(s.describe()));
            r.insert(
                "status".into(),
                json!(if res.skipped.is_some() {
                    "skipped"
                } else if failed == res.rounds.len() {
                    "failed"
                } else if failed > 0 {
                    "partly failed"
                } else {
                    "ok"
                }),
            );
            if let Some(why) = &res.skipped {
                r.insert("reason".into(), json!(why));
            } else if let Some((_, why)) = res.failed_rounds().next() {
                r.insert("reason".into(), json!(why));
            }
            r.insert("rounds_counted".into(), json!(res.counted));
            // The medians, as the table shows them.
            r.insert(
                "metrics".into(),
                Value::Object(
                    res.summary
                        .iter()
                        .map(|(k, sp)| (k.to_string(), json!(round(sp.median, 4))))
                        .collect(),
                ),
            );
            r.insert(
                "spread".into(),
                Value::Object(
                    res.summary
                        .iter()
                        .map(|(k, sp)| {
                            let v = json!({
                                "min": round(sp.min, 4),
                                "max": round(sp.max, 4),
                                "rounds": sp.rounds,
                            });
                            (k.to_string(), v)
                        })
                        .collect(),
                ),
            );
            // Every round's own figures, counted or not.
            let rounds: Vec<Value> = res
                .rounds
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let mut v = serde_json::Map::new();
                    v.insert("round".into(), json!(i + 1));
                    v.insert("position".into(), json!(o.position));
                    v.insert(
                        "status".into(),
                        json!(if o.error.is_some() { "failed" } else { "ok" }),
                    );
                    if let Some(e) = &o.error {
                        v.insert("reason".into(), json!(e));
                    }
                    v.insert(
                        "metrics".into(),
                        Value::Object(
                            o.metrics
                                .iter()
                                .map(|(k, x)| (k.to_string(), json!(round(*x, 4))))
                                .collect(),
                        ),
                    );
                    v.insert("detail".into(), Value::Object(o.detail.clone()));
                    Value::Object(v)
                })
                .collect();
            r.insert("rounds".into(), json!(rounds));
            results.insert(s.key().into(), Value::Object(r));
        }
        // Every measured setup over OVS (either shape) and over the bare veth, the table's
        // ratios, and grebe over kernel VXLAN.
        let mut ratios = serde_json::Map::new();
        let pairs = self.measured().flat_map(|n| {
            self.measured()
                .filter(move |d| {
                    *d != n
                        && (matches!(d, Setup::Ovs | Setup::OvsVeth | Setup::Veth)
                            || TABLE_RATIOS.contains(&(n, *d))
                            || (n, *d) == (Setup::Grebe, Setup::Vxlan))
                })
                .map(move |d| (n, d))
        });
        for (n, d) in pairs {
            let per_metric: serde_json::Map<String, Value> = METRICS
                .iter()
                .filter_map(|m| {
                    self.ratio(n, d, m.key)
                        .map(|r| (m.key.to_string(), json!(round(r, 4))))
                })
                .collect();
            ratios.insert(
                format!("{}/{}", n.key(), d.key()),
                Value::Object(per_metric),
            );
        }
        json!({
            "grebe_version": env!("CARGO_PKG_VERSION"),
            "build": if self.debug_build { "debug" } else { "release" },
            "date": self.date,
            "kernel": self.kernel,
            "cpus": self.cpus,
            "load_average_at_start": self.load_at_start,
            "rounds": self.plan.rounds,
            "round_order": "the setups in order in odd rounds, reversed in even ones",
            "duration_s": self.plan.duration,
            "pings": self.plan.pings,
            "ping_interval_s": self.plan.ping_interval.parse::<f64>().ok(),
            "small_frame_bytes": SMALL_FRAME,
            "udp_payload_bytes": UDP_PAYLOAD,
            "wall_s": round(self.wall_s, 1),
            "chart": chart.display().to_string(),
            "metrics": METRICS.iter().map(|m| json!({
                "key": m.key,
                "title": m.title,
                "unit": m.unit,
                "better": if m.higher_is_better { "higher" } else { "lower" },
            })).collect::<Vec<_>>(),
            "results": results,
            "ratios": ratios,
        })
    }

    /// Horizontal bars, one group per metric, one bar per setup.
    pub(super) fn svg(&self) -> String {
        const WIDTH: f64 = 840.0;
        const LABEL: f64 = 90.0;
        const BAR_MAX: f64 = 520.0;
        const BAR_H: f64 = 16.0;
        const ROW: f64 = 20.0;
        let setups: Vec<Setup> = self.results.keys().copied().collect();
        let group_h = 28.0 + ROW * setups.len() as f64 + 14.0;
        let top = 80.0;
        let metrics = self.shown_metrics();
        let height = top + group_h * metrics.len() as f64 + 10.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
        let title: Vec<&str> = setups.iter().map(|s| s.label()).collect();
        let _ = writeln!(
            s,
            r#"<text x="10" y="24" font-size="17" font-weight="bold">grebe bench: {}</text>"#,
            title.join(" vs ")
        );
        let [h1, h2] = self.heading();
        for (y, line) in [(42, h1), (56, h2)] {
            let _ = writeln!(
                s,
                r##"<text x="10" y="{y}" font-size="11" fill="#444">{}</text>"##,
                xml_escape(&line)
            );
        }
        if self.debug_build {
            let _ = writeln!(
                s,
                r##"<text x="10" y="70" font-size="12" fill="#c00000" font-weight="bold">DEBUG BUILD: numbers are meaningless</text>"##
            );
        }
        for (i, m) in metrics.iter().enumerate() {
            let y0 = top + group_h * i as f64;
            let better = if m.higher_is_better {
                "higher is better"
            } else {
                "lower is better"
            };
            let _ = writeln!(
                s,
                r##"<text x="10" y="{:.1}" font-size="13" font-weight="bold">{} <tspan font-weight="normal" fill="#555">({}, {better})</tspan></text>"##,
                y0 + 16.0,
                xml_escape(m.title),
                xml_escape(m.unit)
            );
            // Ranges show only where there are rounds to range over.
            let show_range = m.spread && self.plan.rounds > 1;
            let max = setups
                .iter()
                .filter_map(|s| self.spread(*s, m.key))
                .map(|sp| if show_range { sp.max } else { sp.median })
                .fold(0.0, f64::max);
            for (j, setup) in setups.iter().enumerate() {
                let y = y0 + 28.0 + ROW * j as f64;
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                    LABEL - 6.0,
                    y + BAR_H - 4.0,
                    setup.label()
                );
                let Some(sp) = self.spread(*setup, m.key) else {
                    let why = match self.results.get(setup) {
                        Some(r) if r.skipped.is_some() => "not measured (tools not installed)",
                        Some(r) if r.failed_rounds().next().is_some() => "failed",
                        _ if matches!(setup, Setup::Vxlan | Setup::Veth) => "in the kernel",
                        _ => "not measured",
                    };
                    let _ = writeln!(
                        s,
                        r##"<text x="{LABEL}" y="{:.1}" fill="#888" font-style="italic">{why}</text>"##,
                        y + BAR_H - 4.0
                    );
                    continue;
                };
                let v = sp.median;
                let scale = |x: f64| if max > 0.0 { x / max * BAR_MAX } else { 0.0 };
                let w = scale(v);
                let _ = writeln!(
                    s,
                    r#"<rect x="{LABEL}" y="{y:.1}" width="{w:.1}" height="{BAR_H}" fill="{}"/>"#,
                    setup.color()
                );
                // The range over the rounds: a whisker from min to max across the bar, dark
                // on a white edge so that it shows on dark bars too.
                let mut text_x = LABEL + w + 5.0;
                let mut range = String::new();
                if show_range && sp.rounds > 1 {
                    let (x0, x1) = (LABEL + scale(sp.min), LABEL + scale(sp.max));
                    let (mid, top, bottom) = (y + BAR_H / 2.0, y + 3.0, y + BAR_H - 3.0);
                    let d = format!(
                        "M{x0:.1},{mid:.1}H{x1:.1}M{x0:.1},{top:.1}V{bottom:.1}M{x1:.1},{top:.1}V{bottom:.1}"
                    );
                    let _ = writeln!(
                        s,
                        r##"<path d="{d}" stroke="#ffffff" stroke-width="3.2" fill="none"/><path d="{d}" stroke="#222222" stroke-width="1.2" fill="none"/>"##
                    );
                    text_x = text_x.max(x1 + 5.0);
                    range = format!(" ({})", range_cell(sp, m.decimals, self.plan.rounds));
                }
                // grebe's bars also say how it compares with OVS and its ceiling.
                let mut notes = Vec::new();
                for &base in setup.baselines() {
                    if let Some(r) = self.ratio(*setup, base, m.key) {
                        notes.push(format!("{r:.2}× {}", base.label()));
                    }
                }
                let note = if notes.is_empty() {
                    String::new()
                } else {
                    format!(
                        r##"<tspan dx="10" fill="#555">{}</tspan>"##,
                        notes.join(" · ")
                    )
                };
                let _ = writeln!(
                    s,
                    r#"<text x="{text_x:.1}" y="{:.1}">{v:.*}{range}{note}</text>"#,
                    y + BAR_H - 4.0,
                    m.decimals
                );
            }
        }
        s.push_str("</svg>\n");
        s
    }
}

/// "2.61–3.02", with "(n=2)" when fewer than `rounds` rounds gave the figure.
pub(super) fn range_cell(sp: Spread, decimals: usize, rounds: usize) -> String {
    let mut cell = if sp.rounds > 1 {
        format!("{:.*}–{:.*}", decimals, sp.min, decimals, sp.max)
    } else {
        format!("{:.*}", decimals, sp.min)
    };
    if sp.rounds < rounds {
        let _ = write!(cell, " (n={})", sp.rounds);
    }
    cell
}

pub(super) fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_cells_name_short_counts() {
        let sp = Spread::of(&[2.61, 3.02, 2.83]).unwrap();
        assert_eq!(range_cell(sp, 2, 3), "2.61–3.02");
        let sp = Spread::of(&[2.61, 3.02]).unwrap();
        assert_eq!(range_cell(sp, 1, 3), "2.6–3.0 (n=2)");
        let sp = Spread::of(&[60.25]).unwrap();
        assert_eq!(range_cell(sp, 1, 3), "60.2 (n=1)");
    }

    #[test]
    fn the_table_shows_medians_ranges_and_ratios_of_medians() {
        let plan = Plan {
            setups: vec![Setup::Grebe, Setup::Ovs],
            rounds: 3,
            duration: 2,
            pings: 100,
            ping_interval: "0.005",
            lossless: false,
        };
        let grebe = [2.0, 3.0, 2.5].map(|v| outcome(&[("tcp1_gbps", v)], None));
        let ovs = [
            outcome(&[("tcp1_gbps", 1.0)], None),
            outcome(&[], Some("OVS's mgmt0 on b has MTU 1500, not 1458")),
            outcome(&[("tcp1_gbps", 0.5)], None),
        ];
        let results: BTreeMap<Setup, SetupResult> = [
            (Setup::Grebe, SetupResult::new(None, grebe.into())),
            (Setup::Ovs, SetupResult::new(None, ovs.into())),
        ]
        .into();
        let report = Report {
            plan: &plan,
            results: &results,
            debug_build: false,
            date: "2026-11-27 08:00 UTC".into(),
            kernel: "6.18".into(),
            cpus: 2,
            load_at_start: "1.00 1.00 1.00".into(),
            wall_s: 60.0,
        };
        // grebe's median 2.5 over OVS's median of its two good rounds, 0.75.
        assert_eq!(
            report.ratio(Setup::Grebe, Setup::Ovs, "tcp1_gbps"),
            Some(2.5 / 0.75)
        );
        let table = report.table();
        assert!(table.contains("3 rounds"), "{table}");
        let row = |title: &str| {
            table
                .lines()
                .find(|l| l.starts_with(&format!("| {title}")))
                .unwrap_or_else(|| panic!("no row {title:?} in\n{table}"))
                .split('|')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(row("TCP, 1 stream")[1..], ["2.50", "0.75", "3.33×"]);
        // Only measured figures get a row (and a bar group in the chart).
        assert!(!table.contains("TCP, 4 streams"), "{table}");
        assert!(!report.svg().contains("TCP, 4 streams"));
        assert_eq!(
            row("  min–max over 3 rounds")[1..],
            ["2.00–3.00", "0.50–1.00 (n=2)"]
        );
        assert!(
            table.contains("OVS: round 2 FAILED: OVS's mgmt0"),
            "{table}"
        );
        assert!(
            table.contains("OVS: figures from the 2 of 3 rounds"),
            "{table}"
        );
        assert!(table.contains("A range marked (n=2)"), "{table}");
        let json = report.json(Path::new("chart.svg"));
        assert_eq!(json["rounds"], 3);
        assert_eq!(json["results"]["ovs"]["status"], "partly failed");
        assert_eq!(json["results"]["ovs"]["metrics"]["tcp1_gbps"], 0.75);
        assert_eq!(
            json["results"]["grebe"]["rounds"][1]["metrics"]["tcp1_gbps"],
            3.0
        );
        assert_eq!(json["results"]["ovs"]["rounds"][1]["status"], "failed");
        assert_eq!(json["results"]["ovs"]["spread"]["tcp1_gbps"]["rounds"], 2);
        assert!(report.svg().contains("2.50 (2.00–3.00)"));
    }

    #[test]
    fn dates_are_civil() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(utc_date(t), "2024-02-29 12:34 UTC");
    }
}
