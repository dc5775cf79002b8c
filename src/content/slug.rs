//! URL slugs that are also safe file names.

/// Lower-cases, keeps letters and digits of any script (Korean slugs stay Korean), turns
/// everything else into single dashes, and caps the length at 80 characters. The result never
/// contains `/`, `.` or `\`, so it cannot leave the content folder.
pub fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut dash = false;
    for ch in text.chars().flat_map(char::to_lowercase) {
        if ch.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(ch);
        } else {
            dash = true;
        }
        if out.chars().count() >= 80 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_clean_and_confined() {
        assert_eq!(slugify("  GPT-5: What's New?  "), "gpt-5-what-s-new");
        assert_eq!(slugify("../../etc/passwd"), "etc-passwd");
        assert_eq!(slugify("AI 에이전트의 미래"), "ai-에이전트의-미래");
        assert_eq!(slugify("!!!"), "");
        assert_eq!(slugify(&"a".repeat(200)).len(), 80);
    }
}
