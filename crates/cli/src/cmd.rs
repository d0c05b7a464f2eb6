//! One module per subcommand. Each has an `Args` (or `Command`) type and a
//! `run` function returning the process exit code.

pub mod audit;
pub mod gaps;
pub mod hunt;
pub mod incidents;
pub mod ports;
pub mod report;
pub mod rules;
pub mod serve;
pub mod tokens;
pub mod users;
pub mod web;

/// Exit code: the command could not run at all (bad arguments, unreadable
/// configuration, ...).
pub const EXIT_ERROR: u8 = 2;
