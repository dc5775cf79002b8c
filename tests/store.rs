//! The store's contract, one case per behaviour that the rest of blogflow relies on: the same
//! cases run on every store backend (`backends!` at the end makes one test per case and
//! backend), so a backend is done when it passes them all.

mod support;

use blogflow::content::parse::GeneratedPost;
use blogflow::content::quality::QualityReport;
use blogflow::db::{Db, now_ms};
use blogflow::store::{
    DailyCap, InFlight, NewPost, PostStatus, PublicationState, RunOutcome, RunStatus, Store,
    StoreError,
};
use blogflow::topics::feed::FeedItem;

/// A store on a fresh SQLite file, with the directory that holds it.
async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("store.db")).unwrap();
    (Store::open(db).await.unwrap(), dir)
}

/// A store on a fresh PostgreSQL database of its own.
async fn postgres() -> (Store, support::postgres::Database) {
    let db = support::postgres::Database::fresh();
    (Store::connect_postgres(&db.url).await.unwrap(), db)
}

/// A body of `n` distinct paragraphs, so that different `n` are not near-duplicates.
fn body(seed: u32) -> String {
    (0..12)
        .map(|i| {
            format!(
                "Paragraph {i} of story {seed}: models {} and agents {} changed how teams in field {} plan their {} week.",
                seed * 31 + i,
                seed * 17 + i * 3,
                seed * 7 + i,
                seed + i * 11
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn new_post(job: &str, slot: u32, slug: &str, seed: u32) -> NewPost {
    NewPost {
        job_id: job.into(),
        slot,
        topic: format!("topic {seed}"),
        keyword: Some("ai agents".into()),
        category: "AI".into(),
        language: "en".into(),
        post: GeneratedPost {
            title: format!("Title {seed}"),
            slug: slug.into(),
            summary: "A summary.".into(),
            tags: vec!["ai".into(), "agents".into()],
            seo_title: "SEO title".into(),
            seo_description: "SEO description".into(),
            seo_keywords: vec!["ai".into()],
            body: body(seed),
        },
        quality: QualityReport {
            score: 80,
            parts: vec![],
            forbidden: vec![],
        },
        status: PostStatus::Ready,
        provider: "openai".into(),
        model: "gpt-test".into(),
        input_tokens: 100,
        output_tokens: 900,
        cost_usd: 0.01,
        generation_ms: 1234,
        attempts: 1,
        hold_reason: None,
        provenance: Default::default(),
        daily_cap: None,
    }
}

/// Stores `new_post(job, slot, slug, seed)`, which must succeed.
async fn put(store: &Store, job: &str, slot: u32, slug: &str, seed: u32) -> blogflow::store::Post {
    store
        .insert_post(new_post(job, slot, slug, seed))
        .await
        .unwrap()
}

fn item(url: &str, title: &str, published_at: i64) -> FeedItem {
    FeedItem {
        guid: None,
        url: Some(url.into()),
        link: Some(format!("https://{url}")),
        title: title.into(),
        summary: String::new(),
        published_at,
    }
}

/// A retried job finds the post its slot already wrote instead of writing another.
async fn a_slot_stores_one_post_however_often_it_is_written(store: Store) {
    let first = put(&store, "j1", 0, "a-post", 1).await;
    let again = put(&store, "j1", 0, "a-post", 2).await;
    assert_eq!(first.id, again.id);
    let found = store.post_for_slot("j1", 0).await.unwrap().unwrap();
    assert_eq!(found.id, first.id);
    assert_eq!(found.content.title, "Title 1");
    assert_eq!(found.content.tags, ["ai", "agents"]);
    assert_eq!(found.quality.score, 80);
    assert!(store.post_for_slot("j1", 1).await.unwrap().is_none());
    assert_eq!(store.post_totals().await.unwrap().total, 1);
}

/// Two posts asking for one slug get distinct ones.
async fn slugs_stay_unique(store: Store) {
    let a = put(&store, "j1", 0, "same", 1).await;
    let b = put(&store, "j1", 1, "same", 2).await;
    let c = put(&store, "j2", 0, "same", 3).await;
    assert_eq!(a.content.slug, "same");
    assert_eq!(b.content.slug, "same-2");
    assert_eq!(c.content.slug, "same-3");
}

/// A post too similar to an earlier one is held with the reason, and waits for review.
async fn a_near_duplicate_is_held_with_the_reason(store: Store) {
    let original = put(&store, "j1", 0, "one", 7).await;
    let twin = put(&store, "j2", 0, "two", 7).await;
    let other = put(&store, "j3", 0, "three", 8).await;
    assert_eq!(original.status, PostStatus::Ready);
    assert_eq!(other.status, PostStatus::Ready);
    assert_eq!(twin.status, PostStatus::Held);
    let reason = twin.hold_reason.unwrap();
    assert!(
        reason.contains("near-duplicate") && reason.contains(&original.id),
        "{reason}"
    );
    let pending = store.pending_reviews(10).await.unwrap();
    assert_eq!(pending.iter().map(|p| &p.0).collect::<Vec<_>>(), [&twin.id]);
}

/// The store refuses a post over the daily cap by itself (several processes may insert).
async fn the_daily_cap_is_enforced_by_the_insert(store: Store) {
    let since = now_ms() - 1_000;
    let capped = |job: &str, seed| NewPost {
        daily_cap: Some(DailyCap {
            since_ms: since,
            posts: 2,
        }),
        ..new_post(job, 0, &format!("p{seed}"), seed)
    };
    store.insert_post(capped("j1", 1)).await.unwrap();
    store.insert_post(capped("j2", 2)).await.unwrap();
    let refused = store.insert_post(capped("j3", 3)).await.unwrap_err();
    assert!(
        matches!(&refused, StoreError::Limit(m) if m.contains("daily post cap of 2")),
        "{refused:?}"
    );
    // The slot that already wrote its post still finds it.
    assert!(store.insert_post(capped("j1", 1)).await.is_ok());
    assert_eq!(store.post_totals().await.unwrap().total, 2);
    let (posts, cost) = store.spend_since(since).await.unwrap();
    assert_eq!(posts, 2);
    assert!((cost - 0.02).abs() < 1e-9, "{cost}");
    assert_eq!(store.spend_since(now_ms() + 60_000).await.unwrap().0, 0);
    let days = store.spend_by_day(since - 86_400_000).await.unwrap();
    assert_eq!(days.iter().map(|d| d.1).sum::<u64>(), 2, "{days:?}");
}

/// Only held posts can be decided; approval makes them ready, rejection makes them `rejected`
/// for good, keeping why they were held and the reviewer's note apart.
async fn held_posts_are_approved_or_rejected_once(store: Store) {
    let held = |job: &str, seed| NewPost {
        status: PostStatus::Held,
        hold_reason: Some("awaiting review".into()),
        ..new_post(job, 0, &format!("h{seed}"), seed)
    };
    let a = store.insert_post(held("j1", 1)).await.unwrap();
    let b = store.insert_post(held("j2", 2)).await.unwrap();
    let ready = put(&store, "j3", 0, "r", 3).await;
    assert_eq!(store.pending_reviews(10).await.unwrap().len(), 2);

    let approved = store
        .approve_post(&a.id, Some("fine".into()))
        .await
        .unwrap();
    assert_eq!(approved.status, PostStatus::Ready);
    assert!(matches!(
        store.approve_post(&a.id, None).await,
        Err(StoreError::Conflict(_))
    ));
    let rejected = store
        .reject_post(&b.id, Some("off topic".into()))
        .await
        .unwrap();
    assert_eq!(rejected.status, PostStatus::Rejected);
    assert_eq!(rejected.hold_reason.as_deref(), Some("awaiting review"));
    let review = rejected.review.unwrap();
    assert_eq!(
        (review.state.as_str(), review.note.as_deref()),
        ("rejected", Some("off topic"))
    );
    assert!(review.decided_at.is_some());
    let totals = store.post_totals().await.unwrap();
    assert_eq!((totals.rejected, totals.held), (1, 0), "{totals:?}");
    assert!(matches!(
        store.reject_post(&b.id, None).await,
        Err(StoreError::Conflict(m)) if m.contains("is rejected")
    ));
    assert!(matches!(
        store.approve_post(&b.id, None).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.reject_post(&ready.id, None).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.approve_post("no-such-post", None).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.pending_reviews(10).await.unwrap().is_empty());
}

/// The publication ledger keeps one row per (post, target), the first.
async fn the_publication_ledger_keeps_the_first_record(store: Store) {
    let p = put(&store, "j1", 0, "p", 1).await;
    assert_eq!(
        store.unpublished_post_ids(10).await.unwrap(),
        vec![p.id.clone()]
    );
    assert!(
        store
            .publication(&p.id, "markdown")
            .await
            .unwrap()
            .is_none()
    );
    store
        .record_publication(
            &p.id,
            "markdown",
            "content/p.md",
            PublicationState::Published,
        )
        .await
        .unwrap();
    store
        .record_publication(
            &p.id,
            "markdown",
            "content/other.md",
            PublicationState::Draft,
        )
        .await
        .unwrap();
    store
        .record_publication(
            &p.id,
            "ghost",
            "https://blog/p/0a1b/",
            PublicationState::Draft,
        )
        .await
        .unwrap();
    let md = store.publication(&p.id, "markdown").await.unwrap().unwrap();
    assert_eq!(
        (md.location.as_str(), md.state),
        ("content/p.md", PublicationState::Published),
        "the first row stays"
    );
    let all = store.publications(&p.id).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|r| (r.target.as_str(), r.state))
            .collect::<Vec<_>>(),
        [
            ("ghost", PublicationState::Draft),
            ("markdown", PublicationState::Published)
        ]
    );
    store.mark_published(&p.id).await.unwrap();
    let published = store.get_post(&p.id).await.unwrap().unwrap();
    assert_eq!(published.status, PostStatus::Published);
    assert!(store.unpublished_post_ids(10).await.unwrap().is_empty());
    let totals = store.post_totals().await.unwrap();
    assert_eq!((totals.total, totals.published, totals.ready), (1, 1, 0));
}

/// Lists and lookups: newest first, titles for prompts, the cache lookup by topic.
async fn posts_are_listed_newest_first_and_found_by_topic(store: Store) {
    let mut ids = Vec::new();
    for seed in 1..=3 {
        ids.push(
            put(&store, &format!("j{seed}"), 0, &format!("p{seed}"), seed)
                .await
                .id,
        );
    }
    let listed: Vec<String> = store
        .list_posts(2)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|id| ids.contains(id)));
    let titles = store
        .recent_titles(Some("ai agents".into()), 10)
        .await
        .unwrap();
    assert_eq!(titles.len(), 3);
    assert!(
        store
            .recent_titles(Some("other".into()), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let hit = store
        .recent_post_for_topic("another-job", "topic 2", "AI", "en", now_ms() - 60_000)
        .await
        .unwrap();
    assert_eq!(hit.map(|h| h.0), Some(ids[1].clone()));
    assert!(
        store
            .recent_post_for_topic("another-job", "topic 9", "AI", "en", 0)
            .await
            .unwrap()
            .is_none()
    );
}

/// Keywords rotate least recently used first, even within one millisecond.
async fn keywords_rotate(store: Store) {
    let keywords = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
    let mut picked = Vec::new();
    for _ in 0..6 {
        picked.push(store.reserve_keyword(keywords.clone()).await.unwrap());
    }
    assert_eq!(picked, ["a", "b", "c", "a", "b", "c"]);
}

/// The topic pool: an item is never added twice, the same story from another source joins
/// it, manual topics come first, and a picked story is not picked again unless released.
async fn the_topic_pool_dedupes_clusters_and_picks_once(store: Store) {
    let now = now_ms();
    let items = vec![
        item(
            "https://a.example/1",
            "OpenAI ships a new reasoning model for agents",
            now - 1_000,
        ),
        item(
            "https://a.example/2",
            "Gemini adds long context caching",
            now - 2_000,
        ),
    ];
    assert_eq!(
        store
            .add_feed_topics("feed-a", "AI", 1.0, items.clone())
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .add_feed_topics("feed-a", "AI", 1.0, items)
            .await
            .unwrap(),
        0
    );
    let same_story = vec![item(
        "https://b.example/x",
        "OpenAI ships new reasoning model for agents",
        now - 500,
    )];
    assert_eq!(
        store
            .add_feed_topics("feed-b", "AI", 1.0, same_story)
            .await
            .unwrap(),
        1
    );

    let manual = store
        .add_manual_topic("Why small models matter", "AI")
        .await
        .unwrap();
    assert!(manual.is_some());
    assert_eq!(
        store
            .add_manual_topic("Why small models matter", "AI")
            .await
            .unwrap(),
        None
    );

    let first = store.pick_topic(None, 0).await.unwrap().unwrap();
    assert_eq!(first.source, "manual");
    let second = store.pick_topic(None, 0).await.unwrap().unwrap();
    assert!(second.title.contains("reasoning model"), "{second:?}");
    assert_eq!(second.cluster_size, 2);
    let skipped = store.list_topics(Some("skipped".into()), 10).await.unwrap();
    assert_eq!(skipped.len(), 1, "the story's other source: {skipped:?}");

    // Released (its post was not written): the story is back.
    store.release_topic(second.id).await.unwrap();
    assert!(
        store
            .list_topics(Some("skipped".into()), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store.pick_topic(None, 0).await.unwrap().unwrap();
    assert!(again.title.contains("reasoning model"), "{again:?}");
    let last = store.pick_topic(None, 0).await.unwrap().unwrap();
    assert!(last.title.contains("Gemini"), "{last:?}");
    assert!(store.pick_topic(None, 0).await.unwrap().is_none());
    assert!(
        store
            .pick_topic(Some("Other".into()), 0)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.list_topics(None, 10).await.unwrap().len(), 4);
}

/// A feed's validators and last outcome.
async fn feed_state_is_remembered(store: Store) {
    let url = "https://a.example/feed.xml";
    assert!(store.feed_state(url).await.unwrap().is_none());
    store
        .record_feed(
            "feed-a",
            url,
            blogflow::store::FeedOutcome::Ok {
                etag: Some("\"v1\"".into()),
                last_modified: None,
                added: 3,
            },
        )
        .await
        .unwrap();
    store
        .record_feed(
            "feed-a",
            url,
            blogflow::store::FeedOutcome::Error("timed out".into()),
        )
        .await
        .unwrap();
    let state = store.feed_state(url).await.unwrap().unwrap();
    assert_eq!(state.etag.as_deref(), Some("\"v1\""));
    assert_eq!(state.last_status, "error");
    assert_eq!(state.last_error.as_deref(), Some("timed out"));
    assert_eq!(state.items_added, 3);
}

/// Fetched articles are cached by URL, Korean text intact, and a newer fetch replaces them.
async fn sources_are_cached_by_url(store: Store) {
    use blogflow::store::SourceRecord;
    let url = "https://news.example.kr/article/1";
    assert!(store.source(url).await.unwrap().is_none());
    let first = SourceRecord::new(
        url,
        url,
        "정부, AI 반도체에 1조 원",
        "정부가 1조 원을 투자한다.",
    );
    store.save_source(first.clone()).await.unwrap();
    assert_eq!(store.source(url).await.unwrap(), Some(first.clone()));
    let moved = "https://news.example.kr/a/1?amp=0";
    let second = SourceRecord::new(
        url,
        moved,
        "정부, AI 반도체에 1조 원",
        "정부가 1조 원을 투자한다.\n\n추가 문단.",
    );
    store.save_source(second.clone()).await.unwrap();
    let got = store.source(url).await.unwrap().unwrap();
    assert_eq!(got, second);
    assert_ne!(got.content_hash, first.content_hash);
    assert_eq!(got.content_hash.len(), 64);
    // The same text has the same hash, whatever its URL.
    assert_eq!(
        SourceRecord::new(
            "https://b.example/x",
            "https://b.example/x",
            "t",
            &first.text
        )
        .content_hash,
        first.content_hash
    );
}

/// Runs are recorded, listed newest first, and old finished ones cleaned up.
async fn runs_are_recorded_and_cleaned(store: Store) {
    let a = store
        .start_run("j1", "content_generation", 1, 5)
        .await
        .unwrap();
    let b = store
        .start_run("j2", "content_generation", 1, 1)
        .await
        .unwrap();
    store
        .finish_run(
            a,
            RunStatus::Partial,
            RunOutcome {
                generated: 4,
                held: 0,
                failed: 1,
                error: Some("1 of 5 failed".into()),
            },
        )
        .await
        .unwrap();
    let runs = store.recent_runs(10).await.unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [b, a]);
    assert_eq!(runs[1].status, RunStatus::Partial);
    assert_eq!((runs[1].generated, runs[1].failed), (4, 1));
    assert_eq!(runs[0].status, RunStatus::Running);
    // Everything finished is older than -1 ms; the running one stays.
    assert_eq!(store.cleanup(-60_000).await.unwrap(), 1);
    assert_eq!(store.recent_runs(10).await.unwrap().len(), 1);
}

/// Leases: one holder at a time, renewable by it, free once expired.
async fn a_lease_has_one_holder_until_it_expires(store: Store) {
    let lead = async |name: &str, holder: &str, ttl_ms| {
        store
            .lead(name.into(), holder.into(), ttl_ms)
            .await
            .unwrap()
    };
    assert!(lead("alerts", "p1", 60_000).await);
    assert!(!lead("alerts", "p2", 60_000).await);
    assert!(lead("alerts", "p1", 60_000).await);
    assert!(lead("other", "p2", 60_000).await);
    // p1 renews with a lease already over: p2 may take it.
    assert!(lead("alerts", "p1", -1).await);
    assert!(lead("alerts", "p2", 60_000).await);
    assert!(!lead("alerts", "p1", 60_000).await);
}

/// Heartbeats list processes with their jobs; the newest health snapshot wins.
async fn processes_and_health_are_shared(store: Store) {
    let now = now_ms();
    let jobs = vec![InFlight {
        queue: "content-generation".into(),
        job_id: "7".into(),
    }];
    store
        .worker_beat("w1".into(), "worker", "h1".into(), now, jobs.clone())
        .await
        .unwrap();
    store
        .worker_beat("s1".into(), "serve", "h1".into(), now, vec![])
        .await
        .unwrap();
    let listed = store.workers(5_000).await.unwrap();
    assert_eq!(listed.len(), 2);
    let w1 = listed.iter().find(|w| w.id == "w1").unwrap();
    assert_eq!((w1.role.as_str(), w1.status.as_str()), ("worker", "alive"));
    assert_eq!(w1.in_flight, jobs);
    store.worker_gone("w1".into()).await.unwrap();
    assert_eq!(store.workers(5_000).await.unwrap().len(), 1);

    assert!(store.health_after(0).await.unwrap().is_none());
    store.save_health(now, "new".into()).await.unwrap();
    store
        .save_health(now - 1_000, "older".into())
        .await
        .unwrap();
    assert_eq!(store.health_after(0).await.unwrap().as_deref(), Some("new"));
    assert!(store.health_after(now).await.unwrap().is_none());
}

/// Monitoring samples are kept with five-minute summaries and pruned by age.
async fn samples_are_kept_summarised_and_pruned(store: Store) {
    let now = now_ms();
    for (i, cpu) in [10.0, 30.0].into_iter().enumerate() {
        let sample = blogflow::ops::sample::Sample {
            ts: now - 1_000 + i as i64,
            cpu_process_pct: cpu,
            ..Default::default()
        };
        store.record_sample(sample).await.unwrap();
    }
    let raw = store.samples(now - 60_000, false).await.unwrap();
    assert_eq!(raw.len(), 2);
    let summaries = store.samples(now - 3_600_000, true).await.unwrap();
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    assert!(
        (summaries[0].cpu_process_pct - 20.0).abs() < 1e-9,
        "{summaries:?}"
    );
    assert_eq!(store.prune_samples(now + 1, 0).await.unwrap(), 2);
    assert!(store.samples(0, false).await.unwrap().is_empty());
}

/// What a new post may link to: earlier posts in its language that the target holds as
/// published (not as drafts), newest first; and a generated image recorded once, its cost
/// added to the post's once.
async fn linkable_posts_and_generated_images_are_recorded_once(store: Store) {
    let a = put(&store, "j1", 0, "a", 1).await;
    let b = put(&store, "j2", 0, "b", 2).await;
    let mut korean = new_post("j3", 0, "c", 3);
    korean.language = "ko".into();
    let c = store.insert_post(korean).await.unwrap();
    for (post, state) in [
        (&a, PublicationState::Published),
        (&b, PublicationState::Draft),
        (&c, PublicationState::Published),
    ] {
        store
            .record_publication(
                &post.id,
                "wordpress",
                &format!("https://b.example/{}/", post.content.slug),
                state,
            )
            .await
            .unwrap();
    }
    let later = c.created_at + 1;
    let linkable = store
        .linkable_posts("wordpress", "en", later, 10)
        .await
        .unwrap();
    let ids: Vec<&str> = linkable.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, [a.id.as_str()], "published, English, on this target");
    assert_eq!(linkable[0].location, "https://b.example/a/");
    assert_eq!(linkable[0].tags, a.content.tags);
    assert!(
        store
            .linkable_posts("ghost", "en", later, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .linkable_posts("wordpress", "en", a.created_at, 10)
            .await
            .unwrap()
            .is_empty(),
        "only earlier posts"
    );

    assert!(store.post_image(&a.id).await.unwrap().is_none());
    store
        .record_post_image(
            &a.id,
            Ok(vec![0x89, b'P', b'N', b'G']),
            "openai",
            "gpt-image-1",
            0.04,
        )
        .await
        .unwrap();
    store
        .record_post_image(&a.id, Err("second".into()), "openai", "gpt-image-1", 0.04)
        .await
        .unwrap();
    assert_eq!(
        store.post_image(&a.id).await.unwrap(),
        Some(Ok(vec![0x89, b'P', b'N', b'G']))
    );
    let cost = store.get_post(&a.id).await.unwrap().unwrap().cost_usd;
    assert!((cost - (a.cost_usd + 0.04)).abs() < 1e-9, "{cost}");
    store
        .record_post_image(&b.id, Err("HTTP 500".into()), "openai", "gpt-image-1", 0.0)
        .await
        .unwrap();
    assert_eq!(
        store.post_image(&b.id).await.unwrap(),
        Some(Err("HTTP 500".into()))
    );
}

macro_rules! backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let (store, _dir) = super::sqlite().await;
                    super::$case(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let (store, _db) = super::postgres().await;
                    super::$case(store).await;
                }
            )*
        }
    };
}

backends!(
    a_slot_stores_one_post_however_often_it_is_written,
    slugs_stay_unique,
    a_near_duplicate_is_held_with_the_reason,
    the_daily_cap_is_enforced_by_the_insert,
    held_posts_are_approved_or_rejected_once,
    the_publication_ledger_keeps_the_first_record,
    posts_are_listed_newest_first_and_found_by_topic,
    keywords_rotate,
    the_topic_pool_dedupes_clusters_and_picks_once,
    feed_state_is_remembered,
    sources_are_cached_by_url,
    runs_are_recorded_and_cleaned,
    a_lease_has_one_holder_until_it_expires,
    processes_and_health_are_shared,
    samples_are_kept_summarised_and_pruned,
    linkable_posts_and_generated_images_are_recorded_once,
);
