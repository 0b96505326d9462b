//! The small-frame rate a setup carries without loss (RFC 2544's throughput, with a tolerance):
//! a search over offered rates, each trial paced by iperf3.
//!
//! The flood (`-b 0`) measures how much a switch pushes while the sender and receiver fight it
//! for two cores; at the rate found here the receiver keeps up, so what limits the figure is
//! the whole path's per-frame cost, switch included, not who wins the scheduler.

use super::*;

/// The share of frames a trial may lose and still pass. RFC 2544 asks for none; one in a
/// thousand keeps a single scheduling hiccup on a shared machine from failing a rate.
pub(super) const LOSS_TOLERANCE_PCT: f64 = 0.1;

/// One offered rate and what came of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Trial {
    pub(super) offered_fps: f64,
    pub(super) loss_pct: f64,
}

impl Trial {
    fn passed(self) -> bool {
        self.loss_pct <= LOSS_TOLERANCE_PCT
    }
}

/// Bisects the rates in `(0, ceiling_fps]`, `steps` trials, each run by `trial`; returns the
/// highest rate that passed (0 when none did) and every trial in order. The ceiling is tried
/// first: a setup that carries the whole flood needs no search.
pub(super) fn search(
    ceiling_fps: f64,
    steps: usize,
    mut trial: impl FnMut(f64) -> anyhow::Result<Trial>,
) -> anyhow::Result<(f64, Vec<Trial>)> {
    let mut trials = Vec::with_capacity(steps);
    let (mut lo, mut hi) = (0.0, ceiling_fps);
    let mut rate = ceiling_fps;
    for _ in 0..steps {
        let t = trial(rate)?;
        trials.push(t);
        if t.passed() {
            lo = rate;
            if rate >= hi {
                break;
            }
        } else {
            hi = rate;
        }
        rate = (lo + hi) / 2.0;
    }
    Ok((lo, trials))
}

/// Finds the highest 64-byte frame rate the setup carries losing at most
/// [`LOSS_TOLERANCE_PCT`], below the rate the flood offered.
pub(super) fn measure_lossless_rate(
    lab: &Lab,
    ends: &Ends,
    plan: &Plan,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let Some(ceiling) = out
        .detail
        .get("udp64_offered_kfps")
        .and_then(Value::as_f64)
        .map(|k| k * 1e3)
        .filter(|c| *c > 0.0)
    else {
        bail!("no flood rate to search below (the 64-byte flood did not run)");
    };
    // Short trials: the search needs several, and a rate the path cannot hold shows within a
    // second or two.
    let (secs, steps) = if plan.duration <= 2 { (1, 4) } else { (2, 7) };
    let payload = UDP_PAYLOAD.to_string();
    let (rate, trials) = search(ceiling, steps, |fps| {
        // iperf3 paces application bytes: frames a second times the payload's bits.
        let bps = format!("{}", (fps * UDP_PAYLOAD as f64 * 8.0).round() as u64);
        let v = iperf(lab, ends, secs, &["-u", "-l", &payload, "-b", &bps])?;
        let received = &v["end"]["sum_received"];
        let (Some(packets), Some(lost)) = (
            received["packets"].as_f64(),
            received["lost_packets"].as_f64(),
        ) else {
            bail!("iperf3 -u -b {bps}: no end.sum_received packets and lost_packets");
        };
        let loss_pct = if packets > 0.0 {
            100.0 * lost / packets
        } else {
            100.0
        };
        Ok(Trial {
            offered_fps: fps,
            loss_pct,
        })
    })?;
    out.metrics.insert("udp64_lossless_kfps", rate / 1e3);
    out.detail.insert(
        "udp64_lossless_trials".into(),
        json!(
            trials
                .iter()
                .map(|t| json!({
                    "offered_kfps": round(t.offered_fps / 1e3, 1),
                    "loss_pct": round(t.loss_pct, 3),
                }))
                .collect::<Vec<_>>()
        ),
    );
    eprintln!(
        "   {SMALL_FRAME}-byte frames: {:.1} k/s at most {LOSS_TOLERANCE_PCT}% lost ({} trials of {secs} s)",
        rate / 1e3,
        trials.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A path that loses frames above `capacity`.
    fn path(capacity: f64) -> impl FnMut(f64) -> anyhow::Result<Trial> {
        move |fps| {
            Ok(Trial {
                offered_fps: fps,
                loss_pct: if fps <= capacity {
                    0.0
                } else {
                    100.0 * (fps - capacity) / fps
                },
            })
        }
    }

    #[test]
    fn bisection_closes_in_on_the_capacity_from_below() {
        let (rate, trials) = search(100_000.0, 7, path(61_000.0)).unwrap();
        assert_eq!(trials.len(), 7);
        assert!(rate <= 61_000.0, "{rate} passed above the capacity");
        assert!(61_000.0 - rate < 100_000.0 / 64.0, "{rate} too far below");
        assert!(!trials[0].passed(), "the ceiling is tried first");
    }

    #[test]
    fn a_path_that_carries_the_ceiling_takes_one_trial() {
        let (rate, trials) = search(50_000.0, 7, path(80_000.0)).unwrap();
        assert_eq!((rate, trials.len()), (50_000.0, 1));
    }

    #[test]
    fn a_path_that_loses_everywhere_reports_zero() {
        let (rate, trials) = search(50_000.0, 4, |fps| {
            Ok(Trial {
                offered_fps: fps,
                loss_pct: 5.0,
            })
        })
        .unwrap();
        assert_eq!((rate, trials.len()), (0.0, 4));
        assert_eq!(trials[3].offered_fps, 50_000.0 / 8.0);
    }

    #[test]
    fn a_loss_within_the_tolerance_passes() {
        let t = Trial {
            offered_fps: 1.0,
            loss_pct: LOSS_TOLERANCE_PCT,
        };
        assert!(t.passed());
        assert!(
            !Trial {
                loss_pct: LOSS_TOLERANCE_PCT * 1.01,
                ..t
            }
            .passed()
        );
    }
}
