//! Each provider client against a fake server speaking its wire format: success, every error
//! class of DESIGN.md, errors hidden in 200 bodies, malformed and truncated answers.

mod support;

use std::time::Duration;

use blogflow::config::{ApiProviderConfig, OpenAiConfig, Secret};
use blogflow::llm::{
    AnthropicProvider, ChatRequest, ErrorClass, GeminiProvider, OpenAiProvider, Provider,
};
use support::{FakeOpenAi, Reply};

const KEY: &str = "sk-provider-secret-123456";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    OpenAi,
    Anthropic,
    Gemini,
}

const KINDS: [Kind; 3] = [Kind::OpenAi, Kind::Anthropic, Kind::Gemini];

fn provider(kind: Kind, fake: &FakeOpenAi) -> Provider {
    provider_at(kind, &fake.base_url, &fake.root)
}

/// A client of `kind` for an OpenAI base URL or a server root (Anthropic, Gemini).
fn provider_at(kind: Kind, openai_base: &str, root: &str) -> Provider {
    let api = |base: &str| ApiProviderConfig {
        base_url: blogflow::config::EndpointUrl::new(base),
        api_key: Secret::new(KEY),
        model: "test-model".into(),
        timeout: Duration::from_secs(5),
        temperature: 0.5,
        max_tokens: 1000,
        input_price_per_mtok: 3.0,
        output_price_per_mtok: 15.0,
    };
    match kind {
        Kind::OpenAi => Provider::OpenAi(
            OpenAiProvider::new(OpenAiConfig {
                base_url: blogflow::config::EndpointUrl::new(openai_base),
                api_key: Some(Secret::new(KEY)),
                model: "test-model".into(),
                timeout: Duration::from_secs(5),
                temperature: 0.5,
                max_tokens: 1000,
                json_mode: false,
                format: Default::default(),
                input_price_per_mtok: 3.0,
                output_price_per_mtok: 15.0,
            })
            .unwrap(),
        ),
        Kind::Anthropic => Provider::Anthropic(AnthropicProvider::new(api(root)).unwrap()),
        Kind::Gemini => Provider::Gemini(GeminiProvider::new(api(root)).unwrap()),
    }
}

fn request() -> ChatRequest {
    ChatRequest {
        system: "Be brief.".into(),
        user: "Say hello.".into(),
        max_tokens: Some(50),
    }
}

#[tokio::test]
async fn success_reads_text_usage_and_cost_and_sends_the_right_auth() {
    for kind in KINDS {
        let fake = FakeOpenAi::start().await;
        fake.set_default(Reply::Text("hello there".into()));
        let p = provider(kind, &fake);
        let r = p.chat(&request()).await.unwrap();
        assert_eq!(r.text, "hello there", "{kind:?}");
        assert_eq!(
            (r.usage.input_tokens, r.usage.output_tokens),
            (120, 900),
            "{kind:?}"
        );
        assert!(
            (r.cost_usd - (120.0 * 3.0 + 900.0 * 15.0) / 1e6).abs() < 1e-12,
            "{kind:?}"
        );
        assert!(!r.truncated);
        let headers = &fake.headers()[0];
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let body = &fake.bodies()[0];
        match kind {
            Kind::OpenAi => {
                assert_eq!(
                    header("authorization").as_deref(),
                    Some(format!("Bearer {KEY}").as_str())
                );
                assert_eq!(body["messages"][0]["content"], "Be brief.");
                assert_eq!(body["max_tokens"], 50);
            }
            Kind::Anthropic => {
                assert_eq!(header("x-api-key").as_deref(), Some(KEY));
                assert_eq!(header("anthropic-version").as_deref(), Some("2023-06-01"));
                assert_eq!(
                    (
                        body["system"].as_str(),
                        body["messages"][0]["role"].as_str()
                    ),
                    (Some("Be brief."), Some("user"))
                );
                assert_eq!(body["max_tokens"], 50);
            }
            Kind::Gemini => {
                assert_eq!(header("x-goog-api-key").as_deref(), Some(KEY));
                assert_eq!(
                    fake.uris()[0],
                    "/v1beta/models/test-model:streamGenerateContent?alt=sse",
                    "the key stays out of the URL"
                );
                assert_eq!(body["systemInstruction"]["parts"][0]["text"], "Be brief.");
                assert_eq!(body["generationConfig"]["maxOutputTokens"], 50);
            }
        }
        p.check().await.unwrap();
    }
}

#[tokio::test]
async fn every_error_class_is_recognised_and_no_message_carries_the_key() {
    let cases: Vec<(Reply, ErrorClass, Option<u64>)> = vec![
        (
            Reply::Error {
                status: 401,
                code: "authentication_error",
                message: "invalid x-api-key sk-provider-secret-123456",
                retry_after: None,
            },
            ErrorClass::Fatal,
            None,
        ),
        (
            Reply::Error {
                status: 403,
                code: "permission_error",
                message: "not allowed",
                retry_after: None,
            },
            ErrorClass::Fatal,
            None,
        ),
        (
            Reply::Error {
                status: 429,
                code: "rate_limit_error",
                message: "slow down",
                retry_after: Some("7"),
            },
            ErrorClass::RateLimited,
            Some(7),
        ),
        (
            Reply::Error {
                status: 429,
                code: "insufficient_quota",
                message: "You exceeded your current quota",
                retry_after: None,
            },
            ErrorClass::Fatal,
            None,
        ),
        (
            Reply::Error {
                status: 400,
                code: "invalid_request_error",
                message: "Your credit balance is too low",
                retry_after: None,
            },
            ErrorClass::Fatal,
            None,
        ),
        (
            Reply::Error {
                status: 400,
                code: "invalid_request_error",
                message: "max_tokens: must be positive",
                retry_after: None,
            },
            ErrorClass::InvalidRequest,
            None,
        ),
        (
            Reply::Error {
                status: 404,
                code: "not_found_error",
                message: "model not found",
                retry_after: None,
            },
            ErrorClass::InvalidRequest,
            None,
        ),
        (
            Reply::Error {
                status: 500,
                code: "api_error",
                message: "internal",
                retry_after: None,
            },
            ErrorClass::Transient,
            None,
        ),
        (
            Reply::Error {
                status: 503,
                code: "UNAVAILABLE",
                message: "try later",
                retry_after: None,
            },
            ErrorClass::Transient,
            None,
        ),
        (
            Reply::Error {
                status: 529,
                code: "overloaded_error",
                message: "Overloaded",
                retry_after: None,
            },
            ErrorClass::Transient,
            None,
        ),
        (
            Reply::Raw {
                status: 200,
                body: "{not json",
            },
            ErrorClass::Transient,
            None,
        ),
        (
            Reply::Raw {
                status: 200,
                body: r#"{"choices": [{"message": {"content": "cut"#,
            },
            ErrorClass::Transient,
            None,
        ),
    ];
    for kind in KINDS {
        for (reply, class, wait) in &cases {
            let fake = FakeOpenAi::start().await;
            fake.script([reply.clone()]);
            let err = provider(kind, &fake).chat(&request()).await.unwrap_err();
            assert_eq!(err.class, *class, "{kind:?} {reply:?}: {err}");
            assert_eq!(
                err.retry_after.map(|d| d.as_secs()),
                *wait,
                "{kind:?} {reply:?}"
            );
            assert!(
                !err.to_string().contains(KEY),
                "{kind:?}: the key leaked: {err}"
            );
            if err.status == Some(401) {
                let var = match kind {
                    Kind::OpenAi => "OPENAI_API_KEY",
                    Kind::Anthropic => "ANTHROPIC_API_KEY",
                    Kind::Gemini => "GEMINI_API_KEY",
                };
                assert!(err.message.contains(var), "{kind:?}: {err}");
            }
        }
    }
}

#[tokio::test]
async fn errors_inside_a_200_are_errors() {
    let fake = FakeOpenAi::start().await;
    fake.script([Reply::Raw { status: 200, body: r#"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"# }]);
    let err = provider(Kind::Anthropic, &fake)
        .chat(&request())
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Transient, "{err}");

    let fake = FakeOpenAi::start().await;
    fake.script([Reply::Raw {
        status: 200,
        body: r#"{"error": {"message": "spend limit reached", "type": "billing"}}"#,
    }]);
    let err = provider(Kind::OpenAi, &fake)
        .chat(&request())
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Fatal, "{err}");
}

#[tokio::test]
async fn gemini_specifics_retry_delay_in_the_body_and_blocked_prompts() {
    let fake = FakeOpenAi::start().await;
    fake.script([
        Reply::Raw {
            status: 429,
            body: r#"{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "You exceeded your current quota, please check your plan and billing details.",
                      "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}]}}"#,
        },
        Reply::Raw { status: 200, body: r#"{"promptFeedback": {"blockReason": "SAFETY"}}"# },
        Reply::Raw { status: 200, body: r#"{"candidates": [{"finishReason": "SAFETY"}]}"# },
    ]);
    let p = provider(Kind::Gemini, &fake);
    let limited = p.chat(&request()).await.unwrap_err();
    assert_eq!(
        (limited.class, limited.retry_after),
        (ErrorClass::RateLimited, Some(Duration::from_secs(17))),
        "a per-minute limit, not billing: {limited}"
    );
    let blocked = p.chat(&request()).await.unwrap_err();
    assert_eq!(blocked.class, ErrorClass::InvalidRequest, "{blocked}");
    assert!(blocked.message.contains("SAFETY"));
    let empty = p.chat(&request()).await.unwrap_err();
    assert_eq!(empty.class, ErrorClass::InvalidRequest, "{empty}");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_transient() {
    for kind in KINDS {
        let err = provider_at(kind, "http://127.0.0.1:9/v1", "http://127.0.0.1:9")
            .chat(&request())
            .await
            .unwrap_err();
        assert_eq!(err.class, ErrorClass::Transient, "{kind:?}");
        assert!(err.message.contains("cannot connect"), "{err}");
    }
}

/// The service in-process with Claude and Gemini pointed at fakes.
async fn start_with(
    claude: &FakeOpenAi,
    gemini: &FakeOpenAi,
    dir: &std::path::Path,
) -> (blogflow::app::Running, String) {
    use blogflow::config::{Config, Env, RawConfig};
    // Claude is preferred by weight, so the order of these tests is known: Claude first,
    // Gemini the fallback (the balancer still shows the preference is a weight, not a rule).
    let raw: RawConfig = toml::from_str(&support::test_toml(
        "[providers.anthropic]\nweight = 1000.0\n",
    ))
    .unwrap();
    let env = Env::from_pairs([
        ("BLOGFLOW_LISTEN", "127.0.0.1:0".to_owned()),
        ("BLOGFLOW_DATA_DIR", dir.join("data").display().to_string()),
        (
            "BLOGFLOW_CONTENT_DIR",
            dir.join("content").display().to_string(),
        ),
        ("BLOGFLOW_API_TOKEN", support::TOKEN.to_owned()),
        ("ANTHROPIC_API_KEY", KEY.to_owned()),
        ("ANTHROPIC_BASE_URL", claude.root.clone()),
        ("GEMINI_API_KEY", KEY.to_owned()),
        ("GEMINI_BASE_URL", gemini.root.clone()),
    ]);
    let (config, warnings) = Config::validate(raw, &env).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(
        config.local.is_none(),
        "the local model stays off when API providers are configured"
    );
    let running = blogflow::app::start(config).await.unwrap();
    let base = format!("http://{}", running.addr);
    (running, base)
}

/// Generates `count` posts in one job and waits for it to complete.
async fn generate(http: &reqwest::Client, base: &str, count: u32) {
    let id = support::request_generation(http, base, count).await;
    let job = support::poll_json(
        http,
        &support::job_url(base, &id),
        "the job to finish",
        |j| j["state"] == "completed" || j["state"] == "failed",
    )
    .await;
    assert_eq!(job["state"], "completed", "{job:#}");
}

async fn breaker_of(http: &reqwest::Client, base: &str, provider: &str) -> serde_json::Value {
    let all = support::get_json(http, &format!("{base}/api/providers")).await;
    all["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == provider)
        .unwrap()["breaker"]
        .clone()
}

#[tokio::test]
async fn a_provider_failing_every_request_is_skipped_once_its_breaker_opens() {
    let claude = FakeOpenAi::start().await;
    claude.set_default(Reply::Error {
        status: 500,
        code: "api_error",
        message: "internal",
        retry_after: None,
    });
    let gemini = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (running, base) = start_with(&claude, &gemini, dir.path()).await;
    let http = support::http();
    for _ in 0..3 {
        generate(&http, &base, 3).await;
    }
    assert_eq!(
        gemini.requests(),
        9,
        "every post was written, by the fallback"
    );
    assert!(
        claude.requests() <= 6,
        "the failing provider was tried {} times for 9 posts",
        claude.requests()
    );
    assert_eq!(
        breaker_of(&http, &base, "anthropic@127.0.0.1").await["state"],
        "open"
    );
    assert_eq!(
        breaker_of(&http, &base, "gemini@127.0.0.1").await["state"],
        "closed"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn a_bad_key_ejects_the_provider_after_the_first_401() {
    let claude = FakeOpenAi::start().await;
    claude.set_default(Reply::Error {
        status: 401,
        code: "authentication_error",
        message: "invalid x-api-key",
        retry_after: None,
    });
    let gemini = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (running, base) = start_with(&claude, &gemini, dir.path()).await;
    let http = support::http();
    generate(&http, &base, 3).await;
    // The first job's three posts run in parallel: up to three requests are in flight before
    // the first 401 comes back. After it, the provider is never tried again.
    let in_flight = claude.requests();
    assert!((1..=3).contains(&in_flight), "{in_flight}");
    generate(&http, &base, 2).await;
    assert_eq!(
        claude.requests(),
        in_flight,
        "ejected: no request after the 401"
    );
    let breaker = breaker_of(&http, &base, "anthropic@127.0.0.1").await;
    assert_eq!(breaker["state"], "ejected");
    assert!(
        breaker["reason"]
            .as_str()
            .unwrap()
            .contains("ANTHROPIC_API_KEY"),
        "{breaker}"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn the_service_falls_over_from_a_failing_claude_to_gemini() {
    let claude = FakeOpenAi::start().await;
    claude.set_default(Reply::Error {
        status: 500,
        code: "api_error",
        message: "internal",
        retry_after: None,
    });
    let gemini = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (running, base) = start_with(&claude, &gemini, dir.path()).await;
    let http = support::http();
    generate(&http, &base, 1).await;
    let posts = support::get_json(&http, &format!("{base}/api/posts")).await;
    // Generation is done; publishing (and drawing the card) follows on its own queue.
    let post = support::poll_json(
        &http,
        &format!(
            "{base}/api/posts/{}",
            posts["posts"][0]["id"].as_str().unwrap()
        ),
        "the post published",
        |p| p["post"]["status"] == "published",
    )
    .await;
    assert_eq!(post["post"]["provider"], "gemini@127.0.0.1");
    assert_eq!(post["post"]["status"], "published");
    assert_eq!(
        claude.requests(),
        1,
        "a 500 falls over at once instead of retrying the same provider"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn two_openai_compatible_servers_share_the_posts_under_their_own_names() {
    use blogflow::config::{Config, Env, RawConfig};
    let (a, b) = (FakeOpenAi::start().await, FakeOpenAi::start().await);
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "[[providers.compatible]]\nname = \"vllm-a\"\nbase_url = \"{}\"\nmodel = \"m\"\n\
         [[providers.compatible]]\nname = \"vllm-b\"\nbase_url = \"{}\"\nmodel = \"m\"\n",
        a.base_url, b.base_url
    );
    let raw: RawConfig = toml::from_str(&support::test_toml(&extra)).unwrap();
    let env = Env::from_pairs([
        ("BLOGFLOW_LISTEN", "127.0.0.1:0".to_owned()),
        (
            "BLOGFLOW_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        (
            "BLOGFLOW_CONTENT_DIR",
            dir.path().join("content").display().to_string(),
        ),
        ("BLOGFLOW_API_TOKEN", support::TOKEN.to_owned()),
    ]);
    let (config, warnings) = Config::validate(raw, &env).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let running = blogflow::app::start(config).await.unwrap();
    let base = format!("http://{}", running.addr);
    let http = support::http();
    for _ in 0..4 {
        generate(&http, &base, 5).await;
    }
    assert_eq!(a.requests() + b.requests(), 20);
    assert!(
        a.requests() >= 2 && b.requests() >= 2,
        "both get traffic: {} / {}",
        a.requests(),
        b.requests()
    );
    for name in ["vllm-a", "vllm-b"] {
        assert_eq!(breaker_of(&http, &base, name).await["state"], "closed");
    }
    running.shutdown().await;
}

/// A small model behind an OpenAI-compatible server (llama.cpp, Ollama) cannot write the JSON
/// post; `format = "steps"` asks it in short plain-text parts, and a post comes out.
#[tokio::test]
async fn an_openai_compatible_provider_with_format_steps_is_asked_in_parts() {
    support::watchdog();
    let fake = FakeOpenAi::start().await;
    fake.set_default(Reply::Text(
        "Small models write short answers. They stay on topic when asked one thing at a time, \
         and each part is checked before the next is asked for."
            .into(),
    ));
    let svc = support::InProcess::start(
        &fake,
        &support::test_toml("[providers.openai]\nformat = \"steps\"\n"),
        &[("BLOGFLOW_LOCAL_MODEL", "off")],
    )
    .await;
    let job = svc.generate(1).await;
    svc.job_ended(&job, "completed").await;
    let posts = svc.get("/api/posts").await;
    assert_eq!(posts["posts"].as_array().unwrap().len(), 1, "{posts}");
    // Outline, introduction, three sections, conclusion, title: plain-text requests, none of
    // them asking for the JSON object.
    let bodies = fake.bodies();
    assert!(bodies.len() >= 7, "{} requests", bodies.len());
    for b in &bodies {
        let text = b.to_string();
        assert!(
            !text.contains("seo_keywords"),
            "a JSON post was asked for: {text}"
        );
        assert!(b.get("response_format").is_none(), "{b}");
    }
    svc.stop().await;
}
