//! The generation pipeline: for each post of a job, topic → prompt → provider → parse →
//! quality gate → store → publish job.
//!
//! Each post of a job has a slot number; a post is stored under `(job_id, slot)`, so a retried
//! or recovered job skips the posts it already wrote and never writes one twice. Slots run in
//! parallel up to `generation.parallelism`; one failing slot does not stop the others.

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::{GeneratedPost, QualityReport, parse_post, prompt, score, simple};
use crate::config::{GenerationConfig, Language};
use crate::llm::breaker::{BreakerConfig, Guarded};
use crate::llm::{ChatRequest, ErrorClass, Provider};
use crate::queue::{Backoff, JobError, JobOptions, NewJob, Queue, QueueBackend, Retry, names};
use crate::store::{NewPost, PostStatus, RunOutcome, RunStatus, Store};

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

/// Holds a slot's place in the daily budget until its post is stored or the slot fails.
struct BudgetSlot(Arc<std::sync::Mutex<u32>>);

impl Drop for BudgetSlot {
    fn drop(&mut self) {
        let mut n = self.0.lock().expect("budget slots");
        *n = n.saturating_sub(1);
    }
}

/// The start of the UTC day `now_ms` falls in.
fn utc_midnight(now_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(86_400_000)
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

/// The publish job of a post: one per post, whatever retries happen upstream.
pub fn publish_job(post_id: &str) -> NewJob {
    NewJob::new("blog_publish", json!({ "post_id": post_id }))
        .with_id(format!("publish-{post_id}"))
        .with_options(JobOptions {
            attempts: 8,
            backoff: Backoff::Exponential {
                base_ms: 5_000,
                max_ms: 30 * 60_000,
                jitter: 0.2,
            },
            ..JobOptions::default()
        })
}

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
                tracing::info!(job_id, skipped = skipped.len(), %reason, "posts skipped by a daily limit");
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
                    PostStatus::Held => SlotOutcome::Held(id),
                    PostStatus::Ready | PostStatus::Published => SlotOutcome::Ready(id),
                };
            }
        }
        let budget = match self.admit_budget().await {
            Ok(Ok(slot)) => slot,
            Ok(Err(reason)) => return SlotOutcome::Skipped(reason),
            Err(e) => return SlotOutcome::Failed(e),
        };
        let pooled = match (&request.topic, &self.topics) {
            (None, Some(topics)) => match topics.pick(request.category.clone()).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(job_id, slot, error = %e, "could not pick from the topic pool; using a keyword");
                    None
                }
            },
            _ => None,
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
                job_id, slot, &topic, keyword, source, category, budget, cancel,
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

    /// Approves a held post and queues its publication.
    pub async fn approve(
        &self,
        post_id: &str,
        note: Option<String>,
    ) -> Result<crate::store::Post, ApproveError> {
        let post = self.store.approve_post(post_id, note).await?;
        self.queue
            .add(names::BLOG_PUBLISHING, publish_job(post_id))
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

    /// Admits one more post under the daily post cap and budget (UTC day), counting posts
    /// being written now so that parallel slots cannot all pass: the budget holds to within
    /// one post (a post's cost is known only once written; the day's mean cost stands in).
    /// `Ok(Err(reason))` when a limit is reached: the post is skipped, not failed.
    async fn admit_budget(&self) -> Result<Result<Option<BudgetSlot>, String>, JobError> {
        let (cap, budget) = (self.config.daily_post_cap, self.config.daily_budget_usd);
        if cap.is_none() && budget.is_none() {
            return Ok(Ok(None));
        }
        let _one = self.admission.lock().await;
        let (posts, cost) = self
            .store
            .spend_since(utc_midnight(crate::db::now_ms()))
            .await
            .map_err(|e| JobError::retryable(e.to_string()))?;
        let mut in_flight = self.in_flight.lock().expect("budget slots");
        let n = u64::from(*in_flight);
        let mean = if posts > 0 { cost / posts as f64 } else { 0.0 };
        let stop = match (cap, budget) {
            (Some(c), _) if posts + n >= u64::from(c) => Some(format!(
                "the daily post cap of {c} is reached (generation.daily_post_cap)"
            )),
            (_, Some(b)) if cost + n as f64 * mean >= b => Some(format!(
                "the daily budget of ${b:.2} is reached (${cost:.4} spent today)"
            )),
            _ => None,
        };
        if let Some(reason) = stop {
            drop(in_flight);
            return Ok(Err(self.stop_for_today(reason)));
        }
        *in_flight += 1;
        drop(in_flight);
        self.stats.set_budget_stop(None);
        Ok(Ok(Some(BudgetSlot(self.in_flight.clone()))))
    }

    /// Records that a daily limit stopped generation; returns why the post is skipped.
    fn stop_for_today(&self, reason: String) -> String {
        if self.stats.budget_stop().as_deref() != Some(reason.as_str()) {
            tracing::warn!(%reason, "generation stopped for today");
        }
        self.stats.set_budget_stop(Some(reason.clone()));
        format!("{reason}; the schedule writes again after midnight UTC")
    }

    /// Stores a post. An admitted slot stores it under the admission lock and gives up its
    /// reservation in the same step; the store itself refuses a post over the daily cap, which
    /// also holds between processes sharing the store (each reserves only its own slots).
    async fn insert_post(
        &self,
        mut new: NewPost,
        budget: Option<BudgetSlot>,
    ) -> Result<crate::store::Post, crate::store::StoreError> {
        let Some(reservation) = budget else {
            return self.store.insert_post(new).await;
        };
        let _one = self.admission.lock().await;
        new.daily_cap = self
            .config
            .daily_post_cap
            .map(|posts| crate::store::DailyCap {
                since_ms: utc_midnight(crate::db::now_ms()),
                posts,
            });
        let stored = self.store.insert_post(new).await;
        drop(reservation);
        stored
    }

    #[expect(clippy::too_many_arguments, reason = "the slot's context, passed once")]
    async fn write_slot(
        &self,
        job_id: &str,
        slot: u32,
        topic: &str,
        keyword: Option<String>,
        source: &str,
        category: String,
        budget: Option<BudgetSlot>,
        cancel: &CancellationToken,
    ) -> SlotOutcome {
        let avoid = self
            .store
            .recent_titles(keyword.clone(), 10)
            .await
            .unwrap_or_default();
        let context = SlotContext {
            job_id,
            slot,
            topic,
            category: &category,
            avoid: &avoid,
            cancel,
            deadline: tokio::time::Instant::now() + self.config.post_deadline,
        };
        match self.rounds(&context).await {
            Ok(draft) => {
                self.store_draft(
                    job_id,
                    slot,
                    topic,
                    keyword.as_deref(),
                    source,
                    category,
                    draft,
                    budget,
                )
                .await
            }
            Err(failure) => SlotOutcome::Failed(failure),
        }
    }

    /// Rounds over the balancer's order (available API providers by weight, latency, success
    /// and load, then the local model) until a draft: one that passed, or the best weak one
    /// (kept for review, never thrown away). A round that ends with a provider still available
    /// but failing is tried again after a short pause, so a flaky provider does not strand a
    /// post; when none is available, the slot waits without spending an attempt.
    async fn rounds(&self, context: &SlotContext<'_>) -> Result<Draft, JobError> {
        let SlotContext {
            cancel, deadline, ..
        } = *context;
        let mut weak: Option<Draft> = None;
        let mut failure = JobError::unrecoverable(NO_PROVIDER);
        for round in 0..SLOT_ROUNDS {
            let order = crate::llm::balancer::rank(&self.providers, self.now(), 0.0);
            let call_failed = match self.try_providers(context, &order, &mut weak).await {
                Ok(draft) => return Ok(draft),
                Err((e, call)) => {
                    failure = e;
                    call
                }
            };
            if weak.is_some() || cancel.is_cancelled() {
                break;
            }
            // No provider can take a call now (failing, rate-limited, or ejected for bad
            // credentials an operator can fix): a wait, not a failed attempt.
            if let Some(wait) = self.provider_wait() {
                return Err(JobError::wait(
                    wait,
                    format!(
                        "waiting {} s for a provider: every one is failing, rate-limited or ejected ({})",
                        wait.as_secs(),
                        failure.message
                    ),
                ));
            }
            if failure.retry == Retry::Never || !call_failed {
                break;
            }
            let pause = ROUND_PAUSE * 2u32.pow(round);
            if round + 1 == SLOT_ROUNDS || tokio::time::Instant::now() + pause >= deadline {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = cancel.cancelled() => break,
            }
        }
        weak.ok_or(failure)
    }

    /// Now, on the providers' timebase.
    fn now(&self) -> tokio::time::Instant {
        self.providers
            .first()
            .map_or_else(tokio::time::Instant::now, Guarded::now)
    }

    /// How long until a provider can take a call, when none can now (bounded; an ejected
    /// provider waits for the next health probe). `None` when one can now: a failure then
    /// was a real one.
    pub fn provider_wait(&self) -> Option<std::time::Duration> {
        if self.providers.is_empty() {
            return None;
        }
        let now = self.now();
        let mut soonest: Option<std::time::Duration> = None;
        for p in self.providers.iter() {
            match p.ready_in(now, 0.0) {
                Some(d) if d.is_zero() => return None,
                Some(d) => soonest = Some(soonest.map_or(d, |s| s.min(d))),
                None => {}
            }
        }
        Some(
            soonest
                .unwrap_or(PROBE_WAIT)
                .clamp(std::time::Duration::from_secs(1), MAX_PROVIDER_WAIT),
        )
    }

    /// One round over `order`: the first post that passes, or a weak draft kept in `weak` for
    /// another provider to beat, or the failure of the last provider tried.
    async fn try_providers(
        &self,
        context: &SlotContext<'_>,
        order: &[usize],
        weak: &mut Option<Draft>,
    ) -> Result<Draft, (JobError, bool)> {
        let SlotContext {
            job_id,
            slot,
            deadline,
            ..
        } = *context;
        let mut failure = JobError::retryable(
            "every provider is held back by its circuit breaker or rate limit (failing, rate-limited or ejected)",
        );
        let mut call = true;
        for (pos, &i) in order.iter().enumerate() {
            if tokio::time::Instant::now() >= deadline {
                let e = JobError::retryable(
                    "the post's deadline passed (generation.post_deadline_secs)",
                );
                return Err((e, false));
            }
            let provider = &self.providers[i];
            if !provider.admit(provider.now(), 0.0) {
                tracing::debug!(
                    job_id,
                    slot,
                    provider = provider.name(),
                    "provider held back by its breaker"
                );
                failure = JobError::retryable(format!(
                    "{} is held back by its circuit breaker (failing, rate-limited or ejected)",
                    provider.name()
                ));
                continue;
            }
            let draft = match self.draft(context, provider).await {
                Ok(draft) => draft,
                Err(no) => {
                    let next = order
                        .get(pos + 1)
                        .map(|&n| &self.providers[n])
                        .filter(|_| no.failover);
                    if let Some(next) = next {
                        tracing::warn!(job_id, slot, provider = provider.name(), next = next.name(), error = %no.error, "falling over to the next provider");
                    }
                    failure = no.error;
                    call = no.call;
                    if next.is_some() {
                        continue;
                    }
                    break;
                }
            };
            let draft = Draft::better(weak.take(), draft);
            // Below the threshold after its attempts: another API provider gets a turn before
            // the post is held (the local model would not write a better one).
            let next = order
                .get(pos + 1)
                .map(|&n| &self.providers[n])
                .filter(|n| !matches!(n.provider(), Provider::Local(_)));
            if !draft.passed(self.config.quality_threshold)
                && let Some(next) = next
            {
                tracing::info!(
                    job_id,
                    slot,
                    provider = provider.name(),
                    next = next.name(),
                    "below the quality threshold: rewriting with another provider before holding"
                );
                *weak = Some(draft);
                continue;
            }
            return Ok(draft);
        }
        Err((failure, call))
    }

    /// Generates until a post passes the quality gate or the attempts run out, with one
    /// provider. `Err` carries the failure and whether another provider may succeed.
    async fn draft(&self, context: &SlotContext<'_>, provider: &Guarded) -> Result<Draft, NoDraft> {
        let SlotContext {
            job_id,
            slot,
            topic,
            category,
            avoid,
            cancel,
            deadline,
        } = *context;
        // A model that cannot write the configured language writes English (app::open logs
        // that once at start).
        let language = if provider.writes(self.config.language) {
            self.config.language
        } else {
            Language::En
        };
        let started = Instant::now();
        let mut draft = Draft {
            language,
            model: provider.model().to_owned(),
            provider: provider.name().to_owned(),
            deadline: Some(deadline),
            ..Draft::default()
        };
        let mut best: Option<(GeneratedPost, QualityReport)> = None;
        let mut last_problem = String::new();
        for attempt in 1..=self.config.attempts_per_post {
            if cancel.is_cancelled() {
                return Err(NoDraft::cancelled());
            }
            draft.attempts = attempt;
            let answer = tokio::select! {
                a = self.ask(provider, topic, category, language, avoid, &mut draft) => a,
                _ = cancel.cancelled() => return Err(NoDraft::cancelled()),
            };
            let post = match answer {
                Ok(post) => post,
                Err(Answer::Provider(e)) => {
                    tracing::warn!(job_id, slot, provider = provider.name(), class = ?e.class, status = ?e.status, error = %e.message, "provider call failed");
                    if best.is_some() {
                        break; // keep the best answer we have: it is held if it is weak
                    }
                    let failover = e.class != ErrorClass::InvalidRequest;
                    return Err(NoDraft {
                        error: e.into(),
                        failover,
                        call: true,
                    });
                }
                Err(Answer::Malformed(problem)) => {
                    tracing::warn!(job_id, slot, attempt, %problem, "model answer rejected");
                    last_problem = problem;
                    continue;
                }
            };
            let mut report = score(&post, language);
            if self.config.judge && report.score >= self.config.quality_threshold {
                self.judge(
                    provider,
                    &post,
                    language,
                    &mut report,
                    &mut draft,
                    job_id,
                    slot,
                )
                .await;
            }
            let passed = report.score >= self.config.quality_threshold;
            tracing::info!(job_id, slot, attempt, score = report.score, passed, notes = %report.summary(), "post scored");
            if best.as_ref().is_none_or(|(_, b)| report.score > b.score) {
                best = Some((post, report));
            }
            if passed {
                break;
            }
            last_problem = format!("quality score below {}", self.config.quality_threshold);
        }
        draft.elapsed_ms = started.elapsed().as_millis() as u64;
        match best {
            Some((post, quality)) => {
                draft.post = Some((post, quality));
                Ok(draft)
            }
            None => Err(NoDraft {
                error: JobError::retryable(last_problem),
                failover: true,
                call: false,
            }),
        }
    }

    /// Asks the first available provider other than the writer to grade `post`; a grade below
    /// `judge_min_score` pulls the score under the threshold. Its tokens and cost count toward
    /// the post. Without another provider, or with an unusable answer, the post stands on the
    /// deterministic score.
    #[expect(clippy::too_many_arguments, reason = "the slot's context, passed once")]
    async fn judge(
        &self,
        writer: &Guarded,
        post: &GeneratedPost,
        language: Language,
        report: &mut QualityReport,
        draft: &mut Draft,
        job_id: &str,
        slot: u32,
    ) {
        let now = tokio::time::Instant::now();
        let judge = crate::llm::balancer::rank(&self.providers, now, 0.0)
            .into_iter()
            .map(|i| &self.providers[i])
            .find(|p| p.name() != writer.name() && p.admit(now, 0.0));
        let Some(judge) = judge else {
            tracing::debug!(
                job_id,
                slot,
                "no provider other than the writer to judge the post"
            );
            return;
        };
        let Ok(limit) = draft.time_left(judge) else {
            return;
        };
        let verdict = match judge
            .chat_within(&super::judge::request(post, language), Some(limit))
            .await
        {
            Ok(response) => {
                draft.add(&response);
                super::judge::parse(&response.text)
            }
            Err(e) => {
                tracing::warn!(job_id, slot, judge = judge.name(), error = %e.message, "the judge did not answer; the deterministic score stands");
                return;
            }
        };
        let Some(v) = verdict else {
            tracing::warn!(
                job_id,
                slot,
                judge = judge.name(),
                "the judge's answer was not a grade; the deterministic score stands"
            );
            return;
        };
        let min = self.config.judge_min_score;
        tracing::info!(job_id, slot, judge = judge.name(), grade = v.score, reason = %v.reason, "post judged");
        report.parts.push(super::quality::SubScore {
            name: "judge".into(),
            points: f64::from(v.score),
            max: 10.0,
            note: if v.score >= min {
                String::new()
            } else {
                format!(
                    "{} graded {}/10 (publish from {min}): {}",
                    judge.name(),
                    v.score,
                    v.reason
                )
            },
        });
        if v.score < min {
            report.score = report
                .score
                .min(self.config.quality_threshold.saturating_sub(1));
        }
    }

    /// One answer from the provider, in the format it can handle, with its slug made by the
    /// configured policy.
    async fn ask(
        &self,
        provider: &Guarded,
        topic: &str,
        category: &str,
        language: Language,
        avoid: &[String],
        draft: &mut Draft,
    ) -> Result<GeneratedPost, Answer> {
        let mut post = self
            .ask_in_format(provider, topic, category, language, avoid, draft)
            .await?;
        post.slug = self.config.slugs.post(&post.slug, &post.title);
        Ok(post)
    }

    async fn ask_in_format(
        &self,
        provider: &Guarded,
        topic: &str,
        category: &str,
        language: Language,
        avoid: &[String],
        draft: &mut Draft,
    ) -> Result<GeneratedPost, Answer> {
        if provider.needs_simple_format() {
            return self
                .ask_in_steps(provider, topic, category, language, draft)
                .await;
        }
        let p = prompt::build(topic, category, language, self.config.slugs.policy, avoid);
        let response = provider
            .chat_within(
                &ChatRequest {
                    system: p.system,
                    user: p.user,
                    max_tokens: None,
                },
                Some(draft.time_left(provider)?),
            )
            .await
            .map_err(Answer::Provider)?;
        draft.add(&response);
        parse_post(&response.text).map_err(|e| {
            Answer::Malformed(format!(
                "malformed answer{}: {e}",
                if response.truncated {
                    " (cut off at max_tokens)"
                } else {
                    ""
                }
            ))
        })
    }

    /// The small-model format: outline, introduction, sections, conclusion and title, each a
    /// short plain-text request ([`simple`]).
    async fn ask_in_steps(
        &self,
        provider: &Guarded,
        topic: &str,
        category: &str,
        language: Language,
        draft: &mut Draft,
    ) -> Result<GeneratedPost, Answer> {
        let mut ask = async |request: crate::llm::ChatRequest| -> Result<String, Answer> {
            let response = provider
                .chat_within(&request, Some(draft.time_left(provider)?))
                .await
                .map_err(Answer::Provider)?;
            draft.add(&response);
            Ok(response.text)
        };
        let outline = ask(simple::outline_request(topic, language)).await?;
        let headings = simple::parse_outline(&outline, topic, language);
        let intro = ask(simple::intro_request(topic, category, language)).await?;
        let mut sections = Vec::with_capacity(headings.len());
        for heading in headings {
            let text = ask(simple::section_request(topic, &heading, language)).await?;
            sections.push((heading, text));
        }
        let conclusion = ask(simple::conclusion_request(topic, language)).await?;
        let title = ask(simple::title_request(topic, language)).await?;
        let body = simple::assemble_body(&intro, &sections, &conclusion, language);
        if body.chars().count() < 200 {
            return Err(Answer::Malformed(format!(
                "the article is too short ({} characters)",
                body.chars().count()
            )));
        }
        Ok(simple::assemble(
            simple::clean_title(&title, topic),
            body,
            topic,
            category,
        ))
    }

    #[expect(clippy::too_many_arguments, reason = "the slot's context, passed once")]
    async fn store_draft(
        &self,
        job_id: &str,
        slot: u32,
        topic: &str,
        keyword: Option<&str>,
        source: &str,
        category: String,
        draft: Draft,
        budget: Option<BudgetSlot>,
    ) -> SlotOutcome {
        let Some((post, quality)) = draft.post else {
            return SlotOutcome::Failed(JobError::retryable("no post was produced"));
        };
        let passed = quality.score >= self.config.quality_threshold;
        // In review mode a post that passed waits for approval like one that did not.
        let (status, hold_reason) = match (passed, self.config.review) {
            (true, false) => (PostStatus::Ready, None),
            (true, true) => (
                PostStatus::Held,
                Some("awaiting review (publish.mode = review)".to_owned()),
            ),
            // The reason comes from the gate's own findings, never left for a reader to guess.
            (false, _) => (
                PostStatus::Held,
                Some(format!(
                    "quality score {} is below the threshold {} (generation.quality_threshold){}",
                    quality.score,
                    self.config.quality_threshold,
                    match quality.summary() {
                        notes if notes.is_empty() => String::new(),
                        notes => format!(": {notes}"),
                    }
                )),
            ),
        };
        let new = NewPost {
            job_id: job_id.to_owned(),
            slot,
            topic: topic.to_owned(),
            keyword: keyword.map(str::to_owned),
            category,
            language: draft.language.code().to_owned(),
            post,
            quality,
            status,
            provider: draft.provider,
            model: draft.model,
            input_tokens: draft.input_tokens,
            output_tokens: draft.output_tokens,
            cost_usd: draft.cost_usd,
            generation_ms: draft.elapsed_ms,
            attempts: draft.attempts,
            hold_reason,
            daily_cap: None,
        };
        let stored = match self.insert_post(new, budget).await {
            Ok(p) => p,
            Err(crate::store::StoreError::Limit(reason)) => {
                return SlotOutcome::Skipped(self.stop_for_today(reason));
            }
            Err(e) => return SlotOutcome::Failed(JobError::retryable(e.to_string())),
        };
        self.stats
            .generation
            .observe(std::time::Duration::from_millis(stored.generation_ms));
        tracing::info!(target: "blogflow::perf", job_id, slot, post_id = %stored.id, provider = %stored.provider, generation_ms = stored.generation_ms,
            input_tokens = stored.input_tokens, output_tokens = stored.output_tokens, cost_usd = stored.cost_usd, score = stored.quality.score, "post generated");
        if let Err(e) = self
            .store
            .record_topic(topic, source, keyword, &stored.id)
            .await
        {
            tracing::warn!(error = %e, "could not record the topic");
        }
        self.after_store(stored.id, stored.status).await
    }

    async fn after_store(&self, post_id: String, status: PostStatus) -> SlotOutcome {
        match status {
            PostStatus::Held => {
                tracing::warn!(
                    post_id,
                    "post held for review (low score, near-duplicate or review mode: see its hold_reason)"
                );
                SlotOutcome::Held(post_id)
            }
            PostStatus::Published => SlotOutcome::Ready(post_id),
            PostStatus::Ready => match self
                .queue
                .add(names::BLOG_PUBLISHING, publish_job(&post_id))
                .await
            {
                Ok(_) => SlotOutcome::Ready(post_id),
                Err(e) => SlotOutcome::Failed(JobError::retryable(format!(
                    "post {post_id} stored, publishing not queued: {e}"
                ))),
            },
        }
    }
}
