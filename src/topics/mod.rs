//! Topics worth writing about: RSS/Atom/JSON feeds, the operator's manual queue and the
//! configured keywords, deduplicated against everything already seen.
//!
//! - [`feed`]: fetch one feed (conditional GET, bounded, filtered).
//! - [`normalize`]: canonical URLs and titles (in `content`, shared with the pipeline).
//! - [`minhash`]: character-shingle MinHash + LSH bands (same story across sources, any
//!   language).
//! - The pool itself lives in the store (`store::topics`): every item ever seen, so none is
//!   picked twice; same-story clusters; ranking by recency, story size and source weight.

pub mod feed;
pub use crate::content::{minhash, normalize};

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::store::{FeedOutcome, PoolTopic, Store, StoreError};
use feed::{FeedConfig, Fetched};

pub use crate::config::TopicsConfig;

/// One feed's result in a refresh.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeedReport {
    /// Feed name.
    pub feed: String,
    /// `ok`, `not_modified`, `skipped (not due)` or the error.
    pub outcome: String,
    /// New topics.
    pub added: u64,
}

/// The topic sources and the pool. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Topics {
    store: Store,
    http: crate::shared::http::LazyClient,
    config: Arc<TopicsConfig>,
    /// One refresh at a time (parallel generation jobs would fetch every feed twice).
    refreshing: Arc<tokio::sync::Mutex<()>>,
}

impl Topics {
    /// Sources over `store`.
    pub fn new(store: Store, config: TopicsConfig) -> Self {
        // Built at the first refresh that has a feed to fetch.
        let http =
            crate::shared::http::LazyClient::new(Duration::from_secs(20), Duration::from_secs(10))
                .with_user_agent();
        Self {
            store,
            http,
            config: Arc::new(config),
            refreshing: Arc::default(),
        }
    }

    /// The configured feeds.
    pub fn feeds(&self) -> &[FeedConfig] {
        &self.config.feeds
    }

    /// Fetches every feed whose interval has passed (all of them with `force`), at once. A
    /// failing feed is recorded and reported; the others go on.
    pub async fn refresh(&self, force: bool) -> Vec<FeedReport> {
        let _one = self.refreshing.lock().await;
        let now = crate::db::now_ms();
        let mut tasks = tokio::task::JoinSet::new();
        for feed in self.config.feeds.iter().cloned() {
            let (store, http, limits) = (
                self.store.clone(),
                self.http.get().clone(),
                self.config.limits,
            );
            tasks.spawn(async move {
                let state = store.feed_state(&feed.url).await.ok().flatten();
                if !force
                    && state.as_ref().is_some_and(|s| {
                        now - s.last_fetched_at < feed.interval.as_millis() as i64
                    })
                {
                    return FeedReport {
                        feed: feed.name,
                        outcome: "skipped (not due)".into(),
                        added: 0,
                    };
                }
                let (etag, modified) = state
                    .map(|s| (s.etag, s.last_modified))
                    .unwrap_or_default();
                let fetched =
                    feed::fetch(&http, &feed, etag.as_deref(), modified.as_deref(), limits).await;
                let (outcome, added) = match fetched {
                    Ok(Fetched::NotModified) => (FeedOutcome::NotModified, 0),
                    Ok(Fetched::Items {
                        items,
                        seen,
                        etag,
                        last_modified,
                    }) => {
                        let kept = items.len();
                        match store
                            .add_feed_topics(&feed.name, &feed.category, feed.weight, items)
                            .await
                        {
                            Ok(added) => {
                                tracing::info!(feed = %feed.name, seen, kept, added, "feed fetched");
                                (
                                    FeedOutcome::Ok {
                                        etag,
                                        last_modified,
                                        added,
                                    },
                                    added,
                                )
                            }
                            Err(e) => (FeedOutcome::Error(format!("storing: {e}")), 0),
                        }
                    }
                    Err(e) => (FeedOutcome::Error(e), 0),
                };
                let text = match &outcome {
                    FeedOutcome::Ok { .. } => "ok".to_owned(),
                    FeedOutcome::NotModified => "not_modified".to_owned(),
                    FeedOutcome::Error(e) => {
                        tracing::warn!(feed = %feed.name, error = %e, "feed failed; the other feeds go on");
                        e.clone()
                    }
                };
                if let Err(e) = store.record_feed(&feed.name, &feed.url, outcome).await {
                    tracing::warn!(feed = %feed.name, error = %e, "could not record the feed's state");
                }
                FeedReport {
                    feed: feed.name,
                    outcome: text,
                    added,
                }
            });
        }
        let mut reports = Vec::new();
        while let Some(r) = tasks.join_next().await {
            if let Ok(r) = r {
                reports.push(r);
            }
        }
        reports.sort_by(|a, b| a.feed.cmp(&b.feed));
        reports
    }

    /// The next topic from the pool (manual first), marked used; `None` when the pool has
    /// nothing new (the caller falls back to keywords).
    pub async fn pick(&self, category: Option<String>) -> Result<Option<PoolTopic>, StoreError> {
        self.store
            .pick_topic(category, self.config.source_cooldown.as_millis() as i64)
            .await
    }
}
