//! `kiln admit` under stress, on the real server process over TLS: a burst of concurrent
//! AdmissionReviews well beyond what it can decide (cached and uncached decisions of images
//! in the real registry), oversized and malformed bodies with the server's peak memory,
//! slow clients (slowloris) holding connections while others are served, a registry that
//! hangs, and a full server refusing cleanly. Every answer is a well-formed AdmissionReview
//! or a clean refusal (413, 408, 400, 503), no unsigned image is ever allowed, and the
//! server's own latency histogram shows no answer over its budget.
//!
//! Each test prints a `stress:` line with its counts (recorded in HARDENING.md).

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kiln_oci::manifest::{Descriptor, ImageManifest};
use kiln_oci::{ImageRef, ImageStore, Manifest, OciLayout, media_type};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const PASSWORD: &str = "str3ss-Pa55word";

fn kiln(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .current_dir(dir)
        .args(args)
        .env_remove("COSIGN_PASSWORD")
        .env("KILN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kiln {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Keys and certificates for a test directory.
fn prepare(dir: &Path) {
    kiln(dir, &["key", "generate", "--output-key-prefix", "k"]);
    kiln(
        dir,
        &[
            "admit",
            "gen-certs",
            "--out",
            "certs",
            "--host",
            "localhost",
        ],
    );
}

/// A policy requiring the factory's signature and a SLSA provenance it signed, for every
/// image matching `glob`.
fn write_policy(dir: &Path, glob: &str) {
    std::fs::write(
        dir.join("policy.yaml"),
        format!(
            r#"apiVersion: kiln.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: stress
spec:
  mode: enforce
  defaultAction: deny
  signers:
    - name: factory
      publicKeyFile: k.pub
  rules:
    - name: apps
      images: ["{glob}"]
      signatures:
        signers: [factory]
      attestations:
        - name: provenance
          predicateType: https://slsa.dev/provenance/v1
          signers: [factory]
"#
        ),
    )
    .unwrap();
}

/// Pushes a one-layer image (content unique to `name`) to `registry/repo/name:v1`.
async fn push_image(dir: &Path, registry: &str, repo: &str, name: &str) -> String {
    let path = dir.join(format!("layout-{name}"));
    let store = OciLayout::create(&path).unwrap();
    let layer = format!("layer of {name}").into_bytes();
    let ld = Descriptor::of(media_type::OCI_LAYER_TAR, &layer);
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = Descriptor::of(media_type::OCI_CONFIG, config);
    store.push_blob(&ld.digest, &layer).await.unwrap();
    store.push_blob(&cd.digest, config).await.unwrap();
    let m = Manifest::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.into()),
        artifact_type: None,
        config: cd,
        layers: vec![ld],
        subject: None,
        annotations: None,
    });
    store.push_manifest(&m, Some("v1")).await.unwrap();
    let reference = format!("{registry}/{repo}/{name}:v1");
    let r = ImageRef::parse(&reference).unwrap();
    let dst = kiln_oci::open::open_store(&r, &Default::default()).unwrap();
    kiln_oci::store::copy_image(&store, "v1", &*dst, Some("v1"))
        .await
        .unwrap();
    reference
}

/// A running `kiln admit` process; killed when dropped.
struct Server {
    child: Child,
    port: u16,
    metrics: SocketAddr,
}

impl Server {
    fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .current_dir(dir)
            .args([
                "admit",
                "--policy",
                "policy.yaml",
                "--tls-cert",
                "certs/tls.crt",
                "--tls-key",
                "certs/tls.key",
                "--listen",
                "127.0.0.1:0",
                "--metrics-listen",
                "127.0.0.1:0",
            ])
            .args(extra)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while stderr.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        let addr_after = |scheme: &str| -> SocketAddr {
            line.split(scheme)
                .nth(1)
                .and_then(|s| {
                    s.split(|c: char| c.is_whitespace() || c == ',' || c == ')' || c == ';')
                        .next()
                })
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("no {scheme} address in {line:?}"))
        };
        let port = addr_after("https://").port();
        let metrics = addr_after("http://");
        Server {
            child,
            port,
            metrics,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    /// Peak resident memory of the server process (`VmHWM`), in KiB.
    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }

    async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.metrics))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Answers counted by the server's latency histogram, and those slower than `le`
    /// seconds (a bucket bound of the histogram).
    async fn answers_over(&self, le: &str) -> (u64, u64) {
        let m = self.metrics().await;
        let value = |prefix: &str| -> u64 {
            m.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {prefix} in {m}"))
        };
        let total = value("kiln_admit_request_duration_seconds_count ");
        let within = value(&format!(
            "kiln_admit_request_duration_seconds_bucket{{le=\"{le}\"}} "
        ));
        (total, total - within)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(dir: &Path) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(dir.join("certs/ca.crt")).unwrap())
                .unwrap(),
        )
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn review(uid: &str, kind: &str, object: Value) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": uid, "kind": {"group": "", "version": "v1", "kind": kind},
            "namespace": "prod", "operation": "CREATE", "object": object}})
}

fn pod(uid: &str, images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
        .collect();
    review(
        uid,
        "Pod",
        json!({"metadata": {"name": "p"}, "spec": {"containers": containers}}),
    )
}

/// What one request came to.
#[derive(Debug)]
enum Answer {
    Review { allowed: bool, message: String },
    Refused(u16, String),
}

async fn send(client: &reqwest::Client, url: &str, body: Vec<u8>, uid: &str) -> Answer {
    let r = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("transport error (the server must answer): {e:?}"));
    let status = r.status().as_u16();
    let retry_after = r.headers().contains_key("retry-after");
    let text = r.text().await.unwrap();
    if status != 200 {
        if status == 503 {
            assert!(retry_after, "503 without Retry-After: {text}");
        }
        return Answer::Refused(status, text);
    }
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    assert_eq!(v["apiVersion"], "admission.k8s.io/v1", "{v}");
    assert_eq!(v["kind"], "AdmissionReview", "{v}");
    assert_eq!(v["response"]["uid"], uid, "{v}");
    let allowed = v["response"]["allowed"]
        .as_bool()
        .unwrap_or_else(|| panic!("no allowed in {v}"));
    let message = v["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !allowed {
        assert!(!message.is_empty(), "a denial without a reason: {v}");
    }
    Answer::Review { allowed, message }
}

/// A TLS connection to the server, by hand (for clients that misbehave).
async fn tls_connect(
    dir: &Path,
    port: u16,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(dir.join("certs/ca.crt")).unwrap();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&ca) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    connector
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_far_beyond_capacity_is_answered_in_time_and_never_allows_unsigned() {
    let Some(registry) = kiln_testutil::registry() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    prepare(dir);
    let repo = format!("kiln-admit-stress-{}", std::process::id());
    let good = push_image(dir, &registry, &repo, "good").await;
    std::fs::write(
        dir.join("provenance.json"),
        json!({"buildDefinition": {"buildType": "https://kiln.dev/build/v1",
            "externalParameters": {}}, "runDetails": {"builder": {"id": "https://kiln.dev/builder@v1"}}})
        .to_string(),
    )
    .unwrap();
    kiln(dir, &["sign", "--key", "k.key", &good]);
    kiln(
        dir,
        &[
            "attest",
            "--key",
            "k.key",
            "--type",
            "slsaprovenance",
            "--predicate",
            "provenance.json",
            &good,
        ],
    );
    let mut unsigned = Vec::new();
    for i in 0..40 {
        unsigned.push(push_image(dir, &registry, &repo, &format!("unsigned-{i}")).await);
    }
    write_policy(dir, &format!("{registry}/{repo}/*"));
    // Short cache lifetimes keep uncached decisions coming through the whole burst; a small
    // number of decision slots makes the burst far beyond what the server may decide at once.
    let server = Server::start(
        dir,
        &[
            "--budget",
            "1800ms",
            "--max-in-flight",
            "24",
            "--queue-wait",
            "300ms",
            "--cache-ttl",
            "2s",
            "--tag-ttl",
            "1s",
        ],
    );
    let client = client(dir);
    let good = Arc::new(good);
    let unsigned = Arc::new(unsigned);
    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let stop = started + Duration::from_secs(8);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let (client, good, unsigned, counter) = (
            client.clone(),
            good.clone(),
            unsigned.clone(),
            counter.clone(),
        );
        let urls = [server.url("/validate"), server.url("/mutate")];
        workers.spawn(async move {
            let mut seen = Vec::new();
            while Instant::now() < stop {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let is_good = n % 10 == 0;
                let image = if is_good {
                    good.as_str()
                } else {
                    unsigned[(n * 7) % unsigned.len()].as_str()
                };
                let uid = format!("burst-{n}");
                let body = pod(&uid, &[image]).to_string().into_bytes();
                let answer = send(&client, &urls[n % 2], body, &uid).await;
                seen.push((is_good, answer));
            }
            seen
        });
    }
    let (mut total, mut allowed_good, mut denied_good, mut denied_unsigned) = (0, 0, 0, 0);
    let mut refused = std::collections::BTreeMap::<u16, usize>::new();
    while let Some(r) = workers.join_next().await {
        for (is_good, answer) in r.unwrap() {
            total += 1;
            match answer {
                Answer::Review {
                    allowed: true,
                    message,
                } => {
                    assert!(is_good, "an unsigned image was allowed: {message}");
                    allowed_good += 1;
                }
                Answer::Review {
                    allowed: false,
                    message,
                } => {
                    if is_good {
                        // Only a failure to look may deny the good image: fail closed.
                        assert!(
                            message.contains("timeout") || message.contains("registry"),
                            "{message}"
                        );
                        denied_good += 1;
                    } else {
                        assert!(
                            message.contains("missing-signature")
                                || message.contains("timeout")
                                || message.contains("registry"),
                            "{message}"
                        );
                        denied_unsigned += 1;
                    }
                }
                Answer::Refused(status, text) => {
                    assert_eq!(status, 503, "only overload may refuse here: {text}");
                    assert!(text.contains("overloaded"), "{text}");
                    *refused.entry(status).or_default() += 1;
                }
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (answered, over) = server.answers_over("2.048").await;
    let peak = server.peak_rss_kib();
    eprintln!(
        "stress: burst: {total} requests in {elapsed:.1} s ({:.0}/s) from 200 concurrent \
         clients; allowed (signed) {allowed_good}, denied signed {denied_good}, denied \
         unsigned {denied_unsigned}, refused {refused:?}; server histogram: {answered} \
         answers, {over} over 2.048 s (budget 1.8 s); peak RSS {} MiB",
        total as f64 / elapsed,
        peak / 1024
    );
    assert!(total >= 200, "{total}");
    assert!(allowed_good > 0, "the signed image was never allowed");
    assert_eq!(answered, total as u64, "every request was answered");
    assert_eq!(over, 0, "answers over the budget");
    assert!(peak < 256 * 1024, "peak RSS {peak} KiB");
    // Still serving normally afterwards.
    let uid = "after";
    match send(
        &client,
        &server.url("/validate"),
        pod(uid, &[&unsigned[0]]).to_string().into_bytes(),
        uid,
    )
    .await
    {
        Answer::Review { allowed, .. } => assert!(!allowed),
        other => panic!("{other:?}"),
    }
}

/// A 3 MiB-class AdmissionReview: a Pod with as many containers as fit under `size`, each
/// naming `image(i)`.
fn big_pod(uid: &str, size: usize, image: impl Fn(usize) -> String) -> Vec<u8> {
    let mut images = Vec::new();
    let mut estimate = 300;
    while estimate < size {
        let i = images.len();
        let img = image(i);
        estimate += img.len() + 40;
        images.push(img);
    }
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
    let mut body = pod(uid, &refs).to_string().into_bytes();
    while body.len() > size {
        let mut v: Value = serde_json::from_slice(&body).unwrap();
        let c = v["request"]["object"]["spec"]["containers"]
            .as_array_mut()
            .unwrap();
        let keep = c.len() * 95 / 100;
        c.truncate(keep);
        body = v.to_string().into_bytes();
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_malformed_bodies_are_refused_and_memory_stays_bounded() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    prepare(dir);
    // Nothing listens on port 1: every decision is a quick registry error (denied).
    write_policy(dir, "*");
    let server = Server::start(dir, &["--budget", "3s"]);
    let client = client(dir);
    let url = server.url("/validate");
    let limit = 3 * 1024 * 1024;

    // 10 MiB with its Content-Length: refused before reading.
    let mut tries = 0;
    let ten = vec![b' '; 10 * 1024 * 1024];
    match send(&client, &url, ten, "x").await {
        Answer::Refused(413, t) => assert!(t.contains("larger than the limit"), "{t}"),
        other => panic!("{other:?}"),
    }
    tries += 1;

    // 10 MiB chunked (no length): read up to the limit, then refused.
    let mut tls = tls_connect(dir, server.port).await;
    tls.write_all(
        b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
          Transfer-Encoding: chunked\r\n\r\n",
    )
    .await
    .unwrap();
    let (mut rd, mut wr) = tokio::io::split(tls);
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = rd.read(&mut buf).await {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            if got.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        got
    });
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..160 {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        if wr.write_all(&frame).await.is_err() {
            break;
        }
    }
    let got = tokio::time::timeout(Duration::from_secs(20), reader)
        .await
        .expect("an answer to the chunked body")
        .unwrap();
    let head = String::from_utf8_lossy(&got);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    tries += 1;

    // Many 3 MiB-class reviews at once: many distinct images (refused by count), and one
    // image in every container (one decision).
    let distinct = Arc::new(big_pod("big-d", limit - 1024, |i| {
        format!("127.0.0.1:1/app-{i}:v1")
    }));
    let same = Arc::new(big_pod("big-s", limit - 1024, |_| {
        "127.0.0.1:1/app:v1".to_string()
    }));
    // One at a time: denied for what they are.
    for (body, uid, want) in [
        (&distinct, "big-d", "distinct images"),
        (&same, "big-s", "127.0.0.1:1/app:v1"),
    ] {
        let t = Instant::now();
        match send(&client, &url, body.to_vec(), uid).await {
            Answer::Review { allowed, message } => {
                assert!(!allowed);
                assert!(
                    message.contains(want),
                    "{}",
                    &message[..message.len().min(500)]
                );
            }
            other => panic!("{other:?}"),
        }
        eprintln!(
            "stress: one {} byte review ({uid}) answered in {:?}",
            body.len(),
            t.elapsed()
        );
        tries += 1;
    }
    let mut set = tokio::task::JoinSet::new();
    for i in 0..16 {
        let (client, url) = (client.clone(), url.clone());
        let (body, uid) = if i % 2 == 0 {
            (distinct.clone(), "big-d")
        } else {
            (same.clone(), "big-s")
        };
        set.spawn(async move { (uid, send(&client, &url, body.to_vec(), uid).await) });
    }
    let (mut denied, mut overloaded, mut slow) = (0, 0, 0);
    while let Some(r) = set.join_next().await {
        tries += 1;
        match r.unwrap() {
            ("big-d", Answer::Review { allowed, message }) => {
                assert!(!allowed);
                assert!(
                    message.contains("distinct images") || message.contains("timeout"),
                    "{message}"
                );
                denied += 1;
            }
            ("big-s", Answer::Review { allowed, message }) => {
                assert!(!allowed);
                // Denied for the image, or (when the upload used the budget up) for time.
                assert!(
                    message.contains("127.0.0.1:1/app:v1") || message.contains("timeout"),
                    "{}",
                    &message[..message.len().min(2000)]
                );
                denied += 1;
            }
            (_, Answer::Refused(503, _)) => overloaded += 1,
            // This test's own client is slow to send 24 bodies of 3 MiB over TLS at once.
            (_, Answer::Refused(408, _)) => slow += 1,
            (uid, other) => panic!("{uid}: {other:?}"),
        }
    }

    // Malformed: clean 400s naming the problem; an unknown kind with containers: denied.
    let bad: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "not valid AdmissionReview JSON"),
        (b"{not json".to_vec(), "not valid AdmissionReview JSON"),
        (b"[1,2,3]".to_vec(), "not valid AdmissionReview JSON"),
        (vec![0xff, 0xfe, 0x00, 0x7b], "not valid AdmissionReview JSON"),
        (
            br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u","kind":{"kind":"Pod"}}}"#.to_vec(),
            "admission.k8s.io/v1",
        ),
        (
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{"uid":"u","kind":{"kind":"Pod"}}}"#.to_vec(),
            "expected \"AdmissionReview\"",
        ),
        (
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(),
            "no request",
        ),
        (
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":7,"kind":{"kind":"Pod"}}}"#.to_vec(),
            "not valid AdmissionReview JSON",
        ),
        (
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"kind":"Pod"},"object":{"spec":{"containers":[{"image":7}]}}}}"#.to_vec(),
            "",
        ),
    ];
    for (body, want) in bad {
        tries += 1;
        match send(&client, &url, body.clone(), "u").await {
            Answer::Refused(400, t) => assert!(t.contains(want), "{want:?} in {t}"),
            Answer::Review { allowed, message } if want.is_empty() => {
                assert!(!allowed, "{message}")
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(&body)),
        }
    }
    let rollout = review(
        "r",
        "Rollout",
        json!({"spec": {"template": {"spec": {"containers": [{"image": "127.0.0.1:1/a:v1"}]}}}}),
    );
    match send(&client, &url, rollout.to_string().into_bytes(), "r").await {
        Answer::Review { allowed, message } => {
            assert!(!allowed);
            assert!(message.contains("Rollout"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    tries += 1;
    let h = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(h.status(), 200);
    let peak = server.peak_rss_kib();
    let m = server.metrics().await;
    eprintln!(
        "stress: bodies: {tries} hostile requests (10 MiB with length, 10 MiB chunked, 16 \
         concurrent ~3 MiB reviews: {denied} denied, {overloaded} refused 503, {slow} refused \
         408; 10 malformed); peak RSS {} MiB",
        peak / 1024
    );
    assert!(
        m.contains("kiln_admit_refused_total{reason=\"too_large\"} 2"),
        "{m}"
    );
    assert!(peak < 256 * 1024, "peak RSS {peak} KiB");
}

/// How a slow client ended: cut off by the server after this long, with what it read.
type Cut = Option<(Duration, Vec<u8>)>;

/// Sends `prefix` at once, then `trickle` one byte a second, until the server closes the
/// connection (or 30 s pass: `None`).
async fn trickle<S>(stream: S, prefix: Vec<u8>, trickle: Vec<u8>) -> Cut
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let start = Instant::now();
    let (mut rd, mut wr) = tokio::io::split(stream);
    let writer = async move {
        if wr.write_all(&prefix).await.is_err() {
            return;
        }
        for b in trickle.iter().cycle() {
            if wr.write_all(&[*b]).await.is_err() || wr.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let reader = async move {
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    let limit = tokio::time::sleep(Duration::from_secs(30));
    tokio::select! {
        got = reader => Some((start.elapsed(), got)),
        _ = writer => Some((start.elapsed(), Vec::new())),
        _ = limit => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_while_others_are_served() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    prepare(dir);
    write_policy(dir, "*");
    let server = Server::start(
        dir,
        &[
            "--budget",
            "3s",
            "--header-timeout",
            "3s",
            "--body-timeout",
            "2s",
        ],
    );
    let port = server.port;
    let mut slow = tokio::task::JoinSet::new();
    // 20 that never finish the TLS handshake (a ClientHello-looking byte a second).
    for _ in 0..20 {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        slow.spawn(async move { ("handshake", trickle(tcp, vec![0x16], vec![0x03]).await) });
    }
    // 20 that send the request head a byte a second.
    let head = b"POST /validate HTTP/1.1\r\nHost: localhost\r\nX-Slow: ".to_vec();
    for _ in 0..20 {
        let tls = tls_connect(dir, port).await;
        let h = head.clone();
        slow.spawn(async move { ("head", trickle(tls, h, b"a".to_vec()).await) });
    }
    // 10 that send the head, then the body a byte a second.
    let with_body = b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: \
        application/json\r\nContent-Length: 1000\r\n\r\n{"
        .to_vec();
    for _ in 0..10 {
        let tls = tls_connect(dir, port).await;
        let h = with_body.clone();
        slow.spawn(async move { ("body", trickle(tls, h, b" ".to_vec()).await) });
    }
    // Meanwhile, ordinary requests are answered.
    let client = client(dir);
    let mut served = 0;
    for i in 0..20 {
        let uid = format!("n{i}");
        match send(
            &client,
            &server.url("/validate"),
            pod(&uid, &["127.0.0.1:1/app:v1"]).to_string().into_bytes(),
            &uid,
        )
        .await
        {
            Answer::Review { allowed: false, .. } => served += 1,
            other => panic!("{other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut cut = std::collections::BTreeMap::<&str, (usize, Duration)>::new();
    while let Some(r) = slow.join_next().await {
        let (what, ended) = r.unwrap();
        let (after, got) =
            ended.unwrap_or_else(|| panic!("a slow {what} client was never cut off"));
        if what == "body" {
            let text = String::from_utf8_lossy(&got);
            assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        }
        let e = cut.entry(what).or_insert((0, Duration::ZERO));
        e.0 += 1;
        e.1 = e.1.max(after);
    }
    let m = server.metrics().await;
    eprintln!(
        "stress: slowloris: 50 slow clients (cut off: {cut:?}), {served}/20 ordinary requests \
         answered meanwhile"
    );
    assert_eq!(served, 20);
    assert!(
        m.contains("kiln_admit_refused_total{reason=\"slow_body\"} 10"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_registry_fills_the_slots_and_the_next_request_is_refused_cleanly() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    prepare(dir);
    // Accepts connections and never answers.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = hang.local_addr().unwrap();
    let held = Arc::new(std::sync::Mutex::new(Vec::new()));
    let h = held.clone();
    std::thread::spawn(move || {
        for c in hang.incoming().flatten() {
            h.lock().unwrap().push(c);
        }
    });
    write_policy(dir, "*");
    let server = Server::start(
        dir,
        &[
            "--budget",
            "1500ms",
            "--max-in-flight",
            "4",
            "--queue-wait",
            "200ms",
        ],
    );
    let client = client(dir);
    let url = server.url("/validate");
    let image = format!("{addr}/app:v1");
    let mut hanging = tokio::task::JoinSet::new();
    for i in 0..4 {
        let (client, url) = (client.clone(), url.clone());
        let uid = format!("hang-{i}");
        let body = pod(&uid, &[&image]).to_string().into_bytes();
        hanging.spawn(async move { send(&client, &url, body, &uid).await });
    }
    // Once all four slots are taken, the next request is refused at once.
    let mut full = false;
    for _ in 0..100 {
        if server.metrics().await.contains("kiln_admit_in_flight 4") {
            full = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(full, "{}", server.metrics().await);
    match send(
        &client,
        &url,
        pod("extra", &[&image]).to_string().into_bytes(),
        "extra",
    )
    .await
    {
        Answer::Refused(503, t) => assert!(t.contains("overloaded"), "{t}"),
        other => panic!("{other:?}"),
    }
    let mut timeouts = 0;
    while let Some(r) = hanging.join_next().await {
        match r.unwrap() {
            Answer::Review { allowed, message } => {
                assert!(!allowed, "{message}");
                assert!(message.contains("timeout"), "{message}");
                timeouts += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        !held.lock().unwrap().is_empty(),
        "the registry was never contacted"
    );
    // Slots free again: answered.
    match send(
        &client,
        &url,
        pod("later", &[&image]).to_string().into_bytes(),
        "later",
    )
    .await
    {
        Answer::Review { allowed, message } => {
            assert!(!allowed && message.contains("timeout"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let (answered, over) = server.answers_over("2.048").await;
    eprintln!(
        "stress: hanging registry: {timeouts}/4 denied with a timeout reason within the 1.5 s \
         budget, 1 refused 503 while full, histogram {answered} answers, {over} over 2.048 s"
    );
    assert_eq!(over, 0);
    assert!(
        server
            .metrics()
            .await
            .contains("kiln_admit_refused_total{reason=\"overloaded\"} 1")
    );
}
