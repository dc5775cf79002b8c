//! `blogflow posts list|approve|reject`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::open_parts;

#[derive(Subcommand)]
pub enum PostsCommand {
    /// List posts, newest first, with status, score and hold reason.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 30)]
        limit: usize,
    },
    /// Approve a held post and queue its publication.
    Approve {
        /// Post id.
        id: String,
        /// Why, for the record.
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject a held post: it is never published.
    Reject {
        /// Post id.
        id: String,
        /// Why, for the record.
        #[arg(long)]
        note: Option<String>,
    },
}

pub async fn run(path: Option<&PathBuf>, command: PostsCommand) -> anyhow::Result<ExitCode> {
    let parts = match open_parts(path).await? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    match command {
        PostsCommand::List { limit } => {
            for p in parts.store.list_posts(limit).await? {
                let reason = match p.status {
                    blogflow::store::PostStatus::Held => p.hold_reason.clone().unwrap_or_default(),
                    // Delivered everywhere, but a target may hold it as a draft or scheduled.
                    blogflow::store::PostStatus::Published => parts
                        .store
                        .publications(&p.id)
                        .await?
                        .iter()
                        .filter(|r| r.state != blogflow::store::PublicationState::Published)
                        .map(|r| format!("{}: {}", r.target, r.state.as_str()))
                        .collect::<Vec<_>>()
                        .join(", "),
                    _ => String::new(),
                };
                println!(
                    "{}  {:<9} {:>3}  {}  {reason}",
                    p.id,
                    format!("{:?}", p.status).to_lowercase(),
                    p.quality_score,
                    p.title
                );
            }
        }
        PostsCommand::Approve { id, note } => {
            let post = parts.router.generator.approve(&id, note).await?;
            println!(
                "approved {}: publishing queued ({})",
                post.id, post.content.title
            );
        }
        PostsCommand::Reject { id, note } => {
            let post = parts.store.reject_post(&id, note).await?;
            println!(
                "rejected {}: it will not be published ({})",
                post.id, post.content.title
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
