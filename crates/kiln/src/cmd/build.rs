//! `kiln build`: placeholder until its stage lands.

use std::process::ExitCode;

use crate::output::Global;

/// Arguments of `kiln build`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `kiln build`.
pub async fn run(_args: Args, _global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kiln build is not available in this build yet")
}
