//! The monitoring loop: every interval it takes a sample, records it, evaluates thresholds and
//! trends, runs the self-healing checks, carries out recovery actions and sends the alerts of
//! the cycle as one group.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::alert::{Alert, Severity};
use super::channels::DeliveryError;
use super::heal::{Action, Check, Ladder};
use super::sample::{Sample, SystemFigures, SystemSampler};
use super::stats::{HistogramSnapshot, StatsSnapshot};
use super::threshold::{Debounce, Hysteresis, Level, Threshold};
use super::{Ops, Recovery};
use crate::config::Config;
use crate::jobs::JobType;
use crate::llm::breaker::LATENCY_BUCKETS;
use crate::orchestrator::{Orchestrator, WorkflowState};
use crate::queue::{Backoff, JobOptions, JobState, NewJob, Queue, QueueBackend, names};
use crate::store::Store;
use crate::telemetry::PERF;

/// Longest a dependency check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The metrics with thresholds, in the order they are evaluated.
const METRICS: [&str; 6] = [
    "memory",
    "cpu",
    "response",
    "generation",
    "error_rate",
    "disk",
];

/// Owns the monitor's state between cycles.
pub struct Monitor {
    ops: Ops,
    orchestrator: Orchestrator,
    store: Store,
    queue: QueueBackend,
    config: Arc<Config>,
    sampler: SystemSampler,
    /// Counters at the previous sample, to turn totals into per-interval figures.
    previous: Option<(StatsSnapshot, HistogramSnapshot, Instant)>,
    /// Recent samples (the trend window), oldest first.
    window: VecDeque<Sample>,
    levels: BTreeMap<&'static str, Hysteresis>,
    trends: BTreeMap<&'static str, Debounce>,
    /// Debounced failing state of checks and providers, by alert key.
    failing: BTreeMap<String, Debounce>,
    ladders: BTreeMap<Check, Ladder>,
    paused_for_disk: bool,
    last_system: SystemFigures,
    tasks: TaskTracker,
}

impl Monitor {
    /// A monitor over the service's parts.
    pub fn new(
        ops: Ops,
        orchestrator: Orchestrator,
        store: Store,
        queue: QueueBackend,
        config: Arc<Config>,
    ) -> Self {
        Self {
            ops,
            orchestrator,
            store,
            queue,
            sampler: SystemSampler::new(config.data_dir.clone()),
            config,
            previous: None,
            window: VecDeque::new(),
            levels: BTreeMap::new(),
            trends: BTreeMap::new(),
            failing: BTreeMap::new(),
            ladders: Check::ALL.iter().map(|c| (*c, c.ladder())).collect(),
            paused_for_disk: false,
            last_system: SystemFigures::default(),
            tasks: TaskTracker::new(),
        }
    }

    /// Runs a cycle every interval until `cancel`, then waits briefly for deliveries.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut ticks = Ticks::new(self.ops.config().interval);
        while ticks.next(&cancel).await {
            self.cycle().await;
        }
        self.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tasks.wait()).await;
    }

    /// One cycle: sample, thresholds, checks, actions, alerts.
    pub async fn cycle(&mut self) {
        let sample = self.sample().await;
        let monitoring = self.config.performance_monitoring;
        if monitoring {
            tracing::info!(target: PERF, cpu_pct = sample.cpu_system_pct, process_cpu_pct = sample.cpu_process_pct,
                memory_pct = sample.memory_system_pct, rss_mib = sample.memory_process_mib, disk_pct = sample.disk_used_pct,
                api_requests = sample.api_requests, api_p95_secs = sample.api_p95_secs, llm_p95_secs = sample.llm_p95_secs,
                posts = sample.posts, generation_secs = sample.generation_secs, jobs_per_min = sample.jobs_per_min,
                error_rate_pct = sample.error_rate_pct, queue_waiting = sample.queue_waiting, "sample");
            if let Err(e) = self.store.record_sample(sample.clone()).await {
                tracing::warn!(error = %e, "could not record the monitoring sample");
            }
        }
        self.evaluate(&sample, monitoring);
        self.alert_budget();
        let results = self.checks(&sample).await;
        for (check, result) in results {
            let failing = result.is_err();
            self.ops.set_component(check, result.clone());
            self.alert_check(check, &result);
            let action = self
                .ladders
                .get_mut(&check)
                .and_then(|l| l.observe(failing, Instant::now()));
            if !failing && check == Check::Disk && self.paused_for_disk {
                self.resume_after_disk().await;
            }
            if let Some(action) = action
                && self.config.self_healing
            {
                self.act(check, action).await;
            }
        }
        let group = self.ops.state().alerter.take_group(Instant::now());
        // Every process of a deployment watches the same dependencies; one of them, the
        // holder of the `alerts` lease (renewed every cycle), tells the operator. What only
        // this machine or this process sees is told by its holder or by this process.
        let host = crate::store::host_name();
        let leads = Leads {
            deployment: self.leads_alerts("alerts".to_owned()).await,
            host: self.leads_alerts(format!("alerts:{host}")).await,
        };
        let origin = format!(
            "{} process {} on {host}",
            self.config.role.as_str(),
            std::process::id()
        );
        let group = leads.sendable(group, &host, &origin);
        if !group.is_empty() {
            self.deliver(group);
        }
        self.ops.cycle_completed();
    }

    async fn sample(&mut self) -> Sample {
        let sys = self.sampler.read();
        self.last_system = sys;
        let now = Instant::now();
        let stats = self.ops.stats().snapshot();
        let llm = llm_histogram(&self.orchestrator);
        let (d, dl, elapsed) = match &self.previous {
            Some((s, l, at)) => (stats.since(s), llm.since(l), now.duration_since(*at)),
            None => (stats.clone(), llm.clone(), self.ops.config().interval),
        };
        self.previous = Some((stats, llm, now));
        let (operations, failed) = d.operations();
        let mut sample = Sample {
            ts: crate::db::now_ms(),
            cpu_process_pct: sys.cpu_process_pct,
            cpu_system_pct: sys.cpu_system_pct,
            memory_process_mib: sys.memory_process_bytes as f64 / (1024.0 * 1024.0),
            memory_system_pct: sys.memory_system_pct,
            disk_used_pct: sys.disk_used_pct,
            api_requests: d.api.count(),
            api_p95_secs: d.api.quantile(0.95),
            llm_calls: dl.count(),
            llm_p95_secs: dl.quantile(0.95),
            posts: d.generation.count(),
            generation_secs: d.generation.mean(),
            jobs_per_min: (d.jobs_ok + d.jobs_failed) as f64 * 60.0
                / elapsed.as_secs_f64().max(1e-3),
            operations,
            failed_operations: failed,
            ..Sample::default()
        };
        // One bound for all queues, and none asked after a failure: a down backend must not
        // stretch the cycle (the queue check reports it).
        let counts = tokio::time::timeout(Duration::from_secs(2), async {
            let mut depth = [0u64; 4];
            for name in names::ALL {
                let c = self.queue.counts(name).await.ok()?;
                depth[0] += c.waiting;
                depth[1] += c.active;
                depth[2] += c.delayed;
                depth[3] += c.failed;
            }
            Some(depth)
        })
        .await
        .ok()
        .flatten();
        if let Some(depth) = counts {
            sample.queue_waiting = Some(depth[0]);
            sample.queue_active = Some(depth[1]);
            sample.queue_delayed = Some(depth[2]);
            sample.queue_failed = Some(depth[3]);
        }
        let keep = self.ops.config().trend_window;
        self.window.push_back(sample.clone());
        while self
            .window
            .front()
            .is_some_and(|s| sample.ts - s.ts > keep.as_millis() as i64)
        {
            self.window.pop_front();
        }
        sample.error_rate_pct = self.error_rate(sample.ts);
        if let Some(last) = self.window.back_mut() {
            last.error_rate_pct = sample.error_rate_pct;
        }
        self.ops.state().latest = Some(sample.clone());
        sample
    }

    /// Failed operations over the error window, if there were enough operations to tell.
    fn error_rate(&self, now_ms: i64) -> Option<f64> {
        let window = self.ops.config().error_window.as_millis() as i64;
        let (ops, failed) = self
            .window
            .iter()
            .filter(|s| now_ms - s.ts < window)
            .fold((0, 0), |(o, f), s| {
                (o + s.operations, f + s.failed_operations)
            });
        (ops >= self.ops.config().error_min_operations && ops > 0)
            .then(|| failed as f64 * 100.0 / ops as f64)
    }

    fn threshold(&self, metric: &str) -> Threshold {
        let c = self.ops.config();
        match metric {
            "memory" => c.memory,
            "cpu" => c.cpu,
            "response" => c.response,
            "generation" => c.generation,
            "error_rate" => c.error_rate,
            _ => c.disk,
        }
    }

    /// Thresholds with hysteresis, and trends of the levels that creep.
    fn evaluate(&mut self, sample: &Sample, monitoring: bool) {
        let damping = self.ops.config().damping;
        for metric in METRICS {
            let value = metric_value(sample, metric);
            let Some(v) = value else { continue };
            let t = self.threshold(metric);
            let changed = self
                .levels
                .entry(metric)
                .or_default()
                .observe(v, &t, &damping);
            // Memory and disk levels drive self-healing even without monitoring alerts.
            if !monitoring {
                continue;
            }
            let (title, unit) = describe(metric);
            let now = Instant::now();
            let mut s = self.ops.state();
            match changed {
                Some(Level::Ok) => {
                    s.alerter
                        .resolve(metric, &format!("{title}: back to {v:.1}{unit}"));
                }
                Some(level) => {
                    let (severity, bound) = match level {
                        Level::Critical => (Severity::Critical, t.critical),
                        _ => (Severity::Warning, t.warn),
                    };
                    s.alerter.raise(
                        metric,
                        severity,
                        title,
                        &format!(
                            "{v:.1}{unit} ({} from {bound}{unit})",
                            severity.label().to_lowercase()
                        ),
                        now,
                    );
                }
                None => {}
            }
        }
        if !monitoring {
            return;
        }
        let rule = self.ops.config().trend;
        for metric in ["memory", "disk", "response", "generation"] {
            let bound = self.threshold(metric).warn;
            if matches!(metric, "memory" | "disk") && bound > 100.0 {
                continue; // the operator turned this alert off
            }
            let points: Vec<(f64, f64)> = self
                .window
                .iter()
                .filter_map(|s| metric_value(s, metric).map(|v| (s.ts as f64 / 1000.0, v)))
                .collect();
            let forecast = super::trend::forecast(&points, bound, &rule);
            let changed = self
                .trends
                .entry(metric)
                .or_default()
                .observe(forecast.is_some(), &self.ops.config().damping);
            let key = format!("trend:{metric}");
            let (title, unit) = describe(metric);
            let mut s = self.ops.state();
            match (changed, forecast) {
                (Some(true), Some(f)) => s.alerter.raise(
                    &key,
                    Severity::Warning,
                    &format!("{title}: rising"),
                    &format!(
                        "{:+.2}{unit} per hour; reaches the warning bound {bound}{unit} in about {:.1} h",
                        f.per_hour,
                        f.eta.as_secs_f64() / 3600.0
                    ),
                    Instant::now(),
                ),
                (Some(false), _) => s.alerter.resolve(&key, "no longer rising toward its bound"),
                _ => {}
            }
        }
    }

    async fn checks(&mut self, sample: &Sample) -> Vec<(Check, Result<Duration, String>)> {
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

    /// Providers whose last health check failed or whose breaker is open; alerts per provider
    /// (critical when none is left).
    async fn providers_check(&mut self) -> Result<(), String> {
        let snapshot = self.orchestrator.router().latest_health().await;
        let now = Instant::now();
        let providers = self.orchestrator.router().generator.providers();
        let mut down = Vec::new();
        for p in providers {
            let check = snapshot
                .as_ref()
                .and_then(|h| h.providers.iter().find(|(n, _)| n == p.name()))
                .and_then(|(_, r)| r.as_ref().err().cloned());
            let breaker = p.breaker().snapshot(now);
            let reason = match (check, breaker.state) {
                (Some(e), _) => Some(e),
                (None, "open") => {
                    Some("its circuit breaker is open after repeated failures".to_owned())
                }
                _ => None,
            };
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
    async fn targets_check(&mut self) -> Result<(), String> {
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
    async fn stuck_jobs(&self) -> Result<(), String> {
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

    async fn scheduler_check(&self) -> Result<(), String> {
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

    /// Generation stopped by the daily budget or post cap: a warning while it lasts.
    fn alert_budget(&mut self) {
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
    fn alert_check(&mut self, check: Check, result: &Result<Duration, String>) {
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

    async fn act(&mut self, check: Check, action: Action) {
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
                    self.ops.inner.exit.cancel();
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
    fn memory_is_ours(&self) -> bool {
        let s = &self.last_system;
        let used = s.memory_total_bytes as f64 * s.memory_system_pct / 100.0;
        used > 0.0 && s.memory_process_bytes as f64 >= used / 4.0
    }

    async fn resume_after_disk(&mut self) {
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

    /// Whether this process holds the store's lease `name` (three intervals long, at least
    /// 5 s) and so sends the alerts it covers. A process whose store does not answer sends
    /// anyway: a duplicate alert is better than none.
    async fn leads_alerts(&self, name: String) -> bool {
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

    /// Sends a group: at once, and on a retryable failure through a `system-maintenance` job
    /// (retries with backoff that survive a restart); if the queue is down too, from here.
    fn deliver(&self, group: Vec<Alert>) {
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

/// The monitor's cadence: a tick at once and then every interval. Work that overruns the
/// interval delays the next tick instead of causing a burst of catch-up ticks.
struct Ticks(tokio::time::Interval);

impl Ticks {
    fn new(interval: Duration) -> Self {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self(tick)
    }

    /// Waits for the next tick; `false` once `cancel` fires.
    async fn next(&mut self, cancel: &CancellationToken) -> bool {
        tokio::select! {
            _ = cancel.cancelled() => false,
            _ = self.0.tick() => true,
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
enum Scope {
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

fn scope(key: &str) -> Scope {
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
struct Leads {
    deployment: bool,
    host: bool,
}

impl Leads {
    /// What of `group` this process sends; alerts not about the whole deployment say where
    /// they come from.
    fn sendable(self, group: Vec<Alert>, host: &str, origin: &str) -> Vec<Alert> {
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

fn metric_value(s: &Sample, metric: &str) -> Option<f64> {
    match metric {
        "memory" => Some(s.memory_system_pct),
        "cpu" => Some(s.cpu_system_pct),
        "response" => s.api_p95_secs,
        "generation" => s.generation_secs,
        "error_rate" => s.error_rate_pct,
        _ => (s.disk_used_pct > 0.0).then_some(s.disk_used_pct),
    }
}

fn describe(metric: &str) -> (&'static str, &'static str) {
    match metric {
        "memory" => ("Memory in use", " %"),
        "cpu" => ("CPU in use", " %"),
        "response" => ("API response time (p95)", " s"),
        "generation" => ("Time to write a post", " s"),
        "error_rate" => ("Error rate", " %"),
        _ => ("Data disk in use", " %"),
    }
}

/// The providers' call latencies as one histogram.
fn llm_histogram(orchestrator: &Orchestrator) -> HistogramSnapshot {
    let mut counts = vec![0u64; LATENCY_BUCKETS.len() + 1];
    let mut sum = 0.0;
    for p in orchestrator.router().generator.providers() {
        let t = p.totals();
        let total: u64 = t.outcomes.iter().sum();
        let bucketed: u64 = t.buckets.iter().sum();
        for (c, b) in counts.iter_mut().zip(t.buckets) {
            *c += b;
        }
        counts[LATENCY_BUCKETS.len()] += total.saturating_sub(bucketed);
        sum += t.latency_sum;
    }
    HistogramSnapshot {
        bounds: &LATENCY_BUCKETS,
        counts,
        sum_secs: sum,
    }
}

async fn timed<T, E: std::fmt::Display>(
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(CHECK_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deployment_leader_host_leader_and_each_process_send_their_own_alerts() {
        let alert = |key: &str| Alert {
            key: key.into(),
            severity: Severity::Warning,
            status: crate::ops::alert::AlertStatus::Firing,
            title: key.into(),
            message: "m".into(),
            at: 0,
        };
        let group = || {
            [
                "queue",
                "provider:openai",
                "budget",
                "heal:queue:reconnect",
                "disk",
                "trend:memory",
                "generation",
                "trend:generation",
                "scheduler",
                "heal:memory:exit",
            ]
            .map(alert)
            .to_vec()
        };
        let sent = |deployment, host| {
            Leads { deployment, host }
                .sendable(group(), "h1", "worker process 7 on h1")
                .into_iter()
                .map(|a| format!("{} {}", a.key, a.message))
                .collect::<Vec<_>>()
        };
        let own = [
            "generation m [worker process 7 on h1]",
            "trend:generation m [worker process 7 on h1]",
            "scheduler m [worker process 7 on h1]",
            "heal:memory:exit m [worker process 7 on h1]",
        ];
        assert_eq!(sent(false, false), own);
        let mut with_host = vec!["disk m [h1]", "trend:memory m [h1]"];
        with_host.extend(own);
        assert_eq!(sent(false, true), with_host);
        let all = sent(true, true);
        assert_eq!(all.len(), 10);
        assert_eq!(
            &all[..4],
            [
                "queue m",
                "provider:openai m",
                "budget m",
                "heal:queue:reconnect m"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn cycles_run_every_interval_and_an_overrun_delays_instead_of_bursting() {
        let cancel = CancellationToken::new();
        let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let start = Instant::now();
        let (c, log) = (cancel.clone(), calls.clone());
        let task = tokio::spawn(async move {
            let mut ticks = Ticks::new(Duration::from_secs(15));
            while ticks.next(&c).await {
                let n = {
                    let mut l = log.lock().unwrap();
                    l.push(start.elapsed().as_secs());
                    l.len()
                };
                // The third cycle takes 40 s (a hung dependency check).
                if n == 3 {
                    tokio::time::sleep(Duration::from_secs(40)).await;
                }
            }
        });
        tokio::time::sleep(Duration::from_secs(121)).await;
        cancel.cancel();
        task.await.unwrap();
        assert_eq!(*calls.lock().unwrap(), [0, 15, 30, 70, 85, 100, 115]);
    }
}
