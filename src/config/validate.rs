//! Validation: the raw file plus the environment into a [`Config`], collecting every problem
//! with the name of its setting (env var or TOML path) instead of stopping at the first.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::raw::{self, RawConfig};
use super::{
    Category, Config, Env, GenerationConfig, Language, LoggingConfig, OpenAiConfig, PostFormat,
    Problem, ProviderBalance, QueueBackendConfig, QueueConfig, RedisConfig, Schedule,
    ScheduleAction, Secret, Severity, Slugs,
};
use crate::content::slug::{self, SlugPolicy};
use crate::queue::Retention;

mod ops;
mod publish;

pub(super) fn error(setting: impl Into<String>, message: impl Into<String>) -> Problem {
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

/// Validates a parsed file plus the environment.
pub(super) fn validate(raw: RawConfig, env: &Env) -> Result<(Config, Vec<Problem>), Vec<Problem>> {
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
    let public_read = c.flag(env, "BLOGFLOW_PUBLIC_READ", raw.server.public_read, false);
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

    let raw_balances = [
        (
            "openai",
            raw_balance(
                raw.providers
                    .openai
                    .as_ref()
                    .map(|r| (r.weight, r.rpm, r.tpm)),
            ),
        ),
        (
            "anthropic",
            raw_balance(
                raw.providers
                    .anthropic
                    .as_ref()
                    .map(|r| (r.weight, r.rpm, r.tpm)),
            ),
        ),
        (
            "gemini",
            raw_balance(
                raw.providers
                    .gemini
                    .as_ref()
                    .map(|r| (r.weight, r.rpm, r.tpm)),
            ),
        ),
    ];
    let openai = openai_config(&mut c, env, raw.providers.openai);
    let (compatible, compatible_balance) =
        compatible_configs(&mut c, env, raw.providers.compatible);
    let anthropic = api_provider(&mut c, env, raw.providers.anthropic, &ANTHROPIC);
    let gemini = api_provider(&mut c, env, raw.providers.gemini, &GEMINI);
    let others =
        openai.is_some() || anthropic.is_some() || gemini.is_some() || !compatible.is_empty();
    let local = local_config(&mut c, env, raw.providers.local, others);

    let mut generation = generation_config(&mut c, env, raw.generation);
    generation.max_retry_after = secs(c.range(
        "providers.max_retry_after_secs",
        raw.providers.max_retry_after_secs.unwrap_or(900),
        1,
        86_400,
    ));
    generation.first_token_timeout = secs(c.range(
        "providers.first_token_timeout_secs",
        raw.providers.first_token_timeout_secs.unwrap_or(30),
        1,
        3_600,
    ));
    generation.stream_idle_timeout = secs(c.range(
        "providers.stream_idle_timeout_secs",
        raw.providers.stream_idle_timeout_secs.unwrap_or(30),
        1,
        3_600,
    ));
    generation.balance.extend(compatible_balance);
    for (kind, b) in raw_balances {
        if let Some(b) = b {
            check_balance(&mut c, &format!("providers.{kind}"), &b);
            generation.balance.insert(kind.to_owned(), b);
        }
    }
    let mode = env
        .get("BLOGFLOW_PUBLISH_MODE")
        .map(str::to_owned)
        .or(raw.publish.mode.clone());
    generation.review = match mode.as_deref() {
        None | Some("auto") => false,
        Some("review") => true,
        Some(other) => {
            c.problems.push(error(
                "BLOGFLOW_PUBLISH_MODE",
                format!("{other:?} is unknown: use auto or review (publish.mode)"),
            ));
            false
        }
    };
    generation.auto_approve_after = raw
        .publish
        .auto_approve_after_mins
        .map(|m| secs(60 * c.range("publish.auto_approve_after_mins", m, 0, 525_600)));
    generation.auto_approve_min_score = c.range(
        "publish.auto_approve_min_score",
        raw.publish.auto_approve_min_score.unwrap_or(80),
        0,
        100,
    );
    let schedules = schedules(&mut c, raw.schedules, generation.max_posts_per_request);
    let queue = queue_config(&mut c, env, raw.queue);
    let markdown = publish::markdown(&mut c, raw.publish.markdown);
    let webhook = ops::webhook_url(&mut c, env, "BLOGFLOW_PUBLISH_WEBHOOK_URL").map(|url| {
        let secret = c.secret(env, "BLOGFLOW_PUBLISH_WEBHOOK_SECRET");
        if secret.is_none() {
            c.problems.push(warning(
                "BLOGFLOW_PUBLISH_WEBHOOK_SECRET",
                "posts sent to the webhook are unsigned: set a secret so the receiver can verify them",
            ));
        }
        let lookup_url = env.get("BLOGFLOW_PUBLISH_WEBHOOK_LOOKUP_URL").map(|u| {
            if !u.contains("{id}") || reqwest::Url::parse(&u.replace("{id}", "x")).is_err() {
                c.problems.push(error(
                    "BLOGFLOW_PUBLISH_WEBHOOK_LOOKUP_URL",
                    "must be an http(s) URL containing {id} (the post id), e.g. https://hooks.example.com/posts/{id}",
                ));
            }
            Secret::new(u)
        });
        crate::publish::WebhookTarget {
            url,
            secret,
            lookup_url,
            timeout: secs(30),
        }
    });
    let wordpress = publish::wordpress(&mut c, env, raw.publish.wordpress);
    let ghost = publish::ghost(&mut c, env, raw.publish.ghost);
    let logging = logging_config(&mut c, env, raw.logging);
    let monitor = ops::monitor_config(&mut c, raw.monitoring);
    let alerts = ops::alerts_config(&mut c, env, raw.alerts);
    let topics = ops::topics_config(&mut c, raw.topics, &generation.category);
    let database_url = database_url(&mut c, env);

    let config = Config {
        listen,
        data_dir,
        content_dir,
        log_dir,
        api_token,
        public_read,
        role: super::Role::All,
        database_url,
        generation_concurrency: None,
        auto_start,
        performance_monitoring,
        self_healing,
        openai,
        compatible,
        anthropic,
        gemini,
        local,
        generation,
        schedules,
        queue,
        markdown,
        webhook,
        wordpress,
        ghost,
        logging,
        monitor,
        alerts,
        topics,
    };
    if c.problems.iter().any(|p| p.severity == Severity::Error) {
        Err(c.problems)
    } else {
        Ok((config, c.problems))
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
    let t = openai_tuning(
        c,
        "providers.openai",
        raw.timeout_secs,
        raw.temperature,
        raw.max_tokens,
        [raw.input_price_per_mtok, raw.output_price_per_mtok],
    );
    Some(OpenAiConfig {
        base_url,
        api_key,
        model,
        timeout: t.timeout,
        temperature: t.temperature,
        max_tokens: t.max_tokens,
        json_mode: raw.json_mode.unwrap_or(false),
        format: post_format(
            c,
            "providers.openai.format",
            env.get("OPENAI_FORMAT").or(raw.format.as_deref()),
        ),
        input_price_per_mtok: t.input_price,
        output_price_per_mtok: t.output_price,
    })
}

/// Names and defaults of one kind of API provider.
struct ApiKind {
    section: &'static str,
    key_var: &'static str,
    url_var: &'static str,
    model_var: &'static str,
    default_url: &'static str,
    default_model: &'static str,
}

const ANTHROPIC: ApiKind = ApiKind {
    section: "providers.anthropic",
    key_var: "ANTHROPIC_API_KEY",
    url_var: "ANTHROPIC_BASE_URL",
    model_var: "ANTHROPIC_MODEL",
    default_url: "https://api.anthropic.com",
    default_model: "claude-sonnet-4-5",
};

const GEMINI: ApiKind = ApiKind {
    section: "providers.gemini",
    key_var: "GEMINI_API_KEY",
    url_var: "GEMINI_BASE_URL",
    model_var: "GEMINI_MODEL",
    default_url: "https://generativelanguage.googleapis.com",
    default_model: "gemini-2.5-flash",
};

fn api_provider(
    c: &mut Check,
    env: &Env,
    raw: Option<raw::RawApiProvider>,
    kind: &ApiKind,
) -> Option<crate::config::ApiProviderConfig> {
    let key = c.secret(env, kind.key_var);
    let raw_present = raw.is_some();
    let raw = raw.unwrap_or_default();
    let Some(api_key) = key else {
        if raw_present {
            c.problems.push(warning(
                kind.section,
                format!("no {} is set: the provider stays off", kind.key_var),
            ));
        }
        return None;
    };
    let base_url = env
        .get(kind.url_var)
        .map(str::to_owned)
        .or(raw.base_url)
        .unwrap_or_else(|| kind.default_url.to_owned());
    let base_url = base_url.trim_end_matches('/').to_owned();
    match reqwest::Url::parse(&base_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => c.problems.push(error(
            kind.url_var,
            format!("{base_url:?} is not an http(s) URL"),
        )),
    }
    let at = |field: &str| format!("{}.{field}", kind.section);
    Some(crate::config::ApiProviderConfig {
        base_url,
        api_key,
        model: env
            .get(kind.model_var)
            .map(str::to_owned)
            .or(raw.model)
            .unwrap_or_else(|| kind.default_model.to_owned()),
        timeout: secs(c.range(
            &at("timeout_secs"),
            raw.timeout_secs.unwrap_or(120),
            1,
            3600,
        )),
        temperature: c.range(&at("temperature"), raw.temperature.unwrap_or(0.7), 0.0, 2.0),
        max_tokens: c.range(
            &at("max_tokens"),
            raw.max_tokens.unwrap_or(4000),
            16,
            200_000,
        ),
        input_price_per_mtok: c.range(
            &at("input_price_per_mtok"),
            raw.input_price_per_mtok.unwrap_or(0.0),
            0.0,
            1e6,
        ),
        output_price_per_mtok: c.range(
            &at("output_price_per_mtok"),
            raw.output_price_per_mtok.unwrap_or(0.0),
            0.0,
            1e6,
        ),
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
        .map(str::trim)
    {
        None => Language::En,
        Some(code) => Language::parse(code).unwrap_or_else(|| {
            c.problems.push(error(
                "BLOGFLOW_LANGUAGE",
                format!("{code:?} is not supported: use en or ko"),
            ));
            Language::En
        }),
    };
    let policy = match env
        .get("BLOGFLOW_SLUG_POLICY")
        .map(str::to_owned)
        .or(raw.slug_policy)
        .as_deref()
        .map(str::trim)
    {
        None => SlugPolicy::default(),
        Some(word) => SlugPolicy::parse(word).unwrap_or_else(|| {
            c.problems.push(error(
                "BLOGFLOW_SLUG_POLICY",
                format!(
                    "{word:?} is not a slug policy: use romanize (Hangul in Latin letters) or keep"
                ),
            ));
            SlugPolicy::default()
        }),
    };
    let keywords: Vec<String> = match raw.keywords {
        Some(k) => k
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        None => language
            .default_keywords()
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    if keywords.is_empty() {
        c.problems.push(error(
            "generation.keywords",
            "is empty: list at least one keyword (or remove it for the defaults)",
        ));
    }
    let category = match raw.category.map(|name| name.trim().to_owned()) {
        None => language.default_category(),
        Some(name) => Category {
            slug: slug::make(&name, policy),
            name,
        },
    };
    let category = match raw.category_slug {
        None => category,
        Some(given) => {
            let slug = slug::slugify(&given);
            if slug != given.trim() {
                c.problems.push(error(
                    "generation.category_slug",
                    format!("{given:?} is not a slug: use lower-case letters, digits and dashes, such as {slug:?}"),
                ));
            }
            Category { slug, ..category }
        }
    };
    if category.slug.is_empty() {
        c.problems.push(error(
            "generation.category",
            format!("{:?} has no letters or digits", category.name),
        ));
    }
    GenerationConfig {
        balance: Default::default(),
        language,
        keywords,
        category: category.name.clone(),
        slugs: Slugs {
            policy,
            categories: vec![category],
        },
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
        post_deadline: secs(c.range(
            "generation.post_deadline_secs",
            raw.post_deadline_secs.unwrap_or(600),
            1,
            86_400,
        )),
        judge: raw.judge.unwrap_or(false),
        judge_min_score: c.range(
            "generation.judge_min_score",
            raw.judge_min_score.unwrap_or(6),
            1,
            10,
        ),
        cache_ttl: secs(
            60 * c.range(
                "generation.cache_ttl_mins",
                raw.cache_ttl_mins.unwrap_or(1440),
                0,
                525_600,
            ),
        ),
        daily_budget_usd: raw
            .daily_budget_usd
            .map(|b| c.range("generation.daily_budget_usd", b, 0.0, 1e6)),
        daily_post_cap: raw
            .daily_post_cap
            .map(|n| c.range("generation.daily_post_cap", n, 0, 100_000)),
        review: false,
        auto_approve_after: None,
        auto_approve_min_score: 80,
        max_retry_after: Duration::from_secs(900),
        first_token_timeout: Duration::from_secs(30),
        stream_idle_timeout: Duration::from_secs(30),
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

/// Characters that may stand unescaped in the user-info part of a URL.
fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `DATABASE_URL`: `postgres://…` puts the store on PostgreSQL. A `sqlite:` URL (the
/// original system's default) is accepted with a warning: the SQLite file is always
/// `BLOGFLOW_DATA_DIR/blogflow.db`.
fn database_url(c: &mut Check, env: &Env) -> Option<Secret> {
    let url = c.secret(env, "DATABASE_URL")?;
    let text = url.expose();
    if text.starts_with("sqlite:") {
        c.problems.push(warning(
            "DATABASE_URL",
            "sqlite: is not used: the SQLite store is BLOGFLOW_DATA_DIR/blogflow.db; set postgres://… for PostgreSQL",
        ));
        return None;
    }
    let postgres = text.starts_with("postgres://") || text.starts_with("postgresql://");
    if !postgres || text.parse::<postgres::Config>().is_err() {
        c.problems.push(error(
            "DATABASE_URL",
            "is not a PostgreSQL URL: use postgres://user:password@host:5432/database (or unset it to keep the store in the data directory's SQLite file)",
        ));
        return None;
    }
    Some(url)
}

/// `REDIS_URL`, or `REDIS_HOST` + `REDIS_PORT` + `REDIS_PASSWORD` (+ `REDIS_DB`) as in the
/// original; `queue.backend` says whether they are wanted.
fn queue_backend(c: &mut Check, env: &Env, raw: &raw::RawQueue) -> QueueBackendConfig {
    let url = match c.secret(env, "REDIS_URL") {
        Some(url) => Some(url.expose().to_owned()),
        None => env.get("REDIS_HOST").map(|host| {
            let port = env.get("REDIS_PORT").unwrap_or("6379");
            if port.parse::<u16>().is_err() {
                c.problems.push(error(
                    "REDIS_PORT",
                    format!("{port:?} is not a port number"),
                ));
            }
            let auth = match c.secret(env, "REDIS_PASSWORD") {
                Some(pw) => format!(":{}@", url_escape(pw.expose())),
                None => String::new(),
            };
            let db = env
                .get("REDIS_DB")
                .map(|d| format!("/{d}"))
                .unwrap_or_default();
            format!("redis://{auth}{host}:{port}{db}")
        }),
    };
    let wanted = raw.backend.as_deref();
    match (wanted, url) {
        (None | Some("redis"), Some(url)) => {
            if let Err(e) = ::redis::Client::open(url.as_str()) {
                c.problems.push(error(
                    "REDIS_URL",
                    format!(
                        "{} is not a valid Redis URL ({e}); use redis://[:password@]host:port[/db]",
                        crate::queue::redis::redact_url(&url)
                    ),
                ));
            }
            let prefix = env
                .get("BLOGFLOW_REDIS_PREFIX")
                .map(str::to_owned)
                .or(raw.redis_prefix.clone())
                .unwrap_or_else(|| "bull".to_owned());
            if prefix.is_empty() || prefix.contains(char::is_whitespace) || prefix.contains(':') {
                c.problems.push(error(
                    "queue.redis_prefix",
                    format!("{prefix:?} must be non-empty, without spaces or ':'"),
                ));
            }
            QueueBackendConfig::Redis(RedisConfig {
                url: Secret::new(url),
                prefix,
                require_noeviction: raw.redis_require_noeviction.unwrap_or(true),
            })
        }
        (Some("redis"), None) => {
            c.problems.push(error(
                "queue.backend",
                "is \"redis\" but neither REDIS_URL nor REDIS_HOST is set",
            ));
            QueueBackendConfig::Sqlite
        }
        (None | Some("sqlite"), None) => QueueBackendConfig::Sqlite,
        (Some("sqlite"), Some(_)) => {
            c.problems.push(warning(
                "queue.backend",
                "is \"sqlite\": REDIS_URL/REDIS_HOST are set but not used",
            ));
            QueueBackendConfig::Sqlite
        }
        (Some(other), _) => {
            c.problems.push(error(
                "queue.backend",
                format!("{other:?} is unknown: use sqlite or redis"),
            ));
            QueueBackendConfig::Sqlite
        }
    }
}

/// Request settings of an OpenAI-compatible section, checked, with their defaults.
struct OpenAiTuning {
    timeout: Duration,
    temperature: f32,
    max_tokens: u32,
    input_price: f64,
    output_price: f64,
}

/// Checks the settings every OpenAI-compatible section has, named `<section>.<field>`.
fn openai_tuning(
    c: &mut Check,
    section: &str,
    timeout: Option<u64>,
    temperature: Option<f32>,
    max_tokens: Option<u32>,
    [input_price, output_price]: [Option<f64>; 2],
) -> OpenAiTuning {
    let at = |field: &str| format!("{section}.{field}");
    OpenAiTuning {
        timeout: secs(c.range(&at("timeout_secs"), timeout.unwrap_or(120), 1, 3600)),
        temperature: c.range(&at("temperature"), temperature.unwrap_or(0.7), 0.0, 2.0),
        max_tokens: c.range(&at("max_tokens"), max_tokens.unwrap_or(3000), 16, 200_000),
        input_price: c.range(
            &at("input_price_per_mtok"),
            input_price.unwrap_or(0.0),
            0.0,
            1e6,
        ),
        output_price: c.range(
            &at("output_price_per_mtok"),
            output_price.unwrap_or(0.0),
            0.0,
            1e6,
        ),
    }
}

/// OpenAI-compatible servers by name.
type NamedProviders = Vec<(String, OpenAiConfig)>;

/// `[[providers.compatible]]`: checked like `[providers.openai]`, plus a unique name and the
/// key taken from the environment variable the entry names.
fn compatible_configs(
    c: &mut Check,
    env: &Env,
    raw: Vec<raw::RawCompatible>,
) -> (NamedProviders, Vec<(String, ProviderBalance)>) {
    let mut out = Vec::new();
    let mut balance = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let at = |field: &str| format!("providers.compatible[{i}].{field}");
        let name = r.name.trim().to_owned();
        if name.is_empty() || name.len() > 64 || name.contains(char::is_whitespace) {
            c.problems
                .push(error(at("name"), "needs a short name without spaces"));
            continue;
        }
        if ["openai", "anthropic", "gemini", "local"].contains(&name.as_str())
            || out.iter().any(|(n, _): &(String, OpenAiConfig)| *n == name)
        {
            c.problems
                .push(error(at("name"), format!("{name:?} is already used")));
            continue;
        }
        let base_url = r.base_url.trim().trim_end_matches('/').to_owned();
        match reqwest::Url::parse(&base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => {
                c.problems.push(error(
                    at("base_url"),
                    format!("{base_url:?} is not an http(s) URL, e.g. http://127.0.0.1:8000/v1"),
                ));
                continue;
            }
        }
        if r.model.trim().is_empty() {
            c.problems
                .push(error(at("model"), "names the model to ask for"));
            continue;
        }
        let api_key = match &r.api_key_env {
            None => None,
            Some(var) => match c.secret(env, var) {
                Some(k) => Some(k),
                None => {
                    c.problems.push(error(
                        at("api_key_env"),
                        format!("{var} is not set (nor {var}_FILE); set it or remove api_key_env"),
                    ));
                    continue;
                }
            },
        };
        let t = openai_tuning(
            c,
            &format!("providers.compatible[{i}]"),
            r.timeout_secs,
            r.temperature,
            r.max_tokens,
            [r.input_price_per_mtok, r.output_price_per_mtok],
        );
        let b = ProviderBalance {
            weight: r.weight.unwrap_or(1.0),
            rpm: r.rpm,
            tpm: r.tpm,
        };
        check_balance(c, &format!("providers.compatible[{i}]"), &b);
        balance.push((name.clone(), b));
        out.push((
            name,
            OpenAiConfig {
                base_url,
                api_key,
                model: r.model.trim().to_owned(),
                timeout: t.timeout,
                temperature: t.temperature,
                max_tokens: t.max_tokens,
                json_mode: r.json_mode.unwrap_or(false),
                format: post_format(c, &at("format"), r.format.as_deref()),
                input_price_per_mtok: t.input_price,
                output_price_per_mtok: t.output_price,
            },
        ));
    }
    (out, balance)
}

/// `format = "json" | "steps"` of an OpenAI-compatible provider (default `json`).
fn post_format(c: &mut Check, at: &str, text: Option<&str>) -> PostFormat {
    match text.map(str::trim) {
        None => PostFormat::Json,
        Some(t) => PostFormat::parse(t).unwrap_or_else(|| {
            c.problems.push(error(
                at,
                format!("{t:?} is not a format: use \"json\" (one JSON object per post) or \"steps\" (small models)"),
            ));
            PostFormat::Json
        }),
    }
}

/// Weight above 0 and no per-minute limit of 0, for the section at `at`.
fn check_balance(c: &mut Check, at: &str, b: &ProviderBalance) {
    if !(b.weight.is_finite() && b.weight > 0.0 && b.weight <= 1e6) {
        c.problems.push(error(
            format!("{at}.weight"),
            format!("{} must be a number above 0 (default 1)", b.weight),
        ));
    }
    for (name, v) in [("rpm", b.rpm), ("tpm", b.tpm)] {
        if v == Some(0) {
            c.problems.push(error(
                format!("{at}.{name}"),
                "0 would never allow a request; remove it for no limit",
            ));
        }
    }
}

fn raw_balance(raw: Option<(Option<f64>, Option<u32>, Option<u32>)>) -> Option<ProviderBalance> {
    let (weight, rpm, tpm) = raw?;
    Some(ProviderBalance {
        weight: weight.unwrap_or(1.0),
        rpm,
        tpm,
    })
}

fn queue_config(c: &mut Check, env: &Env, raw: raw::RawQueue) -> QueueConfig {
    let backend = queue_backend(c, env, &raw);
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
        backend,
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
