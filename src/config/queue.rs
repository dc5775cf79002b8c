//! Settings of the job queue, validated (`[queue]`, `REDIS_*`). The backends live in
//! [`crate::queue`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::shared::Secret;

/// Which queue backend runs the jobs.
#[derive(Debug, Clone)]
pub enum QueueBackendConfig {
    /// The embedded SQLite queue (default).
    Sqlite,
    /// Redis in BullMQ's layout (`REDIS_URL` or `REDIS_HOST`).
    Redis(RedisConfig),
}

/// Where the Redis queue lives.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// Full URL; may hold the password, so it is a secret.
    pub url: Secret,
    /// Key prefix (BullMQ's `bull` by default).
    pub prefix: String,
    /// Refuse to start when `maxmemory-policy` is not `noeviction` (else warn loudly).
    pub require_noeviction: bool,
}

/// Queue tuning.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Backend.
    pub backend: QueueBackendConfig,
    /// Lease length.
    pub lease: Duration,
    /// Stalled-job check interval.
    pub stalled_interval: Duration,
    /// Stalls before failing a job.
    pub max_stalled: u32,
    /// Idle poll interval.
    pub poll_interval: Duration,
    /// Graceful stop deadline.
    pub shutdown_grace: Duration,
    /// Retention of completed jobs.
    pub completed: Retention,
    /// Retention of failed jobs.
    pub failed: Retention,
}

/// Retention of finished jobs: keep at most `keep` and none older than `max_age`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Maximum number kept per queue and state.
    pub keep: u64,
    /// Maximum age.
    pub max_age: Duration,
}
