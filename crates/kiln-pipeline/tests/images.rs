//! Image records in the ledger (packages, findings, scans, admissions) on SQLite and on a
//! real PostgreSQL (KILN_TEST_POSTGRES, started by scripts/services/postgres, a fresh
//! database per test): the same test body on both.

use kiln_pipeline::ledger::{
    Backend, Ledger, NewFinding, NewRun, NewScan, PackageRow, RunOutcome, RunStatus, ScanKind,
    now_ms,
};

/// A fresh, empty database on the test server.
async fn fresh_postgres(base: &str) -> String {
    sqlx::any::install_default_drivers();
    let db = format!("kiln_images_{}", uuid::Uuid::now_v7().simple());
    let admin = sqlx::AnyPool::connect(base).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let (server, _) = base.rsplit_once('/').unwrap();
    format!("{server}/{db}")
}

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn pkg(name: &str, version: &str, ecosystem: &str) -> PackageRow {
    PackageRow {
        name: name.into(),
        version: version.into(),
        ecosystem: ecosystem.into(),
        purl: format!("pkg:{ecosystem}/{name}@{version}"),
    }
}

fn finding(id: &str, aliases: &[&str], name: &str, severity: &str) -> NewFinding {
    NewFinding {
        vuln_id: id.into(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        purl: format!("pkg:npm/{name}@1.0.0"),
        package: name.into(),
        version: "1.0.0".into(),
        severity: severity.into(),
        fixed_version: None,
    }
}

async fn succeeded_run(l: &Ledger, image: &str, digest: &str) -> String {
    let id = l
        .start_run(&NewRun {
            repository: "/src/app".into(),
            commit: None,
            tree_dirty: false,
            config_digest: digest.into(),
            base_image: None,
            started_at: now_ms(),
        })
        .await
        .unwrap();
    l.finish_run(
        &id,
        &RunOutcome {
            status: RunStatus::Succeeded,
            image: Some(image.into()),
            digest: Some(digest.into()),
            finished_at: now_ms(),
            failed_stage: None,
            reason: None,
        },
    )
    .await
    .unwrap();
    id.to_string()
}

/// The behaviour every backend must have.
async fn exercise(url: &str, backend: Backend) {
    let l = Ledger::open(url).await.unwrap();
    assert_eq!(l.backend(), backend);
    let (a, b) = (digest('a'), digest('b'));
    let run_a = succeeded_run(&l, "oci:/p/.kiln/oci:1.0", &a).await;
    let run_b = succeeded_run(&l, "registry.example/app:2.0", &b).await;

    // Packages: "which images contain package X".
    let quoted = PackageRow {
        name: "it's".into(),
        version: "1 ; DROP TABLE kiln_packages; --".into(),
        ecosystem: "generic".into(),
        purl: "pkg:generic/it%27s@1".into(),
    };
    l.record_packages(
        &run_a,
        &a,
        &[pkg("lodash", "4.17.19", "npm"), quoted.clone()],
    )
    .await
    .unwrap();
    l.record_packages(
        &run_b,
        &b,
        &[
            pkg("lodash", "4.17.21", "npm"),
            pkg("openssl", "3.0.2", "deb"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(l.packages(&a).await.unwrap().len(), 2);
    assert!(l.packages(&a).await.unwrap().contains(&quoted));
    let with = l.images_with_package("lodash").await.unwrap();
    assert_eq!(
        with.iter()
            .map(|(d, p)| (d.as_str(), p.version.as_str()))
            .collect::<Vec<_>>(),
        vec![(a.as_str(), "4.17.19"), (b.as_str(), "4.17.21")]
    );
    assert_eq!(l.images_with_package("pkg:deb/").await.unwrap().len(), 1);
    assert_eq!(l.images_with_package("it's").await.unwrap().len(), 1);
    assert!(l.images_with_package("_").await.unwrap().is_empty());

    // Findings: first seen by the run, kept by the re-scan, new ones reported once.
    let first = l
        .record_scan(&NewScan {
            image_digest: a.clone(),
            run_id: Some(run_a.clone()),
            kind: ScanKind::Run,
            db_built: Some("2026-11-01T00:00:00Z".into()),
            findings: vec![finding("GHSA-aaaa", &["CVE-2024-0001"], "lodash", "high")],
        })
        .await
        .unwrap();
    assert_eq!(first.new.len(), 1);
    let rescan = NewScan {
        image_digest: a.clone(),
        run_id: Some(run_a.clone()),
        kind: ScanKind::Rescan,
        db_built: None,
        findings: vec![
            finding("GHSA-aaaa", &["CVE-2024-0001"], "lodash", "high"),
            finding(
                "GHSA-bbbb",
                &["CVE-2024-0002", "PYSEC-1"],
                "lodash",
                "critical",
            ),
        ],
    };
    let second = l.record_scan(&rescan).await.unwrap();
    assert_eq!(second.new.len(), 1);
    assert_eq!(second.new[0].vuln_id, "GHSA-bbbb");
    let third = l.record_scan(&rescan).await.unwrap();
    assert!(third.new.is_empty());
    let all = l.findings(&a).await.unwrap();
    assert_eq!(
        all.iter().map(|f| f.vuln_id.as_str()).collect::<Vec<_>>(),
        ["GHSA-bbbb", "GHSA-aaaa"],
        "most severe first"
    );
    assert_eq!(all[1].first_seen, first.new[0].first_seen);
    assert_eq!(all[1].source, format!("run:{run_a}"));
    assert_eq!(all[0].aliases, ["CVE-2024-0002", "PYSEC-1"]);
    assert!(l.findings(&b).await.unwrap().is_empty());
    assert_eq!(l.images_affected_by("pysec-1").await.unwrap().len(), 1);
    assert_eq!(
        l.images_affected_by("Cve-2024-0001").await.unwrap().len(),
        1
    );
    assert!(
        l.images_affected_by("CVE-2024-000")
            .await
            .unwrap()
            .is_empty()
    );

    let scans = l.scans(0).await.unwrap();
    assert_eq!(scans.len(), 3);
    assert_eq!(
        scans
            .iter()
            .map(|s| (s.kind.as_str(), s.critical, s.high, s.new_findings))
            .collect::<Vec<_>>(),
        [("run", 0, 1, 1), ("rescan", 1, 1, 1), ("rescan", 1, 1, 0)]
    );
    assert_eq!(scans[0].db_built.as_deref(), Some("2026-11-01T00:00:00Z"));
    assert!(scans.windows(2).all(|w| w[0].scanned_at <= w[1].scanned_at));

    // Admissions.
    l.record_admission("registry.example/app:2.0", &b, "prod")
        .await
        .unwrap();
    l.record_admission("registry.example/app:2.0", &b, "prod")
        .await
        .unwrap();
    let adm = l.admissions(Some(&b)).await.unwrap();
    assert_eq!(adm.len(), 1);
    assert_eq!(adm[0].admissions, 2);
    assert!(l.admissions(Some(&a)).await.unwrap().is_empty());

    let images = l.images().await.unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(images[1].references, ["registry.example/app:2.0"]);
    l.close().await;
}

#[tokio::test]
async fn sqlite_images() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
    exercise(&url, Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_images() {
    let Some(base) = kiln_testutil::postgres() else {
        return;
    };
    let url = fresh_postgres(&base).await;
    exercise(&url, Backend::Postgres).await;
}
