//! The real `blogflow run` binary killed and restarted: jobs are recovered, nothing is lost
//! and nothing is published twice.

mod support;

use std::path::{Path, PathBuf};

use support::cms::{FakeCms, WP_PASSWORD, WP_USER};
use support::{FakeOpenAi, Process, Reply, TOKEN, test_toml};

async fn spawn(dir: &Path, fake: &FakeOpenAi) -> Process {
    Process::spawn(dir, fake, &[]).await
}

fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect()
}

#[tokio::test]
async fn kill_9_mid_job_then_restart_completes_it_without_duplicates() {
    let fake = FakeOpenAi::start().await;
    // The first post is answered at once; the other two hang until the process is killed.
    fake.script([Reply::Post, Reply::Hang, Reply::Hang]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blogflow.toml"), test_toml("")).unwrap();

    let mut first = spawn(dir.path(), &fake).await;
    let job_id = first.generate(3).await;
    fake.wait_for_requests(3).await;
    first
        .wait_for(
            "/api/automation/workflow",
            "the first post to be published",
            |v| v["posts"]["published"] == 1,
        )
        .await;
    let job = first
        .get(&format!("/api/jobs/content-generation/{job_id}"))
        .await;
    assert_eq!(job["state"], "active");
    let published_before = markdown_files(&dir.path().join("content"));
    let first_file = std::fs::read_to_string(&published_before[0]).unwrap();

    first.child.start_kill().unwrap(); // SIGKILL
    first.child.wait().await.unwrap();

    let second = spawn(dir.path(), &fake).await;
    let job = second
        .wait_for(
            &format!("/api/jobs/content-generation/{job_id}"),
            "the recovered job to complete",
            |j| j["state"] == "completed",
        )
        .await;
    assert_eq!(job["stalled_count"], 1, "recovered as stalled: {job:#}");
    assert_eq!(job["attempts_made"], 0, "a crash is not a failed attempt");
    second
        .wait_for("/api/automation/workflow", "three published posts", |v| {
            v["posts"]["published"] == 3
        })
        .await;

    let files = markdown_files(&dir.path().join("content"));
    assert_eq!(files.len(), 3, "{files:?}");
    assert_eq!(
        std::fs::read_to_string(&published_before[0]).unwrap(),
        first_file,
        "the first post was not rewritten"
    );
    let posts = second.get("/api/posts").await;
    let posts = posts["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 3);
    for p in posts {
        let detail = second
            .get(&format!("/api/posts/{}", p["id"].as_str().unwrap()))
            .await;
        assert_eq!(
            detail["publications"].as_array().unwrap().len(),
            1,
            "published once: {detail:#}"
        );
    }
    assert_eq!(
        fake.requests(),
        5,
        "the finished post was not generated again"
    );
    assert!(second.terminate().await.success());
    let perf = std::fs::read_to_string(dir.path().join("logs/performance.log")).unwrap();
    assert!(
        perf.contains("llm call")
            && perf.contains("outcome=\"ok\"")
            && perf.contains("output_tokens=900"),
        "every provider call is recorded: {perf}"
    );
}

#[tokio::test]
async fn sigterm_hands_a_stuck_job_back_and_a_restart_finishes_it() {
    let fake = FakeOpenAi::start().await;
    fake.script([Reply::Hang]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("blogflow.toml"),
        test_toml("").replace("shutdown_grace_secs = 5", "shutdown_grace_secs = 1"),
    )
    .unwrap();

    let first = spawn(dir.path(), &fake).await;
    let job_id = first.generate(1).await;
    fake.wait_for_requests(1).await;
    let status = first.terminate().await;
    assert!(status.success(), "graceful exit: {status:?}");
    let log = |name: &str| std::fs::read_to_string(dir.path().join("logs").join(name)).unwrap();
    assert!(log("workflow.log").contains("job handed back to the queue"));
    assert!(
        log("error.log").contains("job handed back to the queue"),
        "warnings reach error.log"
    );
    assert!(
        !log("error.log").contains("api request"),
        "info events stay out of error.log"
    );
    for name in ["workflow.log", "error.log", "performance.log"] {
        assert!(
            !log(name).contains("sk-test") && !log(name).contains(TOKEN),
            "a secret reached {name}"
        );
    }
    let perf = log("performance.log");
    assert!(
        perf.contains("api request") && perf.contains("latency_ms"),
        "{perf}"
    );
    assert!(
        !perf.contains("worker started"),
        "only performance events in performance.log"
    );

    let second = spawn(dir.path(), &fake).await;
    let job = second
        .wait_for(
            &format!("/api/jobs/content-generation/{job_id}"),
            "the handed-back job to complete",
            |j| j["state"] == "completed",
        )
        .await;
    assert_eq!(
        (job["stalled_count"].as_u64(), job["attempts_made"].as_u64()),
        (Some(0), Some(0)),
        "handed back, not stalled or failed: {job:#}"
    );
    second
        .wait_for("/api/automation/workflow", "the post published", |w| {
            w["posts"]["published"] == 1
        })
        .await;
    assert_eq!(markdown_files(&dir.path().join("content")).len(), 1);
    assert!(second.terminate().await.success());
}

#[tokio::test]
async fn kill_9_after_the_card_upload_and_after_the_sites_success_publishes_once() {
    let fake = FakeOpenAi::start().await;
    let site = FakeCms::wordpress().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("blogflow.toml"),
        test_toml("[publish.wordpress]\nallow_http = true\n"),
    )
    .unwrap();
    let env = [
        ("BLOGFLOW_WORDPRESS_URL", site.root.as_str()),
        ("BLOGFLOW_WORDPRESS_USER", WP_USER),
        ("BLOGFLOW_WORDPRESS_APP_PASSWORD", WP_PASSWORD),
    ];

    // WordPress stores the post's card, then the process dies before it hears the answer.
    let mut first = Process::spawn(dir.path(), &fake, &env).await;
    site.kill_after_next_upload(first.child.id().unwrap());
    first.generate(1).await;
    let status = first.child.wait().await.unwrap();
    assert!(!status.success(), "killed: {status:?}");
    assert_eq!(site.media().len(), 1, "the site has the card");
    assert!(site.posts().is_empty(), "and no post yet");

    // WordPress stores the post, then the process dies before it hears the answer, so the
    // ledger never gets the row. (The kill is scripted before the process starts: it may
    // take the publish job up before its pid is known here.)
    site.kill_after_next_create_of_next_process();
    let mut first = Process::spawn(dir.path(), &fake, &env).await;
    site.kill_after_next_create(first.child.id().unwrap());
    let status = first.child.wait().await.unwrap();
    assert!(!status.success(), "killed: {status:?}");
    assert_eq!(site.posts().len(), 1, "the site has the post");

    let second = Process::spawn(dir.path(), &fake, &env).await;
    let posts = second
        .wait_for("/api/posts", "the post to be published", |v| {
            v["posts"][0]["status"] == "published"
        })
        .await;
    let id = posts["posts"][0]["id"].as_str().unwrap();
    let detail = second.get(&format!("/api/posts/{id}")).await;
    let wordpress = detail["publications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["target"] == "wordpress")
        .cloned()
        .unwrap_or_else(|| panic!("a wordpress ledger row: {detail:#}"));
    let held = site.posts();
    assert_eq!(held.len(), 1, "one post on the site: {held:#?}");
    assert_eq!(wordpress["location"], held[0]["link"]);
    let creates = site
        .requests()
        .iter()
        .filter(|(m, r)| m == "POST" && r == "posts")
        .count();
    assert_eq!(
        creates, 1,
        "the retry found the post instead of sending it again"
    );
    let media = site.media();
    assert_eq!(media.len(), 1, "one card: {media:#?}");
    assert_eq!(
        held[0]["featured_media"], media[0]["id"],
        "the post uses it"
    );
    let uploads = site
        .requests()
        .iter()
        .filter(|(m, r)| m == "POST" && r == "media")
        .count();
    assert_eq!(
        uploads, 1,
        "the retry found the card instead of uploading it again"
    );
    assert_eq!(markdown_files(&dir.path().join("content")).len(), 1);
    assert!(second.terminate().await.success());
}
