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
//!
//! These are the decisions, kept free of the components they watch. The loop that ties them
//! together and carries out actions is [`crate::monitor`], one layer up: it may reach the
//! orchestrator and the queue, which this module never imports.

pub mod alert;
pub mod channels;
pub mod heal;

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

use alert::{Alert, Alerter, Severity};
use channels::Channels;
use heal::{Action, Check};
use sample::Sample;
use stats::Stats;

pub use crate::config::{AlertsConfig, MonitorConfig};

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
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
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

/// What the monitor keeps between cycles and the API reads.
#[derive(Debug)]
pub(crate) struct State {
    /// The newest sample.
    pub(crate) latest: Option<Sample>,
    /// Active alerts and the group of this cycle.
    pub(crate) alerter: Alerter,
    /// Each check's last result.
    pub(crate) components: BTreeMap<Check, ComponentStatus>,
    /// The newest recovery actions.
    pub(crate) recoveries: VecDeque<Recovery>,
    /// Recovery actions not yet written to the store's history.
    pub(crate) unsaved_recoveries: Vec<Recovery>,
    /// How often each action was taken per check.
    pub(crate) actions: BTreeMap<(Check, Action), u64>,
    /// Alert deliveries that failed for good.
    pub(crate) deliveries_failed: u64,
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
                    unsaved_recoveries: Vec::new(),
                    actions: BTreeMap::new(),
                    deliveries_failed: 0,
                }),
                cycles: AtomicU64::new(0),
                cycle_done: tokio::sync::Notify::new(),
                exit: CancellationToken::new(),
            }),
        }
    }

    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
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

    /// Active alerts in full (title, message, since when), most severe first.
    pub fn active_alert_details(&self) -> Vec<Alert> {
        self.state().alerter.active_alerts()
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

    pub(crate) fn cycle_completed(&self) {
        self.inner.cycles.fetch_add(1, Ordering::Relaxed);
        self.inner.cycle_done.notify_waiters();
    }

    pub(crate) fn record_recovery(&self, r: Recovery) {
        let mut s = self.state();
        *s.actions.entry((r.check, r.action)).or_default() += 1;
        s.unsaved_recoveries.push(r.clone());
        s.recoveries.push_back(r);
        if s.recoveries.len() > RECOVERIES_KEPT {
            s.recoveries.pop_front();
        }
    }

    pub(crate) fn set_component(&self, check: Check, result: Result<Duration, String>) {
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

    pub(crate) fn delivery_failed(&self) {
        self.state().deliveries_failed += 1;
    }
}
