//! The service's edges against a client that does not play along: idle, half-sent and slow
//! connections, wrong tokens in a row, HTTPS behind a proxy, bodies with typos or too large,
//! and `/metrics` under the same rule as every other route.

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{FakeOpenAi, InProcess, TOKEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A client that opens a new connection for every request (the probes must get through on
/// their own, not over a connection kept from before the flood).
fn fresh() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Reads until the server closes the connection; how long that took.
async fn closed(mut stream: TcpStream, started: Instant) -> Duration {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return started.elapsed(),
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn idle_and_half_sent_connections_are_closed_in_time_and_probes_answer_throughout() {
    let fake = FakeOpenAi::start().await;
    let toml = support::test_toml("[server]\nheader_timeout_secs = 2\nmax_connections = 600\n");
    let svc = InProcess::start(&fake, &toml, &[]).await;
    let addr = svc.base.trim_start_matches("http://").to_owned();
    let started = Instant::now();
    let mut held = Vec::new();
    for i in 0..1000 {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        if i % 2 == 1 {
            // Half-sent: a request line and a header, never the blank line that ends them.
            stream
                .write_all(b"GET /api/automation/workflow HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
        }
        held.push(stream);
    }
    // While all of them are held (600 within the cap, the rest over it), the probe answers.
    let http = fresh();
    for _ in 0..5 {
        let r = http
            .get(format!("{}/healthz", svc.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.text().await.unwrap(), "ok");
    }
    let waits: Vec<Duration> =
        futures_util::future::join_all(held.into_iter().map(|s| closed(s, started))).await;
    let slowest = waits.iter().max().unwrap();
    eprintln!(
        "1000 connections closed, the last after {:.1} s (header timeout 2 s)",
        slowest.as_secs_f64()
    );
    assert!(
        *slowest < Duration::from_secs(2 + 8),
        "a connection outlived the header timeout by far: {slowest:?}"
    );
    // And the service is whole afterwards.
    let r = http
        .get(format!("{}/api/automation/workflow", svc.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    svc.stop().await;
}

#[tokio::test]
async fn a_slow_body_gets_a_json_408() {
    let fake = FakeOpenAi::start().await;
    let toml = support::test_toml("[server]\nrequest_timeout_secs = 1\n");
    let svc = InProcess::start(&fake, &toml, &[]).await;
    let addr = svc.base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /api/automation/workflow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
                 Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"action\""
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/json") && answer.contains("server.request_timeout_secs"));
    svc.stop().await;
}

#[tokio::test]
async fn metrics_follow_the_one_rule_unless_made_public() {
    let fake = FakeOpenAi::start().await;
    let svc = InProcess::start(&fake, &support::test_toml(""), &[]).await;
    let http = fresh();
    let url = format!("{}/metrics", svc.base);
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let r = http.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("# TYPE"));
    // The probes stay open: orchestrators call them without credentials.
    for probe in ["/healthz", "/readyz"] {
        let r = http
            .get(format!("{}{probe}", svc.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{probe}");
    }
    svc.stop().await;

    let svc = InProcess::start(
        &fake,
        &support::test_toml(""),
        &[("BLOGFLOW_METRICS_PUBLIC", "true")],
    )
    .await;
    let r = http
        .get(format!("{}/metrics", svc.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Only the metrics: the rest of the API still needs the token.
    let r = http
        .get(format!("{}/api/costs", svc.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    svc.stop().await;
}

async fn login(http: &reqwest::Client, base: &str, token: &str) -> reqwest::Response {
    http.post(format!("{base}/api/session"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn wrong_tokens_in_a_row_are_slowed_down_per_address() {
    let fake = FakeOpenAi::start().await;
    let svc = InProcess::start(&fake, &support::test_toml(""), &[]).await;
    let http = fresh();
    for _ in 0..5 {
        let r = login(&http, &svc.base, "wrong-token-0123456789").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // The sixth waits, and so does a bearer token: the count is per address, not per door.
    let r = login(&http, &svc.base, "wrong-token-0123456789").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "throttled");
    let r = http
        .get(format!("{}/api/costs", svc.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right token waits"
    );
    // After the wait the right token works and clears the count.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let r = login(&http, &svc.base, TOKEN).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = login(&http, &svc.base, "wrong-token-0123456789").await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "counting starts again"
    );
    // Requests without any token are not slowed down.
    let r = http
        .get(format!("{}/healthz", svc.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    svc.stop().await;
}

#[tokio::test]
async fn the_cookie_is_secure_when_a_trusted_proxy_says_https() {
    let fake = FakeOpenAi::start().await;
    let http = fresh();
    let cookie = |r: &reqwest::Response| r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let login_via = |base: String, proto: Option<&'static str>| {
        let http = http.clone();
        async move {
            let mut request = http
                .post(format!("{base}/api/session"))
                .json(&json!({ "token": TOKEN }));
            if let Some(p) = proto {
                request = request
                    .header("x-forwarded-proto", p)
                    .header("x-forwarded-for", "203.0.113.7");
            }
            request.send().await.unwrap()
        }
    };
    // Not trusted: the header is anyone's to send, and changes nothing.
    let svc = InProcess::start(&fake, &support::test_toml(""), &[]).await;
    let r = login_via(svc.base.clone(), Some("https")).await;
    assert!(!cookie(&r).contains("Secure"), "{}", cookie(&r));
    svc.stop().await;

    let svc = InProcess::start(
        &fake,
        &support::test_toml(""),
        &[("BLOGFLOW_TRUST_PROXY", "true")],
    )
    .await;
    let r = login_via(svc.base.clone(), Some("https")).await;
    assert!(cookie(&r).ends_with("; Secure"), "{}", cookie(&r));
    let r = login_via(svc.base.clone(), Some("http")).await;
    assert!(!cookie(&r).contains("Secure"));
    // Behind the proxy, throttling counts the address it reports.
    for _ in 0..5 {
        let r = http
            .post(format!("{}/api/session", svc.base))
            .header("x-forwarded-for", "198.51.100.1")
            .json(&json!({ "token": "wrong-token-0123456789" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let other = http
        .post(format!("{}/api/session", svc.base))
        .header("x-forwarded-for", "198.51.100.2")
        .json(&json!({ "token": TOKEN }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        StatusCode::OK,
        "another client is not held up"
    );
    svc.stop().await;
}

#[tokio::test]
async fn bodies_are_strict_and_every_error_is_json() {
    let fake = FakeOpenAi::start().await;
    let svc = InProcess::start(&fake, &support::test_toml(""), &[]).await;
    let http = fresh();
    let post = |path: &str, body: Value| {
        http.post(format!("{}{path}", svc.base))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
    };
    // A typo is refused with the field's name, and nothing is queued.
    let r = post(
        "/api/automation/workflow",
        json!({"action": "generate_content", "count": 1, "cuont": 5}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field \"cuont\""),
        "{body}"
    );
    let workflow = svc.get("/api/automation/workflow").await;
    let counts = &workflow["queues"]["content-generation"]["counts"];
    let jobs: u64 = counts
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(jobs, 0, "{counts}");
    for (path, body) in [
        ("/api/topics", json!({"title": "AI", "categroy": "x"})),
        (
            "/api/automation/workflow",
            json!({"action": "pause", "now": true}),
        ),
    ] {
        let r = post(path, body).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    let r = http
        .post(format!("{}/api/session", svc.base))
        .json(&json!({"token": TOKEN, "remember": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("remember")
    );

    // The framework's own refusals in the same shape.
    let big = vec![b'x'; 10 * 1024 * 1024];
    let r = http
        .post(format!("{}/api/automation/workflow", svc.base))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");

    let r = http
        .get(format!("{}/api/jobs/content-generation/%FF%FE", svc.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_request", "{body}");

    let r = http
        .put(format!("{}/api/automation/workflow", svc.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.headers().contains_key("allow"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
    svc.stop().await;
}

#[tokio::test]
async fn the_data_folder_and_database_are_the_services_alone() {
    use std::os::unix::fs::PermissionsExt;
    let fake = FakeOpenAi::start().await;
    let svc = InProcess::start(&fake, &support::test_toml(""), &[]).await;
    let data = svc.dir.path().join("data");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    let mut files = 0;
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
            files += 1;
        }
    }
    assert!(files >= 2, "the database and its WAL");
    svc.stop().await;
}
