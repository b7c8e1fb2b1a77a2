//! The webhook's deployment files (deploy/helm/kiln-admit and the plain manifests rendered
//! from it) against the server they deploy: the chart renders to exactly the committed
//! manifests, every document validates against the Kubernetes schemas (kubernetes-validate,
//! strict), and the ports, paths, flags and certificate file names they name are the ones
//! `kiln admit` serves and `kiln admit gen-certs` writes.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    kiln_testutil::workspace_root()
}

fn kiln(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .output()
        .expect("kiln runs")
}

/// The rendered chart with default values, as the test venv's Python renders it.
fn render(python: &Path) -> String {
    let out = Command::new(python)
        .arg(root().join("scripts/render-chart.py"))
        .arg(root().join("deploy/helm/kiln-admit"))
        .args(["--release", "kiln-admit", "--namespace", "kiln-system"])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "render-chart.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Every YAML document of `file` as JSON, through PyYAML.
fn documents(python: &Path, file: &Path) -> Vec<Value> {
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

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in the manifests"))
}

#[test]
fn chart_renders_the_committed_manifests_and_they_validate() {
    let Some(python) = kiln_testutil::python() else {
        return;
    };
    let manifests = root().join("deploy/kubernetes/kiln-admit.yaml");
    let committed = std::fs::read_to_string(&manifests).unwrap();
    let rendered_part = committed
        .split_once("# --- rendered below ---\n")
        .expect("the manifests keep their '# --- rendered below ---' marker")
        .1;
    assert_eq!(
        rendered_part,
        render(&python),
        "deploy/kubernetes/kiln-admit.yaml differs from the chart: run scripts/render-deploy.sh"
    );

    let validate = python.with_file_name("kubernetes-validate");
    let out = Command::new(&validate)
        .args(["--strict", "--no-warn"])
        .arg(&manifests)
        .output()
        .expect("kubernetes-validate runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "kubernetes-validate refused: {text}");
    let kinds = [
        "Deployment",
        "Service",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "PodDisruptionBudget",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    ];
    for kind in kinds {
        let needle = format!("passed for resource {}/", kind.to_lowercase());
        assert!(text.contains(&needle), "{kind} was not validated: {text}");
    }
}

#[test]
fn manifests_name_what_the_server_serves() {
    let Some(python) = kiln_testutil::python() else {
        return;
    };
    let docs = documents(&python, &root().join("deploy/kubernetes/kiln-admit.yaml"));

    // The container's flags are flags of `kiln admit`.
    let deployment = find(&docs, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "admit");
    let help = kiln(&["admit", "--help"]);
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        assert!(
            help.contains(flag),
            "kiln admit has no {flag} flag:\n{help}"
        );
    }
    let value_of = |flag: &str| {
        let i = args.iter().position(|a| *a == flag).unwrap();
        args[i + 1]
    };

    // Port: --listen = containerPort named https = the Service's target.
    let port: u64 = value_of("--listen")
        .rsplit_once(':')
        .unwrap()
        .1
        .parse()
        .unwrap();
    assert_eq!(container["ports"][0]["containerPort"], port);
    assert_eq!(container["ports"][0]["name"], "https");
    let service = find(&docs, "Service");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "https");
    assert_eq!(service["spec"]["ports"][0]["port"], 443);

    // Probes on the server's health paths, over HTTPS.
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["scheme"], "HTTPS");

    // Certificates: the mounted secret's keys are the files gen-certs writes.
    let dir = tempfile::tempdir().unwrap();
    let out = kiln(&[
        "admit",
        "gen-certs",
        "--out",
        dir.path().to_str().unwrap(),
        "--host",
        "kiln-admit.kiln-system",
    ]);
    assert!(
        out.status.success(),
        "gen-certs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "tls")
        .unwrap()["mountPath"]
        .as_str()
        .unwrap()
        .to_string();
    for flag in ["--tls-cert", "--tls-key"] {
        let path = value_of(flag);
        let file = path
            .strip_prefix(&format!("{mount}/"))
            .unwrap_or_else(|| panic!("{flag} {path} is not in the tls mount {mount}"));
        assert!(
            dir.path().join(file).is_file(),
            "gen-certs wrote no {file} (the manifests expect it)"
        );
    }
    let bundle = std::fs::read_to_string(dir.path().join("ca-bundle.b64")).unwrap();
    assert!(!bundle.trim().is_empty());

    // The webhooks call the service on the server's paths, v1 reviews, no side effects.
    for (kind, path) in [
        ("ValidatingWebhookConfiguration", "/validate"),
        ("MutatingWebhookConfiguration", "/mutate"),
    ] {
        let hook = &find(&docs, kind)["webhooks"][0];
        let svc = &hook["clientConfig"]["service"];
        assert_eq!(svc["path"], path);
        assert_eq!(svc["name"], service["metadata"]["name"]);
        assert_eq!(svc["namespace"], service["metadata"]["namespace"]);
        assert_eq!(svc["port"], 443);
        assert_eq!(hook["admissionReviewVersions"][0], "v1");
        assert_eq!(hook["sideEffects"], "None");
        assert_eq!(hook["failurePolicy"], "Fail");
        // Every workload kind the server reads is sent to it.
        let resources: Vec<String> = hook["rules"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["resources"].as_array().unwrap().clone())
            .map(|r| r.as_str().unwrap().to_string())
            .collect();
        for r in [
            "pods",
            "deployments",
            "statefulsets",
            "daemonsets",
            "replicasets",
            "replicationcontrollers",
            "jobs",
            "cronjobs",
        ] {
            assert!(resources.iter().any(|x| x == r), "{kind} omits {r}");
        }
        // The webhook timeout leaves room for the server's budget.
        let budget: f64 = value_of("--budget").trim_end_matches('s').parse().unwrap();
        assert!(hook["timeoutSeconds"].as_f64().unwrap() > budget);
    }

    // A PodDisruptionBudget keeps one replica through voluntary disruptions.
    assert_eq!(
        find(&docs, "PodDisruptionBudget")["spec"]["minAvailable"],
        1
    );
}
