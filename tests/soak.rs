//! The soak benchmark (issue 19): `blogflow run` as a real process for about 15 minutes under
//! the weather of months, compressed. Not part of the suite (`#[ignore]`); `bench/soak.sh` runs
//! it and prints the figures recorded in `docs/decisions.md`.
//!
//! - a generate tick every 4 s (one post each), health every 30 s (the default);
//! - three fake providers, each answering 30 % 500, 10 % hang (headers, then nothing),
//!   5 % 429 with `Retry-After: 999999999`, else a good post;
//! - fake WordPress and Ghost sites down (503) for random windows of up to 5 minutes;
//! - `kill -9` of the service three times (and a restart on the same folders);
//! - then a drain: faults off, generate schedule off, until nothing is left to do.
//!
//! It prints: posts requested, published per target, duplicates per target, posts held (with
//! reasons), jobs that need a human, the slowest tick-to-published time, RSS at start and end.
//! `SOAK_SECS` sets the stormy part's length (default 900).

mod support;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use blogflow::queue::{JobState, Queue, QueueBackend, SqliteQueue, names};
use support::cms::{FakeCms, GHOST_KEY, WP_PASSWORD, WP_USER};
use support::{FakeOpenAi, Process, Reply};

fn storm() -> Reply {
    Reply::Storm {
        p500: 0.30,
        phang: 0.10,
        p429: 0.05,
    }
}

fn toml(fakes: &[FakeOpenAi], generate: bool) -> String {
    let mut t = String::from(
        "[providers]\nfirst_token_timeout_secs = 5\nstream_idle_timeout_secs = 5\nmax_retry_after_secs = 120\n\
         [publish.wordpress]\nallow_http = true\n[publish.ghost]\nallow_http = true\n\
         [queue]\npoll_interval_ms = 200\n",
    );
    for (i, f) in fakes.iter().enumerate().skip(1) {
        t.push_str(&format!(
            "[[providers.compatible]]\nname = \"backup{i}\"\nbase_url = \"{}\"\nmodel = \"fake-model\"\n",
            f.base_url
        ));
    }
    if generate {
        t.push_str(
            "[[schedules]]\nname = \"generate\"\ncron = \"*/4 * * * * *\"\naction = \"generate\"\ncount = 1\n",
        );
    }
    t.push_str(
        "[[schedules]]\nname = \"health\"\ncron = \"*/30 * * * * *\"\naction = \"health_check\"\n",
    );
    t
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

async fn spawn(dir: &Path, fakes: &[FakeOpenAi], wp: &FakeCms, gh: &FakeCms) -> Process {
    Process::spawn(
        dir,
        &fakes[0],
        &[
            ("BLOGFLOW_LOCAL_MODEL", "off"),
            ("BLOGFLOW_WORDPRESS_URL", wp.root.as_str()),
            ("BLOGFLOW_WORDPRESS_USER", WP_USER),
            ("BLOGFLOW_WORDPRESS_APP_PASSWORD", WP_PASSWORD),
            ("BLOGFLOW_GHOST_URL", gh.root.as_str()),
            ("BLOGFLOW_GHOST_ADMIN_KEY", GHOST_KEY),
        ],
    )
    .await
}

/// Takes a site down for random windows of up to 5 minutes, up for 1–4 minutes between.
fn weather(site: FakeCms, until: Instant) -> tokio::task::JoinHandle<u32> {
    tokio::spawn(async move {
        use rand::RngExt;
        let mut outages = 0;
        while Instant::now() < until {
            let up = Duration::from_secs(rand::rng().random_range(60..240));
            tokio::time::sleep(up.min(until.saturating_duration_since(Instant::now()))).await;
            if Instant::now() >= until {
                break;
            }
            site.down(503);
            outages += 1;
            let down = Duration::from_secs(rand::rng().random_range(10..300));
            tokio::time::sleep(down.min(until.saturating_duration_since(Instant::now()))).await;
            site.up();
        }
        site.up();
        outages
    })
}

fn duplicates(titles: impl IntoIterator<Item = String>) -> (usize, usize) {
    let all: Vec<String> = titles.into_iter().collect();
    let distinct: HashSet<&String> = all.iter().collect();
    (all.len(), all.len() - distinct.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a 15-minute benchmark: bench/soak.sh"]
async fn soak() {
    let stormy = Duration::from_secs(
        std::env::var("SOAK_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(900),
    );
    let fakes = vec![
        FakeOpenAi::start().await,
        FakeOpenAi::start().await,
        FakeOpenAi::start().await,
    ];
    for (i, f) in fakes.iter().enumerate() {
        f.number_from(i * 1_000_000);
        f.set_default(storm());
    }
    let (wp, gh) = (FakeCms::wordpress().await, FakeCms::ghost().await);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blogflow.toml"), toml(&fakes, true)).unwrap();
    let started = Instant::now();
    let until = started + stormy;
    let sites = [weather(wp.clone(), until), weather(gh.clone(), until)];

    let mut svc = spawn(dir.path(), &fakes, &wp, &gh).await;
    // Three kills in the first half; the last process runs the whole second half, so its RSS
    // from start to end says whether memory grows.
    for k in 1..=3u32 {
        tokio::time::sleep_until((started + stormy * (k * 15) / 100).into()).await;
        let pid = svc.child.id().unwrap();
        svc.child.start_kill().unwrap();
        svc.child.wait().await.unwrap();
        println!("[{:>4} s] kill -9 {pid}", started.elapsed().as_secs());
        svc = spawn(dir.path(), &fakes, &wp, &gh).await;
    }
    tokio::time::sleep(Duration::from_secs(30)).await;
    let pid = svc.child.id().unwrap();
    let rss_start = rss_mib(pid);
    tokio::time::sleep_until(until.into()).await;
    let rss_end = rss_mib(pid);
    let mut outages = Vec::new();
    for s in sites {
        outages.push(s.await.unwrap());
    }

    // The drain: the weather clears, no more ticks, until nothing is left to do.
    for f in &fakes {
        f.set_default(Reply::Post);
    }
    std::fs::write(dir.path().join("blogflow.toml"), toml(&fakes, false)).unwrap();
    svc.terminate().await;
    let svc = spawn(dir.path(), &fakes, &wp, &gh).await;
    let drain_started = Instant::now();
    loop {
        let counts = svc.get("/api/automation/scheduler").await;
        let queues = &counts["queues"];
        let busy = ["content-generation", "blog-publishing"].iter().any(|q| {
            let c = &queues[*q]["counts"];
            c["waiting"].as_u64().unwrap_or(0)
                + c["delayed"].as_u64().unwrap_or(0)
                + c["active"].as_u64().unwrap_or(0)
                > 0
        });
        if !busy || drain_started.elapsed() > Duration::from_secs(600) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let drain = drain_started.elapsed();
    svc.terminate().await;

    // Count, from the service's own files and the sites.
    let db = blogflow::db::Db::open(&dir.path().join("data").join("blogflow.db")).unwrap();
    let store = blogflow::store::Store::open(db.clone()).await.unwrap();
    let queue = QueueBackend::Sqlite(SqliteQueue::open(db).await.unwrap());
    let mut requested = 0u64;
    let mut jobs: BTreeMap<String, blogflow::queue::Job> = BTreeMap::new();
    for state in [
        JobState::Completed,
        JobState::Failed,
        JobState::Waiting,
        JobState::Delayed,
        JobState::Active,
    ] {
        for j in queue
            .list(names::CONTENT_GENERATION, state, 100_000)
            .await
            .unwrap()
        {
            requested += j.payload["count"].as_u64().unwrap_or(1);
            jobs.insert(j.id.clone(), j);
        }
    }
    let mut need_human = Vec::new();
    for q in names::ALL {
        for j in queue.list(q, JobState::Failed, 1000).await.unwrap() {
            need_human.push(format!(
                "{q}/{}: {}",
                j.id,
                j.last_error.unwrap_or_default()
            ));
        }
    }
    let summaries = store.list_posts(100_000).await.unwrap();
    let mut published: BTreeMap<String, usize> = BTreeMap::new();
    let mut held = Vec::new();
    let mut slowest = Duration::ZERO;
    for s in &summaries {
        let post = store.get_post(&s.id).await.unwrap().unwrap();
        for p in store.publications(&post.id).await.unwrap() {
            *published.entry(p.target).or_default() += 1;
        }
        match post.status {
            blogflow::store::PostStatus::Held => held.push(format!(
                "{} (score {}): {}",
                post.id,
                post.quality.score,
                post.hold_reason
                    .clone()
                    .unwrap_or_else(|| "below the quality threshold".into())
            )),
            blogflow::store::PostStatus::Published => {
                if let (Some(job), Some(at)) = (jobs.get(&post.job_id), post.published_at) {
                    slowest =
                        slowest.max(Duration::from_millis((at - job.created_at).max(0) as u64));
                }
            }
            blogflow::store::PostStatus::Ready | blogflow::store::PostStatus::Rejected => {}
        }
    }
    let markdown_titles: Vec<String> = std::fs::read_dir(dir.path().join("content"))
        .map(|d| {
            d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .filter_map(|text| {
                    text.lines()
                        .find_map(|l| l.strip_prefix("title: ").map(str::to_owned))
                })
                .collect()
        })
        .unwrap_or_default();
    let (md_files, md_dups) = duplicates(markdown_titles);
    let (wp_posts, wp_dups) = duplicates(
        wp.posts()
            .iter()
            .map(|p| p["title"]["raw"].as_str().unwrap_or("").to_owned()),
    );
    let (gh_posts, gh_dups) = duplicates(
        gh.posts()
            .iter()
            .map(|p| p["title"].as_str().unwrap_or("").to_owned()),
    );
    let calls: usize = fakes.iter().map(FakeOpenAi::requests).sum();
    let written = summaries.len() as u64;
    let accounted = published.get("wordpress").copied().unwrap_or(0).min(
        published
            .get("ghost")
            .copied()
            .unwrap_or(0)
            .min(published.get("markdown").copied().unwrap_or(0)),
    ) + held.len();

    println!(
        "\n== soak: {} s of weather, 3 kills, drain {} s ==",
        stormy.as_secs(),
        drain.as_secs()
    );
    println!("provider calls:             {calls}");
    println!(
        "site outages (wp, ghost):   {outages:?} (refused {} / {} requests)",
        wp.refused(),
        gh.refused()
    );
    println!("posts requested:            {requested}");
    println!("posts written:              {written}");
    println!("published per target:       {published:?}");
    println!(
        "files / site posts:         markdown {md_files}, wordpress {wp_posts}, ghost {gh_posts}"
    );
    println!(
        "duplicates per target:      markdown {md_dups}, wordpress {wp_dups}, ghost {gh_dups}"
    );
    println!("posts held:                 {}", held.len());
    for h in &held {
        println!("  held {h}");
    }
    println!("jobs that need a human:     {}", need_human.len());
    for j in &need_human {
        println!("  {j}");
    }
    println!("slowest tick-to-published:  {} s", slowest.as_secs());
    println!(
        "RSS of the last process:    {rss_start:.1} MiB after 30 s, {rss_end:.1} MiB at the end ({:+.1} %)",
        (rss_end / rss_start - 1.0) * 100.0
    );
    println!(
        "published everywhere or held: {accounted} of {requested} ({:.1} %)",
        accounted as f64 / requested.max(1) as f64 * 100.0
    );
    assert_eq!((md_dups, wp_dups, gh_dups), (0, 0, 0), "no duplicates");
    assert!(need_human.is_empty(), "{need_human:#?}");
    assert_eq!(
        accounted as u64, requested,
        "every requested post published or held"
    );
}
