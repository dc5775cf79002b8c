//! Images that go with a post: the social card drawn offline ([`card`]).

pub mod card;

pub use card::{Card, CardError, CardRenderer, CardStyle, CardText, Layers};
