//! Throughput of a cluster against a provider with 500 ms latency: posts per minute with 1, 2
//! and 4 `blogflow worker` processes (generation concurrency 1 each) behind one `serve`, on a
//! private Redis, each configuration on a fresh data dir. Figures are printed as ratios to the
//! one-worker run of the same process (and to the ideal of workers × 120 posts/min), since
//! these machines are shared and noisy.
//!
//!     cargo bench --bench cluster            # BENCH_POSTS=48 by default
//!
//! The provider is the tests' fake OpenAI server (a real HTTP server); nothing limits its
//! parallelism, so the ideal is linear.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::redis_server::RedisServer;
use support::{FakeOpenAi, Process, Reply, test_toml};

const LATENCY: Duration = Duration::from_millis(500);

async fn published(serve: &Process) -> u64 {
    let v: Value = serve.get("/api/automation/workflow").await;
    v["posts"]["published"].as_u64().unwrap_or(0)
}

/// Posts per minute with `workers` worker processes.
async fn run(fake: &FakeOpenAi, workers: usize, posts: usize) -> f64 {
    let redis = RedisServer::start(false).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blogflow.toml"), test_toml("")).unwrap();
    let url = redis.url();
    let env = [("REDIS_URL", url.as_str())];
    let serve = Process::spawn_as(dir.path(), fake, &env, &["serve"]).await;
    let mut pool = Vec::new();
    for _ in 0..workers {
        pool.push(
            Process::spawn_as(dir.path(), fake, &env, &["worker", "--concurrency", "1"]).await,
        );
    }
    serve
        .wait_for("/api/workers", "every worker to beat", |v| {
            v["workers"].as_array().unwrap().len() == workers + 1
        })
        .await;
    let started = Instant::now();
    for _ in 0..posts {
        serve.generate(1).await;
    }
    let deadline = started + Duration::from_secs(600);
    while published(&serve).await < posts as u64 {
        assert!(
            Instant::now() < deadline,
            "{workers} workers: not done in 10 min"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    for p in pool {
        p.terminate().await;
    }
    serve.terminate().await;
    posts as f64 / elapsed.as_secs_f64() * 60.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; anything else (e.g. `cargo test --benches`) only checks
    // that this builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let posts: usize = std::env::var("BENCH_POSTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48);
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::Slow(LATENCY));
    let ideal_one = 60.0 / LATENCY.as_secs_f64();
    println!(
        "cluster throughput, {posts} posts, provider latency {} ms",
        LATENCY.as_millis()
    );
    println!("| workers | posts/min | vs 1 worker | vs ideal (workers x {ideal_one:.0}/min) |");
    println!("|---|---|---|---|");
    let mut base = None;
    for workers in [1, 2, 4] {
        let rate = run(&fake, workers, posts).await;
        let base = *base.get_or_insert(rate);
        println!(
            "| {workers} | {rate:.1} | {:.2}x | {:.2} |",
            rate / base,
            rate / (ideal_one * workers as f64)
        );
    }
}
