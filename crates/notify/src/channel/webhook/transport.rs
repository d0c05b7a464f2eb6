//! Posting one notice to the webhook, signed.

use super::config::Config;
use super::signature::{DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use crate::notice::Notice;

/// Why a webhook delivery failed. Each variant that wraps another error
/// keeps it as its [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP client could not be set up.
    #[error("cannot set up the HTTP client")]
    Client(#[source] reqwest::Error),
    /// The notice could not be encoded as JSON.
    #[error("cannot encode the webhook body")]
    Encode(#[from] serde_json::Error),
    /// The webhook could not be reached (the URL, which may carry a token,
    /// is left out of the error).
    #[error("webhook request failed")]
    Http(#[source] reqwest::Error),
    /// The webhook answered with a non-2xx status.
    #[error("webhook answered {0}")]
    Status(u16),
}

/// The webhook channel: its configuration and an HTTP client, built once.
pub struct Webhook {
    config: Config,
    http: reqwest::Client,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a token and the config holds the signing key.
        f.debug_struct("Webhook").finish_non_exhaustive()
    }
}

impl Webhook {
    /// Builds the HTTP client: 30 s time limit, no redirects.
    pub fn new(config: Config) -> Result<Self, Error> {
        let http = crate::deliver::http_client().map_err(|e| Error::Client(e.without_url()))?;
        Ok(Self { config, http })
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Posts `notice` as JSON, signed for delivery `delivery_id` (the same
    /// on every retry of this delivery) at the current time.
    pub async fn send(&self, notice: &Notice, delivery_id: &str) -> Result<(), Error> {
        let body = serde_json::to_vec(notice)?;
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let signature = sign(
            self.config.secret.expose().as_bytes(),
            delivery_id,
            timestamp,
            &body,
        );
        let response = self
            .http
            .post(&self.config.url)
            .header("content-type", "application/json")
            .header(DELIVERY_HEADER, delivery_id)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|e| Error::Http(e.without_url()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(Error::Status(response.status().as_u16()))
        }
    }
}
