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

/// What a page says about a post beyond the post itself, for its structured data.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// The blog's name: publisher and author (the posts are written by the blog, not a person).
    pub blog_name: &'a str,
    /// The blog's address, if known.
    pub blog_url: Option<&'a str>,
    /// The post's feature image, an absolute URL.
    pub image: Option<&'a str>,
    /// The post's own address, when it is known before it is published.
    pub url: Option<&'a str>,
    /// When readers see it first.
    pub published: chrono::DateTime<chrono::Utc>,
}

/// Google shows at most 110 characters of a headline.
const HEADLINE_MAX: usize = 110;

/// The post as schema.org `BlogPosting` JSON-LD: headline, description, image, dates, author
/// and publisher (the fields search engines require or recommend), plus language, section,
/// keywords and the sources it cites.
pub fn blog_posting(post: &crate::store::Post, page: &Page<'_>) -> serde_json::Value {
    use serde_json::json;
    let c = &post.content;
    let at = page
        .published
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let description = if c.seo_description.trim().is_empty() {
        &c.summary
    } else {
        &c.seo_description
    };
    let mut organisation = json!({ "@type": "Organization", "name": page.blog_name });
    if let Some(url) = page.blog_url {
        organisation["url"] = json!(url);
    }
    let mut ld = json!({
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": c.title.chars().take(HEADLINE_MAX).collect::<String>(),
        "description": description,
        "datePublished": at,
        "dateModified": at,
        "author": organisation,
        "publisher": organisation,
        "inLanguage": post.language,
        "articleSection": post.category,
        "keywords": c.tags.join(", "),
    });
    if let Some(image) = page.image {
        ld["image"] = json!([image]);
    }
    if let Some(url) = page.url {
        ld["url"] = json!(url);
        ld["mainEntityOfPage"] = json!({ "@type": "WebPage", "@id": url });
    }
    let cited: Vec<_> = post
        .provenance
        .sources
        .iter()
        .map(|s| json!({ "@type": "CreativeWork", "name": s.title, "url": s.url }))
        .collect();
    if !cited.is_empty() {
        ld["citation"] = json!(cited);
    }
    ld
}

/// `value` in a `<script type="application/ld+json">` element. `<`, `>` and `&` are written as
/// JSON escapes, so no text in the post can close the element early.
pub fn json_ld_script(value: &serde_json::Value) -> String {
    let json = value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    format!("<script type=\"application/ld+json\">{json}</script>")
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
