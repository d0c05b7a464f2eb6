//! Email over SMTP: the `from`, `security_team`, `finance_ops` and
//! `shared_mailbox` keys of `[notify]` and the `[notify.smtp]` table
//! ([`Config`]), the transport ([`Email`], lettre), and how a notice is
//! written as a plain-text mail ([`message`]).

mod config;
pub mod message;
mod transport;

pub use config::{Addresses, Config, SmtpConfig, SmtpTls, default_from};
pub use transport::{Email, Error, smtp_transport};
