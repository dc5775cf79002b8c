//! `/api/posts`: posts, their publications, and review (approve, reject).

use super::*;
use crate::queue::Queue;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// Posts without their bodies, newest first.
#[utoipa::path(get, path = "/api/posts", tag = "posts", params(LimitQuery),
    responses(
        (status = 200, description = "The posts", body = PostList),
        (status = 400, description = "A bad limit", body = ErrorBody),
    ))]
pub(super) async fn list_posts(
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
pub(super) async fn get_post(
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
    let duplicate = match &post.duplicate_of {
        Some(other) => s.store.get_post(other).await?.map(|p| PostRef {
            id: p.id,
            title: p.content.title,
        }),
        None => None,
    };
    let generated = matches!(s.store.post_image(&post.id).await?, Some(Ok(_)));
    Ok(Json(PostDetail {
        card_url: (generated || s.cards.is_some())
            .then(|| format!("/api/posts/{}/card.png", post.id)),
        body_html: crate::publish::html::to_html(&post.content.body),
        quality_threshold: s.config.generation.quality_threshold,
        duplicate,
        post,
        publications,
        publishing,
    }))
}

/// The optional `{"note": "..."}` of a review decision.
pub fn review_note(body: &[u8]) -> Result<Option<String>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not JSON ({e}); send {{\"note\": \"...\"}} or nothing"
        ))
    })?;
    super::error::known_fields(&v, &["note"])?;
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
pub(super) async fn approve_post(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let result = async {
        let note = review_note(&body)?;
        match s.orchestrator.router().generator.approve(&id, note).await {
            Ok(post) => Ok(Json(Decision {
                message: format!("approved \"{}\": publishing is queued", post.content.title),
                post_id: post.id,
                status: post.status,
                publishing: Some("queued".into()),
                hold_reason: None,
            })),
            Err(crate::generate::ApproveError::Store(e)) => Err(ApiError::from(e)),
            Err(crate::generate::ApproveError::Queue(e)) => Err(ApiError::from(e)),
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
pub(super) async fn reject_post(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let result = async {
        let note = review_note(&body)?;
        let post = s.store.reject_post(&id, note).await?;
        Ok::<_, ApiError>(Json(Decision {
            message: format!(
                "rejected \"{}\": it will never be published",
                post.content.title
            ),
            post_id: post.id,
            status: post.status,
            publishing: None,
            hold_reason: post.hold_reason,
        }))
    };
    result.await.into_response()
}

/// The post's feature image: its generated image (`[images.generate]`) when it has one, else
/// its social card, a 1200×630 PNG of its title, category, date and the blog's name.
#[utoipa::path(get, path = "/api/posts/{id}/card.png", tag = "posts",
    params(("id" = String, Path, description = "Post id")),
    responses(
        (status = 200, description = "The image (the card is a PNG; a generated image may be a JPEG or WebP)", content_type = "image/png"),
        (status = 404, description = "No such post, or cards are off (`images.card = false`)", body = ErrorBody),
    ))]
pub(super) async fn post_card(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if let Some(Ok(bytes)) = s.store.post_image(&id).await? {
        let kind = crate::images::generated::sniff(&bytes).unwrap_or("application/octet-stream");
        return Ok((
            [
                (axum::http::header::CONTENT_TYPE, kind),
                (axum::http::header::CACHE_CONTROL, "private, max-age=300"),
            ],
            bytes,
        )
            .into_response());
    }
    let cards = s.cards.clone().ok_or_else(|| {
        ApiError::not_found(
            "social cards are off: set images.card = true (and install fonts-noto-cjk)",
        )
    })?;
    let post = s
        .store
        .get_post(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("post {id} not found")))?;
    let text = crate::images::CardText::of(&post);
    let card = tokio::task::spawn_blocking(move || cards.render(&text))
        .await
        .map_err(|e| ApiError::internal(format!("card task failed: {e}")))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "image/png"),
            (axum::http::header::CACHE_CONTROL, "private, max-age=300"),
        ],
        card.png,
    )
        .into_response())
}
