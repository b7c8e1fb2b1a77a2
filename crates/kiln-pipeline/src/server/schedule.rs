//! The scheduled vulnerability database update of `kiln server` (`db_update_interval`):
//! every interval, the database (`db`, default kiln-vuln's) is updated from `db_source`
//! (osv.dev's bucket layout `<URL>/<Ecosystem>/all.zip`, or a local directory / file of
//! OSV records), the same way as `kiln db update` / `kiln db import`; then every image the
//! server's runs produced is re-scanned ([`crate::rescan`]) from the SBOM in its
//! repository's evidence store (the default store of the run's state directory,
//! `WORK/state/NAME/evidence`, wrapped by `WORK/state/NAME/keys/evidence.key`), and new
//! findings are sent to `notifications.webhook`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kiln_vuln::db::Database;
use kiln_vuln::import::{self, Loaded};

use super::config::ServerConfig;
use super::worktree::{Places, shown_source};
use crate::evidence::{EvidenceStore, WrapKey};
use crate::ledger::Ledger;
use crate::notify::Notifier;
use crate::rescan::{self, RescanOptions, RescanReport};

/// What one update did.
#[derive(Debug, Clone)]
pub struct UpdateReport {
    pub db: PathBuf,
    pub imported: u64,
    pub problems: Vec<String>,
}

/// The database the server updates.
pub fn db_path(config: &ServerConfig) -> PathBuf {
    config
        .db
        .clone()
        .or_else(|| std::env::var_os("KILN_VULN_DB").map(PathBuf::from))
        .unwrap_or_else(kiln_vuln::db::default_path)
}

/// Updates the database once.
pub async fn update_once(config: &ServerConfig) -> Result<UpdateReport, String> {
    let db = db_path(config);
    let source = config
        .db_source
        .clone()
        .unwrap_or_else(|| import::OSV_BUCKET.to_string());
    let mut loaded = Loaded::default();
    if source.starts_with("http://") || source.starts_with("https://") {
        let ecos: Vec<String> = import::DEFAULT_ECOSYSTEMS
            .iter()
            .map(|s| s.to_string())
            .collect();
        import::download(&source, &ecos, &mut loaded).await;
    } else {
        let path = PathBuf::from(&source);
        loaded = tokio::task::spawn_blocking(move || {
            let mut out = Loaded::default();
            import::read_path(&path, &mut out);
            out
        })
        .await
        .map_err(|e| e.to_string())?;
    }
    let db_for_import = db.clone();
    let report = tokio::task::spawn_blocking(move || {
        let d = Database::open_or_create(&db_for_import).map_err(|e| e.to_string())?;
        d.import(loaded.records)
            .map(|r| (r, loaded.errors))
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())??;
    let (r, mut problems) = report;
    problems.extend(r.errors);
    Ok(UpdateReport {
        db,
        imported: r.imported,
        problems,
    })
}

/// The re-scan of one repository's images.
#[derive(Debug)]
pub struct RepositoryRescan {
    pub repository: String,
    pub report: Result<RescanReport, String>,
    /// Whether a notification was sent (None: none configured or nothing new).
    pub notified: Option<Result<bool, String>>,
}

/// Re-scans the images of every configured repository whose runs stored evidence in the
/// repository's default store, and notifies about new findings.
pub async fn rescan_all(config: &ServerConfig, ledger: &Ledger) -> Vec<RepositoryRescan> {
    let db = db_path(config);
    let notifier = config
        .notifications
        .as_ref()
        .and_then(|n| Notifier::new(&n.webhook, n.format).ok());
    let images = match ledger.images().await {
        Ok(i) => i,
        Err(e) => {
            return vec![RepositoryRescan {
                repository: "(all)".into(),
                report: Err(e.to_string()),
                notified: None,
            }];
        }
    };
    let mut out = Vec::new();
    for repo in &config.repositories {
        let places = Places::new(&config.work_dir, repo);
        let store_dir = places.state.join("evidence");
        if !store_dir.is_dir() {
            continue;
        }
        let source = shown_source(&repo.source);
        let mut mine = Vec::new();
        for image in &images {
            if let Ok(Some(run)) = ledger.run(&image.latest_run).await
                && run.input.repository == source
            {
                mine.push(image.image_digest.clone());
            }
        }
        if mine.is_empty() {
            continue;
        }
        let key = WrapKey::LocalFile(places.state.join("keys").join("evidence.key"));
        let report = match EvidenceStore::open(&store_dir.display().to_string(), key).await {
            Ok(store) => rescan::rescan(
                ledger,
                &store,
                &db,
                &RescanOptions {
                    vex: Vec::new(),
                    images: mine,
                },
            )
            .await
            .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let notified = match (&report, &notifier) {
            (Ok(r), Some(n)) if r.new_findings > 0 => {
                Some(n.rescan(r).await.map_err(|e| e.to_string()))
            }
            _ => None,
        };
        out.push(RepositoryRescan {
            repository: repo.name.clone(),
            report,
            notified,
        });
    }
    out
}

/// Runs the update (then the re-scan) every `interval`, the first an interval after start.
pub async fn every(interval: Duration, config: Arc<ServerConfig>, ledger: Ledger) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match update_once(&config).await {
            Ok(r) => {
                tracing::info!(
                    "vulnerability database {} updated: {} advisories imported, {} problem(s)",
                    r.db.display(),
                    r.imported,
                    r.problems.len()
                );
                for p in r.problems.iter().take(20) {
                    tracing::warn!("database update: {p}");
                }
            }
            Err(e) => {
                tracing::error!("vulnerability database update failed: {e}");
                continue;
            }
        }
        for r in rescan_all(&config, &ledger).await {
            match &r.report {
                Ok(rep) => tracing::info!(
                    repository = %r.repository,
                    "re-scan: {} image(s), {} new finding(s), {} skipped",
                    rep.images_scanned,
                    rep.new_findings,
                    rep.skipped.len()
                ),
                Err(e) => tracing::error!(repository = %r.repository, "re-scan failed: {e}"),
            }
            if let Some(Err(e)) = &r.notified {
                tracing::warn!(repository = %r.repository, "re-scan notification not sent: {e}");
            }
        }
    }
}
