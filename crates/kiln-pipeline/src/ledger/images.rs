//! What the ledger knows about images beyond single runs (migration 0002): each image's
//! packages (from its SBOM), its vulnerability findings with when they were first and last
//! seen (by runs and re-scans), every scan's counts by severity, and the images the
//! admission webhook reported as admitted. Times are Unix milliseconds; image digests are
//! `sha256:…` manifest digests.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Ledger, LedgerError, now_ms};

/// The severities a finding or scan count can have, most severe first.
pub const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "unknown"];

/// Rows inserted per statement when recording packages.
const PACKAGE_CHUNK: usize = 100;

/// One package of an image, as its SBOM lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PackageRow {
    /// The package's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its ecosystem (`npm`, `PyPI`, `deb`, …).
    pub ecosystem: String,
    /// Its package URL (unique per image).
    pub purl: String,
}

/// A finding of one scan, before the ledger has seen it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFinding {
    /// The advisory id (`GHSA-…`, `CVE-…`, `DSA-…`).
    pub vuln_id: String,
    /// Its other ids.
    pub aliases: Vec<String>,
    /// The affected package's URL.
    pub purl: String,
    /// The affected package's name.
    pub package: String,
    /// The affected package's installed version.
    pub version: String,
    /// `critical`, `high`, `medium`, `low` or `unknown`.
    pub severity: String,
    /// The first version that fixes it, when known.
    pub fixed_version: Option<String>,
}

/// A finding as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRow {
    /// The affected image.
    pub image_digest: String,
    /// The advisory id.
    pub vuln_id: String,
    /// Its other ids.
    pub aliases: Vec<String>,
    /// The affected package's URL.
    pub purl: String,
    /// The affected package's name.
    pub package: String,
    /// The affected package's version.
    pub version: String,
    /// `critical`, `high`, `medium`, `low` or `unknown` (as last seen).
    pub severity: String,
    /// The first version that fixes it, when known (as last seen).
    pub fixed_version: Option<String>,
    /// When a scan first found it.
    pub first_seen: i64,
    /// When a scan last found it.
    pub last_seen: i64,
    /// What found it first: `run:<run id>` or `rescan:<scan id>`.
    pub source: String,
}

/// What started a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanKind {
    /// The vulnerability stage of `kiln run`.
    Run,
    /// A re-scan of a stored SBOM (`kiln rescan`, the server's schedule).
    Rescan,
}

impl ScanKind {
    /// The name stored in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanKind::Run => "run",
            ScanKind::Rescan => "rescan",
        }
    }
}

impl std::fmt::Display for ScanKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scan of one image, with everything it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewScan {
    /// The image scanned.
    pub image_digest: String,
    /// The run whose SBOM was scanned (the run itself for [`ScanKind::Run`]).
    pub run_id: Option<String>,
    /// What started it.
    pub kind: ScanKind,
    /// When the vulnerability database was built (RFC 3339), when known.
    pub db_built: Option<String>,
    /// Every finding (after VEX), duplicates by (id, purl) counted once.
    pub findings: Vec<NewFinding>,
}

/// A scan as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRow {
    /// The scan's id (a UUID v7).
    pub id: String,
    /// The image scanned.
    pub image_digest: String,
    /// The run whose SBOM was scanned.
    pub run_id: Option<String>,
    /// `run` or `rescan`.
    pub kind: String,
    /// When.
    pub scanned_at: i64,
    /// When the vulnerability database was built, when known.
    pub db_built: Option<String>,
    /// Findings by severity.
    pub critical: i64,
    /// Findings by severity.
    pub high: i64,
    /// Findings by severity.
    pub medium: i64,
    /// Findings by severity.
    pub low: i64,
    /// Findings by severity.
    pub unknown: i64,
    /// Findings this scan saw first.
    pub new_findings: i64,
}

/// What recording a scan did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanOutcome {
    /// The new scan's id.
    pub scan_id: String,
    /// The findings no earlier scan of this image had seen.
    pub new: Vec<FindingRow>,
}

/// An image the admission webhook reported as admitted, per image reference and namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmissionRow {
    /// The admitted image's digest.
    pub image_digest: String,
    /// The reference the workload named.
    pub image: String,
    /// The workload's namespace.
    pub namespace: String,
    /// First report.
    pub first_admitted: i64,
    /// Latest report.
    pub last_admitted: i64,
    /// How many reports.
    pub admissions: i64,
}

/// An image digest some succeeded run produced, with its newest such run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRow {
    /// The image's manifest digest.
    pub image_digest: String,
    /// The newest succeeded run that produced it.
    pub latest_run: String,
    /// When that run finished.
    pub finished_at: Option<i64>,
    /// Every succeeded run that produced it, newest first.
    pub runs: Vec<String>,
    /// Every image reference the succeeded runs recorded for it, sorted.
    pub references: Vec<String>,
}

impl Ledger {
    /// Records the packages of `image_digest` as run `run_id` catalogued them, replacing
    /// any earlier list for that image. Packages with the same purl are recorded once.
    pub async fn record_packages(
        &self,
        run_id: &str,
        image_digest: &str,
        packages: &[PackageRow],
    ) -> Result<(), LedgerError> {
        const OP: &str = "record_packages";
        check_digest(OP, image_digest)?;
        let mut unique: BTreeMap<&str, &PackageRow> = BTreeMap::new();
        for p in packages {
            if p.purl.is_empty() || p.name.is_empty() {
                return Err(LedgerError::Invalid {
                    operation: OP,
                    reason: format!(
                        "package {:?} {:?} has no name or package URL",
                        p.name, p.version
                    ),
                });
            }
            unique.entry(p.purl.as_str()).or_insert(p);
        }
        let rows: Vec<&PackageRow> = unique.into_values().collect();
        let mut tx = self.pool().begin().await.map_err(LedgerError::query(OP))?;
        sqlx::query("DELETE FROM kiln_packages WHERE image_digest = $1")
            .bind(image_digest)
            .execute(&mut *tx)
            .await
            .map_err(LedgerError::query(OP))?;
        for chunk in rows.chunks(PACKAGE_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO kiln_packages (image_digest, run_id, name, version, ecosystem, purl) \
                 VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 4 + 3;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "($1, $2, ${b}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3
                ));
            }
            let mut q = sqlx::query(&sql).bind(image_digest).bind(run_id);
            for p in chunk {
                q = q
                    .bind(p.name.as_str())
                    .bind(p.version.as_str())
                    .bind(p.ecosystem.as_str())
                    .bind(p.purl.as_str());
            }
            q.execute(&mut *tx).await.map_err(LedgerError::query(OP))?;
        }
        tx.commit().await.map_err(LedgerError::query(OP))?;
        Ok(())
    }

    /// Records a scan and its findings: a finding the image never had is inserted (first
    /// and last seen now, its source this run or re-scan) and returned in
    /// [`ScanOutcome::new`]; a known one gets its last-seen time, severity and fix
    /// updated, its first-seen time and source kept.
    pub async fn record_scan(&self, scan: &NewScan) -> Result<ScanOutcome, LedgerError> {
        const OP: &str = "record_scan";
        check_digest(OP, &scan.image_digest)?;
        let mut findings: BTreeMap<(&str, &str), (&NewFinding, &'static str)> = BTreeMap::new();
        for f in &scan.findings {
            if f.vuln_id.is_empty() || f.purl.is_empty() {
                return Err(LedgerError::Invalid {
                    operation: OP,
                    reason: format!(
                        "finding {:?} on {:?} has no advisory id or package URL",
                        f.vuln_id, f.package
                    ),
                });
            }
            let severity = severity(&f.severity).ok_or_else(|| LedgerError::Invalid {
                operation: OP,
                reason: format!(
                    "finding {} on {}: unknown severity {:?} (expected one of {})",
                    f.vuln_id,
                    f.purl,
                    f.severity,
                    SEVERITIES.join(", ")
                ),
            })?;
            findings
                .entry((f.vuln_id.as_str(), f.purl.as_str()))
                .or_insert((f, severity));
        }
        let scan_id = uuid::Uuid::now_v7().hyphenated().to_string();
        let now = now_ms();
        let source = match (scan.kind, &scan.run_id) {
            (ScanKind::Run, Some(run)) => format!("run:{run}"),
            _ => format!("rescan:{scan_id}"),
        };
        let mut counts = [0i64; 5];
        let mut new = Vec::new();
        let mut tx = self.pool().begin().await.map_err(LedgerError::query(OP))?;
        for (f, sev) in findings.values() {
            if let Some(i) = SEVERITIES.iter().position(|s| s == sev) {
                counts[i] += 1;
            }
            let aliases = aliases_json(&f.aliases);
            let inserted = sqlx::query(
                "INSERT INTO kiln_findings (image_digest, vuln_id, purl, package, version, \
                 severity, fixed_version, aliases, first_seen, last_seen, source) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) \
                 ON CONFLICT (image_digest, vuln_id, purl) DO NOTHING",
            )
            .bind(scan.image_digest.as_str())
            .bind(f.vuln_id.as_str())
            .bind(f.purl.as_str())
            .bind(f.package.as_str())
            .bind(f.version.as_str())
            .bind(*sev)
            .bind(f.fixed_version.as_deref())
            .bind(aliases.as_str())
            .bind(now)
            .bind(source.as_str())
            .execute(&mut *tx)
            .await
            .map_err(LedgerError::query(OP))?;
            if inserted.rows_affected() == 1 {
                new.push(FindingRow {
                    image_digest: scan.image_digest.clone(),
                    vuln_id: f.vuln_id.clone(),
                    aliases: f.aliases.clone(),
                    purl: f.purl.clone(),
                    package: f.package.clone(),
                    version: f.version.clone(),
                    severity: (*sev).to_string(),
                    fixed_version: f.fixed_version.clone(),
                    first_seen: now,
                    last_seen: now,
                    source: source.clone(),
                });
            } else {
                sqlx::query(
                    "UPDATE kiln_findings SET last_seen = $4, severity = $5, \
                     fixed_version = $6, aliases = $7, package = $8, version = $9 \
                     WHERE image_digest = $1 AND vuln_id = $2 AND purl = $3",
                )
                .bind(scan.image_digest.as_str())
                .bind(f.vuln_id.as_str())
                .bind(f.purl.as_str())
                .bind(now)
                .bind(*sev)
                .bind(f.fixed_version.as_deref())
                .bind(aliases.as_str())
                .bind(f.package.as_str())
                .bind(f.version.as_str())
                .execute(&mut *tx)
                .await
                .map_err(LedgerError::query(OP))?;
            }
        }
        let new_count = i64::try_from(new.len()).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO kiln_scans (id, image_digest, run_id, kind, scanned_at, db_built, \
             critical, high, medium, low, unknown, new_findings) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(scan_id.as_str())
        .bind(scan.image_digest.as_str())
        .bind(scan.run_id.as_deref())
        .bind(scan.kind.as_str())
        .bind(now)
        .bind(scan.db_built.as_deref())
        .bind(counts[0])
        .bind(counts[1])
        .bind(counts[2])
        .bind(counts[3])
        .bind(counts[4])
        .bind(new_count)
        .execute(&mut *tx)
        .await
        .map_err(LedgerError::query(OP))?;
        tx.commit().await.map_err(LedgerError::query(OP))?;
        Ok(ScanOutcome { scan_id, new })
    }

    /// The packages recorded for an image, by name, version and purl.
    pub async fn packages(&self, image_digest: &str) -> Result<Vec<PackageRow>, LedgerError> {
        const OP: &str = "packages";
        let rows = sqlx::query(
            "SELECT name, version, ecosystem, purl FROM kiln_packages \
             WHERE image_digest = $1 ORDER BY name, version, purl",
        )
        .bind(image_digest)
        .fetch_all(self.pool())
        .await
        .map_err(LedgerError::query(OP))?;
        rows.iter().map(|r| package_row(OP, r)).collect()
    }

    /// Every (image digest, package) whose package is named exactly `name` or whose
    /// package URL contains `name` (ignoring ASCII case), by image then package.
    pub async fn images_with_package(
        &self,
        name: &str,
    ) -> Result<Vec<(String, PackageRow)>, LedgerError> {
        const OP: &str = "images_with_package";
        if name.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT image_digest, name, version, ecosystem, purl FROM kiln_packages \
             WHERE name = $1 OR LOWER(purl) LIKE $2 ESCAPE '\\' \
             ORDER BY image_digest, name, version, purl",
        )
        .bind(name)
        .bind(format!("%{}%", like_escape(&name.to_ascii_lowercase())))
        .fetch_all(self.pool())
        .await
        .map_err(LedgerError::query(OP))?;
        rows.iter()
            .map(|r| Ok((text(OP, r, "image_digest")?, package_row(OP, r)?)))
            .collect()
    }

    /// The findings recorded for an image, most severe first, then by id and purl.
    pub async fn findings(&self, image_digest: &str) -> Result<Vec<FindingRow>, LedgerError> {
        const OP: &str = "findings";
        let rows = sqlx::query(&format!(
            "SELECT {FINDING_COLUMNS} FROM kiln_findings WHERE image_digest = $1 \
             ORDER BY {SEVERITY_RANK}, vuln_id, purl"
        ))
        .bind(image_digest)
        .fetch_all(self.pool())
        .await
        .map_err(LedgerError::query(OP))?;
        rows.iter().map(|r| finding_row(OP, r)).collect()
    }

    /// The findings, on every image, of the advisory `vuln_id`: matched against each
    /// finding's id and its aliases, ignoring case. By image, then purl.
    pub async fn images_affected_by(&self, vuln_id: &str) -> Result<Vec<FindingRow>, LedgerError> {
        const OP: &str = "images_affected_by";
        let wanted = vuln_id.trim().to_lowercase();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        // A coarse filter in SQL (the alias list is JSON text), the exact test below.
        let rows = sqlx::query(&format!(
            "SELECT {FINDING_COLUMNS} FROM kiln_findings \
             WHERE LOWER(vuln_id) = $1 OR LOWER(aliases) LIKE $2 ESCAPE '\\' \
             ORDER BY image_digest, purl, vuln_id"
        ))
        .bind(wanted.as_str())
        .bind(format!("%{}%", like_escape(&wanted)))
        .fetch_all(self.pool())
        .await
        .map_err(LedgerError::query(OP))?;
        let mut out = Vec::new();
        for r in &rows {
            let f = finding_row(OP, r)?;
            if f.vuln_id.to_lowercase() == wanted
                || f.aliases.iter().any(|a| a.to_lowercase() == wanted)
            {
                out.push(f);
            }
        }
        Ok(out)
    }

    /// The scans made at or after `since_ms`, oldest first.
    pub async fn scans(&self, since_ms: i64) -> Result<Vec<ScanRow>, LedgerError> {
        const OP: &str = "scans";
        let rows = sqlx::query(
            "SELECT id, image_digest, run_id, kind, scanned_at, db_built, critical, high, \
             medium, low, unknown, new_findings FROM kiln_scans \
             WHERE scanned_at >= $1 ORDER BY scanned_at, id",
        )
        .bind(since_ms)
        .fetch_all(self.pool())
        .await
        .map_err(LedgerError::query(OP))?;
        rows.iter()
            .map(|r| {
                Ok(ScanRow {
                    id: text(OP, r, "id")?,
                    image_digest: text(OP, r, "image_digest")?,
                    run_id: opt_text(OP, r, "run_id")?,
                    kind: text(OP, r, "kind")?,
                    scanned_at: int(OP, r, "scanned_at")?,
                    db_built: opt_text(OP, r, "db_built")?,
                    critical: int(OP, r, "critical")?,
                    high: int(OP, r, "high")?,
                    medium: int(OP, r, "medium")?,
                    low: int(OP, r, "low")?,
                    unknown: int(OP, r, "unknown")?,
                    new_findings: int(OP, r, "new_findings")?,
                })
            })
            .collect()
    }

    /// Records that the admission webhook admitted `image` (resolved to `image_digest`)
    /// in `namespace` now: the first report inserts, later ones count.
    pub async fn record_admission(
        &self,
        image: &str,
        image_digest: &str,
        namespace: &str,
    ) -> Result<(), LedgerError> {
        const OP: &str = "record_admission";
        check_digest(OP, image_digest)?;
        if image.is_empty() {
            return Err(LedgerError::Invalid {
                operation: OP,
                reason: format!("no image reference for {image_digest}"),
            });
        }
        sqlx::query(
            "INSERT INTO kiln_admissions (image_digest, image, namespace, first_admitted, \
             last_admitted, admissions) VALUES ($1, $2, $3, $4, $4, 1) \
             ON CONFLICT (image_digest, image, namespace) DO UPDATE SET \
             last_admitted = excluded.last_admitted, \
             admissions = kiln_admissions.admissions + 1",
        )
        .bind(image_digest)
        .bind(image)
        .bind(namespace)
        .bind(now_ms())
        .execute(self.pool())
        .await
        .map_err(LedgerError::query(OP))?;
        Ok(())
    }

    /// The admissions reported, for one image or all, latest first.
    pub async fn admissions(
        &self,
        image_digest: Option<&str>,
    ) -> Result<Vec<AdmissionRow>, LedgerError> {
        const OP: &str = "admissions";
        let base = "SELECT image_digest, image, namespace, first_admitted, last_admitted, \
                    admissions FROM kiln_admissions";
        let order = "ORDER BY last_admitted DESC, image_digest, image, namespace";
        let rows = match image_digest {
            Some(d) => {
                sqlx::query(&format!("{base} WHERE image_digest = $1 {order}"))
                    .bind(d)
                    .fetch_all(self.pool())
                    .await
            }
            None => {
                sqlx::query(&format!("{base} {order}"))
                    .fetch_all(self.pool())
                    .await
            }
        }
        .map_err(LedgerError::query(OP))?;
        rows.iter()
            .map(|r| {
                Ok(AdmissionRow {
                    image_digest: text(OP, r, "image_digest")?,
                    image: text(OP, r, "image")?,
                    namespace: text(OP, r, "namespace")?,
                    first_admitted: int(OP, r, "first_admitted")?,
                    last_admitted: int(OP, r, "last_admitted")?,
                    admissions: int(OP, r, "admissions")?,
                })
            })
            .collect()
    }

    /// Every image digest a succeeded run produced, with its newest such run and every
    /// reference recorded for it, by digest.
    pub async fn images(&self) -> Result<Vec<ImageRow>, LedgerError> {
        const OP: &str = "images";
        let rows = sqlx::query(
            "SELECT id, image, image_digest, finished_at FROM kiln_runs \
             WHERE status = 'succeeded' AND image_digest IS NOT NULL \
             ORDER BY image_digest, finished_at DESC, id DESC",
        )
        .fetch_all(self.pool())
        .await
        .map_err(LedgerError::query(OP))?;
        let mut out: Vec<ImageRow> = Vec::new();
        let mut refs: BTreeSet<String> = BTreeSet::new();
        for r in &rows {
            let digest = text(OP, r, "image_digest")?;
            let image = opt_text(OP, r, "image")?;
            let id = text(OP, r, "id")?;
            if out.last().is_none_or(|last| last.image_digest != digest) {
                if let Some(last) = out.last_mut() {
                    last.references = std::mem::take(&mut refs).into_iter().collect();
                }
                out.push(ImageRow {
                    image_digest: digest,
                    latest_run: id.clone(),
                    finished_at: opt_int(OP, r, "finished_at")?,
                    runs: Vec::new(),
                    references: Vec::new(),
                });
            }
            if let Some(last) = out.last_mut() {
                last.runs.push(id);
            }
            if let Some(image) = image {
                refs.insert(image);
            }
        }
        if let Some(last) = out.last_mut() {
            last.references = refs.into_iter().collect();
        }
        Ok(out)
    }
}

/// The columns of a [`FindingRow`].
const FINDING_COLUMNS: &str = "image_digest, vuln_id, aliases, purl, package, version, \
     severity, fixed_version, first_seen, last_seen, source";

/// Orders findings most severe first.
const SEVERITY_RANK: &str = "CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 \
     WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END";

/// The stored form of a severity (ASCII case ignored), `None` when unknown to Kiln.
fn severity(s: &str) -> Option<&'static str> {
    let lower = s.trim().to_ascii_lowercase();
    SEVERITIES.iter().copied().find(|known| *known == lower)
}

/// An error unless `digest` is an `algorithm:hex` digest.
fn check_digest(operation: &'static str, digest: &str) -> Result<(), LedgerError> {
    digest
        .parse::<kiln_oci::Digest>()
        .map(|_| ())
        .map_err(|e| LedgerError::Invalid {
            operation,
            reason: format!("image digest {digest:?}: {e}"),
        })
}

/// `aliases` as the JSON array stored in the ledger (sorted, without duplicates).
fn aliases_json(aliases: &[String]) -> String {
    let set: BTreeSet<&str> = aliases.iter().map(String::as_str).collect();
    serde_json::to_string(&set).unwrap_or_else(|_| "[]".into())
}

/// `s` with the LIKE wildcards and the escape character escaped by `\`.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn corrupt(operation: &'static str, col: &str, e: impl std::fmt::Display) -> LedgerError {
    LedgerError::Invalid {
        operation,
        reason: format!("unreadable column {col}: {e}"),
    }
}

fn text(op: &'static str, r: &AnyRow, col: &str) -> Result<String, LedgerError> {
    r.try_get::<String, _>(col).map_err(|e| corrupt(op, col, e))
}

fn opt_text(op: &'static str, r: &AnyRow, col: &str) -> Result<Option<String>, LedgerError> {
    r.try_get::<Option<String>, _>(col)
        .map_err(|e| corrupt(op, col, e))
}

fn int(op: &'static str, r: &AnyRow, col: &str) -> Result<i64, LedgerError> {
    r.try_get::<i64, _>(col).map_err(|e| corrupt(op, col, e))
}

fn opt_int(op: &'static str, r: &AnyRow, col: &str) -> Result<Option<i64>, LedgerError> {
    r.try_get::<Option<i64>, _>(col)
        .map_err(|e| corrupt(op, col, e))
}

fn package_row(op: &'static str, r: &AnyRow) -> Result<PackageRow, LedgerError> {
    Ok(PackageRow {
        name: text(op, r, "name")?,
        version: text(op, r, "version")?,
        ecosystem: text(op, r, "ecosystem")?,
        purl: text(op, r, "purl")?,
    })
}

fn finding_row(op: &'static str, r: &AnyRow) -> Result<FindingRow, LedgerError> {
    let aliases = text(op, r, "aliases")?;
    Ok(FindingRow {
        image_digest: text(op, r, "image_digest")?,
        vuln_id: text(op, r, "vuln_id")?,
        aliases: serde_json::from_str(&aliases).map_err(|e| corrupt(op, "aliases", e))?,
        purl: text(op, r, "purl")?,
        package: text(op, r, "package")?,
        version: text(op, r, "version")?,
        severity: text(op, r, "severity")?,
        fixed_version: opt_text(op, r, "fixed_version")?,
        first_seen: int(op, r, "first_seen")?,
        last_seen: int(op, r, "last_seen")?,
        source: text(op, r, "source")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{NewRun, RunOutcome, RunStatus};

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn pkg(name: &str, version: &str) -> PackageRow {
        PackageRow {
            name: name.into(),
            version: version.into(),
            ecosystem: "npm".into(),
            purl: format!("pkg:npm/{name}@{version}"),
        }
    }

    fn finding(id: &str, alias: &str, name: &str, severity: &str) -> NewFinding {
        NewFinding {
            vuln_id: id.into(),
            aliases: vec![alias.into()],
            purl: format!("pkg:npm/{name}@1.0.0"),
            package: name.into(),
            version: "1.0.0".into(),
            severity: severity.into(),
            fixed_version: Some("1.0.1".into()),
        }
    }

    async fn ledger() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("l.db").display());
        (dir, Ledger::open(&url).await.unwrap())
    }

    async fn succeeded_run(l: &Ledger, image: &str, digest: &str) -> String {
        let id = l
            .start_run(&NewRun {
                repository: "/src".into(),
                commit: None,
                tree_dirty: false,
                config_digest: digest.into(),
                base_image: None,
                started_at: now_ms(),
            })
            .await
            .unwrap();
        l.finish_run(
            &id,
            &RunOutcome {
                status: RunStatus::Succeeded,
                image: Some(image.into()),
                digest: Some(digest.into()),
                finished_at: now_ms(),
                failed_stage: None,
                reason: None,
            },
        )
        .await
        .unwrap();
        id.to_string()
    }

    #[tokio::test]
    async fn packages_replace_and_search() {
        let (_d, l) = ledger().await;
        let a = digest('a');
        let run = succeeded_run(&l, "oci:x:1", &a).await;
        let many: Vec<PackageRow> = (0..250).map(|i| pkg(&format!("p{i}"), "1.0.0")).collect();
        l.record_packages(&run, &a, &many).await.unwrap();
        assert_eq!(l.packages(&a).await.unwrap().len(), 250);
        // A later record replaces the list; duplicate purls are kept once.
        let two = [
            pkg("lodash", "4.17.20"),
            pkg("left_pad", "1.0.0"),
            pkg("lodash", "4.17.20"),
        ];
        l.record_packages(&run, &a, &two).await.unwrap();
        let got = l.packages(&a).await.unwrap();
        assert_eq!(
            got,
            vec![pkg("left_pad", "1.0.0"), pkg("lodash", "4.17.20")]
        );
        assert_eq!(l.images_with_package("lodash").await.unwrap().len(), 1);
        assert_eq!(l.images_with_package("LODASH@4").await.unwrap().len(), 1);
        // `_` is not a wildcard.
        assert_eq!(l.images_with_package("left_").await.unwrap().len(), 1);
        assert!(l.images_with_package("leftxpad").await.unwrap().is_empty());
        assert!(l.images_with_package("").await.unwrap().is_empty());
        let err = l.record_packages(&run, "latest", &two).await.unwrap_err();
        assert!(matches!(err, LedgerError::Invalid { .. }), "{err}");
        // An unknown run is refused (foreign key), nothing changes.
        assert!(l.record_packages("nope", &a, &many).await.is_err());
        assert_eq!(l.packages(&a).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn scans_track_first_and_last_seen() {
        let (_d, l) = ledger().await;
        let a = digest('a');
        let run = succeeded_run(&l, "oci:x:1", &a).await;
        let scan = NewScan {
            image_digest: a.clone(),
            run_id: Some(run.clone()),
            kind: ScanKind::Run,
            db_built: None,
            findings: vec![
                finding("GHSA-1", "CVE-2024-1", "lodash", "HIGH"),
                finding("GHSA-1", "CVE-2024-1", "lodash", "high"),
            ],
        };
        let first = l.record_scan(&scan).await.unwrap();
        assert_eq!(first.new.len(), 1);
        assert_eq!(first.new[0].source, format!("run:{run}"));
        assert_eq!(first.new[0].severity, "high");
        let again = NewScan {
            kind: ScanKind::Rescan,
            findings: vec![
                finding("GHSA-1", "CVE-2024-1", "lodash", "critical"),
                finding("GHSA-2", "CVE-2024-2", "minimist", "low"),
            ],
            ..scan.clone()
        };
        let second = l.record_scan(&again).await.unwrap();
        assert_eq!(second.new.len(), 1);
        assert_eq!(second.new[0].vuln_id, "GHSA-2");
        assert_eq!(second.new[0].source, format!("rescan:{}", second.scan_id));
        let all = l.findings(&a).await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].vuln_id, "GHSA-1");
        assert_eq!(all[0].severity, "critical");
        assert_eq!(all[0].first_seen, first.new[0].first_seen);
        assert_eq!(all[0].source, format!("run:{run}"));
        assert!(all[0].last_seen >= all[0].first_seen);
        let scans = l.scans(0).await.unwrap();
        assert_eq!(scans.len(), 2);
        assert_eq!((scans[0].high, scans[0].new_findings), (1, 1));
        assert_eq!(scans[0].kind, "run");
        assert_eq!(
            (scans[1].critical, scans[1].low, scans[1].new_findings),
            (1, 1, 1)
        );
        assert_eq!(scans[1].kind, "rescan");
        assert!(l.scans(i64::MAX).await.unwrap().is_empty());

        let hit = l.images_affected_by("cve-2024-2").await.unwrap();
        assert_eq!(hit.len(), 1);
        assert_eq!(hit[0].package, "minimist");
        assert_eq!(l.images_affected_by("ghsa-1").await.unwrap().len(), 1);
        assert!(l.images_affected_by("CVE-2024").await.unwrap().is_empty());

        let bad = NewScan {
            findings: vec![finding("GHSA-3", "CVE-3", "x", "severe")],
            ..scan
        };
        let err = l.record_scan(&bad).await.unwrap_err();
        assert!(err.to_string().contains("severe"), "{err}");
        assert_eq!(l.scans(0).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn admissions_count() {
        let (_d, l) = ledger().await;
        let a = digest('a');
        l.record_admission("reg/app:1", &a, "prod").await.unwrap();
        l.record_admission("reg/app:1", &a, "prod").await.unwrap();
        l.record_admission("reg/app:1", &a, "dev").await.unwrap();
        l.record_admission("reg/other:1", &digest('b'), "dev")
            .await
            .unwrap();
        let rows = l.admissions(Some(&a)).await.unwrap();
        assert_eq!(rows.len(), 2);
        let prod = rows.iter().find(|r| r.namespace == "prod").unwrap();
        assert_eq!(prod.admissions, 2);
        assert!(prod.last_admitted >= prod.first_admitted);
        assert_eq!(l.admissions(None).await.unwrap().len(), 3);
        assert!(l.record_admission("x", "nope", "ns").await.is_err());
    }

    #[tokio::test]
    async fn images_lists_succeeded_runs() {
        let (_d, l) = ledger().await;
        let (a, b) = (digest('a'), digest('b'));
        succeeded_run(&l, "oci:x:1", &a).await;
        let newest = succeeded_run(&l, "oci:x:latest", &a).await;
        succeeded_run(&l, "oci:y:1", &b).await;
        let images = l.images().await.unwrap();
        assert_eq!(images.len(), 2);
        assert_eq!(images[0].image_digest, a);
        assert_eq!(images[0].latest_run, newest);
        assert_eq!(images[0].runs.len(), 2);
        assert_eq!(images[0].runs[0], newest);
        assert_eq!(images[0].references, vec!["oci:x:1", "oci:x:latest"]);
        assert_eq!(images[1].references, vec!["oci:y:1"]);
    }
}
