//! Benchmarks that print figures (`blogflow bench …`), never timed assertions.
//!
//! Figures are printed next to a baseline measured in the same process, so a noisy shared
//! machine shifts both: the queue against raw SQLite write transactions on the same file
//! settings, the idle service against the target budget.

pub mod balancer;
pub mod redis;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::db::Db;
use crate::queue::worker::{ActiveJob, JobHandler, Worker, WorkerOptions};
use crate::queue::{JobError, NewJob, Queue, SqliteQueue};

/// CPU seconds (user + system) of this process so far, from /proc (10 ms ticks).
pub(crate) fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit(')').next().unwrap_or("");
    rest.split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<f64>().ok())
        .sum::<f64>()
        / 100.0 // USER_HZ is 100 on Linux
}

/// This process's peak resident memory, MiB.
pub(crate) fn peak_rss_mib() -> f64 {
    rss_kib(std::process::id()).map_or(0.0, |(_, hwm)| hwm as f64 / 1024.0)
}

/// The `p`-th percentile of sorted values (NaN when empty).
pub(crate) fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

struct NoOp;

impl JobHandler for NoOp {
    async fn handle(&self, _job: ActiveJob) -> Result<Value, JobError> {
        Ok(Value::Null)
    }
}

/// Raw SQLite: `n` autocommit INSERTs then `n` autocommit UPDATEs on the same settings as the
/// queue. Returns pairs per second: what the disk and SQLite allow, before any queue logic.
fn raw_sqlite_pairs_per_sec(n: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let conn = rusqlite::Connection::open(dir.path().join("raw.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, state TEXT, payload TEXT)")?;
    let started = Instant::now();
    let mut insert = conn.prepare("INSERT INTO t (state, payload) VALUES ('waiting', ?1)")?;
    for i in 0..n {
        insert.execute([format!("{{\"n\":{i}}}")])?;
    }
    let mut update = conn.prepare("UPDATE t SET state = 'completed' WHERE id = ?1")?;
    for i in 1..=n {
        update.execute([i as i64])?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

async fn drain(
    queue: &SqliteQueue,
    name: &str,
    jobs: usize,
    concurrency: usize,
) -> anyhow::Result<Duration> {
    let cancel = CancellationToken::new();
    let options = WorkerOptions {
        concurrency,
        poll_interval: Duration::from_millis(50),
        ..WorkerOptions::default()
    };
    let worker = Worker::new(Arc::new(queue.clone()), name, Arc::new(NoOp), options);
    let started = Instant::now();
    let handle = tokio::spawn(worker.run(cancel.clone()));
    loop {
        if queue.counts(name).await?.completed as usize >= jobs {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    cancel.cancel();
    handle.await?;
    Ok(elapsed)
}

/// Prints enqueue and drain throughput of the embedded queue at concurrency 1, 10 and 50.
pub async fn queue(jobs: usize) -> anyhow::Result<()> {
    let baseline = tokio::task::spawn_blocking(move || raw_sqlite_pairs_per_sec(jobs)).await??;
    println!("embedded queue, {jobs} jobs per run, no-op handler");
    println!("baseline: raw SQLite insert+update pairs      {baseline:>10.0} /s");
    println!(
        "{:<14} {:>14} {:>12} {:>14} {:>12}",
        "concurrency", "enqueue/s", "vs raw", "drain/s", "vs raw"
    );
    for concurrency in [1, 10, 50] {
        let dir = tempfile::tempdir()?;
        let queue = SqliteQueue::open(Db::open(&dir.path().join("bench.db"))?).await?;
        let name = "bench";
        let started = Instant::now();
        for i in 0..jobs {
            queue
                .add(name, NewJob::new("noop", json!({ "n": i })))
                .await?;
        }
        let enqueue = jobs as f64 / started.elapsed().as_secs_f64();
        let drained = jobs as f64 / drain(&queue, name, jobs, concurrency).await?.as_secs_f64();
        println!(
            "{concurrency:<14} {enqueue:>14.0} {:>11.2}x {drained:>14.0} {:>11.2}x",
            enqueue / baseline,
            drained / baseline
        );
    }
    println!("target: >= 5000 jobs/s drain at concurrency 10");
    Ok(())
}

fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Starts `blogflow run` on temporary folders, waits until it answers, lets it settle and
/// prints its resident memory.
pub async fn idle_rss(settle_secs: u64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let exe = std::env::current_exe()?;
    let mut child = tokio::process::Command::new(exe)
        .arg("run")
        .current_dir(dir.path())
        .env("BLOGFLOW_LISTEN", "127.0.0.1:0")
        .env("BLOGFLOW_DATA_DIR", dir.path().join("data"))
        .env("BLOGFLOW_CONTENT_DIR", dir.path().join("content"))
        .env("BLOGFLOW_LOG_DIR", dir.path().join("logs"))
        .env("BLOGFLOW_LOCAL_MODEL", "off")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| anyhow::anyhow!("child exited at once"))?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stderr"))?;
    let (addr, phases) = start_up(stderr).await?;
    reqwest::get(format!("http://{addr}/healthz"))
        .await?
        .error_for_status()?;
    tokio::time::sleep(Duration::from_secs(settle_secs)).await;
    let (rss, hwm) =
        rss_kib(pid).ok_or_else(|| anyhow::anyhow!("cannot read /proc/{pid}/status"))?;
    let (own, _) = rss_kib(std::process::id()).unwrap_or((0, 0));
    child.kill().await?;
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "idle `blogflow run` (no provider, local model off, embedded SQLite, {settle_secs} s settled)"
    );
    println!("{:<40} {:>8} {:>8}", "phase", "RSS MiB", "growth");
    let mut previous = None;
    for (phase, at) in &phases {
        match previous {
            None => println!("{phase:<40} {at:>8.1}"),
            Some(p) => println!("{phase:<40} {at:>8.1} {:>+8.1}", at - p),
        }
        previous = Some(*at);
    }
    let settled = format!("settled ({settle_secs} s, monitor cycles)");
    match previous {
        Some(p) => println!("{settled:<40} {:>8.1} {:>+8.1}", mib(rss), mib(rss) - p),
        None => println!("{settled:<40} {:>8.1}", mib(rss)),
    }
    println!(
        "RSS now   {:>7.1} MiB   ratio to the 30 MiB target {:.2}",
        mib(rss),
        mib(rss) / 30.0
    );
    println!("RSS peak  {:>7.1} MiB", mib(hwm));
    println!(
        "baseline: this bench process (same binary, tokio + reqwest loaded) {:.1} MiB",
        mib(own)
    );
    Ok(())
}

/// Reads the child's stderr until it prints its address; on the way, the resident memory
/// per start-up phase that it logs.
async fn start_up(
    stderr: tokio::process::ChildStderr,
) -> anyhow::Result<(String, Vec<(String, f64)>)> {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let mut phases = Vec::new();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.split("memory=").nth(1) {
                phases = crate::telemetry::Footprint::parse(rest.trim_matches('"'));
            }
            if let Some(rest) = line.split("running at http://").nth(1) {
                return Ok::<_, std::io::Error>(Some(
                    rest.split_whitespace().next().unwrap_or("").to_owned(),
                ));
            }
        }
        Ok(None)
    })
    .await??
    .ok_or_else(|| anyhow::anyhow!("blogflow exited before listening"))?;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((addr, phases))
}

/// Reads the child's stderr until it prints its address ("running at http://ADDR").
pub async fn wait_for_address(stderr: tokio::process::ChildStderr) -> anyhow::Result<String> {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.split("running at http://").nth(1) {
                return Ok::<_, std::io::Error>(Some(
                    rest.split_whitespace().next().unwrap_or("").to_owned(),
                ));
            }
        }
        Ok(None)
    })
    .await??;
    // Keep draining so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    found.ok_or_else(|| anyhow::anyhow!("blogflow exited before listening"))
}

/// The prompt both sides of the local-model benchmark process: a fixed ChatML request of
/// about 300 tokens.
pub fn local_bench_prompt() -> String {
    let context = "Open-weight language models changed how teams build products. They run on local hardware, \
        keep data in house, and can be tuned for a domain. Costs fell as quantisation matured, and small models now \
        answer routine questions well. ";
    crate::llm::local::template::render_chatml(&[
        crate::llm::local::template::Message {
            role: "system",
            content: "You are a helpful assistant who writes blog articles.",
        },
        crate::llm::local::template::Message {
            role: "user",
            content: &format!(
                "{}\nWrite a blog article about open-weight models.",
                context.repeat(6)
            ),
        },
    ])
}

/// Loads the local model and prints load time, prompt and generation speed and peak RSS, as
/// one JSON line per run (for `bench/local_model.sh`) or as text.
pub async fn local_model(
    model: Option<std::path::PathBuf>,
    tokens: u32,
    threads: i32,
    runs: usize,
    json_lines: bool,
) -> anyhow::Result<()> {
    use crate::llm::local::{Engine, EngineConfig, Sampling, fetch};
    let path = match model {
        Some(p) => p,
        None => {
            let env =
                crate::config::Env::load(&std::env::current_dir()?).map_err(anyhow::Error::msg)?;
            tokio::task::spawn_blocking(move || {
                fetch::ensure(&fetch::SMOLLM2, &fetch::cache_dir(&env), &mut |_| {})
            })
            .await??
        }
    };
    let config = EngineConfig {
        model_path: path.clone(),
        threads,
        context_tokens: 2048,
        concurrency: 1,
    };
    let engine = tokio::task::spawn_blocking(move || Engine::load(config)).await??;
    let prompt = local_bench_prompt();
    for run in 0..runs {
        let sampling = Sampling {
            temperature: 0.8,
            top_p: 0.9,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            seed: 1 + run as u32,
            max_tokens: tokens,
            ignore_end: true,
        };
        let out = engine
            .generate(prompt.clone(), sampling, CancellationToken::new())
            .await?;
        let pp = out.prompt_tokens as f64 / out.prompt_time.as_secs_f64();
        let tg = out.completion_tokens as f64 / out.generation_time.as_secs_f64();
        let (_, hwm) = rss_kib(std::process::id()).unwrap_or((0, 0));
        if json_lines {
            println!(
                "{}",
                json!({"engine": "blogflow", "run": run, "load_ms": engine.load_time().as_secs_f64() * 1e3, "prompt_tokens": out.prompt_tokens,
                "prompt_tok_s": pp, "gen_tokens": out.completion_tokens, "gen_tok_s": tg, "peak_rss_mib": hwm as f64 / 1024.0})
            );
        } else {
            println!(
                "run {run}: load {:.0} ms, prompt {} tok at {pp:.1} tok/s, generation {} tok at {tg:.1} tok/s, peak RSS {:.1} MiB",
                engine.load_time().as_secs_f64() * 1e3,
                out.prompt_tokens,
                out.completion_tokens,
                hwm as f64 / 1024.0
            );
        }
    }
    Ok(())
}

/// Store operations per post on SQLite and optionally PostgreSQL (see `blogflow bench store`).
pub async fn store(posts: usize, database_url: Option<&str>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let sqlite = crate::store::Store::open(Db::open(&dir.path().join("bench.db"))?).await?;
    println!("store operations, {posts} posts (µs per operation; x = vs SELECT 1 on that store)");
    store_on("sqlite", &sqlite, posts).await?;
    if let Some(url) = database_url {
        let pg = crate::store::Store::connect_postgres(url).await?;
        store_on("postgres", &pg, posts).await?;
    }
    Ok(())
}

async fn store_on(name: &str, store: &crate::store::Store, posts: usize) -> anyhow::Result<()> {
    use crate::store::{NewPost, PostStatus};
    let run = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let post = |i: usize| NewPost {
        job_id: run.clone(),
        slot: i as u32,
        topic: format!("topic {i}"),
        keyword: Some("ai".into()),
        category: "AI".into(),
        language: "en".into(),
        post: crate::content::GeneratedPost {
            title: format!("Title {i}"),
            slug: format!("{run}-{i}"),
            summary: "summary".into(),
            tags: vec!["ai".into()],
            seo_title: "seo".into(),
            seo_description: "seo".into(),
            seo_keywords: vec!["ai".into()],
            body: (0..40)
                .map(|p| {
                    format!(
                        "Paragraph {p} of post {i}: {} {}.",
                        i * 7919 + p,
                        p * 104_729 + i
                    )
                })
                .collect::<Vec<_>>()
                .join("\n\n"),
        },
        quality: crate::content::QualityReport {
            score: 80,
            parts: vec![],
            forbidden: vec![],
        },
        status: PostStatus::Ready,
        provider: "bench".into(),
        model: "bench".into(),
        input_tokens: 100,
        output_tokens: 1000,
        cost_usd: 0.01,
        generation_ms: 1,
        attempts: 1,
        hold_reason: None,
        provenance: Default::default(),
        daily_cap: None,
    };
    let time = |start: Instant, n: usize| start.elapsed().as_secs_f64() * 1e6 / n as f64;
    let start = Instant::now();
    for _ in 0..posts {
        store.ping().await?;
    }
    let ping = time(start, posts);
    let start = Instant::now();
    let mut ids = Vec::with_capacity(posts);
    for i in 0..posts {
        ids.push(store.insert_post(post(i)).await?.id);
    }
    let insert = time(start, posts);
    let start = Instant::now();
    for id in &ids {
        std::hint::black_box(store.get_post(id).await?);
    }
    let get = time(start, posts);
    let start = Instant::now();
    for _ in 0..posts {
        std::hint::black_box(store.list_posts(20).await?);
    }
    let list = time(start, posts);
    let start = Instant::now();
    for _ in 0..posts {
        std::hint::black_box(store.post_totals().await?);
    }
    let totals = time(start, posts);
    // Related posts: every post published, then what a new post's publication does per
    // target: read up to 500 linkable posts and rank them.
    for id in &ids {
        store
            .record_publication(
                id,
                "markdown",
                &format!("/posts/{id}.md"),
                crate::store::PublicationState::Published,
            )
            .await?;
    }
    let subject = crate::content::related::Subject::of(
        "How coding agents change code review",
        "coding agents",
        &["agents".into(), "coding".into()],
    );
    let start = Instant::now();
    for _ in 0..posts {
        let candidates = store
            .linkable_posts("markdown", "en", i64::MAX, 500)
            .await?;
        std::hint::black_box(crate::content::related::closest(&subject, &candidates).len());
    }
    let related = time(start, posts);
    for (op, us) in [
        ("ping (SELECT 1)", ping),
        ("insert_post (slug, near-dup, bands)", insert),
        ("get_post", get),
        ("list_posts(20)", list),
        ("post_totals", totals),
        ("related: linkable_posts(500) + ranking", related),
    ] {
        println!(
            "{name:<9} {op:<38} {us:>10.1} µs {:>8.1}x",
            us / ping.max(1e-9)
        );
    }
    Ok(())
}

/// The monitor's own cost: CPU per system reading and per whole monitoring cycle (sample,
/// history write and five-minute summary, thresholds, every self-healing check) on the
/// embedded backends, as a share of one core at the default 15 s interval.
pub async fn sampler(cycles: usize) -> anyhow::Result<()> {
    use crate::config::{Config, Env, RawConfig};
    let dir = tempfile::tempdir()?;
    let env = Env::from_pairs([
        (
            "BLOGFLOW_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        ("BLOGFLOW_LOCAL_MODEL", "off".to_owned()),
        ("WORKFLOW_AUTO_START", "false".to_owned()),
    ]);
    let config = Config::validate(RawConfig::default(), &env)
        .map_err(|p| anyhow::anyhow!("bench config: {p:?}"))?
        .0;
    let interval = config.monitor.interval.as_secs_f64();
    let config = Arc::new(config);
    let parts = crate::app::open(config.clone()).await?;
    let orchestrator =
        crate::orchestrator::Orchestrator::new(parts.router, parts.queue.clone(), config.clone());
    let mut monitor = crate::monitor::Monitor::new(
        parts.ops,
        orchestrator,
        parts.store.clone(),
        parts.queue,
        config,
    );
    let mut system = crate::ops::sample::SystemSampler::new(dir.path().to_owned());

    // Baseline: the cheapest thing the monitor does to the database, one `SELECT 1`.
    let (cpu, wall) = (cpu_secs(), Instant::now());
    for _ in 0..cycles {
        parts.store.ping().await?;
    }
    let ping = (
        (cpu_secs() - cpu) / cycles as f64,
        wall.elapsed().as_secs_f64() / cycles as f64,
    );

    let (cpu, wall) = (cpu_secs(), Instant::now());
    for _ in 0..cycles {
        std::hint::black_box(system.read());
    }
    let read = (
        (cpu_secs() - cpu) / cycles as f64,
        wall.elapsed().as_secs_f64() / cycles as f64,
    );

    for _ in 0..10 {
        monitor.cycle().await;
    }
    let (cpu, wall) = (cpu_secs(), Instant::now());
    for _ in 0..cycles {
        monitor.cycle().await;
    }
    let cycle = (
        (cpu_secs() - cpu) / cycles as f64,
        wall.elapsed().as_secs_f64() / cycles as f64,
    );

    println!("monitor overhead, {cycles} repetitions each (CPU = user + system of this process)");
    println!(
        "{:<34} {:>12} {:>12} {:>12}",
        "", "CPU µs", "wall µs", "vs ping"
    );
    for (name, (c, w)) in [
        ("baseline: store ping (SELECT 1)", ping),
        ("system reading (sysinfo, statvfs)", read),
        ("whole monitoring cycle", cycle),
    ] {
        println!(
            "{name:<34} {:>12.1} {:>12.1} {:>11.1}x",
            c * 1e6,
            w * 1e6,
            c / ping.0.max(1e-9)
        );
    }
    let share = cycle.0 / interval * 100.0;
    println!(
        "at one cycle per {interval} s: {share:.4} % of one core (target < 1 %: {:.0}x under)",
        1.0 / share.max(1e-9)
    );
    println!("peak RSS {:.1} MiB", peak_rss_mib());
    Ok(())
}

/// `blogflow bench extract`: the source reader's work per page, on the news pages of the
/// test fixtures (English; Korean in UTF-8 and in EUC-KR), against parsing the same HTML alone
/// in the same process; then the grounding check of a long post against those articles.
pub fn extract(reps: usize) -> anyhow::Result<()> {
    const EN: &str = include_str!("../tests/fixtures/sources/news-en.html");
    const KO: &str = include_str!("../tests/fixtures/sources/news-ko.html");
    let euc_kr = encoding_rs::EUC_KR.encode(KO).0.into_owned();
    let reps = reps.max(1);
    let per = |f: &mut dyn FnMut()| {
        f(); // warm-up
        let started = std::time::Instant::now();
        for _ in 0..reps {
            f();
        }
        started.elapsed() / reps as u32
    };
    println!("source reader, per page ({reps} repetitions; baseline: parsing the HTML alone)");
    println!(
        "{:<24} {:>12} {:>15} {:>8}",
        "page", "parse only", "decode+extract", "ratio"
    );
    let pages: [(&str, &[u8], &str); 3] = [
        ("English, UTF-8", EN.as_bytes(), "news.example.com"),
        ("Korean, UTF-8", KO.as_bytes(), "news.example.kr"),
        ("Korean, EUC-KR", &euc_kr, "news.example.kr"),
    ];
    for (name, bytes, host) in pages {
        let url = format!("https://{host}/article");
        let text = String::from_utf8_lossy(bytes).into_owned();
        let parse = per(&mut || {
            std::hint::black_box(dom_query::Document::from(text.as_str()));
        });
        let mut failed = None;
        let full = per(&mut || {
            let (html, _) = crate::sources::charset::decode(bytes, Some("text/html"), host);
            if let Err(e) = crate::sources::extract(&html, &url) {
                failed = Some(e);
            }
        });
        if let Some(e) = failed {
            anyhow::bail!("{name}: {e}");
        }
        println!(
            "{name:<24} {:>9.0} µs {:>12.0} µs {:>7.2}x",
            parse.as_secs_f64() * 1e6,
            full.as_secs_f64() * 1e6,
            full.as_secs_f64() / parse.as_secs_f64()
        );
    }
    // The grounding check of a post of about 1,500 words against the three articles.
    let sources: Vec<String> = [
        (EN, "https://news.example.com/a"),
        (KO, "https://news.example.kr/a"),
    ]
    .iter()
    .map(|(html, url)| crate::sources::extract(html, url).map(|a| a.text))
    .collect::<Result<_, _>>()?;
    let refs: Vec<&str> = sources.iter().map(String::as_str).collect();
    let paragraph = "The open model scored 87.5% on GPQA [1], and its makers say curation beat scale. \
        정부는 5년간 1조 원을 투자해 국산화율을 2030년까지 50%로 높인다 [2]. \
        Analysts said \"Deployment is a different test\" [1], and adoption reached 73 % [2].";
    let post = format!("## Background\n\n{}", [paragraph; 30].join("\n\n"));
    let words = post.split_whitespace().count();
    let parse = per(&mut || {
        std::hint::black_box(dom_query::Document::from(EN));
    });
    let check = per(&mut || {
        std::hint::black_box(crate::content::grounding::check(&post, &refs));
    });
    println!(
        "grounding check, {words}-word post, {} sources: {:.0} µs ({:.2}x parsing the English page)",
        refs.len(),
        check.as_secs_f64() * 1e6,
        check.as_secs_f64() / parse.as_secs_f64()
    );
    // What storing the post adds: its links filtered, its list of sources appended.
    let policy = crate::content::links::LinkPolicy::new(
        ["https://news.example.com/a", "https://news.example.kr/a"],
        ["https://blog.example.com"],
    );
    let references = [crate::content::SourceRef {
        title: "Open model matches frontier systems".into(),
        url: "https://news.example.com/a".into(),
    }];
    let linked =
        format!("{post}\n\nSee [an offer](https://spam.example) and https://spam.example/x.");
    let finish = per(&mut || {
        let (body, removed) = crate::content::links::filter(&linked, &policy);
        std::hint::black_box((
            crate::content::sources::with_list(&body, &references, crate::config::Language::En),
            removed,
        ));
    });
    println!(
        "link filter and sources list, same post: {:.0} µs ({:.2}x parsing the English page)",
        finish.as_secs_f64() * 1e6,
        finish.as_secs_f64() / parse.as_secs_f64()
    );
    Ok(())
}

/// `blogflow bench cards`: each of the sample titles drawn as a social card (layout, render,
/// PNG), against drawing the same card with an empty title, in the same process.
pub fn cards(reps: usize, out: Option<&std::path::Path>) -> anyhow::Result<()> {
    use crate::images::{CardRenderer, CardStyle, CardText};
    let reps = reps.max(1);
    let started = std::time::Instant::now();
    let renderer = CardRenderer::new(CardStyle::default())?;
    println!(
        "fonts loaded in {:.1} ms (once per process)",
        started.elapsed().as_secs_f64() * 1e3
    );
    let text = |title: &str| CardText {
        title: title.to_owned(),
        category: "AI Trends".into(),
        date: "2026-12-07".into(),
    };
    let time = |title: &str| -> anyhow::Result<std::time::Duration> {
        renderer.render(&text(title))?; // warm-up
        let started = std::time::Instant::now();
        for _ in 0..reps {
            std::hint::black_box(renderer.render(&text(title))?);
        }
        Ok(started.elapsed() / reps as u32)
    };
    let baseline = time("")?;
    println!(
        "baseline, a card with an empty title: {:.1} ms",
        baseline.as_secs_f64() * 1e3
    );
    println!(
        "{:>5} {:>5} {:>9} {:>7}  title",
        "chars", "lines", "ms", "ratio"
    );
    let mut worst = std::time::Duration::ZERO;
    for (i, title) in crate::images::card::sample_titles().iter().enumerate() {
        let took = time(title)?;
        worst = worst.max(took);
        let card = renderer.render(&text(title))?;
        if let Some(dir) = out {
            std::fs::create_dir_all(dir)?;
            std::fs::write(dir.join(format!("card-{i:02}.png")), &card.png)?;
        }
        println!(
            "{:>5} {:>5} {:>9.1} {:>6.2}x  {}",
            title.chars().count(),
            card.lines.len(),
            took.as_secs_f64() * 1e3,
            took.as_secs_f64() / baseline.as_secs_f64(),
            title.chars().take(40).collect::<String>()
        );
    }
    println!(
        "slowest card: {:.1} ms ({:.2}x the baseline)",
        worst.as_secs_f64() * 1e3,
        worst.as_secs_f64() / baseline.as_secs_f64()
    );
    Ok(())
}
