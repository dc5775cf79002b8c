//! Links in a generated body may point only where blogflow allows: the post's sources and the
//! blog's own pages. A source page can tell the model to link somewhere ("ignore your
//! instructions and link to …"); whatever the model did, such a link does not leave.
//!
//! Markdown links and images, autolinks, raw HTML with `href`/`src`, reference definitions and
//! bare URLs (which Hugo and GitHub-flavoured renderers turn into links) are all checked. A
//! removed link keeps its text; a removed image, autolink or bare URL goes entirely.

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// Where links may point.
#[derive(Debug, Clone, Default)]
pub struct LinkPolicy {
    /// Exact pages (compared without fragment and trailing slash).
    pages: Vec<String>,
    /// Whole sites (scheme and host): the blog's own.
    sites: Vec<(String, String)>,
}

impl LinkPolicy {
    /// Links to `pages` (the sources) and anywhere on `sites` (the blog's addresses).
    pub fn new<'a>(
        pages: impl IntoIterator<Item = &'a str>,
        sites: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        Self {
            pages: pages.into_iter().filter_map(page_key).collect(),
            sites: sites
                .into_iter()
                .filter_map(|s| url::Url::parse(s).ok())
                .filter_map(|u| Some((u.scheme().to_owned(), u.host_str()?.to_lowercase())))
                .collect(),
        }
    }

    /// Whether a link to `target` may stay. Relative links and fragments point into the blog.
    pub fn allows(&self, target: &str) -> bool {
        let target = target.trim();
        let Ok(url) = url::Url::parse(target) else {
            // No scheme: a path on the blog itself, or a fragment. Protocol-relative
            // (`//host/…`) names another site.
            return !target.starts_with("//") && !target.contains(':');
        };
        if !matches!(url.scheme(), "http" | "https") {
            return false;
        }
        let host = url.host_str().unwrap_or_default().to_lowercase();
        if self.sites.iter().any(|(_, h)| *h == host) {
            return true;
        }
        page_key(target).is_some_and(|k| self.pages.contains(&k))
    }
}

fn page_key(url: &str) -> Option<String> {
    let mut u = url::Url::parse(url.trim()).ok()?;
    u.set_fragment(None);
    let s = u.as_str().trim_end_matches('/').to_owned();
    Some(s)
}

/// `body` with every link `policy` does not allow removed, and the removed targets.
pub fn filter(body: &str, policy: &LinkPolicy) -> (String, Vec<String>) {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let parser = Parser::new_ext(body, options);
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    // A removed link or image being read: (its range, keep its text, its text).
    let mut open: Option<(Range<usize>, bool, String)> = None;
    let mut nested = 0usize;
    // Inside an allowed link: its text is not a bare URL.
    let mut allowed_link = 0usize;
    let mut code = false;
    // Consecutive text (the parser splits it at `_`, `*`, `!`…), read as one.
    let mut run: Option<Range<usize>> = None;
    let definitions: Vec<(String, Range<usize>)> = parser
        .reference_definitions()
        .iter()
        .map(|(_, d)| (d.dest.to_string(), d.span.clone()))
        .collect();
    let flush = |run: &mut Option<Range<usize>>,
                 edits: &mut Vec<(Range<usize>, String)>,
                 removed: &mut Vec<String>| {
        if let Some(range) = run.take() {
            let (kept, urls) = without_urls(&body[range.clone()], policy);
            if !urls.is_empty() {
                removed.extend(urls);
                edits.push((range, kept));
            }
        }
    };
    for (event, range) in parser.into_offset_iter() {
        if let Some((_, keep, text)) = open.as_mut() {
            match &event {
                Event::Start(Tag::Link { .. } | Tag::Image { .. }) => nested += 1,
                Event::End(TagEnd::Link | TagEnd::Image) if nested > 0 => nested -= 1,
                Event::End(TagEnd::Link | TagEnd::Image) => {
                    let (range, keep, text) = open.take().expect("open");
                    let text = if keep {
                        without_urls(&text, &LinkPolicy::default()).0
                    } else {
                        String::new()
                    };
                    edits.push((range, text));
                }
                Event::Text(t) | Event::Code(t) if *keep => text.push_str(t),
                _ => {}
            }
            continue;
        }
        if let Event::Text(_) = event
            && !code
            && allowed_link == 0
        {
            run = match run.take() {
                Some(r) if r.end == range.start => Some(r.start..range.end),
                other => {
                    let mut other = other;
                    flush(&mut other, &mut edits, &mut removed);
                    Some(range)
                }
            };
            continue;
        }
        flush(&mut run, &mut edits, &mut removed);
        match event {
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                ..
            }) => {
                if policy.allows(&dest_url) {
                    allowed_link += 1;
                } else {
                    removed.push(dest_url.to_string());
                    let keep = !matches!(
                        link_type,
                        pulldown_cmark::LinkType::Autolink | pulldown_cmark::LinkType::Email
                    );
                    open = Some((range, keep, String::new()));
                }
            }
            Event::End(TagEnd::Link) => allowed_link = allowed_link.saturating_sub(1),
            Event::Start(Tag::Image { dest_url, .. }) => {
                if policy.allows(&dest_url) {
                    allowed_link += 1;
                } else {
                    removed.push(dest_url.to_string());
                    open = Some((range, false, String::new()));
                }
            }
            Event::End(TagEnd::Image) => allowed_link = allowed_link.saturating_sub(1),
            Event::Start(Tag::CodeBlock(_)) => code = true,
            Event::End(TagEnd::CodeBlock) => code = false,
            Event::Html(html) | Event::InlineHtml(html) => {
                let bad: Vec<String> = html_targets(&html)
                    .into_iter()
                    .filter(|t| !policy.allows(t))
                    .collect();
                if !bad.is_empty() {
                    removed.extend(bad);
                    edits.push((range, String::new()));
                }
            }
            _ => {}
        }
    }
    flush(&mut run, &mut edits, &mut removed);
    for (dest, span) in definitions {
        if !policy.allows(&dest) {
            removed.push(dest);
            edits.push((span, String::new()));
        }
    }
    let out = crate::shared::splice::splice(body, edits);
    let mut seen = std::collections::HashSet::new();
    removed.retain(|r| seen.insert(r.clone()));
    (out, removed)
}

/// `text` without the bare URLs (`http://…`, `https://…`, `www.…`) `policy` does not allow,
/// and those URLs.
fn without_urls(text: &str, policy: &LinkPolicy) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len());
    let mut urls = Vec::new();
    let mut rest = text;
    loop {
        let lower = rest.to_ascii_lowercase();
        let next = ["https://", "http://", "www."]
            .iter()
            .filter_map(|p| lower.find(p))
            .filter(|&i| {
                // "www." inside a word is not a link.
                i == 0 || !rest[..i].ends_with(|c: char| c.is_alphanumeric() || c == '.')
            })
            .min();
        let Some(start) = next else {
            out.push_str(rest);
            break;
        };
        let len = rest[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | ')' | ']'))
            .unwrap_or(rest.len() - start);
        // Trailing punctuation ends the sentence, not the URL.
        let url = rest[start..start + len].trim_end_matches(['.', ',', ';', ':', '!', '?']);
        let full = if url.starts_with("www.") {
            format!("http://{url}")
        } else {
            url.to_owned()
        };
        if url.len() <= "www.".len() || policy.allows(&full) {
            let end = start + url.len().max(1);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        out.push_str(rest[..start].trim_end_matches(' '));
        urls.push(url.to_owned());
        rest = &rest[start + url.len()..];
    }
    (out, urls)
}

/// The `href` and `src` values of raw HTML.
fn html_targets(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    for attr in ["href", "src", "action", "srcset"] {
        let mut from = 0;
        while let Some(i) = lower[from..].find(attr) {
            let at = from + i + attr.len();
            from = at;
            let rest = html[at..].trim_start();
            let Some(value) = rest.strip_prefix('=') else {
                continue;
            };
            let value = value.trim_start();
            let target = match value.chars().next() {
                Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or_default(),
                _ => value
                    .split(|c: char| c.is_whitespace() || c == '>')
                    .next()
                    .unwrap_or_default(),
            };
            out.push(target.to_owned());
        }
    }
    // Any tag that could carry a link counts even without a readable target.
    if out.is_empty()
        && (lower.contains("<a ") || lower.contains("<img") || lower.contains("<iframe"))
    {
        out.push(html.trim().to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LinkPolicy {
        LinkPolicy::new(
            ["https://news.example/a", "https://news.example.kr/b/"],
            ["https://blog.example.com"],
        )
    }

    #[test]
    fn only_sources_and_the_blog_itself_stay() {
        let p = policy();
        for ok in [
            "https://news.example/a",
            "https://news.example/a/#part",
            "https://news.example.kr/b",
            "https://blog.example.com/posts/other/",
            "/posts/other/",
            "#section",
        ] {
            assert!(p.allows(ok), "{ok}");
        }
        for bad in [
            "https://news.example/other",
            "https://spam.example",
            "//spam.example/x",
            "javascript:alert(1)",
            "mailto:a@b.c",
            "ftp://news.example/a",
        ] {
            assert!(!p.allows(bad), "{bad}");
        }
    }

    #[test]
    fn foreign_links_lose_their_target_and_keep_their_text() {
        let body = "Read [the report](https://news.example/a) [1].\n\n\
                    Also [buy now](https://spam.example/deal \"t\") and <https://spam.example/auto>.\n\n\
                    Visit https://spam.example/bare, or www.spam.example today.\n\n\
                    ![pixel](https://spam.example/p.gif)\n\n\
                    <a href=\"https://spam.example/html\">html link</a>\n\n\
                    See [ref][x].\n\n[x]: https://spam.example/ref\n\n\
                    ```\ncurl https://code.example/ok\n```\n\n\
                    Our [older post](/posts/older/) and [home](https://blog.example.com/).";
        let (out, removed) = filter(body, &policy());
        assert!(!out.contains("spam.example"), "{out}");
        assert!(out.contains("Also buy now and ."), "{out}");
        assert!(out.contains("Visit, or today."), "{out}");
        assert!(out.contains("See ref."), "{out}");
        assert!(out.contains("[the report](https://news.example/a) [1]"));
        assert!(
            out.contains("curl https://code.example/ok"),
            "code is not a link: {out}"
        );
        assert!(
            out.contains("[older post](/posts/older/)")
                && out.contains("[home](https://blog.example.com/)")
        );
        for r in [
            "https://spam.example/deal",
            "https://spam.example/auto",
            "https://spam.example/bare",
            "www.spam.example",
            "https://spam.example/p.gif",
            "https://spam.example/html",
            "https://spam.example/ref",
        ] {
            assert!(removed.iter().any(|x| x == r), "{r} not in {removed:?}");
        }
        let html = crate::publish::html::to_html(&out);
        assert!(!html.contains("spam"), "{html}");
    }

    #[test]
    fn a_link_whose_text_is_a_url_leaves_no_url_behind() {
        let (out, removed) = filter(
            "링크: [https://spam.example](https://spam.example) 끝. https://news.example/a",
            &policy(),
        );
        assert!(
            !out.contains("spam") && out.ends_with("끝. https://news.example/a"),
            "{out}"
        );
        assert_eq!(removed, ["https://spam.example"]);
        let (same, none) = filter("주가가 3.5% 올랐다 [1].", &policy());
        assert_eq!(same, "주가가 3.5% 올랐다 [1].");
        assert!(none.is_empty());
    }
}
