//! `[generation]` and `[[schedules]]`: the language profile, slugs, limits and cadence of posts.

use super::*;
use crate::config::raw::{self};
use crate::config::{Category, Env, GenerationConfig, Language, Schedule, ScheduleAction, Slugs};
use crate::shared::slug::{self, SlugPolicy};
use std::str::FromStr;
use std::time::Duration;

pub(super) fn generation_config(
    c: &mut Check,
    env: &Env,
    raw: raw::RawGeneration,
) -> GenerationConfig {
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
                super::named(env, "BLOGFLOW_LANGUAGE", "generation.language"),
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
                super::named(env, "BLOGFLOW_SLUG_POLICY", "generation.slug_policy"),
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
        require_sources: raw.require_sources.unwrap_or(false),
        own_sites: Vec::new(),
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

pub(super) fn schedules(
    c: &mut Check,
    raw: Option<Vec<raw::RawSchedule>>,
    max_count: u32,
) -> Vec<Schedule> {
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
                        "{:?} is not a cron expression ({}); e.g. \"0 */2 * * *\"",
                        s.cron,
                        // The parser draws a caret under the expression: keep one line.
                        e.to_string().lines().last().unwrap_or_default().trim()
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
