//! Settings of the in-process model, validated (`[providers.local]`, `BLOGFLOW_MODEL_*`). The
//! engine lives in [`crate::llm::local`].

use std::path::{Path, PathBuf};

use super::Env;

/// Settings of the local provider (validated config).
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// An explicit model file; `None` means the default model in the cache.
    pub model_path: Option<PathBuf>,
    /// Where the default model is cached.
    pub cache_dir: PathBuf,
    /// CPU threads per generation.
    pub threads: i32,
    /// Context size in tokens.
    pub context_tokens: u32,
    /// Generations at once.
    pub concurrency: usize,
    /// Default answer budget.
    pub max_tokens: u32,
    /// Sampling temperature.
    pub temperature: f32,
    /// Nucleus sampling mass.
    pub top_p: f32,
    /// Repetition penalty.
    pub repeat_penalty: f32,
    /// Fixed seed; `None` draws one per request.
    pub seed: Option<u32>,
}

/// The model cache: `BLOGFLOW_MODEL_DIR`, else `$XDG_CACHE_HOME/blogflow/models`, else
/// `$HOME/.cache/blogflow/models`, else `./data/models`.
pub fn cache_dir(env: &Env) -> PathBuf {
    if let Some(dir) = env.get("BLOGFLOW_MODEL_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(xdg) = env.get("XDG_CACHE_HOME") {
        return Path::new(xdg).join("blogflow/models");
    }
    match env.get("HOME") {
        Some(home) => Path::new(home).join(".cache/blogflow/models"),
        None => PathBuf::from("./data/models"),
    }
}
