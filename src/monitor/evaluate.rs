//! Sampling and evaluation: the sample of each cycle, thresholds and trends.

use super::*;
use crate::llm::breaker::LATENCY_BUCKETS;
use crate::ops::alert::Severity;
use crate::ops::sample::Sample;
use crate::ops::stats::HistogramSnapshot;
use crate::ops::threshold::{Level, Threshold};
use crate::orchestrator::Orchestrator;
use crate::queue::{Queue, names};
use std::time::Duration;
use tokio::time::Instant;

impl Monitor {
    pub(super) async fn sample(&mut self) -> Sample {
        let sys = self.sampler.read();
        self.last_system = sys;
        let now = Instant::now();
        let stats = self.ops.stats().snapshot();
        let llm = llm_histogram(&self.orchestrator);
        let llm_failed_total = llm_failures(&self.orchestrator);
        let (d, dl, llm_failed, elapsed) = match &self.previous {
            Some((s, l, f, at)) => (
                stats.since(s),
                llm.since(l),
                llm_failed_total.saturating_sub(*f),
                now.duration_since(*at),
            ),
            None => (
                stats.clone(),
                llm.clone(),
                llm_failed_total,
                self.ops.config().interval,
            ),
        };
        self.previous = Some((stats, llm, llm_failed_total, now));
        // Provider calls are operations too: a provider failing every call while the API
        // answers its polls must read as failing work, not as a fraction of a percent.
        let (operations, failed) = d.operations();
        let (operations, failed) = (operations + dl.count(), failed + llm_failed);
        let mut sample = Sample {
            ts: crate::db::now_ms(),
            cpu_process_pct: sys.cpu_process_pct,
            cpu_system_pct: sys.cpu_system_pct,
            memory_process_mib: sys.memory_process_bytes as f64 / (1024.0 * 1024.0),
            memory_system_pct: sys.memory_system_pct,
            disk_used_pct: sys.disk_used_pct,
            api_requests: d.api.count(),
            api_p95_secs: d.api.quantile(0.95),
            llm_calls: dl.count(),
            llm_failed,
            llm_error_pct: (dl.count() > 0)
                .then(|| llm_failed.min(dl.count()) as f64 * 100.0 / dl.count() as f64),
            llm_p95_secs: dl.quantile(0.95),
            posts: d.generation.count(),
            generation_secs: d.generation.mean(),
            jobs_per_min: (d.jobs_ok + d.jobs_failed) as f64 * 60.0
                / elapsed.as_secs_f64().max(1e-3),
            operations,
            failed_operations: failed,
            ..Sample::default()
        };
        // One bound for all queues, and none asked after a failure: a down backend must not
        // stretch the cycle (the queue check reports it).
        let counts = tokio::time::timeout(Duration::from_secs(2), async {
            let mut depth = [0u64; 4];
            for name in names::ALL {
                let c = self.queue.counts(name).await.ok()?;
                depth[0] += c.waiting;
                depth[1] += c.active;
                depth[2] += c.delayed;
                depth[3] += c.failed;
            }
            Some(depth)
        })
        .await
        .ok()
        .flatten();
        if let Some(depth) = counts {
            sample.queue_waiting = Some(depth[0]);
            sample.queue_active = Some(depth[1]);
            sample.queue_delayed = Some(depth[2]);
            sample.queue_failed = Some(depth[3]);
        }
        let keep = self.ops.config().trend_window;
        self.window.push_back(sample.clone());
        while self
            .window
            .front()
            .is_some_and(|s| sample.ts - s.ts > keep.as_millis() as i64)
        {
            self.window.pop_front();
        }
        sample.error_rate_pct = self.error_rate(sample.ts);
        if let Some(last) = self.window.back_mut() {
            last.error_rate_pct = sample.error_rate_pct;
        }
        self.ops.state().latest = Some(sample.clone());
        sample
    }

    /// Failed operations over the error window, if there were enough operations to tell.
    pub(super) fn error_rate(&self, now_ms: i64) -> Option<f64> {
        let window = self.ops.config().error_window.as_millis() as i64;
        let (ops, failed) = self
            .window
            .iter()
            .filter(|s| now_ms - s.ts < window)
            .fold((0, 0), |(o, f), s| {
                (o + s.operations, f + s.failed_operations)
            });
        (ops >= self.ops.config().error_min_operations && ops > 0)
            .then(|| failed as f64 * 100.0 / ops as f64)
    }

    pub(super) fn threshold(&self, metric: &str) -> Threshold {
        let c = self.ops.config();
        match metric {
            "memory" => c.memory,
            "cpu" => c.cpu,
            "response" => c.response,
            "generation" => c.generation,
            "error_rate" => c.error_rate,
            _ => c.disk,
        }
    }

    /// Thresholds with hysteresis, and trends of the levels that creep.
    pub(super) fn evaluate(&mut self, sample: &Sample, monitoring: bool) {
        let damping = self.ops.config().damping;
        for metric in METRICS {
            let value = metric_value(sample, metric);
            let Some(v) = value else { continue };
            let t = self.threshold(metric);
            let changed = self
                .levels
                .entry(metric)
                .or_default()
                .observe(v, &t, &damping);
            // Memory and disk levels drive self-healing even without monitoring alerts.
            if !monitoring {
                continue;
            }
            let (title, unit) = describe(metric);
            let now = Instant::now();
            let mut s = self.ops.state();
            match changed {
                Some(Level::Ok) => {
                    s.alerter
                        .resolve(metric, &format!("{title}: back to {v:.1}{unit}"));
                }
                Some(level) => {
                    let (severity, bound) = match level {
                        Level::Critical => (Severity::Critical, t.critical),
                        _ => (Severity::Warning, t.warn),
                    };
                    s.alerter.raise(
                        metric,
                        severity,
                        title,
                        &format!(
                            "{v:.1}{unit} ({} from {bound}{unit})",
                            severity.label().to_lowercase()
                        ),
                        now,
                    );
                }
                None => {}
            }
        }
        if !monitoring {
            return;
        }
        let rule = self.ops.config().trend;
        for metric in ["memory", "disk", "response", "generation"] {
            let bound = self.threshold(metric).warn;
            if matches!(metric, "memory" | "disk") && bound > 100.0 {
                continue; // the operator turned this alert off
            }
            let points: Vec<(f64, f64)> = self
                .window
                .iter()
                .filter_map(|s| metric_value(s, metric).map(|v| (s.ts as f64 / 1000.0, v)))
                .collect();
            let forecast = crate::ops::trend::forecast(&points, bound, &rule);
            let changed = self
                .trends
                .entry(metric)
                .or_default()
                .observe(forecast.is_some(), &self.ops.config().damping);
            let key = format!("trend:{metric}");
            let (title, unit) = describe(metric);
            let mut s = self.ops.state();
            match (changed, forecast) {
                (Some(true), Some(f)) => s.alerter.raise(
                    &key,
                    Severity::Warning,
                    &format!("{title}: rising"),
                    &format!(
                        "{:+.2}{unit} per hour; reaches the warning bound {bound}{unit} in about {:.1} h",
                        f.per_hour,
                        f.eta.as_secs_f64() / 3600.0
                    ),
                    Instant::now(),
                ),
                (Some(false), _) => s.alerter.resolve(&key, "no longer rising toward its bound"),
                _ => {}
            }
        }
    }
}

pub(super) fn metric_value(s: &Sample, metric: &str) -> Option<f64> {
    match metric {
        "memory" => Some(s.memory_system_pct),
        "cpu" => Some(s.cpu_system_pct),
        "response" => s.api_p95_secs,
        "generation" => s.generation_secs,
        "error_rate" => s.error_rate_pct,
        _ => (s.disk_used_pct > 0.0).then_some(s.disk_used_pct),
    }
}

pub(super) fn describe(metric: &str) -> (&'static str, &'static str) {
    match metric {
        "memory" => ("Memory in use", " %"),
        "cpu" => ("CPU in use", " %"),
        "response" => ("API response time (p95)", " s"),
        "generation" => ("Time to write a post", " s"),
        "error_rate" => ("Error rate", " %"),
        _ => ("Data disk in use", " %"),
    }
}

/// The providers' call latencies as one histogram.
/// Provider calls that failed since start (every outcome but `ok`), over all providers.
fn llm_failures(orchestrator: &Orchestrator) -> u64 {
    orchestrator
        .router()
        .generator
        .providers()
        .iter()
        .map(|p| p.totals().outcomes[1..].iter().sum::<u64>())
        .sum()
}

pub(super) fn llm_histogram(orchestrator: &Orchestrator) -> HistogramSnapshot {
    let mut counts = vec![0u64; LATENCY_BUCKETS.len() + 1];
    let mut sum = 0.0;
    for p in orchestrator.router().generator.providers() {
        let t = p.totals();
        let total: u64 = t.outcomes.iter().sum();
        let bucketed: u64 = t.buckets.iter().sum();
        for (c, b) in counts.iter_mut().zip(t.buckets) {
            *c += b;
        }
        counts[LATENCY_BUCKETS.len()] += total.saturating_sub(bucketed);
        sum += t.latency_sum;
    }
    HistogramSnapshot {
        bounds: &LATENCY_BUCKETS,
        counts,
        sum_secs: sum,
    }
}
