//! The shared connection: a deadline per command, renewal after connection errors, always on the runtime that created the queue.

use super::super::QueueError;
use ::redis::Client;
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;

/// The shared connection. redis-rs's `ConnectionManager` starts a new connection only after an
/// I/O error; when that attempt fails otherwise (Redis answering `LOADING` while it replays its
/// AOF after a restart, a connect timeout), it keeps the failed attempt and every later command
/// fails at once, for good. So each command here has a deadline, and after a failure that is
/// about the connection rather than the command, the manager is replaced by a new one.
///
/// Connecting registers sockets with, and spawns the connection's driver on, the Tokio runtime
/// of whoever polls first. The lease keeper polls from a thread whose runtime has timers only
/// (see `queue::worker`), where connecting panics; so every command runs with the runtime that
/// created the queue entered, and connections always belong to it.
pub(super) struct Conn {
    pub(super) client: Client,
    pub(super) config: ConnectionManagerConfig,
    pub(super) current: std::sync::Mutex<ConnectionManager>,
    pub(super) runtime: Option<tokio::runtime::Handle>,
}

/// Polls `inner` with `runtime` entered, so that sockets, timers and tasks it creates belong to
/// that runtime whichever thread polls.
pub(super) struct OnRuntime<'a, F> {
    pub(super) runtime: Option<&'a tokio::runtime::Handle>,
    pub(super) inner: std::pin::Pin<Box<F>>,
}

impl<F: std::future::Future> std::future::Future for OnRuntime<'_, F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let _entered = self.runtime.map(tokio::runtime::Handle::enter);
        self.inner.as_mut().poll(cx)
    }
}

/// The longest any one command (connecting included) may take before it counts as failed.
pub(super) const COMMAND_DEADLINE: Duration = Duration::from_secs(10);

impl Conn {
    pub(super) fn new(client: Client) -> Result<Self, ::redis::RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(8)))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(1));
        let runtime = tokio::runtime::Handle::try_current().ok();
        let current = {
            let _entered = runtime.as_ref().map(tokio::runtime::Handle::enter);
            ConnectionManager::new_lazy_with_config(client.clone(), config.clone())?
        };
        Ok(Self {
            client,
            config,
            current: std::sync::Mutex::new(current),
            runtime,
        })
    }

    /// Runs `f` on the connection within [`COMMAND_DEADLINE`]; renews the connection after a
    /// connection-level failure.
    pub(super) async fn with<T, F, Fut>(&self, f: F) -> Result<T, QueueError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = Result<T, ::redis::RedisError>>,
    {
        let conn = self.current.lock().expect("redis connection").clone();
        let command = OnRuntime {
            runtime: self.runtime.as_ref(),
            inner: Box::pin(f(conn)),
        };
        match tokio::time::timeout(COMMAND_DEADLINE, command).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if about_the_connection(&e) {
                    self.renew();
                }
                Err(backend(e))
            }
            Err(_) => {
                self.renew();
                Err(QueueError::Backend(format!(
                    "redis: no answer within {} s",
                    COMMAND_DEADLINE.as_secs()
                )))
            }
        }
    }

    pub(super) fn renew(&self) {
        let _entered = self.runtime.as_ref().map(tokio::runtime::Handle::enter);
        match ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone()) {
            Ok(fresh) => *self.current.lock().expect("redis connection") = fresh,
            Err(e) => tracing::warn!(error = %e, "cannot renew the Redis connection"),
        }
    }
}

/// Failures of the connection (or of a server that cannot serve yet), not of the command.
pub(super) fn about_the_connection(e: &::redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || matches!(
            e.kind(),
            ::redis::ErrorKind::Server(
                ::redis::ServerErrorKind::BusyLoading
                    | ::redis::ServerErrorKind::MasterDown
                    | ::redis::ServerErrorKind::ReadOnly
            )
        )
}

pub(super) fn backend(e: ::redis::RedisError) -> QueueError {
    // Redis errors name the command and the server's message, never the URL or password.
    QueueError::Backend(format!("redis: {e}"))
}
