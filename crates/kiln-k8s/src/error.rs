//! The errors of the Kubernetes executor: the source a Job can run (a committed, pushed
//! git commit), its options, and the cluster.

use std::path::PathBuf;

/// What can go wrong preparing or submitting a run as a Kubernetes Job.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The project is not in a git work tree.
    #[error(
        "{0}: not in a git work tree; `kiln run --executor kubernetes` runs a commit that the \
         cluster clones (git init, commit and push first)"
    )]
    NotGit(PathBuf),
    /// The repository has no commit.
    #[error("{0}: the repository has no commit yet; commit and push the project first")]
    NoCommit(PathBuf),
    /// Tracked files differ from HEAD.
    #[error(
        "{root}: the work tree has uncommitted changes; the cluster would build commit \
         {commit}, not them: commit and push them, then run again"
    )]
    Dirty { root: PathBuf, commit: String },
    /// No remote URL and none given.
    #[error(
        "{0}: the repository has no remote to clone from; add one (git remote add origin URL) \
         or pass --repo-url"
    )]
    NoRemote(PathBuf),
    /// A remote the cluster cannot reach (a local path or file:// URL).
    #[error(
        "repository URL {0}: a cluster cannot clone a local path; push to a git server and \
         set the remote (or --repo-url) to its https:// or ssh:// URL"
    )]
    LocalRemote(String),
    /// A URL with a password or token in it, which the Job would carry in the clear.
    #[error(
        "repository URL {0}: it holds credentials, which would be written into the Job; \
         give the URL without them and put them in the Secret's git-credentials key"
    )]
    CredentialsInUrl(String),
    /// The kiln.yaml is outside the repository or not in the commit.
    #[error("{path}: {problem}")]
    Config { path: PathBuf, problem: String },
    /// An option that cannot go into a Job.
    #[error("invalid {option} {value:?}: {problem}")]
    Option {
        option: &'static str,
        value: String,
        problem: String,
    },
    /// No kubeconfig and no in-cluster configuration.
    #[error("no usable Kubernetes configuration (KUBECONFIG, ~/.kube/config or in-cluster): {0}")]
    KubeConfig(String),
    /// The API server cannot be reached.
    #[error("cannot reach the Kubernetes API at {url}: {message}")]
    Unreachable { url: String, message: String },
    /// The API server refused a request or answered something unexpected.
    #[error("Kubernetes API at {url}: {what}: {message}")]
    Api {
        url: String,
        what: String,
        message: String,
    },
    /// The Job could not be written as YAML or JSON.
    #[error("writing the Job: {0}")]
    Serialize(String),
}
