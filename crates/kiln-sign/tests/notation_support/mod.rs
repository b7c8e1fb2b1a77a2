//! Helpers shared by the KMS, PKCS#11 and Notation tests: a small image in an OCI layout,
//! a trust store and policy for a generated chain, and an openssl signature check.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use kiln_oci::manifest::{Descriptor, ImageManifest};
use kiln_oci::{ImageStore, Manifest, OciLayout, media_type};
use kiln_sign::notation::{self, CertChain, TrustPolicyDocument, TrustStore};

/// Pushes a one-config, no-layer image tagged `tag` and returns its manifest descriptor.
pub async fn test_image(layout: &dyn ImageStore, tag: &str, os: &str) -> Descriptor {
    let config = format!(
        r#"{{"architecture":"amd64","os":"{os}","rootfs":{{"type":"layers","diff_ids":[]}}}}"#
    );
    let config_desc = Descriptor::of(media_type::OCI_CONFIG, config.as_bytes());
    layout
        .push_blob(&config_desc.digest, config.as_bytes())
        .await
        .unwrap();
    let m = Manifest::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.into()),
        artifact_type: None,
        config: config_desc,
        layers: vec![],
        subject: None,
        annotations: None,
    });
    layout.push_manifest(&m, Some(tag)).await.unwrap();
    Descriptor::new(&m.media_type, m.digest.clone(), m.bytes.len() as u64)
}

/// Writes `ca` as trust store `ca:NAME` under `dir/truststore` and opens it.
pub fn trust_store(dir: &Path, name: &str, ca_der: &[u8]) -> TrustStore {
    let store_dir = dir.join("truststore/x509/ca").join(name);
    std::fs::create_dir_all(&store_dir).unwrap();
    std::fs::write(store_dir.join("ca.pem"), notation::cert::to_pem(ca_der)).unwrap();
    TrustStore::open(dir).unwrap()
}

/// A global strict policy trusting `identity` from trust store `ca:STORE`.
pub fn policy(store: &str, identity: &str) -> TrustPolicyDocument {
    let doc = serde_json::json!({
        "version": "1.0",
        "trustPolicies": [{
            "name": "test",
            "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": [format!("ca:{store}")],
            "trustedIdentities": [identity],
        }]
    });
    TrustPolicyDocument::parse(doc.to_string().as_bytes(), "test policy").unwrap()
}

/// Signs `image` with `signer` and verifies it under a strict policy for the default leaf
/// subject of [`notation::CertRequest`].
pub async fn notation_round_trip(signer: &dyn kiln_sign::Signer) {
    let ca = notation::cert::EphemeralKey::generate();
    let chain: CertChain = notation::make_chain(signer, &ca, &notation::CertRequest::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path().join("layout")).unwrap();
    let image = test_image(&layout, "v1", "linux").await;
    notation::sign_image(&layout, &image, signer, &chain.x5c(), None)
        .await
        .unwrap();
    let store = trust_store(dir.path(), "kiln", &chain.ca_der);
    let policy = policy("kiln", "x509.subject: C=US, ST=WA, O=Kiln, CN=Kiln Signer");
    match notation::verify_image(&layout, &image, "local/app", &policy, &store)
        .await
        .unwrap()
    {
        notation::Verification::Verified(v) => {
            assert!(v.signer_subject.contains("CN=Kiln Signer"));
            assert!(v.logged.is_empty(), "{:?}", v.logged);
        }
        other => panic!("{other:?}"),
    }
    let other = policy_other();
    let e = notation::verify_image(&layout, &image, "local/app", &other, &store)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a trusted identity"), "{e}");
}

fn policy_other() -> TrustPolicyDocument {
    policy("kiln", "x509.subject: C=US, ST=WA, O=Someone Else")
}

/// openssl verifies `sig` (DER ECDSA) over `message` with the DER SPKI `spki`.
pub fn openssl_verifies(dir: &Path, spki: &[u8], message: &[u8], sig: &[u8], hash: &str) -> bool {
    std::fs::write(dir.join("pub.der"), spki).unwrap();
    std::fs::write(dir.join("msg"), message).unwrap();
    std::fs::write(dir.join("sig"), sig).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", hash, "-verify"])
        .arg(dir.join("pub.der"))
        .args(["-keyform", "DER", "-signature"])
        .arg(dir.join("sig"))
        .arg(dir.join("msg"))
        .output()
        .expect("openssl runs");
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}

/// Signs an image in cosign's format with `signer` and verifies it with the signer's
/// public key through Kiln's cosign verifier (any key backend works the same way).
pub async fn cosign_round_trip(signer: &dyn kiln_sign::Signer) {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path().join("layout")).unwrap();
    let image = test_image(&layout, "v1", "linux").await;
    let manifest = layout.fetch_manifest(&image.digest).await.unwrap();
    kiln_sign::cosign::sign_image(
        &layout,
        &manifest,
        "localhost/app",
        signer,
        kiln_sign::cosign::StorageFormat::Cosign,
    )
    .await
    .unwrap();
    let key = kiln_sign::keys::signer_public_key(signer).unwrap();
    let verified = kiln_sign::verify::verify_signatures(&layout, &manifest, &key)
        .await
        .unwrap();
    assert_eq!(verified.len(), 1);
}
