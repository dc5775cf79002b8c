//! Reading the TOML file so that one mistake does not hide the others: a syntax error is
//! reported with its line and the environment is still checked; a wrong type, an unknown key
//! or a missing field is reported under its TOML path (`generation.parallelism`,
//! `schedules[1].cron`), that one setting is left out, and the rest is read again, until the
//! file reads.

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use super::{Problem, error};

/// Settings left out after at most this many problems (a file of garbage ends, it does not spin).
const MAX_PROBLEMS: usize = 200;

/// One step of a path into the file.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Reads `text` (the file at `file`) into `T`; every setting that could not be read is left at
/// its default and reported.
pub(super) fn read<T: DeserializeOwned + Default>(file: &str, text: &str) -> (T, Vec<Problem>) {
    let mut table: Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            let message = e.to_string().trim().replace('\n', " ");
            return (
                T::default(),
                vec![error(
                    file,
                    format!("not valid TOML, nothing of it was read: {message}"),
                )],
            );
        }
    };
    let mut problems = Vec::new();
    loop {
        let attempt: Result<T, _> = serde_path_to_error::deserialize(Value::Table(table.clone()));
        let e = match attempt {
            Ok(v) => return (v, problems),
            Err(e) => e,
        };
        let mut path = steps(e.path());
        let message = e.inner().to_string();
        let message = message.trim().replace('\n', " ");
        // The path is given by the name; the deserializer's " in `a.b`" repeats it.
        let message = match message.rfind(" in `") {
            Some(i) if message.ends_with('`') => message[..i].to_owned(),
            _ => message,
        };
        // An unknown key is reported at its table: point at the key itself.
        if let Some(key) = unknown_key(&message)
            && path.last() != Some(&Step::Key(key.clone()))
        {
            path.push(Step::Key(key));
        }
        let problem = error(name(&path, file), explain(&message));
        if !problems.contains(&problem) {
            problems.push(problem);
        }
        if path.is_empty() || !remove(&mut table, &path) || problems.len() >= MAX_PROBLEMS {
            return (T::default(), problems);
        }
    }
}

fn steps(path: &serde_path_to_error::Path) -> Vec<Step> {
    path.iter()
        .filter_map(|s| match s {
            serde_path_to_error::Segment::Map { key } => Some(Step::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(Step::Index(*index)),
            _ => None,
        })
        .collect()
}

/// `generation.parallelism`, `schedules[1].cron`; the file for the whole document.
fn name(path: &[Step], file: &str) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() { file.to_owned() } else { out }
}

/// The key of serde's "unknown field `x`, expected …".
fn unknown_key(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_owned())
}

/// serde's wording, with what to do about it.
fn explain(message: &str) -> String {
    if message.starts_with("unknown field") {
        format!("{message} (a typo, or a setting this version does not have)")
    } else if message.starts_with("invalid type") {
        format!("{message}: the setting was ignored")
    } else {
        message.to_owned()
    }
}

/// Removes the value at `path`; whether there was one.
fn remove(table: &mut Table, path: &[Step]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut at: &mut Value = match parents.first() {
        None => {
            return match last {
                Step::Key(k) => table.remove(k).is_some(),
                Step::Index(_) => false,
            };
        }
        Some(Step::Key(k)) => match table.get_mut(k) {
            Some(v) => v,
            None => return false,
        },
        Some(Step::Index(_)) => return false,
    };
    for step in &parents[1..] {
        at = match (step, at) {
            (Step::Key(k), Value::Table(t)) => match t.get_mut(k) {
                Some(v) => v,
                None => return false,
            },
            (Step::Index(i), Value::Array(a)) => match a.get_mut(*i) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, at) {
        (Step::Key(k), Value::Table(t)) => t.remove(k).is_some(),
        // An element of a list is taken out (the next ones move up a place).
        (Step::Index(i), Value::Array(a)) if *i < a.len() => {
            a.remove(*i);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;

    #[test]
    fn every_bad_setting_is_named_and_the_rest_is_read() {
        let text = r#"
[server]
listen = 3000
[generation]
parallelism = "many"
language = "ko"
cuont = 5
[[schedules]]
name = "a"
cron = "0 * * * *"
action = "generate"
count = "five"
[[schedules]]
name = "b"
cron = "0 2 * * *"
action = "cleanup"
"#;
        let (raw, problems): (RawConfig, _) = read("blogflow.toml", text);
        let mut named: Vec<&str> = problems.iter().map(|p| p.setting.as_str()).collect();
        named.sort_unstable();
        assert_eq!(
            named,
            [
                "generation.cuont",
                "generation.parallelism",
                "schedules[0].count",
                "server.listen",
            ],
            "{problems:?}"
        );
        assert!(
            problems.iter().all(|p| !p.message.contains(" in `")),
            "{problems:?}"
        );
        assert_eq!(
            raw.generation.language.as_deref(),
            Some("ko"),
            "the rest is read"
        );
        assert_eq!(raw.schedules.as_ref().map(Vec::len), Some(2));
        let (_, syntax): (RawConfig, _) = read("blogflow.toml", "[generation\nx = 1");
        assert_eq!(syntax.len(), 1);
        assert_eq!(syntax[0].setting, "blogflow.toml");
        assert!(
            syntax[0].message.contains("line 1"),
            "{}",
            syntax[0].message
        );
    }
}
