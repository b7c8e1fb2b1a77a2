//! `kiln hook`: git hooks that trigger runs. (Being built; it refuses to run until then.)

use std::process::ExitCode;

use crate::output::Global;

/// Arguments of `kiln hook`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `kiln hook`.
pub async fn run(_args: Args, _global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kiln hook is not built yet")
}
