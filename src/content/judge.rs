//! The optional LLM judge: a second opinion on a post that passed the deterministic gate, from
//! a different provider than the writer (a model grading its own text is lenient). It scores a
//! fixed rubric from 1 to 10 and gives one reason. Advisory by design: a judge that is down or
//! answers nonsense does not stop publishing; a low grade sends the post back like a low score.

use serde::Deserialize;

use super::GeneratedPost;
use super::sources::Source;
use crate::config::Language;
use crate::llm::ChatRequest;

/// The rubric, the same for both languages (the judge reads either).
const RUBRIC: &str = "You review blog posts about artificial intelligence before publication. \
Grade the post from 1 to 10 against this rubric: accurate and specific (no invented statistics, \
quotes or products); useful to practitioners; coherent structure; written entirely in the stated \
language; free of filler, repetition and leftover instructions. 7 or more means publish as is. \
Answer with only a JSON object: {\"score\": <1-10>, \"reason\": \"<one sentence>\"}.";

/// What the judge adds to the rubric for a post written from sources.
const FAITHFUL: &str = " The post was written from the numbered sources given before it: grade \
faithfulness first. A figure, quote or claim that its cited source does not support, or a \
citation [n] pointing to the wrong source, caps the grade at 4.";

/// Characters of source text the judge reads, all sources together.
const JUDGE_SOURCE_CHARS: usize = 8_000;

/// The request for `post` written from `sources` (none for an ungrounded post), bounded so
/// that a long post does not blow the judge's budget.
pub fn request(post: &GeneratedPost, language: Language, sources: &[Source]) -> ChatRequest {
    let body: String = post.body.chars().take(12_000).collect();
    let mut system = RUBRIC.to_owned();
    let mut material = String::new();
    if !sources.is_empty() {
        system.push_str(FAITHFUL);
        let lengths: Vec<usize> = sources.iter().map(|s| s.text.chars().count()).collect();
        let shares = super::prompt::shares(&lengths, JUDGE_SOURCE_CHARS);
        for (i, (s, share)) in sources.iter().zip(shares).enumerate() {
            material.push_str(&format!(
                "<source n=\"{}\">\n{}\n</source>\n",
                i + 1,
                super::prompt::source_text(&s.text, share)
            ));
        }
        material.push('\n');
    }
    ChatRequest {
        system,
        user: format!(
            "{material}Language: {}\nTitle: {}\n\n{body}",
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
