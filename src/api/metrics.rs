//! `GET /metrics`: Prometheus text exposition (version 0.0.4) of the providers and queues.
//!
//! Rendered from the state the service keeps anyway (each provider's call totals, breaker and
//! moving averages; the queue counts), so scraping costs a few microseconds and no extra
//! bookkeeping on the hot path.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use prometheus::proto::{self, MetricFamily, MetricType};

use super::AppState;
use crate::llm::breaker::{LATENCY_BUCKETS, OUTCOMES};
use crate::ops::alert::Severity;
use crate::ops::stats::HistogramSnapshot;
use crate::queue::{Queue, names};

/// The families of one scrape, in the order they are exposed; encoded by the `prometheus`
/// crate, which writes each family whole under its `HELP` and `TYPE` and escapes labels.
#[derive(Default)]
struct Exposition {
    families: Vec<MetricFamily>,
}

fn labels(pairs: &[(&str, &str)]) -> Vec<proto::LabelPair> {
    pairs
        .iter()
        .map(|(k, v)| {
            let mut l = proto::LabelPair::default();
            l.set_name((*k).to_owned());
            l.set_value((*v).to_owned());
            l
        })
        .collect()
}

impl Exposition {
    /// Starts a family; its samples follow.
    fn family(&mut self, name: &str, help: &str, kind: MetricType) -> &mut Self {
        let mut f = MetricFamily::default();
        f.set_name(name.to_owned());
        f.set_help(help.to_owned());
        f.set_field_type(kind);
        self.families.push(f);
        self
    }

    fn push(&mut self, metric: proto::Metric) -> &mut Self {
        self.families
            .last_mut()
            .expect("a family is started first")
            .mut_metric()
            .push(metric);
        self
    }

    fn counter(&mut self, pairs: &[(&str, &str)], value: f64) -> &mut Self {
        let mut c = proto::Counter::default();
        c.set_value(value);
        let mut m = proto::Metric::from_label(labels(pairs));
        m.set_counter(c);
        self.push(m)
    }

    fn gauge(&mut self, pairs: &[(&str, &str)], value: f64) -> &mut Self {
        let mut g = proto::Gauge::default();
        g.set_value(value);
        let mut m = proto::Metric::from_label(labels(pairs));
        m.set_gauge(g);
        self.push(m)
    }

    /// A histogram from per-bucket (not cumulative) counts.
    fn histogram(
        &mut self,
        pairs: &[(&str, &str)],
        bounds: impl IntoIterator<Item = (f64, u64)>,
        sum: f64,
        count: u64,
    ) -> &mut Self {
        let mut cumulative = 0;
        let buckets = bounds
            .into_iter()
            .map(|(le, n)| {
                cumulative += n;
                let mut b = proto::Bucket::default();
                b.set_upper_bound(le);
                b.set_cumulative_count(cumulative);
                b
            })
            .collect();
        let mut h = proto::Histogram::default();
        h.set_bucket(buckets);
        h.set_sample_sum(sum);
        h.set_sample_count(count);
        let mut m = proto::Metric::from_label(labels(pairs));
        m.set_histogram(h);
        self.push(m)
    }

    fn text(self) -> String {
        let families: Vec<MetricFamily> = self
            .families
            .into_iter()
            .filter(|f| !f.get_metric().is_empty())
            .collect();
        let mut out = String::with_capacity(8 * 1024);
        if let Err(e) = prometheus::TextEncoder::new().encode_utf8(&families, &mut out) {
            tracing::error!(error = %e, "the metrics could not be encoded");
        }
        out
    }
}

/// Renders every metric.
pub async fn render(s: &AppState) -> String {
    use MetricType::{COUNTER, GAUGE, HISTOGRAM};
    let mut x = Exposition::default();
    let now = tokio::time::Instant::now();
    let providers = s.orchestrator.router().generator.providers();

    x.family(
        "blogflow_llm_requests_total",
        "Provider calls by outcome.",
        COUNTER,
    );
    for p in providers {
        let t = p.totals();
        for (outcome, n) in OUTCOMES.iter().zip(t.outcomes) {
            x.counter(&[("provider", p.name()), ("outcome", outcome)], n as f64);
        }
    }
    x.family(
        "blogflow_llm_request_duration_seconds",
        "Provider call latency.",
        HISTOGRAM,
    );
    for p in providers {
        let t = p.totals();
        let count: u64 = t.outcomes.iter().sum();
        x.histogram(
            &[("provider", p.name())],
            LATENCY_BUCKETS.iter().copied().zip(t.buckets),
            t.latency_sum,
            count,
        );
    }
    x.family("blogflow_llm_tokens_total", "Tokens used.", COUNTER);
    for p in providers {
        let t = p.totals();
        x.counter(
            &[("provider", p.name()), ("direction", "input")],
            t.input_tokens as f64,
        )
        .counter(
            &[("provider", p.name()), ("direction", "output")],
            t.output_tokens as f64,
        );
    }
    x.family(
        "blogflow_llm_cost_usd_total",
        "Spend by provider, USD.",
        COUNTER,
    );
    for p in providers {
        x.counter(&[("provider", p.name())], p.totals().cost_usd);
    }
    let observed: Vec<_> = providers.iter().map(|p| (p.name(), p.observed())).collect();
    x.family(
        "blogflow_llm_in_flight",
        "Provider calls running now.",
        GAUGE,
    );
    for (name, o) in &observed {
        x.gauge(&[("provider", name)], o.in_flight as f64);
    }
    x.family(
        "blogflow_llm_latency_ewma_seconds",
        "Moving average of successful call latency.",
        GAUGE,
    );
    for (name, o) in &observed {
        x.gauge(&[("provider", name)], o.latency_ms / 1e3);
    }
    x.family(
        "blogflow_llm_success_ewma",
        "Moving average of success (0-1).",
        GAUGE,
    );
    for (name, o) in &observed {
        x.gauge(&[("provider", name)], o.success);
    }
    x.family(
        "blogflow_llm_breaker_state",
        "1 for the breaker's current state.",
        GAUGE,
    );
    for p in providers {
        let state = p.breaker().snapshot(now).state;
        for st in ["closed", "open", "half_open", "rate_limited", "ejected"] {
            x.gauge(
                &[("provider", p.name()), ("state", st)],
                f64::from(u8::from(st == state)),
            );
        }
    }
    // Queues: counted first, then written one family after the other.
    let mut up = 1.0;
    let mut queues = Vec::new();
    for q in names::ALL {
        match (s.queue.counts(q).await, s.queue.is_paused(q).await) {
            (Ok(c), Ok(paused)) => queues.push((q, c, paused)),
            _ => up = 0.0,
        }
    }
    x.family("blogflow_queue_jobs", "Jobs per queue and state.", GAUGE);
    for (q, c, _) in &queues {
        for (state, n) in [
            ("waiting", c.waiting),
            ("delayed", c.delayed),
            ("active", c.active),
            ("completed", c.completed),
            ("failed", c.failed),
        ] {
            x.gauge(&[("queue", q), ("state", state)], n as f64);
        }
    }
    x.family(
        "blogflow_queue_paused",
        "1 when the queue is paused.",
        GAUGE,
    );
    for (q, _, paused) in &queues {
        x.gauge(&[("queue", q)], f64::from(u8::from(*paused)));
    }
    x.family(
        "blogflow_queue_up",
        "1 when the queue backend answers.",
        GAUGE,
    )
    .gauge(&[("backend", s.queue.kind())], up);
    ops_metrics(&mut x, s);
    x.family("blogflow_uptime_seconds", "Seconds since start.", GAUGE)
        .gauge(&[], s.orchestrator.uptime_secs() as f64);
    x.text()
}

fn histogram(x: &mut Exposition, name: &str, help: &str, h: &HistogramSnapshot) {
    x.family(name, help, MetricType::HISTOGRAM).histogram(
        &[],
        h.bounds.iter().copied().zip(h.counts.iter().copied()),
        h.sum_secs,
        h.count(),
    );
}

/// The service's own figures: API and generation latency, jobs, the latest sample, alerts,
/// recovery actions and component checks.
fn ops_metrics(x: &mut Exposition, s: &AppState) {
    use MetricType::{COUNTER, GAUGE};
    let stats = s.ops.stats().snapshot();
    histogram(
        x,
        "blogflow_api_request_duration_seconds",
        "API answer latency (all routes but /metrics).",
        &stats.api,
    );
    x.family(
        "blogflow_api_errors_total",
        "API answers with a 5xx status.",
        COUNTER,
    )
    .counter(&[], stats.api_errors as f64);
    histogram(
        x,
        "blogflow_post_generation_duration_seconds",
        "Time to write one post.",
        &stats.generation,
    );
    x.family(
        "blogflow_job_attempts_total",
        "Job attempts by outcome.",
        COUNTER,
    )
    .counter(&[("outcome", "ok")], stats.jobs_ok as f64)
    .counter(&[("outcome", "failed")], stats.jobs_failed as f64);
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
            x.family(name, help, GAUGE).gauge(&[], v);
        }
    }
    let (sent, suppressed, failed) = s.ops.alert_counts();
    x.family(
        "blogflow_alerts_sent_total",
        "Alert messages handed to the channels.",
        COUNTER,
    )
    .counter(&[], sent as f64);
    x.family(
        "blogflow_alerts_suppressed_total",
        "Alert messages held back by the hourly limit.",
        COUNTER,
    )
    .counter(&[], suppressed as f64);
    x.family(
        "blogflow_alert_deliveries_failed_total",
        "Alert deliveries given up on.",
        COUNTER,
    )
    .counter(&[], failed as f64);
    x.family(
        "blogflow_alerts_active",
        "Active alerts by severity.",
        GAUGE,
    );
    let active = s.ops.active_alerts();
    for severity in [Severity::Info, Severity::Warning, Severity::Critical] {
        let n = active.iter().filter(|(_, sv)| *sv == severity).count();
        x.gauge(&[("severity", &severity.label().to_lowercase())], n as f64);
    }
    x.family(
        "blogflow_recovery_actions_total",
        "Self-healing actions taken.",
        COUNTER,
    );
    // Every (check, action) pair from 0, so that rates work from the first action on.
    let counts = s.ops.action_counts();
    for check in crate::ops::heal::Check::ALL {
        for action in check.ladder().actions() {
            let n = counts.get(&(check, action)).copied().unwrap_or(0);
            x.counter(
                &[("check", check.name()), ("action", action.name())],
                n as f64,
            );
        }
    }
    x.family(
        "blogflow_component_up",
        "1 when the component's last check passed.",
        GAUGE,
    );
    for (check, c) in s.ops.components() {
        x.gauge(
            &[("component", check.name())],
            f64::from(u8::from(c.status == "ok")),
        );
    }
    x.family(
        "blogflow_monitor_cycles_total",
        "Monitoring cycles completed.",
        COUNTER,
    )
    .counter(&[], s.ops.cycles() as f64);
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
