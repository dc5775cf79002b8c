//! What the HTTP provider clients share: the client and its timeouts, errors without secrets,
//! cost, and the one table that maps a provider's status and error code to an [`ErrorClass`].

use std::time::Duration;

use reqwest::header::HeaderMap;

use super::{ErrorClass, LlmError, Usage, retry_after};
use crate::config::{EndpointUrl, Secret};

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
    /// Base URL without a trailing slash (prints without its userinfo).
    pub base_url: EndpointUrl,
    /// The key, used for the auth header and redacted from every message.
    pub key: Option<Secret>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Longest wait for the first token of an answer (from sending the request).
    pub first_token_timeout: Duration,
    /// Longest silence between two parts of an answer.
    pub idle_timeout: Duration,
    /// USD per million input and output tokens.
    pub prices: (f64, f64),
}

impl Endpoint {
    /// A client for `base_url`; `name` is `kind` or `kind@host` when the host is not `default_host`.
    pub fn new(
        kind: &str,
        default_host: &str,
        base_url: &EndpointUrl,
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
        let host = base_url.host().unwrap_or_default();
        let name = if host == default_host {
            kind.to_owned()
        } else {
            format!("{kind}@{host}")
        };
        Ok(Self {
            http,
            name,
            base_url: base_url.clone(),
            key,
            timeout,
            first_token_timeout: timeout,
            idle_timeout: timeout,
            prices,
        })
    }

    /// Sets the hang limits: first token and silence between parts.
    pub fn set_stream_limits(&mut self, first_token: Duration, idle: Duration) {
        self.first_token_timeout = first_token.min(self.timeout);
        self.idle_timeout = idle.min(self.timeout);
    }

    /// Sends a request that asked for a streamed answer and reads it within the hang limits:
    /// the first token must come within `first_token_timeout` of sending, and no part may be
    /// more than `idle_timeout` after the one before. A Server-Sent-Events answer is put back
    /// together into the JSON the provider sends unstreamed (so one parser serves both); any
    /// other answer (an error, a server that does not stream) is read whole, as [`Self::send`]
    /// does. A stream that ends before its end marker is a transient error (truncated).
    pub async fn send_streamed(
        &self,
        request: reqwest::RequestBuilder,
        wire: Wire,
    ) -> Result<Answer, LlmError> {
        let first_by = tokio::time::Instant::now() + self.first_token_timeout;
        let mut response = match tokio::time::timeout_at(first_by, request.send()).await {
            Ok(r) => r.map_err(|e| self.transport_error(e))?,
            Err(_) => return Err(self.hang(false)),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let sse = (200..300).contains(&status)
            && headers
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/event-stream"));
        let mut raw = Vec::new();
        let mut assembly = Assembly::default();
        let mut token = false;
        loop {
            let by = if token {
                tokio::time::Instant::now() + self.idle_timeout
            } else {
                first_by
            };
            let chunk = match tokio::time::timeout_at(by, response.chunk()).await {
                Err(_) => return Err(self.hang(token)),
                Ok(r) => r.map_err(|e| self.transport_error(e))?,
            };
            let Some(chunk) = chunk else { break };
            raw.extend_from_slice(&chunk);
            if !sse {
                token = true;
                continue;
            }
            while let Some(end) = event_end(&raw) {
                let event: Vec<u8> = raw.drain(..end).collect();
                for data in sse_data(&event) {
                    token |= assembly.feed(wire, &data);
                }
            }
        }
        if !sse {
            let json = serde_json::from_slice(&raw).ok();
            return Ok(Answer {
                status,
                headers,
                bytes: raw.into(),
                json,
            });
        }
        for data in sse_data(&raw) {
            assembly.feed(wire, &data);
        }
        if !assembly.complete() {
            return Err(self.error(
                ErrorClass::Transient,
                Some(status),
                "the streamed answer ended before it was complete (truncated stream)".into(),
                None,
            ));
        }
        let json = assembly.into_json(wire);
        Ok(Answer {
            status,
            headers,
            bytes: json.to_string().into(),
            json: Some(json),
        })
    }

    /// A call cut by a hang limit: transient, so the post falls over to another provider.
    fn hang(&self, after_first_token: bool) -> LlmError {
        let message = if after_first_token {
            format!(
                "the answer stalled: nothing for {} s (providers.stream_idle_timeout_secs)",
                self.idle_timeout.as_secs()
            )
        } else {
            format!(
                "no first token within {} s (providers.first_token_timeout_secs)",
                self.first_token_timeout.as_secs()
            )
        };
        self.error(ErrorClass::Transient, None, message, None)
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

/// The wire format of a streamed answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// OpenAI chat completion chunks, ending with `data: [DONE]`.
    OpenAi,
    /// Anthropic Messages events (`message_start` … `message_stop`).
    Anthropic,
    /// Gemini `streamGenerateContent?alt=sse`: each event a partial `GenerateContentResponse`.
    Gemini,
}

/// Where the first complete Server-Sent Event in `buf` ends (after its blank line).
fn event_end(buf: &[u8]) -> Option<usize> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The `data:` payloads of the events in `event` (several `data:` lines of one event join
/// with a newline, as the SSE standard says).
fn sse_data(event: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(event);
    let mut out = Vec::new();
    let mut data: Option<String> = None;
    for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
        if line.is_empty() {
            out.extend(data.take());
        } else if let Some(d) = line.strip_prefix("data:") {
            let d = d.strip_prefix(' ').unwrap_or(d);
            match &mut data {
                Some(prev) => {
                    prev.push('\n');
                    prev.push_str(d);
                }
                None => data = Some(d.to_owned()),
            }
        }
    }
    out.extend(data);
    out
}

/// A streamed answer being put back together.
#[derive(Debug, Default)]
struct Assembly {
    text: String,
    model: Option<serde_json::Value>,
    finish: Option<serde_json::Value>,
    input_tokens: u64,
    output_tokens: u64,
    usage: bool,
    feedback: Option<serde_json::Value>,
    error: Option<serde_json::Value>,
    done: bool,
}

impl Assembly {
    /// Takes one event's data; true if it carried text (or an error: an answer either way).
    fn feed(&mut self, wire: Wire, data: &str) -> bool {
        if data.trim() == "[DONE]" {
            self.done = true;
            return false;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(data) else {
            return false;
        };
        if v.get("error").is_some() {
            self.error = Some(v);
            self.done = true;
            return true;
        }
        let before = self.text.len();
        match wire {
            Wire::OpenAi => {
                if let Some(m) = v.get("model") {
                    self.model = Some(m.clone());
                }
                if let Some(choice) = v["choices"].get(0) {
                    if let Some(t) = choice["delta"]["content"].as_str() {
                        self.text.push_str(t);
                    }
                    if !choice["finish_reason"].is_null() {
                        self.finish = Some(choice["finish_reason"].clone());
                    }
                }
                if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
                    self.usage = true;
                    self.input_tokens = u["prompt_tokens"].as_u64().unwrap_or(0);
                    self.output_tokens = u["completion_tokens"].as_u64().unwrap_or(0);
                }
            }
            Wire::Anthropic => match v["type"].as_str().unwrap_or("") {
                "message_start" => {
                    let m = &v["message"];
                    self.model = m.get("model").cloned();
                    self.input_tokens = m["usage"]["input_tokens"].as_u64().unwrap_or(0);
                    self.output_tokens = m["usage"]["output_tokens"].as_u64().unwrap_or(0);
                    self.usage = true;
                }
                "content_block_delta" => {
                    if let Some(t) = v["delta"]["text"].as_str() {
                        self.text.push_str(t);
                    }
                }
                "message_delta" => {
                    if !v["delta"]["stop_reason"].is_null() {
                        self.finish = Some(v["delta"]["stop_reason"].clone());
                    }
                    if let Some(n) = v["usage"]["output_tokens"].as_u64() {
                        self.output_tokens = n;
                    }
                }
                "message_stop" => self.done = true,
                _ => {}
            },
            Wire::Gemini => {
                if let Some(m) = v.get("modelVersion") {
                    self.model = Some(m.clone());
                }
                if let Some(f) = v.get("promptFeedback") {
                    self.feedback = Some(f.clone());
                }
                if let Some(c) = v["candidates"].get(0) {
                    for part in c["content"]["parts"].as_array().into_iter().flatten() {
                        if let Some(t) = part["text"].as_str() {
                            self.text.push_str(t);
                        }
                    }
                    if !c["finishReason"].is_null() {
                        self.finish = Some(c["finishReason"].clone());
                    }
                }
                if let Some(u) = v.get("usageMetadata") {
                    self.usage = true;
                    self.input_tokens = u["promptTokenCount"].as_u64().unwrap_or(0);
                    self.output_tokens = u["candidatesTokenCount"].as_u64().unwrap_or(0);
                }
            }
        }
        self.text.len() > before
    }

    /// Whether the stream reached its end (an end marker, or a finish reason).
    fn complete(&self) -> bool {
        self.error.is_some()
            || match self.finish {
                Some(_) => true,
                // Gemini ends a blocked prompt with feedback and no candidate.
                None => self.done || self.feedback.is_some(),
            }
    }

    /// The unstreamed JSON of `wire` with the same content.
    fn into_json(self, wire: Wire) -> serde_json::Value {
        use serde_json::json;
        if let Some(error) = self.error {
            return error;
        }
        let (i, o) = (self.input_tokens, self.output_tokens);
        match wire {
            Wire::OpenAi => json!({
                "model": self.model,
                "choices": [{"message": {"role": "assistant", "content": self.text}, "finish_reason": self.finish}],
                "usage": if self.usage { json!({"prompt_tokens": i, "completion_tokens": o}) } else { serde_json::Value::Null },
            }),
            Wire::Anthropic => json!({
                "type": "message",
                "model": self.model,
                "content": [{"type": "text", "text": self.text}],
                "stop_reason": self.finish,
                "usage": {"input_tokens": i, "output_tokens": o},
            }),
            Wire::Gemini => {
                let mut v = json!({
                    "modelVersion": self.model,
                    "usageMetadata": {"promptTokenCount": i, "candidatesTokenCount": o},
                });
                if self.finish.is_some() || !self.text.is_empty() {
                    v["candidates"] = json!([{"content": {"role": "model", "parts": [{"text": self.text}]}, "finishReason": self.finish}]);
                } else {
                    v["candidates"] = json!([]);
                }
                if let Some(f) = self.feedback {
                    v["promptFeedback"] = f;
                }
                v
            }
        }
    }
}

#[cfg(test)]
mod stream_tests {
    use super::*;

    fn assemble(wire: Wire, stream: &str) -> (serde_json::Value, bool) {
        let mut a = Assembly::default();
        let mut buf = stream.as_bytes().to_vec();
        while let Some(end) = event_end(&buf) {
            let event: Vec<u8> = buf.drain(..end).collect();
            for d in sse_data(&event) {
                a.feed(wire, &d);
            }
        }
        let complete = a.complete();
        (a.into_json(wire), complete)
    }

    #[test]
    fn openai_chunks_become_one_completion() {
        let s = "data: {\"model\":\"gpt-x\",\"choices\":[{\"delta\":{\"role\":\"assistant\"},\"finish_reason\":null}]}\n\n\
                 data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\r\n\r\n\
                 data: {\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n\
                 data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n\
                 data: [DONE]\n\n";
        let (v, complete) = assemble(Wire::OpenAi, s);
        assert!(complete);
        assert_eq!(v["choices"][0]["message"]["content"], "Hello");
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert_eq!(v["usage"]["completion_tokens"], 2);
        assert_eq!(v["model"], "gpt-x");
        let (_, complete) = assemble(
            Wire::OpenAi,
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n",
        );
        assert!(!complete, "no finish reason and no [DONE]: truncated");
    }

    #[test]
    fn anthropic_events_become_one_message_and_errors_pass_through() {
        let s = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":{\"input_tokens\":7,\"output_tokens\":1}}}\n\n\
                 event: ping\ndata: {\"type\":\"ping\"}\n\n\
                 event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"안녕\"}}\n\n\
                 event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{\"output_tokens\":9}}\n\n\
                 event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let (v, complete) = assemble(Wire::Anthropic, s);
        assert!(complete);
        assert_eq!(v["content"][0]["text"], "안녕");
        assert_eq!(v["stop_reason"], "max_tokens");
        assert_eq!(
            (
                v["usage"]["input_tokens"].as_u64(),
                v["usage"]["output_tokens"].as_u64()
            ),
            (Some(7), Some(9))
        );
        let e = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let (v, complete) = assemble(Wire::Anthropic, e);
        assert!(complete);
        assert_eq!(v["error"]["type"], "overloaded_error");
    }

    #[test]
    fn gemini_chunks_join_their_parts() {
        let s = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\n\n\
                 data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":2},\"modelVersion\":\"g\"}\n\n";
        let (v, complete) = assemble(Wire::Gemini, s);
        assert!(complete);
        assert_eq!(v["candidates"][0]["content"]["parts"][0]["text"], "ab");
        assert_eq!(v["usageMetadata"]["candidatesTokenCount"], 2);
    }
}
