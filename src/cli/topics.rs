//! `blogflow topics add|list`: the topic pool.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::open_parts;

#[derive(Subcommand)]
pub enum TopicsCommand {
    /// Queue a topic: written about before any feed topic.
    Add {
        /// The topic.
        title: String,
        /// Category (default: generation.category).
        #[arg(long)]
        category: Option<String>,
    },
    /// List the pool, newest first.
    List {
        /// `new`, `picked` or `skipped`.
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 30)]
        limit: usize,
    },
}

pub async fn run(path: Option<&PathBuf>, command: TopicsCommand) -> anyhow::Result<ExitCode> {
    let parts = match open_parts(path).await? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    match command {
        TopicsCommand::Add { title, category } => {
            let title = title.trim();
            if title.is_empty() || title.chars().count() > 300 {
                anyhow::bail!("the topic must be 1 to 300 characters");
            }
            let category =
                category.unwrap_or_else(|| parts.router.config.generation.category.clone());
            match parts.store.add_manual_topic(title, &category).await? {
                Some(id) => println!("queued topic {id}: {title} ({category})"),
                None => {
                    eprintln!("{title:?} is already in the topic pool");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        TopicsCommand::List { status, limit } => {
            for t in parts.store.list_topics(status, limit).await? {
                println!(
                    "{:>6}  {:<8} {:<16} {:<12} {}",
                    t.id, t.status, t.source, t.category, t.title
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
