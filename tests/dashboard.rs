//! The dashboard: its login and CSRF rules over plain HTTP, its page and assets, the API's
//! conditional GETs, and an end-to-end run in Debian's headless Chromium driven by Playwright
//! (`tests/e2e`, installed by the test into `target/e2e`).

mod support;

use std::path::PathBuf;
use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{FakeOpenAi, InProcess, TOKEN};
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

#[tokio::test]
async fn in_chromium_an_operator_logs_in_generates_a_post_and_sees_a_provider_fail() {
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium is needed: run scripts/install-deps --tests"
    );
    let fake = FakeOpenAi::start().await;
    let svc = InProcess::start(&fake, HEALTH_EVERY_SECOND, &[]).await;
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
    let shot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let mut node = tokio::process::Command::new("node")
        .arg("dashboard.mjs")
        .arg(&svc.base)
        .arg(TOKEN)
        .arg(&shot)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut stdin = node.stdin.take().unwrap();
    let line = out.next_line().await.unwrap();
    assert_eq!(
        line.as_deref(),
        Some("POST_SEEN"),
        "the browser side failed"
    );
    let posts = svc.get("/api/posts").await;
    assert_eq!(
        posts["posts"].as_array().unwrap().len(),
        1,
        "one click, one post"
    );
    // The provider's health probe now fails: its row must turn red.
    fake.set_models_down(true);
    stdin.write_all(b"failing\n").await.unwrap();
    let line = out.next_line().await.unwrap();
    assert_eq!(line.as_deref(), Some("DONE"), "the browser side failed");
    assert!(node.wait().await.unwrap().success());
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "a real screenshot"
    );
    svc.stop().await;
}
