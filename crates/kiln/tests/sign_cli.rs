//! End-to-end tests of `kiln key`, `kiln sign`, `kiln attest` and `kiln verify` on an
//! image in an OCI layout.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kiln_oci::manifest::{Descriptor, ImageManifest};
use kiln_oci::{ImageStore, Manifest, OciLayout, media_type};

const PASSWORD: &str = "s3cret-Pa55word";

fn kiln(dir: &Path, args: &[&str], password: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
    c.current_dir(dir)
        .args(args)
        .env_remove("KILN_PASSWORD")
        .env_remove("COSIGN_PASSWORD");
    if let Some(p) = password {
        c.env("KILN_PASSWORD", p);
    }
    let out = c.output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(PASSWORD), "the password leaked: {all}");
    out
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A one-layer image tagged v1 in a new layout; returns the `oci:` reference.
fn image(dir: &Path) -> (String, Manifest) {
    let path = dir.join("layout");
    let store = OciLayout::create(&path).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let m = rt.block_on(async {
        let layer = b"layer".to_vec();
        let ld = Descriptor::of(media_type::OCI_LAYER_TAR, &layer);
        let config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
                .to_vec();
        let cd = Descriptor::of(media_type::OCI_CONFIG, &config);
        store.push_blob(&ld.digest, &layer).await.unwrap();
        store.push_blob(&cd.digest, &config).await.unwrap();
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
        m
    });
    (format!("oci:{}:v1", path.display()), m)
}

fn generate(dir: &Path, prefix: &str) -> (PathBuf, PathBuf) {
    let out = kiln(
        dir,
        &["key", "generate", "--output-key-prefix", prefix],
        Some(PASSWORD),
    );
    assert!(out.status.success(), "{}", text(&out));
    (
        dir.join(format!("{prefix}.key")),
        dir.join(format!("{prefix}.pub")),
    )
}

#[test]
fn generate_sign_verify_and_reject() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (key, public) = generate(dir, "k");
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"));
    assert!(
        std::fs::read_to_string(&public)
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // No overwrite without --force.
    let out = kiln(
        dir,
        &["key", "generate", "--output-key-prefix", "k"],
        Some(PASSWORD),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("exists"), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&key).unwrap(), pem);

    let (img, m) = image(dir);
    // No signatures yet: verification fails.
    let out = kiln(dir, &["verify", "--key", "k.pub", &img], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no signatures"), "{}", text(&out));

    // Wrong password, no password.
    let out = kiln(dir, &["sign", "--key", "k.key", &img], Some("wrong"));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("wrong password"), "{}", text(&out));
    let out = kiln(dir, &["sign", "--key", "k.key", &img], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("password"), "{}", text(&out));

    let out = kiln(
        dir,
        &["sign", "--key", "k.key", &img, "--format", "json"],
        Some(PASSWORD),
    );
    assert!(out.status.success(), "{}", text(&out));
    let stored: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stored["tag"], format!("sha256-{}.sig", m.digest.hex()));

    let out = kiln(
        dir,
        &["verify", "--key", "k.pub", &img, "--format", "json"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["signatures"][0]["image"], m.digest.to_string());

    // The private key verifies too (with its password); another key does not.
    let out = kiln(dir, &["verify", "--key", "k.key", &img], Some(PASSWORD));
    assert!(out.status.success(), "{}", text(&out));
    let _ = generate(dir, "other");
    let out = kiln(
        dir,
        &["verify", "--key", "other.pub", &img, "--format", "json"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], false);
    assert!(
        v["reason"].as_str().unwrap().contains("does not match"),
        "{v}"
    );

    // Bundle format, then public-key.
    let out = kiln(
        dir,
        &["sign", "--key", "k.key", "--bundle", &img],
        Some(PASSWORD),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = kiln(
        dir,
        &["verify", "--key", "k.pub", &img, "--format", "json"],
        None,
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signatures"].as_array().unwrap().len(), 2, "{v}");
    let out = kiln(
        dir,
        &["key", "public-key", "--key", "k.key"],
        Some(PASSWORD),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        std::fs::read_to_string(&public).unwrap()
    );

    // Unsupported backends say so.
    let out = kiln(dir, &["sign", "--key", "gcpkms://projects/x", &img], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("not supported in this build"),
        "{}",
        text(&out)
    );
}

#[test]
fn attest_and_verify_attestations() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    generate(dir, "k");
    let (img, _) = image(dir);
    std::fs::write(
        dir.join("sbom.json"),
        br#"{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"x"}"#,
    )
    .unwrap();
    std::fs::write(dir.join("bad.json"), br#"{"hello":"world"}"#).unwrap();
    let out = kiln(
        dir,
        &[
            "attest",
            "--key",
            "k.key",
            "--type",
            "sbom",
            "--predicate",
            "sbom.json",
            &img,
        ],
        Some(PASSWORD),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = kiln(
        dir,
        &[
            "attest",
            "--key",
            "k.key",
            "--type",
            "slsaprovenance",
            "--predicate",
            "bad.json",
            &img,
        ],
        Some(PASSWORD),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("buildDefinition"), "{}", text(&out));
    let out = kiln(
        dir,
        &[
            "verify",
            "--key",
            "k.pub",
            "--attestation",
            "sbom",
            &img,
            "--format",
            "json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["attestations"][0]["predicate_type"],
        "https://spdx.dev/Document"
    );
    let out = kiln(
        dir,
        &["verify", "--key", "k.pub", "--attestation", "vuln", &img],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("no attestations of type"),
        "{}",
        text(&out)
    );
}

#[test]
fn import_follows_cosign() {
    let Some(vectors) = kiln_testutil::shared_vectors("cosign/keys/cosign") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let src = vectors.join("validecp256.pem");
    let out = kiln(
        dir,
        &[
            "key",
            "import",
            src.to_str().unwrap(),
            "--output-key-prefix",
            "imp",
        ],
        Some(PASSWORD),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        std::fs::read_to_string(dir.join("imp.key"))
            .unwrap()
            .contains("ENCRYPTED SIGSTORE PRIVATE KEY")
    );
    let bad = vectors.join("invalidecp224.pem");
    let out = kiln(
        dir,
        &[
            "key",
            "import",
            bad.to_str().unwrap(),
            "--output-key-prefix",
            "bad",
        ],
        Some(PASSWORD),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("P-224 not allowed"), "{}", text(&out));
    assert!(!dir.join("bad.key").exists() && !dir.join("bad.pub").exists());
}

#[test]
fn sign_attest_verify_in_the_registry() {
    let Some(registry) = kiln_testutil::registry() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    generate(dir, "k");
    let (_, m) = image(dir);
    let src = OciLayout::open(dir.join("layout")).unwrap();
    let reference = format!("{registry}/kiln-sign-cli/{}:v1", std::process::id());
    let r = kiln_oci::ImageRef::parse(&reference).unwrap();
    let dst = kiln_oci::open::open_store(&r, &Default::default()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(kiln_oci::store::copy_image(&src, "v1", &*dst, Some("v1")))
        .unwrap();
    let by_digest = format!("{}@{}", r.location(), m.digest);
    for args in [
        vec!["sign", "--key", "k.key", &reference],
        vec!["sign", "--key", "k.key", "--bundle", &by_digest],
    ] {
        let out = kiln(dir, &args, Some(PASSWORD));
        assert!(out.status.success(), "{}", text(&out));
    }
    std::fs::write(
        dir.join("vex.json"),
        br#"{"@context":"https://openvex.dev/ns/v0.2.0","statements":[]}"#,
    )
    .unwrap();
    let out = kiln(
        dir,
        &[
            "attest",
            "--key",
            "k.key",
            "--type",
            "openvex",
            "--predicate",
            "vex.json",
            &reference,
        ],
        Some(PASSWORD),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = kiln(
        dir,
        &["verify", "--key", "k.pub", &reference, "--format", "json"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signatures"].as_array().unwrap().len(), 2, "{v}");
    let out = kiln(
        dir,
        &[
            "verify",
            "--key",
            "k.pub",
            "--attestation",
            "openvex",
            &by_digest,
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn notation_sign_and_trust_policy() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    generate(dir, "k");
    let (img, _) = image(dir);
    let out = kiln(
        dir,
        &["key", "cert", "--key", "k.key", "--output-prefix", "n"],
        Some(PASSWORD),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = kiln(
        dir,
        &[
            "sign",
            "--key",
            "k.key",
            "--signature-format",
            "notation",
            "--cert-chain",
            "n.chain.pem",
            &img,
        ],
        Some(PASSWORD),
    );
    assert!(out.status.success(), "{}", text(&out));
    std::fs::create_dir_all(dir.join("ts/x509/ca/kiln")).unwrap();
    std::fs::copy(dir.join("n.ca.pem"), dir.join("ts/x509/ca/kiln/ca.pem")).unwrap();
    let policy = |identity: &str| {
        format!(
            r#"{{"version":"1.0","trustPolicies":[{{"name":"p","registryScopes":["*"],"signatureVerification":{{"level":"strict"}},"trustStores":["ca:kiln"],"trustedIdentities":["{identity}"]}}]}}"#
        )
    };
    std::fs::write(
        dir.join("ok.json"),
        policy("x509.subject: CN=Kiln Signer,O=Kiln,ST=WA,C=US"),
    )
    .unwrap();
    std::fs::write(
        dir.join("other.json"),
        policy("x509.subject: CN=Someone Else,O=Kiln,ST=WA,C=US"),
    )
    .unwrap();
    let out = kiln(
        dir,
        &[
            "verify",
            "--trust-policy",
            "ok.json",
            "--trust-store",
            "ts",
            &img,
            "--format",
            "json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], true, "{v}");
    let out = kiln(
        dir,
        &[
            "verify",
            "--trust-policy",
            "other.json",
            "--trust-store",
            "ts",
            &img,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}
