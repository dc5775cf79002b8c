//! Operations: health, readiness, providers, workers, metrics history and costs.

use super::*;
use crate::store::OpsKind;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Each provider in fallback order: its one status (breaker, latest calls, last health
/// check), its breaker and its figures.
pub(super) fn provider_views(
    s: &AppState,
    snapshot: Option<&crate::jobs::HealthSnapshot>,
) -> Vec<ProviderView> {
    let now = tokio::time::Instant::now();
    s.orchestrator
        .router()
        .generator
        .providers()
        .iter()
        .map(|p| {
            let probe = crate::jobs::probe_of(snapshot, p.name());
            ProviderView {
                name: p.name().to_owned(),
                model: p.model().to_owned(),
                health: p.status(probe),
                breaker: p.breaker().snapshot(now),
                weight: p.weight(),
                observed: p.observed(),
                cost_usd: p.totals().cost_usd,
            }
        })
        .collect()
}

/// The processes of this deployment (`run`, `serve`, `worker`) from their heartbeats, with
/// the jobs each runs.
#[utoipa::path(get, path = "/api/workers", tag = "operations",
    responses((status = 200, description = "The processes", body = WorkersView)))]
pub(super) async fn workers(State(s): State<AppState>) -> Result<Json<WorkersView>, ApiError> {
    let secs = crate::store::HEARTBEAT_SECS;
    Ok(Json(WorkersView {
        heartbeat_secs: secs,
        workers: s.store.workers(secs as i64 * 1000).await?,
    }))
}

/// Providers in fallback order with their last check, breaker, latency and spend.
#[utoipa::path(get, path = "/api/providers", tag = "operations",
    responses((status = 200, description = "The providers", body = ProvidersView)))]
pub(super) async fn providers(State(s): State<AppState>) -> Json<ProvidersView> {
    let snapshot = s.orchestrator.router().latest_health().await;
    let providers = provider_views(&s, snapshot.as_ref());
    let message = providers
        .is_empty()
        .then(|| crate::generate::NO_PROVIDER.to_owned());
    Json(ProvidersView { providers, message })
}

impl CheckView {
    fn status(status: &str) -> Self {
        Self {
            name: None,
            status: status.to_owned(),
            message: None,
            backend: None,
            latency_ms: None,
            waiting_posts: None,
            waiting_since: None,
        }
    }

    fn of(result: &Result<(), String>) -> Self {
        match result {
            Ok(()) => Self::status("ok"),
            Err(e) => Self {
                message: Some(e.clone()),
                ..Self::status("failing")
            },
        }
    }
}

/// Every dependency, the monitor's components, alerts and recovery actions. 503 when the
/// store is down; a queue, provider or target that fails makes it `degraded`.
#[utoipa::path(get, path = "/api/automation/health", tag = "operations",
    responses(
        (status = 200, description = "Healthy or degraded", body = HealthView),
        (status = 503, description = "Unhealthy: the store is down", body = HealthView),
    ))]
pub(super) async fn health(State(s): State<AppState>) -> Response {
    let store = s.store.ping().await.map_err(|e| e.to_string());
    let queue = s.queue.ping().await.map_err(|e| e.to_string());
    let snapshot = s.orchestrator.router().latest_health().await;
    let providers = provider_views(&s, snapshot.as_ref());
    let mut targets: Vec<CheckView> = snapshot.as_ref().map_or_else(Vec::new, |h| {
        h.targets
            .iter()
            .map(|(name, r)| CheckView {
                name: Some(name.clone()),
                ..CheckView::of(r)
            })
            .collect()
    });
    // What waits for each target, and since when: "12 posts waiting for wordpress since …".
    for t in &mut targets {
        let Some(name) = t.name.clone() else { continue };
        if let Ok((n, since)) = s.store.waiting_for(&name).await
            && n > 0
        {
            let since = since
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            let note = format!(
                "{n} post{} waiting for {name}{}",
                if n == 1 { "" } else { "s" },
                since
                    .as_deref()
                    .map_or(String::new(), |s| format!(" since {s}"))
            );
            t.message = Some(match t.message.take() {
                Some(m) => format!("{m}; {note}"),
                None => note,
            });
            t.waiting_posts = Some(n);
            t.waiting_since = since;
        }
    }
    let components = s.ops.components();
    // The store is this process's own disk: without it nothing works. A queue that is down
    // (Redis restarting) is an outage the service rides out: degraded, with the reason.
    let unhealthy = store.is_err();
    let degraded = queue.is_err()
        || providers.is_empty()
        || providers
            .iter()
            .any(|p| p.health.status != "ok" || p.breaker.state != "closed")
        || targets.iter().any(|t| t.status != "ok")
        || components.values().any(|c| c.status != "ok");
    let status = if unhealthy {
        "unhealthy"
    } else if degraded {
        "degraded"
    } else {
        "healthy"
    };
    if let Err(e) = store.as_ref().and(queue.as_ref()) {
        tracing::error!(error = %e, "health check: a dependency is down");
    }
    let store_view = match &store {
        Ok(()) => CheckView::status("ok"),
        Err(_) => CheckView {
            message: Some("see the error log".into()),
            ..CheckView::status("failing")
        },
    };
    let queue_view = CheckView {
        backend: Some(s.queue.kind().to_owned()),
        ..match &queue {
            Ok(rtt) => CheckView {
                latency_ms: Some(rtt.as_secs_f64() * 1e3),
                ..CheckView::status("ok")
            },
            // Queue errors name the backend's complaint, never its URL or password.
            Err(e) => CheckView {
                message: Some(e.clone()),
                ..CheckView::status("failing")
            },
        }
    };
    let body = HealthView {
        status: status.to_owned(),
        workflow: s.orchestrator.state().await,
        uptime_secs: s.orchestrator.uptime_secs(),
        checks: HealthChecks {
            store: store_view,
            queue: queue_view,
            providers,
            targets,
        },
        checked_at: snapshot.map(|h| h.checked_at),
        components: components
            .into_iter()
            .map(|(c, st)| (c.name().to_owned(), st))
            .collect(),
        recovery_actions: history(&s, OpsKind::Recovery, 20, || s.ops.recoveries()).await,
        alerts: AlertsView {
            active: s.ops.active_alert_details(),
            recent: history(&s, OpsKind::Alert, 20, || s.ops.recent_alerts()).await,
            channels: s
                .ops
                .channels()
                .names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        },
        monitor: MonitorView {
            cycles: s.ops.cycles(),
            interval_secs: s.ops.config().interval.as_secs_f64(),
            performance_monitoring: s.config.performance_monitoring,
            self_healing: s.config.self_healing,
        },
    };
    let code = if unhealthy {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(body)).into_response()
}

/// The newest `limit` entries of the store's operations history (every process's, across
/// restarts); this process's memory when the store cannot say.
async fn history<T: serde::de::DeserializeOwned>(
    s: &AppState,
    kind: OpsKind,
    limit: usize,
    in_memory: impl FnOnce() -> Vec<T>,
) -> Vec<T> {
    match s.store.ops_log(kind, limit).await {
        Ok(bodies) => bodies
            .iter()
            .filter_map(|b| serde_json::from_str(b).ok())
            .collect(),
        Err(_) => in_memory().into_iter().take(limit).collect(),
    }
}

/// Readiness: the store and the queue answer now (each asked with a 2 s limit). Providers
/// are not required: without them the service still accepts and keeps jobs.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = ReadyView),
        (status = 503, description = "The store or the queue does not answer", body = ReadyView),
    ))]
pub(super) async fn readyz(State(s): State<AppState>) -> Response {
    let limit = std::time::Duration::from_secs(2);
    let store = match tokio::time::timeout(limit, s.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 2 s".to_owned()),
    };
    let queue = match tokio::time::timeout(limit, s.queue.ping()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 2 s".to_owned()),
    };
    let ready = store.is_ok() && queue.is_ok();
    let body = ReadyView {
        status: if ready { "ready" } else { "not_ready" }.to_owned(),
        checks: [
            ("store".to_owned(), CheckView::of(&store)),
            ("queue".to_owned(), CheckView::of(&queue)),
        ]
        .into(),
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// Stored samples for charts: the last hour at full resolution, the last day or month as
/// five-minute summaries.
#[utoipa::path(get, path = "/api/metrics/history", tag = "operations", params(HistoryQuery),
    responses(
        (status = 200, description = "Samples, oldest first", body = HistoryView),
        (status = 400, description = "Unknown window", body = ErrorBody),
    ))]
pub(super) async fn metrics_history(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryView>, ApiError> {
    let window = q.window.unwrap_or(Window::Hour);
    let (span_ms, summaries): (i64, bool) = match window {
        Window::Hour => (3_600_000, false),
        Window::Day => (86_400_000, true),
        Window::Month => (31 * 86_400_000, true),
    };
    let samples = s
        .store
        .samples(crate::db::now_ms() - span_ms, summaries)
        .await?;
    let resolution_secs = if summaries {
        (crate::store::ROLLUP_MS / 1000) as f64
    } else {
        s.ops.config().interval.as_secs_f64()
    };
    Ok(Json(HistoryView {
        window,
        resolution_secs,
        samples,
    }))
}

/// Posts and spend per day and month, and the budget's state.
#[utoipa::path(get, path = "/api/costs", tag = "operations",
    responses((status = 200, description = "Spend", body = CostsView)))]
pub(super) async fn costs(State(s): State<AppState>) -> Result<Json<CostsView>, ApiError> {
    let now = crate::db::now_ms();
    let today = now - now.rem_euclid(86_400_000);
    let days = s.store.spend_by_day(today - 30 * 86_400_000).await?;
    let mut months: std::collections::BTreeMap<String, (u64, f64)> = Default::default();
    for (day, n, cost) in &days {
        let m = months.entry(day[..7].to_owned()).or_default();
        m.0 += n;
        m.1 += cost;
    }
    let (posts_today, cost_today) = s.store.spend_since(today).await?;
    let g = &s.config.generation;
    Ok(Json(CostsView {
        today: Today {
            posts: posts_today,
            cost_usd: cost_today,
        },
        daily_budget_usd: g.daily_budget_usd,
        daily_post_cap: g.daily_post_cap,
        stopped: s.orchestrator.router().generator.stats().budget_stop(),
        days: days
            .into_iter()
            .map(|(day, posts, cost_usd)| Spend {
                day: Some(day),
                month: None,
                posts,
                cost_usd,
            })
            .collect(),
        months: months
            .into_iter()
            .map(|(month, (posts, cost_usd))| Spend {
                day: None,
                month: Some(month),
                posts,
                cost_usd,
            })
            .collect(),
        total_cost_usd: s.store.post_totals().await?.cost_usd,
    }))
}
