//! The signature of the JSON that blogflow POSTs to webhooks (published posts and alerts).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Header carrying the signature of a generic webhook.
pub const SIGNATURE_HEADER: &str = "x-blogflow-signature";

/// Header carrying the Unix time (seconds) that was signed.
pub const TIMESTAMP_HEADER: &str = "x-blogflow-timestamp";

/// `sha256=<hex>` of HMAC-SHA256(`key`, `"{timestamp}.{body}"`).
pub fn signature(key: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!("sha256={}", super::hex(&bytes))
}
