//! Plumbing of the adversarial verification suite (`adversarial_cli.rs`): raw writes to the
//! test registry (manifests are PUT as exact bytes, so nothing normalises a mutation), the
//! signing helpers an attacker or a misused trusted key would use (cosign payloads, DSSE,
//! Notation JWS built by hand), and the two deciders every mutation goes through: the
//! `kiln verify --policy` CLI and a running `kiln admit` webhook.
#![allow(dead_code)]

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use kiln_oci::manifest::Descriptor;
use kiln_oci::{Digest, ImageRef, ImageStore};
use kiln_sign::Signer;
use serde_json::{Value, json};

/// Standard base64.
pub fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Standard base64 decoding (panics: only for our own artifacts).
pub fn unb64(text: &str) -> Vec<u8> {
    kiln_sign::dsse::decode_b64(text).expect("base64")
}

/// Base64url without padding (JWS).
pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Base64url decoding (JWS).
pub fn unb64url(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

/// JSON bytes of a value.
pub fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// Parses JSON bytes.
pub fn parse(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap()
}

/// A descriptor (as JSON) of `data`.
pub fn desc(media_type: &str, data: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": Digest::sha256(data).to_string(), "size": data.len()})
}

/// `sha256:HEX` of data.
pub fn digest(data: &[u8]) -> String {
    Digest::sha256(data).to_string()
}

/// Flips one bit in the middle of `data`.
pub fn flip(mut data: Vec<u8>) -> Vec<u8> {
    let i = data.len() / 2;
    data[i] ^= 0x01;
    data
}

/// Flips one bit of the character in the middle of a base64 text, keeping it valid base64.
pub fn flip_b64(text: &str) -> String {
    b64(&flip(unb64(text)))
}

/// Signs `message` with `signer` (DER for ECDSA).
pub async fn sign(signer: &dyn Signer, message: &[u8]) -> Vec<u8> {
    signer.sign(message).await.unwrap()
}

/// A DER ECDSA signature as JWS wants it: raw r || s, each `n` bytes.
pub fn der_to_raw(der: &[u8], n: usize) -> Vec<u8> {
    // SEQUENCE { INTEGER r, INTEGER s }, short or long form lengths.
    fn len(d: &[u8], i: &mut usize) -> usize {
        let b = d[*i] as usize;
        *i += 1;
        if b < 0x80 {
            return b;
        }
        let mut l = 0;
        for _ in 0..(b & 0x7f) {
            l = (l << 8) | d[*i] as usize;
            *i += 1;
        }
        l
    }
    let mut i = 1;
    len(der, &mut i);
    let mut out = Vec::new();
    for _ in 0..2 {
        assert_eq!(der[i], 0x02);
        i += 1;
        let l = len(der, &mut i);
        let mut int = &der[i..i + l];
        i += l;
        while int.len() > n && int[0] == 0 {
            int = &int[1..];
        }
        out.extend(std::iter::repeat_n(0u8, n - int.len()));
        out.extend_from_slice(int);
    }
    out
}

/// A DSSE envelope (JSON bytes) over `payload`, signed by `signer` with `keyid`.
pub async fn dsse(payload_type: &str, payload: &[u8], signer: &dyn Signer, keyid: &str) -> Vec<u8> {
    let sig = sign(signer, &kiln_sign::dsse::pae(payload_type, payload)).await;
    bytes(
        &json!({"payloadType": payload_type, "payload": b64(payload),
        "signatures": [{"keyid": keyid, "sig": b64(&sig)}]}),
    )
}

/// A Notation JWS envelope (JSON bytes) with exactly the given protected header and
/// payload, signed by `signer` (P-256), carrying the chain `x5c` (DER, leaf first).
pub async fn jws(
    protected: &Value,
    payload: &Value,
    x5c: &[Vec<u8>],
    signer: &dyn Signer,
) -> Vec<u8> {
    let p = b64url(&bytes(protected));
    let body = b64url(&bytes(payload));
    let der = sign(signer, format!("{p}.{body}").as_bytes()).await;
    bytes(&json!({
        "payload": body,
        "protected": p,
        "header": {"x5c": x5c.iter().map(|c| b64(c)).collect::<Vec<_>>(),
                   "io.cncf.notary.signingAgent": "adversary"},
        "signature": b64url(&der_to_raw(&der, 32)),
    }))
}

/// One write to the registry.
#[derive(Debug, Clone)]
pub enum Write {
    Blob(Vec<u8>),
    /// A manifest PUT at `at` (a tag or a digest) as exactly these bytes.
    Manifest {
        at: String,
        bytes: Vec<u8>,
    },
}

impl Write {
    /// A manifest write at its own digest.
    pub fn by_digest(v: &Value) -> Write {
        let b = bytes(v);
        Write::Manifest {
            at: digest(&b),
            bytes: b,
        }
    }
    /// A manifest write at a tag.
    pub fn tagged(at: &str, v: &Value) -> Write {
        Write::Manifest {
            at: at.to_string(),
            bytes: bytes(v),
        }
    }
}

/// The test registry, one repository.
pub struct Repo {
    pub registry: String,
    pub repository: String,
    pub store: Box<dyn ImageStore>,
    http: reqwest::Client,
}

impl Repo {
    pub fn new(registry: &str, repository: &str) -> Repo {
        let r = ImageRef::parse(&format!("{registry}/{repository}:x")).unwrap();
        Repo {
            registry: registry.to_string(),
            repository: repository.to_string(),
            store: kiln_oci::open::open_store(&r, &Default::default()).unwrap(),
            http: reqwest::Client::new(),
        }
    }

    /// `registry/repository:tag`.
    pub fn reference(&self, tag: &str) -> String {
        format!("{}/{}:{tag}", self.registry, self.repository)
    }

    /// The manifest at a tag or digest, as JSON and bytes.
    pub async fn manifest(&self, at: &str) -> (Value, Vec<u8>) {
        let m = self.store.resolve(at).await.unwrap();
        (parse(&m.bytes), m.bytes)
    }

    /// A blob by its descriptor (JSON).
    pub async fn blob(&self, d: &Value) -> Vec<u8> {
        let d: Descriptor = serde_json::from_value(d.clone()).unwrap();
        self.store.fetch_blob(&d).await.unwrap()
    }

    /// Applies writes in order; `Err` names the first one the registry refused.
    pub async fn apply(&self, writes: &[Write]) -> Result<(), String> {
        for w in writes {
            match w {
                Write::Blob(b) => {
                    let d = Digest::sha256(b);
                    if !self.store.has_blob(&d).await.unwrap() {
                        self.store
                            .push_blob(&d, b)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                }
                Write::Manifest { at, bytes } => self.put_manifest(at, bytes).await?,
            }
        }
        Ok(())
    }

    /// PUTs manifest bytes unchanged (content type from their `mediaType`).
    pub async fn put_manifest(&self, at: &str, body: &[u8]) -> Result<(), String> {
        let ct = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["mediaType"].as_str().map(str::to_string))
            .unwrap_or_else(|| kiln_oci::media_type::OCI_MANIFEST.to_string());
        let url = format!(
            "http://{}/v2/{}/manifests/{at}",
            self.registry, self.repository
        );
        let r = self
            .http
            .put(url)
            .header("content-type", ct)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "PUT manifest {at}: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ))
        }
    }
}

/// What one decider said about the image.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub allowed: bool,
    /// Reason codes (CLI) or the denial message (webhook), for the report.
    pub reasons: String,
}

/// `kiln verify IMAGE --policy FILE --format json`: allowed only with exit 0 and
/// `allowed: true`; a denial must exit non-zero with `allowed: false` and reasons.
pub fn cli_verify(dir: &Path, image: &str, policy: &str) -> Verdict {
    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .current_dir(dir)
        .args([
            "verify",
            image,
            "--policy",
            policy,
            "--format",
            "json",
            "--timeout",
            "30",
        ])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("kiln verify printed no JSON ({e}): {text}"));
    let allowed = v["decision"]["allowed"] == json!(true);
    assert_eq!(
        allowed,
        out.status.success(),
        "exit code and decision disagree: {text}"
    );
    let reasons: Vec<String> = v["decision"]["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            format!(
                "{}: {}",
                r["code"].as_str().unwrap_or("?"),
                r["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    if !allowed {
        assert!(!reasons.is_empty(), "denied without a reason: {text}");
    }
    Verdict {
        allowed,
        reasons: reasons.join(" | "),
    }
}

/// A `kiln admit` process serving the webhook over TLS.
pub struct Webhook {
    child: Child,
    pub port: u16,
    client: reqwest::Client,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Webhook {
    /// Starts `kiln admit` in `dir` with `extra` flags, on a free loopback port.
    pub fn start(dir: &Path, policy: &str, extra: &[&str]) -> Webhook {
        let mut args = vec![
            "admit",
            "--policy",
            policy,
            "--tls-cert",
            "certs/tls.crt",
            "--tls-key",
            "certs/tls.key",
            "--listen",
            "127.0.0.1:0",
            "--budget",
            "8s",
        ];
        args.extend_from_slice(extra);
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .current_dir(dir)
            .args(&args)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut reader = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        let port: u16 = line
            .split("https://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
            .map(|a| a.port())
            .unwrap_or_else(|| panic!("kiln admit did not start: {line:?}"));
        let ca = std::fs::read(dir.join("certs/ca.crt")).unwrap();
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Webhook {
            child,
            port,
            client,
        }
    }

    /// Posts `review` to /validate; a denial must carry a message.
    pub async fn validate(&self, review: &Value) -> Verdict {
        let r = self
            .client
            .post(format!("https://localhost:{}/validate", self.port))
            .body(review.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(v["response"]["uid"], review["request"]["uid"]);
        let allowed = v["response"]["allowed"] == json!(true);
        let message = v["response"]["status"]["message"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if !allowed {
            assert!(!message.is_empty(), "denied without a message: {v}");
        }
        Verdict {
            allowed,
            reasons: message,
        }
    }
}

/// A shared AdmissionReview vector with every image replaced by `image`.
pub fn review(name: &str, image: &str) -> Option<Value> {
    let dir: PathBuf = kiln_testutil::shared_vectors("k8s-admission")?;
    let mut v: Value = parse(&std::fs::read(dir.join(name)).unwrap());
    let kind = v["request"]["kind"]["kind"].as_str().unwrap().to_string();
    let view = kiln_admit::workload::extract(&kind, v["request"].get("object")).unwrap();
    for s in &view.images {
        *v["request"]["object"].pointer_mut(&s.pointer).unwrap() = json!(image);
    }
    v["request"]["namespace"] = json!("prod");
    Some(v)
}
