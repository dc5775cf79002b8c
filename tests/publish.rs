//! Publishers against receivers started by the test: the webhook's request shape, signature,
//! idempotency key and error handling, and exactly-once delivery through the service.

mod support;

use blogflow::config::Secret;
use blogflow::ops::channels::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};
use blogflow::publish::{PublishError, WebhookPublisher, WebhookTarget};
use support::{AlertReceiver, FakeOpenAi, InProcess};

const SECRET: &str = "publish-signing-secret-0123";

fn publications(post: &serde_json::Value) -> Vec<String> {
    post["publications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["target"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_webhook_gets_each_post_once_signed_even_when_its_first_answer_is_an_error() {
    let fake = FakeOpenAi::start().await;
    let rx = AlertReceiver::start().await;
    rx.fail_next([503]);
    let url = format!("{}/posts", rx.root);
    let toml = "schedules = []\n[queue]\npoll_interval_ms = 50\n";
    let svc = InProcess::start(
        &fake,
        toml,
        &[
            ("BLOGFLOW_PUBLISH_WEBHOOK_URL", url.as_str()),
            ("BLOGFLOW_PUBLISH_WEBHOOK_SECRET", SECRET),
        ],
    )
    .await;
    let job = svc.generate(1).await;
    let done = svc.job_ended(&job, "completed").await;
    let id = done["result"]["generated"][0].as_str().unwrap().to_owned();
    // The 503 fails the first publish attempt; the blog_publish job retries with backoff.
    let got = rx
        .wait_until("the retried delivery", |g| g.len() == 2)
        .await;
    let post = svc
        .wait_for(
            &format!("/api/posts/{id}"),
            "both targets in the ledger",
            |p| publications(p).len() == 2,
        )
        .await;
    let mut targets = publications(&post);
    targets.sort();
    assert_eq!(targets, ["markdown", "webhook"]);
    for r in &got {
        assert_eq!(r.path, "/posts");
        assert_eq!(
            r.headers["idempotency-key"],
            id.as_str(),
            "the same key on the retry"
        );
        let ts: i64 = r.headers[TIMESTAMP_HEADER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            r.headers[SIGNATURE_HEADER].to_str().unwrap(),
            signature(SECRET, ts, &r.raw)
        );
        assert_eq!(r.body["id"], id.as_str());
        assert!(r.body["body_html"].as_str().unwrap().contains("<h2>"));
        assert!(r.body["body_markdown"].as_str().unwrap().contains("## "));
    }
    // More time and another health tick change nothing: one delivery recorded.
    let again = svc.get(&format!("/api/posts/{id}")).await;
    assert_eq!(publications(&again).len(), 2);
    assert_eq!(rx.received().len(), 2);
    assert_eq!(again["post"]["status"], "published");
    svc.stop().await;
}

#[tokio::test]
async fn webhook_answers_map_to_delivered_retry_or_refused_and_html_is_sanitized() {
    let fake = FakeOpenAi::start().await;
    let svc = InProcess::start(
        &fake,
        "schedules = []\n[queue]\npoll_interval_ms = 50\n",
        &[],
    )
    .await;
    let job = svc.generate(1).await;
    let done = svc.job_ended(&job, "completed").await;
    let id = done["result"]["generated"][0].as_str().unwrap();
    let mut post = svc.running().store.get_post(id).await.unwrap().unwrap();
    post.content.body.push_str(
        "\n\n<script>steal()</script>\n\n[click](javascript:alert(1)) <img src=x onerror=alert(2)>\n",
    );
    svc.stop().await;

    let rx = AlertReceiver::start().await;
    let publisher = WebhookPublisher::new(WebhookTarget {
        url: Secret::new(format!("{}/hook/secret-token", rx.root)),
        secret: None,
    });
    publisher.check().await.unwrap();
    assert!(publisher.publish(&post).await.is_ok());
    let html = rx.received()[0].body["body_html"]
        .as_str()
        .unwrap()
        .to_owned();
    for bad in ["<script", "steal()", "javascript:", "onerror"] {
        assert!(!html.contains(bad), "{bad} in {html}");
    }
    assert!(
        !rx.received()[0].headers.contains_key(SIGNATURE_HEADER),
        "no secret, no signature"
    );

    rx.fail_next([409]);
    assert!(
        publisher.publish(&post).await.is_ok(),
        "409: the receiver has it already"
    );
    rx.fail_next([503]);
    let e = publisher.publish(&post).await.unwrap_err();
    assert!(matches!(e, PublishError::Target { .. }), "{e:?}");
    rx.fail_next([401]);
    let e = publisher.publish(&post).await.unwrap_err();
    assert!(matches!(e, PublishError::Rejected { .. }), "{e:?}");
    assert!(!e.to_string().contains("secret-token"), "{e}");

    let closed = WebhookPublisher::new(WebhookTarget {
        url: Secret::new("http://127.0.0.1:9/hook/secret-token"),
        secret: None,
    });
    let e = closed.check().await.unwrap_err();
    assert!(e.to_string().contains("cannot connect"), "{e}");
    let e = closed.publish(&post).await.unwrap_err();
    assert!(
        matches!(e, PublishError::Target { .. }) && !e.to_string().contains("secret-token"),
        "{e}"
    );
}

#[tokio::test]
async fn a_misconfigured_target_is_reported_at_start_alerts_once_and_its_posts_stay_queued() {
    let fake = FakeOpenAi::start().await;
    let alerts = AlertReceiver::start().await;
    let alert_url = format!("{}/alerts", alerts.root);
    let toml = format!(
        "schedules = []\n[monitoring]\ninterval_secs = 0.2\n{}\n[queue]\npoll_interval_ms = 50\n",
        support::QUIET_THRESHOLDS
    );
    let svc = InProcess::start(
        &fake,
        &toml,
        &[
            // Nothing listens on port 9.
            ("BLOGFLOW_PUBLISH_WEBHOOK_URL", "http://127.0.0.1:9/posts"),
            ("BLOGFLOW_ALERT_WEBHOOK_URL", alert_url.as_str()),
        ],
    )
    .await;
    let health = svc.get("/api/automation/health").await;
    assert_eq!(health["status"], "degraded", "{health:#}");
    let target = health["checks"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "webhook")
        .cloned()
        .unwrap();
    assert_eq!(
        target["status"], "failing",
        "reported from the start: {health:#}"
    );
    let got = alerts
        .wait_until("the target alert", |g| {
            g.iter()
                .any(|r| r.body["alerts"][0]["key"] == "target:webhook")
        })
        .await;
    let job = svc.generate(1).await;
    let done = svc.job_ended(&job, "completed").await;
    let id = done["result"]["generated"][0].as_str().unwrap().to_owned();
    let publish = svc
        .wait_for(
            &format!("/api/jobs/blog-publishing/publish-{id}"),
            "a failed attempt",
            |j| j["attempts_made"].as_u64() >= Some(1),
        )
        .await;
    assert!(
        matches!(
            publish["state"].as_str(),
            Some("delayed" | "waiting" | "active")
        ),
        "queued for a retry, not lost: {publish:#}"
    );
    let post = svc.get(&format!("/api/posts/{id}")).await;
    assert_eq!(
        post["post"]["status"], "ready",
        "not published until every target has it"
    );
    let ops = svc.running().ops.clone();
    let seen = ops.cycles();
    ops.wait_cycles(seen + 10).await;
    let target_alerts = alerts
        .received()
        .iter()
        .flat_map(|r| r.body["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["key"] == "target:webhook")
        .count();
    assert_eq!(target_alerts, 1, "alerted once: {got:#?}");
    svc.stop().await;
}
