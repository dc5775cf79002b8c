//! Canonical forms for deduplication: URLs without tracking parameters, titles without case,
//! punctuation or spacing differences.

/// Query parameters that only track the reader, never select the content.
const TRACKING: &[&str] = &[
    "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "ref", "ref_src", "ref_url",
    "source", "igshid", "yclid", "_hsenc", "_hsmi", "spm", "cmpid", "s_cid",
];

/// The canonical form of an item's link: lower-case scheme and host without `www.`/`m.`, no
/// fragment, no tracking parameters (`utm_*` and the usual click ids), remaining parameters
/// sorted, no trailing slash. `None` when it is not an http(s) URL.
pub fn url(raw: &str) -> Option<String> {
    let mut u = reqwest::Url::parse(raw.trim()).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    let host = u.host_str()?.to_ascii_lowercase();
    let host = host
        .strip_prefix("www.")
        .or_else(|| host.strip_prefix("m."))
        .unwrap_or(&host)
        .to_owned();
    let mut params: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            !k.starts_with("utm_") && !TRACKING.contains(&k.as_str())
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.sort();
    u.set_fragment(None);
    u.set_query(None);
    if !params.is_empty() {
        u.query_pairs_mut().extend_pairs(params);
    }
    let path = u.path().trim_end_matches('/').to_owned();
    let query = u.query().map(|q| format!("?{q}")).unwrap_or_default();
    // Scheme-less on purpose: http and https copies of a page are the same item.
    Some(format!("{host}{path}{query}"))
}

/// A title for comparison: lower case, letters and digits of any script, single spaces.
pub fn title(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut space = false;
    for c in raw.chars() {
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.extend(c.to_lowercase());
        } else {
            space = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_parameters_hosts_and_fragments_do_not_make_a_new_item() {
        let canonical = url("https://example.org/ai/news?id=7").unwrap();
        for same in [
            "http://www.example.org/ai/news/?id=7&utm_source=rss&utm_medium=feed",
            "https://EXAMPLE.org/ai/news?fbclid=abc&id=7#comments",
            "https://m.example.org/ai/news?id=7&ref=hn",
        ] {
            assert_eq!(url(same).unwrap(), canonical, "{same}");
        }
        assert_ne!(url("https://example.org/ai/news?id=8").unwrap(), canonical);
        assert_eq!(url("mailto:x@example.org"), None);
        assert_eq!(url("not a url"), None);
    }

    #[test]
    fn titles_compare_without_case_punctuation_or_spacing_in_any_script() {
        assert_eq!(
            title("  OpenAI's  New Model — Released! "),
            "openai s new model released"
        );
        assert_eq!(title("오픈AI, 새 모델 공개!"), "오픈ai 새 모델 공개");
    }
}
