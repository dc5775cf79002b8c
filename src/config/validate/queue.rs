//! `[queue]`, `REDIS_*`, `DATABASE_URL` and `[logging]`.

use super::*;
use crate::config::raw::{self};
use crate::config::{
    Env, LoggingConfig, QueueBackendConfig, QueueConfig, RedisConfig, Retention, Secret,
};
use std::time::Duration;

/// Characters that may stand unescaped in the user-info part of a URL.
pub(super) fn url_escape(s: &str) -> String {
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
pub(super) fn database_url(c: &mut Check, env: &Env) -> Option<Secret> {
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
pub(super) fn queue_backend(c: &mut Check, env: &Env, raw: &raw::RawQueue) -> QueueBackendConfig {
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
                        crate::shared::secret::redact_url(&url)
                    ),
                ));
            }
            let blank = env.is_blank("BLOGFLOW_REDIS_PREFIX");
            let prefix = env
                .get("BLOGFLOW_REDIS_PREFIX")
                .map(str::to_owned)
                .or(raw.redis_prefix.clone())
                .unwrap_or_else(|| {
                    if blank {
                        String::new()
                    } else {
                        "bull".to_owned()
                    }
                });
            if prefix.is_empty() || prefix.contains(char::is_whitespace) || prefix.contains(':') {
                let name = if blank {
                    "BLOGFLOW_REDIS_PREFIX"
                } else {
                    super::named(env, "BLOGFLOW_REDIS_PREFIX", "queue.redis_prefix")
                };
                c.problems.push(error(
                    name,
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

pub(super) fn queue_config(c: &mut Check, env: &Env, raw: raw::RawQueue) -> QueueConfig {
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

pub(super) fn logging_config(c: &mut Check, env: &Env, raw: raw::RawLogging) -> LoggingConfig {
    let format = env
        .get("BLOGFLOW_LOG_FORMAT")
        .map(str::to_owned)
        .or(raw.format);
    let json = match format.as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => {
            c.problems.push(error(
                super::named(env, "BLOGFLOW_LOG_FORMAT", "logging.format"),
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
        level: {
            let level = env
                .get("RUST_LOG")
                .map(str::to_owned)
                .or(raw.level)
                .unwrap_or_else(|| "info".into());
            match unknown_level(&level) {
                None => level,
                Some(word) => {
                    c.problems.push(error(
                        super::named(env, "RUST_LOG", "logging.level"),
                        format!(
                            "{word:?} is not a level: use off, error, warn, info, debug or trace, \
                             optionally per module (info,blogflow=debug)"
                        ),
                    ));
                    "info".into()
                }
            }
        },
    }
}

/// The first part of a filter like `info,blogflow::llm=debug` that names no level. A bare
/// word is read by the tracing filter as a module name, so "loud" would pass and log nothing.
fn unknown_level(filter: &str) -> Option<String> {
    const LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];
    filter
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty() && !d.contains('['))
        .find_map(|directive| {
            let level = directive.rsplit_once('=').map_or(directive, |(_, l)| l);
            (!LEVELS.contains(&level.trim().to_ascii_lowercase().as_str()))
                .then(|| directive.to_owned())
        })
}
