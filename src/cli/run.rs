//! `blogflow run`, `serve` and `worker`: the service in one of its roles.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use blogflow::config::{QueueBackendConfig, Role};

use super::load_or_exit;

pub async fn run(
    path: Option<&PathBuf>,
    role: Role,
    concurrency: Option<usize>,
) -> anyhow::Result<ExitCode> {
    let mut config = match load_or_exit(path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    if role != Role::All && !matches!(config.queue.backend, QueueBackendConfig::Redis(_)) {
        eprintln!(
            "blogflow {}: the processes of a cluster share one queue; set REDIS_URL (or use `blogflow run` for one process)",
            role.as_str()
        );
        return Ok(ExitCode::from(2));
    }
    if concurrency == Some(0) {
        eprintln!("--concurrency must be at least 1");
        return Ok(ExitCode::from(2));
    }
    config.role = role;
    config.generation_concurrency = concurrency;
    let _guards = blogflow::telemetry::init(&config.logging, Some(&config.log_dir))
        .context("cannot set up logging")?;
    let running = blogflow::app::start(config).await?;
    eprintln!(
        "blogflow is running at http://{} (Ctrl-C to stop)",
        running.addr
    );
    let restart = tokio::select! {
        _ = blogflow::app::signal() => false,
        _ = running.exit_requested() => true,
    };
    running.shutdown().await;
    if restart {
        // A failure code, so that `Restart=on-failure` supervisors restart us as well.
        eprintln!("blogflow stopped for a restart by its supervisor (self-healing)");
        return Ok(ExitCode::from(75));
    }
    Ok(ExitCode::SUCCESS)
}
