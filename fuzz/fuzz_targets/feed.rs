//! Feed documents come from other people's servers: any bytes must give items or an error,
//! and items must respect the limits.
#![no_main]

use std::time::Duration;

use blogflow::config::{FeedConfig, FeedLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let feed = FeedConfig {
        name: "fuzz".into(),
        url: "https://feeds.example/rss".into(),
        category: "ai".into(),
        interval: Duration::from_secs(3600),
        include: vec![],
        exclude: vec!["sponsored".into()],
        weight: 1.0,
    };
    let limits = FeedLimits {
        max_bytes: 1 << 20,
        max_items: 20,
        max_age: Duration::from_secs(30 * 86_400),
    };
    let now = 1_800_000_000_000;
    if let Ok((items, seen)) = blogflow::topics::feed::parse(data, &feed, limits, now) {
        assert!(items.len() <= 20 && items.len() <= seen);
        for item in &items {
            assert!(!item.title.is_empty() && item.title.chars().count() <= 300);
            assert!(item.published_at <= now);
            if let Some(link) = &item.link {
                assert!(link.starts_with("http://") || link.starts_with("https://"), "{link}");
            }
        }
    }
});
