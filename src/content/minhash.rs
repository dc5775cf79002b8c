//! Character-shingle MinHash with LSH banding: near-duplicate detection that needs no word
//! splitter, so Korean and English are handled alike.
//!
//! A signature has [`HASHES`] minimums; two texts' share of equal minimums estimates the
//! Jaccard similarity of their shingle sets. Banding ([`BANDS`] × [`ROWS`]) turns a signature
//! into keys so that candidates are found by index lookups; with 16 × 4, pairs above a
//! similarity of about 0.5 share a band with high probability.

/// Minimums per signature.
pub const HASHES: usize = 64;
/// Bands for the index.
pub const BANDS: usize = 16;
/// Rows per band.
pub const ROWS: usize = HASHES / BANDS;

/// A MinHash signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature(pub [u64; HASHES]);

fn mix(mut x: u64) -> u64 {
    // splitmix64 finaliser: a cheap, well-distributed 64-bit permutation.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn fnv(chars: &[char]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for c in chars {
        h ^= *c as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl Signature {
    /// The signature of `text`'s `k`-character shingles (after [`super::normalize::title`]).
    /// Texts shorter than `k` are one shingle.
    pub fn of(text: &str, k: usize) -> Self {
        let chars: Vec<char> = super::normalize::title(text).chars().collect();
        let mut mins = [u64::MAX; HASHES];
        let mut shingle = |s: &[char]| {
            let h = fnv(s);
            for (i, m) in mins.iter_mut().enumerate() {
                let v = mix(h ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                if v < *m {
                    *m = v;
                }
            }
        };
        if chars.len() <= k {
            shingle(&chars);
        } else {
            for w in chars.windows(k) {
                shingle(w);
            }
        }
        Signature(mins)
    }

    /// Estimated Jaccard similarity, 0–1.
    pub fn similarity(&self, other: &Signature) -> f64 {
        let same = self.0.iter().zip(&other.0).filter(|(a, b)| a == b).count();
        same as f64 / HASHES as f64
    }

    /// One index key per band.
    pub fn bands(&self) -> [i64; BANDS] {
        let mut out = [0i64; BANDS];
        for (b, key) in out.iter_mut().enumerate() {
            let mut h = mix(b as u64 + 1);
            for v in &self.0[b * ROWS..(b + 1) * ROWS] {
                h = mix(h ^ v);
            }
            *key = h as i64;
        }
        out
    }

    /// Bytes for storage.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// From [`Signature::to_bytes`]; `None` for anything else.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != HASHES * 8 {
            return None;
        }
        let mut out = [0u64; HASHES];
        for (i, chunk) in b.chunks_exact(8).enumerate() {
            out[i] = u64::from_le_bytes(chunk.try_into().ok()?);
        }
        Some(Signature(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_story_in_other_words_is_similar_and_other_stories_are_not() {
        let a = Signature::of("OpenAI releases GPT-5 with longer context", 3);
        let b = Signature::of("OpenAI Releases GPT-5, With a Longer Context", 3);
        let c = Signature::of("Nvidia reports record data-center revenue", 3);
        assert!(a.similarity(&b) > 0.6, "{}", a.similarity(&b));
        assert!(a.similarity(&c) < 0.2, "{}", a.similarity(&c));
        let k1 = Signature::of("오픈AI, GPT-5 공개… 더 긴 문맥 지원", 3);
        let k2 = Signature::of("오픈AI GPT-5 공개, 더 긴 문맥을 지원", 3);
        let k3 = Signature::of("엔비디아 데이터센터 매출 사상 최대", 3);
        assert!(k1.similarity(&k2) > 0.5, "{}", k1.similarity(&k2));
        assert!(k1.similarity(&k3) < 0.2);
        assert!(
            a.bands().iter().zip(b.bands()).any(|(x, y)| *x == y),
            "similar texts share a band"
        );
        assert_eq!(Signature::from_bytes(&a.to_bytes()), Some(a));
    }
}
