//! `kiln sign`, `kiln attest`, `kiln verify`: placeholder until the signing stage lands.

use std::process::ExitCode;

use crate::output::Global;

/// Arguments of `kiln sign`.
#[derive(clap::Args)]
pub struct SignArgs {}
/// Arguments of `kiln attest`.
#[derive(clap::Args)]
pub struct AttestArgs {}
/// Arguments of `kiln verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {}

/// Runs `kiln sign`.
pub async fn sign(_args: SignArgs, _global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kiln sign is not available in this build yet")
}
/// Runs `kiln attest`.
pub async fn attest(_args: AttestArgs, _global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kiln attest is not available in this build yet")
}
/// Runs `kiln verify`.
pub async fn verify(_args: VerifyArgs, _global: &Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("kiln verify is not available in this build yet")
}
