//! The OpenAPI document at `/api/openapi.json`: it validates as OpenAPI 3.1, and a
//! schema-driven fuzz run (schemathesis, from PyPI, in a virtual environment under `target/`)
//! over every operation finds no 5xx, no undocumented status or content type and no response
//! that breaks its schema. The number of examples is bounded (`BLOGFLOW_FUZZ_EXAMPLES`,
//! default 25 per operation) so that the run takes about a minute.

mod support;

use serde_json::Value;
use support::{FakeOpenAi, InProcess, TOKEN};

const SCHEMATHESIS: &str = "schemathesis==4.32.5";
const VALIDATOR: &str = "openapi-spec-validator==0.9.0";

#[tokio::test]
async fn the_document_validates_and_fuzzing_every_operation_breaks_nothing() {
    let fake = FakeOpenAi::start().await;
    let svc = InProcess::start(&fake, "schedules = []\n", &[]).await;
    // A post, so that the routes that read one have something to find.
    let job = svc.generate(1).await;
    svc.job_ended(&job, "completed").await;

    let doc: Value = svc.get("/api/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    for route in [
        "/api/automation/workflow",
        "/api/automation/scheduler",
        "/api/automation/health",
        "/api/jobs/{queue}/{id}",
        "/api/posts/{id}/approve",
        "/api/topics",
        "/api/session",
        "/metrics",
    ] {
        assert!(doc["paths"].get(route).is_some(), "{route} is documented");
    }
    let post = &doc["paths"]["/api/automation/workflow"]["post"];
    assert!(post["responses"].get("401").is_some() && post["responses"].get("403").is_some());

    let bin = tokio::task::spawn_blocking(|| {
        support::pip_install_once("schemathesis", &[SCHEMATHESIS, VALIDATOR], "schemathesis")
    })
    .await
    .unwrap();
    let file = svc.dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = tokio::process::Command::new(bin.join("openapi-spec-validator"))
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "the document validates: {}{}",
        String::from_utf8_lossy(&out.stdout)
            .chars()
            .take(600)
            .collect::<String>(),
        String::from_utf8_lossy(&out.stderr)
    );

    let examples = std::env::var("BLOGFLOW_FUZZ_EXAMPLES").unwrap_or_else(|_| "25".into());
    // The service runs on this test's runtime: schemathesis must be awaited, not waited for.
    let out = tokio::process::Command::new(bin.join("schemathesis"))
        .arg("run")
        .arg(format!("{}/api/openapi.json", svc.base))
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--max-examples", &examples])
        .args(["--request-timeout", "10"])
        .env("NO_COLOR", "1")
        .current_dir(svc.dir.path()) // its cache folder goes there, not into the repository
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("generated") || l.contains("Operations:") || l.contains("Seed:"))
        .collect();
    println!("schemathesis: {}", summary.join(" | "));
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    svc.stop().await;
}
