//! Notation signatures end to end on an OCI layout: sign with a generated CA chain and
//! verify under a trust policy and trust store; reject another identity, another CA, a
//! signature moved to another image, and tampered envelopes; the envelope and chain are
//! also checked independently with Python's `cryptography` (JWS ES256 over the signing
//! input, chain signatures) and openssl (`openssl verify` of the chain).

mod notation_support;

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kiln_oci::manifest::{Descriptor, ImageManifest};
use kiln_oci::{ImageStore, Manifest, OciLayout, media_type};
use kiln_sign::notation::{self, CertRequest, Verification, cert::EphemeralKey, envelope};
use notation_support::{policy, test_image, trust_store};

struct Fixture {
    dir: tempfile::TempDir,
    layout: OciLayout,
    image: Descriptor,
    chain: notation::CertChain,
    signature: notation::NotationSignature,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path().join("layout")).unwrap();
    let image = test_image(&layout, "v1", "linux").await;
    let ca = EphemeralKey::generate();
    let leaf = EphemeralKey::generate();
    let request = CertRequest {
        ca_subject: "CN=Example CA,O=Example,ST=WA,C=US".into(),
        leaf_subject: "CN=Release Builder,OU=Build,O=Example,ST=WA,C=US".into(),
        ..CertRequest::default()
    };
    let chain = notation::make_chain(&leaf, &ca, &request).await.unwrap();
    let signature = notation::sign_image(&layout, &image, &leaf, &chain.x5c(), None)
        .await
        .unwrap();
    Fixture {
        dir,
        layout,
        image,
        chain,
        signature,
    }
}

const IDENTITY: &str = "x509.subject: C=US, ST=WA, O=Example, OU=Build, CN=Release Builder";

#[tokio::test]
async fn signature_manifest_is_a_notation_referrer() {
    let f = fixture().await;
    let referrers = f
        .layout
        .referrers(&f.image.digest, Some(notation::ARTIFACT_TYPE))
        .await
        .unwrap();
    assert_eq!(referrers.len(), 1);
    assert_eq!(referrers[0].digest, f.signature.manifest.digest);
    let m = f.layout.fetch_manifest(&referrers[0].digest).await.unwrap();
    let m = m.as_image().unwrap();
    assert_eq!(m.artifact_type.as_deref(), Some(notation::ARTIFACT_TYPE));
    assert_eq!(m.config.media_type, media_type::OCI_EMPTY);
    assert_eq!(m.config.digest.to_string(), media_type::EMPTY_JSON_DIGEST);
    assert_eq!(m.layers.len(), 1);
    assert_eq!(m.layers[0].media_type, "application/jose+json");
    assert_eq!(m.subject.as_ref().unwrap().digest, f.image.digest);
    let annotations = m.annotations.as_ref().unwrap();
    let thumbs: Vec<String> =
        serde_json::from_str(&annotations[notation::THUMBPRINT_ANNOTATION]).unwrap();
    let want: Vec<String> = f
        .chain
        .x5c()
        .iter()
        .map(|c| kiln_oci::Digest::sha256(c).hex().to_string())
        .collect();
    assert_eq!(thumbs, want);
    assert!(annotations.contains_key("org.opencontainers.image.created"));

    // The envelope's protected header carries what the Notary Project requires.
    let env: serde_json::Value =
        serde_json::from_slice(&f.layout.fetch_blob(&m.layers[0]).await.unwrap()).unwrap();
    let protected: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(env["protected"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(protected["alg"], "ES256");
    assert_eq!(protected["cty"], notation::PAYLOAD_CONTENT_TYPE);
    assert_eq!(protected["io.cncf.notary.signingScheme"], "notary.x509");
    assert_eq!(
        protected["crit"],
        serde_json::json!(["io.cncf.notary.signingScheme"])
    );
    assert!(protected["io.cncf.notary.signingTime"].is_string());
    let payload: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(env["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        payload["targetArtifact"]["digest"],
        f.image.digest.to_string()
    );
    assert_eq!(payload["targetArtifact"]["size"], f.image.size);
    assert_eq!(env["header"]["x5c"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn verifies_under_policy_and_rejects_other_identity_and_ca() {
    let f = fixture().await;
    let store = trust_store(f.dir.path(), "example", &f.chain.ca_der);
    match notation::verify_image(
        &f.layout,
        &f.image,
        "reg/app",
        &policy("example", IDENTITY),
        &store,
    )
    .await
    .unwrap()
    {
        Verification::Verified(v) => {
            assert_eq!(v.signature_digest, f.signature.manifest.digest);
            assert!(v.signer_subject.contains("CN=Release Builder"));
        }
        other => panic!("{other:?}"),
    }
    // A partial subject (C, ST, O) also matches.
    let partial = policy("example", "x509.subject: C=US, ST=WA, O=Example");
    assert!(
        notation::verify_image(&f.layout, &f.image, "reg/app", &partial, &store)
            .await
            .is_ok()
    );

    // Another identity.
    let other = policy(
        "example",
        "x509.subject: C=US, ST=WA, O=Example, CN=Someone Else",
    );
    let e = notation::verify_image(&f.layout, &f.image, "reg/app", &other, &store)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a trusted identity"), "{e}");

    // Another CA in the trust store.
    let stranger = notation::make_chain(
        &EphemeralKey::generate(),
        &EphemeralKey::generate(),
        &CertRequest::default(),
    )
    .await
    .unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let other_store = trust_store(other_dir.path(), "example", &stranger.ca_der);
    let e = notation::verify_image(
        &f.layout,
        &f.image,
        "reg/app",
        &policy("example", IDENTITY),
        &other_store,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("leads to no certificate in trust stores ca:example"),
        "{e}"
    );

    // A policy for other repositories only: no policy applies.
    let scoped = notation::TrustPolicyDocument::parse(
        br#"{"version":"1.0","trustPolicies":[{"name":"only","registryScopes":["reg/other"],
        "signatureVerification":{"level":"strict"},"trustStores":["ca:example"],"trustedIdentities":["*"]}]}"#,
        "p",
    )
    .unwrap();
    let e = notation::verify_image(&f.layout, &f.image, "reg/app", &scoped, &store)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("no trust policy applies to reg/app"), "{e}");

    // Audit level: a wrong identity is only logged.
    let audit = notation::TrustPolicyDocument::parse(
        br#"{"version":"1.0","trustPolicies":[{"name":"audit","registryScopes":["*"],
        "signatureVerification":{"level":"audit"},"trustStores":["ca:example"],
        "trustedIdentities":["x509.subject: C=US, ST=WA, O=Nobody"]}]}"#,
        "p",
    )
    .unwrap();
    match notation::verify_image(&f.layout, &f.image, "reg/app", &audit, &store)
        .await
        .unwrap()
    {
        Verification::Verified(v) => {
            assert_eq!(v.logged.len(), 1, "{:?}", v.logged);
            assert!(v.logged[0].contains("not a trusted identity"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn unsigned_image_and_moved_signature_fail() {
    let f = fixture().await;
    let store = trust_store(f.dir.path(), "example", &f.chain.ca_der);
    let pol = policy("example", IDENTITY);
    let other = test_image(&f.layout, "v2", "freebsd").await;
    let e = notation::verify_image(&f.layout, &other, "reg/app", &pol, &store)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("has no Notation signature"), "{e}");

    // Attach image A's envelope to image B: the payload names A, so B fails.
    let sig = f
        .layout
        .fetch_manifest(&f.signature.manifest.digest)
        .await
        .unwrap();
    let mut moved: ImageManifest = sig.as_image().unwrap().clone();
    moved.subject = Some(other.clone());
    f.layout
        .push_manifest(&Manifest::from_image(&moved), None)
        .await
        .unwrap();
    let e = notation::verify_image(&f.layout, &other, "reg/app", &pol, &store)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not this image"), "{e}");
}

#[tokio::test]
async fn tampered_envelopes_are_rejected() {
    let f = fixture().await;
    let bytes = f.layout.fetch_blob(&f.signature.envelope).await.unwrap();
    assert!(envelope::verify(&bytes).is_ok());
    let env: serde_json::Value = serde_json::from_slice(&bytes).unwrap();

    let mutate = |field: &str, value: serde_json::Value| {
        let mut e = env.clone();
        e[field] = value;
        serde_json::to_vec(&e).unwrap()
    };
    // Changed payload (another digest).
    let payload = URL_SAFE_NO_PAD.encode(
        serde_json::json!({"targetArtifact": {
            "mediaType": media_type::OCI_MANIFEST,
            "digest": format!("sha256:{}", "0".repeat(64)),
            "size": 1}})
        .to_string(),
    );
    let err = envelope::verify(&mutate("payload", payload.into()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not verify"), "{err}");
    // Swapped signature (another valid-looking r||s).
    let sig = URL_SAFE_NO_PAD.encode([7u8; 64]);
    let err = envelope::verify(&mutate("signature", sig.into()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not verify"), "{err}");
    // A protected header without crit.
    let header = URL_SAFE_NO_PAD.encode(
        serde_json::json!({"alg": "ES256", "cty": notation::PAYLOAD_CONTENT_TYPE,
            "io.cncf.notary.signingScheme": "notary.x509",
            "io.cncf.notary.signingTime": "2026-01-01T00:00:00Z"})
        .to_string(),
    );
    let err = envelope::verify(&mutate("protected", header.into()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("crit"), "{err}");
    // Another signer's certificate in x5c.
    let other = notation::make_chain(
        &EphemeralKey::generate(),
        &EphemeralKey::generate(),
        &CertRequest::default(),
    )
    .await
    .unwrap();
    let x5c: Vec<String> = other
        .x5c()
        .iter()
        .map(|c| base64::engine::general_purpose::STANDARD.encode(c))
        .collect();
    let mut e = env.clone();
    e["header"]["x5c"] = serde_json::json!(x5c);
    let err = envelope::verify(&serde_json::to_vec(&e).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not verify"), "{err}");
    // Garbage.
    assert!(envelope::verify(b"{not json").is_err());
    assert!(envelope::verify(b"{}").is_err());
}

#[tokio::test]
async fn signing_with_a_certificate_for_another_key_fails() {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path().join("layout")).unwrap();
    let image = test_image(&layout, "v1", "linux").await;
    let chain = notation::make_chain(
        &EphemeralKey::generate(),
        &EphemeralKey::generate(),
        &CertRequest::default(),
    )
    .await
    .unwrap();
    let e = notation::sign_image(
        &layout,
        &image,
        &EphemeralKey::generate(),
        &chain.x5c(),
        None,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("is not for the key"), "{e}");
    assert!(
        layout
            .referrers(&image.digest, None)
            .await
            .unwrap()
            .is_empty(),
        "nothing pushed"
    );
}

#[tokio::test]
async fn notation_in_a_registry() {
    let Some(registry) = kiln_testutil::registry() else {
        return;
    };
    // A fresh image per run: the registry keeps what earlier runs pushed.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let reference =
        kiln_oci::ImageRef::parse(&format!("{registry}/kiln-test/notation:v1")).unwrap();
    let store =
        kiln_oci::open::open_store(&reference, &kiln_oci::registry::RegistryOptions::default())
            .unwrap();
    let image = test_image(&*store, "v1", &format!("linux-{nanos}")).await;
    let ca = EphemeralKey::generate();
    let leaf = EphemeralKey::generate();
    let request = CertRequest {
        leaf_subject: "CN=Release Builder,OU=Build,O=Example,ST=WA,C=US".into(),
        ..CertRequest::default()
    };
    let chain = notation::make_chain(&leaf, &ca, &request).await.unwrap();
    let signature = notation::sign_image(&*store, &image, &leaf, &chain.x5c(), None)
        .await
        .unwrap();
    // The registry (no referrers API) lists the signature through the referrers tag.
    let referrers = store
        .referrers(&image.digest, Some(notation::ARTIFACT_TYPE))
        .await
        .unwrap();
    assert!(
        referrers
            .iter()
            .any(|r| r.digest == signature.manifest.digest)
    );
    let dir = tempfile::tempdir().unwrap();
    let trust = trust_store(dir.path(), "example", &chain.ca_der);
    let scope = reference.location();
    match notation::verify_image(
        &*store,
        &image,
        &scope,
        &policy("example", IDENTITY),
        &trust,
    )
    .await
    .unwrap()
    {
        Verification::Verified(v) => assert_eq!(v.signature_digest, signature.manifest.digest),
        other => panic!("{other:?}"),
    }
    let other = policy(
        "example",
        "x509.subject: C=US, ST=WA, O=Example, CN=Someone Else",
    );
    assert!(
        notation::verify_image(&*store, &image, &scope, &other, &trust)
            .await
            .is_err()
    );
}

const PY_CHECK: &str = r#"
import base64, json, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
def b64u(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
env = json.load(open(sys.argv[1]))
certs = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in env["header"]["x5c"]]
leaf, ca = certs
sig = b64u(env["signature"])
der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
leaf.public_key().verify(der, (env["protected"] + "." + env["payload"]).encode(), ec.ECDSA(hashes.SHA256()))
leaf.verify_directly_issued_by(ca)
ca.verify_directly_issued_by(ca)
eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
assert x509.oid.ExtendedKeyUsageOID.CODE_SIGNING in eku
ku = leaf.extensions.get_extension_for_class(x509.KeyUsage)
assert ku.critical and ku.value.digital_signature
bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
assert bc.critical and bc.value.ca
print(json.loads(b64u(env["payload"]))["targetArtifact"]["digest"])
"#;

#[tokio::test]
async fn independent_checks_of_envelope_and_chain() {
    let f = fixture().await;
    let env_path = f.dir.path().join("envelope.json");
    std::fs::write(
        &env_path,
        f.layout.fetch_blob(&f.signature.envelope).await.unwrap(),
    )
    .unwrap();
    if let Some(openssl) = kiln_testutil::program("openssl") {
        let ca = f.dir.path().join("ca.pem");
        let leaf = f.dir.path().join("leaf.pem");
        std::fs::write(&ca, notation::cert::to_pem(&f.chain.ca_der)).unwrap();
        std::fs::write(&leaf, notation::cert::to_pem(&f.chain.leaf_der)).unwrap();
        let out = Command::new(openssl)
            .arg("verify")
            .arg("-CAfile")
            .arg(&ca)
            .arg(&leaf)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl verify: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let Some(python) = kiln_testutil::python() else {
        return;
    };
    let out = Command::new(python)
        .arg("-c")
        .arg(PY_CHECK)
        .arg(&env_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python check: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        f.image.digest.to_string()
    );
}
