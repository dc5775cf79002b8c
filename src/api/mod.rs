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
pub mod serve;
mod session;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{FromRequestParts, MatchedPath, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::ApiError;
pub use posts::review_note;
pub use session::Sessions;
pub use workflow::{Action, parse_action};

use crate::config::Config;
use crate::orchestrator::Orchestrator;
use crate::queue::QueueBackend;
use crate::store::Store;
use openapi::*;

mod jobs;
mod operations;
mod posts;
mod topics;
mod workflow;

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
    /// Draws posts' social cards (`None` with `images.card = false` or without any font).
    pub cards: Option<crate::images::CardRenderer>,
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
    .layer(axum::middleware::from_fn(error::json_errors))
    .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
    .layer(axum::middleware::from_fn_with_state(state.clone(), in_time))
    .with_state(state)
}

/// Reading the body and answering within `server.request_timeout_secs`; a slow client gets
/// `408` and its connection back to the pool.
async fn in_time(State(s): State<AppState>, request: Request, next: Next) -> Response {
    let limit = s.config.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let mut response = ApiError {
                status: StatusCode::REQUEST_TIMEOUT,
                code: "request_timeout",
                message: format!(
                    "the request was not read and answered within {} s (server.request_timeout_secs)",
                    limit.as_secs()
                ),
            }
            .into_response();
            response.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            response
        }
    }
}

fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(operations::readyz))
        .routes(routes!(metrics::metrics))
        .routes(routes!(operations::metrics_history))
        .routes(routes!(
            workflow::workflow_status,
            workflow::workflow_action
        ))
        .routes(routes!(workflow::scheduler_status))
        .routes(routes!(operations::health))
        .routes(routes!(operations::providers))
        .routes(routes!(operations::workers))
        .routes(routes!(operations::costs))
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(jobs::get_job, jobs::remove_job))
        .routes(routes!(jobs::retry_job))
        .routes(routes!(posts::list_posts))
        .routes(routes!(posts::get_post))
        .routes(routes!(posts::approve_post))
        .routes(routes!(posts::reject_post))
        .routes(routes!(posts::post_card))
        .routes(routes!(topics::list_topics, topics::add_topic))
        .routes(routes!(topics::refresh_topics))
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
