//! Images that go with a post: the social card drawn offline ([`card`]) and, where an image
//! provider is configured, a generated feature image ([`generated`]).

pub mod card;
pub mod generated;

pub use card::{Card, CardError, CardRenderer, CardStyle, CardText, Layers};
