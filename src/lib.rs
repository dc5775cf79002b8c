//! blogflow keeps an AI blog publishing on schedule, unattended.
//!
//! # Map
//! Layers, top to bottom; a module imports only from below it (`tests/architecture.rs`
//! checks that there is no cycle). `docs/ARCHITECTURE.md` walks a post through them.
//! ```text
//!  app ─ wires everything per role (run | serve | worker), owns the shutdown tree
//!   ├─ api (axum): workflow, posts, jobs, topics, operations, /metrics, dashboard
//!   ├─ monitor: every 15 s sample → thresholds/trends → checks → heal → alerts
//!   └─ orchestrator: running/paused/stopped, cron ticks, worker pools
//!        └─ jobs: content_generation ─► generate ─► llm (balancer, breakers, providers)
//!                 blog_publish ───────► publish (Markdown/MDX, WordPress, Ghost, webhook)
//!                 cleanup, health_check
//!  topics (feeds) · ops (decisions, counters) · store (SQLite | PostgreSQL)
//!  content (prompt, parse, score) · queue (SQLite | Redis) · telemetry · sources
//!  config (every settings type) · shared (Secret, Language, slugs) · db
//! ```
//! - [`shared`]: primitives every layer uses; imports nothing of ours.
//! - [`db`]: the SQLite file, owned by one thread.
//! - [`config`]: env, `.env` and `blogflow.toml` into one validated [`config::Config`]; owns
//!   every settings type.
//! - [`queue`]: durable jobs: the trait, the SQLite and Redis (BullMQ layout) backends, the
//!   worker runtime with leases.
//! - [`telemetry`]: logs to the console and rotated files.
//! - [`sources`]: other sites' articles, fetched safely and politely, their text extracted.
//! - [`llm`]: OpenAI and compatible servers, Anthropic, Gemini and the in-process local model;
//!   error classes, circuit breakers and the load balancer.
//! - [`content`]: prompts, parsing of the model's answer, the quality score, the judge and
//!   near-duplicate primitives.
//! - [`images`]: the social card of a post, drawn offline.
//! - [`store`]: topics, posts, the publication ledger, runs, metrics history, workers.
//! - [`topics`]: RSS/Atom/JSON feeds, the manual queue and keywords.
//! - [`publish`]: one publisher per target and the exactly-once ledger.
//! - [`ops`]: counters, thresholds, trends, recovery ladders and alert policy and channels.
//! - [`generate`]: the pipeline: slots, provider rounds, drafts, budget.
//! - [`jobs`]: job types, their queues and their handler.
//! - [`orchestrator`]: workflow state, schedules and worker pools.
//! - [`monitor`]: the loop that samples, evaluates, heals and alerts.
//! - [`api`]: the HTTP control API and the dashboard.
//! - [`app`]: wiring and roles; [`doctor`]: `config check`; [`bench`]: benchmarks.
#![warn(missing_docs)]

pub mod api;
pub mod app;
pub mod bench;
pub mod config;
pub mod content;
pub mod db;
pub mod doctor;
pub mod generate;
pub mod images;
pub mod jobs;
pub mod llm;
pub mod monitor;
pub mod ops;
pub mod orchestrator;
pub mod publish;
pub mod queue;
pub mod shared;
pub mod sources;
pub mod store;
pub mod telemetry;
pub mod topics;
