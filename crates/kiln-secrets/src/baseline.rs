//! Baselines: a file of accepted findings' fingerprints, so a team accepts today's
//! findings and fails only on new ones. The file holds no secret: only fingerprints, rule
//! ids and paths.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::finding::Finding;

/// The baseline format's identifier.
pub const FORMAT: &str = "kiln-secrets-baseline/v1";

/// Errors reading a baseline.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// Unreadable file.
    #[error("reading baseline {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not a baseline.
    #[error("baseline {path} is not a Kiln secrets baseline: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// One accepted finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Entry {
    /// The finding's fingerprint.
    pub fingerprint: String,
    /// Its rule (for people reading the file).
    pub rule_id: String,
    /// Its path (for people reading the file).
    pub path: String,
}

/// A baseline file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// Always [`FORMAT`].
    pub format: String,
    /// Accepted findings, sorted.
    pub findings: BTreeSet<Entry>,
}

impl Baseline {
    /// A baseline accepting `findings`.
    pub fn from_findings<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Baseline {
        Baseline {
            format: FORMAT.to_string(),
            findings: findings
                .into_iter()
                .map(|f| Entry {
                    fingerprint: f.fingerprint(),
                    rule_id: f.rule_id.clone(),
                    path: f.path.clone(),
                })
                .collect(),
        }
    }

    /// Reads a baseline file.
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let data = std::fs::read(path).map_err(|source| BaselineError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let b: Baseline = serde_json::from_slice(&data).map_err(|e| BaselineError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if b.format != FORMAT {
            return Err(BaselineError::Parse {
                path: path.to_path_buf(),
                message: format!("format is {:?}, expected {FORMAT:?}", b.format),
            });
        }
        Ok(b)
    }

    /// The file's bytes (pretty JSON, sorted: the same findings give the same bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// Whether a finding is accepted.
    pub fn contains(&self, f: &Finding) -> bool {
        let fp = f.fingerprint();
        self.findings.iter().any(|e| e.fingerprint == fp)
    }
}
