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

/// What a slug does with Hangul.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SlugPolicy {
    /// Hangul is written in Latin letters (Revised Romanization): ASCII URLs that survive
    /// every share, copy and log (`인공지능-규제` → `ingongjineung-gyuje`).
    #[default]
    Romanize,
    /// Hangul stays as it is (`인공지능-규제`), percent-encoded in URLs.
    Keep,
}

impl SlugPolicy {
    /// Parses `romanize` or `keep`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "romanize" | "romanise" => Some(SlugPolicy::Romanize),
            "keep" => Some(SlugPolicy::Keep),
            _ => None,
        }
    }

    /// The configuration word.
    pub fn as_str(self) -> &'static str {
        match self {
            SlugPolicy::Romanize => "romanize",
            SlugPolicy::Keep => "keep",
        }
    }
}

/// The one slug function: [`slugify`] after romanising Hangul when the policy says so. Used
/// for post slugs (file names and front matter) and category slugs alike.
pub fn make(text: &str, policy: SlugPolicy) -> String {
    match policy {
        SlugPolicy::Keep => slugify(text),
        SlugPolicy::Romanize if text.chars().any(syllable) => slugify(&romanize(text)),
        SlugPolicy::Romanize => slugify(text),
    }
}

const FIRST_SYLLABLE: u32 = 0xAC00;
const LAST_SYLLABLE: u32 = 0xD7A3;

fn syllable(ch: char) -> bool {
    (FIRST_SYLLABLE..=LAST_SYLLABLE).contains(&(ch as u32))
}

/// Initial consonants, in Unicode order.
const INITIALS: [&str; 19] = [
    "g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p",
    "h",
];
/// Vowels, in Unicode order.
const VOWELS: [&str; 21] = [
    "a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we",
    "wi", "yu", "eu", "ui", "i",
];
/// Final consonants before a consonant or at the end of a word.
const FINALS: [&str; 28] = [
    "", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p",
    "t", "t", "ng", "t", "t", "k", "t", "p", "t",
];
/// Final consonants carried over to a following syllable that starts with a vowel (ㅇ), as
/// pronounced: 한국어 → hangugeo, 음악 → eumak.
const LINKED: [&str; 28] = [
    "", "g", "kk", "ks", "n", "nj", "n", "d", "r", "lg", "lm", "lb", "ls", "lt", "lp", "r", "m",
    "b", "bs", "s", "ss", "ng", "j", "ch", "k", "t", "p", "",
];
const SILENT_INITIAL: u32 = 11;
const RIEUL_INITIAL: u32 = 5;
const RIEUL_FINAL: u32 = 8;

/// Hangul syllables in Latin letters after the Revised Romanization of Korean, with its
/// linking of a final consonant into a following vowel and `ㄹㄹ` as `ll`; the other sound
/// changes (nasalisation and the like) are left out, as most Korean sites' slugs do. Other
/// text is kept.
pub fn romanize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    // The initial ㄹ of this syllable was written as the second l of `ll`.
    let mut initial_written = false;
    while let Some(ch) = chars.next() {
        if !syllable(ch) {
            out.push(ch);
            initial_written = false;
            continue;
        }
        let index = ch as u32 - FIRST_SYLLABLE;
        let (initial, vowel, last) = (index / 588, (index % 588) / 28, index % 28);
        if !initial_written {
            out.push_str(INITIALS[initial as usize]);
        }
        out.push_str(VOWELS[vowel as usize]);
        let next_initial = chars
            .peek()
            .filter(|c| syllable(**c))
            .map(|c| (*c as u32 - FIRST_SYLLABLE) / 588);
        initial_written = next_initial == Some(RIEUL_INITIAL) && last == RIEUL_FINAL;
        out.push_str(match next_initial {
            Some(SILENT_INITIAL) => LINKED[last as usize],
            _ if initial_written => "ll",
            _ => FINALS[last as usize],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hangul_is_romanised_after_the_revised_romanization() {
        assert_eq!(romanize("인공지능"), "ingongjineung");
        assert_eq!(romanize("한국어"), "hangugeo");
        assert_eq!(romanize("서울"), "seoul");
        assert_eq!(romanize("빨리"), "ppalli");
        assert_eq!(romanize("규제"), "gyuje");
        assert_eq!(romanize("AI 에이전트의 미래"), "AI eijeonteuui mirae");
        assert_eq!(
            make("AI 에이전트의 미래", SlugPolicy::Romanize),
            "ai-eijeonteuui-mirae"
        );
        assert_eq!(
            make("AI 에이전트의 미래", SlugPolicy::Keep),
            "ai-에이전트의-미래"
        );
        assert_eq!(make("GPT-5 Launch", SlugPolicy::Romanize), "gpt-5-launch");
        // Every syllable maps to ASCII letters: a romanised slug is plain ASCII.
        let all: String = (FIRST_SYLLABLE..=LAST_SYLLABLE)
            .filter_map(char::from_u32)
            .collect();
        assert!(romanize(&all).chars().all(|c| c.is_ascii_lowercase()));
    }

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
