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
use std::net::IpAddr;
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

/// Live dashboard sessions: kept in the store (by hash of their id) so that a restart, or
/// another `serve` of the deployment, knows them; cached here. Also the failed attempts per
/// client address.
#[derive(Clone, Default)]
pub struct Sessions {
    inner: Arc<Mutex<HashMap<String, Session>>>,
    store: Option<crate::store::Store>,
    throttle: Throttle,
}

/// Wrong tokens per client address: after [`FREE_ATTEMPTS`] in a row, each further attempt
/// waits twice as long as the one before (1 s, 2 s, 4 s … at most [`MAX_LOCKOUT`]), whether
/// it is a login or a bearer token. A right token clears the count; so does
/// [`FORGET_AFTER`] without a failure.
#[derive(Clone, Default)]
struct Throttle {
    failures: Arc<Mutex<HashMap<IpAddr, (u32, Instant)>>>,
}

const FREE_ATTEMPTS: u32 = 5;
const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Addresses remembered at most (the oldest failure is forgotten first).
const MAX_TRACKED: usize = 10_000;

impl Throttle {
    /// How long `client` must still wait before it may try a token.
    fn wait(&self, client: IpAddr) -> Option<Duration> {
        let map = self.failures.lock().expect("throttle");
        let &(count, last) = map.get(&client)?;
        if count < FREE_ATTEMPTS {
            return None;
        }
        let lockout = Duration::from_secs(1u64 << (count - FREE_ATTEMPTS).min(10)).min(MAX_LOCKOUT);
        let until = last + lockout;
        let now = Instant::now();
        (until > now).then(|| until - now)
    }

    fn failed(&self, client: IpAddr) {
        let mut map = self.failures.lock().expect("throttle");
        let now = Instant::now();
        if map.len() >= MAX_TRACKED && !map.contains_key(&client) {
            map.retain(|_, (_, last)| now.duration_since(*last) < FORGET_AFTER);
            if map.len() >= MAX_TRACKED
                && let Some(oldest) = map.iter().min_by_key(|(_, (_, l))| *l).map(|(k, _)| *k)
            {
                map.remove(&oldest);
            }
        }
        let entry = map.entry(client).or_insert((0, now));
        if now.duration_since(entry.1) >= FORGET_AFTER {
            entry.0 = 0;
        }
        entry.0 += 1;
        entry.1 = now;
        if entry.0 == FREE_ATTEMPTS {
            tracing::warn!(%client, "{FREE_ATTEMPTS} wrong API tokens in a row from one address: further attempts are slowed down");
        }
    }

    fn succeeded(&self, client: IpAddr) {
        self.failures.lock().expect("throttle").remove(&client);
    }
}

/// Who sent a request, as far as the server can tell (set by [`guard`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Client {
    /// The peer, or with `server.trust_proxy` the address the proxy reports.
    pub addr: Option<IpAddr>,
    /// It came over HTTPS (with `server.trust_proxy`, as the proxy reports).
    pub https: bool,
}

impl Client {
    fn of(config: &Config, request: &Request) -> Self {
        let peer = request
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        if !config.trust_proxy {
            return Self {
                addr: peer,
                https: false,
            };
        }
        let headers = request.headers();
        // The proxy appends the address it saw: the last entry is the one it vouches for.
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok());
        let https = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        Self {
            addr: forwarded.or(peer),
            https,
        }
    }
}

fn random_hex() -> String {
    crate::shared::hex(&rand::random::<[u8; 32]>())
}

/// How long a session lookup in the store may take before the request goes on without it.
const STORE_WAIT: Duration = Duration::from_secs(2);

impl Sessions {
    /// Sessions kept in `store`.
    pub fn new(store: crate::store::Store) -> Self {
        Self {
            store: Some(store),
            ..Self::default()
        }
    }

    async fn create(&self) -> (String, String) {
        let (id, csrf) = self.create_cached();
        if let Some(store) = &self.store {
            let expires_at = crate::db::now_ms() + TTL.as_millis() as i64;
            match tokio::time::timeout(STORE_WAIT, store.put_session(&id, &csrf, expires_at)).await
            {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "session not stored: it ends with this process")
                }
                Err(_) => tracing::warn!(
                    "session not stored (the store does not answer): it ends with this process"
                ),
            }
        }
        (id, csrf)
    }

    fn create_cached(&self) -> (String, String) {
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

    /// The CSRF token of a live session: from the cache, else from the store (a session
    /// opened before a restart or by another `serve`).
    async fn csrf(&self, id: &str) -> Option<String> {
        let cached = {
            let map = self.inner.lock().expect("sessions");
            map.get(id)
                .filter(|s| s.expires > Instant::now())
                .map(|s| s.csrf.clone())
        };
        if cached.is_some() {
            return cached;
        }
        // Only well-formed ids reach the store: a junk cookie costs no query.
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let store = self.store.as_ref()?;
        let (csrf, expires_at) = tokio::time::timeout(STORE_WAIT, store.session(id))
            .await
            .ok()?
            .ok()??;
        let left = Duration::from_millis((expires_at - crate::db::now_ms()).max(0) as u64);
        let mut map = self.inner.lock().expect("sessions");
        if map.len() < MAX_SESSIONS {
            map.insert(
                id.to_owned(),
                Session {
                    csrf: csrf.clone(),
                    expires: Instant::now() + left,
                },
            );
        }
        Some(csrf)
    }

    async fn remove(&self, id: &str) {
        self.inner.lock().expect("sessions").remove(id);
        if let Some(store) = &self.store
            && let Err(e) = store.delete_session(id).await
        {
            tracing::warn!(error = %e, "session not removed from the store");
        }
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
    /// Too many wrong tokens from this address: wait this long.
    Throttled(Duration),
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
            Denied::Throttled(wait) => {
                let secs = wait.as_secs().max(1);
                let error = ApiError {
                    status: StatusCode::TOO_MANY_REQUESTS,
                    code: "throttled",
                    message: format!(
                        "too many wrong tokens from this address: try again in {secs} s"
                    ),
                };
                return ([(header::RETRY_AFTER, secs.to_string())], error).into_response();
            }
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

async fn credential(
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
    let Some(id) = cookie(headers) else {
        return Ok(None);
    };
    Ok(sessions
        .csrf(&id)
        .await
        .map(|csrf| Credential::Session { csrf }))
}

/// The one rule for every route. With a token configured: `/healthz`, `/readyz`, the dashboard's
/// page and assets, `/api/session` and `/api/openapi.json` are open; `/metrics` needs a
/// credential unless `server.metrics_public`; other reads need one unless `server.public_read`;
/// anything else needs the bearer token, or a session plus its CSRF header. Without a token
/// everything may be read and nothing changed. Wrong tokens are throttled per address.
pub(super) async fn guard(State(s): State<AppState>, mut request: Request, next: Next) -> Response {
    let client = Client::of(&s.config, &request);
    request.extensions_mut().insert(client);
    let path = request.uri().path();
    let metrics = path == "/metrics";
    let login = path == "/api/session" && request.method() == Method::POST;
    let open = !metrics
        && (!path.starts_with("/api/") || path == "/api/session" || path == "/api/openapi.json");
    if open && !login {
        return next.run(request).await;
    }
    let presents_token = login || request.headers().contains_key(header::AUTHORIZATION);
    if presents_token && let Some(wait) = client.addr.and_then(|a| s.sessions.throttle.wait(a)) {
        return Denied::Throttled(wait).into_response();
    }
    if login {
        return next.run(request).await;
    }
    let read = matches!(*request.method(), Method::GET | Method::HEAD);
    let credential = match credential(&s.config, &s.sessions, request.headers()).await {
        Ok(c) => {
            if matches!(c, Some(Credential::Bearer))
                && let Some(addr) = client.addr
            {
                s.sessions.throttle.succeeded(addr);
            }
            c
        }
        Err(denied) => {
            if let Some(addr) = client.addr {
                s.sessions.throttle.failed(addr);
            }
            return denied.into_response();
        }
    };
    if read {
        let public = if metrics {
            s.config.metrics_public
        } else {
            s.config.public_read
        };
        if credential.is_none() && s.config.api_token.is_some() && !public {
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
#[serde(deny_unknown_fields)]
pub(super) struct Login {
    token: String,
}

/// The session cookie; `Secure` when the request came over HTTPS, so that the browser never
/// sends it in the clear afterwards.
fn set_cookie(value: &str, max_age: u64, secure: bool) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
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
        (status = 429, description = "Too many wrong tokens from this address: see Retry-After", body = ErrorBody),
    ))]
pub(super) async fn login(
    State(s): State<AppState>,
    client: Option<axum::Extension<Client>>,
    body: Result<Json<Login>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let client = client.map_or(
        Client {
            addr: None,
            https: false,
        },
        |c| c.0,
    );
    let Some(token) = s.config.api_token.as_ref() else {
        return Denied::Disabled.into_response();
    };
    let login = match body {
        Ok(Json(login)) => login,
        Err(e) => {
            return ApiError::bad_request(format!(
                "{}: send {{\"token\": \"<BLOGFLOW_API_TOKEN>\"}}",
                e.body_text()
            ))
            .into_response();
        }
    };
    if !token.matches(login.token.trim()) {
        if let Some(addr) = client.addr {
            s.sessions.throttle.failed(addr);
        }
        return Denied::Invalid.into_response();
    }
    if let Some(addr) = client.addr {
        s.sessions.throttle.succeeded(addr);
    }
    let (id, csrf) = s.sessions.create().await;
    (
        [(
            header::SET_COOKIE,
            set_cookie(&id, TTL.as_secs(), client.https),
        )],
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
    let csrf = match cookie(&headers) {
        Some(id) => s.sessions.csrf(&id).await,
        None => None,
    };
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
pub(super) async fn logout(
    State(s): State<AppState>,
    client: Option<axum::Extension<Client>>,
    headers: HeaderMap,
) -> Response {
    let https = client.is_some_and(|c| c.0.https);
    let id = cookie(&headers);
    let csrf = match &id {
        Some(id) => s.sessions.csrf(id).await,
        None => None,
    };
    if let (Some(id), Some(csrf)) = (id, csrf) {
        let given = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !crate::config::Secret::new(csrf).matches(given) {
            return Denied::Csrf.into_response();
        }
        s.sessions.remove(&id).await;
    }
    (
        [(header::SET_COOKIE, set_cookie("", 0, https))],
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
