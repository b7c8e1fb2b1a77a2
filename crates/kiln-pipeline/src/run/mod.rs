//! The stage runner behind `kiln run`: kiln.yaml taken through secrets → build → sbom →
//! vuln → sign → attest → push, one module per stage. Each stage is a gate: the first
//! that fails or errs stops the run, so nothing is signed or pushed unless every earlier
//! gate passed. Every stage is reported to an [`Observer`] as it goes and recorded in the
//! ledger; SBOMs, the vulnerability report and the provenance go to the evidence store.

pub mod attest;
pub mod build;
pub mod git;
pub mod keys;
pub mod push;
pub mod record;
pub mod sbom;
pub mod secrets;
pub mod sign;
pub mod vuln;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use kiln_oci::registry::RegistryOptions;
use kiln_oci::{Manifest, OciLayout};
use serde::Serialize;
use serde_json::Value;

use crate::config::{ConfigError, KilnConfig, SbomFormat};
use crate::provenance::ResourceDescriptor;

/// The stages, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Secrets,
    Build,
    Sbom,
    Vuln,
    Sign,
    Attest,
    Push,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 7] = [
        Stage::Secrets,
        Stage::Build,
        Stage::Sbom,
        Stage::Vuln,
        Stage::Sign,
        Stage::Attest,
        Stage::Push,
    ];

    /// The stage's name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Secrets => "secrets",
            Stage::Build => "build",
            Stage::Sbom => "sbom",
            Stage::Vuln => "vuln",
            Stage::Sign => "sign",
            Stage::Attest => "attest",
            Stage::Push => "push",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a stage ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageStatus {
    /// The gate passed.
    Passed,
    /// The gate stopped the run (findings, a failing build command).
    Failed,
    /// The stage could not do its work (an unreadable file, a registry or KMS down).
    Error,
    /// Turned off, or nothing to do (no vulnerability database: with a warning).
    Skipped,
    /// Not reached: an earlier gate stopped the run.
    NotRun,
}

impl StageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StageStatus::Passed => "passed",
            StageStatus::Failed => "failed",
            StageStatus::Error => "error",
            StageStatus::Skipped => "skipped",
            StageStatus::NotRun => "not-run",
        }
    }

    /// Whether the run goes on after it.
    pub fn continues(self) -> bool {
        matches!(self, StageStatus::Passed | StageStatus::Skipped)
    }
}

/// One stage's result.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    pub name: Stage,
    pub status: StageStatus,
    pub duration_ms: u64,
    /// One line for people (for a failure: the reason).
    pub summary: String,
    /// What the stage produced, as data (digests, counts, evidence names).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub outputs: Value,
    /// Every line the stage logged (kept in the ledger, not in the JSON report).
    #[serde(skip)]
    pub log: Vec<String>,
    /// Unix milliseconds.
    #[serde(skip)]
    pub started_at: i64,
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Succeeded,
    /// A gate failed.
    Failed,
    /// A stage could not do its work.
    Error,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub status: RunStatus,
    /// The image in the local layout (`oci:DIR/.kiln/oci:TAG`).
    pub image: Option<String>,
    /// Its manifest digest.
    pub digest: Option<String>,
    /// The published reference with digest, when pushed.
    pub published: Option<String>,
    /// The stage that stopped the run, and why.
    pub failed_stage: Option<Stage>,
    pub reason: Option<String>,
    pub duration_ms: u64,
    pub stages: Vec<StageReport>,
    /// Names of the evidence objects stored.
    pub evidence: Vec<String>,
    /// Problems after the run that did not change its outcome (a notification that
    /// could not be delivered).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// What a caller learns as the run goes.
pub trait Observer: Sync {
    /// A stage starts.
    fn stage_started(&self, _stage: Stage) {}
    /// A stage logged a line (build output, warnings).
    fn stage_log(&self, _stage: Stage, _line: &str) {}
    /// A stage ended.
    fn stage_finished(&self, _report: &StageReport) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}

/// One run.
pub struct RunRequest<'a> {
    /// The project directory, as the user named it.
    pub project_dir: &'a Path,
    /// Its kiln.yaml.
    pub config_path: &'a Path,
    /// How registries are reached.
    pub registry: RegistryOptions,
    /// `SOURCE_DATE_EPOCH`.
    pub source_date_epoch: Option<u64>,
    /// A ledger URL that takes the place of kiln.yaml's `ledger.url` (`kiln server`
    /// records every run in its own ledger; the run's config digest stays that of the
    /// repository's kiln.yaml).
    pub ledger_url: Option<String>,
}

/// What stops a run before its first stage, or while recording it.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("ledger {url}: {reason}")]
    Ledger { url: String, reason: String },
    #[error("evidence store {url}: {reason}")]
    Evidence { url: String, reason: String },
}

/// Why a stage could not do its work (status `error`).
#[derive(Debug, Clone)]
pub struct StageError(pub String);

impl std::fmt::Display for StageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for StageError {
    fn from(e: E) -> Self {
        StageError(e.to_string())
    }
}

/// What a stage reports when it ends without an error.
#[derive(Debug, Clone)]
pub struct Done {
    pub status: StageStatus,
    pub summary: String,
    pub outputs: Value,
}

impl Done {
    pub fn passed(summary: impl Into<String>) -> Done {
        Done {
            status: StageStatus::Passed,
            summary: summary.into(),
            outputs: Value::Null,
        }
    }
    pub fn skipped(summary: impl Into<String>) -> Done {
        Done {
            status: StageStatus::Skipped,
            ..Done::passed(summary)
        }
    }
    pub fn failed(summary: impl Into<String>) -> Done {
        Done {
            status: StageStatus::Failed,
            ..Done::passed(summary)
        }
    }
    pub fn with(mut self, outputs: Value) -> Done {
        self.outputs = outputs;
        self
    }
}

/// A stage's log: kept, and passed on to the observer.
pub struct StageLog<'a> {
    stage: Stage,
    observer: &'a dyn Observer,
    lines: Mutex<Vec<String>>,
}

impl StageLog<'_> {
    /// Logs a line.
    pub fn line(&self, line: &str) {
        self.observer.stage_log(self.stage, line);
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line.to_string());
    }

    fn take(self) -> Vec<String> {
        self.lines.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

/// The built image.
pub struct Built {
    /// `oci:DIR/.kiln/oci:TAG` as shown to the user.
    pub reference: String,
    pub tag: String,
    pub layout: OciLayout,
    pub manifest: Manifest,
    /// The base image, when the build names one with a digest.
    pub base: Option<ResourceDescriptor>,
}

/// An object for the evidence store.
pub struct Evidence {
    pub name: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// The state a run carries from stage to stage.
pub struct Ctx {
    /// The canonical project directory.
    pub dir: PathBuf,
    /// The project directory as named.
    pub shown: PathBuf,
    pub config: KilnConfig,
    pub config_path: PathBuf,
    pub config_text: String,
    pub registry: RegistryOptions,
    pub epoch: Option<u64>,
    pub run_id: String,
    /// Unix seconds.
    pub started: i64,
    pub git: Option<git::GitSource>,
    pub built: Option<Built>,
    pub catalog: Option<kiln_sbom::Catalog>,
    pub sboms: Vec<(SbomFormat, Vec<u8>)>,
    /// The cosign vuln predicate, when the vulnerability stage ran.
    pub vuln_predicate: Option<Value>,
    pub signer: Option<Box<dyn kiln_sign::Signer>>,
    /// The name signatures and attestations are made for.
    pub subject_name: String,
    pub published: Option<String>,
    /// Evidence waiting to be stored (the runner stores it after each stage).
    pub evidence: Vec<Evidence>,
    /// The vulnerability stage's findings, waiting to be recorded in the ledger.
    pub vuln_scan: Option<VulnScan>,
}

/// What the `vuln` stage leaves for the ledger.
pub struct VulnScan {
    /// The findings not suppressed by VEX.
    pub findings: Vec<crate::ledger::NewFinding>,
    /// When the database's data was imported.
    pub db_built: Option<String>,
}

impl Ctx {
    /// A path of kiln.yaml, relative to the project directory.
    pub fn project_path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }

    /// The built image, which every stage after `build` has.
    pub fn built(&self) -> Result<&Built, StageError> {
        self.built
            .as_ref()
            .ok_or_else(|| StageError("no image was built".into()))
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Runs every stage of the project's kiln.yaml.
pub async fn run(req: &RunRequest<'_>, observer: &dyn Observer) -> Result<RunReport, RunError> {
    let t_run = Instant::now();
    let config_text = read_config(req.config_path)?;
    let mut config = KilnConfig::parse(&config_text, req.config_path)?;
    if let Some(url) = &req.ledger_url {
        config.ledger.url = Some(url.clone());
    }
    let dir = std::fs::canonicalize(req.project_dir).map_err(|source| RunError::Io {
        what: format!("project directory {}", req.project_dir.display()),
        source,
    })?;
    let git = {
        let d = dir.clone();
        tokio::task::spawn_blocking(move || git::discover(&d))
            .await
            .ok()
            .flatten()
    };
    let started_ms = now_ms();
    let mut ctx = Ctx {
        dir,
        shown: req.project_dir.to_path_buf(),
        config,
        config_path: req.config_path.to_path_buf(),
        config_text,
        registry: req.registry.clone(),
        epoch: req.source_date_epoch,
        run_id: String::new(),
        started: started_ms / 1000,
        git,
        built: None,
        catalog: None,
        sboms: Vec::new(),
        vuln_predicate: None,
        signer: None,
        subject_name: String::new(),
        published: None,
        evidence: Vec::new(),
        vuln_scan: None,
    };
    let mut recorder = record::Recorder::open(&ctx).await?;
    ctx.run_id = recorder.start(&ctx, started_ms).await?;

    let mut stages = Vec::new();
    let mut stopped: Option<(Stage, String, StageStatus)> = None;
    let mut stored = Vec::new();
    for stage in Stage::ALL {
        if let Some((by, _, _)) = &stopped {
            let report = StageReport {
                name: stage,
                status: StageStatus::NotRun,
                duration_ms: 0,
                summary: format!("not run: {by} stopped the run"),
                outputs: Value::Null,
                log: Vec::new(),
                started_at: now_ms(),
            };
            recorder.stage(&report).await?;
            stages.push(report);
            continue;
        }
        observer.stage_started(stage);
        let started_at = now_ms();
        let t = Instant::now();
        let log = StageLog {
            stage,
            observer,
            lines: Mutex::new(Vec::new()),
        };
        let result = run_stage(stage, &mut ctx, &log).await;
        let mut done = match result {
            Ok(d) => d,
            Err(e) => Done {
                status: StageStatus::Error,
                summary: e.0,
                outputs: Value::Null,
            },
        };
        if let Err(e) = record_image(stage, &mut ctx, &recorder, &done, &log).await {
            done = Done {
                status: StageStatus::Error,
                summary: if done.status.continues() {
                    e.to_string()
                } else {
                    format!("{}; {e}", done.summary)
                },
                outputs: done.outputs,
            };
        }
        if done.status.continues() && !ctx.evidence.is_empty() {
            let pending = std::mem::take(&mut ctx.evidence);
            match recorder.put_evidence(&ctx.run_id, pending).await {
                Ok(names) => {
                    for n in &names {
                        log.line(&format!("evidence: stored {n}"));
                    }
                    stored.extend(names);
                }
                Err(e) => {
                    done = Done {
                        status: StageStatus::Error,
                        summary: format!("storing evidence: {e}"),
                        outputs: done.outputs,
                    }
                }
            }
        }
        let report = StageReport {
            name: stage,
            status: done.status,
            duration_ms: u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX),
            summary: done.summary,
            outputs: done.outputs,
            log: log.take(),
            started_at,
        };
        observer.stage_finished(&report);
        if !report.status.continues() {
            stopped = Some((stage, report.summary.clone(), report.status));
        }
        recorder.stage(&report).await?;
        stages.push(report);
    }

    let (status, failed_stage, reason) = match stopped {
        None => (RunStatus::Succeeded, None, None),
        Some((stage, reason, StageStatus::Failed)) => {
            (RunStatus::Failed, Some(stage), Some(reason))
        }
        Some((stage, reason, _)) => (RunStatus::Error, Some(stage), Some(reason)),
    };
    let report = RunReport {
        run_id: ctx.run_id.clone(),
        status,
        image: ctx.built.as_ref().map(|b| b.reference.clone()),
        digest: ctx.built.as_ref().map(|b| b.manifest.digest.to_string()),
        published: ctx.published.clone(),
        failed_stage,
        reason,
        duration_ms: u64::try_from(t_run.elapsed().as_millis()).unwrap_or(u64::MAX),
        stages,
        evidence: stored,
        warnings: Vec::new(),
    };
    recorder.finish(&ctx, &report).await?;
    let mut report = report;
    if let Some(warning) = notify_run(&ctx, &report).await {
        tracing::warn!("{warning}");
        report.warnings.push(warning);
    }
    if report.status == RunStatus::Succeeded {
        secrets::remember_run(&ctx);
    }
    Ok(report)
}

/// Records in the ledger what the `sbom` stage (the image's packages) and the `vuln`
/// stage (its scan, gate passed or failed) found.
async fn record_image(
    stage: Stage,
    ctx: &mut Ctx,
    recorder: &record::Recorder,
    done: &Done,
    log: &StageLog<'_>,
) -> Result<(), RunError> {
    let Some(digest) = ctx.built.as_ref().map(|b| b.manifest.digest.to_string()) else {
        return Ok(());
    };
    match stage {
        Stage::Sbom if done.status == StageStatus::Passed => {
            let Some(catalog) = &ctx.catalog else {
                return Ok(());
            };
            let rows = crate::rescan::convert::package_rows(&catalog.packages);
            recorder.packages(&digest, &rows).await?;
            log.line(&format!("ledger: recorded {} package(s)", rows.len()));
        }
        Stage::Vuln if matches!(done.status, StageStatus::Passed | StageStatus::Failed) => {
            if let Some(scan) = ctx.vuln_scan.take() {
                let n = scan.findings.len();
                let new = recorder.scan(&digest, scan.findings, scan.db_built).await?;
                log.line(&format!(
                    "ledger: recorded the scan: {n} finding(s), {new} new for this image"
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Sends the run's notification when kiln.yaml names a webhook; a failure is returned as
/// a warning, never changing the run's outcome.
async fn notify_run(ctx: &Ctx, report: &RunReport) -> Option<String> {
    let section = &ctx.config.notifications;
    let url = section.webhook.as_deref()?;
    let sent = match crate::notify::Notifier::new(url, section.format) {
        Ok(n) => n.run(&record::repository(ctx), report).await,
        Err(e) => Err(e),
    };
    sent.err().map(|e| e.to_string())
}

async fn run_stage(stage: Stage, ctx: &mut Ctx, log: &StageLog<'_>) -> Result<Done, StageError> {
    match stage {
        Stage::Secrets => secrets::run(ctx, log).await,
        Stage::Build => build::run(ctx, log).await,
        Stage::Sbom => sbom::run(ctx, log).await,
        Stage::Vuln => vuln::run(ctx, log).await,
        Stage::Sign => sign::run(ctx, log).await,
        Stage::Attest => attest::run(ctx, log).await,
        Stage::Push => push::run(ctx, log).await,
    }
}

fn read_config(path: &Path) -> Result<String, RunError> {
    use std::io::Read as _;
    let read_err = |source| {
        RunError::Config(ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut text = String::new();
    file.take(crate::config::MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_err)?;
    if text.len() as u64 > crate::config::MAX_CONFIG_BYTES {
        return Err(RunError::Config(ConfigError::TooLarge {
            path: path.to_path_buf(),
        }));
    }
    Ok(text)
}
