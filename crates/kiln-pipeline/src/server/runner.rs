//! One queued run: fetch the pushed commit into the repository's mirror, check it out in a
//! fresh work tree, run the pipeline of its `kiln.yaml` with the server's ledger, link the
//! delivery to the run, remove the work tree. A push that cannot even start a run (no
//! `kiln.yaml`, a commit that cannot be fetched) is recorded as a failed run with the
//! reason, so every accepted delivery leads to a run in the ledger.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use kiln_oci::registry::RegistryOptions;

use super::config::ServerConfig;
use super::queue::{Job, Worker};
use super::worktree::{self, Places};
use crate::ledger::{Ledger, NewRun, RunOutcome, RunStatus};
use crate::run::{self, Observer, RunRequest, Stage, StageReport};

/// Runs jobs for the server.
pub struct Runner {
    pub config: Arc<ServerConfig>,
    pub ledger: Ledger,
}

/// Logs a run's stages (tracing; the ledger keeps the full log).
struct Log<'a> {
    job: &'a Job,
}

impl Observer for Log<'_> {
    fn stage_started(&self, stage: Stage) {
        tracing::debug!(repository = %self.job.repository, commit = %self.job.commit, "{stage} started");
    }
    fn stage_finished(&self, r: &StageReport) {
        tracing::info!(
            repository = %self.job.repository,
            commit = %self.job.commit,
            "{} {} in {} ms: {}",
            r.name,
            r.status.as_str(),
            r.duration_ms,
            r.summary
        );
    }
}

impl Runner {
    async fn execute_job(&self, job: Job) {
        tracing::info!(repository = %job.repository, commit = %job.commit, delivery = %job.delivery, "run starts");
        let Some(repo) = self
            .config
            .repositories
            .iter()
            .find(|r| r.name == job.repository)
            .cloned()
        else {
            return;
        };
        let places = Places::new(&self.config.work_dir, &repo);
        let commit = job.commit.clone();
        let prepared = {
            let places = places.clone();
            let repo = repo.clone();
            tokio::task::spawn_blocking(move || -> Result<worktree::Checkout, String> {
                worktree::sync_mirror(&repo, &places, &commit).map_err(|e| e.to_string())?;
                worktree::checkout(&places, &commit, &repo.source).map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|e| Err(format!("preparing the work tree: {e}")))
        };
        let checkout = match prepared {
            Ok(c) => c,
            Err(reason) => {
                self.record_failure(&job, &repo.source, "checkout", &reason)
                    .await;
                return;
            }
        };
        let result = self.run_in(&job, &checkout.dir).await;
        match result {
            Ok(run_id) => {
                if let Err(e) = self.ledger.set_delivery_run(&job.delivery, &run_id).await {
                    tracing::warn!(delivery = %job.delivery, "cannot link the delivery to run {run_id}: {e}");
                }
            }
            Err(reason) => {
                self.record_failure(&job, &repo.source, "config", &reason)
                    .await;
            }
        }
        let removed = tokio::task::spawn_blocking(move || checkout.remove()).await;
        if let Ok(Err(e)) = removed {
            tracing::warn!(repository = %job.repository, "{e}");
        }
    }

    /// Runs the pipeline in `dir`; the run's id, or why no run was started.
    async fn run_in(&self, job: &Job, dir: &Path) -> Result<String, String> {
        let config_path = dir.join("kiln.yaml");
        match std::fs::metadata(&config_path) {
            Ok(m) if m.len() > crate::config::MAX_CONFIG_BYTES => {
                return Err(format!(
                    "kiln.yaml is over the limit of {} bytes",
                    crate::config::MAX_CONFIG_BYTES
                ));
            }
            Ok(_) => {}
            Err(_) => {
                return Err(format!(
                    "no kiln.yaml at the root of {} at commit {}",
                    job.repository, job.commit
                ));
            }
        }
        let request = RunRequest {
            project_dir: dir,
            config_path: &config_path,
            registry: RegistryOptions {
                insecure: self.config.insecure_registry,
                ..Default::default()
            },
            source_date_epoch: None,
            ledger_url: Some(self.config.ledger.clone()),
        };
        let observer = Log { job };
        let report = run::run(&request, &observer)
            .await
            .map_err(|e| e.to_string());
        let report = report?;
        tracing::info!(
            repository = %job.repository,
            commit = %job.commit,
            run = %report.run_id,
            "run {:?}{}",
            report.status,
            report.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
        );
        Ok(report.run_id)
    }

    /// Records a run that could not start, failed with `reason`.
    async fn record_failure(&self, job: &Job, source: &str, stage: &str, reason: &str) {
        tracing::warn!(repository = %job.repository, commit = %job.commit, "run failed before its first stage: {reason}");
        let now = crate::ledger::now_ms();
        let new = NewRun {
            repository: worktree::shown_source(source),
            commit: Some(job.commit.clone()),
            tree_dirty: false,
            config_digest: String::new(),
            base_image: None,
            started_at: now,
        };
        let recorded = async {
            let id = self.ledger.start_run(&new).await?;
            self.ledger
                .finish_run(
                    &id,
                    &RunOutcome {
                        status: RunStatus::Failed,
                        image: None,
                        digest: None,
                        finished_at: crate::ledger::now_ms(),
                        failed_stage: Some(stage.to_string()),
                        reason: Some(reason.to_string()),
                    },
                )
                .await?;
            self.ledger
                .set_delivery_run(&job.delivery, id.as_str())
                .await
        };
        if let Err(e) = recorded.await {
            tracing::error!(repository = %job.repository, "cannot record the failed run: {e}");
        }
    }
}

impl Worker for Runner {
    fn execute(&self, job: Job) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.execute_job(job))
    }
}
