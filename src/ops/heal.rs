//! Self-healing decisions: for each check, a ladder of recovery actions climbed one rung per
//! confirmed failure, each rung with its own cooldown, so that a problem gets the mildest fix
//! first and the next one only after the previous had time to work. [`super::monitor`] runs
//! the checks and carries the actions out.
//!
//! | check | fails when | ladder |
//! |---|---|---|
//! | queue | the backend does not answer | reconnect (repeats with backoff) |
//! | store | the database does not answer | reconnect, then exit for the supervisor |
//! | providers | a provider's check fails or its breaker is open | probe now (repeats) |
//! | memory | memory at the critical level | shrink caches, lower concurrency, restart workers, exit |
//! | disk | disk at the critical level | pause generation (resumed when it clears) |
//! | stuck_jobs | a job runs past its timeout | restart workers (hands jobs back), exit |
//! | scheduler | the running scheduler stopped ticking | restart the workflow, exit |
//! | targets | a publishing target's last check failed | none: posts stay queued, alert |

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// What the healer can do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Ask the backend again (Redis reconnects on the next command).
    Reconnect,
    /// Run every provider's health check now (a pass closes an ejection early).
    ProbeProviders,
    /// Drop what can be rebuilt: SQLite page cache, allocator free lists.
    ShrinkCaches,
    /// Restart the worker pools with one generation job at a time.
    LowerConcurrency,
    /// Stop the worker pools (running jobs get the grace period, then go back to the queue)
    /// and start them again.
    RestartWorkers,
    /// Pause the generation and publishing queues until the condition clears.
    PauseGeneration,
    /// Stop and start the whole workflow (scheduler and workers).
    RestartWorkflow,
    /// Shut down cleanly with a failure exit code so the supervisor starts a fresh process.
    Exit,
}

impl Action {
    /// Name in logs, metrics and alerts.
    pub fn name(self) -> &'static str {
        match self {
            Action::Reconnect => "reconnect",
            Action::ProbeProviders => "probe_providers",
            Action::ShrinkCaches => "shrink_caches",
            Action::LowerConcurrency => "lower_concurrency",
            Action::RestartWorkers => "restart_workers",
            Action::PauseGeneration => "pause_generation",
            Action::RestartWorkflow => "restart_workflow",
            Action::Exit => "exit",
        }
    }
}

/// What is checked.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The queue backend (SQLite or Redis).
    Queue,
    /// The store.
    Store,
    /// The LLM providers.
    Providers,
    /// Memory use.
    Memory,
    /// Disk space where the data lives.
    Disk,
    /// Jobs running past their timeout.
    StuckJobs,
    /// The scheduler's tick loop.
    Scheduler,
    /// The publishing targets (their last check).
    Targets,
}

impl Check {
    /// Every check, in the order they run.
    pub const ALL: [Check; 8] = [
        Check::Store,
        Check::Queue,
        Check::Providers,
        Check::Targets,
        Check::Memory,
        Check::Disk,
        Check::StuckJobs,
        Check::Scheduler,
    ];

    /// Name in logs, metrics and the health report.
    pub fn name(self) -> &'static str {
        match self {
            Check::Queue => "queue",
            Check::Store => "store",
            Check::Providers => "providers",
            Check::Memory => "memory",
            Check::Disk => "disk",
            Check::StuckJobs => "stuck_jobs",
            Check::Scheduler => "scheduler",
            Check::Targets => "targets",
        }
    }

    /// The recovery ladder of this check.
    pub fn ladder(self) -> Ladder {
        let s = |action, after, cooldown_secs| Step {
            action,
            after,
            cooldown: Duration::from_secs(cooldown_secs),
        };
        match self {
            Check::Queue => Ladder::new(vec![s(Action::Reconnect, 1, 15)]).repeating(),
            Check::Store => Ladder::new(vec![s(Action::Reconnect, 1, 15), s(Action::Exit, 8, 60)]),
            Check::Providers => Ladder::new(vec![s(Action::ProbeProviders, 1, 60)]).repeating(),
            Check::Memory => Ladder::new(vec![
                s(Action::ShrinkCaches, 1, 60),
                s(Action::LowerConcurrency, 2, 300),
                s(Action::RestartWorkers, 3, 600),
                s(Action::Exit, 4, 1800),
            ]),
            Check::Disk => Ladder::new(vec![s(Action::PauseGeneration, 1, 300)]),
            Check::StuckJobs => Ladder::new(vec![
                s(Action::RestartWorkers, 1, 300),
                s(Action::Exit, 3, 1800),
            ]),
            Check::Scheduler => Ladder::new(vec![
                s(Action::RestartWorkflow, 1, 300),
                s(Action::Exit, 3, 1800),
            ]),
            // Nothing to do here but tell: posts wait in the queue, the job retries, and the
            // health schedule checks the target again.
            Check::Targets => Ladder::new(vec![]),
        }
    }
}

/// One rung.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// What to do.
    pub action: Action,
    /// Consecutive failing checks before this rung is taken.
    pub after: u32,
    /// Time this rung gets to work before the next is taken, and before it is taken again.
    pub cooldown: Duration,
}

/// The state of one check's recovery.
#[derive(Debug, Clone)]
pub struct Ladder {
    steps: Vec<Step>,
    /// The last rung repeats (with its cooldown doubling up to 16×) instead of running out.
    repeat: bool,
    failing: u32,
    next: usize,
    last: Option<(Instant, Duration)>,
    repeats: u32,
}

impl Ladder {
    /// A ladder over `steps`, in order.
    pub fn new(steps: Vec<Step>) -> Self {
        Self {
            steps,
            repeat: false,
            failing: 0,
            next: 0,
            last: None,
            repeats: 0,
        }
    }

    /// Makes the last rung repeat with backoff.
    pub fn repeating(mut self) -> Self {
        self.repeat = true;
        self
    }

    /// The actions of its rungs, in order.
    pub fn actions(&self) -> Vec<Action> {
        self.steps.iter().map(|s| s.action).collect()
    }

    /// Consecutive failing checks so far.
    pub fn failing(&self) -> u32 {
        self.failing
    }

    /// Feeds one check result; returns the action to take now, if any. A passing check
    /// resets the climb, but not the cooldown of the last action: a problem that comes back
    /// at once does not get the same fix again before it had time to work.
    pub fn observe(&mut self, failing: bool, now: Instant) -> Option<Action> {
        if !failing {
            self.failing = 0;
            self.next = 0;
            self.repeats = 0;
            return None;
        }
        self.failing += 1;
        if let Some((at, cooldown)) = self.last
            && now.duration_since(at) < cooldown
        {
            return None;
        }
        let index = if self.next < self.steps.len() {
            self.next
        } else if self.repeat && !self.steps.is_empty() {
            self.steps.len() - 1
        } else {
            return None;
        };
        let step = self.steps[index];
        if self.failing < step.after {
            return None;
        }
        let cooldown = if index == self.steps.len() - 1 && self.repeat {
            let c = step.cooldown * (1 << self.repeats.min(4));
            self.repeats += 1;
            c
        } else {
            step.cooldown
        };
        self.last = Some((now, cooldown));
        self.next = index + 1;
        Some(step.action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `n` failing checks `every` apart; returns the actions with their check number.
    async fn climb(l: &mut Ladder, n: u32, every: Duration) -> Vec<(u32, Action)> {
        let mut taken = Vec::new();
        for i in 1..=n {
            if let Some(a) = l.observe(true, Instant::now()) {
                taken.push((i, a));
            }
            tokio::time::advance(every).await;
        }
        taken
    }

    #[tokio::test(start_paused = true)]
    async fn memory_climbs_one_rung_per_cooldown_up_to_exit() {
        let mut l = Check::Memory.ladder();
        let taken = climb(&mut l, 400, Duration::from_secs(15)).await;
        // Shrink at once; lower concurrency only after shrinking had its 60 s; restart after
        // lowering had its 5 min; exit after the restart had its 10 min; then nothing more.
        assert_eq!(
            taken,
            [
                (1, Action::ShrinkCaches),
                (5, Action::LowerConcurrency),
                (25, Action::RestartWorkers),
                (65, Action::Exit),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_pass_resets_the_climb_but_keeps_the_cooldown() {
        let mut l = Check::Memory.ladder();
        assert_eq!(l.observe(true, Instant::now()), Some(Action::ShrinkCaches));
        assert_eq!(l.observe(false, Instant::now()), None);
        tokio::time::advance(Duration::from_secs(15)).await;
        assert_eq!(
            l.observe(true, Instant::now()),
            None,
            "the shrink had only 15 s of its 60 s cooldown"
        );
        tokio::time::advance(Duration::from_secs(45)).await;
        assert_eq!(
            l.observe(true, Instant::now()),
            Some(Action::ShrinkCaches),
            "back at the first rung"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn repeating_rungs_back_off_and_store_failures_end_in_exit() {
        let mut q = Check::Queue.ladder();
        let taken = climb(&mut q, 200, Duration::from_secs(15)).await;
        let at: Vec<u32> = taken.iter().map(|(i, _)| *i).collect();
        // Cooldowns 15, 30, 60, 120, 240, 240 … seconds = every 1, 2, 4, 8, 16, 16 checks.
        assert_eq!(&at[..7], [1, 2, 4, 8, 16, 32, 48]);
        assert!(taken.iter().all(|(_, a)| *a == Action::Reconnect));

        let mut s = Check::Store.ladder();
        let taken = climb(&mut s, 20, Duration::from_secs(15)).await;
        assert_eq!(taken, [(1, Action::Reconnect), (8, Action::Exit)]);

        let mut d = Check::Disk.ladder();
        let taken = climb(&mut d, 100, Duration::from_secs(15)).await;
        assert_eq!(
            taken,
            [(1, Action::PauseGeneration)],
            "one pause, not one per check"
        );
    }
}
