//! The grounding check: is what a post states found in the sources it was written from?
//!
//! Deterministic and Korean-aware. Every figure (a number with its unit, `%` or magnitude;
//! `1,000` = `1000`, `30%` = `30 퍼센트` = `30 percent`, `1조` = `1,000,000,000,000`), every
//! quoted passage and every citation index `[n]` must be supported by the source the sentence
//! cites (by any source when it cites none). Text copied at length from a source is flagged.

use std::collections::HashSet;

/// What kind of claim was not supported.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    /// A figure found in no cited source.
    Figure,
    /// A quoted passage found in no cited source.
    Quote,
    /// A citation of a source that does not exist.
    Citation,
    /// A passage copied at length from a source.
    Copied,
}

/// One finding of the check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Claim {
    /// What kind.
    pub kind: ClaimKind,
    /// The claim as the post writes it (a passage is shortened).
    pub text: String,
}

impl std::fmt::Display for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            ClaimKind::Figure => write!(f, "figure \"{}\" is in no cited source", self.text),
            ClaimKind::Quote => write!(f, "quote \"{}\" is in no cited source", self.text),
            ClaimKind::Citation => write!(f, "citation {} names no source", self.text),
            ClaimKind::Copied => write!(f, "passage \"{}\" is copied from a source", self.text),
        }
    }
}

/// The result: 0–100 and what lowered it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Grounding {
    /// 100 when everything is supported.
    pub score: u32,
    /// Figures, quotes and citations not supported, and copied passages.
    pub claims: Vec<Claim>,
}

/// Shortest copied run that is flagged, in characters of normalised text.
const COPY_RUN: usize = 160;
/// Width of the windows compared to find copied runs.
const WINDOW: usize = 40;

/// Checks `body` (Markdown) against `sources` (their extracted texts; `[1]` is the first).
pub fn check(body: &str, sources: &[&str]) -> Grounding {
    let body = &without_link_targets(body);
    let this_year = chrono::Datelike::year(&chrono::Utc::now());
    let source_figures: Vec<Vec<Figure>> = sources.iter().map(|s| figures(s)).collect();
    let source_text: Vec<String> = sources.iter().map(|s| normalise(s)).collect();
    let mut claims = Vec::new();
    for sentence in sentences(body) {
        let cited = citations(sentence);
        for &n in &cited {
            if n == 0 || n > sources.len() {
                push(&mut claims, ClaimKind::Citation, format!("[{n}]"));
            }
        }
        // The sources this sentence may rest on: those it cites, else all.
        let valid: Vec<usize> = cited
            .iter()
            .filter(|&&n| n >= 1 && n <= sources.len())
            .map(|n| n - 1)
            .collect();
        let candidates: Vec<usize> = if valid.is_empty() {
            (0..sources.len()).collect()
        } else {
            valid
        };
        for figure in figures(&strip_citations(sentence)) {
            // The years around now frame any news post ("in 2026"); they are not claims.
            let year = !figure.percent
                && figure.written.len() == 4
                && (this_year - 1..=this_year + 1).contains(&(figure.value as i32));
            if year {
                continue;
            }
            let found = candidates
                .iter()
                .any(|&i| source_figures[i].iter().any(|f| f.matches(&figure)));
            if !found {
                push(&mut claims, ClaimKind::Figure, figure.written.clone());
            }
        }
        for quote in quotes(sentence) {
            let q = normalise(&quote);
            if q.chars().count() >= 8 && !candidates.iter().any(|&i| source_text[i].contains(&q)) {
                push(&mut claims, ClaimKind::Quote, shorten(&quote));
            }
        }
    }
    for passage in copied(&without_quotes(body), &source_text) {
        push(&mut claims, ClaimKind::Copied, passage);
    }
    let penalty: u32 = claims
        .iter()
        .map(|c| match c.kind {
            ClaimKind::Copied => 40,
            ClaimKind::Citation => 25,
            ClaimKind::Figure | ClaimKind::Quote => 20,
        })
        .sum();
    Grounding {
        score: 100u32.saturating_sub(penalty),
        claims,
    }
}

/// `body` without link destinations and bare URLs: a figure in an address is no claim.
fn without_link_targets(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(i) = rest.find("](") {
        // "[2]()" is still read as a link, not a citation.
        out.push_str(&rest[..=i]);
        out.push_str("()");
        let after = &rest[i + 2..];
        match after.find(')') {
            Some(close) => rest = &after[close + 1..],
            None => {
                rest = after;
                break;
            }
        }
    }
    out.push_str(rest);
    out.split_inclusive(char::is_whitespace)
        .filter(|w| {
            let w = w.trim_start_matches(['(', '<', '"']);
            !(w.starts_with("http://") || w.starts_with("https://") || w.starts_with("www."))
        })
        .collect()
}

fn push(claims: &mut Vec<Claim>, kind: ClaimKind, text: String) {
    if !claims.iter().any(|c| c.kind == kind && c.text == text) {
        claims.push(Claim { kind, text });
    }
}

/// Sentences (and headings, list items) of a text.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut start = 0;
        let chars: Vec<(usize, char)> = line.char_indices().collect();
        for (k, &(i, c)) in chars.iter().enumerate() {
            let next = chars.get(k + 1).map(|&(_, n)| n);
            let ends = matches!(c, '.' | '!' | '?' | '。')
                && next.is_none_or(char::is_whitespace)
                // "1.5" and "e.g." do not end a sentence.
                && !(c == '.' && next.is_some_and(|n| n.is_ascii_digit()));
            if ends {
                // Citations right after the full stop belong to the sentence: "…했다. [2]"
                let mut end = i + c.len_utf8();
                let rest = &line[end..];
                let trimmed = rest.trim_start();
                if trimmed.starts_with('[')
                    && let Some(close) = trimmed.find(']')
                {
                    end += rest.len() - trimmed.len() + close + 1;
                }
                if end > start {
                    out.push(&line[start..end]);
                }
                start = end;
            }
        }
        if start < line.len() && !line[start..].trim().is_empty() {
            out.push(&line[start..]);
        }
    }
    out
}

/// The citation numbers `[n]` (and `[n, m]`) in a sentence.
fn citations(sentence: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut rest = sentence;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        let inner = &after[..close];
        // A Markdown link's text is followed by "(": not a citation.
        let is_link = after[close + 1..].starts_with('(');
        if !is_link
            && !inner.is_empty()
            && inner
                .chars()
                .all(|c| c.is_ascii_digit() || c == ',' || c == ' ')
        {
            out.extend(
                inner
                    .split(',')
                    .filter_map(|n| n.trim().parse::<usize>().ok()),
            );
        }
        rest = &after[close + 1..];
    }
    out
}

fn strip_citations(sentence: &str) -> String {
    let mut out = String::with_capacity(sentence.len());
    let mut rest = sentence;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close)
                if after[..close]
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ',' || c == ' ') =>
            {
                rest = &after[close + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A figure: its value (magnitude applied) and whether it is a percentage.
#[derive(Debug, Clone, PartialEq)]
struct Figure {
    value: f64,
    percent: bool,
    written: String,
}

impl Figure {
    fn matches(&self, other: &Figure) -> bool {
        self.percent == other.percent
            && (self.value - other.value).abs() <= 1e-9 * self.value.abs().max(1.0)
    }
}

/// Magnitude words after a number, and their factor.
const MAGNITUDES: &[(&str, f64)] = &[
    ("trillion", 1e12),
    ("billion", 1e9),
    ("million", 1e6),
    ("thousand", 1e3),
    ("조", 1e12),
    ("억", 1e8),
    ("만", 1e4),
    ("천", 1e3),
];

/// Magnitudes written right after the number, as in headlines ("70B parameters").
const SHORT_MAGNITUDES: &[(&str, f64)] = &[
    ("bn", 1e9),
    ("mn", 1e6),
    ("K", 1e3),
    ("M", 1e6),
    ("B", 1e9),
    ("T", 1e12),
];

const PERCENT: &[&str] = &["%", "％", "퍼센트", "percent", "per cent", "프로"];

/// The figures of a text: numbers of two or more digits, or any number with a unit,
/// magnitude or percent sign. A magnitude may follow another ("1조 2,000억" is read as two
/// figures: each must be in the source).
fn figures(text: &str) -> Vec<Figure> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut k = 0;
    while k < chars.len() {
        let (start, c) = chars[k];
        let preceded_by_word = k > 0 && {
            let p = chars[k - 1].1;
            p.is_ascii_alphabetic() || p == '_'
        };
        if !c.is_ascii_digit() || preceded_by_word {
            k += 1;
            continue;
        }
        // Digits with thousands separators and one decimal point.
        let mut digits = String::new();
        let mut j = k;
        while j < chars.len() {
            let ch = chars[j].1;
            let next_digit = chars.get(j + 1).is_some_and(|&(_, n)| n.is_ascii_digit());
            if ch.is_ascii_digit() {
                digits.push(ch);
            } else if ch == ',' && next_digit && !digits.contains('.') {
                // thousands separator
            } else if ch == '.' && next_digit && !digits.contains('.') {
                digits.push('.');
            } else {
                break;
            }
            j += 1;
        }
        let end_number = chars.get(j).map_or(text.len(), |&(i, _)| i);
        let rest = &text[end_number..];
        let rest_trim = rest.trim_start();
        let Ok(mut value) = digits.parse::<f64>() else {
            k = j;
            continue;
        };
        let mut consumed = end_number;
        let mut percent = false;
        let mut unit = false;
        let lower = rest_trim.to_lowercase();
        if let Some(p) = PERCENT.iter().find(|p| lower.starts_with(*p)) {
            percent = true;
            unit = true;
            consumed = end_number + (rest.len() - rest_trim.len()) + p.len();
        } else if let Some((word, factor)) = MAGNITUDES.iter().find(|(w, _)| lower.starts_with(w)) {
            value *= factor;
            unit = true;
            consumed = end_number + (rest.len() - rest_trim.len()) + word.len();
        } else if let Some((suffix, factor)) = SHORT_MAGNITUDES.iter().find(|(w, _)| {
            // Attached and alone: "70B", "$12M", "1.5T tokens", "3bn"; not "5Mbps" or "3Bs".
            rest.starts_with(w) && !rest[w.len()..].starts_with(|c: char| c.is_alphanumeric())
        }) {
            value *= factor;
            unit = true;
            consumed = end_number + suffix.len();
        }
        let significant = unit || digits.replace('.', "").len() >= 2;
        if significant {
            let written = text[start..consumed].trim().to_owned();
            out.push(Figure {
                value,
                percent,
                written,
            });
        }
        k = chars
            .iter()
            .position(|&(i, _)| i >= consumed)
            .unwrap_or(chars.len())
            .max(j);
    }
    out
}

/// Where the quoted passages are: "…", “…” and 「…」 (the text between the marks).
fn quote_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    for (open, close) in [('"', '"'), ('“', '”'), ('「', '」')] {
        let mut from = 0;
        while let Some(a) = text[from..].find(open) {
            let start = from + a + open.len_utf8();
            let Some(b) = text[start..].find(close) else {
                break;
            };
            out.push(start..start + b);
            from = start + b + close.len_utf8();
        }
    }
    out
}

/// Quoted passages.
fn quotes(text: &str) -> Vec<String> {
    quote_spans(text)
        .into_iter()
        .map(|r| text[r].to_owned())
        .collect()
}

/// `text` with its quoted passages blanked, by position (a quote may be empty, or appear
/// elsewhere unquoted: replacing by value would touch the wrong text, or every gap).
fn without_quotes(text: &str) -> String {
    let edits = quote_spans(text)
        .into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| (r, " ".to_owned()))
        .collect();
    crate::shared::splice::splice(text, edits)
}

/// Lower case, punctuation kept, runs of whitespace as one space, Markdown emphasis dropped.
fn normalise(text: &str) -> String {
    text.replace(['*', '_', '`'], "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn shorten(text: &str) -> String {
    let t: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        format!("{t}…")
    } else {
        t
    }
}

/// Passages of `body` that appear verbatim in a source over at least [`COPY_RUN`] characters.
fn copied(body: &str, sources: &[String]) -> Vec<String> {
    let body: Vec<char> = normalise(body).chars().collect();
    if body.len() < COPY_RUN {
        return Vec::new();
    }
    let mut windows: HashSet<&[char]> = HashSet::new();
    let source_chars: Vec<Vec<char>> = sources.iter().map(|s| s.chars().collect()).collect();
    for s in &source_chars {
        for w in s.windows(WINDOW) {
            windows.insert(w);
        }
    }
    let mut out = Vec::new();
    let mut run_start: Option<usize> = None;
    let positions = body.len() - WINDOW + 1;
    for i in 0..=positions {
        let hit = i < positions && windows.contains(&body[i..i + WINDOW]);
        match (hit, run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(s)) => {
                if i - 1 + WINDOW - s >= COPY_RUN {
                    out.push(shorten(&body[s..i - 1 + WINDOW].iter().collect::<String>()));
                }
                run_start = None;
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EN: &str = "An open-weight model scored 87.5 percent on the GPQA benchmark. It has 70 billion parameters and was trained on 15 trillion tokens. Training cost about $12 million. \"We wanted to show that careful data curation matters more than raw scale,\" said Mira Patel.";
    const KO: &str = "정부가 내년부터 5년간 1조 원을 투자한다. 현재 20% 수준인 국산화율을 2030년까지 50%로 끌어올린다. 관계자는 \"공공 클라우드부터 국산 NPU 도입을 확대하겠다\"고 말했다.";
    const THIRD: &str = "The lab employs 1,000 researchers across three sites.";

    #[test]
    fn supported_figures_in_any_spelling_pass() {
        let body = "The model scored 87.5% on GPQA [1]. It has 70 billion parameters [1]. \
            정부는 1조 원을 투자한다 [2]. 국산화율은 30 퍼센트가 아니라 20 퍼센트다 [2]. \
            The lab has 1000 researchers [3].";
        let g = check(body, &[EN, KO, THIRD]);
        assert_eq!(
            g.claims,
            vec![Claim {
                kind: ClaimKind::Figure,
                text: "30 퍼센트".into()
            }],
            "{g:?}"
        );
    }

    #[test]
    fn an_invented_figure_is_named() {
        let g = check("Adoption reached 73 % last year [1].", &[EN, KO]);
        assert_eq!(g.claims.len(), 1, "{g:?}");
        assert_eq!(g.claims[0].kind, ClaimKind::Figure);
        assert_eq!(g.claims[0].text, "73 %");
        assert!(g.claims[0].to_string().contains("73 %"));
        assert!(g.score < 100);
    }

    #[test]
    fn a_figure_must_be_in_the_source_its_sentence_cites() {
        // 50% is in source 2, not in source 1, which the sentence cites.
        let g = check("The target is 50% by 2030 [1].", &[EN, KO]);
        let texts: Vec<&str> = g.claims.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["50%", "2030"]);
        // Without a citation, any source will do.
        assert!(
            check("The target is 50% by 2030.", &[EN, KO])
                .claims
                .is_empty()
        );
    }

    #[test]
    fn a_citation_of_a_missing_source_is_caught() {
        let g = check(
            "Costs fell sharply [4]. Others agree [1, 3].",
            &[EN, KO, THIRD],
        );
        assert_eq!(
            g.claims,
            vec![Claim {
                kind: ClaimKind::Citation,
                text: "[4]".into()
            }]
        );
        // A Markdown link is not a citation.
        assert!(
            check("See [2](https://example.com).", &[EN])
                .claims
                .is_empty()
        );
    }

    #[test]
    fn quotes_must_be_found_and_copied_passages_are_flagged() {
        let ok = "Patel said: \"careful data curation matters more than raw scale\" [1]. \
                  관계자는 “공공 클라우드부터 국산 NPU 도입을 확대하겠다”고 했다 [2].";
        assert!(
            check(ok, &[EN, KO]).claims.is_empty(),
            "{:?}",
            check(ok, &[EN, KO])
        );
        let invented = check(
            "Patel said \"scale is all you need for everything\" [1].",
            &[EN],
        );
        assert_eq!(invented.claims[0].kind, ClaimKind::Quote);
        let copied_body = format!("## Summary\n\n{} [1]", &EN[..EN.find(" \"We").unwrap()]);
        let g = check(&copied_body, &[EN]);
        assert!(
            g.claims.iter().any(|c| c.kind == ClaimKind::Copied),
            "{g:?}"
        );
        // Short shared phrases are not copying.
        let g = check(
            "The model was trained on 15 trillion tokens [1], a large corpus.",
            &[EN],
        );
        assert!(g.claims.is_empty(), "{g:?}");
    }

    #[test]
    fn list_numbers_years_in_words_and_odd_input_do_not_panic_or_count() {
        let g = check("1. First point.\n2. Second point [1].", &[EN]);
        assert!(g.claims.is_empty(), "{g:?}");
        for body in [
            "",
            "[",
            "]]",
            "[99999999999999999999]",
            "\"",
            "1,",
            ".5",
            "１２３",
        ] {
            let _ = check(body, &[]);
            let _ = check(body, &[EN]);
        }
        assert_eq!(check("", &[]).score, 100);
    }

    #[test]
    fn this_years_date_and_figures_in_addresses_are_no_claims() {
        let year = chrono::Datelike::year(&chrono::Utc::now());
        let body = format!(
            "In {year} the field moved [1]. See [the report](https://x.example/2019/77/a) \
             or https://x.example/555/b for more."
        );
        let g = check(&body, &[EN]);
        assert!(g.claims.is_empty(), "{g:?}");
        let g = check("By 2061 it will be everywhere.", &[EN]);
        assert_eq!(g.claims.len(), 1, "a far year is a claim: {g:?}");
    }

    #[test]
    fn headline_magnitudes_equal_their_words() {
        let g = check(
            "A 70B model [1], trained on 15T tokens for $12M [1].",
            &[EN],
        );
        assert!(g.claims.is_empty(), "{g:?}");
        let g = check("It needs 70GB and a 5Mbps link.", &[EN]);
        assert_eq!(g.claims.len(), 1, "70 is no 70 billion: {g:?}");
    }

    #[test]
    fn empty_and_repeated_quotes_cost_nothing() {
        // Found by the `article` fuzz target: an empty quote ("") made every gap a replacement,
        // and 60 of them doubled the text 60 times.
        let text = format!("<{}html> \"a\" and a \"b c\" end.", "\"".repeat(120));
        let g = check(&text, &[&text]);
        assert!(g.score <= 100);
        assert_eq!(without_quotes("say \"a\", not a"), "say \" \", not a");
        assert_eq!(without_quotes("\"\"\"\""), "\"\"\"\"");
    }
}
