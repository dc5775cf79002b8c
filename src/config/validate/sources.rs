//! `[sources]`: how the articles behind topics are fetched.

use super::{Check, secs};
use crate::config::Env;
use crate::config::SourcesConfig;
use crate::config::raw::RawSources;

pub(super) fn sources_config(c: &mut Check, env: &Env, raw: RawSources) -> SourcesConfig {
    let defaults = SourcesConfig::default();
    SourcesConfig {
        allow_private: c.flag(
            env,
            "BLOGFLOW_SOURCES_ALLOW_PRIVATE",
            raw.allow_private,
            defaults.allow_private,
        ),
        max_bytes: 1024
            * c.range(
                "sources.max_page_kib",
                raw.max_page_kib.unwrap_or(defaults.max_bytes / 1024),
                16,
                64 * 1024,
            ),
        timeout: secs(c.range(
            "sources.timeout_secs",
            raw.timeout_secs.unwrap_or(defaults.timeout.as_secs()),
            1,
            300,
        )),
        host_interval: std::time::Duration::from_millis(
            c.range(
                "sources.host_interval_ms",
                raw.host_interval_ms
                    .unwrap_or(defaults.host_interval.as_millis() as u64),
                0,
                60_000,
            ),
        ),
        max_redirects: c.range(
            "sources.max_redirects",
            raw.max_redirects.unwrap_or(defaults.max_redirects),
            0,
            20,
        ),
        max_per_post: c.range(
            "sources.max_per_post",
            raw.max_per_post.unwrap_or(defaults.max_per_post),
            0,
            10,
        ),
        prompt_chars: c.range(
            "sources.prompt_chars",
            raw.prompt_chars.unwrap_or(defaults.prompt_chars),
            1_000,
            400_000,
        ),
    }
}
