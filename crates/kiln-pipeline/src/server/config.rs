//! The server configuration (`kiln server --config server.yaml`): where it listens, its
//! ledger and work directory, the run limits, the repositories it builds with their webhook
//! secrets, the admission report token and the scheduled database update. Parsed strictly:
//! an unknown field is an error naming the field with its line and column, like kiln.yaml.
//!
//! ```yaml
//! listen: 127.0.0.1:8080
//! tls: { cert: server.crt, key: server.key }      # optional: HTTPS
//! ledger: sqlite:///var/lib/kiln/ledger.db         # or postgres://…
//! work_dir: /var/lib/kiln/server                   # mirrors, work trees, per-repository state
//! max_concurrent_runs: 2
//! max_queued: 32
//! body_limit: 1048576
//! admission_token: { env: KILN_ADMISSION_TOKEN }   # POST /api/v1/admitted
//! db_update_interval: 6h                           # optional: kiln db update, then re-scan
//! db_source: https://osv-vulnerabilities.storage.googleapis.com   # or a local directory
//! db: /var/lib/kiln/vuln.db                        # default: $KILN_VULN_DB, else kiln's
//! notifications: { webhook: https://hooks.example/kiln, format: slack }  # re-scan findings
//! repositories:
//!   - name: acme/hello                             # the forge's full name (or a plain name)
//!     source: https://git.example/acme/hello.git   # or a local path
//!     secret: { file: /etc/kiln/hello.secret }     # or { env: NAME }
//!     gitlab_signing_token: { env: HELLO_WHSEC }   # optional: GitLab's webhook-signature
//!     forges: [github, gitlab, gitea, git]         # default: all
//!     branches: [main, "release/*"]                # default: all
//! ```
//!
//! Secrets are read when the configuration is loaded and kept in [`Secret`], whose `Debug`
//! never shows them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use zeroize::Zeroizing;

/// The largest configuration file accepted.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// The default request body limit (GitHub caps payloads at 25 MB; pushes are far smaller).
pub const DEFAULT_BODY_LIMIT: usize = 5 * 1024 * 1024;

/// What was wrong with a server configuration: the same errors as a `kiln.yaml`'s (file,
/// size limit, YAML or schema error with line and column, invalid field).
pub use crate::config::ConfigError as ServerConfigError;

/// A secret value (webhook secret, token). Never shown by `Debug`.
#[derive(Clone)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(Zeroizing::new(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where a secret comes from, as written in the file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    /// A file holding the secret (surrounding whitespace is trimmed).
    pub file: Option<PathBuf>,
    /// An environment variable holding it.
    pub env: Option<String>,
}

/// A forge whose webhooks a repository accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Forge {
    Github,
    Gitlab,
    /// Gitea and Forgejo.
    Gitea,
    /// `kiln hook notify` from a post-receive hook.
    Git,
}

impl Forge {
    pub const ALL: [Forge; 4] = [Forge::Github, Forge::Gitlab, Forge::Gitea, Forge::Git];

    pub fn name(self) -> &'static str {
        match self {
            Forge::Github => "github",
            Forge::Gitlab => "gitlab",
            Forge::Gitea => "gitea",
            Forge::Git => "git",
        }
    }
}

/// `tls:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    tls: Option<TlsFiles>,
    ledger: Option<String>,
    work_dir: Option<PathBuf>,
    max_concurrent_runs: Option<usize>,
    max_queued: Option<usize>,
    body_limit: Option<usize>,
    admission_token: Option<SecretSource>,
    db_update_interval: Option<String>,
    db_source: Option<String>,
    db: Option<PathBuf>,
    insecure_registry: Option<bool>,
    notifications: Option<Notifications>,
    #[serde(default)]
    repositories: Vec<RawRepository>,
}

/// `notifications:`: where re-scans with new findings are announced.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    /// An http(s) URL.
    pub webhook: String,
    /// `json` (Kiln's document, the default) or `slack`.
    #[serde(default)]
    pub format: crate::notify::NotifyFormat,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepository {
    name: String,
    source: String,
    secret: SecretSource,
    gitlab_signing_token: Option<SecretSource>,
    forges: Option<Vec<Forge>>,
    branches: Option<Vec<String>>,
}

/// A repository the server builds.
#[derive(Debug, Clone)]
pub struct Repository {
    /// Its name: matched against the forge's full name (`owner/repo`) or plain name.
    pub name: String,
    /// Where it is fetched from: a local path or a URL.
    pub source: String,
    /// The webhook secret (HMAC key; GitLab's token).
    pub secret: Secret,
    /// GitLab's signing token (`whsec_<base64>`), decoded, when configured.
    pub gitlab_signing_key: Option<Secret>,
    pub forges: Vec<Forge>,
    /// Branch names or `prefix/*` patterns; empty: every branch.
    pub branches: Vec<String>,
}

impl Repository {
    /// Whether a push to `git_ref` (`refs/heads/NAME`) is built.
    pub fn builds_ref(&self, git_ref: &str) -> bool {
        let Some(branch) = git_ref.strip_prefix("refs/heads/") else {
            return false;
        };
        self.branches.is_empty()
            || self.branches.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => branch.starts_with(prefix),
                None => branch == p,
            })
    }

    /// Whether its name is `full_name` or `name` (case-insensitive: forges treat them so).
    pub fn is_named(&self, names: &[&str]) -> bool {
        names
            .iter()
            .any(|n| !n.is_empty() && n.eq_ignore_ascii_case(&self.name))
    }

    /// A name safe as a directory name.
    pub fn dir_name(&self) -> String {
        self.name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}

/// The whole server configuration, checked, with its secrets read.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub tls: Option<TlsFiles>,
    pub ledger: String,
    pub work_dir: PathBuf,
    pub max_concurrent_runs: usize,
    pub max_queued: usize,
    pub body_limit: usize,
    pub admission_token: Option<Secret>,
    pub db_update_interval: Option<Duration>,
    pub db_source: Option<String>,
    /// The vulnerability database the runs and re-scans use (default: kiln-vuln's).
    pub db: Option<PathBuf>,
    /// Plain HTTP to registries off loopback.
    pub insecure_registry: bool,
    /// Where re-scans with new findings are announced.
    pub notifications: Option<Notifications>,
    pub repositories: Vec<Repository>,
}

/// Values given on the command line, which win over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub ledger: Option<String>,
    pub work_dir: Option<PathBuf>,
}

/// `6h`, `30m`, `45s`, `1d` (a positive number and one unit).
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{t:?}: give a unit: s, m, h or d (e.g. 6h)"))?;
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{t:?}: expected a number and a unit (e.g. 6h)"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("{t:?}: unknown unit {unit:?} (s, m, h or d)")),
    };
    if n == 0 {
        return Err(format!("{t:?}: must be more than zero"));
    }
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{t:?}: too long"))
}

impl ServerConfig {
    /// Reads, checks and completes (secrets read, relative paths made absolute against the
    /// file's directory) the configuration at `path`, then applies `overrides`.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<ServerConfig, ServerConfigError> {
        let text = crate::config::read_config_file(path)?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        ServerConfig::parse(&text, path, base, overrides, &|k| std::env::var(k).ok())
    }

    /// A configuration made only of command-line values (no repositories).
    pub fn from_overrides(overrides: &Overrides) -> Result<ServerConfig, ServerConfigError> {
        ServerConfig::parse(
            "",
            Path::new("(command line)"),
            Path::new("."),
            overrides,
            &|k| std::env::var(k).ok(),
        )
    }

    /// Parses `text`; `path` names it in errors, `base` anchors relative paths, `env`
    /// reads environment variables.
    pub fn parse(
        text: &str,
        path: &Path,
        base: &Path,
        overrides: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ServerConfig, ServerConfigError> {
        let raw: RawConfig = if text.trim().is_empty() {
            serde_norway::from_str("{}").map_err(|e| crate::config::yaml_error(path, text, e))?
        } else {
            serde_norway::from_str(text).map_err(|e| crate::config::yaml_error(path, text, e))?
        };
        let invalid = |field: &str, reason: String| ServerConfigError::Invalid {
            path: path.to_path_buf(),
            field: field.to_string(),
            reason,
        };
        let abs = |p: &Path| -> PathBuf {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let listen_text = overrides
            .listen
            .clone()
            .or(raw.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".to_string());
        let listen: SocketAddr = listen_text.parse().map_err(|e| {
            invalid(
                "listen",
                format!("{listen_text:?} is not an address and port: {e}"),
            )
        })?;
        let work_dir = overrides
            .work_dir
            .clone()
            .or(raw.work_dir.map(|p| abs(&p)))
            .unwrap_or_else(|| PathBuf::from(".kiln/server"));
        let ledger = match overrides.ledger.clone().or(raw.ledger) {
            Some(l) => sqlite_relative(&l, base),
            None => format!("sqlite://{}", work_dir.join("ledger.db").display()),
        };
        let max_concurrent_runs = raw.max_concurrent_runs.unwrap_or(2);
        if max_concurrent_runs == 0 {
            return Err(invalid("max_concurrent_runs", "must be at least 1".into()));
        }
        let max_queued = raw.max_queued.unwrap_or(32);
        let body_limit = raw.body_limit.unwrap_or(DEFAULT_BODY_LIMIT);
        if body_limit < 1024 {
            return Err(invalid("body_limit", "must be at least 1024 bytes".into()));
        }
        let admission_token = raw
            .admission_token
            .as_ref()
            .map(|s| read_secret(s, &abs, env).map_err(|r| invalid("admission_token", r)))
            .transpose()?;
        let db_update_interval = raw
            .db_update_interval
            .as_deref()
            .map(|t| parse_interval(t).map_err(|r| invalid("db_update_interval", r)))
            .transpose()?;
        if let Some(n) = &raw.notifications {
            crate::notify::Notifier::new(&n.webhook, n.format)
                .map_err(|e| invalid("notifications.webhook", e.to_string()))?;
        }
        let notifications = raw.notifications;
        let mut repositories = Vec::new();
        for (i, r) in raw.repositories.into_iter().enumerate() {
            let field = |f: &str| format!("repositories[{i}].{f}");
            if r.name.trim().is_empty() {
                return Err(invalid(&field("name"), "empty".into()));
            }
            if repositories
                .iter()
                .any(|x: &Repository| x.is_named(&[&r.name]))
            {
                return Err(invalid(
                    &field("name"),
                    format!("{:?} is listed twice", r.name),
                ));
            }
            if r.source.trim().is_empty() {
                return Err(invalid(&field("source"), "empty".into()));
            }
            let source = if r.source.contains("://") || r.source.contains('@') {
                r.source.clone()
            } else {
                abs(Path::new(&r.source)).display().to_string()
            };
            let secret =
                read_secret(&r.secret, &abs, env).map_err(|e| invalid(&field("secret"), e))?;
            let gitlab_signing_key = r
                .gitlab_signing_token
                .as_ref()
                .map(|s| {
                    let token = read_secret(s, &abs, env)?;
                    super::forge::decode_whsec(token.expose()).map(Secret::new)
                })
                .transpose()
                .map_err(|e| invalid(&field("gitlab_signing_token"), e))?;
            let forges = r.forges.unwrap_or_else(|| Forge::ALL.to_vec());
            if forges.is_empty() {
                return Err(invalid(&field("forges"), "name at least one forge".into()));
            }
            let branches = r.branches.unwrap_or_default();
            if let Some(b) = branches
                .iter()
                .find(|b| b.is_empty() || b.trim_end_matches('*').contains('*'))
            {
                return Err(invalid(
                    &field("branches"),
                    format!("{b:?}: a branch name, or a prefix ending in *"),
                ));
            }
            repositories.push(Repository {
                name: r.name,
                source,
                secret,
                gitlab_signing_key,
                forges,
                branches,
            });
        }
        Ok(ServerConfig {
            listen,
            tls: raw.tls.map(|t| TlsFiles {
                cert: abs(&t.cert),
                key: abs(&t.key),
            }),
            ledger,
            work_dir,
            max_concurrent_runs,
            max_queued,
            body_limit,
            admission_token,
            db_update_interval,
            db_source: raw.db_source,
            db: raw.db.map(|p| abs(&p)),
            insecure_registry: raw.insecure_registry.unwrap_or(false),
            notifications,
            repositories,
        })
    }

    /// The repository with this name (forge full name or plain name).
    pub fn repository(&self, names: &[&str]) -> Option<&Repository> {
        self.repositories.iter().find(|r| r.is_named(names))
    }
}

/// A relative `sqlite://PATH` made absolute against `base`.
fn sqlite_relative(url: &str, base: &Path) -> String {
    for prefix in ["sqlite://", "sqlite:"] {
        if let Some(p) = url.strip_prefix(prefix)
            && !p.starts_with('/')
            && !p.is_empty()
        {
            return format!("sqlite://{}", base.join(p).display());
        }
    }
    url.to_string()
}

/// Reads a secret from its file or environment variable (exactly one of them).
fn read_secret(
    source: &SecretSource,
    abs: &dyn Fn(&Path) -> PathBuf,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Secret, String> {
    let value = match (&source.file, &source.env) {
        (Some(f), None) => {
            let p = abs(f);
            let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| format!("{}: the secret is not UTF-8 text", p.display()))?;
            Zeroizing::new(text)
        }
        (None, Some(name)) => Zeroizing::new(
            env(name).ok_or_else(|| format!("the environment variable {name} is not set"))?,
        ),
        _ => return Err("give exactly one of file: or env:".into()),
    };
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("the secret is empty".into());
    }
    Ok(Secret::new(trimmed.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ServerConfig, ServerConfigError> {
        ServerConfig::parse(
            text,
            Path::new("server.yaml"),
            Path::new("/etc/kiln"),
            &Overrides::default(),
            &|k| (k == "HELLO_SECRET").then(|| "s3cret\n".to_string()),
        )
    }

    #[test]
    fn full_config() {
        let c = parse(
            "listen: 127.0.0.1:9000\nledger: sqlite://db/ledger.db\nwork_dir: work\n\
             max_concurrent_runs: 3\nmax_queued: 5\ndb_update_interval: 6h\n\
             repositories:\n  - name: acme/hello\n    source: repos/hello\n\
             \x20   secret: { env: HELLO_SECRET }\n    forges: [github, git]\n\
             \x20   branches: [main, \"release/*\"]\n",
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.ledger, "sqlite:///etc/kiln/db/ledger.db");
        assert_eq!(c.work_dir, Path::new("/etc/kiln/work"));
        assert_eq!(c.db_update_interval, Some(Duration::from_secs(6 * 3600)));
        let r = &c.repositories[0];
        assert_eq!(r.secret.expose(), b"s3cret");
        assert_eq!(r.source, "/etc/kiln/repos/hello");
        assert!(c.repository(&["ACME/Hello"]).is_some());
        assert!(r.builds_ref("refs/heads/main"));
        assert!(r.builds_ref("refs/heads/release/1.0"));
        assert!(!r.builds_ref("refs/heads/dev"));
        assert!(!r.builds_ref("refs/tags/v1"));
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn unknown_fields_name_their_line() {
        let e = parse("listen: 127.0.0.1:1\nlisten_port: 3\n").unwrap_err();
        let ServerConfigError::Parse { line, message, .. } = e else {
            panic!("{e}")
        };
        assert_eq!(line, Some(2), "{message}");
        assert!(message.contains("listen_port"), "{message}");
        let e = parse(
            "repositories:\n  - name: a\n    source: /x\n    secret: { env: HELLO_SECRET }\n    branch: [main]\n",
        )
        .unwrap_err();
        let ServerConfigError::Parse { line, message, .. } = e else {
            panic!("{e}")
        };
        assert_eq!(line, Some(5), "{message}");
    }

    #[test]
    fn bad_values() {
        for (text, field) in [
            ("listen: nowhere\n", "listen"),
            ("max_concurrent_runs: 0\n", "max_concurrent_runs"),
            ("db_update_interval: 6\n", "db_update_interval"),
            ("db_update_interval: 0h\n", "db_update_interval"),
            ("db_update_interval: 6y\n", "db_update_interval"),
            (
                "repositories:\n  - { name: a, source: /x, secret: { env: MISSING } }\n",
                "repositories[0].secret",
            ),
            (
                "repositories:\n  - { name: a, source: /x, secret: {} }\n",
                "repositories[0].secret",
            ),
            (
                "repositories:\n  - { name: a, source: /x, secret: { env: HELLO_SECRET } }\n  - { name: A, source: /y, secret: { env: HELLO_SECRET } }\n",
                "repositories[1].name",
            ),
        ] {
            match parse(text) {
                Err(ServerConfigError::Invalid { field: f, .. }) => assert_eq!(f, field, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_interval("1d"), Ok(Duration::from_secs(86400)));
        assert!(parse_interval("h").is_err());
        assert!(parse_interval("").is_err());
    }
}
