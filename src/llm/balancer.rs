//! The load balancer: which provider a call goes to, and the one retry loop around it.
//!
//! - **Choice**: among providers whose breaker and per-minute budget allow a call, a weighted
//!   random order by `weight × success² / (latency × (1 + in flight))` (moving averages of what
//!   was observed), so the fast and reliable get most traffic without starving the others of
//!   the samples that would show they improved. The local model comes last, always: it is the
//!   offline fallback, not a peer.
//! - **Retries**: one loop with a total deadline per request and a timeout per attempt. An
//!   invalid request (400) is returned at once: no provider would take it. Anything else moves
//!   on to the next provider in the order; when every available one failed, the loop waits a
//!   short, growing pause (or until the first breaker interval ends) and ranks again. The
//!   provider clients never retry by themselves, so attempts are never multiplied.

use std::time::Duration;

use rand::RngExt;
use tokio::time::Instant;

use super::breaker::Guarded;
use super::{ChatRequest, ChatResponse, ErrorClass, LlmError};

/// Bounds of one balanced request.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The whole request, every attempt included.
    pub deadline: Duration,
    /// One attempt.
    pub attempt_timeout: Duration,
    /// First pause after a round in which every available provider failed (doubles).
    pub pause: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(120),
            attempt_timeout: Duration::from_secs(60),
            pause: Duration::from_millis(100),
        }
    }
}

/// A balanced answer.
#[derive(Debug)]
pub struct Balanced {
    /// The answer.
    pub response: ChatResponse,
    /// Index of the provider that gave it.
    pub provider: usize,
    /// Attempts made (1 when the first provider answered).
    pub attempts: u32,
}

/// Tokens a request may use, for the tokens-per-minute budgets: the answer budget plus the
/// prompt at about four characters per token.
pub fn estimated_tokens(request: &ChatRequest, default_max: u32) -> f64 {
    let prompt = (request.system.chars().count() + request.user.chars().count()) as f64 / 4.0;
    prompt + f64::from(request.max_tokens.unwrap_or(default_max))
}

/// `weight × success² / (latency × (1 + in flight))`; a provider without a latency sample yet
/// gets `prior_ms` (the mean of the others), so newcomers are neither favoured nor starved.
fn score(member: &Guarded, prior_ms: f64) -> f64 {
    let o = member.observed();
    let latency = if o.latency_ms > 0.0 {
        o.latency_ms
    } else {
        prior_ms
    };
    member.weight() * o.success.max(0.01).powi(2)
        / (latency.max(0.001) * f64::from(1 + o.in_flight))
}

/// Least share of the best score any available provider keeps (scaled by its weight), so
/// that one which failed for a while still gets the odd request that shows it recovered.
const EXPLORE: f64 = 0.01;

/// The providers that may be called now, in the order to try them: a weighted random order of
/// the API providers by score, then the local model. `tokens` is the request's estimate.
pub fn rank(members: &[Guarded], now: Instant, tokens: f64) -> Vec<usize> {
    let mut pool: Vec<usize> = Vec::with_capacity(members.len());
    let mut local = Vec::new();
    for (i, m) in members.iter().enumerate() {
        if !m.available(now, tokens) {
            continue;
        }
        if m.needs_simple_format() {
            local.push(i);
        } else {
            pool.push(i);
        }
    }
    let known: Vec<f64> = pool
        .iter()
        .map(|&i| members[i].observed().latency_ms)
        .filter(|l| *l > 0.0)
        .collect();
    let prior = if known.is_empty() {
        1_000.0
    } else {
        known.iter().sum::<f64>() / known.len() as f64
    };
    let mut scored: Vec<(usize, f64)> = pool
        .iter()
        .map(|&i| (i, score(&members[i], prior)))
        .collect();
    let best = scored.iter().map(|(_, s)| *s).fold(0.0, f64::max);
    let heaviest = pool
        .iter()
        .map(|&i| members[i].weight())
        .fold(0.0, f64::max);
    if heaviest > 0.0 {
        for (i, s) in &mut scored {
            *s = s.max(best * EXPLORE * members[*i].weight() / heaviest);
        }
    }
    let mut order = Vec::with_capacity(scored.len() + local.len());
    let mut rng = rand::rng();
    while !scored.is_empty() {
        let total: f64 = scored.iter().map(|(_, s)| s).sum();
        let pick = if total > 0.0 {
            let mut x = rng.random::<f64>() * total;
            scored
                .iter()
                .position(|(_, s)| {
                    x -= s;
                    x < 0.0
                })
                .unwrap_or(scored.len() - 1)
        } else {
            0
        };
        order.push(scored.swap_remove(pick).0);
    }
    order.extend(local);
    order
}

/// Sends `request` to the best available provider, failing over and retrying within the
/// policy's deadline. The error is the last provider's (or says that none was available).
pub async fn chat(
    members: &[Guarded],
    request: &ChatRequest,
    policy: &RetryPolicy,
) -> Result<Balanced, LlmError> {
    let started = Instant::now();
    let deadline = started + policy.deadline;
    let tokens = estimated_tokens(request, 1_000);
    let mut attempts = 0;
    let mut pause = policy.pause;
    let mut last: Option<LlmError> = None;
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        for i in rank(members, now, tokens) {
            let m = &members[i];
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if !m.admit(Instant::now(), tokens) {
                continue;
            }
            attempts += 1;
            match m
                .chat_within(request, Some(left.min(policy.attempt_timeout)))
                .await
            {
                Ok(response) => {
                    return Ok(Balanced {
                        response,
                        provider: i,
                        attempts,
                    });
                }
                Err(e) if e.class == ErrorClass::InvalidRequest => return Err(e),
                Err(e) => {
                    tracing::debug!(provider = m.name(), error = %e, "attempt failed; trying the next provider");
                    last = Some(e);
                }
            }
        }
        // Every available provider failed or none was available: wait a little, or until the
        // first breaker interval ends, whichever is sooner, then rank again.
        let now = Instant::now();
        let reopen = members.iter().filter_map(|m| m.breaker().wait(now)).min();
        let wait = reopen.map_or(pause, |r| r.min(pause).max(Duration::from_millis(10)));
        if now + wait >= deadline {
            break;
        }
        tokio::time::sleep(wait).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
    Err(last.unwrap_or_else(|| LlmError {
        class: ErrorClass::Transient,
        provider: "balancer".into(),
        status: None,
        message: format!(
            "no provider available within {:.1} s (all failing, rate-limited or ejected)",
            policy.deadline.as_secs_f64()
        ),
        retry_after: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{OpenAiConfig, Secret};
    use crate::llm::breaker::BreakerConfig;
    use crate::llm::{OpenAiProvider, Provider};

    fn member(weight: f64) -> Guarded {
        let p = OpenAiProvider::new(OpenAiConfig {
            base_url: crate::config::EndpointUrl::new("http://127.0.0.1:9/v1"),
            api_key: Some(Secret::new("sk-unit")),
            model: "m".into(),
            timeout: Duration::from_secs(1),
            temperature: 0.5,
            max_tokens: 100,
            json_mode: false,
            format: Default::default(),
            input_price_per_mtok: 0.0,
            output_price_per_mtok: 0.0,
        })
        .unwrap();
        Guarded::new(Provider::OpenAi(p), BreakerConfig::default()).with_weight(weight)
    }

    fn first_choices(members: &[Guarded], n: usize) -> Vec<usize> {
        let mut firsts = vec![0; members.len()];
        for _ in 0..n {
            firsts[rank(members, Instant::now(), 0.0)[0]] += 1;
        }
        firsts
    }

    #[test]
    fn traffic_follows_the_weights() {
        let members = [member(1.0), member(1.0), member(8.0)];
        let firsts = first_choices(&members, 4_000);
        // Expected 400 / 400 / 3200; generous bounds, the draw is random.
        assert!((2_900..=3_500).contains(&firsts[2]), "{firsts:?}");
        assert!(firsts[0] > 200 && firsts[1] > 200, "{firsts:?}");
        assert_eq!(
            rank(&members, Instant::now(), 0.0).len(),
            3,
            "every one is ranked"
        );
    }

    #[test]
    fn budgets_hide_a_provider_until_they_refill() {
        let members = [member(1.0).with_limits(Some(1), None), member(1.0)];
        assert!(members[0].admit(Instant::now(), 0.0));
        for _ in 0..50 {
            assert_eq!(rank(&members, Instant::now(), 0.0), [1]);
        }
        let later = Instant::now() + Duration::from_secs(61);
        assert_eq!(rank(&members, later, 0.0).len(), 2);
    }
}
