//! What outlives a restart of the operator's view: the alerts that went out and the recovery
//! actions taken (`ops_log`), and the dashboard's sessions (`sessions`, by hash of their id).

use super::sql::args;
use super::{Store, StoreError};
use crate::db::now_ms;

/// A kind of entry in the operations log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpsKind {
    /// An alert that went out (raise or resolve).
    Alert,
    /// A recovery action the monitor took.
    Recovery,
}

impl OpsKind {
    fn as_str(self) -> &'static str {
        match self {
            OpsKind::Alert => "alert",
            OpsKind::Recovery => "recovery",
        }
    }
}

/// How long log entries are kept.
pub const OPS_LOG_DAYS: i64 = 30;

fn hash(id: &str) -> String {
    crate::shared::sha256_hex(id.as_bytes())
}

impl Store {
    /// Appends entries (`at`, JSON body) of one kind, in one transaction.
    pub async fn log_ops(
        &self,
        kind: OpsKind,
        entries: Vec<(i64, String)>,
    ) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.transaction(move |tx| {
            for (at, body) in &entries {
                tx.execute(
                    "INSERT INTO ops_log (kind, at, body) VALUES (?1, ?2, ?3)",
                    args![kind.as_str(), *at, body],
                )?;
            }
            Ok(())
        })
        .await
    }

    /// The newest `limit` entries of a kind, newest first, as their JSON bodies.
    pub async fn ops_log(&self, kind: OpsKind, limit: usize) -> Result<Vec<String>, StoreError> {
        self.call(move |c| {
            c.query(
                "SELECT body FROM ops_log WHERE kind = ?1 ORDER BY at DESC, id DESC LIMIT ?2",
                args![kind.as_str(), limit],
            )?
            .iter()
            .map(|r| r.get::<String>(0))
            .collect()
        })
        .await
    }

    /// Stores a session: only the hash of `id` is kept.
    pub async fn put_session(
        &self,
        id: &str,
        csrf: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let (h, csrf) = (hash(id), csrf.to_owned());
        self.transaction(move |tx| {
            tx.execute(
                "DELETE FROM sessions WHERE expires_at <= ?1",
                args![now_ms()],
            )?;
            tx.execute(
                "INSERT INTO sessions (id_hash, csrf, expires_at) VALUES (?1, ?2, ?3)",
                args![&h, &csrf, expires_at],
            )?;
            Ok(())
        })
        .await
    }

    /// The CSRF token and expiry of a live session.
    pub async fn session(&self, id: &str) -> Result<Option<(String, i64)>, StoreError> {
        let h = hash(id);
        self.call(move |c| {
            c.query_opt(
                "SELECT csrf, expires_at FROM sessions WHERE id_hash = ?1 AND expires_at > ?2",
                args![&h, now_ms()],
            )?
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .transpose()
        })
        .await
    }

    /// Ends a session.
    pub async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        let h = hash(id);
        self.call(move |c| {
            c.execute("DELETE FROM sessions WHERE id_hash = ?1", args![&h])
                .map(|_| ())
        })
        .await
    }

    /// Drops log entries older than [`OPS_LOG_DAYS`] and expired sessions; returns rows removed.
    pub(super) async fn prune_history(&self) -> Result<u64, StoreError> {
        let cutoff = now_ms() - OPS_LOG_DAYS * 86_400_000;
        self.transaction(move |tx| {
            let log = tx.execute("DELETE FROM ops_log WHERE at < ?1", args![cutoff])?;
            let sessions = tx.execute(
                "DELETE FROM sessions WHERE expires_at <= ?1",
                args![now_ms()],
            )?;
            Ok(log + sessions)
        })
        .await
    }
}
