//! What a post rests on: the sources it was written from, as readers see them cited, and what
//! the grounding check and the link filter found.
//!
//! blogflow, not the model, writes the list of sources: the model only cites `[n]`, and the
//! list at the end of the body comes from the pages actually read, with their real links. A
//! list the model wrote itself (with links it may have made up) is removed first.

use serde::{Deserialize, Serialize};

use super::grounding::Claim;
use crate::config::Language;

/// A source as readers see it: `[n]` in the body is the n-th of a post's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceRef {
    /// The article's title.
    pub title: String,
    /// Where it was read (after redirects).
    pub url: String,
}

/// A source read for a post: how it is cited, and its extracted text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Title and link.
    pub reference: SourceRef,
    /// The article's text.
    pub text: String,
}

/// A post's sources and what was found checking it against them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Provenance {
    /// Written from sources read (false: from the model's knowledge only, e.g. a keyword).
    pub grounded: bool,
    /// The sources, in citation order.
    pub sources: Vec<SourceRef>,
    /// Figures, quotes and citations no cited source supports, and passages copied from one.
    pub unsupported_claims: Vec<Claim>,
    /// Links the model wrote to places other than the sources and the blog itself, removed.
    pub removed_links: Vec<String>,
    /// Pages of its story that were not used as sources, and why (refused, disallowed by
    /// robots.txt, too large, not HTML, unreachable, no article in them).
    pub unread_sources: Vec<UnreadSource>,
}

/// A page that was not used as a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnreadSource {
    /// The page.
    pub url: String,
    /// Why it was not used.
    pub reason: String,
}

impl Provenance {
    /// The post was written without sources.
    pub fn ungrounded() -> Self {
        Self::default()
    }
}

/// Headings under which a model writes its own list of sources.
const SOURCE_HEADINGS: &[&str] = &[
    "sources",
    "source",
    "references",
    "reference",
    "bibliography",
    "further reading",
    "출처",
    "참고",
    "참고 자료",
    "참고자료",
    "참고 문헌",
    "참고문헌",
    "참조",
];

/// The heading of the sources section in `language`.
pub fn heading(language: Language) -> &'static str {
    match language {
        Language::En => "Sources",
        Language::Ko => "출처",
    }
}

/// `body` without a sources section the model wrote itself (from such a heading to the next
/// heading of the same or a higher level).
pub fn strip_model_list(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut skipping: Option<usize> = None;
    let mut fence = false;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = !fence;
        }
        let level = if fence {
            0
        } else {
            trimmed.chars().take_while(|&c| c == '#').count()
        };
        if (1..=6).contains(&level) {
            let text = trimmed[level..]
                .trim()
                .trim_end_matches([':', '：'])
                .trim_matches(['*', '_'])
                .to_lowercase();
            if let Some(open) = skipping
                && level <= open
            {
                skipping = None;
            }
            if skipping.is_none() && SOURCE_HEADINGS.contains(&text.as_str()) {
                skipping = Some(level);
                continue;
            }
        }
        if skipping.is_none() {
            out.push_str(line);
        }
    }
    let kept = out.trim_end().len();
    out.truncate(kept);
    out
}

/// The sources section: a numbered list of titles linked to their pages, so that `[n]` in the
/// text finds the n-th entry.
pub fn render_list(sources: &[SourceRef], language: Language) -> String {
    let mut out = format!("## {}\n\n", heading(language));
    for (i, s) in sources.iter().enumerate() {
        out.push_str(&format!(
            "{}. [{}]({})\n",
            i + 1,
            escape_text(&s.title),
            escape_url(&s.url)
        ));
    }
    out
}

/// `body` with its own list removed and blogflow's appended (unchanged without sources).
pub fn with_list(body: &str, sources: &[SourceRef], language: Language) -> String {
    let body = strip_model_list(body);
    if sources.is_empty() {
        return body;
    }
    format!("{body}\n\n{}", render_list(sources, language))
}

/// A title as Markdown link text: brackets, emphasis and HTML characters escaped, on one line.
fn escape_text(title: &str) -> String {
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(title.len());
    for c in title.chars() {
        if matches!(
            c,
            '[' | ']' | '\\' | '*' | '_' | '`' | '<' | '>' | '{' | '}'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    if out.is_empty() {
        out.push_str("(untitled)");
    }
    out
}

/// A URL as a Markdown link destination: nothing that ends it early.
fn escape_url(url: &str) -> String {
    url.replace(' ', "%20")
        .replace('(', "%28")
        .replace(')', "%29")
        .replace('<', "%3C")
        .replace('>', "%3E")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs() -> Vec<SourceRef> {
        vec![
            SourceRef {
                title: "Chips [update] *now*".into(),
                url: "https://news.example/a (1)".into(),
            },
            SourceRef {
                title: "반도체 투자".into(),
                url: "https://news.example.kr/b".into(),
            },
        ]
    }

    #[test]
    fn the_model_list_is_replaced_by_the_real_one() {
        let body = "Intro [1].\n\n## Market\n\nText [2].\n\n## References:\n\n1. [Made up](https://spam.example)\n\n### More\n\nstill refs\n\n## Outlook\n\nEnd.";
        let out = with_list(body, &refs(), Language::En);
        assert!(
            !out.contains("spam.example") && !out.contains("still refs"),
            "{out}"
        );
        assert!(
            out.contains("## Outlook\n\nEnd.\n\n## Sources\n\n1. "),
            "{out}"
        );
        assert!(
            out.contains(r"1. [Chips \[update\] \*now\*](https://news.example/a%20%281%29)"),
            "{out}"
        );
        assert!(out.ends_with("2. [반도체 투자](https://news.example.kr/b)\n"));
        let html = crate::publish::html::to_html(&out);
        assert!(
            html.contains(r#"href="https://news.example/a%20%281%29""#),
            "{html}"
        );
    }

    #[test]
    fn korean_lists_and_headings_in_code_are_handled() {
        let body = "본문 [1].\n\n```\n## 출처\n```\n\n## 참고 자료\n\n- 가짜";
        let out = with_list(body, &refs()[1..], Language::Ko);
        assert!(out.contains("```\n## 출처\n```"), "{out}");
        assert!(!out.contains("가짜"), "{out}");
        assert!(out.ends_with("## 출처\n\n1. [반도체 투자](https://news.example.kr/b)\n"));
        assert_eq!(with_list("text\n", &[], Language::Ko), "text");
    }
}
