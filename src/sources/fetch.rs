//! A polite, safe HTTP client for other people's pages.
//!
//! - **Where**: `http` and `https` only; every address a host name resolves to must be public
//!   (see [`super::address`]) unless the operator allows private ones. The check sits in the
//!   client's resolver and its redirect policy, so a redirect or a DNS answer cannot lead
//!   around it.
//! - **Whether**: robots.txt is asked once per site a day and honoured for our product token.
//! - **How much**: one request per host per `host_interval`, a total time limit from connecting
//!   to the last byte, a size cap checked while reading, HTML only.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use reqwest::Url;

use super::address::is_public;
use super::charset;
use super::robots::Robots;
use crate::config::SourcesConfig;

/// Our product token in robots.txt and the User-Agent.
pub const AGENT: &str = "blogflow";

/// How long a site's robots.txt is trusted.
const ROBOTS_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a site that failed to answer for its robots.txt is left alone.
const ROBOTS_RETRY: Duration = Duration::from_secs(600);

/// Why a page was not fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL may not be fetched: its scheme, or an address that is not public.
    #[error("refused {url}: {reason}")]
    Refused {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The site's robots.txt disallows it.
    #[error("{url} is disallowed by the site's robots.txt")]
    Robots {
        /// The URL.
        url: String,
    },
    /// The answer is not an HTML page.
    #[error("{url} is not an HTML page ({content_type})")]
    NotHtml {
        /// The URL.
        url: String,
        /// What it was.
        content_type: String,
    },
    /// The page is larger than the cap.
    #[error("{url} is larger than {max_bytes} bytes (sources.max_page_kib)")]
    TooLarge {
        /// The URL.
        url: String,
        /// The cap.
        max_bytes: usize,
    },
    /// The site answered with an error status.
    #[error("{url} answered {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// Connecting, a redirect, a timeout or the transfer failed.
    #[error("{url}: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
}

/// A fetched page, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The URL asked for.
    pub url: String,
    /// Where the page was found, after redirects.
    pub final_url: String,
    /// The page as text.
    pub html: String,
    /// The encoding it was read as.
    pub charset: &'static str,
}

/// Fetches pages by the rules above. Cheap to clone; clones share the client, the robots
/// cache and the per-host clock.
#[derive(Debug, Clone)]
pub struct Fetcher {
    config: Arc<SourcesConfig>,
    http: Arc<OnceLock<Result<reqwest::Client, String>>>,
    robots: Arc<Mutex<HashMap<String, (Instant, Robots)>>>,
    next_slot: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Fetcher {
    /// A fetcher with `config`'s limits. The HTTP client is built on the first fetch.
    pub fn new(config: SourcesConfig) -> Self {
        Self {
            config: Arc::new(config),
            http: Arc::default(),
            robots: Arc::default(),
            next_slot: Arc::default(),
        }
    }

    fn client(&self) -> Result<&reqwest::Client, String> {
        self.http
            .get_or_init(|| {
                let allow_private = self.config.allow_private;
                let max_redirects = self.config.max_redirects;
                reqwest::Client::builder()
                    .user_agent(concat!(
                        "blogflow/",
                        env!("CARGO_PKG_VERSION"),
                        " (source reader; honours robots.txt)"
                    ))
                    .timeout(self.config.timeout)
                    .connect_timeout(self.config.timeout.min(Duration::from_secs(10)))
                    .dns_resolver(Arc::new(PublicOnly { allow_private }))
                    .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                        if attempt.previous().len() >= max_redirects {
                            return attempt.error(format!("more than {max_redirects} redirects"));
                        }
                        match check_url(attempt.url(), allow_private) {
                            Ok(()) => attempt.follow(),
                            Err(reason) => attempt.error(reason),
                        }
                    }))
                    .build()
                    .map_err(|e| format!("cannot build the HTTP client: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Fetches `url` as an HTML page.
    pub async fn fetch(&self, url: &str) -> Result<Page, FetchError> {
        let parsed = Url::parse(url).map_err(|e| FetchError::Refused {
            url: url.to_owned(),
            reason: format!("not a URL: {e}"),
        })?;
        check_url(&parsed, self.config.allow_private).map_err(|reason| FetchError::Refused {
            url: url.to_owned(),
            reason,
        })?;
        if !self.config.allow_private {
            // The resolver refuses such hosts too (redirects, a changed DNS answer); asking
            // here first says why, instead of failing at robots.txt.
            let refused = |reason: String| FetchError::Refused {
                url: url.to_owned(),
                reason,
            };
            let host = parsed.host_str().unwrap_or("");
            let port = parsed.port_or_known_default().unwrap_or(80);
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| refused(format!("{host} does not resolve: {e}")))?
                .collect();
            if let Some(private) = found.iter().find(|a| !is_public(a.ip())) {
                return Err(refused(format!(
                    "{host} resolves to {}, not a public address (set sources.allow_private to fetch it)",
                    private.ip()
                )));
            }
        }
        let robots = self.robots_for(&parsed).await;
        let path = match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_owned(),
        };
        if !robots.allows(&path) {
            return Err(FetchError::Robots {
                url: url.to_owned(),
            });
        }
        let (final_url, content_type, body) = self.get(&parsed, self.config.max_bytes).await?;
        let html_like = content_type.as_deref().is_some_and(|t| {
            let t = t
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            t == "text/html" || t == "application/xhtml+xml"
        });
        if !html_like {
            return Err(FetchError::NotHtml {
                url: url.to_owned(),
                content_type: content_type.unwrap_or_else(|| "no Content-Type".into()),
            });
        }
        let host = final_url.host_str().unwrap_or("").to_owned();
        let (html, charset) = charset::decode(&body, content_type.as_deref(), &host);
        Ok(Page {
            url: url.to_owned(),
            final_url: final_url.to_string(),
            html,
            charset,
        })
    }

    /// The site's robots.txt rules, from the cache or fetched now.
    async fn robots_for(&self, url: &Url) -> Robots {
        let origin = url.origin().ascii_serialization();
        if let Some((until, robots)) = self.robots.lock().expect("robots cache").get(&origin)
            && *until > Instant::now()
        {
            return robots.clone();
        }
        let Ok(robots_url) = Url::parse(&format!("{origin}/robots.txt")) else {
            return Robots::allow_all();
        };
        let (robots, ttl) = match self.get(&robots_url, 512 * 1024).await {
            Ok((_, _, body)) => (
                Robots::parse(&String::from_utf8_lossy(&body), AGENT),
                ROBOTS_TTL,
            ),
            // RFC 9309: a 4xx means there are no rules; anything else (5xx, unreachable)
            // means the site could not say, so assume everything is disallowed for a while.
            Err(FetchError::Status { status, .. }) if (400..500).contains(&status) => {
                (Robots::allow_all(), ROBOTS_TTL)
            }
            Err(e) => {
                tracing::info!(site = %origin, error = %e, "robots.txt unavailable: not fetching from this site for now");
                (Robots::disallow_all(), ROBOTS_RETRY)
            }
        };
        self.robots
            .lock()
            .expect("robots cache")
            .insert(origin, (Instant::now() + ttl, robots.clone()));
        robots
    }

    /// One GET, after waiting for the host's turn; the body read up to `max_bytes`.
    async fn get(
        &self,
        url: &Url,
        max_bytes: usize,
    ) -> Result<(Url, Option<String>, Vec<u8>), FetchError> {
        let client = self.client().map_err(|message| FetchError::Transport {
            url: url.to_string(),
            message,
        })?;
        self.wait_turn(url.host_str().unwrap_or("")).await;
        let transport = |e: reqwest::Error| FetchError::Transport {
            url: url.to_string(),
            message: describe(&e),
        };
        let mut response = client.get(url.clone()).send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: status.as_u16(),
            });
        }
        let too_large = || FetchError::TooLarge {
            url: url.to_string(),
            max_bytes,
        };
        if response
            .content_length()
            .is_some_and(|n| n > max_bytes as u64)
        {
            return Err(too_large());
        }
        let final_url = response.url().clone();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((final_url, content_type, body))
    }

    /// Waits until `host` may be asked again, and books the next turn.
    async fn wait_turn(&self, host: &str) {
        let interval = self.config.host_interval;
        if interval.is_zero() {
            return;
        }
        let start = {
            let mut slots = self.next_slot.lock().expect("host clock");
            let now = Instant::now();
            let start = slots.get(host).copied().filter(|t| *t > now).unwrap_or(now);
            slots.insert(host.to_owned(), start + interval);
            start
        };
        tokio::time::sleep_until(start.into()).await;
    }
}

/// Why `url` may not be fetched, if it may not: its scheme, or a host that is an address
/// outside the public internet. Host names are checked when they resolve ([`PublicOnly`]).
fn check_url(url: &Url, allow_private: bool) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("the {} scheme is not fetched", url.scheme()));
    }
    let host = url.host_str().ok_or("no host")?;
    let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    else {
        return Ok(()); // a name: checked when it resolves
    };
    if allow_private || is_public(ip) {
        Ok(())
    } else {
        Err(format!(
            "{ip} is not a public address (set sources.allow_private to fetch it)"
        ))
    }
}

/// A resolver that answers only public addresses (all of them when private ones are allowed).
#[derive(Debug)]
struct PublicOnly {
    allow_private: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if usable.is_empty() {
                let reason = if found.is_empty() {
                    format!("{host} has no address")
                } else {
                    format!(
                        "{host} resolves to {} only, not a public address (set sources.allow_private to fetch it)",
                        found[0].ip()
                    )
                };
                return Err(reason.into());
            }
            Ok(Box::new(usable.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A transport error in words, with its cause (reqwest's own text stops at "error sending
/// request").
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out (sources.timeout_secs)".into();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
