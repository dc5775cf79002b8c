//! Anthropic Messages API (`POST /v1/messages`).

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;

use super::http::{Answer, Endpoint, Wire};
use super::{ChatRequest, ChatResponse, LlmError, Usage};
use crate::config::ApiProviderConfig;

/// The API version header every request carries.
const VERSION: &str = "2023-06-01";

/// Client for Claude.
#[derive(Debug, Clone)]
pub struct AnthropicProvider {
    endpoint: Endpoint,
    config: ApiProviderConfig,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u32,
    #[serde(default)]
    output_tokens: u32,
}

impl AnthropicProvider {
    /// A client for `config`.
    pub fn new(config: ApiProviderConfig) -> Result<Self, String> {
        let prices = (config.input_price_per_mtok, config.output_price_per_mtok);
        let endpoint = Endpoint::new(
            "anthropic",
            "api.anthropic.com",
            &config.base_url,
            Some(config.api_key.clone()),
            config.timeout,
            prices,
        )?;
        Ok(Self { endpoint, config })
    }

    /// Sets the hang limits (first token, silence between parts).
    pub fn set_stream_limits(&mut self, first_token: Duration, idle: Duration) {
        self.endpoint.set_stream_limits(first_token, idle);
    }

    /// Provider name.
    pub fn name(&self) -> &str {
        &self.endpoint.name
    }

    /// Model name.
    pub fn model(&self) -> &str {
        &self.config.model
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.endpoint
            .http
            .request(method, format!("{}{path}", self.endpoint.base_url.expose()))
            .header("x-api-key", self.config.api_key.expose())
            .header("anthropic-version", VERSION)
    }

    /// Runs one message.
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let body = json!({
            "model": self.config.model,
            "max_tokens": request.max_tokens.map_or(self.config.max_tokens, |m| m.min(self.config.max_tokens)),
            "system": request.system,
            "messages": [{"role": "user", "content": request.user}],
            "temperature": self.config.temperature,
            "stream": true,
        });
        let started = Instant::now();
        let e = &self.endpoint;
        let answer = e
            .send_streamed(
                self.request(reqwest::Method::POST, "/v1/messages")
                    .json(&body),
                Wire::Anthropic,
            )
            .await?;
        if !answer.ok() || answer.json.as_ref().is_some_and(|v| v["type"] == "error") {
            return Err(self.classify(&answer));
        }
        let value = answer
            .json
            .ok_or_else(|| e.bad_answer(answer.status, "unreadable message body".into()))?;
        let message: Message = serde_json::from_value(value)
            .map_err(|x| e.bad_answer(answer.status, format!("unexpected message shape: {x}")))?;
        let text: String = message
            .content
            .iter()
            .filter(|b| b.kind == "text")
            .filter_map(|b| b.text.as_deref())
            .collect();
        if text.is_empty() {
            return Err(e.bad_answer(answer.status, "the message has no text block".into()));
        }
        let usage = message.usage.map_or(Usage::default(), |u| Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
        });
        Ok(ChatResponse {
            text,
            model: message.model.unwrap_or_else(|| self.config.model.clone()),
            usage,
            cost_usd: e.cost(usage),
            latency: started.elapsed(),
            truncated: message.stop_reason.as_deref() == Some("max_tokens"),
        })
    }

    /// Lists models: reachability and auth without spending tokens.
    pub async fn check(&self) -> Result<(), LlmError> {
        let answer = self
            .endpoint
            .send(
                self.request(reqwest::Method::GET, "/v1/models")
                    .timeout(Duration::from_secs(10)),
            )
            .await?;
        if answer.ok() {
            Ok(())
        } else {
            Err(self.classify(&answer))
        }
    }

    fn classify(&self, answer: &Answer) -> LlmError {
        let error = answer.json.as_ref().map(|v| &v["error"]);
        let code = error.and_then(|e| e["type"].as_str()).unwrap_or("");
        let detail = error
            .and_then(|e| e["message"].as_str())
            .map_or_else(|| answer.preview(), str::to_owned);
        self.endpoint.classify(
            answer.status,
            code,
            &detail,
            &answer.headers,
            "ANTHROPIC_API_KEY",
            None,
        )
    }
}
