//! Fake WordPress and Ghost servers speaking their documented REST shapes, auth and errors:
//! WordPress `wp/v2` with application passwords (Basic auth), Ghost's Admin API with an HS256
//! JWT. Both keep posts in memory, give a taken slug a `-2` suffix the way the real ones do,
//! and can be told to fail, to keep a created post's answer back, or to kill the publishing
//! process right after storing a post (the crash between "sent" and "recorded").

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;

/// WordPress user of the fake.
pub const WP_USER: &str = "editor";
/// Its application password (WordPress shows them in groups of four, spaces optional).
pub const WP_PASSWORD: &str = "abcd EFGH 1234 ijkl MNOP 5678";
/// The fake webhook receiver's signing secret.
pub const WEBHOOK_SECRET: &str = "receiver-signing-secret-42";
/// The fake Ghost's admin API key, `id:secret`.
pub const GHOST_KEY: &str =
    "64f0c0ffee0123456789abcd:5e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    WordPress,
    Ghost,
    Webhook,
}

#[derive(Default)]
struct State0 {
    posts: Vec<Value>,
    /// (taxonomy, id, name)
    /// (taxonomy, id, name, slug)
    terms: Vec<(String, u64, String, String)>,
    next_id: u64,
    /// Statuses answered to the next create requests instead of creating.
    fail_creates: VecDeque<u16>,
    requests: Vec<(String, String)>,
    /// WordPress media items; Ghost uploaded images as (path, bytes).
    media: Vec<Value>,
    images: Vec<(String, Vec<u8>)>,
}

struct Inner {
    kind: Kind,
    root: String,
    state: Mutex<State0>,
    /// Store the next created post, then never answer.
    hang_after_create: AtomicBool,
    /// Store the next created post, then SIGKILL this pid before answering.
    kill_after_create: AtomicU32,
    /// Store the next uploaded image, then SIGKILL this pid before answering.
    kill_after_upload: AtomicU32,
    /// Told when a pid to kill is set (a create that waits for one, see [`PENDING`]).
    pid_set: tokio::sync::Notify,
    can_publish: AtomicBool,
    /// WordPress: whether the user has `unfiltered_html` (may post `<script>`).
    unfiltered_html: AtomicBool,
    /// While non-zero, every request is answered with this status (an outage): 503 from a
    /// proxy in front of the site, 404 while a misrouted deploy serves nothing, 0 = up.
    down: AtomicU32,
    /// Requests answered while down.
    refused: AtomicU32,
    /// WordPress with plain permalinks: `/wp-json/…` answers the HTML home page.
    plain_permalinks: AtomicBool,
}

/// Marks a request that came in as `/?rest_route=`, which works whatever the permalinks.
#[derive(Clone, Copy)]
struct ViaRestRoute;

/// WordPress serves its API under `/?rest_route=/…` whatever the permalinks: the route is
/// taken from the query, the other parameters stay. Runs before routing.
async fn rest_route(
    State(inner): State<Arc<Inner>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if inner.kind == Kind::WordPress && request.uri().path() == "/" {
        let query = request.uri().query().unwrap_or_default().to_owned();
        let parsed = reqwest::Url::parse(&format!("http://site/?{query}")).unwrap();
        let (route, rest): (Vec<_>, Vec<_>) =
            parsed.query_pairs().partition(|(k, _)| k == "rest_route");
        if let Some((_, route)) = route.first() {
            let mut target = reqwest::Url::parse(&format!("http://site/wp-json{route}")).unwrap();
            target.query_pairs_mut().extend_pairs(rest);
            let uri = format!("{}?{}", target.path(), target.query().unwrap_or_default());
            *request.uri_mut() = uri.parse().unwrap();
            request.extensions_mut().insert(ViaRestRoute);
            return next.run(request).await;
        }
    }
    next.run(request).await
}

/// Answers every request with the outage status while one is set, in the engine's error shape.
async fn outage(
    State(inner): State<Arc<Inner>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if inner.plain_permalinks.load(Ordering::SeqCst)
        && request.uri().path().starts_with("/wp-json/")
        && request.extensions().get::<ViaRestRoute>().is_none()
    {
        return (
            [("content-type", "text/html; charset=UTF-8")],
            "<!DOCTYPE html><html><head><title>My AI blog</title></head><body>Hello world!</body></html>",
        )
            .into_response();
    }
    let status = inner.down.load(Ordering::SeqCst);
    if status == 0 {
        return next.run(request).await;
    }
    inner.refused.fetch_add(1, Ordering::SeqCst);
    match inner.kind {
        Kind::WordPress => wp_error(
            status as u16,
            "rest_no_route",
            "No route was found matching the URL and request method.",
        ),
        Kind::Ghost => ghost_error(status as u16, "NotFoundError", "Resource not found"),
        Kind::Webhook => StatusCode::from_u16(status as u16).unwrap().into_response(),
    }
}

/// A fake WordPress or Ghost site on port 0.
#[derive(Clone)]
pub struct FakeCms {
    inner: Arc<Inner>,
    /// `http://addr`.
    pub root: String,
}

type S = State<Arc<Inner>>;

fn wp_error(status: u16, code: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({"code": code, "message": message, "data": {"status": status}})),
    )
        .into_response()
}

fn ghost_error(status: u16, kind: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({"errors": [{"message": message, "context": null, "type": kind}]})),
    )
        .into_response()
}

fn slug_of(name: &str) -> String {
    let s = name.to_lowercase().replace('#', "hash-");
    s.chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_owned()
}

impl Inner {
    fn record(&self, method: &str, path: &str) {
        self.state
            .lock()
            .unwrap()
            .requests
            .push((method.to_owned(), path.to_owned()));
    }

    fn wp_authorised(&self, h: &HeaderMap) -> bool {
        let Some(basic) = h
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
        else {
            return false;
        };
        let decoded = String::from_utf8(STANDARD.decode(basic).unwrap_or_default()).unwrap();
        let Some((user, password)) = decoded.split_once(':') else {
            return false;
        };
        // WordPress ignores the spaces of an application password.
        user == WP_USER && password.replace(' ', "") == WP_PASSWORD.replace(' ', "")
    }

    /// Checks a Ghost Admin API token the way Ghost does: signature with the key's secret,
    /// `kid`, audience, and at most five minutes of validity.
    fn ghost_authorised(&self, h: &HeaderMap) -> Result<(), &'static str> {
        let token = h
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Ghost "))
            .ok_or("Authorization header format is Authorization: Ghost [token]")?;
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() != 3 {
            return Err("Invalid token");
        }
        let (id, secret) = GHOST_KEY.split_once(':').unwrap();
        let secret: Vec<u8> = (0..secret.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&secret[i..i + 2], 16).unwrap())
            .collect();
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&secret).unwrap();
        mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        let sig = URL_SAFE_NO_PAD
            .decode(parts[2])
            .map_err(|_| "Invalid token")?;
        mac.verify_slice(&sig)
            .map_err(|_| "Invalid token: invalid signature")?;
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        if header["kid"] != id || header["alg"] != "HS256" {
            return Err("Unknown Admin API Key");
        }
        if claims["aud"] != "/admin/" {
            return Err("Invalid token: jwt audience invalid");
        }
        let (iat, exp) = (
            claims["iat"].as_i64().unwrap_or(0),
            claims["exp"].as_i64().unwrap_or(0),
        );
        let now = chrono::Utc::now().timestamp();
        if exp - iat > 300 || now > exp || iat > now + 60 {
            return Err("Invalid token: jwt expired or lives too long");
        }
        Ok(())
    }

    fn unique_slug(&self, s: &State0, wanted: &str) -> String {
        let taken = |slug: &str| s.posts.iter().any(|p| p["slug"] == slug);
        if !taken(wanted) {
            return wanted.to_owned();
        }
        (2..)
            .map(|n| format!("{wanted}-{n}"))
            .find(|c| !taken(c))
            .unwrap()
    }

    /// After an image is stored: the scripted crash, if any.
    fn after_upload(&self) {
        kill(self.kill_after_upload.swap(0, Ordering::SeqCst));
    }

    /// After a post is stored: the scripted crash or lost answer, if any. A crash scripted
    /// before the process existed waits for its pid.
    async fn after_create(&self) {
        loop {
            let told = self.pid_set.notified();
            if self.kill_after_create.load(Ordering::SeqCst) != PENDING {
                break;
            }
            told.await;
        }
        kill(self.kill_after_create.swap(0, Ordering::SeqCst));
        if self.hang_after_create.swap(false, Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
    }
}

/// A kill scripted before the process to kill is started: the create waits for its pid.
const PENDING: u32 = u32::MAX;

/// `kill -9 pid`, unless `pid` is 0.
fn kill(pid: u32) {
    {
        if pid != 0 {
            let status = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .unwrap();
            assert!(status.success(), "kill -9 {pid}");
        }
    }
}

// --- WordPress -------------------------------------------------------------------------------

/// The API index, which names the namespaces the site serves.
async fn wp_index(s: S) -> Response {
    s.record("GET", "index");
    Json(json!({
        "name": "My AI blog",
        "url": s.root,
        "namespaces": ["oembed/1.0", "wp/v2", "wp-site-health/v1"],
        "authentication": {"application-passwords": {"endpoints": {}}},
        "routes": {},
    }))
    .into_response()
}

async fn wp_me(s: S, h: HeaderMap) -> Response {
    s.record("GET", "users/me");
    if !s.wp_authorised(&h) {
        return wp_error(
            401,
            "incorrect_password",
            "The provided password is an invalid application password.",
        );
    }
    let publish = s.can_publish.load(Ordering::SeqCst);
    let unfiltered = s.unfiltered_html.load(Ordering::SeqCst);
    Json(json!({"id": 1, "name": WP_USER, "capabilities": {
        "edit_posts": true, "publish_posts": publish, "upload_files": true, "unfiltered_html": unfiltered,
    }}))
    .into_response()
}

async fn wp_list_posts(s: S, h: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    s.record("GET", "posts");
    let needs_auth = q.get("context").map(String::as_str) == Some("edit")
        || q.get("status").is_some_and(|st| st != "publish");
    if needs_auth && !s.wp_authorised(&h) {
        return wp_error(
            401,
            "rest_forbidden_context",
            "Sorry, you are not allowed to edit posts in this post type.",
        );
    }
    let search = q.get("search").map(|t| t.to_lowercase());
    let state = s.state.lock().unwrap();
    let found: Vec<Value> = state
        .posts
        .iter()
        .filter(|p| match &search {
            // WordPress searches title, excerpt and the raw content.
            Some(t) => [
                &p["title"]["raw"],
                &p["excerpt"]["raw"],
                &p["content"]["raw"],
            ]
            .iter()
            .any(|f| f.as_str().unwrap_or_default().to_lowercase().contains(t)),
            None => true,
        })
        .cloned()
        .collect();
    Json(Value::Array(found)).into_response()
}

async fn wp_create_post(s: S, h: HeaderMap, body: Option<Json<Value>>) -> Response {
    s.record("POST", "posts");
    if !s.wp_authorised(&h) {
        return wp_error(
            401,
            "incorrect_password",
            "The provided password is an invalid application password.",
        );
    }
    if let Some(status) = s.state.lock().unwrap().fail_creates.pop_front() {
        return wp_error(
            status,
            "internal_server_error",
            "There has been a critical error on this website.",
        );
    }
    let Some(Json(b)) = body else {
        return wp_error(400, "rest_invalid_json", "Invalid JSON body passed.");
    };
    for (field, ok) in [
        ("title", b["title"].is_string()),
        ("content", b["content"].is_string()),
        ("slug", b["slug"].is_string()),
        ("excerpt", b["excerpt"].is_string()),
        (
            "status",
            matches!(
                b["status"].as_str(),
                Some("publish" | "draft" | "future" | "pending" | "private")
            ),
        ),
        (
            "tags",
            b["tags"]
                .as_array()
                .is_some_and(|a| a.iter().all(Value::is_u64)),
        ),
        (
            "categories",
            b["categories"]
                .as_array()
                .is_some_and(|a| a.iter().all(Value::is_u64)),
        ),
    ] {
        if !ok {
            return wp_error(
                400,
                "rest_invalid_param",
                &format!("Invalid parameter(s): {field}"),
            );
        }
    }
    if b["status"] == "future" && !b["date_gmt"].is_string() {
        return wp_error(400, "rest_invalid_param", "Invalid parameter(s): date_gmt");
    }
    // Without unfiltered_html, kses strips the tags it does not allow and keeps their text.
    let mut content = b["content"].as_str().unwrap().to_owned();
    if !s.unfiltered_html.load(Ordering::SeqCst) {
        content = content
            .replace("<script type=\"application/ld+json\">", "")
            .replace("</script>", "");
    }
    let created = {
        let mut state = s.state.lock().unwrap();
        let featured = b["featured_media"].as_u64().unwrap_or(0);
        if featured != 0 && !state.media.iter().any(|m| m["id"] == featured) {
            return wp_error(
                400,
                "rest_invalid_featured_media",
                "Invalid featured media ID.",
            );
        }
        for taxonomy in ["tags", "categories"] {
            for id in b[taxonomy].as_array().unwrap() {
                if !state
                    .terms
                    .iter()
                    .any(|(t, i, _, _)| t == taxonomy && Some(*i) == id.as_u64())
                {
                    return wp_error(
                        400,
                        "rest_invalid_param",
                        &format!("Invalid parameter(s): {taxonomy}"),
                    );
                }
            }
        }
        state.next_id += 1;
        let id = state.next_id;
        let slug = s.unique_slug(&state, b["slug"].as_str().unwrap());
        let post = json!({
            "id": id,
            "slug": slug,
            "link": format!("{}/{slug}/", s.root),
            "status": b["status"],
            "date_gmt": b["date_gmt"],
            "title": {"raw": b["title"], "rendered": b["title"]},
            "excerpt": {"raw": b["excerpt"], "rendered": b["excerpt"]},
            "content": {"raw": content, "rendered": content},
            "featured_media": featured,
            "tags": b["tags"],
            "categories": b["categories"],
            "meta": b.get("meta").cloned().unwrap_or(json!({})),
        });
        state.posts.push(post.clone());
        post
    };
    s.after_create().await;
    (StatusCode::CREATED, Json(created)).into_response()
}

async fn wp_list_terms(
    s: S,
    Path(taxonomy): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    s.record("GET", &taxonomy);
    // WordPress searches names and slugs (LIKE), and filters by exact slug.
    let search = q
        .get("search")
        .map(|t| t.to_lowercase())
        .unwrap_or_default();
    let by_slug = q.get("slug");
    let state = s.state.lock().unwrap();
    let found: Vec<Value> = state
        .terms
        .iter()
        .filter(|(t, _, name, slug)| {
            *t == taxonomy
                && (name.to_lowercase().contains(&search) || slug.contains(&search))
                && by_slug.is_none_or(|s| s == slug)
        })
        // Stored names are HTML-escaped.
        .map(|(_, id, name, slug)| json!({"id": id, "name": name.replace('&', "&amp;"), "slug": slug}))
        .collect();
    Json(Value::Array(found)).into_response()
}

async fn wp_create_term(
    s: S,
    Path(taxonomy): Path<String>,
    h: HeaderMap,
    Json(b): Json<Value>,
) -> Response {
    s.record("POST", &taxonomy);
    if !s.wp_authorised(&h) {
        return wp_error(
            401,
            "incorrect_password",
            "The provided password is an invalid application password.",
        );
    }
    let Some(name) = b["name"].as_str().filter(|n| !n.trim().is_empty()) else {
        return wp_error(
            400,
            "rest_missing_callback_param",
            "Missing parameter(s): name",
        );
    };
    let mut state = s.state.lock().unwrap();
    if let Some((_, id, _, _)) = state
        .terms
        .iter()
        .find(|(t, _, n, _)| *t == taxonomy && n.eq_ignore_ascii_case(name))
    {
        let id = *id;
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": "term_exists", "message": "A term with the name provided already exists.", "data": {"status": 400, "term_id": id}})),
        )
            .into_response();
    }
    state.next_id += 1;
    let id = state.next_id;
    // A given slug is kept unless taken; otherwise WordPress derives one from the name.
    let wanted = b["slug"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| name.to_lowercase().replace(' ', "-"));
    let mut slug = wanted.clone();
    let mut n = 1;
    while state
        .terms
        .iter()
        .any(|(t, _, _, s)| *t == taxonomy && *s == slug)
    {
        n += 1;
        slug = format!("{wanted}-{n}");
    }
    state
        .terms
        .push((taxonomy, id, name.to_owned(), slug.clone()));
    (
        StatusCode::CREATED,
        Json(json!({"id": id, "name": name, "slug": slug})),
    )
        .into_response()
}

/// `GET /wp/v2/media`: by exact `slug`, or all.
async fn wp_list_media(s: S, h: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    s.record("GET", "media");
    if q.get("context").map(String::as_str) == Some("edit") && !s.wp_authorised(&h) {
        return wp_error(
            401,
            "rest_forbidden_context",
            "Sorry, you are not allowed to edit posts in this post type.",
        );
    }
    let state = s.state.lock().unwrap();
    let found: Vec<Value> = state
        .media
        .iter()
        .filter(|m| q.get("slug").is_none_or(|slug| m["slug"] == slug.as_str()))
        .cloned()
        .collect();
    Json(Value::Array(found)).into_response()
}

/// `POST /wp/v2/media` with the file as the body: WordPress needs `Content-Disposition` with
/// a file name and a body, takes `slug`, `title` and `alt_text` from the query, and stores the
/// file under `wp-content/uploads/<yyyy>/<mm>/`.
async fn wp_upload_media(
    s: S,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: bytes::Bytes,
) -> Response {
    s.record("POST", "media");
    if !s.wp_authorised(&h) {
        return wp_error(
            401,
            "rest_cannot_create",
            "Sorry, you are not allowed to upload media on this site.",
        );
    }
    let Some(file) = h
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("filename=").nth(1))
        .map(|f| f.trim_matches('"').to_owned())
    else {
        return wp_error(
            400,
            "rest_upload_no_content_disposition",
            "No Content-Disposition supplied.",
        );
    };
    if body.is_empty() {
        return wp_error(400, "rest_upload_no_data", "No data supplied.");
    }
    if !body.starts_with(b"\x89PNG") || h.get("content-type").is_none_or(|t| t != "image/png") {
        return wp_error(
            400,
            "rest_upload_sideload_error",
            "Sorry, you are not allowed to upload this file type.",
        );
    }
    let mut state = s.state.lock().unwrap();
    state.next_id += 1;
    let id = state.next_id;
    let stem = file.trim_end_matches(".png").to_lowercase();
    let wanted = q.get("slug").cloned().unwrap_or(stem);
    let mut slug = wanted.clone();
    let mut n = 1;
    while state.media.iter().any(|m| m["slug"] == slug.as_str()) {
        n += 1;
        slug = format!("{wanted}-{n}");
    }
    let month = chrono::Utc::now().format("%Y/%m");
    let media = json!({
        "id": id,
        "slug": slug,
        "source_url": format!("{}/wp-content/uploads/{month}/{file}", s.root),
        "media_type": "image",
        "mime_type": "image/png",
        "title": {"raw": q.get("title"), "rendered": q.get("title")},
        "alt_text": q.get("alt_text").cloned().unwrap_or_default(),
        "bytes": body.len(),
    });
    state.media.push(media.clone());
    drop(state);
    s.after_upload();
    (StatusCode::CREATED, Json(media)).into_response()
}

// --- Ghost -----------------------------------------------------------------------------------

async fn ghost_list_posts(
    s: S,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    s.record("GET", "posts");
    if let Err(e) = s.ghost_authorised(&h) {
        return ghost_error(401, "UnauthorizedError", e);
    }
    let state = s.state.lock().unwrap();
    let posts: Vec<Value> = match q.get("filter") {
        None => state.posts.clone(),
        Some(f) => match f.strip_prefix("tag:") {
            Some(tag) => state
                .posts
                .iter()
                .filter(|p| {
                    p["tags"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|t| t["slug"] == tag)
                })
                .cloned()
                .collect(),
            None => return ghost_error(400, "BadRequestError", "Error parsing filter"),
        },
    };
    // `fields` narrows the answer. Ghost computes a draft's URL, `/p/<uuid>/`, from the
    // fields it loaded: without `uuid` among them it answers a bare `/p/`.
    let posts: Vec<Value> = match q.get("fields") {
        None => posts,
        Some(fields) => {
            let fields: Vec<&str> = fields.split(',').map(str::trim).collect();
            posts
                .into_iter()
                .map(|p| {
                    let mut out = serde_json::Map::new();
                    for f in &fields {
                        out.insert((*f).to_owned(), p[*f].clone());
                    }
                    if fields.contains(&"url")
                        && p["status"] != "published"
                        && !fields.contains(&"uuid")
                    {
                        out.insert("url".into(), json!(format!("{}/p/", s.root)));
                    }
                    Value::Object(out)
                })
                .collect()
        }
    };
    Json(json!({"posts": posts, "meta": {"pagination": {"page": 1, "total": posts.len()}}}))
        .into_response()
}

async fn ghost_create_post(
    s: S,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Option<Json<Value>>,
) -> Response {
    s.record("POST", "posts");
    if let Err(e) = s.ghost_authorised(&h) {
        return ghost_error(401, "UnauthorizedError", e);
    }
    if let Some(status) = s.state.lock().unwrap().fail_creates.pop_front() {
        return ghost_error(
            status,
            "InternalServerError",
            "Internal server error, cannot save post.",
        );
    }
    let Some(Json(b)) = body else {
        return ghost_error(
            400,
            "BadRequestError",
            "Request not understood error, cannot save post.",
        );
    };
    let Some(p) = b["posts"]
        .as_array()
        .filter(|a| a.len() == 1)
        .map(|a| &a[0])
    else {
        return ghost_error(
            422,
            "ValidationError",
            "Validation error, cannot save post.",
        );
    };
    if !p["title"]
        .as_str()
        .is_some_and(|t| !t.is_empty() && t.chars().count() <= 255)
    {
        return ghost_error(
            422,
            "ValidationError",
            "Value in [posts.title] cannot be blank.",
        );
    }
    if p["custom_excerpt"]
        .as_str()
        .is_some_and(|t| t.chars().count() > 300)
        || p["meta_description"]
            .as_str()
            .is_some_and(|t| t.chars().count() > 500)
    {
        return ghost_error(
            422,
            "ValidationError",
            "Value in [posts] exceeds maximum length.",
        );
    }
    match p["status"].as_str() {
        Some("draft" | "published") => {}
        Some("scheduled") => {
            let future = p["published_at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_some_and(|t| t > chrono::Utc::now());
            if !future {
                return ghost_error(
                    422,
                    "ValidationError",
                    "Date must be at least 2 minutes in the future.",
                );
            }
        }
        _ => {
            return ghost_error(
                422,
                "ValidationError",
                "Validation (isIn) failed for status",
            );
        }
    }
    // Without ?source=html Ghost ignores `html` and the post is empty.
    let html = if q.get("source").map(String::as_str) == Some("html") {
        p["html"].clone()
    } else {
        json!("")
    };
    let created = {
        let mut state = s.state.lock().unwrap();
        state.next_id += 1;
        let id = format!("{:024x}", state.next_id);
        let slug = s.unique_slug(&state, p["slug"].as_str().unwrap_or("untitled"));
        let tags: Vec<Value> = p["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                let name = t["name"].as_str().or(t.as_str()).unwrap_or_default();
                let internal = name.starts_with('#');
                let slug = t["slug"].as_str().map(str::to_owned).unwrap_or_else(|| slug_of(name));
                json!({"name": name, "slug": slug, "visibility": if internal { "internal" } else { "public" }})
            })
            .collect();
        let uuid = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            state.next_id, state.next_id
        );
        // Readers see published posts at their slug; the rest have a preview URL.
        let url = if p["status"] == "published" {
            format!("{}/{slug}/", s.root)
        } else {
            format!("{}/p/{uuid}/", s.root)
        };
        let post = json!({
            "id": id,
            "uuid": uuid,
            "slug": slug,
            "url": url,
            "title": p["title"],
            "html": html,
            "status": p["status"],
            "published_at": p["published_at"],
            "custom_excerpt": p["custom_excerpt"],
            "meta_title": p["meta_title"],
            "meta_description": p["meta_description"],
            "feature_image": p["feature_image"],
            "feature_image_alt": p["feature_image_alt"],
            "tags": tags,
        });
        state.posts.push(post.clone());
        post
    };
    s.after_create().await;
    (StatusCode::CREATED, Json(json!({"posts": [created]}))).into_response()
}

/// `POST /images/upload/`, multipart: `file` (an image), `purpose`, `ref`. Ghost stores the
/// file as `content/images/<yyyy>/<mm>/<name>`, adding `-1`, `-2` to a taken name, and
/// answers its URL and the `ref` it was given.
async fn ghost_upload_image(s: S, h: HeaderMap, mut form: axum::extract::Multipart) -> Response {
    s.record("POST", "images/upload");
    if let Err(e) = s.ghost_authorised(&h) {
        return ghost_error(401, "UnauthorizedError", e);
    }
    let (mut file, mut reference) = (None, None);
    while let Ok(Some(field)) = form.next_field().await {
        match field.name() {
            Some("file") => {
                let name = field.file_name().unwrap_or_default().to_owned();
                let kind = field.content_type().unwrap_or_default().to_owned();
                file = Some((name, kind, field.bytes().await.unwrap_or_default()));
            }
            Some("ref") => reference = field.text().await.ok(),
            _ => {}
        }
    }
    let Some((name, kind, bytes)) = file else {
        return ghost_error(422, "ValidationError", "Please select an image.");
    };
    if kind != "image/png" || !name.ends_with(".png") || !bytes.starts_with(b"\x89PNG") {
        return ghost_error(
            415,
            "UnsupportedMediaTypeError",
            "Please select a valid image.",
        );
    }
    let month = chrono::Utc::now().format("%Y/%m");
    let mut state = s.state.lock().unwrap();
    let stem = name.trim_end_matches(".png");
    let mut path = format!("/content/images/{month}/{name}");
    let mut n = 0;
    while state.images.iter().any(|(p, _)| *p == path) {
        n += 1;
        path = format!("/content/images/{month}/{stem}-{n}.png");
    }
    state.images.push((path.clone(), bytes.to_vec()));
    drop(state);
    s.after_upload();
    (
        StatusCode::CREATED,
        Json(json!({"images": [{"url": format!("{}{path}", s.root), "ref": reference}]})),
    )
        .into_response()
}

/// Ghost's static files: an uploaded image, or 404.
async fn ghost_content(s: S, uri: axum::http::Uri) -> Response {
    s.record("GET", "content");
    let state = s.state.lock().unwrap();
    match state.images.iter().find(|(p, _)| p == uri.path()) {
        Some((_, bytes)) => ([("content-type", "image/png")], bytes.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

// --- Webhook receiver ------------------------------------------------------------------------

/// A well-behaved receiver: checks the signature (and its age), replays its first answer to an
/// idempotency key it has seen, stores the post otherwise.
async fn hook_receive(s: S, h: HeaderMap, body: bytes::Bytes) -> Response {
    s.record("POST", "posts");
    let header = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let ts: i64 = header("x-blogflow-timestamp").parse().unwrap_or(0);
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(&body);
    let expected = format!(
        "sha256={}",
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    if header("x-blogflow-signature") != expected
        || (chrono::Utc::now().timestamp() - ts).abs() > 300
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "bad signature"})),
        )
            .into_response();
    }
    if let Some(status) = s.state.lock().unwrap().fail_creates.pop_front() {
        return (
            StatusCode::from_u16(status).unwrap(),
            Json(json!({"error": "unavailable"})),
        )
            .into_response();
    }
    let Ok(b) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "not JSON"}))).into_response();
    };
    for field in ["id", "title", "slug", "body_markdown", "body_html"] {
        if !b[field].is_string() {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"error": format!("{field} missing")})),
            )
                .into_response();
        }
    }
    let key = header("idempotency-key");
    let created = {
        let mut state = s.state.lock().unwrap();
        if key.is_empty() {
            let e = json!({"error": "Idempotency-Key missing"});
            return (StatusCode::BAD_REQUEST, Json(e)).into_response();
        }
        // A repeated key replays the original answer (the way idempotent APIs do).
        if let Some(p) = state.posts.iter().find(|p| p["key"] == key.as_str()) {
            return (StatusCode::OK, Json(json!({"url": p["url"]}))).into_response();
        }
        let slug = b["slug"].as_str().unwrap();
        let post = json!({
            "key": key, "slug": slug, "url": format!("{}/{slug}/", s.root),
            "title": b["title"], "html": b["body_html"], "tags": b["tags"],
            "image": b["image"], "structured_data": b["structured_data"],
        });
        state.posts.push(post.clone());
        post
    };
    s.after_create().await;
    (StatusCode::CREATED, Json(json!({"url": created["url"]}))).into_response()
}

/// The receiver's lookup: 200 with the post's URL when it holds the key, else 404.
async fn hook_lookup(s: S, Path(key): Path<String>) -> Response {
    s.record("GET", "posts/{key}");
    let state = s.state.lock().unwrap();
    match state.posts.iter().find(|p| p["key"] == key.as_str()) {
        Some(p) => Json(json!({"url": p["url"]})).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no such post"})),
        )
            .into_response(),
    }
}

impl FakeCms {
    async fn start(kind: Kind) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let root = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Inner {
            kind,
            root: root.clone(),
            state: Mutex::default(),
            hang_after_create: AtomicBool::new(false),
            kill_after_create: AtomicU32::new(0),
            kill_after_upload: AtomicU32::new(0),
            pid_set: tokio::sync::Notify::new(),
            can_publish: AtomicBool::new(true),
            unfiltered_html: AtomicBool::new(true),
            down: AtomicU32::new(0),
            refused: AtomicU32::new(0),
            plain_permalinks: AtomicBool::new(false),
        });
        let app = match kind {
            Kind::WordPress => Router::new()
                .route("/wp-json/", get(wp_index))
                .route("/wp-json/wp/v2/users/me", get(wp_me))
                .route(
                    "/wp-json/wp/v2/posts",
                    get(wp_list_posts).post(wp_create_post),
                )
                .route(
                    "/wp-json/wp/v2/media",
                    get(wp_list_media).post(wp_upload_media),
                )
                .route(
                    "/wp-json/wp/v2/{taxonomy}",
                    get(wp_list_terms).post(wp_create_term),
                )
                .fallback(|| async {
                    wp_error(
                        404,
                        "rest_no_route",
                        "No route was found matching the URL and request method.",
                    )
                }),
            Kind::Ghost => Router::new()
                .route(
                    "/ghost/api/admin/posts/",
                    get(ghost_list_posts).post(ghost_create_post),
                )
                .route(
                    "/ghost/api/admin/images/upload/",
                    axum::routing::post(ghost_upload_image),
                )
                .route("/content/images/{*path}", get(ghost_content))
                .fallback(|| async { ghost_error(404, "NotFoundError", "Resource not found") }),
            Kind::Webhook => Router::new()
                .route("/posts", axum::routing::post(hook_receive))
                .route("/posts/{key}", get(hook_lookup))
                .fallback(|| async { StatusCode::NOT_FOUND }),
        }
        .layer(axum::middleware::from_fn_with_state(inner.clone(), outage))
        .with_state(inner.clone());
        let app = tower_layer::Layer::layer(
            &axum::middleware::from_fn_with_state(inner.clone(), rest_route),
            app,
        );
        tokio::spawn(async move {
            axum::serve(
                listener,
                axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
            )
            .await
            .unwrap()
        });
        Self { inner, root }
    }

    /// A fake WordPress site.
    pub async fn wordpress() -> Self {
        Self::start(Kind::WordPress).await
    }

    /// A fake Ghost site.
    pub async fn ghost() -> Self {
        Self::start(Kind::Ghost).await
    }

    /// A webhook receiver at `/posts`.
    pub async fn webhook() -> Self {
        Self::start(Kind::Webhook).await
    }

    /// The posts the site holds.
    pub fn posts(&self) -> Vec<Value> {
        self.inner.state.lock().unwrap().posts.clone()
    }

    /// Terms (`tags`, `categories`) by name.
    pub fn terms(&self, taxonomy: &str) -> Vec<String> {
        let state = self.inner.state.lock().unwrap();
        state
            .terms
            .iter()
            .filter(|(t, _, _, _)| t == taxonomy)
            .map(|(_, _, n, _)| n.clone())
            .collect()
    }

    /// Terms (`tags`, `categories`) as (name, slug).
    pub fn term_slugs(&self, taxonomy: &str) -> Vec<(String, String)> {
        let state = self.inner.state.lock().unwrap();
        state
            .terms
            .iter()
            .filter(|(t, _, _, _)| t == taxonomy)
            .map(|(_, _, n, s)| (n.clone(), s.clone()))
            .collect()
    }

    /// Requests so far, as (method, resource).
    pub fn requests(&self) -> Vec<(String, String)> {
        self.inner.state.lock().unwrap().requests.clone()
    }

    /// Answers the next create requests with these statuses.
    pub fn fail_next_creates(&self, statuses: impl IntoIterator<Item = u16>) {
        self.inner
            .state
            .lock()
            .unwrap()
            .fail_creates
            .extend(statuses);
    }

    /// Stores the next created post and never answers.
    pub fn hang_after_next_create(&self) {
        self.inner.hang_after_create.store(true, Ordering::SeqCst);
    }

    /// Stores the next created post, then `kill -9 pid` before answering.
    pub fn kill_after_next_create(&self, pid: u32) {
        self.inner.kill_after_create.store(pid, Ordering::SeqCst);
        self.inner.pid_set.notify_waiters();
    }

    /// Scripts a kill after the next created post for a process not started yet: that
    /// create waits until [`FakeCms::kill_after_next_create`] names the pid.
    pub fn kill_after_next_create_of_next_process(&self) {
        self.inner
            .kill_after_create
            .store(PENDING, Ordering::SeqCst);
    }

    /// Stores the next uploaded image, then `kill -9 pid` before answering.
    pub fn kill_after_next_upload(&self, pid: u32) {
        self.inner.kill_after_upload.store(pid, Ordering::SeqCst);
    }

    /// Starts an outage: every request gets `status` until [`FakeCms::up`].
    pub fn down(&self, status: u16) {
        self.inner.down.store(u32::from(status), Ordering::SeqCst);
    }

    /// Ends an outage.
    pub fn up(&self) {
        self.inner.down.store(0, Ordering::SeqCst);
    }

    /// WordPress: plain permalinks, so `/wp-json/` serves the home page as HTML.
    pub fn set_plain_permalinks(&self, yes: bool) {
        self.inner.plain_permalinks.store(yes, Ordering::SeqCst);
    }

    /// Requests refused by outages so far.
    pub fn refused(&self) -> u32 {
        self.inner.refused.load(Ordering::SeqCst)
    }

    /// WordPress: the media library; Ghost: the uploaded images' paths.
    pub fn media(&self) -> Vec<Value> {
        let state = self.inner.state.lock().unwrap();
        match self.inner.kind {
            Kind::Ghost => state.images.iter().map(|(p, _)| json!(p)).collect(),
            _ => state.media.clone(),
        }
    }

    /// WordPress: whether the user has `unfiltered_html`.
    pub fn set_unfiltered_html(&self, yes: bool) {
        self.inner.unfiltered_html.store(yes, Ordering::SeqCst);
    }

    /// WordPress: whether the user has `publish_posts`.
    pub fn set_can_publish(&self, yes: bool) {
        self.inner.can_publish.store(yes, Ordering::SeqCst);
    }

    /// Someone else's post with this slug (a hand-written one on the same site).
    pub fn add_foreign_post(&self, slug: &str) {
        let mut state = self.inner.state.lock().unwrap();
        state.next_id += 1;
        let id = state.next_id;
        let post = match self.inner.kind {
            Kind::WordPress => json!({
                "id": id, "slug": slug, "link": format!("{}/{slug}/", self.root), "status": "publish",
                "title": {"raw": "Hand written"}, "excerpt": {"raw": ""},
                "content": {"raw": "<p>mine</p>"}, "tags": [], "categories": [],
            }),
            Kind::Webhook => json!({
                "key": format!("foreign-{id}"), "slug": slug, "url": format!("{}/{slug}/", self.root),
                "title": "Hand written", "html": "<p>mine</p>", "tags": [],
            }),
            Kind::Ghost => json!({
                "id": format!("{id:024x}"), "slug": slug, "url": format!("{}/{slug}/", self.root),
                "title": "Hand written", "html": "<p>mine</p>", "status": "published", "tags": [],
            }),
        };
        state.posts.push(post);
    }
}
