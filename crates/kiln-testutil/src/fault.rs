//! A fault-injecting proxy for tests: it sits between Kiln and a real component (the
//! distribution registry, moto's KMS, PostgreSQL), forwards everything, and breaks what a
//! test's plan says to break, counting every fault it injected so the test can assert
//! that the fault really happened.
//!
//! - [`Proxy::http`]: an HTTP/1.1 proxy. Each request is matched against the [`Rule`]s
//!   in order (method and a regex on the path, the first `times` matches or always); the
//!   first rule that matches and is not used up applies its [`Fault`]: an error answer
//!   (5xx, 429 with `Retry-After`) without reaching the upstream, or the upstream's
//!   answer damaged (connection dropped after K body bytes, body sent slowly, truncated,
//!   corrupted). The `Host` header is passed on unchanged, so a registry's `Location`
//!   answers point back through the proxy.
//! - [`Proxy::tcp`]: a TCP proxy for other protocols. Each new connection is matched
//!   against the [`TcpRule`]s: refused (accepted and closed at once), delayed, or dropped
//!   after K bytes; [`Proxy::drop_connections`] closes every open connection at once.
//!
//! The proxy runs on its own thread and runtime, so it serves synchronous tests (which
//! run `kiln` as a child process) and `#[tokio::test]`s alike; it stops when dropped.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What an HTTP rule does to a request it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status (500, 502, 503…) with a small JSON error body; the request
    /// never reaches the upstream.
    Status(u16),
    /// Answer 429 Too Many Requests with `Retry-After: SECONDS`; the request never
    /// reaches the upstream.
    TooManyRequests { retry_after_secs: u64 },
    /// Close the connection without an answer; the request never reaches the upstream.
    Hangup,
    /// Forward, then send the upstream's headers (with its full `Content-Length`) and only
    /// the first `bytes` bytes of its body, and close the connection.
    DropAfter { bytes: usize },
    /// Forward, then send the body in `chunk`-byte pieces with `delay` before each.
    Slow { chunk: usize, delay: Duration },
    /// Forward, then send only the first `bytes` bytes of the body as if it were whole
    /// (`Content-Length: bytes`).
    Truncate { bytes: usize },
    /// Forward, then flip every bit of one byte in the middle of the body (same length,
    /// so only a digest check notices).
    Corrupt,
}

/// One HTTP rule: which requests, how many times, and what fault.
#[derive(Debug, Clone)]
pub struct Rule {
    method: Option<String>,
    path: regex::Regex,
    header: Option<(String, regex::Regex)>,
    times: Option<u32>,
    fault: Fault,
}

impl Rule {
    /// Matches requests with `method` (`"*"` for any) whose path (without the query)
    /// matches the regex `path`; applies `fault` every time until [`Rule::times`] limits
    /// it. Panics on an invalid regex (a bug in the test).
    pub fn new(method: &str, path: &str, fault: Fault) -> Rule {
        Rule {
            method: (method != "*").then(|| method.to_ascii_uppercase()),
            path: regex::Regex::new(path).unwrap_or_else(|e| panic!("rule path {path:?}: {e}")),
            header: None,
            times: None,
            fault,
        }
    }

    /// Also requires the request header `name` to match the regex `value` (for APIs that
    /// name the operation in a header, as AWS JSON APIs do in `X-Amz-Target`).
    pub fn header(mut self, name: &str, value: &str) -> Rule {
        let re = regex::Regex::new(value).unwrap_or_else(|e| panic!("header {value:?}: {e}"));
        self.header = Some((name.to_ascii_lowercase(), re));
        self
    }

    /// Applies the fault to the first `n` matching requests only.
    pub fn times(mut self, n: u32) -> Rule {
        self.times = Some(n);
        self
    }

    fn matches(&self, method: &str, path: &str, headers: &hyper::HeaderMap) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && self.path.is_match(path)
            && self.header.as_ref().is_none_or(|(name, re)| {
                headers
                    .get(name.as_str())
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| re.is_match(v))
            })
    }
}

/// What a TCP rule does to a new connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpFault {
    /// Accept the connection and close it at once, before any byte is forwarded.
    Refuse,
    /// Wait this long before connecting to the upstream (a black hole, when long).
    Delay(Duration),
    /// Forward until `bytes` bytes (both directions together) have passed, then close.
    DropAfter { bytes: u64 },
}

/// One TCP rule: applied to the next `times` connections, or to every one.
#[derive(Debug, Clone)]
pub struct TcpRule {
    times: Option<u32>,
    fault: TcpFault,
}

impl TcpRule {
    /// Applies `fault` to every new connection until [`TcpRule::times`] limits it.
    pub fn new(fault: TcpFault) -> TcpRule {
        TcpRule { times: None, fault }
    }

    /// Applies the fault to the next `n` connections only.
    pub fn times(mut self, n: u32) -> TcpRule {
        self.times = Some(n);
        self
    }
}

/// The handle of a rule, to ask how often it fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleId(usize);

#[derive(Default)]
struct State {
    http: Vec<(Rule, u32)>,
    tcp: Vec<(TcpRule, u32)>,
    /// `METHOD PATH` of every HTTP request, or `connection N` for TCP, in order.
    seen: Vec<String>,
    injected: u64,
}

impl State {
    fn pick_http(&mut self, method: &str, path: &str, headers: &hyper::HeaderMap) -> Option<Fault> {
        for (rule, used) in &mut self.http {
            if rule.times.is_some_and(|t| *used >= t) || !rule.matches(method, path, headers) {
                continue;
            }
            *used += 1;
            self.injected += 1;
            return Some(rule.fault.clone());
        }
        None
    }

    fn pick_tcp(&mut self) -> Option<TcpFault> {
        for (rule, used) in &mut self.tcp {
            if rule.times.is_some_and(|t| *used >= t) {
                continue;
            }
            *used += 1;
            self.injected += 1;
            return Some(rule.fault.clone());
        }
        None
    }
}

struct Shared {
    upstream: String,
    state: Mutex<State>,
    /// Bumped by [`Proxy::drop_connections`]; every open connection watches it.
    kill: watch::Sender<u64>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fault proxy (see the module documentation). Stops when dropped.
pub struct Proxy {
    addr: String,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Clone, Copy)]
enum Mode {
    Http,
    Tcp,
}

impl Proxy {
    /// An HTTP proxy on `127.0.0.1:0` in front of `upstream` (`HOST:PORT`, or a URL
    /// `http://HOST:PORT[/]`), with no rules yet (it forwards everything).
    pub fn http(upstream: &str) -> Proxy {
        Proxy::start(upstream, Mode::Http)
    }

    /// A TCP proxy on `127.0.0.1:0` in front of `upstream` (`HOST:PORT`).
    pub fn tcp(upstream: &str) -> Proxy {
        Proxy::start(upstream, Mode::Tcp)
    }

    fn start(upstream: &str, mode: Mode) -> Proxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener
            .local_addr()
            .expect("the proxy's address")
            .to_string();
        let (kill, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            upstream,
            state: Mutex::new(State::default()),
            kill,
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy {addr}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("the proxy's runtime");
                rt.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("a tokio listener");
                    tokio::select! {
                        _ = stopped => {}
                        _ = accept_loop(listener, s, mode) => {}
                    }
                });
                rt.shutdown_timeout(Duration::from_secs(1));
            })
            .expect("the proxy's thread");
        Proxy {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`, where the proxy listens.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds an HTTP rule after the existing ones.
    pub fn add(&self, rule: Rule) -> RuleId {
        let mut st = self.shared.state();
        st.http.push((rule, 0));
        RuleId(st.http.len() - 1)
    }

    /// Adds a TCP rule after the existing ones.
    pub fn add_tcp(&self, rule: TcpRule) -> RuleId {
        let mut st = self.shared.state();
        st.tcp.push((rule, 0));
        RuleId(st.tcp.len() - 1)
    }

    /// Removes every rule (the counts of faults already injected stay).
    pub fn clear(&self) {
        let mut st = self.shared.state();
        for (rule, _) in &mut st.http {
            rule.times = Some(0);
        }
        for (rule, _) in &mut st.tcp {
            rule.times = Some(0);
        }
    }

    /// How many times the HTTP rule `id` injected its fault.
    pub fn injected(&self, id: RuleId) -> u32 {
        self.shared.state().http.get(id.0).map_or(0, |r| r.1)
    }

    /// How many times the TCP rule `id` injected its fault.
    pub fn injected_tcp(&self, id: RuleId) -> u32 {
        self.shared.state().tcp.get(id.0).map_or(0, |r| r.1)
    }

    /// Every fault injected so far, all rules together.
    pub fn total_injected(&self) -> u64 {
        self.shared.state().injected
    }

    /// What passed through: `METHOD PATH` per HTTP request, `connection` per TCP one.
    pub fn seen(&self) -> Vec<String> {
        self.shared.state().seen.clone()
    }

    /// Closes every open connection now (TCP mode, and HTTP connections being served).
    /// Counts as one injected fault.
    pub fn drop_connections(&self) {
        self.shared.state().injected += 1;
        self.shared.kill.send_modify(|g| *g += 1);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mode: Mode) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            match mode {
                Mode::Http => serve_http(stream, shared).await,
                Mode::Tcp => serve_tcp(stream, shared).await,
            }
        });
    }
}

// ---------------------------------------------------------------------------------------
// HTTP mode

async fn serve_http(stream: TcpStream, shared: Arc<Shared>) {
    let mut kill = shared.kill.subscribe();
    let svc = {
        let shared = shared.clone();
        hyper::service::service_fn(move |req| handle(req, shared.clone()))
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::select! {
        _ = conn => {}
        _ = kill.changed() => {}
    }
}

/// The hop-by-hop headers, never passed on.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn strip_hop_by_hop(h: &mut hyper::HeaderMap) {
    for name in HOP_BY_HOP {
        h.remove(name);
    }
}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<ProxyBody>, BoxError> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let fault = {
        let mut st = shared.state();
        st.seen.push(format!("{method} {path}"));
        st.pick_http(&method, &path, req.headers())
    };
    match &fault {
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Ok(error_answer(status, None));
        }
        Some(Fault::Hangup) => return Err("fault proxy: hung up".into()),
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            return Ok(error_answer(
                StatusCode::TOO_MANY_REQUESTS,
                Some(*retry_after_secs),
            ));
        }
        _ => {}
    }
    let answer = match forward(req, &shared.upstream).await {
        Ok(a) => a,
        Err(e) => {
            let body = format!("fault proxy: upstream {}: {e}", shared.upstream);
            let mut r = Response::new(ProxyBody::full(Bytes::from(body)));
            *r.status_mut() = StatusCode::BAD_GATEWAY;
            return Ok(r);
        }
    };
    let (mut parts, body) = answer.into_parts();
    let body = body.collect().await?.to_bytes();
    strip_hop_by_hop(&mut parts.headers);
    let send = |len: usize, headers: &mut hyper::HeaderMap| {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    };
    let body = match fault {
        None => {
            // A HEAD answer keeps the upstream's Content-Length.
            if !parts.headers.contains_key(header::CONTENT_LENGTH) || !body.is_empty() {
                send(body.len(), &mut parts.headers);
            }
            ProxyBody::full(body)
        }
        Some(Fault::Corrupt) => {
            let mut v = body.to_vec();
            if let Some(b) = v.get_mut(body.len() / 2) {
                *b ^= 0xff;
            }
            send(v.len(), &mut parts.headers);
            ProxyBody::full(Bytes::from(v))
        }
        Some(Fault::Truncate { bytes }) => {
            let cut = body.slice(..bytes.min(body.len()));
            send(cut.len(), &mut parts.headers);
            ProxyBody::full(cut)
        }
        Some(Fault::DropAfter { bytes }) => {
            send(body.len(), &mut parts.headers);
            ProxyBody::streamed(body, bytes.max(1), Duration::ZERO, Some(bytes))
        }
        Some(Fault::Slow { chunk, delay }) => {
            send(body.len(), &mut parts.headers);
            ProxyBody::streamed(body, chunk.max(1), delay, None)
        }
        Some(Fault::Status(_) | Fault::TooManyRequests { .. } | Fault::Hangup) => {
            unreachable!("answered above")
        }
    };
    Ok(Response::from_parts(parts, body))
}

fn error_answer(status: StatusCode, retry_after: Option<u64>) -> Response<ProxyBody> {
    let body = format!(
        "{{\"errors\":[{{\"code\":\"FAULT\",\"message\":\"injected {}\"}}]}}",
        status.as_u16()
    );
    let mut r = Response::new(ProxyBody::full(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(s) = retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

/// Sends `req` to `upstream` over a fresh connection.
async fn forward(
    mut req: Request<Incoming>,
    upstream: &str,
) -> Result<Response<Incoming>, BoxError> {
    let tcp = TcpStream::connect(upstream).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    // A body of unknown length (the client chunked it) is chunked again by hyper.
    strip_hop_by_hop(req.headers_mut());
    Ok(sender.send_request(req).await?)
}

/// A response body: whole, or streamed in pieces by a task (slowly, or cut off with an
/// error so the server closes the connection mid-body).
pub struct ProxyBody {
    inner: BodyInner,
}

enum BodyInner {
    Full(Full<Bytes>),
    Streamed {
        rx: mpsc::Receiver<Result<Bytes, BoxError>>,
        left: u64,
    },
}

impl ProxyBody {
    fn full(b: Bytes) -> ProxyBody {
        ProxyBody {
            inner: BodyInner::Full(Full::new(b)),
        }
    }

    fn streamed(body: Bytes, chunk: usize, delay: Duration, cut: Option<usize>) -> ProxyBody {
        let (tx, rx) = mpsc::channel(4);
        let total = body.len() as u64;
        tokio::spawn(async move {
            let end = cut.map_or(body.len(), |c| c.min(body.len()));
            let mut at = 0;
            while at < end {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let next = (at + chunk).min(end);
                if tx.send(Ok(body.slice(at..next))).await.is_err() {
                    return;
                }
                at = next;
            }
            if cut.is_some() {
                // Let hyper flush what was sent before the connection is cut.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = tx
                    .send(Err("fault proxy: connection dropped mid-body".into()))
                    .await;
            }
        });
        ProxyBody {
            inner: BodyInner::Streamed { rx, left: total },
        }
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().inner {
            BodyInner::Full(f) => Pin::new(f).poll_frame(cx).map_err(|e| match e {}),
            BodyInner::Streamed { rx, left } => match rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(b))) => {
                    *left = left.saturating_sub(b.len() as u64);
                    Poll::Ready(Some(Ok(Frame::data(b))))
                }
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            BodyInner::Full(f) => f.size_hint(),
            BodyInner::Streamed { left, .. } => SizeHint::with_exact(*left),
        }
    }
}

// ---------------------------------------------------------------------------------------
// TCP mode

async fn serve_tcp(client: TcpStream, shared: Arc<Shared>) {
    let fault = {
        let mut st = shared.state();
        st.seen.push("connection".to_string());
        st.pick_tcp()
    };
    let mut kill = shared.kill.subscribe();
    let mut budget = u64::MAX;
    match fault {
        Some(TcpFault::Refuse) => return,
        Some(TcpFault::Delay(d)) => {
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = kill.changed() => return,
            }
        }
        Some(TcpFault::DropAfter { bytes }) => budget = bytes,
        None => {}
    }
    let Ok(upstream) = TcpStream::connect(&shared.upstream).await else {
        return;
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream.into_split();
    let mut up = vec![0u8; 16 * 1024];
    let mut down = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            _ = kill.changed() => return,
            r = cr.read(&mut up) => {
                let Ok(n) = r else { return };
                if n == 0 || !pass(&mut uw, &up[..n], &mut budget).await {
                    return;
                }
            }
            r = ur.read(&mut down) => {
                let Ok(n) = r else { return };
                if n == 0 || !pass(&mut cw, &down[..n], &mut budget).await {
                    return;
                }
            }
        }
    }
}

/// Writes what the budget allows of `data`; `false` when the connection is to end.
async fn pass(w: &mut tokio::net::tcp::OwnedWriteHalf, data: &[u8], budget: &mut u64) -> bool {
    let n = (data.len() as u64).min(*budget) as usize;
    if w.write_all(&data[..n]).await.is_err() {
        return false;
    }
    *budget -= n as u64;
    n == data.len() && *budget > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny HTTP upstream answering every request with `body` (Content-Length set).
    fn upstream(body: &'static [u8]) -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(body);
            }
        });
        addr
    }

    fn get(addr: &str, path: &str) -> (u16, Vec<(String, String)>, Vec<u8>, bool) {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response head");
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let body = raw[split + 4..].to_vec();
        let mut lines = head.lines();
        let status: u16 = lines.next().unwrap()[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let len = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map(|(_, v)| v.parse::<usize>().unwrap());
        let complete = len == Some(body.len());
        (status, headers, body, complete)
    }

    #[test]
    fn http_faults_apply_in_order_and_are_counted() {
        const BODY: &[u8] = b"0123456789abcdefghij";
        let proxy = Proxy::http(&upstream(BODY));
        let five = proxy.add(Rule::new("GET", "^/a$", Fault::Status(503)).times(1));
        let busy = proxy.add(
            Rule::new(
                "*",
                "^/b$",
                Fault::TooManyRequests {
                    retry_after_secs: 1,
                },
            )
            .times(1),
        );
        let drop = proxy.add(Rule::new("GET", "^/c$", Fault::DropAfter { bytes: 5 }));
        let cut = proxy.add(Rule::new("GET", "^/d$", Fault::Truncate { bytes: 4 }));
        let bad = proxy.add(Rule::new("GET", "^/e$", Fault::Corrupt));
        let slow = proxy.add(Rule::new(
            "GET",
            "^/f$",
            Fault::Slow {
                chunk: 7,
                delay: Duration::from_millis(1),
            },
        ));

        assert_eq!(get(proxy.addr(), "/a").0, 503);
        let (s, _, b, ok) = get(proxy.addr(), "/a");
        assert_eq!((s, b.as_slice(), ok), (200, BODY, true), "only once");
        let (s, h, _, _) = get(proxy.addr(), "/b");
        assert_eq!(s, 429);
        assert!(h.contains(&("retry-after".into(), "1".into())), "{h:?}");
        let (s, _, b, ok) = get(proxy.addr(), "/c");
        assert_eq!((s, b.as_slice(), ok), (200, &BODY[..5], false));
        let (s, _, b, ok) = get(proxy.addr(), "/d");
        assert_eq!((s, b.as_slice(), ok), (200, &BODY[..4], true));
        let (_, _, b, ok) = get(proxy.addr(), "/e");
        assert!(ok && b.len() == BODY.len() && b != BODY);
        let (_, _, b, ok) = get(proxy.addr(), "/f");
        assert_eq!((b.as_slice(), ok), (BODY, true));

        assert_eq!(proxy.injected(five), 1);
        assert_eq!(proxy.injected(busy), 1);
        assert_eq!(proxy.injected(drop), 1);
        assert_eq!(proxy.injected(cut), 1);
        assert_eq!(proxy.injected(bad), 1);
        assert_eq!(proxy.injected(slow), 1);
        assert_eq!(proxy.total_injected(), 6);
        assert_eq!(proxy.seen().len(), 7);
        proxy.clear();
        assert_eq!(get(proxy.addr(), "/c").2, BODY);
    }

    #[test]
    fn tcp_faults() {
        use std::io::{Read, Write};
        // An echo upstream.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let proxy = Proxy::tcp(&addr);
        let refuse = proxy.add_tcp(TcpRule::new(TcpFault::Refuse).times(1));
        let cut = proxy.add_tcp(TcpRule::new(TcpFault::DropAfter { bytes: 6 }).times(1));
        let mut s = std::net::TcpStream::connect(proxy.addr()).unwrap();
        let _ = s.write_all(b"hello");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        assert!(out.is_empty(), "refused: {out:?}");
        // 4 bytes up + 2 of the 4 echoed back = the 6-byte budget.
        let mut s = std::net::TcpStream::connect(proxy.addr()).unwrap();
        s.write_all(b"ping").unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        assert_eq!(out, b"pi");
        // No rule left: a clean echo, until drop_connections.
        let mut s = std::net::TcpStream::connect(proxy.addr()).unwrap();
        s.write_all(b"ok").unwrap();
        let mut two = [0u8; 2];
        s.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"ok");
        proxy.drop_connections();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        assert!(rest.is_empty());
        assert_eq!(
            (proxy.injected_tcp(refuse), proxy.injected_tcp(cut)),
            (1, 1)
        );
    }
}
