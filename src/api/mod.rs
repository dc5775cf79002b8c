//! The HTTP control API. Handlers are thin: extract, call the orchestrator, store or queue,
//! map the error.
//!
//! | route | does |
//! |---|---|
//! | `GET /healthz` | liveness: the process answers |
//! | `GET /readyz` | readiness: 503 while the store or the queue does not answer |
//! | `GET /metrics` | Prometheus text (families listed in `docs/metrics.md`) |
//! | `GET /api/metrics/history?window=hour\|day\|month` | stored monitoring samples |
//! | `GET /api/automation/workflow` | state, queues, recent runs and posts |
//! | `POST /api/automation/workflow` | `start`, `stop`, `pause`, `resume`, `generate_content` (token) |
//! | `GET /api/automation/scheduler` | schedules with next and last ticks |
//! | `GET /api/automation/health` | dependencies; 503 when the store is down |
//! | `GET /api/jobs`, `GET /api/jobs/{queue}/{id}` | jobs |
//! | `POST /api/jobs/{queue}/{id}/retry` | retry a failed job (token) |
//! | `GET /api/providers` | providers in fallback order, last check, breaker state |
//! | `GET /api/posts`, `GET /api/posts/{id}` | posts |
//! | `POST /api/posts/{id}/approve`, `…/reject` | decide on a held post (token) |
//! | `GET /api/topics`, `POST /api/topics` | the topic pool and feeds; queue a topic (token) |
//! | `POST /api/topics/refresh` | fetch every feed now (token) |
//! | `GET /api/costs` | posts and spend per day and month, budget state |

mod error;
pub mod metrics;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub use error::ApiError;

use crate::config::Config;
use crate::content::pipeline::GenerateRequest;
use crate::orchestrator::{ActionOutcome, Orchestrator};
use crate::queue::{JobState, Queue, QueueBackend, names};
use crate::store::Store;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The workflow.
    pub orchestrator: Orchestrator,
    /// The store.
    pub store: Store,
    /// The queue.
    pub queue: QueueBackend,
    /// The configuration.
    pub config: Arc<Config>,
    /// Monitoring, self-healing and alert state.
    pub ops: crate::ops::Ops,
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/api/metrics/history", get(metrics_history))
        .route("/metrics", get(metrics::metrics))
        .route(
            "/api/automation/workflow",
            get(workflow_status).post(workflow_action),
        )
        .route("/api/automation/scheduler", get(scheduler_status))
        .route("/api/automation/health", get(health))
        .route("/api/jobs", get(list_jobs))
        .route("/api/jobs/{queue}/{id}", get(get_job))
        .route("/api/jobs/{queue}/{id}/retry", post(retry_job))
        .route("/api/providers", get(providers))
        .route("/api/topics", get(list_topics).post(add_topic))
        .route("/api/topics/refresh", post(refresh_topics))
        .route("/api/costs", get(costs))
        .route("/api/posts", get(list_posts))
        .route("/api/posts/{id}", get(get_post))
        .route("/api/posts/{id}/approve", post(approve_post))
        .route("/api/posts/{id}/reject", post(reject_post))
        .fallback(|| async { ApiError::not_found("no such route; see README.md for the API") })
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Logs each request's latency to the performance log and counts it for the monitor.
async fn observe(State(s): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    if route != "/metrics" {
        s.ops
            .stats()
            .api_request(started.elapsed(), response.status().as_u16());
    }
    tracing::info!(target: "blogflow::perf", %method, route, status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0, "api request");
    response
}

/// Why a mutation was refused.
enum Denied {
    /// No token is configured: mutations are off.
    Disabled,
    /// No bearer token in the request.
    Missing,
    /// A token that does not match.
    Invalid,
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            Denied::Disabled => (
                StatusCode::FORBIDDEN,
                "mutations_disabled",
                "mutations are disabled: set BLOGFLOW_API_TOKEN (16+ characters) and restart",
            ),
            Denied::Missing => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing header Authorization: Bearer <BLOGFLOW_API_TOKEN>",
            ),
            Denied::Invalid => (StatusCode::UNAUTHORIZED, "unauthorized", "invalid token"),
        };
        let error = ApiError {
            status,
            code,
            message: message.into(),
        };
        if status == StatusCode::UNAUTHORIZED {
            ([(header::WWW_AUTHENTICATE, "Bearer")], error).into_response()
        } else {
            error.into_response()
        }
    }
}

fn authorize(config: &Config, headers: &HeaderMap) -> Result<(), Denied> {
    let token = config.api_token.as_ref().ok_or(Denied::Disabled)?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        None => Err(Denied::Missing),
        Some(t) if token.matches(t.trim()) => Ok(()),
        Some(_) => Err(Denied::Invalid),
    }
}

const ACTIONS: &str = "start, stop, pause, resume, generate_content";

async fn workflow_action(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(denied) = authorize(&s.config, &headers) {
        return denied.into_response();
    }
    match run_action(&s, body).await {
        Ok(outcome) => Json(outcome).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn run_action(s: &AppState, body: axum::body::Bytes) -> Result<ActionOutcome, ApiError> {
    // Any content type: operators script this with `curl -d`, which sends a form type.
    let body: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not JSON ({e}); send a JSON object like {{\"action\":\"start\"}}"
        ))
    })?;
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "send a JSON object like {\"action\":\"start\"}",
        ));
    }
    let action = body.get("action").and_then(Value::as_str).ok_or_else(|| {
        ApiError::bad_request(format!("missing \"action\": use one of {ACTIONS}"))
    })?;
    let o = &s.orchestrator;
    Ok(match action {
        "start" => o.start().await?,
        "stop" => o.stop().await?,
        "pause" => o.pause().await?,
        "resume" => o.resume().await?,
        "generate_content" => o.generate(generate_request(&body, &s.config)?).await?,
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown action {other:?}: use one of {ACTIONS}"
            )));
        }
    })
}

fn generate_request(body: &Value, config: &Config) -> Result<GenerateRequest, ApiError> {
    let max = config.generation.max_posts_per_request;
    let count = match body.get("count") {
        None => 1,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=max as u64).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("\"count\" must be a whole number from 1 to {max} (generation.max_posts_per_request), got {v}")))?
            as u32,
    };
    let text = |key: &str| -> Result<Option<String>, ApiError> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(t)) if !t.trim().is_empty() && t.chars().count() <= 300 => {
                Ok(Some(t.trim().to_owned()))
            }
            Some(_) => Err(ApiError::bad_request(format!(
                "\"{key}\" must be a non-empty string of at most 300 characters"
            ))),
        }
    };
    Ok(GenerateRequest {
        count,
        topic: text("topic")?,
        category: text("category")?,
    })
}

async fn workflow_status(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let mut queues = serde_json::Map::new();
    for name in names::ALL {
        let counts = s.queue.counts(name).await?;
        let paused = s.queue.is_paused(name).await?;
        queues.insert(
            name.to_owned(),
            json!({ "counts": counts, "paused": paused }),
        );
    }
    let provider = s
        .orchestrator
        .router()
        .generator
        .provider()
        .map(|p| json!({ "name": p.name(), "model": p.model() }));
    Ok(Json(json!({
        "state": s.orchestrator.state().await,
        "uptime_secs": s.orchestrator.uptime_secs(),
        "provider": provider,
        "provider_message": if provider.is_none() { Some(crate::content::pipeline::NO_PROVIDER) } else { None },
        "queues": queues,
        "posts": s.store.post_totals().await?,
        "recent_runs": s.store.recent_runs(10).await?,
        "recent_posts": s.store.list_posts(10).await?,
    })))
}

async fn scheduler_status(State(s): State<AppState>) -> Json<Value> {
    let book = s.orchestrator.schedule_book();
    let book = book.lock().expect("schedule book").clone();
    let now = chrono::Utc::now();
    let schedules: Vec<Value> = s
        .config
        .schedules
        .iter()
        .map(|sch| {
            let status = book.get(&sch.name).cloned().unwrap_or_default();
            json!({
                "name": sch.name, "cron": sch.expression, "action": format!("{:?}", sch.action),
                "next_run": sch.cron.after(&now).next().map(|t| t.to_rfc3339()),
                "last_tick": status.last_tick, "last_job_id": status.last_job_id, "last_outcome": status.last_outcome,
            })
        })
        .collect();
    let mut queues = serde_json::Map::new();
    for name in names::ALL {
        let view = match (
            s.queue.counts(name).await,
            s.queue.is_paused(name).await,
            s.queue.recent_events(name, 20).await,
        ) {
            (Ok(counts), Ok(paused), Ok(events)) => {
                json!({ "counts": counts, "paused": paused, "recent_events": events })
            }
            (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => {
                json!({ "error": e.to_string() })
            }
        };
        queues.insert(name.to_owned(), view);
    }
    Json(json!({
        "state": s.orchestrator.state().await,
        "backend": s.queue.kind(),
        "schedules": schedules,
        "queues": queues,
    }))
}

/// Each provider in fallback order: its last health check and its breaker.
fn provider_views(s: &AppState, snapshot: Option<&crate::jobs::HealthSnapshot>) -> Vec<Value> {
    let now = tokio::time::Instant::now();
    s.orchestrator
        .router()
        .generator
        .providers()
        .iter()
        .map(|p| {
            let check = snapshot.and_then(|h| h.providers.iter().find(|(name, _)| name == p.name())).map(|(_, r)| r);
            let (status, message) = match check {
                None => ("unchecked", None),
                Some(Ok(())) => ("ok", None),
                Some(Err(e)) => ("failing", Some(e.clone())),
            };
            json!({ "name": p.name(), "model": p.model(), "status": status, "message": message, "breaker": p.breaker().snapshot(now), "weight": p.weight(), "observed": p.observed() })
        })
        .collect()
}

async fn providers(State(s): State<AppState>) -> Json<Value> {
    let snapshot = s.orchestrator.router().health.read().await.clone();
    let providers = provider_views(&s, snapshot.as_ref());
    let message = providers
        .is_empty()
        .then_some(crate::content::pipeline::NO_PROVIDER);
    Json(json!({ "providers": providers, "message": message }))
}

async fn health(State(s): State<AppState>) -> Response {
    let store = s.store.ping().await.map_err(|e| e.to_string());
    let queue = s.queue.ping().await.map_err(|e| e.to_string());
    let snapshot = s.orchestrator.router().health.read().await.clone();
    let checked = |name: &str, result: Option<&Result<(), String>>| match result {
        None => json!({ "name": name, "status": "unchecked" }),
        Some(Ok(())) => json!({ "name": name, "status": "ok" }),
        Some(Err(e)) => json!({ "name": name, "status": "failing", "message": e }),
    };
    let providers = provider_views(&s, snapshot.as_ref());
    let targets: Vec<Value> = snapshot.as_ref().map_or_else(Vec::new, |h| {
        h.targets
            .iter()
            .map(|(name, r)| checked(name, Some(r)))
            .collect()
    });
    // The store is this process's own disk: without it nothing works. A queue that is down
    // (Redis restarting) is an outage the service rides out: degraded, with the reason.
    let unhealthy = store.is_err();
    let degraded = queue.is_err()
        || providers.is_empty()
        || providers
            .iter()
            .any(|p| p["status"] != "ok" || p["breaker"]["state"] != "closed")
        || targets.iter().any(|t| t["status"] != "ok")
        || s.ops.components().values().any(|c| c.status != "ok");
    let status = if unhealthy {
        "unhealthy"
    } else if degraded {
        "degraded"
    } else {
        "healthy"
    };
    let check = |r: &Result<(), String>| match r {
        Ok(()) => json!({ "status": "ok" }),
        Err(_) => json!({ "status": "failing", "message": "see the error log" }),
    };
    if let Err(e) = store.as_ref().and(queue.as_ref()) {
        tracing::error!(error = %e, "health check: a dependency is down");
    }
    let queue_view = match &queue {
        Ok(rtt) => {
            json!({ "status": "ok", "backend": s.queue.kind(), "latency_ms": rtt.as_secs_f64() * 1e3 })
        }
        // Queue errors name the backend's complaint, never its URL or password.
        Err(e) => json!({ "status": "failing", "backend": s.queue.kind(), "message": e }),
    };
    let body = json!({
        "status": status,
        "workflow": s.orchestrator.state().await,
        "uptime_secs": s.orchestrator.uptime_secs(),
        "checks": { "store": check(&store), "queue": queue_view, "providers": providers, "targets": targets },
        "checked_at": snapshot.map(|h| h.checked_at),
        "components": s.ops.components().into_iter().map(|(c, st)| (c.name(), st)).collect::<std::collections::BTreeMap<_, _>>(),
        "recovery_actions": s.ops.recoveries().into_iter().take(20).collect::<Vec<_>>(),
        "alerts": {
            "active": s.ops.active_alerts().into_iter().map(|(key, severity)| json!({ "key": key, "severity": severity })).collect::<Vec<_>>(),
            "recent": s.ops.recent_alerts().into_iter().take(10).collect::<Vec<_>>(),
            "channels": s.ops.channels().names(),
        },
        "monitor": {
            "cycles": s.ops.cycles(),
            "interval_secs": s.ops.config().interval.as_secs_f64(),
            "performance_monitoring": s.config.performance_monitoring,
            "self_healing": s.config.self_healing,
        },
    });
    let code = if unhealthy {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(body)).into_response()
}

/// Readiness: the store and the queue answer now (each asked with a 2 s limit). Providers
/// are not required: without them the service still accepts and keeps jobs.
async fn readyz(State(s): State<AppState>) -> Response {
    let limit = std::time::Duration::from_secs(2);
    let store = match tokio::time::timeout(limit, s.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 2 s".to_owned()),
    };
    let queue = match tokio::time::timeout(limit, s.queue.ping()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 2 s".to_owned()),
    };
    let view = |r: &Result<(), String>| match r {
        Ok(()) => json!({ "status": "ok" }),
        Err(e) => json!({ "status": "failing", "message": e }),
    };
    let ready = store.is_ok() && queue.is_ok();
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": { "store": view(&store), "queue": view(&queue) },
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

#[derive(Deserialize)]
struct HistoryQuery {
    window: Option<String>,
}

/// Stored samples for charts: the last hour at full resolution, the last day or month as
/// five-minute summaries.
async fn metrics_history(
    State(s): State<AppState>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    let window = q.window.as_deref().unwrap_or("hour");
    let (span_ms, summaries): (i64, bool) = match window {
        "hour" => (3_600_000, false),
        "day" => (86_400_000, true),
        "month" => (31 * 86_400_000, true),
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown window {other:?}: use hour, day or month"
            )));
        }
    };
    let samples = s
        .store
        .samples(crate::db::now_ms() - span_ms, summaries)
        .await?;
    let resolution_secs = if summaries {
        (crate::store::ROLLUP_MS / 1000) as f64
    } else {
        s.ops.config().interval.as_secs_f64()
    };
    Ok(Json(
        json!({ "window": window, "resolution_secs": resolution_secs, "samples": samples }),
    ))
}

#[derive(Deserialize)]
struct JobsQuery {
    queue: Option<String>,
    state: Option<String>,
    limit: Option<usize>,
}

fn known_queue(name: &str) -> Result<&'static str, ApiError> {
    names::ALL.into_iter().find(|q| *q == name).ok_or_else(|| {
        ApiError::not_found(format!(
            "unknown queue {name:?}: use one of {}",
            names::ALL.join(", ")
        ))
    })
}

async fn list_jobs(
    State(s): State<AppState>,
    Query(q): Query<JobsQuery>,
) -> Result<Json<Value>, ApiError> {
    let queue = known_queue(q.queue.as_deref().unwrap_or(names::CONTENT_GENERATION))?;
    let state = match q.state.as_deref() {
        None => JobState::Waiting,
        Some(s) => JobState::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown state {s:?}: use waiting, delayed, active, completed or failed"
            ))
        })?,
    };
    let jobs = s
        .queue
        .list(queue, state, q.limit.unwrap_or(50).min(500))
        .await?;
    Ok(Json(
        json!({ "queue": queue, "state": state, "jobs": jobs }),
    ))
}

async fn get_job(
    State(s): State<AppState>,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let queue = known_queue(&queue)?;
    let job = s
        .queue
        .get(queue, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("job {id} not found in {queue}")))?;
    Ok(Json(json!(job)))
}

async fn retry_job(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((queue, id)): Path<(String, String)>,
) -> Response {
    if let Err(denied) = authorize(&s.config, &headers) {
        return denied.into_response();
    }
    let result = async {
        let queue = known_queue(&queue)?;
        s.queue.retry(queue, &id).await?;
        Ok::<_, ApiError>(Json(json!({ "job_id": id, "state": "waiting" })))
    };
    result.await.into_response()
}

#[derive(Deserialize)]
struct PostsQuery {
    limit: Option<usize>,
}

async fn list_posts(
    State(s): State<AppState>,
    Query(q): Query<PostsQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "posts": s.store.list_posts(q.limit.unwrap_or(50).min(500)).await? }),
    ))
}

async fn get_post(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let post = s
        .store
        .get_post(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("post {id} not found")))?;
    let publications = s.store.publications(&id).await?;
    Ok(Json(json!({ "post": post, "publications": publications })))
}

#[derive(Deserialize)]
struct TopicsQuery {
    status: Option<String>,
    limit: Option<usize>,
}

async fn list_topics(
    State(s): State<AppState>,
    Query(q): Query<TopicsQuery>,
) -> Result<Json<Value>, ApiError> {
    if let Some(st) = q.status.as_deref()
        && !matches!(st, "new" | "picked" | "skipped")
    {
        return Err(ApiError::bad_request(format!(
            "unknown status {st:?}: use new, picked or skipped"
        )));
    }
    let topics = s
        .store
        .list_topics(q.status, q.limit.unwrap_or(50).min(500))
        .await?;
    let mut feeds = Vec::new();
    for f in &s.config.topics.feeds {
        let state = s
            .store
            .feed_state(&f.url)
            .await?
            .unwrap_or_else(|| crate::store::FeedState {
                name: f.name.clone(),
                url: f.url.clone(),
                last_status: "never".into(),
                ..Default::default()
            });
        feeds.push(state);
    }
    Ok(Json(json!({ "topics": topics, "feeds": feeds })))
}

async fn add_topic(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(denied) = authorize(&s.config, &headers) {
        return denied.into_response();
    }
    let result = async {
        let body: Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "the body is not JSON ({e}); send {{\"title\": \"...\", \"category\": \"...\"}}"
            ))
        })?;
        let title = body
            .get("title")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.chars().count() <= 300)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "\"title\" must be a non-empty string of at most 300 characters",
                )
            })?;
        let category = match body.get("category") {
            None | Some(Value::Null) => s.config.generation.category.clone(),
            Some(Value::String(c)) if !c.trim().is_empty() => c.trim().to_owned(),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "\"category\" must be a non-empty string",
                ));
            }
        };
        match s.store.add_manual_topic(title, &category).await? {
            Some(id) => Ok((
                StatusCode::CREATED,
                Json(json!({ "id": id, "title": title, "category": category })),
            )
                .into_response()),
            None => Err(ApiError {
                status: StatusCode::CONFLICT,
                code: "duplicate_topic",
                message: format!("{title:?} is already in the topic pool"),
            }),
        }
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

async fn refresh_topics(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(denied) = authorize(&s.config, &headers) {
        return denied.into_response();
    }
    match &s.orchestrator.router().generator.topics() {
        Some(t) => Json(json!({ "feeds": t.refresh(true).await })).into_response(),
        None => Json(json!({ "feeds": [] })).into_response(),
    }
}

async fn costs(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let now = crate::db::now_ms();
    let today = now - now.rem_euclid(86_400_000);
    let days = s.store.spend_by_day(today - 30 * 86_400_000).await?;
    let mut months: std::collections::BTreeMap<String, (u64, f64)> = Default::default();
    for (day, n, cost) in &days {
        let m = months.entry(day[..7].to_owned()).or_default();
        m.0 += n;
        m.1 += cost;
    }
    let (posts_today, cost_today) = s.store.spend_since(today).await?;
    let g = &s.config.generation;
    Ok(Json(json!({
        "today": { "posts": posts_today, "cost_usd": cost_today },
        "daily_budget_usd": g.daily_budget_usd,
        "daily_post_cap": g.daily_post_cap,
        "stopped": s.orchestrator.router().generator.stats().budget_stop(),
        "days": days.iter().map(|(d, n, c)| json!({ "day": d, "posts": n, "cost_usd": c })).collect::<Vec<_>>(),
        "months": months.iter().map(|(m, (n, c))| json!({ "month": m, "posts": n, "cost_usd": c })).collect::<Vec<_>>(),
        "total_cost_usd": s.store.post_totals().await?.cost_usd,
    })))
}

/// The optional `{"note": "..."}` of a review decision.
fn review_note(body: &[u8]) -> Result<Option<String>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not JSON ({e}); send {{\"note\": \"...\"}} or nothing"
        ))
    })?;
    match v.get("note") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(n)) if n.chars().count() <= 500 => Ok(Some(n.trim().to_owned())),
        Some(_) => Err(ApiError::bad_request(
            "\"note\" must be a string of at most 500 characters",
        )),
    }
}

async fn approve_post(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Err(denied) = authorize(&s.config, &headers) {
        return denied.into_response();
    }
    let result = async {
        let note = review_note(&body)?;
        match s.orchestrator.router().generator.approve(&id, note).await {
            Ok(post) => Ok(Json(
                json!({ "post_id": post.id, "status": post.status, "publishing": "queued" }),
            )),
            Err(crate::content::pipeline::ApproveError::Store(e)) => Err(ApiError::from(e)),
            Err(crate::content::pipeline::ApproveError::Queue(e)) => Err(ApiError::from(e)),
        }
    };
    result.await.into_response()
}

async fn reject_post(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Err(denied) = authorize(&s.config, &headers) {
        return denied.into_response();
    }
    let result = async {
        let note = review_note(&body)?;
        let post = s.store.reject_post(&id, note).await?;
        Ok::<_, ApiError>(Json(
            json!({ "post_id": post.id, "status": post.status, "hold_reason": post.hold_reason }),
        ))
    };
    result.await.into_response()
}
