//! Providers for one slot: rounds over the balancer's order, waiting when none can take a call, drafts and the judge.

use super::*;
use crate::config::Language;
use crate::content::grounding::Claim;
use crate::content::{GeneratedPost, QualityReport, score};
use crate::llm::breaker::Guarded;
use crate::llm::{ErrorClass, Provider};
use crate::queue::{JobError, Retry};
use std::time::Instant;

impl Generator {
    /// Rounds over the balancer's order (available API providers by weight, latency, success
    /// and load, then the local model) until a draft: one that passed, or the best weak one
    /// (kept for review, never thrown away). A round that ends with a provider still available
    /// but failing is tried again after a short pause, so a flaky provider does not strand a
    /// post; when none is available, the slot waits without spending an attempt.
    pub(super) async fn rounds(&self, context: &SlotContext<'_>) -> Result<Draft, JobError> {
        let SlotContext {
            cancel, deadline, ..
        } = *context;
        let mut weak: Option<Draft> = None;
        let mut failure = JobError::unrecoverable(NO_PROVIDER);
        for round in 0..SLOT_ROUNDS {
            let order = crate::llm::balancer::rank(&self.providers, self.now(), 0.0);
            let call_failed = match self.try_providers(context, &order, &mut weak).await {
                Ok(draft) => return Ok(draft),
                Err((e, call)) => {
                    failure = e;
                    call
                }
            };
            if weak.is_some() || cancel.is_cancelled() {
                break;
            }
            // No provider can take a call now (failing, rate-limited, or ejected for bad
            // credentials an operator can fix): a wait, not a failed attempt.
            if let Some(wait) = self.provider_wait() {
                return Err(JobError::wait(
                    wait,
                    format!(
                        "waiting {} s for a provider: every one is failing, rate-limited or ejected ({})",
                        wait.as_secs(),
                        failure.message
                    ),
                ));
            }
            if failure.retry == Retry::Never || !call_failed {
                break;
            }
            let pause = ROUND_PAUSE * 2u32.pow(round);
            if round + 1 == SLOT_ROUNDS || tokio::time::Instant::now() + pause >= deadline {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = cancel.cancelled() => break,
            }
        }
        weak.ok_or(failure)
    }

    /// Now, on the providers' timebase.
    pub(super) fn now(&self) -> tokio::time::Instant {
        self.providers
            .first()
            .map_or_else(tokio::time::Instant::now, Guarded::now)
    }

    /// How long until a provider can take a call, when none can now (bounded; an ejected
    /// provider waits for the next health probe). `None` when one can now: a failure then
    /// was a real one.
    pub fn provider_wait(&self) -> Option<std::time::Duration> {
        if self.providers.is_empty() {
            return None;
        }
        let now = self.now();
        let mut soonest: Option<std::time::Duration> = None;
        for p in self.providers.iter() {
            match p.ready_in(now, 0.0) {
                Some(d) if d.is_zero() => return None,
                Some(d) => soonest = Some(soonest.map_or(d, |s| s.min(d))),
                None => {}
            }
        }
        Some(
            soonest
                .unwrap_or(PROBE_WAIT)
                .clamp(std::time::Duration::from_secs(1), MAX_PROVIDER_WAIT),
        )
    }

    /// One round over `order`: the first post that passes, or a weak draft kept in `weak` for
    /// another provider to beat, or the failure of the last provider tried.
    pub(super) async fn try_providers(
        &self,
        context: &SlotContext<'_>,
        order: &[usize],
        weak: &mut Option<Draft>,
    ) -> Result<Draft, (JobError, bool)> {
        let SlotContext {
            job_id,
            slot,
            deadline,
            ..
        } = *context;
        let mut failure = JobError::retryable(
            "every provider is held back by its circuit breaker or rate limit (failing, rate-limited or ejected)",
        );
        let mut call = true;
        for (pos, &i) in order.iter().enumerate() {
            if tokio::time::Instant::now() >= deadline {
                let e = JobError::retryable(
                    "the post's deadline passed (generation.post_deadline_secs)",
                );
                return Err((e, false));
            }
            let provider = &self.providers[i];
            if !provider.admit(provider.now(), 0.0) {
                tracing::debug!(
                    job_id,
                    slot,
                    provider = provider.name(),
                    "provider held back by its breaker"
                );
                failure = JobError::retryable(format!(
                    "{} is held back by its circuit breaker (failing, rate-limited or ejected)",
                    provider.name()
                ));
                continue;
            }
            let draft = match self.draft(context, provider).await {
                Ok(draft) => draft,
                Err(no) => {
                    let next = order
                        .get(pos + 1)
                        .map(|&n| &self.providers[n])
                        .filter(|_| no.failover);
                    if let Some(next) = next {
                        tracing::warn!(job_id, slot, provider = provider.name(), next = next.name(), error = %no.error, "falling over to the next provider");
                    }
                    failure = no.error;
                    call = no.call;
                    if next.is_some() {
                        continue;
                    }
                    break;
                }
            };
            let draft = Draft::better(weak.take(), draft);
            // Below the threshold after its attempts: another API provider gets a turn before
            // the post is held (the local model would not write a better one).
            let next = order
                .get(pos + 1)
                .map(|&n| &self.providers[n])
                .filter(|n| !matches!(n.provider(), Provider::Local(_)));
            if !draft.passed(self.config.quality_threshold)
                && let Some(next) = next
            {
                tracing::info!(
                    job_id,
                    slot,
                    provider = provider.name(),
                    next = next.name(),
                    "below the quality threshold: rewriting with another provider before holding"
                );
                *weak = Some(draft);
                continue;
            }
            return Ok(draft);
        }
        Err((failure, call))
    }

    /// Generates until a post passes the quality gate or the attempts run out, with one
    /// provider. `Err` carries the failure and whether another provider may succeed.
    pub(super) async fn draft(
        &self,
        context: &SlotContext<'_>,
        provider: &Guarded,
    ) -> Result<Draft, NoDraft> {
        let SlotContext {
            job_id,
            slot,
            sources,
            cancel,
            deadline,
            ..
        } = *context;
        // A model that cannot write the configured language writes English (app::open logs
        // that once at start).
        let language = if provider.writes(self.config.language) {
            self.config.language
        } else {
            Language::En
        };
        let started = Instant::now();
        let mut draft = Draft {
            language,
            model: provider.model().to_owned(),
            provider: provider.name().to_owned(),
            deadline: Some(deadline),
            ..Draft::default()
        };
        let mut best: Option<(GeneratedPost, QualityReport, Vec<Claim>)> = None;
        let mut last_problem = String::new();
        let texts: Vec<&str> = sources.iter().map(|s| s.text.as_str()).collect();
        // Unsupported claims of the last draft: the next is asked to fix them, once.
        let mut findings: Vec<Claim> = Vec::new();
        let mut sent_back = false;
        for attempt in 1..=self.config.attempts_per_post {
            if cancel.is_cancelled() {
                return Err(NoDraft::cancelled());
            }
            draft.attempts = attempt;
            let answer = tokio::select! {
                a = self.ask(provider, context, language, &findings, &mut draft) => a,
                _ = cancel.cancelled() => return Err(NoDraft::cancelled()),
            };
            let post = match answer {
                Ok(post) => post,
                Err(Answer::Provider(e)) => {
                    tracing::warn!(job_id, slot, provider = provider.name(), class = ?e.class, status = ?e.status, error = %e.message, "provider call failed");
                    if best.is_some() {
                        break; // keep the best answer we have: it is held if it is weak
                    }
                    let failover = e.class != ErrorClass::InvalidRequest;
                    return Err(NoDraft {
                        error: e.into(),
                        failover,
                        call: true,
                    });
                }
                Err(Answer::Malformed(problem)) => {
                    tracing::warn!(job_id, slot, attempt, %problem, "model answer rejected");
                    last_problem = problem;
                    continue;
                }
            };
            let mut report = score(&post, language);
            let claims = if texts.is_empty() {
                Vec::new()
            } else {
                self.ground(&post, &texts, &mut report)
            };
            if self.config.judge && report.score >= self.config.quality_threshold {
                self.judge(provider, &post, context, language, &mut report, &mut draft)
                    .await;
            }
            let passed = report.score >= self.config.quality_threshold;
            tracing::info!(job_id, slot, attempt, score = report.score, passed, notes = %report.summary(), "post scored");
            let ungrounded = !claims.is_empty();
            // On a tie the later draft wins: it was written with the earlier one's findings.
            if best
                .as_ref()
                .is_none_or(|(_, b, _)| report.score >= b.score)
            {
                best = Some((post, report, claims.clone()));
            }
            if passed {
                break;
            }
            if ungrounded {
                if sent_back {
                    break; // sent back once with the list already: held with it
                }
                tracing::info!(job_id, slot, attempt, claims = %claims.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "), "unsupported claims: the post is written again with the list");
                sent_back = true;
                findings = claims;
            }
            last_problem = format!("quality score below {}", self.config.quality_threshold);
        }
        draft.elapsed_ms = started.elapsed().as_millis() as u64;
        match best {
            Some((post, quality, claims)) => {
                draft.post = Some((post, quality));
                draft.claims = claims;
                Ok(draft)
            }
            None => Err(NoDraft {
                error: JobError::retryable(last_problem),
                failover: true,
                call: false,
            }),
        }
    }

    /// The grounding check of `post` against its sources' `texts`: a `grounding` sub-score
    /// in `report`, and the score pulled under the threshold while a claim is unsupported
    /// (such a post is sent back, then held, never published as it is).
    pub(super) fn ground(
        &self,
        post: &GeneratedPost,
        texts: &[&str],
        report: &mut QualityReport,
    ) -> Vec<Claim> {
        let grounding = crate::content::grounding::check(&post.body, texts);
        let note = grounding
            .claims
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        report.parts.push(crate::content::quality::SubScore {
            name: "grounding".into(),
            points: f64::from(grounding.score) / 10.0,
            max: 10.0,
            note,
        });
        if !grounding.claims.is_empty() {
            report.score = report
                .score
                .min(self.config.quality_threshold.saturating_sub(1));
        }
        grounding.claims
    }

    /// Asks the first available provider other than the writer to grade `post`; a grade below
    /// `judge_min_score` pulls the score under the threshold. Its tokens and cost count toward
    /// the post. Without another provider, or with an unusable answer, the post stands on the
    /// deterministic score.
    pub(super) async fn judge(
        &self,
        writer: &Guarded,
        post: &GeneratedPost,
        context: &SlotContext<'_>,
        language: Language,
        report: &mut QualityReport,
        draft: &mut Draft,
    ) {
        let SlotContext {
            job_id,
            slot,
            sources,
            ..
        } = *context;
        let now = tokio::time::Instant::now();
        let judge = crate::llm::balancer::rank(&self.providers, now, 0.0)
            .into_iter()
            .map(|i| &self.providers[i])
            .find(|p| p.name() != writer.name() && p.admit(now, 0.0));
        let Some(judge) = judge else {
            tracing::debug!(
                job_id,
                slot,
                "no provider other than the writer to judge the post"
            );
            return;
        };
        let Ok(limit) = draft.time_left(judge) else {
            return;
        };
        let verdict = match judge
            .chat_within(
                &crate::content::judge::request(post, language, sources),
                Some(limit),
            )
            .await
        {
            Ok(response) => {
                draft.add(&response);
                crate::content::judge::parse(&response.text)
            }
            Err(e) => {
                tracing::warn!(job_id, slot, judge = judge.name(), error = %e.message, "the judge did not answer; the deterministic score stands");
                return;
            }
        };
        let Some(v) = verdict else {
            tracing::warn!(
                job_id,
                slot,
                judge = judge.name(),
                "the judge's answer was not a grade; the deterministic score stands"
            );
            return;
        };
        let min = self.config.judge_min_score;
        tracing::info!(job_id, slot, judge = judge.name(), grade = v.score, reason = %v.reason, "post judged");
        report.parts.push(crate::content::quality::SubScore {
            name: "judge".into(),
            points: f64::from(v.score),
            max: 10.0,
            note: if v.score >= min {
                String::new()
            } else {
                format!(
                    "{} graded {}/10 (publish from {min}): {}",
                    judge.name(),
                    v.score,
                    v.reason
                )
            },
        });
        if v.score < min {
            report.score = report
                .score
                .min(self.config.quality_threshold.saturating_sub(1));
        }
    }
}
