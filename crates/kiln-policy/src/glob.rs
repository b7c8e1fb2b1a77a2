//! Glob lists for image and namespace matching, compiled while the policy is parsed.
//! `*` matches any run of characters including `/`, as Kyverno's wildcards do.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

/// A list of globs with its compiled matcher.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct GlobList {
    patterns: Vec<String>,
    set: GlobSet,
}

impl GlobList {
    /// Compiles `patterns`; the error names the bad pattern.
    pub fn new(patterns: Vec<String>) -> Result<GlobList, String> {
        let mut builder = GlobSetBuilder::new();
        for p in &patterns {
            let glob = GlobBuilder::new(p)
                .literal_separator(false)
                .build()
                .map_err(|e| format!("invalid glob {p:?}: {e}"))?;
            builder.add(glob);
        }
        let set = builder
            .build()
            .map_err(|e| format!("invalid glob list: {e}"))?;
        Ok(GlobList { patterns, set })
    }

    /// True when no pattern is listed.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// True when any pattern matches `value`.
    pub fn matches(&self, value: &str) -> bool {
        self.set.is_match(value)
    }

    /// The patterns as written.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

impl TryFrom<Vec<String>> for GlobList {
    type Error = String;
    fn try_from(v: Vec<String>) -> Result<Self, String> {
        GlobList::new(v)
    }
}

impl From<GlobList> for Vec<String> {
    fn from(g: GlobList) -> Vec<String> {
        g.patterns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_crosses_slashes_and_question_mark_is_one_char() {
        let g = GlobList::new(vec![
            "ghcr.io/acme/*".into(),
            "docker.io/library/ng?nx".into(),
        ])
        .unwrap();
        assert!(g.matches("ghcr.io/acme/app"));
        assert!(g.matches("ghcr.io/acme/team/app"));
        assert!(!g.matches("ghcr.io/other/app"));
        assert!(g.matches("docker.io/library/nginx"));
        assert!(!g.matches("docker.io/library/nginxx"));
    }

    #[test]
    fn bad_glob_is_named() {
        let e = GlobList::new(vec!["a/[b".into()]).unwrap_err();
        assert!(e.contains("a/[b"), "{e}");
    }
}
