//! Monitoring history: every sample for a day, five-minute summaries for a month (both
//! configurable), pruned by the daily cleanup job.

use super::sql::args;
use super::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// What the monitor records each interval. Rates and quantiles cover the interval since the
/// previous sample; `None` means "nothing to measure" (no request, no post), not zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Sample {
    /// When, ms since epoch.
    pub ts: i64,
    /// This process's CPU, % of one core.
    pub cpu_process_pct: f64,
    /// The machine's CPU, % of all cores.
    pub cpu_system_pct: f64,
    /// This process's resident memory, MiB.
    pub memory_process_mib: f64,
    /// Memory in use on the machine (or in its cgroup, when that is smaller), %.
    pub memory_system_pct: f64,
    /// Space used on the data directory's file system, %.
    pub disk_used_pct: f64,
    /// API answers in the interval.
    pub api_requests: u64,
    /// API p95 latency, seconds.
    pub api_p95_secs: Option<f64>,
    /// LLM calls in the interval.
    pub llm_calls: u64,
    /// Of which failed (any outcome but a success).
    #[serde(default)]
    pub llm_failed: u64,
    /// Failed LLM calls, % of the interval's calls; `None` without a call.
    #[serde(default)]
    pub llm_error_pct: Option<f64>,
    /// LLM p95 latency, seconds.
    pub llm_p95_secs: Option<f64>,
    /// Posts written in the interval.
    pub posts: u64,
    /// Mean time to write a post, seconds.
    pub generation_secs: Option<f64>,
    /// Job attempts finished per minute.
    pub jobs_per_min: f64,
    /// Failed operations (API 5xx, failed job attempts, failed LLM calls) over the error-rate
    /// window, %.
    pub error_rate_pct: Option<f64>,
    /// Jobs waiting (all queues); `None` while the queue is unreachable.
    pub queue_waiting: Option<u64>,
    /// Jobs running (all queues).
    pub queue_active: Option<u64>,
    /// Jobs waiting for a retry or a start time (all queues).
    pub queue_delayed: Option<u64>,
    /// Jobs that failed for good (all queues).
    pub queue_failed: Option<u64>,
    /// Operations (API answers, job attempts, LLM calls) in the interval.
    pub operations: u64,
    /// Of which failed (API 5xx, failed job attempts, failed LLM calls).
    pub failed_operations: u64,
}

impl Sample {
    /// The five-minute summary of `samples` stamped `ts`: means of levels and latencies, sums
    /// of counts, the last queue depths.
    pub fn summarize(ts: i64, samples: &[Sample]) -> Sample {
        let n = samples.len().max(1) as f64;
        let mean = |f: fn(&Sample) -> f64| samples.iter().map(f).sum::<f64>() / n;
        let mean_some = |f: fn(&Sample) -> Option<f64>| {
            let v: Vec<f64> = samples.iter().filter_map(f).collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        let sum = |f: fn(&Sample) -> u64| samples.iter().map(f).sum::<u64>();
        let last = |f: fn(&Sample) -> Option<u64>| samples.iter().rev().find_map(f);
        Sample {
            ts,
            cpu_process_pct: mean(|s| s.cpu_process_pct),
            cpu_system_pct: mean(|s| s.cpu_system_pct),
            memory_process_mib: mean(|s| s.memory_process_mib),
            memory_system_pct: mean(|s| s.memory_system_pct),
            disk_used_pct: mean(|s| s.disk_used_pct),
            api_requests: sum(|s| s.api_requests),
            api_p95_secs: mean_some(|s| s.api_p95_secs),
            llm_calls: sum(|s| s.llm_calls),
            llm_failed: sum(|s| s.llm_failed),
            llm_error_pct: {
                let (calls, failed) = (sum(|s| s.llm_calls), sum(|s| s.llm_failed));
                (calls > 0).then(|| failed.min(calls) as f64 * 100.0 / calls as f64)
            },
            llm_p95_secs: mean_some(|s| s.llm_p95_secs),
            posts: sum(|s| s.posts),
            generation_secs: mean_some(|s| s.generation_secs),
            jobs_per_min: mean(|s| s.jobs_per_min),
            error_rate_pct: mean_some(|s| s.error_rate_pct),
            queue_waiting: last(|s| s.queue_waiting),
            queue_active: last(|s| s.queue_active),
            queue_delayed: last(|s| s.queue_delayed),
            queue_failed: last(|s| s.queue_failed),
            operations: sum(|s| s.operations),
            failed_operations: sum(|s| s.failed_operations),
        }
    }
}

/// Resolution of the raw samples (stored with the key 0).
const RAW: i64 = 0;
/// Width of a summary bucket, ms.
pub const ROLLUP_MS: i64 = 300_000;

impl Store {
    /// Stores a sample and refreshes the summary of its five-minute bucket.
    pub async fn record_sample(&self, sample: Sample) -> Result<(), StoreError> {
        let json = serde_json::to_string(&sample).expect("samples serialise");
        self.transaction(move |tx| {
            let upsert = "INSERT INTO metric_samples (resolution, ts, sample) VALUES (?1, ?2, ?3)
                          ON CONFLICT (resolution, ts) DO UPDATE SET sample = excluded.sample";
            tx.execute(upsert, args![RAW, sample.ts, json])?;
            let bucket = sample.ts - sample.ts.rem_euclid(ROLLUP_MS);
            let in_bucket: Vec<Sample> = tx
                .query(
                    "SELECT sample FROM metric_samples WHERE resolution = ?1 AND ts >= ?2 AND ts < ?3",
                    args![RAW, bucket, bucket + ROLLUP_MS],
                )?
                .iter()
                .filter_map(|r| r.get::<String>(0).ok().and_then(|t| serde_json::from_str(&t).ok()))
                .collect();
            let summary = serde_json::to_string(&Sample::summarize(bucket, &in_bucket))
                .expect("samples serialise");
            tx.execute(upsert, args![ROLLUP_MS, bucket, summary])?;
            Ok(())
        })
        .await
    }

    /// Samples since `since_ms`, oldest first: raw ones, or five-minute summaries when
    /// `summaries` (for windows longer than the raw history).
    pub async fn samples(&self, since_ms: i64, summaries: bool) -> Result<Vec<Sample>, StoreError> {
        let resolution = if summaries { ROLLUP_MS } else { RAW };
        self.call(move |c| {
            Ok(c.query(
                "SELECT sample FROM metric_samples WHERE resolution = ?1 AND ts >= ?2 ORDER BY ts",
                args![resolution, since_ms],
            )?
            .iter()
            .filter_map(|r| {
                r.get::<String>(0)
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok())
            })
            .collect())
        })
        .await
    }

    /// Deletes raw samples older than `raw_before_ms` and summaries older than
    /// `rollup_before_ms`. Returns rows removed.
    pub async fn prune_samples(
        &self,
        raw_before_ms: i64,
        rollup_before_ms: i64,
    ) -> Result<u64, StoreError> {
        self.call(move |c| {
            let sql = "DELETE FROM metric_samples WHERE resolution = ?1 AND ts < ?2";
            let a = c.execute(sql, args![RAW, raw_before_ms])?;
            let b = c.execute(sql, args![ROLLUP_MS, rollup_before_ms])?;
            Ok(a + b)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn samples_roll_up_into_five_minute_means_and_prune_by_age() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(crate::db::Db::open(&dir.path().join("s.db")).unwrap())
            .await
            .unwrap();
        let base = 1_800_000_000_000 - 1_800_000_000_000 % ROLLUP_MS;
        // 40 samples 15 s apart: two full buckets of 20.
        for i in 0..40 {
            let s = Sample {
                ts: base + i * 15_000,
                memory_system_pct: if i < 20 { 50.0 } else { 70.0 },
                api_requests: 3,
                api_p95_secs: (i % 2 == 0).then_some(0.2),
                ..Sample::default()
            };
            store.record_sample(s).await.unwrap();
        }
        assert_eq!(store.samples(base, false).await.unwrap().len(), 40);
        let rolled = store.samples(base, true).await.unwrap();
        assert_eq!(rolled.len(), 2);
        assert_eq!(rolled[0].ts, base);
        assert!((rolled[0].memory_system_pct - 50.0).abs() < 1e-9);
        assert!((rolled[1].memory_system_pct - 70.0).abs() < 1e-9);
        assert_eq!(rolled[0].api_requests, 60, "counts add up");
        assert_eq!(
            rolled[0].api_p95_secs,
            Some(0.2),
            "means skip empty intervals"
        );
        let removed = store
            .prune_samples(base + 20 * 15_000, base + ROLLUP_MS)
            .await
            .unwrap();
        assert_eq!(removed, 20 + 1);
        assert_eq!(store.samples(0, false).await.unwrap().len(), 20);
        assert_eq!(store.samples(0, true).await.unwrap().len(), 1);
    }
}
