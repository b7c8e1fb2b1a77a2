//! `kiln init` and `kiln run`: placeholder until its helper replaces this module.

use std::process::ExitCode;

use crate::output::Global;

/// Arguments of `kiln init`.
#[derive(clap::Args)]
pub struct InitArgs {}

/// Arguments of `kiln run`.
#[derive(clap::Args)]
pub struct RunArgs {}

/// Runs `kiln init`.
pub async fn init(_args: InitArgs, _global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kiln init is not built yet")
}

/// Runs `kiln run`.
pub async fn run(_args: RunArgs, _global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kiln run is not built yet")
}
