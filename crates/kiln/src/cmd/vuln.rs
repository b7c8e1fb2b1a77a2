//! `kiln vuln`: `scan` an SBOM file, a directory or an image against the offline database
//! and report findings (table, JSON, SARIF, CycloneDX, cosign vuln predicate); `compare`
//! two versions the way an ecosystem orders them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use kiln_sbom::Catalog;
use kiln_vuln::db::Database;
use kiln_vuln::report;
use kiln_vuln::severity::Rating;

use crate::cmd::db::{DbLocation, warn_if_stale};
use crate::output::{Global, emit, emit_json};

/// Arguments of `kiln vuln`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

/// Output formats of `kiln vuln scan`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Sarif,
    CyclonedxJson,
    /// The cosign vuln predicate (https://cosign.sigstore.dev/attestation/vuln/v1).
    CosignVuln,
}

/// `kiln vuln` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Scan an SBOM (SPDX, CycloneDX, Kiln JSON), a directory or an image.
    Scan(ScanArgs),
    /// Print <, = or > for two versions as ECOSYSTEM orders them.
    Compare {
        ecosystem: String,
        a: String,
        b: String,
    },
}

/// Arguments of `kiln vuln scan`.
#[derive(clap::Args)]
pub struct ScanArgs {
    /// An SBOM file, or a source as `kiln sbom` takes it (dir:PATH, oci:PATH[:TAG], registry:REF, ...).
    pub source: String,
    #[command(flatten)]
    pub location: DbLocation,
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: Format,
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Report only these severities (comma-separated: critical,high,medium,low,none,unknown).
    #[arg(long, value_delimiter = ',')]
    pub severity: Vec<Rating>,
    /// Exit with --exit-code when a finding not suppressed by VEX is at least this severe.
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Rating>,
    /// The exit code for --fail-on.
    #[arg(long, default_value_t = 1)]
    pub exit_code: u8,
    /// OpenVEX or CycloneDX VEX documents (repeatable).
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<PathBuf>,
    /// Warn when the data is older than this many days.
    #[arg(long, default_value_t = 7, env = "KILN_VULN_DB_MAX_AGE")]
    pub max_age_days: u64,
    /// Allow plain HTTP to a registry that is not on loopback.
    #[arg(long)]
    pub insecure_registry: bool,
}

/// Runs `kiln vuln`.
pub async fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Compare { ecosystem, a, b } => {
            let o = kiln_vuln::version::compare(&ecosystem, &a, &b)?;
            println!(
                "{}",
                match o {
                    std::cmp::Ordering::Less => "<",
                    std::cmp::Ordering::Equal => "=",
                    std::cmp::Ordering::Greater => ">",
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Scan(s) => scan(s, global).await,
    }
}

async fn load_catalog(args: &ScanArgs, global: &Global) -> anyhow::Result<Catalog> {
    let as_file = PathBuf::from(&args.source);
    if as_file.is_file() {
        let bytes =
            std::fs::read(&as_file).with_context(|| format!("reading {}", as_file.display()))?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            return Ok(kiln_sbom::format::read(&bytes, &args.source)?);
        }
    }
    let outcome = crate::cmd::sbom::catalog(&args.source, args.insecure_registry).await?;
    for w in &outcome.warnings {
        global.say(format!("warning: {w}"));
    }
    Ok(outcome.catalog)
}

/// The current time as RFC 3339 UTC.
fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    kiln_oci::time::rfc3339(i64::try_from(secs).unwrap_or(i64::MAX))
}

async fn scan(args: ScanArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let started = now();
    let catalog = load_catalog(&args, global).await?;
    let db_path = args.location.path();
    let db = Database::open(&db_path)?;
    warn_if_stale(&db, args.max_age_days, global)?;
    let mut statements = Vec::new();
    for v in &args.vex {
        let bytes =
            std::fs::read(v).with_context(|| format!("reading VEX document {}", v.display()))?;
        statements.extend(kiln_vuln::vex::read(&bytes, &v.display().to_string())?);
    }
    let scan_started = std::time::Instant::now();
    let mut result = {
        let reader = db.reader()?;
        kiln_vuln::scan::scan(&reader, &catalog)?
    };
    tracing::info!(
        "matched {} packages in {:.1} ms",
        catalog.packages.len(),
        scan_started.elapsed().as_secs_f64() * 1000.0
    );
    kiln_vuln::vex::apply(&mut result.findings, &statements);
    if !args.severity.is_empty() {
        result
            .findings
            .retain(|f| args.severity.contains(&f.severity));
    }
    for w in &result.warnings {
        global.say(format!("warning: {w}"));
    }
    let version = env!("CARGO_PKG_VERSION");
    match args.format {
        Format::Table => {
            let text = if result.findings.is_empty() {
                "no known vulnerabilities\n".to_string()
            } else {
                report::table(&result.findings)
            };
            emit(text.as_bytes(), args.output.as_deref())?;
        }
        Format::Json => emit_json(&report::json(&result, &args.source), args.output.as_deref())?,
        Format::Sarif => emit_json(
            &report::sarif(&result, &args.source, version),
            args.output.as_deref(),
        )?,
        Format::CyclonedxJson => {
            emit_json(&report::cyclonedx(&result, version), args.output.as_deref())?
        }
        Format::CosignVuln => {
            let st = db.status()?;
            let p = report::cosign_predicate(
                &result,
                &args.source,
                version,
                &db_path.display().to_string(),
                st.data_modified.as_deref().unwrap_or(""),
                &started,
                &now(),
            );
            emit_json(&p, args.output.as_deref())?
        }
    }
    let suppressed = result.findings.iter().filter(|f| f.suppressed).count();
    global.say(format!(
        "{} finding(s) in {} package(s) scanned, {suppressed} suppressed by VEX",
        result.findings.len() - suppressed,
        result.packages_scanned
    ));
    if let Some(min) = args.fail_on
        && result
            .findings
            .iter()
            .any(|f| !f.suppressed && f.severity >= min)
    {
        return Ok(ExitCode::from(args.exit_code));
    }
    Ok(ExitCode::SUCCESS)
}
