//! The load balancer against fake provider servers speaking the OpenAI wire format: failover
//! nobody notices, breakers that trip and recover, rate limits that eject only for their
//! `Retry-After`, auth errors that alert once, invalid requests never retried, and a chaos mix.

mod support;

use std::sync::Arc;
use std::time::Duration;

use blogflow::config::{OpenAiConfig, Secret};
use blogflow::llm::balancer::{self, RetryPolicy};
use blogflow::llm::breaker::{BreakerConfig, Guarded};
use blogflow::llm::{ChatRequest, ErrorClass, OpenAiProvider, Provider};
use support::{FakeOpenAi, Reply};
use tokio::time::Instant;

fn member(fake: &FakeOpenAi, timeout: Duration, breaker: BreakerConfig) -> Guarded {
    let provider = OpenAiProvider::new(OpenAiConfig {
        base_url: blogflow::config::EndpointUrl::new(fake.base_url.clone()),
        api_key: Some(Secret::new("sk-balancer-test-key")),
        model: "fake-model".into(),
        timeout,
        temperature: 0.5,
        max_tokens: 500,
        json_mode: false,
        format: Default::default(),
        input_price_per_mtok: 1.0,
        output_price_per_mtok: 2.0,
    })
    .unwrap();
    Guarded::new(Provider::OpenAi(provider), breaker)
}

fn request() -> ChatRequest {
    ChatRequest {
        system: "You write posts.".into(),
        user: "Write about RAG.".into(),
        max_tokens: None,
    }
}

fn fast_breaker() -> BreakerConfig {
    BreakerConfig {
        window: Duration::from_secs(10),
        min_volume: 5,
        failure_rate: 0.5,
        open_base: Duration::from_millis(300),
        open_max: Duration::from_secs(2),
        trials: 1,
        rate_limit_default: Duration::from_secs(1),
        rate_limit_max: Duration::from_secs(900),
    }
}

fn server_error() -> Reply {
    Reply::Error {
        status: 500,
        code: "server_error",
        message: "boom",
        retry_after: None,
    }
}

/// Runs `n` balanced requests, `parallel` at a time; returns how many failed.
async fn run(members: &Arc<Vec<Guarded>>, n: usize, parallel: usize, policy: RetryPolicy) -> usize {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let failed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut lanes = tokio::task::JoinSet::new();
    for _ in 0..parallel {
        let (members, next, failed) = (members.clone(), next.clone(), failed.clone());
        lanes.spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                if balancer::chat(&members, &request(), &policy).await.is_err() {
                    failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
    }
    while lanes.join_next().await.is_some() {}
    failed.load(std::sync::atomic::Ordering::Relaxed)
}

#[tokio::test]
async fn a_provider_failing_every_request_is_invisible_to_callers_and_recovers_through_half_open() {
    let fakes = [
        FakeOpenAi::start().await,
        FakeOpenAi::start().await,
        FakeOpenAi::start().await,
    ];
    fakes[0].set_default(server_error());
    let members: Arc<Vec<Guarded>> = Arc::new(
        fakes
            .iter()
            .map(|f| member(f, Duration::from_secs(5), fast_breaker()))
            .collect(),
    );
    const CALLERS: usize = 10;
    let started = Instant::now();
    let failed = run(&members, 1_000, CALLERS, RetryPolicy::default()).await;
    let elapsed = started.elapsed();
    assert_eq!(failed, 0, "no caller saw a failure");
    let bad = fakes[0].requests();
    // Before opening: `min_volume` failures, plus what the other callers had already sent
    // when the breaker opened (one request each at most); then one half-open trial per
    // interval, the interval doubling from 300 ms.
    let intervals = (elapsed.as_millis() / 300) as usize + 1;
    let in_flight = CALLERS - 1;
    println!(
        "1000 requests in {elapsed:?}; the failing provider got {bad}, the others {} and {}",
        fakes[1].requests(),
        fakes[2].requests()
    );
    assert!(
        bad <= 5 + in_flight + intervals,
        "{bad} requests to the failing provider"
    );
    assert!(members[0].alerts_raised() >= 1, "opening is announced");
    assert_eq!(members[0].breaker().snapshot(Instant::now()).state, "open");

    // Healthy again: the next half-open trial succeeds and closes the breaker.
    fakes[0].set_default(Reply::Post);
    let before = fakes[0].requests();
    let deadline = Instant::now() + Duration::from_secs(10);
    while members[0].breaker().snapshot(Instant::now()).state != "closed" {
        assert!(Instant::now() < deadline, "never recovered");
        assert_eq!(run(&members, 20, 2, RetryPolicy::default()).await, 0);
    }
    assert!(fakes[0].requests() > before);
    let shares = members[0].observed();
    assert!(shares.success > 0.0 && shares.in_flight == 0, "{shares:?}");
}

#[tokio::test]
async fn a_429_with_retry_after_2_ejects_for_2_seconds_only() {
    let (a, b) = (FakeOpenAi::start().await, FakeOpenAi::start().await);
    let too_many = Reply::Error {
        status: 429,
        code: "rate_limit_exceeded",
        message: "slow down",
        retry_after: Some("2"),
    };
    // B allows one request per minute and has spent it, so A is the only choice.
    let members = vec![
        member(&a, Duration::from_secs(5), fast_breaker()),
        member(&b, Duration::from_secs(5), fast_breaker()).with_limits(Some(1), None),
    ];
    assert!(members[1].admit(Instant::now(), 0.0));

    // The breaker's view right after the 429, at explicit instants.
    a.script([too_many.clone()]);
    let e = members[0].chat_within(&request(), None).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::RateLimited);
    let now = Instant::now();
    assert_eq!(members[0].breaker().snapshot(now).state, "rate_limited");
    assert!(!members[0].available(now + Duration::from_millis(1_800), 0.0));
    assert!(members[0].available(now + Duration::from_millis(2_100), 0.0));
    assert_eq!(members[0].alerts_raised(), 0, "a 429 is not an alert");

    // Through the balancer: the request waits out the 2 s and is answered by A.
    a.script([too_many]);
    let policy = RetryPolicy {
        deadline: Duration::from_secs(8),
        ..RetryPolicy::default()
    };
    tokio::time::sleep_until(now + Duration::from_millis(2_100)).await;
    let started = Instant::now();
    let answer = balancer::chat(&members, &request(), &policy).await.unwrap();
    let waited = started.elapsed();
    println!("waited {waited:?} for Retry-After: 2");
    assert_eq!((answer.provider, answer.attempts), (0, 2));
    assert_eq!(b.requests(), 0);
    assert!(waited >= Duration::from_millis(1_900), "{waited:?}");
    assert!(
        waited < Duration::from_secs(4),
        "ejected for 2 s only: {waited:?}"
    );
}

#[tokio::test]
async fn a_401_ejects_the_provider_and_raises_one_alert_not_one_per_request() {
    let (a, b) = (FakeOpenAi::start().await, FakeOpenAi::start().await);
    a.set_default(Reply::Error {
        status: 401,
        code: "invalid_api_key",
        message: "Incorrect API key provided",
        retry_after: None,
    });
    let members: Arc<Vec<Guarded>> = Arc::new(vec![
        member(&a, Duration::from_secs(5), fast_breaker()),
        member(&b, Duration::from_secs(5), fast_breaker()),
    ]);
    assert_eq!(run(&members, 100, 4, RetryPolicy::default()).await, 0);
    assert!(a.requests() <= 4, "{} requests after the 401", a.requests());
    assert_eq!(members[0].alerts_raised(), 1);
    assert_eq!(
        members[0].breaker().snapshot(Instant::now()).state,
        "ejected"
    );
    assert!(!members[0].available(Instant::now() + Duration::from_secs(3600), 0.0));
    // The key fixed (a health check passes): back in rotation, announced once more.
    a.set_default(Reply::Post);
    members[0].health_passed();
    assert_eq!(members[0].alerts_raised(), 2);
    assert!(members[0].available(Instant::now(), 0.0));
}

#[tokio::test]
async fn a_400_is_never_retried_and_never_opens_a_breaker() {
    let (a, b) = (FakeOpenAi::start().await, FakeOpenAi::start().await);
    let bad_request = Reply::Error {
        status: 400,
        code: "invalid_request_error",
        message: "max_tokens is too large",
        retry_after: None,
    };
    a.set_default(bad_request.clone());
    b.set_default(bad_request);
    let members = vec![
        member(&a, Duration::from_secs(5), fast_breaker()),
        member(&b, Duration::from_secs(5), fast_breaker()),
    ];
    for _ in 0..20 {
        let e = balancer::chat(&members, &request(), &RetryPolicy::default())
            .await
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::InvalidRequest);
    }
    assert_eq!(a.requests() + b.requests(), 20, "one attempt per request");
    for m in &members {
        assert_eq!(m.breaker().snapshot(Instant::now()).state, "closed");
    }
}

#[tokio::test]
async fn per_minute_budgets_spread_requests_over_providers() {
    let (a, b) = (FakeOpenAi::start().await, FakeOpenAi::start().await);
    let members = vec![
        member(&a, Duration::from_secs(5), fast_breaker()).with_limits(Some(3), None),
        member(&b, Duration::from_secs(5), fast_breaker()).with_limits(None, Some(100_000)),
    ];
    for _ in 0..10 {
        balancer::chat(&members, &request(), &RetryPolicy::default())
            .await
            .unwrap();
    }
    assert!(
        a.requests() <= 3,
        "A's 3 requests per minute: {}",
        a.requests()
    );
    assert_eq!(a.requests() + b.requests(), 10);
}

#[tokio::test]
async fn under_the_chaos_mix_at_least_999_of_1000_requests_succeed_within_their_deadline() {
    let chaos = Reply::Chaos {
        p500: 0.30,
        phang: 0.10,
        p429: 0.05,
    };
    let fakes = [
        FakeOpenAi::start().await,
        FakeOpenAi::start().await,
        FakeOpenAi::start().await,
    ];
    for f in &fakes {
        f.set_default(chaos.clone());
    }
    // A breaker that does not open on this mix (30–45 % failures per provider is the weather
    // here, and opening all three would only add waiting).
    let breaker = BreakerConfig {
        failure_rate: 0.8,
        ..fast_breaker()
    };
    let members: Arc<Vec<Guarded>> = Arc::new(
        fakes
            .iter()
            .map(|f| member(f, Duration::from_secs(30), breaker))
            .collect(),
    );
    let policy = RetryPolicy {
        deadline: Duration::from_secs(10),
        attempt_timeout: Duration::from_millis(250),
        pause: Duration::from_millis(50),
    };
    let n = 2_000;
    let started = Instant::now();
    let failed = run(&members, n, 50, policy).await;
    let rate = 1.0 - failed as f64 / n as f64;
    let sent: usize = fakes.iter().map(FakeOpenAi::requests).sum();
    println!(
        "chaos: {n} requests, {failed} failed ({:.2} % succeeded), {sent} provider calls, {:?}",
        rate * 100.0,
        started.elapsed()
    );
    assert!(rate >= 0.999, "{failed} of {n} failed");
}
