//! Settings of monitoring and alerting, validated (`[monitoring]`, `[alerts]`). The
//! behaviour (levels, trends, delivery) lives in [`crate::ops`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::shared::Secret;

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

/// Repeat interval and global limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertPolicy {
    /// An active alert is re-sent after this long (a reminder), not before.
    pub repeat_interval: Duration,
    /// Messages per hour over all keys (critical alerts and resolves pass).
    pub max_per_hour: u32,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        Self {
            repeat_interval: Duration::from_secs(4 * 3600),
            max_per_hour: 30,
        }
    }
}

/// Where alerts go. A channel is configured when its secret is set.
#[derive(Debug, Clone)]
pub enum ChannelConfig {
    /// Slack incoming webhook: `POST {"text": …}`.
    Slack {
        /// The webhook URL (a credential).
        url: Secret,
        /// Least severity sent.
        min_severity: Severity,
    },
    /// Discord webhook: `POST {"content": …}` (at most 2000 characters).
    Discord {
        /// The webhook URL (a credential).
        url: Secret,
        /// Least severity sent.
        min_severity: Severity,
    },
    /// Telegram bot: `POST {api_base}/bot{token}/sendMessage {"chat_id", "text"}`.
    Telegram {
        /// `https://api.telegram.org` unless a proxy or a test server stands in.
        api_base: String,
        /// The bot token (a credential).
        token: Secret,
        /// Chat, group or channel id.
        chat_id: String,
        /// Least severity sent.
        min_severity: Severity,
    },
    /// Any JSON receiver; `X-Blogflow-Signature: sha256=<hex>` over `"{timestamp}.{body}"`.
    Webhook {
        /// Receiver URL (may hold a token).
        url: Secret,
        /// HMAC key; unsigned without one.
        secret: Option<Secret>,
        /// Least severity sent.
        min_severity: Severity,
    },
}

/// Bounds for a value where higher is worse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// Warning from here.
    pub warn: f64,
    /// Critical from here.
    pub critical: f64,
}

/// How many samples confirm a change, and how far below a bound a value must fall to clear.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Damping {
    /// Consecutive samples at a higher level before it is entered.
    pub raise_after: u32,
    /// Consecutive samples below the clear bound before a level is left.
    pub clear_after: u32,
    /// A level clears below `bound × clear_ratio` (e.g. 0.9: 80 % clears below 72 %).
    pub clear_ratio: f64,
}

impl Default for Damping {
    fn default() -> Self {
        Self {
            raise_after: 2,
            clear_after: 2,
            clear_ratio: 0.9,
        }
    }
}

/// When a trend is worth a warning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendRule {
    /// Samples needed before a line means anything.
    pub min_points: usize,
    /// The line must explain at least this much of the variation (0–1).
    pub min_r2: f64,
    /// Warn when the bound is projected to be crossed within this time.
    pub horizon: Duration,
}

impl Default for TrendRule {
    fn default() -> Self {
        Self {
            min_points: 12,
            min_r2: 0.6,
            horizon: Duration::from_secs(6 * 3600),
        }
    }
}

/// How urgent. Ordered: `Info < Warning < Critical`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For the record.
    Info,
    /// Needs attention soon.
    Warning,
    /// Needs attention now.
    Critical,
}
