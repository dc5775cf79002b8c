//! API errors: JSON with a code and a message an operator can act on, never internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered as `{"error": {"code": …, "message": …}}`.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            message: message.into(),
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: message.into(),
        }
    }

    /// 503: a dependency failed. The details go to the log, not to the client.
    pub fn unavailable(what: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "{what} failed while answering a request");
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            message: format!("{what} is unavailable; see the error log"),
        }
    }

    /// 500: this service failed; the message says what to fix.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({ "error": { "code": self.code, "message": self.message } })),
        )
            .into_response()
    }
}

impl From<crate::queue::QueueError> for ApiError {
    fn from(e: crate::queue::QueueError) -> Self {
        use crate::queue::QueueError as E;
        match e {
            E::NotFound { .. } => ApiError::not_found(e.to_string()),
            E::WrongState { .. } | E::LeaseLost { .. } => ApiError::conflict(e.to_string()),
            E::Invalid(m) => ApiError::bad_request(m),
            E::Backend(_) => ApiError::unavailable("the queue", e),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::NotFound(what) => {
                ApiError::not_found(format!("{what} not found"))
            }
            crate::store::StoreError::Conflict(why) => ApiError {
                status: axum::http::StatusCode::CONFLICT,
                code: "conflict",
                message: why,
            },
            other => ApiError::unavailable("the store", other),
        }
    }
}

/// Every error in the API's JSON shape: the framework's own rejections (a body too large, a
/// path that is not UTF-8, a missing content type, a method a route does not take) come as
/// plain text; they are rewritten with their status kept and their text as the message.
pub(super) async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let (code, default) = match status {
        StatusCode::BAD_REQUEST => ("invalid_request", "the request is malformed"),
        StatusCode::NOT_FOUND => ("not_found", "no such route; see /api/openapi.json"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this route does not take that method; see /api/openapi.json",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid_request", "the body does not fit the route"),
        _ => ("error", "the request failed"),
    };
    let message = if text.is_empty() {
        default.to_owned()
    } else {
        text
    };
    let mut out = ApiError {
        status,
        code,
        message,
    }
    .into_response();
    // Keep what the framework said besides the body (`Allow` on a 405, for one).
    for (name, value) in &parts.headers {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            out.headers_mut().insert(name, value.clone());
        }
    }
    out
}

/// Refuses a JSON object with keys other than `allowed`, naming the unknown one: a typo
/// (`"cuont"`) must not pass as if the field were absent.
pub(super) fn known_fields(body: &serde_json::Value, allowed: &[&str]) -> Result<(), ApiError> {
    let Some(object) = body.as_object() else {
        return Ok(());
    };
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(unknown) => Err(ApiError::bad_request(format!(
            "unknown field {unknown:?}: this request takes {}",
            allowed
                .iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
