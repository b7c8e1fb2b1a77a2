//! Fault injection through the CLI (issue 9): a fault proxy (`kiln_testutil::fault`)
//! between `kiln` and the real test registry, and between `kiln` and moto's KMS. For
//! each operation (push and pull with `kiln image copy`, `kiln sbom` of a registry image,
//! `kiln sign` / `kiln attest` into the registry, `kiln run` with `publish:`, KMS signing,
//! KMS-wrapped evidence), transient faults (5xx, 429 with `Retry-After: 1`, a connection
//! dropped mid-body) are retried to success, and persistent ones (5xx, dropped
//! connections, truncated or corrupted blobs) fail with an error naming the registry, the
//! blob or the key, leaving nothing partial: checked in the registry directly (no proxy),
//! in the destination layout, in the ledger and in the evidence store. Every test asserts
//! that the proxy really injected its faults.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kiln_testutil::fault::{Fault, Proxy, Rule};

mod support;
use support::text;

const PASSWORD: &str = "f4ult-Inject10n-pw";

fn kiln(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all: Vec<(&str, &str)> = vec![("NO_COLOR", "1")];
    all.extend_from_slice(env);
    support::kiln_with_password(dir, args, &all, PASSWORD)
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", text(&o));
    o
}

/// Exit code 2 (an error), and the error text.
fn fails(o: Output) -> String {
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    eprintln!("expected failure: {}", t.trim());
    t
}

fn repo(name: &str) -> String {
    format!("kiln-fault/{name}-{}", std::process::id())
}

/// A copy of examples/hello in a new temporary directory, `extra` appended to kiln.yaml.
fn hello(extra: &str) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("hello");
    kiln_testutil::copy_project(
        &kiln_testutil::workspace_root().join("examples/hello"),
        &dir,
    );
    let mut y = std::fs::read_to_string(dir.join("kiln.yaml")).unwrap();
    y.push_str(extra);
    std::fs::write(dir.join("kiln.yaml"), y).unwrap();
    (t, dir)
}

/// examples/hello built into its layout: (temp dir, project, `oci:` reference, digest).
fn hello_image() -> (tempfile::TempDir, PathBuf, String, String) {
    let (t, dir) = hello("");
    let o = ok(kiln(&dir, &["build"], &[]));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let digest = out
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("no digest: {out}"))
        .to_string();
    let layout = format!("oci:{}:0.1.0", dir.join(".kiln/oci").display());
    (t, dir, layout, digest)
}

/// The HTTP status of a GET of `url` (curl, straight to the registry).
fn status(url: &str, accept: &str) -> u16 {
    let o = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(["-H", &format!("Accept: {accept}"), url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).parse().unwrap_or(0)
}

const ACCEPT: &str =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// The tags of `repo` in the registry, asked directly (empty when the repository is unknown).
fn tags(registry: &str, repo: &str) -> Vec<String> {
    let o = Command::new("curl")
        .args(["-s", &format!("http://{registry}/v2/{repo}/tags/list")])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    v["tags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the manifest `reference` of `repo` exists, asked directly; when it does, every
/// blob it names must exist too (never a manifest without its blobs).
fn manifest_complete(registry: &str, repo: &str, reference: &str) -> bool {
    let url = format!("http://{registry}/v2/{repo}/manifests/{reference}");
    let o = Command::new("curl")
        .args(["-s", "-f", "-H", &format!("Accept: {ACCEPT}"), &url])
        .output()
        .unwrap();
    if !o.status.success() {
        return false;
    }
    let m: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut blobs = vec![
        m["config"]["digest"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ];
    for l in m["layers"].as_array().into_iter().flatten() {
        blobs.push(l["digest"].as_str().unwrap_or_default().to_string());
    }
    for b in blobs.iter().filter(|b| !b.is_empty()) {
        let code = status(&format!("http://{registry}/v2/{repo}/blobs/{b}"), "*/*");
        assert_eq!(
            code, 200,
            "manifest {reference} of {repo} names blob {b}: HTTP {code}"
        );
    }
    true
}

/// `sha256-<hex>.sig` / `.att` tags of `digest`.
fn sig_tag(digest: &str, suffix: &str) -> String {
    format!("{}.{suffix}", digest.replace(':', "-"))
}

/// The number of manifests an OCI layout's index lists, and of blob files it holds.
fn layout_contents(dir: &Path) -> (usize, usize) {
    let index: serde_json::Value = std::fs::read(dir.join("index.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let manifests = index["manifests"].as_array().map_or(0, Vec::len);
    let blobs = std::fs::read_dir(dir.join("blobs/sha256"))
        .map(|d| d.count())
        .unwrap_or(0);
    (manifests, blobs)
}

fn push_direct(dir: &Path, layout: &str, registry: &str, repo: &str) {
    ok(kiln(
        dir,
        &["image", "copy", layout, &format!("{registry}/{repo}:0.1.0")],
        &[],
    ));
}

#[test]
fn push_retries_transient_faults_to_success() {
    let Some(registry) = kiln_testutil::registry() else {
        return;
    };
    let (_t, dir, layout, digest) = hello_image();
    let proxy = Proxy::http(&registry);
    let head = proxy.add(Rule::new("HEAD", "/blobs/sha256:", Fault::Status(500)).times(1));
    let busy = proxy.add(
        Rule::new(
            "POST",
            "/blobs/uploads/$",
            Fault::TooManyRequests {
                retry_after_secs: 1,
            },
        )
        .times(1),
    );
    let upload = proxy.add(Rule::new("PUT", "/blobs/uploads/", Fault::Status(502)).times(1));
    let hangup = proxy.add(Rule::new("PUT", "/blobs/uploads/", Fault::Hangup).times(1));
    let manifest = proxy.add(Rule::new("PUT", "/manifests/", Fault::Status(503)).times(2));
    let r = repo("push-transient");
    let o = ok(kiln(
        &dir,
        &[
            "image",
            "copy",
            &layout,
            &format!("{}/{r}:0.1.0", proxy.addr()),
        ],
        &[],
    ));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&digest));
    for (id, n) in [
        (head, 1),
        (busy, 1),
        (upload, 1),
        (hangup, 1),
        (manifest, 2),
    ] {
        assert_eq!(proxy.injected(id), n, "{:?}", proxy.seen());
    }
    assert!(manifest_complete(&registry, &r, &digest));
    assert_eq!(tags(&registry, &r), ["0.1.0"]);
}

#[test]
fn push_with_persistent_faults_fails_and_leaves_no_manifest() {
    let Some(registry) = kiln_testutil::registry() else {
        return;
    };
    let (_t, dir, layout, digest) = hello_image();
    let cases: [(&str, Rule, &str); 3] = [
        (
            "manifest-500",
            Rule::new("PUT", "/manifests/", Fault::Status(500)),
            "PUT manifest",
        ),
        (
            "upload-503",
            Rule::new("PUT", "/blobs/uploads/", Fault::Status(503)),
            "upload blob sha256:",
        ),
        (
            "upload-hangup",
            Rule::new("PUT", "/blobs/uploads/", Fault::Hangup),
            "upload blob sha256:",
        ),
    ];
    for (name, rule, what) in cases {
        let proxy = Proxy::http(&registry);
        let id = proxy.add(rule);
        let r = repo(name);
        let err = fails(kiln(
            &dir,
            &[
                "image",
                "copy",
                &layout,
                &format!("{}/{r}:0.1.0", proxy.addr()),
            ],
            &[],
        ));
        assert!(
            proxy.injected(id) >= 2,
            "{name}: retried: {:?}",
            proxy.seen()
        );
        assert!(
            err.contains(proxy.addr()) && err.contains(what) && err.contains("attempts"),
            "{name}: {err}"
        );
        assert!(!manifest_complete(&registry, &r, &digest), "{name}");
        assert!(tags(&registry, &r).is_empty(), "{name}");
    }
}

#[test]
fn pull_retries_dropped_bodies_and_refuses_damaged_blobs() {
    let Some(registry) = kiln_testutil::registry() else {
        return;
    };
    let (t, dir, layout, digest) = hello_image();
    let r = repo("pull");
    push_direct(&dir, &layout, &registry, &r);

    // Transient: a 503 on the manifest, two blob bodies cut off, the rest sent slowly.
    let proxy = Proxy::http(&registry);
    let m503 = proxy.add(Rule::new("GET", "/manifests/", Fault::Status(503)).times(1));
    let dropped =
        proxy.add(Rule::new("GET", "/blobs/sha256:", Fault::DropAfter { bytes: 16 }).times(2));
    let slow = proxy.add(Rule::new(
        "GET",
        "/blobs/sha256:",
        Fault::Slow {
            chunk: 512,
            delay: std::time::Duration::from_millis(2),
        },
    ));
    let dst = t.path().join("pulled");
    let o = ok(kiln(
        &dir,
        &[
            "image",
            "copy",
            &format!("{}/{r}:0.1.0", proxy.addr()),
            &format!("oci:{}:0.1.0", dst.display()),
        ],
        &[],
    ));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&digest));
    assert_eq!(proxy.injected(m503), 1);
    assert_eq!(proxy.injected(dropped), 2);
    assert!(proxy.injected(slow) >= 1);
    assert_eq!(layout_contents(&dst).0, 1);
    drop(proxy);

    // Persistent: every blob corrupted, truncated or cut off; a corrupted manifest.
    let cases: [(&str, Rule, &[&str]); 4] = [
        (
            "corrupt",
            Rule::new("GET", "/blobs/sha256:", Fault::Corrupt),
            &["blob sha256:", "digest"],
        ),
        (
            "truncate",
            Rule::new("GET", "/blobs/sha256:", Fault::Truncate { bytes: 10 }),
            &["blob sha256:", "size"],
        ),
        (
            "drop",
            Rule::new("GET", "/blobs/sha256:", Fault::DropAfter { bytes: 16 }),
            &["blob sha256:", "connection dropped", "attempts"],
        ),
        (
            "corrupt-manifest",
            Rule::new("GET", "/manifests/", Fault::Corrupt),
            &["manifest"],
        ),
    ];
    for (name, rule, words) in cases {
        let proxy = Proxy::http(&registry);
        let id = proxy.add(rule);
        let dst = t.path().join(name);
        let err = fails(kiln(
            &dir,
            &[
                "image",
                "copy",
                &format!("{}/{r}:0.1.0", proxy.addr()),
                &format!("oci:{}:0.1.0", dst.display()),
            ],
            &[],
        ));
        assert!(proxy.injected(id) >= 1, "{name}");
        assert!(err.contains(proxy.addr()), "{name}: {err}");
        for w in words {
            assert!(err.contains(w), "{name}: {w:?} in {err}");
        }
        assert_eq!(layout_contents(&dst), (0, 0), "{name}: nothing written");
    }
}

#[test]
fn sbom_of_a_registry_image_through_faults() {
    let Some(registry) = kiln_testutil::registry() else {
        return;
    };
    let (_t, dir, layout, _digest) = hello_image();
    let r = repo("sbom");
    push_direct(&dir, &layout, &registry, &r);
    let proxy = Proxy::http(&registry);
    let m = proxy.add(Rule::new("GET", "/manifests/", Fault::Status(502)).times(1));
    let b = proxy.add(Rule::new("GET", "/blobs/sha256:", Fault::DropAfter { bytes: 16 }).times(1));
    let source = format!("registry:{}/{r}:0.1.0", proxy.addr());
    let o = ok(kiln(&dir, &["sbom", &source, "--format", "spdx-json"], &[]));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!((proxy.injected(m), proxy.injected(b)), (1, 1));
    drop(proxy);

    let proxy = Proxy::http(&registry);
    let bad = proxy.add(Rule::new("GET", "/blobs/sha256:", Fault::Corrupt));
    let source = format!("registry:{}/{r}:0.1.0", proxy.addr());
    let err = fails(kiln(&dir, &["sbom", &source, "--format", "spdx-json"], &[]));
    assert!(proxy.injected(bad) >= 1);
    assert!(err.contains("sha256:") && err.contains("digest"), "{err}");
}

/// A provenance predicate for `kiln attest`.
fn predicate(dir: &Path) -> PathBuf {
    let p = dir.join("provenance.json");
    std::fs::write(
        &p,
        r#"{"buildDefinition":{"buildType":"https://kiln.dev/build/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://kiln.dev/builder"}}}"#,
    )
    .unwrap();
    p
}

fn attest_args<'a>(key: &'a str, predicate: &'a str, image: &'a str) -> [&'a str; 8] {
    [
        "attest",
        "--key",
        key,
        "--type",
        "slsaprovenance",
        "--predicate",
        predicate,
        image,
    ]
}

#[test]
fn sign_and_attest_into_the_registry_through_faults() {
    let Some(registry) = kiln_testutil::registry() else {
        return;
    };
    let (t, dir, layout, digest) = hello_image();
    ok(kiln(
        t.path(),
        &["key", "generate", "--output-key-prefix", "k"],
        &[],
    ));
    let key = t.path().join("k.key").display().to_string();
    let pubkey = t.path().join("k.pub").display().to_string();
    let pred = predicate(t.path());
    let pred = pred.to_str().unwrap();

    // Transient: retried to success.
    let r = repo("sign-transient");
    push_direct(&dir, &layout, &registry, &r);
    let proxy = Proxy::http(&registry);
    let put = proxy.add(Rule::new("PUT", "/manifests/", Fault::Status(503)).times(2));
    let busy = proxy.add(
        Rule::new(
            "POST",
            "/blobs/uploads/$",
            Fault::TooManyRequests {
                retry_after_secs: 1,
            },
        )
        .times(1),
    );
    let get = proxy.add(Rule::new("GET", "/manifests/", Fault::Status(500)).times(1));
    let image = format!("{}/{r}:0.1.0", proxy.addr());
    ok(kiln(t.path(), &["sign", "--key", &key, &image], &[]));
    ok(kiln(t.path(), &attest_args(&key, pred, &image), &[]));
    assert_eq!(
        (
            proxy.injected(put),
            proxy.injected(busy),
            proxy.injected(get)
        ),
        (2, 1, 1)
    );
    for suffix in ["sig", "att"] {
        assert!(manifest_complete(&registry, &r, &sig_tag(&digest, suffix)));
    }
    let direct = format!("{registry}/{r}:0.1.0");
    ok(kiln(t.path(), &["verify", "--key", &pubkey, &direct], &[]));
    drop(proxy);

    // Persistent: the signature manifest never lands, and nothing half-written is left.
    let r = repo("sign-persistent");
    push_direct(&dir, &layout, &registry, &r);
    let proxy = Proxy::http(&registry);
    let put = proxy.add(Rule::new("PUT", "/manifests/", Fault::Status(500)));
    let image = format!("{}/{r}:0.1.0", proxy.addr());
    let err = fails(kiln(t.path(), &["sign", "--key", &key, &image], &[]));
    assert!(
        err.contains(proxy.addr()) && err.contains("PUT manifest"),
        "{err}"
    );
    let err = fails(kiln(t.path(), &attest_args(&key, pred, &image), &[]));
    assert!(
        err.contains(proxy.addr()) && err.contains("PUT manifest"),
        "{err}"
    );
    assert!(proxy.injected(put) >= 4);
    assert_eq!(tags(&registry, &r), ["0.1.0"], "no .sig or .att tag");
    let o = kiln(
        t.path(),
        &["verify", "--key", &pubkey, &format!("{registry}/{r}:0.1.0")],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    drop(proxy);

    // An image that was never pushed is never signed.
    let r = repo("sign-missing");
    let proxy = Proxy::http(&registry);
    let image = format!("{}/{r}:0.1.0", proxy.addr());
    let err = fails(kiln(t.path(), &["sign", "--key", &key, &image], &[]));
    assert!(err.contains(&r), "{err}");
    assert!(tags(&registry, &r).is_empty());
}

/// A kiln.yaml tail publishing to `image`, with no vulnerability database.
fn publish(image: &str) -> String {
    format!("publish:\n  image: {image}\nvuln:\n  enabled: false\n")
}

fn ledger_runs(dir: &Path) -> Vec<kiln_pipeline::ledger::RunRecord> {
    let url = format!("sqlite://{}", dir.join(".kiln/ledger.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let l = kiln_pipeline::ledger::Ledger::open(&url).await.unwrap();
        let runs = l.runs(100).await.unwrap();
        let mut out = Vec::new();
        for r in runs {
            out.push(l.run(r.id.as_str()).await.unwrap().unwrap());
        }
        l.close().await;
        out
    })
}

fn run_json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

#[test]
fn kiln_run_with_a_registry_failing_mid_push() {
    let Some(registry) = kiln_testutil::registry() else {
        return;
    };
    use kiln_pipeline::ledger::RunStatus;

    // Transient faults during the push: the run succeeds and everything lands.
    let proxy = Proxy::http(&registry);
    let r = repo("run-transient");
    let put = proxy.add(Rule::new("PUT", "/manifests/", Fault::Status(503)).times(2));
    let busy = proxy.add(
        Rule::new(
            "POST",
            "/blobs/uploads/$",
            Fault::TooManyRequests {
                retry_after_secs: 1,
            },
        )
        .times(1),
    );
    let (_t, dir) = hello(&publish(&format!("{}/{r}:0.1.0", proxy.addr())));
    let o = kiln(&dir, &["run", "--format", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run = run_json(&o);
    let digest = run["digest"].as_str().unwrap().to_string();
    assert_eq!((proxy.injected(put), proxy.injected(busy)), (2, 1));
    assert!(manifest_complete(&registry, &r, "0.1.0"));
    for suffix in ["sig", "att"] {
        assert!(manifest_complete(&registry, &r, &sig_tag(&digest, suffix)));
    }
    drop(proxy);

    // The image manifest never lands: the run fails at push, no signature in the registry.
    let proxy = Proxy::http(&registry);
    let r = repo("run-no-image");
    let put = proxy.add(Rule::new("PUT", "/manifests/", Fault::Status(500)));
    let (_t2, dir) = hello(&publish(&format!("{}/{r}:0.1.0", proxy.addr())));
    let o = kiln(&dir, &["run", "--format", "json"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let run = run_json(&o);
    assert_eq!(run["status"], "error");
    assert_eq!(run["failed_stage"], "push");
    let reason = run["reason"].as_str().unwrap();
    assert!(
        reason.contains(proxy.addr()) && reason.contains("PUT manifest"),
        "{reason}"
    );
    assert!(proxy.injected(put) >= 2);
    assert!(!manifest_complete(&registry, &r, &digest));
    assert!(tags(&registry, &r).is_empty(), "{:?}", tags(&registry, &r));
    let runs = ledger_runs(&dir);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Failed);
    assert_eq!(runs[0].failed_stage.as_deref(), Some("push"));
    drop(proxy);

    // The image lands but its signature does not: no tag points at an unsigned image.
    let proxy = Proxy::http(&registry);
    let r = repo("run-no-sig");
    let sig = proxy.add(Rule::new(
        "PUT",
        r"/manifests/sha256-[0-9a-f]{64}\.sig$",
        Fault::Status(503),
    ));
    let (_t3, dir) = hello(&publish(&format!("{}/{r}:0.1.0", proxy.addr())));
    let o = kiln(&dir, &["run", "--format", "json"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(run_json(&o)["failed_stage"], "push");
    assert!(proxy.injected(sig) >= 2);
    assert!(
        manifest_complete(&registry, &r, &digest),
        "blobs before manifest"
    );
    assert!(tags(&registry, &r).is_empty(), "{:?}", tags(&registry, &r));
    let runs = ledger_runs(&dir);
    assert_eq!(runs[0].status, RunStatus::Failed);
}

/// moto, or a skip (a failure under the test script).
fn moto() -> Option<String> {
    match std::env::var("KILN_TEST_MOTO") {
        Ok(m) if !m.is_empty() => Some(m),
        _ => {
            assert!(
                !kiln_testutil::services_required(),
                "KILN_TEST_MOTO is required (KILN_REQUIRE_SERVICES=1)"
            );
            eprintln!("skipping: KILN_TEST_MOTO is missing");
            None
        }
    }
}

/// A new KMS key in moto (straight to moto, not through a proxy); its id.
fn kms_key(moto: &str, body: &str) -> String {
    let out = Command::new("curl")
        .args(["-sf", "-X", "POST", moto])
        .args(["-H", "Content-Type: application/x-amz-json-1.1"])
        .args(["-H", "X-Amz-Target: TrentService.CreateKey"])
        .args([
            "-H",
            "Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0",
        ])
        .args(["-d", body])
        .output()
        .unwrap();
    assert!(out.status.success(), "moto CreateKey: {}", text(&out));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    created["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The AWS environment for `kiln` with KMS at `endpoint` (the proxy).
fn aws_env<'a>(endpoint: &'a str, attempts: &'a str) -> [(&'a str, &'a str); 7] {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_MAX_ATTEMPTS", attempts),
        ("AWS_RETRY_MODE", "standard"),
    ]
}

fn kms_op(op: &str) -> Rule {
    Rule::new("POST", "^/$", Fault::Status(500)).header("x-amz-target", &format!("\\.{op}$"))
}

#[test]
fn kms_signing_through_faults() {
    let (Some(registry), Some(moto)) = (kiln_testutil::registry(), moto()) else {
        return;
    };
    let key = format!(
        "awskms:///{}",
        kms_key(
            &moto,
            r#"{"KeySpec":"ECC_NIST_P256","KeyUsage":"SIGN_VERIFY"}"#
        )
    );
    let (t, dir, layout, digest) = hello_image();

    // Transient 5xx from KMS: the AWS SDK retries.
    let kms = Proxy::http(&moto);
    let url = kms.url();
    let get = kms.add(kms_op("GetPublicKey").times(1));
    let sign = kms.add(kms_op("Sign").times(1));
    let r = repo("kms-transient");
    push_direct(&dir, &layout, &registry, &r);
    let image = format!("{registry}/{r}:0.1.0");
    ok(kiln(
        t.path(),
        &["sign", "--key", &key, &image],
        &aws_env(&url, "3"),
    ));
    assert_eq!((kms.injected(get), kms.injected(sign)), (1, 1));
    assert!(manifest_complete(&registry, &r, &sig_tag(&digest, "sig")));
    drop(kms);

    // Persistent: KMS Sign always fails, or answers a damaged body.
    for (name, rule) in [
        ("kms-500", kms_op("Sign")),
        (
            "kms-corrupt",
            Rule::new("POST", "^/$", Fault::Corrupt).header("x-amz-target", r"\.Sign$"),
        ),
        (
            "kms-truncated",
            Rule::new("POST", "^/$", Fault::Truncate { bytes: 20 })
                .header("x-amz-target", r"\.Sign$"),
        ),
    ] {
        let kms = Proxy::http(&moto);
        let url = kms.url();
        let id = kms.add(rule);
        let r = repo(name);
        push_direct(&dir, &layout, &registry, &r);
        let image = format!("{registry}/{r}:0.1.0");
        let err = fails(kiln(
            t.path(),
            &["sign", "--key", &key, &image],
            &aws_env(&url, "2"),
        ));
        assert!(kms.injected(id) >= 1, "{name}");
        assert!(err.contains(&key) && err.contains("KMS"), "{name}: {err}");
        assert!(!err.contains("SdkBody"), "{name}: no raw KMS answer: {err}");
        assert_eq!(
            tags(&registry, &r),
            ["0.1.0"],
            "{name}: no signature pushed"
        );
    }
}

#[test]
fn kiln_run_with_kms_wrapped_evidence_failing() {
    let Some(moto) = moto() else {
        return;
    };
    use kiln_pipeline::ledger::RunStatus;
    let key = format!("awskms:///{}", kms_key(&moto, "{}"));
    let tail = format!("evidence:\n  key: {key}\nvuln:\n  enabled: false\n");

    // Persistent: GenerateDataKey always fails; the run stops, nothing is half-written.
    let kms = Proxy::http(&moto);
    let url = kms.url();
    let gen_key = kms.add(kms_op("GenerateDataKey"));
    let (_t, dir) = hello(&tail);
    let o = kiln(&dir, &["run", "--format", "json"], &aws_env(&url, "2"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let run = run_json(&o);
    assert_eq!(run["status"], "error");
    let reason = run["reason"].as_str().unwrap();
    assert!(
        reason.contains("evidence") && reason.contains("GenerateDataKey"),
        "{reason}"
    );
    assert!(kms.injected(gen_key) >= 2);
    assert!(run["evidence"].as_array().unwrap().is_empty());
    let id = run["run_id"].as_str().unwrap();
    let ev = dir.join(".kiln/evidence").join(id);
    let files: Vec<_> = std::fs::read_dir(&ev)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(files.is_empty(), "no evidence written: {files:?}");
    let runs = ledger_runs(&dir);
    assert_eq!(runs[0].status, RunStatus::Failed);
    assert!(runs[0].evidence.is_empty());
    let tags = std::fs::read_to_string(dir.join(".kiln/oci/index.json")).unwrap_or_default();
    assert!(
        !tags.contains(".sig") && !tags.contains(".att"),
        "nothing signed: {tags}"
    );
    drop(kms);

    // Transient: one 500 from GenerateDataKey is retried; the evidence decrypts.
    let kms = Proxy::http(&moto);
    let url = kms.url();
    let gen_key = kms.add(kms_op("GenerateDataKey").times(1));
    let decrypt = kms.add(kms_op("Decrypt").times(1));
    let (_t2, dir) = hello(&tail);
    let env = aws_env(&url, "3");
    let o = kiln(&dir, &["run", "--format", "json"], &env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run = run_json(&o);
    let id = run["run_id"].as_str().unwrap();
    let o = ok(kiln(
        &dir,
        &[
            "evidence",
            "get",
            id,
            "provenance.json",
            "--decrypt",
            "--key",
            &key,
        ],
        &env,
    ));
    let prov: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(prov["buildDefinition"].is_object(), "{prov}");
    assert_eq!((kms.injected(gen_key), kms.injected(decrypt)), (1, 1));
}

#[test]
fn kiln_run_with_an_unreachable_postgres_ledger() {
    let Ok(pg) = std::env::var("KILN_TEST_POSTGRES") else {
        assert!(
            !kiln_testutil::services_required(),
            "KILN_TEST_POSTGRES is required"
        );
        eprintln!("skipping: KILN_TEST_POSTGRES is missing");
        return;
    };
    use kiln_testutil::fault::{TcpFault, TcpRule};
    let hostport = pg
        .trim_start_matches("postgres://")
        .split_once('@')
        .map_or("", |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let proxy = Proxy::tcp(&hostport);
    let refuse = proxy.add_tcp(TcpRule::new(TcpFault::Refuse));
    let url = pg.replace(&hostport, proxy.addr());
    let (_t, dir) = hello(&format!("ledger:\n  url: {url}\n"));
    let o = kiln(&dir, &["run"], &[]);
    let err = fails(o);
    assert!(proxy.injected_tcp(refuse) >= 1);
    assert!(
        err.contains("ledger") && err.contains(proxy.addr()),
        "{err}"
    );
    assert!(!dir.join(".kiln/oci").exists(), "no stage ran");
}
