//! Environment variables from the process, `.env.local` and `.env`, without touching the
//! process environment (so tests can build configs side by side).

use std::collections::HashMap;
use std::path::Path;

/// A read-only view of environment variables: the process's values win over `.env.local`,
/// which wins over `.env`.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The process environment layered over `.env.local` and `.env` in `dir`. A malformed
    /// dotenv line is reported with the file name.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let mut vars = HashMap::new();
        for file in [".env", ".env.local"] {
            let path = dir.join(file);
            if !path.exists() {
                continue;
            }
            let iter =
                dotenvy::from_path_iter(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            for item in iter {
                let (k, v) = item.map_err(|e| format!("{}: {e}", path.display()))?;
                vars.insert(k, v);
            }
        }
        vars.extend(std::env::vars());
        Ok(Self { vars })
    }

    /// Exactly these variables (tests).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of `name` if set and not blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    /// Whether `name` is set to nothing (or only spaces): treated as unset by [`Env::get`],
    /// which is wrong where an empty value is a mistake worth saying.
    pub fn is_blank(&self, name: &str) -> bool {
        self.vars.get(name).is_some_and(|s| s.trim().is_empty())
    }

    /// A secret from `name`, or from the file named by `name_FILE` (trailing newline removed).
    pub fn secret(&self, name: &str) -> Result<Option<String>, String> {
        if let Some(v) = self.get(name) {
            return Ok(Some(v.to_owned()));
        }
        let file_var = format!("{name}_FILE");
        match self.get(&file_var) {
            None => Ok(None),
            Some(path) => std::fs::read_to_string(path)
                .map(|s| {
                    Some(s.trim_end_matches(['\r', '\n']).to_owned()).filter(|s| !s.is_empty())
                })
                .map_err(|e| format!("{file_var}: cannot read {path}: {e}")),
        }
    }
}
