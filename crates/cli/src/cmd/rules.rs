//! `watchpost rules ...`.

use std::process::ExitCode;

/// Subcommands of `watchpost rules`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Load rules and list every one that fails, with its reason.
    Check {},
}

/// Runs a `rules` subcommand.
pub fn run(_command: Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet implemented")
}
