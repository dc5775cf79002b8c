//! Markdown made safe for MDX (Astro's and Next's `.mdx` files).
//!
//! MDX reads `{` as the start of a JavaScript expression, `<` as the start of a JSX tag and a
//! paragraph that starts with `import` or `export` as an ES module statement, so prose such as
//! "set `{temperature: 0.2}`", "answers in < 100 ms" or an HTML comment fails the whole site's
//! build. The model writes Markdown, not MDX: every such character in text is escaped the
//! CommonMark way (`\{`, `\}`, `\<`), an autolink becomes an ordinary link, and a leading
//! `import`/`export` word gets a character reference for its first letter. Code spans and code
//! blocks are left as they are: MDX takes them literally.

use std::ops::Range;

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};

/// `body` with everything MDX would not read as Markdown escaped.
pub fn escape(body: &str) -> String {
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut in_code_block = false;
    let mut in_autolink = false;
    for (event, range) in Parser::new_ext(body, Options::all()).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(_)) => in_code_block = true,
            Event::End(TagEnd::CodeBlock) => in_code_block = false,
            Event::Start(Tag::Link {
                link_type: LinkType::Autolink | LinkType::Email,
                dest_url,
                ..
            }) => {
                // `<https://…>` would open a JSX tag: write it as `[https://…](https://…)`.
                let text = body[range.clone()]
                    .trim_start_matches('<')
                    .trim_end_matches('>');
                edits.push((range, format!("[{}]({dest_url})", escape_chars(text))));
                in_autolink = true;
            }
            Event::End(TagEnd::Link) => in_autolink = false,
            Event::Text(_) | Event::Html(_) | Event::InlineHtml(_)
                if !in_code_block && !in_autolink =>
            {
                escape_range(body, range, &mut edits);
            }
            _ => {}
        }
    }
    // An edit inside an autolink already rewritten is dropped.
    crate::shared::splice::splice(body, edits)
}

/// Escapes `{`, `}` and `<` in `body[range]` (unless already escaped) and guards a leading
/// `import`/`export`.
fn escape_range(body: &str, range: Range<usize>, edits: &mut Vec<(Range<usize>, String)>) {
    let text = &body[range.clone()];
    let line_start = body[..range.start]
        .chars()
        .next_back()
        .is_none_or(|c| c == '\n');
    if line_start
        && ["import", "export"]
            .iter()
            .any(|w| text.starts_with(w) && !text[w.len()..].starts_with(char::is_alphanumeric))
    {
        let first = text.chars().next().expect("starts with a word");
        edits.push((
            range.start..range.start + 1,
            format!("&#{};", u32::from(first)),
        ));
    }
    for (i, ch) in text.char_indices() {
        let at = range.start + i;
        if matches!(ch, '{' | '}' | '<') && !body[..at].ends_with('\\') {
            edits.push((at..at + 1, format!("\\{ch}")));
        }
    }
}

fn escape_chars(text: &str) -> String {
    text.replace('{', "\\{")
        .replace('}', "\\}")
        .replace('<', "\\<")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_tags_and_module_lines_in_prose_are_escaped() {
        assert_eq!(
            escape("Set {temperature: 0.2} for answers in < 100ms."),
            "Set \\{temperature: 0.2\\} for answers in \\< 100ms."
        );
        assert_eq!(
            escape("import this\n\nexport all the things"),
            "&#105;mport this\n\n&#101;xport all the things"
        );
        assert_eq!(escape("importance matters"), "importance matters");
        assert_eq!(escape("<!-- note -->\n\ntext"), "\\<!-- note -->\n\ntext");
        assert_eq!(
            escape("see <https://example.com/a>"),
            "see [https://example.com/a](https://example.com/a)"
        );
        assert_eq!(escape("already \\{ escaped"), "already \\{ escaped");
    }

    #[test]
    fn code_stays_literal() {
        let body = "Use `{x}` here.\n\n```json\n{\"a\": \"<b>\"}\n```\n";
        assert_eq!(escape(body), body);
    }
}
