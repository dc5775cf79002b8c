//! The `blogflow` command line: `config check`, `generate` and `status`.

mod support;

use std::path::Path;
use std::process::Stdio;

use support::{FakeOpenAi, TOKEN};

/// A command with a clean environment (nothing from the developer's shell leaks in).
fn blogflow(dir: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_blogflow"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BLOGFLOW_DATA_DIR", dir.join("data"))
        .env("BLOGFLOW_CONTENT_DIR", dir.join("content"))
        .env("BLOGFLOW_LOG_DIR", dir.join("logs"))
        .env("BLOGFLOW_LOCAL_MODEL", "off") // tests/local_model.rs covers it
        .kill_on_drop(true);
    cmd
}

#[tokio::test]
async fn config_check_lists_every_problem_with_its_setting() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "BLOGFLOW_LANGUAGE=fr\nBLOGFLOW_API_TOKEN=short\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("blogflow.toml"), "[generation]\nparallelism = 99\n[[schedules]]\nname = \"x\"\ncron = \"soon\"\naction = \"generate\"\n").unwrap();
    let out = blogflow(dir.path())
        .args(["config", "check"])
        .env("BLOGFLOW_LISTEN", "nowhere")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for setting in [
        "BLOGFLOW_LISTEN",
        "BLOGFLOW_LANGUAGE",
        "BLOGFLOW_API_TOKEN",
        "generation.parallelism",
        "schedules[0].cron",
    ] {
        assert!(
            text.contains(&format!("error: {setting}:")),
            "{setting} missing from:\n{text}"
        );
    }
    assert!(text.contains("5 error(s)"), "{text}");
}

#[tokio::test]
async fn credentials_in_endpoint_urls_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let out = blogflow(dir.path())
        .args(["config", "check"])
        .env("OPENAI_BASE_URL", "http://bob:hunter2secret@127.0.0.1:9/v1")
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("http://***@127.0.0.1:9/v1"), "{text}");
    assert!(
        !text.contains("hunter2secret") && !text.contains("bob:"),
        "{text}"
    );
    // Nor in the error about a URL that does not parse.
    let out = blogflow(dir.path())
        .args(["config", "check"])
        .env("OPENAI_BASE_URL", "http://bob:hunter2secret@bad host/v1")
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("error: OPENAI_BASE_URL:"), "{text}");
    assert!(!text.contains("hunter2secret"), "{text}");
}

/// Twenty mistakes in one file, a type error and an unknown key among them, and two in the
/// environment: every one is listed under the name the operator wrote.
#[tokio::test]
async fn config_check_lists_twenty_planted_errors_under_their_own_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = r#"
[server]
listen = "nowhere"
header_timeout_secs = 0
[paths]
content_dir = ""
[generation]
language = "fr"
slug_policy = "shout"
parallelism = "four"
quality_threshold = 101
cuont = 5
[publish]
mode = "sometimes"
[logging]
level = "loud"
format = "xml"
[queue]
lease_secs = 0
[sources]
max_per_post = 99
timeout_secs = 0
[providers.local]
mode = "maybe"
[topics]
max_age_days = 0
[[topics.feeds]]
name = "a"
url = "ftp://feeds.example/a"
[[schedules]]
name = "x"
cron = "soon"
action = "generate"
[[schedules]]
name = "y"
cron = "0 * * * *"
action = "dance"
"#;
    std::fs::write(dir.path().join("blogflow.toml"), file).unwrap();
    let out = blogflow(dir.path())
        .args(["config", "check"])
        .env_remove("BLOGFLOW_CONTENT_DIR")
        .env_remove("BLOGFLOW_LOCAL_MODEL")
        .env("BLOGFLOW_REDIS_PREFIX", "")
        .env("REDIS_URL", "redis://127.0.0.1:6379")
        .env("BLOGFLOW_API_TOKEN", "short")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let expected = [
        "server.listen",
        "server.header_timeout_secs",
        "paths.content_dir",
        "generation.language",
        "generation.slug_policy",
        "generation.parallelism",
        "generation.quality_threshold",
        "generation.cuont",
        "publish.mode",
        "logging.level",
        "logging.format",
        "queue.lease_secs",
        "sources.max_per_post",
        "sources.timeout_secs",
        "providers.local.mode",
        "topics.max_age_days",
        "topics.feeds[0].url",
        "schedules[0].cron",
        "schedules[1].action",
        "BLOGFLOW_REDIS_PREFIX",
        "BLOGFLOW_API_TOKEN",
    ];
    let listed: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("error: "))
        .filter_map(|l| l.split_once(": ").map(|(name, _)| name))
        .collect();
    for name in expected {
        assert_eq!(
            listed.iter().filter(|l| **l == name).count(),
            1,
            "{name} not listed once in:\n{text}"
        );
    }
    assert_eq!(listed.len(), expected.len(), "{text}");
    // TOML keys are not reported under environment names.
    for env_name in [
        "BLOGFLOW_LANGUAGE",
        "BLOGFLOW_PUBLISH_MODE",
        "RUST_LOG",
        "BLOGFLOW_LOCAL_MODEL",
    ] {
        assert!(!text.contains(env_name), "{env_name} in:\n{text}");
    }
    // A syntax error does not hide the environment's problems.
    std::fs::write(
        dir.path().join("blogflow.toml"),
        "[generation\nlanguage = \"ko\"\n",
    )
    .unwrap();
    let out = blogflow(dir.path())
        .args(["config", "check"])
        .env("BLOGFLOW_API_TOKEN", "short")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("not valid TOML") && text.contains("line 1"),
        "{text}"
    );
    assert!(text.contains("error: BLOGFLOW_API_TOKEN:"), "{text}");
}

#[tokio::test]
async fn config_check_accepts_the_shipped_examples() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        root.join("blogflow.example.toml"),
        dir.path().join("blogflow.toml"),
    )
    .unwrap();
    std::fs::copy(root.join(".env.example"), dir.path().join(".env")).unwrap();
    let out = blogflow(dir.path())
        .args(["config", "check"])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("configuration is valid") && text.contains("schedule     generate"),
        "{text}"
    );
}

#[tokio::test]
async fn generate_writes_and_publishes_posts_from_the_command_line() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let out = blogflow(dir.path())
        .args(["generate", "--count", "2", "--topic", "AI chips"])
        .env("OPENAI_BASE_URL", &fake.base_url)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("published  markdown"))
            .count(),
        2,
        "{text}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("content"))
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "md"))
            .count(),
        2
    );
    let bad = blogflow(dir.path())
        .args(["generate", "--count", "0"])
        .env("OPENAI_BASE_URL", &fake.base_url)
        .output()
        .await
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--count must be from 1 to 20"));
}

#[tokio::test]
async fn generate_without_a_provider_says_how_to_configure_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = blogflow(dir.path())
        .args(["generate"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("no LLM provider is configured")
            && text.contains("BLOGFLOW_LOCAL_MODEL=off")
            && text.contains("OPENAI_API_KEY"),
        "{text}"
    );
}

#[tokio::test]
async fn status_reports_a_running_service() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = blogflow(dir.path())
        .arg("run")
        .env("BLOGFLOW_LISTEN", "127.0.0.1:0")
        .env("BLOGFLOW_API_TOKEN", TOKEN)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let addr = blogflow::bench::wait_for_address(run.stderr.take().unwrap())
        .await
        .unwrap();
    let out = blogflow(dir.path())
        .args(["status", "--url", &format!("http://{addr}")])
        // Reads need the token once one is configured; with --url it comes from the environment.
        .env("BLOGFLOW_API_TOKEN", TOKEN)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("state      running") && text.contains("queue      content-generation"),
        "{text}"
    );
    let down = blogflow(dir.path())
        .args(["status", "--url", "http://127.0.0.1:9"])
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&down.stderr).contains("is `blogflow run` running?"));
    run.start_kill().unwrap();
}

#[tokio::test]
async fn topics_and_posts_commands_queue_list_and_refuse_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &'static [&'static str]| {
        let mut cmd = blogflow(dir.path());
        cmd.args(args);
        async move { cmd.output().await.unwrap() }
    };
    let out = run(&[
        "topics",
        "add",
        "AI in Korean schools",
        "--category",
        "education",
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("queued topic"));
    let twin = run(&["topics", "add", "AI in korean schools!"]).await;
    assert_eq!(twin.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&twin.stderr).contains("already in the topic pool"));
    let list = run(&["topics", "list"]).await;
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains("manual")
            && text.contains("education")
            && text.contains("AI in Korean schools"),
        "{text}"
    );
    let approve = run(&["posts", "approve", "no-such-post"]).await;
    assert!(!approve.status.success());
    assert!(
        String::from_utf8_lossy(&approve.stderr).contains("post no-such-post not found"),
        "{}",
        String::from_utf8_lossy(&approve.stderr)
    );
}

/// A PostgreSQL store that cannot be reached stops the start with where and why, never the
/// password; a PostgreSQL that answers is used (the posts list comes from it).
#[tokio::test]
async fn a_postgres_store_is_used_when_reachable_and_refused_clearly_when_not() {
    let dir = tempfile::tempdir().unwrap();
    let port = support::redis_server::free_port();
    let url = format!("postgres://blogflow:pg-pass-5150@127.0.0.1:{port}/blog");
    let out = blogflow(dir.path())
        .args(["posts", "list"])
        .env("DATABASE_URL", &url)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("cannot reach PostgreSQL at 127.0.0.1:{port}/blog")),
        "{text}"
    );
    assert!(!text.contains("pg-pass-5150"), "{text}");

    // A server that answers but has no such database says so.
    let out = blogflow(dir.path())
        .args(["posts", "list"])
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/blogflow_no_such_database",
        )
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("database \"blogflow_no_such_database\" does not exist"),
        "{text}"
    );

    let database = support::postgres::Database::fresh();
    let out = blogflow(dir.path())
        .args(["posts", "list"])
        .env("DATABASE_URL", &database.url)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The schema was made in the fresh database, not in the data directory's SQLite file.
    assert!(
        !dir.path().join("data/blogflow.db").exists() || {
            let c = rusqlite::Connection::open(dir.path().join("data/blogflow.db")).unwrap();
            c.query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'posts'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
                == 0
        }
    );
}

#[tokio::test]
async fn logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let mut run = blogflow(dir.path())
        .arg("run")
        .env("BLOGFLOW_LISTEN", "127.0.0.1:0")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(run.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line()).await
    {
        let listening = line.contains("running at http://");
        seen.push(line);
        if listening {
            break;
        }
    }
    run.start_kill().unwrap();
    assert!(
        seen.iter().any(|l| l.contains("running at http://")),
        "{seen:#?}"
    );
    assert!(
        seen.iter().all(|l| !l.contains('\u{1b}')),
        "journald and files get plain text: {seen:#?}"
    );
}
