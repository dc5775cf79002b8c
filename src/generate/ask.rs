//! One answer from a provider in the format it can handle: one JSON object, or step by step.

use super::*;
use crate::config::Language;
use crate::content::grounding::Claim;
use crate::content::{GeneratedPost, parse_post, prompt, simple};
use crate::llm::ChatRequest;
use crate::llm::breaker::Guarded;

/// Characters of source text a small model gets with each step.
const SMALL_MODEL_FACTS: usize = 600;

impl Generator {
    /// One answer from the provider, in the format it can handle, with its slug made by the
    /// configured policy.
    /// `findings` are the previous draft's unsupported claims, for the model to fix.
    pub(super) async fn ask(
        &self,
        provider: &Guarded,
        context: &SlotContext<'_>,
        language: Language,
        findings: &[Claim],
        draft: &mut Draft,
    ) -> Result<GeneratedPost, Answer> {
        let mut post = if provider.needs_simple_format() {
            self.ask_in_steps(provider, context, language, draft)
                .await?
        } else {
            let brief = prompt::Brief {
                avoid: context.avoid,
                sources: context.sources,
                source_chars: self.source_budget(provider),
                findings,
                ..prompt::Brief::new(
                    context.topic,
                    context.category,
                    language,
                    self.config.slugs.policy,
                )
            };
            self.ask_in_one(provider, &brief, draft).await?
        };
        post.slug = self.config.slugs.post(&post.slug, &post.title);
        Ok(post)
    }

    /// The whole post as one JSON object.
    async fn ask_in_one(
        &self,
        provider: &Guarded,
        brief: &prompt::Brief<'_>,
        draft: &mut Draft,
    ) -> Result<GeneratedPost, Answer> {
        let p = prompt::build(brief);
        let response = provider
            .chat_within(
                &ChatRequest {
                    system: p.system,
                    user: p.user,
                    max_tokens: None,
                },
                Some(draft.time_left(provider)?),
            )
            .await
            .map_err(Answer::Provider)?;
        draft.add(&response);
        parse_post(&response.text).map_err(|e| {
            Answer::Malformed(format!(
                "malformed answer{}: {e}",
                if response.truncated {
                    " (cut off at max_tokens)"
                } else {
                    ""
                }
            ))
        })
    }

    /// The small-model format: outline, introduction, sections, conclusion and title, each a
    /// short plain-text request ([`simple`]).
    /// A small model cannot take whole articles: the introduction and sections get the
    /// opening of the first source as facts to report.
    pub(super) async fn ask_in_steps(
        &self,
        provider: &Guarded,
        context: &SlotContext<'_>,
        language: Language,
        draft: &mut Draft,
    ) -> Result<GeneratedPost, Answer> {
        let (topic, category) = (context.topic, context.category);
        let facts = context
            .sources
            .first()
            .map(|s| prompt::source_text(&s.text, SMALL_MODEL_FACTS))
            .unwrap_or_default();
        let facts = |r| simple::with_facts(r, &facts, language);
        let mut ask = async |request: crate::llm::ChatRequest| -> Result<String, Answer> {
            let response = provider
                .chat_within(&request, Some(draft.time_left(provider)?))
                .await
                .map_err(Answer::Provider)?;
            draft.add(&response);
            Ok(response.text)
        };
        let outline = ask(simple::outline_request(topic, language)).await?;
        let headings = simple::parse_outline(&outline, topic, language);
        let intro = ask(facts(simple::intro_request(topic, category, language))).await?;
        let mut sections = Vec::with_capacity(headings.len());
        for heading in headings {
            let text = ask(facts(simple::section_request(topic, &heading, language))).await?;
            sections.push((heading, text));
        }
        let conclusion = ask(simple::conclusion_request(topic, language)).await?;
        let title = ask(simple::title_request(topic, language)).await?;
        let body = simple::assemble_body(&intro, &sections, &conclusion, language);
        if body.chars().count() < 200 {
            return Err(Answer::Malformed(format!(
                "the article is too short ({} characters)",
                body.chars().count()
            )));
        }
        Ok(simple::assemble(
            simple::clean_title(&title, topic),
            body,
            topic,
            category,
        ))
    }
}
