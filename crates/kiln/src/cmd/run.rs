//! `kiln init` and `kiln run`: write a commented kiln.yaml for a repository; take it through
//! every gate (secrets → build → sbom → vuln → sign → attest → push). One line per stage
//! on stderr as it ends, then a summary; `--format json` prints the run as data on stdout.
//! Exit 0 when every gate passed, 1 when a gate failed, 2 on an error. With
//! `--executor kubernetes` the run is a Kubernetes Job instead (crate kiln-k8s).

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kiln_pipeline::init::{self, Detected};
use kiln_pipeline::run::{self, Observer, RunRequest, RunStatus, Stage, StageReport, StageStatus};

use crate::output::{self, Global};

/// Output formats of `kiln run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Arguments of `kiln init`.
#[derive(clap::Args)]
pub struct InitArgs {
    /// The repository to write kiln.yaml in.
    #[arg(short = 'C', long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
}

/// Arguments of `kiln run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The project directory [default: the directory of --file, else the current one].
    #[arg(short = 'C', long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The kiln.yaml to read [default: DIR/kiln.yaml].
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Allow plain HTTP to a registry that is not on loopback.
    #[arg(long)]
    pub insecure_registry: bool,
    /// Print every line each stage logs (build output, findings), not only the summary.
    #[arg(short, long)]
    pub verbose: bool,
    /// Where the run happens: here, or as a Kubernetes Job running the committed source in
    /// the Kiln image (see docs/executor.md).
    #[arg(long, value_enum, default_value_t = Executor::Local)]
    pub executor: Executor,
    #[command(flatten)]
    pub kubernetes: KubernetesArgs,
}

/// Where `kiln run` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Executor {
    Local,
    Kubernetes,
}

/// Options of `kiln run --executor kubernetes`.
#[derive(clap::Args)]
#[command(next_help_heading = "Kubernetes executor (--executor kubernetes)")]
pub struct KubernetesArgs {
    /// Print the Job (YAML, or JSON with --format json) without contacting a cluster.
    #[arg(long)]
    pub dry_run: bool,
    /// The namespace of the Job.
    #[arg(long, value_name = "NS", default_value = "kiln")]
    pub namespace: String,
    /// The Kiln image the Job runs (built from deploy/Containerfile) [default: localhost/kiln:VERSION].
    #[arg(long, value_name = "IMAGE", env = "KILN_IMAGE")]
    pub kiln_image: Option<String>,
    /// The Secret holding the key password, registry and git credentials (optional keys).
    #[arg(long, value_name = "NAME", default_value = "kiln-run")]
    pub secret: String,
    /// The Job's name [default: kiln-run-COMMIT-RANDOM].
    #[arg(long, value_name = "NAME")]
    pub job_name: Option<String>,
    /// The URL the cluster clones [default: the repository's remote].
    #[arg(long, value_name = "URL")]
    pub repo_url: Option<String>,
    /// The kubeconfig context [default: the current one, else the in-cluster config].
    #[arg(long, value_name = "NAME")]
    pub kube_context: Option<String>,
    /// The Job's deadline (activeDeadlineSeconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub deadline: i64,
    /// How long the finished Job is kept (ttlSecondsAfterFinished).
    #[arg(long, value_name = "SECONDS", default_value_t = 86400)]
    pub ttl: i32,
    /// The run container's CPU limit.
    #[arg(long, value_name = "QUANTITY", default_value = "2")]
    pub cpu: String,
    /// The run container's memory limit.
    #[arg(long, value_name = "QUANTITY", default_value = "4Gi")]
    pub memory: String,
}

/// Runs `kiln init`.
pub async fn init(args: InitArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let done = init::init(&args.dir)?;
    let how = match &done.detected {
        Detected::Dockerfile(f) => format!("a buildah build of {f}"),
        Detected::Native(Some(exe)) => format!("a native build shipping {exe}"),
        Detected::Native(None) => {
            "a native build skeleton (edit build.layers: the files to ship)".to_string()
        }
    };
    global.say(format!("wrote {} with {how}", done.path.display()));
    global.say("next: kiln run");
    Ok(ExitCode::SUCCESS)
}

/// Prints each stage as it ends (and, with --verbose, what it logs).
struct Printer<'a> {
    global: &'a Global,
    verbose: bool,
    color: bool,
}

fn mark(status: StageStatus, color: bool) -> String {
    let (text, code) = match status {
        StageStatus::Passed => ("ok", "32"),
        StageStatus::Failed => ("FAILED", "31"),
        StageStatus::Error => ("ERROR", "31"),
        StageStatus::Skipped => ("skipped", "33"),
        StageStatus::NotRun => ("not run", "2"),
    };
    let padded = format!("{text:<8}");
    if color {
        format!("\x1b[{code}m{padded}\x1b[0m")
    } else {
        padded
    }
}

fn line(r: &StageReport, color: bool) -> String {
    let time = if r.status == StageStatus::NotRun {
        "      -".to_string()
    } else {
        format!("{:>5} ms", r.duration_ms)
    };
    format!(
        "{:<8} {} {time}  {}",
        r.name.name(),
        mark(r.status, color),
        r.summary
    )
}

impl Observer for Printer<'_> {
    fn stage_log(&self, stage: Stage, text: &str) {
        let warning = text.starts_with("warning:");
        if self.verbose || warning {
            self.global.say(format!("  [{stage}] {text}"));
        }
    }

    fn stage_finished(&self, report: &StageReport) {
        if matches!(report.status, StageStatus::Failed | StageStatus::Error) && !self.verbose {
            // The log explains the failure (the build's output, the findings).
            let tail: Vec<&String> = report.log.iter().rev().take(20).collect();
            for l in tail.into_iter().rev() {
                self.global.say(format!("  [{}] {l}", report.name));
            }
        }
        self.global.say(line(report, self.color));
    }
}

/// Runs `kiln run`.
pub async fn run(args: RunArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let (dir, file) = match (&args.dir, &args.file) {
        (Some(d), Some(f)) => (d.clone(), f.clone()),
        (Some(d), None) => (d.clone(), d.join("kiln.yaml")),
        (None, Some(f)) => {
            let parent = f.parent().filter(|p| !p.as_os_str().is_empty());
            (parent.unwrap_or(Path::new(".")).to_path_buf(), f.clone())
        }
        (None, None) => (PathBuf::from("."), PathBuf::from("kiln.yaml")),
    };
    if args.executor == Executor::Kubernetes {
        return kubernetes(&args, &dir, &file, global).await;
    }
    if args.kubernetes.dry_run {
        anyhow::bail!("--dry-run needs --executor kubernetes");
    }
    let request = RunRequest {
        project_dir: &dir,
        config_path: &file,
        registry: kiln_oci::registry::RegistryOptions {
            insecure: args.insecure_registry,
            ..Default::default()
        },
        source_date_epoch: kiln_pipeline::build::source_date_epoch_from_env()?,
        ledger_url: None,
    };
    let printer = Printer {
        global,
        verbose: args.verbose,
        color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let report = run::run(&request, &printer).await?;

    let done = report
        .stages
        .iter()
        .filter(|s| s.status == StageStatus::Passed)
        .count();
    let image = match (&report.image, &report.digest) {
        (Some(i), Some(d)) => format!("{i} ({d})"),
        _ => "no image".to_string(),
    };
    let summary = match report.status {
        RunStatus::Succeeded => format!(
            "run {} succeeded in {} ms: {done}/{} stages passed; {image}{}",
            report.run_id,
            report.duration_ms,
            report.stages.len(),
            report
                .published
                .as_deref()
                .map(|p| format!(", pushed to {p}"))
                .unwrap_or_default()
        ),
        RunStatus::Failed | RunStatus::Error => format!(
            "run {} {} at {}: {}; nothing after it was signed or pushed",
            report.run_id,
            if report.status == RunStatus::Failed {
                "stopped"
            } else {
                "failed with an error"
            },
            report.failed_stage.map(|s| s.name()).unwrap_or("?"),
            report.reason.as_deref().unwrap_or("")
        ),
    };
    global.say(summary);
    if args.format == Format::Json {
        output::emit_json(&report, None)?;
    }
    Ok(match report.status {
        RunStatus::Succeeded => ExitCode::SUCCESS,
        RunStatus::Failed => ExitCode::from(1),
        RunStatus::Error => ExitCode::from(2),
    })
}

/// Shows a Kubernetes run as it goes: status lines and the pod's log on stderr.
struct KubeProgress<'a> {
    global: &'a Global,
}

impl kiln_k8s::Progress for KubeProgress<'_> {
    fn status(&self, message: &str) {
        self.global.say(message);
    }

    fn log_line(&self, line: &str) {
        self.global.say(format!("  | {line}"));
    }
}

/// `kiln run --executor kubernetes`: the Job for the committed source, printed
/// (--dry-run) or run on the cluster with the pod's exit code as ours.
async fn kubernetes(
    args: &RunArgs,
    dir: &Path,
    file: &Path,
    global: &Global,
) -> anyhow::Result<ExitCode> {
    let k = &args.kubernetes;
    let source = kiln_k8s::RunSource::locate(dir, file, k.repo_url.as_deref())?;
    // An invalid kiln.yaml fails here, not after a pod was scheduled.
    kiln_pipeline::KilnConfig::load(file)?;
    let options = kiln_k8s::JobOptions {
        name: k.job_name.clone(),
        namespace: k.namespace.clone(),
        image: k
            .kiln_image
            .clone()
            .unwrap_or_else(kiln_k8s::job::default_image),
        secret: k.secret.clone(),
        deadline_seconds: k.deadline,
        ttl_seconds: k.ttl,
        cpu_limit: k.cpu.clone(),
        memory_limit: k.memory.clone(),
        insecure_registry: args.insecure_registry,
        verbose: args.verbose,
        ..Default::default()
    };
    kiln_k8s::validate(&options)?;
    let job = kiln_k8s::job(&source, &options);
    if k.dry_run {
        let text = match args.format {
            Format::Json => kiln_k8s::to_json(&job)?,
            Format::Table => kiln_k8s::to_yaml(&job)?,
        };
        output::emit(text.as_bytes(), None)?;
        return Ok(ExitCode::SUCCESS);
    }
    let target = kiln_k8s::Target {
        context: k.kube_context.clone(),
    };
    let outcome = kiln_k8s::submit(&job, &target, &KubeProgress { global }).await?;
    let job_ref = format!("Job {}/{}", outcome.namespace, outcome.name);
    match (outcome.exit_code, &outcome.reason) {
        (Some(code), _) => global.say(format!(
            "{job_ref} {}: kiln run exited with {code}",
            if outcome.succeeded {
                "completed"
            } else {
                "failed"
            }
        )),
        (None, Some(reason)) => global.say(format!("{job_ref} failed: {reason}")),
        (None, None) => global.say(format!("{job_ref} ended without a result")),
    }
    if args.format == Format::Json {
        match outcome.run_report() {
            Some(report) => output::emit_json(&report, None)?,
            None => global.say("warning: the pod's log holds no run report"),
        }
    }
    Ok(match outcome.exit_code {
        Some(0) if outcome.succeeded => ExitCode::SUCCESS,
        Some(1) => ExitCode::from(1),
        _ => ExitCode::from(2),
    })
}
