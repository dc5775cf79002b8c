//! Who may do what: a bearer token (scripts) or a dashboard session (browsers).
//!
//! `POST /api/session` trades the API token for a session cookie (`HttpOnly`, `SameSite=Strict`,
//! 12 hours) and a CSRF token. A browser request that changes anything must carry the cookie
//! *and* `X-CSRF-Token`: the page learns the CSRF token from a same-origin JSON answer, which no
//! other origin can read, and `SameSite=Strict` keeps the cookie off cross-site requests as a
//! second fence. Reads need either credential once a token is configured, unless
//! `server.public_read` is set; with no token at all the API is read-only and open (a fresh
//! local install).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::openapi::{ErrorBody, SessionView};
use super::{ApiError, AppState};
use crate::config::Config;

/// The session cookie's name.
pub const COOKIE: &str = "blogflow_session";
/// The header a cookie-authenticated mutation carries.
pub const CSRF_HEADER: &str = "x-csrf-token";
const TTL: Duration = Duration::from_secs(12 * 3600);
const MAX_SESSIONS: usize = 1000;

struct Session {
    csrf: String,
    expires: Instant,
}

/// Live dashboard sessions, in memory: a restart logs everyone out, which is the safe default.
#[derive(Clone, Default)]
pub struct Sessions {
    inner: Arc<Mutex<HashMap<String, Session>>>,
}

fn random_hex() -> String {
    rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Sessions {
    fn create(&self) -> (String, String) {
        let (id, csrf) = (random_hex(), random_hex());
        let mut map = self.inner.lock().expect("sessions");
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS {
            // Oldest first out; a flood of logins cannot grow memory.
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            id.clone(),
            Session {
                csrf: csrf.clone(),
                expires: now + TTL,
            },
        );
        (id, csrf)
    }

    /// The CSRF token of a live session.
    fn csrf(&self, id: &str) -> Option<String> {
        let map = self.inner.lock().expect("sessions");
        map.get(id)
            .filter(|s| s.expires > Instant::now())
            .map(|s| s.csrf.clone())
    }

    fn remove(&self, id: &str) {
        self.inner.lock().expect("sessions").remove(id);
    }
}

/// Why a request was refused.
pub(super) enum Denied {
    /// No token is configured: mutations are off.
    Disabled,
    /// No credential in the request.
    Missing,
    /// A credential that does not match.
    Invalid,
    /// A session without the CSRF header.
    Csrf,
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
                "missing header Authorization: Bearer <BLOGFLOW_API_TOKEN> (or log in to the dashboard)",
            ),
            Denied::Invalid => (StatusCode::UNAUTHORIZED, "unauthorized", "invalid token"),
            Denied::Csrf => (
                StatusCode::FORBIDDEN,
                "csrf",
                "a session request that changes something needs the X-CSRF-Token header from GET /api/session",
            ),
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

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == COOKIE && !v.is_empty()).then(|| v.to_owned())
        })
}

/// What credential a request carries.
enum Credential {
    Bearer,
    Session { csrf: String },
}

fn credential(
    config: &Config,
    sessions: &Sessions,
    headers: &HeaderMap,
) -> Result<Option<Credential>, Denied> {
    let Some(token) = config.api_token.as_ref() else {
        return Ok(None);
    };
    if let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return if token.matches(given.trim()) {
            Ok(Some(Credential::Bearer))
        } else {
            Err(Denied::Invalid)
        };
    }
    Ok(cookie(headers)
        .and_then(|id| sessions.csrf(&id))
        .map(|csrf| Credential::Session { csrf }))
}

/// Checks every `/api` request (but the session routes and the OpenAPI document): reads need a
/// credential when a token is set and reads are not public; anything else needs the bearer
/// token, or a session plus its CSRF header.
pub(super) async fn guard(State(s): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/api/") || path == "/api/session" || path == "/api/openapi.json" {
        return next.run(request).await;
    }
    let read = matches!(*request.method(), Method::GET | Method::HEAD);
    let credential = match credential(&s.config, &s.sessions, request.headers()) {
        Ok(c) => c,
        Err(denied) => return denied.into_response(),
    };
    if read {
        if credential.is_none() && s.config.api_token.is_some() && !s.config.public_read {
            return Denied::Missing.into_response();
        }
        return next.run(request).await;
    }
    if s.config.api_token.is_none() {
        return Denied::Disabled.into_response();
    }
    match credential {
        Some(Credential::Bearer) => next.run(request).await,
        Some(Credential::Session { csrf }) => {
            let given = request
                .headers()
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if crate::config::Secret::new(csrf).matches(given) {
                next.run(request).await
            } else {
                Denied::Csrf.into_response()
            }
        }
        None => Denied::Missing.into_response(),
    }
}

#[derive(Deserialize)]
pub(super) struct Login {
    token: String,
}

fn set_cookie(value: &str, max_age: u64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}"
    ))
    .expect("a valid cookie")
}

/// `POST /api/session {"token"}`: a session cookie and the CSRF token.
#[utoipa::path(post, path = "/api/session", tag = "session", request_body = super::openapi::LoginBody,
    responses(
        (status = 200, description = "Logged in: the cookie is set", body = SessionView),
        (status = 400, description = "No token in the body", body = ErrorBody),
        (status = 401, description = "A wrong token", body = ErrorBody),
        (status = 403, description = "No token is configured", body = ErrorBody),
    ))]
pub(super) async fn login(
    State(s): State<AppState>,
    body: Result<Json<Login>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Some(token) = s.config.api_token.as_ref() else {
        return Denied::Disabled.into_response();
    };
    let Ok(Json(login)) = body else {
        return ApiError::bad_request("send {\"token\": \"<BLOGFLOW_API_TOKEN>\"}").into_response();
    };
    if !token.matches(login.token.trim()) {
        return Denied::Invalid.into_response();
    }
    let (id, csrf) = s.sessions.create();
    (
        [(header::SET_COOKIE, set_cookie(&id, TTL.as_secs()))],
        Json(SessionView {
            authenticated: true,
            csrf: Some(csrf),
            expires_in_secs: Some(TTL.as_secs()),
            login_required_to_read: None,
            mutations_enabled: None,
        }),
    )
        .into_response()
}

/// `GET /api/session`: whether this browser is logged in (and its CSRF token), and what the
/// server allows without logging in.
#[utoipa::path(get, path = "/api/session", tag = "session",
    responses((status = 200, description = "The session", body = SessionView)))]
pub(super) async fn status(State(s): State<AppState>, headers: HeaderMap) -> Json<SessionView> {
    let csrf = cookie(&headers).and_then(|id| s.sessions.csrf(&id));
    Json(SessionView {
        authenticated: csrf.is_some(),
        csrf,
        expires_in_secs: None,
        login_required_to_read: Some(s.config.api_token.is_some() && !s.config.public_read),
        mutations_enabled: Some(s.config.api_token.is_some()),
    })
}

/// `DELETE /api/session`: logs out (needs the CSRF header, like every session mutation).
#[utoipa::path(delete, path = "/api/session", tag = "session",
    responses(
        (status = 200, description = "Logged out: the cookie is cleared", body = SessionView),
        (status = 403, description = "The CSRF header is missing or wrong", body = ErrorBody),
    ))]
pub(super) async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers)
        && let Some(csrf) = s.sessions.csrf(&id)
    {
        let given = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !crate::config::Secret::new(csrf).matches(given) {
            return Denied::Csrf.into_response();
        }
        s.sessions.remove(&id);
    }
    (
        [(header::SET_COOKIE, set_cookie("", 0))],
        Json(SessionView {
            authenticated: false,
            csrf: None,
            expires_in_secs: None,
            login_required_to_read: None,
            mutations_enabled: None,
        }),
    )
        .into_response()
}
