//! The offline local model: a llama-architecture GGUF run in-process with llama.cpp.
//!
//! With no provider key at all, blogflow still writes posts with SmolLM2-135M-Instruct. The
//! model file is fetched once into the model cache ([`fetch`]), loaded lazily on first use and
//! shared by all workers ([`engine`]). Small models rarely produce a valid JSON post, so the
//! pipeline asks them for a body and a title in separate plain-text steps
//! ([`crate::generate`]).

pub mod engine;
pub mod fetch;
pub mod template;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

pub use crate::config::LocalConfig;
pub use engine::{Engine, EngineConfig, EngineError, Sampling};

use super::{ChatRequest, ChatResponse, ErrorClass, LlmError, Usage};

/// How long a failed model fetch or load is answered from memory before it is tried again.
const RETRY_AFTER_FAILURE: std::time::Duration = std::time::Duration::from_secs(60);

/// The local provider. Cheap to clone; clones share the loaded model.
#[derive(Clone)]
pub struct LocalProvider {
    config: Arc<LocalConfig>,
    engine: Arc<OnceCell<Arc<Engine>>>,
    /// The last failed fetch or load, answered again for a minute instead of retrying it on
    /// every health check.
    failure: Arc<std::sync::Mutex<Option<(Instant, LlmError)>>>,
    name: String,
    model: String,
    warned_language: Arc<AtomicBool>,
}

impl std::fmt::Debug for LocalProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalProvider")
            .field("model", &self.model)
            .finish()
    }
}

impl LocalProvider {
    /// A provider for `config`; nothing is loaded until first use.
    pub fn new(config: LocalConfig) -> Self {
        let model = config
            .model_path
            .as_ref()
            .and_then(|p| p.file_stem())
            .and_then(|s| s.to_str())
            .unwrap_or(fetch::SMOLLM2.file_name.trim_end_matches(".gguf"))
            .to_owned();
        Self {
            config: Arc::new(config),
            engine: Arc::default(),
            failure: Arc::default(),
            name: "local".into(),
            model,
            warned_language: Arc::default(),
        }
    }

    /// Provider name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Generations that can run at once.
    pub fn concurrency(&self) -> usize {
        self.config.concurrency
    }

    /// Model name (the file's stem).
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Languages the model writes: SmolLM2 (wherever its file lives) writes English only;
    /// other models are trusted with the configured language.
    pub fn writes(&self, language: crate::config::Language) -> bool {
        let default_model = self
            .config
            .model_path
            .as_ref()
            .is_none_or(|p| p.file_name().is_some_and(|n| n == fetch::SMOLLM2.file_name));
        !default_model || language == crate::config::Language::En
    }

    /// Logs once that the configured language is not one the model writes.
    pub fn warn_language_once(&self, language: crate::config::Language) {
        if !self.writes(language) && !self.warned_language.swap(true, Ordering::Relaxed) {
            tracing::warn!(language = language.code(), model = %self.model,
                "the local model writes English only: its posts are written and scored in English");
        }
    }

    /// The model file, fetching the default model on first use.
    pub async fn model_path(&self) -> Result<PathBuf, LlmError> {
        if let Some(p) = &self.config.model_path {
            return Ok(p.clone());
        }
        let dir = self.config.cache_dir.clone();
        let path = dir.join(fetch::SMOLLM2.file_name);
        if !path.exists() {
            tracing::info!(dir = %dir.display(), "fetching the local model {} ({} MB, first use only)", fetch::SMOLLM2.file_name, fetch::SMOLLM2.size / 1_000_000);
        }
        tokio::task::spawn_blocking(move || fetch::ensure(&fetch::SMOLLM2, &dir, &mut |_| {}))
            .await
            .map_err(|e| {
                self.error(
                    ErrorClass::Transient,
                    format!("model fetch task failed: {e}"),
                )
            })?
            .map_err(|e| self.error(ErrorClass::Fatal, e.to_string()))
    }

    /// The loaded engine, loading it on first use. A failure is answered again for
    /// `RETRY_AFTER_FAILURE`, then the next call tries again.
    pub async fn engine(&self) -> Result<Arc<Engine>, LlmError> {
        if let Some(engine) = self.engine.get() {
            return Ok(engine.clone());
        }
        if let Some((at, error)) = self.failure.lock().expect("failure cell").as_ref()
            && at.elapsed() < RETRY_AFTER_FAILURE
        {
            return Err(error.clone());
        }
        let result = self.load().await;
        if let Err(e) = &result {
            *self.failure.lock().expect("failure cell") = Some((Instant::now(), e.clone()));
        }
        result
    }

    async fn load(&self) -> Result<Arc<Engine>, LlmError> {
        self.engine
            .get_or_try_init(|| async {
                let path = self.model_path().await?;
                let config = EngineConfig {
                    model_path: path.clone(),
                    threads: self.config.threads,
                    context_tokens: self.config.context_tokens,
                    concurrency: self.config.concurrency,
                };
                let engine = tokio::task::spawn_blocking(move || Engine::load(config))
                    .await
                    .map_err(|e| self.error(ErrorClass::Transient, format!("model load task failed: {e}")))?
                    .map_err(|e| self.engine_error(e))?;
                tracing::info!(model = %path.display(), load_ms = engine.load_time().as_millis() as u64, threads = self.config.threads, "local model loaded");
                Ok(engine)
            })
            .await
            .cloned()
    }

    fn error(&self, class: ErrorClass, message: String) -> LlmError {
        LlmError {
            class,
            provider: self.name.clone(),
            status: None,
            message,
            retry_after: None,
        }
    }

    fn engine_error(&self, e: EngineError) -> LlmError {
        let class = match e {
            EngineError::Missing(_) | EngineError::Corrupt { .. } => ErrorClass::Fatal,
            EngineError::PromptTooLong { .. } => ErrorClass::InvalidRequest,
            EngineError::Inference(_) | EngineError::Cancelled | EngineError::Closed => {
                ErrorClass::Transient
            }
        };
        self.error(class, e.to_string())
    }

    /// The sampling for a request.
    pub fn sampling(&self, max_tokens: Option<u32>) -> Sampling {
        Sampling {
            temperature: self.config.temperature,
            top_p: self.config.top_p,
            repeat_penalty: self.config.repeat_penalty,
            repeat_last_n: 64,
            seed: self.config.seed.unwrap_or_else(rand::random),
            max_tokens: max_tokens
                .unwrap_or(self.config.max_tokens)
                .min(self.config.max_tokens.max(1)),
            ignore_end: false,
        }
    }

    /// Runs one chat turn. Dropping the returned future cancels the generation.
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let engine = self.engine().await?;
        let prompt = template::render_chatml(&[
            template::Message {
                role: "system",
                content: &request.system,
            },
            template::Message {
                role: "user",
                content: &request.user,
            },
        ]);
        let started = Instant::now();
        let out = engine
            .generate(
                prompt,
                self.sampling(request.max_tokens),
                CancellationToken::new(),
            )
            .await
            .map_err(|e| self.engine_error(e))?;
        tracing::info!(target: "blogflow::perf", provider = "local", prompt_tokens = out.prompt_tokens, completion_tokens = out.completion_tokens,
            prompt_tok_per_s = out.prompt_tokens as f64 / out.prompt_time.as_secs_f64().max(1e-9),
            gen_tok_per_s = out.completion_tokens as f64 / out.generation_time.as_secs_f64().max(1e-9), "local generation");
        Ok(ChatResponse {
            text: out.text,
            model: self.model.clone(),
            usage: Usage {
                input_tokens: out.prompt_tokens,
                output_tokens: out.completion_tokens,
            },
            cost_usd: 0.0,
            latency: started.elapsed(),
            truncated: out.stop == engine::Stop::Budget,
        })
    }

    /// Health: the model file is there (or fetchable) and loads.
    pub async fn check(&self) -> Result<(), LlmError> {
        self.engine().await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(model_path: PathBuf) -> LocalProvider {
        LocalProvider::new(LocalConfig {
            model_path: Some(model_path),
            cache_dir: PathBuf::from("/nonexistent"),
            threads: 1,
            context_tokens: 256,
            concurrency: 1,
            max_tokens: 16,
            temperature: 0.0,
            top_p: 1.0,
            repeat_penalty: 1.0,
            seed: Some(1),
        })
    }

    #[tokio::test]
    async fn a_failed_load_is_answered_from_memory_instead_of_retried_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later.gguf");
        let p = provider(path.clone());
        let first = p.check().await.unwrap_err();
        assert_eq!(first.class, ErrorClass::Fatal);
        assert!(
            first.message.contains("does not exist"),
            "{}",
            first.message
        );
        // The file appears (broken, which would be a different error): within the retry
        // window the first failure is answered without looking again.
        std::fs::write(&path, b"not a model").unwrap();
        let second = p.check().await.unwrap_err();
        assert_eq!(second.message, first.message);
    }
}
