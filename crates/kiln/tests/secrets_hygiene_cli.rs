//! Secrets hygiene (issue 9): every command that can touch a secret runs with
//! `KILN_LOG=trace` on a tree holding planted secrets and with a key password, and no
//! planted secret nor the password may appear in its stdout, stderr or any file it wrote
//! (reports, SARIF, baselines, hooks, keys, the non-layer files of OCI layouts), unless
//! `--no-redact` was given; with `--no-redact` the secret must appear, so the checks are
//! shown to be able to fail.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::text;

/// The key password (used for generate, import, sign, attest).
const PASSWORD: &str = "Hyg1ene-Key-Pa55word!";
/// A wrong password tried once: it must not be echoed either.
const WRONG: &str = "Wr0ng-Hyg1ene-Pa55";

// Format-valid fakes (never live credentials), assembled at run time so this file does not
// trip scanners itself.
fn aws_id() -> String {
    format!("AKIA{}", "HYG7ENE3TEST4KLN")
}
fn aws_secret() -> String {
    format!("{}{}", "hYg1eneS3cr3tVa1ue", "Pq8Wx2Yc6Vb0Nm4Lk7Jz")
}
fn gh_pat() -> String {
    format!("ghp_{}", "Hyg9xLm2Zp8RwYb4Nc7Hd1Fg6Js0Ae5UiwQ3")
}
fn db_password() -> String {
    format!("{}{}", "pg-Hyg1ene-", "Vq7Rt2Xz9")
}

/// Every string that must never appear (the planted secrets and both passwords).
fn forbidden() -> Vec<String> {
    vec![
        aws_id(),
        aws_secret(),
        gh_pat(),
        db_password(),
        PASSWORD.to_string(),
        WRONG.to_string(),
    ]
}

/// A test world: the project tree (a git repository) and a private HOME, both watched.
struct World {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    home: PathBuf,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("project");
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        write(
            &dir.join("app/config.py"),
            &format!(
                "AWS_ACCESS_KEY_ID = \"{}\"\naws_secret_access_key = \"{}\"\n",
                aws_id(),
                aws_secret()
            ),
        );
        write(
            &dir.join("app/deploy.sh"),
            &format!("#!/bin/sh\nexport GITHUB_TOKEN={}\n", gh_pat()),
        );
        write(
            &dir.join("app/settings.env"),
            &format!(
                "DATABASE_URL=postgres://app:{}@db.internal:5432/app\n",
                db_password()
            ),
        );
        write(
            &dir.join("requirements.txt"),
            &format!(
                "--index-url https://ci:{}@pypi.internal/simple\nrequests==2.31.0\n",
                db_password()
            ),
        );
        write(
            &dir.join("package.json"),
            r#"{"name":"hygiene","version":"1.0.0","dependencies":{"lodash":"4.17.19"}}"#,
        );
        write(&dir.join(".gitignore"), ".kiln/oci/\n");
        write(
            &dir.join("kiln.yaml"),
            "image:\n  name: hygiene\n  tag: \"1\"\nbuild:\n  base: scratch\n  layers:\n    - files:\n        - src: app\n          dest: /app\n",
        );
        World {
            _tmp: tmp,
            dir,
            home,
        }
    }

    /// Content fingerprints of every file under the project and HOME.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut m = BTreeMap::new();
        for root in [&self.dir, &self.home] {
            walk(root, &mut m);
        }
        m
    }

    /// Runs `kiln ARGS` in the project with tracing at its most verbose, `KILN_PASSWORD` set
    /// to `password` when given, and returns the output and every file it created or
    /// changed, with the leaks found in all of them.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (Output, Vec<String>) {
        let before = self.snapshot();
        let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
        c.current_dir(&self.dir)
            .args(args)
            .env("KILN_LOG", "trace")
            .env("HOME", &self.home)
            .env("XDG_CACHE_HOME", self.home.join(".cache"))
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env_remove("KILN_PASSWORD")
            .env_remove("COSIGN_PASSWORD")
            .env_remove("KILN_VULN_DB");
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().expect("kiln runs");
        let mut leaks = Vec::new();
        for (what, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            leaks.extend(leaks_in(what, bytes));
        }
        let after = self.snapshot();
        let mut written = 0;
        for (path, data) in &after {
            if before.get(path) == Some(data) || is_layer(data) {
                continue;
            }
            written += 1;
            leaks.extend(leaks_in(&path.display().to_string(), data));
        }
        // The trace log is long: a sign that tracing really was at its most verbose level.
        assert!(
            !out.stderr.is_empty() || written > 0 || !out.stdout.is_empty(),
            "kiln {args:?} printed and wrote nothing"
        );
        (out, leaks)
    }

    /// Runs and asserts no leak and the exit code.
    fn clean(&self, args: &[&str], env: &[(&str, &str)], code: i32) -> Output {
        let (out, leaks) = self.run(args, env);
        assert!(leaks.is_empty(), "kiln {args:?} leaked: {leaks:?}");
        assert_eq!(
            out.status.code(),
            Some(code),
            "kiln {args:?}: {}",
            tail(&text(&out))
        );
        out
    }

    fn git(&self, args: &[&str]) {
        let out = Command::new("git")
            .current_dir(&self.dir)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Kiln Test")
            .env("GIT_AUTHOR_EMAIL", "test@kiln.invalid")
            .env("GIT_COMMITTER_NAME", "Kiln Test")
            .env("GIT_COMMITTER_EMAIL", "test@kiln.invalid")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn write(path: &Path, data: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, data).expect("write");
}

fn walk(dir: &Path, into: &mut BTreeMap<PathBuf, Vec<u8>>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            // Git's own object store is written by git, not kiln.
            if p.file_name().is_some_and(|n| n == "objects")
                && p.parent().is_some_and(|d| d.ends_with(".git"))
            {
                continue;
            }
            walk(&p, into);
        } else if ft.is_file()
            && let Ok(data) = std::fs::read(&p)
        {
            into.insert(p, data);
        }
    }
}

/// A layer blob (gzip, zstd or tar) legitimately holds the files it packs.
fn is_layer(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b])
        || data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || data.get(257..262) == Some(b"ustar")
}

/// Each forbidden string found in `data`, named with where.
fn leaks_in(what: &str, data: &[u8]) -> Vec<String> {
    let s = String::from_utf8_lossy(data);
    forbidden()
        .into_iter()
        .filter(|f| s.contains(f.as_str()))
        .map(|f| format!("{what} holds {}...", &f[..6]))
        .collect()
}

fn tail(s: &str) -> String {
    let start = s.len().saturating_sub(3000);
    let start = (start..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    s[start..].to_string()
}

const FORMATS: [&str; 3] = ["table", "json", "sarif"];

#[test]
fn secret_scans_never_print_or_write_a_secret() {
    if kiln_testutil::program("git").is_none() {
        return;
    }
    let w = World::new();
    w.git(&["init", "-q", "-b", "main"]);

    // Working tree, every format, to stdout and to a file.
    for f in FORMATS {
        let o = w.clean(&["secrets", "scan", ".", "-f", f], &[], 1);
        assert!(text(&o).contains("AKIA"), "{f}: the finding is reported");
        w.clean(
            &["secrets", "scan", ".", "-f", f, "-o", &format!("tree.{f}")],
            &[],
            1,
        );
    }
    // A baseline, then a scan against it.
    w.clean(&["secrets", "baseline", "."], &[], 0);
    for f in FORMATS {
        w.clean(
            &[
                "secrets",
                "scan",
                ".",
                "-f",
                f,
                "--baseline",
                ".kiln/secrets-baseline.json",
            ],
            &[],
            0,
        );
    }
    // The pre-commit hook and the staged scan.
    w.clean(&["secrets", "install-hook"], &[], 0);
    w.git(&["add", "-A"]);
    for f in FORMATS {
        w.clean(&["secrets", "protect", "--staged", "-f", f], &[], 1);
    }
    // History, with a secret that only history holds.
    w.git(&["commit", "-q", "--no-verify", "-m", "one"]);
    w.git(&["rm", "-q", "app/deploy.sh"]);
    w.git(&["commit", "-q", "--no-verify", "-m", "two"]);
    for f in FORMATS {
        let o = w.clean(
            &[
                "secrets",
                "scan",
                "--history",
                ".",
                "-f",
                f,
                "-o",
                &format!("history.{f}"),
            ],
            &[],
            1,
        );
        let _ = o;
        let report = std::fs::read_to_string(w.dir.join(format!("history.{f}"))).expect("report");
        assert!(
            report.contains("ghp_"),
            "{f}: the history-only finding is reported"
        );
    }

    // The control: with --no-redact the secret is printed and written, and the checks see it.
    let (o, leaks) = w.run(&["secrets", "scan", ".", "-f", "json", "--no-redact"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        leaks.iter().any(|l| l.starts_with("stdout holds AKIAHY")),
        "--no-redact shows the secret: {leaks:?}"
    );
    let (_, leaks) = w.run(
        &[
            "secrets",
            "scan",
            "--history",
            ".",
            "-f",
            "sarif",
            "--no-redact",
            "-o",
            "plain.sarif",
        ],
        &[],
    );
    assert!(
        leaks.iter().any(|l| l.contains("plain.sarif holds ghp_Hy")),
        "--no-redact writes the secret: {leaks:?}"
    );
}

#[test]
fn build_sbom_vuln_keys_and_signing_never_leak() {
    if kiln_testutil::program("git").is_none() {
        return;
    }
    let w = World::new();
    w.git(&["init", "-q", "-b", "main"]);
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "--no-verify", "-m", "one"]);

    // Build the tree that holds secrets; the layout's non-layer files must not hold them.
    w.clean(&["build"], &[], 0);
    let img = "oci:.kiln/oci:1";
    for f in FORMATS {
        let o = w.clean(&["secrets", "scan", "--image", img, "-f", f], &[], 1);
        assert!(
            text(&o).contains("ghp_"),
            "{f}: the layer's secret is reported"
        );
    }
    let (_, leaks) = w.run(
        &[
            "secrets",
            "scan",
            "--image",
            img,
            "-f",
            "table",
            "--no-redact",
        ],
        &[],
    );
    assert!(!leaks.is_empty(), "--no-redact shows the layer's secret");

    // SBOMs of the tree and of the image.
    for f in ["json", "spdx-json", "cyclonedx-json"] {
        w.clean(&["sbom", "dir:.", "--format", f], &[], 0);
        w.clean(&["sbom", img, "--format", f], &[], 0);
    }
    w.clean(
        &[
            "sbom",
            "dir:.",
            "--format",
            "spdx-json",
            "-o",
            "sbom.spdx.json",
        ],
        &[],
        0,
    );

    // Vulnerability scans of the tree, when the shared OSV samples are here.
    if let Some(samples) = kiln_testutil::shared_vectors("osv/samples") {
        let samples = samples.display().to_string();
        w.clean(&["db", "import", "--db", "vuln.db", &samples], &[], 0);
        for f in ["table", "json"] {
            w.clean(
                &["vuln", "scan", "--db", "vuln.db", "-f", f, "dir:."],
                &[],
                0,
            );
            w.clean(
                &["vuln", "scan", "--db", "vuln.db", "-f", f, "sbom.spdx.json"],
                &[],
                0,
            );
        }
    }

    // Keys with a password, from either variable.
    let kp = [("KILN_PASSWORD", PASSWORD)];
    let cp = [("COSIGN_PASSWORD", PASSWORD)];
    w.clean(&["key", "generate", "--output-key-prefix", "k"], &kp, 0);
    w.clean(&["key", "generate", "--output-key-prefix", "c"], &cp, 0);
    if let Some(keys) = kiln_testutil::shared_vectors("cosign/keys/cosign") {
        let src = keys.join("validecp256.pem").display().to_string();
        w.clean(
            &["key", "import", &src, "--output-key-prefix", "imp"],
            &kp,
            0,
        );
    }
    w.clean(&["key", "public-key", "--key", "k.key"], &kp, 0);
    // A wrong password is refused without being echoed.
    w.clean(
        &["sign", "--key", "k.key", img],
        &[("KILN_PASSWORD", WRONG)],
        2,
    );
    w.clean(&["sign", "--key", "k.key", img], &kp, 0);
    w.clean(&["sign", "--key", "c.key", "--bundle", img], &cp, 0);
    w.clean(
        &[
            "attest",
            "--key",
            "k.key",
            "--type",
            "sbom",
            "--predicate",
            "sbom.spdx.json",
            img,
        ],
        &kp,
        0,
    );
    w.clean(&["verify", "--key", "k.pub", img], &[], 0);
}

#[test]
fn pipeline_runs_their_ledger_and_evidence_never_leak() {
    if kiln_testutil::program("git").is_none() {
        return;
    }
    let w = World::new();
    w.git(&["init", "-q", "-b", "main"]);
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "--no-verify", "-m", "one"]);
    let kp = [("KILN_PASSWORD", PASSWORD)];

    // The secret gate stops the run: its summary, the stage log and the ledger row name
    // the findings redacted.
    for f in ["table", "json"] {
        let o = w.clean(&["run", "--format", f], &kp, 1);
        let out = text(&o);
        assert!(out.contains("secrets"), "{}", tail(&out));
    }
    let o = w.clean(&["evidence", "runs", "--format", "json"], &[], 0);
    let runs: serde_json::Value = serde_json::from_slice(&o.stdout).expect("runs as JSON");
    let id = runs[0]["id"].as_str().expect("a run id").to_string();
    w.clean(&["evidence", "show", &id, "--logs"], &[], 0);
    w.clean(&["evidence", "show", &id, "--format", "json"], &[], 0);

    // Accepted through a baseline, the run goes on to sign with the password-protected
    // key and stores encrypted evidence; nothing it prints or writes (ledger, evidence,
    // keys, layout) holds a secret or the password.
    w.clean(&["secrets", "baseline", "."], &[], 0);
    let mut y = std::fs::read_to_string(w.dir.join("kiln.yaml")).expect("kiln.yaml");
    y.push_str("secrets:\n  baseline: .kiln/secrets-baseline.json\n");
    write(&w.dir.join("kiln.yaml"), &y);
    let o = w.clean(&["run", "--format", "json"], &kp, 0);
    let run: serde_json::Value = serde_json::from_slice(&o.stdout).expect("run as JSON");
    let id = run["run_id"].as_str().expect("run id").to_string();
    w.clean(&["evidence", "show", &id, "--logs"], &[], 0);
    w.clean(&["evidence", "list", &id], &[], 0);
    let (o, leaks) = w.run(
        &[
            "evidence",
            "get",
            &id,
            "provenance.json",
            "--decrypt",
            "-o",
            "provenance.json",
        ],
        &[],
    );
    assert!(leaks.is_empty(), "{leaks:?}");
    assert!(o.status.success(), "{}", tail(&text(&o)));
    let p = std::fs::read_to_string(w.dir.join("provenance.json")).expect("provenance");
    assert!(p.contains("buildDefinition"), "{p}");
}
