//! One RSS, Atom or JSON feed: conditional GET (ETag, Last-Modified), bounded size and item
//! count, include/exclude keywords. Every problem is an error for that feed only.

pub use crate::config::{FeedConfig, FeedLimits};
pub use crate::store::FeedItem;

/// What a fetch brought.
#[derive(Debug)]
pub enum Fetched {
    /// The server said nothing changed (304).
    NotModified,
    /// Items (already filtered and bounded) and the validators for the next fetch.
    Items {
        /// The items, newest first.
        items: Vec<FeedItem>,
        /// Items in the document before filtering and bounding.
        seen: usize,
        /// `ETag` to send next time.
        etag: Option<String>,
        /// `Last-Modified` to send next time.
        last_modified: Option<String>,
    },
}

/// Fetches and parses `feed`, sending the validators of the previous fetch.
pub async fn fetch(
    http: &reqwest::Client,
    feed: &FeedConfig,
    etag: Option<&str>,
    last_modified: Option<&str>,
    limits: FeedLimits,
) -> Result<Fetched, String> {
    let mut request = http.get(&feed.url).header(
        reqwest::header::ACCEPT,
        "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, */*;q=0.8",
    );
    if let Some(e) = etag {
        request = request.header(reqwest::header::IF_NONE_MATCH, e);
    }
    if let Some(m) = last_modified {
        request = request.header(reqwest::header::IF_MODIFIED_SINCE, m);
    }
    let mut response = request.send().await.map_err(|e| {
        if e.is_timeout() {
            "timed out".to_owned()
        } else {
            format!("cannot fetch: {}", e.without_url())
        }
    })?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified);
    }
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let (etag, last_modified) = (
        header(reqwest::header::ETAG),
        header(reqwest::header::LAST_MODIFIED),
    );
    if response
        .content_length()
        .is_some_and(|n| n > limits.max_bytes as u64)
    {
        return Err(too_large(limits.max_bytes));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading the body: {}", e.without_url()))?
    {
        if body.len() + chunk.len() > limits.max_bytes {
            return Err(too_large(limits.max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    let (items, seen) = parse(&body, feed, limits, crate::db::now_ms())?;
    Ok(Fetched::Items {
        items,
        seen,
        etag,
        last_modified,
    })
}

/// The wanted items of a feed document (RSS, Atom or JSON Feed), newest first and bounded,
/// and how many the document held. `now` is ms since epoch: no item is dated after it.
pub fn parse(
    body: &[u8],
    feed: &FeedConfig,
    limits: FeedLimits,
    now: i64,
) -> Result<(Vec<FeedItem>, usize), String> {
    let parsed = feed_rs::parser::parse(body)
        .map_err(|e| format!("not a valid RSS, Atom or JSON feed: {e}"))?;
    let seen = parsed.entries.len();
    let oldest = now - limits.max_age.as_millis() as i64;
    let mut items: Vec<FeedItem> = parsed
        .entries
        .into_iter()
        .filter_map(|e| {
            let title = e.title.map(|t| clean(&t.content, 300))?;
            if title.is_empty() {
                return None;
            }
            let summary = e
                .summary
                .map(|s| s.content)
                .or_else(|| e.content.and_then(|c| c.body))
                .map(|s| clean(&s, 500))
                .unwrap_or_default();
            let published_at = e
                .published
                .or(e.updated)
                .map_or(now, |t| t.timestamp_millis().min(now));
            let href = e.links.first().map(|l| l.href.trim().to_owned());
            let url = href.as_deref().and_then(crate::content::normalize::url);
            // Fetchable as given (the normalized key drops the scheme and `www.`).
            let link = href.filter(|_| url.is_some()).map(|h| {
                h.split_once('#')
                    .map_or(h.as_str(), |(page, _)| page)
                    .to_owned()
            });
            let guid = (!e.id.trim().is_empty()).then(|| e.id.trim().to_owned());
            Some(FeedItem {
                guid,
                url,
                link,
                title,
                summary,
                published_at,
            })
        })
        .filter(|i| i.published_at >= oldest && wanted(feed, i))
        .collect();
    items.sort_by_key(|i| std::cmp::Reverse(i.published_at));
    items.truncate(limits.max_items);
    Ok((items, seen))
}

fn too_large(max: usize) -> String {
    format!(
        "larger than {} KiB: ignored (raise topics.max_feed_kib if the feed is legitimate)",
        max / 1024
    )
}

/// Include and exclude keywords, case-insensitive, on title and summary.
fn wanted(feed: &FeedConfig, item: &FeedItem) -> bool {
    let text = format!("{} {}", item.title, item.summary).to_lowercase();
    let has = |k: &String| text.contains(&k.to_lowercase());
    (feed.include.is_empty() || feed.include.iter().any(has)) && !feed.exclude.iter().any(has)
}

/// Plain text: tags removed, entities for the common cases decoded, spaces collapsed, bounded.
fn clean(html: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(html.len().min(max_chars * 4));
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ");
    decoded
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(max_chars)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn markup_is_stripped_and_keywords_filter() {
        assert_eq!(
            clean("<p>GPT &amp; <b>agents</b></p>\n  now", 100),
            "GPT & agents now"
        );
        let feed = FeedConfig {
            name: "f".into(),
            url: "http://x".into(),
            category: "ai".into(),
            interval: Duration::from_secs(60),
            include: vec!["AI".into(), "모델".into()],
            exclude: vec!["sponsored".into()],
            weight: 1.0,
        };
        let item = |title: &str| FeedItem {
            guid: None,
            url: None,
            link: None,
            title: title.into(),
            summary: String::new(),
            published_at: 0,
        };
        assert!(wanted(&feed, &item("New AI chip")));
        assert!(wanted(&feed, &item("새 언어 모델 공개")));
        assert!(!wanted(&feed, &item("Gardening tips")));
        assert!(!wanted(&feed, &item("AI tools (sponsored)")));
    }
}
