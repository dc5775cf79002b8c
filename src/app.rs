//! Wires the components into a running service and owns the shutdown tree.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::{AppState, router};
use crate::config::{Config, QueueBackendConfig};
use crate::db::Db;
use crate::generate::{Generator, NO_PROVIDER};
use crate::jobs::JobRouter;
use crate::llm::{AnthropicProvider, GeminiProvider, LocalProvider, OpenAiProvider, Provider};
use crate::monitor::Monitor;
use crate::ops::Ops;
use crate::orchestrator::Orchestrator;
use crate::publish::{MarkdownPublisher, Publisher};
use crate::queue::{QueueBackend, RedisOptions, RedisQueue, SqliteQueue};
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
    /// Redis would evict jobs under memory pressure.
    #[error("{0}")]
    RedisPolicy(String),
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
    /// Monitoring, self-healing and alert state.
    pub ops: Ops,
    /// Resident memory after each phase of opening them.
    pub footprint: crate::telemetry::Footprint,
}

/// Builds the providers from the configuration, in fallback order: Claude, OpenAI (or a
/// compatible server), the `[[providers.compatible]]` servers, Gemini, then the local model.
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
    for (name, c) in &config.compatible {
        providers.push(Provider::OpenAi(
            OpenAiProvider::new(c.clone())
                .map_err(StartError::Provider)?
                .with_name(name.clone()),
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

/// The social-card renderer of `[images]`, or `None` when cards are off or no font loads.
pub fn card_renderer(config: &Config) -> Option<crate::images::CardRenderer> {
    config.images.clone().and_then(|style| {
        crate::images::CardRenderer::new(style)
            .inspect_err(|e| tracing::warn!(error = %e, "social cards are off"))
            .ok()
    })
}

/// The publishers of every configured target, in a fixed order (Markdown, webhook,
/// WordPress, Ghost).
pub fn publishers(config: &Config) -> Vec<Publisher> {
    let slugs = &config.generation.slugs;
    let extras = crate::publish::Extras {
        cards: card_renderer(config),
        blog_name: config.blog_name.clone(),
        last: Default::default(),
    };
    config
        .markdown
        .clone()
        .map(|target| {
            Publisher::Markdown(
                MarkdownPublisher::new(config.content_dir.clone(), target)
                    .with_extras(extras.clone()),
            )
        })
        .into_iter()
        .chain(config.webhook.clone().map(|t| {
            Publisher::Webhook(crate::publish::WebhookPublisher::new(t).with_extras(extras.clone()))
        }))
        .chain(config.wordpress.clone().map(|t| {
            Publisher::WordPress(
                crate::publish::WordPressPublisher::new(t)
                    .with_slugs(slugs.clone())
                    .with_extras(extras.clone()),
            )
        }))
        .chain(config.ghost.clone().map(|t| {
            Publisher::Ghost(
                crate::publish::GhostPublisher::new(t)
                    .with_slugs(slugs.clone())
                    .with_extras(extras.clone()),
            )
        }))
        .collect()
}

/// Opens the database, store and queue, and builds the job router.
pub async fn open(config: Arc<Config>) -> Result<Parts, StartError> {
    let mut footprint = crate::telemetry::Footprint::default();
    footprint.mark("runtime, config and logging");
    let db = Db::open(&config.database_path())?;
    let store = match &config.database_url {
        Some(url) => {
            let store = Store::connect_postgres(url.expose()).await?;
            tracing::info!(store = %store.location(), "store opened (DATABASE_URL)");
            store
        }
        None => Store::open(db.clone()).await?,
    };
    footprint.mark("database and store");
    let queue = match &config.queue.backend {
        QueueBackendConfig::Sqlite => QueueBackend::Sqlite(SqliteQueue::open(db).await?),
        QueueBackendConfig::Redis(r) => QueueBackend::Redis(RedisQueue::new(&RedisOptions {
            url: r.url.expose().to_owned(),
            prefix: r.prefix.clone(),
        })?),
    };
    footprint.mark("queue");
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
    footprint.mark("providers");
    let publishers = publishers(&config);
    let mut targets = Vec::new();
    for p in &publishers {
        let result = p.check().await.map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::error!(target = p.target(), error = %e, "publishing target is not usable; posts stay queued until it is fixed");
        }
        targets.push((p.target().to_owned(), result));
    }
    footprint.mark("publishers and their checks");
    let generator = Generator::new(
        store.clone(),
        queue.clone(),
        providers,
        config.generation.clone(),
    );
    footprint.mark("pipeline");
    let generator = generator
        .with_topics(crate::topics::Topics::new(
            store.clone(),
            config.topics.clone(),
        ))
        .with_sources(config.sources.clone());
    footprint.mark("topics and sources");
    let ops = Ops::new(&config, generator.stats().clone());
    footprint.mark("ops (stats, alert channels)");
    let images = config.image_generation.clone().and_then(|c| {
        crate::images::generated::ImageGenerator::new(c)
            .inspect_err(|e| tracing::warn!(error = %e, "generated images are off: posts get their social card"))
            .ok()
    });
    let router = JobRouter {
        generator,
        publishers: Arc::new(publishers),
        images,
        store: store.clone(),
        queue: queue.clone(),
        config: config.clone(),
        // The start-up check of the targets is the first health snapshot, so that the API and
        // the monitor report a misconfigured target at once, not after the first health tick.
        health: std::sync::Arc::new(tokio::sync::RwLock::new(Some(
            crate::jobs::HealthSnapshot {
                checked_at: crate::db::now_ms(),
                providers: Vec::new(),
                targets,
            },
        ))),
        ops: ops.clone(),
        last_reconcile: Arc::new(std::sync::atomic::AtomicI64::new(crate::db::now_ms())),
    };
    // What should exist and does not (a post without a live publish job, a generation job
    // that failed for lack of a provider) is put back before the workers start.
    router.reconcile().await;
    footprint.mark("reconcile");
    Ok(Parts {
        store,
        queue,
        router,
        ops,
        footprint,
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
    /// Monitoring, self-healing and alert state.
    pub ops: Ops,
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
    let mut footprint = parts.footprint;
    let orchestrator = Orchestrator::new(parts.router, parts.queue.clone(), config.clone());
    footprint.mark("orchestrator");
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
        queue: parts.queue.clone(),
        config: config.clone(),
        ops: parts.ops.clone(),
        sessions: crate::api::Sessions::new(parts.store.clone()),
        cards: card_renderer(&config),
    };
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let monitor = Monitor::new(
        parts.ops.clone(),
        orchestrator.clone(),
        parts.store.clone(),
        parts.queue.clone(),
        config.clone(),
    );
    footprint.mark("monitor");
    tasks.spawn(monitor.run(shutdown.child_token()));
    tasks.spawn(heartbeat(
        parts.store.clone(),
        orchestrator.clone(),
        config.role,
        shutdown.child_token(),
    ));
    let stop = shutdown.clone();
    let limits = config.limits;
    tasks.spawn(crate::api::serve::serve(
        listener,
        router(state),
        limits,
        stop,
    ));
    tracing::info!(%addr, "API listening");
    footprint.mark("API listening, heartbeat");
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
    match &parts.queue {
        QueueBackend::Sqlite(_) => orchestrator.boot().await?,
        QueueBackend::Redis(redis) => {
            let require = matches!(&config.queue.backend, QueueBackendConfig::Redis(r) if r.require_noeviction);
            match redis_ready(redis, require).await {
                Ok(()) => orchestrator.boot().await?,
                Err(RedisNotReady::Policy(message)) => {
                    return Err(StartError::RedisPolicy(message));
                }
                Err(RedisNotReady::Unreachable(e)) => {
                    tracing::error!(server = redis.server(), error = %e,
                        "Redis is unreachable: the API answers and reports the queue down; the workflow starts when Redis is back");
                    let (redis, orchestrator, stop) =
                        (redis.clone(), orchestrator.clone(), shutdown.clone());
                    tasks.spawn(async move {
                        let mut delay = std::time::Duration::from_millis(500);
                        loop {
                            tokio::select! {
                                _ = stop.cancelled() => return,
                                _ = tokio::time::sleep(delay) => {}
                            }
                            match redis_ready(&redis, require).await {
                                Ok(()) => break,
                                Err(RedisNotReady::Policy(message)) => {
                                    tracing::error!("{message}; the workflow does not start");
                                    return;
                                }
                                Err(RedisNotReady::Unreachable(e)) => {
                                    delay = (delay * 2).min(std::time::Duration::from_secs(10));
                                    tracing::warn!(server = redis.server(), error = %e, retry_in_ms = delay.as_millis() as u64, "Redis still unreachable");
                                }
                            }
                        }
                        tracing::info!(server = redis.server(), "Redis is reachable: starting the workflow");
                        if let Err(e) = orchestrator.boot().await {
                            tracing::error!(error = %e, "starting the workflow failed");
                        }
                    });
                }
            }
        }
    }
    footprint.mark("workflow");
    tracing::info!(memory = %footprint, "resident memory at start-up");
    Ok(Running {
        addr,
        orchestrator,
        store: parts.store,
        ops: parts.ops,
        shutdown,
        tasks,
    })
}

pub use crate::store::HEARTBEAT_SECS;

/// Records this process and its in-flight jobs in the store every [`HEARTBEAT_SECS`], and
/// removes it on a clean shutdown.
async fn heartbeat(
    store: Store,
    orchestrator: Orchestrator,
    role: crate::config::Role,
    stop: CancellationToken,
) {
    let host = crate::store::host_name();
    let started_at = crate::db::now_ms();
    let id = crate::store::process_identity().to_owned();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(HEARTBEAT_SECS));
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        let in_flight = orchestrator.in_flight();
        if let Err(e) = store
            .worker_beat(
                id.clone(),
                role.as_str(),
                host.clone(),
                started_at,
                in_flight,
            )
            .await
        {
            tracing::warn!(error = %e, "heartbeat not recorded");
        }
    }
    if let Err(e) = store.worker_gone(id).await {
        tracing::warn!(error = %e, "could not remove this process from the worker list");
    }
}

impl Running {
    /// Resolves when self-healing decided that the process must be restarted by its
    /// supervisor (the caller then shuts down and exits with a failure code).
    pub async fn exit_requested(&self) {
        self.ops.exit_requested().cancelled().await
    }

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

enum RedisNotReady {
    Unreachable(crate::queue::QueueError),
    Policy(String),
}

/// Redis answers and will not evict jobs. A server that does not allow `CONFIG` (some managed
/// services) only gets a warning: the operator has to check the policy there.
async fn redis_ready(redis: &RedisQueue, require_noeviction: bool) -> Result<(), RedisNotReady> {
    let rtt = redis.ping().await.map_err(RedisNotReady::Unreachable)?;
    match redis.maxmemory_policy().await {
        Ok(policy) if policy == "noeviction" => {}
        Ok(policy) => {
            let message = format!(
                "Redis at {} has maxmemory-policy {policy}: under memory pressure it deletes keys, jobs included. \
                 Set `maxmemory-policy noeviction` (redis.conf or CONFIG SET)",
                redis.server()
            );
            if require_noeviction {
                return Err(RedisNotReady::Policy(format!(
                    "{message}, or set queue.redis_require_noeviction = false to run anyway"
                )));
            }
            tracing::warn!("{message}");
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read Redis's maxmemory-policy; make sure it is noeviction")
        }
    }
    tracing::info!(
        server = redis.server(),
        prefix = redis.prefix(),
        rtt_us = rtt.as_micros() as u64,
        "Redis queue ready"
    );
    Ok(())
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
