//! The `batch/v1` Job of a Kubernetes run: an init container clones the repository at the
//! commit into an emptyDir (and puts the signing key from the Secret where kiln.yaml's
//! default key reference looks), then the Kiln image runs `kiln run --format json` there.
//! Secrets come from a named Secret (environment references and a read-only volume, never
//! inlined); other settings from an optional ConfigMap. No retries (`backoffLimit: 0`), a
//! deadline, a time to live after it finishes, a restricted security context and resource
//! requests and limits; labels name the repository and the commit.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapEnvSource, Container, EmptyDirVolumeSource, EnvFromSource, EnvVar,
    EnvVarSource, PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements,
    SeccompProfile, SecretKeySelector, SecretVolumeSource, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::error::ExecutorError;
use crate::source::RunSource;

/// Where the repository is cloned in the pod.
pub const SOURCE_DIR: &str = "/workspace/src";
/// Where the Secret is mounted.
pub const SECRET_DIR: &str = "/var/run/kiln/secret";
/// The name of the container that runs `kiln run`.
pub const RUN_CONTAINER: &str = "kiln";
/// The name of the init container that clones the repository.
pub const CLONE_CONTAINER: &str = "clone";
/// The user (and group) the pod runs as: not root, matching deploy/Containerfile.
pub const RUN_AS: i64 = 10001;

/// Label keys set on the Job and its pod.
pub mod labels {
    /// `kiln`.
    pub const NAME: &str = "app.kubernetes.io/name";
    /// `run`.
    pub const COMPONENT: &str = "app.kubernetes.io/component";
    /// `kiln`.
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    /// The repository (host and path as a label value).
    pub const REPOSITORY: &str = "kiln.dev/repository";
    /// The commit (40 hex digits).
    pub const COMMIT: &str = "kiln.dev/commit";
    /// Annotation: the full repository URL.
    pub const REPOSITORY_URL: &str = "kiln.dev/repository-url";
    /// Annotation: the kiln.yaml in the repository.
    pub const CONFIG: &str = "kiln.dev/config";
}

/// The keys of the Secret the Job reads, all optional, and the environment variable each
/// becomes in the `kiln` container (files are mounted under [`SECRET_DIR`]).
pub const SECRET_ENV: &[(&str, &str)] = &[
    ("KILN_PASSWORD", "key-password"),
    ("KILN_REGISTRY_USERNAME", "registry-username"),
    ("KILN_REGISTRY_PASSWORD", "registry-password"),
    ("AWS_ACCESS_KEY_ID", "aws-access-key-id"),
    ("AWS_SECRET_ACCESS_KEY", "aws-secret-access-key"),
];

/// Secret keys used as files: a git credential store for the clone and the signing key
/// pair copied to `.kiln/keys/` (kiln.yaml's default `sign.key`).
pub const SECRET_FILES: &[&str] = &["git-credentials", "cosign.key", "cosign.pub"];

/// How to shape the Job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOptions {
    /// The Job's name; None for `kiln-run-<commit>-<suffix>`.
    pub name: Option<String>,
    /// The namespace.
    pub namespace: String,
    /// The Kiln image.
    pub image: String,
    /// The Secret with keys [`SECRET_ENV`] and [`SECRET_FILES`].
    pub secret: String,
    /// The ConfigMap whose entries become environment variables (optional).
    pub config_map: String,
    /// The pod's service account.
    pub service_account: String,
    /// `activeDeadlineSeconds`.
    pub deadline_seconds: i64,
    /// `ttlSecondsAfterFinished`.
    pub ttl_seconds: i32,
    /// CPU request and limit.
    pub cpu_request: String,
    pub cpu_limit: String,
    /// Memory request and limit.
    pub memory_request: String,
    pub memory_limit: String,
    /// Size limit of the workspace emptyDir.
    pub workspace_size: String,
    /// Pass `--insecure-registry` to `kiln run`.
    pub insecure_registry: bool,
    /// Pass `--verbose` to `kiln run`.
    pub verbose: bool,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            name: None,
            namespace: "kiln".into(),
            image: default_image(),
            secret: "kiln-run".into(),
            config_map: "kiln-run".into(),
            service_account: "kiln-run".into(),
            deadline_seconds: 3600,
            ttl_seconds: 86400,
            cpu_request: "500m".into(),
            cpu_limit: "2".into(),
            memory_request: "512Mi".into(),
            memory_limit: "4Gi".into(),
            workspace_size: "8Gi".into(),
            insecure_registry: false,
            verbose: false,
        }
    }
}

/// The Kiln image of this version as `podman build -t kiln:VERSION -f deploy/Containerfile`
/// names it (`kind load` / `minikube image load` put it on a test cluster); a real cluster
/// is given its registry's reference with `--kiln-image`.
pub fn default_image() -> String {
    format!("localhost/kiln:{}", env!("CARGO_PKG_VERSION"))
}

/// The shell script of the clone init container: clone, check out the commit, check it,
/// and copy the signing key pair from the Secret into the project's `.kiln/keys/`.
const CLONE_SCRIPT: &str = r#"set -eu
if [ -f "$KILN_SECRET_DIR/git-credentials" ]; then
  export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=credential.helper \
    GIT_CONFIG_VALUE_0="store --file=$KILN_SECRET_DIR/git-credentials"
fi
git clone --quiet --no-checkout -- "$KILN_GIT_URL" "$KILN_SOURCE_DIR"
cd "$KILN_SOURCE_DIR"
git -c advice.detachedHead=false checkout --quiet --detach "$KILN_GIT_COMMIT"
test "$(git rev-parse HEAD)" = "$KILN_GIT_COMMIT"
for f in cosign.key cosign.pub; do
  if [ -f "$KILN_SECRET_DIR/$f" ]; then
    mkdir -p "$KILN_PROJECT_DIR/.kiln/keys"
    cp "$KILN_SECRET_DIR/$f" "$KILN_PROJECT_DIR/.kiln/keys/$f"
  fi
done
echo "cloned $KILN_GIT_URL at $KILN_GIT_COMMIT"
"#;

/// Checks `options` before they go into a Job.
pub fn validate(options: &JobOptions) -> Result<(), ExecutorError> {
    let bad = |option: &'static str, value: &str, problem: &str| ExecutorError::Option {
        option,
        value: value.to_string(),
        problem: problem.to_string(),
    };
    for (option, value) in [
        ("--namespace", &options.namespace),
        ("secret name", &options.secret),
        ("config map name", &options.config_map),
        ("service account", &options.service_account),
    ] {
        if !is_dns_label(value) {
            return Err(bad(
                option,
                value,
                "not a DNS label (lower case letters, digits and '-', at most 63)",
            ));
        }
    }
    if let Some(n) = &options.name
        && !is_dns_label(n)
    {
        return Err(bad(
            "--job-name",
            n,
            "not a DNS label (lower case letters, digits and '-', at most 63)",
        ));
    }
    if options.image.is_empty() || options.image.chars().any(char::is_whitespace) {
        return Err(bad(
            "--kiln-image",
            &options.image,
            "not an image reference",
        ));
    }
    if options.deadline_seconds <= 0 {
        return Err(bad(
            "--deadline",
            &options.deadline_seconds.to_string(),
            "must be positive",
        ));
    }
    if options.ttl_seconds < 0 {
        return Err(bad(
            "--ttl",
            &options.ttl_seconds.to_string(),
            "must not be negative",
        ));
    }
    for (option, value) in [
        ("--cpu", &options.cpu_limit),
        ("cpu request", &options.cpu_request),
        ("--memory", &options.memory_limit),
        ("memory request", &options.memory_request),
        ("workspace size", &options.workspace_size),
    ] {
        if !is_quantity(value) {
            return Err(bad(
                option,
                value,
                "not a Kubernetes quantity (such as 500m, 2, 512Mi, 4Gi)",
            ));
        }
    }
    Ok(())
}

/// A DNS-1123 label.
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A plain Kubernetes quantity: digits, an optional fraction, an optional suffix.
fn is_quantity(s: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "m", "k", "M", "G", "T", "P", "E", "",
    ];
    SUFFIXES.iter().any(|suffix| {
        s.strip_suffix(suffix).is_some_and(|n| {
            let (int, frac) = n.split_once('.').unwrap_or((n, "0"));
            !int.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && !frac.is_empty()
                && frac.bytes().all(|b| b.is_ascii_digit())
        })
    })
}

/// A Job name for `commit`: `kiln-run-<12 hex>-<5 random>`, unique per submission.
pub fn job_name(commit: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(commit.as_bytes());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    let mut n = h.finish();
    let mut suffix = String::new();
    for _ in 0..5 {
        let d = (n % 36) as u32;
        n /= 36;
        suffix.push(std::char::from_digit(d, 36).unwrap_or('0'));
    }
    let short: String = commit.chars().take(12).collect();
    format!("kiln-run-{short}-{suffix}")
}

fn s(v: &str) -> String {
    v.to_string()
}

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: s(name),
        value: Some(s(value)),
        ..Default::default()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: s(name),
        mount_path: s(path),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

fn restricted() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS),
        run_as_group: Some(RUN_AS),
        capabilities: Some(Capabilities {
            drop: Some(vec![s("ALL")]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Requests and limits: `(request, limit)` of CPU and of memory.
fn resources(cpu: (&str, &str), memory: (&str, &str)) -> ResourceRequirements {
    let map = |c: &str, m: &str| {
        BTreeMap::from([(s("cpu"), Quantity(s(c))), (s("memory"), Quantity(s(m)))])
    };
    ResourceRequirements {
        requests: Some(map(cpu.0, memory.0)),
        limits: Some(map(cpu.1, memory.1)),
        ..Default::default()
    }
}

/// The Job that runs `source` with `options` (call [`validate`] first).
pub fn job(source: &RunSource, options: &JobOptions) -> Job {
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| job_name(&source.commit));
    let labels = BTreeMap::from([
        (s(labels::NAME), s("kiln")),
        (s(labels::COMPONENT), s("run")),
        (s(labels::MANAGED_BY), s("kiln")),
        (s(labels::REPOSITORY), source.repository_label()),
        (s(labels::COMMIT), source.commit.clone()),
    ]);
    let annotations = BTreeMap::from([
        (s(labels::REPOSITORY_URL), source.repo_url.clone()),
        (s(labels::CONFIG), source.config.clone()),
    ]);
    let project_dir = if source.prefix.is_empty() {
        s(SOURCE_DIR)
    } else {
        format!("{SOURCE_DIR}/{}", source.prefix)
    };
    let config_path = format!("{SOURCE_DIR}/{}", source.config);

    let common_env = vec![
        env("HOME", "/tmp"),
        env("NO_COLOR", "1"),
        env("KILN_SOURCE_DIR", SOURCE_DIR),
        env("KILN_PROJECT_DIR", &project_dir),
        env("KILN_SECRET_DIR", SECRET_DIR),
    ];

    let clone = Container {
        name: s(CLONE_CONTAINER),
        image: Some(options.image.clone()),
        command: Some(vec![s("/bin/sh"), s("-c"), s(CLONE_SCRIPT)]),
        env: Some(
            [
                common_env.clone(),
                vec![
                    env("KILN_GIT_URL", &source.repo_url),
                    env("KILN_GIT_COMMIT", &source.commit),
                    env("GIT_TERMINAL_PROMPT", "0"),
                ],
            ]
            .concat(),
        ),
        volume_mounts: Some(vec![
            mount("workspace", "/workspace", false),
            mount("tmp", "/tmp", false),
            mount("secret", SECRET_DIR, true),
        ]),
        resources: Some(resources(("100m", "1"), ("128Mi", "1Gi"))),
        security_context: Some(restricted()),
        ..Default::default()
    };

    let mut args = vec![
        s("run"),
        s("--format"),
        s("json"),
        s("-C"),
        project_dir.clone(),
        s("--file"),
        config_path,
    ];
    if options.insecure_registry {
        args.push(s("--insecure-registry"));
    }
    if options.verbose {
        args.push(s("--verbose"));
    }
    let secret_env = SECRET_ENV.iter().map(|(var, key)| EnvVar {
        name: s(var),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: options.secret.clone(),
                key: s(key),
                optional: Some(true),
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    let run = Container {
        name: s(RUN_CONTAINER),
        image: Some(options.image.clone()),
        command: Some(vec![s("kiln")]),
        args: Some(args),
        working_dir: Some(project_dir),
        env: Some(common_env.into_iter().chain(secret_env).collect()),
        env_from: Some(vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: options.config_map.clone(),
                optional: Some(true),
            }),
            ..Default::default()
        }]),
        volume_mounts: Some(vec![
            mount("workspace", "/workspace", false),
            mount("tmp", "/tmp", false),
            mount("secret", SECRET_DIR, true),
        ]),
        resources: Some(resources(
            (&options.cpu_request, &options.cpu_limit),
            (&options.memory_request, &options.memory_limit),
        )),
        security_context: Some(restricted()),
        ..Default::default()
    };

    let pod = PodSpec {
        restart_policy: Some(s("Never")),
        service_account_name: Some(options.service_account.clone()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            fs_group: Some(RUN_AS),
            seccomp_profile: Some(SeccompProfile {
                type_: s("RuntimeDefault"),
                ..Default::default()
            }),
            ..Default::default()
        }),
        init_containers: Some(vec![clone]),
        containers: vec![run],
        volumes: Some(vec![
            Volume {
                name: s("workspace"),
                empty_dir: Some(EmptyDirVolumeSource {
                    size_limit: Some(Quantity(options.workspace_size.clone())),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Volume {
                name: s("tmp"),
                empty_dir: Some(EmptyDirVolumeSource {
                    size_limit: Some(Quantity(s("1Gi"))),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Volume {
                name: s("secret"),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(options.secret.clone()),
                    optional: Some(true),
                    default_mode: Some(0o440),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ]),
        ..Default::default()
    };

    Job {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(options.namespace.clone()),
            labels: Some(labels.clone()),
            annotations: Some(annotations.clone()),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(options.deadline_seconds),
            ttl_seconds_after_finished: Some(options.ttl_seconds),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(pod),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The Job as YAML (with `apiVersion` and `kind`).
pub fn to_yaml(job: &Job) -> Result<String, ExecutorError> {
    serde_norway::to_string(job).map_err(|e| ExecutorError::Serialize(e.to_string()))
}

/// The Job as pretty JSON (with `apiVersion` and `kind`).
pub fn to_json(job: &Job) -> Result<String, ExecutorError> {
    serde_json::to_string_pretty(job).map_err(|e| ExecutorError::Serialize(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> RunSource {
        RunSource {
            repo_url: s("https://git.example/hello.git"),
            commit: s("c27d339ee6075c1f744c5d4b200f7901aad2c369"),
            prefix: s("app"),
            config: s("app/kiln.yaml"),
        }
    }

    #[test]
    fn quantities_and_labels_are_checked() {
        for q in ["500m", "2", "0.5", "4Gi", "512Mi", "1e"] {
            assert_eq!(is_quantity(q), q != "1e", "{q}");
        }
        for q in ["", "Gi", "4 Gi", "-1", "1.Gi", "4GB"] {
            assert!(!is_quantity(q), "{q}");
        }
        assert!(is_dns_label("kiln-run"));
        assert!(!is_dns_label("Kiln"));
        assert!(!is_dns_label("-a"));
        let bad = JobOptions {
            memory_limit: s("lots"),
            ..Default::default()
        };
        assert!(validate(&bad).unwrap_err().to_string().contains("--memory"));
        validate(&JobOptions::default()).unwrap();
    }

    #[test]
    fn names_are_unique_labels() {
        let a = job_name(&source().commit);
        let b = job_name(&source().commit);
        assert_ne!(a, b);
        assert!(is_dns_label(&a), "{a}");
        assert!(a.starts_with("kiln-run-c27d339ee607-"), "{a}");
    }

    #[test]
    fn the_job_runs_the_commit_in_the_project() {
        let j = job(&source(), &JobOptions::default());
        let v = serde_json::to_value(&j).unwrap();
        assert_eq!(v["apiVersion"], "batch/v1");
        assert_eq!(v["kind"], "Job");
        let pod = &v["spec"]["template"]["spec"];
        assert_eq!(pod["containers"][0]["workingDir"], "/workspace/src/app");
        assert_eq!(
            pod["containers"][0]["args"],
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
        let yaml = to_yaml(&j).unwrap();
        assert!(yaml.starts_with("apiVersion: batch/v1\n"), "{yaml}");
    }
}
