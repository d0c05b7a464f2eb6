//! Delivery of one [`Notice`] to one [`Destination`]: email over SMTP
//! (lettre) and the signed webhook (reqwest).

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{NotifyConfig, SmtpTls};
use crate::notice::{Destination, Notice};
use crate::signature::{DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};

/// Why one delivery failed. The worker retries it later.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The destination is not configured (any more).
    #[error("destination {0} is not configured")]
    NotConfigured(&'static str),
    /// An address in the configuration is not a valid mailbox.
    #[error("invalid address {address:?}: {reason}")]
    Address {
        /// The address.
        address: String,
        /// Why it is invalid.
        reason: String,
    },
    /// Building the message failed.
    #[error("could not build the email: {0}")]
    Build(String),
    /// The SMTP relay refused or could not be reached.
    #[error("smtp: {0}")]
    Smtp(String),
    /// The webhook could not be reached.
    #[error("webhook: {0}")]
    Http(String),
    /// The webhook answered with a non-2xx status.
    #[error("webhook answered {0}")]
    Status(u16),
    /// A sensitive notice was about to go to a shared destination. Never sent.
    #[error("refused to send a sensitive incident to the shared destination {0}")]
    SensitiveToShared(&'static str),
}

/// Sends notices. Holds the SMTP transport and HTTP client, built once.
pub struct Deliverer {
    config: NotifyConfig,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config holds secrets: show only which destinations exist.
        f.debug_struct("Deliverer")
            .field("smtp", &self.smtp.is_some())
            .field("webhook", &self.config.webhook.is_some())
            .finish()
    }
}

impl Deliverer {
    /// Builds the transports from the configuration.
    pub fn new(config: NotifyConfig) -> Result<Self, DeliveryError> {
        install_crypto_provider();
        let smtp = match &config.smtp {
            None => None,
            Some(smtp) => {
                let builder = match smtp.tls {
                    SmtpTls::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
                    }
                    SmtpTls::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                            .map_err(|e| DeliveryError::Smtp(e.to_string()))?
                    }
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
                        .map_err(|e| DeliveryError::Smtp(e.to_string()))?,
                };
                let mut builder = builder
                    .port(smtp.port)
                    .timeout(Some(Duration::from_secs(30)));
                if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
                    builder = builder
                        .credentials(Credentials::new(user.clone(), password.expose().to_owned()));
                }
                Some(builder.build())
            }
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| DeliveryError::Http(e.to_string()))?;
        Ok(Self { config, smtp, http })
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
            Destination::SecurityTeam => {
                self.email(self.config.security_team.as_deref(), destination, notice)
                    .await
            }
            Destination::FinanceOps => {
                self.email(self.config.finance_ops.as_deref(), destination, notice)
                    .await
            }
            Destination::SharedMailbox => {
                self.email(self.config.shared_mailbox.as_deref(), destination, notice)
                    .await
            }
            Destination::Webhook => self.webhook(notice, delivery_id).await,
        }
    }

    async fn email(
        &self,
        to: Option<&str>,
        destination: Destination,
        notice: &Notice,
    ) -> Result<(), DeliveryError> {
        let to = to.ok_or(DeliveryError::NotConfigured(destination.as_str()))?;
        let smtp = self
            .smtp
            .as_ref()
            .ok_or(DeliveryError::NotConfigured("smtp"))?;
        let message = Message::builder()
            .from(mailbox(&self.config.from)?)
            .to(mailbox(to)?)
            .subject(notice.subject())
            .header(ContentType::TEXT_PLAIN)
            .body(notice.text_body())
            .map_err(|e| DeliveryError::Build(e.to_string()))?;
        smtp.send(message)
            .await
            .map_err(|e| DeliveryError::Smtp(e.to_string()))?;
        Ok(())
    }

    async fn webhook(&self, notice: &Notice, delivery_id: &str) -> Result<(), DeliveryError> {
        let webhook = self
            .config
            .webhook
            .as_ref()
            .ok_or(DeliveryError::NotConfigured("webhook"))?;
        let body = serde_json::to_vec(notice).map_err(|e| DeliveryError::Build(e.to_string()))?;
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let signature = sign(
            webhook.secret.expose().as_bytes(),
            delivery_id,
            timestamp,
            &body,
        );
        let response = self
            .http
            .post(&webhook.url)
            .header("content-type", "application/json")
            .header(DELIVERY_HEADER, delivery_id)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|e| DeliveryError::Http(e.without_url().to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(DeliveryError::Status(response.status().as_u16()))
        }
    }
}

fn mailbox(address: &str) -> Result<Mailbox, DeliveryError> {
    address
        .parse()
        .map_err(|e: lettre::address::AddressError| DeliveryError::Address {
            address: address.to_owned(),
            reason: e.to_string(),
        })
}

/// Installs the process-wide rustls crypto provider (aws-lc-rs). Both
/// aws-lc-rs and ring are in the dependency graph, and without a chosen
/// default, building a TLS client configuration can panic. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
