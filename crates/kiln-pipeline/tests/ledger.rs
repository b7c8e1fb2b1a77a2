//! The evidence ledger against SQLite and a real PostgreSQL (KILN_TEST_POSTGRES, started
//! by scripts/services/postgres): the same test body on both.

use kiln_pipeline::evidence::EvidenceRef;
use kiln_pipeline::ledger::{
    Backend, Ledger, LedgerError, NewRun, RunId, RunOutcome, RunStatus, StageRecord, StageStatus,
};
use serde_json::json;

/// A fresh, empty database on the test server, so tests running at once do not meet.
async fn fresh_postgres(base: &str) -> String {
    sqlx::any::install_default_drivers();
    let db = format!("kiln_test_{}", uuid::Uuid::now_v7().simple());
    let admin = sqlx::AnyPool::connect(base).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let (server, _) = base.rsplit_once('/').unwrap();
    format!("{server}/{db}")
}

fn new_run(repo: &str, started_at: i64) -> NewRun {
    NewRun {
        repository: repo.into(),
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        tree_dirty: true,
        config_digest: format!("sha256:{}", "ab".repeat(32)),
        base_image: Some(format!(
            "docker.io/library/alpine@sha256:{}",
            "cd".repeat(32)
        )),
        started_at,
    }
}

fn stage(name: &str, status: StageStatus, t: i64, log: &str) -> StageRecord {
    StageRecord {
        name: name.into(),
        status,
        started_at: t,
        finished_at: t + 250,
        summary: format!("{name}: {status}"),
        log: log.into(),
        outputs: json!({"stage": name, "count": 3, "nested": {"ok": true, "list": [1, "two"]}}),
    }
}

/// The behaviour every backend must have.
async fn exercise(url: &str, backend: Backend) {
    let ledger = Ledger::open(url).await.unwrap();
    assert_eq!(ledger.backend(), backend);
    assert!(ledger.runs(10).await.unwrap().is_empty());

    // A run that fails at the build gate, its log kept.
    let input = new_run("/src/example", 1_700_000_000_000);
    let id = ledger.start_run(&input).await.unwrap();
    let fresh = ledger.run(id.as_str()).await.unwrap().unwrap();
    assert_eq!(fresh.status, RunStatus::Running);
    assert_eq!(fresh.input, input);
    assert!(fresh.stages.is_empty() && fresh.finished_at.is_none());

    let build_log = format!(
        "step 1/3: RUN make\n'quoted' \"double\" ünïcode ✓ ; DROP TABLE kiln_runs; --\n{}",
        "x".repeat(200_000)
    );
    let s1 = stage("secrets", StageStatus::Passed, 1_700_000_000_100, "");
    let s2 = stage("build", StageStatus::Failed, 1_700_000_000_400, &build_log);
    let s3 = stage("sbom", StageStatus::Skipped, 1_700_000_000_700, "");
    for s in [&s1, &s2, &s3] {
        ledger.record_stage(&id, s).await.unwrap();
    }
    let evidence = EvidenceRef {
        run_id: id.to_string(),
        name: "build.log".into(),
        media_type: "text/plain".into(),
        size: 42,
        sha256: "ef".repeat(32),
        wrapping: "local-aes256gcm".into(),
        key_id: "local:0123456789abcdef".into(),
        location: format!("file:///tmp/evidence/{id}/build.log.enc"),
    };
    ledger.record_evidence(&id, &evidence).await.unwrap();
    let outcome = RunOutcome {
        status: RunStatus::Failed,
        image: None,
        digest: None,
        finished_at: 1_700_000_001_000,
        failed_stage: Some("build".into()),
        reason: Some("the build command exited with status 2".into()),
    };
    ledger.finish_run(&id, &outcome).await.unwrap();

    let got = ledger.run(id.as_str()).await.unwrap().unwrap();
    assert_eq!(got.id, id);
    assert_eq!(got.input, input);
    assert_eq!(got.status, RunStatus::Failed);
    assert_eq!(got.finished_at, Some(1_700_000_001_000));
    assert_eq!(got.failed_stage.as_deref(), Some("build"));
    assert_eq!(got.reason, outcome.reason);
    assert_eq!(got.stages, vec![s1.clone(), s2.clone(), s3.clone()]);
    assert_eq!(got.stages[1].log, build_log);
    assert_eq!(got.evidence, vec![evidence.clone()]);

    // A finished run is not rewritten; nothing is appended to it.
    let again = ledger
        .finish_run(
            &id,
            &RunOutcome {
                status: RunStatus::Succeeded,
                ..outcome.clone()
            },
        )
        .await;
    assert!(matches!(again, Err(LedgerError::Finished(_))), "{again:?}");
    let late = ledger.record_stage(&id, &s1).await;
    assert!(matches!(late, Err(LedgerError::Finished(_))), "{late:?}");
    assert_eq!(
        ledger.run(id.as_str()).await.unwrap().unwrap().status,
        RunStatus::Failed
    );
    let dup = ledger.record_evidence(&id, &evidence).await;
    assert!(dup.is_err(), "the same evidence name twice");
    let running = ledger
        .finish_run(
            &id,
            &RunOutcome {
                status: RunStatus::Running,
                ..outcome.clone()
            },
        )
        .await;
    assert!(
        matches!(running, Err(LedgerError::Invalid { .. })),
        "{running:?}"
    );

    // Unknown runs.
    let ghost = RunId::new();
    assert!(ledger.run(ghost.as_str()).await.unwrap().is_none());
    assert!(matches!(
        ledger.record_stage(&ghost, &s1).await,
        Err(LedgerError::UnknownRun(_))
    ));
    assert!(matches!(
        ledger.finish_run(&ghost, &outcome).await,
        Err(LedgerError::UnknownRun(_))
    ));
    let stray = EvidenceRef {
        run_id: ghost.to_string(),
        ..evidence.clone()
    };
    assert!(matches!(
        ledger.record_evidence(&ghost, &stray).await,
        Err(LedgerError::UnknownRun(_))
    ));
    assert!(matches!(
        ledger.record_evidence(&id, &stray).await,
        Err(LedgerError::Invalid { .. })
    ));

    // A succeeding run, later: listed first.
    let input2 = NewRun {
        commit: None,
        tree_dirty: false,
        base_image: None,
        ..new_run("/src/other", 1_700_000_100_000)
    };
    let id2 = ledger.start_run(&input2).await.unwrap();
    ledger
        .record_stage(
            &id2,
            &stage("push", StageStatus::Passed, 1_700_000_100_100, "pushed"),
        )
        .await
        .unwrap();
    let digest = format!("sha256:{}", "12".repeat(32));
    ledger
        .finish_run(
            &id2,
            &RunOutcome {
                status: RunStatus::Succeeded,
                image: Some("oci:out:latest".into()),
                digest: Some(digest.clone()),
                finished_at: 1_700_000_100_900,
                failed_stage: None,
                reason: None,
            },
        )
        .await
        .unwrap();
    let runs = ledger.runs(10).await.unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        vec![id2.clone(), id.clone()]
    );
    assert_eq!(runs[0].digest.as_deref(), Some(digest.as_str()));
    assert_eq!(runs[0].input, input2);
    assert_eq!(ledger.runs(1).await.unwrap().len(), 1);

    // Prefixes resolve to one run.
    assert_eq!(
        ledger.resolve(&id2.as_str()[..30]).await.unwrap(),
        Some(id2.clone())
    );
    assert_eq!(ledger.resolve("ffff-ffff").await.unwrap(), None);
    assert!(ledger.resolve("x%").await.is_err());

    // A run left running by a killed process (its owner, on this host, no longer exists)
    // is failed by fail_interrupted after a reopen; a run of a live process is not.
    let host = kiln_pipeline::ledger::owner::host();
    let id3 = ledger
        .start_run_owned(
            &new_run("/src/example", 1_700_000_200_000),
            &format!("{host}:4294967295"),
        )
        .await
        .unwrap();
    ledger.record_stage(&id3, &s1).await.unwrap();
    let live = ledger
        .start_run(&new_run("/src/example", 1_700_000_300_000))
        .await
        .unwrap();
    ledger.close().await;
    drop(ledger);
    let ledger = Ledger::open(url).await.unwrap();
    assert_eq!(
        ledger.run(id3.as_str()).await.unwrap().unwrap().status,
        RunStatus::Running
    );
    assert_eq!(ledger.fail_interrupted().await.unwrap(), 1);
    let interrupted = ledger.run(id3.as_str()).await.unwrap().unwrap();
    assert_eq!(interrupted.status, RunStatus::Failed);
    assert_eq!(interrupted.reason.as_deref(), Some("interrupted"));
    assert!(interrupted.finished_at.is_some());
    assert_eq!(interrupted.stages, vec![s1.clone()]);
    assert_eq!(ledger.fail_interrupted().await.unwrap(), 0);
    assert_eq!(
        ledger.run(live.as_str()).await.unwrap().unwrap().status,
        RunStatus::Running,
        "a run of a live process was failed"
    );
    // Finished runs were left alone.
    assert_eq!(
        ledger.run(id2.as_str()).await.unwrap().unwrap().status,
        RunStatus::Succeeded
    );
    assert_eq!(ledger.runs(10).await.unwrap().len(), 4);
}

#[tokio::test]
async fn sqlite_ledger() {
    let dir = tempfile::tempdir().unwrap();
    // Parent directories are created.
    let path = dir.path().join("nested/.kiln/ledger.db");
    exercise(&format!("sqlite://{}", path.display()), Backend::Sqlite).await;
    assert!(path.is_file());
}

#[tokio::test]
async fn postgres_ledger() {
    let Some(base) = kiln_testutil::postgres() else {
        return;
    };
    let url = fresh_postgres(&base).await;
    exercise(&url, Backend::Postgres).await;
}

#[tokio::test]
async fn unreachable_database_is_a_clear_error() {
    // Nothing listens on port 1; the password must not appear in the message.
    let err = Ledger::open("postgres://kiln:hunter2@127.0.0.1:1/kiln")
        .await
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(matches!(err, LedgerError::Connect { .. }), "{msg}");
    assert!(
        msg.contains("127.0.0.1:1") && msg.contains("cannot open the ledger"),
        "{msg}"
    );
    assert!(!msg.contains("hunter2"), "{msg}");
}

#[tokio::test]
async fn bad_urls_are_refused() {
    for url in ["mysql://h/db", "ledger.db", "sqlite://"] {
        let err = Ledger::open(url).await.err().unwrap();
        assert!(matches!(err, LedgerError::BadUrl { .. }), "{url}: {err}");
    }
    // A file that is not a database.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("not.db");
    std::fs::write(
        &p,
        b"this is not a sqlite database, just text that is long enough",
    )
    .unwrap();
    let err = Ledger::open(&format!("sqlite://{}", p.display()))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains(&p.display().to_string()), "{err}");
}
