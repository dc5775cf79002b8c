//! In-process inference with llama.cpp (through `llama-cpp-2`), off the async runtime.
//!
//! One model is loaded per process and shared. `concurrency` engine threads each own a
//! llama.cpp context (KV cache) over that model and serve requests from one channel, so
//! generation never blocks the async runtime and at most `concurrency` run at once. A request
//! stops when its cancel token fires or its caller stops waiting (the reply channel closes).

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The GGUF file.
    pub model_path: PathBuf,
    /// CPU threads per generation.
    pub threads: i32,
    /// Context size in tokens (prompt + answer).
    pub context_tokens: u32,
    /// Generations at once (each has its own KV cache).
    pub concurrency: usize,
}

/// Sampling of one generation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// 0 for greedy.
    pub temperature: f32,
    /// Nucleus sampling mass.
    pub top_p: f32,
    /// > 1 discourages repeating recent tokens.
    pub repeat_penalty: f32,
    /// How many recent tokens the penalty looks at.
    pub repeat_last_n: i32,
    /// Random seed: the same seed, prompt and settings give the same text.
    pub seed: u32,
    /// Token budget of the answer.
    pub max_tokens: u32,
    /// Keep going past the end of the turn (benchmarks want exactly `max_tokens`).
    pub ignore_end: bool,
}

/// Why a generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The model ended its turn.
    EndOfTurn,
    /// The token budget ran out.
    Budget,
}

/// A finished generation.
#[derive(Debug, Clone)]
pub struct Generation {
    /// The answer.
    pub text: String,
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Answer tokens.
    pub completion_tokens: u32,
    /// Why it stopped.
    pub stop: Stop,
    /// Time to process the prompt.
    pub prompt_time: Duration,
    /// Time to generate the answer.
    pub generation_time: Duration,
}

/// Engine errors. Messages name the file and the fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// No file at the path.
    #[error(
        "model file {0} does not exist: run `blogflow model fetch`, or set BLOGFLOW_MODEL_PATH to a GGUF file"
    )]
    Missing(PathBuf),
    /// Not a GGUF file, or damaged.
    #[error(
        "model file {path} is not a usable GGUF file ({detail}): delete it and run `blogflow model fetch`, or point BLOGFLOW_MODEL_PATH at a valid file"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The prompt does not fit the context.
    #[error(
        "the prompt has {prompt_tokens} tokens but the context holds {context_tokens}: shorten it or raise providers.local.context_tokens"
    )]
    PromptTooLong {
        /// Prompt size.
        prompt_tokens: usize,
        /// Context size.
        context_tokens: u32,
    },
    /// llama.cpp failed while running.
    #[error("local inference failed: {0}")]
    Inference(String),
    /// Cancelled by shutdown, timeout or the caller.
    #[error("generation cancelled")]
    Cancelled,
    /// The engine threads are gone.
    #[error("the local model engine stopped")]
    Closed,
}

struct Request {
    prompt: String,
    sampling: Sampling,
    cancel: CancellationToken,
    reply: oneshot::Sender<Result<Generation, EngineError>>,
}

/// Counters of finished requests.
#[derive(Debug, Default)]
pub struct EngineStats {
    /// Generations that ran to the end of the turn or the budget.
    pub completed: std::sync::atomic::AtomicU64,
    /// Generations stopped by cancellation.
    pub cancelled: std::sync::atomic::AtomicU64,
}

/// A loaded model and its engine threads.
pub struct Engine {
    model: Arc<LlamaModel>,
    stats: Arc<EngineStats>,
    tx: Mutex<mpsc::Sender<Request>>,
    config: EngineConfig,
    load_time: Duration,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .finish()
    }
}

fn backend() -> &'static LlamaBackend {
    static BACKEND: OnceLock<LlamaBackend> = OnceLock::new();
    BACKEND.get_or_init(|| {
        // llama.cpp prints a hundred lines per load to stderr; keep them out unless asked for
        // (RUST_LOG mentioning llama). Our own errors say what went wrong.
        let wanted = std::env::var("RUST_LOG").is_ok_and(|v| v.contains("llama"));
        llama_cpp_2::send_logs_to_tracing(
            llama_cpp_2::LogOptions::default().with_logs_enabled(wanted),
        );
        LlamaBackend::init().expect("llama.cpp backend initialises once")
    })
}

/// Checks that `path` looks like a GGUF file before llama.cpp sees it (llama.cpp may abort
/// the process on some malformed input instead of returning an error).
pub fn check_file(path: &Path) -> Result<(), EngineError> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(EngineError::Missing(path.to_path_buf()));
        }
        Err(e) => {
            return Err(EngineError::Corrupt {
                path: path.to_path_buf(),
                detail: e.to_string(),
            });
        }
    };
    let mut head = [0u8; 8];
    let corrupt = |detail: &str| EngineError::Corrupt {
        path: path.to_path_buf(),
        detail: detail.to_owned(),
    };
    file.read_exact(&mut head)
        .map_err(|_| corrupt("shorter than a GGUF header"))?;
    if &head[..4] != b"GGUF" {
        return Err(corrupt("it does not start with the GGUF magic bytes"));
    }
    let version = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if !(2..=3).contains(&version) {
        return Err(corrupt(&format!("GGUF version {version} is not supported")));
    }
    Ok(())
}

impl Engine {
    /// Loads the model and starts the engine threads. Blocking: call from a blocking context.
    pub fn load(config: EngineConfig) -> Result<Arc<Self>, EngineError> {
        check_file(&config.model_path)?;
        let started = Instant::now();
        let model =
            LlamaModel::load_from_file(backend(), &config.model_path, &LlamaModelParams::default())
                .map_err(|e| EngineError::Corrupt {
                    path: config.model_path.clone(),
                    detail: format!("llama.cpp could not load it: {e}"),
                })?;
        let model = Arc::new(model);
        let (tx, rx) = mpsc::channel::<Request>();
        let rx = Arc::new(Mutex::new(rx));
        let stats = Arc::new(EngineStats::default());
        for i in 0..config.concurrency.max(1) {
            let (model, rx, config, stats) =
                (model.clone(), rx.clone(), config.clone(), stats.clone());
            std::thread::Builder::new()
                .name(format!("blogflow-llm-{i}"))
                .spawn(move || serve(&model, &rx, &config, &stats))
                .map_err(|e| {
                    EngineError::Inference(format!("cannot start an engine thread: {e}"))
                })?;
        }
        Ok(Arc::new(Self {
            model,
            stats,
            tx: Mutex::new(tx),
            config,
            load_time: started.elapsed(),
        }))
    }

    /// Finished and cancelled generations so far.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// How long loading took.
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// The loaded model.
    pub fn model(&self) -> &LlamaModel {
        &self.model
    }

    /// Token ids of `text`, parsing control-token text as control tokens.
    pub fn tokenize(&self, text: &str) -> Vec<i32> {
        self.model
            .vocab()
            .tokenize(text.as_bytes(), false, true)
            .into_iter()
            .map(|t| t.0)
            .collect()
    }

    /// Text of token ids (control tokens rendered).
    pub fn detokenize(&self, ids: &[i32]) -> String {
        let vocab = self.model.vocab();
        let bytes: Vec<u8> = ids
            .iter()
            .flat_map(|&id| vocab.token_to_piece(LlamaToken(id), true, None))
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// A metadata string of the GGUF (e.g. `tokenizer.chat_template`).
    pub fn metadata(&self, key: &str) -> Option<String> {
        self.model.meta_val_str(key).ok()
    }

    /// Generates an answer to a rendered prompt.
    pub async fn generate(
        &self,
        prompt: String,
        sampling: Sampling,
        cancel: CancellationToken,
    ) -> Result<Generation, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .lock()
            .map_err(|_| EngineError::Closed)?
            .send(Request {
                prompt,
                sampling,
                cancel,
                reply,
            })
            .map_err(|_| EngineError::Closed)?;
        rx.await.map_err(|_| EngineError::Closed)?
    }
}

fn serve(
    model: &LlamaModel,
    rx: &Mutex<mpsc::Receiver<Request>>,
    config: &EngineConfig,
    stats: &EngineStats,
) {
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(config.context_tokens))
        .with_n_batch(512)
        .with_n_threads(config.threads)
        .with_n_threads_batch(config.threads);
    let mut context = match model.new_context(backend(), params) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::error!(error = %e, "cannot create a llama.cpp context; local generation fails");
            None
        }
    };
    loop {
        let request = match rx.lock() {
            Ok(rx) => match rx.recv() {
                Ok(r) => r,
                Err(_) => return,
            },
            Err(_) => return,
        };
        let result = match context.as_mut() {
            None => Err(EngineError::Inference(
                "no llama.cpp context (see the error log)".into(),
            )),
            Some(ctx) => run(model, ctx, config.context_tokens, &request),
        };
        let counter = match &result {
            Err(EngineError::Cancelled) => &stats.cancelled,
            _ => &stats.completed,
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _ = request.reply.send(result);
    }
}

fn run(
    model: &LlamaModel,
    ctx: &mut llama_cpp_2::context::LlamaContext<'_>,
    n_ctx: u32,
    request: &Request,
) -> Result<Generation, EngineError> {
    let stopped = || request.cancel.is_cancelled() || request.reply.is_closed();
    let inference = |e: &dyn std::fmt::Display| EngineError::Inference(e.to_string());
    let vocab = model.vocab();
    ctx.clear_kv_cache();
    let started = Instant::now();
    let prompt = vocab.tokenize(request.prompt.as_bytes(), false, true);
    if prompt.is_empty() || prompt.len() + 8 > n_ctx as usize {
        return Err(EngineError::PromptTooLong {
            prompt_tokens: prompt.len(),
            context_tokens: n_ctx,
        });
    }
    let budget = request.sampling.max_tokens.min(n_ctx - prompt.len() as u32);
    let mut batch = LlamaBatch::new(512, 1);
    let chunks = prompt.chunks(512).count();
    for (c, chunk) in prompt.chunks(512).enumerate() {
        if stopped() {
            return Err(EngineError::Cancelled);
        }
        batch.clear();
        for (i, token) in chunk.iter().enumerate() {
            let pos = (c * 512 + i) as i32;
            let last = c + 1 == chunks && i + 1 == chunk.len();
            batch
                .add(*token, pos, &[0], last)
                .map_err(|e| inference(&e))?;
        }
        ctx.decode(&mut batch).map_err(|e| inference(&e))?;
    }
    let prompt_time = started.elapsed();
    let s = request.sampling;
    let mut samplers = vec![LlamaSampler::penalties(
        model.n_vocab(),
        s.repeat_last_n,
        s.repeat_penalty,
        0.0,
        0.0,
    )];
    if s.temperature <= 0.0 {
        samplers.push(LlamaSampler::greedy());
    } else {
        samplers.extend([
            LlamaSampler::top_k(40),
            LlamaSampler::top_p(s.top_p, 1),
            LlamaSampler::temp(s.temperature),
            LlamaSampler::dist(s.seed),
        ]);
    }
    let mut sampler = LlamaSampler::chain_simple(samplers);
    let generating = Instant::now();
    let mut bytes = Vec::new();
    let mut pos = prompt.len() as i32;
    let mut produced = 0u32;
    let mut stop = Stop::Budget;
    while produced < budget {
        if stopped() {
            return Err(EngineError::Cancelled);
        }
        let token = sampler.sample(ctx, batch.n_tokens() - 1);
        if !s.ignore_end && (vocab.is_eog(token) || vocab.is_control(token)) {
            stop = Stop::EndOfTurn;
            break;
        }
        bytes.extend(vocab.token_to_piece(token, false, None));
        produced += 1;
        batch.clear();
        batch
            .add(token, pos, &[0], true)
            .map_err(|e| inference(&e))?;
        pos += 1;
        ctx.decode(&mut batch).map_err(|e| inference(&e))?;
    }
    Ok(Generation {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        prompt_tokens: prompt.len() as u32,
        completion_tokens: produced,
        stop,
        prompt_time,
        generation_time: generating.elapsed(),
    })
}
