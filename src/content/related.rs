//! Related posts: which earlier posts a new one links to, and the section that links them.
//!
//! Closeness is judged on what a post is about, not on its wording: the words of its title
//! and topic, and its tags. Korean words carry their particles (`에이전트가`, `에이전트는`),
//! so a Hangul word is compared by its two-character pieces, which the particle changes
//! only at the end; other words are compared whole, lower-cased, without a plural `s` and
//! without the commonest English words. The score is the Jaccard overlap of those features,
//! 60 % words and 40 % tags; a post must reach [`MIN_SCORE`] to be linked at all, so a blog's
//! first post on a new subject links to nothing rather than to something unrelated.

use std::collections::BTreeSet;

use crate::config::Language;

/// How many related posts a post links to, at most.
pub const MAX_LINKS: usize = 3;

/// The least score of a related post: about one shared tag, or a third of the words.
pub const MIN_SCORE: f64 = 0.15;

/// An earlier post a target holds as published: what it is about and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linkable {
    /// Post id.
    pub id: String,
    /// Title.
    pub title: String,
    /// The topic it was written on.
    pub topic: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Where the target holds it (the ledger's location: a URL or a file).
    pub location: String,
}

/// Words that say nothing about a subject.
const STOP: &[&str] = &[
    "the", "and", "for", "with", "from", "into", "how", "what", "why", "when", "who", "are", "was",
    "were", "its", "new", "now", "this", "that", "than", "then", "will", "can", "has", "have",
    "had", "not", "but", "you", "your", "our", "their", "about", "after", "over", "more", "most",
    "all", "is", "of", "to", "in", "on", "at", "by", "an", "as", "or", "be",
];

fn is_hangul(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// The features of a title and topic: Hangul words as two-character pieces, other words
/// whole.
fn words(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word = word.to_lowercase();
        if word.chars().any(is_hangul) {
            let chars: Vec<char> = word.chars().collect();
            if chars.len() == 1 {
                out.insert(word);
            } else {
                out.extend(chars.windows(2).map(|w| w.iter().collect::<String>()));
            }
        } else if word.chars().count() >= 2 && !STOP.contains(&word.as_str()) {
            let stem = match word.strip_suffix('s') {
                Some(stem) if stem.len() >= 3 && !stem.ends_with('s') => stem.to_owned(),
                _ => word,
            };
            out.insert(stem);
        }
    }
    out
}

fn tags(tags: &[String]) -> BTreeSet<String> {
    tags.iter()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// What a post is about, ready to compare.
#[derive(Debug, Clone)]
pub struct Subject {
    words: BTreeSet<String>,
    tags: BTreeSet<String>,
}

impl Subject {
    /// The subject of a post with this title, topic and tags.
    pub fn of(title: &str, topic: &str, post_tags: &[String]) -> Self {
        Self {
            words: words(&format!("{title} {topic}")),
            tags: tags(post_tags),
        }
    }

    /// How close `other` is, 0–1.
    pub fn score(&self, other: &Subject) -> f64 {
        0.6 * jaccard(&self.words, &other.words) + 0.4 * jaccard(&self.tags, &other.tags)
    }
}

/// The `candidates` with at least [`MIN_SCORE`], closest to `subject` first; on a tie the one
/// listed first (the newer, as the store lists them). A post links to the first
/// [`MAX_LINKS`] of them it can link to.
pub fn closest<'a>(subject: &Subject, candidates: &'a [Linkable]) -> Vec<&'a Linkable> {
    let mut scored: Vec<(f64, &Linkable)> = candidates
        .iter()
        .map(|c| (subject.score(&Subject::of(&c.title, &c.topic, &c.tags)), c))
        .filter(|(score, _)| *score >= MIN_SCORE)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().map(|(_, c)| c).collect()
}

/// The heading of the related-posts section.
pub fn heading(language: Language) -> &'static str {
    match language {
        Language::En => "Related posts",
        Language::Ko => "관련 글",
    }
}

/// The section that ends a post: its heading and one link per post, `(title, url)`.
pub fn section(language: Language, links: &[(String, String)]) -> String {
    let mut out = format!("\n\n## {}\n\n", heading(language));
    for (title, url) in links {
        let title = title
            .replace('\\', "\\\\")
            .replace('[', "\\[")
            .replace(']', "\\]");
        out.push_str(&format!("- [{title}]({url})\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linkable(id: &str, title: &str, topic: &str, tags: &[&str]) -> Linkable {
        Linkable {
            id: id.into(),
            title: title.into(),
            topic: topic.into(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            location: format!("https://blog.example/{id}/"),
        }
    }

    #[test]
    fn the_closest_posts_are_chosen_and_unrelated_ones_are_not() {
        let candidates = [
            linkable(
                "chips",
                "Export rules tighten for memory chips",
                "semiconductor export rules",
                &["semiconductors", "policy"],
            ),
            linkable(
                "agents-1",
                "AI agents take over code review",
                "AI coding agents",
                &["agents", "coding"],
            ),
            linkable(
                "agents-2",
                "Coding agents: what teams learned in a year",
                "coding agents adoption",
                &["agents", "teams"],
            ),
        ];
        let subject = Subject::of(
            "A new coding agent writes and reviews pull requests",
            "coding agents",
            &["agents".into(), "coding".into()],
        );
        let ids: Vec<&str> = closest(&subject, &candidates)
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(ids, ["agents-1", "agents-2"]);
    }

    #[test]
    fn korean_words_match_whatever_their_particles() {
        let a = Subject::of("에이전트가 바꾸는 개발팀", "AI 에이전트", &[]);
        let b = Subject::of("개발팀은 에이전트를 어떻게 쓰나", "에이전트 도입", &[]);
        let c = Subject::of("반도체 수출 규제 강화", "반도체 규제", &[]);
        assert!(a.score(&b) >= MIN_SCORE, "{}", a.score(&b));
        assert!(a.score(&c) < MIN_SCORE, "{}", a.score(&c));
    }

    #[test]
    fn the_section_escapes_titles_and_is_in_the_posts_language() {
        let s = section(
            Language::Ko,
            &[("[속보] 에이전트".into(), "https://b.example/a/".into())],
        );
        assert_eq!(
            s,
            "\n\n## 관련 글\n\n- [\\[속보\\] 에이전트](https://b.example/a/)\n"
        );
    }
}
