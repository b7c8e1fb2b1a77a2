//! The source a run builds: the git repository around the project directory (gitoxide),
//! its commit, branch, fetch URL and whether the work tree has uncommitted changes.

use std::path::{Path, PathBuf};

use crate::provenance::ResourceDescriptor;

/// The git state of the project, when it is in a git work tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    /// The repository's work tree root.
    pub root: PathBuf,
    /// The project directory relative to `root` (`/`-separated, empty at the root).
    pub prefix: String,
    /// The commit HEAD points at (hex), None in a repository without commits.
    pub commit: Option<String>,
    /// `refs/heads/…` when HEAD is on a branch.
    pub head_ref: Option<String>,
    /// The default remote's fetch URL.
    pub remote_url: Option<String>,
    /// Tracked files differ from HEAD.
    pub dirty: bool,
}

impl GitSource {
    /// The SLSA resolved dependency naming this source (`git+URL@REF`, `gitCommit`).
    pub fn descriptor(&self) -> Option<ResourceDescriptor> {
        let commit = self.commit.as_deref()?;
        let url = match &self.remote_url {
            Some(u) if u.contains("://") => u.clone(),
            Some(u) => format!("ssh://{u}"),
            None => format!("file://{}", self.root.display()),
        };
        let uri = match &self.head_ref {
            Some(r) => format!("git+{url}@{r}"),
            None => format!("git+{url}"),
        };
        let mut d = ResourceDescriptor::new(uri, "gitCommit", commit);
        if !self.prefix.is_empty() {
            d.annotations.insert("path".into(), self.prefix.clone());
        }
        Some(d)
    }
}

/// Looks for the git repository holding `dir` (already canonical). None when there is none
/// or it cannot be read (a run of a plain directory).
pub fn discover(dir: &Path) -> Option<GitSource> {
    let repo = gix::discover(dir).ok()?;
    let root = repo.workdir()?.to_path_buf();
    let root = std::fs::canonicalize(&root).unwrap_or(root);
    let prefix = dir
        .strip_prefix(&root)
        .ok()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default();
    let commit = repo.head_id().ok().map(|id| id.detach().to_string());
    let head_ref = repo
        .head_name()
        .ok()
        .flatten()
        .map(|n| n.as_bstr().to_string());
    let remote_url = repo
        .find_default_remote(gix::remote::Direction::Fetch)
        .and_then(Result::ok)
        .and_then(|r| {
            r.url(gix::remote::Direction::Fetch)
                .map(|u| u.to_bstring().to_string())
        })
        .map(|u| strip_credentials(&u));
    let dirty = commit.is_some() && repo.is_dirty().unwrap_or(true);
    Some(GitSource {
        root,
        prefix,
        commit,
        head_ref,
        remote_url,
        dirty,
    })
}

/// `https://user:token@host/x` → `https://host/x`: credentials never reach provenance.
fn strip_credentials(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((auth, host)) = rest.split_once('@')
        && !auth.contains('/')
    {
        return format!("{scheme}://{host}");
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_dropped() {
        assert_eq!(
            strip_credentials("https://me:s3cret@git.example/a/b.git"),
            "https://git.example/a/b.git"
        );
        assert_eq!(
            strip_credentials("git@github.com:a/b.git"),
            "git@github.com:a/b.git"
        );
    }

    #[test]
    fn descriptor_names_the_commit() {
        let g = GitSource {
            root: "/src/hello".into(),
            prefix: "app".into(),
            commit: Some("c27d339ee6075c1f744c5d4b200f7901aad2c369".into()),
            head_ref: Some("refs/heads/main".into()),
            remote_url: Some("https://example.com/hello.git".into()),
            dirty: false,
        };
        let d = g.descriptor().unwrap();
        assert_eq!(d.uri, "git+https://example.com/hello.git@refs/heads/main");
        assert_eq!(
            d.digest["gitCommit"],
            "c27d339ee6075c1f744c5d4b200f7901aad2c369"
        );
        assert_eq!(d.annotations["path"], "app");
    }
}
