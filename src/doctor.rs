//! `blogflow config check`: what the configuration sets up (every provider and publishing
//! target), and with `--online` whether each one answers and accepts its credentials, without
//! generating or publishing anything.

use std::time::Duration;

use crate::app;
use crate::config::Config;
use crate::publish::Publisher;

/// One configured provider or target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// `provider` or `target`.
    pub kind: &'static str,
    /// Its name (`openai`, `ollama`, `wordpress`, …).
    pub name: String,
    /// What it is (model and address, site, folder).
    pub detail: String,
}

/// The outcome of one online check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// What was checked.
    pub component: Component,
    /// `Ok` or why not (never containing a credential).
    pub result: Result<(), String>,
}

/// Longest one online check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// Every provider and target the configuration sets up, in balancer and publishing order.
pub fn components(config: &Config) -> Vec<Component> {
    let mut out = Vec::new();
    if let Some(c) = &config.anthropic {
        out.push(provider("anthropic", &c.model, &c.base_url));
    }
    if let Some(c) = &config.openai {
        out.push(provider("openai", &c.model, &c.base_url));
    }
    for (name, c) in &config.compatible {
        out.push(provider(name, &c.model, &c.base_url));
    }
    if let Some(c) = &config.gemini {
        out.push(provider("gemini", &c.model, &c.base_url));
    }
    if let Some(c) = &config.local {
        let path = c.model_path.clone().unwrap_or_else(|| {
            c.cache_dir
                .join(crate::llm::local::fetch::SMOLLM2.file_name)
        });
        out.push(Component {
            kind: "provider",
            name: "local".into(),
            detail: format!("in-process model {}", path.display()),
        });
    }
    for p in app::publishers(config) {
        out.push(target(config, &p));
    }
    out
}

fn provider(name: &str, model: &str, base_url: &crate::config::EndpointUrl) -> Component {
    Component {
        kind: "provider",
        name: name.to_owned(),
        detail: format!("model {model} at {base_url}"),
    }
}

fn target(config: &Config, p: &Publisher) -> Component {
    let detail = match p {
        Publisher::Markdown(_) => format!("files in {}", config.content_dir.display()),
        Publisher::Webhook(_) => "signed POST to the configured URL".to_owned(),
        Publisher::WordPress(_) => config
            .wordpress
            .as_ref()
            .map(|w| format!("{} as {}", w.url, w.user))
            .unwrap_or_default(),
        Publisher::Ghost(_) => config
            .ghost
            .as_ref()
            .map(|g| g.url.clone())
            .unwrap_or_default(),
    };
    Component {
        kind: "target",
        name: p.target().to_owned(),
        detail,
    }
}

/// Asks every provider and target whether it answers and accepts its credentials: providers
/// list their models (no tokens spent), targets run their start-up check (no post written).
/// All run at once, each bounded by 20 s.
pub async fn check_online(config: &Config) -> Vec<Checked> {
    let components = components(config);
    let providers = match app::providers(config) {
        Ok(p) => p,
        Err(e) => {
            return components
                .into_iter()
                .map(|component| Checked {
                    component,
                    result: Err(e.to_string()),
                })
                .collect();
        }
    };
    let mut checks = tokio::task::JoinSet::new();
    for (i, p) in providers.into_iter().enumerate() {
        checks.spawn(async move {
            (
                i,
                bounded(async { p.check().await.map_err(|e| e.to_string()) }).await,
            )
        });
    }
    let offset = checks.len();
    for (i, p) in app::publishers(config).into_iter().enumerate() {
        checks.spawn(async move {
            let result = bounded(async { p.check().await.map_err(|e| e.to_string()) }).await;
            (offset + i, result)
        });
    }
    let mut results = vec![Err("not checked".to_owned()); components.len()];
    while let Some(done) = checks.join_next().await {
        if let Ok((i, result)) = done
            && let Some(slot) = results.get_mut(i)
        {
            *slot = result;
        }
    }
    components
        .into_iter()
        .zip(results)
        .map(|(component, result)| Checked { component, result })
        .collect()
}

async fn bounded(check: impl Future<Output = Result<(), String>>) -> Result<(), String> {
    tokio::time::timeout(CHECK_TIMEOUT, check)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())))
}
