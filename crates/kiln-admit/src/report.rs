//! Reporting admitted images to the Kiln server (`POST /api/v1/admitted`, see
//! `docs/server.md`), so that a re-scan that finds a new vulnerability can name the images
//! running in the cluster. Off the request path: admissions go into a bounded queue and a
//! background task sends them in batches (deduplicated within a batch). When the queue is
//! full or the server cannot be reached, reports are dropped with a warning: reporting
//! never delays or changes an admission decision.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

/// Admissions waiting to be sent at most.
const QUEUE: usize = 4096;
/// Longest a batch waits before it is sent.
const BATCH_WINDOW: Duration = Duration::from_secs(1);
/// Most admissions in one request.
const BATCH_MAX: usize = 500;

/// Where to report.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The server's base URL (`https://kiln.example`); `/api/v1/admitted` is appended.
    pub server: String,
    /// The bearer token the server expects, if any.
    pub token: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// One admitted image.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Admitted {
    pub image: String,
    pub digest: String,
    pub namespace: String,
}

#[derive(Serialize)]
struct Batch<'a> {
    admitted: Vec<&'a Admitted>,
}

/// The sending side, kept by the webhook.
#[derive(Debug, Clone)]
pub struct Reporter {
    tx: mpsc::Sender<Admitted>,
}

impl Reporter {
    /// Starts the background sender on the current tokio runtime.
    pub fn start(options: ReportOptions) -> Result<Reporter, String> {
        let url = format!("{}/api/v1/admitted", options.server.trim_end_matches('/'));
        reqwest::Url::parse(&url).map_err(|e| format!("admitted-report URL {url:?}: {e}"))?;
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .build()
            .map_err(|e| format!("admitted-report client: {e}"))?;
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(send_batches(rx, client, url, options.token));
        Ok(Reporter { tx })
    }

    /// Queues one admission; dropped (with a warning) when the queue is full.
    pub fn admitted(&self, image: &str, digest: &str, namespace: &str) {
        let a = Admitted {
            image: image.to_string(),
            digest: digest.to_string(),
            namespace: namespace.to_string(),
        };
        if self.tx.try_send(a).is_err() {
            tracing::warn!(
                image,
                "admitted-image report dropped: the report queue is full"
            );
        }
    }
}

async fn send_batches(
    mut rx: mpsc::Receiver<Admitted>,
    client: reqwest::Client,
    url: String,
    token: Option<String>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = BTreeSet::from([first]);
        let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
        while batch.len() < BATCH_MAX {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(a)) => {
                    batch.insert(a);
                }
                Ok(None) | Err(_) => break,
            }
        }
        let body = Batch {
            admitted: batch.iter().collect(),
        };
        let mut request = client.post(&url).json(&body);
        if let Some(t) = &token {
            request = request.bearer_auth(t);
        }
        match request.send().await {
            Ok(r) if r.status().is_success() => {
                tracing::debug!(count = batch.len(), "admitted images reported");
            }
            Ok(r) => tracing::warn!(
                status = r.status().as_u16(),
                count = batch.len(),
                "the Kiln server refused the admitted-image report ({url})"
            ),
            Err(e) => tracing::warn!(
                count = batch.len(),
                "admitted-image report to {url} failed: {e}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-request HTTP server that returns what it received.
    async fn receive_one(listener: tokio::net::TcpListener) -> String {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = s.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf);
            if let Some(h) = text.find("\r\n\r\n") {
                let len = text[..h]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if buf.len() >= h + 4 + len {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        s.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        String::from_utf8_lossy(&buf).into_owned()
    }

    #[tokio::test]
    async fn batches_are_deduplicated_and_authenticated() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let got = tokio::spawn(receive_one(listener));
        let r = Reporter::start(ReportOptions {
            server: format!("http://{addr}/"),
            token: Some("t0ken".into()),
            timeout: Duration::from_secs(5),
        })
        .unwrap();
        r.admitted("reg/app:v1", "sha256:aa", "prod");
        r.admitted("reg/app:v1", "sha256:aa", "prod");
        r.admitted("reg/app:v1", "sha256:aa", "dev");
        let request = got.await.unwrap();
        assert!(request.starts_with("POST /api/v1/admitted "), "{request}");
        assert!(
            request
                .to_ascii_lowercase()
                .contains("authorization: bearer t0ken")
        );
        let body: serde_json::Value =
            serde_json::from_str(&request[request.find("\r\n\r\n").unwrap() + 4..]).unwrap();
        assert_eq!(body["admitted"].as_array().unwrap().len(), 2, "{body}");
        assert_eq!(body["admitted"][0]["namespace"], "dev");
    }

    #[test]
    fn a_bad_url_is_refused() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let _g = rt.enter();
        let e = Reporter::start(ReportOptions {
            server: "not a url".into(),
            token: None,
            timeout: Duration::from_secs(1),
        })
        .unwrap_err();
        assert!(e.contains("not a url"), "{e}");
    }
}
