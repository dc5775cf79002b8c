//! Rewriting parts of a text found by a parser that reports byte ranges (pulldown-cmark's
//! offsets), leaving everything else byte for byte.

use std::ops::Range;

/// `text` with each range replaced. Where ranges overlap, the one that starts first wins (the
/// longer at an equal start): an edit inside a replaced range is dropped.
pub fn splice(text: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    edits.sort_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
    let extra: usize = edits.iter().map(|(_, s)| s.len()).sum();
    let mut out = String::with_capacity(text.len() + extra);
    let mut at = 0;
    for (range, replacement) in edits {
        if range.start < at {
            continue;
        }
        out.push_str(&text[at..range.start]);
        out.push_str(&replacement);
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_replaced_and_nested_ones_dropped() {
        let text = "one [two](x) three";
        let edits = vec![
            (13..18, "3".to_owned()),
            (4..12, "two".to_owned()),
            (5..8, "ignored".to_owned()),
        ];
        assert_eq!(splice(text, edits), "one two 3");
        assert_eq!(splice("same", vec![]), "same");
    }
}
