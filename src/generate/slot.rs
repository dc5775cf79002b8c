//! Writing a slot: storing the best draft (held when weak) and queueing its publication.

use super::*;
use crate::queue::{JobError, Queue, names};
use crate::store::{NewPost, PostStatus};
use tokio_util::sync::CancellationToken;

impl Generator {
    #[expect(clippy::too_many_arguments, reason = "the slot's context, passed once")]
    pub(super) async fn write_slot(
        &self,
        job_id: &str,
        slot: u32,
        topic: &str,
        keyword: Option<String>,
        source: &str,
        category: String,
        budget: Option<BudgetSlot>,
        cancel: &CancellationToken,
    ) -> SlotOutcome {
        let avoid = self
            .store
            .recent_titles(keyword.clone(), 10)
            .await
            .unwrap_or_default();
        let context = SlotContext {
            job_id,
            slot,
            topic,
            category: &category,
            avoid: &avoid,
            cancel,
            deadline: tokio::time::Instant::now() + self.config.post_deadline,
        };
        match self.rounds(&context).await {
            Ok(draft) => {
                self.store_draft(
                    job_id,
                    slot,
                    topic,
                    keyword.as_deref(),
                    source,
                    category,
                    draft,
                    budget,
                )
                .await
            }
            Err(failure) => SlotOutcome::Failed(failure),
        }
    }

    #[expect(clippy::too_many_arguments, reason = "the slot's context, passed once")]
    pub(super) async fn store_draft(
        &self,
        job_id: &str,
        slot: u32,
        topic: &str,
        keyword: Option<&str>,
        source: &str,
        category: String,
        draft: Draft,
        budget: Option<BudgetSlot>,
    ) -> SlotOutcome {
        let Some((post, quality)) = draft.post else {
            return SlotOutcome::Failed(JobError::retryable("no post was produced"));
        };
        let passed = quality.score >= self.config.quality_threshold;
        // In review mode a post that passed waits for approval like one that did not.
        let (status, hold_reason) = match (passed, self.config.review) {
            (true, false) => (PostStatus::Ready, None),
            (true, true) => (
                PostStatus::Held,
                Some("awaiting review (publish.mode = review)".to_owned()),
            ),
            // The reason comes from the gate's own findings, never left for a reader to guess.
            (false, _) => (
                PostStatus::Held,
                Some(format!(
                    "quality score {} is below the threshold {} (generation.quality_threshold){}",
                    quality.score,
                    self.config.quality_threshold,
                    match quality.summary() {
                        notes if notes.is_empty() => String::new(),
                        notes => format!(": {notes}"),
                    }
                )),
            ),
        };
        let new = NewPost {
            job_id: job_id.to_owned(),
            slot,
            topic: topic.to_owned(),
            keyword: keyword.map(str::to_owned),
            category,
            language: draft.language.code().to_owned(),
            post,
            quality,
            status,
            provider: draft.provider,
            model: draft.model,
            input_tokens: draft.input_tokens,
            output_tokens: draft.output_tokens,
            cost_usd: draft.cost_usd,
            generation_ms: draft.elapsed_ms,
            attempts: draft.attempts,
            hold_reason,
            daily_cap: None,
        };
        let stored = match self.insert_post(new, budget).await {
            Ok(p) => p,
            Err(crate::store::StoreError::Limit(reason)) => {
                return SlotOutcome::Skipped(self.stop_for_today(reason));
            }
            Err(e) => return SlotOutcome::Failed(JobError::retryable(e.to_string())),
        };
        self.stats
            .generation
            .observe(std::time::Duration::from_millis(stored.generation_ms));
        tracing::info!(target: "blogflow::perf", job_id, slot, post_id = %stored.id, provider = %stored.provider, generation_ms = stored.generation_ms,
            input_tokens = stored.input_tokens, output_tokens = stored.output_tokens, cost_usd = stored.cost_usd, score = stored.quality.score, "post generated");
        if let Err(e) = self
            .store
            .record_topic(topic, source, keyword, &stored.id)
            .await
        {
            tracing::warn!(error = %e, "could not record the topic");
        }
        self.after_store(stored.id, stored.status).await
    }

    pub(super) async fn after_store(&self, post_id: String, status: PostStatus) -> SlotOutcome {
        match status {
            PostStatus::Held => {
                tracing::warn!(
                    post_id,
                    "post held for review (low score, near-duplicate or review mode: see its hold_reason)"
                );
                SlotOutcome::Held(post_id)
            }
            PostStatus::Published => SlotOutcome::Ready(post_id),
            PostStatus::Ready => match self
                .queue
                .add(
                    names::BLOG_PUBLISHING,
                    crate::publish::publish_job(&post_id),
                )
                .await
            {
                Ok(_) => SlotOutcome::Ready(post_id),
                Err(e) => SlotOutcome::Failed(JobError::retryable(format!(
                    "post {post_id} stored, publishing not queued: {e}"
                ))),
            },
        }
    }
}
