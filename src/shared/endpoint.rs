//! The URL of a configured endpoint (a provider's base URL): requests use it whole, and
//! nothing that prints it (`Display`, `Debug`, errors, `config check`, logs) shows its
//! userinfo, where a self-hosted server's credentials may sit
//! (`http://user:password@host/v1` prints as `http://***@host/v1`).

use super::secret::redact_url;

/// A configured endpoint's URL, without a trailing slash.
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointUrl(String);

impl EndpointUrl {
    /// The URL as configured (a trailing slash dropped).
    pub fn new(url: impl Into<String>) -> Self {
        let url: String = url.into();
        Self(url.trim().trim_end_matches('/').to_owned())
    }

    /// The whole URL, for sending requests only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its host, if it parses.
    pub fn host(&self) -> Option<String> {
        url::Url::parse(&self.0)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
    }
}

impl std::fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl std::fmt::Debug for EndpointUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EndpointUrl({:?})", redact_url(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_never_prints_and_requests_get_it() {
        let u = EndpointUrl::new("http://user:pw@10.0.0.5:8000/v1/");
        assert_eq!(u.expose(), "http://user:pw@10.0.0.5:8000/v1");
        assert_eq!(u.to_string(), "http://***@10.0.0.5:8000/v1");
        assert!(!format!("{u:?} {u} {:?}", Some(&u)).contains("pw"));
        assert_eq!(u.host().as_deref(), Some("10.0.0.5"));
        let plain = EndpointUrl::new("https://api.openai.com/v1");
        assert_eq!(plain.to_string(), "https://api.openai.com/v1");
    }
}
