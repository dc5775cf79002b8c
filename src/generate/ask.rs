//! One answer from a provider in the format it can handle: one JSON object, or step by step.

use super::*;
use crate::config::Language;
use crate::content::{GeneratedPost, parse_post, prompt, simple};
use crate::llm::ChatRequest;
use crate::llm::breaker::Guarded;

impl Generator {
    /// One answer from the provider, in the format it can handle, with its slug made by the
    /// configured policy.
    pub(super) async fn ask(
        &self,
        provider: &Guarded,
        topic: &str,
        category: &str,
        language: Language,
        avoid: &[String],
        draft: &mut Draft,
    ) -> Result<GeneratedPost, Answer> {
        let mut post = self
            .ask_in_format(provider, topic, category, language, avoid, draft)
            .await?;
        post.slug = self.config.slugs.post(&post.slug, &post.title);
        Ok(post)
    }

    pub(super) async fn ask_in_format(
        &self,
        provider: &Guarded,
        topic: &str,
        category: &str,
        language: Language,
        avoid: &[String],
        draft: &mut Draft,
    ) -> Result<GeneratedPost, Answer> {
        if provider.needs_simple_format() {
            return self
                .ask_in_steps(provider, topic, category, language, draft)
                .await;
        }
        let p = prompt::build(topic, category, language, self.config.slugs.policy, avoid);
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
    pub(super) async fn ask_in_steps(
        &self,
        provider: &Guarded,
        topic: &str,
        category: &str,
        language: Language,
        draft: &mut Draft,
    ) -> Result<GeneratedPost, Answer> {
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
        let intro = ask(simple::intro_request(topic, category, language)).await?;
        let mut sections = Vec::with_capacity(headings.len());
        for heading in headings {
            let text = ask(simple::section_request(topic, &heading, language)).await?;
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
