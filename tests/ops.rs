//! Monitoring, alerts and self-healing through the real service (in-process, port 0) and the
//! alert channels against receivers that check each service's documented request shape.

mod support;

use blogflow::config::Secret;
use blogflow::ops::alert::{Alert, AlertStatus, Severity};
use blogflow::ops::channels::{
    ChannelConfig, Channels, DeliveryError, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature,
};
use serde_json::Value;
use support::{AlertReceiver, FakeOpenAi, InProcess, QUIET_THRESHOLDS, Received};

const HOOK_SECRET: &str = "hook-signing-secret-0123456789";
const API_KEY: &str = "sk-test-secret-key-value";

async fn start(fake: &FakeOpenAi, hook: &str) -> InProcess {
    start_with(fake, hook, QUIET_THRESHOLDS).await
}

async fn start_with(fake: &FakeOpenAi, hook: &str, thresholds: &str) -> InProcess {
    let toml = format!(
        "[[schedules]]\nname = \"health\"\ncron = \"* * * * * *\"\naction = \"health_check\"\n\
         [monitoring]\ninterval_secs = 0.2\n{thresholds}\n\
         [queue]\nlease_secs = 2\nstalled_interval_secs = 1\npoll_interval_ms = 50\nshutdown_grace_secs = 5\n"
    );
    InProcess::start(
        fake,
        &toml,
        &[
            ("BLOGFLOW_ALERT_WEBHOOK_URL", hook),
            ("BLOGFLOW_ALERT_WEBHOOK_SECRET", HOOK_SECRET),
        ],
    )
    .await
}

fn ops(svc: &InProcess) -> &blogflow::ops::Ops {
    &svc.running().ops
}

/// The provider alerts among what the webhook received, as (status, severity).
fn provider_alerts(got: &[Received]) -> Vec<(String, String)> {
    got.iter()
        .flat_map(|r| r.body["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["key"].as_str().unwrap().starts_with("provider:openai"))
        .map(|a| {
            (
                a["status"].as_str().unwrap().to_owned(),
                a["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn assert_signed(r: &Received) {
    let ts: i64 = r.headers[TIMESTAMP_HEADER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        r.headers[SIGNATURE_HEADER].to_str().unwrap(),
        signature(HOOK_SECRET, ts, &r.raw),
        "the signature covers the timestamp and the exact body"
    );
    let text = String::from_utf8_lossy(&r.raw);
    assert!(
        !text.contains(API_KEY) && !text.contains(HOOK_SECRET),
        "{text}"
    );
}

#[tokio::test]
async fn a_provider_down_then_back_sends_one_alert_and_one_resolve_even_through_a_failed_delivery()
{
    let fake = FakeOpenAi::start().await;
    let hook = AlertReceiver::start().await;
    // The first delivery is refused: the alert must arrive through the queued retry.
    hook.fail_next([503]);
    let svc = start(&fake, &format!("{}/hooks/ops", hook.root)).await;
    let ops = ops(&svc).clone();
    // Healthy for a while: nothing is sent.
    ops.wait_cycles(10).await;
    assert!(hook.received().is_empty(), "{:?}", hook.received());

    fake.set_models_down(true);
    let got = hook
        .wait_until("the provider alert (after one refused delivery)", |g| {
            provider_alerts(&g[1.min(g.len())..]).len() == 1
        })
        .await;
    assert_eq!(got.len(), 2, "one refused, one delivered by the retry job");
    assert_eq!(got[0].raw, got[1].raw, "the retry sends the same alert");
    assert_eq!(
        provider_alerts(&got[1..]),
        [("firing".to_owned(), "critical".to_owned())],
        "the only provider is down: critical"
    );
    assert_signed(&got[1]);
    assert_eq!(got[1].body["status"], "firing");
    let health: Value = support::http()
        .get(format!("{}/api/automation/health", svc.base))
        .bearer_auth(support::TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        health["components"]["providers"]["status"], "failing",
        "{health:#}"
    );
    assert!(
        health["recovery_actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "probe_providers"),
        "{health:#}"
    );

    fake.set_models_down(false);
    let got = hook
        .wait_until("the resolve", |g| provider_alerts(&g[1..]).len() == 2)
        .await;
    assert_eq!(
        provider_alerts(&got[1..]),
        [
            ("firing".to_owned(), "critical".to_owned()),
            ("resolved".to_owned(), "critical".to_owned())
        ]
    );
    assert_signed(got.last().unwrap());
    // Many more cycles (and health checks, once a second): nothing is repeated.
    let seen = ops.cycles();
    ops.wait_cycles(seen + 15).await;
    assert_eq!(provider_alerts(&hook.received()[1..]).len(), 2);
    svc.stop().await;
}

/// A provider whose health probe passes while every chat call returns 500 reads `failing` in
/// the API (the field the dashboard, health and alerts show) within three failed calls, long
/// before its breaker opens, and the operator is alerted.
#[tokio::test]
async fn a_provider_failing_every_call_while_its_probe_passes_reads_failing_within_three_calls() {
    let fake = FakeOpenAi::start().await;
    let hook = AlertReceiver::start().await;
    let error = support::Reply::Error {
        status: 500,
        code: "server_error",
        message: "The server had an error while processing your request.",
        retry_after: None,
    };
    // Three failures, then a call that hangs: no fourth failure can help it along.
    fake.script([error.clone(), error.clone(), error, support::Reply::Hang]);
    let svc = start(&fake, &format!("{}/hooks/ops", hook.root)).await;
    svc.wait_for("/api/providers", "the probe to pass", |p| {
        p["providers"][0]["probe"] == "ok" && p["providers"][0]["status"] == "ok"
    })
    .await;
    svc.generate(1).await;
    let p = svc
        .wait_for("/api/providers", "the provider to read failing", |p| {
            p["providers"][0]["status"] == "failing"
        })
        .await;
    let p = &p["providers"][0];
    // Three failed calls, and perhaps the hanging fourth: never a fourth failure.
    assert!((3..=4).contains(&fake.requests()), "{}", fake.requests());
    assert_eq!(
        (p["recent_calls"].as_u64(), p["recent_failures"].as_u64()),
        (Some(3), Some(3)),
        "{p:#}"
    );
    assert_eq!(p["probe"], "ok", "the probe still passes: {p:#}");
    assert_eq!(
        p["breaker"]["state"], "closed",
        "caught before the breaker opens: {p:#}"
    );
    assert!(
        p["summary"]
            .as_str()
            .unwrap()
            .starts_with("failing 3/3 calls: HTTP 500"),
        "{p:#}"
    );
    let health = svc.get("/api/automation/health").await;
    assert_eq!(health["status"], "degraded", "{health:#}");
    assert_eq!(health["checks"]["providers"][0]["status"], "failing");
    let got = hook
        .wait_until("the provider alert", |g| !provider_alerts(g).is_empty())
        .await;
    assert_eq!(provider_alerts(&got)[0].0, "firing");
    let alert = got
        .iter()
        .flat_map(|r| r.body["alerts"].as_array().cloned().unwrap_or_default())
        .find(|a| a["key"].as_str().unwrap().starts_with("provider:"))
        .unwrap();
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .contains("failing 3/3 calls"),
        "{alert:#}"
    );
    let active = svc.get("/api/automation/health").await["alerts"]["active"].clone();
    assert!(
        active.as_array().unwrap().iter().any(|a| a["key"]
            .as_str()
            .unwrap()
            .starts_with("provider:")
            && a["title"].as_str().unwrap().contains("is down")
            && a["at"].as_i64().unwrap() > 0),
        "{active:#}"
    );
    fake.release(1);
    svc.stop().await;
}

/// The error-rate history counts provider calls: while every call fails, the chart's
/// series reads 100 %, in the raw samples and in the five-minute summaries.
#[tokio::test]
async fn the_error_rate_history_reads_100_percent_while_every_call_fails() {
    let fake = FakeOpenAi::start().await;
    fake.set_default(support::Reply::Error {
        status: 500,
        code: "server_error",
        message: "The server had an error while processing your request.",
        retry_after: None,
    });
    let hook = AlertReceiver::start().await;
    let svc = start(&fake, &format!("{}/hooks/ops", hook.root)).await;
    svc.generate(1).await;
    let calls = |h: &Value| -> Vec<Value> {
        h["samples"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["llm_calls"].as_u64().unwrap_or(0) > 0)
            .cloned()
            .collect()
    };
    let h = svc
        .wait_for(
            "/api/metrics/history?window=hour",
            "a sample with calls",
            |h| !calls(h).is_empty(),
        )
        .await;
    for s in calls(&h) {
        assert_eq!(s["llm_error_pct"], 100.0, "{s:#}");
        assert_eq!(s["llm_failed"], s["llm_calls"], "{s:#}");
        assert!(s["failed_operations"].as_u64().unwrap() >= s["llm_failed"].as_u64().unwrap());
    }
    let day = svc.get("/api/metrics/history?window=day").await;
    let summaries = calls(&day);
    assert!(!summaries.is_empty(), "{day:#}");
    for s in summaries {
        assert_eq!(s["llm_error_pct"], 100.0, "{s:#}");
    }
    svc.stop().await;
}

#[tokio::test]
async fn a_nearly_full_disk_pauses_generation_and_alerts_once() {
    let fake = FakeOpenAi::start().await;
    let hook = AlertReceiver::start().await;
    // Any disk in use counts as "nearly full" here.
    let thresholds = QUIET_THRESHOLDS
        .replace("disk_warn_pct = 101", "disk_warn_pct = 0.001")
        .replace("disk_critical_pct = 102", "disk_critical_pct = 0.002");
    let svc = start_with(&fake, &format!("{}/hook", hook.root), &thresholds).await;
    let got = hook
        .wait_until("the disk alert and the pause notice", |g| {
            let keys: Vec<String> = g
                .iter()
                .flat_map(|r| r.body["alerts"].as_array().cloned().unwrap_or_default())
                .map(|a| {
                    format!(
                        "{}/{}",
                        a["key"].as_str().unwrap(),
                        a["severity"].as_str().unwrap()
                    )
                })
                .collect();
            keys.contains(&"disk/critical".to_owned())
                && keys.contains(&"heal:disk:pause_generation/warning".to_owned())
        })
        .await;
    let workflow: Value = support::http()
        .get(format!("{}/api/automation/workflow", svc.base))
        .bearer_auth(support::TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(workflow["state"], "paused", "{workflow:#}");
    assert_eq!(workflow["queues"]["content-generation"]["paused"], true);
    let ops = ops(&svc).clone();
    let seen = ops.cycles();
    ops.wait_cycles(seen + 10).await;
    let actions = ops.action_counts();
    assert_eq!(
        actions.values().sum::<u64>(),
        1,
        "one pause, not one per check: {actions:?}"
    );
    assert_eq!(hook.received().len(), got.len(), "nothing repeated");
    svc.stop().await;
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_hold_every_documented_family() {
    let fake = FakeOpenAi::start().await;
    let hook = AlertReceiver::start().await;
    let svc = start(&fake, &format!("{}/hook", hook.root)).await;
    ops(&svc).wait_cycles(3).await;
    // A request so the API histogram has something in it.
    support::http()
        .get(format!("{}/api/providers", svc.base))
        .bearer_auth(support::TOKEN)
        .send()
        .await
        .unwrap();
    let text = support::http()
        .get(format!("{}/metrics", svc.base))
        .bearer_auth(support::TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("Prometheus text parses");
    let documented =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md")).unwrap();
    let families: Vec<&str> = documented
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|name| name.starts_with("blogflow_"))
        .collect();
    assert!(
        families.len() >= 25,
        "docs/metrics.md lists the families: {families:?}"
    );
    for family in &families {
        assert!(
            scrape.samples.iter().any(|s| s.metric == *family
                || s.metric
                    .strip_prefix(family)
                    .is_some_and(|rest| matches!(rest, "_bucket" | "_sum" | "_count"))),
            "{family} is documented but not exposed"
        );
    }
    for s in &scrape.samples {
        assert!(
            families.iter().any(|f| s.metric.starts_with(f)),
            "{} is exposed but not documented",
            s.metric
        );
    }
    let value = |name: &str| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name)
            .map(|s| match s.value {
                prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
            .unwrap_or(f64::NAN)
    };
    assert!(value("blogflow_process_resident_memory_bytes") > 1e6);
    assert!(value("blogflow_monitor_cycles_total") >= 3.0);
    assert!(value("blogflow_api_errors_total") == 0.0);
    svc.stop().await;
    exposition_passes_promtool_and_the_python_parser(&text).await;
    rules_and_dashboard_query_only_exposed_metrics(&scrape).await;
}

/// The shipped alerting rules pass `promtool check rules`, and every `blogflow_` metric they
/// and the Grafana dashboard query is one `/metrics` exposes (a renamed metric would leave a
/// rule that never fires and a panel that stays empty).
async fn rules_and_dashboard_query_only_exposed_metrics(scrape: &prometheus_parse::Scrape) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules = root.join("deploy/prometheus/blogflow.rules.yml");
    let check = tokio::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .await
        .expect("promtool is needed: run scripts/install-deps --tests");
    assert!(
        check.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let dashboard = root.join("deploy/grafana/blogflow.json");
    let board: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&dashboard).unwrap()).unwrap();
    let mut queries: Vec<String> = board["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().unwrap().to_owned())
        .collect();
    assert!(queries.len() >= 10, "{queries:?}");
    let rules_text = std::fs::read_to_string(&rules).unwrap();
    queries.extend(
        rules_text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("expr: "))
            .map(str::to_owned),
    );
    let exposed = |name: &str| {
        scrape.samples.iter().any(|s| {
            s.metric == name
                || ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| name.strip_suffix(suffix) == Some(s.metric.as_str()))
                || name
                    .strip_suffix("_bucket")
                    .or_else(|| name.strip_suffix("_count"))
                    .or_else(|| name.strip_suffix("_sum"))
                    .is_some_and(|base| s.metric.starts_with(base))
        })
    };
    let mut checked = 0;
    for query in &queries {
        let mut rest = query.as_str();
        while let Some(i) = rest.find("blogflow_") {
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(exposed(&name), "{name} (in {query:?}) is not exposed");
            checked += 1;
            rest = &rest[i + name.len()..];
        }
    }
    assert!(checked >= 25, "{checked} metric references checked");
}

/// Prometheus' own linter (Debian's `promtool`) and the Python client's parser read the
/// exposition with every family in one piece, typed, and with samples.
async fn exposition_passes_promtool_and_the_python_parser(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics.txt");
    std::fs::write(&file, text).unwrap();
    let promtool = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .await
        .expect("promtool is needed: run scripts/install-deps --tests");
    assert!(
        promtool.status.success() && promtool.stdout.is_empty() && promtool.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&promtool.stdout),
        String::from_utf8_lossy(&promtool.stderr)
    );
    let bin = tokio::task::spawn_blocking(|| {
        support::pip_install_once(
            "prometheus-client",
            &["prometheus-client==0.21.1"],
            "python3",
        )
    })
    .await
    .unwrap();
    let script = r#"
import sys
from prometheus_client import parser
text = open(sys.argv[1]).read()
families = list(parser.text_string_to_metric_families(text))
names = [f.name for f in families]
assert len(names) == len(set(names)), "a family is split: %r" % sorted(n for n in names if names.count(n) > 1)
bad = [(f.name, f.type, len(f.samples)) for f in families if f.type == "unknown" or not f.samples]
assert not bad, "untyped or empty families: %r" % bad
print(len(families))
"#;
    let mut out = None;
    for _ in 0..2 {
        let run = tokio::process::Command::new(bin.join("python3"))
            .arg("-c")
            .arg(script)
            .arg(&file)
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
        if stderr.contains("No module named 'prometheus_client'") {
            // A virtual environment left from an interrupted install: install into it now.
            let _ = std::process::Command::new(bin.join("pip"))
                .args(["install", "--quiet", "prometheus-client==0.21.1"])
                .status();
            continue;
        }
        out = Some(run);
        break;
    }
    let out = out.expect("prometheus-client installs");
    assert!(
        out.status.success(),
        "the Python client's parser: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let families: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(families >= 25, "{families} families");
}

fn alert(status: AlertStatus, severity: Severity, message: &str) -> Alert {
    Alert {
        key: "queue".into(),
        severity,
        status,
        title: "The job queue does not answer".into(),
        message: message.into(),
        at: 1_800_000_000_000,
    }
}

#[tokio::test]
async fn slack_discord_and_telegram_get_their_documented_request_shapes_and_errors() {
    let rx = AlertReceiver::start().await;
    let token = "123456:ABC-telegram-token";
    let channels = Channels::new(
        vec![
            ChannelConfig::Slack {
                url: Secret::new(format!("{}/services/T000/B000/XXXX", rx.root)),
                min_severity: Severity::Warning,
            },
            ChannelConfig::Discord {
                url: Secret::new(format!("{}/api/webhooks/1/abc", rx.root)),
                min_severity: Severity::Critical,
            },
            ChannelConfig::Telegram {
                api_base: rx.root.clone(),
                token: Secret::new(token),
                chat_id: "-100123".into(),
                min_severity: Severity::Info,
            },
        ],
        "blog-1".into(),
        vec![Secret::new(API_KEY)],
    );
    let long = format!(
        "Redis refused the connection with key {API_KEY}. {}",
        "x".repeat(5000)
    );
    let group = [
        alert(AlertStatus::Firing, Severity::Critical, &long),
        alert(AlertStatus::Firing, Severity::Warning, "w"),
    ];
    let routed = channels.route(&group);
    assert_eq!(
        routed
            .iter()
            .map(|(c, a)| (*c, a.len()))
            .collect::<Vec<_>>(),
        [("slack", 2), ("discord", 1), ("telegram", 2)],
        "each channel gets what reaches its least severity"
    );
    for (channel, alerts) in &routed {
        channels.send(channel, alerts).await.unwrap();
    }
    let got = rx.received();
    assert_eq!(got.len(), 3);
    // Slack incoming webhook: JSON with a `text` field.
    assert_eq!(got[0].path, "/services/T000/B000/XXXX");
    assert_eq!(got[0].headers["content-type"], "application/json");
    let text = got[0].body["text"].as_str().unwrap();
    assert!(
        text.contains("blog-1") && text.contains("[CRITICAL] The job queue does not answer"),
        "{text}"
    );
    // Discord webhook: `content` of at most 2000 characters, mentions disabled.
    assert_eq!(got[1].path, "/api/webhooks/1/abc");
    let content = got[1].body["content"].as_str().unwrap();
    assert!(
        content.chars().count() <= 2000,
        "{}",
        content.chars().count()
    );
    assert_eq!(
        got[1].body["allowed_mentions"]["parse"],
        serde_json::json!([])
    );
    // Telegram: POST /bot<token>/sendMessage with chat_id and text of at most 4096 characters.
    assert_eq!(got[2].path, format!("/bot{token}/sendMessage"));
    assert_eq!(got[2].body["chat_id"], "-100123");
    assert!(got[2].body["text"].as_str().unwrap().chars().count() <= 4096);
    for r in &got {
        let raw = String::from_utf8_lossy(&r.raw);
        assert!(!raw.contains(API_KEY), "no secret in {raw}");
        assert!(raw.contains("[redacted]"));
    }

    // Their errors: Slack's 404 (deleted webhook) is permanent, a 429 is worth a retry, and
    // neither error message names the URL (it is the credential).
    rx.fail_next([404, 429]);
    let e = channels.send("slack", &group).await.unwrap_err();
    assert!(matches!(e, DeliveryError::Permanent { .. }), "{e:?}");
    assert!(!e.to_string().contains("XXXX"), "{e}");
    let e = channels.send("telegram", &group).await.unwrap_err();
    assert!(matches!(e, DeliveryError::Retryable { .. }), "{e:?}");
    assert!(!e.to_string().contains(token), "{e}");
    let closed = Channels::new(
        vec![ChannelConfig::Slack {
            url: Secret::new("http://127.0.0.1:9/hook/secret-path"),
            min_severity: Severity::Info,
        }],
        "x".into(),
        vec![],
    );
    let e = closed.send("slack", &group).await.unwrap_err();
    assert!(matches!(e, DeliveryError::Retryable { .. }), "{e:?}");
    assert!(!e.to_string().contains("secret-path"), "{e}");
}
