//! `watchpost serve`.

use std::process::ExitCode;

/// Arguments of `watchpost serve`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the server.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    eprintln!("watchpost serve: not yet implemented");
    Ok(ExitCode::from(super::EXIT_ERROR))
}
