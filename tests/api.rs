//! The service in-process, driven through its real HTTP API on port 0, against a fake
//! OpenAI-compatible server.

mod support;

use std::path::Path;

use blogflow::config::{Config, Env, RawConfig};
use serde_json::{Value, json};
use support::{FakeOpenAi, Reply, TOKEN, test_toml};

struct Service {
    running: Option<blogflow::app::Running>,
    base: String,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

async fn start(base_url: Option<&str>, token: Option<&str>, extra_toml: &str) -> Service {
    let dir = tempfile::tempdir().unwrap();
    let raw: RawConfig = toml::from_str(&test_toml(extra_toml)).unwrap();
    let mut env = vec![
        ("BLOGFLOW_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        (
            "BLOGFLOW_DATA_DIR".to_owned(),
            dir.path().join("data").display().to_string(),
        ),
        (
            "BLOGFLOW_CONTENT_DIR".to_owned(),
            dir.path().join("content").display().to_string(),
        ),
        (
            "OPENAI_API_KEY".to_owned(),
            "sk-test-secret-key-value".to_owned(),
        ),
    ];
    if let Some(url) = base_url {
        env.push(("OPENAI_BASE_URL".into(), url.into()));
    }
    if let Some(t) = token {
        env.push(("BLOGFLOW_API_TOKEN".into(), t.into()));
    }
    let (config, _) = Config::validate(raw, &Env::from_pairs(env)).unwrap();
    let running = blogflow::app::start(config).await.unwrap();
    let base = format!("http://{}", running.addr);
    Service {
        running: Some(running),
        base,
        dir,
        http: support::http(),
    }
}

impl Service {
    async fn action(&self, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/api/automation/workflow", self.base))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn get(&self, path: &str) -> Value {
        support::get_json(&self.http, &format!("{}{path}", self.base)).await
    }

    /// Polls `path` until `done` holds (the service is observed from outside, like a client).
    async fn wait_for(&self, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        support::poll_json(
            &support::http(),
            &format!("{}{path}", self.base),
            what,
            done,
        )
        .await
    }

    /// Queues a generation job and returns its id.
    async fn generate(&self, count: u32) -> String {
        let (status, body) = self
            .action(json!({"action": "generate_content", "count": count}))
            .await;
        assert_eq!(status, 200, "{body}");
        body["job_id"].as_str().unwrap().to_owned()
    }

    /// Waits until the generation job `id` satisfies `done`.
    async fn wait_job(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        self.wait_for(&format!("/api/jobs/content-generation/{id}"), what, done)
            .await
    }

    async fn job(&self, id: &str) -> Value {
        self.get(&format!("/api/jobs/content-generation/{id}"))
            .await
    }

    fn content(&self) -> std::path::PathBuf {
        self.dir.path().join("content")
    }

    async fn stop(mut self) {
        self.running.take().unwrap().shutdown().await;
    }
}

fn markdown_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn generate_content_publishes_three_markdown_posts() {
    let fake = FakeOpenAi::start().await;
    let svc = start(Some(&fake.base_url), Some(TOKEN), "").await;
    let (status, body) = svc
        .action(json!({"action": "generate_content", "count": 3}))
        .await;
    assert_eq!(status, 200, "{body}");
    let job_id = body["job_id"].as_str().unwrap().to_owned();
    let job = svc
        .wait_for(
            &format!("/api/jobs/content-generation/{job_id}"),
            "the job to complete",
            |j| j["state"] == "completed",
        )
        .await;
    assert_eq!(job["result"]["generated"].as_array().unwrap().len(), 3);
    let status = svc
        .wait_for("/api/automation/workflow", "three published posts", |v| {
            v["posts"]["published"] == 3
        })
        .await;
    assert_eq!(status["state"], "running");
    assert_eq!(status["recent_runs"][0]["generated"], 3);
    assert_eq!(status["recent_runs"][0]["status"], "succeeded");

    let files = markdown_files(&svc.content());
    assert_eq!(files.len(), 3, "{files:?}");
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let front = text
            .strip_prefix("---\n")
            .unwrap()
            .split("\n---\n")
            .next()
            .unwrap();
        let yaml = &yaml_rust2::YamlLoader::load_from_str(front).unwrap()[0];
        let slug = yaml["slug"].as_str().unwrap();
        assert_eq!(
            file.file_name().unwrap().to_str().unwrap(),
            format!("{slug}.md")
        );
        for key in ["title", "date", "description", "blogflow_id"] {
            assert!(
                yaml[key].as_str().is_some_and(|v| !v.is_empty()),
                "{key} missing in {}",
                file.display()
            );
        }
        assert_eq!(yaml["tags"].as_vec().unwrap().len(), 3);
        assert!(text.contains("## What changed in models"));
    }
    let posts = svc.get("/api/posts").await;
    assert_eq!(posts["posts"].as_array().unwrap().len(), 3);
    let post = svc
        .get(&format!(
            "/api/posts/{}",
            posts["posts"][0]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(post["publications"][0]["target"], "markdown");
    assert!(post["post"]["quality"]["score"].as_u64().unwrap() >= 60);

    // The provider got the configured model, a system prompt and the key, never anything else.
    assert_eq!(fake.requests(), 3);
    assert!(
        fake.bodies()
            .iter()
            .all(|b| b["model"] == "gpt-4o-mini" && b["messages"][0]["role"] == "system")
    );
    assert!(
        fake.auth_headers()
            .iter()
            .all(|h| h.as_deref() == Some("Bearer sk-test-secret-key-value"))
    );

    let scheduler = svc.get("/api/automation/scheduler").await;
    assert_eq!(scheduler["state"], "running");
    assert_eq!(scheduler["backend"], "sqlite");
    let generation = &scheduler["queues"]["content-generation"];
    assert_eq!(generation["counts"]["completed"], 1, "{scheduler:#}");
    assert_eq!(generation["paused"], false);
    let events: Vec<&str> = generation["recent_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["completed", "active", "added"], "newest first");
    assert_eq!(
        scheduler["queues"]["blog-publishing"]["counts"]["completed"],
        3
    );

    let metrics = svc
        .http
        .get(format!("{}/metrics", svc.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let metrics = metrics.text().await.unwrap();
    for line in [
        "blogflow_llm_requests_total{provider=\"openai@127.0.0.1\",outcome=\"ok\"} 3",
        "blogflow_llm_request_duration_seconds_count{provider=\"openai@127.0.0.1\"} 3",
        "blogflow_llm_tokens_total{provider=\"openai@127.0.0.1\",direction=\"output\"} 2700",
        "blogflow_llm_breaker_state{provider=\"openai@127.0.0.1\",state=\"closed\"} 1",
        "blogflow_queue_jobs{queue=\"content-generation\",state=\"completed\"} 1",
        "blogflow_queue_up{backend=\"sqlite\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing:\n{metrics}"
        );
    }
    for l in metrics.lines().filter(|l| !l.starts_with('#')) {
        let value = l.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "not a sample line: {l}");
    }
    assert!(!metrics.contains("sk-test"), "no secrets in metrics");
    svc.stop().await;
}

#[tokio::test]
async fn bad_requests_get_clear_json_errors() {
    let svc = start(Some("http://127.0.0.1:9/v1"), Some(TOKEN), "").await;
    let url = format!("{}/api/automation/workflow", svc.base);
    let send = |body: &'static str, token: Option<&'static str>| {
        let mut req = svc
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let cases = [
        ("{not json", Some(TOKEN), 400, "JSON"),
        (
            r#"{"action": "dance"}"#,
            Some(TOKEN),
            400,
            "unknown action \"dance\"",
        ),
        (r#"{"count": 3}"#, Some(TOKEN), 400, "missing \"action\""),
        (
            r#"{"action": "generate_content", "count": 0}"#,
            Some(TOKEN),
            400,
            "from 1 to 20",
        ),
        (
            r#"{"action": "generate_content", "count": 10000}"#,
            Some(TOKEN),
            400,
            "from 1 to 20",
        ),
        (
            r#"{"action": "generate_content", "count": "3"}"#,
            Some(TOKEN),
            400,
            "whole number",
        ),
        (
            r#"{"action": "generate_content", "topic": 7}"#,
            Some(TOKEN),
            400,
            "\"topic\" must be",
        ),
        (
            r#"{"action": "start"}"#,
            None,
            401,
            "missing header Authorization",
        ),
        (
            r#"{"action": "start"}"#,
            Some("wrong-token-0123456789"),
            401,
            "invalid token",
        ),
    ];
    for (body, token, status, message) in cases {
        let (got, json) = send(body, token).await;
        assert_eq!(got, status, "{body}: {json}");
        let text = json["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{body}: {text:?} lacks {message:?}");
    }
    let missing = svc
        .http
        .get(format!("{}/api/nothing", svc.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let job = svc
        .http
        .get(format!("{}/api/jobs/nope/1", svc.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(job.status(), 404);
    // No job was created by any of the refused requests.
    let status = svc.get("/api/automation/workflow").await;
    assert_eq!(
        status["queues"]["content-generation"]["counts"]["waiting"],
        0
    );
    svc.stop().await;
}

#[tokio::test]
async fn without_a_configured_token_mutations_are_refused() {
    let svc = start(None, None, "").await;
    let r = svc
        .http
        .post(format!("{}/api/automation/workflow", svc.base))
        .bearer_auth(TOKEN)
        .json(&json!({"action": "stop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("BLOGFLOW_API_TOKEN")
    );
    assert_eq!(
        svc.get("/api/automation/workflow").await["state"],
        "running"
    );
    svc.stop().await;
}

#[tokio::test]
async fn a_malformed_model_answer_fails_the_job_clearly_and_stores_nothing() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::Text(
        "Sure! Here are some thoughts about AI, without any JSON.".into(),
    ));
    let svc = start(
        Some(&fake.base_url),
        Some(TOKEN),
        "[generation]\njob_attempts = 1\nattempts_per_post = 2\n",
    )
    .await;
    let id = svc.generate(1).await;
    let job = svc
        .wait_job(&id, "the job to fail", |j| j["state"] == "failed")
        .await;
    let error = job["last_error"].as_str().unwrap();
    assert!(
        error.contains("malformed answer") && error.contains("no JSON object"),
        "{error}"
    );
    assert_eq!(fake.requests(), 2, "one retry within the post");
    assert_eq!(
        svc.get("/api/posts").await["posts"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert!(markdown_files(&svc.content()).is_empty());
    svc.stop().await;
}

#[tokio::test]
async fn an_unreachable_provider_fails_with_a_retry_and_the_api_keeps_answering() {
    let svc = start(Some("http://127.0.0.1:9/v1"), Some(TOKEN), "").await;
    // One post: its three rounds of calls fail while the breaker still counts them (five
    // failures open it, and then the job waits instead of spending attempts).
    let id = svc.generate(1).await;
    let job = svc
        .wait_job(&id, "a failed attempt", |j| j["attempts_made"] == 1)
        .await;
    assert_eq!(
        job["state"], "delayed",
        "a connection error is retried: {job:#}"
    );
    assert!(
        job["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot connect to http://127.0.0.1:9/v1"),
        "{job:#}"
    );
    let health = svc
        .http
        .get(format!("{}/api/automation/health", svc.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    svc.stop().await;
}

#[tokio::test]
async fn auth_and_quota_errors_are_not_retried_and_never_leak_the_key() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::Error {
        status: 401,
        code: "invalid_api_key",
        message: "Incorrect API key provided: sk-test-secret-key-value.",
        retry_after: None,
    });
    let svc = start(Some(&fake.base_url), Some(TOKEN), "").await;
    let id = svc.generate(1).await;
    // The provider is ejected until a health check passes: the job waits for the operator's
    // fix instead of failing, and spends no attempt.
    let job = svc
        .wait_job(&id, "the job to wait", |j| {
            j["state"] == "delayed" && j["last_error"].is_string()
        })
        .await;
    assert_eq!(job["attempts_made"], 0, "a 401 is never retried: {job:#}");
    let error = job["last_error"].as_str().unwrap();
    assert!(
        error.contains("HTTP 401") && error.contains("check OPENAI_API_KEY"),
        "{error}"
    );
    assert!(
        !error.contains("sk-test-secret-key-value"),
        "the key leaked: {error}"
    );
    svc.stop().await;
}

#[tokio::test]
async fn a_rate_limit_waits_for_retry_after() {
    let fake = FakeOpenAi::start().await;
    fake.script([Reply::Error {
        status: 429,
        code: "rate_limit_exceeded",
        message: "Rate limit reached",
        retry_after: Some("120"),
    }]);
    let svc = start(Some(&fake.base_url), Some(TOKEN), "").await;
    let id = svc.generate(1).await;
    let job = svc
        .wait_job(&id, "the job to wait", |j| {
            j["state"] == "delayed" && j["last_error"].is_string()
        })
        .await;
    assert_eq!(
        job["attempts_made"], 0,
        "waiting out a 429 is no attempt: {job:#}"
    );
    let wait_ms = job["run_at"].as_i64().unwrap() - blogflow::db::now_ms();
    assert!(
        (100_000..=120_000).contains(&wait_ms),
        "retry in {wait_ms} ms, expected ~120 s"
    );
    svc.stop().await;
}

#[tokio::test]
async fn one_failing_post_does_not_fail_the_others() {
    let fake = FakeOpenAi::start().await;
    // The first post's three rounds of calls fail (too few to open the breaker: a real
    // failure, counted); the other two are written.
    let boom = Reply::Error {
        status: 500,
        code: "server_error",
        message: "boom",
        retry_after: None,
    };
    fake.script([boom.clone(), boom.clone(), boom]);
    let svc = start(
        Some(&fake.base_url),
        Some(TOKEN),
        "[generation]\nparallelism = 1\n",
    )
    .await;
    let id = svc.generate(3).await;
    let job = svc
        .wait_job(&id, "the first attempt to end", |j| j["attempts_made"] == 1)
        .await;
    assert_eq!(job["state"], "delayed", "{job:#}");
    assert!(
        job["last_error"]
            .as_str()
            .unwrap()
            .starts_with("1 of 3 posts failed"),
        "{job:#}"
    );
    svc.wait_for("/api/automation/workflow", "two published posts", |v| {
        v["posts"]["published"] == 2
    })
    .await;
    assert_eq!(markdown_files(&svc.content()).len(), 2);
    assert_eq!(
        svc.get("/api/automation/workflow").await["recent_runs"][0]["status"],
        "partial"
    );
    svc.stop().await;
}

#[tokio::test]
async fn pause_resume_stop_and_start_move_the_workflow() {
    let fake = FakeOpenAi::start().await;
    let svc = start(Some(&fake.base_url), Some(TOKEN), "").await;
    let (_, r) = svc.action(json!({"action": "pause"})).await;
    assert_eq!(r["state"], "paused");
    let (_, r) = svc
        .action(json!({"action": "generate_content", "count": 1, "topic": "AI chips"}))
        .await;
    assert!(r["message"].as_str().unwrap().contains("paused"));
    let id = r["job_id"].as_str().unwrap().to_owned();
    let status = svc.get("/api/automation/workflow").await;
    assert_eq!(status["queues"]["content-generation"]["paused"], true);
    assert_eq!(
        svc.job(&id).await["state"],
        "waiting",
        "a paused queue hands out nothing"
    );
    let (_, r) = svc.action(json!({"action": "resume"})).await;
    assert_eq!(r["state"], "running");
    svc.wait_for(
        &format!("/api/jobs/content-generation/{id}"),
        "the job to complete",
        |j| j["state"] == "completed",
    )
    .await;
    assert!(
        fake.bodies()[0]["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("AI chips"),
        "the manual topic reached the prompt"
    );
    let (_, r) = svc.action(json!({"action": "stop"})).await;
    assert_eq!(r["state"], "stopped");
    let (_, r) = svc.action(json!({"action": "stop"})).await;
    assert_eq!(r["message"], "already stopped");
    let (_, r) = svc.action(json!({"action": "start"})).await;
    assert_eq!(r["state"], "running");
    svc.stop().await;
}

#[tokio::test]
async fn the_api_answers_while_stop_waits_for_a_running_job() {
    let fake = FakeOpenAi::start().await;
    fake.script([Reply::Hang]);
    let svc = start(Some(&fake.base_url), Some(TOKEN), "").await;
    let (_, r) = svc
        .action(json!({"action": "generate_content", "count": 1}))
        .await;
    let id = r["job_id"].as_str().unwrap().to_owned();
    fake.wait_for_requests(1).await;
    let stopping = {
        let (http, url) = (
            svc.http.clone(),
            format!("{}/api/automation/workflow", svc.base),
        );
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(TOKEN)
                .json(&json!({"action": "stop"}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    // While stop waits for the hung job, reads still answer and say what is happening.
    svc.wait_for("/api/automation/workflow", "the stopping state", |v| {
        v["state"] == "stopping"
    })
    .await;
    fake.release(1);
    let stopped = stopping.await.unwrap();
    assert_eq!(stopped["state"], "stopped");
    assert_eq!(
        svc.job(&id).await["state"],
        "completed",
        "the running job finished within the grace period"
    );
    svc.stop().await;
}

#[tokio::test]
async fn curl_style_form_content_type_is_accepted_for_json_bodies() {
    let svc = start(Some("http://127.0.0.1:9/v1"), Some(TOKEN), "").await;
    let send = |body: &'static str| {
        let req = svc
            .http
            .post(format!("{}/api/automation/workflow", svc.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = send(r#"{"action":"pause"}"#).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("paused")),
        "{body}"
    );
    let (status, body) = send(r#"[1, 2]"#).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("JSON object")
    );
    svc.stop().await;
}

#[tokio::test]
async fn a_post_that_outlives_its_deadline_fails_and_frees_the_worker() {
    let fake = FakeOpenAi::start().await;
    fake.script([Reply::Hang]);
    let svc = start(
        Some(&fake.base_url),
        Some(TOKEN),
        "[generation]\npost_deadline_secs = 1\njob_attempts = 1\n",
    )
    .await;
    let (_, r) = svc
        .action(json!({"action": "generate_content", "count": 1}))
        .await;
    let id = r["job_id"].as_str().unwrap().to_owned();
    let job = svc
        .wait_for(
            &format!("/api/jobs/content-generation/{id}"),
            "the job to fail at the post's deadline",
            |j| j["state"] == "failed",
        )
        .await;
    assert!(
        job["last_error"]
            .as_str()
            .unwrap()
            .contains("no answer within 1.0 s"),
        "the call was cut at the post's deadline: {job:#}"
    );
    assert_eq!(
        fake.requests(),
        1,
        "the hung call was not retried past the deadline"
    );
    let providers = svc.get("/api/providers").await;
    assert_eq!(providers["providers"][0]["observed"]["in_flight"], 0);
    fake.release(1);
    svc.stop().await;
}
