//! Counters the hot paths bump (an atomic add each) and the monitor reads once per interval.
//!
//! Each interval's figures are differences between two [`StatsSnapshot`]s, so nothing is ever
//! reset and `/metrics` can expose the same numbers as monotonic counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the API latency buckets.
pub const API_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Upper bounds (seconds) of the post generation buckets.
pub const GENERATION_BUCKETS: [f64; 10] =
    [1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0];

/// A fixed-bucket histogram of durations. Lock-free: one `fetch_add` per bucket hit.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One more than `bounds`: the last counts everything above the largest bound.
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// An empty histogram over `bounds` (ascending, seconds).
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = self.bounds.partition_point(|b| *b < secs);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            d.as_micros().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }

    /// The counts so far.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds: self.bounds,
            counts: self
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            sum_secs: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

/// A histogram's counts at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Bucket upper bounds, seconds.
    pub bounds: &'static [f64],
    /// Per bucket (not cumulative), one more than `bounds`.
    pub counts: Vec<u64>,
    /// Sum of all observations, seconds.
    pub sum_secs: f64,
}

impl HistogramSnapshot {
    /// Observations in total.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// What was observed since `earlier`.
    pub fn since(&self, earlier: &HistogramSnapshot) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds: self.bounds,
            counts: self
                .counts
                .iter()
                .zip(&earlier.counts)
                .map(|(a, b)| a.saturating_sub(*b))
                .collect(),
            sum_secs: (self.sum_secs - earlier.sum_secs).max(0.0),
        }
    }

    /// The `q` quantile (0–1), interpolated within its bucket; `None` when empty. Above the
    /// largest bound it answers that bound: the histogram cannot say more.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
        let mut seen = 0.0;
        for (i, n) in self.counts.iter().enumerate() {
            let n = *n as f64;
            if n > 0.0 && seen + n >= rank {
                let Some(&hi) = self.bounds.get(i) else {
                    return self.bounds.last().copied();
                };
                let lo = if i == 0 { 0.0 } else { self.bounds[i - 1] };
                return Some(lo + (hi - lo) * (rank - seen) / n);
            }
            seen += n;
        }
        self.bounds.last().copied()
    }

    /// Mean observation, seconds; `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        let n = self.count();
        (n > 0).then(|| self.sum_secs / n as f64)
    }
}

/// Counters shared by the API, the job router and the pipeline.
#[derive(Debug)]
pub struct Stats {
    /// API request latency (every route but `/metrics`, which scrapers poll).
    pub api: Histogram,
    /// API answers with a 5xx status.
    pub api_errors: AtomicU64,
    /// Wall time to write one post, from first prompt to stored post.
    pub generation: Histogram,
    /// Job attempts that succeeded.
    pub jobs_ok: AtomicU64,
    /// Job attempts that failed (retryable or not).
    pub jobs_failed: AtomicU64,
    /// Why generation is stopped for the day (budget or post cap), while it is.
    pub budget_stop: std::sync::Mutex<Option<String>>,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            api: Histogram::new(&API_BUCKETS),
            api_errors: AtomicU64::new(0),
            generation: Histogram::new(&GENERATION_BUCKETS),
            jobs_ok: AtomicU64::new(0),
            jobs_failed: AtomicU64::new(0),
            budget_stop: std::sync::Mutex::new(None),
        }
    }
}

impl Stats {
    /// Records one API answer.
    pub fn api_request(&self, latency: Duration, status: u16) {
        self.api.observe(latency);
        if status >= 500 {
            self.api_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sets or clears the reason generation is stopped for the day.
    pub fn set_budget_stop(&self, reason: Option<String>) {
        *self.budget_stop.lock().expect("budget flag") = reason;
    }

    /// Why generation is stopped for the day, if it is.
    pub fn budget_stop(&self) -> Option<String> {
        self.budget_stop.lock().expect("budget flag").clone()
    }

    /// Records one job attempt's outcome.
    pub fn job_finished(&self, ok: bool) {
        let c = if ok { &self.jobs_ok } else { &self.jobs_failed };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Everything at this moment.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            api: self.api.snapshot(),
            api_errors: self.api_errors.load(Ordering::Relaxed),
            generation: self.generation.snapshot(),
            jobs_ok: self.jobs_ok.load(Ordering::Relaxed),
            jobs_failed: self.jobs_failed.load(Ordering::Relaxed),
        }
    }
}

/// [`Stats`] at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsSnapshot {
    /// API latency.
    pub api: HistogramSnapshot,
    /// API 5xx answers.
    pub api_errors: u64,
    /// Post generation time.
    pub generation: HistogramSnapshot,
    /// Successful job attempts.
    pub jobs_ok: u64,
    /// Failed job attempts.
    pub jobs_failed: u64,
}

impl StatsSnapshot {
    /// What happened since `earlier`.
    pub fn since(&self, earlier: &StatsSnapshot) -> StatsSnapshot {
        StatsSnapshot {
            api: self.api.since(&earlier.api),
            api_errors: self.api_errors.saturating_sub(earlier.api_errors),
            generation: self.generation.since(&earlier.generation),
            jobs_ok: self.jobs_ok.saturating_sub(earlier.jobs_ok),
            jobs_failed: self.jobs_failed.saturating_sub(earlier.jobs_failed),
        }
    }

    /// Operations (API answers and job attempts) and how many of them failed.
    pub fn operations(&self) -> (u64, u64) {
        (
            self.api.count() + self.jobs_ok + self.jobs_failed,
            self.api_errors + self.jobs_failed,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_within_buckets_and_windows_subtract() {
        let h = Histogram::new(&API_BUCKETS);
        for _ in 0..90 {
            h.observe(Duration::from_millis(3));
        }
        for _ in 0..10 {
            h.observe(Duration::from_millis(700));
        }
        let first = h.snapshot();
        assert_eq!(first.count(), 100);
        let p50 = first.quantile(0.5).unwrap();
        assert!(p50 > 0.0 && p50 <= 0.005, "{p50}");
        let p99 = first.quantile(0.99).unwrap();
        assert!(p99 > 0.5 && p99 <= 1.0, "{p99}");
        h.observe(Duration::from_secs(60));
        let window = h.snapshot().since(&first);
        assert_eq!(window.count(), 1);
        assert_eq!(
            window.quantile(0.95),
            Some(30.0),
            "capped at the largest bound"
        );
        assert!((window.mean().unwrap() - 60.0).abs() < 1e-6);
        assert_eq!(Histogram::new(&API_BUCKETS).snapshot().quantile(0.5), None);
    }

    #[test]
    fn operations_count_api_errors_and_failed_jobs() {
        let s = Stats::default();
        let before = s.snapshot();
        s.api_request(Duration::from_millis(1), 200);
        s.api_request(Duration::from_millis(1), 503);
        s.job_finished(true);
        s.job_finished(false);
        assert_eq!(s.snapshot().since(&before).operations(), (4, 2));
    }
}
