//! `blogflow config check [--online]`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use blogflow::config::{Config, Severity};

use super::load;

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Report every configuration problem at once and list the providers and publishing
    /// targets; exit 1 if there are errors.
    Check {
        /// Also ask each provider and target whether it answers and accepts its credentials
        /// (lists models, runs the target's check: nothing is generated or published); exit 1
        /// if one fails.
        #[arg(long)]
        online: bool,
    },
}

pub async fn check(path: Option<&PathBuf>, online: bool) -> ExitCode {
    match load(path) {
        Ok((config, warnings)) => {
            for w in &warnings {
                println!("{w}");
            }
            println!(
                "configuration is valid{}",
                if warnings.is_empty() {
                    String::new()
                } else {
                    format!(" ({} warning(s))", warnings.len())
                }
            );
            println!("  listen       {}", config.listen);
            println!("  data dir     {}", config.data_dir.display());
            println!("  content dir  {}", config.content_dir.display());
            println!("  log dir      {}", config.log_dir.display());
            let g = &config.generation;
            println!("  language     {}", g.language.code());
            println!(
                "  category     {} (slug {}), Hangul in slugs: {}",
                g.category,
                g.slugs.category(&g.category),
                g.slugs.policy.as_str()
            );
            let components = blogflow::doctor::components(&config);
            if !components.iter().any(|c| c.kind == "provider") {
                println!("  provider     none (generation fails until one is set)");
            }
            if !components.iter().any(|c| c.kind == "target") {
                println!("  target       none (posts are stored, not published)");
            }
            for c in &components {
                println!("  {:<12} {:<10} {}", c.kind, c.name, c.detail);
            }
            if let Some(local) = &config.local {
                let spec = blogflow::llm::local::fetch::SMOLLM2;
                let path = local
                    .model_path
                    .clone()
                    .unwrap_or_else(|| local.cache_dir.join(spec.file_name));
                let state = if path.is_file() {
                    "present"
                } else {
                    "not yet fetched: `blogflow model fetch` or the first start does it"
                };
                println!(
                    "  local model  {} ({state}), {} threads",
                    path.display(),
                    local.threads
                );
            }
            println!(
                "  api token    {}",
                if config.api_token.is_some() {
                    "set"
                } else {
                    "not set (mutations refused)"
                }
            );
            for s in &config.schedules {
                println!(
                    "  schedule     {} \"{}\" {:?}",
                    s.name, s.expression, s.action
                );
            }
            if online {
                return online_check(&config).await;
            }
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for p in &problems {
                println!("{p}");
            }
            let errors = problems
                .iter()
                .filter(|p| p.severity == Severity::Error)
                .count();
            println!(
                "configuration is invalid: {errors} error(s), {} warning(s)",
                problems.len() - errors
            );
            ExitCode::FAILURE
        }
    }
}

/// `config check --online`: each provider and target asked at once, one line each.
async fn online_check(config: &Config) -> ExitCode {
    println!("checking every provider and target online (nothing is generated or published)");
    let checked = blogflow::doctor::check_online(config).await;
    let failed = checked.iter().filter(|c| c.result.is_err()).count();
    for c in &checked {
        match &c.result {
            Ok(()) => println!("  ok      {} {}", c.component.kind, c.component.name),
            Err(e) => println!("  FAILED  {} {}: {e}", c.component.kind, c.component.name),
        }
    }
    if failed == 0 {
        println!("every provider and target answered");
        ExitCode::SUCCESS
    } else {
        println!("{failed} of {} failed", checked.len());
        ExitCode::FAILURE
    }
}
