//! blogflow keeps an AI blog publishing on schedule, unattended.
//!
//! # Map
//! ```text
//!  config ──► app (wires everything, owns the shutdown tree)
//!              │
//!   api (axum) ──► orchestrator: workflow state, scheduler ticks ──► queue (enqueue only)
//!                                                                      │
//!   queue::worker ──► jobs: content_generation ─► content::pipeline ─► llm ─► store
//!                          blog_publish ────────► publish (Markdown, ledger in store)
//!                          cleanup, health_check
//! ```
//! - [`db`]: the SQLite file, owned by one thread; migrations per component.
//! - [`queue`]: durable jobs (trait + embedded SQLite backend + worker runtime).
//! - [`store`]: topics, posts, publications, runs.
//! - [`llm`]: provider clients and error classification.
//! - [`content`]: prompts, parsing of the model's answer, the quality score, the pipeline.
//! - [`publish`]: publishers and the exactly-once ledger.
//! - [`jobs`]: job types and their handlers.
//! - [`orchestrator`]: running/paused/stopped, cron schedules, worker pools.
//! - [`ops`]: monitoring, self-healing and alerts.
//! - [`api`]: the HTTP control API.
//! - [`telemetry`]: logs to console and rotated files.
#![warn(missing_docs)]

pub mod api;
pub mod app;
pub mod bench;
pub mod config;
pub mod content;
pub mod db;
pub mod doctor;
pub mod jobs;
pub mod llm;
pub mod ops;
pub mod orchestrator;
pub mod publish;
pub mod queue;
pub mod store;
pub mod telemetry;
pub mod topics;
