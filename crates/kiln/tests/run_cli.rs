//! End-to-end tests of `kiln run` and `kiln init` on temporary copies of examples/hello:
//! a full run whose signatures and attestations `kiln verify` accepts (the provenance also
//! checked by the python in-toto-attestation package), a planted secret stopping the run
//! at `secrets`, a vulnerable package with `fail_on` stopping it at `vuln`, an invalid
//! kiln.yaml, and `kiln init`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kiln(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
    c.current_dir(dir)
        .args(args)
        .env_remove("KILN_PASSWORD")
        .env_remove("COSIGN_PASSWORD")
        .env_remove("KILN_VULN_DB")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A temporary copy of examples/hello, with `extra` appended to its kiln.yaml.
fn hello(extra: &str) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("hello");
    kiln_testutil::copy_project(
        &kiln_testutil::workspace_root().join("examples/hello"),
        &dir,
    );
    if !extra.is_empty() {
        let mut y = std::fs::read_to_string(dir.join("kiln.yaml")).unwrap();
        y.push_str(extra);
        std::fs::write(dir.join("kiln.yaml"), y).unwrap();
    }
    (t, dir)
}

/// A vulnerability database holding the shared OSV samples, in `dir`.
fn osv_db(dir: &Path) -> Option<String> {
    let samples = kiln_testutil::shared_vectors("osv/samples")?;
    let db = dir.join("vuln.db").display().to_string();
    let o = kiln(
        dir,
        &["db", "--db", &db, "import", samples.to_str().unwrap()],
        &[],
    );
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", text(&o));
    Some(db)
}

fn json_run(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

fn layout_tags(dir: &Path) -> Vec<String> {
    let Ok(index) = std::fs::read(dir.join(".kiln/oci/index.json")) else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_slice(&index).unwrap();
    v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str())
        .map(str::to_string)
        .collect()
}

const PROVENANCE_CHECK: &str = r#"
import json, sys
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
st = json.load(open(sys.argv[1]))
pb = json_format.ParseDict(st, statement_pb2.Statement())
Statement.copy_from_pb(pb).validate()
assert pb.predicate_type == "https://slsa.dev/provenance/v1", pb.predicate_type
prov = json_format.ParseDict(st["predicate"], provenance_pb2.Provenance())
bd, rd = prov.build_definition, prov.run_details
assert bd.build_type, "buildType"
assert bd.HasField("external_parameters"), "externalParameters"
assert rd.builder.id, "builder.id"
assert rd.metadata.invocation_id, "invocationId"
assert rd.metadata.HasField("started_on") and rd.metadata.HasField("finished_on")
for d in list(bd.resolved_dependencies) + list(rd.byproducts):
    ResourceDescriptor.copy_from_pb(d).validate()
print("valid", len(bd.resolved_dependencies), len(rd.byproducts))
"#;

#[test]
fn full_run_signs_and_attests_what_verify_accepts() {
    let (t, dir) = hello("");
    // A git work tree, so the provenance names the commit.
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(&dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let has_git = git(&["init", "-q", "-b", "main"])
        && git(&["remote", "add", "origin", "https://git.example/hello.git"])
        && std::fs::write(dir.join(".gitignore"), ".kiln/\n").is_ok()
        && git(&["add", "-A"])
        && git(&["commit", "-q", "-m", "hello"]);
    let db = osv_db(t.path());
    let mut env = vec![];
    let missing = t.path().join("none.db").display().to_string();
    env.push(("KILN_VULN_DB", db.as_deref().unwrap_or(&missing)));

    let o = kiln(&dir, &["run", "--format", "json"], &env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run = json_run(&o);
    assert_eq!(run["status"], "succeeded");
    let names: Vec<&str> = run["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["secrets", "build", "sbom", "vuln", "sign", "attest", "push"]
    );
    for s in run["stages"].as_array().unwrap() {
        let expect = if s["name"] == "vuln" && db.is_none() {
            "skipped"
        } else {
            "passed"
        };
        assert_eq!(s["status"], expect, "{s}");
        assert!(s["duration_ms"].is_u64(), "{s}");
        assert!(s["summary"].is_string(), "{s}");
    }
    let digest = run["digest"].as_str().unwrap();
    assert!(digest.starts_with("sha256:"), "{run}");
    assert!(run["run_id"].as_str().unwrap().len() >= 32, "{run}");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("succeeded"), "{stderr}");

    // The key was made on the first run; its public half verifies everything.
    assert!(dir.join(".kiln/keys/cosign.key").is_file());
    let image = "oci:.kiln/oci:0.1.0";
    let o = kiln(
        &dir,
        &["verify", "--key", ".kiln/keys/cosign.pub", image],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut types = vec!["slsaprovenance", "spdx", "cyclonedx"];
    if db.is_some() {
        types.push("vuln");
    }
    for ty in types {
        let o = kiln(
            &dir,
            &[
                "verify",
                "--key",
                ".kiln/keys/cosign.pub",
                "--attestation",
                ty,
                "--format",
                "json",
                image,
            ],
            &[],
        );
        assert_eq!(o.status.code(), Some(0), "{ty}: {}", text(&o));
        if ty != "slsaprovenance" {
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let st = &v["attestations"][0]["statement"];
        assert_eq!(st["subject"][0]["digest"]["sha256"], &digest[7..]);
        let p = &st["predicate"];
        assert_eq!(
            p["runDetails"]["builder"]["id"],
            "https://kiln.dev/builder/v1"
        );
        assert_eq!(p["runDetails"]["metadata"]["invocationId"], run["run_id"]);
        assert!(
            p["buildDefinition"]["buildType"]
                .as_str()
                .unwrap()
                .ends_with("docs/build-type.md#v1")
        );
        assert_eq!(
            p["buildDefinition"]["externalParameters"]["pipeline"]["image"]["tag"],
            "0.1.0"
        );
        if has_git {
            let dep = &p["buildDefinition"]["resolvedDependencies"][0];
            assert_eq!(
                dep["uri"],
                "git+https://git.example/hello.git@refs/heads/main"
            );
            assert_eq!(dep["digest"]["gitCommit"].as_str().unwrap().len(), 40);
        }
        // An independent check: the in-toto attestation bindings parse it strictly.
        if let Some(python) = kiln_testutil::python() {
            let f = t.path().join("provenance-statement.json");
            std::fs::write(&f, serde_json::to_vec(st).unwrap()).unwrap();
            let script = t.path().join("check.py");
            std::fs::write(&script, PROVENANCE_CHECK).unwrap();
            let o = Command::new(python).arg(&script).arg(&f).output().unwrap();
            assert!(o.status.success(), "{}", text(&o));
            assert!(String::from_utf8_lossy(&o.stdout).starts_with("valid"));
        }
    }

    // The ledger has the run; the evidence is on disk, encrypted.
    assert!(dir.join(".kiln/ledger.db").is_file());
    let run_id = run["run_id"].as_str().unwrap();
    let ev = dir.join(".kiln/evidence").join(run_id);
    for name in ["sbom.spdx.json", "sbom.cdx.json", "provenance.json"] {
        let enc =
            std::fs::read(ev.join(format!("{name}.enc"))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let plain = String::from_utf8_lossy(&enc);
        assert!(
            !plain.contains("spdxVersion") && !plain.contains("buildDefinition"),
            "{name} is not encrypted"
        );
    }
    let listed: Vec<&str> = run["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(listed.contains(&"provenance.json"), "{listed:?}");

    // A second run reuses the key and gives the same image digest.
    let o = kiln(&dir, &["run", "--format", "json"], &env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(json_run(&o)["digest"], digest);
}

#[test]
fn planted_secret_stops_the_run_at_secrets_and_nothing_is_signed() {
    let (t, dir) = hello("");
    let key = ["AKIA", "QW2ERT3YUI4OPA5S"].concat();
    std::fs::write(
        dir.join("www/config.js"),
        format!("const awsKey = \"{key}\";\n"),
    )
    .unwrap();
    let missing = t.path().join("none.db").display().to_string();
    let o = kiln(
        &dir,
        &["run", "--format", "json"],
        &[("KILN_VULN_DB", &missing)],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(!text(&o).contains(&key), "the secret was printed in full");
    let run = json_run(&o);
    assert_eq!(run["status"], "failed");
    assert_eq!(run["failed_stage"], "secrets");
    assert!(
        run["reason"].as_str().unwrap().contains("www/config.js"),
        "{run}"
    );
    assert_eq!(run["stages"][0]["status"], "failed");
    for s in &run["stages"].as_array().unwrap()[1..] {
        assert_eq!(s["status"], "not-run", "{s}");
    }
    assert!(
        !layout_tags(&dir).iter().any(|t| t.ends_with(".sig")),
        "{:?}",
        layout_tags(&dir)
    );
    assert!(!dir.join(".kiln/keys/cosign.key").exists());
}

#[test]
fn vulnerable_package_with_fail_on_stops_the_run_at_vuln() {
    let (t, dir) = hello("");
    // One more layer with an npm package the OSV samples cover, and the gate.
    let y = std::fs::read_to_string(dir.join("kiln.yaml")).unwrap();
    let y = y.replacen(
        "  config:\n",
        "    - files:\n        - src: node_modules\n          dest: /srv/app/node_modules\n  config:\n",
        1,
    ) + "vuln:\n  fail_on: high\n";
    std::fs::write(dir.join("kiln.yaml"), y).unwrap();
    let pkg = dir.join("node_modules/lodash");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(
        pkg.join("package.json"),
        r#"{"name":"lodash","version":"4.17.19","license":"MIT"}"#,
    )
    .unwrap();
    let Some(db) = osv_db(t.path()) else {
        return;
    };
    let o = kiln(&dir, &["run", "--format", "json"], &[("KILN_VULN_DB", &db)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let run = json_run(&o);
    assert_eq!(run["failed_stage"], "vuln", "{run}");
    let reason = run["reason"].as_str().unwrap();
    assert!(
        reason.contains("lodash") && reason.contains("high"),
        "{reason}"
    );
    for s in &run["stages"].as_array().unwrap()[..3] {
        assert_eq!(s["status"], "passed", "{s}");
    }
    for s in &run["stages"].as_array().unwrap()[4..] {
        assert_eq!(s["status"], "not-run", "{s}");
    }
    let tags = layout_tags(&dir);
    assert!(tags.contains(&"0.1.0".to_string()), "{tags:?}");
    assert!(
        !tags
            .iter()
            .any(|t| t.ends_with(".sig") || t.ends_with(".att")),
        "{tags:?}"
    );
}

#[test]
fn failing_build_command_stops_the_run_and_its_output_stays_in_the_ledger() {
    let (_t, dir) = hello("");
    let y = std::fs::read_to_string(dir.join("kiln.yaml")).unwrap();
    let y = y.replacen(
        "build:\n",
        "build:\n  run: \"echo compiling-the-app; echo linker-exploded >&2; exit 7\"\n",
        1,
    );
    std::fs::write(dir.join("kiln.yaml"), y).unwrap();
    let o = kiln(&dir, &["run", "--format", "json"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let run = json_run(&o);
    assert_eq!(run["failed_stage"], "build", "{run}");
    assert_eq!(run["stages"][0]["status"], "passed", "{run}");
    for s in &run["stages"].as_array().unwrap()[2..] {
        assert_eq!(s["status"], "not-run", "{s}");
    }
    let id = run["run_id"].as_str().unwrap();
    // The ledger keeps the build's output (stdout and stderr) with the failed stage.
    let shown = kiln(&dir, &["evidence", "show", id, "--format", "json"], &[]);
    assert!(shown.status.success(), "{}", text(&shown));
    let rec: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(rec["status"], "failed", "{rec}");
    let build = rec["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "build")
        .unwrap_or_else(|| panic!("no build stage in {rec}"));
    let log = build["log"].as_str().unwrap();
    assert!(
        log.contains("compiling-the-app") && log.contains("linker-exploded"),
        "{log}"
    );
    let tags = layout_tags(&dir);
    assert!(
        !tags
            .iter()
            .any(|t| t.ends_with(".sig") || t.ends_with(".att")),
        "{tags:?}"
    );
}

#[test]
fn invalid_kiln_yaml_names_the_field_and_line() {
    let (_t, dir) = hello("sign:\n  key: k.key\n  keyfile: other\n");
    let o = kiln(&dir, &["run"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let line = std::fs::read_to_string(dir.join("kiln.yaml"))
        .unwrap()
        .lines()
        .position(|l| l.contains("keyfile"))
        .unwrap()
        + 1;
    assert!(err.contains("keyfile"), "{err}");
    assert!(err.contains(&format!("line {line}")), "{err}");

    let (_t, dir) = hello("vuln:\n  fail_on: severe\n");
    let o = kiln(&dir, &["run"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("severe"), "{}", text(&o));
}

#[test]
fn init_writes_a_kiln_yaml_once() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("Containerfile"), "FROM scratch\n").unwrap();
    let o = kiln(t.path(), &["init"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let y = std::fs::read_to_string(t.path().join("kiln.yaml")).unwrap();
    assert!(y.contains("dockerfile: Containerfile"), "{y}");
    let o = kiln(t.path(), &["init"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("exists"), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(t.path().join("kiln.yaml")).unwrap(),
        y
    );
}
