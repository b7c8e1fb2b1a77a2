//! Signing, attesting and verifying images in an OCI layout (and the test registry), with
//! the shared vectors, tampering cases, and independent verifiers: openssl, Python
//! securesystemslib and in-toto-attestation, and npm @sigstore/verify.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kiln_oci::manifest::{Descriptor, ImageManifest};
use kiln_oci::{Digest, ImageStore, Manifest, ManifestKind, OciLayout, media_type};
use kiln_sign::cosign::{self, StorageFormat, attach};
use kiln_sign::dsse::{Envelope, INTOTO_PAYLOAD_TYPE};
use kiln_sign::intoto::{PredicateKind, Statement};
use kiln_sign::keys::file::FileSigner;
use kiln_sign::keys::{PrivateKey, PublicKey};
use kiln_sign::verify::{self, UnverifiedSignature, VerifyError};
use kiln_sign::{SignatureAlgorithm, Signer};
use serde_json::json;

/// A small image (config + one layer) tagged `tag` in `store`.
async fn make_image(store: &dyn ImageStore, tag: &str, content: &[u8]) -> Manifest {
    let layer = content.to_vec();
    let layer_desc = Descriptor::of(media_type::OCI_LAYER_TAR, &layer);
    let config = serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer_desc.digest.to_string()]}}))
    .unwrap();
    let config_desc = Descriptor::of(media_type::OCI_CONFIG, &config);
    store.push_blob(&layer_desc.digest, &layer).await.unwrap();
    store.push_blob(&config_desc.digest, &config).await.unwrap();
    let m = Manifest::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.into()),
        artifact_type: None,
        config: config_desc,
        layers: vec![layer_desc],
        subject: None,
        annotations: None,
    });
    store.push_manifest(&m, Some(tag)).await.unwrap();
    m
}

fn signer(alg: SignatureAlgorithm) -> FileSigner {
    FileSigner::new(PrivateKey::generate(alg).unwrap(), "test.key")
}

fn public(s: &FileSigner) -> PublicKey {
    s.key().public_key()
}

fn layout() -> (tempfile::TempDir, OciLayout) {
    let dir = tempfile::tempdir().unwrap();
    let l = OciLayout::create(dir.path().join("lay")).unwrap();
    (dir, l)
}

fn reasons(e: VerifyError) -> String {
    e.to_string()
}

#[test]
fn cosign_vector_verifies_with_its_key_only() {
    let Some(dir) = kiln_testutil::shared_vectors("cosign") else {
        return;
    };
    let v: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("cosign-simple-signing-vector.json")).unwrap(),
    )
    .unwrap();
    let manifest_bytes = STANDARD
        .decode(v["image_manifest_b64"].as_str().unwrap())
        .unwrap();
    let image = Manifest::parse(manifest_bytes, None, "vector manifest").unwrap();
    assert_eq!(
        image.digest.to_string(),
        v["image_manifest_digest"].as_str().unwrap()
    );
    let sig = UnverifiedSignature {
        source: "vector".into(),
        format: verify::Format::Cosign,
        payload: STANDARD.decode(v["payload_b64"].as_str().unwrap()).unwrap(),
        signature: STANDARD
            .decode(v["signature_b64"].as_str().unwrap())
            .unwrap(),
        message_digest: None,
    };
    let good = PublicKey::from_pem(v["public_key_pem"].as_str().unwrap()).unwrap();
    let ok = sig.verify(&good, &image).unwrap();
    assert_eq!(ok.docker_reference(), v["docker_reference"].as_str());
    assert_eq!(ok.image(), &image.digest);
    let wrong = PublicKey::from_pem(v["wrong_public_key_pem"].as_str().unwrap()).unwrap();
    let err = sig.verify(&wrong, &image).unwrap_err();
    assert!(err.contains("does not match"), "{err}");
    // The same signature does not verify for another image.
    let other = Manifest::parse(br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#.to_vec(), None, "other").unwrap();
    let err = sig.verify(&good, &other).unwrap_err();
    assert!(err.contains("not sha256:"), "{err}");
}

#[test]
fn dsse_vector_verifies() {
    let Some(dir) = kiln_testutil::shared_vectors("dsse") else {
        return;
    };
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("dsse-test-vector.json")).unwrap()).unwrap();
    assert_eq!(
        kiln_sign::dsse::pae(
            v["payloadType"].as_str().unwrap(),
            v["payload_utf8"].as_str().unwrap().as_bytes()
        ),
        hex::decode(v["pae_hex"].as_str().unwrap()).unwrap()
    );
    let key =
        PublicKey::from_pem(v["key"]["public_key_pem_derived_by_us"].as_str().unwrap()).unwrap();
    for name in ["envelope_protocol_md", "envelope_signing_spec_py"] {
        let env = Envelope::parse(&serde_json::to_vec(&v[name]).unwrap()).unwrap();
        assert_eq!(
            env.verify(&key, "http://example.com/HelloWorld").unwrap(),
            b"hello world"
        );
        assert!(env.verify(&key, "http://example.com/Other").is_err());
    }
    // The DER form of the signature verifies too; a wrong key does not.
    let mut env =
        Envelope::parse(&serde_json::to_vec(&v["envelope_protocol_md"]).unwrap()).unwrap();
    env.signatures[0].sig = STANDARD
        .decode(v["sig_der_b64_converted_by_us"].as_str().unwrap())
        .unwrap();
    env.verify(&key, "http://example.com/HelloWorld").unwrap();
    let other = PrivateKey::generate(SignatureAlgorithm::EcdsaP256Sha256)
        .unwrap()
        .public_key();
    assert!(env.verify(&other, "http://example.com/HelloWorld").is_err());
    // URL-safe base64 is accepted.
    let mut j = v["envelope_protocol_md"].clone();
    j["signatures"][0]["sig"] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(STANDARD.decode(v["sig_b64"].as_str().unwrap()).unwrap())
        .into();
    Envelope::parse(&serde_json::to_vec(&j).unwrap())
        .unwrap()
        .verify(&key, "http://example.com/HelloWorld")
        .unwrap();
}

#[tokio::test]
async fn sign_appends_and_verifies_for_every_key_type() {
    let (_d, store) = layout();
    let image = make_image(&store, "v1", b"hello").await;
    for alg in [
        SignatureAlgorithm::EcdsaP256Sha256,
        SignatureAlgorithm::EcdsaP384Sha384,
        SignatureAlgorithm::EcdsaP521Sha512,
        SignatureAlgorithm::Ed25519,
    ] {
        let s = signer(alg);
        cosign::sign_image(&store, &image, "oci:lay", &s, StorageFormat::Cosign)
            .await
            .unwrap();
        let ok = verify::verify_signatures(&store, &image, &public(&s))
            .await
            .unwrap();
        assert_eq!(ok.len(), 1, "{alg:?}");
    }
    // Four signatures appended as four layers of one manifest.
    let layers = attach::read_layers(&store, &image.digest, "sig")
        .await
        .unwrap();
    assert_eq!(layers.len(), 4);
    // Signing twice with the same deterministic ed25519 key adds nothing new.
    let s = signer(SignatureAlgorithm::Ed25519);
    cosign::sign_image(&store, &image, "oci:lay", &s, StorageFormat::Cosign)
        .await
        .unwrap();
    cosign::sign_image(&store, &image, "oci:lay", &s, StorageFormat::Cosign)
        .await
        .unwrap();
    assert_eq!(
        attach::read_layers(&store, &image.digest, "sig")
            .await
            .unwrap()
            .len(),
        5
    );
}

#[tokio::test]
async fn failures_have_reasons() {
    let (_d, store) = layout();
    let image = make_image(&store, "v1", b"one").await;
    let other_image = make_image(&store, "v2", b"two").await;
    let s = signer(SignatureAlgorithm::EcdsaP256Sha256);
    let key = public(&s);

    // No signatures at all.
    let e = verify::verify_signatures(&store, &image, &key)
        .await
        .unwrap_err();
    assert!(matches!(e, VerifyError::NoSignatures(_)), "{e}");

    cosign::sign_image(&store, &image, "oci:lay", &s, StorageFormat::Cosign)
        .await
        .unwrap();
    // Wrong key.
    let wrong = public(&signer(SignatureAlgorithm::EcdsaP256Sha256));
    let e = reasons(
        verify::verify_signatures(&store, &image, &wrong)
            .await
            .unwrap_err(),
    );
    assert!(e.contains("does not match"), "{e}");

    let layers = attach::read_layers(&store, &image.digest, "sig")
        .await
        .unwrap();
    let (good_layer, good_payload) = layers[0].clone();
    let good_sig = good_layer
        .annotation(cosign::SIGNATURE_ANNOTATION)
        .unwrap()
        .to_string();

    // Changed image: the signature of image one copied under image two's .sig tag.
    attach::append_layer(
        &store,
        &other_image.digest,
        "sig",
        cosign::SIMPLE_SIGNING_MEDIA_TYPE,
        &good_payload,
        good_layer.annotations.clone().unwrap(),
    )
    .await
    .unwrap();
    let e = reasons(
        verify::verify_signatures(&store, &other_image, &key)
            .await
            .unwrap_err(),
    );
    assert!(e.contains("payload signs image"), "{e}");

    // Changed payload, signature kept.
    let (_d2, store2) = layout();
    let image2 = kiln_oci::store::copy_image(&store, "v1", &store2, Some("v1"))
        .await
        .unwrap();
    let mut changed = String::from_utf8(good_payload.clone()).unwrap();
    changed = changed.replace("oci:lay", "oci:evil");
    attach::append_layer(
        &store2,
        &image2.digest,
        "sig",
        cosign::SIMPLE_SIGNING_MEDIA_TYPE,
        changed.as_bytes(),
        [(cosign::SIGNATURE_ANNOTATION.to_string(), good_sig.clone())].into(),
    )
    .await
    .unwrap();
    let e = reasons(
        verify::verify_signatures(&store2, &image2, &key)
            .await
            .unwrap_err(),
    );
    assert!(e.contains("does not match"), "{e}");

    // Swapped signature: another key's valid signature over the same payload.
    let (_d3, store3) = layout();
    let image3 = kiln_oci::store::copy_image(&store, "v1", &store3, Some("v1"))
        .await
        .unwrap();
    let other_sig = signer(SignatureAlgorithm::EcdsaP256Sha256)
        .sign(&good_payload)
        .await
        .unwrap();
    attach::append_layer(
        &store3,
        &image3.digest,
        "sig",
        cosign::SIMPLE_SIGNING_MEDIA_TYPE,
        &good_payload,
        [(
            cosign::SIGNATURE_ANNOTATION.to_string(),
            STANDARD.encode(other_sig),
        )]
        .into(),
    )
    .await
    .unwrap();
    let e = reasons(
        verify::verify_signatures(&store3, &image3, &key)
            .await
            .unwrap_err(),
    );
    assert!(e.contains("does not match"), "{e}");

    // Garbage annotations and a missing annotation.
    let (_d4, store4) = layout();
    let image4 = kiln_oci::store::copy_image(&store, "v1", &store4, Some("v1"))
        .await
        .unwrap();
    attach::append_layer(
        &store4,
        &image4.digest,
        "sig",
        cosign::SIMPLE_SIGNING_MEDIA_TYPE,
        &good_payload,
        [(
            cosign::SIGNATURE_ANNOTATION.to_string(),
            "%%% not base64 %%%".to_string(),
        )]
        .into(),
    )
    .await
    .unwrap();
    attach::append_layer(
        &store4,
        &image4.digest,
        "sig",
        cosign::SIMPLE_SIGNING_MEDIA_TYPE,
        &good_payload,
        [("something".to_string(), "else".to_string())].into(),
    )
    .await
    .unwrap();
    attach::append_layer(
        &store4,
        &image4.digest,
        "sig",
        cosign::SIMPLE_SIGNING_MEDIA_TYPE,
        &good_payload,
        [(
            cosign::SIGNATURE_ANNOTATION.to_string(),
            STANDARD.encode(b"short"),
        )]
        .into(),
    )
    .await
    .unwrap();
    let e = reasons(
        verify::verify_signatures(&store4, &image4, &key)
            .await
            .unwrap_err(),
    );
    assert!(
        e.contains("not base64")
            && e.contains("no dev.cosignproject.cosign/signature")
            && e.contains("encoding"),
        "{e}"
    );
    // A valid signature next to the garbage still verifies, and only it is returned.
    cosign::sign_image(&store4, &image4, "oci:lay", &s, StorageFormat::Cosign)
        .await
        .unwrap();
    assert_eq!(
        verify::verify_signatures(&store4, &image4, &key)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn bundle_signatures_and_attestations() {
    let (_d, store) = layout();
    let image = make_image(&store, "v1", b"bundle").await;
    let s = signer(SignatureAlgorithm::EcdsaP256Sha256);
    let key = public(&s);
    let stored = cosign::sign_image(&store, &image, "oci:lay", &s, StorageFormat::Bundle)
        .await
        .unwrap();
    assert!(stored.tag.is_none());
    let refs = store
        .referrers(&image.digest, Some(cosign::BUNDLE_MEDIA_TYPE))
        .await
        .unwrap();
    assert_eq!(refs.len(), 1);
    let ok = verify::verify_signatures(&store, &image, &key)
        .await
        .unwrap();
    assert_eq!(ok[0].format(), verify::Format::Bundle);
    let wrong = public(&signer(SignatureAlgorithm::EcdsaP256Sha256));
    assert!(
        verify::verify_signatures(&store, &image, &wrong)
            .await
            .is_err()
    );
    // A bundle referrer of image one does not sign image two, even if listed for it.
    let statement = Statement::new(
        "oci:lay",
        &image.digest,
        &PredicateKind::OpenVex,
        json!({"@context": "https://openvex.dev/ns/v0.2.0", "statements": []}),
    )
    .unwrap();
    cosign::attest_image(&store, &image, &statement, &s, StorageFormat::Bundle)
        .await
        .unwrap();
    let types = PredicateKind::uri_for_filter("openvex").unwrap();
    let a = verify::verify_attestations(&store, &image, &key, types.as_deref())
        .await
        .unwrap();
    assert_eq!(a[0].predicate_type(), "https://openvex.dev/ns");
    assert_eq!(a[0].format(), verify::Format::Bundle);
}

#[tokio::test]
async fn attestations_check_subject_type_and_key() {
    let (_d, store) = layout();
    let image = make_image(&store, "v1", b"att").await;
    let other = make_image(&store, "v2", b"other").await;
    let s = signer(SignatureAlgorithm::EcdsaP256Sha256);
    let key = public(&s);
    let spdx = json!({"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "x"});
    let st = Statement::new("oci:lay", &image.digest, &PredicateKind::Spdx, spdx.clone()).unwrap();
    cosign::attest_image(&store, &image, &st, &s, StorageFormat::Cosign)
        .await
        .unwrap();
    let vuln = json!({"scanner": {"uri": "kiln", "version": "0"}, "invocation": {}});
    let st2 = Statement::new("oci:lay", &image.digest, &PredicateKind::CosignVuln, vuln).unwrap();
    cosign::attest_image(&store, &image, &st2, &s, StorageFormat::Cosign)
        .await
        .unwrap();

    let all = verify::verify_attestations(&store, &image, &key, None)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let sbom = PredicateKind::uri_for_filter("sbom").unwrap();
    let only = verify::verify_attestations(&store, &image, &key, sbom.as_deref())
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].statement().predicate, spdx);
    let slsa = PredicateKind::uri_for_filter("slsaprovenance").unwrap();
    let e = verify::verify_attestations(&store, &image, &key, slsa.as_deref())
        .await
        .unwrap_err();
    assert!(matches!(e, VerifyError::NoAttestations { .. }), "{e}");
    let wrong = public(&signer(SignatureAlgorithm::EcdsaP256Sha256));
    assert!(
        verify::verify_attestations(&store, &image, &wrong, None)
            .await
            .is_err()
    );

    // Attesting a statement about another image is refused; an envelope stored for the
    // wrong image is rejected on verification.
    assert!(
        cosign::attest_image(&store, &other, &st, &s, StorageFormat::Cosign)
            .await
            .is_err()
    );
    let env = Envelope::sign(INTOTO_PAYLOAD_TYPE, st.to_json(), &s)
        .await
        .unwrap();
    attach::append_layer(
        &store,
        &other.digest,
        "att",
        kiln_sign::dsse::ENVELOPE_MEDIA_TYPE,
        &env.to_json(),
        [("predicateType".to_string(), st.predicate_type.clone())].into(),
    )
    .await
    .unwrap();
    let e = reasons(
        verify::verify_attestations(&store, &other, &key, None)
            .await
            .unwrap_err(),
    );
    assert!(e.contains("subject does not name"), "{e}");

    // Wrong payload type.
    let env = Envelope::sign("text/plain", st.to_json(), &s)
        .await
        .unwrap();
    let (_d2, store2) = layout();
    let image2 = kiln_oci::store::copy_image(&store, "v1", &store2, Some("v1"))
        .await
        .unwrap();
    attach::append_layer(
        &store2,
        &image2.digest,
        "att",
        kiln_sign::dsse::ENVELOPE_MEDIA_TYPE,
        &env.to_json(),
        Default::default(),
    )
    .await
    .unwrap();
    let e = reasons(
        verify::verify_attestations(&store2, &image2, &key, None)
            .await
            .unwrap_err(),
    );
    assert!(e.contains("payload type"), "{e}");

    // in-toto v0.1 statements are accepted.
    let v01 = json!({"_type": "https://in-toto.io/Statement/v0.1",
        "subject": [{"name": "x", "digest": {"sha256": image.digest.hex()}}],
        "predicateType": "https://example.com/p", "predicate": {}});
    let env = Envelope::sign(INTOTO_PAYLOAD_TYPE, serde_json::to_vec(&v01).unwrap(), &s)
        .await
        .unwrap();
    let st = verify::verify_envelope(&env, &key, &image.digest, None).unwrap();
    assert_eq!(st.predicate_type, "https://example.com/p");
}

fn write(dir: &Path, name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

#[tokio::test]
async fn openssl_verifies_signatures_from_the_layout() {
    let Some(openssl) = kiln_testutil::program("openssl") else {
        return;
    };
    let (d, store) = layout();
    let image = make_image(&store, "v1", b"openssl").await;
    let s = signer(SignatureAlgorithm::EcdsaP256Sha256);
    cosign::sign_image(&store, &image, "oci:lay", &s, StorageFormat::Cosign)
        .await
        .unwrap();
    // Read the .sig manifest and its layer straight from the layout's files.
    let tag = format!("sha256-{}.sig", image.digest.hex());
    let sig_manifest = store.resolve(&tag).await.unwrap();
    let ManifestKind::Image(m) = sig_manifest.kind else {
        panic!()
    };
    let layer = &m.layers[0];
    let payload = std::fs::read(store.blob_path(&layer.digest)).unwrap();
    let sig = STANDARD
        .decode(layer.annotation(cosign::SIGNATURE_ANNOTATION).unwrap())
        .unwrap();
    let p = write(d.path(), "payload.json", &payload);
    let g = write(d.path(), "sig.der", &sig);
    let k = write(d.path(), "pub.pem", public(&s).to_pem().as_bytes());
    let out = Command::new(&openssl)
        .args(["dgst", "-sha256", "-verify"])
        .arg(&k)
        .arg("-signature")
        .arg(&g)
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Verified OK"),
        "{out:?}"
    );
    let other = write(
        d.path(),
        "other.pem",
        public(&signer(SignatureAlgorithm::EcdsaP256Sha256))
            .to_pem()
            .as_bytes(),
    );
    let out = Command::new(&openssl)
        .args(["dgst", "-sha256", "-verify"])
        .arg(&other)
        .arg("-signature")
        .arg(&g)
        .arg(&p)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn openssl_verifies_signatures_from_the_registry() {
    let Some(registry) = kiln_testutil::registry() else {
        return;
    };
    let Some(openssl) = kiln_testutil::program("openssl") else {
        return;
    };
    let Some(curl) = kiln_testutil::program("curl") else {
        return;
    };
    let repo = format!("kiln-sign-test/{}", std::process::id());
    let r = kiln_oci::ImageRef::parse(&format!("{registry}/{repo}:v1")).unwrap();
    let store = kiln_oci::open::open_store(&r, &Default::default()).unwrap();
    let image = make_image(&*store, "v1", b"registry image").await;
    let s = signer(SignatureAlgorithm::EcdsaP256Sha256);
    let s2 = signer(SignatureAlgorithm::EcdsaP256Sha256);
    cosign::sign_image(&*store, &image, &r.location(), &s, StorageFormat::Cosign)
        .await
        .unwrap();
    cosign::sign_image(&*store, &image, &r.location(), &s2, StorageFormat::Cosign)
        .await
        .unwrap();
    cosign::sign_image(&*store, &image, &r.location(), &s, StorageFormat::Bundle)
        .await
        .unwrap();
    assert_eq!(
        verify::verify_signatures(&*store, &image, &public(&s))
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        verify::verify_signatures(&*store, &image, &public(&s2))
            .await
            .unwrap()
            .len(),
        1
    );

    let base = format!("http://{registry}/v2/{repo}");
    let fetch = |url: String, accept: &str| {
        let out = Command::new(&curl)
            .args(["-sf", "-H", &format!("Accept: {accept}"), &url])
            .output()
            .unwrap();
        assert!(out.status.success(), "{url}");
        out.stdout
    };
    let tag = format!("sha256-{}.sig", image.digest.hex());
    let m: serde_json::Value = serde_json::from_slice(&fetch(
        format!("{base}/manifests/{tag}"),
        media_type::OCI_MANIFEST,
    ))
    .unwrap();
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "the second signature was appended");
    let d = tempfile::tempdir().unwrap();
    let payload = fetch(
        format!("{base}/blobs/{}", layers[0]["digest"].as_str().unwrap()),
        "*/*",
    );
    let sig = STANDARD
        .decode(
            layers[0]["annotations"][cosign::SIGNATURE_ANNOTATION]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let p = write(d.path(), "payload.json", &payload);
    let g = write(d.path(), "sig.der", &sig);
    let k = write(d.path(), "pub.pem", public(&s).to_pem().as_bytes());
    let out = Command::new(&openssl)
        .args(["dgst", "-sha256", "-verify"])
        .arg(&k)
        .arg("-signature")
        .arg(&g)
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Verified OK"),
        "{out:?}"
    );
    let v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        v["critical"]["image"]["docker-manifest-digest"],
        image.digest.to_string()
    );
    assert_eq!(v["critical"]["identity"]["docker-reference"], r.location());
}

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
Statement.copy_from_pb(json_format.Parse(e.payload, statement_pb2.Statement())).validate()
print("OK")
"#;

#[tokio::test]
async fn python_verifies_envelopes_and_statements() {
    let Some(python) = kiln_testutil::python() else {
        return;
    };
    let (d, store) = layout();
    let image = make_image(&store, "v1", b"python").await;
    let s = signer(SignatureAlgorithm::EcdsaP256Sha256);
    let slsa = json!({"buildDefinition": {"buildType": "https://kiln.dev/build/v1", "externalParameters": {}},
        "runDetails": {"builder": {"id": "https://kiln.dev/builder"}}});
    let st = Statement::new(
        "oci:lay",
        &image.digest,
        &PredicateKind::SlsaProvenanceV1,
        slsa,
    )
    .unwrap();
    cosign::attest_image(&store, &image, &st, &s, StorageFormat::Cosign)
        .await
        .unwrap();
    let (_, blob) = attach::read_layers(&store, &image.digest, "att")
        .await
        .unwrap()
        .remove(0);
    let env_path = write(d.path(), "env.json", &blob);
    let key_path = write(d.path(), "pub.pem", public(&s).to_pem().as_bytes());
    let script = write(d.path(), "check.py", PY_CHECK.as_bytes());
    let out = Command::new(&python)
        .arg(&script)
        .arg(&env_path)
        .arg(&key_path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stdout.starts_with(b"OK"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A tampered envelope fails there too.
    let mut v: serde_json::Value = serde_json::from_slice(&blob).unwrap();
    let mut payload = STANDARD.decode(v["payload"].as_str().unwrap()).unwrap();
    payload[10] ^= 1;
    v["payload"] = STANDARD.encode(payload).into();
    let bad = write(d.path(), "bad.json", &serde_json::to_vec(&v).unwrap());
    let out = Command::new(&python)
        .arg(&script)
        .arg(&bad)
        .arg(&key_path)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

const NODE_CHECK: &str = r#"
const fs = require('fs');
const crypto = require('crypto');
const { bundleFromJSON } = require('@sigstore/bundle');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
const [bundlePath, pemPath, artifactPath] = process.argv.slice(2);
const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
const key = crypto.createPublicKey(fs.readFileSync(pemPath, 'utf8'));
const tm = toTrustMaterial({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] },
  () => ({ publicKey: key, validFor: () => true }));
const v = new Verifier(tm, { tlogThreshold: 0, ctlogThreshold: 0, tsaThreshold: 0 });
const artifact = artifactPath ? fs.readFileSync(artifactPath) : undefined;
v.verify(toSignedEntity(bundle, artifact));
console.log('OK');
"#;

#[tokio::test]
async fn sigstore_js_verifies_bundles() {
    let Some(modules) = kiln_testutil::node_modules() else {
        return;
    };
    let Some(node) = kiln_testutil::program("node") else {
        return;
    };
    let (d, store) = layout();
    let image = make_image(&store, "v1", b"node").await;
    let s = signer(SignatureAlgorithm::EcdsaP256Sha256);
    cosign::sign_image(&store, &image, "oci:lay", &s, StorageFormat::Bundle)
        .await
        .unwrap();
    let st = Statement::new(
        "oci:lay",
        &image.digest,
        &PredicateKind::Custom,
        json!({"hello": "world"}),
    )
    .unwrap();
    cosign::attest_image(&store, &image, &st, &s, StorageFormat::Bundle)
        .await
        .unwrap();
    let bundles = attach::read_referrers(&store, &image.digest, cosign::BUNDLE_MEDIA_TYPE)
        .await
        .unwrap();
    assert_eq!(bundles.len(), 2);
    let script = write(d.path(), "check.js", NODE_CHECK.as_bytes());
    let key_path = write(d.path(), "pub.pem", public(&s).to_pem().as_bytes());
    let wrong_path = write(
        d.path(),
        "wrong.pem",
        public(&signer(SignatureAlgorithm::EcdsaP256Sha256))
            .to_pem()
            .as_bytes(),
    );
    let manifest_path = write(d.path(), "manifest.json", &image.bytes);
    let run = |bundle: &Path, key: &Path, artifact: Option<&Path>| {
        let mut c = Command::new(&node);
        c.env("NODE_PATH", &modules)
            .arg(&script)
            .arg(bundle)
            .arg(key);
        if let Some(a) = artifact {
            c.arg(a);
        }
        c.output().unwrap()
    };
    for (i, (_, blob)) in bundles.iter().enumerate() {
        let b = write(d.path(), &format!("b{i}.json"), blob);
        let is_message = serde_json::from_slice::<serde_json::Value>(blob)
            .unwrap()
            .get("messageSignature")
            .is_some();
        let artifact = is_message.then_some(manifest_path.as_path());
        let out = run(&b, &key_path, artifact);
        assert!(
            out.status.success(),
            "bundle {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !run(&b, &wrong_path, artifact).status.success(),
            "bundle {i} with the wrong key"
        );
    }
    let _ = Digest::sha256(b"");
}
