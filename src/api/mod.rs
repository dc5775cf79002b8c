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
//! | `DELETE /api/jobs/{queue}/{id}` | remove a job that is not running (token) |
//! | `GET /` | the dashboard (`assets/dashboard`, embedded) |
//! | `GET /api/session`, `POST /api/session`, `DELETE /api/session` | dashboard login: token for an HttpOnly cookie plus a CSRF token |
//! | `GET /api/workers` | processes of the deployment and their in-flight jobs |
//! | `GET /api/providers` | providers in fallback order, last check, breaker state |
//! | `GET /api/posts`, `GET /api/posts/{id}` | posts |
//! | `POST /api/posts/{id}/approve`, `…/reject` | decide on a held post (token) |
//! | `GET /api/topics`, `POST /api/topics` | the topic pool and feeds; queue a topic (token) |
//! | `POST /api/topics/refresh` | fetch every feed now (token) |
//! | `GET /api/costs` | posts and spend per day and month, budget state |

mod dashboard;
mod error;
pub mod metrics;
pub mod openapi;
mod session;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{FromRequestParts, MatchedPath, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::ApiError;
pub use session::Sessions;

use crate::config::Config;
use crate::content::pipeline::GenerateRequest;
use crate::orchestrator::{ActionOutcome, Orchestrator};
use crate::queue::{Job, JobState, Queue, QueueBackend, names};
use crate::store::Store;
use openapi::*;

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
    /// Dashboard sessions.
    pub sessions: Sessions,
}

/// The API's routes: the documented ones through `utoipa_axum`, so that each is in the
/// OpenAPI document, plus the dashboard's assets.
pub fn router(state: AppState) -> Router {
    let (api, mut doc) = documented().split_for_parts();
    openapi::finish(&mut doc);
    let doc = doc.to_json().expect("the OpenAPI document serializes");
    api.route(
        "/api/openapi.json",
        get(move || async move { ([(header::CONTENT_TYPE, "application/json")], doc) }),
    )
    .route("/", get(dashboard::index))
    .route("/assets/{*path}", get(dashboard::asset))
    .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
    .fallback(|| async { ApiError::not_found("no such route; see /api/openapi.json") })
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        session::guard,
    ))
    .layer(axum::middleware::from_fn(dashboard::etag))
    .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
    .with_state(state)
}

fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics::metrics))
        .routes(routes!(metrics_history))
        .routes(routes!(workflow_status, workflow_action))
        .routes(routes!(scheduler_status))
        .routes(routes!(health))
        .routes(routes!(providers))
        .routes(routes!(workers))
        .routes(routes!(costs))
        .routes(routes!(list_jobs))
        .routes(routes!(get_job, remove_job))
        .routes(routes!(retry_job))
        .routes(routes!(list_posts))
        .routes(routes!(get_post))
        .routes(routes!(approve_post))
        .routes(routes!(reject_post))
        .routes(routes!(list_topics, add_topic))
        .routes(routes!(refresh_topics))
        .routes(routes!(session::status, session::login, session::logout))
}

/// `Query` whose rejection is a JSON error like every other one.
struct ApiQuery<T>(T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| Self(q))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process answers", body = String, content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok"
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

const ACTIONS: &str = "start, stop, pause, resume, generate_content";

/// Starts, stops, pauses or resumes the workflow, or queues posts.
#[utoipa::path(post, path = "/api/automation/workflow", tag = "workflow",
    request_body = WorkflowAction,
    responses(
        (status = 200, description = "Done, or queued (`job_id`)", body = ActionOutcome),
        (status = 400, description = "Not a valid action", body = ErrorBody),
    ))]
async fn workflow_action(State(s): State<AppState>, body: axum::body::Bytes) -> Response {
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

/// The workflow: state, queues, totals, recent runs and posts.
#[utoipa::path(get, path = "/api/automation/workflow", tag = "workflow",
    responses((status = 200, description = "The workflow", body = WorkflowView)))]
async fn workflow_status(State(s): State<AppState>) -> Result<Json<WorkflowView>, ApiError> {
    let mut queues = std::collections::BTreeMap::new();
    for name in names::ALL {
        let counts = s.queue.counts(name).await?;
        let paused = s.queue.is_paused(name).await?;
        queues.insert(name.to_owned(), QueueView { counts, paused });
    }
    let provider = s
        .orchestrator
        .router()
        .generator
        .provider()
        .map(|p| ProviderRef {
            name: p.name().to_owned(),
            model: p.model().to_owned(),
        });
    Ok(Json(WorkflowView {
        state: s.orchestrator.state().await,
        uptime_secs: s.orchestrator.uptime_secs(),
        provider_message: provider
            .is_none()
            .then(|| crate::content::pipeline::NO_PROVIDER.to_owned()),
        provider,
        queues,
        posts: s.store.post_totals().await?,
        recent_runs: s.store.recent_runs(10).await?,
        recent_posts: s.store.list_posts(10).await?,
    }))
}

/// The schedules with their next and last ticks, and each queue's recent events.
#[utoipa::path(get, path = "/api/automation/scheduler", tag = "workflow",
    responses((status = 200, description = "The scheduler", body = SchedulerView)))]
async fn scheduler_status(State(s): State<AppState>) -> Json<SchedulerView> {
    let book = s.orchestrator.schedule_book();
    let book = book.lock().expect("schedule book").clone();
    let now = chrono::Utc::now();
    let schedules = s
        .config
        .schedules
        .iter()
        .map(|sch| {
            let status = book.get(&sch.name).cloned().unwrap_or_default();
            ScheduleView {
                name: sch.name.clone(),
                cron: sch.expression.clone(),
                action: format!("{:?}", sch.action),
                next_run: sch.cron.after(&now).next().map(|t| t.to_rfc3339()),
                last_tick: status.last_tick,
                last_job_id: status.last_job_id,
                last_outcome: status.last_outcome,
            }
        })
        .collect();
    let mut queues = std::collections::BTreeMap::new();
    for name in names::ALL {
        let view = match (
            s.queue.counts(name).await,
            s.queue.is_paused(name).await,
            s.queue.recent_events(name, 20).await,
        ) {
            (Ok(counts), Ok(paused), Ok(events)) => SchedulerQueueView {
                counts: Some(counts),
                paused: Some(paused),
                recent_events: Some(events),
                error: None,
            },
            (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => SchedulerQueueView {
                counts: None,
                paused: None,
                recent_events: None,
                error: Some(e.to_string()),
            },
        };
        queues.insert(name.to_owned(), view);
    }
    Json(SchedulerView {
        state: s.orchestrator.state().await,
        backend: s.queue.kind().to_owned(),
        schedules,
        queues,
    })
}

/// Each provider in fallback order: its last health check and its breaker.
fn provider_views(
    s: &AppState,
    snapshot: Option<&crate::jobs::HealthSnapshot>,
) -> Vec<ProviderView> {
    let now = tokio::time::Instant::now();
    s.orchestrator
        .router()
        .generator
        .providers()
        .iter()
        .map(|p| {
            let check = snapshot
                .and_then(|h| h.providers.iter().find(|(name, _)| name == p.name()))
                .map(|(_, r)| r);
            let (status, message) = match check {
                None => ("unchecked", None),
                Some(Ok(())) => ("ok", None),
                Some(Err(e)) => ("failing", Some(e.clone())),
            };
            ProviderView {
                name: p.name().to_owned(),
                model: p.model().to_owned(),
                status: status.to_owned(),
                message,
                breaker: p.breaker().snapshot(now),
                weight: p.weight(),
                observed: p.observed(),
                cost_usd: p.totals().cost_usd,
            }
        })
        .collect()
}

/// The processes of this deployment (`run`, `serve`, `worker`) from their heartbeats, with
/// the jobs each runs.
#[utoipa::path(get, path = "/api/workers", tag = "operations",
    responses((status = 200, description = "The processes", body = WorkersView)))]
async fn workers(State(s): State<AppState>) -> Result<Json<WorkersView>, ApiError> {
    let secs = crate::app::HEARTBEAT_SECS;
    Ok(Json(WorkersView {
        heartbeat_secs: secs,
        workers: s.store.workers(secs as i64 * 1000).await?,
    }))
}

/// Providers in fallback order with their last check, breaker, latency and spend.
#[utoipa::path(get, path = "/api/providers", tag = "operations",
    responses((status = 200, description = "The providers", body = ProvidersView)))]
async fn providers(State(s): State<AppState>) -> Json<ProvidersView> {
    let snapshot = s.orchestrator.router().latest_health().await;
    let providers = provider_views(&s, snapshot.as_ref());
    let message = providers
        .is_empty()
        .then(|| crate::content::pipeline::NO_PROVIDER.to_owned());
    Json(ProvidersView { providers, message })
}

impl CheckView {
    fn status(status: &str) -> Self {
        Self {
            name: None,
            status: status.to_owned(),
            message: None,
            backend: None,
            latency_ms: None,
            waiting_posts: None,
            waiting_since: None,
        }
    }

    fn of(result: &Result<(), String>) -> Self {
        match result {
            Ok(()) => Self::status("ok"),
            Err(e) => Self {
                message: Some(e.clone()),
                ..Self::status("failing")
            },
        }
    }
}

/// Every dependency, the monitor's components, alerts and recovery actions. 503 when the
/// store is down; a queue, provider or target that fails makes it `degraded`.
#[utoipa::path(get, path = "/api/automation/health", tag = "operations",
    responses(
        (status = 200, description = "Healthy or degraded", body = HealthView),
        (status = 503, description = "Unhealthy: the store is down", body = HealthView),
    ))]
async fn health(State(s): State<AppState>) -> Response {
    let store = s.store.ping().await.map_err(|e| e.to_string());
    let queue = s.queue.ping().await.map_err(|e| e.to_string());
    let snapshot = s.orchestrator.router().latest_health().await;
    let providers = provider_views(&s, snapshot.as_ref());
    let mut targets: Vec<CheckView> = snapshot.as_ref().map_or_else(Vec::new, |h| {
        h.targets
            .iter()
            .map(|(name, r)| CheckView {
                name: Some(name.clone()),
                ..CheckView::of(r)
            })
            .collect()
    });
    // What waits for each target, and since when: "12 posts waiting for wordpress since …".
    for t in &mut targets {
        let Some(name) = t.name.clone() else { continue };
        if let Ok((n, since)) = s.store.waiting_for(&name).await
            && n > 0
        {
            let since = since
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            let note = format!(
                "{n} post{} waiting for {name}{}",
                if n == 1 { "" } else { "s" },
                since
                    .as_deref()
                    .map_or(String::new(), |s| format!(" since {s}"))
            );
            t.message = Some(match t.message.take() {
                Some(m) => format!("{m}; {note}"),
                None => note,
            });
            t.waiting_posts = Some(n);
            t.waiting_since = since;
        }
    }
    let components = s.ops.components();
    // The store is this process's own disk: without it nothing works. A queue that is down
    // (Redis restarting) is an outage the service rides out: degraded, with the reason.
    let unhealthy = store.is_err();
    let degraded = queue.is_err()
        || providers.is_empty()
        || providers
            .iter()
            .any(|p| p.status != "ok" || p.breaker.state != "closed")
        || targets.iter().any(|t| t.status != "ok")
        || components.values().any(|c| c.status != "ok");
    let status = if unhealthy {
        "unhealthy"
    } else if degraded {
        "degraded"
    } else {
        "healthy"
    };
    if let Err(e) = store.as_ref().and(queue.as_ref()) {
        tracing::error!(error = %e, "health check: a dependency is down");
    }
    let store_view = match &store {
        Ok(()) => CheckView::status("ok"),
        Err(_) => CheckView {
            message: Some("see the error log".into()),
            ..CheckView::status("failing")
        },
    };
    let queue_view = CheckView {
        backend: Some(s.queue.kind().to_owned()),
        ..match &queue {
            Ok(rtt) => CheckView {
                latency_ms: Some(rtt.as_secs_f64() * 1e3),
                ..CheckView::status("ok")
            },
            // Queue errors name the backend's complaint, never its URL or password.
            Err(e) => CheckView {
                message: Some(e.clone()),
                ..CheckView::status("failing")
            },
        }
    };
    let body = HealthView {
        status: status.to_owned(),
        workflow: s.orchestrator.state().await,
        uptime_secs: s.orchestrator.uptime_secs(),
        checks: HealthChecks {
            store: store_view,
            queue: queue_view,
            providers,
            targets,
        },
        checked_at: snapshot.map(|h| h.checked_at),
        components: components
            .into_iter()
            .map(|(c, st)| (c.name().to_owned(), st))
            .collect(),
        recovery_actions: s.ops.recoveries().into_iter().take(20).collect(),
        alerts: AlertsView {
            active: s
                .ops
                .active_alerts()
                .into_iter()
                .map(|(key, severity)| ActiveAlert { key, severity })
                .collect(),
            recent: s.ops.recent_alerts().into_iter().take(10).collect(),
            channels: s
                .ops
                .channels()
                .names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        },
        monitor: MonitorView {
            cycles: s.ops.cycles(),
            interval_secs: s.ops.config().interval.as_secs_f64(),
            performance_monitoring: s.config.performance_monitoring,
            self_healing: s.config.self_healing,
        },
    };
    let code = if unhealthy {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(body)).into_response()
}

/// Readiness: the store and the queue answer now (each asked with a 2 s limit). Providers
/// are not required: without them the service still accepts and keeps jobs.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = ReadyView),
        (status = 503, description = "The store or the queue does not answer", body = ReadyView),
    ))]
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
    let ready = store.is_ok() && queue.is_ok();
    let body = ReadyView {
        status: if ready { "ready" } else { "not_ready" }.to_owned(),
        checks: [
            ("store".to_owned(), CheckView::of(&store)),
            ("queue".to_owned(), CheckView::of(&queue)),
        ]
        .into(),
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// Stored samples for charts: the last hour at full resolution, the last day or month as
/// five-minute summaries.
#[utoipa::path(get, path = "/api/metrics/history", tag = "operations", params(HistoryQuery),
    responses(
        (status = 200, description = "Samples, oldest first", body = HistoryView),
        (status = 400, description = "Unknown window", body = ErrorBody),
    ))]
async fn metrics_history(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryView>, ApiError> {
    let window = q.window.unwrap_or(Window::Hour);
    let (span_ms, summaries): (i64, bool) = match window {
        Window::Hour => (3_600_000, false),
        Window::Day => (86_400_000, true),
        Window::Month => (31 * 86_400_000, true),
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
    Ok(Json(HistoryView {
        window,
        resolution_secs,
        samples,
    }))
}

fn known_queue(name: &str) -> Result<&'static str, ApiError> {
    names::ALL.into_iter().find(|q| *q == name).ok_or_else(|| {
        ApiError::not_found(format!(
            "unknown queue {name:?}: use one of {}",
            names::ALL.join(", ")
        ))
    })
}

/// A queue's jobs in one state, newest first.
#[utoipa::path(get, path = "/api/jobs", tag = "jobs", params(JobsQuery),
    responses(
        (status = 200, description = "The jobs", body = JobList),
        (status = 400, description = "Unknown queue or state, or a bad limit", body = ErrorBody),
    ))]
async fn list_jobs(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<JobsQuery>,
) -> Result<Json<JobList>, ApiError> {
    let queue = q.queue.unwrap_or(QueueName::ContentGeneration).as_str();
    let state = q.state.unwrap_or(JobState::Waiting);
    let jobs = s
        .queue
        .list(queue, state, q.limit.unwrap_or(50).min(500))
        .await?;
    Ok(Json(JobList {
        queue: queue.to_owned(),
        state,
        jobs,
    }))
}

/// One job.
#[utoipa::path(get, path = "/api/jobs/{queue}/{id}", tag = "jobs",
    params(("queue" = QueueName, Path, description = "Queue name"), ("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job", body = Job),
        (status = 404, description = "Unknown queue or job", body = ErrorBody),
    ))]
async fn get_job(
    State(s): State<AppState>,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Json<Job>, ApiError> {
    let queue = known_queue(&queue)?;
    let job = s
        .queue
        .get(queue, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("job {id} not found in {queue}")))?;
    Ok(Json(job))
}

/// Sends a failed job back to waiting.
#[utoipa::path(post, path = "/api/jobs/{queue}/{id}/retry", tag = "jobs",
    params(("queue" = QueueName, Path, description = "Queue name"), ("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "Waiting again", body = JobChange),
        (status = 404, description = "Unknown queue or job", body = ErrorBody),
        (status = 409, description = "The job has not failed", body = ErrorBody),
    ))]
async fn retry_job(
    State(s): State<AppState>,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Json<JobChange>, ApiError> {
    let queue = known_queue(&queue)?;
    s.queue.retry(queue, &id).await?;
    Ok(Json(JobChange {
        job_id: id,
        state: Some(JobState::Waiting),
        removed: None,
    }))
}

/// Removes a job that is not running.
#[utoipa::path(delete, path = "/api/jobs/{queue}/{id}", tag = "jobs",
    params(("queue" = QueueName, Path, description = "Queue name"), ("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "Removed", body = JobChange),
        (status = 404, description = "Unknown queue or job", body = ErrorBody),
        (status = 409, description = "The job is running", body = ErrorBody),
    ))]
async fn remove_job(
    State(s): State<AppState>,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Json<JobChange>, ApiError> {
    let queue = known_queue(&queue)?;
    if let Some(job) = s.queue.get(queue, &id).await?
        && job.state == JobState::Active
    {
        return Err(ApiError::conflict(format!(
            "job {id} is running; stop or wait for it before removing it"
        )));
    }
    if !s.queue.remove(queue, &id).await? {
        return Err(ApiError::not_found(format!(
            "job {id} not found in {queue}"
        )));
    }
    Ok(Json(JobChange {
        job_id: id,
        state: None,
        removed: Some(true),
    }))
}

/// Posts without their bodies, newest first.
#[utoipa::path(get, path = "/api/posts", tag = "posts", params(LimitQuery),
    responses(
        (status = 200, description = "The posts", body = PostList),
        (status = 400, description = "A bad limit", body = ErrorBody),
    ))]
async fn list_posts(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> Result<Json<PostList>, ApiError> {
    Ok(Json(PostList {
        posts: s.store.list_posts(q.limit.unwrap_or(50).min(500)).await?,
    }))
}

/// A post with its body, quality report and publications.
#[utoipa::path(get, path = "/api/posts/{id}", tag = "posts",
    params(("id" = String, Path, description = "Post id")),
    responses(
        (status = 200, description = "The post", body = PostDetail),
        (status = 404, description = "No such post", body = ErrorBody),
    ))]
async fn get_post(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PostDetail>, ApiError> {
    let post = s
        .store
        .get_post(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("post {id} not found")))?;
    let publications = s.store.publications(&id).await?;
    let publishing = s
        .queue
        .get(
            crate::queue::names::BLOG_PUBLISHING,
            &format!("publish-{id}"),
        )
        .await
        .ok()
        .flatten()
        .map(|j| PublishingView {
            state: j.state,
            run_at: matches!(
                j.state,
                crate::queue::JobState::Waiting | crate::queue::JobState::Delayed
            )
            .then_some(j.run_at),
            last_error: j.last_error,
            attempts_made: j.attempts_made,
        });
    Ok(Json(PostDetail {
        post,
        publications,
        publishing,
    }))
}

/// The topic pool, best first, and the feeds' last fetches.
#[utoipa::path(get, path = "/api/topics", tag = "topics", params(TopicsQuery),
    responses(
        (status = 200, description = "Topics and feeds", body = TopicList),
        (status = 400, description = "Unknown status or a bad limit", body = ErrorBody),
    ))]
async fn list_topics(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<TopicsQuery>,
) -> Result<Json<TopicList>, ApiError> {
    let topics = s
        .store
        .list_topics(
            q.status.map(|st| st.as_str().to_owned()),
            q.limit.unwrap_or(50).min(500),
        )
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
    Ok(Json(TopicList { topics, feeds }))
}

/// Queues a topic: it is written before pool and keyword topics.
#[utoipa::path(post, path = "/api/topics", tag = "topics", request_body = NewTopic,
    responses(
        (status = 201, description = "Queued", body = TopicAdded),
        (status = 400, description = "Not a valid topic", body = ErrorBody),
        (status = 409, description = "Already in the pool", body = ErrorBody),
    ))]
async fn add_topic(State(s): State<AppState>, body: axum::body::Bytes) -> Response {
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
                Json(TopicAdded {
                    id,
                    title: title.to_owned(),
                    category,
                }),
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

/// Fetches every feed now.
#[utoipa::path(post, path = "/api/topics/refresh", tag = "topics",
    responses((status = 200, description = "One report per feed", body = RefreshView)))]
async fn refresh_topics(State(s): State<AppState>) -> Json<RefreshView> {
    let feeds = match &s.orchestrator.router().generator.topics() {
        Some(t) => t.refresh(true).await,
        None => Vec::new(),
    };
    Json(RefreshView { feeds })
}

/// Posts and spend per day and month, and the budget's state.
#[utoipa::path(get, path = "/api/costs", tag = "operations",
    responses((status = 200, description = "Spend", body = CostsView)))]
async fn costs(State(s): State<AppState>) -> Result<Json<CostsView>, ApiError> {
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
    Ok(Json(CostsView {
        today: Today {
            posts: posts_today,
            cost_usd: cost_today,
        },
        daily_budget_usd: g.daily_budget_usd,
        daily_post_cap: g.daily_post_cap,
        stopped: s.orchestrator.router().generator.stats().budget_stop(),
        days: days
            .into_iter()
            .map(|(day, posts, cost_usd)| Spend {
                day: Some(day),
                month: None,
                posts,
                cost_usd,
            })
            .collect(),
        months: months
            .into_iter()
            .map(|(month, (posts, cost_usd))| Spend {
                day: None,
                month: Some(month),
                posts,
                cost_usd,
            })
            .collect(),
        total_cost_usd: s.store.post_totals().await?.cost_usd,
    }))
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

/// Approves a held post: it is published.
#[utoipa::path(post, path = "/api/posts/{id}/approve", tag = "posts",
    params(("id" = String, Path, description = "Post id")),
    request_body(content = Option<ReviewNote>, description = "An optional note"),
    responses(
        (status = 200, description = "Approved; publishing is queued", body = Decision),
        (status = 400, description = "Not a valid note", body = ErrorBody),
        (status = 404, description = "No such post", body = ErrorBody),
        (status = 409, description = "The post is not held", body = ErrorBody),
    ))]
async fn approve_post(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let result = async {
        let note = review_note(&body)?;
        match s.orchestrator.router().generator.approve(&id, note).await {
            Ok(post) => Ok(Json(Decision {
                post_id: post.id,
                status: post.status,
                publishing: Some("queued".into()),
                hold_reason: None,
            })),
            Err(crate::content::pipeline::ApproveError::Store(e)) => Err(ApiError::from(e)),
            Err(crate::content::pipeline::ApproveError::Queue(e)) => Err(ApiError::from(e)),
        }
    };
    result.await.into_response()
}

/// Rejects a held post: it is never published.
#[utoipa::path(post, path = "/api/posts/{id}/reject", tag = "posts",
    params(("id" = String, Path, description = "Post id")),
    request_body(content = Option<ReviewNote>, description = "An optional note"),
    responses(
        (status = 200, description = "Rejected", body = Decision),
        (status = 400, description = "Not a valid note", body = ErrorBody),
        (status = 404, description = "No such post", body = ErrorBody),
        (status = 409, description = "The post is not held", body = ErrorBody),
    ))]
async fn reject_post(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let result = async {
        let note = review_note(&body)?;
        let post = s.store.reject_post(&id, note).await?;
        Ok::<_, ApiError>(Json(Decision {
            post_id: post.id,
            status: post.status,
            publishing: None,
            hold_reason: post.hold_reason,
        }))
    };
    result.await.into_response()
}
