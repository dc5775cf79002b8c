//! Alerts of a cycle: budgets, check alerts, which process tells the operator, delivery.

use super::*;
use crate::ops::alert::{Alert, Severity};
use crate::ops::channels::DeliveryError;
use crate::ops::heal::Check;
use crate::queue::names::JobType;
use crate::queue::{Backoff, JobOptions, NewJob, Queue, names};
use crate::store::OpsKind;
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

impl Monitor {
    /// Generation stopped by the daily budget or post cap: a warning while it lasts.
    pub(super) fn alert_budget(&mut self) {
        let stop = self.ops.stats().budget_stop();
        let mut s = self.ops.state();
        match stop {
            Some(reason) => s.alerter.raise(
                "budget",
                Severity::Warning,
                "Generation stopped for today",
                &format!("{reason}: scheduled posts are skipped (not failed) until midnight UTC or until the limit is raised"),
                Instant::now(),
            ),
            None => s.alerter.resolve("budget", "generation is allowed again"),
        }
    }

    /// Raises or resolves the alert of a failing dependency (thresholds alert on their own).
    pub(super) fn alert_check(&mut self, check: Check, result: &Result<Duration, String>) {
        let (severity, title) = match check {
            Check::Store => (Severity::Critical, "The store (database) does not answer"),
            Check::Queue => (Severity::Critical, "The job queue does not answer"),
            Check::StuckJobs => (Severity::Warning, "Jobs are stuck past their timeout"),
            Check::Scheduler => (Severity::Warning, "The scheduler stopped ticking"),
            Check::Providers | Check::Targets | Check::Memory | Check::Disk => return,
        };
        let key = check.name().to_owned();
        let damping = self.ops.config().damping;
        let flip = self
            .failing
            .entry(key.clone())
            .or_default()
            .observe(result.is_err(), &damping);
        let mut s = self.ops.state();
        match (flip, result) {
            (Some(true), Err(e)) => {
                let consequence = match check {
                    Check::Queue => {
                        "; the API answers and reports not ready, jobs wait, blogflow reconnects with backoff"
                    }
                    Check::Store => "; nothing can be written until it answers",
                    _ => "",
                };
                s.alerter.raise(
                    &key,
                    severity,
                    title,
                    &format!("{e}{consequence}"),
                    Instant::now(),
                )
            }
            (Some(false), _) => s.alerter.resolve(&key, "answers again"),
            _ => {}
        }
    }

    /// Whether this process holds the store's lease `name` (three intervals long, at least
    /// 5 s) and so sends the alerts it covers. A process whose store does not answer sends
    /// anyway: a duplicate alert is better than none.
    pub(super) async fn leads_alerts(&self, name: String) -> bool {
        let ttl = (self.ops.config().interval * 3).max(Duration::from_secs(5));
        let me = crate::store::process_identity().to_owned();
        match self.store.lead(name, me, ttl.as_millis() as i64).await {
            Ok(leads) => leads,
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell whether this process sends alerts; sending");
                true
            }
        }
    }

    /// Writes what this cycle told (the alerts this process sends) and did (its recovery
    /// actions) to the store, so that history outlives a restart. A store that does not answer
    /// loses these entries, not the cycle.
    pub(super) async fn keep_history(&self, group: &[Alert]) {
        let recoveries = std::mem::take(&mut self.ops.state().unsaved_recoveries);
        let entries = [
            (
                OpsKind::Alert,
                group
                    .iter()
                    .map(|a| (a.at, serde_json::to_string(a).expect("alerts serialise")))
                    .collect::<Vec<_>>(),
            ),
            (
                OpsKind::Recovery,
                recoveries
                    .iter()
                    .map(|r| {
                        (
                            r.at,
                            serde_json::to_string(r).expect("recoveries serialise"),
                        )
                    })
                    .collect(),
            ),
        ];
        for (kind, entries) in entries {
            if entries.is_empty() {
                continue;
            }
            match tokio::time::timeout(CHECK_TIMEOUT, self.store.log_ops(kind, entries)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, ?kind, "cannot keep the operations history")
                }
                Err(_) => tracing::warn!(
                    ?kind,
                    "cannot keep the operations history: the store does not answer"
                ),
            }
        }
    }

    /// Sends a group: at once, and on a retryable failure through a `system-maintenance` job
    /// (retries with backoff that survive a restart); if the queue is down too, from here.
    pub(super) fn deliver(&self, group: Vec<Alert>) {
        for (channel, alerts) in self.ops.channels().route(&group) {
            let (ops, queue) = (self.ops.clone(), self.queue.clone());
            self.tasks.spawn(async move {
                let first = ops.channels().send(channel, &alerts).await;
                let error = match first {
                    Ok(()) => {
                        tracing::info!(channel, alerts = alerts.len(), "alert delivered");
                        return;
                    }
                    Err(e @ DeliveryError::Permanent { .. }) => {
                        tracing::error!(error = %e, "alert not delivered");
                        ops.delivery_failed();
                        return;
                    }
                    Err(e) => e,
                };
                tracing::warn!(error = %error, "alert delivery failed; retrying with backoff");
                if queue
                    .add(names::SYSTEM_MAINTENANCE, alert_job(channel, &alerts))
                    .await
                    .is_ok()
                {
                    return;
                }
                let mut wait = Duration::from_secs(5);
                for _ in 0..6 {
                    tokio::time::sleep(wait).await;
                    match ops.channels().send(channel, &alerts).await {
                        Ok(()) => return,
                        Err(DeliveryError::Retryable { retry_after, .. }) => {
                            wait = retry_after
                                .unwrap_or(wait * 2)
                                .min(Duration::from_secs(300));
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "alert not delivered");
                            break;
                        }
                    }
                }
                ops.delivery_failed();
            });
        }
    }
}

/// An `alert_delivery` job: retried with exponential backoff from 10 s to 10 min, 8 times.
pub fn alert_job(channel: &str, alerts: &[Alert]) -> NewJob {
    NewJob::new(
        JobType::AlertDelivery.name(),
        json!({ "channel": channel, "alerts": alerts }),
    )
    .with_options(JobOptions {
        attempts: 8,
        backoff: Backoff::Exponential {
            base_ms: 10_000,
            max_ms: 600_000,
            jitter: 0.2,
        },
        ..JobOptions::default()
    })
}

/// Which process of a deployment sends an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// What every process sees alike (dependencies, providers, targets, the budget): the
    /// holder of the `alerts` lease.
    Deployment,
    /// The machine's memory, CPU and disk: the holder of the host's lease.
    Host,
    /// This process's own figures (API latency, generation time, error rate), its scheduler
    /// and its recovery actions: the process itself, leader or not (a worker's slow
    /// generations are seen by no `serve`).
    Process,
}

pub(super) fn scope(key: &str) -> Scope {
    match key.strip_prefix("trend:").unwrap_or(key) {
        "memory" | "cpu" | "disk" => Scope::Host,
        "response" | "generation" | "error_rate" | "scheduler" => Scope::Process,
        k if k.starts_with("heal:") => match k.split(':').nth(1) {
            // Every process reconnects and probes during a shared outage.
            Some("queue" | "store" | "providers" | "targets") => Scope::Deployment,
            _ => Scope::Process,
        },
        _ => Scope::Deployment,
    }
}

/// The alert leases this process holds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Leads {
    pub(super) deployment: bool,
    pub(super) host: bool,
}

impl Leads {
    /// What of `group` this process sends; alerts not about the whole deployment say where
    /// they come from.
    pub(super) fn sendable(self, group: Vec<Alert>, host: &str, origin: &str) -> Vec<Alert> {
        group
            .into_iter()
            .filter_map(|mut a| {
                let (send, place) = match scope(&a.key) {
                    Scope::Deployment => (self.deployment, None),
                    Scope::Host => (self.host, Some(host)),
                    Scope::Process => (true, Some(origin)),
                };
                if let Some(place) = place {
                    a.message = format!("{} [{place}]", a.message);
                }
                send.then_some(a)
            })
            .collect()
    }
}
