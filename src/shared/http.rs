//! HTTP clients built on first use. The first client with TLS initialises OpenSSL and loads
//! the system's certificate store, about 6 MiB resident (measured with `blogflow bench
//! idle-rss`); a component that may never call out (no feeds, no alert channels) should not
//! pay that at start.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A `reqwest::Client` with bounded time, built the first time it is asked for. Cheap to
/// clone; clones share the client.
#[derive(Debug, Clone)]
pub struct LazyClient {
    cell: Arc<OnceLock<reqwest::Client>>,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: bool,
}

impl LazyClient {
    /// A client whose requests take at most `timeout` in all and `connect_timeout` to connect.
    pub fn new(timeout: Duration, connect_timeout: Duration) -> Self {
        Self {
            cell: Arc::default(),
            timeout,
            connect_timeout,
            user_agent: false,
        }
    }

    /// Sends `User-Agent: blogflow/<version>`.
    pub fn with_user_agent(mut self) -> Self {
        self.user_agent = true;
        self
    }

    /// The client, built now if this is the first call.
    pub fn get(&self) -> &reqwest::Client {
        self.cell.get_or_init(|| {
            let mut builder = reqwest::Client::builder()
                .timeout(self.timeout)
                .connect_timeout(self.connect_timeout);
            if self.user_agent {
                builder = builder.user_agent(concat!("blogflow/", env!("CARGO_PKG_VERSION")));
            }
            builder.build().unwrap_or_default()
        })
    }

    /// Whether the client was built (for tests and the footprint report).
    pub fn is_built(&self) -> bool {
        self.cell.get().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_built_once_on_first_use_and_shared_by_clones() {
        let lazy = LazyClient::new(Duration::from_secs(5), Duration::from_secs(1));
        let clone = lazy.clone();
        assert!(!lazy.is_built());
        let first: *const reqwest::Client = lazy.get();
        assert!(
            clone.is_built(),
            "a clone sees the client its original built"
        );
        assert!(std::ptr::eq(first, clone.get()));
    }
}
