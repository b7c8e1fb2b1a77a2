//! `kiln server`'s HTTP side in process, over a real socket: webhook signatures of every
//! forge, replays, unknown repositories, ignored pushes, limits, admission reports, and a
//! push whose repository cannot be fetched still leading to a (failed) run in the ledger.
//! The replay test also runs on PostgreSQL (KILN_TEST_POSTGRES, its own database).

use std::path::Path;
use std::time::Duration;

use kiln_pipeline::ledger::Ledger;
use kiln_pipeline::server::config::Overrides;
use kiln_pipeline::server::{self, ServerConfig, forge};
use serde_json::{Value, json};

const SECRET: &str = "It's a Secret to Everybody";
const COMMIT: &str = "c27d339ee6075c1f744c5d4b200f7901aad2c369";

fn config(dir: &Path, ledger: &str, extra: &str) -> ServerConfig {
    let text = format!(
        "listen: 127.0.0.1:0\nledger: {ledger:?}\nwork_dir: {work:?}\nbody_limit: 4096\n\
         admission_token: {{ env: TEST_ADMISSION_TOKEN }}\n{extra}\
         repositories:\n\
         \x20 - name: acme/hello\n\
         \x20   source: {src:?}\n\
         \x20   secret: {{ env: TEST_SECRET }}\n\
         \x20   branches: [main]\n\
         \x20 - name: only-github\n\
         \x20   source: /nowhere\n\
         \x20   secret: {{ env: TEST_SECRET }}\n\
         \x20   forges: [github]\n",
        work = dir.join("work").display().to_string(),
        // Not a repository: every accepted push fails at its checkout.
        src = dir.join("missing-repo").display().to_string(),
    );
    ServerConfig::parse(
        &text,
        Path::new("server.yaml"),
        dir,
        &Overrides::default(),
        &|k| match k {
            "TEST_SECRET" => Some(SECRET.to_string()),
            "TEST_ADMISSION_TOKEN" => Some("adm-token".to_string()),
            _ => None,
        },
    )
    .unwrap()
}

struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    async fn post(&self, path: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, Value) {
        let mut r = self
            .http
            .post(format!("{}{path}", self.base))
            .body(body.to_vec());
        for (k, v) in headers {
            r = r.header(*k, v);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

fn push_body(name: &str, git_ref: &str, after: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ref": git_ref,
        "before": "0".repeat(40),
        "after": after,
        "repository": { "full_name": name, "name": name.rsplit('/').next().unwrap() },
        "project": { "path_with_namespace": name },
    }))
    .unwrap()
}

fn github(body: &[u8], delivery: &str, secret: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-github-event", "push".into()),
        ("x-github-delivery", delivery.into()),
        (
            "x-hub-signature-256",
            format!("sha256={}", forge::sign_hex(secret.as_bytes(), body)),
        ),
        ("content-type", "application/json".into()),
    ]
}

async fn start(dir: &Path, ledger: &str) -> (server::RunningServer, Client) {
    let running = server::start(config(dir, ledger, "")).await.unwrap();
    let client = Client {
        base: format!("http://{}", running.addr),
        http: reqwest::Client::new(),
    };
    (running, client)
}

/// Replays are refused on every backend.
async fn replay(ledger_url: &str, dir: &Path) {
    let (_server, c) = start(dir, ledger_url).await;
    let body = push_body("acme/hello", "refs/heads/main", COMMIT);
    let h = github(&body, "d-replay", SECRET);
    let (status, v) = c.post("/hooks/github", &h, &body).await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["queued"], true);
    assert_eq!(v["repository"], "acme/hello");
    assert_eq!(v["commit"], COMMIT);
    assert_eq!(v["delivery"], "d-replay");
    let (status, v) = c.post("/hooks/github", &h, &body).await;
    assert_eq!(status, 409, "{v}");
    // The same id from another forge is another delivery.
    let gitea = vec![
        ("x-gitea-event", "push".to_string()),
        ("x-gitea-delivery", "d-replay".to_string()),
        (
            "x-gitea-signature",
            forge::sign_hex(SECRET.as_bytes(), &body),
        ),
    ];
    assert_eq!(c.post("/hooks/gitea", &gitea, &body).await.0, 202);
    let ledger = Ledger::open(ledger_url).await.unwrap();
    let d = ledger.delivery("github:d-replay").await.unwrap().unwrap();
    assert_eq!(d.commit.as_deref(), Some(COMMIT));
    // The push whose repository cannot be fetched becomes a failed run, linked.
    let run_id = wait_for(|| async {
        ledger
            .delivery("github:d-replay")
            .await
            .unwrap()
            .and_then(|d| d.run_id)
    })
    .await;
    let run = ledger.run(&run_id).await.unwrap().unwrap();
    assert_eq!(run.input.commit.as_deref(), Some(COMMIT));
    assert_eq!(run.failed_stage.as_deref(), Some("checkout"));
    assert!(run.reason.unwrap_or_default().contains("missing-repo"));
}

async fn wait_for<T, F, Fut>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..600 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the condition never held");
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_is_refused_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/ledger.db", dir.path().display());
    replay(&url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_is_refused_postgres() {
    let Some(base) = kiln_testutil::postgres() else {
        return;
    };
    let url = fresh_postgres(&base).await;
    let dir = tempfile::tempdir().unwrap();
    replay(&url, dir.path()).await;
}

async fn fresh_postgres(base: &str) -> String {
    sqlx::any::install_default_drivers();
    let db = format!("kiln_server_{}", uuid::Uuid::now_v7().simple());
    let admin = sqlx::AnyPool::connect(base).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let (server, _) = base.rsplit_once('/').unwrap();
    format!("{server}/{db}")
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_and_forms() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/ledger.db", dir.path().display());
    let (_server, c) = start(dir.path(), &url).await;
    let ledger = Ledger::open(&url).await.unwrap();
    let body = push_body("acme/hello", "refs/heads/main", COMMIT);

    // GitHub: bad, missing and malformed signatures are 401 and record nothing.
    let bad = github(&body, "g-bad", "not the secret");
    assert_eq!(c.post("/hooks/github", &bad, &body).await.0, 401);
    let mut missing = github(&body, "g-missing", SECRET);
    missing.retain(|(k, _)| *k != "x-hub-signature-256");
    assert_eq!(c.post("/hooks/github", &missing, &body).await.0, 401);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let h = github(&body, "g-tampered", SECRET);
    assert_eq!(c.post("/hooks/github", &h, &tampered).await.0, 401);
    for id in ["github:g-bad", "github:g-missing", "github:g-tampered"] {
        assert!(ledger.delivery(id).await.unwrap().is_none(), "{id}");
    }

    // Ping: 200. Other events: 200, nothing queued.
    let ping = serde_json::to_vec(&json!({"zen": "x", "repository": {"full_name": "acme/hello"}}))
        .unwrap();
    let mut h = github(&ping, "g-ping", SECRET);
    h[0].1 = "ping".into();
    assert_eq!(c.post("/hooks/github", &h, &ping).await.0, 200);
    let mut h = github(&body, "g-issue", SECRET);
    h[0].1 = "issues".into();
    let (s, v) = c.post("/hooks/github", &h, &body).await;
    assert_eq!((s, v["queued"].clone()), (200, json!(false)));

    // Unknown repository, and a forge the repository does not accept: 404.
    let other = push_body("acme/other", "refs/heads/main", COMMIT);
    assert_eq!(
        c.post(
            "/hooks/github",
            &github(&other, "g-unknown", SECRET),
            &other
        )
        .await
        .0,
        404
    );
    let only = push_body("only-github", "refs/heads/main", COMMIT);
    let gitea = vec![
        ("x-gitea-event", "push".to_string()),
        ("x-gitea-delivery", "t-1".to_string()),
        (
            "x-gitea-signature",
            forge::sign_hex(SECRET.as_bytes(), &only),
        ),
    ];
    assert_eq!(c.post("/hooks/gitea", &gitea, &only).await.0, 404);

    // Branch deletions and branches not built: 200, not queued.
    let deleted = push_body("acme/hello", "refs/heads/main", &"0".repeat(40));
    let (s, v) = c
        .post(
            "/hooks/github",
            &github(&deleted, "g-del", SECRET),
            &deleted,
        )
        .await;
    assert_eq!((s, v["queued"].clone()), (200, json!(false)), "{v}");
    let dev = push_body("acme/hello", "refs/heads/dev", COMMIT);
    let (s, v) = c
        .post("/hooks/github", &github(&dev, "g-dev", SECRET), &dev)
        .await;
    assert_eq!((s, v["queued"].clone()), (200, json!(false)), "{v}");

    // GitLab: the token, compared whole.
    let gl = |token: &str, id: &str| {
        vec![
            ("x-gitlab-event", "Push Hook".to_string()),
            ("x-gitlab-token", token.to_string()),
            ("idempotency-key", id.to_string()),
        ]
    };
    assert_eq!(
        c.post("/hooks/gitlab", &gl("It's a Secret", "l-1"), &body)
            .await
            .0,
        401
    );
    let (s, v) = c.post("/hooks/gitlab", &gl(SECRET, "l-2"), &body).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(
        c.post("/hooks/gitlab", &gl(SECRET, "l-2"), &body).await.0,
        409
    );

    // Gitea and Forgejo.
    let sig = forge::sign_hex(SECRET.as_bytes(), &body);
    let gitea = vec![
        ("x-gitea-event", "push".to_string()),
        ("x-gitea-delivery", "t-2".to_string()),
        ("x-gitea-signature", sig.clone()),
    ];
    assert_eq!(c.post("/hooks/gitea", &gitea, &body).await.0, 202);
    let forgejo = vec![
        ("x-forgejo-event", "push".to_string()),
        ("x-forgejo-delivery", "f-1".to_string()),
        ("x-forgejo-signature", sig.clone()),
    ];
    assert_eq!(c.post("/hooks/gitea", &forgejo, &body).await.0, 202);
    let bad = vec![
        ("x-gitea-event", "push".to_string()),
        ("x-gitea-delivery", "t-3".to_string()),
        ("x-gitea-signature", "00".repeat(32)),
    ];
    assert_eq!(c.post("/hooks/gitea", &bad, &body).await.0, 401);

    // Bodies over the limit, and bodies that are not JSON.
    let big = vec![b'x'; 8192];
    assert_eq!(
        c.post("/hooks/github", &github(&big, "g-big", SECRET), &big)
            .await
            .0,
        413
    );
    assert_eq!(
        c.post("/hooks/github", &github(b"{", "g-json", SECRET), b"{")
            .await
            .0,
        400
    );

    // Admission reports: the bearer token, then the ledger.
    let digest = format!("sha256:{}", "ab".repeat(32));
    let report = serde_json::to_vec(&json!({"admitted": [
        {"image": "registry.example/hello:1", "digest": digest, "namespace": "prod"}
    ]}))
    .unwrap();
    assert_eq!(c.post("/api/v1/admitted", &[], &report).await.0, 401);
    let wrong = [("authorization", "Bearer adm-tokeN".to_string())];
    assert_eq!(c.post("/api/v1/admitted", &wrong, &report).await.0, 401);
    let auth = [("authorization", "Bearer adm-token".to_string())];
    let (s, v) = c.post("/api/v1/admitted", &auth, &report).await;
    assert_eq!(s, 200, "{v}");
    let admitted = ledger.admissions(Some(&digest)).await.unwrap();
    assert_eq!(admitted.len(), 1);
    assert_eq!(admitted[0].namespace, "prod");
    let bad_digest = br#"{"admitted":[{"image":"x","digest":"sha256:zz","namespace":"n"}]}"#;
    assert_eq!(c.post("/api/v1/admitted", &auth, bad_digest).await.0, 400);

    // Health and the run list (the three accepted pushes fail at their checkout).
    let (s, v) = c.get("/healthz").await;
    assert_eq!(s, 200);
    assert_eq!(v["status"], "ok");
    let runs = wait_for(|| async {
        let (_, v) = c.get("/api/v1/runs").await;
        let runs = v["runs"].as_array().cloned().unwrap_or_default();
        let done = runs.iter().filter(|r| r["status"] == "failed").count();
        (done == 3).then_some(runs)
    })
    .await;
    assert!(runs.iter().all(|r| r["commit"] == COMMIT), "{runs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn gitlab_signing_token() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/ledger.db", dir.path().display());
    let mut cfg = config(dir.path(), &url, "");
    let key = forge::decode_whsec(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    cfg.repositories[0].gitlab_signing_key = Some(server::config::Secret::new(key.clone()));
    let running = server::start(cfg).await.unwrap();
    let c = Client {
        base: format!("http://{}", running.addr),
        http: reqwest::Client::new(),
    };
    let body = push_body("acme/hello", "refs/heads/main", COMMIT);
    let ts = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs())
    .to_string();
    let signed = |id: &str, key: &[u8]| {
        use base64::Engine as _;
        use hmac::Mac as _;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        mac.update(format!("{id}.{ts}.").as_bytes());
        mac.update(&body);
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        vec![
            ("x-gitlab-event", "Push Hook".to_string()),
            ("x-gitlab-token", SECRET.to_string()),
            ("idempotency-key", id.to_string()),
            ("webhook-id", id.to_string()),
            ("webhook-timestamp", ts.clone()),
            ("webhook-signature", format!("v1,{sig}")),
        ]
    };
    assert_eq!(
        c.post("/hooks/gitlab", &signed("w-1", &key), &body).await.0,
        202
    );
    assert_eq!(
        c.post("/hooks/gitlab", &signed("w-2", b"other key"), &body)
            .await
            .0,
        401
    );
    // The token alone is not enough once a signing token is configured.
    let token_only = vec![
        ("x-gitlab-event", "Push Hook".to_string()),
        ("x-gitlab-token", SECRET.to_string()),
        ("idempotency-key", "w-3".to_string()),
    ];
    assert_eq!(c.post("/hooks/gitlab", &token_only, &body).await.0, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_ledger_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "postgres://kiln@127.0.0.1:1/kiln", "");
    let e = server::start(cfg).await.err().expect("must fail");
    assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
}
