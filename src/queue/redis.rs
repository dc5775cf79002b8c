//! The Redis queue backend, for many workers on many hosts.
//!
//! Jobs live in BullMQ's data layout (`<prefix>:<queue>:wait|active|prioritized|delayed|…`, one
//! hash per job with BullMQ's field names, the `events` stream and the `marker` set), so a Node
//! BullMQ producer can enqueue jobs that blogflow runs, read their results back, and BullMQ's
//! dashboards show blogflow's queues. Every state change is one Lua script (`redis/*.lua`), so
//! it is atomic; the scripts are blogflow's own because the lease operations the worker runtime
//! needs (claim a batch, extend, finish with a retry decision, hand back, recover stalls) are
//! not all reachable through `bullmq-official`'s public API. docs/decisions.md says more.
//!
//! Time: scripts take "now" from the [`Clock`] and never read Redis time, so tests move delays
//! and backoff with a manual clock; lock expiry is Redis's own `PX`.
//!
//! The connection is a [`ConnectionManager`] created lazily: the service starts while Redis is
//! down, operations fail with [`QueueError::Backend`] until it is back, and the manager
//! reconnects by itself (scripts are re-sent after a restart, `EVALSHA` falls back to `EVAL`).

pub use crate::shared::secret::redact_url;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ::redis::Client;
use rand::RngExt;
use serde_json::Value;
use tokio::sync::{broadcast, watch};

use super::{
    AddOutcome, BatchOutcome, ClaimedJob, Clock, Counts, FailOutcome, Job, JobError, JobState,
    Lease, NewJob, Queue, QueueError, QueueEvent, Retention, Retry, StalledJob, SystemClock,
    lease_lost, ms, new_token,
};

mod conn;
mod markers;
mod records;
mod scripts;

use conn::{Conn, backend};
use records::{bullmq_opts, job_from_record, max_attempts, validate};
use scripts::Scripts;

/// Longest job id accepted (ids are part of Redis keys).
const MAX_ID_LEN: usize = 200;
/// Most jobs one `clean` script call deletes, so it never blocks Redis for long.
const CLEAN_BATCH: u64 = 5_000;

/// Where and how to reach Redis.
#[derive(Clone)]
pub struct RedisOptions {
    /// `redis://[:password@]host:port[/db]` or `rediss://…`. May hold a password: never log it.
    pub url: String,
    /// Key prefix (BullMQ's default is `bull`; use a hash tag such as `{bull}` for Redis Cluster).
    pub prefix: String,
}

impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOptions")
            .field("url", &redact_url(&self.url))
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// The Redis-backed queue. Cheap to clone.
#[derive(Clone)]
pub struct RedisQueue {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    conn: Conn,
    /// Queues whose BullMQ marker a listener task watches (see [`listen_for_markers`]).
    listening: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Stops the listener tasks when the last clone of the queue is dropped.
    stop: tokio_util::sync::CancellationToken,
    prefix: String,
    display: String,
    clock: Arc<dyn Clock>,
    scripts: Scripts,
    events: broadcast::Sender<QueueEvent>,
    work: Arc<watch::Sender<u64>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("server", &self.inner.display)
            .field("prefix", &self.inner.prefix)
            .finish()
    }
}

impl RedisQueue {
    /// A queue on the server at `options.url`. Does not connect yet: the first operation does,
    /// and later ones reconnect after a lost connection.
    pub fn new(options: &RedisOptions) -> Result<Self, QueueError> {
        Self::with_clock(options, Arc::new(SystemClock))
    }

    /// Like [`RedisQueue::new`] with an injected clock (tests).
    pub fn with_clock(options: &RedisOptions, clock: Arc<dyn Clock>) -> Result<Self, QueueError> {
        let client = Client::open(options.url.as_str()).map_err(|e| {
            QueueError::Invalid(format!(
                "REDIS_URL {} is not a valid Redis URL ({e}); expected redis://[:password@]host:port[/db]",
                redact_url(&options.url)
            ))
        })?;
        if options.prefix.is_empty() || options.prefix.contains(char::is_whitespace) {
            return Err(QueueError::Invalid(format!(
                "the Redis key prefix {:?} must be non-empty and without spaces",
                options.prefix
            )));
        }
        let conn = Conn::new(client.clone()).map_err(backend)?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                conn,
                listening: Default::default(),
                stop: Default::default(),
                prefix: options.prefix.clone(),
                display: redact_url(&options.url),
                clock,
                scripts: Scripts::new(),
                events: broadcast::channel(1024).0,
                work: Arc::new(watch::channel(0).0),
            }),
        })
    }

    /// The server, password redacted.
    pub fn server(&self) -> &str {
        &self.inner.display
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Round trip to the server.
    pub async fn ping(&self) -> Result<Duration, QueueError> {
        let started = std::time::Instant::now();
        let _: String = self
            .inner
            .conn
            .with(|mut c| async move { ::redis::cmd("PING").query_async(&mut c).await })
            .await?;
        Ok(started.elapsed())
    }

    /// The server's `maxmemory-policy`. Anything but `noeviction` lets Redis drop jobs under
    /// memory pressure.
    pub async fn maxmemory_policy(&self) -> Result<String, QueueError> {
        let v: Vec<String> = self
            .inner
            .conn
            .with(|mut c| async move {
                ::redis::cmd("CONFIG")
                    .arg("GET")
                    .arg("maxmemory-policy")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(v.get(1).cloned().unwrap_or_default())
    }

    /// The most recent entries of the queue's BullMQ event stream (every process's events),
    /// newest first, as `{id, event, jobId, …}` objects.
    pub async fn recent_events(&self, queue: &str, count: usize) -> Result<Vec<Value>, QueueError> {
        let key = format!("{}:{}:events", self.inner.prefix, queue);
        let reply: ::redis::streams::StreamRangeReply = self
            .inner
            .conn
            .with(|mut c| async move {
                ::redis::cmd("XREVRANGE")
                    .arg(&key)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(count)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(reply
            .ids
            .into_iter()
            .map(|entry| {
                let mut obj = serde_json::Map::new();
                let at = entry
                    .id
                    .split('-')
                    .next()
                    .and_then(|t| t.parse::<i64>().ok());
                obj.insert("at".into(), at.map_or(Value::Null, Value::from));
                for (k, v) in &entry.map {
                    if let Ok(s) = ::redis::from_redis_value_ref::<String>(v) {
                        obj.insert(k.clone(), Value::String(s));
                    }
                }
                Value::Object(obj)
            })
            .collect())
    }

    fn emit(&self, event: QueueEvent) {
        let _ = self.inner.events.send(event);
    }

    /// Completes `lease`'s job and, with `next`, claims the next ready job in the same script.
    async fn finish(
        &self,
        lease: &Lease,
        result: Value,
        next: Option<Duration>,
    ) -> Result<Option<ClaimedJob>, QueueError> {
        let token = new_token();
        let mut inv = self.invocation(&self.inner.scripts.complete, &lease.queue);
        inv.arg(&lease.job_id)
            .arg(&lease.token)
            .arg(result.to_string());
        if let Some(next) = next {
            self.watch_markers(&lease.queue);
            inv.arg("1").arg(&token).arg(ms(next).max(1));
        }
        let (code, rows): (i64, Vec<ClaimRow>) = self.run(&inv).await?;
        if code != 0 {
            return Err(lease_lost(lease));
        }
        self.emit(QueueEvent::Completed {
            queue: lease.queue.clone(),
            job_id: lease.job_id.clone(),
        });
        Ok(self.claimed(&lease.queue, &token, rows).pop())
    }

    fn claimed(&self, queue: &str, token: &str, rows: Vec<ClaimRow>) -> Vec<ClaimedJob> {
        rows.into_iter()
            .map(|(id, name, data, opts, atm, priority)| {
                let opts: Value = serde_json::from_str(&opts).unwrap_or(Value::Null);
                self.emit(QueueEvent::Active {
                    queue: queue.to_owned(),
                    job_id: id.clone(),
                });
                ClaimedJob {
                    lease: Lease {
                        queue: queue.to_owned(),
                        job_id: id,
                        token: token.to_owned(),
                    },
                    name,
                    payload: serde_json::from_str(&data).unwrap_or(Value::String(data)),
                    attempt: atm + 1,
                    max_attempts: max_attempts(&opts),
                    priority,
                }
            })
            .collect()
    }
}

type Record = (String, String, HashMap<String, String>, i64);
/// `{id, name, data, opts, attemptsMade, priority}` of a claimed job.
type ClaimRow = (String, String, String, String, u32, i32);

impl Queue for RedisQueue {
    async fn add(&self, queue: &str, job: NewJob) -> Result<AddOutcome, QueueError> {
        validate(&job)?;
        let mut inv = self.invocation(&self.inner.scripts.add, queue);
        inv.arg(job.id.as_deref().unwrap_or(""))
            .arg(&job.name)
            .arg(job.payload.to_string())
            .arg(bullmq_opts(&job).to_string())
            .arg(ms(job.options.delay))
            .arg(job.options.priority);
        let (added, id): (i64, String) = self.run(&inv).await?;
        if added == 0 {
            return Ok(AddOutcome::Duplicate(id));
        }
        self.emit(QueueEvent::Added {
            queue: queue.to_owned(),
            job_id: id.clone(),
        });
        self.signal_work();
        Ok(AddOutcome::Added(id))
    }

    async fn claim(
        &self,
        queue: &str,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedJob>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        self.watch_markers(queue);
        let token = new_token();
        let mut inv = self.invocation(&self.inner.scripts.claim, queue);
        inv.arg(&token).arg(ms(lease).max(1)).arg(max);
        let rows: Vec<ClaimRow> = self.run(&inv).await?;
        Ok(self.claimed(queue, &token, rows))
    }

    async fn extend(&self, leases: Vec<Lease>, lease: Duration) -> Result<Vec<bool>, QueueError> {
        let mut held = vec![false; leases.len()];
        let mut by_queue: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, l) in leases.iter().enumerate() {
            by_queue.entry(l.queue.as_str()).or_default().push(i);
        }
        for (queue, idx) in by_queue {
            let mut inv = self.invocation(&self.inner.scripts.extend, queue);
            inv.arg(ms(lease).max(1));
            for &i in &idx {
                inv.arg(&leases[i].job_id).arg(&leases[i].token);
            }
            let got: Vec<i64> = self.run(&inv).await?;
            for (&i, ok) in idx.iter().zip(got) {
                held[i] = ok == 1;
            }
        }
        Ok(held)
    }

    async fn complete(&self, lease: &Lease, result: Value) -> Result<(), QueueError> {
        self.finish(lease, result, None).await.map(drop)
    }

    async fn complete_and_claim(
        &self,
        lease: &Lease,
        result: Value,
        next_lease: Duration,
    ) -> Result<Option<ClaimedJob>, QueueError> {
        self.finish(lease, result, Some(next_lease)).await
    }

    async fn complete_batch(
        &self,
        queue: &str,
        done: Vec<(Lease, Value)>,
        next_lease: Duration,
        want: usize,
    ) -> Result<BatchOutcome, QueueError> {
        if want > 0 {
            self.watch_markers(queue);
        }
        let token = new_token();
        let mut inv = self.invocation(&self.inner.scripts.complete_batch, queue);
        inv.arg(done.len());
        for (lease, result) in &done {
            inv.arg(&lease.job_id)
                .arg(&lease.token)
                .arg(result.to_string());
        }
        inv.arg(want).arg(&token).arg(ms(next_lease).max(1));
        let (codes, rows): (Vec<i64>, Vec<ClaimRow>) = self.run(&inv).await?;
        let outcomes = done
            .iter()
            .zip(codes)
            .map(|((lease, _), code)| {
                if code == 0 {
                    self.emit(QueueEvent::Completed {
                        queue: lease.queue.clone(),
                        job_id: lease.job_id.clone(),
                    });
                    Ok(())
                } else {
                    Err(lease_lost(lease))
                }
            })
            .collect();
        Ok((outcomes, self.claimed(queue, &token, rows)))
    }

    async fn fail(&self, lease: &Lease, error: &JobError) -> Result<FailOutcome, QueueError> {
        let (mode, after) = match error.retry {
            Retry::Never => ("never", 0),
            Retry::Backoff => ("backoff", 0),
            Retry::After(d) => ("after", ms(d)),
            Retry::Wait(d) => ("wait", ms(d)),
        };
        let unit: f64 = rand::rng().random();
        let mut inv = self.invocation(&self.inner.scripts.fail, &lease.queue);
        inv.arg(&lease.job_id)
            .arg(&lease.token)
            .arg(&error.message)
            .arg(mode)
            .arg(after)
            .arg(unit);
        let reply: Vec<i64> = self.run(&inv).await?;
        let outcome = match reply.as_slice() {
            [1, run_at] => FailOutcome::Retrying { run_at: *run_at },
            [0] => FailOutcome::Dead,
            _ => return Err(lease_lost(lease)),
        };
        let dead = outcome == FailOutcome::Dead;
        self.emit(QueueEvent::Failed {
            queue: lease.queue.clone(),
            job_id: lease.job_id.clone(),
            dead,
        });
        if !dead {
            self.signal_work();
        }
        Ok(outcome)
    }

    async fn release(&self, lease: &Lease) -> Result<(), QueueError> {
        let mut inv = self.invocation(&self.inner.scripts.release, &lease.queue);
        inv.arg(&lease.job_id).arg(&lease.token);
        let code: i64 = self.run(&inv).await?;
        if code != 0 {
            return Err(lease_lost(lease));
        }
        self.signal_work();
        Ok(())
    }

    async fn recover_stalled(
        &self,
        queue: &str,
        max_stalled: u32,
    ) -> Result<Vec<StalledJob>, QueueError> {
        let mut inv = self.invocation(&self.inner.scripts.recover, queue);
        inv.arg(max_stalled);
        let rows: Vec<(String, i64)> = self.run(&inv).await?;
        let stalled: Vec<StalledJob> = rows
            .into_iter()
            .map(|(job_id, requeued)| StalledJob {
                job_id,
                requeued: requeued == 1,
            })
            .collect();
        for s in &stalled {
            self.emit(QueueEvent::Stalled {
                queue: queue.to_owned(),
                job_id: s.job_id.clone(),
                requeued: s.requeued,
            });
        }
        if stalled.iter().any(|s| s.requeued) {
            self.signal_work();
        }
        Ok(stalled)
    }

    async fn pause(&self, queue: &str) -> Result<(), QueueError> {
        let mut inv = self.invocation(&self.inner.scripts.pause, queue);
        inv.arg("paused");
        self.run::<i64>(&inv).await.map(drop)
    }

    async fn resume(&self, queue: &str) -> Result<(), QueueError> {
        let mut inv = self.invocation(&self.inner.scripts.pause, queue);
        inv.arg("resumed");
        self.run::<i64>(&inv).await?;
        self.signal_work();
        Ok(())
    }

    async fn is_paused(&self, queue: &str) -> Result<bool, QueueError> {
        let key = format!("{}:{}:meta", self.inner.prefix, queue);
        self.inner
            .conn
            .with(|mut c| async move {
                ::redis::cmd("HEXISTS")
                    .arg(&key)
                    .arg("paused")
                    .query_async(&mut c)
                    .await
            })
            .await
    }

    async fn counts(&self, queue: &str) -> Result<Counts, QueueError> {
        let inv = self.invocation(&self.inner.scripts.counts, queue);
        let (waiting, delayed, active, completed, failed) = self.run(&inv).await?;
        Ok(Counts {
            waiting,
            delayed,
            active,
            completed,
            failed,
        })
    }

    async fn get(&self, queue: &str, job_id: &str) -> Result<Option<Job>, QueueError> {
        let mut inv = self.invocation(&self.inner.scripts.get, queue);
        inv.arg(job_id);
        let record: Option<Record> = self.run(&inv).await?;
        Ok(record.map(|r| job_from_record(queue, r)))
    }

    async fn list(
        &self,
        queue: &str,
        state: JobState,
        limit: usize,
    ) -> Result<Vec<Job>, QueueError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut inv = self.invocation(&self.inner.scripts.list, queue);
        inv.arg(state.as_str()).arg(limit);
        let records: Vec<Record> = self.run(&inv).await?;
        Ok(records
            .into_iter()
            .map(|r| job_from_record(queue, r))
            .filter(|j| j.state == state)
            .collect())
    }

    async fn retry(&self, queue: &str, job_id: &str) -> Result<(), QueueError> {
        let mut inv = self.invocation(&self.inner.scripts.retry, queue);
        inv.arg(job_id);
        let reply: String = self.run(&inv).await?;
        match reply.as_str() {
            "ok" => {
                self.signal_work();
                Ok(())
            }
            "missing" => Err(QueueError::NotFound {
                queue: queue.to_owned(),
                job_id: job_id.to_owned(),
            }),
            other => Err(QueueError::WrongState {
                job_id: job_id.to_owned(),
                state: JobState::parse(other).map_or("unknown", JobState::as_str),
                action: "retry",
                needs: "failed",
            }),
        }
    }

    async fn remove(&self, queue: &str, job_id: &str) -> Result<bool, QueueError> {
        let mut inv = self.invocation(&self.inner.scripts.remove, queue);
        inv.arg(job_id);
        match self.run::<i64>(&inv).await? {
            -1 => Err(QueueError::WrongState {
                job_id: job_id.to_owned(),
                state: "active",
                action: "remove",
                needs: "any state but active",
            }),
            n => Ok(n == 1),
        }
    }

    async fn clean(
        &self,
        queue: &str,
        completed: Retention,
        failed: Retention,
    ) -> Result<u64, QueueError> {
        let mut total = 0;
        loop {
            let mut inv = self.invocation(&self.inner.scripts.clean, queue);
            inv.arg(completed.keep)
                .arg(ms(completed.max_age))
                .arg(failed.keep)
                .arg(ms(failed.max_age))
                .arg(CLEAN_BATCH);
            let removed: u64 = self.run(&inv).await?;
            total += removed;
            if removed < CLEAN_BATCH {
                return Ok(total);
            }
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<QueueEvent> {
        self.inner.events.subscribe()
    }

    fn work_signal(&self) -> watch::Receiver<u64> {
        self.inner.work.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::Backoff;
    use serde_json::json;

    #[test]
    fn passwords_never_reach_the_display_form() {
        assert_eq!(
            redact_url("redis://:s3cret@10.0.0.1:6379/0"),
            "redis://***@10.0.0.1:6379/0"
        );
        assert_eq!(
            redact_url("rediss://user:pw@host:6380"),
            "rediss://***@host:6380"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        let opts = RedisOptions {
            url: "redis://:hunter2@h:1".into(),
            prefix: "bull".into(),
        };
        assert!(!format!("{opts:?}").contains("hunter2"));
    }

    #[test]
    fn exponential_backoff_is_stored_in_bullmq_shape() {
        let job = NewJob::new("x", json!({})).with_options(super::super::JobOptions {
            attempts: 3,
            backoff: Backoff::Exponential {
                base_ms: 1000,
                max_ms: 8000,
                jitter: 0.5,
            },
            ..Default::default()
        });
        let o = bullmq_opts(&job);
        assert_eq!(o["attempts"], 3);
        assert_eq!(
            o["backoff"],
            json!({"type": "exponential", "delay": 1000, "jitter": 0.5, "maxDelay": 8000})
        );
    }
}
