//! Markdown files with front matter, for static site generators.
//!
//! Files are `<content_dir>/<slug>.md` (or `.mdx`), written atomically (temporary file, fsync,
//! rename), so a site build never sees half a post. The front matter carries `blogflow_id`: a
//! file with our id is ours (a retry finds it and does not write a copy); a file without it
//! belongs to someone else and is never overwritten.
//!
//! With `git_commit`, each post's file is committed to the repository that holds the content
//! directory; the commit step runs on every attempt, so a crash between writing and committing
//! is completed by the retry.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::PublishError;
use crate::config::FrontMatter;
pub use crate::config::{FIELDS, MarkdownTarget};
use crate::shared::slug::slugify;
use crate::store::Post;

/// Writes posts as Markdown files.
#[derive(Debug, Clone)]
pub struct MarkdownPublisher {
    dir: PathBuf,
    target: MarkdownTarget,
    /// One git command sequence at a time (the index is a lock).
    git: Arc<tokio::sync::Mutex<()>>,
    /// Each post's image (its card, drawn once for all targets), written before the post and
    /// named in its front matter.
    extras: super::Extras,
}

fn err(message: String) -> PublishError {
    PublishError::Target {
        target: "markdown",
        message,
    }
}

impl MarkdownPublisher {
    /// A publisher writing into `dir`.
    pub fn new(dir: PathBuf, target: MarkdownTarget) -> Self {
        Self {
            dir,
            target,
            git: Arc::default(),
            extras: super::Extras::default(),
        }
    }

    /// Also writes each post's social card (see `publish.markdown.image_dir`).
    pub fn with_cards(mut self, cards: Option<crate::images::CardRenderer>) -> Self {
        self.extras.cards = cards;
        self
    }

    /// Writes each post's image, shared with the other targets' publishers (one drawing per
    /// post).
    pub fn with_extras(mut self, extras: super::Extras) -> Self {
        self.extras = extras;
        self
    }

    /// How a post links to the post in the file `location` (the ledger's path), if that file
    /// is still there: `publish.markdown.post_url` with the file's name; else Hugo's `relref`
    /// (Hugo turns it into the page's permalink, whatever the site's permalink settings),
    /// Zola's `@/` internal link (from the `content` folder), or Astro's and MDX blogs'
    /// `/blog/<name>/`.
    pub fn link_to(&self, location: &str) -> Option<String> {
        let path = Path::new(location);
        if !path.is_file() {
            return None;
        }
        let file = path.file_name()?.to_str()?;
        let stem = path.file_stem()?.to_str()?;
        if let Some(url) = &self.target.post_url {
            return Some(url.replace("{slug}", stem));
        }
        Some(match self.target.dialect {
            FrontMatter::HugoYaml | FrontMatter::HugoToml if self.target.extension == "md" => {
                format!("{{{{< relref \"{file}\" >}}}}")
            }
            FrontMatter::Zola => {
                let root = path.ancestors().find(|a| a.ends_with("content"));
                match root.and_then(|root| path.strip_prefix(root).ok()) {
                    Some(inside) => format!("@/{}", inside.to_str()?),
                    None => format!("/{stem}/"),
                }
            }
            _ => format!("/blog/{stem}/"),
        })
    }

    /// Creates the folder and proves it is writable; with `git_commit`, that it is inside a
    /// repository with a committer identity.
    pub async fn check(&self) -> Result<(), PublishError> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)
                .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
            let probe = dir.join(".blogflow-write-check");
            std::fs::write(&probe, b"ok")
                .map_err(|e| err(format!("{} is not writable: {e}", dir.display())))?;
            let _ = std::fs::remove_file(probe);
            Ok::<(), PublishError>(())
        })
        .await
        .map_err(|e| err(format!("check task failed: {e}")))??;
        if self.target.git_commit {
            self.git_ok(&["rev-parse", "--show-toplevel"]).await.map_err(|e| {
                err(format!(
                    "git_commit is on but {} is not in a git repository ({e}); run git init there or turn git_commit off",
                    self.dir.display()
                ))
            })?;
            self.git_ok(&["config", "user.email"]).await.map_err(|_| {
                err("git_commit is on but the repository has no committer: set git config user.name and user.email".into())
            })?;
        }
        Ok(())
    }

    /// Writes the post unless the folder already holds it (and commits it, if configured);
    /// returns the file's path.
    pub async fn publish(&self, post: &Post) -> Result<String, PublishError> {
        self.publish_with(post, None).await
    }

    /// [`Self::publish`], with `image` (a generated one) as the post's image instead of the
    /// card.
    pub async fn publish_with(
        &self,
        post: &Post,
        image: Option<&super::FeatureImage>,
    ) -> Result<String, PublishError> {
        let (dir, owned, target) = (self.dir.clone(), post.clone(), self.target.clone());
        let image = self.extras.image(post, image).await;
        let path = tokio::task::spawn_blocking(move || {
            write_post(
                &dir,
                &owned.id,
                &owned.content.slug,
                target.extension,
                |slug| {
                    // The card first: the post's file is what marks the post as written, so a
                    // crash in between rewrites the same card under the same name, no second.
                    let image = match &image {
                        Some(image) => Some(write_image(
                            &image.bytes,
                            crate::images::generated::extension(image.content_type),
                            &dir,
                            &target,
                            slug,
                        )?),
                        None => None,
                    };
                    Ok(render_with(&owned, &target, slug, image.as_deref()))
                },
            )
        })
        .await
        .map_err(|e| err(format!("write task failed: {e}")))??;
        if self.target.git_commit {
            self.commit(&path, &post.content.title).await?;
        }
        Ok(path)
    }

    /// Runs git in the content directory; stdout on success, stderr's last line otherwise.
    async fn git_ok(&self, args: &[&str]) -> Result<String, String> {
        let out = tokio::process::Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| format!("cannot run git: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            Err(stderr
                .trim()
                .lines()
                .last()
                .unwrap_or("git failed")
                .to_owned())
        }
    }

    /// Commits `path` unless the repository already has it as it is.
    async fn commit(&self, path: &str, title: &str) -> Result<(), PublishError> {
        let _one = self.git.lock().await;
        let fail = |e: String| err(format!("git commit of {path} failed: {e}"));
        let pending = self
            .git_ok(&["status", "--porcelain", "--", path])
            .await
            .map_err(fail)?;
        if pending.is_empty() {
            return Ok(()); // committed by an earlier attempt
        }
        self.git_ok(&["add", "--", path]).await.map_err(fail)?;
        self.git_ok(&[
            "commit",
            "--quiet",
            "-m",
            &format!("Add post: {title}"),
            "--",
            path,
        ])
        .await
        .map_err(fail)?;
        Ok(())
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

/// Writes the post as `<slug>.<ext>`, or `<slug>-<id prefix>.<ext>` when another post's file
/// has that name; `document(slug)` renders it with the slug its file got, so the front matter
/// and the file name always claim the same URL.
fn write_post(
    dir: &Path,
    post_id: &str,
    slug: &str,
    extension: &str,
    document: impl Fn(&str) -> Result<String, PublishError>,
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
    for candidate in [slug.clone(), format!("{slug}-{short}")] {
        let path = dir.join(format!("{candidate}.{extension}"));
        match holds(&path, post_id) {
            Some(true) => return Ok(path.display().to_string()),
            Some(false) => continue, // someone else's file: never overwrite it
            None => {
                atomic_write(dir, &path, document(&candidate)?.as_bytes())?;
                return Ok(path.display().to_string());
            }
        }
    }
    Err(err(format!(
        "{slug}.{extension} and {slug}-{short}.{extension} both exist and belong to other posts"
    )))
}

/// Writes the post's image (its card, or its generated image) as `<slug>.<extension>` where
/// the target keeps images; returns what the front matter calls it.
fn write_image(
    bytes: &[u8],
    extension: &str,
    posts_dir: &Path,
    target: &MarkdownTarget,
    slug: &str,
) -> Result<String, PublishError> {
    let dir = target.image_dir.as_deref().unwrap_or(posts_dir);
    std::fs::create_dir_all(dir)
        .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
    let name = format!("{slug}.{extension}");
    atomic_write(dir, &dir.join(&name), bytes)?;
    Ok(match &target.image_url {
        Some(prefix) => format!("{}/{name}", prefix.trim_end_matches('/')),
        None => name,
    })
}

fn atomic_write(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    // Not derived from the final name: a long name plus a suffix could pass the file
    // system's 255-byte limit.
    let tmp = dir.join(format!(".blogflow-{}.tmp", uuid::Uuid::new_v4().simple()));
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

/// The whole file: front matter in the target's dialect, then the body.
///
/// The same fields in every dialect; Zola wants tags and categories under `[taxonomies]` and
/// its own unknown keys under `[extra]`, Hugo takes them all at the top, Astro's blog schema
/// names the date `pubDate`. `fields` renames or drops keys after the preset.
pub fn render(post: &Post, target: &MarkdownTarget) -> String {
    render_as(post, target, &post.content.slug)
}

/// [`render`] with the slug the post's file got (its own, or with a suffix when another post
/// holds that name).
pub fn render_as(post: &Post, target: &MarkdownTarget, slug: &str) -> String {
    render_with(post, target, slug, None)
}

/// [`render_as`] naming the post's social card `image` in the field the site's theme reads:
/// Hugo's `images` (a list), Astro's `heroImage`, Zola's `extra.image`.
pub fn render_with(
    post: &Post,
    target: &MarkdownTarget,
    slug: &str,
    image: Option<&str>,
) -> String {
    let c = &post.content;
    let date = chrono::DateTime::from_timestamp_millis(post.created_at)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let head = [
        ("title", q(&c.title)),
        ("date", date),
        ("slug", q(slug)),
        ("description", q(&c.seo_description)),
        ("draft", "false".to_owned()),
    ];
    let taxonomies = [
        ("tags", list(&c.tags)),
        ("categories", list(std::slice::from_ref(&post.category))),
    ];
    let sources = &post.provenance.sources;
    let extra = [
        ("summary", q(&c.summary)),
        ("keywords", list(&c.seo_keywords)),
        ("seo_title", q(&c.seo_title)),
        ("lang", q(&post.language)),
        ("blogflow_id", q(&post.id)),
        ("grounded", post.provenance.grounded.to_string()),
    ];
    // Title and link of each source, as inline tables (TOML) or flow mappings (YAML).
    let sources_field = (!sources.is_empty()).then(|| {
        let sep = if matches!(target.dialect, FrontMatter::HugoYaml | FrontMatter::Astro) {
            ": "
        } else {
            " = "
        };
        let items: Vec<String> = sources
            .iter()
            .map(|s| format!("{{title{sep}{}, url{sep}{}}}", q(&s.title), q(&s.url)))
            .collect();
        ("sources", format!("[{}]", items.join(", ")))
    });
    let image_field = image.map(|url| match target.dialect {
        FrontMatter::HugoYaml | FrontMatter::HugoToml => ("image", list(&[url.to_owned()])),
        FrontMatter::Astro | FrontMatter::Zola => ("image", q(url)),
    });
    let extra: Vec<(&'static str, String)> = extra
        .into_iter()
        .chain(sources_field)
        .chain(image_field)
        .collect();
    // Hugo counts words, summaries and reading time by spaces unless told the text is CJK.
    let cjk = matches!(post.language.as_str(), "ko" | "ja" | "zh")
        && matches!(
            target.dialect,
            FrontMatter::HugoYaml | FrontMatter::HugoToml
        );
    let head: Vec<(&'static str, String)> = head
        .into_iter()
        .chain(cjk.then(|| ("isCJKLanguage", "true".to_owned())))
        .collect();
    let preset = |key: &'static str| match (target.dialect, key) {
        (FrontMatter::Astro, "date") => "pubDate",
        (FrontMatter::Astro, "image") => "heroImage",
        (FrontMatter::HugoYaml | FrontMatter::HugoToml, "image") => "images",
        _ => key,
    };
    let lines = |fields: &[(&'static str, String)], sep: &str| -> String {
        fields
            .iter()
            .filter_map(|(k, v)| {
                let key = match target.fields.get(*k) {
                    Some(renamed) if renamed.is_empty() => return None,
                    Some(renamed) => renamed.as_str(),
                    None => preset(k),
                };
                Some(format!("{key}{sep}{v}\n"))
            })
            .collect()
    };
    let (fence, front) = match target.dialect {
        FrontMatter::HugoYaml | FrontMatter::Astro => (
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
    let body = c.body.trim_end();
    // An `.mdx` file is compiled as MDX, which reads `{`, `<` and `import` lines as code.
    let body = if target.extension == "mdx" {
        std::borrow::Cow::Owned(super::mdx::escape(body))
    } else {
        std::borrow::Cow::Borrowed(body)
    };
    format!("{fence}\n{front}{fence}\n\n{body}\n")
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
            duplicate_of: None,
            review: None,
            provenance: Default::default(),
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
            let doc = render(&post(), &MarkdownTarget::new(dialect));
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
    fn sources_are_listed_in_every_dialect() {
        let mut grounded = post();
        grounded.provenance.grounded = true;
        grounded.provenance.sources = vec![
            crate::content::SourceRef {
                title: "정부, \"AI 반도체\"에 1조 원".into(),
                url: "https://news.example.kr/a?id=1&x=2".into(),
            },
            crate::content::SourceRef {
                title: "Chips: a plan".into(),
                url: "https://news.example.com/b".into(),
            },
        ];
        for dialect in [FrontMatter::HugoToml, FrontMatter::Zola] {
            let doc = render(&grounded, &MarkdownTarget::new(dialect));
            let table: toml::Table = toml::from_str(&front(&doc, "+++")).unwrap();
            let extra = if dialect == FrontMatter::Zola {
                table["extra"].as_table().unwrap()
            } else {
                &table
            };
            assert_eq!(extra["grounded"].as_bool(), Some(true));
            let sources = extra["sources"].as_array().unwrap();
            assert_eq!(
                sources[0]["title"].as_str(),
                Some("정부, \"AI 반도체\"에 1조 원")
            );
            assert_eq!(
                sources[1]["url"].as_str(),
                Some("https://news.example.com/b")
            );
        }
        for dialect in [FrontMatter::HugoYaml, FrontMatter::Astro] {
            let doc = render(&grounded, &MarkdownTarget::new(dialect));
            let y = &yaml_rust2::YamlLoader::load_from_str(&front(&doc, "---")).unwrap()[0];
            assert_eq!(
                y["sources"][0]["url"].as_str(),
                Some("https://news.example.kr/a?id=1&x=2")
            );
            assert_eq!(y["sources"][1]["title"].as_str(), Some("Chips: a plan"));
            assert_eq!(y["grounded"].as_bool(), Some(true));
        }
        let plain = render(&post(), &MarkdownTarget::new(FrontMatter::HugoYaml));
        assert!(plain.contains("grounded: false") && !plain.contains("sources:"));
    }

    #[test]
    fn astro_and_field_mapping_rename_and_drop_keys() {
        let mut target = MarkdownTarget::new(FrontMatter::Astro);
        target.fields.insert("summary".into(), String::new());
        target.fields.insert("seo_title".into(), "metaTitle".into());
        target.extension = "mdx";
        let doc = render(&post(), &target);
        let yaml = yaml_rust2::YamlLoader::load_from_str(&front(&doc, "---")).unwrap();
        let y = &yaml[0];
        assert_eq!(y["pubDate"].as_str(), Some("2026-11-26T02:00:00Z"));
        assert!(y["date"].is_badvalue(), "renamed by the preset");
        assert_eq!(y["metaTitle"].as_str(), Some("S"));
        assert!(y["seo_title"].is_badvalue() && y["summary"].is_badvalue());
        assert_eq!(y["title"].as_str(), Some("AI \"에이전트\": 무엇이 바뀌나"));
        assert_eq!(y["description"].as_str(), Some("D: with colon"));
        assert_eq!(y["tags"].as_vec().unwrap().len(), 2);
    }

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    #[tokio::test]
    async fn git_commit_commits_each_post_once_and_check_explains_a_missing_repository() {
        let repo = tempfile::tempdir().unwrap();
        let content = repo.path().join("content/posts");
        let mut target = MarkdownTarget::new(FrontMatter::HugoYaml);
        target.git_commit = true;
        let publisher = MarkdownPublisher::new(content.clone(), target);
        let e = publisher.check().await.unwrap_err();
        assert!(e.to_string().contains("not in a git repository"), "{e}");

        git(repo.path(), &["init", "--quiet"]);
        git(repo.path(), &["config", "user.name", "Site"]);
        git(repo.path(), &["config", "user.email", "site@example.org"]);
        publisher.check().await.unwrap();
        let path = publisher.publish(&post()).await.unwrap();
        // A retry (the ledger write was lost) commits nothing new.
        assert_eq!(publisher.publish(&post()).await.unwrap(), path);
        let log = git(repo.path(), &["log", "--format=%s", "--name-only"]);
        assert_eq!(
            log.trim(),
            "Add post: AI \"에이전트\": 무엇이 바뀌나\n\ncontent/posts/ai-agents.md"
        );
        // Written but not committed (a crash in between): the retry commits it.
        let mut other = post();
        other.id = "def456".into();
        other.content.slug = "second".into();
        std::fs::write(
            content.join("second.md"),
            render(&other, &MarkdownTarget::new(FrontMatter::HugoYaml)),
        )
        .unwrap();
        publisher.publish(&other).await.unwrap();
        assert_eq!(
            git(repo.path(), &["rev-list", "--count", "HEAD"]).trim(),
            "2"
        );
        assert_eq!(git(repo.path(), &["status", "--porcelain"]).trim(), "");
    }

    #[test]
    fn a_file_is_recognised_as_ours_only_by_its_id() {
        let dir = tempfile::tempdir().unwrap();
        for dialect in [
            FrontMatter::HugoYaml,
            FrontMatter::HugoToml,
            FrontMatter::Zola,
            FrontMatter::Astro,
        ] {
            let path = dir.path().join(format!("{dialect:?}.md"));
            std::fs::write(&path, render(&post(), &MarkdownTarget::new(dialect))).unwrap();
            assert_eq!(holds(&path, "abc123"), Some(true), "{dialect:?}");
            assert_eq!(holds(&path, "abc12"), Some(false), "{dialect:?}");
        }
        assert_eq!(holds(&dir.path().join("missing.md"), "abc123"), None);
    }

    #[test]
    fn hugo_is_told_that_korean_text_is_cjk() {
        let korean = post();
        assert_eq!(korean.language, "ko");
        let mut english = post();
        english.language = "en".into();
        for dialect in [FrontMatter::HugoYaml, FrontMatter::HugoToml] {
            let doc = render(&korean, &MarkdownTarget::new(dialect));
            assert!(doc.contains("isCJKLanguage"), "{dialect:?}: {doc}");
            let doc = render(&english, &MarkdownTarget::new(dialect));
            assert!(!doc.contains("isCJKLanguage"), "English is not CJK: {doc}");
        }
        let astro = render(&korean, &MarkdownTarget::new(FrontMatter::Astro));
        assert!(!astro.contains("isCJKLanguage"), "a Hugo key only: {astro}");
    }

    #[test]
    fn foreign_files_are_never_overwritten_and_retries_write_nothing_new() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ai-agents.md"),
            "---\ntitle: mine\n---\nhand written",
        )
        .unwrap();
        let target = MarkdownTarget::new(FrontMatter::HugoYaml);
        let doc = |slug: &str| Ok(render_as(&post(), &target, slug));
        let first = write_post(dir.path(), "abc123", "ai-agents", "md", doc).unwrap();
        let text = std::fs::read_to_string(&first).unwrap();
        assert!(
            text.contains("slug: \"ai-agents-abc123\""),
            "the front matter claims the file's URL, not the taken one: {text}"
        );
        assert!(first.ends_with("ai-agents-abc123.md"), "{first}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("ai-agents.md")).unwrap(),
            "---\ntitle: mine\n---\nhand written"
        );
        let again = write_post(dir.path(), "abc123", "ai-agents", "md", doc).unwrap();
        assert_eq!(again, first);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temporary files or copies left"
        );
        let escape = write_post(dir.path(), "def456", "../../etc/passwd", "md", doc).unwrap();
        assert!(
            escape.starts_with(&dir.path().display().to_string())
                && escape.ends_with("etc-passwd.md"),
            "{escape}"
        );
    }
}
