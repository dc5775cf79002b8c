//! The Redis queue backend, for many workers on many hosts.
//!
//! Jobs live in BullMQ's data layout (`<prefix>:<queue>:wait|active|prioritized|delayed|…`, one
//! hash per job with BullMQ's field names, the `events` stream and the `marker` set), so a Node
//! BullMQ producer can enqueue jobs that blogflow runs, read their results back, and BullMQ's
//! dashboards show blogflow's queues. Every state change is one Lua script (`redis/*.lua`), so
//! it is atomic; the scripts are blogflow's own because the lease operations the worker runtime
//! needs (claim a batch, extend, finish with a retry decision, hand back, recover stalls) are
//! not all reachable through `bullmq-official`'s public API. docs/decisions.md says more.
//!
//! Time: scripts take "now" from the [`Clock`] and never read Redis time, so tests move delays
//! and backoff with a manual clock; lock expiry is Redis's own `PX`.
//!
//! The connection is a [`ConnectionManager`] created lazily: the service starts while Redis is
//! down, operations fail with [`QueueError::Backend`] until it is back, and the manager
//! reconnects by itself (scripts are re-sent after a restart, `EVALSHA` falls back to `EVAL`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, Script, ScriptInvocation};
use rand::RngExt;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

use super::{
    AddOutcome, Backoff, BatchOutcome, ClaimedJob, Clock, Counts, FailOutcome, Job, JobError,
    JobState, Lease, NewJob, Queue, QueueError, QueueEvent, Retention, Retry, StalledJob,
    SystemClock, lease_lost, ms, new_token,
};

macro_rules! script {
    ($name:literal) => {
        Script::new(concat!(
            include_str!("redis/prelude.lua"),
            include_str!("redis/state.lua"),
            include_str!(concat!("redis/", $name, ".lua"))
        ))
    };
}

/// The compiled scripts. `Script` remembers its SHA1 and loads itself on `NOSCRIPT`.
struct Scripts {
    add: Script,
    claim: Script,
    extend: Script,
    complete: Script,
    complete_batch: Script,
    fail: Script,
    release: Script,
    recover: Script,
    get: Script,
    list: Script,
    counts: Script,
    retry: Script,
    remove: Script,
    clean: Script,
    pause: Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            add: script!("add"),
            claim: script!("claim"),
            extend: script!("extend"),
            complete: script!("complete"),
            complete_batch: script!("complete_batch"),
            fail: script!("fail"),
            release: script!("release"),
            recover: script!("recover"),
            get: script!("get"),
            list: script!("list"),
            counts: script!("counts"),
            retry: script!("retry"),
            remove: script!("remove"),
            clean: script!("clean"),
            pause: script!("pause"),
        }
    }
}

/// The key names of the queue-level structures, in the order every script expects them.
const KEY_SUFFIXES: [&str; 13] = [
    "wait",
    "active",
    "prioritized",
    "delayed",
    "completed",
    "failed",
    "stalled",
    "meta",
    "events",
    "marker",
    "pc",
    "id",
    "paused",
];

/// Longest job id accepted (ids are part of Redis keys).
const MAX_ID_LEN: usize = 200;
/// Most jobs one `clean` script call deletes, so it never blocks Redis for long.
const CLEAN_BATCH: u64 = 5_000;

/// Where and how to reach Redis.
#[derive(Clone)]
pub struct RedisOptions {
    /// `redis://[:password@]host:port[/db]` or `rediss://…`. May hold a password: never log it.
    pub url: String,
    /// Key prefix (BullMQ's default is `bull`; use a hash tag such as `{bull}` for Redis Cluster).
    pub prefix: String,
}

impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOptions")
            .field("url", &redact_url(&self.url))
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// The URL with any password replaced, for logs and errors.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The Redis-backed queue. Cheap to clone.
#[derive(Clone)]
pub struct RedisQueue {
    inner: Arc<Inner>,
}

/// The shared connection. redis-rs's `ConnectionManager` starts a new connection only after an
/// I/O error; when that attempt fails otherwise (Redis answering `LOADING` while it replays its
/// AOF after a restart, a connect timeout), it keeps the failed attempt and every later command
/// fails at once, for good. So each command here has a deadline, and after a failure that is
/// about the connection rather than the command, the manager is replaced by a new one.
///
/// Connecting registers sockets with, and spawns the connection's driver on, the Tokio runtime
/// of whoever polls first. The lease keeper polls from a thread whose runtime has timers only
/// (see `queue::worker`), where connecting panics; so every command runs with the runtime that
/// created the queue entered, and connections always belong to it.
struct Conn {
    client: Client,
    config: ConnectionManagerConfig,
    current: std::sync::Mutex<ConnectionManager>,
    runtime: Option<tokio::runtime::Handle>,
}

/// Polls `inner` with `runtime` entered, so that sockets, timers and tasks it creates belong to
/// that runtime whichever thread polls.
struct OnRuntime<'a, F> {
    runtime: Option<&'a tokio::runtime::Handle>,
    inner: std::pin::Pin<Box<F>>,
}

impl<F: std::future::Future> std::future::Future for OnRuntime<'_, F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let _entered = self.runtime.map(tokio::runtime::Handle::enter);
        self.inner.as_mut().poll(cx)
    }
}

/// The longest any one command (connecting included) may take before it counts as failed.
const COMMAND_DEADLINE: Duration = Duration::from_secs(10);

impl Conn {
    fn new(client: Client) -> Result<Self, ::redis::RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(8)))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(1));
        let runtime = tokio::runtime::Handle::try_current().ok();
        let current = {
            let _entered = runtime.as_ref().map(tokio::runtime::Handle::enter);
            ConnectionManager::new_lazy_with_config(client.clone(), config.clone())?
        };
        Ok(Self {
            client,
            config,
            current: std::sync::Mutex::new(current),
            runtime,
        })
    }

    /// Runs `f` on the connection within [`COMMAND_DEADLINE`]; renews the connection after a
    /// connection-level failure.
    async fn with<T, F, Fut>(&self, f: F) -> Result<T, QueueError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = Result<T, ::redis::RedisError>>,
    {
        let conn = self.current.lock().expect("redis connection").clone();
        let command = OnRuntime {
            runtime: self.runtime.as_ref(),
            inner: Box::pin(f(conn)),
        };
        match tokio::time::timeout(COMMAND_DEADLINE, command).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if about_the_connection(&e) {
                    self.renew();
                }
                Err(backend(e))
            }
            Err(_) => {
                self.renew();
                Err(QueueError::Backend(format!(
                    "redis: no answer within {} s",
                    COMMAND_DEADLINE.as_secs()
                )))
            }
        }
    }

    fn renew(&self) {
        let _entered = self.runtime.as_ref().map(tokio::runtime::Handle::enter);
        match ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone()) {
            Ok(fresh) => *self.current.lock().expect("redis connection") = fresh,
            Err(e) => tracing::warn!(error = %e, "cannot renew the Redis connection"),
        }
    }
}

/// Failures of the connection (or of a server that cannot serve yet), not of the command.
fn about_the_connection(e: &::redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || matches!(
            e.kind(),
            ::redis::ErrorKind::Server(
                ::redis::ServerErrorKind::BusyLoading
                    | ::redis::ServerErrorKind::MasterDown
                    | ::redis::ServerErrorKind::ReadOnly
            )
        )
}

struct Inner {
    client: Client,
    conn: Conn,
    /// Queues whose BullMQ marker a listener task watches (see [`listen_for_markers`]).
    listening: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Stops the listener tasks when the last clone of the queue is dropped.
    stop: tokio_util::sync::CancellationToken,
    prefix: String,
    display: String,
    clock: Arc<dyn Clock>,
    scripts: Scripts,
    events: broadcast::Sender<QueueEvent>,
    work: Arc<watch::Sender<u64>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("server", &self.inner.display)
            .field("prefix", &self.inner.prefix)
            .finish()
    }
}

fn backend(e: ::redis::RedisError) -> QueueError {
    // Redis errors name the command and the server's message, never the URL or password.
    QueueError::Backend(format!("redis: {e}"))
}

impl RedisQueue {
    /// A queue on the server at `options.url`. Does not connect yet: the first operation does,
    /// and later ones reconnect after a lost connection.
    pub fn new(options: &RedisOptions) -> Result<Self, QueueError> {
        Self::with_clock(options, Arc::new(SystemClock))
    }

    /// Like [`RedisQueue::new`] with an injected clock (tests).
    pub fn with_clock(options: &RedisOptions, clock: Arc<dyn Clock>) -> Result<Self, QueueError> {
        let client = Client::open(options.url.as_str()).map_err(|e| {
            QueueError::Invalid(format!(
                "REDIS_URL {} is not a valid Redis URL ({e}); expected redis://[:password@]host:port[/db]",
                redact_url(&options.url)
            ))
        })?;
        if options.prefix.is_empty() || options.prefix.contains(char::is_whitespace) {
            return Err(QueueError::Invalid(format!(
                "the Redis key prefix {:?} must be non-empty and without spaces",
                options.prefix
            )));
        }
        let conn = Conn::new(client.clone()).map_err(backend)?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                conn,
                listening: Default::default(),
                stop: Default::default(),
                prefix: options.prefix.clone(),
                display: redact_url(&options.url),
                clock,
                scripts: Scripts::new(),
                events: broadcast::channel(1024).0,
                work: Arc::new(watch::channel(0).0),
            }),
        })
    }

    /// The server, password redacted.
    pub fn server(&self) -> &str {
        &self.inner.display
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Round trip to the server.
    pub async fn ping(&self) -> Result<Duration, QueueError> {
        let started = std::time::Instant::now();
        let _: String = self
            .inner
            .conn
            .with(|mut c| async move { ::redis::cmd("PING").query_async(&mut c).await })
            .await?;
        Ok(started.elapsed())
    }

    /// The server's `maxmemory-policy`. Anything but `noeviction` lets Redis drop jobs under
    /// memory pressure.
    pub async fn maxmemory_policy(&self) -> Result<String, QueueError> {
        let v: Vec<String> = self
            .inner
            .conn
            .with(|mut c| async move {
                ::redis::cmd("CONFIG")
                    .arg("GET")
                    .arg("maxmemory-policy")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(v.get(1).cloned().unwrap_or_default())
    }

    /// The most recent entries of the queue's BullMQ event stream (every process's events),
    /// newest first, as `{id, event, jobId, …}` objects.
    pub async fn recent_events(&self, queue: &str, count: usize) -> Result<Vec<Value>, QueueError> {
        let key = format!("{}:{}:events", self.inner.prefix, queue);
        let reply: ::redis::streams::StreamRangeReply = self
            .inner
            .conn
            .with(|mut c| async move {
                ::redis::cmd("XREVRANGE")
                    .arg(&key)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(count)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(reply
            .ids
            .into_iter()
            .map(|entry| {
                let mut obj = serde_json::Map::new();
                let at = entry
                    .id
                    .split('-')
                    .next()
                    .and_then(|t| t.parse::<i64>().ok());
                obj.insert("at".into(), at.map_or(Value::Null, Value::from));
                for (k, v) in &entry.map {
                    if let Ok(s) = ::redis::from_redis_value_ref::<String>(v) {
                        obj.insert(k.clone(), Value::String(s));
                    }
                }
                Value::Object(obj)
            })
            .collect())
    }

    fn invocation<'a>(&self, script: &'a Script, queue: &str) -> ScriptInvocation<'a> {
        let mut inv = script.prepare_invoke();
        for suffix in KEY_SUFFIXES {
            inv.key(format!("{}:{}:{}", self.inner.prefix, queue, suffix));
        }
        inv.arg(format!("{}:{}:", self.inner.prefix, queue))
            .arg(self.inner.clock.now_ms());
        inv
    }

    async fn run<T: ::redis::FromRedisValue>(
        &self,
        inv: &ScriptInvocation<'_>,
    ) -> Result<T, QueueError> {
        self.inner
            .conn
            .with(|mut c| async move { inv.invoke_async(&mut c).await })
            .await
    }

    fn emit(&self, event: QueueEvent) {
        let _ = self.inner.events.send(event);
    }

    /// Completes `lease`'s job and, with `next`, claims the next ready job in the same script.
    async fn finish(
        &self,
        lease: &Lease,
        result: Value,
        next: Option<Duration>,
    ) -> Result<Option<ClaimedJob>, QueueError> {
        let token = new_token();
        let mut inv = self.invocation(&self.inner.scripts.complete, &lease.queue);
        inv.arg(&lease.job_id)
            .arg(&lease.token)
            .arg(result.to_string());
        if let Some(next) = next {
            self.watch_markers(&lease.queue);
            inv.arg("1").arg(&token).arg(ms(next).max(1));
        }
        let (code, rows): (i64, Vec<ClaimRow>) = self.run(&inv).await?;
        if code != 0 {
            return Err(lease_lost(lease));
        }
        self.emit(QueueEvent::Completed {
            queue: lease.queue.clone(),
            job_id: lease.job_id.clone(),
        });
        Ok(self.claimed(&lease.queue, &token, rows).pop())
    }

    fn claimed(&self, queue: &str, token: &str, rows: Vec<ClaimRow>) -> Vec<ClaimedJob> {
        rows.into_iter()
            .map(|(id, name, data, opts, atm, priority)| {
                let opts: Value = serde_json::from_str(&opts).unwrap_or(Value::Null);
                self.emit(QueueEvent::Active {
                    queue: queue.to_owned(),
                    job_id: id.clone(),
                });
                ClaimedJob {
                    lease: Lease {
                        queue: queue.to_owned(),
                        job_id: id,
                        token: token.to_owned(),
                    },
                    name,
                    payload: serde_json::from_str(&data).unwrap_or(Value::String(data)),
                    attempt: atm + 1,
                    max_attempts: max_attempts(&opts),
                    priority,
                }
            })
            .collect()
    }

    /// Starts watching `queue`'s marker, once per queue, so that jobs added by other processes
    /// wake this process's workers at once rather than at their next poll.
    fn watch_markers(&self, queue: &str) {
        let mut listening = self.inner.listening.lock().expect("listener set");
        if listening.contains(queue) || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        listening.insert(queue.to_owned());
        tokio::spawn(listen_for_markers(
            self.inner.client.clone(),
            format!("{}:{}:marker", self.inner.prefix, queue),
            self.inner.work.clone(),
            self.inner.clock.clone(),
            self.inner.stop.clone(),
        ));
    }

    fn signal_work(&self) {
        self.inner.work.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Blocks on BullMQ's marker set (`BZPOPMIN`, on a connection of its own so that the blocking
/// call holds up nothing else) and bumps the work signal for every marker: score 0 means jobs
/// are ready, a timestamp means a delayed job comes due then. Markers are shared wake-ups, as
/// in BullMQ: whoever pops one claims, and a claim that leaves jobs behind sets it again.
async fn listen_for_markers(
    client: Client,
    marker: String,
    work: Arc<watch::Sender<u64>>,
    clock: Arc<dyn Clock>,
    stop: tokio_util::sync::CancellationToken,
) {
    let bump = {
        let work = work.clone();
        move || work.send_modify(|n| *n = n.wrapping_add(1))
    };
    let mut backoff = Duration::from_millis(200);
    while !stop.is_cancelled() {
        let config = ::redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(None);
        let mut conn = tokio::select! {
            _ = stop.cancelled() => return,
            c = client.get_multiplexed_async_connection_with_config(&config) => match c {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(error = %e, "marker listener cannot connect; retrying");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
        };
        backoff = Duration::from_millis(200);
        // Reconnected after an outage: jobs may be waiting.
        bump();
        let mut pop = ::redis::cmd("BZPOPMIN");
        pop.arg(&marker).arg(2);
        loop {
            let popped: Result<Option<(String, String, f64)>, _> = tokio::select! {
                _ = stop.cancelled() => return,
                r = pop.query_async(&mut conn) => r,
            };
            match popped {
                Ok(None) => {}
                Ok(Some((_, _, score))) => {
                    let due_in = score as i64 - clock.now_ms();
                    if due_in <= 0 {
                        bump();
                    } else {
                        let (work, stop) = (work.clone(), stop.clone());
                        let wait =
                            Duration::from_millis(due_in as u64).min(Duration::from_secs(60));
                        tokio::spawn(async move {
                            tokio::select! {
                                _ = stop.cancelled() => {}
                                _ = tokio::time::sleep(wait) => work.send_modify(|n| *n = n.wrapping_add(1)),
                            }
                        });
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "marker listener lost its connection");
                    break;
                }
            }
        }
    }
}

fn validate(job: &NewJob) -> Result<(), QueueError> {
    super::validate_new_job(job)?;
    if let Some(id) = &job.id
        && id.len() > MAX_ID_LEN
    {
        return Err(QueueError::Invalid(format!(
            "job id is {} bytes long; at most {MAX_ID_LEN} are allowed",
            id.len()
        )));
    }
    Ok(())
}

/// The job's options as BullMQ stores them (`opts` field), plus blogflow's `backoff.maxDelay`.
fn bullmq_opts(job: &NewJob) -> Value {
    let backoff = match job.options.backoff {
        Backoff::Fixed { delay_ms } => json!({ "type": "fixed", "delay": delay_ms }),
        Backoff::Exponential {
            base_ms,
            max_ms,
            jitter,
        } => {
            json!({ "type": "exponential", "delay": base_ms, "jitter": jitter, "maxDelay": max_ms })
        }
    };
    json!({
        "attempts": job.options.attempts,
        "backoff": backoff,
        "delay": ms(job.options.delay),
        "priority": job.options.priority,
    })
}

/// A stored JSON field; BullMQ producers in other languages store what they like, so anything
/// that is not JSON is kept as a string rather than refused.
fn json_field(raw: Option<&String>) -> Option<Value> {
    raw.map(|s| serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())))
}

fn num<T: std::str::FromStr>(fields: &HashMap<String, String>, name: &str) -> Option<T> {
    fields.get(name).and_then(|v| v.parse().ok())
}

/// `opts.attempts` of a stored job (BullMQ: absent or 0 means one attempt).
fn max_attempts(opts: &Value) -> u32 {
    opts.get("attempts")
        .and_then(Value::as_u64)
        .map_or(1, |n| n.clamp(1, u64::from(u32::MAX)) as u32)
}

type Record = (String, String, HashMap<String, String>, i64);
/// `{id, name, data, opts, attemptsMade, priority}` of a claimed job.
type ClaimRow = (String, String, String, String, u32, i32);

fn job_from_record(queue: &str, (id, state, fields, run_at): Record) -> Job {
    let state = JobState::parse(&state).unwrap_or(JobState::Waiting);
    let opts = json_field(fields.get("opts")).unwrap_or(Value::Null);
    let created_at: i64 = num(&fields, "timestamp").unwrap_or(0);
    let atm: u32 = num(&fields, "atm").unwrap_or(0);
    Job {
        queue: queue.to_owned(),
        name: fields.get("name").cloned().unwrap_or_default(),
        payload: json_field(fields.get("data")).unwrap_or(Value::Null),
        state,
        priority: num(&fields, "priority").unwrap_or(0),
        // BullMQ counts the completing attempt in `atm`; blogflow counts failed ones.
        attempts_made: if state == JobState::Completed {
            atm.saturating_sub(1)
        } else {
            atm
        },
        attempts_started: num(&fields, "ats").unwrap_or(0),
        max_attempts: max_attempts(&opts),
        stalled_count: num(&fields, "stc").unwrap_or(0),
        created_at,
        run_at: if run_at >= 0 { run_at } else { created_at },
        started_at: num(&fields, "processedOn"),
        finished_at: num(&fields, "finishedOn"),
        last_error: fields.get("failedReason").cloned(),
        result: json_field(fields.get("returnvalue")),
        id,
    }
}

impl Queue for RedisQueue {
    async fn add(&self, queue: &str, job: NewJob) -> Result<AddOutcome, QueueError> {
        validate(&job)?;
        let mut inv = self.invocation(&self.inner.scripts.add, queue);
        inv.arg(job.id.as_deref().unwrap_or(""))
            .arg(&job.name)
            .arg(job.payload.to_string())
            .arg(bullmq_opts(&job).to_string())
            .arg(ms(job.options.delay))
            .arg(job.options.priority);
        let (added, id): (i64, String) = self.run(&inv).await?;
        if added == 0 {
            return Ok(AddOutcome::Duplicate(id));
        }
        self.emit(QueueEvent::Added {
            queue: queue.to_owned(),
            job_id: id.clone(),
        });
        self.signal_work();
        Ok(AddOutcome::Added(id))
    }

    async fn claim(
        &self,
        queue: &str,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedJob>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        self.watch_markers(queue);
        let token = new_token();
        let mut inv = self.invocation(&self.inner.scripts.claim, queue);
        inv.arg(&token).arg(ms(lease).max(1)).arg(max);
        let rows: Vec<ClaimRow> = self.run(&inv).await?;
        Ok(self.claimed(queue, &token, rows))
    }

    async fn extend(&self, leases: Vec<Lease>, lease: Duration) -> Result<Vec<bool>, QueueError> {
        let mut held = vec![false; leases.len()];
        let mut by_queue: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, l) in leases.iter().enumerate() {
            by_queue.entry(l.queue.as_str()).or_default().push(i);
        }
        for (queue, idx) in by_queue {
            let mut inv = self.invocation(&self.inner.scripts.extend, queue);
            inv.arg(ms(lease).max(1));
            for &i in &idx {
                inv.arg(&leases[i].job_id).arg(&leases[i].token);
            }
            let got: Vec<i64> = self.run(&inv).await?;
            for (&i, ok) in idx.iter().zip(got) {
                held[i] = ok == 1;
            }
        }
        Ok(held)
    }

    async fn complete(&self, lease: &Lease, result: Value) -> Result<(), QueueError> {
        self.finish(lease, result, None).await.map(drop)
    }

    async fn complete_and_claim(
        &self,
        lease: &Lease,
        result: Value,
        next_lease: Duration,
    ) -> Result<Option<ClaimedJob>, QueueError> {
        self.finish(lease, result, Some(next_lease)).await
    }

    async fn complete_batch(
        &self,
        queue: &str,
        done: Vec<(Lease, Value)>,
        next_lease: Duration,
        want: usize,
    ) -> Result<BatchOutcome, QueueError> {
        if want > 0 {
            self.watch_markers(queue);
        }
        let token = new_token();
        let mut inv = self.invocation(&self.inner.scripts.complete_batch, queue);
        inv.arg(done.len());
        for (lease, result) in &done {
            inv.arg(&lease.job_id)
                .arg(&lease.token)
                .arg(result.to_string());
        }
        inv.arg(want).arg(&token).arg(ms(next_lease).max(1));
        let (codes, rows): (Vec<i64>, Vec<ClaimRow>) = self.run(&inv).await?;
        let outcomes = done
            .iter()
            .zip(codes)
            .map(|((lease, _), code)| {
                if code == 0 {
                    self.emit(QueueEvent::Completed {
                        queue: lease.queue.clone(),
                        job_id: lease.job_id.clone(),
                    });
                    Ok(())
                } else {
                    Err(lease_lost(lease))
                }
            })
            .collect();
        Ok((outcomes, self.claimed(queue, &token, rows)))
    }

    async fn fail(&self, lease: &Lease, error: &JobError) -> Result<FailOutcome, QueueError> {
        let (mode, after) = match error.retry {
            Retry::Never => ("never", 0),
            Retry::Backoff => ("backoff", 0),
            Retry::After(d) => ("after", ms(d)),
            Retry::Wait(d) => ("wait", ms(d)),
        };
        let unit: f64 = rand::rng().random();
        let mut inv = self.invocation(&self.inner.scripts.fail, &lease.queue);
        inv.arg(&lease.job_id)
            .arg(&lease.token)
            .arg(&error.message)
            .arg(mode)
            .arg(after)
            .arg(unit);
        let reply: Vec<i64> = self.run(&inv).await?;
        let outcome = match reply.as_slice() {
            [1, run_at] => FailOutcome::Retrying { run_at: *run_at },
            [0] => FailOutcome::Dead,
            _ => return Err(lease_lost(lease)),
        };
        let dead = outcome == FailOutcome::Dead;
        self.emit(QueueEvent::Failed {
            queue: lease.queue.clone(),
            job_id: lease.job_id.clone(),
            dead,
        });
        if !dead {
            self.signal_work();
        }
        Ok(outcome)
    }

    async fn release(&self, lease: &Lease) -> Result<(), QueueError> {
        let mut inv = self.invocation(&self.inner.scripts.release, &lease.queue);
        inv.arg(&lease.job_id).arg(&lease.token);
        let code: i64 = self.run(&inv).await?;
        if code != 0 {
            return Err(lease_lost(lease));
        }
        self.signal_work();
        Ok(())
    }

    async fn recover_stalled(
        &self,
        queue: &str,
        max_stalled: u32,
    ) -> Result<Vec<StalledJob>, QueueError> {
        let mut inv = self.invocation(&self.inner.scripts.recover, queue);
        inv.arg(max_stalled);
        let rows: Vec<(String, i64)> = self.run(&inv).await?;
        let stalled: Vec<StalledJob> = rows
            .into_iter()
            .map(|(job_id, requeued)| StalledJob {
                job_id,
                requeued: requeued == 1,
            })
            .collect();
        for s in &stalled {
            self.emit(QueueEvent::Stalled {
                queue: queue.to_owned(),
                job_id: s.job_id.clone(),
                requeued: s.requeued,
            });
        }
        if stalled.iter().any(|s| s.requeued) {
            self.signal_work();
        }
        Ok(stalled)
    }

    async fn pause(&self, queue: &str) -> Result<(), QueueError> {
        let mut inv = self.invocation(&self.inner.scripts.pause, queue);
        inv.arg("paused");
        self.run::<i64>(&inv).await.map(drop)
    }

    async fn resume(&self, queue: &str) -> Result<(), QueueError> {
        let mut inv = self.invocation(&self.inner.scripts.pause, queue);
        inv.arg("resumed");
        self.run::<i64>(&inv).await?;
        self.signal_work();
        Ok(())
    }

    async fn is_paused(&self, queue: &str) -> Result<bool, QueueError> {
        let key = format!("{}:{}:meta", self.inner.prefix, queue);
        self.inner
            .conn
            .with(|mut c| async move {
                ::redis::cmd("HEXISTS")
                    .arg(&key)
                    .arg("paused")
                    .query_async(&mut c)
                    .await
            })
            .await
    }

    async fn counts(&self, queue: &str) -> Result<Counts, QueueError> {
        let inv = self.invocation(&self.inner.scripts.counts, queue);
        let (waiting, delayed, active, completed, failed) = self.run(&inv).await?;
        Ok(Counts {
            waiting,
            delayed,
            active,
            completed,
            failed,
        })
    }

    async fn get(&self, queue: &str, job_id: &str) -> Result<Option<Job>, QueueError> {
        let mut inv = self.invocation(&self.inner.scripts.get, queue);
        inv.arg(job_id);
        let record: Option<Record> = self.run(&inv).await?;
        Ok(record.map(|r| job_from_record(queue, r)))
    }

    async fn list(
        &self,
        queue: &str,
        state: JobState,
        limit: usize,
    ) -> Result<Vec<Job>, QueueError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut inv = self.invocation(&self.inner.scripts.list, queue);
        inv.arg(state.as_str()).arg(limit);
        let records: Vec<Record> = self.run(&inv).await?;
        Ok(records
            .into_iter()
            .map(|r| job_from_record(queue, r))
            .filter(|j| j.state == state)
            .collect())
    }

    async fn retry(&self, queue: &str, job_id: &str) -> Result<(), QueueError> {
        let mut inv = self.invocation(&self.inner.scripts.retry, queue);
        inv.arg(job_id);
        let reply: String = self.run(&inv).await?;
        match reply.as_str() {
            "ok" => {
                self.signal_work();
                Ok(())
            }
            "missing" => Err(QueueError::NotFound {
                queue: queue.to_owned(),
                job_id: job_id.to_owned(),
            }),
            other => Err(QueueError::WrongState {
                job_id: job_id.to_owned(),
                state: JobState::parse(other).map_or("unknown", JobState::as_str),
                action: "retry",
                needs: "failed",
            }),
        }
    }

    async fn remove(&self, queue: &str, job_id: &str) -> Result<bool, QueueError> {
        let mut inv = self.invocation(&self.inner.scripts.remove, queue);
        inv.arg(job_id);
        match self.run::<i64>(&inv).await? {
            -1 => Err(QueueError::WrongState {
                job_id: job_id.to_owned(),
                state: "active",
                action: "remove",
                needs: "any state but active",
            }),
            n => Ok(n == 1),
        }
    }

    async fn clean(
        &self,
        queue: &str,
        completed: Retention,
        failed: Retention,
    ) -> Result<u64, QueueError> {
        let mut total = 0;
        loop {
            let mut inv = self.invocation(&self.inner.scripts.clean, queue);
            inv.arg(completed.keep)
                .arg(ms(completed.max_age))
                .arg(failed.keep)
                .arg(ms(failed.max_age))
                .arg(CLEAN_BATCH);
            let removed: u64 = self.run(&inv).await?;
            total += removed;
            if removed < CLEAN_BATCH {
                return Ok(total);
            }
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<QueueEvent> {
        self.inner.events.subscribe()
    }

    fn work_signal(&self) -> watch::Receiver<u64> {
        self.inner.work.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_the_display_form() {
        assert_eq!(
            redact_url("redis://:s3cret@10.0.0.1:6379/0"),
            "redis://***@10.0.0.1:6379/0"
        );
        assert_eq!(
            redact_url("rediss://user:pw@host:6380"),
            "rediss://***@host:6380"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        let opts = RedisOptions {
            url: "redis://:hunter2@h:1".into(),
            prefix: "bull".into(),
        };
        assert!(!format!("{opts:?}").contains("hunter2"));
    }

    #[test]
    fn exponential_backoff_is_stored_in_bullmq_shape() {
        let job = NewJob::new("x", json!({})).with_options(super::super::JobOptions {
            attempts: 3,
            backoff: Backoff::Exponential {
                base_ms: 1000,
                max_ms: 8000,
                jitter: 0.5,
            },
            ..Default::default()
        });
        let o = bullmq_opts(&job);
        assert_eq!(o["attempts"], 3);
        assert_eq!(
            o["backoff"],
            json!({"type": "exponential", "delay": 1000, "jitter": 0.5, "maxDelay": 8000})
        );
    }
}
