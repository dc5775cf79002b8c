//! The workflow: running, paused or stopped; owns the worker pools and the scheduler.
//!
//! - `start`: stopped → running (workers for every queue, scheduler ticks).
//! - `pause`: running → paused. Generation and publishing queues are paused in the queue
//!   itself (durable, seen by every worker and after a restart); generate ticks are skipped.
//!   Running jobs finish.
//! - `resume`: paused → running.
//! - `stop`: → stopped. Workers stop claiming, running jobs finish until the grace deadline or
//!   are handed back; the scheduler stops. The API keeps answering; jobs stay queued.

pub mod scheduler;

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::generate::GenerateRequest;
use crate::jobs::{JobRouter, generation_job};
use crate::queue::worker::{Worker, WorkerOptions, WorkerReport};
use crate::queue::{Queue, QueueBackend, QueueError, names};
use scheduler::ScheduleBook;

/// Workflow state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowState {
    /// Scheduler and workers run.
    Running,
    /// Generation and publishing are paused.
    Paused,
    /// Workers are finishing their jobs (until the grace deadline).
    Stopping,
    /// Nothing runs but the API.
    Stopped,
}

/// A running scheduler silent for longer than this is considered dead (it beats every
/// [`scheduler::HEARTBEAT`]).
pub const SCHEDULER_STALE: std::time::Duration = std::time::Duration::from_secs(120);

/// Queues that `pause` pauses. Maintenance keeps running so health and cleanup go on.
const PAUSABLE: [&str; 2] = [names::CONTENT_GENERATION, names::BLOG_PUBLISHING];

struct Active {
    cancel: CancellationToken,
    workers: Vec<JoinHandle<WorkerReport>>,
    scheduler: Option<JoinHandle<()>>,
}

/// Handle to the workflow. Cheap to clone.
#[derive(Clone)]
pub struct Orchestrator {
    /// Serialises start and stop; held while workers drain, so readers never take it.
    control: Arc<Mutex<Option<Active>>>,
    /// What readers see, updated under `control`.
    state: Arc<std::sync::Mutex<WorkflowState>>,
    paused_flag: Arc<std::sync::atomic::AtomicBool>,
    router: Arc<JobRouter>,
    queue: QueueBackend,
    config: Arc<Config>,
    book: ScheduleBook,
    started: Instant,
    /// When the scheduler loop last ran, ms since epoch (0: not yet).
    scheduler_beat: Arc<std::sync::atomic::AtomicI64>,
    /// Cap on generation jobs at once set by self-healing (0: none).
    generation_limit: Arc<std::sync::atomic::AtomicUsize>,
    in_flight: Arc<std::sync::Mutex<Vec<(&'static str, crate::queue::worker::InFlightJobs)>>>,
}

/// The answer to a workflow action.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ActionOutcome {
    /// State after the action.
    pub state: WorkflowState,
    /// What happened, in words.
    pub message: String,
    /// Job id, for `generate_content`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

impl Orchestrator {
    /// A stopped workflow. Call [`Orchestrator::boot`] to apply `auto_start` and paused queues.
    pub fn new(router: JobRouter, queue: QueueBackend, config: Arc<Config>) -> Self {
        Self {
            control: Arc::new(Mutex::new(None)),
            state: Arc::new(std::sync::Mutex::new(WorkflowState::Stopped)),

            paused_flag: Arc::default(),
            router: Arc::new(router),
            queue,
            config,
            book: ScheduleBook::default(),
            started: Instant::now(),
            scheduler_beat: Arc::default(),
            generation_limit: Arc::default(),
            in_flight: Arc::default(),
        }
    }

    /// Starts if configured to; comes up paused if the queues were paused before a restart.
    pub async fn boot(&self) -> Result<(), QueueError> {
        if !self.config.auto_start {
            tracing::info!("WORKFLOW_AUTO_START is off: the workflow waits for a start action");
            return Ok(());
        }
        let outcome = self.start().await?;
        if outcome.state == WorkflowState::Paused {
            tracing::warn!(
                "queues were paused before the restart: the workflow stays paused until resumed"
            );
        }
        Ok(())
    }

    /// Current state.
    pub async fn state(&self) -> WorkflowState {
        *self.state.lock().expect("workflow state")
    }

    fn set_state(&self, state: WorkflowState) {
        *self.state.lock().expect("workflow state") = state;
    }

    /// Seconds since this process started.
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Schedule status by name.
    pub fn schedule_book(&self) -> ScheduleBook {
        self.book.clone()
    }

    /// The job router (for health snapshots).
    pub fn router(&self) -> &JobRouter {
        &self.router
    }

    /// Starts workers and scheduler; from paused, resumes. Queues paused durably (before a
    /// stop or a restart) stay paused: the workflow comes up paused.
    pub async fn start(&self) -> Result<ActionOutcome, QueueError> {
        let paused = self.queue.is_paused(names::CONTENT_GENERATION).await?;
        let mut control = self.control.lock().await;
        if control.is_some() {
            drop(control);
            return match self.state().await {
                WorkflowState::Paused => self.resume().await,
                state => Ok(self.outcome(state, "already running")),
            };
        }
        let cancel = CancellationToken::new();
        let q = &self.config.queue;
        let base = WorkerOptions {
            concurrency: 1,
            lease: q.lease,
            stalled_interval: q.stalled_interval,
            max_stalled: q.max_stalled,
            poll_interval: q.poll_interval,
            job_timeout: None,
            shutdown_grace: q.shutdown_grace,
            retention: Some((q.completed, q.failed)),
        };
        // Two generation jobs at once, unless the primary provider serves one request at a
        // time (the local model): a second job would only slow the first down.
        let primary_limit = self
            .router
            .generator
            .provider()
            .and_then(crate::llm::Provider::max_parallel);
        let mut generation_jobs = match self.config.generation_concurrency {
            Some(n) => n.max(1),
            None if primary_limit == Some(1) => 1,
            None => 2,
        };
        match self
            .generation_limit
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            0 => {}
            cap => generation_jobs = generation_jobs.min(cap),
        }
        let pools = [
            (
                names::CONTENT_GENERATION,
                WorkerOptions {
                    concurrency: generation_jobs,
                    job_timeout: Some(self.config.generation.job_timeout),
                    ..base.clone()
                },
            ),
            (
                names::BLOG_PUBLISHING,
                WorkerOptions {
                    concurrency: 4,
                    job_timeout: Some(std::time::Duration::from_secs(300)),
                    ..base.clone()
                },
            ),
            (
                names::SYSTEM_MAINTENANCE,
                WorkerOptions {
                    concurrency: 1,
                    job_timeout: Some(std::time::Duration::from_secs(300)),
                    ..base
                },
            ),
        ];
        let role = self.config.role;
        let mut in_flight = Vec::new();
        let workers = pools
            .into_iter()
            .filter(|_| role.runs_workers())
            .map(|(name, options)| {
                let worker = Worker::new(
                    Arc::new(self.queue.clone()),
                    name,
                    self.router.clone(),
                    options,
                );
                in_flight.push((name, worker.in_flight()));
                tokio::spawn(worker.run(cancel.child_token()))
            })
            .collect();
        *self.in_flight.lock().expect("in-flight") = in_flight;
        self.paused_flag
            .store(paused, std::sync::atomic::Ordering::Relaxed);
        let paused_flag = self.paused_flag.clone();
        let scheduler = role.runs_scheduler().then(|| {
            tokio::spawn(scheduler::run(
                self.config.schedules.clone(),
                self.queue.clone(),
                self.config.generation.job_attempts,
                self.book.clone(),
                move || paused_flag.load(std::sync::atomic::Ordering::Relaxed),
                self.scheduler_beat.clone(),
                cancel.child_token(),
            ))
        });
        *control = Some(Active {
            cancel,
            workers,
            scheduler,
        });
        let state = if paused {
            WorkflowState::Paused
        } else {
            WorkflowState::Running
        };
        self.set_state(state);
        tracing::info!(paused, "workflow started");
        Ok(self.outcome(
            state,
            if paused {
                "started, but paused: use resume"
            } else {
                "started"
            },
        ))
    }

    /// Stops workers (gracefully) and the scheduler.
    pub async fn stop(&self) -> Result<ActionOutcome, QueueError> {
        let mut control = self.control.lock().await;
        let Some(active) = control.take() else {
            return Ok(self.outcome(WorkflowState::Stopped, "already stopped"));
        };
        self.set_state(WorkflowState::Stopping);
        active.cancel.cancel();
        let mut handed_back = 0;
        for w in active.workers {
            if let Ok(report) = w.await {
                handed_back += report.handed_back;
            }
        }
        if let Some(scheduler) = active.scheduler {
            let _ = scheduler.await;
        }
        self.set_state(WorkflowState::Stopped);
        tracing::info!(handed_back, "workflow stopped");
        let message = if handed_back > 0 {
            format!("stopped; {handed_back} unfinished jobs handed back to the queue")
        } else {
            "stopped".into()
        };
        Ok(self.outcome(WorkflowState::Stopped, &message))
    }

    /// Stops and starts the worker pools and the scheduler, keeping a pause. Running jobs get
    /// the grace period, then go back to the queue. `false` when the workflow was stopped.
    pub async fn restart(&self) -> Result<bool, QueueError> {
        if matches!(
            self.state().await,
            WorkflowState::Stopped | WorkflowState::Stopping
        ) {
            return Ok(false);
        }
        self.stop().await?;
        self.start().await?;
        Ok(true)
    }

    /// Caps generation jobs at once (from the next start or restart).
    pub fn limit_generation(&self, jobs: usize) {
        self.generation_limit
            .store(jobs, std::sync::atomic::Ordering::Relaxed);
    }

    /// The jobs this process's workers run now.
    pub fn in_flight(&self) -> Vec<crate::store::InFlight> {
        self.in_flight
            .lock()
            .expect("in-flight")
            .iter()
            .flat_map(|(queue, jobs)| {
                jobs.ids().into_iter().map(|job_id| crate::store::InFlight {
                    queue: (*queue).to_owned(),
                    job_id,
                })
            })
            .collect()
    }

    /// How long since the scheduler loop last ran; `None` before it first ran.
    pub fn scheduler_silence(&self) -> Option<std::time::Duration> {
        match self
            .scheduler_beat
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            0 => None,
            at => Some(std::time::Duration::from_millis(
                (crate::db::now_ms() - at).max(0) as u64,
            )),
        }
    }

    /// Pauses generation and publishing.
    pub async fn pause(&self) -> Result<ActionOutcome, QueueError> {
        let state = self.state().await;
        match state {
            WorkflowState::Stopped | WorkflowState::Stopping => {
                Ok(self.outcome(state, "stopped: nothing to pause (start it first)"))
            }
            WorkflowState::Paused => Ok(self.outcome(state, "already paused")),
            WorkflowState::Running => {
                self.set_paused(true).await?;
                Ok(self.outcome(
                    WorkflowState::Paused,
                    "paused: running jobs finish, no new ones start",
                ))
            }
        }
    }

    /// Resumes after a pause.
    pub async fn resume(&self) -> Result<ActionOutcome, QueueError> {
        let state = self.state().await;
        match state {
            WorkflowState::Stopped | WorkflowState::Stopping => {
                Ok(self.outcome(state, "stopped: use start"))
            }
            WorkflowState::Running => Ok(self.outcome(state, "already running")),
            WorkflowState::Paused => {
                self.set_paused(false).await?;
                Ok(self.outcome(WorkflowState::Running, "resumed"))
            }
        }
    }

    async fn set_paused(&self, paused: bool) -> Result<(), QueueError> {
        for name in PAUSABLE {
            if paused {
                self.queue.pause(name).await?
            } else {
                self.queue.resume(name).await?
            }
        }
        self.paused_flag
            .store(paused, std::sync::atomic::Ordering::Relaxed);
        let mut state = self.state.lock().expect("workflow state");
        if matches!(*state, WorkflowState::Running | WorkflowState::Paused) {
            *state = if paused {
                WorkflowState::Paused
            } else {
                WorkflowState::Running
            };
        }
        tracing::info!(paused, "workflow pause changed");
        Ok(())
    }

    /// Enqueues a `content_generation` job.
    pub async fn generate(&self, request: GenerateRequest) -> Result<ActionOutcome, QueueError> {
        let job = generation_job(&request, self.config.generation.job_attempts);
        let id = self
            .queue
            .add(names::CONTENT_GENERATION, job)
            .await?
            .id()
            .to_owned();
        let state = self.state().await;
        let message = match state {
            WorkflowState::Running => format!("queued {} post(s)", request.count),
            WorkflowState::Paused => format!(
                "queued {} post(s); the workflow is paused, they start on resume",
                request.count
            ),
            WorkflowState::Stopped | WorkflowState::Stopping => format!(
                "queued {} post(s); the workflow is stopped, they start on start",
                request.count
            ),
        };
        tracing::info!(job_id = %id, count = request.count, "generation requested");
        Ok(ActionOutcome {
            state,
            message,
            job_id: Some(id),
        })
    }

    fn outcome(&self, state: WorkflowState, message: &str) -> ActionOutcome {
        ActionOutcome {
            state,
            message: message.to_owned(),
            job_id: None,
        }
    }
}
