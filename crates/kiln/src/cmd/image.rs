//! `kiln image`: placeholder until its stage lands.

use std::process::ExitCode;

use crate::output::Global;

/// Arguments of `kiln image`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `kiln image`.
pub async fn run(_args: Args, _global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kiln image is not available in this build yet")
}
