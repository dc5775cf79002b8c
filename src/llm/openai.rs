//! OpenAI chat completions, also spoken by vLLM, llama.cpp's server, Ollama and most gateways.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use super::{ChatRequest, ChatResponse, ErrorClass, LlmError, Usage, retry_after};
use crate::config::OpenAiConfig;

/// Client for one OpenAI-compatible endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiProvider {
    http: reqwest::Client,
    config: OpenAiConfig,
    name: String,
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Option<Message>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

impl OpenAiProvider {
    /// A client for `config`. Fails only if the TLS backend cannot initialise.
    pub fn new(config: OpenAiConfig) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(config.timeout)
            .user_agent(concat!("blogflow/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build HTTP client: {e}"))?;
        let host = reqwest::Url::parse(&config.base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let name = if host == "api.openai.com" {
            "openai".to_owned()
        } else {
            format!("openai-compatible@{host}")
        };
        Ok(Self { http, config, name })
    }

    /// Provider name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Model name.
    pub fn model(&self) -> &str {
        &self.config.model
    }

    fn error(
        &self,
        class: ErrorClass,
        status: Option<u16>,
        message: String,
        retry_after: Option<Duration>,
    ) -> LlmError {
        let message = match &self.config.api_key {
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

    fn transport_error(&self, e: reqwest::Error) -> LlmError {
        let what = if e.is_timeout() {
            format!(
                "no answer within {}s (timeout)",
                self.config.timeout.as_secs()
            )
        } else if e.is_connect() {
            format!("cannot connect to {}", self.config.base_url)
        } else {
            "the connection failed mid-request".to_owned()
        };
        self.error(ErrorClass::Transient, None, what, None)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self
            .http
            .request(method, format!("{}{path}", self.config.base_url));
        match &self.config.api_key {
            Some(key) => req.bearer_auth(key.expose()),
            None => req,
        }
    }

    /// Runs one chat completion.
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let mut body = json!({
            "model": self.config.model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.user},
            ],
            "temperature": self.config.temperature,
            "max_tokens": request.max_tokens.map_or(self.config.max_tokens, |m| m.min(self.config.max_tokens)),
        });
        if self.config.json_mode {
            body["response_format"] = json!({"type": "json_object"});
        }
        let started = Instant::now();
        let response = self
            .request(reqwest::Method::POST, "/chat/completions")
            .json(&body)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(e))?;
        if !status.is_success() {
            return Err(self.classify(status.as_u16(), &headers, &bytes));
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            self.error(
                ErrorClass::Transient,
                Some(status.as_u16()),
                format!("unreadable completion body: {e}"),
                None,
            )
        })?;
        if let Some(err) = value.get("error") {
            // Some gateways report failures inside a 200.
            return Err(self.classify_body(status.as_u16(), err, &headers));
        }
        let completion: Completion = serde_json::from_value(value).map_err(|e| {
            self.error(
                ErrorClass::Transient,
                Some(status.as_u16()),
                format!("unexpected completion shape: {e}"),
                None,
            )
        })?;
        let choice = completion.choices.into_iter().next().ok_or_else(|| {
            self.error(
                ErrorClass::Transient,
                Some(status.as_u16()),
                "completion has no choices".into(),
                None,
            )
        })?;
        let text = choice.message.and_then(|m| m.content).unwrap_or_default();
        let usage = completion.usage.map_or(Usage::default(), |u| Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
        });
        let cost_usd = (usage.input_tokens as f64 * self.config.input_price_per_mtok
            + usage.output_tokens as f64 * self.config.output_price_per_mtok)
            / 1e6;
        Ok(ChatResponse {
            text,
            model: completion
                .model
                .unwrap_or_else(|| self.config.model.clone()),
            usage,
            cost_usd,
            latency: started.elapsed(),
            truncated: choice.finish_reason.as_deref() == Some("length"),
        })
    }

    /// Lists models: proves reachability and credentials without spending tokens.
    pub async fn check(&self) -> Result<(), LlmError> {
        let response = self
            .request(reqwest::Method::GET, "/models")
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status();
        if status.is_success() || status.as_u16() == 404 {
            // Some compatible servers have no /models; reaching them is what we wanted to know.
            return Ok(());
        }
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap_or_default();
        Err(self.classify(status.as_u16(), &headers, &bytes))
    }

    fn classify(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> LlmError {
        let error = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("error").cloned())
            .unwrap_or_else(
                || json!({"message": String::from_utf8_lossy(&body[..body.len().min(200)])}),
            );
        self.classify_body(status, &error, headers)
    }

    fn classify_body(
        &self,
        status: u16,
        error: &Value,
        headers: &reqwest::header::HeaderMap,
    ) -> LlmError {
        let field = |k: &str| {
            error
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let (code, kind) = (field("code"), field("type"));
        let detail: String = match error {
            Value::String(s) => s.clone(),
            _ => field("message"),
        };
        let detail: String = detail.chars().take(300).collect();
        let lowered = format!("{code} {kind} {detail}").to_lowercase();
        let quota = [
            "insufficient_quota",
            "billing",
            "credit",
            "spend limit",
            "quota",
        ]
        .iter()
        .any(|k| lowered.contains(k));
        let context = [
            "context_length",
            "maximum context",
            "too many tokens",
            "context window",
        ]
        .iter()
        .any(|k| lowered.contains(k));
        let class = match status {
            401 | 403 => ErrorClass::Fatal,
            429 | 400 | 402 if quota => ErrorClass::Fatal,
            429 => ErrorClass::RateLimited,
            400 | 404 | 413 | 422 => ErrorClass::InvalidRequest,
            _ if context => ErrorClass::InvalidRequest,
            408 | 409 | 500..=599 => ErrorClass::Transient,
            _ => ErrorClass::InvalidRequest,
        };
        let hint = match (class, status) {
            (ErrorClass::Fatal, 401 | 403) => " (check OPENAI_API_KEY)",
            (ErrorClass::Fatal, _) => " (quota or billing: add credit or raise the limit)",
            (ErrorClass::InvalidRequest, 404) => " (check OPENAI_MODEL and OPENAI_BASE_URL)",
            _ => "",
        };
        let message = if detail.is_empty() {
            format!("HTTP {status}{hint}")
        } else {
            format!("HTTP {status}: {detail}{hint}")
        };
        let wait = if class == ErrorClass::RateLimited {
            retry_after(headers)
        } else {
            None
        };
        self.error(class, Some(status), message, wait)
    }
}
