//! The commit a Kubernetes run builds: the repository URL the cluster clones, the commit,
//! the project's directory in it and the kiln.yaml, from the local git checkout. A run of
//! uncommitted changes, of a repository without a reachable remote or of a kiln.yaml that
//! is not in the commit is refused: the cluster could not build what the user sees.

use std::path::Path;

use crate::error::ExecutorError;

/// What the Job clones and runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSource {
    /// The URL the init container clones (credentials stripped).
    pub repo_url: String,
    /// The commit (40 hex digits).
    pub commit: String,
    /// The project directory inside the repository (`/`-separated, empty at the root).
    pub prefix: String,
    /// The kiln.yaml inside the repository (`/`-separated).
    pub config: String,
}

impl RunSource {
    /// Finds the source of `project_dir` with the kiln.yaml `config_file`; `repo_url`
    /// replaces the remote's URL.
    pub fn locate(
        project_dir: &Path,
        config_file: &Path,
        repo_url: Option<&str>,
    ) -> Result<RunSource, ExecutorError> {
        let dir = std::fs::canonicalize(project_dir)
            .map_err(|_| ExecutorError::NotGit(project_dir.to_path_buf()))?;
        let git = kiln_pipeline::run::git::discover(&dir)
            .ok_or_else(|| ExecutorError::NotGit(dir.clone()))?;
        let commit = git
            .commit
            .clone()
            .ok_or_else(|| ExecutorError::NoCommit(git.root.clone()))?;
        if git.dirty {
            return Err(ExecutorError::Dirty {
                root: git.root.clone(),
                commit,
            });
        }
        let repo_url = match repo_url {
            Some(u) => u.to_string(),
            None => git
                .remote_url
                .clone()
                .ok_or_else(|| ExecutorError::NoRemote(git.root.clone()))?,
        };
        check_clonable(&repo_url)?;

        let config_abs = std::fs::canonicalize(config_file).map_err(|e| ExecutorError::Config {
            path: config_file.to_path_buf(),
            problem: format!("cannot read it: {e}"),
        })?;
        let config = config_abs
            .strip_prefix(&git.root)
            .map_err(|_| ExecutorError::Config {
                path: config_abs.clone(),
                problem: format!("outside the repository {}", git.root.display()),
            })?
            .to_string_lossy()
            .replace('\\', "/");
        if !tracked(&git.root, &config) {
            return Err(ExecutorError::Config {
                path: config_abs,
                problem: format!(
                    "not in commit {commit}; the cluster clones the commit: add, commit and \
                     push it"
                ),
            });
        }
        Ok(RunSource {
            repo_url,
            commit,
            prefix: git.prefix,
            config,
        })
    }

    /// A label value naming the repository: its host and path, `[A-Za-z0-9._-]`, at most
    /// 63 characters, starting and ending with a letter or digit.
    pub fn repository_label(&self) -> String {
        repository_label(&self.repo_url)
    }
}

/// The repository part of a URL as a label value (see [`RunSource::repository_label`]).
pub fn repository_label(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let rest = rest.strip_suffix(".git").unwrap_or(rest);
    let mapped: String = rest
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // Keep the end (the repository name) when it is too long.
    let tail: String = if mapped.len() > 63 {
        mapped[mapped.len() - 63..].to_string()
    } else {
        mapped
    };
    tail.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// Refuses URLs only this machine can read.
fn check_clonable(url: &str) -> Result<(), ExecutorError> {
    let local = url.starts_with("file://")
        || url.starts_with('/')
        || url.starts_with('.')
        || !(url.contains("://") || is_scp_like(url));
    if local {
        return Err(ExecutorError::LocalRemote(url.to_string()));
    }
    if let Some((_, rest)) = url.split_once("://")
        && let Some((userinfo, _)) = rest.split_once('@')
        && !userinfo.contains('/')
        && userinfo.contains(':')
    {
        let redacted = url.replacen(userinfo, "***", 1);
        return Err(ExecutorError::CredentialsInUrl(redacted));
    }
    Ok(())
}

/// `user@host:path` or `host:path` (git's scp-like syntax), not a Windows drive.
fn is_scp_like(url: &str) -> bool {
    match url.split_once(':') {
        Some((host, path)) => {
            !host.is_empty() && host.len() > 1 && !host.contains('/') && !path.is_empty()
        }
        None => false,
    }
}

/// Whether `path` is in the tree of HEAD in the repository at `root`.
fn tracked(root: &Path, path: &str) -> bool {
    let Ok(repo) = gix::open(root) else {
        return false;
    };
    let Ok(tree) = repo.head_tree() else {
        return false;
    };
    matches!(tree.lookup_entry_by_path(path), Ok(Some(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_valid_label_values() {
        assert_eq!(
            repository_label("https://git.example/team/hello.git"),
            "git.example_team_hello"
        );
        assert_eq!(
            repository_label("git@github.com:team/hello.git"),
            "github.com_team_hello"
        );
        let long = format!("https://git.example/{}/x-", "a".repeat(100));
        let l = repository_label(&long);
        assert!(l.len() <= 63 && l.ends_with('x'), "{l}");
    }

    #[test]
    fn local_remotes_are_refused() {
        for u in [
            "/srv/git/hello.git",
            "file:///srv/git/hello",
            "../hello",
            "hello",
        ] {
            assert!(check_clonable(u).is_err(), "{u}");
        }
        for u in [
            "https://git.example/hello.git",
            "ssh://git@git.example/hello.git",
            "git@git.example:hello.git",
            "https://me@git.example/hello.git",
        ] {
            assert!(check_clonable(u).is_ok(), "{u}");
        }
        let e = check_clonable("https://me:s3cret@git.example/hello.git").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }
}
