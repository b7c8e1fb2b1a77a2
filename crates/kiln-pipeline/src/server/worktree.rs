//! Clean work trees for runs, with the `git` CLI: each repository has a cached bare mirror
//! (`WORK/mirrors/NAME.git`, `git clone --mirror`, then `git fetch` per push); each run
//! gets a fresh detached `git worktree` at the pushed commit (`WORK/trees/NAME/ID`),
//! removed afterwards. The run's `.kiln/` (local image layout, signing keys, evidence,
//! last run) is a link to the repository's persistent state (`WORK/state/NAME`), so keys
//! and images outlive the work tree; the mirror's `info/exclude` hides it from git.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::config::Repository;

/// A git operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {reason}")]
pub struct GitError {
    pub what: String,
    pub reason: String,
}

/// The places of one repository under the work directory.
#[derive(Debug, Clone)]
pub struct Places {
    pub mirror: PathBuf,
    pub trees: PathBuf,
    pub state: PathBuf,
}

impl Places {
    pub fn new(work_dir: &Path, repo: &Repository) -> Places {
        let name = repo.dir_name();
        Places {
            mirror: work_dir.join("mirrors").join(format!("{name}.git")),
            trees: work_dir.join("trees").join(&name),
            state: work_dir.join("state").join(&name),
        }
    }
}

/// A checked-out commit.
#[derive(Debug)]
pub struct Checkout {
    pub dir: PathBuf,
    mirror: PathBuf,
}

/// A repository source as it may be shown: `https://user:token@host/x` → `https://host/x`.
pub fn shown_source(source: &str) -> String {
    match source.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((auth, host)) if !auth.contains('/') => format!("{scheme}://{host}"),
            _ => source.to_string(),
        },
        None => source.to_string(),
    }
}

/// `text` with `source` replaced by its form without credentials.
fn redact(text: &str, source: &str) -> String {
    let shown = shown_source(source);
    if source.is_empty() || shown == source {
        text.to_string()
    } else {
        text.replace(source, &shown)
    }
}

fn git(args: &[&str], cwd: Option<&Path>, source: &str, what: &str) -> Result<String, GitError> {
    let mut c = Command::new("git");
    c.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    let out = c.output().map_err(|e| GitError {
        what: what.to_string(),
        reason: format!("cannot run git: {e}"),
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(GitError {
            what: what.to_string(),
            reason: redact(&tail.join("; "), source),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn io_err(what: String) -> impl FnOnce(std::io::Error) -> GitError {
    move |e| GitError {
        what,
        reason: e.to_string(),
    }
}

/// Makes sure the mirror exists and has `commit` (fetching when it has not).
pub fn sync_mirror(repo: &Repository, places: &Places, commit: &str) -> Result<(), GitError> {
    let source = repo.source.as_str();
    let mirror = &places.mirror;
    let shown = redact(source, source);
    if !mirror.join("HEAD").exists() {
        let parent = mirror.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(io_err(parent.display().to_string()))?;
        let tmp = parent.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        ));
        let tmp_s = tmp.to_string_lossy().into_owned();
        git(
            &["clone", "--mirror", "--quiet", "--", source, &tmp_s],
            None,
            source,
            &format!("cloning {shown}"),
        )
        .inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&tmp);
        })?;
        let exclude = tmp.join("info");
        std::fs::create_dir_all(&exclude).map_err(io_err(exclude.display().to_string()))?;
        std::fs::write(exclude.join("exclude"), "/.kiln\n")
            .map_err(io_err(exclude.display().to_string()))?;
        if let Err(e) = std::fs::rename(&tmp, mirror) {
            let _ = std::fs::remove_dir_all(&tmp);
            if !mirror.join("HEAD").exists() {
                return Err(io_err(mirror.display().to_string())(e));
            }
        }
    } else if !has_commit(mirror, commit, source) {
        git(
            &["fetch", "--prune", "--quiet", "origin"],
            Some(mirror),
            source,
            &format!("fetching {shown}"),
        )?;
    }
    if !has_commit(mirror, commit, source) {
        // The commit may be on no branch the mirror fetches (a force-push since): ask for it.
        let _ = git(
            &["fetch", "--quiet", "origin", commit],
            Some(mirror),
            source,
            "fetching one commit",
        );
    }
    if !has_commit(mirror, commit, source) {
        return Err(GitError {
            what: format!("fetching {shown}"),
            reason: format!("commit {commit} is not in the repository"),
        });
    }
    Ok(())
}

fn has_commit(mirror: &Path, commit: &str, source: &str) -> bool {
    git(
        &["cat-file", "-e", &format!("{commit}^{{commit}}")],
        Some(mirror),
        source,
        "cat-file",
    )
    .is_ok()
}

/// Checks `commit` out in a fresh work tree, its `.kiln/` linked to the state directory.
pub fn checkout(places: &Places, commit: &str, source: &str) -> Result<Checkout, GitError> {
    std::fs::create_dir_all(&places.trees).map_err(io_err(places.trees.display().to_string()))?;
    std::fs::create_dir_all(&places.state).map_err(io_err(places.state.display().to_string()))?;
    let dir = places.trees.join(uuid::Uuid::now_v7().simple().to_string());
    let dir_s = dir.to_string_lossy().into_owned();
    git(
        &["worktree", "add", "--quiet", "--detach", &dir_s, commit],
        Some(&places.mirror),
        source,
        &format!("checking out {commit}"),
    )?;
    let checkout = Checkout {
        dir,
        mirror: places.mirror.clone(),
    };
    link_state(&checkout.dir, &places.state)?;
    Ok(checkout)
}

/// `.kiln` → the state directory; when the repository tracks a `.kiln/` of its own, its
/// `oci`, `keys` and `evidence` are linked one by one instead.
fn link_state(dir: &Path, state: &Path) -> Result<(), GitError> {
    let kiln = dir.join(".kiln");
    let link = |from: &Path, to: &Path| {
        std::os::unix::fs::symlink(to, from).map_err(io_err(format!("linking {}", from.display())))
    };
    if std::fs::symlink_metadata(&kiln).is_err() {
        return link(&kiln, state);
    }
    for sub in ["oci", "keys", "evidence"] {
        let to = state.join(sub);
        std::fs::create_dir_all(&to).map_err(io_err(to.display().to_string()))?;
        let from = kiln.join(sub);
        if std::fs::symlink_metadata(&from).is_err() {
            link(&from, &to)?;
        }
    }
    Ok(())
}

impl Checkout {
    /// Removes the work tree (the links go, never what they point at).
    pub fn remove(self) -> Result<(), GitError> {
        let kiln = self.dir.join(".kiln");
        if std::fs::symlink_metadata(&kiln).is_ok_and(|m| m.file_type().is_symlink()) {
            let _ = std::fs::remove_file(&kiln);
        } else {
            for sub in ["oci", "keys", "evidence"] {
                let p = kiln.join(sub);
                if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
        let dir_s = self.dir.to_string_lossy().into_owned();
        let r = git(
            &["worktree", "remove", "--force", &dir_s],
            Some(&self.mirror),
            "",
            "removing the work tree",
        );
        if self.dir.exists() {
            let _ = std::fs::remove_dir_all(&self.dir);
            let _ = git(
                &["worktree", "prune"],
                Some(&self.mirror),
                "",
                "worktree prune",
            );
        }
        r.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_shown() {
        let src = "https://bot:tok3n@git.example/a.git";
        let msg = redact(&format!("fatal: could not read {src}"), src);
        assert!(!msg.contains("tok3n"), "{msg}");
        assert!(msg.contains("git.example/a.git"), "{msg}");
        assert_eq!(redact("x /srv/a.git", "/srv/a.git"), "x /srv/a.git");
    }
}
