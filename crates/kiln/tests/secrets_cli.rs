//! End-to-end tests of `kiln secrets` through the binary: directory, staged, history,
//! baselines, hooks, every output format redacted, SARIF against its schema, bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const KILN: &str = env!("CARGO_BIN_EXE_kiln");

// Format-valid fakes (never live credentials), assembled at run time.
fn aws_id() -> String {
    format!("AKIA{}", "QW2ERT3YUI4OPA5S")
}
fn aws_secret() -> String {
    format!("{}{}", "kLnF4keS3cr3tVa1ue", "Zq8Wx2Yc6Vb0Nm4Lk7Jh")
}
fn gh_pat() -> String {
    format!("ghp_{}", "Kq3vT9xLm2Zp8RwYb4Nc7Hd1Fg6Js0Ae5Uiw")
}

fn kiln(dir: &Path, args: &[&str]) -> Output {
    Command::new(KILN)
        .current_dir(dir)
        .args(args)
        .env("KILN_LOG", "warn")
        .output()
        .expect("run kiln")
}

fn git_cmd(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Kiln Test")
        .env("GIT_AUTHOR_EMAIL", "test@kiln.invalid")
        .env("GIT_COMMITTER_NAME", "Kiln Test")
        .env("GIT_COMMITTER_EMAIL", "test@kiln.invalid")
        .env("GIT_AUTHOR_DATE", "@1700000000 +0000")
        .env("GIT_COMMITTER_DATE", "@1700000000 +0000");
    c
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_cmd(dir).args(args).output().expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn have_git() -> bool {
    kiln_testutil::program("git").is_some()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn write(path: PathBuf, data: impl AsRef<[u8]>) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).expect("mkdir");
    }
    std::fs::write(path, data).expect("write");
}

fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path();
    write(
        p.join("config.py"),
        format!(
            "AWS_ACCESS_KEY_ID = \"{}\"\naws_secret_access_key = \"{}\"\n",
            aws_id(),
            aws_secret()
        ),
    );
    write(
        p.join("app/deploy.sh"),
        format!("export GITHUB_TOKEN={}\n", gh_pat()),
    );
    write(p.join(".gitignore"), "ignored.txt\n");
    write(p.join("ignored.txt"), format!("token = \"{}\"\n", gh_pat()));
    write(p.join("clean.txt"), "nothing to see\n");
    d
}

fn no_full_secret(s: &str) {
    for secret in [aws_id(), aws_secret(), gh_pat()] {
        assert!(!s.contains(&secret), "full secret leaked: {s}");
    }
}

fn json(o: &Output) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json output");
    v.as_array().cloned().expect("array")
}

#[test]
fn directory_scan_all_formats_redacted() {
    let d = tree();
    let o = kiln(d.path(), &["secrets", "scan", "."]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        out.contains("aws-access-key-id") && out.contains("github-pat"),
        "{out}"
    );
    assert!(out.contains("config.py:1:"), "{out}");
    assert!(
        !out.contains("ignored.txt"),
        "gitignored file scanned: {out}"
    );
    assert!(out.contains("AKIA*****"), "{out}");
    no_full_secret(&out);
    no_full_secret(&err);

    let o = kiln(
        d.path(),
        &[
            "secrets",
            "scan",
            ".",
            "--format",
            "json",
            "--exit-code",
            "7",
        ],
    );
    assert_eq!(o.status.code(), Some(7));
    let (out, err) = text(&o);
    no_full_secret(&out);
    no_full_secret(&err);
    let arr = json(&o);
    assert!(arr.len() >= 3, "{out}");
    let aws = arr
        .iter()
        .find(|f| f["rule_id"] == "aws-access-key-id")
        .expect("aws finding");
    assert_eq!(aws["path"], "config.py");
    assert_eq!(aws["line"], 1);
    assert_eq!(aws["secret"], "AKIA*****");
    assert_eq!(aws["fingerprint"].as_str().map(str::len), Some(32));

    let o = kiln(d.path(), &["secrets", "scan", ".", "--format", "sarif"]);
    let (out, err) = text(&o);
    no_full_secret(&out);
    no_full_secret(&err);
    let v: serde_json::Value = serde_json::from_str(&out).expect("sarif json");
    assert_eq!(v["version"], "2.1.0");
    assert!(v["runs"][0]["results"][0]["partialFingerprints"].is_object());

    let o = kiln(
        d.path(),
        &["secrets", "scan", ".", "--format", "json", "--no-redact"],
    );
    assert!(
        text(&o).0.contains(&aws_id()),
        "--no-redact shows the secret"
    );

    let o = kiln(d.path(), &["secrets", "scan", "clean.txt"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
}

#[test]
fn sarif_validates_against_the_sarif_2_1_0_schema() {
    let Some(py) = kiln_testutil::python() else {
        return;
    };
    let d = tree();
    let report = d.path().join("out.sarif");
    let o = kiln(
        d.path(),
        &[
            "secrets",
            "scan",
            ".",
            "--format",
            "sarif",
            "-o",
            report.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../kiln-secrets/tests/data/sarif-2.1.0-rtm.5.json");
    let script = "import json,sys,jsonschema\n\
s=json.load(open(sys.argv[1])); d=json.load(open(sys.argv[2]))\n\
jsonschema.Draft4Validator.check_schema(s)\n\
errs=list(jsonschema.Draft4Validator(s).iter_errors(d))\n\
[print(e.message, list(e.path)) for e in errs]\n\
assert d['runs'][0]['results'], 'no results'\n\
sys.exit(1 if errs else 0)\n";
    let v = Command::new(py)
        .args(["-c", script])
        .arg(&schema)
        .arg(&report)
        .output()
        .expect("python");
    assert!(
        v.status.success(),
        "SARIF invalid: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
}

#[test]
fn baseline_accepts_todays_findings_only() {
    let d = tree();
    let p = d.path();
    let o = kiln(p, &["secrets", "baseline", ".", "-o", "base.json"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let base = std::fs::read_to_string(p.join("base.json")).expect("baseline");
    no_full_secret(&base);
    let o = kiln(p, &["secrets", "scan", ".", "--baseline", "base.json"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    // Moving a secret to another line keeps its fingerprint.
    let cfg = std::fs::read_to_string(p.join("config.py")).expect("read");
    write(p.join("config.py"), format!("# moved\n{cfg}"));
    let o = kiln(p, &["secrets", "scan", ".", "--baseline", "base.json"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    write(
        p.join("new.env"),
        format!("STRIPE_KEY=sk_live_{}\n", "Kq3vT9xLm2Zp8RwYb4Nc7Hd1"),
    );
    let o = kiln(
        p,
        &[
            "secrets",
            "scan",
            ".",
            "--baseline",
            "base.json",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0]["rule_id"], "stripe-secret-key");
    let o = kiln(p, &["secrets", "scan", ".", "--baseline", "config.py"]);
    assert_eq!(o.status.code(), Some(2), "a bad baseline is an error");
}

#[test]
fn staged_changes_and_the_pre_commit_hook() {
    if !have_git() {
        return;
    }
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path();
    git(p, &["init", "-q", "-b", "main"]);
    write(p.join("old.py"), format!("KEY = \"{}\"\n", aws_id()));
    git(p, &["add", "old.py"]);
    git(p, &["commit", "-q", "--no-verify", "-m", "old"]);
    let o = kiln(p, &["secrets", "protect", "--staged"]);
    assert_eq!(o.status.code(), Some(0), "nothing staged: {:?}", text(&o));
    write(p.join("old.py"), format!("KEY = \"{}\"\nX = 1\n", aws_id()));
    write(p.join("new.sh"), format!("GITHUB_TOKEN={}\n", gh_pat()));
    write(p.join("unstaged.sh"), format!("T={}\n", gh_pat()));
    git(p, &["add", "old.py", "new.sh"]);
    let o = kiln(p, &["secrets", "protect", "--staged", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let v = json(&o);
    let paths: Vec<&str> = v.iter().filter_map(|f| f["path"].as_str()).collect();
    assert_eq!(paths, ["new.sh"], "only lines a staged file adds: {v:?}");
    no_full_secret(&String::from_utf8_lossy(&o.stdout));

    let o = kiln(p, &["secrets", "install-hook"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let hook = std::fs::read_to_string(p.join(".git/hooks/pre-commit")).expect("hook");
    assert!(hook.contains("secrets protect --staged"));
    assert_eq!(
        kiln(p, &["secrets", "install-hook"]).status.code(),
        Some(2),
        "no overwrite without --force"
    );
    let out = git_cmd(p)
        .args(["commit", "-q", "-m", "leak"])
        .output()
        .expect("git commit");
    assert!(!out.status.success(), "the hook must refuse the commit");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("github-pat"), "{said}");
    no_full_secret(&said);
}

#[test]
fn history_scan_names_the_introducing_commit_of_a_deleted_secret() {
    if !have_git() {
        return;
    }
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path();
    git(p, &["init", "-q", "-b", "main"]);
    write(p.join("README"), "hello\n");
    git(p, &["add", "."]);
    git(p, &["commit", "-q", "-m", "first"]);
    write(
        p.join("cfg/aws.py"),
        format!("aws_access_key_id = \"{}\"\n", aws_id()),
    );
    git(p, &["add", "."]);
    git(p, &["commit", "-q", "-m", "add key"]);
    let introducing = git(p, &["rev-parse", "HEAD"]);
    std::fs::remove_file(p.join("cfg/aws.py")).expect("rm");
    write(p.join("README"), "hello again\n");
    git(p, &["add", "-A"]);
    git(p, &["commit", "-q", "-m", "remove key"]);
    git(p, &["branch", "side"]);

    assert_eq!(
        kiln(p, &["secrets", "scan", "."]).status.code(),
        Some(0),
        "not in the tree"
    );
    let o = kiln(
        p,
        &["secrets", "scan", "--history", ".", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let v = json(&o);
    let f = v
        .iter()
        .find(|f| f["rule_id"] == "aws-access-key-id")
        .expect("found in history");
    assert_eq!(f["path"], "cfg/aws.py");
    assert_eq!(f["commit"]["id"], introducing.as_str());
    assert_eq!(f["commit"]["author"], "Kiln Test");
    assert_eq!(f["commit"]["email"], "test@kiln.invalid");
    assert_eq!(f["commit"]["date"], "2023-11-14T22:13:20Z");
    no_full_secret(&String::from_utf8_lossy(&o.stdout));
    for fmt in ["table", "sarif"] {
        let o = kiln(p, &["secrets", "scan", "--history", ".", "--format", fmt]);
        let (out, err) = text(&o);
        assert!(out.contains(&introducing[..12]), "{fmt}: {out}");
        no_full_secret(&out);
        no_full_secret(&err);
    }
    let o = kiln(p, &["secrets", "scan", "--history", ".", "--since", "HEAD"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "--since HEAD leaves nothing: {:?}",
        text(&o)
    );
    let o = kiln(
        p,
        &["secrets", "scan", "--history", ".", "--branch", "side"],
    );
    assert_eq!(o.status.code(), Some(1));
    let o = kiln(
        p,
        &["secrets", "scan", "--history", ".", "--branch", "nope"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("--branch nope"), "{:?}", text(&o));
}

#[test]
fn corrupt_and_shallow_repositories() {
    if !have_git() {
        return;
    }
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("repo");
    std::fs::create_dir_all(&p).expect("mkdir");
    git(&p, &["init", "-q", "-b", "main"]);
    write(
        p.join("a.py"),
        format!("aws_access_key_id = \"{}\"\n", aws_id()),
    );
    write(p.join("b.sh"), format!("GITHUB_TOKEN={}\n", gh_pat()));
    git(&p, &["add", "."]);
    git(&p, &["commit", "-q", "-m", "one"]);
    write(p.join("c.txt"), "more\n");
    git(&p, &["add", "."]);
    git(&p, &["commit", "-q", "-m", "two"]);

    // A shallow clone: a warning, and the scan still runs.
    let url = format!("file://{}", p.display());
    git(d.path(), &["clone", "-q", "--depth", "1", &url, "shallow"]);
    let o = kiln(
        &d.path().join("shallow"),
        &["secrets", "scan", "--history", "."],
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("shallow"), "{err}");

    // A missing blob: reported, the other blob still scanned.
    let blob = git(&p, &["rev-parse", "HEAD:b.sh"]);
    std::fs::remove_file(p.join(".git/objects").join(&blob[..2]).join(&blob[2..]))
        .expect("remove blob");
    let o = kiln(
        &p,
        &["secrets", "scan", "--history", ".", "--format", "json"],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("b.sh") && err.contains(&blob), "{err}");
    assert!(out.contains("aws-access-key-id"), "{out}");

    // Not a repository at all.
    let o = kiln(d.path(), &["secrets", "scan", "--history", "."]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains("not a readable git repository"),
        "{:?}",
        text(&o)
    );
}

#[test]
fn huge_binary_invalid_utf8_and_unreadable_files() {
    let d = tree();
    let p = d.path();
    let big = std::fs::File::create(p.join("huge.log")).expect("create");
    big.set_len(2 << 30).expect("sparse 2 GiB");
    drop(big);
    let mut bytes = vec![0xff, 0xfe, 0xc3, 0x28, b'\n'];
    bytes.extend_from_slice(format!("k = \"{}\"\n", gh_pat()).as_bytes());
    write(p.join("latin.txt"), &bytes);
    let mut bin = vec![0u8; 64];
    bin.extend_from_slice(format!("\ntoken = {}\n", gh_pat()).as_bytes());
    write(p.join("blob.raw"), &bin);
    let locked = p.join("locked.txt");
    write(locked.clone(), format!("t = \"{}\"\n", gh_pat()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    }
    let readable_anyway = std::fs::read(&locked).is_ok(); // root reads everything
    let o = kiln(p, &["secrets", "scan", ".", "--format", "json"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("huge.log") && err.contains("larger than the size limit"),
        "{err}"
    );
    let v = json(&o);
    let paths: Vec<&str> = v.iter().filter_map(|f| f["path"].as_str()).collect();
    assert!(paths.contains(&"latin.txt"), "{paths:?}");
    assert!(!paths.contains(&"blob.raw"), "binary skipped: {paths:?}");
    assert!(paths.contains(&"config.py"), "{paths:?}");
    if !readable_anyway {
        assert!(err.contains("cannot read locked.txt"), "{err}");
    }
    let o = kiln(
        p,
        &[
            "secrets",
            "scan",
            ".",
            "--format",
            "json",
            "--include-binary",
        ],
    );
    assert!(text(&o).0.contains("blob.raw"));
    let o = kiln(p, &["secrets", "scan", "does-not-exist"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("does-not-exist"));
}

#[test]
fn rule_files_gitleaks_default_discovery_extend_and_bad_regex() {
    let d = tree();
    let p = d.path();
    if let Some(v) = kiln_testutil::shared_vectors("gitleaks") {
        let cfg = v.join("gitleaks.toml");
        let o = kiln(
            p,
            &[
                "secrets",
                "scan",
                ".",
                "--config",
                cfg.to_str().expect("utf-8"),
                "--format",
                "json",
            ],
        );
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(!err.contains("does not compile"), "{err}");
        assert!(
            out.contains("\"github-pat\"") && out.contains("\"aws-access-token\""),
            "{out}"
        );
        no_full_secret(&out);
    }
    write(
        p.join(".gitleaks.toml"),
        "[extend]\nuseDefault = true\n\n[[rules]]\nid = \"kiln-custom\"\nregex = '''kiln_custom_[0-9]{6}'''\nkeywords = [\"kiln_custom_\"]\n\n[[rules]]\nid = \"broken\"\nregex = '''(oops'''\n",
    );
    write(p.join("c.txt"), "x = kiln_custom_493817\n");
    let o = kiln(p, &["secrets", "scan", ".", "--format", "json"]);
    let (out, err) = text(&o);
    assert!(
        err.contains("rule broken") && err.contains("does not compile"),
        "{err}"
    );
    assert!(
        out.contains("\"kiln-custom\"") && out.contains("\"aws-access-key-id\""),
        "{out}"
    );
    write(
        p.join(".kiln/secrets.toml"),
        "[[rules]]\nid = \"only-this\"\nregex = '''kiln_custom_[0-9]{6}'''\n",
    );
    let o = kiln(p, &["secrets", "scan", ".", "--format", "json"]);
    let ids: Vec<String> = json(&o)
        .iter()
        .filter_map(|f| f["rule_id"].as_str().map(str::to_string))
        .collect();
    assert!(
        !ids.is_empty() && ids.iter().all(|i| i == "only-this"),
        "{ids:?}"
    );
}

#[test]
fn image_scan_finds_a_secret_in_a_deleted_layer_file() {
    if kiln_testutil::program("umoci").is_none() {
        return;
    }
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path();
    let umoci = |args: &[&str]| {
        let o = Command::new("umoci")
            .current_dir(p)
            .args(args)
            .output()
            .expect("umoci");
        assert!(
            o.status.success(),
            "umoci {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    umoci(&["init", "--layout", "L"]);
    umoci(&["new", "--image", "L:t"]);
    umoci(&["unpack", "--rootless", "--image", "L:t", "B"]);
    write(
        p.join("B/rootfs/app/secret.env"),
        format!("GITHUB_TOKEN={}\n", gh_pat()),
    );
    write(p.join("B/rootfs/app/ok.txt"), "fine\n");
    umoci(&["repack", "--image", "L:t", "B"]);
    std::fs::remove_dir_all(p.join("B")).expect("rm bundle");
    umoci(&["unpack", "--rootless", "--image", "L:t", "B"]);
    std::fs::remove_file(p.join("B/rootfs/app/secret.env")).expect("rm");
    umoci(&["repack", "--image", "L:t", "B"]);

    let o = kiln(
        p,
        &["secrets", "scan", "--image", "oci:L:t", "--format", "json"],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    no_full_secret(&out);
    no_full_secret(&err);
    let v = json(&o);
    let f = v
        .iter()
        .find(|f| f["rule_id"] == "github-pat")
        .expect("found in the deleted file");
    assert_eq!(f["path"], "app/secret.env");
    assert_eq!(f["deleted"], true);
    assert!(
        f["layer"]
            .as_str()
            .is_some_and(|l| l.starts_with("sha256:")),
        "{f}"
    );
    for fmt in ["table", "sarif"] {
        let o = kiln(
            p,
            &["secrets", "scan", "--image", "oci:L:t", "--format", fmt],
        );
        let (out, err) = text(&o);
        assert!(out.contains("sha256:"), "{fmt}: {out}");
        no_full_secret(&out);
        no_full_secret(&err);
    }
    let o = kiln(p, &["secrets", "scan", "--image", "oci:L:nope"]);
    assert_eq!(o.status.code(), Some(2));
}
