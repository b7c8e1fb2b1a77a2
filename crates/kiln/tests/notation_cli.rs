//! End-to-end tests of Notation through the CLI: `kiln key cert` makes a CA and a
//! code-signing certificate for a key, `kiln sign --signature-format notation` signs an
//! image in an OCI layout, `kiln verify --trust-policy --trust-store` verifies it and
//! rejects it under a policy naming another identity. With SoftHSM2 and moto present
//! (scripts/test), the same is done with a PKCS#11 key and an AWS KMS key.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kiln_oci::manifest::{Descriptor, ImageManifest};
use kiln_oci::{Manifest, OciLayout, media_type};

const PASSWORD: &str = "n0tation-Pa55word";

mod support;
use support::text;

fn kiln(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    support::kiln_with_password(dir, args, env, PASSWORD)
}

/// An image tagged v1 in a new layout; returns the `oci:` reference.
fn image(dir: &Path) -> String {
    let path = dir.join("layout");
    let store = OciLayout::create(&path).unwrap();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = Descriptor::of(media_type::OCI_CONFIG, config);
    store.write_blob(&cd.digest, config).unwrap();
    let m = Manifest::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.into()),
        artifact_type: None,
        config: cd,
        layers: vec![],
        subject: None,
        annotations: None,
    });
    store.put_manifest(&m, Some("v1")).unwrap();
    format!("oci:{}:v1", path.display())
}

/// Writes a trust store with `ca` as `ca:kiln` and a global strict policy trusting
/// `identity`; returns (policy file, trust store dir).
fn trust(dir: &Path, ca: &Path, identity: &str, name: &str) -> (PathBuf, PathBuf) {
    let store = dir.join(format!("truststore-{name}"));
    std::fs::create_dir_all(store.join("x509/ca/kiln")).unwrap();
    std::fs::copy(ca, store.join("x509/ca/kiln/ca.pem")).unwrap();
    let policy = dir.join(format!("trustpolicy-{name}.json"));
    std::fs::write(
        &policy,
        serde_json::json!({
            "version": "1.0",
            "trustPolicies": [{
                "name": "kiln-images",
                "registryScopes": ["*"],
                "signatureVerification": {"level": "strict"},
                "trustStores": ["ca:kiln"],
                "trustedIdentities": [identity],
            }]
        })
        .to_string(),
    )
    .unwrap();
    (policy, store)
}

/// `kiln key cert` for `key`, then sign and verify under the right and a wrong identity.
fn round_trip(dir: &Path, key: &str, env: &[(&str, &str)]) {
    let img = image(dir);
    let out = kiln(
        dir,
        &[
            "key",
            "cert",
            "--key",
            key,
            "--subject",
            "CN=Release,O=Example,ST=WA,C=US",
            "--output-prefix",
            "release",
        ],
        env,
    );
    assert!(out.status.success(), "{}", text(&out));
    let chain = dir.join("release.chain.pem");
    let ca = dir.join("release.ca.pem");
    assert!(chain.is_file() && ca.is_file(), "{}", text(&out));

    let out = kiln(
        dir,
        &[
            "sign",
            "--key",
            key,
            "--signature-format",
            "notation",
            "--cert-chain",
            chain.to_str().unwrap(),
            "--format",
            "json",
            &img,
        ],
        env,
    );
    assert!(out.status.success(), "{}", text(&out));
    let stored: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stored["format"], "notation");

    let (policy, store) = trust(
        dir,
        &ca,
        "x509.subject: C=US, ST=WA, O=Example, CN=Release",
        "ok",
    );
    let out = kiln(
        dir,
        &[
            "verify",
            "--trust-policy",
            policy.to_str().unwrap(),
            "--trust-store",
            store.to_str().unwrap(),
            "--format",
            "json",
            &img,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["verified"], true, "{doc}");
    assert!(
        doc["signer"].as_str().unwrap().contains("CN=Release"),
        "{doc}"
    );

    let (policy, store) = trust(
        dir,
        &ca,
        "x509.subject: C=US, ST=WA, O=Someone Else",
        "other",
    );
    let out = kiln(
        dir,
        &[
            "verify",
            "--trust-policy",
            policy.to_str().unwrap(),
            "--trust-store",
            store.to_str().unwrap(),
            &img,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("not a trusted identity"),
        "{}",
        text(&out)
    );
}

#[test]
fn notation_with_a_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = kiln(
        dir.path(),
        &["key", "generate", "--output-key-prefix", "signer"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    round_trip(dir.path(), "signer.key", &[]);
}

#[test]
fn notation_bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    let out = kiln(
        dir.path(),
        &["key", "generate", "--output-key-prefix", "k"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    std::fs::write(dir.path().join("junk.pem"), "not a certificate").unwrap();
    let out = kiln(
        dir.path(),
        &[
            "sign",
            "--key",
            "k.key",
            "--signature-format",
            "notation",
            "--cert-chain",
            "junk.pem",
            &img,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("junk.pem"), "{}", text(&out));

    // Verifying an unsigned image fails closed.
    let ca_dir = tempfile::tempdir().unwrap();
    let out = kiln(
        dir.path(),
        &["key", "cert", "--key", "k.key", "--output-prefix", "c"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let (policy, store) = trust(ca_dir.path(), &dir.path().join("c.ca.pem"), "*", "any");
    let out = kiln(
        dir.path(),
        &[
            "verify",
            "--trust-policy",
            policy.to_str().unwrap(),
            "--trust-store",
            store.to_str().unwrap(),
            &img,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("no Notation signature"),
        "{}",
        text(&out)
    );
}

#[test]
fn notation_with_an_hsm_key() {
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
    let dir = tempfile::tempdir().unwrap();
    round_trip(dir.path(), &uri, &[("SOFTHSM2_CONF", &conf)]);
}

#[test]
fn notation_with_a_kms_key() {
    let Ok(moto) = std::env::var("KILN_TEST_MOTO") else {
        assert!(
            !kiln_testutil::services_required(),
            "KILN_TEST_MOTO is required (KILN_REQUIRE_SERVICES=1)"
        );
        eprintln!("skipping: KILN_TEST_MOTO is missing");
        return;
    };
    // Create the key with moto's JSON API directly (the SDK is not a dev-dependency here).
    let dir = tempfile::tempdir().unwrap();
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
    let id = created["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let env = [
        ("AWS_ENDPOINT_URL", moto.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    round_trip(dir.path(), &format!("awskms:///{id}"), &env);
}
