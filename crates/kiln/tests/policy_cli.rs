//! End-to-end tests of `kiln policy check | test | import-kyverno` on the examples.

use std::path::PathBuf;
use std::process::{Command, Output};

fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .output()
        .expect("kiln runs")
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/policy")
        .join(name)
        .display()
        .to_string()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_accepts_the_example() {
    let out = kiln(&["policy", "check", &example("policy.yaml")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("valid (2 rules, 2 signers"));
}

#[test]
fn check_reports_the_line_of_an_error_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: kiln.dev/v1alpha1\nkind: ImagePolicy\nspec:\n  rules:\n    - name: a\n      images: [x]\n      mode: enforced\n",
    )
    .unwrap();
    let out = kiln(&["policy", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("bad.yaml:7:"), "{err}");
    assert!(err.contains("enforced"), "{err}");
    // A file that cannot be read is an error (exit 2), not "invalid".
    let out = kiln(&[
        "policy",
        "check",
        dir.path().join("missing.yaml").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn test_runs_recorded_cases_and_passes() {
    let out = kiln(&[
        "policy",
        "test",
        &example("policy.yaml"),
        "--input",
        &example("cases.json"),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 10);
    assert!(results.iter().all(|r| r["result"] == "pass"));
    let crit = results
        .iter()
        .find(|r| r["name"] == "critical vulnerability")
        .unwrap();
    assert_eq!(crit["decision"]["allowed"], false);
    assert_eq!(crit["decision"]["reasons"][0]["code"], "condition-failed");
    assert_eq!(crit["decision"]["reasons"][0]["rule"], "factory-images");
}

#[test]
fn test_exits_1_when_an_expectation_fails() {
    let dir = tempfile::tempdir().unwrap();
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(example("cases.json")).unwrap()).unwrap();
    let mut wrong = cases[1].clone(); // "unsigned", really denied
    wrong["expect"] = "allow".into();
    let path = dir.path().join("wrong.json");
    std::fs::write(&path, serde_json::to_vec(&wrong).unwrap()).unwrap();
    let out = kiln(&[
        "policy",
        "test",
        &example("policy.yaml"),
        "--input",
        path.to_str().unwrap(),
        &example("evidence-signed.json"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let table = text(&out.stdout);
    assert!(table.contains("FAIL  deny   unsigned"), "{table}");
    assert!(table.contains("missing-signature"), "{table}");
    assert!(table.contains("NONE  allow"), "{table}");
    // Evidence that is not valid JSON: a clear error naming the file.
    std::fs::write(&path, "{").unwrap();
    let out = kiln(&[
        "policy",
        "test",
        &example("policy.yaml"),
        "--input",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("wrong.json"));
}

#[test]
fn import_kyverno_prints_a_valid_policy_and_lists_the_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let out = kiln(&["policy", "import-kyverno", &example("kyverno.yaml")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("1 part(s) could not be expressed"), "{err}");
    assert!(err.contains("JMESPath"), "{err}");
    let converted = dir.path().join("converted.yaml");
    std::fs::write(&converted, &out.stdout).unwrap();
    let out = kiln(&["policy", "check", converted.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The converted policy decides the recorded cases as Kyverno would.
    let out = kiln(&[
        "policy",
        "test",
        converted.to_str().unwrap(),
        "--input",
        &example("evidence-signed.json"),
        "--format",
        "json",
    ]);
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results[0]["decision"]["allowed"], true);
    // Not a Kyverno policy: exit 2 with the reason.
    let out = kiln(&["policy", "import-kyverno", &example("policy.yaml")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("ClusterPolicy"));
}
