//! Timing statistics shared by the benchmarks.

use std::time::Duration;

/// The timings of one variant, one per round, in round order.
#[derive(Clone, Default)]
pub struct Samples(pub Vec<Duration>);

impl Samples {
    fn sorted(&self) -> Vec<Duration> {
        let mut times = self.0.clone();
        times.sort();
        times
    }

    pub fn median(&self) -> Duration {
        let times = self.sorted();
        times[times.len() / 2]
    }

    pub fn min(&self) -> Duration {
        self.sorted()[0]
    }

    /// The median of `self[i] / other[i]` over the rounds: variants measured side by side in
    /// the same round share the machine's slow and fast phases, so this ratio is the steadiest.
    pub fn paired_ratio(&self, other: &Samples) -> f64 {
        let mut ratios: Vec<f64> = self
            .0
            .iter()
            .zip(&other.0)
            .map(|(x, y)| ratio(*x, *y))
            .collect();
        ratios.sort_by(f64::total_cmp);
        ratios[ratios.len() / 2]
    }
}

pub fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}
