//! Settings of the publishing targets, validated (`[publish.*]`). The publishers in
//! [`crate::publish`] take these; the rules that check them live in `validate/publish.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::FrontMatter;
use crate::shared::Secret;

/// The front-matter fields, the keys `[publish.markdown.fields]` may rename or drop.
pub const FIELDS: &[&str] = &[
    "title",
    "date",
    "slug",
    "description",
    "draft",
    "tags",
    "categories",
    "image",
    "summary",
    "keywords",
    "seo_title",
    "lang",
    "blogflow_id",
    "grounded",
    "sources",
];

/// `[publish.markdown]`, validated.
#[derive(Debug, Clone)]
pub struct MarkdownTarget {
    /// Front-matter dialect.
    pub dialect: FrontMatter,
    /// `md` or `mdx`.
    pub extension: &'static str,
    /// Renamed (`date → pubDate`) or dropped (`→ ""`) keys.
    pub fields: BTreeMap<String, String>,
    /// Commit each file to the enclosing git repository.
    pub git_commit: bool,
    /// The site's address, without the trailing slash.
    pub site_url: Option<String>,
    /// Where a post's social card is written: `None` beside the post, else this folder (a
    /// site's static folder: `static/images` for Hugo, `public/images` for Astro).
    pub image_dir: Option<std::path::PathBuf>,
    /// How the front matter names the card: this prefix and the file name (`/images/`), or
    /// the bare file name (relative to the post) when `None`.
    pub image_url: Option<String>,
    /// How related posts are linked: a URL with `{slug}`; `None` for the dialect's own way.
    pub post_url: Option<String>,
}

impl MarkdownTarget {
    /// Plain files in `dialect`.
    pub fn new(dialect: FrontMatter) -> Self {
        Self {
            dialect,
            extension: "md",
            fields: BTreeMap::new(),
            git_commit: false,
            site_url: None,
            image_dir: None,
            image_url: None,
            post_url: None,
        }
    }
}

/// `[publish.webhook]`, validated.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    /// Receiver URL (may hold a token).
    pub url: Secret,
    /// HMAC key; unsigned without one.
    pub secret: Option<Secret>,
    /// Where to ask whether the receiver holds a post: a URL with `{id}` (may hold a token).
    pub lookup_url: Option<Secret>,
    /// Per-request limit.
    pub timeout: Duration,
}

/// The status a new post gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordPressStatus {
    /// Saved as a draft for an editor.
    Draft,
    /// Live at once.
    Publish,
    /// Scheduled `future_delay` after the post was written.
    Future,
}

impl WordPressStatus {
    /// The REST API's word.
    pub fn as_str(self) -> &'static str {
        match self {
            WordPressStatus::Draft => "draft",
            WordPressStatus::Publish => "publish",
            WordPressStatus::Future => "future",
        }
    }
}

/// Post meta keys for an SEO plugin (they must be registered with `show_in_rest`; Yoast and
/// Rank Math presets fill them in).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeoFields {
    /// Meta key for the SEO title.
    pub title: Option<String>,
    /// Meta key for the meta description.
    pub description: Option<String>,
    /// Meta key for the focus keywords (comma-separated).
    pub keywords: Option<String>,
}

/// `[publish.wordpress]`, validated.
#[derive(Debug, Clone)]
pub struct WordPressTarget {
    /// Site root, without a trailing slash (`https://blog.example.com`).
    pub url: String,
    /// The WordPress user the application password belongs to.
    pub user: String,
    /// The application password.
    pub password: Secret,
    /// Status of new posts.
    pub status: WordPressStatus,
    /// For `future`: how long after it was written a post goes live.
    pub future_delay: Duration,
    /// SEO plugin meta keys.
    pub seo: SeoFields,
    /// Per-request limit.
    pub timeout: Duration,
}

/// The status a new post gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GhostStatus {
    /// Saved as a draft.
    Draft,
    /// Live at once.
    Published,
    /// Scheduled `future_delay` after the post was written.
    Scheduled,
}

/// `[publish.ghost]`, validated.
#[derive(Debug, Clone)]
pub struct GhostTarget {
    /// Site root, without a trailing slash.
    pub url: String,
    /// The admin API key, `id:secret` (checked by [`parse_admin_key`] when the config is
    /// validated).
    pub admin_key: Secret,
    /// Status of new posts.
    pub status: GhostStatus,
    /// For `scheduled`: how long after it was written a post goes live.
    pub future_delay: Duration,
    /// Per-request limit.
    pub timeout: Duration,
}

/// Splits an admin API key `id:secret` (secret in hex) into its parts; the error names what is
/// wrong without repeating the key.
pub fn parse_admin_key(key: &str) -> Result<(String, Vec<u8>), String> {
    let (id, secret) = key
        .trim()
        .split_once(':')
        .ok_or("an admin API key is `id:secret`; copy it from Ghost's Integrations page")?;
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err("the key id (before the colon) must be letters and digits".into());
    }
    if secret.is_empty() || secret.len() % 2 != 0 {
        return Err("the key secret (after the colon) must be hex digits".into());
    }
    let bytes = (0..secret.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&secret[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| "the key secret (after the colon) must be hex digits".to_owned())?;
    Ok((id.to_owned(), bytes))
}
