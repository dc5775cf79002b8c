//! Generated feature images (`[images.generate]`): a prompt made from the post, sent to
//! OpenAI's images API (or an OpenAI-compatible server's) or to Gemini's image output.
//!
//! Asked once per post, when the post is first published: the answer (the image, or why
//! there is none) is stored with its cost, which is added to the post's like a text call's.
//! Whatever goes wrong (an outage, a refusal, a quota, an answer that is not an image) the
//! post is published with its social card instead: an image is never worth a post that waits.

use base64::Engine;
use serde_json::{Value, json};

use crate::config::{ImageGenConfig, ImageProvider};
use crate::llm::http::Endpoint;
use crate::store::{Post, Store, StoreError};

/// A generated image: its bytes and what they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The file.
    pub bytes: Vec<u8>,
    /// `image/png` or `image/jpeg`.
    pub content_type: &'static str,
}

/// The image type of `bytes` by their signature: PNG, JPEG or WebP.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The file extension of an image type.
pub fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        _ => "png",
    }
}

/// Asks the configured provider for images.
#[derive(Debug, Clone)]
pub struct ImageGenerator {
    config: ImageGenConfig,
    endpoint: Endpoint,
}

impl ImageGenerator {
    /// A generator for `config`.
    pub fn new(config: ImageGenConfig) -> Result<Self, String> {
        let (kind, host) = match config.provider {
            ImageProvider::OpenAi => ("openai-images", "api.openai.com"),
            ImageProvider::Gemini => ("gemini-images", "generativelanguage.googleapis.com"),
        };
        let endpoint = Endpoint::new(
            kind,
            host,
            &config.base_url,
            config.api_key.clone(),
            config.timeout,
            (0.0, 0.0),
        )?;
        Ok(Self { config, endpoint })
    }

    /// The prompt for `post`.
    pub fn prompt(&self, post: &Post) -> String {
        let c = &post.content;
        self.config
            .prompt
            .replace("{title}", &c.title)
            .replace("{summary}", &c.summary)
            .replace("{category}", &post.category)
            .replace("{tags}", &c.tags.join(", "))
    }

    /// One image for `post`, or why not (without the key).
    pub async fn generate(&self, post: &Post) -> Result<Generated, String> {
        let prompt = self.prompt(post);
        let answer = match self.config.provider {
            ImageProvider::OpenAi => {
                let mut body = json!({
                    "model": self.config.model,
                    "prompt": prompt,
                    "n": 1,
                    "size": self.config.size,
                    "quality": self.config.quality,
                });
                // DALL·E answers a URL unless asked for the bytes and has its own qualities;
                // the GPT image models always answer bytes and refuse `response_format`.
                if self.config.model.starts_with("dall-e") {
                    body["response_format"] = json!("b64_json");
                    body["quality"] = json!(if self.config.quality == "high" {
                        "hd"
                    } else {
                        "standard"
                    });
                    if self.config.size == "1536x1024" {
                        body["size"] = json!("1792x1024");
                    }
                }
                let mut request = self
                    .endpoint
                    .http
                    .post(format!("{}/images/generations", self.endpoint.base_url))
                    .json(&body);
                if let Some(key) = &self.endpoint.key {
                    request = request.bearer_auth(key.expose());
                }
                self.endpoint.send(request).await
            }
            ImageProvider::Gemini => {
                let body = json!({
                    "contents": [{ "parts": [{ "text": prompt }] }],
                    "generationConfig": {
                        "responseModalities": ["TEXT", "IMAGE"],
                        "imageConfig": { "aspectRatio": "16:9" },
                    },
                });
                let mut request = self
                    .endpoint
                    .http
                    .post(format!(
                        "{}/v1beta/models/{}:generateContent",
                        self.endpoint.base_url, self.config.model
                    ))
                    .json(&body);
                if let Some(key) = &self.endpoint.key {
                    request = request.header("x-goog-api-key", key.expose());
                }
                self.endpoint.send(request).await
            }
        }
        .map_err(|e| e.to_string())?;
        let json = answer.json.clone().unwrap_or(Value::Null);
        if !answer.ok() {
            let detail = json["error"]["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| answer.preview());
            let hint = match self.config.provider {
                ImageProvider::OpenAi => "BLOGFLOW_OPENAI_API_KEY",
                ImageProvider::Gemini => "BLOGFLOW_GEMINI_API_KEY",
            };
            return Err(self
                .endpoint
                .classify(answer.status, "", &detail, &answer.headers, hint, None)
                .to_string());
        }
        let encoded = match self.config.provider {
            ImageProvider::OpenAi => json["data"][0]["b64_json"].as_str(),
            ImageProvider::Gemini => json["candidates"][0]["content"]["parts"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|p| p["inlineData"]["data"].as_str()),
        }
        .ok_or_else(|| {
            format!(
                "{}: the answer holds no image ({})",
                self.endpoint.name,
                answer.preview()
            )
        })?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| format!("{}: the image is not base64: {e}", self.endpoint.name))?;
        let content_type = sniff(&bytes).ok_or_else(|| {
            format!(
                "{}: the answer is not a PNG, JPEG or WebP image",
                self.endpoint.name
            )
        })?;
        Ok(Generated {
            bytes,
            content_type,
        })
    }

    /// Makes sure the post's generated image was asked for: once per post, the answer and
    /// its cost stored (a failure too, so that a retried publication does not pay again).
    /// The cost is counted when an image came back.
    pub async fn ensure(&self, store: &Store, post: &Post) -> Result<(), StoreError> {
        if store.post_image(&post.id).await?.is_some() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let result = self.generate(post).await;
        let (provider, model) = (self.config.provider.as_str(), self.config.model.as_str());
        let cost = match &result {
            Ok(image) => {
                tracing::info!(post_id = %post.id, provider, model, bytes = image.bytes.len(),
                    ms = started.elapsed().as_millis() as u64, cost_usd = self.config.price_usd, "feature image generated");
                self.config.price_usd
            }
            Err(e) => {
                tracing::warn!(post_id = %post.id, provider, model, error = %e, "no generated image: the post gets its social card");
                0.0
            }
        };
        store
            .record_post_image(&post.id, result.map(|g| g.bytes), provider, model, cost)
            .await
    }
}
