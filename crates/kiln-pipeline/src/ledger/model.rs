//! The records the ledger keeps: a run's inputs ([`NewRun`]), each stage's result
//! ([`StageRecord`]), the run's end ([`RunOutcome`]) and what reading gives back
//! ([`RunRecord`]). Times are Unix milliseconds.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::evidence::EvidenceRef;

/// A run's id: a UUID v7 in its hyphenated lower-case form, so ids sort by start time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    /// A fresh id for a run starting now.
    pub fn new() -> RunId {
        RunId(uuid::Uuid::now_v7().hyphenated().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RunId {
    fn default() -> Self {
        RunId::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for RunId {
    type Err = String;

    /// Accepts a UUID in any form `uuid` parses and keeps its hyphenated lower-case form.
    fn from_str(s: &str) -> Result<RunId, String> {
        uuid::Uuid::parse_str(s)
            .map(|u| RunId(u.hyphenated().to_string()))
            .map_err(|e| format!("{s:?} is not a run id (a UUID): {e}"))
    }
}

impl AsRef<str> for RunId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The inputs of a run, recorded when it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRun {
    /// The repository built (a path or URL).
    pub repository: String,
    /// The git commit built, when the tree is a git work tree.
    pub commit: Option<String>,
    /// Whether the work tree had uncommitted changes.
    pub tree_dirty: bool,
    /// `sha256:…` of the `kiln.yaml` used.
    pub config_digest: String,
    /// The base image reference with its digest, when known.
    pub base_image: Option<String>,
    /// Unix milliseconds.
    pub started_at: i64,
}

/// How a stage ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    /// The gate passed.
    Passed,
    /// The gate stopped the run.
    Failed,
    /// Not run (disabled, or an earlier gate failed).
    Skipped,
}

impl StageStatus {
    /// The name stored in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            StageStatus::Passed => "passed",
            StageStatus::Failed => "failed",
            StageStatus::Skipped => "skipped",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<StageStatus> {
        Some(match s {
            "passed" => StageStatus::Passed,
            "failed" => StageStatus::Failed,
            "skipped" => StageStatus::Skipped,
            _ => return None,
        })
    }
}

impl fmt::Display for StageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stage of a run, as recorded when it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    /// The stage's name (`secrets`, `build`, `sbom`, …).
    pub name: String,
    /// How it ended.
    pub status: StageStatus,
    /// Unix milliseconds.
    pub started_at: i64,
    /// Unix milliseconds.
    pub finished_at: i64,
    /// One line for people.
    pub summary: String,
    /// The stage's log (a failing build's output is kept here).
    pub log: String,
    /// What the stage produced, as data (digests, counts, evidence names).
    pub outputs: serde_json::Value,
}

/// The state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Started and not finished (or interrupted, until the next [`Ledger::open`]
    /// caller runs [`Ledger::fail_interrupted`]).
    ///
    /// [`Ledger::open`]: crate::ledger::Ledger::open
    /// [`Ledger::fail_interrupted`]: crate::ledger::Ledger::fail_interrupted
    Running,
    /// Every gate passed.
    Succeeded,
    /// A gate stopped the run, or it was interrupted.
    Failed,
}

impl RunStatus {
    /// The name stored in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "running" => RunStatus::Running,
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            _ => return None,
        })
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOutcome {
    /// [`RunStatus::Succeeded`] or [`RunStatus::Failed`].
    pub status: RunStatus,
    /// The image reference pushed or written.
    pub image: Option<String>,
    /// The image's manifest digest.
    pub digest: Option<String>,
    /// Unix milliseconds.
    pub finished_at: i64,
    /// The stage whose gate stopped the run.
    pub failed_stage: Option<String>,
    /// Why the run failed.
    pub reason: Option<String>,
}

/// A run as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's id.
    pub id: RunId,
    /// The run's inputs.
    #[serde(flatten)]
    pub input: NewRun,
    /// Its state.
    pub status: RunStatus,
    /// Unix milliseconds, once finished.
    pub finished_at: Option<i64>,
    /// The image reference, once known.
    pub image: Option<String>,
    /// The image's manifest digest, once known.
    pub digest: Option<String>,
    /// The stage whose gate stopped the run.
    pub failed_stage: Option<String>,
    /// Why the run failed.
    pub reason: Option<String>,
    /// Its stages, in the order they were recorded.
    pub stages: Vec<StageRecord>,
    /// Its evidence objects, by name.
    pub evidence: Vec<EvidenceRef>,
}

impl RunId {
    /// Wraps text read back from the ledger, which holds only ids made by [`RunId::new`].
    pub(crate) fn from_str_unchecked(id: String) -> RunId {
        RunId(id)
    }
}
