//! `kiln server`: push webhooks, the run queue, scheduled re-scans and the dashboard. (Being built; it refuses to run until then.)

use std::process::ExitCode;

use crate::output::Global;

/// Arguments of `kiln server`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `kiln server`.
pub async fn run(_args: Args, _global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kiln server is not built yet")
}
