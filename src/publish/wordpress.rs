//! The WordPress REST API publisher: `POST /wp-json/wp/v2/posts` with an application password
//! (Basic auth; plain http is refused unless the operator allows it).
//!
//! Exactly once: the post's HTML starts with a comment `<!-- blogflow-post <id> -->`, which
//! WordPress keeps in the raw content. Before creating a post the publisher searches for that
//! marker among posts of every status, so a retry after a lost answer (a timeout, a crash
//! between WordPress's success and our ledger write) finds the post instead of creating a
//! second one. WordPress gives a taken slug a `-2` suffix by itself, so someone else's post
//! with the same slug is never touched.
//!
//! The social card goes to the media library first, with the slug `blogflow-card-<id>`, and
//! becomes the post's `featured_media`. A retry asks for that slug before uploading, so a crash
//! between the upload and the post leaves one media item, which the post then uses.
//!
//! Structured data: WordPress itself emits none, so the content ends with a `BlogPosting`
//! JSON-LD script, unless an SEO plugin is configured (`seo` meta keys: Yoast and Rank Math
//! write their own) or the user lacks `unfiltered_html` (WordPress would strip the `<script>`
//! tag and leave its JSON on the page as text).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::{
    Delivered, Extras, FeatureImage, PublishError, card_name, http_client, status_error,
    transport_error,
};
use crate::config::Slugs;
pub use crate::config::{SeoFields, WordPressStatus, WordPressTarget};
use crate::store::Post;
use crate::store::PublicationState;

const TARGET: &str = "wordpress";
const FIX: &str =
    "publish.wordpress (url) and BLOGFLOW_WORDPRESS_USER / BLOGFLOW_WORDPRESS_APP_PASSWORD";

/// Publishes to WordPress.
#[derive(Debug, Clone)]
pub struct WordPressPublisher {
    http: reqwest::Client,
    target: WordPressTarget,
    /// Term ids by (taxonomy, lower-case name), so each tag is resolved once per process.
    terms: Arc<Mutex<HashMap<(&'static str, String), u64>>>,
    /// How term slugs are made (category slugs as configured).
    slugs: Slugs,
    /// Where the REST API answers, once found: `/wp-json/` or, with plain permalinks,
    /// `/?rest_route=`.
    root: Arc<tokio::sync::OnceCell<ApiRoot>>,
    /// The card and the blog's name.
    extras: Extras,
    /// Whether the user may post `<script>` (`unfiltered_html`), once asked.
    unfiltered: Arc<tokio::sync::OnceCell<bool>>,
}

/// A media item: its id and its file's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// Attachment id (`featured_media`).
    pub id: u64,
    /// The file's URL.
    pub url: String,
}

/// The two addresses of WordPress's REST API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiRoot {
    /// `/wp-json/wp/v2/…` (any permalink structure but "Plain").
    Pretty,
    /// `/?rest_route=/wp/v2/…` (always works, the only one with plain permalinks).
    Plain,
}

/// The marker that identifies a post in WordPress's raw content.
pub fn marker(post_id: &str) -> String {
    format!("blogflow-post {post_id}")
}

fn fail(message: impl Into<String>) -> PublishError {
    PublishError::Target {
        target: TARGET,
        message: message.into(),
    }
}

/// WordPress's error body: `{"code": "...", "message": "..."}`.
fn wp_error(body: &Value) -> String {
    let code = body["code"].as_str().unwrap_or_default();
    let message = body["message"].as_str().unwrap_or_default();
    match (code.is_empty(), message.is_empty()) {
        (true, true) => String::new(),
        (false, true) => code.to_owned(),
        (true, false) => message.to_owned(),
        (false, false) => format!("{code}: {message}"),
    }
}

impl WordPressPublisher {
    /// A publisher for `target`.
    pub fn new(target: WordPressTarget) -> Self {
        Self {
            http: http_client(target.timeout),
            target,
            terms: Arc::default(),
            slugs: Slugs::default(),
            root: Arc::default(),
            extras: Extras::default(),
            unfiltered: Arc::default(),
        }
    }

    /// Uploads each post's card as its featured image and names the blog in its JSON-LD.
    pub fn with_extras(mut self, extras: Extras) -> Self {
        self.extras = extras;
        self
    }

    /// Term slugs made by `slugs` (the generation settings' policy and category slugs).
    pub fn with_slugs(mut self, slugs: Slugs) -> Self {
        self.slugs = slugs;
        self
    }

    /// The address of `wp/v2/{path}` under the API root, found first if need be.
    async fn url(&self, path: &str) -> Result<String, PublishError> {
        Ok(match self.api_root().await? {
            ApiRoot::Pretty => format!("{}/wp-json/wp/v2/{path}", self.target.url),
            ApiRoot::Plain => format!("{}/?rest_route=/wp/v2/{path}", self.target.url),
        })
    }

    /// Where the REST API answers. A site proves it is WordPress by its API index: a JSON
    /// object whose `namespaces` list `wp/v2`. `/wp-json/` is tried first; with plain
    /// permalinks WordPress answers it with its home page, and the API is at `?rest_route=/`.
    /// Found once per process; a failure is not remembered.
    pub async fn api_root(&self) -> Result<ApiRoot, PublishError> {
        self.root
            .get_or_try_init(|| async {
                let mut seen = Vec::new();
                for (root, url) in [
                    (ApiRoot::Pretty, format!("{}/wp-json/", self.target.url)),
                    (ApiRoot::Plain, format!("{}/?rest_route=/", self.target.url)),
                ] {
                    let response = self
                        .http
                        .get(&url)
                        .header(reqwest::header::ACCEPT, "application/json")
                        .send()
                        .await
                        .map_err(|e| transport_error(TARGET, &e))?;
                    let status = response.status().as_u16();
                    if matches!(status, 408 | 429 | 500..=599) {
                        return Err(status_error(TARGET, status, "", FIX));
                    }
                    let index: Value = response.json().await.unwrap_or(Value::Null);
                    let wordpress = index["namespaces"]
                        .as_array()
                        .is_some_and(|n| n.iter().any(|n| n == "wp/v2"));
                    if wordpress {
                        if root == ApiRoot::Plain {
                            tracing::info!(site = %self.target.url, "WordPress has plain permalinks: using ?rest_route=");
                        }
                        return Ok(root);
                    }
                    seen.push(format!("{url} answered HTTP {status} without the API index"));
                }
                Err(PublishError::Unavailable {
                    target: TARGET,
                    message: format!(
                        "no WordPress REST API at {}: {}; check publish.wordpress.url (the site root) \
                         and that no plugin disables the REST API",
                        self.target.url,
                        seen.join(", ")
                    ),
                })
            })
            .await
            .copied()
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Result<(u16, Value), PublishError> {
        let response = request
            .basic_auth(&self.target.user, Some(self.target.password.expose()))
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| transport_error(TARGET, &e))?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    async fn ok(&self, request: reqwest::RequestBuilder) -> Result<Value, PublishError> {
        match self.call(request).await? {
            // The REST API always answers JSON; a 2xx without it is a web page (a cache or
            // a security plugin in front of the API).
            (200..=299, Value::Null) => Err(PublishError::Unavailable {
                target: TARGET,
                message: format!(
                    "{} answered with a web page, not the REST API's JSON; check publish.wordpress.url \
                     and any cache or security plugin in front of /wp-json/",
                    self.target.url
                ),
            }),
            (200..=299, body) => Ok(body),
            (status, body) => Err(status_error(TARGET, status, &wp_error(&body), FIX)),
        }
    }

    /// The post's link and state if WordPress already holds it (any status).
    pub async fn find(&self, post_id: &str) -> Result<Option<Delivered>, PublishError> {
        let marker = marker(post_id);
        let found = self
            .ok(self.http.get(self.url("posts").await?).query(&[
                ("search", marker.as_str()),
                ("status", "publish,future,draft,pending,private"),
                ("context", "edit"),
                ("_fields", "id,link,status,content"),
                ("per_page", "10"),
            ]))
            .await?;
        Ok(found.as_array().into_iter().flatten().find_map(|p| {
            p["content"]["raw"]
                .as_str()
                .is_some_and(|raw| raw.contains(&marker))
                .then(|| delivered(p))
        }))
    }

    /// The id of the term `name` in `taxonomy` (`tags` or `categories`), created if missing
    /// with the slug the policy makes. An existing term is found by that slug or by its name,
    /// so a term renamed for display keeps its URL and is not created twice.
    async fn term(&self, taxonomy: &'static str, name: &str) -> Result<u64, PublishError> {
        let key = (taxonomy, name.to_lowercase());
        if let Some(id) = self.terms.lock().expect("term cache").get(&key) {
            return Ok(*id);
        }
        let slug = match taxonomy {
            "categories" => self.slugs.category(name),
            _ => crate::shared::slug::make(name, self.slugs.policy),
        };
        let mut existing = None;
        let by_slug = (!slug.is_empty()).then_some(("slug", slug.as_str()));
        for query in by_slug.into_iter().chain([("search", name)]) {
            let listed = self
                .ok(self.http.get(self.url(taxonomy).await?).query(&[
                    query,
                    ("per_page", "100"),
                    ("_fields", "id,name,slug"),
                ]))
                .await?;
            existing = listed.as_array().into_iter().flatten().find_map(|t| {
                // WordPress stores names HTML-escaped (`&amp;`).
                let stored = t["name"].as_str()?.replace("&amp;", "&");
                (stored.eq_ignore_ascii_case(name) || t["slug"] == slug)
                    .then(|| t["id"].as_u64())
                    .flatten()
            });
            if existing.is_some() {
                break;
            }
        }
        let mut term = json!({ "name": name });
        if !slug.is_empty() {
            term["slug"] = json!(slug);
        }
        let id = match existing {
            Some(id) => id,
            None => match self
                .call(self.http.post(self.url(taxonomy).await?).json(&term))
                .await?
            {
                (200..=299, body) => body["id"]
                    .as_u64()
                    .ok_or_else(|| fail(format!("creating {taxonomy} {name:?} returned no id")))?,
                // Created by someone else between our search and our create.
                (400, body) if body["code"] == "term_exists" => body["data"]["term_id"]
                    .as_u64()
                    .ok_or_else(|| fail("term_exists without a term id"))?,
                (status, body) => return Err(status_error(TARGET, status, &wp_error(&body), FIX)),
            },
        };
        self.terms.lock().expect("term cache").insert(key, id);
        Ok(id)
    }

    /// The JSON body of `POST /wp/v2/posts` (without term ids): with `media` as the featured
    /// image, and with JSON-LD when `json_ld`.
    pub fn payload(&self, post: &Post, media: Option<&Media>, json_ld: bool) -> Value {
        let c = &post.content;
        let mut content = format!(
            "<!-- {} -->\n{}",
            marker(&post.id),
            super::html::to_html(&c.body)
        );
        let now = chrono::Utc::now();
        let at = match self.target.status {
            // WordPress publishes a "future" post with a past date at once.
            WordPressStatus::Future => (chrono::DateTime::from_timestamp_millis(post.created_at)
                .unwrap_or_default()
                + self.target.future_delay)
                .max(now + chrono::Duration::minutes(1)),
            _ => now,
        };
        if json_ld {
            let page = super::html::Page {
                blog_name: &self.extras.blog_name,
                blog_url: Some(&self.target.url),
                image: media.map(|m| m.url.as_str()),
                url: None,
                published: at,
            };
            content.push('\n');
            content.push_str(&super::html::json_ld_script(&super::html::blog_posting(
                post, &page,
            )));
        }
        let mut body = json!({
            "title": c.title,
            "slug": c.slug,
            "content": content,
            "excerpt": c.summary,
            "status": self.target.status.as_str(),
        });
        if self.target.status == WordPressStatus::Future {
            body["date_gmt"] = json!(at.format("%Y-%m-%dT%H:%M:%S").to_string());
        }
        if let Some(media) = media {
            body["featured_media"] = json!(media.id);
        }
        let seo = &self.target.seo;
        let mut meta = serde_json::Map::new();
        for (key, value) in [
            (&seo.title, json!(c.seo_title)),
            (&seo.description, json!(c.seo_description)),
            (&seo.keywords, json!(c.seo_keywords.join(", "))),
        ] {
            if let Some(key) = key {
                meta.insert(key.clone(), value);
            }
        }
        if !meta.is_empty() {
            body["meta"] = Value::Object(meta);
        }
        body
    }

    /// Creates the post unless WordPress already holds it; returns its link and state.
    pub async fn publish(&self, post: &Post) -> Result<Delivered, PublishError> {
        self.publish_with(post, None).await
    }

    /// [`Self::publish`], featuring `image` (a generated one) instead of the card.
    pub async fn publish_with(
        &self,
        post: &Post,
        image: Option<&FeatureImage>,
    ) -> Result<Delivered, PublishError> {
        match self.find(&post.id).await {
            Ok(Some(found)) => return Ok(found),
            Ok(None) => {}
            // Not signed in, WordPress refuses the search over drafts with a 400 about
            // `status` before any 401: the credential check names the real problem.
            Err(e @ PublishError::Rejected { .. }) => {
                return Err(self.check().await.err().unwrap_or(e));
            }
            Err(e) => return Err(e),
        }
        let media = match self.extras.image(post, image).await {
            Some(card) => Some(self.media(&post.id, card).await?),
            None => None,
        };
        let json_ld = self.target.seo == SeoFields::default() && self.unfiltered_html().await?;
        let mut body = self.payload(post, media.as_ref(), json_ld);
        let mut tags = Vec::new();
        for tag in &post.content.tags {
            tags.push(self.term("tags", tag).await?);
        }
        body["tags"] = json!(tags);
        body["categories"] = json!([self.term("categories", &post.category).await?]);
        let created = self
            .ok(self.http.post(self.url("posts").await?).json(&body))
            .await?;
        Ok(delivered(&created))
    }

    /// The card's media item: the one an earlier attempt uploaded (found by its slug), or a
    /// new upload.
    async fn media(&self, post_id: &str, card: FeatureImage) -> Result<Media, PublishError> {
        let slug = card_name(post_id);
        let found = self
            .ok(self.http.get(self.url("media").await?).query(&[
                ("slug", slug.as_str()),
                ("context", "edit"),
                ("_fields", "id,slug,source_url"),
            ]))
            .await?;
        if let Some(media) = found
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["slug"] == slug.as_str())
            .and_then(media_of)
        {
            tracing::info!(
                post_id,
                media = media.id,
                "the card was uploaded by an earlier attempt: not uploaded again"
            );
            return Ok(media);
        }
        let created = self
            .ok(self
                .http
                .post(self.url("media").await?)
                .query(&[
                    ("slug", slug.as_str()),
                    ("title", card.alt.as_str()),
                    ("alt_text", card.alt.as_str()),
                ])
                .header(reqwest::header::CONTENT_TYPE, card.content_type)
                .header(
                    reqwest::header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}\"", card.file_name),
                )
                .body(card.bytes))
            .await?;
        media_of(&created).ok_or_else(|| fail("the media upload answered without an id"))
    }

    /// Whether the user may post a `<script>` element; asked once (`users/me`).
    async fn unfiltered_html(&self) -> Result<bool, PublishError> {
        self.unfiltered
            .get_or_try_init(|| async {
                let me = self
                    .ok(self
                        .http
                        .get(self.url("users/me").await?)
                        .query(&[("context", "edit")]))
                    .await?;
                let allowed = me["capabilities"]["unfiltered_html"] == true;
                if !allowed {
                    tracing::info!(user = %self.target.user, "the WordPress user lacks unfiltered_html: posts go without JSON-LD (an SEO plugin can add it)");
                }
                Ok(allowed)
            })
            .await
            .copied()
    }

    /// Startup check: the REST API answers, the credentials are valid and the user may
    /// publish.
    pub async fn check(&self) -> Result<(), PublishError> {
        let me = self
            .ok(self
                .http
                .get(self.url("users/me").await?)
                .query(&[("context", "edit")]))
            .await?;
        let caps = &me["capabilities"];
        let needed = match self.target.status {
            WordPressStatus::Draft => "edit_posts",
            _ => "publish_posts",
        };
        if caps.is_object() && caps[needed] != true {
            return Err(PublishError::Unavailable {
                target: TARGET,
                message: format!(
                    "the user {:?} lacks the {needed} capability; give it the Author role or above",
                    self.target.user
                ),
            });
        }
        Ok(())
    }
}

/// Link and state of a post as WordPress answers it (`publish` and `private` are live,
/// `future` is scheduled, the rest are drafts of some kind).
fn delivered(p: &Value) -> Delivered {
    Delivered {
        location: location(p),
        state: match p["status"].as_str() {
            Some("publish" | "private") => PublicationState::Published,
            Some("future") => PublicationState::Scheduled,
            _ => PublicationState::Draft,
        },
    }
}

fn media_of(m: &Value) -> Option<Media> {
    Some(Media {
        id: m["id"].as_u64()?,
        url: m["source_url"].as_str().unwrap_or_default().to_owned(),
    })
}

fn location(p: &Value) -> String {
    p["link"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("wordpress:{}", p["id"]))
}
