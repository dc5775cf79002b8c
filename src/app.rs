//! Wires the components into a running service and owns the shutdown tree.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::{AppState, router};
use crate::config::Config;
use crate::content::pipeline::{Generator, NO_PROVIDER};
use crate::db::Db;
use crate::jobs::JobRouter;
use crate::llm::{AnthropicProvider, GeminiProvider, LocalProvider, OpenAiProvider, Provider};
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

/// Builds the providers from the configuration, in fallback order: Claude, OpenAI (or a
/// compatible server), Gemini, then the local model.
pub fn providers(config: &Config) -> Result<Vec<Provider>, StartError> {
    let mut providers = Vec::new();
    if let Some(c) = &config.anthropic {
        providers.push(Provider::Anthropic(
            AnthropicProvider::new(c.clone()).map_err(StartError::Provider)?,
        ));
    }
    if let Some(c) = &config.openai {
        providers.push(Provider::OpenAi(
            OpenAiProvider::new(c.clone()).map_err(StartError::Provider)?,
        ));
    }
    if let Some(c) = &config.gemini {
        providers.push(Provider::Gemini(
            GeminiProvider::new(c.clone()).map_err(StartError::Provider)?,
        ));
    }
    if let Some(c) = &config.local {
        providers.push(Provider::Local(LocalProvider::new(c.clone())));
    }
    Ok(providers)
}

/// Opens the database, store and queue, and builds the job router.
pub async fn open(config: Arc<Config>) -> Result<Parts, StartError> {
    let db = Db::open(&config.database_path())?;
    let store = Store::open(db.clone()).await?;
    let queue = QueueBackend::Sqlite(SqliteQueue::open(db).await?);
    let providers = providers(&config)?;
    for p in &providers {
        tracing::info!(
            provider = p.name(),
            model = p.model(),
            "LLM provider configured"
        );
        if let Provider::Local(local) = p {
            local.warn_language_once(config.generation.language);
        }
    }
    if providers.is_empty() {
        tracing::warn!("{NO_PROVIDER}; the service runs, generation jobs fail until one is set");
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
        providers,
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
    // Fetch and load the local model now rather than on the first post, so the operator sees
    // it happen (and any problem) at start.
    if let Some(Provider::Local(local)) = orchestrator
        .router()
        .generator
        .providers()
        .iter()
        .map(|g| g.provider())
        .find(|p| matches!(p, Provider::Local(_)))
    {
        let local = local.clone();
        // Detached: shutdown must not wait for a download.
        tokio::spawn(async move {
            if let Err(e) = local.engine().await {
                tracing::error!(error = %e, "the local model is not usable; generation with it fails until this is fixed");
            }
        });
    }
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
