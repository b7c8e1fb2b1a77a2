//! `kiln policy`: validate a policy (`check`), run it against recorded evidence (`test`),
//! and convert a Kyverno verifyImages policy (`import-kyverno`). Data goes to stdout,
//! messages to stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use kiln_policy::testcase::{Expect, parse_cases};
use kiln_policy::{Decision, Policy, PolicyError};

use crate::output::{Global, emit, emit_json};

/// Arguments of `kiln policy`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Validate a policy file; errors carry line numbers. Exit 1 when invalid.
    Check(CheckArgs),
    /// Evaluate a policy against recorded evidence; exit 1 when an expectation fails.
    Test(TestArgs),
    /// Convert a Kyverno ClusterPolicy/Policy with verifyImages rules into a Kiln policy
    /// (stdout); every part that could not be expressed is listed on stderr.
    ImportKyverno(ImportArgs),
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The policy file.
    file: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(clap::Args)]
struct TestArgs {
    /// The policy file.
    file: PathBuf,
    /// Evidence files (JSON: one case or an array of `{name, expect, evidence}`).
    #[arg(long = "input", value_name = "FILE", required = true, num_args = 1..)]
    inputs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(clap::Args)]
struct ImportArgs {
    /// The Kyverno policy (YAML, one or more documents).
    file: PathBuf,
    /// Write the Kiln policy here instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// Runs `kiln policy`.
pub async fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Check(a) => check(a, global),
        Command::Test(a) => test(a, global),
        Command::ImportKyverno(a) => import(a, global),
    }
}

fn describe(e: &PolicyError) -> String {
    match e {
        PolicyError::Invalid {
            source_name,
            line: Some(l),
            column,
            message,
        } => {
            let col = column.map(|c| format!(":{c}")).unwrap_or_default();
            format!("{source_name}:{l}{col}: {message}")
        }
        other => other.to_string(),
    }
}

fn check(a: CheckArgs, global: &Global) -> anyhow::Result<ExitCode> {
    match Policy::load(&a.file) {
        Ok(p) => {
            let spec = &p.document.spec;
            global.say(format!(
                "{}: valid ({} rules, {} signers, mode {:?}, default {:?})",
                a.file.display(),
                spec.rules.len(),
                spec.signers.len(),
                spec.mode,
                spec.default_action
            ));
            Ok(ExitCode::SUCCESS)
        }
        Err(PolicyError::Read { source_name, error }) => {
            anyhow::bail!("{source_name}: cannot read: {error}")
        }
        Err(e) => {
            eprintln!("{}", describe(&e));
            Ok(ExitCode::from(1))
        }
    }
}

#[derive(serde::Serialize)]
struct CaseResult {
    input: String,
    name: Option<String>,
    expect: Option<Expect>,
    /// `pass`, `fail` or `none` (no expectation recorded).
    result: &'static str,
    decision: Decision,
}

fn test(a: TestArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let policy = Policy::load(&a.file).map_err(|e| anyhow::anyhow!(describe(&e)))?;
    let mut results = Vec::new();
    for input in &a.inputs {
        let text = std::fs::read_to_string(input)
            .with_context(|| format!("reading {}", input.display()))?;
        let cases = parse_cases(&text, &input.display().to_string()).map_err(anyhow::Error::msg)?;
        for c in cases {
            let decision = policy.evaluate(&c.evidence);
            let result = match c.expect {
                None => "none",
                Some(Expect::Allow) if decision.allowed => "pass",
                Some(Expect::Deny) if !decision.allowed => "pass",
                Some(_) => "fail",
            };
            results.push(CaseResult {
                input: input.display().to_string(),
                name: c.name,
                expect: c.expect,
                result,
                decision,
            });
        }
    }
    let failed = results.iter().filter(|r| r.result == "fail").count();
    match a.format {
        Format::Json => emit_json(&results, None)?,
        Format::Table => {
            let mut out = String::new();
            for r in &results {
                let name = r.name.clone().unwrap_or_else(|| r.input.clone());
                out.push_str(&format!(
                    "{:<4}  {:<5}  {}  ({})\n",
                    r.result.to_uppercase(),
                    if r.decision.allowed { "allow" } else { "deny" },
                    name,
                    r.decision.image
                ));
                for reason in &r.decision.reasons {
                    out.push_str(&format!(
                        "        deny  {} [{}] {}\n",
                        reason.code,
                        reason.rule.as_deref().unwrap_or("-"),
                        reason.message
                    ));
                }
                for w in &r.decision.warnings {
                    out.push_str(&format!(
                        "        warn  {} [{}] {}\n",
                        w.code,
                        w.rule.as_deref().unwrap_or("-"),
                        w.message
                    ));
                }
            }
            emit(out.as_bytes(), None)?;
        }
    }
    global.say(format!(
        "{} cases, {} passed, {} failed, {} without expectation",
        results.len(),
        results.iter().filter(|r| r.result == "pass").count(),
        failed,
        results.iter().filter(|r| r.result == "none").count()
    ));
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn import(a: ImportArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&a.file)
        .with_context(|| format!("reading {}", a.file.display()))?;
    let imported = kiln_policy::kyverno::import(&text, &a.file.display().to_string())?;
    emit(imported.yaml.as_bytes(), a.output.as_deref())?;
    if imported.unsupported.is_empty() {
        global.say("every part of the Kyverno policy was converted");
    } else {
        // Always printed, even with --quiet: these are gaps the user must review.
        eprintln!(
            "{} part(s) could not be expressed in the Kiln policy:",
            imported.unsupported.len()
        );
        for u in &imported.unsupported {
            eprintln!("  - {u}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
