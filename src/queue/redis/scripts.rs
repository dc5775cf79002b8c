//! The Lua scripts (one per operation, loaded once, run by SHA) and the keys they touch.

use super::*;

macro_rules! script {
    ($name:literal) => {
        Script::new(concat!(
            include_str!("prelude.lua"),
            include_str!("state.lua"),
            include_str!(concat!($name, ".lua"))
        ))
    };
}

use super::super::QueueError;
use ::redis::{Script, ScriptInvocation};

impl RedisQueue {
    pub(super) fn invocation<'a>(&self, script: &'a Script, queue: &str) -> ScriptInvocation<'a> {
        let mut inv = script.prepare_invoke();
        for suffix in KEY_SUFFIXES {
            inv.key(format!("{}:{}:{}", self.inner.prefix, queue, suffix));
        }
        inv.arg(format!("{}:{}:", self.inner.prefix, queue))
            .arg(self.inner.clock.now_ms());
        inv
    }

    pub(super) async fn run<T: ::redis::FromRedisValue>(
        &self,
        inv: &ScriptInvocation<'_>,
    ) -> Result<T, QueueError> {
        self.inner
            .conn
            .with(|mut c| async move { inv.invoke_async(&mut c).await })
            .await
    }
}

/// The compiled scripts. `Script` remembers its SHA1 and loads itself on `NOSCRIPT`.
pub(super) struct Scripts {
    pub(super) add: Script,
    pub(super) claim: Script,
    pub(super) extend: Script,
    pub(super) complete: Script,
    pub(super) complete_batch: Script,
    pub(super) fail: Script,
    pub(super) release: Script,
    pub(super) recover: Script,
    pub(super) get: Script,
    pub(super) list: Script,
    pub(super) counts: Script,
    pub(super) retry: Script,
    pub(super) remove: Script,
    pub(super) clean: Script,
    pub(super) pause: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
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
pub(super) const KEY_SUFFIXES: [&str; 13] = [
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
