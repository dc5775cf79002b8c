//! `[publish.wordpress]` and `[publish.ghost]`.

use std::time::Duration;

use super::{Check, error, secs, warning};
use crate::config::Env;
use crate::config::FrontMatter;
use crate::config::raw::{RawGhost, RawMarkdown, RawWordPress};
use crate::config::{
    FIELDS, GhostStatus, GhostTarget, MarkdownTarget, SeoFields, WordPressStatus, WordPressTarget,
    parse_admin_key,
};

pub(super) fn markdown(c: &mut Check, env: &Env, raw: RawMarkdown) -> Option<MarkdownTarget> {
    if raw.enabled == Some(false) {
        return None;
    }
    let dialect = match raw.front_matter.as_deref() {
        None | Some("hugo-yaml") => FrontMatter::HugoYaml,
        Some("hugo-toml") => FrontMatter::HugoToml,
        Some("zola") => FrontMatter::Zola,
        Some("astro") => FrontMatter::Astro,
        Some(other) => {
            c.problems.push(error(
                "publish.markdown.front_matter",
                format!("{other:?} is unknown: use hugo-yaml, hugo-toml, zola or astro"),
            ));
            return None;
        }
    };
    let extension = match raw.extension.as_deref() {
        None | Some("md") => "md",
        Some("mdx") => "mdx",
        Some(other) => {
            c.problems.push(error(
                "publish.markdown.extension",
                format!("{other:?} is unknown: use md or mdx"),
            ));
            "md"
        }
    };
    for (from, to) in &raw.fields {
        if !FIELDS.contains(&from.as_str()) {
            c.problems.push(error(
                format!("publish.markdown.fields.{from}"),
                format!("no such field: use one of {}", FIELDS.join(", ")),
            ));
        } else if from == "blogflow_id" {
            c.problems.push(error(
                "publish.markdown.fields.blogflow_id",
                "blogflow_id cannot be renamed or dropped: it is how a retry recognises its own file",
            ));
        } else if !to.is_empty()
            && !to
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
        {
            c.problems.push(error(
                format!("publish.markdown.fields.{from}"),
                format!("{to:?}: a key is letters, digits, _ and -"),
            ));
        }
    }
    let site_url = site_url(
        c,
        env,
        "BLOGFLOW_SITE_URL",
        "publish.markdown.site_url",
        raw.site_url,
        true,
    );
    if raw.image_url.is_some() && raw.image_dir.is_none() {
        c.problems.push(error(
            "publish.markdown.image_url",
            "image_url names cards in image_dir: set image_dir too (cards are written beside the posts otherwise)",
        ));
    }
    if let Some(url) = &raw.image_url
        && url
            .chars()
            .any(|ch| ch.is_whitespace() || ch == '"' || ch == '\\')
    {
        c.problems.push(error(
            "publish.markdown.image_url",
            format!("{url:?}: a URL prefix has no spaces, quotes or backslashes"),
        ));
    }
    if let Some(url) = &raw.post_url
        && (!url.contains("{slug}")
            || url
                .chars()
                .any(|ch| ch.is_whitespace() || matches!(ch, '"' | '\\' | '(' | ')')))
    {
        c.problems.push(error(
            "publish.markdown.post_url",
            format!("{url:?}: a post URL holds {{slug}} and no spaces, quotes, brackets or backslashes (e.g. \"/blog/{{slug}}/\")"),
        ));
    }
    Some(MarkdownTarget {
        dialect,
        extension,
        fields: raw.fields,
        git_commit: raw.git_commit.unwrap_or(false),
        site_url,
        image_dir: raw.image_dir,
        image_url: raw.image_url,
        post_url: raw.post_url,
    })
}

/// A site root from the file or `var`: http(s), no query, without the trailing slash. Plain
/// http carries a credential in the clear, so it needs `allow_http`.
fn site_url(
    c: &mut Check,
    env: &Env,
    var: &str,
    setting: &str,
    file: Option<String>,
    allow_http: bool,
) -> Option<String> {
    let (url, name) = match env.get(var) {
        Some(v) => (v.to_owned(), var),
        None => (file?, setting),
    };
    match reqwest::Url::parse(&url) {
        Ok(mut u) if u.scheme() == "https" || (u.scheme() == "http" && allow_http) => {
            // A WordPress address copied with plain permalinks (`/?rest_route=/wp/v2`) names
            // its site: the publisher finds the API under either form by itself.
            if var == "BLOGFLOW_WORDPRESS_URL"
                && u.query().is_some_and(|q| q.starts_with("rest_route="))
            {
                u.set_query(None);
            }
            if u.query().is_some() || !u.username().is_empty() {
                c.problems.push(error(
                    name,
                    "give the site root only, without credentials or a query",
                ));
                return None;
            }
            Some(u.as_str().trim_end_matches('/').to_owned())
        }
        Ok(u) if u.scheme() == "http" => {
            c.problems.push(error(
                name,
                format!(
                    "plain http would send the credentials unencrypted: use https, or set {}.allow_http = true ({})",
                    setting.rsplit_once('.').map_or(setting, |(head, _)| head),
                    var.replace("_URL", "_ALLOW_HTTP=true"),
                ),
            ));
            None
        }
        _ => {
            c.problems
                .push(error(name, format!("{url:?} is not an http(s) URL")));
            None
        }
    }
}

fn loopback(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| {
        matches!(
            u.host_str(),
            Some("127.0.0.1" | "localhost" | "::1" | "[::1]")
        )
    })
}

fn timeout(c: &mut Check, setting: &str, v: Option<u64>) -> Duration {
    secs(c.range(setting, v.unwrap_or(30), 1, 600))
}

fn delay(c: &mut Check, setting: &str, v: Option<u64>) -> Duration {
    secs(60 * c.range(setting, v.unwrap_or(60), 0, 525_600))
}

pub(super) fn wordpress(c: &mut Check, env: &Env, raw: RawWordPress) -> Option<WordPressTarget> {
    let allow_http = c.flag(env, "BLOGFLOW_WORDPRESS_ALLOW_HTTP", raw.allow_http, false);
    let url = site_url(
        c,
        env,
        "BLOGFLOW_WORDPRESS_URL",
        "publish.wordpress.url",
        raw.url,
        allow_http,
    )?;
    let user = env
        .get("BLOGFLOW_WORDPRESS_USER")
        .map(str::to_owned)
        .or(raw.user);
    let password = c.secret(env, "BLOGFLOW_WORDPRESS_APP_PASSWORD");
    let (Some(user), Some(password)) = (user, password) else {
        c.problems.push(error(
            "BLOGFLOW_WORDPRESS_APP_PASSWORD",
            "WordPress needs a user (publish.wordpress.user or BLOGFLOW_WORDPRESS_USER) and an application password (Users → Profile → Application Passwords) in BLOGFLOW_WORDPRESS_APP_PASSWORD",
        ));
        return None;
    };
    let status = match raw.status.as_deref() {
        None | Some("publish") => WordPressStatus::Publish,
        Some("draft") => WordPressStatus::Draft,
        Some("future") => WordPressStatus::Future,
        Some(other) => {
            c.problems.push(error(
                "publish.wordpress.status",
                format!("{other:?} is unknown: use publish, draft or future"),
            ));
            WordPressStatus::Publish
        }
    };
    let preset = |title: &str, description: &str, keywords: &str| SeoFields {
        title: Some(title.to_owned()),
        description: Some(description.to_owned()),
        keywords: Some(keywords.to_owned()),
    };
    let base = match raw.seo.as_deref() {
        None | Some("none") => SeoFields::default(),
        Some("yoast") => preset(
            "_yoast_wpseo_title",
            "_yoast_wpseo_metadesc",
            "_yoast_wpseo_focuskw",
        ),
        Some("rank-math") => preset(
            "rank_math_title",
            "rank_math_description",
            "rank_math_focus_keyword",
        ),
        Some(other) => {
            c.problems.push(error(
                "publish.wordpress.seo",
                format!("{other:?} is unknown: use none, yoast or rank-math"),
            ));
            SeoFields::default()
        }
    };
    let seo = SeoFields {
        title: raw.seo_title_field.or(base.title),
        description: raw.seo_description_field.or(base.description),
        keywords: raw.seo_keywords_field.or(base.keywords),
    };
    if allow_http && url.starts_with("http:") && !loopback(&url) {
        c.problems.push(warning(
            "publish.wordpress.allow_http",
            "the application password is sent unencrypted",
        ));
    }
    Some(WordPressTarget {
        url,
        user,
        password,
        status,
        future_delay: delay(
            c,
            "publish.wordpress.future_delay_mins",
            raw.future_delay_mins,
        ),
        seo,
        timeout: timeout(c, "publish.wordpress.timeout_secs", raw.timeout_secs),
    })
}

pub(super) fn ghost(c: &mut Check, env: &Env, raw: RawGhost) -> Option<GhostTarget> {
    let allow_http = c.flag(env, "BLOGFLOW_GHOST_ALLOW_HTTP", raw.allow_http, false);
    let url = site_url(
        c,
        env,
        "BLOGFLOW_GHOST_URL",
        "publish.ghost.url",
        raw.url,
        allow_http,
    )?;
    let Some(admin_key) = c.secret(env, "BLOGFLOW_GHOST_ADMIN_KEY") else {
        c.problems.push(error(
            "BLOGFLOW_GHOST_ADMIN_KEY",
            "Ghost needs an admin API key (Settings → Integrations → custom integration) in BLOGFLOW_GHOST_ADMIN_KEY",
        ));
        return None;
    };
    if let Err(e) = parse_admin_key(admin_key.expose()) {
        c.problems.push(error("BLOGFLOW_GHOST_ADMIN_KEY", e));
        return None;
    }
    let status = match raw.status.as_deref() {
        None | Some("published") => GhostStatus::Published,
        Some("draft") => GhostStatus::Draft,
        Some("scheduled") => GhostStatus::Scheduled,
        Some(other) => {
            c.problems.push(error(
                "publish.ghost.status",
                format!("{other:?} is unknown: use published, draft or scheduled"),
            ));
            GhostStatus::Published
        }
    };
    if allow_http && url.starts_with("http:") && !loopback(&url) {
        c.problems.push(warning(
            "publish.ghost.allow_http",
            "the admin API token is sent unencrypted",
        ));
    }
    Some(GhostTarget {
        url,
        admin_key,
        status,
        future_delay: delay(c, "publish.ghost.future_delay_mins", raw.future_delay_mins),
        timeout: timeout(c, "publish.ghost.timeout_secs", raw.timeout_secs),
    })
}
