//! The web dashboard: a page, a script, a stylesheet and the vendored chart library, compiled
//! into the binary (no CDN; it works offline), served with a strict Content-Security-Policy.
//! The page holds no data and no secrets: everything comes from the JSON API.
//!
//! Also the API's conditional GET: every JSON answer to a GET gets a weak ETag (a hash of the
//! body), and a request that sends it back in `If-None-Match` gets a bodiless 304, so the
//! dashboard's polling costs little when nothing changed.

use axum::body::{Body, to_bytes};
use axum::extract::{Path, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::ApiError;

const INDEX: &str = include_str!("../../assets/dashboard/index.html");
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/dashboard/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/dashboard/app.css"),
    ),
    (
        "vendor/uplot/uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/dashboard/vendor/uplot/uPlot.iife.min.js"),
    ),
    (
        "vendor/uplot/uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/dashboard/vendor/uplot/uPlot.min.css"),
    ),
    (
        "vendor/uplot/LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/dashboard/vendor/uplot/LICENSE"),
    ),
];

/// Scripts and styles from this origin only, no inline code, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn hardened(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// `GET /`: the dashboard page.
pub(super) async fn index() -> Response {
    hardened(
        (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            INDEX,
        )
            .into_response(),
    )
}

/// `GET /assets/{*path}`: the embedded files.
pub(super) async fn asset(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == path) {
        Some((_, mime, bytes)) => hardened(
            (
                [
                    (header::CONTENT_TYPE, *mime),
                    (header::CACHE_CONTROL, "public, max-age=300"),
                ],
                *bytes,
            )
                .into_response(),
        ),
        None => ApiError::not_found(format!("no asset {path}")).into_response(),
    }
}

/// Adds an ETag to successful JSON answers to GET under `/api/` and answers 304 when the
/// client already has that body.
pub(super) async fn etag(request: Request, next: Next) -> Response {
    let conditional = request.method() == Method::GET && request.uri().path().starts_with("/api/");
    let if_none_match = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !conditional || response.status() != StatusCode::OK || !json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // API answers are small JSON documents; 16 MiB is far above any of them.
    let Ok(bytes) = to_bytes(body, 16 << 20).await else {
        return ApiError::unavailable("the answer", "it could not be read").into_response();
    };
    let digest = Sha256::digest(&bytes);
    let tag = crate::shared::hex(&digest[..12]);
    let tag = format!("W/\"{tag}\"");
    let value = HeaderValue::from_str(&tag).expect("hex is a valid header");
    if if_none_match
        .as_deref()
        .is_some_and(|given| given.split(',').any(|t| t.trim() == tag || t.trim() == "*"))
    {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        not_modified.headers_mut().insert(header::ETAG, value);
        return not_modified;
    }
    parts.headers.insert(header::ETAG, value);
    parts
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Response::from_parts(parts, Body::from(bytes))
}
