//! What only the Redis backend has: wake-ups across processes, and interoperation with BullMQ
//! itself, Node's (npm `bullmq`, installed by the test) and Rust's (`bullmq-official`).
//! The machine's Redis is used with a fresh key prefix per test.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use blogflow::queue::{
    Backoff, JobOptions, JobState, NewJob, Queue, RedisOptions, RedisQueue, SystemClock,
};
use serde_json::{Value, json};
use support::{FakeOpenAi, Process, test_toml};

fn redis_url() -> String {
    std::env::var("BLOGFLOW_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A fresh prefix whose keys are deleted when dropped.
struct Prefix(String);

impl Prefix {
    fn new() -> Self {
        Self(format!("bf-interop-{}", uuid::Uuid::new_v4().simple()))
    }
    fn queue(&self) -> RedisQueue {
        RedisQueue::with_clock(
            &RedisOptions {
                url: redis_url(),
                prefix: self.0.clone(),
            },
            Arc::new(SystemClock),
        )
        .unwrap()
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        let client = ::redis::Client::open(redis_url()).unwrap();
        let mut c = client.get_connection().unwrap();
        let keys: Vec<String> = ::redis::cmd("KEYS")
            .arg(format!("{}:*", self.0))
            .query(&mut c)
            .unwrap();
        if !keys.is_empty() {
            let _: i64 = ::redis::cmd("DEL").arg(keys).query(&mut c).unwrap();
        }
    }
}

/// Installs the pinned Node BullMQ once into `target/bullmq-interop` and returns that dir.
fn node_bullmq() -> PathBuf {
    support::npm_install_once(
        "interop",
        "bullmq-interop",
        &["package.json", "bullmq_interop.mjs"],
        "bullmq",
    )
}

async fn node(args: &[&str]) -> Value {
    let dir = tokio::task::spawn_blocking(node_bullmq).await.unwrap();
    let out = tokio::process::Command::new("node")
        .arg("bullmq_interop.mjs")
        .args(args)
        .current_dir(&dir)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "node {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "node printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[tokio::test]
async fn jobs_added_by_another_process_wake_idle_workers_at_once() {
    let prefix = Prefix::new();
    let (producer, consumer) = (prefix.queue(), prefix.queue());
    let mut signal = consumer.work_signal();
    signal.borrow_and_update();
    assert!(
        consumer
            .claim("q", Duration::from_secs(5), 1)
            .await
            .unwrap()
            .is_empty()
    );
    // The listener announces itself once connected (jobs may have waited during an outage).
    tokio::time::timeout(Duration::from_secs(10), signal.changed())
        .await
        .expect("listener connected")
        .unwrap();
    producer
        .add("q", NewJob::new("t", json!({})))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), signal.changed())
        .await
        .expect("the other process's add woke this one")
        .unwrap();
    assert_eq!(
        consumer
            .claim("q", Duration::from_secs(5), 1)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_node_bullmq_producer_gets_posts_written_by_blogflow() {
    let prefix = Prefix::new();
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blogflow.toml"), test_toml("")).unwrap();
    let url = redis_url();
    let p = Process::spawn(
        dir.path(),
        &fake,
        &[
            ("REDIS_URL", url.as_str()),
            ("BLOGFLOW_REDIS_PREFIX", prefix.0.as_str()),
        ],
    )
    .await;

    let out = node(&["produce", &url, &prefix.0]).await;
    println!("node read back: {out}");
    assert_eq!(out["state"], "completed", "{out:#}");
    assert_eq!(
        out["attemptsMade"], 1,
        "BullMQ counts the finishing attempt"
    );
    let generated = out["returnvalue"]["generated"]
        .as_array()
        .unwrap_or_else(|| panic!("a result listing the posts: {out:#}"));
    assert_eq!(generated.len(), 2, "{out:#}");
    assert_eq!(out["stored_returnvalue"], out["returnvalue"]);
    let posts = p.get("/api/posts").await;
    let stored: Vec<&str> = posts["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    for post in generated {
        let id = post["post_id"].as_str().or(post.as_str()).unwrap();
        assert!(stored.contains(&id), "{id} is in blogflow's store");
    }
    let job = p
        .get(&format!(
            "/api/jobs/content-generation/{}",
            out["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(job["name"], "content_generation");
    assert_eq!(job["max_attempts"], 3);
    assert!(p.terminate().await.success());
}

#[tokio::test]
async fn a_node_bullmq_worker_runs_jobs_blogflow_added() {
    let prefix = Prefix::new();
    let q = prefix.queue();
    let mut ids = Vec::new();
    for n in 1..=3 {
        let opts = JobOptions {
            priority: n,
            attempts: 2,
            backoff: Backoff::Fixed { delay_ms: 10 },
            ..JobOptions::default()
        };
        let id = q
            .add(
                "interop",
                NewJob::new("double", json!({ "n": n })).with_options(opts),
            )
            .await
            .unwrap();
        ids.push(id.id().to_owned());
    }
    let url = redis_url();
    let out = node(&["consume", &url, &prefix.0, "interop", "3"]).await;
    assert_eq!(out["processed"], 3, "{out:#}");
    for (n, id) in (1..=3).zip(&ids) {
        let job = q.get("interop", id).await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Completed, "{job:?}");
        assert_eq!(job.result, Some(json!({ "doubled": n * 2, "attempt": 1 })));
    }
}

#[tokio::test]
async fn bullmq_official_and_blogflow_read_each_others_jobs() {
    let prefix = Prefix::new();
    let ours = prefix.queue();
    let opts = bullmq::QueueOptions {
        prefix: prefix.0.clone(),
        connection: bullmq::options::RedisConnectionOptions {
            url: redis_url(),
            ..Default::default()
        },
        ..bullmq::QueueOptions::new()
    };
    let theirs = bullmq::Queue::with_options("content-generation", opts)
        .await
        .unwrap();

    // Rust BullMQ → blogflow.
    let added = theirs
        .add("content_generation", json!({ "count": 1 }))
        .attempts(4)
        .await
        .unwrap();
    let claimed = ours
        .claim("content-generation", Duration::from_secs(10), 5)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let job = &claimed[0];
    assert_eq!(job.lease.job_id, added.id());
    assert_eq!(
        (job.name.as_str(), job.attempt, job.max_attempts),
        ("content_generation", 1, 4)
    );
    assert_eq!(job.payload, json!({ "count": 1 }));
    ours.complete(&job.lease, json!({ "generated": ["p1"] }))
        .await
        .unwrap();
    let read = theirs.get_job(added.id()).await.unwrap().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(read.returnvalue()).unwrap(),
        json!({ "generated": ["p1"] })
    );
    assert_eq!(
        theirs.get_job_state(added.id()).await.unwrap(),
        bullmq::JobState::Completed
    );

    // blogflow → Rust BullMQ.
    let id = ours
        .add(
            "content-generation",
            NewJob::new("content_generation", json!({ "count": 2 })).with_options(JobOptions {
                priority: 3,
                attempts: 5,
                ..JobOptions::default()
            }),
        )
        .await
        .unwrap();
    let read = theirs.get_job(id.id()).await.unwrap().unwrap();
    assert_eq!(read.name(), "content_generation");
    assert_eq!(read.data(), &json!({ "count": 2 }));
    assert_eq!((read.priority(), read.opts().attempts), (3, Some(5)));
    assert_eq!(
        theirs.get_job_state(id.id()).await.unwrap(),
        bullmq::JobState::Prioritized
    );
    assert_eq!(theirs.get_prioritized_count().await.unwrap(), 1);
}

/// The lease keeper renews leases from a thread of its own whose runtime has timers but no I/O
/// driver. If the connection is first made (or remade after a Redis restart) from there, it must
/// still work, and must keep working for the rest of the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_first_used_from_a_timer_only_runtime_works_everywhere() {
    let prefix = Prefix::new();
    let queue = prefix.queue();
    let from_thread = queue.clone();
    let pinged = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async move { from_thread.ping().await.map(|_| ()) })
    })
    .join();
    assert!(
        matches!(pinged, Ok(Ok(()))),
        "ping from the keeper's kind of runtime: {pinged:?}"
    );
    queue.ping().await.expect("ping from the main runtime");
}
