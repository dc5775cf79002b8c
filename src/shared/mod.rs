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
