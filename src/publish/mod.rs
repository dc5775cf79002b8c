//! Publishers and the exactly-once ledger.
//!
//! A post is published to each target at most once: the ledger row `(post, target)` is written
//! after the target holds the post, and a publisher recognises a post it already delivered
//! (Markdown: the file carries the post's id), so a crash between "delivered" and "recorded"
//! is repaired on retry instead of producing a second copy.

pub mod ghost;
pub mod html;
pub mod markdown;
pub mod mdx;
pub mod webhook;
pub mod wordpress;

use serde::Serialize;

pub use ghost::{GhostPublisher, GhostStatus, GhostTarget};
pub use markdown::{MarkdownPublisher, MarkdownTarget};
pub use webhook::{WebhookPublisher, WebhookTarget};
pub use wordpress::{SeoFields, WordPressPublisher, WordPressStatus, WordPressTarget};

use crate::queue::{AddOutcome, JobError, JobState, Queue, QueueBackend, names};
use crate::store::{Post, PostStatus, Publication, PublicationState, Store, StoreError};

/// Where a target holds a post, and as what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// File path or URL.
    pub location: String,
    /// Draft, scheduled or published, as the target says.
    pub state: PublicationState,
}

impl Delivered {
    /// A post readers can see at `location` (files and webhooks are delivered when written).
    pub fn published(location: String) -> Self {
        Self {
            location,
            state: PublicationState::Published,
        }
    }
}

/// What goes with each post besides its text: its social card (WordPress, Ghost and the
/// webhook upload or carry it) and the blog's name for the structured data.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// Draws the cards; `None` when `[images] card = false` or no font loads.
    pub cards: Option<crate::images::CardRenderer>,
    /// The blog's name (`[images] blog_name`).
    pub blog_name: String,
    /// The card drawn last, shared by the publishers this was cloned into, so that a post
    /// going to several targets is drawn once.
    pub last: std::sync::Arc<std::sync::Mutex<Option<(String, FeatureImage)>>>,
}

/// A post's feature image, ready to upload: its generated image or its social card.
#[derive(Debug, Clone)]
pub struct FeatureImage {
    /// `blogflow-card-<post id>.<ext>`: the name a retry looks for.
    pub file_name: String,
    /// The file.
    pub bytes: Vec<u8>,
    /// `image/png`, `image/jpeg` or `image/webp`.
    pub content_type: &'static str,
    /// Width and height, when known (the card's).
    pub size: Option<(u32, u32)>,
    /// Text for readers who do not see it (the title).
    pub alt: String,
}

impl FeatureImage {
    /// The generated image of `post`, as stored.
    pub fn generated(post: &Post, bytes: Vec<u8>) -> Option<Self> {
        let content_type = crate::images::generated::sniff(&bytes)?;
        Some(Self {
            file_name: format!(
                "{}.{}",
                card_name(&post.id),
                crate::images::generated::extension(content_type)
            ),
            bytes,
            content_type,
            size: None,
            alt: post.content.title.clone(),
        })
    }
}

/// The deterministic name of a post's uploaded card, which a retry looks for before it
/// uploads again (lower case: WordPress lower-cases slugs).
pub fn card_name(post_id: &str) -> String {
    format!("blogflow-card-{}", post_id.to_lowercase())
}

impl Extras {
    /// The post's feature image: `generated` if there is one, else its card, drawn off the
    /// async threads. A card that cannot be drawn is logged and left out: the post goes
    /// without an image rather than not at all.
    pub async fn image(
        &self,
        post: &Post,
        generated: Option<&FeatureImage>,
    ) -> Option<FeatureImage> {
        if let Some(image) = generated {
            return Some(image.clone());
        }
        let cards = self.cards.clone()?;
        if let Some((id, card)) = self.last.lock().expect("card cache").as_ref()
            && *id == post.id
        {
            return Some(card.clone());
        }
        let text = crate::images::CardText::of(post);
        let drawn = tokio::task::spawn_blocking(move || cards.render(&text)).await;
        match drawn {
            Ok(Ok(card)) => {
                let card = FeatureImage {
                    file_name: format!("{}.png", card_name(&post.id)),
                    bytes: card.png,
                    content_type: "image/png",
                    size: Some((crate::images::card::WIDTH, crate::images::card::HEIGHT)),
                    alt: post.content.title.clone(),
                };
                *self.last.lock().expect("card cache") = Some((post.id.clone(), card.clone()));
                Some(card)
            }
            Ok(Err(e)) => {
                tracing::warn!(post_id = %post.id, error = %e, "the social card could not be drawn: published without it");
                None
            }
            Err(e) => {
                tracing::warn!(post_id = %post.id, error = %e, "the social card task failed: published without it");
                None
            }
        }
    }
}

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
    /// The target answered that it cannot take posts now: bad credentials, no API at this
    /// address (401, 403, 404). Whether that is the target's problem (its health check fails
    /// too: the post waits) or this post's is decided by checking the target.
    #[error("{target}: {message}")]
    Unavailable {
        /// Target name.
        target: &'static str,
        /// What went wrong.
        message: String,
    },
    /// Publishing waits for targets that fail their health check; no attempt is spent.
    #[error("waiting for {}: {message}", targets.join(", "))]
    Waiting {
        /// The targets waited for.
        targets: Vec<&'static str>,
        /// Why, from their checks.
        message: String,
    },
    /// The target refused this post in a way a retry will not change.
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
    /// A reviewer rejected the post: it is never published.
    #[error("post {0} was rejected in review and is never published")]
    RejectedInReview(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The publish job of a post: one per post, whatever retries happen upstream.
pub fn publish_job(post_id: &str) -> crate::queue::NewJob {
    crate::queue::NewJob::new("blog_publish", serde_json::json!({ "post_id": post_id }))
        .with_id(format!("publish-{post_id}"))
        .with_options(crate::queue::JobOptions {
            attempts: 8,
            backoff: crate::queue::Backoff::Exponential {
                base_ms: 5_000,
                max_ms: 30 * 60_000,
                jitter: 0.2,
            },
            ..crate::queue::JobOptions::default()
        })
}

/// How long a post waits for a target that fails its health check before it looks again:
/// about one health-check interval, so it resumes within one check of the target's recovery.
pub const TARGET_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Start of the message of a publish job that a target refused for this post's own sake; the
/// reconciliation leaves those for a human.
pub const POST_REJECTED: &str = "post rejected by";

impl From<PublishError> for JobError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::Rejected { target, message } => {
                JobError::unrecoverable(format!("{POST_REJECTED} {target}: {message}"))
            }
            PublishError::NotFound(_)
            | PublishError::Held(_)
            | PublishError::RejectedInReview(_) => JobError::unrecoverable(e.to_string()),
            PublishError::Waiting { .. } => JobError::wait(TARGET_WAIT, e.to_string()),
            PublishError::Target { .. }
            | PublishError::Unavailable { .. }
            | PublishError::Store(_) => JobError::retryable(e.to_string()),
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

    /// Delivers the post and returns where it is and as what. Delivering a post the target
    /// already holds returns that without a second copy.
    pub async fn publish(&self, post: &Post) -> Result<Delivered, PublishError> {
        self.publish_with(post, None).await
    }

    /// [`Self::publish`] with the post's generated image, which then stands in for its card.
    pub async fn publish_with(
        &self,
        post: &Post,
        image: Option<&FeatureImage>,
    ) -> Result<Delivered, PublishError> {
        match self {
            Publisher::Markdown(p) => p.publish_with(post, image).await.map(Delivered::published),
            Publisher::Webhook(p) => p.publish_with(post, image).await.map(Delivered::published),
            Publisher::WordPress(p) => p.publish_with(post, image).await,
            Publisher::Ghost(p) => p.publish_with(post, image).await,
        }
    }

    /// How a post links to another post this target holds at `location` (its ledger row):
    /// the URL where readers see it, or `None` when there is none to link to.
    pub fn link_to(&self, location: &str) -> Option<String> {
        match self {
            Publisher::Markdown(p) => p.link_to(location),
            _ => (location.starts_with("https://") || location.starts_with("http://"))
                .then(|| location.to_owned()),
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
        401 | 403 => PublishError::Unavailable {
            target,
            message: format!("HTTP {status}{detail}: not authorised; check {fix}"),
        },
        404 => PublishError::Unavailable {
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

/// What one reconciliation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Reconciled {
    /// Posts given a new publish job (none existed: lost, or removed by retention).
    pub added: usize,
    /// Posts whose failed publish job was put back to waiting.
    pub retried: usize,
    /// Posts left alone because a target refused the post itself (a human decides).
    pub rejected: usize,
}

/// The one reconciliation of what should exist with what does: every post that passed its
/// gate and is not yet published everywhere gets a live publish job. A job that failed is put
/// back, unless a target refused the post itself. Runs at start, every few minutes and at once
/// when a target recovers, so no outage of any length strands a post.
pub async fn reconcile(store: &Store, queue: &QueueBackend) -> Result<Reconciled, PublishError> {
    let backend = |e: crate::queue::QueueError| PublishError::Target {
        target: "queue",
        message: e.to_string(),
    };
    let mut done = Reconciled::default();
    for id in store.unpublished_post_ids(10_000).await? {
        let job = publish_job(&id);
        let job_id = job.id.clone().unwrap_or_default();
        if let AddOutcome::Added(_) = queue
            .add(names::BLOG_PUBLISHING, job)
            .await
            .map_err(backend)?
        {
            done.added += 1;
            continue;
        }
        let Some(existing) = queue
            .get(names::BLOG_PUBLISHING, &job_id)
            .await
            .map_err(backend)?
        else {
            continue;
        };
        if existing.state != JobState::Failed {
            continue;
        }
        if existing
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with(POST_REJECTED))
        {
            done.rejected += 1;
            continue;
        }
        queue
            .retry(names::BLOG_PUBLISHING, &job_id)
            .await
            .map_err(backend)?;
        done.retried += 1;
    }
    if done.added + done.retried > 0 {
        tracing::info!(
            added = done.added,
            retried = done.retried,
            "reconciliation: publishing queued again for posts no live job was publishing"
        );
    }
    Ok(done)
}

/// The post as `publisher` gets it: its body ends with links to up to three earlier posts in
/// its language on the closest subjects that this target holds as published, at their
/// addresses there ([`crate::content::related`]). Unchanged when none is close enough.
async fn with_related<'a>(
    store: &Store,
    publisher: &Publisher,
    post: &'a Post,
) -> Result<std::borrow::Cow<'a, Post>, PublishError> {
    use crate::content::related;
    let candidates = store
        .linkable_posts(publisher.target(), &post.language, post.created_at, 500)
        .await?;
    let subject = related::Subject::of(&post.content.title, &post.topic, &post.content.tags);
    let links: Vec<(String, String)> = related::closest(&subject, &candidates)
        .into_iter()
        .filter(|c| c.id != post.id)
        .filter_map(|c| Some((c.title.clone(), publisher.link_to(&c.location)?)))
        .take(related::MAX_LINKS)
        .collect();
    if links.is_empty() {
        return Ok(std::borrow::Cow::Borrowed(post));
    }
    let language = crate::config::Language::parse(&post.language).unwrap_or_default();
    let mut linked = post.clone();
    linked
        .content
        .body
        .push_str(&related::section(language, &links));
    Ok(std::borrow::Cow::Owned(linked))
}

/// Publishes a stored post to every target that does not hold it yet, recording each.
pub async fn publish_post(
    store: &Store,
    publishers: &[Publisher],
    post_id: &str,
) -> Result<PublishReport, PublishError> {
    publish_post_to(store, publishers, post_id, &|_| None).await
}

/// Like [`publish_post`]; `known_down(target)` is why the target's last health check failed,
/// if it did: such a target is not called, the post waits for it. Every target is tried
/// whatever the others do. A target that fails is checked at once: if its check fails too,
/// the post waits for it (no attempt spent); if the check passes, the failure was real.
pub async fn publish_post_to(
    store: &Store,
    publishers: &[Publisher],
    post_id: &str,
    known_down: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<PublishReport, PublishError> {
    let post = store
        .get_post(post_id)
        .await?
        .ok_or_else(|| PublishError::NotFound(post_id.to_owned()))?;
    match post.status {
        PostStatus::Held => return Err(PublishError::Held(post_id.to_owned())),
        PostStatus::Rejected => return Err(PublishError::RejectedInReview(post_id.to_owned())),
        PostStatus::Ready | PostStatus::Published => {}
    }
    let generated = match store.post_image(post_id).await? {
        Some(Ok(bytes)) => FeatureImage::generated(&post, bytes),
        _ => None,
    };
    let mut delivered = Vec::new();
    let (mut waiting, mut why): (Vec<&'static str>, Vec<String>) = (Vec::new(), Vec::new());
    let (mut failed, mut rejected) = (None, None);
    for publisher in publishers {
        let target = publisher.target();
        if store.publication(post_id, target).await?.is_some() {
            continue;
        }
        if let Some(reason) = known_down(target) {
            waiting.push(target);
            why.push(reason);
            continue;
        }
        let linked = with_related(store, publisher, &post).await?;
        match publisher.publish_with(&linked, generated.as_ref()).await {
            Ok(Delivered { location, state }) => {
                store
                    .record_publication(post_id, target, &location, state)
                    .await?;
                tracing::info!(post_id, target, %location, state = state.as_str(), title = %post.content.title, "post published");
                delivered.push(target);
            }
            Err(e @ (PublishError::Target { .. } | PublishError::Unavailable { .. })) => {
                match publisher.check().await {
                    Err(check) => {
                        tracing::info!(post_id, target, error = %e, check = %check, "target is down: the post waits for it");
                        waiting.push(target);
                        why.push(check.to_string());
                    }
                    Ok(()) => {
                        tracing::warn!(post_id, target, error = %e, "publishing failed though the target's check passes");
                        failed.get_or_insert(e);
                    }
                }
            }
            Err(e @ PublishError::Rejected { .. }) => {
                tracing::warn!(post_id, target, error = %e, "the target refused this post");
                rejected.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    if !waiting.is_empty() {
        return Err(PublishError::Waiting {
            targets: waiting,
            message: why.join("; "),
        });
    }
    if let Some(e) = rejected {
        return Err(e);
    }
    store.mark_published(post_id).await?;
    Ok(PublishReport {
        post_id: post_id.to_owned(),
        publications: store.publications(post_id).await?,
        delivered,
    })
}
