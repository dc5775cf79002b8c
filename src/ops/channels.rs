//! Alert delivery: Slack and Discord incoming webhooks, the Telegram Bot API and a generic
//! JSON webhook signed with HMAC-SHA256. One message per channel per group of alerts.
//!
//! Errors name the channel and the status, never the URL (Slack and Discord webhook URLs are
//! credentials) and never the Telegram token.

use std::time::Duration;

use serde_json::{Value, json};

use super::alert::{Alert, AlertStatus, Severity};
pub use crate::config::ChannelConfig;
use crate::config::Secret;
pub use crate::shared::signing::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};

impl ChannelConfig {
    /// `slack`, `discord`, `telegram` or `webhook`.
    pub fn name(&self) -> &'static str {
        match self {
            ChannelConfig::Slack { .. } => "slack",
            ChannelConfig::Discord { .. } => "discord",
            ChannelConfig::Telegram { .. } => "telegram",
            ChannelConfig::Webhook { .. } => "webhook",
        }
    }

    fn min_severity(&self) -> Severity {
        match self {
            ChannelConfig::Slack { min_severity, .. }
            | ChannelConfig::Discord { min_severity, .. }
            | ChannelConfig::Telegram { min_severity, .. }
            | ChannelConfig::Webhook { min_severity, .. } => *min_severity,
        }
    }
}

/// Why a delivery failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryError {
    /// Worth another try (network, 429, 5xx), after `retry_after` if the receiver said so.
    #[error("{channel}: {message}")]
    Retryable {
        /// Channel name.
        channel: &'static str,
        /// What happened.
        message: String,
        /// The receiver's requested wait.
        retry_after: Option<Duration>,
    },
    /// Another try would fail the same way (bad URL, revoked token, unknown chat).
    #[error("{channel}: {message} (fix the channel's settings)")]
    Permanent {
        /// Channel name.
        channel: &'static str,
        /// What happened.
        message: String,
    },
}

/// The configured channels and one HTTP client for all of them.
#[derive(Debug, Clone)]
pub struct Channels {
    /// Built when the first message goes out: a service without channels never needs it.
    http: crate::shared::http::LazyClient,
    channels: Vec<ChannelConfig>,
    instance: String,
    /// Values that must never leave in a message (every configured secret).
    scrub: Vec<Secret>,
}

impl Channels {
    /// Channels for `instance` (the host name shown in messages). `scrub` lists secrets to
    /// blank out of any text that reaches a message.
    pub fn new(channels: Vec<ChannelConfig>, instance: String, scrub: Vec<Secret>) -> Self {
        let http =
            crate::shared::http::LazyClient::new(Duration::from_secs(10), Duration::from_secs(5));
        Self {
            http,
            channels,
            instance,
            scrub,
        }
    }

    /// Whether any channel is configured.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// Channel names.
    pub fn names(&self) -> Vec<&'static str> {
        self.channels.iter().map(ChannelConfig::name).collect()
    }

    /// Splits a group by channel: each gets the alerts at or above its least severity.
    pub fn route(&self, group: &[Alert]) -> Vec<(&'static str, Vec<Alert>)> {
        self.channels
            .iter()
            .filter_map(|c| {
                let mine: Vec<Alert> = group
                    .iter()
                    .filter(|a| a.severity >= c.min_severity())
                    .map(|a| self.clean(a))
                    .collect();
                (!mine.is_empty()).then_some((c.name(), mine))
            })
            .collect()
    }

    /// The alert with secrets blanked, stack traces cut and the length bounded.
    fn clean(&self, a: &Alert) -> Alert {
        let scrub = |text: &str, max: usize| {
            let mut t = self
                .scrub
                .iter()
                .fold(text.to_owned(), |t, s| s.redact_in(&t));
            // A backtrace is for the log, not for a phone.
            if let Some(cut) = t.find("\nstack backtrace").or_else(|| t.find("\n   0:")) {
                t.truncate(cut);
            }
            if t.chars().count() > max {
                t = t.chars().take(max - 1).collect::<String>() + "…";
            }
            t
        };
        Alert {
            title: scrub(&a.title, 200),
            message: scrub(&a.message, 1000),
            ..a.clone()
        }
    }

    /// Plain-text rendering shared by the chat channels.
    fn text(&self, alerts: &[Alert]) -> String {
        let mut out = String::new();
        for a in alerts {
            let head = match a.status {
                AlertStatus::Firing => format!("[{}] {}", a.severity.label(), a.title),
                AlertStatus::Resolved => format!("[RESOLVED] {}", a.title),
            };
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(&head);
            if !a.message.is_empty() {
                out.push('\n');
                out.push_str(&a.message);
            }
        }
        format!("blogflow on {}\n{out}", self.instance)
    }

    /// Sends `alerts` to the channel named `channel` (already routed and cleaned).
    pub async fn send(&self, channel: &str, alerts: &[Alert]) -> Result<(), DeliveryError> {
        let Some(c) = self.channels.iter().find(|c| c.name() == channel) else {
            return Err(DeliveryError::Permanent {
                channel: "alerts",
                message: format!("channel {channel:?} is not configured any more"),
            });
        };
        let name = c.name();
        let text = self.text(alerts);
        let request = match c {
            ChannelConfig::Slack { url, .. } => self
                .http
                .get()
                .post(url.expose())
                .json(&json!({ "text": text })),
            ChannelConfig::Discord { url, .. } => self.http.get().post(url.expose()).json(&json!({
                "content": truncate(&text, 2000),
                "allowed_mentions": { "parse": [] },
            })),
            ChannelConfig::Telegram {
                api_base,
                token,
                chat_id,
                ..
            } => self
                .http
                .get()
                .post(format!(
                    "{}/bot{}/sendMessage",
                    api_base.trim_end_matches('/'),
                    token.expose()
                ))
                .json(&json!({
                    "chat_id": chat_id,
                    "text": truncate(&text, 4096),
                    "disable_web_page_preview": true,
                })),
            ChannelConfig::Webhook { url, secret, .. } => {
                let firing = alerts.iter().any(|a| a.status == AlertStatus::Firing);
                let body = serde_json::to_vec(&json!({
                    "source": "blogflow",
                    "instance": self.instance,
                    "status": if firing { "firing" } else { "resolved" },
                    "alerts": alerts,
                }))
                .expect("alerts serialise");
                let ts = chrono::Utc::now().timestamp();
                let mut r = self
                    .http
                    .get()
                    .post(url.expose())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(TIMESTAMP_HEADER, ts.to_string());
                if let Some(key) = secret {
                    r = r.header(SIGNATURE_HEADER, signature(key.expose(), ts, &body));
                }
                r.body(body)
            }
        };
        let response = request.send().await.map_err(|e| DeliveryError::Retryable {
            channel: name,
            // Without the URL: reqwest puts it in its messages.
            message: if e.is_timeout() {
                "timed out".into()
            } else if e.is_connect() {
                "cannot connect".into()
            } else {
                "request failed".into()
            },
            retry_after: None,
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok());
        let body: Value = response.json().await.unwrap_or(Value::Null);
        classify(name, status.as_u16(), &body, retry_after)
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        text.chars().take(max - 1).collect::<String>() + "…"
    }
}

/// Maps a receiver's answer to success or a delivery error, reading the error details each
/// service documents (Telegram's `description` and `parameters.retry_after`, Discord's
/// `retry_after`, Slack's plain-text reason).
fn classify(
    channel: &'static str,
    status: u16,
    body: &Value,
    retry_after: Option<f64>,
) -> Result<(), DeliveryError> {
    if channel == "telegram" && (200..300).contains(&status) && body["ok"] == json!(false) {
        return Err(DeliveryError::Permanent {
            channel,
            message: format!("answered ok=false: {}", body["description"]),
        });
    }
    if (200..300).contains(&status) {
        return Ok(());
    }
    let detail = body
        .get("description")
        .or_else(|| body.get("message"))
        .and_then(Value::as_str)
        .map(|d| format!(": {}", truncate(d, 200)))
        .unwrap_or_default();
    let wait = retry_after
        .or_else(|| body["parameters"]["retry_after"].as_f64())
        .or_else(|| body["retry_after"].as_f64())
        .map(|s| Duration::from_secs_f64(s.clamp(0.0, 3600.0)));
    let message = format!("HTTP {status}{detail}");
    if status == 408 || status == 429 || status >= 500 {
        Err(DeliveryError::Retryable {
            channel,
            message,
            retry_after: wait,
        })
    } else {
        Err(DeliveryError::Permanent { channel, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_an_independently_computed_hmac() {
        // Python: hmac.new(b"key", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
        assert_eq!(
            signature("key", 1_700_000_000, b"{\"a\":1}"),
            "sha256=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03"
        );
        assert_ne!(
            signature("key", 1_700_000_001, b"{\"a\":1}"),
            signature("key", 1_700_000_000, b"{\"a\":1}")
        );
    }

    #[test]
    fn receivers_errors_are_classified_with_their_waits() {
        let e = classify(
            "telegram",
            429,
            &json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}}),
            None,
        )
        .unwrap_err();
        assert!(
            matches!(e, DeliveryError::Retryable { retry_after: Some(d), .. } if d == Duration::from_secs(7)),
            "{e:?}"
        );
        let e = classify(
            "telegram",
            400,
            &json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("chat not found"), "{e}");
        assert!(matches!(e, DeliveryError::Permanent { .. }));
        assert!(matches!(
            classify("slack", 404, &Value::Null, None),
            Err(DeliveryError::Permanent { .. })
        ));
        assert!(matches!(
            classify("discord", 429, &json!({"retry_after": 1.5, "global": false}), None),
            Err(DeliveryError::Retryable { retry_after: Some(d), .. }) if d == Duration::from_millis(1500)
        ));
        assert!(classify("discord", 204, &Value::Null, None).is_ok());
        assert!(matches!(
            classify("webhook", 503, &Value::Null, Some(2.0)),
            Err(DeliveryError::Retryable { .. })
        ));
    }

    #[test]
    fn messages_lose_secrets_and_backtraces() {
        let c = Channels::new(
            vec![ChannelConfig::Slack {
                url: Secret::new("http://127.0.0.1:1/hook"),
                min_severity: Severity::Warning,
            }],
            "host".into(),
            vec![Secret::new("sk-very-secret")],
        );
        let alert = Alert {
            key: "k".into(),
            severity: Severity::Critical,
            status: AlertStatus::Firing,
            title: "Provider down".into(),
            message: "401 for key sk-very-secret\nstack backtrace:\n   0: main".into(),
            at: 0,
        };
        let info = Alert {
            severity: Severity::Info,
            ..alert.clone()
        };
        let routed = c.route(&[alert, info]);
        assert_eq!(routed.len(), 1);
        assert_eq!(routed[0].1.len(), 1, "info is below slack's least severity");
        assert_eq!(routed[0].1[0].message, "401 for key [redacted]");
    }
}
