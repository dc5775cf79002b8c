//! The webhook publisher: one JSON POST per post to an operator's endpoint (a static-site
//! builder, a CMS bridge, an automation tool), signed like the alert webhook
//! (`X-Blogflow-Timestamp`, `X-Blogflow-Signature: sha256=HMAC(secret, "<ts>.<body>")`) and
//! carrying `Idempotency-Key: <post id>`.
//!
//! The contract is **at least once, with a stable key**: the ledger records the delivery, but a
//! crash (or a lost answer) between the receiver's 2xx and the ledger write makes the retry send
//! again, with the same `Idempotency-Key`. A receiver that already has the post answers 409 (or
//! 2xx again), which counts as delivered; a receiver that cannot deduplicate by the key may see
//! a post twice. Where the receiver offers a way to look
//! (`BLOGFLOW_PUBLISH_WEBHOOK_LOOKUP_URL`, a URL with `{id}`: 200 = held, 404 = not), every
//! delivery looks first and sends only what the receiver does not hold, which makes it exactly
//! once. Retries with backoff are the `blog_publish` job's.
//!
//! The payload carries the post's social card as bytes (`image`, base64 PNG with its file
//! name; a receiver has no URL of ours to fetch) and `body_html` ends with the post's
//! `BlogPosting` JSON-LD, also given as `structured_data`.

use std::time::Duration;

use serde_json::{Value, json};

use base64::Engine;

use super::{Extras, FeatureImage, PublishError};
pub use crate::config::WebhookTarget;
use crate::shared::signing::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};
use crate::store::Post;

/// Header carrying the post id, for receivers to deduplicate.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// Delivers posts to a webhook.
#[derive(Debug, Clone)]
pub struct WebhookPublisher {
    http: reqwest::Client,
    target: WebhookTarget,
    extras: Extras,
}

impl WebhookPublisher {
    /// A publisher for `target`.
    pub fn new(target: WebhookTarget) -> Self {
        Self {
            http: super::http_client(target.timeout),
            target,
            extras: Extras::default(),
        }
    }

    /// Sends each post's card with it and names the blog in its JSON-LD.
    pub fn with_extras(mut self, extras: Extras) -> Self {
        self.extras = extras;
        self
    }

    /// The JSON a receiver gets.
    pub fn payload(&self, post: &Post, card: Option<&FeatureImage>) -> Value {
        let c = &post.content;
        let page = super::html::Page {
            blog_name: &self.extras.blog_name,
            blog_url: None,
            image: None,
            url: None,
            published: chrono::Utc::now(),
        };
        let ld = super::html::blog_posting(post, &page);
        let html = format!(
            "{}\n{}",
            super::html::to_html(&c.body),
            super::html::json_ld_script(&ld)
        );
        let image = card.map(|card| {
            json!({
                "file_name": card.file_name,
                "content_type": card.content_type,
                "width": card.size.map(|s| s.0),
                "height": card.size.map(|s| s.1),
                "alt": card.alt,
                "base64": base64::engine::general_purpose::STANDARD.encode(&card.bytes),
            })
        });
        json!({
            "id": post.id,
            "title": c.title,
            "slug": c.slug,
            "summary": c.summary,
            "tags": c.tags,
            "category": post.category,
            "language": post.language,
            "seo": { "title": c.seo_title, "description": c.seo_description, "keywords": c.seo_keywords },
            "body_markdown": c.body,
            "body_html": html,
            "structured_data": ld,
            "image": image,
            "quality_score": post.quality.score,
            "created_at": post.created_at,
            "grounded": post.provenance.grounded,
            "sources": post.provenance.sources,
        })
    }

    fn fail(message: String) -> PublishError {
        PublishError::Target {
            target: "webhook",
            message,
        }
    }

    /// Sends the post. 2xx and 409 (the receiver has it already) are delivered; 408, 429 and
    /// 5xx are worth a retry; other statuses are a configuration problem.
    pub async fn publish(&self, post: &Post) -> Result<String, PublishError> {
        self.publish_with(post, None).await
    }

    /// [`Self::publish`], carrying `image` (a generated one) instead of the card.
    pub async fn publish_with(
        &self,
        post: &Post,
        image: Option<&FeatureImage>,
    ) -> Result<String, PublishError> {
        if let Some(location) = self.look_up(post).await? {
            return Ok(location);
        }
        let card = self.extras.image(post, image).await;
        let body = serde_json::to_vec(&self.payload(post, card.as_ref())).expect("posts serialise");
        let ts = chrono::Utc::now().timestamp();
        let mut request = self
            .http
            .post(self.target.url.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, ts.to_string())
            .header(IDEMPOTENCY_HEADER, &post.id);
        if let Some(key) = &self.target.secret {
            request = request.header(SIGNATURE_HEADER, signature(key.expose(), ts, &body));
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| super::transport_error("webhook", &e))?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let location = answer
            .get("url")
            .or_else(|| answer.get("id"))
            .and_then(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .or_else(|| v.as_u64().map(|n| n.to_string()))
            })
            .unwrap_or_else(|| format!("webhook:{}", post.id));
        match status {
            200..=299 | 409 => Ok(location),
            408 | 429 | 500..=599 => Err(Self::fail(format!("HTTP {status}; retrying"))),
            401 | 403 | 404 => Err(PublishError::Unavailable {
                target: "webhook",
                message: format!(
                    "HTTP {status}: the receiver cannot take posts now; check publish.webhook (URL, secret)"
                ),
            }),
            _ => Err(PublishError::Rejected {
                target: "webhook",
                message: format!(
                    "HTTP {status}: the receiver refused the post; check publish.webhook (URL, secret)"
                ),
            }),
        }
    }

    /// Asks the receiver's lookup URL whether it holds the post: `Some(location)` on 200,
    /// `None` on 404 or when no lookup URL is configured.
    async fn look_up(&self, post: &Post) -> Result<Option<String>, PublishError> {
        let Some(url) = &self.target.lookup_url else {
            return Ok(None);
        };
        let ts = chrono::Utc::now().timestamp();
        let mut request = self
            .http
            .get(url.expose().replace("{id}", &post.id))
            .header(TIMESTAMP_HEADER, ts.to_string())
            .header(IDEMPOTENCY_HEADER, &post.id);
        if let Some(key) = &self.target.secret {
            request = request.header(SIGNATURE_HEADER, signature(key.expose(), ts, b""));
        }
        let response = request
            .send()
            .await
            .map_err(|e| super::transport_error("webhook", &e))?;
        match response.status().as_u16() {
            200..=299 => {
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                let location = answer
                    .get("url")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("webhook:{}", post.id), str::to_owned);
                tracing::info!(post_id = %post.id, "the webhook receiver holds the post already: not sent again");
                Ok(Some(location))
            }
            404 | 410 => Ok(None),
            status => Err(Self::fail(format!(
                "the lookup URL answered HTTP {status}; retrying"
            ))),
        }
    }

    /// Startup check: the receiver's host accepts connections (a webhook has no read
    /// endpoint to ask).
    pub async fn check(&self) -> Result<(), PublishError> {
        let url = reqwest::Url::parse(self.target.url.expose())
            .map_err(|_| Self::fail("the URL does not parse".into()))?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        match tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(Self::fail(format!("cannot connect to the receiver: {e}"))),
            Err(_) => Err(Self::fail(
                "the receiver did not accept a connection within 5 s".into(),
            )),
        }
    }
}
