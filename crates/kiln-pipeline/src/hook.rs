//! `kiln hook`: for teams without a forge, a `post-receive` hook in a bare repository that
//! tells `kiln server` about every pushed branch. [`install`] writes the hook (a small
//! shell script that pipes git's `OLD NEW REF` lines to `kiln hook notify`); [`notify`]
//! signs one JSON body per updated branch with HMAC-SHA256 (the server's `/hooks/git`) and
//! posts it. The hook never fails a push: the refs are already updated when it runs, and a
//! server that cannot be reached only produces a warning.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::server::forge::{self, GitHookBody, KILN_SIGNATURE_HEADER};

/// The line that marks a hook as Kiln's (so reinstalling replaces it without `--force`).
pub const MARKER: &str = "# kiln post-receive hook";
/// How long one notification may take.
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a hook could not be installed or a notification sent.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{}: not a git repository (no HEAD and objects/)", .0.display())]
    NotARepository(PathBuf),
    #[error("{}: a post-receive hook that is not Kiln's is already there (use --force to replace it)", .0.display())]
    ForeignHook(PathBuf),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("sending to {url}: {reason}")]
    Send { url: String, reason: String },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> HookError {
    let path = path.to_path_buf();
    move |source| HookError::Io { what, path, source }
}

/// What [`install`] is asked to write.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// The bare repository (or a work tree's `.git`).
    pub repo: PathBuf,
    /// The server's base URL (`http://host:port`).
    pub server: String,
    /// The file holding the webhook secret shared with the server.
    pub secret_file: PathBuf,
    /// The repository's name in the server configuration.
    pub name: String,
    /// The `kiln` executable the hook runs.
    pub kiln: PathBuf,
    /// Replace a hook that is not Kiln's.
    pub force: bool,
}

/// `s` quoted for a POSIX shell.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The hook script.
pub fn script(o: &InstallOptions) -> String {
    format!(
        "#!/bin/sh\n{MARKER} (written by `kiln hook install`).\n\
         # Tells kiln server about each pushed branch. The push has already succeeded when\n\
         # this runs; if the server cannot be reached, it only warns.\n\
         {} hook notify --server {} --secret-file {} --name {} \\\n  \
         || echo \"kiln: the server was not notified; the push itself succeeded\" >&2\n\
         exit 0\n",
        sh_quote(&o.kiln.display().to_string()),
        sh_quote(&o.server),
        sh_quote(&o.secret_file.display().to_string()),
        sh_quote(&o.name),
    )
}

/// The git directory of `repo`: itself when bare, `repo/.git` for a work tree.
fn git_dir(repo: &Path) -> Result<PathBuf, HookError> {
    for d in [repo.to_path_buf(), repo.join(".git")] {
        if d.join("HEAD").is_file() && d.join("objects").is_dir() {
            return Ok(d);
        }
    }
    Err(HookError::NotARepository(repo.to_path_buf()))
}

fn check_server_url(url: &str) -> Result<(), HookError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(HookError::Invalid(format!(
            "--server {url:?}: expected http://HOST:PORT or https://HOST"
        )));
    }
    Ok(())
}

/// Writes `hooks/post-receive` (mode 0755); returns its path.
pub fn install(o: &InstallOptions) -> Result<PathBuf, HookError> {
    check_server_url(&o.server)?;
    if o.name.trim().is_empty() {
        return Err(HookError::Invalid("--name is empty".into()));
    }
    let dir = git_dir(&o.repo)?;
    let secret_file =
        std::path::absolute(&o.secret_file).map_err(io("secret file", &o.secret_file))?;
    read_secret(&secret_file)?;
    let hook = dir.join("hooks").join("post-receive");
    if let Ok(existing) = std::fs::read_to_string(&hook)
        && !existing.contains(MARKER)
        && !o.force
    {
        return Err(HookError::ForeignHook(hook));
    }
    if hook.exists() && !o.force && std::fs::read_to_string(&hook).is_err() {
        return Err(HookError::ForeignHook(hook));
    }
    let hooks = dir.join("hooks");
    std::fs::create_dir_all(&hooks).map_err(io("creating", &hooks))?;
    let opts = InstallOptions {
        secret_file,
        ..o.clone()
    };
    let text = script(&opts);
    let tmp = hooks.join(format!(".post-receive.tmp-{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(io("writing", &tmp))?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
            .map_err(io("making executable", &tmp))?;
    }
    std::fs::rename(&tmp, &hook).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io("writing", &hook)(e)
    })?;
    Ok(hook)
}

/// Reads the shared secret (trimmed; empty is an error).
pub fn read_secret(path: &Path) -> Result<zeroize::Zeroizing<Vec<u8>>, HookError> {
    let text = zeroize::Zeroizing::new(std::fs::read(path).map_err(io("reading secret", path))?);
    let trimmed = text.trim_ascii();
    if trimmed.is_empty() {
        return Err(HookError::Invalid(format!(
            "secret file {}: empty",
            path.display()
        )));
    }
    Ok(zeroize::Zeroizing::new(trimmed.to_vec()))
}

/// One updated ref as git hands it to post-receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    pub before: String,
    pub after: String,
    pub git_ref: String,
}

/// Parses post-receive input (`OLD NEW REF` per line); branch deletions and refs that are
/// not branches are left out (the server builds branches).
pub fn parse_updates(input: &str) -> Result<Vec<RefUpdate>, HookError> {
    let mut out = Vec::new();
    for (i, line) in input.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [before, after, git_ref] = parts.as_slice() else {
            return Err(HookError::Invalid(format!(
                "line {}: expected \"OLD NEW REF\", got {line:?}",
                i + 1
            )));
        };
        if after.bytes().all(|b| b == b'0') || !git_ref.starts_with("refs/heads/") {
            continue;
        }
        out.push(RefUpdate {
            before: before.to_string(),
            after: after.to_string(),
            git_ref: git_ref.to_string(),
        });
    }
    Ok(out)
}

/// The signed request for one update: (body, signature header value).
pub fn signed_body(secret: &[u8], name: &str, u: &RefUpdate) -> (Vec<u8>, String) {
    let body = GitHookBody {
        repository: name.to_string(),
        git_ref: u.git_ref.clone(),
        before: u.before.clone(),
        after: u.after.clone(),
        delivery: uuid::Uuid::now_v7().hyphenated().to_string(),
        timestamp: crate::ledger::now_ms() / 1000,
    };
    // A struct of strings and an integer always serializes.
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let sig = format!("sha256={}", forge::sign_hex(secret, &bytes));
    (bytes, sig)
}

/// What the server said about one update.
#[derive(Debug, Clone)]
pub struct Notified {
    pub git_ref: String,
    pub status: u16,
    pub body: String,
}

/// Posts each update to `server`'s `/hooks/git`. An unreachable server is an error; a
/// server's refusal is reported in [`Notified::status`].
pub async fn notify(
    server: &str,
    secret: &[u8],
    name: &str,
    updates: &[RefUpdate],
) -> Result<Vec<Notified>, HookError> {
    check_server_url(server)?;
    let url = format!("{}/hooks/git", server.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(NOTIFY_TIMEOUT)
        .build()
        .map_err(|e| HookError::Send {
            url: url.clone(),
            reason: e.to_string(),
        })?;
    let mut out = Vec::new();
    for u in updates {
        let (body, sig) = signed_body(secret, name, u);
        let resp = client
            .post(&url)
            .header("content-type", "application/json")
            .header(KILN_SIGNATURE_HEADER, sig)
            .body(body)
            .send()
            .await
            .map_err(|e| HookError::Send {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        out.push(Notified {
            git_ref: u.git_ref.clone(),
            status,
            body: text.chars().take(500).collect(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates() {
        let z = "0".repeat(40);
        let a = "a".repeat(40);
        let input =
            format!("{z} {a} refs/heads/main\n{a} {z} refs/heads/old\n{z} {a} refs/tags/v1\n\n");
        let u = parse_updates(&input).unwrap();
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].git_ref, "refs/heads/main");
        assert!(parse_updates("garbage\n").is_err());
    }

    #[test]
    fn scripts_quote_everything() {
        let o = InstallOptions {
            repo: "/r".into(),
            server: "http://127.0.0.1:1".into(),
            secret_file: "/s/it's".into(),
            name: "a b".into(),
            kiln: "/usr/bin/kiln".into(),
            force: false,
        };
        let s = script(&o);
        assert!(s.contains(MARKER));
        assert!(s.contains(r"'/s/it'\''s'"), "{s}");
        assert!(s.contains("--name 'a b'"), "{s}");
        assert!(s.ends_with("exit 0\n"));
    }

    #[test]
    fn bodies_are_signed() {
        let u = RefUpdate {
            before: "0".repeat(40),
            after: "b".repeat(40),
            git_ref: "refs/heads/main".into(),
        };
        let (body, sig) = signed_body(b"k", "hello", &u);
        let hex_sig = sig.strip_prefix("sha256=").unwrap();
        assert!(forge::verify_hex(b"k", &body, hex_sig));
        let parsed: GitHookBody = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed.repository, "hello");
    }

    #[test]
    fn foreign_hooks_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("r.git");
        std::fs::create_dir_all(repo.join("objects")).unwrap();
        std::fs::create_dir_all(repo.join("hooks")).unwrap();
        std::fs::write(repo.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cret\n").unwrap();
        std::fs::write(repo.join("hooks/post-receive"), "#!/bin/sh\necho mine\n").unwrap();
        let mut o = InstallOptions {
            repo: repo.clone(),
            server: "http://127.0.0.1:1".into(),
            secret_file: secret,
            name: "r".into(),
            kiln: "/usr/bin/kiln".into(),
            force: false,
        };
        assert!(matches!(install(&o), Err(HookError::ForeignHook(_))));
        o.force = true;
        let hook = install(&o).unwrap();
        o.force = false;
        // Kiln's own hook is replaced without --force.
        install(&o).unwrap();
        let text = std::fs::read_to_string(&hook).unwrap();
        assert!(!text.contains("s3cret"));
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&hook).unwrap().permissions().mode() & 0o777,
            0o755
        );
        o.repo = dir.path().to_path_buf();
        assert!(matches!(install(&o), Err(HookError::NotARepository(_))));
    }
}
