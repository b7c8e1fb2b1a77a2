//! Fault injection against PostgreSQL and AWS KMS (issue 9), through the fault proxy of
//! `kiln_testutil::fault` in front of the real services the test script starts:
//!
//! - the ledger on PostgreSQL behind a TCP proxy: opening it while the database refuses
//!   connections, swallows them or drops them part-way is a clear error naming the
//!   ledger; connections dropped between stages of a run are replaced (the run succeeds
//!   and is recorded whole); a database that goes away mid-run fails the run with a
//!   ledger error and never leaves a row claiming success;
//! - the evidence store with an AWS KMS wrapping key (moto behind an HTTP proxy): a
//!   GenerateDataKey that fails, or answers a damaged body, stores nothing (no ciphertext,
//!   no header); a transient failure is retried by the AWS SDK; a failing Decrypt returns
//!   no plaintext.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use kiln_pipeline::evidence::{EvidenceStore, StoreOptions, WrapKey};
use kiln_pipeline::ledger::{Ledger, RunStatus};
use kiln_pipeline::run::{self, Observer, RunError, RunRequest, Stage};
use kiln_testutil::fault::{Fault, Proxy, Rule, TcpFault, TcpRule};

fn service(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                !kiln_testutil::services_required(),
                "{var} is required (KILN_REQUIRE_SERVICES=1)"
            );
            eprintln!("skipping: {var} is missing");
            None
        }
    }
}

fn unique() -> String {
    format!(
        "{}{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}

/// A database of its own on the test server; its URL straight to the server.
fn fresh_postgres(base: &str) -> String {
    let db = format!("kiln_fault_{}", unique());
    let o = Command::new("psql")
        .args([base, "-qc", &format!("CREATE DATABASE {db}")])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (server, _) = base.rsplit_once('/').unwrap();
    format!("{server}/{db}")
}

/// `HOST:PORT` of a `postgres://USER@HOST:PORT/DB` URL.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_string()
}

/// The same database reached through `proxy`.
fn through(url: &str, proxy: &Proxy) -> String {
    url.replacen(&host_port(url), proxy.addr(), 1)
}

async fn open_fails(url: &str, proxy: &Proxy) -> String {
    // A guard against a hang only: opening gives up by itself after its own timeout.
    let r = tokio::time::timeout(Duration::from_secs(120), Ledger::open(url))
        .await
        .expect("Ledger::open gave up by itself");
    let err = r.expect_err("the ledger must not open").to_string();
    assert!(
        err.contains("cannot open the ledger") || err.contains("cannot migrate the ledger"),
        "{err}"
    );
    assert!(err.contains(proxy.addr()), "names the ledger: {err}");
    eprintln!("expected failure: {err}");
    err
}

#[tokio::test]
async fn ledger_open_fails_clearly_when_postgres_cannot_be_reached() {
    let Some(pg) = service("KILN_TEST_POSTGRES") else {
        return;
    };
    let url = fresh_postgres(&pg);

    // Refused: every connection closed at once.
    let proxy = Proxy::tcp(&host_port(&url));
    let id = proxy.add_tcp(TcpRule::new(TcpFault::Refuse));
    open_fails(&through(&url, &proxy), &proxy).await;
    assert!(proxy.injected_tcp(id) >= 1);
    drop(proxy);

    // Dropped part-way through the start-up and migrations.
    let proxy = Proxy::tcp(&host_port(&url));
    let id = proxy.add_tcp(TcpRule::new(TcpFault::DropAfter { bytes: 600 }));
    open_fails(&through(&url, &proxy), &proxy).await;
    assert!(proxy.injected_tcp(id) >= 1);
    drop(proxy);

    // A black hole: the connection is accepted and never answered.
    let proxy = Proxy::tcp(&host_port(&url));
    let id = proxy.add_tcp(TcpRule::new(TcpFault::Delay(Duration::from_secs(600))));
    open_fails(&through(&url, &proxy), &proxy).await;
    assert!(proxy.injected_tcp(id) >= 1);
    drop(proxy);

    // And the database itself is fine: the failures above were the proxy's.
    let ledger = Ledger::open(&url).await.unwrap();
    ledger.close().await;
}

/// A copy of examples/hello whose kiln.yaml gets `extra`.
fn hello(extra: &str) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("hello");
    kiln_testutil::copy_project(
        &kiln_testutil::workspace_root().join("examples/hello"),
        &dir,
    );
    let mut y = std::fs::read_to_string(dir.join("kiln.yaml")).unwrap();
    y.push_str(extra);
    std::fs::write(dir.join("kiln.yaml"), y).unwrap();
    (t, dir)
}

/// Calls `hook` as each stage starts.
struct Hook<F: Fn(Stage) + Sync>(F);
impl<F: Fn(Stage) + Sync> Observer for Hook<F> {
    fn stage_started(&self, stage: Stage) {
        (self.0)(stage)
    }
}

async fn run_hello(dir: &Path, observer: &dyn Observer) -> Result<run::RunReport, RunError> {
    let config = dir.join("kiln.yaml");
    let req = RunRequest {
        project_dir: dir,
        config_path: &config,
        registry: Default::default(),
        source_date_epoch: None,
        ledger_url: None,
    };
    run::run(&req, observer).await
}

fn ledger_tail(url: &str) -> String {
    format!("ledger:\n  url: {url}\nvuln:\n  enabled: false\n")
}

// The runner blocks in place in some stages: a multi-threaded runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_outlives_postgres_connections_dropped_between_stages() {
    let Some(pg) = service("KILN_TEST_POSTGRES") else {
        return;
    };
    let url = fresh_postgres(&pg);
    let proxy = Proxy::tcp(&host_port(&url));
    let (_t, dir) = hello(&ledger_tail(&through(&url, &proxy)));
    let at_drop = Mutex::new(None);
    let hook = Hook(|stage| {
        if stage == Stage::Sign {
            *at_drop.lock().unwrap() = Some(proxy.seen().len());
            proxy.drop_connections();
        }
    });
    let report = run_hello(&dir, &hook).await.expect("the run is recorded");
    assert_eq!(report.status, run::RunStatus::Succeeded, "{report:?}");
    let before = at_drop.lock().unwrap().expect("the hook ran");
    assert!(
        proxy.seen().len() > before,
        "new connections after the drop: {:?}",
        proxy.seen()
    );
    assert_eq!(proxy.total_injected(), 1);

    let ledger = Ledger::open(&url).await.unwrap();
    let rec = ledger.run(&report.run_id).await.unwrap().unwrap();
    assert_eq!(rec.status, RunStatus::Succeeded);
    assert_eq!(rec.stages.len(), Stage::ALL.len());
    ledger.close().await;
}

// The runner blocks in place in some stages: a multi-threaded runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_gone_mid_run_fails_the_run_and_never_records_success() {
    let Some(pg) = service("KILN_TEST_POSTGRES") else {
        return;
    };
    let url = fresh_postgres(&pg);
    let proxy = Proxy::tcp(&host_port(&url));
    let (_t, dir) = hello(&ledger_tail(&through(&url, &proxy)));
    let hook = Hook(|stage| {
        if stage == Stage::Sign {
            proxy.add_tcp(TcpRule::new(TcpFault::Refuse));
            proxy.drop_connections();
        }
    });
    let err = run_hello(&dir, &hook)
        .await
        .expect_err("the run cannot be recorded")
        .to_string();
    assert!(
        err.starts_with("ledger ") && err.contains(proxy.addr()),
        "{err}"
    );
    eprintln!("expected failure: {err}");
    assert!(proxy.total_injected() >= 2, "dropped, then refused");

    // Straight to the database: the run is there, `running` (a later start marks it
    // failed once this process is gone), never `succeeded`; its stages stop before sign.
    let ledger = Ledger::open(&url).await.unwrap();
    let runs = ledger.runs(10).await.unwrap();
    assert_eq!(runs.len(), 1);
    let rec = ledger.run(runs[0].id.as_str()).await.unwrap().unwrap();
    assert_eq!(rec.status, RunStatus::Running);
    let names: Vec<&str> = rec.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["secrets", "build", "sbom", "vuln"]);
    ledger.close().await;
}

/// A new symmetric KMS key in moto (straight, not through a proxy): its awskms:/// URI.
async fn kms_key(moto: &str) -> String {
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

fn kms_op(op: &str, fault: Fault) -> Rule {
    Rule::new("POST", "^/$", fault).header("x-amz-target", &format!(r"\.{op}$"))
}

async fn store_via(proxy: &Proxy, dir: &Path, key: &str) -> EvidenceStore {
    let opts = StoreOptions {
        endpoint_url: Some(proxy.url()),
        region: Some("us-east-1".into()),
        credentials: Some(("testing".into(), "testing".into())),
    };
    EvidenceStore::open_with(
        dir.to_str().unwrap(),
        Some(WrapKey::AwsKms {
            key_id: key.to_string(),
        }),
        &opts,
    )
    .await
    .unwrap()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(files_under(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[tokio::test]
async fn evidence_with_kms_failing_writes_nothing() {
    let Some(moto) = service("KILN_TEST_MOTO") else {
        return;
    };
    let key = kms_key(&moto).await;
    const DOC: &[u8] = b"{\"spdxVersion\":\"SPDX-2.3\",\"name\":\"fault-evidence\"}";

    for (name, fault) in [
        ("500", Fault::Status(500)),
        ("hangup", Fault::Hangup),
        ("corrupt", Fault::Corrupt),
        ("truncated", Fault::Truncate { bytes: 30 }),
    ] {
        let t = tempfile::tempdir().unwrap();
        let proxy = Proxy::http(&moto);
        let id = proxy.add(kms_op("GenerateDataKey", fault));
        let store = store_via(&proxy, t.path(), &key).await;
        let err = store
            .put("run-1", "sbom.spdx.json", "application/spdx+json", DOC)
            .await
            .err()
            .unwrap_or_else(|| panic!("{name}: put must fail"))
            .to_string();
        assert!(proxy.injected(id) >= 1, "{name}");
        eprintln!("expected failure ({name}): {err}");
        assert!(
            !err.contains("Plaintext") && !err.contains("SdkBody"),
            "{name}: KMS's raw answer (a data key) is in the message: {err}"
        );
        assert!(
            err.contains(&key) && err.contains("GenerateDataKey"),
            "{name}: {err}"
        );
        assert!(
            files_under(t.path()).is_empty(),
            "{name}: {:?}",
            files_under(t.path())
        );
    }

    // Transient: one 503 is retried; the object is stored whole and decrypts. Then a
    // Decrypt that keeps failing gives an error and no plaintext.
    let t = tempfile::tempdir().unwrap();
    let proxy = Proxy::http(&moto);
    let once = proxy.add(kms_op("GenerateDataKey", Fault::Status(503)).times(1));
    let store = store_via(&proxy, t.path(), &key).await;
    store
        .put("run-2", "sbom.spdx.json", "application/spdx+json", DOC)
        .await
        .expect("retried by the AWS SDK");
    assert_eq!(proxy.injected(once), 1);
    assert_eq!(files_under(t.path()).len(), 2, "ciphertext and header");
    assert_eq!(store.get("run-2", "sbom.spdx.json").await.unwrap(), DOC);
    let dec = proxy.add(kms_op("Decrypt", Fault::Status(500)));
    let err = store
        .get("run-2", "sbom.spdx.json")
        .await
        .expect_err("no plaintext without KMS")
        .to_string();
    assert!(err.contains("Decrypt") && !err.contains("SdkBody"), "{err}");
    assert!(proxy.injected(dec) >= 1);
}
