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

/// `[images]`: colours are checked as SVG colours (a name, `#rgb`, `#rrggbb`), the template is
/// read and must hold `{{title}}`.
pub(super) fn images_config(
    c: &mut Check,
    env: &Env,
    raw: crate::config::raw::RawImages,
) -> Option<crate::config::ImagesConfig> {
    if !raw.card.unwrap_or(true) {
        return None;
    }
    let defaults = crate::config::ImagesConfig::default();
    let mut colour = |key: &str, v: Option<String>, default: String| match v {
        None => default,
        Some(v) if is_colour(&v) => v,
        Some(v) => {
            c.problems.push(super::error(
                format!("images.{key}"),
                format!("{v:?} is not a colour: use a name like \"navy\" or a hex value like \"#0f172a\""),
            ));
            default
        }
    };
    let background = colour("background", raw.background, defaults.background);
    let accent = colour("accent", raw.accent, defaults.accent);
    let foreground = colour("foreground", raw.foreground, defaults.foreground);
    let muted = colour("muted", raw.muted, defaults.muted);
    let template = raw
        .template
        .and_then(|path| match std::fs::read_to_string(&path) {
            Ok(t) if t.contains("{{title}}") => Some(t),
            Ok(_) => {
                c.problems.push(super::error(
                    "images.template",
                    format!("{} has no {{{{title}}}} placeholder", path.display()),
                ));
                None
            }
            Err(e) => {
                c.problems.push(super::error(
                    "images.template",
                    format!("cannot read {}: {e}", path.display()),
                ));
                None
            }
        });
    let blog_name = blog_name(env, raw.blog_name);
    Some(crate::config::ImagesConfig {
        blog_name,
        background,
        accent,
        foreground,
        muted,
        template,
        fonts: raw.fonts.unwrap_or(defaults.fonts),
    })
}

/// `[images.generate]`: the provider must be configured for text too (its endpoint and key
/// are used); sizes and qualities are OpenAI's words.
pub(super) fn image_generation(
    c: &mut Check,
    raw: crate::config::raw::RawImageGenerate,
    openai: Option<&crate::config::OpenAiConfig>,
    gemini: Option<&crate::config::ApiProviderConfig>,
) -> Option<crate::config::ImageGenConfig> {
    use crate::config::ImageProvider;
    let provider = match raw.provider.as_deref() {
        Some("openai") => ImageProvider::OpenAi,
        Some("gemini") => ImageProvider::Gemini,
        other => {
            c.problems.push(super::error(
                "images.generate.provider",
                format!("{other:?}: use \"openai\" (or an OpenAI-compatible server) or \"gemini\""),
            ));
            return None;
        }
    };
    let (base_url, api_key) = match provider {
        ImageProvider::OpenAi => match openai {
            Some(o) => (o.base_url.clone(), o.api_key.clone()),
            None => {
                c.problems.push(super::error(
                    "images.generate.provider",
                    "\"openai\" uses the OpenAI provider's endpoint and key: set BLOGFLOW_OPENAI_API_KEY (or [providers.openai])",
                ));
                return None;
            }
        },
        ImageProvider::Gemini => match gemini {
            Some(g) => (g.base_url.clone(), Some(g.api_key.clone())),
            None => {
                c.problems.push(super::error(
                    "images.generate.provider",
                    "\"gemini\" uses the Gemini provider's endpoint and key: set BLOGFLOW_GEMINI_API_KEY (or [providers.gemini])",
                ));
                return None;
            }
        },
    };
    let size = raw.size.unwrap_or_else(|| "1536x1024".into());
    if !["1536x1024", "1024x1024", "1024x1536", "auto"].contains(&size.as_str()) {
        c.problems.push(super::error(
            "images.generate.size",
            format!("{size:?}: use 1536x1024, 1024x1024, 1024x1536 or auto"),
        ));
    }
    let quality = raw.quality.unwrap_or_else(|| "low".into());
    if !["low", "medium", "high", "auto"].contains(&quality.as_str()) {
        c.problems.push(super::error(
            "images.generate.quality",
            format!("{quality:?}: use low, medium, high or auto"),
        ));
    }
    let prompt = raw
        .prompt
        .unwrap_or_else(|| crate::config::DEFAULT_IMAGE_PROMPT.to_owned());
    if !prompt.contains("{title}") {
        c.problems.push(super::error(
            "images.generate.prompt",
            "the prompt needs {title} (also {summary}, {category}, {tags})",
        ));
    }
    Some(crate::config::ImageGenConfig {
        provider,
        base_url,
        api_key,
        model: raw.model.unwrap_or_else(|| {
            match provider {
                ImageProvider::OpenAi => "gpt-image-1",
                ImageProvider::Gemini => "gemini-2.5-flash-image",
            }
            .into()
        }),
        size,
        quality,
        price_usd: c.range(
            "images.generate.price_usd",
            raw.price_usd.unwrap_or(0.0),
            0.0,
            100.0,
        ),
        timeout: std::time::Duration::from_secs(c.range(
            "images.generate.timeout_secs",
            raw.timeout_secs.unwrap_or(120),
            5,
            600,
        )),
        prompt,
    })
}

/// The blog's name: `BLOGFLOW_BLOG_NAME`, else `[images] blog_name`, else "blogflow".
pub(super) fn blog_name(env: &Env, configured: Option<String>) -> String {
    env.get("BLOGFLOW_BLOG_NAME")
        .map(str::to_owned)
        .or(configured)
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| crate::config::ImagesConfig::default().blog_name)
}

fn is_colour(v: &str) -> bool {
    match v.strip_prefix('#') {
        Some(hex) => {
            matches!(hex.len(), 3 | 4 | 6 | 8) && hex.chars().all(|c| c.is_ascii_hexdigit())
        }
        None => !v.is_empty() && v.len() <= 30 && v.chars().all(|c| c.is_ascii_alphabetic()),
    }
}
