//! Slack: posts about non-sensitive incidents to one channel, through the
//! Web API (`chat.postMessage` with a bot token, updates as replies in the
//! incident's thread) or an incoming webhook (no threads). Its [`Config`]
//! comes from the server's `[slack]` table; [`message`] writes the text,
//! escaping Slack's control characters; [`Slack`] sends it.
//!
//! Whoever reads the channel is outside need-to-know: Slack reaches the
//! [`Recipient::Shared`] recipient only, so it never carries a sensitive
//! incident.

mod config;
pub mod message;
mod transport;

use crate::recipient::Recipient;

pub use config::{Config, DEFAULT_API_URL, Posting};
pub use transport::{Error, Posted, Slack};

/// Who reads the Slack channel.
pub const RECIPIENT: Recipient = Recipient::Shared;
