//! Strict parsing of the model's answer into a structured post.
//!
//! The model is asked for one JSON object. Models wrap it in prose or code fences, so the
//! parser finds the first JSON object in the text, then checks every key. Anything missing or
//! of the wrong type is rejected with the list of what is wrong, so a retry can be logged with
//! a reason and a human can see why a post was not written.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::shared::slug::slugify;

/// A post as the model wrote it, checked for completeness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GeneratedPost {
    /// Headline.
    pub title: String,
    /// URL slug (derived from the title when the model's is unusable).
    pub slug: String,
    /// One or two sentences.
    pub summary: String,
    /// Tags.
    pub tags: Vec<String>,
    /// `<title>` for search engines.
    pub seo_title: String,
    /// Meta description.
    pub seo_description: String,
    /// Meta keywords.
    pub seo_keywords: Vec<String>,
    /// Markdown body.
    pub body: String,
}

/// Why an answer is not a usable post.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No JSON object anywhere in the text.
    #[error("the answer contains no JSON object ({0})")]
    NoJson(String),
    /// A JSON object, but incomplete or with wrong types.
    #[error("the post is incomplete: {}", .0.join("; "))]
    Incomplete(Vec<String>),
}

const KEYS: [&str; 8] = [
    "title",
    "slug",
    "summary",
    "tags",
    "seo_title",
    "seo_description",
    "seo_keywords",
    "body",
];

/// Parses the first JSON object in `text` (bare, fenced, or surrounded by prose).
pub fn parse_post(text: &str) -> Result<GeneratedPost, ParseError> {
    let object = first_object(text).ok_or_else(|| {
        let preview: String = text.trim().chars().take(60).collect();
        ParseError::NoJson(if preview.is_empty() {
            "empty answer".into()
        } else {
            format!("starts with {preview:?}")
        })
    })?;
    let mut problems = Vec::new();
    // A missing slug is derived from the title below, like an unusable one.
    let missing: Vec<&str> = KEYS
        .iter()
        .copied()
        .filter(|k| *k != "slug" && !object.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        problems.push(format!("missing {}", missing.join(", ")));
    }
    let mut text_field = |key: &str, required: bool| -> String {
        match object.get(key) {
            Some(Value::String(s)) => {
                let s = s.trim().to_owned();
                if required && s.is_empty() {
                    problems.push(format!("{key} is empty"));
                }
                s
            }
            None => String::new(),
            Some(other) => {
                problems.push(format!("{key} must be a string, not {}", kind(other)));
                String::new()
            }
        }
    };
    let title = text_field("title", true);
    let slug = text_field("slug", false);
    let summary = text_field("summary", true);
    let seo_title = text_field("seo_title", false);
    let seo_description = text_field("seo_description", false);
    let body = text_field("body", true);
    let tags = list(&object, "tags", &mut problems);
    let seo_keywords = list(&object, "seo_keywords", &mut problems);
    if !problems.is_empty() {
        return Err(ParseError::Incomplete(problems));
    }
    let slug = match slugify(&slug) {
        s if s.is_empty() => slugify(&title),
        s => s,
    };
    if slug.is_empty() {
        return Err(ParseError::Incomplete(vec![
            "title has no letters or digits for a slug".into(),
        ]));
    }
    Ok(GeneratedPost {
        seo_title: if seo_title.is_empty() {
            title.clone()
        } else {
            seo_title
        },
        seo_description: if seo_description.is_empty() {
            summary.clone()
        } else {
            seo_description
        },
        title,
        slug,
        summary,
        tags,
        seo_keywords,
        body,
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A list of strings; a comma-separated string is accepted (small models write that).
fn list(object: &Map<String, Value>, key: &str, problems: &mut Vec<String>) -> Vec<String> {
    let items: Vec<String> = match object.get(key) {
        None => return Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.trim().to_owned()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) => s.split(',').map(|t| t.trim().to_owned()).collect(),
        Some(other) => {
            problems.push(format!(
                "{key} must be a list of strings, not {}",
                kind(other)
            ));
            return Vec::new();
        }
    };
    let mut out: Vec<String> = Vec::new();
    for item in items.into_iter().filter(|s| !s.is_empty()) {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(&item)) {
            out.push(item);
        }
    }
    out.truncate(12);
    out
}

fn first_object(text: &str) -> Option<Map<String, Value>> {
    for (i, _) in text.match_indices('{') {
        let mut values = serde_json::Deserializer::from_str(&text[i..]).into_iter::<Value>();
        if let Some(Ok(Value::Object(map))) = values.next() {
            return Some(map);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn full() -> Value {
        json!({
            "title": "Agents Grow Up", "slug": "agents-grow-up", "summary": "What changed.",
            "tags": ["AI", "agents", "ai"], "seo_title": "Agents", "seo_description": "Desc",
            "seo_keywords": "agents, llm", "body": "## Intro\n\nText."
        })
    }

    #[test]
    fn accepts_bare_fenced_and_chatty_answers() {
        let bare = full().to_string();
        let fenced = format!("```json\n{bare}\n```");
        let chatty =
            format!("Sure! Here is your post {{as requested}}:\n{fenced}\nHope it helps {{}}.");
        for text in [bare.clone(), fenced, chatty] {
            let p = parse_post(&text).unwrap();
            assert_eq!(p.title, "Agents Grow Up");
            assert_eq!(p.tags, ["AI", "agents"], "deduplicated case-insensitively");
            assert_eq!(p.seo_keywords, ["agents", "llm"]);
        }
    }

    #[test]
    fn rejects_incomplete_posts_with_every_reason() {
        let mut v = full();
        let o = v.as_object_mut().unwrap();
        o.remove("body");
        o.remove("tags");
        o.insert("title".into(), json!(42));
        o.insert("summary".into(), json!("  "));
        let err = parse_post(&v.to_string()).unwrap_err().to_string();
        for part in [
            "missing tags, body",
            "title must be a string, not a number",
            "summary is empty",
        ] {
            assert!(err.contains(part), "{part:?} not in {err}");
        }
    }

    #[test]
    fn rejects_text_without_json() {
        assert!(matches!(
            parse_post("I cannot help with that."),
            Err(ParseError::NoJson(_))
        ));
        assert!(matches!(parse_post(""), Err(ParseError::NoJson(_))));
        assert!(matches!(parse_post("{ broken"), Err(ParseError::NoJson(_))));
    }

    #[test]
    fn a_missing_slug_is_derived_from_the_title() {
        let mut v = full();
        v.as_object_mut().unwrap().remove("slug");
        assert_eq!(parse_post(&v.to_string()).unwrap().slug, "agents-grow-up");
    }

    #[test]
    fn a_bad_slug_falls_back_to_the_title() {
        let mut v = full();
        v["slug"] = json!("../../");
        assert_eq!(parse_post(&v.to_string()).unwrap().slug, "agents-grow-up");
    }
}
