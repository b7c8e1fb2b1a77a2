//! `kiln vuln`: placeholder until its stage lands.

use std::process::ExitCode;

use crate::output::Global;

/// Arguments of `kiln vuln`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `kiln vuln`.
pub async fn run(_args: Args, _global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kiln vuln is not available in this build yet")
}
