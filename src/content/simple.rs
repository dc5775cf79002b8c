//! The plain-text format for small models. A 135M-parameter model cannot be trusted to emit a
//! complete JSON object, nor to follow "write three sections of 300 words": it stops early and
//! forgets the headings. It can write a paragraph about a given point. So the article is
//! written in small steps (an outline of three headings, an introduction, each section, a
//! conclusion, a title) and assembled here; slug, summary, tags and SEO fields are derived.

use super::GeneratedPost;
use super::prompt::sanitize;
use crate::config::Language;
use crate::llm::ChatRequest;
use crate::shared::slug::slugify;

fn request(system: &str, user: String, max_tokens: u32) -> ChatRequest {
    ChatRequest {
        system: system.to_owned(),
        user,
        max_tokens: Some(max_tokens),
    }
}

fn writer(language: Language) -> &'static str {
    match language {
        Language::En => {
            "You are a helpful assistant who writes clear, factual blog articles in English."
        }
        Language::Ko => "당신은 명확하고 사실에 기반한 블로그 글을 한국어로 쓰는 도우미입니다.",
    }
}

/// `request` with `facts` from the news in front (unchanged without facts): a small model
/// reports what it is given instead of inventing figures.
pub fn with_facts(mut request: ChatRequest, facts: &str, language: Language) -> ChatRequest {
    if facts.is_empty() {
        return request;
    }
    let lead = match language {
        Language::En => "Facts from the news (use only these figures and names):",
        Language::Ko => "뉴스에서 나온 사실 (수치와 이름은 여기 있는 것만 쓰세요):",
    };
    request.user = format!("{lead}\n{facts}\n\n{}", request.user);
    request
}

/// The request for three section headings, one per line.
pub fn outline_request(topic: &str, language: Language) -> ChatRequest {
    let topic = sanitize(topic);
    let user = match language {
        Language::En => format!(
            "List three short section headings for a blog article about {topic}. Write one heading per line and nothing else."
        ),
        Language::Ko => {
            format!("{topic}에 관한 블로그 글의 짧은 소제목 세 개를 한 줄에 하나씩만 쓰세요.")
        }
    };
    request(writer(language), user, 60)
}

/// The request for the introduction.
pub fn intro_request(topic: &str, category: &str, language: Language) -> ChatRequest {
    let (topic, category) = (sanitize(topic), sanitize(category));
    let user = match language {
        Language::En => format!(
            "Write the introduction of a blog article about {topic} for a blog about {category}: one paragraph that says why it matters now."
        ),
        Language::Ko => format!(
            "{category} 블로그에 올릴 {topic}에 관한 글의 도입부를 한 문단으로 쓰세요. 왜 지금 중요한지 설명하세요."
        ),
    };
    request(writer(language), user, 180)
}

/// The request for one section's text.
pub fn section_request(topic: &str, heading: &str, language: Language) -> ChatRequest {
    let (topic, heading) = (sanitize(topic), sanitize(heading));
    let user = match language {
        Language::En => format!(
            "Write two paragraphs for the section \"{heading}\" of a blog article about {topic}. Do not repeat the heading."
        ),
        Language::Ko => format!(
            "{topic}에 관한 블로그 글의 \"{heading}\" 섹션을 두 문단으로 쓰세요. 소제목은 반복하지 마세요."
        ),
    };
    request(writer(language), user, 280)
}

/// The request for the conclusion.
pub fn conclusion_request(topic: &str, language: Language) -> ChatRequest {
    let topic = sanitize(topic);
    let user = match language {
        Language::En => format!(
            "Write the conclusion of a blog article about {topic}: one short paragraph with a practical takeaway."
        ),
        Language::Ko => format!(
            "{topic}에 관한 블로그 글의 결론을 실용적인 조언을 담아 짧은 한 문단으로 쓰세요."
        ),
    };
    request(writer(language), user, 150)
}

/// Three headings from the model's outline, or sensible ones when it gave fewer.
pub fn parse_outline(raw: &str, topic: &str, language: Language) -> Vec<String> {
    let mut headings: Vec<String> = Vec::new();
    for line in crate::llm::local::template::strip_control(raw).lines() {
        let t = line.trim().trim_start_matches(['#', '-', '*', '•', ' ']);
        let t = t
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start_matches(['.', ')', ':', ' ']);
        let t = t
            .trim_matches(|c: char| matches!(c, '"' | '\'' | '*' | '`' | ':'))
            .trim();
        let len = t.chars().count();
        // The introduction and conclusion are written by their own steps.
        let own_step = ["introduction", "conclusion", "summary", "결론", "서론"]
            .iter()
            .any(|w| t.to_lowercase().starts_with(w));
        if (3..=80).contains(&len)
            && !own_step
            && !headings.iter().any(|h| h.eq_ignore_ascii_case(t))
        {
            headings.push(t.to_owned());
        }
        if headings.len() == 3 {
            return headings;
        }
    }
    let topic = sanitize(topic);
    let fallback = match language {
        Language::En => [
            format!("Why {topic} matters now"),
            format!("How {topic} works in practice"),
            "What to watch next".to_owned(),
        ],
        Language::Ko => [
            format!("{topic}이(가) 지금 중요한 이유"),
            format!("{topic}의 실제 활용"),
            "앞으로 지켜볼 점".to_owned(),
        ],
    };
    for f in fallback {
        if headings.len() < 3 {
            headings.push(f);
        }
    }
    headings
}

/// The body from its parts; each part is cleaned, a section that repeats its heading loses it.
pub fn assemble_body(
    intro: &str,
    sections: &[(String, String)],
    conclusion: &str,
    language: Language,
) -> String {
    let mut out = vec![clean_body(intro, true)];
    for (heading, text) in sections {
        let mut text = clean_body(text, true);
        if let Some(first) = text.lines().next()
            && first
                .trim_start_matches(['#', ' '])
                .trim()
                .eq_ignore_ascii_case(heading)
        {
            text = text
                .lines()
                .skip(1)
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_owned();
        }
        out.push(format!("## {heading}\n\n{text}"));
    }
    let title = match language {
        Language::En => "Conclusion",
        Language::Ko => "결론",
    };
    out.push(format!("## {title}\n\n{}", clean_body(conclusion, true)));
    out.retain(|part| !part.trim().is_empty());
    out.join("\n\n")
}

/// The request for the title.
pub fn title_request(topic: &str, language: Language) -> ChatRequest {
    let topic = sanitize(topic);
    let (system, user) = match language {
        Language::En => (
            "You write short, specific blog titles.".to_owned(),
            format!("Write one title for a blog article about {topic}. Reply with the title only."),
        ),
        Language::Ko => (
            "당신은 짧고 구체적인 블로그 제목을 씁니다.".to_owned(),
            format!("{topic}에 관한 블로그 글의 제목을 하나만 쓰세요. 제목만 답하세요."),
        ),
    };
    ChatRequest {
        system,
        user,
        max_tokens: Some(32),
    }
}

/// Cleans a model's title: first non-empty line, without quotes, `Title:` or `#` prefixes.
/// Falls back to the topic when nothing usable is left.
pub fn clean_title(raw: &str, topic: &str) -> String {
    let line = raw
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut t = line.trim_start_matches('#').trim();
    for prefix in ["Title:", "title:", "TITLE:", "제목:"] {
        t = t.strip_prefix(prefix).unwrap_or(t).trim();
    }
    let t = t
        .trim_matches(|c: char| matches!(c, '"' | '\'' | '*' | '“' | '”' | '`'))
        .trim();
    let t = shorten(t, 70);
    if slugify(&t).len() < 3 {
        let topic = sanitize(topic);
        let mut chars = topic.chars();
        return chars
            .next()
            .map_or(topic.clone(), |c| c.to_uppercase().chain(chars).collect());
    }
    t
}

/// Cuts a title that runs on (a small model often answers with a sentence) at the last word
/// boundary within `max` characters, dropping a dangling connective.
fn shorten(title: &str, max: usize) -> String {
    if title.chars().count() <= max {
        return title.to_owned();
    }
    let cut: String = title.chars().take(max).collect();
    let mut words: Vec<&str> = cut.split_whitespace().collect();
    words.pop(); // possibly cut mid-word
    while words.last().is_some_and(|w| {
        [
            "a", "an", "and", "the", "of", "to", "in", "for", "with", "is", "or",
        ]
        .contains(&w.to_lowercase().trim_matches([',', ';', ':']))
            || w.ends_with(',')
    }) {
        words.pop();
    }
    words
        .join(" ")
        .trim_end_matches([',', ';', ':', '-', '–'])
        .to_owned()
}

/// Cleans a model's body into Markdown a site renders well: drops a leading `# Title` and
/// control-token text, turns bold-only lines (`**Section 1: …**`, a small model's idea of a
/// heading) into `##` headings, gives each prose line its own paragraph (small models write one
/// paragraph per line), and, when the answer was cut off by the token budget, ends it at the
/// last complete sentence.
pub fn clean_body(raw: &str, truncated: bool) -> String {
    let text = crate::llm::local::template::strip_control(raw);
    let mut text = text.trim().to_owned();
    if truncated && let Some(end) = text.rfind(['.', '!', '?', '。']) {
        text.truncate(end + 1);
    }
    let mut blocks: Vec<String> = Vec::new();
    let mut list = false;
    for line in text.lines().map(str::trim_end) {
        let t = line.trim_start();
        if t.is_empty() {
            list = false;
            continue;
        }
        if blocks.is_empty() && t.starts_with("# ") {
            continue; // the model's own title
        }
        let bold = t.len() > 4
            && t.starts_with("**")
            && (t.ends_with("**") || t.ends_with("**:"))
            && t.matches("**").count() == 2;
        let item = t.starts_with("- ")
            || t.starts_with("* ")
            || t.split_once(". ")
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if bold {
            blocks.push(format!("## {}", t.trim_matches(['*', ':']).trim()));
            list = false;
        } else if item && list {
            if let Some(last) = blocks.last_mut() {
                last.push('\n');
                last.push_str(t);
            }
        } else {
            blocks.push(t.to_owned());
            list = item;
        }
    }
    while blocks.last().is_some_and(|b| b.starts_with('#')) {
        blocks.pop(); // a heading with nothing under it
    }
    blocks.join("\n\n")
}

/// The first sentence of the first paragraph that is not a heading, at most `max` characters.
fn first_sentence(body: &str, max: usize) -> String {
    let paragraph = body
        .split("\n\n")
        .map(str::trim)
        .find(|p| !p.is_empty() && !p.starts_with('#') && !p.starts_with("- "))
        .unwrap_or("");
    let flat = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
    let end = flat
        .find(['.', '!', '?', '。'])
        .map_or(flat.len(), |i| i + 1);
    let sentence: String = flat[..end].chars().take(max).collect();
    sentence.trim().to_owned()
}

/// Builds the structured post from a title and a body.
pub fn assemble(title: String, body: String, topic: &str, category: &str) -> GeneratedPost {
    let summary = first_sentence(&body, 200);
    let mut tags: Vec<String> = vec![sanitize(topic)];
    if !category.is_empty() && !tags.iter().any(|t| t.eq_ignore_ascii_case(category)) {
        tags.push(category.to_owned());
    }
    GeneratedPost {
        slug: slugify(&title),
        seo_title: title.chars().take(60).collect(),
        seo_description: first_sentence(&body, 160),
        seo_keywords: tags.clone(),
        tags,
        summary,
        title,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlines_are_cleaned_and_completed() {
        let h = parse_outline(
            "1. **The Rise of Agents**\n- Tools and Plans:\n\n1. The Rise of Agents\nConclusion and Future\n",
            "AI agents",
            Language::En,
        );
        assert_eq!(
            h,
            [
                "The Rise of Agents",
                "Tools and Plans",
                "Why AI agents matters now"
            ]
        );
    }

    #[test]
    fn sections_are_assembled_with_headings_and_without_repeats() {
        let body = assemble_body(
            "Intro text.",
            &[("Tools".into(), "## Tools\nAgents use tools.".into())],
            "In short, plan ahead. And then",
            Language::En,
        );
        assert_eq!(
            body,
            "Intro text.\n\n## Tools\n\nAgents use tools.\n\n## Conclusion\n\nIn short, plan ahead."
        );
    }

    #[test]
    fn titles_lose_their_decoration() {
        assert_eq!(
            clean_title("Title: \"The Rise of AI Agents\"\nMore text", "x"),
            "The Rise of AI Agents"
        );
        assert_eq!(clean_title("# **Chips for AI**", "x"), "Chips for AI");
        assert_eq!(clean_title("  \n\n", "AI chips"), "AI chips");
        assert_eq!(clean_title("", "open models"), "Open models");
        let long = "In a world where AI can learn from multiple sources, integrating multimodal learning into digital systems is no longer j";
        assert_eq!(
            clean_title(long, "x"),
            "In a world where AI can learn from multiple sources, integrating"
        );
    }

    #[test]
    fn bodies_lose_a_leading_title_and_control_text() {
        assert_eq!(
            clean_body("# My Title\n\nIntro.\n\n## One\n\nText.<|im_end|>", false),
            "Intro.\n\n## One\n\nText."
        );
    }

    #[test]
    fn small_model_habits_become_clean_markdown() {
        let raw = "### Introduction\n**Section 1: Agents**\nAgents act. They plan.\nA second line.\n- one\n- two\nAfter the list.\n**Conclusion**\nIn the end it ran out of tok";
        let body = clean_body(raw, true);
        assert_eq!(
            body,
            "### Introduction\n\n## Section 1: Agents\n\nAgents act. They plan.\n\nA second line.\n\n- one\n- two\n\nAfter the list."
        );
        assert_eq!(first_sentence(&body, 200), "Agents act.");
    }

    #[test]
    fn a_post_is_assembled_from_title_and_body() {
        let p = assemble(
            "The Rise of AI Agents".into(),
            "## Intro\n\nAgents plan and act. They use tools.\n\n## More\n\nText.".into(),
            "AI agents",
            "ai-trends",
        );
        assert_eq!(p.slug, "the-rise-of-ai-agents");
        assert_eq!(p.summary, "Agents plan and act.");
        assert_eq!(p.tags, ["AI agents", "ai-trends"]);
        assert_eq!(p.seo_description, "Agents plan and act.");
    }
}
