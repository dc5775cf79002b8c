//! `blogflow bench balancer`: what the balancer adds to a provider call, measured against the
//! LiteLLM reference's mock upstream (`../shared/bench/litellm/mock`) with its workload: 100
//! warm-up requests, then N closed-loop requests at concurrency C, `max_tokens` 16.
//!
//! Two clients in the same process, one after the other: **direct**, one plain `reqwest` POST
//! to `/v1/chat/completions` with the JSON parsed (the reference's `aiohttp` row), and
//! **balanced**, [`crate::llm::balancer::chat`] over three OpenAI-compatible providers at
//! `/tag-d1/v1` … `/tag-d3/v1` (the reference Router's three deployments), breakers, budgets
//! and EWMA bookkeeping included. The difference is the balancer's cost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{cpu_secs, pct, peak_rss_mib};
use crate::config::{OpenAiConfig, Secret};
use crate::llm::balancer::{self, RetryPolicy};
use crate::llm::breaker::{BreakerConfig, Guarded};
use crate::llm::{ChatRequest, OpenAiProvider, Provider};

/// Runs `n` calls of `call` at concurrency `c`; returns the summary of the reference script.
async fn load<F, Fut>(call: Arc<F>, n: usize, c: usize) -> Value
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let cpu0 = cpu_secs();
    let started = Instant::now();
    let mut lanes = tokio::task::JoinSet::new();
    for _ in 0..c {
        let (call, next) = (call.clone(), next.clone());
        lanes.spawn(async move {
            let mut lat = Vec::new();
            let mut failed = 0;
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                let t = Instant::now();
                if !call().await {
                    failed += 1;
                }
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            (lat, failed)
        });
    }
    let mut lat = Vec::with_capacity(n);
    let mut failed = 0;
    while let Some(r) = lanes.join_next().await {
        let (l, f) = r.expect("lane");
        lat.extend(l);
        failed += f;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu0;
    lat.sort_by(f64::total_cmp);
    json!({
        "requests": n, "concurrency": c, "failed": failed, "rps": n as f64 / wall,
        "p50_ms": pct(&lat, 50.0), "p95_ms": pct(&lat, 95.0), "p99_ms": pct(&lat, 99.0),
        "cpu_ms_per_req": cpu * 1e3 / n as f64, "peak_rss_mib": peak_rss_mib(),
    })
}

/// One run of each client at concurrency `c`, printed as one JSON line.
pub async fn run(upstream: &str, n: usize, c: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let url = format!("{upstream}/v1/chat/completions");
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 16});
    let direct = Arc::new(move || {
        let (http, url, body) = (http.clone(), url.clone(), body.clone());
        async move {
            match http
                .post(&url)
                .bearer_auth("dummy")
                .json(&body)
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => r.json::<Value>().await.is_ok(),
                _ => false,
            }
        }
    });
    let members: Arc<Vec<Guarded>> = Arc::new(
        (1..=3)
            .map(|d| {
                let p = OpenAiProvider::new(OpenAiConfig {
                    base_url: crate::config::EndpointUrl::new(format!("{upstream}/tag-d{d}/v1")),
                    api_key: Some(Secret::new("dummy")),
                    model: "gpt-4o-mini".into(),
                    timeout: Duration::from_secs(30),
                    temperature: 0.7,
                    max_tokens: 16,
                    json_mode: false,
                    format: Default::default(),
                    input_price_per_mtok: 0.15,
                    output_price_per_mtok: 0.6,
                })
                .map_err(anyhow::Error::msg)?;
                Ok(Guarded::new(Provider::OpenAi(p), BreakerConfig::default()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
    );
    let request = Arc::new(ChatRequest {
        system: String::new(),
        user: "Say hello.".into(),
        max_tokens: Some(16),
    });
    let policy = RetryPolicy::default();
    let balanced = Arc::new(move || {
        let (members, request) = (members.clone(), request.clone());
        async move { balancer::chat(&members, &request, &policy).await.is_ok() }
    });
    load(direct.clone(), 100, c.min(100)).await;
    let direct_run = load(direct, n, c).await;
    load(balanced.clone(), 100, c.min(100)).await;
    let balanced_run = load(balanced, n, c).await;
    let added =
        |k: &str| balanced_run[k].as_f64().unwrap_or(0.0) - direct_run[k].as_f64().unwrap_or(0.0);
    println!(
        "{}",
        json!({
            "concurrency": c, "requests": n, "direct": direct_run, "balanced": balanced_run,
            "added_p50_ms": added("p50_ms"), "added_p99_ms": added("p99_ms"),
            "added_cpu_ms_per_req": added("cpu_ms_per_req"),
        })
    );
    Ok(())
}
