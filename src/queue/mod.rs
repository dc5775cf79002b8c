//! The durable job queue: one trait, several backends, one conformance suite.
//!
//! Semantics (DESIGN.md "Queue semantics"), shared by every backend:
//! - a job is in exactly one [`JobState`]; lower `priority` runs first, FIFO within a priority;
//! - a claim hands out a [`Lease`] (job id + random token + expiry) that the [`worker`] renews
//!   while the job runs; a job whose lease expired is *stalled*: it goes back to waiting
//!   (counted) and fails after `max_stalled` stalls; finishing with a lost lease is refused;
//! - a failed attempt is retried after a backoff computed at failure time, in the same atomic
//!   step, unless the error says it is unrecoverable or attempts are used up;
//! - a caller-given id deduplicates while the job exists; retention trims finished jobs.
//!
//! [`SqliteQueue`] is the embedded default. Callers hold a [`QueueBackend`], the closed set of
//! backends, so adding one breaks the build until every caller's `match` handles it.

pub mod backoff;
pub mod clock;
pub mod redis;
pub mod sqlite;
pub mod worker;

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{broadcast, watch};

pub use backoff::Backoff;
pub use clock::{Clock, ManualClock, SystemClock};
pub use redis::{RedisOptions, RedisQueue};
pub use sqlite::SqliteQueue;

/// Queue names of the original system; every job type lives in exactly one of them.
pub mod names {
    /// Post generation (`content_generation` jobs).
    pub const CONTENT_GENERATION: &str = "content-generation";
    /// Publishing finished posts (`blog_publish` jobs).
    pub const BLOG_PUBLISHING: &str = "blog-publishing";
    /// Cleanup, health checks and other housekeeping.
    pub const SYSTEM_MAINTENANCE: &str = "system-maintenance";
    /// All queues, in the order the dashboard shows them.
    pub const ALL: [&str; 3] = [CONTENT_GENERATION, BLOG_PUBLISHING, SYSTEM_MAINTENANCE];
}

/// Where a job is in its life. A job is in exactly one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Ready to be claimed.
    Waiting,
    /// Not before its `run_at` (a delay or a retry backoff).
    Delayed,
    /// Claimed by a worker holding a lease.
    Active,
    /// Finished successfully.
    Completed,
    /// Failed for good (attempts or stalls used up, or unrecoverable).
    Failed,
}

impl JobState {
    /// The state's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Waiting => "waiting",
            JobState::Delayed => "delayed",
            JobState::Active => "active",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
        }
    }

    /// Parses a stored state name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "waiting" => JobState::Waiting,
            "delayed" => JobState::Delayed,
            "active" => JobState::Active,
            "completed" => JobState::Completed,
            "failed" => JobState::Failed,
            _ => return None,
        })
    }
}

/// Options of a new job. `Default` is one attempt, priority 0, no delay.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobOptions {
    /// Lower runs first; FIFO within a priority.
    pub priority: i32,
    /// Not claimable before this much time has passed.
    pub delay: Duration,
    /// Total attempts, the first included (at least 1).
    pub attempts: u32,
    /// Wait between a failed attempt and the next one.
    pub backoff: Backoff,
}

impl Default for JobOptions {
    fn default() -> Self {
        Self {
            priority: 0,
            delay: Duration::ZERO,
            attempts: 1,
            backoff: Backoff::default(),
        }
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Caller-given id: a second add with the same id is a no-op while the job exists.
    pub id: Option<String>,
    /// The job type, e.g. `content_generation`.
    pub name: String,
    /// Handler input.
    pub payload: Value,
    /// Priority, delay, attempts, backoff.
    pub options: JobOptions,
}

impl NewJob {
    /// A job of type `name` with default options and a generated id.
    pub fn new(name: impl Into<String>, payload: Value) -> Self {
        Self {
            id: None,
            name: name.into(),
            payload,
            options: JobOptions::default(),
        }
    }

    /// Sets a deterministic id (deduplicates while the job exists).
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the options.
    pub fn with_options(mut self, options: JobOptions) -> Self {
        self.options = options;
        self
    }
}

/// What an add did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    /// A new job with this id was created.
    Added(String),
    /// A job with this id already exists; nothing changed.
    Duplicate(String),
}

impl AddOutcome {
    /// The job's id either way.
    pub fn id(&self) -> &str {
        match self {
            AddOutcome::Added(id) | AddOutcome::Duplicate(id) => id,
        }
    }
}

/// Proof that a worker holds a job. Finishing needs the same token that the claim returned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease {
    /// Queue name.
    pub queue: String,
    /// Job id.
    pub job_id: String,
    /// Random token of this claim; a re-claim after a stall gets a new one.
    pub token: String,
}

/// A claimed job: what the handler needs plus the lease.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// The lease to renew and to finish with.
    pub lease: Lease,
    /// Job type.
    pub name: String,
    /// Handler input.
    pub payload: Value,
    /// 1 for the first attempt (stalls do not count as attempts).
    pub attempt: u32,
    /// Total attempts allowed.
    pub max_attempts: u32,
    /// Priority it was claimed at.
    pub priority: i32,
}

/// A full job record, for inspection (API, dashboard, tests).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Job {
    /// Job id.
    pub id: String,
    /// Queue name.
    pub queue: String,
    /// Job type.
    pub name: String,
    /// Handler input.
    pub payload: Value,
    /// Current state.
    pub state: JobState,
    /// Priority.
    pub priority: i32,
    /// Failed attempts so far.
    pub attempts_made: u32,
    /// Claims so far (attempts plus stalls plus hand-backs).
    pub attempts_started: u32,
    /// Total attempts allowed.
    pub max_attempts: u32,
    /// How often its lease expired.
    pub stalled_count: u32,
    /// Creation time, ms since epoch.
    pub created_at: i64,
    /// Not claimable before this time, ms since epoch.
    pub run_at: i64,
    /// Last claim time, ms since epoch.
    pub started_at: Option<i64>,
    /// Completion or final failure time, ms since epoch.
    pub finished_at: Option<i64>,
    /// Message of the last failed attempt.
    pub last_error: Option<String>,
    /// Handler output of a completed job.
    pub result: Option<Value>,
}

/// How many jobs of a queue are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    /// Ready to run (including delayed jobs whose time has come).
    pub waiting: u64,
    /// Waiting for their time.
    pub delayed: u64,
    /// Running.
    pub active: u64,
    /// Finished successfully (until retention removes them).
    pub completed: u64,
    /// Failed for good (until retention removes them).
    pub failed: u64,
}

/// Whether and when a failed attempt may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Retry after the job's backoff.
    Backoff,
    /// Retry after this much time (e.g. a provider's `Retry-After`).
    After(Duration),
    /// Do not retry: the same input would fail the same way.
    Never,
    /// Not a failure: a dependency cannot take the work now (every provider held back, a
    /// target failing its health check, a daily limit). Delayed for this long, no attempt
    /// spent, so an outage of any length never fails the job.
    Wait(Duration),
}

/// A failed attempt as the handler reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    /// Retry policy for this failure.
    pub retry: Retry,
    /// What went wrong, for the job record and the operator. No secrets, no prompts.
    pub message: String,
}

impl JobError {
    /// A failure worth retrying with backoff.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            retry: Retry::Backoff,
            message: message.into(),
        }
    }

    /// A failure that retrying cannot fix.
    pub fn unrecoverable(message: impl Into<String>) -> Self {
        Self {
            retry: Retry::Never,
            message: message.into(),
        }
    }

    /// A failure to retry after `after`.
    pub fn retry_after(after: Duration, message: impl Into<String>) -> Self {
        Self {
            retry: Retry::After(after),
            message: message.into(),
        }
    }

    /// Not a failure: wait `after` for a dependency, without spending an attempt.
    pub fn wait(after: Duration, message: impl Into<String>) -> Self {
        Self {
            retry: Retry::Wait(after),
            message: message.into(),
        }
    }

    /// Whether this is a wait for a dependency rather than a failed attempt.
    pub fn is_wait(&self) -> bool {
        matches!(self.retry, Retry::Wait(_))
    }
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What happened to a job after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Goes to delayed; claimable again at this time (ms since epoch).
    Retrying {
        /// When the next attempt may start.
        run_at: i64,
    },
    /// Failed for good.
    Dead,
}

/// A job whose lease expired, found by [`Queue::recover_stalled`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StalledJob {
    /// Job id.
    pub job_id: String,
    /// True if it went back to waiting, false if it exceeded `max_stalled` and failed.
    pub requeued: bool,
}

/// Retention of finished jobs: keep at most `keep` and none older than `max_age`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Maximum number kept per queue and state.
    pub keep: u64,
    /// Maximum age.
    pub max_age: Duration,
}

/// Something that happened in a queue. Delivered to subscribers in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueEvent {
    /// A job was added.
    Added {
        /// Queue name.
        queue: String,
        /// Job id.
        job_id: String,
    },
    /// A job was claimed.
    Active {
        /// Queue name.
        queue: String,
        /// Job id.
        job_id: String,
    },
    /// A job completed.
    Completed {
        /// Queue name.
        queue: String,
        /// Job id.
        job_id: String,
    },
    /// An attempt failed; `dead` says whether the job failed for good.
    Failed {
        /// Queue name.
        queue: String,
        /// Job id.
        job_id: String,
        /// True if no retry follows.
        dead: bool,
    },
    /// A lease expired; `requeued` as in [`StalledJob`].
    Stalled {
        /// Queue name.
        queue: String,
        /// Job id.
        job_id: String,
        /// True if it went back to waiting.
        requeued: bool,
    },
}

impl QueueEvent {
    /// The queue it happened in.
    pub fn queue(&self) -> &str {
        match self {
            QueueEvent::Added { queue, .. }
            | QueueEvent::Active { queue, .. }
            | QueueEvent::Completed { queue, .. }
            | QueueEvent::Failed { queue, .. }
            | QueueEvent::Stalled { queue, .. } => queue,
        }
    }

    /// As BullMQ's event stream names it: `{event, jobId, …}`.
    pub fn to_json(&self) -> Value {
        match self {
            QueueEvent::Added { job_id, .. } => {
                serde_json::json!({"event": "added", "jobId": job_id})
            }
            QueueEvent::Active { job_id, .. } => {
                serde_json::json!({"event": "active", "jobId": job_id})
            }
            QueueEvent::Completed { job_id, .. } => {
                serde_json::json!({"event": "completed", "jobId": job_id})
            }
            QueueEvent::Failed { job_id, dead, .. } => {
                serde_json::json!({"event": if *dead { "failed" } else { "retrying" }, "jobId": job_id})
            }
            QueueEvent::Stalled {
                job_id, requeued, ..
            } => serde_json::json!({"event": "stalled", "jobId": job_id, "requeued": requeued}),
        }
    }
}

/// Errors of a queue backend.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The lease is no longer held (expired and reclaimed, or released). The job's outcome
    /// belongs to whoever holds it now.
    #[error("lease lost for job {job_id} in queue {queue}")]
    LeaseLost {
        /// Queue name.
        queue: String,
        /// Job id.
        job_id: String,
    },
    /// No such job.
    #[error("job {job_id} not found in queue {queue}")]
    NotFound {
        /// Queue name.
        queue: String,
        /// Job id.
        job_id: String,
    },
    /// The job is not in a state that allows the operation.
    #[error("job {job_id} is {state}, {action} needs {needs}")]
    WrongState {
        /// Job id.
        job_id: String,
        /// Its current state.
        state: &'static str,
        /// What was attempted.
        action: &'static str,
        /// The state(s) it needs.
        needs: &'static str,
    },
    /// The options are invalid (e.g. zero attempts).
    #[error("invalid job: {0}")]
    Invalid(String),
    /// The storage behind the queue failed; retry later.
    #[error("queue storage unavailable: {0}")]
    Backend(String),
}

impl From<crate::db::DbError> for QueueError {
    fn from(e: crate::db::DbError) -> Self {
        QueueError::Backend(e.to_string())
    }
}

/// What [`Queue::complete_batch`] did: per job `Ok` or `LeaseLost`, and the jobs it claimed.
pub type BatchOutcome = (Vec<Result<(), QueueError>>, Vec<ClaimedJob>);

/// A fresh random lease token.
fn new_token() -> String {
    use rand::RngExt;
    format!("{:032x}", rand::rng().random::<u128>())
}

/// A duration in whole milliseconds, saturating.
fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The error for finishing with a lease that is no longer held.
fn lease_lost(lease: &Lease) -> QueueError {
    QueueError::LeaseLost {
        queue: lease.queue.clone(),
        job_id: lease.job_id.clone(),
    }
}

/// Highest priority number a job may have (BullMQ's limit, kept by every backend).
pub const MAX_PRIORITY: i32 = 2_097_152;

/// Checks what every backend refuses the same way: at least one attempt, a name, a priority in
/// `0..=MAX_PRIORITY`, and a caller-given id that is non-empty, has no `:` (ids are part of
/// Redis keys) and is not a plain number (those are the generated ids of the Redis backend).
pub fn validate_new_job(job: &NewJob) -> Result<(), QueueError> {
    if job.options.attempts == 0 {
        return Err(QueueError::Invalid("attempts must be at least 1".into()));
    }
    if job.name.is_empty() {
        return Err(QueueError::Invalid("a job needs a name".into()));
    }
    if !(0..=MAX_PRIORITY).contains(&job.options.priority) {
        return Err(QueueError::Invalid(format!(
            "priority {} is outside 0..={MAX_PRIORITY} (lower runs first)",
            job.options.priority
        )));
    }
    if let Some(id) = &job.id {
        if id.is_empty() || id.contains(':') {
            return Err(QueueError::Invalid(format!(
                "job id {id:?} must be non-empty and must not contain ':'"
            )));
        }
        if id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(QueueError::Invalid(format!(
                "job id {id:?} is a plain number; those are reserved for generated ids"
            )));
        }
    }
    Ok(())
}

/// A durable job queue. All methods are atomic with respect to each other.
///
/// Methods return `impl Future + Send` so that callers can hold any backend in a spawned task.
pub trait Queue: Send + Sync + 'static {
    /// Enqueues a job; with a caller-given id that already exists, does nothing.
    fn add(
        &self,
        queue: &str,
        job: NewJob,
    ) -> impl Future<Output = Result<AddOutcome, QueueError>> + Send;

    /// Claims up to `max` ready jobs, best priority first, each with a lease of `lease`.
    /// A paused queue hands out nothing.
    fn claim(
        &self,
        queue: &str,
        lease: Duration,
        max: usize,
    ) -> impl Future<Output = Result<Vec<ClaimedJob>, QueueError>> + Send;

    /// Extends each held lease to `lease` from now. Returns, per lease, whether it is still held.
    fn extend(
        &self,
        leases: Vec<Lease>,
        lease: Duration,
    ) -> impl Future<Output = Result<Vec<bool>, QueueError>> + Send;

    /// Marks the job completed with its result. Refused with [`QueueError::LeaseLost`] if the
    /// lease is no longer held.
    fn complete(
        &self,
        lease: &Lease,
        result: Value,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Completes the job and, in the same step where the backend can, claims the next ready
    /// job of the same queue for the same worker (a busy worker then needs one round trip per
    /// job). `Ok(None)` when nothing is ready or the next claim failed: the completion stands.
    fn complete_and_claim(
        &self,
        lease: &Lease,
        result: Value,
        next_lease: Duration,
    ) -> impl Future<Output = Result<Option<ClaimedJob>, QueueError>> + Send {
        async move {
            self.complete(lease, result).await?;
            match self.claim(&lease.queue, next_lease, 1).await {
                Ok(mut jobs) => Ok(jobs.pop()),
                Err(e) => {
                    tracing::warn!(queue = %lease.queue, error = %e, "claiming the next job failed");
                    Ok(None)
                }
            }
        }
    }

    /// Completes several jobs of `queue` and claims up to `want` ready ones, in one step where
    /// the backend can (a busy worker's jobs finishing together). Per job: `Ok` or
    /// `LeaseLost`. The claimed jobs are the worker's whatever the per-job outcomes.
    fn complete_batch(
        &self,
        queue: &str,
        done: Vec<(Lease, Value)>,
        next_lease: Duration,
        want: usize,
    ) -> impl Future<Output = Result<BatchOutcome, QueueError>> + Send {
        async move {
            let mut outcomes = Vec::with_capacity(done.len());
            for (lease, result) in done {
                match self.complete(&lease, result).await {
                    Ok(()) => outcomes.push(Ok(())),
                    Err(e @ QueueError::LeaseLost { .. }) => outcomes.push(Err(e)),
                    Err(e) => return Err(e),
                }
            }
            let claimed = if want == 0 {
                Vec::new()
            } else {
                self.claim(queue, next_lease, want)
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(queue, error = %e, "claiming the next jobs failed");
                        Vec::new()
                    })
            };
            Ok((outcomes, claimed))
        }
    }

    /// Records a failed attempt: delayed for a retry, or failed for good. Refused like `complete`.
    fn fail(
        &self,
        lease: &Lease,
        error: &JobError,
    ) -> impl Future<Output = Result<FailOutcome, QueueError>> + Send;

    /// Hands an unfinished job back to waiting without counting an attempt (graceful close).
    fn release(&self, lease: &Lease) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Moves jobs whose lease expired back to waiting, or to failed after `max_stalled` stalls.
    fn recover_stalled(
        &self,
        queue: &str,
        max_stalled: u32,
    ) -> impl Future<Output = Result<Vec<StalledJob>, QueueError>> + Send;

    /// Stops handing out jobs of `queue` (durable, seen by every worker).
    fn pause(&self, queue: &str) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Undoes [`Queue::pause`].
    fn resume(&self, queue: &str) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Whether `queue` is paused.
    fn is_paused(&self, queue: &str) -> impl Future<Output = Result<bool, QueueError>> + Send;

    /// Jobs per state.
    fn counts(&self, queue: &str) -> impl Future<Output = Result<Counts, QueueError>> + Send;

    /// One job, if it exists.
    fn get(
        &self,
        queue: &str,
        job_id: &str,
    ) -> impl Future<Output = Result<Option<Job>, QueueError>> + Send;

    /// Up to `limit` jobs in `state`, newest first.
    fn list(
        &self,
        queue: &str,
        state: JobState,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Job>, QueueError>> + Send;

    /// Moves a failed job back to waiting with fresh attempts.
    fn retry(
        &self,
        queue: &str,
        job_id: &str,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Removes a job that is not active. Returns whether it existed.
    fn remove(
        &self,
        queue: &str,
        job_id: &str,
    ) -> impl Future<Output = Result<bool, QueueError>> + Send;

    /// Applies retention to completed and failed jobs. Returns how many were removed.
    fn clean(
        &self,
        queue: &str,
        completed: Retention,
        failed: Retention,
    ) -> impl Future<Output = Result<u64, QueueError>> + Send;

    /// Events of this process's queue operations.
    fn subscribe(&self) -> broadcast::Receiver<QueueEvent>;

    /// Changes whenever a job may have become ready in this process (adds, retries, releases),
    /// so idle workers wake at once instead of at their next poll.
    fn work_signal(&self) -> watch::Receiver<u64>;
}

/// The closed set of queue backends. Callers match on it, so adding a backend breaks the build
/// until every caller handles it.
#[derive(Clone, Debug)]
pub enum QueueBackend {
    /// Embedded SQLite queue (the default).
    Sqlite(SqliteQueue),
    /// Redis in BullMQ's layout, for many hosts.
    Redis(RedisQueue),
}

impl QueueBackend {
    /// `sqlite` or `redis`.
    pub fn kind(&self) -> &'static str {
        match self {
            QueueBackend::Sqlite(_) => "sqlite",
            QueueBackend::Redis(_) => "redis",
        }
    }

    /// Recent events of `queue`, newest first: every process's from Redis's stream, this
    /// process's from SQLite.
    pub async fn recent_events(&self, queue: &str, count: usize) -> Result<Vec<Value>, QueueError> {
        match self {
            QueueBackend::Sqlite(q) => Ok(q.recent_events(queue, count)),
            QueueBackend::Redis(q) => q.recent_events(queue, count).await,
        }
    }

    /// Round trip to the backend's storage.
    pub async fn ping(&self) -> Result<Duration, QueueError> {
        match self {
            QueueBackend::Sqlite(q) => {
                let started = std::time::Instant::now();
                q.counts(names::CONTENT_GENERATION).await?;
                Ok(started.elapsed())
            }
            QueueBackend::Redis(q) => q.ping().await,
        }
    }
}

macro_rules! delegate {
    ($self:ident, $q:ident => $call:expr) => {
        match $self {
            QueueBackend::Sqlite($q) => $call,
            QueueBackend::Redis($q) => $call,
        }
    };
}

impl Queue for QueueBackend {
    async fn add(&self, queue: &str, job: NewJob) -> Result<AddOutcome, QueueError> {
        delegate!(self, q => q.add(queue, job).await)
    }
    async fn claim(
        &self,
        queue: &str,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedJob>, QueueError> {
        delegate!(self, q => q.claim(queue, lease, max).await)
    }
    async fn extend(&self, leases: Vec<Lease>, lease: Duration) -> Result<Vec<bool>, QueueError> {
        delegate!(self, q => q.extend(leases, lease).await)
    }
    async fn complete(&self, lease: &Lease, result: Value) -> Result<(), QueueError> {
        delegate!(self, q => q.complete(lease, result).await)
    }
    async fn complete_and_claim(
        &self,
        lease: &Lease,
        result: Value,
        next_lease: Duration,
    ) -> Result<Option<ClaimedJob>, QueueError> {
        delegate!(self, q => q.complete_and_claim(lease, result, next_lease).await)
    }
    async fn complete_batch(
        &self,
        queue: &str,
        done: Vec<(Lease, Value)>,
        next_lease: Duration,
        want: usize,
    ) -> Result<BatchOutcome, QueueError> {
        delegate!(self, q => q.complete_batch(queue, done, next_lease, want).await)
    }
    async fn fail(&self, lease: &Lease, error: &JobError) -> Result<FailOutcome, QueueError> {
        delegate!(self, q => q.fail(lease, error).await)
    }
    async fn release(&self, lease: &Lease) -> Result<(), QueueError> {
        delegate!(self, q => q.release(lease).await)
    }
    async fn recover_stalled(
        &self,
        queue: &str,
        max_stalled: u32,
    ) -> Result<Vec<StalledJob>, QueueError> {
        delegate!(self, q => q.recover_stalled(queue, max_stalled).await)
    }
    async fn pause(&self, queue: &str) -> Result<(), QueueError> {
        delegate!(self, q => q.pause(queue).await)
    }
    async fn resume(&self, queue: &str) -> Result<(), QueueError> {
        delegate!(self, q => q.resume(queue).await)
    }
    async fn is_paused(&self, queue: &str) -> Result<bool, QueueError> {
        delegate!(self, q => q.is_paused(queue).await)
    }
    async fn counts(&self, queue: &str) -> Result<Counts, QueueError> {
        delegate!(self, q => q.counts(queue).await)
    }
    async fn get(&self, queue: &str, job_id: &str) -> Result<Option<Job>, QueueError> {
        delegate!(self, q => q.get(queue, job_id).await)
    }
    async fn list(
        &self,
        queue: &str,
        state: JobState,
        limit: usize,
    ) -> Result<Vec<Job>, QueueError> {
        delegate!(self, q => q.list(queue, state, limit).await)
    }
    async fn retry(&self, queue: &str, job_id: &str) -> Result<(), QueueError> {
        delegate!(self, q => q.retry(queue, job_id).await)
    }
    async fn remove(&self, queue: &str, job_id: &str) -> Result<bool, QueueError> {
        delegate!(self, q => q.remove(queue, job_id).await)
    }
    async fn clean(
        &self,
        queue: &str,
        completed: Retention,
        failed: Retention,
    ) -> Result<u64, QueueError> {
        delegate!(self, q => q.clean(queue, completed, failed).await)
    }
    fn subscribe(&self) -> broadcast::Receiver<QueueEvent> {
        delegate!(self, q => q.subscribe())
    }
    fn work_signal(&self) -> watch::Receiver<u64> {
        delegate!(self, q => q.work_signal())
    }
}
