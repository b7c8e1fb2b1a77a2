//! Continuous re-scanning: every image a succeeded run produced is matched again, from
//! the SBOM that run stored (encrypted) in the evidence store, against the vulnerability
//! database as it is now; each scan is recorded in the ledger (kind `rescan`) and the
//! findings no earlier scan of the image had are reported, with the image's references
//! and where the admission webhook reported it admitted. `kiln rescan`, `kiln db update
//! --rescan` and the server's schedule call [`rescan`]; [`crate::notify`] sends the report.
//!
//! Matching is the vulnerability stage's: kiln-vuln's scan of the SBOM's packages, then
//! the VEX statements of [`RescanOptions::vex`], then every finding not suppressed.

pub mod convert;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_vuln::db::{Database, DbError};
use kiln_vuln::vex::Statement;
use serde::Serialize;

use crate::evidence::EvidenceStore;
use crate::ledger::{
    AdmissionRow, FindingRow, ImageRow, Ledger, LedgerError, NewScan, ScanKind, now_ms,
};

/// The names under which `kiln run` stores SBOMs, in the order the re-scan prefers them.
pub const SBOM_EVIDENCE: [&str; 2] = ["sbom.cdx.json", "sbom.spdx.json"];

/// What a re-scan applies beyond the database.
#[derive(Debug, Clone, Default)]
pub struct RescanOptions {
    /// VEX statements applied to every image's findings (the project's `vuln.vex`).
    pub vex: Vec<Statement>,
    /// Only these image digests (all when empty).
    pub images: Vec<String>,
}

/// What stops a re-scan as a whole (one image's problem is reported in
/// [`RescanReport::skipped`] instead).
#[derive(Debug, thiserror::Error)]
pub enum RescanError {
    /// The vulnerability database cannot be opened.
    #[error(transparent)]
    Database(#[from] DbError),
    /// The ledger cannot be read or written.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A scan task died.
    #[error("re-scan of {image}: {reason}")]
    Task { image: String, reason: String },
}

/// One image re-scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRescan {
    /// The image's manifest digest.
    pub image_digest: String,
    /// The run whose SBOM was matched.
    pub run_id: String,
    /// The ledger's id of this scan.
    pub scan_id: String,
    /// Every reference the runs recorded for the digest.
    pub references: Vec<String>,
    /// Where the admission webhook reported it admitted.
    pub admitted: Vec<AdmissionRow>,
    /// Packages matched.
    pub packages: usize,
    /// Findings (not suppressed by VEX) this scan saw.
    pub findings: usize,
    /// The findings no earlier scan of this image had seen.
    pub new: Vec<FindingRow>,
}

/// An image that was not re-scanned, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedImage {
    /// The image's manifest digest.
    pub image_digest: String,
    /// The run whose SBOM was tried, if any.
    pub run_id: Option<String>,
    /// Why.
    pub reason: String,
    /// True for a failure (an SBOM that does not decrypt or parse), false when the image
    /// simply has no stored SBOM.
    pub error: bool,
}

/// What a re-scan did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RescanReport {
    /// The vulnerability database matched against.
    pub database: String,
    /// When its data was last imported (RFC 3339), when known.
    pub db_built: Option<String>,
    /// When the re-scan started (Unix milliseconds).
    pub started_at: i64,
    /// How many images were matched.
    pub images_scanned: usize,
    /// New findings over every image.
    pub new_findings: usize,
    /// Every image matched, by digest.
    pub images: Vec<ImageRescan>,
    /// Images not matched.
    pub skipped: Vec<SkippedImage>,
}

impl RescanReport {
    /// The images with new findings.
    pub fn with_new(&self) -> impl Iterator<Item = &ImageRescan> {
        self.images.iter().filter(|i| !i.new.is_empty())
    }

    /// Whether some image could not be re-scanned because of an error.
    pub fn has_errors(&self) -> bool {
        self.skipped.iter().any(|s| s.error)
    }
}

/// Re-scans every image in the ledger that has a stored SBOM (of its newest succeeded run
/// that stored one) against the database at `db`, records each scan, and reports.
pub async fn rescan(
    ledger: &Ledger,
    evidence: &EvidenceStore,
    db: &Path,
    opts: &RescanOptions,
) -> Result<RescanReport, RescanError> {
    let started_at = now_ms();
    let database = {
        let path = db.to_path_buf();
        tokio::task::spawn_blocking(move || Database::open(&path))
            .await
            .map_err(|e| RescanError::Task {
                image: "(database)".into(),
                reason: e.to_string(),
            })??
    };
    let status = database.status()?;
    let db_built = status.updated.clone().or(status.data_modified.clone());
    let database = Arc::new(database);
    let vex = Arc::new(opts.vex.clone());

    let mut report = RescanReport {
        database: db.display().to_string(),
        db_built: db_built.clone(),
        started_at,
        images_scanned: 0,
        new_findings: 0,
        images: Vec::new(),
        skipped: Vec::new(),
    };
    for image in ledger.images().await? {
        if !opts.images.is_empty() && !opts.images.contains(&image.image_digest) {
            continue;
        }
        let (run_id, bytes, name) = match stored_sbom(ledger, evidence, &image).await {
            Ok(Some(found)) => found,
            Ok(None) => {
                report.skipped.push(SkippedImage {
                    image_digest: image.image_digest.clone(),
                    run_id: None,
                    reason: "no run stored an SBOM for it".into(),
                    error: false,
                });
                continue;
            }
            Err((run_id, reason)) => {
                report.skipped.push(SkippedImage {
                    image_digest: image.image_digest.clone(),
                    run_id: Some(run_id),
                    reason,
                    error: true,
                });
                continue;
            }
        };
        let what = format!("{name} of run {run_id}");
        let matched = {
            let (database, vex) = (Arc::clone(&database), Arc::clone(&vex));
            tokio::task::spawn_blocking(move || match_sbom(&database, &vex, &bytes, &what))
                .await
                .map_err(|e| RescanError::Task {
                    image: image.image_digest.clone(),
                    reason: e.to_string(),
                })?
        };
        let (packages, findings) = match matched {
            Ok(m) => m,
            Err(Problem::Sbom(reason)) => {
                report.skipped.push(SkippedImage {
                    image_digest: image.image_digest.clone(),
                    run_id: Some(run_id),
                    reason,
                    error: true,
                });
                continue;
            }
            Err(Problem::Database(e)) => return Err(e.into()),
        };
        let found = findings.len();
        let outcome = ledger
            .record_scan(&NewScan {
                image_digest: image.image_digest.clone(),
                run_id: Some(run_id.clone()),
                kind: ScanKind::Rescan,
                db_built: db_built.clone(),
                findings,
            })
            .await?;
        let admitted = ledger.admissions(Some(&image.image_digest)).await?;
        report.images_scanned += 1;
        report.new_findings += outcome.new.len();
        report.images.push(ImageRescan {
            image_digest: image.image_digest,
            run_id,
            scan_id: outcome.scan_id,
            references: image.references,
            admitted,
            packages,
            findings: found,
            new: outcome.new,
        });
    }
    Ok(report)
}

/// Why one image's SBOM could not be matched.
enum Problem {
    /// The SBOM does not parse.
    Sbom(String),
    /// The database failed (fatal for the whole re-scan).
    Database(DbError),
}

/// (run id, SBOM bytes, evidence name) of the newest run of `image` that stored an SBOM;
/// `Ok(None)` when none did; `Err((run, reason))` when it does not decrypt.
async fn stored_sbom(
    ledger: &Ledger,
    evidence: &EvidenceStore,
    image: &ImageRow,
) -> Result<Option<(String, Vec<u8>, &'static str)>, (String, String)> {
    for run in &image.runs {
        let listed = ledger
            .evidence(run)
            .await
            .map_err(|e| (run.clone(), e.to_string()))?;
        let Some(name) = SBOM_EVIDENCE
            .iter()
            .find(|n| listed.iter().any(|e| e.name == **n))
        else {
            continue;
        };
        let bytes = evidence
            .get(run, name)
            .await
            .map_err(|e| (run.clone(), e.to_string()))?;
        return Ok(Some((run.clone(), bytes, name)));
    }
    Ok(None)
}

/// Reads an SBOM and matches it: (packages, findings to record).
fn match_sbom(
    db: &Database,
    vex: &[Statement],
    bytes: &[u8],
    what: &str,
) -> Result<(usize, Vec<crate::ledger::NewFinding>), Problem> {
    let catalog = kiln_sbom::format::read(bytes, what).map_err(|e| Problem::Sbom(e.to_string()))?;
    let mut result = {
        let reader = db.reader().map_err(Problem::Database)?;
        kiln_vuln::scan::scan(&reader, &catalog).map_err(Problem::Database)?
    };
    kiln_vuln::vex::apply(&mut result.findings, vex);
    Ok((
        catalog.packages.len(),
        convert::new_findings(&result.findings),
    ))
}

/// The database path `kiln run` and `kiln rescan` use for a project: `vuln.db` (relative
/// to the project), else `KILN_VULN_DB`, else kiln-vuln's default.
pub fn db_path(project_dir: &Path, configured: Option<&Path>) -> PathBuf {
    if let Some(p) = configured {
        return if p.is_absolute() {
            p.to_path_buf()
        } else {
            project_dir.join(p)
        };
    }
    match std::env::var_os("KILN_VULN_DB").filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => kiln_vuln::db::default_path(),
    }
}
