//! End-to-end tests of issue 6 through the CLI with each key backend: a key file, an AWS
//! KMS key on moto (`awskms:///ID`) and a SoftHSM2 key (`pkcs11:…`). For each, a tiny image
//! is copied to the test registry with `kiln image copy`, then `kiln sign` and `kiln attest
//! --type slsaprovenance` sign it, `kiln verify` accepts both with the key and rejects
//! them with another key (exit 1), and independent verifiers check what is stored in the
//! registry: openssl verifies the cosign `.sig` signature over its payload, Python
//! securesystemslib verifies the `.att` DSSE envelope (and in-toto-attestation validates
//! its statement).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kiln_oci::manifest::{Descriptor, ImageManifest};
use kiln_oci::{Manifest, OciLayout, media_type};

const PASSWORD: &str = "b4ckends-Pa55word";
const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

const PY_CHECK: &str = r#"
import json, sys
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
env = json.load(open(sys.argv[1]))
pub = open(sys.argv[2]).read()
key = SSlibKey("", "ecdsa", "ecdsa-sha2-nistp256", {"public": pub})
e = Envelope.from_dict(env)
e.verify([key], 1)
st = json.loads(e.payload)
assert st["predicateType"] == "https://slsa.dev/provenance/v1", st["predicateType"]
assert st["subject"][0]["digest"]["sha256"] == sys.argv[3], st["subject"]
Statement.copy_from_pb(json_format.Parse(e.payload, statement_pb2.Statement())).validate()
print("OK")
"#;

mod support;
use support::text;

fn kiln(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    support::kiln_with_password(dir, args, env, PASSWORD)
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", text(&o));
    o
}

/// A one-layer image tagged v1 in a new layout (its layer names the backend so that each
/// test has its own digest); returns the `oci:` reference and the manifest digest.
fn image(dir: &Path, name: &str) -> (String, kiln_oci::Digest) {
    let path = dir.join("layout");
    let store = OciLayout::create(&path).unwrap();
    let layer = format!("layer for {name} {}", std::process::id()).into_bytes();
    let ld = Descriptor::of(media_type::OCI_LAYER_TAR, &layer);
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = Descriptor::of(media_type::OCI_CONFIG, config);
    store.write_blob(&ld.digest, &layer).unwrap();
    store.write_blob(&cd.digest, config).unwrap();
    let m = Manifest::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.into()),
        artifact_type: None,
        config: cd,
        layers: vec![ld],
        subject: None,
        annotations: None,
    });
    store.put_manifest(&m, Some("v1")).unwrap();
    (format!("oci:{}:v1", path.display()), m.digest.clone())
}

/// The SLSA v1 predicate body of the shared vector, or a small valid one without it.
fn predicate(dir: &Path) -> PathBuf {
    let body = match kiln_testutil::shared_vectors("slsa") {
        Some(v) => {
            let st: serde_json::Value = serde_json::from_slice(
                &std::fs::read(v.join("github-actions-workflow-v1-example.json")).unwrap(),
            )
            .unwrap();
            st["predicate"].clone()
        }
        None => serde_json::json!({
            "buildDefinition": {"buildType": "https://kiln.dev/build/v1", "externalParameters": {}},
            "runDetails": {"builder": {"id": "https://kiln.dev/builder"}},
        }),
    };
    assert!(body["buildDefinition"].is_object(), "{body}");
    let p = dir.join("provenance.json");
    std::fs::write(&p, serde_json::to_vec_pretty(&body).unwrap()).unwrap();
    p
}

/// GETs `url` from the plain-HTTP test registry with curl.
fn fetch(url: &str, accept: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-sf", "-H", &format!("Accept: {accept}"), url])
        .output()
        .unwrap();
    assert!(out.status.success(), "GET {url}: {}", text(&out));
    out.stdout
}

/// The layers of the manifest tagged `tag` in `base` (`http://REGISTRY/v2/REPO`).
fn layers(base: &str, tag: &str) -> Vec<serde_json::Value> {
    let m: serde_json::Value = serde_json::from_slice(&fetch(
        &format!("{base}/manifests/{tag}"),
        media_type::OCI_MANIFEST,
    ))
    .unwrap();
    m["layers"].as_array().unwrap().clone()
}

/// Copies a new image to the registry, signs and attests it with `key`, verifies with
/// Kiln (and rejects another key), then with openssl and securesystemslib.
fn round_trip(name: &str, key: &str, env: &[(&str, &str)]) {
    let Some(registry) = kiln_testutil::registry() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (src, digest) = image(dir, name);
    let repo = format!("kiln-sign-backends/{name}-{}", std::process::id());
    let reference = format!("{registry}/{repo}:v1");
    let out = ok(kiln(dir, &["image", "copy", &src, &reference], env));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&digest.to_string()),
        "{}",
        text(&out)
    );

    // The public key, as every verifier gets it.
    ok(kiln(
        dir,
        &["key", "public-key", "--key", key, "--output", "pub.pem"],
        env,
    ));
    let public = std::fs::read_to_string(dir.join("pub.pem")).unwrap();
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
    // Another key, which must not verify.
    ok(kiln(
        dir,
        &["key", "generate", "--output-key-prefix", "other"],
        &[],
    ));

    ok(kiln(dir, &["sign", "--key", key, &reference], env));
    let provenance = predicate(dir);
    ok(kiln(
        dir,
        &[
            "attest",
            "--key",
            key,
            "--type",
            "slsaprovenance",
            "--predicate",
            provenance.to_str().unwrap(),
            &reference,
        ],
        env,
    ));

    // Kiln verifies with the key reference and with the exported public key.
    for k in [key, "pub.pem"] {
        let out = ok(kiln(
            dir,
            &["verify", "--key", k, &reference, "--format", "json"],
            env,
        ));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["verified"], true, "{v}");
        assert_eq!(v["signatures"][0]["image"], digest.to_string(), "{v}");
        let out = ok(kiln(
            dir,
            &[
                "verify",
                "--key",
                k,
                "--attestation",
                "slsaprovenance",
                &reference,
                "--format",
                "json",
            ],
            env,
        ));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["attestations"][0]["predicate_type"], "https://slsa.dev/provenance/v1",
            "{v}"
        );
    }
    // Another key: both fail with exit code 1.
    let out = kiln(dir, &["verify", "--key", "other.pub", &reference], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = kiln(
        dir,
        &[
            "verify",
            "--key",
            "other.pub",
            "--attestation",
            "slsaprovenance",
            &reference,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // openssl verifies the cosign signature over the payload fetched from the registry.
    let base = format!("http://{registry}/v2/{repo}");
    let sig_layers = layers(&base, &format!("sha256-{}.sig", digest.hex()));
    assert_eq!(sig_layers.len(), 1, "{sig_layers:?}");
    let payload = fetch(
        &format!("{base}/blobs/{}", sig_layers[0]["digest"].as_str().unwrap()),
        "*/*",
    );
    let p: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        p["critical"]["image"]["docker-manifest-digest"],
        digest.to_string()
    );
    std::fs::write(dir.join("payload.json"), &payload).unwrap();
    std::fs::write(
        dir.join("sig.b64"),
        sig_layers[0]["annotations"][SIGNATURE_ANNOTATION]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    if let Some(openssl) = kiln_testutil::program("openssl") {
        let out = Command::new(&openssl)
            .current_dir(dir)
            .args(["base64", "-d", "-A", "-in", "sig.b64", "-out", "sig.der"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let verify = |key: &str, data: &str| {
            Command::new(&openssl)
                .current_dir(dir)
                .args(["dgst", "-sha256", "-verify", key, "-signature", "sig.der"])
                .arg(data)
                .output()
                .unwrap()
        };
        let out = verify("pub.pem", "payload.json");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Verified OK"),
            "{}",
            text(&out)
        );
        // The same check with another key or a changed payload fails.
        let out = verify("other.pub", "payload.json");
        assert!(!out.status.success(), "{}", text(&out));
        let mut changed = payload.clone();
        changed.push(b' ');
        std::fs::write(dir.join("changed.json"), &changed).unwrap();
        let out = verify("pub.pem", "changed.json");
        assert!(!out.status.success(), "{}", text(&out));
    }

    // securesystemslib verifies the DSSE envelope of the attestation.
    let att_layers = layers(&base, &format!("sha256-{}.att", digest.hex()));
    assert_eq!(att_layers.len(), 1, "{att_layers:?}");
    let envelope = fetch(
        &format!("{base}/blobs/{}", att_layers[0]["digest"].as_str().unwrap()),
        "*/*",
    );
    std::fs::write(dir.join("envelope.json"), &envelope).unwrap();
    std::fs::write(dir.join("check.py"), PY_CHECK).unwrap();
    if let Some(python) = kiln_testutil::python() {
        let check = |key: &str| {
            Command::new(&python)
                .current_dir(dir)
                .args(["check.py", "envelope.json", key, digest.hex()])
                .output()
                .unwrap()
        };
        let out = check("pub.pem");
        assert!(
            out.status.success() && out.stdout.starts_with(b"OK"),
            "{}",
            text(&out)
        );
        let out = check("other.pub");
        assert!(!out.status.success(), "{}", text(&out));
    }
}

#[test]
fn file_key_signs_and_attests_in_the_registry() {
    let d = tempfile::tempdir().unwrap();
    ok(kiln(
        d.path(),
        &["key", "generate", "--output-key-prefix", "signer"],
        &[],
    ));
    let key = d.path().join("signer.key");
    round_trip("file", key.to_str().unwrap(), &[]);
}

#[test]
fn kms_key_signs_and_attests_in_the_registry() {
    let Ok(moto) = std::env::var("KILN_TEST_MOTO") else {
        assert!(
            !kiln_testutil::services_required(),
            "KILN_TEST_MOTO is required (KILN_REQUIRE_SERVICES=1)"
        );
        eprintln!("skipping: KILN_TEST_MOTO is missing");
        return;
    };
    // Create the key with moto's JSON API directly (the SDK is not a dev-dependency here).
    let out = Command::new("curl")
        .args(["-sf", "-X", "POST", &moto])
        .args(["-H", "Content-Type: application/x-amz-json-1.1"])
        .args(["-H", "X-Amz-Target: TrentService.CreateKey"])
        .args([
            "-H",
            "Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0",
        ])
        .args(["-d", r#"{"KeySpec":"ECC_NIST_P256","KeyUsage":"SIGN_VERIFY"}"#])
        .output()
        .unwrap();
    assert!(out.status.success(), "moto CreateKey: {}", text(&out));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = created["KeyMetadata"]["KeyId"].as_str().unwrap();
    let env = [
        ("AWS_ENDPOINT_URL", moto.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    round_trip("kms", &format!("awskms:///{id}"), &env);
}

#[test]
fn hsm_key_signs_and_attests_in_the_registry() {
    let (Ok(uri), Ok(conf)) = (
        std::env::var("KILN_TEST_PKCS11_URI"),
        std::env::var("SOFTHSM2_CONF"),
    ) else {
        assert!(
            !kiln_testutil::services_required(),
            "KILN_TEST_PKCS11_URI is required (KILN_REQUIRE_SERVICES=1)"
        );
        eprintln!("skipping: KILN_TEST_PKCS11_URI is missing");
        return;
    };
    round_trip("hsm", &uri, &[("SOFTHSM2_CONF", &conf)]);
}
