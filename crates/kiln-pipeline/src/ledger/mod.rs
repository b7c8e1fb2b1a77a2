//! The evidence ledger: every run with its inputs, stages (gate results, timings, logs),
//! outcome and evidence objects, in SQLite (`sqlite://PATH`, the default, a file under
//! `.kiln/`) or PostgreSQL (`postgres://…`), both through sqlx's `Any` driver with the same
//! embedded migrations (`migrations/*.sql`, portable SQL).
//!
//! Opening a ledger never changes runs: a process that was killed leaves its run
//! `running`; every run records its owner (`HOST:PID`, see [`owner`]), and
//! [`Ledger::fail_interrupted`] (called by `kiln run` and the server at start) marks failed
//! only the runs whose owning process is gone, never one still in progress elsewhere.

pub mod deliveries;
mod error;
mod images;
mod migrations;
mod model;
pub mod owner;

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

pub use error::LedgerError;
pub use images::{
    AdmissionRow, FindingRow, ImageRow, NewFinding, NewScan, PackageRow, SEVERITIES, ScanKind,
    ScanOutcome, ScanRow,
};
pub use model::{NewRun, RunId, RunOutcome, RunRecord, RunStatus, StageRecord, StageStatus};

use crate::evidence::EvidenceRef;

/// The reason recorded for runs found `running` by [`Ledger::fail_interrupted`].
pub const INTERRUPTED: &str = "interrupted";

/// How long opening waits for the database before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which database a ledger is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// An open ledger (a connection pool; cheap to clone).
#[derive(Debug, Clone)]
pub struct Ledger {
    pool: AnyPool,
    backend: Backend,
    /// The URL with any password hidden, for messages.
    shown_url: String,
}

const RUN_COLUMNS: &str = "id, repository, commit_sha, tree_dirty, config_digest, base_image, \
     status, started_at, finished_at, image, image_digest, failed_stage, reason";

impl Ledger {
    /// Opens (creating when needed) the ledger at `url` and runs its migrations:
    /// `sqlite://PATH` or `sqlite:PATH` (the file and its parent directories are created)
    /// or `postgres://…` / `postgresql://…`. A database that cannot be reached is an error
    /// naming it, after at most ten seconds.
    pub async fn open(url: &str) -> Result<Ledger, LedgerError> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);

        let shown_url = hide_password(url);
        let (backend, connect_url) = connect_url(url)?;
        let max = match backend {
            Backend::Sqlite => 4,
            Backend::Postgres => 8,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect(&connect_url)
            .await
            .map_err(|e| LedgerError::Connect {
                url: shown_url.clone(),
                reason: e.to_string(),
            })?;
        let migrator = sqlx::migrate::Migrator::new(migrations::Embedded)
            .await
            .map_err(|e| LedgerError::Migrate {
                url: shown_url.clone(),
                reason: e.to_string(),
            })?;
        migrator
            .run(&pool)
            .await
            .map_err(|e| LedgerError::Migrate {
                url: shown_url.clone(),
                reason: e.to_string(),
            })?;
        Ok(Ledger {
            pool,
            backend,
            shown_url,
        })
    }

    /// The connection pool, for the other ledger modules of this crate (findings,
    /// dashboard queries, deliveries).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Which database this ledger is in.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The ledger's URL, with any password replaced by `***`.
    pub fn url(&self) -> &str {
        &self.shown_url
    }

    /// Marks as failed (reason [`INTERRUPTED`]) every `running` run whose process is gone:
    /// runs started on this host by a process that no longer exists, and runs with no
    /// recorded owner. Runs in progress in live processes, and runs owned by other hosts,
    /// are left alone. Returns how many were marked.
    pub async fn fail_interrupted(&self) -> Result<u64, LedgerError> {
        let rows = sqlx::query("SELECT id, owner FROM kiln_runs WHERE status = 'running'")
            .fetch_all(&self.pool)
            .await
            .map_err(LedgerError::query("fail_interrupted"))?;
        let host = owner::host();
        let mut marked = 0;
        for row in rows {
            let id: String = row
                .try_get("id")
                .map_err(LedgerError::query("fail_interrupted"))?;
            let run_owner: Option<String> = row
                .try_get("owner")
                .map_err(LedgerError::query("fail_interrupted"))?;
            if !owner::is_gone(run_owner.as_deref(), &host) {
                continue;
            }
            let done = sqlx::query(
                "UPDATE kiln_runs SET status = 'failed', reason = $1, finished_at = $2 \
                 WHERE id = $3 AND status = 'running'",
            )
            .bind(INTERRUPTED)
            .bind(now_ms())
            .bind(&id)
            .execute(&self.pool)
            .await
            .map_err(LedgerError::query("fail_interrupted"))?;
            marked += done.rows_affected();
        }
        Ok(marked)
    }

    /// Records a run that starts now (status `running`), owned by this process, and
    /// returns its new id.
    pub async fn start_run(&self, run: &NewRun) -> Result<RunId, LedgerError> {
        self.start_run_owned(run, &owner::current()).await
    }

    /// [`Ledger::start_run`] with an explicit owner (`HOST:PID`), for a process that runs
    /// the pipeline on another's behalf.
    pub async fn start_run_owned(&self, run: &NewRun, owner: &str) -> Result<RunId, LedgerError> {
        let id = RunId::new();
        sqlx::query(
            "INSERT INTO kiln_runs (id, repository, commit_sha, tree_dirty, config_digest, \
             base_image, status, started_at, owner) \
             VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $8)",
        )
        .bind(id.as_str())
        .bind(&run.repository)
        .bind(run.commit.as_deref())
        .bind(i64::from(run.tree_dirty))
        .bind(&run.config_digest)
        .bind(run.base_image.as_deref())
        .bind(run.started_at)
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(LedgerError::query("start_run"))?;
        Ok(id)
    }

    /// Appends a stage to a running run.
    pub async fn record_stage(&self, run: &RunId, stage: &StageRecord) -> Result<(), LedgerError> {
        if stage.name.is_empty() {
            return Err(LedgerError::Invalid {
                operation: "record_stage",
                reason: "empty stage name".into(),
            });
        }
        self.require_running(run).await?;
        let outputs = serde_json::to_string(&stage.outputs).map_err(|e| LedgerError::Invalid {
            operation: "record_stage",
            reason: format!("stage {} outputs: {e}", stage.name),
        })?;
        sqlx::query(
            "INSERT INTO kiln_stages (run_id, seq, name, status, started_at, finished_at, \
             summary, log, outputs) \
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8 \
             FROM kiln_stages WHERE run_id = $1",
        )
        .bind(run.as_str())
        .bind(&stage.name)
        .bind(stage.status.as_str())
        .bind(stage.started_at)
        .bind(stage.finished_at)
        .bind(&stage.summary)
        .bind(&stage.log)
        .bind(outputs)
        .execute(&self.pool)
        .await
        .map_err(LedgerError::query("record_stage"))?;
        Ok(())
    }

    /// Records how a running run ended. A finished run's outcome is never rewritten.
    pub async fn finish_run(&self, run: &RunId, outcome: &RunOutcome) -> Result<(), LedgerError> {
        if outcome.status == RunStatus::Running {
            return Err(LedgerError::Invalid {
                operation: "finish_run",
                reason: "a run finishes as succeeded or failed, not running".into(),
            });
        }
        let done = sqlx::query(
            "UPDATE kiln_runs SET status = $2, finished_at = $3, image = $4, image_digest = $5, \
             failed_stage = $6, reason = $7 WHERE id = $1 AND status = 'running'",
        )
        .bind(run.as_str())
        .bind(outcome.status.as_str())
        .bind(outcome.finished_at)
        .bind(outcome.image.as_deref())
        .bind(outcome.digest.as_deref())
        .bind(outcome.failed_stage.as_deref())
        .bind(outcome.reason.as_deref())
        .execute(&self.pool)
        .await
        .map_err(LedgerError::query("finish_run"))?;
        if done.rows_affected() == 0 {
            self.require_running(run).await?;
        }
        Ok(())
    }

    /// Records an evidence object of a run (any state: evidence may be stored after the
    /// outcome). Recording the same name twice is an error.
    pub async fn record_evidence(
        &self,
        run: &RunId,
        evidence: &EvidenceRef,
    ) -> Result<(), LedgerError> {
        if evidence.run_id != run.as_str() {
            return Err(LedgerError::Invalid {
                operation: "record_evidence",
                reason: format!(
                    "evidence {} belongs to run {}, not {run}",
                    evidence.name, evidence.run_id
                ),
            });
        }
        self.status(run)
            .await?
            .ok_or_else(|| LedgerError::UnknownRun(run.to_string()))?;
        let size = i64::try_from(evidence.size).map_err(|_| LedgerError::Invalid {
            operation: "record_evidence",
            reason: format!("evidence {} is too large", evidence.name),
        })?;
        sqlx::query(
            "INSERT INTO kiln_evidence (run_id, name, media_type, size, sha256, wrapping, \
             key_id, location) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(run.as_str())
        .bind(&evidence.name)
        .bind(&evidence.media_type)
        .bind(size)
        .bind(&evidence.sha256)
        .bind(&evidence.wrapping)
        .bind(&evidence.key_id)
        .bind(&evidence.location)
        .execute(&self.pool)
        .await
        .map_err(LedgerError::query("record_evidence"))?;
        Ok(())
    }

    /// The run with this id (exact), with its stages and evidence.
    pub async fn run(&self, id: &str) -> Result<Option<RunRecord>, LedgerError> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM kiln_runs WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(LedgerError::query("run"))?;
        match row {
            Some(row) => Ok(Some(self.complete(&row).await?)),
            None => Ok(None),
        }
    }

    /// The newest `limit` runs, newest first, with their stages and evidence.
    pub async fn runs(&self, limit: u32) -> Result<Vec<RunRecord>, LedgerError> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM kiln_runs ORDER BY started_at DESC, id DESC LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(LedgerError::query("runs"))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.complete(row).await?);
        }
        Ok(out)
    }

    /// The id of the one run whose id starts with `prefix` (at least 4 characters of a
    /// UUID); `None` when no run matches; an error when several do.
    pub async fn resolve(&self, prefix: &str) -> Result<Option<RunId>, LedgerError> {
        let prefix = prefix.to_ascii_lowercase();
        if prefix.len() < 4 || !prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(LedgerError::Invalid {
                operation: "resolve",
                reason: format!(
                    "{prefix:?} is not a run id or a prefix of one (4+ hex digits and dashes)"
                ),
            });
        }
        let rows = sqlx::query("SELECT id FROM kiln_runs WHERE id LIKE $1 ORDER BY id LIMIT 2")
            .bind(format!("{prefix}%"))
            .fetch_all(&self.pool)
            .await
            .map_err(LedgerError::query("resolve"))?;
        match rows.as_slice() {
            [] => Ok(None),
            [one] => {
                let id: String = one.try_get("id").map_err(LedgerError::query("resolve"))?;
                Ok(Some(RunId::from_str_unchecked(id)))
            }
            _ => Err(LedgerError::Invalid {
                operation: "resolve",
                reason: format!("{prefix:?} matches several runs; give more of the id"),
            }),
        }
    }

    /// The stored status of a run, if it exists.
    async fn status(&self, run: &RunId) -> Result<Option<RunStatus>, LedgerError> {
        let row = sqlx::query("SELECT status FROM kiln_runs WHERE id = $1")
            .bind(run.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(LedgerError::query("status"))?;
        let Some(row) = row else { return Ok(None) };
        let status: String = row
            .try_get("status")
            .map_err(LedgerError::query("status"))?;
        RunStatus::parse(&status)
            .map(Some)
            .ok_or_else(|| LedgerError::Corrupt {
                run: run.to_string(),
                reason: format!("unknown status {status:?}"),
            })
    }

    /// Ok when `run` exists and is running.
    async fn require_running(&self, run: &RunId) -> Result<(), LedgerError> {
        match self.status(run).await? {
            None => Err(LedgerError::UnknownRun(run.to_string())),
            Some(RunStatus::Running) => Ok(()),
            Some(_) => Err(LedgerError::Finished(run.to_string())),
        }
    }

    /// A run row plus its stages and evidence.
    async fn complete(&self, row: &AnyRow) -> Result<RunRecord, LedgerError> {
        let get = LedgerError::query("read run");
        let id: String = row.try_get("id").map_err(get)?;
        let corrupt = |reason: String| LedgerError::Corrupt {
            run: id.clone(),
            reason,
        };
        let text = |col: &str| -> Result<String, LedgerError> {
            row.try_get::<String, _>(col)
                .map_err(|e| corrupt(format!("{col}: {e}")))
        };
        let opt_text = |col: &str| -> Result<Option<String>, LedgerError> {
            row.try_get::<Option<String>, _>(col)
                .map_err(|e| corrupt(format!("{col}: {e}")))
        };
        let int = |col: &str| -> Result<Option<i64>, LedgerError> {
            row.try_get::<Option<i64>, _>(col)
                .map_err(|e| corrupt(format!("{col}: {e}")))
        };
        let status_text = text("status")?;
        let status = RunStatus::parse(&status_text)
            .ok_or_else(|| corrupt(format!("unknown status {status_text:?}")))?;
        let mut record = RunRecord {
            id: RunId::from_str_unchecked(id.clone()),
            input: NewRun {
                repository: text("repository")?,
                commit: opt_text("commit_sha")?,
                tree_dirty: int("tree_dirty")?.unwrap_or(0) != 0,
                config_digest: text("config_digest")?,
                base_image: opt_text("base_image")?,
                started_at: int("started_at")?.unwrap_or(0),
            },
            status,
            finished_at: int("finished_at")?,
            image: opt_text("image")?,
            digest: opt_text("image_digest")?,
            failed_stage: opt_text("failed_stage")?,
            reason: opt_text("reason")?,
            stages: Vec::new(),
            evidence: Vec::new(),
        };
        record.stages = self.stages(&id).await?;
        record.evidence = self.evidence(&id).await?;
        Ok(record)
    }

    /// The stages of run `id`, in order.
    async fn stages(&self, id: &str) -> Result<Vec<StageRecord>, LedgerError> {
        let rows = sqlx::query(
            "SELECT name, status, started_at, finished_at, summary, log, outputs \
             FROM kiln_stages WHERE run_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(LedgerError::query("stages"))?;
        let corrupt = |reason: String| LedgerError::Corrupt {
            run: id.to_string(),
            reason,
        };
        rows.iter()
            .map(|row| {
                let name: String = row.try_get("name").map_err(|e| corrupt(e.to_string()))?;
                let status: String = row.try_get("status").map_err(|e| corrupt(e.to_string()))?;
                let outputs: String = row.try_get("outputs").map_err(|e| corrupt(e.to_string()))?;
                Ok(StageRecord {
                    status: StageStatus::parse(&status).ok_or_else(|| {
                        corrupt(format!("stage {name}: unknown status {status:?}"))
                    })?,
                    started_at: row
                        .try_get("started_at")
                        .map_err(|e| corrupt(e.to_string()))?,
                    finished_at: row
                        .try_get("finished_at")
                        .map_err(|e| corrupt(e.to_string()))?,
                    summary: row.try_get("summary").map_err(|e| corrupt(e.to_string()))?,
                    log: row.try_get("log").map_err(|e| corrupt(e.to_string()))?,
                    outputs: serde_json::from_str(&outputs)
                        .map_err(|e| corrupt(format!("stage {name} outputs: {e}")))?,
                    name,
                })
            })
            .collect()
    }

    /// The evidence recorded for run `id`, by name.
    pub async fn evidence(&self, id: &str) -> Result<Vec<EvidenceRef>, LedgerError> {
        let rows = sqlx::query(
            "SELECT name, media_type, size, sha256, wrapping, key_id, location \
             FROM kiln_evidence WHERE run_id = $1 ORDER BY name",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(LedgerError::query("evidence"))?;
        let corrupt = |reason: String| LedgerError::Corrupt {
            run: id.to_string(),
            reason,
        };
        rows.iter()
            .map(|row| {
                let size: i64 = row.try_get("size").map_err(|e| corrupt(e.to_string()))?;
                Ok(EvidenceRef {
                    run_id: id.to_string(),
                    name: row.try_get("name").map_err(|e| corrupt(e.to_string()))?,
                    media_type: row
                        .try_get("media_type")
                        .map_err(|e| corrupt(e.to_string()))?,
                    size: u64::try_from(size)
                        .map_err(|_| corrupt(format!("negative evidence size {size}")))?,
                    sha256: row.try_get("sha256").map_err(|e| corrupt(e.to_string()))?,
                    wrapping: row
                        .try_get("wrapping")
                        .map_err(|e| corrupt(e.to_string()))?,
                    key_id: row.try_get("key_id").map_err(|e| corrupt(e.to_string()))?,
                    location: row
                        .try_get("location")
                        .map_err(|e| corrupt(e.to_string()))?,
                })
            })
            .collect()
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The backend and the URL sqlx connects with.
fn connect_url(url: &str) -> Result<(Backend, String), LedgerError> {
    let bad = |reason: &str| LedgerError::BadUrl {
        url: hide_password(url),
        reason: reason.to_string(),
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_string()));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| bad("expected sqlite://PATH or postgres://USER@HOST/DB"))?;
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() {
        return Err(bad("no file path"));
    }
    let path = absolute(Path::new(path)).map_err(|e| bad(&e))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| bad(&format!("cannot create {}: {e}", parent.display())))?;
    }
    let text = path.to_str().ok_or_else(|| bad("the path is not UTF-8"))?;
    Ok((
        Backend::Sqlite,
        format!("sqlite://{}?mode=rwc", encode_path(text)),
    ))
}

/// `path` made absolute against the current directory.
fn absolute(path: &Path) -> Result<PathBuf, String> {
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .map_err(|e| format!("no current directory: {e}"))
    }
}

/// Percent-encodes everything but unreserved characters and `/` (sqlx decodes it).
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `url` with the password of `scheme://user:password@host` replaced by `***`.
pub fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_passwords() {
        assert_eq!(
            hide_password("postgres://kiln:s3cret@db:5432/kiln?sslmode=require"),
            "postgres://kiln:***@db:5432/kiln?sslmode=require"
        );
        assert_eq!(
            hide_password("postgres://kiln@db/kiln"),
            "postgres://kiln@db/kiln"
        );
        assert_eq!(hide_password("sqlite://a/b.db"), "sqlite://a/b.db");
    }

    #[test]
    fn sqlite_urls_are_absolute_and_encoded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub dir/ledger.db");
        let (backend, url) = connect_url(&format!("sqlite://{}", p.display())).unwrap();
        assert_eq!(backend, Backend::Sqlite);
        assert!(url.starts_with("sqlite:///"), "{url}");
        assert!(url.contains("sub%20dir/ledger.db?mode=rwc"), "{url}");
        assert!(dir.path().join("sub dir").is_dir());
    }

    #[test]
    fn rejects_other_schemes() {
        for url in ["mysql://x/y", "ledger.db", "sqlite://", "http://x"] {
            assert!(
                matches!(connect_url(url), Err(LedgerError::BadUrl { .. })),
                "{url}"
            );
        }
    }
}
