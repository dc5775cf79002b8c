//! The per-provider circuit breaker: the one place that decides whether a provider is tried.
//!
//! - **Closed**: outcomes go into a time window; with at least `min_volume` calls in it and a
//!   failure rate at or above `failure_rate`, the breaker opens.
//! - **Open** for an interval that doubles each time it opens again (up to `open_max`), then
//!   **half-open**: `trials` real requests may pass; a success closes it, a failure reopens it.
//! - **Rate-limited** until the provider's `Retry-After` (or `rate_limit_default`): skipped, but
//!   a 429 is not a failure.
//! - **Ejected** on bad credentials or exhausted quota: skipped until a health check passes
//!   (retrying cannot fix it, so only proof that it was fixed ends it).
//! - Invalid requests (400, 404, context too long) are the caller's fault and are not counted.
//!
//! Time is passed in, so the logic is tested without waiting.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::{ErrorClass, LlmError};

/// Breaker tuning.
#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// Length of the outcome window.
    pub window: Duration,
    /// Calls in the window before the failure rate counts.
    pub min_volume: usize,
    /// Failure rate (0–1) that opens the breaker.
    pub failure_rate: f64,
    /// First open interval.
    pub open_base: Duration,
    /// Longest open interval.
    pub open_max: Duration,
    /// Requests let through when half-open.
    pub trials: u32,
    /// Wait after a 429 without `Retry-After`.
    pub rate_limit_default: Duration,
    /// Longest a 429 holds a provider back, whatever its `Retry-After` says: a remote party
    /// must not be able to take a provider out of rotation for a day with one header.
    pub rate_limit_max: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            min_volume: 5,
            failure_rate: 0.5,
            open_base: Duration::from_secs(10),
            open_max: Duration::from_secs(600),
            trials: 1,
            rate_limit_default: Duration::from_secs(10),
            rate_limit_max: Duration::from_secs(15 * 60),
        }
    }
}

/// Where a breaker is.
#[derive(Debug, Clone, PartialEq)]
enum State {
    Closed,
    Open { until: Instant },
    HalfOpen { trials_left: u32 },
    RateLimited { until: Instant },
    Ejected { reason: String },
}

/// A change worth telling the operator about (alerts come from these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// Too many failures: the provider is skipped for a while.
    Opened,
    /// Bad credentials or no quota: skipped until a health check passes.
    Ejected,
    /// Healthy again after being open or ejected.
    Recovered,
}

/// What the API shows of a breaker.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct BreakerSnapshot {
    /// `closed`, `open`, `half_open`, `rate_limited` or `ejected`.
    pub state: &'static str,
    /// Seconds until it may be tried again, when open or rate-limited.
    pub retry_in_secs: Option<f64>,
    /// Calls in the window.
    pub volume: usize,
    /// Failure rate in the window.
    pub failure_rate: f64,
    /// Why it was ejected.
    pub reason: Option<String>,
}

struct Inner {
    state: State,
    window: VecDeque<(Instant, bool)>,
    openings: u32,
}

/// One provider's breaker.
pub struct Breaker {
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Breaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker")
            .field("state", &self.lock().state)
            .finish()
    }
}

impl Breaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            inner: Mutex::new(Inner {
                state: State::Closed,
                window: VecDeque::new(),
                openings: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a request may go to the provider now. Takes a half-open trial when it does.
    pub fn allow(&self, now: Instant) -> bool {
        let mut inner = self.lock();
        match inner.state {
            State::Closed => true,
            State::Open { until } if now >= until => {
                inner.state = State::HalfOpen {
                    trials_left: self.config.trials.saturating_sub(1),
                };
                true
            }
            State::Open { .. } | State::Ejected { .. } => false,
            State::HalfOpen { trials_left: 0 } => false,
            State::HalfOpen { trials_left } => {
                inner.state = State::HalfOpen {
                    trials_left: trials_left - 1,
                };
                true
            }
            State::RateLimited { until } => {
                if now >= until {
                    inner.state = State::Closed;
                }
                now >= until
            }
        }
    }

    /// Whether [`Breaker::allow`] would let a request through now, without taking a trial.
    pub fn available(&self, now: Instant) -> bool {
        match self.lock().state {
            State::Closed => true,
            State::Open { until } | State::RateLimited { until } => now >= until,
            State::HalfOpen { trials_left } => trials_left > 0,
            State::Ejected { .. } => false,
        }
    }

    /// How long until it may be tried again, if it is waiting out an interval.
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        match self.lock().state {
            State::Open { until } | State::RateLimited { until } => {
                Some(until.saturating_duration_since(now))
            }
            _ => None,
        }
    }

    /// Records the outcome of a call; returns a transition worth an alert.
    pub fn record(&self, now: Instant, outcome: Result<(), &LlmError>) -> Option<Transition> {
        let mut inner = self.lock();
        let class = match outcome {
            Ok(()) => None,
            Err(e) => Some(e.class),
        };
        match class {
            Some(ErrorClass::InvalidRequest) => None,
            Some(ErrorClass::Fatal) => {
                let reason = outcome.err().map(|e| e.message.clone()).unwrap_or_default();
                let was_ejected = matches!(inner.state, State::Ejected { .. });
                inner.state = State::Ejected { reason };
                (!was_ejected).then_some(Transition::Ejected)
            }
            Some(ErrorClass::RateLimited) => {
                let asked = outcome
                    .err()
                    .and_then(|e| e.retry_after)
                    .unwrap_or(self.config.rate_limit_default);
                let wait = asked.min(self.config.rate_limit_max);
                if wait < asked {
                    tracing::warn!(
                        asked_secs = asked.as_secs(),
                        held_secs = wait.as_secs(),
                        "Retry-After is longer than the cap (providers.max_retry_after_secs): holding the provider back for the cap only"
                    );
                }
                inner.state = State::RateLimited { until: now + wait };
                None
            }
            None => {
                let recovered = matches!(inner.state, State::HalfOpen { .. });
                if recovered {
                    inner.state = State::Closed;
                    inner.openings = 0;
                    inner.window.clear();
                } else {
                    self.push(&mut inner, now, true);
                }
                recovered.then_some(Transition::Recovered)
            }
            Some(ErrorClass::Transient) => {
                if matches!(inner.state, State::HalfOpen { .. }) {
                    return self.open(&mut inner, now);
                }
                self.push(&mut inner, now, false);
                let (volume, rate) = Self::rate(&inner.window);
                if matches!(inner.state, State::Closed)
                    && volume >= self.config.min_volume
                    && rate >= self.config.failure_rate
                {
                    return self.open(&mut inner, now);
                }
                None
            }
        }
    }

    fn push(&self, inner: &mut Inner, now: Instant, ok: bool) {
        inner.window.push_back((now, ok));
        while inner
            .window
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > self.config.window)
        {
            inner.window.pop_front();
        }
    }

    fn rate(window: &VecDeque<(Instant, bool)>) -> (usize, f64) {
        let failures = window.iter().filter(|(_, ok)| !ok).count();
        (
            window.len(),
            if window.is_empty() {
                0.0
            } else {
                failures as f64 / window.len() as f64
            },
        )
    }

    fn open(&self, inner: &mut Inner, now: Instant) -> Option<Transition> {
        let interval = self
            .config
            .open_base
            .saturating_mul(1 << inner.openings.min(16))
            .min(self.config.open_max);
        inner.openings += 1;
        inner.window.clear();
        inner.state = State::Open {
            until: now + interval,
        };
        Some(Transition::Opened)
    }

    /// A health check passed at `now`: an ejected provider is tried again, and so is one held
    /// back by a rate limit with more than [`PROBE_ENDS_HOLDS_OVER`] left (a short hold is the
    /// provider's own word and runs out by itself; a long one is re-checked by the probe).
    pub fn reinstate(&self, now: Instant) -> Option<Transition> {
        let mut inner = self.lock();
        match inner.state {
            State::Ejected { .. } => {
                inner.state = State::Closed;
                inner.openings = 0;
                inner.window.clear();
                Some(Transition::Recovered)
            }
            State::RateLimited { until }
                if until.saturating_duration_since(now) > PROBE_ENDS_HOLDS_OVER =>
            {
                inner.state = State::Closed;
                Some(Transition::Recovered)
            }
            _ => None,
        }
    }

    /// How long until a request may pass, if that is known: zero when it may now, the rest of
    /// an open or rate-limited interval, `None` when only a passing health check can bring it
    /// back (ejected) or a half-open trial is under way.
    pub fn ready_in(&self, now: Instant) -> Option<Duration> {
        match self.lock().state {
            State::Closed => Some(Duration::ZERO),
            State::Open { until } | State::RateLimited { until } => {
                Some(until.saturating_duration_since(now))
            }
            State::HalfOpen { trials_left } => (trials_left > 0).then_some(Duration::ZERO),
            State::Ejected { .. } => None,
        }
    }

    /// Whether it is ejected (the health check then probes it).
    pub fn is_ejected(&self) -> bool {
        matches!(self.lock().state, State::Ejected { .. })
    }

    /// The state for the API.
    pub fn snapshot(&self, now: Instant) -> BreakerSnapshot {
        let inner = self.lock();
        let (volume, failure_rate) = Self::rate(&inner.window);
        let until = |u: Instant| Some(u.saturating_duration_since(now).as_secs_f64());
        let (state, retry_in_secs, reason) = match &inner.state {
            State::Closed => ("closed", None, None),
            State::Open { until: u } => ("open", until(*u), None),
            State::HalfOpen { .. } => ("half_open", None, None),
            State::RateLimited { until: u } => ("rate_limited", until(*u), None),
            State::Ejected { reason } => ("ejected", None, Some(reason.clone())),
        };
        BreakerSnapshot {
            state,
            retry_in_secs,
            volume,
            failure_rate,
            reason,
        }
    }
}

/// A rate-limit hold with more than this left is ended by a passing health check.
pub const PROBE_ENDS_HOLDS_OVER: Duration = Duration::from_secs(60);

/// The time a provider's breaker and budgets run on: the real monotonic clock, or a
/// [`crate::queue::Clock`] (tests move a manual one through hours of outage in milliseconds).
#[derive(Debug, Clone, Default)]
pub struct Timebase {
    clock: Option<(std::sync::Arc<dyn crate::queue::Clock>, Instant, i64)>,
}

impl Timebase {
    /// Time as `clock` tells it, anchored at the real now.
    pub fn from_clock(clock: std::sync::Arc<dyn crate::queue::Clock>) -> Self {
        let ms = clock.now_ms();
        Self {
            clock: Some((clock, Instant::now(), ms)),
        }
    }

    /// Now.
    pub fn now(&self) -> Instant {
        match &self.clock {
            None => Instant::now(),
            Some((clock, anchor, anchor_ms)) => {
                let ms = clock.now_ms().saturating_sub(*anchor_ms).max(0);
                *anchor + Duration::from_millis(ms as u64)
            }
        }
    }
}

/// A provider behind its breaker: every call through [`Guarded::chat`] is recorded, and the
/// transitions are announced from one place ([`announce`]).
pub struct Guarded {
    provider: super::Provider,
    breaker: Breaker,
    weight: f64,
    observed: Mutex<Observed>,
    budget: Option<Mutex<Budget>>,
    alerts: std::sync::atomic::AtomicU32,
    totals: Mutex<CallTotals>,
    recent: Mutex<super::status::RecentCalls>,
    time: Timebase,
}

/// What the balancer has seen of a provider.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Observed {
    /// Exponentially weighted mean latency of successful calls, ms (0 before the first).
    pub latency_ms: f64,
    /// Exponentially weighted success rate (1 before the first call).
    pub success: f64,
    /// Calls running now.
    pub in_flight: u32,
    /// Calls made.
    pub calls: u64,
}

/// Upper bounds (seconds) of the call-latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 11] =
    [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// Totals of a provider's calls since start, for `/metrics`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CallTotals {
    /// Calls by outcome: `ok`, `transient`, `rate_limited`, `fatal`, `invalid_request`.
    pub outcomes: [u64; 5],
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Answer tokens.
    pub output_tokens: u64,
    /// Cost in USD.
    pub cost_usd: f64,
    /// Calls per latency bucket (cumulative counts are computed when rendered).
    pub buckets: [u64; LATENCY_BUCKETS.len()],
    /// Sum of latencies, seconds.
    pub latency_sum: f64,
}

/// Names of [`CallTotals::outcomes`], in order.
pub const OUTCOMES: [&str; 5] = [
    "ok",
    "transient",
    "rate_limited",
    "fatal",
    "invalid_request",
];

impl CallTotals {
    fn record(&mut self, result: &Result<super::ChatResponse, LlmError>, latency: f64) {
        let i = match result {
            Ok(r) => {
                self.input_tokens += u64::from(r.usage.input_tokens);
                self.output_tokens += u64::from(r.usage.output_tokens);
                self.cost_usd += r.cost_usd;
                0
            }
            Err(e) => match e.class {
                ErrorClass::Transient => 1,
                ErrorClass::RateLimited => 2,
                ErrorClass::Fatal => 3,
                ErrorClass::InvalidRequest => 4,
            },
        };
        self.outcomes[i] += 1;
        if let Some(b) = LATENCY_BUCKETS.iter().position(|le| latency <= *le) {
            self.buckets[b] += 1;
        }
        self.latency_sum += latency;
    }
}

/// Weight of the newest sample in the moving averages.
const EWMA_ALPHA: f64 = 0.2;

/// Requests-per-minute and tokens-per-minute limits, as token buckets refilled continuously.
#[derive(Debug)]
struct Budget {
    rpm: Option<f64>,
    tpm: Option<f64>,
    requests: f64,
    tokens: f64,
    at: Instant,
}

impl Budget {
    fn refill(&mut self, now: Instant) {
        let minutes = now.duration_since(self.at).as_secs_f64() / 60.0;
        self.at = now;
        if let Some(rpm) = self.rpm {
            self.requests = (self.requests + rpm * minutes).min(rpm);
        }
        if let Some(tpm) = self.tpm {
            self.tokens = (self.tokens + tpm * minutes).min(tpm);
        }
    }

    fn fits(&self, tokens: f64) -> bool {
        self.rpm.is_none_or(|_| self.requests >= 1.0)
            && self.tpm.is_none_or(|tpm| self.tokens >= tokens.min(tpm))
    }
}

impl std::fmt::Debug for Guarded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded")
            .field("provider", &self.provider.name())
            .field("breaker", &self.breaker)
            .finish()
    }
}

impl Guarded {
    /// `provider` behind a closed breaker.
    pub fn new(provider: super::Provider, config: BreakerConfig) -> Self {
        Self {
            provider,
            breaker: Breaker::new(config),
            weight: 1.0,
            observed: Mutex::new(Observed {
                latency_ms: 0.0,
                success: 1.0,
                in_flight: 0,
                calls: 0,
            }),
            budget: None,
            alerts: Default::default(),
            totals: Default::default(),
            recent: Default::default(),
            time: Timebase::default(),
        }
    }

    /// Runs its breaker and budgets on `time` instead of the real clock.
    pub fn with_timebase(mut self, time: Timebase) -> Self {
        if let Some(b) = &mut self.budget {
            b.get_mut().unwrap_or_else(|p| p.into_inner()).at = time.now();
        }
        self.time = time;
        self
    }

    /// Now, on its timebase.
    pub fn now(&self) -> Instant {
        self.time.now()
    }

    /// How long until a request of about `tokens` may go to it (see [`Breaker::ready_in`]),
    /// counting the per-minute budget's refill.
    pub fn ready_in(&self, now: Instant, tokens: f64) -> Option<Duration> {
        let breaker = self.breaker.ready_in(now)?;
        let budget = self.budget.as_ref().map_or(Duration::ZERO, |b| {
            let mut b = b.lock().unwrap_or_else(|p| p.into_inner());
            b.refill(now);
            if b.fits(tokens) {
                Duration::ZERO
            } else {
                // A minute refills either bucket completely.
                Duration::from_secs(60) / b.rpm.map_or(1, |r| r.max(1.0) as u32).max(1)
            }
        });
        Some(breaker.max(budget))
    }

    /// Its share of traffic relative to the others (default 1).
    pub fn with_weight(mut self, weight: f64) -> Self {
        self.weight = weight.max(0.0);
        self
    }

    /// Requests and tokens per minute it may be sent (the provider's own limits).
    pub fn with_limits(mut self, rpm: Option<u32>, tpm: Option<u32>) -> Self {
        if rpm.is_some() || tpm.is_some() {
            self.budget = Some(Mutex::new(Budget {
                rpm: rpm.map(f64::from),
                tpm: tpm.map(f64::from),
                requests: rpm.map_or(0.0, f64::from),
                tokens: tpm.map_or(0.0, f64::from),
                at: Instant::now(),
            }));
        }
        self
    }

    /// Its configured weight.
    pub fn weight(&self) -> f64 {
        self.weight
    }

    /// What the balancer has seen of it.
    pub fn observed(&self) -> Observed {
        *self.observed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Its call totals since start.
    pub fn totals(&self) -> CallTotals {
        self.totals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Breaker transitions announced for it (each one is an alert).
    pub fn alerts_raised(&self) -> u32 {
        self.alerts.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether a request of about `tokens` may go to it now: breaker and per-minute budget
    /// (does not take a half-open trial or spend the budget).
    pub fn available(&self, now: Instant, tokens: f64) -> bool {
        self.breaker.available(now)
            && self.budget.as_ref().is_none_or(|b| {
                let mut b = b.lock().unwrap_or_else(|p| p.into_inner());
                b.refill(now);
                b.fits(tokens)
            })
    }

    /// Takes the request from the budget and, when half-open, a trial. False if either is gone.
    pub fn admit(&self, now: Instant, tokens: f64) -> bool {
        if let Some(b) = &self.budget {
            let mut b = b.lock().unwrap_or_else(|p| p.into_inner());
            b.refill(now);
            if !b.fits(tokens) {
                return false;
            }
            if b.rpm.is_some() {
                b.requests -= 1.0;
            }
            if let Some(tpm) = b.tpm {
                b.tokens -= tokens.min(tpm);
            }
        }
        self.breaker.allow(now)
    }

    fn observe(&self, started: bool, outcome: Option<(bool, f64)>) {
        let mut o = self.observed.lock().unwrap_or_else(|p| p.into_inner());
        if started {
            o.in_flight += 1;
            o.calls += 1;
        }
        if let Some((ok, latency_ms)) = outcome {
            o.in_flight = o.in_flight.saturating_sub(1);
            o.success = o.success * (1.0 - EWMA_ALPHA) + if ok { EWMA_ALPHA } else { 0.0 };
            if ok {
                o.latency_ms = if o.latency_ms == 0.0 {
                    latency_ms
                } else {
                    o.latency_ms * (1.0 - EWMA_ALPHA) + latency_ms * EWMA_ALPHA
                };
            }
        }
    }

    /// The provider.
    pub fn provider(&self) -> &super::Provider {
        &self.provider
    }

    /// Its breaker.
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// Whether it may be tried now (takes a half-open trial when it does).
    pub fn allow(&self) -> bool {
        self.breaker.allow(self.now())
    }

    /// One call, recorded in the breaker and as a performance event (latency, tokens, cost,
    /// outcome) in `performance.log`.
    pub async fn chat(
        &self,
        request: &super::ChatRequest,
    ) -> Result<super::ChatResponse, LlmError> {
        self.chat_within(request, None).await
    }

    /// Like [`Guarded::chat`], giving up after `limit` (a timeout counts as a transient failure).
    pub async fn chat_within(
        &self,
        request: &super::ChatRequest,
        limit: Option<Duration>,
    ) -> Result<super::ChatResponse, LlmError> {
        let started = std::time::Instant::now();
        self.observe(true, None);
        let call = self.provider.chat(request);
        let result = match limit {
            None => call.await,
            Some(limit) => match tokio::time::timeout(limit, call).await {
                Ok(r) => r,
                Err(_) => Err(LlmError {
                    class: ErrorClass::Transient,
                    provider: self.provider.name().to_owned(),
                    status: None,
                    message: format!("no answer within {:.1} s", limit.as_secs_f64()),
                    retry_after: None,
                }),
            },
        };
        let latency_ms = started.elapsed().as_secs_f64() * 1e3;
        self.observe(false, Some((result.is_ok(), latency_ms)));
        self.totals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(&result, latency_ms / 1e3);
        // A request the caller got wrong says nothing about the provider.
        if result
            .as_ref()
            .err()
            .is_none_or(|e| e.class != ErrorClass::InvalidRequest)
        {
            let message = result.as_ref().err().map(|e| match e.status {
                Some(code) => format!("HTTP {code}: {}", e.message),
                None => e.message.clone(),
            });
            self.recent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .record(message.as_deref().map_or(Ok(()), Err));
        }
        match &result {
            Ok(r) => {
                tracing::info!(target: "blogflow::perf", provider = self.provider.name(), model = %r.model, outcome = "ok", latency_ms,
                input_tokens = r.usage.input_tokens, output_tokens = r.usage.output_tokens, cost_usd = r.cost_usd, "llm call")
            }
            Err(e) => {
                tracing::info!(target: "blogflow::perf", provider = self.provider.name(), model = self.provider.model(), outcome = ?e.class, status = ?e.status, latency_ms, "llm call")
            }
        }
        if let Some(t) = self.breaker.record(self.now(), result.as_ref().map(|_| ())) {
            self.alerts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            announce(self.provider.name(), &t, result.as_ref().err());
        }
        result
    }

    /// Its one status, from its breaker, its latest calls and `probe` (see [`super::status`]).
    pub fn status(&self, probe: super::status::Probe<'_>) -> super::status::ProviderStatus {
        let breaker = self.breaker.snapshot(self.now());
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        super::status::ProviderStatus::of(&breaker, &recent, probe)
    }

    /// A passed health check: reinstates an ejected provider.
    pub fn health_passed(&self) {
        if let Some(t) = self.breaker.reinstate(self.now()) {
            self.alerts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            announce(self.provider.name(), &t, None);
        }
    }
}

impl std::ops::Deref for Guarded {
    type Target = super::Provider;

    fn deref(&self) -> &super::Provider {
        &self.provider
    }
}

/// The one place a breaker transition is told: a log event the alerting layer will also send.
pub fn announce(provider: &str, transition: &Transition, cause: Option<&LlmError>) {
    let cause = cause.map(|e| e.message.as_str()).unwrap_or("");
    match transition {
        Transition::Opened => {
            tracing::warn!(target: "blogflow::events", event = "ProviderOpened", provider, cause, "provider failing: skipped for a while")
        }
        Transition::Ejected => {
            tracing::error!(target: "blogflow::events", event = "ProviderEjected", provider, cause, "provider ejected until a health check passes (credentials or quota)")
        }
        Transition::Recovered => {
            tracing::info!(target: "blogflow::events", event = "ProviderRecovered", provider, "provider healthy again")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(class: ErrorClass, retry_after: Option<Duration>) -> LlmError {
        LlmError {
            class,
            provider: "p".into(),
            status: None,
            message: format!("{class:?}"),
            retry_after,
        }
    }

    fn breaker() -> Breaker {
        Breaker::new(BreakerConfig {
            min_volume: 4,
            failure_rate: 0.5,
            open_base: Duration::from_secs(10),
            open_max: Duration::from_secs(35),
            ..BreakerConfig::default()
        })
    }

    #[test]
    fn opens_on_failure_rate_with_volume_and_recovers_through_half_open() {
        let b = breaker();
        let t0 = Instant::now();
        let fail = err(ErrorClass::Transient, None);
        assert_eq!(
            b.record(t0, Err(&fail)),
            None,
            "one failure is not enough volume"
        );
        b.record(t0, Ok(()));
        assert_eq!(b.record(t0, Err(&fail)), None);
        assert_eq!(
            b.record(t0, Err(&fail)),
            Some(Transition::Opened),
            "3 of 4 failed"
        );
        assert!(!b.allow(t0 + Duration::from_secs(9)));
        assert!(
            b.allow(t0 + Duration::from_secs(10)),
            "half-open lets one trial through"
        );
        assert!(!b.allow(t0 + Duration::from_secs(10)), "only one");
        assert_eq!(
            b.record(t0 + Duration::from_secs(11), Ok(())),
            Some(Transition::Recovered)
        );
        assert!(b.allow(t0 + Duration::from_secs(11)));
        assert_eq!(b.snapshot(t0).state, "closed");
    }

    #[test]
    fn a_failed_trial_reopens_for_twice_as_long_up_to_the_cap() {
        let b = breaker();
        let mut now = Instant::now();
        let fail = err(ErrorClass::Transient, None);
        for _ in 0..4 {
            b.record(now, Err(&fail));
        }
        for expected in [20, 35, 35] {
            let open_until = b.snapshot(now).retry_in_secs.unwrap();
            now += Duration::from_secs_f64(open_until);
            assert!(b.allow(now));
            assert_eq!(b.record(now, Err(&fail)), Some(Transition::Opened));
            assert_eq!(b.snapshot(now).retry_in_secs, Some(expected as f64));
        }
    }

    #[test]
    fn rate_limits_wait_for_retry_after_and_are_not_failures() {
        let b = breaker();
        let t0 = Instant::now();
        assert_eq!(
            b.record(
                t0,
                Err(&err(ErrorClass::RateLimited, Some(Duration::from_secs(2))))
            ),
            None
        );
        assert!(!b.allow(t0 + Duration::from_millis(1999)));
        assert!(
            b.allow(t0 + Duration::from_secs(2)),
            "ejected for exactly Retry-After"
        );
        assert_eq!(
            b.snapshot(t0).volume,
            0,
            "a 429 is not counted as a failure"
        );
    }

    #[test]
    fn auth_errors_eject_once_until_a_health_check_passes() {
        let b = breaker();
        let t0 = Instant::now();
        let auth = err(ErrorClass::Fatal, None);
        assert_eq!(b.record(t0, Err(&auth)), Some(Transition::Ejected));
        assert_eq!(
            b.record(t0, Err(&auth)),
            None,
            "one alert, not one per request"
        );
        assert!(
            !b.allow(t0 + Duration::from_secs(86_400)),
            "time does not fix a bad key"
        );
        assert!(b.is_ejected());
        assert_eq!(b.reinstate(t0), Some(Transition::Recovered));
        assert!(b.allow(t0));
    }

    #[test]
    fn a_huge_retry_after_holds_for_the_cap_and_a_passing_probe_ends_a_long_hold() {
        let b = breaker();
        let t0 = Instant::now();
        let cap = BreakerConfig::default().rate_limit_max;
        let huge = err(
            ErrorClass::RateLimited,
            Some(Duration::from_secs(999_999_999)),
        );
        b.record(t0, Err(&huge));
        assert!(!b.allow(t0 + cap - Duration::from_secs(1)));
        assert!(b.allow(t0 + cap), "back in rotation once the cap is over");
        b.record(t0, Err(&huge));
        assert_eq!(b.ready_in(t0), Some(cap));
        assert_eq!(
            b.reinstate(t0),
            Some(Transition::Recovered),
            "a passing probe ends a long hold"
        );
        assert!(b.allow(t0));
        let short = err(ErrorClass::RateLimited, Some(Duration::from_secs(20)));
        b.record(t0, Err(&short));
        assert_eq!(b.reinstate(t0), None, "a short hold is the provider's word");
        assert!(!b.allow(t0 + Duration::from_secs(19)));
    }

    #[test]
    fn invalid_requests_never_count() {
        let b = breaker();
        let t0 = Instant::now();
        for _ in 0..20 {
            assert_eq!(
                b.record(t0, Err(&err(ErrorClass::InvalidRequest, None))),
                None
            );
        }
        assert!(b.allow(t0));
        assert_eq!(b.snapshot(t0).volume, 0);
    }

    #[test]
    fn old_outcomes_leave_the_window() {
        let b = breaker();
        let t0 = Instant::now();
        let fail = err(ErrorClass::Transient, None);
        for _ in 0..3 {
            b.record(t0, Err(&fail));
        }
        // A minute later the old failures no longer count: one more failure does not open it.
        assert_eq!(b.record(t0 + Duration::from_secs(61), Err(&fail)), None);
        assert_eq!(b.snapshot(t0 + Duration::from_secs(61)).volume, 1);
    }
}
