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
///
/// The same fields in every dialect; Zola wants tags and categories under `[taxonomies]` and
/// its own unknown keys under `[extra]`, Hugo takes them all at the top.
pub fn render(post: &Post, dialect: FrontMatter) -> String {
    let c = &post.content;
    let date = chrono::DateTime::from_timestamp_millis(post.created_at)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let head = [
        ("title", q(&c.title)),
        ("date", date),
        ("slug", q(&c.slug)),
        ("description", q(&c.seo_description)),
        ("draft", "false".to_owned()),
    ];
    let taxonomies = [
        ("tags", list(&c.tags)),
        ("categories", list(std::slice::from_ref(&post.category))),
    ];
    let extra = [
        ("summary", q(&c.summary)),
        ("keywords", list(&c.seo_keywords)),
        ("seo_title", q(&c.seo_title)),
        ("lang", q(&post.language)),
        ("blogflow_id", q(&post.id)),
    ];
    let lines = |fields: &[(&str, String)], sep: &str| -> String {
        fields
            .iter()
            .map(|(k, v)| format!("{k}{sep}{v}\n"))
            .collect()
    };
    let (fence, front) = match dialect {
        FrontMatter::HugoYaml => (
            "---",
            [
                lines(&head, ": "),
                lines(&taxonomies, ": "),
                lines(&extra, ": "),
            ]
            .concat(),
        ),
        FrontMatter::HugoToml => (
            "+++",
            [
                lines(&head, " = "),
                lines(&taxonomies, " = "),
                lines(&extra, " = "),
            ]
            .concat(),
        ),
        FrontMatter::Zola => (
            "+++",
            format!(
                "{}\n[taxonomies]\n{}\n[extra]\n{}",
                lines(&head, " = "),
                lines(&taxonomies, " = "),
                lines(&extra, " = ")
            ),
        ),
    };
    format!("{fence}\n{front}{fence}\n\n{}\n", c.body.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::{GeneratedPost, QualityReport};
    use crate::store::PostStatus;

    fn post() -> Post {
        Post {
            id: "abc123".into(),
            job_id: "j".into(),
            slot: 0,
            topic: "t".into(),
            keyword: None,
            category: "ai-trends".into(),
            language: "ko".into(),
            content: GeneratedPost {
                title: "AI \"에이전트\": 무엇이 바뀌나".into(),
                slug: "ai-agents".into(),
                summary: "요약\n둘째 줄".into(),
                tags: vec!["AI".into(), "에이전트".into()],
                seo_title: "S".into(),
                seo_description: "D: with colon".into(),
                seo_keywords: vec!["k".into()],
                body: "## Intro\n\nText.\n".into(),
            },
            quality: QualityReport {
                score: 80,
                parts: vec![],
                forbidden: vec![],
            },
            status: PostStatus::Ready,
            provider: "p".into(),
            model: "m".into(),
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: 0.0,
            generation_ms: 0,
            attempts: 1,
            created_at: 1_795_658_400_000,
            published_at: None,
            hold_reason: None,
        }
    }

    fn front(doc: &str, fence: &str) -> String {
        doc.strip_prefix(&format!("{fence}\n"))
            .unwrap()
            .split(&format!("\n{fence}\n"))
            .next()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn toml_dialects_parse_and_keep_tricky_text() {
        for dialect in [FrontMatter::HugoToml, FrontMatter::Zola] {
            let doc = render(&post(), dialect);
            let table: toml::Table = toml::from_str(&front(&doc, "+++")).unwrap();
            assert_eq!(
                table["title"].as_str(),
                Some("AI \"에이전트\": 무엇이 바뀌나")
            );
            assert_eq!(
                table["date"].as_datetime().unwrap().to_string(),
                "2026-11-26T02:00:00Z"
            );
            let tags = if dialect == FrontMatter::Zola {
                &table["taxonomies"]["tags"]
            } else {
                &table["tags"]
            };
            assert_eq!(tags.as_array().unwrap().len(), 2);
            let id = if dialect == FrontMatter::Zola {
                &table["extra"]["blogflow_id"]
            } else {
                &table["blogflow_id"]
            };
            assert_eq!(id.as_str(), Some("abc123"));
            assert!(doc.ends_with("## Intro\n\nText.\n"));
        }
    }

    #[test]
    fn a_file_is_recognised_as_ours_only_by_its_id() {
        let dir = tempfile::tempdir().unwrap();
        for dialect in [
            FrontMatter::HugoYaml,
            FrontMatter::HugoToml,
            FrontMatter::Zola,
        ] {
            let path = dir.path().join(format!("{dialect:?}.md"));
            std::fs::write(&path, render(&post(), dialect)).unwrap();
            assert_eq!(holds(&path, "abc123"), Some(true), "{dialect:?}");
            assert_eq!(holds(&path, "abc12"), Some(false), "{dialect:?}");
        }
        assert_eq!(holds(&dir.path().join("missing.md"), "abc123"), None);
    }

    #[test]
    fn foreign_files_are_never_overwritten_and_retries_write_nothing_new() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ai-agents.md"),
            "---\ntitle: mine\n---\nhand written",
        )
        .unwrap();
        let doc = render(&post(), FrontMatter::HugoYaml);
        let first = write_post(dir.path(), "abc123", "ai-agents", &doc).unwrap();
        assert!(first.ends_with("ai-agents-abc123.md"), "{first}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("ai-agents.md")).unwrap(),
            "---\ntitle: mine\n---\nhand written"
        );
        let again = write_post(dir.path(), "abc123", "ai-agents", &doc).unwrap();
        assert_eq!(again, first);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temporary files or copies left"
        );
        let escape = write_post(dir.path(), "def456", "../../etc/passwd", &doc).unwrap();
        assert!(
            escape.starts_with(&dir.path().display().to_string())
                && escape.ends_with("etc-passwd.md"),
            "{escape}"
        );
    }
}
