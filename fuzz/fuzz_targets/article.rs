//! Article pages are other people's HTML, in any charset: decoding, extraction, the grounding
//! check against them, the link filter and the source block of a prompt must take anything.
#![no_main]

use blogflow::content::links::{LinkPolicy, filter};
use blogflow::content::{grounding, prompt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (html, _) = blogflow::sources::charset::decode(data, Some("text/html"), "news.example.kr");
    let text = match blogflow::sources::extract(&html, "https://news.example.kr/a") {
        Ok(article) => article.text,
        Err(_) => html.clone(),
    };
    // The page as a post against itself, and as the post's body.
    let g = grounding::check(&text, &[&text]);
    assert!(g.score <= 100);
    let policy = LinkPolicy::new(["https://news.example.kr/a"], ["https://blog.example.com"]);
    let (kept, removed) = filter(&html, &policy);
    assert!(!removed.is_empty() || kept == html, "text changed with nothing removed");
    let block = prompt::source_text(&text, 2_000);
    assert!(block.chars().count() <= 2_000);
    assert!(!block.contains("<|im_start|>"));
});
