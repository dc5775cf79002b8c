//! Primitives every layer shares: secrets that never print, the languages posts are written
//! in, and slugs. A leaf: it imports nothing of this crate, so anything may import it.

pub mod language;
pub mod secret;
pub mod signing;
pub mod slug;

pub use language::{Category, Language};
pub use secret::Secret;
