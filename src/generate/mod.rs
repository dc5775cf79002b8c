//! The generation pipeline: for each post of a job, topic → prompt → provider → parse →
//! quality gate → store → publish job.
//!
//! Each post of a job has a slot number; a post is stored under `(job_id, slot)`, so a retried
//! or recovered job skips the posts it already wrote and never writes one twice. Slots run in
//! parallel up to `generation.parallelism`; one failing slot does not stop the others.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::{GenerationConfig, Language};
use crate::content::{GeneratedPost, QualityReport};
use crate::llm::breaker::{BreakerConfig, Guarded};
use crate::llm::{ErrorClass, Provider};
use crate::queue::{JobError, Queue, QueueBackend, Retry, names};
use crate::store::{PostStatus, RunOutcome, RunStatus, Store};

mod budget;
use budget::BudgetSlot;
mod ask;
mod rounds;
mod slot;
mod sources;

/// The message of every generation while no provider is configured.
pub const NO_PROVIDER: &str = "no LLM provider is configured: the local model is off (BLOGFLOW_LOCAL_MODEL=off) and \
     neither OPENAI_API_KEY nor OPENAI_BASE_URL (Ollama, vLLM, llama.cpp) is set";

/// Payload of a `content_generation` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    /// Posts to write.
    pub count: u32,
    /// A manual topic for every post of the job; keywords rotate when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Category; the configured one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// What happened to one slot.
#[derive(Debug, Clone)]
pub enum SlotOutcome {
    /// Stored as ready; a publish job is queued.
    Ready(String),
    /// Stored but held for review (below the quality threshold).
    Held(String),
    /// Nothing stored.
    Failed(JobError),
    /// Deliberately not written: a daily limit (post cap or budget) is reached. The reason.
    Skipped(String),
}

/// Writes posts. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Generator {
    store: Store,
    queue: QueueBackend,
    /// In fallback order, each behind its breaker: the next is tried when one fails in a way
    /// another may not, or when its breaker holds it back.
    providers: Arc<Vec<Guarded>>,
    config: Arc<GenerationConfig>,
    /// Where generation times go (the monitor reads them).
    stats: Arc<crate::ops::stats::Stats>,
    /// Feeds and the manual queue; keywords only when absent or empty.
    topics: Option<crate::topics::Topics>,
    /// Reads the articles behind topics; posts are written without sources when absent.
    reader: Option<sources::Reader>,
    /// Slots admitted under the daily budget and post cap and not stored yet.
    in_flight: Arc<std::sync::Mutex<u32>>,
    /// Held by an admission and by the storing of an admitted post, so that an admission sees
    /// every post either stored or reserved, never both and never neither.
    admission: Arc<tokio::sync::Mutex<()>>,
}

/// Why an approval failed.
#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    /// Not found, not held, or the store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Approved, but the publication could not be queued (approve again once the queue is back).
    #[error("approved, but publishing was not queued: {0}")]
    Queue(#[from] crate::queue::QueueError),
}

impl NoDraft {
    fn cancelled() -> Self {
        Self {
            error: JobError::retryable("cancelled"),
            failover: false,
            call: false,
        }
    }
}

/// What one provider produced for a slot, with its costs.
#[derive(Debug, Default)]
struct Draft {
    post: Option<(GeneratedPost, QualityReport)>,
    language: Language,
    provider: String,
    model: String,
    input_tokens: u32,
    output_tokens: u32,
    cost_usd: f64,
    elapsed_ms: u64,
    attempts: u32,
    /// When the slot must be done (`generation.post_deadline`).
    deadline: Option<tokio::time::Instant>,
    /// What the grounding check found unsupported in `post`.
    claims: Vec<crate::content::grounding::Claim>,
}

impl Draft {
    /// Whether its post passed the gate.
    fn passed(&self, threshold: u8) -> bool {
        self.post
            .as_ref()
            .is_some_and(|(_, q)| q.score >= threshold)
    }

    /// The better-scoring of an earlier weak draft and a new one, carrying the tokens, cost,
    /// time and attempts of both: everything spent on the post is accounted to it.
    fn better(earlier: Option<Draft>, new: Draft) -> Draft {
        let Some(earlier) = earlier else {
            return new;
        };
        let score = |d: &Draft| d.post.as_ref().map_or(-1, |(_, q)| i32::from(q.score));
        let (mut keep, other) = if score(&new) >= score(&earlier) {
            (new, earlier)
        } else {
            (earlier, new)
        };
        keep.input_tokens += other.input_tokens;
        keep.output_tokens += other.output_tokens;
        keep.cost_usd += other.cost_usd;
        keep.elapsed_ms += other.elapsed_ms;
        keep.attempts += other.attempts;
        keep
    }

    /// Time left before the slot's deadline, or the error that ends the slot.
    fn time_left(&self, provider: &Guarded) -> Result<std::time::Duration, Answer> {
        let left = self.deadline.map_or(std::time::Duration::MAX, |d| {
            d.saturating_duration_since(tokio::time::Instant::now())
        });
        if left.is_zero() {
            return Err(Answer::Provider(crate::llm::LlmError {
                class: ErrorClass::Transient,
                provider: provider.name().to_owned(),
                status: None,
                message: "the post's deadline passed (generation.post_deadline_secs)".into(),
                retry_after: None,
            }));
        }
        Ok(left)
    }

    fn add(&mut self, response: &crate::llm::ChatResponse) {
        self.input_tokens += response.usage.input_tokens;
        self.output_tokens += response.usage.output_tokens;
        self.cost_usd += response.cost_usd;
        self.model = response.model.clone();
    }
}

/// What every call made for one slot shares.
#[derive(Clone, Copy)]
struct SlotContext<'a> {
    job_id: &'a str,
    slot: u32,
    topic: &'a str,
    category: &'a str,
    /// Recent titles the post must not repeat.
    avoid: &'a [String],
    /// The articles it is written from (`[1]` is the first); empty when ungrounded.
    sources: &'a [crate::content::Source],
    cancel: &'a CancellationToken,
    /// When the slot must be done (`generation.post_deadline_secs`).
    deadline: tokio::time::Instant,
}

/// Why one provider produced no draft.
struct NoDraft {
    /// The slot's failure if nothing else works.
    error: JobError,
    /// Whether another provider may do better.
    failover: bool,
    /// Whether a provider call failed (another round may get past it); a malformed answer is
    /// the model's and is not asked again.
    call: bool,
}

/// Why an answer was not a post.
enum Answer {
    /// The provider call failed.
    Provider(crate::llm::LlmError),
    /// The answer could not be used; the reason.
    Malformed(String),
}

/// Rounds over the providers a slot makes before its job attempt fails (while one is
/// available; with none available the slot waits instead).
const SLOT_ROUNDS: u32 = 3;

/// Pause after the first failed round (doubles each round).
const ROUND_PAUSE: std::time::Duration = std::time::Duration::from_secs(2);

/// Wait when every provider is ejected: until about the next health probe (every 30 s).
const PROBE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Longest a generation job waits for a provider before it looks again.
pub const MAX_PROVIDER_WAIT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

impl Generator {
    /// A generator over these parts; `providers` in fallback order.
    pub fn new(
        store: Store,
        queue: QueueBackend,
        providers: Vec<Provider>,
        config: GenerationConfig,
    ) -> Self {
        let providers = providers
            .into_iter()
            .map(|mut p| {
                p.set_stream_limits(config.first_token_timeout, config.stream_idle_timeout);
                let b = config
                    .balance
                    .get(p.name())
                    .or_else(|| config.balance.get(p.kind()))
                    .copied()
                    .unwrap_or_default();
                let breaker = BreakerConfig {
                    rate_limit_max: config.max_retry_after,
                    ..BreakerConfig::default()
                };
                Guarded::new(p, breaker)
                    .with_weight(b.weight)
                    .with_limits(b.rpm, b.tpm)
            })
            .collect();
        Self {
            store,
            queue,
            providers: Arc::new(providers),
            config: Arc::new(config),
            stats: Arc::default(),
            topics: None,
            reader: None,
            in_flight: Arc::default(),
            admission: Arc::default(),
        }
    }

    /// Runs the providers' breakers and budgets on `clock` instead of the real clock (tests
    /// drive hours of outage through a manual one). Call before the generator is cloned.
    pub fn with_clock(mut self, clock: Arc<dyn crate::queue::Clock>) -> Self {
        let time = crate::llm::breaker::Timebase::from_clock(clock);
        let providers = Arc::get_mut(&mut self.providers)
            .expect("with_clock is called before the generator is shared");
        *providers = std::mem::take(providers)
            .into_iter()
            .map(|g| g.with_timebase(time.clone()))
            .collect();
        self
    }

    /// The first provider, if any.
    pub fn provider(&self) -> Option<&Provider> {
        self.providers.first().map(Guarded::provider)
    }

    /// Takes topics from `topics` (manual queue, then feeds) before the keywords.
    pub fn with_topics(mut self, topics: crate::topics::Topics) -> Self {
        self.topics = Some(topics);
        self
    }

    /// The topic sources, if configured.
    pub fn topics(&self) -> Option<&crate::topics::Topics> {
        self.topics.as_ref()
    }

    /// Counters this generator records into.
    pub fn stats(&self) -> &Arc<crate::ops::stats::Stats> {
        &self.stats
    }

    /// All providers with their breakers, in fallback order.
    pub fn providers(&self) -> &[Guarded] {
        &self.providers
    }

    /// Runs a whole `content_generation` job. Succeeds when every slot has a stored post;
    /// otherwise fails with the retry policy of the most hopeful failure.
    pub async fn run_job(
        &self,
        job_id: &str,
        attempt: u32,
        request: GenerateRequest,
        cancel: CancellationToken,
    ) -> Result<serde_json::Value, JobError> {
        let run_id = self
            .store
            .start_run(job_id, "content_generation", attempt, request.count)
            .await
            .map_err(|e| JobError::retryable(e.to_string()))?;
        let outcomes = self.run_slots(job_id, &request, &cancel, |_| {}).await;
        let mut outcome = RunOutcome::default();
        let (mut ready, mut held, mut failures) = (Vec::new(), Vec::new(), Vec::new());
        let mut skipped: Vec<String> = Vec::new();
        for o in outcomes {
            match o {
                SlotOutcome::Ready(id) => ready.push(id),
                SlotOutcome::Held(id) => held.push(id),
                SlotOutcome::Failed(e) => failures.push(e),
                SlotOutcome::Skipped(reason) => skipped.push(reason),
            }
        }
        outcome.generated = ready.len() as u32;
        outcome.held = held.len() as u32;
        outcome.failed = failures.len() as u32;
        outcome.error = failures
            .first()
            .map(|e| e.message.clone())
            .or_else(|| skipped.first().map(|r| format!("skipped: {r}")));
        let waiting = !failures.is_empty() && failures.iter().all(JobError::is_wait);
        let status = match (failures.len(), ready.len() + held.len()) {
            _ if waiting => RunStatus::Waiting,
            (0, _) => RunStatus::Succeeded,
            (_, 0) => RunStatus::Failed,
            _ => RunStatus::Partial,
        };
        if let Err(e) = self.store.finish_run(run_id, status, outcome).await {
            tracing::warn!(job_id, error = %e, "could not record the run's end");
        }
        if failures.is_empty() {
            if let Some(reason) = skipped.first() {
                tracing::info!(job_id, skipped = skipped.len(), %reason, "posts skipped (a daily limit, or no readable source while generation.require_sources is on)");
            }
            return Ok(json!({
                "generated": ready,
                "held": held,
                "skipped": skipped.len(),
                "skipped_reason": skipped.first(),
            }));
        }
        if waiting {
            // Every unwritten post waits for a provider: no attempt is spent, however long.
            let wait = failures
                .iter()
                .filter_map(|f| match f.retry {
                    Retry::Wait(d) => Some(d),
                    _ => None,
                })
                .min()
                .unwrap_or(MAX_PROVIDER_WAIT);
            let message = format!(
                "{} of {} posts wait: {}",
                failures.len(),
                request.count,
                failures[0].message
            );
            return Err(JobError::wait(wait, message));
        }
        let failures: Vec<JobError> = failures.into_iter().filter(|f| !f.is_wait()).collect();
        let message = format!(
            "{} of {} posts failed: {}",
            failures.len(),
            request.count,
            failures[0].message
        );
        // Retry if any failure may go away by itself; honour the longest Retry-After.
        let retry = failures
            .iter()
            .map(|f| f.retry)
            .fold(Retry::Never, |acc, r| match (acc, r) {
                (Retry::After(a), Retry::After(b)) => Retry::After(a.max(b)),
                (Retry::After(a), _) | (_, Retry::After(a)) => Retry::After(a),
                (Retry::Backoff, _) | (_, Retry::Backoff) => Retry::Backoff,
                _ => Retry::Never,
            });
        Err(JobError { retry, message })
    }

    /// Runs every slot of `request`, at most `parallelism` at once, calling `on_done` after each.
    pub async fn run_slots(
        &self,
        job_id: &str,
        request: &GenerateRequest,
        cancel: &CancellationToken,
        mut on_done: impl FnMut(&SlotOutcome),
    ) -> Vec<SlotOutcome> {
        // No more posts at once than the primary provider serves at once.
        let limit = self
            .providers
            .first()
            .and_then(|g| g.max_parallel())
            .unwrap_or(usize::MAX);
        let permits = Arc::new(Semaphore::new(self.config.parallelism.min(limit).max(1)));
        if request.topic.is_none()
            && let Some(topics) = &self.topics
        {
            for r in topics.refresh(false).await {
                tracing::debug!(feed = %r.feed, outcome = %r.outcome, added = r.added, "feed refresh");
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        for slot in 0..request.count {
            let (this, request, job_id, cancel, permits) = (
                self.clone(),
                request.clone(),
                job_id.to_owned(),
                cancel.clone(),
                permits.clone(),
            );
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                this.generate_slot(&job_id, slot, &request, &cancel).await
            });
        }
        let mut outcomes = Vec::with_capacity(request.count as usize);
        while let Some(joined) = tasks.join_next().await {
            let outcome = joined.unwrap_or_else(|e| {
                SlotOutcome::Failed(JobError::retryable(format!("post generation crashed: {e}")))
            });
            on_done(&outcome);
            outcomes.push(outcome);
        }
        outcomes
    }

    /// Writes the post of one slot, or finds it written by an earlier attempt.
    pub async fn generate_slot(
        &self,
        job_id: &str,
        slot: u32,
        request: &GenerateRequest,
        cancel: &CancellationToken,
    ) -> SlotOutcome {
        match self.store.post_for_slot(job_id, slot).await {
            Ok(Some(post)) => return self.after_store(post.id, post.status).await,
            Ok(None) => {}
            Err(e) => return SlotOutcome::Failed(JobError::retryable(e.to_string())),
        }
        if self.providers.is_empty() {
            return SlotOutcome::Failed(JobError::unrecoverable(NO_PROVIDER));
        }
        // The cache: a manual topic written about recently is answered with that post.
        if let Some(topic) = &request.topic
            && !self.config.cache_ttl.is_zero()
        {
            let category = request.category.as_deref().unwrap_or(&self.config.category);
            let since = crate::db::now_ms() - self.config.cache_ttl.as_millis() as i64;
            if let Ok(Some((id, status))) = self
                .store
                .recent_post_for_topic(job_id, topic, category, self.config.language.code(), since)
                .await
            {
                tracing::info!(job_id, slot, post_id = %id, "identical request within generation.cache_ttl_mins: reusing the post");
                return match status {
                    PostStatus::Held | PostStatus::Rejected => SlotOutcome::Held(id),
                    PostStatus::Ready | PostStatus::Published => SlotOutcome::Ready(id),
                };
            }
        }
        let budget = match self.admit_budget().await {
            Ok(Ok(slot)) => slot,
            Ok(Err(reason)) => return SlotOutcome::Skipped(reason),
            Err(e) => return SlotOutcome::Failed(e),
        };
        let (pooled, reading) = match self.pick_topic(job_id, slot, request).await {
            Ok(picked) => picked,
            Err(reason) => return SlotOutcome::Skipped(reason),
        };
        let (topic, keyword, source) = match (&request.topic, &pooled) {
            (Some(t), _) => (t.clone(), None, "manual"),
            (None, Some(p)) => (
                p.title.clone(),
                None,
                if p.source == "manual" {
                    "manual"
                } else {
                    "feed"
                },
            ),
            (None, None) => match self
                .store
                .reserve_keyword(self.config.keywords.clone())
                .await
            {
                Ok(k) => (k.clone(), Some(k), "keyword"),
                Err(e) => return SlotOutcome::Failed(JobError::retryable(e.to_string())),
            },
        };
        let category = request
            .category
            .clone()
            .or_else(|| pooled.as_ref().map(|p| p.category.clone()))
            .unwrap_or_else(|| self.config.category.clone());
        let outcome = self
            .write_slot(
                job_id,
                slot,
                (&topic, keyword, source),
                category,
                &reading,
                budget,
                cancel,
            )
            .await;
        if let (SlotOutcome::Failed(_), Some(p)) = (&outcome, &pooled) {
            // Not written: the topic goes back to the pool for the retry.
            if let Err(e) = self.store.release_topic(p.id).await {
                tracing::warn!(job_id, slot, error = %e, "could not return the topic to the pool");
            }
        }
        outcome
    }

    /// The topic of a slot from the pool (none for a manual request or when the pool is
    /// empty: a keyword then) and the sources read for it. With `generation.require_sources`,
    /// a topic none of whose sources can be read is passed over (it stays picked: reading it
    /// again would fail again), and `Err` says why no post is written when no topic is left.
    async fn pick_topic(
        &self,
        job_id: &str,
        slot: u32,
        request: &GenerateRequest,
    ) -> Result<(Option<crate::store::PoolTopic>, sources::Reading), String> {
        let require = self.config.require_sources;
        let (None, Some(topics)) = (&request.topic, &self.topics) else {
            return if require {
                Err(format!(
                    "generation.require_sources is on and {} has no source to read",
                    if request.topic.is_some() {
                        "a manual topic"
                    } else {
                        "a keyword topic"
                    }
                ))
            } else {
                Ok((None, sources::Reading::default()))
            };
        };
        // A few tries: each one costs only the pages of a topic.
        for _ in 0..5 {
            let pooled = match topics.pick(request.category.clone()).await {
                Ok(Some(t)) => t,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(job_id, slot, error = %e, "could not pick from the topic pool; using a keyword");
                    break;
                }
            };
            let reading = self.read_sources(&pooled, job_id).await;
            if reading.sources.is_empty() && require {
                tracing::warn!(job_id, slot, topic = %pooled.title, "topic passed over: none of its sources could be read (generation.require_sources)");
                continue;
            }
            return Ok((Some(pooled), reading));
        }
        if require {
            return Err(
                "generation.require_sources is on and no topic with a readable source is waiting"
                    .to_owned(),
            );
        }
        Ok((None, sources::Reading::default()))
    }

    /// Approves a held post and queues its publication.
    pub async fn approve(
        &self,
        post_id: &str,
        note: Option<String>,
    ) -> Result<crate::store::Post, ApproveError> {
        let post = self.store.approve_post(post_id, note).await?;
        self.queue
            .add(names::BLOG_PUBLISHING, crate::publish::publish_job(post_id))
            .await?;
        tracing::info!(post_id, "post approved: publishing queued");
        Ok(post)
    }

    /// Review mode's auto-approval: held posts waiting longer than the configured time with a
    /// score at or above the floor are approved. Returns how many.
    pub async fn auto_approve(&self) -> Result<usize, ApproveError> {
        let Some(after) = self
            .config
            .auto_approve_after
            .filter(|_| self.config.review)
        else {
            return Ok(0);
        };
        let due = crate::db::now_ms() - after.as_millis() as i64;
        let mut approved = 0;
        for (id, score, created) in self.store.pending_reviews(100).await? {
            if created <= due && score >= self.config.auto_approve_min_score {
                match self
                    .approve(&id, Some("auto-approved after the hold time".into()))
                    .await
                {
                    Ok(_) => approved += 1,
                    Err(ApproveError::Store(crate::store::StoreError::Conflict(_))) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(approved)
    }
}
