//! `kiln server`: push webhooks (GitHub, GitLab, Gitea/Forgejo, `kiln hook`), the run
//! queue, admission reports, the scheduled database update and the dashboard, configured by
//! `--config server.yaml` (see docs/server.md) with `--listen`, `--ledger` and `--work-dir`
//! overriding the file. Logs go to stderr (`KILN_LOG=info` shows every push, stage and
//! refusal; warnings, such as refused signatures, show by default); secrets never appear
//! in them.

use std::path::PathBuf;
use std::process::ExitCode;

use kiln_pipeline::server::{self, ServerConfig, config::Overrides};

use crate::output::Global;

/// Arguments of `kiln server`.
#[derive(clap::Args)]
pub struct Args {
    /// The server configuration (YAML).
    #[arg(short, long, value_name = "FILE", env = "KILN_SERVER_CONFIG")]
    pub config: Option<PathBuf>,
    /// The address to listen on (ADDR:PORT; port 0 picks a free one).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// The ledger URL (sqlite://PATH or postgres://…).
    #[arg(long, value_name = "URL", env = "KILN_LEDGER")]
    pub ledger: Option<String>,
    /// The work directory (mirrors, work trees, per-repository state).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
}

/// Runs `kiln server`.
pub async fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir()?;
    let overrides = Overrides {
        listen: args.listen,
        ledger: args.ledger.map(|l| absolute_sqlite(&l, &cwd)),
        work_dir: args.work_dir.map(|d| cwd.join(d)),
    };
    let config = match &args.config {
        Some(path) => ServerConfig::load(path, &overrides)?,
        None => ServerConfig::from_overrides(&overrides)?,
    };
    if config.repositories.is_empty() {
        global.say("warning: no repositories are configured: every push webhook gets 404");
    }
    let repos = config.repositories.len();
    let ledger_shown = kiln_pipeline::ledger::hide_password(&config.ledger);
    let running = server::start(config).await?;
    if running.interrupted > 0 {
        global.say(format!(
            "marked {} interrupted run(s) failed (nothing of theirs was signed)",
            running.interrupted
        ));
    }
    global.say(format!(
        "kiln server listening on {}://{} ({repos} repositories, ledger {ledger_shown})",
        if running.tls { "https" } else { "http" },
        running.addr
    ));
    running.wait().await;
    Ok(ExitCode::SUCCESS)
}

/// A relative `sqlite://PATH` made absolute against the current directory.
fn absolute_sqlite(url: &str, cwd: &std::path::Path) -> String {
    for prefix in ["sqlite://", "sqlite:"] {
        if let Some(p) = url.strip_prefix(prefix)
            && !p.starts_with('/')
            && !p.is_empty()
        {
            return format!("sqlite://{}", cwd.join(p).display());
        }
    }
    url.to_string()
}
