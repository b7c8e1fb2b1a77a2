//! `kiln sbom`: placeholder until its stage lands.

use std::process::ExitCode;

use crate::output::Global;

/// Arguments of `kiln sbom`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `kiln sbom`.
pub async fn run(_args: Args, _global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kiln sbom is not available in this build yet")
}
