//! Jobs in BullMQ's hash layout: validation, options, and jobs read back from their records.

use super::super::{Backoff, Job, JobState, NewJob, QueueError, ms};
use super::*;
use serde_json::{Value, json};
use std::collections::HashMap;

pub(super) fn validate(job: &NewJob) -> Result<(), QueueError> {
    crate::queue::validate_new_job(job)?;
    if let Some(id) = &job.id
        && id.len() > MAX_ID_LEN
    {
        return Err(QueueError::Invalid(format!(
            "job id is {} bytes long; at most {MAX_ID_LEN} are allowed",
            id.len()
        )));
    }
    Ok(())
}

/// The job's options as BullMQ stores them (`opts` field), plus blogflow's `backoff.maxDelay`.
pub(super) fn bullmq_opts(job: &NewJob) -> Value {
    let backoff = match job.options.backoff {
        Backoff::Fixed { delay_ms } => json!({ "type": "fixed", "delay": delay_ms }),
        Backoff::Exponential {
            base_ms,
            max_ms,
            jitter,
        } => {
            json!({ "type": "exponential", "delay": base_ms, "jitter": jitter, "maxDelay": max_ms })
        }
    };
    json!({
        "attempts": job.options.attempts,
        "backoff": backoff,
        "delay": ms(job.options.delay),
        "priority": job.options.priority,
    })
}

/// A stored JSON field; BullMQ producers in other languages store what they like, so anything
/// that is not JSON is kept as a string rather than refused.
pub(super) fn json_field(raw: Option<&String>) -> Option<Value> {
    raw.map(|s| serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())))
}

pub(super) fn num<T: std::str::FromStr>(fields: &HashMap<String, String>, name: &str) -> Option<T> {
    fields.get(name).and_then(|v| v.parse().ok())
}

/// `opts.attempts` of a stored job (BullMQ: absent or 0 means one attempt).
pub(super) fn max_attempts(opts: &Value) -> u32 {
    opts.get("attempts")
        .and_then(Value::as_u64)
        .map_or(1, |n| n.clamp(1, u64::from(u32::MAX)) as u32)
}

pub(super) fn job_from_record(queue: &str, (id, state, fields, run_at): Record) -> Job {
    let state = JobState::parse(&state).unwrap_or(JobState::Waiting);
    let opts = json_field(fields.get("opts")).unwrap_or(Value::Null);
    let created_at: i64 = num(&fields, "timestamp").unwrap_or(0);
    let atm: u32 = num(&fields, "atm").unwrap_or(0);
    Job {
        queue: queue.to_owned(),
        name: fields.get("name").cloned().unwrap_or_default(),
        payload: json_field(fields.get("data")).unwrap_or(Value::Null),
        state,
        priority: num(&fields, "priority").unwrap_or(0),
        // BullMQ counts the completing attempt in `atm`; blogflow counts failed ones.
        attempts_made: if state == JobState::Completed {
            atm.saturating_sub(1)
        } else {
            atm
        },
        attempts_started: num(&fields, "ats").unwrap_or(0),
        max_attempts: max_attempts(&opts),
        stalled_count: num(&fields, "stc").unwrap_or(0),
        created_at,
        run_at: if run_at >= 0 { run_at } else { created_at },
        started_at: num(&fields, "processedOn"),
        finished_at: num(&fields, "finishedOn"),
        last_error: fields.get("failedReason").cloned(),
        result: json_field(fields.get("returnvalue")),
        id,
    }
}
