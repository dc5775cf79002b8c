//! The processes of a deployment and their in-flight jobs, kept by heartbeats so that the API
//! and the dashboard can list them. A process that stops beating (killed, host lost) is shown
//! as `lost` until its row ages out.

use serde::{Deserialize, Serialize};

use super::sql::args;
use super::{Store, StoreError};
use crate::db::now_ms;

/// A job a process is running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InFlight {
    /// Queue name.
    pub queue: String,
    /// Job id.
    pub job_id: String,
}

/// One process, as its last heartbeat described it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WorkerInfo {
    /// `host-pid-start`, unique per process start (see [`process_identity`]).
    pub id: String,
    /// `all` (`blogflow run`), `serve` or `worker`.
    pub role: String,
    /// Host name.
    pub host: String,
    /// Process id on its host.
    pub pid: u32,
    /// Started at, ms since epoch.
    pub started_at: i64,
    /// Last heartbeat, ms since epoch.
    pub beat_at: i64,
    /// `alive`, or `lost` when it missed three heartbeats.
    pub status: String,
    /// Jobs running there at the last heartbeat.
    pub in_flight: Vec<InFlight>,
}

/// This process's id in the worker list and in leases: `host-pid-start`, made once.
pub fn process_identity() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let host = host_name();
        format!("{host}-{}-{}", std::process::id(), now_ms() % 100_000)
    })
}

/// The host's name, `unknown` when the system does not say.
pub fn host_name() -> String {
    sysinfo::System::host_name().unwrap_or_else(|_| "unknown".into())
}

/// Seconds between heartbeats; three missed ones make a process `lost` in `/api/workers`.
pub const HEARTBEAT_SECS: u64 = 5;
/// Processes missing this many heartbeats are `lost`.
pub const LOST_AFTER_BEATS: i64 = 3;
/// Rows of processes silent for this long are removed.
const FORGET_AFTER_MS: i64 = 24 * 3_600_000;

impl Store {
    /// Records a heartbeat of process `id`.
    pub async fn worker_beat(
        &self,
        id: String,
        role: &'static str,
        host: String,
        started_at: i64,
        in_flight: Vec<InFlight>,
    ) -> Result<(), StoreError> {
        let jobs = serde_json::to_string(&in_flight).expect("in-flight jobs serialize");
        self.call(move |c| {
            c.execute(
                "INSERT INTO workers (id, role, host, pid, started_at, beat_at, in_flight)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at, in_flight = excluded.in_flight",
                args![id, role, host, std::process::id(), started_at, now_ms(), jobs],
            )?;
            c.execute(
                "DELETE FROM workers WHERE beat_at < ?1",
                args![now_ms() - FORGET_AFTER_MS],
            )?;
            Ok(())
        })
        .await
    }

    /// Takes or renews the lease `name` for `holder` until `ttl_ms` from now; true when
    /// `holder` holds it (it was free, expired or already its own).
    pub async fn lead(
        &self,
        name: String,
        holder: String,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        self.call(move |c| {
            let now = now_ms();
            let current = c.query_opt(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                 WHERE leases.holder = excluded.holder OR leases.expires_at < ?4
                 RETURNING holder",
                args![name, &holder, now + ttl_ms, now],
            )?;
            // No row: another holder's lease is still running.
            Ok(current.is_some())
        })
        .await
    }

    /// Keeps `body` (a serialised health snapshot checked at `checked_at`) unless a newer one
    /// is stored.
    pub async fn save_health(&self, checked_at: i64, body: String) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO health_snapshot (id, checked_at, body) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at, body = excluded.body
                 WHERE excluded.checked_at >= health_snapshot.checked_at",
                args![checked_at, body],
            )?;
            Ok(())
        })
        .await
    }

    /// The newest stored health snapshot, if it is newer than `after` (ms since epoch).
    pub async fn health_after(&self, after: i64) -> Result<Option<String>, StoreError> {
        self.call(move |c| {
            c.query_opt(
                "SELECT body FROM health_snapshot WHERE id = 1 AND checked_at > ?1",
                args![after],
            )?
            .map(|r| r.get(0))
            .transpose()
        })
        .await
    }

    /// Removes process `id` (it is shutting down cleanly).
    pub async fn worker_gone(&self, id: String) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute("DELETE FROM workers WHERE id = ?1", args![id])?;
            Ok(())
        })
        .await
    }

    /// Every known process, newest heartbeat first; those silent for `LOST_AFTER_BEATS`
    /// heartbeats of `interval_ms` are `lost`.
    pub async fn workers(&self, interval_ms: i64) -> Result<Vec<WorkerInfo>, StoreError> {
        let lost_before = now_ms() - LOST_AFTER_BEATS * interval_ms;
        self.call(move |c| {
            c.query(
                "SELECT id, role, host, pid, started_at, beat_at, in_flight FROM workers ORDER BY beat_at DESC",
                &[],
            )?
            .iter()
            .map(|r| {
                let beat_at: i64 = r.get(5)?;
                let jobs: String = r.get(6)?;
                Ok(WorkerInfo {
                    id: r.get(0)?,
                    role: r.get(1)?,
                    host: r.get(2)?,
                    pid: r.get(3)?,
                    started_at: r.get(4)?,
                    beat_at,
                    status: if beat_at < lost_before { "lost" } else { "alive" }.into(),
                    in_flight: serde_json::from_str(&jobs).unwrap_or_default(),
                })
            })
            .collect()
        })
        .await
    }
}
