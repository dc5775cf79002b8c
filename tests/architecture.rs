//! The house rules the compiler does not enforce: top-level modules depend on each other in
//! one direction (no import cycle), no source file grows past 800 lines before its tests, and
//! the architecture document points only at files that exist.
//!
//! Dependencies are read the way a reviewer reads them: every `crate::` path outside comments
//! and outside the file's `#[cfg(test)]` tail, grouped imports (`use crate::{a::X, b}`)
//! included.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 800;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The lines of a file that count: everything before its first top-level `#[cfg(test)]`.
fn code_lines(text: &str) -> Vec<&str> {
    text.lines()
        .take_while(|line| !line.starts_with("#[cfg(test)]"))
        .collect()
}

/// The library's top-level modules, as `src/lib.rs` declares them.
fn lib_modules() -> BTreeSet<String> {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).expect("src/lib.rs");
    lib.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .filter_map(|l| l.strip_suffix(';'))
        .map(str::to_owned)
        .collect()
}

/// The top-level module a file under `src/` belongs to.
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(root().join("src")).expect("under src");
    let first = rel.components().next().expect("non-empty path");
    let name = first.as_os_str().to_string_lossy();
    name.strip_suffix(".rs").unwrap_or(&name).to_owned()
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first segments of every `crate::` path in one line of code.
fn crate_paths(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let before = &rest[..at];
        let after = &rest[at + "crate::".len()..];
        rest = after;
        // `$crate::` in macros and identifiers ending in `crate` are not paths into this crate.
        if before.ends_with('$') || before.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = after.strip_prefix('{') {
            // Top-level names of a grouped import: the first identifier of each element at
            // depth one.
            let mut depth = 1;
            let mut expect_ident = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => expect_ident = true,
                    c if expect_ident && depth == 1 && (c.is_alphabetic() || c == '_') => {
                        found.push(ident_at(&group[i..]).to_owned());
                        expect_ident = false;
                    }
                    _ => {}
                }
            }
        } else {
            let ident = ident_at(after);
            if !ident.is_empty() {
                found.push(ident.to_owned());
            }
        }
    }
    found
}

/// Edges between top-level library modules, each with the first place that makes it.
fn module_graph() -> BTreeMap<(String, String), String> {
    let modules = lib_modules();
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut edges = BTreeMap::new();
    for file in files {
        let from = module_of(&file);
        if !modules.contains(&from) {
            continue; // the binary's files (main.rs, cli/) sit above the library
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        let mut in_block_comment = false;
        for (n, line) in code_lines(&text).into_iter().enumerate() {
            let trimmed = line.trim_start();
            if in_block_comment {
                in_block_comment = !trimmed.contains("*/");
                continue;
            }
            if trimmed.starts_with("/*") {
                in_block_comment = !trimmed.contains("*/");
                continue;
            }
            if trimmed.starts_with("//") {
                continue;
            }
            let code = line.split(" //").next().unwrap_or(line);
            for to in crate_paths(code) {
                if to != from && modules.contains(&to) {
                    let rel = file.strip_prefix(root()).unwrap().display();
                    edges
                        .entry((from.clone(), to))
                        .or_insert_with(|| format!("{rel}:{}", n + 1));
                }
            }
        }
    }
    edges
}

/// Strongly connected components with more than one member (Tarjan).
fn cycles(edges: &BTreeMap<(String, String), String>) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        next: BTreeMap<&'a str, Vec<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        counter: usize,
        found: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            self.index.insert(v, self.counter);
            self.low.insert(v, self.counter);
            self.counter += 1;
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.next.get(v).cloned().unwrap_or_default() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().push(to);
        next.entry(to).or_default();
    }
    let nodes: Vec<&str> = next.keys().copied().collect();
    let mut t = Tarjan {
        next,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        counter: 0,
        found: Vec::new(),
    };
    for v in nodes {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.found
}

#[test]
fn top_level_modules_form_no_import_cycle() {
    let edges = module_graph();
    assert!(
        edges.len() > 20,
        "the scan found only {} edges: is it reading src/?",
        edges.len()
    );
    let found = cycles(&edges);
    let mut report = String::new();
    for component in &found {
        report.push_str(&format!("cycle among {}:\n", component.join(", ")));
        for ((from, to), at) in &edges {
            if component.contains(from) && component.contains(to) {
                report.push_str(&format!("  {from} -> {to}  ({at})\n"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "top-level modules import each other in a cycle; break it with a leaf module or a trait the upper layer implements:\n{report}"
    );
}

#[test]
fn the_cycle_check_sees_a_cycle() {
    let mut edges = BTreeMap::new();
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "e")] {
        edges.insert((from.to_owned(), to.to_owned()), String::new());
    }
    assert_eq!(cycles(&edges), vec![vec!["a", "b", "c"]]);
    assert_eq!(
        crate_paths(
            "use crate::{config::{A, B}, store::Store, shared};  x = $crate::y; crate::db::open()"
        ),
        vec!["config", "store", "shared", "db"]
    );
}

#[test]
fn no_source_file_is_longer_than_800_lines_before_its_tests() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let too_long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(f).expect("readable source");
            let n = code_lines(&text).len();
            (n > MAX_LINES)
                .then(|| format!("{} ({n} lines)", f.strip_prefix(root()).unwrap().display()))
        })
        .collect();
    assert!(
        too_long.is_empty(),
        "split these along their seams (aim at 150-400 lines): {too_long:?}"
    );
}

#[test]
fn the_architecture_document_points_only_at_files_that_exist() {
    let doc = std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).expect("the document");
    let mut named = 0;
    let mut missing = Vec::new();
    for span in doc.split('`').skip(1).step_by(2) {
        let looks_like_path = (span.starts_with("src/")
            || span.starts_with("tests/")
            || span.starts_with("scripts/")
            || span.starts_with("docs/")
            || span.starts_with("assets/")
            || span.starts_with(".ci/"))
            && !span.contains(' ')
            && !span.contains('*');
        if looks_like_path {
            named += 1;
            if !root().join(span.trim_end_matches('/')).exists() {
                missing.push(span.to_owned());
            }
        }
    }
    assert!(named > 30, "the document names only {named} files");
    assert!(
        missing.is_empty(),
        "docs/ARCHITECTURE.md names files that do not exist: {missing:?}"
    );
}
