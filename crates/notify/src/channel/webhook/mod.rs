//! The generic signed webhook: the `[notify.webhook]` table ([`Config`]),
//! the transport ([`Webhook`], a JSON POST with reqwest) and how requests
//! are signed and verified ([`signature`]).
//!
//! Whoever reads the webhook is outside need-to-know: the webhook reaches
//! the [`Recipient::Shared`] recipient only, so it never carries a
//! sensitive incident.

mod config;
pub mod signature;
mod transport;

use crate::recipient::Recipient;

pub use config::Config;
pub use transport::{Error, Webhook};

/// Who reads the webhook.
pub const RECIPIENT: Recipient = Recipient::Shared;
