//! The source reader against a real HTTP server standing in for news sites: charsets,
//! redirects, size and time limits, robots.txt and the refusal of addresses a feed must not
//! make blogflow reach.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use blogflow::config::SourcesConfig;
use blogflow::sources::{FetchError, Fetcher, extract};

const EN: &str = include_str!("fixtures/sources/news-en.html");
const KO: &str = include_str!("fixtures/sources/news-ko.html");
/// A sentence of the Korean article.
const KOREAN: &str =
    "정부가 인공지능(AI) 반도체 산업 육성을 위해 내년부터 5년간 1조 원을 투자한다.";

fn html(body: &str) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!("<html><head><title>t</title></head><body><p>{body}</p></body></html>"),
    )
        .into_response()
}

fn page(html: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

struct Site {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

async fn site() -> Site {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = Router::new()
        .route(
            "/robots.txt",
            get(|| async { "User-agent: *\nDisallow: /private/\n" }),
        )
        .route("/en", get(|| async { page(EN) }))
        .route("/ko", get(|| async { page(KO) }))
        .route(
            "/euc-kr",
            get(|| async {
                // The same article as a Korean site still serves it: EUC-KR, declared only in
                // the page.
                let declared = KO.replace("<meta charset=\"utf-8\">", "<meta charset=\"euc-kr\">");
                let body = encoding_rs::EUC_KR.encode(&declared).0.into_owned();
                ([(header::CONTENT_TYPE, "text/html")], body)
            }),
        )
        .route("/moved", get(|| async { Redirect::permanent("/en") }))
        .route(
            "/huge",
            get(|| async { html(&"<span>filler</span>".repeat(20_000)) }),
        )
        .route(
            "/plain",
            get(|| async { ([(header::CONTENT_TYPE, "text/plain")], "just text") }),
        )
        .route("/private/draft", get(|| async { html("not for crawlers") }))
        .route(
            "/endless",
            get(|| async {
                // Headers at once, then a trickle that never ends.
                let stream = futures_util::stream::unfold(0u64, |n| async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Some((
                        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"<p>more</p>")),
                        n + 1,
                    ))
                });
                (
                    [(header::CONTENT_TYPE, "text/html")],
                    Body::from_stream(stream),
                )
            }),
        )
        .route("/gone", get(|| async { StatusCode::NOT_FOUND }))
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    next.run(req).await
                }
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Site { addr, hits }
}

fn allowing_private() -> SourcesConfig {
    SourcesConfig {
        allow_private: true,
        max_bytes: 64 * 1024,
        timeout: Duration::from_secs(2),
        host_interval: Duration::ZERO,
        ..SourcesConfig::default()
    }
}

#[tokio::test]
async fn pages_in_utf8_and_euc_kr_are_read_as_text_and_redirects_followed() {
    let s = site().await;
    let f = Fetcher::new(allowing_private());
    let base = format!("http://{}", s.addr);
    let en = f.fetch(&format!("{base}/en")).await.unwrap();
    let article = extract(&en.html, &en.final_url).unwrap();
    assert!(
        article
            .text
            .contains("scored 87.5 percent on the GPQA reasoning benchmark")
    );
    assert!(!article.text.contains("wake me up"), "a comment kept");
    let ko = f.fetch(&format!("{base}/ko")).await.unwrap();
    let euc = f.fetch(&format!("{base}/euc-kr")).await.unwrap();
    assert_eq!(euc.charset, "EUC-KR");
    for page in [&ko, &euc] {
        let article = extract(&page.html, &page.final_url).unwrap();
        assert!(
            article.text.contains(KOREAN),
            "{}:\n{}",
            page.url,
            article.text
        );
        assert!(!article.text.contains("관련기사"), "related links kept");
        assert!(!article.text.contains("댓글"), "comments kept");
    }
    assert_eq!(
        extract(&ko.html, &ko.final_url).unwrap().text,
        extract(&euc.html, &euc.final_url).unwrap().text,
        "the EUC-KR page reads as the UTF-8 one"
    );
    let moved = f.fetch(&format!("{base}/moved")).await.unwrap();
    assert_eq!(moved.final_url, format!("{base}/en"));
    assert_eq!(moved.url, format!("{base}/moved"));
    assert_eq!(moved.html, en.html);
}

#[tokio::test]
async fn too_large_plain_text_error_statuses_and_endless_pages_are_refused() {
    let s = site().await;
    let f = Fetcher::new(allowing_private());
    let base = format!("http://{}", s.addr);
    let huge = f.fetch(&format!("{base}/huge")).await.unwrap_err();
    assert!(
        matches!(
            huge,
            FetchError::TooLarge {
                max_bytes: 65_536,
                ..
            }
        ),
        "{huge}"
    );
    let plain = f.fetch(&format!("{base}/plain")).await.unwrap_err();
    assert!(
        matches!(&plain, FetchError::NotHtml { content_type, .. } if content_type == "text/plain"),
        "{plain}"
    );
    let gone = f.fetch(&format!("{base}/gone")).await.unwrap_err();
    assert!(
        matches!(gone, FetchError::Status { status: 404, .. }),
        "{gone}"
    );
    // A trickle that never ends is cut by the time limit (2 s here) before the size cap.
    let endless = f.fetch(&format!("{base}/endless")).await.unwrap_err();
    assert!(
        matches!(&endless, FetchError::Transport { message, .. } if message.contains("timed out")),
        "{endless}"
    );
}

#[tokio::test]
async fn robots_txt_is_honoured_and_asked_once_per_site() {
    let s = site().await;
    let f = Fetcher::new(allowing_private());
    let base = format!("http://{}", s.addr);
    let err = f.fetch(&format!("{base}/private/draft")).await.unwrap_err();
    assert!(matches!(err, FetchError::Robots { .. }), "{err}");
    assert_eq!(
        s.hits.load(Ordering::SeqCst),
        1,
        "only robots.txt was asked"
    );
    f.fetch(&format!("{base}/en")).await.unwrap();
    f.fetch(&format!("{base}/ko")).await.unwrap();
    assert_eq!(s.hits.load(Ordering::SeqCst), 3, "robots.txt is cached");
}

#[tokio::test]
async fn loopback_private_link_local_and_file_urls_are_refused_unless_allowed() {
    let s = site().await;
    let f = Fetcher::new(SourcesConfig {
        allow_private: false,
        ..allowing_private()
    });
    for url in [
        format!("http://{}/en", s.addr),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/".to_owned(),
        "http://[::1]/".to_owned(),
        "file:///etc/passwd".to_owned(),
        "ftp://example.com/x".to_owned(),
    ] {
        let err = f.fetch(&url).await.unwrap_err();
        assert!(matches!(err, FetchError::Refused { .. }), "{url}: {err}");
    }
    // A name that resolves to loopback is refused before any connection.
    let err = f
        .fetch(&format!("http://localhost:{}/en", s.addr.port()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a public address"), "{err}");
    assert_eq!(
        s.hits.load(Ordering::SeqCst),
        0,
        "no request reached the site"
    );
}

#[tokio::test]
async fn requests_to_one_host_are_spaced_by_the_interval() {
    let s = site().await;
    let f = Fetcher::new(SourcesConfig {
        host_interval: Duration::from_millis(300),
        ..allowing_private()
    });
    let base = format!("http://{}", s.addr);
    // robots.txt + 3 pages = 4 requests, so at least 3 intervals between the first and last.
    let started = tokio::time::Instant::now();
    for path in ["en", "ko", "euc-kr"] {
        f.fetch(&format!("{base}/{path}")).await.unwrap();
    }
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "4 requests to one host in {:?}",
        started.elapsed()
    );
}
