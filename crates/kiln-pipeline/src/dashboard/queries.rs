//! The dashboard's own read queries over the ledger's tables, in portable SQL (the same
//! text on SQLite and PostgreSQL): run summaries without their stages, the runs that built
//! each image, what succeeded runs attached to an image (signatures, attestations, SBOM
//! formats, from the stage outputs), findings and packages counted per image, and the
//! per-image scan counts in force at the start of the chart's window.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::Row;
use sqlx::any::AnyRow;

pub use crate::ledger::SEVERITIES;
use crate::ledger::{Ledger, LedgerError};

/// Finding counts by severity, in the order of [`SEVERITIES`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts(pub [i64; 5]);

impl Counts {
    /// Adds `n` findings of `severity` (an unrecognised severity counts as `unknown`).
    pub fn add(&mut self, severity: &str, n: i64) {
        let i = SEVERITIES
            .iter()
            .position(|s| s.eq_ignore_ascii_case(severity))
            .unwrap_or(SEVERITIES.len() - 1);
        self.0[i] += n;
    }

    /// All findings.
    pub fn total(&self) -> i64 {
        self.0.iter().sum()
    }

    /// `self + other`, severity by severity.
    pub fn plus(&self, other: &Counts) -> Counts {
        let mut out = *self;
        for (a, b) in out.0.iter_mut().zip(other.0) {
            *a += b;
        }
        out
    }
}

/// A run without its stages, for the runs table.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub id: String,
    pub repository: String,
    pub commit: Option<String>,
    pub status: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub image: Option<String>,
    pub digest: Option<String>,
    pub failed_stage: Option<String>,
    pub reason: Option<String>,
}

fn get<T>(row: &AnyRow, col: &str, op: &'static str) -> Result<T, LedgerError>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get::<T, _>(col).map_err(LedgerError::query(op))
}

/// The newest `limit` runs, newest first.
pub async fn run_summaries(ledger: &Ledger, limit: i64) -> Result<Vec<RunSummary>, LedgerError> {
    const OP: &str = "dashboard runs";
    let rows = sqlx::query(
        "SELECT id, repository, commit_sha, status, started_at, finished_at, image, \
         image_digest, failed_stage, reason FROM kiln_runs \
         ORDER BY started_at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(ledger.pool())
    .await
    .map_err(LedgerError::query(OP))?;
    rows.iter()
        .map(|r| {
            Ok(RunSummary {
                id: get(r, "id", OP)?,
                repository: get(r, "repository", OP)?,
                commit: get(r, "commit_sha", OP)?,
                status: get(r, "status", OP)?,
                started_at: get(r, "started_at", OP)?,
                finished_at: get(r, "finished_at", OP)?,
                image: get(r, "image", OP)?,
                digest: get(r, "image_digest", OP)?,
                failed_stage: get(r, "failed_stage", OP)?,
                reason: get(r, "reason", OP)?,
            })
        })
        .collect()
}

/// A run that produced an image.
#[derive(Debug, Clone)]
pub struct ImageRun {
    pub digest: String,
    pub image: Option<String>,
    pub run_id: String,
    pub status: String,
    pub started_at: i64,
}

/// The runs that produced an image (only `digest`'s when given), newest first.
pub async fn image_runs(
    ledger: &Ledger,
    digest: Option<&str>,
) -> Result<Vec<ImageRun>, LedgerError> {
    const OP: &str = "dashboard image runs";
    let base = "SELECT image_digest, image, id, status, started_at FROM kiln_runs \
                WHERE image_digest IS NOT NULL";
    let order = "ORDER BY started_at DESC, id DESC LIMIT 10000";
    let rows = match digest {
        Some(d) => {
            sqlx::query(&format!("{base} AND image_digest = $1 {order}"))
                .bind(d.to_string())
                .fetch_all(ledger.pool())
                .await
        }
        None => {
            sqlx::query(&format!("{base} {order}"))
                .fetch_all(ledger.pool())
                .await
        }
    }
    .map_err(LedgerError::query(OP))?;
    rows.iter()
        .map(|r| {
            Ok(ImageRun {
                digest: get(r, "image_digest", OP)?,
                image: get(r, "image", OP)?,
                run_id: get(r, "id", OP)?,
                status: get(r, "status", OP)?,
                started_at: get(r, "started_at", OP)?,
            })
        })
        .collect()
}

/// A signature a run made (from its `sign` stage's outputs).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Signature {
    /// `cosign` or `notation`.
    pub format: String,
    /// The signature manifest's digest.
    pub manifest: String,
    /// The cosign tag, when stored under one.
    pub tag: Option<String>,
}

/// What the succeeded runs of an image attached to it.
#[derive(Debug, Clone, Default)]
pub struct Attached {
    pub signatures: BTreeSet<Signature>,
    /// Predicate type URIs.
    pub attestations: BTreeSet<String>,
    /// SBOM format names (`spdx-json`, `cyclonedx-json`).
    pub sbom_formats: BTreeSet<String>,
}

impl Attached {
    /// Adds what the outputs of one passed stage say (unexpected shapes are ignored).
    fn add(&mut self, stage: &str, outputs: &serde_json::Value) {
        let strings = |key: &str| -> Vec<String> {
            outputs[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        match stage {
            "sign" => {
                for s in outputs["signatures"].as_array().into_iter().flatten() {
                    if let (Some(format), Some(manifest)) =
                        (s["format"].as_str(), s["manifest"].as_str())
                    {
                        self.signatures.insert(Signature {
                            format: format.to_string(),
                            manifest: manifest.to_string(),
                            tag: s["tag"].as_str().map(str::to_string),
                        });
                    }
                }
            }
            "attest" => self.attestations.extend(strings("predicate_types")),
            "sbom" => self.sbom_formats.extend(strings("formats")),
            _ => {}
        }
    }
}

/// By image digest (only `digest` when given): what its succeeded runs attached.
pub async fn attached(
    ledger: &Ledger,
    digest: Option<&str>,
) -> Result<BTreeMap<String, Attached>, LedgerError> {
    const OP: &str = "dashboard attachments";
    let base = "SELECT r.image_digest, s.name, s.outputs FROM kiln_stages s \
                JOIN kiln_runs r ON r.id = s.run_id \
                WHERE r.status = 'succeeded' AND r.image_digest IS NOT NULL \
                AND s.status = 'passed' AND s.name IN ('sign', 'attest', 'sbom')";
    let rows = match digest {
        Some(d) => {
            sqlx::query(&format!("{base} AND r.image_digest = $1"))
                .bind(d.to_string())
                .fetch_all(ledger.pool())
                .await
        }
        None => sqlx::query(base).fetch_all(ledger.pool()).await,
    }
    .map_err(LedgerError::query(OP))?;
    let mut out: BTreeMap<String, Attached> = BTreeMap::new();
    for r in &rows {
        let digest: String = get(r, "image_digest", OP)?;
        let name: String = get(r, "name", OP)?;
        let outputs: String = get(r, "outputs", OP)?;
        let Ok(outputs) = serde_json::from_str::<serde_json::Value>(&outputs) else {
            continue;
        };
        out.entry(digest).or_default().add(&name, &outputs);
    }
    Ok(out)
}

/// Finding counts by severity per image digest (only `digest`'s when given).
pub async fn finding_counts(
    ledger: &Ledger,
    digest: Option<&str>,
) -> Result<BTreeMap<String, Counts>, LedgerError> {
    const OP: &str = "dashboard finding counts";
    let rows = match digest {
        Some(d) => {
            sqlx::query(
                "SELECT image_digest, severity, COUNT(*) AS n FROM kiln_findings \
             WHERE image_digest = $1 GROUP BY image_digest, severity",
            )
            .bind(d.to_string())
            .fetch_all(ledger.pool())
            .await
        }
        None => {
            sqlx::query(
                "SELECT image_digest, severity, COUNT(*) AS n FROM kiln_findings \
             GROUP BY image_digest, severity",
            )
            .fetch_all(ledger.pool())
            .await
        }
    }
    .map_err(LedgerError::query(OP))?;
    let mut out: BTreeMap<String, Counts> = BTreeMap::new();
    for r in &rows {
        let digest: String = get(r, "image_digest", OP)?;
        let severity: String = get(r, "severity", OP)?;
        let n: i64 = get(r, "n", OP)?;
        out.entry(digest).or_default().add(&severity, n);
    }
    Ok(out)
}

/// The number of packages recorded per image digest.
pub async fn package_counts(ledger: &Ledger) -> Result<BTreeMap<String, i64>, LedgerError> {
    const OP: &str = "dashboard package counts";
    let rows =
        sqlx::query("SELECT image_digest, COUNT(*) AS n FROM kiln_packages GROUP BY image_digest")
            .fetch_all(ledger.pool())
            .await
            .map_err(LedgerError::query(OP))?;
    rows.iter()
        .map(|r| Ok((get(r, "image_digest", OP)?, get(r, "n", OP)?)))
        .collect()
}

/// Every image digest the ledger knows outside runs (packages, findings, scans,
/// admissions).
pub async fn other_digests(ledger: &Ledger) -> Result<BTreeSet<String>, LedgerError> {
    const OP: &str = "dashboard image digests";
    let rows = sqlx::query(
        "SELECT image_digest FROM kiln_packages UNION SELECT image_digest FROM kiln_findings \
         UNION SELECT image_digest FROM kiln_scans UNION SELECT image_digest FROM kiln_admissions",
    )
    .fetch_all(ledger.pool())
    .await
    .map_err(LedgerError::query(OP))?;
    rows.iter().map(|r| get(r, "image_digest", OP)).collect()
}

/// For each image scanned before `before_ms`, the counts of its latest such scan: the
/// state the chart starts from.
pub async fn scan_baseline(
    ledger: &Ledger,
    before_ms: i64,
) -> Result<BTreeMap<String, Counts>, LedgerError> {
    const OP: &str = "dashboard scan baseline";
    let rows = sqlx::query(
        "SELECT s.image_digest, s.critical, s.high, s.medium, s.low, s.unknown \
         FROM kiln_scans s WHERE s.scanned_at < $1 AND s.scanned_at = \
         (SELECT MAX(t.scanned_at) FROM kiln_scans t \
          WHERE t.image_digest = s.image_digest AND t.scanned_at < $1) \
         ORDER BY s.image_digest, s.id",
    )
    .bind(before_ms)
    .fetch_all(ledger.pool())
    .await
    .map_err(LedgerError::query(OP))?;
    let mut out = BTreeMap::new();
    for r in &rows {
        let mut c = Counts::default();
        for (i, s) in SEVERITIES.iter().enumerate() {
            c.0[i] = get(r, s, OP)?;
        }
        // Two scans of one image in the same millisecond: the last (by id) stands.
        out.insert(get(r, "image_digest", OP)?, c);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_add_up_by_severity() {
        let mut c = Counts::default();
        c.add("critical", 2);
        c.add("HIGH", 1);
        c.add("negligible", 4);
        assert_eq!(c.0, [2, 1, 0, 0, 4]);
        assert_eq!(c.total(), 7);
        assert_eq!(c.plus(&c).0, [4, 2, 0, 0, 8]);
    }

    #[test]
    fn attachments_come_from_stage_outputs() {
        let mut a = Attached::default();
        a.add(
            "sign",
            &json!({"signatures": [
                {"format": "cosign", "manifest": "sha256:aa", "tag": "sha256-bb.sig"},
                {"format": "notation", "manifest": "sha256:cc"},
                {"format": 3}
            ]}),
        );
        a.add(
            "attest",
            &json!({"predicate_types": ["https://slsa.dev/provenance/v1", 7]}),
        );
        a.add("sbom", &json!({"packages": 3, "formats": ["spdx-json"]}));
        a.add("sbom", &json!("not an object"));
        a.add("build", &json!({"formats": ["ignored"]}));
        assert_eq!(a.signatures.len(), 2);
        assert_eq!(
            a.attestations.iter().collect::<Vec<_>>(),
            ["https://slsa.dev/provenance/v1"]
        );
        assert_eq!(a.sbom_formats.iter().collect::<Vec<_>>(), ["spdx-json"]);
    }
}
