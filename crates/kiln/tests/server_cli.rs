//! End-to-end tests of `kiln server` and `kiln hook`, with real processes and real git:
//! a committed copy of examples/hello pushed through a GitHub-form webhook runs the whole
//! pipeline into the server's SQLite ledger (a bad HMAC runs nothing, a replay is refused,
//! the GitLab and Gitea forms are accepted); the queue limit answers 503; a run left
//! `running` by a dead process is marked failed when the server starts; `kiln hook
//! install` on a bare repository makes `git push` start a run, and a push to a repository
//! whose server is down still succeeds.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiln_pipeline::server::forge;
use serde_json::{Value, json};

const SECRET: &str = "push-secret-0123456789";

fn git(dir: &Path, args: &[&str]) -> Output {
    let o = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Kiln Test")
        .env("GIT_AUTHOR_EMAIL", "test@kiln.invalid")
        .env("GIT_COMMITTER_NAME", "Kiln Test")
        .env("GIT_COMMITTER_EMAIL", "test@kiln.invalid")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// A git repository (branch main) holding a copy of examples/hello, `build_run` added to
/// its build section; returns (dir, HEAD).
fn hello_repo(parent: &Path, build_run: Option<&str>) -> (PathBuf, String) {
    let dir = parent.join("hello");
    kiln_testutil::copy_project(
        &kiln_testutil::workspace_root().join("examples/hello"),
        &dir,
    );
    if let Some(cmd) = build_run {
        let y = std::fs::read_to_string(dir.join("kiln.yaml")).unwrap();
        let y = y.replacen("build:\n", &format!("build:\n  run: {cmd:?}\n"), 1);
        std::fs::write(dir.join("kiln.yaml"), y).unwrap();
    }
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "hello"]);
    let head = String::from_utf8(git(&dir, &["rev-parse", "HEAD"]).stdout).unwrap();
    (dir, head.trim().to_string())
}

/// A running `kiln server`, killed when dropped.
struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(dir: &Path, config: &str) -> Server {
        let path = dir.join("server.yaml");
        std::fs::write(&path, config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .current_dir(dir)
            .args(["server", "--config", path.to_str().unwrap()])
            .env("KILN_LOG", "info")
            .env("KILN_VULN_DB", dir.join("no-vuln.db"))
            .env("HOME", dir)
            .env_remove("KILN_PASSWORD")
            .env_remove("COSIGN_PASSWORD")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("the server did not start: {:?}", log.lock().unwrap()));
        Server { child, base, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    async fn post(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut r = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .body(body.to_vec());
        for (k, v) in headers {
            r = r.header(*k, v);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, resp.json().await.unwrap_or(Value::Null), headers)
    }

    async fn get(&self, path: &str) -> Value {
        reqwest::get(format!("{}{path}", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn runs(&self) -> Vec<Value> {
        self.get("/api/v1/runs").await["runs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until no run is queued or running (work trees removed).
    async fn idle(&self) {
        for _ in 0..1200 {
            let h = self.get("/healthz").await;
            if h["queue"]["running"] == 0 && h["queue"]["queued"] == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the queue never emptied; log:\n{}", self.log());
    }

    /// Waits until `n` runs have finished; returns every run.
    async fn finished_runs(&self, n: usize) -> Vec<Value> {
        for _ in 0..1200 {
            let runs = self.runs().await;
            if runs.iter().filter(|r| r["status"] != "running").count() >= n {
                return runs;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{n} runs never finished; log:\n{}", self.log());
    }
}

fn config(dir: &Path, extra: &str, repos: &str) -> String {
    format!(
        "listen: 127.0.0.1:0\nledger: sqlite://{ledger}\nwork_dir: {work}\n{extra}repositories:\n{repos}",
        ledger = dir.join("ledger.db").display(),
        work = dir.join("work").display(),
    )
}

fn repo_entry(name: &str, source: &Path, secret_file: &Path) -> String {
    format!(
        "  - name: {name}\n    source: {}\n    secret: {{ file: {} }}\n",
        source.display(),
        secret_file.display()
    )
}

fn push_body(name: &str, commit: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ref": "refs/heads/main",
        "before": "0".repeat(40),
        "after": commit,
        "repository": { "full_name": name, "name": "hello" },
        "project": { "path_with_namespace": name, "name": "hello" },
    }))
    .unwrap()
}

fn github_headers(body: &[u8], delivery: &str, secret: &str) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".into()),
        ("x-github-event", "push".into()),
        ("x-github-delivery", delivery.into()),
        (
            "x-hub-signature-256",
            format!("sha256={}", forge::sign_hex(secret.as_bytes(), body)),
        ),
    ]
}

fn secret_file(dir: &Path) -> PathBuf {
    let p = dir.join("secret");
    std::fs::write(&p, format!("{SECRET}\n")).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread")]
async fn github_push_runs_the_pipeline() {
    let t = tempfile::tempdir().unwrap();
    let (src, head) = hello_repo(t.path(), None);
    let secret = secret_file(t.path());
    let server = Server::start(
        t.path(),
        &config(t.path(), "", &repo_entry("acme/hello", &src, &secret)),
    );
    let body = push_body("acme/hello", &head);

    // A bad HMAC: 401, logged without the secret, no run.
    let (status, _, _) = server
        .post(
            "/hooks/github",
            &github_headers(&body, "bad-1", "wrong secret"),
            &body,
        )
        .await;
    assert_eq!(status, 401);

    let (status, v, _) = server
        .post(
            "/hooks/github",
            &github_headers(&body, "good-1", SECRET),
            &body,
        )
        .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(
        v,
        json!({"queued": true, "repository": "acme/hello", "commit": head, "delivery": "good-1"})
    );
    let runs = server.finished_runs(1).await;
    assert_eq!(runs.len(), 1, "the bad HMAC ran something: {runs:?}");
    let run = &runs[0];
    assert_eq!(run["commit"], head.as_str());
    assert_eq!(run["status"], "succeeded", "{run:#}\n{}", server.log());
    assert!(run["digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(run["tree_dirty"], false, "{run:#}");
    // The server's ledger replaces kiln.yaml's for the run; the digest is the file's own.
    let sum = Command::new("sha256sum")
        .arg(src.join("kiln.yaml"))
        .output()
        .unwrap();
    let sum = String::from_utf8(sum.stdout).unwrap();
    assert_eq!(
        run["config_digest"],
        format!("sha256:{}", &sum[..64]),
        "{run:#}"
    );
    let stages: Vec<&str> = run["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        ["secrets", "build", "sbom", "vuln", "sign", "attest", "push"]
    );

    // The replay: 409, no second run.
    let (status, _, _) = server
        .post(
            "/hooks/github",
            &github_headers(&body, "good-1", SECRET),
            &body,
        )
        .await;
    assert_eq!(status, 409);

    // The work tree is gone; the key and the image stay in the repository's state.
    server.idle().await;
    let work = t.path().join("work");
    let trees: Vec<_> = std::fs::read_dir(work.join("trees/acme_hello"))
        .unwrap()
        .collect();
    assert!(trees.is_empty(), "work trees left: {trees:?}");
    assert!(work.join("state/acme_hello/keys/cosign.key").is_file());
    assert!(work.join("state/acme_hello/oci/index.json").is_file());

    // GitLab and Gitea forms.
    let gitlab = vec![
        ("x-gitlab-event", "Push Hook".to_string()),
        ("x-gitlab-token", SECRET.to_string()),
        ("x-gitlab-event-uuid", "gl-1".to_string()),
    ];
    let (status, v, _) = server.post("/hooks/gitlab", &gitlab, &body).await;
    assert_eq!(status, 202, "{v}");
    let gitea = vec![
        ("x-gitea-event", "push".to_string()),
        ("x-gitea-delivery", "gt-1".to_string()),
        (
            "x-gitea-signature",
            forge::sign_hex(SECRET.as_bytes(), &body),
        ),
    ];
    let (status, v, _) = server.post("/hooks/gitea", &gitea, &body).await;
    assert_eq!(status, 202, "{v}");
    let runs = server.finished_runs(3).await;
    assert!(
        runs.iter().all(|r| r["status"] == "succeeded"),
        "{runs:#?}\n{}",
        server.log()
    );
    // The same commit gives the same image (the build is reproducible).
    assert!(runs.iter().all(|r| r["digest"] == runs[0]["digest"]));

    let log = server.log();
    assert!(log.contains("webhook refused"), "{log}");
    assert!(!log.contains(SECRET), "the secret leaked into the log");

    // The dashboard is served at /.
    let page = reqwest::get(format!("{}/", server.base)).await.unwrap();
    assert_eq!(page.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_answers_503() {
    let t = tempfile::tempdir().unwrap();
    let release = t.path().join("release");
    let wait = format!("while [ ! -e {} ]; do sleep 0.1; done", release.display());
    let (src, head) = hello_repo(t.path(), Some(&wait));
    let secret = secret_file(t.path());
    let server = Server::start(
        t.path(),
        &config(
            t.path(),
            "max_concurrent_runs: 1\nmax_queued: 1\n",
            &repo_entry("acme/hello", &src, &secret),
        ),
    );
    let body = push_body("acme/hello", &head);
    let push = |id: &'static str| {
        let body = body.clone();
        let server = &server;
        async move {
            server
                .post("/hooks/github", &github_headers(&body, id, SECRET), &body)
                .await
        }
    };
    assert_eq!(push("q-1").await.0, 202);
    // Wait for the first run to hold the only slot (its build waits for `release`).
    for i in 0.. {
        let h = server.get("/healthz").await;
        if h["queue"]["running"] == 1 && h["queue"]["queued"] == 0 {
            break;
        }
        assert!(i < 600, "the first run never started: {h}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(push("q-2").await.0, 202);
    let (status, v, headers) = push("q-3").await;
    assert_eq!(status, 503, "{v}");
    assert!(headers.get("retry-after").is_some());
    // The refused delivery may come again later.
    std::fs::write(&release, "").unwrap();
    let runs = server.finished_runs(2).await;
    assert_eq!(runs.len(), 2);
    assert_eq!(push("q-3").await.0, 202);
    let runs = server.finished_runs(3).await;
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn interrupted_runs_are_marked_failed_at_start() {
    use kiln_pipeline::ledger::{Ledger, NewRun, RunStatus, owner};
    let t = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", t.path().join("ledger.db").display());
    let id = {
        let ledger = Ledger::open(&url).await.unwrap();
        let run = NewRun {
            repository: "/src/hello".into(),
            commit: Some("0".repeat(40)),
            tree_dirty: false,
            config_digest: format!("sha256:{}", "ab".repeat(32)),
            base_image: None,
            started_at: 1_700_000_000_000,
        };
        // Owned by a process of this host that does not exist.
        let id = ledger
            .start_run_owned(&run, &format!("{}:4294967295", owner::host()))
            .await
            .unwrap();
        ledger.close().await;
        id
    };
    let server = Server::start(t.path(), &config(t.path(), "", ""));
    assert!(
        server.log().contains("marked 1 interrupted run"),
        "{}",
        server.log()
    );
    let ledger = Ledger::open(&url).await.unwrap();
    let run = ledger.run(id.as_str()).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.reason.as_deref(), Some("interrupted"));
}

#[tokio::test(flavor = "multi_thread")]
async fn hook_install_and_git_push() {
    let t = tempfile::tempdir().unwrap();
    let (src, head) = hello_repo(t.path(), None);
    let bare = t.path().join("hello.git");
    git(
        t.path(),
        &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
    );
    let secret = secret_file(t.path());
    let server = Server::start(
        t.path(),
        &config(t.path(), "", &repo_entry("hello", &bare, &secret)),
    );
    let kiln = env!("CARGO_BIN_EXE_kiln");
    let o = Command::new(kiln)
        .args([
            "hook",
            "install",
            "--repo",
            bare.to_str().unwrap(),
            "--server",
            &server.base,
        ])
        .args(["--secret-file", secret.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A foreign hook is kept unless --force.
    let other = t.path().join("other.git");
    git(t.path(), &["init", "-q", "--bare", other.to_str().unwrap()]);
    std::fs::write(other.join("hooks/post-receive"), "#!/bin/sh\nexit 0\n").unwrap();
    let o = Command::new(kiln)
        .args([
            "hook",
            "install",
            "--repo",
            other.to_str().unwrap(),
            "--server",
            &server.base,
        ])
        .args(["--secret-file", secret.to_str().unwrap(), "--name", "hello"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));

    let o = git(&src, &["push", "-q", bare.to_str().unwrap(), "main"]);
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(said.contains("202"), "{said}");
    let runs = server.finished_runs(1).await;
    assert_eq!(runs[0]["commit"], head.as_str());
    assert_eq!(
        runs[0]["status"],
        "succeeded",
        "{:#}\n{}",
        runs[0],
        server.log()
    );

    // A server that is down: the push still succeeds, the hook warns.
    let down = t.path().join("down.git");
    git(
        t.path(),
        &["init", "-q", "--bare", "-b", "main", down.to_str().unwrap()],
    );
    let o = Command::new(kiln)
        .args(["hook", "install", "--repo", down.to_str().unwrap()])
        .args([
            "--server",
            "http://127.0.0.1:1",
            "--secret-file",
            secret.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = git(&src, &["push", "-q", down.to_str().unwrap(), "main"]);
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(said.contains("not notified"), "{said}");
    assert!(!said.contains(SECRET));
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_update_then_rescan() {
    use kiln_pipeline::ledger::Ledger;
    let Some(samples) = kiln_testutil::shared_vectors("osv/samples") else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let (src, head) = hello_repo(t.path(), None);
    let secret = secret_file(t.path());
    let db = t.path().join("server-vuln.db");
    let server = Server::start(
        t.path(),
        &config(
            t.path(),
            &format!(
                "db_update_interval: 1s\ndb_source: {}\ndb: {}\n",
                samples.display(),
                db.display()
            ),
            &repo_entry("acme/hello", &src, &secret),
        ),
    );
    let body = push_body("acme/hello", &head);
    let (status, _, _) = server
        .post(
            "/hooks/github",
            &github_headers(&body, "s-1", SECRET),
            &body,
        )
        .await;
    assert_eq!(status, 202);
    let runs = server.finished_runs(1).await;
    assert_eq!(runs[0]["status"], "succeeded", "{}", server.log());
    let digest = runs[0]["digest"].as_str().unwrap().to_string();
    // The update fills the server's database; the re-scan records a scan of the image.
    let ledger = Ledger::open(&format!(
        "sqlite://{}",
        t.path().join("ledger.db").display()
    ))
    .await
    .unwrap();
    for i in 0.. {
        let scans = ledger.scans(0).await.unwrap();
        if scans
            .iter()
            .any(|s| s.kind == "rescan" && s.image_digest == digest)
        {
            break;
        }
        assert!(i < 300, "no re-scan was recorded; log:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(db.is_file());
    assert!(
        server.log().contains("vulnerability database"),
        "{}",
        server.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_https_with_the_configured_certificate() {
    let Some(openssl) = kiln_testutil::program("openssl") else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let (cert, key) = (t.path().join("tls.crt"), t.path().join("tls.key"));
    let o = Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let server = Server::start(
        t.path(),
        &config(
            t.path(),
            &format!(
                "tls: {{ cert: {}, key: {} }}\n",
                cert.display(),
                key.display()
            ),
            "",
        ),
    );
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap(),
        )
        .build()
        .unwrap();
    let h: Value = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok");
}
