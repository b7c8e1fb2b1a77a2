//! The webhook over real HTTPS on 127.0.0.1, with certificates from `gen-certs`: every
//! workload kind of the shared AdmissionReview vectors, the pinning patch, audit warnings,
//! malformed and oversized bodies, unknown kinds, the cache (seen in /metrics), the time
//! budget, namespace exclusion, dry runs, and certificate and policy reloads.
//!
//! Decisions come from recorded evidence (examples/policy), so these tests need no
//! registry; `crates/kiln/tests/admit_cli.rs` runs the same server on the real gate.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use kiln_admit::cache::CacheOptions;
use kiln_admit::tls::CertFiles;
use kiln_admit::{
    Decide, DeciderFactory, Outcome, RecordedEvidence, RunningServer, ServerConfig, WebhookOptions,
};
use kiln_oci::registry::Credentials;
use kiln_policy::{Evidence, Policy};
use serde_json::{Value, json};

const SIGNED: &str = "registry.example.com/team/app:1.0";
const DIGEST: &str = "sha256:382fc1b97b350f7c097d4a33ded303168f5705d7d1a7c54e903aaf1c66c9dd12";
const UNSIGNED: &str = "registry.example.com/team/app:unsigned";
const SANDBOX: &str = "registry.example.com/sandbox/tool:dev";

fn examples() -> PathBuf {
    kiln_testutil::workspace_root().join("examples/policy")
}

fn signed_evidence() -> Evidence {
    serde_json::from_slice(&std::fs::read(examples().join("evidence-signed.json")).unwrap())
        .unwrap()
}

/// Counts calls and answers from recorded evidence, or hangs.
struct Counting {
    inner: RecordedEvidence,
    calls: Arc<AtomicUsize>,
    hang: bool,
}

#[async_trait::async_trait]
impl Decide for Counting {
    async fn decide(&self, image: &str, ns: Option<&str>, c: Option<Credentials>) -> Outcome {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.hang {
            std::future::pending::<()>().await;
        }
        self.inner.decide(image, ns, c).await
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    server: RunningServer,
    client: reqwest::Client,
    calls: Arc<AtomicUsize>,
}

fn factory(calls: Arc<AtomicUsize>, hang: bool) -> DeciderFactory {
    Arc::new(move |policy: Arc<Policy>| {
        Ok(Arc::new(Counting {
            inner: RecordedEvidence::new(policy, [signed_evidence()]),
            calls: calls.clone(),
            hang,
        }) as Arc<dyn Decide>)
    })
}

fn client_for(ca: &Path) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap())
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn fixture(hang: bool, budget: Duration) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let certs =
        kiln_admit::certs::generate(&dir.path().join("certs"), &["localhost".into()]).unwrap();
    // The policy refers to keys/ relative to itself: copy the example directory.
    let pol = dir.path().join("policy");
    std::fs::create_dir_all(pol.join("keys")).unwrap();
    std::fs::copy(examples().join("policy.yaml"), pol.join("policy.yaml")).unwrap();
    for k in ["factory.pub", "release.pub"] {
        std::fs::copy(examples().join("keys").join(k), pol.join("keys").join(k)).unwrap();
    }
    let calls = Arc::new(AtomicUsize::new(0));
    let server = kiln_admit::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
        tls: CertFiles {
            cert: certs.cert.clone(),
            key: certs.key.clone(),
        },
        policy: pol.join("policy.yaml"),
        factory: factory(calls.clone(), hang),
        options: WebhookOptions {
            budget,
            cache: CacheOptions::default(),
            ..WebhookOptions::default()
        },
        reload_interval: Duration::from_millis(100),
        body_limit: kiln_admit::server::DEFAULT_BODY_LIMIT,
    })
    .await
    .unwrap();
    Fixture {
        client: client_for(&certs.ca_cert),
        dir,
        server,
        calls,
    }
}

impl Fixture {
    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.server.addr.port())
    }

    async fn post_raw(&self, path: &str, body: Vec<u8>) -> (u16, String) {
        let r = self
            .client
            .post(self.url(path))
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn post(&self, path: &str, review: &Value) -> Value {
        let (status, text) = self.post_raw(path, review.to_string().into_bytes()).await;
        assert_eq!(status, 200, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(v["kind"], "AdmissionReview");
        assert_eq!(v["response"]["uid"], review["request"]["uid"]);
        v["response"].clone()
    }

    async fn metrics(&self) -> String {
        let plain = format!("http://{}/metrics", self.server.metrics_addr.unwrap());
        reqwest::get(plain).await.unwrap().text().await.unwrap()
    }
}

fn vectors() -> Option<Vec<(String, Value)>> {
    let dir = kiln_testutil::shared_vectors("k8s-admission")?;
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let v = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Some(out)
}

/// Every image pointer of a review, and the review with each image set to `image`.
fn retarget(review: &Value, image: &str) -> (Value, Vec<String>) {
    let mut r = review.clone();
    let kind = r["request"]["kind"]["kind"].as_str().unwrap().to_string();
    let view = kiln_admit::workload::extract(&kind, r["request"].get("object")).unwrap();
    let pointers: Vec<String> = view.images.iter().map(|s| s.pointer.clone()).collect();
    let obj = r["request"]["object"].as_object_mut().unwrap();
    let mut obj = Value::Object(std::mem::take(obj));
    for p in &pointers {
        *obj.pointer_mut(p).unwrap() = Value::String(image.to_string());
    }
    r["request"]["object"] = obj;
    (r, pointers)
}

fn patch_of(resp: &Value) -> Value {
    assert_eq!(resp["patchType"], "JSONPatch", "{resp}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(resp["patch"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn review(kind: &str, ns: Option<&str>, object: Value) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u-1", "kind": {"group": "", "version": "v1", "kind": kind},
        "namespace": ns, "operation": "CREATE", "object": object}})
}

fn pod(image: &str) -> Value {
    json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": image}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_workload_kind_signed_and_unsigned() {
    let Some(vectors) = vectors() else { return };
    let f = fixture(false, Duration::from_secs(8)).await;
    let mut kinds = std::collections::BTreeSet::new();
    for (name, v) in &vectors {
        kinds.insert(v["request"]["kind"]["kind"].as_str().unwrap().to_string());
        let signed = !name.contains("unsigned");
        let image = if signed { SIGNED } else { UNSIGNED };
        let (r, pointers) = retarget(v, image);
        assert!(!pointers.is_empty(), "{name}");
        let validate = f.post("/validate", &r).await;
        let mutate = f.post("/mutate", &r).await;
        if signed {
            assert_eq!(validate["allowed"], true, "{name}: {validate}");
            assert!(validate.get("patch").is_none(), "{name}");
            assert_eq!(mutate["allowed"], true, "{name}: {mutate}");
            let patch = patch_of(&mutate);
            let want: Vec<Value> = pointers
                .iter()
                .map(|p| {
                    json!({"op": "replace", "path": p,
                           "value": format!("registry.example.com/team/app@{DIGEST}")})
                })
                .collect();
            assert_eq!(patch, Value::Array(want), "{name}");
        } else {
            for resp in [&validate, &mutate] {
                assert_eq!(resp["allowed"], false, "{name}: {resp}");
                assert!(resp.get("patch").is_none());
                assert_eq!(resp["status"]["code"], 403);
                let msg = resp["status"]["message"].as_str().unwrap();
                assert!(msg.contains(UNSIGNED), "{name}: {msg}");
                // Nothing recorded for it: no verified digest, the rule denies.
                assert!(
                    msg.contains("[factory-images] missing-digest"),
                    "{name}: {msg}"
                );
            }
        }
    }
    for k in [
        "Pod",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "ReplicationController",
        "Job",
        "CronJob",
    ] {
        assert!(kinds.contains(k), "no vector for {k}");
    }
    drop(f.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denial_names_each_image_and_audit_warns() {
    let f = fixture(false, Duration::from_secs(8)).await;
    let obj = json!({"spec": {
        "initContainers": [{"name": "init", "image": UNSIGNED}],
        "containers": [{"name": "app", "image": SIGNED},
                        {"name": "other", "image": "docker.io/library/nginx:1.27"}]}});
    let resp = f.post("/validate", &review("Pod", Some("prod"), obj)).await;
    assert_eq!(resp["allowed"], false);
    let msg = resp["status"]["message"].as_str().unwrap();
    assert!(msg.contains("denied 2 image(s)"), "{msg}");
    assert!(
        msg.contains(&format!("image {UNSIGNED} (container \"init\")")),
        "{msg}"
    );
    assert!(msg.contains("docker.io/library/nginx:1.27"), "{msg}");
    assert!(msg.contains("no-matching-rule"), "{msg}");
    assert!(!msg.contains(&format!("image {SIGNED} ")), "{msg}");

    // Audit: the sandbox rule warns but admits.
    let resp = f
        .post("/mutate", &review("Pod", Some("dev"), pod(SANDBOX)))
        .await;
    assert_eq!(resp["allowed"], true, "{resp}");
    let w = resp["warnings"].as_array().unwrap();
    assert!(
        w.iter().any(|w| w.as_str().unwrap().contains("[sandbox]")),
        "{resp}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input() {
    let f = fixture(false, Duration::from_secs(8)).await;
    let (s, t) = f.post_raw("/validate", b"{not json".to_vec()).await;
    assert_eq!(s, 400);
    assert!(t.contains("not valid AdmissionReview JSON"), "{t}");
    let (s, t) = f
        .post_raw(
            "/validate",
            br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"}"#.to_vec(),
        )
        .await;
    assert_eq!(s, 400);
    assert!(t.contains("admission.k8s.io/v1"), "{t}");
    let mut big = review("Pod", None, pod(SIGNED)).to_string().into_bytes();
    big.truncate(big.len() - 1);
    big.extend(std::iter::repeat_n(b' ', 3 * 1024 * 1024));
    big.push(b'}');
    let (s, t) = f.post_raw("/mutate", big).await;
    assert_eq!(s, 413, "{t}");
    assert!(t.contains("larger than the limit"), "{t}");

    // Unknown kind with containers: denied; without: allowed.
    let rollout = json!({"spec": {"template": {"spec": {"containers": [{"image": SIGNED}]}}}});
    let resp = f
        .post("/validate", &review("Rollout", Some("a"), rollout))
        .await;
    assert_eq!(resp["allowed"], false);
    assert!(
        resp["status"]["message"]
            .as_str()
            .unwrap()
            .contains("Rollout")
    );
    let cm = json!({"data": {"image": "x"}});
    let resp = f
        .post("/validate", &review("ConfigMap", Some("a"), cm))
        .await;
    assert_eq!(resp["allowed"], true);
    // A Deployment without a pod template.
    let resp = f
        .post(
            "/validate",
            &review("Deployment", Some("a"), json!({"spec": {}})),
        )
        .await;
    assert_eq!(resp["allowed"], false);
    // An image without tag or digest: checked as :latest, with a warning.
    let resp = f
        .post(
            "/validate",
            &review("Pod", Some("a"), pod("registry.example.com/sandbox/tool")),
        )
        .await;
    assert_eq!(resp["allowed"], true, "{resp}");
    assert!(
        resp["warnings"].to_string().contains("no tag or digest"),
        "{resp}"
    );
    // An unparsable image: denied with the reason.
    let resp = f
        .post("/validate", &review("Pod", Some("a"), pod("UPPER/Case:x")))
        .await;
    assert_eq!(resp["allowed"], false);
    assert!(
        resp["status"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid-image")
    );
    // Still serving, metrics count the errors.
    assert!(
        f.metrics()
            .await
            .contains("kiln_admit_decisions_total{result=\"error\"} 3")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_exclusions_and_dry_run() {
    let f = fixture(false, Duration::from_secs(8)).await;
    let r = review("Pod", Some("prod"), pod(SIGNED));
    assert_eq!(f.post("/validate", &r).await["allowed"], true);
    assert_eq!(f.calls.load(Ordering::SeqCst), 1);
    assert_eq!(f.post("/validate", &r).await["allowed"], true);
    // The pinned form the mutating webhook produces hits the same decision.
    let pinned = review(
        "Pod",
        Some("prod"),
        pod(&format!("registry.example.com/team/app@{DIGEST}")),
    );
    assert_eq!(f.post("/validate", &pinned).await["allowed"], true);
    assert_eq!(
        f.calls.load(Ordering::SeqCst),
        1,
        "second and third answered from cache"
    );
    let m = f.metrics().await;
    assert!(
        m.contains("kiln_admit_cache_hits_total{cache=\"decision\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("kiln_admit_cache_hits_total{cache=\"tag\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("kiln_admit_cache_misses_total{cache=\"tag\"} 1"),
        "{m}"
    );
    assert!(m.contains("kiln_admit_admitted_images_total 3"), "{m}");

    // kube-system is excluded: admitted without a decision.
    let sys = review("Pod", Some("kube-system"), pod(UNSIGNED));
    assert_eq!(f.post("/validate", &sys).await["allowed"], true);
    assert_eq!(f.calls.load(Ordering::SeqCst), 1);

    // A dry run decides the same but records nothing.
    let mut dry = review("Pod", Some("prod"), pod(SIGNED));
    dry["request"]["dryRun"] = json!(true);
    assert_eq!(f.post("/validate", &dry).await["allowed"], true);
    assert!(
        f.metrics()
            .await
            .contains("kiln_admit_admitted_images_total 3")
    );

    // Probes.
    let h = f.client.get(f.url("/healthz")).send().await.unwrap();
    assert_eq!(h.status(), 200);
    let r = f.client.get(f.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("sha256:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_decision_is_answered_within_the_budget() {
    let f = fixture(true, Duration::from_millis(300)).await;
    let resp = f
        .post("/validate", &review("Pod", Some("prod"), pod(SIGNED)))
        .await;
    assert_eq!(resp["allowed"], false, "{resp}");
    let msg = resp["status"]["message"].as_str().unwrap();
    assert!(msg.contains("timeout") && msg.contains("300 ms"), "{msg}");
    let m = f.metrics().await;
    assert!(m.contains("kiln_admit_registry_errors_total 1"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_and_policy_reload() {
    let f = fixture(false, Duration::from_secs(8)).await;
    let certs = f.dir.path().join("certs");
    let new =
        kiln_admit::certs::generate(&f.dir.path().join("new"), &["localhost".into()]).unwrap();
    let new_client = client_for(&new.ca_cert);
    assert!(new_client.get(f.url("/healthz")).send().await.is_err());

    // A broken pair is refused and the old certificate kept.
    std::fs::write(certs.join("tls.key"), b"not a key").unwrap();
    let mut seen = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if f.metrics()
            .await
            .contains("kiln_admit_reloads_total{what=\"certificate\",result=\"error\"} 1")
        {
            seen = true;
            break;
        }
    }
    assert!(seen, "the broken key was not noticed");
    assert_eq!(
        f.client
            .get(f.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The new pair takes over.
    std::fs::copy(&new.key, certs.join("tls.key")).unwrap();
    std::fs::copy(&new.cert, certs.join("tls.crt")).unwrap();
    let mut switched = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if new_client.get(f.url("/healthz")).send().await.is_ok() {
            switched = true;
            break;
        }
    }
    assert!(switched, "the new certificate was not served");

    // A policy with errors keeps the previous one, and says so on /readyz.
    let policy = f.dir.path().join("policy/policy.yaml");
    let before = f.server.webhook().policy().version.clone();
    std::fs::write(
        &policy,
        "apiVersion: kiln.dev/v1alpha1\nkind: ImagePolicy\nspec:\n  rules: 3\n",
    )
    .unwrap();
    let mut text = String::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        text = new_client
            .get(f.url("/readyz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("last reload failed") {
            break;
        }
    }
    assert!(
        text.contains("last reload failed") && text.contains("line"),
        "{text}"
    );
    assert_eq!(f.server.webhook().policy().version, before);
    let r = review("Pod", Some("prod"), pod(SIGNED));
    assert_eq!(f.post_with(&new_client, &r).await["allowed"], true);

    // A valid change takes effect: default allow.
    let allow_all = "apiVersion: kiln.dev/v1alpha1\nkind: ImagePolicy\nspec:\n  defaultAction: allow\n  rules: []\n";
    std::fs::write(&policy, allow_all).unwrap();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if f.server.webhook().policy().version != before {
            break;
        }
    }
    let r = review("Pod", Some("prod"), pod(UNSIGNED));
    assert_eq!(f.post_with(&new_client, &r).await["allowed"], true);
}

impl Fixture {
    async fn post_with(&self, client: &reqwest::Client, review: &Value) -> Value {
        let r = client
            .post(self.url("/validate"))
            .body(review.to_string())
            .send()
            .await
            .unwrap();
        let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        v["response"].clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_with_errors_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let certs = kiln_admit::certs::generate(dir.path(), &["localhost".into()]).unwrap();
    let policy = dir.path().join("bad.yaml");
    std::fs::write(
        &policy,
        "apiVersion: kiln.dev/v1alpha1\nkind: ImagePolicy\nspec:\n  mode: enforce\n  rules:\n    - name: x\n      bogus: 1\n",
    )
    .unwrap();
    let err = kiln_admit::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: None,
        tls: CertFiles {
            cert: certs.cert,
            key: certs.key,
        },
        policy: policy.clone(),
        factory: factory(Arc::new(AtomicUsize::new(0)), false),
        options: WebhookOptions::default(),
        reload_interval: Duration::from_secs(5),
        body_limit: 1024,
    })
    .await
    .err()
    .expect("a bad policy must be refused");
    let msg = err.to_string();
    assert!(msg.contains("bad.yaml") && msg.contains("line 7"), "{msg}");
}
