//! `kiln admit` end to end on the real gate: images in the local registry signed and
//! attested by `kiln sign` / `kiln attest`, AdmissionReviews from the shared vectors posted
//! over TLS to the webhook started in-process and once through the CLI; a registry that
//! hangs; `kiln admit gen-certs`.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use kiln_admit::tls::CertFiles;
use kiln_admit::{ServerConfig, WebhookOptions};
use kiln_oci::manifest::{Descriptor, ImageManifest};
use kiln_oci::{ImageRef, ImageStore, Manifest, OciLayout, media_type};
use kiln_policy::collect::GateOptions;
use serde_json::{Value, json};

const PASSWORD: &str = "adm1t-Pa55word";

fn kiln(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .current_dir(dir)
        .args(args)
        .env_remove("COSIGN_PASSWORD")
        .env("KILN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(out.status.success(), "kiln {args:?}: {}", text(&out));
    assert!(!text(&out).contains(PASSWORD));
    out
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Pushes a one-layer image (content unique to `name`) to `registry/repo/name:v1`.
async fn push_image(dir: &Path, registry: &str, repo: &str, name: &str) -> (String, String) {
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
    (reference, m.digest.to_string())
}

/// Flips one character of the cosign signature annotation in the image's `.sig` manifest.
async fn tamper_signature(reference: &str, digest: &str) {
    let r = ImageRef::parse(reference).unwrap();
    let store = kiln_oci::open::open_store(&r, &Default::default()).unwrap();
    let tag = format!("{}.sig", digest.replace(':', "-"));
    let m = store.resolve(&tag).await.unwrap();
    let mut v: Value = serde_json::from_slice(&m.bytes).unwrap();
    let sig = v["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .unwrap()
        .to_string();
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(&sig)
        .unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    v["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"] =
        json!(base64::engine::general_purpose::STANDARD.encode(bytes));
    let m = Manifest::parse(serde_json::to_vec(&v).unwrap(), None, "tampered").unwrap();
    store.push_manifest(&m, Some(&tag)).await.unwrap();
}

fn provenance(builder: &str) -> Value {
    json!({"buildDefinition": {"buildType": "https://kiln.dev/build/v1",
           "externalParameters": {"source": "git+https://git.example.com/team/app"}},
           "runDetails": {"builder": {"id": builder}}})
}

fn policy_text(app_glob: &str, audit_glob: &str) -> String {
    format!(
        r#"apiVersion: kiln.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: admit-test
spec:
  mode: enforce
  defaultAction: deny
  signers:
    - name: factory
      publicKeyFile: k.pub
  rules:
    - name: apps
      images: ["{app_glob}"]
      signatures:
        signers: [factory]
      attestations:
        - name: provenance
          predicateType: https://slsa.dev/provenance/v1
          signers: [factory]
          conditions:
            - name: built-by-kiln
              rego: |
                allow if {{
                    input.predicate.runDetails.builder.id == "https://kiln.dev/builder@v1"
                }}
    - name: audited
      images: ["{audit_glob}"]
      mode: audit
      signatures:
        signers: [factory]
"#
    )
}

fn client_for(ca: &Path) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn post(client: &reqwest::Client, port: u16, path: &str, review: &Value) -> Value {
    let r = client
        .post(format!("https://localhost:{port}{path}"))
        .body(review.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["response"]["uid"], review["request"]["uid"]);
    v["response"].clone()
}

/// A vector with every image replaced by `image`, and the pointers replaced.
fn vector(name: &str, image: &str) -> Option<(Value, Vec<String>)> {
    let dir = kiln_testutil::shared_vectors("k8s-admission")?;
    let mut v: Value = serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap();
    let kind = v["request"]["kind"]["kind"].as_str().unwrap().to_string();
    let view = kiln_admit::workload::extract(&kind, v["request"].get("object")).unwrap();
    let mut pointers = Vec::new();
    for s in &view.images {
        *v["request"]["object"].pointer_mut(&s.pointer).unwrap() = json!(image);
        pointers.push(s.pointer.clone());
    }
    v["request"]["namespace"] = json!("prod");
    Some((v, pointers))
}

fn patch_of(resp: &Value) -> Value {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(resp["patch"].as_str().expect("a patch"))
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn start_config(dir: &Path, policy: PathBuf, budget: Duration) -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
        tls: CertFiles {
            cert: dir.join("certs/tls.crt"),
            key: dir.join("certs/tls.key"),
        },
        policy,
        factory: kiln_admit::gate::gate_factory(GateOptions {
            registry: Default::default(),
            budget: budget.mul_f64(0.9),
        }),
        options: WebhookOptions {
            budget,
            ..WebhookOptions::default()
        },
        reload_interval: Duration::from_secs(1),
        body_limit: kiln_admit::server::DEFAULT_BODY_LIMIT,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_unsigned_wrong_tampered_and_audit_through_the_webhook() {
    let Some(registry) = kiln_testutil::registry() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    kiln(dir, &["key", "generate", "--output-key-prefix", "k"]);
    kiln(dir, &["key", "generate", "--output-key-prefix", "w"]);
    let out = kiln(
        dir,
        &[
            "admit",
            "gen-certs",
            "--out",
            "certs",
            "--host",
            "localhost",
            "--host",
            "kiln-admit.kiln",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stdout).trim().len() > 100);
    std::fs::write(
        dir.join("good.json"),
        provenance("https://kiln.dev/builder@v1").to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("bad.json"),
        provenance("https://evil.example/builder").to_string(),
    )
    .unwrap();

    let repo = format!("kiln-admit-cli-{}", std::process::id());
    let mut images = std::collections::BTreeMap::new();
    for name in [
        "app-good",
        "app-unsigned",
        "app-wrong",
        "app-noattest",
        "app-badrego",
        "app-tampered",
        "audit",
    ] {
        images.insert(name, push_image(dir, &registry, &repo, name).await);
    }
    let sign = |name: &str, key: &str| {
        let r = images[name].0.clone();
        kiln(dir, &["sign", "--key", key, &r]);
    };
    let attest = |name: &str, key: &str, pred: &str| {
        let r = images[name].0.clone();
        kiln(
            dir,
            &[
                "attest",
                "--key",
                key,
                "--type",
                "slsaprovenance",
                "--predicate",
                pred,
                &r,
            ],
        );
    };
    sign("app-good", "k.key");
    attest("app-good", "k.key", "good.json");
    sign("app-wrong", "w.key");
    attest("app-wrong", "w.key", "good.json");
    sign("app-noattest", "k.key");
    sign("app-badrego", "k.key");
    attest("app-badrego", "k.key", "bad.json");
    sign("app-tampered", "k.key");
    attest("app-tampered", "k.key", "good.json");
    tamper_signature(&images["app-tampered"].0, &images["app-tampered"].1).await;

    let policy = dir.join("policy.yaml");
    std::fs::write(
        &policy,
        policy_text(
            &format!("{registry}/{repo}/app-*"),
            &format!("{registry}/{repo}/audit"),
        ),
    )
    .unwrap();
    let server = kiln_admit::start(start_config(dir, policy.clone(), Duration::from_secs(8)))
        .await
        .unwrap();
    let port = server.addr.port();
    let client = client_for(&dir.join("certs/ca.crt"));

    // Signed and attested: allowed, every image of every workload kind pinned.
    let (good, good_digest) = &images["app-good"];
    let pinned = format!("{registry}/{repo}/app-good@{good_digest}");
    for vec in [
        "pod_creation_signed.json",
        "pod_creation_with_init_container.json",
        "deployment_creation_signed.json",
        "statefulset_creation_signed.json",
        "daemonset_creation_signed.json",
        "replicaset_creation_signed.json",
        "replicationcontroller_creation_signed.json",
        "job_creation_signed.json",
        "cronjob_creation_signed.json",
    ] {
        let Some((review, pointers)) = vector(vec, good) else {
            return;
        };
        let v = post(&client, port, "/validate", &review).await;
        assert_eq!(v["allowed"], true, "{vec}: {v}");
        let m = post(&client, port, "/mutate", &review).await;
        assert_eq!(m["allowed"], true, "{vec}: {m}");
        let want: Vec<Value> = pointers
            .iter()
            .map(|p| json!({"op": "replace", "path": p, "value": pinned}))
            .collect();
        assert_eq!(patch_of(&m), Value::Array(want), "{vec}");
    }

    // Denials with their reasons.
    for (name, code) in [
        ("app-unsigned", "missing-signature"),
        ("app-wrong", "missing-signature"),
        ("app-noattest", "missing-attestation"),
        ("app-badrego", "condition-failed"),
        ("app-tampered", "signature-invalid"),
    ] {
        let (review, _) = vector("deployment_creation_unsigned.json", &images[name].0).unwrap();
        let r = post(&client, port, "/validate", &review).await;
        assert_eq!(r["allowed"], false, "{name}: {r}");
        let msg = r["status"]["message"].as_str().unwrap();
        assert!(msg.contains(&images[name].0), "{name}: {msg}");
        assert!(msg.contains(code), "{name}: expected {code}: {msg}");
        let m = post(&client, port, "/mutate", &review).await;
        assert_eq!(m["allowed"], false);
        assert!(m.get("patch").is_none());
    }

    // Audit: allowed with warnings.
    let (review, _) = vector("pod_creation_unsigned.json", &images["audit"].0).unwrap();
    let r = post(&client, port, "/validate", &review).await;
    assert_eq!(r["allowed"], true, "{r}");
    assert!(
        r["warnings"].to_string().contains("missing-signature"),
        "{r}"
    );

    // The second identical request is a cache hit.
    let m = reqwest::get(format!("http://{}/metrics", server.metrics_addr.unwrap()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("kiln_admit_cache_hits_total{cache=\"decision\"}"),
        "{m}"
    );

    // The same through the CLI binary.
    drop(server);
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
            "--budget",
            "8s",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .split("https://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
        .map(|a| a.port())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let (review, _) = vector("pod_creation_signed.json", good).unwrap();
    let m = post(&client, port, "/mutate", &review).await;
    let (bad, _) = vector("pod_creation_signed.json", &images["app-unsigned"].0).unwrap();
    let b = post(&client, port, "/validate", &bad).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(m["allowed"], true, "{m}");
    assert_eq!(patch_of(&m)[0]["value"], json!(pinned));
    assert_eq!(b["allowed"], false, "{b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_registry_is_answered_within_the_budget() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
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
    let policy = dir.join("policy.yaml");
    std::fs::write(
        &policy,
        policy_text(&format!("{addr}/*"), "nowhere.example/x"),
    )
    .unwrap();
    let server = kiln_admit::start(start_config(dir, policy, Duration::from_secs(1)))
        .await
        .unwrap();
    let client = client_for(&dir.join("certs/ca.crt"));
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "h", "kind": {"kind": "Pod"}, "namespace": "prod",
        "object": {"spec": {"containers": [{"name": "c", "image": format!("{addr}/app:v1")}]}}}});
    let r = post(&client, server.addr.port(), "/validate", &review).await;
    assert_eq!(r["allowed"], false, "{r}");
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(msg.contains("timeout"), "{msg}");
    assert!(
        !held.lock().unwrap().is_empty(),
        "the registry was never contacted"
    );
}
