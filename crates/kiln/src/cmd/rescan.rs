//! `kiln rescan`: every image in the project's ledger matched again, from the SBOM its
//! newest succeeded run stored (encrypted) in the evidence store, against the
//! vulnerability database as it is now. New findings are recorded in the ledger and sent
//! to the notification webhook. Uses the project's kiln.yaml for the ledger, the evidence
//! store and key, the database (`vuln.db`), VEX (`vuln.vex`) and notifications, with the
//! defaults of `kiln run`.
//!
//! Exit 0 (or `--exit-code N` when there are new findings), 2 on an error, including an
//! image whose SBOM could not be read (the others are still scanned and reported).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use kiln_pipeline::KilnConfig;
use kiln_pipeline::evidence::{EvidenceStore, WrapKey};
use kiln_pipeline::ledger::Ledger;
use kiln_pipeline::notify::{Notifier, NotifyFormat};
use kiln_pipeline::rescan::{self, RescanOptions, RescanReport};
use kiln_pipeline::run::record;
use serde::Serialize;

use crate::output::{Global, emit, emit_json};

/// Output formats of `kiln rescan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Notification body formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum NotifyAs {
    Json,
    Slack,
}

/// Arguments of `kiln rescan`.
#[derive(clap::Args)]
pub struct Args {
    /// The project directory [default: the directory of --file, else the current one].
    #[arg(short = 'C', long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The kiln.yaml to read [default: DIR/kiln.yaml].
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The vulnerability database [default: vuln.db of kiln.yaml, else $KILN_VULN_DB, else
    /// the default database].
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Send new findings to this webhook instead of kiln.yaml's notifications.webhook.
    #[arg(long, value_name = "URL")]
    pub notify: Option<String>,
    /// The notification's form [default: kiln.yaml's notifications.format, else json].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub notify_format: Option<NotifyAs>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Exit with this code when there are new findings.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub exit_code: u8,
}

impl Args {
    /// `kiln rescan --db DB` in the current directory (for `kiln db update --rescan`).
    pub fn for_database(db: PathBuf) -> Args {
        Args {
            dir: None,
            file: None,
            db: Some(db),
            notify: None,
            notify_format: None,
            format: Format::Table,
            exit_code: 0,
        }
    }
}

/// The report with what happened to the notification.
#[derive(Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    report: &'a RescanReport,
    notification: Notification,
}

#[derive(Serialize, Default)]
struct Notification {
    /// Whether a webhook is configured.
    configured: bool,
    sent: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The project directory and kiln.yaml named by -C and --file.
fn project(dir: Option<&Path>, file: Option<&Path>) -> (PathBuf, PathBuf) {
    match (dir, file) {
        (Some(d), Some(f)) => (d.to_path_buf(), f.to_path_buf()),
        (Some(d), None) => (d.to_path_buf(), d.join("kiln.yaml")),
        (None, Some(f)) => {
            let parent = f.parent().filter(|p| !p.as_os_str().is_empty());
            (
                parent.unwrap_or(Path::new(".")).to_path_buf(),
                f.to_path_buf(),
            )
        }
        (None, None) => (PathBuf::from("."), PathBuf::from("kiln.yaml")),
    }
}

/// Runs `kiln rescan`.
pub async fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    let (dir, file) = project(args.dir.as_deref(), args.file.as_deref());
    let config = KilnConfig::load(&file)?;
    let dir = std::fs::canonicalize(&dir)
        .with_context(|| format!("project directory {}", dir.display()))?;
    let db = match &args.db {
        Some(p) => p.clone(),
        None => rescan::db_path(&dir, config.vuln.db.as_deref()),
    };
    let mut vex = Vec::new();
    for v in &config.vuln.vex {
        let p = if v.is_absolute() {
            v.clone()
        } else {
            dir.join(v)
        };
        let bytes = std::fs::read(&p).with_context(|| format!("VEX document {}", p.display()))?;
        vex.extend(kiln_vuln::vex::read(&bytes, &p.display().to_string())?);
    }
    let webhook = args
        .notify
        .clone()
        .or_else(|| config.notifications.webhook.clone());
    let notify_format = match args.notify_format {
        Some(NotifyAs::Json) => NotifyFormat::Json,
        Some(NotifyAs::Slack) => NotifyFormat::Slack,
        None => config.notifications.format,
    };
    // Checked before scanning, so a bad URL costs nothing.
    let notifier = webhook
        .as_deref()
        .map(|u| Notifier::new(u, notify_format))
        .transpose()?;

    let ledger = Ledger::open(&record::project_ledger_url(&dir, &config)).await?;
    let evidence = open_evidence(&dir, &config).await?;
    let report = rescan::rescan(
        &ledger,
        &evidence,
        &db,
        &RescanOptions {
            vex,
            images: vec![],
        },
    )
    .await;
    ledger.close().await;
    let report = report?;

    let mut notification = Notification {
        configured: notifier.is_some(),
        ..Default::default()
    };
    if let Some(n) = &notifier {
        match n.rescan(&report).await {
            Ok(sent) => notification.sent = sent,
            Err(e) => {
                eprintln!("warning: {e}");
                notification.error = Some(e.to_string());
            }
        }
    }

    for s in report.skipped.iter().filter(|s| s.error) {
        eprintln!(
            "error: image {}{}: {}",
            s.image_digest,
            s.run_id
                .as_deref()
                .map(|r| format!(" (run {r})"))
                .unwrap_or_default(),
            s.reason
        );
    }
    match args.format {
        Format::Json => emit_json(
            &Output {
                report: &report,
                notification,
            },
            None,
        )?,
        Format::Table => {
            emit(table(&report).as_bytes(), None)?;
            global.say(format!(
                "{} image(s) re-scanned against {}{}: {} new finding(s){}",
                report.images_scanned,
                report.database,
                report
                    .db_built
                    .as_deref()
                    .map(|b| format!(" (data of {b})"))
                    .unwrap_or_default(),
                report.new_findings,
                if notification.sent {
                    "; notification sent"
                } else {
                    ""
                }
            ));
        }
    }
    Ok(if report.has_errors() {
        ExitCode::from(2)
    } else if report.new_findings > 0 {
        ExitCode::from(args.exit_code)
    } else {
        ExitCode::SUCCESS
    })
}

/// The evidence store of kiln.yaml, with its key; a local key file that does not exist
/// is not created (nothing can be decrypted with a new key): the store opens without a
/// key and each SBOM read reports it.
async fn open_evidence(dir: &Path, config: &KilnConfig) -> anyhow::Result<EvidenceStore> {
    let url = record::project_evidence_url(dir, config);
    let key = record::project_evidence_key(dir, config);
    Ok(match key {
        WrapKey::LocalFile(p) if !p.exists() => EvidenceStore::open_unkeyed(&url).await?,
        key => EvidenceStore::open(&url, key).await?,
    })
}

/// The report as a table: one line per image, then its new findings.
fn table(report: &RescanReport) -> String {
    let mut out = String::new();
    if report.images.is_empty() && report.skipped.is_empty() {
        out.push_str("no images with a stored SBOM in the ledger\n");
        return out;
    }
    out.push_str(&format!(
        "{:<19}  {:>8}  {:>8}  {:>3}  REFERENCES\n",
        "IMAGE", "PACKAGES", "FINDINGS", "NEW"
    ));
    for i in &report.images {
        out.push_str(&format!(
            "{:<19}  {:>8}  {:>8}  {:>3}  {}\n",
            short(&i.image_digest),
            i.packages,
            i.findings,
            i.new.len(),
            i.references.join(", ")
        ));
        for f in &i.new {
            out.push_str(&format!(
                "  new: {} {}{} in {}@{}{}\n",
                f.severity,
                f.vuln_id,
                if f.aliases.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", f.aliases.join(", "))
                },
                f.package,
                f.version,
                f.fixed_version
                    .as_deref()
                    .map(|v| format!(", fixed in {v}"))
                    .unwrap_or_default()
            ));
        }
        for a in &i.admitted {
            out.push_str(&format!(
                "  admitted: {} in namespace {} ({} time(s))\n",
                a.image, a.namespace, a.admissions
            ));
        }
    }
    for s in &report.skipped {
        out.push_str(&format!(
            "{:<19}  skipped: {}\n",
            short(&s.image_digest),
            s.reason
        ));
    }
    out
}

/// `sha256:` and the first 12 hex digits.
fn short(digest: &str) -> String {
    match digest.split_once(':') {
        Some((alg, hex)) => format!("{alg}:{}", &hex[..hex.len().min(12)]),
        None => digest.to_string(),
    }
}
