//! Markdown files with front matter, for static site generators.
//!
//! Files are `<content_dir>/<slug>.md`, written atomically (temporary file, fsync, rename), so a
//! site build never sees half a post. The front matter carries `blogflow_id`: a file with our
//! id is ours (a retry finds it and does not write a copy); a file without it belongs to
//! someone else and is never overwritten.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::PublishError;
use crate::config::FrontMatter;
use crate::content::slug::slugify;
use crate::store::Post;

/// Writes posts as Markdown files.
#[derive(Debug, Clone)]
pub struct MarkdownPublisher {
    dir: PathBuf,
    dialect: FrontMatter,
}

fn err(message: String) -> PublishError {
    PublishError::Target {
        target: "markdown",
        message,
    }
}

impl MarkdownPublisher {
    /// A publisher writing into `dir`.
    pub fn new(dir: PathBuf, dialect: FrontMatter) -> Self {
        Self { dir, dialect }
    }

    /// Creates the folder and proves it is writable.
    pub async fn check(&self) -> Result<(), PublishError> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)
                .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
            let probe = dir.join(".blogflow-write-check");
            std::fs::write(&probe, b"ok")
                .map_err(|e| err(format!("{} is not writable: {e}", dir.display())))?;
            let _ = std::fs::remove_file(probe);
            Ok(())
        })
        .await
        .map_err(|e| err(format!("check task failed: {e}")))?
    }

    /// Writes the post unless the folder already holds it; returns the file's path.
    pub async fn publish(&self, post: &Post) -> Result<String, PublishError> {
        let document = render(post, self.dialect);
        let (dir, post_id, slug) = (self.dir.clone(), post.id.clone(), post.content.slug.clone());
        tokio::task::spawn_blocking(move || write_post(&dir, &post_id, &slug, &document))
            .await
            .map_err(|e| err(format!("write task failed: {e}")))?
    }
}

fn holds(path: &Path, post_id: &str) -> Option<bool> {
    let text = std::fs::read_to_string(path).ok()?;
    let head: String = text.lines().take(40).collect::<Vec<_>>().join("\n");
    Some(
        head.contains(&format!("blogflow_id: \"{post_id}\""))
            || head.contains(&format!("blogflow_id = \"{post_id}\"")),
    )
}

fn write_post(
    dir: &Path,
    post_id: &str,
    slug: &str,
    document: &str,
) -> Result<String, PublishError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
    // The slug was cleaned when the post was parsed; cleaning again keeps the path confined
    // even if a row was edited by hand.
    let slug = match slugify(slug) {
        s if s.is_empty() => post_id.to_owned(),
        s => s,
    };
    let short: String = post_id.chars().take(8).collect();
    for name in [format!("{slug}.md"), format!("{slug}-{short}.md")] {
        let path = dir.join(&name);
        match holds(&path, post_id) {
            Some(true) => return Ok(path.display().to_string()),
            Some(false) => continue, // someone else's file: never overwrite it
            None => {
                atomic_write(dir, &path, document.as_bytes())?;
                return Ok(path.display().to_string());
            }
        }
    }
    Err(err(format!(
        "{slug}.md and {slug}-{short}.md both exist and belong to other posts"
    )))
}

fn atomic_write(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("post"),
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(format!("cannot write {}: {e}", path.display())));
    }
    Ok(())
}

/// A string in double quotes, valid in both YAML and TOML (JSON escapes are a subset of both).
fn q(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

fn list(items: &[String]) -> String {
    format!(
        "[{}]",
        items.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
    )
}

/// The whole file: front matter in `dialect`, then the body.
pub fn render(post: &Post, dialect: FrontMatter) -> String {
    let c = &post.content;
    let date = chrono::DateTime::from_timestamp_millis(post.created_at)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let categories = list(std::slice::from_ref(&post.category));
    let front = match dialect {
        FrontMatter::HugoYaml => format!(
            "---\ntitle: {}\ndate: {date}\nslug: {}\ndescription: {}\nsummary: {}\ntags: {}\ncategories: {categories}\nkeywords: {}\nseo_title: {}\nlang: {}\ndraft: false\nblogflow_id: {}\n---\n",
            q(&c.title),
            q(&c.slug),
            q(&c.seo_description),
            q(&c.summary),
            list(&c.tags),
            list(&c.seo_keywords),
            q(&c.seo_title),
            q(&post.language),
            q(&post.id)
        ),
        FrontMatter::HugoToml => format!(
            "+++\ntitle = {}\ndate = {date}\nslug = {}\ndescription = {}\nsummary = {}\ntags = {}\ncategories = {categories}\nkeywords = {}\nseo_title = {}\nlang = {}\ndraft = false\nblogflow_id = {}\n+++\n",
            q(&c.title),
            q(&c.slug),
            q(&c.seo_description),
            q(&c.summary),
            list(&c.tags),
            list(&c.seo_keywords),
            q(&c.seo_title),
            q(&post.language),
            q(&post.id)
        ),
        FrontMatter::Zola => format!(
            "+++\ntitle = {}\ndate = {date}\nslug = {}\ndescription = {}\ndraft = false\n\n[taxonomies]\ntags = {}\ncategories = {categories}\n\n[extra]\nsummary = {}\nkeywords = {}\nseo_title = {}\nlang = {}\nblogflow_id = {}\n+++\n",
            q(&c.title),
            q(&c.slug),
            q(&c.seo_description),
            list(&c.tags),
            q(&c.summary),
            list(&c.seo_keywords),
            q(&c.seo_title),
            q(&post.language),
            q(&post.id)
        ),
    };
    format!("{front}\n{}\n", c.body.trim_end())
}
