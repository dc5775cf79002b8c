//! The HTTP server: hyper's HTTP/1 connections under the API's router, with the limits an
//! unauthenticated client must not escape.
//!
//! - **Headers in time** (`server.header_timeout_secs`): a request's headers must be complete
//!   within this time from the connection's start or the end of the previous response, so it
//!   is also the keep-alive idle timeout (hyper's header-read timer starts as soon as a request
//!   is awaited, before its first byte).
//! - **Requests in time** (`server.request_timeout_secs`): reading the body and answering; a
//!   slow body gets `408`.
//! - **Connections** (`server.max_connections`): beyond the cap a connection is still taken,
//!   into a small overflow pool that answers `/healthz` and `/readyz` and refuses the rest
//!   with `503`, with a one-second header timeout and no keep-alive. When that pool is full too,
//!   its oldest connection is closed for the new one: a flood can slow the probes down by a
//!   round trip, never lock them out.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

pub use crate::config::ServerLimits;

/// Connections over the cap served at once (probes only).
const OVERFLOW: usize = 64;
/// Header timeout of an overflow connection.
const OVERFLOW_HEADER_TIMEOUT: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` until `shutdown`; then lets requests in progress finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let overflow = Overflow::default();
    let probes = probes_only();
    let tracker = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                let (router, shutdown) = (router.clone(), shutdown.clone());
                tracker.spawn(async move {
                    connection(stream, peer, router, limits.header_timeout, true, shutdown).await;
                    drop(permit);
                });
            }
            Err(_) => {
                let (id, token) = overflow.admit(&shutdown);
                let (router, overflow) = (probes.clone(), overflow.clone());
                tracker.spawn(async move {
                    connection(stream, peer, router, OVERFLOW_HEADER_TIMEOUT, false, token).await;
                    overflow.leave(id);
                });
            }
        }
    }
    tracker.close();
    tracker.wait().await;
}

/// One connection: HTTP/1 with the header timeout; closed gracefully on `shutdown`.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    header_timeout: Duration,
    keep_alive: bool,
    shutdown: CancellationToken,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request.map(axum::body::Body::new))
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(keep_alive);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        }
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// The router of connections over the cap: probes answer, the rest is refused.
fn probes_only() -> Router {
    use axum::routing::get;
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .fallback(|| async {
            super::ApiError {
                status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
                code: "overloaded",
                message:
                    "the server is at its connection limit (server.max_connections): try again"
                        .into(),
            }
        })
}

/// Connections over the cap, oldest first, each closable.
#[derive(Clone, Default)]
struct Overflow {
    open: Arc<Mutex<OverflowState>>,
}

/// The last id given, and the open connections with their ids.
type OverflowState = (u64, VecDeque<(u64, CancellationToken)>);

impl Overflow {
    /// Room for one more, closing the oldest when full: its id and shutdown token.
    fn admit(&self, shutdown: &CancellationToken) -> (u64, CancellationToken) {
        let token = shutdown.child_token();
        let mut guard = self.open.lock().expect("overflow");
        let (next, open) = &mut *guard;
        while open.len() >= OVERFLOW {
            if let Some((_, oldest)) = open.pop_front() {
                oldest.cancel();
            }
        }
        *next += 1;
        open.push_back((*next, token.clone()));
        (*next, token)
    }

    fn leave(&self, id: u64) {
        let mut guard = self.open.lock().expect("overflow");
        guard.1.retain(|(i, _)| *i != id);
    }
}
