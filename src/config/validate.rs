//! Validation: the raw file plus the environment into a [`Config`], collecting every problem
//! with the name of its setting (env var or TOML path) instead of stopping at the first.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::raw::RawConfig;
use super::{Config, Env, OpenAiConfig, Problem, Secret, Severity};

mod generation;
mod providers;
mod queue;
mod sources;

pub use generation::default_schedules;
use generation::{generation_config, schedules};
use providers::{
    ANTHROPIC, GEMINI, api_provider, check_balance, compatible_configs, local_config,
    openai_config, raw_balance,
};
use queue::{database_url, logging_config, queue_config};

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

/// The name the operator used for a setting: the variable when it is set, else the file's key.
fn named<'a>(env: &Env, var: &'a str, setting: &'a str) -> &'a str {
    if env.get(var).is_some() { var } else { setting }
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
    // An empty path would silently mean the current folder.
    let mut dir = |var: &str, setting: &str, file: Option<String>, default: &str| {
        let (value, name) = match (env.get(var), file) {
            (Some(v), _) => (v.to_owned(), var),
            (None, Some(f)) => (f, setting),
            (None, None) if env.is_blank(var) => (String::new(), var),
            (None, None) => (default.to_owned(), setting),
        };
        if value.trim().is_empty() {
            c.problems.push(error(
                name,
                format!("is empty: give a folder, or leave it out for {default}"),
            ));
            return PathBuf::from(default);
        }
        PathBuf::from(value)
    };
    let data_dir = dir(
        "BLOGFLOW_DATA_DIR",
        "paths.data_dir",
        raw.paths.data_dir,
        "./data",
    );
    let content_dir = dir(
        "BLOGFLOW_CONTENT_DIR",
        "paths.content_dir",
        raw.paths.content_dir,
        "./content",
    );
    let log_dir = dir(
        "BLOGFLOW_LOG_DIR",
        "paths.log_dir",
        raw.paths.log_dir,
        "./logs",
    );
    let api_token = c.secret(env, "BLOGFLOW_API_TOKEN");
    let public_read = c.flag(env, "BLOGFLOW_PUBLIC_READ", raw.server.public_read, false);
    let metrics_public = c.flag(
        env,
        "BLOGFLOW_METRICS_PUBLIC",
        raw.server.metrics_public,
        false,
    );
    let trust_proxy = c.flag(env, "BLOGFLOW_TRUST_PROXY", raw.server.trust_proxy, false);
    let defaults = super::ServerLimits::default();
    let limits = super::ServerLimits {
        header_timeout: secs(
            c.range(
                "server.header_timeout_secs",
                raw.server
                    .header_timeout_secs
                    .unwrap_or(defaults.header_timeout.as_secs()),
                1,
                3_600,
            ),
        ),
        request_timeout: secs(
            c.range(
                "server.request_timeout_secs",
                raw.server
                    .request_timeout_secs
                    .unwrap_or(defaults.request_timeout.as_secs()),
                1,
                86_400,
            ),
        ),
        max_connections: c.range(
            "server.max_connections",
            raw.server
                .max_connections
                .unwrap_or(defaults.max_connections),
            1,
            1_000_000,
        ),
    };
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
                    .map(|r| (r.weight, r.rpm, r.tpm, r.context_tokens)),
            ),
        ),
        (
            "anthropic",
            raw_balance(
                raw.providers
                    .anthropic
                    .as_ref()
                    .map(|r| (r.weight, r.rpm, r.tpm, r.context_tokens)),
            ),
        ),
        (
            "gemini",
            raw_balance(
                raw.providers
                    .gemini
                    .as_ref()
                    .map(|r| (r.weight, r.rpm, r.tpm, r.context_tokens)),
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
                named(env, "BLOGFLOW_PUBLISH_MODE", "publish.mode"),
                format!("{other:?} is unknown: use auto or review"),
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
    let markdown = publish::markdown(&mut c, env, raw.publish.markdown);
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
        super::WebhookTarget {
            url,
            secret,
            lookup_url,
            timeout: secs(30),
        }
    });
    let wordpress = publish::wordpress(&mut c, env, raw.publish.wordpress);
    let ghost = publish::ghost(&mut c, env, raw.publish.ghost);
    // Where the blog lives: links there are its own posts.
    generation.own_sites = markdown
        .iter()
        .filter_map(|m| m.site_url.clone())
        .chain(wordpress.iter().map(|w| w.url.clone()))
        .chain(ghost.iter().map(|g| g.url.clone()))
        .collect();
    let logging = logging_config(&mut c, env, raw.logging);
    let monitor = ops::monitor_config(&mut c, raw.monitoring);
    let alerts = ops::alerts_config(&mut c, env, raw.alerts);
    let topics = ops::topics_config(&mut c, raw.topics, &generation.category);
    let sources = sources::sources_config(&mut c, env, raw.sources);
    let blog_name = sources::blog_name(env, raw.images.blog_name.clone());
    let mut raw_images = raw.images;
    let image_generation = raw_images
        .generate
        .take()
        .and_then(|g| sources::image_generation(&mut c, g, openai.as_ref(), gemini.as_ref()));
    let images = sources::images_config(&mut c, env, raw_images);
    let database_url = database_url(&mut c, env);

    let config = Config {
        listen,
        data_dir,
        content_dir,
        log_dir,
        api_token,
        public_read,
        metrics_public,
        trust_proxy,
        limits,
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
        sources,
        images,
        blog_name,
        image_generation,
    };
    if c.problems.iter().any(|p| p.severity == Severity::Error) {
        Err(c.problems)
    } else {
        Ok((config, c.problems))
    }
}

/// OpenAI-compatible servers by name.
type NamedProviders = Vec<(String, OpenAiConfig)>;
