//! Delivery of one [`Notice`] to one [`Destination`]: the channels, built
//! once from the configuration, and the last check that a sensitive notice
//! never leaves for a shared destination.

use crate::channel::{Destination, email, slack, webhook};
use crate::config::NotifyConfig;
use crate::notice::Notice;

/// Why one delivery failed. The worker retries it later. The error of the
/// channel is kept as the [`source`](std::error::Error::source); [`chain`]
/// writes the whole chain.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The destination is not configured (any more).
    #[error("destination {0} is not configured")]
    NotConfigured(&'static str),
    /// A sensitive notice was about to go to a shared destination. Never sent.
    #[error("refused to send a sensitive incident to the shared destination {0}")]
    SensitiveToShared(&'static str),
    /// The email channel failed.
    #[error(transparent)]
    Email(#[from] email::Error),
    /// The webhook channel failed.
    #[error(transparent)]
    Webhook(#[from] webhook::Error),
    /// The Slack channel failed.
    #[error(transparent)]
    Slack(#[from] slack::Error),
}

impl DeliveryError {
    /// How long the receiver asked us to wait before trying again (Slack's
    /// `Retry-After` on a 429), capped at an hour.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Slack(slack::Error::RateLimited(Some(seconds))) => {
                Some(std::time::Duration::from_secs((*seconds).min(3600)))
            }
            _ => None,
        }
    }
}

/// An error and its sources, `: `-separated (a source whose text the
/// previous message already holds is left out).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// Sends notices through the configured channels.
pub struct Deliverer {
    config: NotifyConfig,
    email: Option<email::Email>,
    webhook: Option<webhook::Webhook>,
    slack: Option<slack::Slack>,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config holds secrets: show only which channels exist.
        f.debug_struct("Deliverer")
            .field("email", &self.email.is_some())
            .field("webhook", &self.webhook.is_some())
            .field("slack", &self.slack.is_some())
            .finish()
    }
}

impl Deliverer {
    /// Builds the channels from the configuration.
    pub fn new(config: NotifyConfig) -> Result<Self, DeliveryError> {
        install_crypto_provider();
        let email = config.email.clone().map(email::Email::new).transpose()?;
        let webhook = config
            .webhook
            .clone()
            .map(webhook::Webhook::new)
            .transpose()?;
        let slack = config.slack.clone().map(slack::Slack::new).transpose()?;
        Ok(Self {
            config,
            email,
            webhook,
            slack,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &NotifyConfig {
        &self.config
    }

    /// Delivers `notice` to `destination`. `delivery_id` names this
    /// delivery and stays the same on every retry of it (the outbox
    /// message's id); a webhook sends and signs it.
    pub async fn deliver(
        &self,
        destination: Destination,
        notice: &Notice,
        delivery_id: &str,
    ) -> Result<(), DeliveryError> {
        if notice.sensitive && destination.is_shared() {
            return Err(DeliveryError::SensitiveToShared(destination.as_str()));
        }
        match destination {
            Destination::Email(recipient) => {
                let email = self
                    .email
                    .as_ref()
                    .ok_or(DeliveryError::NotConfigured("smtp"))?;
                let to = email
                    .config()
                    .to
                    .of(recipient)
                    .ok_or(DeliveryError::NotConfigured(destination.as_str()))?;
                Ok(email.send(to, notice).await?)
            }
            Destination::Webhook => {
                let webhook = self
                    .webhook
                    .as_ref()
                    .ok_or(DeliveryError::NotConfigured("webhook"))?;
                Ok(webhook.send(notice, delivery_id).await?)
            }
            Destination::Slack => self.deliver_slack(notice, None).await.map(drop),
        }
    }

    /// Posts `notice` to Slack, as a reply in `thread` (channel, `ts`) when
    /// given. Answers where a Web API message went, so the first message
    /// about an incident can become its thread. Refuses a sensitive notice
    /// like [`Deliverer::deliver`].
    pub async fn deliver_slack(
        &self,
        notice: &Notice,
        thread: Option<(&str, &str)>,
    ) -> Result<Option<slack::Posted>, DeliveryError> {
        if notice.sensitive {
            return Err(DeliveryError::SensitiveToShared(
                Destination::Slack.as_str(),
            ));
        }
        let slack = self
            .slack
            .as_ref()
            .ok_or(DeliveryError::NotConfigured("slack"))?;
        Ok(slack.send(notice, thread).await?)
    }
}

/// Installs the process-wide rustls crypto provider: ring, the one provider
/// of the workspace (reqwest is built without one of its own, so a client
/// cannot be built before this). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client of the channels that post (webhook, Slack): the crypto
/// provider installed, a 30 s time limit, and no redirects (a redirect
/// could carry a signed delivery somewhere else).
pub(crate) fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    install_crypto_provider();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notice::NoticeKind;
    use crate::recipient::Recipient;

    fn notice(sensitive: bool) -> Notice {
        Notice {
            kind: NoticeKind::Created,
            incident_id: "i1".into(),
            title: "t".into(),
            category: "theft".into(),
            severity: "SEV3".into(),
            status: "triage".into(),
            sensitive,
            change: "opened".into(),
            at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[tokio::test]
    async fn sensitive_notices_are_refused_for_shared_destinations_before_any_channel() {
        let deliverer = Deliverer::new(NotifyConfig::default()).unwrap();
        for destination in [
            Destination::Email(Recipient::Shared),
            Destination::Webhook,
            Destination::Slack,
        ] {
            let error = deliverer
                .deliver(destination, &notice(true), "d1")
                .await
                .unwrap_err();
            assert!(
                matches!(error, DeliveryError::SensitiveToShared(name) if name == destination.as_str()),
                "{error}"
            );
        }
        let error = deliverer
            .deliver(Destination::Webhook, &notice(false), "d1")
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "destination webhook is not configured");
    }

    #[tokio::test]
    async fn a_failed_request_keeps_its_cause() {
        // A port that was just free: the connection is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let webhook = webhook::Webhook::new(webhook::Config {
            url: format!("http://127.0.0.1:{port}/hook?token=t0ps3cret"),
            secret: crate::secret::Secret::new("s"),
        })
        .unwrap();
        let error = DeliveryError::from(webhook.send(&notice(false), "d1").await.unwrap_err());
        assert!(matches!(
            error,
            DeliveryError::Webhook(webhook::Error::Http(_))
        ));
        assert!(std::error::Error::source(&error).is_some(), "{error:?}");
        let text = chain(&error);
        assert!(text.starts_with("webhook request failed: "), "{text}");
        assert!(!text.contains("t0ps3cret"), "the URL is left out: {text}");
    }

    #[test]
    fn chains_skip_repeated_text() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] Inner);
        #[derive(Debug, thiserror::Error)]
        #[error("inner")]
        struct Inner;
        assert_eq!(chain(&Outer(Inner)), "outer: inner");
    }
}
