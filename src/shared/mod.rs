//! Primitives every layer shares: secrets that never print, the languages posts are written
//! in, slugs and HTTP clients built on first use. A leaf: it imports nothing of this crate, so anything may import it.

pub mod endpoint;
pub mod http;
pub mod language;
pub mod private;
pub mod secret;
pub mod signing;
pub mod slug;
pub mod splice;

pub use endpoint::EndpointUrl;
pub use language::{Category, Language};
pub use secret::Secret;

/// Lower-case hex of `bytes` (digests, random ids, signatures).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}
