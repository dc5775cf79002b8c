//! Bytes of a page to text. Korean news sites still serve EUC-KR, often declared only in a
//! `<meta>` tag, sometimes not at all. In order: a byte-order mark, the `charset` of the
//! `Content-Type` header, a `<meta>` declaration in the first 4 KiB, valid UTF-8, and last a
//! guess from the bytes (`chardetng`, Firefox's detector) told the site's top-level domain.

use encoding_rs::Encoding;

/// The text of `body` and the name of the encoding it was read as.
pub fn decode(body: &[u8], content_type: Option<&str>, host: &str) -> (String, &'static str) {
    let encoding = Encoding::for_bom(body)
        .map(|(e, _)| e)
        .or_else(|| content_type.and_then(header_charset))
        .or_else(|| meta_charset(body))
        .unwrap_or_else(|| {
            if std::str::from_utf8(body).is_ok() {
                encoding_rs::UTF_8
            } else {
                let mut detector = chardetng::EncodingDetector::new();
                detector.feed(body, true);
                let tld = host.rsplit('.').next().map(str::as_bytes);
                detector.guess(tld, true)
            }
        });
    // A page declaring UTF-16 in ASCII text is not UTF-16 (the HTML standard says so).
    let encoding = if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE {
        match Encoding::for_bom(body) {
            Some((e, _)) => e,
            None => encoding_rs::UTF_8,
        }
    } else {
        encoding
    };
    let (text, used, _) = encoding.decode(body);
    (text.into_owned(), used.name())
}

fn header_charset(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| Encoding::for_label(value.trim().trim_matches('"').as_bytes()))
            .flatten()
    })
}

/// The charset a `<meta charset>` or `<meta http-equiv="Content-Type" content="…charset=…">`
/// declares in the first 4 KiB.
fn meta_charset(body: &[u8]) -> Option<&'static Encoding> {
    let head = &body[..body.len().min(4096)];
    let lower: Vec<u8> = head.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = find(&lower[from..], b"<meta") {
        let start = from + at;
        let end = find(&lower[start..], b">").map_or(lower.len(), |e| start + e);
        let tag = &lower[start..end];
        if let Some(c) = find(tag, b"charset=") {
            let value = &tag[c + b"charset=".len()..];
            let value: Vec<u8> = value
                .iter()
                .copied()
                .skip_while(|b| *b == b'"' || *b == b'\'' || *b == b' ')
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':'))
                .collect();
            if let Some(e) = Encoding::for_label(&value) {
                return Some(e);
            }
        }
        from = end;
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn euc_kr(text: &str) -> Vec<u8> {
        encoding_rs::EUC_KR.encode(text).0.into_owned()
    }

    #[test]
    fn euc_kr_is_read_from_the_header_the_meta_tag_or_the_bytes() {
        let korean = "인공지능 반도체 시장이 올해 30% 성장했다";
        let page = |head: &str| {
            let mut b = format!("<html><head>{head}</head><body><p>").into_bytes();
            b.extend(euc_kr(korean));
            b.extend(b"</p></body></html>");
            b
        };
        let (text, used) = decode(
            &page(""),
            Some("text/html; charset=EUC-KR"),
            "news.example.kr",
        );
        assert!(text.contains(korean) && used == "EUC-KR", "{used}");
        let (text, _) = decode(
            &page("<meta charset=\"euc-kr\">"),
            Some("text/html"),
            "x.kr",
        );
        assert!(text.contains(korean));
        let meta =
            "<META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=ks_c_5601-1987\">";
        let (text, _) = decode(&page(meta), None, "x.com");
        assert!(text.contains(korean));
        // Nothing declared: the detector, told the site is Korean.
        let body: Vec<u8> = euc_kr(&korean.repeat(20));
        let (text, used) = decode(&body, Some("text/html"), "news.example.kr");
        assert!(text.contains(korean), "read as {used}");
    }

    #[test]
    fn utf8_wins_when_nothing_is_declared_and_the_header_wins_over_the_meta_tag() {
        let (text, used) = decode("<p>한국어 뉴스</p>".as_bytes(), None, "x.kr");
        assert_eq!((text.as_str(), used), ("<p>한국어 뉴스</p>", "UTF-8"));
        let mut body = b"<meta charset=\"euc-kr\"><p>".to_vec();
        body.extend("한국어".as_bytes());
        let (text, _) = decode(&body, Some("text/html; charset=utf-8"), "x.kr");
        assert!(text.contains("한국어"));
    }
}
