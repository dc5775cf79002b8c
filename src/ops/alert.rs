//! Which alerts go out, and when: the decisions, no I/O ([`super::channels`] delivers).
//!
//! - An alert has a key (`memory`, `queue`, `provider:openai`, …). Raising an active key again
//!   at the same severity is not re-sent before the repeat interval; a higher severity is sent
//!   at once; resolving an active key sends one resolve message.
//! - Notices (recovery actions) are one-shot messages, deduplicated by key and repeat interval.
//! - Everything raised during one monitoring cycle leaves as one group (one message per
//!   channel), so an outage that trips five checks is one notification, not five.
//! - A global limit caps messages per hour. Critical alerts and resolves of sent alerts pass
//!   it; a suppressed raise stays pending and goes out once the limit allows.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

pub use crate::config::watch::{AlertPolicy, Severity};

impl Severity {
    /// Parses `info`, `warning` or `critical`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "info" => Severity::Info,
            "warning" => Severity::Warning,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    /// Upper-case label for messages.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// Whether an alert starts or ends a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// The problem is there (or a one-shot notice).
    Firing,
    /// The problem is gone.
    Resolved,
}

/// One message about one key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Alert {
    /// What it is about; stable across raise and resolve.
    pub key: String,
    /// Severity (of the raise, for a resolve).
    pub severity: Severity,
    /// Firing or resolved.
    pub status: AlertStatus,
    /// One line.
    pub title: String,
    /// Details, without secrets or stack traces.
    pub message: String,
    /// When, ms since epoch.
    pub at: i64,
}

#[derive(Debug)]
struct Active {
    severity: Severity,
    /// When it was first raised, ms since epoch.
    since: i64,
    title: String,
    /// When it was last sent; `None` while held back by the global limit.
    sent: Option<Instant>,
    message: String,
}

/// The alert book: what is active, what was sent when, what is waiting to go out.
#[derive(Debug)]
pub struct Alerter {
    policy: AlertPolicy,
    active: HashMap<String, Active>,
    notices: HashMap<String, Instant>,
    sent_times: VecDeque<Instant>,
    outbox: Vec<Alert>,
    recent: VecDeque<Alert>,
    /// Messages held back by the global limit so far.
    pub suppressed: u64,
    /// Messages handed to the channels so far.
    pub sent: u64,
}

const RECENT: usize = 50;

impl Alerter {
    /// An empty book.
    pub fn new(policy: AlertPolicy) -> Self {
        Self {
            policy,
            active: HashMap::new(),
            notices: HashMap::new(),
            sent_times: VecDeque::new(),
            outbox: Vec::new(),
            recent: VecDeque::new(),
            suppressed: 0,
            sent: 0,
        }
    }

    /// Keys that are active now, with their severity.
    pub fn active(&self) -> Vec<(String, Severity)> {
        let mut v: Vec<_> = self
            .active
            .iter()
            .map(|(k, a)| (k.clone(), a.severity))
            .collect();
        v.sort();
        v
    }

    /// The active problems, most severe first, then oldest first: each as the alert that
    /// raised it (`at` is when it started).
    pub fn active_alerts(&self) -> Vec<Alert> {
        let mut v: Vec<Alert> = self
            .active
            .iter()
            .map(|(k, a)| Alert {
                key: k.clone(),
                severity: a.severity,
                status: AlertStatus::Firing,
                title: a.title.clone(),
                message: a.message.clone(),
                at: a.since,
            })
            .collect();
        v.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.at.cmp(&b.at)));
        v
    }

    /// The latest alerts that went out, newest first.
    pub fn recent(&self) -> Vec<Alert> {
        self.recent.iter().rev().cloned().collect()
    }

    /// Whether the global limit lets one more message out at `now`; records it if so.
    fn admit(&mut self, severity: Severity, now: Instant) -> bool {
        while self
            .sent_times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(3600))
        {
            self.sent_times.pop_front();
        }
        if severity < Severity::Critical
            && self.sent_times.len() >= self.policy.max_per_hour as usize
        {
            return false;
        }
        self.sent_times.push_back(now);
        true
    }

    fn emit(&mut self, alert: Alert) {
        self.sent += 1;
        self.recent.push_back(alert.clone());
        if self.recent.len() > RECENT {
            self.recent.pop_front();
        }
        self.outbox.push(alert);
    }

    /// The problem `key` is there at `severity`.
    pub fn raise(
        &mut self,
        key: &str,
        severity: Severity,
        title: &str,
        message: &str,
        now: Instant,
    ) {
        let already_held = self.active.get(key).is_some_and(|a| a.sent.is_none());
        let due = match self.active.get(key) {
            None => true,
            Some(a) => match a.sent {
                None => true,
                Some(at) => {
                    severity > a.severity || now.duration_since(at) >= self.policy.repeat_interval
                }
            },
        };
        let entry = self.active.entry(key.to_owned()).or_insert_with(|| Active {
            severity,
            since: crate::db::now_ms(),
            title: title.to_owned(),
            sent: None,
            message: message.to_owned(),
        });
        entry.severity = severity;
        entry.title = title.to_owned();
        entry.message = message.to_owned();
        if !due {
            return;
        }
        if self.admit(severity, now) {
            if let Some(a) = self.active.get_mut(key) {
                a.sent = Some(now);
            }
            self.emit(Alert {
                key: key.to_owned(),
                severity,
                status: AlertStatus::Firing,
                title: title.to_owned(),
                message: message.to_owned(),
                at: crate::db::now_ms(),
            });
        } else if !already_held {
            self.suppressed += 1;
        }
    }

    /// The problem `key` is gone. Sends a resolve only if the raise went out.
    pub fn resolve(&mut self, key: &str, message: &str) {
        let Some(a) = self.active.remove(key) else {
            return;
        };
        if a.sent.is_none() {
            return;
        }
        self.emit(Alert {
            key: key.to_owned(),
            severity: a.severity,
            status: AlertStatus::Resolved,
            title: a.title,
            message: message.to_owned(),
            at: crate::db::now_ms(),
        });
    }

    /// A one-shot message (a recovery action), at most once per repeat interval per key.
    pub fn notice(
        &mut self,
        key: &str,
        severity: Severity,
        title: &str,
        message: &str,
        now: Instant,
    ) {
        if self
            .notices
            .get(key)
            .is_some_and(|at| now.duration_since(*at) < self.policy.repeat_interval)
        {
            return;
        }
        if !self.admit(severity, now) {
            self.suppressed += 1;
            return;
        }
        self.notices.insert(key.to_owned(), now);
        self.emit(Alert {
            key: key.to_owned(),
            severity,
            status: AlertStatus::Firing,
            title: title.to_owned(),
            message: message.to_owned(),
            at: crate::db::now_ms(),
        });
    }

    /// Everything to send from this cycle, as one group; held-back raises are retried first.
    pub fn take_group(&mut self, now: Instant) -> Vec<Alert> {
        let pending: Vec<String> = self
            .active
            .iter()
            .filter(|(_, a)| a.sent.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        for key in pending {
            if let Some(a) = self.active.get(&key) {
                let (severity, title, message) = (a.severity, a.title.clone(), a.message.clone());
                self.raise(&key, severity, &title, &message, now);
            }
        }
        std::mem::take(&mut self.outbox)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(group: &[Alert]) -> Vec<(String, AlertStatus, Severity)> {
        group
            .iter()
            .map(|a| (a.key.clone(), a.status, a.severity))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn an_active_alert_is_sent_once_then_again_after_its_repeat_interval() {
        let mut a = Alerter::new(AlertPolicy {
            repeat_interval: Duration::from_secs(3600),
            max_per_hour: 100,
        });
        let t0 = Instant::now();
        a.raise("memory", Severity::Warning, "Memory high", "83 %", t0);
        assert_eq!(a.take_group(t0).len(), 1);
        for _ in 0..10 {
            tokio::time::advance(Duration::from_secs(60)).await;
            a.raise(
                "memory",
                Severity::Warning,
                "Memory high",
                "84 %",
                Instant::now(),
            );
        }
        assert!(
            a.take_group(Instant::now()).is_empty(),
            "no repeat within the hour"
        );
        // Escalation is sent at once.
        a.raise(
            "memory",
            Severity::Critical,
            "Memory high",
            "95 %",
            Instant::now(),
        );
        assert_eq!(
            keys(&a.take_group(Instant::now())),
            [("memory".into(), AlertStatus::Firing, Severity::Critical)]
        );
        tokio::time::advance(Duration::from_secs(3600)).await;
        a.raise(
            "memory",
            Severity::Critical,
            "Memory high",
            "95 %",
            Instant::now(),
        );
        assert_eq!(
            a.take_group(Instant::now()).len(),
            1,
            "a reminder after the interval"
        );
        a.resolve("memory", "back to 60 %");
        a.resolve("memory", "again");
        assert_eq!(
            keys(&a.take_group(Instant::now())),
            [("memory".into(), AlertStatus::Resolved, Severity::Critical)]
        );
        a.resolve("never-raised", "x");
        assert!(a.take_group(Instant::now()).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn one_cycle_is_one_group_and_the_hourly_limit_holds_back_all_but_critical() {
        let mut a = Alerter::new(AlertPolicy {
            repeat_interval: Duration::from_secs(60),
            max_per_hour: 2,
        });
        let now = Instant::now();
        a.raise("cpu", Severity::Warning, "CPU high", "", now);
        a.raise("disk", Severity::Warning, "Disk filling", "", now);
        a.raise("latency", Severity::Warning, "Slow API", "", now);
        a.raise("queue", Severity::Critical, "Queue down", "", now);
        let group = a.take_group(now);
        assert_eq!(
            group.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(),
            ["cpu", "disk", "queue"],
            "the third warning is held back, the critical one is not"
        );
        assert_eq!(a.suppressed, 1);
        // A resolve of a held-back alert is not sent: nobody heard of it.
        a.resolve("latency", "fine");
        assert!(a.take_group(now).is_empty());
        // Held back raises go out when the hour has room again.
        a.raise("latency", Severity::Warning, "Slow API", "", now);
        assert!(a.take_group(now).is_empty());
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(keys(&a.take_group(Instant::now()))[0].0, "latency");
    }

    #[tokio::test(start_paused = true)]
    async fn notices_are_deduplicated_by_key_within_the_repeat_interval() {
        let mut a = Alerter::new(AlertPolicy {
            repeat_interval: Duration::from_secs(600),
            max_per_hour: 100,
        });
        a.notice(
            "heal:memory:shrink",
            Severity::Warning,
            "t",
            "m",
            Instant::now(),
        );
        a.notice(
            "heal:memory:shrink",
            Severity::Warning,
            "t",
            "m",
            Instant::now(),
        );
        a.notice(
            "heal:memory:restart",
            Severity::Warning,
            "t",
            "m",
            Instant::now(),
        );
        assert_eq!(a.take_group(Instant::now()).len(), 2);
        tokio::time::advance(Duration::from_secs(600)).await;
        a.notice(
            "heal:memory:shrink",
            Severity::Warning,
            "t",
            "m",
            Instant::now(),
        );
        assert_eq!(a.take_group(Instant::now()).len(), 1);
        assert_eq!(a.recent().len(), 3);
    }
}
