//! `/api/topics`: the topic pool, queueing a topic, refreshing the feeds.

use super::*;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// The topic pool, best first, and the feeds' last fetches.
#[utoipa::path(get, path = "/api/topics", tag = "topics", params(TopicsQuery),
    responses(
        (status = 200, description = "Topics and feeds", body = TopicList),
        (status = 400, description = "Unknown status or a bad limit", body = ErrorBody),
    ))]
pub(super) async fn list_topics(
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
pub(super) async fn add_topic(State(s): State<AppState>, body: axum::body::Bytes) -> Response {
    let result = async {
        let body: Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "the body is not JSON ({e}); send {{\"title\": \"...\", \"category\": \"...\"}}"
            ))
        })?;
        super::error::known_fields(&body, &["title", "category"])?;
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
pub(super) async fn refresh_topics(State(s): State<AppState>) -> Json<RefreshView> {
    let feeds = match &s.orchestrator.router().generator.topics() {
        Some(t) => t.refresh(true).await,
        None => Vec::new(),
    };
    Json(RefreshView { feeds })
}
