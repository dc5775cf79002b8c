//! The `blogflow` command line: one file per subcommand, as cargo's `commands/` folder does.
//! Each parses its arguments and wires library parts together; none holds logic the API
//! could not reach.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use blogflow::config::{Config, Role, Sources};
use blogflow::generate::GenerateRequest;

mod bench;
mod config;
mod generate;
mod model;
mod posts;
mod run;
mod status;
mod topics;

#[derive(Parser)]
#[command(
    name = "blogflow",
    version,
    about = "Keeps an AI blog publishing on schedule, unattended."
)]
pub struct Cli {
    /// Configuration file (default: $BLOGFLOW_CONFIG, else ./blogflow.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
pub enum Command {
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
        command: topics::TopicsCommand,
    },
    /// Posts: list, approve or reject held ones.
    Posts {
        #[command(subcommand)]
        command: posts::PostsCommand,
    },
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: config::ConfigCommand,
    },
    /// Local model commands.
    Model {
        #[command(subcommand)]
        command: model::ModelCommand,
    },
    /// Benchmarks that print figures.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

impl Cli {
    /// Runs the parsed command.
    pub async fn execute(self) -> anyhow::Result<ExitCode> {
        let path = self.config.as_ref();
        match self.command {
            Command::Config {
                command: config::ConfigCommand::Check { online },
            } => Ok(config::check(path, online).await),
            Command::Run => run::run(path, Role::All, None).await,
            Command::Serve => run::run(path, Role::Serve, None).await,
            Command::Worker { concurrency } => run::run(path, Role::Worker, concurrency).await,
            Command::Generate {
                count,
                topic,
                category,
            } => {
                let request = GenerateRequest {
                    count,
                    topic,
                    category,
                };
                generate::generate(path, request).await
            }
            Command::Status { url } => status::status(path, url).await,
            Command::Topics { command } => topics::run(path, command).await,
            Command::Posts { command } => posts::run(path, command).await,
            Command::Model {
                command: model::ModelCommand::Fetch,
            } => model::fetch().await,
            Command::Bench { command } => bench::run(command).await,
        }
    }
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
