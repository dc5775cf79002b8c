//! Google Gemini `generateContent`. The key travels in the `x-goog-api-key` header, never in
//! the URL (URLs end up in proxy and access logs).

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{Answer, Endpoint, Wire};
use super::{ChatRequest, ChatResponse, ErrorClass, LlmError, Usage};
use crate::config::ApiProviderConfig;

/// Client for Gemini.
#[derive(Debug, Clone)]
pub struct GeminiProvider {
    endpoint: Endpoint,
    config: ApiProviderConfig,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Generated {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    model_version: Option<String>,
    #[serde(default)]
    prompt_feedback: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Deserialize)]
struct Part {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u32,
    #[serde(default)]
    candidates_token_count: u32,
}

impl GeminiProvider {
    /// A client for `config`.
    pub fn new(config: ApiProviderConfig) -> Result<Self, String> {
        let prices = (config.input_price_per_mtok, config.output_price_per_mtok);
        let endpoint = Endpoint::new(
            "gemini",
            "generativelanguage.googleapis.com",
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
            .header("x-goog-api-key", self.config.api_key.expose())
    }

    /// Runs one generation.
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let body = json!({
            "systemInstruction": {"parts": [{"text": request.system}]},
            "contents": [{"role": "user", "parts": [{"text": request.user}]}],
            "generationConfig": {
                "temperature": self.config.temperature,
                "maxOutputTokens": request.max_tokens.map_or(self.config.max_tokens, |m| m.min(self.config.max_tokens)),
            },
        });
        let started = Instant::now();
        let e = &self.endpoint;
        let path = format!(
            "/v1beta/models/{}:streamGenerateContent?alt=sse",
            self.config.model
        );
        let answer = e
            .send_streamed(
                self.request(reqwest::Method::POST, &path).json(&body),
                Wire::Gemini,
            )
            .await?;
        if !answer.ok()
            || answer
                .json
                .as_ref()
                .is_some_and(|v| v.get("error").is_some())
        {
            return Err(self.classify(&answer));
        }
        let status = answer.status;
        let value = answer
            .json
            .ok_or_else(|| e.bad_answer(status, "unreadable generateContent body".into()))?;
        let generated: Generated = serde_json::from_value(value)
            .map_err(|x| e.bad_answer(status, format!("unexpected generateContent shape: {x}")))?;
        let Some(candidate) = generated.candidates.into_iter().next() else {
            // No candidate at all: the prompt itself was blocked; the same prompt will be again.
            let reason = generated
                .prompt_feedback
                .as_ref()
                .and_then(|f| f["blockReason"].as_str())
                .unwrap_or("no candidates")
                .to_owned();
            return Err(e.error(
                ErrorClass::InvalidRequest,
                Some(status),
                format!("the prompt was blocked: {reason}"),
                None,
            ));
        };
        let finish = candidate.finish_reason.unwrap_or_default();
        let text: String = candidate
            .content
            .map(|c| c.parts.into_iter().filter_map(|p| p.text).collect())
            .unwrap_or_default();
        if text.is_empty() {
            let class = if matches!(
                finish.as_str(),
                "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT"
            ) {
                ErrorClass::InvalidRequest
            } else {
                ErrorClass::Transient
            };
            return Err(e.error(
                class,
                Some(status),
                format!("the candidate has no text (finishReason {finish})"),
                None,
            ));
        }
        let usage = generated
            .usage_metadata
            .map_or(Usage::default(), |u| Usage {
                input_tokens: u.prompt_token_count,
                output_tokens: u.candidates_token_count,
            });
        Ok(ChatResponse {
            text,
            model: generated
                .model_version
                .unwrap_or_else(|| self.config.model.clone()),
            usage,
            cost_usd: e.cost(usage),
            latency: started.elapsed(),
            truncated: finish == "MAX_TOKENS",
        })
    }

    /// Lists models: reachability and auth without spending tokens.
    pub async fn check(&self) -> Result<(), LlmError> {
        let answer = self
            .endpoint
            .send(
                self.request(reqwest::Method::GET, "/v1beta/models")
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
        let code = error.and_then(|e| e["status"].as_str()).unwrap_or("");
        let detail = error
            .and_then(|e| e["message"].as_str())
            .map_or_else(|| answer.preview(), str::to_owned);
        // RESOURCE_EXHAUSTED carries its wait in details[].retryDelay ("17s").
        let wait = error
            .and_then(|e| e["details"].as_array())
            .and_then(|d| d.iter().find_map(|x| x["retryDelay"].as_str()))
            .and_then(|s| s.trim_end_matches('s').parse::<f64>().ok())
            .map(|s| Duration::from_secs_f64(s.clamp(0.0, 86_400.0)));
        self.endpoint.classify(
            answer.status,
            code,
            &detail,
            &answer.headers,
            "GEMINI_API_KEY",
            wait,
        )
    }
}
