//! robots.txt as search engines read it (RFC 9309): the group for our product token, else the
//! `*` group; among the rules that match a path the longest wins, and `Allow` wins a tie;
//! `*` matches any run of characters and a final `$` anchors the end.

/// A group of robots.txt: the user agents it names and its `(allow, pattern)` rules.
type Group = (Vec<String>, Vec<(bool, String)>);

/// The rules of one site for one crawler.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Robots {
    /// `(allow, pattern)` of the group that applies.
    rules: Vec<(bool, String)>,
}

impl Robots {
    /// Nothing is disallowed (no robots.txt, or a 4xx for it).
    pub fn allow_all() -> Self {
        Self::default()
    }

    /// Everything is disallowed (the site failed to answer for its robots.txt: RFC 9309 says
    /// to assume the worst until it does).
    pub fn disallow_all() -> Self {
        Self {
            rules: vec![(false, "/".into())],
        }
    }

    /// The rules in `text` that apply to the crawler whose product token is `agent`.
    pub fn parse(text: &str, agent: &str) -> Self {
        let agent = agent.to_ascii_lowercase();
        // Groups: the user agents they name and their rules.
        let mut groups: Vec<Group> = Vec::new();
        let mut in_agents = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            match key.as_str() {
                "user-agent" => {
                    if !in_agents {
                        groups.push((Vec::new(), Vec::new()));
                        in_agents = true;
                    }
                    if let Some(g) = groups.last_mut() {
                        g.0.push(value.to_ascii_lowercase());
                    }
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    // An empty Disallow allows everything: no rule.
                    if let (Some(g), false) = (groups.last_mut(), value.is_empty()) {
                        g.1.push((key == "allow", value.to_owned()));
                    }
                }
                _ => in_agents = false,
            }
        }
        // The groups that name our product token, else those for `*` (RFC 9309, 2.2.1).
        let names_us = |agents: &[String]| {
            agents.iter().any(|a| {
                a.split('/')
                    .next()
                    .is_some_and(|token| token.trim() == agent)
            })
        };
        let ours = groups.iter().any(|(agents, _)| names_us(agents));
        let rules = groups
            .iter()
            .filter(|(agents, _)| {
                if ours {
                    names_us(agents)
                } else {
                    agents.iter().any(|a| a == "*")
                }
            })
            .flat_map(|(_, rules)| rules.iter().cloned())
            .collect();
        Self { rules }
    }

    /// Whether `path` (with its query) may be fetched.
    pub fn allows(&self, path: &str) -> bool {
        let mut best: Option<(usize, bool)> = None;
        for (allow, pattern) in &self.rules {
            if matches(pattern, path) {
                let len = pattern.len();
                best = match best {
                    Some((l, a)) if l > len || (l == len && a) => Some((l, a)),
                    _ => Some((len, *allow)),
                };
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

/// Whether a robots.txt pattern matches the start of `path`.
fn matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut at = 0;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            if !path.starts_with(part) {
                return false;
            }
            at = part.len();
        } else if i == parts.len() - 1 && anchored {
            // The last literal must end the path, after the position reached so far.
            return path.len() >= at + part.len() && path.ends_with(part);
        } else {
            match path[at..].find(part) {
                Some(found) => at += found + part.len(),
                None => return false,
            }
        }
    }
    !anchored || at == path.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "\
# a news site
User-agent: *
Disallow: /private/
Disallow: /*.pdf$
Allow: /private/press/

User-agent: BadBot
User-agent: blogflow
Disallow: /news/drafts
Allow: /news/drafts/public$
";

    #[test]
    fn our_own_group_applies_and_the_longest_match_wins() {
        let r = Robots::parse(SITE, "blogflow");
        assert!(!r.allows("/news/drafts"));
        assert!(!r.allows("/news/drafts/x"));
        assert!(r.allows("/news/drafts/public"));
        assert!(!r.allows("/news/drafts/public/more"));
        // The `*` group does not apply once a group names us.
        assert!(r.allows("/private/x"));
    }

    #[test]
    fn the_star_group_applies_to_crawlers_it_does_not_name() {
        let r = Robots::parse(SITE, "otherbot");
        assert!(!r.allows("/private/x"));
        assert!(r.allows("/private/press/release"));
        assert!(!r.allows("/files/report.pdf"));
        assert!(r.allows("/files/report.pdf?download=1"));
        assert!(r.allows("/news/2026/ai"));
    }

    #[test]
    fn empty_rules_and_failures() {
        assert!(Robots::parse("User-agent: *\nDisallow:\n", "blogflow").allows("/a"));
        assert!(Robots::parse("", "blogflow").allows("/a"));
        assert!(Robots::allow_all().allows("/"));
        assert!(!Robots::disallow_all().allows("/anything"));
        // A tie between Allow and Disallow of the same length goes to Allow.
        let r = Robots::parse("User-agent: *\nDisallow: /a\nAllow: /a\n", "blogflow");
        assert!(r.allows("/a/b"));
    }
}
