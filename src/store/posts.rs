//! Posts and their publication ledger.

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::{PostTotals, Store, StoreError};
use crate::content::{GeneratedPost, QualityReport};
use crate::db::now_ms;
use crate::topics::minhash::Signature;

/// Where a post is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PostStatus {
    /// Passed the quality gate; publishing is queued.
    Ready,
    /// Below the quality threshold: waits for a human, never published automatically.
    Held,
    /// Every target holds it.
    Published,
}

impl PostStatus {
    fn as_str(self) -> &'static str {
        match self {
            PostStatus::Ready => "ready",
            PostStatus::Held => "held",
            PostStatus::Published => "published",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "held" => PostStatus::Held,
            "published" => PostStatus::Published,
            _ => PostStatus::Ready,
        }
    }
}

/// A post to store.
#[derive(Debug, Clone)]
pub struct NewPost {
    /// Generating job.
    pub job_id: String,
    /// Index of the post within the job.
    pub slot: u32,
    /// What it is about.
    pub topic: String,
    /// Keyword it was picked from, if any.
    pub keyword: Option<String>,
    /// Category.
    pub category: String,
    /// Language code.
    pub language: String,
    /// The model's post.
    pub post: GeneratedPost,
    /// Its score.
    pub quality: QualityReport,
    /// Ready or held.
    pub status: PostStatus,
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Prompt tokens over all attempts.
    pub input_tokens: u32,
    /// Completion tokens over all attempts.
    pub output_tokens: u32,
    /// USD over all attempts.
    pub cost_usd: f64,
    /// Wall time over all attempts, ms.
    pub generation_ms: u64,
    /// Generations it took.
    pub attempts: u32,
    /// Why it is held, besides its score (e.g. review mode).
    pub hold_reason: Option<String>,
}

/// A stored post.
#[derive(Debug, Clone, Serialize)]
pub struct Post {
    /// Id.
    pub id: String,
    /// Generating job.
    pub job_id: String,
    /// Index within the job.
    pub slot: u32,
    /// Topic.
    pub topic: String,
    /// Keyword.
    pub keyword: Option<String>,
    /// Category.
    pub category: String,
    /// Language code.
    pub language: String,
    /// Title, slug, summary, tags, SEO fields and body.
    #[serde(flatten)]
    pub content: GeneratedPost,
    /// Quality score and parts.
    pub quality: QualityReport,
    /// Status.
    pub status: PostStatus,
    /// Provider.
    pub provider: String,
    /// Model.
    pub model: String,
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Completion tokens.
    pub output_tokens: u32,
    /// USD.
    pub cost_usd: f64,
    /// Generation wall time, ms.
    pub generation_ms: u64,
    /// Generations it took.
    pub attempts: u32,
    /// Stored at, ms since epoch.
    pub created_at: i64,
    /// Published at, ms since epoch.
    pub published_at: Option<i64>,
    /// Why it is held, when that is not (only) its quality score: a near-duplicate.
    pub hold_reason: Option<String>,
}

/// Bodies at least this similar (estimated Jaccard of 9-character shingles) are the same post.
pub const NEAR_DUPLICATE: f64 = 0.5;
/// Shingle length for bodies: long enough to span words, so that posts sharing a vocabulary
/// but not sentences stay apart.
const BODY_SHINGLE: usize = 9;

/// A post without its body, for lists.
#[derive(Debug, Clone, Serialize)]
pub struct PostSummary {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Slug.
    pub slug: String,
    /// Status.
    pub status: PostStatus,
    /// Score.
    pub quality_score: u8,
    /// USD.
    pub cost_usd: f64,
    /// Stored at.
    pub created_at: i64,
    /// Published at.
    pub published_at: Option<i64>,
}

/// A ledger row: `target` holds the post at `location`.
#[derive(Debug, Clone, Serialize)]
pub struct Publication {
    /// Post id.
    pub post_id: String,
    /// Target name (`markdown`, …).
    pub target: String,
    /// File path or URL.
    pub location: String,
    /// When, ms since epoch.
    pub published_at: i64,
}

const POST_COLUMNS: &str = "id, job_id, slot, topic, keyword, category, language, title, slug, summary, tags, seo_title, \
     seo_description, seo_keywords, body, quality, status, provider, model, input_tokens, output_tokens, cost_usd, \
     generation_ms, attempts, created_at, published_at, hold_reason";

fn post_from_row(r: &Row<'_>) -> rusqlite::Result<Post> {
    let json_list = |i: usize| -> rusqlite::Result<Vec<String>> {
        Ok(serde_json::from_str(&r.get::<_, String>(i)?).unwrap_or_default())
    };
    let quality: String = r.get(15)?;
    Ok(Post {
        id: r.get(0)?,
        job_id: r.get(1)?,
        slot: r.get(2)?,
        topic: r.get(3)?,
        keyword: r.get(4)?,
        category: r.get(5)?,
        language: r.get(6)?,
        content: GeneratedPost {
            title: r.get(7)?,
            slug: r.get(8)?,
            summary: r.get(9)?,
            tags: json_list(10)?,
            seo_title: r.get(11)?,
            seo_description: r.get(12)?,
            seo_keywords: json_list(13)?,
            body: r.get(14)?,
        },
        quality: serde_json::from_str(&quality).unwrap_or(QualityReport {
            score: 0,
            parts: vec![],
            forbidden: vec![],
        }),
        status: PostStatus::parse(&r.get::<_, String>(16)?),
        provider: r.get(17)?,
        model: r.get(18)?,
        input_tokens: r.get(19)?,
        output_tokens: r.get(20)?,
        cost_usd: r.get(21)?,
        generation_ms: r.get::<_, i64>(22)? as u64,
        attempts: r.get(23)?,
        created_at: r.get(24)?,
        published_at: r.get(25)?,
        hold_reason: r.get(26)?,
    })
}

/// The most similar earlier post at or above [`NEAR_DUPLICATE`], found through shared bands:
/// (id, title, similarity).
fn near_duplicate(
    tx: &rusqlite::Transaction<'_>,
    signature: &Signature,
) -> rusqlite::Result<Option<(String, String, f64)>> {
    let mut stmt = tx.prepare_cached(
        "SELECT DISTINCT s.post_id, s.signature, p.title FROM post_bands b
         JOIN post_signatures s ON s.post_id = b.post_id JOIN posts p ON p.id = s.post_id WHERE b.band = ?1",
    )?;
    let mut best: Option<(String, String, f64)> = None;
    for band in signature.bands() {
        let rows = stmt.query_map([band], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (id, sig, title) = row?;
            let Some(other) = Signature::from_bytes(&sig) else {
                continue;
            };
            let similarity = other.similarity(signature);
            if similarity >= NEAR_DUPLICATE && best.as_ref().is_none_or(|b| similarity > b.2) {
                best = Some((id, title, similarity));
            }
        }
    }
    Ok(best)
}

impl Store {
    /// The post a job already wrote in `slot`, if any.
    pub async fn post_for_slot(&self, job_id: &str, slot: u32) -> Result<Option<Post>, StoreError> {
        let job_id = job_id.to_owned();
        Ok(self
            .db
            .call(move |c| {
                let sql =
                    format!("SELECT {POST_COLUMNS} FROM posts WHERE job_id = ?1 AND slot = ?2");
                Ok(c.prepare_cached(&sql)?
                    .query_row(params![job_id, slot], post_from_row)
                    .optional()?)
            })
            .await?)
    }

    /// Stores a post. Idempotent per `(job_id, slot)`: a second insert returns the first post.
    /// A slug already taken by another post gets a numeric suffix.
    pub async fn insert_post(&self, new: NewPost) -> Result<Post, StoreError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let signature = Signature::of(&new.post.body, BODY_SHINGLE);
        let id = self
            .db
            .transaction(move |tx| {
                if let Some(existing) = tx
                    .query_row("SELECT id FROM posts WHERE job_id = ?1 AND slot = ?2", params![new.job_id, new.slot], |r| r.get::<_, String>(0))
                    .optional()?
                {
                    return Ok(existing);
                }
                let base = new.post.slug.clone();
                let mut slug = base.clone();
                let mut n = 2;
                while tx.query_row("SELECT 1 FROM posts WHERE slug = ?1", [&slug], |_| Ok(())).optional()?.is_some() {
                    slug = format!("{base}-{n}");
                    n += 1;
                }
                // Inside the transaction, so two slots finishing at once cannot both pass.
                let twin = near_duplicate(tx, &signature)?;
                let (status, hold_reason) = match &twin {
                    Some((other, title, similarity)) => (
                        PostStatus::Held,
                        Some(format!(
                            "near-duplicate of {title:?} ({other}), similarity {similarity:.2}: not published"
                        )),
                    ),
                    None => (new.status, new.hold_reason.clone()),
                };
                let p = &new.post;
                tx.execute(
                    "INSERT INTO posts (id, job_id, slot, topic, keyword, category, language, title, slug, summary, tags,
                         seo_title, seo_description, seo_keywords, body, quality_score, quality, status, provider, model,
                         input_tokens, output_tokens, cost_usd, generation_ms, attempts, created_at, hold_reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
                         ?21, ?22, ?23, ?24, ?25, ?26, ?27)",
                    params![
                        id, new.job_id, new.slot, new.topic, new.keyword, new.category, new.language, p.title, slug,
                        p.summary, serde_json::to_string(&p.tags).unwrap_or_default(), p.seo_title, p.seo_description,
                        serde_json::to_string(&p.seo_keywords).unwrap_or_default(), p.body, new.quality.score,
                        serde_json::to_string(&new.quality).unwrap_or_default(), status.as_str(), new.provider,
                        new.model, new.input_tokens, new.output_tokens, new.cost_usd, new.generation_ms as i64,
                        new.attempts, now_ms(), hold_reason
                    ],
                )?;
                if status == PostStatus::Held {
                    tx.execute(
                        "INSERT OR IGNORE INTO reviews (post_id, state) VALUES (?1, 'pending')",
                        [&id],
                    )?;
                }
                // A held twin is not indexed: only what may be published counts as the archive.
                if twin.is_none() {
                    tx.execute(
                        "INSERT INTO post_signatures (post_id, signature) VALUES (?1, ?2)",
                        params![id, signature.to_bytes()],
                    )?;
                    let mut band = tx.prepare_cached("INSERT OR IGNORE INTO post_bands (band, post_id) VALUES (?1, ?2)")?;
                    for b in signature.bands() {
                        band.execute(params![b, id])?;
                    }
                }
                Ok(id)
            })
            .await?;
        self.get_post(&id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("post {id}")))
    }

    /// One post.
    pub async fn get_post(&self, id: &str) -> Result<Option<Post>, StoreError> {
        let id = id.to_owned();
        Ok(self
            .db
            .call(move |c| {
                let sql = format!("SELECT {POST_COLUMNS} FROM posts WHERE id = ?1");
                Ok(c.prepare_cached(&sql)?
                    .query_row([id], post_from_row)
                    .optional()?)
            })
            .await?)
    }

    /// The newest posts, without bodies.
    pub async fn list_posts(&self, limit: usize) -> Result<Vec<PostSummary>, StoreError> {
        Ok(self
            .db
            .call(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT id, title, slug, status, quality_score, cost_usd, created_at, published_at
                     FROM posts ORDER BY created_at DESC, id LIMIT ?1",
                )?;
                let posts = stmt
                    .query_map([limit as i64], |r| {
                        Ok(PostSummary {
                            id: r.get(0)?, title: r.get(1)?, slug: r.get(2)?, status: PostStatus::parse(&r.get::<_, String>(3)?),
                            quality_score: r.get(4)?, cost_usd: r.get(5)?, created_at: r.get(6)?, published_at: r.get(7)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(posts)
            })
            .await?)
    }

    /// Titles written recently about `keyword` (all keywords when `None`), newest first.
    pub async fn recent_titles(
        &self,
        keyword: Option<String>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        Ok(self
            .db
            .call(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT title FROM posts WHERE (?1 IS NULL OR keyword = ?1) ORDER BY created_at DESC LIMIT ?2",
                )?;
                let titles = stmt.query_map(params![keyword, limit as i64], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
                Ok(titles)
            })
            .await?)
    }

    /// Post counts by status and total cost.
    pub async fn post_totals(&self) -> Result<PostTotals, StoreError> {
        Ok(self
            .db
            .call(|c| {
                let mut totals = PostTotals::default();
                let mut stmt = c.prepare_cached("SELECT status, COUNT(*), COALESCE(SUM(cost_usd), 0) FROM posts GROUP BY status")?;
                let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64, r.get::<_, f64>(2)?)))?;
                for row in rows {
                    let (status, n, cost) = row?;
                    totals.total += n;
                    totals.cost_usd += cost;
                    match PostStatus::parse(&status) {
                        PostStatus::Ready => totals.ready += n,
                        PostStatus::Held => totals.held += n,
                        PostStatus::Published => totals.published += n,
                    }
                }
                Ok(totals)
            })
            .await?)
    }

    /// Approves a held post: it becomes `ready` (the caller queues its publication). Refused
    /// unless the post is held.
    pub async fn approve_post(&self, id: &str, note: Option<String>) -> Result<Post, StoreError> {
        self.decide(id, "approved", note).await
    }

    /// Rejects a held post: it stays held, is never published, and leaves the review queue.
    pub async fn reject_post(&self, id: &str, note: Option<String>) -> Result<Post, StoreError> {
        self.decide(id, "rejected", note).await
    }

    async fn decide(
        &self,
        id: &str,
        state: &'static str,
        note: Option<String>,
    ) -> Result<Post, StoreError> {
        let id = id.to_owned();
        let post_id = id.clone();
        let decided: Result<(), StoreError> = self
            .db
            .transaction(move |tx| {
                let current: Option<(String, Option<String>)> = tx
                    .query_row(
                        "SELECT p.status, r.state FROM posts p LEFT JOIN reviews r ON r.post_id = p.id WHERE p.id = ?1",
                        [&id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let Some((status, review)) = current else {
                    return Ok(Err(StoreError::NotFound(format!("post {id}"))));
                };
                if status != "held" || review.as_deref() == Some("rejected") {
                    return Ok(Err(StoreError::Conflict(format!(
                        "post {id} is {}: only held posts can be approved or rejected",
                        if review.as_deref() == Some("rejected") { "rejected" } else { status.as_str() }
                    ))));
                }
                tx.execute(
                    "INSERT INTO reviews (post_id, state, decided_at, note) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (post_id) DO UPDATE SET state = ?2, decided_at = ?3, note = ?4",
                    params![id, state, now_ms(), note],
                )?;
                if state == "approved" {
                    tx.execute(
                        "UPDATE posts SET status = 'ready', hold_reason = NULL WHERE id = ?1",
                        [&id],
                    )?;
                } else {
                    tx.execute(
                        "UPDATE posts SET hold_reason = ?2 WHERE id = ?1",
                        params![id, format!("rejected{}", note.map(|n| format!(": {n}")).unwrap_or_default())],
                    )?;
                }
                Ok(Ok(()))
            })
            .await?;
        decided?;
        self.get_post(&post_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("post {post_id}")))
    }

    /// Held posts waiting for a decision, oldest first, with their score and creation time.
    pub async fn pending_reviews(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, u8, i64)>, StoreError> {
        Ok(self
            .db
            .call(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT p.id, p.quality_score, p.created_at FROM reviews r JOIN posts p ON p.id = r.post_id
                     WHERE r.state = 'pending' AND p.status = 'held' ORDER BY p.created_at LIMIT ?1",
                )?;
                let rows = stmt
                    .query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await?)
    }

    /// The newest post about `topic` (case and surrounding space ignored) in `category` and
    /// `language` created since `since_ms` by another job than `job_id`: the generation cache.
    pub async fn recent_post_for_topic(
        &self,
        job_id: &str,
        topic: &str,
        category: &str,
        language: &str,
        since_ms: i64,
    ) -> Result<Option<(String, PostStatus)>, StoreError> {
        let (job_id, topic, category, language) = (
            job_id.to_owned(),
            topic.trim().to_lowercase(),
            category.to_owned(),
            language.to_owned(),
        );
        Ok(self
            .db
            .call(move |c| {
                Ok(c.query_row(
                    "SELECT id, status FROM posts WHERE lower(trim(topic)) = ?1 AND category = ?2 AND language = ?3
                     AND created_at >= ?4 AND job_id != ?5 ORDER BY created_at DESC LIMIT 1",
                    params![topic, category, language, since_ms, job_id],
                    |r| Ok((r.get::<_, String>(0)?, PostStatus::parse(&r.get::<_, String>(1)?))),
                )
                .optional()?)
            })
            .await?)
    }

    /// Posts written and their cost since `since_ms`.
    pub async fn spend_since(&self, since_ms: i64) -> Result<(u64, f64), StoreError> {
        Ok(self
            .db
            .call(move |c| {
                Ok(c.query_row(
                    "SELECT COUNT(*), COALESCE(SUM(cost_usd), 0) FROM posts WHERE created_at >= ?1",
                    [since_ms],
                    |r| Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get::<_, f64>(1)?)),
                )?)
            })
            .await?)
    }

    /// Posts and cost per UTC day (`YYYY-MM-DD`) since `since_ms`, oldest first.
    pub async fn spend_by_day(&self, since_ms: i64) -> Result<Vec<(String, u64, f64)>, StoreError> {
        Ok(self
            .db
            .call(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT strftime('%Y-%m-%d', created_at / 1000, 'unixepoch') AS day, COUNT(*), COALESCE(SUM(cost_usd), 0)
                     FROM posts WHERE created_at >= ?1 GROUP BY day ORDER BY day",
                )?;
                let rows = stmt
                    .query_map([since_ms], |r| {
                        Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64, r.get(2)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await?)
    }

    /// The ledger row of `(post, target)`, if the target holds the post.
    pub async fn publication(
        &self,
        post_id: &str,
        target: &str,
    ) -> Result<Option<Publication>, StoreError> {
        let (post_id, target) = (post_id.to_owned(), target.to_owned());
        Ok(self
            .db
            .call(move |c| {
                Ok(c.prepare_cached("SELECT post_id, target, location, published_at FROM publications WHERE post_id = ?1 AND target = ?2")?
                    .query_row(params![post_id, target], |r| {
                        Ok(Publication { post_id: r.get(0)?, target: r.get(1)?, location: r.get(2)?, published_at: r.get(3)? })
                    })
                    .optional()?)
            })
            .await?)
    }

    /// Records that `target` holds the post. Recording twice keeps the first row.
    pub async fn record_publication(
        &self,
        post_id: &str,
        target: &str,
        location: &str,
    ) -> Result<(), StoreError> {
        let (post_id, target, location) =
            (post_id.to_owned(), target.to_owned(), location.to_owned());
        Ok(self
            .db
            .call(move |c| {
                c.execute(
                    "INSERT INTO publications (post_id, target, location, published_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (post_id, target) DO NOTHING",
                    params![post_id, target, location, now_ms()],
                )?;
                Ok(())
            })
            .await?)
    }

    /// Every ledger row of a post.
    pub async fn publications(&self, post_id: &str) -> Result<Vec<Publication>, StoreError> {
        let post_id = post_id.to_owned();
        Ok(self
            .db
            .call(move |c| {
                let mut stmt = c.prepare_cached("SELECT post_id, target, location, published_at FROM publications WHERE post_id = ?1 ORDER BY target")?;
                let rows = stmt
                    .query_map([post_id], |r| Ok(Publication { post_id: r.get(0)?, target: r.get(1)?, location: r.get(2)?, published_at: r.get(3)? }))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await?)
    }

    /// Marks a post published (after every target holds it).
    pub async fn mark_published(&self, post_id: &str) -> Result<(), StoreError> {
        let post_id = post_id.to_owned();
        Ok(self
            .db
            .call(move |c| {
                c.execute(
                    "UPDATE posts SET status = 'published', published_at = COALESCE(published_at, ?2) WHERE id = ?1",
                    params![post_id, now_ms()],
                )?;
                Ok(())
            })
            .await?)
    }
}
