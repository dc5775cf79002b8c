//! `GET /metrics`: Prometheus text exposition (version 0.0.4) of the providers and queues.
//!
//! Rendered from the state the service keeps anyway (each provider's call totals, breaker and
//! moving averages; the queue counts), so scraping costs a few microseconds and no extra
//! bookkeeping on the hot path.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;
use crate::llm::breaker::{LATENCY_BUCKETS, OUTCOMES};
use crate::queue::{Queue, names};

/// Escapes a label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Renders every metric.
pub async fn render(s: &AppState) -> String {
    let mut out = String::with_capacity(4096);
    let now = tokio::time::Instant::now();
    let providers = s.orchestrator.router().generator.providers();

    header(
        &mut out,
        "blogflow_llm_requests_total",
        "counter",
        "Provider calls by outcome.",
    );
    for p in providers {
        let t = p.totals();
        for (outcome, n) in OUTCOMES.iter().zip(t.outcomes) {
            let _ = writeln!(
                out,
                "blogflow_llm_requests_total{{provider=\"{}\",outcome=\"{outcome}\"}} {n}",
                label(p.name())
            );
        }
    }
    header(
        &mut out,
        "blogflow_llm_request_duration_seconds",
        "histogram",
        "Provider call latency.",
    );
    for p in providers {
        let t = p.totals();
        let name = label(p.name());
        let mut cumulative = 0;
        for (le, n) in LATENCY_BUCKETS.iter().zip(t.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "blogflow_llm_request_duration_seconds_bucket{{provider=\"{name}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let count: u64 = t.outcomes.iter().sum();
        let _ = writeln!(
            out,
            "blogflow_llm_request_duration_seconds_bucket{{provider=\"{name}\",le=\"+Inf\"}} {count}\n\
             blogflow_llm_request_duration_seconds_sum{{provider=\"{name}\"}} {}\n\
             blogflow_llm_request_duration_seconds_count{{provider=\"{name}\"}} {count}",
            t.latency_sum
        );
    }
    header(
        &mut out,
        "blogflow_llm_tokens_total",
        "counter",
        "Tokens used.",
    );
    for p in providers {
        let t = p.totals();
        let name = label(p.name());
        let _ = writeln!(
            out,
            "blogflow_llm_tokens_total{{provider=\"{name}\",direction=\"input\"}} {}\n\
             blogflow_llm_tokens_total{{provider=\"{name}\",direction=\"output\"}} {}",
            t.input_tokens, t.output_tokens
        );
    }
    header(
        &mut out,
        "blogflow_llm_cost_usd_total",
        "counter",
        "Spend by provider, USD.",
    );
    for p in providers {
        let _ = writeln!(
            out,
            "blogflow_llm_cost_usd_total{{provider=\"{}\"}} {}",
            label(p.name()),
            p.totals().cost_usd
        );
    }
    header(
        &mut out,
        "blogflow_llm_in_flight",
        "gauge",
        "Provider calls running now.",
    );
    header(
        &mut out,
        "blogflow_llm_latency_ewma_seconds",
        "gauge",
        "Moving average of successful call latency.",
    );
    header(
        &mut out,
        "blogflow_llm_success_ewma",
        "gauge",
        "Moving average of success (0-1).",
    );
    for p in providers {
        let o = p.observed();
        let name = label(p.name());
        let _ = writeln!(
            out,
            "blogflow_llm_in_flight{{provider=\"{name}\"}} {}\n\
             blogflow_llm_latency_ewma_seconds{{provider=\"{name}\"}} {}\n\
             blogflow_llm_success_ewma{{provider=\"{name}\"}} {}",
            o.in_flight,
            o.latency_ms / 1e3,
            o.success
        );
    }
    header(
        &mut out,
        "blogflow_llm_breaker_state",
        "gauge",
        "1 for the breaker's current state.",
    );
    for p in providers {
        let state = p.breaker().snapshot(now).state;
        for st in ["closed", "open", "half_open", "rate_limited", "ejected"] {
            let _ = writeln!(
                out,
                "blogflow_llm_breaker_state{{provider=\"{}\",state=\"{st}\"}} {}",
                label(p.name()),
                u8::from(st == state)
            );
        }
    }
    header(
        &mut out,
        "blogflow_queue_jobs",
        "gauge",
        "Jobs per queue and state.",
    );
    header(
        &mut out,
        "blogflow_queue_paused",
        "gauge",
        "1 when the queue is paused.",
    );
    header(
        &mut out,
        "blogflow_queue_up",
        "gauge",
        "1 when the queue backend answers.",
    );
    let mut up = 1;
    for q in names::ALL {
        match (s.queue.counts(q).await, s.queue.is_paused(q).await) {
            (Ok(c), Ok(paused)) => {
                for (state, n) in [
                    ("waiting", c.waiting),
                    ("delayed", c.delayed),
                    ("active", c.active),
                    ("completed", c.completed),
                    ("failed", c.failed),
                ] {
                    let _ = writeln!(
                        out,
                        "blogflow_queue_jobs{{queue=\"{q}\",state=\"{state}\"}} {n}"
                    );
                }
                let _ = writeln!(
                    out,
                    "blogflow_queue_paused{{queue=\"{q}\"}} {}",
                    u8::from(paused)
                );
            }
            _ => up = 0,
        }
    }
    let _ = writeln!(
        out,
        "blogflow_queue_up{{backend=\"{}\"}} {up}",
        s.queue.kind()
    );
    header(
        &mut out,
        "blogflow_uptime_seconds",
        "gauge",
        "Seconds since start.",
    );
    let _ = writeln!(
        out,
        "blogflow_uptime_seconds {}",
        s.orchestrator.uptime_secs()
    );
    out
}

/// The route.
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&s).await,
    )
}
