//! What happened in a queue, delivered to subscribers in this process.

use serde_json::Value;

/// Something that happened in a queue. Delivered to subscribers in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueEvent {
    /// A job was added.
    Added {
        /// Queue name.
        queue: String,
        /// Job id.
        job_id: String,
    },
    /// A job was claimed.
    Active {
        /// Queue name.
        queue: String,
        /// Job id.
        job_id: String,
    },
    /// A job completed.
    Completed {
        /// Queue name.
        queue: String,
        /// Job id.
        job_id: String,
    },
    /// An attempt failed; `dead` says whether the job failed for good.
    Failed {
        /// Queue name.
        queue: String,
        /// Job id.
        job_id: String,
        /// True if no retry follows.
        dead: bool,
    },
    /// A lease expired; `requeued` as in [`StalledJob`].
    Stalled {
        /// Queue name.
        queue: String,
        /// Job id.
        job_id: String,
        /// True if it went back to waiting.
        requeued: bool,
    },
}

impl QueueEvent {
    /// The queue it happened in.
    pub fn queue(&self) -> &str {
        match self {
            QueueEvent::Added { queue, .. }
            | QueueEvent::Active { queue, .. }
            | QueueEvent::Completed { queue, .. }
            | QueueEvent::Failed { queue, .. }
            | QueueEvent::Stalled { queue, .. } => queue,
        }
    }

    /// As BullMQ's event stream names it: `{event, jobId, …}`.
    pub fn to_json(&self) -> Value {
        match self {
            QueueEvent::Added { job_id, .. } => {
                serde_json::json!({"event": "added", "jobId": job_id})
            }
            QueueEvent::Active { job_id, .. } => {
                serde_json::json!({"event": "active", "jobId": job_id})
            }
            QueueEvent::Completed { job_id, .. } => {
                serde_json::json!({"event": "completed", "jobId": job_id})
            }
            QueueEvent::Failed { job_id, dead, .. } => {
                serde_json::json!({"event": if *dead { "failed" } else { "retrying" }, "jobId": job_id})
            }
            QueueEvent::Stalled {
                job_id, requeued, ..
            } => serde_json::json!({"event": "stalled", "jobId": job_id, "requeued": requeued}),
        }
    }
}
