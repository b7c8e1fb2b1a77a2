//! The registry client against a small fault-injecting HTTP server written here:
//! malformed manifests, wrong digests, 500s, 429 with Retry-After, dropped connections
//! and unknown media types each give a clear error (or a successful retry) and leave
//! nothing partial in the destination.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiln_oci::manifest::{Descriptor, ImageManifest};
use kiln_oci::registry::{Credentials, RegistryOptions, RegistryStore, RetryPolicy};
use kiln_oci::store::{ImageStore, copy_image};
use kiln_oci::{Digest, Manifest, OciLayout, media_type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the server answers to one request.
enum Reply {
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Announces `body.len()` bytes, sends half, and closes the connection.
    DropMidBody { body: Vec<u8> },
}

fn ok(content_type: &str, body: &[u8]) -> Reply {
    Reply::Full {
        status: 200,
        headers: vec![("Content-Type".into(), content_type.into())],
        body: body.to_vec(),
    }
}

fn status(code: u16) -> Reply {
    Reply::Full {
        status: code,
        headers: vec![],
        body: format!("{{\"errors\":[{{\"code\":\"TEST\",\"message\":\"status {code}\"}}]}}")
            .into_bytes(),
    }
}

/// `(method, path without query, how many times this method+path was asked before,
/// the Authorization header)`.
type Handler = Arc<dyn Fn(&str, &str, u32, Option<&str>) -> Reply + Send + Sync>;

struct Server {
    addr: String,
    hits: Arc<Mutex<HashMap<String, u32>>>,
}

impl Server {
    fn hits(&self, method: &str, path: &str) -> u32 {
        *self
            .hits
            .lock()
            .unwrap()
            .get(&format!("{method} {path}"))
            .unwrap_or(&0)
    }
    fn any_hit(&self, prefix: &str) -> bool {
        self.hits
            .lock()
            .unwrap()
            .keys()
            .any(|k| k.starts_with(prefix))
    }
}

async fn serve(handler: Handler) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let hits: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let h2 = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let handler = handler.clone();
            let hits = h2.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 8192];
                let head_end = loop {
                    let Ok(n) = sock.read(&mut tmp).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&tmp[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut lines = head.lines();
                let first: Vec<&str> = lines.next().unwrap_or("").split(' ').collect();
                let (method, target) = (first[0].to_string(), first.get(1).unwrap_or(&"/"));
                let path = target.split('?').next().unwrap_or("").to_string();
                let header = |name: &str| {
                    head.lines()
                        .filter_map(|l| l.split_once(':'))
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.trim().to_string())
                };
                let len: usize = header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let authorization = header("authorization");
                let _ = lines;
                let mut have = buf.len() - head_end;
                while have < len {
                    let Ok(n) = sock.read(&mut tmp).await else {
                        return;
                    };
                    if n == 0 {
                        break;
                    }
                    have += n;
                }
                let nth = {
                    let mut h = hits.lock().unwrap();
                    let e = h.entry(format!("{method} {path}")).or_insert(0);
                    *e += 1;
                    *e - 1
                };
                let reply = handler(&method, &path, nth, authorization.as_deref());
                let (code, headers, body, cut) = match reply {
                    Reply::Full {
                        status,
                        headers,
                        body,
                    } => (status, headers, body, None),
                    Reply::DropMidBody { body } => {
                        let half = body.len() / 2;
                        (200, vec![], body, Some(half))
                    }
                };
                let mut out = format!("HTTP/1.1 {code} X\r\nConnection: close\r\n");
                for (k, v) in &headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                let _ = sock.write_all(out.as_bytes()).await;
                if method != "HEAD" {
                    let send = cut.unwrap_or(body.len());
                    let _ = sock.write_all(&body[..send]).await;
                }
                let _ = sock.flush().await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Server { addr, hits }
}

/// A small image: a config and one layer.
struct Image {
    manifest: Manifest,
    config: Vec<u8>,
    layer: Vec<u8>,
}

fn image() -> Image {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let layer = b"not really a tar, but a blob with a digest all the same".repeat(50);
    let m = ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::of(media_type::OCI_CONFIG, &config),
        layers: vec![Descriptor::of(media_type::OCI_LAYER_GZIP, &layer)],
        subject: None,
        annotations: None,
    };
    Image {
        manifest: Manifest::from_image(&m),
        config,
        layer,
    }
}

/// Serves `img` correctly; `fault` may replace any answer.
fn handler(
    img: Image,
    fault: impl Fn(&str, &str, u32) -> Option<Reply> + Send + Sync + 'static,
) -> Handler {
    Arc::new(move |method, path, nth, _| {
        if let Some(r) = fault(method, path, nth) {
            return r;
        }
        let m = &img.manifest;
        if path == "/v2/app/manifests/v1" || path == format!("/v2/app/manifests/{}", m.digest) {
            let mut r = ok(&m.media_type, &m.bytes);
            if let Reply::Full { headers, .. } = &mut r {
                headers.push(("Docker-Content-Digest".into(), m.digest.to_string()));
            }
            return r;
        }
        for blob in [&img.config, &img.layer] {
            if path == format!("/v2/app/blobs/{}", Digest::sha256(blob)) {
                return ok("application/octet-stream", blob);
            }
        }
        status(404)
    })
}

fn store(server: &Server) -> RegistryStore {
    store_as(server, Credentials::Anonymous)
}

fn store_as(server: &Server, credentials: Credentials) -> RegistryStore {
    let options = RegistryOptions {
        insecure: false,
        credentials: Some(credentials),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            max_total: Duration::from_secs(30),
        },
    };
    RegistryStore::new(&server.addr, "app", &options).unwrap()
}

/// Asserts the layout has no tag and holds no blob whose content does not match its name.
fn assert_nothing_partial(layout: &OciLayout, manifest: &Digest) {
    assert!(layout.tag_list().unwrap().is_empty(), "a tag was written");
    assert!(!layout.contains_blob(manifest), "the manifest was written");
    let dir = layout.root().join("blobs/sha256");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().to_string();
        let data = std::fs::read(entry.path()).unwrap();
        assert_eq!(
            Digest::sha256(&data).hex(),
            name,
            "partial or corrupt blob {name}"
        );
    }
}

/// Copies `app:v1` from the server into a fresh layout.
async fn pull(server: &Server) -> (tempfile::TempDir, OciLayout, kiln_oci::Result<Manifest>) {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path().join("lay")).unwrap();
    let src = store(server);
    let result = copy_image(&src, "v1", &layout, Some("v1")).await;
    (dir, layout, result)
}

#[tokio::test]
async fn clean_pull_works() {
    let img = image();
    let digest = img.manifest.digest.clone();
    let server = serve(handler(img, |_, _, _| None)).await;
    let (_d, layout, result) = pull(&server).await;
    assert_eq!(result.unwrap().digest, digest);
    assert_eq!(layout.resolve_sync("v1").unwrap().digest, digest);
}

#[tokio::test]
async fn malformed_manifest_is_refused() {
    let img = image();
    let digest = img.manifest.digest.clone();
    let server = serve(handler(img, |_, path, _| {
        (path == "/v2/app/manifests/v1")
            .then(|| ok(media_type::OCI_MANIFEST, br#"{"schemaVersion":2,"config":"#))
    }))
    .await;
    let (_d, layout, result) = pull(&server).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("malformed") && err.contains("/app:v1"),
        "{err}"
    );
    assert_nothing_partial(&layout, &digest);
}

#[tokio::test]
async fn blob_with_wrong_digest_is_refused_and_not_stored() {
    let img = image();
    let digest = img.manifest.digest.clone();
    let layer_digest = Digest::sha256(&img.layer);
    let mut evil = img.layer.clone();
    evil[0] ^= 1;
    let lpath = format!("/v2/app/blobs/{layer_digest}");
    let server = serve(handler(img, move |_, path, _| {
        (path == lpath).then(|| ok("application/octet-stream", &evil))
    }))
    .await;
    let (_d, layout, result) = pull(&server).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("digest mismatch") && err.contains(&layer_digest.to_string()),
        "{err}"
    );
    assert!(!layout.contains_blob(&layer_digest));
    assert_nothing_partial(&layout, &digest);
}

#[tokio::test]
async fn a_500_then_success_is_retried() {
    let img = image();
    let digest = img.manifest.digest.clone();
    let server = serve(handler(img, |_, path, nth| {
        (path == "/v2/app/manifests/v1" && nth == 0).then(|| status(500))
    }))
    .await;
    let (_d, layout, result) = pull(&server).await;
    assert_eq!(result.unwrap().digest, digest);
    assert_eq!(server.hits("GET", "/v2/app/manifests/v1"), 2);
    assert_eq!(layout.resolve_sync("v1").unwrap().digest, digest);
}

#[tokio::test]
async fn always_500_gives_up_with_a_clear_error() {
    let img = image();
    let digest = img.manifest.digest.clone();
    let server = serve(handler(img, |_, path, _| {
        (path == "/v2/app/manifests/v1").then(|| status(500))
    }))
    .await;
    let (_d, layout, result) = pull(&server).await;
    let err = result.unwrap_err().to_string();
    for part in [
        server.addr.as_str(),
        "GET manifest",
        "app:v1",
        "3 attempts",
        "HTTP 500",
    ] {
        assert!(err.contains(part), "{part} missing from: {err}");
    }
    assert_eq!(server.hits("GET", "/v2/app/manifests/v1"), 3);
    assert_nothing_partial(&layout, &digest);
}

#[tokio::test]
async fn a_connection_dropped_mid_body_is_retried_then_reported() {
    let img = image();
    let digest = img.manifest.digest.clone();
    let layer = img.layer.clone();
    let lpath = format!("/v2/app/blobs/{}", Digest::sha256(&layer));
    let once = {
        let (lpath, layer) = (lpath.clone(), layer.clone());
        move |_: &str, path: &str, nth: u32| {
            (path == lpath && nth == 0).then(|| Reply::DropMidBody {
                body: layer.clone(),
            })
        }
    };
    let server = serve(handler(image(), once)).await;
    let (_d, layout, result) = pull(&server).await;
    assert_eq!(result.unwrap().digest, digest);
    assert_eq!(server.hits("GET", &lpath), 2);
    assert!(layout.contains_blob(&Digest::sha256(&layer)));

    let always = {
        let lpath = lpath.clone();
        move |_: &str, path: &str, _| {
            (path == lpath).then(|| Reply::DropMidBody {
                body: layer.clone(),
            })
        }
    };
    let server = serve(handler(img, always)).await;
    let (_d, layout, result) = pull(&server).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("connection dropped") && err.contains("3 attempts"),
        "{err}"
    );
    assert_nothing_partial(&layout, &digest);
}

#[tokio::test]
async fn a_429_with_retry_after_is_honoured() {
    let img = image();
    let digest = img.manifest.digest.clone();
    let server = serve(handler(img, |_, path, nth| {
        (path == "/v2/app/manifests/v1" && nth == 0).then(|| Reply::Full {
            status: 429,
            headers: vec![("Retry-After".into(), "1".into())],
            body: b"slow down".to_vec(),
        })
    }))
    .await;
    let (_d, _layout, result) = pull(&server).await;
    assert_eq!(result.unwrap().digest, digest);
    assert_eq!(server.hits("GET", "/v2/app/manifests/v1"), 2);

    // A Retry-After beyond the time budget fails at once, saying why.
    let server = serve(handler(image(), |_, path, _| {
        (path == "/v2/app/manifests/v1").then(|| Reply::Full {
            status: 429,
            headers: vec![("Retry-After".into(), "3600".into())],
            body: vec![],
        })
    }))
    .await;
    let (_d, layout, result) = pull(&server).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("HTTP 429") && err.contains("time limit"),
        "{err}"
    );
    assert_eq!(server.hits("GET", "/v2/app/manifests/v1"), 1);
    assert_nothing_partial(&layout, &digest);
}

#[tokio::test]
async fn unknown_manifest_media_type_is_reported() {
    let img = image();
    let digest = img.manifest.digest.clone();
    let server = serve(handler(img, |_, path, _| {
        (path == "/v2/app/manifests/v1").then(|| {
            ok(
                "application/vnd.example.thing.v1+json",
                br#"{"schemaVersion":2,"mediaType":"application/vnd.example.thing.v1+json"}"#,
            )
        })
    }))
    .await;
    let (_d, layout, result) = pull(&server).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("unknown media type") && err.contains("application/vnd.example.thing.v1+json"),
        "{err}"
    );
    assert_nothing_partial(&layout, &digest);
}

#[tokio::test]
async fn a_failed_blob_upload_never_pushes_the_manifest() {
    let img = image();
    let (config, layer, manifest) = (img.config.clone(), img.layer.clone(), img.manifest.clone());
    let server = serve(Arc::new(|method: &str, path: &str, _, _| {
        match (method, path) {
            ("HEAD", _) => status(404),
            ("POST", "/v2/app/blobs/uploads/") => Reply::Full {
                status: 202,
                headers: vec![("Location".into(), "/v2/app/blobs/uploads/u1".into())],
                body: vec![],
            },
            ("PUT", "/v2/app/blobs/uploads/u1") => status(500),
            _ => status(404),
        }
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    layout
        .write_blob(&Digest::sha256(&config), &config)
        .unwrap();
    layout.write_blob(&Digest::sha256(&layer), &layer).unwrap();
    layout.put_manifest(&manifest, Some("v1")).unwrap();
    let dst = store(&server);
    let err = copy_image(&layout, "v1", &dst, Some("v1"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("upload blob") && err.contains("HTTP 500"),
        "{err}"
    );
    assert!(
        !server.any_hit("PUT /v2/app/manifests/"),
        "a manifest was pushed"
    );
}

#[tokio::test]
async fn dst_store_name_and_has_blob() {
    let img = image();
    let cfg = Digest::sha256(&img.config);
    let server = serve(handler(img, |_, _, _| None)).await;
    let s = store(&server);
    assert_eq!(s.name(), format!("{}/app", server.addr));
    assert!(s.has_blob(&cfg).await.unwrap());
    assert!(!s.has_blob(&Digest::sha256(b"nope")).await.unwrap());
}

#[tokio::test]
async fn bearer_and_basic_challenges_are_answered() {
    // Bearer: the registry sends a challenge; the token service wants basic credentials.
    let img = image();
    let digest = img.manifest.digest.clone();
    let good = handler(img, |_, _, _| None);
    let realm: Arc<Mutex<String>> = Arc::default();
    let realm2 = realm.clone();
    let server = serve(Arc::new(
        move |method: &str, path: &str, nth, auth: Option<&str>| {
            if path == "/token" {
                // "Basic dTpw" is u:p.
                return if auth == Some("Basic dTpw") {
                    ok("application/json", br#"{"token":"tok-123"}"#)
                } else {
                    status(401)
                };
            }
            if auth != Some("Bearer tok-123") {
                return Reply::Full {
                    status: 401,
                    headers: vec![(
                        "WWW-Authenticate".into(),
                        format!(
                            r#"Bearer realm="{}",service="test""#,
                            realm2.lock().unwrap()
                        ),
                    )],
                    body: vec![],
                };
            }
            good(method, path, nth, auth)
        },
    ))
    .await;
    *realm.lock().unwrap() = format!("http://{}/token", server.addr);
    let creds = Credentials::Basic {
        username: "u".into(),
        password: "p".into(),
    };
    let s = store_as(&server, creds.clone());
    assert_eq!(s.resolve("v1").await.unwrap().digest, digest);
    // The token is reused: one more manifest request goes straight through.
    let before = server.hits("GET", "/token");
    assert_eq!(s.resolve("v1").await.unwrap().digest, digest);
    assert_eq!(server.hits("GET", "/token"), before);
    // Wrong credentials: a clear error.
    let bad = store_as(
        &server,
        Credentials::Basic {
            username: "u".into(),
            password: "wrong".into(),
        },
    );
    let err = bad.resolve("v1").await.unwrap_err().to_string();
    assert!(
        err.contains("token request failed") && err.contains(&server.addr),
        "{err}"
    );

    // Basic: credentials are sent when the challenge asks; none gives a clear error.
    let img = image();
    let good = handler(img, |_, _, _| None);
    let server = serve(Arc::new(
        move |method: &str, path: &str, nth, auth: Option<&str>| {
            if auth != Some("Basic dTpw") {
                return Reply::Full {
                    status: 401,
                    headers: vec![("WWW-Authenticate".into(), r#"Basic realm="r""#.into())],
                    body: vec![],
                };
            }
            good(method, path, nth, auth)
        },
    ))
    .await;
    assert_eq!(
        store_as(&server, creds).resolve("v1").await.unwrap().digest,
        digest
    );
    let err = store(&server).resolve("v1").await.unwrap_err().to_string();
    assert!(err.contains("KILN_REGISTRY_USERNAME"), "{err}");
}
