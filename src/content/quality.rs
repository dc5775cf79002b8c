//! The deterministic quality score: 0–100 from named sub-scores.
//!
//! Counts characters, not words, so that Korean is measured fairly. Each check has a weight; the
//! score is the weighted sum. A forbidden pattern (leftover prompt text, "as an AI") caps the
//! score below any sensible threshold, because such a post must never go out.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::GeneratedPost;
use crate::config::Language;

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubScore {
    /// Check name.
    pub name: String,
    /// Points earned.
    pub points: f64,
    /// Points possible.
    pub max: f64,
    /// Why points were lost (empty when full marks).
    pub note: String,
}

/// The score and its parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QualityReport {
    /// 0–100.
    pub score: u8,
    /// The checks.
    pub parts: Vec<SubScore>,
    /// Forbidden patterns found.
    pub forbidden: Vec<String>,
}

impl QualityReport {
    /// The notes of checks that lost points, for logs and the review queue.
    pub fn summary(&self) -> String {
        let mut notes: Vec<String> = self
            .parts
            .iter()
            .filter(|p| !p.note.is_empty())
            .map(|p| format!("{}: {}", p.name, p.note))
            .collect();
        notes.extend(self.forbidden.iter().map(|f| format!("forbidden: {f}")));
        notes.join("; ")
    }
}

const FORBIDDEN: &[&str] = &[
    "as an ai",
    "as a language model",
    "i cannot fulfill",
    "i'm sorry, but",
    "<|im_start|>",
    "<|im_end|>",
    "```json",
    "{{",
    "lorem ipsum",
    "[insert",
    "todo:",
    "ai 언어 모델로서",
    "언어 모델로서",
];

/// Scores a post written in `language`.
pub fn score(post: &GeneratedPost, language: Language) -> QualityReport {
    let body = post.body.as_str();
    let text = plain_text(body);
    let chars = text.chars().filter(|c| !c.is_whitespace()).count();
    let (min_chars, good_chars) = match language {
        Language::En => (1_500, 4_000),
        Language::Ko => (1_000, 2_000),
    };
    let mut parts = Vec::new();
    let mut part = |name: &str, max: f64, fraction: f64, note: String| {
        let fraction = fraction.clamp(0.0, 1.0);
        parts.push(SubScore {
            name: name.into(),
            points: (max * fraction * 10.0).round() / 10.0,
            max,
            note: if fraction < 1.0 { note } else { String::new() },
        });
    };

    part(
        "length",
        20.0,
        ratio(chars, good_chars),
        format!("{chars} characters, aim for {good_chars}+ (minimum {min_chars})"),
    );

    let title_len = post.title.chars().count();
    let (tmin, tmax) = match language {
        Language::En => (20, 90),
        Language::Ko => (8, 60),
    };
    part(
        "title",
        10.0,
        if (tmin..=tmax).contains(&title_len) {
            1.0
        } else {
            0.4
        },
        format!("title has {title_len} characters, aim for {tmin}-{tmax}"),
    );

    let desc_len = post.seo_description.chars().count();
    let meta_ok = (40..=200).contains(&desc_len) as u8 as f64 * 0.6
        + (!post.tags.is_empty()) as u8 as f64 * 0.4;
    part(
        "meta",
        10.0,
        meta_ok,
        format!(
            "description {desc_len} characters (aim 40-200), {} tags",
            post.tags.len()
        ),
    );

    let headings = body
        .lines()
        .filter(|l| l.trim_start().starts_with("## ") || l.trim_start().starts_with("### "))
        .count();
    part(
        "headings",
        15.0,
        headings as f64 / 3.0,
        format!("{headings} section headings, aim for 3+"),
    );

    let paragraphs: Vec<usize> = body
        .split("\n\n")
        .map(|p| p.trim())
        .filter(|p| !p.is_empty() && !p.starts_with('#'))
        .map(|p| p.chars().count())
        .collect();
    let long = paragraphs.iter().filter(|&&n| n > 1_200).count();
    let para_fraction = if paragraphs.len() < 3 {
        paragraphs.len() as f64 / 4.0
    } else {
        1.0 - long as f64 / paragraphs.len() as f64
    };
    part(
        "paragraphs",
        10.0,
        para_fraction,
        format!(
            "{} paragraphs, {long} over 1200 characters",
            paragraphs.len()
        ),
    );

    let repeated = repetition(&text);
    part(
        "repetition",
        15.0,
        1.0 - ((repeated - 0.05).max(0.0) * 4.0),
        format!("{:.0}% of 5-character shingles repeat", repeated * 100.0),
    );

    let lang_share = language_share(&text, language);
    let lang_needed = match language {
        Language::En => 0.9,
        Language::Ko => 0.5,
    };
    part(
        "language",
        10.0,
        lang_share / lang_needed,
        format!(
            "{:.0}% of letters are {}",
            lang_share * 100.0,
            language.code()
        ),
    );

    let markup = markup_problems(body);
    let dangerous = markup.iter().any(|m| m.starts_with("unsafe"));
    part(
        "markup",
        10.0,
        1.0 - markup.len() as f64 / 3.0,
        markup.join(", "),
    );

    let lower = format!("{}\n{}\n{}", post.title, post.summary, body).to_lowercase();
    let forbidden: Vec<String> = FORBIDDEN
        .iter()
        .filter(|f| lower.contains(*f))
        .map(|f| f.to_string())
        .collect();
    let mut total: f64 = parts.iter().map(|p| p.points).sum();
    if chars < min_chars {
        // Under the minimum nothing can pass, and a stub must not look nearly good enough.
        total = total.min(50.0 * chars as f64 / min_chars as f64);
    }
    if !forbidden.is_empty() {
        total = total.min(20.0);
    }
    // Defects no other strength makes up for: each caps the score below any sensible
    // threshold, and its sub-score says why.
    if lang_share < lang_needed / 2.0 {
        total = total.min(40.0);
    }
    if dangerous {
        total = total.min(40.0);
    }
    if repeated > 0.5 {
        total = total.min(45.0);
    }
    if headings == 0 && paragraphs.len() < 3 {
        total = total.min(55.0);
    }
    QualityReport {
        score: total.round().clamp(0.0, 100.0) as u8,
        parts,
        forbidden,
    }
}

/// Links and markup that would break or endanger the published page: unbalanced code fences,
/// empty or malformed links, script-capable HTML (`unsafe …`, which caps the score).
fn markup_problems(body: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if body.matches("```").count() % 2 == 1 {
        problems.push("unclosed code fence".to_owned());
    }
    if body.contains("]()") || body.contains("](#)") {
        problems.push("empty link target".to_owned());
    }
    let lower = body.to_lowercase();
    let links: Vec<&str> = lower.split("](").skip(1).collect();
    if links.iter().any(|l| {
        !l.contains(')')
            || l.split(')')
                .next()
                .is_some_and(|t| t.contains(char::is_whitespace))
    }) {
        problems.push("malformed link".to_owned());
    }
    for tag in [
        "<script",
        "<iframe",
        "javascript:",
        " onerror=",
        " onload=",
        "<object",
        "<embed",
    ] {
        if lower.contains(tag) {
            problems.push(format!("unsafe {}", tag.trim()));
        }
    }
    problems
}

fn ratio(have: usize, want: usize) -> f64 {
    have as f64 / want as f64
}

/// The body without Markdown markup that would distort counts.
fn plain_text(body: &str) -> String {
    body.lines()
        .map(|l| l.trim_start_matches(['#', '>', '-', '*', ' ']))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Share of 5-character shingles (whitespace removed, lower-cased) that occur more than once.
/// Works for any script, no word splitter needed.
fn repetition(text: &str) -> f64 {
    let chars: Vec<char> = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    if chars.len() < 50 {
        return 0.0;
    }
    let mut seen: HashMap<&[char], u32> = HashMap::new();
    for w in chars.windows(5) {
        *seen.entry(w).or_default() += 1;
    }
    let total = chars.len() - 4;
    let repeated: u32 = seen.values().filter(|&&n| n > 1).map(|n| n - 1).sum();
    // Natural text repeats common short sequences; only heavy repetition should cost points.
    (repeated as f64 / total as f64 - 0.25).max(0.0) / 0.75
}

/// Share of letters that belong to the language's script.
fn language_share(text: &str, language: Language) -> f64 {
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.is_empty() {
        return 0.0;
    }
    let hits = letters
        .iter()
        .filter(|&&c| match language {
            Language::En => c.is_ascii_alphabetic(),
            Language::Ko => {
                ('\u{AC00}'..='\u{D7A3}').contains(&c)
                    || ('\u{1100}'..='\u{11FF}').contains(&c)
                    || ('\u{3130}'..='\u{318F}').contains(&c)
            }
        })
        .count();
    hits as f64 / letters.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(title: &str, body: String) -> GeneratedPost {
        GeneratedPost {
            title: title.into(),
            slug: "s".into(),
            summary: "A summary.".into(),
            tags: vec!["ai".into()],
            seo_title: title.into(),
            seo_description: "A description of reasonable length for search engines to show."
                .into(),
            seo_keywords: vec![],
            body,
        }
    }

    /// The body of a fixture post (`tests/fixtures/quality`), after its header.
    fn fixture_body(text: &str) -> String {
        text.split_once("\n---\n").unwrap().1.to_owned()
    }

    fn english_body() -> String {
        fixture_body(include_str!(
            "../../tests/fixtures/quality/good-en-inference-costs.md"
        ))
    }

    #[test]
    fn a_good_english_post_passes_and_a_stub_fails() {
        let good = score(
            &post("How AI Agents Learned to Use Tools in 2026", english_body()),
            Language::En,
        );
        assert!(good.score >= 75, "{good:#?}");
        let stub = score(&post("Hi", "Too short.".into()), Language::En);
        assert!(stub.score < 40, "{stub:#?}");
        assert!(stub.summary().contains("length"));
    }

    #[test]
    fn forbidden_patterns_sink_the_score() {
        let body = format!(
            "As an AI language model, I think this.\n\n{}",
            english_body()
        );
        let r = score(
            &post("How AI Agents Learned to Use Tools in 2026", body),
            Language::En,
        );
        assert!(r.score <= 20 && r.forbidden == ["as an ai"], "{r:#?}");
    }

    #[test]
    fn korean_is_measured_in_characters_and_language_is_checked() {
        let body = fixture_body(include_str!(
            "../../tests/fixtures/quality/good-ko-agents.md"
        ));
        let ko = score(
            &post("AI 에이전트가 바꾸는 업무 방식", body.clone()),
            Language::Ko,
        );
        let as_en = score(&post("AI 에이전트가 바꾸는 업무 방식", body), Language::En);
        assert!(
            ko.score > as_en.score + 10,
            "ko {} vs en {}",
            ko.score,
            as_en.score
        );
        let lang = ko.parts.iter().find(|p| p.name == "language").unwrap();
        assert_eq!(lang.points, lang.max);
    }

    #[test]
    fn heavy_repetition_costs_points() {
        let repeated = format!(
            "## A\n\n## B\n\n## C\n\n{}",
            "The same sentence again and again. ".repeat(150)
        );
        let r = score(
            &post("How AI Agents Learned to Use Tools in 2026", repeated),
            Language::En,
        );
        let rep = r.parts.iter().find(|p| p.name == "repetition").unwrap();
        assert!(rep.points < 5.0, "{rep:?}");
    }
}
