//! `kiln init` and `kiln run`: write a commented kiln.yaml for a repository; take it through
//! every gate (secrets → build → sbom → vuln → sign → attest → push). One line per stage
//! on stderr as it ends, then a summary; `--format json` prints the run as data on stdout.
//! Exit 0 when every gate passed, 1 when a gate failed, 2 on an error.

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
    let request = RunRequest {
        project_dir: &dir,
        config_path: &file,
        registry: kiln_oci::registry::RegistryOptions {
            insecure: args.insecure_registry,
            ..Default::default()
        },
        source_date_epoch: kiln_pipeline::build::source_date_epoch_from_env()?,
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
