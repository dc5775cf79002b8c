//! `blogflow status`: the state of a running service, through its API.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::load_or_exit;

pub async fn status(path: Option<&PathBuf>, url: Option<String>) -> anyhow::Result<ExitCode> {
    let (base, token) = match url {
        Some(u) => (u, std::env::var("BLOGFLOW_API_TOKEN").ok()),
        None => match load_or_exit(path) {
            Ok(c) => (
                format!("http://{}", c.listen),
                c.api_token.as_ref().map(|t| t.expose().to_owned()),
            ),
            Err(code) => return Ok(code),
        },
    };
    let base = base.trim_end_matches('/');
    // Reads need the token once one is configured (unless server.public_read).
    let mut request = reqwest::Client::new().get(format!("{base}/api/automation/workflow"));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let body: serde_json::Value = request
        .send()
        .await
        .with_context(|| format!("cannot reach blogflow at {base} (is `blogflow run` running?)"))?
        .error_for_status()?
        .json()
        .await?;
    println!("state      {}", body["state"].as_str().unwrap_or("?"));
    println!("uptime     {} s", body["uptime_secs"]);
    println!(
        "provider   {}",
        body["provider"]["name"].as_str().unwrap_or("none")
    );
    if let Some(queues) = body["queues"].as_object() {
        for (name, q) in queues {
            let c = &q["counts"];
            println!(
                "queue      {name:<20} waiting {} delayed {} active {} completed {} failed {}{}",
                c["waiting"],
                c["delayed"],
                c["active"],
                c["completed"],
                c["failed"],
                if q["paused"] == true { " (paused)" } else { "" }
            );
        }
    }
    let p = &body["posts"];
    println!(
        "posts      {} total, {} published, {} ready, {} held, {} rejected, ${:.4}",
        p["total"],
        p["published"],
        p["ready"],
        p["held"],
        p["rejected"],
        p["cost_usd"].as_f64().unwrap_or(0.0)
    );
    Ok(ExitCode::SUCCESS)
}
