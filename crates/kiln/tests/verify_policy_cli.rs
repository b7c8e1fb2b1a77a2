//! End-to-end tests of `kiln verify IMAGE --policy FILE`: images in the test registry (and
//! an OCI layout) signed and attested by `kiln sign` / `kiln attest`, decided under a Kiln
//! policy and under a Kyverno policy converted by `kiln policy import-kyverno`; exit codes,
//! table and JSON output.

mod support;

use std::path::Path;
use std::process::Output;

use kiln_oci::manifest::{Descriptor, ImageManifest};
use kiln_oci::registry::RegistryOptions;
use kiln_oci::{ImageRef, Manifest, media_type};
use support::{kiln_with_password, text};

const PASSWORD: &str = "gate-Pa55word";
const BUILDER: &str = "https://kiln.dev/builder@v1";

fn kiln(dir: &Path, args: &[&str]) -> Output {
    kiln_with_password(dir, args, &[], PASSWORD)
}

/// Pushes a one-layer image (content unique to `seed`) to `reference`.
fn push_image(reference: &str, seed: &str) -> Manifest {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
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
        m
    })
}

fn ok(o: &Output) {
    assert!(o.status.success(), "{}", text(o));
}

/// Signs with `key` and attests provenance from `builder`.
fn sign_and_attest(dir: &Path, image: &str, key: &str, builder: &str) {
    ok(&kiln(dir, &["sign", "--key", key, image]));
    let predicate = dir.join(format!("prov-{}.json", builder.len()));
    std::fs::write(
        &predicate,
        serde_json::json!({
            "buildDefinition": {"buildType": "https://kiln.dev/build/v1", "externalParameters": {}},
            "runDetails": {"builder": {"id": builder}}
        })
        .to_string(),
    )
    .unwrap();
    ok(&kiln(
        dir,
        &[
            "attest",
            "--key",
            key,
            "--type",
            "slsaprovenance",
            "--predicate",
            predicate.to_str().unwrap(),
            image,
        ],
    ));
}

fn policy(prefix: &str, mode: &str) -> String {
    format!(
        r#"apiVersion: kiln.dev/v1alpha1
kind: ImagePolicy
spec:
  mode: {mode}
  signers:
    - name: factory
      publicKeyFile: factory.pub
  rules:
    - name: team
      images: ["{prefix}/*"]
      signatures:
        signers: [factory]
      attestations:
        - name: provenance
          predicateType: https://slsa.dev/provenance/v1
          conditions:
            - name: built-by-kiln
              rego: |
                allow if input.predicate.runDetails.builder.id == "{BUILDER}"
"#
    )
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

fn codes(v: &serde_json::Value) -> Vec<String> {
    v["decision"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn verify_policy_on_registry_images() {
    let Some(reg) = kiln_testutil::registry() else {
        return;
    };
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("{reg}/verify-policy-{nonce}");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&kiln(
        d,
        &["key", "generate", "--output-key-prefix", "factory"],
    ));
    ok(&kiln(
        d,
        &["key", "generate", "--output-key-prefix", "mallory"],
    ));
    std::fs::write(d.join("policy.yaml"), policy(&prefix, "enforce")).unwrap();
    std::fs::write(d.join("audit.yaml"), policy(&prefix, "audit")).unwrap();

    let good = format!("{prefix}/app:good");
    let m = push_image(&good, "good");
    sign_and_attest(d, &good, "factory.key", BUILDER);
    let wrong = format!("{prefix}/app:wrong");
    push_image(&wrong, "wrong");
    sign_and_attest(d, &wrong, "mallory.key", BUILDER);
    let rogue = format!("{prefix}/app:rogue");
    push_image(&rogue, "rogue");
    sign_and_attest(d, &rogue, "factory.key", "https://evil.example/b");
    let bare = format!("{prefix}/app:bare");
    push_image(&bare, "bare");

    // Allowed: exit 0, the digest and the evidence in JSON.
    let o = kiln(
        d,
        &[
            "verify",
            &good,
            "--policy",
            "policy.yaml",
            "--format",
            "json",
        ],
    );
    ok(&o);
    let v = json(&o);
    assert_eq!(v["decision"]["allowed"], true);
    assert_eq!(v["digest"], m.digest.to_string());
    assert_eq!(v["evidence"]["signatures"][0]["signers"][0], "factory");
    assert_eq!(
        v["evidence"]["predicateTypes"][0],
        "https://slsa.dev/provenance/v1"
    );
    assert!(v["policyVersion"].as_str().unwrap().starts_with("sha256:"));

    // Table output.
    let o = kiln(d, &["verify", &good, "--policy", "policy.yaml"]);
    ok(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("ALLOWED") && out.contains(&m.digest.to_string()),
        "{out}"
    );

    // Denied: exit 1 with every reason; --exit-code changes it.
    let o = kiln(
        d,
        &[
            "verify",
            &wrong,
            "--policy",
            "policy.yaml",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let c = codes(&json(&o));
    assert!(c.contains(&"missing-signature".to_string()), "{c:?}");
    assert!(c.contains(&"signature-invalid".to_string()), "{c:?}");
    let o = kiln(
        d,
        &[
            "verify",
            &rogue,
            "--policy",
            "policy.yaml",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(codes(&json(&o)), ["condition-failed"]);
    let o = kiln(
        d,
        &[
            "verify",
            &bare,
            "--policy",
            "policy.yaml",
            "--exit-code",
            "7",
        ],
    );
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("DENIED") && out.contains("missing-signature") && out.contains("team"),
        "{out}"
    );

    // Audit: allowed, warnings shown.
    let o = kiln(d, &["verify", &bare, "--policy", "audit.yaml"]);
    ok(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("ALLOWED") && out.contains("warn"), "{out}");

    // A policy with errors: exit 2 with the line.
    std::fs::write(
        d.join("broken.yaml"),
        "apiVersion: kiln.dev/v1alpha1\nkind: ImagePolicy\nspec:\n  rules: 3\n",
    )
    .unwrap();
    let o = kiln(d, &["verify", &good, "--policy", "broken.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("broken.yaml:4"), "{}", text(&o));

    // Kyverno: the same intent converted by `kiln policy import-kyverno` decides the same.
    let pem = std::fs::read_to_string(d.join("factory.pub")).unwrap();
    let indent = |n: usize| {
        pem.lines()
            .map(|l| format!("{}{l}", " ".repeat(n)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let kyverno = format!(
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: factory
spec:
  validationFailureAction: Enforce
  rules:
    - name: factory-images
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["{prefix}/*"]
          attestors:
            - entries:
                - keys:
                    publicKeys: |-
{}
          attestations:
            - type: https://slsa.dev/provenance/v1
              attestors:
                - entries:
                    - keys:
                        publicKeys: |-
{}
              conditions:
                - all:
                    - key: "{{{{ runDetails.builder.id }}}}"
                      operator: Equals
                      value: "{BUILDER}"
"#,
        indent(22),
        indent(26)
    );
    std::fs::write(d.join("kyverno.yaml"), kyverno).unwrap();
    let o = kiln(
        d,
        &[
            "policy",
            "import-kyverno",
            "kyverno.yaml",
            "--output",
            "converted.yaml",
        ],
    );
    ok(&o);
    for (image, allowed) in [
        (&good, true),
        (&wrong, false),
        (&rogue, false),
        (&bare, false),
    ] {
        for p in ["policy.yaml", "converted.yaml"] {
            let o = kiln(d, &["verify", image, "--policy", p, "--format", "json"]);
            assert_eq!(
                o.status.success(),
                allowed,
                "{image} under {p}: {}",
                text(&o)
            );
            assert_eq!(json(&o)["decision"]["allowed"], allowed);
        }
    }

    // An unreachable registry: denied in enforce mode with registry-error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gone = format!("{closed}/app:v1");
    std::fs::write(d.join("any.yaml"), policy("127.0.0.1:*", "enforce")).unwrap();
    let o = kiln(
        d,
        &[
            "verify",
            &gone,
            "--policy",
            "any.yaml",
            "--format",
            "json",
            "--timeout",
            "20",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(codes(&json(&o)).contains(&"registry-error".to_string()));
}

#[test]
fn verify_policy_on_a_layout_and_keeps_key_mode() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&kiln(
        d,
        &["key", "generate", "--output-key-prefix", "factory"],
    ));
    std::fs::write(d.join("policy.yaml"), policy("oci:*", "enforce")).unwrap();
    let image = format!("oci:{}:v1", d.join("layout").display());
    push_image(&image, "layout");
    let o = kiln(d, &["verify", &image, "--policy", "policy.yaml"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    sign_and_attest(d, &image, "factory.key", BUILDER);
    let o = kiln(d, &["verify", &image, "--policy", "policy.yaml"]);
    ok(&o);
    // Without --policy, today's key-based verification is unchanged.
    ok(&kiln(d, &["verify", "--key", "factory.pub", &image]));
    // --key and --policy do not mix.
    let o = kiln(
        d,
        &[
            "verify",
            "--key",
            "factory.pub",
            &image,
            "--policy",
            "policy.yaml",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
}
