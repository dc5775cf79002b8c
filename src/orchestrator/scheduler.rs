//! Cron schedules. A tick only enqueues a job whose id is derived from the schedule and the
//! tick time, so two schedulers (or a restart within the same tick) enqueue it once.
//! Ticks missed while the process was down are not replayed: the next tick comes on time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::{Schedule, ScheduleAction};
use crate::generate::GenerateRequest;
use crate::jobs::{JobType, generation_job};
use crate::queue::{AddOutcome, NewJob, Queue, QueueBackend};

/// What the API shows of a schedule.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ScheduleStatus {
    /// Last tick, RFC 3339.
    pub last_tick: Option<String>,
    /// Job id of the last tick (enqueued or found).
    pub last_job_id: Option<String>,
    /// What the last tick did: `enqueued`, `duplicate`, `skipped (paused)` or an error.
    pub last_outcome: Option<String>,
}

/// The loop records that it is alive at least this often.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// Status per schedule name.
pub type ScheduleBook = Arc<Mutex<HashMap<String, ScheduleStatus>>>;

/// The job a schedule enqueues at `tick`.
pub fn tick_job(
    schedule: &Schedule,
    tick: DateTime<Utc>,
    job_attempts: u32,
) -> (&'static str, NewJob) {
    let id = format!("sched-{}-{}", schedule.name, tick.timestamp());
    let (kind, job) = match schedule.action {
        ScheduleAction::Generate { count } => (
            JobType::ContentGeneration,
            generation_job(
                &GenerateRequest {
                    count,
                    topic: None,
                    category: None,
                },
                job_attempts,
            ),
        ),
        ScheduleAction::Cleanup => (
            JobType::Cleanup,
            NewJob::new(JobType::Cleanup.name(), serde_json::json!({})),
        ),
        ScheduleAction::HealthCheck => (
            JobType::HealthCheck,
            NewJob::new(JobType::HealthCheck.name(), serde_json::json!({})),
        ),
    };
    (kind.queue(), job.with_id(id))
}

/// The next tick after `after` and the schedules due at it.
pub fn next_tick(
    schedules: &[Schedule],
    after: DateTime<Utc>,
) -> Option<(DateTime<Utc>, Vec<&Schedule>)> {
    let next = schedules
        .iter()
        .filter_map(|s| s.cron.after(&after).next())
        .min()?;
    let due = schedules
        .iter()
        .filter(|s| s.cron.after(&after).next() == Some(next))
        .collect();
    Some((next, due))
}

/// Where the search for the next tick resumes after firing `tick`: from now if the process
/// was suspended past further ticks (a paused VM, a laptop lid), so that they are skipped, not
/// fired back to back.
pub fn resume_after(tick: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    tick.max(now)
}

/// Runs the tick loop until `cancel`. `generation_paused` is asked at each generate tick.
pub async fn run(
    schedules: Vec<Schedule>,
    queue: QueueBackend,
    job_attempts: u32,
    book: ScheduleBook,
    generation_paused: impl Fn() -> bool + Send,
    beat: Arc<AtomicI64>,
    cancel: CancellationToken,
) {
    let mut after = Utc::now();
    loop {
        beat.store(crate::db::now_ms(), Ordering::Relaxed);
        let Some((tick, due)) = next_tick(&schedules, after) else {
            tracing::info!("no schedules configured");
            cancel.cancelled().await;
            return;
        };
        // Wake at least every HEARTBEAT so that the self-healing check can tell a live loop
        // waiting for a distant tick from a dead one.
        let wait = (tick - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait.min(HEARTBEAT)) => {}
        }
        if wait > HEARTBEAT {
            continue;
        }
        for schedule in due {
            let (queue_name, job) = tick_job(schedule, tick, job_attempts);
            let id = job.id.clone().unwrap_or_default();
            let outcome = if matches!(schedule.action, ScheduleAction::Generate { .. })
                && generation_paused()
            {
                "skipped (paused)".to_owned()
            } else {
                match queue.add(queue_name, job).await {
                    Ok(AddOutcome::Added(_)) => "enqueued".to_owned(),
                    Ok(AddOutcome::Duplicate(_)) => "duplicate".to_owned(),
                    Err(e) => format!("error: {e}"),
                }
            };
            tracing::debug!(schedule = %schedule.name, job_id = %id, %outcome, "schedule tick");
            book.lock().expect("schedule book").insert(
                schedule.name.clone(),
                ScheduleStatus {
                    last_tick: Some(tick.to_rfc3339()),
                    last_job_id: Some(id),
                    last_outcome: Some(outcome),
                },
            );
        }
        after = resume_after(tick, Utc::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Env, RawConfig};

    fn schedules() -> Vec<Schedule> {
        Config::validate(RawConfig::default(), &Env::default())
            .unwrap()
            .0
            .schedules
    }

    #[test]
    fn default_ticks_are_every_two_hours_at_two_and_every_thirty_seconds() {
        let s = schedules();
        let start: DateTime<Utc> = "2026-11-26T01:59:40Z".parse().unwrap();
        let (t, due) = next_tick(&s, start).unwrap();
        assert_eq!(
            (t.to_rfc3339(), due.len()),
            ("2026-11-26T02:00:00+00:00".into(), 3),
            "generate, cleanup and health all fire at 02:00"
        );
        let (t, due) = next_tick(&s, t).unwrap();
        assert_eq!(
            (t.to_rfc3339(), due[0].name.as_str()),
            ("2026-11-26T02:00:30+00:00".into(), "health")
        );
        let generate = &s[0];
        let after: Vec<String> = generate
            .cron
            .after(&start)
            .take(3)
            .map(|t| t.format("%H:%M").to_string())
            .collect();
        assert_eq!(after, ["02:00", "04:00", "06:00"]);
    }

    #[test]
    fn ticks_missed_while_suspended_are_skipped_not_replayed() {
        let s = schedules();
        let fired: DateTime<Utc> = "2026-11-26T02:00:00Z".parse().unwrap();
        let woke: DateTime<Utc> = "2026-11-26T05:10:07Z".parse().unwrap();
        let (next, _) = next_tick(&s, resume_after(fired, woke)).unwrap();
        assert_eq!(
            next.to_rfc3339(),
            "2026-11-26T05:10:30+00:00",
            "the next tick after waking, not 02:00:30"
        );
        let on_time: DateTime<Utc> = "2026-11-26T02:00:00.004Z".parse().unwrap();
        let (next, _) = next_tick(&s, resume_after(fired, on_time)).unwrap();
        assert_eq!(
            next.to_rfc3339(),
            "2026-11-26T02:00:30+00:00",
            "no tick is lost in the normal case"
        );
    }

    #[test]
    fn a_tick_always_yields_the_same_job_id() {
        let s = schedules();
        let tick: DateTime<Utc> = "2026-11-26T02:00:00Z".parse().unwrap();
        let (q1, a) = tick_job(&s[0], tick, 3);
        let (_, b) = tick_job(&s[0], tick, 3);
        assert_eq!(q1, "content-generation");
        assert_eq!(a.id, b.id);
        assert_eq!(a.id.as_deref(), Some("sched-generate-1795658400"));
        assert_eq!(a.payload["count"], 5);
        let (q2, c) = tick_job(&s[1], tick, 3);
        assert_eq!((q2, c.name.as_str()), ("system-maintenance", "cleanup"));
    }
}
