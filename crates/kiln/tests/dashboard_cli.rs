//! The dashboard end to end: a real `kiln run` of examples/hello records a run in a SQLite
//! ledger, `kiln server` serves that ledger, and headless Chromium (Debian `chromium`)
//! loads the pages: the run with its stages, the image with its signature and
//! attestations, the vulnerabilities chart page and a search.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `kiln ARGS` in `dir`, with no vulnerability database (the vuln stage is skipped).
fn kiln(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
    c.current_dir(dir)
        .args(args)
        .env("KILN_VULN_DB", dir.join("no-vuln.db"))
        .env("HOME", dir)
        .env_remove("KILN_PASSWORD")
        .env_remove("COSIGN_PASSWORD")
        .env_remove("KILN_LEDGER")
        .env_remove("KILN_SERVER_CONFIG")
        .env("NO_COLOR", "1");
    c
}

/// A running `kiln server`, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(dir: &Path, ledger: &str) -> Server {
        let mut child = kiln(
            dir,
            &[
                "server",
                "--listen",
                "127.0.0.1:0",
                "--ledger",
                ledger,
                "--work-dir",
                dir.join("server-work").to_str().unwrap(),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(Ok(rest.split_whitespace().next().unwrap_or("").to_string()));
                }
                seen.push(line);
            }
            let _ = tx.send(Err(seen.join("\n")));
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(base)) => base,
            Ok(Err(log)) => panic!("kiln server exited: {log}"),
            Err(_) => panic!("kiln server did not start"),
        };
        Server { child, base }
    }
}

/// The DOM Chromium builds for `url`.
fn dom(chromium: &Path, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new(chromium)
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
        .output()
        .expect("run chromium");
    assert!(o.status.success(), "chromium {url}: {}", text(&o));
    let dom = String::from_utf8(o.stdout).expect("a UTF-8 DOM");
    assert!(dom.contains("</main>"), "no dashboard page at {url}: {dom}");
    assert!(
        !dom.to_ascii_lowercase().contains("<script"),
        "{url}: {dom}"
    );
    dom
}

fn chromium() -> Option<PathBuf> {
    kiln_testutil::program("chromium")
}

#[test]
fn kiln_server_shows_a_real_run_in_chromium() {
    let Some(chromium) = chromium() else { return };
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("hello");
    kiln_testutil::copy_project(
        &kiln_testutil::workspace_root().join("examples/hello"),
        &dir,
    );

    let o = kiln(&dir, &["run", "--format", "json"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    let run_id = run["run_id"].as_str().unwrap().to_string();
    let digest = run["digest"].as_str().unwrap().to_string();

    let ledger = format!("sqlite://{}", dir.join(".kiln/ledger.db").display());
    let server = Server::start(&dir, &ledger);
    let base = &server.base;

    let runs = dom(&chromium, &format!("{base}/"));
    assert!(runs.contains(&run_id), "{runs}");
    assert!(runs.contains("succeeded"), "{runs}");
    assert!(runs.contains(&digest[..19]), "the short digest: {runs}");

    let page = dom(&chromium, &format!("{base}/runs/{run_id}"));
    for stage in ["secrets", "build", "sbom", "vuln", "sign", "attest", "push"] {
        assert!(
            page.contains(&format!("<td>{stage}</td>")),
            "{stage}: {page}"
        );
    }
    assert!(page.contains("sbom.spdx.json"), "the evidence: {page}");
    assert!(page.contains(&digest), "{page}");

    let images = dom(&chromium, &format!("{base}/images"));
    assert!(images.contains(&digest), "{images}");
    assert!(images.contains("cosign"), "{images}");
    assert!(images.contains("SLSA provenance"), "{images}");

    let image = dom(&chromium, &format!("{base}/images/{digest}"));
    assert!(image.contains(&run_id), "{image}");
    assert!(image.contains("https://slsa.dev/provenance/v1"), "{image}");

    let vulns = dom(&chromium, &format!("{base}/vulnerabilities"));
    assert!(vulns.contains("Open findings by severity"), "{vulns}");

    let missing = dom(&chromium, &format!("{base}/runs/{}", "0".repeat(8)));
    assert!(missing.contains("No run"), "{missing}");
}
