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
//!
//! Under load ([`Limits`], all in `WebhookOptions::limits`), the server answers in time or
//! refuses cleanly, and memory stays bounded:
//! - at most `max_connections` open connections; one more is closed at once;
//! - a TLS handshake, and the request head (HTTP/1.1; also the wait for the next request
//!   on a kept-alive connection), must arrive within `header_timeout`; a connection with no
//!   request in flight for that long is closed (HTTP/2 included), so slow clients cannot
//!   hold connections;
//! - at most `max_in_flight` AdmissionReviews are read and decided at once, and bodies
//!   over 64 KiB together hold at most `max_buffered_bytes` (reserved from
//!   `Content-Length` before reading, the body limit when none is given). A request that gets no slot within
//!   `queue_wait` is answered 503 with `Retry-After`: the API server counts that as a
//!   failed call, and with `failurePolicy: Fail` denies (the uid of an unread body is not
//!   known, so no AdmissionReview can be written for it);
//! - a declared `Content-Length` over the body limit is answered 413 without buffering; a
//!   body that does not arrive within `body_timeout` gets 408;
//! - the request's budget starts when it arrives: queueing and reading count against it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt as _;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::decide::DeciderFactory;
use crate::metrics::{Metrics, Refusal, ResultKind};
use crate::review::{self, AdmissionReviewResponse};
use crate::tls::{CertFiles, ReloadingCert, TlsError, server_config};
use crate::webhook::{Endpoint, LoadedPolicy, PolicyLoadError, Timer, Webhook, WebhookOptions};

/// Bodies up to this size (declared by `Content-Length`) need no share of the body memory.
const SMALL_BODY: u64 = 64 * 1024;

/// Kubernetes' own limit on a request body.
pub const DEFAULT_BODY_LIMIT: usize = 3 * 1024 * 1024;

/// What keeps the server answering under load (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections on the webhook port.
    pub max_connections: usize,
    /// AdmissionReviews read and decided at once.
    pub max_in_flight: usize,
    /// Bodies over 64 KiB held at once, in bytes (a parsed body takes about 15 times its
    /// size while it is decided; smaller bodies are bounded by `max_in_flight`).
    pub max_buffered_bytes: usize,
    /// How long a request may wait for a slot before 503.
    pub queue_wait: Duration,
    /// TLS handshake, request head, and idle time of a connection.
    pub header_timeout: Duration,
    /// Time to receive a request body.
    pub body_timeout: Duration,
    /// Distinct images in one object (each is a decision).
    pub max_images: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_in_flight: 128,
            max_buffered_bytes: 8 * 1024 * 1024,
            queue_wait: Duration::from_secs(1),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(5),
            max_images: 64,
        }
    }
}

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
    /// Decision slots.
    slots: Arc<Semaphore>,
    /// Body memory, in KiB.
    body_kib: Arc<Semaphore>,
    body_kib_total: u32,
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

/// Slots held while a request is read and decided.
struct Admitted {
    _slot: tokio::sync::OwnedSemaphorePermit,
    _bytes: Option<tokio::sync::OwnedSemaphorePermit>,
    _gauge: crate::metrics::GaugeGuard,
}

/// Waits (until `until`) for a decision slot and, for a large body, `kib` of body memory.
async fn admit_request(
    shared: &Shared,
    kib: Option<u32>,
    until: tokio::time::Instant,
) -> Option<Admitted> {
    let wait = async {
        let slot = shared.slots.clone().acquire_owned().await.ok()?;
        let bytes = match kib {
            Some(k) => Some(shared.body_kib.clone().acquire_many_owned(k).await.ok()?),
            None => None,
        };
        Some((slot, bytes))
    };
    let (slot, bytes) = tokio::time::timeout_at(until, wait).await.ok()??;
    Some(Admitted {
        _slot: slot,
        _bytes: bytes,
        _gauge: shared.webhook.metrics().in_flight(),
    })
}

/// Reads a body to its end (or until `until`), dropping every frame.
async fn drain(mut body: Body, until: tokio::time::Instant) {
    let read = async { while let Some(Ok(_)) = body.frame().await {} };
    let _ = tokio::time::timeout_at(until, read).await;
}

fn too_large(shared: &Shared) -> Response {
    text(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "AdmissionReview body larger than the limit of {} bytes",
            shared.body_limit
        ),
    )
}

async fn admission(
    shared: Arc<Shared>,
    endpoint: Endpoint,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let timer = Timer::start();
    let now = tokio::time::Instant::now();
    let options = shared.webhook.options();
    let limits = options.limits;
    let deadline = now + options.budget;
    let metrics = shared.webhook.metrics().clone();
    let refuse = |why: Refusal, response: Response| {
        metrics.refused(why);
        metrics.decision(ResultKind::Error, timer.seconds());
        response
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > shared.body_limit as u64) {
        // Read and discard (never buffered) a body up to 4 times the limit, so the client
        // is done sending and sees the 413 rather than a broken pipe; larger: answer at once.
        if n <= 4 * shared.body_limit as u64 {
            drain(body, deadline.min(now + limits.body_timeout)).await;
        }
        return refuse(Refusal::TooLarge, too_large(&shared));
    }
    let reserve = declared.map_or(shared.body_limit as u64, |n| n);
    // Small bodies (the usual AdmissionReview is a few KiB) are bounded by the slots alone,
    // so large ones waiting for memory never hold them up.
    let kib = (reserve > SMALL_BODY).then(|| {
        u32::try_from(reserve.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, shared.body_kib_total)
    });
    let Some(_admitted) = admit_request(&shared, kib, deadline.min(now + limits.queue_wait)).await
    else {
        let mut r = text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "kiln admit: overloaded ({} AdmissionReviews in flight, none finished within {} \
                 ms); retry",
                limits.max_in_flight,
                limits.queue_wait.as_millis()
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return refuse(Refusal::Overloaded, r);
    };
    let read = http_body_util::Limited::new(body, shared.body_limit).collect();
    let bytes = match tokio::time::timeout_at(deadline.min(now + limits.body_timeout), read).await {
        Ok(Ok(c)) => c.to_bytes(),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return refuse(Refusal::TooLarge, too_large(&shared));
            }
            metrics.decision(ResultKind::Error, timer.seconds());
            return text(StatusCode::BAD_REQUEST, format!("reading the body: {e}"));
        }
        Err(_) => {
            return refuse(
                Refusal::SlowBody,
                text(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the AdmissionReview body did not arrive within {} ms",
                        limits.body_timeout.as_millis()
                    ),
                ),
            );
        }
    };
    let request = match review::parse_review(&bytes) {
        Ok(r) => r,
        Err(e) => {
            metrics.decision(ResultKind::Error, timer.seconds());
            return text(StatusCode::BAD_REQUEST, e.to_string());
        }
    };
    drop(bytes);
    let response = shared
        .webhook
        .review_until(endpoint, request, deadline)
        .await;
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

async fn validate(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    admission(s, Endpoint::Validate, headers, body).await
}

async fn mutate(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    admission(s, Endpoint::Mutate, headers, body).await
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
    let limits = config.options.limits;
    let webhook = Arc::new(Webhook::new(policy, config.options, metrics.clone()));
    // Room for at least one body of the largest size.
    let body_kib_total =
        u32::try_from((limits.max_buffered_bytes.max(config.body_limit) as u64).div_ceil(1024))
            .unwrap_or(Semaphore::MAX_PERMITS as u32)
            .clamp(1, Semaphore::MAX_PERMITS as u32);
    let shared = Arc::new(Shared {
        webhook: webhook.clone(),
        body_limit: config.body_limit,
        last_reload_error: Mutex::new(None),
        slots: Arc::new(Semaphore::new(limits.max_in_flight.max(1))),
        body_kib: Arc::new(Semaphore::new(body_kib_total as usize)),
        body_kib_total,
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
    tasks.push(tokio::spawn(accept_loop(
        listener,
        acceptor,
        app,
        limits,
        metrics.clone(),
    )));
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

async fn accept_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
) {
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
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
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            metrics.refused(Refusal::Connections);
            tracing::warn!(%peer, "connection refused: {} open", limits.max_connections);
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        let gauge = metrics.connection();
        tokio::spawn(async move {
            let _held = (permit, gauge);
            let tls = match tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp)).await
            {
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
            serve_connection(tls, peer, app, limits).await;
        });
    }
}

/// Requests in flight on one connection, and when the last one started or ended.
struct Activity {
    active: AtomicUsize,
    since: Mutex<tokio::time::Instant>,
}

impl Activity {
    fn touch(&self) {
        *self.since.lock().unwrap_or_else(|p| p.into_inner()) = tokio::time::Instant::now();
    }

    fn idle_since(&self) -> Option<tokio::time::Instant> {
        if self.active.load(Ordering::SeqCst) > 0 {
            return None;
        }
        Some(*self.since.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Marks a request in flight until dropped.
struct ActiveGuard(Arc<Activity>);

impl ActiveGuard {
    fn new(a: Arc<Activity>) -> Self {
        a.active.fetch_add(1, Ordering::SeqCst);
        a.touch();
        ActiveGuard(a)
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.touch();
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves HTTP/1.1 or HTTP/2 on one TLS connection, closing it once it has had no request
/// in flight for `header_timeout` (HTTP/1.1 also times out a slow request head itself).
async fn serve_connection(
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
) {
    let activity = Arc::new(Activity {
        active: AtomicUsize::new(0),
        since: Mutex::new(tokio::time::Instant::now()),
    });
    let a = activity.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let guard = ActiveGuard::new(a.clone());
        let mut app = app.clone();
        async move {
            let r = tower::Service::call(&mut app, req.map(Body::new)).await;
            drop(guard);
            r
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(64)
        .max_header_list_size(64 * 1024)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(10));
    let conn = builder.serve_connection(TokioIo::new(tls), service);
    tokio::pin!(conn);
    let tick = (limits.header_timeout / 4).max(Duration::from_millis(50));
    let mut closing_by: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, "connection: {e}");
                }
                return;
            }
            _ = tokio::time::sleep(tick), if closing_by.is_none() => {
                if activity
                    .idle_since()
                    .is_some_and(|t| t.elapsed() >= limits.header_timeout)
                {
                    tracing::debug!(%peer, "closing an idle connection");
                    conn.as_mut().graceful_shutdown();
                    closing_by = Some(tokio::time::Instant::now() + Duration::from_secs(1));
                }
            }
            _ = tokio::time::sleep_until(closing_by.unwrap_or_else(tokio::time::Instant::now)),
                if closing_by.is_some() => {
                tracing::debug!(%peer, "idle connection did not close; dropped");
                return;
            }
        }
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
