//! The dashboard in a real headless Chromium (Debian `chromium`), over a ledger seeded
//! through its public API, once on SQLite and once on a real PostgreSQL
//! (KILN_TEST_POSTGRES): every page is loaded and its DOM checked for what it must show
//! (runs, stages, images, packages, findings, the SVG chart, search results) and for a
//! hostile value shown as text, never as markup. Status codes and security headers are
//! checked over the same socket with an HTTP client.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use kiln_pipeline::dashboard;
use kiln_pipeline::evidence::EvidenceRef;
use kiln_pipeline::ledger::{
    Ledger, NewFinding, NewRun, NewScan, PackageRow, RunOutcome, RunStatus, ScanKind, StageRecord,
    StageStatus, now_ms,
};
use serde_json::{Value, json};

/// A value that would run as script if any page failed to escape it.
const HOSTILE: &str = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>";

/// A fresh, empty database on the test server.
async fn fresh_postgres(base: &str) -> String {
    sqlx::any::install_default_drivers();
    let db = format!("kiln_dashboard_{}", uuid::Uuid::now_v7().simple());
    let admin = sqlx::AnyPool::connect(base).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let (server, _) = base.rsplit_once('/').unwrap();
    format!("{server}/{db}")
}

fn digest(byte: &str) -> String {
    format!("sha256:{}", byte.repeat(32))
}

/// What the seeded ledger holds, for the checks.
struct Seeded {
    good_run: String,
    bad_run: String,
    good_image: String,
    bad_image: String,
}

fn stage(name: &str, status: StageStatus, t: i64, summary: &str, outputs: Value) -> StageRecord {
    StageRecord {
        name: name.into(),
        status,
        started_at: t,
        finished_at: t + 1500,
        summary: summary.into(),
        log: format!("{name} log line\n"),
        outputs,
    }
}

fn pkg(name: &str, version: &str) -> PackageRow {
    PackageRow {
        name: name.into(),
        version: version.into(),
        ecosystem: "Debian".into(),
        purl: format!("pkg:deb/debian/{name}@{version}?distro=debian-12"),
    }
}

fn finding(id: &str, alias: &str, package: &str, severity: &str) -> NewFinding {
    NewFinding {
        vuln_id: id.into(),
        aliases: vec![alias.into()],
        purl: format!("pkg:deb/debian/{package}@3.0.11-1?distro=debian-12"),
        package: package.into(),
        version: "3.0.11-1".into(),
        severity: severity.into(),
        fixed_version: Some("3.0.13-1".into()),
    }
}

/// Two runs: one that succeeded (signed, attested, SBOM, a finding, then a re-scan that
/// finds a critical one, admitted in `prod`), one stopped by the vulnerability gate whose
/// repository name is hostile markup.
async fn seed(ledger: &Ledger) -> Seeded {
    let t = now_ms() - 60_000;
    let good_image = digest("a1");
    let bad_image = digest("b2");

    let good = ledger
        .start_run(&NewRun {
            repository: "/src/examples/hello".into(),
            commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            tree_dirty: false,
            config_digest: digest("c3"),
            base_image: None,
            started_at: t,
        })
        .await
        .unwrap();
    let stages = [
        stage(
            "secrets",
            StageStatus::Passed,
            t,
            "no secrets in the tree",
            json!({"findings": []}),
        ),
        stage(
            "build",
            StageStatus::Passed,
            t + 2000,
            "built hello",
            json!({"digest": good_image}),
        ),
        stage(
            "sbom",
            StageStatus::Passed,
            t + 4000,
            "2 package(s); spdx-json",
            json!({"packages": 2, "formats": ["spdx-json"]}),
        ),
        stage(
            "vuln",
            StageStatus::Passed,
            t + 6000,
            "1 finding (1 high)",
            json!({"findings": 1}),
        ),
        stage(
            "sign",
            StageStatus::Passed,
            t + 8000,
            "signed",
            json!({"signatures": [{"format": "cosign", "manifest": digest("d4"),
                   "tag": format!("sha256-{}.sig", "a1".repeat(32))}]}),
        ),
        stage(
            "attest",
            StageStatus::Passed,
            t + 10_000,
            "2 attestation(s)",
            json!({"predicate_types": ["https://slsa.dev/provenance/v1",
                   "https://spdx.dev/Document"]}),
        ),
    ];
    for s in &stages {
        ledger.record_stage(&good, s).await.unwrap();
    }
    ledger
        .finish_run(
            &good,
            &RunOutcome {
                status: RunStatus::Succeeded,
                image: Some("oci:/srv/kiln/layout:hello".into()),
                digest: Some(good_image.clone()),
                finished_at: t + 12_000,
                failed_stage: None,
                reason: None,
            },
        )
        .await
        .unwrap();
    ledger
        .record_evidence(
            &good,
            &EvidenceRef {
                run_id: good.to_string(),
                name: "sbom.spdx.json".into(),
                media_type: "application/spdx+json".into(),
                size: 1234,
                sha256: "ef".repeat(32),
                wrapping: "local-aes256gcm".into(),
                key_id: "local:test".into(),
                location: format!("file:///srv/kiln/evidence/{good}/sbom.spdx.json.enc"),
            },
        )
        .await
        .unwrap();
    ledger
        .record_packages(
            good.as_str(),
            &good_image,
            &[pkg("openssl", "3.0.11-1"), pkg("zlib1g", "1.2.13")],
        )
        .await
        .unwrap();
    ledger
        .record_scan(&NewScan {
            image_digest: good_image.clone(),
            run_id: Some(good.to_string()),
            kind: ScanKind::Run,
            db_built: Some("2026-11-01T00:00:00Z".into()),
            findings: vec![finding("DSA-9999-1", "CVE-2099-0001", "openssl", "high")],
        })
        .await
        .unwrap();
    ledger
        .record_scan(&NewScan {
            image_digest: good_image.clone(),
            run_id: None,
            kind: ScanKind::Rescan,
            db_built: Some("2026-11-02T00:00:00Z".into()),
            findings: vec![
                finding("DSA-9999-1", "CVE-2099-0001", "openssl", "high"),
                finding("DSA-9999-2", "CVE-2099-0002", "openssl", "critical"),
            ],
        })
        .await
        .unwrap();
    ledger
        .record_admission("registry.example/hello:1", &good_image, "prod")
        .await
        .unwrap();

    let bad = ledger
        .start_run(&NewRun {
            repository: HOSTILE.into(),
            commit: None,
            tree_dirty: true,
            config_digest: digest("c3"),
            base_image: None,
            started_at: t + 20_000,
        })
        .await
        .unwrap();
    ledger
        .record_stage(
            &bad,
            &stage(
                "build",
                StageStatus::Passed,
                t + 20_000,
                HOSTILE,
                json!({"x": HOSTILE}),
            ),
        )
        .await
        .unwrap();
    ledger
        .record_stage(
            &bad,
            &stage(
                "vuln",
                StageStatus::Failed,
                t + 22_000,
                "1 finding(s) at or above high",
                Value::Null,
            ),
        )
        .await
        .unwrap();
    ledger
        .finish_run(
            &bad,
            &RunOutcome {
                status: RunStatus::Failed,
                image: None,
                digest: Some(bad_image.clone()),
                finished_at: t + 24_000,
                failed_stage: Some("vuln".into()),
                reason: Some("1 finding(s) at or above high (vuln.fail_on)".into()),
            },
        )
        .await
        .unwrap();
    ledger
        .record_packages(
            bad.as_str(),
            &bad_image,
            &[pkg("openssl", "3.0.11-1"), pkg(HOSTILE, "1")],
        )
        .await
        .unwrap();
    ledger
        .record_scan(&NewScan {
            image_digest: bad_image.clone(),
            run_id: Some(bad.to_string()),
            kind: ScanKind::Run,
            db_built: None,
            findings: vec![finding("DSA-9999-1", "CVE-2099-0001", "openssl", "high")],
        })
        .await
        .unwrap();

    Seeded {
        good_run: good.to_string(),
        bad_run: bad.to_string(),
        good_image,
        bad_image,
    }
}

/// Serves the dashboard of `ledger` on a loopback port for the rest of the test.
async fn serve(ledger: Ledger) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, dashboard::router(ledger))
            .await
            .unwrap();
    });
    addr
}

/// The DOM Chromium builds for `url`, serialized.
async fn dom(chromium: &Path, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .kill_on_drop(true)
        .output();
    // A bound so a wedged browser fails the test instead of hanging it (not a timing check).
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .unwrap_or_else(|_| panic!("chromium did not finish loading {url}"))
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8(out.stdout).expect("a UTF-8 DOM");
    assert!(
        dom.contains("</html>"),
        "chromium printed no DOM for {url}: {dom}"
    );
    dom
}

/// The names of the elements in a serialized DOM (`/` before closing tags), found by
/// skipping attribute values: text never holds a raw `<` once serialized, attribute values
/// may.
fn tags(dom: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let name: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '>')
            .collect();
        out.push(name.to_ascii_lowercase());
        let mut quoted = false;
        let mut end = rest.len();
        for (j, c) in rest.char_indices() {
            match c {
                '"' => quoted = !quoted,
                '>' if !quoted => {
                    end = j;
                    break;
                }
                _ => {}
            }
        }
        rest = &rest[end..];
    }
    out
}

/// The elements the dashboard writes; any other one in a DOM came from data.
const OWN_TAGS: &[&str] = &[
    "!doctype", "html", "head", "meta", "title", "style", "body", "header", "main", "span", "a",
    "h1", "h2", "p", "b", "br", "code", "dl", "dt", "dd", "details", "summary", "pre", "table",
    "thead", "tbody", "tr", "th", "td", "form", "label", "input", "button", "ul", "li", "svg",
    "line", "text", "polyline", "circle", "g", "rect",
];

/// The checks every dashboard DOM passes: only the dashboard's own elements (no script,
/// nothing a hostile value could have made), and the title intact.
fn assert_inert(page: &str, dom: &str) {
    let tags = tags(dom);
    assert!(tags.iter().any(|t| t == "main"), "{page}: no page: {dom}");
    for t in &tags {
        let name = t.strip_prefix('/').unwrap_or(t);
        assert!(OWN_TAGS.contains(&name), "{page}: a <{t}> element: {dom}");
    }
    assert!(
        !dom.contains("pwned</title>"),
        "{page}: the title was changed: {dom}"
    );
}

/// Every byte but ASCII letters and digits percent-encoded.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Loads every page in Chromium and checks what it shows.
async fn check_pages(chromium: &Path, base: &str, s: &Seeded) {
    let hostile_text = "&lt;script&gt;document.title='pwned'&lt;/script&gt;";

    // Runs, newest first, with the hostile repository shown as text.
    let runs = dom(chromium, &format!("{base}/")).await;
    assert_inert("/", &runs);
    let good_at = runs.find(&s.good_run).expect("the good run is listed");
    let bad_at = runs.find(&s.bad_run).expect("the failed run is listed");
    assert!(bad_at < good_at, "newest first");
    assert!(runs.contains(hostile_text), "{runs}");
    assert!(runs.contains("succeeded") && runs.contains("failed"));
    assert!(runs.contains("1 finding(s) at or above high (vuln.fail_on)"));
    assert!(runs.contains("0123456789ab"), "the short commit");

    // One run: stages with gate results, durations, evidence.
    let run = dom(chromium, &format!("{base}/runs/{}", s.good_run)).await;
    assert_inert("/runs/good", &run);
    for name in ["secrets", "build", "sbom", "vuln", "sign", "attest"] {
        assert!(
            run.contains(&format!("<td>{name}</td>")),
            "stage {name}: {run}"
        );
    }
    assert!(run.contains("1.5 s"), "a stage duration: {run}");
    assert!(run.contains("sbom.spdx.json") && run.contains("local-aes256gcm"));
    assert!(run.contains(&s.good_image), "the run's image digest");
    // A unique prefix of the id finds the run too.
    let prefixed = dom(chromium, &format!("{base}/runs/{}", &s.good_run[..13])).await;
    assert!(prefixed.contains(&s.good_run));

    let bad = dom(chromium, &format!("{base}/runs/{}", s.bad_run)).await;
    assert_inert("/runs/bad", &bad);
    assert!(bad.contains(hostile_text), "{bad}");
    assert!(bad.contains("Stopped at") && bad.contains("<b>vuln</b>"));

    // Images: signatures, attestations, SBOM, findings, admission.
    let images = dom(chromium, &format!("{base}/images")).await;
    assert_inert("/images", &images);
    assert!(images.contains(&s.good_image) && images.contains(&s.bad_image));
    assert!(images.contains("oci:/srv/kiln/layout:hello"));
    assert!(images.contains("registry.example/hello:1"));
    assert!(images.contains("cosign"), "{images}");
    assert!(images.contains("SLSA provenance, SPDX SBOM"), "{images}");
    assert!(images.contains("spdx-json; 2 package(s)"), "{images}");
    assert!(images.contains("1 critical") && images.contains("1 high"));
    assert!(images.contains("prod"));

    let image = dom(chromium, &format!("{base}/images/{}", s.good_image)).await;
    assert_inert("/images/good", &image);
    assert!(image.contains("zlib1g") && image.contains("1.2.13"));
    assert!(image.contains("pkg:deb/debian/openssl@3.0.11-1?distro=debian-12"));
    let critical = image.find("DSA-9999-2").expect("the critical finding");
    let high = image.find("DSA-9999-1").expect("the high finding");
    assert!(critical < high, "most severe first");
    assert!(image.contains("CVE-2099-0002"));
    assert!(image.contains("3.0.13-1"), "the fixed version");
    assert!(image.contains(&format!("sha256-{}.sig", "a1".repeat(32))));
    assert!(image.contains("https://slsa.dev/provenance/v1"));
    assert!(image.contains("<td>prod</td>"), "admitted in prod: {image}");
    let bad_image = dom(chromium, &format!("{base}/images/{}", s.bad_image)).await;
    assert_inert("/images/bad", &bad_image);
    assert!(
        bad_image.contains(hostile_text),
        "a hostile package name: {bad_image}"
    );

    // Vulnerabilities: the SVG chart and findings per image.
    let vulns = dom(chromium, &format!("{base}/vulnerabilities")).await;
    assert_inert("/vulnerabilities", &vulns);
    assert!(vulns.contains("<svg id=\"severity-chart\""), "{vulns}");
    assert_eq!(
        vulns.matches("<polyline").count(),
        5,
        "one line per severity"
    );
    // Now: the good image's re-scan (1 critical, 1 high) plus the bad image's scan (1 high).
    assert!(
        vulns.contains("critical (1)") && vulns.contains("high (2)"),
        "{vulns}"
    );
    assert!(vulns.contains("findings-per-image"));
    assert!(vulns.contains("rescan"));

    // Search: which images contain a package, which are affected by a CVE.
    let search = dom(chromium, &format!("{base}/search?package=openssl")).await;
    assert_inert("/search?package", &search);
    assert!(
        search.contains("2 image(s) contain package openssl"),
        "{search}"
    );
    assert!(search.contains(&s.good_image) && search.contains(&s.bad_image));
    let search = dom(chromium, &format!("{base}/search?package=zlib1g")).await;
    assert!(
        search.contains("1 image(s) contain package zlib1g"),
        "{search}"
    );
    let search = dom(chromium, &format!("{base}/search?cve=cve-2099-0002")).await;
    assert_inert("/search?cve", &search);
    assert!(
        search.contains("1 image(s) affected by cve-2099-0002"),
        "{search}"
    );
    assert!(search.contains(&s.good_image) && !search.contains(&s.bad_image));
    assert!(search.contains("DSA-9999-2") && search.contains("<td>prod</td>"));
    let search = dom(chromium, &format!("{base}/search?cve=CVE-2099-0001")).await;
    assert!(
        search.contains("2 image(s) affected by CVE-2099-0001"),
        "{search}"
    );
    let hostile_search = dom(
        chromium,
        &format!("{base}/search?package={}", encode(HOSTILE)),
    )
    .await;
    assert_inert("/search hostile", &hostile_search);
    assert!(
        hostile_search.contains("1 image(s) contain package &lt;script&gt;"),
        "{hostile_search}"
    );
    let form = dom(chromium, &format!("{base}/search")).await;
    assert!(
        form.contains("<form method=\"get\" action=\"/search\">"),
        "{form}"
    );
}

/// Status codes and headers, over HTTP.
async fn check_http(base: &str, s: &Seeded) {
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        let url = format!("{base}{path}");
        async move { client.get(&url).send().await.unwrap() }
    };
    let pages = [
        "/".to_string(),
        format!("/runs/{}", s.good_run),
        "/images".to_string(),
        format!("/images/{}", s.good_image),
        "/vulnerabilities".to_string(),
        "/search?package=openssl".to_string(),
    ];
    for p in pages {
        let r = get(p.clone()).await;
        assert_eq!(r.status(), 200, "{p}");
        let h = r.headers();
        assert_eq!(
            h["content-security-policy"],
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:",
            "{p}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{p}");
        assert_eq!(h["content-type"], "text/html; charset=utf-8", "{p}");
    }
    let expect = [
        ("/runs/0193ffff-ffff-7fff-8fff-ffffffffffff", 404, "No run"),
        ("/runs/not-a-run", 400, "is not a run id"),
        (&format!("/images/{}", digest("ee")), 404, "No image"),
        ("/images/sha256:nothex", 400, "is not an image digest"),
        ("/nowhere", 404, "no such page"),
        ("/?limit=0", 400, "limit"),
        ("/?limit=ten", 400, "limit"),
        ("/?colour=red", 400, "unknown field"),
        ("/vulnerabilities?days=-1", 400, "days"),
        ("/search?package=a%07b", 400, "control characters"),
    ];
    for (path, status, text) in expect {
        let r = get(path.to_string()).await;
        assert_eq!(r.status(), status, "{path}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
        assert!(
            r.headers().contains_key("content-security-policy"),
            "{path}"
        );
        let body = r.text().await.unwrap();
        assert!(body.contains(text), "{path}: {body}");
        assert!(body.starts_with("<!DOCTYPE html>"), "{path}: an HTML page");
    }
}

/// With the ledger closed, pages are 500 pages.
async fn check_ledger_down(base: &str, ledger: &Ledger) {
    ledger.close().await;
    for path in [
        "/",
        "/images",
        "/vulnerabilities",
        "/search?cve=CVE-2099-0001",
    ] {
        let r = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(r.status(), 500, "{path}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
        let body = r.text().await.unwrap();
        assert!(
            body.contains("The ledger could not be read"),
            "{path}: {body}"
        );
    }
}

/// The whole check on one ledger: HTTP statuses and headers, then (with Chromium) every
/// page's DOM, then the ledger going away.
async fn exercise(ledger: Ledger, chromium: Option<&Path>) {
    let seeded = seed(&ledger).await;
    let addr = serve(ledger.clone()).await;
    let base = format!("http://{addr}");
    check_http(&base, &seeded).await;
    if let Some(chromium) = chromium {
        check_pages(chromium, &base, &seeded).await;
    }
    check_ledger_down(&base, &ledger).await;
}

async fn sqlite_ledger(dir: &tempfile::TempDir) -> Ledger {
    let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
    Ledger::open(&url).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_and_headers_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    exercise(sqlite_ledger(&dir).await, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_chromium_on_sqlite() {
    let Some(chromium) = kiln_testutil::program("chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    exercise(sqlite_ledger(&dir).await, Some(&chromium)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_chromium_on_postgres() {
    let Some(chromium) = kiln_testutil::program("chromium") else {
        return;
    };
    let Some(base) = kiln_testutil::postgres() else {
        return;
    };
    let url = fresh_postgres(&base).await;
    exercise(Ledger::open(&url).await.unwrap(), Some(&chromium)).await;
}

#[test]
fn the_tag_scanner_skips_attribute_values() {
    let dom =
        "<html><body><main><input value=\"<script>x</script>\">&lt;img&gt;</main></body></html>";
    assert_eq!(
        tags(dom),
        ["html", "body", "main", "input", "/main", "/body", "/html"]
    );
    assert!(tags("<p><script>1</script></p>").contains(&"script".to_string()));
}
