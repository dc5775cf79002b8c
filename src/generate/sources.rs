//! The sources of a post: the article a feed item links to and the other items of its story,
//! read through the safe fetcher, cached in the store.

use super::*;
use crate::content::{Source, SourceRef, UnreadSource};
use crate::sources::{Fetcher, SourcesConfig};
use crate::store::{PoolTopic, SourceRecord};

/// How long a page read is used again instead of being fetched (a retried post reads the
/// same text; news pages rarely change after a day).
const CACHE_FOR_MS: i64 = 24 * 3_600_000;

/// A feed's own summary stands in for an article that could not be read only when it says
/// this much (shorter ones are teasers, too thin to write from).
const MIN_SUMMARY_CHARS: usize = 200;

/// Reads sources for posts.
#[derive(Debug, Clone)]
pub(super) struct Reader {
    fetcher: Fetcher,
    /// Articles per post.
    max_per_post: usize,
    /// Characters of source text in one prompt.
    pub(super) prompt_chars: usize,
}

impl Reader {
    pub(super) fn new(config: SourcesConfig) -> Self {
        Self {
            max_per_post: config.max_per_post,
            prompt_chars: config.prompt_chars,
            fetcher: Fetcher::new(config),
        }
    }
}

/// What reading a topic's sources gave.
#[derive(Debug, Clone, Default)]
pub(super) struct Reading {
    /// The sources, in citation order.
    pub(super) sources: Vec<Source>,
    /// Pages not used, and why.
    pub(super) unread: Vec<UnreadSource>,
}

impl Generator {
    /// Reads the sources of posts with `config`'s limits (none are read without this).
    pub fn with_sources(mut self, config: SourcesConfig) -> Self {
        self.reader = Some(Reader::new(config));
        self
    }

    /// Characters of source text a prompt to `provider` may carry: `sources.prompt_chars`, or
    /// less when the model's context window (`context_tokens` of its section) would not hold
    /// that with the instructions and the answer.
    pub(super) fn source_budget(&self, provider: &crate::llm::breaker::Guarded) -> usize {
        let Some(reader) = &self.reader else {
            return 0;
        };
        let context = self
            .config
            .balance
            .get(provider.name())
            .or_else(|| self.config.balance.get(provider.provider().kind()))
            .and_then(|b| b.context_tokens);
        match context {
            None => reader.prompt_chars,
            Some(tokens) => {
                // About 1,000 tokens of instructions and 4,000 of answer (a long Korean post);
                // 2 characters a token, Korean's rate (English gets nearer 4).
                let room = tokens.saturating_sub(5_000) as usize * 2;
                reader.prompt_chars.min(room.max(1_000))
            }
        }
    }

    /// The sources of `topic`: its own article first, then other items of its story, up to
    /// `sources.max_per_post`. A page that cannot be read is logged with the reason and left
    /// out (its feed summary stands in when it says enough).
    pub(super) async fn read_sources(&self, topic: &PoolTopic, job_id: &str) -> Reading {
        let mut reading = Reading::default();
        let Some(reader) = &self.reader else {
            return reading;
        };
        if reader.max_per_post == 0 {
            return reading;
        }
        let mut items = vec![topic.clone()];
        match self
            .store
            .story_members(topic.id, reader.max_per_post * 2)
            .await
        {
            Ok(more) => items.extend(more),
            Err(e) => {
                tracing::warn!(job_id, error = %e, "could not list the other items of the story")
            }
        }
        let mut seen = std::collections::HashSet::new();
        items.retain(|i| i.url.as_ref().is_some_and(|u| seen.insert(u.clone())));
        let reads = items.iter().map(|item| self.read_one(reader, item, job_id));
        for (source, unread) in futures_util::future::join_all(reads).await {
            reading.unread.extend(unread);
            let Some(source) = source else { continue };
            let duplicate = reading
                .sources
                .iter()
                .any(|s| s.reference.url == source.reference.url || s.text == source.text);
            if !duplicate && reading.sources.len() < reader.max_per_post {
                reading.sources.push(source);
            }
        }
        tracing::info!(job_id, topic = %topic.title, read = reading.sources.len(), tried = items.len(), "sources read");
        reading
    }

    /// One item's source, or why it has none (or both, when its feed summary stands in).
    async fn read_one(
        &self,
        reader: &Reader,
        item: &PoolTopic,
        job_id: &str,
    ) -> (Option<Source>, Option<UnreadSource>) {
        // Topics stored before links were kept have only the key: https is the better guess.
        let guessed = item.url.as_ref().map(|u| format!("https://{u}"));
        let Some(url) = item.link.as_deref().or(guessed.as_deref()) else {
            return (None, None);
        };
        let unread = |reason: String| UnreadSource {
            url: url.to_owned(),
            reason,
        };
        let cached = match self.store.source(url).await {
            Ok(c) => c.filter(|c| crate::db::now_ms() - c.fetched_at < CACHE_FOR_MS),
            Err(e) => {
                tracing::warn!(job_id, url, error = %e, "could not read the source cache");
                None
            }
        };
        let record = match cached {
            Some(record) => Ok(record),
            None => match reader.fetcher.fetch(url).await {
                Ok(page) => match crate::sources::extract(&page.html, &page.final_url) {
                    Ok(article) => {
                        let title = if article.title.trim().is_empty() {
                            item.title.clone()
                        } else {
                            article.title
                        };
                        let record = SourceRecord::new(url, &page.final_url, &title, &article.text);
                        if let Err(e) = self.store.save_source(record.clone()).await {
                            tracing::warn!(job_id, url, error = %e, "could not cache the source");
                        }
                        Ok(record)
                    }
                    Err(e) => {
                        tracing::warn!(job_id, url, reason = %e, "source not used: no article in the page");
                        Err(e.to_string())
                    }
                },
                Err(e) => {
                    tracing::warn!(job_id, url, reason = %e, "source not read");
                    Err(e.to_string())
                }
            },
        };
        let reason = match record {
            Ok(r) => {
                let source = Source {
                    reference: SourceRef {
                        title: r.title,
                        url: r.final_url,
                    },
                    text: r.text,
                };
                return (Some(source), None);
            }
            Err(reason) => reason,
        };
        let summary = item.summary.trim().to_owned();
        if summary.chars().count() < MIN_SUMMARY_CHARS {
            return (None, Some(unread(reason)));
        }
        let source = Source {
            reference: SourceRef {
                title: item.title.clone(),
                url: url.to_owned(),
            },
            text: summary,
        };
        (
            Some(source),
            Some(unread(format!(
                "{reason}; its feed summary was used instead"
            ))),
        )
    }
}
