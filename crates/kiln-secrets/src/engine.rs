//! The matching engine: one Aho-Corasick automaton over every rule's keywords picks the
//! rules worth running on a fragment; only their regexes run, on raw bytes. Then the
//! secret is checked against entropy, stop-words, allowlists and inline `kiln:allow` /
//! `gitleaks:allow` comments.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use crate::entropy::shannon;
use crate::finding::{Finding, Secret};
use crate::rules::{Candidate, Rule, RuleSet};
use crate::skip::SkipPolicy;

/// The text an inline comment uses to accept a line.
const INLINE_ALLOW: [&[u8]; 2] = [b"kiln:allow", b"gitleaks:allow"];

/// A piece of content to scan.
#[derive(Debug, Clone, Copy)]
pub struct Fragment<'a> {
    /// The path (`/`-separated), used by path rules and allowlists.
    pub path: &'a str,
    /// The bytes.
    pub data: &'a [u8],
    /// The commit, if any, for commit allowlists.
    pub commit: Option<&'a str>,
}

/// A compiled rule set with its keyword automaton.
pub struct Scanner {
    rules: RuleSet,
    keywords: Option<AhoCorasick>,
    /// For each keyword pattern, the rules that list it.
    keyword_rules: Vec<Vec<usize>>,
    /// Rules with a regex and no keyword: always run.
    always: Vec<usize>,
    /// Rules with a path and no regex.
    path_only: Vec<usize>,
    /// Per rule: whether its regex can span lines (its windows reach further after a hit).
    multiline: Vec<bool>,
    /// What to skip.
    pub skip: SkipPolicy,
}

impl Scanner {
    /// Builds the scanner.
    pub fn new(rules: RuleSet, skip: SkipPolicy) -> Scanner {
        let mut patterns: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        let mut path_only = Vec::new();
        for (i, r) in rules.rules.iter().enumerate() {
            if r.regex.is_none() {
                path_only.push(i);
                continue;
            }
            if r.keywords.is_empty() {
                always.push(i);
            }
            for k in &r.keywords {
                match patterns.iter().position(|p| p == k) {
                    Some(p) => keyword_rules[p].push(i),
                    None => {
                        patterns.push(k.clone());
                        keyword_rules.push(vec![i]);
                    }
                }
            }
        }
        let keywords = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .or_else(|_| {
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(&patterns)
            })
            .ok();
        let multiline = rules
            .rules
            .iter()
            .map(|r| r.regex.as_ref().is_some_and(|re| multiline(re.as_str())))
            .collect();
        Scanner {
            rules,
            keywords,
            keyword_rules,
            always,
            path_only,
            multiline,
            skip,
        }
    }

    /// The rules.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Whether a global allowlist excludes the whole path.
    pub fn path_allowed(&self, path: &str) -> bool {
        self.rules
            .allowlists
            .iter()
            .any(|a| a.target_rules.is_empty() && a.allows_path(path))
    }

    /// Findings of path-only rules (a key store's presence is the finding).
    pub fn scan_path(&self, path: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        if self.path_allowed(path) {
            return out;
        }
        for &i in &self.path_only {
            let r = &self.rules.rules[i];
            if r.path.as_ref().is_some_and(|p| p.is_match(path.as_bytes()))
                && !r.allowlists.iter().any(|a| a.allows_path(path))
            {
                out.push(Finding {
                    rule_id: r.id.clone(),
                    description: r.description.clone(),
                    path: path.to_string(),
                    line: 0,
                    column: 0,
                    end_line: 0,
                    end_column: 0,
                    secret: Secret::default(),
                    entropy: 0.0,
                    commit: None,
                    layer: None,
                    deleted: false,
                });
            }
        }
        out
    }

    /// Which rules' regexes must run on `data`, and where: for a rule with keywords, the
    /// windows around its keywords' occurrences (whole lines near the hit, merged when they
    /// overlap); for a rule without keywords, all of `data`.
    fn candidates(&self, data: &[u8]) -> Vec<(usize, Vec<(usize, usize)>)> {
        let n = self.rules.rules.len();
        let mut windows: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
        for &i in &self.always {
            windows[i].push((0, data.len()));
        }
        if let Some(ac) = &self.keywords {
            for m in ac.find_overlapping_iter(data) {
                // The two window shapes around this hit, each computed once for all the
                // keyword's rules.
                let mut single = None;
                let mut multi = None;
                for &r in &self.keyword_rules[m.pattern().as_usize()] {
                    let w = &mut windows[r];
                    if w.last().is_some_and(|&(_, e)| e >= data.len()) {
                        continue;
                    }
                    let (start, end) = if self.multiline[r] {
                        *multi.get_or_insert_with(|| {
                            (
                                window_start(data, m.start(), REACH_BEFORE),
                                window_end(data, m.end(), MULTILINE_REACH),
                            )
                        })
                    } else {
                        *single.get_or_insert_with(|| {
                            (
                                window_start(data, m.start(), REACH_BEFORE),
                                window_end(data, m.end(), REACH_AFTER),
                            )
                        })
                    };
                    match w.last_mut() {
                        Some(last) if start <= last.1 => {
                            last.0 = last.0.min(start);
                            last.1 = last.1.max(end);
                        }
                        _ => w.push((start, end)),
                    }
                }
            }
        }
        windows
            .into_iter()
            .enumerate()
            .filter(|(_, w)| !w.is_empty())
            .collect()
    }

    /// Scans content (skip checks are the caller's: see [`SkipPolicy`]). Findings come in
    /// order of position; `commit` and `layer` are left for the source to fill.
    pub fn scan(&self, frag: &Fragment<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        if self.path_allowed(frag.path) {
            return out;
        }
        let mut lines = LineIndex::new(frag.data);
        for (i, windows) in self.candidates(frag.data) {
            let rule = &self.rules.rules[i];
            if let Some(p) = &rule.path
                && !p.is_match(frag.path.as_bytes())
            {
                continue;
            }
            for (start, end) in windows {
                self.run_rule(rule, frag, start, end, &mut lines, &mut out);
            }
        }
        out.sort_by_key(|f| (f.line, f.column));
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn run_rule(
        &self,
        rule: &Rule,
        frag: &Fragment<'_>,
        start: usize,
        end: usize,
        lines: &mut LineIndex<'_>,
        out: &mut Vec<Finding>,
    ) {
        let Some(re) = &rule.regex else { return };
        let data = frag.data;
        for caps in re.captures_iter(&data[start..end]) {
            let Some(whole) = caps.get(0).map(|m| Span::new(m, start)) else {
                continue;
            };
            let group = if rule.secret_group > 0 {
                caps.get(rule.secret_group)
            } else {
                (1..caps.len())
                    .filter_map(|g| caps.get(g))
                    .find(|m| !m.is_empty())
            };
            let secret_m = group.map_or(whole, |m| Span::new(m, start));
            let secret = &data[secret_m.start()..secret_m.end()];
            if secret.is_empty() {
                continue;
            }
            let entropy = shannon(secret);
            if let Some(min) = rule.entropy {
                if entropy < min {
                    continue;
                }
                if rule.id.starts_with("generic") && !secret.iter().any(u8::is_ascii_digit) {
                    continue;
                }
            }
            let line_start = memchr::memrchr(b'\n', &data[..whole.start()]).map_or(0, |p| p + 1);
            let line_end =
                memchr::memchr(b'\n', &data[whole.end()..]).map_or(data.len(), |p| whole.end() + p);
            let line = &data[line_start..line_end];
            if INLINE_ALLOW
                .iter()
                .any(|m| memchr::memmem::find(line, m).is_some())
            {
                continue;
            }
            let cand = Candidate {
                commit: frag.commit,
                path: frag.path,
                secret,
                matched: &data[whole.start()..whole.end()],
                line,
            };
            if rule.allowlists.iter().any(|a| a.allows(&cand))
                || self
                    .rules
                    .allowlists
                    .iter()
                    .any(|a| a.applies_to(&rule.id) && a.allows(&cand))
            {
                continue;
            }
            let (l, c) = lines.position(secret_m.start());
            let (el, ec) = lines.position(secret_m.end());
            out.push(Finding {
                rule_id: rule.id.clone(),
                description: rule.description.clone(),
                path: frag.path.to_string(),
                line: l,
                column: c,
                end_line: el,
                end_column: ec,
                secret: Secret::new(String::from_utf8_lossy(secret)),
                entropy: (entropy * 1000.0).round() / 1000.0,
                commit: None,
                layer: None,
                deleted: false,
            });
        }
    }
}

/// A match's byte range in the whole fragment.
#[derive(Clone, Copy)]
struct Span(usize, usize);

impl Span {
    fn new(m: regex::bytes::Match<'_>, offset: usize) -> Span {
        Span(m.start() + offset, m.end() + offset)
    }
    fn start(self) -> usize {
        self.0
    }
    fn end(self) -> usize {
        self.1
    }
}

/// Start of a regex window: `reach` bytes before `at`, moved forward to a line start
/// when one is in that range.
fn window_start(data: &[u8], at: usize, reach: usize) -> usize {
    let from = at.saturating_sub(reach);
    memchr::memrchr(b'\n', &data[from..at]).map_or(from, |p| from + p + 1)
}

/// End of a regex window: `reach` bytes after `at`, cut at the first line end in range.
fn window_end(data: &[u8], at: usize, reach: usize) -> usize {
    let to = at.saturating_add(reach).min(data.len());
    if reach >= MULTILINE_REACH {
        return to;
    }
    memchr::memchr(b'\n', &data[at..to]).map_or(to, |p| at + p)
}

/// How far before a keyword hit a rule's match may start.
const REACH_BEFORE: usize = 512;
/// How far after a keyword hit a single-line rule's match may end.
const REACH_AFTER: usize = 1024;
/// How far after a keyword hit a multi-line rule's match may end.
const MULTILINE_REACH: usize = 24 << 10;

/// Whether a pattern can match across lines (then its windows span lines).
fn multiline(pattern: &str) -> bool {
    pattern.contains("[\\s\\S")
        || pattern.contains("(?s")
        || pattern.contains("\\n")
        || pattern.contains("(?m")
}

/// Byte offset to (line, column), both 1-based, counting forward from the last query
/// when it can.
struct LineIndex<'a> {
    data: &'a [u8],
    pos: usize,
    line: usize,
    line_start: usize,
}

impl<'a> LineIndex<'a> {
    fn new(data: &'a [u8]) -> Self {
        LineIndex {
            data,
            pos: 0,
            line: 1,
            line_start: 0,
        }
    }

    fn position(&mut self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.data.len());
        if offset < self.pos {
            *self = LineIndex::new(self.data);
        }
        for p in memchr::memchr_iter(b'\n', &self.data[self.pos..offset]) {
            self.line += 1;
            self.line_start = self.pos + p + 1;
        }
        self.pos = offset;
        (self.line, offset - self.line_start + 1)
    }
}

#[cfg(test)]
mod tests;
