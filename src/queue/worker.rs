//! The worker runtime: runs a handler over one queue with bounded concurrency.
//!
//! - Claims as many jobs as it has free slots, in one call; wakes on the queue's work signal
//!   or after `poll_interval` (jobs added by other processes, delayed jobs coming due).
//! - Renews the leases of all its running jobs from a dedicated OS thread, so a handler that
//!   blocks the async runtime cannot make its own job look stalled. A lease found lost cancels
//!   that job's token.
//! - A handler panic or timeout becomes a failed attempt (retried per the job's options); it
//!   never strands a job in `active`.
//! - Looks for stalled jobs of the queue (any worker's) every `stalled_interval`, and applies
//!   retention there too.
//! - On shutdown stops claiming, lets running jobs finish until the grace deadline while
//!   logging what is still running, then cancels them and hands their jobs back to the queue.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::{ClaimedJob, JobError, Lease, Queue, QueueError, Retention};

/// What a handler sees of a running job.
#[derive(Debug, Clone)]
pub struct ActiveJob {
    /// Job id.
    pub id: String,
    /// Job type.
    pub name: String,
    /// Handler input.
    pub payload: Value,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Total attempts allowed.
    pub max_attempts: u32,
    /// Cancelled when the job must stop: shutdown deadline, timeout, or lost lease. Handlers
    /// doing long work should watch it and return early.
    pub cancel: CancellationToken,
}

/// Runs jobs. The result is stored with the completed job.
pub trait JobHandler: Send + Sync + 'static {
    /// Handles one job.
    fn handle(&self, job: ActiveJob) -> impl Future<Output = Result<Value, JobError>> + Send;
}

/// Tuning of a [`Worker`].
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs run at once.
    pub concurrency: usize,
    /// Lease length; renewed every third of it.
    pub lease: Duration,
    /// How often to look for stalled jobs (and apply retention).
    pub stalled_interval: Duration,
    /// Stalls after which a job fails instead of going back to waiting.
    pub max_stalled: u32,
    /// Longest sleep between claims when no work signal arrives.
    pub poll_interval: Duration,
    /// Longest a handler may run; past it the attempt fails (and is retried per the job).
    pub job_timeout: Option<Duration>,
    /// How long shutdown waits for running jobs before handing them back.
    pub shutdown_grace: Duration,
    /// Retention of completed and failed jobs, applied every `stalled_interval`.
    pub retention: Option<(Retention, Retention)>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            concurrency: 1,
            lease: Duration::from_secs(30),
            stalled_interval: Duration::from_secs(15),
            max_stalled: 1,
            poll_interval: Duration::from_secs(1),
            job_timeout: None,
            shutdown_grace: Duration::from_secs(30),
            retention: None,
        }
    }
}

/// What a worker did, returned when it stops.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WorkerReport {
    /// Jobs completed.
    pub completed: u64,
    /// Attempts failed (retried or dead).
    pub failed: u64,
    /// Stalled jobs found (any worker's).
    pub stalled: u64,
    /// Jobs handed back to the queue at shutdown.
    pub handed_back: u64,
}

#[derive(Default)]
struct Stats {
    completed: AtomicU64,
    failed: AtomicU64,
    stalled: AtomicU64,
}

type InFlight = Arc<Mutex<HashMap<String, (Lease, CancellationToken)>>>;

/// Runs a [`JobHandler`] over one queue.
pub struct Worker<Q: Queue, H: JobHandler> {
    queue: Arc<Q>,
    queue_name: String,
    handler: Arc<H>,
    options: WorkerOptions,
    in_flight: InFlight,
}

/// The ids of the jobs a worker runs now, readable from outside (heartbeats).
#[derive(Clone)]
pub struct InFlightJobs(InFlight);

impl InFlightJobs {
    /// Job ids, sorted.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.0.lock().expect("in-flight").keys().cloned().collect();
        ids.sort();
        ids
    }
}

impl<Q: Queue, H: JobHandler> Worker<Q, H> {
    /// A worker for `queue_name`.
    pub fn new(
        queue: Arc<Q>,
        queue_name: impl Into<String>,
        handler: Arc<H>,
        options: WorkerOptions,
    ) -> Self {
        Self {
            queue,
            queue_name: queue_name.into(),
            handler,
            options,
            in_flight: Arc::default(),
        }
    }

    /// What it runs now.
    pub fn in_flight(&self) -> InFlightJobs {
        InFlightJobs(self.in_flight.clone())
    }

    /// Runs until `shutdown` is cancelled, then closes gracefully.
    pub async fn run(self, shutdown: CancellationToken) -> WorkerReport {
        let concurrency = self.options.concurrency.max(1);
        let in_flight = self.in_flight.clone();
        let stats = Arc::new(Stats::default());
        let keeper_stop = CancellationToken::new();
        let keeper = spawn_lease_keeper(
            self.queue.clone(),
            in_flight.clone(),
            self.options.lease,
            keeper_stop.clone(),
        );
        let mut tasks: JoinSet<()> = JoinSet::new();
        let (finish, finishes) = tokio::sync::mpsc::unbounded_channel();
        let finisher = tokio::spawn(finisher(
            self.queue.clone(),
            self.queue_name.clone(),
            finishes,
            self.options.lease,
            shutdown.clone(),
        ));
        let mut signal = self.queue.work_signal();
        let mut maintenance = tokio::time::interval(self.options.stalled_interval);
        maintenance.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tracing::info!(queue = %self.queue_name, concurrency, "worker started");
        let mut claim_failures: u32 = 0;

        loop {
            while tasks.try_join_next().is_some() {}
            if shutdown.is_cancelled() {
                break;
            }
            let free = concurrency - tasks.len().min(concurrency);
            if free > 0 {
                signal.borrow_and_update();
                match self
                    .queue
                    .claim(&self.queue_name, self.options.lease, free)
                    .await
                {
                    Ok(jobs) if !jobs.is_empty() => {
                        if claim_failures > 0 {
                            tracing::info!(queue = %self.queue_name, failures = claim_failures, "claiming jobs works again");
                            claim_failures = 0;
                        }
                        // A full batch means there may be more: claim again before waiting.
                        let filled = jobs.len() == free;
                        for job in jobs {
                            self.spawn_job(&mut tasks, job, &in_flight, &stats, &shutdown, &finish);
                        }
                        if filled {
                            continue;
                        }
                    }
                    Ok(_) => {
                        if claim_failures > 0 {
                            tracing::info!(queue = %self.queue_name, failures = claim_failures, "claiming jobs works again");
                            claim_failures = 0;
                        }
                    }
                    Err(e) => {
                        // Storage down (e.g. Redis restarting): back off from 250 ms to 5 s so
                        // the outage is neither hammered nor outlived by long.
                        claim_failures += 1;
                        let wait = Duration::from_millis(250 << claim_failures.min(5))
                            .min(Duration::from_secs(5));
                        if claim_failures == 1 || claim_failures.is_multiple_of(20) {
                            tracing::warn!(queue = %self.queue_name, error = %e, failures = claim_failures,
                                retry_in_ms = wait.as_millis() as u64, "claiming jobs failed");
                        }
                        tokio::select! {
                            _ = shutdown.cancelled() => break,
                            _ = tokio::time::sleep(wait) => {}
                        }
                        continue;
                    }
                }
            }
            let has_room = tasks.len() < concurrency;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = maintenance.tick() => self.maintain(&stats).await,
                _ = signal.changed(), if has_room => {}
                _ = tokio::time::sleep(self.options.poll_interval), if has_room => {}
            }
        }

        let handed_back = self.close(&mut tasks, &in_flight).await;
        drop(finish);
        let _ = finisher.await;
        keeper_stop.cancel();
        let _ = tokio::task::spawn_blocking(move || keeper.join()).await;
        let report = WorkerReport {
            completed: stats.completed.load(Ordering::Relaxed),
            failed: stats.failed.load(Ordering::Relaxed),
            stalled: stats.stalled.load(Ordering::Relaxed),
            handed_back,
        };
        tracing::info!(queue = %self.queue_name, ?report, "worker stopped");
        report
    }

    async fn maintain(&self, stats: &Stats) {
        match self
            .queue
            .recover_stalled(&self.queue_name, self.options.max_stalled)
            .await
        {
            Ok(stalled) => {
                for s in &stalled {
                    tracing::warn!(queue = %self.queue_name, job_id = %s.job_id, requeued = s.requeued,
                        "job stalled: its lease expired (worker died or hung)");
                }
                stats
                    .stalled
                    .fetch_add(stalled.len() as u64, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::warn!(queue = %self.queue_name, error = %e, "stalled-job check failed")
            }
        }
        if let Some((completed, failed)) = self.options.retention
            && let Err(e) = self.queue.clean(&self.queue_name, completed, failed).await
        {
            tracing::warn!(queue = %self.queue_name, error = %e, "retention cleanup failed");
        }
    }

    /// Runs `job` in a task of its own. When it completes and the worker is not stopping, the
    /// task completes it and claims the next ready job in one step, and runs that one too, so
    /// a busy worker makes one queue round trip per job.
    fn spawn_job(
        &self,
        tasks: &mut JoinSet<()>,
        job: ClaimedJob,
        in_flight: &InFlight,
        stats: &Arc<Stats>,
        shutdown: &CancellationToken,
        finish: &FinishSender,
    ) {
        let (queue, handler, stats, in_flight, shutdown, finish) = (
            self.queue.clone(),
            self.handler.clone(),
            stats.clone(),
            in_flight.clone(),
            shutdown.clone(),
            finish.clone(),
        );
        let timeout = self.options.job_timeout;
        let mut next = Some(register(&in_flight, job));
        tasks.spawn(async move {
            while let Some((lease, active, cancel)) = next.take() {
                let mut chained = None;
                let outcome = run_handler(handler.clone(), active, timeout, &cancel).await;
                let recorded = match outcome {
                    Ok(result) if !shutdown.is_cancelled() => {
                        let (reply, answer) = tokio::sync::oneshot::channel();
                        let sent = finish.send(Finish {
                            lease: lease.clone(),
                            result,
                            reply,
                        });
                        match (sent, answer.await) {
                            (Ok(()), Ok((outcome, next))) => {
                                chained = next;
                                outcome.map(|()| Some(true))
                            }
                            _ => Err(QueueError::Backend("the worker is closing".into())),
                        }
                    }
                    Ok(result) => queue.complete(&lease, result).await.map(|_| Some(true)),
                    Err(err) if err.is_wait() => {
                        tracing::info!(queue = %lease.queue, job_id = %lease.job_id, reason = %err, "job waits for a dependency (no attempt spent)");
                        queue.fail(&lease, &err).await.map(|_| None)
                    }
                    Err(err) => {
                        tracing::warn!(queue = %lease.queue, job_id = %lease.job_id, error = %err, "job attempt failed");
                        queue.fail(&lease, &err).await.map(|_| Some(false))
                    }
                };
                match recorded {
                    Ok(None) => {}
                    Ok(Some(true)) => _ = stats.completed.fetch_add(1, Ordering::Relaxed),
                    Ok(Some(false)) => _ = stats.failed.fetch_add(1, Ordering::Relaxed),
                    Err(QueueError::LeaseLost { .. }) => tracing::warn!(queue = %lease.queue, job_id = %lease.job_id,
                        "lease lost before the job finished: its outcome is discarded, the job runs again"),
                    Err(e) => tracing::error!(queue = %lease.queue, job_id = %lease.job_id, error = %e,
                        "could not record the job's outcome; it will be recovered as stalled"),
                }
                in_flight.lock().expect("in-flight map").remove(&lease.job_id);
                next = chained.map(|job| register(&in_flight, job));
            }
        });
    }

    /// Waits for running jobs until the grace deadline, then cancels them and hands them back.
    async fn close(&self, tasks: &mut JoinSet<()>, in_flight: &InFlight) -> u64 {
        if tasks.is_empty() {
            return 0;
        }
        let deadline = tokio::time::Instant::now() + self.options.shutdown_grace;
        let mut report = tokio::time::interval(Duration::from_secs(5));
        report.tick().await;
        while !tasks.is_empty() {
            tokio::select! {
                _ = tasks.join_next() => {}
                _ = tokio::time::sleep_until(deadline) => break,
                _ = report.tick() => {
                    let ids: Vec<String> = in_flight.lock().expect("in-flight map").keys().cloned().collect();
                    tracing::info!(queue = %self.queue_name, running = ?ids, "waiting for running jobs to finish");
                }
            }
        }
        if tasks.is_empty() {
            return 0;
        }
        let left: Vec<(Lease, CancellationToken)> = in_flight
            .lock()
            .expect("in-flight map")
            .values()
            .cloned()
            .collect();
        for (_, cancel) in &left {
            cancel.cancel();
        }
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        let mut handed_back = 0;
        for (lease, _) in left {
            match self.queue.release(&lease).await {
                Ok(()) => {
                    handed_back += 1;
                    tracing::warn!(queue = %lease.queue, job_id = %lease.job_id,
                        "shutdown deadline reached: job handed back to the queue");
                }
                Err(QueueError::LeaseLost { .. }) => {} // it finished in the meantime
                Err(e) => tracing::error!(queue = %lease.queue, job_id = %lease.job_id, error = %e,
                    "could not hand the job back; it will be recovered as stalled"),
            }
        }
        handed_back
    }
}

/// Aborts the task when dropped, so that aborting the wrapper also stops the handler.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A finished job on its way to the finisher, and where to send what happened plus the
/// worker's next job.
struct Finish {
    lease: Lease,
    result: Value,
    reply: tokio::sync::oneshot::Sender<(Result<(), QueueError>, Option<ClaimedJob>)>,
}

type FinishSender = tokio::sync::mpsc::UnboundedSender<Finish>;

/// Records completions in batches: whatever finished while the previous batch was being
/// recorded goes in the next one, with as many next jobs claimed in the same step, so a busy
/// worker pays one queue round trip for many jobs and an idle one waits for nothing.
async fn finisher<Q: Queue>(
    queue: Arc<Q>,
    name: String,
    mut finishes: tokio::sync::mpsc::UnboundedReceiver<Finish>,
    lease: Duration,
    shutdown: CancellationToken,
) {
    // A few batches in flight at once keep the connection's pipeline busy; the rest queue up
    // and form the next batches.
    const IN_FLIGHT: u32 = 4;
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT as usize));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = finishes.recv().await else {
            break;
        };
        let mut batch = vec![first];
        while batch.len() < 64 {
            match finishes.try_recv() {
                Ok(f) => batch.push(f),
                Err(_) => break,
            }
        }
        let want = if shutdown.is_cancelled() {
            0
        } else {
            batch.len()
        };
        let (queue, name) = (queue.clone(), name.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let (done, replies): (Vec<_>, Vec<_>) = batch
                .into_iter()
                .map(|f| ((f.lease, f.result), f.reply))
                .unzip();
            match queue.complete_batch(&name, done, lease, want).await {
                Ok((outcomes, claimed)) => {
                    let mut claimed = claimed.into_iter();
                    for (reply, outcome) in replies.into_iter().zip(outcomes) {
                        if let Err((_, Some(job))) = reply.send((outcome, claimed.next())) {
                            // Its task is gone (shutdown): hand the job straight back.
                            let _ = queue.release(&job.lease).await;
                        }
                    }
                    for job in claimed {
                        let _ = queue.release(&job.lease).await;
                    }
                }
                Err(e) => {
                    for reply in replies {
                        let _ = reply.send((Err(QueueError::Backend(e.to_string())), None));
                    }
                }
            }
        });
    }
    // Wait for the batches still being recorded.
    let _ = slots.acquire_many(IN_FLIGHT).await;
}

/// Puts a claimed job where the lease keeper and shutdown see it.
fn register(in_flight: &InFlight, job: ClaimedJob) -> (Lease, ActiveJob, CancellationToken) {
    let cancel = CancellationToken::new();
    let lease = job.lease.clone();
    in_flight
        .lock()
        .expect("in-flight map")
        .insert(lease.job_id.clone(), (lease.clone(), cancel.clone()));
    let active = ActiveJob {
        id: lease.job_id.clone(),
        name: job.name,
        payload: job.payload,
        attempt: job.attempt,
        max_attempts: job.max_attempts,
        cancel: cancel.clone(),
    };
    (lease, active, cancel)
}

async fn run_handler<H: JobHandler>(
    handler: Arc<H>,
    job: ActiveJob,
    timeout: Option<Duration>,
    cancel: &CancellationToken,
) -> Result<Value, JobError> {
    // The handler runs as its own task so that a panic is contained and reported.
    let mut task = AbortOnDrop(tokio::spawn(async move { handler.handle(job).await }));
    let joined = match timeout {
        None => (&mut task.0).await,
        Some(limit) => match tokio::time::timeout(limit, &mut task.0).await {
            Ok(joined) => joined,
            Err(_) => {
                cancel.cancel();
                return Err(JobError::retryable(format!(
                    "job timed out after {}s",
                    limit.as_secs_f64()
                )));
            }
        },
    };
    match joined {
        Ok(outcome) => outcome,
        Err(e) if e.is_panic() => {
            let panic = e.into_panic();
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(JobError::retryable(format!("handler panicked: {what}")))
        }
        Err(_) => Err(JobError::retryable("handler was cancelled")),
    }
}

/// Renews leases on its own thread and runtime: blocking work on the main runtime cannot delay
/// it, so a job that is really running never looks stalled.
fn spawn_lease_keeper<Q: Queue>(
    queue: Arc<Q>,
    in_flight: InFlight,
    lease: Duration,
    stop: CancellationToken,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("blogflow-leases".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("lease keeper runtime");
            rt.block_on(async move {
                let every = (lease / 3).max(Duration::from_millis(10));
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(every) => {}
                    }
                    let held: Vec<(Lease, CancellationToken)> = in_flight
                        .lock()
                        .expect("in-flight map")
                        .values()
                        .cloned()
                        .collect();
                    if held.is_empty() {
                        continue;
                    }
                    let leases = held.iter().map(|(l, _)| l.clone()).collect();
                    match queue.extend(leases, lease).await {
                        Ok(still_held) => {
                            for ((l, cancel), ok) in held.iter().zip(still_held) {
                                if !ok {
                                    tracing::warn!(queue = %l.queue, job_id = %l.job_id,
                                        "lease lost while running: cancelling the job");
                                    cancel.cancel();
                                }
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "renewing leases failed; will retry"),
                    }
                }
            })
        })
        .expect("spawning the lease keeper thread")
}
