//! Submitting a run's Job to a cluster (kube-rs, from the kubeconfig or the in-cluster
//! service account): create the Job, wait for its pod, follow the `kiln` container's log
//! line by line, then wait for the Job to finish and report how: the container's exit code
//! (`kiln run`'s: 0 passed, 1 a gate failed, 2 an error) or why the pod never ran it.

use std::time::Duration;

use futures::{AsyncBufReadExt as _, TryStreamExt as _};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kube::Client;
use kube::api::{Api, ListParams, LogParams, PostParams};
use kube::config::{Config, KubeConfigOptions};

use crate::error::ExecutorError;
use crate::job::{CLONE_CONTAINER, RUN_CONTAINER};

/// How often the Job and its pod are looked at while waiting.
const POLL: Duration = Duration::from_secs(2);

/// Where the Job goes.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// The kubeconfig context; None for the current one (or the in-cluster config).
    pub context: Option<String>,
}

/// How the Job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The Job's name and namespace.
    pub name: String,
    pub namespace: String,
    /// The Job completed.
    pub succeeded: bool,
    /// The `kiln` container's exit code, when it ran to its end.
    pub exit_code: Option<i32>,
    /// Why the Job failed when the container did not say (deadline, clone, image...).
    pub reason: Option<String>,
    /// The `kiln` container's log.
    pub log: Vec<String>,
}

impl Outcome {
    /// The run report that `kiln run --format json` printed in the pod: the last
    /// top-level JSON object of the log (a line `{` to a line `}`).
    pub fn run_report(&self) -> Option<serde_json::Value> {
        let end = self.log.iter().rposition(|l| l == "}")?;
        let start = self.log[..end].iter().rposition(|l| l == "{")?;
        serde_json::from_str(&self.log[start..=end].join("\n")).ok()
    }
}

/// Events while a Job runs, for the caller to show.
pub trait Progress {
    /// A status message (Job created, pod waiting for its image...).
    fn status(&self, message: &str);
    /// One line of the `kiln` container's log.
    fn log_line(&self, line: &str);
}

/// A client and the URL it talks to (for error messages).
struct Cluster {
    client: Client,
    url: String,
}

async fn connect(target: &Target) -> Result<Cluster, ExecutorError> {
    let config = match &target.context {
        Some(context) => Config::from_kubeconfig(&KubeConfigOptions {
            context: Some(context.clone()),
            ..Default::default()
        })
        .await
        .map_err(|e| ExecutorError::KubeConfig(chain(&e)))?,
        None => Config::infer()
            .await
            .map_err(|e| ExecutorError::KubeConfig(chain(&e)))?,
    };
    let url = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|e| ExecutorError::KubeConfig(chain(&e)))?;
    Ok(Cluster { client, url })
}

/// An error and its sources, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

impl Cluster {
    fn error(&self, what: &str, e: kube::Error) -> ExecutorError {
        match e {
            kube::Error::Api(status) => ExecutorError::Api {
                url: self.url.clone(),
                what: what.to_string(),
                message: format!("{} ({} {})", status.message, status.code, status.reason),
            },
            kube::Error::HyperError(_) | kube::Error::Service(_) => ExecutorError::Unreachable {
                url: self.url.clone(),
                message: chain(&e),
            },
            other => ExecutorError::Api {
                url: self.url.clone(),
                what: what.to_string(),
                message: chain(&other),
            },
        }
    }
}

/// Creates `job` in its namespace, follows it to its end and says how it ended.
pub async fn submit(
    job: &Job,
    target: &Target,
    progress: &dyn Progress,
) -> Result<Outcome, ExecutorError> {
    let cluster = connect(target).await?;
    let namespace = job
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| cluster.client.default_namespace().to_string());
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), &namespace);
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &namespace);

    let created = jobs
        .create(&PostParams::default(), job)
        .await
        .map_err(|e| cluster.error(&format!("creating a Job in namespace {namespace}"), e))?;
    let name = created.metadata.name.clone().unwrap_or_default();
    progress.status(&format!(
        "created Job {namespace}/{name} on {}",
        cluster.url
    ));

    let mut outcome = Outcome {
        name: name.clone(),
        namespace: namespace.clone(),
        succeeded: false,
        exit_code: None,
        reason: None,
        log: Vec::new(),
    };

    // Wait for the pod's `kiln` container to start (or for the Job to end without it).
    let selector = format!("batch.kubernetes.io/job-name={name}");
    let mut last_status = String::new();
    let pod_name = loop {
        if let Some(end) = job_end(&cluster, &jobs, &name).await? {
            outcome.reason = Some(end.1);
            break pods_of(&cluster, &pods, &selector)
                .await?
                .first()
                .and_then(|p| p.metadata.name.clone());
        }
        let list = pods_of(&cluster, &pods, &selector).await?;
        if let Some(pod) = list.first() {
            let pod_name = pod.metadata.name.clone().unwrap_or_default();
            let (started, status) = describe(pod);
            if status != last_status {
                progress.status(&format!("pod {pod_name}: {status}"));
                last_status = status;
            }
            if started {
                break Some(pod_name);
            }
        }
        tokio::time::sleep(POLL).await;
    };

    if let Some(pod_name) = &pod_name {
        let params = LogParams {
            container: Some(RUN_CONTAINER.to_string()),
            follow: true,
            ..Default::default()
        };
        match pods.log_stream(pod_name, &params).await {
            Ok(stream) => {
                let mut lines = std::pin::pin!(stream.lines());
                while let Some(line) =
                    lines
                        .try_next()
                        .await
                        .map_err(|e| ExecutorError::Unreachable {
                            url: cluster.url.clone(),
                            message: format!("reading the log of pod {pod_name}: {e}"),
                        })?
                {
                    progress.log_line(&line);
                    outcome.log.push(line);
                }
            }
            // No log when the container never started (the clone failed).
            Err(kube::Error::Api(_)) => {}
            Err(e) => return Err(cluster.error(&format!("reading the log of pod {pod_name}"), e)),
        }
    }

    // The Job's end, then the container's exit code.
    let (succeeded, reason) = loop {
        if let Some(end) = job_end(&cluster, &jobs, &name).await? {
            break end;
        }
        tokio::time::sleep(POLL).await;
    };
    outcome.succeeded = succeeded;
    if let Some(pod_name) = &pod_name {
        let pod = pods
            .get(pod_name)
            .await
            .map_err(|e| cluster.error(&format!("reading pod {pod_name}"), e))?;
        let statuses = pod.status.as_ref();
        outcome.exit_code = statuses
            .and_then(|s| s.container_statuses.as_deref())
            .and_then(|c| terminated_code(c, RUN_CONTAINER));
        let clone_code = statuses
            .and_then(|s| s.init_container_statuses.as_deref())
            .and_then(|c| terminated_code(c, CLONE_CONTAINER));
        if let Some(code) = clone_code.filter(|c| *c != 0) {
            let params = LogParams {
                container: Some(CLONE_CONTAINER.to_string()),
                tail_lines: Some(20),
                ..Default::default()
            };
            let log = pods.logs(pod_name, &params).await.unwrap_or_default();
            outcome.reason = Some(format!(
                "cloning the repository failed (exit code {code}): {}",
                log.trim()
            ));
        }
    }
    if !succeeded && outcome.reason.is_none() && outcome.exit_code.is_none() {
        outcome.reason = Some(reason);
    }
    Ok(outcome)
}

async fn pods_of(
    cluster: &Cluster,
    pods: &Api<Pod>,
    selector: &str,
) -> Result<Vec<Pod>, ExecutorError> {
    Ok(pods
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| cluster.error("listing the Job's pods", e))?
        .items)
}

/// `Some((succeeded, reason))` once the Job has finished.
async fn job_end(
    cluster: &Cluster,
    jobs: &Api<Job>,
    name: &str,
) -> Result<Option<(bool, String)>, ExecutorError> {
    let job = jobs
        .get(name)
        .await
        .map_err(|e| cluster.error(&format!("reading Job {name}"), e))?;
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    for c in conditions {
        if c.status != "True" {
            continue;
        }
        let why = || {
            format!(
                "{}{}",
                c.reason.clone().unwrap_or_default(),
                c.message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            )
        };
        match c.type_.as_str() {
            "Complete" => return Ok(Some((true, why()))),
            "Failed" => return Ok(Some((false, why()))),
            _ => {}
        }
    }
    Ok(None)
}

/// Whether the `kiln` container has started, and a one-line status of the pod.
fn describe(pod: &Pod) -> (bool, String) {
    let status = pod.status.as_ref();
    let phase = status
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Pending".into());
    let waiting = |c: &[ContainerStatus]| {
        c.iter().find_map(|c| {
            let w = c.state.as_ref()?.waiting.as_ref()?;
            let reason = w.reason.clone().unwrap_or_default();
            if reason.is_empty() || reason == "PodInitializing" {
                return None;
            }
            Some(format!(
                "{} {reason}{}",
                c.name,
                w.message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ))
        })
    };
    let run = status
        .and_then(|s| s.container_statuses.as_deref())
        .and_then(|c| c.iter().find(|c| c.name == RUN_CONTAINER));
    let started = run
        .and_then(|c| c.state.as_ref())
        .is_some_and(|s| s.running.is_some() || s.terminated.is_some());
    let detail = status
        .and_then(|s| s.init_container_statuses.as_deref())
        .and_then(waiting)
        .or_else(|| {
            status
                .and_then(|s| s.container_statuses.as_deref())
                .and_then(waiting)
        });
    let text = match detail {
        Some(d) => format!("{phase} ({d})"),
        None => phase,
    };
    (started, text)
}

fn terminated_code(statuses: &[ContainerStatus], name: &str) -> Option<i32> {
    statuses
        .iter()
        .find(|c| c.name == name)?
        .state
        .as_ref()?
        .terminated
        .as_ref()
        .map(|t| t.exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_report_is_found_among_the_log_lines() {
        let lines = [
            "secrets  ok          3 ms  no findings",
            "{",
            "  \"run_id\": \"r1\",",
            "  \"stages\": []",
            "}",
            "run r1 succeeded",
        ];
        let mut outcome = Outcome {
            name: "j".into(),
            namespace: "kiln".into(),
            succeeded: true,
            exit_code: Some(0),
            reason: None,
            log: lines.iter().map(|l| l.to_string()).collect(),
        };
        assert_eq!(outcome.run_report().unwrap()["run_id"], "r1");
        outcome.log.truncate(3);
        assert!(outcome.run_report().is_none());
    }
}
