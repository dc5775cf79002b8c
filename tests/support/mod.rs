//! Test support: a fake LLM server speaking the real wire formats (including their errors),
//! started on port 0 by each test, and helpers to drive the service over HTTP.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the support code"
)]

pub mod cms;
pub mod postgres;
pub mod redis_server;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::{Notify, Semaphore};

/// What the fake answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A good post (unique title per request).
    Post,
    /// A successful answer whose text is this.
    Text(String),
    /// An HTTP error with the wire format's error body and an optional `Retry-After`.
    Error {
        status: u16,
        code: &'static str,
        message: &'static str,
        retry_after: Option<&'static str>,
    },
    /// Wait until [`FakeOpenAi::release`] is called, then answer a good post.
    Hang,
    /// Exactly this status and body (malformed JSON, truncated bodies, unusual error shapes).
    Raw { status: u16, body: &'static str },
    /// At random per request: a 500 with probability `p500`, no answer for a minute with
    /// `phang`, a 429 with `Retry-After: 1` with `p429`, else a good post.
    Chaos { p500: f64, phang: f64, p429: f64 },
    /// A good post after this delay.
    Slow(Duration),
    /// The headers of a streamed answer, then nothing, ever (a hung provider).
    Stall,
    /// At random per request, the soak's weather: a 500 with probability `p500`, a stall
    /// (headers, then nothing) with `phang`, a 429 with `Retry-After: 999999999` with `p429`,
    /// else a good post.
    Storm { p500: f64, phang: f64, p429: f64 },
}

/// The wire formats the fake speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    OpenAi,
    Anthropic,
    Gemini,
}

struct Inner {
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Reply>,
    requests: AtomicUsize,
    bodies: Mutex<Vec<Value>>,
    headers: Mutex<Vec<HeaderMap>>,
    uris: Mutex<Vec<String>>,
    arrived: Notify,
    gate: Semaphore,
    /// The model list (the providers' health check) answers 503 while set.
    models_down: std::sync::atomic::AtomicBool,
    /// Added to the request number that makes each good post unique (several fakes in one
    /// test then write different posts).
    first: AtomicUsize,
    /// Image requests: statuses to answer the next ones with, and the requests seen.
    image_failures: Mutex<VecDeque<u16>>,
    image_requests: Mutex<Vec<Value>>,
}

/// A 1×1 PNG, the fake's generated image.
pub const FAKE_IMAGE_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// An image answer in `wire`'s shape, or the scripted failure in its error shape.
fn image_reply(s: &Inner, wire: Wire, body: Value) -> axum::response::Response {
    s.image_requests.lock().unwrap().push(body);
    if let Some(status) = s.image_failures.lock().unwrap().pop_front() {
        let error = match wire {
            Wire::Gemini => {
                json!({"error": {"code": status, "message": "The model is overloaded.", "status": "UNAVAILABLE"}})
            }
            _ if status == 400 => {
                json!({"error": {"code": "content_policy_violation", "message": "Your request was rejected as a result of our safety system.", "type": "invalid_request_error", "param": null}})
            }
            _ => {
                json!({"error": {"code": null, "message": "The server had an error while processing your request.", "type": "server_error", "param": null}})
            }
        };
        return (StatusCode::from_u16(status).unwrap(), Json(error)).into_response();
    }
    match wire {
        Wire::Gemini => Json(json!({"candidates": [{"content": {"role": "model", "parts": [
            {"text": "Here is the illustration."},
            {"inlineData": {"mimeType": "image/png", "data": FAKE_IMAGE_PNG}},
        ]}, "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 1290}}))
        .into_response(),
        _ => Json(json!({"created": 1_700_000_000, "data": [{"b64_json": FAKE_IMAGE_PNG}],
            "usage": {"input_tokens": 50, "output_tokens": 272, "total_tokens": 322}}))
        .into_response(),
    }
}

/// A fake LLM server: OpenAI chat completions (`/v1/chat/completions`), Anthropic Messages
/// (`/v1/messages`) and Gemini (`/v1beta/models/{model}:generateContent`), one script of
/// replies for all three.
#[derive(Clone)]
pub struct FakeOpenAi {
    inner: Arc<Inner>,
    /// OpenAI base URL (including `/v1`).
    pub base_url: String,
    /// The server's root: the base URL for Anthropic and Gemini.
    pub root: String,
}

impl FakeOpenAi {
    /// Starts the server; answers good posts unless scripted otherwise.
    pub async fn start() -> Self {
        watchdog();
        let inner = Arc::new(Inner {
            script: Mutex::new(VecDeque::new()),
            default: Mutex::new(Reply::Post),
            requests: AtomicUsize::new(0),
            bodies: Mutex::new(Vec::new()),
            headers: Mutex::new(Vec::new()),
            uris: Mutex::new(Vec::new()),
            arrived: Notify::new(),
            gate: Semaphore::new(0),
            models_down: Default::default(),
            first: AtomicUsize::new(0),
            image_failures: Mutex::default(),
            image_requests: Mutex::default(),
        });
        let models = |s: State<Arc<Inner>>| async move {
            if s.models_down.load(Ordering::SeqCst) {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"error": {"message": "The server is overloaded", "type": "server_error", "code": null}})),
                )
                    .into_response();
            }
            Json(
                json!({"object": "list", "data": [{"id": "fake-model"}], "models": [{"name": "models/fake"}]}),
            )
            .into_response()
        };
        let app = Router::new()
            .route(
                "/v1/chat/completions",
                post(
                    |s: State<Arc<Inner>>, u: Uri, h: HeaderMap, b: Json<Value>| {
                        respond(s, Wire::OpenAi, u, h, b)
                    },
                ),
            )
            .route(
                "/v1/messages",
                post(
                    |s: State<Arc<Inner>>, u: Uri, h: HeaderMap, b: Json<Value>| {
                        respond(s, Wire::Anthropic, u, h, b)
                    },
                ),
            )
            .route(
                "/v1beta/models/{action}",
                post(
                    |s: State<Arc<Inner>>, u: Uri, h: HeaderMap, b: Json<Value>| async move {
                        let modalities = &b.0["generationConfig"]["responseModalities"];
                        if modalities
                            .as_array()
                            .is_some_and(|m| m.iter().any(|m| m == "IMAGE"))
                        {
                            return image_reply(&s, Wire::Gemini, b.0);
                        }
                        respond(s, Wire::Gemini, u, h, b).await.into_response()
                    },
                ),
            )
            .route(
                "/v1/images/generations",
                post(|s: State<Arc<Inner>>, b: Json<Value>| async move {
                    image_reply(&s, Wire::OpenAi, b.0)
                }),
            )
            .route("/v1/models", get(models))
            .route("/v1beta/models", get(models))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            inner,
            base_url: format!("http://{addr}/v1"),
            root: format!("http://{addr}"),
        }
    }

    /// Answers the next requests with these replies, in order, then the default.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.script.lock().unwrap().extend(replies);
    }

    /// The reply once the script is used up.
    pub fn set_default(&self, reply: Reply) {
        *self.inner.default.lock().unwrap() = reply;
    }

    /// Numbers this fake's posts from `first` on, so that its posts differ from another
    /// fake's.
    pub fn number_from(&self, first: usize) {
        self.inner.first.store(first, Ordering::SeqCst);
    }

    /// Makes the health-check route (the model list) fail with 503, or answer again.
    pub fn set_models_down(&self, down: bool) {
        self.inner.models_down.store(down, Ordering::SeqCst);
    }

    /// Answers the next image requests with these statuses (in the provider's error shape).
    pub fn fail_next_images(&self, statuses: impl IntoIterator<Item = u16>) {
        self.inner.image_failures.lock().unwrap().extend(statuses);
    }

    /// The image requests received, as sent.
    pub fn image_requests(&self) -> Vec<Value> {
        self.inner.image_requests.lock().unwrap().clone()
    }

    /// Lets `n` hanging requests answer.
    pub fn release(&self, n: usize) {
        self.inner.gate.add_permits(n);
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.inner.requests.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` requests have arrived.
    pub async fn wait_for_requests(&self, n: usize) {
        loop {
            let notified = self.inner.arrived.notified();
            if self.requests() >= n {
                return;
            }
            tokio::time::timeout(Duration::from_secs(60), notified)
                .await
                .expect("fake provider: requests did not arrive in 60 s");
        }
    }

    /// Request bodies received.
    pub fn bodies(&self) -> Vec<Value> {
        self.inner.bodies.lock().unwrap().clone()
    }

    /// Request headers received.
    pub fn headers(&self) -> Vec<HeaderMap> {
        self.inner.headers.lock().unwrap().clone()
    }

    /// Request paths (with queries) received.
    pub fn uris(&self) -> Vec<String> {
        self.inner.uris.lock().unwrap().clone()
    }

    /// Authorization headers received.
    pub fn auth_headers(&self) -> Vec<Option<String>> {
        self.headers()
            .iter()
            .map(|h| {
                h.get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .collect()
    }
}

fn completion(content: String) -> Value {
    json!({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": "fake-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 900, "total_tokens": 1020}
    })
}

fn success(wire: Wire, content: String) -> Value {
    match wire {
        Wire::OpenAi => completion(content),
        Wire::Anthropic => json!({
            "id": "msg_fake", "type": "message", "role": "assistant", "model": "claude-fake",
            "content": [{"type": "text", "text": content}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 120, "output_tokens": 900}
        }),
        Wire::Gemini => json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": content}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 120, "candidatesTokenCount": 900, "totalTokenCount": 1020},
            "modelVersion": "gemini-fake"
        }),
    }
}

fn error_body(wire: Wire, status: u16, code: &str, message: &str) -> Value {
    match wire {
        Wire::OpenAi => {
            json!({"error": {"message": message, "type": code, "param": null, "code": code}})
        }
        Wire::Anthropic => json!({"type": "error", "error": {"type": code, "message": message}}),
        Wire::Gemini => json!({"error": {"code": status, "message": message, "status": code}}),
    }
}

/// A successful answer as the provider streams it (Server-Sent Events, text in two parts).
fn streamed(wire: Wire, content: String) -> Response {
    let split = content
        .char_indices()
        .map(|(i, _)| i)
        .nth(content.chars().count() / 2)
        .unwrap_or(0);
    let (a, b) = content.split_at(split);
    let events: Vec<(Option<&str>, Value)> = match wire {
        Wire::OpenAi => vec![
            (
                None,
                json!({"model": "fake-model", "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": null}]}),
            ),
            (
                None,
                json!({"model": "fake-model", "choices": [{"index": 0, "delta": {"content": a}, "finish_reason": null}]}),
            ),
            (
                None,
                json!({"model": "fake-model", "choices": [{"index": 0, "delta": {"content": b}, "finish_reason": "stop"}]}),
            ),
            (
                None,
                json!({"model": "fake-model", "choices": [], "usage": {"prompt_tokens": 120, "completion_tokens": 900, "total_tokens": 1020}}),
            ),
        ],
        Wire::Anthropic => vec![
            (
                Some("message_start"),
                json!({"type": "message_start", "message": {"id": "msg_fake", "type": "message", "role": "assistant", "model": "claude-fake", "content": [], "stop_reason": null, "usage": {"input_tokens": 120, "output_tokens": 1}}}),
            ),
            (
                Some("content_block_start"),
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            (Some("ping"), json!({"type": "ping"})),
            (
                Some("content_block_delta"),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": a}}),
            ),
            (
                Some("content_block_delta"),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": b}}),
            ),
            (
                Some("content_block_stop"),
                json!({"type": "content_block_stop", "index": 0}),
            ),
            (
                Some("message_delta"),
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 900}}),
            ),
            (Some("message_stop"), json!({"type": "message_stop"})),
        ],
        Wire::Gemini => vec![
            (
                None,
                json!({"candidates": [{"content": {"role": "model", "parts": [{"text": a}]}}], "modelVersion": "gemini-fake"}),
            ),
            (
                None,
                json!({"candidates": [{"content": {"role": "model", "parts": [{"text": b}]}, "finishReason": "STOP"}],
                "usageMetadata": {"promptTokenCount": 120, "candidatesTokenCount": 900, "totalTokenCount": 1020}, "modelVersion": "gemini-fake"}),
            ),
        ],
    };
    let mut text = String::new();
    for (event, data) in events {
        if let Some(e) = event {
            text.push_str(&format!("event: {e}\n"));
        }
        text.push_str(&format!("data: {data}\n\n"));
    }
    if wire == Wire::OpenAi {
        text.push_str("data: [DONE]\n\n");
    }
    ([("content-type", "text/event-stream")], text).into_response()
}

/// Headers of a streamed answer and then silence: the connection stays open, no byte follows.
fn stalled() -> Response {
    let never = futures_util::stream::pending::<Result<bytes::Bytes, std::convert::Infallible>>();
    (
        [("content-type", "text/event-stream")],
        axum::body::Body::from_stream(never),
    )
        .into_response()
}

async fn respond(
    State(inner): State<Arc<Inner>>,
    wire: Wire,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    // Streamed as the real provider streams when asked (`"stream": true`, Gemini's
    // `streamGenerateContent`); a whole JSON answer otherwise.
    let stream = body["stream"] == true || uri.path().contains(":streamGenerateContent");
    let answer = move |content: String| {
        if stream {
            streamed(wire, content)
        } else {
            Json(success(wire, content)).into_response()
        }
    };
    let n = inner.requests.fetch_add(1, Ordering::SeqCst) + inner.first.load(Ordering::SeqCst);
    inner.bodies.lock().unwrap().push(body);
    inner.headers.lock().unwrap().push(headers);
    inner.uris.lock().unwrap().push(uri.to_string());
    inner.arrived.notify_waiters();
    let mut reply = inner
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| inner.default.lock().unwrap().clone());
    if let Reply::Chaos { p500, phang, p429 } = reply {
        use rand::RngExt;
        let r: f64 = rand::rng().random();
        reply = if r < p500 {
            Reply::Error {
                status: 500,
                code: "server_error",
                message: "chaos",
                retry_after: None,
            }
        } else if r < p500 + phang {
            Reply::Slow(Duration::from_secs(60))
        } else if r < p500 + phang + p429 {
            Reply::Error {
                status: 429,
                code: "rate_limit_exceeded",
                message: "chaos",
                retry_after: Some("1"),
            }
        } else {
            Reply::Post
        };
    }
    if let Reply::Storm { p500, phang, p429 } = reply {
        use rand::RngExt;
        let r: f64 = rand::rng().random();
        reply = if r < p500 {
            Reply::Error {
                status: 500,
                code: "server_error",
                message: "storm",
                retry_after: None,
            }
        } else if r < p500 + phang {
            Reply::Stall
        } else if r < p500 + phang + p429 {
            Reply::Error {
                status: 429,
                code: "rate_limit_exceeded",
                message: "storm",
                retry_after: Some("999999999"),
            }
        } else {
            Reply::Post
        };
    }
    match reply {
        Reply::Chaos { .. } | Reply::Storm { .. } => unreachable!("resolved above"),
        Reply::Slow(d) => {
            tokio::time::sleep(d).await;
            answer(good_post(n).to_string())
        }
        Reply::Post => answer(good_post(n).to_string()),
        Reply::Text(t) => answer(t),
        Reply::Stall => stalled(),
        Reply::Hang => {
            inner.gate.acquire().await.unwrap().forget();
            answer(good_post(n).to_string())
        }
        Reply::Raw { status, body } => (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/json")],
            body,
        )
            .into_response(),
        Reply::Error {
            status,
            code,
            message,
            retry_after,
        } => {
            let mut response = (
                StatusCode::from_u16(status).unwrap(),
                Json(error_body(wire, status, code, message)),
            )
                .into_response();
            if let Some(r) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from_static(r));
            }
            response
        }
    }
}

/// Words for [`good_post`]'s sentences.
const WORDS: &[&str] = &[
    "model",
    "agent",
    "team",
    "chip",
    "budget",
    "policy",
    "dataset",
    "benchmark",
    "latency",
    "startup",
    "research",
    "customer",
    "workflow",
    "regulator",
    "engineer",
    "inference",
    "training",
    "vendor",
    "contract",
    "privacy",
    "safety",
    "memory",
    "context",
    "token",
    "license",
    "cloud",
    "laptop",
    "phone",
    "robot",
    "factory",
    "hospital",
    "school",
    "bank",
    "newsroom",
    "studio",
    "translation",
    "search",
    "summary",
    "review",
    "audit",
    "pilot",
    "rollout",
    "feedback",
    "metric",
    "quarter",
    "roadmap",
    "prototype",
    "release",
    "update",
    "patch",
    "outage",
    "incident",
    "forecast",
    "pricing",
    "margin",
    "subsidy",
    "grant",
    "lab",
    "university",
    "consortium",
    "standard",
    "protocol",
    "interface",
    "plugin",
    "assistant",
    "copilot",
    "compiler",
    "database",
    "pipeline",
    "cluster",
    "accelerator",
    "wafer",
    "supply",
    "export",
    "import",
    "tariff",
    "court",
    "lawsuit",
    "copyright",
    "artist",
    "writer",
    "teacher",
    "student",
    "doctor",
    "nurse",
    "farmer",
    "driver",
    "pilotage",
    "weather",
    "climate",
    "energy",
    "grid",
    "battery",
    "sensor",
    "camera",
    "vision",
    "speech",
    "music",
    "video",
    "image",
    "map",
    "route",
    "warehouse",
    "inventory",
    "invoice",
    "ledger",
    "fraud",
    "risk",
    "insurance",
    "claim",
    "loan",
    "market",
    "investor",
    "founder",
    "hiring",
    "salary",
    "union",
    "strike",
    "election",
    "campaign",
    "rumor",
    "evidence",
    "archive",
    "library",
    "museum",
    "garden",
    "kitchen",
    "recipe",
    "travel",
    "ticket",
    "stadium",
    "league",
    "coach",
    "fitness",
    "sleep",
    "habit",
    "reminder",
    "calendar",
    "meeting",
    "email",
    "chat",
    "forum",
    "community",
    "moderator",
    "quickly",
    "carefully",
    "openly",
    "quietly",
    "widely",
    "slowly",
    "sharply",
    "gradually",
    "improves",
    "reduces",
    "doubles",
    "questions",
    "replaces",
    "supports",
    "measures",
    "delays",
    "explains",
    "protects",
    "exposes",
    "connects",
    "predicts",
    "schedules",
    "translates",
    "ranks",
];

fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A post that passes the quality gate, unique per `n`: its sentences are drawn from
/// [`WORDS`] by a generator seeded with `n`, so two posts share words but not sentences (the
/// near-duplicate check must let them both through).
pub fn good_post(n: usize) -> Value {
    let mut state = mix(n as u64 + 1);
    let mut word = || {
        state = mix(state.wrapping_add(0x9e37_79b9_7f4a_7c15));
        WORDS[(state % WORDS.len() as u64) as usize]
    };
    let mut body = String::from(
        "Artificial intelligence keeps moving, and this article looks at one concrete shift in detail.\n\n",
    );
    for topic in [
        "models", "agents", "hardware", "policy", "practice", "outlook",
    ] {
        body.push_str(&format!("## What changed in {topic}\n\n"));
        for _ in 0..4 {
            let words: Vec<&str> = (0..16).map(|_| word()).collect();
            body.push_str(&format!("The {} {}.\n\n", words.join(" "), topic));
        }
    }
    json!({
        "title": format!("How AI Agents Changed Software Teams, Part {n}"),
        "slug": format!("how-ai-agents-changed-software-teams-part-{n}"),
        "summary": "A look at what changed and why it matters now.",
        "tags": ["AI", "agents", "software"],
        "seo_title": format!("AI Agents and Software Teams {n}"),
        "seo_description": "How AI agents changed the daily work of software teams, what it costs, and what to do next.",
        "seo_keywords": ["ai agents", "software teams"],
        "body": body,
    })
}

/// The alerts about the queue among what an [`AlertReceiver`] got, as `status/severity`.
pub fn queue_alerts(got: &[Received]) -> Vec<String> {
    got.iter()
        .flat_map(|r| r.body["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["key"] == "queue")
        .map(|a| {
            format!(
                "{}/{}",
                a["status"].as_str().unwrap(),
                a["severity"].as_str().unwrap()
            )
        })
        .collect()
}

/// A test token (16+ characters).
pub const TOKEN: &str = "test-token-0123456789";

/// TOML for tests: no schedules, fast polling and stall detection.
pub fn test_toml(extra: &str) -> String {
    format!(
        "schedules = []\n{extra}\n[queue]\nlease_secs = 2\nstalled_interval_secs = 1\npoll_interval_ms = 50\nshutdown_grace_secs = 5\n"
    )
}

/// Ends this test binary with a message if it runs longer than `BLOGFLOW_TEST_WATCHDOG_SECS`
/// (default 15 minutes): a hung test then fails the run in minutes, with the names of the
/// tests still running printed by the harness, instead of using up CI's whole time limit.
pub fn watchdog() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let secs = std::env::var("BLOGFLOW_TEST_WATCHDOG_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(900);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(secs));
            eprintln!("watchdog: this test binary ran for more than {secs} s; a test hangs");
            std::process::exit(101);
        });
    });
}

/// The HTTP client tests talk to the service with. Every request has a 30 s limit, so a
/// service that stops answering fails the test with a message instead of hanging the run
/// (the API's goal is an answer within 5 s).
pub fn http() -> reqwest::Client {
    watchdog();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// GETs `url` until `done` holds or 60 s pass. Used where the service is observed from
/// outside, like a client would (another process, or through its HTTP API).
pub async fn poll_json(
    http: &reqwest::Client,
    url: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    poll_json_within(http, url, what, Duration::from_secs(60), done).await
}

/// [`poll_json`] with a limit of the caller's: CPU-bound work such as the local model's can
/// take minutes on a loaded machine, and the limit only tells a hang from slowness.
pub async fn poll_json_within(
    http: &reqwest::Client,
    url: &str,
    what: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let v = get_json(http, url).await;
        if done(&v) {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {v:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// GETs `url` as JSON.
pub async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    http.get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Copies `files` from `tests/<from>` into `target/<into>` and runs `npm install` there once
/// (until `node_modules/<package>` exists); several tests may get here at once, so npm is
/// serialised by a lock file. Returns the folder.
pub fn npm_install_once(from: &str, into: &str, files: &[&str], package: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target").join(into);
    std::fs::create_dir_all(&dir).unwrap();
    for f in files {
        std::fs::copy(root.join("tests").join(from).join(f), dir.join(f)).unwrap();
    }
    let lock = std::fs::File::create(dir.join(".install-lock")).unwrap();
    lock.lock().unwrap();
    if !dir
        .join("node_modules")
        .join(package)
        .join("package.json")
        .exists()
    {
        let installed = with_retries(|| {
            std::process::Command::new("npm")
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "--no-package-lock",
                ])
                .current_dir(&dir)
                .status()
                .expect("npm (Node.js 20) is needed: run scripts/install-deps --tests")
                .success()
        });
        assert!(installed, "npm install failed in {}", dir.display());
    }
    dir
}

/// A Python virtual environment in `target/<into>` with `requirements` installed once (until
/// `bin/<program>` exists), serialised by a lock file like [`npm_install_once`]. Returns the
/// environment's `bin` folder.
pub fn pip_install_once(into: &str, requirements: &[&str], program: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target").join(into);
    std::fs::create_dir_all(&dir).unwrap();
    let lock = std::fs::File::create(dir.join(".install-lock")).unwrap();
    lock.lock().unwrap();
    let bin = dir.join("venv").join("bin");
    if !bin.join(program).exists() {
        let status = std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(dir.join("venv"))
            .status()
            .expect("python3 is needed: run scripts/install-deps --tests");
        assert!(
            status.success(),
            "python3 -m venv failed (install python3-venv)"
        );
        let installed = with_retries(|| {
            std::process::Command::new(bin.join("pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .args(requirements)
                .status()
                .unwrap()
                .success()
        });
        assert!(installed, "pip install {requirements:?} failed");
    }
    bin
}

/// Runs a package install up to three times, 2 s and then 8 s apart: a registry that blips
/// once should not fail the suite, one that stays down still does.
fn with_retries(mut install: impl FnMut() -> bool) -> bool {
    for pause in [2, 8] {
        if install() {
            return true;
        }
        eprintln!("install failed; trying again in {pause} s");
        std::thread::sleep(Duration::from_secs(pause));
    }
    install()
}

/// Asks the service at `base` for `count` posts; returns the job id.
pub async fn request_generation(http: &reqwest::Client, base: &str, count: u32) -> String {
    let r: Value = http
        .post(format!("{base}/api/automation/workflow"))
        .bearer_auth(TOKEN)
        .json(&json!({"action": "generate_content", "count": count}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["job_id"].as_str().expect("a job id").to_owned()
}

/// The API URL of a generation job.
pub fn job_url(base: &str, id: &str) -> String {
    format!("{base}/api/jobs/content-generation/{id}")
}

/// A `blogflow run` process of the real binary, configured by environment like an operator
/// would, with its API address read from its log.
pub struct Process {
    /// The child; `start_kill` is SIGKILL.
    pub child: Child,
    /// `http://addr`.
    pub base: String,
}

impl Process {
    /// Starts `blogflow run` in `dir` against `fake`, with `extra` environment variables.
    pub async fn spawn(dir: &Path, fake: &FakeOpenAi, extra: &[(&str, &str)]) -> Process {
        Self::spawn_as(dir, fake, extra, &["run"]).await
    }

    /// Like [`Process::spawn`] with another command line (`serve`, `worker --concurrency 2`).
    pub async fn spawn_as(
        dir: &Path,
        fake: &FakeOpenAi,
        extra: &[(&str, &str)],
        args: &[&str],
    ) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_blogflow"));
        child
            .args(args)
            .current_dir(dir)
            .env("BLOGFLOW_LISTEN", "127.0.0.1:0")
            .env("BLOGFLOW_DATA_DIR", dir.join("data"))
            .env("BLOGFLOW_CONTENT_DIR", dir.join("content"))
            .env("BLOGFLOW_LOG_DIR", dir.join("logs"))
            .env("BLOGFLOW_API_TOKEN", TOKEN)
            .env("OPENAI_BASE_URL", &fake.base_url)
            .env("OPENAI_API_KEY", "sk-test")
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = child.spawn().unwrap();
        let addr = blogflow::bench::wait_for_address(child.stderr.take().unwrap())
            .await
            .unwrap();
        Process {
            child,
            base: format!("http://{addr}"),
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        get_json(&http(), &format!("{}{path}", self.base)).await
    }

    pub async fn wait_for(&self, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        poll_json(&http(), &format!("{}{path}", self.base), what, done).await
    }

    pub async fn generate(&self, count: u32) -> String {
        request_generation(&http(), &self.base, count).await
    }

    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().unwrap();
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("exit after SIGTERM")
            .unwrap()
    }
}

/// One request an [`AlertReceiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Request path.
    pub path: String,
    /// Request headers.
    pub headers: HeaderMap,
    /// The JSON body.
    pub body: Value,
    /// The raw body (for signatures).
    pub raw: bytes::Bytes,
}

struct ReceiverInner {
    got: Mutex<Vec<Received>>,
    statuses: Mutex<VecDeque<u16>>,
    arrived: Notify,
}

/// A webhook receiver (Slack, Discord, Telegram or generic JSON) on port 0 that records every
/// request and answers 200, or the scripted statuses first.
#[derive(Clone)]
pub struct AlertReceiver {
    inner: Arc<ReceiverInner>,
    /// `http://addr`.
    pub root: String,
}

impl AlertReceiver {
    /// Starts the receiver.
    pub async fn start() -> Self {
        let inner = Arc::new(ReceiverInner {
            got: Mutex::new(Vec::new()),
            statuses: Mutex::new(VecDeque::new()),
            arrived: Notify::new(),
        });
        let app = Router::new()
            .fallback(
                |s: State<Arc<ReceiverInner>>, u: Uri, h: HeaderMap, body: bytes::Bytes| async move {
                    let status = s.statuses.lock().unwrap().pop_front().unwrap_or(200);
                    s.got.lock().unwrap().push(Received {
                        path: u.path().to_owned(),
                        headers: h,
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                        raw: body,
                    });
                    s.arrived.notify_waiters();
                    (StatusCode::from_u16(status).unwrap(), Json(json!({"ok": status == 200})))
                },
            )
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            inner,
            root: format!("http://{addr}"),
        }
    }

    /// Answers the next requests with these statuses, then 200.
    pub fn fail_next(&self, statuses: impl IntoIterator<Item = u16>) {
        self.inner.statuses.lock().unwrap().extend(statuses);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.got.lock().unwrap().clone()
    }

    /// Waits (up to 60 s) until `done` holds for what was received; returns it.
    pub async fn wait_until(
        &self,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let notified = self.inner.arrived.notified();
            let got = self.received();
            if done(&got) {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("timed out waiting for {what}; received: {got:#?}");
            }
        }
    }
}

/// `[monitoring]` thresholds out of reach of a busy test machine, so that only the faults a
/// test makes raise alerts.
/// (A percent bound above 100 is never reached: that alert is off.)
pub const QUIET_THRESHOLDS: &str = "cpu_warn_pct = 101\ncpu_critical_pct = 102\nmemory_warn_pct = 101\nmemory_critical_pct = 102\ndisk_warn_pct = 101\ndisk_critical_pct = 102\nerror_rate_warn_pct = 101\nerror_rate_critical_pct = 102\nresponse_warn_secs = 3000\nresponse_critical_secs = 3600\n";

/// The service in this process, on port 0 and temporary folders.
pub struct InProcess {
    running: Option<blogflow::app::Running>,
    /// `http://addr`.
    pub base: String,
    /// Data, content and logs live here.
    pub dir: tempfile::TempDir,
}

impl InProcess {
    /// Starts the service with `toml` as its file and `env` on top of the folders and an
    /// OpenAI-compatible provider at `fake`.
    pub async fn start(fake: &FakeOpenAi, toml: &str, env: &[(&str, &str)]) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), fake, toml, env).await
    }

    /// Stops the service and starts it again on the same folders with a new configuration
    /// (what an operator does after fixing a setting).
    pub async fn restart(mut self, fake: &FakeOpenAi, toml: &str, env: &[(&str, &str)]) -> Self {
        self.running.take().unwrap().shutdown().await;
        Self::start_in(self.dir, fake, toml, env).await
    }

    async fn start_in(
        dir: tempfile::TempDir,
        fake: &FakeOpenAi,
        toml: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let raw: blogflow::config::RawConfig = toml::from_str(toml).unwrap();
        let mut pairs = vec![
            ("BLOGFLOW_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            (
                "BLOGFLOW_DATA_DIR".to_owned(),
                dir.path().join("data").display().to_string(),
            ),
            (
                "BLOGFLOW_CONTENT_DIR".to_owned(),
                dir.path().join("content").display().to_string(),
            ),
            (
                "OPENAI_API_KEY".to_owned(),
                "sk-test-secret-key-value".to_owned(),
            ),
            ("OPENAI_BASE_URL".to_owned(), fake.base_url.clone()),
            ("BLOGFLOW_API_TOKEN".to_owned(), TOKEN.to_owned()),
        ];
        pairs.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let (config, _) =
            blogflow::config::Config::validate(raw, &blogflow::config::Env::from_pairs(pairs))
                .unwrap();
        let running = blogflow::app::start(config).await.unwrap();
        Self {
            base: format!("http://{}", running.addr),
            running: Some(running),
            dir,
        }
    }

    /// The running service.
    pub fn running(&self) -> &blogflow::app::Running {
        self.running.as_ref().unwrap()
    }

    /// GET as JSON.
    pub async fn get(&self, path: &str) -> Value {
        get_json(&http(), &format!("{}{path}", self.base)).await
    }

    /// Polls `path` until `done` holds.
    pub async fn wait_for(&self, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        poll_json(&http(), &format!("{}{path}", self.base), what, done).await
    }

    /// Waits until the generation job `job` is in `state` (`completed` or `failed`); returns
    /// the job.
    pub async fn job_ended(&self, job: &str, state: &str) -> Value {
        self.wait_for(
            &format!("/api/jobs/content-generation/{job}"),
            &format!("job {job} to be {state}"),
            |j| j["state"] == state,
        )
        .await
    }

    /// Asks for `count` posts; returns the job id.
    pub async fn generate(&self, count: u32) -> String {
        request_generation(&http(), &self.base, count).await
    }

    /// Shuts down gracefully.
    pub async fn stop(mut self) {
        self.running.take().unwrap().shutdown().await;
    }
}

/// Posts written as Markdown in `dir` (their social cards beside them are not posts).
pub fn markdown_posts(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter(|e| {
                e.as_ref().is_ok_and(|e| {
                    e.path()
                        .extension()
                        .is_some_and(|x| x == "md" || x == "mdx")
                })
            })
            .count()
    })
}

/// The JSON-LD blocks of `html`, parsed, and the HTML without them. A block that is not JSON
/// fails the test.
#[allow(dead_code)]
pub fn json_ld(html: &str) -> (Vec<Value>, String) {
    const OPEN: &str = "<script type=\"application/ld+json\">";
    let (mut blocks, mut rest, mut tail) = (Vec::new(), String::new(), html);
    while let Some(start) = tail.find(OPEN) {
        rest.push_str(&tail[..start]);
        let after = &tail[start + OPEN.len()..];
        let end = after
            .find("</script>")
            .expect("the JSON-LD block is closed");
        let block: Value = serde_json::from_str(&after[..end])
            .unwrap_or_else(|e| panic!("JSON-LD is not JSON ({e}): {}", &after[..end]));
        blocks.push(block);
        tail = &after[end + "</script>".len()..];
    }
    rest.push_str(tail);
    (blocks, rest)
}

/// Checks a `BlogPosting` the way search engines read one: schema.org context and type; a
/// headline of at most 110 characters; an image (absolute URLs) when `with_image`; ISO 8601
/// `datePublished` and `dateModified`; an author and a publisher with a type and a name.
/// Returns the problems found (empty when it validates).
#[allow(dead_code)]
pub fn blog_posting_problems(ld: &Value, with_image: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let mut need = |ok: bool, what: &str| {
        if !ok {
            problems.push(what.to_owned());
        }
    };
    need(
        ld["@context"] == "https://schema.org" || ld["@context"] == "http://schema.org",
        "@context is schema.org",
    );
    need(ld["@type"] == "BlogPosting", "@type is BlogPosting");
    need(
        ld["headline"]
            .as_str()
            .is_some_and(|h| !h.trim().is_empty() && h.chars().count() <= 110),
        "headline, 1 to 110 characters",
    );
    for date in ["datePublished", "dateModified"] {
        need(
            ld[date]
                .as_str()
                .is_some_and(|d| chrono::DateTime::parse_from_rfc3339(d).is_ok()),
            &format!("{date} in ISO 8601"),
        );
    }
    for who in ["author", "publisher"] {
        let one = if ld[who].is_array() {
            &ld[who][0]
        } else {
            &ld[who]
        };
        need(
            matches!(one["@type"].as_str(), Some("Person" | "Organization"))
                && one["name"].as_str().is_some_and(|n| !n.trim().is_empty()),
            &format!("{who} with @type Person or Organization and a name"),
        );
    }
    if with_image {
        let images: Vec<&Value> = match &ld["image"] {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        need(
            !images.is_empty()
                && images.iter().all(|i| {
                    i.as_str()
                        .or(i["url"].as_str())
                        .and_then(|u| reqwest::Url::parse(u).ok())
                        .is_some_and(|u| matches!(u.scheme(), "http" | "https"))
                }),
            "image as absolute URLs",
        );
    }
    problems
}
