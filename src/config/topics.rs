//! Settings of the topic sources, validated (`[topics]`, `[[topics.feeds]]`). Fetching and
//! ranking live in [`crate::topics`].

use std::time::Duration;

/// `[topics]`, validated.
#[derive(Debug, Clone)]
pub struct TopicsConfig {
    /// The feeds.
    pub feeds: Vec<FeedConfig>,
    /// Size, item and age bounds per fetch.
    pub limits: FeedLimits,
    /// A source is not picked again within this time (spreads posts over sources).
    pub source_cooldown: Duration,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        Self {
            feeds: Vec::new(),
            limits: FeedLimits {
                max_bytes: 2 * 1024 * 1024,
                max_items: 50,
                max_age: Duration::from_secs(14 * 86_400),
            },
            source_cooldown: Duration::ZERO,
        }
    }
}

/// A feed as configured (`[[topics.feeds]]`).
#[derive(Debug, Clone, PartialEq)]
pub struct FeedConfig {
    /// Unique name: the topic's source.
    pub name: String,
    /// Feed URL.
    pub url: String,
    /// Category of posts about its items.
    pub category: String,
    /// Time between fetches.
    pub interval: Duration,
    /// An item must mention one of these (title or summary), if any are given.
    pub include: Vec<String>,
    /// An item mentioning one of these is skipped.
    pub exclude: Vec<String>,
    /// Rank multiplier for its items.
    pub weight: f64,
}

/// Limits that keep a broken or hostile feed from costing memory or time.
#[derive(Debug, Clone, Copy)]
pub struct FeedLimits {
    /// Largest document read, bytes; a larger one is refused.
    pub max_bytes: usize,
    /// Items kept per fetch (the newest).
    pub max_items: usize,
    /// Items older than this are ignored.
    pub max_age: Duration,
}
