//! Sending one mail through the SMTP relay.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::config::{Config, SmtpConfig, SmtpTls};
use super::message;
use crate::notice::Notice;

/// Why an email could not be sent. Each variant keeps the underlying error
/// as its [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The relay's host name cannot be used for TLS.
    #[error("cannot set up the SMTP relay {host:?}")]
    Relay {
        /// The configured host.
        host: String,
        /// Why.
        #[source]
        source: lettre::transport::smtp::Error,
    },
    /// An address in the configuration is not a valid mailbox.
    #[error("invalid address {address:?}")]
    Address {
        /// The address.
        address: String,
        /// Why it is invalid.
        #[source]
        source: lettre::address::AddressError,
    },
    /// The message could not be built.
    #[error("could not build the email")]
    Build(#[from] lettre::error::Error),
    /// The SMTP relay refused the message or could not be reached.
    #[error("smtp delivery failed")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

/// The email channel: its configuration and the SMTP transport, built once.
pub struct Email {
    config: Config,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config holds the relay password: show only where mail goes.
        f.debug_struct("Email")
            .field("relay", &self.config.smtp.host)
            .field("to", &self.config.to)
            .finish_non_exhaustive()
    }
}

impl Email {
    /// Builds the SMTP transport (it connects only when sending).
    pub fn new(config: Config) -> Result<Self, Error> {
        let transport = smtp_transport(&config.smtp)?;
        Ok(Self { config, transport })
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Mails `notice` to `to`.
    pub async fn send(&self, to: &str, notice: &Notice) -> Result<(), Error> {
        let mail = Message::builder()
            .from(mailbox(&self.config.from)?)
            .to(mailbox(to)?)
            .subject(message::subject(notice))
            .header(ContentType::TEXT_PLAIN)
            .body(message::text_body(notice))?;
        self.transport.send(mail).await?;
        Ok(())
    }

    /// Mails a plain-text message with `subject` and `body` to `to`, from
    /// the configured sender (lettre encodes the headers; the caller keeps
    /// `subject` to one line).
    pub async fn send_text(&self, to: &str, subject: &str, body: String) -> Result<(), Error> {
        let mail = Message::builder()
            .from(mailbox(&self.config.from)?)
            .to(mailbox(to)?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)?;
        self.transport.send(mail).await?;
        Ok(())
    }
}

/// The SMTP transport for `smtp` (TLS mode, port, credentials, a 30 s
/// timeout); it connects only when sending. Shared by every sender of mail
/// (notifications, the security@ mailbox's acknowledgements and replies).
pub fn smtp_transport(smtp: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, Error> {
    let relay_error = |source| Error::Relay {
        host: smtp.host.clone(),
        source,
    };
    let builder = match smtp.tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
        SmtpTls::Starttls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(relay_error)?
        }
        SmtpTls::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(relay_error)?
        }
    };
    let mut builder = builder
        .port(smtp.port)
        .timeout(Some(Duration::from_secs(30)));
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
    }
    Ok(builder.build())
}

fn mailbox(address: &str) -> Result<Mailbox, Error> {
    address.parse().map_err(|source| Error::Address {
        address: address.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_bad_address_keeps_the_parser_error_as_its_source() {
        let error = mailbox("not an address").unwrap_err();
        assert_eq!(error.to_string(), "invalid address \"not an address\"");
        let source = error.source().expect("the address error is kept");
        assert!(!source.to_string().is_empty());
    }
}
