//! The HTTPS server: axum routes on hyper, TLS by rustls (aws-lc-rs) with a certificate
//! reloaded from its files, and the watcher that reloads certificate and policy.
//!
//! Routes (on the TLS port; `/healthz`, `/readyz`, `/metrics` also on the optional plain
//! HTTP metrics port):
//! - `POST /validate`, `POST /mutate`: AdmissionReview v1. A body over the limit (default
//!   3 MiB, Kubernetes' own request limit) gets 413, a body that is not an AdmissionReview
//!   400, both with a plain-text message;
//! - `GET /healthz`: the process answers; `GET /readyz`: policy and certificate loaded
//!   (and the last reload error, if any, in the body);
//! - `GET /metrics`: Prometheus text exposition.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt as _;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::decide::DeciderFactory;
use crate::metrics::{Metrics, ResultKind};
use crate::review::{self, AdmissionReviewResponse};
use crate::tls::{CertFiles, ReloadingCert, TlsError, server_config};
use crate::webhook::{Endpoint, LoadedPolicy, PolicyLoadError, Timer, Webhook, WebhookOptions};

/// Kubernetes' own limit on a request body.
pub const DEFAULT_BODY_LIMIT: usize = 3 * 1024 * 1024;

/// Everything `kiln admit` needs to serve.
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Plain HTTP for `/metrics`, `/healthz`, `/readyz` (none: only on the TLS port).
    pub metrics_listen: Option<SocketAddr>,
    pub tls: CertFiles,
    pub policy: PathBuf,
    pub factory: DeciderFactory,
    pub options: WebhookOptions,
    /// How often the certificate and policy files are checked for changes.
    pub reload_interval: Duration,
    pub body_limit: usize,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("policy refused: {0}")]
    Policy(#[from] PolicyLoadError),
    #[error("{0}")]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        addr: SocketAddr,
        error: std::io::Error,
    },
}

/// State shared by the handlers and the watcher.
struct Shared {
    webhook: Arc<Webhook>,
    body_limit: usize,
    last_reload_error: Mutex<Option<String>>,
}

/// A running server. Dropping it stops it.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    webhook: Arc<Webhook>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningServer {
    pub fn webhook(&self) -> &Arc<Webhook> {
        &self.webhook
    }

    /// Serves until a task ends (they run until the process stops).
    pub async fn wait(mut self) {
        if let Some(first) = self.tasks.first_mut() {
            let _ = first.await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn text(status: StatusCode, message: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

async fn admission(shared: Arc<Shared>, endpoint: Endpoint, body: Body) -> Response {
    let timer = Timer::start();
    let metrics = shared.webhook.metrics().clone();
    let bytes = match http_body_util::Limited::new(body, shared.body_limit)
        .collect()
        .await
    {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            metrics.decision(ResultKind::Error, timer.seconds());
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "AdmissionReview body larger than the limit of {} bytes",
                        shared.body_limit
                    ),
                );
            }
            return text(StatusCode::BAD_REQUEST, format!("reading the body: {e}"));
        }
    };
    let request = match review::parse_review(&bytes) {
        Ok(r) => r,
        Err(e) => {
            metrics.decision(ResultKind::Error, timer.seconds());
            return text(StatusCode::BAD_REQUEST, e.to_string());
        }
    };
    let response = shared.webhook.review(endpoint, request).await;
    metrics.decision(
        if response.allowed {
            ResultKind::Allowed
        } else {
            ResultKind::Denied
        },
        timer.seconds(),
    );
    let body = serde_json::to_vec(&AdmissionReviewResponse::from(response))
        .unwrap_or_else(|_| b"{}".to_vec());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

async fn validate(State(s): State<Arc<Shared>>, body: Body) -> Response {
    admission(s, Endpoint::Validate, body).await
}

async fn mutate(State(s): State<Arc<Shared>>, body: Body) -> Response {
    admission(s, Endpoint::Mutate, body).await
}

async fn readyz(State(s): State<Arc<Shared>>) -> Response {
    let policy = s.webhook.policy();
    let mut msg = format!(
        "ready: policy {} ({})\n",
        policy.policy.source, policy.version
    );
    if let Some(e) = s
        .last_reload_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
    {
        msg.push_str(&format!("last reload failed, previous kept: {e}\n"));
    }
    text(StatusCode::OK, msg)
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.webhook.metrics().render(),
    )
        .into_response()
}

fn probes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(shared)
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .route("/mutate", post(mutate))
        .with_state(shared.clone())
        .merge(probes(shared))
}

/// Loads the policy and certificate (refusing to start on any error), binds, and serves.
pub async fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
    let policy = LoadedPolicy::load(&config.policy, &config.factory)?;
    let (cert_pem, key_pem) = config.tls.snapshot()?;
    let resolver = Arc::new(ReloadingCert::new(
        config.tls.certified_key(&cert_pem, &key_pem)?,
    ));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config(resolver.clone())?));
    let metrics = Arc::new(Metrics::new());
    let webhook = Arc::new(Webhook::new(policy, config.options, metrics.clone()));
    let shared = Arc::new(Shared {
        webhook: webhook.clone(),
        body_limit: config.body_limit,
        last_reload_error: Mutex::new(None),
    });
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|error| StartError::Bind {
            addr: config.listen,
            error,
        })?;
    let addr = listener.local_addr().map_err(|error| StartError::Bind {
        addr: config.listen,
        error,
    })?;
    let mut tasks = Vec::new();
    let app = router(shared.clone());
    tasks.push(tokio::spawn(accept_loop(listener, acceptor, app)));
    let mut metrics_addr = None;
    if let Some(m) = config.metrics_listen {
        let l = TcpListener::bind(m)
            .await
            .map_err(|error| StartError::Bind { addr: m, error })?;
        metrics_addr = Some(
            l.local_addr()
                .map_err(|error| StartError::Bind { addr: m, error })?,
        );
        let app = probes(shared.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = axum::serve(l, app).await {
                tracing::error!("metrics listener stopped: {e}");
            }
        }));
    }
    tasks.push(tokio::spawn(watch(
        shared,
        config.tls,
        (cert_pem, key_pem),
        config.policy,
        config.factory,
        resolver,
        config.reload_interval,
    )));
    Ok(RunningServer {
        addr,
        metrics_addr,
        webhook,
        tasks,
    })
}

async fn accept_loop(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor, app: Router) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: wait a little, keep serving.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, "TLS handshake: {e}");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            let service = TowerToHyperService::new(app);
            if let Err(e) = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%peer, "connection: {e}");
            }
        });
    }
}

/// Checks the certificate and policy files every `interval`; a changed file is reloaded,
/// and a reload that fails keeps what is in force (logged, counted, shown on `/readyz`).
async fn watch(
    shared: Arc<Shared>,
    tls: CertFiles,
    mut cert_seen: (Vec<u8>, Vec<u8>),
    policy_path: PathBuf,
    factory: DeciderFactory,
    resolver: Arc<ReloadingCert>,
    interval: Duration,
) {
    let mut policy_seen = std::fs::read(&policy_path).ok();
    let metrics = shared.webhook.metrics().clone();
    let set_error = |e: Option<String>| {
        *shared
            .last_reload_error
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = e;
    };
    loop {
        tokio::time::sleep(interval).await;
        match tls.snapshot() {
            Ok(now) if now != cert_seen => {
                match tls.certified_key(&now.0, &now.1) {
                    Ok(k) => {
                        resolver.set(k);
                        metrics.reload("certificate", true);
                        tracing::info!(cert = %tls.cert.display(), "certificate reloaded");
                        set_error(None);
                    }
                    Err(e) => {
                        metrics.reload("certificate", false);
                        tracing::error!("certificate reload failed, keeping the previous one: {e}");
                        set_error(Some(e.to_string()));
                    }
                }
                cert_seen = now;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("certificate files: {e}"),
        }
        let bytes = std::fs::read(&policy_path).ok();
        if bytes.is_some() && bytes != policy_seen {
            policy_seen = bytes;
            let path = policy_path.clone();
            let f = factory.clone();
            let loaded = tokio::task::spawn_blocking(move || LoadedPolicy::load(&path, &f)).await;
            match loaded {
                Ok(Ok(p)) => {
                    tracing::info!(version = %p.version, "policy reloaded");
                    shared.webhook.replace_policy(p);
                    metrics.reload("policy", true);
                    set_error(None);
                }
                Ok(Err(e)) => {
                    metrics.reload("policy", false);
                    tracing::error!("policy reload failed, keeping the previous policy: {e}");
                    set_error(Some(e.to_string()));
                }
                Err(e) => tracing::error!("policy reload: {e}"),
            }
        }
    }
}
