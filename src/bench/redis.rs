//! `blogflow bench redis-queue`: the Redis backend measured with the workloads of the BullMQ
//! reference benchmark (`../shared/bench/bullmq`), so that `bench/redis_queue.sh` can print
//! both side by side from one run on one machine.
//!
//! As there, every worker measurement runs in a fresh process (`bench redis-worker`, this same
//! binary), peak RSS is that process's kernel high-water mark, job data is `{i}`, and the
//! repetitions of all cases are interleaved. Each run uses a fresh key prefix, deleted after.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{cpu_secs, pct, peak_rss_mib};
use crate::queue::worker::{ActiveJob, JobHandler, Worker, WorkerOptions};
use crate::queue::{JobError, NewJob, Queue, RedisOptions, RedisQueue};

const QUEUE: &str = "bench";

fn open(url: &str, prefix: &str) -> anyhow::Result<RedisQueue> {
    Ok(RedisQueue::new(&RedisOptions {
        url: url.to_owned(),
        prefix: prefix.to_owned(),
    })?)
}

fn fresh_prefix() -> String {
    format!("bfbench-{}", uuid::Uuid::new_v4().simple())
}

async fn drop_prefix(url: &str, prefix: &str) -> anyhow::Result<()> {
    let client = ::redis::Client::open(url)?;
    let mut c = client.get_multiplexed_async_connection().await?;
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut c)
            .await?;
        if !keys.is_empty() {
            let _: i64 = ::redis::cmd("UNLINK").arg(keys).query_async(&mut c).await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// Adds `n` jobs with `inflight` adds outstanding at a time; jobs per second.
async fn enqueue(q: &RedisQueue, n: usize, inflight: usize) -> anyhow::Result<f64> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut lanes = tokio::task::JoinSet::new();
    for _ in 0..inflight {
        let (q, next) = (q.clone(), next.clone());
        lanes.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(());
                }
                q.add(QUEUE, NewJob::new("job", json!({ "i": i }))).await?;
            }
        });
    }
    while let Some(r) = lanes.join_next().await {
        r??;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Counts completions; in latency mode also records add → start per `job` (not `warm`) job.
struct Recorder {
    started: std::sync::Mutex<Vec<f64>>,
    done: AtomicUsize,
    want: usize,
    latency: bool,
    finished: Notify,
}

impl JobHandler for Recorder {
    async fn handle(&self, job: ActiveJob) -> Result<Value, JobError> {
        if self.latency {
            if job.name != "job" {
                return Ok(Value::Null);
            }
            let t = job.payload["t"].as_i64().unwrap_or(0);
            self.started
                .lock()
                .expect("samples")
                .push((now_us() - t) as f64 / 1000.0);
        }
        if self.done.fetch_add(1, Ordering::Relaxed) + 1 == self.want {
            self.finished.notify_one();
        }
        Ok(Value::Null)
    }
}

/// The worker process of one measurement: runs a no-op handler at `concurrency` until `jobs`
/// jobs are done, then prints one JSON line. In latency mode it prints `{"ready":true}` once
/// it waits on the empty queue.
pub async fn worker(
    url: &str,
    prefix: &str,
    jobs: usize,
    concurrency: usize,
    latency: bool,
) -> anyhow::Result<()> {
    let q = open(url, prefix)?;
    let recorder = Arc::new(Recorder {
        started: Default::default(),
        done: AtomicUsize::new(0),
        want: jobs,
        latency,
        finished: Notify::new(),
    });
    let options = WorkerOptions {
        concurrency,
        ..WorkerOptions::default()
    };
    let cancel = CancellationToken::new();
    let cpu0 = cpu_secs();
    let started = Instant::now();
    let run = tokio::spawn(
        Worker::new(Arc::new(q.clone()), QUEUE, recorder.clone(), options).run(cancel.clone()),
    );
    if latency {
        tokio::time::sleep(Duration::from_secs(1)).await;
        println!("{}", json!({ "ready": true }));
    }
    recorder.finished.notified().await;
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu0;
    cancel.cancel();
    run.await?;
    let mut out = json!({
        "jobs": jobs, "concurrency": concurrency, "secs": secs, "rate": jobs as f64 / secs,
        "worker_cpu_secs": cpu, "peak_rss_mib": peak_rss_mib(),
    });
    if latency {
        let mut s = recorder.started.lock().expect("samples").clone();
        s.sort_by(f64::total_cmp);
        out["samples"] = json!(s.len());
        out["p50_ms"] = json!(pct(&s, 50.0));
        out["p95_ms"] = json!(pct(&s, 95.0));
        out["p99_ms"] = json!(pct(&s, 99.0));
        out["max_ms"] = json!(s.last().copied().unwrap_or(f64::NAN));
    }
    println!("{out}");
    Ok(())
}

async fn spawn_worker(
    url: &str,
    prefix: &str,
    jobs: usize,
    concurrency: usize,
    latency: bool,
) -> anyhow::Result<(
    tokio::process::Child,
    tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
)> {
    let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    cmd.args(["bench", "redis-worker", "--url", url, "--prefix", prefix])
        .args(["--jobs", &jobs.to_string()])
        .args(["--concurrency", &concurrency.to_string()]);
    if latency {
        cmd.arg("--latency");
    }
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().expect("piped stdout");
    Ok((child, tokio::io::BufReader::new(stdout).lines()))
}

async fn drain_case(url: &str, jobs: usize, concurrency: usize) -> anyhow::Result<Value> {
    let prefix = fresh_prefix();
    let q = open(url, &prefix)?;
    enqueue(&q, jobs, 50).await?;
    let (mut child, mut lines) = spawn_worker(url, &prefix, jobs, concurrency, false).await?;
    let line = lines
        .next_line()
        .await?
        .ok_or_else(|| anyhow::anyhow!("worker printed nothing"))?;
    child.wait().await?;
    drop_prefix(url, &prefix).await?;
    Ok(serde_json::from_str(&line)?)
}

/// Open loop: one add every 5 ms for 10 s (after 20 warm-up jobs), the worker in its own
/// process at concurrency 10.
async fn latency_case(url: &str) -> anyhow::Result<Value> {
    let (rate, secs) = (200usize, 10usize);
    let total = rate * secs;
    let prefix = fresh_prefix();
    let q = open(url, &prefix)?;
    let (mut child, mut lines) = spawn_worker(url, &prefix, total, 10, true).await?;
    let ready = lines.next_line().await?.unwrap_or_default();
    anyhow::ensure!(ready.contains("ready"), "worker not ready: {ready}");
    for i in 0..20 {
        q.add(QUEUE, NewJob::new("warm", json!({ "i": i, "t": now_us() })))
            .await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let interval = Duration::from_secs(1) / rate as u32;
    let t0 = Instant::now();
    let mut pending = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = t0 + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let q = q.clone();
        pending.spawn(async move {
            q.add(QUEUE, NewJob::new("job", json!({ "i": i, "t": now_us() })))
                .await
        });
    }
    while let Some(r) = pending.join_next().await {
        r??;
    }
    let achieved = total as f64 / t0.elapsed().as_secs_f64();
    let line = lines.next_line().await?.unwrap_or_default();
    child.wait().await?;
    drop_prefix(url, &prefix).await?;
    let mut v: Value = serde_json::from_str(&line)?;
    v["achieved_rate"] = json!(achieved);
    Ok(v)
}

fn median(mut xs: Vec<f64>) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    (xs[xs.len() / 2], xs[0], xs[xs.len() - 1])
}

/// Runs every case `reps` times, interleaved, and prints a table (and, with `json`, every run
/// as one JSON object on the last line, for `bench/redis_queue.sh`).
pub async fn run(
    url: &str,
    jobs: usize,
    reps: usize,
    only: Option<&str>,
    json_out: bool,
) -> anyhow::Result<()> {
    let wanted = |case: &str| only.is_none_or(|o| case.contains(o));
    let probe = open(url, "bfbench-probe")?;
    probe.ping().await?;
    let mut runs: Vec<(String, Value)> = Vec::new();
    for rep in 0..reps {
        eprintln!("rep {}/{reps}", rep + 1);
        for inflight in [1, 50] {
            if !wanted(&format!("enqueue-{inflight}")) {
                continue;
            }
            let prefix = fresh_prefix();
            let q = open(url, &prefix)?;
            let rate = enqueue(&q, 10_000, inflight).await?;
            drop_prefix(url, &prefix).await?;
            runs.push((format!("enqueue-{inflight}"), json!({ "rate": rate })));
        }
        for c in [1, 10, 50] {
            if wanted(&format!("drain-c{c}")) {
                runs.push((format!("drain-c{c}"), drain_case(url, jobs, c).await?));
            }
        }
        if wanted("latency") {
            runs.push(("latency".into(), latency_case(url).await?));
        }
    }
    let cell = |case: &str, field: &str| {
        let xs: Vec<f64> = runs
            .iter()
            .filter(|(c, _)| c == case)
            .filter_map(|(_, v)| v[field].as_f64())
            .collect();
        if xs.is_empty() {
            return "-".to_owned();
        }
        let (m, lo, hi) = median(xs);
        format!("{m:.1} ({lo:.1}–{hi:.1})")
    };
    println!("blogflow Redis queue, median (min–max) of {reps}");
    println!("| case | jobs/s | peak RSS MiB | worker CPU s |");
    println!("|---|---|---|---|");
    println!(
        "| add x10k, sequential | {} | | |",
        cell("enqueue-1", "rate")
    );
    println!(
        "| add x10k, 50 in flight | {} | | |",
        cell("enqueue-50", "rate")
    );
    for c in [1, 10, 50] {
        let case = format!("drain-c{c}");
        println!(
            "| drain {jobs} no-op jobs, concurrency {c} | {} | {} | {} |",
            cell(&case, "rate"),
            cell(&case, "peak_rss_mib"),
            cell(&case, "worker_cpu_secs")
        );
    }
    println!(
        "| latency add → start, 200/s x 10 s, c=10: p50 {} p95 {} p99 {} max {} ms | | {} | |",
        cell("latency", "p50_ms"),
        cell("latency", "p95_ms"),
        cell("latency", "p99_ms"),
        cell("latency", "max_ms"),
        cell("latency", "peak_rss_mib")
    );
    if json_out {
        let all: Vec<Value> = runs
            .into_iter()
            .map(|(case, v)| json!({ "case": case, "result": v }))
            .collect();
        println!("{}", Value::Array(all));
    }
    Ok(())
}
