//! The plain-text format for small models: the body and the title are asked for in two simple
//! requests, and the structured fields (slug, summary, tags, SEO) are derived from them. A
//! 135M-parameter model cannot be trusted to emit a complete JSON object; it can write prose.

use super::GeneratedPost;
use super::prompt::sanitize;
use super::slug::slugify;
use crate::config::Language;
use crate::llm::ChatRequest;

/// The request for the article body.
pub fn body_request(topic: &str, category: &str, language: Language) -> ChatRequest {
    let (topic, category) = (sanitize(topic), sanitize(category));
    let (system, user) = match language {
        Language::En => (
            "You are a helpful assistant who writes clear, factual blog articles in English."
                .to_owned(),
            format!(
                "Write a blog article about {topic} for a blog about {category}. Start with a short introduction. \
                 Then write three sections; start each section with a heading line like \"## Heading\". \
                 End with a short conclusion."
            ),
        ),
        Language::Ko => (
            "당신은 명확하고 사실에 기반한 블로그 글을 한국어로 쓰는 도우미입니다.".to_owned(),
            format!(
                "{category} 블로그에 올릴 {topic}에 관한 글을 쓰세요. 짧은 도입부로 시작하고, \"## 제목\" 형식의 \
                 소제목이 붙은 섹션 세 개를 쓴 뒤, 짧은 결론으로 끝내세요."
            ),
        ),
    };
    ChatRequest {
        system,
        user,
        max_tokens: None,
    }
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
    let t: String = t.chars().take(120).collect();
    if slugify(&t).len() < 3 {
        let topic = sanitize(topic);
        let mut chars = topic.chars();
        return chars
            .next()
            .map_or(topic.clone(), |c| c.to_uppercase().chain(chars).collect());
    }
    t
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
    fn titles_lose_their_decoration() {
        assert_eq!(
            clean_title("Title: \"The Rise of AI Agents\"\nMore text", "x"),
            "The Rise of AI Agents"
        );
        assert_eq!(clean_title("# **Chips for AI**", "x"), "Chips for AI");
        assert_eq!(clean_title("  \n\n", "AI chips"), "AI chips");
        assert_eq!(clean_title("", "open models"), "Open models");
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
