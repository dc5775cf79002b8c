//! The store: everything but jobs (topics, posts, publications, runs), in the SQLite file or,
//! for a deployment of several hosts, in PostgreSQL (`DATABASE_URL`). Every operation is
//! written once against [`sql::Sql`]; each backend has its own migrations.
//!
//! Writes that must be idempotent are keyed so that a retried job finds its earlier work:
//! posts by `(job_id, slot)`, publications by `(post_id, target)`.

mod history;
mod ledger;
mod metrics;
mod pg;
mod posts;
mod sources;
pub mod sql;
mod topics;
mod workers;

use serde::Serialize;

use sql::{Backend, Lite, Sql, Value, args};

pub use history::{OPS_LOG_DAYS, OpsKind};
pub use metrics::ROLLUP_MS;
pub use metrics::Sample;
pub use posts::{
    DailyCap, NewPost, Post, PostStatus, PostSummary, Publication, PublicationState, Review,
};
pub use sources::SourceRecord;
pub use topics::{FeedItem, FeedOutcome, FeedState, PoolTopic};
pub use workers::{
    HEARTBEAT_SECS, InFlight, LOST_AFTER_BEATS, WorkerInfo, host_name, process_identity,
};

use crate::db::{Db, DbError, now_ms};

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_metrics.sql"),
    include_str!("migrations/0003_topic_pool.sql"),
    include_str!("migrations/0004_near_duplicates.sql"),
    include_str!("migrations/0005_reviews.sql"),
    include_str!("migrations/0006_workers.sql"),
    include_str!("migrations/0007_leases.sql"),
    include_str!("migrations/0008_health.sql"),
    include_str!("migrations/0009_publication_state.sql"),
    include_str!("migrations/0010_sources.sql"),
    include_str!("migrations/0011_provenance.sql"),
    include_str!("migrations/0012_topic_link.sql"),
    include_str!("migrations/0013_rejected.sql"),
    include_str!("migrations/0014_ops_history.sql"),
    include_str!("migrations/0015_post_images.sql"),
];

/// PostgreSQL starts at the schema SQLite reached in its eight steps.
const PG_MIGRATIONS: &[&str] = &[
    include_str!("pg_migrations/0001_init.sql"),
    include_str!("pg_migrations/0002_publication_state.sql"),
    include_str!("pg_migrations/0003_sources.sql"),
    include_str!("pg_migrations/0004_provenance.sql"),
    include_str!("pg_migrations/0005_topic_link.sql"),
    include_str!("pg_migrations/0006_rejected.sql"),
    include_str!("pg_migrations/0007_ops_history.sql"),
    include_str!("pg_migrations/0008_post_images.sql"),
];

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// No such record.
    #[error("{0} not found")]
    NotFound(String),
    /// The record is not in a state that allows the change.
    #[error("{0}")]
    Conflict(String),
    /// A configured limit refuses the change (e.g. the daily post cap).
    #[error("{0}")]
    Limit(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(DbError::Sqlite(e))
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Db(DbError::Postgres(e))
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still running (or its process died; a later attempt has its own row).
    Running,
    /// Everything asked for was done.
    Succeeded,
    /// Some posts were written, some failed.
    Partial,
    /// Nothing was written.
    Failed,
    /// Posts are unwritten because no provider could take them; the job waits (no attempt
    /// spent) and the next attempt has its own row.
    Waiting,
}

impl RunStatus {
    fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::Waiting => "waiting",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "succeeded" => RunStatus::Succeeded,
            "partial" => RunStatus::Partial,
            "failed" => RunStatus::Failed,
            "waiting" => RunStatus::Waiting,
            _ => RunStatus::Running,
        }
    }
}

/// One execution of a job.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Run {
    /// Row id.
    pub id: i64,
    /// Queue job id.
    pub job_id: String,
    /// Job type.
    pub kind: String,
    /// Attempt number.
    pub attempt: u32,
    /// Start, ms since epoch.
    pub started_at: i64,
    /// End, ms since epoch.
    pub finished_at: Option<i64>,
    /// Outcome.
    pub status: RunStatus,
    /// Posts asked for.
    pub requested: u32,
    /// Posts written and queued for publishing (including ones from earlier attempts).
    pub generated: u32,
    /// Posts held for review.
    pub held: u32,
    /// Posts that failed.
    pub failed: u32,
    /// First error, if any.
    pub error: Option<String>,
}

/// Counters for a run's end.
#[derive(Debug, Clone, Default)]
pub struct RunOutcome {
    /// Posts written.
    pub generated: u32,
    /// Posts held.
    pub held: u32,
    /// Posts failed.
    pub failed: u32,
    /// First error.
    pub error: Option<String>,
}

/// Totals for the API.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct PostTotals {
    /// All posts.
    pub total: u64,
    /// Waiting to be published.
    pub ready: u64,
    /// Held for review.
    pub held: u64,
    /// Published.
    pub published: u64,
    /// Turned down by a reviewer.
    pub rejected: u64,
    /// Sum of generation cost, USD.
    pub cost_usd: f64,
}

/// Indexes `id` under each of `bands` in `table` (`post_bands` or `topic_bands`, whose second
/// column is `column`), in one statement.
fn insert_bands(
    tx: &mut dyn Sql,
    table: &str,
    column: &str,
    bands: &[i64],
    id: Value,
) -> Result<(), DbError> {
    let rows = (1..=bands.len())
        .map(|i| format!("(?{i}, ?{})", bands.len() + 1))
        .collect::<Vec<_>>()
        .join(", ");
    let mut values: Vec<Value> = bands.iter().copied().map(Value::from).collect();
    values.push(id);
    tx.execute(
        &format!("INSERT INTO {table} (band, {column}) VALUES {rows} ON CONFLICT DO NOTHING"),
        &values,
    )?;
    Ok(())
}

/// Handle to the store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    conn: Conn,
}

#[derive(Debug, Clone)]
enum Conn {
    Sqlite(Db),
    Postgres(pg::PgDb),
}

impl Store {
    /// Opens the store on the SQLite `db`, applying migrations.
    pub async fn open(db: Db) -> Result<Self, StoreError> {
        db.call(|c| crate::db::migrate(c, "store", MIGRATIONS))
            .await?;
        Ok(Self {
            conn: Conn::Sqlite(db),
        })
    }

    /// Opens the store on the PostgreSQL database at `url`, applying migrations.
    pub async fn connect_postgres(url: &str) -> Result<Self, StoreError> {
        let db = pg::PgDb::connect(url).await?;
        db.migrate("store", PG_MIGRATIONS).await?;
        Ok(Self {
            conn: Conn::Postgres(db),
        })
    }

    /// Where the store is, for messages: the SQLite file, or `host:port/database`.
    pub fn location(&self) -> String {
        match &self.conn {
            Conn::Sqlite(db) => db.path().display().to_string(),
            Conn::Postgres(db) => format!("PostgreSQL at {}", db.display()),
        }
    }

    /// Which engine holds the store.
    pub fn backend(&self) -> Backend {
        match self.conn {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs `f` on the store's connection.
    async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut dyn Sql) -> Result<R, DbError> + Send + 'static,
        R: Send + 'static,
    {
        Ok(match &self.conn {
            Conn::Sqlite(db) => db.call(move |c| f(&mut Lite(c))).await?,
            Conn::Postgres(db) => db.call(f).await?,
        })
    }

    /// Runs `f` in one write transaction (one at a time, on either backend).
    async fn transaction<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut dyn Sql) -> Result<R, DbError> + Send + 'static,
        R: Send + 'static,
    {
        Ok(match &self.conn {
            Conn::Sqlite(db) => db.transaction(move |tx| f(&mut Lite(tx))).await?,
            Conn::Postgres(db) => db.transaction(f).await?,
        })
    }

    /// Proves the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.call(|c| {
            c.query_one("SELECT 1", &[])?;
            Ok(())
        })
        .await
    }

    /// Releases the database connection's page cache (self-healing under memory pressure).
    pub async fn shrink_memory(&self) -> Result<(), StoreError> {
        match &self.conn {
            Conn::Sqlite(db) => Ok(db
                .call(|c| Ok(c.execute_batch("PRAGMA shrink_memory;")?))
                .await?),
            // The server's memory is the server's: nothing held here to release.
            Conn::Postgres(_) => Ok(()),
        }
    }

    /// Picks the least recently used of `keywords` and marks it used, atomically, so that
    /// parallel generations write about different keywords.
    pub async fn reserve_keyword(&self, keywords: Vec<String>) -> Result<String, StoreError> {
        let now = now_ms();
        self.transaction(move |tx| {
            let mut pick: Option<(i64, usize)> = None;
            for (i, k) in keywords.iter().enumerate() {
                let last: i64 = match tx.query_opt(
                    "SELECT last_used_at FROM keyword_usage WHERE keyword = ?1",
                    args![k],
                )? {
                    Some(r) => r.get(0)?,
                    None => 0,
                };
                if pick.is_none_or(|(best, _)| last < best) {
                    pick = Some((last, i));
                }
            }
            let keyword = keywords[pick.map_or(0, |(_, i)| i)].clone();
            // Strictly increasing so that two picks in the same millisecond still rotate.
            let newest: i64 = tx
                .query_one("SELECT COALESCE(MAX(last_used_at), 0) FROM keyword_usage", &[])?
                .get(0)?;
            tx.execute(
                "INSERT INTO keyword_usage (keyword, uses, last_used_at) VALUES (?1, 1, ?2)
                 ON CONFLICT (keyword) DO UPDATE SET uses = keyword_usage.uses + 1, last_used_at = ?2",
                args![&keyword, now.max(newest + 1)],
            )?;
            Ok(keyword)
        })
        .await
    }

    /// Records that a topic was written about.
    pub async fn record_topic(
        &self,
        title: &str,
        source: &str,
        keyword: Option<&str>,
        post_id: &str,
    ) -> Result<(), StoreError> {
        let (title, source, keyword, post_id) = (
            title.to_owned(),
            source.to_owned(),
            keyword.map(str::to_owned),
            post_id.to_owned(),
        );
        let normalized = crate::shared::slug::slugify(&title);
        self.call(move |c| {
            c.execute(
                "INSERT INTO topics (title, normalized, source, keyword, post_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                args![title, normalized, source, keyword, post_id, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    /// Starts a run row and returns its id.
    pub async fn start_run(
        &self,
        job_id: &str,
        kind: &str,
        attempt: u32,
        requested: u32,
    ) -> Result<i64, StoreError> {
        let (job_id, kind) = (job_id.to_owned(), kind.to_owned());
        self.call(move |c| {
            c.query_one(
                "INSERT INTO runs (job_id, kind, attempt, started_at, status, requested) VALUES (?1, ?2, ?3, ?4, 'running', ?5) RETURNING id",
                args![job_id, kind, attempt, now_ms(), requested],
            )?
            .get(0)
        })
        .await
    }

    /// Ends a run.
    pub async fn finish_run(
        &self,
        id: i64,
        status: RunStatus,
        outcome: RunOutcome,
    ) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "UPDATE runs SET finished_at = ?2, status = ?3, generated = ?4, held = ?5, failed = ?6, error = ?7 WHERE id = ?1",
                args![id, now_ms(), status.as_str(), outcome.generated, outcome.held, outcome.failed, outcome.error],
            )?;
            Ok(())
        })
        .await
    }

    /// The newest runs.
    pub async fn recent_runs(&self, limit: usize) -> Result<Vec<Run>, StoreError> {
        self.call(move |c| {
            c.query(
                "SELECT id, job_id, kind, attempt, started_at, finished_at, status, requested, generated, held, failed, error
                 FROM runs ORDER BY id DESC LIMIT ?1",
                args![limit],
            )?
            .iter()
            .map(|r| {
                Ok(Run {
                    id: r.get(0)?, job_id: r.get(1)?, kind: r.get(2)?, attempt: r.get(3)?, started_at: r.get(4)?,
                    finished_at: r.get(5)?, status: RunStatus::parse(&r.get::<String>(6)?), requested: r.get(7)?,
                    generated: r.get(8)?, held: r.get(9)?, failed: r.get(10)?, error: r.get(11)?,
                })
            })
            .collect()
        })
        .await
    }

    /// Deletes runs older than `max_age_ms` and lets the database tidy up. Returns rows
    /// removed.
    pub async fn cleanup(&self, max_age_ms: i64) -> Result<u64, StoreError> {
        let removed = self
            .call(move |c| {
                c.execute(
                    "DELETE FROM runs WHERE started_at < ?1 AND status != 'running'",
                    args![now_ms() - max_age_ms],
                )
            })
            .await?
            + self.prune_history().await?;
        match &self.conn {
            Conn::Sqlite(db) => {
                db.call(|c| {
                    Ok(c.execute_batch("PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);")?)
                })
                .await?
            }
            // Autovacuum tidies up on the server.
            Conn::Postgres(_) => {}
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rebuild of `posts` (migration 13) on a database in use: a post held and rejected
    /// under the old rule becomes `rejected`, every other row and every reference to a post
    /// survives, and foreign keys are enforced again afterwards.
    #[tokio::test]
    async fn the_posts_rebuild_keeps_every_row_and_reference() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("store.db")).unwrap();
        db.call(|c| {
            crate::db::migrate(c, "store", &MIGRATIONS[..12])?;
            let post = |id: &str, status: &str| {
                format!(
                    "INSERT INTO posts (id, job_id, slot, topic, category, language, title, slug, summary, tags,
                        seo_title, seo_description, seo_keywords, body, quality_score, quality, status, provider,
                        model, input_tokens, output_tokens, cost_usd, generation_ms, attempts, created_at, hold_reason)
                     VALUES ('{id}', 'j-{id}', 0, 't', 'AI', 'en', 'T {id}', 's-{id}', '', '[]', '', '', '[]', 'b', 80,
                        '{{}}', '{status}', 'p', 'm', 1, 1, 0.0, 1, 1, 1, 'rejected: off topic');"
                )
            };
            c.execute_batch(&format!(
                "{}{}{}
                 INSERT INTO reviews (post_id, state, decided_at, note) VALUES ('a', 'rejected', 5, 'off topic');
                 INSERT INTO reviews (post_id, state) VALUES ('b', 'pending');
                 INSERT INTO publications (post_id, target, location, published_at) VALUES ('c', 'markdown', 'x.md', 1);
                 INSERT INTO post_signatures (post_id, signature) VALUES ('c', x'00');",
                post("a", "held"),
                post("b", "held"),
                post("c", "published"),
            ))?;
            Ok(())
        })
        .await
        .unwrap();
        let store = Store::open(db.clone()).await.unwrap();
        let status = |id: &'static str| {
            let store = store.clone();
            async move { store.get_post(id).await.unwrap().unwrap().status }
        };
        assert_eq!(status("a").await, PostStatus::Rejected);
        assert_eq!(status("b").await, PostStatus::Held);
        assert_eq!(status("c").await, PostStatus::Published);
        assert_eq!(store.publications("c").await.unwrap().len(), 1);
        let enforced: Result<(), DbError> = db
            .call(|c| {
                c.execute(
                    "INSERT INTO publications (post_id, target, location, published_at) VALUES ('nope', 'm', 'x', 1)",
                    [],
                )?;
                Ok(())
            })
            .await;
        assert!(enforced.is_err(), "foreign keys are on again");
    }
}
