//! `kiln evidence`: placeholder until its helper replaces this module.

use std::process::ExitCode;

use crate::output::Global;

/// Arguments of `kiln evidence`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `kiln evidence`.
pub async fn run(_args: Args, _global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kiln evidence is not built yet")
}
