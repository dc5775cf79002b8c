//! The API's request bodies are anyone's bytes: every parser answers with a value or an
//! error that says what to send, never a panic.
#![no_main]

use blogflow::api::{Action, parse_action, review_note};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_action(data, 20) {
        Ok(Action::Generate(request)) => {
            assert!((1..=20).contains(&request.count));
            for text in [&request.topic, &request.category].into_iter().flatten() {
                assert!(!text.is_empty() && text.chars().count() <= 300);
            }
        }
        Ok(_) => {}
        Err(e) => assert!(!e.message.is_empty()),
    }
    if let Ok(Some(note)) = review_note(data) {
        assert!(note.chars().count() <= 500);
    }
});
