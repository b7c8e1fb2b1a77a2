//! `kiln key`: placeholder until its stage lands.

use std::process::ExitCode;

use crate::output::Global;

/// Arguments of `kiln key`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `kiln key`.
pub async fn run(_args: Args, _global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kiln key is not available in this build yet")
}
