//! `kiln server`: push webhooks from GitHub, GitLab, Gitea/Forgejo and `kiln hook`
//! ([`forge`], [`routes`]) start pipeline runs ([`queue`], [`runner`]) in clean work trees
//! ([`worktree`]) recorded in the server's ledger; the admission webhook reports what it
//! admitted; the dashboard is served at `/`; the vulnerability database is updated on a
//! schedule ([`schedule`]). Configuration in [`config`], HTTPS in [`tls`].
//!
//! At start the ledger's interrupted runs (a crashed server's) are marked failed: nothing
//! of theirs was signed, since signing happens only after every gate.

pub mod config;
pub mod forge;
pub mod queue;
pub mod routes;
pub mod runner;
pub mod schedule;
pub mod tls;
pub mod worktree;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::{ServerConfig, ServerConfigError};

use crate::ledger::{Ledger, LedgerError};

/// How long a TLS handshake or a request head may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("work directory {}: {source}", path.display())]
    WorkDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A running server. Dropping it stops it.
pub struct RunningServer {
    /// The address it listens on (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// Whether it serves HTTPS.
    pub tls: bool,
    /// How many interrupted runs were marked failed at start.
    pub interrupted: u64,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningServer {
    /// Serves until the listener stops (it runs until the process ends).
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

/// Opens the ledger, marks interrupted runs failed, and starts serving.
pub async fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
    std::fs::create_dir_all(&config.work_dir).map_err(|source| StartError::WorkDir {
        path: config.work_dir.clone(),
        source,
    })?;
    let tls_config = config.tls.as_ref().map(tls::server_config).transpose()?;
    let ledger = Ledger::open(&config.ledger).await?;
    let interrupted = ledger.fail_interrupted().await?;
    let config = Arc::new(config);
    let worker = Arc::new(runner::Runner {
        config: Arc::clone(&config),
        ledger: ledger.clone(),
    });
    let queue = queue::Queue::new(config.max_concurrent_runs, config.max_queued, worker);
    let state = Arc::new(routes::AppState {
        config: Arc::clone(&config),
        ledger: ledger.clone(),
        queue,
    });
    let app = routes::router(state).merge(crate::dashboard::router(ledger.clone()));
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let mut tasks = Vec::new();
    let tls = tls_config.is_some();
    tasks.push(match tls_config {
        Some(c) => tokio::spawn(serve_tls(listener, tokio_rustls::TlsAcceptor::from(c), app)),
        None => tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("server stopped: {e}");
            }
        }),
    });
    if let Some(every) = config.db_update_interval {
        tasks.push(tokio::spawn(schedule::every(
            every,
            Arc::clone(&config),
            ledger,
        )));
    }
    Ok(RunningServer {
        addr,
        tls,
        interrupted,
        tasks,
    })
}

async fn serve_tls(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor, app: Router) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, "TLS handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let service = TowerToHyperService::new(app);
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HANDSHAKE_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(%peer, "connection: {e}");
            }
        });
    }
}
