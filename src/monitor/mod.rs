//! The monitoring loop: every interval it takes a sample, records it, evaluates thresholds and
//! trends, runs the self-healing checks, carries out recovery actions and sends the alerts of
//! the cycle as one group.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::ops::Ops;
use crate::ops::heal::{Check, Ladder};
use crate::ops::sample::{Sample, SystemFigures, SystemSampler};
use crate::ops::stats::{HistogramSnapshot, StatsSnapshot};
use crate::ops::threshold::{Debounce, Hysteresis};
use crate::orchestrator::Orchestrator;
use crate::queue::QueueBackend;
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
    previous: Option<(StatsSnapshot, HistogramSnapshot, u64, Instant)>,
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

mod alerts;
mod checks;
mod evaluate;
mod heal;

use alerts::Leads;
pub use alerts::alert_job;

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
        self.keep_history(&group).await;
        if !group.is_empty() {
            self.deliver(group);
        }
        self.ops.cycle_completed();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::alert::{Alert, Severity};

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
