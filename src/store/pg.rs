//! The PostgreSQL store connection: like the SQLite one, one connection owned by one thread
//! that runs the store's closures in order, so the store's code is the same on both.
//!
//! - Reconnects before the next call after the connection is lost (server restart, network).
//! - Every store transaction first takes one transaction-scoped advisory lock, so write
//!   transactions of all processes run one at a time, as SQLite's writers do: each
//!   check-then-write (the daily cap, near-duplicates, slugs, keyword rotation) stays exact
//!   across hosts without per-statement locking. Reads outside transactions run in parallel.

use std::collections::HashMap;
use std::time::Duration;

use super::sql::{Pg, Sql};
use crate::db::{DbError, Owner, now_ms};

/// The advisory lock key of store write transactions ("blogflow" in ASCII, truncated).
const WRITE_LOCK: i64 = 0x626c_6f67_666c_6f77;

struct Conn {
    config: postgres::Config,
    live: Option<Live>,
    /// After a failed connect, calls fail at once until then with its error, so that calls
    /// queued during an outage do not each wait out a connect timeout in turn.
    down: Option<(std::time::Instant, String)>,
}

/// How long a failed connect answers for the calls after it.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// A connection with the statements prepared on it.
struct Live {
    client: postgres::Client,
    cache: HashMap<String, postgres::Statement>,
}

impl Conn {
    fn live(&mut self) -> Result<&mut Live, DbError> {
        if self.live.as_ref().is_none_or(|l| l.client.is_closed()) {
            if let Some((until, error)) = &self.down
                && std::time::Instant::now() < *until
            {
                return Err(DbError::Sql(error.clone()));
            }
            match self.config.connect(postgres::NoTls) {
                Ok(client) => {
                    self.down = None;
                    self.live = Some(Live {
                        client,
                        cache: HashMap::new(),
                    });
                }
                Err(e) => {
                    let error = match e.as_db_error() {
                        // The server answered: say what it said ("database \"blog\" does
                        // not exist", "password authentication failed for user …").
                        Some(db) => format!(
                            "PostgreSQL refused the connection: {} ({})",
                            db.message(),
                            db.code().code()
                        ),
                        None => format!("PostgreSQL is unreachable: {e}"),
                    };
                    self.down = Some((std::time::Instant::now() + RECONNECT_AFTER, error.clone()));
                    return Err(DbError::Sql(error));
                }
            }
        }
        Ok(self.live.as_mut().expect("connected above"))
    }

    /// After a failure the connection may be unusable: check it before the next call.
    fn after(&mut self, failed: bool) {
        if failed
            && self
                .live
                .as_mut()
                .is_some_and(|l| l.client.is_valid(Duration::from_secs(2)).is_err())
        {
            self.live = None;
        }
    }
}

/// Handle to the PostgreSQL connection thread. Cheap to clone.
#[derive(Clone)]
pub struct PgDb {
    owner: Owner<Conn>,
    display: String,
}

impl std::fmt::Debug for PgDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDb")
            .field("server", &self.display)
            .finish()
    }
}

impl PgDb {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/database`) and starts the
    /// connection's thread. The URL may hold a password: it is never logged or shown.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        let config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            DbError::Sql(format!(
                "DATABASE_URL is not a PostgreSQL URL ({e}); expected postgres://user:password@host:5432/database"
            ))
        })?;
        let display = describe(&config);
        let mut config = config;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        let conn = Conn {
            config,
            live: None,
            down: None,
        };
        let owner = Owner::spawn("blogflow-postgres", conn, |c| c.live = None)
            .map_err(|e| DbError::Sql(format!("cannot start the database thread: {e}")))?;
        let db = Self { owner, display };
        // Connect now, so a wrong URL or an unreachable server is reported at start.
        db.call(|c| {
            c.query_one("SELECT 1", &[])?;
            Ok(())
        })
        .await
        .map_err(|e| DbError::Sql(format!("cannot reach PostgreSQL at {}: {e}", db.display)))?;
        Ok(db)
    }

    /// `host:port/database`, for messages.
    pub fn display(&self) -> &str {
        &self.display
    }

    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<R, DbError> + Send + 'static,
    ) -> Result<R, DbError> {
        self.owner
            .run(move |conn| {
                let out = f(conn);
                conn.after(out.is_err());
                out
            })
            .await
    }

    /// Runs `f` outside a transaction.
    pub async fn call<R, F>(&self, f: F) -> Result<R, DbError>
    where
        F: FnOnce(&mut dyn Sql) -> Result<R, DbError> + Send + 'static,
        R: Send + 'static,
    {
        self.run(move |conn| {
            let Live { client, cache } = conn.live()?;
            f(&mut Pg { client, cache })
        })
        .await
    }

    /// Runs `f` in one transaction that holds the store's write lock; committed when `f`
    /// returns `Ok`.
    pub async fn transaction<R, F>(&self, f: F) -> Result<R, DbError>
    where
        F: FnOnce(&mut dyn Sql) -> Result<R, DbError> + Send + 'static,
        R: Send + 'static,
    {
        self.run(move |conn| {
            let Live { client, cache } = conn.live()?;
            let mut tx = client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
            let out = f(&mut Pg {
                client: &mut tx,
                cache,
            })?;
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    /// Applies the not-yet-applied `migrations`, under the write lock so that processes
    /// starting together apply each once.
    pub async fn migrate(
        &self,
        component: &'static str,
        migrations: &'static [&'static str],
    ) -> Result<(), DbError> {
        self.run(move |conn| {
            let Live { client, cache } = conn.live()?;
            client.batch_execute(
                "CREATE TABLE IF NOT EXISTS _migrations (
                    component TEXT NOT NULL,
                    version BIGINT NOT NULL,
                    applied_at BIGINT NOT NULL,
                    PRIMARY KEY (component, version)
                )",
            )?;
            for (i, sql) in migrations.iter().enumerate() {
                let version = i as i64 + 1;
                let mut tx = client.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
                let applied: i64 = tx
                    .query_one(
                        "SELECT COALESCE(MAX(version), 0) FROM _migrations WHERE component = $1",
                        &[&component],
                    )?
                    .get(0);
                if version <= applied {
                    continue;
                }
                tx.batch_execute(sql)?;
                tx.execute(
                    "INSERT INTO _migrations (component, version, applied_at) VALUES ($1, $2, $3)",
                    &[&component, &version, &now_ms()],
                )?;
                tx.commit()?;
            }
            cache.clear();
            Ok(())
        })
        .await
    }
}

/// `host:port/database` of a configuration, without user or password.
fn describe(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(h) => h.clone(),
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or(""))
}
