//! The gate end to end against the real test registry (and OCI layouts): images signed and
//! attested with kiln-sign, then decided by `Gate::decide` under a policy written here.
//! Covers: signed and attested → allowed; unsigned, wrong signer, missing attestation,
//! failed Rego condition, tampered signature (annotation and payload) → denied with their
//! codes; audit mode; N of M; Notation identity + CA; in-toto Statement v0.1; an
//! unreachable and a hanging registry (registry-error / timeout, following the mode); a
//! Kyverno policy imported and deciding the same.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kiln_oci::manifest::{Descriptor, ImageManifest};
use kiln_oci::registry::{RegistryOptions, RetryPolicy};
use kiln_oci::{ImageRef, ImageStore, Manifest, ManifestKind, media_type};
use kiln_policy::collect::{Gate, GateOptions, RegistryCacheOptions, Verdict};
use kiln_policy::{Policy, ReasonCode};
use kiln_sign::SignatureAlgorithm;
use kiln_sign::cosign::{self, StorageFormat};
use kiln_sign::intoto::{Statement, Subject};
use kiln_sign::keys::PrivateKey;
use kiln_sign::keys::file::FileSigner;
use kiln_sign::notation::{self, CertRequest, cert::EphemeralKey};

const PROVENANCE: &str = "https://slsa.dev/provenance/v1";
const BUILDER: &str = "https://kiln.dev/builder@v1";

struct Keys {
    factory: FileSigner,
    release: FileSigner,
    mallory: FileSigner,
}

fn signer(name: &str) -> FileSigner {
    FileSigner::new(
        PrivateKey::generate(SignatureAlgorithm::EcdsaP256Sha256).unwrap(),
        name,
    )
}

fn keys(dir: &Path) -> Keys {
    let k = Keys {
        factory: signer("factory"),
        release: signer("release"),
        mallory: signer("mallory"),
    };
    for (name, s) in [
        ("factory", &k.factory),
        ("release", &k.release),
        ("mallory", &k.mallory),
    ] {
        std::fs::write(
            dir.join(format!("{name}.pub")),
            s.key().public_key().to_pem(),
        )
        .unwrap();
    }
    k
}

/// A one-layer image (content unique to `seed`) pushed to `reference`'s store and tagged.
async fn push_image(reference: &str, seed: &str) -> (Box<dyn ImageStore>, Manifest) {
    let r = ImageRef::parse(reference).unwrap();
    let store = kiln_oci::open::open_store(&r, &RegistryOptions::default()).unwrap();
    let layer = format!("layer {seed}").into_bytes();
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
    store.push_manifest(&m, r.tag()).await.unwrap();
    (store, m)
}

async fn sign(store: &dyn ImageStore, m: &Manifest, s: &FileSigner, format: StorageFormat) {
    cosign::sign_image(store, m, "test/app", s, format)
        .await
        .unwrap();
}

fn statement(m: &Manifest, type_: &str, predicate: serde_json::Value) -> Statement {
    Statement {
        type_: type_.into(),
        subject: vec![Subject {
            name: "app".into(),
            digest: [("sha256".to_string(), m.digest.hex().to_string())].into(),
        }],
        predicate_type: PROVENANCE.into(),
        predicate,
    }
}

async fn attest(store: &dyn ImageStore, m: &Manifest, s: &FileSigner, builder: &str) {
    let st = statement(
        m,
        "https://in-toto.io/Statement/v1",
        serde_json::json!({"runDetails": {"builder": {"id": builder}}}),
    );
    cosign::attest_image(store, m, &st, s, StorageFormat::Cosign)
        .await
        .unwrap();
}

/// The policy used by most tests; `prefix` is the registry location of the test's images.
fn policy_text(prefix: &str) -> String {
    format!(
        r#"apiVersion: kiln.dev/v1alpha1
kind: ImagePolicy
spec:
  mode: enforce
  signers:
    - name: factory
      publicKeyFile: factory.pub
    - name: release
      publicKeyFile: release.pub
    - name: mallory
      publicKeyFile: mallory.pub
  rules:
    - name: team
      images: ["{prefix}/team/*"]
      signatures:
        signers: [factory]
      attestations:
        - name: provenance
          predicateType: {PROVENANCE}
          signers: [factory]
          conditions:
            - name: built-by-kiln
              rego: |
                allow if input.predicate.runDetails.builder.id == "{BUILDER}"
    - name: quorum
      images: ["{prefix}/quorum/*"]
      signatures:
        signers: [factory, release, mallory]
        count: 2
    - name: sandbox
      images: ["{prefix}/sandbox/*"]
      mode: audit
      signatures:
        signers: [factory]
"#
    )
}

fn gate(dir: &Path, text: &str, budget: Duration) -> Gate {
    let policy = Policy::parse(text, "policy.yaml", dir).unwrap();
    let options = GateOptions {
        registry: RegistryOptions {
            retry: RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            },
            ..RegistryOptions::default()
        },
        budget,
    };
    Gate::new(Arc::new(policy), options).unwrap()
}

fn codes(v: &Verdict) -> Vec<ReasonCode> {
    let mut c: Vec<ReasonCode> = v.decision.reasons.iter().map(|r| r.code).collect();
    c.dedup();
    c
}

fn has(v: &Verdict, code: ReasonCode, text: &str) -> bool {
    v.decision
        .reasons
        .iter()
        .chain(&v.decision.warnings)
        .any(|r| r.code == code && r.message.contains(text))
}

/// A unique repository prefix in the test registry.
fn registry_prefix(test: &str) -> Option<String> {
    let reg = kiln_testutil::registry()?;
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    Some(format!("{reg}/collect-{test}-{nonce}"))
}

#[tokio::test]
async fn signed_and_attested_is_allowed_and_the_rest_denied() {
    let Some(prefix) = registry_prefix("main") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let k = keys(dir.path());
    let g = gate(dir.path(), &policy_text(&prefix), Duration::from_secs(30));
    assert!(g.policy_version().starts_with("sha256:"));

    // Signed (cosign tag) and attested by the factory: allowed, bound to the digest.
    let good = format!("{prefix}/team/app:good");
    let (store, m) = push_image(&good, "good").await;
    sign(&*store, &m, &k.factory, StorageFormat::Cosign).await;
    attest(&*store, &m, &k.factory, BUILDER).await;
    let v = g.decide(&good, Some("prod"), None).await;
    assert!(v.decision.allowed, "{:#?}", v.decision);
    assert_eq!(v.digest.as_ref(), Some(&m.digest));
    assert_eq!(v.decision.digest, Some(m.digest.to_string()));
    assert_eq!(v.evidence.signatures.len(), 1);
    assert_eq!(v.evidence.attestations.len(), 1);
    assert!(v.registry_error.is_none());
    // By digest too.
    let by_digest = format!("{prefix}/team/app@{}", m.digest);
    assert!(g.decide(&by_digest, None, None).await.decision.allowed);

    // A Sigstore bundle signature counts the same.
    let bundled = format!("{prefix}/team/app:bundle");
    let (store, m) = push_image(&bundled, "bundle").await;
    sign(&*store, &m, &k.factory, StorageFormat::Bundle).await;
    attest(&*store, &m, &k.factory, BUILDER).await;
    let v = g.decide(&bundled, None, None).await;
    assert!(v.decision.allowed, "{:#?}", v.decision);

    // Unsigned and unattested.
    let bare = format!("{prefix}/team/app:bare");
    push_image(&bare, "bare").await;
    let v = g.decide(&bare, None, None).await;
    assert!(!v.decision.allowed);
    assert_eq!(
        codes(&v),
        [ReasonCode::MissingSignature, ReasonCode::MissingAttestation]
    );

    // Signed and attested by the wrong key.
    let wrong = format!("{prefix}/team/app:wrong");
    let (store, m) = push_image(&wrong, "wrong").await;
    sign(&*store, &m, &k.mallory, StorageFormat::Cosign).await;
    attest(&*store, &m, &k.mallory, BUILDER).await;
    let v = g.decide(&wrong, None, None).await;
    assert!(!v.decision.allowed);
    assert!(
        codes(&v).contains(&ReasonCode::MissingSignature),
        "{:#?}",
        v.decision
    );
    assert!(has(
        &v,
        ReasonCode::SignatureInvalid,
        "does not verify with any trusted key"
    ));
    assert!(has(&v, ReasonCode::MissingAttestation, PROVENANCE));
    assert!(has(&v, ReasonCode::AttestationInvalid, "factory"));
    assert!(v.evidence.signatures.is_empty() && v.evidence.attestations.is_empty());

    // Signed, but no attestation.
    let noatt = format!("{prefix}/team/app:noatt");
    let (store, m) = push_image(&noatt, "noatt").await;
    sign(&*store, &m, &k.factory, StorageFormat::Cosign).await;
    let v = g.decide(&noatt, None, None).await;
    assert_eq!(codes(&v), [ReasonCode::MissingAttestation]);

    // Attested by another builder: the Rego condition fails.
    let rogue = format!("{prefix}/team/app:rogue");
    let (store, m) = push_image(&rogue, "rogue").await;
    sign(&*store, &m, &k.factory, StorageFormat::Cosign).await;
    attest(&*store, &m, &k.factory, "https://evil.example/builder").await;
    let v = g.decide(&rogue, None, None).await;
    assert_eq!(codes(&v), [ReasonCode::ConditionFailed]);
    assert!(has(&v, ReasonCode::ConditionFailed, "built-by-kiln"));

    // No such tag: a registry error, denied.
    let v = g
        .decide(&format!("{prefix}/team/app:absent"), None, None)
        .await;
    assert!(!v.decision.allowed);
    assert!(
        codes(&v).contains(&ReasonCode::RegistryError),
        "{:#?}",
        v.decision
    );
    assert!(v.digest.is_none());
}

/// Rewrites the `.sig` manifest of `m` with `edit` applied to its (only) layer and the
/// payload replaced by `payload` when given.
async fn tamper(
    store: &dyn ImageStore,
    m: &Manifest,
    edit: impl FnOnce(&mut Descriptor),
    payload: Option<Vec<u8>>,
) {
    let tag = kiln_sign::cosign::attach::cosign_tag(&m.digest, "sig");
    let sig = store.resolve(&tag).await.unwrap();
    let ManifestKind::Image(mut im) = sig.kind else {
        panic!("not a manifest")
    };
    if let Some(p) = payload {
        let d = Descriptor::of(&im.layers[0].media_type, &p);
        store.push_blob(&d.digest, &p).await.unwrap();
        im.layers[0].digest = d.digest;
        im.layers[0].size = d.size;
    }
    edit(&mut im.layers[0]);
    store
        .push_manifest(&Manifest::from_image(&im), Some(&tag))
        .await
        .unwrap();
}

#[tokio::test]
async fn tampered_signatures_are_not_evidence() {
    let Some(prefix) = registry_prefix("tamper") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let k = keys(dir.path());
    let g = gate(dir.path(), &policy_text(&prefix), Duration::from_secs(30));

    // The signature annotation altered.
    let a = format!("{prefix}/team/app:annotation");
    let (store, m) = push_image(&a, "annotation").await;
    sign(&*store, &m, &k.factory, StorageFormat::Cosign).await;
    attest(&*store, &m, &k.factory, BUILDER).await;
    assert!(g.decide(&a, None, None).await.decision.allowed);
    tamper(
        &*store,
        &m,
        |l| {
            let ann = l.annotations.as_mut().unwrap();
            let sig = ann
                .get_mut(kiln_sign::cosign::SIGNATURE_ANNOTATION)
                .unwrap();
            // A different, well-formed signature: the factory's over other bytes.
            let other = k.factory.key().sign(b"something else").unwrap();
            *sig = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, other);
        },
        None,
    )
    .await;
    let v = g.decide(&a, None, None).await;
    assert!(!v.decision.allowed);
    assert_eq!(
        codes(&v),
        [ReasonCode::MissingSignature, ReasonCode::SignatureInvalid]
    );
    assert!(
        has(&v, ReasonCode::SignatureInvalid, "tampered"),
        "{:#?}",
        v.decision
    );

    // The payload swapped for one naming another image (signature kept).
    let p = format!("{prefix}/team/app:payload");
    let (store, m) = push_image(&p, "payload").await;
    sign(&*store, &m, &k.factory, StorageFormat::Cosign).await;
    attest(&*store, &m, &k.factory, BUILDER).await;
    let other = kiln_oci::Digest::sha256(b"another image");
    let forged = kiln_sign::cosign::payload::SimpleSigning::new("test/app", &other).to_bytes();
    tamper(&*store, &m, |_| {}, Some(forged)).await;
    let v = g.decide(&p, None, None).await;
    assert!(!v.decision.allowed);
    assert!(
        has(&v, ReasonCode::SignatureInvalid, "tampered signature"),
        "{:#?}",
        v.decision
    );
    assert!(has(&v, ReasonCode::SignatureInvalid, &other.to_string()));
}

#[tokio::test]
async fn audit_mode_and_n_of_m() {
    let Some(prefix) = registry_prefix("quorum") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let k = keys(dir.path());
    let g = gate(dir.path(), &policy_text(&prefix), Duration::from_secs(30));

    // Audit: unsigned is allowed, with the failure as a warning.
    let s = format!("{prefix}/sandbox/tool:v1");
    push_image(&s, "sandbox").await;
    let v = g.decide(&s, None, None).await;
    assert!(v.decision.allowed);
    assert!(v.decision.reasons.is_empty());
    assert_eq!(v.decision.warnings[0].code, ReasonCode::MissingSignature);

    // 2 of 3: one signature is not enough, two are.
    let q = format!("{prefix}/quorum/svc:v1");
    let (store, m) = push_image(&q, "quorum").await;
    sign(&*store, &m, &k.factory, StorageFormat::Cosign).await;
    let v = g.decide(&q, None, None).await;
    assert!(!v.decision.allowed);
    assert!(
        has(&v, ReasonCode::MissingSignature, "1 of 3"),
        "{:#?}",
        v.decision
    );
    sign(&*store, &m, &k.release, StorageFormat::Bundle).await;
    let v = g.decide(&q, None, None).await;
    assert!(v.decision.allowed, "{:#?}", v.decision);
    assert_eq!(v.evidence.signatures.len(), 2);
}

#[tokio::test]
async fn oci_layouts_and_statement_v01() {
    let dir = tempfile::tempdir().unwrap();
    let k = keys(dir.path());
    let text = format!(
        r#"apiVersion: kiln.dev/v1alpha1
kind: ImagePolicy
spec:
  signers:
    - name: factory
      publicKeyFile: factory.pub
  rules:
    - name: layouts
      images: ["oci:*"]
      signatures: {{signers: [factory]}}
      attestations:
        - predicateType: {PROVENANCE}
          conditions:
            - name: builder
              rego: |
                allow if input.predicate.runDetails.builder.id == "{BUILDER}"
"#
    );
    let g = gate(dir.path(), &text, Duration::from_secs(30));
    let image = format!("oci:{}:v1", dir.path().join("layout").display());
    let (store, m) = push_image(&image, "layout").await;
    sign(&*store, &m, &k.factory, StorageFormat::Cosign).await;
    // An in-toto Statement v0.1, verified with the rule's signers.
    let st = statement(
        &m,
        "https://in-toto.io/Statement/v0.1",
        serde_json::json!({"runDetails": {"builder": {"id": BUILDER}}}),
    );
    cosign::attest_image(&*store, &m, &st, &k.factory, StorageFormat::Bundle)
        .await
        .unwrap();
    let v = g.decide(&image, None, None).await;
    assert!(v.decision.allowed, "{:#?}", v.decision);
    assert_eq!(
        v.evidence.attestations[0].statement["_type"],
        "https://in-toto.io/Statement/v0.1"
    );
    // A layout that does not exist: a registry (store) error.
    let v = g
        .decide(
            &format!("oci:{}:v1", dir.path().join("nope").display()),
            None,
            None,
        )
        .await;
    assert!(!v.decision.allowed);
    assert!(
        codes(&v).contains(&ReasonCode::RegistryError),
        "{:#?}",
        v.decision
    );
}

#[tokio::test]
async fn notation_identity_and_ca() {
    let Some(prefix) = registry_prefix("notation") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ca = EphemeralKey::generate();
    let leaf = EphemeralKey::generate();
    let request = CertRequest {
        ca_subject: "CN=Factory CA,O=Example,ST=WA,C=US".into(),
        leaf_subject: "CN=Release,O=Example,ST=WA,C=US".into(),
        ..CertRequest::default()
    };
    let chain = notation::make_chain(&leaf, &ca, &request).await.unwrap();
    std::fs::write(
        dir.path().join("ca.pem"),
        notation::cert::to_pem(&chain.ca_der),
    )
    .unwrap();
    let text = |identity: &str| {
        format!(
            r#"apiVersion: kiln.dev/v1alpha1
kind: ImagePolicy
spec:
  signers:
    - name: notary
      notation:
        identity: "{identity}"
        caFile: ca.pem
  rules:
    - name: notary
      images: ["{prefix}/*"]
      signatures: {{signers: [notary]}}
"#
        )
    };
    let image = format!("{prefix}/app:v1");
    let (store, m) = push_image(&image, "notation").await;
    let unsigned = format!("{prefix}/other:v1");
    push_image(&unsigned, "notation-unsigned").await;
    notation::sign_image(&*store, &m.descriptor(), &leaf, &chain.x5c(), None)
        .await
        .unwrap();

    let g = gate(
        dir.path(),
        &text("x509.subject: C=US, ST=WA, O=Example, CN=Release"),
        Duration::from_secs(30),
    );
    let v = g.decide(&image, None, None).await;
    assert!(v.decision.allowed, "{:#?}", v.decision);
    assert_eq!(v.evidence.signatures[0].format.as_deref(), Some("notation"));
    let v = g.decide(&unsigned, None, None).await;
    assert_eq!(codes(&v), [ReasonCode::MissingSignature]);

    // Another identity under the same CA: denied, with Notation's reason.
    let g = gate(
        dir.path(),
        &text("x509.subject: C=US, ST=WA, O=Example, CN=Mallory"),
        Duration::from_secs(30),
    );
    let v = g.decide(&image, None, None).await;
    assert!(!v.decision.allowed);
    assert_eq!(
        codes(&v),
        [ReasonCode::MissingSignature, ReasonCode::SignatureInvalid]
    );

    // Another CA: denied.
    let other = EphemeralKey::generate();
    let other_chain = notation::make_chain(&leaf, &other, &request).await.unwrap();
    std::fs::write(
        dir.path().join("ca.pem"),
        notation::cert::to_pem(&other_chain.ca_der),
    )
    .unwrap();
    let g = gate(
        dir.path(),
        &text("x509.subject: C=US, ST=WA, O=Example, CN=Release"),
        Duration::from_secs(30),
    );
    assert!(!g.decide(&image, None, None).await.decision.allowed);
}

#[tokio::test]
async fn unreachable_and_hanging_registries_follow_the_mode() {
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path());
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    // A registry that accepts connections and never answers.
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hang_addr = hanging.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = hanging.accept().await {
            held.push(s);
        }
    });
    let text = |mode: &str| {
        format!(
            r#"apiVersion: kiln.dev/v1alpha1
kind: ImagePolicy
spec:
  mode: {mode}
  signers:
    - name: factory
      publicKeyFile: factory.pub
  rules:
    - name: all
      images: ["127.0.0.1:*"]
      signatures: {{signers: [factory]}}
"#
        )
    };
    let enforce = gate(dir.path(), &text("enforce"), Duration::from_millis(1500));
    let audit = gate(dir.path(), &text("audit"), Duration::from_millis(1500));

    let image = format!("{closed}/team/app:v1");
    let v = enforce.decide(&image, None, None).await;
    assert!(!v.decision.allowed);
    assert!(
        codes(&v).contains(&ReasonCode::RegistryError),
        "{:#?}",
        v.decision
    );
    assert!(v.registry_error.is_some());
    let v = audit.decide(&image, None, None).await;
    assert!(v.decision.allowed);
    assert!(has(&v, ReasonCode::RegistryError, &closed.to_string()));

    let image = format!("{hang_addr}/team/app:v1");
    let v = enforce.decide(&image, None, None).await;
    assert!(!v.decision.allowed);
    assert!(
        codes(&v).contains(&ReasonCode::Timeout),
        "{:#?}",
        v.decision
    );
    let v = audit.decide(&image, None, None).await;
    assert!(v.decision.allowed);
    assert!(has(&v, ReasonCode::Timeout, "budget"));

    // Not covered by any rule: decided without contacting anything.
    let v = enforce
        .decide("registry.example.com/x:v1", None, None)
        .await;
    assert_eq!(codes(&v), [ReasonCode::NoMatchingRule]);
    // Unparsable: invalid-image, never a panic.
    let v = enforce.decide("Not A Reference!!", None, None).await;
    assert_eq!(codes(&v), [ReasonCode::InvalidImage]);
}

#[tokio::test]
async fn kyverno_import_decides_the_same() {
    let Some(prefix) = registry_prefix("kyverno") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let k = keys(dir.path());
    let pem = k.factory.key().public_key().to_pem();
    let indent = |n: usize| {
        pem.lines()
            .map(|l| format!("{}{l}", " ".repeat(n)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (key22, key26) = (indent(22), indent(26));
    let kyverno = format!(
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: verify-factory-images
spec:
  validationFailureAction: Enforce
  rules:
    - name: factory-images
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences:
            - "{prefix}/team/*"
          mutateDigest: true
          required: true
          attestors:
            - entries:
                - keys:
                    publicKeys: |-
{key22}
          attestations:
            - type: {PROVENANCE}
              attestors:
                - entries:
                    - keys:
                        publicKeys: |-
{key26}
              conditions:
                - all:
                    - key: "{{{{ runDetails.builder.id }}}}"
                      operator: Equals
                      value: "{BUILDER}"
"#
    );
    let imported = kiln_policy::kyverno::import(&kyverno, "kyverno.yaml").unwrap();
    assert!(
        imported.unsupported.is_empty(),
        "{:?}",
        imported.unsupported
    );
    let kg = Gate::new(Arc::new(imported.policy), GateOptions::default()).unwrap();
    let native = gate(dir.path(), &policy_text(&prefix), Duration::from_secs(30));

    let mut cases = Vec::new();
    for (tag, by, builder) in [
        ("good", Some(&k.factory), BUILDER),
        ("wrong", Some(&k.mallory), BUILDER),
        ("rogue", Some(&k.factory), "https://evil.example/builder"),
        ("bare", None, BUILDER),
    ] {
        let image = format!("{prefix}/team/app:{tag}");
        let (store, m) = push_image(&image, tag).await;
        if let Some(s) = by {
            sign(&*store, &m, s, StorageFormat::Cosign).await;
            attest(&*store, &m, s, builder).await;
        }
        cases.push((tag, image));
    }
    for (tag, image) in &cases {
        let a = kg.decide(image, None, None).await;
        let b = native.decide(image, None, None).await;
        assert_eq!(
            a.decision.allowed, b.decision.allowed,
            "{tag}: {a:#?} {b:#?}"
        );
        assert_eq!(
            a.decision.allowed,
            *tag == "good",
            "{tag}: {:#?}",
            a.decision
        );
        assert_eq!(a.digest, b.digest);
    }
}

/// The registry cache shared across decisions: content by digest stays, tag and
/// referrers lookups are reused only for the TTL, and a TTL of zero reads every tag
/// afresh (so a tampered signature is seen by the very next decision).
#[tokio::test]
async fn registry_cache_reuses_reads_only_within_the_tag_ttl() {
    let Some(prefix) = registry_prefix("cache") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let k = keys(dir.path());
    let text = policy_text(&prefix);
    let long = gate(dir.path(), &text, Duration::from_secs(30)).with_registry_cache(
        RegistryCacheOptions {
            tag_ttl: Duration::from_secs(600),
            max_bytes: 1024 * 1024,
        },
    );
    let fresh = gate(dir.path(), &text, Duration::from_secs(30)).with_registry_cache(
        RegistryCacheOptions {
            tag_ttl: Duration::ZERO,
            max_bytes: 1024 * 1024,
        },
    );

    let image = format!("{prefix}/team/app:cached");
    let (store, m) = push_image(&image, "cached").await;
    sign(&*store, &m, &k.factory, StorageFormat::Cosign).await;
    attest(&*store, &m, &k.factory, BUILDER).await;
    assert!(long.decide(&image, None, None).await.decision.allowed);
    assert!(fresh.decide(&image, None, None).await.decision.allowed);
    assert!(long.registry_cache().unwrap().entries() > 0);

    // The signature is replaced by one that does not verify.
    tamper(
        &*store,
        &m,
        |_| {},
        Some(b"{\"not\": \"the payload\"}".to_vec()),
    )
    .await;
    let stale = long.decide(&image, None, None).await;
    let seen = fresh.decide(&image, None, None).await;
    assert!(
        stale.decision.allowed,
        "within the TTL the cached .sig tag is used: {:#?}",
        stale.decision
    );
    assert!(!seen.decision.allowed, "TTL 0 must read the tag again");
    assert!(
        has(&seen, ReasonCode::SignatureInvalid, "tampered"),
        "{:#?}",
        seen.decision
    );

    // Emptied, the long-TTL gate reads the registry again and sees the change too.
    long.registry_cache().unwrap().clear();
    let now = long.decide(&image, None, None).await;
    assert!(!now.decision.allowed, "{:#?}", now.decision);
}
