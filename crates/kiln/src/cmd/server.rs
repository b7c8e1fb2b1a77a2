//! `kiln server`: placeholder until its helper replaces this module.

use std::process::ExitCode;

use crate::output::Global;

/// Arguments of `kiln server`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `kiln server`.
pub async fn run(_args: Args, _global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kiln server is not built yet")
}
