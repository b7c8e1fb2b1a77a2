//! `kiln admit`: placeholder until its helper replaces this module.

use std::process::ExitCode;

use crate::output::Global;

/// Arguments of `kiln admit`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `kiln admit`.
pub async fn run(_args: Args, _global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kiln admit is not built yet")
}
