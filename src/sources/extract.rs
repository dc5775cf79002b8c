//! The article of a page: its main text without navigation, ads, related links, comments or
//! footer, by `dom_smoothie` (a port of Mozilla's Readability; chosen by measurement, see
//! `docs/decisions.md`), after ad containers are removed by their class names.

use dom_smoothie::{Config, Readability, TextMode};

/// Elements this many or more are not parsed for an article (a hostile or broken page costs
/// bounded time).
const MAX_ELEMENTS: usize = 20_000;

/// Class names of containers that hold ads inside an article's body, which Readability keeps
/// because they sit among its paragraphs.
const AD_CLASSES: &[&str] = &[
    "ad",
    "ads",
    "adv",
    "advert",
    "advertisement",
    "sponsor",
    "sponsored",
    "banner",
    "promo",
];

/// What was extracted from a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// The article's title.
    pub title: String,
    /// Its text: paragraphs separated by a blank line.
    pub text: String,
    /// The site's name, when the page says it.
    pub site_name: Option<String>,
    /// When it was published, as the page says it.
    pub published: Option<String>,
}

/// Why no article came out of a page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no article found in {url}: {reason}")]
pub struct ExtractError {
    /// The page.
    pub url: String,
    /// Why.
    pub reason: String,
}

/// The article of `html`, found at `url`.
pub fn extract(html: &str, url: &str) -> Result<Article, ExtractError> {
    let fail = |reason: String| ExtractError {
        url: url.to_owned(),
        reason,
    };
    let document = dom_query::Document::from(html);
    let selector = AD_CLASSES
        .iter()
        .map(|c| format!(".{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    document.select(&selector).remove();
    let config = Config {
        max_elements_to_parse: MAX_ELEMENTS,
        text_mode: TextMode::Formatted,
        ..Config::default()
    };
    let mut readability = Readability::with_document(document, Some(url), Some(config))
        .map_err(|e| fail(e.to_string()))?;
    let article = readability.parse().map_err(|e| fail(e.to_string()))?;
    let text = tidy(&article.text_content);
    if text.is_empty() {
        return Err(fail("the page has no text".into()));
    }
    Ok(Article {
        title: article.title.trim().to_owned(),
        text,
        site_name: article.site_name.filter(|s| !s.trim().is_empty()),
        published: article.published_time,
    })
}

/// Paragraphs trimmed, runs of blank lines and spaces collapsed.
fn tidy(text: &str) -> String {
    text.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EN: &str = include_str!("../../tests/fixtures/sources/news-en.html");
    const KO: &str = include_str!("../../tests/fixtures/sources/news-ko.html");

    #[test]
    fn an_english_news_page_gives_its_paragraphs_and_nothing_around_them() {
        let a = extract(EN, "https://news.example.com/open-model").unwrap();
        assert_eq!(
            a.title,
            "Open model matches frontier systems on reasoning benchmarks"
        );
        for kept in [
            "scored 87.5 percent on the GPQA reasoning benchmark",
            "70 billion parameters and was trained on 15 trillion tokens",
            "\"We wanted to show that careful data curation matters more than raw scale,\"",
            "Training cost about $12 million in compute",
            "\"Deployment is a different test.\"",
        ] {
            assert!(a.text.contains(kept), "{kept:?} missing from:\n{}", a.text);
        }
        for dropped in [
            "Subscribe to our newsletter",
            "Advertisement",
            "Sponsored",
            "Related stories",
            "Chipmakers race",
            "42 comments",
            "wake me up",
            "All rights reserved",
            "Privacy policy",
        ] {
            assert!(
                !a.text.contains(dropped),
                "{dropped:?} kept in:\n{}",
                a.text
            );
        }
        assert_eq!(a.text.split("\n\n").count(), 5, "{}", a.text);
        assert_eq!(a.site_name.as_deref(), Some("Daily AI Wire"));
    }

    #[test]
    fn a_korean_news_page_gives_its_paragraphs_and_nothing_around_them() {
        let a = extract(KO, "https://news.example.kr/article/1").unwrap();
        for kept in [
            "내년부터 5년간 1조 원을 투자한다",
            "현재 20% 수준인 AI 반도체 국산화율을 2030년까지 50%로",
            "\"공공 클라우드부터 국산 NPU 도입을 확대하겠다\"",
            "하드웨어 투자 효과가 제한적일 수 있다고 지적했다",
        ] {
            assert!(a.text.contains(kept), "{kept:?} missing from:\n{}", a.text);
        }
        for dropped in [
            "회원가입",
            "광고",
            "관련기사",
            "삼성전자",
            "많이 본 뉴스",
            "댓글",
            "기대됩니다",
            "무단전재",
        ] {
            assert!(
                !a.text.contains(dropped),
                "{dropped:?} kept in:\n{}",
                a.text
            );
        }
        assert_eq!(a.text.split("\n\n").count(), 4, "{}", a.text);
    }

    #[test]
    fn a_page_without_an_article_is_an_error_not_a_panic() {
        for html in ["", "<html></html>", "<p>", "\u{0}\u{0}<<<>>>"] {
            if let Ok(a) = extract(html, "https://x.example/") {
                assert!(!a.text.is_empty());
            }
        }
        assert!(extract("<p>x</p>", "not a url").is_err());
    }
}
