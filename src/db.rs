//! The embedded SQLite database: one file, one connection, one thread.
//!
//! Every statement runs on a dedicated OS thread that owns the connection. Async callers send
//! closures over a channel and await the reply, so the async runtime never blocks on disk I/O
//! and the queue's hot path pays a channel hop (~µs) instead of a `spawn_blocking` hand-off and
//! a mutex. SQLite serialises writers anyway; one owner thread makes that explicit and keeps
//! transactions short and ordered. WAL mode lets other processes (a `blogflow status` or a
//! second host on a shared disk) read while we write.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

/// Errors from the embedded database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite reported an error (constraint, I/O, corrupt file, …).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database file or its folder could not be opened or created.
    #[error("cannot open database {path}: {reason}")]
    Open {
        /// The file we tried to open.
        path: PathBuf,
        /// What went wrong, in words an operator can act on.
        reason: String,
    },
    /// The database thread is gone (process shutting down).
    #[error("database is closed")]
    Closed,
    /// PostgreSQL reported an error, or the server cannot be reached.
    #[error("database error: {0}")]
    Postgres(#[from] postgres::Error),
    /// A statement's result did not have the expected shape.
    #[error("database error: {0}")]
    Sql(String),
}

/// A closure run on an [`Owner`]'s thread.
type Call<C> = Box<dyn FnOnce(&mut C) + Send>;

/// A value (a database connection) owned by one OS thread that runs the closures sent to it,
/// in order. The SQLite file and the PostgreSQL store each have one.
pub(crate) struct Owner<C> {
    tx: mpsc::UnboundedSender<Call<C>>,
}

impl<C> Clone for Owner<C> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<C: Send + 'static> Owner<C> {
    /// Starts the thread `name` owning `state`; it stops when the last clone drops.
    /// `after_panic` repairs the state after a closure panicked.
    pub(crate) fn spawn(
        name: &str,
        mut state: C,
        after_panic: fn(&mut C),
    ) -> std::io::Result<Self> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Call<C>>();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                while let Some(call) = rx.blocking_recv() {
                    // A panicking closure must not take the database down with it: its caller
                    // sees `Closed` (the reply is dropped), every other caller carries on.
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call(&mut state)))
                        .is_err()
                    {
                        tracing::error!(
                            "a database call panicked; the call failed, the database thread goes on"
                        );
                        after_panic(&mut state);
                    }
                }
            })?;
        Ok(Self { tx })
    }

    /// Runs `f` on the thread and returns its result.
    pub(crate) async fn run<R, F>(&self, f: F) -> Result<R, DbError>
    where
        F: FnOnce(&mut C) -> Result<R, DbError> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Box::new(move |state| {
                let _ = reply.send(f(state));
            }))
            .map_err(|_| DbError::Closed)?;
        rx.await.map_err(|_| DbError::Closed)?
    }
}

/// Handle to the database thread. Cheap to clone; the thread stops when the last clone drops.
#[derive(Clone)]
pub struct Db {
    owner: Owner<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish()
    }
}

impl Db {
    /// Opens (creating if needed) the SQLite file at `path` in WAL mode and starts its thread.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::shared::private::create_dir(dir).map_err(|e| DbError::Open {
                path: path.to_path_buf(),
                reason: format!("cannot create folder {}: {e}", dir.display()),
            })?;
        }
        // The file first, 0600: SQLite would create it world-readable (0644 under the usual
        // umask), and gives its WAL and shared-memory files the database's mode.
        if path != Path::new(":memory:") {
            crate::shared::private::create_file(path).map_err(|e| DbError::Open {
                path: path.to_path_buf(),
                reason: format!("cannot create the database file: {e}"),
            })?;
        }
        let conn = Connection::open(path).map_err(|e| DbError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        configure(&conn).map_err(|e| DbError::Open {
            path: path.to_path_buf(),
            reason: format!("{e} (is it a SQLite database? move it aside to start fresh)"),
        })?;
        let owner = Owner::spawn("blogflow-sqlite", conn, |_| {}).map_err(|e| DbError::Open {
            path: path.to_path_buf(),
            reason: format!("cannot start the database thread: {e}"),
        })?;
        Ok(Self {
            owner,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the database thread and returns its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R, DbError>
    where
        F: FnOnce(&mut Connection) -> Result<R, DbError> + Send + 'static,
        R: Send + 'static,
    {
        self.owner.run(f).await
    }

    /// Runs `f` inside one `BEGIN IMMEDIATE` transaction, committed when it returns `Ok`.
    pub async fn transaction<R, F>(&self, f: F) -> Result<R, DbError>
    where
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<R, DbError> + Send + 'static,
        R: Send + 'static,
    {
        self.call(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })
        .await
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    // WAL + NORMAL: durable against process crashes (kill -9), an OS crash may lose the last
    // transactions but never corrupts the file. That is the trade every embedded queue makes.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Any read proves the file is a database before we hand it out.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
    Ok(())
}

/// Applies the not-yet-applied `migrations` of one component, each in its own transaction.
///
/// Components (queue, store) version their schemas independently in `_migrations`, so the
/// queue can live on a database it does not own.
pub fn migrate(conn: &mut Connection, component: &str, migrations: &[&str]) -> Result<(), DbError> {
    // SQLite changes a constraint only by rebuilding the table, which a foreign key to it
    // would refuse (or cascade). Its documented procedure: keys off outside the transaction,
    // checked inside it before the commit, on again after.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let applied = apply(conn, component, migrations);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    applied
}

fn apply(conn: &mut Connection, component: &str, migrations: &[&str]) -> Result<(), DbError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS _migrations (
            component TEXT NOT NULL,
            version INTEGER NOT NULL,
            applied_at INTEGER NOT NULL,
            PRIMARY KEY (component, version)
        )",
    )?;
    for (i, sql) in migrations.iter().enumerate() {
        let version = i as i64 + 1;
        // Read the version inside the write transaction: several processes (a `serve` and
        // its `worker`s on one host) may start on the same file at once.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let applied: i64 = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM _migrations WHERE component = ?1",
            [component],
            |r| r.get(0),
        )?;
        if version <= applied {
            continue;
        }
        tx.execute_batch(sql)?;
        let broken: i64 =
            tx.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })?;
        if broken > 0 {
            return Err(DbError::Sql(format!(
                "{component} migration {version} leaves {broken} rows whose foreign keys point nowhere"
            )));
        }
        tx.execute(
            "INSERT INTO _migrations (component, version, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![component, version, now_ms()],
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// Milliseconds since the Unix epoch: the one time unit stored in the database.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn migrations_apply_once_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let steps = ["CREATE TABLE a (x)", "ALTER TABLE a ADD COLUMN y"];
        for _ in 0..2 {
            db.call(move |c| migrate(c, "test", &steps)).await.unwrap();
        }
        let cols: i64 = db
            .call(|c| {
                Ok(
                    c.query_row("SELECT count(*) FROM pragma_table_info('a')", [], |r| {
                        r.get(0)
                    })?,
                )
            })
            .await
            .unwrap();
        assert_eq!(cols, 2);
    }

    #[tokio::test]
    async fn a_panicking_call_fails_alone_and_the_database_keeps_serving() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let failed = db
            .call(|_| -> Result<(), DbError> { panic!("bug in a query closure") })
            .await;
        assert!(matches!(failed, Err(DbError::Closed)));
        let one: i64 = db
            .call(|c| Ok(c.query_row("SELECT 1", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(one, 1);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.db");
        std::fs::write(
            &path,
            b"this is not sqlite, just text that is long enough to matter",
        )
        .unwrap();
        let err = Db::open(&path).unwrap_err().to_string();
        assert!(err.contains("bad.db"), "{err}");
    }
}
