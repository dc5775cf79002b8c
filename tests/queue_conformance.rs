//! The queue conformance suite: every backend must pass every case.
//!
//! A harness gives the suite a fresh queue and a way to move time. The SQLite harness moves a
//! manual clock, so delays, backoff and stalls are checked without waiting.

use std::sync::Arc;
use std::time::Duration;

use blogflow::db::Db;
use blogflow::queue::{
    AddOutcome, Backoff, Counts, FailOutcome, JobError, JobOptions, JobState, ManualClock, NewJob,
    Queue, QueueError, QueueEvent, RedisOptions, RedisQueue, Retention, SqliteQueue,
};
use serde_json::json;

const Q: &str = "conformance";

/// What the suite needs from a backend under test.
///
/// Every duration in the suite is a multiple of `UNIT`: a harness with a manual clock uses
/// whole seconds (instant), one with a real clock (Redis) a short unit so that waiting is cheap.
trait Harness: Sized {
    type Q: Queue;
    /// The suite's time unit for this backend.
    const UNIT: Duration;
    async fn new() -> Self;
    fn queue(&self) -> &Self::Q;
    /// Moves the queue's notion of time forward.
    async fn advance(&self, by: Duration);
    /// Whether a lease whose expiry is `expiry` has expired at `now` (ms).
    fn expired(expiry: i64, now: i64) -> bool;
    /// Whether an expired lease still finishes its job until someone recovers the job (SQLite
    /// checks the token; Redis's lock key is gone at expiry).
    const HONOURS_EXPIRED_LEASE: bool;
}

struct SqliteHarness {
    _dir: tempfile::TempDir,
    clock: ManualClock,
    queue: SqliteQueue,
}

impl Harness for SqliteHarness {
    type Q = SqliteQueue;
    const UNIT: Duration = Duration::from_secs(1);
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("q.db")).unwrap();
        let clock = ManualClock::new(1_700_000_000_000);
        let queue = SqliteQueue::open_with_clock(db, Arc::new(clock.clone()))
            .await
            .unwrap();
        Self {
            _dir: dir,
            clock,
            queue,
        }
    }
    fn queue(&self) -> &SqliteQueue {
        &self.queue
    }
    async fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
    fn expired(expiry: i64, now: i64) -> bool {
        expiry < now
    }
    const HONOURS_EXPIRED_LEASE: bool = true;
}

/// The machine's Redis (DESIGN: started before every session and CI run); each harness uses
/// its own key prefix and deletes its keys when dropped.
fn redis_url() -> String {
    std::env::var("BLOGFLOW_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

struct RedisHarness {
    clock: ManualClock,
    queue: RedisQueue,
    client: ::redis::Client,
    prefix: String,
}

impl RedisHarness {
    /// Keys of this harness matching `pattern` (after the prefix).
    fn keys(&self, pattern: &str) -> Vec<String> {
        let mut c = self.client.get_connection().unwrap();
        ::redis::cmd("KEYS")
            .arg(format!("{}:{pattern}", self.prefix))
            .query(&mut c)
            .unwrap()
    }
}

impl Harness for RedisHarness {
    type Q = RedisQueue;
    const UNIT: Duration = Duration::from_secs(1);
    async fn new() -> Self {
        let prefix = format!("bf-test-{}", uuid::Uuid::new_v4().simple());
        let clock = ManualClock::new(1_700_000_000_000);
        let queue = RedisQueue::with_clock(
            &RedisOptions {
                url: redis_url(),
                prefix: prefix.clone(),
            },
            Arc::new(clock.clone()),
        )
        .unwrap();
        Self {
            clock,
            queue,
            client: ::redis::Client::open(redis_url()).unwrap(),
            prefix,
        }
    }
    fn queue(&self) -> &RedisQueue {
        &self.queue
    }
    /// Moves the manual clock (delays, backoff) and ages every lock by the same amount, since
    /// lock expiry is Redis's own TTL.
    async fn advance(&self, by: Duration) {
        self.clock.advance(by);
        let mut c = self.client.get_connection().unwrap();
        for key in self.keys("*:lock") {
            let ttl: i64 = ::redis::cmd("PTTL").arg(&key).query(&mut c).unwrap();
            let left = ttl - by.as_millis() as i64;
            if left <= 0 {
                let _: i64 = ::redis::cmd("DEL").arg(&key).query(&mut c).unwrap();
            } else {
                let _: i64 = ::redis::cmd("PEXPIRE")
                    .arg(&key)
                    .arg(left)
                    .query(&mut c)
                    .unwrap();
            }
        }
    }
    fn expired(expiry: i64, now: i64) -> bool {
        expiry <= now
    }
    const HONOURS_EXPIRED_LEASE: bool = false;
}

impl Drop for RedisHarness {
    fn drop(&mut self) {
        let keys = self.keys("*");
        if !keys.is_empty() {
            let mut c = self.client.get_connection().unwrap();
            let _: i64 = ::redis::cmd("DEL").arg(keys).query(&mut c).unwrap();
        }
    }
}

fn job(n: u64) -> NewJob {
    NewJob::new("test", json!({ "n": n }))
}

fn with(priority: i32, attempts: u32, backoff: Backoff) -> JobOptions {
    JobOptions {
        priority,
        attempts,
        backoff,
        ..JobOptions::default()
    }
}

/// `n` time units of the harness.
fn u<H: Harness>(n: u32) -> Duration {
    H::UNIT * n
}

/// `n` time units in ms, for backoff settings.
fn ms<H: Harness>(n: u32) -> u64 {
    u::<H>(n).as_millis() as u64
}

/// The lease the suite claims with.
fn lease<H: Harness>() -> Duration {
    u::<H>(30)
}

/// A fixed backoff of one unit.
fn fixed_1<H: Harness>() -> Backoff {
    Backoff::Fixed {
        delay_ms: ms::<H>(1),
    }
}

async fn claim_one<H: Harness>(h: &H) -> Option<blogflow::queue::ClaimedJob> {
    h.queue().claim(Q, lease::<H>(), 1).await.unwrap().pop()
}

async fn claimed_ids<H: Harness>(h: &H, max: usize) -> Vec<u64> {
    h.queue()
        .claim(Q, lease::<H>(), max)
        .await
        .unwrap()
        .iter()
        .map(|j| j.payload["n"].as_u64().unwrap())
        .collect()
}

async fn priority_then_fifo<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    for (n, prio) in [(1, 5), (2, 1), (3, 5), (4, 0), (5, 1)] {
        q.add(Q, job(n).with_options(with(prio, 1, fixed_1::<H>())))
            .await
            .unwrap();
    }
    assert_eq!(claimed_ids(&h, 2).await, [4, 2]);
    assert_eq!(claimed_ids(&h, 10).await, [5, 1, 3]);
    assert!(q.claim(Q, lease::<H>(), 10).await.unwrap().is_empty());
}

async fn dedup_by_id_while_the_job_exists<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    assert_eq!(
        q.add(Q, job(1).with_id("tick-1")).await.unwrap(),
        AddOutcome::Added("tick-1".into())
    );
    assert_eq!(
        q.add(Q, job(2).with_id("tick-1")).await.unwrap(),
        AddOutcome::Duplicate("tick-1".into())
    );
    let j = claim_one(&h).await.unwrap();
    assert_eq!(j.payload["n"], 1, "the first add wins");
    q.complete(&j.lease, json!(null)).await.unwrap();
    assert!(matches!(
        q.add(Q, job(3).with_id("tick-1")).await.unwrap(),
        AddOutcome::Duplicate(_)
    ));
    assert!(q.remove(Q, "tick-1").await.unwrap());
    assert!(matches!(
        q.add(Q, job(4).with_id("tick-1")).await.unwrap(),
        AddOutcome::Added(_)
    ));
}

async fn delayed_jobs_wait_for_their_time<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    let opts = JobOptions {
        delay: u::<H>(10),
        ..JobOptions::default()
    };
    let id = q
        .add(Q, job(1).with_options(opts))
        .await
        .unwrap()
        .id()
        .to_owned();
    assert_eq!(q.counts(Q).await.unwrap().delayed, 1);
    assert_eq!(
        q.get(Q, &id).await.unwrap().unwrap().state,
        JobState::Delayed
    );
    assert!(claim_one(&h).await.is_none());
    h.advance(u::<H>(11)).await;
    assert_eq!(
        q.get(Q, &id).await.unwrap().unwrap().state,
        JobState::Waiting
    );
    assert!(claim_one(&h).await.is_some());
}

async fn failed_attempts_back_off_then_die<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    let backoff = Backoff::Exponential {
        base_ms: ms::<H>(1),
        max_ms: ms::<H>(60),
        jitter: 0.0,
    };
    let id = q
        .add(Q, job(1).with_options(with(0, 3, backoff)))
        .await
        .unwrap()
        .id()
        .to_owned();
    for (attempt, wait_s) in [(1, 1), (2, 2)] {
        let j = claim_one(&h).await.unwrap();
        assert_eq!(j.attempt, attempt);
        let out = q
            .fail(&j.lease, &JobError::retryable(format!("boom {attempt}")))
            .await
            .unwrap();
        assert!(matches!(out, FailOutcome::Retrying { .. }));
        assert_eq!(
            q.get(Q, &id).await.unwrap().unwrap().state,
            JobState::Delayed
        );
        h.advance(u::<H>(wait_s) - u::<H>(1) / 10).await;
        assert!(
            claim_one(&h).await.is_none(),
            "attempt {attempt}: retried before its backoff"
        );
        h.advance(u::<H>(1) / 10).await;
    }
    let j = claim_one(&h).await.unwrap();
    assert_eq!(j.attempt, 3);
    assert_eq!(
        q.fail(&j.lease, &JobError::retryable("boom 3"))
            .await
            .unwrap(),
        FailOutcome::Dead
    );
    let stored = q.get(Q, &id).await.unwrap().unwrap();
    assert_eq!(stored.state, JobState::Failed);
    assert_eq!(stored.attempts_made, 3);
    assert_eq!(stored.last_error.as_deref(), Some("boom 3"));
}

async fn unrecoverable_errors_are_not_retried<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    q.add(Q, job(1).with_options(with(0, 5, fixed_1::<H>())))
        .await
        .unwrap();
    let j = claim_one(&h).await.unwrap();
    assert_eq!(
        q.fail(&j.lease, &JobError::unrecoverable("401"))
            .await
            .unwrap(),
        FailOutcome::Dead
    );
    assert_eq!(q.counts(Q).await.unwrap().failed, 1);
}

async fn retry_after_overrides_the_backoff<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    q.add(Q, job(1).with_options(with(0, 2, fixed_1::<H>())))
        .await
        .unwrap();
    let j = claim_one(&h).await.unwrap();
    q.fail(&j.lease, &JobError::retry_after(u::<H>(60), "429"))
        .await
        .unwrap();
    h.advance(u::<H>(59)).await;
    assert!(claim_one(&h).await.is_none());
    h.advance(u::<H>(1)).await;
    assert!(claim_one(&h).await.is_some());
}

/// Waiting for a dependency (every provider held back, a target down) delays the job without
/// spending an attempt: a one-attempt job waits any number of times and still runs.
async fn waits_for_a_dependency_spend_no_attempt<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    let id = q
        .add(Q, job(1).with_options(with(0, 1, fixed_1::<H>())))
        .await
        .unwrap()
        .id()
        .to_owned();
    for _ in 0..5 {
        let j = claim_one(&h).await.unwrap();
        assert_eq!(j.attempt, 1, "a wait is not an attempt");
        let outcome = q
            .fail(&j.lease, &JobError::wait(u::<H>(60), "wordpress is down"))
            .await
            .unwrap();
        assert!(
            matches!(outcome, FailOutcome::Retrying { .. }),
            "{outcome:?}"
        );
        let job = q.get(Q, &id).await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Delayed);
        assert_eq!(job.attempts_made, 0);
        assert_eq!(job.last_error.as_deref(), Some("wordpress is down"));
        h.advance(u::<H>(59)).await;
        assert!(claim_one(&h).await.is_none(), "not before the wait is over");
        h.advance(u::<H>(1)).await;
    }
    let j = claim_one(&h).await.unwrap();
    assert_eq!(
        q.fail(&j.lease, &JobError::retryable("a real failure"))
            .await
            .unwrap(),
        FailOutcome::Dead,
        "the one real attempt is still there to spend"
    );
}

async fn expired_leases_stall_and_the_old_holder_is_refused<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    let id = q.add(Q, job(1)).await.unwrap().id().to_owned();
    let first = claim_one(&h).await.unwrap();
    assert!(
        q.recover_stalled(Q, 1).await.unwrap().is_empty(),
        "a live lease is not stalled"
    );
    h.advance(lease::<H>() + u::<H>(1)).await;
    let stalled = q.recover_stalled(Q, 1).await.unwrap();
    assert_eq!(stalled.len(), 1);
    assert!(stalled[0].requeued);
    let second = claim_one(&h).await.unwrap();
    assert_eq!(second.lease.job_id, id);
    assert_ne!(second.lease.token, first.lease.token);
    assert_eq!(second.attempt, 1, "a stall is not a failed attempt");
    assert!(matches!(
        q.complete(&first.lease, json!(1)).await,
        Err(QueueError::LeaseLost { .. })
    ));
    assert!(matches!(
        q.fail(&first.lease, &JobError::retryable("x")).await,
        Err(QueueError::LeaseLost { .. })
    ));
    q.complete(&second.lease, json!(2)).await.unwrap();
    let done = q.get(Q, &id).await.unwrap().unwrap();
    assert_eq!(
        (done.state, done.result, done.stalled_count),
        (JobState::Completed, Some(json!(2)), 1)
    );
}

async fn too_many_stalls_fail_the_job<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    let id = q.add(Q, job(1)).await.unwrap().id().to_owned();
    for round in 0..3 {
        claim_one(&h).await.unwrap();
        h.advance(lease::<H>() * 2).await;
        let s = q.recover_stalled(Q, 2).await.unwrap();
        assert_eq!(s[0].requeued, round < 2, "round {round}");
    }
    let j = q.get(Q, &id).await.unwrap().unwrap();
    assert_eq!(j.state, JobState::Failed);
    assert!(j.last_error.unwrap().contains("stalled"));
}

async fn extending_a_lease_keeps_the_job<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    q.add(Q, job(1)).await.unwrap();
    let j = claim_one(&h).await.unwrap();
    let bogus = blogflow::queue::Lease {
        token: "nope".into(),
        ..j.lease.clone()
    };
    for _ in 0..3 {
        h.advance(lease::<H>() / 2).await;
        let held = q
            .extend(vec![j.lease.clone(), bogus.clone()], lease::<H>())
            .await
            .unwrap();
        assert_eq!(held, [true, false]);
        assert!(q.recover_stalled(Q, 1).await.unwrap().is_empty());
    }
    q.complete(&j.lease, json!(null)).await.unwrap();
    assert_eq!(
        q.extend(vec![j.lease.clone()], lease::<H>()).await.unwrap(),
        [false]
    );
}

async fn pause_stops_claims_and_resume_restarts_them<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    q.add(Q, job(1)).await.unwrap();
    q.pause(Q).await.unwrap();
    assert!(q.is_paused(Q).await.unwrap());
    assert!(claim_one(&h).await.is_none());
    assert!(!q.is_paused("another").await.unwrap(), "pause is per queue");
    q.resume(Q).await.unwrap();
    assert!(!q.is_paused(Q).await.unwrap());
    assert!(claim_one(&h).await.is_some());
}

async fn counts_follow_every_transition<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    for n in 0..5 {
        q.add(Q, job(n).with_options(with(0, 2, fixed_1::<H>())))
            .await
            .unwrap();
    }
    q.add(
        Q,
        job(9).with_options(JobOptions {
            delay: u::<H>(5),
            ..JobOptions::default()
        }),
    )
    .await
    .unwrap();
    let js = q.claim(Q, lease::<H>(), 3).await.unwrap();
    q.complete(&js[0].lease, json!(null)).await.unwrap();
    q.fail(&js[1].lease, &JobError::retryable("again"))
        .await
        .unwrap();
    q.fail(&js[2].lease, &JobError::unrecoverable("never"))
        .await
        .unwrap();
    let c = q.counts(Q).await.unwrap();
    assert_eq!(
        c,
        Counts {
            waiting: 2,
            delayed: 2,
            active: 0,
            completed: 1,
            failed: 1
        }
    );
}

async fn release_hands_back_without_an_attempt<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    q.add(Q, job(1)).await.unwrap();
    let j = claim_one(&h).await.unwrap();
    q.release(&j.lease).await.unwrap();
    assert!(matches!(
        q.complete(&j.lease, json!(null)).await,
        Err(QueueError::LeaseLost { .. })
    ));
    let again = claim_one(&h).await.unwrap();
    assert_eq!(again.attempt, 1);
    let stored = q.get(Q, &again.lease.job_id).await.unwrap().unwrap();
    assert_eq!(
        stored.attempts_started, 1,
        "a hand-back does not count as a start"
    );
}

async fn retention_keeps_the_newest_and_drops_the_old<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    for n in 0..6 {
        q.add(Q, job(n)).await.unwrap();
        let j = claim_one(&h).await.unwrap();
        q.complete(&j.lease, json!(n)).await.unwrap();
        h.advance(u::<H>(1)).await;
    }
    let keep_3 = Retention {
        keep: 3,
        max_age: u::<H>(3600),
    };
    assert_eq!(q.clean(Q, keep_3, keep_3).await.unwrap(), 3);
    let left: Vec<u64> = q
        .list(Q, JobState::Completed, 10)
        .await
        .unwrap()
        .iter()
        .map(|j| j.payload["n"].as_u64().unwrap())
        .collect();
    assert_eq!(left, [5, 4, 3]);
    h.advance(u::<H>(3600)).await;
    assert_eq!(q.clean(Q, keep_3, keep_3).await.unwrap(), 3, "too old");
}

async fn manual_retry_and_remove_respect_states<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    let id = q.add(Q, job(1)).await.unwrap().id().to_owned();
    let j = claim_one(&h).await.unwrap();
    assert!(matches!(
        q.remove(Q, &id).await,
        Err(QueueError::WrongState { .. })
    ));
    assert!(matches!(
        q.retry(Q, &id).await,
        Err(QueueError::WrongState { .. })
    ));
    q.fail(&j.lease, &JobError::unrecoverable("bad"))
        .await
        .unwrap();
    q.retry(Q, &id).await.unwrap();
    let again = claim_one(&h).await.unwrap();
    assert_eq!(again.attempt, 1);
    assert!(matches!(
        q.retry(Q, "missing").await,
        Err(QueueError::NotFound { .. })
    ));
    assert!(!q.remove(Q, "missing").await.unwrap());
}

async fn events_tell_what_happened<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    let mut rx = q.subscribe();
    let id = q
        .add(Q, job(1).with_options(with(0, 2, fixed_1::<H>())))
        .await
        .unwrap()
        .id()
        .to_owned();
    let j = claim_one(&h).await.unwrap();
    q.fail(&j.lease, &JobError::retryable("x")).await.unwrap();
    h.advance(u::<H>(2)).await;
    claim_one(&h).await.unwrap();
    h.advance(lease::<H>() * 2).await;
    q.recover_stalled(Q, 5).await.unwrap();
    let j = claim_one(&h).await.unwrap();
    q.complete(&j.lease, json!(null)).await.unwrap();
    let (queue, job_id) = (Q.to_string(), id);
    let expected = vec![
        QueueEvent::Added {
            queue: queue.clone(),
            job_id: job_id.clone(),
        },
        QueueEvent::Active {
            queue: queue.clone(),
            job_id: job_id.clone(),
        },
        QueueEvent::Failed {
            queue: queue.clone(),
            job_id: job_id.clone(),
            dead: false,
        },
        QueueEvent::Active {
            queue: queue.clone(),
            job_id: job_id.clone(),
        },
        QueueEvent::Stalled {
            queue: queue.clone(),
            job_id: job_id.clone(),
            requeued: true,
        },
        QueueEvent::Active {
            queue: queue.clone(),
            job_id: job_id.clone(),
        },
        QueueEvent::Completed { queue, job_id },
    ];
    let got: Vec<QueueEvent> = (0..expected.len())
        .map(|_| rx.try_recv().unwrap())
        .collect();
    assert_eq!(got, expected);
}

async fn completing_can_claim_the_next_job_in_the_same_step<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    for (n, prio) in [(1, 0), (2, 5), (3, 1)] {
        q.add(Q, job(n).with_options(with(prio, 1, fixed_1::<H>())))
            .await
            .unwrap();
    }
    let first = claim_one(&h).await.unwrap();
    let second = q
        .complete_and_claim(&first.lease, json!("one"), lease::<H>())
        .await
        .unwrap()
        .expect("the next job by priority");
    assert_eq!(second.payload["n"], 3);
    assert_ne!(second.lease.token, first.lease.token);
    assert_eq!(
        q.get(Q, &first.lease.job_id).await.unwrap().unwrap().result,
        Some(json!("one"))
    );
    assert!(matches!(
        q.complete_and_claim(&first.lease, json!(null), lease::<H>())
            .await,
        Err(QueueError::LeaseLost { .. })
    ));
    q.pause(Q).await.unwrap();
    assert!(
        q.complete_and_claim(&second.lease, json!(null), lease::<H>())
            .await
            .unwrap()
            .is_none(),
        "a paused queue hands out nothing"
    );
    q.resume(Q).await.unwrap();
    let third = claim_one(&h).await.unwrap();
    assert!(
        q.complete_and_claim(&third.lease, json!(null), lease::<H>())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(q.counts(Q).await.unwrap().completed, 3);
}

async fn a_batch_of_completions_claims_as_many_next_jobs<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    for n in 0..5 {
        q.add(Q, job(n)).await.unwrap();
    }
    let js = q.claim(Q, lease::<H>(), 2).await.unwrap();
    let bogus = blogflow::queue::Lease {
        token: "stale".into(),
        ..js[0].lease.clone()
    };
    let done = vec![
        (js[0].lease.clone(), json!("a")),
        (js[1].lease.clone(), json!("b")),
        (bogus, json!("x")),
    ];
    let (outcomes, next) = q.complete_batch(Q, done, lease::<H>(), 2).await.unwrap();
    assert!(outcomes[0].is_ok() && outcomes[1].is_ok(), "{outcomes:?}");
    assert!(matches!(outcomes[2], Err(QueueError::LeaseLost { .. })));
    let next_ids: Vec<u64> = next
        .iter()
        .map(|j| j.payload["n"].as_u64().unwrap())
        .collect();
    assert_eq!(next_ids, [2, 3], "FIFO");
    let c = q.counts(Q).await.unwrap();
    assert_eq!((c.completed, c.active, c.waiting), (2, 2, 1));
    assert_eq!(
        q.get(Q, &js[1].lease.job_id).await.unwrap().unwrap().result,
        Some(json!("b"))
    );
    let (outcomes, next) = q
        .complete_batch(
            Q,
            vec![(next[0].lease.clone(), json!(null))],
            lease::<H>(),
            0,
        )
        .await
        .unwrap();
    assert!(
        outcomes[0].is_ok() && next.is_empty(),
        "want 0 claims nothing"
    );
}

async fn invalid_jobs_are_refused<H: Harness>() {
    let h = H::new().await;
    let q = h.queue();
    let zero = JobOptions {
        attempts: 0,
        ..JobOptions::default()
    };
    assert!(matches!(
        q.add(Q, job(1).with_options(zero)).await,
        Err(QueueError::Invalid(_))
    ));
    assert!(matches!(
        q.add(Q, NewJob::new("", json!({}))).await,
        Err(QueueError::Invalid(_))
    ));
}

macro_rules! conformance {
    ($backend:ident, $harness:ty) => {
        mod $backend {
            use super::*;
            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test]
                    async fn $name() {
                        super::$name::<$harness>().await;
                    }
                };
            }
            case!(priority_then_fifo);
            case!(dedup_by_id_while_the_job_exists);
            case!(delayed_jobs_wait_for_their_time);
            case!(failed_attempts_back_off_then_die);
            case!(unrecoverable_errors_are_not_retried);
            case!(retry_after_overrides_the_backoff);
            case!(waits_for_a_dependency_spend_no_attempt);
            case!(expired_leases_stall_and_the_old_holder_is_refused);
            case!(too_many_stalls_fail_the_job);
            case!(extending_a_lease_keeps_the_job);
            case!(pause_stops_claims_and_resume_restarts_them);
            case!(counts_follow_every_transition);
            case!(release_hands_back_without_an_attempt);
            case!(retention_keeps_the_newest_and_drops_the_old);
            case!(manual_retry_and_remove_respect_states);
            case!(events_tell_what_happened);
            case!(invalid_jobs_are_refused);
            case!(completing_can_claim_the_next_job_in_the_same_step);
            case!(a_batch_of_completions_claims_as_many_next_jobs);
        }
    };
}

conformance!(sqlite, SqliteHarness);
conformance!(redis, RedisHarness);

/// Random sequences of add / claim / complete / fail / time passing / stall recovery, checked
/// against a simple model: no job is lost or duplicated, each is in exactly one state, and the
/// counts match the model after every step.
mod model {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Debug, Clone)]
    enum Op {
        Add { prio: i32 },
        Claim { max: usize },
        Complete(usize),
        Fail(usize),
        Advance(u64),
        Recover,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..3i32).prop_map(|prio| Op::Add { prio }),
            (1..4usize).prop_map(|max| Op::Claim { max }),
            any::<usize>().prop_map(Op::Complete),
            any::<usize>().prop_map(Op::Fail),
            (1..40u64).prop_map(Op::Advance),
            Just(Op::Recover),
        ]
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum M {
        Ready,
        Active,
        Delayed(i64),
        Done,
        Dead,
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn sqlite_matches_model(ops in proptest::collection::vec(op(), 1..60)) {
            run::<SqliteHarness>(ops);
        }

        #[test]
        fn redis_matches_model(ops in proptest::collection::vec(op(), 1..60)) {
            run::<RedisHarness>(ops);
        }
    }

    fn run<H: Harness>(ops: Vec<Op>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let h = H::new().await;
            let q = h.queue();
            let lease = Duration::from_secs(10);
            let mut now = 0i64;
            // id -> (state, failed attempts, stalls, lease expiry, token of the current lease)
            let mut model: HashMap<String, (M, u32, u32, i64, String)> = HashMap::new();
            let mut held: Vec<blogflow::queue::Lease> = Vec::new();
            let opts = |prio| JobOptions {
                priority: prio,
                attempts: 3,
                backoff: Backoff::Fixed { delay_ms: 5_000 },
                ..JobOptions::default()
            };
            for op in ops {
                match op {
                    Op::Add { prio } => {
                        let id = q
                            .add(Q, job(0).with_options(opts(prio)))
                            .await
                            .unwrap()
                            .id()
                            .to_owned();
                        model.insert(id, (M::Ready, 0, 0, 0, String::new()));
                    }
                    Op::Claim { max } => {
                        let ready = model
                            .values()
                            .filter(|m| {
                                matches!(m.0, M::Ready) || matches!(m.0, M::Delayed(t) if t <= now)
                            })
                            .count();
                        let got = q.claim(Q, lease, max).await.unwrap();
                        assert_eq!(got.len(), ready.min(max));
                        for j in got {
                            let m = model
                                .get_mut(&j.lease.job_id)
                                .expect("claimed a job the model knows");
                            assert!(
                                matches!(m.0, M::Ready) || matches!(m.0, M::Delayed(t) if t <= now),
                                "claimed a job in {:?}",
                                m.0
                            );
                            *m = (M::Active, m.1, m.2, now + 10_000, j.lease.token.clone());
                            held.push(j.lease);
                        }
                    }
                    Op::Complete(i) | Op::Fail(i) if !held.is_empty() => {
                        let l = held.remove(i % held.len());
                        let m = model.get_mut(&l.job_id).unwrap();
                        let ours = m.0 == M::Active
                            && m.4 == l.token
                            && (H::HONOURS_EXPIRED_LEASE || !H::expired(m.3, now));
                        let res = if matches!(op, Op::Complete(_)) {
                            let r = q.complete(&l, json!(null)).await;
                            if r.is_ok() {
                                m.0 = M::Done;
                                m.4.clear();
                            }
                            r.map(|_| ())
                        } else {
                            let r = q.fail(&l, &JobError::retryable("x")).await;
                            if let Ok(out) = r {
                                m.1 += 1;
                                m.4.clear();
                                m.0 = match out {
                                    FailOutcome::Dead => M::Dead,
                                    FailOutcome::Retrying { .. } => M::Delayed(now + 5_000),
                                };
                                assert_eq!(out == FailOutcome::Dead, m.1 >= 3);
                            }
                            r.map(|_| ())
                        };
                        // A lease is honoured while its token is current (even past its expiry,
                        // until someone recovers the job); a recovered or re-claimed one is not.
                        assert_eq!(res.is_ok(), ours, "{res:?}");
                    }
                    Op::Complete(_) | Op::Fail(_) => {}
                    Op::Advance(s) => {
                        now += s as i64 * 1_000;
                        h.advance(Duration::from_secs(s)).await;
                    }
                    Op::Recover => {
                        let stalled = q.recover_stalled(Q, 1).await.unwrap();
                        let expect: usize = model
                            .values()
                            .filter(|m| m.0 == M::Active && H::expired(m.3, now))
                            .count();
                        assert_eq!(stalled.len(), expect);
                        for s in stalled {
                            let m = model.get_mut(&s.job_id).unwrap();
                            m.2 += 1;
                            m.4.clear();
                            m.0 = if m.2 > 1 { M::Dead } else { M::Ready };
                            assert_eq!(s.requeued, m.0 == M::Ready);
                        }
                    }
                }
                let c = q.counts(Q).await.unwrap();
                let count =
                    |f: &dyn Fn(&M) -> bool| model.values().filter(|m| f(&m.0)).count() as u64;
                assert_eq!(c.active, count(&|m| *m == M::Active));
                assert_eq!(c.completed, count(&|m| *m == M::Done));
                assert_eq!(c.failed, count(&|m| *m == M::Dead));
                assert_eq!(
                    c.waiting + c.delayed,
                    count(&|m| matches!(m, M::Ready | M::Delayed(_)))
                );
                assert_eq!(
                    c.waiting + c.delayed + c.active + c.completed + c.failed,
                    model.len() as u64,
                    "a job was lost or duplicated"
                );
            }
        });
    }
}
