//! `kiln db`: placeholder until its stage lands.

use std::process::ExitCode;

use crate::output::Global;

/// Arguments of `kiln db`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `kiln db`.
pub async fn run(_args: Args, _global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kiln db is not available in this build yet")
}
