//! Compiled rules and allowlists: the rule file turned into regexes ready to run. A rule
//! whose regex does not compile is reported by id and left out; the others still run.

use regex::bytes::{Regex, RegexBuilder};

use crate::config::{AllowlistConfig, Config, RuleConfig};

/// A rule (or allowlist entry) that could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule}: {what} does not compile: {message}")]
pub struct RuleError {
    /// The rule id (or `global allowlist`).
    pub rule: String,
    /// Which part: `regex`, `path`, `allowlist regex`...
    pub what: String,
    /// The regex engine's message (first line).
    pub message: String,
}

/// Compiles a gitleaks (Go RE2) pattern. Go's `\w`, `\d`, `\s`, `\b` are ASCII-only, as they
/// are here with Unicode classes off; patterns that need Unicode fall back to it.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let pattern = from_go(pattern);
    let build = |unicode: bool| {
        RegexBuilder::new(&pattern)
            .unicode(unicode)
            .size_limit(64 << 20)
            .dfa_size_limit(16 << 20)
            .build()
    };
    build(false).or_else(|_| build(true)).map_err(|e| {
        e.to_string()
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("invalid regex")
            .trim()
            .to_string()
    })
}

/// Rewrites the RE2 constructs that Rust's `regex` reads differently: a `{` that does not
/// open a repetition is a literal in RE2 (escaped here), and inside a class `[` is a
/// literal in RE2 but opens a nested class here (escaped, except `[:name:]`), as are the
/// class set operators `&&`, `--`, `~~`.
pub fn from_go(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    let mut class_start = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            out.push(c);
            if let Some(&n) = chars.get(i + 1) {
                out.push(n);
            }
            i += 2;
            continue;
        }
        if in_class {
            match c {
                ']' if i > class_start => in_class = false,
                '[' if chars.get(i + 1) == Some(&':') => {
                    let end = chars[i..].iter().collect::<String>().find(":]");
                    if let Some(e) = end {
                        out.extend(&chars[i..i + e + 2]);
                        i += e + 2;
                        continue;
                    }
                    out.push('\\');
                }
                '[' => out.push('\\'),
                '&' | '-' | '~' if chars.get(i + 1) == Some(&c) => out.push('\\'),
                _ => {}
            }
            out.push(c);
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push(c);
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                // A `]` right after `[` or `[^` is a literal.
                class_start = i + usize::from(chars.get(i) == Some(&']'));
                if chars.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
                continue;
            }
            '{' => {
                let rest: String = chars[i + 1..].iter().take(24).collect();
                let valid = rest.find('}').is_some_and(|e| {
                    let body = &rest[..e];
                    let mut parts = body.splitn(2, ',');
                    let lo = parts.next().unwrap_or("");
                    let hi = parts.next();
                    !lo.is_empty()
                        && lo.bytes().all(|b| b.is_ascii_digit())
                        && hi.is_none_or(|h| h.bytes().all(|b| b.is_ascii_digit()))
                });
                if !valid {
                    out.push('\\');
                }
            }
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod go_tests {
    use super::from_go;

    #[test]
    fn rewrites_re2_literals() {
        assert_eq!(from_go(r"^\$(?:\d+|{\d+})$"), r"^\$(?:\d+|\{\d+})$");
        assert_eq!(from_go(r"a{2,3}b{4}c{5,}"), r"a{2,3}b{4}c{5,}");
        assert_eq!(
            from_go(r"^\{\{[ \t]*[\w ().|]+[ \t]*}}$"),
            r"^\{\{[ \t]*[\w ().|]+[ \t]*}}$"
        );
        assert_eq!(from_go(r"[^]]+]"), r"[^\]]+]");
        assert_eq!(from_go(r"[a[b]"), r"[a\[b]");
        assert_eq!(from_go(r"[[:alpha:]-]"), r"[[:alpha:]-]");
        assert_eq!(from_go(r"[a--b]"), r"[a\--b]");
        assert!(super::compile(r"^\${(?:[A-Z_]+|[a-z_]+)}$").is_ok());
    }
}

/// What an allowlist's regexes are tested against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegexTarget {
    /// The secret (capture group).
    Secret,
    /// The whole regex match.
    Match,
    /// The line holding the match.
    Line,
}

/// A compiled allowlist.
#[derive(Debug, Clone)]
pub struct Allowlist {
    /// All given criteria must hold (`AND`) instead of any (`OR`).
    pub all: bool,
    /// Commit ids (full or prefix).
    pub commits: Vec<String>,
    /// Path regexes.
    pub paths: Vec<Regex>,
    /// Regexes tested against `target`.
    pub regexes: Vec<Regex>,
    /// What `regexes` test.
    pub target: RegexTarget,
    /// Lower-case substrings of the secret.
    pub stopwords: Vec<String>,
    /// Global allowlists only: rule ids it applies to (all when empty).
    pub target_rules: Vec<String>,
}

/// What an allowlist is asked about.
pub struct Candidate<'a> {
    /// The commit, if any.
    pub commit: Option<&'a str>,
    /// The file path.
    pub path: &'a str,
    /// The secret.
    pub secret: &'a [u8],
    /// The whole match.
    pub matched: &'a [u8],
    /// The line(s) holding the match.
    pub line: &'a [u8],
}

impl Allowlist {
    fn compile(cfg: &AllowlistConfig, owner: &str, errors: &mut Vec<RuleError>) -> Allowlist {
        let mut comp = |pats: &[String], what: &str| -> Vec<Regex> {
            pats.iter()
                .filter_map(|p| match compile(p) {
                    Ok(r) => Some(r),
                    Err(message) => {
                        errors.push(RuleError {
                            rule: owner.to_string(),
                            what: what.to_string(),
                            message,
                        });
                        None
                    }
                })
                .collect()
        };
        let paths = comp(&cfg.paths, "allowlist path");
        let regexes = comp(&cfg.regexes, "allowlist regex");
        Allowlist {
            all: cfg
                .condition
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case("and")),
            commits: cfg.commits.iter().map(|c| c.to_ascii_lowercase()).collect(),
            paths,
            regexes,
            target: match cfg.regex_target.as_deref() {
                Some("match") => RegexTarget::Match,
                Some("line") => RegexTarget::Line,
                _ => RegexTarget::Secret,
            },
            stopwords: cfg.stopwords.iter().map(|s| s.to_lowercase()).collect(),
            target_rules: cfg.target_rules.clone(),
        }
    }

    /// Whether this allowlist applies to rule `id`.
    pub fn applies_to(&self, id: &str) -> bool {
        self.target_rules.is_empty() || self.target_rules.iter().any(|r| r == id)
    }

    /// Whether the path alone makes this allowlist allow every finding in the file.
    pub fn allows_path(&self, path: &str) -> bool {
        let path_hit =
            !self.paths.is_empty() && self.paths.iter().any(|r| r.is_match(path.as_bytes()));
        if self.all {
            path_hit
                && self.commits.is_empty()
                && self.regexes.is_empty()
                && self.stopwords.is_empty()
        } else {
            path_hit
        }
    }

    /// Whether this allowlist allows the candidate finding.
    pub fn allows(&self, c: &Candidate<'_>) -> bool {
        let commit = (!self.commits.is_empty()).then(|| {
            c.commit.is_some_and(|id| {
                let id = id.to_ascii_lowercase();
                self.commits.iter().any(|a| id.starts_with(a.as_str()))
            })
        });
        let path = (!self.paths.is_empty())
            .then(|| self.paths.iter().any(|r| r.is_match(c.path.as_bytes())));
        let regex = (!self.regexes.is_empty()).then(|| {
            let target = match self.target {
                RegexTarget::Secret => c.secret,
                RegexTarget::Match => c.matched,
                RegexTarget::Line => c.line,
            };
            self.regexes.iter().any(|r| r.is_match(target))
        });
        let stop = (!self.stopwords.is_empty()).then(|| {
            let secret = String::from_utf8_lossy(c.secret).to_lowercase();
            self.stopwords.iter().any(|s| secret.contains(s.as_str()))
        });
        let checks = [commit, path, regex, stop];
        let mut given = checks.iter().flatten().peekable();
        if given.peek().is_none() {
            return false;
        }
        if self.all {
            given.all(|&b| b)
        } else {
            given.any(|&b| b)
        }
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique id.
    pub id: String,
    /// What it finds.
    pub description: String,
    /// The content regex (None: a path-only rule, the file's presence is the finding).
    pub regex: Option<Regex>,
    /// Capture group of the secret (0: first non-empty group, else the whole match).
    pub secret_group: usize,
    /// Minimum entropy of the secret.
    pub entropy: Option<f64>,
    /// Path restriction.
    pub path: Option<Regex>,
    /// Lower-case keywords.
    pub keywords: Vec<String>,
    /// Rule allowlists.
    pub allowlists: Vec<Allowlist>,
    /// Examples that must be found (from the rule file).
    pub tp: Vec<String>,
    /// Examples that must not be found.
    pub fp: Vec<String>,
}

/// All compiled rules and global allowlists.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// The rules that compiled.
    pub rules: Vec<Rule>,
    /// Global allowlists.
    pub allowlists: Vec<Allowlist>,
    /// What did not compile.
    pub errors: Vec<RuleError>,
}

impl RuleSet {
    /// Compiles a configuration. Broken rules land in `errors`; the rest are kept.
    pub fn compile(cfg: &Config) -> RuleSet {
        let mut errors = Vec::new();
        let mut allowlists: Vec<Allowlist> = cfg
            .allowlist
            .iter()
            .chain(cfg.allowlists.iter())
            .map(|a| Allowlist::compile(a, "global allowlist", &mut errors))
            .collect();
        allowlists.retain(|a| {
            !(a.paths.is_empty()
                && a.regexes.is_empty()
                && a.commits.is_empty()
                && a.stopwords.is_empty())
        });
        let rules = cfg
            .rules
            .iter()
            .filter_map(|r| Self::compile_rule(r, &mut errors))
            .collect();
        RuleSet {
            rules,
            allowlists,
            errors,
        }
    }

    fn compile_rule(r: &RuleConfig, errors: &mut Vec<RuleError>) -> Option<Rule> {
        let mut err = |what: &str, message: String| {
            errors.push(RuleError {
                rule: r.id.clone(),
                what: what.to_string(),
                message,
            })
        };
        let regex = match r.regex.as_deref().filter(|s| !s.is_empty()) {
            Some(p) => match compile(p) {
                Ok(re) => Some(re),
                Err(m) => {
                    err("regex", m);
                    return None;
                }
            },
            None => None,
        };
        let path = match r.path.as_deref().filter(|s| !s.is_empty()) {
            Some(p) => match compile(p) {
                Ok(re) => Some(re),
                Err(m) => {
                    err("path", m);
                    return None;
                }
            },
            None => None,
        };
        if regex.is_none() && path.is_none() {
            err("regex", "the rule has neither regex nor path".to_string());
            return None;
        }
        let mut allowlists = Vec::new();
        for a in r.allowlist.iter().chain(r.allowlists.iter()) {
            allowlists.push(Allowlist::compile(a, &r.id, errors));
        }
        Some(Rule {
            id: r.id.clone(),
            description: r.description.clone(),
            regex,
            secret_group: r.secret_group.unwrap_or(0),
            entropy: r.entropy.filter(|e| *e > 0.0),
            path,
            keywords: r
                .keywords
                .iter()
                .map(|k| k.to_lowercase())
                .filter(|k| !k.is_empty())
                .collect(),
            allowlists,
            tp: r.tp.clone(),
            fp: r.fp.clone(),
        })
    }
}
