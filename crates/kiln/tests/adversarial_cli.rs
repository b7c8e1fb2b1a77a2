//! The adversarial verification suite (issue 9): one image in the test registry carrying
//! every kind of evidence Kiln makes — a cosign signature (`.sig`), a Sigstore bundle
//! signature (referrer), a Notation signature with its chain (referrer), and SBOM, SLSA
//! provenance and vulnerability-scan attestations (`.att`) — all made by `kiln sign` and
//! `kiln attest`. Every field of every artifact is mutated in turn and written back to the
//! registry as raw bytes; each mutation must be refused, with a reason, by BOTH
//! `kiln verify --policy --format json` and a running `kiln admit` webhook (an
//! AdmissionReview from the shared vectors over TLS, caches effectively off), after which
//! the valid artifacts are restored. Controls (the same artifacts re-made the honest way
//! by the same tools the mutations use) must be allowed, so a refusal is never an artefact
//! of the harness. Prints a table of tried/accepted per family (`-- --nocapture`).

mod adversarial;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use adversarial::*;
use kiln_oci::manifest::{Descriptor, ImageManifest};
use kiln_oci::{Digest, Manifest, media_type};
use kiln_sign::keys::file::{FileSigner, parse_private_key};
use kiln_sign::notation::cert::{CertRequest, EphemeralKey, make_chain};
use serde_json::{Value, json};

const PASSWORD: &str = "advers4rial-Pa55";
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const NOTATION: &str = "application/vnd.cncf.notary.signature";
const SIG_ANN: &str = "dev.cosignproject.cosign/signature";
const INTOTO: &str = "application/vnd.in-toto+json";
const SPDX: &str = "https://spdx.dev/Document";
const SLSA: &str = "https://slsa.dev/provenance/v1";
const VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
const BUILDER: &str = "https://kiln.dev/builder@v1";
const SUBJECT: &str = "CN=Release,O=Kiln,ST=WA,C=US";

/// Reason codes that name a signature failure, and an attestation failure.
const SIG: &[&str] = &["missing-signature", "signature-invalid", "registry-error"];
const ATT: &[&str] = &[
    "missing-attestation",
    "untrusted-attestation",
    "attestation-invalid",
    "statement-mismatch",
    "condition-failed",
    "registry-error",
];

fn kiln(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .current_dir(dir)
        .args(args)
        .env_remove("COSIGN_PASSWORD")
        .env("KILN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "kiln {args:?}: {text}");
    out
}

fn policy(glob: &str) -> String {
    format!(
        r#"apiVersion: kiln.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: adversarial
spec:
  mode: enforce
  defaultAction: deny
  signers:
    - name: factory-legacy
      publicKeyFile: factory.pub
      format: legacy
    - name: factory-bundle
      publicKeyFile: factory.pub
      format: bundle
    - name: release
      notation:
        identity: "x509.subject: {SUBJECT}"
        caFile: notary.ca.pem
  rules:
    - name: factory
      images: ["{glob}"]
      signatures:
        signers: [factory-legacy, factory-bundle, release]
      attestations:
        - name: sbom
          predicateType: {SPDX}
          signers: [factory-legacy]
        - name: provenance
          predicateType: {SLSA}
          signers: [factory-legacy]
          conditions:
            - name: built-by-kiln
              rego: |
                allow if input.predicate.runDetails.builder.id == "{BUILDER}"
        - name: vuln-scan
          predicateType: {VULN}
          signers: [factory-legacy]
"#
    )
}

/// One mutation: what it writes, and which reason codes name its failure.
struct Mutation {
    family: &'static str,
    name: String,
    writes: Vec<Write>,
    expect: &'static [&'static str],
}

/// The valid artifacts of image A (as stored) and of a second signed image B, plus keys.
struct Ctx {
    repo: Repo,
    image: String,
    a: Manifest,
    sig_tag: String,
    att_tag: String,
    idx_tag: String,
    sig: Value,
    payload: Vec<u8>,
    att: Value,
    /// Attestation layers by predicate type: (layer index, envelope JSON).
    envs: BTreeMap<&'static str, (usize, Value)>,
    index: Value,
    bundle_pos: usize,
    bundle_ref: Value,
    bundle: Value,
    notation_pos: usize,
    notation_ref: Value,
    jws: Value,
    /// B: a second image of the same repository, signed and attested the same way.
    b: Manifest,
    b_sig: Value,
    b_payload: Vec<u8>,
    b_att: Value,
    b_slsa_env: Vec<u8>,
    /// B's referrers index entries (exact descriptors).
    b_bundle_entry: Value,
    b_notation_entry: Value,
    /// The exact stored bytes of A's `.sig`, `.att` and referrers index (for restoring).
    stored: Vec<(String, Vec<u8>)>,
    b_bundle: Vec<u8>,
    b_jws: Vec<u8>,
    /// C: an unsigned image of the same repository.
    c: Manifest,
    factory: FileSigner,
    mallory: FileSigner,
    notary: FileSigner,
    chain: Vec<Vec<u8>>,
}

impl Ctx {
    fn a_digest(&self) -> &Digest {
        &self.a.digest
    }

    /// The `.sig` manifest with layer 0 replaced.
    fn sig_layer(&self, layer: Value) -> Write {
        let mut s = self.sig.clone();
        s["layers"][0] = layer;
        Write::tagged(&self.sig_tag, &s)
    }

    /// The `.sig` manifest whose layer 0 holds `payload` (the signature annotation kept).
    fn sig_payload(&self, payload: Vec<u8>) -> Vec<Write> {
        let mut l = self.sig["layers"][0].clone();
        l["digest"] = json!(digest(&payload));
        l["size"] = json!(payload.len());
        vec![Write::Blob(payload), self.sig_layer(l)]
    }

    /// A cosign layer (media type, annotation) for `payload` with signature `sig`.
    fn cosign_layer(&self, payload: &[u8], sig: &[u8]) -> Value {
        let mut l = desc("application/vnd.dev.cosign.simplesigning.v1+json", payload);
        l["annotations"] = json!({ SIG_ANN: b64(sig) });
        l
    }

    /// The `.att` manifest with the layer of `pt` holding `env` (its annotation kept).
    fn att_env(&self, pt: &str, env: Vec<u8>) -> Vec<Write> {
        let (i, _) = self.envs[pt];
        let mut att = self.att.clone();
        att["layers"][i]["digest"] = json!(digest(&env));
        att["layers"][i]["size"] = json!(env.len());
        vec![Write::Blob(env), Write::tagged(&self.att_tag, &att)]
    }

    /// The `.att` manifest with the layer of `pt` replaced.
    fn att_layer(&self, pt: &str, layer: Value) -> Vec<Write> {
        let (i, _) = self.envs[pt];
        let mut att = self.att.clone();
        att["layers"][i] = layer;
        vec![Write::tagged(&self.att_tag, &att)]
    }

    /// The referrers index with entry `pos` replaced by a descriptor of `manifest`
    /// (pushed by digest); `None` removes the entry.
    fn index_entry(&self, pos: usize, manifest: Option<&Value>) -> Vec<Write> {
        let mut writes = Vec::new();
        let mut index = self.index.clone();
        let list = index["manifests"].as_array_mut().unwrap();
        match manifest {
            Some(m) => {
                let b = bytes(m);
                let mut d = desc(media_type::OCI_MANIFEST, &b);
                if let Some(t) = m.get("artifactType") {
                    d["artifactType"] = t.clone();
                }
                writes.push(Write::by_digest(m));
                list[pos] = d;
            }
            None => {
                list.remove(pos);
            }
        }
        writes.push(Write::tagged(&self.idx_tag, &index));
        writes
    }

    /// A bundle referrer holding `blob` in place of the valid one.
    fn bundle_blob(&self, blob: Vec<u8>) -> Vec<Write> {
        let mut m = self.bundle_ref.clone();
        m["layers"][0]["digest"] = json!(digest(&blob));
        m["layers"][0]["size"] = json!(blob.len());
        let mut w = vec![Write::Blob(blob)];
        w.extend(self.index_entry(self.bundle_pos, Some(&m)));
        w
    }

    fn bundle_json(&self, b: &Value) -> Vec<Write> {
        self.bundle_blob(bytes(b))
    }

    /// A Notation referrer holding `blob` in place of the valid envelope.
    fn jws_blob(&self, blob: Vec<u8>) -> Vec<Write> {
        let mut m = self.notation_ref.clone();
        m["layers"][0]["digest"] = json!(digest(&blob));
        m["layers"][0]["size"] = json!(blob.len());
        let mut w = vec![Write::Blob(blob)];
        w.extend(self.index_entry(self.notation_pos, Some(&m)));
        w
    }

    fn jws_json(&self, j: &Value) -> Vec<Write> {
        self.jws_blob(bytes(j))
    }

    /// The JWS with its protected header's JSON replaced (signature kept).
    fn jws_protected(&self, p: &Value) -> Vec<Write> {
        let mut j = self.jws.clone();
        j["protected"] = json!(b64url(&bytes(p)));
        self.jws_json(&j)
    }

    fn protected(&self) -> Value {
        parse(&unb64url(self.jws["protected"].as_str().unwrap()))
    }

    fn jws_payload(&self) -> Value {
        parse(&unb64url(self.jws["payload"].as_str().unwrap()))
    }

    /// The SLSA statement of A.
    fn statement(&self) -> Value {
        let env = &self.envs[SLSA].1;
        parse(&unb64(env["payload"].as_str().unwrap()))
    }

    /// The SLSA envelope with a new payload (signatures kept).
    fn slsa_payload(&self, payload: &[u8]) -> Vec<Write> {
        let mut env = self.envs[SLSA].1.clone();
        env["payload"] = json!(b64(payload));
        self.att_env(SLSA, bytes(&env))
    }

    fn slsa_env(&self, env: &Value) -> Vec<Write> {
        self.att_env(SLSA, bytes(env))
    }
}

/// Pushes a one-layer image with content unique to `seed` under `tag`.
async fn push_image(repo: &Repo, tag: &str, seed: &str) -> Manifest {
    let layer = format!("layer {seed}").into_bytes();
    let ld = Descriptor::of(media_type::OCI_LAYER_TAR, &layer);
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = Descriptor::of(media_type::OCI_CONFIG, config);
    repo.store.push_blob(&ld.digest, &layer).await.unwrap();
    repo.store.push_blob(&cd.digest, config).await.unwrap();
    let m = Manifest::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.into()),
        artifact_type: None,
        config: cd,
        layers: vec![ld],
        subject: None,
        annotations: None,
    });
    repo.store.push_manifest(&m, Some(tag)).await.unwrap();
    m
}

fn load_key(dir: &Path, name: &str) -> FileSigner {
    let data = std::fs::read(dir.join(format!("{name}.key"))).unwrap();
    FileSigner::new(
        parse_private_key(&data, Some(PASSWORD.as_bytes())).unwrap(),
        name,
    )
}

/// Position of the index entry of `artifact_type`.
fn position(index: &Value, artifact_type: &str) -> usize {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .position(|d| d["artifactType"] == artifact_type)
        .unwrap_or_else(|| panic!("no {artifact_type} referrer in {index}"))
}

async fn setup(dir: &Path, registry: &str, repository: &str) -> Ctx {
    for k in ["factory", "mallory", "notary"] {
        kiln(dir, &["key", "generate", "--output-key-prefix", k]);
    }
    kiln(
        dir,
        &[
            "key",
            "cert",
            "--key",
            "notary.key",
            "--subject",
            SUBJECT,
            "--output-prefix",
            "notary",
        ],
    );
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
    let predicates = [
        (
            "sbom",
            json!({"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "app",
                   "dataLicense": "CC0-1.0", "documentNamespace": "https://kiln.dev/spdx/app",
                   "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: kiln"]},
                   "packages": []}),
        ),
        (
            "slsaprovenance",
            json!({"buildDefinition": {"buildType": "https://kiln.dev/build/v1",
                     "externalParameters": {"source": "git+https://git.example/app"}},
                   "runDetails": {"builder": {"id": BUILDER}}}),
        ),
        (
            "vuln",
            json!({"scanner": {"uri": "https://kiln.dev/vuln", "version": "1",
                     "result": {"matches": []}},
                   "metadata": {"scanStartedOn": "2026-01-01T00:00:00Z",
                                "scanFinishedOn": "2026-01-01T00:00:01Z"}}),
        ),
    ];
    for (t, p) in &predicates {
        std::fs::write(dir.join(format!("{t}.json")), p.to_string()).unwrap();
    }

    let repo = Repo::new(registry, repository);
    let a = push_image(&repo, "v1", "A").await;
    let b = push_image(&repo, "b", "B").await;
    let c = push_image(&repo, "c", "C").await;
    let image = repo.reference("v1");

    // A: everything through the CLI, as the factory would.
    kiln(dir, &["sign", "--key", "factory.key", &image]);
    kiln(dir, &["sign", "--key", "factory.key", "--bundle", &image]);
    kiln(
        dir,
        &[
            "sign",
            "--key",
            "notary.key",
            "--signature-format",
            "notation",
            "--cert-chain",
            "notary.chain.pem",
            &image,
        ],
    );
    for (t, _) in &predicates {
        let file = format!("{t}.json");
        kiln(
            dir,
            &[
                "attest",
                "--key",
                "factory.key",
                "--type",
                t,
                "--predicate",
                &file,
                &image,
            ],
        );
    }

    let factory = load_key(dir, "factory");
    let mallory = load_key(dir, "mallory");
    let notary = load_key(dir, "notary");
    let chain = kiln_sign::notation::cert::parse_certificates(
        &std::fs::read(dir.join("notary.chain.pem")).unwrap(),
        "notary.chain.pem",
    )
    .unwrap();

    // B: the same evidence, made through the library.
    use kiln_sign::cosign::{self, StorageFormat};
    let store = &*repo.store;
    let b_ref = cosign::docker_reference(&format!("{registry}/{repository}"));
    for f in [StorageFormat::Cosign, StorageFormat::Bundle] {
        cosign::sign_image(store, &b, &b_ref, &factory, f)
            .await
            .unwrap();
    }
    let st = kiln_sign::intoto::Statement::new(
        &b_ref,
        &b.digest,
        &kiln_sign::intoto::PredicateKind::SlsaProvenanceV1,
        predicates[1].1.clone(),
    )
    .unwrap();
    cosign::attest_image(store, &b, &st, &factory, StorageFormat::Cosign)
        .await
        .unwrap();
    kiln_sign::notation::image::sign_image(store, &b.descriptor(), &notary, &chain, None)
        .await
        .unwrap();

    let tag = |d: &Digest, s: &str| format!("{}{s}", d.tag_form());
    let (sig_tag, att_tag, idx_tag) = (
        tag(&a.digest, ".sig"),
        tag(&a.digest, ".att"),
        tag(&a.digest, ""),
    );
    let (sig, _) = repo.manifest(&sig_tag).await;
    let payload = repo.blob(&sig["layers"][0]).await;
    let (att, _) = repo.manifest(&att_tag).await;
    let mut envs = BTreeMap::new();
    for (i, l) in att["layers"].as_array().unwrap().iter().enumerate() {
        let env = parse(&repo.blob(l).await);
        let pt = l["annotations"]["predicateType"].as_str().unwrap();
        let key = [SPDX, SLSA, VULN]
            .into_iter()
            .find(|k| *k == pt)
            .unwrap_or_else(|| panic!("unexpected predicate type {pt}"));
        envs.insert(key, (i, env));
    }
    assert_eq!(envs.len(), 3, "{att}");
    let (index, _) = repo.manifest(&idx_tag).await;
    let bundle_pos = position(&index, BUNDLE);
    let notation_pos = position(&index, NOTATION);
    let (bundle_ref, _) = repo
        .manifest(index["manifests"][bundle_pos]["digest"].as_str().unwrap())
        .await;
    let bundle = parse(&repo.blob(&bundle_ref["layers"][0]).await);
    let (notation_ref, _) = repo
        .manifest(index["manifests"][notation_pos]["digest"].as_str().unwrap())
        .await;
    let jws = parse(&repo.blob(&notation_ref["layers"][0]).await);

    let (b_sig, _) = repo.manifest(&tag(&b.digest, ".sig")).await;
    let b_payload = repo.blob(&b_sig["layers"][0]).await;
    let (b_att, _) = repo.manifest(&tag(&b.digest, ".att")).await;
    let b_slsa_env = repo.blob(&b_att["layers"][0]).await;
    let (b_index, _) = repo.manifest(&tag(&b.digest, "")).await;
    let b_bundle_entry = b_index["manifests"][position(&b_index, BUNDLE)].clone();
    let b_notation_entry = b_index["manifests"][position(&b_index, NOTATION)].clone();
    let mut stored = Vec::new();
    for t in [&sig_tag, &att_tag, &idx_tag] {
        stored.push((t.clone(), repo.manifest(t).await.1));
    }
    let (b_bundle_ref, _) = repo
        .manifest(
            b_index["manifests"][position(&b_index, BUNDLE)]["digest"]
                .as_str()
                .unwrap(),
        )
        .await;
    let b_bundle = repo.blob(&b_bundle_ref["layers"][0]).await;
    let (b_notation_ref, _) = repo
        .manifest(
            b_index["manifests"][position(&b_index, NOTATION)]["digest"]
                .as_str()
                .unwrap(),
        )
        .await;
    let b_jws = repo.blob(&b_notation_ref["layers"][0]).await;

    Ctx {
        repo,
        image,
        a,
        sig_tag,
        att_tag,
        idx_tag,
        sig,
        payload,
        att,
        envs,
        index,
        bundle_pos,
        bundle_ref,
        bundle,
        notation_pos,
        notation_ref,
        jws,
        b,
        b_sig,
        b_payload,
        b_att,
        b_slsa_env,
        b_bundle_entry,
        b_notation_entry,
        stored,
        b_bundle,
        b_jws,
        c,
        factory,
        mallory,
        notary,
        chain,
    }
}

/// Artifacts re-made the honest way with the helpers the mutations use: each must be
/// ALLOWED, which shows that a refused mutation is refused for what it changed.
async fn controls(c: &Ctx) -> Vec<(String, Vec<Write>)> {
    let mut out = Vec::new();
    out.push(("the stored artifacts, untouched".to_string(), vec![]));
    let s = sign(&c.factory, &c.payload).await;
    let mut w = vec![Write::Blob(c.payload.clone())];
    w.push(c.sig_layer(c.cosign_layer(&c.payload, &s)));
    out.push(("cosign layer re-signed by the factory key".into(), w));
    let env = dsse(INTOTO, &bytes(&c.statement()), &c.factory, "").await;
    out.push((
        "SLSA envelope re-signed by the factory key".into(),
        c.att_env(SLSA, env),
    ));
    let s = sign(&c.factory, &c.a.bytes).await;
    let mut b = c.bundle.clone();
    b["messageSignature"]["signature"] = json!(b64(&s));
    out.push((
        "bundle re-signed by the factory key".into(),
        c.bundle_json(&b),
    ));
    let j = jws(&c.protected(), &c.jws_payload(), &c.chain, &c.notary).await;
    out.push((
        "Notation envelope re-signed by the notary key".into(),
        c.jws_blob(j),
    ));
    let mut idx = c.index.clone();
    idx["manifests"]
        .as_array_mut()
        .unwrap()
        .push(c.index["manifests"][c.bundle_pos].clone());
    out.push((
        "referrers index listing the bundle twice".into(),
        vec![Write::tagged(&c.idx_tag, &idx)],
    ));
    out
}

/// Every mutation.
async fn catalogue(c: &Ctx) -> Vec<Mutation> {
    let mut m: Vec<Mutation> = Vec::new();
    let mut add = |family: &'static str, name: &str, writes: Vec<Write>, expect| {
        m.push(Mutation {
            family,
            name: name.to_string(),
            writes,
            expect,
        })
    };
    let a = c.a_digest();
    let bd = &c.b.digest;
    let other_digest = bd.to_string();

    // ---- cosign simple-signing payload (the signature annotation kept) ----
    let f = "cosign payload";
    let p = c.payload.clone();
    add(f, "one bit flipped", c.sig_payload(flip(p.clone())), SIG);
    add(
        f,
        "truncated by one byte",
        c.sig_payload(p[..p.len() - 1].to_vec()),
        SIG,
    );
    let mut ext = p.clone();
    ext.push(b'\n');
    add(f, "extended by a newline", c.sig_payload(ext), SIG);
    let mut ext = p[..p.len() - 1].to_vec();
    ext.extend_from_slice(br#","extra":1}"#);
    add(f, "extended by a field", c.sig_payload(ext), SIG);
    let pv = parse(&p);
    let reordered = format!(
        r#"{{"optional":null,"critical":{{"type":{},"image":{},"identity":{}}}}}"#,
        pv["critical"]["type"], pv["critical"]["image"], pv["critical"]["identity"]
    );
    add(
        f,
        "JSON keys reordered",
        c.sig_payload(reordered.into_bytes()),
        SIG,
    );
    add(
        f,
        "whitespace (pretty-printed)",
        c.sig_payload(serde_json::to_vec_pretty(&pv).unwrap()),
        SIG,
    );
    let mut v = pv.clone();
    v["critical"]["image"]["docker-manifest-digest"] = json!(other_digest);
    add(
        f,
        "digest in the payload -> B",
        c.sig_payload(bytes(&v)),
        SIG,
    );
    let mut v = pv.clone();
    v["critical"]["image"]["docker-manifest-digest"] = json!(a.to_string().to_uppercase());
    add(
        f,
        "digest in the payload upper-cased",
        c.sig_payload(bytes(&v)),
        SIG,
    );
    let mut v = pv.clone();
    v["critical"]["type"] = json!("atomic container signature");
    add(f, "critical.type changed", c.sig_payload(bytes(&v)), SIG);
    let mut v = pv.clone();
    v["critical"]["identity"]["docker-reference"] = json!("evil.example/app");
    add(f, "docker-reference changed", c.sig_payload(bytes(&v)), SIG);

    // ---- cosign signature annotation ----
    let f = "cosign signature annotation";
    let layer = c.sig["layers"][0].clone();
    let orig = layer["annotations"][SIG_ANN].as_str().unwrap().to_string();
    let with = |s: Value| {
        let mut l = layer.clone();
        l["annotations"][SIG_ANN] = s;
        c.sig_layer(l)
    };
    add(
        f,
        "one bit flipped",
        vec![with(json!(flip_b64(&orig)))],
        SIG,
    );
    let raw = unb64(&orig);
    add(
        f,
        "truncated by one byte",
        vec![with(json!(b64(&raw[..raw.len() - 1])))],
        SIG,
    );
    add(f, "empty", vec![with(json!(""))], SIG);
    add(f, "not base64", vec![with(json!("!!not base64!!"))], SIG);
    let mut l = layer.clone();
    l["annotations"] = json!({});
    add(f, "removed", vec![c.sig_layer(l)], SIG);
    let b_sig = c.b_sig["layers"][0]["annotations"][SIG_ANN].clone();
    add(f, "B's valid signature", vec![with(b_sig)], SIG);
    let ms = sign(&c.mallory, &c.payload).await;
    add(
        f,
        "valid signature by an untrusted key",
        vec![with(json!(b64(&ms)))],
        SIG,
    );
    let mut l = c.cosign_layer(&c.payload, &ms);
    l["annotations"]["dev.sigstore.cosign/certificate"] =
        json!(kiln_sign::notation::cert::to_pem(&c.chain[0]));
    l["annotations"]["dev.sigstore.cosign/chain"] =
        json!(kiln_sign::notation::cert::to_pem(&c.chain[1]));
    add(
        f,
        "untrusted signature with the trusted certificate/chain annotations",
        vec![c.sig_layer(l)],
        SIG,
    );
    let mut l = c.cosign_layer(&c.payload, &ms);
    l["annotations"]["dev.sigstore.cosign/bundle"] = json!(
        json!({"SignedEntryTimestamp": b64(b"x"), "Payload": {"body": b64(b"{}"),
            "integratedTime": 1, "logIndex": 1, "logID": "00"}})
        .to_string()
    );
    add(
        f,
        "untrusted signature with a Rekor bundle annotation",
        vec![c.sig_layer(l)],
        SIG,
    );

    // ---- .sig manifest ----
    let f = ".sig manifest";
    let mut l = layer.clone();
    l["digest"] = json!(digest(&c.b_payload));
    l["size"] = json!(c.b_payload.len());
    add(f, "layer digest -> B's payload", vec![c.sig_layer(l)], SIG);
    let mut l = layer.clone();
    l["digest"] = c.a_config_digest();
    l["size"] = c.a_config_size();
    add(f, "layer digest -> another blob", vec![c.sig_layer(l)], SIG);
    for (name, delta) in [("layer size + 1", 1i64), ("layer size - 1", -1)] {
        let mut l = layer.clone();
        l["size"] = json!(c.payload.len() as i64 + delta);
        add(f, name, vec![c.sig_layer(l)], SIG);
    }
    for mt in [
        "application/vnd.dsse.envelope.v1+json",
        "application/octet-stream",
        "",
    ] {
        let mut l = layer.clone();
        l["mediaType"] = json!(mt);
        add(
            f,
            &format!("layer mediaType {mt:?}"),
            vec![c.sig_layer(l)],
            SIG,
        );
    }
    let tampered = {
        let mut l = layer.clone();
        l["annotations"][SIG_ANN] = json!(flip_b64(&orig));
        l
    };
    let mallory_layer = c.cosign_layer(&c.payload, &ms);
    let b_layer = c.b_sig["layers"][0].clone();
    for (name, extra) in [
        (
            "tampered layer + untrusted-key layer",
            vec![tampered.clone(), mallory_layer],
        ),
        (
            "tampered layer + B's valid layer",
            vec![tampered.clone(), b_layer],
        ),
        (
            "tampered layer twice",
            vec![tampered.clone(), tampered.clone()],
        ),
    ] {
        let mut s = c.sig.clone();
        s["layers"] = json!(extra);
        add(
            f,
            &format!("extra layers: {name}"),
            vec![Write::tagged(&c.sig_tag, &s)],
            SIG,
        );
    }
    let mut s = c.sig.clone();
    s["layers"] = json!(vec![layer.clone(); 513]);
    add(
        f,
        "513 layers (over the limit) around the valid one",
        vec![Write::tagged(&c.sig_tag, &s)],
        SIG,
    );
    let mut s = c.sig.clone();
    s["layers"] = json!([]);
    add(
        f,
        "no layers (signature removed)",
        vec![Write::tagged(&c.sig_tag, &s)],
        SIG,
    );
    let wrapped = json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX,
        "manifests": [desc(media_type::OCI_MANIFEST, &bytes(&c.sig))]});
    add(
        f,
        ".sig tag -> an index wrapping the valid manifest",
        vec![Write::tagged(&c.sig_tag, &wrapped)],
        SIG,
    );
    add(
        f,
        ".sig tag -> B's .sig manifest (reuse across images)",
        vec![Write::tagged(&c.sig_tag, &c.b_sig)],
        SIG,
    );
    let other = simple_signing(&pv, bd);
    let s = sign(&c.factory, &other).await;
    let mut w = vec![Write::Blob(other.clone())];
    w.push(c.sig_layer(c.cosign_layer(&other, &s)));
    add(f, "trusted key signing B's digest", w, SIG);
    let mut v = pv.clone();
    v["critical"]["type"] = json!("atomic container signature");
    let tb = bytes(&v);
    let s = sign(&c.factory, &tb).await;
    let mut w = vec![Write::Blob(tb.clone())];
    w.push(c.sig_layer(c.cosign_layer(&tb, &s)));
    add(f, "trusted key signing another payload type", w, SIG);

    // ---- attestations: DSSE envelopes in .att ----
    let f = "DSSE envelope (SLSA)";
    let env = c.envs[SLSA].1.clone();
    let st = c.statement();
    let stb = unb64(env["payload"].as_str().unwrap());
    add(
        f,
        "payload: one bit flipped",
        c.slsa_payload(&flip(stb.clone())),
        ATT,
    );
    add(
        f,
        "payload: truncated",
        c.slsa_payload(&stb[..stb.len() - 1]),
        ATT,
    );
    let mut ext = stb.clone();
    ext.extend_from_slice(b" ");
    add(f, "payload: extended", c.slsa_payload(&ext), ATT);
    let reordered = format!(
        r#"{{"predicate":{},"predicateType":{},"subject":{},"_type":{}}}"#,
        st["predicate"], st["predicateType"], st["subject"], st["_type"]
    );
    add(
        f,
        "payload: JSON keys reordered",
        c.slsa_payload(reordered.as_bytes()),
        ATT,
    );
    add(
        f,
        "payload: whitespace",
        c.slsa_payload(&serde_json::to_vec_pretty(&st).unwrap()),
        ATT,
    );
    for (name, edit) in [
        ("subject digest -> B", json!({"sha256": bd.hex()})),
        (
            "subject digest algorithm sha512",
            json!({"sha512": a.hex()}),
        ),
    ] {
        let mut s = st.clone();
        s["subject"][0]["digest"] = edit;
        add(
            f,
            &format!("{name} (unsigned)"),
            c.slsa_payload(&bytes(&s)),
            ATT,
        );
    }
    let mut s = st.clone();
    s["subject"][0]["name"] = json!("evil.example/app");
    add(f, "subject name changed", c.slsa_payload(&bytes(&s)), ATT);
    let mut s = st.clone();
    s["subject"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "x", "digest": {"sha256": bd.hex()}}));
    add(f, "extra subject", c.slsa_payload(&bytes(&s)), ATT);
    let mut s = st.clone();
    s["predicateType"] = json!(VULN);
    add(f, "predicateType changed", c.slsa_payload(&bytes(&s)), ATT);
    let mut s = st.clone();
    s["predicate"]["runDetails"]["builder"]["id"] = json!("https://evil.example/b");
    add(f, "builder id changed", c.slsa_payload(&bytes(&s)), ATT);
    let mut e = env.clone();
    e["payloadType"] = json!("application/json");
    add(f, "payloadType changed", c.slsa_env(&e), ATT);
    let mut e = env.clone();
    e["signatures"] = json!([]);
    add(f, "signatures: empty", c.slsa_env(&e), ATT);
    let sig0 = env["signatures"][0]["sig"].as_str().unwrap().to_string();
    let mut e = env.clone();
    e["signatures"][0]["sig"] = json!(flip_b64(&sig0));
    add(f, "signature: one bit flipped", c.slsa_env(&e), ATT);
    let raw = unb64(&sig0);
    let mut e = env.clone();
    e["signatures"][0]["sig"] = json!(b64(&raw[..raw.len() - 1]));
    add(f, "signature: truncated", c.slsa_env(&e), ATT);
    let mut e = env.clone();
    e["signatures"][0]["sig"] = json!("");
    add(f, "signature: empty", c.slsa_env(&e), ATT);
    let mut e = env.clone();
    let bad = json!({"keyid": "", "sig": flip_b64(&sig0)});
    e["signatures"] = json!([bad.clone(), bad.clone()]);
    add(
        f,
        "signatures: a tampered one, duplicated",
        c.slsa_env(&e),
        ATT,
    );
    let b_env = parse(&c.b_slsa_env);
    let mut e = env.clone();
    e["signatures"] = b_env["signatures"].clone();
    add(f, "signatures: B's valid signature", c.slsa_env(&e), ATT);
    let fp = c.factory.key().public_key().fingerprint();
    let evil = dsse(INTOTO, &stb, &c.mallory, &fp).await;
    add(
        f,
        "valid signature by an untrusted key (keyid claims the factory key)",
        c.att_env(SLSA, evil),
        ATT,
    );
    let mut both = parse(&dsse(INTOTO, &stb, &c.mallory, &fp).await);
    both["signatures"][0]["sig"] = json!(flip_b64(&sig0));
    add(
        f,
        "keyid of the factory on a tampered signature",
        c.slsa_env(&both),
        ATT,
    );
    // Trusted key, wrong content.
    let mut s = st.clone();
    s["subject"][0]["digest"] = json!({"sha256": bd.hex()});
    let e = dsse(INTOTO, &bytes(&s), &c.factory, "").await;
    add(
        f,
        "trusted key attesting B's digest",
        c.att_env(SLSA, e),
        ATT,
    );
    let mut s = st.clone();
    s["subject"][0]["digest"] = json!({"sha512": a.hex()});
    let e = dsse(INTOTO, &bytes(&s), &c.factory, "").await;
    add(
        f,
        "trusted key, subject digest under sha512",
        c.att_env(SLSA, e),
        ATT,
    );
    let e = dsse("application/json", &stb, &c.factory, "").await;
    add(
        f,
        "trusted key, another payloadType",
        c.att_env(SLSA, e),
        ATT,
    );
    let mut s = st.clone();
    s["predicateType"] = json!(VULN);
    let e = dsse(INTOTO, &bytes(&s), &c.factory, "").await;
    add(
        f,
        "trusted key, predicateType differs from the annotation",
        c.att_env(SLSA, e),
        ATT,
    );
    let mut s = st.clone();
    s["_type"] = json!("https://in-toto.io/Statement/v9");
    let e = dsse(INTOTO, &bytes(&s), &c.factory, "").await;
    add(
        f,
        "trusted key, unknown statement _type",
        c.att_env(SLSA, e),
        ATT,
    );
    let mut s = st.clone();
    s["predicate"]["runDetails"]["builder"]["id"] = json!("https://evil.example/b");
    let e = dsse(INTOTO, &bytes(&s), &c.factory, "").await;
    add(
        f,
        "trusted key, builder that fails the condition",
        c.att_env(SLSA, e),
        ATT,
    );

    let f = ".att manifest";
    let (i, _) = c.envs[SLSA];
    let al = c.att["layers"][i].clone();
    let mut l = al.clone();
    l["annotations"]["predicateType"] = json!(VULN);
    add(
        f,
        "predicateType annotation changed",
        c.att_layer(SLSA, l),
        ATT,
    );
    let mut l = al.clone();
    l["mediaType"] = json!("application/vnd.dev.cosign.simplesigning.v1+json");
    add(f, "layer mediaType changed", c.att_layer(SLSA, l), ATT);
    let mut l = al.clone();
    l["digest"] = json!(digest(&c.b_slsa_env));
    l["size"] = json!(c.b_slsa_env.len());
    add(
        f,
        "layer digest -> B's SLSA envelope",
        c.att_layer(SLSA, l),
        ATT,
    );
    let mut l = al.clone();
    l["size"] = json!(al["size"].as_u64().unwrap() + 1);
    add(f, "layer size + 1", c.att_layer(SLSA, l), ATT);
    add(
        f,
        ".att tag -> B's .att manifest (reuse across images)",
        vec![Write::tagged(&c.att_tag, &c.b_att)],
        ATT,
    );
    let mut t = c.att.clone();
    t["layers"].as_array_mut().unwrap().remove(i);
    add(
        f,
        "SLSA layer removed",
        vec![Write::tagged(&c.att_tag, &t)],
        ATT,
    );
    for pt in [SPDX, VULN] {
        let e = c.envs[pt].1.clone();
        let sb = unb64(e["payload"].as_str().unwrap());
        let mut e2 = e.clone();
        e2["payload"] = json!(b64(&flip(sb)));
        add(
            f,
            &format!("{pt}: payload bit flipped"),
            c.att_env(pt, bytes(&e2)),
            ATT,
        );
        let mut e2 = e.clone();
        let s0 = e["signatures"][0]["sig"].as_str().unwrap();
        e2["signatures"][0]["sig"] = json!(flip_b64(s0));
        add(
            f,
            &format!("{pt}: signature bit flipped"),
            c.att_env(pt, bytes(&e2)),
            ATT,
        );
    }

    // ---- Sigstore bundle (message signature) ----
    let f = "bundle";
    let bu = c.bundle.clone();
    let ms_sig = bu["messageSignature"]["signature"]
        .as_str()
        .unwrap()
        .to_string();
    let mut b = bu.clone();
    b["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.1");
    add(f, "mediaType v0.1", c.bundle_json(&b), SIG);
    let mut b = bu.clone();
    b["verificationMaterial"] = json!({});
    add(f, "verificationMaterial emptied", c.bundle_json(&b), SIG);
    let mut b = bu.clone();
    b["messageSignature"]["messageDigest"]["digest"] = json!(b64(&bd.raw()));
    add(f, "messageDigest -> B (unsigned)", c.bundle_json(&b), SIG);
    let mut b = bu.clone();
    b["messageSignature"]["messageDigest"]["digest"] = json!(flip_b64(&b64(&a.raw())));
    add(f, "messageDigest: one bit flipped", c.bundle_json(&b), SIG);
    let mut b = bu.clone();
    b["messageSignature"]["messageDigest"]["algorithm"] = json!("SHA2_384");
    add(
        f,
        "messageDigest algorithm SHA2_384",
        c.bundle_json(&b),
        SIG,
    );
    let mut b = bu.clone();
    b["messageSignature"]["signature"] = json!(flip_b64(&ms_sig));
    add(f, "signature: one bit flipped", c.bundle_json(&b), SIG);
    let raw = unb64(&ms_sig);
    let mut b = bu.clone();
    b["messageSignature"]["signature"] = json!(b64(&raw[..raw.len() - 1]));
    add(f, "signature: truncated", c.bundle_json(&b), SIG);
    let mut b = bu.clone();
    b["messageSignature"]["signature"] = json!("");
    add(f, "signature: empty", c.bundle_json(&b), SIG);
    let bb = parse(&c.b_bundle);
    let mut b = bu.clone();
    b["messageSignature"]["signature"] = bb["messageSignature"]["signature"].clone();
    add(f, "signature: B's valid signature", c.bundle_json(&b), SIG);
    add(
        f,
        "B's whole bundle (reuse across images)",
        c.bundle_blob(c.b_bundle.clone()),
        SIG,
    );
    let mut b = bu.clone();
    b.as_object_mut().unwrap().remove("messageSignature");
    b["dsseEnvelope"] = json!({"payload": b64(&stb), "payloadType": INTOTO,
        "signatures": env["signatures"].clone()});
    add(
        f,
        "messageSignature replaced by a DSSE envelope",
        c.bundle_json(&b),
        SIG,
    );
    let s = sign(&c.mallory, &c.a.bytes).await;
    let mut b = bu.clone();
    b["messageSignature"]["signature"] = json!(b64(&s));
    add(
        f,
        "valid signature by an untrusted key (hint kept: the factory's)",
        c.bundle_json(&b),
        SIG,
    );
    let mut b2 = b.clone();
    b2["verificationMaterial"]["tlogEntries"] = json!([{"logIndex": "1", "logId": {"keyId": b64(b"rekor")},
        "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"}, "integratedTime": "1",
        "canonicalizedBody": b64(b"{}")}]);
    add(
        f,
        "untrusted signature with a made-up tlog entry",
        c.bundle_json(&b2),
        SIG,
    );
    let s = sign(&c.factory, &c.b.bytes).await;
    let mut b = bu.clone();
    b["messageSignature"]["messageDigest"]["digest"] = json!(b64(&bd.raw()));
    b["messageSignature"]["signature"] = json!(b64(&s));
    add(f, "trusted key signing B's digest", c.bundle_json(&b), SIG);
    let mut b = bu.clone();
    b["messageSignature"]["signature"] = json!(b64(&s));
    add(
        f,
        "trusted key's signature over B, digest of A",
        c.bundle_json(&b),
        SIG,
    );

    let f = "bundle referrer manifest";
    let br = c.bundle_ref.clone();
    let mut r = br.clone();
    r["artifactType"] = json!("application/vnd.example.other");
    add(
        f,
        "artifactType changed",
        c.index_entry(c.bundle_pos, Some(&r)),
        SIG,
    );
    let mut r = br.clone();
    r["layers"][0]["mediaType"] = json!("application/json");
    add(
        f,
        "layer mediaType changed",
        c.index_entry(c.bundle_pos, Some(&r)),
        SIG,
    );
    let mut r = br.clone();
    r["subject"] = json!(desc(media_type::OCI_MANIFEST, &c.b.bytes));
    add(
        f,
        "subject -> B",
        c.index_entry(c.bundle_pos, Some(&r)),
        SIG,
    );
    let mut r = br.clone();
    r["layers"][0]["digest"] = json!(digest(&c.b_bundle));
    r["layers"][0]["size"] = json!(c.b_bundle.len());
    add(
        f,
        "layer digest -> B's bundle",
        c.index_entry(c.bundle_pos, Some(&r)),
        SIG,
    );
    add(
        f,
        "downgrade: bundle removed, legacy .sig still valid",
        c.index_entry(c.bundle_pos, None),
        SIG,
    );

    // ---- Notation ----
    let f = "Notation JWS";
    let j = c.jws.clone();
    let prot = c.protected();
    let pay = c.jws_payload();
    let pay_b = unb64url(j["payload"].as_str().unwrap());
    let set_payload = |b: &[u8]| {
        let mut j = j.clone();
        j["payload"] = json!(b64url(b));
        c.jws_json(&j)
    };
    add(
        f,
        "payload: one bit flipped",
        set_payload(&flip(pay_b.clone())),
        SIG,
    );
    add(
        f,
        "payload: truncated",
        set_payload(&pay_b[..pay_b.len() - 1]),
        SIG,
    );
    let mut ext = pay_b.clone();
    ext.push(b' ');
    add(f, "payload: extended", set_payload(&ext), SIG);
    let t = &pay["targetArtifact"];
    let reordered = format!(
        r#"{{"targetArtifact":{{"size":{},"digest":{},"mediaType":{}}}}}"#,
        t["size"], t["digest"], t["mediaType"]
    );
    add(
        f,
        "payload: JSON keys reordered",
        set_payload(reordered.as_bytes()),
        SIG,
    );
    add(
        f,
        "payload: whitespace",
        set_payload(&serde_json::to_vec_pretty(&pay).unwrap()),
        SIG,
    );
    let mut p2 = pay.clone();
    p2["targetArtifact"]["digest"] = json!(other_digest);
    add(
        f,
        "payload: target digest -> B (unsigned)",
        set_payload(&bytes(&p2)),
        SIG,
    );
    for (name, key, value) in [
        ("alg ES384", "alg", json!("ES384")),
        ("alg none", "alg", json!("none")),
        ("cty changed", "cty", json!("application/json")),
        (
            "signingScheme notary.x509.signingAuthority",
            "io.cncf.notary.signingScheme",
            json!("notary.x509.signingAuthority"),
        ),
        (
            "signingTime moved",
            "io.cncf.notary.signingTime",
            json!("2020-01-01T00:00:00Z"),
        ),
        ("crit emptied", "crit", json!([])),
    ] {
        let mut p = prot.clone();
        p[key] = value;
        add(
            f,
            &format!("protected {name} (unsigned)"),
            c.jws_protected(&p),
            SIG,
        );
    }
    let mut p = prot.clone();
    p["io.cncf.notary.expiry"] = json!("2099-01-01T00:00:00Z");
    p["crit"]
        .as_array_mut()
        .unwrap()
        .push(json!("io.cncf.notary.expiry"));
    add(
        f,
        "protected expiry added (unsigned)",
        c.jws_protected(&p),
        SIG,
    );
    let sig0 = j["signature"].as_str().unwrap();
    let rawsig = unb64url(sig0);
    let mut j2 = j.clone();
    j2["signature"] = json!(b64url(&flip(rawsig.clone())));
    add(f, "signature: one bit flipped", c.jws_json(&j2), SIG);
    let mut j2 = j.clone();
    j2["signature"] = json!(b64url(&rawsig[..rawsig.len() - 1]));
    add(f, "signature: truncated", c.jws_json(&j2), SIG);
    let mut j2 = j.clone();
    j2["signature"] = json!("");
    add(f, "signature: empty", c.jws_json(&j2), SIG);
    let bj = parse(&c.b_jws);
    let mut j2 = j.clone();
    j2["signature"] = bj["signature"].clone();
    add(f, "signature: B's valid signature", c.jws_json(&j2), SIG);
    add(
        f,
        "B's whole envelope (reuse across images)",
        c.jws_blob(c.b_jws.clone()),
        SIG,
    );

    let f = "Notation header (re-signed by the trusted key)";
    let resign = |p: Value, pl: Value| async move { jws(&p, &pl, &c.chain, &c.notary).await };
    let crit_with_expiry = |mut p: Value, expiry: &str| {
        p["io.cncf.notary.expiry"] = json!(expiry);
        p["crit"] = json!(["io.cncf.notary.signingScheme", "io.cncf.notary.expiry"]);
        p
    };
    let mut cases: Vec<(&str, Value, Value)> = Vec::new();
    let mut p = prot.clone();
    p["alg"] = json!("ES384");
    cases.push(("alg ES384 for a P-256 key", p, pay.clone()));
    let mut p = prot.clone();
    p["alg"] = json!("none");
    cases.push(("alg none", p, pay.clone()));
    let mut p = prot.clone();
    p["cty"] = json!("application/json");
    cases.push(("cty changed", p, pay.clone()));
    let mut p = prot.clone();
    p["io.cncf.notary.signingScheme"] = json!("notary.x509.signingAuthority");
    cases.push(("signingScheme notary.x509.signingAuthority", p, pay.clone()));
    let mut p = prot.clone();
    p.as_object_mut()
        .unwrap()
        .remove("io.cncf.notary.signingTime");
    cases.push(("signingTime missing", p, pay.clone()));
    let mut p = prot.clone();
    p["io.cncf.notary.signingTime"] = json!("yesterday");
    cases.push(("signingTime not RFC 3339", p, pay.clone()));
    cases.push((
        "expiry in the past",
        crit_with_expiry(prot.clone(), "2020-01-01T00:00:00Z"),
        pay.clone(),
    ));
    let mut p = crit_with_expiry(prot.clone(), "2098-01-01T00:00:00Z");
    p["io.cncf.notary.signingTime"] = json!("2099-01-01T00:00:00Z");
    cases.push((
        "signingTime after expiry (both in the future)",
        p,
        pay.clone(),
    ));
    let mut p = prot.clone();
    p["io.cncf.notary.expiry"] = json!("2020-01-01T00:00:00Z");
    cases.push(("expiry in the past, not marked critical", p, pay.clone()));
    let mut p = prot.clone();
    p.as_object_mut().unwrap().remove("crit");
    cases.push(("crit missing", p, pay.clone()));
    let mut p = prot.clone();
    p["crit"] = json!(["io.cncf.notary.signingScheme", "io.example.unknown"]);
    p["io.example.unknown"] = json!("x");
    cases.push(("crit names an unknown header", p, pay.clone()));
    let mut p = prot.clone();
    p["crit"] = json!(["io.cncf.notary.signingScheme", "io.cncf.notary.expiry"]);
    cases.push(("crit names an absent expiry", p, pay.clone()));
    let mut p = prot.clone();
    p["crit"] = json!(["io.cncf.notary.expiry"]);
    p["io.cncf.notary.expiry"] = json!("2099-01-01T00:00:00Z");
    cases.push(("crit without signingScheme", p, pay.clone()));
    let mut pl = pay.clone();
    pl["targetArtifact"]["digest"] = json!(other_digest);
    cases.push((
        "target digest -> B (trusted key, other digest)",
        prot.clone(),
        pl,
    ));
    let mut pl = pay.clone();
    pl["targetArtifact"]["size"] = json!(pay["targetArtifact"]["size"].as_u64().unwrap() + 1);
    cases.push(("target size + 1", prot.clone(), pl));
    let mut pl = pay.clone();
    pl["targetArtifact"]["mediaType"] = json!(media_type::OCI_INDEX);
    cases.push(("target mediaType changed", prot.clone(), pl));
    let mut pl = pay.clone();
    pl["targetArtifact"] = json!(null);
    cases.push(("target removed", prot.clone(), pl));
    for (name, p, pl) in cases {
        let j = resign(p, pl).await;
        add(f, name, c.jws_blob(j), SIG);
    }

    let f = "Notation certificate chain";
    let chain = c.chain.clone();
    let with_x5c = |x5c: Vec<String>| {
        let mut j = j.clone();
        j["header"]["x5c"] = json!(x5c);
        c.jws_json(&j)
    };
    let enc = |v: &[Vec<u8>]| v.iter().map(|d| b64(d)).collect::<Vec<_>>();
    add(
        f,
        "x5c reordered (CA first)",
        with_x5c(enc(&[chain[1].clone(), chain[0].clone()])),
        SIG,
    );
    add(
        f,
        "x5c truncated to the leaf",
        with_x5c(enc(&chain[..1])),
        SIG,
    );
    add(f, "x5c empty", with_x5c(vec![]), SIG);
    add(
        f,
        "x5c entry not base64",
        with_x5c(vec!["!!".into(), b64(&chain[1])]),
        SIG,
    );
    add(
        f,
        "x5c leaf not DER",
        with_x5c(vec![b64(b"not a certificate"), b64(&chain[1])]),
        SIG,
    );
    add(
        f,
        "x5c leaf twice",
        with_x5c(enc(&[chain[0].clone(), chain[0].clone()])),
        SIG,
    );
    let rogue_ca = EphemeralKey::generate();
    let rogue_leaf = EphemeralKey::generate();
    let same_names = CertRequest {
        ca_subject: "CN=Kiln Signing CA,O=Kiln,ST=WA,C=US".into(),
        leaf_subject: SUBJECT.into(),
        ..CertRequest::default()
    };
    let rogue = make_chain(&rogue_leaf, &rogue_ca, &same_names)
        .await
        .unwrap();
    let j2 = jws(&prot, &pay, &rogue.x5c(), &rogue_leaf).await;
    add(
        f,
        "rogue CA with the trusted CA's and leaf's names",
        c.jws_blob(j2),
        SIG,
    );
    let j2 = jws(
        &prot,
        &pay,
        &[rogue.leaf_der.clone(), chain[1].clone()],
        &rogue_leaf,
    )
    .await;
    add(
        f,
        "rogue leaf presented with the trusted CA",
        c.jws_blob(j2),
        SIG,
    );
    let selfsigned = make_chain(
        &rogue_leaf,
        &rogue_leaf,
        &CertRequest {
            ca_subject: SUBJECT.into(),
            leaf_subject: SUBJECT.into(),
            ..CertRequest::default()
        },
    )
    .await
    .unwrap();
    let j2 = jws(
        &prot,
        &pay,
        std::slice::from_ref(&selfsigned.leaf_der),
        &rogue_leaf,
    )
    .await;
    add(
        f,
        "self-signed leaf with the trusted subject",
        c.jws_blob(j2),
        SIG,
    );
    let j2 = jws(
        &prot,
        &pay,
        &[selfsigned.leaf_der.clone(), chain[1].clone()],
        &rogue_leaf,
    )
    .await;
    add(
        f,
        "self-signed leaf followed by the trusted CA",
        c.jws_blob(j2),
        SIG,
    );
    let j2 = jws(
        &prot,
        &pay,
        &[chain[0].clone(), chain[1].clone(), rogue.ca_der.clone()],
        &c.notary,
    )
    .await;
    add(
        f,
        "valid chain with a rogue root appended",
        c.jws_blob(j2),
        SIG,
    );
    let other_id = make_chain(
        &c.notary,
        &rogue_ca,
        &CertRequest {
            leaf_subject: "CN=Mallory,O=Kiln,ST=WA,C=US".into(),
            ..CertRequest::default()
        },
    )
    .await
    .unwrap();
    let j2 = jws(&prot, &pay, &other_id.x5c(), &c.notary).await;
    add(
        f,
        "trusted key, certificate of another identity",
        c.jws_blob(j2),
        SIG,
    );

    let f = "Notation referrer manifest";
    let nr = c.notation_ref.clone();
    let mut r = nr.clone();
    r["artifactType"] = json!("application/vnd.example.other");
    add(
        f,
        "artifactType changed",
        c.index_entry(c.notation_pos, Some(&r)),
        SIG,
    );
    let mut r = nr.clone();
    r["layers"][0]["mediaType"] = json!("application/cose");
    add(
        f,
        "layer mediaType changed",
        c.index_entry(c.notation_pos, Some(&r)),
        SIG,
    );
    let mut r = nr.clone();
    let l0 = r["layers"][0].clone();
    r["layers"] = json!([l0.clone(), l0]);
    add(
        f,
        "envelope layer twice",
        c.index_entry(c.notation_pos, Some(&r)),
        SIG,
    );
    let mut r = nr.clone();
    r["subject"] = json!(desc(media_type::OCI_MANIFEST, &c.b.bytes));
    add(
        f,
        "subject -> B",
        c.index_entry(c.notation_pos, Some(&r)),
        SIG,
    );
    let mut r = nr.clone();
    r["subject"]["digest"] = json!(other_digest);
    r["subject"]["size"] = json!(c.b.bytes.len());
    r["layers"][0]["digest"] = json!(digest(&c.b_jws));
    r["layers"][0]["size"] = json!(c.b_jws.len());
    add(
        f,
        "B's envelope under a manifest whose subject is B",
        c.index_entry(c.notation_pos, Some(&r)),
        SIG,
    );
    let rogue_jws = jws(&prot, &pay, &rogue.x5c(), &rogue_leaf).await;
    let mut r = nr.clone();
    r["layers"][0]["digest"] = json!(digest(&rogue_jws));
    r["layers"][0]["size"] = json!(rogue_jws.len());
    r["annotations"]["io.cncf.notary.x509chain.thumbprint#S256"] =
        json!(kiln_sign::notation::image::thumbprints(&c.chain));
    let mut w = vec![Write::Blob(rogue_jws)];
    w.extend(c.index_entry(c.notation_pos, Some(&r)));
    add(
        f,
        "rogue envelope, thumbprints of the trusted chain",
        w,
        SIG,
    );

    // ---- the referrers index itself ----
    let f = "referrers index lies";
    let mut idx = c.index.clone();
    idx["manifests"][c.bundle_pos] = c.b_bundle_entry.clone();
    add(
        f,
        "bundle entry -> B's bundle referrer",
        vec![Write::tagged(&c.idx_tag, &idx)],
        SIG,
    );
    let mut idx = c.index.clone();
    idx["manifests"][c.notation_pos] = c.b_notation_entry.clone();
    add(
        f,
        "Notation entry -> B's Notation signature",
        vec![Write::tagged(&c.idx_tag, &idx)],
        SIG,
    );
    let mut idx = c.index.clone();
    idx["manifests"][c.bundle_pos]["artifactType"] = json!(NOTATION);
    idx["manifests"][c.notation_pos]["artifactType"] = json!(BUNDLE);
    add(
        f,
        "artifactTypes swapped",
        vec![Write::tagged(&c.idx_tag, &idx)],
        SIG,
    );
    let mut idx = c.index.clone();
    let nd = idx["manifests"][c.notation_pos]["digest"].clone();
    idx["manifests"][c.bundle_pos]["digest"] = nd;
    add(
        f,
        "bundle entry's digest -> the Notation manifest",
        vec![Write::tagged(&c.idx_tag, &idx)],
        SIG,
    );
    let mut idx = c.index.clone();
    idx["manifests"][c.notation_pos]["digest"] = json!(digest(&c.a.bytes));
    add(
        f,
        "Notation entry's digest -> the image itself",
        vec![Write::tagged(&c.idx_tag, &idx)],
        SIG,
    );
    let mut idx = c.index.clone();
    idx["manifests"] = json!([]);
    add(f, "empty", vec![Write::tagged(&c.idx_tag, &idx)], SIG);
    add(
        f,
        "index tag -> an image manifest",
        vec![Write::tagged(&c.idx_tag, &c.sig)],
        SIG,
    );

    // ---- the signed image's manifest under the tag ----
    let f = "image under the tag";
    let tag_to = |m: &Manifest| Write::Manifest {
        at: "v1".into(),
        bytes: m.bytes.clone(),
    };
    add(f, "tag -> unsigned image C", vec![tag_to(&c.c)], SIG);
    let cd = &c.c.digest;
    add(
        f,
        "tag -> C carrying copies of A's .sig, .att and referrers",
        vec![
            tag_to(&c.c),
            Write::tagged(&format!("{}.sig", cd.tag_form()), &c.sig),
            Write::tagged(&format!("{}.att", cd.tag_form()), &c.att),
            Write::tagged(&cd.tag_form(), &c.index),
        ],
        SIG,
    );
    let mut amd = desc(media_type::OCI_MANIFEST, &c.a.bytes);
    amd["platform"] = json!({"architecture": "amd64", "os": "linux"});
    let mut arm = desc(media_type::OCI_MANIFEST, &c.c.bytes);
    arm["platform"] = json!({"architecture": "arm64", "os": "linux"});
    let wrapped = json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX,
        "manifests": [amd, arm]});
    add(
        f,
        "tag -> an index of the signed image (amd64) and unsigned C (arm64)",
        vec![Write::tagged("v1", &wrapped)],
        SIG,
    );
    m
}

/// The cosign payload bytes `kiln sign` writes (same repository), for digest `d`.
fn simple_signing(pv: &Value, d: &Digest) -> Vec<u8> {
    kiln_sign::cosign::SimpleSigning::new(
        pv["critical"]["identity"]["docker-reference"]
            .as_str()
            .unwrap(),
        d,
    )
    .to_bytes()
}

impl Ctx {
    fn a_config_digest(&self) -> Value {
        json!(self.a.as_image().unwrap().config.digest.to_string())
    }
    fn a_config_size(&self) -> Value {
        json!(self.a.as_image().unwrap().config.size)
    }

    /// Puts back every reference a mutation may have moved.
    async fn restore(&self) {
        let mut writes = vec![Write::Manifest {
            at: "v1".into(),
            bytes: self.a.bytes.clone(),
        }];
        for (at, b) in &self.stored {
            writes.push(Write::Manifest {
                at: at.clone(),
                bytes: b.clone(),
            });
        }
        self.repo.apply(&writes).await.unwrap();
    }
}

/// Both deciders on the current registry state.
async fn decide(dir: &Path, image: &str, hook: &Webhook, review: &Value) -> (Verdict, Verdict) {
    let (d, i) = (dir.to_path_buf(), image.to_string());
    let cli = tokio::task::spawn_blocking(move || cli_verify(&d, &i, "policy.yaml"));
    let web = hook.validate(review).await;
    (cli.await.unwrap(), web)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutation_of_a_signed_image_is_refused_by_verify_and_admit() {
    let Some(registry) = kiln_testutil::registry() else {
        return;
    };
    let Some(_) = kiln_testutil::shared_vectors("k8s-admission") else {
        return;
    };
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let repository = format!("adversarial-{nonce}/app");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let c = setup(dir, &registry, &repository).await;
    std::fs::write(
        dir.join("policy.yaml"),
        policy(&format!("{registry}/{repository}")),
    )
    .unwrap();
    // Caches cannot be switched off (0 is refused); the smallest size and lifetimes make
    // every request decide afresh.
    let hook = Webhook::start(
        dir,
        "policy.yaml",
        &[
            "--cache-size",
            "0",
            "--cache-ttl",
            "1ms",
            "--tag-ttl",
            "1ms",
            "--registry-cache-bytes",
            "0",
        ],
    );
    let review = review("deployment_creation_unsigned.json", &c.image).unwrap();

    // Controls: allowed by both.
    let controls = controls(&c).await;
    let n_controls = controls.len();
    for (name, writes) in controls {
        c.repo.apply(&writes).await.unwrap();
        let (cli, web) = decide(dir, &c.image, &hook, &review).await;
        assert!(
            cli.allowed,
            "control {name:?}: kiln verify denied: {}",
            cli.reasons
        );
        assert!(
            web.allowed,
            "control {name:?}: webhook denied: {}",
            web.reasons
        );
        c.restore().await;
    }

    let mutations = catalogue(&c).await;
    let generated = mutations.len();
    #[derive(Default)]
    struct Row {
        tried: usize,
        cli: usize,
        web: usize,
    }
    let mut table: BTreeMap<&str, Row> = BTreeMap::new();
    let mut accepted = Vec::new();
    let mut unnamed = Vec::new();
    let mut tried = 0;
    for m in &mutations {
        if let Err(e) = c.repo.apply(&m.writes).await {
            panic!(
                "{} / {}: the registry refused the mutation: {e}",
                m.family, m.name
            );
        }
        let (cli, web) = decide(dir, &c.image, &hook, &review).await;
        c.restore().await;
        tried += 1;
        let row = table.entry(m.family).or_default();
        row.tried += 1;
        for (path, v, count) in [
            ("kiln verify", &cli, &mut row.cli),
            ("webhook", &web, &mut row.web),
        ] {
            if v.allowed {
                *count += 1;
                accepted.push(format!("{path}: {} / {}", m.family, m.name));
            } else if !m.expect.iter().any(|code| v.reasons.contains(code)) {
                unnamed.push(format!(
                    "{path}: {} / {}: no reason among {:?}: {}",
                    m.family, m.name, m.expect, v.reasons
                ));
            }
        }
    }
    // The valid state is back: still allowed.
    let (cli, web) = decide(dir, &c.image, &hook, &review).await;
    assert!(
        cli.allowed && web.allowed,
        "after restoring: {} / {}",
        cli.reasons,
        web.reasons
    );

    println!("\nAdversarial verification: {tried} mutations ({n_controls} controls allowed)");
    println!(
        "{:<48} {:>6} {:>22} {:>18}",
        "family", "tried", "accepted (kiln verify)", "accepted (webhook)"
    );
    let (mut t, mut a1, mut a2) = (0, 0, 0);
    for (f, r) in &table {
        println!("{f:<48} {:>6} {:>22} {:>18}", r.tried, r.cli, r.web);
        t += r.tried;
        a1 += r.cli;
        a2 += r.web;
    }
    println!("{:<48} {t:>6} {a1:>22} {a2:>18}", "total");
    for a in &accepted {
        println!("ACCEPTED {a}");
    }
    for u in &unnamed {
        println!("NO NAMED REASON {u}");
    }
    assert_eq!(tried, generated, "every generated mutation is tried");
    assert!(generated >= 150, "the catalogue shrank: {generated}");
    assert!(accepted.is_empty(), "accepted mutations: {accepted:#?}");
    assert!(
        unnamed.is_empty(),
        "denials without a named reason: {unnamed:#?}"
    );
}
