//! A cluster of real `blogflow` binaries: one Redis queue, `serve` processes (API, scheduler,
//! monitor) and `worker` processes (queue consumers), sharing one data directory's SQLite
//! store, or, as hosts would, nothing but Redis and a PostgreSQL store (`DATABASE_URL`).

mod support;

use serde_json::Value;
use support::redis_server::RedisServer;
use support::{FakeOpenAi, Process, Reply, test_toml};

/// A private Redis, a fake provider, an alert receiver, and a directory whose config monitors
/// every 0.5 s with quiet thresholds plus `monitoring` lines; `env` is every process's.
struct Alerting {
    redis: RedisServer,
    fake: FakeOpenAi,
    hook: support::AlertReceiver,
    dir: tempfile::TempDir,
    env: [(&'static str, String); 2],
}

impl Alerting {
    async fn start(monitoring: &str) -> Self {
        let redis = RedisServer::start(true).await;
        let hook = support::AlertReceiver::start().await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("blogflow.toml"),
            test_toml(&format!(
                "[monitoring]\ninterval_secs = 0.5\n{}{monitoring}",
                support::QUIET_THRESHOLDS
            )),
        )
        .unwrap();
        let env = [
            ("REDIS_URL", redis.url()),
            (
                "BLOGFLOW_ALERT_WEBHOOK_URL",
                format!("{}/alerts", hook.root),
            ),
        ];
        Self {
            redis,
            fake: FakeOpenAi::start().await,
            hook,
            dir,
            env,
        }
    }
}

/// The processes `/api/workers` lists, as (role, status, pid).
fn listed(v: &Value) -> Vec<(String, String, u64)> {
    v["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["role"].as_str().unwrap().to_owned(),
                w["status"].as_str().unwrap().to_owned(),
                w["pid"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_serve_and_two_workers_publish_each_post_once_when_a_worker_is_killed_mid_job() {
    let redis = RedisServer::start(true).await;
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::Slow(std::time::Duration::from_millis(300)));
    fake.script([Reply::Hang]); // the first post waits, so that a heartbeat shows it running
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blogflow.toml"), test_toml("")).unwrap();
    let url = redis.url();
    let env = [("REDIS_URL", url.as_str())];
    let serve = Process::spawn_as(dir.path(), &fake, &env, &["serve"]).await;
    let job = serve.generate(1).await;
    let state = serve
        .get(&format!("/api/jobs/content-generation/{job}"))
        .await;
    assert_eq!(
        state["state"], "waiting",
        "serve runs no workers: {state:#}"
    );

    let args = ["worker", "--concurrency", "2"];
    let mut w1 = Process::spawn_as(dir.path(), &fake, &env, &args).await;
    let w2 = Process::spawn_as(dir.path(), &fake, &env, &args).await;
    let pids = [
        serve.child.id().unwrap() as u64,
        w1.child.id().unwrap() as u64,
        w2.child.id().unwrap() as u64,
    ];
    let workers = serve
        .wait_for("/api/workers", "three processes to beat", |v| {
            listed(v).iter().filter(|(_, s, _)| s == "alive").count() == 3
        })
        .await;
    let mut roles: Vec<(String, u64)> = listed(&workers)
        .into_iter()
        .map(|(r, _, p)| (r, p))
        .collect();
    roles.sort_by_key(|(_, p)| *p);
    let mut expected = vec![
        ("serve".to_owned(), pids[0]),
        ("worker".to_owned(), pids[1]),
        ("worker".to_owned(), pids[2]),
    ];
    expected.sort_by_key(|(_, p)| *p);
    assert_eq!(roles, expected);
    let first = job.clone();
    serve
        .wait_for("/api/workers", "a worker to report the job it runs", |v| {
            v["workers"].as_array().unwrap().iter().any(|w| {
                w["role"] == "worker"
                    && w["in_flight"].as_array().unwrap().iter().any(|j| {
                        j["job_id"] == first.as_str() && j["queue"] == "content-generation"
                    })
            })
        })
        .await;
    fake.release(1);

    let mut jobs = vec![job];
    for _ in 0..11 {
        jobs.push(serve.generate(1).await);
    }
    // Kill one worker while posts are being written.
    fake.wait_for_requests(4).await;
    w1.child.start_kill().unwrap();
    w1.child.wait().await.unwrap();

    for job in &jobs {
        serve
            .wait_for(
                &format!("/api/jobs/content-generation/{job}"),
                "every job to complete",
                |j| j["state"] == "completed",
            )
            .await;
    }
    serve
        .wait_for("/api/automation/workflow", "every post published", |v| {
            v["posts"]["published"] == jobs.len()
        })
        .await;
    let posts = serve.get("/api/posts?limit=100").await;
    let posts = posts["posts"].as_array().unwrap();
    assert_eq!(posts.len(), jobs.len(), "one post per job");
    for post in posts {
        let detail = serve
            .get(&format!("/api/posts/{}", post["id"].as_str().unwrap()))
            .await;
        assert_eq!(detail["publications"].as_array().unwrap().len(), 1);
    }
    let files = support::markdown_posts(&dir.path().join("content"));
    assert_eq!(files, jobs.len(), "one file per post");

    let workers = serve
        .wait_for("/api/workers", "the killed worker to be lost", |v| {
            listed(v)
                .iter()
                .any(|(_, s, p)| *p == pids[1] && s == "lost")
        })
        .await;
    println!("{}", serde_json::to_string_pretty(&workers).unwrap());
    assert!(w2.terminate().await.success());
    let workers = serve.get("/api/workers").await;
    assert!(
        !listed(&workers).iter().any(|(_, _, p)| *p == pids[2]),
        "a worker that stops cleanly leaves the list: {workers:#}"
    );
    assert!(serve.terminate().await.success());
}

#[tokio::test]
async fn serve_and_worker_refuse_to_run_without_a_shared_queue() {
    let dir = tempfile::tempdir().unwrap();
    for role in ["serve", "worker"] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_blogflow"))
            .arg(role)
            .current_dir(dir.path())
            .env("BLOGFLOW_DATA_DIR", dir.path().join("data"))
            .env("BLOGFLOW_LOG_DIR", dir.path().join("logs"))
            .env_remove("REDIS_URL")
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{role}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("REDIS_URL"),
            "{role} says what to set: {stderr}"
        );
    }
}

/// A `content-generation` job's counts from a workflow view: waiting, delayed and active.
fn unfinished(v: &Value, queue: &str) -> u64 {
    let c = &v["queues"][queue]["counts"];
    ["waiting", "delayed", "active"]
        .iter()
        .map(|k| c[k].as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn two_serve_and_three_workers_fire_each_tick_once_and_publish_each_post_once_through_kills()
{
    let redis = RedisServer::start(true).await;
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = "[[schedules]]\nname = \"posts\"\ncron = \"* * * * * *\"\naction = \"generate\"\ncount = 5\n\
        [queue]\nlease_secs = 2\nstalled_interval_secs = 1\npoll_interval_ms = 50\nshutdown_grace_secs = 5\n";
    std::fs::write(dir.path().join("blogflow.toml"), toml).unwrap();
    // As on five hosts: each process has a data directory of its own, and they share only
    // Redis, PostgreSQL and the published files.
    let url = redis.url();
    let database = support::postgres::Database::fresh();
    let spawn = |name: &str, args: &'static [&'static str]| {
        let data = dir.path().join(format!("data-{name}"));
        let (fake, url, database, dir) = (&fake, url.clone(), database.url.clone(), dir.path());
        async move {
            let data = data.to_str().unwrap().to_owned();
            let env = [
                ("REDIS_URL", url.as_str()),
                ("DATABASE_URL", database.as_str()),
                ("BLOGFLOW_DATA_DIR", data.as_str()),
            ];
            Process::spawn_as(dir, fake, &env, args).await
        }
    };
    const WORKER: &[&str] = &["worker", "--concurrency", "2"];
    let mut s1 = spawn("s1", &["serve"]).await;
    let s2 = spawn("s2", &["serve"]).await;
    let mut w1 = spawn("w1", WORKER).await;
    let w2 = spawn("w2", WORKER).await;
    let w3 = spawn("w3", WORKER).await;

    let ticks = |v: &Value| {
        v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| j["id"].as_str().unwrap().starts_with("sched-posts-"))
            .count()
    };
    let done = "/api/jobs?queue=content-generation&state=completed&limit=500";
    s2.wait_for(done, "8 ticks written", |v| ticks(v) >= 8)
        .await;
    // Lose a scheduler and a worker in the middle (SIGKILL: no clean shutdown).
    for p in [&mut s1, &mut w1] {
        p.child.start_kill().unwrap();
        p.child.wait().await.unwrap();
    }
    s2.wait_for(done, "20 ticks written", |v| ticks(v) >= 20)
        .await;
    // No more ticks: the last scheduler stops; the workers finish what is queued.
    assert!(s2.terminate().await.success());
    w2.wait_for("/api/automation/workflow", "the queues to drain", |v| {
        unfinished(v, "content-generation") == 0 && unfinished(v, "blog-publishing") == 0
    })
    .await;

    let jobs = w2.get(done).await;
    let ticks: Vec<&Value> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["id"].as_str().unwrap().starts_with("sched-posts-"))
        .collect();
    let n = ticks.len();
    assert!(n >= 20, "{n} ticks");
    // Two schedulers fired every second. Had a tick fired twice (two jobs for one second
    // under different ids) there would be about two jobs per second, not one.
    let created: Vec<i64> = ticks
        .iter()
        .map(|j| j["created_at"].as_i64().unwrap())
        .collect();
    let span_ms = created.iter().max().unwrap() - created.iter().min().unwrap();
    let seconds = (span_ms / 1000 + 2) as usize;
    assert!(n <= seconds, "{n} jobs in {span_ms} ms");

    let workflow = w2.get("/api/automation/workflow").await;
    let posts = w2.get("/api/posts?limit=500").await;
    let posts = posts["posts"].as_array().unwrap();
    println!(
        "{n} ticks over {seconds} s, {} posts, {} provider requests",
        posts.len(),
        fake.requests()
    );
    assert_eq!(posts.len(), 5 * n, "five posts per tick, no more");
    assert_eq!(workflow["posts"]["published"], 5 * n);
    for post in posts {
        let detail = w2
            .get(&format!("/api/posts/{}", post["id"].as_str().unwrap()))
            .await;
        assert_eq!(
            detail["publications"].as_array().unwrap().len(),
            1,
            "published once: {detail:#}"
        );
    }
    let files = support::markdown_posts(&dir.path().join("content"));
    assert_eq!(files, 5 * n, "one file per post");
    assert!(w2.terminate().await.success());
    assert!(w3.terminate().await.success());
}

#[tokio::test]
async fn an_outage_every_process_sees_is_alerted_once_by_the_deployment() {
    let Alerting {
        mut redis,
        fake,
        hook,
        dir,
        env,
    } = Alerting::start("").await;
    let env = env.each_ref().map(|(k, v)| (*k, v.as_str()));
    let serve = Process::spawn_as(dir.path(), &fake, &env, &["serve"]).await;
    let w1 = Process::spawn_as(dir.path(), &fake, &env, &["worker"]).await;
    let w2 = Process::spawn_as(dir.path(), &fake, &env, &["worker"]).await;
    let all = [&serve, &w1, &w2];
    let queue_ok = |h: &Value| h["components"]["queue"]["status"] == "ok";
    // Whether a process's own monitor has the queue alert raised (what it would send alone).
    let raised = |h: &Value| {
        h["alerts"]["active"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["key"] == "queue")
    };
    for p in all {
        p.wait_for("/api/automation/health", "the queue checked", queue_ok)
            .await;
    }

    redis.kill();
    // Every process sees the outage and raises the alert...
    for p in all {
        p.wait_for("/api/automation/health", "the alert raised", raised)
            .await;
    }
    redis.restart().await;
    for p in all {
        p.wait_for("/api/automation/health", "the alert resolved", |h| {
            !raised(h)
        })
        .await;
    }
    // ...and the operator hears of it once: one raise, one resolve.
    let got = hook
        .wait_until("the resolve", |g| {
            support::queue_alerts(g)
                .iter()
                .any(|a| a.starts_with("resolved"))
        })
        .await;
    assert_eq!(
        support::queue_alerts(&got),
        ["firing/critical", "resolved/critical"]
    );
    for p in [serve, w1, w2] {
        assert!(p.terminate().await.success());
    }
}

#[tokio::test]
async fn a_serve_reports_the_provider_health_its_workers_checked() {
    let redis = RedisServer::start(true).await;
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = "[[schedules]]\nname = \"health\"\ncron = \"* * * * * *\"\naction = \"health_check\"\n\
        [queue]\nlease_secs = 2\nstalled_interval_secs = 1\npoll_interval_ms = 50\nshutdown_grace_secs = 5\n";
    std::fs::write(dir.path().join("blogflow.toml"), toml).unwrap();
    let url = redis.url();
    let env = [("REDIS_URL", url.as_str())];
    // The serve runs no jobs: every health check runs in the worker.
    let serve = Process::spawn_as(dir.path(), &fake, &env, &["serve"]).await;
    let worker = Process::spawn_as(dir.path(), &fake, &env, &["worker"]).await;
    let provider_is =
        |status: &'static str| move |h: &Value| h["checks"]["providers"][0]["status"] == status;
    serve
        .wait_for(
            "/api/automation/health",
            "the provider checked",
            provider_is("ok"),
        )
        .await;
    fake.set_models_down(true);
    let health = serve
        .wait_for(
            "/api/automation/health",
            "the provider failing",
            provider_is("failing"),
        )
        .await;
    assert_eq!(health["status"], "degraded", "{health:#}");
    let providers = serve.get("/api/providers").await;
    assert_eq!(providers["providers"][0]["status"], "failing");
    for p in [worker, serve] {
        assert!(p.terminate().await.success());
    }
}

/// Each process reserves its own slots under the daily cap; the store's insert is what holds
/// the cap between processes writing at the same time.
#[tokio::test]
async fn workers_writing_at_once_in_two_processes_stay_within_the_daily_post_cap() {
    let redis = RedisServer::start(true).await;
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::Slow(std::time::Duration::from_millis(300)));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("blogflow.toml"),
        test_toml("[generation]\ndaily_post_cap = 3\nparallelism = 3"),
    )
    .unwrap();
    let url = redis.url();
    let env = [("REDIS_URL", url.as_str())];
    let serve = Process::spawn_as(dir.path(), &fake, &env, &["serve"]).await;
    let jobs = [serve.generate(3).await, serve.generate(3).await];
    let args = ["worker", "--concurrency", "1"];
    let w1 = Process::spawn_as(dir.path(), &fake, &env, &args).await;
    let w2 = Process::spawn_as(dir.path(), &fake, &env, &args).await;
    let mut errors = Vec::new();
    for job in &jobs {
        let done = serve
            .wait_for(
                &format!("/api/jobs/content-generation/{job}"),
                "both jobs to end",
                |j| j["state"] == "completed" || j["state"] == "failed",
            )
            .await;
        // A post over the cap is skipped, not failed: the job completes and says why.
        errors.push(done["result"]["skipped_reason"].clone());
        errors.push(done["last_error"].clone());
    }
    let costs = serve.get("/api/costs").await;
    assert_eq!(costs["today"]["posts"], 3, "{costs:#}\n{errors:?}");
    assert!(
        errors.iter().any(|e| e
            .as_str()
            .is_some_and(|e| e.contains("daily post cap of 3"))),
        "{errors:?}"
    );
    for p in [w1, w2, serve] {
        assert!(p.terminate().await.success());
    }
}

/// Slow generations happen in workers, which do not hold the deployment's alert lease (the
/// `serve` started first does): the worker says so itself, naming where.
#[tokio::test]
async fn a_worker_that_is_not_the_alert_leader_still_alerts_what_only_it_sees() {
    let Alerting {
        redis: _redis,
        fake,
        hook,
        dir,
        env,
    } = Alerting::start("generation_warn_secs = 0.05\ngeneration_critical_secs = 3600\n").await;
    fake.set_default(Reply::Slow(std::time::Duration::from_millis(300)));
    let env = env.each_ref().map(|(k, v)| (*k, v.as_str()));
    let serve = Process::spawn_as(dir.path(), &fake, &env, &["serve"]).await;
    let worker =
        Process::spawn_as(dir.path(), &fake, &env, &["worker", "--concurrency", "1"]).await;
    let pid = worker.child.id().unwrap();
    let job = serve.generate(12).await;
    let alerts = |g: &[support::Received]| -> Vec<Value> {
        g.iter()
            .flat_map(|r| r.body["alerts"].as_array().cloned().unwrap_or_default())
            .filter(|a| a["key"] == "generation")
            .collect()
    };
    let got = hook
        .wait_until("the worker's generation-time alert", |g| {
            !alerts(g).is_empty()
        })
        .await;
    let alert = &alerts(&got)[0];
    let message = alert["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("[worker process {pid} on ")),
        "{alert:#}"
    );
    serve
        .wait_for(
            &format!("/api/jobs/content-generation/{job}"),
            "the job to complete",
            |j| j["state"] == "completed",
        )
        .await;
    for p in [worker, serve] {
        assert!(p.terminate().await.success());
    }
}
