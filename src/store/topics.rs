//! The topic pool and the feeds' fetch state.

use serde::Serialize;

use super::sql::{Row, Sql, Value, args, placeholders};
use super::{Store, StoreError};
use crate::content::minhash::Signature;
use crate::db::{DbError, now_ms};

/// An item worth considering.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedItem {
    /// The feed's id for it.
    pub guid: Option<String>,
    /// Its link, normalized (the key that finds the same item again).
    pub url: Option<String>,
    /// Its link as the feed gives it (http or https), to fetch the article from.
    pub link: Option<String>,
    /// Headline.
    pub title: String,
    /// First words of its summary, plain text.
    pub summary: String,
    /// Publication (or update) time, ms since epoch; fetch time when the feed has none.
    pub published_at: i64,
}

/// Titles at least this similar (estimated Jaccard of 3-character shingles) are one story.
const SAME_STORY: f64 = 0.5;

/// A topic in the pool.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PoolTopic {
    /// Row id.
    pub id: i64,
    /// Feed name or `manual`.
    pub source: String,
    /// Category of the post about it.
    pub category: String,
    /// Headline.
    pub title: String,
    /// Summary from the feed.
    pub summary: String,
    /// Normalized link.
    pub url: Option<String>,
    /// The link as the feed gave it, fetchable (absent for topics stored before it was kept).
    pub link: Option<String>,
    /// ms since epoch.
    pub published_at: i64,
    /// `new`, `picked` or `skipped` (the same story was picked from another source).
    pub status: String,
    /// Members of its story across sources.
    pub cluster_size: u32,
}

/// A feed's last fetch, for the API and the conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FeedState {
    /// Feed name.
    pub name: String,
    /// Feed URL.
    pub url: String,
    /// Validator from the last fetch.
    #[serde(skip)]
    pub etag: Option<String>,
    /// Validator from the last fetch.
    #[serde(skip)]
    pub last_modified: Option<String>,
    /// ms since epoch; 0 before the first fetch.
    pub last_fetched_at: i64,
    /// `ok`, `not_modified`, `error` or `never`.
    pub last_status: String,
    /// The last error, for the operator.
    pub last_error: Option<String>,
    /// New topics from this feed so far.
    pub items_added: u64,
}

/// What to record after a fetch.
#[derive(Debug, Clone)]
pub enum FeedOutcome {
    /// Fetched; validators for next time.
    Ok {
        /// `ETag`.
        etag: Option<String>,
        /// `Last-Modified`.
        last_modified: Option<String>,
        /// New topics.
        added: u64,
    },
    /// 304.
    NotModified,
    /// Failed, with the reason.
    Error(String),
}

const TOPIC_COLUMNS: &str =
    "t.id, t.source, t.category, t.title, t.summary, t.url, t.published_at, t.status,
     (SELECT COUNT(*) FROM topic_pool c WHERE c.cluster = t.cluster), t.link";

fn topic(r: &Row) -> Result<PoolTopic, DbError> {
    Ok(PoolTopic {
        id: r.get(0)?,
        source: r.get(1)?,
        category: r.get(2)?,
        title: r.get(3)?,
        summary: r.get(4)?,
        url: r.get(5)?,
        published_at: r.get(6)?,
        status: r.get(7)?,
        cluster_size: r.get(8)?,
        link: r.get(9)?,
    })
}

/// Inserts one topic unless its URL or GUID was ever seen; joins it to the story of a similar
/// earlier title. Returns its id when it was new.
fn insert_topic(
    tx: &mut dyn Sql,
    source: &str,
    category: &str,
    weight: f64,
    manual: bool,
    item: &FeedItem,
) -> Result<Option<i64>, DbError> {
    let seen = tx
        .query_opt(
            "SELECT 1 FROM topic_pool WHERE (url = ?1 AND ?1 IS NOT NULL) OR (guid = ?2 AND ?2 IS NOT NULL) LIMIT 1",
            args![&item.url, &item.guid],
        )?
        .is_some();
    if seen {
        return Ok(None);
    }
    let signature = Signature::of(&item.title, 3);
    let bands = signature.bands();
    // The earliest sufficiently similar topic that shares a band is the story.
    let mut cluster = None;
    let rows = tx.query(
        &format!(
            "SELECT DISTINCT t.id, t.cluster, t.signature FROM topic_bands b JOIN topic_pool t ON t.id = b.topic
             WHERE b.band IN ({})",
            placeholders(1, bands.len())
        ),
        &bands.map(Value::from),
    )?;
    for row in rows {
        let (id, c, sig): (i64, i64, Vec<u8>) = (row.get(0)?, row.get(1)?, row.get(2)?);
        if Signature::from_bytes(&sig).is_some_and(|s| s.similarity(&signature) >= SAME_STORY)
            && cluster.is_none_or(|(best, _)| id < best)
        {
            cluster = Some((id, c));
        }
    }
    let id: i64 = tx
        .query_one(
            "INSERT INTO topic_pool (source, category, guid, url, title, summary, published_at, added_at, weight, manual, signature, link)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id",
            args![
                source,
                category,
                &item.guid,
                &item.url,
                &item.title,
                &item.summary,
                item.published_at,
                now_ms(),
                weight,
                manual,
                signature.to_bytes(),
                &item.link
            ],
        )?
        .get(0)?;
    tx.execute(
        "UPDATE topic_pool SET cluster = ?1 WHERE id = ?2",
        args![cluster.map_or(id, |(_, c)| c), id],
    )?;
    super::insert_bands(tx, "topic_bands", "topic", &bands, Value::from(id))?;
    Ok(Some(id))
}

impl Store {
    /// Adds a feed's items to the pool; returns how many were new.
    pub async fn add_feed_topics(
        &self,
        source: &str,
        category: &str,
        weight: f64,
        items: Vec<FeedItem>,
    ) -> Result<u64, StoreError> {
        let (source, category) = (source.to_owned(), category.to_owned());
        self.transaction(move |tx| {
            let mut added = 0;
            for item in &items {
                added +=
                    u64::from(insert_topic(tx, &source, &category, weight, false, item)?.is_some());
            }
            Ok(added)
        })
        .await
    }

    /// Queues a topic written by the operator; picked before any feed topic. `None` when the
    /// same title is already waiting.
    pub async fn add_manual_topic(
        &self,
        title: &str,
        category: &str,
    ) -> Result<Option<i64>, StoreError> {
        let item = FeedItem {
            guid: Some(format!(
                "manual:{}",
                crate::content::normalize::title(title)
            )),
            url: None,
            link: None,
            title: title.trim().to_owned(),
            summary: String::new(),
            published_at: now_ms(),
        };
        let category = category.to_owned();
        self.transaction(move |tx| insert_topic(tx, "manual", &category, 1.0, true, &item))
            .await
    }

    /// Picks the best waiting topic and marks it (and the rest of its story) used, atomically:
    /// manual topics first (oldest first); then feed topics ranked by recency (half-life one
    /// day) × source weight × (1 + ln(story size)), skipping sources picked within `cooldown_ms`
    /// and stories already written. `category` limits feed topics to one category.
    pub async fn pick_topic(
        &self,
        category: Option<String>,
        cooldown_ms: i64,
    ) -> Result<Option<PoolTopic>, StoreError> {
        self.transaction(move |tx| {
            let now = now_ms();
            let manual = tx.query_opt(
                "SELECT id FROM topic_pool WHERE status = 'new' AND manual = 1 ORDER BY id LIMIT 1",
                &[],
            )?;
            let chosen = match manual {
                Some(r) => Some(r.get::<i64>(0)?),
                None => {
                    let rows = tx.query(
                        "SELECT t.id, t.weight, t.published_at,
                                (SELECT COUNT(*) FROM topic_pool c WHERE c.cluster = t.cluster)
                         FROM topic_pool t
                         WHERE t.status = 'new' AND t.manual = 0 AND (CAST(?1 AS TEXT) IS NULL OR t.category = ?1)
                           AND NOT EXISTS (SELECT 1 FROM topic_pool c WHERE c.cluster = t.cluster AND c.status = 'picked')
                           AND NOT EXISTS (SELECT 1 FROM topic_pool s WHERE s.source = t.source AND s.status = 'picked' AND s.picked_at > ?2)
                         ORDER BY t.published_at DESC LIMIT 500",
                        args![&category, now - cooldown_ms],
                    )?;
                    let mut best: Option<(f64, i64)> = None;
                    for r in rows {
                        let (id, weight, published, size): (i64, f64, i64, i64) =
                            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                        let age_days = (now - published).max(0) as f64 / 86_400_000.0;
                        let rank = weight * 0.5f64.powf(age_days) * (1.0 + (size as f64).ln());
                        if best.is_none_or(|(b, _)| rank > b) {
                            best = Some((rank, id));
                        }
                    }
                    best.map(|(_, id)| id)
                }
            };
            let Some(id) = chosen else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE topic_pool SET status = 'picked', picked_at = ?2 WHERE id = ?1",
                args![id, now],
            )?;
            tx.execute(
                "UPDATE topic_pool SET status = 'skipped' WHERE cluster = (SELECT cluster FROM topic_pool WHERE id = ?1) AND status = 'new'",
                args![id],
            )?;
            let t = topic(&tx.query_one(
                &format!("SELECT {TOPIC_COLUMNS} FROM topic_pool t WHERE t.id = ?1"),
                args![id],
            )?)?;
            Ok(Some(t))
        })
        .await
    }

    /// The other items of a topic's story (its cluster) that have a link, newest first: the
    /// further sources of a post about it.
    pub async fn story_members(&self, id: i64, limit: usize) -> Result<Vec<PoolTopic>, StoreError> {
        self.call(move |c| {
            c.query(
                &format!(
                    "SELECT {TOPIC_COLUMNS} FROM topic_pool t
                     WHERE t.cluster = (SELECT cluster FROM topic_pool WHERE id = ?1) AND t.id <> ?1
                       AND t.url IS NOT NULL
                     ORDER BY t.published_at DESC, t.id LIMIT ?2"
                ),
                args![id, limit],
            )?
            .iter()
            .map(topic)
            .collect()
        })
        .await
    }

    /// Returns a picked topic (and the rest of its story) to the pool: its post was not
    /// written.
    pub async fn release_topic(&self, id: i64) -> Result<(), StoreError> {
        self.transaction(move |tx| {
            tx.execute(
                "UPDATE topic_pool SET status = 'new', picked_at = NULL WHERE id = ?1",
                args![id],
            )?;
            tx.execute(
                "UPDATE topic_pool SET status = 'new' WHERE cluster = (SELECT cluster FROM topic_pool WHERE id = ?1) AND status = 'skipped'",
                args![id],
            )?;
            Ok(())
        })
        .await
    }

    /// Topics in the pool, newest first; `status` filters.
    pub async fn list_topics(
        &self,
        status: Option<String>,
        limit: usize,
    ) -> Result<Vec<PoolTopic>, StoreError> {
        self.call(move |c| {
            c.query(
                &format!(
                    "SELECT {TOPIC_COLUMNS} FROM topic_pool t WHERE (CAST(?1 AS TEXT) IS NULL OR t.status = ?1) ORDER BY t.id DESC LIMIT ?2"
                ),
                args![status, limit],
            )?
            .iter()
            .map(topic)
            .collect()
        })
        .await
    }

    /// The fetch state of the feed at `url`.
    pub async fn feed_state(&self, url: &str) -> Result<Option<FeedState>, StoreError> {
        let url = url.to_owned();
        self.call(move |c| {
            c.query_opt(
                "SELECT name, url, etag, last_modified, last_fetched_at, last_status, last_error, items_added FROM feed_state WHERE url = ?1",
                args![url],
            )?
            .map(|r| {
                Ok(FeedState {
                    name: r.get(0)?,
                    url: r.get(1)?,
                    etag: r.get(2)?,
                    last_modified: r.get(3)?,
                    last_fetched_at: r.get(4)?,
                    last_status: r.get(5)?,
                    last_error: r.get(6)?,
                    items_added: r.get::<i64>(7)?.max(0) as u64,
                })
            })
            .transpose()
        })
        .await
    }

    /// Records a fetch's outcome (validators are kept across errors and 304s).
    pub async fn record_feed(
        &self,
        name: &str,
        url: &str,
        outcome: FeedOutcome,
    ) -> Result<(), StoreError> {
        let (name, url) = (name.to_owned(), url.to_owned());
        self.call(move |c| {
            c.execute(
                "INSERT INTO feed_state (url, name) VALUES (?1, ?2) ON CONFLICT (url) DO UPDATE SET name = ?2",
                args![&url, name],
            )?;
            let now = now_ms();
            match outcome {
                FeedOutcome::Ok { etag, last_modified, added } => c.execute(
                    "UPDATE feed_state SET etag = ?2, last_modified = ?3, last_fetched_at = ?4, last_status = 'ok',
                     last_error = NULL, items_added = items_added + ?5 WHERE url = ?1",
                    args![url, etag, last_modified, now, added],
                )?,
                FeedOutcome::NotModified => c.execute(
                    "UPDATE feed_state SET last_fetched_at = ?2, last_status = 'not_modified', last_error = NULL WHERE url = ?1",
                    args![url, now],
                )?,
                FeedOutcome::Error(e) => c.execute(
                    "UPDATE feed_state SET last_fetched_at = ?2, last_status = 'error', last_error = ?3 WHERE url = ?1",
                    args![url, now, e],
                )?,
            };
            Ok(())
        })
        .await
    }
}
