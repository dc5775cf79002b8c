//! Settings of the source reader, validated (`[sources]`, `BLOGFLOW_SOURCES_*`). Fetching lives
//! in [`crate::sources`].

use std::time::Duration;

/// `[sources]`, validated: how articles behind topics are fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct SourcesConfig {
    /// Fetch loopback, private and link-local addresses too (tests, intranets). Off: a feed
    /// cannot make blogflow reach into the network it runs in.
    pub allow_private: bool,
    /// Largest page read, bytes; a larger one is refused.
    pub max_bytes: usize,
    /// Longest time for one page, from connecting to the last byte.
    pub timeout: Duration,
    /// Least time between two requests to the same host.
    pub host_interval: Duration,
    /// Redirects followed at most.
    pub max_redirects: usize,
    /// Articles read for one post (0: none).
    pub max_per_post: usize,
    /// Characters of source text in one prompt, all sources together.
    pub prompt_chars: usize,
}

impl Default for SourcesConfig {
    fn default() -> Self {
        Self {
            allow_private: false,
            max_bytes: 2 * 1024 * 1024,
            timeout: Duration::from_secs(15),
            host_interval: Duration::from_secs(1),
            max_redirects: 5,
            max_per_post: 3,
            prompt_chars: 12_000,
        }
    }
}

/// `[images]`, validated: how the social card of every post looks.
#[derive(Debug, Clone, PartialEq)]
pub struct ImagesConfig {
    /// The blog's name on the card.
    pub blog_name: String,
    /// Background colour.
    pub background: String,
    /// Accent colour.
    pub accent: String,
    /// Title colour.
    pub foreground: String,
    /// Blog name and date colour.
    pub muted: String,
    /// The operator's SVG template, read.
    pub template: Option<String>,
    /// Font files loaded first.
    pub fonts: Vec<std::path::PathBuf>,
}

/// Which API draws generated images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageProvider {
    /// `POST {base}/images/generations` (OpenAI, and OpenAI-compatible servers).
    OpenAi,
    /// `POST {base}/v1beta/models/{model}:generateContent` with image output.
    Gemini,
}

impl ImageProvider {
    /// The name in the configuration and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageProvider::OpenAi => "openai",
            ImageProvider::Gemini => "gemini",
        }
    }
}

/// `[images.generate]`, validated: a generated feature image per post, the card as fallback.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageGenConfig {
    /// Which API.
    pub provider: ImageProvider,
    /// Its endpoint (the text provider's, prints without userinfo).
    pub base_url: crate::config::EndpointUrl,
    /// Its key.
    pub api_key: Option<crate::shared::Secret>,
    /// Image model.
    pub model: String,
    /// OpenAI's `size`.
    pub size: String,
    /// OpenAI's `quality`.
    pub quality: String,
    /// USD per image.
    pub price_usd: f64,
    /// Per-request limit.
    pub timeout: std::time::Duration,
    /// Prompt template.
    pub prompt: String,
}

/// The prompt of a generated image unless `[images.generate] prompt` says otherwise.
pub const DEFAULT_IMAGE_PROMPT: &str = "An editorial illustration for a blog post titled \"{title}\" \
     about {category}: {summary} Modern, clean, wide composition. No text, letters, numbers or logos.";

/// Fonts tried first, in order: Debian's `fonts-noto-cjk` (Hangul, Latin, kana, hanzi).
pub const DEFAULT_CARD_FONTS: &[&str] = &[
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
];

impl Default for ImagesConfig {
    fn default() -> Self {
        Self {
            blog_name: "blogflow".into(),
            background: "#0f172a".into(),
            accent: "#38bdf8".into(),
            foreground: "#f8fafc".into(),
            muted: "#94a3b8".into(),
            template: None,
            fonts: DEFAULT_CARD_FONTS
                .iter()
                .map(std::path::PathBuf::from)
                .collect(),
        }
    }
}
