//! Configuration: environment (the original's names plus `BLOGFLOW_*`), `.env.local`, `.env`
//! and an optional `blogflow.toml`, validated into a [`Config`] that cannot be invalid.
//!
//! Precedence: environment over file over defaults. Every problem is reported at once, each
//! naming the setting by its env var or TOML path, so an operator fixes them in one pass.

mod env;
mod raw;
mod secret;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

pub use env::Env;
pub use raw::RawConfig;
pub use secret::Secret;

use crate::queue::Retention;

/// Language the posts are written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English.
    #[default]
    En,
    /// Korean.
    Ko,
}

impl Language {
    /// ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Ko => "ko",
        }
    }
}

/// Front-matter dialect of the Markdown publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontMatter {
    /// Hugo with YAML (`---`), also read by Astro, Jekyll, Eleventy.
    HugoYaml,
    /// Hugo with TOML (`+++`).
    HugoToml,
    /// Zola (TOML, tags under `[taxonomies]`).
    Zola,
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
    /// Base URL up to and including `/v1`.
    pub base_url: String,
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
    /// USD per million input tokens.
    pub input_price_per_mtok: f64,
    /// USD per million output tokens.
    pub output_price_per_mtok: f64,
}

/// Post generation.
#[derive(Debug, Clone)]
pub struct GenerationConfig {
    /// Language of the posts.
    pub language: Language,
    /// Keywords to write about (rotated, least recently used first).
    pub keywords: Vec<String>,
    /// Category of scheduled posts.
    pub category: String,
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
}

/// Queue tuning.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Lease length.
    pub lease: Duration,
    /// Stalled-job check interval.
    pub stalled_interval: Duration,
    /// Stalls before failing a job.
    pub max_stalled: u32,
    /// Idle poll interval.
    pub poll_interval: Duration,
    /// Graceful stop deadline.
    pub shutdown_grace: Duration,
    /// Retention of completed jobs.
    pub completed: Retention,
    /// Retention of failed jobs.
    pub failed: Retention,
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
    /// Start scheduler and workers at boot.
    pub auto_start: bool,
    /// Performance monitoring switch (the monitor arrives in a later release).
    pub performance_monitoring: bool,
    /// Self-healing switch (arrives in a later release).
    pub self_healing: bool,
    /// The OpenAI-compatible provider, if configured.
    pub openai: Option<OpenAiConfig>,
    /// The local model, if enabled (by default: when no other provider is configured).
    pub local: Option<crate::llm::local::LocalConfig>,
    /// Generation settings.
    pub generation: GenerationConfig,
    /// Cron schedules.
    pub schedules: Vec<Schedule>,
    /// Queue tuning.
    pub queue: QueueConfig,
    /// Markdown publisher: `None` when disabled.
    pub markdown: Option<FrontMatter>,
    /// Log output.
    pub logging: LoggingConfig,
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

/// The keywords used when none are configured: the AI-trend beats of the original blog.
pub const DEFAULT_KEYWORDS: &[&str] = &[
    "large language models",
    "AI agents",
    "open-weight models",
    "multimodal AI",
    "AI regulation",
    "AI in healthcare",
    "retrieval-augmented generation",
    "AI chips",
    "on-device small language models",
    "AI safety research",
    "generative video",
    "AI coding assistants",
    "reinforcement learning from human feedback",
    "AI in education",
];

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

fn error(setting: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        severity: Severity::Error,
        setting: setting.into(),
        message: message.into(),
    }
}

fn warning(setting: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        severity: Severity::Warning,
        setting: setting.into(),
        message: message.into(),
    }
}

/// Collects problems while validating.
#[derive(Default)]
struct Check {
    problems: Vec<Problem>,
}

impl Check {
    /// The env var if set, else the file's value; parsed with `FromStr`.
    fn parse<T: FromStr>(
        &mut self,
        env: &Env,
        var: &str,
        file: Option<T>,
        default: T,
        what: &str,
    ) -> T
    where
        T::Err: std::fmt::Display,
    {
        match env.get(var) {
            Some(text) => match text.parse() {
                Ok(v) => v,
                Err(e) => {
                    self.problems
                        .push(error(var, format!("{text:?} is not {what}: {e}")));
                    default
                }
            },
            None => file.unwrap_or(default),
        }
    }

    fn flag(&mut self, env: &Env, var: &str, file: Option<bool>, default: bool) -> bool {
        match env.get(var) {
            None => file.unwrap_or(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                other => {
                    self.problems.push(error(
                        var,
                        format!("{other:?} is not a boolean (use true or false)"),
                    ));
                    default
                }
            },
        }
    }

    fn range<T: PartialOrd + std::fmt::Display + Copy>(
        &mut self,
        setting: &str,
        v: T,
        lo: T,
        hi: T,
    ) -> T {
        if v < lo || v > hi {
            self.problems.push(error(
                setting,
                format!("{v} is out of range: use {lo} to {hi}"),
            ));
        }
        v
    }

    fn secret(&mut self, env: &Env, var: &str) -> Option<Secret> {
        match env.secret(var) {
            Ok(v) => v.map(Secret::new),
            Err(m) => {
                self.problems.push(error(format!("{var}_FILE"), m));
                None
            }
        }
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

impl Config {
    /// Validates `sources` into a config. `Ok` carries warnings; `Err` carries every problem
    /// (errors and warnings).
    pub fn from_sources(sources: &Sources) -> Result<(Config, Vec<Problem>), Vec<Problem>> {
        let raw = match &sources.file {
            None => RawConfig::default(),
            Some((path, text)) => toml::from_str::<RawConfig>(text).map_err(|e| {
                vec![error(
                    path.display().to_string(),
                    e.to_string().trim().replace('\n', " "),
                )]
            })?,
        };
        Self::validate(raw, &sources.env)
    }

    /// Validates a parsed file plus the environment.
    pub fn validate(raw: RawConfig, env: &Env) -> Result<(Config, Vec<Problem>), Vec<Problem>> {
        let mut c = Check::default();
        let listen_default: SocketAddr = "127.0.0.1:3000".parse().expect("default address");
        let listen_file = raw.server.listen.as_deref().and_then(|s| match s.parse() {
            Ok(a) => Some(a),
            Err(e) => {
                c.problems.push(error(
                    "server.listen",
                    format!("{s:?} is not a socket address: {e}"),
                ));
                None
            }
        });
        let listen = c.parse(
            env,
            "BLOGFLOW_LISTEN",
            listen_file,
            listen_default,
            "a socket address like 127.0.0.1:3000",
        );
        let dir = |var: &str, file: Option<String>, default: &str| {
            PathBuf::from(
                env.get(var)
                    .map(str::to_owned)
                    .or(file)
                    .unwrap_or_else(|| default.to_owned()),
            )
        };
        let data_dir = dir("BLOGFLOW_DATA_DIR", raw.paths.data_dir, "./data");
        let content_dir = dir("BLOGFLOW_CONTENT_DIR", raw.paths.content_dir, "./content");
        let log_dir = dir("BLOGFLOW_LOG_DIR", raw.paths.log_dir, "./logs");
        let api_token = c.secret(env, "BLOGFLOW_API_TOKEN");
        if api_token.as_ref().is_some_and(|t| t.expose().len() < 16) {
            c.problems.push(error(
                "BLOGFLOW_API_TOKEN",
                "too short: use at least 16 characters (e.g. `openssl rand -hex 24`)",
            ));
        }
        let auto_start = c.flag(env, "WORKFLOW_AUTO_START", raw.workflow.auto_start, true);
        let performance_monitoring = c.flag(
            env,
            "PERFORMANCE_MONITORING_ENABLED",
            raw.workflow.performance_monitoring,
            true,
        );
        let self_healing = c.flag(env, "SELF_HEALING_ENABLED", raw.workflow.self_healing, true);

        let openai = openai_config(&mut c, env, raw.providers.openai);
        let local = local_config(&mut c, env, raw.providers.local, openai.is_some());
        for var in ["ANTHROPIC_API_KEY", "GEMINI_API_KEY"] {
            if env.secret(var).ok().flatten().is_some() {
                c.problems.push(warning(
                    var,
                    "set, but this version talks only to OpenAI-compatible servers; it is ignored",
                ));
            }
        }
        for var in ["REDIS_URL", "REDIS_HOST"] {
            if env.get(var).is_some() {
                c.problems.push(warning(var, "set, but the Redis queue backend is not in this version; the embedded SQLite queue is used"));
            }
        }
        if let Some(url) = env.get("DATABASE_URL") {
            // Even a sqlite: URL is not honoured yet: the file is BLOGFLOW_DATA_DIR/blogflow.db.
            let scheme = url.split(':').next().unwrap_or("");
            c.problems.push(warning("DATABASE_URL", format!("{scheme}: is not used by this version; the SQLite file in BLOGFLOW_DATA_DIR is used")));
        }

        let generation = generation_config(&mut c, env, raw.generation);
        let schedules = schedules(&mut c, raw.schedules, generation.max_posts_per_request);
        let queue = queue_config(&mut c, raw.queue);
        let markdown = match (
            raw.publish.markdown.enabled,
            raw.publish.markdown.front_matter.as_deref(),
        ) {
            (Some(false), _) => None,
            (_, None | Some("hugo-yaml")) => Some(FrontMatter::HugoYaml),
            (_, Some("hugo-toml")) => Some(FrontMatter::HugoToml),
            (_, Some("zola")) => Some(FrontMatter::Zola),
            (_, Some(other)) => {
                c.problems.push(error(
                    "publish.markdown.front_matter",
                    format!("{other:?} is unknown: use hugo-yaml, hugo-toml or zola"),
                ));
                None
            }
        };
        let logging = logging_config(&mut c, env, raw.logging);

        let config = Config {
            listen,
            data_dir,
            content_dir,
            log_dir,
            api_token,
            auto_start,
            performance_monitoring,
            self_healing,
            openai,
            local,
            generation,
            schedules,
            queue,
            markdown,
            logging,
        };
        if c.problems.iter().any(|p| p.severity == Severity::Error) {
            Err(c.problems)
        } else {
            Ok((config, c.problems))
        }
    }

    /// The SQLite file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("blogflow.db")
    }
}

fn openai_config(c: &mut Check, env: &Env, raw: Option<raw::RawOpenAi>) -> Option<OpenAiConfig> {
    let api_key = c.secret(env, "OPENAI_API_KEY");
    let raw_present = raw.is_some();
    let raw = raw.unwrap_or_default();
    let base_url = env
        .get("OPENAI_BASE_URL")
        .map(str::to_owned)
        .or(raw.base_url);
    if api_key.is_none() && base_url.is_none() {
        if raw_present {
            c.problems.push(warning(
                "providers.openai",
                "no OPENAI_API_KEY and no base_url: the provider stays off",
            ));
        }
        return None;
    }
    let base_url = base_url.unwrap_or_else(|| "https://api.openai.com/v1".into());
    let base_url = base_url.trim_end_matches('/').to_owned();
    match reqwest::Url::parse(&base_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        Ok(u) => c.problems.push(error(
            "OPENAI_BASE_URL",
            format!("scheme {:?} is not http or https", u.scheme()),
        )),
        Err(e) => c.problems.push(error(
            "OPENAI_BASE_URL",
            format!("{base_url:?} is not a URL: {e}"),
        )),
    }
    if api_key.is_none() && base_url.contains("api.openai.com") {
        c.problems.push(error(
            "OPENAI_API_KEY",
            "required for api.openai.com (or point OPENAI_BASE_URL at a local server)",
        ));
    }
    let model = env
        .get("OPENAI_MODEL")
        .map(str::to_owned)
        .or(raw.model)
        .unwrap_or_else(|| "gpt-4o-mini".into());
    let timeout = c.range(
        "providers.openai.timeout_secs",
        raw.timeout_secs.unwrap_or(120),
        1,
        3600,
    );
    let temperature = c.range(
        "providers.openai.temperature",
        raw.temperature.unwrap_or(0.7),
        0.0,
        2.0,
    );
    let max_tokens = c.range(
        "providers.openai.max_tokens",
        raw.max_tokens.unwrap_or(3000),
        16,
        200_000,
    );
    let input_price = c.range(
        "providers.openai.input_price_per_mtok",
        raw.input_price_per_mtok.unwrap_or(0.0),
        0.0,
        1e6,
    );
    let output_price = c.range(
        "providers.openai.output_price_per_mtok",
        raw.output_price_per_mtok.unwrap_or(0.0),
        0.0,
        1e6,
    );
    Some(OpenAiConfig {
        base_url,
        api_key,
        model,
        timeout: secs(timeout),
        temperature,
        max_tokens,
        json_mode: raw.json_mode.unwrap_or(false),
        input_price_per_mtok: input_price,
        output_price_per_mtok: output_price,
    })
}

fn local_config(
    c: &mut Check,
    env: &Env,
    raw: raw::RawLocal,
    others: bool,
) -> Option<crate::llm::local::LocalConfig> {
    let mode = env
        .get("BLOGFLOW_LOCAL_MODEL")
        .map(str::to_owned)
        .or(raw.mode);
    let enabled = match mode.as_deref() {
        None | Some("auto") => !others,
        Some("on") => true,
        Some("off") => false,
        Some(other) => {
            c.problems.push(error(
                "BLOGFLOW_LOCAL_MODEL",
                format!("{other:?} is unknown: use auto, on or off"),
            ));
            false
        }
    };
    let model_path = env
        .get("BLOGFLOW_MODEL_PATH")
        .map(str::to_owned)
        .or(raw.model_path)
        .map(PathBuf::from);
    if let Some(p) = &model_path
        && enabled
        && !p.is_file()
    {
        c.problems.push(error(
            "BLOGFLOW_MODEL_PATH",
            format!(
                "{} is not a file: point it at a GGUF model, or unset it to use the default model",
                p.display()
            ),
        ));
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as i32;
    let threads = match env.get("BLOGFLOW_MODEL_THREADS") {
        Some(t) => t.parse().unwrap_or_else(|_| {
            c.problems.push(error(
                "BLOGFLOW_MODEL_THREADS",
                format!("{t:?} is not a whole number"),
            ));
            cores
        }),
        None => raw.threads.unwrap_or(cores),
    };
    let config = crate::llm::local::LocalConfig {
        model_path,
        cache_dir: crate::llm::local::fetch::cache_dir(env),
        threads: c.range("providers.local.threads", threads, 1, 256),
        context_tokens: c.range(
            "providers.local.context_tokens",
            raw.context_tokens.unwrap_or(1024),
            256,
            131_072,
        ),
        concurrency: c.range(
            "providers.local.concurrency",
            raw.concurrency.unwrap_or(1),
            1,
            16,
        ),
        max_tokens: c.range(
            "providers.local.max_tokens",
            raw.max_tokens.unwrap_or(900),
            16,
            32_768,
        ),
        temperature: c.range(
            "providers.local.temperature",
            raw.temperature.unwrap_or(0.7),
            0.0,
            2.0,
        ),
        top_p: c.range("providers.local.top_p", raw.top_p.unwrap_or(0.9), 0.01, 1.0),
        repeat_penalty: c.range(
            "providers.local.repeat_penalty",
            raw.repeat_penalty.unwrap_or(1.15),
            1.0,
            2.0,
        ),
        seed: raw.seed,
    };
    enabled.then_some(config)
}

fn generation_config(c: &mut Check, env: &Env, raw: raw::RawGeneration) -> GenerationConfig {
    let language = match env
        .get("BLOGFLOW_LANGUAGE")
        .map(str::to_owned)
        .or(raw.language)
        .as_deref()
    {
        None | Some("en") => Language::En,
        Some("ko") => Language::Ko,
        Some(other) => {
            c.problems.push(error(
                "BLOGFLOW_LANGUAGE",
                format!("{other:?} is not supported: use en or ko"),
            ));
            Language::En
        }
    };
    let keywords: Vec<String> = match raw.keywords {
        Some(k) => k
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        None => DEFAULT_KEYWORDS.iter().map(|s| s.to_string()).collect(),
    };
    if keywords.is_empty() {
        c.problems.push(error(
            "generation.keywords",
            "is empty: list at least one keyword (or remove it for the defaults)",
        ));
    }
    let category = raw.category.unwrap_or_else(|| "ai-trends".into());
    if crate::content::slug::slugify(&category).is_empty() {
        c.problems.push(error(
            "generation.category",
            format!("{category:?} has no letters or digits"),
        ));
    }
    GenerationConfig {
        language,
        keywords,
        category,
        parallelism: c.range(
            "generation.parallelism",
            raw.parallelism.unwrap_or(5),
            1,
            50,
        ),
        max_posts_per_request: c.range(
            "generation.max_posts_per_request",
            raw.max_posts_per_request.unwrap_or(20),
            1,
            1000,
        ),
        quality_threshold: c.range(
            "generation.quality_threshold",
            raw.quality_threshold.unwrap_or(60),
            0,
            100,
        ),
        attempts_per_post: c.range(
            "generation.attempts_per_post",
            raw.attempts_per_post.unwrap_or(2),
            1,
            10,
        ),
        job_attempts: c.range(
            "generation.job_attempts",
            raw.job_attempts.unwrap_or(3),
            1,
            20,
        ),
        job_timeout: secs(c.range(
            "generation.job_timeout_secs",
            raw.job_timeout_secs.unwrap_or(1800),
            10,
            86_400,
        )),
    }
}

/// The original's schedules: 5 posts every 2 hours, cleanup at 02:00, health every 30 s.
pub fn default_schedules() -> Vec<raw::RawSchedule> {
    let s = |name: &str, cron: &str, action: &str, count| raw::RawSchedule {
        name: name.into(),
        cron: cron.into(),
        action: action.into(),
        count,
        enabled: true,
    };
    vec![
        s("generate", "0 */2 * * *", "generate", Some(5)),
        s("cleanup", "0 2 * * *", "cleanup", None),
        s("health", "*/30 * * * * *", "health_check", None),
    ]
}

fn schedules(c: &mut Check, raw: Option<Vec<raw::RawSchedule>>, max_count: u32) -> Vec<Schedule> {
    let mut out: Vec<Schedule> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (i, s) in raw
        .unwrap_or_else(default_schedules)
        .into_iter()
        .enumerate()
    {
        let at = format!("schedules[{i}]");
        if names.contains(&s.name) {
            c.problems.push(error(
                format!("{at}.name"),
                format!("{:?} is used twice: names must be unique", s.name),
            ));
        }
        names.push(s.name.clone());
        if s.name.is_empty()
            || !s
                .name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            c.problems.push(error(
                format!("{at}.name"),
                format!("{:?}: use letters, digits, - and _", s.name),
            ));
        }
        let fields = s.cron.split_whitespace().count();
        let expression = if fields == 5 {
            format!("0 {}", s.cron)
        } else {
            s.cron.clone()
        };
        let cron = match cron::Schedule::from_str(&expression) {
            Ok(cron) => Some(cron),
            Err(e) => {
                c.problems.push(error(
                    format!("{at}.cron"),
                    format!(
                        "{:?} is not a cron expression ({e}); e.g. \"0 */2 * * *\"",
                        s.cron
                    ),
                ));
                None
            }
        };
        let action = match (s.action.as_str(), s.count) {
            ("generate", count) => {
                let count = count.unwrap_or(5);
                c.range(&format!("{at}.count"), count, 1, max_count);
                Some(ScheduleAction::Generate { count })
            }
            ("cleanup", _) => Some(ScheduleAction::Cleanup),
            ("health_check", _) => Some(ScheduleAction::HealthCheck),
            (other, _) => {
                c.problems.push(error(
                    format!("{at}.action"),
                    format!("{other:?} is unknown: use generate, cleanup or health_check"),
                ));
                None
            }
        };
        if let (Some(cron), Some(action), true) = (cron, action, s.enabled) {
            out.push(Schedule {
                name: s.name,
                expression: s.cron,
                cron,
                action,
            });
        }
    }
    out
}

fn queue_config(c: &mut Check, raw: raw::RawQueue) -> QueueConfig {
    let lease = c.range("queue.lease_secs", raw.lease_secs.unwrap_or(30), 1, 3600);
    let stalled = c.range(
        "queue.stalled_interval_secs",
        raw.stalled_interval_secs.unwrap_or(15),
        1,
        3600,
    );
    let hours = c.range(
        "queue.keep_hours",
        raw.keep_hours.unwrap_or(24 * 7),
        1,
        24 * 365,
    );
    let max_age = secs(hours * 3600);
    QueueConfig {
        lease: secs(lease),
        stalled_interval: secs(stalled),
        max_stalled: c.range("queue.max_stalled", raw.max_stalled.unwrap_or(2), 0, 100),
        poll_interval: Duration::from_millis(c.range(
            "queue.poll_interval_ms",
            raw.poll_interval_ms.unwrap_or(1000),
            10,
            60_000,
        )),
        shutdown_grace: secs(c.range(
            "queue.shutdown_grace_secs",
            raw.shutdown_grace_secs.unwrap_or(30),
            0,
            3600,
        )),
        completed: Retention {
            keep: raw.keep_completed.unwrap_or(1000),
            max_age,
        },
        failed: Retention {
            keep: raw.keep_failed.unwrap_or(5000),
            max_age,
        },
    }
}

fn logging_config(c: &mut Check, env: &Env, raw: raw::RawLogging) -> LoggingConfig {
    let format = env
        .get("BLOGFLOW_LOG_FORMAT")
        .map(str::to_owned)
        .or(raw.format);
    let json = match format.as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => {
            c.problems.push(error(
                "BLOGFLOW_LOG_FORMAT",
                format!("{other:?} is unknown: use text or json"),
            ));
            false
        }
    };
    LoggingConfig {
        json,
        max_file_bytes: c.range(
            "logging.max_file_mb",
            raw.max_file_mb.unwrap_or(50),
            1,
            10_000,
        ) * 1024
            * 1024,
        keep_files: c.range("logging.keep_files", raw.keep_files.unwrap_or(10), 1, 1000),
        level: env
            .get("RUST_LOG")
            .map(str::to_owned)
            .or(raw.level)
            .unwrap_or_else(|| "info".into()),
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
            (o.base_url.as_str(), o.model.as_str(), o.timeout),
            ("http://127.0.0.1:8000/v1", "qwen", secs(7))
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
    fn unsupported_backends_warn_instead_of_failing() {
        let (_, w) = from(
            &[
                ("REDIS_HOST", "localhost"),
                ("DATABASE_URL", "postgres://x"),
            ],
            "",
        )
        .unwrap();
        assert_eq!(w.len(), 2, "{w:?}");
    }
}
