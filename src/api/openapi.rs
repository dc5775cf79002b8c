//! The OpenAPI 3.1 document of the API at `/api/openapi.json`, generated from the code: each
//! handler's `#[utoipa::path]`, registered through `utoipa_axum`'s router so that a route
//! cannot be served without being documented, and the response types below, which the
//! handlers return (so the schema is what is sent). `tests/openapi.rs` fuzzes the running
//! service against this document with schemathesis.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, RefOr, ResponseBuilder};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::llm::breaker::{BreakerSnapshot, Observed};
use crate::ops::Recovery;
use crate::ops::alert::Alert;
use crate::ops::{ComponentStatus, sample::Sample};
use crate::orchestrator::WorkflowState;
use crate::queue::{Counts, Job, JobState};
use crate::store::{
    FeedState, PoolTopic, Post, PostStatus, PostSummary, PostTotals, Publication, Run,
};
use crate::topics::FeedReport;

/// The document's root: title and tags. Paths come from the router, then [`finish`] adds what
/// every operation shares.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "blogflow",
        description = "Control and observe a blogflow service: the workflow, its queues and \
            schedules, providers, topics, posts, costs and health. Reads need the API token \
            (or a dashboard session) when one is configured, unless reads are public; every \
            change needs it. Errors are `{\"error\": {\"code\", \"message\"}}`."
    ),
    // Parameter types (utoipa registers only the schemas that bodies reference).
    components(schemas(QueueName, TopicStatus, Window, JobState)),
    tags(
        (name = "workflow", description = "Start, stop, pause, resume, generate"),
        (name = "jobs", description = "The three queues' jobs"),
        (name = "posts", description = "Stored posts, their quality and publications"),
        (name = "topics", description = "The topic pool and feeds"),
        (name = "operations", description = "Health, readiness, metrics, providers, costs"),
        (name = "session", description = "Dashboard login"),
    )
)]
pub struct ApiDoc;

/// Adds the security schemes and, to every operation, the error responses the guard and the
/// dependencies can give (401, 403 for changes, 503).
pub(super) fn finish(doc: &mut Document) {
    {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("BLOGFLOW_API_TOKEN"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::session::COOKIE,
                "From POST /api/session; changes also need the X-CSRF-Token header",
            ))),
        );
        // Either credential; none is needed for reads when no token is set or reads are public.
        doc.security = Some(vec![
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("session", Vec::<String>::new()),
            SecurityRequirement::default(),
        ]);
        let components = doc.components.get_or_insert_with(Default::default);
        let name = ErrorBody::name().into_owned();
        components
            .schemas
            .insert(name.clone(), <ErrorBody as utoipa::PartialSchema>::schema());
        let error = |what: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(what)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                                name.clone(),
                            ))))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            let metrics = path == "/metrics";
            let public = !metrics
                && (!path.starts_with("/api/")
                    || path == "/api/session"
                    || path == "/api/openapi.json");
            for (read, op) in [
                (true, item.get.as_mut()),
                (false, item.post.as_mut()),
                (false, item.delete.as_mut()),
            ] {
                let Some(op) = op else { continue };
                let responses = &mut op.responses.responses;
                if !public || path == "/api/session" {
                    responses.entry("429".into()).or_insert_with(|| {
                        error("Too many wrong tokens from this address: wait for Retry-After")
                    });
                }
                if !public {
                    responses
                        .entry("401".into())
                        .or_insert_with(|| error("No credential, or a wrong one"));
                    if !read {
                        responses.entry("403".into()).or_insert_with(|| {
                            error("Changes are disabled (no token configured), or the session's CSRF header is missing")
                        });
                    }
                }
                if !public && !metrics {
                    responses
                        .entry("503".into())
                        .or_insert_with(|| error("The store or the queue is unavailable"));
                }
            }
        }
    }
}

/// Every error: a stable code and a message that says what to fix.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error's code and message.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_request`, `not_found`, `unauthorized`.
    pub code: String,
    /// What went wrong and what to do.
    pub message: String,
}

/// `POST /api/automation/workflow`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // documents the body; the handler reads it leniently to explain mistakes
pub struct WorkflowAction {
    /// What to do.
    pub action: ActionName,
    /// `generate_content`: posts to write, 1 to `generation.max_posts_per_request`.
    #[schema(minimum = 1)]
    pub count: Option<u32>,
    /// `generate_content`: the topic (else one is picked from the pool), at most 300 characters.
    #[schema(min_length = 1, max_length = 300)]
    pub topic: Option<String>,
    /// `generate_content`: the category, at most 300 characters.
    #[schema(min_length = 1, max_length = 300)]
    pub category: Option<String>,
}

/// A workflow action.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionName {
    /// Start the workers and the scheduler.
    Start,
    /// Stop them, waiting for running jobs.
    Stop,
    /// Stop claiming generation and publishing jobs.
    Pause,
    /// Claim them again.
    Resume,
    /// Queue a generation job.
    GenerateContent,
}

/// The provider that writes first.
#[derive(Serialize, ToSchema)]
pub struct ProviderRef {
    /// Its name.
    pub name: String,
    /// Its model.
    pub model: String,
}

/// A queue's counts and whether it is paused.
#[derive(Serialize, ToSchema)]
pub struct QueueView {
    /// Jobs per state.
    pub counts: Counts,
    /// Paused: jobs wait.
    pub paused: bool,
}

/// `GET /api/automation/workflow`.
#[derive(Serialize, ToSchema)]
pub struct WorkflowView {
    /// Workflow state.
    pub state: WorkflowState,
    /// Seconds since the service started.
    pub uptime_secs: u64,
    /// The first provider, if any.
    pub provider: Option<ProviderRef>,
    /// Why nothing can be written, when there is no provider.
    pub provider_message: Option<String>,
    /// Each queue by name.
    pub queues: BTreeMap<String, QueueView>,
    /// Posts by status and total spend.
    pub posts: PostTotals,
    /// The last generation runs.
    pub recent_runs: Vec<Run>,
    /// The last posts.
    pub recent_posts: Vec<PostSummary>,
    /// Most posts one `generate_content` may ask for (`generation.max_posts_per_request`).
    pub max_posts_per_request: u32,
}

/// A schedule and its ticks.
#[derive(Serialize, ToSchema)]
pub struct ScheduleView {
    /// Its name.
    pub name: String,
    /// Cron expression (with seconds).
    pub cron: String,
    /// What a tick does.
    pub action: String,
    /// `active`, `paused` (the workflow is paused: a generate tick is skipped, others run) or
    /// `stopped` (the workflow is stopped: nothing ticks).
    pub state: &'static str,
    /// Next tick, RFC 3339 (UTC); none while the workflow is stopped.
    pub next_run: Option<String>,
    /// Last tick seen by this process.
    pub last_tick: Option<String>,
    /// Job id of the last tick.
    pub last_job_id: Option<String>,
    /// What the last tick did.
    pub last_outcome: Option<String>,
}

/// A queue as the scheduler view shows it: counts and recent events, or why they are missing.
#[derive(Serialize, ToSchema)]
pub struct SchedulerQueueView {
    /// Jobs per state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<Counts>,
    /// Paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    /// The newest events, newest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recent_events: Option<Vec<serde_json::Value>>,
    /// The queue's error, when it could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /api/automation/scheduler`.
#[derive(Serialize, ToSchema)]
pub struct SchedulerView {
    /// Workflow state.
    pub state: WorkflowState,
    /// `sqlite` or `redis`.
    pub backend: String,
    /// Configured schedules.
    pub schedules: Vec<ScheduleView>,
    /// Each queue by name.
    pub queues: BTreeMap<String, SchedulerQueueView>,
}

/// A provider in fallback order.
#[derive(Serialize, ToSchema)]
pub struct ProviderView {
    /// Its name.
    pub name: String,
    /// Its model.
    pub model: String,
    /// `status` (`ok`, `degraded`, `failing`, `unchecked`) and `summary` ("failing 6/6 calls:
    /// HTTP 500 …"), from its breaker, its latest calls and its health probe.
    #[serde(flatten)]
    pub health: crate::llm::status::ProviderStatus,
    /// Its circuit breaker.
    pub breaker: BreakerSnapshot,
    /// Its share of the traffic.
    pub weight: f64,
    /// Observed latency and success.
    pub observed: Observed,
    /// Spend since start, USD.
    pub cost_usd: f64,
}

/// `GET /api/workers`.
#[derive(Serialize, ToSchema)]
pub struct WorkersView {
    /// Seconds between heartbeats; a process that missed three is `lost`.
    pub heartbeat_secs: u64,
    /// Newest heartbeat first.
    pub workers: Vec<crate::store::WorkerInfo>,
}

/// `GET /api/providers`.
#[derive(Serialize, ToSchema)]
pub struct ProvidersView {
    /// Providers in fallback order.
    pub providers: Vec<ProviderView>,
    /// Why there is none, when there is none.
    pub message: Option<String>,
}

/// A dependency's check.
#[derive(Serialize, ToSchema)]
pub struct CheckView {
    /// The target's name (publishing targets only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `ok`, `failing` or `unchecked`.
    pub status: String,
    /// Why it fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The queue's backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The queue's round trip, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Targets: posts that passed their gate and wait for this target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_posts: Option<u64>,
    /// Targets: when the oldest waiting post was written (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_since: Option<String>,
}

/// The health checks.
#[derive(Serialize, ToSchema)]
pub struct HealthChecks {
    /// The store.
    pub store: CheckView,
    /// The queue.
    pub queue: CheckView,
    /// Providers in fallback order.
    pub providers: Vec<ProviderView>,
    /// Publishing targets.
    pub targets: Vec<CheckView>,
}

/// Alerts.
#[derive(Serialize, ToSchema)]
pub struct AlertsView {
    /// Firing now, most severe first (`at`: when it started).
    pub active: Vec<Alert>,
    /// History: the last sent (raises and resolves), newest first, kept across restarts.
    pub recent: Vec<Alert>,
    /// Configured channels.
    pub channels: Vec<String>,
}

/// The monitor's own state.
#[derive(Serialize, ToSchema)]
pub struct MonitorView {
    /// Checks run since start.
    pub cycles: u64,
    /// Seconds between checks.
    pub interval_secs: f64,
    /// Samples are taken and stored.
    pub performance_monitoring: bool,
    /// Recovery actions are taken.
    pub self_healing: bool,
}

/// `GET /api/automation/health`.
#[derive(Serialize, ToSchema)]
pub struct HealthView {
    /// `healthy`, `degraded` or `unhealthy` (503).
    pub status: String,
    /// Workflow state.
    pub workflow: WorkflowState,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Dependencies.
    pub checks: HealthChecks,
    /// When providers and targets were last checked, ms since epoch.
    pub checked_at: Option<i64>,
    /// The monitor's components by name.
    pub components: BTreeMap<String, ComponentStatus>,
    /// The last recovery actions, newest first.
    pub recovery_actions: Vec<Recovery>,
    /// Alerts.
    pub alerts: AlertsView,
    /// The monitor.
    pub monitor: MonitorView,
}

/// `GET /readyz`.
#[derive(Serialize, ToSchema)]
pub struct ReadyView {
    /// `ready` or `not_ready` (503).
    pub status: String,
    /// The store and the queue.
    pub checks: BTreeMap<String, CheckView>,
}

/// `?window=`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// `hour` (default, full resolution), `day` or `month` (five-minute means).
    pub window: Option<Window>,
}

/// A chart window.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// The last hour, every sample.
    Hour,
    /// The last day, five-minute means.
    Day,
    /// The last 31 days, five-minute means.
    Month,
}

/// A queue.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub enum QueueName {
    /// Generation jobs.
    #[serde(rename = "content-generation")]
    ContentGeneration,
    /// Publishing jobs.
    #[serde(rename = "blog-publishing")]
    BlogPublishing,
    /// Cleanup and health checks.
    #[serde(rename = "system-maintenance")]
    SystemMaintenance,
}

impl QueueName {
    /// The queue's name.
    pub fn as_str(self) -> &'static str {
        use crate::queue::names;
        match self {
            QueueName::ContentGeneration => names::CONTENT_GENERATION,
            QueueName::BlogPublishing => names::BLOG_PUBLISHING,
            QueueName::SystemMaintenance => names::SYSTEM_MAINTENANCE,
        }
    }
}

/// A pool topic's status.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TopicStatus {
    /// Not written yet.
    New,
    /// Written (or being written).
    Picked,
    /// Same story as a picked one.
    Skipped,
}

impl TopicStatus {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TopicStatus::New => "new",
            TopicStatus::Picked => "picked",
            TopicStatus::Skipped => "skipped",
        }
    }
}

/// `GET /api/metrics/history`.
#[derive(Serialize, ToSchema)]
pub struct HistoryView {
    /// The window.
    pub window: Window,
    /// Seconds between samples.
    pub resolution_secs: f64,
    /// Oldest first.
    pub samples: Vec<Sample>,
}

/// `?queue=&state=&limit=`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// Default `content-generation`.
    pub queue: Option<QueueName>,
    /// Default `waiting`.
    pub state: Option<JobState>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<usize>,
}

/// `GET /api/jobs`.
#[derive(Serialize, ToSchema)]
pub struct JobList {
    /// The queue.
    pub queue: String,
    /// The state listed.
    pub state: JobState,
    /// Newest first.
    pub jobs: Vec<Job>,
}

/// A job's new state after a retry or removal.
#[derive(Serialize, ToSchema)]
pub struct JobChange {
    /// What happened, in words.
    pub message: String,
    /// The job.
    pub job_id: String,
    /// `waiting` after a retry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<JobState>,
    /// True after a removal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<bool>,
}

/// `?limit=`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitQuery {
    /// At most this many (default 50, at most 500).
    pub limit: Option<usize>,
}

/// `GET /api/posts`.
#[derive(Serialize, ToSchema)]
pub struct PostList {
    /// Newest first.
    pub posts: Vec<PostSummary>,
}

/// `GET /api/posts/{id}`.
#[derive(Serialize, ToSchema)]
pub struct PostDetail {
    /// The post.
    pub post: Post,
    /// Where it is published.
    pub publications: Vec<Publication>,
    /// Its publish job while one exists: state, why it waits or failed (a target's refusal
    /// of this post reads `post rejected by <target>: …`), and when it runs next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publishing: Option<PublishingView>,
    /// The body as sanitized HTML (no script, handler or frame), for reading it in the dashboard.
    pub body_html: String,
    /// The score a post needs to be published without review (`generation.quality_threshold`).
    pub quality_threshold: u8,
    /// The earlier post it nearly repeats, with its title (`post.duplicate_of`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<PostRef>,
    /// Its feature image (`/api/posts/{id}/card.png`): the generated one, else its social card
    /// (absent when cards are off and nothing was generated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_url: Option<String>,
}

/// Another post, by id and title.
#[derive(Serialize, ToSchema)]
pub struct PostRef {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
}

/// A post's publish job, in short.
#[derive(Serialize, ToSchema)]
pub struct PublishingView {
    /// `waiting`, `delayed`, `active`, `completed` or `failed`.
    pub state: crate::queue::JobState,
    /// Why it waits or failed.
    pub last_error: Option<String>,
    /// When it runs next, ms since epoch (waiting or delayed).
    pub run_at: Option<i64>,
    /// Failed attempts (waits for a target are not attempts).
    pub attempts_made: u32,
}

/// A review decision's body (optional).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // documents the body; the handler reads it leniently
pub struct ReviewNote {
    /// Why, at most 500 characters.
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// A post after a review decision.
#[derive(Serialize, ToSchema)]
pub struct Decision {
    /// What happened, in words.
    pub message: String,
    /// The post.
    pub post_id: String,
    /// Its status now.
    pub status: PostStatus,
    /// `queued` after an approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publishing: Option<String>,
    /// The reason after a rejection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_reason: Option<String>,
}

/// `?status=&limit=`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TopicsQuery {
    /// Only topics in this status.
    pub status: Option<TopicStatus>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<usize>,
}

/// `GET /api/topics`.
#[derive(Serialize, ToSchema)]
pub struct TopicList {
    /// Best first.
    pub topics: Vec<PoolTopic>,
    /// Configured feeds and their last fetch.
    pub feeds: Vec<FeedState>,
}

/// `POST /api/topics`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // documents the body; the handler reads it leniently
pub struct NewTopic {
    /// The topic, at most 300 characters.
    #[schema(min_length = 1, max_length = 300)]
    pub title: String,
    /// Its category (default `generation.category`).
    #[schema(min_length = 1)]
    pub category: Option<String>,
}

/// A queued topic.
#[derive(Serialize, ToSchema)]
pub struct TopicAdded {
    /// Its id in the pool.
    pub id: i64,
    /// The title.
    pub title: String,
    /// The category.
    pub category: String,
}

/// `POST /api/topics/refresh`.
#[derive(Serialize, ToSchema)]
pub struct RefreshView {
    /// One report per feed.
    pub feeds: Vec<FeedReport>,
}

/// Posts and spend of a day or a month.
#[derive(Serialize, ToSchema)]
pub struct Spend {
    /// `YYYY-MM-DD` (days).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
    /// `YYYY-MM` (months).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub month: Option<String>,
    /// Posts written.
    pub posts: u64,
    /// USD.
    pub cost_usd: f64,
}

/// Today's posts and spend.
#[derive(Serialize, ToSchema)]
pub struct Today {
    /// Posts written since 00:00 UTC.
    pub posts: u64,
    /// USD since 00:00 UTC.
    pub cost_usd: f64,
}

/// `GET /api/costs`.
#[derive(Serialize, ToSchema)]
pub struct CostsView {
    /// Since 00:00 UTC.
    pub today: Today,
    /// `generation.daily_budget_usd`.
    pub daily_budget_usd: Option<f64>,
    /// `generation.daily_post_cap`.
    pub daily_post_cap: Option<u32>,
    /// Why generation stopped for today, if it did.
    pub stopped: Option<String>,
    /// The last 31 days.
    pub days: Vec<Spend>,
    /// Their months.
    pub months: Vec<Spend>,
    /// All posts ever, USD.
    pub total_cost_usd: f64,
}

/// `POST /api/session`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // documents the body
pub struct LoginBody {
    /// The API token.
    pub token: String,
}

/// The browser's session.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    /// Logged in.
    pub authenticated: bool,
    /// The CSRF token to send as `X-CSRF-Token` with changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
    /// Seconds the session lasts (after a login).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_secs: Option<u64>,
    /// Reads need a login (status only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_required_to_read: Option<bool>,
    /// Changes are possible at all: a token is configured (status only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mutations_enabled: Option<bool>,
}
