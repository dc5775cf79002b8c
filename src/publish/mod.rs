//! Publishers and the exactly-once ledger.
//!
//! A post is published to each target at most once: the ledger row `(post, target)` is written
//! after the target holds the post, and a publisher recognises a post it already delivered
//! (Markdown: the file carries the post's id), so a crash between "delivered" and "recorded"
//! is repaired on retry instead of producing a second copy.

pub mod ghost;
pub mod html;
pub mod markdown;
pub mod webhook;
pub mod wordpress;

use serde::Serialize;

pub use ghost::{GhostPublisher, GhostStatus, GhostTarget};
pub use markdown::{MarkdownPublisher, MarkdownTarget};
pub use webhook::{WebhookPublisher, WebhookTarget};
pub use wordpress::{SeoFields, WordPressPublisher, WordPressStatus, WordPressTarget};

use crate::queue::{AddOutcome, JobError, JobState, Queue, QueueBackend, names};
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
    /// The WordPress REST API.
    WordPress(WordPressPublisher),
    /// The Ghost Admin API.
    Ghost(GhostPublisher),
}

impl Publisher {
    /// Target name, the ledger key.
    pub fn target(&self) -> &'static str {
        match self {
            Publisher::Markdown(_) => "markdown",
            Publisher::Webhook(_) => "webhook",
            Publisher::WordPress(_) => "wordpress",
            Publisher::Ghost(_) => "ghost",
        }
    }

    /// Delivers the post and returns where it is. Delivering a post the target already holds
    /// returns its location without a second copy.
    pub async fn publish(&self, post: &Post) -> Result<String, PublishError> {
        match self {
            Publisher::Markdown(p) => p.publish(post).await,
            Publisher::Webhook(p) => p.publish(post).await,
            Publisher::WordPress(p) => p.publish(post).await,
            Publisher::Ghost(p) => p.publish(post).await,
        }
    }

    /// Startup check: reachable, authorised, writable.
    pub async fn check(&self) -> Result<(), PublishError> {
        match self {
            Publisher::Markdown(p) => p.check().await,
            Publisher::Webhook(p) => p.check().await,
            Publisher::WordPress(p) => p.check().await,
            Publisher::Ghost(p) => p.check().await,
        }
    }
}

/// An HTTP client for a publishing target: bounded connect and total time, so a target that
/// accepts a post and never answers fails the attempt (the retry then looks for the post
/// before sending it again).
pub(crate) fn http_client(timeout: std::time::Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(std::time::Duration::from_secs(10)))
        .build()
        .unwrap_or_default()
}

/// A transport failure, without the URL (it may carry a token).
pub(crate) fn transport_error(target: &'static str, e: &reqwest::Error) -> PublishError {
    PublishError::Target {
        target,
        message: if e.is_timeout() {
            "timed out; the post may have arrived, the retry looks for it first".into()
        } else if e.is_connect() {
            "cannot connect".into()
        } else {
            "the connection failed".into()
        },
    }
}

/// Maps an HTTP error status: 408, 429 and 5xx are worth a retry; 401 and 403 are
/// credentials, 404 the address; anything else is a refusal `fix` explains.
pub(crate) fn status_error(
    target: &'static str,
    status: u16,
    detail: &str,
    fix: &str,
) -> PublishError {
    let detail: String = detail.chars().take(300).collect();
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    };
    match status {
        408 | 429 | 500..=599 => PublishError::Target {
            target,
            message: format!("HTTP {status}{detail}; retrying"),
        },
        401 | 403 => PublishError::Rejected {
            target,
            message: format!("HTTP {status}{detail}: not authorised; check {fix}"),
        },
        404 => PublishError::Rejected {
            target,
            message: format!("HTTP 404{detail}: no such API at this address; check {fix}"),
        },
        _ => PublishError::Rejected {
            target,
            message: format!("HTTP {status}{detail}: the target refused the post; check {fix}"),
        },
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

/// Puts publishing back in the queue for every post that passed its gate but is not published
/// everywhere and has no live publish job: its job failed for good (bad credentials, fixed
/// since this restart) or was removed by retention. Runs at start; returns how many posts were
/// re-queued.
pub async fn requeue_unpublished(store: &Store, queue: &QueueBackend) -> anyhow::Result<usize> {
    let mut requeued = 0;
    for id in store.unpublished_post_ids(10_000).await? {
        let job = crate::content::pipeline::publish_job(&id);
        let job_id = job.id.clone().unwrap_or_default();
        match queue.add(names::BLOG_PUBLISHING, job).await? {
            AddOutcome::Added(_) => requeued += 1,
            AddOutcome::Duplicate(_) => {
                if queue
                    .get(names::BLOG_PUBLISHING, &job_id)
                    .await?
                    .is_some_and(|j| j.state == JobState::Failed)
                {
                    queue.retry(names::BLOG_PUBLISHING, &job_id).await?;
                    requeued += 1;
                }
            }
        }
    }
    if requeued > 0 {
        tracing::info!(
            posts = requeued,
            "publishing re-queued for posts a target did not take before"
        );
    }
    Ok(requeued)
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
