//! Rounds: their order, which count, and each figure's median and range over them.

use super::*;

/// The order of the setups in round `round` (from 0): as given in even rounds, reversed in odd
/// ones, so that no setup always runs first or last.
pub(super) fn round_order(setups: &[Setup], round: usize) -> Vec<Setup> {
    let mut order = setups.to_vec();
    if round % 2 == 1 {
        order.reverse();
    }
    order
}

/// One metric's figures over the rounds that count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Spread {
    /// The middle figure; with an even number of rounds, the mean of the two middle ones.
    pub(super) median: f64,
    pub(super) min: f64,
    pub(super) max: f64,
    /// How many rounds gave a figure.
    pub(super) rounds: usize,
}

impl Spread {
    /// `None` for no values.
    pub(super) fn of(values: &[f64]) -> Option<Spread> {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let (&min, &max) = (v.first()?, v.last()?);
        let mid = v.len() / 2;
        let median = if v.len() % 2 == 1 {
            v[mid]
        } else {
            (v[mid - 1] + v[mid]) / 2.0
        };
        Some(Spread {
            median,
            min,
            max,
            rounds: v.len(),
        })
    }
}

/// The rounds whose figures count: those that succeeded, or, when none did, all of them. A
/// failed round's figures are left out while others succeeded, since they may be skewed (its
/// whole-run CPU time misses the failed step); when nothing succeeded, they are all there is,
/// as in a single run.
pub(super) fn counted_rounds(rounds: &[Outcome]) -> Vec<&Outcome> {
    let ok: Vec<&Outcome> = rounds.iter().filter(|o| o.error.is_none()).collect();
    if ok.is_empty() {
        rounds.iter().collect()
    } else {
        ok
    }
}

/// Each metric's median and range over `rounds`; a metric no round measured is absent.
pub(super) fn summarize(rounds: &[&Outcome]) -> BTreeMap<&'static str, Spread> {
    METRICS
        .iter()
        .filter_map(|m| {
            let values: Vec<f64> = rounds
                .iter()
                .filter_map(|o| o.metrics.get(m.key).copied())
                .collect();
            Spread::of(&values).map(|s| (m.key, s))
        })
        .collect()
}

/// One setup over the whole run: every round's outcome and what the report makes of them.
pub(super) struct SetupResult {
    /// Why the setup was not measured at all (OVS not installed).
    pub(super) skipped: Option<String>,
    /// One outcome per round, in round order.
    pub(super) rounds: Vec<Outcome>,
    /// How many rounds the figures come from (see [`counted_rounds`]).
    pub(super) counted: usize,
    pub(super) summary: BTreeMap<&'static str, Spread>,
}

impl SetupResult {
    pub(super) fn new(skipped: Option<String>, rounds: Vec<Outcome>) -> SetupResult {
        let counted = counted_rounds(&rounds);
        SetupResult {
            skipped,
            counted: counted.len(),
            summary: summarize(&counted),
            rounds,
        }
    }

    pub(super) fn failed_rounds(&self) -> impl Iterator<Item = (usize, &str)> {
        self.rounds
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.error.as_deref().map(|e| (i + 1, e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_an_odd_count_is_the_middle_value() {
        let sp = Spread::of(&[3.02, 2.61, 2.83]).unwrap();
        assert_eq!(
            sp,
            Spread {
                median: 2.83,
                min: 2.61,
                max: 3.02,
                rounds: 3
            }
        );
    }

    #[test]
    fn spread_of_an_even_count_averages_the_middle_two() {
        let sp = Spread::of(&[4.0, 1.0, 10.0, 2.0]).unwrap();
        assert_eq!(sp.median, 3.0);
        assert_eq!((sp.min, sp.max, sp.rounds), (1.0, 10.0, 4));
        assert_eq!(Spread::of(&[5.0, 7.0]).unwrap().median, 6.0);
    }

    #[test]
    fn spread_of_one_value_or_none() {
        let sp = Spread::of(&[0.84]).unwrap();
        assert_eq!(
            (sp.median, sp.min, sp.max, sp.rounds),
            (0.84, 0.84, 0.84, 1)
        );
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn rounds_alternate_order() {
        let setups = [Setup::Grebe, Setup::Ovs, Setup::Veth];
        assert_eq!(round_order(&setups, 0), setups.to_vec());
        assert_eq!(
            round_order(&setups, 1),
            vec![Setup::Veth, Setup::Ovs, Setup::Grebe]
        );
        assert_eq!(round_order(&setups, 2), setups.to_vec());
    }

    #[test]
    fn failed_rounds_are_left_out_when_others_succeeded() {
        let rounds = [
            outcome(&[("tcp1_gbps", 2.0), ("rss_mb", 5.0)], None),
            // Failed part-way: its one figure is an outlier that must not count.
            outcome(&[("tcp1_gbps", 0.1)], Some("tcp4: iperf3 exited")),
            outcome(&[("tcp1_gbps", 3.0), ("rss_mb", 6.0)], None),
        ];
        let counted = counted_rounds(&rounds);
        assert_eq!(counted.len(), 2);
        let summary = summarize(&counted);
        let tcp1 = summary["tcp1_gbps"];
        assert_eq!(
            (tcp1.median, tcp1.min, tcp1.max, tcp1.rounds),
            (2.5, 2.0, 3.0, 2)
        );
        assert_eq!(summary["rss_mb"].median, 5.5);
        assert!(!summary.contains_key("tcp4_gbps"));
    }

    #[test]
    fn when_every_round_failed_their_partial_figures_count() {
        let rounds = [
            outcome(&[("tcp1_gbps", 2.0)], Some("udp64: no JSON")),
            outcome(&[], Some("the hosts cannot reach each other")),
            outcome(&[("tcp1_gbps", 4.0), ("rtt_p99_us", 300.0)], Some("ping")),
        ];
        let counted = counted_rounds(&rounds);
        assert_eq!(counted.len(), 3);
        let summary = summarize(&counted);
        assert_eq!(summary["tcp1_gbps"].median, 3.0);
        assert_eq!(summary["tcp1_gbps"].rounds, 2);
        assert_eq!(summary["rtt_p99_us"].rounds, 1);
    }
}
