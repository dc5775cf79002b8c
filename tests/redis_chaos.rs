//! The Redis backend under failure, with the real binary and a private `redis-server` per
//! test: a worker process killed mid-job, Redis killed and restarted while jobs flow, and
//! Redis down when blogflow starts.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::redis_server::{RedisServer, free_port};
use support::{
    AlertReceiver, FakeOpenAi, Process, QUIET_THRESHOLDS, Reply, TOKEN, queue_alerts, test_toml,
};

fn markdown_count(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("content")).map_or(0, |entries| {
        entries
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "md")
            })
            .count()
    })
}

/// Asks for one post; `None` when the API refused (e.g. the queue is down): such a request
/// was never acknowledged.
async fn try_generate(http: &reqwest::Client, base: &str) -> Option<String> {
    let started = Instant::now();
    let sent = http
        .post(format!("{base}/api/automation/workflow"))
        .bearer_auth(TOKEN)
        .json(&json!({"action": "generate_content", "count": 1}))
        .send()
        .await;
    if started.elapsed() > Duration::from_secs(5) {
        // The API's goal is 5 s even while Redis is down; say so if a request took longer.
        eprintln!("a generate request took {:?}: {sent:?}", started.elapsed());
    }
    let r = sent.ok()?;
    if !r.status().is_success() {
        return None;
    }
    let v: Value = r.json().await.ok()?;
    v["job_id"].as_str().map(str::to_owned)
}

/// Every post published exactly once: one file per post and one publication per post.
async fn assert_published_once(p: &Process, dir: &Path, expected: usize) {
    // Publishing runs as jobs of its own after generation: wait for them first.
    p.wait_for("/api/automation/workflow", "every post published", |w| {
        w["posts"]["published"] == expected
    })
    .await;
    let posts = p.get("/api/posts?limit=500").await;
    let posts = posts["posts"].as_array().unwrap();
    assert_eq!(posts.len(), expected, "posts stored");
    assert_eq!(markdown_count(dir), expected, "files published");
    for post in posts {
        let detail = p
            .get(&format!("/api/posts/{}", post["id"].as_str().unwrap()))
            .await;
        assert_eq!(
            detail["publications"].as_array().unwrap().len(),
            1,
            "published once: {detail:#}"
        );
    }
}

#[tokio::test]
async fn a_worker_killed_mid_job_is_replaced_by_another_within_lock_plus_two_stall_intervals() {
    let redis = RedisServer::start(true).await;
    let fake = FakeOpenAi::start().await;
    fake.script([Reply::Hang, Reply::Post]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blogflow.toml"), test_toml("")).unwrap();
    let url = redis.url();
    let env = [("REDIS_URL", url.as_str())];

    let mut a = Process::spawn(dir.path(), &fake, &env).await;
    let job_id = a.generate(1).await;
    fake.wait_for_requests(1).await; // A holds the job, its provider call hangs
    let b = Process::spawn(dir.path(), &fake, &env).await;
    let job = b
        .get(&format!("/api/jobs/content-generation/{job_id}"))
        .await;
    assert_eq!(job["state"], "active", "B sees A's job through Redis");

    a.child.start_kill().unwrap(); // SIGKILL
    a.child.wait().await.unwrap();
    let killed_at = chrono::Utc::now().timestamp_millis();

    let job = b
        .wait_for(
            &format!("/api/jobs/content-generation/{job_id}"),
            "the other worker to complete the job",
            |j| j["state"] == "completed",
        )
        .await;
    assert_eq!(job["stalled_count"], 1, "{job:#}");
    assert_eq!(job["attempts_made"], 0, "a crash is not a failed attempt");
    // lease_secs = 2 and stalled_interval_secs = 1 in test_toml: the job must be picked up
    // again within lock + 2 × stall interval of the kill (its lock was renewed up to then).
    let restarted_after = job["started_at"].as_i64().unwrap() - killed_at;
    println!("job restarted {restarted_after} ms after the kill (bound 4000 ms)");
    assert!(restarted_after <= 4_000, "{restarted_after} ms: {job:#}");
    b.wait_for(
        "/api/automation/workflow",
        "the post to be published",
        |v| v["posts"]["published"] == 1,
    )
    .await;
    assert_published_once(&b, dir.path(), 1).await;
    assert_eq!(fake.requests(), 2);
    assert!(b.terminate().await.success());
}

#[tokio::test]
async fn redis_killed_and_restarted_while_jobs_flow_loses_nothing_acknowledged() {
    let mut redis = RedisServer::start(true).await;
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blogflow.toml"), test_toml("")).unwrap();
    let url = redis.url();
    let p = Process::spawn(dir.path(), &fake, &[("REDIS_URL", url.as_str())]).await;
    let http = support::http();

    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for i in 0..40 {
        if i == 15 {
            redis.kill();
        }
        if i == 22 {
            redis.restart().await;
        }
        match try_generate(&http, &p.base).await {
            Some(id) => acknowledged.push(id),
            None => refused += 1,
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    println!(
        "{} acknowledged, {refused} refused during the outage",
        acknowledged.len()
    );
    assert!(refused > 0, "the outage was noticed");
    assert!(acknowledged.len() >= 30, "{}", acknowledged.len());

    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    for id in &acknowledged {
        loop {
            let job = p.get(&format!("/api/jobs/content-generation/{id}")).await;
            if job["state"] == "completed" {
                break;
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.path().join("logs/workflow.log"))
                    .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(150).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "acknowledged job {id} did not complete: {job:#}\nthe log's end:\n{}",
                    tail.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    println!(
        "all completed {:?} after the last request",
        started.elapsed()
    );
    assert_published_once(&p, dir.path(), acknowledged.len()).await;
    let health = p.get("/api/automation/health").await;
    assert_eq!(health["checks"]["queue"]["status"], "ok", "{health:#}");
    assert!(p.terminate().await.success());
}

#[tokio::test]
async fn redis_down_at_start_reports_degraded_then_recovers_by_itself() {
    let port = free_port();
    let mut redis = RedisServer::stopped(port, false);
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blogflow.toml"), test_toml("")).unwrap();
    let url = redis.url();
    let p = Process::spawn(dir.path(), &fake, &[("REDIS_URL", url.as_str())]).await;

    let health = p.get("/api/automation/health").await;
    assert_eq!(health["status"], "degraded", "{health:#}");
    assert_eq!(health["checks"]["queue"]["status"], "failing");
    assert_eq!(health["checks"]["queue"]["backend"], "redis");
    assert!(
        try_generate(&support::http(), &p.base).await.is_none(),
        "no job is acknowledged while the queue is down"
    );

    redis.restart().await;
    p.wait_for("/api/automation/health", "the queue to be back", |h| {
        h["checks"]["queue"]["status"] == "ok"
    })
    .await;
    p.wait_for("/api/automation/workflow", "the workflow to start", |w| {
        w["state"] == "running"
    })
    .await;
    let job_id = p.generate(1).await;
    p.wait_for(
        &format!("/api/jobs/content-generation/{job_id}"),
        "the job to complete",
        |j| j["state"] == "completed",
    )
    .await;
    assert_published_once(&p, dir.path(), 1).await;
    assert!(p.terminate().await.success());
    let errors = std::fs::read_to_string(dir.path().join("logs/error.log")).unwrap();
    assert!(
        errors.contains("Redis is unreachable"),
        "the operator is told: {errors}"
    );
}

#[tokio::test]
async fn a_redis_that_may_evict_jobs_is_refused_unless_the_operator_accepts_it() {
    let redis = RedisServer::start_with_policy("allkeys-lru").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blogflow.toml"), test_toml("")).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_blogflow"))
        .arg("run")
        .current_dir(dir.path())
        .env("BLOGFLOW_LISTEN", "127.0.0.1:0")
        .env("BLOGFLOW_DATA_DIR", dir.path().join("data"))
        .env("BLOGFLOW_LOG_DIR", dir.path().join("logs"))
        .env("REDIS_URL", redis.url())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success(), "refused to start");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("maxmemory-policy allkeys-lru")
            && stderr.contains("noeviction")
            && stderr.contains("redis_require_noeviction"),
        "says what to fix: {stderr}"
    );

    let fake = FakeOpenAi::start().await;
    let toml = test_toml("").replace("[queue]\n", "[queue]\nredis_require_noeviction = false\n");
    std::fs::write(dir.path().join("blogflow.toml"), toml).unwrap();
    let url = redis.url();
    let p = Process::spawn(dir.path(), &fake, &[("REDIS_URL", url.as_str())]).await;
    p.wait_for("/api/automation/workflow", "the workflow to start", |w| {
        w["state"] == "running"
    })
    .await;
    assert!(p.terminate().await.success());
    let errors = std::fs::read_to_string(dir.path().join("logs/error.log")).unwrap();
    assert!(errors.contains("allkeys-lru"), "warned loudly: {errors}");
}

async fn readyz(http: &reqwest::Client, base: &str) -> u16 {
    http.get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn redis_stopped_under_a_running_service_turns_it_not_ready_alerts_and_recovers_in_place() {
    const INTERVAL_SECS: f64 = 2.0;
    let mut redis = RedisServer::start(true).await;
    let fake = FakeOpenAi::start().await;
    let hook = AlertReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("blogflow.toml"),
        test_toml(&format!(
            "[monitoring]\ninterval_secs = {INTERVAL_SECS}\n{QUIET_THRESHOLDS}"
        )),
    )
    .unwrap();
    let (url, hook_url) = (redis.url(), format!("{}/alerts", hook.root));
    let p = Process::spawn(
        dir.path(),
        &fake,
        &[
            ("REDIS_URL", url.as_str()),
            ("BLOGFLOW_ALERT_WEBHOOK_URL", hook_url.as_str()),
        ],
    )
    .await;
    let http = support::http();
    p.wait_for("/api/automation/workflow", "the workflow to run", |w| {
        w["state"] == "running"
    })
    .await;
    assert_eq!(readyz(&http, &p.base).await, 200);
    let first = p.generate(1).await;
    p.wait_for(
        &format!("/api/jobs/content-generation/{first}"),
        "the first post",
        |j| j["state"] == "completed",
    )
    .await;

    redis.kill();
    let stopped = Instant::now();
    while readyz(&http, &p.base).await != 503 {
        assert!(
            stopped.elapsed() < Duration::from_secs(30),
            "/readyz never turned 503"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let not_ready_after = stopped.elapsed();
    eprintln!(
        "/readyz answered 503 {} ms after Redis was killed",
        not_ready_after.as_millis()
    );
    assert!(
        not_ready_after <= Duration::from_secs_f64(INTERVAL_SECS),
        "not ready within one check interval: {not_ready_after:?}"
    );
    let live = http
        .get(format!("{}/healthz", p.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        live.status().as_u16(),
        200,
        "liveness does not depend on Redis"
    );
    let got = hook
        .wait_until("the critical queue alert", |g| !queue_alerts(g).is_empty())
        .await;
    assert_eq!(queue_alerts(&got), ["firing/critical"]);
    eprintln!(
        "critical alert received {} ms after the kill",
        stopped.elapsed().as_millis()
    );
    let health = p.get("/api/automation/health").await;
    assert_eq!(
        health["components"]["queue"]["status"], "failing",
        "{health:#}"
    );
    assert!(
        health["components"]["queue"]["last_error"].is_string(),
        "{health:#}"
    );

    redis.restart().await;
    let got = hook
        .wait_until("the resolve", |g| queue_alerts(g).len() == 2)
        .await;
    assert_eq!(queue_alerts(&got), ["firing/critical", "resolved/critical"]);
    assert_eq!(readyz(&http, &p.base).await, 200);
    // The same process carries on: a new request is generated and published.
    let second = p.generate(1).await;
    p.wait_for(
        &format!("/api/jobs/content-generation/{second}"),
        "the second post",
        |j| j["state"] == "completed",
    )
    .await;
    p.wait_for("/api/automation/workflow", "both posts published", |w| {
        w["posts"]["published"] == 2
    })
    .await;
    assert_published_once(&p, dir.path(), 2).await;
    assert!(p.terminate().await.success());
    let perf = std::fs::read_to_string(dir.path().join("logs/performance.log")).unwrap();
    assert!(
        perf.lines()
            .any(|l| l.contains("memory_pct") && l.contains("queue_waiting")),
        "a sample line per interval in performance.log"
    );
}
