//! The articles behind topics, cached as fetched and extracted (`sources` table): a retried
//! post reads the same text, and a story's article is fetched once for all its posts.

use super::sql::args;
use super::{Store, StoreError};
use crate::db::now_ms;

/// One fetched and extracted article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    /// The URL asked for (the feed item's link).
    pub url: String,
    /// Where the article was found, after redirects.
    pub final_url: String,
    /// Its title.
    pub title: String,
    /// When it was fetched, ms since epoch.
    pub fetched_at: i64,
    /// SHA-256 of `text`, hex: the same article under two URLs has one hash.
    pub content_hash: String,
    /// The extracted text, paragraphs separated by blank lines.
    pub text: String,
}

impl SourceRecord {
    /// A record of an article fetched now.
    pub fn new(url: &str, final_url: &str, title: &str, text: &str) -> Self {
        Self {
            url: url.to_owned(),
            final_url: final_url.to_owned(),
            title: title.to_owned(),
            fetched_at: now_ms(),
            content_hash: crate::shared::sha256_hex(text.as_bytes()),
            text: text.to_owned(),
        }
    }
}

impl Store {
    /// Saves an article (a newer fetch of the same URL replaces the older).
    pub async fn save_source(&self, source: SourceRecord) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO sources (url, final_url, title, fetched_at, content_hash, text)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (url) DO UPDATE SET final_url = ?2, title = ?3, fetched_at = ?4,
                 content_hash = ?5, text = ?6",
                args![
                    source.url,
                    source.final_url,
                    source.title,
                    source.fetched_at,
                    source.content_hash,
                    source.text
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// The article cached for `url`, if any.
    pub async fn source(&self, url: &str) -> Result<Option<SourceRecord>, StoreError> {
        let url = url.to_owned();
        self.call(move |c| {
            c.query_opt(
                "SELECT url, final_url, title, fetched_at, content_hash, text FROM sources WHERE url = ?1",
                args![url],
            )?
            .map(|r| {
                Ok(SourceRecord {
                    url: r.get(0)?,
                    final_url: r.get(1)?,
                    title: r.get(2)?,
                    fetched_at: r.get(3)?,
                    content_hash: r.get(4)?,
                    text: r.get(5)?,
                })
            })
            .transpose()
        })
        .await
    }
}
