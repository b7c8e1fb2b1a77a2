//! `kiln secrets`: scan a directory, the staged changes, git history or an image for
//! secrets; write a baseline; install the pre-commit hook. Findings go to stdout (table,
//! JSON or SARIF), redacted unless `--no-redact`; messages go to stderr.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::Context;
use kiln_secrets::baseline::Baseline;
use kiln_secrets::sarif::{FindingRecord, sarif};
use kiln_secrets::source::{Event, Notice, Stats, dir, history, image, staged};
use kiln_secrets::{Config, Finding, RuleSet, Scanner, SkipPolicy};

use crate::output::{Global, emit, emit_json};

/// Arguments of `kiln secrets`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Scan a directory (honouring .gitignore), its git history (--history) or an image (--image).
    Scan(ScanArgs),
    /// Scan the staged changes (for a pre-commit hook).
    Protect(ProtectArgs),
    /// Write a baseline that accepts today's findings.
    Baseline(BaselineArgs),
    /// Install a git pre-commit hook running `kiln secrets protect --staged`.
    InstallHook(HookArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Json,
    Sarif,
}

/// Rule and skip options shared by every scan.
#[derive(clap::Args, Clone)]
struct RuleOpts {
    /// Rule file in gitleaks' format (default: .kiln/secrets.toml or .gitleaks.toml in the
    /// scanned repository, else the built-in rules).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Skip files larger than this many bytes without reading them.
    #[arg(long, value_name = "BYTES", default_value_t = 25 << 20)]
    max_file_size: u64,
    /// Also scan binary files.
    #[arg(long)]
    include_binary: bool,
    /// Also scan vendored directories (node_modules, vendor, third_party...).
    #[arg(long)]
    include_vendored: bool,
    /// Also scan lockfiles, minified bundles and generated code.
    #[arg(long)]
    include_generated: bool,
}

/// Output options shared by every scan.
#[derive(clap::Args, Clone)]
struct OutOpts {
    /// Only report findings not accepted by this baseline file.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit code when findings remain after baseline and allowlists.
    #[arg(long, value_name = "N", default_value_t = 1)]
    exit_code: u8,
    /// Show secrets in full (they are masked but for their first characters by default).
    #[arg(long)]
    no_redact: bool,
}

#[derive(clap::Args)]
struct ScanArgs {
    /// Directory (or repository with --history) to scan.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Scan every commit reachable from any ref, each unique blob once.
    #[arg(long, conflicts_with = "image")]
    history: bool,
    /// With --history: only commits not reachable from REV.
    #[arg(long, value_name = "REV", requires = "history")]
    since: Option<String>,
    /// With --history: only commits reachable from this branch.
    #[arg(long, value_name = "NAME", requires = "history")]
    branch: Option<String>,
    /// Allow plain HTTP to a non-loopback registry for --image.
    #[arg(long)]
    insecure_registry: bool,

    /// Scan every layer of an image (oci:PATH[:TAG|@DIGEST] or a registry reference).
    #[arg(long, value_name = "REF")]
    image: Option<String>,
    #[command(flatten)]
    rules: RuleOpts,
    #[command(flatten)]
    out: OutOpts,
}

#[derive(clap::Args)]
struct ProtectArgs {
    /// Scan the staged changes (the only mode; accepted for gitleaks compatibility).
    #[arg(long, default_value_t = true)]
    staged: bool,
    /// The repository.
    #[arg(default_value = ".")]
    path: PathBuf,
    #[command(flatten)]
    rules: RuleOpts,
    #[command(flatten)]
    out: OutOpts,
}

#[derive(clap::Args)]
struct BaselineArgs {
    /// Directory or repository to scan.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Accept the findings of the whole history, not only the working tree.
    #[arg(long)]
    history: bool,
    /// Where to write the baseline.
    #[arg(
        long,
        short = 'o',
        value_name = "FILE",
        default_value = ".kiln/secrets-baseline.json"
    )]
    output: PathBuf,
    #[command(flatten)]
    rules: RuleOpts,
}

#[derive(clap::Args)]
struct HookArgs {
    /// The repository.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Replace an existing pre-commit hook.
    #[arg(long)]
    force: bool,
}

/// Runs `kiln secrets`.
pub async fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Scan(a) => scan(a, global),
        Command::Protect(a) => protect(a, global),
        Command::Baseline(a) => baseline(a, global),
        Command::InstallHook(a) => install_hook(a, global),
    }
}

fn scanner(opts: &RuleOpts, root: Option<&Path>, global: &Global) -> anyhow::Result<Scanner> {
    let file = opts
        .config
        .clone()
        .or_else(|| root.and_then(Config::discover));
    let cfg = match &file {
        Some(f) => {
            global.say(format!("rules: {}", f.display()));
            Config::load(f)?
        }
        None => Config::builtin(),
    };
    let rules = RuleSet::compile(&cfg);
    for e in &rules.errors {
        global.say(format!("warning: {e}; the other rules still run"));
    }
    let skip = SkipPolicy {
        max_size: opts.max_file_size,
        binary: !opts.include_binary,
        vendored: !opts.include_vendored,
        generated: !opts.include_generated,
    };
    Ok(Scanner::new(rules, skip))
}

/// Runs a source, collecting findings and printing notices.
fn collect(
    global: &Global,
    what: &str,
    run: impl FnOnce(&(dyn Fn(Event) + Sync)) -> anyhow::Result<Stats>,
) -> anyhow::Result<(Vec<Finding>, Stats)> {
    let findings = Mutex::new(Vec::new());
    let bar = if global.quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} {bytes} ({bytes_per_sec})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        b.set_message(what.to_string());
        b
    };
    let skipped = Mutex::new(0u64);
    let sink = |e: Event| match e {
        Event::Finding(f) => findings.lock().unwrap_or_else(|p| p.into_inner()).push(*f),
        Event::Progress(n) => bar.inc(n),
        Event::Notice(Notice::Skipped { path, reason }) => {
            *skipped.lock().unwrap_or_else(|p| p.into_inner()) += 1;
            if reason == kiln_secrets::SkipReason::TooLarge {
                bar.suspend(|| global.say(format!("skipped {path}: {reason}")));
            } else {
                tracing::info!("skipped {path}: {reason}");
            }
        }
        Event::Notice(n) => bar.suspend(|| global.say(format!("warning: {n}"))),
    };
    let stats = run(&sink)?;
    bar.finish_and_clear();
    let mut findings = findings.into_inner().unwrap_or_else(|p| p.into_inner());
    findings.sort_by(|a, b| {
        (&a.path, a.line, a.column, &a.rule_id).cmp(&(&b.path, b.line, b.column, &b.rule_id))
    });
    findings.dedup_by(|a, b| {
        a.rule_id == b.rule_id
            && a.path == b.path
            && a.line == b.line
            && a.column == b.column
            && a.layer == b.layer
            && a.commit == b.commit
    });
    Ok((findings, stats))
}

fn scan(a: ScanArgs, global: &Global) -> anyhow::Result<ExitCode> {
    if let Some(image) = &a.image {
        let r =
            kiln_oci::ImageRef::parse(image).with_context(|| format!("image reference {image}"))?;
        let sc = scanner(&a.rules, None, global)?;
        let view = match &r {
            kiln_oci::ImageRef::Layout { path, .. } => {
                image::open_layout_image(path, &r.selector())?
            }
            kiln_oci::ImageRef::Registry { .. } => {
                let options = kiln_oci::registry::RegistryOptions {
                    insecure: a.insecure_registry,
                    ..Default::default()
                };
                let store = kiln_oci::open::open_existing_store(&r, &options)
                    .with_context(|| format!("opening {image}"))?;
                tokio::task::block_in_place(|| {
                    tokio::runtime::Handle::current()
                        .block_on(image::open_store_image(store.as_ref(), &r.selector()))
                })?
            }
        };
        let (findings, stats) = collect(global, "scanning image layers", |sink| {
            Ok(image::scan_view(&view, image, &sc, sink)?)
        })?;
        return report(findings, stats, &sc, &a.out, global);
    }
    let root = a.path.clone();
    let sc = scanner(&a.rules, Some(&root), global)?;
    let (findings, stats) = if a.history {
        let opts = history::HistoryOptions {
            since: a.since.clone(),
            branch: a.branch.clone(),
        };
        collect(global, "scanning history", |sink| {
            Ok(history::scan_history(&root, &opts, &sc, sink)?)
        })?
    } else {
        collect(global, "scanning", |sink| {
            Ok(dir::scan_dir(&root, &sc, sink)?)
        })?
    };
    report(findings, stats, &sc, &a.out, global)
}

fn protect(a: ProtectArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let sc = scanner(&a.rules, Some(&a.path), global)?;
    let (findings, stats) = collect(global, "scanning staged changes", |sink| {
        Ok(staged::scan_staged(&a.path, &sc, sink)?)
    })?;
    report(findings, stats, &sc, &a.out, global)
}

fn report(
    findings: Vec<Finding>,
    stats: Stats,
    sc: &Scanner,
    out: &OutOpts,
    global: &Global,
) -> anyhow::Result<ExitCode> {
    let total = findings.len();
    let findings = match &out.baseline {
        Some(p) => {
            let b = Baseline::load(p)?;
            findings.into_iter().filter(|f| !b.contains(f)).collect()
        }
        None => findings,
    };
    let accepted = total - findings.len();
    let reveal = out.no_redact;
    match out.format {
        Format::Json => {
            let recs: Vec<FindingRecord<'_>> = findings
                .iter()
                .map(|f| FindingRecord::new(f, reveal))
                .collect();
            emit_json(&recs, out.output.as_deref())?;
        }
        Format::Sarif => emit_json(
            &sarif(&findings, sc.rules(), env!("CARGO_PKG_VERSION"), reveal),
            out.output.as_deref(),
        )?,
        Format::Table => {
            if !findings.is_empty() || out.output.is_some() {
                emit(table(&findings, reveal).as_bytes(), out.output.as_deref())?;
            }
        }
    }
    let mut summary = format!(
        "{} finding(s) in {} file(s)/blob(s), {} MiB",
        findings.len(),
        stats.scanned,
        stats.bytes >> 20
    );
    if stats.commits > 0 {
        summary.push_str(&format!(", {} commit(s)", stats.commits));
    }
    if stats.skipped > 0 {
        summary.push_str(&format!(", {} skipped", stats.skipped));
    }
    if accepted > 0 {
        summary.push_str(&format!(", {accepted} accepted by the baseline"));
    }
    global.say(summary);
    Ok(if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(out.exit_code)
    })
}

fn table(findings: &[Finding], reveal: bool) -> String {
    let mut rows = vec![[
        "RULE".to_string(),
        "LOCATION".to_string(),
        "SECRET".to_string(),
        "ORIGIN".to_string(),
        "FINGERPRINT".to_string(),
    ]];
    for f in findings {
        let origin = match (&f.commit, &f.layer) {
            (Some(c), _) => format!(
                "{} {} <{}> {}",
                &c.id[..c.id.len().min(12)],
                c.author,
                c.email,
                c.date
            ),
            (None, Some(l)) => format!("layer {l}{}", if f.deleted { " (deleted)" } else { "" }),
            _ => "-".to_string(),
        };
        rows.push([
            f.rule_id.clone(),
            format!("{}:{}:{}", f.path, f.line, f.column),
            if reveal {
                f.secret.expose().to_string()
            } else {
                f.secret.masked()
            },
            origin,
            f.fingerprint(),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn baseline(a: BaselineArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let sc = scanner(&a.rules, Some(&a.path), global)?;
    let (findings, _) = if a.history {
        collect(global, "scanning history", |sink| {
            Ok(history::scan_history(
                &a.path,
                &history::HistoryOptions::default(),
                &sc,
                sink,
            )?)
        })?
    } else {
        collect(global, "scanning", |sink| {
            Ok(dir::scan_dir(&a.path, &sc, sink)?)
        })?
    };
    let b = Baseline::from_findings(&findings);
    if let Some(parent) = a.output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    emit(&b.to_bytes(), Some(&a.output))?;
    global.say(format!(
        "baseline {} accepts {} finding(s)",
        a.output.display(),
        b.findings.len()
    ));
    Ok(ExitCode::SUCCESS)
}

fn install_hook(a: HookArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let dir = staged::hooks_dir(&a.path)?;
    let hook = dir.join("pre-commit");
    if hook.exists() && !a.force {
        anyhow::bail!("{} exists; use --force to replace it", hook.display());
    }
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.to_str().map(str::to_string))
        .unwrap_or_else(|| "kiln".to_string());
    let script = format!(
        "#!/bin/sh\n# Installed by `kiln secrets install-hook`: refuses a commit that adds a secret.\n\
         KILN=\"${{KILN:-{exe}}}\"\n[ -x \"$KILN\" ] || KILN=kiln\n\
         exec \"$KILN\" secrets protect --staged --exit-code 1\n"
    );
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    kiln_oci::layout::write_atomically(&hook, script.as_bytes())
        .with_context(|| format!("writing {}", hook.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {} executable", hook.display()))?;
    }
    global.say(format!("installed {}", hook.display()));
    Ok(ExitCode::SUCCESS)
}
