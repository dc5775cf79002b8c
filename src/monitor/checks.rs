//! The self-healing checks of each cycle: providers, targets, stuck jobs, the scheduler.

use super::*;
use crate::ops::alert::Severity;
use crate::ops::heal::Check;
use crate::ops::sample::Sample;
use crate::ops::threshold::{Hysteresis, Level};
use crate::orchestrator::WorkflowState;
use crate::queue::{JobState, Queue, names};
use std::time::Duration;
use tokio::time::Instant;

impl Monitor {
    pub(super) async fn checks(
        &mut self,
        sample: &Sample,
    ) -> Vec<(Check, Result<Duration, String>)> {
        let mut out = Vec::with_capacity(Check::ALL.len());
        let mut queue_up = true;
        for check in Check::ALL {
            let started = Instant::now();
            let result: Result<(), String> = match check {
                Check::Store => timed(self.store.ping()).await,
                Check::Queue => {
                    let r = timed(self.queue.ping()).await.map(|_| ());
                    queue_up = r.is_ok();
                    r
                }
                Check::Providers => self.providers_check().await,
                Check::Targets => self.targets_check().await,
                Check::Memory => match self.levels.get("memory").map(Hysteresis::level) {
                    Some(Level::Critical) => Err(format!(
                        "{:.1} % of memory in use (critical from {} %)",
                        sample.memory_system_pct,
                        self.ops.config().memory.critical
                    )),
                    _ => Ok(()),
                },
                Check::Disk => match self.levels.get("disk").map(Hysteresis::level) {
                    Some(Level::Critical) => Err(format!(
                        "{:.1} % of the data disk in use (critical from {} %)",
                        sample.disk_used_pct,
                        self.ops.config().disk.critical
                    )),
                    _ => Ok(()),
                },
                // Unknown while the queue is down; not asking keeps the cycle short.
                Check::StuckJobs if !queue_up => Ok(()),
                Check::StuckJobs => self.stuck_jobs().await,
                Check::Scheduler => self.scheduler_check().await,
            };
            out.push((check, result.map(|()| started.elapsed())));
        }
        out
    }

    /// Providers that are `failing` (calls fail in a row, breaker open, probe failing: the
    /// status every view shows); alerts per provider (critical when none is left).
    pub(super) async fn providers_check(&mut self) -> Result<(), String> {
        let snapshot = self.orchestrator.router().latest_health().await;
        let providers = self.orchestrator.router().generator.providers();
        let mut down = Vec::new();
        for p in providers {
            let status = p.status(crate::jobs::probe_of(snapshot.as_ref(), p.name()));
            let reason = status.is_failing().then_some(status.summary);
            down.push((p.name().to_owned(), reason));
        }
        let all_down = !down.is_empty() && down.iter().all(|(_, r)| r.is_some());
        let damping = self.ops.config().damping;
        for (name, reason) in &down {
            let key = format!("provider:{name}");
            let flip = self
                .failing
                .entry(key.clone())
                .or_default()
                .observe(reason.is_some(), &damping);
            let mut s = self.ops.state();
            match (flip, reason) {
                (Some(true), Some(r)) => s.alerter.raise(
                    &key,
                    if all_down {
                        Severity::Critical
                    } else {
                        Severity::Warning
                    },
                    &format!("LLM provider {name} is down"),
                    &if all_down {
                        format!("{r}; no provider is left: generation stops until one is back")
                    } else {
                        format!("{r}; requests fail over to the other providers")
                    },
                    Instant::now(),
                ),
                (Some(false), _) => s
                    .alerter
                    .resolve(&key, &format!("LLM provider {name} answers again")),
                _ => {}
            }
        }
        let failing: Vec<String> = down
            .into_iter()
            .filter_map(|(n, r)| r.map(|r| format!("{n}: {r}")))
            .collect();
        if failing.is_empty() {
            Ok(())
        } else {
            Err(failing.join("; "))
        }
    }

    /// Publishing targets whose last check failed, with an alert each: their posts stay queued
    /// until the target works again.
    pub(super) async fn targets_check(&mut self) -> Result<(), String> {
        let snapshot = self.orchestrator.router().latest_health().await;
        let targets = snapshot.map(|h| h.targets).unwrap_or_default();
        let damping = self.ops.config().damping;
        let mut failing = Vec::new();
        for (name, result) in targets {
            let key = format!("target:{name}");
            let flip = self
                .failing
                .entry(key.clone())
                .or_default()
                .observe(result.is_err(), &damping);
            let mut s = self.ops.state();
            match (flip, &result) {
                (Some(true), Err(e)) => s.alerter.raise(
                    &key,
                    Severity::Warning,
                    &format!("Publishing target {name} is not usable"),
                    &format!("{e}; its posts wait (no attempt is spent) and are published within one health check of its recovery"),
                    Instant::now(),
                ),
                (Some(false), _) => s
                    .alerter
                    .resolve(&key, &format!("publishing to {name} works again")),
                _ => {}
            }
            if let Err(e) = result {
                failing.push(format!("{name}: {e}"));
            }
        }
        if failing.is_empty() {
            Ok(())
        } else {
            Err(failing.join("; "))
        }
    }

    /// Jobs running well past the timeout of their queue (the worker enforces the timeout, so
    /// these are jobs whose handler cannot be interrupted, e.g. blocked in a system call).
    pub(super) async fn stuck_jobs(&self) -> Result<(), String> {
        let now = crate::db::now_ms();
        let grace = self.config.queue.lease.as_millis() as i64 * 2 + 60_000;
        let mut stuck = Vec::new();
        for name in names::ALL {
            let limit = if name == names::CONTENT_GENERATION {
                self.config.generation.job_timeout
            } else {
                Duration::from_secs(300)
            };
            let Ok(Ok(active)) =
                tokio::time::timeout(CHECK_TIMEOUT, self.queue.list(name, JobState::Active, 100))
                    .await
            else {
                continue; // the queue check reports the queue itself
            };
            for job in active {
                if let Some(started) = job.started_at
                    && now - started > limit.as_millis() as i64 + grace
                {
                    stuck.push(format!(
                        "{name}/{} running {} s",
                        job.id,
                        (now - started) / 1000
                    ));
                }
            }
        }
        if stuck.is_empty() {
            Ok(())
        } else {
            Err(format!("jobs past their timeout: {}", stuck.join(", ")))
        }
    }

    pub(super) async fn scheduler_check(&self) -> Result<(), String> {
        let state = self.orchestrator.state().await;
        if !matches!(state, WorkflowState::Running | WorkflowState::Paused) {
            return Ok(());
        }
        match self.orchestrator.scheduler_silence() {
            Some(age) if age > crate::orchestrator::SCHEDULER_STALE => {
                Err(format!("the scheduler has not run for {} s", age.as_secs()))
            }
            _ => Ok(()),
        }
    }
}

pub(super) async fn timed<T, E: std::fmt::Display>(
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(CHECK_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
    }
}
