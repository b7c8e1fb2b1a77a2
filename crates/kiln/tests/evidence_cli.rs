//! `kiln evidence runs|show|list|get` end to end: a ledger and an encrypted store filled
//! through the library (as `kiln run` fills them), read back through the binary with the
//! default paths, a PostgreSQL ledger (KILN_TEST_POSTGRES) and S3 + KMS from the `AWS_*`
//! environment (moto, KILN_TEST_MOTO).

use std::path::Path;
use std::process::{Command, Output};

use kiln_pipeline::evidence::{EvidenceStore, StoreOptions, WrapKey};
use kiln_pipeline::ledger::{
    Ledger, NewRun, RunId, RunOutcome, RunStatus, StageRecord, StageStatus,
};

const SBOM: &[u8] = br#"{"spdxVersion":"SPDX-2.3","name":"cli-distinctive-sbom","packages":[]}"#;

fn kiln(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
    c.current_dir(dir).args(args);
    for var in ["KILN_LEDGER", "KILN_EVIDENCE_STORE", "KILN_EVIDENCE_KEY"] {
        c.env_remove(var);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn service(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) => Some(v),
        Err(_) => {
            if kiln_testutil::services_required() {
                panic!("{var} is required (KILN_REQUIRE_SERVICES=1) but missing");
            }
            eprintln!("skipping: {var} is missing (run scripts/test)");
            None
        }
    }
}

/// Records one finished run with two stages and its SBOM in `ledger` + `store`.
async fn record_run(ledger: &Ledger, store: &EvidenceStore, started_at: i64) -> RunId {
    let id = ledger
        .start_run(&NewRun {
            repository: "/src/example".into(),
            commit: Some("a".repeat(40)),
            tree_dirty: false,
            config_digest: format!("sha256:{}", "c".repeat(64)),
            base_image: None,
            started_at,
        })
        .await
        .unwrap();
    for (name, log) in [
        ("secrets", "no findings"),
        ("build", "STEP 1/2: FROM scratch"),
    ] {
        ledger
            .record_stage(
                &id,
                &StageRecord {
                    name: name.into(),
                    status: StageStatus::Passed,
                    started_at,
                    finished_at: started_at + 1500,
                    summary: format!("{name} passed"),
                    log: log.into(),
                    outputs: serde_json::json!({}),
                },
            )
            .await
            .unwrap();
    }
    let r = store
        .put(id.as_str(), "sbom.spdx.json", "application/spdx+json", SBOM)
        .await
        .unwrap();
    ledger.record_evidence(&id, &r).await.unwrap();
    ledger
        .finish_run(
            &id,
            &RunOutcome {
                status: RunStatus::Succeeded,
                image: Some("oci:out:latest".into()),
                digest: Some(format!("sha256:{}", "d".repeat(64))),
                finished_at: started_at + 3000,
                failed_stage: None,
                reason: None,
            },
        )
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn defaults_runs_show_list_get() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ledger = Ledger::open(&format!("sqlite://{}", d.join(".kiln/ledger.db").display()))
        .await
        .unwrap();
    let store = EvidenceStore::open(
        d.join(".kiln/evidence").to_str().unwrap(),
        WrapKey::LocalFile(d.join(".kiln/keys/evidence.key")),
    )
    .await
    .unwrap();
    let old = record_run(&ledger, &store, 1_700_000_000_000).await;
    let new = record_run(&ledger, &store, 1_700_000_500_000).await;
    ledger.close().await;

    // runs: newest first, with status, digest and start time.
    let o = kiln(d, &["evidence", "runs"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("RUN"), "{out}");
    assert!(
        lines[1].starts_with(new.as_str()) && lines[2].starts_with(old.as_str()),
        "{out}"
    );
    assert!(
        lines[1].contains("succeeded") && lines[1].contains(&format!("sha256:{}", "d".repeat(64)))
    );
    assert!(lines[2].contains("2023-11-14T22:13:20Z"), "{out}");
    let o = kiln(
        d,
        &["evidence", "runs", "--format", "json", "--limit", "1"],
        &[],
    );
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["id"], new.as_str());
    assert_eq!(json[0]["stages"][1]["name"], "build");

    // show, by prefix.
    let o = kiln(d, &["evidence", "show", &new.as_str()[..32], "--logs"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(new.as_str())
            && out.contains("build")
            && out.contains("STEP 1/2: FROM scratch"),
        "{out}"
    );
    assert!(out.contains("sbom.spdx.json"), "{out}");

    // list: the newest run when none is named.
    let o = kiln(d, &["evidence", "list"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("sbom.spdx.json") && stdout(&o).contains("local-aes256gcm"));
    let o = kiln(
        d,
        &["evidence", "list", old.as_str(), "--format", "json"],
        &[],
    );
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json[0]["run_id"], old.as_str());
    assert_eq!(json[0]["size"], SBOM.len());

    // get: ciphertext by default; plaintext with --decrypt.
    let at_rest = std::fs::read(
        d.join(".kiln/evidence")
            .join(new.as_str())
            .join("sbom.spdx.json.enc"),
    )
    .unwrap();
    let o = kiln(d, &["evidence", "get", new.as_str(), "sbom.spdx.json"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, at_rest);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("cli-distinctive-sbom"));
    let o = kiln(
        d,
        &[
            "evidence",
            "get",
            new.as_str(),
            "sbom.spdx.json",
            "--decrypt",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, SBOM);
    let o = kiln(
        d,
        &[
            "evidence",
            "get",
            &old.as_str()[..30],
            "sbom.spdx.json",
            "--decrypt",
            "-o",
            "sbom.json",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(d.join("sbom.json")).unwrap(), SBOM);

    // Tampered: exit 2, a clear message, no output file.
    let enc = d
        .join(".kiln/evidence")
        .join(new.as_str())
        .join("sbom.spdx.json.enc");
    let mut bad = at_rest.clone();
    bad[3] ^= 0x80;
    std::fs::write(&enc, &bad).unwrap();
    let o = kiln(
        d,
        &[
            "evidence",
            "get",
            new.as_str(),
            "sbom.spdx.json",
            "--decrypt",
            "-o",
            "tampered.json",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("does not decrypt"), "{}", stderr(&o));
    assert!(!d.join("tampered.json").exists());
    let o = kiln(
        d,
        &[
            "evidence",
            "get",
            new.as_str(),
            "sbom.spdx.json",
            "--decrypt",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty(), "no partial plaintext");

    // A missing key is an error, not a new key.
    let o = kiln(
        d,
        &[
            "evidence",
            "get",
            old.as_str(),
            "sbom.spdx.json",
            "--decrypt",
            "--key",
            "nokey",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("evidence key nokey not found"),
        "{}",
        stderr(&o)
    );
    assert!(!d.join("nokey").exists());

    // Unknown runs and names.
    let o = kiln(d, &["evidence", "get", old.as_str(), "nothing"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no evidence \"nothing\""),
        "{}",
        stderr(&o)
    );
    let o = kiln(d, &["evidence", "show", "ffffffff"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no run"), "{}", stderr(&o));
}

#[test]
fn no_ledger_is_a_clear_error_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let o = kiln(dir.path(), &["evidence", "runs"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no ledger at .kiln/ledger.db"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join(".kiln").exists());
    let o = kiln(
        dir.path(),
        &[
            "evidence",
            "runs",
            "--ledger",
            "postgres://kiln:pw-secret@127.0.0.1:1/kiln",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot open the ledger"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("pw-secret"));
}

#[tokio::test]
async fn postgres_ledger_s3_store_kms_key() {
    let (Some(pg), Some(moto)) = (service("KILN_TEST_POSTGRES"), service("KILN_TEST_MOTO")) else {
        return;
    };
    let ledger_url = fresh_postgres(&pg);
    let bucket = format!("kiln-cli-{}", uuid_like());
    create_bucket(&moto, &bucket);
    let key = create_kms_key(&moto).await;
    let opts = StoreOptions {
        endpoint_url: Some(moto.clone()),
        region: Some("us-east-1".into()),
        credentials: Some(("testing".into(), "testing".into())),
    };
    let store_url = format!("s3://{bucket}/evidence");
    let ledger = Ledger::open(&ledger_url).await.unwrap();
    let store = EvidenceStore::open_with(
        &store_url,
        Some(WrapKey::AwsKms {
            key_id: key.clone(),
        }),
        &opts,
    )
    .await
    .unwrap();
    let id = record_run(&ledger, &store, 1_700_000_000_000).await;
    ledger.close().await;

    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("AWS_ENDPOINT_URL", moto.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    let common = [
        "--ledger",
        ledger_url.as_str(),
        "--store",
        store_url.as_str(),
        "--key",
        key.as_str(),
    ];
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["evidence".into()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v.extend(common.iter().map(|s| s.to_string()));
        v
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        kiln(dir.path(), &refs, &env)
    };
    let o = run(&["runs"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(id.as_str()));
    let o = run(&["list", id.as_str()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("aws-kms"), "{}", stdout(&o));
    let o = run(&["get", id.as_str(), "sbom.spdx.json", "--decrypt"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, SBOM);
    let o = run(&["get", id.as_str(), "sbom.spdx.json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout.len(), SBOM.len() + 16);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("cli-distinctive-sbom"));
}

fn uuid_like() -> String {
    RunId::new().as_str().replace('-', "")
}

/// A database of its own on the test server (through `psql`, from the same package).
fn fresh_postgres(base: &str) -> String {
    let db = format!("kiln_cli_{}", uuid_like());
    let o = Command::new("psql")
        .args([base, "-qc", &format!("CREATE DATABASE {db}")])
        .output()
        .unwrap();
    assert!(o.status.success(), "psql: {}", stderr(&o));
    let (server, _) = base.rsplit_once('/').unwrap();
    format!("{server}/{db}")
}

fn create_bucket(moto: &str, bucket: &str) {
    use std::io::{Read, Write};
    let host = moto.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "CreateBucket: {resp}");
}

async fn create_kms_key(moto: &str) -> String {
    use kiln_sign::keys::kms::{KmsOptions, KmsRef};
    let opts = KmsOptions {
        endpoint_url: Some(moto.to_string()),
        region: Some("us-east-1".into()),
        credentials: Some(("testing".into(), "testing".into())),
    };
    let client =
        kiln_sign::keys::kms::client(&KmsRef::parse("awskms:///placeholder").unwrap(), &opts).await;
    let key = client.create_key().send().await.unwrap();
    format!("awskms:///{}", key.key_metadata().unwrap().key_id())
}
