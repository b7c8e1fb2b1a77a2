//! End-to-end tests of `kiln vuln` and `kiln db`: version comparison, importing the shared
//! OSV samples, scanning an SBOM made for them (exact findings), VEX, --fail-on, bad input,
//! and moving the database through an OCI layout and the test registry.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .env_remove("KILN_VULN_DB")
        .output()
        .expect("kiln runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn compare_prints_order_and_rejects_bad_versions() {
    for (eco, a, b, want) in [
        ("Debian", "1.0~rc1", "1.0", "<"),
        ("PyPI", "1.0.post1", "1.0", ">"),
        ("Maven", "1.0-SNAPSHOT", "1.0", "<"),
        ("Alpine", "1.2_p1", "1.2", ">"),
        ("Red Hat", "1:1.0", "2.0", ">"),
        ("npm", "v1.2.3", "1.2.3", "="),
    ] {
        let o = kiln(&["vuln", "compare", eco, a, b]);
        assert!(o.status.success(), "{eco} {a} {b}: {}", stderr(&o));
        assert_eq!(stdout(&o).trim(), want, "{eco} {a} {b}");
    }
    let o = kiln(&["vuln", "compare", "RubyGems", "x1", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("\"x1\""), "{}", stderr(&o));
    let o = kiln(&["vuln", "compare", "Nonesuch", "1", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("Nonesuch"));
}

fn sbom() -> Value {
    let p = |name: &str, version: &str, kind: &str, purl: &str| json!({ "id": name, "name": name, "version": version, "type": kind, "purl": purl });
    let mut deb = p(
        "nginx-full",
        "1.2.1-2.2+wheezy2",
        "deb",
        "pkg:deb/debian/nginx-full@1.2.1-2.2+wheezy2?arch=amd64",
    );
    deb["source_name"] = json!("nginx");
    json!({
        "kilnSbom": 1,
        "source": "test",
        "distro": { "id": "debian", "version_id": "7" },
        "packages": [
            deb,
            p("lodash", "4.17.19", "npm", "pkg:npm/lodash@4.17.19"),
            p("github.com/gorilla/websocket", "v1.4.0", "golang", "pkg:golang/github.com/gorilla/websocket@v1.4.0"),
            p("Django", "1.3", "pypi", "pkg:pypi/django@1.3"),
            p("hyper", "0.10.0", "cargo", "pkg:cargo/hyper@0.10.0"),
            p("jenkins-core", "2.414.2", "maven", "pkg:maven/org.jenkins-ci.main/jenkins-core@2.414.2"),
            p("semver", "7.5.2", "npm", "pkg:npm/semver@7.5.2"),
        ]
    })
}

fn import_samples(dir: &Path) -> Option<String> {
    let samples = kiln_testutil::shared_vectors("osv/samples")?;
    let db = dir.join("vuln.db").display().to_string();
    let o = kiln(&["db", "import", "--db", &db, samples.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("imported 50 advisories"),
        "{}",
        stderr(&o)
    );
    Some(db)
}

/// (package, id, aliases, fixed versions, severity) of one finding.
type Row = (String, String, Vec<String>, Vec<String>, String);

#[test]
fn scan_finds_exact_advisories() {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = import_samples(dir.path()) else {
        return;
    };
    let sbom_path = dir.path().join("sbom.json");
    std::fs::write(&sbom_path, sbom().to_string()).unwrap();
    let o = kiln(&[
        "vuln",
        "scan",
        "--db",
        &db,
        "-f",
        "json",
        sbom_path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let mut got: Vec<Row> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let strs = |v: &Value| {
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_string())
                    .collect()
            };
            (
                f["package"]["name"].as_str().unwrap().to_string(),
                f["id"].as_str().unwrap().to_string(),
                strs(&f["aliases"]),
                strs(&f["fixed_versions"]),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let want = vec![
        (
            "Django".into(),
            "PYSEC-2011-1".into(),
            s(&["CVE-2011-4136", "GHSA-x88j-93vc-wpmp"]),
            s(&["1.3.1"]),
            "unknown".into(),
        ),
        (
            "github.com/gorilla/websocket".into(),
            "GO-2020-0019".into(),
            s(&[
                "CVE-2020-27813",
                "GHSA-3xh2-74w9-5vxm",
                "GHSA-jf24-p9p9-4rjh",
            ]),
            s(&["1.4.1"]),
            "unknown".into(),
        ),
        (
            "hyper".into(),
            "RUSTSEC-2017-0002".into(),
            s(&["CVE-2017-18587", "GHSA-q89x-f52w-6hj2"]),
            s(&["0.10.2"]),
            "medium".into(),
        ),
        (
            "lodash".into(),
            "GHSA-29mw-wpgm-hmr9".into(),
            s(&["CVE-2020-28500"]),
            s(&["4.17.21"]),
            "medium".into(),
        ),
        (
            "lodash".into(),
            "GHSA-35jh-r3h4-6jhm".into(),
            s(&["CVE-2021-23337"]),
            s(&["4.17.21"]),
            "high".into(),
        ),
        (
            "lodash".into(),
            "GHSA-p6mc-m468-83gw".into(),
            s(&["CVE-2020-8203"]),
            s(&["4.17.20"]),
            "high".into(),
        ),
        (
            "nginx-full".into(),
            "DSA-3029-1".into(),
            s(&["CVE-2014-3616"]),
            s(&["1.2.1-2.2+wheezy3"]),
            "unknown".into(),
        ),
    ];
    assert_eq!(got, want, "{}", stdout(&o));
    let deb = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "DSA-3029-1")
        .unwrap();
    assert_eq!(deb["package"]["source_name"], "nginx");
    assert_eq!(deb["package"]["ecosystem"], "Debian");
    let lodash = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "GHSA-35jh-r3h4-6jhm")
        .unwrap();
    assert_eq!(lodash["score"], 7.2);

    // Another Debian release does not match.
    let mut other = sbom();
    other["distro"]["version_id"] = json!("12");
    std::fs::write(&sbom_path, other.to_string()).unwrap();
    let o = kiln(&[
        "vuln",
        "scan",
        "--db",
        &db,
        "-f",
        "json",
        sbom_path.to_str().unwrap(),
    ]);
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["id"] != "DSA-3029-1")
    );
}

#[test]
fn vex_suppresses_and_fail_on_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = import_samples(dir.path()) else {
        return;
    };
    let sbom_path = dir.path().join("sbom.json");
    std::fs::write(&sbom_path, sbom().to_string()).unwrap();
    let sb = sbom_path.to_str().unwrap();
    let o = kiln(&[
        "vuln",
        "scan",
        "--db",
        &db,
        "--fail-on",
        "high",
        "--exit-code",
        "3",
        sb,
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("lodash 4.17.19 [npm]"),
        "{}",
        stdout(&o)
    );
    let vex = json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.invalid/vex/1",
        "author": "test",
        "timestamp": "2024-01-01T00:00:00Z",
        "version": 1,
        "statements": [{
            "vulnerability": { "name": "CVE-2021-23337" },
            "products": [{ "@id": "pkg:npm/lodash@4.17.19" }],
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path"
        }, {
            "vulnerability": { "name": "GHSA-p6mc-m468-83gw" },
            "products": [{ "@id": "pkg:npm/lodash" }],
            "status": "fixed"
        }]
    });
    let vex_path = dir.path().join("vex.json");
    std::fs::write(&vex_path, vex.to_string()).unwrap();
    let v = vex_path.to_str().unwrap();
    let o = kiln(&[
        "vuln",
        "scan",
        "--db",
        &db,
        "--fail-on",
        "high",
        "--vex",
        v,
        "-f",
        "json",
        sb,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let f = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "GHSA-35jh-r3h4-6jhm")
        .unwrap();
    assert_eq!(f["suppressed"], true);
    assert_eq!(
        f["vex"]["justification"],
        "vulnerable_code_not_in_execute_path"
    );
    // --severity filters; SARIF and CycloneDX carry the findings.
    let o = kiln(&[
        "vuln",
        "scan",
        "--db",
        &db,
        "--severity",
        "medium",
        "-f",
        "sarif",
        sb,
    ]);
    let sarif: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let ids: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    let o = kiln(&[
        "vuln",
        "scan",
        "--db",
        &db,
        "-f",
        "cyclonedx-json",
        "--vex",
        v,
        sb,
    ]);
    let cdx: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let vuln = cdx["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "GHSA-35jh-r3h4-6jhm")
        .unwrap();
    assert_eq!(vuln["analysis"]["state"], "not_affected");
    assert_eq!(vuln["ratings"][0]["method"], "CVSSv31");
    let o = kiln(&["vuln", "scan", "--db", &db, "-f", "cosign-vuln", sb]);
    let p: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(
        p["metadata"]["scanStartedOn"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(
        p["scanner"]["result"]["findings"].as_array().unwrap().len(),
        7
    );
}

#[test]
fn bad_input_is_named_and_the_rest_imported() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("good.json"), r#"{"id":"KILN-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}]}"#).unwrap();
    std::fs::write(
        data.join("bad.json"),
        r#"{"id":"KILN-2","affected":[{"ranges":"oops"}]}"#,
    )
    .unwrap();
    std::fs::write(data.join("cut.zip"), b"PK\x03\x04 truncated").unwrap();
    let db = dir.path().join("v.db");
    let o = kiln(&[
        "db",
        "import",
        "--db",
        db.to_str().unwrap(),
        data.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("bad.json") && err.contains("KILN-2"), "{err}");
    assert!(
        err.contains("cut.zip") && err.contains("truncated"),
        "{err}"
    );
    assert!(err.contains("imported 1 advisories"), "{err}");
    let o = kiln(&["db", "status", "--db", db.to_str().unwrap(), "--json"]);
    let st: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(st["advisories"], 1);
    let o = kiln(&[
        "vuln",
        "scan",
        "--db",
        dir.path().join("none.db").to_str().unwrap(),
        data.join("good.json").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

fn push_pull(dir: &Path, reference: &str) {
    let db = dir.join("v.db");
    std::fs::write(dir.join("a.json"), r#"{"id":"KILN-9","modified":"2024-05-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"y"}}]}"#).unwrap();
    let o = kiln(&[
        "db",
        "import",
        "--db",
        db.to_str().unwrap(),
        dir.join("a.json").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = kiln(&["db", "push", "--db", db.to_str().unwrap(), reference]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pulled = dir.join("pulled/v.db");
    let o = kiln(&["db", "pull", "--db", pulled.to_str().unwrap(), reference]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = kiln(&["db", "status", "--db", pulled.to_str().unwrap(), "--json"]);
    let st: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(st["advisories"], 1);
    assert_eq!(st["data_modified"], "2024-05-01T00:00:00Z");
}

#[test]
fn db_push_pull_through_a_layout() {
    let dir = tempfile::tempdir().unwrap();
    let reference = format!("oci:{}/mirror:vulndb", dir.path().display());
    push_pull(dir.path(), &reference);
}

#[test]
fn db_push_pull_through_the_registry() {
    let Some(registry) = kiln_testutil::registry() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let reference = format!("{registry}/kiln-test/vulndb:latest");
    push_pull(dir.path(), &reference);
}
