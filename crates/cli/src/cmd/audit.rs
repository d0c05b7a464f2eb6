//! `watchpost audit verify`: checks the audit trail's hash chain with direct
//! access to the store.

use std::process::ExitCode;

use super::users::StoreArgs;
use crate::term;

/// Exit code when the audit chain is broken.
pub const EXIT_AUDIT_BROKEN: u8 = 1;

/// `watchpost audit ...`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Verify the hash chain. Prints OK, or names the first bad entry and
    /// exits non-zero.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Runs an `audit` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match command {
            Command::Verify { store } => {
                let store = server::open_store(&store.location()).await?;
                let report = server::verify_audit(store.as_ref()).await?;
                store.close().await;
                match report.fault {
                    None => {
                        println!("OK: audit chain intact ({} entries)", report.entries);
                        Ok(ExitCode::SUCCESS)
                    }
                    Some(fault) => {
                        println!(
                            "FAILED: first bad entry is seq {}: {}",
                            fault.seq,
                            term::line(&fault.reason)
                        );
                        Ok(ExitCode::from(EXIT_AUDIT_BROKEN))
                    }
                }
            }
        }
    })
}
