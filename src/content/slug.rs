//! URL slugs that are also safe file names.

/// Longest slug in characters.
pub const MAX_CHARS: usize = 80;

/// Longest slug in bytes: a file name (slug, a `-` and 8 characters of the post id, `.mdx`)
/// must stay far under the 255 bytes file systems allow, whatever the script (a Hangul
/// syllable is 3 bytes in UTF-8, so 80 of them would be 240).
pub const MAX_BYTES: usize = 120;

/// Lower-cases, keeps letters and digits of any script (Korean slugs stay Korean), turns
/// everything else into single dashes, and caps the length at [`MAX_CHARS`] characters and
/// [`MAX_BYTES`] bytes, never in the middle of a character and never ending in a dash. The
/// result never contains `/`, `.` or `\`, so it cannot leave the content folder.
pub fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_BYTES));
    let (mut dash, mut chars) = (false, 0);
    for ch in text.chars().flat_map(char::to_lowercase) {
        if !ch.is_alphanumeric() {
            dash = true;
            continue;
        }
        let sep = dash && !out.is_empty();
        let more = usize::from(sep) + ch.len_utf8();
        if chars + usize::from(sep) + 1 > MAX_CHARS || out.len() + more > MAX_BYTES {
            break;
        }
        if sep {
            out.push('-');
            chars += 1;
        }
        dash = false;
        out.push(ch);
        chars += 1;
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

    #[test]
    fn long_korean_slugs_are_bounded_in_bytes_on_a_character_boundary() {
        let title = "인공지능".repeat(30);
        let slug = slugify(&title);
        assert!(slug.len() <= MAX_BYTES, "{} bytes", slug.len());
        assert_eq!(slug.chars().count(), MAX_BYTES / 3);
        let words = "가나다 ".repeat(40);
        let slug = slugify(&words);
        assert!(slug.len() <= MAX_BYTES && !slug.ends_with('-'), "{slug}");
    }
}
