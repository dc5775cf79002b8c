//! Acting: the recovery actions a failing check's ladder calls for.

use super::checks::timed;
use super::*;
use crate::ops::Recovery;
use crate::ops::alert::Severity;
use crate::ops::heal::{Action, Check};
use crate::orchestrator::WorkflowState;
use tokio::time::Instant;

impl Monitor {
    pub(super) async fn act(&mut self, check: Check, action: Action) {
        let outcome = match action {
            Action::Reconnect => {
                let r = match check {
                    Check::Store => timed(self.store.ping()).await,
                    _ => timed(self.queue.ping()).await.map(|_| ()),
                };
                match r {
                    Ok(()) => "answered".to_owned(),
                    Err(e) => format!("still down ({e}); trying again with backoff"),
                }
            }
            Action::ProbeProviders => {
                let router = self.orchestrator.clone();
                self.tasks.spawn(async move {
                    router.router().health_check().await;
                });
                "health checks of every provider started".to_owned()
            }
            Action::ShrinkCaches => match self.store.shrink_memory().await {
                Ok(()) => "released the database page cache".to_owned(),
                Err(e) => format!("failed: {e}"),
            },
            Action::LowerConcurrency | Action::RestartWorkers | Action::RestartWorkflow => {
                if check == Check::Memory && !self.memory_is_ours() {
                    "skipped: most memory is used by other processes".to_owned()
                } else {
                    if action == Action::LowerConcurrency {
                        self.orchestrator.limit_generation(1);
                    }
                    match self.orchestrator.restart().await {
                        Ok(true) => {
                            "worker pools restarted; unfinished jobs went back to the queue"
                                .to_owned()
                        }
                        Ok(false) => "the workflow is stopped: nothing to restart".to_owned(),
                        Err(e) => format!("failed: {e}"),
                    }
                }
            }
            Action::PauseGeneration => match self.orchestrator.pause().await {
                Ok(o) => {
                    self.paused_for_disk = o.state == WorkflowState::Paused;
                    format!(
                        "generation paused until disk space is freed ({})",
                        o.message
                    )
                }
                Err(e) => format!("failed: {e}"),
            },
            Action::Exit => {
                if check == Check::Memory && !self.memory_is_ours() {
                    "skipped: most memory is used by other processes".to_owned()
                } else {
                    self.ops.exit_requested().cancel();
                    "shutting down cleanly so the supervisor starts a fresh process".to_owned()
                }
            }
        };
        tracing::warn!(check = check.name(), action = action.name(), %outcome, "self-healing action");
        self.ops.record_recovery(Recovery {
            at: crate::db::now_ms(),
            check,
            action,
            outcome: outcome.clone(),
        });
        // Mild actions are for the record (channels take warnings by default); actions that
        // interrupt work need attention; an exit needs it now.
        let severity = match action {
            Action::Reconnect | Action::ProbeProviders | Action::ShrinkCaches => Severity::Info,
            Action::LowerConcurrency
            | Action::RestartWorkers
            | Action::RestartWorkflow
            | Action::PauseGeneration => Severity::Warning,
            Action::Exit => Severity::Critical,
        };
        self.ops.state().alerter.notice(
            &format!("heal:{}:{}", check.name(), action.name()),
            severity,
            &format!(
                "Self-healing: {} after failing {} check",
                action.name(),
                check.name()
            ),
            &outcome,
            Instant::now(),
        );
    }

    /// Whether this process holds a good part of the memory in use (a quarter), so that
    /// restarting it can help.
    pub(super) fn memory_is_ours(&self) -> bool {
        let s = &self.last_system;
        let used = s.memory_total_bytes as f64 * s.memory_system_pct / 100.0;
        used > 0.0 && s.memory_process_bytes as f64 >= used / 4.0
    }

    pub(super) async fn resume_after_disk(&mut self) {
        self.paused_for_disk = false;
        let outcome = match self.orchestrator.resume().await {
            Ok(o) => format!("disk space is back: {}", o.message),
            Err(e) => format!("disk space is back, but resuming failed: {e}"),
        };
        tracing::info!(%outcome, "self-healing: generation resumed");
        self.ops.record_recovery(Recovery {
            at: crate::db::now_ms(),
            check: Check::Disk,
            action: Action::PauseGeneration,
            outcome,
        });
    }
}
