//! `[providers.*]`: OpenAI and compatible servers, Anthropic, Gemini, the local model, and how the balancer weighs them.

use super::*;
use crate::config::raw::{self};
use crate::config::{EndpointUrl, Env, OpenAiConfig, PostFormat, ProviderBalance};
use crate::shared::secret::redact_url;
use std::path::PathBuf;
use std::time::Duration;

pub(super) fn openai_config(
    c: &mut Check,
    env: &Env,
    raw: Option<raw::RawOpenAi>,
) -> Option<OpenAiConfig> {
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
            super::named(env, "OPENAI_BASE_URL", "providers.openai.base_url"),
            format!("scheme {:?} is not http or https", u.scheme()),
        )),
        Err(e) => c.problems.push(error(
            super::named(env, "OPENAI_BASE_URL", "providers.openai.base_url"),
            format!("{:?} is not a URL: {e}", redact_url(&base_url)),
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
        base_url: EndpointUrl::new(base_url),
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
pub(super) struct ApiKind {
    section: &'static str,
    key_var: &'static str,
    url_var: &'static str,
    model_var: &'static str,
    default_url: &'static str,
    default_model: &'static str,
}

pub(super) const ANTHROPIC: ApiKind = ApiKind {
    section: "providers.anthropic",
    key_var: "ANTHROPIC_API_KEY",
    url_var: "ANTHROPIC_BASE_URL",
    model_var: "ANTHROPIC_MODEL",
    default_url: "https://api.anthropic.com",
    default_model: "claude-sonnet-4-5",
};

pub(super) const GEMINI: ApiKind = ApiKind {
    section: "providers.gemini",
    key_var: "GEMINI_API_KEY",
    url_var: "GEMINI_BASE_URL",
    model_var: "GEMINI_MODEL",
    default_url: "https://generativelanguage.googleapis.com",
    default_model: "gemini-2.5-flash",
};

pub(super) fn api_provider(
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
            super::named(env, kind.url_var, &format!("{}.base_url", kind.section)).to_owned(),
            format!("{:?} is not an http(s) URL", redact_url(&base_url)),
        )),
    }
    let at = |field: &str| format!("{}.{field}", kind.section);
    Some(crate::config::ApiProviderConfig {
        base_url: EndpointUrl::new(base_url),
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

pub(super) fn local_config(
    c: &mut Check,
    env: &Env,
    raw: raw::RawLocal,
    others: bool,
) -> Option<crate::config::LocalConfig> {
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
                super::named(env, "BLOGFLOW_LOCAL_MODEL", "providers.local.mode"),
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
            super::named(env, "BLOGFLOW_MODEL_PATH", "providers.local.model_path"),
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
    let config = crate::config::LocalConfig {
        model_path,
        cache_dir: crate::config::cache_dir(env),
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

/// Request settings of an OpenAI-compatible section, checked, with their defaults.
pub(super) struct OpenAiTuning {
    timeout: Duration,
    temperature: f32,
    max_tokens: u32,
    input_price: f64,
    output_price: f64,
}

/// Checks the settings every OpenAI-compatible section has, named `<section>.<field>`.
pub(super) fn openai_tuning(
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

/// `[[providers.compatible]]`: checked like `[providers.openai]`, plus a unique name and the
/// key taken from the environment variable the entry names.
pub(super) fn compatible_configs(
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
                    format!(
                        "{:?} is not an http(s) URL, e.g. http://127.0.0.1:8000/v1",
                        redact_url(&base_url)
                    ),
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
            context_tokens: r.context_tokens,
        };
        check_balance(c, &format!("providers.compatible[{i}]"), &b);
        balance.push((name.clone(), b));
        out.push((
            name,
            OpenAiConfig {
                base_url: EndpointUrl::new(base_url),
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
pub(super) fn post_format(c: &mut Check, at: &str, text: Option<&str>) -> PostFormat {
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
pub(super) fn check_balance(c: &mut Check, at: &str, b: &ProviderBalance) {
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
    if let Some(n) = b.context_tokens
        && !(2_048..=10_000_000).contains(&n)
    {
        c.problems.push(error(
            format!("{at}.context_tokens"),
            format!("{n} is not a context window: give the model's, from 2048 tokens"),
        ));
    }
}

/// A section's raw weight, rpm, tpm and context window.
pub(super) type RawBalance = (Option<f64>, Option<u32>, Option<u32>, Option<u32>);

pub(super) fn raw_balance(raw: Option<RawBalance>) -> Option<ProviderBalance> {
    let (weight, rpm, tpm, context_tokens) = raw?;
    Some(ProviderBalance {
        weight: weight.unwrap_or(1.0),
        rpm,
        tpm,
        context_tokens,
    })
}
