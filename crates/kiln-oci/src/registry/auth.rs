//! Registry credentials and the authentication dance.
//!
//! Credentials come from `KILN_REGISTRY_USERNAME`/`KILN_REGISTRY_PASSWORD`, else from
//! `~/.docker/config.json` (`auths`, `credsStore`, `credHelpers`, read with the
//! `docker_credential` crate, which runs `docker-credential-<helper> get`), else none.
//!
//! Requests go out anonymously first. When a registry answers 401, its
//! `WWW-Authenticate` challenge decides: `Bearer` challenges are answered by
//! `oci-client` (`Client::auth`: the token request to the realm with the scope for this
//! repository, with basic credentials when there are some); `Basic` challenges get the
//! credentials directly. The resulting `Authorization` header is kept per scope (pull,
//! push) and sent with every later request; a later 401 (an expired token) repeats the
//! dance once.

use std::fmt;
use std::sync::Mutex;

use base64::Engine as _;
use oci_client::RegistryOperation;
use oci_client::secrets::RegistryAuth;
use reqwest::header::HeaderValue;

use crate::error::{OciError, Result};

/// Environment variable holding the registry user name.
pub const ENV_USERNAME: &str = "KILN_REGISTRY_USERNAME";
/// Environment variable holding the registry password or token.
pub const ENV_PASSWORD: &str = "KILN_REGISTRY_PASSWORD";

/// Credentials for one registry. `Debug` never shows a secret.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Credentials {
    /// No credentials: anonymous access (anonymous bearer tokens included).
    #[default]
    Anonymous,
    /// A user name and a password (or a personal access token).
    Basic { username: String, password: String },
    /// A ready bearer token.
    Bearer(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Anonymous => write!(f, "Anonymous"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Credentials::Bearer(_) => write!(f, "Bearer(<redacted>)"),
        }
    }
}

impl Credentials {
    /// The credentials for `registry`: the environment first, then the Docker
    /// configuration and its credential helpers; anonymous when none is configured.
    /// A credential helper that fails is an error naming the registry.
    pub fn lookup(registry: &str) -> Result<Credentials> {
        if let (Ok(u), Ok(p)) = (std::env::var(ENV_USERNAME), std::env::var(ENV_PASSWORD))
            && !u.is_empty()
        {
            return Ok(Credentials::Basic {
                username: u,
                password: p,
            });
        }
        let server = if registry == crate::reference::DEFAULT_REGISTRY {
            "https://index.docker.io/v1/"
        } else {
            registry
        };
        use docker_credential::CredentialRetrievalError as E;
        match docker_credential::get_credential(server) {
            Ok(docker_credential::DockerCredential::UsernamePassword(username, password)) => {
                Ok(Credentials::Basic { username, password })
            }
            Ok(docker_credential::DockerCredential::IdentityToken(_)) => {
                // An identity token is an OAuth2 refresh token, which the token dance
                // of oci-client cannot exchange; go anonymous and say so.
                tracing::warn!(
                    registry,
                    "the Docker configuration holds an identity token for this registry, \
                     which Kiln cannot use; set {ENV_USERNAME}/{ENV_PASSWORD} instead"
                );
                Ok(Credentials::Anonymous)
            }
            Err(E::NoCredentialConfigured | E::ConfigNotFound | E::ConfigReadError) => {
                Ok(Credentials::Anonymous)
            }
            Err(e) => Err(OciError::Registry {
                registry: registry.to_string(),
                message: format!("reading credentials from the Docker configuration: {e}"),
            }),
        }
    }

    fn to_registry_auth(&self) -> RegistryAuth {
        match self {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { username, password } => {
                RegistryAuth::Basic(username.clone(), password.clone())
            }
            Credentials::Bearer(t) => RegistryAuth::Bearer(t.clone()),
        }
    }
}

/// What an operation needs from the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Pull,
    Push,
}

/// Authorization for one repository: the credentials, `oci-client` for token requests,
/// and the header in use for each scope.
pub(crate) struct Authenticator {
    registry: String,
    credentials: Credentials,
    /// How to reach the registry for token requests.
    protocol: oci_client::client::ClientProtocol,
    /// Built on the first token challenge only: setting up its HTTP client loads the
    /// system's TLS roots, which cost more than a whole anonymous pull (the admission
    /// webhook opens a store per decision).
    oci: std::sync::OnceLock<oci_client::Client>,
    reference: oci_client::Reference,
    headers: Mutex<[Option<HeaderValue>; 2]>,
}

impl Authenticator {
    pub(crate) fn new(
        registry: &str,
        repository: &str,
        plain_http: bool,
        credentials: Credentials,
    ) -> Authenticator {
        let protocol = if plain_http {
            oci_client::client::ClientProtocol::Http
        } else {
            oci_client::client::ClientProtocol::Https
        };
        Authenticator {
            registry: registry.to_string(),
            credentials,
            protocol,
            oci: std::sync::OnceLock::new(),
            reference: oci_client::Reference::with_tag(
                registry.to_string(),
                repository.to_string(),
                "latest".to_string(),
            ),
            headers: Mutex::new([None, None]),
        }
    }

    /// The `oci-client` used for token requests, made on first use.
    fn oci(&self) -> &oci_client::Client {
        self.oci.get_or_init(|| {
            oci_client::Client::new(oci_client::client::ClientConfig {
                protocol: self.protocol.clone(),
                connect_timeout: Some(std::time::Duration::from_secs(15)),
                read_timeout: Some(std::time::Duration::from_secs(60)),
                ..Default::default()
            })
        })
    }

    fn slot(scope: Scope) -> usize {
        match scope {
            Scope::Pull => 0,
            Scope::Push => 1,
        }
    }

    /// The header to send for `scope`, if authorization is known to be needed.
    pub(crate) fn cached(&self, scope: Scope) -> Option<HeaderValue> {
        let h = self.headers.lock().unwrap_or_else(|p| p.into_inner());
        h[Self::slot(scope)].clone().or_else(|| {
            if scope == Scope::Pull {
                h[1].clone()
            } else {
                None
            }
        })
    }

    fn basic_header(&self) -> Option<HeaderValue> {
        match &self.credentials {
            Credentials::Basic { username, password } => {
                let raw = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                let mut v = HeaderValue::from_str(&format!("Basic {raw}")).ok()?;
                v.set_sensitive(true);
                Some(v)
            }
            _ => None,
        }
    }

    /// Answers the 401 challenge `challenge` for `scope`, remembers and returns the
    /// header to send.
    pub(crate) async fn authenticate(
        &self,
        scope: Scope,
        challenge: Option<&str>,
    ) -> Result<HeaderValue> {
        let fail = |message: String| OciError::Registry {
            registry: self.registry.clone(),
            message,
        };
        let scheme = challenge
            .and_then(|c| c.split_whitespace().next())
            .unwrap_or("")
            .to_ascii_lowercase();
        let header = match scheme.as_str() {
            "bearer" => {
                let op = match scope {
                    Scope::Pull => RegistryOperation::Pull,
                    Scope::Push => RegistryOperation::Push,
                };
                let token = self
                    .oci()
                    .auth(&self.reference, &self.credentials.to_registry_auth(), op)
                    .await
                    .map_err(|e| fail(format!("token request failed: {e}")))?;
                match token {
                    Some(t) => {
                        let mut v =
                            HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| {
                                fail("the token service returned an unusable token".into())
                            })?;
                        v.set_sensitive(true);
                        v
                    }
                    None => self.basic_header().ok_or_else(|| {
                        fail("the registry asks for authentication and no token was issued".into())
                    })?,
                }
            }
            "basic" => self.basic_header().ok_or_else(|| {
                fail(format!(
                    "the registry asks for a user name and password; set {ENV_USERNAME} and \
                     {ENV_PASSWORD} or log in with docker"
                ))
            })?,
            _ => {
                return Err(fail(format!(
                    "the registry answered 401 with an unsupported challenge {:?}",
                    challenge.unwrap_or("")
                )));
            }
        };
        let mut h = self.headers.lock().unwrap_or_else(|p| p.into_inner());
        h[Self::slot(scope)] = Some(header.clone());
        Ok(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credentials::Basic {
            username: "me".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{:?}", Credentials::Bearer("tok-123".into())).contains("tok-123"));
    }

    #[tokio::test]
    async fn basic_challenge_uses_credentials_or_explains() {
        let with = Authenticator::new(
            "127.0.0.1:1",
            "app",
            true,
            Credentials::Basic {
                username: "u".into(),
                password: "p".into(),
            },
        );
        let h = with
            .authenticate(Scope::Pull, Some("Basic realm=\"x\""))
            .await
            .unwrap();
        assert_eq!(h.to_str().unwrap(), "Basic dTpw");
        assert_eq!(with.cached(Scope::Pull), Some(h));
        let without = Authenticator::new("127.0.0.1:1", "app", true, Credentials::Anonymous);
        let err = without
            .authenticate(Scope::Push, Some("Basic realm=\"x\""))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(ENV_USERNAME) && err.contains("127.0.0.1:1"),
            "{err}"
        );
    }
}
