//! `kiln rescan`: re-match stored SBOMs against the vulnerability database. (Being built; it refuses to run until then.)

use std::process::ExitCode;

use crate::output::Global;

/// Arguments of `kiln rescan`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `kiln rescan`.
pub async fn run(_args: Args, _global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kiln rescan is not built yet")
}
