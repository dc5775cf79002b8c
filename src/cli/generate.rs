//! `blogflow generate`: posts written and published now, in this process, with a progress bar.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use blogflow::generate::{GenerateRequest, SlotOutcome};

use super::load_or_exit;

pub async fn generate(
    path: Option<&PathBuf>,
    request: GenerateRequest,
) -> anyhow::Result<ExitCode> {
    let config = match load_or_exit(path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let max = config.generation.max_posts_per_request;
    if request.count == 0 || request.count > max {
        anyhow::bail!("--count must be from 1 to {max} (generation.max_posts_per_request)");
    }
    let _guards =
        blogflow::telemetry::init(&config.logging, None).context("cannot set up logging")?;
    let config = Arc::new(config);
    let parts = blogflow::app::open(config.clone()).await?;
    let job_id = format!("cli-{}", uuid::Uuid::new_v4().simple());
    let bar = ProgressBar::new(request.count as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} posts {msg}",
        )
        .expect("template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        blogflow::app::signal().await;
        stop.cancel();
    });
    let outcomes = parts
        .router
        .generator
        .run_slots(&job_id, &request, &cancel, |o| {
            bar.inc(1);
            bar.set_message(match o {
                SlotOutcome::Ready(_) => "written".to_owned(),
                SlotOutcome::Held(_) => "held for review".to_owned(),
                SlotOutcome::Failed(e) => format!("failed: {}", e.message),
                SlotOutcome::Skipped(reason) => format!("skipped: {reason}"),
            });
        })
        .await;
    bar.finish_and_clear();
    let mut failed = 0;
    for outcome in outcomes {
        match outcome {
            SlotOutcome::Ready(id) => {
                parts.router.generate_image(&id).await;
                let report =
                    blogflow::publish::publish_post(&parts.store, &parts.router.publishers, &id)
                        .await?;
                for p in report.publications {
                    println!("published  {}  {}", p.target, p.location);
                }
            }
            SlotOutcome::Held(id) => {
                let reason = parts
                    .store
                    .get_post(&id)
                    .await?
                    .and_then(|p| p.hold_reason)
                    .unwrap_or_else(|| "see `GET /api/posts/{id}`".to_owned());
                println!("held       post {id}: {reason}");
            }
            SlotOutcome::Failed(e) => {
                failed += 1;
                println!("failed     {}", e.message);
            }
            SlotOutcome::Skipped(reason) => println!("skipped    {reason}"),
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
