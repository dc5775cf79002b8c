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
use crate::ops::alert::Severity;
use crate::ops::stats::HistogramSnapshot;
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
    ops_metrics(&mut out, s);
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

fn histogram(out: &mut String, name: &str, help: &str, h: &HistogramSnapshot) {
    header(out, name, "histogram", help);
    let mut cumulative = 0;
    for (le, n) in h.bounds.iter().zip(&h.counts) {
        cumulative += n;
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
    }
    let count = h.count();
    let _ = writeln!(
        out,
        "{name}_bucket{{le=\"+Inf\"}} {count}\n{name}_sum {}\n{name}_count {count}",
        h.sum_secs
    );
}

/// The service's own figures: API and generation latency, jobs, the latest sample, alerts,
/// recovery actions and component checks.
fn ops_metrics(out: &mut String, s: &AppState) {
    let stats = s.ops.stats().snapshot();
    histogram(
        out,
        "blogflow_api_request_duration_seconds",
        "API answer latency (all routes but /metrics).",
        &stats.api,
    );
    header(
        out,
        "blogflow_api_errors_total",
        "counter",
        "API answers with a 5xx status.",
    );
    let _ = writeln!(out, "blogflow_api_errors_total {}", stats.api_errors);
    histogram(
        out,
        "blogflow_post_generation_duration_seconds",
        "Time to write one post.",
        &stats.generation,
    );
    header(
        out,
        "blogflow_job_attempts_total",
        "counter",
        "Job attempts by outcome.",
    );
    let _ = writeln!(
        out,
        "blogflow_job_attempts_total{{outcome=\"ok\"}} {}\nblogflow_job_attempts_total{{outcome=\"failed\"}} {}",
        stats.jobs_ok, stats.jobs_failed
    );
    if let Some(sample) = s.ops.latest() {
        let gauges: [(&str, &str, f64); 6] = [
            (
                "blogflow_process_cpu_percent",
                "This process's CPU, % of one core.",
                sample.cpu_process_pct,
            ),
            (
                "blogflow_process_resident_memory_bytes",
                "This process's resident memory.",
                sample.memory_process_mib * 1024.0 * 1024.0,
            ),
            (
                "blogflow_system_cpu_percent",
                "The machine's CPU, % of all cores.",
                sample.cpu_system_pct,
            ),
            (
                "blogflow_system_memory_used_percent",
                "Memory in use on the machine (or cgroup), %.",
                sample.memory_system_pct,
            ),
            (
                "blogflow_disk_used_percent",
                "Space used on the data directory's file system, %.",
                sample.disk_used_pct,
            ),
            (
                "blogflow_error_rate_percent",
                "Failed operations over the error window, %.",
                sample.error_rate_pct.unwrap_or(0.0),
            ),
        ];
        for (name, help, v) in gauges {
            header(out, name, "gauge", help);
            let _ = writeln!(out, "{name} {v}");
        }
    }
    let (sent, suppressed, failed) = s.ops.alert_counts();
    header(
        out,
        "blogflow_alerts_sent_total",
        "counter",
        "Alert messages handed to the channels.",
    );
    let _ = writeln!(out, "blogflow_alerts_sent_total {sent}");
    header(
        out,
        "blogflow_alerts_suppressed_total",
        "counter",
        "Alert messages held back by the hourly limit.",
    );
    let _ = writeln!(out, "blogflow_alerts_suppressed_total {suppressed}");
    header(
        out,
        "blogflow_alert_deliveries_failed_total",
        "counter",
        "Alert deliveries given up on.",
    );
    let _ = writeln!(out, "blogflow_alert_deliveries_failed_total {failed}");
    header(
        out,
        "blogflow_alerts_active",
        "gauge",
        "Active alerts by severity.",
    );
    let active = s.ops.active_alerts();
    for severity in [Severity::Info, Severity::Warning, Severity::Critical] {
        let n = active.iter().filter(|(_, sv)| *sv == severity).count();
        let _ = writeln!(
            out,
            "blogflow_alerts_active{{severity=\"{}\"}} {n}",
            severity.label().to_lowercase()
        );
    }
    header(
        out,
        "blogflow_recovery_actions_total",
        "counter",
        "Self-healing actions taken.",
    );
    // Every (check, action) pair from 0, so that rates work from the first action on.
    let counts = s.ops.action_counts();
    for check in crate::ops::heal::Check::ALL {
        for action in check.ladder().actions() {
            let n = counts.get(&(check, action)).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "blogflow_recovery_actions_total{{check=\"{}\",action=\"{}\"}} {n}",
                check.name(),
                action.name()
            );
        }
    }
    header(
        out,
        "blogflow_component_up",
        "gauge",
        "1 when the component's last check passed.",
    );
    for (check, c) in s.ops.components() {
        let _ = writeln!(
            out,
            "blogflow_component_up{{component=\"{}\"}} {}",
            check.name(),
            u8::from(c.status == "ok")
        );
    }
    header(
        out,
        "blogflow_monitor_cycles_total",
        "counter",
        "Monitoring cycles completed.",
    );
    let _ = writeln!(out, "blogflow_monitor_cycles_total {}", s.ops.cycles());
}

/// Prometheus text exposition of every metric family (see `docs/metrics.md`).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", body = String,
            content_type = "text/plain; version=0.0.4; charset=utf-8"),
        (status = 401, description = "A token is configured and server.metrics_public is off: send it as a bearer token",
            body = super::openapi::ErrorBody),
    ))]
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&s).await,
    )
}
