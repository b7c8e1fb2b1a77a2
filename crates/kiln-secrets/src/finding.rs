//! A finding: which rule matched where, the secret (kept in a wrapper that never prints in
//! full), a stable fingerprint, and where in history or in an image it came from.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A secret value. `Debug` and `Display` show it masked; only [`Secret::expose`] reveals it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The full value: only for `--no-redact` output and baselines' hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The value masked but for its first characters (4 at most, fewer for short values).
    pub fn masked(&self) -> String {
        let n = self.0.chars().count();
        let keep = if n >= 16 { 4 } else { n / 4 };
        let head: String = self.0.chars().take(keep).collect();
        format!("{head}*****")
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({})", self.masked())
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

/// The commit that introduced a finding (history scans).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitInfo {
    /// Full commit id.
    pub id: String,
    /// Author name.
    pub author: String,
    /// Author e-mail.
    pub email: String,
    /// Author date, RFC 3339 (UTC).
    pub date: String,
}

/// One finding.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Rule id.
    pub rule_id: String,
    /// Rule description.
    pub description: String,
    /// File path (relative to the scanned root, `/`-separated).
    pub path: String,
    /// 1-based line of the secret's start.
    pub line: usize,
    /// 1-based column (bytes) of the secret's start.
    pub column: usize,
    /// 1-based line of the secret's end.
    pub end_line: usize,
    /// 1-based column just past the secret's end.
    pub end_column: usize,
    /// The secret.
    pub secret: Secret,
    /// Shannon entropy of the secret.
    pub entropy: f64,
    /// The commit that introduced it (history and staged scans).
    pub commit: Option<CommitInfo>,
    /// The image layer digest holding it (image scans).
    pub layer: Option<String>,
    /// Whether the file was deleted by a later layer (image scans).
    pub deleted: bool,
}

impl Finding {
    /// A stable fingerprint: the same secret found by the same rule in the same file gives
    /// the same value whatever its line, commit or scan. Hex of SHA-256 over rule, path
    /// and secret (32 hex digits); it does not reveal the secret.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.rule_id.as_bytes());
        h.update([0]);
        h.update(self.path.as_bytes());
        h.update([0]);
        h.update(self.secret.expose().as_bytes());
        hex::encode(&h.finalize()[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_keeps_at_most_four_chars() {
        let s = Secret::new("AKIAABCDEFGHIJKLMNOP");
        assert_eq!(s.masked(), "AKIA*****");
        assert_eq!(format!("{s:?}"), "Secret(AKIA*****)");
        assert_eq!(Secret::new("abcdefgh").masked(), "ab*****");
        assert_eq!(Secret::new("abc").masked(), "*****");
    }
}
