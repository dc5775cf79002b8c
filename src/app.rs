//! Wires the components into a running service and owns the shutdown tree.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::{AppState, router};
use crate::config::{Config, OpenAiConfig};
use crate::content::pipeline::{Generator, NO_PROVIDER};
use crate::db::Db;
use crate::jobs::JobRouter;
use crate::llm::{OpenAiProvider, Provider};
use crate::orchestrator::Orchestrator;
use crate::publish::{MarkdownPublisher, Publisher};
use crate::queue::{QueueBackend, SqliteQueue};
use crate::store::Store;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// The store failed to migrate.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The queue failed to open.
    #[error(transparent)]
    Queue(#[from] crate::queue::QueueError),
    /// The listen address is taken or not ours.
    #[error("cannot listen on {addr}: {source} (set BLOGFLOW_LISTEN to a free address)")]
    Listen {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// A provider client could not be built.
    #[error("provider: {0}")]
    Provider(String),
}

/// The parts that `run`, `generate` and tests share.
pub struct Parts {
    /// The store.
    pub store: Store,
    /// The queue.
    pub queue: QueueBackend,
    /// Runs every job type.
    pub router: JobRouter,
}

/// Builds the provider from the configuration.
pub fn provider(config: Option<&OpenAiConfig>) -> Result<Option<Provider>, StartError> {
    config
        .map(|c| {
            OpenAiProvider::new(c.clone())
                .map(Provider::OpenAi)
                .map_err(StartError::Provider)
        })
        .transpose()
}

/// Opens the database, store and queue, and builds the job router.
pub async fn open(config: Arc<Config>) -> Result<Parts, StartError> {
    let db = Db::open(&config.database_path())?;
    let store = Store::open(db.clone()).await?;
    let queue = QueueBackend::Sqlite(SqliteQueue::open(db).await?);
    let provider = provider(config.openai.as_ref())?;
    match &provider {
        Some(p) => tracing::info!(
            provider = p.name(),
            model = p.model(),
            "LLM provider configured"
        ),
        None => {
            tracing::warn!("{NO_PROVIDER}; the service runs, generation jobs fail until one is set")
        }
    }
    let publishers: Vec<Publisher> = config
        .markdown
        .map(|dialect| {
            Publisher::Markdown(MarkdownPublisher::new(config.content_dir.clone(), dialect))
        })
        .into_iter()
        .collect();
    for p in &publishers {
        if let Err(e) = p.check().await {
            tracing::error!(target = p.target(), error = %e, "publishing target is not usable; posts stay queued until it is fixed");
        }
    }
    let generator = Generator::new(
        store.clone(),
        queue.clone(),
        provider,
        config.generation.clone(),
    );
    let router = JobRouter {
        generator,
        publishers: Arc::new(publishers),
        store: store.clone(),
        queue: queue.clone(),
        config: config.clone(),
        health: Default::default(),
    };
    Ok(Parts {
        store,
        queue,
        router,
    })
}

/// A running service.
pub struct Running {
    /// Where the API listens.
    pub addr: SocketAddr,
    /// The workflow.
    pub orchestrator: Orchestrator,
    /// The store.
    pub store: Store,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

/// Starts the API and the workflow.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let config = Arc::new(config);
    if config.api_token.is_none() {
        tracing::warn!(
            "BLOGFLOW_API_TOKEN is not set: read-only API; set it (16+ characters) to allow start/stop/generate"
        );
    }
    let parts = open(config.clone()).await?;
    let orchestrator = Orchestrator::new(parts.router, parts.queue.clone(), config.clone());
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: config.listen,
        source,
    })?;
    let state = AppState {
        orchestrator: orchestrator.clone(),
        store: parts.store.clone(),
        queue: parts.queue,
        config: config.clone(),
    };
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let stop = shutdown.clone();
    tasks.spawn(async move {
        let served = axum::serve(listener, router(state))
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "API server failed");
        }
    });
    tracing::info!(%addr, "API listening");
    orchestrator.boot().await?;
    Ok(Running {
        addr,
        orchestrator,
        store: parts.store,
        shutdown,
        tasks,
    })
}

impl Running {
    /// Stops the workflow (running jobs finish or are handed back), then the API.
    pub async fn shutdown(self) {
        tracing::info!("shutting down");
        if let Err(e) = self.orchestrator.stop().await {
            tracing::error!(error = %e, "stopping the workflow failed");
        }
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        tracing::info!("stopped");
    }
}

/// Waits for SIGINT or SIGTERM.
pub async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.unwrap_or(());
}
