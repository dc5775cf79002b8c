//! From a topic to a scored post: prompts, parsing the model's answer, the quality score and
//! the pipeline that ties them to a provider and the store.

pub mod grounding;
pub mod judge;
pub mod links;
pub mod minhash;
pub mod normalize;
pub mod parse;
pub mod prompt;
pub mod quality;
pub mod related;
pub mod simple;
pub mod sources;
pub use crate::shared::slug;

pub use parse::{GeneratedPost, ParseError, parse_post};
pub use quality::{QualityReport, score};
pub use sources::{Provenance, Source, SourceRef, UnreadSource};
