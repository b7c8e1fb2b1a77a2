//! Recording a run: the ledger (`ledger.url`, default `sqlite://.kiln/ledger.db`) gets the
//! run's inputs, every stage with its log, and the outcome; the evidence store
//! (`evidence.store`, default `.kiln/evidence`, wrapped by `evidence.key`, default the
//! local key file `.kiln/keys/evidence.key`) gets the SBOMs, the vulnerability report and
//! the provenance, each also listed in the ledger. Relative paths are the project's.

use std::path::Path;

use super::{Ctx, Evidence, RunError, RunReport, RunStatus, StageReport, StageStatus};
use crate::evidence::{EvidenceStore, WrapKey};
use crate::ledger::{
    self, Ledger, NewFinding, NewRun, NewScan, PackageRow, RunId, RunOutcome, ScanKind, StageRecord,
};

/// The default ledger.
pub const DEFAULT_LEDGER: &str = "sqlite://.kiln/ledger.db";
/// The default evidence store.
pub const DEFAULT_EVIDENCE: &str = ".kiln/evidence";
/// The default evidence wrapping key.
pub const DEFAULT_EVIDENCE_KEY: &str = ".kiln/keys/evidence.key";

/// The ledger and evidence store of one run.
pub struct Recorder {
    ledger: Ledger,
    ledger_url: String,
    store: Option<EvidenceStore>,
    evidence_url: String,
    evidence_key: WrapKey,
    run: Option<RunId>,
}

/// `sqlite://REL` made absolute in the project directory.
pub fn ledger_url(ctx: &Ctx) -> String {
    project_ledger_url(&ctx.dir, &ctx.config)
}

/// [`ledger_url`] for project directory `dir` with kiln.yaml `config` (also `kiln rescan`'s).
pub fn project_ledger_url(dir: &Path, config: &crate::KilnConfig) -> String {
    let url = config
        .ledger
        .url
        .clone()
        .unwrap_or_else(|| DEFAULT_LEDGER.to_string());
    for prefix in ["sqlite://", "sqlite:"] {
        if let Some(p) = url.strip_prefix(prefix)
            && !p.starts_with('/')
            && !p.is_empty()
        {
            return format!("sqlite://{}", dir.join(p).display());
        }
    }
    url
}

/// The evidence store URL, a relative directory made absolute in the project.
pub fn evidence_url(ctx: &Ctx) -> String {
    project_evidence_url(&ctx.dir, &ctx.config)
}

/// [`evidence_url`] for project directory `dir` with kiln.yaml `config`.
pub fn project_evidence_url(dir: &Path, config: &crate::KilnConfig) -> String {
    let url = config
        .evidence
        .store
        .clone()
        .unwrap_or_else(|| DEFAULT_EVIDENCE.to_string());
    if url.contains("://") || Path::new(&url).is_absolute() {
        url
    } else {
        dir.join(url).display().to_string()
    }
}

fn evidence_key(ctx: &Ctx) -> WrapKey {
    project_evidence_key(&ctx.dir, &ctx.config)
}

/// The evidence wrapping key for project directory `dir` with kiln.yaml `config` (a
/// relative key file is the project's).
pub fn project_evidence_key(dir: &Path, config: &crate::KilnConfig) -> WrapKey {
    let spec = config
        .evidence
        .key
        .clone()
        .unwrap_or_else(|| DEFAULT_EVIDENCE_KEY.to_string());
    match WrapKey::parse(&spec) {
        WrapKey::LocalFile(p) if p.is_relative() => WrapKey::LocalFile(dir.join(p)),
        k => k,
    }
}

/// The repository a run records: the git remote, else the project directory.
pub fn repository(ctx: &Ctx) -> String {
    ctx.git
        .as_ref()
        .and_then(|g| g.remote_url.clone())
        .unwrap_or_else(|| ctx.dir.display().to_string())
}

fn ledger_err(url: &str, e: impl std::fmt::Display) -> RunError {
    RunError::Ledger {
        url: ledger::hide_password(url),
        reason: e.to_string(),
    }
}

impl Recorder {
    /// Opens the ledger kiln.yaml names (a database that cannot be reached is an error
    /// before any stage runs) and marks runs a crash left unfinished as failed. The
    /// evidence store is opened when the first object is stored.
    pub async fn open(ctx: &Ctx) -> Result<Recorder, RunError> {
        let url = ledger_url(ctx);
        let ledger = Ledger::open(&url).await.map_err(|e| ledger_err(&url, e))?;
        ledger
            .fail_interrupted()
            .await
            .map_err(|e| ledger_err(&url, e))?;
        Ok(Recorder {
            ledger,
            ledger_url: url,
            store: None,
            evidence_url: evidence_url(ctx),
            evidence_key: evidence_key(ctx),
            run: None,
        })
    }

    /// Records the start of the run with its inputs; returns its id.
    pub async fn start(&mut self, ctx: &Ctx, started_ms: i64) -> Result<String, RunError> {
        use sha2::Digest as _;
        let git = ctx.git.as_ref();
        let new = NewRun {
            repository: repository(ctx),
            commit: git.and_then(|g| g.commit.clone()),
            tree_dirty: git.is_some_and(|g| g.dirty),
            config_digest: format!(
                "sha256:{}",
                hex::encode(sha2::Sha256::digest(ctx.config_text.as_bytes()))
            ),
            base_image: ctx.config.build.as_ref().and_then(|b| {
                b.base.clone().or_else(|| {
                    b.dockerfile
                        .as_ref()
                        .map(|d| format!("dockerfile:{}", d.display()))
                })
            }),
            started_at: started_ms,
        };
        let id = self
            .ledger
            .start_run(&new)
            .await
            .map_err(|e| ledger_err(&self.ledger_url, e))?;
        let text = id.to_string();
        self.run = Some(id);
        Ok(text)
    }

    fn run_id(&self) -> Result<&RunId, RunError> {
        self.run
            .as_ref()
            .ok_or_else(|| ledger_err(&self.ledger_url, "the run was not started"))
    }

    /// Records a stage with its log.
    pub async fn stage(&mut self, report: &StageReport) -> Result<(), RunError> {
        let status = match report.status {
            StageStatus::Passed => ledger::StageStatus::Passed,
            StageStatus::Failed | StageStatus::Error => ledger::StageStatus::Failed,
            StageStatus::Skipped | StageStatus::NotRun => ledger::StageStatus::Skipped,
        };
        let record = StageRecord {
            name: report.name.name().to_string(),
            status,
            started_at: report.started_at,
            finished_at: report
                .started_at
                .saturating_add(i64::try_from(report.duration_ms).unwrap_or(i64::MAX)),
            summary: report.summary.clone(),
            log: report.log.join("\n"),
            outputs: report.outputs.clone(),
        };
        let run = self.run_id()?.clone();
        self.ledger
            .record_stage(&run, &record)
            .await
            .map_err(|e| ledger_err(&self.ledger_url, e))
    }

    /// Records the packages of the run's image (after the `sbom` stage).
    pub async fn packages(&self, digest: &str, packages: &[PackageRow]) -> Result<(), RunError> {
        let run = self.run_id()?;
        self.ledger
            .record_packages(run.as_str(), digest, packages)
            .await
            .map_err(|e| ledger_err(&self.ledger_url, e))
    }

    /// Records the `vuln` stage's scan of the run's image; returns how many findings the
    /// image had never had.
    pub async fn scan(
        &self,
        digest: &str,
        findings: Vec<NewFinding>,
        db_built: Option<String>,
    ) -> Result<usize, RunError> {
        let run = self.run_id()?;
        let outcome = self
            .ledger
            .record_scan(&NewScan {
                image_digest: digest.to_string(),
                run_id: Some(run.to_string()),
                kind: ScanKind::Run,
                db_built,
                findings,
            })
            .await
            .map_err(|e| ledger_err(&self.ledger_url, e))?;
        Ok(outcome.new.len())
    }

    /// Encrypts and stores evidence, listing each object in the ledger; returns the names.
    pub async fn put_evidence(
        &mut self,
        run_id: &str,
        items: Vec<Evidence>,
    ) -> Result<Vec<String>, RunError> {
        let ev_err = |url: &str, e: &dyn std::fmt::Display| RunError::Evidence {
            url: url.to_string(),
            reason: e.to_string(),
        };
        if self.store.is_none() {
            let s = EvidenceStore::open(&self.evidence_url, self.evidence_key.clone())
                .await
                .map_err(|e| ev_err(&self.evidence_url, &e))?;
            self.store = Some(s);
        }
        let run = self.run_id()?.clone();
        let mut names = Vec::new();
        for item in items {
            let Some(store) = &self.store else { break };
            let r = store
                .put(run_id, &item.name, &item.media_type, &item.bytes)
                .await
                .map_err(|e| ev_err(&self.evidence_url, &e))?;
            self.ledger
                .record_evidence(&run, &r)
                .await
                .map_err(|e| ledger_err(&self.ledger_url, e))?;
            names.push(item.name);
        }
        Ok(names)
    }

    /// Records the end of the run.
    pub async fn finish(&mut self, _ctx: &Ctx, report: &RunReport) -> Result<(), RunError> {
        let outcome = RunOutcome {
            status: match report.status {
                RunStatus::Succeeded => ledger::RunStatus::Succeeded,
                RunStatus::Failed | RunStatus::Error => ledger::RunStatus::Failed,
            },
            image: report.published.clone().or_else(|| report.image.clone()),
            digest: report.digest.clone(),
            finished_at: super::now_ms(),
            failed_stage: report.failed_stage.map(|s| s.name().to_string()),
            reason: report.reason.clone(),
        };
        let run = self.run_id()?.clone();
        self.ledger
            .finish_run(&run, &outcome)
            .await
            .map_err(|e| ledger_err(&self.ledger_url, e))?;
        self.ledger.close().await;
        Ok(())
    }
}
