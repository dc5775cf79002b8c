//! Posts: stored, listed, reviewed and costed (the ledger of where they went is `ledger.rs`).

use serde::Serialize;

use super::sql::{Row, Sql, Value, args, placeholders};
use super::{PostTotals, Store, StoreError};
use crate::content::minhash::Signature;
use crate::content::{GeneratedPost, Provenance, QualityReport};
use crate::db::{DbError, now_ms};

/// Where a post is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostStatus {
    /// Passed the quality gate; publishing is queued.
    Ready,
    /// Below the quality threshold: waits for a human, never published automatically.
    Held,
    /// Every target holds it.
    Published,
    /// A reviewer turned it down: never published, out of the review queue.
    Rejected,
}

impl PostStatus {
    fn as_str(self) -> &'static str {
        match self {
            PostStatus::Ready => "ready",
            PostStatus::Held => "held",
            PostStatus::Published => "published",
            PostStatus::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "held" => PostStatus::Held,
            "published" => PostStatus::Published,
            "rejected" => PostStatus::Rejected,
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
    /// Its sources and what checking against them found.
    pub provenance: Provenance,
    /// Refuse the post if this many were stored since the given time: checked in the insert's
    /// transaction, so that processes sharing the store cannot pass the cap together.
    pub daily_cap: Option<DailyCap>,
}

/// A cap on posts stored since a moment (the start of the UTC day).
#[derive(Debug, Clone, Copy)]
pub struct DailyCap {
    /// Unix ms from which posts count.
    pub since_ms: i64,
    /// Posts allowed from then.
    pub posts: u32,
}

/// A stored post.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
    /// The earlier post it nearly repeats, when it was held as a near-duplicate.
    pub duplicate_of: Option<String>,
    /// The reviewer's decision, once there is one (or `pending` while it waits).
    pub review: Option<Review>,
    /// Its sources (`grounded`, `sources`), the claims they do not support and the links
    /// removed from its body.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// A review decision on a held post.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Review {
    /// `pending`, `approved` or `rejected`.
    pub state: String,
    /// The reviewer's note.
    pub note: Option<String>,
    /// When it was decided, ms since epoch.
    pub decided_at: Option<i64>,
}

/// Bodies at least this similar (estimated Jaccard of 9-character shingles) are the same post.
pub const NEAR_DUPLICATE: f64 = 0.5;
/// Shingle length for bodies: long enough to span words, so that posts sharing a vocabulary
/// but not sentences stay apart.
const BODY_SHINGLE: usize = 9;

/// A post without its body, for lists.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
    /// Why it is held (score, near-duplicate, review), when it is.
    pub hold_reason: Option<String>,
}

/// What a target holds a post as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PublicationState {
    /// Saved for an editor; readers cannot see it.
    Draft,
    /// Goes live at a set time.
    Scheduled,
    /// Readers can see it (for files and webhooks: delivered).
    Published,
}

impl PublicationState {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            PublicationState::Draft => "draft",
            PublicationState::Scheduled => "scheduled",
            PublicationState::Published => "published",
        }
    }

    pub(super) fn parse(word: &str) -> Self {
        match word {
            "draft" => PublicationState::Draft,
            "scheduled" => PublicationState::Scheduled,
            _ => PublicationState::Published,
        }
    }
}

/// A ledger row: `target` holds the post at `location`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Publication {
    /// Post id.
    pub post_id: String,
    /// Target name (`markdown`, …).
    pub target: String,
    /// File path or URL.
    pub location: String,
    /// When, ms since epoch.
    pub published_at: i64,
    /// What the target holds it as.
    pub state: PublicationState,
}

const POST_COLUMNS: &str = "id, job_id, slot, topic, keyword, category, language, title, slug, summary, tags, seo_title, \
     seo_description, seo_keywords, body, quality, status, provider, model, input_tokens, output_tokens, cost_usd, \
     generation_ms, attempts, created_at, published_at, hold_reason, provenance, duplicate_of, \
     (SELECT r.state FROM reviews r WHERE r.post_id = posts.id), \
     (SELECT r.note FROM reviews r WHERE r.post_id = posts.id), \
     (SELECT r.decided_at FROM reviews r WHERE r.post_id = posts.id)";

fn post_from_row(r: &Row) -> Result<Post, DbError> {
    let json_list = |i: usize| -> Result<Vec<String>, DbError> {
        Ok(serde_json::from_str(&r.get::<String>(i)?).unwrap_or_default())
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
        status: PostStatus::parse(&r.get::<String>(16)?),
        provider: r.get(17)?,
        model: r.get(18)?,
        input_tokens: r.get(19)?,
        output_tokens: r.get(20)?,
        cost_usd: r.get(21)?,
        generation_ms: r.get(22)?,
        attempts: r.get(23)?,
        created_at: r.get(24)?,
        published_at: r.get(25)?,
        hold_reason: r.get(26)?,
        provenance: serde_json::from_str(&r.get::<String>(27)?).unwrap_or_default(),
        duplicate_of: r.get(28)?,
        review: r.get::<Option<String>>(29)?.map(|state| Review {
            state,
            note: r.get(30).ok().flatten(),
            decided_at: r.get(31).ok().flatten(),
        }),
    })
}

/// The most similar earlier post at or above [`NEAR_DUPLICATE`], found through shared bands:
/// (id, title, similarity).
fn near_duplicate(
    tx: &mut dyn Sql,
    signature: &Signature,
) -> Result<Option<(String, String, f64)>, DbError> {
    let bands = signature.bands();
    // One query for every band: a round trip each would cost a server store milliseconds.
    let rows = tx.query(
        &format!(
            "SELECT DISTINCT s.post_id, s.signature, p.title FROM post_bands b
             JOIN post_signatures s ON s.post_id = b.post_id JOIN posts p ON p.id = s.post_id
             WHERE b.band IN ({})",
            placeholders(1, bands.len())
        ),
        &bands.map(Value::from),
    )?;
    let mut best: Option<(String, String, f64)> = None;
    for row in rows {
        let (id, sig, title): (String, Vec<u8>, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
        let Some(other) = Signature::from_bytes(&sig) else {
            continue;
        };
        let similarity = other.similarity(signature);
        if similarity >= NEAR_DUPLICATE
            && best
                .as_ref()
                .is_none_or(|b| similarity > b.2 || (similarity == b.2 && id < b.0))
        {
            best = Some((id, title, similarity));
        }
    }
    Ok(best)
}

impl Store {
    /// The post a job already wrote in `slot`, if any.
    pub async fn post_for_slot(&self, job_id: &str, slot: u32) -> Result<Option<Post>, StoreError> {
        let job_id = job_id.to_owned();
        self.call(move |c| {
            let sql = format!("SELECT {POST_COLUMNS} FROM posts WHERE job_id = ?1 AND slot = ?2");
            c.query_opt(&sql, args![job_id, slot])?
                .as_ref()
                .map(post_from_row)
                .transpose()
        })
        .await
    }

    /// Stores a post. Idempotent per `(job_id, slot)`: a second insert returns the first post.
    /// A slug already taken by another post gets a numeric suffix.
    pub async fn insert_post(&self, new: NewPost) -> Result<Post, StoreError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let signature = Signature::of(&new.post.body, BODY_SHINGLE);
        let id = self
            .transaction(move |tx| {
                if let Some(existing) = tx.query_opt(
                    "SELECT id FROM posts WHERE job_id = ?1 AND slot = ?2",
                    args![&new.job_id, new.slot],
                )? {
                    return Ok(Ok(existing.get::<String>(0)?));
                }
                if let Some(cap) = new.daily_cap {
                    let stored: i64 = tx
                        .query_one("SELECT COUNT(*) FROM posts WHERE created_at >= ?1", args![cap.since_ms])?
                        .get(0)?;
                    if stored >= i64::from(cap.posts) {
                        return Ok(Err(StoreError::Limit(format!(
                            "the daily post cap of {} is reached ({stored} written today)",
                            cap.posts
                        ))));
                    }
                }
                let base = new.post.slug.clone();
                let mut slug = base.clone();
                let mut n = 2;
                while tx.query_opt("SELECT 1 FROM posts WHERE slug = ?1", args![&slug])?.is_some() {
                    slug = format!("{base}-{n}");
                    n += 1;
                }
                // Inside the transaction, so two slots finishing at once cannot both pass.
                let twin = near_duplicate(tx, &signature)?;
                let (status, hold_reason, duplicate_of) = match &twin {
                    Some((other, title, similarity)) => (
                        PostStatus::Held,
                        Some(format!(
                            "near-duplicate of {title:?} ({other}), similarity {similarity:.2}: not published"
                        )),
                        Some(other.clone()),
                    ),
                    None => (new.status, new.hold_reason.clone(), None),
                };
                let p = &new.post;
                tx.execute(
                    "INSERT INTO posts (id, job_id, slot, topic, keyword, category, language, title, slug, summary, tags,
                         seo_title, seo_description, seo_keywords, body, quality_score, quality, status, provider, model,
                         input_tokens, output_tokens, cost_usd, generation_ms, attempts, created_at, hold_reason,
                         provenance, duplicate_of)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
                         ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)",
                    args![
                        &id, &new.job_id, new.slot, &new.topic, &new.keyword, &new.category, &new.language, &p.title, &slug,
                        &p.summary, serde_json::to_string(&p.tags).unwrap_or_default(), &p.seo_title, &p.seo_description,
                        serde_json::to_string(&p.seo_keywords).unwrap_or_default(), &p.body, new.quality.score,
                        serde_json::to_string(&new.quality).unwrap_or_default(), status.as_str(), &new.provider,
                        &new.model, new.input_tokens, new.output_tokens, new.cost_usd, new.generation_ms,
                        new.attempts, now_ms(), hold_reason,
                        serde_json::to_string(&new.provenance).unwrap_or_else(|_| "{}".into()),
                        duplicate_of
                    ],
                )?;
                if status == PostStatus::Held {
                    tx.execute(
                        "INSERT INTO reviews (post_id, state) VALUES (?1, 'pending') ON CONFLICT DO NOTHING",
                        args![&id],
                    )?;
                }
                // A held twin is not indexed: only what may be published counts as the archive.
                if twin.is_none() {
                    tx.execute(
                        "INSERT INTO post_signatures (post_id, signature) VALUES (?1, ?2)",
                        args![&id, signature.to_bytes()],
                    )?;
                    super::insert_bands(tx, "post_bands", "post_id", &signature.bands(), Value::from(&id))?;
                }
                Ok(Ok(id))
            })
            .await??;
        self.get_post(&id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("post {id}")))
    }

    /// One post.
    pub async fn get_post(&self, id: &str) -> Result<Option<Post>, StoreError> {
        let id = id.to_owned();
        self.call(move |c| {
            let sql = format!("SELECT {POST_COLUMNS} FROM posts WHERE id = ?1");
            c.query_opt(&sql, args![id])?
                .as_ref()
                .map(post_from_row)
                .transpose()
        })
        .await
    }

    /// Ids of posts that passed their gate and are not yet published everywhere, oldest first.
    pub async fn unpublished_post_ids(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        self.call(move |c| {
            c.query(
                "SELECT id FROM posts WHERE status = 'ready' ORDER BY created_at, id LIMIT ?1",
                args![limit],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect()
        })
        .await
    }

    /// Posts that passed their gate and that `target` does not hold yet: how many, and when
    /// the oldest was written (ms since epoch).
    pub async fn waiting_for(&self, target: &str) -> Result<(u64, Option<i64>), StoreError> {
        let target = target.to_owned();
        self.call(move |c| {
            let r = c.query_one(
                "SELECT COUNT(*), MIN(created_at) FROM posts p WHERE status = 'ready'
                 AND NOT EXISTS (SELECT 1 FROM publications WHERE post_id = p.id AND target = ?1)",
                args![target],
            )?;
            Ok((r.get(0)?, r.get(1)?))
        })
        .await
    }

    /// The newest posts, without bodies.
    pub async fn list_posts(&self, limit: usize) -> Result<Vec<PostSummary>, StoreError> {
        self.call(move |c| {
            c.query(
                "SELECT id, title, slug, status, quality_score, cost_usd, created_at, published_at,
                        hold_reason
                 FROM posts ORDER BY created_at DESC, id LIMIT ?1",
                args![limit],
            )?
            .iter()
            .map(|r| {
                Ok(PostSummary {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    slug: r.get(2)?,
                    status: PostStatus::parse(&r.get::<String>(3)?),
                    quality_score: r.get(4)?,
                    cost_usd: r.get(5)?,
                    created_at: r.get(6)?,
                    published_at: r.get(7)?,
                    hold_reason: r.get(8)?,
                })
            })
            .collect()
        })
        .await
    }

    /// Titles written recently about `keyword` (all keywords when `None`), newest first.
    pub async fn recent_titles(
        &self,
        keyword: Option<String>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.call(move |c| {
            c.query(
                "SELECT title FROM posts WHERE (CAST(?1 AS TEXT) IS NULL OR keyword = ?1) ORDER BY created_at DESC LIMIT ?2",
                args![keyword, limit],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect()
        })
        .await
    }

    /// Post counts by status and total cost.
    pub async fn post_totals(&self) -> Result<PostTotals, StoreError> {
        self.call(|c| {
            let mut totals = PostTotals::default();
            let rows = c.query(
                "SELECT status, COUNT(*), COALESCE(SUM(cost_usd), 0) FROM posts GROUP BY status",
                &[],
            )?;
            for r in rows {
                let (status, n, cost): (String, u64, f64) = (r.get(0)?, r.get(1)?, r.get(2)?);
                totals.total += n;
                totals.cost_usd += cost;
                match PostStatus::parse(&status) {
                    PostStatus::Ready => totals.ready += n,
                    PostStatus::Held => totals.held += n,
                    PostStatus::Published => totals.published += n,
                    PostStatus::Rejected => totals.rejected += n,
                }
            }
            Ok(totals)
        })
        .await
    }

    /// Approves a held post: it becomes `ready` (the caller queues its publication). Refused
    /// unless the post is held.
    pub async fn approve_post(&self, id: &str, note: Option<String>) -> Result<Post, StoreError> {
        self.decide(id, "approved", note).await
    }

    /// Rejects a held post: it becomes `rejected`, is never published, and leaves the review
    /// queue. Its hold reason stays (why it was held); the note is the review's.
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
            .transaction(move |tx| {
                let current = tx.query_opt(
                    "SELECT p.status, r.state FROM posts p LEFT JOIN reviews r ON r.post_id = p.id WHERE p.id = ?1",
                    args![&id],
                )?;
                let Some(current) = current else {
                    return Ok(Err(StoreError::NotFound(format!("post {id}"))));
                };
                let (status, review): (String, Option<String>) = (current.get(0)?, current.get(1)?);
                if status != "held" || review.as_deref() == Some("rejected") {
                    let status = if review.as_deref() == Some("rejected") { "rejected" } else { status.as_str() };
                    return Ok(Err(StoreError::Conflict(format!(
                        "post {id} is {status}: only held posts can be approved or rejected"
                    ))));
                }
                tx.execute(
                    "INSERT INTO reviews (post_id, state, decided_at, note) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (post_id) DO UPDATE SET state = ?2, decided_at = ?3, note = ?4",
                    args![&id, state, now_ms(), &note],
                )?;
                if state == "approved" {
                    tx.execute(
                        "UPDATE posts SET status = 'ready', hold_reason = NULL WHERE id = ?1",
                        args![&id],
                    )?;
                } else {
                    tx.execute("UPDATE posts SET status = 'rejected' WHERE id = ?1", args![&id])?;
                    // Only what may be published is the archive near-duplicates are held against.
                    tx.execute("DELETE FROM post_signatures WHERE post_id = ?1", args![&id])?;
                    tx.execute("DELETE FROM post_bands WHERE post_id = ?1", args![&id])?;
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
        self.call(move |c| {
            c.query(
                "SELECT p.id, p.quality_score, p.created_at FROM reviews r JOIN posts p ON p.id = r.post_id
                 WHERE r.state = 'pending' AND p.status = 'held' ORDER BY p.created_at LIMIT ?1",
                args![limit],
            )?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .collect()
        })
        .await
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
        self.call(move |c| {
            c.query_opt(
                "SELECT id, status FROM posts WHERE lower(trim(topic)) = ?1 AND category = ?2 AND language = ?3
                 AND created_at >= ?4 AND job_id != ?5 ORDER BY created_at DESC LIMIT 1",
                args![topic, category, language, since_ms, job_id],
            )?
            .map(|r| Ok((r.get(0)?, PostStatus::parse(&r.get::<String>(1)?))))
            .transpose()
        })
        .await
    }

    /// Posts written and their cost since `since_ms`.
    pub async fn spend_since(&self, since_ms: i64) -> Result<(u64, f64), StoreError> {
        self.call(move |c| {
            let r = c.query_one(
                "SELECT COUNT(*), COALESCE(SUM(cost_usd), 0) FROM posts WHERE created_at >= ?1",
                args![since_ms],
            )?;
            Ok((r.get(0)?, r.get(1)?))
        })
        .await
    }

    /// Posts and cost per UTC day (`YYYY-MM-DD`) since `since_ms`, oldest first.
    pub async fn spend_by_day(&self, since_ms: i64) -> Result<Vec<(String, u64, f64)>, StoreError> {
        self.call(move |c| {
            c.query(
                "SELECT created_at / 86400000 AS day, COUNT(*), COALESCE(SUM(cost_usd), 0)
                 FROM posts WHERE created_at >= ?1 GROUP BY day ORDER BY day",
                args![since_ms],
            )?
            .iter()
            .map(|r| {
                let day: i64 = r.get(0)?;
                let date = chrono::DateTime::from_timestamp(day * 86_400, 0)
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default();
                Ok((date, r.get(1)?, r.get(2)?))
            })
            .collect()
        })
        .await
    }

    /// Marks a post published (after every target holds it).
    pub async fn mark_published(&self, post_id: &str) -> Result<(), StoreError> {
        let post_id = post_id.to_owned();
        self.call(move |c| {
            c.execute(
                "UPDATE posts SET status = 'published', published_at = COALESCE(published_at, ?2) WHERE id = ?1",
                args![post_id, now_ms()],
            )?;
            Ok(())
        })
        .await
    }
}
