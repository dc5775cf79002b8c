//! The daily budget and post cap: admission of a slot, the insert that counts, stopping for the day.

use super::*;
use crate::queue::JobError;
use crate::store::NewPost;
use std::sync::Arc;

impl Generator {
    /// Admits one more post under the daily post cap and budget (UTC day), counting posts
    /// being written now so that parallel slots cannot all pass: the budget holds to within
    /// one post (a post's cost is known only once written; the day's mean cost stands in).
    /// `Ok(Err(reason))` when a limit is reached: the post is skipped, not failed.
    pub(super) async fn admit_budget(
        &self,
    ) -> Result<Result<Option<BudgetSlot>, String>, JobError> {
        let (cap, budget) = (self.config.daily_post_cap, self.config.daily_budget_usd);
        if cap.is_none() && budget.is_none() {
            return Ok(Ok(None));
        }
        let _one = self.admission.lock().await;
        let (posts, cost) = self
            .store
            .spend_since(utc_midnight(crate::db::now_ms()))
            .await
            .map_err(|e| JobError::retryable(e.to_string()))?;
        let mut in_flight = self.in_flight.lock().expect("budget slots");
        let n = u64::from(*in_flight);
        let mean = if posts > 0 { cost / posts as f64 } else { 0.0 };
        let stop = match (cap, budget) {
            (Some(c), _) if posts + n >= u64::from(c) => Some(format!(
                "the daily post cap of {c} is reached (generation.daily_post_cap)"
            )),
            (_, Some(b)) if cost + n as f64 * mean >= b => Some(format!(
                "the daily budget of ${b:.2} is reached (${cost:.4} spent today)"
            )),
            _ => None,
        };
        if let Some(reason) = stop {
            drop(in_flight);
            return Ok(Err(self.stop_for_today(reason)));
        }
        *in_flight += 1;
        drop(in_flight);
        self.stats.set_budget_stop(None);
        Ok(Ok(Some(BudgetSlot(self.in_flight.clone()))))
    }

    /// Records that a daily limit stopped generation; returns why the post is skipped.
    pub(super) fn stop_for_today(&self, reason: String) -> String {
        if self.stats.budget_stop().as_deref() != Some(reason.as_str()) {
            tracing::warn!(%reason, "generation stopped for today");
        }
        self.stats.set_budget_stop(Some(reason.clone()));
        format!("{reason}; the schedule writes again after midnight UTC")
    }

    /// Stores a post. An admitted slot stores it under the admission lock and gives up its
    /// reservation in the same step; the store itself refuses a post over the daily cap, which
    /// also holds between processes sharing the store (each reserves only its own slots).
    pub(super) async fn insert_post(
        &self,
        mut new: NewPost,
        budget: Option<BudgetSlot>,
    ) -> Result<crate::store::Post, crate::store::StoreError> {
        let Some(reservation) = budget else {
            return self.store.insert_post(new).await;
        };
        let _one = self.admission.lock().await;
        new.daily_cap = self
            .config
            .daily_post_cap
            .map(|posts| crate::store::DailyCap {
                since_ms: utc_midnight(crate::db::now_ms()),
                posts,
            });
        let stored = self.store.insert_post(new).await;
        drop(reservation);
        stored
    }
}

/// Holds a slot's place in the daily budget until its post is stored or the slot fails.
pub(super) struct BudgetSlot(Arc<std::sync::Mutex<u32>>);

impl Drop for BudgetSlot {
    fn drop(&mut self) {
        let mut n = self.0.lock().expect("budget slots");
        *n = n.saturating_sub(1);
    }
}

/// The start of the UTC day `now_ms` falls in.
pub(super) fn utc_midnight(now_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(86_400_000)
}
