//! What targets hold: the publication ledger, the published posts a new post may link to,
//! and posts' generated images.

use super::sql::{Row, args};
use super::{Publication, PublicationState, Store, StoreError};
use crate::db::{DbError, now_ms};

fn publication_from_row(r: &Row) -> Result<Publication, DbError> {
    Ok(Publication {
        post_id: r.get(0)?,
        target: r.get(1)?,
        location: r.get(2)?,
        published_at: r.get(3)?,
        state: PublicationState::parse(&r.get::<String>(4)?),
    })
}

impl Store {
    /// The ledger row of `(post, target)`, if the target holds the post.
    pub async fn publication(
        &self,
        post_id: &str,
        target: &str,
    ) -> Result<Option<Publication>, StoreError> {
        let (post_id, target) = (post_id.to_owned(), target.to_owned());
        self.call(move |c| {
            c.query_opt(
                "SELECT post_id, target, location, published_at, state FROM publications WHERE post_id = ?1 AND target = ?2",
                args![post_id, target],
            )?
            .as_ref()
            .map(publication_from_row)
            .transpose()
        })
        .await
    }

    /// Records that `target` holds the post as `state`. Recording twice keeps the first row.
    pub async fn record_publication(
        &self,
        post_id: &str,
        target: &str,
        location: &str,
        state: PublicationState,
    ) -> Result<(), StoreError> {
        let (post_id, target, location) =
            (post_id.to_owned(), target.to_owned(), location.to_owned());
        self.call(move |c| {
            c.execute(
                "INSERT INTO publications (post_id, target, location, published_at, state) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (post_id, target) DO NOTHING",
                args![post_id, target, location, now_ms(), state.as_str()],
            )?;
            Ok(())
        })
        .await
    }

    /// Every ledger row of a post.
    pub async fn publications(&self, post_id: &str) -> Result<Vec<Publication>, StoreError> {
        let post_id = post_id.to_owned();
        self.call(move |c| {
            c.query(
                "SELECT post_id, target, location, published_at, state FROM publications WHERE post_id = ?1 ORDER BY target",
                args![post_id],
            )?
            .iter()
            .map(publication_from_row)
            .collect()
        })
        .await
    }

    /// Posts in `language` written before `before_ms` that `target` holds as published,
    /// newest first, with where: what a new post may link to as related.
    pub async fn linkable_posts(
        &self,
        target: &str,
        language: &str,
        before_ms: i64,
        limit: usize,
    ) -> Result<Vec<crate::content::related::Linkable>, StoreError> {
        let (target, language) = (target.to_owned(), language.to_owned());
        self.call(move |c| {
            c.query(
                "SELECT p.id, p.title, p.topic, p.tags, u.location FROM posts p
                 JOIN publications u ON u.post_id = p.id
                 WHERE u.target = ?1 AND u.state = 'published' AND p.language = ?2 AND p.created_at < ?3
                 ORDER BY p.created_at DESC LIMIT ?4",
                args![target, language, before_ms, limit],
            )?
            .iter()
            .map(|r| {
                let tags: String = r.get(3)?;
                Ok(crate::content::related::Linkable {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    topic: r.get(2)?,
                    tags: serde_json::from_str(&tags).unwrap_or_default(),
                    location: r.get(4)?,
                })
            })
            .collect()
        })
        .await
    }

    /// The post's generated image, once one was asked for: `Ok(png)` or `Err(why not)`.
    pub async fn post_image(
        &self,
        post_id: &str,
    ) -> Result<Option<Result<Vec<u8>, String>>, StoreError> {
        let post_id = post_id.to_owned();
        self.call(move |c| {
            c.query_opt(
                "SELECT png, error FROM post_images WHERE post_id = ?1",
                args![post_id],
            )?
            .map(|r| {
                let png: Option<Vec<u8>> = r.get(0)?;
                let error: Option<String> = r.get(1)?;
                Ok(png.ok_or_else(|| error.unwrap_or_default()))
            })
            .transpose()
        })
        .await
    }

    /// Records what asking for the post's generated image gave (the PNG or the error) and
    /// adds its cost to the post's, in one transaction. A second record keeps the first.
    pub async fn record_post_image(
        &self,
        post_id: &str,
        image: Result<Vec<u8>, String>,
        provider: &str,
        model: &str,
        cost_usd: f64,
    ) -> Result<(), StoreError> {
        let (post_id, provider, model) =
            (post_id.to_owned(), provider.to_owned(), model.to_owned());
        let (png, error) = match image {
            Ok(png) => (Some(png), None),
            Err(e) => (None, Some(e)),
        };
        self.transaction(move |tx| {
            {
                let added = tx.execute(
                    "INSERT INTO post_images (post_id, png, provider, model, cost_usd, error, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (post_id) DO NOTHING",
                    args![&post_id, png, provider, model, cost_usd, error, now_ms()],
                )?;
                if added > 0 && cost_usd > 0.0 {
                    tx.execute(
                        "UPDATE posts SET cost_usd = cost_usd + ?2 WHERE id = ?1",
                        args![&post_id, cost_usd],
                    )?;
                }
                Ok(())
            }
        })
        .await
    }
}
