//! `kiln secrets`: placeholder until its stage lands.

use std::process::ExitCode;

use crate::output::Global;

/// Arguments of `kiln secrets`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `kiln secrets`.
pub async fn run(_args: Args, _global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kiln secrets is not available in this build yet")
}
