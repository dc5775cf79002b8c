//! The optional LLM judge: a second opinion on a post that passed the deterministic gate, from
//! a different provider than the writer (a model grading its own text is lenient). It scores a
//! fixed rubric from 1 to 10 and gives one reason. Advisory by design: a judge that is down or
//! answers nonsense does not stop publishing; a low grade sends the post back like a low score.

use serde::Deserialize;

use super::GeneratedPost;
use crate::config::Language;
use crate::llm::ChatRequest;

/// The rubric, the same for both languages (the judge reads either).
const RUBRIC: &str = "You review blog posts about artificial intelligence before publication. \
Grade the post from 1 to 10 against this rubric: accurate and specific (no invented statistics, \
quotes or products); useful to practitioners; coherent structure; written entirely in the stated \
language; free of filler, repetition and leftover instructions. 7 or more means publish as is. \
Answer with only a JSON object: {\"score\": <1-10>, \"reason\": \"<one sentence>\"}.";

/// The request for `post`, bounded so that a long post does not blow the judge's budget.
pub fn request(post: &GeneratedPost, language: Language) -> ChatRequest {
    let body: String = post.body.chars().take(12_000).collect();
    ChatRequest {
        system: RUBRIC.to_owned(),
        user: format!(
            "Language: {}\nTitle: {}\n\n{body}",
            match language {
                Language::En => "English",
                Language::Ko => "Korean",
            },
            post.title
        ),
        max_tokens: Some(200),
    }
}

/// A parsed verdict.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Verdict {
    /// 1–10.
    pub score: u8,
    /// One sentence.
    #[serde(default)]
    pub reason: String,
}

/// Reads the judge's answer: the first JSON object in it, with a score from 1 to 10.
pub fn parse(answer: &str) -> Option<Verdict> {
    let start = answer.find('{')?;
    let end = answer.rfind('}')?;
    let mut v: Verdict = serde_json::from_str(answer.get(start..=end)?).ok()?;
    if !(1..=10).contains(&v.score) {
        return None;
    }
    v.reason = v.reason.chars().take(300).collect();
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_parse_from_chatty_answers_and_nonsense_is_refused() {
        assert_eq!(
            parse("Sure! {\"score\": 4, \"reason\": \"Invents a benchmark.\"} Hope this helps."),
            Some(Verdict {
                score: 4,
                reason: "Invents a benchmark.".into()
            })
        );
        assert_eq!(parse("{\"score\": 11}"), None);
        assert_eq!(parse("{\"score\": 0}"), None);
        assert_eq!(parse("I cannot grade this."), None);
        assert_eq!(parse("{\"title\": \"a post\"}"), None);
    }
}
