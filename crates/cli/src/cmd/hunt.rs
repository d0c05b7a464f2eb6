//! `watchpost hunt`.

use std::process::ExitCode;

/// Arguments of `watchpost hunt`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs a hunt.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet implemented")
}
