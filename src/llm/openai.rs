//! OpenAI chat completions, also spoken by vLLM, llama.cpp's server, Ollama and most gateways.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{Answer, Endpoint, Wire};
use super::{ChatRequest, ChatResponse, LlmError, Usage};
use crate::config::OpenAiConfig;

/// Client for one OpenAI-compatible endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiProvider {
    endpoint: Endpoint,
    config: OpenAiConfig,
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
        let prices = (config.input_price_per_mtok, config.output_price_per_mtok);
        let endpoint = Endpoint::new(
            "openai",
            "api.openai.com",
            &config.base_url,
            config.api_key.clone(),
            config.timeout,
            prices,
        )?;
        Ok(Self { endpoint, config })
    }

    /// The same client under an operator-given name (`[[providers.compatible]]`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.endpoint.name = name.into();
        self
    }

    /// Sets the hang limits (first token, silence between parts).
    pub fn set_stream_limits(&mut self, first_token: Duration, idle: Duration) {
        self.endpoint.set_stream_limits(first_token, idle);
    }

    /// Provider name.
    pub fn name(&self) -> &str {
        &self.endpoint.name
    }

    /// How posts are asked for (`format`).
    pub fn format(&self) -> crate::config::PostFormat {
        self.config.format
    }

    /// The model's name.
    pub fn model(&self) -> &str {
        &self.config.model
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self
            .endpoint
            .http
            .request(method, format!("{}{path}", self.endpoint.base_url.expose()));
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
        // Streamed, so that a hung server is cut at the first-token or idle limit.
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
        let started = Instant::now();
        let e = &self.endpoint;
        let answer = e
            .send_streamed(
                self.request(reqwest::Method::POST, "/chat/completions")
                    .json(&body),
                Wire::OpenAi,
            )
            .await?;
        // Some gateways report failures inside a 200.
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
            .ok_or_else(|| e.bad_answer(status, "unreadable completion body".into()))?;
        let completion: Completion = serde_json::from_value(value)
            .map_err(|x| e.bad_answer(status, format!("unexpected completion shape: {x}")))?;
        let choice = completion
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| e.bad_answer(status, "completion has no choices".into()))?;
        let usage = completion.usage.map_or(Usage::default(), |u| Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
        });
        Ok(ChatResponse {
            text: choice.message.and_then(|m| m.content).unwrap_or_default(),
            model: completion
                .model
                .unwrap_or_else(|| self.config.model.clone()),
            usage,
            cost_usd: e.cost(usage),
            latency: started.elapsed(),
            truncated: choice.finish_reason.as_deref() == Some("length"),
        })
    }

    /// Lists models: proves reachability and credentials without spending tokens.
    pub async fn check(&self) -> Result<(), LlmError> {
        let answer = self
            .endpoint
            .send(
                self.request(reqwest::Method::GET, "/models")
                    .timeout(Duration::from_secs(10)),
            )
            .await?;
        // Some compatible servers have no /models; reaching them is what we wanted to know.
        if answer.ok() || answer.status == 404 {
            Ok(())
        } else {
            Err(self.classify(&answer))
        }
    }

    fn classify(&self, answer: &Answer) -> LlmError {
        let error = answer.json.as_ref().and_then(|v| v.get("error"));
        let field = |k: &str| {
            error
                .and_then(|e| e.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let code = format!("{} {}", field("code"), field("type"));
        let detail = match error {
            Some(Value::String(s)) => s.clone(),
            Some(_) => field("message"),
            None => answer.preview(),
        };
        self.endpoint.classify(
            answer.status,
            &code,
            &detail,
            &answer.headers,
            "OPENAI_API_KEY",
            None,
        )
    }
}
