//! Publishers and the exactly-once ledger.
//!
//! A post is published to each target at most once: the ledger row `(post, target)` is written
//! after the target holds the post, and a publisher recognises a post it already delivered
//! (Markdown: the file carries the post's id), so a crash between "delivered" and "recorded"
//! is repaired on retry instead of producing a second copy.

pub mod html;
pub mod markdown;
pub mod webhook;

use serde::Serialize;

pub use markdown::MarkdownPublisher;
pub use webhook::{WebhookPublisher, WebhookTarget};

use crate::queue::JobError;
use crate::store::{Post, PostStatus, Publication, Store, StoreError};

/// Errors while publishing.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The target failed; retry later.
    #[error("{target}: {message}")]
    Target {
        /// Target name.
        target: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The target refused the post in a way a retry will not change (credentials, URL).
    #[error("{target}: {message}")]
    Rejected {
        /// Target name.
        target: &'static str,
        /// What the target said.
        message: String,
    },
    /// The post does not exist.
    #[error("post {0} does not exist")]
    NotFound(String),
    /// The post is held for review and must not be published automatically.
    #[error("post {0} is held for review")]
    Held(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PublishError> for JobError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::NotFound(_) | PublishError::Held(_) | PublishError::Rejected { .. } => {
                JobError::unrecoverable(e.to_string())
            }
            PublishError::Target { .. } | PublishError::Store(_) => {
                JobError::retryable(e.to_string())
            }
        }
    }
}

/// The closed set of publishers.
#[derive(Debug, Clone)]
pub enum Publisher {
    /// Markdown files with front matter (Hugo, Zola, Astro, …).
    Markdown(MarkdownPublisher),
    /// A signed JSON POST per post.
    Webhook(WebhookPublisher),
}

impl Publisher {
    /// Target name, the ledger key.
    pub fn target(&self) -> &'static str {
        match self {
            Publisher::Markdown(_) => "markdown",
            Publisher::Webhook(_) => "webhook",
        }
    }

    /// Delivers the post and returns where it is. Delivering a post the target already holds
    /// returns its location without a second copy.
    pub async fn publish(&self, post: &Post) -> Result<String, PublishError> {
        match self {
            Publisher::Markdown(p) => p.publish(post).await,
            Publisher::Webhook(p) => p.publish(post).await,
        }
    }

    /// Startup check: reachable, authorised, writable.
    pub async fn check(&self) -> Result<(), PublishError> {
        match self {
            Publisher::Markdown(p) => p.check().await,
            Publisher::Webhook(p) => p.check().await,
        }
    }
}

/// What a publish job did.
#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    /// Post id.
    pub post_id: String,
    /// Ledger rows, one per target.
    pub publications: Vec<Publication>,
    /// Targets delivered to by this call (the others already held the post).
    pub delivered: Vec<&'static str>,
}

/// Publishes a stored post to every target that does not hold it yet, recording each.
pub async fn publish_post(
    store: &Store,
    publishers: &[Publisher],
    post_id: &str,
) -> Result<PublishReport, PublishError> {
    let post = store
        .get_post(post_id)
        .await?
        .ok_or_else(|| PublishError::NotFound(post_id.to_owned()))?;
    if post.status == PostStatus::Held {
        return Err(PublishError::Held(post_id.to_owned()));
    }
    let mut delivered = Vec::new();
    for publisher in publishers {
        let target = publisher.target();
        if store.publication(post_id, target).await?.is_some() {
            continue;
        }
        let location = publisher.publish(&post).await?;
        store.record_publication(post_id, target, &location).await?;
        tracing::info!(post_id, target, %location, title = %post.content.title, "post published");
        delivered.push(target);
    }
    store.mark_published(post_id).await?;
    Ok(PublishReport {
        post_id: post_id.to_owned(),
        publications: store.publications(post_id).await?,
        delivered,
    })
}
