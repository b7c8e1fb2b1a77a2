//! Evaluation against the example policy and its recorded cases: matching, N of M signers,
//! Rego conditions, audit mode, exclusions and fail-closed cases.

use std::path::PathBuf;

use kiln_policy::testcase::{Expect, parse_cases};
use kiln_policy::{Decision, Evidence, Policy, ReasonCode};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/policy")
}

fn policy() -> Policy {
    Policy::load(&examples().join("policy.yaml")).expect("example policy loads")
}

fn cases() -> Vec<kiln_policy::testcase::TestCase> {
    let p = examples().join("cases.json");
    parse_cases(&std::fs::read_to_string(&p).unwrap(), "cases.json").unwrap()
}

fn case(name: &str) -> Evidence {
    cases()
        .into_iter()
        .find(|c| c.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no case {name}"))
        .evidence
}

fn codes(d: &Decision) -> Vec<ReasonCode> {
    d.reasons.iter().map(|r| r.code).collect()
}

#[test]
fn every_recorded_case_gets_its_expected_decision() {
    let p = policy();
    let cases = cases();
    assert_eq!(cases.len(), 10);
    for c in cases {
        let d = p.evaluate(&c.evidence);
        let want = c.expect.unwrap() == Expect::Allow;
        assert_eq!(d.allowed, want, "{:?}: {d:#?}", c.name);
        if !want {
            assert!(!d.reasons.is_empty(), "a denial carries reasons");
        }
    }
}

#[test]
fn signed_and_attested_is_allowed_without_reasons() {
    let d = policy().evaluate(&case("signed and attested"));
    assert!(d.allowed);
    assert!(d.reasons.is_empty() && d.warnings.is_empty(), "{d:#?}");
    assert_eq!(d.matched_rules, ["factory-images"]);
}

#[test]
fn one_of_two_signers_suffices_and_two_of_two_can_be_required() {
    let mut ev = case("signed and attested");
    let release = case("missing provenance").signatures; // signed by release
    ev.signatures = release.clone();
    assert!(
        policy().evaluate(&ev).allowed,
        "release alone satisfies 1 of 2"
    );

    let text = std::fs::read_to_string(examples().join("policy.yaml"))
        .unwrap()
        .replace("count: 1", "count: 2");
    let strict = Policy::parse(&text, "strict", &examples()).unwrap();
    let d = strict.evaluate(&ev);
    assert!(!d.allowed);
    assert_eq!(codes(&d), [ReasonCode::MissingSignature]);
    assert!(
        d.reasons[0].message.contains("missing: [factory]"),
        "{d:#?}"
    );
    let mut both = ev.clone();
    both.signatures
        .extend(case("signed and attested").signatures);
    assert!(strict.evaluate(&both).allowed);
}

#[test]
fn each_denial_names_its_cause() {
    let p = policy();
    assert_eq!(
        codes(&p.evaluate(&case("unsigned"))),
        [ReasonCode::MissingSignature]
    );
    assert_eq!(
        codes(&p.evaluate(&case("wrong signer"))),
        [ReasonCode::MissingSignature]
    );
    assert_eq!(
        codes(&p.evaluate(&case("missing provenance"))),
        [ReasonCode::MissingAttestation]
    );
    assert_eq!(
        codes(&p.evaluate(&case("provenance signed by the wrong key"))),
        [ReasonCode::UntrustedAttestation]
    );
    let d = p.evaluate(&case("provenance from another builder"));
    assert_eq!(codes(&d), [ReasonCode::ConditionFailed]);
    assert!(d.reasons[0].message.contains("built-by-kiln"), "{d:#?}");
    let d = p.evaluate(&case("critical vulnerability"));
    assert_eq!(codes(&d), [ReasonCode::ConditionFailed]);
    assert!(
        d.reasons[0].message.contains("CVE-2026-0002 is CRITICAL"),
        "{d:#?}"
    );
    assert_eq!(d.reasons[0].rule.as_deref(), Some("factory-images"));
}

#[test]
fn audit_mode_allows_with_warnings() {
    let d = policy().evaluate(&case("sandbox unsigned is audited"));
    assert!(d.allowed);
    assert!(d.reasons.is_empty());
    assert_eq!(d.warnings.len(), 1);
    assert_eq!(d.warnings[0].code, ReasonCode::MissingSignature);

    let text = std::fs::read_to_string(examples().join("policy.yaml"))
        .unwrap()
        .replace("  mode: enforce", "  mode: audit");
    let audit = Policy::parse(&text, "audit", &examples()).unwrap();
    let d = audit.evaluate(&case("critical vulnerability"));
    assert!(d.allowed, "{d:#?}");
    assert_eq!(d.warnings[0].code, ReasonCode::ConditionFailed);
}

#[test]
fn fail_closed() {
    let p = policy();
    // No rule: default deny.
    let d = p.evaluate(&case("no rule covers it"));
    assert_eq!(codes(&d), [ReasonCode::NoMatchingRule]);
    // ... unless the policy says allow, and then with a warning.
    let text = std::fs::read_to_string(examples().join("policy.yaml"))
        .unwrap()
        .replace("defaultAction: deny", "defaultAction: allow");
    let open = Policy::parse(&text, "open", &examples()).unwrap();
    let d = open.evaluate(&case("no rule covers it"));
    assert!(d.allowed && d.warnings[0].code == ReasonCode::NoMatchingRule);
    // No digest.
    let mut ev = case("signed and attested");
    ev.digest = None;
    assert_eq!(codes(&p.evaluate(&ev)), [ReasonCode::MissingDigest]);
    // Unparsable image.
    let mut ev = case("signed and attested");
    ev.image = "Not An Image!".into();
    assert_eq!(codes(&p.evaluate(&ev)), [ReasonCode::InvalidImage]);
    // A statement about another digest.
    let mut ev = case("signed and attested");
    ev.digest = Some(format!("sha256:{}", "0".repeat(64)));
    assert!(codes(&p.evaluate(&ev)).contains(&ReasonCode::StatementMismatch));
    // A Rego runtime error denies with the reason.
    let text = std::fs::read_to_string(examples().join("policy.yaml"))
        .unwrap()
        .replace(
            "input.predicate.runDetails.builder.id == \"https://kiln.dev/builder@v1\"",
            "to_number(input.predicate.runDetails.builder.id) > 1",
        );
    let broken = Policy::parse(&text, "broken", &examples()).unwrap();
    let d = broken.evaluate(&case("signed and attested"));
    assert!(!d.allowed, "{d:#?}");
}

#[test]
fn namespaces_restrict_a_rule() {
    let text = std::fs::read_to_string(examples().join("policy.yaml"))
        .unwrap()
        .replace(
            "    - name: sandbox\n      images:\n        - registry.example.com/sandbox/*\n",
            "    - name: sandbox\n      images:\n        - registry.example.com/sandbox/*\n      namespaces: [dev-*]\n",
        );
    let p = Policy::parse(&text, "ns", &examples()).unwrap();
    let mut ev = case("sandbox unsigned is audited");
    assert_eq!(codes(&p.evaluate(&ev)), [ReasonCode::NoMatchingRule]);
    ev.namespace = Some("dev-alice".into());
    assert!(p.evaluate(&ev).allowed);
    ev.namespace = Some("prod".into());
    assert!(!p.evaluate(&ev).allowed);
}

#[test]
fn parse_errors_carry_line_and_field() {
    let cases = [
        (
            "apiVersion: kiln.dev/v1alpha1\nkind: ImagePolicy\nspec:\n  rules:\n    - name: a\n      imagez: [x]\n",
            6,
            "imagez",
        ),
        (
            "apiVersion: kiln.dev/v1alpha1\nkind: ImagePolicy\nspec:\n  rules:\n    - name: a\n      images: [\"a/[b\"]\n",
            5,
            "a/[b",
        ),
        (
            "apiVersion: kiln.dev/v2\nkind: ImagePolicy\nspec:\n  rules: []\n",
            1,
            "apiVersion",
        ),
        (
            "apiVersion: kiln.dev/v1alpha1\nkind: ImagePolicy\nspec:\n  mode: strict\n  rules: []\n",
            4,
            "strict",
        ),
    ];
    for (text, line, word) in cases {
        match Policy::parse(text, "p.yaml", std::path::Path::new(".")) {
            Err(kiln_policy::PolicyError::Invalid {
                line: l, message, ..
            }) => {
                assert_eq!(l, Some(line), "{message}");
                assert!(message.contains(word), "{message}");
            }
            other => panic!("expected an error for {text:?}, got {other:?}"),
        }
    }
}

#[test]
fn semantic_errors_are_refused() {
    let bad = [
        // Unknown signer name.
        "apiVersion: kiln.dev/v1alpha1\nkind: ImagePolicy\nspec:\n  rules:\n    - name: a\n      images: [x]\n      signatures:\n        signers: [ghost]\n",
        // Rego syntax error.
        "apiVersion: kiln.dev/v1alpha1\nkind: ImagePolicy\nspec:\n  rules:\n    - name: a\n      images: [x]\n      attestations:\n        - predicateType: t\n          conditions:\n            - name: c\n              rego: \"allow if {\"\n",
        // Count above the number of signers.
        "apiVersion: kiln.dev/v1alpha1\nkind: ImagePolicy\nspec:\n  signers:\n    - name: k\n      kms: awskms:///k\n  rules:\n    - name: a\n      images: [x]\n      signatures:\n        signers: [k]\n        count: 2\n",
        // Two signer kinds at once.
        "apiVersion: kiln.dev/v1alpha1\nkind: ImagePolicy\nspec:\n  signers:\n    - name: k\n      kms: awskms:///k\n      publicKeyFile: k.pub\n  rules: []\n",
    ];
    for text in bad {
        let e = Policy::parse(text, "p.yaml", std::path::Path::new(".")).unwrap_err();
        assert!(
            matches!(e, kiln_policy::PolicyError::Invalid { line: Some(_), .. }),
            "{e}"
        );
    }
    // A key file that does not exist names the file.
    let text = "apiVersion: kiln.dev/v1alpha1\nkind: ImagePolicy\nspec:\n  signers:\n    - name: k\n      publicKeyFile: nope.pub\n  rules: []\n";
    let e = Policy::parse(text, "p.yaml", std::path::Path::new("/nonexistent")).unwrap_err();
    assert!(e.to_string().contains("nope.pub"), "{e}");
}

/// The Kyverno policy in examples/policy converts, and the converted policy gives the
/// decisions Kyverno would on the recorded evidence: unmatched images pass (Kyverno's
/// default), and the one condition that cannot be expressed is reported, not enforced.
#[test]
fn kyverno_policy_converts_and_decides_like_kyverno() {
    let text = std::fs::read_to_string(examples().join("kyverno.yaml")).unwrap();
    let imported = kiln_policy::kyverno::import(&text, "kyverno.yaml").unwrap();
    assert_eq!(imported.unsupported.len(), 1, "{:?}", imported.unsupported);
    assert!(imported.unsupported[0].contains("attestations[1].conditions[0]"));
    // The YAML on stdout parses back to the same policy.
    let reparsed = Policy::parse(&imported.yaml, "imported", &examples()).unwrap();
    let kyverno_intent = [
        ("signed and attested", true),
        ("unsigned", false),
        ("wrong signer", false),
        ("missing provenance", false),
        ("provenance from another builder", false),
        ("provenance signed by the wrong key", false),
        // The JMESPath vulnerability filter is listed as not expressed.
        ("critical vulnerability", true),
        // Kyverno lets images no rule matches through.
        ("sandbox unsigned is audited", true),
        ("mirror is excluded", true),
        ("no rule covers it", true),
    ];
    for (name, allowed) in kyverno_intent {
        for p in [&imported.policy, &reparsed] {
            let d = p.evaluate(&case(name));
            assert_eq!(d.allowed, allowed, "{name}: {d:#?}");
        }
    }
    // The native policy and the import agree wherever both express the same intent.
    let native = policy();
    for name in [
        "signed and attested",
        "unsigned",
        "wrong signer",
        "missing provenance",
    ] {
        assert_eq!(
            native.evaluate(&case(name)).allowed,
            imported.policy.evaluate(&case(name)).allowed,
            "{name}"
        );
    }
}

#[test]
fn kyverno_unexpressible_parts_are_listed() {
    let key = std::fs::read_to_string(examples().join("keys/release.pub")).unwrap();
    let indented: String = key
        .lines()
        .map(|l| format!("                      {l}\n"))
        .collect();
    let text = format!(
        "apiVersion: kyverno.io/v1
kind: Policy
metadata:
  name: p
  namespace: shop
spec:
  validationFailureAction: Audit
  rules:
    - name: r
      validate:
        message: x
      verifyImages:
        - imageReferences: [\"ghcr.io/acme/*:*\"]
          required: false
          mutateDigest: false
          attestors:
            - entries:
                - keyless:
                    subject: a@b
                - keys:
                    publicKeys: |-
{indented}                    rekor:
                      url: https://rekor.sigstore.dev
"
    );
    let imported = kiln_policy::kyverno::import(&text, "k.yaml").unwrap();
    let u = imported.unsupported.join("\n");
    for needle in [
        "keyless",
        "rekor",
        "validate",
        "mutateDigest: false",
        "required: false",
    ] {
        assert!(u.contains(needle), "{needle} missing from:\n{u}");
    }
    let rule = &imported.policy.document.spec.rules[0];
    assert_eq!(rule.images.patterns(), ["ghcr.io/acme/*"]);
    assert_eq!(rule.namespaces.patterns(), ["shop"]);
    assert_eq!(imported.policy.document.spec.mode, kiln_policy::Mode::Audit);
    // count defaulted to all entries (2), only one expressible: requiring that one.
    assert_eq!(rule.signatures.as_ref().unwrap().required(), 1);
    // Not a Kyverno policy at all.
    assert!(
        kiln_policy::kyverno::import("kind: Deployment\napiVersion: apps/v1\n", "d.yaml").is_err()
    );
    assert!(kiln_policy::kyverno::import(": : :\n\t", "bad.yaml").is_err());
}

#[test]
fn notation_signer_needs_its_ca_in_the_chain_and_kyverno_notary_maps_to_it() {
    let ca_pem = std::fs::read_to_string(examples().join("keys/notation-ca.crt")).unwrap();
    let ca_fp = kiln_policy::signer::pem_fingerprint(&ca_pem, "CERTIFICATE").unwrap();
    let text = "apiVersion: kiln.dev/v1alpha1\nkind: ImagePolicy\nspec:\n  signers:\n    - name: n\n      notation:\n        identity: \"x509.subject: C=US, O=Kiln Example, CN=release\"\n        caFile: keys/notation-ca.crt\n  rules:\n    - name: r\n      images: [\"registry.example.com/*\"]\n      signatures:\n        signers: [n]\n";
    let p = Policy::parse(text, "n.yaml", &examples()).unwrap();
    let mut ev = case("signed and attested");
    ev.signatures = vec![kiln_policy::VerifiedSignature {
        signer: kiln_policy::SignerIdentity {
            subject: Some("CN=release,O=Kiln Example,C=US".into()),
            chain_fingerprints: vec![ca_fp.clone()],
            ..Default::default()
        },
        format: Some("notation".into()),
    }];
    assert!(p.evaluate(&ev).allowed);
    ev.signatures[0].signer.chain_fingerprints = vec![format!("sha256:{}", "1".repeat(64))];
    assert!(!p.evaluate(&ev).allowed, "another CA");

    let indented: String = ca_pem
        .lines()
        .map(|l| format!("                      {l}\n"))
        .collect();
    let kyverno = format!(
        "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: notary
spec:
  rules:
    - name: r
      verifyImages:
        - type: Notary
          imageReferences: [\"registry.example.com/*\"]
          attestors:
            - count: 1
              entries:
                - certificates:
                    cert: |-
{indented}"
    );
    let imported = kiln_policy::kyverno::import(&kyverno, "notary.yaml").unwrap();
    assert!(
        imported.unsupported.is_empty(),
        "{:?}",
        imported.unsupported
    );
    ev.signatures[0].signer.chain_fingerprints = vec![ca_fp];
    assert!(imported.policy.evaluate(&ev).allowed);
    ev.signatures.clear();
    assert!(!imported.policy.evaluate(&ev).allowed);
}
