//! `blogflow posts list|show|approve|reject`.

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
    /// Show one post: status, score, hold reason, sources, unsupported claims, removed links
    /// and where it was published.
    Show {
        /// Post id.
        id: String,
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
                    blogflow::store::PostStatus::Held | blogflow::store::PostStatus::Rejected => {
                        p.hold_reason.clone().unwrap_or_default()
                    }
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
        PostsCommand::Show { id } => {
            let Some(post) = parts.store.get_post(&id).await? else {
                eprintln!("no post {id}: `blogflow posts list` shows the ids");
                return Ok(ExitCode::FAILURE);
            };
            let publications = parts.store.publications(&id).await?;
            print!("{}", show(&post, &publications));
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

/// The text `posts show` prints.
fn show(post: &blogflow::store::Post, publications: &[blogflow::store::Publication]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let p = &post.provenance;
    let _ = writeln!(out, "{}  {}", post.id, post.content.title);
    let _ = writeln!(
        out,
        "status:   {}",
        format!("{:?}", post.status).to_lowercase()
    );
    let _ = writeln!(out, "score:    {}", post.quality.score);
    let _ = writeln!(out, "topic:    {}", post.topic);
    let _ = writeln!(
        out,
        "language: {}  category: {}",
        post.language, post.category
    );
    if let Some(reason) = &post.hold_reason {
        let _ = writeln!(out, "held:     {reason}");
    }
    if let Some(r) = post.review.as_ref().filter(|r| r.state != "pending") {
        let note = r
            .note
            .as_deref()
            .map_or(String::new(), |n| format!(": {n}"));
        let _ = writeln!(out, "review:   {}{note}", r.state);
    }
    if p.grounded {
        let _ = writeln!(out, "sources:");
        for (i, s) in p.sources.iter().enumerate() {
            let _ = writeln!(out, "  [{}] {}  {}", i + 1, s.title, s.url);
        }
    } else {
        let _ = writeln!(
            out,
            "sources:  none (not grounded: written from the model's knowledge)"
        );
    }
    if !p.unsupported_claims.is_empty() {
        let _ = writeln!(out, "unsupported claims:");
        for c in &p.unsupported_claims {
            let _ = writeln!(out, "  - {c}");
        }
    }
    if !p.unread_sources.is_empty() {
        let _ = writeln!(out, "pages not used:");
        for u in &p.unread_sources {
            let _ = writeln!(out, "  - {}: {}", u.url, u.reason);
        }
    }
    if !p.removed_links.is_empty() {
        let _ = writeln!(out, "links removed:");
        for l in &p.removed_links {
            let _ = writeln!(out, "  - {l}");
        }
    }
    for part in post
        .quality
        .parts
        .iter()
        .filter(|part| !part.note.is_empty())
    {
        let _ = writeln!(out, "note:     {}: {}", part.name, part.note);
    }
    for r in publications {
        let _ = writeln!(
            out,
            "published: {} {} ({})",
            r.target,
            r.location,
            r.state.as_str()
        );
    }
    out
}
