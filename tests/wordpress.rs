//! The WordPress publisher against a real WordPress: Debian's `wordpress` package on the
//! machine's MariaDB (127.0.0.1:3306), served by `php -S`, installed fresh by the test with
//! pretty or plain permalinks.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use blogflow::config::{Config, Env, RawConfig};
use blogflow::content::{GeneratedPost, QualityReport};
use blogflow::publish::{PublishError, Publisher};
use blogflow::store::{Post, PostStatus, PublicationState};
use serde_json::Value;

const WORDPRESS: &str = "/usr/share/wordpress";

/// A WordPress site of its own: a database, a document root and a `php -S` server.
struct Site {
    server: Child,
    database: String,
    /// `http://127.0.0.1:port`.
    url: String,
    /// The administrator's application password.
    password: String,
    _root: tempfile::TempDir,
}

impl Site {
    async fn start(permalinks: &str) -> Self {
        assert!(
            Path::new(WORDPRESS).join("wp-settings.php").is_file(),
            "Debian's wordpress package is needed: run scripts/install-deps --tests"
        );
        let port = support::redis_server::free_port();
        let host = format!("127.0.0.1:{port}");
        let database = format!("blogflow_wp_{}_{port}", std::process::id());
        let root = tempfile::tempdir().unwrap();
        // The PHP files at the top are copied, so that WordPress finds this site's
        // wp-config.php beside them; the libraries are shared.
        for entry in std::fs::read_dir(WORDPRESS).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.extension().is_some_and(|x| x == "php") {
                std::fs::copy(&path, root.path().join(&name)).unwrap();
            } else if name == "wp-admin" || name == "wp-includes" {
                std::os::unix::fs::symlink(&path, root.path().join(&name)).unwrap();
            }
        }
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wordpress");
        let config = std::fs::read_to_string(here.join("wp-config.php"))
            .unwrap()
            .replace("@DATABASE@", &database)
            .replace("@HOST@", &host);
        std::fs::write(root.path().join("wp-config.php"), config).unwrap();
        std::fs::copy(here.join("setup.php"), root.path().join("setup.php")).unwrap();
        let setup = Command::new("php")
            .current_dir(root.path())
            .args(["setup.php", &database, &host, permalinks])
            .stderr(Stdio::null())
            .output()
            .expect("php is needed: run scripts/install-deps --tests");
        let password = String::from_utf8(setup.stdout).unwrap();
        assert!(
            setup.status.success() && password.len() == 24,
            "WordPress did not install (is MariaDB up on 127.0.0.1:3306?): {password}"
        );
        let server = Command::new("php")
            .args(["-S", &host, "-t"])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://{host}");
        let http = support::http();
        for _ in 0..200 {
            if http.get(format!("{url}/wp-json/")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Self {
            server,
            database,
            url,
            password,
            _root: root,
        }
    }

    /// The configuration an operator would write for this site.
    fn config(&self, language: &str, password: &str, extra: &str) -> Config {
        let raw: RawConfig = toml::from_str(&format!(
            "schedules = []\n[generation]\nlanguage = \"{language}\"\n{extra}\n"
        ))
        .unwrap();
        let env = Env::from_pairs([
            ("BLOGFLOW_WORDPRESS_URL".to_owned(), self.url.clone()),
            (
                "BLOGFLOW_WORDPRESS_ALLOW_HTTP".to_owned(),
                "true".to_owned(),
            ),
            ("BLOGFLOW_WORDPRESS_USER".to_owned(), "admin".to_owned()),
            (
                "BLOGFLOW_WORDPRESS_APP_PASSWORD".to_owned(),
                password.to_owned(),
            ),
        ]);
        Config::validate(raw, &env).unwrap().0
    }

    /// `GET /wp/v2/{path}` as the administrator.
    async fn get(&self, path: &str) -> Value {
        support::http()
            .get(format!("{}/?rest_route=/wp/v2/{path}", self.url))
            .basic_auth("admin", Some(&self.password))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = Command::new("php")
            .args([
                "-r",
                &format!(
                    "(new mysqli('127.0.0.1', 'root', '', '', 3306))->query('DROP DATABASE IF EXISTS `{}`');",
                    self.database
                ),
            ])
            .status();
    }
}

fn wordpress(config: &Config) -> Publisher {
    blogflow::app::publishers(config)
        .into_iter()
        .find(|p| p.target() == "wordpress")
        .unwrap()
}

fn post(n: usize, config: &Config, title: &str, tags: &[&str], slug: &str) -> Post {
    let g = &config.generation;
    Post {
        id: format!("{n:08}-aaaa-4bbb-8ccc-wordpress{n:03}"),
        job_id: "job".into(),
        slot: 0,
        topic: "agents".into(),
        keyword: None,
        category: g.category.clone(),
        language: g.language.code().into(),
        content: GeneratedPost {
            title: title.into(),
            slug: g.slugs.post(slug, title),
            summary: "요약 summary".into(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            seo_title: title.into(),
            seo_description: "description".into(),
            seo_keywords: vec![],
            body: "## 서론 Intro\n\n에이전트는 **도구**를 쓴다. Agents use tools.\n".into(),
        },
        quality: QualityReport {
            score: 90,
            parts: vec![],
            forbidden: vec![],
        },
        status: PostStatus::Ready,
        provider: "fake".into(),
        model: "m".into(),
        input_tokens: 0,
        output_tokens: 0,
        cost_usd: 0.0,
        generation_ms: 0,
        attempts: 1,
        created_at: chrono::Utc::now().timestamp_millis(),
        published_at: None,
        hold_reason: None,
        duplicate_of: None,
        review: None,
        provenance: Default::default(),
    }
}

/// Publishes an English and a Korean post to a fresh site, twice each, and checks what
/// WordPress holds: one post each, with the category's display name and slug, tags, slugs.
async fn publishes_in_both_languages(permalinks: &str) {
    let site = Site::start(permalinks).await;
    let en = site.config("en", &site.password, "");
    let ko = site.config("ko", &site.password, "category_slug = \"ai-trends-ko\"");
    let cases = [
        (
            wordpress(&en),
            post(
                1,
                &en,
                "How agents changed software teams",
                &["agents", "AI"],
                "",
            ),
        ),
        (
            wordpress(&ko),
            post(
                2,
                &ko,
                "AI 에이전트가 바꾸는 개발팀",
                &["에이전트", "AI"],
                "에이전트-개발팀",
            ),
        ),
    ];
    for (publisher, post) in &cases {
        publisher.check().await.unwrap();
        let first = publisher.publish(post).await.unwrap();
        assert_eq!(first.state, PublicationState::Published);
        // A retry (say, after a lost answer) finds the post instead of making another.
        let again = publisher.publish(post).await.unwrap();
        assert_eq!(again, first);
        assert!(first.location.starts_with(&site.url), "{first:?}");
        featured_card_and_json_ld(&site, post).await;
    }
    let held = site
        .get("posts&context=edit&per_page=100&status=publish")
        .await;
    let held = held.as_array().unwrap();
    assert_eq!(
        held.len(),
        2,
        "one post per post, no doubles ({permalinks}): {held:?}"
    );
    let categories = site.get("categories&per_page=100").await;
    let category = |name: &str| {
        categories
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no category {name}: {categories}"))
            .clone()
    };
    assert_eq!(category("AI Trends")["slug"], "ai-trends");
    assert_eq!(category("AI 트렌드")["slug"], "ai-trends-ko");
    let korean = held
        .iter()
        .find(|p| p["title"]["raw"] == "AI 에이전트가 바꾸는 개발팀")
        .unwrap();
    assert_eq!(
        korean["slug"], "eijeonteu-gaebaltim",
        "romanised by default"
    );
    assert_eq!(
        korean["categories"],
        serde_json::json!([category("AI 트렌드")["id"]])
    );
    let tags = site.get("tags&per_page=100").await;
    assert!(
        tags.as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "에이전트" && t["slug"] == "eijeonteu"),
        "{tags}"
    );
}

/// The post's card is one media item with the name a retry looks for, the post features it,
/// WordPress serves it, and the content WordPress renders carries a `BlogPosting` that names
/// it.
async fn featured_card_and_json_ld(site: &Site, post: &Post) {
    let slug = blogflow::publish::card_name(&post.id);
    let media = site.get(&format!("media&context=edit&slug={slug}")).await;
    let media = media.as_array().unwrap();
    assert_eq!(media.len(), 1, "one card, uploaded once: {media:?}");
    assert_eq!(media[0]["alt_text"], post.content.title);
    let url = media[0]["source_url"].as_str().unwrap();
    let png = support::http().get(url).send().await.unwrap();
    assert_eq!(png.status(), 200, "{url}");
    let png = png.bytes().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{url}");
    let marker = blogflow::publish::wordpress::marker(&post.id);
    let found = site
        .get(&format!(
            "posts&context=edit&status=publish&search={}",
            marker.replace(' ', "+")
        ))
        .await;
    let held = &found.as_array().unwrap()[0];
    assert_eq!(held["featured_media"], media[0]["id"]);
    let (ld, _) = support::json_ld(held["content"]["rendered"].as_str().unwrap());
    assert_eq!(ld.len(), 1, "{}", held["content"]["rendered"]);
    let problems = support::blog_posting_problems(&ld[0], true);
    assert!(problems.is_empty(), "{problems:?}: {}", ld[0]);
    assert_eq!(ld[0]["image"][0], url);
    assert_eq!(ld[0]["headline"], post.content.title);
}

#[tokio::test]
async fn wordpress_with_pretty_permalinks_takes_posts_in_both_languages_once() {
    support::watchdog();
    publishes_in_both_languages("pretty").await;
}

#[tokio::test]
async fn wordpress_with_plain_permalinks_is_found_under_rest_route() {
    support::watchdog();
    publishes_in_both_languages("plain").await;
}

#[tokio::test]
async fn a_wrong_application_password_is_a_401_that_names_the_setting() {
    support::watchdog();
    let site = Site::start("pretty").await;
    let wrong = "abcd efgh ijkl mnop qrst uvwx";
    let config = site.config("en", wrong, "");
    let publisher = wordpress(&config);
    let e = publisher
        .publish(&post(3, &config, "A post nobody may publish", &[], ""))
        .await
        .unwrap_err();
    let message = e.to_string();
    assert!(matches!(e, PublishError::Unavailable { .. }), "{e:?}");
    assert!(
        message.contains("401") && message.contains("BLOGFLOW_WORDPRESS_APP_PASSWORD"),
        "{message}"
    );
    assert!(!message.contains(wrong) && !message.contains(&site.password));
    // `config check --online` says the same, for this target, without publishing.
    let out = Command::new(env!("CARGO_BIN_EXE_blogflow"))
        .args(["config", "check", "--online"])
        .current_dir(tempfile::tempdir().unwrap().path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("BLOGFLOW_WORDPRESS_URL", &site.url)
        .env("BLOGFLOW_WORDPRESS_ALLOW_HTTP", "true")
        .env("BLOGFLOW_WORDPRESS_USER", "admin")
        .env("BLOGFLOW_WORDPRESS_APP_PASSWORD", wrong)
        .env("BLOGFLOW_LOCAL_MODEL", "off")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("target       wordpress")
            && text.contains("FAILED  target wordpress")
            && text.contains("BLOGFLOW_WORDPRESS_APP_PASSWORD"),
        "{text}"
    );
    assert!(!text.contains(wrong), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_blogflow"))
        .args(["config", "check", "--online"])
        .current_dir(tempfile::tempdir().unwrap().path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("BLOGFLOW_WORDPRESS_URL", &site.url)
        .env("BLOGFLOW_WORDPRESS_ALLOW_HTTP", "true")
        .env("BLOGFLOW_WORDPRESS_USER", "admin")
        .env("BLOGFLOW_WORDPRESS_APP_PASSWORD", &site.password)
        .env("BLOGFLOW_LOCAL_MODEL", "off")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("ok      target wordpress"),
        "{text}"
    );
    assert_eq!(
        site.get("posts&context=edit&status=publish,draft").await,
        serde_json::json!([]),
        "checking publishes nothing"
    );
}
