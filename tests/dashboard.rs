//! The dashboard: its login and CSRF rules over plain HTTP, its page and assets, the API's
//! conditional GETs, and an end-to-end run in Debian's headless Chromium driven by Playwright
//! (`tests/e2e`, installed by the test into `target/e2e`).

mod support;

use std::path::PathBuf;
use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{FakeOpenAi, InProcess, Reply, TOKEN};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const HEALTH_EVERY_SECOND: &str = "[[schedules]]\nname = \"health\"\ncron = \"* * * * * *\"\naction = \"health_check\"\n[queue]\npoll_interval_ms = 50\n";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Logs in; returns the cookie header value and the CSRF token.
async fn login(base: &str) -> (String, String) {
    let r = client()
        .post(format!("{base}/api/session"))
        .json(&json!({ "token": TOKEN }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attr), "{attr} missing: {set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    (cookie, body["csrf"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn without_the_token_nothing_changes_and_sessions_need_their_csrf_token() {
    let fake = FakeOpenAi::start().await;
    let svc = InProcess::start(&fake, "schedules = []\n", &[]).await;
    let base = svc.base.clone();
    let http = client();

    // Every mutation, without a credential, with a wrong token, and with a session cookie
    // but no CSRF header: refused, and nothing happened.
    let mutations = [
        (
            "POST",
            "/api/automation/workflow",
            json!({"action": "stop"}),
        ),
        (
            "POST",
            "/api/automation/workflow",
            json!({"action": "generate_content", "count": 1}),
        ),
        ("POST", "/api/jobs/content-generation/x/retry", json!({})),
        ("DELETE", "/api/jobs/content-generation/x", json!({})),
        ("POST", "/api/topics", json!({"title": "t"})),
        ("POST", "/api/topics/refresh", json!({})),
        ("POST", "/api/posts/x/approve", json!({})),
        ("POST", "/api/posts/x/reject", json!({})),
    ];
    let (cookie, csrf) = login(&base).await;
    // Wrong tokens come from another loopback address: they get it throttled, not this one.
    let stranger = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    for (method, path, body) in &mutations {
        let url = format!("{base}{path}");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let none = http
            .request(method.clone(), &url)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(none.status(), 401, "{method} {path} without a token");
        let wrong = stranger
            .request(method.clone(), &url)
            .bearer_auth("not-the-token-0123456789")
            .json(body)
            .send()
            .await
            .unwrap();
        // Refused; after five wrong tokens from this address, throttled as well.
        assert!(
            matches!(wrong.status().as_u16(), 401 | 429),
            "{method} {path} with a wrong token: {}",
            wrong.status()
        );
        let no_csrf = http
            .request(method.clone(), &url)
            .header("cookie", &cookie)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(no_csrf.status(), 403, "{method} {path} without CSRF");
        let bad_csrf = http
            .request(method.clone(), &url)
            .header("cookie", &cookie)
            .header("x-csrf-token", "0".repeat(64))
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(bad_csrf.status(), 403, "{method} {path} with a wrong CSRF");
    }
    let workflow = svc.get("/api/automation/workflow").await;
    assert_eq!(workflow["state"], "running", "no refused stop took effect");
    assert_eq!(workflow["recent_runs"].as_array().unwrap().len(), 0);

    // Reads need a credential too (server.public_read is off).
    let read = http.get(format!("{base}/api/posts")).send().await.unwrap();
    assert_eq!(read.status(), 401);
    let read = http
        .get(format!("{base}/api/posts"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200, "a session may read");

    // A session with its CSRF token may act.
    let r = http
        .post(format!("{base}/api/automation/workflow"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"action": "pause"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    assert_eq!(svc.get("/api/automation/workflow").await["state"], "paused");

    // A wrong token does not log in; logging out ends the session.
    let r = stranger
        .post(format!("{base}/api/session"))
        .json(&json!({"token": "not-the-token-0123456789"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "throttled by now");
    assert!(r.headers().get("set-cookie").is_none());
    let r = http
        .delete(format!("{base}/api/session"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let after = http
        .get(format!("{base}/api/posts"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401, "the session is gone");
    svc.stop().await;
}

#[tokio::test]
async fn public_read_opens_reads_only_and_the_page_holds_no_secrets() {
    let fake = FakeOpenAi::start().await;
    let svc = InProcess::start(&fake, "schedules = []\n[server]\npublic_read = true\n", &[]).await;
    let base = svc.base.clone();
    let http = client();
    let r = http.get(format!("{base}/api/posts")).send().await.unwrap();
    assert_eq!(r.status(), 200, "reads are public");
    let r = http
        .post(format!("{base}/api/automation/workflow"))
        .json(&json!({"action": "stop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "mutations are not");

    let page = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    let mut served = vec![html.clone()];
    for asset in [
        "app.js",
        "app.css",
        "vendor/uplot/uPlot.iife.min.js",
        "vendor/uplot/uPlot.min.css",
        "vendor/uplot/LICENSE",
    ] {
        let r = http
            .get(format!("{base}/assets/{asset}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{asset}");
        served.push(r.text().await.unwrap());
    }
    for text in &served {
        for secret in [TOKEN, "sk-test-secret-key-value"] {
            assert!(!text.contains(secret), "a secret is served");
        }
        assert!(!text.contains("https://cdn"), "no CDN");
    }
    assert!(!html.contains("<script>"), "no inline script");
    let r = http
        .get(format!("{base}/assets/../Cargo.toml"))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), StatusCode::OK);

    // Conditional GET: the same answer again is a bodiless 304.
    let first = http
        .get(format!("{base}/api/automation/scheduler"))
        .send()
        .await
        .unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = http
        .get(format!("{base}/api/automation/scheduler"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.text().await.unwrap().is_empty());
    let stale = http
        .get(format!("{base}/api/automation/scheduler"))
        .header("if-none-match", "W/\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);
    svc.stop().await;
}

/// A post in Korean, with a long title: the dashboard must wrap it between words.
fn korean_post() -> String {
    let mut body =
        String::from("올해 AI 에이전트는 소프트웨어 팀의 일하는 방식을 크게 바꾸었다.\n\n");
    for (i, topic) in ["코드 리뷰", "테스트 자동화", "배포 과정", "팀의 역할"]
        .iter()
        .enumerate()
    {
        body.push_str(&format!("## {topic}에서 달라진 점\n\n"));
        for j in 0..3 {
            body.push_str(&format!(
                "{topic} 분야에서 에이전트가 맡는 일은 점점 늘어나고 있으며, 개발자들은 반복 작업 대신 설계와 판단에 더 많은 시간을 쓰고 있다. 사례 {}의 경우에도 마찬가지였다.\n\n",
                i * 3 + j + 1
            ));
        }
    }
    json!({
        "title": "올해 AI 에이전트는 소프트웨어 팀의 일하는 방식을 어떻게 근본적으로 달라지게 만들었나",
        "slug": "ai-agents-software-teams-ko",
        "summary": "AI 에이전트가 소프트웨어 팀에 가져온 변화를 정리한다.",
        "tags": ["인공지능", "에이전트", "소프트웨어"],
        "seo_title": "AI 에이전트와 소프트웨어 팀",
        "seo_description": "AI 에이전트가 소프트웨어 팀의 일하는 방식을 어떻게 바꾸었는지, 무엇이 달라졌고 다음에는 무엇을 해야 하는지 살펴본다.",
        "seo_keywords": ["AI 에이전트", "소프트웨어 팀"],
        "body": body,
    })
    .to_string()
}

/// The operator's tour in Chromium, at 1400×900 and 390×844, with an English and a Korean
/// post: review (the pane, approve, reject with its confirmation), job actions, workflow
/// controls, a provider failing every chat call while its probe passes. Each action must show
/// the server's answer; the API must agree with what the page shows. Screenshots of both
/// widths and both languages are kept in `target/dashboard/`.
#[tokio::test]
async fn in_chromium_an_operator_reviews_acts_and_sees_trouble_at_both_widths() {
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium is needed: run scripts/install-deps --tests"
    );
    let fake = FakeOpenAi::start().await;
    let toml = format!(
        "{HEALTH_EVERY_SECOND}[monitoring]\ninterval_secs = 0.5\n[publish]\nmode = \"review\"\n\
         [generation]\njob_attempts = 1\nparallelism = 1\n"
    );
    let svc = InProcess::start(&fake, &toml, &[]).await;
    let dir = tokio::task::spawn_blocking(|| {
        support::npm_install_once(
            "e2e",
            "e2e",
            &["package.json", "dashboard.mjs"],
            "playwright-core",
        )
    })
    .await
    .unwrap();
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/dashboard");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let mut node = tokio::process::Command::new("node")
        .arg("dashboard.mjs")
        .arg(&svc.base)
        .arg(TOKEN)
        .arg(&shots)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut stdin = node.stdin.take().unwrap();
    let mut steps = Vec::new();
    loop {
        let line = out
            .next_line()
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("the browser side failed after {steps:?}"));
        steps.push(line.clone());
        match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["DONE"] => break,
            ["NEED", "korean"] => fake.set_default(Reply::Text(korean_post())),
            ["NEED", "english"] => fake.set_default(Reply::Post),
            ["NEED", "broken"] => fake.set_default(Reply::Text("I cannot write that.".into())),
            ["NEED", "chat-500"] => fake.set_default(Reply::Error {
                status: 500,
                code: "server_error",
                message: "The server had an error while processing your request.",
                retry_after: None,
            }),
            ["CHECK", "rejected", id] => {
                let post = svc.get(&format!("/api/posts/{id}")).await;
                assert_eq!(post["post"]["status"], "rejected", "{post:#}");
                assert_eq!(post["post"]["review"]["note"], "wrong angle for this blog");
                assert!(post["publications"].as_array().unwrap().is_empty());
                let files: Vec<String> = std::fs::read_dir(svc.dir.path().join("content"))
                    .map(|d| {
                        d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                            .collect()
                    })
                    .unwrap_or_default();
                assert!(
                    files.iter().all(|f| !f.contains("에이전트")),
                    "the rejected post was never written out"
                );
            }
            other => panic!("unknown request from the browser side: {other:?}"),
        }
        stdin.write_all(b"OK\n").await.unwrap();
    }
    assert!(node.wait().await.unwrap().success());
    for name in [
        "dashboard-1400-en",
        "dashboard-1400-ko",
        "dashboard-390-en",
        "dashboard-390-ko",
        "dashboard",
    ] {
        let png = std::fs::read(shots.join(format!("{name}.png"))).unwrap();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 20_000,
            "{name}: a real screenshot"
        );
    }
    // What the page showed, the API says too.
    let providers = svc.get("/api/providers").await;
    assert_eq!(
        providers["providers"][0]["status"], "failing",
        "{providers:#}"
    );
    let health = svc.get("/api/automation/health").await;
    assert_ne!(health["status"], "healthy");
    svc.stop().await;
}

/// Alert history, recovery actions and dashboard sessions live in the store: after a restart
/// the operator sees the same history and is still logged in; a logout ends the session for
/// good, restart or not.
#[tokio::test]
async fn alerts_recoveries_and_sessions_outlive_a_restart() {
    let fake = FakeOpenAi::start().await;
    let toml = format!("{HEALTH_EVERY_SECOND}[monitoring]\ninterval_secs = 0.2\n");
    let svc = InProcess::start(&fake, &toml, &[]).await;
    let (cookie, csrf) = login(&svc.base).await;
    fake.set_models_down(true);
    let provider_alert =
        |h: &Value| {
            h["alerts"]["recent"].as_array().unwrap().iter().any(|a| {
                a["key"].as_str().unwrap().starts_with("provider:") && a["status"] == "firing"
            })
        };
    let probed = |h: &Value| {
        h["recovery_actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "probe_providers" && r["check"] == "providers")
    };
    svc.wait_for(
        "/api/automation/health",
        "a provider alert and a recovery action",
        |h| provider_alert(h) && probed(h),
    )
    .await;
    fake.set_models_down(false);

    let svc = svc.restart(&fake, &toml, &[]).await;
    let health = svc.get("/api/automation/health").await;
    assert!(
        provider_alert(&health),
        "alert history after a restart: {health:#}"
    );
    assert!(
        probed(&health),
        "recovery actions after a restart: {health:#}"
    );
    let http = client();
    let session: Value = http
        .get(format!("{}/api/session", svc.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["authenticated"], true, "{session:#}");
    assert_eq!(session["csrf"], csrf.as_str());
    let r = http
        .post(format!("{}/api/automation/workflow", svc.base))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"action": "pause"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the session acts after a restart");
    let r = http
        .delete(format!("{}/api/session", svc.base))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let svc = svc.restart(&fake, &toml, &[]).await;
    let r = http
        .get(format!("{}/api/posts", svc.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "a logged-out session stays out after a restart"
    );
    svc.stop().await;
}
