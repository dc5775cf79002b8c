//! Operations: monitoring, self-healing and alerts.
//!
//! ```text
//!  api, jobs, pipeline ──bump──► stats ─┐
//!  sysinfo, statvfs ────────────────────┼─► monitor (every interval) ──► sample ──► store history
//!  queue counts, provider totals ───────┘        │                               └► performance.log
//!                                                ├─► thresholds / trends ─┐
//!                                                ├─► checks ─► heal ladders ─► actions
//!                                                │                       └────┤
//!                                                └────────────────────────────► alert ─► channels
//! ```
//! - [`stats`]: lock-free counters and histograms the hot paths bump.
//! - [`sample`]: one sample (machine and service figures).
//! - [`threshold`], [`trend`]: levels with hysteresis; least-squares trends.
//! - [`heal`]: recovery ladders per check.
//! - [`alert`]: dedup, repeat interval, grouping, global limit; [`channels`] deliver.
//! - [`monitor`]: the loop that ties them together and carries out actions.

pub mod alert;
pub mod channels;
pub mod heal;
pub mod monitor;
pub mod sample;
pub mod stats;
pub mod threshold;
pub mod trend;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use alert::{Alert, AlertPolicy, Alerter, Severity};
use channels::{ChannelConfig, Channels};
use heal::{Action, Check};
use sample::Sample;
use stats::Stats;
use threshold::{Damping, Threshold};
use trend::TrendRule;

/// `[monitoring]`, validated.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// Time between samples and between self-healing checks.
    pub interval: Duration,
    /// System memory in use, %.
    pub memory: Threshold,
    /// System CPU, %.
    pub cpu: Threshold,
    /// API p95 response time, seconds.
    pub response: Threshold,
    /// Mean time to write a post, seconds.
    pub generation: Threshold,
    /// Failed operations, %.
    pub error_rate: Threshold,
    /// Disk in use, %.
    pub disk: Threshold,
    /// Confirmation and clearing of levels.
    pub damping: Damping,
    /// When a trend is worth a warning.
    pub trend: TrendRule,
    /// Window of the trend line.
    pub trend_window: Duration,
    /// Window of the error rate.
    pub error_window: Duration,
    /// Fewer operations than this in the window give no error rate (one failure of three
    /// requests is not a 33 % error rate worth waking someone for).
    pub error_min_operations: u64,
    /// Full-resolution history kept.
    pub history_raw: Duration,
    /// Five-minute history kept.
    pub history_rollup: Duration,
}

/// `[alerts]`, validated.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    /// Name of this instance in messages.
    pub instance: String,
    /// Repeat interval and global limit.
    pub policy: AlertPolicy,
    /// Configured channels.
    pub channels: Vec<ChannelConfig>,
}

/// The health of one component, as the last check saw it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ComponentStatus {
    /// `ok` or `failing`.
    pub status: &'static str,
    /// How long the check took, ms.
    pub latency_ms: Option<f64>,
    /// What failed last (kept after recovery, with its time).
    pub last_error: Option<String>,
    /// When it last failed, ms since epoch.
    pub last_error_at: Option<i64>,
    /// Since when the status holds, ms since epoch.
    pub since: i64,
    /// When it was checked, ms since epoch.
    pub checked_at: i64,
}

/// A recovery action that was taken.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Recovery {
    /// When, ms since epoch.
    pub at: i64,
    /// The failing check.
    pub check: Check,
    /// What was done.
    pub action: Action,
    /// How it went.
    pub outcome: String,
}

const RECOVERIES_KEPT: usize = 50;

#[derive(Debug)]
struct State {
    latest: Option<Sample>,
    alerter: Alerter,
    components: BTreeMap<Check, ComponentStatus>,
    recoveries: VecDeque<Recovery>,
    actions: BTreeMap<(Check, Action), u64>,
    deliveries_failed: u64,
}

struct Inner {
    stats: Arc<Stats>,
    channels: Channels,
    config: MonitorConfig,
    state: Mutex<State>,
    cycles: AtomicU64,
    cycle_done: tokio::sync::Notify,
    exit: CancellationToken,
}

/// Handle to the operations state, shared by the monitor, the API and the job router. Cheap
/// to clone.
#[derive(Clone)]
pub struct Ops {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops").finish_non_exhaustive()
    }
}

impl Ops {
    /// Operations state for `config`, counting into `stats`.
    pub fn new(config: &crate::config::Config, stats: Arc<Stats>) -> Self {
        let channels = Channels::new(
            config.alerts.channels.clone(),
            config.alerts.instance.clone(),
            config.secrets(),
        );
        Self {
            inner: Arc::new(Inner {
                stats,
                channels,
                config: config.monitor.clone(),
                state: Mutex::new(State {
                    latest: None,
                    alerter: Alerter::new(config.alerts.policy),
                    components: BTreeMap::new(),
                    recoveries: VecDeque::new(),
                    actions: BTreeMap::new(),
                    deliveries_failed: 0,
                }),
                cycles: AtomicU64::new(0),
                cycle_done: tokio::sync::Notify::new(),
                exit: CancellationToken::new(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().expect("ops state")
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.inner.stats
    }

    /// The alert channels.
    pub fn channels(&self) -> &Channels {
        &self.inner.channels
    }

    /// The monitoring settings.
    pub fn config(&self) -> &MonitorConfig {
        &self.inner.config
    }

    /// The latest sample.
    pub fn latest(&self) -> Option<Sample> {
        self.state().latest.clone()
    }

    /// Each component's last check.
    pub fn components(&self) -> BTreeMap<Check, ComponentStatus> {
        self.state().components.clone()
    }

    /// The latest recovery actions, newest first.
    pub fn recoveries(&self) -> Vec<Recovery> {
        self.state().recoveries.iter().rev().cloned().collect()
    }

    /// Recovery actions taken so far, by check and action.
    pub fn action_counts(&self) -> BTreeMap<(Check, Action), u64> {
        self.state().actions.clone()
    }

    /// Active alerts with their severity.
    pub fn active_alerts(&self) -> Vec<(String, Severity)> {
        self.state().alerter.active()
    }

    /// The latest alerts that went out, newest first.
    pub fn recent_alerts(&self) -> Vec<Alert> {
        self.state().alerter.recent()
    }

    /// Alert messages sent, held back by the hourly limit, and deliveries given up on.
    pub fn alert_counts(&self) -> (u64, u64, u64) {
        let s = self.state();
        (s.alerter.sent, s.alerter.suppressed, s.deliveries_failed)
    }

    /// Monitoring cycles completed.
    pub fn cycles(&self) -> u64 {
        self.inner.cycles.load(Ordering::Relaxed)
    }

    /// Waits until `n` cycles have completed.
    pub async fn wait_cycles(&self, n: u64) {
        loop {
            let notified = self.inner.cycle_done.notified();
            if self.cycles() >= n {
                return;
            }
            notified.await;
        }
    }

    /// Cancelled when self-healing decided the process must restart.
    pub fn exit_requested(&self) -> CancellationToken {
        self.inner.exit.clone()
    }

    fn cycle_completed(&self) {
        self.inner.cycles.fetch_add(1, Ordering::Relaxed);
        self.inner.cycle_done.notify_waiters();
    }

    fn record_recovery(&self, r: Recovery) {
        let mut s = self.state();
        *s.actions.entry((r.check, r.action)).or_default() += 1;
        s.recoveries.push_back(r);
        if s.recoveries.len() > RECOVERIES_KEPT {
            s.recoveries.pop_front();
        }
    }

    fn set_component(&self, check: Check, result: Result<Duration, String>) {
        let now = crate::db::now_ms();
        let mut s = self.state();
        let previous = s.components.get(&check).cloned();
        let status = if result.is_ok() { "ok" } else { "failing" };
        let since = match &previous {
            Some(p) if p.status == status => p.since,
            _ => now,
        };
        let (last_error, last_error_at) = match &result {
            Err(e) => (Some(e.clone()), Some(now)),
            Ok(_) => previous
                .map(|p| (p.last_error, p.last_error_at))
                .unwrap_or_default(),
        };
        s.components.insert(
            check,
            ComponentStatus {
                status,
                latency_ms: result.as_ref().ok().map(|d| d.as_secs_f64() * 1e3),
                last_error,
                last_error_at,
                since,
                checked_at: now,
            },
        );
    }

    fn delivery_failed(&self) {
        self.state().deliveries_failed += 1;
    }
}
