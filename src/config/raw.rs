//! The optional `blogflow.toml`, exactly as written. Unknown keys are errors so that a typo
//! never silently falls back to a default. [`super::Config::validate`] turns this into a
//! [`super::Config`].

use serde::Deserialize;

/// The whole file. Every section is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    /// `[server]`
    pub server: RawServer,
    /// `[paths]`
    pub paths: RawPaths,
    /// `[workflow]`
    pub workflow: RawWorkflow,
    /// `[generation]`
    pub generation: RawGeneration,
    /// `[providers]`
    pub providers: RawProviders,
    /// `[[schedules]]`; when absent the defaults apply (5 posts every 2 h, cleanup 02:00, health 30 s).
    pub schedules: Option<Vec<RawSchedule>>,
    /// `[queue]`
    pub queue: RawQueue,
    /// `[publish]`
    pub publish: RawPublish,
    /// `[logging]`
    pub logging: RawLogging,
    /// `[monitoring]`
    pub monitoring: RawMonitoring,
    /// `[alerts]`
    pub alerts: RawAlerts,
    /// `[topics]` and `[[topics.feeds]]`
    pub topics: RawTopics,
    /// `[sources]`
    pub sources: RawSources,
    /// `[images]`
    pub images: RawImages,
}

/// `[server]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    /// Address to listen on (`BLOGFLOW_LISTEN`).
    pub listen: Option<String>,
    /// With an API token set, let anyone read the API and the dashboard (`BLOGFLOW_PUBLIC_READ`);
    /// otherwise reads need the token too.
    pub public_read: Option<bool>,
    /// With an API token set, let anyone read `/metrics` (`BLOGFLOW_METRICS_PUBLIC`); otherwise
    /// Prometheus sends the token (`authorization: {credentials: …}`).
    pub metrics_public: Option<bool>,
    /// Trust `X-Forwarded-For` and `X-Forwarded-Proto` from a reverse proxy in front
    /// (`BLOGFLOW_TRUST_PROXY`): client addresses for login throttling, HTTPS for `Secure`
    /// cookies. Only behind a proxy that sets them: otherwise clients could.
    pub trust_proxy: Option<bool>,
    /// A request's headers must arrive within this many seconds of the connection's start or
    /// the previous response (so also the keep-alive idle time) (10).
    pub header_timeout_secs: Option<u64>,
    /// Longest time to read a request's body and answer it, seconds (60).
    pub request_timeout_secs: Option<u64>,
    /// Connections served at once; more get only `/healthz` and `/readyz` (1024).
    pub max_connections: Option<usize>,
}

/// `[paths]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPaths {
    /// SQLite file and state (`BLOGFLOW_DATA_DIR`).
    pub data_dir: Option<String>,
    /// Markdown output (`BLOGFLOW_CONTENT_DIR`).
    pub content_dir: Option<String>,
    /// Log files (`BLOGFLOW_LOG_DIR`).
    pub log_dir: Option<String>,
}

/// `[workflow]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawWorkflow {
    /// Start scheduler and workers at boot (`WORKFLOW_AUTO_START`).
    pub auto_start: Option<bool>,
    /// (`PERFORMANCE_MONITORING_ENABLED`)
    pub performance_monitoring: Option<bool>,
    /// (`SELF_HEALING_ENABLED`)
    pub self_healing: Option<bool>,
}

/// `[generation]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawGeneration {
    /// `en` or `ko` (`BLOGFLOW_LANGUAGE`).
    pub language: Option<String>,
    /// Topics to write about when no manual topic is queued.
    pub keywords: Option<Vec<String>>,
    /// Category of scheduled posts, by the name readers see (default: the language's).
    pub category: Option<String>,
    /// The category's URL slug (default: made from the name by `slug_policy`).
    pub category_slug: Option<String>,
    /// `romanize` (default) or `keep`: what slugs do with Hangul (`BLOGFLOW_SLUG_POLICY`).
    pub slug_policy: Option<String>,
    /// Posts generated at once within one job.
    pub parallelism: Option<usize>,
    /// Largest `count` one request may ask for.
    pub max_posts_per_request: Option<u32>,
    /// Posts scoring below this (0–100) are regenerated, then held for review.
    pub quality_threshold: Option<u8>,
    /// Generations per post before it is held or failed.
    pub attempts_per_post: Option<u32>,
    /// Attempts of a whole `content_generation` job.
    pub job_attempts: Option<u32>,
    /// Longest a `content_generation` job may run, in seconds.
    pub job_timeout_secs: Option<u64>,
    /// Longest one post may take, every provider and regeneration included, seconds.
    pub post_deadline_secs: Option<u64>,
    /// Ask a second provider to grade posts that pass the deterministic gate (false).
    pub judge: Option<bool>,
    /// Least judge grade (1-10) to publish (6).
    pub judge_min_score: Option<u8>,
    /// A request for a topic written about within this many minutes (same category and
    /// language) reuses that post instead of paying for another (0 turns it off; 1440).
    pub cache_ttl_mins: Option<u64>,
    /// Stop generating for the rest of the UTC day once this much was spent, USD.
    pub daily_budget_usd: Option<f64>,
    /// Stop generating for the rest of the UTC day after this many posts.
    pub daily_post_cap: Option<u32>,
    /// Write only posts grounded in sources read (false): keyword topics are skipped.
    pub require_sources: Option<bool>,
}

/// `[providers]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawProviders {
    /// `[providers.openai]`: OpenAI or any OpenAI-compatible server.
    pub openai: Option<RawOpenAi>,
    /// `[providers.local]`: the in-process local model.
    pub local: RawLocal,
    /// `[providers.anthropic]`: Claude (key: `ANTHROPIC_API_KEY`).
    pub anthropic: Option<RawApiProvider>,
    /// `[providers.gemini]`: Gemini (key: `GEMINI_API_KEY`).
    pub gemini: Option<RawApiProvider>,
    /// `[[providers.compatible]]`: more OpenAI-compatible servers (vLLM, Ollama, llama.cpp, …),
    /// each with a name of its own.
    pub compatible: Vec<RawCompatible>,
    /// Longest a 429's `Retry-After` holds a provider back, seconds (900); longer asks are
    /// clamped with a warning, and a passing health check ends a long hold.
    pub max_retry_after_secs: Option<u64>,
    /// Longest a provider may take to send the first token of its (streamed) answer, seconds
    /// (30). Raise it for a server that does not stream and is slow.
    pub first_token_timeout_secs: Option<u64>,
    /// Longest silence between two parts of a streamed answer, seconds (30).
    pub stream_idle_timeout_secs: Option<u64>,
}

/// One `[[providers.compatible]]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawCompatible {
    /// Unique name, shown in the API, logs and metrics.
    pub name: String,
    /// Base URL including `/v1`.
    pub base_url: String,
    /// Model name.
    pub model: String,
    /// Environment variable holding the key (`<VAR>_FILE` works too); none for open servers.
    pub api_key_env: Option<String>,
    /// Request timeout, seconds.
    pub timeout_secs: Option<u64>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Answer budget.
    pub max_tokens: Option<u32>,
    /// Ask for a JSON object.
    pub json_mode: Option<bool>,
    /// `json` (default) or `steps` (small models: the post is asked for in short parts).
    pub format: Option<String>,
    /// USD per million input tokens.
    pub input_price_per_mtok: Option<f64>,
    /// USD per million output tokens.
    pub output_price_per_mtok: Option<f64>,
    /// Share of traffic relative to the other providers (default 1).
    pub weight: Option<f64>,
    /// Requests per minute allowed.
    pub rpm: Option<u32>,
    /// Tokens per minute allowed.
    pub tpm: Option<u32>,
    /// The model's context window in tokens: bounds the source text in a prompt.
    pub context_tokens: Option<u32>,
}

/// `[providers.anthropic]` or `[providers.gemini]`. The key comes from the environment only.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawApiProvider {
    /// Share of traffic relative to the other providers (default 1).
    pub weight: Option<f64>,
    /// Requests per minute this provider allows (none: unlimited).
    pub rpm: Option<u32>,
    /// Tokens per minute this provider allows (none: unlimited).
    pub tpm: Option<u32>,
    /// The model's context window in tokens: bounds the source text in a prompt.
    pub context_tokens: Option<u32>,
    /// Endpoint (`ANTHROPIC_BASE_URL`, `GEMINI_BASE_URL`).
    pub base_url: Option<String>,
    /// Model (`ANTHROPIC_MODEL`, `GEMINI_MODEL`).
    pub model: Option<String>,
    /// Per-request timeout, seconds.
    pub timeout_secs: Option<u64>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Output token budget per request.
    pub max_tokens: Option<u32>,
    /// USD per million input tokens.
    pub input_price_per_mtok: Option<f64>,
    /// USD per million output tokens.
    pub output_price_per_mtok: Option<f64>,
}

/// `[providers.local]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLocal {
    /// `auto` (default: on when no other provider is configured), `on` (also as the last
    /// fallback after the others) or `off` (`BLOGFLOW_LOCAL_MODEL`).
    pub mode: Option<String>,
    /// Any llama-architecture GGUF; default: SmolLM2-135M-Instruct, fetched on first use
    /// (`BLOGFLOW_MODEL_PATH`).
    pub model_path: Option<String>,
    /// CPU threads per generation; default: all cores (`BLOGFLOW_MODEL_THREADS`).
    pub threads: Option<i32>,
    /// Context size in tokens (prompt + answer).
    pub context_tokens: Option<u32>,
    /// Generations at once, each with its own KV cache (~24 MB per 1k tokens of context).
    pub concurrency: Option<usize>,
    /// Answer budget in tokens.
    pub max_tokens: Option<u32>,
    /// Sampling temperature (0 = greedy).
    pub temperature: Option<f32>,
    /// Nucleus sampling mass.
    pub top_p: Option<f32>,
    /// Repetition penalty (1 = off).
    pub repeat_penalty: Option<f32>,
    /// Fixed seed for reproducible output; random when absent.
    pub seed: Option<u32>,
}

/// `[providers.openai]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawOpenAi {
    /// Share of traffic relative to the other providers (default 1).
    pub weight: Option<f64>,
    /// Requests per minute this provider allows (none: unlimited).
    pub rpm: Option<u32>,
    /// Tokens per minute this provider allows (none: unlimited).
    pub tpm: Option<u32>,
    /// The model's context window in tokens: bounds the source text in a prompt.
    pub context_tokens: Option<u32>,
    /// (`OPENAI_BASE_URL`)
    pub base_url: Option<String>,
    /// (`OPENAI_MODEL`)
    pub model: Option<String>,
    /// Per-request timeout, seconds.
    pub timeout_secs: Option<u64>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Output token budget per request.
    pub max_tokens: Option<u32>,
    /// Ask for `response_format: json_object` (OpenAI, vLLM and llama.cpp support it).
    pub json_mode: Option<bool>,
    /// `json` (default) or `steps` (small models: the post is asked for in short parts).
    pub format: Option<String>,
    /// USD per million input tokens, for cost tracking.
    pub input_price_per_mtok: Option<f64>,
    /// USD per million output tokens.
    pub output_price_per_mtok: Option<f64>,
}

/// One `[[schedules]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    /// Unique name; part of each tick's job id.
    pub name: String,
    /// Cron expression, 5 fields (minute first) or 6 (seconds first), UTC.
    pub cron: String,
    /// `generate`, `cleanup` or `health_check`.
    pub action: String,
    /// Posts per tick, for `generate`.
    pub count: Option<u32>,
    /// Set to false to keep the entry but not run it.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// `[queue]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawQueue {
    /// `sqlite` (default) or `redis` (needs `REDIS_URL` or `REDIS_HOST`).
    pub backend: Option<String>,
    /// Redis key prefix, `bull` by default.
    pub redis_prefix: Option<String>,
    /// Refuse to start unless Redis's `maxmemory-policy` is `noeviction` (default true).
    pub redis_require_noeviction: Option<bool>,
    /// Lease length, seconds.
    pub lease_secs: Option<u64>,
    /// How often to look for stalled jobs, seconds.
    pub stalled_interval_secs: Option<u64>,
    /// Stalls before a job fails.
    pub max_stalled: Option<u32>,
    /// Idle poll interval, ms.
    pub poll_interval_ms: Option<u64>,
    /// How long a graceful stop waits for running jobs, seconds.
    pub shutdown_grace_secs: Option<u64>,
    /// Completed jobs kept per queue.
    pub keep_completed: Option<u64>,
    /// Failed jobs kept per queue.
    pub keep_failed: Option<u64>,
    /// Longest a finished job is kept, hours.
    pub keep_hours: Option<u64>,
}

/// `[publish]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPublish {
    /// `auto` (default: posts that pass the gate are published) or `review` (every post waits
    /// for approval) (`BLOGFLOW_PUBLISH_MODE`).
    pub mode: Option<String>,
    /// In review mode, approve a waiting post by itself after this many minutes if its score
    /// is at least `auto_approve_min_score` (checked with the health schedule).
    pub auto_approve_after_mins: Option<u64>,
    /// See `auto_approve_after_mins` (default 80).
    pub auto_approve_min_score: Option<u8>,
    /// `[publish.markdown]`
    pub markdown: RawMarkdown,
    /// `[publish.wordpress]`
    pub wordpress: RawWordPress,
    /// `[publish.ghost]`
    pub ghost: RawGhost,
}

/// `[publish.wordpress]`: on when a URL is set (here or `BLOGFLOW_WORDPRESS_URL`); the
/// application password comes only from `BLOGFLOW_WORDPRESS_APP_PASSWORD` (or `_FILE`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawWordPress {
    /// Site root (`https://blog.example.com`).
    pub url: Option<String>,
    /// WordPress user name (`BLOGFLOW_WORDPRESS_USER`).
    pub user: Option<String>,
    /// `publish` (default), `draft` or `future`.
    pub status: Option<String>,
    /// For `future`: minutes after writing that a post goes live (60).
    pub future_delay_mins: Option<u64>,
    /// SEO plugin preset for meta fields: `none` (default), `yoast` or `rank-math`.
    pub seo: Option<String>,
    /// Meta key for the SEO title (overrides the preset).
    pub seo_title_field: Option<String>,
    /// Meta key for the meta description (overrides the preset).
    pub seo_description_field: Option<String>,
    /// Meta key for the focus keywords (overrides the preset).
    pub seo_keywords_field: Option<String>,
    /// Allow a plain `http://` URL (the password then travels unencrypted).
    pub allow_http: Option<bool>,
    /// Per-request limit, seconds (30).
    pub timeout_secs: Option<u64>,
}

/// `[publish.ghost]`: on when a URL is set (here or `BLOGFLOW_GHOST_URL`); the admin API key
/// comes only from `BLOGFLOW_GHOST_ADMIN_KEY` (or `_FILE`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawGhost {
    /// Site root.
    pub url: Option<String>,
    /// `published` (default), `draft` or `scheduled`.
    pub status: Option<String>,
    /// For `scheduled`: minutes after writing that a post goes live (60).
    pub future_delay_mins: Option<u64>,
    /// Allow a plain `http://` URL.
    pub allow_http: Option<bool>,
    /// Per-request limit, seconds (30).
    pub timeout_secs: Option<u64>,
}

/// `[publish.markdown]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMarkdown {
    /// `hugo-yaml` (default), `hugo-toml`, `zola` or `astro`.
    pub front_matter: Option<String>,
    /// Set to false to disable Markdown output.
    pub enabled: Option<bool>,
    /// File extension: `md` (default) or `mdx`.
    pub extension: Option<String>,
    /// Front-matter keys renamed (`date = "pubDate"`) or dropped (`summary = ""`).
    pub fields: std::collections::BTreeMap<String, String>,
    /// Commit each new file to the git repository that holds the content directory.
    pub git_commit: Option<bool>,
    /// The site's address (`https://blog.example.com`, `BLOGFLOW_SITE_URL`): links to it in
    /// posts are the blog's own.
    pub site_url: Option<String>,
    /// Folder for posts' social cards (default: beside the posts), e.g. `static/images`.
    pub image_dir: Option<std::path::PathBuf>,
    /// URL prefix the front matter gives cards in `image_dir`, e.g. `/images/`.
    pub image_url: Option<String>,
    /// How a post links to a related post: a URL with `{slug}` (the file's name without its
    /// extension), e.g. `/blog/{slug}/`. Default: Hugo's `relref`, Zola's `@/` link, Astro's
    /// `/blog/{slug}/`.
    pub post_url: Option<String>,
}

/// `[logging]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLogging {
    /// `text` or `json`.
    pub format: Option<String>,
    /// Rotate a log file past this size, MB.
    pub max_file_mb: Option<u64>,
    /// Rotated files kept per log.
    pub keep_files: Option<usize>,
    /// Filter directive, e.g. `info` or `blogflow=debug` (`RUST_LOG` wins).
    pub level: Option<String>,
}

/// `[monitoring]`: sampling, thresholds (warning/critical), trends and history.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMonitoring {
    /// Seconds between samples and self-healing checks (default 15).
    pub interval_secs: Option<f64>,
    /// System memory in use, % (80 / 90).
    pub memory_warn_pct: Option<f64>,
    /// See `memory_warn_pct`.
    pub memory_critical_pct: Option<f64>,
    /// System CPU, % (70 / 85).
    pub cpu_warn_pct: Option<f64>,
    /// See `cpu_warn_pct`.
    pub cpu_critical_pct: Option<f64>,
    /// API p95 response time, seconds (5 / 10).
    pub response_warn_secs: Option<f64>,
    /// See `response_warn_secs`.
    pub response_critical_secs: Option<f64>,
    /// Mean time to write a post, seconds (30 / 60).
    pub generation_warn_secs: Option<f64>,
    /// See `generation_warn_secs`.
    pub generation_critical_secs: Option<f64>,
    /// Failed operations, % (1 / 5).
    pub error_rate_warn_pct: Option<f64>,
    /// See `error_rate_warn_pct`.
    pub error_rate_critical_pct: Option<f64>,
    /// Disk in use where the data lives, % (90 / 95).
    pub disk_warn_pct: Option<f64>,
    /// See `disk_warn_pct`.
    pub disk_critical_pct: Option<f64>,
    /// Samples in a row before a level is raised (2).
    pub raise_after: Option<u32>,
    /// Samples in a row before a level clears (2).
    pub clear_after: Option<u32>,
    /// Window of the trend line, minutes (60).
    pub trend_window_mins: Option<u64>,
    /// Warn when a trend crosses its warning bound within this many hours (6).
    pub trend_horizon_hours: Option<u64>,
    /// Full-resolution history kept, hours (24).
    pub history_raw_hours: Option<u64>,
    /// Five-minute history kept, days (31).
    pub history_days: Option<u64>,
}

/// `[alerts]`: where alerts go and how often. Channel credentials come from the environment.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAlerts {
    /// Name of this instance in messages (default: the host name).
    pub instance: Option<String>,
    /// An active alert is repeated after this many minutes (240).
    pub repeat_interval_mins: Option<u64>,
    /// Messages per hour over all alerts; critical ones always pass (30).
    pub max_per_hour: Option<u32>,
    /// `[alerts.slack]` (URL: `BLOGFLOW_ALERT_SLACK_URL`).
    pub slack: RawChannel,
    /// `[alerts.discord]` (URL: `BLOGFLOW_ALERT_DISCORD_URL`).
    pub discord: RawChannel,
    /// `[alerts.telegram]` (token: `BLOGFLOW_ALERT_TELEGRAM_TOKEN`).
    pub telegram: RawChannel,
    /// `[alerts.webhook]` (URL: `BLOGFLOW_ALERT_WEBHOOK_URL`, key: `BLOGFLOW_ALERT_WEBHOOK_SECRET`).
    pub webhook: RawChannel,
}

/// One alert channel's settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawChannel {
    /// Least severity sent: `info`, `warning` (default) or `critical`.
    pub min_severity: Option<String>,
    /// Telegram only: the chat id (or `BLOGFLOW_ALERT_TELEGRAM_CHAT_ID`).
    pub chat_id: Option<String>,
    /// Telegram only: the Bot API base URL.
    pub api_base: Option<String>,
}

/// `[topics]`: where topics come from besides the keywords.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTopics {
    /// `[[topics.feeds]]`
    pub feeds: Vec<RawFeed>,
    /// A source is not picked again within this many minutes (0).
    pub source_cooldown_mins: Option<u64>,
    /// Largest feed document read, KiB (2048).
    pub max_feed_kib: Option<usize>,
    /// Items kept per fetch, newest first (50).
    pub max_items_per_feed: Option<usize>,
    /// Items older than this many days are ignored (14).
    pub max_age_days: Option<u64>,
}

/// `[sources]`: how the articles behind topics are fetched.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSources {
    /// Fetch loopback, private and link-local addresses too (`BLOGFLOW_SOURCES_ALLOW_PRIVATE`;
    /// false).
    pub allow_private: Option<bool>,
    /// Largest page read, KiB (2048).
    pub max_page_kib: Option<usize>,
    /// Longest time for one page, seconds (15).
    pub timeout_secs: Option<u64>,
    /// Least time between two requests to one host, milliseconds (1000).
    pub host_interval_ms: Option<u64>,
    /// Redirects followed at most (5).
    pub max_redirects: Option<usize>,
    /// Articles read for one post: the topic's own and others on the same story (3; 0 turns
    /// reading off).
    pub max_per_post: Option<usize>,
    /// Characters of source text in one prompt, all sources together (12000).
    pub prompt_chars: Option<usize>,
}

/// One RSS, Atom or JSON feed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawFeed {
    /// Unique name (the topic's source).
    pub name: String,
    /// Feed URL (http or https).
    pub url: String,
    /// Category of posts about its items (default: `generation.category`).
    pub category: Option<String>,
    /// Minutes between fetches (60).
    pub interval_mins: Option<u64>,
    /// An item must mention one of these, if any are given.
    pub include: Vec<String>,
    /// An item mentioning one of these is skipped.
    pub exclude: Vec<String>,
    /// Rank multiplier of its items (1).
    pub weight: Option<f64>,
}

/// `[images]`: the social card drawn for every post.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawImages {
    /// Draw a card for every post (true).
    pub card: Option<bool>,
    /// The blog's name on the card (`BLOGFLOW_BLOG_NAME`; "blogflow").
    pub blog_name: Option<String>,
    /// Background colour ("#0f172a").
    pub background: Option<String>,
    /// Accent bar and category colour ("#38bdf8").
    pub accent: Option<String>,
    /// Title colour ("#f8fafc").
    pub foreground: Option<String>,
    /// Blog name and date colour ("#94a3b8").
    pub muted: Option<String>,
    /// An SVG file with `{{title}}`, `{{category}}`, `{{date}}`, `{{blog}}`, `{{width}}`,
    /// `{{height}}`, `{{background}}`, `{{accent}}`, `{{foreground}}`, `{{muted}}` and
    /// `{{fonts}}` placeholders, instead of the built-in layout.
    pub template: Option<std::path::PathBuf>,
    /// Font files loaded first (Debian's Noto Sans CJK).
    pub fonts: Option<Vec<std::path::PathBuf>>,
    /// `[images.generate]`: a generated feature image instead of the card, where an
    /// image-capable provider is configured.
    pub generate: Option<RawImageGenerate>,
}

/// `[images.generate]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawImageGenerate {
    /// `openai` (its images API, or an OpenAI-compatible server's) or `gemini`; the endpoint
    /// and key are that provider's (`[providers.openai]`, `[providers.gemini]`).
    pub provider: Option<String>,
    /// Image model (`gpt-image-1`; Gemini: `gemini-2.5-flash-image`).
    pub model: Option<String>,
    /// OpenAI: `1536x1024` (landscape, the default), `1024x1024`, `1024x1536` or `auto`.
    pub size: Option<String>,
    /// OpenAI: `low` (the default), `medium`, `high` or `auto`.
    pub quality: Option<String>,
    /// USD per image, added to the post's cost (0).
    pub price_usd: Option<f64>,
    /// Per-request limit, seconds (120).
    pub timeout_secs: Option<u64>,
    /// The prompt, with `{title}`, `{summary}`, `{category}` and `{tags}`.
    pub prompt: Option<String>,
}
