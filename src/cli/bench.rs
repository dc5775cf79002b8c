//! `blogflow bench …`: benchmarks that print figures (the library's `bench` module measures).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
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
    /// The source reader per page (charset decoding and article extraction) and the grounding
    /// check per post, against parsing the HTML alone.
    Extract {
        /// Repetitions per page.
        #[arg(long, default_value_t = 200)]
        reps: usize,
    },
    /// Social cards: 20 titles (Korean and English, 5 to 120 characters) drawn, each against
    /// drawing a card with no text, in the same process.
    Cards {
        /// Repetitions per title.
        #[arg(long, default_value_t = 5)]
        reps: usize,
        /// Also write the cards into this folder.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Resident memory of an idle `blogflow run`.
    IdleRss {
        /// Seconds to let it settle.
        #[arg(long, default_value_t = 5)]
        settle: u64,
    },
}

/// Runs one benchmark.
pub async fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Store {
            posts,
            database_url,
        } => blogflow::bench::store(posts, database_url.as_deref()).await?,
        BenchCommand::Sampler { cycles } => blogflow::bench::sampler(cycles).await?,
        BenchCommand::Queue { jobs } => {
            blogflow::bench::queue(jobs).await?;
        }
        BenchCommand::RedisQueue {
            url,
            jobs,
            reps,
            only,
            json,
        } => {
            blogflow::bench::redis::run(&url, jobs, reps, only.as_deref(), json).await?;
        }
        BenchCommand::RedisWorker {
            url,
            prefix,
            jobs,
            concurrency,
            latency,
        } => {
            blogflow::bench::redis::worker(&url, &prefix, jobs, concurrency, latency).await?;
        }
        BenchCommand::Balancer {
            upstream,
            requests,
            concurrency,
        } => {
            blogflow::bench::balancer::run(&upstream, requests, concurrency).await?;
        }
        BenchCommand::PrintLocalPrompt => print!("{}", blogflow::bench::local_bench_prompt()),
        BenchCommand::LocalModel {
            model,
            tokens,
            threads,
            runs,
            json,
        } => {
            blogflow::bench::local_model(model, tokens, threads, runs, json).await?;
        }
        BenchCommand::Extract { reps } => blogflow::bench::extract(reps)?,
        BenchCommand::Cards { reps, out } => blogflow::bench::cards(reps, out.as_deref())?,
        BenchCommand::IdleRss { settle } => {
            blogflow::bench::idle_rss(settle).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
