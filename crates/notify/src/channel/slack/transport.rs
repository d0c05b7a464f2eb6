//! Posting one notice to Slack: `chat.postMessage` (JSON, a bot token) or
//! an incoming webhook.

use serde::{Deserialize, Serialize};

use super::config::{Config, Posting};
use super::message;
use crate::notice::Notice;

/// Why a Slack post failed. Each variant that wraps another error keeps it
/// as its [`source`](std::error::Error::source); no variant holds the
/// token or the webhook URL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP client could not be set up.
    #[error("cannot set up the HTTP client")]
    Client(#[source] reqwest::Error),
    /// Slack could not be reached.
    #[error("slack request failed")]
    Http(#[source] reqwest::Error),
    /// Slack asked to slow down (429), with its `Retry-After` seconds.
    #[error("slack rate limited the request (retry after {0:?} s)")]
    RateLimited(Option<u64>),
    /// Slack answered with another non-2xx status.
    #[error("slack answered {0}")]
    Status(u16),
    /// The Web API answered something that is not its JSON envelope.
    #[error("slack answered an unreadable body")]
    Body(#[source] reqwest::Error),
    /// The Web API refused the message (`"ok": false`), with Slack's error
    /// code (e.g. `channel_not_found`, `invalid_auth`).
    #[error("slack refused the message: {0}")]
    Refused(String),
}

/// Where a Web API message was posted: the thread later updates reply in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// The channel id Slack answered (or the configured channel).
    pub channel: String,
    /// The message's `ts`.
    pub ts: String,
}

/// The Slack channel: its configuration and an HTTP client, built once.
pub struct Slack {
    config: Config,
    http: reqwest::Client,
}

impl std::fmt::Debug for Slack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config holds the bot token or the webhook URL.
        f.debug_struct("Slack").finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct PostMessage<'a> {
    channel: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    thread_ts: Option<&'a str>,
}

#[derive(Serialize)]
struct WebhookMessage<'a> {
    text: &'a str,
}

#[derive(Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    channel: Option<String>,
}

impl Slack {
    /// Builds the HTTP client: 30 s time limit, no redirects.
    pub fn new(config: Config) -> Result<Self, Error> {
        let http = crate::deliver::http_client().map_err(|e| Error::Client(e.without_url()))?;
        Ok(Self { config, http })
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether posts can start threads (the Web API; not a webhook).
    pub fn threads(&self) -> bool {
        matches!(self.config.posting, Posting::WebApi { .. })
    }

    /// Posts `notice`: as a reply in `thread` (a channel and `ts`) when
    /// given and the Web API is used, else to the configured channel.
    /// Answers where a Web API message went (`None` for a webhook).
    pub async fn send(
        &self,
        notice: &Notice,
        thread: Option<(&str, &str)>,
    ) -> Result<Option<Posted>, Error> {
        let text = message::text(notice, self.config.public_url.as_deref());
        match &self.config.posting {
            Posting::WebApi { api_url, bot_token } => {
                let (channel, thread_ts) = match thread {
                    Some((channel, ts)) => (channel, Some(ts)),
                    None => (self.config.channel.as_str(), None),
                };
                let body = PostMessage {
                    channel,
                    text: &text,
                    thread_ts,
                };
                let response = self
                    .http
                    .post(format!(
                        "{}/chat.postMessage",
                        api_url.trim_end_matches('/')
                    ))
                    .bearer_auth(bot_token.expose())
                    .header("content-type", "application/json; charset=utf-8")
                    .body(serde_json::to_vec(&body).unwrap_or_default())
                    .send()
                    .await
                    .map_err(|e| Error::Http(e.without_url()))?;
                check_status(&response)?;
                let answer: Answer = response
                    .json()
                    .await
                    .map_err(|e| Error::Body(e.without_url()))?;
                if !answer.ok {
                    return Err(Error::Refused(
                        answer.error.unwrap_or_else(|| "unknown_error".into()),
                    ));
                }
                Ok(answer.ts.map(|ts| Posted {
                    channel: answer.channel.unwrap_or_else(|| channel.to_owned()),
                    ts,
                }))
            }
            Posting::Webhook { url } => {
                let response = self
                    .http
                    .post(url.expose())
                    .header("content-type", "application/json; charset=utf-8")
                    .body(serde_json::to_vec(&WebhookMessage { text: &text }).unwrap_or_default())
                    .send()
                    .await
                    .map_err(|e| Error::Http(e.without_url()))?;
                check_status(&response)?;
                Ok(None)
            }
        }
    }
}

fn check_status(response: &reqwest::Response) -> Result<(), Error> {
    let status = response.status();
    if status.as_u16() == 429 {
        let after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        return Err(Error::RateLimited(after));
    }
    if !status.is_success() {
        return Err(Error::Status(status.as_u16()));
    }
    Ok(())
}
