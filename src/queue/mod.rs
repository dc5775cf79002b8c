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

pub use crate::config::Retention;
use std::future::Future;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{broadcast, watch};

pub use backoff::Backoff;
pub use clock::{Clock, ManualClock, SystemClock};
pub use redis::{RedisOptions, RedisQueue};
pub use sqlite::SqliteQueue;

mod event;
mod job;
pub mod names;

pub use event::QueueEvent;
pub use job::{
    AddOutcome, ClaimedJob, Counts, FailOutcome, Job, JobError, JobOptions, JobState, Lease,
    NewJob, Retry, StalledJob,
};

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
