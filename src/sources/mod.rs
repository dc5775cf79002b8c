//! The articles behind topics: fetched politely and safely from other people's sites.
//!
//! - [`fetch`]: the client (public addresses only, robots.txt, per-host pacing, time and size
//!   limits, HTML only).
//! - [`charset`]: bytes to text, EUC-KR included.
//! - [`extract`]: the article of a page (Readability).
//! - [`robots`]: robots.txt rules.
//! - [`address`]: which addresses are public.

pub mod address;
pub mod charset;
pub mod extract;
pub mod fetch;
pub mod robots;

pub use crate::config::SourcesConfig;
pub use extract::{Article, ExtractError, extract};
pub use fetch::{FetchError, Fetcher, Page};
