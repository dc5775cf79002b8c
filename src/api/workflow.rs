//! `/api/automation/workflow` and `/api/automation/scheduler`: the workflow's state and its actions.

use super::*;
use crate::generate::GenerateRequest;
use crate::orchestrator::{ActionOutcome, WorkflowState};
use crate::queue::{Queue, names};
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

pub(super) const ACTIONS: &str = "start, stop, pause, resume, generate_content";

/// Starts, stops, pauses or resumes the workflow, or queues posts.
#[utoipa::path(post, path = "/api/automation/workflow", tag = "workflow",
    request_body = WorkflowAction,
    responses(
        (status = 200, description = "Done, or queued (`job_id`)", body = ActionOutcome),
        (status = 400, description = "Not a valid action", body = ErrorBody),
    ))]
pub(super) async fn workflow_action(
    State(s): State<AppState>,
    body: axum::body::Bytes,
) -> Response {
    match run_action(&s, body).await {
        Ok(outcome) => Json(outcome).into_response(),
        Err(e) => e.into_response(),
    }
}

pub(super) async fn run_action(
    s: &AppState,
    body: axum::body::Bytes,
) -> Result<ActionOutcome, ApiError> {
    let o = &s.orchestrator;
    Ok(
        match parse_action(&body, s.config.generation.max_posts_per_request)? {
            Action::Start => o.start().await?,
            Action::Stop => o.stop().await?,
            Action::Pause => o.pause().await?,
            Action::Resume => o.resume().await?,
            Action::Generate(request) => o.generate(request).await?,
        },
    )
}

/// What `POST /api/automation/workflow` asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start the scheduler and workers.
    Start,
    /// Stop the workers.
    Stop,
    /// Stop taking new jobs.
    Pause,
    /// Undo `Pause`.
    Resume,
    /// Queue a generation job.
    Generate(GenerateRequest),
}

/// Reads a workflow action from an untrusted body (any content type: operators script this
/// with `curl -d`, which sends a form type). Every refusal says what to send instead.
pub fn parse_action(body: &[u8], max_posts_per_request: u32) -> Result<Action, ApiError> {
    let body: Value = serde_json::from_slice(body).map_err(|e| {
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
    let fields: &[&str] = if action == "generate_content" {
        &["action", "count", "topic", "category"]
    } else {
        &["action"]
    };
    super::error::known_fields(&body, fields)?;
    Ok(match action {
        "start" => Action::Start,
        "stop" => Action::Stop,
        "pause" => Action::Pause,
        "resume" => Action::Resume,
        "generate_content" => Action::Generate(generate_request(&body, max_posts_per_request)?),
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown action {other:?}: use one of {ACTIONS}"
            )));
        }
    })
}

fn generate_request(body: &Value, max: u32) -> Result<GenerateRequest, ApiError> {
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
pub(super) async fn workflow_status(
    State(s): State<AppState>,
) -> Result<Json<WorkflowView>, ApiError> {
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
            .then(|| crate::generate::NO_PROVIDER.to_owned()),
        provider,
        queues,
        posts: s.store.post_totals().await?,
        recent_runs: s.store.recent_runs(10).await?,
        recent_posts: s.store.list_posts(10).await?,
        max_posts_per_request: s.config.generation.max_posts_per_request,
    }))
}

/// The schedules with their next and last ticks, and each queue's recent events.
#[utoipa::path(get, path = "/api/automation/scheduler", tag = "workflow",
    responses((status = 200, description = "The scheduler", body = SchedulerView)))]
pub(super) async fn scheduler_status(State(s): State<AppState>) -> Json<SchedulerView> {
    let book = s.orchestrator.schedule_book();
    let book = book.lock().expect("schedule book").clone();
    let now = chrono::Utc::now();
    let workflow = s.orchestrator.state().await;
    let schedules = s
        .config
        .schedules
        .iter()
        .map(|sch| {
            let status = book.get(&sch.name).cloned().unwrap_or_default();
            let state = match workflow {
                WorkflowState::Stopped | WorkflowState::Stopping => "stopped",
                WorkflowState::Paused
                    if matches!(sch.action, crate::config::ScheduleAction::Generate { .. }) =>
                {
                    "paused"
                }
                _ => "active",
            };
            ScheduleView {
                name: sch.name.clone(),
                cron: sch.expression.clone(),
                action: format!("{:?}", sch.action),
                state,
                next_run: (state != "stopped")
                    .then(|| sch.cron.after(&now).next().map(|t| t.to_rfc3339()))
                    .flatten(),
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
        state: workflow,
        backend: s.queue.kind().to_owned(),
        schedules,
        queues,
    })
}
