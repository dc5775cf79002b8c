//! Dependencies down for hours, in simulated time: every provider failing for 6 h, WordPress-
//! and Ghost-shaped targets down for 24 h, a burst of 404, a `Retry-After` of 30 years, a
//! provider that hangs after its headers, a daily cap. Nothing may end `failed`, and every post
//! must be written and published exactly once after recovery, without a human.
//!
//! The real job router, queue (SQLite), store, providers and publishers run against fakes that
//! speak the wire formats; the queue and the providers' breakers run on one manual clock that
//! the test moves to the next moment anything is due, so hours pass in seconds.

mod support;

use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use blogflow::config::{Config, Env, RawConfig};
use blogflow::db::Db;
use blogflow::generate::{GenerateRequest, Generator};
use blogflow::jobs::{JobRouter, generation_job};
use blogflow::publish::{GhostPublisher, MarkdownPublisher, Publisher, WordPressPublisher};
use blogflow::queue::worker::{ActiveJob, JobHandler};
use blogflow::queue::{Clock, JobState, ManualClock, Queue, QueueBackend, SqliteQueue, names};
use blogflow::store::Store;
use serde_json::Value;
use support::cms::{FakeCms, GHOST_KEY, WP_PASSWORD, WP_USER};
use support::{FakeOpenAi, Reply};
use tokio_util::sync::CancellationToken;

/// How often the rig runs the health check, as the default schedule does.
const HEALTH_EVERY: Duration = Duration::from_secs(30);

struct Rig {
    clock: ManualClock,
    queue: QueueBackend,
    router: JobRouter,
    store: Store,
    started_ms: i64,
    last_health_ms: i64,
    _dir: tempfile::TempDir,
}

fn server_error() -> Reply {
    Reply::Error {
        status: 500,
        code: "server_error",
        message: "The server had an error while processing your request.",
        retry_after: None,
    }
}

async fn rig(fakes: &[&FakeOpenAi], wp: &FakeCms, gh: &FakeCms, toml_extra: &str) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let mut toml = format!(
        "schedules = []\n{toml_extra}\n[publish.wordpress]\nallow_http = true\n\
         [publish.ghost]\nallow_http = true\n"
    );
    for (i, f) in fakes.iter().enumerate() {
        // Different posts from each fake: the same post twice would be held as a near-duplicate.
        f.number_from(i * 1_000_000);
    }
    for (i, f) in fakes.iter().enumerate().skip(1) {
        toml.push_str(&format!(
            "[[providers.compatible]]\nname = \"backup{i}\"\nbase_url = \"{}\"\nmodel = \"fake-model\"\n",
            f.base_url
        ));
    }
    let env = Env::from_pairs([
        (
            "BLOGFLOW_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        (
            "BLOGFLOW_CONTENT_DIR",
            dir.path().join("content").display().to_string(),
        ),
        ("OPENAI_API_KEY", "sk-test-secret-key-value".to_owned()),
        ("OPENAI_BASE_URL", fakes[0].base_url.clone()),
        ("BLOGFLOW_LOCAL_MODEL", "off".to_owned()),
        ("BLOGFLOW_WORDPRESS_URL", wp.root.clone()),
        ("BLOGFLOW_WORDPRESS_USER", WP_USER.to_owned()),
        ("BLOGFLOW_WORDPRESS_APP_PASSWORD", WP_PASSWORD.to_owned()),
        ("BLOGFLOW_GHOST_URL", gh.root.clone()),
        ("BLOGFLOW_GHOST_ADMIN_KEY", GHOST_KEY.to_owned()),
    ]);
    let raw: RawConfig = toml::from_str(&toml).unwrap();
    let (config, _) = Config::validate(raw, &env).unwrap();
    let config = Arc::new(config);
    std::fs::create_dir_all(&config.data_dir).unwrap();
    let clock = ManualClock::new(blogflow::db::now_ms());
    let db = Db::open(&config.database_path()).unwrap();
    let store = Store::open(db.clone()).await.unwrap();
    let queue = QueueBackend::Sqlite(
        SqliteQueue::open_with_clock(db, Arc::new(clock.clone()))
            .await
            .unwrap(),
    );
    let providers = blogflow::app::providers(&config).unwrap();
    assert_eq!(providers.len(), fakes.len(), "no local model among them");
    let generator = Generator::new(
        store.clone(),
        queue.clone(),
        providers,
        config.generation.clone(),
    )
    .with_clock(Arc::new(clock.clone()));
    let publishers = vec![
        Publisher::Markdown(MarkdownPublisher::new(
            config.content_dir.clone(),
            config.markdown.clone().unwrap(),
        )),
        Publisher::WordPress(WordPressPublisher::new(config.wordpress.clone().unwrap())),
        Publisher::Ghost(GhostPublisher::new(config.ghost.clone().unwrap())),
    ];
    let ops = blogflow::ops::Ops::new(&config, generator.stats().clone());
    let now = clock.now_ms();
    let router = JobRouter {
        generator,
        publishers: Arc::new(publishers),
        images: None,
        store: store.clone(),
        queue: queue.clone(),
        config,
        health: Default::default(),
        ops,
        last_reconcile: Arc::new(AtomicI64::new(now)),
    };
    Rig {
        clock,
        queue,
        router,
        store,
        started_ms: now,
        last_health_ms: now - HEALTH_EVERY.as_millis() as i64,
        _dir: dir,
    }
}

impl Rig {
    async fn generate(&self, count: u32) -> String {
        let request = GenerateRequest {
            count,
            topic: None,
            category: None,
        };
        let job = generation_job(&request, self.router.config.generation.job_attempts);
        self.queue
            .add(names::CONTENT_GENERATION, job)
            .await
            .unwrap()
            .id()
            .to_owned()
    }

    /// Runs the health check when one is due, then every job that is due, once each.
    async fn run_due(&mut self) {
        let now = self.clock.now_ms();
        if now - self.last_health_ms >= HEALTH_EVERY.as_millis() as i64 {
            self.last_health_ms = now;
            self.router.health_check().await;
        }
        for queue in [names::CONTENT_GENERATION, names::BLOG_PUBLISHING] {
            let claimed = self
                .queue
                .claim(queue, Duration::from_secs(3600), 100)
                .await
                .unwrap();
            for job in claimed {
                let active = ActiveJob {
                    id: job.lease.job_id.clone(),
                    name: job.name.clone(),
                    payload: job.payload.clone(),
                    attempt: job.attempt,
                    max_attempts: job.max_attempts,
                    cancel: CancellationToken::new(),
                };
                match self.router.handle(active).await {
                    Ok(v) => self.queue.complete(&job.lease, v).await.unwrap(),
                    Err(e) => {
                        self.queue.fail(&job.lease, &e).await.unwrap();
                    }
                }
            }
        }
    }

    /// Moves the clock to the next moment something is due: a delayed job or a health check.
    async fn advance(&self) {
        let now = self.clock.now_ms();
        let mut next = self.last_health_ms + HEALTH_EVERY.as_millis() as i64;
        for queue in [names::CONTENT_GENERATION, names::BLOG_PUBLISHING] {
            for job in self
                .queue
                .list(queue, JobState::Delayed, 1000)
                .await
                .unwrap()
            {
                next = next.min(job.run_at);
            }
        }
        self.clock
            .advance(Duration::from_millis((next - now).max(1) as u64));
    }

    /// Runs until `until` ms of simulated time have passed since the rig started.
    async fn run_until(&mut self, elapsed: Duration) {
        while self.clock.now_ms() - self.started_ms < elapsed.as_millis() as i64 {
            self.run_due().await;
            self.advance().await;
        }
    }

    /// Runs until `done` holds, at most `limit` of simulated time from now.
    async fn run_until_done(&mut self, limit: Duration, what: &str, done: impl AsyncCheck) {
        let end = self.clock.now_ms() + limit.as_millis() as i64;
        loop {
            self.run_due().await;
            if done.holds(self).await {
                return;
            }
            if self.clock.now_ms() >= end {
                let mut jobs = Vec::new();
                for queue in [names::CONTENT_GENERATION, names::BLOG_PUBLISHING] {
                    for state in [JobState::Waiting, JobState::Delayed, JobState::Failed] {
                        jobs.extend(self.queue.list(queue, state, 20).await.unwrap());
                    }
                }
                let posts: Vec<_> = self
                    .posts()
                    .await
                    .into_iter()
                    .map(|(p, t)| (p.id, p.status, t))
                    .collect();
                let breakers: Vec<_> = self
                    .router
                    .generator
                    .providers()
                    .iter()
                    .map(|g| g.breaker().snapshot(g.now()))
                    .collect();
                panic!(
                    "{what} did not happen within {limit:?} of simulated time\n\
                     jobs: {jobs:#?}\nposts: {posts:#?}\nbreakers: {breakers:#?}"
                );
            }
            self.advance().await;
        }
    }

    /// Jobs in `failed`, every queue.
    async fn failed_jobs(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for queue in names::ALL {
            for job in self.queue.list(queue, JobState::Failed, 100).await.unwrap() {
                out.push(serde_json::to_value(job).unwrap());
            }
        }
        out
    }

    async fn job(&self, queue: &str, id: &str) -> blogflow::queue::Job {
        self.queue.get(queue, id).await.unwrap().unwrap()
    }

    /// Posts stored, with their ledger targets.
    async fn posts(&self) -> Vec<(blogflow::store::Post, Vec<String>)> {
        let mut out = Vec::new();
        for summary in self.store.list_posts(100).await.unwrap() {
            let post = self.store.get_post(&summary.id).await.unwrap().unwrap();
            let mut targets: Vec<String> = self
                .store
                .publications(&post.id)
                .await
                .unwrap()
                .into_iter()
                .map(|p| p.target)
                .collect();
            targets.sort();
            out.push((post, targets));
        }
        out
    }
}

/// A condition on the rig, checked after each round.
trait AsyncCheck {
    async fn holds(&self, rig: &Rig) -> bool;
}

/// Every one of `n` posts is published to all three targets.
struct AllPublished(usize);

impl AsyncCheck for AllPublished {
    async fn holds(&self, rig: &Rig) -> bool {
        let posts = rig.posts().await;
        posts.len() == self.0
            && posts.iter().all(|(p, targets)| {
                p.status == blogflow::store::PostStatus::Published
                    && targets == &["ghost", "markdown", "wordpress"]
            })
    }
}

fn assert_once_everywhere(
    rig_posts: &[(blogflow::store::Post, Vec<String>)],
    wp: &FakeCms,
    gh: &FakeCms,
) {
    let n = rig_posts.len();
    assert_eq!(wp.posts().len(), n, "each post once on WordPress");
    assert_eq!(gh.posts().len(), n, "each post once on Ghost");
    for (post, targets) in rig_posts {
        assert_eq!(targets, &["ghost", "markdown", "wordpress"], "{}", post.id);
    }
}

#[tokio::test]
async fn every_provider_down_for_six_hours_fails_no_job_and_every_post_is_written_after() {
    let (a, b) = (FakeOpenAi::start().await, FakeOpenAi::start().await);
    let (wp, gh) = (FakeCms::wordpress().await, FakeCms::ghost().await);
    for f in [&a, &b] {
        f.set_default(server_error());
        f.set_models_down(true);
    }
    let mut rig = rig(&[&a, &b], &wp, &gh, "[generation]\nparallelism = 2\n").await;
    let job = rig.generate(3).await;
    rig.run_until(Duration::from_secs(6 * 3600)).await;

    assert!(
        rig.failed_jobs().await.is_empty(),
        "{:#?}",
        rig.failed_jobs().await
    );
    let waiting = rig.job(names::CONTENT_GENERATION, &job).await;
    assert!(
        matches!(waiting.state, JobState::Delayed | JobState::Waiting),
        "{waiting:?}"
    );
    assert!(
        waiting.attempts_made < waiting.max_attempts,
        "attempts are left after 6 h: {waiting:?}"
    );
    assert!(
        waiting
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("waiting")),
        "the job says it waits: {waiting:?}"
    );
    let calls = a.requests() + b.requests();
    println!(
        "6 h outage: {calls} provider calls, job claimed {} times, {} failed attempts",
        waiting.attempts_started, waiting.attempts_made
    );
    assert!(rig.posts().await.is_empty());

    for f in [&a, &b] {
        f.set_default(Reply::Post);
        f.set_models_down(false);
    }
    rig.run_until_done(
        Duration::from_secs(3600),
        "three posts published",
        AllPublished(3),
    )
    .await;
    assert_eq!(
        rig.job(names::CONTENT_GENERATION, &job).await.state,
        JobState::Completed
    );
    assert_once_everywhere(&rig.posts().await, &wp, &gh);
    assert!(rig.failed_jobs().await.is_empty());
}

#[tokio::test]
async fn wordpress_and_ghost_down_for_a_day_then_every_post_is_published_once() {
    let a = FakeOpenAi::start().await;
    let (wp, gh) = (FakeCms::wordpress().await, FakeCms::ghost().await);
    wp.down(503);
    gh.down(503);
    let mut rig = rig(&[&a], &wp, &gh, "").await;
    let job = rig.generate(2).await;
    rig.run_until(Duration::from_secs(24 * 3600)).await;

    assert!(
        rig.failed_jobs().await.is_empty(),
        "{:#?}",
        rig.failed_jobs().await
    );
    assert_eq!(
        rig.job(names::CONTENT_GENERATION, &job).await.state,
        JobState::Completed
    );
    let posts = rig.posts().await;
    assert_eq!(posts.len(), 2);
    for (post, targets) in &posts {
        assert_eq!(
            targets,
            &["markdown"],
            "only the target that is up holds it"
        );
        let publish = rig
            .job(names::BLOG_PUBLISHING, &format!("publish-{}", post.id))
            .await;
        assert!(
            matches!(publish.state, JobState::Delayed | JobState::Waiting),
            "{publish:?}"
        );
        assert_eq!(
            publish.attempts_made, 0,
            "waiting spent no attempt: {publish:?}"
        );
        assert!(
            publish
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("waiting for wordpress, ghost")),
            "{publish:?}"
        );
    }
    let refused = wp.refused() + gh.refused();
    println!("24 h outage: the sites refused {refused} requests");
    assert!(
        refused < 24 * 3600 / 30 * 3,
        "down targets are not hammered: {refused} requests in 24 h"
    );

    wp.up();
    gh.up();
    rig.run_until_done(
        Duration::from_secs(600),
        "two posts published",
        AllPublished(2),
    )
    .await;
    assert_once_everywhere(&rig.posts().await, &wp, &gh);
    assert!(rig.failed_jobs().await.is_empty());
}

#[tokio::test]
async fn a_ten_second_burst_of_404_from_ghost_delays_the_post_and_it_is_published_once() {
    let a = FakeOpenAi::start().await;
    let (wp, gh) = (FakeCms::wordpress().await, FakeCms::ghost().await);
    let mut rig = rig(&[&a], &wp, &gh, "").await;
    rig.run_due().await; // the first health check: every target healthy
    gh.down(404);
    rig.generate(1).await;
    rig.run_due().await;
    let posts = rig.posts().await;
    assert_eq!(posts[0].1, ["markdown", "wordpress"], "{:?}", posts[0].1);
    let publish = rig
        .job(
            names::BLOG_PUBLISHING,
            &format!("publish-{}", posts[0].0.id),
        )
        .await;
    assert_eq!(
        (publish.state, publish.attempts_made),
        (JobState::Delayed, 0),
        "a 404 from a target that was healthy is the target's problem: {publish:?}"
    );
    rig.clock.advance(Duration::from_secs(10));
    gh.up();
    rig.run_until_done(
        Duration::from_secs(600),
        "the post published",
        AllPublished(1),
    )
    .await;
    assert_once_everywhere(&rig.posts().await, &wp, &gh);
    assert!(rig.failed_jobs().await.is_empty());
}

#[tokio::test]
async fn a_failed_publish_job_is_put_back_by_the_reconciliation() {
    let a = FakeOpenAi::start().await;
    let (wp, gh) = (FakeCms::wordpress().await, FakeCms::ghost().await);
    let mut rig = rig(&[&a], &wp, &gh, "").await;
    rig.generate(1).await;
    // A publish job that failed for good (as the old attempt limit left them).
    let claimed = rig
        .queue
        .claim(names::CONTENT_GENERATION, Duration::from_secs(60), 1)
        .await
        .unwrap();
    let job = &claimed[0];
    let result = rig
        .router
        .generator
        .run_job(
            &job.lease.job_id,
            1,
            blogflow::jobs::generation_request(&job.payload).unwrap(),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    rig.queue.complete(&job.lease, result).await.unwrap();
    let post_id = rig.posts().await[0].0.id.clone();
    let publish = rig
        .queue
        .claim(names::BLOG_PUBLISHING, Duration::from_secs(60), 1)
        .await
        .unwrap();
    rig.queue
        .fail(
            &publish[0].lease,
            &blogflow::queue::JobError::unrecoverable("wordpress: HTTP 502 after 8 tries"),
        )
        .await
        .unwrap();
    assert_eq!(rig.failed_jobs().await.len(), 1);
    let done = rig.router.reconcile().await.unwrap();
    assert_eq!(done.retried, 1, "{done:?}");
    rig.run_until_done(
        Duration::from_secs(60),
        "the post published",
        AllPublished(1),
    )
    .await;
    assert_eq!(rig.posts().await[0].0.id, post_id);
    assert_once_everywhere(&rig.posts().await, &wp, &gh);
    assert_eq!(
        rig.router.reconcile().await.unwrap(),
        Default::default(),
        "nothing left to do"
    );
}

#[tokio::test]
async fn a_thirty_year_retry_after_holds_a_provider_for_the_cap_and_a_probe_ends_it() {
    let (a, b) = (FakeOpenAi::start().await, FakeOpenAi::start().await);
    let (wp, gh) = (FakeCms::wordpress().await, FakeCms::ghost().await);
    a.set_default(Reply::Error {
        status: 429,
        code: "rate_limit_exceeded",
        message: "Rate limit reached",
        retry_after: Some("999999999"),
    });
    a.set_models_down(true);
    let mut rig = rig(
        &[&a, &b],
        &wp,
        &gh,
        "[providers]\nmax_retry_after_secs = 600\n",
    )
    .await;
    // Until `a` is called once (the balancer's order is weighted at random).
    while a.requests() == 0 {
        rig.generate(1).await;
        rig.run_due().await;
    }
    let generator = rig.router.generator.clone();
    let held = &generator.providers()[0];
    let cap = Duration::from_secs(600);
    let now = held.now();
    assert_eq!(held.ready_in(now, 0.0), Some(cap), "clamped to the cap");
    // Back in rotation once the cap is over, without a probe.
    assert!(held.ready_in(now + cap, 0.0) == Some(Duration::ZERO));
    // And at once when a probe passes: the health check ends a long hold.
    a.set_default(Reply::Post);
    a.set_models_down(false);
    rig.clock.advance(HEALTH_EVERY);
    rig.run_due().await;
    assert_eq!(
        held.ready_in(held.now(), 0.0),
        Some(Duration::ZERO),
        "a passing probe ends the hold: {:?}",
        held.breaker().snapshot(held.now())
    );
    assert!(rig.failed_jobs().await.is_empty());
}

#[tokio::test]
async fn a_provider_that_hangs_after_its_headers_is_cut_at_the_first_token_limit() {
    let (a, b) = (FakeOpenAi::start().await, FakeOpenAi::start().await);
    let (wp, gh) = (FakeCms::wordpress().await, FakeCms::ghost().await);
    a.set_default(Reply::Stall);
    let first_token = Duration::from_secs(2);
    let mut rig = rig(
        &[&a, &b],
        &wp,
        &gh,
        "[providers]\nfirst_token_timeout_secs = 2\n[providers.openai]\ntimeout_secs = 120\nweight = 50\n",
    )
    .await;
    while a.requests() == 0 {
        rig.generate(1).await;
        rig.run_due().await;
    }
    assert!(rig.failed_jobs().await.is_empty());
    let posts = rig.posts().await;
    assert!(!posts.is_empty());
    assert!(
        posts.iter().all(|(p, _)| p.provider == "backup1"),
        "written by the other provider"
    );
    let hung = rig.router.generator.providers()[0].totals();
    assert_eq!(
        hung.outcomes[1],
        a.requests() as u64,
        "every hung call a transient failure"
    );
    let per_call = hung.latency_sum / a.requests() as f64;
    println!(
        "hung call cut after {per_call:.2} s (first-token limit {} s, request timeout 120 s)",
        first_token.as_secs()
    );
    assert!(
        per_call >= first_token.as_secs_f64() * 0.9 && per_call < first_token.as_secs_f64() + 10.0,
        "cut at the first-token limit, not the 120 s timeout: {per_call:.2} s"
    );
}

#[tokio::test]
async fn a_daily_cap_skips_the_rest_of_a_job_and_fails_nothing() {
    let a = FakeOpenAi::start().await;
    let (wp, gh) = (FakeCms::wordpress().await, FakeCms::ghost().await);
    let mut rig = rig(
        &[&a],
        &wp,
        &gh,
        "[generation]\ndaily_post_cap = 3\nparallelism = 2\n",
    )
    .await;
    let job = rig.generate(5).await;
    rig.run_until_done(
        Duration::from_secs(600),
        "three posts published",
        AllPublished(3),
    )
    .await;
    let job = rig.job(names::CONTENT_GENERATION, &job).await;
    assert_eq!(job.state, JobState::Completed, "{job:?}");
    let result = job.result.unwrap();
    assert_eq!(result["generated"].as_array().unwrap().len(), 3, "{result}");
    assert_eq!(result["skipped"], 2, "{result}");
    assert!(
        result["skipped_reason"]
            .as_str()
            .is_some_and(|r| r.contains("daily post cap of 3")),
        "{result}"
    );
    let midnight = {
        let now = blogflow::db::now_ms();
        now - now.rem_euclid(86_400_000)
    };
    assert_eq!(
        rig.store.spend_since(midnight).await.unwrap().0,
        3,
        "three written today"
    );
    assert!(rig.failed_jobs().await.is_empty());
}
