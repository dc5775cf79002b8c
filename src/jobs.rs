//! Job types, their queues and their handler.
//!
//! | job | queue | does |
//! |---|---|---|
//! | `content_generation` | `content-generation` | writes `count` posts ([`crate::generate`]) |
//! | `blog_publish` | `blog-publishing` | publishes one post to every target ([`crate::publish`]) |
//! | `cleanup` | `system-maintenance` | retention, old runs, database upkeep |
//! | `health_check` | `system-maintenance` | checks provider and targets, caches the result |
//! | `alert_delivery` | `system-maintenance` | retries an alert a channel did not take ([`crate::ops`]) |

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::RwLock;

use crate::config::Config;
use crate::generate::{GenerateRequest, Generator};
use crate::publish::{Publisher, publish_post_to};
use crate::queue::worker::{ActiveJob, JobHandler};
use crate::queue::{Backoff, JobError, JobOptions, NewJob, Queue, QueueBackend, names};
use crate::store::Store;

pub use crate::queue::names::JobType;

/// A `content_generation` job for `request`, with the configured attempts.
pub fn generation_job(request: &GenerateRequest, attempts: u32) -> NewJob {
    NewJob::new(
        JobType::ContentGeneration.name(),
        serde_json::to_value(request).expect("request serialises"),
    )
    .with_options(JobOptions {
        attempts,
        backoff: Backoff::Exponential {
            base_ms: 30_000,
            max_ms: 30 * 60_000,
            jitter: 0.2,
        },
        ..JobOptions::default()
    })
}

/// Result of the last health check job, shown by `/api/automation/health`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealthSnapshot {
    /// When, ms since epoch.
    pub checked_at: i64,
    /// Provider names and `ok` or the error, in fallback order.
    pub providers: Vec<(String, Result<(), String>)>,
    /// Target name and `ok` or the error.
    pub targets: Vec<(String, Result<(), String>)>,
}

/// What the last health check said of provider `name`.
pub fn probe_of<'a>(
    snapshot: Option<&'a HealthSnapshot>,
    name: &str,
) -> crate::llm::status::Probe<'a> {
    use crate::llm::status::Probe;
    match snapshot.and_then(|h| h.providers.iter().find(|(n, _)| n == name)) {
        None => Probe::Unchecked,
        Some((_, Ok(()))) => Probe::Passed,
        Some((_, Err(e))) => Probe::Failed(e),
    }
}

/// Shared cache of the last health check.
pub type HealthCache = Arc<RwLock<Option<HealthSnapshot>>>;

#[derive(Deserialize)]
struct PublishPayload {
    post_id: String,
}

/// Runs every job type.
#[derive(Debug, Clone)]
pub struct JobRouter {
    /// Writes posts.
    pub generator: Generator,
    /// Publishing targets.
    pub publishers: Arc<Vec<Publisher>>,
    /// Asks for posts' generated images (`[images.generate]`; `None`: the card only).
    pub images: Option<crate::images::generated::ImageGenerator>,
    /// The store.
    pub store: Store,
    /// The queue.
    pub queue: QueueBackend,
    /// The configuration.
    pub config: Arc<Config>,
    /// Last health check.
    pub health: HealthCache,
    /// Counters, alert channels.
    pub ops: crate::ops::Ops,
    /// When the reconciliation last ran, ms since epoch (it runs with the health check every
    /// [`RECONCILE_EVERY`], and at once when a target recovers).
    pub last_reconcile: Arc<std::sync::atomic::AtomicI64>,
}

/// How often the reconciliation runs at the least.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(5 * 60);

/// A target's failed health check counts as "down" for publishing this long: publish jobs
/// then wait for it without calling it.
const DOWN_FOR: Duration = Duration::from_secs(120);

#[derive(Deserialize)]
struct AlertPayload {
    channel: String,
    alerts: Vec<crate::ops::alert::Alert>,
}

impl JobHandler for JobRouter {
    async fn handle(&self, job: ActiveJob) -> Result<Value, JobError> {
        let result = self.run(job).await;
        // Waiting for a dependency is neither a success nor an error of ours.
        if !result.as_ref().is_err_and(JobError::is_wait) {
            self.ops.stats().job_finished(result.is_ok());
        }
        result
    }
}

impl JobRouter {
    /// Asks for the post's generated image before its first publication, when
    /// `[images.generate]` is set (once per post; the card stands in for any failure).
    pub async fn generate_image(&self, post_id: &str) {
        let Some(generator) = &self.images else {
            return;
        };
        let post = match self.store.get_post(post_id).await {
            Ok(Some(post)) if post.published_at.is_none() => post,
            _ => return,
        };
        if let Err(e) = generator.ensure(&self.store, &post).await {
            tracing::warn!(post_id, error = %e, "the generated image could not be asked for: the post gets its social card");
        }
    }

    async fn run(&self, job: ActiveJob) -> Result<Value, JobError> {
        let kind = JobType::parse(&job.name)
            .ok_or_else(|| JobError::unrecoverable(format!("unknown job type {:?}", job.name)))?;
        match kind {
            JobType::ContentGeneration => {
                let request = generation_request(&job.payload).map_err(|e| {
                    JobError::unrecoverable(format!("bad content_generation payload: {e}"))
                })?;
                let max = self.config.generation.max_posts_per_request;
                if request.count == 0 || request.count > max {
                    return Err(JobError::unrecoverable(format!(
                        "content_generation count {} is outside 1..={max} (generation.max_posts_per_request)",
                        request.count
                    )));
                }
                self.generator
                    .run_job(&job.id, job.attempt, request, job.cancel.clone())
                    .await
            }
            JobType::BlogPublish => {
                let p: PublishPayload =
                    serde_json::from_value(job.payload.clone()).map_err(|e| {
                        JobError::unrecoverable(format!("bad blog_publish payload: {e}"))
                    })?;
                let down = self.down_targets().await;
                let known_down = |target: &str| {
                    down.iter()
                        .find(|(t, _)| t == target)
                        .map(|(_, why)| format!("its health check fails: {why}"))
                };
                self.generate_image(&p.post_id).await;
                let report =
                    publish_post_to(&self.store, &self.publishers, &p.post_id, &known_down).await?;
                Ok(serde_json::to_value(report).unwrap_or(Value::Null))
            }
            JobType::Cleanup => self.cleanup().await,
            JobType::HealthCheck => {
                Ok(serde_json::to_value(self.health_check().await).unwrap_or(Value::Null))
            }
            JobType::AlertDelivery => {
                let p: AlertPayload = serde_json::from_value(job.payload.clone()).map_err(|e| {
                    JobError::unrecoverable(format!("bad alert_delivery payload: {e}"))
                })?;
                match self.ops.channels().send(&p.channel, &p.alerts).await {
                    Ok(()) => Ok(json!({ "delivered": p.alerts.len() })),
                    Err(e @ crate::ops::channels::DeliveryError::Permanent { .. }) => {
                        Err(JobError::unrecoverable(e.to_string()))
                    }
                    Err(e) => Err(JobError::retryable(e.to_string())),
                }
            }
        }
    }
}

/// Reads a `content_generation` payload: blogflow's own `{count, topic?, category?}`, or the
/// original system's envelope `{id, type, payload: {count, quality, topic?, …}, priority,
/// retries, delay, createdAt}` as a Node producer sends it. Fields of the envelope that
/// blogflow has no use for (`quality`, `retries`, …) are ignored; queue options come from the
/// BullMQ job options, not from the data.
pub fn generation_request(payload: &Value) -> Result<GenerateRequest, String> {
    let Some(inner) = payload.get("payload").filter(|p| p.is_object()) else {
        return serde_json::from_value(payload.clone()).map_err(|e| e.to_string());
    };
    if let Some(t) = payload.get("type").and_then(Value::as_str)
        && t != JobType::ContentGeneration.name()
    {
        return Err(format!("envelope type is {t:?}, not content_generation"));
    }
    let count = match inner.get("count") {
        None | Some(Value::Null) => 1,
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("payload.count must be a positive integer, got {v}"))?,
    };
    let text = |key: &str| -> Result<Option<String>, String> {
        match inner.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
            Some(v) => Err(format!("payload.{key} must be a non-empty string, got {v}")),
        }
    };
    Ok(GenerateRequest {
        count,
        topic: text("topic")?,
        category: text("category")?,
    })
}

impl JobRouter {
    /// Targets whose newest health check (of any process) failed within [`DOWN_FOR`], with
    /// the reason.
    async fn down_targets(&self) -> Vec<(String, String)> {
        let Some(h) = self.latest_health().await else {
            return Vec::new();
        };
        if crate::db::now_ms() - h.checked_at > DOWN_FOR.as_millis() as i64 {
            return Vec::new();
        }
        h.targets
            .into_iter()
            .filter_map(|(t, r)| r.err().map(|e| (t, e)))
            .collect()
    }

    /// Runs the reconciliation ([`crate::publish::reconcile`]) and notes when. Generation jobs
    /// that failed only for lack of a provider (none configured then, or all held back under
    /// an earlier version) are put back too, once a provider is configured.
    pub async fn reconcile(&self) -> Option<crate::publish::Reconciled> {
        self.last_reconcile
            .store(crate::db::now_ms(), std::sync::atomic::Ordering::Relaxed);
        if !self.generator.providers().is_empty() {
            self.requeue_generation().await;
        }
        match crate::publish::reconcile(&self.store, &self.queue).await {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(error = %e, "reconciliation failed; the next health check tries again");
                None
            }
        }
    }

    async fn requeue_generation(&self) {
        let failed = match self
            .queue
            .list(
                names::CONTENT_GENERATION,
                crate::queue::JobState::Failed,
                500,
            )
            .await
        {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list failed generation jobs");
                return;
            }
        };
        let mut requeued = 0;
        for job in failed {
            let for_lack = job.last_error.as_deref().is_some_and(|e| {
                e.contains(crate::generate::NO_PROVIDER)
                    || e.contains("held back by its circuit breaker")
            });
            if for_lack
                && self
                    .queue
                    .retry(names::CONTENT_GENERATION, &job.id)
                    .await
                    .is_ok()
            {
                requeued += 1;
            }
        }
        if requeued > 0 {
            tracing::info!(
                jobs = requeued,
                "reconciliation: generation jobs that failed for lack of a provider run again"
            );
        }
    }

    async fn cleanup(&self) -> Result<Value, JobError> {
        let q = &self.config.queue;
        let mut jobs_removed = 0;
        for name in names::ALL {
            jobs_removed += self
                .queue
                .clean(name, q.completed, q.failed)
                .await
                .map_err(|e| JobError::retryable(e.to_string()))?;
        }
        let runs_removed = self
            .store
            .cleanup(90 * 24 * 3600 * 1000)
            .await
            .map_err(|e| JobError::retryable(e.to_string()))?;
        let m = &self.config.monitor;
        let now = crate::db::now_ms();
        let samples_removed = self
            .store
            .prune_samples(
                now - m.history_raw.as_millis() as i64,
                now - m.history_rollup.as_millis() as i64,
            )
            .await
            .map_err(|e| JobError::retryable(e.to_string()))?;
        tracing::info!(jobs_removed, runs_removed, samples_removed, "cleanup done");
        Ok(
            json!({ "jobs_removed": jobs_removed, "runs_removed": runs_removed, "samples_removed": samples_removed }),
        )
    }

    /// Checks the provider and every target, caches and returns the result. Also applies
    /// review mode's auto-approval, which needs the same regular tick.
    pub async fn health_check(&self) -> HealthSnapshot {
        match self.generator.auto_approve().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(approved = n, "held posts auto-approved after the hold time"),
            Err(e) => tracing::warn!(error = %e, "auto-approval failed"),
        }
        // Cheap checks (list models) prove reachability and credentials without spending
        // tokens; a pass is what ends an ejection.
        let mut providers = Vec::new();
        for p in self.generator.providers() {
            let r = match tokio::time::timeout(Duration::from_secs(15), p.check()).await {
                Ok(Ok(())) => {
                    p.health_passed();
                    Ok(())
                }
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("check timed out".to_owned()),
            };
            providers.push((p.name().to_owned(), r));
        }
        let mut targets = Vec::new();
        for t in self.publishers.iter() {
            targets.push((
                t.target().to_owned(),
                t.check().await.map_err(|e| e.to_string()),
            ));
        }
        // A target that was failing and passes now: its waiting posts go at once, and so
        // does everything the reconciliation finds, at least every RECONCILE_EVERY.
        let before = self.health.read().await.clone();
        let recovered = targets.iter().any(|(t, r)| {
            r.is_ok()
                && before
                    .as_ref()
                    .is_some_and(|b| b.targets.iter().any(|(bt, br)| bt == t && br.is_err()))
        });
        let last = self
            .last_reconcile
            .load(std::sync::atomic::Ordering::Relaxed);
        if recovered || crate::db::now_ms() - last >= RECONCILE_EVERY.as_millis() as i64 {
            self.reconcile().await;
        }
        let snapshot = HealthSnapshot {
            checked_at: crate::db::now_ms(),
            providers,
            targets,
        };
        *self.health.write().await = Some(snapshot.clone());
        // Other processes of the deployment read it from the store.
        let body = serde_json::to_string(&snapshot).expect("a health snapshot serializes");
        if let Err(e) = self.store.save_health(snapshot.checked_at, body).await {
            tracing::warn!(error = %e, "health snapshot not stored for the other processes");
        }
        snapshot
    }

    /// The newest health check: this process's, or one another process of the deployment
    /// stored after it.
    pub async fn latest_health(&self) -> Option<HealthSnapshot> {
        let local = self.health.read().await.clone();
        let after = local.as_ref().map_or(0, |h| h.checked_at);
        match self.store.health_after(after).await {
            Ok(Some(body)) => serde_json::from_str(&body).ok().or(local),
            _ => local,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_envelope_and_own_payload_both_parse() {
        let own = generation_request(&json!({"count": 2, "topic": "RAG"})).unwrap();
        assert_eq!((own.count, own.topic.as_deref()), (2, Some("RAG")));
        let original = json!({
            "id": "job_1", "type": "content_generation",
            "payload": {"count": 3, "quality": "high", "category": "AI"},
            "priority": 1, "retries": 3, "delay": 0, "createdAt": "2026-11-26T00:00:00Z"
        });
        let r = generation_request(&original).unwrap();
        assert_eq!(
            (r.count, r.category.as_deref(), r.topic),
            (3, Some("AI"), None)
        );
        assert_eq!(
            generation_request(&json!({"type": "content_generation", "payload": {}}))
                .unwrap()
                .count,
            1
        );
        assert!(generation_request(&json!({"type": "cleanup", "payload": {"count": 1}})).is_err());
        assert!(generation_request(&json!({"payload": {"count": -1}})).is_err());
        assert!(generation_request(&json!({"count": 1, "bogus": true})).is_err());
    }
}
