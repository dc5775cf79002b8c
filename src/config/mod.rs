//! Configuration: environment (the original's names plus `BLOGFLOW_*`), `.env.local`, `.env`
//! and an optional `blogflow.toml`, validated into a [`Config`] that cannot be invalid.
//!
//! Precedence: environment over file over defaults. Every problem is reported at once, each
//! naming the setting by its env var or TOML path, so an operator fixes them in one pass.

mod env;
mod lenient;
mod local;
mod queue;
mod raw;
mod sources;
mod targets;
mod topics;
mod validate;
pub mod watch;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::shared::{Category, EndpointUrl, Language, Secret};
pub use env::Env;
pub use local::{LocalConfig, cache_dir};
pub use queue::{QueueBackendConfig, QueueConfig, RedisConfig, Retention};
pub use raw::RawConfig;
pub use sources::{
    DEFAULT_IMAGE_PROMPT, ImageGenConfig, ImageProvider, ImagesConfig, SourcesConfig,
};
pub use targets::{
    FIELDS, GhostStatus, GhostTarget, MarkdownTarget, SeoFields, WebhookTarget, WordPressStatus,
    WordPressTarget, parse_admin_key,
};
pub use topics::{FeedConfig, FeedLimits, TopicsConfig};
pub use validate::default_schedules;
use validate::error;
pub use watch::{
    AlertPolicy, AlertsConfig, ChannelConfig, Damping, MonitorConfig, Threshold, TrendRule,
};

/// Front-matter dialect of the Markdown publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontMatter {
    /// Hugo with YAML (`---`), also read by Astro, Jekyll, Eleventy.
    HugoYaml,
    /// Hugo with TOML (`+++`).
    HugoToml,
    /// Zola (TOML, tags under `[taxonomies]`).
    Zola,
    /// Astro content collections and Next.js MDX blogs (YAML; `pubDate`, `description`).
    Astro,
}

/// What a schedule tick enqueues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleAction {
    /// A `content_generation` job for `count` posts.
    Generate {
        /// Posts per tick.
        count: u32,
    },
    /// A `cleanup` job (retention, old runs, database optimisation).
    Cleanup,
    /// A `health_check` job.
    HealthCheck,
}

/// One cron schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Unique name, part of each tick's job id.
    pub name: String,
    /// The expression as written.
    pub expression: String,
    /// Parsed (6 fields, seconds first, UTC).
    pub cron: cron::Schedule,
    /// What a tick does.
    pub action: ScheduleAction,
}

/// The OpenAI-compatible provider.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// Base URL up to and including `/v1` (prints without its userinfo).
    pub base_url: EndpointUrl,
    /// Bearer key; local servers need none.
    pub api_key: Option<Secret>,
    /// Model name.
    pub model: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Sampling temperature.
    pub temperature: f32,
    /// Output token budget.
    pub max_tokens: u32,
    /// Ask for a JSON object response.
    pub json_mode: bool,
    /// How posts are asked for: one JSON object, or step by step for small models.
    pub format: PostFormat,
    /// USD per million input tokens.
    pub input_price_per_mtok: f64,
    /// USD per million output tokens.
    pub output_price_per_mtok: f64,
}

/// How a provider is asked for a post.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PostFormat {
    /// One JSON object with every field (title, slug, tags, SEO, body): one call per post.
    #[default]
    Json,
    /// Outline, introduction, sections, conclusion and title as short plain-text answers,
    /// assembled here: for small models (a few billion parameters or less) that cannot be
    /// trusted to produce the JSON object.
    Steps,
}

impl PostFormat {
    /// Parses `json` or `steps`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "json" => Some(PostFormat::Json),
            "steps" => Some(PostFormat::Steps),
            _ => None,
        }
    }
}

/// An API provider with a key (Anthropic, Gemini).
#[derive(Debug, Clone)]
pub struct ApiProviderConfig {
    /// Endpoint without a trailing slash (prints without its userinfo).
    pub base_url: EndpointUrl,
    /// The key.
    pub api_key: Secret,
    /// Model name.
    pub model: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Sampling temperature.
    pub temperature: f32,
    /// Output token budget.
    pub max_tokens: u32,
    /// USD per million input tokens.
    pub input_price_per_mtok: f64,
    /// USD per million output tokens.
    pub output_price_per_mtok: f64,
}

/// How the balancer treats one provider.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProviderBalance {
    /// Share of traffic relative to the others.
    pub weight: f64,
    /// Requests per minute allowed.
    pub rpm: Option<u32>,
    /// Tokens per minute allowed.
    pub tpm: Option<u32>,
    /// The model's context window, tokens (unknown: the source budget alone bounds prompts).
    pub context_tokens: Option<u32>,
}

impl Default for ProviderBalance {
    fn default() -> Self {
        Self {
            weight: 1.0,
            rpm: None,
            tpm: None,
            context_tokens: None,
        }
    }
}

/// Post generation.
#[derive(Debug, Clone)]
pub struct GenerationConfig {
    /// Balancer settings per provider kind (`anthropic`, `openai`, `gemini`) or, for
    /// `[[providers.compatible]]` entries, per name.
    pub balance: std::collections::BTreeMap<String, ProviderBalance>,
    /// Language of the posts.
    pub language: Language,
    /// Keywords to write about (rotated, least recently used first).
    pub keywords: Vec<String>,
    /// Category of scheduled posts, by its display name (`AI Trends`, `AI 트렌드`).
    pub category: String,
    /// How post and category slugs are made, and the slug of each configured category.
    pub slugs: Slugs,
    /// Posts generated at once within one job.
    pub parallelism: usize,
    /// Largest `count` one request may ask for.
    pub max_posts_per_request: u32,
    /// Minimum quality score (0–100).
    pub quality_threshold: u8,
    /// Generations per post before holding or failing it.
    pub attempts_per_post: u32,
    /// Attempts of a whole job.
    pub job_attempts: u32,
    /// Longest a generation job may run.
    pub job_timeout: Duration,
    /// Longest one post may take, every provider and regeneration included (each call is
    /// also bounded by its provider's timeout).
    pub post_deadline: Duration,
    /// Grade posts that passed the gate with a second provider.
    pub judge: bool,
    /// Least judge grade, 1–10.
    pub judge_min_score: u8,
    /// A manual topic written about within this time is answered with that post.
    pub cache_ttl: Duration,
    /// Spend per UTC day after which generation stops until midnight, USD.
    pub daily_budget_usd: Option<f64>,
    /// Posts per UTC day after which generation stops until midnight.
    pub daily_post_cap: Option<u32>,
    /// Only posts grounded in sources read are written; topics without one are skipped.
    pub require_sources: bool,
    /// The blog's addresses (Markdown `site_url`, WordPress, Ghost): links there stay in posts.
    pub own_sites: Vec<String>,
    /// Every post waits for approval (`publish.mode = review`).
    pub review: bool,
    /// In review mode: approve by itself after this long when the score is at least
    /// `auto_approve_min_score`.
    pub auto_approve_after: Option<Duration>,
    /// See `auto_approve_after`.
    pub auto_approve_min_score: u8,
    /// Longest a provider's `Retry-After` holds it back (`providers.max_retry_after_secs`).
    pub max_retry_after: Duration,
    /// Longest a provider may take to send the first token of a streamed answer, or the first
    /// byte of an unstreamed one (`providers.first_token_timeout_secs`): a hung provider is cut
    /// after this, not after the whole request timeout.
    pub first_token_timeout: Duration,
    /// Longest silence between two parts of an answer (`providers.stream_idle_timeout_secs`).
    pub stream_idle_timeout: Duration,
}

/// Post and category slugs: one policy for Hangul, and the slugs the operator chose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Slugs {
    /// Romanised or kept Hangul (`generation.slug_policy`).
    pub policy: crate::shared::slug::SlugPolicy,
    /// Configured categories: display name and slug.
    pub categories: Vec<Category>,
}

impl Slugs {
    /// A post's slug from the model's slug or, when that has no letters, its title.
    pub fn post(&self, slug: &str, title: &str) -> String {
        match crate::shared::slug::make(slug, self.policy) {
            s if s.is_empty() => crate::shared::slug::make(title, self.policy),
            s => s,
        }
    }

    /// The slug of the category named `name`: the configured one, else made by the policy.
    pub fn category(&self, name: &str) -> String {
        self.categories
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.slug.clone())
            .unwrap_or_else(|| crate::shared::slug::make(name, self.policy))
    }
}

/// Log output.
#[derive(Debug, Clone)]
pub struct LoggingConfig {
    /// JSON lines instead of text in the files.
    pub json: bool,
    /// Rotate past this size.
    pub max_file_bytes: u64,
    /// Rotated files kept.
    pub keep_files: usize,
    /// Filter directive.
    pub level: String,
}

/// What a process runs. `run` is everything in one process; a cluster runs one or more
/// `serve` (API, dashboard, scheduler, monitor) and `worker` processes (queue consumers) on
/// one Redis queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// API, scheduler, monitor and workers.
    #[default]
    All,
    /// API, dashboard, scheduler and monitor; no workers.
    Serve,
    /// Workers (and the API for health and metrics); no scheduler.
    Worker,
}

impl Role {
    /// Consumes queues.
    pub fn runs_workers(self) -> bool {
        self != Role::Serve
    }

    /// Fires schedules.
    pub fn runs_scheduler(self) -> bool {
        self != Role::Worker
    }

    /// As shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Serve => "serve",
            Role::Worker => "worker",
        }
    }
}

/// What the HTTP server allows one connection (`[server]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Headers of a request must arrive within this time (from the connection's start or the
    /// previous response): the header-read and the keep-alive idle timeout.
    pub header_timeout: Duration,
    /// Reading a request's body and answering it.
    pub request_timeout: Duration,
    /// Connections served at once; more get only the probes.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// API listen address.
    pub listen: SocketAddr,
    /// SQLite file and state.
    pub data_dir: PathBuf,
    /// Markdown output.
    pub content_dir: PathBuf,
    /// Log files.
    pub log_dir: PathBuf,
    /// Bearer token for mutations; none means mutations are refused.
    pub api_token: Option<Secret>,
    /// With a token set, reads are open to anyone (otherwise they need the token or a session).
    pub public_read: bool,
    /// With a token set, `/metrics` is open to anyone.
    pub metrics_public: bool,
    /// `X-Forwarded-For` and `X-Forwarded-Proto` come from a trusted proxy.
    pub trust_proxy: bool,
    /// The HTTP server's limits.
    pub limits: ServerLimits,
    /// What this process runs (set by the command: `run`, `serve` or `worker`).
    pub role: Role,
    /// `DATABASE_URL`: the store in PostgreSQL (shared by the hosts of a deployment) instead of
    /// the SQLite file in the data directory. Holds a password: never log it.
    pub database_url: Option<Secret>,
    /// `worker --concurrency`: generation jobs at once in this process (default: 2, or 1 for
    /// the local model).
    pub generation_concurrency: Option<usize>,
    /// Start scheduler and workers at boot.
    pub auto_start: bool,
    /// Sample, record and alert on thresholds and trends (`PERFORMANCE_MONITORING_ENABLED`).
    pub performance_monitoring: bool,
    /// Take recovery actions when checks fail (`SELF_HEALING_ENABLED`); checks and alerts run
    /// either way.
    pub self_healing: bool,
    /// The OpenAI-compatible provider, if configured.
    pub openai: Option<OpenAiConfig>,
    /// More OpenAI-compatible servers, by name (`[[providers.compatible]]`).
    pub compatible: Vec<(String, OpenAiConfig)>,
    /// Claude, if `ANTHROPIC_API_KEY` is set.
    pub anthropic: Option<ApiProviderConfig>,
    /// Gemini, if `GEMINI_API_KEY` is set.
    pub gemini: Option<ApiProviderConfig>,
    /// The local model, if enabled (by default: when no other provider is configured).
    pub local: Option<LocalConfig>,
    /// Generation settings.
    pub generation: GenerationConfig,
    /// Cron schedules.
    pub schedules: Vec<Schedule>,
    /// Queue tuning.
    pub queue: QueueConfig,
    /// Markdown publisher: `None` when disabled.
    pub markdown: Option<MarkdownTarget>,
    /// Webhook publisher (`BLOGFLOW_PUBLISH_WEBHOOK_URL`).
    pub webhook: Option<WebhookTarget>,
    /// WordPress publisher (`[publish.wordpress]`).
    pub wordpress: Option<WordPressTarget>,
    /// Ghost publisher (`[publish.ghost]`).
    pub ghost: Option<GhostTarget>,
    /// Log output.
    pub logging: LoggingConfig,
    /// Sampling, thresholds, trends and history.
    pub monitor: MonitorConfig,
    /// Alert channels and policy.
    pub alerts: AlertsConfig,
    /// Feeds and the topic pool.
    pub topics: TopicsConfig,
    /// How the articles behind topics are fetched.
    pub sources: SourcesConfig,
    /// `[images]`: the social card (`None` when turned off).
    pub images: Option<crate::config::ImagesConfig>,
    /// The blog's name (`[images] blog_name`, `BLOGFLOW_BLOG_NAME`): on cards and as the
    /// author and publisher in structured data, whether cards are on or off.
    pub blog_name: String,
    /// `[images.generate]`: generated feature images (`None`: the card only).
    pub image_generation: Option<ImageGenConfig>,
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The service cannot start with this.
    Error,
    /// It starts, but probably not as the operator meant.
    Warning,
}

/// One finding of validation, naming the setting.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// Env var or TOML path.
    pub setting: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: {}: {}", self.setting, self.message)
    }
}

/// Where the configuration comes from.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Environment (process + dotenv files).
    pub env: Env,
    /// The TOML file's path and text, if there is one.
    pub file: Option<(PathBuf, String)>,
}

impl Sources {
    /// Reads the environment and dotenv files of `dir`, and the TOML file named by
    /// `explicit`, else `BLOGFLOW_CONFIG`, else `dir/blogflow.toml` if it exists.
    pub fn load(dir: &Path, explicit: Option<&Path>) -> Result<Self, Vec<Problem>> {
        let env = Env::load(dir).map_err(|m| vec![error("dotenv", m)])?;
        let path = explicit
            .map(Path::to_path_buf)
            .or_else(|| env.get("BLOGFLOW_CONFIG").map(PathBuf::from))
            .or_else(|| Some(dir.join("blogflow.toml")).filter(|p| p.exists()));
        let file = match path {
            None => None,
            Some(p) => match std::fs::read_to_string(&p) {
                Ok(text) => Some((p, text)),
                Err(e) => {
                    return Err(vec![error(
                        "BLOGFLOW_CONFIG",
                        format!("cannot read {}: {e}", p.display()),
                    )]);
                }
            },
        };
        Ok(Self { env, file })
    }
}

impl Config {
    /// Every secret in the configuration, for scrubbing text that leaves the process (alerts).
    pub fn secrets(&self) -> Vec<Secret> {
        let mut out: Vec<Secret> = self.api_token.iter().cloned().collect();
        out.extend(self.openai.iter().filter_map(|o| o.api_key.clone()));
        out.extend(
            self.compatible
                .iter()
                .filter_map(|(_, o)| o.api_key.clone()),
        );
        out.extend(self.anthropic.iter().map(|a| a.api_key.clone()));
        out.extend(self.gemini.iter().map(|a| a.api_key.clone()));
        if let QueueBackendConfig::Redis(r) = &self.queue.backend {
            out.push(r.url.clone());
            // The password alone too: it can appear without the URL around it.
            if let Ok(u) = reqwest::Url::parse(r.url.expose())
                && let Some(p) = u.password()
            {
                out.push(Secret::new(p));
            }
        }
        if let Some(w) = &self.webhook {
            out.push(w.url.clone());
            out.extend(w.secret.clone());
            out.extend(w.lookup_url.clone());
        }
        out.extend(self.wordpress.iter().map(|w| w.password.clone()));
        if let Some(g) = &self.ghost {
            out.push(g.admin_key.clone());
            // The secret half alone too.
            if let Some((_, half)) = g.admin_key.expose().split_once(':') {
                out.push(Secret::new(half));
            }
        }
        for c in &self.alerts.channels {
            match c {
                ChannelConfig::Slack { url, .. } | ChannelConfig::Discord { url, .. } => {
                    out.push(url.clone())
                }
                ChannelConfig::Telegram { token, .. } => out.push(token.clone()),
                ChannelConfig::Webhook { url, secret, .. } => {
                    out.push(url.clone());
                    out.extend(secret.clone());
                }
            }
        }
        out
    }

    /// Validates `sources` into a config. `Ok` carries warnings; `Err` carries every problem
    /// (errors and warnings).
    pub fn from_sources(sources: &Sources) -> Result<(Config, Vec<Problem>), Vec<Problem>> {
        // A setting the file cannot give is reported and left at its default, so that the
        // rest of the file and the environment are still checked: every problem at once.
        let (raw, mut problems) = match &sources.file {
            None => (RawConfig::default(), Vec::new()),
            Some((path, text)) => lenient::read::<RawConfig>(&path.display().to_string(), text),
        };
        match Self::validate(raw, &sources.env) {
            Ok(ok) if problems.is_empty() => Ok(ok),
            Ok((_, warnings)) => {
                problems.extend(warnings);
                Err(problems)
            }
            Err(more) => {
                problems.extend(more);
                Err(problems)
            }
        }
    }

    /// Validates a parsed file plus the environment.
    pub fn validate(raw: RawConfig, env: &Env) -> Result<(Config, Vec<Problem>), Vec<Problem>> {
        validate::validate(raw, env)
    }

    /// The SQLite file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("blogflow.db")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(env: &[(&str, &str)], toml: &str) -> Result<(Config, Vec<Problem>), Vec<Problem>> {
        let raw: RawConfig = toml::from_str(toml).unwrap();
        Config::validate(raw, &Env::from_pairs(env.iter().copied()))
    }

    #[test]
    fn defaults_run_with_nothing_configured() {
        let (c, warnings) = from(&[], "").unwrap();
        assert!(warnings.is_empty());
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert!(c.openai.is_none() && c.api_token.is_none() && c.auto_start);
        assert_eq!(c.schedules.len(), 3);
        assert_eq!(c.schedules[0].action, ScheduleAction::Generate { count: 5 });
        assert_eq!(c.generation.language, Language::En);
    }

    #[test]
    fn monitoring_and_alert_settings_validate_with_every_problem_named() {
        let (c, warnings) = from(
            &[
                ("BLOGFLOW_ALERT_SLACK_URL", "https://hooks.example/T/B/X"),
                ("BLOGFLOW_ALERT_WEBHOOK_URL", "http://10.0.0.9/hook"),
                ("BLOGFLOW_ALERT_TELEGRAM_TOKEN", "1:abc"),
                ("BLOGFLOW_ALERT_TELEGRAM_CHAT_ID", "42"),
            ],
            "[monitoring]\ninterval_secs = 5\nmemory_warn_pct = 70\n[alerts]\nmax_per_hour = 5\n[alerts.slack]\nmin_severity = \"critical\"\n",
        )
        .unwrap();
        assert_eq!(c.monitor.interval, Duration::from_secs(5));
        assert_eq!(
            (c.monitor.memory.warn, c.monitor.memory.critical),
            (70.0, 90.0)
        );
        assert_eq!(
            (c.monitor.cpu.warn, c.monitor.cpu.critical),
            (70.0, 85.0),
            "the original's defaults"
        );
        assert_eq!(c.alerts.policy.max_per_hour, 5);
        let names: Vec<&str> = c.alerts.channels.iter().map(|ch| ch.name()).collect();
        assert_eq!(names, ["slack", "telegram", "webhook"]);
        let settings: Vec<&str> = warnings.iter().map(|p| p.setting.as_str()).collect();
        assert_eq!(
            settings,
            [
                "BLOGFLOW_ALERT_WEBHOOK_URL",
                "BLOGFLOW_ALERT_WEBHOOK_SECRET"
            ],
            "plain http to another host and an unsigned webhook are warned about"
        );
        assert!(c.secrets().iter().any(|s| s.expose() == "1:abc"));

        let problems = from(
            &[("BLOGFLOW_ALERT_TELEGRAM_TOKEN", "1:abc"), ("BLOGFLOW_ALERT_DISCORD_URL", "discord")],
            "[monitoring]\ncpu_warn_pct = 90\ncpu_critical_pct = 80\ninterval_secs = 0\n[alerts.slack]\nmin_severity = \"loud\"\n",
        )
        .unwrap_err();
        let settings: Vec<&str> = problems.iter().map(|p| p.setting.as_str()).collect();
        for s in [
            "monitoring.cpu_warn_pct",
            "monitoring.interval_secs",
            "BLOGFLOW_ALERT_TELEGRAM_CHAT_ID",
            "BLOGFLOW_ALERT_DISCORD_URL",
            "alerts.slack.min_severity",
        ] {
            assert!(settings.contains(&s), "{s} missing from {settings:?}");
        }
    }

    #[test]
    fn publishing_targets_validate_and_their_credentials_stay_secret() {
        let key = "64f0c0ffee:00ff00ff00ff00ff";
        let (c, warnings) = from(
            &[
                ("BLOGFLOW_WORDPRESS_URL", "https://blog.example.org/"),
                ("BLOGFLOW_WORDPRESS_USER", "editor"),
                ("BLOGFLOW_WORDPRESS_APP_PASSWORD", "abcd efgh ijkl"),
                ("BLOGFLOW_GHOST_ADMIN_KEY", key),
            ],
            "[publish.wordpress]\nseo = \"yoast\"\nseo_keywords_field = \"kw\"\nstatus = \"future\"\n\
             [publish.ghost]\nurl = \"http://127.0.0.1:2368\"\nallow_http = true\n\
             [publish.markdown]\nfront_matter = \"astro\"\nextension = \"mdx\"\n\
             [publish.markdown.fields]\nsummary = \"\"\n",
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let wp = c.wordpress.as_ref().unwrap();
        assert_eq!(wp.url, "https://blog.example.org", "no trailing slash");
        assert_eq!(wp.status, WordPressStatus::Future);
        assert_eq!(wp.seo.title.as_deref(), Some("_yoast_wpseo_title"));
        assert_eq!(
            wp.seo.keywords.as_deref(),
            Some("kw"),
            "overrides the preset"
        );
        assert_eq!(c.ghost.as_ref().unwrap().url, "http://127.0.0.1:2368");
        let md = c.markdown.as_ref().unwrap();
        assert_eq!((md.dialect, md.extension), (FrontMatter::Astro, "mdx"));
        let secrets: Vec<String> = c.secrets().iter().map(|s| s.expose().to_owned()).collect();
        for s in ["abcd efgh ijkl", key, "00ff00ff00ff00ff"] {
            assert!(secrets.iter().any(|x| x == s), "{s} is not redacted");
        }
        assert!(format!("{c:?}").find("abcd efgh").is_none());

        let problems = from(
            &[
                ("BLOGFLOW_WORDPRESS_URL", "http://blog.example.org"),
                ("BLOGFLOW_GHOST_URL", "https://ghost.example.org"),
                ("BLOGFLOW_GHOST_ADMIN_KEY", "no-colon-here"),
            ],
            "[publish.markdown]\nfront_matter = \"jekyll\"\n[publish.markdown.fields]\nblogflow_id = \"id\"\n",
        )
        .unwrap_err();
        let by_setting = |name: &str| {
            problems
                .iter()
                .find(|p| p.setting == name)
                .map(|p| p.message.clone())
                .unwrap_or_else(|| panic!("{name} missing from {problems:?}"))
        };
        assert!(by_setting("BLOGFLOW_WORDPRESS_URL").contains("allow_http"));
        assert!(by_setting("BLOGFLOW_GHOST_ADMIN_KEY").contains("id:secret"));
        assert!(!by_setting("BLOGFLOW_GHOST_ADMIN_KEY").contains("no-colon-here"));
        assert!(by_setting("publish.markdown.front_matter").contains("astro"));
        let problems = from(
            &[("BLOGFLOW_WORDPRESS_URL", "https://blog.example.org")],
            "[publish.markdown.fields]\nblogflow_id = \"id\"\n",
        )
        .unwrap_err();
        let settings: Vec<&str> = problems.iter().map(|p| p.setting.as_str()).collect();
        assert_eq!(
            settings,
            [
                "publish.markdown.fields.blogflow_id",
                "BLOGFLOW_WORDPRESS_APP_PASSWORD"
            ]
        );
    }

    #[test]
    fn generated_images_use_a_configured_provider_and_name_what_to_fix() {
        let (c, _) = from(
            &[("OPENAI_API_KEY", "sk-image-test-key")],
            "[images.generate]\nprovider = \"openai\"\nprice_usd = 0.04\n",
        )
        .unwrap();
        let g = c.image_generation.unwrap();
        assert_eq!(g.provider, ImageProvider::OpenAi);
        assert_eq!(
            (g.model.as_str(), g.size.as_str(), g.quality.as_str()),
            ("gpt-image-1", "1536x1024", "low")
        );
        assert_eq!(g.price_usd, 0.04);
        assert!(c.images.is_some(), "the card stays as the fallback");
        let problems = from(
            &[],
            "[images.generate]\nprovider = \"gemini\"\nsize = \"800x600\"\nquality = \"best\"\nprompt = \"no title\"\n",
        )
        .unwrap_err();
        let settings: Vec<&str> = problems.iter().map(|p| p.setting.as_str()).collect();
        assert_eq!(settings, ["images.generate.provider",], "{problems:?}");
        assert!(
            problems[0].message.contains("BLOGFLOW_GEMINI_API_KEY"),
            "{problems:?}"
        );
        let problems = from(
            &[("OPENAI_API_KEY", "sk-image-test-key")],
            "[images.generate]\nprovider = \"openai\"\nsize = \"800x600\"\nquality = \"best\"\nprompt = \"no title\"\n",
        )
        .unwrap_err();
        let settings: Vec<&str> = problems.iter().map(|p| p.setting.as_str()).collect();
        assert_eq!(
            settings,
            [
                "images.generate.size",
                "images.generate.quality",
                "images.generate.prompt"
            ],
            "{problems:?}"
        );
        assert!(!format!("{problems:?}").contains("sk-image-test-key"));
    }

    #[test]
    fn korean_is_a_profile_not_a_translation() {
        let (en, _) = from(&[], "").unwrap();
        assert_eq!(en.generation.category, "AI Trends");
        assert!(en.generation.keywords.iter().any(|k| k == "AI agents"));
        let (ko, _) = from(&[("BLOGFLOW_LANGUAGE", "ko")], "").unwrap();
        let g = &ko.generation;
        assert_eq!(g.category, "AI 트렌드");
        assert_eq!(g.slugs.category(&g.category), "ai-trends");
        assert_eq!(g.slugs.policy, crate::shared::slug::SlugPolicy::Romanize);
        let hangul = |s: &str| s.chars().any(|c| ('가'..='힣').contains(&c));
        assert!(
            g.keywords.len() >= 10 && g.keywords.iter().all(|k| hangul(k)),
            "{:?}",
            g.keywords
        );
        // A post slug follows the policy: romanised by default, kept on request.
        assert_eq!(g.slugs.post("AI 규제", "x"), "ai-gyuje");
        let (kept, _) = from(
            &[
                ("BLOGFLOW_LANGUAGE", "ko"),
                ("BLOGFLOW_SLUG_POLICY", "keep"),
            ],
            "[generation]\ncategory = \"머신러닝 소식\"\n",
        )
        .unwrap();
        let g = &kept.generation;
        assert_eq!(g.category, "머신러닝 소식");
        assert_eq!(g.slugs.category(&g.category), "머신러닝-소식");
        assert_eq!(g.slugs.post("", "AI 규제의 미래"), "ai-규제의-미래");
        let (chosen, _) = from(
            &[],
            "[generation]\ncategory = \"머신러닝 소식\"\ncategory_slug = \"ml-news\"\n",
        )
        .unwrap();
        assert_eq!(chosen.generation.slugs.category("머신러닝 소식"), "ml-news");
        let problems = from(
            &[("BLOGFLOW_SLUG_POLICY", "latin")],
            "[generation]\ncategory_slug = \"ML News\"\n",
        )
        .unwrap_err();
        let settings: Vec<&str> = problems.iter().map(|p| p.setting.as_str()).collect();
        assert_eq!(
            settings,
            ["BLOGFLOW_SLUG_POLICY", "generation.category_slug"]
        );
        assert!(
            problems[1].message.contains("\"ml-news\""),
            "{}",
            problems[1]
        );
    }

    #[test]
    fn a_provider_chooses_its_format_and_a_site_its_plain_http() {
        let (c, _) = from(
            &[("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1")],
            "[providers.openai]\nformat = \"steps\"\n[[providers.compatible]]\nname = \"ollama\"\nbase_url = \"http://127.0.0.1:11434/v1\"\nmodel = \"qwen2.5:0.5b\"\n",
        )
        .unwrap();
        assert_eq!(c.openai.unwrap().format, PostFormat::Steps);
        assert_eq!(c.compatible[0].1.format, PostFormat::Json);
        let problems = from(
            &[],
            "[[providers.compatible]]\nname = \"ollama\"\nbase_url = \"http://127.0.0.1:11434/v1\"\nmodel = \"m\"\nformat = \"xml\"\n",
        )
        .unwrap_err();
        assert_eq!(problems[0].setting, "providers.compatible[0].format");
        assert!(problems[0].message.contains("steps"));
        // allow_http from the environment, for WordPress and Ghost alike; a plain-permalink
        // address is taken as its site root.
        let (c, _) = from(
            &[
                (
                    "BLOGFLOW_WORDPRESS_URL",
                    "http://127.0.0.1:8081/?rest_route=/wp/v2",
                ),
                ("BLOGFLOW_WORDPRESS_ALLOW_HTTP", "true"),
                ("BLOGFLOW_WORDPRESS_USER", "admin"),
                ("BLOGFLOW_WORDPRESS_APP_PASSWORD", "abcd efgh ijkl mnop"),
                ("BLOGFLOW_GHOST_URL", "http://localhost:2368"),
                ("BLOGFLOW_GHOST_ALLOW_HTTP", "1"),
                ("BLOGFLOW_GHOST_ADMIN_KEY", "6489f1c2a3:0a0bff"),
            ],
            "",
        )
        .unwrap();
        assert_eq!(c.wordpress.unwrap().url, "http://127.0.0.1:8081");
        assert_eq!(c.ghost.unwrap().url, "http://localhost:2368");
        let problems = from(
            &[
                ("BLOGFLOW_GHOST_URL", "http://localhost:2368"),
                ("BLOGFLOW_GHOST_ADMIN_KEY", "6489f1c2a3:0a0bff"),
            ],
            "",
        )
        .unwrap_err();
        assert!(
            problems[0]
                .message
                .contains("BLOGFLOW_GHOST_ALLOW_HTTP=true"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn the_source_reader_is_safe_by_default_and_its_limits_are_checked() {
        let (c, _) = from(&[], "").unwrap();
        assert_eq!(c.sources, SourcesConfig::default());
        assert!(!c.sources.allow_private);
        let (c, _) = from(
            &[("BLOGFLOW_SOURCES_ALLOW_PRIVATE", "true")],
            "[sources]\nmax_page_kib = 512\ntimeout_secs = 5\nhost_interval_ms = 0\n",
        )
        .unwrap();
        assert!(c.sources.allow_private);
        assert_eq!(c.sources.max_bytes, 512 * 1024);
        assert_eq!(c.sources.timeout, Duration::from_secs(5));
        assert!(c.sources.host_interval.is_zero());
        let problems = from(
            &[("BLOGFLOW_SOURCES_ALLOW_PRIVATE", "maybe")],
            "[sources]\ntimeout_secs = 0\n",
        )
        .unwrap_err();
        let named: Vec<&str> = problems.iter().map(|p| p.setting.as_str()).collect();
        assert_eq!(
            named,
            ["BLOGFLOW_SOURCES_ALLOW_PRIVATE", "sources.timeout_secs"],
            "{problems:?}"
        );
    }

    #[test]
    fn grounding_settings_and_the_blogs_own_sites() {
        let (c, _) = from(&[], "").unwrap();
        assert_eq!(
            (c.sources.max_per_post, c.sources.prompt_chars),
            (3, 12_000)
        );
        assert!(!c.generation.require_sources && c.generation.own_sites.is_empty());
        let (c, _) = from(
            &[
                ("BLOGFLOW_SITE_URL", "https://blog.example.com/"),
                ("BLOGFLOW_GHOST_URL", "https://ghost.example.com"),
                ("BLOGFLOW_GHOST_ADMIN_KEY", "6489e5b6a2a8b4a1c6f0d1e2:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"),
            ],
            "[generation]\nrequire_sources = true\n[sources]\nmax_per_post = 0\nprompt_chars = 4000\n\
             [providers.openai]\ncontext_tokens = 8192\n",
        )
        .unwrap();
        assert!(c.generation.require_sources);
        assert_eq!(c.generation.balance["openai"].context_tokens, Some(8192));
        assert_eq!((c.sources.max_per_post, c.sources.prompt_chars), (0, 4_000));
        assert_eq!(
            c.generation.own_sites,
            ["https://blog.example.com", "https://ghost.example.com"]
        );
        let problems = from(
            &[
                ("BLOGFLOW_SITE_URL", "blog.example.com"),
                ("OPENAI_API_KEY", "sk-test-key"),
            ],
            "[sources]\nmax_per_post = 11\nprompt_chars = 10\n[providers.openai]\ncontext_tokens = 100\n",
        )
        .unwrap_err();
        let named: Vec<&str> = problems.iter().map(|p| p.setting.as_str()).collect();
        assert_eq!(
            named,
            [
                "providers.openai.context_tokens",
                "BLOGFLOW_SITE_URL",
                "sources.max_per_post",
                "sources.prompt_chars"
            ],
            "{problems:?}"
        );
    }

    #[test]
    fn environment_wins_over_the_file() {
        let (c, _) = from(
            &[("BLOGFLOW_LISTEN", "0.0.0.0:8080"), ("BLOGFLOW_LANGUAGE", "ko"), ("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1/"), ("OPENAI_MODEL", "qwen")],
            "[server]\nlisten = \"127.0.0.1:9\"\n[providers.openai]\nmodel = \"x\"\ntimeout_secs = 7\n",
        )
        .unwrap();
        assert_eq!(c.listen.port(), 8080);
        assert_eq!(c.generation.language, Language::Ko);
        let o = c.openai.unwrap();
        assert_eq!(
            (o.base_url.expose(), o.model.as_str(), o.timeout),
            ("http://127.0.0.1:8000/v1", "qwen", Duration::from_secs(7))
        );
        assert!(o.api_key.is_none());
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_setting() {
        let problems = from(
            &[("BLOGFLOW_LISTEN", "nowhere"), ("BLOGFLOW_LANGUAGE", "fr"), ("WORKFLOW_AUTO_START", "maybe"), ("BLOGFLOW_API_TOKEN", "short")],
            "[generation]\nparallelism = 0\n[[schedules]]\nname = \"g\"\ncron = \"every day\"\naction = \"generate\"\n[[schedules]]\nname = \"g\"\ncron = \"0 * * * *\"\naction = \"dance\"\n",
        )
        .unwrap_err();
        let settings: Vec<&str> = problems.iter().map(|p| p.setting.as_str()).collect();
        for s in [
            "BLOGFLOW_LISTEN",
            "BLOGFLOW_LANGUAGE",
            "WORKFLOW_AUTO_START",
            "BLOGFLOW_API_TOKEN",
            "generation.parallelism",
            "schedules[0].cron",
            "schedules[1].name",
            "schedules[1].action",
        ] {
            assert!(settings.contains(&s), "{s} missing from {problems:#?}");
        }
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        let sources = Sources {
            env: Env::default(),
            file: Some(("b.toml".into(), "[generation]\nkeywordz = []\n".into())),
        };
        let p = Config::from_sources(&sources).unwrap_err();
        assert!(p[0].message.contains("keywordz"), "{p:?}");
    }

    #[test]
    fn secrets_can_come_from_a_file_and_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "0123456789abcdef0123\n").unwrap();
        let (c, _) = from(
            &[
                ("BLOGFLOW_API_TOKEN_FILE", f.to_str().unwrap()),
                ("OPENAI_API_KEY", "sk-secret-value"),
            ],
            "",
        )
        .unwrap();
        assert!(
            c.api_token
                .as_ref()
                .unwrap()
                .matches("0123456789abcdef0123")
        );
        let printed = format!("{c:?}");
        assert!(!printed.contains("sk-secret-value") && !printed.contains("0123456789abcdef0123"));
    }

    #[test]
    fn api_keys_enable_their_providers_and_keep_the_local_model_off() {
        let (c, w) = from(
            &[
                ("ANTHROPIC_API_KEY", "sk-ant-xyz"),
                ("GEMINI_API_KEY", "g-key"),
                ("GEMINI_MODEL", "gemini-pro"),
                ("ANTHROPIC_BASE_URL", "http://127.0.0.1:8080/"),
            ],
            "",
        )
        .unwrap();
        assert!(w.is_empty(), "{w:?}");
        let a = c.anthropic.unwrap();
        assert_eq!(
            (a.base_url.expose(), a.model.as_str()),
            ("http://127.0.0.1:8080", "claude-sonnet-4-5")
        );
        let g = c.gemini.unwrap();
        assert_eq!(
            (g.base_url.expose(), g.model.as_str()),
            ("https://generativelanguage.googleapis.com", "gemini-pro")
        );
        assert!(c.local.is_none() && c.openai.is_none());
        let (c, w) = from(&[], "[providers.anthropic]\nmodel = \"x\"\n").unwrap();
        assert!(c.anthropic.is_none() && c.local.is_some());
        assert_eq!(
            w[0].setting, "providers.anthropic",
            "a section without a key says the provider is off"
        );
    }

    #[test]
    fn database_url_chooses_postgres_warns_on_sqlite_and_refuses_others() {
        let (c, w) = from(
            &[("DATABASE_URL", "postgres://bf:pg-secret-77@db:5432/blog")],
            "",
        )
        .unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert!(c.database_url.is_some());
        assert!(
            !format!("{c:?}").contains("pg-secret-77"),
            "the password stays secret"
        );
        let (c, w) = from(&[("DATABASE_URL", "sqlite:./data/blog.db")], "").unwrap();
        assert!(c.database_url.is_none());
        assert_eq!(w.len(), 1, "{w:?}");
        let err = format!(
            "{:?}",
            from(&[("DATABASE_URL", "mysql://u:mysql-pw-9@h/db")], "").unwrap_err()
        );
        assert!(
            err.contains("DATABASE_URL") && err.contains("postgres://"),
            "{err}"
        );
        assert!(!err.contains("mysql-pw-9"), "{err}");
    }

    #[test]
    fn redis_is_chosen_by_url_or_host_and_its_password_stays_secret() {
        let (c, w) = from(&[("REDIS_URL", "redis://:pw-1234@h:6380/2")], "").unwrap();
        assert!(w.is_empty(), "{w:?}");
        let QueueBackendConfig::Redis(r) = &c.queue.backend else {
            panic!("expected the Redis backend")
        };
        assert_eq!((r.prefix.as_str(), r.require_noeviction), ("bull", true));
        assert!(
            !format!("{c:?}").contains("pw-1234"),
            "password in Debug output"
        );

        let (c, _) = from(
            &[
                ("REDIS_HOST", "10.0.0.5"),
                ("REDIS_PORT", "6390"),
                ("REDIS_PASSWORD", "p@ss:w/rd"),
            ],
            "[queue]\nredis_prefix = \"{bf}\"\n",
        )
        .unwrap();
        let QueueBackendConfig::Redis(r) = &c.queue.backend else {
            panic!("expected the Redis backend")
        };
        assert_eq!(r.url.expose(), "redis://:p%40ss%3Aw%2Frd@10.0.0.5:6390");
        assert_eq!(r.prefix, "{bf}");

        let (c, _) = from(&[], "").unwrap();
        assert!(matches!(c.queue.backend, QueueBackendConfig::Sqlite));
    }

    #[test]
    fn redis_misconfiguration_is_refused_with_the_fix() {
        for (env, toml, needle) in [
            (
                vec![],
                "[queue]\nbackend = \"redis\"\n",
                "neither REDIS_URL nor REDIS_HOST",
            ),
            (
                vec![("REDIS_URL", "http://:secret99@h")],
                "",
                "not a valid Redis URL",
            ),
            (
                vec![("REDIS_HOST", "h"), ("REDIS_PORT", "high")],
                "",
                "not a port number",
            ),
            (
                vec![],
                "[queue]\nbackend = \"rabbit\"\n",
                "use sqlite or redis",
            ),
        ] {
            let err = from(&env, toml).unwrap_err();
            let text = format!("{err:?}");
            assert!(text.contains(needle), "{needle}: {text}");
            assert!(!text.contains("secret99"), "password in error: {text}");
        }
    }

    #[test]
    fn several_openai_compatible_servers_each_with_a_name() {
        let toml = "[[providers.compatible]]\nname = \"vllm-a\"\nbase_url = \"http://10.0.0.1:8000/v1/\"\nmodel = \"qwen\"\nweight = 3.0\nrpm = 60\n\
                    [[providers.compatible]]\nname = \"ollama\"\nbase_url = \"http://127.0.0.1:11434/v1\"\nmodel = \"llama3\"\napi_key_env = \"OLLAMA_KEY\"\n";
        let (c, w) = from(&[("OLLAMA_KEY", "k-123456")], toml).unwrap();
        assert!(w.is_empty(), "{w:?}");
        let names: Vec<&str> = c.compatible.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["vllm-a", "ollama"]);
        assert_eq!(
            c.compatible[0].1.base_url.expose(),
            "http://10.0.0.1:8000/v1"
        );
        assert_eq!(
            c.compatible[1].1.api_key.as_ref().unwrap().expose(),
            "k-123456"
        );
        assert_eq!(c.generation.balance["vllm-a"].weight, 3.0);
        assert_eq!(c.generation.balance["vllm-a"].rpm, Some(60));
        assert!(
            c.local.is_none(),
            "the local model stays off with API providers"
        );

        for (toml, needle) in [
            (
                "[[providers.compatible]]\nname = \"a\"\nbase_url = \"http://h/v1\"\nmodel = \"m\"\n[[providers.compatible]]\nname = \"a\"\nbase_url = \"http://h/v1\"\nmodel = \"m\"\n",
                "already used",
            ),
            (
                "[[providers.compatible]]\nname = \"b\"\nbase_url = \"ftp://h\"\nmodel = \"m\"\n",
                "not an http(s) URL",
            ),
            (
                "[[providers.compatible]]\nname = \"c\"\nbase_url = \"http://h/v1\"\nmodel = \"m\"\napi_key_env = \"NOPE_KEY\"\n",
                "NOPE_KEY is not set",
            ),
            (
                "[[providers.compatible]]\nname = \"openai\"\nbase_url = \"http://h/v1\"\nmodel = \"m\"\n",
                "already used",
            ),
        ] {
            let err = format!("{:?}", from(&[], toml).unwrap_err());
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }
}
