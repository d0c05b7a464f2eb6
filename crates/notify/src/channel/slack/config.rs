//! The Slack channel's configuration, built by the server from its
//! `[slack]` table (there is no `[notify.slack]`).

use crate::secret::Secret;

/// Slack's Web API.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// How messages are posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posting {
    /// `chat.postMessage` at `api_url` with a bot token: updates go in the
    /// incident's thread.
    WebApi {
        /// The Web API's base URL (no trailing `/`).
        api_url: String,
        /// The bot token (`xoxb-...`). Never logged.
        bot_token: Secret,
    },
    /// An incoming webhook (its URL is a credential): no threads.
    Webhook {
        /// The webhook's URL. Never logged.
        url: Secret,
    },
}

/// Where and how incidents are posted to Slack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The channel: a name such as `#incidents` or a channel id.
    pub channel: String,
    /// The Web API or an incoming webhook.
    pub posting: Posting,
    /// The server's public address, for links to incidents
    /// (`{public_url}/incidents/{id}`); without it messages carry no link.
    pub public_url: Option<String>,
}
