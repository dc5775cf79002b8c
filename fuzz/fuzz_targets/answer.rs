//! The model's answer is untrusted text: the JSON post parser, the small-model outline parser
//! and the judge's grade must take anything without panicking, and what they accept must
//! hold their promises.
#![no_main]

use blogflow::config::Language;
use blogflow::content::{judge, parse_post, simple};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(post) = parse_post(text) {
        assert!(!post.title.trim().is_empty(), "a post without a title passed");
        assert!(!post.body.trim().is_empty(), "a post without a body passed");
    }
    for language in [Language::En, Language::Ko] {
        let headings = simple::parse_outline(text, "AI", language);
        assert!(headings.iter().all(|h| !h.trim().is_empty()));
    }
    if let Some(v) = judge::parse(text) {
        assert!((1..=10).contains(&v.score), "grade {} out of range", v.score);
    }
});
