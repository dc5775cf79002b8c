//! The Ghost Admin API publisher: `POST /ghost/api/admin/posts/?source=html`, authorised by a
//! five-minute HS256 JWT signed with the admin API key (`id:secret`, the secret in hex).
//!
//! Exactly once: every post carries the internal tag `#blogflow-<post id>` (internal tags are
//! hidden from readers). Before creating a post the publisher asks Ghost for posts with that
//! tag, so a retry after a lost answer finds the post instead of creating another. Ghost gives
//! a taken slug a `-2` suffix by itself.
//!
//! The social card goes through the images endpoint as `blogflow-card-<id>.png` and becomes
//! the post's `feature_image`. Ghost stores an upload under `content/images/<yyyy>/<mm>/` by
//! its name, so a retry asks for that address (this month and last) before uploading again.
//! Ghost's `{{ghost_head}}` already emits the post's JSON-LD from its fields (title, excerpt,
//! `feature_image`, dates, tags); no second copy is added.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{
    Delivered, Extras, FeatureImage, PublishError, http_client, status_error, transport_error,
};
use crate::config::Slugs;
pub use crate::config::{GhostStatus, GhostTarget, parse_admin_key};
use crate::store::Post;
use crate::store::PublicationState;

const TARGET: &str = "ghost";
const FIX: &str = "publish.ghost (url) and BLOGFLOW_GHOST_ADMIN_KEY";
/// The Admin API version the requests are written against.
pub const ACCEPT_VERSION: &str = "v5.0";

/// An Admin API token: HS256, `kid` = key id, audience `/admin/`, valid five minutes.
pub fn admin_token(key_id: &str, secret: &[u8], now: i64) -> String {
    let header = json!({ "alg": "HS256", "kid": key_id, "typ": "JWT" });
    let claims = json!({ "iat": now, "exp": now + 300, "aud": "/admin/" });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("any key length");
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// The internal tag that marks a post as ours.
pub fn marker_tag(post_id: &str) -> String {
    format!("#blogflow-{post_id}")
}

/// Ghost's error body: `{"errors": [{"message", "context", "type"}]}`.
fn ghost_error(body: &Value) -> String {
    let e = &body["errors"][0];
    [&e["type"], &e["message"], &e["context"]]
        .iter()
        .filter_map(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The decoded key; never printed.
#[derive(Clone)]
struct SigningKey(Result<(String, Vec<u8>), String>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Publishes to Ghost.
#[derive(Debug, Clone)]
pub struct GhostPublisher {
    http: reqwest::Client,
    target: GhostTarget,
    key: SigningKey,
    slugs: Slugs,
    extras: Extras,
}

impl GhostPublisher {
    /// A publisher for `target`.
    pub fn new(target: GhostTarget) -> Self {
        Self {
            http: http_client(target.timeout),
            key: SigningKey(parse_admin_key(target.admin_key.expose())),
            target,
            slugs: Slugs::default(),
            extras: Extras::default(),
        }
    }

    /// Uploads each post's card as its feature image.
    pub fn with_extras(mut self, extras: Extras) -> Self {
        self.extras = extras;
        self
    }

    /// Tag slugs made by `slugs` (the generation settings' policy and category slugs).
    pub fn with_slugs(mut self, slugs: Slugs) -> Self {
        self.slugs = slugs;
        self
    }

    fn url(&self, path: &str) -> String {
        format!("{}/ghost/api/admin/{path}", self.target.url)
    }

    async fn ok(&self, request: reqwest::RequestBuilder) -> Result<Value, PublishError> {
        let (key_id, secret) = self.key.0.as_ref().map_err(|e| PublishError::Unavailable {
            target: TARGET,
            message: format!("BLOGFLOW_GHOST_ADMIN_KEY: {e}"),
        })?;
        let token = admin_token(key_id, secret, chrono::Utc::now().timestamp());
        let response = request
            .header(reqwest::header::AUTHORIZATION, format!("Ghost {token}"))
            .header("accept-version", ACCEPT_VERSION)
            .send()
            .await
            .map_err(|e| transport_error(TARGET, &e))?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        match status {
            200..=299 => Ok(body),
            _ => Err(status_error(TARGET, status, &ghost_error(&body), FIX)),
        }
    }

    /// The post's URL and state if Ghost already holds it (any status). The `uuid` is asked
    /// for too: Ghost builds a draft's preview URL (`/p/<uuid>/`) from it and answers a bare
    /// `/p/` without it.
    pub async fn find(&self, post_id: &str) -> Result<Option<Delivered>, PublishError> {
        let tag_slug = format!("hash-blogflow-{post_id}");
        let found = self
            .ok(self.http.get(self.url("posts/")).query(&[
                ("filter", format!("tag:{tag_slug}").as_str()),
                ("fields", "id,uuid,url,slug,status"),
                ("limit", "1"),
            ]))
            .await?;
        Ok(found["posts"]
            .as_array()
            .and_then(|p| p.first())
            .map(delivered))
    }

    /// The JSON body of `POST /posts/?source=html`, with `image` (a card's URL) as the
    /// feature image.
    pub fn payload(&self, post: &Post, image: Option<&str>) -> Value {
        let c = &post.content;
        // The category first: Ghost makes the first tag the primary tag, which themes show
        // as the post's section.
        let mut tags =
            vec![json!({ "name": post.category, "slug": self.slugs.category(&post.category) })];
        tags.extend(
            c.tags
                .iter()
                .filter(|t| !t.eq_ignore_ascii_case(&post.category))
                .map(|t| json!({ "name": t, "slug": crate::shared::slug::make(t, self.slugs.policy) })),
        );
        tags.push(json!({ "name": marker_tag(&post.id) }));
        let mut p = json!({
            "title": truncate(&c.title, 255),
            "slug": c.slug,
            "html": super::html::to_html(&c.body),
            "custom_excerpt": truncate(&c.summary, 300),
            "meta_title": truncate(&c.seo_title, 300),
            "meta_description": truncate(&c.seo_description, 500),
            "tags": tags,
            "status": match self.target.status {
                GhostStatus::Draft => "draft",
                GhostStatus::Published => "published",
                GhostStatus::Scheduled => "scheduled",
            },
        });
        if let Some(image) = image {
            p["feature_image"] = json!(image);
            p["feature_image_alt"] = json!(truncate(&c.title, 191));
        }
        if self.target.status == GhostStatus::Scheduled {
            let at = chrono::DateTime::from_timestamp_millis(post.created_at).unwrap_or_default()
                + self.target.future_delay;
            // Ghost refuses to schedule in the past.
            let at = at.max(chrono::Utc::now() + chrono::Duration::minutes(2));
            p["published_at"] = json!(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        }
        json!({ "posts": [p] })
    }

    /// Creates the post unless Ghost already holds it; returns its URL and state.
    pub async fn publish(&self, post: &Post) -> Result<Delivered, PublishError> {
        self.publish_with(post, None).await
    }

    /// [`Self::publish`], featuring `image` (a generated one) instead of the card.
    pub async fn publish_with(
        &self,
        post: &Post,
        image: Option<&FeatureImage>,
    ) -> Result<Delivered, PublishError> {
        if let Some(found) = self.find(&post.id).await? {
            return Ok(found);
        }
        let image = match self.extras.image(post, image).await {
            Some(card) => Some(self.image(card).await?),
            None => None,
        };
        let created = self
            .ok(self
                .http
                .post(self.url("posts/"))
                .query(&[("source", "html")])
                .json(&self.payload(post, image.as_deref())))
            .await?;
        created["posts"]
            .as_array()
            .and_then(|p| p.first())
            .map(delivered)
            .ok_or_else(|| PublishError::Target {
                target: TARGET,
                message: "Ghost answered without the created post".into(),
            })
    }

    /// The card's URL: where an earlier attempt stored it, or a new upload's. Ghost keeps an
    /// upload at `content/images/<yyyy>/<mm>/<name>` (with `-1` added if the name is taken), so
    /// the months this upload could have happened in are asked first.
    async fn image(&self, card: FeatureImage) -> Result<String, PublishError> {
        let now = chrono::Utc::now();
        let last_month = now - chrono::Duration::days(31);
        for month in [now, last_month] {
            let url = format!(
                "{}/content/images/{}/{}",
                self.target.url,
                month.format("%Y/%m"),
                card.file_name
            );
            let found = self
                .http
                .head(&url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if found {
                tracing::info!(%url, "the card was uploaded by an earlier attempt: not uploaded again");
                return Ok(url);
            }
        }
        let part = reqwest::multipart::Part::bytes(card.bytes)
            .file_name(card.file_name.clone())
            .mime_str(card.content_type)
            .map_err(|e| PublishError::Target {
                target: TARGET,
                message: format!("cannot build the upload: {e}"),
            })?;
        let form = reqwest::multipart::Form::new()
            .part("file", part)
            .text("purpose", "image")
            .text("ref", card.file_name);
        let uploaded = self
            .ok(self.http.post(self.url("images/upload/")).multipart(form))
            .await?;
        uploaded["images"][0]["url"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| PublishError::Target {
                target: TARGET,
                message: "the image upload answered without a URL".into(),
            })
    }

    /// Startup check: the Admin API answers and accepts the key.
    pub async fn check(&self) -> Result<(), PublishError> {
        self.ok(self
            .http
            .get(self.url("posts/"))
            .query(&[("limit", "1"), ("fields", "id")]))
            .await
            .map(|_| ())
    }
}

/// URL and state of a post as Ghost answers it. A draft's URL is its preview, `/p/<uuid>/`;
/// a bare `/p/` (an answer without the uuid) is completed from the uuid or replaced by the id.
fn delivered(p: &Value) -> Delivered {
    let id = p["id"].as_str().unwrap_or_default();
    let location = match (p["url"].as_str(), p["uuid"].as_str()) {
        (Some(url), Some(uuid)) if url.ends_with("/p/") => format!("{url}{uuid}/"),
        (Some(url), _) if !url.ends_with("/p/") => url.to_owned(),
        _ => format!("ghost:{id}"),
    };
    Delivered {
        location,
        state: match p["status"].as_str() {
            Some("published") => PublicationState::Published,
            Some("scheduled") => PublicationState::Scheduled,
            _ => PublicationState::Draft,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_keys_parse_and_bad_ones_are_explained_without_echoing_them() {
        let (id, secret) = parse_admin_key("6489f1c2a3:0a0bff").unwrap();
        assert_eq!(
            (id.as_str(), secret),
            ("6489f1c2a3", vec![0x0a, 0x0b, 0xff])
        );
        for bad in ["nocolon", ":00", "id:", "id:0g", "id:abc", "i-d:00"] {
            let e = parse_admin_key(bad).unwrap_err();
            assert!(!e.contains(bad), "{e}");
        }
    }

    #[test]
    fn tokens_decode_to_ghosts_claims_and_verify_with_the_key() {
        // Decoded part by part and verified with the key, the way Ghost checks it.
        let token = admin_token("abc", &[0x00, 0xff], 1_700_000_000);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "HS256", "kid": "abc", "typ": "JWT"}));
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            claims,
            json!({"aud": "/admin/", "exp": 1_700_000_300, "iat": 1_700_000_000})
        );
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&[0x00, 0xff]).unwrap();
        mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        mac.verify_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
            .unwrap();
    }
}
