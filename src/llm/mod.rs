//! LLM providers: request/response types, the error classes that decide retries and failover,
//! and the closed set of provider clients.
//!
//! Error classes follow DESIGN.md "LLM balancer semantics": a 5xx, overload, connection error,
//! our timeout or a broken body is [`ErrorClass::Transient`] (fail over, retry later); a 429 is
//! [`ErrorClass::RateLimited`] with its `Retry-After`; missing quota and bad credentials are
//! [`ErrorClass::Fatal`] (never retried: the same request fails the same way until an operator
//! acts); a 400/404/413 or a too-long context is [`ErrorClass::InvalidRequest`].

pub mod anthropic;
pub mod balancer;
pub mod breaker;
pub mod gemini;
pub mod http;
pub mod local;
pub mod openai;
pub mod status;

use std::time::Duration;

use serde::Serialize;

pub use anthropic::AnthropicProvider;
pub use gemini::GeminiProvider;
pub use local::LocalProvider;
pub use openai::OpenAiProvider;

use crate::queue::JobError;

/// One chat completion request.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// System message.
    pub system: String,
    /// User message.
    pub user: String,
    /// Answer budget; `None` uses the provider's configured budget (never more than it).
    pub max_tokens: Option<u32>,
}

/// Token usage reported by the provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Completion tokens.
    pub output_tokens: u32,
}

/// A completed chat.
#[derive(Debug, Clone)]
pub struct ChatResponse {
    /// The assistant's text.
    pub text: String,
    /// Model that answered (as the provider reports it).
    pub model: String,
    /// Token usage.
    pub usage: Usage,
    /// USD, from configured prices.
    pub cost_usd: f64,
    /// Wall time of the request.
    pub latency: Duration,
    /// The answer hit the token budget and is probably cut off.
    pub truncated: bool,
}

/// What kind of failure, which decides what happens next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Server error, overload, connection or timeout: try another provider or later.
    Transient,
    /// Too many requests: wait `retry_after`.
    RateLimited,
    /// Bad credentials or no quota/credit: never retry; an operator must act.
    Fatal,
    /// The request itself is wrong (400/404/413, context too long): retrying it is pointless.
    InvalidRequest,
}

/// A provider call that failed. Its message never contains the API key or the prompt.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{provider}: {message}")]
pub struct LlmError {
    /// What to do about it.
    pub class: ErrorClass,
    /// Provider name.
    pub provider: String,
    /// HTTP status, if there was a response.
    pub status: Option<u16>,
    /// What went wrong.
    pub message: String,
    /// How long the provider asked us to wait.
    pub retry_after: Option<Duration>,
}

impl From<LlmError> for JobError {
    fn from(e: LlmError) -> Self {
        let message = e.to_string();
        match e.class {
            ErrorClass::Transient => JobError::retryable(message),
            ErrorClass::RateLimited => match e.retry_after {
                Some(d) => JobError::retry_after(d, message),
                None => JobError::retryable(message),
            },
            ErrorClass::Fatal | ErrorClass::InvalidRequest => JobError::unrecoverable(message),
        }
    }
}

/// The closed set of providers. Adding one breaks the build until every `match` handles it.
#[derive(Debug, Clone)]
pub enum Provider {
    /// OpenAI or any OpenAI-compatible server (vLLM, llama.cpp, Ollama).
    OpenAi(OpenAiProvider),
    /// Claude (Anthropic Messages API).
    Anthropic(AnthropicProvider),
    /// Gemini (`generateContent`).
    Gemini(GeminiProvider),
    /// The in-process local model.
    Local(LocalProvider),
}

impl Provider {
    /// Runs one chat completion.
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        match self {
            Provider::OpenAi(p) => p.chat(request).await,
            Provider::Anthropic(p) => p.chat(request).await,
            Provider::Gemini(p) => p.chat(request).await,
            Provider::Local(p) => p.chat(request).await,
        }
    }

    /// Sets the hang limits of an HTTP provider (the local model runs in-process: none).
    pub fn set_stream_limits(&mut self, first_token: Duration, idle: Duration) {
        match self {
            Provider::OpenAi(p) => p.set_stream_limits(first_token, idle),
            Provider::Anthropic(p) => p.set_stream_limits(first_token, idle),
            Provider::Gemini(p) => p.set_stream_limits(first_token, idle),
            Provider::Local(_) => {}
        }
    }

    /// Name for logs, metrics and the API.
    pub fn name(&self) -> &str {
        match self {
            Provider::OpenAi(p) => p.name(),
            Provider::Anthropic(p) => p.name(),
            Provider::Gemini(p) => p.name(),
            Provider::Local(p) => p.name(),
        }
    }

    /// Configured model.
    pub fn model(&self) -> &str {
        match self {
            Provider::OpenAi(p) => p.model(),
            Provider::Anthropic(p) => p.model(),
            Provider::Gemini(p) => p.model(),
            Provider::Local(p) => p.model(),
        }
    }

    /// A cheap reachability and auth check (lists models). Never counts against quotas.
    pub async fn check(&self) -> Result<(), LlmError> {
        match self {
            Provider::OpenAi(p) => p.check().await,
            Provider::Anthropic(p) => p.check().await,
            Provider::Gemini(p) => p.check().await,
            Provider::Local(p) => p.check().await,
        }
    }

    /// `openai`, `anthropic`, `gemini` or `local`: the config section it comes from.
    pub fn kind(&self) -> &'static str {
        match self {
            Provider::OpenAi(_) => "openai",
            Provider::Anthropic(_) => "anthropic",
            Provider::Gemini(_) => "gemini",
            Provider::Local(_) => "local",
        }
    }

    /// Whether the model needs the simple plain-text format (small models cannot be trusted
    /// to produce the structured JSON post).
    pub fn needs_simple_format(&self) -> bool {
        match self {
            Provider::OpenAi(p) => p.format() == crate::config::PostFormat::Steps,
            Provider::Anthropic(_) | Provider::Gemini(_) => false,
            Provider::Local(_) => true,
        }
    }

    /// Requests it can serve at once, if limited: more in flight only queue up behind each
    /// other and make every post slower.
    pub fn max_parallel(&self) -> Option<usize> {
        match self {
            Provider::OpenAi(_) | Provider::Anthropic(_) | Provider::Gemini(_) => None,
            Provider::Local(p) => Some(p.concurrency()),
        }
    }

    /// Whether the model writes `language`.
    pub fn writes(&self, language: crate::config::Language) -> bool {
        match self {
            Provider::OpenAi(_) | Provider::Anthropic(_) | Provider::Gemini(_) => true,
            Provider::Local(p) => p.writes(language),
        }
    }
}

/// Parses `Retry-After` (seconds, or an HTTP date) and OpenAI's `retry-after-ms`.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Some(Duration::from_secs_f64((ms / 1000.0).clamp(0.0, 86_400.0)));
    }
    let value = get("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return Some(Duration::from_secs_f64(secs.clamp(0.0, 86_400.0)));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at
        .signed_duration_since(chrono::Utc::now())
        .num_milliseconds()
        .max(0);
    Some(Duration::from_millis(wait as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn retry_after_reads_seconds_milliseconds_and_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
        let mut d = HeaderMap::new();
        d.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(
            retry_after(&d),
            Some(Duration::ZERO),
            "a past date means now"
        );
    }

    #[test]
    fn error_classes_map_to_retry_policies() {
        let e = |class, retry_after| LlmError {
            class,
            provider: "p".into(),
            status: None,
            message: "m".into(),
            retry_after,
        };
        use crate::queue::Retry;
        assert_eq!(
            JobError::from(e(ErrorClass::Transient, None)).retry,
            Retry::Backoff
        );
        assert_eq!(
            JobError::from(e(ErrorClass::RateLimited, Some(Duration::from_secs(3)))).retry,
            Retry::After(Duration::from_secs(3))
        );
        assert_eq!(
            JobError::from(e(ErrorClass::Fatal, None)).retry,
            Retry::Never
        );
        assert_eq!(
            JobError::from(e(ErrorClass::InvalidRequest, None)).retry,
            Retry::Never
        );
    }
}
