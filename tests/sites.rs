//! Generated posts built by the real engines they are written for: Hugo (Debian's `hugo`)
//! for both front-matter dialects in both languages, and a Korean run on default settings.

mod support;

use std::path::Path;
use std::process::Command;

use blogflow::config::FrontMatter;
use blogflow::content::{GeneratedPost, QualityReport};
use blogflow::publish::{MarkdownPublisher, MarkdownTarget};
use blogflow::store::{Post, PostStatus};
use serde_json::{Value, json};
use support::{FakeOpenAi, InProcess, Reply};

/// A Hugo site whose single pages print what Hugo made of each post.
fn hugo_site(posts: &Path) -> tempfile::TempDir {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(
        site.path().join("hugo.toml"),
        format!(
            "baseURL = \"https://blog.example.org/\"\ntitle = \"AI\"\ncontentDir = \"{}\"\n\
             disableKinds = [\"RSS\", \"sitemap\", \"robotsTXT\", \"404\"]\n",
            posts.parent().unwrap().display()
        ),
    )
    .unwrap();
    let layouts = site.path().join("layouts/_default");
    std::fs::create_dir_all(&layouts).unwrap();
    std::fs::write(
        layouts.join("single.html"),
        "<pre id=\"facts\">{{ jsonify (dict \"id\" .Params.blogflow_id \"words\" .WordCount \
         \"minutes\" .ReadingTime \"cjk\" .Params.isCJKLanguage \"url\" .RelPermalink \
         \"categories\" .Params.categories) }}</pre>",
    )
    .unwrap();
    std::fs::write(
        layouts.join("list.html"),
        "{{ range .Pages }}{{ .Title }}\n{{ end }}",
    )
    .unwrap();
    site
}

/// What Hugo rendered for each post: the facts printed by the single-page layout.
fn build(site: &Path) -> Vec<Value> {
    let out = Command::new("hugo")
        .args([
            "--printPathWarnings",
            "--printUnusedTemplates=false",
            "--source",
        ])
        .arg(site)
        .output()
        .expect("hugo is needed: run scripts/install-deps --tests");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "hugo failed:\n{log}");
    assert!(!log.contains("WARN"), "hugo warned:\n{log}");
    let mut facts = Vec::new();
    for entry in walk(&site.join("public")) {
        let html = std::fs::read_to_string(&entry).unwrap();
        if let Some(start) = html.find("<pre id=\"facts\">") {
            let text = &html[start + 16..html[start..].find("</pre>").unwrap() + start];
            let text = text.replace("&#34;", "\"").replace("&quot;", "\"");
            facts.push(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")));
        }
    }
    facts
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|x| x == "html") {
            out.push(path);
        }
    }
    out
}

/// Words as a reader of the language counts them in `body`: Hangul by syllable (as Hugo
/// does for CJK text), everything else by whitespace.
fn expected_words(body: &str, korean: bool) -> usize {
    body.split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(|w| {
            let syllables = w.chars().filter(|c| ('가'..='힣').contains(c)).count();
            if korean && syllables > 0 {
                w.chars().filter(|c| !c.is_ascii_punctuation()).count()
            } else {
                1
            }
        })
        .sum()
}

const KO_WORDS: &[&str] = &[
    "인공지능",
    "에이전트가",
    "개발팀의",
    "업무",
    "방식을",
    "바꾸고",
    "있다",
    "모델은",
    "코드를",
    "검토하고",
    "테스트를",
    "작성하며",
    "배포",
    "과정을",
    "돕는다",
    "기업들은",
    "비용과",
    "품질을",
    "함께",
    "따진다",
    "현장에서는",
    "작은",
    "실험부터",
    "시작한다",
    "데이터",
    "보안이",
    "중요한",
    "과제로",
    "떠올랐다",
    "규제",
    "당국도",
    "관심을",
    "보인다",
    "연구자들은",
    "평가",
    "기준을",
    "새로",
    "만들었다",
    "사용자는",
    "결과를",
    "확인해야",
    "한다",
    "도구의",
    "한계를",
    "이해하면",
    "효과가",
    "크다",
    "오픈소스",
    "생태계가",
    "빠르게",
    "성장한다",
    "반도체",
    "수요도",
    "늘었다",
];

fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A Korean post that passes the Korean quality gate, unique per `n`.
fn korean_body(n: usize) -> String {
    let mut state = mix(n as u64 + 7);
    let mut word = || {
        state = mix(state.wrapping_add(0x9e37_79b9_7f4a_7c15));
        KO_WORDS[(state % KO_WORDS.len() as u64) as usize]
    };
    let mut body = String::from(
        "인공지능 에이전트는 이제 실험을 넘어 실제 업무로 들어왔다. 이 글은 그 변화를 구체적으로 살펴본다.\n\n",
    );
    for heading in [
        "무엇이 달라졌나",
        "현장의 사례",
        "비용과 위험",
        "규제의 흐름",
        "팀이 할 일",
        "앞으로의 과제",
    ] {
        body.push_str(&format!("## {heading}\n\n"));
        for _ in 0..6 {
            let words: Vec<&str> = (0..18).map(|_| word()).collect();
            body.push_str(&format!("{}.\n\n", words.join(" ")));
        }
    }
    body
}

fn post(n: usize, language: &str, slug: &str, body: String) -> Post {
    let korean = language == "ko";
    Post {
        id: format!("{n:08}-aaaa-4bbb-8ccc-hugo{n:08}"),
        job_id: "job".into(),
        slot: 0,
        topic: "agents".into(),
        keyword: None,
        category: if korean { "AI 트렌드" } else { "AI Trends" }.into(),
        language: language.into(),
        content: GeneratedPost {
            title: if korean {
                format!("AI 에이전트가 바꾸는 개발팀 {n}")
            } else {
                format!("How agents changed teams {n}")
            },
            slug: slug.into(),
            summary: "summary".into(),
            tags: vec![
                "AI".into(),
                if korean { "에이전트" } else { "agents" }.into(),
            ],
            seo_title: "seo".into(),
            seo_description: "description".into(),
            seo_keywords: vec![],
            body,
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

#[tokio::test]
async fn hugo_builds_both_front_matters_in_both_languages_without_a_path_warning() {
    support::watchdog();
    let english = support::good_post(1)["body"].as_str().unwrap().to_owned();
    for dialect in [FrontMatter::HugoYaml, FrontMatter::HugoToml] {
        let root = tempfile::tempdir().unwrap();
        let posts = root.path().join("content/posts");
        let publisher = MarkdownPublisher::new(posts.clone(), MarkdownTarget::new(dialect));
        // Two posts per language want one slug: each must get its own URL.
        let written = [
            post(1, "en", "agents-and-teams", english.clone()),
            post(2, "en", "agents-and-teams", english.clone()),
            post(3, "ko", "ai-eijeonteu", korean_body(3)),
            post(4, "ko", "ai-eijeonteu", korean_body(4)),
            post(5, "ko", &"인공지능".repeat(30), korean_body(5)),
        ];
        for p in &written {
            publisher.publish(p).await.unwrap();
        }
        let site = hugo_site(&posts);
        let facts = build(site.path());
        assert_eq!(
            facts.len(),
            written.len(),
            "{dialect:?}: one page per post: {facts:?}"
        );
        let mut urls: Vec<&str> = facts.iter().map(|f| f["url"].as_str().unwrap()).collect();
        urls.sort();
        urls.dedup();
        assert_eq!(
            urls.len(),
            written.len(),
            "{dialect:?}: distinct URLs: {facts:?}"
        );
        for p in &written {
            let f = facts
                .iter()
                .find(|f| f["id"] == p.id.as_str())
                .unwrap_or_else(|| panic!("{} missing", p.id));
            let korean = p.language == "ko";
            let expected = expected_words(&p.content.body, korean) as f64;
            let words = f["words"].as_f64().unwrap();
            assert!(
                (words - expected).abs() <= expected * 0.1,
                "{dialect:?} {}: Hugo counted {words} words, a reader {expected}",
                p.language
            );
            assert_eq!(f["cjk"] == json!(true), korean, "{dialect:?}: {f}");
            assert_eq!(f["categories"], json!([p.category]));
        }
    }
}

#[tokio::test]
async fn a_korean_run_with_default_settings_writes_korean_posts_that_hugo_counts_right() {
    support::watchdog();
    let fake = FakeOpenAi::start().await;
    // The model answers in Korean and, as models do, with a Korean slug.
    fake.set_default(Reply::Text(
        json!({
            "title": "AI 에이전트가 바꾸는 개발팀의 하루",
            "slug": "AI-에이전트-개발팀",
            "summary": "에이전트가 개발 업무를 어떻게 바꾸는지 살펴본다.",
            "tags": ["AI 에이전트", "개발 문화", "자동화"],
            "seo_title": "AI 에이전트와 개발팀",
            "seo_description": "AI 에이전트가 코드 검토와 테스트, 배포를 돕는 방식과 그 비용, 위험, 그리고 팀이 지금 할 수 있는 일을 정리했다.",
            "seo_keywords": ["AI 에이전트", "개발팀"],
            "body": korean_body(9),
        })
        .to_string(),
    ));
    let svc = InProcess::start(
        &fake,
        &support::test_toml("[publish.markdown]\nfront_matter = \"hugo-yaml\"\n"),
        &[("BLOGFLOW_LANGUAGE", "ko")],
    )
    .await;
    let job = svc.generate(1).await;
    svc.job_ended(&job, "completed").await;
    let posts = svc
        .wait_for("/api/posts", "a published post", |v| {
            v["posts"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["status"] == "published"))
        })
        .await;
    let summary = &posts["posts"][0];
    let detail = svc
        .get(&format!("/api/posts/{}", summary["id"].as_str().unwrap()))
        .await;
    assert_eq!(detail["publications"][0]["state"], "published", "{detail}");
    let post = &detail["post"];
    let hangul = |s: &str| s.chars().any(|c| ('가'..='힣').contains(&c));
    let topic = post["topic"].as_str().unwrap();
    assert!(hangul(topic), "a Korean default keyword: {topic}");
    assert_eq!(post["category"], "AI 트렌드");
    assert!(
        post["tags"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| hangul(t.as_str().unwrap()))
    );
    // Romanised by default: ASCII, URL-safe, readable.
    assert_eq!(post["slug"], "ai-eijeonteu-gaebaltim");
    // The prompt was Korean through and through: topic and category name.
    let prompt = fake.bodies()[0].to_string();
    assert!(
        prompt.contains(&format!("주제: {topic}")) && prompt.contains("\\\"AI 트렌드\\\" 카테고리"),
        "{prompt}"
    );
    let content = svc.dir.path().join("content");
    let file = content.join("ai-eijeonteu-gaebaltim.md");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("isCJKLanguage: true") && text.contains("AI 트렌드"),
        "{text}"
    );
    // Hugo, given that folder as its posts, counts the post's words as a Korean reader does.
    let root = tempfile::tempdir().unwrap();
    let posts_dir = root.path().join("content/posts");
    std::fs::create_dir_all(&posts_dir).unwrap();
    std::fs::copy(&file, posts_dir.join("post.md")).unwrap();
    let site = hugo_site(&posts_dir);
    let facts = build(site.path());
    let expected = expected_words(&korean_body(9), true) as f64;
    let words = facts[0]["words"].as_f64().unwrap();
    assert!(
        (words - expected).abs() <= expected * 0.1,
        "Hugo {words}, reader {expected}"
    );
    svc.stop().await;
}

/// Every post gets its social card: Hugo finds it through `images` (what its Open Graph and
/// Twitter templates read) and serves the file from `static/`; Astro's `heroImage` names the
/// file written beside the post. A retried publish writes nothing new.
#[tokio::test]
async fn the_social_card_is_written_once_and_named_where_the_theme_reads_it() {
    support::watchdog();
    let cards = blogflow::images::CardRenderer::new(blogflow::config::ImagesConfig {
        blog_name: "AI 트렌드".into(),
        ..Default::default()
    })
    .unwrap();
    let site = tempfile::tempdir().unwrap();
    let posts = site.path().join("content/posts");
    std::fs::write(
        site.path().join("hugo.toml"),
        "baseURL = \"https://blog.example.org/\"\ntitle = \"AI\"\n\
         disableKinds = [\"RSS\", \"sitemap\", \"robotsTXT\", \"404\", \"taxonomy\", \"term\"]\n",
    )
    .unwrap();
    let layouts = site.path().join("layouts/_default");
    std::fs::create_dir_all(&layouts).unwrap();
    std::fs::write(
        layouts.join("single.html"),
        "<meta id=\"og\" content=\"{{ with .Params.images }}{{ index . 0 | absURL }}{{ end }}\">",
    )
    .unwrap();
    std::fs::write(layouts.join("list.html"), "").unwrap();
    let target = MarkdownTarget {
        image_dir: Some(site.path().join("static/images")),
        image_url: Some("/images/".into()),
        ..MarkdownTarget::new(FrontMatter::HugoYaml)
    };
    let publisher = MarkdownPublisher::new(posts.clone(), target).with_cards(Some(cards.clone()));
    let korean = post(1, "ko", "ai-eijeonteu", korean_body(1));
    publisher.publish(&korean).await.unwrap();
    publisher.publish(&korean).await.unwrap();
    let png = std::fs::read(site.path().join("static/images/ai-eijeonteu.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    // IHDR: width and height, big-endian, at bytes 16..24.
    let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((size(16), size(20)), (1200, 630));
    assert_eq!(
        std::fs::read_dir(site.path().join("static/images"))
            .unwrap()
            .count(),
        1,
        "a retry writes no second card"
    );
    let out = Command::new("hugo")
        .arg("--source")
        .arg(site.path())
        .output()
        .expect("hugo is needed: run scripts/install-deps --tests");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = walk(&site.path().join("public"))
        .into_iter()
        .find(|p| {
            p.to_string_lossy().contains("ai-eijeonteu")
                && p.extension().is_some_and(|e| e == "html")
        })
        .expect("the post's page");
    let html = std::fs::read_to_string(page).unwrap();
    assert!(
        html.contains("content=\"https://blog.example.org/images/ai-eijeonteu.png\""),
        "{html}"
    );
    assert_eq!(
        std::fs::read(site.path().join("public/images/ai-eijeonteu.png")).unwrap(),
        png,
        "Hugo serves the card"
    );

    // Astro, card beside the post.
    let dir = tempfile::tempdir().unwrap();
    let publisher = MarkdownPublisher::new(
        dir.path().to_path_buf(),
        MarkdownTarget::new(FrontMatter::Astro),
    )
    .with_cards(Some(cards));
    let english = post(
        2,
        "en",
        "agents-and-teams",
        support::good_post(2)["body"].as_str().unwrap().to_owned(),
    );
    let file = publisher.publish(&english).await.unwrap();
    let doc = std::fs::read_to_string(file).unwrap();
    assert!(
        doc.contains("\nheroImage: \"agents-and-teams.png\"\n"),
        "{doc}"
    );
    assert!(dir.path().join("agents-and-teams.png").exists());
}

/// Stores a published-to-be post about `title`/`topic`/`tags` in `language` and publishes it
/// to every target; returns its id.
async fn publish_story(
    store: &blogflow::store::Store,
    publishers: &[blogflow::publish::Publisher],
    n: u32,
    language: &str,
    (title, topic, tags): (&str, &str, &[&str]),
) -> String {
    let korean = language == "ko";
    let stored = store
        .insert_post(blogflow::store::NewPost {
            job_id: format!("job-{n}"),
            slot: 0,
            topic: topic.into(),
            keyword: None,
            category: if korean { "AI 트렌드" } else { "AI Trends" }.into(),
            language: language.into(),
            post: GeneratedPost {
                title: title.into(),
                slug: format!("story-{n}"),
                summary: "summary".into(),
                tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                seo_title: title.into(),
                seo_description: "description".into(),
                seo_keywords: vec![],
                body: if korean {
                    korean_body(n as usize)
                } else {
                    (0..8)
                        .map(|i| format!("Story {n}, paragraph {i}: figure {}.", n * 97 + i * 13))
                        .collect::<Vec<_>>()
                        .join("\n\n")
                },
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
            hold_reason: None,
            provenance: Default::default(),
            daily_cap: None,
        })
        .await
        .unwrap();
    assert_eq!(stored.status, PostStatus::Ready, "{title}: not held");
    blogflow::publish::publish_post(store, publishers, &stored.id)
        .await
        .unwrap();
    stored.id
}

/// The links of a post's related section: (text, href) of each `[text](href)` after the
/// heading.
fn related_links(body: &str, heading: &str) -> Vec<(String, String)> {
    let Some((_, section)) = body.split_once(&format!("## {heading}\n")) else {
        return vec![];
    };
    section
        .lines()
        .filter_map(|l| l.strip_prefix("- ["))
        .filter_map(|l| {
            let (text, rest) = l.split_once("](")?;
            Some((text.to_owned(), rest.strip_suffix(')')?.to_owned()))
        })
        .collect()
}

/// A new post links to the earlier posts closest to its subject, in its language, at the
/// address each target gave them: WordPress's links as WordPress answered them, and in the
/// Markdown file Hugo's `relref`, which the real Hugo turns into each page's permalink. An
/// unrelated post and posts in the other language are not linked.
#[tokio::test]
async fn a_post_links_to_the_closest_earlier_posts_in_its_language_at_their_real_addresses() {
    support::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let store =
        blogflow::store::Store::open(blogflow::db::Db::open(&dir.path().join("store.db")).unwrap())
            .await
            .unwrap();
    let site = tempfile::tempdir().unwrap();
    let posts = site.path().join("content/posts");
    std::fs::write(
        site.path().join("hugo.toml"),
        "baseURL = \"https://blog.example.org/\"\ntitle = \"AI\"\n\
         disableKinds = [\"RSS\", \"sitemap\", \"robotsTXT\", \"404\", \"taxonomy\", \"term\"]\n\
         [permalinks]\nposts = \"/:year/:slug/\"\n",
    )
    .unwrap();
    let layouts = site.path().join("layouts/_default");
    std::fs::create_dir_all(&layouts).unwrap();
    std::fs::write(
        layouts.join("single.html"),
        "<main data-url=\"{{ .RelPermalink }}\">{{ .Content }}</main>",
    )
    .unwrap();
    std::fs::write(layouts.join("list.html"), "").unwrap();
    let wordpress = support::cms::FakeCms::wordpress().await;
    let publishers = vec![
        blogflow::publish::Publisher::Markdown(MarkdownPublisher::new(
            posts.clone(),
            MarkdownTarget::new(FrontMatter::HugoYaml),
        )),
        blogflow::publish::Publisher::WordPress(blogflow::publish::WordPressPublisher::new(
            blogflow::publish::WordPressTarget {
                url: wordpress.root.clone(),
                user: support::cms::WP_USER.into(),
                password: blogflow::config::Secret::new(support::cms::WP_PASSWORD),
                status: blogflow::publish::WordPressStatus::Publish,
                future_delay: std::time::Duration::ZERO,
                seo: Default::default(),
                timeout: std::time::Duration::from_secs(5),
            },
        )),
    ];

    let review = publish_story(
        &store,
        &publishers,
        1,
        "en",
        (
            "AI agents take over code review",
            "AI coding agents",
            &["agents", "coding"],
        ),
    )
    .await;
    let chips = publish_story(
        &store,
        &publishers,
        2,
        "en",
        (
            "Export rules tighten for memory chips",
            "semiconductor export rules",
            &["semiconductors", "policy"],
        ),
    )
    .await;
    let teams = publish_story(
        &store,
        &publishers,
        3,
        "en",
        (
            "Coding agents: what teams learned in a year",
            "coding agents adoption",
            &["agents", "teams"],
        ),
    )
    .await;
    let korean = publish_story(
        &store,
        &publishers,
        4,
        "ko",
        (
            "코딩 에이전트가 바꾸는 개발팀",
            "코딩 에이전트",
            &["에이전트", "코딩"],
        ),
    )
    .await;
    let new = publish_story(
        &store,
        &publishers,
        5,
        "en",
        (
            "A new coding agent writes and reviews pull requests",
            "coding agents",
            &["agents", "coding"],
        ),
    )
    .await;
    let new_ko = publish_story(
        &store,
        &publishers,
        6,
        "ko",
        (
            "AI 코딩 에이전트, 개발팀의 표준이 되다",
            "AI 코딩 에이전트 도입",
            &["에이전트"],
        ),
    )
    .await;

    let wp_post = |id: &str| {
        let marker = blogflow::publish::wordpress::marker(id);
        wordpress
            .posts()
            .into_iter()
            .find(|p| p["content"]["raw"].as_str().unwrap().contains(&marker))
            .unwrap()
    };
    let link = |id: &str| wp_post(id)["link"].as_str().unwrap().to_owned();
    let title = |id: &str| wp_post(id)["title"]["raw"].as_str().unwrap().to_owned();
    let hrefs = |id: &str| -> Vec<String> {
        let html = wp_post(id)["content"]["raw"].as_str().unwrap().to_owned();
        html.split("<h2>")
            .skip_while(|part| !part.starts_with("Related posts") && !part.starts_with("관련 글"))
            .flat_map(|part| {
                part.split("href=\"")
                    .skip(1)
                    .map(|h| h.split('"').next().unwrap().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    // Closest first: the same tags and most of the words, then one shared tag.
    assert_eq!(hrefs(&new), [link(&review), link(&teams)]);
    assert!(!hrefs(&new).contains(&link(&chips)));
    assert_eq!(
        hrefs(&new_ko),
        [link(&korean)],
        "Korean links to Korean only"
    );
    assert!(
        hrefs(&review).is_empty(),
        "the first post has nothing earlier to link"
    );
    assert!(hrefs(&chips).is_empty(), "nothing close to chips");
    let stored = store.get_post(&new).await.unwrap().unwrap();
    assert!(
        !stored.content.body.contains("Related posts"),
        "the section is added per target, the stored post stays as written"
    );

    // The Markdown file links through relref; Hugo resolves each to the page's permalink.
    let file = std::fs::read_to_string(posts.join("story-5.md")).unwrap();
    let md_links = related_links(&file, "Related posts");
    assert_eq!(
        md_links,
        [
            (title(&review), "{{< relref \"story-1.md\" >}}".to_owned()),
            (title(&teams), "{{< relref \"story-3.md\" >}}".to_owned()),
        ]
    );
    let out = Command::new("hugo")
        .arg("--source")
        .arg(site.path())
        .output()
        .expect("hugo is needed: run scripts/install-deps --tests");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pages: Vec<(String, String)> = walk(&site.path().join("public"))
        .into_iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .filter_map(|html| {
            let url = html
                .split("data-url=\"")
                .nth(1)?
                .split('"')
                .next()?
                .to_owned();
            Some((url, html))
        })
        .collect();
    let page = |slug: &str| {
        pages
            .iter()
            .find(|(url, _)| url.ends_with(&format!("/{slug}/")))
            .unwrap_or_else(|| {
                panic!(
                    "no page for {slug}: {:?}",
                    pages.iter().map(|p| &p.0).collect::<Vec<_>>()
                )
            })
    };
    let year = chrono::Utc::now().format("%Y").to_string();
    let (review_url, teams_url) = (&page("story-1").0, &page("story-3").0);
    assert_eq!(
        review_url,
        &format!("/{year}/story-1/"),
        "the site's permalink pattern"
    );
    let html = &page("story-5").1;
    for url in [review_url, teams_url] {
        assert!(
            html.contains(&format!("href=\"{url}\"")),
            "{url} not linked: {html}"
        );
    }
    assert!(
        !html.contains("story-2") && !html.contains("story-4"),
        "{html}"
    );
    let ko_html = &page("story-6").1;
    assert!(
        ko_html.contains("관련 글") && ko_html.contains(&format!("href=\"{}\"", page("story-4").0)),
        "{ko_html}"
    );
}
