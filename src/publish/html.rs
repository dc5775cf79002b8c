//! Markdown to sanitized HTML for targets that take HTML (webhook receivers, WordPress,
//! Ghost): a model's output is untrusted text, so whatever it put in a post, the HTML that
//! leaves holds no script, event handler or foreign frame.

/// The post body as HTML: CommonMark plus tables and strikethrough, then `ammonia`'s
/// allow-list (links get `rel="noopener noreferrer"`).
pub fn to_html(markdown: &str) -> String {
    let options =
        pulldown_cmark::Options::ENABLE_TABLES | pulldown_cmark::Options::ENABLE_STRIKETHROUGH;
    let parser = pulldown_cmark::Parser::new_ext(markdown, options);
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut raw, parser);
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer"))
        .clean(&raw)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_html_without_anything_that_runs() {
        let html = to_html(
            "## Heading\n\nText with [a link](https://example.org) and **bold**.\n\n\
             <script>alert(1)</script>\n\n[bad](javascript:alert(2))\n\n<img src=x onerror=alert(3)>\n\n\
             | a | b |\n|---|---|\n| 1 | 2 |\n",
        );
        assert!(html.contains("<h2>Heading</h2>"), "{html}");
        assert!(html.contains("<strong>bold</strong>"));
        assert!(
            html.contains(r#"<a href="https://example.org" rel="noopener noreferrer">a link</a>"#),
            "{html}"
        );
        assert!(html.contains("<table>"), "{html}");
        for bad in ["<script", "javascript:", "onerror", "alert(1)"] {
            assert!(!html.contains(bad), "{bad} left in {html}");
        }
    }
}
