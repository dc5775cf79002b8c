//! Waking idle workers: BullMQ's marker keys, watched with blocking reads on a connection of their own.

use super::super::Clock;
use super::*;
use ::redis::Client;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

impl RedisQueue {
    /// Starts watching `queue`'s marker, once per queue, so that jobs added by other processes
    /// wake this process's workers at once rather than at their next poll.
    pub(super) fn watch_markers(&self, queue: &str) {
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

    pub(super) fn signal_work(&self) {
        self.inner.work.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Blocks on BullMQ's marker set (`BZPOPMIN`, on a connection of its own so that the blocking
/// call holds up nothing else) and bumps the work signal for every marker: score 0 means jobs
/// are ready, a timestamp means a delayed job comes due then. Markers are shared wake-ups, as
/// in BullMQ: whoever pops one claims, and a claim that leaves jobs behind sets it again.
pub(super) async fn listen_for_markers(
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
