//! `[monitoring]` and `[alerts]`.

use std::time::Duration;

use super::{Check, error, secs, warning};
use crate::config::Env;
use crate::config::raw::{RawAlerts, RawChannel, RawMonitoring};
use crate::config::watch::Severity;
use crate::config::{
    AlertPolicy, AlertsConfig, ChannelConfig, Damping, MonitorConfig, Threshold, TrendRule,
};

/// Percent bounds may go up to this: a bound above 100 is never reached, which turns that
/// alert off.
const PERCENT_OFF: f64 = 1000.0;

/// A warning/critical pair; the warning must be below the critical bound.
fn threshold(
    c: &mut Check,
    setting: &str,
    warn: Option<f64>,
    critical: Option<f64>,
    defaults: (f64, f64),
    max: f64,
) -> Threshold {
    let warn = c.range(
        &format!("monitoring.{setting}_warn_{}", unit(setting)),
        warn.unwrap_or(defaults.0),
        0.0,
        max,
    );
    let critical = c.range(
        &format!("monitoring.{setting}_critical_{}", unit(setting)),
        critical.unwrap_or(defaults.1),
        0.0,
        max,
    );
    if warn >= critical {
        c.problems.push(error(
            format!("monitoring.{setting}_warn_{}", unit(setting)),
            format!("{warn} must be below the critical bound {critical}"),
        ));
    }
    Threshold { warn, critical }
}

fn unit(setting: &str) -> &'static str {
    match setting {
        "response" | "generation" => "secs",
        _ => "pct",
    }
}

pub(super) fn monitor_config(c: &mut Check, raw: RawMonitoring) -> MonitorConfig {
    let interval = c.range(
        "monitoring.interval_secs",
        raw.interval_secs.unwrap_or(15.0),
        0.05,
        3600.0,
    );
    MonitorConfig {
        interval: Duration::from_secs_f64(interval),
        memory: threshold(
            c,
            "memory",
            raw.memory_warn_pct,
            raw.memory_critical_pct,
            (80.0, 90.0),
            PERCENT_OFF,
        ),
        cpu: threshold(
            c,
            "cpu",
            raw.cpu_warn_pct,
            raw.cpu_critical_pct,
            (70.0, 85.0),
            PERCENT_OFF,
        ),
        response: threshold(
            c,
            "response",
            raw.response_warn_secs,
            raw.response_critical_secs,
            (5.0, 10.0),
            3600.0,
        ),
        generation: threshold(
            c,
            "generation",
            raw.generation_warn_secs,
            raw.generation_critical_secs,
            (30.0, 60.0),
            86_400.0,
        ),
        error_rate: threshold(
            c,
            "error_rate",
            raw.error_rate_warn_pct,
            raw.error_rate_critical_pct,
            (1.0, 5.0),
            PERCENT_OFF,
        ),
        disk: threshold(
            c,
            "disk",
            raw.disk_warn_pct,
            raw.disk_critical_pct,
            (90.0, 95.0),
            PERCENT_OFF,
        ),
        damping: Damping {
            raise_after: c.range(
                "monitoring.raise_after",
                raw.raise_after.unwrap_or(2),
                1,
                100,
            ),
            clear_after: c.range(
                "monitoring.clear_after",
                raw.clear_after.unwrap_or(2),
                1,
                100,
            ),
            clear_ratio: 0.9,
        },
        trend: TrendRule {
            horizon: secs(
                3600 * c.range(
                    "monitoring.trend_horizon_hours",
                    raw.trend_horizon_hours.unwrap_or(6),
                    1,
                    24 * 30,
                ),
            ),
            ..TrendRule::default()
        },
        trend_window: secs(
            60 * c.range(
                "monitoring.trend_window_mins",
                raw.trend_window_mins.unwrap_or(60),
                5,
                24 * 60,
            ),
        ),
        error_window: Duration::from_secs(300),
        error_min_operations: 20,
        history_raw: secs(
            3600 * c.range(
                "monitoring.history_raw_hours",
                raw.history_raw_hours.unwrap_or(24),
                1,
                24 * 31,
            ),
        ),
        history_rollup: secs(
            86_400
                * c.range(
                    "monitoring.history_days",
                    raw.history_days.unwrap_or(31),
                    1,
                    3660,
                ),
        ),
    }
}

fn severity(c: &mut Check, setting: &str, raw: &RawChannel) -> Severity {
    match raw.min_severity.as_deref() {
        None => Severity::Warning,
        Some(s) => Severity::parse(s).unwrap_or_else(|| {
            c.problems.push(error(
                format!("alerts.{setting}.min_severity"),
                format!("{s:?} is unknown: use info, warning or critical"),
            ));
            Severity::Warning
        }),
    }
}

/// A secret URL that must be http(s); plain HTTP to another host gets a warning, since the URL
/// itself is the credential.
pub(super) fn webhook_url(c: &mut Check, env: &Env, var: &str) -> Option<crate::config::Secret> {
    let url = c.secret(env, var)?;
    match reqwest::Url::parse(url.expose()) {
        Ok(u) if u.scheme() == "https" => Some(url),
        Ok(u) if u.scheme() == "http" => {
            let local = matches!(
                u.host_str(),
                Some("127.0.0.1" | "localhost" | "::1" | "[::1]")
            );
            if !local {
                c.problems.push(warning(
                    var,
                    "plain http sends the alert (and the URL's token) unencrypted; use https",
                ));
            }
            Some(url)
        }
        _ => {
            c.problems.push(error(var, "not an http(s) URL"));
            None
        }
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "blogflow".into())
}

pub(super) fn alerts_config(c: &mut Check, env: &Env, raw: RawAlerts) -> AlertsConfig {
    let mut channels = Vec::new();
    // Checked whether or not the channel is on, so a typo shows before the credential is set.
    let sev = [
        severity(c, "slack", &raw.slack),
        severity(c, "discord", &raw.discord),
        severity(c, "telegram", &raw.telegram),
        severity(c, "webhook", &raw.webhook),
    ];
    if let Some(url) = webhook_url(c, env, "BLOGFLOW_ALERT_SLACK_URL") {
        channels.push(ChannelConfig::Slack {
            url,
            min_severity: sev[0],
        });
    }
    if let Some(url) = webhook_url(c, env, "BLOGFLOW_ALERT_DISCORD_URL") {
        channels.push(ChannelConfig::Discord {
            url,
            min_severity: sev[1],
        });
    }
    if let Some(token) = c.secret(env, "BLOGFLOW_ALERT_TELEGRAM_TOKEN") {
        let chat_id = env
            .get("BLOGFLOW_ALERT_TELEGRAM_CHAT_ID")
            .map(str::to_owned)
            .or(raw.telegram.chat_id.clone());
        match chat_id {
            Some(chat_id) => channels.push(ChannelConfig::Telegram {
                api_base: raw
                    .telegram
                    .api_base
                    .clone()
                    .unwrap_or_else(|| "https://api.telegram.org".into()),
                token,
                chat_id,
                min_severity: sev[2],
            }),
            None => c.problems.push(error(
                "BLOGFLOW_ALERT_TELEGRAM_CHAT_ID",
                "the Telegram token is set but no chat id: set BLOGFLOW_ALERT_TELEGRAM_CHAT_ID or alerts.telegram.chat_id",
            )),
        }
    }
    if let Some(url) = webhook_url(c, env, "BLOGFLOW_ALERT_WEBHOOK_URL") {
        let secret = c.secret(env, "BLOGFLOW_ALERT_WEBHOOK_SECRET");
        if secret.is_none() {
            c.problems.push(warning(
                "BLOGFLOW_ALERT_WEBHOOK_SECRET",
                "alerts to the webhook are unsigned: set a secret so the receiver can verify them",
            ));
        }
        channels.push(ChannelConfig::Webhook {
            url,
            secret,
            min_severity: sev[3],
        });
    }
    AlertsConfig {
        instance: raw.instance.unwrap_or_else(host_name),
        policy: AlertPolicy {
            repeat_interval: secs(
                60 * c.range(
                    "alerts.repeat_interval_mins",
                    raw.repeat_interval_mins.unwrap_or(240),
                    1,
                    7 * 24 * 60,
                ),
            ),
            max_per_hour: c.range(
                "alerts.max_per_hour",
                raw.max_per_hour.unwrap_or(30),
                1,
                10_000,
            ),
        },
        channels,
    }
}

pub(super) fn topics_config(
    c: &mut Check,
    raw: crate::config::raw::RawTopics,
    default_category: &str,
) -> crate::config::TopicsConfig {
    use crate::config::{FeedConfig, FeedLimits};
    let mut feeds: Vec<FeedConfig> = Vec::new();
    for (i, f) in raw.feeds.into_iter().enumerate() {
        let at = format!("topics.feeds[{i}]");
        if f.name.trim().is_empty() {
            c.problems.push(error(
                format!("{at}.name"),
                "missing: give every feed a unique name",
            ));
        } else if feeds.iter().any(|g| g.name == f.name) {
            c.problems.push(error(
                format!("{at}.name"),
                format!("{:?} is used twice", f.name),
            ));
        }
        match reqwest::Url::parse(&f.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => c.problems.push(error(
                format!("{at}.url"),
                format!("{:?} is not an http(s) URL", f.url),
            )),
        }
        let weight = c.range(
            &format!("{at}.weight"),
            f.weight.unwrap_or(1.0),
            0.01,
            100.0,
        );
        feeds.push(FeedConfig {
            name: f.name,
            url: f.url,
            category: f.category.unwrap_or_else(|| default_category.to_owned()),
            interval: secs(
                60 * c.range(
                    &format!("{at}.interval_mins"),
                    f.interval_mins.unwrap_or(60),
                    1,
                    7 * 24 * 60,
                ),
            ),
            include: f.include,
            exclude: f.exclude,
            weight,
        });
    }
    crate::config::TopicsConfig {
        feeds,
        limits: FeedLimits {
            max_bytes: 1024
                * c.range(
                    "topics.max_feed_kib",
                    raw.max_feed_kib.unwrap_or(2048),
                    16,
                    64 * 1024,
                ),
            max_items: c.range(
                "topics.max_items_per_feed",
                raw.max_items_per_feed.unwrap_or(50),
                1,
                1000,
            ),
            max_age: secs(
                86_400
                    * c.range(
                        "topics.max_age_days",
                        raw.max_age_days.unwrap_or(14),
                        1,
                        365,
                    ),
            ),
        },
        source_cooldown: secs(
            60 * c.range(
                "topics.source_cooldown_mins",
                raw.source_cooldown_mins.unwrap_or(0),
                0,
                30 * 24 * 60,
            ),
        ),
    }
}
