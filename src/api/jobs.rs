//! `/api/jobs`: list, inspect, retry and remove jobs.

use super::*;
use crate::queue::{Job, JobState, Queue, names};
use axum::Json;
use axum::extract::{Path, State};

pub(super) fn known_queue(name: &str) -> Result<&'static str, ApiError> {
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
pub(super) async fn list_jobs(
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
pub(super) async fn get_job(
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
pub(super) async fn retry_job(
    State(s): State<AppState>,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Json<JobChange>, ApiError> {
    let queue = known_queue(&queue)?;
    s.queue.retry(queue, &id).await?;
    Ok(Json(JobChange {
        message: format!("job {id} is waiting again, with its attempts reset"),
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
pub(super) async fn remove_job(
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
        message: format!("job {id} removed from {queue}"),
        job_id: id,
        state: None,
        removed: Some(true),
    }))
}
