//! Topic sources against a feed server started by the test: RSS and Atom fixtures (Korean
//! titles, the same item in two feeds, tracking parameters), a malformed feed, an oversized
//! one and one with too many items; conditional GET; picking without repeats.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use blogflow::config::{Config, Env, RawConfig};
use blogflow::store::Store;
use blogflow::topics::Topics;

/// (path, If-None-Match) of one request.
type Seen = (String, Option<String>);

#[derive(Clone, Default)]
struct FeedServer {
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn fixture(name: &str) -> String {
    let day = chrono::Utc::now() - chrono::Duration::days(1);
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/feeds/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("@DAY_RFC@", &day.format("%d %b %Y").to_string())
    .replace("@DAY_ISO@", &day.format("%Y-%m-%d").to_string())
}

fn many_items(n: usize, size: usize) -> String {
    let mut s =
        String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Many</title>");
    for i in 0..n {
        s.push_str(&format!(
            "<item><title>Study {:016x}</title><link>https://many.example/{i}</link><guid>many-{i}</guid><description>{}</description></item>",
            // Distinct titles (similar ones would rightly be one story).
            {
                let mut x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                x ^ (x >> 31)
            },
            "x".repeat(size)
        ));
    }
    s + "</channel></rss>"
}

async fn serve(
    State(s): State<FeedServer>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> axum::response::Response {
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .map(|v| v.to_str().unwrap().to_owned());
    s.seen.lock().unwrap().push((name.clone(), inm.clone()));
    let etag = format!("\"v1-{name}\"");
    if inm.as_deref() == Some(etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let body = match name.as_str() {
        "huge.xml" => many_items(3000, 1000), // ~3 MB
        "many.xml" => many_items(300, 10),
        other => fixture(other),
    };
    ([(header::ETAG, etag)], body).into_response()
}

async fn feed_server() -> (String, FeedServer) {
    let state = FeedServer::default();
    let app = axum::Router::new()
        .route("/{name}", axum::routing::get(serve))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), state)
}

fn topics_toml(root: &str) -> String {
    format!(
        r#"[topics]
max_feed_kib = 1024
max_items_per_feed = 20
max_age_days = 30
[[topics.feeds]]
name = "ai-news"
url = "{root}/ai-news.xml"
exclude = ["sponsored"]
weight = 2.0
[[topics.feeds]]
name = "lab"
url = "{root}/lab-blog.atom"
category = "research"
[[topics.feeds]]
name = "broken"
url = "{root}/broken.xml"
[[topics.feeds]]
name = "huge"
url = "{root}/huge.xml"
[[topics.feeds]]
name = "many"
url = "{root}/many.xml"
"#
    )
}

async fn topics(root: &str, dir: &std::path::Path) -> (Topics, Store) {
    let raw: RawConfig = toml::from_str(&topics_toml(root)).unwrap();
    let (config, _) = Config::validate(raw, &Env::default()).unwrap();
    let store = Store::open(blogflow::db::Db::open(&dir.join("t.db")).unwrap())
        .await
        .unwrap();
    (Topics::new(store.clone(), config.topics), store)
}

#[tokio::test]
async fn feeds_are_ingested_once_bounded_and_reported_per_feed() {
    let (root, server) = feed_server().await;
    let dir = tempfile::tempdir().unwrap();
    let (topics, store) = topics(&root, dir.path()).await;

    let reports = topics.refresh(true).await;
    let outcome = |feed: &str| {
        let r = reports.iter().find(|r| r.feed == feed).unwrap();
        (r.outcome.clone(), r.added)
    };
    // ai-news: 4 items, the sponsored one excluded. lab: 3 entries, one of which links to an
    // ai-news article with tracking parameters (the same item). many: 300 items, 20 kept.
    assert_eq!(outcome("ai-news"), ("ok".into(), 3));
    assert_eq!(outcome("lab"), ("ok".into(), 2));
    assert_eq!(outcome("many"), ("ok".into(), 20));
    let (broken, added) = outcome("broken");
    assert!(
        broken.contains("not a valid RSS, Atom or JSON feed") && added == 0,
        "{broken}"
    );
    let (huge, added) = outcome("huge");
    assert!(
        huge.contains("larger than 1024 KiB") && added == 0,
        "{huge}"
    );

    let all = store.list_topics(None, 500).await.unwrap();
    assert_eq!(all.len(), 25);
    assert!(
        all.iter()
            .any(|t| t.title == "오픈소스 한국어 언어 모델, 벤치마크 1위 달성")
    );
    assert!(all.iter().all(|t| !t.title.contains("Sponsored")));
    let gpt5: Vec<_> = all
        .iter()
        .filter(|t| t.title.to_lowercase().contains("gpt-5"))
        .collect();
    assert_eq!(gpt5.len(), 2, "two sources, two items");
    assert!(
        gpt5.iter().all(|t| t.cluster_size == 2),
        "one story: {gpt5:#?}"
    );
    let lab = all.iter().find(|t| t.source == "lab").unwrap();
    assert_eq!(lab.category, "research");
    let nvidia = all.iter().find(|t| t.title.starts_with("Nvidia")).unwrap();
    assert_eq!(
        nvidia.url.as_deref(),
        Some("ai-news.example/2026/11/nvidia-revenue")
    );
    // The broken feed's error is kept for the operator; the others are fine.
    let broken_state = store
        .feed_state(&format!("{root}/broken.xml"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(broken_state.last_status, "error");

    // Again: conditional GET answers 304, nothing is added twice.
    let again = topics.refresh(true).await;
    assert!(
        again
            .iter()
            .filter(|r| ["ai-news", "lab", "many"].contains(&r.feed.as_str()))
            .all(|r| r.outcome == "not_modified" && r.added == 0),
        "{again:#?}"
    );
    let seen = server.seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|(p, inm)| p == "ai-news.xml" && inm.as_deref() == Some("\"v1-ai-news.xml\"")),
        "the validator was sent: {seen:?}"
    );
    // Not due yet (interval 60 min): no request at all.
    let before = server.seen.lock().unwrap().len();
    let lazy = topics.refresh(false).await;
    assert!(
        lazy.iter()
            .filter(|r| r.feed != "broken" && r.feed != "huge")
            .all(|r| r.outcome == "skipped (not due)")
    );
    assert_eq!(server.seen.lock().unwrap().len(), before);
    assert_eq!(store.list_topics(None, 500).await.unwrap().len(), 25);

    // A manual topic comes first; its twin is refused.
    assert!(
        store
            .add_manual_topic("AI in Korean schools", "education")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .add_manual_topic("AI in korean schools!", "education")
            .await
            .unwrap()
            .is_none()
    );
    let first = topics.pick(None).await.unwrap().unwrap();
    assert_eq!(
        (first.source.as_str(), first.title.as_str()),
        ("manual", "AI in Korean schools")
    );

    // Picking everything: never the same item or the same story twice.
    let mut titles = HashSet::new();
    let mut stories = 0;
    while let Some(t) = topics.pick(None).await.unwrap() {
        assert!(titles.insert(t.title.clone()), "picked twice: {}", t.title);
        stories += 1;
    }
    assert_eq!(stories, 24, "25 feed items, of which two are one story");
    let skipped = store
        .list_topics(Some("skipped".into()), 500)
        .await
        .unwrap();
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].title.to_lowercase().contains("gpt-5"));
}

const FAST_QUEUE: &str = "[queue]\nlease_secs = 2\nstalled_interval_secs = 1\npoll_interval_ms = 50\nshutdown_grace_secs = 5\n";
/// Like `FAST_QUEUE` with a lease no loaded machine misses: where a test counts what one run
/// of a job wrote, a stall (and the re-run it starts) must not happen. Twice, under a full test
/// run, the cap test below ended with 2 posts instead of 3, refused with "2 written today, 1
/// being written". A missed 2 s lease (a stall whose re-run meets the first run's slot still
/// counted) was one suspect; the test now rules it out and prints the job and error log.
const STEADY_QUEUE: &str = "[queue]\nlease_secs = 30\nstalled_interval_secs = 1\npoll_interval_ms = 50\nshutdown_grace_secs = 5\n";

#[tokio::test]
async fn fifty_runs_never_write_the_same_topic_twice() {
    let (root, _server) = feed_server().await;
    let fake = support::FakeOpenAi::start().await;
    let toml = format!(
        "schedules = []\n[generation]\nparallelism = 2\n[topics]\nmax_items_per_feed = 60\n\
         [[topics.feeds]]\nname = \"many\"\nurl = \"{root}/many.xml\"\n\
         [[topics.feeds]]\nname = \"ai-news\"\nurl = \"{root}/ai-news.xml\"\n\
         [[topics.feeds]]\nname = \"lab\"\nurl = \"{root}/lab-blog.atom\"\n{FAST_QUEUE}"
    );
    let svc = support::InProcess::start(&fake, &toml, &[]).await;
    for _ in 0..50 {
        svc.generate(1).await;
    }
    svc.wait_for("/api/automation/workflow", "50 posts", |w| {
        w["posts"]["total"] == 50
    })
    .await;
    let store = &svc.running().store;
    let mut topics = HashSet::new();
    for p in store.list_posts(100).await.unwrap() {
        let post = store.get_post(&p.id).await.unwrap().unwrap();
        assert!(
            topics.insert(post.topic.clone()),
            "written twice: {}",
            post.topic
        );
    }
    assert_eq!(topics.len(), 50);
    // Both GPT-5 items are one story: at most one of them was written about.
    assert!(
        topics
            .iter()
            .filter(|t| t.to_lowercase().contains("gpt-5"))
            .count()
            <= 1
    );
    let picked = store.list_topics(Some("picked".into()), 500).await.unwrap();
    assert_eq!(
        picked.len(),
        50,
        "every post came from the pool, none from keywords"
    );
    svc.stop().await;
}

#[tokio::test]
async fn a_daily_post_cap_and_a_daily_budget_stop_generation_with_an_alert() {
    let fake = support::FakeOpenAi::start().await;
    let hook = support::AlertReceiver::start().await;
    let hook_url = format!("{}/hook", hook.root);
    let env = [("BLOGFLOW_ALERT_WEBHOOK_URL", hook_url.as_str())];
    let monitoring = format!(
        "[monitoring]\ninterval_secs = 0.2\n{}",
        support::QUIET_THRESHOLDS
    );

    // A cap of 3 posts: a request for 5 writes 3.
    let toml = format!(
        "schedules = []\n[generation]\ndaily_post_cap = 3\nparallelism = 2\n{monitoring}{STEADY_QUEUE}"
    );
    let svc = support::InProcess::start(&fake, &toml, &env).await;
    let job = svc.generate(5).await;
    // The posts over the cap are skipped, not failed: the job completes and says why.
    let done = svc.job_ended(&job, "completed").await;
    assert_eq!(done["result"]["skipped"], 2, "{done:#}");
    assert!(
        done["result"]["skipped_reason"]
            .as_str()
            .unwrap()
            .contains("daily post cap of 3"),
        "{done:#}"
    );
    assert_eq!(done["stalled_count"], 0, "{done:#}");
    let costs = svc.get("/api/costs").await;
    let errors = std::fs::read_to_string(svc.dir.path().join("logs/error.log")).unwrap_or_default();
    assert_eq!(costs["today"]["posts"], 3, "{costs:#}\n{done:#}\n{errors}");
    assert!(
        costs["stopped"]
            .as_str()
            .unwrap()
            .contains("daily post cap")
    );
    let got = hook
        .wait_until("the budget alert", |g| {
            g.iter().any(|r| {
                r.body["alerts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a["key"] == "budget")
            })
        })
        .await;
    assert_eq!(
        got.iter()
            .filter(|r| r.body["alerts"][0]["key"] == "budget")
            .count(),
        1
    );
    svc.stop().await;

    // A budget of $0.03 at $0.0102 a post (1,020 tokens at $10 per million): 3 posts, ± 1.
    let toml = format!(
        "schedules = []\n[generation]\ndaily_budget_usd = 0.03\nparallelism = 2\n\
         [providers.openai]\ninput_price_per_mtok = 10.0\noutput_price_per_mtok = 10.0\n{STEADY_QUEUE}"
    );
    let svc = support::InProcess::start(&fake, &toml, &[]).await;
    let job = svc.generate(8).await;
    let done = svc.job_ended(&job, "completed").await;
    assert!(
        done["result"]["skipped_reason"]
            .as_str()
            .unwrap()
            .contains("daily budget of $0.03"),
        "{done:#}"
    );
    let costs = svc.get("/api/costs").await;
    let posts = costs["today"]["posts"].as_u64().unwrap();
    assert!((2..=4).contains(&posts), "{costs:#}");
    eprintln!(
        "budget $0.03: {posts} posts, ${} spent",
        costs["today"]["cost_usd"]
    );
    svc.stop().await;
}

#[tokio::test]
async fn a_near_duplicate_post_is_held_with_the_reason_and_not_published() {
    let fake = support::FakeOpenAi::start().await;
    let original = support::good_post(7);
    let mut rewrite = original.clone();
    // Another title and slug, the last of six sections rewritten: still the same post.
    rewrite["title"] = "Software Teams and AI Agents: What Changed".into();
    rewrite["slug"] = "software-teams-and-ai-agents".into();
    let cut = "## What changed in outlook";
    let head = original["body"]
        .as_str()
        .unwrap()
        .split(cut)
        .next()
        .unwrap();
    let other = support::good_post(8);
    let tail = other["body"].as_str().unwrap().split(cut).nth(1).unwrap();
    rewrite["body"] = format!("{head}{cut}{tail}").into();
    fake.script([
        support::Reply::Text(original.to_string()),
        support::Reply::Text(rewrite.to_string()),
        support::Reply::Post,
    ]);
    let toml = format!("schedules = []\n[generation]\nparallelism = 1\n{FAST_QUEUE}");
    let svc = support::InProcess::start(&fake, &toml, &[]).await;
    for expected in 1..=3 {
        let job = svc.generate(1).await;
        svc.job_ended(&job, "completed").await;
        svc.wait_for("/api/automation/workflow", "the post stored", |w| {
            w["posts"]["total"] == expected
        })
        .await;
    }
    let w = svc
        .wait_for("/api/automation/workflow", "two publications", |w| {
            w["posts"]["published"] == 2
        })
        .await;
    assert_eq!(w["posts"]["held"], 1, "{w:#}");
    let store = &svc.running().store;
    let held: Vec<_> = store
        .list_posts(10)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.status == blogflow::store::PostStatus::Held)
        .collect();
    let post = store.get_post(&held[0].id).await.unwrap().unwrap();
    assert_eq!(
        post.content.title,
        "Software Teams and AI Agents: What Changed"
    );
    let reason = post.hold_reason.unwrap();
    assert!(
        reason.starts_with("near-duplicate of \"How AI Agents Changed Software Teams, Part 7\""),
        "{reason}"
    );
    eprintln!("{reason}");
    // What the review pane reads: the post it repeats (id and title, for a link), the body
    // rendered and sanitized, and the threshold the score is judged against.
    let detail = svc.get(&format!("/api/posts/{}", post.id)).await;
    let original_id = post.duplicate_of.clone().unwrap();
    assert!(reason.contains(&original_id));
    assert_eq!(
        detail["duplicate"]["id"],
        original_id.as_str(),
        "{detail:#}"
    );
    assert_eq!(
        detail["duplicate"]["title"],
        "How AI Agents Changed Software Teams, Part 7"
    );
    assert_eq!(detail["post"]["review"]["state"], "pending");
    let html = detail["body_html"].as_str().unwrap();
    assert!(html.contains("<h2>What changed in models</h2>"), "{html}");
    assert_eq!(detail["quality_threshold"], 60);
    let files = support::markdown_posts(&svc.dir.path().join("content"));
    assert_eq!(files, 2, "the near-duplicate was not published");
    svc.stop().await;
}

#[tokio::test]
async fn the_same_request_within_the_cache_time_reuses_the_post_instead_of_paying_again() {
    let fake = support::FakeOpenAi::start().await;
    let toml = format!("schedules = []\n{FAST_QUEUE}");
    let svc = support::InProcess::start(&fake, &toml, &[]).await;
    let http = support::http();
    let mut results = Vec::new();
    for topic in [
        "Open-weight models in 2026",
        " open-weight MODELS in 2026 ",
        "Something else",
    ] {
        let r: serde_json::Value = http
            .post(format!("{}/api/automation/workflow", svc.base))
            .bearer_auth(support::TOKEN)
            .json(&serde_json::json!({"action": "generate_content", "count": 1, "topic": topic}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let job = r["job_id"].as_str().unwrap().to_owned();
        let done = svc.job_ended(&job, "completed").await;
        results.push(done["result"]["generated"][0].as_str().unwrap().to_owned());
    }
    assert_eq!(
        results[0], results[1],
        "the same topic again: the same post"
    );
    assert_ne!(results[0], results[2]);
    assert_eq!(fake.requests(), 2, "two posts paid for, not three");
    svc.stop().await;
}
