//! The `kiln` binary: argument parsing, printing and exit codes. Every decision is made
//! in the library crates; this crate only turns their data into output.

mod cmd;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Kiln: a secure software factory in one binary.
#[derive(Parser)]
#[command(name = "kiln", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Print nothing on stderr but errors.
    #[arg(short, long, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
// Parsed once at start-up: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Build the image described by the `build:` section of kiln.yaml.
    Build(cmd::build::Args),
    /// Copy, inspect and list images in layouts and registries.
    Image(cmd::image::Args),
    /// Scan working trees, staged changes, git history and images for secrets.
    Secrets(cmd::secrets::Args),
    /// Produce an SBOM of an image, a directory or an archive.
    Sbom(cmd::sbom::Args),
    /// Scan for known vulnerabilities and compare versions.
    Vuln(cmd::vuln::Args),
    /// Manage the offline vulnerability database.
    Db(cmd::db::Args),
    /// Generate, import and inspect signing keys.
    Key(cmd::key::Args),
    /// Sign an image (cosign or Notation format).
    Sign(cmd::sign::SignArgs),
    /// Attach a signed in-toto attestation to an image.
    Attest(cmd::sign::AttestArgs),
    /// Verify an image's signatures and attestations.
    Verify(cmd::sign::VerifyArgs),
    /// Check, test and convert deployment policies.
    Policy(cmd::policy::Args),
    /// Run the Kubernetes admission webhook (and make its certificates).
    Admit(cmd::admit::Args),
    /// Write a commented kiln.yaml for the repository in the current directory.
    Init(cmd::run::InitArgs),
    /// Run the whole pipeline of kiln.yaml: secrets, build, SBOM, vulnerability gate, sign, attest, push.
    Run(cmd::run::RunArgs),
    /// Read the evidence of past runs (ledger and encrypted evidence store).
    Evidence(cmd::evidence::Args),
    /// Match every stored SBOM against the vulnerability database again and report new findings.
    Rescan(cmd::rescan::Args),
    /// Serve push webhooks, the run queue, scheduled re-scans and the dashboard.
    Server(cmd::server::Args),
    /// Install git hooks that trigger runs (post-receive in a bare repository).
    Hook(cmd::hook::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let filter = tracing_subscriber::EnvFilter::try_from_env("KILN_LOG").unwrap_or_else(|_| {
        // kube-client logs its own ERROR line for a failure Kiln reports itself.
        tracing_subscriber::EnvFilter::new(if cli.quiet {
            "error,kube_client=off"
        } else {
            "warn,kube_client=off"
        })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let global = output::Global { quiet: cli.quiet };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Build(a) => cmd::build::run(a, &global).await,
            Command::Image(a) => cmd::image::run(a, &global).await,
            Command::Secrets(a) => cmd::secrets::run(a, &global).await,
            Command::Sbom(a) => cmd::sbom::run(a, &global).await,
            Command::Vuln(a) => cmd::vuln::run(a, &global).await,
            Command::Db(a) => cmd::db::run(a, &global).await,
            Command::Key(a) => cmd::key::run(a, &global).await,
            Command::Sign(a) => cmd::sign::sign(a, &global).await,
            Command::Attest(a) => cmd::sign::attest(a, &global).await,
            Command::Verify(a) => cmd::sign::verify(a, &global).await,
            Command::Policy(a) => cmd::policy::run(a, &global).await,
            Command::Admit(a) => cmd::admit::run(a, &global).await,
            Command::Init(a) => cmd::run::init(a, &global).await,
            Command::Run(a) => cmd::run::run(a, &global).await,
            Command::Evidence(a) => cmd::evidence::run(a, &global).await,
            Command::Rescan(a) => cmd::rescan::run(a, &global).await,
            Command::Server(a) => cmd::server::run(a, &global).await,
            Command::Hook(a) => cmd::hook::run(a, &global).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
