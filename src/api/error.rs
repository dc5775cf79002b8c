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
