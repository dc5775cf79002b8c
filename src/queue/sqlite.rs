//! The embedded queue on SQLite: one `UPDATE … RETURNING` claims a batch, every transition is
//! one short transaction on the database thread (see [`crate::db`]).

use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use rusqlite::{OptionalExtension, Row, named_params, params};
use serde_json::Value;
use tokio::sync::{broadcast, watch};

use super::{
    AddOutcome, Backoff, ClaimedJob, Clock, Counts, FailOutcome, Job, JobError, JobState, Lease,
    NewJob, Queue, QueueError, QueueEvent, Retention, Retry, StalledJob, SystemClock, lease_lost,
    ms, new_token,
};
use crate::db::{Db, DbError};

const MIGRATIONS: &[&str] = &[include_str!("sql/0001_jobs.sql")];
/// Events kept for [`SqliteQueue::recent_events`].
const RECENT_EVENTS: usize = 200;
const CLAIM_SQL: &str = include_str!("sql/claim.sql");
const RECOVER_STALLED_SQL: &str = include_str!("sql/recover_stalled.sql");

/// The embedded SQLite queue. Cheap to clone; clones share the database and event channels.
#[derive(Clone)]
pub struct SqliteQueue {
    db: Db,
    clock: Arc<dyn Clock>,
    events: EventLog,
    work: Arc<watch::Sender<u64>>,
}

/// This process's queue events. They are emitted on the database thread, right after the
/// statement that caused each, so their order is the order of the transitions: a worker that
/// claims a job the moment its insert commits cannot log `active` before the adder logs
/// `added`.
#[derive(Clone)]
struct EventLog {
    clock: Arc<dyn Clock>,
    sender: broadcast::Sender<QueueEvent>,
    /// The latest events, for the scheduler view (the state is in the table).
    recent: Arc<std::sync::Mutex<std::collections::VecDeque<(i64, QueueEvent)>>>,
}

impl EventLog {
    fn emit(&self, event: QueueEvent) {
        {
            let mut recent = self.recent.lock().expect("recent events");
            if recent.len() == RECENT_EVENTS {
                recent.pop_front();
            }
            recent.push_back((self.clock.now_ms(), event.clone()));
        }
        // No subscriber is fine: events are a convenience, the state is in the database.
        let _ = self.sender.send(event);
    }
}

impl std::fmt::Debug for SqliteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueue").field("db", &self.db).finish()
    }
}

impl SqliteQueue {
    /// Opens the queue on `db` (creating its tables) with the system clock.
    pub async fn open(db: Db) -> Result<Self, QueueError> {
        Self::open_with_clock(db, Arc::new(SystemClock)).await
    }

    /// Opens the queue with a given clock (tests use [`super::ManualClock`]).
    pub async fn open_with_clock(db: Db, clock: Arc<dyn Clock>) -> Result<Self, QueueError> {
        db.call(|c| crate::db::migrate(c, "queue", MIGRATIONS))
            .await?;
        let (sender, _) = broadcast::channel(1024);
        Ok(Self {
            db,
            events: EventLog {
                clock: clock.clone(),
                sender,
                recent: Default::default(),
            },
            clock,
            work: Arc::new(watch::channel(0).0),
        })
    }

    /// The latest events of `queue` in this process, newest first.
    pub fn recent_events(&self, queue: &str, count: usize) -> Vec<Value> {
        let recent = self.events.recent.lock().expect("recent events");
        recent
            .iter()
            .rev()
            .filter(|(_, e)| e.queue() == queue)
            .take(count)
            .map(|(at, e)| {
                let mut v = e.to_json();
                v["at"] = Value::from(*at);
                v
            })
            .collect()
    }

    fn signal_work(&self) {
        self.work.send_modify(|n| *n = n.wrapping_add(1));
    }
}

const JOB_COLUMNS: &str = "id, queue, name, payload, state, priority, attempts_made, attempts_started, \
     max_attempts, stalled_count, created_at, run_at, started_at, finished_at, last_error, result";

fn job_from_row(r: &Row<'_>, now: i64) -> rusqlite::Result<Job> {
    let state: String = r.get(4)?;
    let run_at: i64 = r.get(11)?;
    let mut state = JobState::parse(&state).unwrap_or(JobState::Failed);
    if state == JobState::Delayed && run_at <= now {
        state = JobState::Waiting;
    }
    let payload: String = r.get(3)?;
    let result: Option<String> = r.get(15)?;
    Ok(Job {
        id: r.get(0)?,
        queue: r.get(1)?,
        name: r.get(2)?,
        payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
        state,
        priority: r.get(5)?,
        attempts_made: r.get(6)?,
        attempts_started: r.get(7)?,
        max_attempts: r.get(8)?,
        stalled_count: r.get(9)?,
        created_at: r.get(10)?,
        run_at,
        started_at: r.get(12)?,
        finished_at: r.get(13)?,
        last_error: r.get(14)?,
        result: result.and_then(|s| serde_json::from_str(&s).ok()),
    })
}

impl Queue for SqliteQueue {
    async fn add(&self, queue: &str, job: NewJob) -> Result<AddOutcome, QueueError> {
        super::validate_new_job(&job)?;
        let id = job
            .id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        let now = self.clock.now_ms();
        let delay = ms(job.options.delay);
        let (state, run_at) = if delay > 0 {
            ("delayed", now + delay)
        } else {
            ("waiting", now)
        };
        let payload = job.payload.to_string();
        let backoff = serde_json::to_string(&job.options.backoff).expect("backoff serialises");
        let (q, id2, events) = (queue.to_owned(), id.clone(), self.events.clone());
        let inserted =
            self.db
                .call(move |c| {
                    let n = c
                    .prepare_cached(
                        "INSERT INTO queue_jobs (queue, id, name, payload, state, priority, run_at,
                             max_attempts, backoff, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                         ON CONFLICT (queue, id) DO NOTHING",
                    )?
                    .execute(params![
                        q, id2, job.name, payload, state, job.options.priority, run_at,
                        job.options.attempts, backoff, now
                    ])?;
                    if n == 1 {
                        events.emit(QueueEvent::Added {
                            queue: q,
                            job_id: id2,
                        });
                    }
                    Ok(n == 1)
                })
                .await?;
        if !inserted {
            return Ok(AddOutcome::Duplicate(id));
        }
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
        let now = self.clock.now_ms();
        let token = new_token();
        let (q, t, events) = (queue.to_owned(), token.clone(), self.events.clone());
        let rows = self
            .db
            .call(move |c| {
                let mut stmt = c.prepare_cached(CLAIM_SQL)?;
                let mut rows = stmt
                    .query_map(
                        named_params! {":token": t, ":until": now + ms(lease), ":now": now,
                        ":queue": q, ":max": max as i64},
                        |r| {
                            Ok((
                                (
                                    r.get::<_, i32>(4)?,
                                    r.get::<_, i64>(5)?,
                                    r.get::<_, i64>(0)?,
                                ),
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                                r.get::<_, String>(3)?,
                                r.get::<_, u32>(6)?,
                                r.get::<_, u32>(7)?,
                            ))
                        },
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                // RETURNING does not keep the subquery's order.
                rows.sort_by_key(|r| r.0);
                for r in &rows {
                    events.emit(QueueEvent::Active {
                        queue: q.clone(),
                        job_id: r.1.clone(),
                    });
                }
                Ok(rows)
            })
            .await?;
        let jobs: Vec<ClaimedJob> = rows
            .into_iter()
            .map(
                |((priority, _, _), id, name, payload, made, max_attempts)| ClaimedJob {
                    lease: Lease {
                        queue: queue.to_owned(),
                        job_id: id,
                        token: token.clone(),
                    },
                    name,
                    payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
                    attempt: made + 1,
                    max_attempts,
                    priority,
                },
            )
            .collect();
        Ok(jobs)
    }

    async fn extend(&self, leases: Vec<Lease>, lease: Duration) -> Result<Vec<bool>, QueueError> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let until = self.clock.now_ms() + ms(lease);
        Ok(self
            .db
            .transaction(move |tx| {
                let mut stmt = tx.prepare_cached(
                    "UPDATE queue_jobs SET lock_until = ?1
                     WHERE queue = ?2 AND id = ?3 AND lock_token = ?4 AND state = 'active'",
                )?;
                let mut held = Vec::with_capacity(leases.len());
                for l in &leases {
                    held.push(stmt.execute(params![until, l.queue, l.job_id, l.token])? == 1);
                }
                Ok(held)
            })
            .await?)
    }

    async fn complete(&self, lease: &Lease, result: Value) -> Result<(), QueueError> {
        let now = self.clock.now_ms();
        let (l, events) = (lease.clone(), self.events.clone());
        let result = result.to_string();
        let done = self
            .db
            .call(move |c| {
                let done = c
                    .prepare_cached(
                        "UPDATE queue_jobs SET state = 'completed', finished_at = ?1, result = ?2,
                         lock_token = NULL, lock_until = NULL
                     WHERE queue = ?3 AND id = ?4 AND lock_token = ?5 AND state = 'active'",
                    )?
                    .execute(params![now, result, l.queue, l.job_id, l.token])?
                    == 1;
                if done {
                    events.emit(QueueEvent::Completed {
                        queue: l.queue,
                        job_id: l.job_id,
                    });
                }
                Ok(done)
            })
            .await?;
        if !done {
            return Err(lease_lost(lease));
        }
        Ok(())
    }

    async fn fail(&self, lease: &Lease, error: &JobError) -> Result<FailOutcome, QueueError> {
        let now = self.clock.now_ms();
        let unit: f64 = rand::rng().random();
        let (l, err, events) = (lease.clone(), error.clone(), self.events.clone());
        let outcome = self
            .db
            .call(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let row: Option<(u32, u32, String)> = tx
                    .prepare_cached(
                        "SELECT attempts_made, max_attempts, backoff FROM queue_jobs
                         WHERE queue = ?1 AND id = ?2 AND lock_token = ?3 AND state = 'active'",
                    )?
                    .query_row(params![l.queue, l.job_id, l.token], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .optional()?;
                let Some((made, max_attempts, backoff)) = row else {
                    return Ok(None);
                };
                if let Retry::Wait(d) = err.retry {
                    // Waiting for a dependency: delayed, no attempt spent.
                    let run_at = now + ms(d);
                    tx.prepare_cached(
                        "UPDATE queue_jobs SET state = 'delayed', run_at = ?1, last_error = ?2,
                             lock_token = NULL, lock_until = NULL
                         WHERE queue = ?3 AND id = ?4",
                    )?
                    .execute(params![run_at, err.message, l.queue, l.job_id])?;
                    tx.commit()?;
                    events.emit(QueueEvent::Failed {
                        queue: l.queue,
                        job_id: l.job_id,
                        dead: false,
                    });
                    return Ok(Some(FailOutcome::Retrying { run_at }));
                }
                let failures = made + 1;
                let delay = match err.retry {
                    Retry::Wait(_) => unreachable!("handled above"),
                    Retry::Never => None,
                    _ if failures >= max_attempts => None,
                    Retry::After(d) => Some(d),
                    Retry::Backoff => {
                        let backoff: Backoff = serde_json::from_str(&backoff).unwrap_or_default();
                        Some(backoff.delay(failures, unit))
                    }
                };
                let outcome = match delay {
                    Some(d) => FailOutcome::Retrying { run_at: now + ms(d) },
                    None => FailOutcome::Dead,
                };
                let (state, run_at, finished) = match outcome {
                    FailOutcome::Retrying { run_at } => ("delayed", Some(run_at), None),
                    FailOutcome::Dead => ("failed", None, Some(now)),
                };
                tx.prepare_cached(
                    "UPDATE queue_jobs SET state = ?1, run_at = COALESCE(?2, run_at), finished_at = ?3,
                         attempts_made = attempts_made + 1, last_error = ?4,
                         lock_token = NULL, lock_until = NULL
                     WHERE queue = ?5 AND id = ?6",
                )?
                .execute(params![state, run_at, finished, err.message, l.queue, l.job_id])?;
                tx.commit()?;
                events.emit(QueueEvent::Failed {
                    queue: l.queue,
                    job_id: l.job_id,
                    dead: outcome == FailOutcome::Dead,
                });
                Ok(Some(outcome))
            })
            .await?;
        let outcome = outcome.ok_or_else(|| lease_lost(lease))?;
        if outcome != FailOutcome::Dead {
            self.signal_work();
        }
        Ok(outcome)
    }

    async fn release(&self, lease: &Lease) -> Result<(), QueueError> {
        let l = lease.clone();
        let done = self
            .db
            .call(move |c| {
                Ok(c.prepare_cached(
                    "UPDATE queue_jobs SET state = 'waiting', lock_token = NULL, lock_until = NULL,
                         attempts_started = MAX(attempts_started - 1, 0)
                     WHERE queue = ?1 AND id = ?2 AND lock_token = ?3 AND state = 'active'",
                )?
                .execute(params![l.queue, l.job_id, l.token])?
                    == 1)
            })
            .await?;
        if !done {
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
        let now = self.clock.now_ms();
        let (q, events) = (queue.to_owned(), self.events.clone());
        let stalled = self
            .db
            .call(move |c| {
                let mut stmt = c.prepare_cached(RECOVER_STALLED_SQL)?;
                let rows = stmt
                    .query_map(
                        named_params! {":max_stalled": max_stalled, ":now": now, ":queue": q},
                        |r| {
                            Ok(StalledJob {
                                job_id: r.get(0)?,
                                requeued: r.get::<_, String>(1)? == "waiting",
                            })
                        },
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                for s in &rows {
                    events.emit(QueueEvent::Stalled {
                        queue: q.clone(),
                        job_id: s.job_id.clone(),
                        requeued: s.requeued,
                    });
                }
                Ok(rows)
            })
            .await?;
        if stalled.iter().any(|s| s.requeued) {
            self.signal_work();
        }
        Ok(stalled)
    }

    async fn pause(&self, queue: &str) -> Result<(), QueueError> {
        set_paused(&self.db, queue, true).await
    }

    async fn resume(&self, queue: &str) -> Result<(), QueueError> {
        set_paused(&self.db, queue, false).await?;
        self.signal_work();
        Ok(())
    }

    async fn is_paused(&self, queue: &str) -> Result<bool, QueueError> {
        let q = queue.to_owned();
        Ok(self
            .db
            .call(move |c| {
                Ok(
                    c.prepare_cached("SELECT paused FROM queue_meta WHERE queue = ?1")?
                        .query_row([q], |r| r.get::<_, bool>(0))
                        .optional()?
                        .unwrap_or(false),
                )
            })
            .await?)
    }

    async fn counts(&self, queue: &str) -> Result<Counts, QueueError> {
        let now = self.clock.now_ms();
        let q = queue.to_owned();
        Ok(self
            .db
            .call(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT state, run_at <= ?2, COUNT(*) FROM queue_jobs WHERE queue = ?1 GROUP BY 1, 2",
                )?;
                let mut counts = Counts::default();
                let rows = stmt.query_map(params![q, now], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, i64>(2)? as u64))
                })?;
                for row in rows {
                    let (state, due, n) = row?;
                    match (state.as_str(), due) {
                        ("waiting", _) | ("delayed", true) => counts.waiting += n,
                        ("delayed", false) => counts.delayed += n,
                        ("active", _) => counts.active += n,
                        ("completed", _) => counts.completed += n,
                        _ => counts.failed += n,
                    }
                }
                Ok(counts)
            })
            .await?)
    }

    async fn get(&self, queue: &str, job_id: &str) -> Result<Option<Job>, QueueError> {
        let now = self.clock.now_ms();
        let (q, id) = (queue.to_owned(), job_id.to_owned());
        Ok(self
            .db
            .call(move |c| {
                let sql =
                    format!("SELECT {JOB_COLUMNS} FROM queue_jobs WHERE queue = ?1 AND id = ?2");
                Ok(c.prepare_cached(&sql)?
                    .query_row(params![q, id], |r| job_from_row(r, now))
                    .optional()?)
            })
            .await?)
    }

    async fn list(
        &self,
        queue: &str,
        state: JobState,
        limit: usize,
    ) -> Result<Vec<Job>, QueueError> {
        let now = self.clock.now_ms();
        let q = queue.to_owned();
        // "waiting" as shown includes delayed jobs whose time has come, and "delayed" excludes them.
        let filter = match state {
            JobState::Waiting => "(state = 'waiting' OR (state = 'delayed' AND run_at <= ?2))",
            JobState::Delayed => "(state = 'delayed' AND run_at > ?2)",
            JobState::Active => "(state = 'active' AND ?2 IS NOT NULL)",
            JobState::Completed => "(state = 'completed' AND ?2 IS NOT NULL)",
            JobState::Failed => "(state = 'failed' AND ?2 IS NOT NULL)",
        };
        Ok(self
            .db
            .call(move |c| {
                let sql = format!(
                    "SELECT {JOB_COLUMNS} FROM queue_jobs WHERE queue = ?1 AND {filter}
                     ORDER BY seq DESC LIMIT ?3"
                );
                let mut stmt = c.prepare_cached(&sql)?;
                let jobs = stmt
                    .query_map(params![q, now, limit as i64], |r| job_from_row(r, now))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(jobs)
            })
            .await?)
    }

    async fn retry(&self, queue: &str, job_id: &str) -> Result<(), QueueError> {
        let now = self.clock.now_ms();
        let (q, id) = (queue.to_owned(), job_id.to_owned());
        let state = self
            .db
            .transaction(move |tx| {
                let state = job_state(tx, &q, &id)?;
                if state.as_deref() == Some("failed") {
                    tx.execute(
                        "UPDATE queue_jobs SET state = 'waiting', run_at = ?3, attempts_made = 0,
                             stalled_count = 0, finished_at = NULL
                         WHERE queue = ?1 AND id = ?2",
                        params![q, id, now],
                    )?;
                }
                Ok(state)
            })
            .await?;
        match state.as_deref().and_then(JobState::parse) {
            None => Err(QueueError::NotFound {
                queue: queue.to_owned(),
                job_id: job_id.to_owned(),
            }),
            Some(JobState::Failed) => {
                self.signal_work();
                Ok(())
            }
            Some(other) => Err(QueueError::WrongState {
                job_id: job_id.to_owned(),
                state: other.as_str(),
                action: "retry",
                needs: "failed",
            }),
        }
    }

    async fn remove(&self, queue: &str, job_id: &str) -> Result<bool, QueueError> {
        let (q, id) = (queue.to_owned(), job_id.to_owned());
        let outcome = self
            .db
            .transaction(move |tx| {
                let state = job_state(tx, &q, &id)?;
                if state.as_deref().is_some_and(|s| s != "active") {
                    tx.execute(
                        "DELETE FROM queue_jobs WHERE queue = ?1 AND id = ?2",
                        params![q, id],
                    )?;
                }
                Ok(state)
            })
            .await?;
        match outcome.as_deref() {
            None => Ok(false),
            Some("active") => Err(QueueError::WrongState {
                job_id: job_id.to_owned(),
                state: "active",
                action: "remove",
                needs: "any state but active",
            }),
            Some(_) => Ok(true),
        }
    }

    async fn clean(
        &self,
        queue: &str,
        completed: Retention,
        failed: Retention,
    ) -> Result<u64, QueueError> {
        let now = self.clock.now_ms();
        let q = queue.to_owned();
        Ok(self
            .db
            .transaction(move |tx| {
                let mut removed = 0u64;
                for (state, keep) in [("completed", completed), ("failed", failed)] {
                    let oldest = now - ms(keep.max_age);
                    removed += tx.execute(
                        "DELETE FROM queue_jobs WHERE queue = ?1 AND state = ?2 AND (finished_at < ?3
                             OR seq IN (SELECT seq FROM queue_jobs WHERE queue = ?1 AND state = ?2
                                        ORDER BY finished_at DESC, seq DESC LIMIT -1 OFFSET ?4))",
                        params![q, state, oldest, keep.keep as i64],
                    )? as u64;
                }
                Ok(removed)
            })
            .await?)
    }

    fn subscribe(&self) -> broadcast::Receiver<QueueEvent> {
        self.events.sender.subscribe()
    }

    fn work_signal(&self) -> watch::Receiver<u64> {
        self.work.subscribe()
    }
}

fn job_state(
    tx: &rusqlite::Transaction<'_>,
    queue: &str,
    id: &str,
) -> rusqlite::Result<Option<String>> {
    tx.query_row(
        "SELECT state FROM queue_jobs WHERE queue = ?1 AND id = ?2",
        params![queue, id],
        |r| r.get(0),
    )
    .optional()
}

async fn set_paused(db: &Db, queue: &str, paused: bool) -> Result<(), QueueError> {
    let q = queue.to_owned();
    db.call(move |c| {
        c.execute(
            "INSERT INTO queue_meta (queue, paused) VALUES (?1, ?2)
             ON CONFLICT (queue) DO UPDATE SET paused = excluded.paused",
            params![q, paused],
        )?;
        Ok(())
    })
    .await
    .map_err(|e: DbError| e.into())
}
