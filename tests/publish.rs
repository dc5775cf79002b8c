//! Publishers against receivers started by the test: the webhook's request shape, signature,
//! idempotency key and error handling, and exactly-once delivery through the service.

mod support;

use std::time::Duration;

use blogflow::config::Secret;
use blogflow::content::{GeneratedPost, QualityReport};
use blogflow::ops::channels::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};
use blogflow::publish::{
    GhostPublisher, GhostStatus, GhostTarget, MarkdownPublisher, MarkdownTarget, PublishError,
    Publisher, SeoFields, WebhookPublisher, WebhookTarget, WordPressPublisher, WordPressStatus,
    WordPressTarget,
};
use blogflow::store::{Post, PostStatus, PublicationState};
use serde_json::Value;
use support::cms::{FakeCms, GHOST_KEY, WEBHOOK_SECRET, WP_PASSWORD, WP_USER};
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
        // A keyword post: no sources, and the receiver is told.
        assert_eq!(r.body["grounded"], false);
        assert_eq!(r.body["sources"], serde_json::json!([]));
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
        lookup_url: None,
        url: Secret::new(format!("{}/hook/secret-token", rx.root)),
        secret: None,
        timeout: Duration::from_secs(30),
    });
    publisher.check().await.unwrap();
    assert!(publisher.publish(&post).await.is_ok());
    let html = rx.received()[0].body["body_html"]
        .as_str()
        .unwrap()
        .to_owned();
    // The one script is the JSON-LD blogflow adds, and it is data.
    let (ld, html) = support::json_ld(&html);
    assert_eq!(ld.len(), 1, "{html}");
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
    assert!(matches!(e, PublishError::Unavailable { .. }), "{e:?}");
    rx.fail_next([400]);
    let e = publisher.publish(&post).await.unwrap_err();
    assert!(
        matches!(e, PublishError::Rejected { .. }),
        "a 400 is about this post: {e:?}"
    );
    assert!(!e.to_string().contains("secret-token"), "{e}");

    let closed = WebhookPublisher::new(WebhookTarget {
        lookup_url: None,
        url: Secret::new("http://127.0.0.1:9/hook/secret-token"),
        secret: None,
        timeout: Duration::from_secs(30),
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
            "the post to wait for the target",
            |j| {
                j["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("waiting for webhook"))
            },
        )
        .await;
    assert_eq!(
        publish["attempts_made"], 0,
        "waiting for a down target spends no attempt: {publish:#}"
    );
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

// --- One conformance suite for every HTTP publisher ------------------------------------------

/// A post as the pipeline stores it, with markup a model might produce that must not reach a
/// site.
fn sample_post(n: usize, slug: &str) -> Post {
    Post {
        id: format!("0000000{n}-aaaa-4bbb-8ccc-conformance{n:02}"),
        job_id: "job".into(),
        slot: 0,
        topic: "agents".into(),
        keyword: None,
        category: "AI & ML".into(),
        language: "ko".into(),
        content: GeneratedPost {
            title: format!("AI 에이전트가 바꾸는 것 {n}"),
            slug: slug.into(),
            summary: "에이전트의 현재와 다음 단계.".into(),
            tags: vec!["AI".into(), "에이전트".into()],
            seo_title: format!("AI 에이전트 {n}"),
            seo_description: "에이전트 요약".into(),
            seo_keywords: vec!["AI".into(), "agents".into()],
            body: "## 서론\n\n에이전트는 **도구**를 쓴다.\n\n<script>steal()</script>\n\n\
                   [click](javascript:alert(1)) <img src=x onerror=alert(2)>\n"
                .into(),
        },
        quality: QualityReport {
            score: 90,
            parts: vec![],
            forbidden: vec![],
        },
        status: PostStatus::Ready,
        provider: "fake".into(),
        model: "m".into(),
        input_tokens: 0,
        output_tokens: 0,
        cost_usd: 0.0,
        generation_ms: 0,
        attempts: 1,
        created_at: chrono::Utc::now().timestamp_millis(),
        published_at: None,
        hold_reason: None,
        duplicate_of: None,
        review: None,
        provenance: Default::default(),
    }
}

/// A publisher under test and the fake site it talks to.
struct Subject {
    name: &'static str,
    fake: FakeCms,
    /// A publisher for `root` with good or bad credentials.
    make: fn(&str, bool) -> Publisher,
    /// Credentials that must never appear in an error.
    secrets: &'static [&'static str],
}

const TIMEOUT: Duration = Duration::from_secs(1);

fn wordpress(root: &str, good: bool) -> Publisher {
    Publisher::WordPress(WordPressPublisher::new(WordPressTarget {
        url: root.to_owned(),
        user: WP_USER.into(),
        password: Secret::new(if good {
            WP_PASSWORD
        } else {
            "wrong-application-password"
        }),
        status: WordPressStatus::Publish,
        future_delay: Duration::ZERO,
        seo: SeoFields {
            title: Some("_yoast_wpseo_title".into()),
            description: Some("_yoast_wpseo_metadesc".into()),
            keywords: None,
        },
        timeout: TIMEOUT,
    }))
}

fn ghost(root: &str, good: bool) -> Publisher {
    Publisher::Ghost(GhostPublisher::new(GhostTarget {
        url: root.to_owned(),
        admin_key: Secret::new(if good {
            GHOST_KEY
        } else {
            "64f0c0ffee0123456789abcd:00112233445566778899aabbccddeeff"
        }),
        status: GhostStatus::Published,
        future_delay: Duration::ZERO,
        timeout: TIMEOUT,
    }))
}

fn webhook(root: &str, good: bool) -> Publisher {
    Publisher::Webhook(WebhookPublisher::new(WebhookTarget {
        lookup_url: None,
        url: Secret::new(format!("{root}/posts")),
        secret: Some(Secret::new(if good {
            WEBHOOK_SECRET
        } else {
            "wrong-signing-secret"
        })),
        timeout: TIMEOUT,
    }))
}

/// The HTML a site stored for a post.
fn stored_html(p: &Value) -> String {
    p["content"]["raw"]
        .as_str()
        .or(p["html"].as_str())
        .unwrap_or_default()
        .to_owned()
}

fn ours(fake: &FakeCms) -> Vec<Value> {
    fake.posts()
        .into_iter()
        .filter(|p| !stored_html(p).contains("<p>mine</p>"))
        .collect()
}

fn assert_clean(name: &str, e: &PublishError, secrets: &[&str]) {
    for s in secrets {
        assert!(!e.to_string().contains(s), "{name}: a secret in {e}");
    }
}

/// Every publisher: the documented request shape, auth and error answers (401, 404,
/// duplicate, 5xx, timeout), and no second copy when an answer was lost.
async fn conformance(s: Subject) {
    let (name, root) = (s.name, s.fake.root.clone());
    let good = (s.make)(&root, true);
    let bad_auth = (s.make)(&root, false);
    let bad_url = (s.make)(&format!("{root}/blog"), true);
    let unreachable = (s.make)("http://127.0.0.1:9", true);

    // Startup check.
    good.check().await.unwrap_or_else(|e| panic!("{name}: {e}"));
    let e = unreachable.check().await.unwrap_err();
    assert!(e.to_string().contains("connect"), "{name}: {e}");
    if name != "webhook" {
        // A webhook has nothing to ask before sending; the others verify credentials.
        let e = bad_auth.check().await.unwrap_err();
        assert!(
            matches!(e, PublishError::Unavailable { .. })
                && e.to_string().contains("not authorised"),
            "{name}: {e}"
        );
        assert_clean(name, &e, s.secrets);
    }

    // Delivery, in the shape the fake checks (it answers 400/422 otherwise).
    let first = sample_post(1, "ai-agents");
    let location = good
        .publish(&first)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let held = ours(&s.fake);
    assert_eq!(held.len(), 1, "{name}: {held:#?}");
    let (_, html) = support::json_ld(&stored_html(&held[0]));
    assert!(
        html.contains("<h2>서론</h2>") && html.contains("<strong>도구</strong>"),
        "{name}: {html}"
    );
    for bad in ["<script", "steal()", "javascript:", "onerror"] {
        assert!(
            !html.contains(bad),
            "{name}: {bad} reached the site: {html}"
        );
    }
    assert!(
        location.location.ends_with("/ai-agents/"),
        "{name}: {location:?}"
    );
    assert_eq!(
        location.state,
        blogflow::store::PublicationState::Published,
        "{name}"
    );

    // The ledger write was lost: publishing again finds the post, creates nothing.
    let again = good.publish(&first).await.unwrap();
    assert_eq!(again, location, "{name}");
    assert_eq!(ours(&s.fake).len(), 1, "{name}: a second copy");

    // 401: the target cannot take posts (the job checks it and waits while its check fails
    // too), nothing created, no credential in the message.
    let e = bad_auth.publish(&sample_post(2, "two")).await.unwrap_err();
    assert!(
        matches!(e, PublishError::Unavailable { .. }),
        "{name}: {e:?}"
    );
    assert!(e.to_string().contains("HTTP 401"), "{name}: {e}");
    assert_clean(name, &e, s.secrets);
    // 404: the address is wrong.
    let e = bad_url.publish(&sample_post(2, "two")).await.unwrap_err();
    assert!(
        matches!(e, PublishError::Unavailable { .. }) && e.to_string().contains("HTTP 404"),
        "{name}: {e:?}"
    );
    // Unreachable: worth a retry.
    let e = unreachable
        .publish(&sample_post(2, "two"))
        .await
        .unwrap_err();
    assert!(matches!(e, PublishError::Target { .. }), "{name}: {e:?}");
    assert_eq!(
        ours(&s.fake).len(),
        1,
        "{name}: nothing created by failures"
    );

    // Duplicate: someone else's post has our slug. CMSs suffix our slug and leave theirs; a
    // webhook receiver that already has the post answers 409, which counts as delivered.
    s.fake.add_foreign_post("two");
    let second = sample_post(2, "two");
    let location = good
        .publish(&second)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    if name == "webhook" {
        s.fake.fail_next_creates([409]);
        good.publish(&second)
            .await
            .unwrap_or_else(|e| panic!("{name}: 409 is delivered: {e}"));
    } else {
        assert!(
            location.location.ends_with("/two-2/"),
            "{name}: {location:?}"
        );
    }
    let foreign: Vec<Value> = s
        .fake
        .posts()
        .into_iter()
        .filter(|p| stored_html(p).contains("<p>mine</p>"))
        .collect();
    assert!(
        foreign.len() == 1 && foreign[0]["slug"] == "two",
        "{name}: the foreign post is untouched: {foreign:#?}"
    );

    // 5xx: a retryable failure, then one copy.
    s.fake.fail_next_creates([503]);
    let third = sample_post(3, "three");
    let e = good.publish(&third).await.unwrap_err();
    assert!(
        matches!(e, PublishError::Target { .. }) && e.to_string().contains("503"),
        "{name}: {e:?}"
    );
    good.publish(&third)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));

    // Timeout after the site stored the post: the retry finds it.
    s.fake.hang_after_next_create();
    let fourth = sample_post(4, "four");
    let e = good.publish(&fourth).await.unwrap_err();
    assert!(
        matches!(e, PublishError::Target { .. }) && e.to_string().contains("timed out"),
        "{name}: {e:?}"
    );
    good.publish(&fourth)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let slugs: Vec<String> = ours(&s.fake)
        .iter()
        .map(|p| p["slug"].as_str().unwrap().to_owned())
        .collect();
    let expected_second = if name == "webhook" { "two" } else { "two-2" };
    assert_eq!(
        slugs,
        ["ai-agents", expected_second, "three", "four"],
        "{name}: each post exactly once"
    );
}

#[tokio::test]
async fn wordpress_conforms() {
    let fake = FakeCms::wordpress().await;
    conformance(Subject {
        name: "wordpress",
        fake: fake.clone(),
        make: wordpress,
        secrets: &[WP_PASSWORD, "wrong-application-password"],
    })
    .await;
    // WordPress specifics: terms resolved (created once, then reused), SEO meta, excerpt.
    let posts = fake.posts();
    let first = &posts[0];
    assert_eq!(first["status"], "publish");
    assert_eq!(first["meta"]["_yoast_wpseo_title"], "AI 에이전트 1");
    assert_eq!(first["excerpt"]["raw"], "에이전트의 현재와 다음 단계.");
    let mut tags = fake.terms("tags");
    tags.sort();
    assert_eq!(tags, ["AI", "에이전트"], "each tag created once");
    assert_eq!(fake.terms("categories"), ["AI & ML"]);
    let term_creates = fake
        .requests()
        .iter()
        .filter(|(m, r)| m == "POST" && r != "posts")
        .count();
    assert_eq!(term_creates, 3, "terms are resolved once per process");
    // A user without publish_posts is reported at start.
    fake.set_can_publish(false);
    let e = wordpress(&fake.root, true).check().await.unwrap_err();
    assert!(e.to_string().contains("publish_posts"), "{e}");
    // With plain permalinks /wp-json/ serves the home page: the API is found under
    // `?rest_route=` and the post is published there.
    fake.set_can_publish(true);
    fake.set_plain_permalinks(true);
    let before = fake.posts().len();
    let plain = wordpress(&fake.root, true);
    plain.check().await.unwrap();
    let delivered = plain.publish(&sample_post(9, "plain")).await.unwrap();
    assert!(delivered.location.ends_with("/plain/"), "{delivered:?}");
    assert_eq!(fake.posts().len(), before + 1);
    // A site that answers neither as WordPress does is refused at the check, naming both.
    let e = wordpress(&format!("{}/blog", fake.root), true)
        .check()
        .await
        .unwrap_err();
    assert!(
        matches!(e, PublishError::Unavailable { .. })
            && e.to_string().contains("no WordPress REST API")
            && e.to_string().contains("publish.wordpress.url"),
        "{e}"
    );
}

#[tokio::test]
async fn ghost_conforms() {
    let fake = FakeCms::ghost().await;
    conformance(Subject {
        name: "ghost",
        fake: fake.clone(),
        make: ghost,
        secrets: &[GHOST_KEY, "00112233445566778899aabbccddeeff"],
    })
    .await;
    let first = &fake.posts()[0];
    assert_eq!(first["status"], "published");
    assert_eq!(first["meta_title"], "AI 에이전트 1");
    let tags: Vec<&str> = first["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["visibility"].as_str().unwrap())
        .collect();
    // The category first, as Ghost's primary tag, with its slug; then the tags and the marker.
    assert_eq!(
        tags,
        ["public", "public", "public", "internal"],
        "{first:#}"
    );
    assert_eq!(first["tags"][0]["name"], "AI & ML");
    assert_eq!(first["tags"][0]["slug"], "ai-ml");
}

#[tokio::test]
async fn webhook_conforms() {
    conformance(Subject {
        name: "webhook",
        fake: FakeCms::webhook().await,
        make: webhook,
        secrets: &[WEBHOOK_SECRET, "wrong-signing-secret"],
    })
    .await;
}

#[tokio::test]
async fn the_service_publishes_each_post_once_to_wordpress_and_ghost() {
    let fake = FakeOpenAi::start().await;
    let (wp, gh) = (FakeCms::wordpress().await, FakeCms::ghost().await);
    // The first create on each site fails with a 502; the job's retry delivers.
    wp.fail_next_creates([502]);
    gh.fail_next_creates([502]);
    let toml = "schedules = []\n[queue]\npoll_interval_ms = 50\n\
                [publish.wordpress]\nallow_http = true\nseo = \"rank-math\"\n\
                [publish.ghost]\nallow_http = true\nstatus = \"draft\"\n";
    let svc = InProcess::start(
        &fake,
        toml,
        &[
            ("BLOGFLOW_WORDPRESS_URL", wp.root.as_str()),
            ("BLOGFLOW_WORDPRESS_USER", WP_USER),
            ("BLOGFLOW_WORDPRESS_APP_PASSWORD", WP_PASSWORD),
            ("BLOGFLOW_GHOST_URL", gh.root.as_str()),
            ("BLOGFLOW_GHOST_ADMIN_KEY", GHOST_KEY),
        ],
    )
    .await;
    let health = svc.get("/api/automation/health").await;
    let targets = health["checks"]["targets"].as_array().unwrap();
    assert!(
        targets.iter().all(|t| t["status"] == "ok") && targets.len() == 3,
        "{health:#}"
    );
    let job = svc.generate(2).await;
    let done = svc.job_ended(&job, "completed").await;
    for id in done["result"]["generated"].as_array().unwrap() {
        let id = id.as_str().unwrap();
        let post = svc
            // The status is set after the last ledger row, in a step of its own.
            .wait_for(
                &format!("/api/posts/{id}"),
                "three ledger rows and the post published",
                |p| publications(p).len() == 3 && p["post"]["status"] == "published",
            )
            .await;
        let mut targets = publications(&post);
        targets.sort();
        assert_eq!(targets, ["ghost", "markdown", "wordpress"]);
        assert_eq!(post["post"]["status"], "published");
    }
    let (wp_posts, gh_posts) = (wp.posts(), gh.posts());
    assert_eq!(
        (wp_posts.len(), gh_posts.len()),
        (2, 2),
        "each post once on each site"
    );
    assert!(
        wp_posts
            .iter()
            .all(|p| p["meta"]["rank_math_title"].is_string())
    );
    assert!(gh_posts.iter().all(|p| p["status"] == "draft"));
    svc.stop().await;
}

#[tokio::test]
async fn a_post_refused_for_bad_credentials_is_published_after_the_fix_and_a_restart() {
    let fake = FakeOpenAi::start().await;
    let wp = FakeCms::wordpress().await;
    let toml = "schedules = []\n[queue]\npoll_interval_ms = 50\n\
                [publish.wordpress]\nallow_http = true\n";
    let env = |password| {
        [
            ("BLOGFLOW_WORDPRESS_URL", wp.root.clone()),
            ("BLOGFLOW_WORDPRESS_USER", WP_USER.to_owned()),
            ("BLOGFLOW_WORDPRESS_APP_PASSWORD", password),
        ]
    };
    let wrong = env("revoked-application-password".to_owned());
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let svc = InProcess::start(&fake, toml, &wrong).await;
    let health = svc.get("/api/automation/health").await;
    let target = health["checks"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "wordpress")
        .cloned()
        .unwrap();
    assert_eq!(target["status"], "failing", "{health:#}");
    assert!(
        target["message"]
            .as_str()
            .unwrap()
            .contains("not authorised")
            && !target["message"].as_str().unwrap().contains("revoked"),
        "{target:#}"
    );
    let job = svc.generate(1).await;
    let done = svc.job_ended(&job, "completed").await;
    let id = done["result"]["generated"][0].as_str().unwrap().to_owned();
    // A 401 while the target's own check fails too is the target's problem: the post waits
    // for it, spending no attempt, and nothing is sent until it works.
    let publish = svc
        .wait_for(
            &format!("/api/jobs/blog-publishing/publish-{id}"),
            "the publish job to wait for wordpress",
            |j| {
                j["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("waiting for wordpress"))
            },
        )
        .await;
    assert!(
        publish["last_error"]
            .as_str()
            .is_some_and(|r| r.contains("HTTP 401")),
        "{publish:#}"
    );
    assert_eq!(publish["attempts_made"], 0, "{publish:#}");
    let post = svc.get(&format!("/api/posts/{id}")).await;
    assert_eq!(post["post"]["status"], "ready", "not lost: {post:#}");
    assert!(wp.posts().is_empty());

    let right = env(WP_PASSWORD.to_owned());
    let right: Vec<(&str, &str)> = right.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let svc = svc.restart(&fake, toml, &right).await;
    let post = svc
        .wait_for(&format!("/api/posts/{id}"), "the post published", |p| {
            p["post"]["status"] == "published"
        })
        .await;
    let mut targets = publications(&post);
    targets.sort();
    assert_eq!(targets, ["markdown", "wordpress"]);
    assert_eq!(wp.posts().len(), 1);
    svc.stop().await;
}

#[tokio::test]
async fn a_webhook_with_a_lookup_url_is_asked_first_and_a_held_post_is_not_sent_again() {
    let rx = FakeCms::webhook().await;
    let publisher = WebhookPublisher::new(WebhookTarget {
        lookup_url: Some(Secret::new(format!("{}/posts/{{id}}", rx.root))),
        url: Secret::new(format!("{}/posts", rx.root)),
        secret: Some(Secret::new(WEBHOOK_SECRET)),
        timeout: Duration::from_secs(30),
    });
    let post = sample_post(1, "ai-agents");
    let first = publisher.publish(&post).await.unwrap();
    // The ledger write was lost (a crash after the receiver's 2xx): the retry looks first.
    let again = publisher.publish(&post).await.unwrap();
    assert_eq!(again, first);
    let requests = rx.requests();
    let sends = requests.iter().filter(|(m, _)| m == "POST").count();
    let looks = requests.iter().filter(|(m, _)| m == "GET").count();
    assert_eq!(
        (looks, sends),
        (2, 1),
        "looked twice, sent once: {requests:?}"
    );
    assert_eq!(rx.posts().len(), 1);
}

/// Bodies a model writes that MDX would read as code: expressions, comparisons, JSX-looking
/// tags, module lines, HTML comments, autolinks, and code that must stay as it is.
const HOSTILE_BODIES: [&str; 8] = [
    "## Settings\n\nSet {temperature: 0.2} and keep answers in < 100ms.\n",
    "import torch is how most notebooks start.\n\nexport your weights before you quantise.\n",
    "<!-- the model left a note -->\n\nThe <b>bold</b> claim: latency < 5 s {always}.\n",
    "Read <https://example.com/paper> and mail <team@example.com>.\n",
    "```python\nconfig = {\"temperature\": 0.2}\nif x < 100: print(x)\n```\n\nInline `{code}` and `a < b` stay.\n",
    "| model | params |\n|---|---|\n| {small} | < 1B |\n",
    "## 한국어\n\n모델의 {설정}은 < 10ms 이내로 응답합니다. import 문장도 괜찮습니다.\n",
    "A lone } brace, a lone { brace and a <tag without end.\n",
];

#[tokio::test]
async fn mdx_posts_compile_with_the_real_mdx_compiler_whatever_the_body() {
    let tools = support::npm_install_once(
        "mdx",
        "mdx-check",
        &["package.json", "compile.mjs"],
        "@mdx-js/mdx",
    );
    let compile = |files: &[String]| {
        std::process::Command::new("node")
            .arg(tools.join("compile.mjs"))
            .args(files)
            .output()
            .expect("node (Node.js 20) is needed: run scripts/install-deps --tests")
    };
    let dir = tempfile::tempdir().unwrap();
    let target = MarkdownTarget {
        extension: "mdx",
        ..MarkdownTarget::new(blogflow::config::FrontMatter::Astro)
    };
    let publisher = MarkdownPublisher::new(dir.path().join("posts"), target);
    let mut ours = Vec::new();
    let mut raw = Vec::new();
    for (n, body) in HOSTILE_BODIES.iter().enumerate() {
        let mut post = sample_post(n, &format!("hostile-{n}"));
        post.content.body = (*body).to_owned();
        ours.push(publisher.publish(&post).await.unwrap());
        // The same body unescaped, to show the compiler is the judge it should be.
        let path = dir.path().join(format!("raw-{n}.mdx"));
        std::fs::write(&path, body).unwrap();
        raw.push(path.display().to_string());
    }
    let out = compile(&ours);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert_eq!(report.lines().filter(|l| l.starts_with("ok ")).count(), 8);
    // Five of them do not even compile; `{small}` and `{설정}` compile as expressions and would
    // fail when the page renders (no such variable).
    let unescaped = String::from_utf8_lossy(&compile(&raw).stdout).into_owned();
    assert!(
        unescaped
            .lines()
            .filter(|l| l.starts_with("error "))
            .count()
            >= 5,
        "the raw bodies break MDX: {unescaped}"
    );
    let code = std::fs::read_to_string(&ours[4]).unwrap();
    assert!(
        code.contains("config = {\"temperature\": 0.2}\nif x < 100") && code.contains("`{code}`"),
        "code stays literal: {code}"
    );
}

#[tokio::test]
async fn drafts_and_scheduled_posts_are_recorded_as_such_with_a_url_that_opens_them() {
    let ghost_site = FakeCms::ghost().await;
    let wp_site = FakeCms::wordpress().await;
    let ghost_as = |status| {
        Publisher::Ghost(GhostPublisher::new(GhostTarget {
            url: ghost_site.root.clone(),
            admin_key: Secret::new(GHOST_KEY),
            status,
            future_delay: Duration::from_secs(3600),
            timeout: TIMEOUT,
        }))
    };
    let draft = ghost_as(GhostStatus::Draft)
        .publish(&sample_post(1, "draft"))
        .await
        .unwrap();
    assert_eq!(draft.state, PublicationState::Draft);
    let uuid = ghost_site.posts()[0]["uuid"].as_str().unwrap().to_owned();
    assert_eq!(draft.location, format!("{}/p/{uuid}/", ghost_site.root));
    // Found again after a lost answer: the same preview URL, not a bare `/p/`.
    let again = ghost_as(GhostStatus::Draft)
        .publish(&sample_post(1, "draft"))
        .await
        .unwrap();
    assert_eq!(again, draft);
    assert_eq!(ghost_site.posts().len(), 1);
    let scheduled = ghost_as(GhostStatus::Scheduled)
        .publish(&sample_post(2, "later"))
        .await
        .unwrap();
    assert_eq!(scheduled.state, PublicationState::Scheduled);

    for (status, state) in [
        (WordPressStatus::Draft, PublicationState::Draft),
        (WordPressStatus::Future, PublicationState::Scheduled),
        (WordPressStatus::Publish, PublicationState::Published),
    ] {
        let publisher = Publisher::WordPress(WordPressPublisher::new(WordPressTarget {
            url: wp_site.root.clone(),
            user: WP_USER.into(),
            password: Secret::new(WP_PASSWORD),
            status,
            future_delay: Duration::from_secs(3600),
            seo: SeoFields::default(),
            timeout: TIMEOUT,
        }));
        let post = sample_post(10 + state as usize, &format!("wp-{}", state.as_str()));
        let first = publisher.publish(&post).await.unwrap();
        assert_eq!(first.state, state, "{status:?}");
        assert_eq!(
            publisher.publish(&post).await.unwrap(),
            first,
            "found again"
        );
    }
}

fn extras() -> blogflow::publish::Extras {
    blogflow::publish::Extras {
        cards: Some(
            blogflow::images::CardRenderer::new(blogflow::config::ImagesConfig::default())
                .expect("fonts-noto-cjk is needed: run scripts/install-deps --tests"),
        ),
        blog_name: "AI 트렌드 블로그".into(),
        last: Default::default(),
    }
}

/// Width and height of a PNG, from its IHDR.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let at = |i: usize| u32::from_be_bytes(png[i..i + 4].try_into().unwrap());
    (at(16), at(20))
}

/// The card reaches WordPress's media library once and is the post's `featured_media`, even
/// when the post's creation fails after the upload (what a crash there leaves): the retry
/// finds the media item by its slug. WordPress emits no JSON-LD of its own, so the content
/// carries a `BlogPosting` naming the card; a user without `unfiltered_html` gets none (kses
/// would leave the JSON on the page as text).
#[tokio::test]
async fn wordpress_uploads_the_card_once_and_features_it_even_after_a_failure_in_between() {
    support::watchdog();
    let fake = FakeCms::wordpress().await;
    // No SEO plugin configured: WordPress emits no structured data of its own.
    let target = wordpress_target(&fake.root);
    let publisher =
        Publisher::WordPress(WordPressPublisher::new(target.clone()).with_extras(extras()));
    let post = sample_post(1, "ai-agents");

    fake.fail_next_creates([500]);
    let e = publisher.publish(&post).await.unwrap_err();
    assert!(matches!(e, PublishError::Target { .. }), "{e:?}");
    assert_eq!(fake.media().len(), 1, "uploaded before the post");
    assert!(ours(&fake).is_empty());

    let delivered = publisher.publish(&post).await.unwrap();
    let again = publisher.publish(&post).await.unwrap();
    assert_eq!(again, delivered, "a retry finds the post");
    let media = fake.media();
    assert_eq!(media.len(), 1, "the retry found the upload: {media:#?}");
    let uploads = fake
        .requests()
        .iter()
        .filter(|r| *r == &("POST".to_owned(), "media".to_owned()))
        .count();
    assert_eq!(uploads, 1);
    let m = &media[0];
    assert_eq!(m["slug"], format!("blogflow-card-{}", post.id));
    assert_eq!(m["alt_text"], post.content.title);
    let held = ours(&fake);
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["featured_media"], m["id"]);

    let (ld, rest) = support::json_ld(&stored_html(&held[0]));
    assert_eq!(ld.len(), 1, "{rest}");
    let problems = support::blog_posting_problems(&ld[0], true);
    assert!(problems.is_empty(), "{problems:?}: {:#}", ld[0]);
    assert_eq!(ld[0]["image"][0], m["source_url"]);
    assert_eq!(ld[0]["headline"], post.content.title);
    assert_eq!(ld[0]["publisher"]["name"], "AI 트렌드 블로그");
    assert_eq!(ld[0]["inLanguage"], "ko");

    // Without unfiltered_html WordPress would strip the tag and show the JSON.
    let fake = FakeCms::wordpress().await;
    fake.set_unfiltered_html(false);
    let publisher = Publisher::WordPress(
        WordPressPublisher::new(WordPressTarget {
            url: fake.root.clone(),
            ..target
        })
        .with_extras(extras()),
    );
    publisher.publish(&post).await.unwrap();
    let html = stored_html(&ours(&fake)[0]);
    assert!(
        !html.contains("schema.org") && !html.contains("ld+json"),
        "{html}"
    );
    assert_eq!(fake.media().len(), 1, "the card still goes");
}

fn wordpress_target(root: &str) -> WordPressTarget {
    WordPressTarget {
        url: root.to_owned(),
        user: WP_USER.into(),
        password: Secret::new(WP_PASSWORD),
        status: WordPressStatus::Publish,
        future_delay: Duration::ZERO,
        seo: SeoFields::default(),
        timeout: TIMEOUT,
    }
}

/// Ghost gets the card through its images endpoint once and the post's `feature_image` is
/// the stored file; after a failed post creation the retry finds the file at the address
/// Ghost gave it and does not upload again. Ghost emits the JSON-LD itself, from these
/// fields: none is added to the HTML.
#[tokio::test]
async fn ghost_uploads_the_card_once_and_features_it_even_after_a_failure_in_between() {
    support::watchdog();
    let fake = FakeCms::ghost().await;
    let publisher = Publisher::Ghost(
        GhostPublisher::new(GhostTarget {
            url: fake.root.clone(),
            admin_key: Secret::new(GHOST_KEY),
            status: GhostStatus::Published,
            future_delay: Duration::ZERO,
            timeout: TIMEOUT,
        })
        .with_extras(extras()),
    );
    let post = sample_post(2, "ai-agents");
    fake.fail_next_creates([503]);
    publisher.publish(&post).await.unwrap_err();
    assert_eq!(fake.media().len(), 1);
    assert!(ours(&fake).is_empty());

    let delivered = publisher.publish(&post).await.unwrap();
    assert_eq!(publisher.publish(&post).await.unwrap(), delivered);
    let images = fake.media();
    assert_eq!(images.len(), 1, "one upload: {images:?}");
    let uploads = fake
        .requests()
        .iter()
        .filter(|r| r.1 == "images/upload")
        .count();
    assert_eq!(uploads, 1);
    let held = ours(&fake);
    assert_eq!(held.len(), 1);
    let url = held[0]["feature_image"].as_str().unwrap();
    assert_eq!(url, format!("{}{}", fake.root, images[0].as_str().unwrap()));
    assert!(
        url.ends_with(&format!("/blogflow-card-{}.png", post.id)),
        "{url}"
    );
    assert_eq!(held[0]["feature_image_alt"], post.content.title);
    let png = support::http()
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(png_size(&png), (1200, 630));
    assert!(!stored_html(&held[0]).contains("ld+json"));
}

/// The webhook carries the card's bytes (a receiver has no address of ours to fetch) and the
/// JSON-LD, in `body_html` and as `structured_data`.
#[tokio::test]
async fn the_webhook_carries_the_card_and_the_json_ld() {
    support::watchdog();
    let fake = FakeCms::webhook().await;
    let publisher = Publisher::Webhook(
        WebhookPublisher::new(WebhookTarget {
            lookup_url: None,
            url: Secret::new(format!("{}/posts", fake.root)),
            secret: Some(Secret::new(WEBHOOK_SECRET)),
            timeout: TIMEOUT,
        })
        .with_extras(extras()),
    );
    let mut post = sample_post(3, "ai-agents");
    post.provenance.grounded = true;
    post.provenance.sources = vec![blogflow::content::sources::SourceRef {
        title: "Agents at work".into(),
        url: "https://news.example/agents".into(),
    }];
    publisher.publish(&post).await.unwrap();
    let held = ours(&fake);
    let image = &held[0]["image"];
    assert_eq!(image["file_name"], format!("blogflow-card-{}.png", post.id));
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD
        .decode(image["base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(png_size(&png), (1200, 630));
    assert_eq!(
        (image["width"].as_u64(), image["height"].as_u64()),
        (Some(1200), Some(630))
    );
    let (ld, _) = support::json_ld(held[0]["html"].as_str().unwrap());
    assert_eq!(ld.len(), 1);
    assert_eq!(ld[0], held[0]["structured_data"]);
    let problems = support::blog_posting_problems(&ld[0], false);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(ld[0]["citation"][0]["url"], "https://news.example/agents");
}

/// With `[images.generate]`, the provider's image is asked for once per post when it is
/// first published, its price is added to the post's cost, and every target gets it instead
/// of the card (here the Markdown file beside the post). When the provider fails, the post is
/// published with its card at no image cost, and a retry does not ask again.
#[tokio::test]
async fn a_generated_image_is_asked_for_once_costed_and_the_card_stands_in_when_it_fails() {
    use base64::Engine;
    let fake = FakeOpenAi::start().await;
    let svc = InProcess::start(
        &fake,
        &support::test_toml(
            "[providers.openai]\ninput_price_per_mtok = 0\noutput_price_per_mtok = 0\n\
             [images.generate]\nprovider = \"openai\"\nprice_usd = 0.04\n",
        ),
        &[],
    )
    .await;
    let store = svc.running().store.clone();
    let published = |n: usize| {
        move |v: &Value| {
            v["posts"]
                .as_array()
                .is_some_and(|p| p.len() == n && p.iter().all(|p| p["status"] == "published"))
        }
    };
    let job = svc.generate(1).await;
    let done = svc.job_ended(&job, "completed").await;
    let first = done["result"]["generated"][0].as_str().unwrap().to_owned();
    svc.wait_for("/api/posts", "the first post published", published(1))
        .await;
    let post = store.get_post(&first).await.unwrap().unwrap();
    assert!((post.cost_usd - 0.04).abs() < 1e-9, "{}", post.cost_usd);
    let asked = fake.image_requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["model"], "gpt-image-1");
    assert_eq!(asked[0]["size"], "1536x1024");
    assert!(
        asked[0]["prompt"]
            .as_str()
            .unwrap()
            .contains(&post.content.title),
        "{}",
        asked[0]["prompt"]
    );
    let expected = base64::engine::general_purpose::STANDARD
        .decode(support::FAKE_IMAGE_PNG)
        .unwrap();
    let content = svc.dir.path().join("content");
    let beside = std::fs::read(content.join(format!("{}.png", post.content.slug))).unwrap();
    assert_eq!(beside, expected, "the generated image, not the card");
    let shown = support::http()
        .get(format!("{}/api/posts/{first}/card.png", svc.base))
        .bearer_auth(support::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status(), 200);
    assert_eq!(shown.headers()["content-type"], "image/png");
    assert_eq!(
        shown.bytes().await.unwrap(),
        expected,
        "the dashboard shows it too"
    );

    // The provider fails: the card stands in, nothing is charged, a retry does not ask again.
    fake.fail_next_images([500]);
    let job = svc.generate(1).await;
    let done = svc.job_ended(&job, "completed").await;
    let second = done["result"]["generated"][0].as_str().unwrap().to_owned();
    svc.wait_for("/api/posts", "the second post published", published(2))
        .await;
    let post = store.get_post(&second).await.unwrap().unwrap();
    assert_eq!(post.cost_usd, 0.0);
    let card = std::fs::read(content.join(format!("{}.png", post.content.slug))).unwrap();
    assert_eq!(png_size(&card), (1200, 630), "the social card");
    let why = store
        .post_image(&second)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(why.contains("HTTP 500"), "{why}");
    assert!(!why.contains("sk-test-secret-key-value"), "{why}");
    let generator = blogflow::images::generated::ImageGenerator::new(gen_config(
        blogflow::config::ImageProvider::OpenAi,
        &fake.base_url,
    ))
    .unwrap();
    generator.ensure(&store, &post).await.unwrap();
    assert_eq!(fake.image_requests().len(), 2, "asked once per post");
    svc.stop().await;
}

fn gen_config(
    provider: blogflow::config::ImageProvider,
    base: &str,
) -> blogflow::config::ImageGenConfig {
    blogflow::config::ImageGenConfig {
        provider,
        base_url: blogflow::config::EndpointUrl::new(base),
        api_key: Some(Secret::new("image-key-never-shown")),
        model: "gemini-2.5-flash-image".into(),
        size: "1536x1024".into(),
        quality: "low".into(),
        price_usd: 0.039,
        timeout: Duration::from_secs(5),
        prompt: blogflow::config::DEFAULT_IMAGE_PROMPT.into(),
    }
}

/// Gemini's wire: the prompt in `contents`, image output asked for, the key in its header,
/// the image found among the answer's parts; an error answer is explained without the key.
#[tokio::test]
async fn gemini_images_are_read_from_the_answers_parts_and_errors_name_no_key() {
    use base64::Engine;
    let fake = FakeOpenAi::start().await;
    let generator = blogflow::images::generated::ImageGenerator::new(gen_config(
        blogflow::config::ImageProvider::Gemini,
        &fake.root,
    ))
    .unwrap();
    let post = sample_post(4, "ai-agents");
    let image = generator.generate(&post).await.unwrap();
    assert_eq!(image.content_type, "image/png");
    assert_eq!(
        image.bytes,
        base64::engine::general_purpose::STANDARD
            .decode(support::FAKE_IMAGE_PNG)
            .unwrap()
    );
    let asked = &fake.image_requests()[0];
    assert!(
        asked["contents"][0]["parts"][0]["text"]
            .as_str()
            .unwrap()
            .contains(&post.content.title)
    );
    assert_eq!(
        asked["generationConfig"]["responseModalities"],
        serde_json::json!(["TEXT", "IMAGE"])
    );
    fake.fail_next_images([503]);
    let e = generator.generate(&post).await.unwrap_err();
    assert!(e.contains("HTTP 503"), "{e}");
    assert!(!e.contains("image-key-never-shown"), "{e}");
}
