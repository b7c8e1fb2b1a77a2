//! Registry credentials for the webhook's registry reads:
//! - a Docker `config.json` given with `--registry-credentials` ([`DockerConfig`]);
//! - the pod's `imagePullSecrets`, read through the Kubernetes API ([`KubeClient`]) when it
//!   is configured.
//!
//! The Kubernetes API is reached with plain reqwest (one `GET
//! /api/v1/namespaces/NS/secrets/NAME` with the service-account token): that is all the
//! webhook needs, and kube-rs would add a large dependency tree (k8s-openapi, its own
//! client stack and TLS choices) to the binary for one call.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use kiln_oci::registry::Credentials;
use serde::Deserialize;

/// Default in-cluster service-account paths.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Errors reading credentials.
#[derive(Debug, thiserror::Error)]
pub enum CredsError {
    #[error("{path}: cannot read: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{source_name}: not a Docker config.json: {message}")]
    Config {
        source_name: String,
        message: String,
    },
    #[error("Kubernetes API: {0}")]
    Kube(String),
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

/// `docker.io`, `host:port`: the registry part of a config.json key
/// (`https://index.docker.io/v1/` → `docker.io`).
pub fn normalize_registry(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = k.split('/').next().unwrap_or(k).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_string()
        }
        _ => host,
    }
}

/// Credentials by registry, from a Docker `config.json` (`auths`) or a legacy `.dockercfg`.
#[derive(Debug, Clone, Default)]
pub struct DockerConfig {
    by_registry: BTreeMap<String, Credentials>,
}

impl DockerConfig {
    /// Parses config.json text; `source_name` names it in errors.
    pub fn parse(bytes: &[u8], source_name: &str) -> Result<DockerConfig, CredsError> {
        let bad = |message: String| CredsError::Config {
            source_name: source_name.to_string(),
            message,
        };
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let auths = match value.get("auths") {
            Some(a) => a.clone(),
            None => value, // legacy .dockercfg: the map itself
        };
        let entries: BTreeMap<String, AuthEntry> =
            serde_json::from_value(auths).map_err(|e| bad(format!("auths: {e}")))?;
        let mut by_registry = BTreeMap::new();
        for (server, entry) in entries {
            let creds = if let Some(token) = entry.registrytoken.filter(|t| !t.is_empty()) {
                Credentials::Bearer(token)
            } else if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
                Credentials::Basic {
                    username: u.clone(),
                    password: p.clone(),
                }
            } else if let Some(auth) = entry.auth.filter(|a| !a.is_empty()) {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth.trim())
                    .map_err(|e| bad(format!("auths.{server}.auth is not base64: {e}")))?;
                let text = String::from_utf8(decoded)
                    .map_err(|_| bad(format!("auths.{server}.auth is not UTF-8")))?;
                let (u, p) = text
                    .split_once(':')
                    .ok_or_else(|| bad(format!("auths.{server}.auth is not user:password")))?;
                Credentials::Basic {
                    username: u.to_string(),
                    password: p.to_string(),
                }
            } else {
                continue;
            };
            by_registry.insert(normalize_registry(&server), creds);
        }
        Ok(DockerConfig { by_registry })
    }

    /// Reads a config.json file.
    pub fn load(path: &Path) -> Result<DockerConfig, CredsError> {
        let bytes = std::fs::read(path).map_err(|error| CredsError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        DockerConfig::parse(&bytes, &path.display().to_string())
    }

    /// The credentials for `registry` (`host[:port]`), if configured.
    pub fn get(&self, registry: &str) -> Option<Credentials> {
        self.by_registry.get(&normalize_registry(registry)).cloned()
    }

    pub fn is_empty(&self) -> bool {
        self.by_registry.is_empty()
    }
}

/// How to reach the Kubernetes API.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    /// `https://HOST[:PORT]`.
    pub api: String,
    /// Bearer token file (re-read on every call: projected tokens rotate).
    pub token_file: PathBuf,
    /// CA bundle of the API server (PEM).
    pub ca_file: Option<PathBuf>,
}

impl KubeOptions {
    /// The in-cluster defaults: `KUBERNETES_SERVICE_HOST`/`PORT` and the service-account
    /// token and CA.
    pub fn in_cluster() -> Option<KubeOptions> {
        let host = std::env::var("KUBERNETES_SERVICE_HOST").ok()?;
        let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        Some(KubeOptions {
            api: format!("https://{host}:{port}"),
            token_file: Path::new(SERVICE_ACCOUNT_DIR).join("token"),
            ca_file: Some(Path::new(SERVICE_ACCOUNT_DIR).join("ca.crt")),
        })
    }
}

/// Reads image pull secrets.
#[derive(Clone)]
pub struct KubeClient {
    options: KubeOptions,
    http: reqwest::Client,
    cache: moka::sync::Cache<(String, String), DockerConfig>,
}

impl KubeClient {
    pub fn new(options: KubeOptions) -> Result<KubeClient, CredsError> {
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .connect_timeout(Duration::from_secs(2));
        if let Some(ca) = &options.ca_file {
            let pem = std::fs::read(ca).map_err(|error| CredsError::Read {
                path: ca.clone(),
                error,
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| CredsError::Kube(format!("{}: {e}", ca.display())))?;
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder
            .build()
            .map_err(|e| CredsError::Kube(e.to_string()))?;
        Ok(KubeClient {
            options,
            http,
            cache: moka::sync::Cache::builder()
                .max_capacity(1024)
                .time_to_live(Duration::from_secs(60))
                .build(),
        })
    }

    /// The Docker config held by secret `name` in `namespace` (types
    /// `kubernetes.io/dockerconfigjson` and `kubernetes.io/dockercfg`).
    pub async fn pull_secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<DockerConfig, CredsError> {
        let key = (namespace.to_string(), name.to_string());
        if let Some(c) = self.cache.get(&key) {
            return Ok(c);
        }
        let token = std::fs::read_to_string(&self.options.token_file).map_err(|error| {
            CredsError::Read {
                path: self.options.token_file.clone(),
                error,
            }
        })?;
        let url = format!(
            "{}/api/v1/namespaces/{namespace}/secrets/{name}",
            self.options.api.trim_end_matches('/')
        );
        let resp = self
            .http
            .get(&url)
            .bearer_auth(token.trim())
            .send()
            .await
            .map_err(|e| CredsError::Kube(format!("GET {url}: {e}")))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| CredsError::Kube(format!("GET {url}: {e}")))?;
        if !status.is_success() {
            return Err(CredsError::Kube(format!(
                "GET {url}: HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            )));
        }
        let secret: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| CredsError::Kube(format!("secret {namespace}/{name}: {e}")))?;
        let data = [".dockerconfigjson", ".dockercfg"]
            .iter()
            .find_map(|k| secret.pointer(&format!("/data/{}", k.replace('/', "~1"))))
            .and_then(|v| v.as_str())
            .ok_or_else(|| {
                CredsError::Kube(format!(
                    "secret {namespace}/{name} holds no .dockerconfigjson or .dockercfg"
                ))
            })?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| CredsError::Kube(format!("secret {namespace}/{name}: {e}")))?;
        let config = DockerConfig::parse(&bytes, &format!("secret {namespace}/{name}"))?;
        self.cache.insert(key, config.clone());
        Ok(config)
    }

    /// The first credentials for `registry` among the pod's pull secrets. A secret that
    /// cannot be read is skipped (logged): the image is then read anonymously or with the
    /// webhook's own credentials, and a private image fails closed.
    pub async fn credentials_for(
        &self,
        namespace: &str,
        secrets: &[String],
        registry: &str,
    ) -> Option<Credentials> {
        for name in secrets {
            match self.pull_secret(namespace, name).await {
                Ok(c) => {
                    if let Some(creds) = c.get(registry) {
                        return Some(creds);
                    }
                }
                Err(e) => tracing::warn!(namespace, secret = %name, "image pull secret: {e}"),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_auths() {
        let cfg = br#"{"auths":{
            "https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"},
            "127.0.0.1:5000":{"username":"u","password":"p"},
            "ghcr.io":{"registrytoken":"tok"},
            "empty.io":{}
        }}"#;
        let c = DockerConfig::parse(cfg, "t").unwrap();
        assert_eq!(
            c.get("docker.io"),
            Some(Credentials::Basic {
                username: "user".into(),
                password: "pass".into()
            })
        );
        assert!(matches!(
            c.get("127.0.0.1:5000"),
            Some(Credentials::Basic { .. })
        ));
        assert_eq!(c.get("ghcr.io"), Some(Credentials::Bearer("tok".into())));
        assert_eq!(c.get("empty.io"), None);
    }

    #[test]
    fn legacy_dockercfg_and_errors() {
        let c = DockerConfig::parse(br#"{"quay.io":{"auth":"YTpi"}}"#, "t").unwrap();
        assert!(c.get("quay.io").is_some());
        let e = DockerConfig::parse(br#"{"auths":{"x":{"auth":"!!"}}}"#, "f.json").unwrap_err();
        assert!(e.to_string().contains("f.json"), "{e}");
        assert!(DockerConfig::parse(b"[", "t").is_err());
    }
}
