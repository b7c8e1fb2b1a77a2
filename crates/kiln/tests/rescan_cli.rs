//! End-to-end tests of continuous re-scanning through the CLI: `kiln run` on a copy of
//! examples/hello with an npm package (lodash 4.17.19) records the image's packages and
//! scan; `kiln rescan` against the same database finds nothing new; after the database
//! gains an advisory for lodash, `kiln rescan --notify URL` records the new finding in
//! the ledger and a real HTTP listener in the test receives the JSON document (or the
//! Slack form) naming the image, the package and the advisory; a further re-scan finds
//! nothing new and leaves the finding's first-seen time alone.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::Duration;

use kiln_pipeline::ledger::Ledger;

/// An advisory for another package.
const OTHER: &str = "GHSA-229x-22xc-2f2w";
/// Advisories for lodash < 4.17.20 (high), < 4.17.21 (high) and < 4.17.21 (moderate).
const LODASH_1: &str = "GHSA-p6mc-m468-83gw";
const LODASH_2: &str = "GHSA-35jh-r3h4-6jhm";
const LODASH_3: &str = "GHSA-29mw-wpgm-hmr9";

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

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

/// A copy of examples/hello whose image also holds node_modules/lodash 4.17.19, with
/// `extra` appended to its kiln.yaml.
fn project(root: &Path, extra: &str) -> PathBuf {
    let dir = root.join("hello");
    kiln_testutil::copy_project(
        &kiln_testutil::workspace_root().join("examples/hello"),
        &dir,
    );
    let y = std::fs::read_to_string(dir.join("kiln.yaml")).unwrap();
    let y = y.replacen(
        "  config:\n",
        "    - files:\n        - src: node_modules\n          dest: /srv/app/node_modules\n  config:\n",
        1,
    ) + extra;
    std::fs::write(dir.join("kiln.yaml"), y).unwrap();
    let pkg = dir.join("node_modules/lodash");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(
        pkg.join("package.json"),
        r#"{"name":"lodash","version":"4.17.19","license":"MIT"}"#,
    )
    .unwrap();
    dir
}

/// A vulnerability database at `path` holding these OSV samples.
fn database(samples: &Path, path: &Path, ids: &[&str]) -> String {
    let files: Vec<String> = ids
        .iter()
        .map(|id| samples.join(format!("{id}.json")).display().to_string())
        .collect();
    let db = path.display().to_string();
    let mut args = vec!["db", "--db", &db, "import"];
    args.extend(files.iter().map(String::as_str));
    let o = kiln(Path::new("."), &args, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    db
}

/// A webhook receiver on a real socket: every request body arrives on the channel; the
/// first `fail_first` requests are answered 503, the others 204.
fn receiver(fail_first: usize) -> (String, mpsc::Receiver<serde_json::Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/hooks/T000/s3cr3t-token",
        listener.local_addr().unwrap()
    );
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            assert!(request_line.starts_with("POST /hooks/T000/s3cr3t-token "));
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let status = if n < fail_first {
                "503 Service Unavailable"
            } else {
                "204 No Content"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = tx.send(serde_json::from_slice(&body).unwrap());
        }
    });
    (url, rx)
}

fn next(rx: &mpsc::Receiver<serde_json::Value>) -> serde_json::Value {
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the webhook received nothing")
}

/// The ledger of a project, opened directly.
async fn ledger(dir: &Path) -> Ledger {
    let url = format!("sqlite://{}", dir.join(".kiln/ledger.db").display());
    Ledger::open(&url).await.unwrap()
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn rescan_records_new_findings_and_notifies_in_json() {
    let Some(samples) = kiln_testutil::shared_vectors("osv/samples") else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let (hook, rx) = receiver(0);
    let dir = project(t.path(), &format!("notifications:\n  webhook: {hook}\n"));
    let old = database(&samples, &t.path().join("old.db"), &[LODASH_1]);

    // The run records the packages and its scan (one finding), and announces itself.
    let o = kiln(
        &dir,
        &["run", "--format", "json"],
        &[("KILN_VULN_DB", &old)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run = json(&o);
    let digest = run["digest"].as_str().unwrap().to_string();
    let announced = next(&rx);
    assert_eq!(announced["kind"], "kiln.run", "{announced}");
    assert_eq!(announced["run_id"], run["run_id"]);
    assert_eq!(announced["digest"], digest.as_str());
    assert_eq!(announced["status"], "succeeded");
    let run_id = run["run_id"].as_str().unwrap().to_string();
    let (packages, findings) = block(async {
        let l = ledger(&dir).await;
        (
            l.packages(&digest).await.unwrap(),
            l.findings(&digest).await.unwrap(),
        )
    });
    assert!(
        packages
            .iter()
            .any(|p| p.name == "lodash" && p.purl == "pkg:npm/lodash@4.17.19"),
        "{packages:?}"
    );
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].vuln_id, LODASH_1);
    assert_eq!(findings[0].source, format!("run:{run_id}"));

    // Same database: nothing new, nothing sent.
    let o = kiln(&dir, &["rescan", "--db", &old, "--format", "json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = json(&o);
    assert_eq!(r["images_scanned"], 1, "{r}");
    assert_eq!(r["new_findings"], 0, "{r}");
    assert_eq!(r["notification"]["sent"], false, "{r}");
    assert_eq!(r["images"][0]["findings"], 1, "{r}");

    // The database gains an advisory for lodash: one new finding, recorded and sent.
    let new = database(&samples, &t.path().join("new.db"), &[LODASH_1, LODASH_2]);
    let o = kiln(
        &dir,
        &[
            "rescan",
            "--db",
            &new,
            "--notify",
            &hook,
            "--exit-code",
            "3",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains(LODASH_2) && out.contains("lodash@4.17.19"),
        "{out}"
    );
    assert!(
        !out.contains("s3cr3t-token"),
        "the webhook token leaked: {out}"
    );
    let doc = next(&rx);
    assert_eq!(doc["kind"], "kiln.rescan", "{doc}");
    assert_eq!(doc["new_findings"], 1, "{doc}");
    let image = &doc["images"][0];
    assert_eq!(image["digest"], digest.as_str(), "{doc}");
    assert_eq!(image["run_id"], run_id.as_str(), "{doc}");
    assert!(
        image["references"][0]
            .as_str()
            .unwrap()
            .ends_with(".kiln/oci:0.1.0"),
        "{doc}"
    );
    let f = &image["new_findings"][0];
    assert_eq!(f["id"], LODASH_2, "{doc}");
    assert_eq!(f["aliases"][0], "CVE-2021-23337", "{doc}");
    assert_eq!(f["package"], "lodash", "{doc}");
    assert_eq!(f["version"], "4.17.19", "{doc}");
    assert_eq!(f["severity"], "high", "{doc}");
    assert_eq!(f["fixed_version"], "4.17.21", "{doc}");

    let (first, scans) = block(async {
        let l = ledger(&dir).await;
        (
            l.findings(&digest).await.unwrap(),
            l.scans(0).await.unwrap(),
        )
    });
    let found = first.iter().find(|f| f.vuln_id == LODASH_2).unwrap();
    assert!(found.source.starts_with("rescan:"), "{found:?}");
    assert_eq!(
        scans
            .iter()
            .map(|s| (s.kind.as_str(), s.new_findings))
            .collect::<Vec<_>>(),
        [("run", 1), ("rescan", 0), ("rescan", 1)]
    );

    // Once more: nothing new, first-seen unchanged, nothing sent.
    let o = kiln(
        &dir,
        &[
            "rescan",
            "--db",
            &new,
            "--format",
            "json",
            "--exit-code",
            "3",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(json(&o)["new_findings"], 0);
    let again = block(async { ledger(&dir).await.findings(&digest).await.unwrap() });
    let same = again.iter().find(|f| f.vuln_id == LODASH_2).unwrap();
    assert_eq!(same.first_seen, found.first_seen);
    assert!(same.last_seen >= found.last_seen);
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "a re-scan without new findings notified"
    );
}

#[test]
fn rescan_sends_the_slack_form_and_retries_a_5xx() {
    let Some(samples) = kiln_testutil::shared_vectors("osv/samples") else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let dir = project(t.path(), "");
    let old = database(&samples, &t.path().join("old.db"), &[LODASH_1]);
    let o = kiln(&dir, &["run"], &[("KILN_VULN_DB", &old)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // The receiver fails the first delivery; the retry gets through.
    let (hook, rx) = receiver(1);
    let y = std::fs::read_to_string(dir.join("kiln.yaml")).unwrap();
    std::fs::write(
        dir.join("kiln.yaml"),
        format!("{y}notifications:\n  webhook: {hook}\n  format: slack\n"),
    )
    .unwrap();
    let new = database(&samples, &t.path().join("new.db"), &[LODASH_1, LODASH_3]);
    let o = kiln(
        &dir,
        &["rescan", "--format", "json"],
        &[("KILN_VULN_DB", &new)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = json(&o);
    assert_eq!(r["new_findings"], 1, "{r}");
    assert_eq!(r["notification"]["sent"], true, "{r}");
    let first = next(&rx);
    let retried = next(&rx);
    assert_eq!(first, retried, "the retry is the same message");
    let text_field = retried["text"].as_str().unwrap();
    assert!(text_field.contains("1 new finding"), "{retried}");
    let blocks = retried["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    let body = blocks[1]["text"]["text"].as_str().unwrap();
    assert_eq!(blocks[1]["text"]["type"], "mrkdwn");
    assert!(body.contains(LODASH_3), "{body}");
    assert!(body.contains("lodash@4.17.19"), "{body}");
    assert!(body.contains("*medium*"), "{body}");
    assert!(body.contains(r["images"][0]["image_digest"].as_str().unwrap()));
}

#[test]
fn rescan_reports_an_unreachable_webhook_without_failing() {
    let Some(samples) = kiln_testutil::shared_vectors("osv/samples") else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let dir = project(t.path(), "");
    let old = database(&samples, &t.path().join("old.db"), &[OTHER]);
    let o = kiln(&dir, &["run"], &[("KILN_VULN_DB", &old)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/token-xyz", l.local_addr().unwrap())
    };
    let new = database(&samples, &t.path().join("new.db"), &[LODASH_1]);
    let o = kiln(
        &dir,
        &[
            "rescan", "--db", &new, "--notify", &closed, "--format", "json",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = json(&o);
    assert_eq!(r["new_findings"], 1, "{r}");
    assert_eq!(r["notification"]["sent"], false, "{r}");
    let err = r["notification"]["error"].as_str().unwrap();
    assert!(err.contains("after one retry"), "{err}");
    assert!(!text(&o).contains("token-xyz"), "{}", text(&o));

    // `kiln db update --rescan` re-scans after the update, even a failed one (exit 1).
    let o = kiln(
        &dir,
        &[
            "db",
            "--db",
            &new,
            "update",
            "--source",
            &closed,
            "--ecosystem",
            "npm",
            "--rescan",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("1 image(s) re-scanned") && text(&o).contains("0 new finding(s)"),
        "{}",
        text(&o)
    );

    // A bad URL is refused before anything is scanned.
    let o = kiln(
        &dir,
        &["rescan", "--db", &new, "--notify", "ftp://x/y"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("http"), "{}", text(&o));
}
