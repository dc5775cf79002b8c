//! What the HTTP provider clients share: the client and its timeouts, errors without secrets,
//! cost, and the one table that maps a provider's status and error code to an [`ErrorClass`].

use std::time::Duration;

use reqwest::header::HeaderMap;

use super::{ErrorClass, LlmError, Usage, retry_after};
use crate::config::Secret;

/// An HTTP answer, read whole: status, headers, body and the body as JSON when it is JSON.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Headers (`Retry-After`, rate-limit headers).
    pub headers: HeaderMap,
    /// The raw body.
    pub bytes: bytes::Bytes,
    /// The body parsed as JSON, if it parses.
    pub json: Option<serde_json::Value>,
}

impl Answer {
    /// A 2xx status.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The start of the body as text, for error messages about bodies that are not JSON.
    pub fn preview(&self) -> String {
        String::from_utf8_lossy(&self.bytes[..self.bytes.len().min(200)]).into_owned()
    }
}

/// One provider endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The HTTP client (timeouts set).
    pub http: reqwest::Client,
    /// Provider name for logs and errors, e.g. `anthropic` or `openai-compatible@host`.
    pub name: String,
    /// Base URL without a trailing slash.
    pub base_url: String,
    /// The key, used for the auth header and redacted from every message.
    pub key: Option<Secret>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// USD per million input and output tokens.
    pub prices: (f64, f64),
}

impl Endpoint {
    /// A client for `base_url`; `name` is `kind` or `kind@host` when the host is not `default_host`.
    pub fn new(
        kind: &str,
        default_host: &str,
        base_url: &str,
        key: Option<Secret>,
        timeout: Duration,
        prices: (f64, f64),
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .user_agent(concat!("blogflow/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build HTTP client: {e}"))?;
        let host = reqwest::Url::parse(base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let name = if host == default_host {
            kind.to_owned()
        } else {
            format!("{kind}@{host}")
        };
        Ok(Self {
            http,
            name,
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
            timeout,
            prices,
        })
    }

    /// An error of this provider, with the key removed from the message.
    pub fn error(
        &self,
        class: ErrorClass,
        status: Option<u16>,
        message: String,
        retry_after: Option<Duration>,
    ) -> LlmError {
        let message = match &self.key {
            Some(key) => key.redact_in(&message),
            None => message,
        };
        LlmError {
            class,
            provider: self.name.clone(),
            status,
            message,
            retry_after,
        }
    }

    /// Sends a request and reads the whole answer; no answer at all is a transient error.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, LlmError> {
        let response = request.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(e))?;
        let json = serde_json::from_slice(&bytes).ok();
        Ok(Answer {
            status,
            headers,
            bytes,
            json,
        })
    }

    /// A request that got no HTTP answer: transient.
    pub fn transport_error(&self, e: reqwest::Error) -> LlmError {
        let what = if e.is_timeout() {
            format!("no answer within {}s (timeout)", self.timeout.as_secs())
        } else if e.is_connect() {
            format!("cannot connect to {}", self.base_url)
        } else {
            "the connection failed mid-request".to_owned()
        };
        self.error(ErrorClass::Transient, None, what, None)
    }

    /// A 2xx answer we cannot use (malformed JSON, missing fields): transient.
    pub fn bad_answer(&self, status: u16, what: String) -> LlmError {
        self.error(ErrorClass::Transient, Some(status), what, None)
    }

    /// USD for `usage`.
    pub fn cost(&self, usage: Usage) -> f64 {
        (usage.input_tokens as f64 * self.prices.0 + usage.output_tokens as f64 * self.prices.1)
            / 1e6
    }

    /// Classifies an error answer (DESIGN.md "LLM balancer semantics"). `code` is the
    /// provider's error code or type, `detail` its message, `key_hint` the setting to check on
    /// auth errors, `wait` a provider-specific retry delay found in the body.
    pub fn classify(
        &self,
        status: u16,
        code: &str,
        detail: &str,
        headers: &HeaderMap,
        key_hint: &str,
        wait: Option<Duration>,
    ) -> LlmError {
        let detail: String = detail.chars().take(300).collect();
        let lowered = format!("{code} {detail}").to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| lowered.contains(w));
        let quota = has(&[
            "insufficient_quota",
            "billing",
            "credit balance",
            "spend limit",
            "exceeded your current quota",
            "insufficient funds",
        ]);
        let context = has(&[
            "context_length",
            "maximum context",
            "too many tokens",
            "context window",
            "prompt is too long",
        ]);
        let overloaded = has(&["overloaded"]);
        // An error object hidden in a 2xx answer counts as a server error.
        let status = if (200..300).contains(&status) {
            500
        } else {
            status
        };
        let class = match status {
            401 | 403 => ErrorClass::Fatal,
            // A provider that says when to come back is rate limiting, whatever the words.
            429 if wait.is_some() => ErrorClass::RateLimited,
            _ if quota => ErrorClass::Fatal,
            429 => ErrorClass::RateLimited,
            529 => ErrorClass::Transient,
            _ if overloaded => ErrorClass::Transient,
            400 | 404 | 413 | 422 => ErrorClass::InvalidRequest,
            _ if context => ErrorClass::InvalidRequest,
            408 | 409 | 500..=599 => ErrorClass::Transient,
            _ => ErrorClass::InvalidRequest,
        };
        let hint = match (class, status) {
            (ErrorClass::Fatal, 401 | 403) => format!(" (check {key_hint})"),
            (ErrorClass::Fatal, _) => {
                " (quota or billing: add credit or raise the limit)".to_owned()
            }
            (ErrorClass::InvalidRequest, 404) => " (check the model name and base URL)".to_owned(),
            _ => String::new(),
        };
        let message = if detail.is_empty() {
            format!("HTTP {status}{hint}")
        } else {
            format!("HTTP {status}: {detail}{hint}")
        };
        let wait = if class == ErrorClass::RateLimited {
            retry_after(headers).or(wait)
        } else {
            None
        };
        self.error(class, Some(status), message, wait)
    }
}
