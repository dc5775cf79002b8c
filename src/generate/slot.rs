//! Writing a slot: storing the best draft (held when weak) and queueing its publication.

use super::*;
use crate::content::links::LinkPolicy;
use crate::content::{Provenance, Source, SourceRef};
use crate::queue::{JobError, Queue, names};
use crate::store::{NewPost, PostStatus};
use tokio_util::sync::CancellationToken;

impl Generator {
    /// Writes the post of a slot about `topic` (its text, keyword and where it came from)
    /// from `sources`, and stores it.
    #[expect(clippy::too_many_arguments, reason = "the slot's context, passed once")]
    pub(super) async fn write_slot(
        &self,
        job_id: &str,
        slot: u32,
        (topic, keyword, source): (&str, Option<String>, &str),
        category: String,
        reading: &super::sources::Reading,
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
            sources: &reading.sources,
            cancel,
            deadline: tokio::time::Instant::now() + self.config.post_deadline,
        };
        match self.rounds(&context).await {
            Ok(draft) => {
                self.store_draft(
                    &context,
                    keyword.as_deref(),
                    source,
                    draft,
                    &reading.unread,
                    budget,
                )
                .await
            }
            Err(failure) => SlotOutcome::Failed(failure),
        }
    }

    /// Stores the draft of a slot: its links filtered, the list of its sources appended, held
    /// when it is weak, ungrounded or in review mode.
    pub(super) async fn store_draft(
        &self,
        context: &SlotContext<'_>,
        keyword: Option<&str>,
        source: &str,
        draft: Draft,
        unread: &[crate::content::UnreadSource],
        budget: Option<BudgetSlot>,
    ) -> SlotOutcome {
        let SlotContext {
            job_id,
            slot,
            topic,
            category,
            sources,
            ..
        } = *context;
        let Some((mut post, quality)) = draft.post else {
            return SlotOutcome::Failed(JobError::retryable("no post was produced"));
        };
        let mut provenance = self.finish_body(
            &mut post,
            sources,
            draft.claims,
            draft.language,
            job_id,
            slot,
        );
        provenance.unread_sources = unread.to_vec();
        let passed = quality.score >= self.config.quality_threshold;
        // In review mode a post that passed waits for approval like one that did not.
        let (status, hold_reason) = match (passed, self.config.review) {
            (true, false) => (PostStatus::Ready, None),
            (true, true) => (
                PostStatus::Held,
                Some("awaiting review (publish.mode = review)".to_owned()),
            ),
            // Unsupported claims first: they are why the post cannot go out as it is.
            (false, _) if !provenance.unsupported_claims.is_empty() => (
                PostStatus::Held,
                Some(format!(
                    "unsupported claims (checked against {} source{}): {}",
                    provenance.sources.len(),
                    if provenance.sources.len() == 1 {
                        ""
                    } else {
                        "s"
                    },
                    provenance
                        .unsupported_claims
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
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
            category: category.to_owned(),
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
            provenance,
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

    /// The body as it is stored: links to anywhere but the sources and the blog removed (and
    /// noted), the model's own list of sources replaced by the real one.
    fn finish_body(
        &self,
        post: &mut crate::content::GeneratedPost,
        sources: &[Source],
        claims: Vec<crate::content::grounding::Claim>,
        language: crate::config::Language,
        job_id: &str,
        slot: u32,
    ) -> Provenance {
        let references: Vec<SourceRef> = sources.iter().map(|s| s.reference.clone()).collect();
        let policy = LinkPolicy::new(
            references.iter().map(|r| r.url.as_str()),
            self.config.own_sites.iter().map(String::as_str),
        );
        let (body, removed) = crate::content::links::filter(&post.body, &policy);
        if !removed.is_empty() {
            tracing::warn!(job_id, slot, removed = ?removed, "links removed from the post: they pointed to neither its sources nor the blog");
        }
        post.body = crate::content::sources::with_list(&body, &references, language);
        Provenance {
            grounded: !references.is_empty(),
            sources: references,
            unsupported_claims: claims,
            removed_links: removed,
            unread_sources: Vec::new(),
        }
    }

    pub(super) async fn after_store(&self, post_id: String, status: PostStatus) -> SlotOutcome {
        match status {
            PostStatus::Held | PostStatus::Rejected => {
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
