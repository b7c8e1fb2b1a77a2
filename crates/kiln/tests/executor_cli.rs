//! End-to-end tests of `kiln run --executor kubernetes` on temporary committed copies of
//! examples/hello: the Job that `--dry-run` prints (parsed by PyYAML, every field checked,
//! validated by kubernetes-validate --strict for the oldest and newest supported Kubernetes,
//! the init container's clone script run for real against the copy), the objects in
//! deploy/kubernetes/kiln-run.yaml it relies on, an unreachable cluster, and projects it
//! refuses (not in git, uncommitted changes, no clonable remote, kiln.yaml not committed).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const URL: &str = "https://git.example/team/hello.git";
const PASSWORD: &str = "correct-horse-battery-staple";

fn kiln(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
    c.current_dir(dir)
        .args(args)
        .env("KILN_PASSWORD", PASSWORD)
        .env("KILN_REGISTRY_PASSWORD", PASSWORD)
        .env_remove("KILN_IMAGE")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(
        !text(&out).contains(PASSWORD),
        "a secret reached the output"
    );
    out
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository holding a copy of examples/hello under `app/`, committed, with `remote`
/// as origin (none when None). Returns the temporary directory, the repository and the
/// commit.
fn repo(remote: Option<&str>) -> Option<(tempfile::TempDir, PathBuf, String)> {
    kiln_testutil::program("git")?;
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("repo");
    kiln_testutil::copy_project(
        &kiln_testutil::workspace_root().join("examples/hello"),
        &root.join("app"),
    );
    std::fs::write(root.join(".gitignore"), ".kiln/\n").unwrap();
    git(&root, &["init", "-q", "-b", "main"]);
    if let Some(r) = remote {
        git(&root, &["remote", "add", "origin", r]);
    }
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "hello"]);
    let commit = git(&root, &["rev-parse", "HEAD"]);
    Some((t, root, commit))
}

/// Every YAML document of `text` as JSON, through PyYAML.
fn yaml_documents(python: &Path, file: &Path) -> Vec<Value> {
    let out = Command::new(python)
        .args([
            "-c",
            "import sys, json, yaml\n\
             docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]\n\
             json.dump(docs, sys.stdout)",
        ])
        .arg(file)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{} is not valid YAML: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// kubernetes-validate --strict on `file` for Kubernetes `version`; the kinds it passed.
fn validate(python: &Path, file: &Path, version: &str) -> String {
    let out = Command::new(python.with_file_name("kubernetes-validate"))
        .args(["--strict", "--no-warn", "-k", version])
        .arg(file)
        .output()
        .expect("kubernetes-validate runs");
    let t = text(&out);
    assert!(out.status.success(), "kubernetes-validate refused: {t}");
    t
}

fn env_of(container: &Value) -> Vec<Value> {
    container["env"].as_array().cloned().unwrap_or_default()
}

fn env_value(container: &Value, name: &str) -> Option<String> {
    env_of(container)
        .into_iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str().map(str::to_string))
}

fn dry_run(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "--executor",
        "kubernetes",
        "--dry-run",
        "--kiln-image",
        "registry.example/kiln:test",
    ];
    args.extend_from_slice(extra);
    kiln(dir, &args, &[])
}

#[test]
fn dry_run_prints_a_valid_job_for_the_commit() {
    let Some(python) = kiln_testutil::python() else {
        return;
    };
    let Some((t, root, commit)) = repo(Some(URL)) else {
        return;
    };
    let app = root.join("app");
    let out = dry_run(&app, &["--namespace", "builds", "--job-name", "hello-run"]);
    assert!(out.status.success(), "{}", text(&out));
    let yaml_file = t.path().join("job.yaml");
    std::fs::write(&yaml_file, &out.stdout).unwrap();
    let docs = yaml_documents(&python, &yaml_file);
    assert_eq!(docs.len(), 1, "one document");
    let job = &docs[0];

    // --format json prints the same object.
    let json = dry_run(
        &app,
        &[
            "--namespace",
            "builds",
            "--job-name",
            "hello-run",
            "--format",
            "json",
        ],
    );
    assert!(json.status.success(), "{}", text(&json));
    let as_json: Value = serde_json::from_slice(&json.stdout).expect("JSON on stdout");
    assert_eq!(&as_json, job);

    for version in ["1.33.0", "1.37.0"] {
        let t = validate(&python, &yaml_file, version);
        assert!(t.contains("passed for resource job/hello-run"), "{t}");
    }

    assert_eq!(job["apiVersion"], "batch/v1");
    assert_eq!(job["kind"], "Job");
    let meta = &job["metadata"];
    assert_eq!(meta["name"], "hello-run");
    assert_eq!(meta["namespace"], "builds");
    assert_eq!(meta["labels"]["kiln.dev/commit"], commit.as_str());
    assert_eq!(
        meta["labels"]["kiln.dev/repository"],
        "git.example_team_hello"
    );
    assert_eq!(meta["labels"]["app.kubernetes.io/name"], "kiln");
    assert_eq!(meta["annotations"]["kiln.dev/repository-url"], URL);
    assert_eq!(meta["annotations"]["kiln.dev/config"], "app/kiln.yaml");

    let spec = &job["spec"];
    assert_eq!(spec["backoffLimit"], 0);
    assert_eq!(spec["activeDeadlineSeconds"], 3600);
    assert_eq!(spec["ttlSecondsAfterFinished"], 86400);
    let template = &spec["template"];
    assert_eq!(template["metadata"]["labels"], meta["labels"]);
    let pod = &template["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["serviceAccountName"], "kiln-run");
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );

    // The workspace is an emptyDir; the Secret is a read-only volume.
    let volumes = pod["volumes"].as_array().unwrap();
    let volume = |n: &str| volumes.iter().find(|v| v["name"] == n).unwrap().clone();
    assert!(volume("workspace")["emptyDir"].is_object());
    assert!(volume("tmp")["emptyDir"].is_object());
    assert_eq!(volume("secret")["secret"]["secretName"], "kiln-run");

    let clone = &pod["initContainers"][0];
    let run = &pod["containers"][0];
    assert_eq!(pod["containers"].as_array().unwrap().len(), 1);
    for c in [clone, run] {
        assert_eq!(c["image"], "registry.example/kiln:test");
        let sc = &c["securityContext"];
        assert_eq!(sc["runAsNonRoot"], true, "{c}");
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{c}");
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{c}");
        assert_eq!(
            sc["capabilities"]["drop"],
            serde_json::json!(["ALL"]),
            "{c}"
        );
        for k in ["requests", "limits"] {
            for r in ["cpu", "memory"] {
                assert!(c["resources"][k][r].is_string(), "{k}.{r} of {c}");
            }
        }
        let mounts = c["volumeMounts"].as_array().unwrap();
        let secret = mounts.iter().find(|m| m["name"] == "secret").unwrap();
        assert_eq!(secret["readOnly"], true);
        assert!(mounts.iter().any(|m| m["mountPath"] == "/workspace"));
    }
    assert_eq!(env_value(clone, "KILN_GIT_URL").as_deref(), Some(URL));
    assert_eq!(
        env_value(clone, "KILN_GIT_COMMIT").as_deref(),
        Some(commit.as_str())
    );
    assert!(clone["command"][2].as_str().unwrap().contains("git clone"));

    assert_eq!(run["command"], serde_json::json!(["kiln"]));
    assert_eq!(
        run["args"],
        serde_json::json!([
            "run",
            "--format",
            "json",
            "-C",
            "/workspace/src/app",
            "--file",
            "/workspace/src/app/kiln.yaml"
        ])
    );
    assert_eq!(run["workingDir"], "/workspace/src/app");
    assert_eq!(run["resources"]["limits"]["cpu"], "2");
    assert_eq!(run["resources"]["limits"]["memory"], "4Gi");
    // Secrets by reference only, from the named Secret.
    for var in [
        "KILN_PASSWORD",
        "KILN_REGISTRY_USERNAME",
        "KILN_REGISTRY_PASSWORD",
    ] {
        let e = env_of(run).into_iter().find(|e| e["name"] == var).unwrap();
        assert!(e.get("value").is_none(), "{var} is inlined");
        assert_eq!(e["valueFrom"]["secretKeyRef"]["name"], "kiln-run", "{var}");
    }
    assert_eq!(run["envFrom"][0]["configMapRef"]["name"], "kiln-run");

    // Options reach the Job; bad ones are refused.
    let custom = dry_run(
        &app,
        &[
            "--format",
            "json",
            "--deadline",
            "600",
            "--ttl",
            "60",
            "--cpu",
            "1500m",
            "--memory",
            "2Gi",
            "--secret",
            "team-secrets",
            "--insecure-registry",
        ],
    );
    assert!(custom.status.success(), "{}", text(&custom));
    let c: Value = serde_json::from_slice(&custom.stdout).unwrap();
    assert!(
        c["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with(&format!("kiln-run-{}-", &commit[..12]))
    );
    assert_eq!(c["metadata"]["namespace"], "kiln");
    assert_eq!(c["spec"]["activeDeadlineSeconds"], 600);
    assert_eq!(c["spec"]["ttlSecondsAfterFinished"], 60);
    let crun = &c["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(crun["resources"]["limits"]["cpu"], "1500m");
    assert_eq!(crun["resources"]["limits"]["memory"], "2Gi");
    assert_eq!(crun["args"][7], "--insecure-registry");
    assert_eq!(
        crun["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "KILN_PASSWORD")
            .unwrap()["valueFrom"]["secretKeyRef"]["name"],
        "team-secrets"
    );
    let bad = dry_run(&app, &["--memory", "lots"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("--memory"), "{}", text(&bad));
    let bad = dry_run(&app, &["--namespace", "Not_A_Label"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("--namespace"), "{}", text(&bad));
}

/// The init container's script, run with the Job's environment against a local clone of
/// the repository: it checks out exactly the commit and puts the key pair where kiln.yaml's
/// default `sign.key` looks.
#[test]
fn the_clone_script_checks_out_the_commit_and_places_the_key() {
    let Some((t, root, commit)) = repo(Some(URL)) else {
        return;
    };
    let out = dry_run(&root.join("app"), &["--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let job: Value = serde_json::from_slice(&out.stdout).unwrap();
    let clone = &job["spec"]["template"]["spec"]["initContainers"][0];
    let script = clone["command"][2].as_str().unwrap();

    // A later commit: the script must check out the Job's, not the branch head.
    std::fs::write(root.join("app/later.txt"), "later\n").unwrap();
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "later"]);

    let work = t.path().join("pod");
    let secret = t.path().join("secret");
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::write(secret.join("cosign.key"), "KEY").unwrap();
    std::fs::write(secret.join("cosign.pub"), "PUB").unwrap();
    let src = work.join("src");
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(script).env_clear();
    c.env("PATH", std::env::var_os("PATH").unwrap());
    for e in env_of(clone) {
        let name = e["name"].as_str().unwrap();
        let value = e["value"].as_str().unwrap().to_string();
        // The pod's paths, moved into the test's directory.
        let value = value
            .replace("/workspace/src", src.to_str().unwrap())
            .replace("/var/run/kiln/secret", secret.to_str().unwrap());
        let value = match name {
            "KILN_GIT_URL" => root.display().to_string(),
            "HOME" => t.path().display().to_string(),
            _ => value,
        };
        c.env(name, value);
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "clone script: {}", text(&out));
    assert!(text(&out).contains(&format!("at {commit}")));
    assert_eq!(git(&src, &["rev-parse", "HEAD"]), commit);
    assert!(src.join("app/kiln.yaml").is_file());
    assert!(!src.join("app/later.txt").exists());
    let keys = src.join("app/.kiln/keys");
    assert_eq!(
        std::fs::read_to_string(keys.join("cosign.key")).unwrap(),
        "KEY"
    );
    assert_eq!(
        std::fs::read_to_string(keys.join("cosign.pub")).unwrap(),
        "PUB"
    );
}

#[test]
fn deploy_manifests_hold_what_the_job_uses() {
    let Some(python) = kiln_testutil::python() else {
        return;
    };
    let file = kiln_testutil::workspace_root().join("deploy/kubernetes/kiln-run.yaml");
    let t = validate(&python, &file, "1.37.0");
    for kind in [
        "namespace/kiln",
        "serviceaccount/kiln-run",
        "serviceaccount/kiln-submitter",
        "role/kiln-run-submitter",
        "rolebinding/kiln-run-submitter",
        "secret/kiln-run",
        "configmap/kiln-run",
    ] {
        assert!(
            t.contains(&format!("passed for resource {kind} ")),
            "{kind}: {t}"
        );
    }
    let docs = yaml_documents(&python, &file);
    let find = |kind: &str, name: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
            .clone()
    };
    // The defaults of `kiln run --executor kubernetes` name these objects.
    assert_eq!(
        find("Namespace", "kiln")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    for d in docs.iter().filter(|d| d["kind"] != "Namespace") {
        assert_eq!(d["metadata"]["namespace"], "kiln", "{d}");
    }
    assert_eq!(
        find("ServiceAccount", "kiln-run")["automountServiceAccountToken"],
        false
    );
    find("Secret", "kiln-run");
    find("ConfigMap", "kiln-run");
    // The Role grants what a submission does: create and read Jobs, find the pod, read
    // its log.
    let role = find("Role", "kiln-run-submitter");
    let grants = |group: &str, resource: &str, verb: &str| {
        role["rules"].as_array().unwrap().iter().any(|r| {
            r["apiGroups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g == group)
                && r["resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x == resource)
                && r["verbs"].as_array().unwrap().iter().any(|v| v == verb)
        })
    };
    for (g, r, v) in [
        ("batch", "jobs", "create"),
        ("batch", "jobs", "get"),
        ("", "pods", "list"),
        ("", "pods", "get"),
        ("", "pods/log", "get"),
    ] {
        assert!(grants(g, r, v), "the Role lacks {v} {g}/{r}");
    }
    let binding = find("RoleBinding", "kiln-run-submitter");
    assert_eq!(binding["roleRef"]["name"], "kiln-run-submitter");
    assert_eq!(binding["subjects"][0]["name"], "kiln-submitter");
}

#[test]
fn an_unreachable_cluster_is_a_clear_error() {
    let Some((t, root, _)) = repo(Some(URL)) else {
        return;
    };
    let kubeconfig = t.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\n\
         clusters:\n- name: dead\n  cluster:\n    server: https://127.0.0.1:1\n\
         users:\n- name: u\n  user:\n    token: not-a-real-token\n\
         contexts:\n- name: dead\n  context:\n    cluster: dead\n    user: u\n    namespace: builds\n",
    )
    .unwrap();
    let out = kiln(
        &root.join("app"),
        &["run", "--executor", "kubernetes"],
        &[("KUBECONFIG", kubeconfig.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let msg = text(&out);
    assert!(
        msg.contains("cannot reach the Kubernetes API at https://127.0.0.1:1"),
        "{msg}"
    );
    assert!(!msg.contains("not-a-real-token"), "{msg}");
    assert!(!msg.contains("panicked"), "{msg}");

    // No configuration at all.
    let out = kiln(
        &root.join("app"),
        &["run", "--executor", "kubernetes"],
        &[
            ("KUBECONFIG", t.path().join("none").to_str().unwrap()),
            ("HOME", t.path().to_str().unwrap()),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no usable Kubernetes configuration"),
        "{}",
        text(&out)
    );
}

#[test]
fn projects_the_cluster_cannot_build_are_refused() {
    let expect_error = |dir: &Path, args: &[&str], needle: &str| {
        let mut all = vec!["run", "--executor", "kubernetes", "--dry-run"];
        all.extend_from_slice(args);
        let out = kiln(dir, &all, &[]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(out.stdout.is_empty(), "printed a Job: {}", text(&out));
        assert!(
            text(&out).contains(needle),
            "wanted {needle:?}: {}",
            text(&out)
        );
    };

    // Not a git work tree.
    let t = tempfile::tempdir().unwrap();
    let plain = t.path().join("hello");
    kiln_testutil::copy_project(
        &kiln_testutil::workspace_root().join("examples/hello"),
        &plain,
    );
    expect_error(&plain, &[], "not in a git work tree");

    let Some((_t, root, commit)) = repo(Some(URL)) else {
        return;
    };
    let app = root.join("app");
    // Uncommitted changes.
    std::fs::write(app.join("hello.sh"), "#!/bin/sh\necho changed\n").unwrap();
    expect_error(&app, &[], "uncommitted changes");
    expect_error(&app, &[], &commit);
    git(&root, &["checkout", "-q", "--", "app/hello.sh"]);
    // A kiln.yaml that is not in the commit.
    std::fs::copy(app.join("kiln.yaml"), app.join("other.yaml")).unwrap();
    expect_error(&app, &["--file", "other.yaml"], "not in commit");
    // An invalid kiln.yaml, committed, fails before anything is submitted.
    std::fs::write(
        app.join("bad.yaml"),
        "image:\n  name: hello\n  colour: red\n",
    )
    .unwrap();
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "bad"]);
    expect_error(&app, &["--file", "bad.yaml"], "colour");
    // A remote only this machine can read; --repo-url fixes it.
    git(
        &root,
        &["remote", "set-url", "origin", "/srv/git/hello.git"],
    );
    expect_error(&app, &[], "cannot clone a local path");
    expect_error(
        &app,
        &["--repo-url", "https://me:s3cret@git.example/hello.git"],
        "holds credentials",
    );
    let ok = dry_run(&app, &["--repo-url", URL]);
    assert!(ok.status.success(), "{}", text(&ok));
    // No remote at all.
    git(&root, &["remote", "remove", "origin"]);
    expect_error(&app, &[], "no remote to clone from");
    // --dry-run alone does not run the pipeline here.
    let out = kiln(&app, &["run", "--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("--executor kubernetes"),
        "{}",
        text(&out)
    );
}

/// A stand-in for the Kubernetes API (no cluster can run here): the few endpoints a
/// submission uses, serving a Job whose pod runs, logs a run report and exits with
/// `EXIT`; the created Job is written to `OUT`. Prints its port.
const FAKE_API: &str = r#"
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
EXIT, OUT = int(sys.argv[1]), sys.argv[2]
state = {"job": None, "job_gets": 0}
LOG = "secrets  ok   3 ms  no findings\nvuln     FAILED  9 ms  1 critical\n{\n  \"run_id\": \"r-1\",\n  \"status\": \"failed\"\n}\nrun r-1 stopped at vuln\n"
def pod(name, done):
    state_ = {"terminated": {"exitCode": EXIT}} if done else {"running": {}}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name + "-abcde", "namespace": "builds"},
            "status": {"phase": "Failed" if done and EXIT else "Running",
                       "initContainerStatuses": [{"name": "clone", "image": "i", "imageID": "", "ready": True, "restartCount": 0, "state": {"terminated": {"exitCode": 0}}}],
                       "containerStatuses": [{"name": "kiln", "image": "i", "imageID": "", "ready": not done, "restartCount": 0, "state": state_}]}}
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code); self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        state["job"] = body
        open(OUT, "w").write(json.dumps(body))
        self.send(201, body)
    def do_GET(self):
        job = state["job"]
        if job is None:
            return self.send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "no job", "reason": "NotFound", "code": 404})
        name = job["metadata"]["name"]
        path = self.path.split("?")[0]
        if path.endswith("/jobs/" + name):
            state["job_gets"] += 1
            j = dict(job)
            if state["job_gets"] > 2:
                kind = "Failed" if EXIT else "Complete"
                j["status"] = {"conditions": [{"type": kind, "status": "True", "reason": "BackoffLimitExceeded" if EXIT else "Completed"}]}
            else:
                j["status"] = {"active": 1}
            return self.send(200, j)
        if path.endswith("/pods") :
            assert "labelSelector=batch.kubernetes.io%2Fjob-name%3D" + name in self.path or "labelSelector=batch.kubernetes.io/job-name=" + name in self.path, self.path
            return self.send(200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [pod(name, state["job_gets"] > 2)]})
        if path.endswith("/log"):
            return self.send(200, LOG, "text/plain")
        if path.endswith("/pods/" + name + "-abcde"):
            return self.send(200, pod(name, True))
        self.send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": path, "reason": "NotFound", "code": 404})
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
threading.Timer(120, srv.shutdown).start()
srv.serve_forever()
"#;

#[test]
fn a_submission_follows_the_job_and_exits_with_the_run() {
    let Some(python) = kiln_testutil::python() else {
        return;
    };
    let Some((t, root, commit)) = repo(Some(URL)) else {
        return;
    };
    let posted = t.path().join("posted.json");
    let mut server = Command::new(&python)
        .args(["-c", FAKE_API, "1"])
        .arg(&posted)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut port,
    )
    .unwrap();
    let kubeconfig = t.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n\
             clusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:{}\n\
             users:\n- name: u\n  user: {{}}\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: u\n",
            port.trim()
        ),
    )
    .unwrap();
    let out = kiln(
        &root.join("app"),
        &[
            "run",
            "--executor",
            "kubernetes",
            "--namespace",
            "builds",
            "--format",
            "json",
        ],
        &[("KUBECONFIG", kubeconfig.to_str().unwrap())],
    );
    let _ = server.kill();
    let _ = server.wait();
    let msg = text(&out);
    // A gate failed in the pod: kiln run's exit code 1 is ours.
    assert_eq!(out.status.code(), Some(1), "{msg}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("created Job builds/kiln-run-"), "{stderr}");
    assert!(
        stderr.contains("vuln     FAILED"),
        "the log was not streamed: {stderr}"
    );
    assert!(stderr.contains("kiln run exited with 1"), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("the run report on stdout");
    assert_eq!(report["run_id"], "r-1");
    // What was created is the Job for the commit.
    let job: Value = serde_json::from_str(&std::fs::read_to_string(&posted).unwrap()).unwrap();
    assert_eq!(job["kind"], "Job");
    assert_eq!(job["metadata"]["namespace"], "builds");
    assert_eq!(
        job["metadata"]["labels"]["kiln.dev/commit"],
        commit.as_str()
    );
}
