//! A job's records: its state, the options it is added with, the lease a claim hands out, the
//! full record for inspection, and how a failed attempt is reported and retried.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Backoff;

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
